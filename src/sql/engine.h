/* sql/engine.h — DuckDB sessions for tarn: an in-memory database per
 * operation, errors translated into tarn_error, and tables of a tree
 * exposed as views over exactly their data files. */
#ifndef TARN_SQL_ENGINE_H
#define TARN_SQL_ENGINE_H

#include <duckdb.h>

#include "catalog/catalog.h"
#include "util/util.h"

typedef struct tarn_duck {
    duckdb_database db;
    duckdb_connection con;
} tarn_duck;

int tarn__duck_open(tarn_duck *d, tarn_error *err);
void tarn__duck_close(tarn_duck *d);
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

/* The tables a SELECT names, from DuckDB's parser (nothing is bound):
 * *tables has keys "schema\ttable" (schema "" when not given), *ctes the
 * names of its common table expressions. Both are the caller's to decref,
 * also on failure. Not a SELECT, or malformed: TARN_EINVALID. */
#include <jansson.h>
int tarn__sql_referenced_tables(json_t **tables, json_t **ctes, tarn_duck *d, const char *sql,
                                tarn_error *err);

/* Schema JSON ([{"name","type"}]) and per-column statistics JSON
 * ({"col": {"min","max","nulls"}}, from the footer) of a Parquet file. */
int tarn__duck_describe_parquet(char **schema_json, char **stats_json, tarn_duck *d,
                                const char *path, tarn_error *err);
/* Appends `COPY (SELECT_SQL) TO 'DEST' (FORMAT parquet, ...)`: how every
 * data file tarn writes is written. */
void tarn__duck_copy_parquet_sql(strbuf *q, const char *select_sql, const char *dest);
/* Refuses (TARN_EINVALID, naming WHAT) a SELECT_SQL that has no columns:
 * a data file needs at least one. Checked before every data file is
 * written, as DuckDB's COPY fails on it with an internal error. */
int tarn__duck_check_columns(tarn_duck *d, const char *select_sql, const char *what,
                             tarn_error *err);
/* COPY (SELECT_SQL) TO DEST as Parquet (refusing zero columns), then
 * describe it. (These and tarn__duck_describe_parquet live in export.c.) */
int tarn__duck_write_parquet(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                             const char *select_sql, const char *dest, tarn_error *err);

/* Runs SELECT_SQL in D and puts the result, as Arrow IPC, in a new sealed
 * memfd *fd named NAME (the caller closes it). */
int tarn__duck_export_shm(int *fd, tarn_duck *d, const char *select_sql, const char *name,
                          tarn_error *err);

/* DuckDB's name for a logical type (BIGINT, DECIMAL(18,3), VARCHAR[],
 * STRUCT(a INTEGER), ...); malloc'd. */
char *tarn__duck_type_name(duckdb_logical_type t);

/* Strips DuckDB's "Parser Error: " style prefix noise, keeping the message. */
const char *tarn__duck_message(const char *msg);

#endif
