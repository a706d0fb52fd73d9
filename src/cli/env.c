/* env.c — `tarn env ls | gc`: the package cache behind assembled
 * environments. */
#include <stdio.h>
#include <time.h>

#include "cli.h"

static void print_age(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, stdout);
}

static int env_ls(const cli_args *a)
{
    (void)a;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_env_list(&text, lake, &err);
    if (rc == 0) {
        json_t *cache = json_loads(text, 0, NULL);
        if (out_json_mode) {
            out_json(cache);
        } else {
            size_t i;
            json_t *e;
            printf("environments:\n");
            json_array_foreach(json_object_get(cache, "environments"), i, e)
            {
                printf("  %.12s  Python %s  last used ", json_string_value(json_object_get(e, "id")),
                       json_string_value(json_object_get(e, "python")));
                print_age(json_integer_value(json_object_get(e, "last_used")));
                const char *pkg;
                json_t *v;
                json_object_foreach(json_object_get(e, "packages"), pkg, v)
                    printf("  %s==%s", pkg, json_string_value(v));
                printf("\n");
            }
            printf("packages:\n");
            json_array_foreach(json_object_get(cache, "packages"), i, e)
            {
                char size[24];
                printf("  %-48s %10s  last used ", json_string_value(json_object_get(e, "name")),
                       out_size(size, json_integer_value(json_object_get(e, "size_bytes"))));
                print_age(json_integer_value(json_object_get(e, "last_used")));
                printf("\n");
            }
            json_decref(cache);
        }
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static int env_gc(const cli_args *a)
{
    int64_t days = 30;
    if (cli_get_int(&days, a, "keep-days", 0)) return CLI_EXIT_USAGE;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_env_gc(&text, lake, days * 86400, cli_has(a, "dry-run"), &err);
    if (rc == 0) {
        json_t *res = json_loads(text, 0, NULL);
        if (out_json_mode) {
            out_json(res);
        } else {
            char size[24];
            printf("%s %zu environments and %zu package entries (%s)\n",
                   cli_has(a, "dry-run") ? "would remove" : "removed",
                   json_array_size(json_object_get(res, "environments")),
                   json_array_size(json_object_get(res, "packages")),
                   out_size(size, json_integer_value(json_object_get(res, "bytes"))));
            json_decref(res);
        }
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd env_ls_cmd = {
    .path = "env ls", .synopsis = "", .summary = "List assembled environments and cached packages.",
    .example = "tarn env ls"};
static const cli_cmd env_gc_cmd = {
    .path = "env gc", .synopsis = "[--keep-days N] [--dry-run]",
    .summary = "Remove cached packages and environments no run used in the last N days.",
    .opts = {{"keep-days", 0, "N", "keep what a run used within N days (default 30)"},
             {"dry-run", 0, NULL, "list, remove nothing"}},
    .example = "tarn env gc --keep-days 7"};

int cmd_env(int argc, char **argv)
{
    static const cli_sub subs[] = {{"ls", &env_ls_cmd, env_ls}, {"gc", &env_gc_cmd, env_gc}, {NULL, NULL, NULL}};
    return cli_run_group("env", "Environments: packages assembled per model from a local cache.", subs,
                         argc, argv);
}
