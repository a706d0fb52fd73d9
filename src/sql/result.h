/* sql/result.h — the inside of a tarn_result (library-internal): a query's
 * rows kept as text, made by sql/query.c locally and by remote/query.c
 * from a server's answer; tarn_result_free releases either. */
#ifndef TARN_SQL_RESULT_H
#define TARN_SQL_RESULT_H

#include "tarn/query.h"

struct tarn_result {
    size_t ncols, nrows;
    char **names, **types; /* malloc'd, one per column */
    tarn_value_kind *kinds;
    char **cells; /* nrows * ncols, row-major, malloc'd; NULL for SQL NULL */
    int truncated;
};

/* The format a result written to PATH takes: *FORMAT when given, else
 * PATH's extension; "csv" or "parquet", anything else TARN_EINVALID. */
int tarn__query_file_format(const char **format, const char *path, tarn_error *err);

#endif
