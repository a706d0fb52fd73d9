/* arrow/concat.c — concatenating record batches into bigger ones.
 *
 * DuckDB exports 2,048 rows a chunk; a table of millions of rows would
 * travel as thousands of tiny batches, and every consumer (numpy views,
 * pandas) would have to stitch them. This joins the batches of flat
 * columns (fixed width, bool, utf8/binary and their large forms, null)
 * into one batch; anything else is refused so the caller keeps the
 * original batches. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"

typedef struct concat_private {
    void *buffers[3];
    const void *buffer_ptrs[3];
} concat_private;

static void release_column(struct ArrowArray *a)
{
    concat_private *p = a->private_data;
    for (int i = 0; i < 3; i++) free(p->buffers[i]);
    free(p);
    a->release = NULL;
}

static void release_batch(struct ArrowArray *a)
{
    for (int64_t i = 0; i < a->n_children; i++) {
        if (a->children[i]->release) a->children[i]->release(a->children[i]);
        free(a->children[i]);
    }
    free(a->children);
    free((void *)a->buffers);
    a->release = NULL;
}

/* Bytes per value of a fixed-width format, 0 for bool, -1 for var-size
 * (32-bit offsets), -2 (64-bit offsets), -3 null, -4 unsupported. */
static int width_of(const char *f)
{
    switch (f[0]) {
    case 'n': return f[1] ? -4 : -3;
    case 'b': return f[1] ? -4 : 0;
    case 'c': case 'C': return f[1] ? -4 : 1;
    case 's': case 'S': case 'e': return f[1] ? -4 : 2;
    case 'i': case 'I': case 'f': return f[1] ? -4 : 4;
    case 'l': case 'L': case 'g': return f[1] ? -4 : 8;
    case 'u': case 'z': return f[1] ? -4 : -1;
    case 'U': case 'Z': return f[1] ? -4 : -2;
    case 'd': { /* d:precision,scale[,bitwidth] */
        const char *c1 = strchr(f, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        int bits = c2 ? atoi(c2 + 1) : 128;
        return bits == 128 ? 16 : bits == 256 ? 32 : -4;
    }
    case 'w': return f[1] == ':' && atoi(f + 2) > 0 ? atoi(f + 2) : -4;
    case 't':
        if (!strcmp(f, "tdD") || !strcmp(f, "tts") || !strcmp(f, "ttm")) return 4;
        if (!strcmp(f, "tdm") || !strcmp(f, "ttu") || !strcmp(f, "ttn")) return 8;
        if (!strncmp(f, "ts", 2) && f[2] && f[3] == ':') return 8; /* timestamps */
        if (!strncmp(f, "tD", 2) && f[2] && !f[3]) return 8;       /* durations */
        return -4;
    default: return -4;
    }
}

static void copy_bits(uint8_t *dst, int64_t dbit, const uint8_t *src, int64_t sbit, int64_t n)
{
    if ((dbit & 7) == 0 && (sbit & 7) == 0) {
        memcpy(dst + dbit / 8, src + sbit / 8, (size_t)(n / 8));
        for (int64_t i = n & ~7LL; i < n; i++) {
            int v = (src[(sbit + i) >> 3] >> ((sbit + i) & 7)) & 1;
            if (v) dst[(dbit + i) >> 3] |= (uint8_t)(1u << ((dbit + i) & 7));
        }
        return;
    }
    for (int64_t i = 0; i < n; i++)
        if ((src[(sbit + i) >> 3] >> ((sbit + i) & 7)) & 1)
            dst[(dbit + i) >> 3] |= (uint8_t)(1u << ((dbit + i) & 7));
}

/* Column C of the N batches as one array in OUT. */
static int concat_column(struct ArrowArray *out, const char *format,
                         const struct ArrowArray *const *batches, size_t n, int64_t c)
{
    int w = width_of(format);
    if (w == -4) return -1;
    int64_t total = 0, nulls = 0, bytes = 0;
    int any_validity = 0;
    for (size_t b = 0; b < n; b++) {
        const struct ArrowArray *a = batches[b]->children[c];
        total += a->length;
        if (a->null_count != 0 && a->buffers[0]) any_validity = 1;
        if (w == -1)
            bytes += ((const int32_t *)a->buffers[1])[a->offset + a->length] - ((const int32_t *)a->buffers[1])[a->offset];
        if (w == -2)
            bytes += ((const int64_t *)a->buffers[1])[a->offset + a->length] - ((const int64_t *)a->buffers[1])[a->offset];
    }
    if (w == -1 && bytes > INT32_MAX) return -1; /* would overflow 32-bit offsets */
    concat_private *p = calloc(1, sizeof *p);
    memset(out, 0, sizeof *out);
    out->length = total;
    out->private_data = p;
    out->release = release_column;
    out->n_buffers = w == -3 ? 0 : (w < 0 ? 3 : 2);
    out->buffers = p->buffer_ptrs;
    if (w == -3) {
        out->null_count = total;
        return 0;
    }
    if (any_validity) {
        p->buffers[0] = calloc(1, (size_t)(total + 7) / 8 + 1);
        int64_t row = 0;
        for (size_t b = 0; b < n; b++) {
            const struct ArrowArray *a = batches[b]->children[c];
            if (a->buffers[0] && a->null_count != 0) {
                copy_bits(p->buffers[0], row, a->buffers[0], a->offset, a->length);
            } else { /* all valid */
                for (int64_t i = 0; i < a->length; i++)
                    ((uint8_t *)p->buffers[0])[(row + i) >> 3] |= (uint8_t)(1u << ((row + i) & 7));
            }
            row += a->length;
        }
        for (int64_t i = 0; i < total; i++)
            if (!((((uint8_t *)p->buffers[0])[i >> 3] >> (i & 7)) & 1)) nulls++;
    }
    out->null_count = nulls;
    int64_t row = 0, data_at = 0;
    if (w == 0) p->buffers[1] = calloc(1, (size_t)(total + 7) / 8 + 1);
    else if (w > 0) p->buffers[1] = malloc((size_t)(total * w) + 1);
    else {
        p->buffers[1] = malloc((size_t)(total + 1) * (w == -1 ? 4 : 8));
        p->buffers[2] = malloc((size_t)bytes + 1);
    }
    for (size_t b = 0; b < n; b++) {
        const struct ArrowArray *a = batches[b]->children[c];
        if (w == 0) {
            copy_bits(p->buffers[1], row, a->buffers[1], a->offset, a->length);
        } else if (w > 0) {
            memcpy((uint8_t *)p->buffers[1] + row * w, (const uint8_t *)a->buffers[1] + a->offset * w,
                   (size_t)(a->length * w));
        } else if (w == -1) {
            const int32_t *so = (const int32_t *)a->buffers[1] + a->offset;
            int32_t *dof = (int32_t *)p->buffers[1] + row;
            for (int64_t i = 0; i <= a->length; i++) dof[i] = (int32_t)(data_at + (so[i] - so[0]));
            memcpy((uint8_t *)p->buffers[2] + data_at, (const uint8_t *)a->buffers[2] + so[0],
                   (size_t)(so[a->length] - so[0]));
            data_at += so[a->length] - so[0];
        } else {
            const int64_t *so = (const int64_t *)a->buffers[1] + a->offset;
            int64_t *dof = (int64_t *)p->buffers[1] + row;
            for (int64_t i = 0; i <= a->length; i++) dof[i] = data_at + (so[i] - so[0]);
            memcpy((uint8_t *)p->buffers[2] + data_at, (const uint8_t *)a->buffers[2] + so[0],
                   (size_t)(so[a->length] - so[0]));
            data_at += so[a->length] - so[0];
        }
        row += a->length;
    }
    if (w < 0 && total == 0) { /* one offset, zero */
        if (w == -1) ((int32_t *)p->buffers[1])[0] = 0;
        else ((int64_t *)p->buffers[1])[0] = 0;
    }
    for (int i = 0; i < 3; i++) p->buffer_ptrs[i] = p->buffers[i];
    return 0;
}

int tarn_arrow_concat(struct ArrowArray *out, const struct ArrowSchema *schema,
                      const struct ArrowArray *const *batches, size_t n, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!schema || strcmp(schema->format, "+s") != 0)
        return tarn_arrow__fail(err, TARN_EINVALID, "concat needs struct batches");
    for (int64_t c = 0; c < schema->n_children; c++)
        if (width_of(schema->children[c]->format) == -4 || schema->children[c]->dictionary)
            return tarn_arrow__fail(err, TARN_EINVALID, "column %lld (%s) cannot be concatenated",
                                    (long long)c, schema->children[c]->format);
    for (size_t b = 0; b < n; b++)
        if (batches[b]->n_children != schema->n_children || batches[b]->offset != 0 ||
            batches[b]->null_count > 0)
            return tarn_arrow__fail(err, TARN_EINVALID, "batch %zu does not match the schema", b);
    int64_t total = 0;
    for (size_t b = 0; b < n; b++) total += batches[b]->length;
    out->length = total;
    out->n_buffers = 1;
    out->buffers = calloc(1, sizeof(void *));
    out->n_children = schema->n_children;
    out->children = calloc((size_t)(schema->n_children ? schema->n_children : 1), sizeof *out->children);
    out->release = release_batch;
    for (int64_t c = 0; c < schema->n_children; c++) {
        out->children[c] = calloc(1, sizeof **out->children);
        if (concat_column(out->children[c], schema->children[c]->format, batches, n, c) != 0) {
            out->n_children = c + 1;
            release_batch(out);
            return tarn_arrow__fail(err, TARN_EINVALID, "column %lld cannot be concatenated", (long long)c);
        }
    }
    return 0;
}
