/* arrow_duckdb_test.c — the round trip against DuckDB: a query producing
 * every type -> DuckDB's Arrow export -> our IPC encoder -> our zero-copy
 * decoder -> DuckDB's Arrow import (a view over our ArrowArrayStream) ->
 * the same rows, compared cell by cell as text. */
#include <duckdb.h>
#include <stdlib.h>
#include <string.h>

#include "arrow_testutil.h"
#include "testlib.h"

static const char *ALL_TYPES =
    "SELECT i AS id,"
    " CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END AS b,"
    " CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 256 - 128)::TINYINT END AS i8,"
    " CASE WHEN i % 7 = 1 THEN NULL ELSE (i * 7 - 10000)::SMALLINT END AS i16,"
    " CASE WHEN i % 7 = 2 THEN NULL ELSE (i * 100003 - 2000000)::INTEGER END AS i32,"
    " CASE WHEN i % 7 = 3 THEN NULL ELSE i * 1000000007 - 9000000000000 END AS i64,"
    " CASE WHEN i % 7 = 4 THEN NULL ELSE (i % 256)::UTINYINT END AS u8,"
    " CASE WHEN i % 7 = 5 THEN NULL ELSE (i * 13 % 65536)::USMALLINT END AS u16,"
    " CASE WHEN i % 7 = 6 THEN NULL ELSE (i * 1000003 % 4294967296)::UINTEGER END AS u32,"
    " CASE WHEN i % 6 = 0 THEN NULL ELSE (i::UBIGINT * 1000000000000007) END AS u64,"
    " CASE WHEN i % 6 = 1 THEN NULL ELSE (i / 3.0)::FLOAT END AS f32,"
    " CASE WHEN i % 6 = 2 THEN NULL ELSE i / 7.0 END AS f64,"
    " CASE WHEN i % 6 = 3 THEN NULL ELSE 'row ' || i || repeat('x', i % 40) END AS s,"
    " CASE WHEN i % 6 = 4 THEN NULL ELSE ('\\x00\\xFF' || i)::BLOB END AS bl,"
    " CASE WHEN i % 6 = 5 THEN NULL ELSE DATE '1969-12-25' + i::INTEGER END AS d,"
    " CASE WHEN i % 9 = 0 THEN NULL ELSE TIMESTAMP '2020-02-29 12:00:00' + to_microseconds(i * "
    "123456789) END AS ts,"
    " CASE WHEN i % 9 = 1 THEN NULL ELSE TIMESTAMPTZ '2020-02-29 12:00:00+00' + to_seconds(i * "
    "3601) END AS tstz,"
    " CASE WHEN i % 9 = 2 THEN NULL ELSE (i / 7)::DECIMAL(4,1) END AS dec4,"
    " CASE WHEN i % 9 = 3 THEN NULL ELSE (i * 12345.678 - 1000000)::DECIMAL(18,3) END AS dec18,"
    " CASE WHEN i % 9 = 4 THEN NULL ELSE (i::HUGEINT * 100000000000000000000 + 0.5)::DECIMAL(38,2) "
    "END AS dec38,"
    " CASE WHEN i % 9 = 5 THEN NULL ELSE (['red','green','blue'])[i % 3 + 1]::mood END AS e,"
    " CASE WHEN i % 9 = 6 THEN NULL ELSE {'x': i, 'y': 'y' || i} END AS st,"
    " CASE WHEN i % 9 = 7 THEN NULL ELSE range(i % 4) END AS li,"
    " CASE WHEN i % 11 = 0 THEN NULL ELSE TIME '00:00:01' + to_microseconds(i * 28800017) END AS "
    "tm,"
    " CASE WHEN i % 11 = 1 THEN NULL ELSE to_months(i % 25) + to_days(i % 40 - 20)"
    "   + to_microseconds(i * 1000003) END AS iv,"
    " CASE WHEN i % 11 = 2 THEN NULL ELSE md5(i::VARCHAR)::UUID END AS uu,"
    " CASE WHEN i % 11 = 3 THEN NULL ELSE i::HUGEINT * 170141183460469231731687303715884 END AS hi,"
    " CASE WHEN i % 11 = 4 THEN NULL ELSE i::UHUGEINT * 340282366920938463463374607431768 END AS "
    "uhi,"
    " (CASE WHEN i % 11 = 5 THEN NULL ELSE [i, NULL, -i] END)::INTEGER[3] AS arr,"
    " CASE WHEN i % 11 = 6 THEN NULL ELSE MAP {'k' || i: i, 'z': NULL::INTEGER} END AS m,"
    " CASE WHEN i % 11 = 7 THEN NULL ELSE make_timestamp(i * 1000000007)::TIMESTAMP_S END AS tss,"
    " CASE WHEN i % 11 = 8 THEN NULL ELSE make_timestamp(i * 1000000007)::TIMESTAMP_MS END AS tsms,"
    " CASE WHEN i % 11 = 9 THEN NULL ELSE make_timestamp(i * 1000000007)::TIMESTAMP_NS END AS tsns,"
    " CASE WHEN i % 11 = 10 THEN NULL ELSE [[i], [], NULL, [i, i + 1]] END AS ll,"
    " CASE WHEN i % 13 = 0 THEN NULL ELSE {'a': [i], 'b': {'c': 'c' || i}} END AS nest"
    " FROM range(3000) t(i)";

typedef struct exported {
    struct ArrowSchema schema;
    struct ArrowArray batches[16];
    size_t n;
} exported;

/* Run SQL and export its result through DuckDB's Arrow export. */
static int duck_export(exported *out, duckdb_connection con, const char *sql)
{
    duckdb_result res;
    duckdb_arrow_options opts;
    duckdb_logical_type types[64];
    const char *names[64];
    duckdb_error_data e;
    duckdb_data_chunk chunk;
    idx_t ncol, c;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
        fprintf(stderr, "  query: %s\n", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    opts = duckdb_result_get_arrow_options(&res);
    ncol = duckdb_column_count(&res);
    for (c = 0; c < ncol; c++) {
        types[c] = duckdb_column_logical_type(&res, c);
        names[c] = duckdb_column_name(&res, c);
    }
    e = duckdb_to_arrow_schema(opts, types, names, ncol, &out->schema);
    if (duckdb_error_data_has_error(e)) {
        fprintf(stderr, "  to_arrow_schema: %s\n", duckdb_error_data_message(e));
        goto done;
    }
    while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
        duckdb_error_data ce = duckdb_data_chunk_to_arrow(opts, chunk, &out->batches[out->n]);
        duckdb_destroy_data_chunk(&chunk);
        if (duckdb_error_data_has_error(ce)) {
            fprintf(stderr, "  chunk_to_arrow: %s\n", duckdb_error_data_message(ce));
            duckdb_destroy_error_data(&ce);
            goto done;
        }
        duckdb_destroy_error_data(&ce);
        if (++out->n == 16) break;
    }
    rc = 0;
done:
    duckdb_destroy_error_data(&e);
    for (c = 0; c < ncol; c++)
        duckdb_destroy_logical_type(&types[c]);
    duckdb_destroy_arrow_options(&opts);
    duckdb_destroy_result(&res);
    return rc;
}

static void exported_free(exported *x)
{
    size_t i;
    for (i = 0; i < x->n; i++)
        if (x->batches[i].release) x->batches[i].release(&x->batches[i]);
    if (x->schema.release) x->schema.release(&x->schema);
}

/* Compare two queries' results cell by cell as text (every column cast to
 * VARCHAR by DuckDB itself); returns the number of mismatches. */
static int compare(duckdb_connection con, const char *a_query, const char *b_query, idx_t *rows)
{
    duckdb_result a, b;
    idx_t r, c, ncol;
    int bad = 0, nonnull = 0;
    char a_sql[9000], b_sql[9000];
    snprintf(a_sql, sizeof(a_sql), "SELECT COLUMNS(*)::VARCHAR FROM (%s)", a_query);
    snprintf(b_sql, sizeof(b_sql), "SELECT COLUMNS(*)::VARCHAR FROM (%s)", b_query);
    if (duckdb_query(con, a_sql, &a) != DuckDBSuccess) {
        fprintf(stderr, "  %s: %s\n", a_sql, duckdb_result_error(&a));
        duckdb_destroy_result(&a);
        return 1;
    }
    if (duckdb_query(con, b_sql, &b) != DuckDBSuccess) {
        fprintf(stderr, "  %s: %s\n", b_sql, duckdb_result_error(&b));
        duckdb_destroy_result(&a);
        duckdb_destroy_result(&b);
        return 1;
    }
    ncol = duckdb_column_count(&a);
    *rows = duckdb_row_count(&a);
    if (ncol != duckdb_column_count(&b) || *rows != duckdb_row_count(&b)) {
        fprintf(stderr, "  shape differs: %llu x %llu vs %llu x %llu\n", (unsigned long long)*rows,
                (unsigned long long)ncol, (unsigned long long)duckdb_row_count(&b),
                (unsigned long long)duckdb_column_count(&b));
        bad = 1;
    }
    for (c = 0; c < ncol && !bad; c++) {
        if (strcmp(duckdb_column_name(&a, c), duckdb_column_name(&b, c)) != 0) bad++;
        for (r = 0; r < *rows && bad < 5; r++) {
            char *x = duckdb_value_varchar(&a, c, r), *y = duckdb_value_varchar(&b, c, r);
            nonnull += x != NULL;
            if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0)) {
                fprintf(stderr, "  column %s row %llu: '%s' vs '%s'\n", duckdb_column_name(&a, c),
                        (unsigned long long)r, x ? x : "NULL", y ? y : "NULL");
                bad++;
            }
            duckdb_free(x);
            duckdb_free(y);
        }
    }
    /* the comparison saw real values, not NULLs everywhere */
    if (*rows > 0 && nonnull < (int)(*rows * ncol) / 2) {
        fprintf(stderr, "  only %d of %llu cells are non-NULL\n", nonnull,
                (unsigned long long)(*rows * ncol));
        bad++;
    }
    duckdb_destroy_result(&a);
    duckdb_destroy_result(&b);
    return bad;
}

static void free_bytes(void *ctx, const void *data, size_t size)
{
    (*(int *)ctx)++;
    free((void *)data);
}

static void round_trip(duckdb_connection con, const char *view_name,
                       const char *expect_string_format)
{
    exported x;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_writer *w = NULL;
    tarn_arrow_table *t = NULL;
    tarn_arrow_duckdb_view *view = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0, i;
    idx_t rows = 0;
    int released = 0;
    char sql[8192], view_sql[512];

    REQUIRE(duck_export(&x, con, ALL_TYPES) == 0);
    CHECK(x.n >= 2); /* 3000 rows: more than one DuckDB chunk */
    CHECK_EQ_STR(x.schema.children[12]->format, expect_string_format);
    CHECK(x.schema.children[20]->dictionary != NULL); /* the ENUM is a dictionary */
    REQUIRE(tarn_arrow_writer_new(&w, &x.schema, &err) == 0);
    for (i = 0; i < x.n; i++) {
        if (tarn_arrow_writer_write(w, &x.batches[i], &err) != 0)
            fprintf(stderr, "  write: %s\n", err.message);
    }
    REQUIRE(tarn_arrow_writer_take(w, &bytes, &size, &err) == 0);
    tarn_arrow_writer_free(&w);
    exported_free(&x);

    if (tarn_arrow_ipc_decode(&t, bytes, size, free_bytes, &released, &err) != 0)
        fprintf(stderr, "  decode: %s\n", err.message);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 3000);
    if (tarn_arrow_duckdb_register(&view, con, view_name, t, &err) != 0)
        fprintf(stderr, "  register: %s\n", err.message);
    tarn_arrow_table_free(&t);
    REQUIRE(view != NULL);

    /* DuckDB imports an Arrow dictionary as its value type (VARCHAR here),
     * and duckdb_value_varchar cannot render an ENUM: compare as text */
    snprintf(sql, sizeof(sql), "SELECT * REPLACE (e::VARCHAR AS e) FROM (%s) ORDER BY id",
             ALL_TYPES);
    snprintf(view_sql, sizeof(view_sql), "SELECT * FROM %s ORDER BY id", view_name);
    CHECK_EQ_INT(compare(con, sql, view_sql, &rows), 0);
    CHECK_EQ_INT(rows, 3000);
    /* same DuckDB types, except the three DuckDB's Arrow export itself changes:
     * ENUM (a dictionary, imported as VARCHAR), UUID (exported as utf8) and
     * HUGEINT (exported as decimal(38,0)) */
    snprintf(
        sql, sizeof(sql),
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (e, uu, hi) FROM (%s))",
        ALL_TYPES);
    snprintf(view_sql, sizeof(view_sql),
             "SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (e, uu, hi) FROM %s)",
             view_name);
    CHECK_EQ_INT(compare(con, sql, view_sql, &rows), 0);
    CHECK_EQ_INT(rows, 32);
    /* projections, filters and aggregates, read again from the same view */
    snprintf(sql, sizeof(sql),
             "SELECT e::VARCHAR AS e, count(*), sum(i64), count(s), max(dec38), min(tstz), "
             "max(st.x), sum(len(li)) FROM (%s) WHERE i32 > 0 OR u8 IS NULL GROUP BY e "
             "ORDER BY e",
             ALL_TYPES);
    snprintf(view_sql, sizeof(view_sql),
             "SELECT e::VARCHAR AS e, count(*), sum(i64), count(s), max(dec38), min(tstz), "
             "max(st.x), sum(len(li)) FROM %s WHERE i32 > 0 OR u8 IS NULL GROUP BY e "
             "ORDER BY e",
             view_name);
    CHECK_EQ_INT(compare(con, sql, view_sql, &rows), 0);
    CHECK_EQ_INT(rows, 4);
    snprintf(sql, sizeof(sql), "SELECT bl, d, id FROM (%s) WHERE id %% 3 = 1 ORDER BY id",
             ALL_TYPES);
    snprintf(view_sql, sizeof(view_sql), "SELECT bl, d, id FROM %s WHERE id %% 3 = 1 ORDER BY id",
             view_name);
    CHECK_EQ_INT(compare(con, sql, view_sql, &rows), 0);
    CHECK_EQ_INT(rows, 1000);
    CHECK_EQ_INT(released, 0);
    tarn_arrow_duckdb_view_free(&view);
    CHECK(view == NULL);
    CHECK_EQ_INT(released, 1);
}

static duckdb_database db;
static duckdb_connection con;

static void exec(const char *sql)
{
    duckdb_result r;
    if (duckdb_query(con, sql, &r) != DuckDBSuccess)
        fprintf(stderr, "  %s: %s\n", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
}

static void test_duckdb_round_trip(void)
{
    round_trip(con, "rt_utf8", "u");
}

static void test_duckdb_round_trip_large_strings(void)
{
    exec("SET arrow_large_buffer_size = true");
    round_trip(con, "rt_large_utf8", "U");
    exec("SET arrow_large_buffer_size = false");
}

/* A query with no rows: no batches at all, yet the view has every column,
 * with the same types. */
static void test_duckdb_empty_table(void)
{
    exported x;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_writer *w = NULL;
    tarn_arrow_table *t = NULL;
    tarn_arrow_duckdb_view *view = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    idx_t rows = 0;
    int released = 0;
    char sql[9000];

    snprintf(sql, sizeof(sql), "SELECT * FROM (%s) WHERE id < 0", ALL_TYPES);
    REQUIRE(duck_export(&x, con, sql) == 0);
    CHECK_EQ_INT(x.n, 0);
    REQUIRE(tarn_arrow_writer_new(&w, &x.schema, &err) == 0);
    REQUIRE(tarn_arrow_writer_take(w, &bytes, &size, &err) == 0);
    tarn_arrow_writer_free(&w);
    exported_free(&x);
    REQUIRE(tarn_arrow_ipc_decode(&t, bytes, size, free_bytes, &released, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_batches(t), 0);
    if (tarn_arrow_duckdb_register(&view, con, "rt_empty", t, &err) != 0)
        fprintf(stderr, "  register: %s\n", err.message);
    tarn_arrow_table_free(&t);
    REQUIRE(view != NULL);
    snprintf(
        sql, sizeof(sql),
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (e, uu, hi) FROM (%s))",
        ALL_TYPES);
    CHECK_EQ_INT(compare(con, sql,
                         "SELECT column_name, column_type FROM "
                         "(DESCRIBE SELECT * EXCLUDE (e, uu, hi) FROM rt_empty)",
                         &rows),
                 0);
    CHECK_EQ_INT(rows, 32);
    CHECK_EQ_INT(compare(con, "SELECT count(*) AS n FROM rt_empty", "SELECT 0::BIGINT AS n", &rows),
                 0);
    tarn_arrow_duckdb_view_free(&view);
    CHECK_EQ_INT(released, 1);
}

int main(void)
{
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess) {
        fprintf(stderr, "cannot open DuckDB\n");
        return 1;
    }
    exec("SET TimeZone = 'UTC'");
    exec("CREATE TYPE mood AS ENUM ('red', 'green', 'blue')");
    TEST_RUN(test_duckdb_round_trip);
    TEST_RUN(test_duckdb_round_trip_large_strings);
    TEST_RUN(test_duckdb_empty_table);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return test_summary();
}
