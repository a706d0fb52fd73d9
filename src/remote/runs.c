/* remote/runs.c — runs, jobs and environments on a server (/api/v1/runs,
 * /jobs, /envs). A run uploads the project folder as an archive and
 * follows the run's progress as it happens: each line reaches on_line as a
 * local run's would, and the last one carries the outcome (code, message,
 * report). Closing the connection before the end (the caller was
 * interrupted) makes the server cancel the run, as stopping a local run
 * does. A detached run is not followed: the server runs it on, and the
 * call returns once its job is recorded; `job stop` stops it by id. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote/remote.h"
#include "util/error.h"

typedef struct follow {
    const tarn_run_options *opts;
    char local_dir[PATH_MAX]; /* the project folder here... */
    char *server_dir;         /* ...and where it runs on the server */
    json_t *last;             /* the final line: {"report", "exit_code", "error"} */
} follow;

/* TEXT with the server's project folder shown as the caller's own (free
 * with free). */
static char *localize(const follow *f, const char *text)
{
    strbuf b = {0};
    size_t n = f->server_dir ? strlen(f->server_dir) : 0;
    const char *at;
    while (n && f->local_dir[0] && (at = strstr(text, f->server_dir))) {
        sb_appendn(&b, text, (size_t)(at - text));
        sb_append(&b, f->local_dir);
        text = at + n;
    }
    sb_append(&b, text);
    return b.s ? b.s : strdup("");
}

static void on_run_line(const char *line, void *ctx)
{
    follow *f = ctx;
    json_t *v = json_loads(line, 0, NULL);
    if (!v) return;
    const char *text = json_string_value(json_object_get(v, "line"));
    if (text) {
        char *shown = localize(f, text);
        if (f->opts && f->opts->on_line && shown) f->opts->on_line(shown, f->opts->ctx);
        free(shown);
        json_decref(v);
        return;
    }
    const char *dir = json_string_value(json_object_get(v, "project_dir"));
    if (dir) {
        free(f->server_dir);
        f->server_dir = strdup(dir);
        json_decref(v);
        return;
    }
    if (json_object_get(v, "exit_code")) {
        json_decref(f->last);
        f->last = v;
        return;
    }
    json_decref(v);
}

static void run_args(rm_path *p, const tarn_run_options *o)
{
    if (!o) return;
    if (o->strict) tarn_remote__arg(p, "strict", "1");
    if (o->dry_run) tarn_remote__arg(p, "dry_run", "1");
    if (o->no_transaction) tarn_remote__arg(p, "no_transaction", "1");
    if (o->preview_rows > 0) tarn_remote__arg(p, "preview", "1");
    if (o->version >= 2 && o->namespace_) tarn_remote__arg(p, "namespace", o->namespace_);
    if (o->version >= 3 && o->no_cache) tarn_remote__arg(p, "cache", "off");
    for (size_t i = 0; i < o->nparams; i++) {
        strbuf kv = {0};
        sb_printf(&kv, "%s=%s", o->param_names[i], o->param_values[i]);
        tarn_remote__arg(p, "param", sb_str(&kv));
        sb_free(&kv);
    }
}

/* Follows the run the request starts and gives back its outcome. */
static int follow_run(char **report, tarn_lake *lake, rm_path *p, int fd,
                      const tarn_run_options *opts, tarn_error *err)
{
    follow f = {.opts = opts};
    if (!realpath(opts && opts->project_dir ? opts->project_dir : ".", f.local_dir))
        f.local_dir[0] = 0;
    tarn_remote__arg(p, "follow", "1");
    int rc = tarn_remote__lines(lake, p, fd, on_run_line, &f, err);
    if (rc == 0 && !f.last)
        rc = tarn__error_set(
            err, TARN_EIO,
            "the server ended the run's progress without its outcome (it may have stopped): see "
            "'tarn job ls' for what became of it");
    if (rc == 0) {
        json_t *r = json_object_get(f.last, "report");
        if (r && !json_is_null(r)) {
            char *text = json_dumps(r, JSON_COMPACT);
            *report = text ? localize(&f, text) : NULL;
            free(text);
        }
        json_t *e = json_object_get(f.last, "error");
        if (e && !json_is_null(e)) {
            rc = tarn_remote__error_from(err, e, 0);
            char *msg = err ? localize(&f, err->message) : NULL;
            if (msg) snprintf(err->message, sizeof err->message, "%s", msg);
            free(msg);
        } else if (json_integer_value(json_object_get(f.last, "exit_code")) != 0)
            rc = tarn__error_set(
                err, TARN_EUSER, "the run failed on the server (exit code %lld)",
                (long long)json_integer_value(json_object_get(f.last, "exit_code")));
    }
    json_decref(f.last);
    free(f.server_dir);
    return rc;
}

/* A detached run: the server runs it on without a client. Returns once
 * its job is recorded (handed to on_job), with a report saying so. */
static int detach_run(char **report, tarn_lake *lake, rm_path *p, int fd,
                      const tarn_run_options *opts, tarn_error *err)
{
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__upload(&v, lake, p, fd, err));
    char id[64];
    snprintf(id, sizeof id, "%s", tarn_remote__str(v, "id"));
    json_decref(v);
    if (!id[0]) return tarn__error_set(err, TARN_EIO, "the server started the run without an id");
    /* The job is recorded once the run is planned: a few milliseconds. */
    for (int i = 0; i < 2400; i++) {
        rm_path q;
        tarn_remote__path(&q, "/api/v1/runs/%s", id);
        json_t *run = NULL;
        TARN_RETURN_NOT_OK(tarn_remote__json(&run, lake, "GET", &q, NULL, err));
        const char *job = tarn_remote__str(run, "job_id");
        json_t *e = json_object_get(run, "error");
        const char *status = tarn_remote__str(run, "status");
        int rc = 0, done = *status && strcmp(status, "running") != 0;
        if (*job) {
            if (opts->on_job) opts->on_job(job, opts->ctx);
            json_t *r = json_pack("{s:s,s:s,s:b}", "job_id", job, "outcome", "running", "detached", 1);
            *report = json_dumps(r, JSON_COMPACT);
            json_decref(r);
        } else if (json_is_object(e)) {
            rc = tarn_remote__error_from(err, e, 0);
        } else if (done) {
            rc = tarn__error_set(err, TARN_EIO,
                                 "the run ended on the server (%s) before its job started: see the "
                                 "server's run %s",
                                 status, id);
        }
        json_decref(run);
        if (rc < 0 || *report) return rc;
        usleep(25 * 1000);
    }
    return tarn__error_set(err, TARN_EIO,
                           "the server's run %s recorded no job within a minute: see 'tarn job ls'", id);
}

int tarn_remote__run(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err)
{
    *report = NULL;
    int detach = opts && opts->version >= 2 && opts->on_job;
    if (detach && opts->dry_run)
        return tarn__error_set(err, TARN_EINVALID, "a detached run runs a job: it cannot be a dry run");
    const char *branch = opts ? opts->branch : NULL;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&branch, buf, lake, branch, err));
    int fd = -1;
    TARN_RETURN_NOT_OK(
        tarn_remote__tar(&fd, opts && opts->project_dir ? opts->project_dir : ".", err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/runs");
    tarn_remote__arg(&p, "ref", branch);
    run_args(&p, opts);
    int rc = detach ? detach_run(report, lake, &p, fd, opts, err)
                    : follow_run(report, lake, &p, fd, opts, err);
    close(fd);
    return rc;
}

int tarn_remote__job_cancel(tarn_lake *lake, const char *id, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/jobs/%s", id);
    return tarn_remote__json(NULL, lake, "DELETE", &p, NULL, err);
}

int tarn_remote__job_rerun(char **report, tarn_lake *lake, const char *id,
                           const tarn_run_options *opts, tarn_error *err)
{
    *report = NULL;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/jobs/%s/rerun", id ? id : "");
    if (opts) tarn_remote__arg(&p, "ref", opts->branch);
    run_args(&p, opts);
    return follow_run(report, lake, &p, -1, opts, err);
}

/* GET PATH and the member KEY of the answer as text (JSON, or the string
 * itself when it is one). */
static int get_member(char **out, tarn_lake *lake, rm_path *p, const char *key, tarn_error *err)
{
    *out = NULL;
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", p, NULL, err));
    json_t *m = key ? json_object_get(v, key) : v;
    *out = json_is_string(m) ? strdup(json_string_value(m))
                             : json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return *out ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}

int tarn_remote__job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/jobs");
    tarn_remote__arg_int(&p, "limit", (int64_t)limit);
    return get_member(json, lake, &p, "jobs", err);
}

int tarn_remote__job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/jobs/%s", id ? id : "");
    return get_member(json, lake, &p, NULL, err);
}

int tarn_remote__job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/jobs/%s/logs", id ? id : "");
    return get_member(text, lake, &p, "logs", err);
}

int tarn_remote__env_list(char **json, tarn_lake *lake, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/envs");
    return get_member(json, lake, &p, NULL, err);
}

int tarn_remote__env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run,
                        tarn_error *err)
{
    *json = NULL;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/envs/gc");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(
        &v, lake, "POST", &p,
        json_pack("{s:I,s:b}", "keep_seconds", (json_int_t)keep_seconds, "dry_run", dry_run), err));
    *json = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return *json ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}
