/* lines_test.c — splitting a process's output into bounded, valid UTF-8
 * lines (util/lines.c): chunk boundaries, long lines, invalid bytes. */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "util/lines.h"

typedef struct seen {
    char *lines[64];
    size_t n, total;
} seen;

static void collect(const char *line, void *ctx)
{
    seen *s = ctx;
    if (s->n < 64) s->lines[s->n] = strdup(line);
    s->n++;
    s->total += strlen(line);
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n && i < 64; i++)
        free(s->lines[i]);
}

static void test_lines_across_chunks(void)
{
    seen s = {0};
    tarn_lines l;
    tarn__lines_init(&l, 100, collect, &s);
    const char *text = "first line\nsecond\n\nlast without newline";
    for (size_t i = 0; text[i]; i++)
        tarn__lines_feed(&l, text + i, 1); /* one byte at a time */
    CHECK_EQ_INT(s.n, 3);
    tarn__lines_finish(&l);
    REQUIRE(s.n == 4);
    CHECK_EQ_STR(s.lines[0], "first line");
    CHECK_EQ_STR(s.lines[1], "second");
    CHECK_EQ_STR(s.lines[2], "");
    CHECK_EQ_STR(s.lines[3], "last without newline");
    seen_free(&s);
}

static void test_long_line_is_cut_and_memory_stays_bounded(void)
{
    seen s = {0};
    tarn_lines l;
    tarn__lines_init(&l, 1000, collect, &s);
    char chunk[8192];
    memset(chunk, 'a', sizeof chunk);
    size_t total = 64u << 20; /* a 64 MiB line, 8 KiB at a time */
    for (size_t done = 0; done < total; done += sizeof chunk) {
        tarn__lines_feed(&l, chunk, sizeof chunk);
        REQUIRE(l.line.cap <= 4096); /* never more than the kept part */
    }
    tarn__lines_feed(&l, "\nnext\n", 6);
    tarn__lines_finish(&l);
    REQUIRE(s.n == 2);
    CHECK(strncmp(s.lines[0], "aaaa", 4) == 0);
    CHECK(strstr(s.lines[0], " [... 67107864 more bytes of this line not shown]") != NULL);
    CHECK_EQ_INT(strspn(s.lines[0], "a"), 1000);
    CHECK_EQ_STR(s.lines[1], "next");
    seen_free(&s);
}

static void test_many_lines_in_one_chunk(void)
{
    seen s = {0};
    tarn_lines l;
    tarn__lines_init(&l, 100, collect, &s);
    size_t n = 200000;
    char *buf = malloc(n * 2);
    for (size_t i = 0; i < n; i++)
        buf[2 * i] = 'x', buf[2 * i + 1] = '\n';
    tarn__lines_feed(&l, buf, n * 2);
    tarn__lines_finish(&l);
    CHECK_EQ_INT(s.n, n);
    CHECK_EQ_INT(s.total, n);
    free(buf);
    seen_free(&s);
}

static void test_invalid_utf8_is_escaped_not_dropped(void)
{
    seen s = {0};
    tarn_lines l;
    tarn__lines_init(&l, 100, collect, &s);
    const char text[] =
        "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n" /* valid: e-acute, euro, emoji */
        "bad \xff\xfe end\n"
        "overlong \xc0\xaf surrogate \xed\xa0\x80\n"
        "nul \x00 byte\n"
        "cut \xe2\x82";
    tarn__lines_feed(&l, text, sizeof text - 1);
    tarn__lines_finish(&l);
    REQUIRE(s.n == 5);
    CHECK_EQ_STR(s.lines[0], "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_EQ_STR(s.lines[1], "bad \\xff\\xfe end");
    CHECK_EQ_STR(s.lines[2], "overlong \\xc0\\xaf surrogate \\xed\\xa0\\x80");
    CHECK_EQ_STR(s.lines[3], "nul \\x00 byte");
    CHECK_EQ_STR(s.lines[4], "cut \\xe2\\x82");
    seen_free(&s);
}

static void test_cut_inside_a_character_stays_valid(void)
{
    seen s = {0};
    tarn_lines l;
    tarn__lines_init(&l, 5, collect, &s);
    tarn__lines_feed(&l, "abcd\xe2\x82\xac and more\n", 17); /* the euro sign straddles the cut */
    tarn__lines_finish(&l);
    REQUIRE(s.n == 1);
    CHECK_EQ_STR(s.lines[0], "abcd\\xe2 [... 11 more bytes of this line not shown]");
    seen_free(&s);
}

int main(void)
{
    TEST_RUN(test_lines_across_chunks);
    TEST_RUN(test_long_line_is_cut_and_memory_stays_bounded);
    TEST_RUN(test_many_lines_in_one_chunk);
    TEST_RUN(test_invalid_utf8_is_escaped_not_dropped);
    TEST_RUN(test_cut_inside_a_character_stays_valid);
    return test_summary();
}
