/* runtime/job.c — the record of every run: list, show, logs, rerun. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/joblog.h"
#include "lake/ops.h"
#include "runtime/runtime.h"
#include "util/error.h"
#include "util/util.h"

static json_t *time_json(int64_t us)
{
    if (!us) return json_null();
    char t[40];
    tarn__format_time(t, sizeof t, us);
    return json_string(t);
}

static json_t *text_json(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *job_json(const tarn_job_row *j)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", text_json(j->id), "status", text_json(j->status),
                     "branch", text_json(j->branch), "started", time_json(j->started_us), "ended",
                     time_json(j->ended_us), "commit", text_json(j->commit), "input_commit",
                     text_json(j->input_commit), "project_hash", text_json(j->project_hash));
}

static int add_job(const tarn_job_row *j, void *ctx)
{
    return json_array_append_new(ctx, job_json(j)) == 0 ? 0 : TARN_ENOMEM;
}

int tarn_local__job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err)
{
    *json = NULL;
    /* Jobs whose process is gone (or whose lease expired) are settled first,
     * so nobody waits for them; a read never judges a process it cannot see.
     * Settling writes: where the catalog can only be read, reads go on. */
    tarn__lease_settle(lake, NULL);
    json_t *list = json_array();
    int rc = TARN_CAT(lake)->vt->job_list(TARN_CAT(lake), limit, 0, add_job, list, err);
    if (rc == 0) *json = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    return rc;
}

int tarn__job_find(tarn_job_row *out, tarn_lake *lake, const char *id, tarn_error *err)
{
    if (!id || !*id || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id))
        return tarn__error_set(err, TARN_EINVALID, "invalid job id '%s'", id ? id : "");
    int rc = TARN_CAT(lake)->vt->job_get(TARN_CAT(lake), id, out, 1, err);
    if (rc == TARN_ENOTFOUND) return tarn__error_set(err, TARN_ENOTFOUND, "no job '%s' (see 'tarn job ls')", id);
    return rc;
}

int tarn_local__job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err)
{
    *json = NULL;
    tarn__lease_settle(lake, NULL);
    tarn_job_row j;
    TARN_RETURN_NOT_OK(tarn__job_find(&j, lake, id, err));
    json_t *job = job_json(&j);
    json_t *params = j.params_json ? json_loads(j.params_json, 0, NULL) : NULL;
    json_object_set_new(job, "params", params ? params : json_object());
    json_t *rep = j.report_json ? json_loads(j.report_json, 0, NULL) : NULL;
    if (rep) {
        json_object_set(job, "tasks", json_object_get(rep, "tasks"));
        json_object_set(job, "expectations", json_object_get(rep, "expectations"));
        if (json_object_get(rep, "error")) json_object_set(job, "error", json_object_get(rep, "error"));
        /* how each source scan was served (the scan cache); which models
         * took an earlier output, and what later runs may take (reuse) */
        const char *keys[] = {"scans", "reused", "reuse"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (json_object_get(rep, keys[k])) json_object_set(job, keys[k], json_object_get(rep, keys[k]));
        json_decref(rep);
    }
    tarn__job_row_clear(&j);
    *json = json_dumps(job, JSON_COMPACT);
    json_decref(job);
    return 0;
}

int tarn_local__job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err)
{
    *text = NULL;
    tarn_job_row j;
    TARN_RETURN_NOT_OK(tarn__job_find(&j, lake, id, err));
    /* The log file holds the whole (capped) log; the catalog its tail. */
    if (tarn__joblog_read(text, lake, j.id, NULL) != 0) *text = strdup(j.logs ? j.logs : "");
    tarn__job_row_clear(&j);
    return 0;
}

static int rm_rf(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

int tarn_local__job_rerun(char **report, tarn_lake *lake, const char *id,
                          const tarn_run_options *opts, tarn_error *err)
{
    *report = NULL;
    tarn_job_row row;
    TARN_RETURN_NOT_OK(tarn__job_find(&row, lake, id, err));
    char job[65], branch[TARN_NAME_MAX + 1], input[65];
    snprintf(job, sizeof job, "%s", row.id);
    snprintf(branch, sizeof branch, "%s", row.branch);
    snprintf(input, sizeof input, "%s", row.input_commit);
    json_t *project = json_loads(row.project_json ? row.project_json : "{}", 0, NULL);
    json_t *params = json_loads(row.params_json ? row.params_json : "{}", 0, NULL);
    tarn__job_row_clear(&row);
    /* The same code: the project's files as they were, in a fresh folder. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/cache/rerun-%s-XXXXXX", tarn_lake_path(lake), job);
    int rc = 0;
    if (!mkdtemp(dir)) rc = tarn__error_set(err, TARN_EIO, "cannot create a folder for the rerun");
    const char *name;
    json_t *content;
    json_object_foreach(json_object_get(project, "files"), name, content)
    {
        if (rc < 0) break;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        const char *t = json_string_value(content);
        char *slash = strrchr(path, '/');
        *slash = 0; /* a file of include_paths lives in a subfolder */
        int made = tarn__mkdirs(path, 0700);
        *slash = '/';
        if (made != 0 || tarn__write_file_atomic(path, t, strlen(t)) != 0)
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s'", path);
    }
    /* The same inputs: sources read at the job's input commit, the same
     * parameter values, except those the rerun gives. */
    size_t given = opts ? opts->nparams : 0;
    size_t n = json_object_size(params) + given;
    const char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    char **owned = calloc(n + 1, sizeof *owned);
    size_t k = 0;
    for (; k < given; k++) {
        names[k] = opts->param_names[k];
        values[k] = opts->param_values[k];
    }
    json_t *v;
    json_object_foreach(params, name, v)
    {
        /* A secret was recorded as null: it comes from its default or
         * from the rerun's --param, never from the record. */
        int overridden = 0;
        for (size_t g = 0; g < given && !overridden; g++) overridden = !strcmp(names[g], name);
        if (json_is_null(v) || overridden) continue;
        names[k] = name;
        owned[k] = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        values[k] = owned[k];
        k++;
    }
    tarn_run_options o = TARN_RUN_OPTIONS_INIT;
    if (opts) o = *opts;
    if (opts && opts->version < 2) o.namespace_ = NULL, o.on_job = NULL, o.runtime_exe = NULL;
    if (opts && opts->version < 3) o.no_cache = 0;
    o.version = TARN_RUN_OPTIONS_VERSION;
    o.project_dir = dir;
    o.branch = opts && opts->branch ? opts->branch : branch;
    o.input_ref = input;
    o.nparams = k;
    o.param_names = names;
    o.param_values = values;
    if (rc == 0) rc = tarn_run(report, lake, &o, err);
    for (k = 0; k < n; k++) free(owned[k]);
    free(owned);
    free(names);
    free(values);
    rm_rf(dir);
    json_decref(project);
    json_decref(params);
    return rc;
}
