/* tarn/gc.h — garbage collection of data files.
 *
 * Deletes data files that no commit reachable from a branch or tag (or
 * from where a ref pointed within the grace period) references and that
 * no live writer has claimed as an upload in flight (docs/gc.md): a file
 * that is or will be committed is never collected, whatever the grace. */
#ifndef TARN_GC_H
#define TARN_GC_H

#include "common.h"
#include "lake.h"

typedef struct tarn_gc_options {
    int version;
    int dry_run;           /* list, delete nothing */
    int64_t grace_seconds; /* refs' recent past, and orphans younger than this, are kept (default 3600) */
    /* Called for every file collected (or, dry run, that would be). */
    void (*on_file)(const char *key, int64_t size_bytes, void *ctx);
    void *ctx;
} tarn_gc_options;

#define TARN_GC_OPTIONS_VERSION 1
#define TARN_GC_OPTIONS_INIT {TARN_GC_OPTIONS_VERSION, 0, 3600, NULL, NULL}

typedef struct tarn_gc_result {
    int64_t files;       /* collected (or collectable) */
    int64_t bytes;
    int64_t kept_recent; /* unreferenced but inside the grace period */
    int64_t referenced;  /* files still referenced */
    int64_t in_flight;   /* uploads claimed by a live writer */
} tarn_gc_result;

TARN_EXTERN int tarn_gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts,
                        tarn_error *err);

#endif
