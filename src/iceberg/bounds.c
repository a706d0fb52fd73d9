/* iceberg/bounds.c — a column's minimum or maximum, as tarn records it
 * (text, from the Parquet footer), in Iceberg's single-value binary form
 * for the lower_bounds and upper_bounds of a manifest entry.
 *
 * A bound is a promise to readers: they skip a file whose bounds exclude
 * what a query asks for. So a statistic is written only when it converts
 * exactly (anything unusual — NaN, a BC date, a value out of range — gives
 * no bound, which only costs a reader the chance to skip the file). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/iceberg.h"

static void put_le(strbuf *out, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++) {
        char c = (char)((v >> (8 * i)) & 0xff);
        sb_appendn(out, &c, 1);
    }
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian), by counting whole
 * 400-year eras and the days of the year from March. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" at *p; advances. */
static int parse_date(int64_t *days, const char **p)
{
    int y, m, d, n = 0;
    if (sscanf(*p, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10) return -1;
    if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
    *days = days_from_civil(y, m, d);
    *p += n;
    return 0;
}

/* "HH:MM:SS[.ffffff]" at *p; advances. */
static int parse_time(int64_t *us, const char **p)
{
    int h, mi, s, n = 0;
    if (sscanf(*p, "%2d:%2d:%2d%n", &h, &mi, &s, &n) != 3 || n != 8) return -1;
    if (h > 23 || mi > 59 || s > 60) return -1;
    *p += n;
    int64_t frac = 0;
    if (**p == '.') {
        int digits = 0;
        for ((*p)++; isdigit((unsigned char)**p); (*p)++) {
            if (++digits > 6) return -1; /* finer than a microsecond: not exact */
            frac = frac * 10 + (**p - '0');
        }
        for (; digits < 6; digits++)
            frac *= 10;
    }
    *us = ((int64_t)h * 3600 + mi * 60 + s) * 1000000 + frac;
    return 0;
}

/* "+HH", "+HH:MM" or "-HH:MM" at *p, in microseconds. */
static int parse_offset(int64_t *us, const char **p)
{
    int sign = **p == '-' ? -1 : **p == '+' ? 1 : 0;
    if (!sign) return -1;
    int h, mi = 0, n = 0;
    if (sscanf(*p + 1, "%2d%n", &h, &n) != 1 || n != 2) return -1;
    *p += 3;
    if (**p == ':') {
        if (sscanf(*p + 1, "%2d%n", &mi, &n) != 1 || n != 2) return -1;
        *p += 3;
    }
    *us = sign * ((int64_t)h * 3600 + mi * 60) * 1000000;
    return 0;
}

/* The unscaled value of decimal TEXT at scale SCALE, as big-endian two's
 * complement in the fewest bytes. */
static int decimal_bytes(strbuf *out, const char *text, int scale)
{
    const char *p = text;
    int neg = *p == '-';
    if (*p == '-' || *p == '+') p++;
    __int128 v = 0;
    int frac = -1, digits = 0;
    for (; *p; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*p) || ++digits > 38) return -1;
        if (frac >= 0 && ++frac > scale) return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0) return -1;
    for (int f = frac < 0 ? 0 : frac; f < scale; f++)
        v *= 10;
    if (neg) v = -v;
    unsigned char be[16];
    for (int i = 15; i >= 0; i--) {
        be[i] = (unsigned char)(v & 0xff);
        v >>= 8; /* arithmetic: keeps the sign */
    }
    int start = 0;
    /* Drop leading bytes that only repeat the sign. */
    while (start < 15 && ((be[start] == 0x00 && !(be[start + 1] & 0x80)) ||
                          (be[start] == 0xff && (be[start + 1] & 0x80))))
        start++;
    sb_appendn(out, (const char *)be + start, (size_t)(16 - start));
    return 0;
}

static int uuid_bytes(strbuf *out, const char *text)
{
    unsigned char b[16];
    int k = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '-') continue;
        if (k >= 32 || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1])) return -1;
        char hex[3] = {p[0], p[1], 0};
        b[k / 2] = (unsigned char)strtol(hex, NULL, 16);
        k += 2;
        p++;
    }
    if (k != 32) return -1;
    sb_appendn(out, (const char *)b, 16);
    return 0;
}

static int whole_integer(long long *v, const char *text, long long lo, long long hi)
{
    char *end;
    *v = strtoll(text, &end, 10);
    return *text && !*end && *v >= lo && *v <= hi ? 0 : -1;
}

int tarn__ice_bound(strbuf *out, const char *ice, const char *text)
{
    if (!ice || !text) return -1;
    long long v;
    const char *p = text;
    if (!strcmp(ice, "boolean")) {
        if (strcmp(text, "true") && strcmp(text, "false")) return -1;
        sb_appendn(out, text[0] == 't' ? "\1" : "\0", 1);
        return 0;
    }
    if (!strcmp(ice, "int")) {
        if (whole_integer(&v, text, INT32_MIN, INT32_MAX) < 0) return -1;
        put_le(out, (uint64_t)(uint32_t)(int32_t)v, 4);
        return 0;
    }
    if (!strcmp(ice, "long")) {
        if (whole_integer(&v, text, INT64_MIN, INT64_MAX) < 0) return -1;
        put_le(out, (uint64_t)v, 8);
        return 0;
    }
    if (!strcmp(ice, "float") || !strcmp(ice, "double")) {
        char *end;
        double d = strtod(text, &end);
        if (!*text || *end || isnan(d)) return -1;
        if (!strcmp(ice, "float")) {
            float f = strtof(text, NULL);
            uint32_t bits;
            memcpy(&bits, &f, 4);
            put_le(out, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, 8);
            put_le(out, bits, 8);
        }
        return 0;
    }
    int prec, scale;
    if (sscanf(ice, "decimal(%d,%d)", &prec, &scale) == 2) return decimal_bytes(out, text, scale);
    if (!strcmp(ice, "string")) {
        sb_append(out, text);
        if (!out->s) sb_append(out, "");
        return 0;
    }
    if (!strcmp(ice, "uuid")) return uuid_bytes(out, text);
    int64_t days, us, off = 0;
    if (!strcmp(ice, "date")) {
        if (parse_date(&days, &p) < 0 || *p) return -1;
        put_le(out, (uint64_t)(uint32_t)(int32_t)days, 4);
        return 0;
    }
    if (!strcmp(ice, "time")) {
        if (parse_time(&us, &p) < 0 || *p) return -1;
        put_le(out, (uint64_t)us, 8);
        return 0;
    }
    if (!strcmp(ice, "timestamp") || !strcmp(ice, "timestamptz")) {
        if (parse_date(&days, &p) < 0 || *p++ != ' ' || parse_time(&us, &p) < 0) return -1;
        if (!strcmp(ice, "timestamptz") && parse_offset(&off, &p) < 0) return -1;
        if (*p) return -1;
        put_le(out, (uint64_t)(days * 86400000000LL + us - off), 8);
        return 0;
    }
    return -1; /* binary and the rest: no bound */
}
