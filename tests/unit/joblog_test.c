/* joblog_test.c — a job's log on disk (runtime/joblog.c): lines before the
 * job starts, the cap and rotation, the note where lines were dropped, the
 * bounded tail, and a bad run.log_max_mb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lake/joblog.h"
#include "tarn/tarn.h"
#include "testlib.h"

static tarn_lake *lake_with_config(const char *name, const char *config)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", test_tmpdir(name));
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_lake_init(dir, &err) != 0) return NULL;
    snprintf(path, sizeof path, "%s/.tarn/config", dir);
    FILE *f = fopen(path, "a");
    fputs(config, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    tarn_lake_open_path(&lake, path, &err);
    return lake;
}

static long file_size(tarn_lake *lake, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/logs/%s", tarn_lake_path(lake), name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_lines_before_the_job_reach_the_file(void)
{
    tarn_lake *lake = lake_with_config("joblog_start", "");
    REQUIRE(lake);
    tarn_joblog *log = NULL;
    REQUIRE(tarn__joblog_open(&log, lake, NULL) == 0);
    tarn__joblog_line(log, "plan line");
    CHECK_EQ_INT(file_size(lake, "0123abcd.log"), -1); /* no job, no file */
    REQUIRE(tarn__joblog_start(log, "0123abcd", NULL) == 0);
    tarn__joblog_line(log, "task line");
    tarn__joblog_close(&log);
    CHECK(log == NULL);
    char *text = NULL;
    REQUIRE(tarn__joblog_read(&text, lake, "0123abcd", NULL) == 0);
    CHECK_EQ_STR(text, "plan line\ntask line\n");
    free(text);
    tarn__joblog_append(lake, "0123abcd", "settled");
    REQUIRE(tarn__joblog_read(&text, lake, "0123abcd", NULL) == 0);
    CHECK_EQ_STR(text, "plan line\ntask line\nsettled\n");
    free(text);
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn__joblog_read(&text, lake, "ffff", &err), TARN_ENOTFOUND);
    tarn_lake_close(&lake);
}

static void test_cap_rotation_and_tail(void)
{
    tarn_lake *lake = lake_with_config("joblog_cap", "run.log_max_mb = 1\n");
    REQUIRE(lake);
    tarn_joblog *log = NULL;
    REQUIRE(tarn__joblog_open(&log, lake, NULL) == 0);
    REQUIRE(tarn__joblog_start(log, "cafe", NULL) == 0);
    char line[128];
    for (int i = 0; i < 40000; i++) { /* about 4 MB */
        snprintf(line, sizeof line, "%06d %s", i,
                 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
                 "zzzzzzzzz");
        tarn__joblog_line(log, line);
        if (i % 1000 == 0) {
            char *tail = tarn__joblog_tail(log);
            REQUIRE(strlen(tail) <= 2 * TARN_JOBLOG_TAIL);
            free(tail);
        }
    }
    char *tail = tarn__joblog_tail(log);
    CHECK(strstr(tail, "039999 zz") != NULL);
    CHECK(strlen(tail) >= TARN_JOBLOG_TAIL / 2);
    free(tail);
    tarn__joblog_close(&log);
    long total = file_size(lake, "cafe.log") + file_size(lake, "cafe.log.1");
    CHECK(total <= 1024 * 1024);
    CHECK(total >= 512 * 1024);
    char *text = NULL;
    REQUIRE(tarn__joblog_read(&text, lake, "cafe", NULL) == 0);
    CHECK(strncmp(text, "[... earlier lines of this job's log were dropped", 48) == 0);
    CHECK(strstr(text, "039999 zz") != NULL);
    CHECK(strstr(text, "000000 zz") == NULL);
    CHECK(strstr(text, "[tarn: log part") == NULL); /* part headers are not shown */
    free(text);
    tarn_lake_close(&lake);
}

static void test_bad_cap_is_refused(void)
{
    tarn_lake *lake = lake_with_config("joblog_bad", "run.log_max_mb = 0\n");
    REQUIRE(lake);
    tarn_joblog *log = NULL;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn__joblog_open(&log, lake, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "run.log_max_mb") != NULL);
    CHECK(log == NULL);
    tarn__joblog_close(&log); /* NULL is fine */
    tarn_lake_close(&lake);
}

int main(void)
{
    TEST_RUN(test_lines_before_the_job_reach_the_file);
    TEST_RUN(test_cap_rotation_and_tail);
    TEST_RUN(test_bad_cap_is_refused);
    return test_summary();
}
