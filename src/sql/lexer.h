/* sql/lexer.h — the tokens of a SQL text as DuckDB's lexer cuts them, as
 * far as tarn needs them: code, strings, quoted names, comments. */
#ifndef TARN_SQL_LEXER_H
#define TARN_SQL_LEXER_H

#include <stddef.h>

typedef enum {
    TARN_TOK_SPACE,   /* blanks */
    TARN_TOK_COMMENT, /* -- to the end of the line, or a (nested) block comment */
    TARN_TOK_STRING,  /* '...', E'...', $$...$$, $tag$...$tag$ */
    TARN_TOK_QUOTED,  /* "a quoted name" */
    TARN_TOK_WORD,    /* a keyword or a name */
    TARN_TOK_PARAM,   /* $name or $1 */
    TARN_TOK_OTHER,   /* a number, an operator or punctuation */
} tarn_sql_token_kind;

typedef struct tarn_sql_token {
    tarn_sql_token_kind kind;
    size_t start, end; /* byte offsets: SQL[start..end) */
} tarn_sql_token;

/* The token of SQL[0..LEN) that starts at POS into *TOK; returns its length
 * (0 at the end). Every byte belongs to exactly one token; an unterminated
 * string, name or comment runs to the end. */
size_t tarn__sql_token(tarn_sql_token *tok, const char *sql, size_t len, size_t pos);

/* SQL with every `default` (or `"default"`, any case) that qualifies a name
 * (`default.t`, `default.t.col`) spelled `main` (or `"main"`), DuckDB's
 * schema for tarn's namespace default; everything else unchanged.
 * Malloc'd. */
char *tarn__sql_spell_default(const char *sql);

#endif
