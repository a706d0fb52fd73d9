/* store/store.h — opening the lakehouse's object store and making data
 * files readable before DuckDB opens them (library-internal). */
#ifndef TARN_STORE_STORE_H
#define TARN_STORE_STORE_H

#include "lake/lake.h"
#include "util/util.h"

/* The store LAKE's config names (`storage`): the local folder
 * `.tarn/objects/` when none, `s3://bucket/prefix` for S3. */
int tarn__store_open(tarn_store **out, tarn_lake *lake, tarn_error *err);

/* Appends to CONFIG the lines that record OPTS's storage in a new
 * lakehouse's .tarn/config, after checking it can hold one. */
#include "util/util.h"
int tarn__store_init_config(strbuf *config, const tarn_init_options *opts, tarn_error *err);

/* A local path DuckDB reads data file KEY from: the store's (fetched
 * first when it is not local), or, for an external table's file (an
 * absolute file:// location), the file itself. */
int tarn__store_read_path(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err);
/* The same path without fetching anything (what a confined DuckDB may open). */
int tarn__store_path_of(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err);

/* The location engines other than tarn read object KEY at: the file://
 * URI of the local folder's file, or s3://bucket/prefix/KEY. */
void tarn__store_uri(strbuf *out, tarn_lake *lake, const char *key);

/* The S3 store of URL (s3://bucket[/prefix]) configured by LAKE. */
int tarn__store_s3_open(tarn_store **out, tarn_lake *lake, const char *url, tarn_error *err);

/* Checks that URL can hold a new lakehouse (the bucket answers, the prefix
 * is empty) before `tarn init` records it. */
int tarn__store_s3_check_new(tarn_lake *lake, const char *url, tarn_error *err);

/* Makes data files KEYS[0..N) of LAKE readable locally, fetching what the
 * store does not hold locally in parallel and checking each against the
 * size the catalog recorded. Nothing to do for a local store. */
int tarn__store_prefetch(tarn_lake *lake, const char *const *keys, size_t n, tarn_error *err);
/* Starts fetching KEYS[0..N) on a thread of its own (best effort: what
 * fails is fetched again, and reported, by tarn__store_prefetch), so that
 * a download overlaps the work before a query knows what it reads. Every
 * store call of this file waits for it first; so must anything else that
 * uses LAKE's store (tarn__store_prefetch_wait). */
/* 1 when LAKE's store downloads data files before they are read (S3). */
int tarn__store_fetches(tarn_lake *lake);
void tarn__store_prefetch_early(tarn_lake *lake, const char *const *keys, size_t n);
void tarn__store_prefetch_wait(tarn_lake *lake);

/* An import source on S3 (s3://bucket/key, a prefix ending in '/', or a
 * glob such as s3://bucket/raw/2024/\*.parquet) downloaded into a new
 * folder: *DIR gets the folder (remove it with tarn__s3_source_done) and
 * *GLOB a pattern DuckDB reads every downloaded file with. */
int tarn__s3_source_fetch(char **dir, char **glob, tarn_lake *lake, const char *url,
                          tarn_error *err);
void tarn__s3_source_done(char **dir, char **glob);

#endif
