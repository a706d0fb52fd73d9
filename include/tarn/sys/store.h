/* tarn/sys/store.h — the object store extension point (versioned vtable).
 *
 * The store holds immutable data files under keys like
 * `data/ab/ab12...ef.parquet`; it never holds meaning (the catalog does).
 * The local folder store is built in; an S3 store implements the same. */
#ifndef TARN_SYS_STORE_H
#define TARN_SYS_STORE_H

#include "../common.h"

#define TARN_STORE_VTABLE_VERSION 4

typedef struct tarn_store tarn_store;

/* A data file to read: its key and the size the catalog recorded (-1 when
 * not known). */
typedef struct tarn_store_object {
    const char *key;
    int64_t size;
} tarn_store_object;

typedef struct tarn_store_vtable {
    int version;
    /* A local path DuckDB can write the new object KEY to (a temporary). */
    int (*write_path)(tarn_store *s, const char *key, char *out, size_t size, tarn_error *err);
    /* Publishes what was written at LOCAL_PATH as KEY (atomic: all or nothing). */
    int (*publish)(tarn_store *s, const char *key, const char *local_path, tarn_error *err);
    /* A local path DuckDB reads KEY from (a store that is not local
     * fetches it first, unless prefetch already did). */
    int (*read_url)(tarn_store *s, const char *key, char *out, size_t size, tarn_error *err);
    /* Calls CB for every object, including unpublished temporaries, whose
     * keys are `tmp/` + the last part of the key they will be published
     * as. MTIME_S is the store's write time (0 when it has none worth
     * trusting): only a retention hint, never what makes deletion safe. */
    int (*list)(tarn_store *s,
                int (*cb)(const char *key, int64_t size, int64_t mtime_s, void *ctx), void *ctx,
                tarn_error *err);
    int (*remove)(tarn_store *s, const char *key, tarn_error *err);
    /* Size of KEY into *size; TARN_ENOTFOUND if there is no such object. */
    int (*stat)(tarn_store *s, const char *key, int64_t *size, tarn_error *err);
    void (*close)(tarn_store *s);
    /* Version 3; each may be NULL (nothing to do, or do it one by one). */
    /* Makes OBJS[0..N) readable locally (read_url) before DuckDB opens them,
     * fetching in parallel what is not local yet, and verifying sizes. */
    int (*prefetch)(tarn_store *s, const tarn_store_object *objs, size_t n, tarn_error *err);
    /* Removes KEYS[0..N) (a missing key is not an error), in batches. */
    int (*remove_many)(tarn_store *s, const char *const *keys, size_t n, tarn_error *err);
    /* Version 4. The local path read_url gives for KEY once it is local,
     * without fetching anything (what confined DuckDB sessions may open). */
    int (*local_path)(tarn_store *s, const char *key, char *out, size_t size, tarn_error *err);
} tarn_store_vtable;

struct tarn_store {
    const tarn_store_vtable *vt;
};

#endif
