/* sql/pipe.c — writing out what user SQL computed, where user SQL never
 * runs.
 *
 * User SQL runs in a confined DuckDB that cannot write a file
 * (tarn__duck_confine). When its result must become a file — a
 * materialized model's data file, `tarn query --output` — the result is
 * handed to a second DuckDB that runs only tarn's own statements: a table
 * function there fetches the confined result chunk by chunk and references
 * its vectors (no copy, the very same types), and COPY writes them. A run
 * keeps one such writer for all its outputs (each write registers a
 * function of its own name there); other callers start one per write. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/engine.h"
#include "util/error.h"
#include "util/util.h"

typedef struct pipe_src {
    duckdb_result *res; /* owned by the caller */
    idx_t ncols;
} pipe_src;

static void pipe_bind(duckdb_bind_info info)
{
    pipe_src *p = duckdb_bind_get_extra_info(info);
    for (idx_t c = 0; c < p->ncols; c++) {
        duckdb_logical_type t = duckdb_column_logical_type(p->res, c);
        duckdb_bind_add_result_column(info, duckdb_column_name(p->res, c), t);
        duckdb_destroy_logical_type(&t);
    }
}

static void pipe_init(duckdb_init_info info)
{
    /* One reader: chunks come from one result, in order. */
    duckdb_init_set_max_threads(info, 1);
}

static void pipe_scan(duckdb_function_info info, duckdb_data_chunk output)
{
    pipe_src *p = duckdb_function_get_extra_info(info);
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*p->res);
    if (!chunk) {
        const char *e = duckdb_result_error(p->res);
        if (e) duckdb_function_set_error(info, e);
        duckdb_data_chunk_set_size(output, 0);
        return;
    }
    for (idx_t c = 0; c < p->ncols; c++)
        duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, c),
                                       duckdb_data_chunk_get_vector(chunk, c));
    duckdb_data_chunk_set_size(output, duckdb_data_chunk_get_size(chunk));
    duckdb_destroy_data_chunk(&chunk); /* the output holds its own references */
}

/* Runs SQL on D into *res. Materialized, not streamed: a streamed result
 * is produced only while the writer waits for it (measured: twice the time
 * of a COPY within one database), a materialized one in parallel
 * beforehand (about the time of that COPY), at the cost of holding the
 * result while it is written. */
static int start(duckdb_result *res, tarn_duck *d, const char *sql, json_t *params, tarn_error *err)
{
    memset(res, 0, sizeof *res);
    duckdb_prepared_statement prep;
    TARN_RETURN_NOT_OK(
        tarn__duck_prepare_bound(&prep, d, sql, params, TARN_EINVALID, "query failed", err));
    int rc = 0;
    if (duckdb_execute_prepared(prep, res) != DuckDBSuccess)
        rc = tarn__duck_fail(err, TARN_EINVALID, "query failed", duckdb_result_error(res));
    duckdb_destroy_prepare(&prep);
    return rc;
}

int tarn__duck_open_writer(tarn_duck *w, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn__duck_open(w, err));
    /* Its COPY has one source thread (the rows come in order from one
     * result): more threads would only wait. */
    int rc = tarn__duck_exec(w, "SET threads = 1", TARN_EIO, "cannot set up DuckDB", err);
    if (rc < 0) tarn__duck_close(w);
    return rc;
}

int tarn__duck_write_result(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                            tarn_duck *writer, const char *select_sql, json_t *params,
                            const char *dest, const char *format, const char *ids_base,
                            tarn_error *err)
{
    static atomic_uint pipes; /* each write its own function: writers are shared */
    *rows = 0;
    if (schema_json) *schema_json = NULL;
    if (stats_json) *stats_json = NULL;
    duckdb_result res;
    int rc = start(&res, d, select_sql, params, err);
    tarn_duck own = {0}, w = {0};
    if (rc == 0 && writer) {
        w.db = writer->db;
        if (duckdb_connect(writer->db, &w.con) != DuckDBSuccess)
            rc = tarn__error_set(err, TARN_EIO, "cannot connect to DuckDB");
    } else if (rc == 0 && (rc = tarn__duck_open_writer(&own, err)) == 0) {
        w = own;
    }
    char name[40], from[64];
    snprintf(name, sizeof name, "tarn_pipe_%u", atomic_fetch_add(&pipes, 1));
    snprintf(from, sizeof from, "SELECT * FROM %s()", name);
    pipe_src src = {&res, duckdb_column_count(&res)};
    duckdb_table_function f = NULL;
    if (rc == 0) {
        f = duckdb_create_table_function();
        duckdb_table_function_set_name(f, name);
        duckdb_table_function_set_extra_info(f, &src, NULL);
        duckdb_table_function_set_bind(f, pipe_bind);
        duckdb_table_function_set_init(f, pipe_init);
        duckdb_table_function_set_function(f, pipe_scan);
        if (duckdb_register_table_function(w.con, f) != DuckDBSuccess)
            rc = tarn__error_set(err, TARN_EIO, "cannot register DuckDB table function '%s'", name);
    }
    if (rc == 0 && !strcmp(format, "parquet")) {
        rc = tarn__duck_write_parquet(rows, schema_json, stats_json, &w, from, dest, ids_base, err);
    } else if (rc == 0) {
        strbuf q = {0};
        sb_printf(&q, "COPY (%s) TO ", from);
        sb_append_sql_string(&q, dest);
        sb_append(&q, " (FORMAT csv, HEADER)");
        duckdb_result cres;
        rc = tarn__duck_query(&cres, &w, sb_str(&q), TARN_EINVALID, "cannot write CSV", err);
        if (rc == 0) *rows = duckdb_value_int64(&cres, 0, 0);
        duckdb_destroy_result(&cres);
        sb_free(&q);
    }
    if (f) duckdb_destroy_table_function(&f);
    /* before the result its function reads */
    if (writer && w.con) duckdb_disconnect(&w.con);
    tarn__duck_close(&own);
    duckdb_destroy_result(&res);
    return rc;
}
