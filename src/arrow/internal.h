/* arrow/internal.h — what the Arrow files share: the parsed form of an
 * ArrowSchema format string, IPC constants, error filling and ArrowSchema
 * allocation helpers. */
#ifndef TARN_ARROW_INTERNAL_H
#define TARN_ARROW_INTERNAL_H

#include "tarn/arrow.h"

/* The Type union of Arrow's Schema.fbs (values are the union's ids). */
enum {
    TARN_AT_NULL = 1,
    TARN_AT_INT = 2,
    TARN_AT_FLOAT = 3,
    TARN_AT_BINARY = 4,
    TARN_AT_UTF8 = 5,
    TARN_AT_BOOL = 6,
    TARN_AT_DECIMAL = 7,
    TARN_AT_DATE = 8,
    TARN_AT_TIME = 9,
    TARN_AT_TIMESTAMP = 10,
    TARN_AT_INTERVAL = 11,
    TARN_AT_LIST = 12,
    TARN_AT_STRUCT = 13,
    TARN_AT_UNION = 14,
    TARN_AT_FSB = 15,
    TARN_AT_FSL = 16,
    TARN_AT_MAP = 17,
    TARN_AT_DURATION = 18,
    TARN_AT_LARGE_BINARY = 19,
    TARN_AT_LARGE_UTF8 = 20,
    TARN_AT_LARGE_LIST = 21,
};

/* MessageHeader union ids (Message.fbs). */
enum { TARN_MH_SCHEMA = 1, TARN_MH_DICTIONARY = 2, TARN_MH_RECORD_BATCH = 3 };

/* Physical layout of a type in the C data interface and in IPC. */
enum {
    TARN_LAYOUT_NULL,   /* no buffers */
    TARN_LAYOUT_BITS,   /* validity, value bitmap */
    TARN_LAYOUT_FIXED,  /* validity, values of `width` bytes */
    TARN_LAYOUT_VAR32,  /* validity, int32 offsets, data */
    TARN_LAYOUT_VAR64,  /* validity, int64 offsets, data */
    TARN_LAYOUT_STRUCT, /* validity; children */
    TARN_LAYOUT_LIST32, /* validity, int32 offsets; one child */
    TARN_LAYOUT_LIST64, /* validity, int64 offsets; one child */
    TARN_LAYOUT_FSL,    /* validity; one child of `width` values per element */
    TARN_LAYOUT_SPARSE, /* int8 type ids (no validity); children as long as the array */
    TARN_LAYOUT_DENSE,  /* int8 type ids, int32 offsets into the child (no validity) */
};

/* Arrow type ids of a union are 0..127, one per child. */
#define TARN_ARROW_UNION_MAX 128

typedef struct tarn_arrow__type {
    int id;     /* TARN_AT_* */
    int layout; /* TARN_LAYOUT_* */
    int width;  /* bytes per value for FIXED, values per element for FSL */
    int bits;   /* Int/Time/Decimal bit width */
    int is_signed;
    /* Date: 0 day, 1 ms; Time/Timestamp/Duration: 0 s .. 3 ns; Float: 0 half, 1 single,
     * 2 double; Interval: 0 months, 1 days+ms, 2 months+days+ns; Map: 1 if keys sorted */
    int unit;
    int precision, scale;
    const char *tz; /* Timestamp timezone (not NUL-terminated), NULL if none */
    size_t tz_len;
    int n_ids;                             /* Union: children (and type ids) */
    int8_t ids[TARN_ARROW_UNION_MAX];      /* Union: the type id of each child */
    int8_t child_of[TARN_ARROW_UNION_MAX]; /* Union: type id -> child, -1 if unused */
} tarn_arrow__type;

/* 1 for the union layouts, which have no validity bitmap. */
int tarn_arrow__is_union(int layout);

/* Parse an ArrowSchema format string; -1 if unsupported. */
int tarn_arrow__parse_format(tarn_arrow__type *t, const char *fmt);
/* Write the format string for T into BUF; -1 if it does not fit. */
int tarn_arrow__format(char *buf, size_t cap, const tarn_arrow__type *t);
/* Buffers the C data interface expects for LAYOUT. */
int tarn_arrow__n_buffers(int layout);

/* Fill err (NULL allowed) and return code. */
int tarn_arrow__fail(tarn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A heap ArrowSchema node whose release frees it (strings, children,
 * dictionary) — each node independently releasable, as the spec requires. */
int tarn_arrow__schema_init(struct ArrowSchema *s, const char *format, const char *name,
                            size_t name_len, const char *metadata, size_t metadata_len,
                            int64_t n_children);
/* Deep copy of SRC into DST (released with DST->release). */
int tarn_arrow__schema_copy(struct ArrowSchema *dst, const struct ArrowSchema *src);
/* Byte length of an ArrowSchema.metadata blob (0 for NULL). */
size_t tarn_arrow__metadata_len(const char *metadata);

/* Take one more reference on T (dropped with tarn_arrow_table_free). */
tarn_arrow_table *tarn_arrow__table_ref(tarn_arrow_table *t);
/* Export a length-0 batch with T's schema (even when T has no batches). */
int tarn_arrow__table_empty_batch(struct ArrowArray *out, tarn_arrow_table *t, tarn_error *err);

/* tarn_arrow_ipc_decode; TRUSTED skips the checks that read every value
 * (offsets order, UTF-8, null counts, dictionary indices), keeping the
 * structural ones (framing, flatbuffers, buffer bounds, first and last
 * offsets). Only for bytes tarn itself produced or already checked. */
int tarn_arrow__decode(tarn_arrow_table **out, const void *data, size_t size,
                       tarn_arrow_release_fn release, void *ctx, int trusted, tarn_error *err);

#endif
