/* testlib.h — a tiny unit-test harness: CHECK records a failure and goes on,
 * REQUIRE stops the test; main() of each *_test.c calls TEST_RUN for each
 * test and returns test_summary(). The last line is "N passed, N failed". */
#ifndef TARN_TESTLIB_H
#define TARN_TESTLIB_H

#include <stdio.h>
#include <string.h>

extern int test_failures_;
extern int test_current_failed_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            test_current_failed_ = 1;                                                              \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);           \
            test_current_failed_ = 1;                                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a,    \
                    #b, a_, b_);                                                                   \
            test_current_failed_ = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,    \
                    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                               \
            test_current_failed_ = 1;                                                              \
        }                                                                                          \
    } while (0)

void test_run_(const char *name, void (*fn)(void));
int test_summary(void);
/* A fresh empty folder for this test (under TARN_TEST_TMP or /tmp). */
const char *test_tmpdir(const char *name);

#define TEST_RUN(fn) test_run_(#fn, fn)

#endif
