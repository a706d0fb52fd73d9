/* namespace.c — `tarn namespace ls | create | rm`. Namespaces live in a
 * commit's tree like tables, so creating or removing one is a commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int run_ls(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char **list = NULL;
    size_t n = 0;
    int rc = tarn_namespace_list(&list, &n, lake, cli_get(a, "ref"), &err);
    if (rc == 0 && out_json_mode) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, out_jstr(list[i]));
        out_json(arr);
    } else if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", list[i]);
    }
    tarn_namespace_list_free(list, n);
    return cli_done(&lake, rc, &err);
}

/* create and rm differ only in the call and the words. */
static int change(const cli_args *a, int create)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    const char *ns = a->pos[0], *branch = cli_get(a, "branch");
    tarn_commit_options co;
    char *props = NULL;
    cli_commit_options(&co, &props, a);
    int rc = create ? tarn_namespace_create(&id, lake, ns, branch, &co, &err)
                    : tarn_namespace_delete(&id, lake, ns, branch, &co, &err);
    free(props);
    if (rc == 0) {
        char sh[13];
        if (out_json_mode)
            out_json(json_pack("{s:o, s:s}", "name", out_jstr(ns), "commit", id.hex));
        else
            printf("%s namespace %s (commit %s)\n", create ? "Created" : "Removed", ns,
                   out_short(sh, id.hex));
    }
    return cli_done(&lake, rc, &err);
}

static int run_create(const cli_args *a)
{
    return change(a, 1);
}

static int run_rm(const cli_args *a)
{
    return change(a, 0);
}

static const cli_cmd ls_cmd = {
    .path = "namespace ls",
    .synopsis = "[--ref REF]",
    .summary = "List the namespaces at REF.",
    .opts = {{"ref", 0, "REF", "branch, tag or commit (default: the active branch)"}},
    .example = "tarn namespace ls --ref main",
};
static const cli_cmd create_cmd = {
    .path = "namespace create",
    .synopsis = "NS [--branch B] [-m MSG] [--body TEXT] [--property K=V]...",
    .summary = "Create namespace NS in a new commit on branch B.",
    .pos = {"NS"},
    .min_pos = 1,
    .opts = {{"branch", 0, "B", "the branch to commit on (default: the active branch)"},
             CLI_COMMIT_OPTS},
    .example = "tarn namespace create sales",
};
static const cli_cmd rm_cmd = {
    .path = "namespace rm",
    .synopsis = "NS [--branch B] [-m MSG] [--body TEXT] [--property K=V]...",
    .summary = "Remove namespace NS (it must hold no tables) in a new commit on branch B.",
    .pos = {"NS"},
    .min_pos = 1,
    .opts = {{"branch", 0, "B", "the branch to commit on (default: the active branch)"},
             CLI_COMMIT_OPTS},
    .example = "tarn namespace rm sales",
};

static const cli_sub subs[] = {
    {"ls", &ls_cmd, run_ls},
    {"create", &create_cmd, run_create},
    {"rm", &rm_cmd, run_rm},
    {NULL, NULL, NULL},
};

int cmd_namespace(int argc, char **argv)
{
    int urc = cli_take_properties(subs, "create rm", &argc, argv);
    if (urc) return urc;
    return cli_run_group("namespace", "Namespaces: the first part of `namespace.table`.", subs,
                         argc, argv);
}
