/* runtime/worker.c — calling a Python function from the runtime.
 *
 * A run starts one warm Python parent per environment (`python3 -m
 * tarn.worker --zygote 3`; python/tarn/worker.py documents the protocol,
 * which tarn.worker.Pool speaks too) that has imported numpy, pandas and
 * tarn; each call is a worker forked from it, so it pays neither
 * interpreter start-up nor imports, and a crash, an exit or a runaway
 * allocation takes down only that worker. Input tables go over a Unix
 * socket as sealed memfds (SCM_RIGHTS); the result comes back the same way
 * and is mapped read-only, decoded in place and shown to DuckDB as a view:
 * no table is copied between processes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/dataplane.h"
#include "runtime/runtime.h"
#include "tarn/arrow.h"
#include "util/error.h"
#include "util/util.h"

typedef struct mapped {
    char name[TARN_NAME_MAX + 1]; /* the model */
    tarn_arrow_table *table;
    tarn_arrow_duckdb_view *view;
    int fd; /* the sealed memfd, handed on as is to models that read it whole */
} mapped;

/* One warm parent per environment: an interpreter and the cache entries
 * put ahead of its own site-packages (PYTHONPATH). */
typedef struct zygote {
    char key[65];      /* the environment's id, "base" without packages */
    char *python;      /* interpreter */
    char *pythonpath;  /* "PYTHONPATH=entry:entry:...:tarn" */
    char *pycache;     /* "PYTHONPYCACHEPREFIX=<lake>/envs/pycache" */
    pid_t pid;         /* 0: not started */
    int ctrl;          /* control socket (SOCK_SEQPACKET: one JSON message a packet) */
    int ready;         /* its "warm" message was read */
} zygote;

struct tarn_rt_session {
    pthread_mutex_t mu; /* calls come from several threads */
    tarn_lake *lake;
    mapped *items;
    size_t n, cap;
    zygote *zy;
    size_t nzy;
};

/* The zygote for ENV (NULL: the base environment), created if new. */
static zygote *zygote_for(tarn_rt_session *s, const tarn_rt_env *env)
{
    /* An environment the base interpreter satisfies entirely (no cache
     * entries, no other interpreter) is the base one: same zygote. */
    if (env && !env->python && json_array_size(env->paths) == 0) env = NULL;
    const char *key = env && env->id ? env->id : "base";
    for (size_t i = 0; i < s->nzy; i++)
        if (!strcmp(s->zy[i].key, key)) return &s->zy[i];
    s->zy = realloc(s->zy, (s->nzy + 1) * sizeof *s->zy);
    zygote *z = &s->zy[s->nzy++];
    memset(z, 0, sizeof *z);
    snprintf(z->key, sizeof z->key, "%s", key);
    z->ctrl = -1;
    z->python = strdup(env && env->python ? env->python : tarn__python_exe(s->lake));
    strbuf path = {0};
    sb_append(&path, "PYTHONPATH=");
    size_t i;
    json_t *p;
    json_array_foreach(env ? env->paths : NULL, i, p) sb_printf(&path, "%s:", json_string_value(p));
    sb_append(&path, tarn__python_path());
    z->pythonpath = path.s;
    strbuf pyc = {0};
    sb_printf(&pyc, "PYTHONPYCACHEPREFIX=%s/envs/pycache", tarn_lake_path(s->lake));
    z->pycache = pyc.s;
    return z;
}

static int start_zygote(zygote *z, tarn_error *err);

int tarn__rt_open(tarn_rt_session **out, tarn_lake *lake, int warm, tarn_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    (*out)->lake = lake;
    pthread_mutex_init(&(*out)->mu, NULL);
    /* Warming up (interpreter, numpy, pandas) overlaps planning. */
    if (warm) start_zygote(zygote_for(*out, NULL), NULL);
    return 0;
}

static void stop_zygote(zygote *z)
{
    if (!z->pid) return;
    /* Every call has returned by now: nothing of the zygote's is worth
     * waiting for (it may still be importing pandas). */
    kill(z->pid, SIGKILL);
    close(z->ctrl);
    z->ctrl = -1;
    z->ready = 0;
    int status;
    while (waitpid(z->pid, &status, 0) < 0 && errno == EINTR) {
    }
    z->pid = 0;
}

/* One JSON message in one packet, with descriptors attached. */
static int send_packet(int sock, json_t *msg, const int *fds, size_t nfds, tarn_error *err)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    struct iovec iov = {text, strlen(text)};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 64)];
    if (nfds > 64) nfds = 64;
    if (nfds) {
        memset(control, 0, sizeof control);
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    free(text);
    if (n < 0) return tarn__error_set(err, TARN_EIO, "cannot reach the Python worker: %s", strerror(errno));
    return 0;
}

/* Receives one packet: 0 with *msg set, 1 at end-of-file, <0 on error.
 * A descriptor that came with it goes to *fd (others are closed). */
static int recv_packet(json_t **msg, int *fd, int sock, tarn_error *err)
{
    *msg = NULL;
    char *buf = malloc(1 << 20);
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {buf, 1 << 20};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *fds = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (fd && *fd < 0) *fd = fds[i];
            else close(fds[i]);
        }
    }
    int rc = 0;
    if (n < 0) rc = tarn__error_set(err, TARN_EIO, "lost the Python worker: %s", strerror(errno));
    else if (n == 0) rc = 1;
    else if (!(*msg = json_loadb(buf, (size_t)n, 0, NULL)))
        rc = tarn__error_set(err, TARN_EIO, "the Python worker sent something that is not JSON");
    free(buf);
    return rc;
}

static int start_zygote(zygote *z, tarn_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return tarn__error_set(err, TARN_EIO, "socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]), close(sv[1]);
        return tarn__error_set(err, TARN_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(2, 1); /* the zygote's own words (import errors) go to stderr */
        dup2(sv[1], 3); /* dup2 clears close-on-exec */
        putenv(z->pythonpath);
        /* Bytecode of environment packages is cached in the lakehouse: the
         * cache entries stay read-only and later runs skip recompiling. */
        putenv(z->pycache);
        execl(z->python, z->python, "-m", "tarn.worker", "--zygote", "3", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    z->pid = pid;
    z->ctrl = sv[0];
    z->ready = 0;
    return 0;
}

/* One request to the zygote and its reply. Holds s->mu. */
static int zygote_ask(json_t **reply, zygote *z, json_t *req, const int *fds, size_t nfds,
                      tarn_error *err)
{
    *reply = NULL;
    if (!z->pid) TARN_RETURN_NOT_OK(start_zygote(z, err));
    if (!z->ready) { /* it says so once warm */
        json_t *hello = NULL;
        int rc = recv_packet(&hello, NULL, z->ctrl, err);
        json_decref(hello);
        if (rc != 0) {
            stop_zygote(z);
            return tarn__error_set(err, TARN_EIO,
                                   "the Python worker (%s -m tarn.worker) did not start; see its "
                                   "error above", z->python);
        }
        z->ready = 1;
    }
    int rc = send_packet(z->ctrl, req, fds, nfds, err);
    if (rc == 0) rc = recv_packet(reply, NULL, z->ctrl, err);
    if (rc == 1) rc = tarn__error_set(err, TARN_EIO, "the Python worker's parent died");
    if (rc == 0 && !json_is_true(json_object_get(*reply, "ok"))) {
        rc = tarn__error_set(err, TARN_EIO, "the Python worker refused: %s",
                             json_string_value(json_object_get(*reply, "error")));
        json_decref(*reply);
        *reply = NULL;
    }
    if (rc < 0 && !*reply) stop_zygote(z);
    return rc;
}

/* Forks a worker from ENV's zygote serving CALL_SOCK with OUT_FD as its
 * stdout and stderr; *pid is the worker's. */
static int fork_worker(pid_t *pid, tarn_rt_session *s, const tarn_rt_env *env, const char *label,
                       int call_sock, int out_fd, tarn_error *err)
{
    pthread_mutex_lock(&s->mu);
    zygote *z = zygote_for(s, env);
    json_t *req = json_pack("{s:s,s:s,s:n}", "op", "fork", "label", label, "memory_limit");
    int fds[3] = {call_sock, out_fd, out_fd};
    json_t *reply = NULL;
    int rc = zygote_ask(&reply, z, req, fds, 3, err);
    if (rc < 0 && !z->pid) rc = zygote_ask(&reply, z, req, fds, 3, err); /* it died: once more */
    if (rc == 0) *pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
    json_decref(req);
    json_decref(reply);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* How worker PID ended: {"exitcode": N|null, "signal": S|null}. */
static json_t *wait_worker(tarn_rt_session *s, const tarn_rt_env *env, pid_t pid)
{
    pthread_mutex_lock(&s->mu);
    zygote *z = zygote_for(s, env);
    json_t *req = json_pack("{s:s,s:i,s:i}", "op", "wait", "pid", (int)pid, "timeout", 60);
    json_t *reply = NULL;
    if (z->pid) zygote_ask(&reply, z, req, NULL, 0, NULL);
    json_decref(req);
    pthread_mutex_unlock(&s->mu);
    return reply;
}

void tarn__rt_close(tarn_rt_session **sp)
{
    if (!sp || !*sp) return;
    tarn_rt_session *s = *sp;
    for (size_t i = 0; i < s->nzy; i++) {
        stop_zygote(&s->zy[i]);
        free(s->zy[i].python);
        free(s->zy[i].pythonpath);
        free(s->zy[i].pycache);
    }
    free(s->zy);
    for (size_t i = 0; i < s->n; i++) {
        tarn_arrow_duckdb_view_free(&s->items[i].view);
        tarn_arrow_table_free(&s->items[i].table);
        if (s->items[i].fd >= 0) close(s->items[i].fd);
    }
    free(s->items);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *sp = NULL;
}

/* One line the function printed: "LINE<TAB>text", or raw interpreter output. */
static void forward_line(const char *line, const tarn_rt_call *call, strbuf *tail,
                         void (*on_line)(const char *, void *), void *ctx)
{
    const char *tab = strchr(line, '\t');
    const char *base = strrchr(call->file, '/');
    base = base ? base + 1 : call->file;
    char out[4608];
    if (tab && tab > line && strspn(line, "0123456789") == (size_t)(tab - line))
        snprintf(out, sizeof out, "%s @ %s:%.*s | %s", call->model, base, (int)(tab - line), line,
                 tab + 1);
    else
        snprintf(out, sizeof out, "%s @ %s | %s", call->model, base, line);
    /* Keep the last lines: a crash's own words explain it. */
    sb_printf(tail, "%s\n", line);
    if (tail->len > 4000) {
        memmove(tail->s, tail->s + tail->len - 2000, 2000);
        tail->len = 2000;
        tail->s[tail->len] = 0;
    }
    if (on_line) on_line(out, ctx);
}

/* Reads the worker's output pipe into whole lines. */
static void drain_lines(strbuf *out, const tarn_rt_call *call, strbuf *tail,
                        void (*on_line)(const char *, void *), void *ctx)
{
    char *nl;
    while (out->len && (nl = memchr(out->s, '\n', out->len))) {
        *nl = 0;
        forward_line(out->s, call, tail, on_line, ctx);
        size_t used = (size_t)(nl - out->s) + 1;
        memmove(out->s, nl + 1, out->len - used);
        out->len -= used;
        out->s[out->len] = 0;
    }
}

int tarn__rt_call(int64_t *rows, int *verdict, tarn_rt_session *s, tarn_duck *d,
                  const tarn_rt_call *call, void (*on_line)(const char *, void *), void *ctx,
                  tarn_error *err)
{
    *rows = -1;
    *verdict = -1;
    int sv[2], pipefd[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return tarn__error_set(err, TARN_EIO, "socketpair: %s", strerror(errno));
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        close(sv[0]), close(sv[1]);
        return tarn__error_set(err, TARN_EIO, "pipe: %s", strerror(errno));
    }
    pid_t pid = 0;
    int rc = fork_worker(&pid, s, call->env, call->model, sv[1], pipefd[1], err);
    close(sv[1]);
    close(pipefd[1]);
    if (rc < 0) {
        close(sv[0]);
        close(pipefd[0]);
        return rc;
    }

    json_t *req = json_pack("{s:s,s:s,s:s,s:[],s:{},s:O,s:b,s:s}", "op", "call", "module", call->file,
                            "function", call->function, "inputs", "select", "params",
                            call->params ? call->params : json_object(), "expectation",
                            call->expectation, "label_lines", call->file);
    int *fds = calloc(call->ninputs + 1, sizeof *fds);
    for (size_t i = 0; i < call->ninputs; i++) {
        json_array_append_new(json_object_get(req, "inputs"), json_string(call->inputs[i].param));
        if (call->inputs[i].columns)
            json_object_set(json_object_get(req, "select"), call->inputs[i].param, call->inputs[i].columns);
        if (call->inputs[i].format) { /* the worker hands the table over as the model asked */
            json_t *f = json_object_get(req, "format");
            if (!f) json_object_set_new(req, "format", f = json_object());
            json_object_set_new(f, call->inputs[i].param, json_string(call->inputs[i].format));
        }
        fds[i] = call->inputs[i].fd;
    }
    rc = send_packet(sv[0], req, fds, call->ninputs, err);
    json_decref(req);
    free(fds);

    /* The reply (one packet, maybe with the result's memfd) and the
     * worker's output, until both are complete. */
    json_t *doc = NULL;
    int result_fd = -1, reply_done = rc < 0;
    strbuf out = {0}, tail = {0};
    struct pollfd pfd[2] = {{reply_done ? -1 : sv[0], POLLIN, 0}, {pipefd[0], POLLIN, 0}};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pfd[0].fd >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            recv_packet(&doc, &result_fd, sv[0], NULL); /* a reply, or the end */
            pfd[0].fd = -1;
        }
        if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[8192];
            ssize_t n = read(pipefd[0], buf, sizeof buf);
            if (n > 0) {
                sb_appendn(&out, buf, (size_t)n);
                drain_lines(&out, call, &tail, on_line, ctx);
            } else if (n == 0 || errno != EINTR) {
                pfd[1].fd = -1;
            }
        }
    }
    if (out.len) forward_line(out.s, call, &tail, on_line, ctx);
    close(sv[0]);
    close(pipefd[0]);
    json_t *status = wait_worker(s, call->env, pid);
    json_t *sig = json_object_get(status, "signal");

    if (rc < 0) {
        /* the request never arrived; err says why */
    } else if (!doc) {
        if (json_is_integer(sig))
            rc = tarn__error_set(err, TARN_EUSER, "the Python process was killed by signal %d (%s)%s%s",
                                 (int)json_integer_value(sig), strsignal((int)json_integer_value(sig)),
                                 tail.len ? ":\n" : "", sb_str(&tail));
        else
            rc = tarn__error_set(err, TARN_EUSER,
                                 "the Python process exited with status %lld before returning a result%s%s",
                                 (long long)json_integer_value(json_object_get(status, "exitcode")),
                                 tail.len ? ":\n" : "", sb_str(&tail));
    } else if (!json_is_true(json_object_get(doc, "ok"))) {
        const char *tb = json_string_value(json_object_get(doc, "traceback"));
        const char *msg = json_string_value(json_object_get(doc, "error"));
        rc = tarn__error_set(err, TARN_EUSER, "%s", tb && *tb ? tb : msg ? msg : "the function failed");
        size_t n = strlen(err ? err->message : "");
        while (err && n && err->message[n - 1] == '\n') err->message[--n] = 0;
    } else if (call->expectation) {
        *verdict = json_is_true(json_object_get(doc, "verdict"));
    } else if (result_fd < 0) {
        rc = tarn__error_set(err, TARN_EUSER, "the function returned no table");
    } else {
        tarn_arrow_table *t = NULL;
        tarn_arrow_duckdb_view *v = NULL;
        rc = tarn_arrow_shm_map(&t, result_fd, err);
        if (rc == 0) rc = tarn_arrow_duckdb_register(&v, d->con, call->model, t, err);
        if (rc == 0) {
            pthread_mutex_lock(&s->mu);
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 8;
                s->items = realloc(s->items, s->cap * sizeof *s->items);
            }
            mapped *item = &s->items[s->n++];
            snprintf(item->name, sizeof item->name, "%s", call->model);
            item->table = t;
            item->view = v;
            item->fd = result_fd; /* kept: children may read it whole */
            result_fd = -1;
            pthread_mutex_unlock(&s->mu);
            *rows = tarn_arrow_table_num_rows(t);
        } else {
            tarn_arrow_table_free(&t);
        }
    }
    if (result_fd >= 0) close(result_fd);
    json_decref(doc);
    json_decref(status);
    sb_free(&out);
    sb_free(&tail);
    return rc;
}

int tarn__rt_output_fd(tarn_rt_session *s, const char *model)
{
    int fd = -1;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, model) == 0 && s->items[i].fd >= 0) fd = dup(s->items[i].fd);
    pthread_mutex_unlock(&s->mu);
    return fd;
}

int tarn__rt_attach(tarn_duck *d, const char *name, tarn_error *err)
{
    /* tarn_arrow_duckdb_register names its table function tarn_arrow_NAME
     * and registers it for the whole database; the view is per connection. */
    strbuf q = {0};
    sb_append(&q, "CREATE OR REPLACE TEMP VIEW ");
    sb_append_sql_ident(&q, name);
    sb_printf(&q, " AS SELECT * FROM tarn_arrow_%s()", name);
    int rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot share a model's output", err);
    sb_free(&q);
    return rc;
}
