/* utf8_test.c — text from outside stays valid UTF-8 on its way into errors
 * and JSON: invalid bytes become U+FFFD, the rest is kept, and a message
 * cut at its buffer's end never ends inside a character. */
#include <stdlib.h>
#include <string.h>

#include "tarn/tarn.h"
#include "testlib.h"
#include "util/error.h"
#include "util/utf8.h"

#define FFFD "\xEF\xBF\xBD"

static void repair_keeps_valid_text(void)
{
    const char *ok = "plain, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80";
    char *r = tarn_utf8_repair(ok, strlen(ok));
    CHECK_EQ_STR(r, ok);
    tarn_free(r);
    CHECK(tarn_utf8_repair(NULL, 0) == NULL);
}

static void repair_replaces_each_bad_byte(void)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"caf\xE9 printed", 12, "caf" FFFD " printed"}, /* Latin-1 */
        {"\xC3", 1, FFFD},                              /* cut short */
        {"\xC0\xAF", 2, FFFD FFFD},                     /* overlong '/' */
        {"\xED\xA0\x80", 3, FFFD FFFD FFFD},            /* a surrogate */
        {"\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD},   /* above U+10FFFF */
        {"a\0b", 3, "a" FFFD "b"},                      /* a NUL would end the string */
        {"\xFF\xFEx", 3, FFFD FFFD "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *r = tarn_utf8_repair(cases[i].in, cases[i].n);
        CHECK_EQ_STR(r, cases[i].out);
        CHECK_EQ_INT(tarn__utf8_valid_len(r, strlen(r)), strlen(r));
        tarn_free(r);
    }
}

static void error_messages_are_valid(void)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn__error_set(&err, TARN_EINVALID, "line 3: \"2,caf%c\"", 0xE9);
    CHECK_EQ_STR(err.message, "line 3: \"2,caf" FFFD "\"");
    /* A long message cut in the middle of a 2-byte character: the half
     * character goes, the rest stays. */
    char big[TARN_MESSAGE_MAX + 10];
    memset(big, 'x', sizeof big);
    for (size_t i = TARN_MESSAGE_MAX - 10; i + 1 < sizeof big; i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[sizeof big - 1] = 0;
    for (int shift = 0; shift < 2; shift++) {
        tarn__error_set(&err, TARN_EIO, "%s", big + shift);
        size_t n = strlen(err.message);
        CHECK(n < TARN_MESSAGE_MAX);
        CHECK(n >= TARN_MESSAGE_MAX - 3);
        CHECK_EQ_INT(tarn__utf8_valid_len(err.message, n), n);
        CHECK(strstr(err.message, FFFD) == NULL);
    }
    /* Bad bytes near the end that grow when replaced still fit. */
    memset(big, (char)0xE9, sizeof big);
    big[sizeof big - 1] = 0;
    tarn__error_set(&err, TARN_EIO, "%s", big);
    CHECK(strlen(err.message) < TARN_MESSAGE_MAX);
    CHECK_EQ_INT(tarn__utf8_valid_len(err.message, strlen(err.message)), strlen(err.message));
    CHECK(strncmp(err.message, FFFD FFFD, 6) == 0);
    tarn_error_clear(&err);
}

int main(void)
{
    TEST_RUN(repair_keeps_valid_text);
    TEST_RUN(repair_replaces_each_bad_byte);
    TEST_RUN(error_messages_are_valid);
    return test_summary();
}
