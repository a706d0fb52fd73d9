/* util/lines.h — splitting a byte stream (a process's output) into lines
 * that are bounded in length and valid UTF-8, in time and memory linear in
 * the input however the stream is cut into chunks. */
#ifndef TARN_UTIL_LINES_H
#define TARN_UTIL_LINES_H

#include <stddef.h>

#include "util/util.h"

typedef struct tarn_lines {
    strbuf line; /* the current line's first bytes (at most max) */
    size_t max;  /* bytes of one line that are kept */
    size_t cut;  /* bytes of the current line beyond max: counted, dropped */
    void (*on_line)(const char *line, void *ctx);
    void *ctx;
} tarn_lines;

/* Each complete line goes to ON_LINE (NUL-terminated, without its newline)
 * with bytes that are not UTF-8, and NUL, written as \xNN, and a line
 * longer than MAX bytes cut there with " [... N more bytes of this line
 * not shown]" appended. */
void tarn__lines_init(tarn_lines *l, size_t max, void (*on_line)(const char *line, void *ctx),
                      void *ctx);
/* Feeds N bytes: every line they complete is handed on. */
void tarn__lines_feed(tarn_lines *l, const char *data, size_t n);
/* Hands on a last line without a newline, if any, and frees the buffer. */
void tarn__lines_finish(tarn_lines *l);

/* Appends the N bytes of S to B with every byte that is not part of a
 * valid UTF-8 sequence (and NUL) written as \xNN. */
void tarn__append_utf8_escaped(strbuf *b, const char *s, size_t n);

#endif
