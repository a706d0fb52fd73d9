/* catalog.c — `tarn catalog info | migrate | verify`: where the catalog
 * is, moving an embedded catalog into PostgreSQL, comparing two. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int run_info(const cli_args *a)
{
    (void)a;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    char catalog[1024], storage[PATH_MAX];
    tarn_lake_where(catalog, sizeof catalog, storage, sizeof storage, lake);
    if (out_json_mode)
        out_json(json_pack("{s:s,s:s,s:s}", "path", tarn_lake_path(lake), "catalog", catalog,
                           "storage", storage));
    else
        printf("lakehouse %s\ncatalog   %s\nstorage   %s\n", tarn_lake_path(lake), catalog,
               storage);
    tarn_lake_close(&lake);
    return 0;
}

static int run_migrate(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *report = NULL;
    int rc = tarn_catalog_migrate(&report, lake, cli_get(a, "to"), &err);
    if (rc == 0) {
        json_t *r = json_loads(report, 0, NULL);
        if (out_json_mode) {
            out_json(json_incref(r));
        } else {
            printf("Copied the catalog to %s:\n", json_string_value(json_object_get(r, "to")));
            const char *name;
            json_t *n;
            json_object_foreach(json_object_get(r, "tables"), name, n)
                printf("  %-16s %lld rows\n", name, (long long)json_integer_value(n));
            printf("This lakehouse now uses it (.tarn/config); the embedded catalog.db is kept as "
                   "it was:\n"
                   "'tarn catalog verify' compares the two.\n");
        }
        json_decref(r);
    }
    free(report);
    return cli_done(&lake, rc, &err);
}

static int run_verify(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *report = NULL;
    int rc = tarn_catalog_verify(&report, lake, cli_get(a, "against"), &err);
    int same = 0;
    if (rc == 0) {
        json_t *r = json_loads(report, 0, NULL);
        same = json_is_true(json_object_get(r, "same"));
        if (out_json_mode) {
            out_json(json_incref(r));
        } else {
            printf("%s %s\n", same ? "same records as" : "DIFFERENT records from",
                   json_string_value(json_object_get(r, "against")));
            const char *name;
            json_t *t;
            json_object_foreach(json_object_get(r, "tables"), name, t)
            {
                json_t *rows = json_object_get(t, "rows");
                printf("  %-16s %lld / %lld rows, %lld differ\n", name,
                       (long long)json_integer_value(json_array_get(rows, 0)),
                       (long long)json_integer_value(json_array_get(rows, 1)),
                       (long long)json_integer_value(json_object_get(t, "differ")));
            }
            size_t i;
            json_t *d;
            json_array_foreach(json_object_get(r, "differences"), i, d)
                printf("  %s\n", json_string_value(d));
        }
        json_decref(r);
    }
    free(report);
    int code = cli_done(&lake, rc, &err);
    return code ? code : same ? 0 : 1;
}

static const cli_cmd info_cmd = {
    .path = "catalog info",
    .synopsis = "",
    .summary = "Show where the catalog and the data files are. A password in the catalog URL is hidden.",
    .example = "tarn catalog info",
};
static const cli_cmd migrate_cmd = {
    .path = "catalog migrate",
    .synopsis = "--to URL",
    .summary = "Move the embedded catalog into PostgreSQL. Its records, history included, are copied "
               "into an empty schema in one transaction, then the lakehouse uses it. Nothing may run or "
               "upload meanwhile; the embedded catalog.db is kept.",
    .opts = {{"to", 0, "URL", "postgresql://USER@HOST/DB[?schema=NAME]"}},
    .example = "tarn catalog migrate --to postgresql://tarn@db.internal/lake",
};
static const cli_cmd verify_cmd = {
    .path = "catalog verify",
    .synopsis = "[--against LOCATION]",
    .summary = "Compare the catalog with another, record by record. Exit 0 when they hold the same "
               "records, 1 when not (the differences are listed).",
    .opts = {{"against", 0, "LOCATION",
              "a postgresql:// URL or a catalog.db (default: the embedded catalog.db, after a "
              "migrate)"}},
    .example = "tarn catalog verify",
};

static const cli_sub subs[] = {
    {"info", &info_cmd, run_info},
    {"migrate", &migrate_cmd, run_migrate},
    {"verify", &verify_cmd, run_verify},
    {NULL, NULL, NULL},
};

int cmd_catalog(int argc, char **argv)
{
    return cli_run_group("catalog",
                         "Where the catalog is; moving it into PostgreSQL and checking the copy.",
                         subs, argc, argv);
}
