/* arrow/flatbuf.c — FlatBuffers reader and builder for Arrow IPC metadata.
 *
 * Reader: a table is a soffset to its vtable (u16 vtable size, u16 table
 * size, u16 field offsets); reference fields are u32 offsets forward from
 * where they are stored. Every access is range-checked against the buffer.
 * Builder: the buffer is filled from its end, so children are written before
 * the parents that point at them, as FlatBuffers requires. */
#include "arrow/flatbuf.h"

#include <stdlib.h>
#include <string.h>

/* ---- reader ---------------------------------------------------------- */

static uint32_t rd_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int table_at(tarn_fb_table *out, const uint8_t *buf, size_t size, size_t pos)
{
    int32_t soff;
    int64_t vt;
    uint16_t vts, ts;
    int rc = -1;

    if (pos > size || size - pos < 4) goto done;
    memcpy(&soff, buf + pos, 4);
    vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || (uint64_t)vt > size || size - (size_t)vt < 4) goto done;
    memcpy(&vts, buf + vt, 2);
    memcpy(&ts, buf + vt + 2, 2);
    if (vts < 4 || (vts & 1) || size - (size_t)vt < vts) goto done;
    if (ts < 4 || size - pos < ts) goto done;
    out->buf = buf;
    out->size = size;
    out->pos = pos;
    out->vt = (size_t)vt;
    out->vt_size = vts;
    out->tsize = ts;
    rc = 0;
done:
    return rc;
}

int tarn_fb__root(tarn_fb_table *out, const uint8_t *buf, size_t size)
{
    if (size < 4) return -1;
    return table_at(out, buf, size, rd_u32(buf));
}

/* Offset of field ID inside the table, 0 if absent, -1 if it overruns. */
static int field_off(const tarn_fb_table *t, int id, size_t width)
{
    uint16_t o;
    size_t slot = 4 + 2 * (size_t)id;
    if (t->buf == NULL || slot + 2 > t->vt_size) return 0;
    memcpy(&o, t->buf + t->vt + slot, 2);
    if (o == 0) return 0;
    if ((size_t)o + width > t->tsize) return -1;
    return o;
}

int tarn_fb__has(const tarn_fb_table *t, int id)
{
    return field_off(t, id, 1) > 0;
}

int tarn_fb__scalar(const tarn_fb_table *t, int id, void *out, size_t width)
{
    int o = field_off(t, id, width);
    if (o <= 0) return o;
    memcpy(out, t->buf + t->pos + (size_t)o, width);
    return 1;
}

#define FB_GETTER(name, type)                                                                      \
    int tarn_fb__##name(const tarn_fb_table *t, int id, type def, type *out)                       \
    {                                                                                              \
        *out = def;                                                                                \
        return tarn_fb__scalar(t, id, out, sizeof(type)) < 0 ? -1 : 0;                             \
    }
FB_GETTER(i8, int8_t)
FB_GETTER(i16, int16_t)
FB_GETTER(i32, int32_t)
FB_GETTER(i64, int64_t)

/* Follow the u32 reference stored at absolute position AT. */
static int deref(size_t *target, const uint8_t *buf, size_t size, size_t at)
{
    uint32_t off;
    if (at > size || size - at < 4) return -1;
    off = rd_u32(buf + at);
    if (off == 0 || (uint64_t)at + off >= size) return -1;
    *target = at + off;
    return 0;
}

int tarn_fb__table(tarn_fb_table *out, const tarn_fb_table *t, int id)
{
    size_t target;
    int o = field_off(t, id, 4);
    memset(out, 0, sizeof(*out));
    if (o <= 0) return o;
    if (deref(&target, t->buf, t->size, t->pos + (size_t)o) < 0) return -1;
    if (table_at(out, t->buf, t->size, target) < 0) return -1;
    return 1;
}

static int vec_at(tarn_fb_vec *out, const uint8_t *buf, size_t size, size_t at, size_t elem)
{
    size_t target;
    uint32_t len;
    if (deref(&target, buf, size, at) < 0) return -1;
    if (size - target < 4) return -1;
    len = rd_u32(buf + target);
    if ((uint64_t)len * elem > size - target - 4) return -1;
    out->buf = buf;
    out->size = size;
    out->pos = target + 4;
    out->len = len;
    return 1;
}

int tarn_fb__vector(tarn_fb_vec *out, const tarn_fb_table *t, int id, size_t elem_size)
{
    int o = field_off(t, id, 4);
    memset(out, 0, sizeof(*out));
    if (o <= 0) return o;
    return vec_at(out, t->buf, t->size, t->pos + (size_t)o, elem_size);
}

int tarn_fb__string(const char **s, uint32_t *len, const tarn_fb_table *t, int id)
{
    tarn_fb_vec v;
    int rc = tarn_fb__vector(&v, t, id, 1);
    *s = NULL;
    *len = 0;
    if (rc <= 0) return rc;
    *s = (const char *)v.buf + v.pos;
    *len = v.len;
    return 1;
}

int tarn_fb__vec_table(tarn_fb_table *out, const tarn_fb_vec *v, uint32_t i)
{
    size_t target;
    if (i >= v->len) return -1;
    if (deref(&target, v->buf, v->size, v->pos + 4 * (size_t)i) < 0) return -1;
    return table_at(out, v->buf, v->size, target);
}

int tarn_fb__vec_string(const char **s, uint32_t *len, const tarn_fb_vec *v, uint32_t i)
{
    tarn_fb_vec sv;
    if (i >= v->len) return -1;
    if (vec_at(&sv, v->buf, v->size, v->pos + 4 * (size_t)i, 1) < 0) return -1;
    *s = (const char *)sv.buf + sv.pos;
    *len = sv.len;
    return 0;
}

/* ---- builder --------------------------------------------------------- */

void tarn_fb__init(tarn_fb_builder *b)
{
    memset(b, 0, sizeof(*b));
}

void tarn_fb__free(tarn_fb_builder *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

void tarn_fb__reset(tarn_fb_builder *b)
{
    b->used = 0;
    b->failed = 0;
    b->nfields = 0;
}

/* Make room for N more bytes at the front; data stays at the end. */
static int reserve(tarn_fb_builder *b, size_t n)
{
    size_t ncap;
    uint8_t *nb;
    if (b->failed) return -1;
    if (b->cap - b->used >= n) return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap - b->used < n)
        ncap *= 2;
    nb = malloc(ncap);
    if (nb == NULL) {
        b->failed = 1;
        return -1;
    }
    if (b->used) memcpy(nb + ncap - b->used, b->buf + b->cap - b->used, b->used);
    free(b->buf);
    b->buf = nb;
    b->cap = ncap;
    return 0;
}

static void pad_to(tarn_fb_builder *b, size_t extra, size_t align)
{
    size_t pad = (align - ((b->used + extra) % align)) % align;
    if (reserve(b, pad + extra) < 0) return;
    memset(b->buf + b->cap - b->used - pad, 0, pad);
    b->used += pad;
}

static void push(tarn_fb_builder *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0) return;
    b->used += n;
    memcpy(b->buf + b->cap - b->used, p, n);
}

tarn_fb_ref tarn_fb__create_string(tarn_fb_builder *b, const char *s, size_t len)
{
    uint32_t l = (uint32_t)len;
    uint8_t zero = 0;
    pad_to(b, len + 1 + 4, 4);
    push(b, &zero, 1);
    push(b, s, len);
    push(b, &l, 4);
    return (tarn_fb_ref)b->used;
}

tarn_fb_ref tarn_fb__create_vec(tarn_fb_builder *b, const void *data, size_t elem, size_t n,
                                size_t align)
{
    uint32_t l = (uint32_t)n;
    /* The elements must be aligned to ALIGN and the length prefix to 4. */
    pad_to(b, elem * n, align < 4 ? 4 : align);
    if (elem * n != 0) push(b, data, elem * n);
    pad_to(b, 4, 4);
    push(b, &l, 4);
    return (tarn_fb_ref)b->used;
}

tarn_fb_ref tarn_fb__create_vec_refs(tarn_fb_builder *b, const tarn_fb_ref *refs, size_t n)
{
    uint32_t l = (uint32_t)n;
    size_t i;
    pad_to(b, 4 * n + 4, 4);
    for (i = n; i-- > 0;) {
        uint32_t off = (uint32_t)(b->used + 4 - refs[i]);
        push(b, &off, 4);
    }
    push(b, &l, 4);
    return (tarn_fb_ref)b->used;
}

void tarn_fb__start(tarn_fb_builder *b)
{
    b->table_end = b->used;
    b->nfields = 0;
    memset(b->fields, 0, sizeof(b->fields));
}

static void note_field(tarn_fb_builder *b, int id)
{
    if (id < 0 || id >= TARN_FB_MAX_FIELDS) {
        b->failed = 1;
        return;
    }
    b->fields[id] = (tarn_fb_ref)b->used;
    if (id + 1 > b->nfields) b->nfields = id + 1;
}

void tarn_fb__add_scalar(tarn_fb_builder *b, int id, const void *v, size_t width)
{
    pad_to(b, width, width);
    push(b, v, width);
    note_field(b, id);
}

void tarn_fb__add_ref(tarn_fb_builder *b, int id, tarn_fb_ref ref)
{
    uint32_t off;
    pad_to(b, 4, 4);
    off = (uint32_t)(b->used + 4 - ref);
    push(b, &off, 4);
    note_field(b, id);
}

tarn_fb_ref tarn_fb__end(tarn_fb_builder *b)
{
    int32_t soff = 0;
    size_t tpos, i;
    uint16_t vt[2 + TARN_FB_MAX_FIELDS];

    pad_to(b, 4, 4);
    push(b, &soff, 4);
    tpos = b->used;
    vt[0] = (uint16_t)(4 + 2 * b->nfields);
    vt[1] = (uint16_t)(tpos - b->table_end);
    for (i = 0; i < (size_t)b->nfields; i++)
        vt[2 + i] = b->fields[i] ? (uint16_t)(tpos - b->fields[i]) : 0;
    push(b, vt, vt[0]);
    if (!b->failed) {
        soff = (int32_t)(b->used - tpos);
        memcpy(b->buf + b->cap - tpos, &soff, 4);
    }
    return (tarn_fb_ref)tpos;
}

int tarn_fb__finish(tarn_fb_builder *b, tarn_fb_ref root, const uint8_t **data, size_t *size)
{
    uint32_t off;
    pad_to(b, 4, 8);
    off = (uint32_t)(b->used + 4 - root);
    push(b, &off, 4);
    if (b->failed) return -1;
    *data = b->buf + b->cap - b->used;
    *size = b->used;
    return 0;
}
