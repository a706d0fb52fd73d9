/* gc.c — `tarn gc [--dry-run] [--grace SECONDS]`: delete the data files no
 * branch or tag reaches (nor, within the grace period, a ref's recent
 * past) and no live writer has claimed as an upload in flight. */
#include <stdio.h>

#include "cli.h"

typedef struct gc_ctx {
    int dry_run;
    json_t *files; /* JSON mode: the keys */
} gc_ctx;

static void on_file(const char *key, int64_t size_bytes, void *ctx)
{
    gc_ctx *g = ctx;
    char size[24];
    if (g->files)
        json_array_append_new(g->files, out_jstr(key));
    else if (g->dry_run)
        printf("would remove %s (%s)\n", key, out_size(size, size_bytes));
}

static int run_gc(const cli_args *a)
{
    tarn_gc_options opts = TARN_GC_OPTIONS_INIT;
    if (cli_get_int(&opts.grace_seconds, a, "grace", 0)) return CLI_EXIT_USAGE;
    gc_ctx g = {cli_has(a, "dry-run"), out_json_mode ? json_array() : NULL};
    opts.dry_run = g.dry_run;
    opts.on_file = on_file;
    opts.ctx = &g;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) {
        json_decref(g.files);
        return 1;
    }
    tarn_error err = TARN_ERROR_INIT;
    tarn_gc_result r = {0};
    int rc = tarn_gc(&r, lake, &opts, &err);
    if (rc == 0 && out_json_mode) {
        out_json(json_pack("{s:O, s:I, s:I, s:b, s:I, s:I, s:I}", "files", g.files, "count",
                           (json_int_t)r.files, "bytes", (json_int_t)r.bytes, "dry_run", g.dry_run,
                           "kept_recent", (json_int_t)r.kept_recent, "referenced",
                           (json_int_t)r.referenced, "in_flight", (json_int_t)r.in_flight));
    } else if (rc == 0) {
        char size[24];
        printf("%s %lld unreferenced files (%s); kept %lld referenced, %lld uploads in flight, %lld inside the "
               "grace period\n",
               g.dry_run ? "would remove" : "removed", (long long)r.files, out_size(size, r.bytes),
               (long long)r.referenced, (long long)r.in_flight, (long long)r.kept_recent);
    }
    json_decref(g.files);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd gc_cmd = {
    .path = "gc",
    .synopsis = "[--dry-run] [--grace SECONDS]",
    .summary = "Delete data files that no branch or tag references (nor where a ref pointed within the "
               "grace period) and that no running writer is uploading. Files that are or will be "
               "committed are never deleted, whatever the grace.",
    .opts = {{"dry-run", 0, NULL, "list the files, delete nothing"},
             {"grace", 0, "SECONDS",
              "keep deleted refs' data and unreferenced files this long (default: 3600)"}},
    .example = "tarn gc --dry-run --grace 0",
};

int cmd_gc(int argc, char **argv)
{
    return cli_run(&gc_cmd, run_gc, argc, argv);
}
