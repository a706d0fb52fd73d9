/* store/s3client.c — S3 requests over libcurl.
 *
 * Every request of a client goes through one curl share handle, so that
 * connections (and DNS and TLS sessions) are reused across requests and
 * threads. A batch of requests runs on a curl multi handle in the calling
 * thread, up to `parallel` transfers at once. A request that fails in a way
 * worth retrying (5xx, 429, S3's RequestTimeout, a timeout or lost
 * connection) is put back with a delay that doubles each time, with jitter,
 * and signed anew when it starts again. Timeouts and lost connections are
 * retried only for idempotent requests: the server may have acted on the
 * first one. A 2xx body that ends early, or whose size is not the expected
 * one, counts as a lost connection.
 *
 * Messages name the bucket, the key and the HTTP status, never a secret:
 * the Authorization header is built here and goes nowhere else. */
#include "store/s3client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store/sigv4.h"
#include "store/xml.h"
#include "util/error.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct tarn_s3 {
    tarn_s3_target t;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    char host[512]; /* host[:port] of the endpoint */
    char scheme[8];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    tarn_s3 *s = ctx;
    pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    tarn_s3 *s = ctx;
    pthread_mutex_unlock(&s->locks[data]);
}

int tarn__s3_open(tarn_s3 **out, const tarn_s3_target *t, tarn_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    tarn_s3 *s = calloc(1, sizeof *s);
    if (!s) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    s->t = *t;
    const char *sep = strstr(t->endpoint, "://");
    snprintf(s->scheme, sizeof s->scheme, "%.*s", (int)(sep - t->endpoint), t->endpoint);
    snprintf(s->host, sizeof s->host, "%s", sep + 3);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->locks[i], NULL);
    s->share = curl_share_init();
    if (!s->share) {
        free(s);
        return tarn__error_set(err, TARN_ENOMEM, "cannot start the HTTP client (libcurl)");
    }
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = s;
    return 0;
}

void tarn__s3_close(tarn_s3 **sp)
{
    if (!sp || !*sp) return;
    tarn_s3 *s = *sp;
    curl_share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->locks[i]);
    tarn__s3_target_clear(&s->t);
    free(s);
    *sp = NULL;
}

const tarn_s3_target *tarn__s3_target(const tarn_s3 *s)
{
    return &s->t;
}

void tarn__s3_display(char *out, size_t size, const tarn_s3_target *t, const char *object)
{
    snprintf(out, size, "s3://%s/%s", t->bucket, object ? object : "");
}

void tarn__s3_req_init(tarn_s3_req *r, const char *method, const char *object)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->object = object;
    r->body_fd = -1;
    r->out_fd = -1;
    r->expect_size = -1;
    r->idempotent = 1;
    r->content_length = -1;
}

void tarn__s3_req_clear(tarn_s3_req *r)
{
    sb_free(&r->response);
    tarn_error_clear(&r->err);
}

/* ---- checksums ------------------------------------------------------------ */

static void base64(char out[32], const unsigned char *in, size_t n)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int tarn__s3_md5_file(char b64[32], char hexout[33], int fd, int64_t off, int64_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    int rc = buf ? 0 : -1;
    while (rc == 0 && len > 0) {
        ssize_t n = pread(fd, buf, (size_t)(len < (int64_t)cap ? len : (int64_t)cap), off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO; /* the file is shorter than it was */
            rc = -1;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += n;
        len -= n;
    }
    unsigned char md[16];
    unsigned int mdlen = 16;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (rc == 0) {
        base64(b64, md, 16);
        if (hexout) tarn__sigv4_hex(hexout, md, 16);
    }
    return rc;
}

void tarn__s3_md5_mem(char b64[32], const void *data, size_t len)
{
    unsigned char md[16];
    unsigned int mdlen = 16;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    base64(b64, md, 16);
}

/* ---- one transfer --------------------------------------------------------- */

typedef struct xfer {
    tarn_s3_req *req;
    tarn_s3 *s;
    CURL *easy;
    struct curl_slist *headers;
    int64_t read_pos; /* of the body file, relative to body_off */
    int64_t written;  /* bytes of a 2xx body written to out_fd */
    int64_t next_try_us;
    int io_error; /* writing the response failed (errno) */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ctx)
{
    xfer *x = ctx;
    tarn_s3_req *r = x->req;
    int64_t left = r->body_size - x->read_pos;
    size_t want = size * nitems;
    if (left <= 0) return 0;
    if ((int64_t)want > left) want = (size_t)left;
    ssize_t n;
    do
        n = pread(r->body_fd, buf, want, r->body_off + x->read_pos);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return CURL_READFUNC_ABORT;
    x->read_pos += n;
    return (size_t)n;
}

static int is_2xx(xfer *x)
{
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    xfer *x = ctx;
    size_t n = size * nmemb;
    tarn_s3_req *r = x->req;
    if (r->out_fd >= 0 && is_2xx(x)) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(r->out_fd, data + done, n - done, x->written + (int64_t)done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                x->io_error = w < 0 ? errno : EIO;
                return 0; /* curl stops with CURLE_WRITE_ERROR */
            }
            done += (size_t)w;
        }
        /* Crash tests: killed halfway through a download. */
        if (r->expect_size > 1 && x->written < r->expect_size / 2 &&
            x->written + (int64_t)n >= r->expect_size / 2)
            tarn__fault("s3:mid-download");
        x->written += (int64_t)n;
        return n;
    }
    /* Error documents and listings are small; a runaway body is cut. */
    if (r->response.len < (64u << 20)) sb_appendn(&r->response, data, n);
    return n;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ctx)
{
    xfer *x = ctx;
    tarn_s3_req *r = x->req;
    size_t n = size * nitems;
    char buf[512];
    size_t len = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, line, len);
    buf[len] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = 0;
    if (!strncmp(buf, "HTTP/", 5)) { /* a new response (after a redirect or 100) */
        r->etag[0] = 0;
        r->content_length = -1;
        r->etag_is_md5 = 1;
        return n;
    }
    char *colon = strchr(buf, ':');
    if (!colon) return n;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ')
        v++;
    if (!strcasecmp(buf, "ETag")) {
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        snprintf(r->etag, sizeof r->etag, "%s", v);
    } else if (!strcasecmp(buf, "Content-Length")) {
        r->content_length = strtoll(v, NULL, 10);
    } else if (!strcasecmp(buf, "Last-Modified")) {
        snprintf(r->last_modified, sizeof r->last_modified, "%s", v);
    } else if (!strcasecmp(buf, "x-amz-server-side-encryption")) {
        if (strcmp(v, "AES256") != 0) r->etag_is_md5 = 0; /* aws:kms */
    } else if (!strcasecmp(buf, "x-amz-server-side-encryption-customer-algorithm")) {
        r->etag_is_md5 = 0;
    }
    return n;
}

/* Adds a header line to the request; LINES (NULL: not signed) keeps a copy
 * for the signature. */
static void add_header(xfer *x, char **lines, size_t *n, const char *fmt, const char *value)
{
    strbuf h = {0};
    sb_printf(&h, fmt, value);
    x->headers = curl_slist_append(x->headers, sb_str(&h));
    if (lines)
        lines[(*n)++] = h.s;
    else
        sb_free(&h);
}

/* Builds the URL and signed headers for this attempt and configures the easy handle. */
static int prepare(xfer *x)
{
    tarn_s3 *s = x->s;
    tarn_s3_req *r = x->req;
    const tarn_s3_target *t = &s->t;
    strbuf path = {0}, url = {0}, host = {0};
    if (t->path_style) {
        sb_append(&host, s->host);
        sb_append(&path, "/");
        tarn__sigv4_encode(&path, t->bucket, 0);
        if (r->object) {
            sb_append(&path, "/");
            tarn__sigv4_encode(&path, r->object, 1);
        }
    } else {
        sb_printf(&host, "%s.%s", t->bucket, s->host);
        sb_append(&path, "/");
        if (r->object) tarn__sigv4_encode(&path, r->object, 1);
    }
    const char *query = r->query ? r->query : "";
    sb_printf(&url, "%s://%s%s%s%s", s->scheme, sb_str(&host), sb_str(&path), *query ? "?" : "",
              query);

    const char *payload = EMPTY_SHA256;
    char body_sha[65];
    if (r->body_fd >= 0) {
        payload = "UNSIGNED-PAYLOAD"; /* integrity: Content-MD5, which the server checks */
    } else if (r->body) {
        tarn__sha256_hex(body_sha, r->body, r->body_len);
        payload = body_sha;
    }
    char date[17];
    tarn__sigv4_date(date, (long long)time(NULL));

    char *lines[8];
    size_t n = 0;
    add_header(x, lines, &n, "Host: %s", sb_str(&host));
    add_header(x, lines, &n, "x-amz-date: %s", date);
    add_header(x, lines, &n, "x-amz-content-sha256: %s", payload);
    if (t->session_token[0]) add_header(x, lines, &n, "x-amz-security-token: %s", t->session_token);
    if (r->content_md5) add_header(x, lines, &n, "Content-MD5: %s", r->content_md5);
    if (r->range) add_header(x, lines, &n, "Range: %s", r->range);
    if (t->access_key[0]) {
        tarn_sigv4_request sr = {r->method, sb_str(&path), query,        (const char *const *)lines,
                                 n,         payload,       date,         t->region,
                                 "s3",      t->access_key, t->secret_key};
        strbuf auth = {0};
        tarn__sigv4_sign(&auth, NULL, NULL, &sr);
        add_header(x, NULL, NULL, "Authorization: %s", sb_str(&auth));
        sb_free(&auth);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    x->headers = curl_slist_append(x->headers, "Expect:"); /* no 100-continue round trip */
    if (r->body && !strcmp(r->method, "POST"))
        x->headers = curl_slist_append(x->headers, "Content-Type: application/xml");

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, sb_str(&url));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_SHARE, s->share);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(t->timeout_s < 10 ? t->timeout_s : 10));
    /* A stalled transfer (no byte for timeout_s) fails and is retried;
     * a slow but moving one is left alone, however long it takes. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)t->timeout_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        if (r->body_fd >= 0) {
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, x);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_size);
        } else {
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0); /* PUT bodies are files */
        }
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    sb_free(&path);
    sb_free(&url);
    sb_free(&host);
    return 0;
}

static int start(CURLM *multi, xfer *x)
{
    tarn_s3_req *r = x->req;
    x->easy = curl_easy_init();
    if (!x->easy) return -1;
    x->read_pos = 0;
    x->written = 0;
    x->io_error = 0;
    x->errbuf[0] = 0;
    r->status = 0;
    r->etag[0] = 0;
    r->content_length = -1;
    r->etag_is_md5 = 1;
    r->response.len = 0;
    if (r->response.s) r->response.s[0] = 0;
    if (r->out_fd >= 0 && ftruncate(r->out_fd, 0) != 0) {
        x->io_error = errno;
    }
    r->attempts++;
    prepare(x);
    curl_multi_add_handle(multi, x->easy);
    return 0;
}

static void finish_handle(CURLM *multi, xfer *x)
{
    curl_multi_remove_handle(multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The wait before attempt A+1: base * 2^(A-1), at most 20 s, then a random
 * point in its upper half, so that many clients do not retry in step. */
static int64_t backoff_us(const tarn_s3_target *t, int attempts)
{
    int64_t d = (int64_t)t->retry_base_ms * 1000;
    for (int i = 1; i < attempts && d < 20000000; i++)
        d *= 2;
    if (d > 20000000) d = 20000000;
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) rnd = (uint32_t)now_us();
    return d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

/* What to do about a refusal with HTTP STATUS and S3 error CODE. */
static const char *advice(long status, const char *code, const tarn_s3_target *t)
{
    static __thread char buf[600];
    if (!strcmp(code, "RequestTimeTooSkewed"))
        return ": this machine's clock is more than 15 minutes off the server's; correct it (NTP)";
    if (status == 403 || status == 401) {
        snprintf(buf, sizeof buf, ": check the credentials (%s) and that they may use this bucket",
                 t->cred_source);
        return buf;
    }
    if (status == 301 || status == 400 || !strcmp(code, "AuthorizationHeaderMalformed"))
        return ": check s3.endpoint, s3.region and s3.path_style in .tarn/config";
    return "";
}

/* Sets r->err for a final failure. */
static void describe_failure(xfer *x, CURLcode cc)
{
    tarn_s3_req *r = x->req;
    const tarn_s3_target *t = &x->s->t;
    char where[1400];
    tarn__s3_display(where, sizeof where, t, r->object);
    char tries[64] = "";
    if (r->attempts > 1) snprintf(tries, sizeof tries, " (after %d attempts)", r->attempts);
    if (x->io_error) {
        r->rc = tarn__error_set(&r->err, TARN_EIO, "cannot write what %s %s returned: %s",
                                r->method, where, strerror(x->io_error));
        return;
    }
    if (cc != CURLE_OK) {
        r->rc = tarn__error_set(&r->err, TARN_EIO, "S3 %s %s failed%s: %s (endpoint %s)", r->method,
                                where, tries, x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc),
                                t->endpoint);
        return;
    }
    if (r->status >= 200 && r->status < 300) { /* a 2xx body of the wrong size */
        r->rc = tarn__error_set(
            &r->err, TARN_EIO,
            "S3 %s %s returned %lld bytes where %lld were expected%s: the object or the "
            "connection is damaged",
            r->method, where, (long long)x->written, (long long)r->expect_size, tries);
        return;
    }
    strbuf code = {0}, msg = {0};
    tarn__xml_text(&code, sb_str(&r->response), r->response.len, "Code");
    tarn__xml_text(&msg, sb_str(&r->response), r->response.len, "Message");
    int tc = r->status == 404 ? TARN_ENOTFOUND : TARN_EIO;
    if (r->status == 404 && !strcmp(sb_str(&code), "NoSuchBucket"))
        r->rc = tarn__error_set(&r->err, tc,
                                "S3 bucket '%s' does not exist at %s (HTTP 404 NoSuchBucket)",
                                t->bucket, t->endpoint);
    else
        r->rc = tarn__error_set(&r->err, tc, "S3 %s %s: HTTP %ld%s%s%s%s%s%s%s", r->method, where,
                                r->status, code.len ? " " : "", sb_str(&code), msg.len ? " (" : "",
                                sb_str(&msg), msg.len ? ")" : "", tries,
                                advice(r->status, sb_str(&code), t));
    sb_free(&code);
    sb_free(&msg);
}

/* Decides what happens after a transfer ended: 0 done, 1 retry. */
static int settle(xfer *x, CURLcode cc)
{
    tarn_s3_req *r = x->req;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
    int retry = 0;
    if (x->io_error) {
        retry = 0;
    } else if (cc != CURLE_OK) {
        /* Refused or reset before anything was sent is safe to repeat for
         * any request; anything later only for idempotent ones. */
        retry = r->idempotent || cc == CURLE_COULDNT_CONNECT;
        if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_UNSUPPORTED_PROTOCOL ||
            cc == CURLE_URL_MALFORMAT || cc == CURLE_SSL_CACERT ||
            cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_ABORTED_BY_CALLBACK)
            retry = 0;
    } else if (r->status >= 200 && r->status < 300) {
        int64_t got = r->out_fd >= 0 ? x->written : (int64_t)r->response.len;
        int short_body =
            r->content_length >= 0 && strcmp(r->method, "HEAD") != 0 && got != r->content_length;
        int wrong_size = r->expect_size >= 0 && r->out_fd >= 0 && got != r->expect_size;
        /* S3 may answer CompleteMultipartUpload with 200 and an error document. */
        int error_doc = !strcmp(r->method, "POST") && r->response.len &&
                        strstr(sb_str(&r->response), "<Error>") &&
                        !strstr(sb_str(&r->response), "<Deleted>");
        if (!short_body && !wrong_size && !error_doc) {
            r->rc = 0;
            return 0;
        }
        if (error_doc) r->status = 500;
        retry = 1; /* a truncated or wrong body: fetch again */
        if (!r->idempotent && !error_doc) retry = 0;
    } else if ((r->status >= 500 && r->status != 501 && r->status != 505) || r->status == 429) {
        retry = 1; /* the server refused for now (501: never will); nothing happened */
    } else if (r->status == 400 && strstr(sb_str(&r->response), "<Code>RequestTimeout</Code>")) {
        retry = 1;
    }
    if (retry && r->attempts < x->s->t.max_attempts) return 1;
    describe_failure(x, cc);
    return 0;
}

int tarn__s3_perform(tarn_s3 *s, tarn_s3_req *reqs, size_t n, tarn_error *err)
{
    if (n == 0) return 0;
    CURLM *multi = curl_multi_init();
    xfer *xs = calloc(n, sizeof *xs);
    if (!multi || !xs) {
        curl_multi_cleanup(multi);
        free(xs);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->t.parallel);
    size_t next = 0, done = 0;
    int active = 0;
    /* Retried transfers wait here until their time comes. */
    size_t *waiting = calloc(n, sizeof *waiting);
    size_t nwaiting = 0;
    for (size_t i = 0; i < n; i++) {
        xs[i].req = &reqs[i];
        xs[i].s = s;
        reqs[i].rc = 0;
        reqs[i].attempts = 0;
    }
    while (done < n) {
        int64_t now = now_us();
        for (size_t w = 0; w < nwaiting && active < s->t.parallel;) {
            xfer *x = &xs[waiting[w]];
            if (x->next_try_us <= now) {
                if (start(multi, x) == 0) active++;
                waiting[w] = waiting[--nwaiting];
            } else {
                w++;
            }
        }
        while (next < n && active < s->t.parallel) {
            if (start(multi, &xs[next]) == 0) active++;
            next++;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode cc = m->data.result;
            int again = settle(x, cc);
            finish_handle(multi, x);
            active--;
            if (again) {
                x->next_try_us = now_us() + backoff_us(&s->t, x->req->attempts);
                waiting[nwaiting++] = (size_t)(x - xs);
            } else {
                done++;
            }
        }
        if (done == n) break;
        int wait_ms = 200;
        for (size_t w = 0; w < nwaiting; w++) {
            int64_t d = (xs[waiting[w]].next_try_us - now_us()) / 1000;
            if (d < wait_ms) wait_ms = d < 0 ? 0 : (int)d;
        }
        if (active > 0 || wait_ms > 0) curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (reqs[i].rc < 0) {
            rc = reqs[i].rc;
            if (err) {
                tarn_error_clear(err);
                err->code = reqs[i].err.code;
                snprintf(err->message, sizeof err->message, "%s", reqs[i].err.message);
            }
        }
    free(waiting);
    free(xs);
    curl_multi_cleanup(multi);
    return rc;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct list_ctx {
    size_t strip; /* length of "prefix/" */
    int (*cb)(const char *key, int64_t size, int64_t mtime_s, void *ctx);
    void *ctx;
    strbuf token; /* next page */
} list_ctx;

int64_t tarn__s3_parse_time(const char *iso)
{
    int64_t us = 0;
    return tarn__parse_time(&us, iso) == 0 ? us / 1000000 : 0;
}

static int on_content(const char *xml, size_t len, void *ctx)
{
    list_ctx *l = ctx;
    strbuf key = {0}, size = {0}, mod = {0};
    tarn__xml_text(&key, xml, len, "Key");
    tarn__xml_text(&size, xml, len, "Size");
    tarn__xml_text(&mod, xml, len, "LastModified");
    int rc = 0;
    if (key.len > l->strip && key.s[key.len - 1] != '/')
        rc = l->cb(key.s + l->strip, strtoll(sb_str(&size), NULL, 10),
                   tarn__s3_parse_time(sb_str(&mod)), l->ctx);
    sb_free(&key);
    sb_free(&size);
    sb_free(&mod);
    return rc;
}

int tarn__s3_list(tarn_s3 *client, const char *prefix, size_t strip,
                  int (*cb)(const char *, int64_t, int64_t, void *), void *ctx, tarn_error *err)
{
    list_ctx l = {strip, cb, ctx, {0}};
    int rc = 0;
    for (int page = 0;; page++) {
        strbuf q = {0};
        sb_printf(&q, "list-type=2&max-keys=%d&prefix=", client->t.list_page);
        tarn__sigv4_encode(&q, prefix, 0);
        if (page) {
            sb_append(&q, "&continuation-token=");
            tarn__sigv4_encode(&q, sb_str(&l.token), 0);
        }
        tarn_s3_req r;
        tarn__s3_req_init(&r, "GET", NULL);
        r.query = sb_str(&q);
        rc = tarn__s3_perform(client, &r, 1, err);
        if (rc == 0)
            rc = tarn__xml_each(sb_str(&r.response), r.response.len, "Contents", on_content, &l);
        strbuf trunc = {0};
        l.token.len = 0;
        int more = rc == 0 &&
                   tarn__xml_text(&trunc, sb_str(&r.response), r.response.len, "IsTruncated") &&
                   !strcmp(sb_str(&trunc), "true") &&
                   tarn__xml_text(&l.token, sb_str(&r.response), r.response.len,
                                  "NextContinuationToken") &&
                   l.token.len;
        sb_free(&trunc);
        tarn__s3_req_clear(&r);
        sb_free(&q);
        if (!more) break;
    }
    sb_free(&l.token);
    return rc;
}
