/* runtime/scan.c — which data files a source scan must read.
 *
 * The scan's filter (already parsed by DuckDB) is judged against every
 * file's statistics, recorded in the catalog when the file was written
 * (sql/prune.c says which terms and which statistics count). A file whose
 * statistics prove that no row passes is skipped without being opened;
 * anything else keeps the file: skipping is an optimisation, never a change
 * of result. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "sql/engine.h"
#include "sql/prune.h"
#include "table/schema.h"
#include "util/error.h"
#include "util/util.h"

int tarn__scan_files(json_t **kept, size_t *total, tarn_lake *lake, tarn_duck *d,
                     const char *version_id, json_t *where, json_t *params, tarn_error *err)
{
    *kept = json_array();
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    *total = v.nfiles;
    tarn_column *cols = NULL;
    size_t ncols = 0;
    tarn_prune *prune = NULL;
    if (where && v.nfiles > 0) {
        tarn__schema_parse(&cols, &ncols, v.schema_json);
        prune = tarn__prune_new(where, cols, ncols);
    }
    int rc = 0;
    if (tarn__prune_count(prune) == 0) {
        for (size_t i = 0; i < v.nfiles; i++) json_array_append_new(*kept, json_string(v.files[i]));
        goto done;
    }
    /* One query tests every file: SELECT <file 0 may match>, <file 1 ...>,
     * the filter's parameters bound as in the scan itself. */
    strbuf q = {0};
    sb_append(&q, "SELECT ");
    tarn_data_file *records = calloc(v.nfiles, sizeof *records);
    rc = records ? TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), (const char *const *)v.files, v.nfiles, records, err)
                 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < v.nfiles && rc == 0; i++) {
        json_t *stats = json_loads(records[i].stats_json ? records[i].stats_json : "{}", 0, NULL);
        if (i) sb_append(&q, ", ");
        tarn__prune_file_test(&q, prune, stats);
        sb_append(&q, "::VARCHAR");
        json_decref(stats);
    }
    for (size_t i = 0; records && i < v.nfiles; i++) tarn__data_file_clear(&records[i]);
    free(records);
    duckdb_result res;
    if (rc == 0 && tarn__duck_query_bound(&res, d, sb_str(&q), params, TARN_EINVALID, "file statistics", NULL) == 0) {
        for (size_t i = 0; i < v.nfiles; i++) {
            char *t = tarn__duck_text(&res, (idx_t)i, 0);
            if (!t || strcmp(t, "false") != 0) json_array_append_new(*kept, json_string(v.files[i]));
            free(t);
        }
    } else if (rc == 0) {
        /* Statistics that cannot be compared prove nothing: keep every file. */
        for (size_t i = 0; i < v.nfiles; i++) json_array_append_new(*kept, json_string(v.files[i]));
    }
    if (rc == 0) duckdb_destroy_result(&res);
    sb_free(&q);
done:
    tarn__prune_free(&prune);
    tarn__columns_free(cols, ncols);
    tarn__version_clear(&v);
    return rc;
}
