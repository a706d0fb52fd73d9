/* init.c — `tarn init [DIR] [--catalog URL [--attach]] [--storage LOCATION]
 * [--endpoint URL] [--region R]`: create an empty lakehouse (its data in
 * the local folder, a shared folder or an S3 bucket, its catalog embedded
 * or in PostgreSQL), or join a shared one from another host. The one
 * command that runs without an existing lakehouse. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_cmd init_cmd = {
    .path = "init",
    .synopsis = "[DIR] [--catalog URL [--attach]] [--storage s3://BUCKET/PREFIX|PATH] [--endpoint URL] "
                "[--region REGION]",
    .summary =
        "Create DIR/.tarn (DIR: the current folder) with an empty catalog and a `main` branch. "
        "--storage puts the data files in an S3 bucket or in a folder every host mounts; with "
        "--catalog the catalog is a PostgreSQL database shared by many hosts, and on the other "
        "hosts --attach joins it. TARN_CATALOG and TARN_STORAGE give the same.",
    .pos = {"DIR"},
    .opts = {{"catalog", 0, "URL", "postgresql://USER@HOST/DB[?schema=NAME]: a shared catalog"},
             {"storage", 0, "LOCATION",
              "where data files live: s3://bucket/prefix (an empty prefix; credentials come from "
              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials, never from the config), "
              "or a folder (absolute path or file:///path)"},
             {"endpoint", 0, "URL", "an S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS)"},
             {"region", 0, "REGION", "the bucket's region (default: $AWS_REGION, else us-east-1)"},
             {"attach", 0, NULL, "join the lakehouse the catalog already holds"}},
    .example = "tarn init --catalog postgresql://tarn@db.internal/lake --storage s3://bucket/lake",
};

static int run_init(const cli_args *a)
{
    const char *dir = a->npos ? a->pos[0] : ".";
    tarn_init_options opts = TARN_INIT_OPTIONS_INIT;
    opts.catalog = cli_get(a, "catalog");
    opts.storage = cli_get(a, "storage");
    opts.attach = cli_has(a, "attach");
    tarn_error err = TARN_ERROR_INIT;
    opts.endpoint = cli_get(a, "endpoint");
    opts.region = cli_get(a, "region");
    int rc = tarn_lake_init_opts(dir, &opts, &err);
    if (rc < 0) return out_fail(rc, &err);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) snprintf(abs, sizeof abs, "%s", dir);
    /* Where things ended up, as the lakehouse itself now reads it. */
    tarn_lake *lake = NULL;
    char catalog[512] = "", storage[PATH_MAX] = "";
    char tarn_dir[PATH_MAX + 16];
    snprintf(tarn_dir, sizeof tarn_dir, "%s/.tarn", abs);
    if (tarn_lake_open_path(&lake, tarn_dir, NULL) == 0) {
        tarn_lake_where(catalog, sizeof catalog, storage, sizeof storage, lake);
        tarn_lake_close(&lake);
    }
    if (out_json_mode) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_sprintf("%s/.tarn", abs));
        json_object_set_new(o, "branch", json_string("main"));
        json_object_set_new(o, "catalog", json_string(catalog));
        json_object_set_new(o, "storage", json_string(storage));
        json_object_set_new(o, "attached", json_boolean(opts.attach));
        out_json(o);
    } else if (opts.attach) {
        printf("Attached %s/.tarn to the lakehouse in %s\n", abs, catalog);
    } else {
        printf("Initialized empty tarn lakehouse in %s/.tarn\n", abs);
        if (strncmp(catalog, abs, strlen(abs)) != 0) printf("catalog: %s\n", catalog);
        if (strncmp(storage, abs, strlen(abs)) != 0) printf("storage: %s\n", storage);
    }
    return 0;
}

int cmd_init(int argc, char **argv)
{
    return cli_run(&init_cmd, run_init, argc, argv);
}
