/* query.c — `tarn query SQL | -f FILE.sql`: SQL on any ref.
 *
 * The result prints as an aligned table (numbers right-aligned, NULL as
 * `NULL`, then a row count), as CSV (RFC 4180 quoting) or as JSON with
 * typed values; `--output FILE` writes the whole result as Parquet or CSV
 * instead. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum format { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_PARQUET };

/* Reads PATH ("-": stdin) into a new string; NULL with errno on failure. */
static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t len = 0, cap = 4096;
    char *buf = out_xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown) exit(1);
            buf = grown;
        }
    }
    int failed = ferror(f);
    if (f != stdin) fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* A value as a typed JSON value: numbers and booleans parsed from the text;
 * anything that does not parse (a HUGEINT beyond 64 bits, NaN) stays text. */
static json_t *json_value(const char *v, tarn_value_kind kind)
{
    if (!v) return json_null();
    char *end = NULL;
    errno = 0;
    if (kind == TARN_VALUE_INTEGER) {
        long long i = strtoll(v, &end, 10);
        if (!errno && end != v && !*end) return json_integer(i);
    } else if (kind == TARN_VALUE_FLOAT) {
        double d = strtod(v, &end);
        if (!errno && end != v && !*end && isfinite(d)) return json_real(d);
    } else if (kind == TARN_VALUE_BOOLEAN) {
        if (strcmp(v, "true") == 0) return json_true();
        if (strcmp(v, "false") == 0) return json_false();
    } else if (kind == TARN_VALUE_JSON) { /* a LIST, STRUCT or MAP: nested JSON */
        json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (j) return j;
    }
    return out_jstr(v);
}

static void print_json(const tarn_result *r)
{
    size_t ncols = tarn_result_column_count(r), nrows = tarn_result_row_count(r);
    json_t *cols = json_array(), *rows = json_array();
    for (size_t c = 0; c < ncols; c++)
        json_array_append_new(cols, json_pack("{s:o, s:s}", "name",
                                              out_jstr(tarn_result_column_name(r, c)), "type",
                                              tarn_result_column_type(r, c)));
    for (size_t i = 0; i < nrows; i++) {
        json_t *row = json_array();
        for (size_t c = 0; c < ncols; c++)
            json_array_append_new(
                row, json_value(tarn_result_value(r, i, c), tarn_result_column_kind(r, c)));
        json_array_append_new(rows, row);
    }
    out_json(json_pack("{s:o, s:o, s:b}", "columns", cols, "rows", rows, "truncated",
                       tarn_result_truncated(r)));
}

static void csv_field(const char *v)
{
    if (!v) return; /* NULL: an empty field */
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (*v == '"') putchar('"');
        putchar(*v);
    }
    putchar('"');
}

static void print_csv(const tarn_result *r)
{
    size_t ncols = tarn_result_column_count(r), nrows = tarn_result_row_count(r);
    for (size_t c = 0; c < ncols; c++) {
        if (c) putchar(',');
        csv_field(tarn_result_column_name(r, c));
    }
    putchar('\n');
    for (size_t i = 0; i < nrows; i++) {
        for (size_t c = 0; c < ncols; c++) {
            if (c) putchar(',');
            csv_field(tarn_result_value(r, i, c));
        }
        putchar('\n');
    }
}

/* Terminal cells longer than this (in characters) are cut, ending in
 * "...", unless --no-trunc; JSON and CSV are never cut. */
#define CELL_MAX 60

/* A cell for the terminal: NULL as `NULL`, line breaks and tabs escaped so
 * that one row stays one line, cut at CELL_MAX characters when TRUNC.
 * Returns V itself or BUF (malloc'd, freed by the caller). */
static const char *cell(const char *v, int trunc, char **buf)
{
    *buf = NULL;
    if (!v) return "NULL";
    size_t chars = 0;
    for (const char *s = v; *s; s++) chars += ((unsigned char)*s & 0xC0) != 0x80;
    int cut = trunc && chars > CELL_MAX;
    if (!cut && !strpbrk(v, "\n\r\t")) return v;
    char *o = *buf = out_xmalloc(2 * strlen(v) + 4), *p = o;
    size_t n = 0;
    for (; *v; v++) {
        if (((unsigned char)*v & 0xC0) != 0x80 && cut && ++n > CELL_MAX - 3) break;
        if (*v == '\n' || *v == '\r' || *v == '\t') {
            *p++ = '\\';
            *p++ = *v == '\n' ? 'n' : *v == '\r' ? 'r' : 't';
        } else {
            *p++ = *v;
        }
    }
    if (cut) p += sprintf(p, "...");
    *p = '\0';
    return o;
}

/* A plan (EXPLAIN) prints as DuckDB draws it: each drawing whole. */
static int print_plan(const tarn_result *r)
{
    if (tarn_result_column_count(r) != 2 || strcmp(tarn_result_column_name(r, 0), "explain_key") ||
        strcmp(tarn_result_column_name(r, 1), "explain_value"))
        return 0;
    for (size_t i = 0; i < tarn_result_row_count(r); i++) {
        const char *v = tarn_result_value(r, i, 1);
        printf("%s\n%s\n", tarn_result_value(r, i, 0) ? tarn_result_value(r, i, 0) : "",
               v ? v : "");
    }
    return 1;
}

static void print_table(const tarn_result *r, int trunc)
{
    if (print_plan(r)) return;
    size_t ncols = tarn_result_column_count(r), nrows = tarn_result_row_count(r);
    if (ncols > 0) {
        out_table t;
        out_table_init(&t, ncols);
        const char **row = out_xmalloc(ncols * sizeof *row);
        char **owned = out_xmalloc(ncols * sizeof *owned);
        for (size_t c = 0; c < ncols; c++) {
            tarn_value_kind k = tarn_result_column_kind(r, c);
            t.right[c] = k == TARN_VALUE_INTEGER || k == TARN_VALUE_FLOAT;
            row[c] = tarn_result_column_name(r, c);
        }
        out_table_add(&t, row);
        for (size_t i = 0; i < nrows; i++) {
            for (size_t c = 0; c < ncols; c++)
                row[c] = cell(tarn_result_value(r, i, c), trunc, &owned[c]);
            out_table_add(&t, row);
            for (size_t c = 0; c < ncols; c++)
                free(owned[c]);
        }
        out_table_print(&t, stdout, 1);
        out_table_free(&t);
        free(row);
        free(owned);
    }
    if (tarn_result_truncated(r))
        printf("(showing first %zu rows; use --all-rows or --max-rows N)\n", nrows);
    else
        printf("(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
}

static int run_query(const cli_args *a)
{
    const char *file = cli_get(a, "file"), *output = cli_get(a, "output");
    const char *fmt = cli_get(a, "format");
    if (!file && a->npos == 0) return cli_usage_error(a->cmd, "missing argument SQL (or -f FILE)");
    if (file && a->npos > 0) return cli_usage_error(a->cmd, "give SQL or -f FILE, not both");
    if (cli_has(a, "max-rows") && cli_has(a, "all-rows"))
        return cli_usage_error(a->cmd, "--max-rows and --all-rows exclude each other");
    int64_t max_rows = 10;
    if (cli_get_int(&max_rows, a, "max-rows", 0)) return CLI_EXIT_USAGE;
    if (cli_has(a, "all-rows")) max_rows = -1;

    enum format format = out_json_mode ? FMT_JSON : FMT_TABLE;
    if (fmt && strcmp(fmt, "table") == 0 && !output)
        format = FMT_TABLE;
    else if (fmt && strcmp(fmt, "json") == 0 && !output)
        format = FMT_JSON;
    else if (fmt && strcmp(fmt, "csv") == 0)
        format = FMT_CSV;
    else if (fmt && strcmp(fmt, "parquet") == 0 && output)
        format = FMT_PARQUET;
    else if (fmt)
        return cli_usage_error(a->cmd,
                               "--format is table, json or csv (with --output: csv or "
                               "parquet), not '%s'",
                               fmt);

    char *sql = NULL;
    if (file && !(sql = read_all(file))) {
        tarn_error err = TARN_ERROR_INIT;
        int code = errno == ENOENT ? TARN_ENOTFOUND : TARN_EIO;
        snprintf(err.message, sizeof err.message, "cannot read '%s': %s", file, strerror(errno));
        return out_fail(code, &err);
    }

    tarn_lake *lake;
    if (cli_open_lake(&lake)) {
        free(sql);
        return 1;
    }
    tarn_error err = TARN_ERROR_INIT;
    const char *text = sql ? sql : a->pos[0];
    int rc;
    if (output) {
        int64_t rows = 0;
        rc = tarn_query_to_file(&rows, lake, text, cli_get(a, "ref"), output,
                                format == FMT_CSV       ? "csv"
                                : format == FMT_PARQUET ? "parquet"
                                                        : NULL,
                                &err);
        if (rc == 0 && out_json_mode)
            out_json(json_pack("{s:o, s:I}", "path", out_jstr(output), "rows", (json_int_t)rows));
        else if (rc == 0)
            printf("wrote %lld rows to %s\n", (long long)rows, output);
    } else {
        tarn_query_options opts = TARN_QUERY_OPTIONS_INIT;
        opts.ref = cli_get(a, "ref");
        opts.max_rows = max_rows;
        opts.nested_as_json = format == FMT_JSON; /* LIST, STRUCT, MAP as JSON, not as text */
        tarn_result *r = NULL;
        rc = tarn_query(&r, lake, text, &opts, &err);
        if (rc == 0 && format == FMT_JSON)
            print_json(r);
        else if (rc == 0 && format == FMT_CSV)
            print_csv(r);
        else if (rc == 0)
            print_table(r, !cli_has(a, "no-trunc"));
        tarn_result_free(&r);
    }
    free(sql);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd query_cmd = {
    .path = "query",
    .synopsis = "SQL [--ref REF] [--max-rows N | --all-rows] [--output FILE] "
                "[--format table|json|csv] | -f FILE.sql ...",
    .summary = "Run SQL over the tables it names, as they are at REF: one SELECT, or EXPLAIN "
               "[ANALYZE] of one. With -O json, nested values (lists, structs, maps) are JSON.",
    .pos = {"SQL"},
    .opts = {{"ref", 0, "REF",
              "branch, tag, commit, REF~N or REF@{TIME} (default: the active "
              "branch)"},
             {"max-rows", 0, "N", "print at most N rows (default: 10)"},
             {"all-rows", 0, NULL, "print every row"},
             {"output", 0, "FILE", "write the whole result to FILE (.parquet or .csv)"},
             {"format", 0, "FORMAT", "table (default), json or csv; with --output: csv or parquet"},
             {"file", 'f', "FILE", "read the SQL from FILE ('-': stdin)"},
             {"no-trunc", 0, NULL, "print long values whole (the table format cuts them at 60 characters)"}},
    .example = "tarn query 'SELECT country, sum(usd) FROM trips GROUP BY 1' --ref dev",
};

int cmd_query(int argc, char **argv)
{
    return cli_run(&query_cmd, run_query, argc, argv);
}
