/* server/api_runs.c — runs of uploaded projects, and the record of jobs.
 *
 * A run's project arrives as a tar archive (checked and unpacked by
 * tar.c) and runs inside the server, on a thread of its own, through the
 * library's run entry point (tarn_run, or tarn_job_rerun) on a lake handle
 * of its own authored by the run's user: no process to start, no DuckDB
 * library to load, only a catalog connection to open per run. User
 * code still never runs here: Python models and the project's inspection
 * run in confined, limited workers forked from the warm parents of the
 * server's warm runtime (runtime/warm.h), as in a local run, so a model
 * that crashes or misbehaves takes down only its worker. Each run's state
 * is its own (options, author, job, DuckDB, log), so concurrent runs never
 * see each other's. Its progress lines are kept and followed live; a
 * cancel (DELETE, a follower that leaves, SIGTERM) asks the job to stop
 * through the catalog (tarn_job_cancel), which ends it cancelled and its
 * branch untouched. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define MAX_PROJECT_FILES 2000
#define MAX_LOG (8 << 20)
#define MAX_PARAMS 12

struct srv_run {
    srv_run *next;
    char id[17];
    char user[256];
    char branch[256];
    char job_id[65];
    char dir[4300];
    char rerun[65]; /* the job a rerun repeats; empty for an uploaded project */
    int strict, dry_run, preview, no_transaction, no_cache;
    char *namespace_;                     /* NULL: the project's default */
    size_t nparams;                       /* ?param=NAME=VALUE, split */
    char *param_names[MAX_PARAMS];        /* owned */
    const char *param_values[MAX_PARAMS]; /* inside param_names' strings */
    tarn_lake *lake;                      /* its own, authored by the run's user */
    int done, cancelled, exit_code;
    char *log; /* every progress line, '\n'-separated */
    size_t loglen, logcap;
    char *report; /* the run's JSON report, once done */
    char *error;  /* how it failed, once done: {"code", "message", "tables"} or NULL */
    pthread_t thread;
    int started; /* its thread exists */
};

static srv_run *find_run(srv *s, const char *id)
{
    srv_run *r = NULL;
    pthread_mutex_lock(&s->mu);
    for (r = s->run_list; r && strcmp(r->id, id) != 0; r = r->next) {
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void free_run(srv_run *run)
{
    if (!run) return;
    for (size_t i = 0; i < run->nparams; i++)
        free(run->param_names[i]);
    free(run->namespace_);
    free(run->log);
    free(run->report);
    free(run->error);
    free(run);
}

typedef struct run_thread_arg {
    srv *s;
    srv_run *run;
} run_thread_arg;

/* One progress line of RUN (from the library's on_line). */
static void add_line(const char *line, void *ctx)
{
    run_thread_arg *a = ctx;
    srv *s = a->s;
    srv_run *run = a->run;
    size_t n = strlen(line);
    pthread_mutex_lock(&s->mu);
    if (run->loglen + n + 1 < MAX_LOG) {
        /* Grown by doubling: a model may print a line at a time for
         * hundreds of thousands of lines. */
        size_t need = run->loglen + n + 2;
        if (need > run->logcap) {
            size_t cap = run->logcap ? run->logcap : 4096;
            while (cap < need)
                cap *= 2;
            char *l = realloc(run->log, cap);
            if (l) {
                run->log = l;
                run->logcap = cap;
            }
        }
        if (need <= run->logcap) {
            memcpy(run->log + run->loglen, line, n);
            run->log[run->loglen + n] = '\n';
            run->loglen += n + 1;
            run->log[run->loglen] = 0;
        }
    }
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* Asks job JOB_ID to stop (the catalog carries the request to the run's
 * cancel watcher): its tasks stop, nothing of it is committed. */
static void cancel_job(srv *s, const char *job_id)
{
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, s->o.lake_dir, NULL) == 0) tarn_job_cancel(lake, job_id, NULL);
    tarn_lake_close(&lake);
}

/* The job is recorded (from the library's on_job, before any task runs):
 * a cancel that came while the run was still planning is passed on now. */
static void job_started(const char *job_id, void *ctx)
{
    run_thread_arg *a = ctx;
    pthread_mutex_lock(&a->s->mu);
    snprintf(a->run->job_id, sizeof a->run->job_id, "%s", job_id);
    int cancelled = a->run->cancelled;
    pthread_cond_broadcast(&a->s->idle);
    pthread_mutex_unlock(&a->s->mu);
    if (cancelled) cancel_job(a->s, job_id);
}

/* The outcome as a client hears it: {"code", "message", "tables"}. */
static char *error_text(int rc, const tarn_error *err)
{
    json_t *tables = json_array();
    for (size_t i = 0; i < err->ntables; i++)
        json_array_append_new(tables, srv_jstr(err->tables[i]));
    json_t *e =
        json_pack("{s:s,s:o,s:o}", "code", tarn_code_name(rc), "message",
                  srv_jstr(err->message[0] ? err->message : tarn_strerror(rc)), "tables", tables);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return text;
}

static void *run_thread(void *p)
{
    run_thread_arg *a = p;
    srv *s = a->s;
    srv_run *run = a->run;
    char project[4400];
    snprintf(project, sizeof project, "%s/project", run->dir);
    tarn_run_options o = TARN_RUN_OPTIONS_INIT;
    o.project_dir = project;
    o.branch = run->branch;
    o.dry_run = run->dry_run;
    o.strict = run->strict;
    o.no_transaction = run->no_transaction;
    o.preview_rows = run->preview ? 5 : 0;
    o.nparams = run->nparams;
    o.param_names = (const char *const *)run->param_names;
    o.param_values = run->param_values;
    o.namespace_ = run->namespace_;
    o.no_cache = run->no_cache;
    o.on_line = add_line;
    o.on_job = job_started;
    o.ctx = a;
    o.runtime_exe = s->o.tarn_exe; /* warm Python parents, kept across runs */
    tarn_error err = TARN_ERROR_INIT;
    char *report = NULL;
    int rc = run->rerun[0] ? tarn_job_rerun(&report, run->lake, run->rerun, &o, &err)
                           : tarn_run(&report, run->lake, &o, &err);
    char *etext = rc < 0 ? error_text(rc, &err) : NULL;
    tarn_error_clear(&err);
    tarn_lake_close(&run->lake);
    srv_rmtree(run->dir);
    pthread_mutex_lock(&s->mu);
    run->report = report ? strdup(report) : NULL;
    run->error = etext;
    run->exit_code = rc < 0 ? 1 : 0;
    run->done = 1;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    tarn_free(report);
    free(a);
    srv_gate_leave(&s->runs);
    return NULL;
}

/* RUN's own lake handle, authored by its user. Not one of the pool's: a
 * handle reads .tarn/config when it opens, and a run reads it as it is
 * when the run starts (its limits, confinement, parallelism), as a `tarn
 * run` does; opening one costs a catalog connection, not a process. */
static int open_lake(srv_run *run, srv *s, tarn_error *err)
{
    int rc = tarn_lake_open_path(&run->lake, s->o.lake_dir, err);
    if (rc == 0) rc = tarn_lake_set_author(run->lake, run->user, err);
    return rc;
}

/* Starts RUN on a thread of its own: the one place a run is started. */
static int start_run(srv *s, srv_run *run, tarn_error *err)
{
    run_thread_arg *a = malloc(sizeof *a);
    if (!a) return TARN_ENOMEM;
    a->s = s;
    a->run = run;
    pthread_mutex_lock(&s->mu);
    run->next = s->run_list;
    s->run_list = run;
    int e = pthread_create(&run->thread, NULL, run_thread, a);
    run->started = e == 0;
    if (e != 0) s->run_list = run->next;
    pthread_mutex_unlock(&s->mu);
    if (e != 0) {
        free(a);
        if (err)
            snprintf(err->message, sizeof err->message, "cannot start the run: %s (try again)",
                     strerror(e));
        return TARN_EIO;
    }
    return 0;
}

/* ---- following a run ------------------------------------------------------- */

typedef struct follow {
    srv *s;
    srv_run *run;
    size_t off;
    int ndjson, ended;
    int cancel_on_close; /* the client that started the run follows it: leaving is stopping it */
    char *pending;
    size_t plen, poff;
} follow;

static ssize_t follow_read(void *cls, char *buf, size_t max)
{
    follow *f = cls;
    srv *s = f->s;
    for (;;) {
        if (f->poff < f->plen) {
            size_t n = f->plen - f->poff < max ? f->plen - f->poff : max;
            memcpy(buf, f->pending + f->poff, n);
            f->poff += n;
            return (ssize_t)n;
        }
        free(f->pending);
        f->pending = NULL;
        f->plen = f->poff = 0;
        if (f->ended) return 0;
        pthread_mutex_lock(&s->mu);
        /* Whole lines only; wake at least every second to notice a stop.
         * A JSON-lines follower gets an empty line after 5 quiet seconds:
         * writing it is how a follower that went away is noticed (and its
         * run cancelled), since nothing is read from it. */
        int quiet = 0;
        while (!f->run->done && !s->stopping) {
            char *nl = f->run->log ? memchr(f->run->log + f->off, '\n', f->run->loglen - f->off) : NULL;
            if (nl) break;
            if (f->ndjson && quiet >= 5) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT) quiet++;
        }
        if (f->ndjson && quiet >= 5 && !f->run->done && !s->stopping) {
            pthread_mutex_unlock(&s->mu);
            buf[0] = '\n';
            return 1;
        }
        size_t end = f->off;
        if (f->run->log) {
            const char *last = f->run->log + f->run->loglen;
            while (last > f->run->log + f->off && last[-1] != '\n') last--;
            end = f->run->done ? f->run->loglen : (size_t)(last - f->run->log);
        }
        char *chunk = end > f->off ? strndup(f->run->log + f->off, end - f->off) : NULL;
        f->off = end;
        int done = f->run->done;
        char *report = done && f->run->report ? strdup(f->run->report) : NULL;
        char *error = done && f->run->error ? strdup(f->run->error) : NULL;
        int code = f->run->exit_code;
        pthread_mutex_unlock(&s->mu);
        json_t *lines = json_array();
        if (chunk) {
            if (f->ndjson) {
                char *save = NULL;
                for (char *l = strtok_r(chunk, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                    json_array_append_new(lines, json_pack("{s:o}", "line", srv_jstr(l)));
            } else {
                f->pending = chunk;
                f->plen = strlen(chunk);
                chunk = NULL;
            }
        }
        free(chunk);
        if (f->ndjson) {
            {
                size_t i;
                json_t *v;
                char *acc = NULL;
                size_t alen = 0;
                FILE *m = open_memstream(&acc, &alen);
                json_array_foreach(lines, i, v)
                {
                    char *t = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
                    fprintf(m, "%s\n", t);
                    free(t);
                }
                if (done) {
                    json_t *rep = report ? json_loads(report, 0, NULL) : NULL;
                    json_t *e = error ? json_loads(error, 0, NULL) : NULL;
                    json_t *last = json_pack("{s:o,s:i,s:o}", "report", rep ? rep : json_null(),
                                             "exit_code", code, "error", e ? e : json_null());
                    char *t = json_dumps(last, JSON_COMPACT | JSON_ENSURE_ASCII);
                    fprintf(m, "%s\n", t);
                    free(t);
                    json_decref(last);
                }
                fclose(m);
                f->pending = acc;
                f->plen = alen;
            }
        }
        json_decref(lines);
        free(report);
        free(error);
        if (done || s->stopping) f->ended = 1;
    }
}

static void stop_run(srv *s, srv_run *run);

static void follow_free(void *cls)
{
    follow *f = cls;
    /* The client that started the run went away before its end (it was
     * interrupted, as Ctrl-C stops a local run): the run is stopped. */
    if (f->cancel_on_close && !f->ended) stop_run(f->s, f->run);
    free(f->pending);
    free(f);
}

static int reply_follow(srv_req *r, srv_run *run, int ndjson, int cancel_on_close)
{
    follow *f = calloc(1, sizeof *f);
    if (!f) return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    f->s = r->s;
    f->run = run;
    f->ndjson = ndjson;
    f->cancel_on_close = cancel_on_close;
    if (ndjson && cancel_on_close) {
        /* First line: where the project runs here, so that the client can
         * show its own folder wherever a message names a project file. */
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/project", run->dir);
        json_t *v = json_pack("{s:s,s:o}", "run", run->id, "project_dir", srv_jstr(dir));
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(v);
        size_t n = t ? strlen(t) : 0;
        f->pending = t ? realloc(t, n + 2) : NULL;
        if (f->pending) {
            f->pending[n] = '\n';
            f->pending[n + 1] = 0;
            f->plen = n + 1;
        } else {
            free(t);
        }
    }
    /* A run may print nothing for minutes: its follower waits that long. */
    srv_set_timeout(r, 0);
    return srv_reply_stream(r, 200, ndjson ? "application/x-ndjson" : "text/plain; charset=utf-8", follow_read, f,
                            follow_free);
}

/* ---- routes -------------------------------------------------------------------- */

typedef struct param_list {
    srv_run *run;
    const char *bad; /* a value that is not NAME=VALUE */
    int too_many;
} param_list;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    param_list *l = cls;
    srv_run *run = l->run;
    if (strcmp(key, "param") != 0) return MHD_YES;
    const char *eq = value ? strchr(value, '=') : NULL;
    if (!eq || eq == value) {
        l->bad = value ? value : "";
        return MHD_NO;
    }
    if (run->nparams == MAX_PARAMS) {
        l->too_many = 1;
        return MHD_NO;
    }
    char *name = strdup(value);
    if (!name) return MHD_NO;
    name[eq - value] = 0;
    run->param_names[run->nparams] = name;
    run->param_values[run->nparams++] = name + (eq - value) + 1;
    return MHD_YES;
}

/* The run options a request sets (?strict, ?dry_run, ?preview,
 * ?no_transaction, ?cache=on|off, ?namespace=NS, ?param=NAME=VALUE...)
 * into RUN; -1 once a bad one is answered. */
static int run_flags(srv_req *r, srv_run *run)
{
    param_list l = {.run = run};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_param, &l);
    if (l.too_many) return srv_reply_msg(r, 400, "invalid", "too many parameters (at most 12)") - 1;
    if (l.bad) {
        char msg[400];
        snprintf(msg, sizeof msg, "parameter '%.300s' is not NAME=VALUE (give ?param=NAME=VALUE)",
                 l.bad);
        return srv_reply_msg(r, 400, "invalid", msg) - 1;
    }
    int *flags[] = {&run->strict, &run->dry_run, &run->preview, &run->no_transaction};
    static const char *const names[] = {"strict", "dry_run", "preview", "no_transaction"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        *flags[i] = srv_arg(r, names[i]) && srv_flag(r, names[i]);
    const char *cache = srv_arg(r, "cache");
    if (cache && strcmp(cache, "on") != 0 && strcmp(cache, "off") != 0)
        return srv_reply_msg(r, 400, "invalid", "cache must be 'on' or 'off'") - 1;
    run->no_cache = cache && strcmp(cache, "off") == 0;
    const char *ns = srv_arg(r, "namespace");
    if (ns && *ns && !(run->namespace_ = strdup(ns)))
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory") - 1;
    return 0;
}

/* Starts RUN (made by new_run), taking a run slot and opening its lake
 * handle, and answers: 202 with its id, or its
 * progress followed live. With UNPACK the uploaded archive is unpacked into
 * RUN->dir/project first. */
static int launch(srv_req *r, srv_run *run, int unpack)
{
    srv *s = r->s;
    if (srv_gate_enter(&s->runs, s->o.queue_wait_s) < 0) {
        free_run(run);
        return srv_reply_busy(r, "runs");
    }
    tarn_error err = TARN_ERROR_INIT;
    int rc = 0;
    char project[4400];
    snprintf(project, sizeof project, "%s/project", run->dir);
    if (mkdir(run->dir, 0700) != 0 || mkdir(project, 0755) != 0) rc = TARN_EIO;
    if (rc == 0 && unpack)
        rc = srv_tar_extract(r->body_path, project, MAX_PROJECT_FILES, s->o.max_upload, &err);
    if (rc == 0) rc = open_lake(run, s, &err);
    if (rc == 0) rc = start_run(s, run, &err);
    if (rc < 0) {
        tarn_lake_close(&run->lake);
        srv_rmtree(run->dir);
        free_run(run);
        srv_gate_leave(&s->runs);
        if (!err.message[0]) snprintf(err.message, sizeof err.message, "cannot start the run");
        return srv_reply_error(r, rc, &err);
    }
    if (srv_flag(r, "follow") && srv_arg(r, "follow")) return reply_follow(r, run, 1, 1);
    return srv_reply_json(r, 202,
                          json_pack("{s:s,s:s,s:o}", "id", run->id, "status", "running", "branch",
                                    srv_jstr(run->branch)));
}

/* A run of R's user on BRANCH, with a random id and its scratch folder's
 * name; NULL when out of memory or randomness. */
static srv_run *new_run(srv_req *r, const char *branch)
{
    srv_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    if (srv_random_hex(run->id, 8) < 0) {
        free(run);
        return NULL;
    }
    snprintf(run->dir, sizeof run->dir, "%s/run-%s", r->s->scratch, run->id);
    snprintf(run->user, sizeof run->user, "%s", r->tok.user);
    snprintf(run->branch, sizeof run->branch, "%s", branch);
    return run;
}

static int run_create(srv_req *r)
{
    const char *branch = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, branch));
    char active[256];
    if (!branch && tarn_lake_active_branch(active, sizeof active, lake, NULL) == 0) branch = active;
    srv_lake_put(r->s, lake);
    if (r->body_fd < 0 || r->body_len == 0)
        return srv_reply_msg(r, 400, "invalid",
                             "send the project folder as a tar archive in the request body");
    srv_run *run = new_run(r, branch ? branch : "main");
    if (!run) return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    if (run_flags(r, run) < 0) {
        free_run(run);
        return 0;
    }
    return launch(r, run, 1);
}

/* POST /api/v1/jobs/{id}/rerun: the job's project again, on the server. */
static int job_rerun(srv_req *r)
{
    const char *id = srv_param(r, "id"), *branch = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_job_get(&json, lake, id, &err);
    json_t *job = rc == 0 ? json_loads(json, 0, NULL) : NULL;
    tarn_free(json);
    const char *job_branch = json_string_value(json_object_get(job, "branch"));
    if (rc == 0 && !(job_branch && tarn_token_may_read(&r->tok, job_branch))) {
        json_decref(job);
        srv_lake_put(r->s, lake);
        return srv_reply_msg(r, 404, "not_found", "no such job (or not one this token may read)");
    }
    if (rc < 0) {
        srv_lake_put(r->s, lake);
        return srv_reply_error(r, rc, &err);
    }
    char target[256];
    snprintf(target, sizeof target, "%s", branch ? branch : job_branch);
    json_decref(job);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, target));
    srv_lake_put(r->s, lake);
    srv_run *run = new_run(r, target);
    if (!run) return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    snprintf(run->rerun, sizeof run->rerun, "%s", id);
    if (run_flags(r, run) < 0) {
        free_run(run);
        return 0;
    }
    return launch(r, run, 0);
}

/* The run named in the path, if this token may see it (its branch). */
static srv_run *visible_run(srv_req *r)
{
    srv_run *run = find_run(r->s, srv_param(r, "id"));
    if (!run || !(tarn_token_may_read(&r->tok, run->branch) || strcmp(run->user, r->tok.user) == 0)) {
        srv_reply_msg(r, 404, "not_found", "no such run on this server (runs are kept until it restarts; see /api/v1/jobs)");
        return NULL;
    }
    return run;
}

static int run_get(srv_req *r)
{
    srv_run *run = visible_run(r);
    if (!run) return 0;
    pthread_mutex_lock(&r->s->mu);
    json_t *report = run->report ? json_loads(run->report, 0, NULL) : NULL;
    /* A cancel that came after the outputs were committed is too late: the run succeeded. */
    const char *status = !run->done            ? "running"
                         : run->exit_code == 0 ? "success"
                         : run->cancelled      ? "cancelled"
                                               : "failed";
    json_t *error = run->error ? json_loads(run->error, 0, NULL) : NULL;
    json_t *v = json_pack("{s:s,s:s,s:o,s:o,s:s?,s:o,s:o,s:o}", "id", run->id, "status", status, "branch",
                          srv_jstr(run->branch), "user", srv_jstr(run->user), "job_id",
                          run->job_id[0] ? run->job_id : NULL, "exit_code",
                          run->done ? json_integer(run->exit_code) : json_null(), "report",
                          report ? report : json_null(), "error", error ? error : json_null());
    pthread_mutex_unlock(&r->s->mu);
    return srv_reply_json(r, 200, v);
}

static int run_logs(srv_req *r)
{
    srv_run *run = visible_run(r);
    if (!run) return 0;
    if (srv_arg(r, "follow") && srv_flag(r, "follow")) return reply_follow(r, run, 0, 0);
    pthread_mutex_lock(&r->s->mu);
    json_t *v = json_pack("{s:s,s:o,s:b}", "id", run->id, "logs", srv_jstr(run->log ? run->log : ""), "done", run->done);
    pthread_mutex_unlock(&r->s->mu);
    return srv_reply_json(r, 200, v);
}

static void stop_run(srv *s, srv_run *run)
{
    pthread_mutex_lock(&s->mu);
    char job_id[65] = "";
    if (!run->done) {
        run->cancelled = 1;
        snprintf(job_id, sizeof job_id, "%s", run->job_id);
    }
    pthread_mutex_unlock(&s->mu);
    /* Before its job is recorded (still planning) there is nothing to
     * stop yet: job_started passes the cancel on. */
    if (job_id[0]) cancel_job(s, job_id);
}

static int run_cancel(srv_req *r)
{
    srv_run *run = visible_run(r);
    if (!run) return 0;
    if (!tarn_token_may_write(&r->tok, run->branch))
        return srv_reply_msg(r, 403, "denied", "this token may not write the run's branch");
    stop_run(r->s, run);
    /* Settled before the answer: within a second the job stops, ends
     * cancelled and its run branch is aborted. */
    pthread_mutex_lock(&r->s->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!run->done)
        if (pthread_cond_timedwait(&r->s->idle, &r->s->mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&r->s->mu);
    return srv_reply_json(r, 200, json_pack("{s:s,s:b}", "id", run->id, "cancelled", 1));
}

/* Job {id} (or a unique prefix) of LAKE into *JOB: 0; 1 once answered 404
 * (no such job, or not one the token may read); < 0 a failure in ERR. */
static int visible_job(json_t **job, srv_req *r, tarn_lake *lake, tarn_error *err)
{
    char *json = NULL;
    *job = NULL;
    int rc = tarn_job_get(&json, lake, srv_param(r, "id"), err);
    if (rc == 0) *job = json_loads(json, 0, NULL);
    tarn_free(json);
    if (rc < 0) return rc;
    const char *b = json_string_value(json_object_get(*job, "branch"));
    if (b && tarn_token_may_read(&r->tok, b)) return 0;
    json_decref(*job);
    *job = NULL;
    srv_reply_msg(r, 404, "not_found", "no such job (or not one this token may read)");
    return 1;
}

/* DELETE /api/v1/jobs/{id}: stops a running job by its id (a detached
 * run's, or any run of the lakehouse on this host), as `tarn job stop`
 * does: within a second it ends cancelled and its branch is unchanged. */
static int job_stop(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    json_t *job = NULL;
    int rc = visible_job(&job, r, lake, &err);
    char id[65] = "";
    const char *full = json_string_value(json_object_get(job, "id")); /* the id may be a prefix */
    snprintf(id, sizeof id, "%s", full ? full : "");
    int may_write = rc == 0 && tarn_token_may_write(&r->tok, json_string_value(json_object_get(job, "branch")));
    json_decref(job);
    if (rc == 0 && !may_write) {
        srv_lake_put(r->s, lake);
        return srv_reply_msg(r, 403, "denied", "this token may not write the job's branch");
    }
    /* One of this server's runs is marked cancelled, so that its status
     * says so; the catalog stops it either way. */
    pthread_mutex_lock(&r->s->mu);
    for (srv_run *run = r->s->run_list; rc == 0 && run; run = run->next)
        if (strcmp(run->job_id, id) == 0 && !run->done) run->cancelled = 1;
    pthread_mutex_unlock(&r->s->mu);
    if (rc == 0) rc = tarn_job_cancel(lake, id, &err);
    srv_lake_put(r->s, lake);
    if (rc == 1) return 0;
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:s,s:b}", "id", id, "cancelled", 1));
}

void srv_runs_init(srv *s)
{
    (void)s;
    /* A run used to be a process of its own started without these; its
     * workers get this process's environment with each call. */
    static const char *const drop[] = {"TARN_REMOTE", "TARN_TOKEN", "TARN_BRANCH", "TARN_AUTHOR"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        unsetenv(drop[i]);
}

void srv_runs_stop(srv *s)
{
    /* Runs in flight get a grace period to finish, then are cancelled;
     * each is settled by its thread before the server goes. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int busy = 0;
        for (srv_run *r = s->run_list; r; r = r->next)
            busy |= !r->done;
        if (!busy || pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&s->mu);
    for (srv_run *r = s->run_list; r; r = r->next)
        stop_run(s, r);
    for (srv_run *r = s->run_list; r; r = r->next)
        if (r->started) pthread_join(r->thread, NULL);
    while (s->run_list) {
        srv_run *r = s->run_list;
        s->run_list = r->next;
        free_run(r);
    }
}

static int job_list(srv_req *r)
{
    int64_t limit;
    if (srv_int(&limit, r, "limit", 20) < 0 || limit < 0)
        return srv_reply_msg(r, 400, "invalid", "limit must be a number of jobs");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_job_list(&json, lake, (size_t)limit, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *all = json_loads(json, 0, NULL), *mine = json_array();
    tarn_free(json);
    size_t i;
    json_t *j;
    json_array_foreach(all, i, j)
    {
        const char *b = json_string_value(json_object_get(j, "branch"));
        if (b && tarn_token_may_read(&r->tok, b)) json_array_append(mine, j);
    }
    json_decref(all);
    return srv_reply_json(r, 200, json_pack("{s:o}", "jobs", mine));
}

static int job_get(srv_req *r)
{
    int logs = strstr(r->route->pattern, "/logs") != NULL;
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    json_t *job = NULL;
    int rc = visible_job(&job, r, lake, &err);
    char *text = NULL;
    if (rc == 0 && logs) rc = tarn_job_logs(&text, lake, srv_param(r, "id"), &err);
    srv_lake_put(r->s, lake);
    if (rc == 1) return 0;
    if (rc < 0) {
        json_decref(job);
        return srv_reply_error(r, rc, &err);
    }
    if (logs) {
        json_decref(job);
        json_t *v = json_pack("{s:o,s:o}", "id", srv_jstr(srv_param(r, "id")), "logs", srv_jstr(text));
        tarn_free(text);
        return srv_reply_json(r, 200, v);
    }
    return srv_reply_json(r, 200, job);
}

const srv_route srv_api_runs[] = {
    {"POST", "/api/v1/runs", run_create, SRV_BODY_FILE, SRV_TOKEN},
    {"GET", "/api/v1/runs/{id}", run_get, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/runs/{id}/logs", run_logs, SRV_BODY_NONE, SRV_TOKEN},
    {"DELETE", "/api/v1/runs/{id}", run_cancel, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/jobs", job_list, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/jobs/{id}", job_get, SRV_BODY_NONE, SRV_TOKEN},
    {"DELETE", "/api/v1/jobs/{id}", job_stop, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/jobs/{id}/logs", job_get, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/jobs/{id}/rerun", job_rerun, SRV_BODY_NONE, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
