/* store/s3client.h — where an S3 bucket is and how to talk to it: the
 * location and credentials (s3conf.c) and the HTTP client with its
 * retries and parallel transfers (s3client.c). Library-internal. */
#ifndef TARN_STORE_S3CLIENT_H
#define TARN_STORE_S3CLIENT_H

#include <stdint.h>

#include "lake/lake.h"
#include "util/util.h"

/* A bucket and how to reach it. Secrets live only here, in memory: they are
 * never written to config, logs or error messages. */
typedef struct tarn_s3_target {
    char bucket[256];
    char prefix[1024];  /* "" or "a/b" (no leading or trailing slash) */
    char endpoint[512]; /* scheme://host[:port], no trailing slash */
    char region[64];
    int path_style; /* bucket in the path rather than in the host name */
    char access_key[256];
    char secret_key[256];
    char session_token[4096];
    char cred_source[300]; /* where the credentials came from, for messages */
    /* Tunables (s3.* in .tarn/config). */
    int max_attempts;            /* tries per request, retries included */
    int retry_base_ms;           /* first backoff; doubles each retry, with jitter */
    int timeout_s;               /* a transfer making no progress this long is retried */
    int parallel;                /* transfers at once */
    int64_t multipart_threshold; /* bytes: larger files go up in parts */
    int64_t part_size;
    int list_page;        /* keys per listing page (S3's maximum: 1000) */
    int delete_batch;     /* keys per DeleteObjects request (S3's maximum: 1000) */
} tarn_s3_target;

/* Splits "s3://bucket/prefix" into T->bucket and T->prefix. */
int tarn__s3_parse_url(tarn_s3_target *t, const char *url, tarn_error *err);

/* Fills T for URL (s3://bucket[/prefix]) from LAKE's config (NULL: none):
 * s3.endpoint, s3.region, s3.path_style, s3.profile and the tunables, each
 * overridable for one bucket as s3.bucket.NAME.KEY; then AWS_ENDPOINT_URL,
 * AWS_REGION / AWS_DEFAULT_REGION. Credentials: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the profile (AWS_PROFILE,
 * or the configured one, which then comes first) of ~/.aws/credentials
 * (AWS_SHARED_CREDENTIALS_FILE). No credentials: requests go unsigned. */
int tarn__s3_target_resolve(tarn_s3_target *t, const tarn_lake *lake, const char *url,
                            tarn_error *err);

/* Wipes the secrets of T. */
void tarn__s3_target_clear(tarn_s3_target *t);

/* ---- requests ----------------------------------------------------------- */

typedef struct tarn_s3 tarn_s3;

/* One request. The caller fills the part above `result`; OBJECT is the key
 * in the bucket (the prefix is not added here) or NULL for the bucket. */
typedef struct tarn_s3_req {
    const char *method; /* GET PUT POST DELETE HEAD */
    const char *object;
    const char *query; /* already encoded, "" or NULL for none */
    const char *range; /* "bytes=0-9" or NULL */
    /* Body: memory (BODY, BODY_LEN) or a range of a file (BODY_FD >= 0). */
    const char *body;
    size_t body_len;
    int body_fd;
    int64_t body_off, body_size;
    const char *content_md5; /* base64, NULL for none: the server checks it */
    /* Response body: appended to RESPONSE, or written to OUT_FD from
     * offset 0 (2xx only; error bodies always go to RESPONSE). */
    int out_fd;
    int64_t expect_size; /* a 2xx body of another size is retried; -1: any */
    int idempotent;      /* may be retried after a lost connection or timeout */
    /* result */
    int rc; /* 0 or a tarn code */
    long status;
    strbuf response;
    char etag[128];
    int64_t content_length; /* -1 if not given */
    char last_modified[64];
    int etag_is_md5; /* no SSE-KMS / SSE-C: a simple upload's ETag is its MD5 */
    int attempts;
    tarn_error err;
} tarn_s3_req;

/* A request with nothing set: no body, no output file, idempotent. */
void tarn__s3_req_init(tarn_s3_req *r, const char *method, const char *object);
void tarn__s3_req_clear(tarn_s3_req *r);

/* A client for T (copied). Connections are shared by every request of the
 * client, across threads. */
int tarn__s3_open(tarn_s3 **out, const tarn_s3_target *t, tarn_error *err);
void tarn__s3_close(tarn_s3 **s);
const tarn_s3_target *tarn__s3_target(const tarn_s3 *s);

/* Runs REQS[0..N), up to the target's `parallel` at once, each retried
 * with exponential backoff and jitter on 5xx, 429, timeouts and lost
 * connections (those last two only when idempotent). Each request's rc and
 * err say how it ended; returns the first failure's code (0 if none), with
 * its message in err. A 404 sets rc TARN_ENOTFOUND with the message. */
int tarn__s3_perform(tarn_s3 *s, tarn_s3_req *reqs, size_t n, tarn_error *err);

/* Every object whose name starts with PREFIX (ListObjectsV2, page by page,
 * following continuation tokens): CB gets the name without its first STRIP
 * characters, its size and its write time; a non-zero return stops the
 * listing and is returned. "Folder" markers (names ending in '/') are
 * skipped. */
int tarn__s3_list(tarn_s3 *s, const char *prefix, size_t strip,
                  int (*cb)(const char *name, int64_t size, int64_t mtime_s, void *ctx), void *ctx,
                  tarn_error *err);
/* Seconds since the epoch of an ISO 8601 time S3 gives (0 if unreadable). */
int64_t tarn__s3_parse_time(const char *iso);

/* "s3://bucket/key" for messages. */
void tarn__s3_display(char *out, size_t size, const tarn_s3_target *t, const char *object);

/* Base64 of the MD5 of LEN bytes of FD at OFF (and the hex digest when
 * HEX is not NULL). Returns 0 or -1 (errno). */
int tarn__s3_md5_file(char b64[32], char hex[33], int fd, int64_t off, int64_t len);
void tarn__s3_md5_mem(char b64[32], const void *data, size_t len);

#endif
