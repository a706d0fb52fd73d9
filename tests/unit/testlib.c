/* testlib.c — the harness behind testlib.h. */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

int test_failures_ = 0;
int test_current_failed_ = 0;
static int test_passes_ = 0;

void test_run_(const char *name, void (*fn)(void))
{
    test_current_failed_ = 0;
    fn();
    if (test_current_failed_) {
        test_failures_++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        test_passes_++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passes_, test_failures_);
    return test_failures_ ? 1 : 0;
}

const char *test_tmpdir(const char *name)
{
    static char path[4096];
    const char *base = getenv("TARN_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    snprintf(path, sizeof path, "%s/%s.%d", base, name, (int)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    return path;
}
