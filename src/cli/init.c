/* init.c — `tarn init [DIR] [--storage s3://bucket/prefix] [--endpoint URL]
 * [--region R]`: create an empty lakehouse, its data files in the local
 * folder or in a bucket. The one command that runs without an existing
 * lakehouse. */
#include <limits.h>
#include <stdlib.h>

#include "cli.h"

static const cli_cmd init_cmd = {
    .path = "init",
    .synopsis = "[DIR] [--storage s3://BUCKET/PREFIX [--endpoint URL] [--region REGION]]",
    .summary = "Create DIR/.tarn (DIR: the current folder) with an empty catalog and a "
               "`main` branch; data files go to .tarn/objects/ or to an S3 bucket.",
    .pos = {"DIR"},
    .opts =
        {{"storage", 0, "URL",
          "where data files live: s3://bucket/prefix (an empty prefix; default: $TARN_STORAGE, "
          "else the local folder). Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
          "or ~/.aws/credentials, never from the config"},
         {"endpoint", 0, "URL",
          "an S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS)"},
         {"region", 0, "REGION", "the bucket's region (default: $AWS_REGION, else us-east-1)"}},
    .example = "tarn init ./lake --storage s3://my-bucket/lake --endpoint http://127.0.0.1:9000",
};

static int run_init(const cli_args *a)
{
    const char *dir = a->npos ? a->pos[0] : ".";
    tarn_error err = TARN_ERROR_INIT;
    tarn_init_options opts = TARN_INIT_OPTIONS_INIT;
    opts.storage = cli_get(a, "storage");
    opts.endpoint = cli_get(a, "endpoint");
    opts.region = cli_get(a, "region");
    int rc = tarn_lake_init_ext(dir, &opts, &err);
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
