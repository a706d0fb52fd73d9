/* remote/http.c — requests to a `tarn serve` over libcurl.
 *
 * One easy handle per lake handle keeps its connection alive between
 * calls. Every request carries the bearer token; an answer of 429 (the
 * server's queue is full) is retried after its Retry-After, for at most a
 * minute, since nothing changed on the server; any other failure answer
 * becomes the tarn code and message the server sent, so that a caller sees
 * exactly what a local call would have said. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "remote/remote.h"
#include "util/error.h"

#define MAX_ANSWER ((size_t)1 << 30) /* a JSON answer held in memory */
#define BUSY_WAIT_S 60               /* retrying a full queue at most this long */

/* ---- paths --------------------------------------------------------------------- */

static void append_escaped(strbuf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~' || (keep_slash && *c == '/')) {
            sb_appendn(b, (const char *)c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            sb_appendn(b, e, 3);
        }
    }
}

void tarn_remote__path(rm_path *p, const char *fmt, ...)
{
    memset(p, 0, sizeof *p);
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        if (f[0] == '%' && f[1] == 's') {
            /* A branch name may hold '/': it is the rest of the path. */
            append_escaped(&p->b, va_arg(ap, const char *), 1);
            f++;
        } else {
            sb_appendn(&p->b, f, 1);
        }
    }
    va_end(ap);
}

void tarn_remote__arg(rm_path *p, const char *key, const char *value)
{
    if (!value) return;
    sb_append(&p->b, p->has_args ? "&" : "?");
    p->has_args = 1;
    sb_append(&p->b, key);
    sb_append(&p->b, "=");
    append_escaped(&p->b, value, 0);
}

void tarn_remote__arg_int(rm_path *p, const char *key, int64_t value)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)value);
    tarn_remote__arg(p, key, n);
}

void tarn_remote__commit_fields(json_t *body, rm_path *p, const tarn_commit_options *commit)
{
    if (!commit) return;
    const char *keys[] = {"message", "body", "properties"};
    const char *values[] = {commit->message, commit->body, commit->properties_json};
    for (int i = 0; i < 3; i++) {
        if (!values[i] || !*values[i]) continue;
        if (body) json_object_set_new(body, keys[i], json_string(values[i]));
        else tarn_remote__arg(p, keys[i], values[i]);
    }
}

int tarn_remote__unsupported(const char *what, tarn_error *err)
{
    return tarn__error_set(err, TARN_EINVALID,
                           "%s is not offered through a server yet: run it on the lakehouse's own host "
                           "(without TARN_REMOTE)",
                           what);
}

/* ---- answers ---------------------------------------------------------------------- */

const char *tarn_remote__str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void tarn_remote__commit(tarn_commit_id *id, json_t *o, const char *key)
{
    snprintf(id->hex, sizeof id->hex, "%s", tarn_remote__str(o, key));
}

static int code_of(const char *name, int status)
{
    for (int c = TARN_ERROR; c >= TARN_EDENIED; c--)
        if (strcmp(name, tarn_code_name(c)) == 0) return c;
    if (strcmp(name, "unauthorized") == 0 || status == 401 || status == 403) return TARN_EDENIED;
    if (strcmp(name, "busy") == 0 || status == 429 || status == 503) return TARN_ERETRY;
    if (status == 404) return TARN_ENOTFOUND;
    if (status == 413 || (status >= 400 && status < 500)) return TARN_EINVALID;
    return TARN_EIO;
}

int tarn_remote__error_from(tarn_error *err, json_t *error, int status)
{
    int code = code_of(tarn_remote__str(error, "code"), status);
    const char *msg = tarn_remote__str(error, "message");
    if (!*msg) msg = tarn_strerror(code);
    tarn__error_set(err, code, "%s", msg);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(error, "tables"), i, t)
    {
        if (json_is_string(t)) tarn__error_add_table(err, json_string_value(t));
    }
    return code;
}

/* ---- one request ------------------------------------------------------------------- */

typedef struct rm_call {
    CURL *curl;
    long status;
    strbuf body; /* an answer kept in memory: JSON, or any failure */
    int fd;      /* a successful answer goes here when >= 0 */
    void (*on_line)(const char *line, void *ctx);
    void *ctx;
    strbuf line;
    int sink_failed;
    const char *want_header;
    char *header_value;
    int retry_after;
    char request_id[33]; /* X-Tarn-Request: what to ask about a cut stream */
    /* the body sent */
    int upload_fd;
    off_t upload_off;
} rm_call;

static void take_line(rm_call *c, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (text[i] != '\n') {
            sb_appendn(&c->line, text + i, 1);
            continue;
        }
        c->on_line(sb_str(&c->line), c->ctx);
        c->line.len = 0;
        if (c->line.s) c->line.s[0] = 0;
    }
}

static size_t on_write(char *data, size_t size, size_t n, void *p)
{
    rm_call *c = p;
    size_t len = size * n;
    if (!c->status) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    int ok = c->status >= 200 && c->status < 300;
    if (ok && c->fd >= 0) {
        for (size_t off = 0; off < len;) {
            ssize_t w = write(c->fd, data + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                c->sink_failed = errno ? errno : EIO;
                return 0;
            }
            off += (size_t)w;
        }
        return len;
    }
    if (ok && c->on_line) {
        take_line(c, data, len);
        return len;
    }
    if (c->body.len + len > MAX_ANSWER) return 0;
    sb_appendn(&c->body, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
    rm_call *c = p;
    size_t len = size * n;
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t klen = (size_t)(colon - data);
    const char *v = colon + 1;
    while (v < data + len && *v == ' ')
        v++;
    size_t vlen = (size_t)(data + len - v);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    if (klen == 11 && strncasecmp(data, "Retry-After", 11) == 0) c->retry_after = atoi(v);
    if (klen == 14 && strncasecmp(data, "X-Tarn-Request", 14) == 0 && vlen < sizeof c->request_id)
        snprintf(c->request_id, sizeof c->request_id, "%.*s", (int)vlen, v);
    if (c->want_header && strlen(c->want_header) == klen &&
        strncasecmp(data, c->want_header, klen) == 0) {
        free(c->header_value);
        c->header_value = strndup(v, vlen);
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *p)
{
    rm_call *c = p;
    for (;;) {
        /* pread: the caller's file offset is left alone. */
        ssize_t r = pread(c->upload_fd, buf, size * n, c->upload_off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return CURL_READFUNC_ABORT;
        c->upload_off += r;
        return (size_t)r;
    }
}

static int unreachable(tarn_error *err, tarn_lake *lake, CURLcode cc, const char *detail)
{
    if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING)
        return tarn__error_set(
            err, TARN_EIO,
            "the tarn server at %s stopped answering halfway (%s): nothing partial was "
            "kept; run it again, and see the server's log if it happens again",
            lake->path, detail && *detail ? detail : curl_easy_strerror(cc));
    return tarn__error_set(
        err, TARN_EIO,
        "cannot reach the tarn server at %s: %s (check TARN_REMOTE and that 'tarn serve' runs "
        "there)",
        lake->path, detail && *detail ? detail : curl_easy_strerror(cc));
}

static int perform(rm_call *c, tarn_lake *lake, const char *method, const rm_path *path,
                   const char *body, size_t body_len, int upload_fd, const char *accept,
                   tarn_error *err);

/* A stream the server cut after its status (a query failing on row
 * 1,000,000): the server keeps why, for this request's id; RC and ERR
 * (how the cut looked) become that when it answers. */
static int why_cut(tarn_lake *lake, const char *id, int rc, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/failures/%s", id);
    rm_call c = {.fd = -1, .upload_fd = -1};
    tarn_error ignored = TARN_ERROR_INIT;
    if (perform(&c, lake, "GET", &p, NULL, 0, -1, "application/json", &ignored) == 0) {
        json_t *answer = json_loadb(sb_str(&c.body), c.body.len, 0, NULL);
        json_t *e = json_object_get(answer, "error");
        if (json_is_object(e)) {
            tarn_error_clear(err);
            rc = tarn_remote__error_from(err, e, 500);
        }
        json_decref(answer);
    }
    tarn_error_clear(&ignored);
    sb_free(&c.body);
    sb_free(&c.line);
    free(c.header_value);
    sb_free(&p.b);
    return rc;
}

/* Sends one request and fills C. BODY/BODY_LEN or UPLOAD_FD is what is
 * sent. Retries a full queue (429) while the minute lasts. */
static int perform(rm_call *c, tarn_lake *lake, const char *method, const rm_path *path,
                   const char *body, size_t body_len, int upload_fd, const char *accept,
                   tarn_error *err)
{
    tarn_remote *rm = lake->remote;
    int rc = 0, cut = 0;
    pthread_mutex_lock(&rm->mu);
    if (!rm->curl) rm->curl = curl_easy_init();
    CURL *curl = rm->curl;
    if (!curl) {
        pthread_mutex_unlock(&rm->mu);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory starting an HTTP client");
    }
    strbuf url = {0}, auth = {0};
    sb_append(&url, lake->path);
    sb_append(&url, sb_str(&path->b));
    sb_printf(&auth, "Authorization: Bearer %s", rm->token ? rm->token : "");
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, sb_str(&auth));
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (accept) {
        char a[200];
        snprintf(a, sizeof a, "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, a);
    }
    if (body) hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (upload_fd >= 0) hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    char errbuf[CURL_ERROR_SIZE];
    time_t give_up = time(NULL) + BUSY_WAIT_S;
    for (;;) {
        curl_easy_reset(curl);
        errbuf[0] = 0;
        c->curl = curl;
        c->status = 0;
        c->body.len = 0;
        c->retry_after = 0;
        curl_easy_setopt(curl, CURLOPT_URL, sb_str(&url));
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
        const char *ca = getenv("TARN_CA_BUNDLE");
        if (ca && *ca) curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
        if (upload_fd >= 0) {
            struct stat st;
            if (fstat(upload_fd, &st) != 0) {
                rc = tarn__error_set(err, TARN_EIO, "cannot read the file to upload: %s",
                                     strerror(errno));
                break;
            }
            c->upload_fd = upload_fd;
            c->upload_off = 0;
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
            curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(curl, CURLOPT_READDATA, c);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
        } else if (body) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "POST") == 0 && !body && upload_fd < 0) {
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
        CURLcode cc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
        if (c->sink_failed) {
            rc = tarn__error_set(err, TARN_EIO, "cannot write what the server sent: %s",
                                 strerror(c->sink_failed));
            break;
        }
        if (cc != CURLE_OK) {
            rc = unreachable(err, lake, cc, errbuf);
            cut = (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR) && c->status >= 200 &&
                  c->status < 300 && c->request_id[0];
            break;
        }
        if (c->status == 429 && time(NULL) < give_up) {
            /* Nothing changed on the server: wait as it asks, then again. */
            int wait = c->retry_after > 0 && c->retry_after < 10 ? c->retry_after : 2;
            sleep((unsigned)wait);
            continue;
        }
        break;
    }
    curl_slist_free_all(hdrs);
    sb_free(&url);
    sb_free(&auth);
    pthread_mutex_unlock(&rm->mu);
    if (rc < 0 && cut) rc = why_cut(lake, c->request_id, rc, err);
    if (rc < 0) return rc;
    if (c->on_line && c->line.len) take_line(c, "\n", 1);
    if (c->status >= 200 && c->status < 300) return 0;
    json_t *answer = json_loadb(sb_str(&c->body), c->body.len, 0, NULL);
    json_t *e = json_object_get(answer, "error");
    if (e) {
        rc = tarn_remote__error_from(err, e, (int)c->status);
    } else {
        json_t *fake = json_pack("{s:s}", "message", "the server refused the request");
        rc = tarn_remote__error_from(err, fake, (int)c->status);
        json_decref(fake);
        tarn__error_set(err, rc, "the tarn server at %s answered HTTP %ld to %s %s", lake->path,
                        c->status, method, sb_str(&path->b));
    }
    json_decref(answer);
    return rc;
}

static void call_free(rm_call *c)
{
    sb_free(&c->body);
    sb_free(&c->line);
    free(c->header_value);
}

int tarn_remote__json(json_t **out, tarn_lake *lake, const char *method, rm_path *path,
                      json_t *body, tarn_error *err)
{
    if (out) *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    rm_call c = {.fd = -1, .upload_fd = -1};
    int rc =
        perform(&c, lake, method, path, text, text ? strlen(text) : 0, -1, "application/json", err);
    if (rc == 0 && out) {
        json_error_t je;
        *out = json_loadb(sb_str(&c.body), c.body.len, 0, &je);
        if (!*out)
            rc = tarn__error_set(err, TARN_EIO,
                                 "the tarn server at %s sent an answer that is not JSON (%s)",
                                 lake->path, je.text);
    }
    free(text);
    call_free(&c);
    sb_free(&path->b);
    return rc;
}

int tarn_remote__upload(json_t **out, tarn_lake *lake, rm_path *path, int fd, tarn_error *err)
{
    if (out) *out = NULL;
    rm_call c = {.fd = -1, .upload_fd = -1};
    int rc = perform(&c, lake, "POST", path, NULL, 0, fd, "application/json", err);
    if (rc == 0 && out) {
        *out = json_loadb(sb_str(&c.body), c.body.len, 0, NULL);
        if (!*out)
            rc = tarn__error_set(
                err, TARN_EIO, "the tarn server at %s sent an answer that is not JSON", lake->path);
    }
    call_free(&c);
    sb_free(&path->b);
    return rc;
}

int tarn_remote__download(int fd, tarn_lake *lake, const char *method, rm_path *path, json_t *body,
                          const char *header, char **header_value, tarn_error *err)
{
    if (header_value) *header_value = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    rm_call c = {.fd = fd, .upload_fd = -1, .want_header = header};
    int rc = perform(&c, lake, method, path, text, text ? strlen(text) : 0, -1, NULL, err);
    if (rc == 0 && header_value) {
        *header_value = c.header_value;
        c.header_value = NULL;
    }
    free(text);
    call_free(&c);
    sb_free(&path->b);
    return rc;
}

int tarn_remote__lines(tarn_lake *lake, rm_path *path, int fd,
                       void (*on_line)(const char *line, void *ctx), void *ctx, tarn_error *err)
{
    rm_call c = {.fd = -1, .upload_fd = -1, .on_line = on_line, .ctx = ctx};
    int rc = perform(&c, lake, "POST", path, NULL, 0, fd, "application/x-ndjson", err);
    call_free(&c);
    sb_free(&path->b);
    return rc;
}
