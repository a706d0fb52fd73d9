/* runtime/warm.c — the warm runtime (see warm.h): the borrower's side
 * (finding, starting and talking to it) and the server's loop.
 *
 * The server is one thread around poll(): its listening socket, its
 * borrowers' connections, and the control sockets of the zygotes it holds
 * idle. A zygote it starts is lent at once, before it is warm (the borrower
 * reads its warm message, as it would of its own); lent, its control
 * socket is the borrower's alone, so a borrower that dies takes the
 * zygote's last reference with it and the zygote exits. Given back, it is
 * pinged before it is lent again. Zygotes are the server's children: it
 * reaps them. It exits when nobody has borrowed anything for its idle time,
 * closing the zygotes it holds. */
#include "runtime/warm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tarn/run.h"
#include "tarn/tarn.h"
#include "util/error.h"
#include "util/packet.h"
#include "util/util.h"

#define WARM_PROTOCOL 1
#define MAX_ZYGOTES 8 /* held idle, all keys */
#define MAX_HOT 64    /* scan results held */
#define MAX_PER_KEY 2 /* held idle, one key */
#define MAX_CONNS 64
#define DEFAULT_IDLE_S 600

/* ---- where it lives -------------------------------------------------------------- */

/* The user's runtime folder into OUT: created 0700 if missing, refused
 * unless it is a folder of this user's that nobody else may enter. */
static int runtime_dir(char *out, size_t size, tarn_error *err)
{
    const char *d = getenv("TARN_RUNTIME_DIR");
    if (d && *d)
        snprintf(out, size, "%s", d);
    else if ((d = getenv("XDG_RUNTIME_DIR")) && *d)
        snprintf(out, size, "%s/tarn", d);
    else
        snprintf(out, size, "/tmp/tarn-%u", (unsigned)getuid());
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", out, strerror(errno));
    struct stat st;
    if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
        return tarn__error_set(err, TARN_EINVALID,
                               "'%s' is not a folder of this user's alone (mode 0700): the warm "
                               "runtime is not used (set TARN_RUNTIME_DIR to another folder)",
                               out);
    return 0;
}

/* PATH of the warm runtime's file SUFFIX ("sock", "lock", "log") for
 * program EXE: one runtime per program, so a rebuilt tarn starts its own. */
static int runtime_file(char *out, size_t size, const char *exe, const char *suffix,
                        tarn_error *err)
{
    char dir[PATH_MAX], real[PATH_MAX];
    TARN_RETURN_NOT_OK(runtime_dir(dir, sizeof dir, err));
    if (!realpath(exe, real)) snprintf(real, sizeof real, "%s", exe);
    struct stat st;
    memset(&st, 0, sizeof st);
    stat(real, &st);
    strbuf id = {0};
    sb_printf(&id, "%s\n%llu %llu %lld %lld\n%s", real, (unsigned long long)st.st_dev,
              (unsigned long long)st.st_ino, (long long)st.st_mtime, (long long)st.st_size,
              TARN_VERSION);
    char hash[65];
    tarn__sha256_hex(hash, id.s, id.len);
    sb_free(&id);
    int n = snprintf(out, size, "%s/warm-%.16s.%s", dir, hash, suffix);
    if (n < 0 || (size_t)n >= size || (!strcmp(suffix, "sock") && (size_t)n >= 108))
        return tarn__error_set(err, TARN_EINVALID, "the runtime folder's path '%s' is too long",
                               dir);
    return 0;
}

int tarn__warm_socket(char *out, size_t size, const char *exe, tarn_error *err)
{
    return runtime_file(out, size, exe, "sock", err);
}

static int try_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Starts `EXE runtime serve` in a session of its own, detached. */
static void start_server(const char *exe)
{
    char *argv[] = {(char *)exe, "runtime", "serve", NULL};
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        /* Async-signal-safe calls only: the caller may have threads. */
        setsid();
        if (fork() != 0) _exit(0);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
        if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
            for (int fd = 3; fd < 65536; fd++)
                close(fd);
        execv(exe, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

int tarn__warm_connect(const char *exe, int start)
{
    const char *mode = getenv("TARN_RUNTIME");
    if (!exe || !*exe || (mode && !strcmp(mode, "off"))) return -1;
    char path[PATH_MAX];
    if (runtime_file(path, sizeof path, exe, "sock", NULL) < 0) return -1;
    int fd = try_connect(path);
    if (fd >= 0 || !start) return fd;
    start_server(exe);
    /* It binds its socket within milliseconds; a runtime that cannot start
     * costs this run two seconds once, then it starts its own zygotes. */
    for (int i = 0; i < 400 && fd < 0; i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        fd = try_connect(path);
    }
    return fd;
}

/* ---- the borrower's side ---------------------------------------------------------- */

/* Sends REQ on CONN and reads the reply (with a descriptor into *fd when
 * FD is not NULL): the reply, or NULL when the runtime failed or said no. */
static json_t *ask(int conn, json_t *req, const int *fds, size_t nfds, int *fd)
{
    json_t *reply = NULL;
    if (fd) *fd = -1;
    if (tarn__packet_send(conn, req, fds, nfds, "the warm runtime", NULL) < 0 ||
        tarn__packet_recv(&reply, fd, conn, "the warm runtime", NULL) != 0)
        return NULL;
    if (!json_is_true(json_object_get(reply, "ok"))) {
        json_decref(reply);
        if (fd && *fd >= 0) close(*fd), *fd = -1;
        return NULL;
    }
    return reply;
}

int tarn__warm_lease(int *ctrl, pid_t *pid, int *ready, int conn, json_t *spec)
{
    *ctrl = -1;
    if (conn < 0) return -1;
    /* The key: all of SPEC but "env", which the zygote is started with
     * (its workers get their caller's with each call); "key_env" holds what
     * of it shapes the interpreter as it starts. */
    json_t *keyed = json_copy(spec);
    json_object_del(keyed, "env");
    char *text = json_dumps(keyed, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(keyed);
    char key[65];
    tarn__sha256_hex(key, text ? text : "", text ? strlen(text) : 0);
    free(text);
    json_t *req =
        json_pack("{s:i,s:s,s:s,s:O}", "v", WARM_PROTOCOL, "op", "lease", "key", key, "spec", spec);
    int fd = -1;
    json_t *reply = ask(conn, req, NULL, 0, &fd);
    json_decref(req);
    if (!reply || fd < 0) {
        if (fd >= 0) close(fd);
        json_decref(reply);
        return -1;
    }
    *ctrl = fd;
    *pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
    *ready = json_is_true(json_object_get(reply, "ready"));
    json_decref(reply);
    return 0;
}

void tarn__warm_release(int conn, int ctrl, pid_t pid, int ready)
{
    if (conn >= 0) {
        json_t *req = json_pack("{s:i,s:s,s:i,s:b}", "v", WARM_PROTOCOL, "op", "release", "pid",
                                (int)pid, "ready", ready);
        json_decref(ask(conn, req, &ctrl, 1, NULL));
        json_decref(req);
    }
    close(ctrl);
}

/* A request to the runtime of EXE that is running (not started). */
static int request(json_t **reply, const char *exe, const char *op, tarn_error *err)
{
    char path[PATH_MAX];
    TARN_RETURN_NOT_OK(runtime_file(path, sizeof path, exe, "sock", err));
    int fd = try_connect(path);
    if (fd < 0) return tarn__error_set(err, TARN_ENOTFOUND, "no warm runtime is running");
    json_t *req = json_pack("{s:i,s:s}", "v", WARM_PROTOCOL, "op", op);
    *reply = ask(fd, req, NULL, 0, NULL);
    json_decref(req);
    close(fd);
    if (!*reply) return tarn__error_set(err, TARN_EIO, "the warm runtime did not answer");
    return 0;
}

int tarn__warm_status(char **json, const char *exe, tarn_error *err)
{
    *json = NULL;
    json_t *reply = NULL;
    TARN_RETURN_NOT_OK(request(&reply, exe, "status", err));
    json_object_del(reply, "ok");
    *json = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    return 0;
}

int tarn__warm_stop(const char *exe, tarn_error *err)
{
    json_t *reply = NULL;
    TARN_RETURN_NOT_OK(request(&reply, exe, "stop", err));
    json_decref(reply);
    return 0;
}

/* ---- the server ------------------------------------------------------------------- */

enum { Z_WARMING, Z_CHECKING, Z_IDLE, Z_LEASED };
static const char *const state_names[] = {"warming", "checking", "idle", "lent"};

typedef struct wz {
    char key[65];
    char *python;
    pid_t pid;
    int ctrl; /* held while not lent, else -1 */
    int state;
    int conn; /* the borrower's connection while lent */
    int64_t used;
} wz;

/* A scan result kept hot: a sealed memfd (runtime/scancache.c). */
typedef struct hot {
    char key[65];
    int fd;
    int64_t bytes, used;
} hot;

typedef struct server {
    wz z[MAX_ZYGOTES * 4];
    size_t nz;
    hot hot[MAX_HOT];
    size_t nhot;
    int64_t hot_bytes, hot_max;
    int conns[MAX_CONNS];
    size_t nconns;
    int logfd;
    int64_t last;
    int stop;
    char socket[PATH_MAX];
    double idle_s;
} server;

static void drop(server *sv, size_t i)
{
    if (sv->z[i].ctrl >= 0) close(sv->z[i].ctrl); /* it kills its workers and exits */
    free(sv->z[i].python);
    sv->z[i] = sv->z[--sv->nz];
}

/* A NULL-terminated copy of a JSON array of strings (strings borrowed). */
static char **array_of(json_t *a)
{
    size_t n = json_array_size(a);
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (char *)json_string_value(json_array_get(a, i));
    return v;
}

/* Starts a zygote as SPEC says; its control socket into Z. */
static int spawn(server *sv, wz *z, json_t *spec)
{
    const char *python = json_string_value(json_object_get(spec, "python"));
    const char *cwd = json_string_value(json_object_get(spec, "cwd"));
    char **argv = array_of(json_object_get(spec, "argv"));
    char **envp = array_of(json_object_get(spec, "env"));
    json_t *limits = json_object_get(spec, "rlimits");
    size_t nlim = json_array_size(limits);
    int *res = calloc(nlim + 1, sizeof *res);
    struct rlimit *lim = calloc(nlim + 1, sizeof *lim);
    for (size_t i = 0; i < nlim; i++) {
        json_t *l = json_array_get(limits, i);
        res[i] = (int)json_integer_value(json_array_get(l, 0));
        json_int_t cur = json_integer_value(json_array_get(l, 1));
        json_int_t max = json_integer_value(json_array_get(l, 2));
        lim[i].rlim_cur = cur < 0 ? RLIM_INFINITY : (rlim_t)cur;
        lim[i].rlim_max = max < 0 ? RLIM_INFINITY : (rlim_t)max;
    }
    mode_t mask = (mode_t)json_integer_value(json_object_get(spec, "umask"));
    int sv2[2], rc = -1;
    if (!python || !argv || !argv[0] || !envp ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv2) != 0)
        goto done;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv2[0]), close(sv2[1]);
        goto done;
    }
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0) _exit(126);
        umask(mask);
        for (size_t i = 0; i < nlim; i++)
            setrlimit(res[i], &lim[i]);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        if (sv->logfd >= 0) dup2(sv->logfd, 1), dup2(sv->logfd, 2);
        dup2(sv2[1], 3); /* dup2 clears close-on-exec */
        if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
            for (int fd = 4; fd < 65536; fd++)
                close(fd);
        signal(SIGPIPE, SIG_DFL);
        execve(python, argv, envp);
        _exit(127);
    }
    close(sv2[1]);
    z->pid = pid;
    z->ctrl = sv2[0];
    z->python = strdup(python);
    rc = 0;
done:
    free(argv);
    free(envp);
    free(res);
    free(lim);
    return rc;
}

static void reply_to(int conn, json_t *reply, int fd)
{
    tarn__packet_send(conn, reply, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, "a borrower", NULL);
    json_decref(reply);
}

static json_t *failure(const char *msg)
{
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

/* Keeps at most MAX_PER_KEY idle zygotes of KEY and MAX_ZYGOTES in all,
 * closing the least recently used. */
static void trim(server *sv, const char *key)
{
    for (;;) {
        size_t idle = 0, same = 0, oldest = sv->nz, oldest_same = sv->nz;
        for (size_t i = 0; i < sv->nz; i++) {
            if (sv->z[i].state == Z_LEASED) continue;
            idle++;
            if (oldest == sv->nz || sv->z[i].used < sv->z[oldest].used) oldest = i;
            if (strcmp(sv->z[i].key, key)) continue;
            same++;
            if (oldest_same == sv->nz || sv->z[i].used < sv->z[oldest_same].used) oldest_same = i;
        }
        if (same > MAX_PER_KEY)
            drop(sv, oldest_same);
        else if (idle > MAX_ZYGOTES)
            drop(sv, oldest);
        else
            return;
    }
}

static void lease(server *sv, int conn, json_t *req)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    json_t *spec = json_object_get(req, "spec");
    if (!key || strlen(key) != 64 || !json_is_object(spec)) {
        reply_to(conn, failure("lease needs a key and a spec"), -1);
        return;
    }
    /* An idle one of the same key, warm ones first. */
    size_t best = sv->nz;
    for (size_t i = 0; i < sv->nz; i++) {
        if (strcmp(sv->z[i].key, key) || sv->z[i].state == Z_LEASED || sv->z[i].state == Z_CHECKING)
            continue;
        if (best == sv->nz || (sv->z[i].state == Z_IDLE && sv->z[best].state != Z_IDLE)) best = i;
    }
    if (best == sv->nz) {
        if (sv->nz == sizeof sv->z / sizeof *sv->z) {
            reply_to(conn, failure("too many zygotes"), -1);
            return;
        }
        wz *z = &sv->z[sv->nz];
        memset(z, 0, sizeof *z);
        z->ctrl = -1;
        if (spawn(sv, z, spec) < 0) {
            reply_to(conn, failure("cannot start the zygote"), -1);
            return;
        }
        snprintf(z->key, sizeof z->key, "%s", key);
        z->state = Z_WARMING;
        best = sv->nz++;
    }
    wz *z = &sv->z[best];
    int ready = z->state == Z_IDLE;
    reply_to(conn, json_pack("{s:b,s:i,s:b}", "ok", 1, "pid", (int)z->pid, "ready", ready),
             z->ctrl);
    close(z->ctrl); /* the borrower's alone now */
    z->ctrl = -1;
    z->state = Z_LEASED;
    z->conn = conn;
    z->used = tarn__now_us();
}

static void release(server *sv, int conn, json_t *req, int fd)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(req, "pid"));
    for (size_t i = 0; i < sv->nz; i++) {
        wz *z = &sv->z[i];
        if (z->pid != pid || z->state != Z_LEASED || z->conn != conn) continue;
        if (fd < 0) {
            drop(sv, i);
            break;
        }
        z->ctrl = fd;
        fd = -1;
        z->used = tarn__now_us();
        if (json_is_true(json_object_get(req, "ready"))) {
            /* Its next reply must be this ping's: nothing left unread. */
            json_t *ping = json_pack("{s:s}", "op", "ping");
            int ok = tarn__packet_send(z->ctrl, ping, NULL, 0, "a zygote", NULL) == 0;
            json_decref(ping);
            if (!ok) {
                drop(sv, i);
                break;
            }
            z->state = Z_CHECKING;
        } else {
            z->state = Z_WARMING;
        }
        trim(sv, z->key);
        break;
    }
    if (fd >= 0) close(fd);
    reply_to(conn, json_pack("{s:b}", "ok", 1), -1);
}

/* ---- scan results kept hot ---------------------------------------------------------- */

static int sealed_size(int fd, int64_t *bytes)
{
    const int needed = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & needed) != needed || fstat(fd, &st) != 0) return -1;
    *bytes = (int64_t)st.st_size;
    return 0;
}

static void hot_drop(server *sv, size_t i)
{
    close(sv->hot[i].fd);
    sv->hot_bytes -= sv->hot[i].bytes;
    sv->hot[i] = sv->hot[--sv->nhot];
}

/* {"op": "scan_put", "key"} + a sealed memfd: kept (the least recently
 * used go beyond MAX_HOT entries or hot_max bytes). */
static void hot_put(server *sv, int conn, json_t *req, int fd)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    int64_t bytes = 0;
    if (!key || strlen(key) != 64 || fd < 0 || sealed_size(fd, &bytes) < 0 || bytes > sv->hot_max) {
        if (fd >= 0) close(fd);
        reply_to(conn, failure("scan_put needs a key and a sealed memfd within the bound"), -1);
        return;
    }
    for (size_t i = 0; i < sv->nhot; i++)
        if (!strcmp(sv->hot[i].key, key)) hot_drop(sv, i);
    while (sv->nhot && (sv->nhot == MAX_HOT || sv->hot_bytes + bytes > sv->hot_max)) {
        size_t oldest = 0;
        for (size_t i = 1; i < sv->nhot; i++)
            if (sv->hot[i].used < sv->hot[oldest].used) oldest = i;
        hot_drop(sv, oldest);
    }
    hot *h = &sv->hot[sv->nhot++];
    snprintf(h->key, sizeof h->key, "%s", key);
    h->fd = fd;
    h->bytes = bytes;
    h->used = tarn__now_us();
    sv->hot_bytes += bytes;
    reply_to(conn, json_pack("{s:b}", "ok", 1), -1);
}

/* {"op": "scan_get", "key"} -> {"ok"} + the memfd, or not ok. */
static void hot_get(server *sv, int conn, json_t *req)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    for (size_t i = 0; key && i < sv->nhot; i++)
        if (!strcmp(sv->hot[i].key, key)) {
            sv->hot[i].used = tarn__now_us();
            reply_to(conn, json_pack("{s:b}", "ok", 1), sv->hot[i].fd);
            return;
        }
    reply_to(conn, failure("not kept"), -1);
}

int tarn__warm_hot_get(int conn, const char *key)
{
    if (conn < 0) return -1;
    json_t *req = json_pack("{s:i,s:s,s:s}", "v", WARM_PROTOCOL, "op", "scan_get", "key", key);
    int fd = -1;
    json_t *reply = ask(conn, req, NULL, 0, &fd);
    json_decref(req);
    json_decref(reply);
    int64_t bytes;
    if (fd >= 0 && sealed_size(fd, &bytes) < 0) close(fd), fd = -1;
    return reply ? fd : (fd >= 0 ? (close(fd), -1) : -1);
}

void tarn__warm_hot_put(int conn, const char *key, int fd)
{
    if (conn < 0 || fd < 0) return;
    json_t *req = json_pack("{s:i,s:s,s:s}", "v", WARM_PROTOCOL, "op", "scan_put", "key", key);
    json_decref(ask(conn, req, &fd, 1, NULL));
    json_decref(req);
}

static json_t *status_of(server *sv)
{
    json_t *zs = json_array();
    for (size_t i = 0; i < sv->nz; i++)
        json_array_append_new(zs, json_pack("{s:i,s:s,s:s,s:s}", "pid", (int)sv->z[i].pid, "key",
                                            sv->z[i].key, "python",
                                            sv->z[i].python ? sv->z[i].python : "", "state",
                                            state_names[sv->z[i].state]));
    return json_pack("{s:b,s:i,s:s,s:f,s:o,s:{s:i,s:I,s:I}}", "ok", 1, "pid", (int)getpid(),
                     "socket", sv->socket, "idle_seconds", sv->idle_s, "zygotes", zs, "scans",
                     "entries", (int)sv->nhot, "bytes", (json_int_t)sv->hot_bytes, "max_bytes",
                     (json_int_t)sv->hot_max);
}

static void serve_conn(server *sv, size_t ci)
{
    int conn = sv->conns[ci];
    json_t *req = NULL;
    int fd = -1;
    int rc = tarn__packet_recv(&req, &fd, conn, "a borrower", NULL);
    if (rc != 0) {
        /* Gone: what it borrowed went with it (its control sockets closed). */
        for (size_t i = sv->nz; i-- > 0;)
            if (sv->z[i].state == Z_LEASED && sv->z[i].conn == conn) drop(sv, i);
        close(conn);
        sv->conns[ci] = sv->conns[--sv->nconns];
        if (fd >= 0) close(fd);
        return;
    }
    sv->last = tarn__now_us();
    const char *op = json_string_value(json_object_get(req, "op"));
    if (json_integer_value(json_object_get(req, "v")) != WARM_PROTOCOL || !op) {
        reply_to(conn, failure("unknown protocol version"), -1);
    } else if (!strcmp(op, "lease")) {
        lease(sv, conn, req);
    } else if (!strcmp(op, "release")) {
        release(sv, conn, req, fd);
        fd = -1;
    } else if (!strcmp(op, "scan_put")) {
        hot_put(sv, conn, req, fd);
        fd = -1;
    } else if (!strcmp(op, "scan_get")) {
        hot_get(sv, conn, req);
    } else if (!strcmp(op, "status")) {
        reply_to(conn, status_of(sv), -1);
    } else if (!strcmp(op, "stop")) {
        reply_to(conn, json_pack("{s:b}", "ok", 1), -1);
        sv->stop = 1;
    } else {
        reply_to(conn, failure("unknown op"), -1);
    }
    if (fd >= 0) close(fd);
    json_decref(req);
}

/* A zygote the server holds said something: its warm message, the reply
 * to the ping of its return, or its end. */
static void serve_zygote(server *sv, size_t i)
{
    wz *z = &sv->z[i];
    json_t *msg = NULL;
    int rc = tarn__packet_recv(&msg, NULL, z->ctrl, "a zygote", NULL);
    int ok = rc == 0 && json_is_true(json_object_get(msg, "ok"));
    json_decref(msg);
    if (!ok || z->state == Z_IDLE) {
        drop(sv, i); /* it died, or spoke out of turn */
        return;
    }
    z->state = Z_IDLE;
}

static void reap(server *sv)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (size_t i = 0; i < sv->nz; i++)
            if (sv->z[i].pid == pid && sv->z[i].state != Z_LEASED) {
                drop(sv, i);
                break;
            }
}

/* Whether the peer on C runs as this user. The folder's mode 0700 keeps
 * others out already; this holds even if the folder were opened up. */
static int same_user(int c)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    return getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == getuid();
}

static int listen_on(const char *path, tarn_error *err)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return tarn__error_set(err, TARN_EIO, "socket: %s", strerror(errno));
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    unlink(path); /* a dead runtime's: the lock says none is alive */
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        int e = errno;
        close(fd);
        return tarn__error_set(err, TARN_EIO, "cannot listen on '%s': %s", path, strerror(e));
    }
    return fd;
}

int tarn__warm_serve(const char *exe, double idle_s, tarn_error *err)
{
    char lock_path[PATH_MAX], log_path[PATH_MAX];
    server *sv = calloc(1, sizeof *sv);
    if (!sv) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    int rc = runtime_file(sv->socket, sizeof sv->socket, exe, "sock", err);
    if (rc == 0) rc = runtime_file(lock_path, sizeof lock_path, exe, "lock", err);
    if (rc == 0) rc = runtime_file(log_path, sizeof log_path, exe, "log", err);
    int lockfd = -1, lfd = -1;
    if (rc == 0 && ((lockfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
                    flock(lockfd, LOCK_EX | LOCK_NB) != 0))
        rc = lockfd < 0 ? tarn__error_set(err, TARN_EIO, "cannot open '%s': %s", lock_path,
                                          strerror(errno))
                        : tarn__error_set(err, TARN_EEXISTS, "a warm runtime is already running");
    if (rc == 0 && (lfd = listen_on(sv->socket, err)) < 0) rc = lfd;
    if (rc < 0) goto done;
    if (idle_s <= 0) {
        const char *v = getenv("TARN_RUNTIME_IDLE");
        idle_s = v && atof(v) > 0 ? atof(v) : DEFAULT_IDLE_S;
    }
    sv->idle_s = idle_s;
    /* Scan results kept hot: an eighth of the memory at most. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    sv->hot_max = pages > 0 && page > 0 ? (int64_t)pages * page / 8 : (int64_t)256 << 20;
    sv->logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
    sv->last = tarn__now_us();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* started from a terminal, it stays when the run is interrupted */
    while (!sv->stop) {
        struct pollfd pfd[1 + MAX_CONNS + sizeof sv->z / sizeof *sv->z];
        size_t n = 0;
        pfd[n++] = (struct pollfd){lfd, POLLIN, 0};
        for (size_t i = 0; i < sv->nconns; i++)
            pfd[n++] = (struct pollfd){sv->conns[i], POLLIN, 0};
        size_t zbase = n;
        for (size_t i = 0; i < sv->nz; i++)
            pfd[n++] = (struct pollfd){sv->z[i].ctrl, POLLIN, 0}; /* -1: not polled */
        int ready = poll(pfd, n, 1000);
        if (ready < 0 && errno != EINTR) break;
        /* Zygotes first, backwards: dropping one moves the last into its place. */
        for (size_t i = sv->nz; ready > 0 && i-- > 0;)
            if (pfd[zbase + i].fd >= 0 && (pfd[zbase + i].revents & (POLLIN | POLLHUP | POLLERR)))
                serve_zygote(sv, i);
        for (size_t i = sv->nconns; ready > 0 && i-- > 0;)
            if (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) serve_conn(sv, i);
        if (ready > 0 && (pfd[0].revents & POLLIN)) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && !same_user(c)) close(c), c = -1;
            if (c >= 0 && sv->nconns < MAX_CONNS)
                sv->conns[sv->nconns++] = c;
            else if (c >= 0)
                close(c);
            sv->last = tarn__now_us();
        }
        reap(sv);
        int lent = 0;
        for (size_t i = 0; i < sv->nz; i++)
            lent |= sv->z[i].state == Z_LEASED;
        if (!sv->nconns && !lent && (double)(tarn__now_us() - sv->last) / 1e6 >= sv->idle_s) break;
    }
    /* Closing their control sockets ends the zygotes held; lent ones are
     * their borrowers'. */
    unlink(sv->socket);
    for (size_t i = sv->nz; i-- > 0;)
        if (sv->z[i].state != Z_LEASED) drop(sv, i);
    for (int t = 0; t < 200; t++) {
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
done:
    while (sv->nhot)
        hot_drop(sv, 0);
    for (size_t i = 0; i < sv->nconns; i++)
        close(sv->conns[i]);
    for (size_t i = sv->nz; i-- > 0;)
        drop(sv, i);
    if (lfd >= 0) close(lfd);
    if (sv->logfd > 0) close(sv->logfd);
    if (lockfd >= 0) close(lockfd);
    free(sv);
    return rc;
}

int tarn_runtime_serve(const char *exe, double idle_seconds, tarn_error *err)
{
    return tarn__warm_serve(exe, idle_seconds, err);
}

int tarn_runtime_status(char **json, const char *exe, tarn_error *err)
{
    return tarn__warm_status(json, exe, err);
}

int tarn_runtime_stop(const char *exe, tarn_error *err)
{
    return tarn__warm_stop(exe, err);
}
