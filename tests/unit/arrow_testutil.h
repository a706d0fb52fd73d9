/* arrow_testutil.h — helpers shared by the arrow_*_test.c files and the
 * fuzz programs: build Arrow arrays over static test data (and a fixture with
 * a column of every supported type), and compare two arrays element by
 * element (logically: offsets, slices and dictionaries resolved). */
#ifndef TARN_ARROW_TESTUTIL_H
#define TARN_ARROW_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "tarn/arrow.h"

/* A column over borrowed buffers; release only marks it released. */
typedef struct tcol {
    struct ArrowArray arr;
    struct ArrowSchema sch;
    const void *bufs[3];
    struct ArrowArray *akids[32];
    struct ArrowSchema *skids[32];
} tcol;

static inline void tcol_release_arr(struct ArrowArray *a)
{
    a->release = NULL;
}

static inline void tcol_release_sch(struct ArrowSchema *s)
{
    s->release = NULL;
}

static inline void tcol_init(tcol *c, const char *fmt, const char *name, int64_t len, int64_t nulls,
                             const void *b0, const void *b1, const void *b2)
{
    tarn_arrow__type t;
    memset(c, 0, sizeof(*c));
    tarn_arrow__parse_format(&t, fmt);
    c->bufs[0] = b0;
    c->bufs[1] = b1;
    c->bufs[2] = b2;
    c->arr.length = len;
    c->arr.null_count = nulls;
    c->arr.n_buffers = tarn_arrow__n_buffers(t.layout);
    c->arr.buffers = c->bufs;
    c->arr.children = c->akids;
    c->arr.release = tcol_release_arr;
    c->sch.format = fmt;
    c->sch.name = name;
    c->sch.flags = ARROW_FLAG_NULLABLE;
    c->sch.children = c->skids;
    c->sch.release = tcol_release_sch;
}

static inline void tcol_add(tcol *parent, tcol *child)
{
    parent->akids[parent->arr.n_children++] = &child->arr;
    parent->skids[parent->sch.n_children++] = &child->sch;
}

static inline int tarr_valid(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *v = a->n_buffers > 0 ? a->buffers[0] : NULL;
    if (a->n_buffers == 0) return 0; /* null type */
    return v == NULL || ((v[i >> 3] >> (i & 7)) & 1);
}

static inline int64_t tarr_off(const struct ArrowArray *a, int wide, int64_t i)
{
    if (wide) return ((const int64_t *)a->buffers[1])[i];
    return ((const int32_t *)a->buffers[1])[i];
}

static inline int64_t tarr_index(const struct ArrowArray *a, int width, int64_t i)
{
    const uint8_t *p = a->buffers[1];
    switch (width) {
    case 1:
        return ((const int8_t *)p)[i];
    case 2:
        return ((const int16_t *)p)[i];
    case 4:
        return ((const int32_t *)p)[i];
    default:
        return ((const int64_t *)p)[i];
    }
}

/* 1 if element I of A equals element J of B (absolute of the arrays'
 * logical indexes, before their own offsets). */
static inline int telem_eq(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i,
                           const struct ArrowArray *b, int64_t j)
{
    tarn_arrow__type t;
    int64_t ai = i + a->offset, bj = j + b->offset, k;
    if (tarn_arrow__parse_format(&t, s->format) < 0) return 0;
    if (t.layout == TARN_LAYOUT_NULL) return 1;
    if (tarn_arrow__is_union(t.layout)) { /* same type id, equal value in that child */
        int8_t ta = ((const int8_t *)a->buffers[0])[ai], tb = ((const int8_t *)b->buffers[0])[bj];
        int ch = t.child_of[ta];
        if (ta != tb || ch < 0) return 0;
        if (t.layout == TARN_LAYOUT_SPARSE)
            return telem_eq(s->children[ch], a->children[ch], ai, b->children[ch], bj);
        return telem_eq(s->children[ch], a->children[ch], ((const int32_t *)a->buffers[1])[ai],
                        b->children[ch], ((const int32_t *)b->buffers[1])[bj]);
    }
    if (tarr_valid(a, ai) != tarr_valid(b, bj)) return 0;
    if (!tarr_valid(a, ai)) return 1;
    if (s->dictionary != NULL)
        return telem_eq(s->dictionary, a->dictionary, tarr_index(a, t.width, ai), b->dictionary,
                        tarr_index(b, t.width, bj));
    switch (t.layout) {
    case TARN_LAYOUT_BITS: {
        const uint8_t *x = a->buffers[1], *y = b->buffers[1];
        return ((x[ai >> 3] >> (ai & 7)) & 1) == ((y[bj >> 3] >> (bj & 7)) & 1);
    }
    case TARN_LAYOUT_FIXED:
        return memcmp((const uint8_t *)a->buffers[1] + ai * t.width,
                      (const uint8_t *)b->buffers[1] + bj * t.width, (size_t)t.width) == 0;
    case TARN_LAYOUT_VAR32:
    case TARN_LAYOUT_VAR64: {
        int w = t.layout == TARN_LAYOUT_VAR64;
        int64_t a0 = tarr_off(a, w, ai), a1 = tarr_off(a, w, ai + 1);
        int64_t b0 = tarr_off(b, w, bj), b1 = tarr_off(b, w, bj + 1);
        return a1 - a0 == b1 - b0 &&
               memcmp((const char *)a->buffers[2] + a0, (const char *)b->buffers[2] + b0,
                      (size_t)(a1 - a0)) == 0;
    }
    case TARN_LAYOUT_STRUCT:
        for (k = 0; k < s->n_children; k++)
            if (!telem_eq(s->children[k], a->children[k], ai, b->children[k], bj)) return 0;
        return 1;
    case TARN_LAYOUT_FSL:
        for (k = 0; k < t.width; k++)
            if (!telem_eq(s->children[0], a->children[0], ai * t.width + k, b->children[0],
                          bj * t.width + k))
                return 0;
        return 1;
    default: {
        int w = t.layout == TARN_LAYOUT_LIST64;
        int64_t a0 = tarr_off(a, w, ai), a1 = tarr_off(a, w, ai + 1);
        int64_t b0 = tarr_off(b, w, bj), b1 = tarr_off(b, w, bj + 1);
        if (a1 - a0 != b1 - b0) return 0;
        for (k = 0; k < a1 - a0; k++)
            if (!telem_eq(s->children[0], a->children[0], a0 + k, b->children[0], b0 + k)) return 0;
        return 1;
    }
    }
}

/* Touch every byte a consumer could read (ASan catches out-of-bounds). */
static inline uint64_t ttouch(const struct ArrowSchema *s, const struct ArrowArray *a)
{
    uint64_t sum = 0;
    int64_t i, k;
    tarn_arrow__type t;
    if (tarn_arrow__parse_format(&t, s->format) < 0) return 0;
    if (tarn_arrow__is_union(t.layout)) { /* the value each row selects */
        for (i = 0; i < a->length; i++) {
            int64_t ai = i + a->offset, at = ai;
            int ch = t.child_of[((const int8_t *)a->buffers[0])[ai]];
            struct ArrowArray one = *a->children[ch];
            if (t.layout == TARN_LAYOUT_DENSE) at = ((const int32_t *)a->buffers[1])[ai];
            one.offset += at;
            one.length = 1;
            sum += ttouch(s->children[ch], &one);
        }
        return sum;
    }
    for (i = 0; i < a->length; i++) {
        int64_t ai = i + a->offset;
        if (!tarr_valid(a, ai)) continue;
        if (s->dictionary) {
            int64_t ix = tarr_index(a, t.width, ai);
            struct ArrowArray one = *a->dictionary;
            one.offset += ix;
            one.length = 1;
            sum += ttouch(s->dictionary, &one);
            continue;
        }
        switch (t.layout) {
        case TARN_LAYOUT_BITS:
            sum += ((const uint8_t *)a->buffers[1])[ai >> 3];
            break;
        case TARN_LAYOUT_FIXED:
            for (k = 0; k < t.width; k++)
                sum += ((const uint8_t *)a->buffers[1])[ai * t.width + k];
            break;
        case TARN_LAYOUT_VAR32:
        case TARN_LAYOUT_VAR64: {
            int w = t.layout == TARN_LAYOUT_VAR64;
            for (k = tarr_off(a, w, ai); k < tarr_off(a, w, ai + 1); k++)
                sum += ((const uint8_t *)a->buffers[2])[k];
            break;
        }
        default:
            break;
        }
    }
    if (t.layout == TARN_LAYOUT_STRUCT)
        for (k = 0; k < s->n_children; k++)
            sum += ttouch(s->children[k], a->children[k]);
    if (t.layout == TARN_LAYOUT_LIST32 || t.layout == TARN_LAYOUT_LIST64 ||
        t.layout == TARN_LAYOUT_FSL)
        sum += ttouch(s->children[0], a->children[0]);
    return sum;
}

/* ---- the all-types fixture: one column of every supported type, 5 rows,
 * rows 0 and 3 null ---- */

#define TF_N 5 /* rows of the all-types fixture */
/* rows 0 and 3 are null */
static const __attribute__((unused)) uint8_t tf_valid[1] = {0x16};
static const __attribute__((unused)) uint8_t tf_bools[1] = {0x0A};
static const __attribute__((unused)) int8_t tf_i8s[TF_N] = {0, -1, 2, 0, 127};
static const __attribute__((unused)) int16_t tf_i16s[TF_N] = {0, -300, 2, 0, 32767};
static const __attribute__((unused)) int32_t tf_i32s[TF_N] = {0, -70000, 2, 0, INT32_MAX};
static const __attribute__((unused)) int64_t tf_i64s[TF_N] = {0, -5000000000LL, 2, 0, INT64_MAX};
static const __attribute__((unused)) uint8_t tf_u8s[TF_N] = {0, 255, 2, 0, 1};
static const __attribute__((unused)) uint16_t tf_u16s[TF_N] = {0, 65535, 2, 0, 1};
static const __attribute__((unused)) uint32_t tf_u32s[TF_N] = {0, UINT32_MAX, 2, 0, 1};
static const __attribute__((unused)) uint64_t tf_u64s[TF_N] = {0, UINT64_MAX, 2, 0, 1};
static const __attribute__((unused)) float tf_f32s[TF_N] = {0, 1.5f, -2.25f, 0, 3e38f};
static const __attribute__((unused)) double tf_f64s[TF_N] = {0, 1.5, -2.25, 0, 1e300};
static const __attribute__((unused)) int32_t tf_str_off[TF_N + 1] = {0, 0, 5, 5, 5, 11};
static const __attribute__((unused)) char tf_str_data[] = "hello"
                                                          "wörld";
static const __attribute__((unused)) int64_t tf_lstr_off[TF_N + 1] = {0, 0, 5, 5, 5, 11};
static const __attribute__((unused)) int32_t tf_bin_off[TF_N + 1] = {0, 0, 3, 4, 4, 6};
static const __attribute__((unused)) uint8_t tf_bin_data[] = {0, 1, 255, 7, 0, 0};
static const __attribute__((unused)) int32_t tf_dates[TF_N] = {0, 18000, -1, 0, 20000};
static const __attribute__((unused)) int64_t tf_stamps[TF_N] = {0, 1600000000000000LL, -1, 0, 1};
static __attribute__((unused)) int64_t tf_decs[2 * TF_N]; /* little-endian int128: low, high */
static const __attribute__((unused)) int8_t tf_dict_idx[TF_N] = {0, 1, 0, 0, 2};
static const __attribute__((unused)) int32_t tf_dict_off[4] = {0, 3, 9, 13};
static const __attribute__((unused)) char tf_dict_data[] = "redyellowblue";
static const __attribute__((unused)) int32_t tf_list_off[TF_N + 1] = {0, 0, 2, 2, 2, 5};
static const __attribute__((unused)) int32_t tf_list_vals[5] = {10, 20, 30, 40, 50};
static const __attribute__((unused))
uint8_t tf_list_valid[1] = {0x1D}; /* list child: element 1 null */

/* interval month_day_nano: {months, days} as two int32, then int64 ns */
static const __attribute__((unused))
int32_t tf_ivs[4 * TF_N] = {0, 0, 0, 0, 1, 2, 3, 0, -5, 30, 1000, 0, 0, 0, 0, 0, 12, -1, 7, 1};
static const __attribute__((unused)) int32_t tf_fsl_vals[2 * TF_N] = {0, 0, 1, 2, 3, 4, 0, 0, 5, 6};
static const __attribute__((unused)) int32_t tf_map_off[TF_N + 1] = {0, 0, 2, 2, 2, 3};
static const __attribute__((unused)) int32_t tf_key_off[4] = {0, 1, 3, 6};
static const __attribute__((unused)) int32_t tf_map_vals[3] = {7, 8, 9};

/* unions: type ids 3 and 7 (sparse: both children as long as the union;
 * dense: offsets into children of 3 and 2 values) */
static const __attribute__((unused)) int8_t tf_union_ids[TF_N] = {3, 7, 3, 7, 3};
static const __attribute__((unused)) int32_t tf_dense_off[TF_N] = {0, 0, 1, 1, 2};
static const __attribute__((unused)) int32_t tf_dense_ints[3] = {-4, 5, 6};
static const __attribute__((unused)) int32_t tf_dense_str_off[3] = {0, 2, 5};

typedef struct tfixture {
    tcol root, cols[32], dict, st_a, st_b, lchild, fsl_child, entries, key, value;
    tcol su_i, su_s, du_i, du_s;
    int n;
} tfixture;

static inline tcol *tfix_add(tfixture *f, const char *fmt, const char *name, const void *b1,
                             const void *b2)
{
    tcol *c = &f->cols[f->n++];
    tcol_init(c, fmt, name, TF_N, 2, tf_valid, b1, b2);
    tcol_add(&f->root, c);
    return c;
}

static inline void tfix_build(tfixture *f)
{
    tcol *c;
    memset(f, 0, sizeof(*f));
    tf_decs[2] = 12345;
    tf_decs[3] = 0;
    tf_decs[4] = -12345;
    tf_decs[5] = -1;
    tf_decs[8] = INT64_MAX;
    tf_decs[9] = 77;
    tcol_init(&f->root, "+s", "", TF_N, 0, NULL, NULL, NULL);
    tfix_add(f, "b", "bool", tf_bools, NULL);
    tfix_add(f, "c", "i8", tf_i8s, NULL);
    tfix_add(f, "s", "i16", tf_i16s, NULL);
    tfix_add(f, "i", "i32", tf_i32s, NULL);
    tfix_add(f, "l", "i64", tf_i64s, NULL);
    tfix_add(f, "C", "u8", tf_u8s, NULL);
    tfix_add(f, "S", "u16", tf_u16s, NULL);
    tfix_add(f, "I", "u32", tf_u32s, NULL);
    tfix_add(f, "L", "u64", tf_u64s, NULL);
    tfix_add(f, "f", "f32", tf_f32s, NULL);
    tfix_add(f, "g", "f64", tf_f64s, NULL);
    c = tfix_add(f, "u", "utf8", tf_str_off, tf_str_data);
    c->sch.metadata = NULL;
    tfix_add(f, "U", "large_utf8", tf_lstr_off, tf_str_data);
    tfix_add(f, "z", "binary", tf_bin_off, tf_bin_data);
    tfix_add(f, "tdD", "date32", tf_dates, NULL);
    tfix_add(f, "tsu:Europe/Rome", "ts_tz", tf_stamps, NULL);
    tfix_add(f, "tsn:", "ts_naive", tf_stamps, NULL);
    tfix_add(f, "d:38,5", "dec", tf_decs, NULL);
    c = tfix_add(f, "c", "dict", tf_dict_idx, NULL);
    tcol_init(&f->dict, "u", "", 3, 0, NULL, tf_dict_off, tf_dict_data);
    c->arr.dictionary = &f->dict.arr;
    c->sch.dictionary = &f->dict.sch;
    c = tfix_add(f, "+s", "struct", NULL, NULL);
    c->arr.n_buffers = 1;
    tcol_init(&f->st_a, "i", "a", TF_N, 0, NULL, tf_i32s, NULL);
    tcol_init(&f->st_b, "u", "b", TF_N, 2, tf_valid, tf_str_off, tf_str_data);
    tcol_add(c, &f->st_a);
    tcol_add(c, &f->st_b);
    c = tfix_add(f, "+l", "list", tf_list_off, NULL);
    tcol_init(&f->lchild, "i", "item", 5, 1, tf_list_valid, tf_list_vals, NULL);
    tcol_add(c, &f->lchild);
    tfix_add(f, "n", "nulls", NULL, NULL)->arr.null_count = TF_N;
    tfix_add(f, "tin", "interval", tf_ivs, NULL);
    c = tfix_add(f, "+w:2", "fixed_list", NULL, NULL);
    tcol_init(&f->fsl_child, "i", "item", 2 * TF_N, 0, NULL, tf_fsl_vals, NULL);
    tcol_add(c, &f->fsl_child);
    c = tfix_add(f, "+m", "map", tf_map_off, NULL);
    tcol_init(&f->entries, "+s", "entries", 3, 0, NULL, NULL, NULL);
    tcol_init(&f->key, "u", "key", 3, 0, NULL, tf_key_off, "abbccc");
    tcol_init(&f->value, "i", "value", 3, 0, NULL, tf_map_vals, NULL);
    f->key.sch.flags = 0;
    f->entries.sch.flags = 0;
    tcol_add(c, &f->entries);
    tcol_add(&f->entries, &f->key);
    tcol_add(&f->entries, &f->value);
    c = tfix_add(f, "+us:3,7", "sparse_union", NULL, NULL);
    tcol_init(c, "+us:3,7", "sparse_union", TF_N, 0, tf_union_ids, NULL, NULL);
    tcol_init(&f->su_i, "i", "i", TF_N, 2, tf_valid, tf_i32s, NULL);
    tcol_init(&f->su_s, "u", "s", TF_N, 0, NULL, tf_str_off, tf_str_data);
    tcol_add(c, &f->su_i);
    tcol_add(c, &f->su_s);
    c = tfix_add(f, "+ud:3,7", "dense_union", NULL, NULL);
    tcol_init(c, "+ud:3,7", "dense_union", TF_N, 0, tf_union_ids, tf_dense_off, NULL);
    tcol_init(&f->du_i, "i", "i", 3, 0, NULL, tf_dense_ints, NULL);
    tcol_init(&f->du_s, "u", "s", 2, 0, NULL, tf_dense_str_off, "abxyz");
    tcol_add(c, &f->du_i);
    tcol_add(c, &f->du_s);
}

#endif
