/* sql/prune.h — which data files a filter can skip, judged by the
 * statistics recorded for each file (min, max, nulls per column).
 *
 * Skipping is an optimisation, never a change of result: a file is skipped
 * only when statistics known to be exact prove that no row of it passes
 * the filter. */
#ifndef TARN_SQL_PRUNE_H
#define TARN_SQL_PRUNE_H

#include <jansson.h>

#include "tarn/table.h"
#include "util/util.h"

/* The column a column path (DuckDB's column_names: ["x"], ["s", "x"] for
 * field x of struct s, relative to the table) names, if statistics are
 * recorded for it: only top-level flat columns have them. Names compare as
 * DuckDB compares them (case folded). Returns 1 and sets *column (the
 * table's own spelling, the key of the statistics) and *type, else 0. */
int tarn__stats_column(const char **column, const char **type, const tarn_column *cols,
                       size_t ncols, json_t *path);

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

/* Appends a SQL expression, true unless a file with statistics FILE_STATS
 * surely holds no row the filter keeps. It may hold the filter's
 * $parameters: run it with them bound. */
void tarn__prune_file_test(strbuf *q, const tarn_prune *p, json_t *file_stats);

#endif
