/* sql_test.c — what tarn reads from user SQL before running it (tables,
 * parameters, the one-expression rule for filters), the confinement of a
 * DuckDB session, and which statistics may skip a file. */
#include <stdlib.h>
#include <string.h>

#include "sql/engine.h"
#include "sql/prune.h"
#include "sql/refs.h"
#include "testlib.h"

static tarn_duck duck;

static int has_table(tarn_sql_refs *r, const char *schema, const char *table)
{
    size_t i;
    json_t *t;
    json_array_foreach(
        r->tables, i,
        t) if (!strcmp(json_string_value(json_object_get(t, "schema")), schema) &&
               !strcmp(json_string_value(json_object_get(t, "table")), table)) return 1;
    return 0;
}

static void test_refs(void)
{
    tarn_sql_refs r;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(
        tarn__sql_refs_parse(&r, &duck,
                             "WITH C AS (SELECT 1) SELECT * FROM t, T, Geo.Cities g, default.d, "
                             "main.m, c -- FROM hidden WHERE $nope\nWHERE x = $who AND y = '$not'",
                             &err),
        0);
    CHECK_EQ_INT(json_array_size(r.tables), 4); /* t and T are one name; c is a CTE */
    CHECK(has_table(&r, "", "t"));
    CHECK(has_table(&r, "Geo", "Cities"));
    CHECK(has_table(&r, "", "d")); /* default. is namespace default */
    CHECK(has_table(&r, "", "m")); /* and so is DuckDB's main */
    CHECK(!has_table(&r, "", "c"));
    CHECK(!has_table(&r, "", "hidden"));
    CHECK_EQ_INT(json_object_size(r.params), 1);
    CHECK(json_object_get(r.params, "who") != NULL);
    CHECK(strstr(r.sql, "main.d") != NULL);
    tarn__sql_refs_clear(&r);

    const char *refused[][2] = {
        {"SELECT * FROM t WHERE x = ?", "named ($name)"},
        {"SELECT * FROM t WHERE x = $1", "named ($name)"},
        {"SELECT * FROM query('SELECT 1')", "name the tables in FROM"},
        {"SELECT * FROM query_table('t')", "name the tables in FROM"},
        {"SELECT * FROM a.b.c", "not a table name"},
        {"COPY (SELECT 1) TO 'x.csv'", "only a read-only SELECT"},
        {"ATTACH ':memory:' AS m", "only a read-only SELECT"},
        {"SELECT 1; SELECT 2", "one SQL statement"},
        {"SELEC 1", "syntax error"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        CHECK_EQ_INT(tarn__sql_refs_parse(&r, &duck, refused[i][0], &err), TARN_EINVALID);
        if (!strstr(err.message, refused[i][1]))
            fprintf(stderr, "  '%s': %s\n", refused[i][0], err.message);
        CHECK(strstr(err.message, refused[i][1]) != NULL);
        tarn__sql_refs_clear(&r);
    }
    tarn_error_clear(&err);
}

static void test_filter(void)
{
    json_t *where = NULL, *params = NULL;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(
        tarn__sql_filter_parse(&where, &params, &duck, "a > $lo AND b IN ('x', 'y') -- why", &err),
        0);
    CHECK(where != NULL);
    CHECK(json_object_get(params, "lo") != NULL);
    json_decref(where);
    json_decref(params);
    const char *refused[] = {"a > 0; COPY (SELECT 1) TO 'x.csv'",
                             "a > 0 GROUP BY a",
                             "a > 0 UNION SELECT 1",
                             "a > 0 LIMIT 0",
                             "a > 0 ORDER BY a",
                             "a IN (SELECT 1)",
                             "EXISTS (SELECT * FROM t)",
                             "a > 0) OR (1 = 1",
                             "",
                             "a > ?",
                             "a >"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        CHECK_EQ_INT(tarn__sql_filter_parse(&where, &params, &duck, refused[i], &err),
                     TARN_EINVALID);
        CHECK(where == NULL && params == NULL);
    }
    tarn_error_clear(&err);
}

/* A confined session reads the files it was given and nothing else. */
static void test_confine(void)
{
    const char *tmp = test_tmpdir("sql_confine");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/a.parquet", tmp);
    snprintf(b, sizeof b, "%s/b.parquet", tmp);
    tarn_duck w;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__duck_open(&w, &err) == 0);
    char q[9000];
    snprintf(q, sizeof q,
             "COPY (SELECT 1 AS x) TO '%s' (FORMAT parquet); COPY (SELECT 2 AS x) TO '%s' (FORMAT "
             "parquet)",
             a, b);
    CHECK_EQ_INT(tarn__duck_exec(&w, q, TARN_EIO, "write", &err), 0);
    tarn__duck_close(&w);

    tarn_duck d;
    REQUIRE(tarn__duck_open(&d, &err) == 0);
    json_t *paths = json_pack("[s]", a);
    CHECK_EQ_INT(tarn__duck_confine(&d, paths, &err), 0);
    json_decref(paths);
    snprintf(q, sizeof q, "SELECT * FROM read_parquet('%s')", a);
    CHECK_EQ_INT(tarn__duck_exec(&d, q, TARN_EINVALID, "read", &err), 0);
    char c[9200];
    const char *refused[] = {"SELECT * FROM read_parquet('%s')",
                             "SELECT * FROM glob('%s')",
                             "SELECT * FROM read_text('%s')",
                             "COPY (SELECT 1) TO '%s.csv'",
                             "ATTACH '%s.db' AS x",
                             "SET enable_external_access = true -- %s",
                             "SET lock_configuration = false -- %s",
                             "LOAD httpfs -- %s",
                             "SELECT * FROM read_csv('https://example.com/%s')"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        snprintf(c, sizeof c, refused[i], b);
        CHECK_EQ_INT(tarn__duck_exec(&d, c, TARN_EINVALID, "refused", &err), TARN_EINVALID);
    }
    snprintf(c, sizeof c, "%s.csv", b);
    FILE *f = fopen(c, "r");
    CHECK(f == NULL);
    if (f) fclose(f);
    /* a confined session's result is still written out by tarn itself */
    int64_t rows = 0;
    char *schema = NULL, *stats = NULL;
    snprintf(c, sizeof c, "%s/out.parquet", tmp);
    CHECK_EQ_INT(tarn__duck_write_result(&rows, &schema, &stats, &d, NULL,
                                         "SELECT x, x * $k AS y FROM read_parquet(?)", NULL, c,
                                         "parquet", NULL, &err),
                 TARN_EINVALID); /* not bound: refused */
    json_t *params = json_pack("{s:i}", "k", 10);
    snprintf(q, sizeof q, "SELECT x, x * $k AS y FROM read_parquet('%s')", a);
    CHECK_EQ_INT(tarn__duck_write_result(&rows, &schema, &stats, &d, NULL, q, params, c, "parquet",
                                         NULL, &err),
                 0);
    CHECK_EQ_INT(rows, 1);
    CHECK(schema && strstr(schema, "\"y\""));
    CHECK(stats && strstr(stats, "\"exact\":true"));
    free(schema);
    free(stats);
    /* a writer kept for several writes (as a run keeps one) */
    tarn_duck kept = {0};
    CHECK_EQ_INT(tarn__duck_open_writer(&kept, &err), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(c, sizeof c, "%s/out%d.csv", tmp, i);
        rows = 0;
        CHECK_EQ_INT(
            tarn__duck_write_result(&rows, NULL, NULL, &d, &kept, q, params, c, "csv", NULL, &err),
            0);
        CHECK_EQ_INT(rows, 1);
        char *text = NULL;
        size_t len = 0;
        CHECK_EQ_INT(tarn__read_file(&text, &len, c), 0);
        CHECK(text && strstr(text, "x,y") && strstr(text, ",10"));
        free(text);
    }
    tarn__duck_close(&kept);
    json_decref(params);
    tarn__duck_close(&d);
    tarn_error_clear(&err);
}

static json_t *where_of(const char *filter)
{
    json_t *where = NULL, *params = NULL;
    tarn__sql_filter_parse(&where, &params, &duck, filter, NULL);
    json_decref(params);
    return where;
}

static void test_stats_column(void)
{
    tarn_column cols[] = {
        {"x", "BIGINT"}, {"s", "STRUCT(x BIGINT)"}, {"Name", "VARCHAR"}, {"l", "BIGINT[]"}};
    const char *col, *type;
    json_t *p = json_pack("[s]", "x");
    CHECK_EQ_INT(tarn__stats_column(&col, &type, cols, 4, p), 1);
    CHECK_EQ_STR(col, "x");
    json_decref(p);
    /* s.x is a field of struct s: never column x's statistics */
    p = json_pack("[s,s]", "s", "x");
    CHECK_EQ_INT(tarn__stats_column(&col, &type, cols, 4, p), 0);
    json_decref(p);
    p = json_pack("[s]", "NAME"); /* DuckDB folds case */
    CHECK_EQ_INT(tarn__stats_column(&col, &type, cols, 4, p), 1);
    CHECK_EQ_STR(col, "Name");
    json_decref(p);
    p = json_pack("[s]", "s"); /* nested types have no statistics */
    CHECK_EQ_INT(tarn__stats_column(&col, &type, cols, 4, p), 0);
    json_decref(p);
    p = json_pack("[s]", "l");
    CHECK_EQ_INT(tarn__stats_column(&col, &type, cols, 4, p), 0);
    json_decref(p);

    json_t *stats = json_loads("{\"x\":{\"min\":\"1\",\"max\":\"9\",\"exact\":true},"
                               "\"v\":{\"min\":\"a\",\"max\":\"b\",\"exact\":false},"
                               "\"old_int\":{\"min\":\"1\",\"max\":\"2\"},"
                               "\"old_str\":{\"min\":\"a\",\"max\":\"b\"},"
                               "\"old_dbl\":{\"min\":\"1.5\",\"max\":\"2.5\"}}",
                               0, NULL);
    CHECK(tarn__stats_exact(stats, "x", "BIGINT") != NULL);
    CHECK(tarn__stats_exact(stats, "v", "VARCHAR") == NULL);
    CHECK(tarn__stats_exact(stats, "old_int", "INTEGER") != NULL);
    CHECK(tarn__stats_exact(stats, "old_str", "VARCHAR") == NULL); /* may be truncated */
    CHECK(tarn__stats_exact(stats, "old_dbl", "DOUBLE") == NULL);  /* may have left NaN out */
    CHECK(tarn__stats_exact(stats, "nope", "BIGINT") == NULL);
    json_decref(stats);
}

/* Judges one file of statistics STATS for FILTER: "true" when rows may
 * pass, "false" when none can. */
static char *file_test(const char *filter, const char *stats_json, json_t *params)
{
    tarn_column cols[] = {{"x", "BIGINT"}, {"s", "STRUCT(x BIGINT)"}, {"v", "VARCHAR"}};
    json_t *where = where_of(filter), *stats = json_loads(stats_json, 0, NULL);
    tarn_prune *p = tarn__prune_new(where, cols, 3);
    tarn_verdict v = TARN_VERDICT_SOME;
    tarn__prune_judge(&v, p, &stats, 1, &duck, params);
    tarn__prune_free(&p);
    json_decref(where);
    json_decref(stats);
    return strdup(v == TARN_VERDICT_NONE ? "false" : "true");
}

static void check_test(const char *filter, const char *stats, json_t *params, const char *want)
{
    char *got = file_test(filter, stats, params);
    if (!got || strcmp(got, want))
        fprintf(stderr, "  filter '%s': got %s\n", filter, got ? got : "NULL");
    CHECK_EQ_STR(got, want);
    free(got);
}

static void test_prune(void)
{
    const char *s = "{\"x\":{\"min\":\"10\",\"max\":\"20\",\"exact\":true}}";
    check_test("x > 20", s, NULL, "false");
    check_test("x >= 20", s, NULL, "true");
    check_test("x BETWEEN 1 AND 9", s, NULL, "false");
    check_test("x IN (1, 2, 15)", s, NULL, "true");
    check_test("x IN (1, 2)", s, NULL, "false");
    check_test("5 > x", s, NULL, "false");
    check_test("x % 2 = 0", s, NULL, "true"); /* opaque: keeps the file */
    /* s.x names the struct's field, not column x */
    check_test("s.x > 100", s, NULL, "true");
    check_test("s.x > 100 AND x > 100", s, NULL, "false");
    /* parameters are bound, as in the filter */
    json_t *params = json_pack("{s:i}", "lo", 30);
    check_test("x > $lo", s, params, "false");
    json_decref(params);
    params = json_pack("{s:i}", "lo", 12);
    check_test("x > $lo", s, params, "true");
    json_decref(params);
    /* inexact statistics prove nothing */
    check_test("x > 20", "{\"x\":{\"min\":\"10\",\"max\":\"20\",\"exact\":false}}", NULL, "true");
    check_test("v = 'zz'", "{\"v\":{\"min\":\"a\",\"max\":\"b\"}}", NULL, "true");
    check_test("v = 'zz'", "{\"v\":{\"min\":\"a\",\"max\":\"b\",\"exact\":true}}", NULL, "false");
}

int main(void)
{
    tarn_error err = TARN_ERROR_INIT;
    if (tarn__duck_open(&duck, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    TEST_RUN(test_refs);
    TEST_RUN(test_filter);
    TEST_RUN(test_confine);
    TEST_RUN(test_stats_column);
    TEST_RUN(test_prune);
    tarn__duck_close(&duck);
    return test_summary();
}
