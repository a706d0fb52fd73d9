/* sql/prune.h — which data files a filter can skip, judged by the
 * statistics recorded for each file (min, max, nulls per column).
 *
 * Skipping is an optimisation, never a change of result: a file is skipped
 * only when statistics known to be exact prove that no row of it passes
 * the filter. */
#ifndef TARN_SQL_PRUNE_H
#define TARN_SQL_PRUNE_H

#include <jansson.h>

#include "tarn/sys/catalog.h"
#include "tarn/table.h"
#include "util/util.h"

struct tarn_duck;

/* The column a column path (DuckDB's column_names: ["x"], ["s", "x"] for
 * field x of struct s, relative to the table) names, if statistics are
 * recorded for it: only top-level flat columns have them. Names compare as
 * DuckDB compares them (case folded). Returns 1 and sets *column (the
 * table's own spelling, the key of the statistics) and *type, else 0. */
int tarn__stats_column(const char **column, const char **type, const tarn_column *cols,
                       size_t ncols, json_t *path);

/* 1 for types whose Parquet min and max DuckDB always writes exactly
 * (integers, decimals, dates and times, booleans): no NaN, no truncation. */
int tarn__stats_always_exact(const char *type);

/* The statistics of COLUMN (of TYPE) in a file's statistics FILE_STATS
 * ({"col": {"min", "max", "nulls", "exact"}}) when min and max are known
 * exactly, else NULL. Exact: every row group of the file had statistics
 * and none was truncated or left out (NaN), as recorded when the file was
 * written; statistics recorded before "exact" existed count only for types
 * whose statistics cannot be inexact (integers, decimals, dates and times,
 * booleans). Borrowed from FILE_STATS. */
json_t *tarn__stats_exact(json_t *file_stats, const char *column, const char *type);

/* The conjuncts of a filter that statistics can judge. */
typedef struct tarn_prune tarn_prune;

/* Reads WHERE (a filter's parse tree, tarn__sql_filter_parse) for a table
 * of columns COLS: each top-level conjunct `column OP constant`, `column
 * BETWEEN a AND b` or `column IN (...)` (constants may be $parameters) on a
 * column with statistics. NULL WHERE: none. Free with tarn__prune_free. */
tarn_prune *tarn__prune_new(json_t *where, const tarn_column *cols, size_t ncols);
size_t tarn__prune_count(const tarn_prune *p);
void tarn__prune_free(tarn_prune **p);

/* The catalog's records of data files, their statistics parsed. */
typedef struct tarn_file_stats {
    size_t n;
    tarn_data_file *records; /* key, row_count, size_bytes, stats_json */
    json_t **stats;          /* {"col": {"min", "max", "nulls", "exact"}}, {} when none */
} tarn_file_stats;

/* Reads the records of data files KEYS[0..N) from LAKE's catalog. Clear
 * with tarn__file_stats_clear, also on failure. */
int tarn__file_stats_load(tarn_file_stats *out, tarn_lake *lake, char *const *keys,
                          size_t n, tarn_error *err);
void tarn__file_stats_clear(tarn_file_stats *fs);

/* 1 when the filter has no top-level AND term beside those read. */
int tarn__prune_complete(const tarn_prune *p);

/* What statistics prove of a file for a filter. */
typedef enum tarn_verdict {
    TARN_VERDICT_NONE = 0, /* no row passes: the file can be skipped */
    TARN_VERDICT_SOME = 1, /* rows may pass */
    TARN_VERDICT_ALL = 2,  /* every row passes (every term read, exact, no NULL) */
} tarn_verdict;

/* Judges NFILES files at once, file i having statistics FILE_STATS[i],
 * in D with the filter's $parameters bound from PARAMS: OUT[i] gets file
 * i's verdict. Statistics that cannot be compared prove nothing (SOME);
 * it never fails. */
int tarn__prune_judge(tarn_verdict *out, const tarn_prune *p, json_t *const *file_stats,
                      size_t nfiles, struct tarn_duck *d, json_t *params);

#endif
