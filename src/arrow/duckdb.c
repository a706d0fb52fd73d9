/* arrow/duckdb.c — a decoded Arrow table as a DuckDB view, zero copy.
 *
 * DuckDB 1.4's duckdb_arrow_scan hands the stream to its `arrow_scan`
 * function, which pushes projections down and then expects the producer to
 * have dropped the unselected columns — a plain ArrowArrayStream cannot, so
 * any query naming a subset of columns reads the wrong ones (and the schema
 * it fetches is never released). We register our own table function
 * instead: bind reports the columns (types learnt by converting an empty
 * batch), each call converts a slice of at most one vector of a batch with
 * duckdb_data_chunk_from_arrow (which wraps the Arrow buffers rather than
 * copying them where it can) and references the projected vectors into
 * DuckDB's output chunk. The view is `SELECT * FROM tarn_arrow_<name>()`. */
#include "arrow/internal.h"

#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reg {
    int refs; /* the caller's handle and DuckDB's copy of the function */
    tarn_arrow_table *t;
    duckdb_connection conn;
    duckdb_arrow_converted_schema conv;
    idx_t ncols;
    char **names;
    duckdb_logical_type *types;
    char view[256];
} reg;

struct tarn_arrow_duckdb_view {
    reg *r;
};

typedef struct scan {
    size_t batch;
    int64_t row;
    idx_t nproj;
    idx_t *proj;
} scan;

static void reg_unref(void *p)
{
    reg *r = p;
    idx_t i;
    if (r == NULL || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (i = 0; i < r->ncols; i++) {
        free(r->names ? r->names[i] : NULL);
        if (r->types && r->types[i]) duckdb_destroy_logical_type(&r->types[i]);
    }
    free(r->names);
    free(r->types);
    if (r->conv) duckdb_destroy_arrow_converted_schema(&r->conv);
    tarn_arrow_table_free(&r->t);
    free(r);
}

static void scan_free(void *p)
{
    scan *s = p;
    if (s == NULL) return;
    free(s->proj);
    free(s);
}

static void fn_bind(duckdb_bind_info info)
{
    reg *r = duckdb_bind_get_extra_info(info);
    idx_t i;
    if (r->t == NULL) {
        duckdb_bind_set_error(info, "this tarn Arrow view was released");
        return;
    }
    for (i = 0; i < r->ncols; i++)
        duckdb_bind_add_result_column(info, r->names[i], r->types[i]);
}

static void fn_init(duckdb_init_info info)
{
    scan *s = calloc(1, sizeof(*s));
    idx_t i;
    if (s == NULL) {
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    s->nproj = duckdb_init_get_column_count(info);
    s->proj = calloc(s->nproj + 1, sizeof(idx_t));
    if (s->proj == NULL) {
        scan_free(s);
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    for (i = 0; i < s->nproj; i++)
        s->proj[i] = duckdb_init_get_column_index(info, i);
    duckdb_init_set_init_data(info, s, scan_free);
    duckdb_init_set_max_threads(info, 1);
}

static void fn_scan(duckdb_function_info info, duckdb_data_chunk output)
{
    reg *r = duckdb_function_get_extra_info(info);
    scan *s = duckdb_function_get_init_data(info);
    struct ArrowArray arr;
    duckdb_data_chunk chunk = NULL;
    duckdb_error_data e;
    tarn_error err = TARN_ERROR_INIT;
    int64_t len = 0, i;
    idx_t j;

    memset(&arr, 0, sizeof(arr));
    /* skip empty batches */
    while (r->t != NULL && s->batch < tarn_arrow_table_num_batches(r->t)) {
        if (tarn_arrow_table_batch(&arr, r->t, s->batch, &err) < 0) {
            duckdb_function_set_error(info, err.message);
            return;
        }
        if (s->row < arr.length) break;
        arr.release(&arr);
        s->batch++;
        s->row = 0;
    }
    if (r->t == NULL || s->batch >= tarn_arrow_table_num_batches(r->t)) {
        duckdb_data_chunk_set_size(output, 0);
        return;
    }
    len = arr.length - s->row;
    if (len > (int64_t)duckdb_vector_size()) len = (int64_t)duckdb_vector_size();
    for (i = 0; i < arr.n_children; i++) {
        arr.children[i]->offset += s->row;
        arr.children[i]->length = len;
    }
    arr.length = len;
    s->row += len;
    e = duckdb_data_chunk_from_arrow(r->conn, &arr, r->conv, &chunk); /* takes arr */
    if (duckdb_error_data_has_error(e)) {
        duckdb_function_set_error(info, duckdb_error_data_message(e));
        duckdb_destroy_error_data(&e);
        return;
    }
    duckdb_destroy_error_data(&e);
    for (j = 0; j < s->nproj; j++)
        duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, j),
                                       duckdb_data_chunk_get_vector(chunk, s->proj[j]));
    duckdb_data_chunk_set_size(output, (idx_t)len);
    duckdb_destroy_data_chunk(&chunk);
}

/* Learn DuckDB's column types from an empty batch. */
static int learn_types(reg *r, tarn_error *err)
{
    struct ArrowSchema schema;
    struct ArrowArray empty;
    duckdb_error_data e;
    duckdb_data_chunk chunk = NULL;
    idx_t i;
    int rc;

    if ((rc = tarn_arrow_table_schema(&schema, r->t, err)) < 0) return rc;
    r->ncols = (idx_t)schema.n_children;
    if (r->ncols == 0) {
        /* DuckDB fails on a table function without columns with an internal
         * error, when the view is first used: say what is wrong here. */
        schema.release(&schema);
        return tarn_arrow__fail(err, TARN_EINVALID,
                                "'%s' has no columns: a table needs at least one column", r->view);
    }
    r->names = calloc(r->ncols + 1, sizeof(char *));
    r->types = calloc(r->ncols + 1, sizeof(duckdb_logical_type));
    if (r->names == NULL || r->types == NULL) {
        schema.release(&schema);
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    }
    for (i = 0; i < r->ncols; i++) {
        r->names[i] = strdup(schema.children[i]->name ? schema.children[i]->name : "");
        if (r->names[i] == NULL) {
            schema.release(&schema);
            return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
        }
    }
    e = duckdb_schema_from_arrow(r->conn, &schema, &r->conv);
    schema.release(&schema);
    if (duckdb_error_data_has_error(e)) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "DuckDB cannot read this Arrow schema: %s",
                              duckdb_error_data_message(e));
        duckdb_destroy_error_data(&e);
        return rc;
    }
    duckdb_destroy_error_data(&e);
    if ((rc = tarn_arrow__table_empty_batch(&empty, r->t, err)) < 0) return rc;
    e = duckdb_data_chunk_from_arrow(r->conn, &empty, r->conv, &chunk); /* takes empty */
    if (duckdb_error_data_has_error(e)) {
        rc = tarn_arrow__fail(err, TARN_EINVALID, "DuckDB cannot read this Arrow data: %s",
                              duckdb_error_data_message(e));
        duckdb_destroy_error_data(&e);
        return rc;
    }
    duckdb_destroy_error_data(&e);
    for (i = 0; i < r->ncols; i++)
        r->types[i] = duckdb_vector_get_column_type(duckdb_data_chunk_get_vector(chunk, i));
    duckdb_destroy_data_chunk(&chunk);
    return 0;
}

static int exec(duckdb_connection conn, const char *sql, tarn_error *err)
{
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(conn, sql, &res) != DuckDBSuccess)
        rc = tarn_arrow__fail(err, TARN_EINVALID, "DuckDB: %s", duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return rc;
}

static int valid_name(const char *name)
{
    size_t i, n = name ? strlen(name) : 0;
    if (n == 0 || n > 200) return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

int tarn_arrow_duckdb_register(tarn_arrow_duckdb_view **out, void *conn, const char *name,
                               tarn_arrow_table *t, tarn_error *err)
{
    tarn_arrow_duckdb_view *v = NULL;
    duckdb_table_function f = NULL;
    reg *r = NULL;
    char fname[300], sql[700];
    int rc = 0;

    *out = NULL;
    if (conn == NULL || t == NULL || !valid_name(name)) {
        rc =
            tarn_arrow__fail(err, TARN_EINVALID,
                             "bad view name '%s' (letters, digits and '_' only)", name ? name : "");
        goto done;
    }
    v = calloc(1, sizeof(*v));
    r = calloc(1, sizeof(*r));
    if (v == NULL || r == NULL) {
        rc = tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    r->refs = 1;
    r->conn = (duckdb_connection)conn;
    r->t = tarn_arrow__table_ref(t);
    snprintf(r->view, sizeof(r->view), "%s", name);
    if ((rc = learn_types(r, err)) < 0) goto done;

    snprintf(fname, sizeof(fname), "tarn_arrow_%s", name);
    f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, fname);
    __atomic_fetch_add(&r->refs, 1, __ATOMIC_RELAXED);
    duckdb_table_function_set_extra_info(f, r, reg_unref);
    duckdb_table_function_set_bind(f, fn_bind);
    duckdb_table_function_set_init(f, fn_init);
    duckdb_table_function_set_function(f, fn_scan);
    duckdb_table_function_supports_projection_pushdown(f, true);
    if (duckdb_register_table_function(r->conn, f) != DuckDBSuccess) {
        rc = tarn_arrow__fail(err, TARN_EEXISTS,
                              "cannot register DuckDB table function '%s' (name already used?)",
                              fname);
        goto done;
    }
    snprintf(sql, sizeof(sql), "CREATE OR REPLACE TEMP VIEW \"%s\" AS SELECT * FROM %s()", name,
             fname);
    if ((rc = exec(r->conn, sql, err)) < 0) goto done;
    v->r = r;
    r = NULL;
    *out = v;
    v = NULL;
done:
    if (f != NULL) duckdb_destroy_table_function(&f);
    reg_unref(r);
    free(v);
    return rc;
}

void tarn_arrow_duckdb_view_free(tarn_arrow_duckdb_view **v)
{
    char sql[300];
    reg *r;
    if (v == NULL || *v == NULL) return;
    r = (*v)->r;
    snprintf(sql, sizeof(sql), "DROP VIEW IF EXISTS \"%s\"", r->view);
    exec(r->conn, sql, NULL);
    /* DuckDB keeps the function (it cannot be dropped); it now reports the
     * view as released, and the table's memory goes with our reference. */
    tarn_arrow_table_free(&r->t);
    reg_unref(r);
    free(*v);
    *v = NULL;
}
