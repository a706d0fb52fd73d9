/* store/s3.c — the object store on an S3-compatible bucket.
 *
 * Writing: DuckDB writes a data file to a local temporary (`write_path`,
 * under `.tarn/objects/tmp/`); `publish` uploads it under its key with a
 * Content-MD5 the server checks (and an ETag checked here where it is an
 * MD5), in one PUT or, above `s3.multipart_threshold_mb`, as a multipart
 * upload whose parts go up in parallel. A failed multipart upload is
 * aborted. Keys end in 128 random bits and are never written twice. The
 * uploaded file then moves into the local cache, so reading it back costs
 * nothing.
 *
 * Reading: DuckDB cannot read s3:// here, so `prefetch` downloads the data
 * files a query or scan kept (after pruning) into the local cache
 * (cache.c), in parallel, and `read_url` hands DuckDB the cached copy.
 *
 * Listing for gc: the objects under the prefix (ListObjectsV2, page by
 * page), then this host's local temporaries and the bucket's unfinished
 * multipart uploads, both as `tmp/` + the last part of their key, as the
 * store interface asks; removing such a `tmp/` name aborts the upload.
 * Deletes go in batches of up to 1,000 keys (DeleteObjects; s3.delete_batch_size). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/cache.h"
#include "store/s3client.h"
#include "store/sigv4.h"
#include "store/store.h"
#include "store/xml.h"
#include "util/error.h"
#include "util/util.h"

typedef struct s3_store {
    tarn_store base;
    tarn_s3 *client;
    tarn_cache *cache;
    char tmpdir[PATH_MAX];
    int added; /* entries went into the cache: trim it on close */
} s3_store;

static const tarn_s3_target *target(s3_store *s)
{
    return tarn__s3_target(s->client);
}

static int key_ok(const char *key)
{
    return key && *key && key[0] != '/' && !strstr(key, "..") && strlen(key) < 900;
}

/* The object's name in the bucket: the lakehouse's prefix + KEY. */
static void object_of(char *out, size_t size, s3_store *s, const char *key)
{
    const tarn_s3_target *t = target(s);
    snprintf(out, size, "%s%s%s", t->prefix, t->prefix[0] ? "/" : "", key);
}

static const char *last_part(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? slash + 1 : key;
}

/* The cache entry of OBJECT: a digest of where it lives, plus its extension. */
static void cache_name(char out[96], const tarn_s3_target *t, const char *object)
{
    strbuf id = {0};
    sb_printf(&id, "%s\n%s\n%s", t->endpoint, t->bucket, object);
    char digest[65];
    tarn__sha256_hex(digest, sb_str(&id), id.len);
    sb_free(&id);
    char ext[12] = "";
    const char *dot = strrchr(last_part(object), '.');
    if (dot) {
        size_t i = 0;
        ext[i++] = '.';
        for (const char *p = dot + 1; *p && i < sizeof ext - 1; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) ext[i++] = *p;
        ext[i] = 0;
        if (i == 1) ext[0] = 0;
    }
    snprintf(out, 96, "%s%s", digest, ext);
}

static int s3_write_path(tarn_store *st, const char *key, char *out, size_t size, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    if (tarn__mkdirs(s->tmpdir, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", s->tmpdir, strerror(errno));
    snprintf(out, size, "%s/%s", s->tmpdir, last_part(key));
    return 0;
}

/* ---- uploads ------------------------------------------------------------- */

static int check_etag(const tarn_s3_req *r, const char *md5_hex, const char *where, tarn_error *err)
{
    if (!r->etag_is_md5 || !r->etag[0] || strchr(r->etag, '-')) return 0;
    if (strcasecmp(r->etag, md5_hex) == 0) return 0;
    return tarn__error_set(
        err, TARN_EIO,
        "%s: the server stored other bytes than were sent (ETag %s, MD5 %s); nothing was "
        "committed",
        where, r->etag, md5_hex);
}

static int put_single(s3_store *s, const char *object, int fd, int64_t size, tarn_error *err)
{
    char b64[32], hexd[33], where[1400];
    tarn__s3_display(where, sizeof where, target(s), object);
    if (tarn__s3_md5_file(b64, hexd, fd, 0, size) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot read the file to upload to %s: %s", where,
                               strerror(errno));
    tarn_s3_req r;
    tarn__s3_req_init(&r, "PUT", object);
    r.body_fd = fd;
    r.body_size = size;
    r.content_md5 = b64;
    int rc = tarn__s3_perform(s->client, &r, 1, err);
    if (rc == 0) rc = check_etag(&r, hexd, where, err);
    tarn__s3_req_clear(&r);
    return rc;
}

static void abort_upload(s3_store *s, const char *object, const char *upload_id)
{
    strbuf q = {0};
    sb_append(&q, "uploadId=");
    tarn__sigv4_encode(&q, upload_id, 0);
    tarn_s3_req r;
    tarn__s3_req_init(&r, "DELETE", object);
    r.query = sb_str(&q);
    tarn__s3_perform(s->client, &r, 1, NULL);
    tarn__s3_req_clear(&r);
    sb_free(&q);
}

static void xml_escape(strbuf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            sb_append(out, "&amp;");
            break;
        case '<':
            sb_append(out, "&lt;");
            break;
        case '>':
            sb_append(out, "&gt;");
            break;
        case '"':
            sb_append(out, "&quot;");
            break;
        case '\'':
            sb_append(out, "&apos;");
            break;
        default:
            sb_appendn(out, s, 1);
        }
    }
}

static int put_multipart(s3_store *s, const char *object, int fd, int64_t size, tarn_error *err)
{
    const tarn_s3_target *t = target(s);
    char where[1400];
    tarn__s3_display(where, sizeof where, t, object);
    tarn_s3_req create;
    tarn__s3_req_init(&create, "POST", object);
    create.query = "uploads";
    /* Not idempotent: a retry after a lost answer would start a second
     * upload. Only refusals are retried; a stray upload is aborted by gc. */
    create.idempotent = 0;
    int rc = tarn__s3_perform(s->client, &create, 1, err);
    strbuf id = {0};
    if (rc == 0 && !tarn__xml_text(&id, sb_str(&create.response), create.response.len, "UploadId"))
        rc = tarn__error_set(err, TARN_EIO,
                             "S3 did not start a multipart upload of %s (no UploadId)", where);
    tarn__s3_req_clear(&create);
    if (rc < 0) {
        sb_free(&id);
        return rc;
    }

    size_t nparts = (size_t)((size + t->part_size - 1) / t->part_size);
    tarn_s3_req *parts = calloc(nparts, sizeof *parts);
    char(*md5s)[2][33] = calloc(nparts, sizeof *md5s);
    char(*queries)[1200] = calloc(nparts, sizeof *queries);
    if (!parts || !md5s || !queries) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    strbuf enc = {0};
    tarn__sigv4_encode(&enc, sb_str(&id), 0);
    for (size_t i = 0; rc == 0 && i < nparts; i++) {
        int64_t off = (int64_t)i * t->part_size;
        int64_t len = size - off < t->part_size ? size - off : t->part_size;
        if (tarn__s3_md5_file(md5s[i][0], md5s[i][1], fd, off, len) != 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot read the file to upload to %s: %s", where,
                                 strerror(errno));
            break;
        }
        snprintf(queries[i], sizeof queries[i], "partNumber=%zu&uploadId=%s", i + 1, sb_str(&enc));
        tarn__s3_req_init(&parts[i], "PUT", object);
        parts[i].query = queries[i];
        parts[i].body_fd = fd;
        parts[i].body_off = off;
        parts[i].body_size = len;
        parts[i].content_md5 = md5s[i][0];
    }
    if (rc == 0) rc = tarn__s3_perform(s->client, parts, nparts, err);
    for (size_t i = 0; rc == 0 && i < nparts; i++)
        rc = check_etag(&parts[i], md5s[i][1], where, err);
    tarn__fault("s3:multipart-parts-uploaded");

    strbuf body = {0};
    if (rc == 0) {
        sb_append(&body, "<CompleteMultipartUpload>");
        for (size_t i = 0; i < nparts; i++) {
            sb_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>\"", i + 1);
            xml_escape(&body, parts[i].etag);
            sb_append(&body, "\"</ETag></Part>");
        }
        sb_append(&body, "</CompleteMultipartUpload>");
        strbuf q = {0};
        sb_printf(&q, "uploadId=%s", sb_str(&enc));
        tarn_s3_req done;
        tarn__s3_req_init(&done, "POST", object);
        done.query = sb_str(&q);
        done.body = sb_str(&body);
        done.body_len = body.len;
        rc = tarn__s3_perform(s->client, &done, 1, err);
        /* A completion whose answer was lost is retried and finds no such
         * upload any more; the object's size says whether it completed. */
        tarn__s3_req_clear(&done);
        sb_free(&q);
        tarn_s3_req head;
        tarn__s3_req_init(&head, "HEAD", object);
        tarn_error herr = TARN_ERROR_INIT;
        int hrc = tarn__s3_perform(s->client, &head, 1, &herr);
        if (hrc == 0 && head.content_length == size) {
            rc = 0;
            tarn_error_clear(err);
        } else if (rc == 0) {
            rc = hrc < 0 ? tarn__error_set(err, hrc, "%s", herr.message)
                         : tarn__error_set(
                               err, TARN_EIO,
                               "%s holds %lld bytes after its upload of %lld bytes; nothing was "
                               "committed",
                               where, (long long)head.content_length, (long long)size);
        }
        tarn__s3_req_clear(&head);
        tarn_error_clear(&herr);
    }
    if (rc < 0) abort_upload(s, object, sb_str(&id));
    for (size_t i = 0; parts && i < nparts; i++)
        tarn__s3_req_clear(&parts[i]);
    free(parts);
    free(md5s);
    free(queries);
    sb_free(&body);
    sb_free(&enc);
    sb_free(&id);
    return rc;
}

static int s3_publish(tarn_store *st, const char *key, const char *local_path, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char object[1200];
    object_of(object, sizeof object, s, key);
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", local_path, strerror(errno));
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", local_path, strerror(errno));
    int64_t size = (int64_t)sb.st_size;
    if (rc == 0)
        rc = size > target(s)->multipart_threshold ? put_multipart(s, object, fd, size, err)
                                                   : put_single(s, object, fd, size, err);
    close(fd);
    if (rc < 0) return rc;
    /* Published: the local copy becomes a cache entry when the cache is on
     * the same file system (a hard link), else it goes. */
    char name[96], path[PATH_MAX];
    cache_name(name, target(s), object);
    if (tarn__cache_put(s->cache, name, local_path, size, path, sizeof path, NULL) == 0)
        s->added = 1;
    unlink(local_path);
    return 0;
}

/* ---- reads --------------------------------------------------------------- */

typedef struct fetch {
    char name[96];
    char object[1200];
    char tmp[PATH_MAX];
    int fd;
    int64_t size;
} fetch;

/* Downloads the objects of F[0..N) that the cache lacks into it. */
static int fetch_missing(s3_store *s, fetch *f, size_t n, tarn_error *err)
{
    tarn_s3_req *reqs = calloc(n ? n : 1, sizeof *reqs);
    if (!reqs) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    int rc = 0;
    size_t opened = 0;
    for (; opened < n && rc == 0; opened++) {
        rc = tarn__cache_tmp(s->cache, f[opened].name, &f[opened].fd, f[opened].tmp,
                             sizeof f[opened].tmp, err);
        if (rc < 0) break;
        tarn__s3_req_init(&reqs[opened], "GET", f[opened].object);
        reqs[opened].out_fd = f[opened].fd;
        reqs[opened].expect_size = f[opened].size;
    }
    if (rc == 0) rc = tarn__s3_perform(s->client, reqs, n, err);
    for (size_t i = 0; i < opened; i++) {
        if (f[i].fd >= 0) close(f[i].fd);
        if (rc == 0) {
            char path[PATH_MAX];
            int64_t size = f[i].size >= 0 ? f[i].size : reqs[i].content_length;
            rc = tarn__cache_put(s->cache, f[i].name, f[i].tmp, size, path, sizeof path, err);
        } else {
            unlink(f[i].tmp);
        }
        tarn__s3_req_clear(&reqs[i]);
    }
    free(reqs);
    if (opened) s->added = 1;
    return rc;
}

static int s3_prefetch(tarn_store *st, const tarn_store_object *objs, size_t n, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    /* At most this many downloads are set up at once (each holds a file). */
    enum { BATCH = 64 };
    fetch *f = calloc(BATCH, sizeof *f);
    if (!f) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    size_t nf = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        if (i < n) {
            if (!key_ok(objs[i].key)) {
                rc = tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", objs[i].key);
                break;
            }
            fetch *x = &f[nf];
            memset(x, 0, sizeof *x);
            x->fd = -1;
            x->size = objs[i].size;
            object_of(x->object, sizeof x->object, s, objs[i].key);
            cache_name(x->name, target(s), x->object);
            char path[PATH_MAX];
            int hit = tarn__cache_get(s->cache, x->name, x->size, path, sizeof path, err);
            if (hit < 0)
                rc = hit;
            else if (hit == 0)
                nf++;
        }
        if (rc == 0 && nf > 0 && (nf == BATCH || i == n)) {
            rc = fetch_missing(s, f, nf, err);
            nf = 0;
        }
    }
    free(f);
    if (rc == 0 && s->added) {
        tarn__cache_trim(s->cache, NULL, NULL);
        s->added = 0;
    }
    return rc;
}

static int s3_local_path(tarn_store *st, const char *key, char *out, size_t size, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char object[1200], name[96];
    object_of(object, sizeof object, s, key);
    cache_name(name, target(s), object);
    tarn__cache_path(s->cache, name, out, size);
    return 0;
}

static int s3_read_url(tarn_store *st, const char *key, char *out, size_t size, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char object[1200], name[96];
    object_of(object, sizeof object, s, key);
    cache_name(name, target(s), object);
    int hit = tarn__cache_get(s->cache, name, -1, out, size, err);
    if (hit != 0) return hit < 0 ? hit : 0;
    tarn_store_object o = {key, -1};
    TARN_RETURN_NOT_OK(s3_prefetch(st, &o, 1, err));
    hit = tarn__cache_get(s->cache, name, -1, out, size, err);
    if (hit == 0)
        return tarn__error_set(err, TARN_EIO, "'%s' was fetched but is not in the cache", key);
    return hit < 0 ? hit : 0;
}

static int s3_stat(tarn_store *st, const char *key, int64_t *size, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char object[1200];
    object_of(object, sizeof object, s, key);
    tarn_s3_req r;
    tarn__s3_req_init(&r, "HEAD", object);
    tarn_error e = TARN_ERROR_INIT;
    int rc = tarn__s3_perform(s->client, &r, 1, &e);
    if (rc == 0)
        *size = r.content_length;
    else if (rc != TARN_ENOTFOUND)
        tarn__error_set(err, rc, "%s", e.message);
    tarn__s3_req_clear(&r);
    tarn_error_clear(&e);
    return rc;
}

/* ---- listing ------------------------------------------------------------- */

typedef struct upload {
    char *object;
    char *id;
    int64_t initiated_s;
} upload;

typedef struct uploads {
    upload *v;
    size_t n, cap;
} uploads;

static int on_upload(const char *xml, size_t len, void *ctx)
{
    uploads *u = ctx;
    strbuf key = {0}, id = {0}, when = {0};
    tarn__xml_text(&key, xml, len, "Key");
    tarn__xml_text(&id, xml, len, "UploadId");
    tarn__xml_text(&when, xml, len, "Initiated");
    int rc = tarn__reserve(&u->v, &u->cap, u->n + 1, sizeof *u->v);
    if (rc == 0 && key.len && id.len)
        u->v[u->n++] = (upload){strdup(key.s), strdup(id.s), tarn__s3_parse_time(sb_str(&when))};
    sb_free(&key);
    sb_free(&id);
    sb_free(&when);
    return rc;
}

static void uploads_free(uploads *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].object);
        free(u->v[i].id);
    }
    free(u->v);
    memset(u, 0, sizeof *u);
}

/* The bucket's unfinished multipart uploads under the lakehouse's prefix.
 * A server without ListMultipartUploads (501) has none to show. */
static int list_uploads(s3_store *s, uploads *out, tarn_error *err)
{
    const tarn_s3_target *t = target(s);
    strbuf key_marker = {0}, id_marker = {0};
    int rc = 0;
    for (int page = 0;; page++) {
        strbuf q = {0};
        sb_append(&q, "uploads&prefix=");
        strbuf p = {0};
        sb_printf(&p, "%s%s", t->prefix, t->prefix[0] ? "/" : "");
        tarn__sigv4_encode(&q, sb_str(&p), 0);
        sb_free(&p);
        if (page) {
            sb_append(&q, "&key-marker=");
            tarn__sigv4_encode(&q, sb_str(&key_marker), 0);
            sb_append(&q, "&upload-id-marker=");
            tarn__sigv4_encode(&q, sb_str(&id_marker), 0);
        }
        tarn_s3_req r;
        tarn__s3_req_init(&r, "GET", NULL);
        r.query = sb_str(&q);
        tarn_error e = TARN_ERROR_INIT;
        rc = tarn__s3_perform(s->client, &r, 1, &e);
        if (rc < 0 && (r.status == 501 || r.status == 405))
            rc = 0; /* not supported: none */
        else if (rc < 0)
            tarn__error_set(err, rc, "%s", e.message);
        else
            rc = tarn__xml_each(sb_str(&r.response), r.response.len, "Upload", on_upload, out);
        tarn_error_clear(&e);
        strbuf trunc = {0};
        key_marker.len = id_marker.len = 0;
        int more =
            rc == 0 && r.status < 300 &&
            tarn__xml_text(&trunc, sb_str(&r.response), r.response.len, "IsTruncated") &&
            !strcmp(sb_str(&trunc), "true") &&
            tarn__xml_text(&key_marker, sb_str(&r.response), r.response.len, "NextKeyMarker") &&
            tarn__xml_text(&id_marker, sb_str(&r.response), r.response.len, "NextUploadIdMarker");
        sb_free(&trunc);
        tarn__s3_req_clear(&r);
        sb_free(&q);
        if (!more) break;
    }
    sb_free(&key_marker);
    sb_free(&id_marker);
    return rc;
}

static int s3_list(tarn_store *st, int (*cb)(const char *, int64_t, int64_t, void *), void *ctx,
                   tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    const tarn_s3_target *t = target(s);
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s%s", t->prefix, t->prefix[0] ? "/" : "");
    TARN_RETURN_NOT_OK(tarn__s3_list(s->client, prefix, strlen(prefix), cb, ctx, err));
    int rc = 0;
    DIR *d = opendir(s->tmpdir);
    struct dirent *de;
    while (d && rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[PATH_MAX * 2], key[600];
        snprintf(path, sizeof path, "%s/%s", s->tmpdir, de->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        snprintf(key, sizeof key, "tmp/%s", de->d_name);
        rc = cb(key, (int64_t)sb.st_size, (int64_t)sb.st_mtime, ctx);
    }
    if (d) closedir(d);
    uploads u = {0};
    if (rc == 0) rc = list_uploads(s, &u, err);
    for (size_t i = 0; rc == 0 && i < u.n; i++) {
        char key[600];
        snprintf(key, sizeof key, "tmp/%s", last_part(u.v[i].object));
        rc = cb(key, 0, u.v[i].initiated_s, ctx);
    }
    uploads_free(&u);
    return rc;
}

/* ---- removal ------------------------------------------------------------- */

/* A temporary: this host's local file and any unfinished upload of a key
 * ending in the same name. */
static int remove_tmp(s3_store *s, const char *name, tarn_error *err)
{
    if (strchr(name, '/') || !*name || name[0] == '.')
        return tarn__error_set(err, TARN_EINVALID, "invalid temporary name '%s'", name);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", s->tmpdir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return tarn__error_set(err, TARN_EIO, "cannot delete '%s': %s", path, strerror(errno));
    uploads u = {0};
    int rc = list_uploads(s, &u, err);
    for (size_t i = 0; rc == 0 && i < u.n; i++)
        if (!strcmp(last_part(u.v[i].object), name)) abort_upload(s, u.v[i].object, u.v[i].id);
    uploads_free(&u);
    return rc;
}

static int s3_remove(tarn_store *st, const char *key, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    if (!strncmp(key, "tmp/", 4)) return remove_tmp(s, key + 4, err);
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char object[1200];
    object_of(object, sizeof object, s, key);
    tarn_s3_req r;
    tarn__s3_req_init(&r, "DELETE", object);
    int rc = tarn__s3_perform(s->client, &r, 1, err);
    if (rc == TARN_ENOTFOUND) {
        rc = 0;
        tarn_error_clear(err);
    }
    tarn__s3_req_clear(&r);
    return rc;
}

typedef struct delete_errors {
    strbuf *msg;
    int n;
} delete_errors;

static int on_delete_error(const char *xml, size_t len, void *ctx)
{
    delete_errors *d = ctx;
    strbuf key = {0}, code = {0};
    tarn__xml_text(&key, xml, len, "Key");
    tarn__xml_text(&code, xml, len, "Code");
    if (d->n++ == 0) sb_printf(d->msg, "'%s' (%s)", sb_str(&key), sb_str(&code));
    sb_free(&key);
    sb_free(&code);
    return 0;
}

/* One DeleteObjects request for KEYS[0..N) (N <= 1000); a server without
 * it gets one DELETE per key, in parallel. */
static int delete_batch(s3_store *s, const char *const *keys, size_t n, tarn_error *err)
{
    strbuf body = {0};
    sb_append(&body, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        char object[1200];
        object_of(object, sizeof object, s, keys[i]);
        sb_append(&body, "<Object><Key>");
        xml_escape(&body, object);
        sb_append(&body, "</Key></Object>");
    }
    sb_append(&body, "</Delete>");
    char md5[32];
    tarn__s3_md5_mem(md5, body.s, body.len);
    tarn_s3_req r;
    tarn__s3_req_init(&r, "POST", NULL);
    r.query = "delete";
    r.body = body.s;
    r.body_len = body.len;
    r.content_md5 = md5;
    tarn_error e = TARN_ERROR_INIT;
    int rc = tarn__s3_perform(s->client, &r, 1, &e);
    if (rc < 0 && (r.status == 501 || r.status == 405)) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = s3_remove(&s->base, keys[i], err);
    } else if (rc < 0) {
        tarn__error_set(err, rc, "%s", e.message);
    } else {
        strbuf msg = {0};
        delete_errors d = {&msg, 0};
        tarn__xml_each(sb_str(&r.response), r.response.len, "Error", on_delete_error, &d);
        if (d.n)
            rc = tarn__error_set(err, TARN_EIO,
                                 "S3 did not delete %d of %zu objects in s3://%s, e.g. %s", d.n, n,
                                 target(s)->bucket, sb_str(&msg));
        sb_free(&msg);
    }
    tarn_error_clear(&e);
    tarn__s3_req_clear(&r);
    sb_free(&body);
    return rc;
}

static int s3_remove_many(tarn_store *st, const char *const *keys, size_t n, tarn_error *err)
{
    s3_store *s = (s3_store *)st;
    size_t most = (size_t)target(s)->delete_batch;
    const char **batch = calloc(n ? (n < most ? n : most) : 1, sizeof *batch);
    if (!batch) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    size_t nb = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!strncmp(keys[i], "tmp/", 4)) {
            rc = remove_tmp(s, keys[i] + 4, err);
            continue;
        }
        if (!key_ok(keys[i])) {
            rc = tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", keys[i]);
            break;
        }
        batch[nb++] = keys[i];
        if (nb == most) {
            rc = delete_batch(s, batch, nb, err);
            nb = 0;
        }
    }
    if (rc == 0 && nb) rc = delete_batch(s, batch, nb, err);
    free(batch);
    return rc;
}

static void s3_close(tarn_store *st)
{
    s3_store *s = (s3_store *)st;
    if (s->added) tarn__cache_trim(s->cache, NULL, NULL);
    tarn__cache_close(&s->cache);
    tarn__s3_close(&s->client);
    free(s);
}

static const tarn_store_vtable S3_VTABLE = {
    .version = TARN_STORE_VTABLE_VERSION,
    .write_path = s3_write_path,
    .publish = s3_publish,
    .read_url = s3_read_url,
    .local_path = s3_local_path,
    .list = s3_list,
    .remove = s3_remove,
    .stat = s3_stat,
    .close = s3_close,
    .prefetch = s3_prefetch,
    .remove_many = s3_remove_many,
};

/* ---- opening ------------------------------------------------------------- */

/* cache.dir, else $XDG_CACHE_HOME/tarn, else ~/.cache/tarn, else the
 * lakehouse's own .tarn/cache. */
static int cache_open(tarn_cache **out, tarn_lake *lake, tarn_error *err)
{
    char dir[PATH_MAX];
    tarn__cache_folder(dir, sizeof dir, lake);
    double gb = 10;
    const char *m = tarn_lake_config(lake, "cache.max_gb");
    if (m && *m) {
        char *end = NULL;
        gb = strtod(m, &end);
        if (!end || *end || !(gb > 0) || gb > 1e6)
            return tarn__error_set(
                err, TARN_EINVALID,
                "cache.max_gb = '%s' in .tarn/config: expected a positive number of GB", m);
    }
    return tarn__cache_open(out, dir, (int64_t)(gb * 1073741824.0), err);
}

int tarn__store_s3_open(tarn_store **out, tarn_lake *lake, const char *url, tarn_error *err)
{
    *out = NULL;
    s3_store *s = calloc(1, sizeof *s);
    if (!s) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    s->base.vt = &S3_VTABLE;
    snprintf(s->tmpdir, sizeof s->tmpdir, "%s/objects/tmp", tarn_lake_path(lake));
    tarn_s3_target t;
    int rc = tarn__s3_target_resolve(&t, lake, url, err);
    if (rc == 0) rc = tarn__s3_open(&s->client, &t, err);
    if (rc == 0) rc = cache_open(&s->cache, lake, err);
    tarn__s3_target_clear(&t);
    if (rc < 0) {
        s3_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static int any_object(const char *key, int64_t size, int64_t mtime_s, void *ctx)
{
    (void)size;
    (void)mtime_s;
    snprintf(ctx, 1100, "%s", key);
    return 1; /* one is enough */
}

int tarn__store_s3_check_new(tarn_lake *lake, const char *url, tarn_error *err)
{
    tarn_s3_target t;
    TARN_RETURN_NOT_OK(tarn__s3_target_resolve(&t, lake, url, err));
    tarn_s3 *client = NULL;
    int rc = tarn__s3_open(&client, &t, err);
    char prefix[1100], found[1100] = "";
    snprintf(prefix, sizeof prefix, "%s%s", t.prefix, t.prefix[0] ? "/" : "");
    if (rc == 0) rc = tarn__s3_list(client, prefix, 0, any_object, found, err);
    if (rc == 1 || (rc == 0 && found[0]))
        rc = tarn__error_set(
            err, TARN_EEXISTS,
            "%s already holds objects (e.g. '%s'), perhaps another lakehouse's data: choose an "
            "empty prefix (s3://%s/NEW-PREFIX)",
            url, found, t.bucket);
    tarn__s3_close(&client);
    tarn__s3_target_clear(&t);
    return rc;
}
