/* init.c — `tarn init [DIR]`: create an empty lakehouse. The one command
 * that runs without an existing lakehouse. */
#include <limits.h>
#include <stdlib.h>

#include "cli.h"

static const cli_cmd init_cmd = {
    .path = "init",
    .synopsis = "[DIR]",
    .summary = "Create DIR/.tarn (DIR: the current folder) with an empty catalog and a "
               "`main` branch.",
    .pos = {"DIR"},
    .example = "tarn init ./lake",
};

static int run_init(const cli_args *a)
{
    const char *dir = a->npos ? a->pos[0] : ".";
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_lake_init(dir, &err);
    if (rc < 0) return out_fail(rc, &err);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) snprintf(abs, sizeof abs, "%s", dir);
    if (out_json_mode) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_sprintf("%s/.tarn", abs));
        json_object_set_new(o, "branch", json_string("main"));
        out_json(o);
    } else {
        printf("Initialized empty tarn lakehouse in %s/.tarn\n", abs);
    }
    return 0;
}

int cmd_init(int argc, char **argv)
{
    return cli_run(&init_cmd, run_init, argc, argv);
}
