/* catalog/backend.c — choosing a catalog backend by location, the
 * transaction helpers every catalog operation uses, and freeing rows. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"

int tarn__catalog_open(tarn_catalog **out, const char *location, int create, tarn_error *err)
{
    *out = NULL;
    if (!strncmp(location, "postgresql://", 13) || !strncmp(location, "postgres://", 11))
        return tarn__error_set(err, TARN_EINVALID, "this tarn was built without PostgreSQL support");
    return tarn__catalog_sqlite_open(out, location, create, err);
}

int tarn__tx_begin(tarn_lake *lake, tarn_error *err)
{
    return TARN_CAT(lake)->vt->begin(TARN_CAT(lake), err);
}

int tarn__tx_commit(tarn_lake *lake, tarn_error *err)
{
    return TARN_CAT(lake)->vt->commit(TARN_CAT(lake), err);
}

void tarn__tx_rollback(tarn_lake *lake)
{
    TARN_CAT(lake)->vt->rollback(TARN_CAT(lake));
}

int tarn__tx_run(tarn_lake *lake, int (*fn)(tarn_lake *, void *, tarn_error *), void *ctx, tarn_error *err)
{
    int rc = TARN_ERETRY;
    for (int attempt = 0; attempt < 5 && rc == TARN_ERETRY; attempt++) {
        if ((rc = tarn__tx_begin(lake, err)) < 0) continue;
        rc = fn(lake, ctx, err);
        if (rc == 0) rc = tarn__tx_commit(lake, err);
        else tarn__tx_rollback(lake);
    }
    return rc;
}

void tarn__data_file_clear(tarn_data_file *f)
{
    if (!f) return;
    free(f->key);
    free(f->stats_json);
    memset(f, 0, sizeof *f);
}

void tarn__commit_row_clear(tarn_commit_row *r)
{
    if (!r) return;
    free(r->author);
    free(r->message);
    free(r->properties_json);
    r->author = r->message = r->properties_json = NULL;
}

void tarn__job_row_clear(tarn_job_row *j)
{
    if (!j) return;
    free(j->project_json);
    free(j->params_json);
    free(j->report_json);
    free(j->logs);
    j->project_json = j->params_json = j->report_json = j->logs = NULL;
}
