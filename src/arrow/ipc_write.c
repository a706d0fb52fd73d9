/* arrow/ipc_write.c — the Arrow IPC stream encoder.
 *
 * A stream is a Schema message, then per record batch the DictionaryBatch
 * messages its dictionary columns need followed by the RecordBatch, then the
 * end-of-stream marker. Each message is 0xFFFFFFFF, an int32 metadata
 * length, the flatbuffer Message padded to 8 bytes, and the body.
 *
 * A batch is first planned (field nodes, buffer lengths, and "pieces" that
 * say how to produce each body buffer from the source array: a plain copy, a
 * re-based bitmap slice or re-based offsets) so the metadata can be built
 * before the body is written; the body is then written straight from the
 * source buffers into the sink. The sink is a growable buffer, a fixed
 * caller buffer, or a counter (tarn_arrow_ipc_size). */
#include "arrow/flatbuf.h"
#include "arrow/internal.h"

#include <stdlib.h>
#include <string.h>

enum { SINK_GROW, SINK_FIXED, SINK_COUNT };
enum { P_COPY, P_BITS, P_OFF32, P_OFF64 };

typedef struct piece {
    int kind;
    const uint8_t *src;
    int64_t start; /* P_BITS: bit offset; P_OFF*: first index */
    int64_t count; /* P_BITS: bits; P_OFF*: entries */
    int64_t base;  /* P_OFF*: subtracted from every offset */
    size_t len;    /* bytes produced */
} piece;

typedef struct dict_ref {
    int64_t id;
    const struct ArrowSchema *schema;
    const struct ArrowArray *array;
} dict_ref;

typedef struct plan {
    int64_t *nodes; /* pairs: length, null_count */
    size_t nnodes, capnodes;
    piece *pieces;
    size_t npieces, cappieces;
    dict_ref *dicts;
    size_t ndicts, capdicts;
    int64_t next_dict_id;
} plan;

struct tarn_arrow_writer {
    int mode;
    uint8_t *buf;
    size_t len, cap;
    int finished;
    struct ArrowSchema schema;
    tarn_fb_builder fb;
    plan main, dict;
};

static const uint8_t zeros8[8];
static const int64_t zero_offset[1];

/* ---- sink ------------------------------------------------------------ */

static int sink_put(tarn_arrow_writer *w, const void *p, size_t n, tarn_error *err)
{
    if (w->mode == SINK_COUNT || n == 0) {
        w->len += n;
        return 0;
    }
    if (w->cap - w->len < n) {
        size_t ncap;
        uint8_t *nb;
        if (w->mode == SINK_FIXED)
            return tarn_arrow__fail(err, TARN_EINVALID,
                                    "IPC output buffer too small (%zu bytes): use "
                                    "tarn_arrow_ipc_size to size it",
                                    w->cap);
        ncap = w->cap ? w->cap : 4096;
        while (ncap - w->len < n)
            ncap *= 2;
        nb = realloc(w->buf, ncap);
        if (nb == NULL) return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory writing IPC");
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* ---- planning -------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    void *np;
    size_t ncap;
    if (need <= *cap) return 0;
    ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    np = realloc(*p, ncap * elem);
    if (np == NULL) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static int add_piece(plan *pl, int kind, const void *src, int64_t start, int64_t count,
                     int64_t base, size_t len, tarn_error *err)
{
    piece *p;
    if (grow((void **)&pl->pieces, &pl->cappieces, pl->npieces + 1, sizeof(piece)) < 0)
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory planning IPC batch");
    p = &pl->pieces[pl->npieces++];
    p->kind = kind;
    p->src = src;
    p->start = start;
    p->count = count;
    p->base = base;
    p->len = src == NULL && kind == P_COPY ? 0 : len;
    return 0;
}

static int add_node(plan *pl, int64_t length, int64_t nulls, tarn_error *err)
{
    if (grow((void **)&pl->nodes, &pl->capnodes, pl->nnodes * 2 + 2, sizeof(int64_t)) < 0)
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory planning IPC batch");
    pl->nodes[pl->nnodes * 2] = length;
    pl->nodes[pl->nnodes * 2 + 1] = nulls;
    pl->nnodes++;
    return 0;
}

static int64_t count_nulls(const uint8_t *bits, int64_t off, int64_t len)
{
    int64_t i, set = 0;
    for (i = off; i < off + len; i++)
        set += (bits[i >> 3] >> (i & 7)) & 1;
    return len - set;
}

static int64_t rd_off(const void *offsets, int wide, int64_t i)
{
    if (wide) {
        int64_t v;
        memcpy(&v, (const uint8_t *)offsets + 8 * i, 8);
        return v;
    }
    int32_t v;
    memcpy(&v, (const uint8_t *)offsets + 4 * i, 4);
    return v;
}

/* Plan array A (schema S) at logical slice [A->offset + inherit, +len). */
static int plan_array(plan *pl, const struct ArrowSchema *s, const struct ArrowArray *a,
                      int64_t inherit, int64_t len, int depth, tarn_error *err)
{
    tarn_arrow__type t;
    const struct ArrowSchema *vs = s->dictionary ? s->dictionary : s;
    int64_t off, nulls = 0, i;
    int rc = 0, nb;
    const uint8_t *validity;

    if (depth > 64) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "Arrow type nested too deeply");
        goto done;
    }
    if (tarn_arrow__parse_format(&t, s->format) < 0) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "unsupported Arrow format '%s' for '%s'",
                              s->format ? s->format : "(null)", s->name ? s->name : "");
        goto done;
    }
    if (s->dictionary != NULL && (t.id != TARN_AT_INT || s->dictionary->dictionary != NULL)) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "bad dictionary index type '%s'", s->format);
        goto done;
    }
    nb = tarn_arrow__n_buffers(t.layout);
    if (a->n_buffers != nb || a->n_children != s->n_children ||
        (s->dictionary != NULL) != (a->dictionary != NULL)) {
        rc = tarn_arrow__fail(err, TARN_EINVALID,
                              "array for '%s' does not match its schema (format '%s')",
                              s->name ? s->name : "", s->format);
        goto done;
    }
    /* the rows wanted are [inherit, inherit + len) of A's own length */
    if (inherit < 0 || len < 0 || a->offset < 0 || inherit + len > a->length) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "array '%s' is shorter than its parent",
                              s->name ? s->name : "");
        goto done;
    }
    off = a->offset + inherit;
    /* a union has no validity bitmap: its buffer 0 holds the type ids */
    for (i = tarn_arrow__is_union(t.layout) ? 0 : 1; i < nb; i++)
        if (a->buffers[i] == NULL && len > 0 && t.layout != TARN_LAYOUT_VAR32 &&
            t.layout != TARN_LAYOUT_VAR64) {
            rc = tarn_arrow__fail(err, TARN_EINVALID, "array '%s' lacks buffer %lld",
                                  s->name ? s->name : "", (long long)i);
            goto done;
        }

    validity = nb > 0 && !tarn_arrow__is_union(t.layout) ? a->buffers[0] : NULL;
    if (t.layout == TARN_LAYOUT_NULL)
        nulls = len;
    else if (validity != NULL && a->null_count != 0)
        nulls = count_nulls(validity, off, len);
    if ((rc = add_node(pl, len, nulls, err)) < 0) goto done;
    if (t.layout != TARN_LAYOUT_NULL && !tarn_arrow__is_union(t.layout)) {
        rc = add_piece(pl, P_BITS, nulls ? validity : NULL, off, nulls ? len : 0, 0,
                       nulls ? (size_t)(len + 7) / 8 : 0, err);
        if (rc < 0) goto done;
    }

    switch (t.layout) {
    case TARN_LAYOUT_NULL:
        break;
    case TARN_LAYOUT_BITS:
        rc = add_piece(pl, P_BITS, a->buffers[1], off, len, 0, (size_t)(len + 7) / 8, err);
        break;
    case TARN_LAYOUT_FIXED:
        rc = add_piece(pl, P_COPY, len ? (const uint8_t *)a->buffers[1] + off * t.width : NULL, 0,
                       0, 0, (size_t)(len * t.width), err);
        break;
    case TARN_LAYOUT_VAR32:
    case TARN_LAYOUT_VAR64:
    case TARN_LAYOUT_LIST32:
    case TARN_LAYOUT_LIST64: {
        int wide = t.layout == TARN_LAYOUT_VAR64 || t.layout == TARN_LAYOUT_LIST64;
        const void *offs = a->buffers[1];
        int64_t first = 0, last = 0;
        if (offs == NULL) {
            if (len != 0) {
                rc = tarn_arrow__fail(err, TARN_EINVALID, "missing offsets buffer");
                goto done;
            }
            offs = zero_offset;
            off = 0;
        }
        first = rd_off(offs, wide, off);
        last = rd_off(offs, wide, off + len);
        if (first < 0 || last < first) {
            rc = tarn_arrow__fail(err, TARN_EINVALID, "bad offsets in '%s'", s->name);
            goto done;
        }
        rc = add_piece(pl, wide ? P_OFF64 : P_OFF32, offs, off, len + 1, first,
                       (size_t)(len + 1) * (wide ? 8 : 4), err);
        if (rc < 0) goto done;
        if ((t.layout == TARN_LAYOUT_VAR32 || t.layout == TARN_LAYOUT_VAR64) &&
            a->buffers[2] == NULL && last > first)
            rc = tarn_arrow__fail(err, TARN_EINVALID, "array '%s' lacks its data", s->name);
        else if (t.layout == TARN_LAYOUT_VAR32 || t.layout == TARN_LAYOUT_VAR64)
            rc = add_piece(pl, P_COPY, last > first ? (const uint8_t *)a->buffers[2] + first : NULL,
                           0, 0, 0, (size_t)(last - first), err);
        else if (s->n_children != 1)
            rc = tarn_arrow__fail(err, TARN_EINVALID, "list '%s' needs one child", s->name);
        else
            rc =
                plan_array(pl, s->children[0], a->children[0], first, last - first, depth + 1, err);
        break;
    }
    case TARN_LAYOUT_FSL:
        if (s->n_children != 1)
            rc = tarn_arrow__fail(err, TARN_EINVALID, "list '%s' needs one child", s->name);
        else
            rc = plan_array(pl, s->children[0], a->children[0], off * t.width, len * t.width,
                            depth + 1, err);
        break;
    case TARN_LAYOUT_STRUCT:
        for (i = 0; i < s->n_children && rc == 0; i++)
            rc = plan_array(pl, s->children[i], a->children[i], off, len, depth + 1, err);
        break;
    case TARN_LAYOUT_SPARSE:
    case TARN_LAYOUT_DENSE:
        if (s->n_children != t.n_ids) {
            rc =
                tarn_arrow__fail(err, TARN_EINVALID, "union '%s' has %lld children for %d type ids",
                                 s->name ? s->name : "", (long long)s->n_children, t.n_ids);
            break;
        }
        rc = add_piece(pl, P_COPY, len ? (const uint8_t *)a->buffers[0] + off : NULL, 0, 0, 0,
                       (size_t)len, err);
        if (rc < 0 || t.layout == TARN_LAYOUT_SPARSE) {
            /* sparse: every child is as long as the union, sliced alike */
            for (i = 0; i < s->n_children && rc == 0; i++)
                rc = plan_array(pl, s->children[i], a->children[i], off, len, depth + 1, err);
            break;
        }
        /* dense: offsets point into the children, which go whole */
        rc = add_piece(pl, P_COPY, len ? (const uint8_t *)a->buffers[1] + 4 * off : NULL, 0, 0, 0,
                       (size_t)len * 4, err);
        for (i = 0; i < s->n_children && rc == 0; i++)
            rc = plan_array(pl, s->children[i], a->children[i], 0, a->children[i]->length,
                            depth + 1, err);
        break;
    }
    if (rc < 0) goto done;

    if (s->dictionary != NULL) {
        dict_ref *d;
        if (grow((void **)&pl->dicts, &pl->capdicts, pl->ndicts + 1, sizeof(dict_ref)) < 0) {
            rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory planning IPC batch");
            goto done;
        }
        d = &pl->dicts[pl->ndicts++];
        d->id = pl->next_dict_id++;
        d->schema = vs;
        d->array = a->dictionary;
    }
    rc = 0;
done:
    return rc;
}

static void plan_reset(plan *pl)
{
    pl->nnodes = pl->npieces = pl->ndicts = 0;
    pl->next_dict_id = 0;
}

static void plan_free(plan *pl)
{
    free(pl->nodes);
    free(pl->pieces);
    free(pl->dicts);
    memset(pl, 0, sizeof(*pl));
}

/* ---- metadata -------------------------------------------------------- */

static tarn_fb_ref build_metadata(tarn_fb_builder *b, const char *md)
{
    int32_t n, len;
    size_t pos = 4, i;
    tarn_fb_ref *kv, ref;
    memcpy(&n, md, 4);
    if (n <= 0) return 0;
    kv = calloc((size_t)n, sizeof(*kv));
    if (kv == NULL) {
        b->failed = 1;
        return 0;
    }
    for (i = 0; i < (size_t)n; i++) {
        tarn_fb_ref k, v;
        memcpy(&len, md + pos, 4);
        k = tarn_fb__create_string(b, md + pos + 4, (size_t)len);
        pos += 4 + (size_t)len;
        memcpy(&len, md + pos, 4);
        v = tarn_fb__create_string(b, md + pos + 4, (size_t)len);
        pos += 4 + (size_t)len;
        tarn_fb__start(b);
        tarn_fb__add_ref(b, 0, k);
        tarn_fb__add_ref(b, 1, v);
        kv[i] = tarn_fb__end(b);
    }
    ref = tarn_fb__create_vec_refs(b, kv, (size_t)n);
    free(kv);
    return ref;
}

static tarn_fb_ref build_type(tarn_fb_builder *b, const tarn_arrow__type *t)
{
    tarn_fb_ref tz = 0, ids_vec = 0;
    int16_t u16 = (int16_t)t->unit;
    int32_t i32;
    int8_t i8;
    if (t->id == TARN_AT_TIMESTAMP && t->tz != NULL)
        tz = tarn_fb__create_string(b, t->tz, t->tz_len);
    if (t->id == TARN_AT_UNION) {
        int32_t ids[TARN_ARROW_UNION_MAX];
        int k;
        for (k = 0; k < t->n_ids; k++)
            ids[k] = t->ids[k];
        ids_vec = tarn_fb__create_vec(b, ids, 4, (size_t)t->n_ids, 4);
    }
    tarn_fb__start(b);
    switch (t->id) {
    case TARN_AT_INT:
        i32 = t->bits;
        i8 = (int8_t)t->is_signed;
        tarn_fb__add_scalar(b, 0, &i32, 4);
        tarn_fb__add_scalar(b, 1, &i8, 1);
        break;
    case TARN_AT_FLOAT:
    case TARN_AT_DATE:
    case TARN_AT_DURATION:
        tarn_fb__add_scalar(b, 0, &u16, 2);
        break;
    case TARN_AT_TIME:
        i32 = t->bits;
        tarn_fb__add_scalar(b, 1, &i32, 4);
        tarn_fb__add_scalar(b, 0, &u16, 2);
        break;
    case TARN_AT_TIMESTAMP:
        if (tz) tarn_fb__add_ref(b, 1, tz);
        tarn_fb__add_scalar(b, 0, &u16, 2);
        break;
    case TARN_AT_FSB:
    case TARN_AT_FSL:
        i32 = t->width;
        tarn_fb__add_scalar(b, 0, &i32, 4);
        break;
    case TARN_AT_INTERVAL:
        tarn_fb__add_scalar(b, 0, &u16, 2);
        break;
    case TARN_AT_MAP:
        i8 = (int8_t)t->unit;
        tarn_fb__add_scalar(b, 0, &i8, 1);
        break;
    case TARN_AT_UNION: /* mode (Sparse 0, Dense 1), typeIds */
        tarn_fb__add_ref(b, 1, ids_vec);
        tarn_fb__add_scalar(b, 0, &u16, 2);
        break;
    case TARN_AT_DECIMAL:
        i32 = t->precision;
        tarn_fb__add_scalar(b, 0, &i32, 4);
        i32 = t->scale;
        tarn_fb__add_scalar(b, 1, &i32, 4);
        i32 = t->bits;
        tarn_fb__add_scalar(b, 2, &i32, 4);
        break;
    default:
        break;
    }
    return tarn_fb__end(b);
}

static int build_field(tarn_fb_ref *out, tarn_fb_builder *b, const struct ArrowSchema *s,
                       int64_t *next_dict_id, int depth, tarn_error *err)
{
    const struct ArrowSchema *vs = s->dictionary ? s->dictionary : s;
    tarn_arrow__type t, it;
    tarn_fb_ref name, type, dict = 0, children, md = 0, kids_stack[16], *kids = kids_stack;
    int64_t i, dict_id = -1;
    int rc = 0;
    uint8_t type_id, nullable = (s->flags & ARROW_FLAG_NULLABLE) ? 1 : 0;

    if (depth > 64) return tarn_arrow__fail(err, TARN_EINVALID, "Arrow type nested too deeply");
    if (tarn_arrow__parse_format(&t, vs->format) < 0)
        return tarn_arrow__fail(err, TARN_EINVALID, "unsupported Arrow format '%s' for '%s'",
                                vs->format ? vs->format : "(null)", s->name ? s->name : "");
    if (s->dictionary != NULL) {
        if (tarn_arrow__parse_format(&it, s->format) < 0 || it.id != TARN_AT_INT ||
            vs->dictionary != NULL)
            return tarn_arrow__fail(err, TARN_EINVALID, "bad dictionary index type '%s'",
                                    s->format);
    }
    if (vs->n_children > 16) {
        kids = calloc((size_t)vs->n_children, sizeof(*kids));
        if (kids == NULL) return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    }
    for (i = 0; i < vs->n_children && rc == 0; i++)
        rc = build_field(&kids[i], b, vs->children[i], next_dict_id, depth + 1, err);
    if (rc < 0) goto done;
    if (s->dictionary != NULL) dict_id = (*next_dict_id)++;
    children = tarn_fb__create_vec_refs(b, kids, (size_t)vs->n_children);
    name = tarn_fb__create_string(b, s->name ? s->name : "", s->name ? strlen(s->name) : 0);
    if (s->metadata != NULL) md = build_metadata(b, s->metadata);
    if (t.id == TARN_AT_MAP) t.unit = (s->flags & ARROW_FLAG_MAP_KEYS_SORTED) ? 1 : 0;
    type = build_type(b, &t);
    /* Ids are numbered after a field's children, as plan_array does. */
    if (dict_id >= 0) {
        tarn_fb_ref idx = build_type(b, &it);
        uint8_t ordered = (s->flags & ARROW_FLAG_DICTIONARY_ORDERED) ? 1 : 0;
        tarn_fb__start(b);
        tarn_fb__add_scalar(b, 0, &dict_id, 8);
        tarn_fb__add_ref(b, 1, idx);
        tarn_fb__add_scalar(b, 2, &ordered, 1);
        dict = tarn_fb__end(b);
    }
    tarn_fb__start(b);
    tarn_fb__add_ref(b, 0, name);
    tarn_fb__add_ref(b, 3, type);
    if (dict) tarn_fb__add_ref(b, 4, dict);
    tarn_fb__add_ref(b, 5, children);
    if (md) tarn_fb__add_ref(b, 6, md);
    type_id = (uint8_t)t.id;
    tarn_fb__add_scalar(b, 1, &nullable, 1);
    tarn_fb__add_scalar(b, 2, &type_id, 1);
    *out = tarn_fb__end(b);
done:
    if (kids != kids_stack) free(kids);
    return rc;
}

/* Wrap HEADER into a Message and write metadata + body to the sink. */
static int write_message(tarn_arrow_writer *w, uint8_t header_type, tarn_fb_ref header,
                         const plan *body, int64_t body_len, tarn_error *err)
{
    tarn_fb_builder *b = &w->fb;
    const uint8_t *meta;
    size_t meta_len, i;
    int16_t version = 4; /* V5 */
    uint32_t prefix[2];
    int rc;

    tarn_fb__start(b);
    tarn_fb__add_scalar(b, 3, &body_len, 8);
    tarn_fb__add_ref(b, 2, header);
    tarn_fb__add_scalar(b, 0, &version, 2);
    tarn_fb__add_scalar(b, 1, &header_type, 1);
    if (tarn_fb__finish(b, tarn_fb__end(b), &meta, &meta_len) < 0) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory building IPC metadata");
        goto done;
    }
    prefix[0] = 0xFFFFFFFFu;
    prefix[1] = (uint32_t)pad8(meta_len);
    if ((rc = sink_put(w, prefix, 8, err)) < 0) goto done;
    if ((rc = sink_put(w, meta, meta_len, err)) < 0) goto done;
    if ((rc = sink_put(w, zeros8, pad8(meta_len) - meta_len, err)) < 0) goto done;
    for (i = 0; body != NULL && i < body->npieces; i++) {
        const piece *p = &body->pieces[i];
        uint8_t chunk[512];
        int64_t j;
        if (p->len == 0) continue;
        if (p->kind == P_COPY || (p->kind == P_BITS && p->start % 8 == 0)) {
            rc = sink_put(w, p->src + (p->kind == P_BITS ? p->start / 8 : 0), p->len, err);
            /* The bits past the slice's end in the last byte are copied as
             * they are; readers ignore them. */
        } else if ((p->kind == P_OFF32 || p->kind == P_OFF64) && p->base == 0) {
            /* offsets that already start at 0 need no rebasing */
            rc = sink_put(w, p->src + p->start * (p->kind == P_OFF64 ? 8 : 4), p->len, err);
        } else if (p->kind == P_BITS) {
            size_t n = 0;
            for (j = 0; j < (int64_t)p->len && rc == 0; j++) {
                int64_t bit = p->start + 8 * j, k;
                uint8_t v = 0;
                for (k = 0; k < 8 && 8 * j + k < p->count; k++)
                    v |= (uint8_t)(((p->src[(bit + k) >> 3] >> ((bit + k) & 7)) & 1) << k);
                chunk[n++] = v;
                if (n == sizeof(chunk)) {
                    rc = sink_put(w, chunk, n, err);
                    n = 0;
                }
            }
            if (rc == 0) rc = sink_put(w, chunk, n, err);
        } else {
            int wide = p->kind == P_OFF64;
            size_t n = 0;
            for (j = 0; j < p->count && rc == 0; j++) {
                int64_t v = rd_off(p->src, wide, p->start + j) - p->base;
                if (wide) {
                    memcpy(chunk + n, &v, 8);
                    n += 8;
                } else {
                    int32_t v32 = (int32_t)v;
                    memcpy(chunk + n, &v32, 4);
                    n += 4;
                }
                if (n == sizeof(chunk)) {
                    rc = sink_put(w, chunk, n, err);
                    n = 0;
                }
            }
            if (rc == 0) rc = sink_put(w, chunk, n, err);
        }
        if (rc == 0) rc = sink_put(w, zeros8, pad8(p->len) - p->len, err);
        if (rc < 0) goto done;
    }
    rc = 0;
done:
    return rc;
}

/* Build the RecordBatch table for PL; *body_len is the body's size. */
static tarn_fb_ref build_record_batch(tarn_fb_builder *b, const plan *pl, int64_t length,
                                      int64_t *body_len)
{
    int64_t *bufs = malloc((pl->npieces ? pl->npieces : 1) * 16);
    int64_t pos = 0;
    size_t i;
    tarn_fb_ref nodes, buffers;
    *body_len = 0;
    if (bufs == NULL) {
        b->failed = 1;
        return 0;
    }
    for (i = 0; i < pl->npieces; i++) {
        bufs[2 * i] = pos;
        bufs[2 * i + 1] = (int64_t)pl->pieces[i].len;
        pos += (int64_t)pad8(pl->pieces[i].len);
    }
    *body_len = pos;
    buffers = tarn_fb__create_vec(b, bufs, 16, pl->npieces, 8);
    nodes = tarn_fb__create_vec(b, pl->nodes, 16, pl->nnodes, 8);
    free(bufs);
    tarn_fb__start(b);
    tarn_fb__add_scalar(b, 0, &length, 8);
    tarn_fb__add_ref(b, 1, nodes);
    tarn_fb__add_ref(b, 2, buffers);
    return tarn_fb__end(b);
}

static int write_schema(tarn_arrow_writer *w, tarn_error *err)
{
    const struct ArrowSchema *s = &w->schema;
    tarn_fb_builder *b = &w->fb;
    tarn_fb_ref *fields = NULL, vec, md = 0, schema;
    int64_t i, next_dict = 0;
    int16_t endianness = 0;
    int rc = 0;

    if (s->format == NULL || strcmp(s->format, "+s") != 0) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "a record batch schema must be a struct ('+s')");
        goto done;
    }
    fields = calloc((size_t)s->n_children + 1, sizeof(*fields));
    if (fields == NULL) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    tarn_fb__reset(b);
    for (i = 0; i < s->n_children && rc == 0; i++)
        rc = build_field(&fields[i], b, s->children[i], &next_dict, 0, err);
    if (rc < 0) goto done;
    vec = tarn_fb__create_vec_refs(b, fields, (size_t)s->n_children);
    if (s->metadata != NULL) md = build_metadata(b, s->metadata);
    tarn_fb__start(b);
    tarn_fb__add_ref(b, 1, vec);
    if (md) tarn_fb__add_ref(b, 2, md);
    tarn_fb__add_scalar(b, 0, &endianness, 2);
    schema = tarn_fb__end(b);
    rc = write_message(w, TARN_MH_SCHEMA, schema, NULL, 0, err);
done:
    free(fields);
    return rc;
}

/* ---- public ---------------------------------------------------------- */

/* W's mode (and buf/cap for SINK_FIXED) are set; everything else zero. */
static int writer_init(tarn_arrow_writer *w, const struct ArrowSchema *schema, tarn_error *err)
{
    int rc = 0;
    tarn_fb__init(&w->fb);
    if (schema == NULL || schema->release == NULL) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "no Arrow schema (NULL or released)");
        goto done;
    }
    if (tarn_arrow__schema_copy(&w->schema, schema) < 0) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory copying the schema");
        goto done;
    }
    rc = write_schema(w, err);
done:
    return rc;
}

static void writer_clear(tarn_arrow_writer *w)
{
    if (w->schema.release) w->schema.release(&w->schema);
    tarn_fb__free(&w->fb);
    plan_free(&w->main);
    plan_free(&w->dict);
    if (w->mode == SINK_GROW) free(w->buf);
}

int tarn_arrow_writer_write(tarn_arrow_writer *w, const struct ArrowArray *batch, tarn_error *err)
{
    int64_t body_len;
    size_t i;
    int rc = 0;
    tarn_fb_ref rb;

    if (w == NULL || w->finished)
        return tarn_arrow__fail(err, TARN_EINVALID, "IPC writer is finished");
    if (batch == NULL || batch->release == NULL)
        return tarn_arrow__fail(err, TARN_EINVALID, "no Arrow batch (NULL or released)");
    if (batch->length < 0 || batch->length > INT32_MAX)
        return tarn_arrow__fail(err, TARN_EINVALID, "bad batch length %lld",
                                (long long)batch->length);
    plan_reset(&w->main);
    if (batch->n_children != w->schema.n_children)
        return tarn_arrow__fail(err, TARN_EINVALID, "batch has %lld columns, schema %lld",
                                (long long)batch->n_children, (long long)w->schema.n_children);
    for (i = 0; i < (size_t)batch->n_children && rc == 0; i++)
        rc = plan_array(&w->main, w->schema.children[i], batch->children[i], batch->offset,
                        batch->length, 0, err);
    if (rc < 0) goto done;

    /* Every dictionary is sent whole before the batch that uses it
     * (dictionary replacement, allowed in the stream format). */
    for (i = 0; i < w->main.ndicts; i++) {
        const dict_ref *d = &w->main.dicts[i];
        tarn_fb_ref data, db;
        uint8_t delta = 0;
        plan_reset(&w->dict);
        rc = plan_array(&w->dict, d->schema, d->array, 0, d->array->length, 0, err);
        if (rc < 0) goto done;
        if (w->dict.ndicts != 0) {
            rc = tarn_arrow__fail(err, TARN_EINVALID, "nested dictionaries are not supported");
            goto done;
        }
        tarn_fb__reset(&w->fb);
        data = build_record_batch(&w->fb, &w->dict, d->array->length, &body_len);
        tarn_fb__start(&w->fb);
        tarn_fb__add_scalar(&w->fb, 0, &d->id, 8);
        tarn_fb__add_ref(&w->fb, 1, data);
        tarn_fb__add_scalar(&w->fb, 2, &delta, 1);
        db = tarn_fb__end(&w->fb);
        rc = write_message(w, TARN_MH_DICTIONARY, db, &w->dict, body_len, err);
        if (rc < 0) goto done;
    }
    tarn_fb__reset(&w->fb);
    rb = build_record_batch(&w->fb, &w->main, batch->length, &body_len);
    rc = write_message(w, TARN_MH_RECORD_BATCH, rb, &w->main, body_len, err);
done:
    return rc;
}

static int writer_end(tarn_arrow_writer *w, tarn_error *err)
{
    static const uint32_t eos[2] = {0xFFFFFFFFu, 0};
    int rc = 0;
    if (!w->finished) {
        rc = sink_put(w, eos, 8, err);
        if (rc == 0) w->finished = 1;
    }
    return rc;
}

int tarn_arrow_writer_new(tarn_arrow_writer **out, const struct ArrowSchema *schema,
                          tarn_error *err)
{
    tarn_arrow_writer *w = calloc(1, sizeof(*w));
    int rc;
    *out = NULL;
    if (w == NULL) return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    w->mode = SINK_GROW;
    rc = writer_init(w, schema, err);
    if (rc < 0) {
        writer_clear(w);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int tarn_arrow_writer_finish(tarn_arrow_writer *w, const uint8_t **data, size_t *size,
                             tarn_error *err)
{
    int rc = writer_end(w, err);
    *data = rc == 0 ? w->buf : NULL;
    *size = rc == 0 ? w->len : 0;
    return rc;
}

int tarn_arrow_writer_take(tarn_arrow_writer *w, uint8_t **data, size_t *size, tarn_error *err)
{
    int rc = writer_end(w, err);
    *data = NULL;
    *size = 0;
    if (rc == 0) {
        *data = w->buf;
        *size = w->len;
        w->buf = NULL;
        w->len = w->cap = 0;
    }
    return rc;
}

int tarn_arrow_writer_end(tarn_arrow_writer *w, tarn_error *err)
{
    return writer_end(w, err);
}

void tarn_arrow_writer_drain(tarn_arrow_writer *w, const uint8_t **data, size_t *size)
{
    /* Every message is a multiple of 8 bytes long, so restarting the
     * buffer keeps the next one's alignment; the lent bytes stay intact
     * until the next write appends over them. */
    *data = w->buf;
    *size = w->len;
    w->len = 0;
}

void tarn_arrow_writer_free(tarn_arrow_writer **w)
{
    if (w == NULL || *w == NULL) return;
    writer_clear(*w);
    free(*w);
    *w = NULL;
}

/* One-shot encode through W, whose sink is already chosen. */
static int encode(tarn_arrow_writer *w, const struct ArrowSchema *schema,
                  const struct ArrowArray *const *batches, size_t n, tarn_error *err)
{
    size_t i;
    int rc = writer_init(w, schema, err);
    for (i = 0; i < n && rc == 0; i++)
        rc = tarn_arrow_writer_write(w, batches[i], err);
    if (rc == 0) rc = writer_end(w, err);
    return rc;
}

int tarn_arrow_ipc_size(size_t *out, const struct ArrowSchema *schema,
                        const struct ArrowArray *const *batches, size_t n, tarn_error *err)
{
    tarn_arrow_writer w;
    int rc;
    memset(&w, 0, sizeof(w));
    w.mode = SINK_COUNT;
    rc = encode(&w, schema, batches, n, err);
    *out = rc == 0 ? w.len : 0;
    writer_clear(&w);
    return rc;
}

int tarn_arrow_ipc_encode(size_t *written, void *buf, size_t cap, const struct ArrowSchema *schema,
                          const struct ArrowArray *const *batches, size_t n, tarn_error *err)
{
    tarn_arrow_writer w;
    int rc;
    memset(&w, 0, sizeof(w));
    w.mode = SINK_FIXED;
    w.buf = buf;
    w.cap = cap;
    rc = encode(&w, schema, batches, n, err);
    *written = rc == 0 ? w.len : 0;
    writer_clear(&w);
    return rc;
}
