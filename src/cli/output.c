/* output.c — printing for the `tarn` command: errors (terminal or JSON),
 * JSON documents, aligned tables and the small formatters every command
 * shares (short hashes, sizes, times). */
#include "output.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int out_json_mode = 0;

void *out_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("tarn: error: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

char *out_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(out_xmalloc(n), s, n);
}

json_t *out_jstr(const char *s)
{
    if (!s) return json_null();
    json_t *v = json_string(s);
    if (v) return v;
    char *fixed = tarn_utf8_repair(s, strlen(s));
    v = json_string(fixed ? fixed : "");
    tarn_free(fixed);
    return v;
}

void out_json(json_t *v)
{
    if (!v) {
        /* Never silently print nothing: a caller passed a value jansson
         * refused. Say so on both streams and fail. */
        fputs("{\n  \"error\": {\n    \"code\": \"error\",\n    \"message\": \"tarn could not "
              "encode its output as JSON\"\n  }\n}\n",
              stdout);
        fputs("tarn: error: could not encode the output as JSON\n", stderr);
        exit(1);
    }
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    fputc('\n', stdout);
    json_decref(v);
}

static json_t *error_object(const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:o}}", "error", "code", code, "message", out_jstr(message));
}

void out_usage_json(const char *message)
{
    out_json(error_object("usage", message));
}

int out_fail(int rc, tarn_error *err)
{
    if (!err->code) err->code = rc; /* a call that forgot to say */
    const char *msg = err->message[0] ? err->message : tarn_strerror(err->code);
    if (out_json_mode) {
        json_t *doc = error_object(tarn_code_name(err->code), msg);
        if (err->ntables) {
            json_t *tables = json_array();
            for (size_t i = 0; i < err->ntables; i++)
                json_array_append_new(tables, out_jstr(err->tables[i]));
            json_object_set_new(json_object_get(doc, "error"), "tables", tables);
        }
        out_json(doc);
    } else {
        fprintf(stderr, "tarn: error: %s\n", msg);
        /* A merge conflict: the message says why; name any table it does not. */
        int header = 0;
        for (size_t i = 0; i < err->ntables; i++) {
            if (strstr(msg, err->tables[i])) continue;
            if (!header++) fputs("conflicting tables:\n", stderr);
            fprintf(stderr, "  %s\n", err->tables[i]);
        }
    }
    tarn_error_clear(err);
    return 1;
}

const char *out_short(char *buf, const char *hex)
{
    snprintf(buf, 13, "%.12s", hex);
    return buf;
}

const char *out_size(char *buf, int64_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) {
        snprintf(buf, 24, "%lld B", (long long)bytes);
        return buf;
    }
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 24, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static struct tm utc(int64_t time_us, long *micros)
{
    int64_t secs = time_us / 1000000, us = time_us % 1000000;
    if (us < 0) {
        us += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (micros) *micros = (long)us;
    return tm;
}

const char *out_iso_time(char *buf, int64_t time_us)
{
    long us;
    struct tm tm = utc(time_us, &us);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%06ldZ", us);
    return buf;
}

const char *out_git_time(char *buf, int64_t time_us)
{
    struct tm tm = utc(time_us, NULL);
    char day[8], clock[16];
    strftime(day, sizeof day, "%a %b", &tm);
    strftime(clock, sizeof clock, "%H:%M:%S %Y", &tm);
    snprintf(buf, 40, "%s %d %s +0000", day, tm.tm_mday, clock);
    return buf;
}

/* ---- aligned tables ---------------------------------------------------- */

void out_table_init(out_table *t, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->right = calloc(ncols, sizeof *t->right);
    if (!t->right) exit(1);
}

void out_table_add(out_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
        if (!t->cells) exit(1);
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = out_xstrdup(cells[c] ? cells[c] : "");
    t->nrows++;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

void out_table_print(const out_table *t, FILE *f, int grid)
{
    size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (!w) exit(1);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = width(t->cells[r * t->ncols + c]);
            if (cw > w[c]) w[c] = cw;
        }
    const char *gap = grid ? " | " : "  ";
    for (size_t r = 0; r < t->nrows; r++) {
        /* No trailing blanks: a plain row ends at its last non-empty cell. */
        size_t end = t->ncols;
        while (!grid && end > 1 && !t->cells[r * t->ncols + end - 1][0])
            end--;
        if (grid) fputc(' ', f);
        for (size_t c = 0; c < end; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t fill = w[c] - width(cell);
            int last = c + 1 == end;
            if (t->right[c]) pad(f, fill);
            fputs(cell, f);
            if (!t->right[c] && !last) pad(f, fill);
            if (!last) fputs(gap, f);
        }
        fputc('\n', f);
        if (grid && r == 0) {
            for (size_t c = 0; c < t->ncols; c++) {
                for (size_t i = 0; i < w[c] + 2; i++)
                    fputc('-', f);
                if (c + 1 < t->ncols) fputc('+', f);
            }
            fputc('\n', f);
        }
    }
    free(w);
}

void out_table_free(out_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->right);
    memset(t, 0, sizeof *t);
}
