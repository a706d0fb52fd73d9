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
 * no table is copied between processes.
 *
 * Every call is confined and limited: the request names what the worker
 * must hide (the lakehouse), what it may still read inside it (its
 * environment's entries, the bytecode cache), whether it has network, and
 * its memory, time and CPU limits; python/tarn/confine.py applies them and
 * its supervisor reports how the call ended, so a limit or a refusal is
 * told as such, never as a bare signal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/dataplane.h"
#include "runtime/runtime.h"
#include "runtime/warm.h"
#include "tarn/arrow.h"
#include "util/error.h"
#include "util/lines.h"
#include "util/packet.h"
#include "util/util.h"

#define LINE_MAX_BYTES 8192 /* of one line a function prints; the rest is counted */
#define DEFAULT_TIMEOUT_S 3600

/* Limits for tasks that declare none (.tarn/config), 0 meaning none. */
typedef struct limits {
    int64_t memory_mb;
    double timeout_s;
    double cpus;
} limits;

typedef struct mapped {
    char name[TARN_NAME_MAX + 1]; /* the model */
    tarn_arrow_table *table;
    tarn_arrow_duckdb_view *view;
    int fd; /* the sealed memfd, handed on as is to models that read it whole */
} mapped;

/* One warm parent per environment: an interpreter and the cache entries
 * it puts after the standard library, ahead of its own site-packages. */
typedef struct zygote {
    char key[65];  /* the environment's id, "base" without packages */
    char *python;  /* interpreter */
    json_t *paths; /* the environment's cache entries (array) */
    pid_t pid;     /* 0: not started */
    int ctrl;      /* control socket (SOCK_SEQPACKET: one JSON message a packet) */
    int ready;     /* its "warm" message was read */
    int lent;      /* borrowed from the warm runtime (not this process's child) */
    int broken;    /* a request failed: never given back */
} zygote;

struct tarn_rt_session {
    pthread_mutex_t mu; /* calls come from several threads */
    tarn_lake *lake;
    mapped *items;
    size_t n, cap;
    zygote *zy;
    size_t nzy;
    limits defaults;
    /* Workers running now (their supervisors), for a cancel; live_mu
     * alone guards them, so that a cancel never waits for a fork. */
    pthread_mutex_t live_mu;
    pid_t *live;
    size_t nlive, live_cap;
    int cancelled;       /* tarn__rt_cancel was called: no call starts */
    int confine;         /* run.confine: 1 auto, 0 off */
    char hide[PATH_MAX]; /* the lakehouse folder, as the kernel resolves it */
    int warm;            /* connection to the warm runtime, or -1 */
    json_t *environ;     /* this process's environment for workers of lent zygotes */
    struct finisher *finishing; /* under mu: calls whose result is in, still ending */
    struct spare *spares;       /* under mu: workers forked ahead of their calls */
    pthread_mutex_t maker_mu;   /* the thread forking one ahead, if maker_running */
    pthread_t maker;
    int maker_running;
};

static void drop_spares(tarn_rt_session *s); /* workers forked ahead of their calls */
static void make_spare(tarn_rt_session *s, const tarn_rt_call *call);
static void ahead_wait(tarn_rt_session *s);

/* The name model MODEL's output is registered under in DuckDB: its own
 * for a bare name; `ns__dot__t` for ns.t (a view name holds no dot), which
 * tarn__rt_attach shows as view t of schema ns. */
static void rt_view_name(char *out, size_t size, const char *model)
{
    const char *dot = strchr(model, '.');
    if (dot) snprintf(out, size, "%.*s__dot__%s", (int)(dot - model), model, dot + 1);
    else snprintf(out, size, "%s", model);
}

/* The zygote for ENV (NULL: the base environment), created if new. */
/* An environment the base interpreter satisfies entirely (no cache
 * entries, no other interpreter) is the base one (NULL): same zygote. */
static const tarn_rt_env *as_parent(const tarn_rt_env *env)
{
    return env && !env->python && json_array_size(env->paths) == 0 ? NULL : env;
}

const char *tarn__rt_parent_key(const tarn_rt_env *env)
{
    env = as_parent(env);
    return env && env->id ? env->id : "base";
}

static zygote *zygote_for(tarn_rt_session *s, const tarn_rt_env *env)
{
    env = as_parent(env);
    const char *key = tarn__rt_parent_key(env);
    for (size_t i = 0; i < s->nzy; i++)
        if (!strcmp(s->zy[i].key, key)) return &s->zy[i];
    s->zy = realloc(s->zy, (s->nzy + 1) * sizeof *s->zy);
    zygote *z = &s->zy[s->nzy++];
    memset(z, 0, sizeof *z);
    snprintf(z->key, sizeof z->key, "%s", key);
    z->ctrl = -1;
    z->python = strdup(env && env->python ? env->python : tarn__python_exe(s->lake));
    z->paths = env && env->paths ? json_incref(env->paths) : json_array();
    return z;
}

static int start_zygote(tarn_rt_session *s, zygote *z, tarn_error *err);

/* A non-negative number from .tarn/config KEY (DEF when unset). */
static int config_number(double *out, tarn_lake *lake, const char *key, double def,
                         const char *unit, tarn_error *err)
{
    const char *v = tarn_lake_config(lake, key);
    *out = def;
    if (!v || !*v) return 0;
    char *end;
    double d = strtod(v, &end);
    if (*end || end == v || !(d >= 0) || d > 1e12)
        return tarn__error_set(
            err, TARN_EINVALID,
            "%s in .tarn/config must be a number of %s, 0 for no limit (it is '%s')", key, unit, v);
    *out = d;
    return 0;
}

/* The defaults of limits and confinement, from .tarn/config: bad values
 * refuse the run before anything runs. */
static int read_defaults(tarn_rt_session *s, tarn_error *err)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double half_ram_mb = pages > 0 && page > 0 ? (double)((int64_t)pages * page / 2 >> 20) : 4096;
    double mem;
    TARN_RETURN_NOT_OK(
        config_number(&mem, s->lake, "run.memory_limit_mb", half_ram_mb, "MiB", err));
    TARN_RETURN_NOT_OK(config_number(&s->defaults.timeout_s, s->lake, "run.timeout_s",
                                     DEFAULT_TIMEOUT_S, "seconds", err));
    TARN_RETURN_NOT_OK(config_number(&s->defaults.cpus, s->lake, "run.cpus", 0, "CPUs", err));
    s->defaults.memory_mb = (int64_t)mem;
    const char *mode = tarn_lake_config(s->lake, "run.confine");
    if (mode && *mode && strcmp(mode, "auto") && strcmp(mode, "off"))
        return tarn__error_set(err, TARN_EINVALID,
                               "run.confine in .tarn/config must be 'auto' or 'off' (it is '%s')",
                               mode);
    s->confine = !(mode && !strcmp(mode, "off"));
    if (!realpath(tarn_lake_path(s->lake), s->hide))
        snprintf(s->hide, sizeof s->hide, "%s", tarn_lake_path(s->lake));
    return 0;
}

int tarn__rt_discover_env(char *out[2], tarn_lake *lake, const char *project_dir, tarn_error *err)
{
    out[0] = out[1] = NULL;
    tarn_rt_session s = {0};
    s.lake = lake;
    TARN_RETURN_NOT_OK(read_defaults(&s, err));
    char dir[PATH_MAX];
    if (!realpath(project_dir, dir)) snprintf(dir, sizeof dir, "%s", project_dir);
    json_t *policy = json_pack("{s:s,s:[s],s:[s],s:b}", "mode", s.confine ? "auto" : "off", "hide",
                               s.hide, "read", dir, "internet", 0);
    char *text = json_dumps(policy, JSON_COMPACT);
    json_decref(policy);
    strbuf a = {0}, b = {0};
    sb_printf(&a, "TARN_CONFINE=%s", text);
    sb_printf(&b, "TARN_DISCOVER_TIMEOUT=%g", s.defaults.timeout_s);
    free(text);
    out[0] = a.s;
    out[1] = b.s;
    return 0;
}

int tarn__rt_open(tarn_rt_session **out, tarn_lake *lake, int warm, const char *exe,
                  tarn_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    (*out)->lake = lake;
    (*out)->warm = tarn__warm_connect(exe, 1);
    pthread_mutex_init(&(*out)->mu, NULL);
    pthread_mutex_init(&(*out)->live_mu, NULL);
    pthread_mutex_init(&(*out)->maker_mu, NULL);
    if (read_defaults(*out, err) < 0) {
        tarn__rt_close(out);
        return err ? err->code : TARN_EINVALID;
    }
    /* Warming up (interpreter, numpy, pandas) overlaps planning. */
    if (warm) start_zygote(*out, zygote_for(*out, NULL), NULL);
    return 0;
}

static void stop_zygote(tarn_rt_session *s, zygote *z)
{
    if (!z->pid) return;
    if (z->lent) {
        /* Every worker it forked was waited for: it goes back warm. One
         * that failed a request is only closed (it then exits). */
        if (z->broken) close(z->ctrl);
        else tarn__warm_release(s->warm, z->ctrl, z->pid, z->ready);
        z->ctrl = -1;
        z->ready = 0;
        z->pid = 0;
        z->lent = 0;
        return;
    }
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
    return tarn__packet_send(sock, msg, fds, nfds, "the Python worker", err);
}

/* Receives one packet: 0 with *msg set, 1 at end-of-file, <0 on error.
 * A descriptor that came with it goes to *fd (others are closed). */
static int recv_packet(json_t **msg, int *fd, int sock, tarn_error *err)
{
    return tarn__packet_recv(msg, fd, sock, "the Python worker", err);
}

/* ENV extended (replaced where named) by the NAME=VALUE entries of EXTRA;
 * the array is malloc'd, its strings are not. */
static char **environment_with(char *const *extra, size_t nextra)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **out = calloc(n + nextra + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < nextra; j++) {
            size_t len = strcspn(extra[j], "=") + 1;
            if (!strncmp(environ[i], extra[j], len)) replaced = 1;
        }
        if (!replaced) out[k++] = environ[i];
    }
    for (size_t j = 0; j < nextra; j++)
        out[k++] = extra[j];
    return out;
}

/* The process's umask. Reading it means setting it: runs on threads of
 * one process (`tarn serve`) must not see each other's interim value. */
static mode_t current_umask(void)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    mode_t mask = umask(022);
    umask(mask);
    pthread_mutex_unlock(&mu);
    return mask;
}

/* Borrows a zygote started exactly as ARGV and ENVP (and this process's
 * folder, umask and resource limits) say from the warm runtime: 0, or -1
 * when there is none to ask. Workers forked from it get this process's
 * environment with each call. */
static int lease_zygote(tarn_rt_session *s, zygote *z, char **argv, char **envp)
{
    if (s->warm < 0) return -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    json_t *args = json_array(), *env = json_array(), *keyed = json_array();
    json_t *limits = json_array();
    for (size_t i = 0; argv[i]; i++)
        json_array_append_new(args, json_string(argv[i]));
    /* A zygote of another run serves this one when the variables that
     * shape an interpreter as it starts agree: workers get this process's
     * whole environment with each call. */
    static const char *const shaping[] = {"PYTHON", "LD_",  "LC_",    "LANG",       "HOME=",
                                          "TZ=",    "TMP",  "TEMP=",  "OMP_",       "OPENBLAS_",
                                          "MKL_",   "NUMEXPR_", "TARN_", "VECLIB_", "GOTO"};
    for (size_t i = 0; envp[i]; i++) {
        json_array_append_new(env, json_string(envp[i]));
        for (size_t k = 0; k < sizeof shaping / sizeof *shaping; k++)
            if (!strncmp(envp[i], shaping[k], strlen(shaping[k]))) {
                json_array_append_new(keyed, json_string(envp[i]));
                break;
            }
    }
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit l;
        if (getrlimit(r, &l) != 0) continue;
        json_array_append_new(limits, json_pack("[i,I,I]", r,
                                                l.rlim_cur == RLIM_INFINITY ? (json_int_t)-1 : (json_int_t)l.rlim_cur,
                                                l.rlim_max == RLIM_INFINITY ? (json_int_t)-1 : (json_int_t)l.rlim_max));
    }
    mode_t mask = current_umask();
    json_t *spec = json_pack("{s:s,s:o,s:o,s:o,s:s,s:i,s:o}", "python", z->python, "argv", args,
                             "env", env, "key_env", keyed, "cwd", cwd, "umask", (int)mask,
                             "rlimits", limits);
    int ready = 0;
    pid_t pid = 0;
    int ctrl = -1;
    int rc = spec ? tarn__warm_lease(&ctrl, &pid, &ready, s->warm, spec) : -1;
    json_decref(spec);
    if (rc < 0) return -1;
    if (!s->environ) {
        extern char **environ;
        s->environ = json_object();
        for (size_t i = 0; environ[i]; i++) {
            const char *eq = strchr(environ[i], '=');
            if (!eq) continue;
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)(eq - environ[i]), environ[i]);
            json_object_set_new(s->environ, name, json_string(eq + 1));
        }
    }
    z->pid = pid;
    z->ctrl = ctrl;
    z->ready = ready;
    z->lent = 1;
    z->broken = 0;
    return 0;
}

static int start_zygote(tarn_rt_session *s, zygote *z, tarn_error *err)
{
    /* Everything the child needs is built before fork: this process has
     * threads, the child may only call async-signal-safe functions. */
    size_t npaths = json_array_size(z->paths);
    char **argv = calloc(npaths * 2 + 6, sizeof *argv);
    size_t a = 0;
    argv[a++] = z->python;
    argv[a++] = "-m";
    argv[a++] = "tarn.worker";
    argv[a++] = "--zygote";
    argv[a++] = "3";
    for (size_t i = 0; i < npaths; i++) {
        argv[a++] = "--path"; /* after the standard library, ahead of site-packages */
        argv[a++] = (char *)json_string_value(json_array_get(z->paths, i));
    }
    strbuf pythonpath = {0}, pycache = {0};
    sb_printf(&pythonpath, "PYTHONPATH=%s", tarn__python_path());
    /* Bytecode of environment packages is cached in the lakehouse: the
     * zygote compiles it there, workers only read it. */
    sb_printf(&pycache, "PYTHONPYCACHEPREFIX=%s/envs/pycache", s->hide);
    /* Nothing is imported from the current folder (3.11+; older ones
     * ignore it and the zygote drops that entry itself). */
    char *extra[] = {pythonpath.s, pycache.s, "PYTHONSAFEPATH=1"};
    char **envp = environment_with(extra, 3);

    int sv[2], rc = 0;
    pid_t pid = -1;
    if (lease_zygote(s, z, argv, envp) == 0) goto done;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "socketpair: %s", strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        close(sv[0]), close(sv[1]);
        rc = tarn__error_set(err, TARN_EIO, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(2, 1);     /* the zygote's own words (import errors) go to stderr */
        dup2(sv[1], 3); /* dup2 clears close-on-exec */
        /* No descriptor of this process (a catalog, a data file) reaches
         * the workers, whatever flags it was opened with. */
        if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
            for (int fd = 4; fd < 65536; fd++)
                close(fd);
        execve(z->python, argv, envp);
        _exit(127);
    }
    close(sv[1]);
    z->pid = pid;
    z->ctrl = sv[0];
    z->ready = 0;
done:
    free(argv);
    free(envp);
    sb_free(&pythonpath);
    sb_free(&pycache);
    return rc;
}

/* One request to the zygote and its reply. Holds s->mu. */
static int zygote_ask(json_t **reply, tarn_rt_session *s, zygote *z, json_t *req, const int *fds,
                      size_t nfds, tarn_error *err)
{
    *reply = NULL;
    if (!z->pid) TARN_RETURN_NOT_OK(start_zygote(s, z, err));
    if (!z->ready) { /* it says so once warm */
        json_t *hello = NULL;
        int rc = recv_packet(&hello, NULL, z->ctrl, err);
        json_decref(hello);
        if (rc != 0) {
            z->broken = 1;
            stop_zygote(s, z);
            return tarn__error_set(err, TARN_EIO,
                                   "the Python worker (%s -m tarn.worker) did not start; see its "
                                   "error above",
                                   z->python);
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
    if (rc < 0 && !*reply) {
        z->broken = 1;
        stop_zygote(s, z);
    }
    return rc;
}

/* A limit of CALL: its @tarn.resources value KEY if set, else DEF. */
static double declared(const tarn_rt_call *call, const char *key, double def)
{
    json_t *v = json_object_get(call->resources, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* The "limits" and "confine" members of a fork request for CALL. */
static void add_policy(json_t *req, tarn_rt_session *s, const tarn_rt_call *call, const zygote *z)
{
    json_t *lim = json_object();
    double mem = declared(call, "memory_mb", (double)s->defaults.memory_mb);
    double timeout = declared(call, "timeout_s", s->defaults.timeout_s);
    double cpus = declared(call, "cpus", s->defaults.cpus);
    if (mem > 0) json_object_set_new(lim, "memory", json_integer((json_int_t)(mem * 1048576.0)));
    if (timeout > 0) json_object_set_new(lim, "timeout", json_real(timeout));
    if (cpus > 0) json_object_set_new(lim, "cpus", json_real(cpus));
    json_object_set_new(req, "limits", lim);

    /* What the worker may still read inside the lakehouse: its packages,
     * their bytecode, and the project when it lives there (a rerun). */
    json_t *read = json_deep_copy(z->paths);
    strbuf pyc = {0};
    sb_printf(&pyc, "%s/envs/pycache", s->hide);
    json_array_append_new(read, json_string(sb_str(&pyc)));
    sb_free(&pyc);
    char dir[PATH_MAX];
    if (realpath(call->file, dir)) {
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) *slash = 0;
        json_array_append_new(read, json_string(dir));
    }
    json_object_set_new(req, "confine",
                        json_pack("{s:s,s:[s],s:o,s:b}", "mode", s->confine ? "auto" : "off",
                                  "hide", s->hide, "read", read, "internet", call->internet));
}

/* The fork request of CALL's worker from zygote Z (under s->mu). */
static json_t *fork_request(tarn_rt_session *s, const tarn_rt_call *call, const zygote *z)
{
    json_t *req = json_pack("{s:s}", "op", "fork");
    add_policy(req, s, call, z);
    if (z->lent && s->environ) json_object_set(req, "environ", s->environ);
    return req;
}

/* The key of a worker forked by request REQ from zygote Z, which a later
 * call must match to use it (workers forked ahead). */
static char *fork_key(const json_t *req)
{
    return json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Forks a worker from CALL's zygote serving CALL_SOCK with OUT_FD as its
 * stdout and stderr; *pid is the worker's; *key (when KEY is not NULL) the
 * request's key (fork_key) and *zi its zygote's index. */
static int fork_worker(pid_t *pid, char **key, size_t *zi, tarn_rt_session *s,
                       const tarn_rt_call *call, int call_sock, int out_fd, tarn_error *err)
{
    pthread_mutex_lock(&s->mu);
    zygote *z = zygote_for(s, call->env);
    json_t *req = fork_request(s, call, z);
    if (key) {
        *key = fork_key(req);
        *zi = (size_t)(z - s->zy);
    }
    json_object_set_new(req, "label", json_string(call->model));
    int fds[3] = {call_sock, out_fd, out_fd};
    json_t *reply = NULL;
    int rc = zygote_ask(&reply, s, z, req, fds, 3, err);
    if (rc < 0 && !z->pid) rc = zygote_ask(&reply, s, z, req, fds, 3, err); /* it died: once more */
    if (rc == 0) *pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
    json_decref(req);
    json_decref(reply);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The index in s->zy of ENV's zygote (added if new). */
static size_t zygote_index(tarn_rt_session *s, const tarn_rt_env *env)
{
    pthread_mutex_lock(&s->mu);
    size_t i = (size_t)(zygote_for(s, env) - s->zy);
    pthread_mutex_unlock(&s->mu);
    return i;
}

/* How worker PID of the zygote at index ZI ended: {"exitcode": N|null,
 * "signal": S|null}, or NULL when its zygote is gone. */
static json_t *wait_worker(tarn_rt_session *s, size_t zi, pid_t pid)
{
    pthread_mutex_lock(&s->mu);
    zygote *z = &s->zy[zi];
    json_t *req = json_pack("{s:s,s:i,s:i}", "op", "wait", "pid", (int)pid, "timeout", 60);
    json_t *reply = NULL;
    if (z->pid) zygote_ask(&reply, s, z, req, NULL, 0, NULL);
    json_decref(req);
    pthread_mutex_unlock(&s->mu);
    return reply;
}

/* Reads pipes A and B to their end, into OA and OB. */
static void read_both(strbuf *oa, strbuf *ob, int a, int b)
{
    struct pollfd pfd[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    strbuf *into[2] = {oa, ob};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (pfd[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            ssize_t n = read(pfd[k].fd, buf, sizeof buf);
            if (n > 0)
                sb_appendn(into[k], buf, (size_t)n);
            else if (n == 0 || errno != EINTR)
                pfd[k].fd = -1;
        }
    }
}

int tarn__rt_discover(char **out, char **errout, int *status, tarn_rt_session *s,
                      char *const *files, size_t n, char *const *env, tarn_error *err)
{
    *out = *errout = NULL;
    *status = 0;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0) return tarn__error_set(err, TARN_EIO, "pipe: %s", strerror(errno));
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]), close(po[1]);
        return tarn__error_set(err, TARN_EIO, "pipe: %s", strerror(errno));
    }
    json_t *req = json_pack("{s:s,s:[],s:{}}", "op", "discover", "files", "env");
    for (size_t i = 0; i < n; i++)
        json_array_append_new(json_object_get(req, "files"), json_string(files[i]));
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        json_object_set_new(json_object_get(req, "env"), name, json_string(eq + 1));
    }
    int fds[2] = {po[1], pe[1]};
    json_t *reply = NULL;
    pthread_mutex_lock(&s->mu);
    zygote *z = zygote_for(s, NULL);
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (z->lent && s->environ) json_object_set(req, "environ", s->environ);
        else json_object_del(req, "environ");
        rc = zygote_ask(&reply, s, z, req, fds, 2, err);
        if (rc == 0 || z->pid) break; /* a parent that died is started once more */
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(req);
    close(po[1]);
    close(pe[1]);
    strbuf o = {0}, e = {0};
    if (rc == 0) read_both(&o, &e, po[0], pe[0]);
    close(po[0]);
    close(pe[0]);
    if (rc == 0) {
        pid_t pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
        json_t *end = wait_worker(s, zygote_index(s, NULL), pid);
        json_t *code = json_object_get(end, "exitcode"), *sig = json_object_get(end, "signal");
        if (!end)
            rc = tarn__error_set(err, TARN_EIO, "the Python worker's parent died");
        else if (json_is_integer(sig))
            *status = (int)json_integer_value(sig) & 0x7f;
        else
            *status = ((int)json_integer_value(code) & 0xff) << 8;
        json_decref(end);
    }
    json_decref(reply);
    *out = o.s ? o.s : strdup("");
    *errout = e.s ? e.s : strdup("");
    if (rc < 0) {
        free(*out), free(*errout);
        *out = *errout = NULL;
    }
    return rc;
}

void tarn__rt_close(tarn_rt_session **sp)
{
    if (!sp || !*sp) return;
    tarn_rt_session *s = *sp;
    tarn_error ignored = TARN_ERROR_INIT;
    tarn__rt_settle(s, &ignored); /* a run that failed before settling */
    tarn_error_clear(&ignored);
    drop_spares(s);
    for (size_t i = 0; i < s->nzy; i++) {
        stop_zygote(s, &s->zy[i]);
        free(s->zy[i].python);
        json_decref(s->zy[i].paths);
    }
    free(s->zy);
    for (size_t i = 0; i < s->n; i++) {
        tarn_arrow_duckdb_view_free(&s->items[i].view);
        tarn_arrow_table_free(&s->items[i].table);
        if (s->items[i].fd >= 0) close(s->items[i].fd);
    }
    free(s->items);
    if (s->warm >= 0) close(s->warm);
    json_decref(s->environ);
    free(s->live);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->live_mu);
    pthread_mutex_destroy(&s->maker_mu);
    free(s);
    *sp = NULL;
}

/* ---- cancelling: the workers that run now ---------------------------------------- */

static int live_cancelled(tarn_rt_session *s)
{
    pthread_mutex_lock(&s->live_mu);
    int c = s->cancelled;
    pthread_mutex_unlock(&s->live_mu);
    return c;
}

/* A worker that started as the job was cancelled is stopped at once. */
static void live_add(tarn_rt_session *s, pid_t pid)
{
    pthread_mutex_lock(&s->live_mu);
    if (s->cancelled) kill(pid, SIGTERM);
    if (tarn__reserve(&s->live, &s->live_cap, s->nlive + 1, sizeof *s->live) == 0)
        s->live[s->nlive++] = pid;
    pthread_mutex_unlock(&s->live_mu);
}

static void live_remove(tarn_rt_session *s, pid_t pid)
{
    pthread_mutex_lock(&s->live_mu);
    for (size_t i = 0; i < s->nlive; i++)
        if (s->live[i] == pid) {
            s->live[i] = s->live[--s->nlive];
            break;
        }
    pthread_mutex_unlock(&s->live_mu);
}

void tarn__rt_cancel(tarn_rt_session *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->live_mu);
    s->cancelled = 1;
    /* SIGTERM to a worker's supervisor: it kills the task and everything
     * the task started, then reports the call as cancelled
     * (python/tarn/confine.py). */
    for (size_t i = 0; i < s->nlive; i++) kill(s->live[i], SIGTERM);
    pthread_mutex_unlock(&s->live_mu);
}

/* What one call's output lines go through. */
typedef struct output {
    const char *model, *file; /* of the call: label its lines */
    strbuf tail; /* the last lines: a crash's own words explain it */
    void (*on_line)(const char *, void *);
    void *ctx;
    tarn_lines lines;
    int sock, pipe_fd; /* -1 once at their end */
} output;

/* One line the function printed: "LINE<TAB>text", or raw interpreter output. */
static void forward_line(const char *line, void *ctx)
{
    output *o = ctx;
    const char *tab = strchr(line, '\t');
    int numbered = tab && tab > line && strspn(line, "0123456789") == (size_t)(tab - line);
    const char *base = strrchr(o->file, '/');
    base = base ? base + 1 : o->file;
    strbuf out = {0};
    if (numbered)
        sb_printf(&out, "%s @ %s:%.*s | %s", o->model, base, (int)(tab - line), line, tab + 1);
    else
        sb_printf(&out, "%s @ %s | %s", o->model, base, line);
    sb_printf(&o->tail, "%s\n", numbered ? tab + 1 : line);
    if (o->tail.len > 4000) {
        memmove(o->tail.s, o->tail.s + o->tail.len - 2000, 2000);
        o->tail.len = 2000;
        o->tail.s[o->tail.len] = 0;
    }
    if (o->on_line) o->on_line(sb_str(&out), o->ctx);
    sb_free(&out);
}

/* Appends TEXT to B keeping at most BUDGET bytes of it: its end, from a
 * line start, after a note of what was left out. A traceback's last line
 * names the exception: it is the part worth keeping. */
static void append_end(strbuf *b, const char *text, size_t budget)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        n--;
    if (n <= budget) {
        sb_appendn(b, text, n);
        return;
    }
    const char *from = text + n - budget + 64;
    const char *nl = memchr(from, '\n', (size_t)(text + n - from));
    if (nl && nl + 1 < text + n) from = nl + 1;
    size_t lines = 0;
    for (const char *p = text; p < from; p++)
        lines += *p == '\n';
    sb_printf(b, "... (%zu earlier lines not shown here; the job's log has them all)\n", lines);
    sb_appendn(b, from, (size_t)(text + n - from));
}

/* Reads the reply, the supervisor's "end" and the output lines until the
 * worker and everything it started are gone, or, with UNTIL_REPLY, only
 * until a reply is in (and the lines already written before it: the
 * worker flushes its output before it replies). *doc: the reply (NULL if
 * none), *end: the supervisor's account (NULL if none), *result_fd: the
 * reply's memfd (-1 if none). */
static void collect(json_t **doc, json_t **end, int *result_fd, output *o, int until_reply)
{
    struct pollfd pfd[2] = {{o->sock, POLLIN, 0}, {o->pipe_fd, POLLIN, 0}};
    int draining = 0;
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (until_reply && *doc && !draining) {
            /* one more look at the output, without waiting */
            draining = 1;
            pfd[0].fd = -1;
        }
        if (draining && draining++ > 64) break; /* the rest comes later */
        int n = poll(pfd, 2, draining ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (n == 0) break; /* drained */
        if (pfd[0].fd >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            json_t *msg = NULL;
            int fd = -1;
            if (recv_packet(&msg, &fd, o->sock, NULL) != 0) {
                pfd[0].fd = o->sock = -1; /* end of file: the worker is gone */
            } else if (json_is_string(json_object_get(msg, "op")) &&
                       !strcmp(json_string_value(json_object_get(msg, "op")), "end")) {
                if (!*end) *end = json_incref(msg);
            } else if (!*doc) {
                *doc = json_incref(msg);
                *result_fd = fd;
                fd = -1;
            }
            if (fd >= 0) close(fd);
            json_decref(msg);
        }
        if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[65536];
            ssize_t got = read(o->pipe_fd, buf, sizeof buf);
            if (got > 0)
                tarn__lines_feed(&o->lines, buf, (size_t)got);
            else if (got == 0 || errno != EINTR)
                pfd[1].fd = o->pipe_fd = -1;
        }
    }
}

static const char *text_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The error of a call that returned no usable result, told as what
 * happened: a refusal, a limit, the function's traceback, a crash. */
static int call_error(tarn_rt_session *s, const tarn_rt_call *call, json_t *doc, json_t *end,
                      json_t *status, output *o, tarn_error *err)
{
    /* What fits in the run's message around "model 'x' (FILE:LINE) failed: ". */
    size_t budget = TARN_MESSAGE_MAX - 1 - strlen(call->model) - strlen(call->file) - 200;
    if (budget > TARN_MESSAGE_MAX || budget < 200) budget = 200;
    strbuf m = {0};
    const char *tail = sb_str(&o->tail);
    int rc = TARN_EUSER;
    json_t *sig = end ? json_object_get(end, "signal") : json_object_get(status, "signal");
    if (end && text_of(end, "refused")) {
        sb_printf(&m, "model '%s' was not run: %s", call->model, text_of(end, "refused"));
        rc = TARN_EINVALID;
    } else if ((end && json_is_true(json_object_get(end, "cancelled"))) || live_cancelled(s)) {
        sb_printf(&m, "model '%s' was stopped: the job was cancelled", call->model);
        rc = TARN_EABORTED;
    } else if (end && json_is_true(json_object_get(end, "timed_out"))) {
        if (*tail) append_end(&m, tail, budget / 2), sb_append(&m, "\n");
        sb_printf(
            &m,
            "model '%s' exceeded its time limit (%g s); it and every process it started were "
            "stopped: raise it with @tarn.resources(timeout=...) or run.timeout_s in .tarn/config",
            call->model, json_number_value(json_object_get(end, "timeout")));
    } else if (doc && text_of(doc, "kind") && !strcmp(text_of(doc, "kind"), "memory")) {
        const char *tb = text_of(doc, "traceback");
        if (tb && *tb) append_end(&m, tb, budget / 2), sb_append(&m, "\n");
        sb_printf(&m,
                  "model '%s' exceeded its memory limit (%lld MiB): raise it with "
                  "@tarn.resources(memory=...) or run.memory_limit_mb in .tarn/config",
                  call->model,
                  (long long)(json_integer_value(json_object_get(doc, "limit")) >> 20));
    } else if (doc) {
        const char *tb = text_of(doc, "traceback"), *msg = text_of(doc, "error");
        const char *text = tb && *tb ? tb : msg ? msg : "the function failed";
        if (strlen(text) > budget) {
            /* The whole traceback goes to the log; the message keeps its end. */
            strbuf line = {0};
            for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                line.len = 0;
                sb_appendn(&line, p, len);
                forward_line(sb_str(&line), o);
                p += len + (p[len] == '\n');
            }
            sb_free(&line);
        }
        append_end(&m, text, budget);
    } else if (!end && status) {
        if (json_is_integer(sig))
            sb_printf(&m, "the process supervising model '%s' was killed by signal %d (%s)",
                      call->model, (int)json_integer_value(sig),
                      strsignal((int)json_integer_value(sig)));
        else
            sb_printf(&m, "the process supervising model '%s' exited with status %lld", call->model,
                      (long long)json_integer_value(json_object_get(status, "exitcode")));
        sb_append(&m, " before it could report how the model ended (the model may have killed it)");
        if (*tail) sb_append(&m, ":\n"), append_end(&m, tail, budget);
    } else if (json_is_integer(sig)) {
        int sg = (int)json_integer_value(sig);
        sb_printf(&m, "the Python process was killed by signal %d (%s)", sg, strsignal(sg));
        if (*tail) sb_append(&m, ":\n"), append_end(&m, tail, budget);
    } else if (end) {
        sb_printf(&m, "the Python process exited with status %lld before returning a result",
                  (long long)json_integer_value(json_object_get(end, "exitcode")));
        if (*tail) sb_append(&m, ":\n"), append_end(&m, tail, budget);
    } else {
        /* No account at all: the zygote itself is gone. */
        sb_printf(&m,
                  "the Python worker's parent process died while model '%s' ran, so how the "
                  "model ended is unknown (it may have killed it)",
                  call->model);
        if (*tail) sb_append(&m, ":\n"), append_end(&m, tail, budget);
    }
    tarn__error_set(err, rc, "%s", sb_str(&m));
    sb_free(&m);
    return rc;
}

/* ---- workers forked ahead ----------------------------------------------------------- */

/* A worker forked while an earlier call ran, for the next call of the
 * same policy: it is confined and waiting for its call when that comes,
 * which then skips the forks and the confinement (most of a small
 * call's cost). Its time limit runs from its fork, so it serves only
 * while that has used at most 1% of it. */
typedef struct spare {
    struct spare *next;
    size_t zygote; /* its index in s->zy */
    pid_t pid;
    int sock, pipe_fd;
    char *key;       /* its fork request (JSON, keys sorted) */
    int64_t born_us; /* forked then */
    double timeout;  /* its time limit in seconds, 0 for none */
} spare;

/* The key CALL's worker would be forked with (under s->mu). */
static char *spare_key(tarn_rt_session *s, const tarn_rt_call *call, size_t *zi)
{
    zygote *z = zygote_for(s, call->env);
    *zi = (size_t)(z - s->zy);
    json_t *req = fork_request(s, call, z);
    char *key = fork_key(req);
    json_decref(req);
    return key;
}

/* Lets SP go: its worker sees its call socket close and ends; its zygote
 * reaps it later (no one waits here). Under s->mu. */
static void drop_spare(tarn_rt_session *s, spare *sp)
{
    close(sp->sock);
    close(sp->pipe_fd);
    zygote *z = &s->zy[sp->zygote];
    json_t *req = json_pack("{s:s,s:i}", "op", "abandon", "pid", (int)sp->pid), *reply = NULL;
    if (z->pid) zygote_ask(&reply, s, z, req, NULL, 0, NULL);
    json_decref(req);
    json_decref(reply);
    free(sp->key);
    free(sp);
}

static void drop_spares(tarn_rt_session *s)
{
    ahead_wait(s);
    pthread_mutex_lock(&s->mu);
    while (s->spares) {
        spare *sp = s->spares;
        s->spares = sp->next;
        drop_spare(s, sp);
    }
    pthread_mutex_unlock(&s->mu);
}

/* What make_spare needs of a call, owned: it runs on a thread of its own. */
typedef struct ahead {
    tarn_rt_session *s;
    tarn_rt_call call;
    tarn_rt_env env;
} ahead;

static void *make_ahead(void *arg)
{
    ahead *a = arg;
    make_spare(a->s, &a->call);
    free((char *)a->call.file);
    free((char *)a->call.model);
    json_decref(a->call.resources);
    free((char *)a->env.id);
    free((char *)a->env.python);
    json_decref(a->env.paths);
    free(a);
    return NULL;
}

/* Waits for the worker being forked ahead, if any. */
static void ahead_wait(tarn_rt_session *s)
{
    pthread_mutex_lock(&s->maker_mu);
    if (s->maker_running) pthread_join(s->maker, NULL);
    s->maker_running = 0;
    pthread_mutex_unlock(&s->maker_mu);
}

/* Forks a worker for a later call like CALL on a thread of its own: the
 * caller goes on (a fork of a warm parent takes milliseconds). */
static void fork_ahead(tarn_rt_session *s, const tarn_rt_call *call)
{
    ahead *a = calloc(1, sizeof *a);
    if (!a) return;
    a->s = s;
    a->call.file = strdup(call->file ? call->file : "");
    a->call.model = strdup(call->model ? call->model : "");
    a->call.resources = json_incref(call->resources);
    a->call.internet = call->internet;
    if (call->env) {
        a->env.id = call->env->id ? strdup(call->env->id) : NULL;
        a->env.python = call->env->python ? strdup(call->env->python) : NULL;
        a->env.paths = json_incref(call->env->paths);
        a->call.env = &a->env;
    }
    pthread_mutex_lock(&s->maker_mu);
    if (s->maker_running) pthread_join(s->maker, NULL); /* one at a time */
    s->maker_running = pthread_create(&s->maker, NULL, make_ahead, a) == 0;
    pthread_mutex_unlock(&s->maker_mu);
    if (!s->maker_running) make_ahead(a);
}

int tarn__rt_hot_get(tarn_rt_session *s, const char *key)
{
    if (!s) return -1;
    pthread_mutex_lock(&s->mu); /* the runtime's connection serves one request at a time */
    int fd = tarn__warm_hot_get(s->warm, key);
    pthread_mutex_unlock(&s->mu);
    return fd;
}

void tarn__rt_hot_put(tarn_rt_session *s, const char *key, int fd)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    tarn__warm_hot_put(s->warm, key, fd);
    pthread_mutex_unlock(&s->mu);
}

void tarn__rt_prefork(tarn_rt_session *s, const tarn_rt_call *call)
{
    if (s && call && !live_cancelled(s)) fork_ahead(s, call);
}

/* Forks a worker for a later call like CALL. Failures only mean none. */
static void make_spare(tarn_rt_session *s, const tarn_rt_call *call)
{
    int sv[2], pipefd[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        close(sv[0]), close(sv[1]);
        return;
    }
    pid_t pid = 0;
    char *key = NULL;
    size_t zi = 0;
    tarn_error ignored = TARN_ERROR_INIT;
    int rc = fork_worker(&pid, &key, &zi, s, call, sv[1], pipefd[1], &ignored);
    tarn_error_clear(&ignored);
    close(sv[1]);
    close(pipefd[1]);
    spare *sp = rc == 0 && key ? calloc(1, sizeof *sp) : NULL;
    if (!sp) {
        free(key);
        close(sv[0]);
        close(pipefd[0]);
        return; /* a forked worker without its spare ends as its socket closes */
    }
    sp->key = key;
    sp->zygote = zi;
    sp->pid = pid;
    sp->sock = sv[0];
    sp->pipe_fd = pipefd[0];
    sp->born_us = tarn__now_us();
    sp->timeout = declared(call, "timeout_s", s->defaults.timeout_s);
    pthread_mutex_lock(&s->mu);
    sp->next = s->spares;
    s->spares = sp;
    pthread_mutex_unlock(&s->mu);
}

/* A worker forked ahead for CALL, alive and young enough: 1 with its pid
 * and descriptors, else 0. */
static int take_spare(tarn_rt_session *s, const tarn_rt_call *call, pid_t *pid, int *sock,
                      int *pipe_fd)
{
    ahead_wait(s); /* one being forked is nearly there */
    pthread_mutex_lock(&s->mu);
    size_t zi;
    char *key = s->spares ? spare_key(s, call, &zi) : NULL;
    spare *found = NULL;
    for (spare **pp = &s->spares; key && *pp; pp = &(*pp)->next)
        if ((*pp)->zygote == zi && !strcmp((*pp)->key, key)) {
            found = *pp;
            *pp = found->next;
            break;
        }
    free(key);
    int usable = 0;
    if (found) {
        struct pollfd p = {found->sock, POLLIN, 0}; /* nothing to read, no hang-up: waiting */
        double age_s = (double)(tarn__now_us() - found->born_us) / 1e6;
        usable = (found->timeout <= 0 || age_s <= found->timeout / 100) && poll(&p, 1, 0) == 0;
        if (!usable) drop_spare(s, found);
    }
    pthread_mutex_unlock(&s->mu);
    if (!usable) return 0;
    *pid = found->pid;
    *sock = found->sock;
    *pipe_fd = found->pipe_fd;
    free(found->key);
    free(found);
    return 1;
}

/* A call whose reply is in, still ending (see tarn__rt_call). */
typedef struct finisher {
    struct finisher *next;
    pthread_t thread;
    tarn_rt_session *s;
    size_t zygote; /* its index in s->zy */
    pid_t pid;
    int sock, pipe_fd;
    char *model;
    output *o;
    json_t *end;    /* the supervisor's account, once in */
    json_t *status; /* how the supervisor itself ended */
} finisher;

static void *finish(void *arg)
{
    finisher *f = arg;
    json_t *seen = json_null(); /* the reply: taken already */
    int fd = -1;
    collect(&seen, &f->end, &fd, f->o, 0);
    if (fd >= 0) close(fd);
    tarn__lines_finish(&f->o->lines);
    close(f->sock);
    close(f->pipe_fd);
    live_remove(f->s, f->pid); /* before its zygote reaps it: the pid is never another's */
    f->status = wait_worker(f->s, f->zygote, f->pid);
    return NULL;
}

static int finish_later(tarn_rt_session *s, size_t zi, pid_t pid, int sock, int pipe_fd, output *o)
{
    finisher *f = calloc(1, sizeof *f);
    if (!f) return -1;
    const char *model = o->model, *file = o->file;
    *f = (finisher){NULL, 0, s, zi, pid, sock, pipe_fd, strdup(model), o, NULL, NULL};
    /* the output's labels outlive the call */
    char *file_copy = strdup(file);
    o->model = f->model;
    o->file = file_copy;
    if (!f->model || !file_copy || pthread_create(&f->thread, NULL, finish, f) != 0) {
        o->model = model; /* the caller's again */
        o->file = file;
        free(f->model);
        free(file_copy);
        free(f);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    f->next = s->finishing;
    s->finishing = f;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int tarn__rt_settle(tarn_rt_session *s, tarn_error *err)
{
    pthread_mutex_lock(&s->mu);
    finisher *list = s->finishing;
    s->finishing = NULL;
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    for (finisher *f = list, *next; f; f = next) {
        next = f->next;
        pthread_join(f->thread, NULL);
        /* without the supervisor's account nothing vouches that the model
         * and what it started are gone: told as a call that failed so */
        tarn_rt_call call = {0};
        call.file = f->o->file;
        call.model = f->model;
        if (!f->end && rc == 0) rc = call_error(s, &call, NULL, NULL, f->status, f->o, err);
        json_decref(f->end);
        json_decref(f->status);
        sb_free(&f->o->tail);
        free((char *)f->o->file);
        free(f->o);
        free(f->model);
        free(f);
    }
    return rc;
}

int tarn__rt_call(int64_t *rows, int *verdict, tarn_rt_session *s, tarn_duck *d,
                  const tarn_rt_call *call, void (*on_line)(const char *, void *), void *ctx,
                  tarn_error *err)
{
    *rows = -1;
    *verdict = -1;
    int sv[2] = {-1, -1}, pipefd[2] = {-1, -1};
    pid_t pid = 0;
    if (live_cancelled(s))
        return tarn__error_set(err, TARN_EABORTED,
                               "model '%s' was not started: the job was cancelled", call->model);
    if (!take_spare(s, call, &pid, &sv[0], &pipefd[0])) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
            return tarn__error_set(err, TARN_EIO, "socketpair: %s", strerror(errno));
        if (pipe2(pipefd, O_CLOEXEC) != 0) {
            close(sv[0]), close(sv[1]);
            return tarn__error_set(err, TARN_EIO, "pipe: %s", strerror(errno));
        }
        int rc = fork_worker(&pid, NULL, NULL, s, call, sv[1], pipefd[1], err);
        close(sv[1]);
        close(pipefd[1]);
        if (rc < 0) {
            close(sv[0]);
            close(pipefd[0]);
            return rc;
        }
    }
    int rc = 0;
    live_add(s, pid);

    json_t *req = json_pack("{s:s,s:s,s:s,s:[],s:{},s:o,s:b,s:s}", "op", "call", "module",
                            call->file, "function", call->function, "inputs", "select", "params",
                            call->params ? json_incref(call->params) : json_object(), "expectation",
                            call->expectation, "label_lines", call->file);
    if (call->columns) json_object_set(req, "columns", call->columns);
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
    int sent = send_packet(sv[0], req, fds, call->ninputs, err);
    json_decref(req);
    free(fds);
    /* while this call runs, the next one's worker gets ready */
    if (sent == 0 && call->ahead && !live_cancelled(s)) fork_ahead(s, call);

    json_t *doc = NULL, *end = NULL, *status = NULL;
    int result_fd = -1;
    size_t zi = zygote_index(s, call->env);
    output *o = calloc(1, sizeof *o);
    if (!o) {
        close(sv[0]);
        close(pipefd[0]);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    *o = (output){.model = call->model,
                  .file = call->file,
                  .on_line = on_line,
                  .ctx = ctx,
                  .sock = sv[0],
                  .pipe_fd = pipefd[0]};
    tarn__lines_init(&o->lines, LINE_MAX_BYTES, forward_line, o);
    /* A usable reply is the call's work done: its processes end, and the
     * supervisor gives its account, on a thread of their own while the run
     * goes on (tarn__rt_settle awaits them before the run commits). */
    collect(&doc, &end, &result_fd, o, sent == 0);
    int usable = sent == 0 && doc && json_is_true(json_object_get(doc, "ok")) &&
                 (call->expectation || result_fd >= 0);
    int handed = usable && (o->sock >= 0 || o->pipe_fd >= 0) &&
                 finish_later(s, zi, pid, sv[0], pipefd[0], o) == 0;
    if (!handed) {
        collect(&doc, &end, &result_fd, o, 0);
        tarn__lines_finish(&o->lines);
        close(sv[0]);
        close(pipefd[0]);
        live_remove(s, pid); /* before its zygote reaps it: the pid is never another's */
        status = wait_worker(s, zi, pid);
    }

    if (!handed && sent < 0 && !end) {
        rc = sent; /* the request never arrived; err says why */
    } else if (!handed && (!end || !doc || !json_is_true(json_object_get(doc, "ok")) ||
                           text_of(end, "refused") ||
                           (json_is_true(json_object_get(end, "timed_out")) && result_fd < 0 &&
                            !call->expectation))) {
        /* Without the supervisor's account nothing vouches that the model
         * and what it started are gone: never a success. */
        rc = call_error(s, call, doc && !json_is_true(json_object_get(doc, "ok")) ? doc : NULL, end,
                        status, o, err);
    } else if (call->expectation) {
        *verdict = json_is_true(json_object_get(doc, "verdict"));
    } else if (result_fd < 0) {
        rc = tarn__error_set(err, TARN_EUSER, "the function returned no table");
    } else {
        tarn_arrow_table *t = NULL;
        tarn_arrow_duckdb_view *v = NULL;
        char view[2 * TARN_NAME_MAX + 16];
        rt_view_name(view, sizeof view, call->model);
        rc = tarn_arrow_shm_map(&t, result_fd, err);
        if (rc == 0) rc = tarn_arrow_duckdb_register(&v, d->con, view, t, err);
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
    json_decref(end);
    json_decref(status);
    if (!handed) {
        sb_free(&o->tail);
        free(o);
    }
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
    /* tarn_arrow_duckdb_register names its table function tarn_arrow_VIEW
     * and registers it for the whole database; a temp view is per
     * connection. A model ns.t is a view of schema ns, which every
     * connection sees. */
    char view[2 * TARN_NAME_MAX + 16];
    rt_view_name(view, sizeof view, name);
    const char *dot = strchr(name, '.');
    strbuf q = {0};
    int rc = 0;
    if (dot) {
        char ns[TARN_NAME_MAX + 1];
        snprintf(ns, sizeof ns, "%.*s", (int)(dot - name), name);
        sb_append(&q, "CREATE SCHEMA IF NOT EXISTS ");
        sb_append_sql_ident(&q, ns);
        rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot share a model's output", err);
        q.len = 0;
        sb_append(&q, "CREATE OR REPLACE VIEW ");
        tarn__sql_append_table(&q, name);
    } else {
        sb_append(&q, "CREATE OR REPLACE TEMP VIEW ");
        sb_append_sql_ident(&q, name);
    }
    sb_printf(&q, " AS SELECT * FROM tarn_arrow_%s()", view);
    if (rc == 0) rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot share a model's output", err);
    sb_free(&q);
    return rc;
}
