/* catalog/protect.c — protected branches: a branch that only merges
 * reach (no direct import, table change or run without a transaction),
 * or only merges of successful runs whose expectations all passed. The
 * checks run inside the transaction that would move the branch. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tarn/auth.h"
#include "util/error.h"
#include "util/util.h"

static const char *mode_name(int mode)
{
    return mode == TARN_PROTECT_RUNS ? "runs" : "merges";
}

int tarn_local__branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                               tarn_error *err)
{
    if (mode < TARN_PROTECT_NONE || mode > TARN_PROTECT_RUNS)
        return tarn__error_set(err, TARN_EINVALID, "unknown protection %d (none, merges or runs)", (int)mode);
    tarn_ref_row ref;
    int rc = tarn__ref_get(&ref, lake, name ? name : "", err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && ref.kind != TARN_REF_BRANCH))
        return tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", name ? name : "");
    if (rc < 0) return rc;
    return TARN_CAT(lake)->vt->protect_set(TARN_CAT(lake), name, (int)mode, err);
}

int tarn_local__branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                                  tarn_error *err)
{
    int mode = 0;
    int rc = TARN_CAT(lake)->vt->protect_get(TARN_CAT(lake), name, &mode, err);
    *out = (tarn_protect_mode)mode;
    return rc;
}

static int add_protected(const char *branch, int mode, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "name", branch, "mode", mode_name(mode)));
    return 0;
}

int tarn_local__branch_protected_list(char **json, tarn_lake *lake, tarn_error *err)
{
    *json = NULL;
    json_t *list = json_array();
    int rc = TARN_CAT(lake)->vt->protect_list(TARN_CAT(lake), add_protected, list, err);
    if (rc == 0) *json = json_dumps(list, JSON_COMPACT);
    if (rc == 0 && !*json) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    json_decref(list);
    return rc;
}

int tarn__protect_check_write(tarn_lake *lake, const char *branch, tarn_error *err)
{
    int mode = 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->protect_get(TARN_CAT(lake), branch, &mode, err));
    if (!mode) return 0;
    return tarn__error_set(err, TARN_EDENIED,
                           "branch '%s' is protected: only merges reach it; write on another branch "
                           "(tarn branch create NAME --from-ref %s) and merge it",
                           branch, branch);
}

/* Did the run behind COMMIT succeed with every expectation passed? 1/0. */
static int commit_of_passed_run(tarn_lake *lake, const char *commit, tarn_error *err)
{
    tarn_commit_row row;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->commit_get(TARN_CAT(lake), commit, &row, 1, err));
    json_t *props = json_loads(row.properties_json ? row.properties_json : "{}", 0, NULL);
    tarn__commit_row_clear(&row);
    const char *job_id = json_string_value(json_object_get(props, "job_id"));
    int ok = 0;
    tarn_job_row job;
    if (job_id && TARN_CAT(lake)->vt->job_get(TARN_CAT(lake), job_id, &job, 1, NULL) == 0) {
        ok = strcmp(job.status, "success") == 0;
        json_t *report = json_loads(job.report_json ? job.report_json : "{}", 0, NULL);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(report, "expectations"), i, e)
        {
            if (!json_is_true(json_object_get(e, "passed"))) ok = 0;
        }
        json_decref(report);
        tarn__job_row_clear(&job);
    }
    json_decref(props);
    return ok;
}

int tarn__protect_check_merge(tarn_lake *lake, const char *target, const char *source_ref,
                              const char *source_commit, tarn_error *err)
{
    int mode = 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->protect_get(TARN_CAT(lake), target, &mode, err));
    if (mode != TARN_PROTECT_RUNS) return 0;
    int rc = commit_of_passed_run(lake, source_commit, err);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
    return tarn__error_set(err, TARN_EDENIED,
                           "branch '%s' is protected: it takes only merges of successful runs whose "
                           "expectations all passed, and '%s' is not the output of one (run the pipeline "
                           "on it with 'tarn run --ref %s', then merge)",
                           target, source_ref ? source_ref : source_commit, source_ref ? source_ref : "BRANCH");
}

int tarn__protect_check_run(tarn_lake *lake, const char *target, int failed_expectations, tarn_error *err)
{
    if (failed_expectations <= 0) return 0;
    int mode = 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->protect_get(TARN_CAT(lake), target, &mode, err));
    if (mode != TARN_PROTECT_RUNS) return 0;
    return tarn__error_set(err, TARN_EDENIED,
                           "branch '%s' is protected: it takes only runs whose expectations all passed, and %d "
                           "expectation%s failed: nothing reached it (fix the data or the expectation, then run "
                           "again)",
                           target, failed_expectations, failed_expectations == 1 ? "" : "s");
}
