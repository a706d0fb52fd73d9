/* sql_lexer_fuzz.c — libFuzzer target for tarn's SQL lexer (sql/lexer.c),
 * which reads every statement and model a user writes before DuckDB does.
 *
 * Beyond "no crash": the tokens cover the text exactly, in order, each at
 * least one byte; spelling `default.` as `main.` changes nothing in a text
 * that does not hold the word `default` (in any case) and nothing more
 * when done twice; and its output is the input with only some `default`
 * words (or `"default"` names) replaced. Built as fuzz/CMakeLists.txt says (regression runner
 * always, libFuzzer binary with TARN_FUZZ=ON). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql/lexer.h"

static void fail(const char *what)
{
    fprintf(stderr, "sql_lexer_fuzz: %s\n", what);
    abort();
}

static int holds_default(const char *s)
{
    for (; *s; s++) {
        size_t i = 0;
        while (i < 7 && s[i] && (s[i] | 0x20) == "default"[i])
            i++;
        if (i == 7) return 1;
    }
    return 0;
}

/* OUT is IN with some `default` replaced by `main` (or `"default"` by
 * `"main"`, any case), and nothing else changed. */
static int only_replaced(const char *in, const char *out)
{
    while (*in || *out) {
        int quoted = *in == '"';
        const char *word = quoted ? "\"main\"" : "main";
        size_t n = quoted ? 9 : 7, m = strlen(word);
        if (strlen(in) >= n && strncmp(out, word, m) == 0 &&
            strncasecmp(in + quoted, "default", 7) == 0) {
            in += n;
            out += m;
        } else if (*in == *out) {
            in++, out++;
        } else {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1);
    if (sql == NULL) return 0;
    memcpy(sql, data, size);
    sql[size] = 0;
    size_t len = strlen(sql), pos = 0;
    tarn_sql_token t;
    while (tarn__sql_token(&t, sql, len, pos)) {
        if (t.start != pos || t.end <= t.start || t.end > len) fail("tokens do not cover the text");
        pos = t.end;
    }
    if (pos != len) fail("tokens stop before the end");
    char *once = tarn__sql_spell_default(sql);
    char *twice = tarn__sql_spell_default(once);
    if (strcmp(once, twice) != 0) fail("spelling default twice changed more");
    if (!holds_default(sql) && strcmp(once, sql) != 0) fail("a text without default changed");
    if (!only_replaced(sql, once)) fail("something other than default changed");
    free(twice);
    free(once);
    free(sql);
    return 0;
}
