/* iceberg_bench.c DIR [SIZES...] — the time to load a table's Iceberg
 * metadata through the REST catalog's LoadTable: the first time (the
 * metadata is written: manifests, manifest list, metadata.json) and again
 * (found in the store), for tables of 1, 100 and 1,000 data files by
 * default. The handler runs in this process, as `tarn serve` calls it, so
 * the figures leave out HTTP. The lakehouse is made once under DIR (one
 * import per data file); each run serves it under an address of its own,
 * whose metadata has never been written. Prints a markdown table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tarn/tarn.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int import_rows(tarn_lake *lake, const char *dir, const char *table, int file, int append)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/in.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "id,name,amount,day\n");
    for (int r = 0; r < 100; r++)
        fprintf(f, "%d,name %d,%d.%02d,2024-01-%02d\n", file * 100 + r, r, r * 7, r % 100,
                1 + r % 28);
    fclose(f);
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.mode = append ? TARN_IMPORT_APPEND : TARN_IMPORT_CREATE;
    tarn_import_result res;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_import(&res, lake, table, path, NULL, &o, &err);
    if (rc) fprintf(stderr, "import: %s\n", err.message);
    return rc;
}

static double load(tarn_lake *lake, const char *path, const char *base)
{
    tarn_iceberg_request req = {
        TARN_ICEBERG_REQUEST_VERSION, "GET", path, NULL, NULL, 0, base, NULL, NULL, NULL, NULL};
    tarn_iceberg_response res;
    double t0 = now_ms();
    tarn_iceberg_rest_handle(&res, lake, &req);
    double ms = now_ms() - t0;
    if (res.status != 200) {
        fprintf(stderr, "LoadTable %s: %d %s\n", path, res.status, res.body ? res.body : "");
        ms = -1;
    }
    tarn_iceberg_response_clear(&res);
    return ms;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: iceberg_bench DIR [SIZES...]\n");
        return 2;
    }
    const char *dir = argv[1];
    int sizes[8] = {1, 100, 1000}, nsizes = 3;
    if (argc > 2) {
        nsizes = 0;
        for (int i = 2; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = atoi(argv[i]);
    }
    tarn_error err = TARN_ERROR_INIT;
    char tarn_dir[4200];
    snprintf(tarn_dir, sizeof tarn_dir, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (access(tarn_dir, F_OK) != 0 && tarn_lake_init(dir, &err) != 0) {
        fprintf(stderr, "init: %s\n", err.message);
        return 1;
    }
    if (tarn_lake_open_path(&lake, tarn_dir, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    printf("| data files | LoadTable, first (writes the metadata) | LoadTable, cached (median of "
           "5) |\n");
    printf("|---:|---:|---:|\n");
    for (int s = 0; s < nsizes; s++) {
        char table[64];
        snprintf(table, sizeof table, "t%d", sizes[s]);
        tarn_table_info info;
        int have = tarn_table_get(&info, lake, "main", table, &err) == 0;
        int64_t files = have ? info.file_count : 0;
        if (have) tarn_table_info_clear(&info);
        tarn_error_clear(&err);
        for (int64_t f = files; f < sizes[s]; f++)
            if (import_rows(lake, dir, table, (int)f, f > 0) != 0) return 1;
        /* Metadata is kept per table version and address: an address of
         * its own is a version never asked for. */
        char path[256], base[128];
        snprintf(base, sizeof base, "http://bench-%ld-%d.invalid/iceberg", (long)time(NULL),
                 (int)getpid());
        snprintf(path, sizeof path, "/main/v1/namespaces/default/tables/%s", table);
        double first = load(lake, path, base);
        double again[5];
        for (int i = 0; i < 5; i++)
            again[i] = load(lake, path, base);
        qsort(again, 5, sizeof *again, cmp);
        printf("| %d | %.1f ms | %.2f ms |\n", sizes[s], first, again[2]);
        fflush(stdout);
    }
    tarn_lake_close(&lake);
    return 0;
}
