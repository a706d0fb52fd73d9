/* util/lines.c — bounded, valid UTF-8 lines out of a byte stream.
 *
 * A chunk is scanned once: bytes up to a newline are appended to the
 * current line while it is under its maximum and only counted after, so a
 * 400 MB line costs one pass and `max` bytes of memory. Escaping happens
 * once per line, on the kept bytes. */
#include "util/lines.h"

#include <stdio.h>
#include <string.h>

void tarn__lines_init(tarn_lines *l, size_t max, void (*on_line)(const char *line, void *ctx),
                      void *ctx)
{
    memset(l, 0, sizeof *l);
    l->max = max ? max : 1;
    l->on_line = on_line;
    l->ctx = ctx;
}

/* Length of the valid UTF-8 sequence at S (N bytes available), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0x01 && c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0; /* no overlong forms */
    else if (c == 0xED)
        len = 3, hi = 0x9F; /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF)
        len = 3;
    else if (c == 0xF0)
        len = 4, lo = 0x90; /* no overlong forms */
    else if (c == 0xF4)
        len = 4, hi = 0x8F; /* nothing above U+10FFFF */
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

void tarn__append_utf8_escaped(strbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes of valid text not yet appended, ending at i */
    while (i < n) {
        size_t len = utf8_len(p + i, n - i);
        if (len) {
            i += len;
            run += len;
            continue;
        }
        sb_appendn(b, (const char *)p + i - run, run);
        run = 0;
        char esc[8];
        snprintf(esc, sizeof esc, "\\x%02x", p[i]);
        sb_append(b, esc);
        i++;
    }
    sb_appendn(b, (const char *)p + n - run, run);
}

static void emit(tarn_lines *l)
{
    strbuf out = {0};
    tarn__append_utf8_escaped(&out, l->line.s ? l->line.s : "", l->line.len);
    if (l->cut) sb_printf(&out, " [... %zu more bytes of this line not shown]", l->cut);
    if (l->on_line) l->on_line(sb_str(&out), l->ctx);
    sb_free(&out);
    l->line.len = 0;
    if (l->line.s) l->line.s[0] = 0;
    l->cut = 0;
}

static void keep(tarn_lines *l, const char *data, size_t n)
{
    size_t room = l->line.len < l->max ? l->max - l->line.len : 0;
    size_t take = n < room ? n : room;
    if (take) sb_appendn(&l->line, data, take);
    l->cut += n - take;
}

void tarn__lines_feed(tarn_lines *l, const char *data, size_t n)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        if (!nl) {
            keep(l, data, n);
            return;
        }
        keep(l, data, (size_t)(nl - data));
        emit(l);
        n -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
}

void tarn__lines_finish(tarn_lines *l)
{
    if (l->line.len || l->cut) emit(l);
    sb_free(&l->line);
}
