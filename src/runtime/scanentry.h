/* runtime/scanentry.h — one kept scan result as a file: a prefix (magic,
 * header and data lengths, a checksum of each), the header (JSON: the
 * scan's whole key) and an Arrow IPC stream (see scanentry.c). */
#ifndef TARN_RUNTIME_SCANENTRY_H
#define TARN_RUNTIME_SCANENTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tarn/common.h"

/* An entry whose header was read: where its stream is in the open FD. */
typedef struct tarn_scanentry {
    int fd; /* -1 when the header could not be read */
    uint64_t data_off, data_len, data_sum;
} tarn_scanentry;

/* Bytes an entry of a HEADER_LEN-byte header and a DATA_LEN-byte stream takes. */
size_t tarn__scanentry_size(size_t header_len, size_t data_len);

/* Writes an entry of header HEADER (NUL-terminated) and stream DATA[0..LEN)
 * to the new file TFD (kept open). The environment's TARN_FAULT =
 * scancache:mid-write kills the process half-way (crash tests). */
int tarn__scanentry_write(int tfd, const char *header, const void *data, size_t len,
                          tarn_error *err);

/* The header of the entry file at PATH, with *E open on the file (the
 * caller closes E->fd), or NULL when the file is not a whole entry: cut
 * short, grown, altered in its header, or another format. */
json_t *tarn__scanentry_header(tarn_scanentry *e, const char *path);

/* The stream of E copied into a new sealed memfd named NAME (*out, the
 * caller's): 0, or -1 when it does not match its checksum. */
int tarn__scanentry_load(int *out, const tarn_scanentry *e, const char *name);

/* E's stream followed by the messages of the IPC stream MORE[0..N) after
 * its Schema message, in one new sealed memfd (*out): the rows of both,
 * one copy of each, no decoding. 0; 1 when MORE's Schema message is not
 * byte for byte E's (the caller joins them another way); -1 when E does
 * not match its checksum. Neither may hold dictionary-encoded columns. */
int tarn__scanentry_load_joined(int *out, const tarn_scanentry *e, const uint8_t *more, size_t n,
                                const char *name);

#endif
