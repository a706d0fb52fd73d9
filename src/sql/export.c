/* sql/export.c — a DuckDB query result into a sealed shared-memory
 * Arrow table: DuckDB's own Arrow export, chunk by chunk, then one IPC
 * stream written into a memfd. */
#include <stdlib.h>
#include <unistd.h>

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
