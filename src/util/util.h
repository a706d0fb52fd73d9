/* util/util.h — small helpers: growable strings, hashing, time, paths,
 * random ids, fault injection. */
#ifndef TARN_UTIL_H
#define TARN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tarn/common.h"

/* A growable NUL-terminated string. Zero-initialise; free with sb_free. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

void sb_append(strbuf *b, const char *s);
void sb_appendn(strbuf *b, const char *s, size_t n);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends S as a SQL string literal: 'it''s'. */
void sb_append_sql_string(strbuf *b, const char *s);
/* Appends S as a SQL identifier: "a""b". */
void sb_append_sql_ident(strbuf *b, const char *s);
const char *sb_str(const strbuf *b); /* "" when empty */
void sb_free(strbuf *b);

/* Writes the N bytes at P to FD, through short writes and EINTR; 0 or -1
 * (errno says why). */
int tarn__write_all(int fd, const void *p, size_t n);

/* Makes room for NEED elements of ELEM bytes in the array *PTR of
 * capacity *CAP (growing by doubling). Returns 0 or TARN_ENOMEM (the array
 * is then unchanged). */
int tarn__reserve(void *ptr, size_t *cap, size_t need, size_t elem);

/* Hex SHA-256 of DATA into out (65 bytes). */
void tarn__sha256_hex(char out[65], const void *data, size_t len);
/* 32 random hex characters (128 bits) into out (33 bytes). */
void tarn__random_hex(char out[33]);

/* Microseconds since the epoch, UTC. */
int64_t tarn__now_us(void);
/* 2026-11-26T10:00:00.123456Z into out (at least 32 bytes). */
void tarn__format_time(char *out, size_t size, int64_t time_us);
/* Parses 2026-11-26T10:00:00Z, with optional fraction, `Z` or +hh:mm, a
 * bare date, or `now`. Returns 0 or -1. */
int tarn__parse_time(int64_t *out_us, const char *text);

/* mkdir -p. Returns 0 or -1 (errno set). */
int tarn__mkdirs(const char *path, int mode);
/* Writes DATA to PATH atomically (temp file, fsync, rename). */
int tarn__write_file_atomic(const char *path, const char *data, size_t len);
/* Reads a whole (small) file; *out is malloc'd and NUL-terminated. */
int tarn__read_file(char **out, size_t *len, const char *path);

/* Levenshtein distance between A and B (99 when either is over 64
 * characters): how near a misspelt name is, for "did you mean". */
size_t tarn__edit_distance(const char *a, const char *b);

/* Crash-test hook: when TARN_FAULT names POINT, the process kills itself
 * with SIGKILL right there (tests use it to show that no state is ever half
 * written). */
void tarn__fault(const char *point);

#endif
