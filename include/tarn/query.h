/* tarn/query.h — SQL on any ref.
 *
 * tarn resolves every table a SELECT names against the ref (DuckDB's parser
 * says which), hands DuckDB only those tables' data files and runs it. */
#ifndef TARN_QUERY_H
#define TARN_QUERY_H

#include "common.h"
#include "lake.h"

typedef struct tarn_result tarn_result;

typedef struct tarn_query_options {
    int version;
    const char *ref;  /* NULL: the active branch */
    int64_t max_rows; /* rows to keep; -1: all */
} tarn_query_options;

#define TARN_QUERY_OPTIONS_VERSION 1
#define TARN_QUERY_OPTIONS_INIT {TARN_QUERY_OPTIONS_VERSION, NULL, -1}

/* Runs SQL; the first max_rows rows are kept as text. Free with
 * tarn_result_free. Malformed SQL and unknown tables are TARN_EINVALID /
 * TARN_ENOTFOUND with DuckDB's or tarn's message. */
TARN_EXTERN int tarn_query(tarn_result **out, tarn_lake *lake, const char *sql,
                           const tarn_query_options *opts, tarn_error *err);

typedef enum tarn_value_kind {
    TARN_VALUE_STRING = 0,
    TARN_VALUE_INTEGER = 1,
    TARN_VALUE_FLOAT = 2,
    TARN_VALUE_BOOLEAN = 3,
} tarn_value_kind;

TARN_EXTERN size_t tarn_result_column_count(const tarn_result *r);
TARN_EXTERN const char *tarn_result_column_name(const tarn_result *r, size_t col);
TARN_EXTERN const char *tarn_result_column_type(const tarn_result *r, size_t col);
TARN_EXTERN tarn_value_kind tarn_result_column_kind(const tarn_result *r, size_t col);
TARN_EXTERN size_t tarn_result_row_count(const tarn_result *r);
/* 1 when rows beyond max_rows were left out. */
TARN_EXTERN int tarn_result_truncated(const tarn_result *r);
/* The value as text, or NULL for SQL NULL; owned by the result. */
TARN_EXTERN const char *tarn_result_value(const tarn_result *r, size_t row, size_t col);
TARN_EXTERN void tarn_result_free(tarn_result **r);

/* Runs SQL and writes the whole result to PATH as Parquet or CSV (FORMAT
 * "parquet"/"csv"; NULL: from the extension). *rows gets the row count. */
TARN_EXTERN int tarn_query_to_file(int64_t *rows, tarn_lake *lake, const char *sql,
                                   const char *ref, const char *path, const char *format,
                                   tarn_error *err);

/* Runs SQL at REF (NULL: the active branch) and puts the whole result, as
 * one Arrow IPC stream, in a new sealed memfd *fd (the caller closes it):
 * how Python gets a tarn.Table without a copy. */
TARN_EXTERN int tarn_query_arrow_fd(int *fd, tarn_lake *lake, const char *sql, const char *ref,
                                    tarn_error *err);

/* ---- streaming ---------------------------------------------------------- */

struct ArrowSchema;
struct ArrowArray;
typedef struct tarn_query_stream tarn_query_stream;

typedef struct tarn_query_stream_options {
    int version;
    const char *ref;      /* NULL: the active branch */
    int as_text;          /* every column as text (utf8), for JSON and CSV */
    int64_t timeout_ms;   /* 0: none; past it the query is interrupted */
    int64_t memory_bytes; /* 0: DuckDB's default; past it the query fails */
    int threads;          /* 0: DuckDB's default */
} tarn_query_stream_options;

#define TARN_QUERY_STREAM_OPTIONS_VERSION 1
#define TARN_QUERY_STREAM_OPTIONS_INIT {TARN_QUERY_STREAM_OPTIONS_VERSION, NULL, 0, 0, 0, 0}

/* Plans SQL at REF like tarn_query and starts it; batches are then pulled
 * one at a time, so the whole result is never held. Close with
 * tarn_query_stream_close (which also stops a query still running). */
TARN_EXTERN int tarn_query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                                       const tarn_query_stream_options *opts, tarn_error *err);
/* The result's columns: their count, names and DuckDB type names (as
 * planned, also in text mode); owned by the stream. */
TARN_EXTERN size_t tarn_query_stream_column_count(const tarn_query_stream *s);
TARN_EXTERN const char *tarn_query_stream_column_name(const tarn_query_stream *s, size_t col);
TARN_EXTERN const char *tarn_query_stream_column_type(const tarn_query_stream *s, size_t col);
TARN_EXTERN tarn_value_kind tarn_query_stream_column_kind(const tarn_query_stream *s, size_t col);
/* The Arrow schema of the batches (the caller releases OUT). */
TARN_EXTERN int tarn_query_stream_schema(struct ArrowSchema *out, tarn_query_stream *s,
                                         tarn_error *err);
/* The next batch into OUT (the caller releases it); OUT->release is NULL
 * once the result is exhausted. A query past its time limit fails with
 * TARN_EABORTED, past its memory limit with TARN_EIO. */
TARN_EXTERN int tarn_query_stream_next(struct ArrowArray *out, tarn_query_stream *s,
                                       tarn_error *err);
/* Stops the query from another thread; the next call fails. */
TARN_EXTERN void tarn_query_stream_interrupt(tarn_query_stream *s);
TARN_EXTERN void tarn_query_stream_close(tarn_query_stream **s);

#endif
