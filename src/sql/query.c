/* sql/query.c — `tarn query`: SQL on any ref.
 *
 * DuckDB's parser lists the tables a statement names (CTEs excluded); each
 * must exist in the ref's tree and becomes a view over exactly its data
 * files. Only one read-only SELECT is accepted. Results are kept as text (up
 * to max_rows) with their DuckDB types. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sql/engine.h"
#include "tarn/query.h"
#include "util/error.h"
#include "util/util.h"

struct tarn_result {
    size_t ncols, nrows;
    char **names, **types;
    tarn_value_kind *kinds;
    char **cells; /* nrows * ncols, row-major; NULL for SQL NULL */
    int truncated;
};

/* Collects BASE_TABLE references ("schema\ttable") and CTE names from
 * DuckDB's serialized parse tree. Parsing only: nothing is bound, so any
 * valid SELECT works, whatever tables it names. */
static void collect_names(json_t *node, json_t *tables, json_t *ctes)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) collect_names(v, tables, ctes);
        return;
    }
    if (!json_is_object(node)) return;
    const char *type = json_string_value(json_object_get(node, "type"));
    if (type && strcmp(type, "BASE_TABLE") == 0) {
        const char *schema = json_string_value(json_object_get(node, "schema_name"));
        const char *table = json_string_value(json_object_get(node, "table_name"));
        if (table) {
            char key[600];
            snprintf(key, sizeof key, "%s\t%s", schema ? schema : "", table);
            json_object_set_new(tables, key, json_true());
        }
    }
    json_t *cte_map = json_object_get(json_object_get(node, "cte_map"), "map");
    size_t i;
    json_t *v;
    json_array_foreach(cte_map, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "key"));
        if (name) json_object_set_new(ctes, name, json_true());
    }
    const char *k;
    json_object_foreach(node, k, v) collect_names(v, tables, ctes);
}

/* Parses SQL with DuckDB's parser into the tables it names. */
int tarn__sql_referenced_tables(json_t **tables, json_t **ctes, tarn_duck *d, const char *sql,
                                tarn_error *err)
{
    *tables = json_object();
    *ctes = json_object();
    strbuf q = {0};
    sb_append(&q, "SELECT json_serialize_sql(");
    sb_append_sql_string(&q, sql);
    sb_append(&q, ")");
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "invalid SQL", err);
    char *text = rc == 0 ? tarn__duck_text(&res, 0, 0) : NULL;
    duckdb_destroy_result(&res);
    sb_free(&q);
    if (rc < 0) return rc;
    /* query_location can be 2^64-1: read numbers as reals (only strings matter) */
    json_t *tree = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(text);
    if (!tree) return tarn__error_set(err, TARN_EINVALID, "invalid SQL: cannot be parsed");
    if (json_is_true(json_object_get(tree, "error"))) {
        const char *msg = json_string_value(json_object_get(tree, "error_message"));
        const char *etype = json_string_value(json_object_get(tree, "error_type"));
        if (msg && strstr(msg, "Only SELECT"))
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "tarn query runs read-only SELECT statements; to change data use "
                                 "'tarn table import' or a pipeline");
        else
            rc = tarn__error_set(err, TARN_EINVALID, "invalid SQL: %s%s%s", etype ? etype : "",
                                 etype ? ": " : "", msg ? msg : "cannot be parsed");
    } else if (json_array_size(json_object_get(tree, "statements")) != 1) {
        rc = tarn__error_set(err, TARN_EINVALID, "give one SQL statement at a time (found %zu)",
                             json_array_size(json_object_get(tree, "statements")));
    } else {
        collect_names(json_object_get(tree, "statements"), *tables, *ctes);
    }
    json_decref(tree);
    return rc;
}

/* Checks SQL is one SELECT, exposes every table it names and binds it;
 * *prepared (if not NULL) gets the prepared statement (the caller destroys
 * it), whose columns give the result's names and types. */
static int prepare_tables(tarn_duck *d, tarn_lake *lake, const char *sql, const char *ref,
                          duckdb_prepared_statement *prepared, tarn_error *err)
{
    int rc = 0;
    if (prepared) *prepared = NULL;

    tarn_tree tree = {0};
    tarn_commit_id commit;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, &commit, lake, ref, err));
    json_t *tables = NULL, *ctes = NULL;
    rc = tarn__sql_referenced_tables(&tables, &ctes, d, sql, err);
    const char *key;
    json_t *unused;
    json_object_foreach(tables, key, unused)
    {
        if (rc < 0) break;
        char schema_buf[300];
        const char *tab = strchr(key, '\t');
        snprintf(schema_buf, sizeof schema_buf, "%.*s", (int)(tab - key), key);
        const char *table = tab + 1;
        const char *schema = schema_buf[0] && strcmp(schema_buf, "main") != 0 ? schema_buf : NULL;
        if (!schema && json_object_get(ctes, table)) continue;
        char full[620];
        snprintf(full, sizeof full, "%s.%s", schema ? schema : "default", table);
        tarn_tree_entry *e = tarn__tree_find(&tree, full);
        if (!e || e->kind != TARN_ENTRY_TABLE) {
            size_t within = 4; /* only near misses */
            const char *near = tarn__tree_nearest_table(&tree, full, &within);
            rc = tarn__error_set(err, TARN_ENOTFOUND, "table '%s' not found at ref '%s'%s%s%s",
                                 schema ? full : table, tarn__ref_display(lake, ref),
                                 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        } else {
            rc = tarn__duck_register(d, lake, schema, table, e->version, err);
        }
    }
    json_decref(tables);
    json_decref(ctes);
    tarn__tree_clear(&tree);
    if (rc < 0) return rc;

    /* The parser accepted one SELECT only (json_serialize_sql serializes
     * nothing else); binding now reports unknown columns and the like. */
    duckdb_prepared_statement prep = NULL;
    if (duckdb_prepare(d->con, sql, &prep) != DuckDBSuccess)
        rc = tarn__error_set(err, TARN_EINVALID, "invalid SQL: %s",
                             tarn__duck_message(duckdb_prepare_error(prep)));
    if (rc == 0 && prepared) *prepared = prep;
    else duckdb_destroy_prepare(&prep);
    return rc;
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

int tarn_query(tarn_result **out, tarn_lake *lake, const char *sql, const tarn_query_options *opts,
               tarn_error *err)
{
    *out = NULL;
    tarn_query_options defaults = TARN_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (!sql || !*sql) return tarn__error_set(err, TARN_EINVALID, "no SQL given");
    tarn_duck d;
    TARN_RETURN_NOT_OK(tarn__duck_open(&d, err));
    tarn_result *r = calloc(1, sizeof *r);
    strbuf q = {0};
    duckdb_result res = {0};
    int have_res = 0;
    duckdb_prepared_statement prep = NULL;
    int rc = prepare_tables(&d, lake, sql, opts->ref, &prep, err);
    if (rc < 0) goto done;

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
    tarn__sql_nestable(&q, sql);
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

int tarn_query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                       const char *path, const char *format, tarn_error *err)
{
    *rows = 0;
    if (!format) {
        const char *dot = strrchr(path, '.');
        format = dot && strcmp(dot, ".csv") == 0 ? "csv" : dot && strcmp(dot, ".parquet") == 0 ? "parquet" : NULL;
        if (!format)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot tell the format of '%s': name it .parquet or .csv", path);
    }
    if (strcmp(format, "csv") != 0 && strcmp(format, "parquet") != 0)
        return tarn__error_set(err, TARN_EINVALID, "unknown output format '%s' (parquet or csv)", format);
    tarn_duck d;
    TARN_RETURN_NOT_OK(tarn__duck_open(&d, err));
    strbuf q = {0};
    int rc = prepare_tables(&d, lake, sql, ref, NULL, err);
    if (rc == 0) {
        sb_append(&q, "COPY (");
        tarn__sql_nestable(&q, sql);
        sb_append(&q, "\n) TO ");
        sb_append_sql_string(&q, path);
        sb_printf(&q, " (FORMAT %s%s)", format, strcmp(format, "csv") == 0 ? ", HEADER" : "");
        duckdb_result res;
        rc = tarn__duck_query(&res, &d, sb_str(&q), TARN_EINVALID, "query failed", err);
        if (rc == 0) *rows = duckdb_value_int64(&res, 0, 0);
        duckdb_destroy_result(&res);
    }
    sb_free(&q);
    tarn__duck_close(&d);
    return rc;
}

int tarn_query_arrow_fd(int *fd, tarn_lake *lake, const char *sql, const char *ref, tarn_error *err)
{
    *fd = -1;
    if (!sql || !*sql) return tarn__error_set(err, TARN_EINVALID, "no SQL given");
    tarn_duck d;
    TARN_RETURN_NOT_OK(tarn__duck_open(&d, err));
    int rc = prepare_tables(&d, lake, sql, ref, NULL, err);
    if (rc == 0) {
        strbuf q = {0};
        tarn__sql_nestable(&q, sql);
        sb_append(&q, "\n");
        rc = tarn__duck_export_shm(fd, &d, sb_str(&q), "tarn-query", err);
        sb_free(&q);
    }
    tarn__duck_close(&d);
    return rc;
}
