/* protect.c — `tarn branch protect NAME [--runs] [--off]` and `tarn branch
 * protected`: branches that only merges reach. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_branch_protect(const cli_args *a)
{
    if (cli_has(a, "runs") && cli_has(a, "off"))
        return cli_usage_error(a->cmd, "--runs and --off cannot go together");
    tarn_protect_mode mode = cli_has(a, "off") ? TARN_PROTECT_NONE
                             : cli_has(a, "runs") ? TARN_PROTECT_RUNS
                                                  : TARN_PROTECT_MERGES;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_branch_protect(lake, a->pos[0], mode, &err);
    static const char *const names[] = {"none", "merges", "runs"};
    if (rc == 0) {
        if (out_json_mode)
            out_json(json_pack("{s:o, s:s}", "name", out_jstr(a->pos[0]), "protection", names[mode]));
        else if (mode == TARN_PROTECT_NONE)
            printf("Branch %s is no longer protected\n", a->pos[0]);
        else
            printf("Branch %s is protected: only merges%s reach it\n", a->pos[0],
                   mode == TARN_PROTECT_RUNS ? " of successful runs whose expectations passed" : "");
    }
    return cli_done(&lake, rc, &err);
}

int cli_branch_protected(const cli_args *a)
{
    (void)a;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_branch_protected_list(&json, lake, &err);
    if (rc == 0) {
        json_t *list = json_loads(json, 0, NULL);
        if (out_json_mode) {
            out_json(list);
        } else {
            size_t i;
            json_t *e;
            json_array_foreach(list, i, e)
            printf("%s  %s\n", json_string_value(json_object_get(e, "name")),
                   json_string_value(json_object_get(e, "mode")));
            json_decref(list);
        }
    }
    tarn_free(json);
    return cli_done(&lake, rc, &err);
}

const cli_cmd cli_protect_cmd = {
    .path = "branch protect",
    .synopsis = "NAME [--runs | --off]",
    .summary = "Protect branch NAME: only merges reach it (no direct import, table change or run "
               "without a transaction), and it cannot be deleted or renamed. With --runs, only "
               "merges of branches whose head a successful run made, every expectation passed.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"runs", 0, NULL, "accept only merges of successful runs' output"},
             {"off", 0, NULL, "lift the protection"}},
    .example = "tarn branch protect main",
};
const cli_cmd cli_protected_cmd = {
    .path = "branch protected",
    .synopsis = "",
    .summary = "List protected branches and what reaches them (merges, or runs).",
    .example = "tarn branch protected",
};
