/* arrow/table.h — the decoded table shared by the decoder (ipc_read.c) and
 * the exports (table.c): the internal field tree, template arrays and the
 * reference-counted table that owns the IPC bytes. */
#ifndef TARN_ARROW_TABLE_H
#define TARN_ARROW_TABLE_H

#include "arrow/internal.h"

typedef struct tarn_arrow__field {
    tarn_arrow__type type; /* the value type (tz cleared: only the format keeps it) */
    int is_dict;
    int64_t dict_id;
    tarn_arrow__type index;
    int64_t n_children;
    struct tarn_arrow__field *children;
} tarn_arrow__field;

typedef struct tarn_arrow__dict {
    int64_t id;
    tarn_arrow__field *field;
    struct ArrowArray *current; /* latest dictionary, NULL before its batch */
} tarn_arrow__dict;

typedef struct tarn_arrow__node {
    struct ArrowArray a;
    const void *bufs[3];
} tarn_arrow__node;

struct tarn_arrow_table {
    int refs;
    int trusted; /* produced by tarn itself: per-value checks skipped */
    const uint8_t *data;
    size_t size;
    tarn_arrow_release_fn release;
    void *ctx;
    struct ArrowSchema schema;
    tarn_arrow__field root;
    tarn_arrow__dict *dicts;
    size_t ndicts;
    struct ArrowArray **batches;
    size_t nbatches, capbatches;
    struct ArrowArray **dict_arrays; /* every dictionary ever decoded */
    size_t ndict_arrays, capdict_arrays;
    int64_t rows;
    struct ArrowArray *empty; /* a length-0 batch, built on demand */
};

/* Zeros, 8-aligned: the data of empty buffers and a valid [0] offsets buffer. */
extern const int64_t tarn_arrow__zeros[2];

/* Free a template tree (not its dictionaries: the table owns those). */
void tarn_arrow__tnode_free(struct ArrowArray *a);
/* Drop one reference; the last one frees T and runs the release hook. */
void tarn_arrow__table_unref(tarn_arrow_table *t);
/* Grow array *P (of *CAP elements of ELEM bytes) to hold NEED; -1 on ENOMEM. */
int tarn_arrow__grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
