/* sql/early.c — a guess, before DuckDB parses a statement, at the data
 * files it will read, so that a store that downloads them (S3) starts
 * while DuckDB opens and parses (store/prefetch.c).
 *
 * The guess must never fetch what the query then does not read, so it is
 * made only for statements that cannot prune: no WHERE, no join condition
 * and no count/min/max (which statistics may answer without a file).
 * There, every file of the tables named after FROM is read. A name that is
 * not a table of the tree (a CTE, a typo) is no guess; the parse decides
 * everything as before, and reports. */
#include "sql/early.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "sql/lexer.h"
#include "store/store.h"

/* At most this many files are fetched on a guess. */
enum { EARLY_MAX_FILES = 64 };

/* The token's name into OUT: a word as written, a quoted name unquoted. */
static void token_name(char *out, size_t size, const char *sql, const tarn_sql_token *t)
{
    size_t n = 0;
    if (t->kind == TARN_TOK_QUOTED) {
        for (size_t i = t->start + 1; i + 1 < t->end && n + 1 < size; i++) {
            out[n++] = sql[i];
            if (sql[i] == '"') i++; /* "" is one quote */
        }
    } else {
        for (size_t i = t->start; i < t->end && n + 1 < size; i++)
            out[n++] = sql[i];
    }
    out[n] = 0;
}

static int word_is(const char *sql, const tarn_sql_token *t, const char *w)
{
    size_t n = t->end - t->start;
    return t->kind == TARN_TOK_WORD && n == strlen(w) && strncasecmp(sql + t->start, w, n) == 0;
}

/* The code tokens of SQL (no blanks or comments), malloc'd, into *N. */
static tarn_sql_token *code_tokens(const char *sql, size_t *n)
{
    size_t len = strlen(sql), cap = 64, pos = 0;
    tarn_sql_token *toks = malloc(cap * sizeof *toks), t;
    *n = 0;
    for (size_t step; toks && (step = tarn__sql_token(&t, sql, len, pos)) > 0; pos += step) {
        if (t.kind == TARN_TOK_SPACE || t.kind == TARN_TOK_COMMENT) continue;
        if (*n == cap) {
            tarn_sql_token *grown = realloc(toks, (cap *= 2) * sizeof *toks);
            if (!grown) {
                free(toks);
                return NULL;
            }
            toks = grown;
        }
        toks[(*n)++] = t;
    }
    return toks;
}

void tarn__sql_fetch_early(tarn_lake *lake, const tarn_tree *tree, const char *sql)
{
    static const char *const prunes[] = {"where", "on", "using", "count", "min", "max"};
    if (!tarn__store_fetches(lake)) return;
    size_t n = 0;
    tarn_sql_token *toks = code_tokens(sql, &n);
    if (!toks) return;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < sizeof prunes / sizeof *prunes; p++)
            if (word_is(sql, &toks[i], prunes[p])) goto done;
    const char *keys[EARLY_MAX_FILES];
    size_t nkeys = 0;
    tarn_version v[4];
    size_t nv = 0;
    for (size_t i = 0; i + 1 < n && nv < 4; i++) {
        if (!word_is(sql, &toks[i], "from")) continue;
        const tarn_sql_token *a = &toks[i + 1];
        if (a->kind != TARN_TOK_WORD && a->kind != TARN_TOK_QUOTED) continue;
        char first[256], second[256] = "", full[520];
        token_name(first, sizeof first, sql, a);
        if (i + 3 < n && toks[i + 2].end - toks[i + 2].start == 1 && sql[toks[i + 2].start] == '.' &&
            (toks[i + 3].kind == TARN_TOK_WORD || toks[i + 3].kind == TARN_TOK_QUOTED))
            token_name(second, sizeof second, sql, &toks[i + 3]);
        snprintf(full, sizeof full, "%s.%s", *second ? first : "default", *second ? second : first);
        tarn_tree_entry *e = NULL;
        if (tarn__name_lookup(&e, tree, full, 1, NULL) < 0 || !e || e->kind != TARN_ENTRY_TABLE)
            continue;
        memset(&v[nv], 0, sizeof v[nv]);
        if (tarn__version_load(&v[nv], lake, e->version, NULL) < 0) continue;
        if (nkeys + v[nv].nfiles > EARLY_MAX_FILES) {
            tarn__version_clear(&v[nv]);
            break;
        }
        for (size_t f = 0; f < v[nv].nfiles; f++)
            keys[nkeys++] = v[nv].files[f];
        nv++;
    }
    tarn__store_prefetch_early(lake, keys, nkeys);
    for (size_t i = 0; i < nv; i++)
        tarn__version_clear(&v[i]);
done:
    free(toks);
}
