/* arrow/shm.c — Arrow tables in sealed shared memory.
 *
 * The producer encodes an IPC stream straight into a memfd (sized first with
 * tarn_arrow_ipc_size), unmaps it and seals it so nobody can change it any
 * more; the descriptor travels over a Unix socket (SCM_RIGHTS); the consumer
 * checks the seals, maps it read-only and decodes it in place: the arrays it
 * gets point into the mapping, which is unmapped with the last of them. */
#include "arrow/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

int tarn_arrow_shm_create(int *fd_out, size_t *size_out, const char *name,
                          const struct ArrowSchema *schema, const struct ArrowArray *const *batches,
                          size_t n, tarn_error *err)
{
    size_t size = 0, written = 0;
    void *map = MAP_FAILED;
    int fd = -1, rc;

    *fd_out = -1;
    *size_out = 0;
    if ((rc = tarn_arrow_ipc_size(&size, schema, batches, n, err)) < 0) goto done;
    fd = memfd_create(name ? name : "tarn-arrow", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "memfd_create: %s", strerror(errno));
        goto done;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "sizing the memfd to %zu bytes: %s", size,
                              strerror(errno));
        goto done;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = tarn_arrow__fail(err, TARN_EIO, "mapping the memfd: %s", strerror(errno));
        goto done;
    }
    /* A process forked by another thread meanwhile (tarn starts workers
     * while other threads export tables) must not inherit this writable
     * mapping: it would make the seal below fail with EBUSY until it execs. */
    if (madvise(map, size, MADV_DONTFORK) != 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "madvise: %s", strerror(errno));
        goto done;
    }
    if ((rc = tarn_arrow_ipc_encode(&written, map, size, schema, batches, n, err)) < 0) goto done;
    /* F_SEAL_WRITE is refused while a writable shared mapping exists. */
    munmap(map, size);
    map = MAP_FAILED;
    if (fcntl(fd, F_ADD_SEALS, ALL_SEALS) < 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "sealing the memfd: %s", strerror(errno));
        goto done;
    }
    *fd_out = fd;
    *size_out = written;
    fd = -1;
    rc = 0;
done:
    if (map != MAP_FAILED) munmap(map, size);
    if (fd >= 0) close(fd);
    return rc;
}

int tarn_arrow_shm_send(int sock, int fd, tarn_error *err)
{
    int rc = 0;
    struct msghdr msg;
    struct iovec iov;
    char byte = 'A';
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct cmsghdr *cm;
    ssize_t r;

    memset(&msg, 0, sizeof(msg));
    memset(&ctl, 0, sizeof(ctl));
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    do {
        r = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r != 1) {
        rc = tarn_arrow__fail(err, TARN_EIO, "sending the descriptor: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    return rc;
}

int tarn_arrow_shm_recv(int *fd_out, int sock, tarn_error *err)
{
    int rc = 0;
    struct msghdr msg;
    struct iovec iov;
    char byte;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct cmsghdr *cm;
    ssize_t r;
    int fd = -1;

    *fd_out = -1;
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do {
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "receiving a descriptor: %s", strerror(errno));
        goto done;
    }
    if (r == 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "peer closed before sending a descriptor");
        goto done;
    }
    for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    }
    if (fd < 0 || (msg.msg_flags & MSG_CTRUNC)) {
        if (fd >= 0) close(fd);
        {
            rc = tarn_arrow__fail(err, TARN_EINVALID, "message carried no descriptor");
            goto done;
        }
    }
    *fd_out = fd;
    rc = 0;
done:
    return rc;
}

static void unmap_hook(void *ctx, const void *data, size_t size)
{
    (void)ctx;
    munmap((void *)data, size);
}

int tarn_arrow_shm_map(tarn_arrow_table **out, int fd, tarn_error *err)
{
    return tarn_arrow_shm_map_flags(out, fd, 0, err);
}

int tarn_arrow_shm_map_flags(tarn_arrow_table **out, int fd, unsigned flags, tarn_error *err)
{
    const int needed = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
    struct stat st;
    void *map;
    int seals, rc = 0;

    *out = NULL;
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "descriptor is not a sealable memfd: %s",
                              strerror(errno));
        goto done;
    }
    if ((seals & needed) != needed) {
        rc =
            tarn_arrow__fail(err, TARN_EINVALID,
                             "memfd is not sealed against writes and resizing; refusing to map it");
        goto done;
    }
    if (fstat(fd, &st) < 0) {
        rc = tarn_arrow__fail(err, TARN_EIO, "fstat: %s", strerror(errno));
        goto done;
    }
    if (st.st_size <= 0) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "memfd is empty");
        goto done;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = tarn_arrow__fail(err, TARN_EIO, "mmap: %s", strerror(errno));
        goto done;
    }
    /* from here the table owns the mapping, even if decoding fails */
    rc = tarn_arrow__decode(out, map, (size_t)st.st_size, unmap_hook, NULL,
                            (flags & TARN_ARROW_TRUSTED) != 0, err);
done:
    return rc;
}

int tarn_arrow_shm_copy(int *fd_out, int fd, const char *name, tarn_error *err)
{
    *fd_out = -1;
    int out = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (out < 0) return tarn_arrow__fail(err, TARN_EIO, "memfd_create: %s", strerror(errno));
    char buf[1 << 16];
    off_t off = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = tarn_arrow__fail(err, TARN_EIO, "reading the Arrow stream: %s", strerror(errno));
            break;
        }
        if (r == 0) break;
        for (ssize_t w = 0; w < r;) {
            ssize_t n = write(out, buf + w, (size_t)(r - w));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = tarn_arrow__fail(err, TARN_EIO, "writing the memfd: %s", strerror(errno));
                break;
            }
            w += n;
        }
        if (rc < 0) break;
        off += r;
    }
    if (rc == 0 && fcntl(out, F_ADD_SEALS, ALL_SEALS) < 0)
        rc = tarn_arrow__fail(err, TARN_EIO, "sealing the memfd: %s", strerror(errno));
    if (rc < 0) {
        close(out);
        return rc;
    }
    *fd_out = out;
    return 0;
}
