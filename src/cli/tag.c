/* tag.c — `tarn tag ls | create | rm`: refs that never move. */
#include <stdio.h>

#include "cli.h"

static int run_ls(const cli_args *a)
{
    (void)a;
    return cli_list_refs(TARN_REF_TAG);
}

static int run_create(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_tag_create(&id, lake, a->pos[0], cli_get(a, "from-ref"), &err);
    if (rc == 0) {
        char sh[13];
        if (out_json_mode)
            out_json(json_pack("{s:o, s:s}", "name", out_jstr(a->pos[0]), "commit", id.hex));
        else
            printf("Created tag %s at %s\n", a->pos[0], out_short(sh, id.hex));
    }
    return cli_done(&lake, rc, &err);
}

static int run_rm(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_tag_delete(lake, a->pos[0], &err);
    if (rc == 0) {
        if (out_json_mode)
            out_json(json_pack("{s:o, s:b}", "name", out_jstr(a->pos[0]), "deleted", 1));
        else
            printf("Deleted tag %s\n", a->pos[0]);
    }
    return cli_done(&lake, rc, &err);
}

static int run_rename(const cli_args *a)
{
    return cli_rename_ref(TARN_REF_TAG, a);
}

static const cli_cmd rename_cmd = {
    .path = "tag rename",
    .synopsis = "OLD NEW",
    .summary = "Rename tag OLD to NEW (it still points at the same commit).",
    .pos = {"OLD", "NEW"},
    .min_pos = 2,
    .example = "tarn tag rename v1 release-1",
};

static const cli_cmd ls_cmd = {
    .path = "tag ls",
    .synopsis = "",
    .summary = "List tags with the commit each names.",
    .example = "tarn tag ls",
};
static const cli_cmd create_cmd = {
    .path = "tag create",
    .synopsis = "NAME [--from-ref REF]",
    .summary = "Create tag NAME at REF; a tag never moves.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"from-ref", 0, "REF",
              "branch, tag or commit to tag (default: the active "
              "branch)"}},
    .example = "tarn tag create v1 --from-ref main",
};
static const cli_cmd rm_cmd = {
    .path = "tag rm",
    .synopsis = "NAME",
    .summary = "Delete tag NAME.",
    .pos = {"NAME"},
    .min_pos = 1,
    .example = "tarn tag rm v1",
};

static const cli_sub subs[] = {
    {"ls", &ls_cmd, run_ls},
    {"create", &create_cmd, run_create},
    {"rm", &rm_cmd, run_rm},
    {"rename", &rename_cmd, run_rename},
    {NULL, NULL, NULL},
};

int cmd_tag(int argc, char **argv)
{
    return cli_run_group("tag", "Tags: names for commits that never move.", subs, argc, argv);
}
