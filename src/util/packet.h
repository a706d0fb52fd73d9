/* util/packet.h — one JSON message per packet over a SOCK_SEQPACKET Unix
 * socket, file descriptors attached (SCM_RIGHTS): how tarn talks to its
 * Python workers and to the warm runtime. */
#ifndef TARN_UTIL_PACKET_H
#define TARN_UTIL_PACKET_H

#include <jansson.h>
#include <stddef.h>

#include "tarn/common.h"

#define TARN_PACKET_MAX (1 << 20)

/* Sends MSG in one packet with NFDS (at most 64) descriptors FDS attached.
 * WHAT names the peer in the error ("the Python worker"). */
int tarn__packet_send(int sock, json_t *msg, const int *fds, size_t nfds, const char *what,
                      tarn_error *err);
/* Receives one packet: 0 with *msg set, 1 at end-of-file, <0 on error. The
 * first descriptor that came with it goes to *fd when FD is not NULL and
 * *fd is -1; every other one is closed. */
int tarn__packet_recv(json_t **msg, int *fd, int sock, const char *what, tarn_error *err);

#endif
