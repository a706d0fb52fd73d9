/* server/api_query.c — SQL on a ref, its result streamed as it is made:
 * Arrow IPC (application/vnd.apache.arrow.stream, tarn's own encoder),
 * JSON or CSV. Each query holds one of the server's query slots (429 when
 * they and the queue are taken), runs confined like every user query (the
 * tables of its ref that it names, nothing else on the host), under the
 * server's memory and time limits. A failure after the first byte cuts the
 * connection, so a partial result is never taken as whole. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tarn/arrow.h>

#include "server/server.h"

#define ARROW_TYPE "application/vnd.apache.arrow.stream"

enum { FMT_ARROW, FMT_JSON, FMT_CSV };

typedef struct qstream {
    srv *s;
    tarn_query_stream *q;
    int format;
    int64_t max_rows, rows;
    int all_text;         /* JSON: every value a string, as the text a local query keeps */
    int truncated, phase; /* 0 header, 1 rows, 2 done */
    tarn_arrow_writer *w;
    char *text; /* JSON or CSV waiting to be sent */
    size_t tlen, tcap, toff;
    const uint8_t *lent; /* Arrow bytes lent by the writer */
    size_t llen, loff;
    char *large; /* per text column: large utf8 (64-bit offsets) */
    tarn_error failed; /* why the stream was cut */
} qstream;

static int oom(tarn_error *err)
{
    if (err) {
        err->code = TARN_ENOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    return TARN_ENOMEM;
}

static int put(qstream *q, const char *s, size_t n)
{
    if (q->tlen + n + 1 > q->tcap) {
        size_t cap = q->tcap ? q->tcap : 65536;
        while (cap < q->tlen + n + 1) cap *= 2;
        char *t = realloc(q->text, cap);
        if (!t) return -1;
        q->text = t;
        q->tcap = cap;
    }
    memcpy(q->text + q->tlen, s, n);
    q->tlen += n;
    return 0;
}

static int puts_(qstream *q, const char *s)
{
    return put(q, s, strlen(s));
}

static int put_json_string(qstream *q, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (!v) {
        char *fixed = tarn_utf8_repair(s, n);
        v = json_string(fixed ? fixed : "");
        tarn_free(fixed);
    }
    char *enc = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    json_decref(v);
    int rc = enc ? puts_(q, enc) : -1;
    free(enc);
    return rc;
}

static int put_csv_field(qstream *q, const char *s, size_t n)
{
    int quote = n == 0 ? 0 : memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) || memchr(s, '\r', n);
    if (!quote) return put(q, s, n);
    int rc = put(q, "\"", 1);
    for (size_t i = 0; i < n && rc == 0; i++) rc = s[i] == '"' ? put(q, "\"\"", 2) : put(q, s + i, 1);
    return rc == 0 ? put(q, "\"", 1) : rc;
}

/* Value I of a text column (utf8 or large utf8); NULL for SQL NULL. */
static const char *text_at(const struct ArrowArray *a, int large, int64_t i, size_t *len)
{
    int64_t j = i + a->offset;
    const uint8_t *valid = a->buffers[0];
    if (a->null_count != 0 && valid && !((valid[j >> 3] >> (j & 7)) & 1)) return NULL;
    const char *data = a->buffers[2];
    if (large) {
        const int64_t *off = a->buffers[1];
        *len = (size_t)(off[j + 1] - off[j]);
        return data ? data + off[j] : "";
    }
    const int32_t *off = a->buffers[1];
    *len = (size_t)(off[j + 1] - off[j]);
    return data ? data + off[j] : "";
}

static int text_header(qstream *q)
{
    size_t n = tarn_query_stream_column_count(q->q);
    int rc = 0;
    if (q->format == FMT_JSON) {
        rc = puts_(q, "{\"columns\":[");
        for (size_t c = 0; c < n && rc == 0; c++) {
            const char *name = tarn_query_stream_column_name(q->q, c), *type = tarn_query_stream_column_type(q->q, c);
            rc = puts_(q, c ? ",{\"name\":" : "{\"name\":");
            if (rc == 0) rc = put_json_string(q, name, strlen(name));
            if (rc == 0) rc = puts_(q, ",\"type\":");
            if (rc == 0) rc = put_json_string(q, type, strlen(type));
            if (rc == 0) rc = puts_(q, "}");
        }
        if (rc == 0) rc = puts_(q, "],\"rows\":[");
        return rc;
    }
    for (size_t c = 0; c < n && rc == 0; c++) {
        const char *name = tarn_query_stream_column_name(q->q, c);
        if (c) rc = put(q, ",", 1);
        if (rc == 0) rc = put_csv_field(q, name, strlen(name));
    }
    return rc == 0 ? put(q, "\n", 1) : rc;
}

static int text_batch(qstream *q, const struct ArrowArray *b, int64_t nrows)
{
    size_t ncols = tarn_query_stream_column_count(q->q);
    int rc = 0;
    for (int64_t i = 0; i < nrows && rc == 0; i++, q->rows++) {
        if (q->format == FMT_JSON) rc = puts_(q, q->rows ? ",[" : "[");
        for (size_t c = 0; c < ncols && rc == 0; c++) {
            size_t len = 0;
            const struct ArrowArray *col = b->children[c];
            const char *v = text_at(col, q->large[c], i + b->offset, &len);
            if (c) rc = put(q, ",", 1);
            if (rc) break;
            if (q->format == FMT_CSV) {
                if (v) rc = put_csv_field(q, v, len);
                continue;
            }
            tarn_value_kind k =
                q->all_text ? TARN_VALUE_STRING : tarn_query_stream_column_kind(q->q, c);
            if (!v) rc = puts_(q, "null");
            else if (k == TARN_VALUE_BOOLEAN) rc = puts_(q, len && (v[0] == 't' || v[0] == 'T') ? "true" : "false");
            else if ((k == TARN_VALUE_INTEGER || k == TARN_VALUE_FLOAT) && len &&
                     strspn(v, "0123456789-+.eE") >= len)
                rc = put(q, v, len); /* inf and nan stay strings: JSON has no such numbers */
            else rc = put_json_string(q, v, len);
        }
        if (rc == 0) rc = put(q, q->format == FMT_JSON ? "]" : "\n", 1);
    }
    return rc;
}

/* Makes the next piece of the answer; 0 with nothing more once done. */
static int produce(qstream *q, tarn_error *err)
{
    if (q->phase == 0) {
        q->phase = 1;
        if (q->format == FMT_ARROW) {
            struct ArrowSchema schema;
            int rc = tarn_query_stream_schema(&schema, q->q, err);
            if (rc == 0) rc = tarn_arrow_writer_new(&q->w, &schema, err);
            if (schema.release) schema.release(&schema);
            if (rc == 0) tarn_arrow_writer_drain(q->w, &q->lent, &q->llen);
            return rc;
        }
        struct ArrowSchema schema;
        int rc = tarn_query_stream_schema(&schema, q->q, err);
        if (rc < 0) return rc;
        q->large = calloc((size_t)schema.n_children + 1, 1);
        for (int64_t c = 0; q->large && c < schema.n_children; c++)
            q->large[c] = strcmp(schema.children[c]->format, "U") == 0;
        schema.release(&schema);
        if (!q->large || text_header(q) < 0) return oom(err);
        return 0;
    }
    struct ArrowArray batch;
    int rc = 0;
    int64_t left = q->max_rows < 0 ? INT64_MAX : q->max_rows - q->rows;
    if (left > 0) rc = tarn_query_stream_next(&batch, q->q, err);
    else memset(&batch, 0, sizeof batch);
    if (rc < 0) return rc;
    if (!batch.release) {
        /* The end: past max_rows, see whether rows were left out. */
        if (left <= 0) {
            struct ArrowArray more;
            if (tarn_query_stream_next(&more, q->q, NULL) == 0 && more.release) {
                q->truncated = more.length > 0;
                more.release(&more);
            }
        }
        q->phase = 2;
        if (q->format == FMT_ARROW) {
            rc = tarn_arrow_writer_end(q->w, err);
            if (rc == 0) tarn_arrow_writer_drain(q->w, &q->lent, &q->llen);
            return rc;
        }
        if (q->format == FMT_JSON) {
            char tail[96];
            snprintf(tail, sizeof tail, "],\"row_count\":%lld,\"truncated\":%s}\n", (long long)q->rows,
                     q->truncated ? "true" : "false");
            return puts_(q, tail) == 0 ? 0 : oom(err);
        }
        return 0;
    }
    int64_t n = batch.length < left ? batch.length : left;
    if (n < batch.length) {
        q->truncated = 1;
        batch.length = n;
    }
    if (q->format == FMT_ARROW) {
        rc = tarn_arrow_writer_write(q->w, &batch, err);
        q->rows += n;
        if (rc == 0) tarn_arrow_writer_drain(q->w, &q->lent, &q->llen);
    } else {
        rc = text_batch(q, &batch, n) == 0 ? 0 : oom(err);
    }
    batch.release(&batch);
    return rc;
}

static ssize_t q_read(void *cls, char *buf, size_t max)
{
    qstream *q = cls;
    for (;;) {
        if (q->loff < q->llen) {
            size_t n = q->llen - q->loff < max ? q->llen - q->loff : max;
            memcpy(buf, q->lent + q->loff, n);
            q->loff += n;
            return (ssize_t)n;
        }
        if (q->toff < q->tlen) {
            size_t n = q->tlen - q->toff < max ? q->tlen - q->toff : max;
            memcpy(buf, q->text + q->toff, n);
            q->toff += n;
            return (ssize_t)n;
        }
        q->toff = q->tlen = 0;
        q->loff = q->llen = 0;
        if (q->phase == 2) return 0;
        tarn_error_clear(&q->failed);
        if (produce(q, &q->failed) < 0) {
            fprintf(stderr, "tarn serve: a query failed while streaming: %s\n", q->failed.message);
            return -1;
        }
    }
}

static const tarn_error *q_failure(void *cls)
{
    return &((qstream *)cls)->failed;
}

static void q_free(void *cls)
{
    qstream *q = cls;
    tarn_error_clear(&q->failed);
    tarn_query_stream_close(&q->q);
    tarn_arrow_writer_free(&q->w);
    srv_gate_leave(&q->s->queries);
    free(q->text);
    free(q->large);
    free(q);
}

/* The whole result written as a Parquet or CSV file by the library (what
 * `tarn query --output` writes), then sent: a remote client's file is
 * byte for byte a local one. The row count is in X-Tarn-Rows. */
static int query_export(srv_req *r, const char *sql, const char *ref, const char *format)
{
    if (!format || (strcmp(format, "parquet") != 0 && strcmp(format, "csv") != 0))
        return srv_reply_msg(r, 400, "invalid", "an export is parquet or csv");
    char path[4200];
    snprintf(path, sizeof path, "%s/export-XXXXXX", r->s->scratch);
    int fd = mkstemp(path);
    if (fd < 0) return srv_reply_msg(r, 500, "io", "cannot make a scratch file for the result");
    close(fd);
    fd = -1;
    int answered = 0, rc = 0;
    int64_t rows = 0;
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *lake = NULL;
    if (srv_gate_enter(&r->s->queries, r->s->o.queue_wait_s) < 0) {
        answered = 1;
        srv_reply_busy(r, "queries");
        goto done;
    }
    rc = srv_lake_get(&lake, r, &err);
    if (rc == 0 && srv_need_read(r, lake, ref) < 0) answered = 1;
    if (rc == 0 && !answered) rc = tarn_query_to_file(&rows, lake, sql, ref, path, format, &err);
    if (rc == 0 && !answered) fd = open(path, O_RDONLY | O_CLOEXEC);
    srv_lake_put(r->s, lake);
    srv_gate_leave(&r->s->queries);
done:
    unlink(path);
    if (answered) return 0;
    if (rc < 0) return srv_reply_error(r, rc, &err);
    if (fd < 0) return srv_reply_msg(r, 500, "io", "cannot read back the written result");
    char count[32];
    snprintf(count, sizeof count, "%lld", (long long)rows);
    return srv_reply_file(
        r, 200, strcmp(format, "csv") == 0 ? "text/csv" : "application/vnd.apache.parquet", fd,
        "X-Tarn-Rows", count);
}

static int query(srv_req *r)
{
    const char *sql = srv_body_str(r, "sql"), *ref = srv_body_str(r, "ref");
    const char *format = srv_body_str(r, "format"), *accept = srv_header(r, "Accept");
    if (!sql || !*sql) return srv_reply_msg(r, 400, "invalid", "give the SQL: {\"sql\": \"SELECT ...\", \"ref\": REF}");
    if (srv_flag(r, "export") && (json_object_get(r->json, "export") || srv_arg(r, "export")))
        return query_export(r, sql, ref, format);
    int fmt = FMT_ARROW;
    if (format ? strcmp(format, "json") == 0 : accept && strstr(accept, "application/json") != NULL) fmt = FMT_JSON;
    else if (format ? strcmp(format, "csv") == 0 : accept && strstr(accept, "text/csv") != NULL) fmt = FMT_CSV;
    else if (format && strcmp(format, "arrow") != 0)
        return srv_reply_msg(r, 400, "invalid", "format is arrow, json or csv");
    int64_t max_rows;
    if (srv_int(&max_rows, r, "max_rows", -1) < 0)
        return srv_reply_msg(r, 400, "invalid", "max_rows must be a number of rows (-1: all)");
    if (srv_gate_enter(&r->s->queries, r->s->o.queue_wait_s) < 0) return srv_reply_busy(r, "queries");
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = srv_lake_get(&lake, r, &err);
    if (rc < 0) {
        srv_gate_leave(&r->s->queries);
        return srv_reply_error(r, rc, &err);
    }
    if (srv_need_read(r, lake, ref) < 0) {
        srv_lake_put(r->s, lake);
        srv_gate_leave(&r->s->queries);
        return 0;
    }
    tarn_query_stream_options o = TARN_QUERY_STREAM_OPTIONS_INIT;
    o.ref = ref;
    o.as_text = fmt != FMT_ARROW;
    o.timeout_ms = r->s->o.query_timeout_ms;
    o.memory_bytes = r->s->o.query_memory;
    o.threads = r->s->o.query_threads;
    qstream *q = calloc(1, sizeof *q);
    rc = q ? tarn_query_stream_open(&q->q, lake, sql, &o, &err) : oom(&err);
    /* The plan is made: the stream reads data files, not the catalog. */
    srv_lake_put(r->s, lake);
    if (rc < 0) {
        free(q);
        srv_gate_leave(&r->s->queries);
        return srv_reply_error(r, rc, &err);
    }
    q->s = r->s;
    q->format = fmt;
    q->max_rows = max_rows;
    q->all_text = srv_flag(r, "text") && (json_object_get(r->json, "text") || srv_arg(r, "text"));
    /* The first rows may take up to the query's time limit to come. */
    srv_set_timeout(r, (unsigned)(r->s->o.query_timeout_ms / 1000 + r->s->o.connection_timeout_s));
    return srv_reply_stream_why(r, 200,
                                fmt == FMT_ARROW ? ARROW_TYPE : fmt == FMT_JSON ? "application/json" : "text/csv",
                                q_read, q, q_free, q_failure);
}

const srv_route srv_api_query[] = {
    {"POST", "/api/v1/query", query, SRV_BODY_JSON, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
