/* remote/query.c — SQL on a server (POST /api/v1/query). Rows kept as text
 * come as JSON with every value a string (the text a local query keeps);
 * an Arrow result streams into a memfd and is sealed, as a local one is
 * made; a result written to a file is written by the server with the same
 * code as locally and streamed into the caller's file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "remote/remote.h"
#include "sql/engine.h"
#include "sql/result.h"
#include "tarn/arrow.h"
#include "util/error.h"

static json_t *query_body(const char *sql, const char *ref, const char *format)
{
    return json_pack("{s:s,s:s,s:s}", "sql", sql ? sql : "", "ref", ref, "format", format);
}

static int result_from(tarn_result **out, json_t *v)
{
    tarn_result *r = calloc(1, sizeof *r);
    if (!r) return TARN_ENOMEM;
    json_t *cols = json_object_get(v, "columns"), *rows = json_object_get(v, "rows");
    r->ncols = json_array_size(cols);
    r->nrows = json_array_size(rows);
    r->truncated = json_is_true(json_object_get(v, "truncated"));
    size_t nc = r->ncols ? r->ncols : 1;
    r->names = calloc(nc, sizeof *r->names);
    r->types = calloc(nc, sizeof *r->types);
    r->kinds = calloc(nc, sizeof *r->kinds);
    r->cells = calloc(r->nrows * r->ncols + 1, sizeof *r->cells);
    int rc = r->names && r->types && r->kinds && r->cells ? 0 : TARN_ENOMEM;
    for (size_t c = 0; rc == 0 && c < r->ncols; c++) {
        json_t *col = json_array_get(cols, c);
        r->names[c] = strdup(tarn_remote__str(col, "name"));
        r->types[c] = strdup(tarn_remote__str(col, "type"));
        if (!r->names[c] || !r->types[c])
            rc = TARN_ENOMEM;
        else
            r->kinds[c] = tarn__query_kind(r->types[c]);
    }
    for (size_t i = 0; rc == 0 && i < r->nrows; i++) {
        json_t *row = json_array_get(rows, i);
        for (size_t c = 0; rc == 0 && c < r->ncols; c++) {
            const char *s = json_string_value(json_array_get(row, c));
            if (s && !(r->cells[i * r->ncols + c] = strdup(s))) rc = TARN_ENOMEM;
        }
    }
    if (rc < 0) {
        tarn_result_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int tarn_remote__query(tarn_result **out, tarn_lake *lake, const char *sql,
                       const tarn_query_options *opts, tarn_error *err)
{
    *out = NULL;
    const char *ref = opts ? opts->ref : NULL;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    json_t *body = query_body(sql, ref, "json");
    json_object_set_new(body, "text", json_true());
    json_object_set_new(body, "max_rows", json_integer(opts ? opts->max_rows : -1));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/query");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "POST", &p, body, err));
    int rc = result_from(out, v);
    json_decref(v);
    return rc < 0 ? tarn__error_set(err, rc, "out of memory reading the result") : 0;
}

int tarn_remote__query_arrow(int *fd, tarn_lake *lake, const char *sql,
                             const tarn_query_options *opts, tarn_error *err)
{
    *fd = -1;
    const char *ref = opts ? opts->ref : NULL;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    int tmp = memfd_create("tarn-query-download", MFD_CLOEXEC);
    if (tmp < 0)
        return tarn__error_set(err, TARN_EIO, "cannot hold the result: %s", strerror(errno));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/query");
    json_t *body = query_body(sql, ref, "arrow");
    if (opts && opts->max_rows >= 0) json_object_set_new(body, "max_rows", json_integer(opts->max_rows));
    int rc = tarn_remote__download(tmp, lake, "POST", &p, body, NULL, NULL, err);
    if (rc == 0) rc = tarn_arrow_shm_copy(fd, tmp, "tarn-query", err);
    close(tmp);
    return rc;
}

int tarn_remote__query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                               const char *path, const char *format, tarn_error *err)
{
    *rows = 0;
    TARN_RETURN_NOT_OK(tarn__query_file_format(&format, path, err));
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    /* Written beside PATH, renamed over it once whole. */
    strbuf tmp = {0};
    sb_printf(&tmp, "%s.tarn-download-%d", path, (int)getpid());
    int fd = open(sb_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
        sb_free(&tmp);
        return rc;
    }
    json_t *body = query_body(sql, ref, format);
    json_object_set_new(body, "export", json_true());
    rm_path p;
    tarn_remote__path(&p, "/api/v1/query");
    char *count = NULL;
    int rc = tarn_remote__download(fd, lake, "POST", &p, body, "X-Tarn-Rows", &count, err);
    if (close(fd) != 0 && rc == 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc == 0 && rename(sb_str(&tmp), path) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc < 0) unlink(sb_str(&tmp));
    if (rc == 0 && count) *rows = strtoll(count, NULL, 10);
    free(count);
    sb_free(&tmp);
    return rc;
}

int tarn_remote__query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                                   const tarn_query_stream_options *opts, tarn_error *err)
{
    (void)lake;
    (void)sql;
    (void)opts;
    *out = NULL;
    return tarn__error_set(
        err, TARN_EINVALID,
        "a query stream runs on the lakehouse's own host (it is what 'tarn serve' answers "
        "with): through a server, use tarn_query_arrow_fd, which receives the server's stream");
}
