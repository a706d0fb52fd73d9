/* sql/refs.h — what a user's SQL statement or filter names, read from
 * DuckDB's own parse tree (nothing is bound or run), and the rules user SQL
 * must keep: one SELECT, tables named in FROM, parameters by name. */
#ifndef TARN_SQL_REFS_H
#define TARN_SQL_REFS_H

#include <jansson.h>

#include "sql/engine.h"

typedef struct tarn_sql_refs {
    char *sql;      /* the statement as DuckDB is given it (`default.` spelled `main.`) */
    json_t *tables; /* [{"schema", "table"}]: the tables it reads, one per name
                       (case folded) as first written ("respelled": true if it is
                       written another way too), its common table expressions left
                       out; schema "" for namespace default (bare, `main.`, `default.`) */
    json_t *params; /* {"name": true} for the $name parameters it uses */
    json_t *tree;   /* DuckDB's parse tree of sql ({"statements": [...]}) */
} tarn_sql_refs;

/* Parses SQL, which must be one SELECT. Refused with TARN_EINVALID and a
 * message saying what to do: anything else, malformed SQL, three-part
 * names, positional parameters (? and $1), and query()/query_table(),
 * which read tables named in strings. Clear *out with tarn__sql_refs_clear,
 * also on failure. */
int tarn__sql_refs_parse(tarn_sql_refs *out, tarn_duck *d, const char *sql, tarn_error *err);
void tarn__sql_refs_clear(tarn_sql_refs *r);

/* Parses FILTER, a condition on the columns of one table: it must be
 * exactly one SQL expression (no second statement, no clause after it, no
 * subquery). *where gets its parse tree and *params the $names it uses
 * (both the caller's to decref, NULL on failure). TARN_EINVALID with the
 * reason otherwise. */
int tarn__sql_filter_parse(json_t **where, json_t **params, tarn_duck *d, const char *filter,
                           tarn_error *err);

/* The first name of PARAMS ({"name": ...}) that DECLARED (an object)
 * lacks, or NULL when all are declared. */
const char *tarn__sql_params_missing(json_t *params, json_t *declared);

#endif
