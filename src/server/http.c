/* server/http.c — the HTTP side of `tarn serve` on libmicrohttpd: a thread
 * per connection (a slow query or upload holds only its own), bounded
 * connections and an idle timeout (a slow or silent client is dropped),
 * bodies bounded before they are read (JSON in memory, uploads spilled to
 * files), answers as JSON or streams, one log line per request (user,
 * method, route, status, duration; never a token), and a graceful stop on
 * SIGTERM: no new connection, in-flight requests finish, runs settle. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- reading a request ------------------------------------------------------ */

const char *srv_param(srv_req *r, const char *name)
{
    for (int i = 0; i < SRV_MAX_PARAMS && r->pnames[i]; i++)
        if (strcmp(r->pnames[i], name) == 0) return r->pvals[i];
    return NULL;
}

const char *srv_arg(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_body_str(srv_req *r, const char *key)
{
    const char *v = json_string_value(json_object_get(r->json, key));
    return v ? v : srv_arg(r, key);
}

tarn_commit_options srv_commit_options(srv_req *r)
{
    tarn_commit_options co = TARN_COMMIT_OPTIONS_INIT;
    const char **fields[] = {&co.message, &co.body, &co.properties_json};
    const char *keys[] = {"message", "body", "properties"};
    for (int i = 0; i < 3; i++) {
        *fields[i] = srv_body_str(r, keys[i]);
        if (!*fields[i]) *fields[i] = srv_arg(r, keys[i]);
    }
    return co;
}

int srv_int(int64_t *out, srv_req *r, const char *name, int64_t def)
{
    *out = def;
    json_t *v = json_object_get(r->json, name);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (v && !json_is_null(v)) return -1;
    const char *a = srv_arg(r, name);
    if (!a || !*a) return 0;
    char *end;
    errno = 0;
    long long n = strtoll(a, &end, 10);
    if (*end || errno) return -1;
    *out = n;
    return 0;
}

int srv_flag(srv_req *r, const char *name)
{
    json_t *v = json_object_get(r->json, name);
    if (v) return json_is_true(v);
    const char *a = srv_arg(r, name);
    return a && (strcmp(a, "1") == 0 || strcmp(a, "true") == 0 || strcmp(a, "yes") == 0 || *a == 0);
}

/* ---- answering ------------------------------------------------------------------ */

static void add_common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static int queue(srv_req *r, int status, struct MHD_Response *resp)
{
    add_common_headers(resp);
    if (r->id[0]) MHD_add_response_header(resp, "X-Tarn-Request", r->id);
    r->answered = 1;
    r->status = status;
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return 0;
}

int srv_reply_json(srv_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(body);
    if (!text) text = strdup("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}");
    size_t len = strlen(text);
    char *full = realloc(text, len + 2);
    if (full) {
        full[len++] = '\n';
        full[len] = 0;
        text = full;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return queue(r, status, resp);
}

int srv_reply_msg(srv_req *r, int status, const char *code, const char *message)
{
    return srv_reply_json(r, status, json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", srv_jstr(message)));
}

static int status_of(int rc)
{
    switch (rc) {
    case TARN_ENOTFOUND: return 404;
    case TARN_EEXISTS:
    case TARN_ECONFLICT:
    case TARN_EABORTED: return 409;
    case TARN_EINVALID:
    case TARN_EAMBIGUOUS: return 400;
    case TARN_EDENIED: return 403;
    case TARN_EUSER: return 422;
    case TARN_ERETRY:
    case TARN_ENOMEM: return 503;
    default: return 500;
    }
}

int srv_reply_error(srv_req *r, int rc, tarn_error *err)
{
    json_t *e = json_pack("{s:s,s:o}", "code", tarn_code_name(rc), "message",
                          srv_jstr(err && err->message[0] ? err->message : tarn_strerror(rc)));
    if (err && err->ntables) {
        json_t *t = json_array();
        for (size_t i = 0; i < err->ntables; i++) json_array_append_new(t, srv_jstr(err->tables[i]));
        json_object_set_new(e, "tables", t);
    }
    if (err) tarn_error_clear(err);
    return srv_reply_json(r, status_of(rc), json_pack("{s:o}", "error", e));
}

int srv_reply_busy(srv_req *r, const char *what)
{
    pthread_mutex_lock(&r->s->metrics.mu);
    r->s->metrics.rejected_busy++;
    pthread_mutex_unlock(&r->s->metrics.mu);
    char msg[256];
    snprintf(msg, sizeof msg, "the server is running as many %s as it takes and its queue is full: try again "
                              "in a few seconds", what);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "busy", "message", msg);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Retry-After", "2");
    return queue(r, 429, resp);
}

typedef struct stream_ctx {
    ssize_t (*read)(void *cls, char *buf, size_t max);
    void *cls;
    void (*free_cls)(void *cls);
    const tarn_error *(*failure)(void *cls);
    srv *s;
    uint64_t bytes;
    char id[33], user[256]; /* the request's, for its failure */
} stream_ctx;

int srv_random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    if (nbytes > sizeof b || getrandom(b, nbytes, 0) != (ssize_t)nbytes) return -1;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* A request's id: 32 hex digits; without randomness, still distinct
 * within this process. */
static void request_id(char out[33])
{
    if (srv_random_hex(out, 16) == 0) return;
    static uint64_t n;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)now_us(),
             (unsigned long long)__atomic_add_fetch(&n, 1, __ATOMIC_RELAXED));
}

/* Keeps why stream SC was cut, for its client to ask. */
static void remember_failure(stream_ctx *sc, const tarn_error *e)
{
    json_t *error = json_pack("{s:s,s:o}", "code", tarn_code_name(e->code), "message",
                              srv_jstr(e->message[0] ? e->message : tarn_strerror(e->code)));
    pthread_mutex_lock(&sc->s->mu);
    srv_failure *f = &sc->s->failures[sc->s->next_failure];
    sc->s->next_failure = (sc->s->next_failure + 1) % SRV_FAILURES;
    json_decref(f->error);
    snprintf(f->id, sizeof f->id, "%s", sc->id);
    snprintf(f->user, sizeof f->user, "%s", sc->user);
    f->error = error;
    pthread_mutex_unlock(&sc->s->mu);
}

/* GET /api/v1/failures/{id}: why the caller's stream ID was cut. */
static int failure_get(srv_req *r)
{
    const char *id = srv_param(r, "id");
    json_t *error = NULL;
    pthread_mutex_lock(&r->s->mu);
    for (int i = 0; i < SRV_FAILURES && !error; i++) {
        srv_failure *f = &r->s->failures[i];
        if (f->error && strcmp(f->id, id) == 0 && strcmp(f->user, r->tok.user) == 0)
            error = json_incref(f->error);
    }
    pthread_mutex_unlock(&r->s->mu);
    if (!error) return srv_reply_msg(r, 404, "not_found", "no failure of yours is known by that id");
    return srv_reply_json(r, 200, json_pack("{s:o}", "error", error));
}

const srv_route srv_api_failures[] = {
    {"GET", "/api/v1/failures/{id}", failure_get, SRV_BODY_NONE, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_ctx *sc = cls;
    ssize_t n = sc->read(sc->cls, buf, max);
    if (n > 0) {
        sc->bytes += (uint64_t)n;
        return n;
    }
    const tarn_error *e = n < 0 && sc->failure ? sc->failure(sc->cls) : NULL;
    if (e && e->code) remember_failure(sc, e);
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    stream_ctx *sc = cls;
    if (sc->free_cls) sc->free_cls(sc->cls);
    pthread_mutex_lock(&sc->s->metrics.mu);
    sc->s->metrics.bytes_out += sc->bytes;
    pthread_mutex_unlock(&sc->s->metrics.mu);
    free(sc);
}

int srv_reply_stream(srv_req *r, int status, const char *type, ssize_t (*read)(void *cls, char *buf, size_t max),
                     void *cls, void (*free_cls)(void *cls))
{
    return srv_reply_stream_why(r, status, type, read, cls, free_cls, NULL);
}

int srv_reply_stream_why(srv_req *r, int status, const char *type,
                         ssize_t (*read)(void *cls, char *buf, size_t max), void *cls,
                         void (*free_cls)(void *cls), const tarn_error *(*failure)(void *cls))
{
    stream_ctx *sc = calloc(1, sizeof *sc);
    if (!sc) {
        if (free_cls) free_cls(cls);
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    }
    sc->read = read;
    sc->cls = cls;
    sc->free_cls = free_cls;
    sc->failure = failure;
    sc->s = r->s;
    snprintf(sc->id, sizeof sc->id, "%s", r->id);
    snprintf(sc->user, sizeof sc->user, "%s", r->tok.user);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, sc,
                                                                  stream_free);
    MHD_add_response_header(resp, "Content-Type", type);
    return queue(r, status, resp);
}

void srv_set_timeout(srv_req *r, unsigned seconds)
{
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
    r->timeout_set = 1;
}

int srv_reply_file(srv_req *r, int status, const char *type, int fd, const char *name,
                   const char *value)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return srv_reply_msg(r, 500, "io", "cannot read back the written result");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    }
    MHD_add_response_header(resp, "Content-Type", type);
    if (name) MHD_add_response_header(resp, name, value);
    pthread_mutex_lock(&r->s->metrics.mu);
    r->s->metrics.bytes_out += (uint64_t)st.st_size;
    pthread_mutex_unlock(&r->s->metrics.mu);
    return queue(r, status, resp);
}

int srv_reply_file_part(srv_req *r, const char *type, int fd, int64_t offset, int64_t len, int64_t total)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)offset);
    if (!resp) {
        close(fd);
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    }
    char range[96];
    snprintf(range, sizeof range, "bytes %lld-%lld/%lld", (long long)offset, (long long)(offset + len - 1),
             (long long)total);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Content-Range", range);
    pthread_mutex_lock(&r->s->metrics.mu);
    r->s->metrics.bytes_out += (uint64_t)len;
    pthread_mutex_unlock(&r->s->metrics.mu);
    return queue(r, 206, resp);
}

/* ---- the request's life ------------------------------------------------------------ */

static void req_free(srv_req *r)
{
    if (r->body_fd >= 0) close(r->body_fd);
    if (r->body_path[0]) unlink(r->body_path);
    for (int i = 0; i < SRV_MAX_PARAMS; i++) {
        free(r->pnames[i]);
        free(r->pvals[i]);
    }
    json_decref(r->json);
    free(r->body);
    free(r->path);
    free(r);
}

/* Body bytes: into memory for JSON, into a scratch file for uploads. */
static int take_body(srv_req *r, const char *data, size_t n)
{
    int64_t limit = r->route->body == SRV_BODY_FILE ? r->s->o.max_upload : r->s->o.max_body;
    if ((int64_t)(r->body_len + n) > limit) {
        r->too_big = 1;
        return -1;
    }
    if (r->route->body == SRV_BODY_FILE) {
        if (r->body_fd < 0) {
            snprintf(r->body_path, sizeof r->body_path, "%s/upload-XXXXXX", r->s->scratch);
            r->body_fd = mkstemp(r->body_path);
            if (r->body_fd < 0) {
                r->body_path[0] = 0;
                return -1;
            }
        }
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(r->body_fd, data + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            off += (size_t)w;
        }
        r->body_len += n;
        return 0;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return -1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return 0;
}

static void too_big_message(srv_req *r)
{
    char msg[256];
    int64_t limit = r->route && r->route->body == SRV_BODY_FILE ? r->s->o.max_upload : r->s->o.max_body;
    snprintf(msg, sizeof msg, "the request body is larger than this server takes (%lld bytes): send less",
             (long long)limit);
    srv_reply_msg(r, 413, "too_large", msg);
}

/* Runs once the whole body is in. */
static void dispatch(srv_req *r)
{
    if (r->too_big) {
        too_big_message(r);
        return;
    }
    if (r->route->body == SRV_BODY_JSON && r->body_len) {
        json_error_t je;
        r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!r->json || !json_is_object(r->json)) {
            char msg[300];
            snprintf(msg, sizeof msg, "the body is not a JSON object%s%s: send one, as the API describes",
                     r->json ? "" : ": ", r->json ? "" : je.text);
            srv_reply_msg(r, 400, "invalid", msg);
            return;
        }
    }
    if (r->body_fd >= 0) lseek(r->body_fd, 0, SEEK_SET);
    /* The client waits while its request is worked on (an import, a
     * merge): that is not idling. Afterwards the idle timeout is back,
     * unless the handler set the one its streamed answer needs. */
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    r->route->fn(r);
    if (!r->timeout_set)
        MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)r->s->o.connection_timeout_s);
    if (!r->answered) srv_reply_msg(r, 500, "io", "the server gave no answer");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->s = s;
        r->conn = conn;
        r->method = method;
        r->body_fd = -1;
        r->start_us = now_us();
        request_id(r->id);
        r->path = strdup(url);
        snprintf(r->user, sizeof r->user, "-");
        *con_cls = r;
        pthread_mutex_lock(&s->mu);
        s->in_flight++;
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stopping) {
            srv_reply_msg(r, 503, "stopping", "the server is shutting down: try again shortly");
            return MHD_YES;
        }
        int status = 404;
        r->route = r->path ? srv_route_find(r, method, r->path, &status) : NULL;
        if (!r->route) {
            if (status == 405) srv_reply_msg(r, 405, "invalid", "this route does not take that method (see /api/v1/openapi.yaml)");
            else srv_reply_msg(r, 404, "not_found", "no such route (the API lives under /api/v1/: see docs/api.md)");
            return MHD_YES;
        }
        if (r->route->right != SRV_PUBLIC && srv_authenticate(r) < 0) return MHD_YES;
        if (r->route->right == SRV_ADMIN && srv_need_admin(r) < 0) return MHD_YES;
        const char *len = srv_header(r, "Content-Length");
        int64_t limit = r->route->body == SRV_BODY_FILE ? s->o.max_upload : s->o.max_body;
        if (len && strtoll(len, NULL, 10) > limit) {
            too_big_message(r);
            return MHD_YES;
        }
        return MHD_YES;
    }
    if (r->answered) {
        /* An answer went out early (401, 413, ...): the rest is ignored. */
        *data_size = 0;
        return MHD_YES;
    }
    if (*data_size) {
        if (r->route->body == SRV_BODY_NONE) {
            r->too_big = 1;
        } else if (!r->too_big && take_body(r, data, *data_size) < 0 && !r->too_big) {
            *data_size = 0;
            return MHD_NO;
        }
        *data_size = 0;
        /* A body past the limit without a Content-Length: cut it off. */
        if (r->too_big && r->route->body != SRV_BODY_NONE) return MHD_NO;
        return MHD_YES;
    }
    if (r->too_big && r->route->body == SRV_BODY_NONE) {
        srv_reply_msg(r, 400, "invalid", "this route takes no request body");
        return MHD_YES;
    }
    dispatch(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r) return;
    double secs = (double)(now_us() - r->start_us) / 1e6;
    int status = r->answered ? r->status : 0;
    srv_metrics_record(&s->metrics, status, secs, 0);
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The path may hold names a client sent: printed only up to a length
     * and with control characters replaced, so a log line stays a line. */
    char path[256];
    size_t i = 0;
    for (const char *p = r->path ? r->path : "?"; *p && i < sizeof path - 1; p++)
        path[i++] = (unsigned char)*p < 0x20 || *p == 0x7f || *p == ' ' ? '?' : *p;
    path[i] = 0;
    fprintf(stderr, "%s user=%s %s %s route=%s status=%d duration_ms=%.1f%s\n", when, r->user, r->method, path,
            r->route ? r->route->pattern : "-", status, secs * 1000,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    req_free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* ---- running ------------------------------------------------------------------------- */

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    char c = (char)sig;
    if (write(stop_pipe[1], &c, 1) < 0) {
        /* nothing to do: the pipe is full, a stop is already pending */
    }
}

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (1 << 20) ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

int srv_main(const srv_options *o)
{
    srv *s = calloc(1, sizeof *s);
    if (!s) return 1;
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->metrics.mu, NULL);
    srv_gate_init(&s->queries, o->max_queries, o->queue);
    srv_gate_init(&s->runs, o->max_runs, o->queue);
    srv_runs_init(s);
    snprintf(s->scratch, sizeof s->scratch, "%s/server", o->lake_dir);
    mkdir(s->scratch, 0700);
    int rc = 1;
    char *cert = NULL, *key = NULL;

    /* One connection to the catalog proves the lakehouse opens before a
     * port is taken, and its settlement runs once now. */
    tarn_lake *probe = NULL;
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_lake_open_path(&probe, o->lake_dir, &err) < 0) {
        fprintf(stderr, "tarn: error: %s\n", err.message);
        goto done;
    }
    srv_lake_put(s, probe);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1) {
        fprintf(stderr, "tarn: error: cannot listen on '%s': give an IPv4 address such as 127.0.0.1 or 0.0.0.0\n",
                o->host);
        goto done;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (o->tls_cert) {
        cert = read_pem(o->tls_cert);
        key = read_pem(o->tls_key);
        if (!cert || !key) {
            fprintf(stderr, "tarn: error: cannot read the TLS %s '%s' (a PEM file)\n", cert ? "key" : "certificate",
                    cert ? o->tls_key : o->tls_cert);
            goto done;
        }
        flags |= MHD_USE_TLS;
    }
    if (pipe(stop_pipe) != 0) goto done;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s->daemon = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)o->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, 256,
        cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "tarn: error: cannot listen on %s:%d (in use, or not an address of this host)\n", o->host,
                o->port);
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : o->port;
    fprintf(stderr, "tarn serve: listening on %s://%s:%d (lakehouse %s)\n", cert ? "https" : "http", o->host, port,
            o->lake_dir);
    if (o->port_file) {
        char tmp[4200], text[32];
        snprintf(tmp, sizeof tmp, "%s.tmp", o->port_file);
        snprintf(text, sizeof text, "%d\n", port);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
            rename(tmp, o->port_file);
        }
    }
    char c;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    fprintf(stderr, "tarn serve: stopping: finishing requests in flight and settling runs\n");
    /* No new connection from here; requests in flight finish. */
    MHD_socket ls = MHD_quiesce_daemon(s->daemon);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    srv_runs_stop(s);
    pthread_mutex_lock(&s->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += o->connection_timeout_s + 5;
    while (s->in_flight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->daemon);
    fprintf(stderr, "tarn serve: stopped\n");
    rc = 0;
done:
    srv_lakes_close(s);
    free(cert);
    free(key);
    free(s);
    return rc;
}
