/* checkout.c — `tarn checkout NAME [-b] [--from-ref REF]`: make a branch
 * the active one (kept in .tarn/HEAD), creating it first with -b. */
#include "cli.h"

static const cli_cmd checkout_cmd = {
    .path = "checkout",
    .synopsis = "NAME [-b] [--from-ref REF]",
    .summary = "Make branch NAME the active branch; with -b, create it first at REF.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"branch", 'b', NULL, "create the branch first"},
             {"from-ref", 0, "REF",
              "with -b: where the branch starts (default: the active "
              "branch)"}},
    .example = "tarn checkout -b dev --from-ref main",
};

static int run_checkout(const cli_args *a)
{
    const char *name = a->pos[0], *from = cli_get(a, "from-ref");
    int create = cli_has(a, "branch");
    if (from && !create) return cli_usage_error(a->cmd, "--from-ref needs -b");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = create ? tarn_branch_create(&id, lake, name, from, &err)
                    : tarn_ref_resolve(&id, lake, name, &err);
    if (rc < 0 || (rc = tarn_lake_set_active_branch(lake, name, &err)) < 0) goto done;
    if (out_json_mode) {
        out_json(json_pack("{s:o, s:s, s:b}", "branch", out_jstr(name), "commit", id.hex, "created",
                           create));
    } else {
        printf(create ? "Switched to a new branch '%s'\n" : "Switched to branch '%s'\n", name);
    }
done:
    return cli_done(&lake, rc, &err);
}

int cmd_checkout(int argc, char **argv)
{
    return cli_run(&checkout_cmd, run_checkout, argc, argv);
}
