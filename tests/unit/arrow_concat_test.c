/* arrow_concat_test.c — DuckDB results exported to shared memory are joined
 * into big batches (tarn_arrow_concat) without changing a value: every
 * flat type, nulls included, across many 2,048-row chunks. */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sql/engine.h"
#include "tarn/arrow.h"
#include "testlib.h"

static const char *QUERY =
    "SELECT i::BIGINT AS id, i::INTEGER AS i32, (i % 7)::TINYINT AS i8, i * 0.5 AS dbl,"
    " (i * 0.25)::FLOAT AS flt, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS str,"
    " (i % 3 = 0) AS flag, CASE WHEN i % 4 = 0 THEN NULL ELSE i END AS maybe,"
    " TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND AS ts, DATE '2026-01-01' + (i % 100)::INTEGER AS day,"
    " (i / 100.0)::DECIMAL(18,2) AS dec, CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 2 = 0) END AS nbool"
    " FROM range(10007) t(i)";

static char *checksum(tarn_duck *d, const char *from)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT (count(*), count(str), count(maybe), count(nbool), sum(hash(id, i32, i8, dbl, flt, str,"
             " flag, maybe, ts, day, dec, nbool)))::VARCHAR FROM (%s)",
             from);
    duckdb_result res;
    char *out = NULL;
    if (tarn__duck_query(&res, d, sql, TARN_EIO, "checksum", NULL) == 0) out = tarn__duck_text(&res, 0, 0);
    duckdb_destroy_result(&res);
    return out;
}

static void test_export_joins_chunks_exactly(void)
{
    tarn_duck d;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__duck_open(&d, &err) == 0);
    int fd = -1;
    REQUIRE(tarn__duck_export_shm(&fd, &d, QUERY, "concat-test", &err) == 0);
    tarn_arrow_table *t = NULL;
    REQUIRE(tarn_arrow_shm_map(&t, fd, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 10007);
    CHECK_EQ_INT(tarn_arrow_table_num_batches(t), 1); /* 5 chunks joined */
    tarn_arrow_duckdb_view *v = NULL;
    REQUIRE(tarn_arrow_duckdb_register(&v, d.con, "joined", t, &err) == 0);
    char *want = checksum(&d, QUERY);
    char *got = checksum(&d, "SELECT * FROM joined");
    CHECK(want != NULL);
    CHECK_EQ_STR(got, want);
    free(want);
    free(got);
    tarn_arrow_duckdb_view_free(&v);
    tarn_arrow_table_free(&t);
    close(fd);
    tarn__duck_close(&d);
}

static void test_unsupported_types_keep_chunks(void)
{
    tarn_duck d;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__duck_open(&d, &err) == 0);
    int fd = -1;
    /* a list column cannot be joined: the chunks travel as they are */
    REQUIRE(tarn__duck_export_shm(&fd, &d, "SELECT i, [i, i + 1] AS l FROM range(5000) t(i)", "lists", &err) == 0);
    tarn_arrow_table *t = NULL;
    REQUIRE(tarn_arrow_shm_map(&t, fd, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 5000);
    CHECK(tarn_arrow_table_num_batches(t) > 1);
    tarn_arrow_table_free(&t);
    close(fd);
    tarn__duck_close(&d);
}

int main(void)
{
    TEST_RUN(test_export_joins_chunks_exactly);
    TEST_RUN(test_unsupported_types_keep_chunks);
    return test_summary();
}
