/* sql/engine.h — DuckDB sessions for tarn: an in-memory database per
 * operation, errors translated into tarn_error, and tables of a tree
 * exposed as views over exactly their data files. */
#ifndef TARN_SQL_ENGINE_H
#define TARN_SQL_ENGINE_H

#include <duckdb.h>
#include <jansson.h>

#include "catalog/catalog.h"
#include "tarn/query.h"
#include "util/util.h"

typedef struct tarn_duck {
    duckdb_database db;
    duckdb_connection con;
    tarn_query_limits limits; /* applied by tarn__duck_confine, before the lock */
} tarn_duck;

/* An in-memory DuckDB. As opened it can read and write any file the
 * process can: for tarn's own statements (imports, writing data files).
 * User SQL runs only after tarn__duck_confine. */
int tarn__duck_open(tarn_duck *d, tarn_error *err);
/* Shuts D off from the host, before any user SQL runs on it: DuckDB may
 * then read exactly the files PATHS (a JSON array of absolute paths: the
 * data files of the tables the SQL names) and nothing else. No other file,
 * no glob, no URL, no extension, no ATTACH of a file, no COPY TO, and the
 * configuration is locked so that no statement can undo it. */
int tarn__duck_confine(tarn_duck *d, json_t *paths, tarn_error *err);
/* Appends to PATHS the local paths of the data files of table version ID. */
int tarn__duck_add_version_paths(json_t *paths, tarn_lake *lake, const char *version_id,
                                 tarn_error *err);
void tarn__duck_close(tarn_duck *d);
/* sql/query.c: opens a confined session for user SQL at REF (see there);
 * *run is the statement to run, *prepared (may be NULL) it prepared. On
 * failure D is closed. */
int tarn__query_open(tarn_duck *d, char **run, tarn_lake *lake, const char *sql, const char *ref,
                     duckdb_prepared_statement *prepared, tarn_error *err);
/* How a DuckDB type name reads as a value (integer, float, ...). */
tarn_value_kind tarn__query_kind(const char *type);
/* Prepares SQL (one statement) and binds its $name parameters from PARAMS
 * ({"name": value}, NULL for none): values are bound, never spliced into
 * SQL text. Nothing runs. *out is the caller's to destroy. SQL that does
 * not bind is CODE, a parameter without a value TARN_EINVALID; messages
 * start with WHAT. */
int tarn__duck_prepare_bound(duckdb_prepared_statement *out, tarn_duck *d, const char *sql,
                             json_t *params, int code, const char *what, tarn_error *err);
/* Prepares, binds and runs SQL into *res (caller destroys it, also on
 * failure); a failure to run is CODE. */
int tarn__duck_query_bound(duckdb_result *res, tarn_duck *d, const char *sql, json_t *params,
                           int code, const char *what, tarn_error *err);
/* Appends table or model NAME ("t", "ns.t") as DuckDB names it: namespace
 * default is DuckDB's schema main. */
void tarn__sql_append_table(strbuf *out, const char *name);
/* Runs SQL, discarding the result. CODE is the tarn code for a failure. */
int tarn__duck_exec(tarn_duck *d, const char *sql, int code, const char *what, tarn_error *err);
/* Runs SQL into *res (caller destroys it, also on failure). */
int tarn__duck_query(duckdb_result *res, tarn_duck *d, const char *sql, int code, const char *what,
                     tarn_error *err);
/* A VARCHAR value of a DuckDB vector as a malloc'd C string. */
char *tarn__duck_string_copy(duckdb_string_t *s);
/* Appends SQL without its trailing blanks and semicolons, so that it can be
 * nested in another statement (the caller adds a newline after it, which
 * ends a trailing -- comment). */
void tarn__sql_nestable(strbuf *out, const char *sql);
/* The text of column COL, row ROW of a VARCHAR result (malloc'd; NULL for NULL). */
char *tarn__duck_text(duckdb_result *res, idx_t col, idx_t row);
/* The integer that column COL, row ROW of a VARCHAR result holds (0 for
 * NULL): cast integers to VARCHAR in the query. Once a result has been read
 * by chunks (tarn__duck_text), DuckDB's duckdb_value_int64 returns 0. (In
 * export.c.) */
int64_t tarn__duck_int(duckdb_result *res, idx_t col, idx_t row);

/* Appends `read_parquet([...])` over the data files KEYS[0..N). */
int tarn__duck_read_parquet_sql(strbuf *out, tarn_lake *lake, const char *const *keys, size_t n,
                                tarn_error *err);
/* Appends `read_parquet([...])` over the files of table version ID. */
int tarn__duck_scan_sql(strbuf *out, tarn_lake *lake, const char *version_id, tarn_error *err);
/* Creates view SCHEMA.NAME (SCHEMA NULL: main) over table version ID. */
int tarn__duck_register(tarn_duck *d, tarn_lake *lake, const char *schema, const char *name,
                        const char *version_id, tarn_error *err);
/* The same over data files KEYS[0..N) of a table (its rows in them);
 * EMPTY: its columns only, no row (KEYS then needs one file, for them). */
int tarn__duck_register_files(tarn_duck *d, tarn_lake *lake, const char *schema, const char *name,
                              const char *const *keys, size_t n, int empty, tarn_error *err);

/* Schema JSON ([{"name","type"}]) and per-column statistics JSON
 * ({"col": {"min","max","nulls"}}, from the footer) of a Parquet file. */
int tarn__duck_describe_parquet(char **schema_json, char **stats_json, tarn_duck *d,
                                const char *path, tarn_error *err);
/* Appends `COPY (SELECT_SQL) TO 'DEST' (FORMAT parquet, ...)`: how every
 * data file tarn writes is written; with the Iceberg field ids of IDS_JSON
 * (a schema JSON with ids, NULL: none) in its Parquet schema. */
void tarn__duck_copy_parquet_sql(strbuf *q, const char *select_sql, const char *dest,
                                 const char *ids_json);
/* The columns SELECT_SQL yields, as schema JSON with Iceberg field ids: a
 * column named and shaped like one of BASE_JSON (the table's schema;
 * "[]" for a new table) keeps its ids, any other gets new ones. */
int tarn__duck_field_ids(char **ids_json, tarn_duck *d, const char *select_sql,
                         const char *base_json, tarn_error *err);
/* *SCHEMA_JSON (as described from the written file) given the ids of
 * IDS_JSON, column by column. */
int tarn__duck_schema_with_ids(char **schema_json, const char *ids_json, tarn_error *err);
/* Refuses (TARN_EINVALID, naming WHAT) a SELECT_SQL that has no columns:
 * a data file needs at least one. Checked before every data file is
 * written, as DuckDB's COPY fails on it with an internal error. */
int tarn__duck_check_columns(tarn_duck *d, const char *select_sql, const char *what,
                             tarn_error *err);
/* COPY (SELECT_SQL) TO DEST as Parquet (refusing zero columns), then
 * describe it; a table's data file (IDS_BASE: the table's schema, "[]"
 * for a new one) carries Iceberg field ids, which *schema_json holds too.
 * (These and tarn__duck_describe_parquet live in export.c.) */
int tarn__duck_write_parquet(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                             const char *select_sql, const char *dest, const char *ids_base,
                             tarn_error *err);

/* A DuckDB for tarn__duck_write_result's writes (never user SQL). */
int tarn__duck_open_writer(tarn_duck *w, tarn_error *err);
/* Runs SELECT_SQL (its $name parameters bound from PARAMS) in D, a
 * confined session, and writes the result to DEST through a second DuckDB
 * that runs only tarn's COPY: WRITER (from tarn__duck_open_writer, shared
 * by concurrent writes), or one of its own when WRITER is NULL. FORMAT
 * "parquet" (as every data file tarn writes; *schema_json and *stats_json
 * as tarn__duck_describe_parquet says, when not NULL; with field ids as
 * tarn__duck_write_parquet says when IDS_BASE is not NULL) or "csv" (with
 * a header). *rows gets the row count. */
int tarn__duck_write_result(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                            tarn_duck *writer, const char *select_sql, json_t *params,
                            const char *dest, const char *format, const char *ids_base,
                            tarn_error *err);

/* Runs SELECT_SQL in D and puts the result, as Arrow IPC, in a new sealed
 * memfd *fd named NAME (the caller closes it). */
int tarn__duck_export_shm(int *fd, tarn_duck *d, const char *select_sql, const char *name,
                          tarn_error *err);
/* The same for a result already run (the caller still destroys it). */
int tarn__duck_result_shm(int *fd, duckdb_result *res, const char *name, tarn_error *err);

/* DuckDB's name for a logical type (BIGINT, DECIMAL(18,3), VARCHAR[],
 * STRUCT(a INTEGER), ...); malloc'd. */
char *tarn__duck_type_name(duckdb_logical_type t);

/* Strips DuckDB's "Parser Error: " style prefix noise, keeping the message. */
const char *tarn__duck_message(const char *msg);
/* Sets ERR to CODE and "WHAT: MSG" (DuckDB's message), adding what to do
 * when a confined session refused to touch a file or an extension. */
int tarn__duck_fail(tarn_error *err, int code, const char *what, const char *msg);

#endif
