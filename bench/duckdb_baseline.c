/* bench/duckdb_baseline.c — the DuckDB side of the query benchmark.
 *
 * tarn's goal is to cost no more than DuckDB itself on the very same
 * Parquet files. This harness is "DuckDB alone": the same libduckdb tarn
 * links, an in-memory database, the same SQL with each table replaced by
 * read_parquet([...its data files...]) — exactly what tarn hands DuckDB.
 *
 *   duckdb_baseline gen DIR ROWS
 *       writes DIR/fact.parquet (ROWS rows: id BIGINT, a DOUBLE, category
 *       VARCHAR of 50 values, ts TIMESTAMP) and DIR/dim.parquet (the 50
 *       categories with a region and a weight), deterministic contents.
 *   duckdb_baseline many TARN_DIR TABLE ROWS FILES TMP_DIR
 *       imports into TABLE (created) the rows of `gen`'s fact table as FILES
 *       appends of ROWS/FILES rows each, ids rising: a table of FILES data
 *       files, as a table fed by many small appends is (through the
 *       library's tarn_table_import; TMP_DIR holds each part meanwhile).
 *   duckdb_baseline files TARN_DIR TABLE [REF]
 *       prints `read_parquet([...])` over the data files of TABLE at REF
 *       (default main), read from tarn's catalog through the library, so the
 *       baseline scans exactly tarn's files.
 *   duckdb_baseline query REPEAT SQL
 *       opens DuckDB, runs SQL REPEAT times, materialises and prints the last
 *       result (tab-separated) on stdout, and prints the in-process time of
 *       each run (query + fetching every value as text, database already
 *       open) on stderr as `inproc_ms: t1 t2 ...`. Timed from outside with
 *       REPEAT=1 it is the whole-process figure comparable to `tarn query`.
 *   duckdb_baseline tarnq REPEAT TARN_DIR SQL
 *       the same loop through the library's tarn_query (every row kept), for
 *       tarn's in-process time: the catalog lookup, a fresh DuckDB, the
 *       views over the data files and the query itself.
 */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "lake/lake.h"
#include "sql/engine.h"
#include "tarn/tarn.h"
#include "util/util.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int exec(duckdb_connection con, const char *sql)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
        fprintf(stderr, "duckdb: %s\n  in: %.300s\n", duckdb_result_error(&res), sql);
        duckdb_destroy_result(&res);
        return -1;
    }
    duckdb_destroy_result(&res);
    return 0;
}

static int open_db(duckdb_database *db, duckdb_connection *con)
{
    /* The same configuration tarn's engine uses (src/sql/engine.c). */
    duckdb_config config = NULL;
    char *open_err = NULL;
    duckdb_create_config(&config);
    duckdb_set_config(config, "autoinstall_known_extensions", "false");
    duckdb_set_config(config, "autoload_known_extensions", "false");
    if (duckdb_open_ext(NULL, db, config, &open_err) != DuckDBSuccess) {
        fprintf(stderr, "cannot open DuckDB: %s\n", open_err ? open_err : "?");
        duckdb_free(open_err);
        duckdb_destroy_config(&config);
        return -1;
    }
    duckdb_destroy_config(&config);
    return duckdb_connect(*db, con) == DuckDBSuccess ? 0 : -1;
}

static int gen(const char *dir, long long rows)
{
    duckdb_database db;
    duckdb_connection con;
    if (open_db(&db, &con) < 0) return 1;
    char sql[4096];
    snprintf(sql, sizeof sql,
             "COPY (SELECT range AS id,"
             " (hash(range) %% 1000000) / 1000.0 AS a,"
             " 'cat_' || lpad(CAST(range %% 50 AS VARCHAR), 2, '0') AS category,"
             " TIMESTAMP '2026-01-01 00:00:00' + to_seconds(range) AS ts"
             " FROM range(%lld)) TO '%s/fact.parquet' (FORMAT parquet)",
             rows, dir);
    int rc = exec(con, sql);
    snprintf(sql, sizeof sql,
             "COPY (SELECT 'cat_' || lpad(CAST(range AS VARCHAR), 2, '0') AS category,"
             " 'region_' || (range %% 5) AS region, range * 1.5 AS weight"
             " FROM range(50)) TO '%s/dim.parquet' (FORMAT parquet)",
             dir);
    if (rc == 0) rc = exec(con, sql);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc ? 1 : 0;
}

static int many(const char *tarn_dir, const char *table, long long rows, int nfiles,
                const char *tmp)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, tarn_dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    duckdb_database db;
    duckdb_connection con;
    if (open_db(&db, &con) < 0) return 1;
    long long per = rows / nfiles;
    int rc = 0;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        char part[4200], sql[8400];
        snprintf(part, sizeof part, "%s/part.parquet", tmp);
        snprintf(sql, sizeof sql,
                 "COPY (SELECT range AS id,"
                 " (hash(range) %% 1000000) / 1000.0 AS a,"
                 " 'cat_' || lpad(CAST(range %% 50 AS VARCHAR), 2, '0') AS category,"
                 " TIMESTAMP '2026-01-01 00:00:00' + to_seconds(range) AS ts"
                 " FROM range(%lld, %lld)) TO '%s' (FORMAT parquet)",
                 i * per, (i + 1) * per, part);
        rc = exec(con, sql);
        tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
        o.mode = i ? TARN_IMPORT_APPEND : TARN_IMPORT_CREATE;
        tarn_import_result res;
        if (rc == 0 && tarn_table_import(&res, lake, table, part, NULL, &o, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            rc = -1;
        }
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
    tarn_lake_close(&lake);
    return rc ? 1 : 0;
}

static int files(const char *tarn_dir, const char *table, const char *ref)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, tarn_dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    tarn_tree tree = {0};
    char qualified[300];
    tarn__qualify_table(qualified, sizeof qualified, table);
    int rc = tarn__ref_tree(&tree, NULL, lake, ref, &err);
    tarn_tree_entry *e = rc == 0 ? tarn__tree_find(&tree, qualified) : NULL;
    if (rc == 0 && !e) snprintf(err.message, sizeof err.message, "no table %s", qualified);
    if (e) {
        strbuf sql = {0};
        rc = tarn__duck_scan_sql(&sql, lake, e->version, &err);
        if (rc == 0) printf("%s\n", sb_str(&sql));
        sb_free(&sql);
    } else rc = -1;
    if (rc) fprintf(stderr, "%s\n", err.message);
    tarn__tree_clear(&tree);
    tarn_lake_close(&lake);
    return rc ? 1 : 0;
}

static int query(int repeat, const char *sql)
{
    duckdb_database db;
    duckdb_connection con;
    if (open_db(&db, &con) < 0) return 1;
    double *times = calloc((size_t)repeat, sizeof *times);
    int rc = 0;
    for (int it = 0; it < repeat && rc == 0; it++) {
        double t0 = now_ms();
        duckdb_result res;
        if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
            fprintf(stderr, "duckdb: %s\n", duckdb_result_error(&res));
            rc = 1;
        } else {
            /* Fetch every value as text, as tarn does for printing. */
            idx_t cols = duckdb_column_count(&res), rows = duckdb_row_count(&res);
            int last = it == repeat - 1;
            for (idx_t r = 0; r < rows; r++) {
                for (idx_t c = 0; c < cols; c++) {
                    char *v = duckdb_value_varchar(&res, c, r);
                    if (last) printf("%s%s", c ? "\t" : "", v ? v : "NULL");
                    duckdb_free(v);
                }
                if (last) putchar('\n');
            }
        }
        duckdb_destroy_result(&res);
        times[it] = now_ms() - t0;
    }
    fprintf(stderr, "inproc_ms:");
    for (int it = 0; it < repeat; it++) fprintf(stderr, " %.2f", times[it]);
    fprintf(stderr, "\n");
    free(times);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc;
}

static int tarnq(int repeat, const char *tarn_dir, const char *sql)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, tarn_dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double *times = calloc((size_t)repeat, sizeof *times);
    int rc = 0;
    for (int it = 0; it < repeat && rc == 0; it++) {
        double t0 = now_ms();
        tarn_result *r = NULL;
        tarn_query_options o = TARN_QUERY_OPTIONS_INIT;
        if (tarn_query(&r, lake, sql, &o, &err) != 0) {
            fprintf(stderr, "tarn: %s\n", err.message);
            rc = 1;
        } else if (it == repeat - 1) {
            for (size_t row = 0; row < tarn_result_row_count(r); row++) {
                for (size_t c = 0; c < tarn_result_column_count(r); c++) {
                    const char *v = tarn_result_value(r, row, c);
                    printf("%s%s", c ? "\t" : "", v ? v : "NULL");
                }
                putchar('\n');
            }
        }
        tarn_result_free(&r);
        times[it] = now_ms() - t0;
    }
    fprintf(stderr, "inproc_ms:");
    for (int it = 0; it < repeat; it++) fprintf(stderr, " %.2f", times[it]);
    fprintf(stderr, "\n");
    free(times);
    tarn_lake_close(&lake);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "tarnq") == 0) return tarnq(atoi(argv[2]), argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "gen") == 0) return gen(argv[2], atoll(argv[3]));
    if (argc == 7 && strcmp(argv[1], "many") == 0)
        return many(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), argv[6]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "files") == 0)
        return files(argv[2], argv[3], argc == 5 ? argv[4] : "main");
    if (argc == 4 && strcmp(argv[1], "query") == 0) return query(atoi(argv[2]), argv[3]);
    fprintf(stderr, "usage: %s gen DIR ROWS | many TARN_DIR TABLE ROWS FILES TMP_DIR | files TARN_DIR TABLE [REF] | query REPEAT SQL | tarnq REPEAT TARN_DIR SQL\n", argv[0]);
    return 2;
}
