/* runtime/scancache.h — the differential scan cache: a source scan's result
 * (table version's files, columns, filter) kept as an Arrow IPC stream in
 * the local cache folder and reused by later scans (see scancache.c). */
#ifndef TARN_RUNTIME_SCANCACHE_H
#define TARN_RUNTIME_SCANCACHE_H

#include <jansson.h>
#include <stdint.h>

#include <pthread.h>

#include "sql/engine.h"

typedef struct tarn_scancache tarn_scancache;

/* The scan cache of LAKE: CACHE_DIR/scans (cache.dir, else
 * $XDG_CACHE_HOME/tarn, else ~/.cache/tarn), bounded by run.scan_cache_mb
 * (default 2048). OFF: every scan reads its files and nothing is kept. A
 * bad run.scan_cache_mb is TARN_EINVALID saying how to fix it. LAKE_MU
 * (NULL: none) is held around every use of LAKE's catalog and store. */
int tarn__scancache_open(tarn_scancache **out, tarn_lake *lake, pthread_mutex_t *lake_mu, int off,
                         tarn_error *err);
/* Results kept hot in memory, beside the folder: those of session RT's
 * warm runtime (src/runtime/warm.h), when it has one. */
struct tarn_rt_session;
void tarn__scancache_set_hot(tarn_scancache *sc, struct tarn_rt_session *rt);
/* Lets go of the entries this handle read and frees it. NULL allowed. */
void tarn__scancache_close(tarn_scancache **sc);

/* One source scan, as the planner left it. */
typedef struct tarn_scan_req {
    const char *table;      /* for messages */
    const char *version;    /* the table version read */
    json_t *files;          /* the keys the statistics kept (a JSON array) */
    json_t *columns;        /* NULL / empty: every column */
    const char *filter_sql; /* NULL: no filter */
    json_t *params;         /* the run's parameter values ($name in the filter) */
    const char *name;       /* names the memfd */
} tarn_scan_req;

/* How a scan was served. */
typedef struct tarn_scan_outcome {
    /* "off" (cache off), "miss" (read and kept), "uncached" (read, not
     * kept: see why), "exact", "subset" (columns and/or a filter implied
     * by a kept one), "append" (a kept result plus the files appended) */
    const char *how;
    int64_t rows;
    size_t new_files; /* files read for an append */
    int64_t micros;   /* the whole scan, cache work included */
    char why[160];    /* why a scan was not kept or a kept one not used */
} tarn_scan_outcome;

/* SELECT text of one scan: COLUMNS (NULL or empty: *) of FROM_SQL, where
 * FILTER_SQL holds (NULL: no WHERE). */
void tarn__scan_select_sql(strbuf *q, json_t *columns, const char *from_sql,
                           const char *filter_sql);

/* FROM text over the data files FILES (a JSON array of keys) of table
 * version VERSION: read_parquet over them, or the table's columns and no
 * rows when there is none. */
int tarn__scan_from_sql(strbuf *q, tarn_lake *lake, const char *version, json_t *files,
                        tarn_error *err);

/* Runs scan REQ on D into *fd (a sealed memfd holding one Arrow IPC
 * stream: exactly the columns and rows the scan asks for, whether served
 * from the cache or not), and says how in *out. A damaged or unusable
 * entry is never served: the scan reads its files instead. */
int tarn__scancache_read(int *fd, tarn_scan_outcome *out, tarn_scancache *sc, tarn_duck *d,
                         const tarn_scan_req *req, tarn_error *err);

#endif
