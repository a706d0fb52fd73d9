/* runtime/job.c — the record of every run: list, show, logs, rerun. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/joblog.h"
#include "runtime/runtime.h"
#include "util/error.h"
#include "util/util.h"

static json_t *time_json(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return json_null();
    char t[40];
    tarn__format_time(t, sizeof t, sqlite3_column_int64(st, col));
    return json_string(t);
}

static json_t *text_json(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? json_string((const char *)t) : json_null();
}

/* A job still `running` whose process is gone was killed: record it as
 * failed and mark its run branch aborted, so nobody waits for it or merges
 * it. (The process id is only meaningful on this machine, which is where
 * the embedded catalog lives.) */
static void settle_dead_jobs(tarn_lake *lake)
{
    sqlite3_stmt *st;
    if (tarn__prepare(&st, lake, "SELECT id, branch, pid FROM jobs WHERE status = 'running'", NULL) < 0) return;
    char dead[64][65], branches[64][TARN_NAME_MAX + 1];
    int n = 0;
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        pid_t pid = (pid_t)sqlite3_column_int64(st, 2);
        if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)) continue;
        snprintf(dead[n], sizeof dead[n], "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(branches[n], sizeof branches[n], "%s", (const char *)sqlite3_column_text(st, 1));
        n++;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        if (tarn__prepare(&st, lake,
                          "UPDATE jobs SET status = 'failed', ended_us = ?, logs = logs || "
                          "'run process ended before the run finished' || char(10) "
                          "WHERE id = ? AND status = 'running'",
                          NULL) < 0)
            return;
        sqlite3_bind_int64(st, 1, tarn__now_us());
        sqlite3_bind_text(st, 2, dead[i], -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
        tarn__joblog_append(lake, dead[i], "run process ended before the run finished");
        char run_branch[TARN_NAME_MAX + 96];
        snprintf(run_branch, sizeof run_branch, "%s.tarn-run-%s", branches[i], dead[i]);
        tarn__branch_mark_aborted(lake, run_branch, NULL);
    }
}

#define JOB_COLUMNS "id, status, branch, started_us, ended_us, commit_hash, input_commit, project_hash"

static json_t *job_row(sqlite3_stmt *st)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", text_json(st, 0), "status",
                     text_json(st, 1), "branch", text_json(st, 2), "started", time_json(st, 3), "ended",
                     time_json(st, 4), "commit", text_json(st, 5), "input_commit", text_json(st, 6),
                     "project_hash", text_json(st, 7));
}

int tarn_job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err)
{
    *json = NULL;
    settle_dead_jobs(lake);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT " JOB_COLUMNS " FROM jobs ORDER BY started_us DESC LIMIT ?", err));
    sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(list, job_row(st));
    sqlite3_finalize(st);
    *json = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    return 0;
}

/* Finds the job ID (or unique prefix); returns the statement on its row. */
static int job_find(sqlite3_stmt **out, tarn_lake *lake, const char *id, const char *columns,
                    tarn_error *err)
{
    *out = NULL;
    if (!id || !*id || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id))
        return tarn__error_set(err, TARN_EINVALID, "invalid job id '%s'", id ? id : "");
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM jobs WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2", columns);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, sql, err));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return tarn__error_set(err, TARN_ENOTFOUND, "no job '%s' (see 'tarn job ls')", id);
    }
    /* A second row means the prefix is ambiguous; re-run to land on the first. */
    if (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_finalize(st);
        return tarn__error_set(err, TARN_EAMBIGUOUS, "job id '%s' is ambiguous: give more characters", id);
    }
    sqlite3_reset(st);
    sqlite3_step(st);
    *out = st;
    return 0;
}

int tarn_job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err)
{
    *json = NULL;
    settle_dead_jobs(lake);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(job_find(&st, lake, id, JOB_COLUMNS ", params, report", err));
    json_t *job = job_row(st);
    const char *params = (const char *)sqlite3_column_text(st, 8);
    const char *report = (const char *)sqlite3_column_text(st, 9);
    json_object_set_new(job, "params", params ? json_loads(params, 0, NULL) : json_object());
    json_t *rep = report ? json_loads(report, 0, NULL) : NULL;
    if (rep) {
        json_object_set(job, "tasks", json_object_get(rep, "tasks"));
        json_object_set(job, "expectations", json_object_get(rep, "expectations"));
        if (json_object_get(rep, "error")) json_object_set(job, "error", json_object_get(rep, "error"));
        json_decref(rep);
    }
    sqlite3_finalize(st);
    *json = json_dumps(job, JSON_COMPACT);
    json_decref(job);
    return 0;
}

int tarn_job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err)
{
    *text = NULL;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(job_find(&st, lake, id, "id, logs", err));
    /* The log file holds the whole (capped) log; the catalog its tail. */
    if (tarn__joblog_read(text, lake, (const char *)sqlite3_column_text(st, 0), NULL) != 0) {
        const unsigned char *tail = sqlite3_column_text(st, 1);
        *text = strdup(tail ? (const char *)tail : "");
    }
    sqlite3_finalize(st);
    return 0;
}

static int rm_rf(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

int tarn_job_rerun(char **report, tarn_lake *lake, const char *id, const tarn_run_options *opts,
                   tarn_error *err)
{
    *report = NULL;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(job_find(&st, lake, id, "id, branch, input_commit, project, params", err));
    char job[65], branch[TARN_NAME_MAX + 1], input[65];
    snprintf(job, sizeof job, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(branch, sizeof branch, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(input, sizeof input, "%s", (const char *)sqlite3_column_text(st, 2));
    json_t *project = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
    json_t *params = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
    sqlite3_finalize(st);
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
        if (tarn__write_file_atomic(path, t, strlen(t)) != 0)
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s'", path);
    }
    /* The same inputs: sources read at the job's input commit, the same
     * parameter values (unless overridden). */
    size_t n = json_object_size(params);
    const char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    char **owned = calloc(n + 1, sizeof *owned);
    size_t k = 0;
    json_t *v;
    json_object_foreach(params, name, v)
    {
        names[k] = name;
        owned[k] = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        values[k] = owned[k];
        k++;
    }
    tarn_run_options o = TARN_RUN_OPTIONS_INIT;
    if (opts) o = *opts;
    o.project_dir = dir;
    o.branch = opts && opts->branch ? opts->branch : branch;
    o.input_ref = input;
    if (!opts || !opts->nparams) {
        o.nparams = n;
        o.param_names = names;
        o.param_values = values;
    }
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
