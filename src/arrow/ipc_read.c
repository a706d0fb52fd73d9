/* arrow/ipc_read.c — the Arrow IPC stream decoder, zero-copy and defensive.
 *
 * tarn_arrow_ipc_decode walks every message of the stream once: the Schema
 * becomes an ArrowSchema template plus an internal field tree (tarn_arrow__field);
 * each DictionaryBatch and RecordBatch becomes a template ArrowArray tree
 * whose buffers point into the caller's bytes. Everything a consumer could
 * trip on is checked here: flatbuffer offsets (flatbuf.c), message framing,
 * buffer ranges inside the body, alignment, offsets (monotonic, inside the
 * data or the child), lengths, null counts against the validity bitmaps and
 * dictionary indices against the dictionary's length, UTF-8 of utf8 values.
 * What the table does with the templates afterwards is table.c's. */
#include "arrow/flatbuf.h"
#include "arrow/table.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_FIELDS 10000
#define MAX_SCHEMA_BYTES (16u << 20)
#define MAX_LENGTH INT32_MAX

/* ---- schema ---------------------------------------------------------- */

/* Limits shared by the whole schema (a hostile one can reuse a table). */
typedef struct sctx {
    int nfields;
    size_t bytes;
    tarn_error *err;
} sctx;

static int bad(tarn_error *err, const char *what)
{
    return tarn_arrow__fail(err, TARN_EINVALID, "invalid Arrow IPC stream: %s", what);
}

static int valid_unit(int u)
{
    return u >= 0 && u <= 3;
}

/* Read the Type table of union id TYPE_ID into T (layout via the format). */
static int parse_type(tarn_arrow__type *t, char **fmt, int type_id, const tarn_fb_table *tt,
                      uint32_t nkids, tarn_error *err)
{
    tarn_fb_vec ids;
    uint32_t k;
    int has_ids;
    int16_t u16 = 0;
    int32_t a = 0, b = 0, c = 0;
    int8_t sig = 0;
    const char *tz = NULL;
    uint32_t tz_len = 0;
    tarn_arrow__type p;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    p.id = type_id;
    *fmt = NULL;
    switch (type_id) {
    case TARN_AT_NULL:
    case TARN_AT_BINARY:
    case TARN_AT_UTF8:
    case TARN_AT_BOOL:
    case TARN_AT_LIST:
    case TARN_AT_STRUCT:
    case TARN_AT_LARGE_BINARY:
    case TARN_AT_LARGE_UTF8:
    case TARN_AT_LARGE_LIST:
        break;
    case TARN_AT_INT:
        if (tarn_fb__i32(tt, 0, 0, &a) < 0 || tarn_fb__i8(tt, 1, 0, &sig) < 0) goto malformed;
        if (a != 8 && a != 16 && a != 32 && a != 64) goto unsupported;
        p.bits = a;
        p.is_signed = sig != 0;
        break;
    case TARN_AT_FLOAT:
        if (tarn_fb__i16(tt, 0, 0, &u16) < 0) goto malformed;
        if (u16 < 0 || u16 > 2) goto unsupported;
        p.unit = u16;
        break;
    case TARN_AT_DECIMAL:
        if (tarn_fb__i32(tt, 0, 0, &a) < 0 || tarn_fb__i32(tt, 1, 0, &b) < 0 ||
            tarn_fb__i32(tt, 2, 128, &c) < 0)
            goto malformed;
        if (c != 128 || a < 1 || a > 38 || b < -38 || b > 38) goto unsupported;
        p.precision = a;
        p.scale = b;
        break;
    case TARN_AT_DATE:
        if (tarn_fb__i16(tt, 0, 1, &u16) < 0) goto malformed;
        if (u16 != 0 && u16 != 1) goto unsupported;
        p.unit = u16;
        break;
    case TARN_AT_TIME:
        if (tarn_fb__i16(tt, 0, 1, &u16) < 0 || tarn_fb__i32(tt, 1, 32, &a) < 0) goto malformed;
        if (!valid_unit(u16) || a != (u16 < 2 ? 32 : 64)) goto unsupported;
        p.unit = u16;
        break;
    case TARN_AT_TIMESTAMP:
        if (tarn_fb__i16(tt, 0, 0, &u16) < 0 || tarn_fb__string(&tz, &tz_len, tt, 1) < 0)
            goto malformed;
        if (!valid_unit(u16) || tz_len > 256 || (tz && memchr(tz, 0, tz_len))) goto unsupported;
        p.unit = u16;
        p.tz = tz;
        p.tz_len = tz_len;
        break;
    case TARN_AT_DURATION:
        if (tarn_fb__i16(tt, 0, 1, &u16) < 0) goto malformed;
        if (!valid_unit(u16)) goto unsupported;
        p.unit = u16;
        break;
    case TARN_AT_FSB:
        if (tarn_fb__i32(tt, 0, 0, &a) < 0) goto malformed;
        if (a < 1 || a > (1 << 20)) goto unsupported;
        p.width = a;
        break;
    case TARN_AT_FSL:
        if (tarn_fb__i32(tt, 0, 0, &a) < 0) goto malformed;
        if (a < 0 || a > (1 << 20)) goto unsupported;
        p.width = a;
        break;
    case TARN_AT_INTERVAL:
        if (tarn_fb__i16(tt, 0, 0, &u16) < 0) goto malformed;
        if (u16 < 0 || u16 > 2) goto unsupported;
        p.unit = u16;
        break;
    case TARN_AT_MAP:
        if (tarn_fb__i8(tt, 0, 0, &sig) < 0) goto malformed;
        p.unit = sig != 0;
        break;
    case TARN_AT_UNION: /* mode: 0 sparse, 1 dense; typeIds: one per child (default 0..n-1) */
        if (tarn_fb__i16(tt, 0, 0, &u16) < 0 || (has_ids = tarn_fb__vector(&ids, tt, 1, 4)) < 0)
            goto malformed;
        if ((u16 != 0 && u16 != 1) || nkids > TARN_ARROW_UNION_MAX || (has_ids && ids.len != nkids))
            goto unsupported;
        p.unit = u16;
        p.n_ids = (int)nkids;
        for (k = 0; k < nkids; k++) {
            int32_t id = (int32_t)k;
            if (has_ids) memcpy(&id, ids.buf + ids.pos + 4 * (size_t)k, 4);
            if (id < 0 || id >= TARN_ARROW_UNION_MAX) goto unsupported;
            p.ids[k] = (int8_t)id;
        }
        break;
    default:
        goto unsupported;
    }
    /* room for a timezone or for a union's type ids */
    *fmt = malloc(tz_len + 32 + 4 * TARN_ARROW_UNION_MAX);
    if (*fmt == NULL) return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    if (tarn_arrow__format(*fmt, tz_len + 32 + 4 * TARN_ARROW_UNION_MAX, &p) < 0 ||
        tarn_arrow__parse_format(t, *fmt) < 0)
        goto unsupported;
    t->tz = NULL;
    t->tz_len = 0;
    if (type_id == TARN_AT_MAP) t->unit = p.unit; /* keys sorted: not in the format */
    goto done;
malformed:
    rc = bad(err, "malformed type table");
    goto done;
unsupported:
    rc = tarn_arrow__fail(err, TARN_EINVALID, "unsupported Arrow type (type id %d)", type_id);
done:
    if (rc < 0) {
        free(*fmt);
        *fmt = NULL;
    }
    return rc;
}

/* custom_metadata [KeyValue] -> ArrowSchema.metadata blob (*md NULL if none). */
static int parse_metadata(char **md, size_t *md_len, const tarn_fb_table *ft, int id, sctx *c)
{
    tarn_fb_vec v;
    size_t total = 4, pos;
    uint32_t i, n;
    int rc = tarn_fb__vector(&v, ft, id, 4);
    *md = NULL;
    *md_len = 0;
    if (rc < 0) {
        rc = bad(c->err, "malformed custom_metadata");
        goto done;
    }
    if (rc == 0 || v.len == 0) {
        rc = 0;
        goto done;
    }
    for (i = 0; i < v.len; i++) {
        tarn_fb_table kv;
        const char *k, *val;
        uint32_t kl, vl;
        if (tarn_fb__vec_table(&kv, &v, i) < 0 || tarn_fb__string(&k, &kl, &kv, 0) < 0 ||
            tarn_fb__string(&val, &vl, &kv, 1) < 0) {
            rc = bad(c->err, "malformed custom_metadata");
            goto done;
        }
        total += 8 + (size_t)kl + vl;
        if (total > MAX_SCHEMA_BYTES) {
            rc = bad(c->err, "schema metadata too large");
            goto done;
        }
    }
    c->bytes += total;
    if (c->bytes > MAX_SCHEMA_BYTES) {
        rc = bad(c->err, "schema too large");
        goto done;
    }
    *md = malloc(total);
    if (*md == NULL) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    n = v.len;
    memcpy(*md, &n, 4);
    pos = 4;
    for (i = 0; i < v.len; i++) {
        tarn_fb_table kv;
        const char *s[2];
        uint32_t l[2];
        int k;
        tarn_fb__vec_table(&kv, &v, i);
        tarn_fb__string(&s[0], &l[0], &kv, 0);
        tarn_fb__string(&s[1], &l[1], &kv, 1);
        for (k = 0; k < 2; k++) {
            int32_t len = (int32_t)l[k];
            memcpy(*md + pos, &len, 4);
            if (l[k]) memcpy(*md + pos + 4, s[k], l[k]);
            pos += 4 + l[k];
        }
    }
    *md_len = total;
    rc = 0;
done:
    return rc;
}

static int parse_field(tarn_arrow__field *rf, struct ArrowSchema *out, const tarn_fb_table *ft,
                       int depth, sctx *c);

static int parse_children(tarn_arrow__field *rf, struct ArrowSchema *s, const tarn_fb_vec *kids,
                          int depth, sctx *c)
{
    uint32_t i;
    int rc = 0;
    if (kids->len == 0) {
        rc = 0;
        goto done;
    }
    rf->children = calloc(kids->len, sizeof(tarn_arrow__field));
    if (rf->children == NULL) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rf->n_children = kids->len;
    for (i = 0; i < kids->len && rc == 0; i++) {
        tarn_fb_table ct;
        if (tarn_fb__vec_table(&ct, kids, i) < 0) {
            rc = bad(c->err, "malformed child field");
            goto done;
        }
        rc = parse_field(&rf->children[i], s->children[i], &ct, depth + 1, c);
    }
done:
    return rc;
}

static int parse_field(tarn_arrow__field *rf, struct ArrowSchema *out, const tarn_fb_table *ft,
                       int depth, sctx *c)
{
    const char *name;
    uint32_t name_len;
    int8_t nullable = 0, ordered = 0;
    uint8_t type_id = 0;
    tarn_fb_table tt, dt, it;
    tarn_fb_vec kids;
    char *fmt = NULL, *ifmt = NULL, *md = NULL;
    size_t md_len;
    struct ArrowSchema *vs;
    int rc = 0, has_dict;

    memset(out, 0, sizeof(*out));
    if (depth > MAX_DEPTH) return bad(c->err, "fields nested too deeply");
    if (++c->nfields > MAX_FIELDS) return bad(c->err, "too many fields");
    if (tarn_fb__string(&name, &name_len, ft, 0) < 0 || tarn_fb__i8(ft, 1, 0, &nullable) < 0 ||
        tarn_fb__scalar(ft, 2, &type_id, 1) < 0 || tarn_fb__table(&tt, ft, 3) <= 0 ||
        (has_dict = tarn_fb__table(&dt, ft, 4)) < 0 || tarn_fb__vector(&kids, ft, 5, 4) < 0)
        return bad(c->err, "malformed field");
    c->bytes += name_len + 64;
    if (c->bytes > MAX_SCHEMA_BYTES) return bad(c->err, "schema too large");
    if (kids.len > (uint32_t)MAX_FIELDS) {
        rc = bad(c->err, "too many fields");
        goto done;
    }
    if ((rc = parse_type(&rf->type, &fmt, type_id, &tt, kids.len, c->err)) < 0) goto done;
    if ((rf->type.layout == TARN_LAYOUT_LIST32 || rf->type.layout == TARN_LAYOUT_LIST64 ||
         rf->type.layout == TARN_LAYOUT_FSL)
            ? kids.len != 1
        : tarn_arrow__is_union(rf->type.layout)
            ? kids.len != (uint32_t)rf->type.n_ids
            : (rf->type.layout != TARN_LAYOUT_STRUCT && kids.len != 0)) {
        rc = bad(c->err, "wrong number of children for the field's type");
        goto done;
    }
    if ((rc = parse_metadata(&md, &md_len, ft, 6, c)) < 0) goto done;
    if (has_dict) {
        int32_t bits = 32;
        int8_t sig = 1;
        int hi;
        rf->is_dict = 1;
        if (tarn_fb__i64(&dt, 0, 0, &rf->dict_id) < 0 || (hi = tarn_fb__table(&it, &dt, 1)) < 0 ||
            tarn_fb__i8(&dt, 2, 0, &ordered) < 0 ||
            (hi && (tarn_fb__i32(&it, 0, 0, &bits) < 0 || tarn_fb__i8(&it, 1, 0, &sig) < 0))) {
            rc = bad(c->err, "malformed dictionary encoding");
            goto done;
        }
        if (bits != 8 && bits != 16 && bits != 32 && bits != 64) {
            rc = bad(c->err, "bad dictionary index width");
            goto done;
        }
        memset(&rf->index, 0, sizeof(rf->index));
        rf->index.id = TARN_AT_INT;
        rf->index.layout = TARN_LAYOUT_FIXED;
        rf->index.bits = bits;
        rf->index.width = bits / 8;
        rf->index.is_signed = sig != 0;
        ifmt = malloc(8);
        if (ifmt == NULL || tarn_arrow__format(ifmt, 8, &rf->index) < 0) {
            rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (tarn_arrow__schema_init(out, has_dict ? ifmt : fmt, name, name_len, md, md_len,
                                has_dict ? 0 : kids.len) < 0) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    out->flags = (nullable ? ARROW_FLAG_NULLABLE : 0) |
                 (has_dict && ordered ? ARROW_FLAG_DICTIONARY_ORDERED : 0);
    vs = out;
    if (has_dict) {
        vs = calloc(1, sizeof(*vs));
        if (vs == NULL || tarn_arrow__schema_init(vs, fmt, "", 0, NULL, 0, kids.len) < 0) {
            free(vs);
            rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
            goto done;
        }
        out->dictionary = vs;
    }
    if (rf->type.id == TARN_AT_MAP) out->flags |= rf->type.unit ? ARROW_FLAG_MAP_KEYS_SORTED : 0;
    rc = parse_children(rf, vs, &kids, depth, c);
    /* a map's one child is a struct of key and value */
    if (rc == 0 && rf->type.id == TARN_AT_MAP &&
        (rf->children[0].type.id != TARN_AT_STRUCT || rf->children[0].n_children != 2 ||
         rf->children[0].is_dict))
        rc = bad(c->err, "a map's child must be a struct of key and value");
done:
    free(fmt);
    free(ifmt);
    free(md);
    return rc;
}

static int collect_dicts(tarn_arrow_table *t, tarn_arrow__field *f, tarn_error *err)
{
    int64_t i;
    size_t k;
    int rc = 0;
    for (i = 0; i < f->n_children && rc == 0; i++)
        rc = collect_dicts(t, &f->children[i], err);
    if (rc < 0 || !f->is_dict) goto done;
    for (k = 0; k < t->ndicts; k++)
        if (t->dicts[k].id == f->dict_id) {
            rc = bad(err, "duplicate dictionary id");
            goto done;
        }
    t->dicts[t->ndicts].id = f->dict_id;
    t->dicts[t->ndicts].field = f;
    t->dicts[t->ndicts].current = NULL;
    t->ndicts++;
    rc = 0;
done:
    return rc;
}

static int parse_schema(tarn_arrow_table *t, const tarn_fb_table *st, tarn_error *err)
{
    tarn_fb_vec fields;
    int16_t endianness = 0;
    char *md = NULL;
    size_t md_len = 0;
    sctx c = {0, 0, err};
    int rc = 0;

    if (tarn_fb__i16(st, 0, 0, &endianness) < 0 || tarn_fb__vector(&fields, st, 1, 4) < 0) {
        rc = bad(err, "malformed Schema");
        goto done;
    }
    if (endianness != 0) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "big-endian Arrow IPC is not supported");
        goto done;
    }
    if (fields.len > MAX_FIELDS) {
        rc = bad(err, "too many fields");
        goto done;
    }
    if ((rc = parse_metadata(&md, &md_len, st, 2, &c)) < 0) goto done;
    if (tarn_arrow__schema_init(&t->schema, "+s", "", 0, md, md_len, fields.len) < 0) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    t->root.type.id = TARN_AT_STRUCT;
    t->root.type.layout = TARN_LAYOUT_STRUCT;
    if ((rc = parse_children(&t->root, &t->schema, &fields, 0, &c)) < 0) goto done;
    t->dicts = calloc((size_t)c.nfields + 1, sizeof(tarn_arrow__dict));
    if (t->dicts == NULL) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rc = collect_dicts(t, &t->root, err);
done:
    free(md);
    return rc;
}

/* ---- record batches -------------------------------------------------- */

typedef struct dctx {
    tarn_arrow_table *t;
    tarn_fb_vec nodes, buffers;
    uint32_t node_i, buf_i;
    const uint8_t *body;
    int64_t body_len;
    tarn_error *err;
} dctx;

static int take_buffer(const uint8_t **ptr, int64_t *len, dctx *c, size_t align)
{
    int rc = 0;
    int64_t v[2];
    *ptr = (const uint8_t *)tarn_arrow__zeros;
    *len = 0;
    if (c->buf_i >= c->buffers.len) {
        rc = bad(c->err, "fewer buffers than the schema needs");
        goto done;
    }
    memcpy(v, c->buffers.buf + c->buffers.pos + 16 * (size_t)c->buf_i++, 16);
    if (v[0] < 0 || v[1] < 0 || v[0] > c->body_len || v[1] > c->body_len - v[0]) {
        rc = bad(c->err, "buffer outside the message body");
        goto done;
    }
    *ptr = v[1] ? c->body + v[0] : (const uint8_t *)tarn_arrow__zeros;
    *len = v[1];
    if (((uintptr_t)*ptr) % align != 0) {
        rc = bad(c->err, "misaligned buffer");
        goto done;
    }
    rc = 0;
done:
    return rc;
}

static int64_t count_set(const uint8_t *bits, int64_t n)
{
    int64_t i, set = 0;
    for (i = 0; i < n / 8; i++)
        set += __builtin_popcount(bits[i]);
    for (i = (n / 8) * 8; i < n; i++)
        set += (bits[i >> 3] >> (i & 7)) & 1;
    return set;
}

static int64_t rd_off(const uint8_t *p, int wide, int64_t i)
{
    if (wide) {
        int64_t v;
        memcpy(&v, p + 8 * i, 8);
        return v;
    }
    int32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

static int64_t rd_index(const uint8_t *p, const tarn_arrow__type *t, int64_t i)
{
    switch (t->width) {
    case 1:
        return t->is_signed ? (int64_t)(int8_t)p[i] : (int64_t)p[i];
    case 2: {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        return t->is_signed ? (int64_t)(int16_t)v : (int64_t)v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        return t->is_signed ? (int64_t)(int32_t)v : (int64_t)v;
    }
    default: {
        int64_t v;
        memcpy(&v, p + 8 * i, 8);
        return v; /* uint64 above INT64_MAX reads negative: rejected */
    }
    }
}

/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t k, len;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            len = 2;
        else if (b >= 0xE0 && b <= 0xEF)
            len = 3;
        else if (b >= 0xF0 && b <= 0xF4)
            len = 4;
        else
            return 0;
        if (n - i < len) return 0;
        if (b == 0xE0)
            lo = 0xA0; /* overlong */
        else if (b == 0xED)
            hi = 0x9F; /* surrogates */
        else if (b == 0xF0)
            lo = 0x90; /* overlong */
        else if (b == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

/* All of S[0..n) is ASCII: then every value cut from it is valid UTF-8.
 * Eight bytes at a time: a handoff of millions of short strings stays a
 * matter of milliseconds. */
static int all_ascii(const uint8_t *s, size_t n)
{
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= s[i];
    return (acc & 0x8080808080808080ULL) == 0;
}

/* Offsets never decrease (one loop per width, no per-element dispatch). */
static int offsets_monotonic(const uint8_t *p, int wide, int64_t length)
{
    if (wide) {
        int64_t prev, cur;
        memcpy(&prev, p, 8);
        for (int64_t i = 1; i <= length; i++) {
            memcpy(&cur, p + 8 * i, 8);
            if (cur < prev) return 0;
            prev = cur;
        }
    } else {
        int32_t prev, cur;
        memcpy(&prev, p, 4);
        for (int64_t i = 1; i <= length; i++) {
            memcpy(&cur, p + 4 * i, 4);
            if (cur < prev) return 0;
            prev = cur;
        }
    }
    return 1;
}

static size_t fixed_align(int width)
{
    return (width == 2 || width == 4 || width == 8) ? (size_t)width : width == 16 ? 8 : 1;
}

static int decode_array(struct ArrowArray **out, dctx *c, const tarn_arrow__field *f, int as_value,
                        int64_t expect);

/* The buffers and children of union A (type T, LENGTH rows): every type id
 * names a child, and a dense union's offsets fall inside that child. */
static int decode_union(struct ArrowArray *a, tarn_arrow__node *tn, dctx *c,
                        const tarn_arrow__field *f, const tarn_arrow__type *t, int64_t length)
{
    const uint8_t *ids, *offs = NULL;
    int64_t blen, i;
    int rc = 0, dense = t->layout == TARN_LAYOUT_DENSE;
    if ((rc = take_buffer(&ids, &blen, c, 1)) < 0) goto done;
    if (blen < length) {
        rc = bad(c->err, "union type ids buffer too short");
        goto done;
    }
    tn->bufs[0] = ids;
    if (dense) {
        if ((rc = take_buffer(&offs, &blen, c, 4)) < 0) goto done;
        if (blen < length * 4) {
            rc = bad(c->err, "union offsets buffer too short");
            goto done;
        }
        tn->bufs[1] = offs;
    }
    for (i = 0; i < f->n_children && rc == 0; i++)
        rc = decode_array(&a->children[i], c, &f->children[i], 0, dense ? -1 : length);
    if (rc < 0) goto done;
    /* checked even for tarn's own bytes: a bad id or offset reads outside
     * the children, and it is one pass over one byte (and int) per row */
    for (i = 0; i < length; i++) {
        int8_t id = (int8_t)ids[i];
        int child = id >= 0 ? t->child_of[id] : -1;
        int32_t o;
        if (child < 0) {
            rc = bad(c->err, "a union type id names no child");
            goto done;
        }
        if (!dense) continue;
        memcpy(&o, offs + 4 * i, 4);
        if (o < 0 || o >= a->children[child]->length) {
            rc = bad(c->err, "a union offset runs past its child");
            goto done;
        }
    }
    rc = 0;
done:
    return rc;
}

/* Decode one array of field F (its indices if F is dictionary-encoded and
 * !AS_VALUE); EXPECT is the required length or -1. */
static int decode_array(struct ArrowArray **out, dctx *c, const tarn_arrow__field *f, int as_value,
                        int64_t expect)
{
    const tarn_arrow__type *t = (f->is_dict && !as_value) ? &f->index : &f->type;
    tarn_arrow__node *tn;
    struct ArrowArray *a;
    int64_t v[2], length, nulls, blen, i;
    const uint8_t *p;
    int rc = 0, nb = tarn_arrow__n_buffers(t->layout);
    int64_t nchildren = t->layout == TARN_LAYOUT_STRUCT || t->layout == TARN_LAYOUT_LIST32 ||
                                t->layout == TARN_LAYOUT_LIST64 || t->layout == TARN_LAYOUT_FSL ||
                                tarn_arrow__is_union(t->layout)
                            ? f->n_children
                            : 0;

    *out = NULL;
    if (c->node_i >= c->nodes.len) {
        rc = bad(c->err, "fewer field nodes than the schema needs");
        goto done;
    }
    memcpy(v, c->nodes.buf + c->nodes.pos + 16 * (size_t)c->node_i++, 16);
    length = v[0];
    nulls = v[1];
    if (length < 0 || length > MAX_LENGTH) {
        rc = bad(c->err, "bad array length");
        goto done;
    }
    if (expect >= 0 && length != expect) {
        rc = bad(c->err, "child length differs from parent");
        goto done;
    }
    if (nulls < 0 || nulls > length) {
        rc = bad(c->err, "bad null count");
        goto done;
    }

    tn = calloc(1, sizeof(*tn));
    if (tn == NULL) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    a = &tn->a;
    *out = a;
    a->length = length;
    a->n_buffers = nb;
    a->buffers = tn->bufs;
    if (nchildren > 0) {
        a->children = calloc((size_t)nchildren, sizeof(*a->children));
        if (a->children == NULL) {
            rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
            goto done;
        }
        a->n_children = nchildren;
    }

    if (t->layout == TARN_LAYOUT_NULL) {
        a->null_count = length;
    } else if (tarn_arrow__is_union(t->layout)) {
        /* no validity bitmap (IPC version 5): nulls live in the children */
        if (nulls != 0) {
            rc = bad(c->err, "a union with a null count");
            goto done;
        }
    } else {
        if ((rc = take_buffer(&p, &blen, c, 1)) < 0) goto done;
        if (nulls > 0) {
            if (blen < (length + 7) / 8) {
                rc = bad(c->err, "validity bitmap too short");
                goto done;
            }
            if (!c->t->trusted && length - count_set(p, length) != nulls) {
                rc = bad(c->err, "null count does not match the validity bitmap");
                goto done;
            }
            tn->bufs[0] = p;
        }
        a->null_count = nulls;
    }

    switch (t->layout) {
    case TARN_LAYOUT_FSL:
        /* the child holds exactly `width` values per element */
        if ((rc = decode_array(&a->children[0], c, &f->children[0], 0, length * t->width)) < 0)
            goto done;
        break;
    case TARN_LAYOUT_NULL:
    case TARN_LAYOUT_STRUCT:
        break;
    case TARN_LAYOUT_SPARSE:
    case TARN_LAYOUT_DENSE:
        rc = decode_union(a, tn, c, f, t, length);
        break;
    case TARN_LAYOUT_BITS:
        if ((rc = take_buffer(&p, &blen, c, 1)) < 0) goto done;
        if (blen < (length + 7) / 8) {
            rc = bad(c->err, "boolean buffer too short");
            goto done;
        }
        tn->bufs[1] = p;
        break;
    case TARN_LAYOUT_FIXED:
        if ((rc = take_buffer(&p, &blen, c, fixed_align(t->width))) < 0) goto done;
        if (blen < length * t->width) {
            rc = bad(c->err, "value buffer too short");
            goto done;
        }
        tn->bufs[1] = p;
        break;
    default: { /* VAR32/VAR64/LIST32/LIST64 */
        int wide = t->layout == TARN_LAYOUT_VAR64 || t->layout == TARN_LAYOUT_LIST64;
        int64_t ow = wide ? 8 : 4, limit;
        if ((rc = take_buffer(&p, &blen, c, (size_t)ow)) < 0) goto done;
        if (length == 0 && blen < ow)
            p = (const uint8_t *)tarn_arrow__zeros;
        else if (blen < (length + 1) * ow) {
            rc = bad(c->err, "offsets buffer too short");
            goto done;
        }
        tn->bufs[1] = p;
        if (t->layout == TARN_LAYOUT_VAR32 || t->layout == TARN_LAYOUT_VAR64) {
            const uint8_t *d;
            if ((rc = take_buffer(&d, &limit, c, 1)) < 0) goto done;
            tn->bufs[2] = d;
        } else {
            if ((rc = decode_array(&a->children[0], c, &f->children[0], 0, -1)) < 0) goto done;
            limit = a->children[0]->length;
        }
        if (rd_off(p, wide, 0) < 0) {
            rc = bad(c->err, "negative offset");
            goto done;
        }
        if (!c->t->trusted && !offsets_monotonic(p, wide, length)) {
            rc = bad(c->err, "offsets are not monotonic");
            goto done;
        }
        if (rd_off(p, wide, length) > limit) {
            rc = bad(c->err, "offsets run past the data");
            goto done;
        }
        /* DuckDB trusts VARCHAR to be UTF-8: check every value it may read
         * (all at once when the bytes are plain ASCII, as they mostly are) */
        if ((t->id == TARN_AT_UTF8 || t->id == TARN_AT_LARGE_UTF8) && !c->t->trusted &&
            !all_ascii((const uint8_t *)tn->bufs[2] + rd_off(p, wide, 0),
                       (size_t)(rd_off(p, wide, length) - rd_off(p, wide, 0))))
            for (i = 0; i < length; i++) {
                int64_t from = rd_off(p, wide, i);
                if (tn->bufs[0] && !((((const uint8_t *)tn->bufs[0])[i >> 3] >> (i & 7)) & 1))
                    continue;
                if (!valid_utf8((const uint8_t *)tn->bufs[2] + from,
                                (size_t)(rd_off(p, wide, i + 1) - from))) {
                    rc = bad(c->err, "a utf8 value is not valid UTF-8");
                    goto done;
                }
            }
        break;
    }
    }
    if (t->layout == TARN_LAYOUT_STRUCT)
        for (i = 0; i < nchildren && rc == 0; i++)
            rc = decode_array(&a->children[i], c, &f->children[i], 0, length);
    if (rc < 0) goto done;

    if (f->is_dict && !as_value) {
        size_t k;
        const tarn_arrow__dict *d = NULL;
        for (k = 0; k < c->t->ndicts; k++)
            if (c->t->dicts[k].id == f->dict_id) d = &c->t->dicts[k];
        if (d == NULL || d->current == NULL) {
            rc = bad(c->err, "record batch uses a dictionary before its DictionaryBatch");
            goto done;
        }
        a->dictionary = d->current;
        for (i = 0; i < length && !c->t->trusted; i++) {
            int64_t ix;
            if (tn->bufs[0] && !((((const uint8_t *)tn->bufs[0])[i >> 3] >> (i & 7)) & 1)) continue;
            ix = rd_index(tn->bufs[1], t, i);
            if (ix < 0 || ix >= d->current->length) {
                rc = bad(c->err, "dictionary index out of range");
                goto done;
            }
        }
    }
    rc = 0;
done:
    return rc;
}
/* Set up C for RecordBatch RB over BODY; *length is the batch length. */
static int open_batch(dctx *c, int64_t *length, const tarn_fb_table *rb)
{
    int rc = 0;
    if (tarn_fb__i64(rb, 0, 0, length) < 0 || tarn_fb__vector(&c->nodes, rb, 1, 16) < 0 ||
        tarn_fb__vector(&c->buffers, rb, 2, 16) < 0) {
        rc = bad(c->err, "malformed RecordBatch");
        goto done;
    }
    if (tarn_fb__has(rb, 3)) {
        rc = tarn_arrow__fail(c->err, TARN_EINVALID,
                              "compressed Arrow IPC bodies are not supported");
        goto done;
    }
    if (*length < 0 || *length > MAX_LENGTH) {
        rc = bad(c->err, "bad record batch length");
        goto done;
    }
    rc = 0;
done:
    return rc;
}

static int close_batch(dctx *c)
{
    int rc = 0;
    if (c->node_i != c->nodes.len || c->buf_i != c->buffers.len) {
        rc = bad(c->err, "more field nodes or buffers than the schema has");
        goto done;
    }
    rc = 0;
done:
    return rc;
}

static int read_record_batch(dctx *c, const tarn_fb_table *rb)
{
    tarn_arrow_table *t = c->t;
    int64_t length, i;
    tarn_arrow__node *tn;
    int rc;

    if ((rc = open_batch(c, &length, rb)) < 0) goto done;
    if (tarn_arrow__grow((void **)&t->batches, &t->capbatches, t->nbatches + 1,
                         sizeof(*t->batches)) < 0) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    tn = calloc(1, sizeof(*tn));
    if (tn == NULL) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    t->batches[t->nbatches++] = &tn->a;
    tn->a.length = length;
    tn->a.n_buffers = 1;
    tn->a.buffers = tn->bufs;
    if (t->root.n_children > 0) {
        tn->a.children = calloc((size_t)t->root.n_children, sizeof(*tn->a.children));
        if (tn->a.children == NULL) {
            rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
            goto done;
        }
        tn->a.n_children = t->root.n_children;
    }
    for (i = 0; i < t->root.n_children; i++)
        if ((rc = decode_array(&tn->a.children[i], c, &t->root.children[i], 0, length)) < 0)
            goto done;
    if ((rc = close_batch(c)) < 0) goto done;
    t->rows += length;
    rc = 0;
done:
    return rc;
}

static int read_dictionary_batch(dctx *c, const tarn_fb_table *db)
{
    tarn_arrow_table *t = c->t;
    tarn_fb_table rb;
    int64_t id, length;
    int8_t delta = 0;
    tarn_arrow__dict *d = NULL;
    struct ArrowArray *arr = NULL;
    size_t k;
    int rc;

    if (tarn_fb__i64(db, 0, 0, &id) < 0 || tarn_fb__table(&rb, db, 1) <= 0 ||
        tarn_fb__i8(db, 2, 0, &delta) < 0) {
        rc = bad(c->err, "malformed DictionaryBatch");
        goto done;
    }
    if (delta) {
        rc = tarn_arrow__fail(c->err, TARN_EINVALID, "delta dictionary batches are not supported");
        goto done;
    }
    for (k = 0; k < t->ndicts; k++)
        if (t->dicts[k].id == id) d = &t->dicts[k];
    if (d == NULL) {
        rc = bad(c->err, "DictionaryBatch for an unknown dictionary id");
        goto done;
    }
    if ((rc = open_batch(c, &length, &rb)) < 0) goto done;
    if (tarn_arrow__grow((void **)&t->dict_arrays, &t->capdict_arrays, t->ndict_arrays + 1,
                         sizeof(*t->dict_arrays)) < 0) {
        rc = tarn_arrow__fail(c->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rc = decode_array(&arr, c, d->field, 1, length);
    if (arr != NULL) t->dict_arrays[t->ndict_arrays++] = arr;
    if (rc < 0) goto done;
    if ((rc = close_batch(c)) < 0) goto done;
    d->current = arr;
    rc = 0;
done:
    return rc;
}

static int read_messages(tarn_arrow_table *t, tarn_error *err)
{
    const uint8_t *data = t->data;
    size_t size = t->size, pos = 0;
    int have_schema = 0, rc = 0;

    for (;;) {
        uint32_t word;
        int32_t len;
        int16_t version = 0;
        uint8_t htype = 0;
        int64_t body_len = 0;
        tarn_fb_table msg, hdr;

        if (pos == size) break; /* a stream may end without the marker */
        if (size - pos < 4) {
            rc = bad(err, "truncated message prefix");
            goto done;
        }
        memcpy(&word, data + pos, 4);
        pos += 4;
        if (word == 0xFFFFFFFFu) {
            if (size - pos < 4) {
                rc = bad(err, "truncated message length");
                goto done;
            }
            memcpy(&len, data + pos, 4);
            pos += 4;
        } else {
            len = (int32_t)word; /* pre-1.0 framing without the continuation */
        }
        if (len == 0) break;
        if (len < 0 || (size_t)len > size - pos) {
            rc = bad(err, "truncated message metadata");
            goto done;
        }
        if (tarn_fb__root(&msg, data + pos, (size_t)len) < 0 ||
            tarn_fb__i16(&msg, 0, 0, &version) < 0 || tarn_fb__scalar(&msg, 1, &htype, 1) < 0 ||
            tarn_fb__table(&hdr, &msg, 2) <= 0 || tarn_fb__i64(&msg, 3, 0, &body_len) < 0) {
            rc = bad(err, "malformed Message");
            goto done;
        }
        if (version < 3) {
            rc = tarn_arrow__fail(err, TARN_EINVALID, "Arrow IPC metadata version %d is too old",
                                  version);
            goto done;
        }
        pos += (size_t)len;
        if (body_len < 0 || (uint64_t)body_len > size - pos) {
            rc = bad(err, "truncated message body");
            goto done;
        }
        if (htype == TARN_MH_SCHEMA) {
            if (have_schema) {
                rc = bad(err, "second Schema message");
                goto done;
            }
            if ((rc = parse_schema(t, &hdr, err)) < 0) goto done;
            have_schema = 1;
        } else if (htype == TARN_MH_RECORD_BATCH || htype == TARN_MH_DICTIONARY) {
            dctx c;
            if (!have_schema) {
                rc = bad(err, "batch before the Schema message");
                goto done;
            }
            memset(&c, 0, sizeof(c));
            c.t = t;
            c.body = data + pos;
            c.body_len = body_len;
            c.err = err;
            rc = htype == TARN_MH_RECORD_BATCH ? read_record_batch(&c, &hdr)
                                               : read_dictionary_batch(&c, &hdr);
            if (rc < 0) goto done;
        } else {
            {
                rc = tarn_arrow__fail(err, TARN_EINVALID, "unsupported Arrow IPC message type %d",
                                      htype);
                goto done;
            }
        }
        pos += (size_t)body_len;
    }
    if (!have_schema) {
        rc = bad(err, "no Schema message");
        goto done;
    }
    rc = 0;
done:
    return rc;
}

int tarn_arrow_ipc_decode(tarn_arrow_table **out, const void *data, size_t size,
                          tarn_arrow_release_fn release, void *ctx, tarn_error *err)
{
    return tarn_arrow__decode(out, data, size, release, ctx, 0, err);
}

int tarn_arrow__decode(tarn_arrow_table **out, const void *data, size_t size,
                       tarn_arrow_release_fn release, void *ctx, int trusted, tarn_error *err)
{
    tarn_arrow_table *t;
    int rc;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        if (release) release(ctx, data, size);
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    }
    t->refs = 1;
    t->trusted = trusted;
    t->data = data;
    t->size = size;
    t->release = release;
    t->ctx = ctx;
    rc = data == NULL && size > 0 ? bad(err, "no data") : read_messages(t, err);
    if (rc < 0) {
        tarn_arrow__table_unref(t);
        return rc;
    }
    *out = t;
    return 0;
}
