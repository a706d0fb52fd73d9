/* sql/pushdown.h — which terms of a statement's WHERE clauses restrict the
 * rows each table it names must supply, read from DuckDB's parse tree.
 *
 * A table may be read in several places of one statement (a self-join, a
 * subquery, a UNION): what the statement needs of it is the union of what
 * each place needs, and one place without a usable restriction needs it
 * all. */
#ifndef TARN_SQL_PUSHDOWN_H
#define TARN_SQL_PUSHDOWN_H

#include <jansson.h>

#include "tarn/table.h"

/* The restrictions of the tables TABLES (tarn__sql_refs_parse's list) in
 * STATEMENT (its parse tree, "statements" included). COLS[i] / NCOLS[i]
 * are table i's columns. Returns a new JSON array parallel to TABLES: null
 * where some reference reads table i unrestricted, else an array with one
 * WHERE tree per reference (a CONJUNCTION_AND of terms `column OP
 * constant`, `column BETWEEN a AND b` or `column IN (...)` whose column
 * paths are relative to the table), for tarn__prune_new. A table that
 * only common table expressions shadow gets an empty array: no reference
 * reads it. */
json_t *tarn__pushdown(json_t *statement, json_t *tables, tarn_column *const *cols,
                       const size_t *ncols);

/* The parts of a statement that is exactly one aggregate over one table:
 * `SELECT count(*), min(col), max(col) ... FROM table [WHERE terms]`, no
 * other clause, no DISTINCT, FILTER or window, no sample. Returns
 * {"table": index into TABLES, "items": [{"fn": "count"|"min"|"max",
 * "column": the table's own spelling}], "where": WHERE tree relative to
 * the table (null: none), "terms": how many top-level AND terms the WHERE
 * has}, or NULL when the statement is anything else. */
json_t *tarn__pushdown_aggregate(json_t *statement, json_t *tables, tarn_column *const *cols,
                                 const size_t *ncols);

#endif
