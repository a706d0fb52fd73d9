/* table/csv.h — reading CSV files for an import: the dialect decided once
 * (from the options or from the file), every line read strictly, and bad
 * lines reported by number instead of dropped or merged. */
#ifndef TARN_TABLE_CSV_H
#define TARN_TABLE_CSV_H

#include "sql/engine.h"
#include "tarn/table.h"

/* What tarn__csv_select decided, for tarn__csv_check_rejects. */
typedef struct tarn_csv_read {
    tarn_column *cols; /* the file's columns, in its order, with the types read */
    char *given;       /* per column: 1 when its type came from --column-types */
    size_t ncols;
    int append;     /* the types are the existing table's */
    int byte_lines; /* DuckDB's byte offsets are the file's (not re-encoded) */
    char delim[8], quote, escape;
} tarn_csv_read;

/* Appends to SELECT a query that reads FILES (N, one dialect, the first
 * file's header) with OPTS and yields the columns to import: in the file's
 * order, or, when TABLE (NTABLE columns, the existing table's schema) is
 * given, in the table's order with the table's types (an append). Lines that
 * do not fit are collected by DuckDB as it reads; tarn__csv_check_rejects
 * turns them into the import's error. Refuses (TARN_EINVALID) what it can
 * tell before reading: an unusable option, an empty or duplicate column
 * name, a header that differs between files or from the table's columns.
 * *out is filled in any case; release it with tarn__csv_read_clear. */
int tarn__csv_select(tarn_csv_read *out, strbuf *select, tarn_duck *d, char **files, size_t n,
                     const tarn_import_options *opts, const tarn_column *table, size_t ntable,
                     tarn_error *err);
void tarn__csv_read_clear(tarn_csv_read *r);

/* After the query of tarn__csv_select ran: 0 when every line was read, or
 * TARN_EINVALID naming the first bad line (file, line number, what was
 * wrong, what to do) and how many there were. */
int tarn__csv_check_rejects(const tarn_csv_read *r, tarn_duck *d, tarn_error *err);

/* The CSV options of OPTS used with another format: TARN_EINVALID naming
 * the first one. */
int tarn__csv_options_unused(const tarn_import_options *opts, const char *format, tarn_error *err);

#endif
