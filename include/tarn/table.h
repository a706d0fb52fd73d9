/* tarn/table.h — tables and namespaces on a ref: list, describe, import,
 * delete, revert.
 *
 * Names are `namespace.table`; a bare name lives in namespace `default`.
 * Data files are Parquet, written once under a unique name and never
 * changed; every write is one commit on a branch. */
#ifndef TARN_TABLE_H
#define TARN_TABLE_H

#include "common.h"
#include "lake.h"

typedef struct tarn_column {
    char *name;
    char *type; /* DuckDB's type name: BIGINT, VARCHAR, TIMESTAMP, ... */
} tarn_column;

typedef struct tarn_table_info {
    char *name;      /* namespace.table */
    char *namespace_;
    char *version;   /* the table version's id */
    size_t ncolumns;
    tarn_column *columns;
    int64_t row_count;
    int64_t file_count;
    int64_t size_bytes;
} tarn_table_info;

/* The tables at REF (NULL: the active branch), sorted. Free with
 * tarn_table_info_free(list, count). */
TARN_EXTERN int tarn_table_list(tarn_table_info **out, size_t *count, tarn_lake *lake,
                                const char *ref, tarn_error *err);
/* One table at REF; *out is filled and released with tarn_table_info_clear. */
TARN_EXTERN int tarn_table_get(tarn_table_info *out, tarn_lake *lake, const char *ref,
                               const char *name, tarn_error *err);
TARN_EXTERN void tarn_table_info_clear(tarn_table_info *info);
TARN_EXTERN void tarn_table_info_free(tarn_table_info *list, size_t count);

typedef enum tarn_import_mode {
    TARN_IMPORT_CREATE = 0,  /* the table must not exist */
    TARN_IMPORT_APPEND = 1,  /* the table must exist with the same schema */
    TARN_IMPORT_REPLACE = 2, /* new contents, whatever was there */
} tarn_import_mode;

/* Whether a CSV file's first line (after --skip) names its columns. */
typedef enum tarn_csv_header {
    TARN_CSV_HEADER_AUTO = 0, /* it does unless it fits the types of the lines below it */
    TARN_CSV_HEADER_YES = 1,
    TARN_CSV_HEADER_NO = 2, /* columns are named column0, column1, ... */
} tarn_csv_header;

typedef struct tarn_import_options {
    int version;
    tarn_import_mode mode;
    const char *format;  /* "csv", "parquet", "json"; NULL: from the extension */
    const char *message; /* commit message; NULL: a generated one */
    /* Called from another thread with the fraction done (0..1). */
    void (*progress)(double fraction, void *ctx);
    void *progress_ctx;
    /* Version 2: how a CSV file is read (zero/NULL: decided from the file;
     * see docs/import.md). Other formats refuse them. */
    const char *delimiter; /* 1 to 4 characters ("\t" or "tab": a tab) */
    tarn_csv_header header;
    const char *null_string;         /* fields with this text are NULL (empty ones always are) */
    const tarn_column *column_types; /* names and types that override the detected ones */
    size_t ncolumn_types;
    int64_t skip;         /* lines to skip before the header */
    const char *encoding; /* "utf-8" (default) or "latin-1" */
    const char *quote;    /* one character; default '"' */
    const char *escape;   /* escapes a quote in a quoted field; default: the quote */
    /* Version 3: what the default commit message calls the data (NULL:
     * PATH), for a caller importing a copy, such as a server importing an
     * upload under the name its client gave. */
    const char *source_name;
} tarn_import_options;

/* A caller built against version 1 or 2 keeps working: the library reads
 * only the fields its version has. */
#define TARN_IMPORT_OPTIONS_VERSION 3
/* clang-format off */
#define TARN_IMPORT_OPTIONS_INIT                                                                   \
    {TARN_IMPORT_OPTIONS_VERSION, TARN_IMPORT_CREATE, NULL, NULL, NULL, NULL, NULL,                \
     TARN_CSV_HEADER_AUTO, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL}
/* clang-format on */

typedef struct tarn_import_result {
    tarn_commit_id commit;
    int64_t rows;
    int64_t files;
} tarn_import_result;

/* Reads PATH (CSV, Parquet or JSON; plain or gzip; a glob names several
 * files of one format and header), writes Parquet data files, records their
 * statistics and commits on BRANCH (NULL: the active branch). Nothing is
 * dropped or merged silently: a CSV line that does not fit the columns, a
 * value that does not fit its column's type, JSON nested deeper than 1,000
 * levels, or data with no columns fails the import, naming the line, and
 * changes nothing. An append casts what widens safely to the table's types
 * (INTEGER to BIGINT, BIGINT to DOUBLE when exact, a column with only NULLs)
 * and refuses anything else, naming the columns and both types. */
TARN_EXTERN int tarn_table_import(tarn_import_result *out, tarn_lake *lake, const char *table,
                                  const char *path, const char *branch,
                                  const tarn_import_options *opts, tarn_error *err);

/* The same, from a sealed memfd FD holding one Arrow IPC stream (what
 * tarn.Table hands over); FD stays the caller's. */
TARN_EXTERN int tarn_table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake,
                                           const char *table, int fd, const char *branch,
                                           const tarn_import_options *opts, tarn_error *err);

/* Removes TABLE from BRANCH (NULL: active) in a new commit. */
TARN_EXTERN int tarn_table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table,
                                  const char *branch, tarn_error *err);

/* A new commit on INTO (NULL: active) restoring TABLE to its state at
 * SOURCE_REF (removing it if it did not exist there). History is kept. */
TARN_EXTERN int tarn_table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                                  const char *source_ref, const char *into, tarn_error *err);

/* Namespaces are versioned like tables: they live in a commit's tree. */
TARN_EXTERN int tarn_namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                                    tarn_error *err);
TARN_EXTERN void tarn_namespace_list_free(char **list, size_t count);
TARN_EXTERN int tarn_namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                      const char *branch, tarn_error *err);
/* Refuses a namespace that still holds tables. */
TARN_EXTERN int tarn_namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                      const char *branch, tarn_error *err);

#endif
