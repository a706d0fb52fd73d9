/* store/xml.c — just enough XML for S3's answers: listings, multipart
 * upload ids, batch delete results and errors are flat documents of
 * elements holding text. Elements are found by name (attributes, comments
 * and the declaration are skipped over), and text has its five named
 * entities and numeric character references decoded. Everything is
 * bounds-checked against the given length: the input comes from the
 * network. */
#include "store/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The position just after `<TAG` when it starts a TAG element at P. */
static const char *open_tag_at(const char *p, const char *end, const char *tag, size_t tlen)
{
    if (end - p < (ptrdiff_t)tlen + 2 || p[0] != '<' || memcmp(p + 1, tag, tlen) != 0) return NULL;
    char c = p[1 + tlen];
    if (c != '>' && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '/') return NULL;
    return p + 1 + tlen;
}

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    for (; end - p >= (ptrdiff_t)n; p++)
        if (*p == *s && memcmp(p, s, n) == 0) return p;
    return NULL;
}

int tarn__xml_each(const char *xml, size_t len, const char *tag,
                   int (*cb)(const char *inner, size_t len, void *ctx), void *ctx)
{
    const char *p = xml, *end = xml + len;
    size_t tlen = strlen(tag);
    char close[300];
    if (tlen > sizeof close - 4) return 0;
    snprintf(close, sizeof close, "</%s>", tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt) break;
        const char *after = open_tag_at(lt, end, tag, tlen);
        if (!after) {
            p = lt + 1;
            continue;
        }
        const char *gt = memchr(after, '>', (size_t)(end - after));
        if (!gt) break;
        if (gt[-1] == '/') { /* <Tag/>: empty */
            int rc = cb(gt + 1, 0, ctx);
            if (rc) return rc;
            p = gt + 1;
            continue;
        }
        const char *inner = gt + 1;
        const char *stop = find(inner, end, close);
        if (!stop) break;
        int rc = cb(inner, (size_t)(stop - inner), ctx);
        if (rc) return rc;
        p = stop + strlen(close);
    }
    return 0;
}

static void put_utf8(strbuf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_appendn(out, b, n);
}

static void decode(strbuf *out, const char *s, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t i = 0;
    while (i < n) {
        if (s[i] != '&') {
            size_t j = i;
            while (j < n && s[j] != '&')
                j++;
            sb_appendn(out, s + i, j - i);
            i = j;
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        size_t elen = semi ? (size_t)(semi - (s + i)) + 1 : 0; /* "&...;" */
        int done = 0;
        if (elen > 3 && elen < 16 && s[i + 1] == '#') {
            int hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
            char digits[16];
            size_t dn = elen - 3 - (size_t)hexa;
            memcpy(digits, s + i + 2 + hexa, dn);
            digits[dn] = 0;
            char *endp = NULL;
            unsigned long cp = strtoul(digits, &endp, hexa ? 16 : 10);
            if (dn && endp && *endp == 0) {
                put_utf8(out, cp);
                done = 1;
            }
        }
        for (size_t k = 0; !done && elen && k < sizeof named / sizeof *named; k++)
            if (strlen(named[k].name) == elen - 1 &&
                memcmp(s + i + 1, named[k].name, elen - 1) == 0) {
                sb_appendn(out, &named[k].c, 1);
                done = 1;
            }
        if (done) {
            i += elen;
        } else {
            sb_appendn(out, "&", 1);
            i++;
        }
    }
}

typedef struct first_text {
    strbuf *out;
    int found;
} first_text;

static int take_first(const char *inner, size_t len, void *ctx)
{
    first_text *f = ctx;
    decode(f->out, inner, len);
    f->found = 1;
    return 1;
}

int tarn__xml_text(strbuf *out, const char *xml, size_t len, const char *tag)
{
    first_text f = {out, 0};
    tarn__xml_each(xml, len, tag, take_first, &f);
    return f.found;
}
