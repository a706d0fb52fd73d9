/* sql/answer.h — aggregates answered from the catalog's statistics,
 * without opening a data file. */
#ifndef TARN_SQL_ANSWER_H
#define TARN_SQL_ANSWER_H

#include <jansson.h>

#include "sql/prune.h"

/* SQL of constants that answers AGG (tarn__pushdown_aggregate) over a
 * table of columns COLS whose files are FS, VERDICTS[i] saying what its
 * filter does to file i (NONE: left out, ALL: kept whole), or NULL when
 * the statistics cannot answer: a file the filter keeps in part, a column
 * without exact statistics in some kept file, a type whose statistics are
 * not the very values DuckDB's min and max return. Column i of the answer
 * is named NAMES[i] and cast to TYPES[i] (DuckDB's own, from the
 * statement); N must be AGG's item count. Malloc'd. */
char *tarn__answer_sql(json_t *agg, const tarn_column *cols, size_t ncols,
                       const tarn_file_stats *fs, const tarn_verdict *verdicts, char *const *names,
                       char *const *types, size_t n);

#endif
