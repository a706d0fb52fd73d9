/* util/packet.c — JSON messages over SOCK_SEQPACKET sockets (see packet.h).
 * A packet is a whole message: no framing, no partial reads. */
#include "util/packet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/error.h"

int tarn__packet_send(int sock, json_t *msg, const int *fds, size_t nfds, const char *what,
                      tarn_error *err)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    struct iovec iov = {text, strlen(text)};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 64)];
    if (nfds > 64) nfds = 64;
    if (nfds) {
        memset(control, 0, sizeof control);
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    free(text);
    if (n < 0) return tarn__error_set(err, TARN_EIO, "cannot reach %s: %s", what, strerror(errno));
    return 0;
}

int tarn__packet_recv(json_t **msg, int *fd, int sock, const char *what, tarn_error *err)
{
    *msg = NULL;
    char *buf = malloc(TARN_PACKET_MAX);
    if (!buf) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {buf, TARN_PACKET_MAX};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int fds[8];
        memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)(count > 8 ? 8 : count));
        for (int i = 0; i < count && i < 8; i++) {
            if (fd && *fd < 0)
                *fd = fds[i];
            else
                close(fds[i]);
        }
    }
    int rc = 0;
    if (n < 0)
        rc = tarn__error_set(err, TARN_EIO, "lost %s: %s", what, strerror(errno));
    else if (n == 0)
        rc = 1;
    else if (!(*msg = json_loadb(buf, (size_t)n, 0, NULL)))
        rc = tarn__error_set(err, TARN_EIO, "%s sent something that is not JSON", what);
    free(buf);
    return rc;
}
