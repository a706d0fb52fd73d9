/* sql/export.c — a DuckDB query result out of DuckDB: into a sealed
 * shared-memory Arrow table (DuckDB's own Arrow export, chunk by chunk, then
 * one IPC stream written into a memfd), or into a Parquet data file with the
 * schema and per-column statistics the catalog records for it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iceberg/iceberg.h"
#include "sql/engine.h"
#include "tarn/arrow.h"
#include "util/error.h"

int tarn__duck_export_shm(int *fd, tarn_duck *d, const char *select_sql, const char *name,
                          tarn_error *err)
{
    *fd = -1;
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, select_sql, TARN_EINVALID, "query failed", err);
    if (rc == 0) rc = tarn__duck_result_shm(fd, &res, name, err);
    duckdb_destroy_result(&res);
    return rc;
}

int tarn__duck_result_shm(int *fd, duckdb_result *result, const char *name, tarn_error *err)
{
    *fd = -1;
    duckdb_result res = *result;
    int rc = 0;
    duckdb_arrow_options aopts = duckdb_result_get_arrow_options(&res);
    idx_t ncols = duckdb_column_count(&res);
    duckdb_logical_type *types = calloc(ncols ? ncols : 1, sizeof *types);
    const char **names = calloc(ncols ? ncols : 1, sizeof *names);
    for (idx_t c = 0; c < ncols; c++) {
        types[c] = duckdb_column_logical_type(&res, c);
        names[c] = duckdb_column_name(&res, c);
    }
    struct ArrowSchema schema = {0};
    struct ArrowArray **batches = NULL;
    size_t n = 0, cap = 0;
    duckdb_error_data e = duckdb_to_arrow_schema(aopts, types, names, ncols, &schema);
    if (e && duckdb_error_data_has_error(e)) {
        rc = tarn__error_set(err, TARN_EIO, "cannot export to Arrow: %s", duckdb_error_data_message(e));
    }
    if (e) duckdb_destroy_error_data(&e);
    while (rc == 0) {
        duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
        if (!chunk) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            batches = realloc(batches, cap * sizeof *batches);
        }
        batches[n] = calloc(1, sizeof **batches);
        e = duckdb_data_chunk_to_arrow(aopts, chunk, batches[n]);
        if (e && duckdb_error_data_has_error(e))
            rc = tarn__error_set(err, TARN_EIO, "cannot export to Arrow: %s", duckdb_error_data_message(e));
        if (e) duckdb_destroy_error_data(&e);
        duckdb_destroy_data_chunk(&chunk);
        n++;
    }
    /* DuckDB's 2,048-row chunks joined into batches of up to a million rows:
     * consumers then see a few big arrays (numpy views, no stitching). */
    struct ArrowArray *merged = calloc(n / 256 + 2, sizeof *merged);
    size_t nmerged = 0, from = 0;
    int joined = rc == 0 && n > 1;
    while (joined && from < n) {
        size_t to = from;
        int64_t rows = 0;
        while (to < n && (to == from || rows + batches[to]->length <= ((int64_t)1 << 20))) rows += batches[to++]->length;
        if (tarn_arrow_concat(&merged[nmerged], &schema, (const struct ArrowArray *const *)batches + from,
                              to - from, NULL) != 0) {
            joined = 0; /* a column type it cannot join: keep DuckDB's chunks */
            break;
        }
        nmerged++;
        from = to;
    }
    const struct ArrowArray **out = calloc(n + 1, sizeof *out);
    size_t nout = 0;
    if (joined)
        for (size_t i = 0; i < nmerged; i++) out[nout++] = &merged[i];
    else
        for (size_t i = 0; i < n; i++) out[nout++] = batches[i];
    size_t size = 0;
    if (rc == 0) rc = tarn_arrow_shm_create(fd, &size, name, &schema, out, nout, err);
    for (size_t i = 0; i < nmerged; i++)
        if (merged[i].release) merged[i].release(&merged[i]);
    free(merged);
    free(out);
    for (size_t i = 0; i < n; i++) {
        if (batches[i]->release) batches[i]->release(batches[i]);
        free(batches[i]);
    }
    free(batches);
    if (schema.release) schema.release(&schema);
    for (idx_t c = 0; c < ncols; c++) duckdb_destroy_logical_type(&types[c]);
    free(types);
    free(names);
    duckdb_destroy_arrow_options(&aopts);
    return rc;
}

/* ---- Parquet data files ------------------------------------------------------------ */

int64_t tarn__duck_int(duckdb_result *res, idx_t col, idx_t row)
{
    char *t = tarn__duck_text(res, col, row);
    int64_t v = t ? strtoll(t, NULL, 10) : 0;
    free(t);
    return v;
}

/* Types whose Parquet min/max DuckDB can read back from the footer and
 * compare: not nested, not parameterized. */
static int flat_type(const char *type)
{
    return !strchr(type, '(') && !strchr(type, '[') && !strstr(type, "STRUCT") &&
           !strstr(type, "MAP") && !strstr(type, "UNION");
}

/* The statistics query: one branch per distinct column type (a typed min
 * and max need the type in the SQL), each covering all columns of that type
 * with one IN list. A table of 10,000 columns is then a handful of branches,
 * not 10,000 (DuckDB refuses an expression nested over 1,000 deep). */
static void stats_sql(strbuf *q, json_t *schema, const char *path)
{
    json_t *groups = json_object(); /* type -> [names] */
    size_t i;
    json_t *col;
    json_array_foreach(schema, i, col)
    {
        const char *name = json_string_value(json_object_get(col, "name"));
        const char *type = json_string_value(json_object_get(col, "type"));
        if (!flat_type(type)) continue;
        json_t *names = json_object_get(groups, type);
        if (!names) json_object_set_new(groups, type, names = json_array());
        json_array_append_new(names, json_string(name));
    }
    sb_append(q, "WITH m AS MATERIALIZED (SELECT path_in_schema, stats_min_value, stats_max_value, "
                 "stats_null_count, num_values, min_is_exact, max_is_exact FROM parquet_metadata(");
    sb_append_sql_string(q, path);
    sb_append(q, "))");
    const char *type;
    json_t *names;
    int first = 1;
    json_object_foreach(groups, type, names)
    {
        sb_printf(q,
                  "%s SELECT path_in_schema, min(TRY_CAST(stats_min_value AS %s))::VARCHAR, "
                  "max(TRY_CAST(stats_max_value AS %s))::VARCHAR, sum(stats_null_count)::VARCHAR, "
                  /* Exact: every row group that holds a value has statistics
                   * that are not truncated (long strings) and not left out (a
                   * float column with NaN has none); a row group of NULLs only
                   * has nothing to say. */
                  "bool_and(COALESCE(num_values = stats_null_count, false) OR "
                  "COALESCE(TRY_CAST(stats_min_value AS %s) IS NOT NULL AND "
                  "TRY_CAST(stats_max_value AS %s) IS NOT NULL AND min_is_exact AND max_is_exact, "
                  "false))::VARCHAR FROM m WHERE path_in_schema IN (",
                  first ? "" : " UNION ALL", type, type, type, type);
        json_t *n;
        json_array_foreach(names, i, n)
        {
            if (i) sb_append(q, ", ");
            sb_append_sql_string(q, json_string_value(n));
        }
        sb_append(q, ") GROUP BY path_in_schema");
        first = 0;
    }
    json_decref(groups);
}

/* Calls FN with the values (malloc'd text, NULL for NULL) of each row of a
 * result whose columns are all VARCHAR, reading each chunk once: a result
 * of 10,000 rows (a column each) read cell by cell with tarn__duck_text
 * walks its chunks again for every cell. */
static void each_row(duckdb_result *res, void (*fn)(char **values, void *ctx), void *ctx)
{
    idx_t ncols = duckdb_column_count(res);
    char **values = calloc(ncols ? ncols : 1, sizeof *values);
    for (idx_t ci = 0; ci < duckdb_result_chunk_count(*res); ci++) {
        duckdb_data_chunk chunk = duckdb_result_get_chunk(*res, ci);
        if (!chunk) break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t row = 0; row < n; row++) {
            for (idx_t c = 0; c < ncols; c++) {
                duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
                uint64_t *validity = duckdb_vector_get_validity(vec);
                values[c] = !validity || duckdb_validity_row_is_valid(validity, row)
                                ? tarn__duck_string_copy(
                                      (duckdb_string_t *)duckdb_vector_get_data(vec) + row)
                                : NULL;
            }
            fn(values, ctx);
            for (idx_t c = 0; c < ncols; c++)
                free(values[c]);
        }
        duckdb_destroy_data_chunk(&chunk);
    }
    free(values);
}

typedef struct described {
    json_t *schema, *stats;
} described;

static void add_column(char **v, void *ctx)
{
    described *out = ctx;
    json_array_append_new(
        out->schema, json_pack("{s:s,s:s}", "name", v[0] ? v[0] : "", "type", v[1] ? v[1] : ""));
    /* Every flat column gets an entry, also one no row group describes (a
     * file without rows). */
    if (v[1] && flat_type(v[1]))
        json_object_set_new(out->stats, v[0] ? v[0] : "",
                            json_pack("{s:n,s:n,s:I,s:b}", "min", "max", "nulls", (json_int_t)0, "exact", 0));
}

static void add_stats(char **v, void *ctx)
{
    described *out = ctx;
    json_object_set_new(out->stats, v[0] ? v[0] : "",
                        json_pack("{s:s?,s:s?,s:I,s:b}", "min", v[1], "max", v[2], "nulls",
                                  (json_int_t)(v[3] ? strtoll(v[3], NULL, 10) : 0), "exact",
                                  v[4] && !strcmp(v[4], "true")));
}

int tarn__duck_describe_parquet(char **schema_json, char **stats_json, tarn_duck *d,
                                const char *path, tarn_error *err)
{
    *schema_json = *stats_json = NULL;
    strbuf q = {0};
    sb_append(&q, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(");
    sb_append_sql_string(&q, path);
    sb_append(&q, "))");
    duckdb_result res;
    described out = {json_array(), json_object()};
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "cannot read the written file", err);
    if (rc == 0) each_row(&res, add_column, &out);
    duckdb_destroy_result(&res);
    strbuf stats_q = {0};
    if (rc == 0 && json_object_size(out.stats) > 0) {
        stats_sql(&stats_q, out.schema, path);
        rc = tarn__duck_query(&res, d, sb_str(&stats_q), TARN_EIO, "cannot read file statistics",
                              err);
        if (rc == 0) each_row(&res, add_stats, &out);
        duckdb_destroy_result(&res);
    }
    if (rc == 0) {
        *schema_json = json_dumps(out.schema, JSON_COMPACT);
        *stats_json = json_dumps(out.stats, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(out.schema);
    json_decref(out.stats);
    sb_free(&q);
    sb_free(&stats_q);
    return rc;
}

void tarn__duck_copy_parquet_sql(strbuf *q, const char *select_sql, const char *dest,
                                 const char *ids_json)
{
    sb_append(q, "COPY (");
    sb_append(q, select_sql);
    sb_append(q, ") TO ");
    sb_append_sql_string(q, dest);
    sb_append(q, " (FORMAT parquet, COMPRESSION zstd");
    ice_schema ids;
    if (ids_json && tarn__ice_schema_load(&ids, ids_json, NULL) == 0) {
        strbuf f = {0};
        if (tarn__ice_field_ids_sql(&f, &ids)) sb_printf(q, ", %s", f.s);
        sb_free(&f);
        tarn__ice_schema_clear(&ids);
    }
    sb_append(q, ")");
}

static void add_described(char **v, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "name", v[0] ? v[0] : "", "type", v[1] ? v[1] : ""));
}

int tarn__duck_field_ids(char **ids_json, tarn_duck *d, const char *select_sql, const char *base_json,
                         tarn_error *err)
{
    *ids_json = NULL;
    strbuf q = {0};
    sb_append(&q, "SELECT column_name, column_type FROM (DESCRIBE ");
    sb_append(&q, select_sql);
    sb_append(&q, ")");
    duckdb_result res;
    json_t *cols = json_array();
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot describe the data to write", err);
    if (rc == 0) each_row(&res, add_described, cols);
    duckdb_destroy_result(&res);
    char *now = rc == 0 ? json_dumps(cols, JSON_COMPACT) : NULL;
    if (rc == 0 && !(*ids_json = tarn__ice_schema_assign(now, base_json)))
        rc = tarn__error_set(err, TARN_EIO, "cannot give the columns to write Iceberg field ids");
    free(now);
    json_decref(cols);
    sb_free(&q);
    return rc;
}

int tarn__duck_check_columns(tarn_duck *d, const char *select_sql, const char *what,
                             tarn_error *err)
{
    duckdb_prepared_statement st = NULL;
    int rc = 0;
    if (duckdb_prepare(d->con, select_sql, &st) != DuckDBSuccess)
        rc = tarn__error_set(err, TARN_EINVALID, "cannot write %s: %s", what,
                             tarn__duck_message(duckdb_prepare_error(st)));
    else if (duckdb_prepared_statement_column_count(st) == 0)
        /* DuckDB would fail inside COPY with an internal error. */
        rc = tarn__error_set(err, TARN_EINVALID,
                             "cannot write %s: it has no columns (a table needs at least one)",
                             what);
    duckdb_destroy_prepare(&st);
    return rc;
}

int tarn__duck_write_parquet(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                             const char *select_sql, const char *dest, const char *ids_base,
                             tarn_error *err)
{
    *rows = 0;
    *schema_json = *stats_json = NULL;
    int rc = tarn__duck_check_columns(d, select_sql, "a data file", err);
    char *ids = NULL;
    if (rc == 0 && ids_base) rc = tarn__duck_field_ids(&ids, d, select_sql, ids_base, err);
    strbuf q = {0};
    tarn__duck_copy_parquet_sql(&q, select_sql, dest, ids);
    duckdb_result res;
    if (rc == 0) {
        rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "cannot write Parquet", err);
        if (rc == 0) *rows = duckdb_value_int64(&res, 0, 0);
        duckdb_destroy_result(&res);
    }
    sb_free(&q);
    if (rc == 0) rc = tarn__duck_describe_parquet(schema_json, stats_json, d, dest, err);
    if (rc == 0 && ids) rc = tarn__duck_schema_with_ids(schema_json, ids, err);
    free(ids);
    return rc;
}

int tarn__duck_schema_with_ids(char **schema_json, const char *ids_json, tarn_error *err)
{
    char *merged = tarn__ice_schema_merge_ids(*schema_json, ids_json);
    if (!merged)
        return tarn__error_set(err, TARN_EIO,
                               "the written file's columns differ from the ones it was given field ids for");
    free(*schema_json);
    *schema_json = merged;
    return 0;
}
