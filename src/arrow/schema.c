/* arrow/schema.c — ArrowSchema format strings and schema trees: parsing a
 * format string into a tarn_arrow__type and back, and heap-allocated schema
 * nodes (strings, children and dictionary owned by each node) used by the
 * decoder and the writer. */
#include "arrow/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tarn_arrow__fail(tarn_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

static void set_int(tarn_arrow__type *t, int bits, int is_signed)
{
    t->id = TARN_AT_INT;
    t->layout = TARN_LAYOUT_FIXED;
    t->bits = bits;
    t->width = bits / 8;
    t->is_signed = is_signed;
}

static int time_unit(char c)
{
    switch (c) {
    case 's':
        return 0;
    case 'm':
        return 1;
    case 'u':
        return 2;
    case 'n':
        return 3;
    default:
        return -1;
    }
}

/* Parse "P,S" or "P,S,W" of a decimal format. */
static int parse_decimal(tarn_arrow__type *t, const char *p)
{
    char *end;
    long prec, scale, bits = 128;
    prec = strtol(p, &end, 10);
    if (end == p || *end != ',') return -1;
    p = end + 1;
    scale = strtol(p, &end, 10);
    if (end == p) return -1;
    if (*end == ',') {
        p = end + 1;
        bits = strtol(p, &end, 10);
        if (end == p) return -1;
    }
    if (*end != '\0' || prec < 1 || prec > 38 || scale < -38 || scale > 38 || bits != 128)
        return -1;
    t->id = TARN_AT_DECIMAL;
    t->layout = TARN_LAYOUT_FIXED;
    t->width = 16;
    t->bits = 128;
    t->precision = (int)prec;
    t->scale = (int)scale;
    return 0;
}

/* Parse the type ids "I,J,..." of a union format (may be empty). Each id is
 * 0..127 and appears once. */
static int parse_union(tarn_arrow__type *t, const char *p, int dense)
{
    char *end;
    memset(t->child_of, -1, sizeof(t->child_of));
    t->id = TARN_AT_UNION;
    t->layout = dense ? TARN_LAYOUT_DENSE : TARN_LAYOUT_SPARSE;
    t->unit = dense;
    if (*p == '\0') return 0;
    for (;;) {
        long id = strtol(p, &end, 10);
        if (end == p || *p == '-' || *p == '+' || *p == ' ' || id < 0 ||
            id >= TARN_ARROW_UNION_MAX || t->n_ids >= TARN_ARROW_UNION_MAX || t->child_of[id] >= 0)
            return -1;
        t->child_of[id] = (int8_t)t->n_ids;
        t->ids[t->n_ids++] = (int8_t)id;
        if (*end == '\0') return 0;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

int tarn_arrow__is_union(int layout)
{
    return layout == TARN_LAYOUT_SPARSE || layout == TARN_LAYOUT_DENSE;
}

int tarn_arrow__parse_format(tarn_arrow__type *t, const char *f)
{
    memset(t, 0, sizeof(*t));
    if (f == NULL || f[0] == '\0') return -1;
    if (f[1] == '\0') {
        switch (f[0]) {
        case 'n':
            t->id = TARN_AT_NULL;
            t->layout = TARN_LAYOUT_NULL;
            return 0;
        case 'b':
            t->id = TARN_AT_BOOL;
            t->layout = TARN_LAYOUT_BITS;
            return 0;
        case 'c':
            set_int(t, 8, 1);
            return 0;
        case 'C':
            set_int(t, 8, 0);
            return 0;
        case 's':
            set_int(t, 16, 1);
            return 0;
        case 'S':
            set_int(t, 16, 0);
            return 0;
        case 'i':
            set_int(t, 32, 1);
            return 0;
        case 'I':
            set_int(t, 32, 0);
            return 0;
        case 'l':
            set_int(t, 64, 1);
            return 0;
        case 'L':
            set_int(t, 64, 0);
            return 0;
        case 'e':
        case 'f':
        case 'g':
            t->id = TARN_AT_FLOAT;
            t->layout = TARN_LAYOUT_FIXED;
            t->unit = f[0] == 'e' ? 0 : f[0] == 'f' ? 1 : 2;
            t->width = f[0] == 'e' ? 2 : f[0] == 'f' ? 4 : 8;
            return 0;
        case 'z':
            t->id = TARN_AT_BINARY;
            t->layout = TARN_LAYOUT_VAR32;
            return 0;
        case 'Z':
            t->id = TARN_AT_LARGE_BINARY;
            t->layout = TARN_LAYOUT_VAR64;
            return 0;
        case 'u':
            t->id = TARN_AT_UTF8;
            t->layout = TARN_LAYOUT_VAR32;
            return 0;
        case 'U':
            t->id = TARN_AT_LARGE_UTF8;
            t->layout = TARN_LAYOUT_VAR64;
            return 0;
        default:
            return -1;
        }
    }
    if (strcmp(f, "+s") == 0) {
        t->id = TARN_AT_STRUCT;
        t->layout = TARN_LAYOUT_STRUCT;
        return 0;
    }
    if (f[0] == '+' && f[1] == 'u' && (f[2] == 's' || f[2] == 'd') && f[3] == ':')
        return parse_union(t, f + 4, f[2] == 'd');
    if (strcmp(f, "+m") == 0) {
        t->id = TARN_AT_MAP;
        t->layout = TARN_LAYOUT_LIST32;
        return 0;
    }
    if (f[0] == '+' && f[1] == 'w' && f[2] == ':') {
        char *end;
        long n = strtol(f + 3, &end, 10);
        if (end == f + 3 || *end != '\0' || n < 0 || n > (1 << 20)) return -1;
        t->id = TARN_AT_FSL;
        t->layout = TARN_LAYOUT_FSL;
        t->width = (int)n;
        return 0;
    }
    if (strcmp(f, "+l") == 0 || strcmp(f, "+L") == 0) {
        t->id = f[1] == 'l' ? TARN_AT_LIST : TARN_AT_LARGE_LIST;
        t->layout = f[1] == 'l' ? TARN_LAYOUT_LIST32 : TARN_LAYOUT_LIST64;
        return 0;
    }
    if (f[0] == 'w' && f[1] == ':') {
        char *end;
        long w = strtol(f + 2, &end, 10);
        if (end == f + 2 || *end != '\0' || w < 1 || w > (1 << 20)) return -1;
        t->id = TARN_AT_FSB;
        t->layout = TARN_LAYOUT_FIXED;
        t->width = (int)w;
        return 0;
    }
    if (f[0] == 'd' && f[1] == ':') return parse_decimal(t, f + 2);
    if (f[0] != 't' || f[1] == '\0' || f[2] == '\0') return -1;
    t->layout = TARN_LAYOUT_FIXED;
    if (f[1] == 'd' && f[3] == '\0') { /* tdD, tdm */
        t->id = TARN_AT_DATE;
        if (f[2] != 'D' && f[2] != 'm') return -1;
        t->unit = f[2] == 'D' ? 0 : 1;
        t->width = f[2] == 'D' ? 4 : 8;
        return 0;
    }
    if (f[1] == 't' && f[3] == '\0') { /* tts ttm ttu ttn */
        t->id = TARN_AT_TIME;
        t->unit = time_unit(f[2]);
        t->width = t->unit < 2 ? 4 : 8;
        t->bits = t->width * 8;
        return t->unit < 0 ? -1 : 0;
    }
    if (f[1] == 'i' && f[3] == '\0') { /* tiM tiD tin */
        t->id = TARN_AT_INTERVAL;
        t->unit = f[2] == 'M' ? 0 : f[2] == 'D' ? 1 : f[2] == 'n' ? 2 : -1;
        t->width = t->unit == 0 ? 4 : t->unit == 1 ? 8 : 16;
        return t->unit < 0 ? -1 : 0;
    }
    if (f[1] == 'D' && f[3] == '\0') { /* tDs ... */
        t->id = TARN_AT_DURATION;
        t->unit = time_unit(f[2]);
        t->width = 8;
        return t->unit < 0 ? -1 : 0;
    }
    if (f[1] == 's' && f[3] == ':') { /* tss:TZ ... */
        t->id = TARN_AT_TIMESTAMP;
        t->unit = time_unit(f[2]);
        t->width = 8;
        if (f[4] != '\0') {
            t->tz = f + 4;
            t->tz_len = strlen(f + 4);
        }
        return t->unit < 0 ? -1 : 0;
    }
    return -1;
}

int tarn_arrow__format(char *buf, size_t cap, const tarn_arrow__type *t)
{
    static const char units[] = "smun";
    const char *s = NULL;
    int n;
    switch (t->id) {
    case TARN_AT_NULL:
        s = "n";
        break;
    case TARN_AT_BOOL:
        s = "b";
        break;
    case TARN_AT_INT: {
        static const char sig[] = "csil", uns[] = "CSIL";
        int k = t->bits == 8 ? 0 : t->bits == 16 ? 1 : t->bits == 32 ? 2 : 3;
        n = snprintf(buf, cap, "%c", t->is_signed ? sig[k] : uns[k]);
        return n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    case TARN_AT_FLOAT:
        s = t->unit == 0 ? "e" : t->unit == 1 ? "f" : "g";
        break;
    case TARN_AT_BINARY:
        s = "z";
        break;
    case TARN_AT_LARGE_BINARY:
        s = "Z";
        break;
    case TARN_AT_UTF8:
        s = "u";
        break;
    case TARN_AT_LARGE_UTF8:
        s = "U";
        break;
    case TARN_AT_STRUCT:
        s = "+s";
        break;
    case TARN_AT_LIST:
        s = "+l";
        break;
    case TARN_AT_LARGE_LIST:
        s = "+L";
        break;
    case TARN_AT_DATE:
        s = t->unit == 0 ? "tdD" : "tdm";
        break;
    case TARN_AT_FSB:
        n = snprintf(buf, cap, "w:%d", t->width);
        break;
    case TARN_AT_FSL:
        n = snprintf(buf, cap, "+w:%d", t->width);
        break;
    case TARN_AT_MAP:
        s = "+m";
        break;
    case TARN_AT_UNION: {
        size_t pos;
        int i;
        n = snprintf(buf, cap, "+u%c:", t->unit ? 'd' : 's');
        if (n < 0 || (size_t)n >= cap) return -1;
        pos = (size_t)n;
        for (i = 0; i < t->n_ids; i++) {
            n = snprintf(buf + pos, cap - pos, i ? ",%d" : "%d", t->ids[i]);
            if (n < 0 || (size_t)n >= cap - pos) return -1;
            pos += (size_t)n;
        }
        return 0;
    }
    case TARN_AT_INTERVAL:
        s = t->unit == 0 ? "tiM" : t->unit == 1 ? "tiD" : "tin";
        break;
    case TARN_AT_DECIMAL:
        n = snprintf(buf, cap, "d:%d,%d", t->precision, t->scale);
        break;
    case TARN_AT_TIME:
        n = snprintf(buf, cap, "tt%c", units[t->unit & 3]);
        break;
    case TARN_AT_DURATION:
        n = snprintf(buf, cap, "tD%c", units[t->unit & 3]);
        break;
    case TARN_AT_TIMESTAMP:
        n = snprintf(buf, cap, "ts%c:%.*s", units[t->unit & 3], (int)t->tz_len, t->tz ? t->tz : "");
        break;
    default:
        return -1;
    }
    if (s != NULL) n = snprintf(buf, cap, "%s", s);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int tarn_arrow__n_buffers(int layout)
{
    switch (layout) {
    case TARN_LAYOUT_NULL:
        return 0;
    case TARN_LAYOUT_STRUCT:
    case TARN_LAYOUT_FSL:
    case TARN_LAYOUT_SPARSE:
        return 1;
    case TARN_LAYOUT_VAR32:
    case TARN_LAYOUT_VAR64:
        return 3;
    default:
        return 2;
    }
}

size_t tarn_arrow__metadata_len(const char *metadata)
{
    int32_t n, len;
    size_t pos = 4, i;
    if (metadata == NULL) return 0;
    memcpy(&n, metadata, 4);
    for (i = 0; i < (size_t)(n < 0 ? 0 : n) * 2; i++) {
        memcpy(&len, metadata + pos, 4);
        pos += 4 + (size_t)(len < 0 ? 0 : len);
    }
    return pos;
}

static void schema_release(struct ArrowSchema *s)
{
    int64_t i;
    if (s == NULL || s->release == NULL) return;
    for (i = 0; i < s->n_children; i++) {
        if (s->children[i] != NULL) {
            if (s->children[i]->release) s->children[i]->release(s->children[i]);
            free(s->children[i]);
        }
    }
    if (s->dictionary != NULL) {
        if (s->dictionary->release) s->dictionary->release(s->dictionary);
        free(s->dictionary);
    }
    free(s->children);
    free((void *)s->format);
    free((void *)s->name);
    free((void *)s->metadata);
    s->release = NULL;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int tarn_arrow__schema_init(struct ArrowSchema *s, const char *format, const char *name,
                            size_t name_len, const char *metadata, size_t metadata_len,
                            int64_t n_children)
{
    int64_t i;
    memset(s, 0, sizeof(*s));
    s->release = schema_release;
    s->format = dup_n(format, strlen(format));
    s->name = dup_n(name ? name : "", name ? name_len : 0);
    if (metadata != NULL && metadata_len > 0) {
        char *m = malloc(metadata_len);
        if (m != NULL) memcpy(m, metadata, metadata_len);
        s->metadata = m;
        if (m == NULL) goto fail;
    }
    if (s->format == NULL || s->name == NULL) goto fail;
    if (n_children > 0) {
        s->children = calloc((size_t)n_children, sizeof(*s->children));
        if (s->children == NULL) goto fail;
        s->n_children = n_children;
        for (i = 0; i < n_children; i++) {
            s->children[i] = calloc(1, sizeof(struct ArrowSchema));
            if (s->children[i] == NULL) goto fail;
        }
    }
    return 0;
fail:
    schema_release(s);
    return -1;
}

int tarn_arrow__schema_copy(struct ArrowSchema *dst, const struct ArrowSchema *src)
{
    int64_t i;
    int rc = -1;
    const char *name = src->name ? src->name : "";
    if (tarn_arrow__schema_init(dst, src->format ? src->format : "", name, strlen(name),
                                src->metadata, tarn_arrow__metadata_len(src->metadata),
                                src->n_children) < 0)
        goto done;
    dst->flags = src->flags;
    for (i = 0; i < src->n_children; i++)
        if (tarn_arrow__schema_copy(dst->children[i], src->children[i]) < 0) goto fail;
    if (src->dictionary != NULL) {
        dst->dictionary = calloc(1, sizeof(struct ArrowSchema));
        if (dst->dictionary == NULL ||
            tarn_arrow__schema_copy(dst->dictionary, src->dictionary) < 0)
            goto fail;
    }
    rc = 0;
    goto done;
fail:
    dst->release(dst);
done:
    return rc;
}
