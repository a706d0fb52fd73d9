/* server/api_iceberg.c — the Iceberg REST catalog (src/iceberg/rest.c)
 * mounted under /iceberg/: every request there, its token already checked
 * like any route's, is handed to the catalog with the token's rights, and
 * its answer (JSON in the spec's error shape, or a file of the store) is
 * sent back. docs/iceberg.md describes the routes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

static const char *query_arg(void *ctx, const char *name)
{
    return srv_arg(ctx, name);
}

static int may_read(void *ctx, const char *ref)
{
    return tarn_token_may_read(&((srv_req *)ctx)->tok, ref);
}

static int may_write(void *ctx, const char *branch)
{
    return tarn_token_may_write(&((srv_req *)ctx)->tok, branch);
}

/* Where /iceberg is reached from, as the client addressed the server: the
 * metadata the catalog hands out names its files under it. */
static void base_url(char *out, size_t size, srv_req *r)
{
    const char *host = srv_header(r, "Host");
    if (!host || !*host || strpbrk(host, "/ \"\\")) host = "127.0.0.1";
    snprintf(out, size, "%s://%s/iceberg", r->s->o.tls_cert ? "https" : "http", host);
}

/* One range of a Range header ("bytes=A-B", "bytes=A-", "bytes=-N") in
 * a file of SIZE bytes: 1 with *off and *len, 0 when there is none to
 * honour (absent, several ranges, not bytes: the whole file is sent),
 * -1 when it lies outside the file (416). */
static int byte_range(const char *h, int64_t size, int64_t *off, int64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
    const char *p = h + 6;
    char *end;
    long long a = -1, b = -1;
    if (*p != '-') {
        a = strtoll(p, &end, 10);
        if (end == p || *end != '-') return 0;
        p = end;
    }
    p++;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (end == p || *end) return 0;
    }
    if (a < 0 && b < 0) return 0;
    if (a < 0) { /* the last B bytes */
        if (b == 0 || size == 0) return -1;
        a = b >= size ? 0 : size - b;
        b = size - 1;
    }
    if (a >= size || (b >= 0 && b < a)) return -1;
    if (b < 0 || b >= size) b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

/* A file of the store: whole, or the byte range asked for (readers of
 * Parquet read a footer, then column chunks). */
static int send_file(srv_req *r, const tarn_iceberg_response *ans)
{
    int fd = open(ans->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return srv_reply_msg(r, 404, "not_found",
                             "the file went away while it was asked for: ask again");
    int64_t off = 0, len = 0;
    int ranged = byte_range(srv_header(r, "Range"), ans->file_size, &off, &len);
    if (ranged < 0) {
        close(fd);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the range asked for lies outside the file (%lld bytes): ask for bytes inside it",
                 (long long)ans->file_size);
        return srv_reply_msg(r, 416, "invalid", msg);
    }
    if (ranged) return srv_reply_file_part(r, ans->content_type, fd, off, len, ans->file_size);
    return srv_reply_file(r, ans->status, ans->content_type, fd, "Accept-Ranges", "bytes");
}

/* The catalog's answer on R: its JSON as it is, or the file it names. */
static int send_answer(srv_req *r, tarn_iceberg_response *ans)
{
    if (ans->file) return send_file(r, ans);
    json_t *body = NULL;
    if (ans->body) {
        json_error_t je;
        body = json_loads(ans->body, 0, &je);
        if (!body) return srv_reply_msg(r, 500, "io", "the Iceberg catalog's answer is not JSON");
    } else {
        body = json_object(); /* HEAD: the status says it all */
    }
    return srv_reply_json(r, ans->status, body);
}

static int iceberg(srv_req *r)
{
    const char *rest = srv_param(r, "path");
    char path[8192], base[1024];
    snprintf(path, sizeof path, "/%s", rest ? rest : "");
    base_url(base, sizeof base, r);
    tarn_iceberg_request req = {TARN_ICEBERG_REQUEST_VERSION,
                                r->method,
                                path,
                                query_arg,
                                r->body,
                                r->body_len,
                                base,
                                may_read,
                                may_write,
                                r,
                                r->s->o.iceberg_register_root};
    SRV_TAKE_LAKE(r, lake);
    tarn_iceberg_response ans;
    int rc = tarn_iceberg_rest_handle(&ans, lake, &req);
    srv_lake_put(r->s, lake);
    if (rc < 0) {
        tarn_iceberg_response_clear(&ans);
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory: try again");
    }
    rc = send_answer(r, &ans);
    tarn_iceberg_response_clear(&ans);
    return rc;
}

/* Writes other than register are refused by the catalog itself, in the
 * spec's shape, so every method a client may send reaches it. */
const srv_route srv_api_iceberg[] = {
    {"GET", "/iceberg/{path*}", iceberg, SRV_BODY_NONE, SRV_TOKEN},
    {"HEAD", "/iceberg/{path*}", iceberg, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/iceberg/{path*}", iceberg, SRV_BODY_JSON, SRV_TOKEN},
    {"DELETE", "/iceberg/{path*}", iceberg, SRV_BODY_NONE, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
