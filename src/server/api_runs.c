/* server/api_runs.c — runs of uploaded projects, and the record of jobs.
 *
 * A run's project arrives as a tar archive (checked and unpacked by
 * tar.c) and runs on the server as a `tarn run` process of its own, in its
 * own process group: a crash cannot take the server down, a cancel stops
 * the whole group, and its lease lets the catalog settle the job whatever
 * happens. Its progress lines are kept and followed live; its report is
 * its JSON output. start_run() is the one place a run is started; the
 * `tarn run` it starts borrows warm Python parents from the warm runtime
 * of the server's own tarn program (runtime/warm.h: kept across runs,
 * exiting when idle), so a run pays neither the interpreter's start nor
 * pandas' import. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define MAX_PROJECT_FILES 2000
#define MAX_LOG (8 << 20)

struct srv_run {
    srv_run *next;
    char id[17];
    char user[256];
    char branch[256];
    char job_id[65];
    char dir[4300];
    pid_t pid;
    int done, cancelled, exit_code;
    char *log; /* every progress line, '\n'-separated */
    size_t loglen;
    char *report; /* the run's JSON report, once done */
    char *error;  /* how it failed, once done: {"code", "message", "tables"} or NULL */
    int err_fd;
    pthread_t thread;
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

typedef struct run_thread_arg {
    srv *s;
    srv_run *run;
} run_thread_arg;

static void add_log(srv *s, srv_run *run, const char *text, size_t n)
{
    pthread_mutex_lock(&s->mu);
    if (run->loglen + n < MAX_LOG) {
        char *l = realloc(run->log, run->loglen + n + 1);
        if (l) {
            memcpy(l + run->loglen, text, n);
            run->loglen += n;
            l[run->loglen] = 0;
            run->log = l;
        }
    }
    /* The job id is on the line "job ID on branch ...". */
    if (!run->job_id[0] && run->log) {
        const char *at = strncmp(run->log, "job ", 4) == 0 ? run->log : strstr(run->log, "\njob ");
        if (at) sscanf(at + (*at == '\n' ? 5 : 4), "%64[0-9a-f]", run->job_id);
    }
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void *run_thread(void *p)
{
    run_thread_arg *a = p;
    srv *s = a->s;
    srv_run *run = a->run;
    free(a);
    char buf[8192];
    for (;;) {
        ssize_t n = read(run->err_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        add_log(s, run, buf, (size_t)n);
    }
    close(run->err_fd);
    int status = 0;
    while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/result.json", run->dir);
    json_t *result = json_load_file(path, 0, NULL);
    json_t *report = json_object_get(result, "report"), *error = json_object_get(result, "error");
    char *text = report && !json_is_null(report) ? json_dumps(report, JSON_COMPACT) : NULL;
    int code = WIFEXITED(status) ? WEXITSTATUS(status)
                                 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    char *etext = NULL;
    if (error && !json_is_null(error)) {
        etext = json_dumps(error, JSON_COMPACT);
    } else if (!result || code != 0) {
        /* No outcome written: the process was stopped or died. Its job is
         * settled as failed below; the client hears why. */
        char msg[512];
        if (run->cancelled)
            snprintf(msg, sizeof msg,
                     "the run was cancelled: its job failed and branch '%s' is unchanged",
                     run->branch);
        else
            snprintf(
                msg, sizeof msg,
                "the run's process ended without an outcome (exit %d): branch '%s' is unchanged; "
                "see 'tarn job ls' and the server's log",
                code, run->branch);
        json_t *e =
            json_pack("{s:s,s:s}", "code", run->cancelled ? "aborted" : "io", "message", msg);
        etext = json_dumps(e, JSON_COMPACT);
        json_decref(e);
    }
    json_decref(result);
    /* A cancelled or killed run's process leaves its job to the catalog's
     * settlement: reading the job list settles it now. */
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, s->o.lake_dir, NULL) == 0) {
        char *jobs = NULL;
        tarn_job_list(&jobs, lake, 1, NULL);
        tarn_free(jobs);
        tarn_lake_close(&lake);
    }
    srv_rmtree(run->dir);
    pthread_mutex_lock(&s->mu);
    run->report = text;
    run->error = etext;
    run->exit_code = code;
    run->done = 1;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    srv_gate_leave(&s->runs);
    return NULL;
}

/* Starts `tarn -O json ARGS... --result DIR/result.json` for RUN: the one
 * place a run's process is made (a warm runtime kept across runs plugs in
 * here). */
static int start_run(srv *s, srv_run *run, const char *const *args, size_t nargs, tarn_error *err)
{
    char result[4400], report[4400], home[4400], author[300];
    snprintf(result, sizeof result, "%s/result.json", run->dir);
    snprintf(report, sizeof report, "%s/report.json", run->dir);
    snprintf(home, sizeof home, "TARN_HOME=%s", s->o.lake_dir);
    snprintf(author, sizeof author, "TARN_AUTHOR=%s", run->user);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = s->o.tarn_exe;
    argv[n++] = "-O";
    argv[n++] = "json";
    for (size_t i = 0; i < nargs && n < 60; i++)
        argv[n++] = args[i];
    argv[n++] = "--result";
    argv[n++] = result;
    argv[n] = NULL;
    /* The environment is the server's, minus what would point the run
     * elsewhere, plus the lakehouse and the author. */
    extern char **environ;
    size_t ne = 0;
    for (char **e = environ; *e; e++) ne++;
    const char **envp = calloc(ne + 3, sizeof *envp);
    if (!envp) return TARN_ENOMEM;
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "TARN_HOME=", 10) && strncmp(*e, "TARN_AUTHOR=", 12) && strncmp(*e, "TARN_BRANCH=", 12) &&
            strncmp(*e, "TARN_REMOTE=", 12) && strncmp(*e, "TARN_TOKEN=", 11))
            envp[k++] = *e;
    envp[k++] = home;
    envp[k++] = author;
    envp[k] = NULL;
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) != 0) {
        free(envp);
        if (err) snprintf(err->message, sizeof err->message, "cannot start the run: %s", strerror(errno));
        return TARN_EIO;
    }
    int out = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid = out < 0 ? -1 : fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out, 1);
        dup2(errp[1], 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execve(argv[0], (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    free(envp);
    if (out >= 0) close(out);
    close(errp[1]);
    if (pid < 0) {
        close(errp[0]);
        if (err) snprintf(err->message, sizeof err->message, "cannot start the run: %s", strerror(errno));
        return TARN_EIO;
    }
    setpgid(pid, pid);
    run->pid = pid;
    run->err_fd = errp[0];
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

typedef struct arg_list {
    const char *items[32];
    size_t n;
    int too_many;
} arg_list;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    arg_list *l = cls;
    if (strcmp(key, "param") != 0 || !value) return MHD_YES;
    if (l->n + 2 > 32) {
        l->too_many = 1;
        return MHD_NO;
    }
    l->items[l->n++] = "--param";
    l->items[l->n++] = value;
    return MHD_YES;
}

/* The run flags a request sets (?strict, ?dry_run, ?preview,
 * ?no_transaction, ?namespace=NS, ?cache=on|off, ?param=K=V...) as
 * command-line options after ARGS. */
static int run_flags(srv_req *r, arg_list *l)
{
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_param, l);
    if (l->too_many)
        return srv_reply_msg(r, 400, "invalid", "too many parameters (at most 12)") - 1;
    static const char *const flags[][2] = {{"strict", "--strict"}, {"dry_run", "--dry-run"},
                                           {"preview", "--preview"}, {"no_transaction", "--no-transaction"}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (srv_arg(r, flags[i][0]) && srv_flag(r, flags[i][0]) && l->n < 32)
            l->items[l->n++] = flags[i][1];
    const char *ns = srv_arg(r, "namespace");
    if (ns && *ns && l->n < 31) {
        l->items[l->n++] = "--namespace";
        l->items[l->n++] = ns;
    }
    const char *cache = srv_arg(r, "cache");
    if (cache && strcmp(cache, "on") != 0 && strcmp(cache, "off") != 0)
        return srv_reply_msg(r, 400, "invalid", "cache must be on or off") - 1;
    if (cache && l->n < 31) {
        l->items[l->n++] = "--cache";
        l->items[l->n++] = cache;
    }
    return 0;
}

/* Starts RUN (made by new_run) as `tarn ARGS...`, taking a run slot, and
 * answers: 202 with its id, or its progress followed live. With UNPACK the
 * uploaded archive is unpacked into RUN->dir/project first. */
static int launch(srv_req *r, srv_run *run, const char *const *args, size_t nargs, int unpack)
{
    srv *s = r->s;
    if (srv_gate_enter(&s->runs, s->o.queue_wait_s) < 0) {
        free(run);
        return srv_reply_busy(r, "runs");
    }
    tarn_error err = TARN_ERROR_INIT;
    int rc = 0;
    char project[4400];
    snprintf(project, sizeof project, "%s/project", run->dir);
    if (rc == 0 && (mkdir(run->dir, 0700) != 0 || mkdir(project, 0755) != 0)) rc = TARN_EIO;
    if (rc == 0 && unpack)
        rc = srv_tar_extract(r->body_path, project, MAX_PROJECT_FILES, s->o.max_upload, &err);
    if (rc == 0) rc = start_run(s, run, args, nargs, &err);
    if (rc < 0) {
        srv_rmtree(run->dir);
        free(run);
        srv_gate_leave(&s->runs);
        if (!err.message[0]) snprintf(err.message, sizeof err.message, "cannot start the run");
        return srv_reply_error(r, rc, &err);
    }
    run_thread_arg *a = malloc(sizeof *a);
    a->s = s;
    a->run = run;
    pthread_mutex_lock(&s->mu);
    run->next = s->run_list;
    s->run_list = run;
    pthread_mutex_unlock(&s->mu);
    pthread_create(&run->thread, NULL, run_thread, a);
    if (srv_flag(r, "follow") && srv_arg(r, "follow")) return reply_follow(r, run, 1, 1);
    return srv_reply_json(r, 202, json_pack("{s:s,s:s,s:o}", "id", run->id, "status", "running", "branch",
                                            srv_jstr(run->branch)));
}

/* A run of R's user on BRANCH, with a random id and its scratch folder's
 * name; NULL when out of memory or randomness. */
static srv_run *new_run(srv_req *r, const char *branch)
{
    srv_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    unsigned char b[8];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && read(fd, b, sizeof b) == (ssize_t)sizeof b;
    if (fd >= 0) close(fd);
    if (!ok) {
        free(run);
        return NULL;
    }
    for (int i = 0; i < 8; i++)
        snprintf(run->id + 2 * i, 3, "%02x", b[i]);
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
    char project[4400];
    snprintf(project, sizeof project, "%s/project", run->dir);
    arg_list l = {0};
    l.items[l.n++] = "run";
    l.items[l.n++] = "-p";
    l.items[l.n++] = project;
    l.items[l.n++] = "--ref";
    l.items[l.n++] = run->branch;
    if (run_flags(r, &l) < 0) {
        free(run);
        return 0;
    }
    return launch(r, run, l.items, l.n, 1);
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
    arg_list l = {0};
    l.items[l.n++] = "job";
    l.items[l.n++] = "rerun";
    l.items[l.n++] = id;
    l.items[l.n++] = "--ref";
    l.items[l.n++] = run->branch;
    if (run_flags(r, &l) < 0) {
        free(run);
        return 0;
    }
    return launch(r, run, l.items, l.n, 0);
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
    const char *status = !run->done ? "running" : run->cancelled ? "cancelled" : run->exit_code == 0 ? "success" : "failed";
    json_t *v = json_pack("{s:s,s:s,s:o,s:o,s:s?,s:o,s:o}", "id", run->id, "status", status, "branch",
                          srv_jstr(run->branch), "user", srv_jstr(run->user), "job_id",
                          run->job_id[0] ? run->job_id : NULL, "exit_code",
                          run->done ? json_integer(run->exit_code) : json_null(), "report",
                          report ? report : json_null());
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
    if (!run->done) {
        run->cancelled = 1;
        kill(-run->pid, SIGTERM);
    }
    pthread_mutex_unlock(&s->mu);
}

static int run_cancel(srv_req *r)
{
    srv_run *run = visible_run(r);
    if (!run) return 0;
    if (!tarn_token_may_write(&r->tok, run->branch)) return srv_reply_msg(r, 403, "denied", "this token may not write the run's branch");
    stop_run(r->s, run);
    /* Settled before the answer: the job is failed and its run branch
     * aborted once the process group is gone. */
    pthread_mutex_lock(&r->s->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!run->done)
        if (pthread_cond_timedwait(&r->s->idle, &r->s->mu, &until) == ETIMEDOUT) break;
    int done = run->done;
    pthread_mutex_unlock(&r->s->mu);
    if (!done) kill(-run->pid, SIGKILL);
    return srv_reply_json(r, 200, json_pack("{s:s,s:b}", "id", run->id, "cancelled", 1));
}

void srv_runs_stop(srv *s)
{
    /* Runs in flight get a grace period to finish, then are stopped; each
     * is settled by its thread before the server goes. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int busy = 0;
        for (srv_run *r = s->run_list; r; r = r->next) busy |= !r->done;
        if (!busy || pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&s->mu);
    for (srv_run *r = s->run_list; r; r = r->next) stop_run(s, r);
    for (srv_run *r = s->run_list; r; r = r->next) pthread_join(r->thread, NULL);
    while (s->run_list) {
        srv_run *r = s->run_list;
        s->run_list = r->next;
        free(r->log);
        free(r->report);
        free(r->error);
        free(r);
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
    char *json = NULL;
    int rc = tarn_job_get(&json, lake, srv_param(r, "id"), &err);
    json_t *job = rc == 0 ? json_loads(json, 0, NULL) : NULL;
    tarn_free(json);
    const char *b = json_string_value(json_object_get(job, "branch"));
    if (rc == 0 && !(b && tarn_token_may_read(&r->tok, b))) {
        json_decref(job);
        srv_lake_put(r->s, lake);
        return srv_reply_msg(r, 404, "not_found", "no such job (or not one this token may read)");
    }
    char *text = NULL;
    if (rc == 0 && logs) rc = tarn_job_logs(&text, lake, srv_param(r, "id"), &err);
    srv_lake_put(r->s, lake);
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
    {"GET", "/api/v1/jobs/{id}/logs", job_get, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/jobs/{id}/rerun", job_rerun, SRV_BODY_NONE, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
