/* util/utf8.c — keeping text valid UTF-8 on its way out.
 *
 * Text tarn did not write (a CSV line in DuckDB's error, a model's print, a
 * worker's stderr, a commit message from argv) may hold bytes that are not
 * UTF-8. JSON cannot carry them, and a JSON library refuses the whole
 * string, so the message would be lost. Every such byte becomes U+FFFD
 * instead: the rest of the message survives and the reader sees where the
 * bad byte was. */
#include <stdlib.h>
#include <string.h>

#include "tarn/common.h"
#include "util/utf8.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Well-formed sequences (Unicode 15, table 3-7): by first byte, the length
 * and the range of the second byte; no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
static const struct {
    unsigned char first_lo, first_hi, len, second_lo, second_hi;
} forms[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
};

size_t tarn__utf8_seq_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        if (s[0] < forms[f].first_lo || s[0] > forms[f].first_hi) continue;
        size_t len = forms[f].len;
        if (n < len || s[1] < forms[f].second_lo || s[1] > forms[f].second_hi) return 0;
        for (size_t i = 2; i < len; i++)
            if (s[i] < 0x80 || s[i] > 0xBF) return 0;
        return len;
    }
    return 0;
}

size_t tarn__utf8_valid_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, len;
    while (i < n && p[i] && (len = tarn__utf8_seq_len(p + i, n - i)) > 0)
        i += len;
    return i;
}

char *tarn_utf8_repair(const char *s, size_t n)
{
    if (!s) return NULL;
    /* At worst every byte becomes three. */
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        /* A NUL would end the C string early: it is replaced too. */
        size_t len = p[i] ? tarn__utf8_seq_len(p + i, n - i) : 0;
        if (len == 0) {
            memcpy(out + o, replacement, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = 0;
    return out;
}

void tarn__utf8_fit(char *buf, size_t cap, int truncated)
{
    size_t n = strlen(buf);
    /* A message cut at CAP may end inside a character: drop that part
     * rather than turn it into a replacement character. */
    if (truncated) {
        size_t k = n;
        while (k > 0 && n - k < 3 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && (unsigned char)buf[k - 1] >= 0xC0 &&
            tarn__utf8_seq_len((unsigned char *)buf + k - 1, n - k + 1) == 0)
            buf[n = k - 1] = 0;
    }
    if (tarn__utf8_valid_len(buf, n) == n) return; /* the usual case: one pass */
    char *fixed = tarn_utf8_repair(buf, n);
    if (!fixed) {
        buf[tarn__utf8_valid_len(buf, n)] = 0; /* out of memory: keep the valid start */
        return;
    }
    size_t len = strlen(fixed);
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)fixed[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(buf, fixed, len);
    buf[len] = 0;
    free(fixed);
}
