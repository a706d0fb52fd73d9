/* import_test.c — what an import checks before it keeps anything: which
 * type changes an append may make, JSON depth, line numbers, statistics of
 * wide files, tables without columns, and callers built against the first
 * version of tarn_import_options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sql/engine.h"
#include "table/input.h"
#include "table/schema.h"
#include "tarn/tarn.h"
#include "testlib.h"

static void widening_rules(void)
{
    static const struct {
        const char *from, *to;
        tarn_widen w;
    } cases[] = {
        {"BIGINT", "BIGINT", TARN_WIDEN_SAME},
        {"INTEGER", "BIGINT", TARN_WIDEN_CAST},
        {"TINYINT", "HUGEINT", TARN_WIDEN_CAST},
        {"UINTEGER", "BIGINT", TARN_WIDEN_CAST},
        {"UBIGINT", "BIGINT", TARN_WIDEN_NO},   /* 2^64-1 does not fit */
        {"BIGINT", "INTEGER", TARN_WIDEN_NO},   /* narrowing */
        {"INTEGER", "UINTEGER", TARN_WIDEN_NO}, /* negatives */
        {"INTEGER", "DOUBLE", TARN_WIDEN_CAST},
        {"BIGINT", "DOUBLE", TARN_WIDEN_CHECKED}, /* exact up to 2^53 */
        {"INTEGER", "FLOAT", TARN_WIDEN_CHECKED}, /* exact up to 2^24 */
        {"SMALLINT", "FLOAT", TARN_WIDEN_CAST},
        {"FLOAT", "DOUBLE", TARN_WIDEN_CAST},
        {"DOUBLE", "FLOAT", TARN_WIDEN_NO},
        {"DOUBLE", "BIGINT", TARN_WIDEN_NO},
        {"INTEGER", "DECIMAL(12,2)", TARN_WIDEN_CAST},
        {"INTEGER", "DECIMAL(10,2)", TARN_WIDEN_NO}, /* 8 integer digits < 10 */
        {"DECIMAL(10,2)", "DECIMAL(18,4)", TARN_WIDEN_CAST},
        {"DECIMAL(10,2)", "DECIMAL(18,1)", TARN_WIDEN_NO},
        {"DECIMAL(2,1)", "DOUBLE", TARN_WIDEN_CAST},
        {"DECIMAL(18,3)", "DOUBLE", TARN_WIDEN_CHECKED},
        {"DATE", "TIMESTAMP", TARN_WIDEN_CAST},
        {"TIMESTAMP", "DATE", TARN_WIDEN_NO},
        {"TIMESTAMP_S", "TIMESTAMP", TARN_WIDEN_CAST},
        {"NULL", "VARCHAR", TARN_WIDEN_CAST},
        {"VARCHAR", "BIGINT", TARN_WIDEN_NO},
        {"BIGINT", "VARCHAR", TARN_WIDEN_NO},
        {"INTEGER[]", "BIGINT[]", TARN_WIDEN_NO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tarn_widen w = tarn__type_widen(cases[i].from, cases[i].to);
        if (w != cases[i].w)
            fprintf(stderr, "  %s -> %s: %d, expected %d\n", cases[i].from, cases[i].to, (int)w,
                    (int)cases[i].w);
        CHECK(w == cases[i].w);
    }
}

static const char *write_file(const char *dir, const char *name, const char *content, int gzip)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gzip) {
        gzFile g = gzopen(path, "wb");
        gzputs(g, content);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "w");
        fputs(content, f);
        fclose(f);
    }
    return path;
}

static void json_depth(void)
{
    const char *dir = test_tmpdir("json_depth");
    tarn_error err = TARN_ERROR_INIT;
    /* Brackets in strings, escaped quotes: not nesting. */
    CHECK_EQ_INT(
        tarn__input_json_depth(
            write_file(dir, "s.json", "{\"a\": \"[[[[{{{{\\\"[[[[\", \"b\": [[1]]}\n", 0), 3, &err),
        0);
    CHECK_EQ_INT(tarn__input_json_depth(write_file(dir, "d.json", "[[[[1]]]]\n", 0), 3, &err),
                 TARN_EINVALID);
    CHECK(strstr(err.message, "deeper than 3 levels") != NULL);
    CHECK(strstr(err.message, "line 1") != NULL);
    /* The depth of a gzip file is that of its content. */
    CHECK_EQ_INT(tarn__input_json_depth(
                     write_file(dir, "d.json.gz", "{\"a\":\n{\"b\": {\"c\": {}}}}\n", 1), 3, &err),
                 TARN_EINVALID);
    CHECK(strstr(err.message, "line 2") != NULL);
    CHECK_EQ_INT(
        tarn__input_json_depth(write_file(dir, "ok.json.gz", "[{\"a\": [1]}]", 1), 3, &err), 0);
    tarn_error_clear(&err);
}

static void lines_and_compression(void)
{
    const char *dir = test_tmpdir("lines");
    const char *text = "a,b\n1,\"x\ny\"\n2,z\n";
    const char *plain = write_file(dir, "f.csv", text, 0);
    CHECK_EQ_INT(tarn__input_line_at(plain, 0), 1);
    CHECK_EQ_INT(tarn__input_line_at(plain, 4), 2);
    CHECK_EQ_INT(tarn__input_line_at(plain, (int64_t)(strstr(text, "2,z") - text)), 4);
    const char *comp = NULL;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn__input_compression(&comp, plain, &err), 0);
    CHECK_EQ_STR(comp, "none");
    const char *gz = write_file(dir, "f.csv.gz", text, 1);
    CHECK_EQ_INT(tarn__input_line_at(gz, (int64_t)(strstr(text, "2,z") - text)), 4);
    CHECK_EQ_INT(tarn__input_compression(&comp, gz, &err), 0);
    CHECK_EQ_STR(comp, "gzip");
    CHECK_EQ_INT(
        tarn__input_compression(&comp, write_file(dir, "f.zst", "\x28\xb5\x2f\xfd....", 0), &err),
        TARN_EINVALID);
    CHECK(strstr(err.message, "zstd -d") != NULL);
    tarn_error_clear(&err);
}

/* Every column of a 2,000-column file gets its statistics (a statistics
 * query of one UNION ALL branch per column failed past 994 columns), and
 * null counts are counted. */
static void wide_file_statistics(void)
{
    const char *dir = test_tmpdir("wide_stats");
    tarn_duck d;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__duck_open(&d, &err) == 0);
    strbuf q = {0};
    sb_append(&q, "SELECT range AS id");
    for (int i = 1; i < 2000; i++)
        sb_printf(&q, ", %s AS c%d",
                  i % 2 ? "range * 2" : "CASE WHEN range > 0 THEN 'x' || range END", i);
    sb_append(&q, " FROM range(3)");
    char path[4200];
    snprintf(path, sizeof path, "%s/wide.parquet", dir);
    int64_t rows = 0;
    char *schema = NULL, *stats = NULL;
    int rc = tarn__duck_write_parquet(&rows, &schema, &stats, &d, sb_str(&q), path, "[]", &err);
    if (rc) fprintf(stderr, "  %s\n", err.message);
    REQUIRE(rc == 0);
    CHECK_EQ_INT(rows, 3);
    tarn_column *cols;
    size_t n;
    tarn__schema_parse(&cols, &n, schema);
    CHECK_EQ_INT(n, 2000);
    tarn__columns_free(cols, n);
    CHECK(strstr(stats, "\"c1999\":{\"exact\":true,\"max\":\"4\",\"min\":\"0\",\"nulls\":0}") != NULL);
    CHECK(strstr(stats, "\"c2\":{\"exact\":true,\"max\":\"x2\",\"min\":\"x1\",\"nulls\":1}") != NULL);
    CHECK(strstr(stats, "\"id\":{\"exact\":true,\"max\":\"2\",\"min\":\"0\",\"nulls\":0}") != NULL);
    size_t keys = 0;
    for (const char *p = stats; (p = strstr(p, "\"nulls\"")); p++)
        keys++;
    CHECK_EQ_INT(keys, 2000);
    /* No columns: refused before DuckDB fails inside COPY. */
    CHECK_EQ_INT(
        tarn__duck_check_columns(&d, "SELECT * EXCLUDE (a) FROM (SELECT 1 AS a)", "table x", &err),
        TARN_EINVALID);
    CHECK(strstr(err.message, "cannot write table x") != NULL);
    free(schema);
    free(stats);
    sb_free(&q);
    tarn__duck_close(&d);
    tarn_error_clear(&err);
}

/* The first version of the options struct, as a caller built against it
 * has it: shorter than today's. */
typedef struct options_v1 {
    int version;
    tarn_import_mode mode;
    const char *format;
    const char *message;
    void (*progress)(double fraction, void *ctx);
    void *progress_ctx;
} options_v1;

static void options_version_1(void)
{
    const char *dir = test_tmpdir("options_v1");
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn_lake_init(dir, &err) == 0);
    char lakepath[4200];
    snprintf(lakepath, sizeof lakepath, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    REQUIRE(tarn_lake_open_path(&lake, lakepath, &err) == 0);
    /* Allocated exactly: reading a version-2 field would be out of bounds
     * (ASan says so). */
    options_v1 *o = malloc(sizeof *o);
    *o = (options_v1){1, TARN_IMPORT_CREATE, "csv", "old caller", NULL, NULL};
    tarn_import_result r;
    int rc = tarn_table_import(&r, lake, "t", write_file(dir, "a.txt", "id;v\n1;x\n2;y\n", 0), NULL,
                               (const tarn_import_options *)o, &err);
    if (rc) fprintf(stderr, "  %s\n", err.message);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.rows, 2);
    o->version = 7;
    CHECK_EQ_INT(tarn_table_import(&r, lake, "t2", write_file(dir, "b.csv", "a\n1\n", 0), NULL,
                                   (const tarn_import_options *)o, &err),
                 TARN_EINVALID);
    CHECK(strstr(err.message, "version 7") != NULL);
    free(o);
    tarn_lake_close(&lake);
    tarn_error_clear(&err);
}

int main(void)
{
    TEST_RUN(widening_rules);
    TEST_RUN(json_depth);
    TEST_RUN(lines_and_compression);
    TEST_RUN(wide_file_statistics);
    TEST_RUN(options_version_1);
    return test_summary();
}
