/* runtime/worker.c — calling a Python function from the runtime.
 *
 * A run starts one warm Python parent (`python3 -m tarn.call --zygote 3`,
 * see python/tarn/call.py for the protocol) that has imported numpy, pandas
 * and tarn; each call is a child forked from it, so it pays neither
 * interpreter start-up nor imports, and a crash, an exit or a runaway
 * allocation takes down only that child. Input tables go over a Unix
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
    pid_t pid;         /* 0: not started */
    int ctrl;          /* control socket */
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
    int status;
    while (waitpid(z->pid, &status, 0) < 0 && errno == EINTR) {
    }
    z->pid = 0;
}

static int start_zygote(zygote *z, tarn_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
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
        putenv("PYTHONDONTWRITEBYTECODE=1");
        putenv("PYTHONUNBUFFERED=1");
        execl(z->python, z->python, "-m", "tarn.call", "--zygote", "3", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    z->pid = pid;
    z->ctrl = sv[0];
    return 0;
}

/* Asks ENV's zygote for a child serving CALL_SOCK, with OUT_FD as its output. */
static int fork_worker(tarn_rt_session *s, const tarn_rt_env *env, int call_sock, int out_fd,
                       tarn_error *err)
{
    pthread_mutex_lock(&s->mu);
    zygote *z = zygote_for(s, env);
    int rc = TARN_EIO;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (!z->pid && start_zygote(z, err) < 0) break;
        char byte = 'c';
        struct iovec iov = {&byte, 1};
        char control[CMSG_SPACE(sizeof(int) * 2)];
        memset(control, 0, sizeof control);
        struct msghdr msg = {0};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
        int fds[2] = {call_sock, out_fd};
        memcpy(CMSG_DATA(c), fds, sizeof fds);
        if (sendmsg(z->ctrl, &msg, MSG_NOSIGNAL) == 1) rc = 0;
        else stop_zygote(z); /* it died: start another once */
    }
    if (rc < 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot start a Python worker (%s -m tarn.call)", z->python);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void tarn__rt_close(tarn_rt_session **sp)
{
    if (!sp || !*sp) return;
    tarn_rt_session *s = *sp;
    for (size_t i = 0; i < s->nzy; i++) {
        stop_zygote(&s->zy[i]);
        free(s->zy[i].python);
        free(s->zy[i].pythonpath);
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

static int send_request(int sock, const char *json, const tarn_rt_call *call, tarn_error *err)
{
    size_t len = strlen(json);
    unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};
    struct iovec iov[2] = {{head, 4}, {(void *)json, len}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    size_t nfd = call->ninputs;
    char control[CMSG_SPACE(sizeof(int) * 64)];
    if (nfd > 64) return tarn__error_set(err, TARN_EINVALID, "a model takes at most 64 inputs");
    if (nfd) {
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfd);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfd);
        int *fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < nfd; i++) fds[i] = call->inputs[i].fd;
    }
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) return tarn__error_set(err, TARN_EIO, "cannot reach the Python worker: %s", strerror(errno));
    /* A short write of a large request: send the rest plainly. */
    size_t sent = (size_t)n;
    while (sent < len + 4) {
        const char *p = sent < 4 ? (const char *)head + sent : json + (sent - 4);
        size_t left = sent < 4 ? 4 - sent : len + 4 - sent;
        ssize_t k = send(sock, p, left, MSG_NOSIGNAL);
        if (k < 0) return tarn__error_set(err, TARN_EIO, "cannot reach the Python worker: %s", strerror(errno));
        sent += (size_t)k;
    }
    return 0;
}

/* Reads from the socket into BUF, collecting any descriptor passed. */
static ssize_t recv_with_fd(int sock, strbuf *buf, int *fd)
{
    char data[65536];
    char control[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *fds = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*fd < 0) *fd = fds[i];
            else close(fds[i]); /* only one table comes back */
        }
    }
    sb_appendn(buf, data, (size_t)n);
    return n;
}

/* A framed message (4-byte length + body) has fully arrived. */
static int reply_complete(const strbuf *reply)
{
    if (reply->len < 4) return 0;
    const unsigned char *h = (const unsigned char *)reply->s;
    size_t len = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    return reply->len >= 4 + len;
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

int tarn__rt_call(int64_t *rows, int *verdict, tarn_rt_session *s, tarn_duck *d,
                  const tarn_rt_call *call, void (*on_line)(const char *, void *), void *ctx,
                  tarn_error *err)
{
    *rows = -1;
    *verdict = -1;
    int sv[2], pipefd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return tarn__error_set(err, TARN_EIO, "socketpair: %s", strerror(errno));
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        close(sv[0]), close(sv[1]);
        return tarn__error_set(err, TARN_EIO, "pipe: %s", strerror(errno));
    }
    int rc = fork_worker(s, call->env, sv[1], pipefd[1], err);
    close(sv[1]);
    close(pipefd[1]);
    if (rc < 0) {
        close(sv[0]);
        close(pipefd[0]);
        return rc;
    }

    json_t *req = json_pack("{s:s,s:s,s:s,s:b,s:[],s:O}", "file", call->file, "function",
                            call->function, "model", call->model, "expectation", call->expectation,
                            "inputs", "params", call->params ? call->params : json_object());
    json_t *select = json_object();
    for (size_t i = 0; i < call->ninputs; i++) {
        json_array_append_new(json_object_get(req, "inputs"), json_string(call->inputs[i].param));
        if (call->inputs[i].columns) json_object_set(select, call->inputs[i].param, call->inputs[i].columns);
    }
    json_object_set_new(req, "select", select);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rc = send_request(sv[0], text, call, err);
    free(text);

    strbuf reply = {0}, out = {0}, tail = {0};
    int result_fd = -1;
    struct pollfd fds[2] = {{sv[0], POLLIN, 0}, {pipefd[0], POLLIN, 0}};
    int open_fds = 2;
    /* The zygote keeps the call socket open until it reports the child's
     * end; a complete reply plus the end of the child's output is enough. */
    while (open_fds > 0 && !(fds[1].fd < 0 && reply_complete(&reply))) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (recv_with_fd(sv[0], &reply, &result_fd) <= 0) {
                fds[0].fd = -1;
                open_fds--;
            }
        }
        if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[8192];
            ssize_t n = read(pipefd[0], buf, sizeof buf);
            if (n <= 0) {
                fds[1].fd = -1;
                open_fds--;
            } else {
                sb_appendn(&out, buf, (size_t)n);
                char *nl;
                while ((nl = memchr(out.s, '\n', out.len))) {
                    *nl = 0;
                    forward_line(out.s, call, &tail, on_line, ctx);
                    size_t used = (size_t)(nl - out.s) + 1;
                    memmove(out.s, nl + 1, out.len - used);
                    out.len -= used;
                    out.s[out.len] = 0;
                }
            }
        }
    }
    if (out.len) forward_line(out.s, call, &tail, on_line, ctx);
    if (fds[0].fd >= 0) {
        /* Still open: a crashed child's status may be on its way; read it. */
        while (!reply_complete(&reply) && recv_with_fd(sv[0], &reply, &result_fd) > 0) {
        }
    }
    close(sv[0]);
    close(pipefd[0]);
    json_t *doc = NULL;
    if (reply_complete(&reply)) {
        const unsigned char *h = (const unsigned char *)reply.s;
        size_t len = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
        doc = json_loadb(reply.s + 4, len, 0, NULL);
    }
    json_t *sig = doc ? json_object_get(doc, "signal") : NULL;
    json_t *ex = doc ? json_object_get(doc, "exit") : NULL;
    if (rc < 0) {
        /* the request never arrived; err says why */
    } else if (!doc || sig || ex) {
        if (sig)
            rc = tarn__error_set(err, TARN_EUSER, "the Python process was killed by signal %d (%s)%s%s",
                                 (int)json_integer_value(sig), strsignal((int)json_integer_value(sig)),
                                 tail.len ? ":\n" : "", sb_str(&tail));
        else
            rc = tarn__error_set(err, TARN_EUSER, "the Python process exited with status %d before "
                                 "returning a result%s%s",
                                 ex ? (int)json_integer_value(ex) : -1, tail.len ? ":\n" : "", sb_str(&tail));
    } else if (!json_is_true(json_object_get(doc, "ok"))) {
        const char *tb = json_string_value(json_object_get(doc, "error"));
        rc = tarn__error_set(err, TARN_EUSER, "%s", tb ? tb : "the function failed");
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
    sb_free(&reply);
    sb_free(&out);
    sb_free(&tail);
    return rc;
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

int tarn__rt_output_fd(tarn_rt_session *s, const char *model)
{
    int fd = -1;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, model) == 0 && s->items[i].fd >= 0) fd = dup(s->items[i].fd);
    pthread_mutex_unlock(&s->mu);
    return fd;
}
