/* table.c — `tarn table ls | get | rm | import | revert` (and the Iceberg
 * subcommands of iceberg.c).
 *
 * Every write (import, rm, revert) is one commit on a branch; the command
 * prints the table and the new commit. Import shows its progress on a
 * terminal from the library's callback. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static json_t *table_json(const tarn_table_info *t)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < t->ncolumns; i++)
        json_array_append_new(cols, json_pack("{s:o, s:o}", "name", out_jstr(t->columns[i].name),
                                              "type", out_jstr(t->columns[i].type)));
    json_t *o =
        json_pack("{s:o, s:o, s:o, s:I, s:I, s:I}", "name", out_jstr(t->name), "namespace",
                  out_jstr(t->namespace_), "columns", cols, "row_count", (json_int_t)t->row_count,
                  "file_count", (json_int_t)t->file_count, "size_bytes", (json_int_t)t->size_bytes);
    if (t->version) json_object_set_new(o, "version", json_string(t->version));
    return o;
}

static int run_ls(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_table_info *list = NULL;
    size_t n = 0;
    int rc = tarn_table_list(&list, &n, lake, cli_get(a, "ref"), &err);
    if (rc == 0 && out_json_mode) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, table_json(&list[i]));
        out_json(arr);
    } else if (rc == 0 && n > 0) {
        out_table t;
        out_table_init(&t, 4);
        t.right[1] = t.right[2] = t.right[3] = 1;
        out_table_add(&t, (const char *[]){"NAME", "ROWS", "FILES", "SIZE"});
        for (size_t i = 0; i < n; i++) {
            char rows[24], files[24], size[24];
            snprintf(rows, sizeof rows, "%lld", (long long)list[i].row_count);
            snprintf(files, sizeof files, "%lld", (long long)list[i].file_count);
            out_table_add(&t, (const char *[]){list[i].name, rows, files,
                                               out_size(size, list[i].size_bytes)});
        }
        out_table_print(&t, stdout, 0);
        out_table_free(&t);
    }
    tarn_table_info_free(list, n);
    return cli_done(&lake, rc, &err);
}

static int run_get(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_table_info info;
    memset(&info, 0, sizeof info);
    int rc = tarn_table_get(&info, lake, cli_get(a, "ref"), a->pos[0], &err);
    if (rc == 0 && out_json_mode) {
        out_json(table_json(&info));
    } else if (rc == 0) {
        char rows[24], files[24], size[24];
        snprintf(rows, sizeof rows, "%lld", (long long)info.row_count);
        snprintf(files, sizeof files, "%lld", (long long)info.file_count);
        out_table t;
        out_table_init(&t, 2);
        out_table_add(&t, (const char *[]){"table", info.name});
        out_table_add(&t, (const char *[]){"namespace", info.namespace_});
        if (info.version) out_table_add(&t, (const char *[]){"version", info.version});
        out_table_add(&t, (const char *[]){"rows", rows});
        out_table_add(&t, (const char *[]){"files", files});
        out_table_add(&t, (const char *[]){"size", out_size(size, info.size_bytes)});
        out_table_print(&t, stdout, 0);
        out_table_free(&t);
        printf("\n");
        out_table_init(&t, 2);
        out_table_add(&t, (const char *[]){"COLUMN", "TYPE"});
        for (size_t i = 0; i < info.ncolumns; i++)
            out_table_add(&t, (const char *[]){info.columns[i].name, info.columns[i].type});
        out_table_print(&t, stdout, 0);
        out_table_free(&t);
    }
    tarn_table_info_clear(&info);
    return cli_done(&lake, rc, &err);
}

/* rm and revert both end with a commit on a branch. */
static void print_commit(const char *verb, const char *table, const tarn_commit_id *id)
{
    char sh[13];
    if (out_json_mode)
        out_json(json_pack("{s:o, s:s}", "table", out_jstr(table), "commit", id->hex));
    else
        printf("%s %s (commit %s)\n", verb, table, out_short(sh, id->hex));
}

static int run_rm(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    tarn_commit_options co;
    char *props = NULL;
    cli_commit_options(&co, &props, a);
    int rc = tarn_table_delete(&id, lake, a->pos[0], cli_get(a, "branch"), &co, &err);
    free(props);
    if (rc == 0) print_commit("Removed table", a->pos[0], &id);
    return cli_done(&lake, rc, &err);
}

static int run_revert(const cli_args *a)
{
    const char *source = cli_get(a, "source-ref");
    if (!source) return cli_usage_error(a->cmd, "missing --source-ref REF");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    tarn_commit_options co;
    char *props = NULL;
    cli_commit_options(&co, &props, a);
    int rc = tarn_table_revert(&id, lake, a->pos[0], source, cli_get(a, "into-branch"), &co, &err);
    free(props);
    if (rc == 0 && out_json_mode) {
        out_json(json_pack("{s:o, s:o, s:s}", "table", out_jstr(a->pos[0]), "source_ref",
                           out_jstr(source), "commit", id.hex));
    } else if (rc == 0) {
        char sh[13];
        printf("Reverted %s to its state at %s (commit %s)\n", a->pos[0], source,
               out_short(sh, id.hex));
    }
    return cli_done(&lake, rc, &err);
}

/* Progress on stderr. The library calls this from another thread: the
 * atomic exchange lets exactly one caller draw each new percentage, and a
 * single write(2) keeps each redraw whole. */
typedef struct progress {
    const char *table;
    atomic_int percent; /* the last one drawn; -1: none yet */
} progress;

static void on_progress(double fraction, void *ctx)
{
    progress *p = ctx;
    int pct = fraction <= 0 ? 0 : fraction >= 1 ? 100 : (int)(fraction * 100);
    if (atomic_exchange(&p->percent, pct) == pct) return;
    char line[320];
    int n = snprintf(line, sizeof line, "\rimporting %s: %d%%", p->table, pct);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    if (write(STDERR_FILENO, line, (size_t)n) < 0) return;
}

/* --column-types "id=BIGINT,price=DECIMAL(10,2)": pairs split at the commas
 * outside parentheses, each at its first '='. Returns 0 or a usage error. */
static int parse_column_types(tarn_column **out, size_t *n, char **text, const cli_args *a)
{
    *out = NULL;
    *n = 0;
    *text = NULL;
    const char *spec = cli_get(a, "column-types");
    if (!spec) return 0;
    char *s = *text = out_xstrdup(spec);
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    *out = out_xmalloc(cap * sizeof **out);
    int depth = 0;
    char *item = s;
    for (char *p = s;; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        if (*p && (*p != ',' || depth > 0)) continue;
        int last = !*p;
        *p = 0;
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1])
            return cli_usage_error(a->cmd, "--column-types wants NAME=TYPE,..., not '%s'", item);
        *eq = 0;
        (*out)[*n].name = item;
        (*out)[(*n)++].type = eq + 1;
        if (last) break;
        item = p + 1;
    }
    return 0;
}

/* The CSV options of `table import` into OPTS (strings stay argv's). */
static int csv_options(tarn_import_options *opts, const cli_args *a)
{
    opts->delimiter = cli_get(a, "delimiter");
    if (cli_has(a, "header") && cli_has(a, "no-header"))
        return cli_usage_error(a->cmd, "--header and --no-header exclude each other");
    opts->header = cli_has(a, "header")      ? TARN_CSV_HEADER_YES
                   : cli_has(a, "no-header") ? TARN_CSV_HEADER_NO
                                             : TARN_CSV_HEADER_AUTO;
    opts->null_string = cli_get(a, "null");
    opts->encoding = cli_get(a, "encoding");
    opts->quote = cli_get(a, "quote");
    opts->escape = cli_get(a, "escape");
    int64_t skip = 0;
    int rc = cli_get_int(&skip, a, "skip", 0);
    opts->skip = skip;
    return rc;
}

static int run_import(const cli_args *a)
{
    const char *table = a->pos[0], *from = cli_get(a, "from"), *mode = cli_get(a, "mode");
    const char *format = cli_get(a, "format");
    tarn_import_options opts = TARN_IMPORT_OPTIONS_INIT;
    if (!from) return cli_usage_error(a->cmd, "missing --from PATH");
    int urc = csv_options(&opts, a);
    if (urc) return urc;
    if (!mode || strcmp(mode, "create") == 0)
        opts.mode = TARN_IMPORT_CREATE;
    else if (strcmp(mode, "append") == 0)
        opts.mode = TARN_IMPORT_APPEND;
    else if (strcmp(mode, "replace") == 0)
        opts.mode = TARN_IMPORT_REPLACE;
    else
        return cli_usage_error(a->cmd, "--mode is create, append or replace, not '%s'", mode);
    if (format && strcmp(format, "csv") && strcmp(format, "parquet") && strcmp(format, "json"))
        return cli_usage_error(a->cmd, "--format is csv, parquet or json, not '%s'", format);
    opts.format = format;
    tarn_commit_options co;
    char *props = NULL;
    cli_commit_options(&co, &props, a);
    opts.commit = &co;
    progress p = {.table = table};
    atomic_init(&p.percent, -1);
    if (!out_json_mode && isatty(STDERR_FILENO)) {
        opts.progress = on_progress;
        opts.progress_ctx = &p;
    }

    tarn_column *types = NULL;
    char *types_text = NULL;
    if ((urc = parse_column_types(&types, &opts.ncolumn_types, &types_text, a))) {
        free(types);
        free(types_text);
        return urc;
    }
    opts.column_types = types;

    tarn_lake *lake;
    if (cli_open_lake(&lake)) {
        free(types);
        free(types_text);
        return 1;
    }
    tarn_error err = TARN_ERROR_INIT;
    tarn_import_result r;
    memset(&r, 0, sizeof r);
    int rc = tarn_table_import(&r, lake, table, from, cli_get(a, "branch"), &opts, &err);
    free(props);
    free(types);
    free(types_text);
    if (atomic_load(&p.percent) >= 0) fputs("\r\033[K", stderr); /* clear the progress line */
    if (rc == 0 && out_json_mode) {
        out_json(json_pack("{s:o, s:s, s:I, s:I}", "table", out_jstr(table), "commit", r.commit.hex,
                           "rows", (json_int_t)r.rows, "files", (json_int_t)r.files));
    } else if (rc == 0) {
        char sh[13];
        printf("imported %lld row%s into %s (commit %s)\n", (long long)r.rows, r.rows == 1 ? "" : "s", table,
               out_short(sh, r.commit.hex));
    }
    return cli_done(&lake, rc, &err);
}

static const cli_cmd ls_cmd = {
    .path = "table ls",
    .synopsis = "[--ref REF]",
    .summary = "List the tables at REF with their rows, data files and size.",
    .opts = {{"ref", 0, "REF", "branch, tag or commit (default: the active branch)"}},
    .example = "tarn table ls --ref main",
};
static const cli_cmd get_cmd = {
    .path = "table get",
    .synopsis = "NAME [--ref REF]",
    .summary = "Show a table's columns and counts at REF.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"ref", 0, "REF", "branch, tag or commit (default: the active branch)"}},
    .example = "tarn table get default.trips --ref v1",
};
static const cli_cmd rm_cmd = {
    .path = "table rm",
    .synopsis = "NAME [--branch B] [-m MSG] [--body TEXT] [--property K=V]...",
    .summary = "Remove a table from branch B in a new commit (history keeps it).",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"branch", 0, "B", "the branch to commit on (default: the active branch)"},
             CLI_COMMIT_OPTS},
    .example = "tarn table rm trips --branch dev",
};
static const cli_cmd import_cmd = {
    .path = "table import",
    .synopsis = "NAME --from PATH [--branch B] [--mode create|append|replace] "
                "[--format csv|parquet|json] [-m MSG] [--body TEXT] [--property K=V]... "
                "[CSV options]",
    .summary = "Import a CSV, Parquet or JSON file (plain or gzip; a quoted glob for several) "
               "into table NAME. The rows are written as Parquet data files and committed on "
               "branch B in one commit. Nothing is dropped silently: a CSV line whose fields do "
               "not match the header, or a value that does not fit its column, fails the import "
               "with its line number and changes nothing; the CSV options below read a file "
               "that tarn cannot read unaided. An append casts types that widen without "
               "changing a value (INTEGER to BIGINT, whole numbers to DOUBLE) and refuses others.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"from", 0, "PATH", "the file to read (required)"},
             {"branch", 0, "B", "the branch to commit on (default: the active branch)"},
             {"mode", 0, "MODE", "create (default: the table must not exist), append or replace"},
             {"format", 0, "FORMAT", "csv, parquet or json (default: from the file's extension)"},
             CLI_COMMIT_OPTS,
             {"delimiter", 0, "D",
              "CSV: the field separator (default: , tab ; or |, the one the first lines agree on; "
              "\\t is a tab)"},
             {"header", 0, NULL, "CSV: the first line names the columns (default: detected)"},
             {"no-header", 0, NULL, "CSV: no header line; columns are column0, column1, ..."},
             {"null", 0, "TEXT", "CSV: fields with this text are NULL (empty fields always are)"},
             {"column-types", 0, "COL=TYPE,...",
              "CSV: types for these columns instead of detected ones"},
             {"skip", 0, "N", "CSV: skip N lines before the header"},
             {"encoding", 0, "E", "CSV: utf-8 (default) or latin-1"},
             {"quote", 0, "C", "CSV: the quote character (default \")"},
             {"escape", 0, "C", "CSV: escapes a quote inside quotes (default: the quote)"}},
    .example =
        "tarn table import trips --from trips.csv --delimiter ';' --column-types zip=VARCHAR",
};
static const cli_cmd revert_cmd = {
    .path = "table revert",
    .synopsis = "NAME --source-ref REF [--into-branch B] [-m MSG] [--body TEXT] [--property K=V]...",
    .summary = "Restore a table to its state at REF in a new commit on branch B.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"source-ref", 0, "REF", "the branch, tag or commit to restore from (required)"},
             {"into-branch", 0, "B", "the branch to commit on (default: the active branch)"},
             CLI_COMMIT_OPTS},
    .example = "tarn table revert trips --source-ref main~1",
};

static const cli_sub subs[] = {
    {"ls", &ls_cmd, run_ls},
    {"get", &get_cmd, run_get},
    {"rm", &rm_cmd, run_rm},
    {"import", &import_cmd, run_import},
    {"revert", &revert_cmd, run_revert},
    {"export-iceberg", &cli_export_iceberg_cmd, cli_run_export_iceberg},
    {"create-external", &cli_create_external_cmd, cli_run_create_external},
    {NULL, NULL, NULL},
};

int cmd_table(int argc, char **argv)
{
    int urc = cli_take_properties(subs, "rm import revert", &argc, argv);
    if (urc) return urc;
    return cli_run_group("table", "Tables: list, describe, import, remove, revert, export as Iceberg, add from Iceberg.", subs, argc,
                         argv);
}
