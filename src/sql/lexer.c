/* sql/lexer.c — just enough of DuckDB's SQL lexer to tell code from
 * strings, quoted identifiers and comments (see lexer.h).
 *
 * DuckDB's parser answers every other question tarn asks about a statement
 * (which tables, which parameters, is it one SELECT). The one thing it
 * cannot do is read `default.t`: DEFAULT is a reserved word of its grammar.
 * tarn's default namespace lives in DuckDB's schema `main`, so the name
 * `default` used as a qualifier is spelled `main` before DuckDB sees the
 * statement. Doing that on tokens, not on text, leaves strings, quoted
 * names and comments as they were. */
#include "sql/lexer.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int word_char(unsigned char c)
{
    return word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* End of a quoted run starting at S[I] (the quote), where a doubled quote
 * stands for itself; BACKSLASH: `\x` escapes too (E'...' strings). An
 * unterminated run ends with the text. */
static size_t quoted_end(const char *s, size_t len, size_t i, char q, int backslash)
{
    for (i++; i < len; i++) {
        if (backslash && s[i] == '\\' && i + 1 < len) {
            i++;
        } else if (s[i] == q) {
            if (i + 1 < len && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return len;
}

/* $tag$ ... $tag$ (tag possibly empty) when S[I..] opens one: its end, or 0. */
static size_t dollar_end(const char *s, size_t len, size_t i)
{
    size_t t = i + 1;
    if (t < len && word_start((unsigned char)s[t]))
        while (t < len && word_char((unsigned char)s[t]) && s[t] != '$')
            t++;
    if (t >= len || s[t] != '$') return 0;
    size_t taglen = t + 1 - i; /* "$tag$" */
    for (size_t k = t + 1; k + taglen <= len; k++)
        if (s[k] == '$' && memcmp(s + k, s + i, taglen) == 0) return k + taglen;
    return len;
}

size_t tarn__sql_token(tarn_sql_token *tok, const char *s, size_t len, size_t i)
{
    tok->start = i;
    tok->kind = TARN_TOK_OTHER;
    if (i >= len) {
        tok->end = i;
        return 0;
    }
    unsigned char c = (unsigned char)s[i];
    size_t e = i + 1;
    if (is_space((char)c)) {
        while (e < len && is_space(s[e]))
            e++;
        tok->kind = TARN_TOK_SPACE;
    } else if (c == '-' && e < len && s[e] == '-') {
        while (e < len && s[e] != '\n' && s[e] != '\r')
            e++;
        tok->kind = TARN_TOK_COMMENT;
    } else if (c == '/' && e < len && s[e] == '*') {
        /* Block comments nest, as in PostgreSQL's grammar. */
        int depth = 1;
        for (e++; e < len && depth > 0; e++) {
            if (s[e] == '/' && e + 1 < len && s[e + 1] == '*')
                depth++, e++;
            else if (s[e] == '*' && e + 1 < len && s[e + 1] == '/')
                depth--, e++;
        }
        tok->kind = TARN_TOK_COMMENT;
    } else if (c == '\'') {
        e = quoted_end(s, len, i, '\'', 0);
        tok->kind = TARN_TOK_STRING;
    } else if (c == '"') {
        e = quoted_end(s, len, i, '"', 0);
        tok->kind = TARN_TOK_QUOTED;
    } else if (c == '$') {
        size_t d = dollar_end(s, len, i);
        if (d) {
            e = d;
            tok->kind = TARN_TOK_STRING;
        } else {
            while (e < len && word_char((unsigned char)s[e]) && s[e] != '$')
                e++;
            tok->kind = e > i + 1 ? TARN_TOK_PARAM : TARN_TOK_OTHER;
        }
    } else if (word_start(c)) {
        while (e < len && word_char((unsigned char)s[e]))
            e++;
        tok->kind = TARN_TOK_WORD;
        /* E'...': a string where backslash escapes (the E is its prefix). */
        if (e == i + 1 && (c == 'e' || c == 'E') && e < len && s[e] == '\'') {
            e = quoted_end(s, len, e, '\'', 1);
            tok->kind = TARN_TOK_STRING;
        }
    } else if (c >= '0' && c <= '9') {
        /* 42, 1.5e10, 0x1F, 1_000 (a '$' after it starts something else) */
        while (e < len && ((word_char((unsigned char)s[e]) && s[e] != '$') || s[e] == '.'))
            e++;
    }
    tok->end = e;
    return e - i;
}

/* The next token after I that is not blank or a comment (kind OTHER with
 * start == len at the end). */
static tarn_sql_token next_code(const char *s, size_t len, size_t i)
{
    tarn_sql_token t;
    while (tarn__sql_token(&t, s, len, i) &&
           (t.kind == TARN_TOK_SPACE || t.kind == TARN_TOK_COMMENT))
        i = t.end;
    return t;
}

/* Whether the 7 bytes at P spell `default` in any case: for the letters
 * of that word, setting bit 0x20 folds exactly the upper case onto them. */
static int spells_default(const char *p)
{
    static const char word[] = "default";
    for (int i = 0; i < 7; i++)
        if ((p[i] | 0x20) != word[i]) return 0;
    return 1;
}

/* Whether TOKEN names `default` (any case; a quoted name compares the same). */
static int names_default(const char *s, const tarn_sql_token *t)
{
    size_t n = t->end - t->start;
    if (t->kind == TARN_TOK_WORD) return n == 7 && spells_default(s + t->start);
    if (t->kind == TARN_TOK_QUOTED)
        return n == 9 && s[t->end - 1] == '"' && spells_default(s + t->start + 1);
    return 0;
}

char *tarn__sql_spell_default(const char *sql)
{
    size_t len = strlen(sql), i = 0;
    strbuf out = {0};
    int after_dot = 0; /* the previous code token was '.' */
    tarn_sql_token t;
    while (tarn__sql_token(&t, sql, len, i)) {
        int code = t.kind != TARN_TOK_SPACE && t.kind != TARN_TOK_COMMENT;
        if (code && !after_dot && names_default(sql, &t)) {
            tarn_sql_token n = next_code(sql, len, t.end);
            if (n.kind == TARN_TOK_OTHER && n.start < len && sql[n.start] == '.') {
                /* Quoted stays quoted: it may touch the token before it. */
                sb_append(&out, t.kind == TARN_TOK_QUOTED ? "\"main\"" : "main");
                i = t.end;
                after_dot = 0;
                continue;
            }
        }
        sb_appendn(&out, sql + t.start, t.end - t.start);
        if (code) after_dot = t.kind == TARN_TOK_OTHER && sql[t.start] == '.';
        i = t.end;
    }
    if (!out.s) sb_append(&out, "");
    return out.s;
}
