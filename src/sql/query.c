/* sql/query.c — `tarn query`: SQL on any ref.
 *
 * DuckDB's parser lists the tables a statement names (CTEs excluded); each
 * must exist in the ref's tree and becomes a view over exactly its data
 * files, and DuckDB is confined to those files before the statement runs:
 * it sees the tables of its ref that it names, and nothing else on the
 * host. Only one read-only SELECT is accepted. Results are kept as text (up
 * to max_rows) with their DuckDB types; written to a file, they go through
 * a second DuckDB that runs no user SQL (sql/pipe.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "lake/ops.h"
#include "sql/engine.h"
#include "sql/refs.h"
#include "sql/result.h"
#include "tarn/query.h"
#include "util/error.h"
#include "util/util.h"

static tarn_value_kind kind_of(const char *type);

/* Opens a DuckDB session for SQL at REF: checks SQL is one SELECT,
 * resolves every table it names in the ref's tree, confines the session to
 * exactly those tables' data files, exposes each as a view and binds SQL.
 * *run gets the text to run (malloc'd); *prepared (if not NULL) the
 * prepared statement (the caller destroys it), whose columns give the
 * result's names and types. On failure D is closed. */
static int open_query(tarn_duck *d, char **run, tarn_lake *lake, const char *sql, const char *ref,
                      duckdb_prepared_statement *prepared, tarn_error *err)
{
    *run = NULL;
    if (prepared) *prepared = NULL;
    if (!sql || !*sql) return tarn__error_set(err, TARN_EINVALID, "no SQL given");
    tarn_tree tree = {0};
    tarn_commit_id commit;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, &commit, lake, ref, err));
    tarn_sql_refs refs;
    json_t *views = json_array(), *paths = json_array();
    int rc = tarn__duck_open(d, err);
    if (rc == 0) d->limits = lake->query_limits;
    if (rc < 0) {
        tarn__tree_clear(&tree);
        json_decref(views);
        json_decref(paths);
        return rc;
    }
    rc = tarn__sql_refs_parse(&refs, d, sql, err);
    if (rc == 0 && json_object_size(refs.params))
        rc = tarn__error_set(err, TARN_EINVALID,
                             "tarn query takes no parameters: write the value of $%s into the SQL",
                             json_object_iter_key(json_object_iter(refs.params)));
    size_t i;
    json_t *t;
    json_array_foreach(refs.tables, i, t)
    {
        if (rc < 0) break;
        const char *schema = json_string_value(json_object_get(t, "schema"));
        const char *table = json_string_value(json_object_get(t, "table"));
        char full[620];
        snprintf(full, sizeof full, "%s.%s", *schema ? schema : "default", table);
        tarn_tree_entry *e = NULL;
        rc = tarn__name_lookup(&e, &tree, full, !json_is_true(json_object_get(t, "respelled")), err);
        if (rc == 0 && (!e || e->kind != TARN_ENTRY_TABLE)) {
            size_t within = 4; /* only near misses */
            const char *near = tarn__tree_nearest_table(&tree, full, &within);
            rc = tarn__error_set(err, TARN_ENOTFOUND, "table '%s' not found at ref '%s'%s%s%s",
                                 *schema ? full : table, tarn__ref_display(lake, ref),
                                 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        if (rc == 0) rc = tarn__duck_add_version_paths(paths, lake, e->version, err);
        if (rc == 0)
            json_array_append_new(views, json_pack("{s:s?,s:s,s:s}", "schema", *schema ? schema : NULL,
                                                   "table", table, "version", e->version));
    }
    tarn__tree_clear(&tree);
    /* From here on the session reads those files and nothing else. */
    if (rc == 0) rc = tarn__duck_confine(d, paths, err);
    json_array_foreach(views, i, t)
    {
        if (rc < 0) break;
        rc = tarn__duck_register(d, lake, json_string_value(json_object_get(t, "schema")),
                                 json_string_value(json_object_get(t, "table")),
                                 json_string_value(json_object_get(t, "version")), err);
    }
    json_decref(views);
    json_decref(paths);
    /* The parser accepted one SELECT only (json_serialize_sql serializes
     * nothing else); binding now reports unknown columns and the like. */
    duckdb_prepared_statement prep = NULL;
    if (rc == 0) rc = tarn__duck_prepare_bound(&prep, d, refs.sql, NULL, TARN_EINVALID, "invalid SQL", err);
    if (rc == 0 && prepared) *prepared = prep;
    else duckdb_destroy_prepare(&prep);
    if (rc == 0) {
        *run = refs.sql;
        refs.sql = NULL;
    } else {
        tarn__duck_close(d);
    }
    tarn__sql_refs_clear(&refs);
    return rc;
}

int tarn__query_open(tarn_duck *d, char **run, tarn_lake *lake, const char *sql, const char *ref,
                     duckdb_prepared_statement *prepared, tarn_error *err)
{
    return open_query(d, run, lake, sql, ref, prepared, err);
}

tarn_value_kind tarn__query_kind(const char *type)
{
    return kind_of(type);
}

static tarn_value_kind kind_of(const char *type)
{
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                                       "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (strcmp(type, ints[i]) == 0) return TARN_VALUE_INTEGER;
    if (strcmp(type, "FLOAT") == 0 || strcmp(type, "DOUBLE") == 0 || strncmp(type, "DECIMAL", 7) == 0)
        return TARN_VALUE_FLOAT;
    if (strcmp(type, "BOOLEAN") == 0) return TARN_VALUE_BOOLEAN;
    return TARN_VALUE_STRING;
}

int tarn_local__query(tarn_result **out, tarn_lake *lake, const char *sql,
                      const tarn_query_options *opts, tarn_error *err)
{
    *out = NULL;
    tarn_query_options defaults = TARN_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    tarn_duck d;
    char *run = NULL;
    duckdb_prepared_statement prep = NULL;
    TARN_RETURN_NOT_OK(open_query(&d, &run, lake, sql, opts->ref, &prep, err));
    tarn_result *r = calloc(1, sizeof *r);
    strbuf q = {0};
    duckdb_result res = {0};
    int have_res = 0;
    int rc = 0;

    /* Names and types from the bound statement, then the values cast to
     * text by DuckDB itself (one LIMIT row more than wanted tells whether
     * rows were left out). */
    r->ncols = (size_t)duckdb_prepared_statement_column_count(prep);
    r->names = calloc(r->ncols ? r->ncols : 1, sizeof *r->names);
    r->types = calloc(r->ncols ? r->ncols : 1, sizeof *r->types);
    r->kinds = calloc(r->ncols ? r->ncols : 1, sizeof *r->kinds);
    for (size_t c = 0; c < r->ncols; c++) {
        const char *name = duckdb_prepared_statement_column_name(prep, c);
        r->names[c] = strdup(name ? name : "");
        duckdb_free((void *)name); /* DuckDB's copy */
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(prep, c);
        r->types[c] = tarn__duck_type_name(t);
        duckdb_destroy_logical_type(&t);
        r->kinds[c] = kind_of(r->types[c]);
    }
    duckdb_destroy_prepare(&prep);

    q.len = 0;
    sb_append(&q, "SELECT COLUMNS(*)::VARCHAR FROM (");
    tarn__sql_nestable(&q, run);
    sb_append(&q, "\n)");
    if (opts->max_rows >= 0) sb_printf(&q, " LIMIT %lld", (long long)opts->max_rows + 1);
    have_res = 1;
    if ((rc = tarn__duck_query(&res, &d, sb_str(&q), TARN_EINVALID, "query failed", err)) < 0) goto done;
    size_t rows = (size_t)duckdb_row_count(&res);
    if (opts->max_rows >= 0 && rows > (size_t)opts->max_rows) {
        rows = (size_t)opts->max_rows;
        r->truncated = 1;
    }
    r->nrows = rows;
    r->cells = calloc(rows * r->ncols + 1, sizeof *r->cells);
    /* Chunks need not be full: advance by each chunk's own size. */
    idx_t nchunks = duckdb_result_chunk_count(res);
    size_t base = 0;
    for (idx_t ci = 0; ci < nchunks && base < rows; ci++) {
        duckdb_data_chunk chunk = duckdb_result_get_chunk(res, ci);
        if (!chunk) break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (size_t c = 0; c < r->ncols; c++) {
            duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
            uint64_t *validity = duckdb_vector_get_validity(vec);
            duckdb_string_t *data = (duckdb_string_t *)duckdb_vector_get_data(vec);
            for (idx_t k = 0; k < n && base + k < rows; k++) {
                if (validity && !duckdb_validity_row_is_valid(validity, k)) continue;
                r->cells[(base + k) * r->ncols + c] = tarn__duck_string_copy(&data[k]);
            }
        }
        base += n;
        duckdb_destroy_data_chunk(&chunk);
    }
    rc = 0;
done:
    if (have_res) duckdb_destroy_result(&res);
    sb_free(&q);
    free(run);
    tarn__duck_close(&d);
    if (rc < 0) tarn_result_free(&r);
    *out = r;
    return rc;
}

size_t tarn_result_column_count(const tarn_result *r)
{
    return r->ncols;
}
const char *tarn_result_column_name(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->names[col] : NULL;
}
const char *tarn_result_column_type(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->types[col] : NULL;
}
tarn_value_kind tarn_result_column_kind(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->kinds[col] : TARN_VALUE_STRING;
}
size_t tarn_result_row_count(const tarn_result *r)
{
    return r->nrows;
}
int tarn_result_truncated(const tarn_result *r)
{
    return r->truncated;
}
const char *tarn_result_value(const tarn_result *r, size_t row, size_t col)
{
    if (row >= r->nrows || col >= r->ncols) return NULL;
    return r->cells[row * r->ncols + col];
}

void tarn_result_free(tarn_result **rp)
{
    if (!rp || !*rp) return;
    tarn_result *r = *rp;
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->names) free(r->names[c]);
        if (r->types) free(r->types[c]);
    }
    if (r->cells)
        for (size_t i = 0; i < r->nrows * r->ncols; i++) free(r->cells[i]);
    free(r->cells);
    free(r->names);
    free(r->types);
    free(r->kinds);
    free(r);
    *rp = NULL;
}

int tarn__query_file_format(const char **format, const char *path, tarn_error *err)
{
    if (!*format) {
        const char *dot = strrchr(path, '.');
        *format = dot && strcmp(dot, ".csv") == 0       ? "csv"
                  : dot && strcmp(dot, ".parquet") == 0 ? "parquet"
                                                        : NULL;
        if (!*format)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot tell the format of '%s': name it .parquet or .csv", path);
    }
    if (strcmp(*format, "csv") != 0 && strcmp(*format, "parquet") != 0)
        return tarn__error_set(err, TARN_EINVALID, "unknown output format '%s' (parquet or csv)",
                               *format);
    return 0;
}

int tarn_local__query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                              const char *path, const char *format, tarn_error *err)
{
    *rows = 0;
    TARN_RETURN_NOT_OK(tarn__query_file_format(&format, path, err));
    tarn_duck d;
    char *run = NULL;
    TARN_RETURN_NOT_OK(open_query(&d, &run, lake, sql, ref, NULL, err));
    char *schema = NULL, *stats = NULL;
    strbuf q = {0};
    tarn__sql_nestable(&q, run);
    sb_append(&q, "\n");
    int rc = tarn__duck_write_result(rows, &schema, &stats, &d, sb_str(&q), NULL, path, format, NULL, err);
    free(schema);
    free(stats);
    sb_free(&q);
    free(run);
    tarn__duck_close(&d);
    return rc;
}

int tarn_local__query_arrow_fd(int *fd, tarn_lake *lake, const char *sql, const char *ref,
                               tarn_error *err)
{
    *fd = -1;
    tarn_duck d;
    char *run = NULL;
    TARN_RETURN_NOT_OK(open_query(&d, &run, lake, sql, ref, NULL, err));
    strbuf q = {0};
    tarn__sql_nestable(&q, run);
    sb_append(&q, "\n");
    int rc = tarn__duck_export_shm(fd, &d, sb_str(&q), "tarn-query", err);
    sb_free(&q);
    free(run);
    tarn__duck_close(&d);
    return rc;
}
