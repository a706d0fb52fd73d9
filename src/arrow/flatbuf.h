/* arrow/flatbuf.h — the small part of FlatBuffers that Arrow IPC metadata
 * needs: a bounds-checked reader (every table, vtable, vector and string is
 * checked against the buffer before it is touched; all loads are memcpy, so
 * alignment never matters) and a back-to-front builder. */
#ifndef TARN_ARROW_FLATBUF_H
#define TARN_ARROW_FLATBUF_H

#include <stddef.h>
#include <stdint.h>

/* ---- reader ---- */

typedef struct tarn_fb_table {
    const uint8_t *buf;
    size_t size;
    size_t pos;       /* table start */
    size_t vt;        /* vtable start */
    uint16_t vt_size; /* bytes */
    uint16_t tsize;   /* inline table bytes */
} tarn_fb_table;

typedef struct tarn_fb_vec {
    const uint8_t *buf;
    size_t size;
    size_t pos; /* first element */
    uint32_t len;
} tarn_fb_vec;

/* Each returns 0, or -1 when the buffer is malformed. */
int tarn_fb__root(tarn_fb_table *out, const uint8_t *buf, size_t size);
/* 1 if field ID is present, 0 if absent. */
int tarn_fb__has(const tarn_fb_table *t, int id);
int tarn_fb__scalar(const tarn_fb_table *t, int id, void *out, size_t width);
/* Absent: *out = NULL-ish (table with buf NULL, len 0). Return 1 when present. */
int tarn_fb__table(tarn_fb_table *out, const tarn_fb_table *t, int id);
int tarn_fb__vector(tarn_fb_vec *out, const tarn_fb_table *t, int id, size_t elem_size);
int tarn_fb__string(const char **s, uint32_t *len, const tarn_fb_table *t, int id);
int tarn_fb__vec_table(tarn_fb_table *out, const tarn_fb_vec *v, uint32_t i);
int tarn_fb__vec_string(const char **s, uint32_t *len, const tarn_fb_vec *v, uint32_t i);

/* Typed scalar getters with defaults; -1 on malformed buffer. */
int tarn_fb__i8(const tarn_fb_table *t, int id, int8_t def, int8_t *out);
int tarn_fb__i16(const tarn_fb_table *t, int id, int16_t def, int16_t *out);
int tarn_fb__i32(const tarn_fb_table *t, int id, int32_t def, int32_t *out);
int tarn_fb__i64(const tarn_fb_table *t, int id, int64_t def, int64_t *out);

/* ---- builder (grows downward: objects are built children first) ---- */

#define TARN_FB_MAX_FIELDS 16

typedef uint32_t tarn_fb_ref; /* an object's distance from the buffer's end */

typedef struct tarn_fb_builder {
    uint8_t *buf;
    size_t cap;
    size_t used;
    int failed; /* out of memory */
    size_t table_end;
    int nfields;
    tarn_fb_ref fields[TARN_FB_MAX_FIELDS];
} tarn_fb_builder;

void tarn_fb__init(tarn_fb_builder *b);
void tarn_fb__free(tarn_fb_builder *b);
void tarn_fb__reset(tarn_fb_builder *b);
tarn_fb_ref tarn_fb__create_string(tarn_fb_builder *b, const char *s, size_t len);
/* A vector of inline structs or scalars, each ELEM bytes, aligned to ALIGN. */
tarn_fb_ref tarn_fb__create_vec(tarn_fb_builder *b, const void *data, size_t elem, size_t n,
                                size_t align);
tarn_fb_ref tarn_fb__create_vec_refs(tarn_fb_builder *b, const tarn_fb_ref *refs, size_t n);
void tarn_fb__start(tarn_fb_builder *b);
void tarn_fb__add_scalar(tarn_fb_builder *b, int id, const void *v, size_t width);
void tarn_fb__add_ref(tarn_fb_builder *b, int id, tarn_fb_ref ref);
tarn_fb_ref tarn_fb__end(tarn_fb_builder *b);
/* Writes the root offset; DATA and SIZE give the finished buffer (size 8-aligned). */
int tarn_fb__finish(tarn_fb_builder *b, tarn_fb_ref root, const uint8_t **data, size_t *size);

#endif
