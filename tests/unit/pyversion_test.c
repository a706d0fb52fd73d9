/* pyversion_test.c — which interpreter satisfies @tarn.python(VERSION). */
#include "runtime/runtime.h"
#include "testlib.h"

static void test_version_components_match_whole(void)
{
    CHECK(tarn__python_version_matches("3.11.2", "3.11"));
    CHECK(tarn__python_version_matches("3.11.2", "3.11.2"));
    CHECK(tarn__python_version_matches("3.11.2", "3"));
    CHECK(!tarn__python_version_matches("3.11.2", "3.1"));
    CHECK(!tarn__python_version_matches("3.11.2", "3.11.20"));
    CHECK(!tarn__python_version_matches("3.110.0", "3.11"));
    CHECK(!tarn__python_version_matches("3.11.2", ""));
}

int main(void)
{
    TEST_RUN(test_version_components_match_whole);
    return test_summary();
}
