/* catalog_test.c — the git-for-data catalog through the public API: init,
 * refs and ref expressions, imports, merges (fast-forward, append+append,
 * conflicts), diff, revert, names, gc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarn/tarn.h"
#include "testlib.h"

static char dir[4096];

/* A new lakehouse in a fresh folder; its catalog is embedded, or, when
 * TARN_TEST_CATALOG names a PostgreSQL server, a schema of its own there
 * (the same tests run against both backends). */
static tarn_lake *fresh_lake(const char *name)
{
    snprintf(dir, sizeof dir, "%s", test_tmpdir(name));
    tarn_error err = TARN_ERROR_INIT;
    tarn_init_options o = TARN_INIT_OPTIONS_INIT;
    char url[1024];
    const char *base = getenv("TARN_TEST_CATALOG");
    if (base && *base) {
        snprintf(url, sizeof url, "%s%sschema=t_%s_%d", base, strchr(base, '?') ? "&" : "?", name, (int)getpid());
        o.catalog = url;
    }
    if (tarn_lake_init_opts(dir, &o, &err) != 0) {
        fprintf(stderr, "init: %s\n", err.message);
        return NULL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, path, &err) != 0) fprintf(stderr, "open: %s\n", err.message);
    return lake;
}

static const char *write_csv(const char *name, const char *content)
{
    static char paths[8][4200]; /* a few live at once */
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 4200, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

static int64_t count_rows(tarn_lake *lake, const char *sql, const char *ref)
{
    tarn_query_options qo = TARN_QUERY_OPTIONS_INIT;
    qo.ref = ref;
    tarn_result *r = NULL;
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_query(&r, lake, sql, &qo, &err) != 0) {
        fprintf(stderr, "  query failed: %s\n", err.message);
        return -1;
    }
    int64_t n = atoll(tarn_result_value(r, 0, 0));
    tarn_result_free(&r);
    return n;
}

static int import(tarn_lake *lake, const char *table, const char *path, const char *branch,
                  tarn_import_mode mode, tarn_error *err)
{
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.mode = mode;
    tarn_import_result res;
    return tarn_table_import(&res, lake, table, path, branch, &o, err);
}

static void test_init_and_refs(void)
{
    tarn_lake *lake = fresh_lake("refs");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id main1, dev;
    CHECK_EQ_INT(tarn_ref_resolve(&main1, lake, "main", &err), 0);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "dev", "main", &err), 0);
    CHECK_EQ_STR(dev.hex, main1.hex);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "dev", NULL, &err), TARN_EEXISTS);
    CHECK(strstr(err.message, "already exists") != NULL);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "bad name", NULL, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "-x", NULL, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "a..b", NULL, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_branch_create(&dev, lake, "x", "nope", &err), TARN_ENOTFOUND);
    /* hash prefixes */
    char prefix[8];
    memcpy(prefix, main1.hex, 7);
    prefix[7] = 0;
    tarn_commit_id got;
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, prefix, &err), 0);
    CHECK_EQ_STR(got.hex, main1.hex);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "main~1", &err), TARN_ENOTFOUND);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "main@{garbage}", &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "main@{1999-01-01T00:00:00Z}", &err), TARN_ENOTFOUND);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "main@{2999-01-01T00:00:00Z}", &err), 0);
    CHECK_EQ_STR(got.hex, main1.hex);
    CHECK_EQ_INT(tarn_tag_create(NULL, lake, "v1", "main", &err), 0);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "v1", &err), 0);
    CHECK_EQ_STR(got.hex, main1.hex);
    CHECK_EQ_INT(tarn_branch_delete(lake, "main", &err), TARN_EINVALID); /* active */
    CHECK_EQ_INT(tarn_branch_delete(lake, "dev", &err), 0);
    CHECK_EQ_INT(tarn_ref_resolve(&got, lake, "dev", &err), TARN_ENOTFOUND);
    tarn_lake_close(&lake);
    CHECK(lake == NULL);
}

static void test_import_query_log(void)
{
    tarn_lake *lake = fresh_lake("import");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    const char *csv = write_csv("t.csv", "id,usd,country\n1,10.5,IT\n2,20,FR\n3,,DE\n");
    REQUIRE(import(lake, "transactions", csv, NULL, TARN_IMPORT_CREATE, &err) == 0);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM transactions", NULL), 3);
    CHECK_EQ_INT(import(lake, "transactions", csv, NULL, TARN_IMPORT_CREATE, &err), TARN_EEXISTS);
    CHECK_EQ_INT(import(lake, "transactions", csv, NULL, TARN_IMPORT_APPEND, &err), 0);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM transactions", NULL), 6);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM transactions", "main~1"), 3);
    const char *other = write_csv("o.csv", "id,name\n1,x\n");
    CHECK_EQ_INT(import(lake, "transactions", other, NULL, TARN_IMPORT_APPEND, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "'usd'") != NULL && strstr(err.message, "'name'") != NULL);
    CHECK_EQ_INT(import(lake, "sales.orders", other, NULL, TARN_IMPORT_CREATE, &err), 0);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM sales.orders o JOIN transactions t ON o.id = t.id",
                            NULL), 2);
    /* unknown tables, bad SQL, writes */
    tarn_result *r = NULL;
    CHECK_EQ_INT(tarn_query(&r, lake, "SELECT * FROM transaction", NULL, &err), TARN_ENOTFOUND);
    CHECK(strstr(err.message, "did you mean 'transactions'") != NULL);
    CHECK_EQ_INT(tarn_query(&r, lake, "SELEC 1", NULL, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_query(&r, lake, "DROP TABLE transactions", NULL, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn_query(&r, lake, "WITH x AS (SELECT 1 AS a) SELECT a FROM x", NULL, &err), 0);
    tarn_result_free(&r);
    /* a result made of several partial chunks (one per UNION ALL branch) */
    REQUIRE(tarn_query(&r, lake, "SELECT 'a' AS v UNION ALL SELECT 'b' UNION ALL SELECT 'c'", NULL, &err) == 0);
    CHECK_EQ_INT(tarn_result_row_count(r), 3);
    CHECK_EQ_STR(tarn_result_value(r, 0, 0), "a");
    CHECK_EQ_STR(tarn_result_value(r, 1, 0), "b");
    CHECK_EQ_STR(tarn_result_value(r, 2, 0), "c");
    tarn_result_free(&r);
    /* table info and log */
    tarn_table_info info;
    REQUIRE(tarn_table_get(&info, lake, NULL, "transactions", &err) == 0);
    CHECK_EQ_INT(info.row_count, 6);
    CHECK_EQ_INT(info.file_count, 2);
    CHECK_EQ_INT(info.ncolumns, 3);
    CHECK_EQ_STR(info.columns[0].name, "id");
    tarn_table_info_clear(&info);
    tarn_commit_info *log;
    size_t n;
    REQUIRE(tarn_commit_log(&log, &n, lake, NULL, 0, &err) == 0);
    CHECK_EQ_INT(n, 4); /* init, create, append, create sales.orders */
    tarn_commit_info_free(log, n);
    CHECK_EQ_INT(import(lake, "bad-name", csv, NULL, TARN_IMPORT_CREATE, &err), TARN_EINVALID);
    CHECK_EQ_INT(import(lake, "t2", "/nonexistent.csv", NULL, TARN_IMPORT_CREATE, &err), TARN_ENOTFOUND);
    tarn_lake_close(&lake);
}

static void test_merge(void)
{
    tarn_lake *lake = fresh_lake("merge");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    const char *a = write_csv("a.csv", "id,v\n1,1\n2,2\n");
    REQUIRE(import(lake, "t", a, NULL, TARN_IMPORT_CREATE, &err) == 0);
    REQUIRE(import(lake, "u", a, NULL, TARN_IMPORT_CREATE, &err) == 0);
    REQUIRE(tarn_branch_create(NULL, lake, "dev", "main", &err) == 0);
    /* fast-forward */
    REQUIRE(import(lake, "t", a, "dev", TARN_IMPORT_APPEND, &err) == 0);
    tarn_merge_result m;
    REQUIRE(tarn_branch_merge(&m, lake, "dev", "main", NULL, &err) == 0);
    CHECK(m.fast_forward);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM t", "main"), 4);
    /* both sides append to t: merges cleanly, rows add up */
    REQUIRE(import(lake, "t", a, "dev", TARN_IMPORT_APPEND, &err) == 0);
    REQUIRE(import(lake, "t", a, "main", TARN_IMPORT_APPEND, &err) == 0);
    REQUIRE(tarn_branch_merge(&m, lake, "dev", "main", "merge dev", &err) == 0);
    CHECK(!m.fast_forward);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM t", "main"), 8);
    tarn_commit_info *log;
    size_t n;
    REQUIRE(tarn_commit_log(&log, &n, lake, "main", 1, &err) == 0);
    CHECK_EQ_INT(log[0].nparents, 2);
    CHECK_EQ_STR(log[0].message, "merge dev");
    tarn_commit_info_free(log, n);
    /* one side replaces u, the other appends: conflict, nothing changes */
    tarn_commit_id before, after;
    REQUIRE(import(lake, "u", a, "dev", TARN_IMPORT_REPLACE, &err) == 0);
    REQUIRE(import(lake, "u", a, "main", TARN_IMPORT_APPEND, &err) == 0);
    tarn_ref_resolve(&before, lake, "main", &err);
    tarn_error cerr = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn_branch_merge(&m, lake, "dev", "main", NULL, &cerr), TARN_ECONFLICT);
    CHECK_EQ_INT(cerr.ntables, 1);
    if (cerr.ntables) CHECK_EQ_STR(cerr.tables[0], "default.u");
    tarn_error_clear(&cerr);
    tarn_ref_resolve(&after, lake, "main", &err);
    CHECK_EQ_STR(before.hex, after.hex);
    /* a table changed on one side only takes that side */
    const char *b = write_csv("b.csv", "k\nx\n");
    REQUIRE(tarn_branch_create(NULL, lake, "side", "main", &err) == 0);
    REQUIRE(import(lake, "only_side", b, "side", TARN_IMPORT_CREATE, &err) == 0);
    int rc = import(lake, "t", a, "main", TARN_IMPORT_APPEND, &err);
    if (rc) fprintf(stderr, "  %s\n", err.message);
    REQUIRE(rc == 0);
    REQUIRE(tarn_branch_merge(&m, lake, "side", "main", NULL, &err) == 0);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM only_side", "main"), 1);
    /* diff */
    tarn_diff_entry *d;
    REQUIRE(tarn_diff(&d, &n, lake, "side", "main", &err) == 0);
    CHECK_EQ_INT(n, 1);
    if (n) {
        CHECK_EQ_STR(d[0].table, "default.t");
        CHECK_EQ_INT(d[0].kind, TARN_DIFF_CHANGED);
        CHECK_EQ_INT(d[0].rows_to - d[0].rows_from, 2);
    }
    tarn_diff_free(d, n);
    /* revert one table to an earlier state: a new commit, history kept */
    REQUIRE(tarn_table_revert(NULL, lake, "t", "main~3", "main", &err) == 0);
    int64_t t_then = count_rows(lake, "SELECT count(*) FROM t", "main~4");
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM t", "main"), t_then);
    tarn_lake_close(&lake);
}

static void test_gc(void)
{
    tarn_lake *lake = fresh_lake("gc");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    const char *a = write_csv("a.csv", "id\n1\n");
    REQUIRE(tarn_branch_create(NULL, lake, "tmp", "main", &err) == 0);
    REQUIRE(import(lake, "t", a, "tmp", TARN_IMPORT_CREATE, &err) == 0);
    REQUIRE(import(lake, "keep", a, "main", TARN_IMPORT_CREATE, &err) == 0);
    tarn_gc_options o = TARN_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    tarn_gc_result res;
    sleep(1);
    REQUIRE(tarn_gc(&res, lake, &o, &err) == 0);
    CHECK_EQ_INT(res.files, 0); /* everything still reachable */
    REQUIRE(tarn_branch_delete(lake, "tmp", &err) == 0);
    o.dry_run = 1;
    REQUIRE(tarn_gc(&res, lake, &o, &err) == 0);
    CHECK_EQ_INT(res.files, 1);
    o.dry_run = 0;
    o.grace_seconds = 3600; /* the deleted branch is still in the ref log's grace period */
    REQUIRE(tarn_gc(&res, lake, &o, &err) == 0);
    CHECK_EQ_INT(res.files, 0);
    CHECK_EQ_INT(res.referenced, 2);
    o.grace_seconds = 0;
    REQUIRE(tarn_gc(&res, lake, &o, &err) == 0);
    CHECK_EQ_INT(res.files, 1);
    CHECK_EQ_INT(count_rows(lake, "SELECT count(*) FROM keep", "main"), 1);
    tarn_lake_close(&lake);
}

int main(void)
{
    TEST_RUN(test_init_and_refs);
    TEST_RUN(test_import_query_log);
    TEST_RUN(test_merge);
    TEST_RUN(test_gc);
    return test_summary();
}
