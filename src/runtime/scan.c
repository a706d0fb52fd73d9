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
    tarn_file_stats fs = {0};
    tarn_verdict *verdicts = calloc(v.nfiles ? v.nfiles : 1, sizeof *verdicts);
    int rc = verdicts ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < v.nfiles; i++) verdicts[i] = TARN_VERDICT_SOME;
    if (rc == 0 && tarn__prune_count(prune) > 0) {
        rc = tarn__file_stats_load(&fs, lake, v.files, v.nfiles, err);
        if (rc == 0) rc = tarn__prune_judge(verdicts, prune, fs.stats, fs.n, d, params);
    }
    for (size_t i = 0; rc == 0 && i < v.nfiles; i++)
        if (verdicts[i] != TARN_VERDICT_NONE) json_array_append_new(*kept, json_string(v.files[i]));
    free(verdicts);
    tarn__file_stats_clear(&fs);
    tarn__prune_free(&prune);
    tarn__columns_free(cols, ncols);
    tarn__version_clear(&v);
    return rc;
}
