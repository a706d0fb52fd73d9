/* info.c — `tarn info` (what this lakehouse is: path, active branch,
 * user, catalog, storage) and `tarn version`. */
#include <stdio.h>

#include "cli.h"

static const cli_cmd info_cmd = {
    .path = "info",
    .synopsis = "",
    .summary = "Show this lakehouse: its folder, the active branch, the user commits are authored by, "
               "where the catalog and the data live, and tarn's version.",
    .example = "tarn -O json info",
};

static int run_info(const cli_args *a)
{
    (void)a;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_lake_info(&text, lake, &err);
    json_t *info = rc == 0 ? json_loads(text, 0, NULL) : NULL;
    if (info && out_json_mode) {
        out_json(info);
    } else if (info) {
        json_t *cat = json_object_get(info, "catalog"), *st = json_object_get(info, "storage");
        printf("lakehouse  %s\n", json_string_value(json_object_get(info, "path")));
        printf("branch     %s\n", json_string_value(json_object_get(info, "branch")));
        printf("user       %s\n", json_string_value(json_object_get(info, "user")));
        printf("catalog    %s (%s)\n", json_string_value(json_object_get(cat, "location")),
               json_string_value(json_object_get(cat, "backend")));
        printf("storage    %s (%s)\n", json_string_value(json_object_get(st, "location")),
               json_string_value(json_object_get(st, "kind")));
        printf("version    tarn %s\n", json_string_value(json_object_get(info, "version")));
        json_decref(info);
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

int cmd_info(int argc, char **argv)
{
    return cli_run(&info_cmd, run_info, argc, argv);
}

static const cli_cmd version_cmd = {
    .path = "version",
    .synopsis = "",
    .summary = "Print tarn's version (the same as 'tarn --version').",
    .example = "tarn version",
};

static int run_version(const cli_args *a)
{
    (void)a;
    if (out_json_mode)
        out_json(json_pack("{s:s}", "version", TARN_VERSION));
    else
        printf("tarn %s\n", TARN_VERSION);
    return CLI_EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
    return cli_run(&version_cmd, run_version, argc, argv);
}
