/* sql/query.c — `tarn query`: SQL on any ref.
 *
 * DuckDB's parser lists the tables a statement names (CTEs excluded); each
 * must exist in the ref's tree and becomes a view over exactly its data
 * files, and DuckDB is confined to those files before the statement runs:
 * it sees the tables of its ref that it names, and nothing else on the
 * host. Only one read-only SELECT is accepted. Results are kept as text (up
 * to max_rows) with their DuckDB types; written to a file, they go through
 * a second DuckDB that runs no user SQL (sql/pipe.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/names.h"
#include "lake/ops.h"
#include "sql/answer.h"
#include "sql/engine.h"
#include "sql/lexer.h"
#include "sql/pool.h"
#include "sql/early.h"
#include "sql/prune.h"
#include "sql/pushdown.h"
#include "sql/refs.h"
#include "sql/result.h"
#include "store/store.h"
#include "table/schema.h"
#include "tarn/query.h"
#include "util/error.h"
#include "util/util.h"

static tarn_value_kind kind_of(const char *type);

/* One table a statement names, and which of its data files it needs. */
typedef struct qtable {
    const char *schema; /* DuckDB's schema, NULL for main; borrowed from the refs */
    const char *table;  /* as the statement writes it */
    tarn_version v;     /* with its files */
    tarn_column *cols;
    size_t ncols;
    tarn_file_stats fs;     /* loaded when a filter needs statistics */
    tarn_verdict *verdicts; /* per file: NONE is never given to DuckDB */
} qtable;

static void qtables_free(qtable *qt, size_t n)
{
    for (size_t i = 0; qt && i < n; i++) {
        tarn__version_clear(&qt[i].v);
        tarn__columns_free(qt[i].cols, qt[i].ncols);
        tarn__file_stats_clear(&qt[i].fs);
        free(qt[i].verdicts);
    }
    free(qt);
}

/* Resolves every table REFS names in TREE (at REF, for messages). */
static int resolve_tables(qtable **out, tarn_lake *lake, tarn_tree *tree, tarn_sql_refs *refs,
                          const char *ref, tarn_error *err)
{
    size_t n = json_array_size(refs->tables);
    qtable *qt = calloc(n ? n : 1, sizeof *qt);
    *out = qt;
    if (!qt) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(refs->tables, i);
        const char *schema = json_string_value(json_object_get(t, "schema"));
        const char *table = json_string_value(json_object_get(t, "table"));
        char full[620];
        snprintf(full, sizeof full, "%s.%s", *schema ? schema : "default", table);
        tarn_tree_entry *e = NULL;
        TARN_RETURN_NOT_OK(tarn__name_lookup(&e, tree, full,
                                             !json_is_true(json_object_get(t, "respelled")), err));
        if (!e || e->kind != TARN_ENTRY_TABLE) {
            size_t within = 4; /* only near misses */
            const char *near = tarn__tree_nearest_table(tree, full, &within);
            return tarn__error_set(err, TARN_ENOTFOUND, "table '%s' not found at ref '%s'%s%s%s",
                                   *schema ? full : table, tarn__ref_display(lake, ref),
                                   near ? " (did you mean '" : "", near ? near : "",
                                   near ? "'?)" : "");
        }
        qt[i].schema = *schema ? schema : NULL;
        qt[i].table = table;
        TARN_RETURN_NOT_OK(tarn__version_load(&qt[i].v, lake, e->version, err));
        tarn__schema_parse(&qt[i].cols, &qt[i].ncols, qt[i].v.schema_json);
        qt[i].verdicts = calloc(qt[i].v.nfiles + 1, sizeof *qt[i].verdicts);
        if (!qt[i].verdicts) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        for (size_t f = 0; f < qt[i].v.nfiles; f++)
            qt[i].verdicts[f] = TARN_VERDICT_SOME;
    }
    return 0;
}

/* SQL's parse (tarn__sql_refs_parse) in PARSER, or as remembered. */
static int parse(tarn_sql_refs *refs, tarn_lake *lake, tarn_duck *parser, const char *sql,
                 tarn_error *err)
{
    strbuf key = {0};
    sb_printf(&key, "parse\t%s", sql);
    json_t *m = tarn__pool_recall(lake, sb_str(&key));
    int rc = 0;
    if (m) {
        memset(refs, 0, sizeof *refs);
        refs->sql = strdup(json_string_value(json_object_get(m, "sql")));
        refs->tables = json_incref(json_object_get(m, "tables"));
        refs->params = json_incref(json_object_get(m, "params"));
        refs->tree = json_incref(json_object_get(m, "tree"));
    } else if ((rc = tarn__sql_refs_parse(refs, parser, sql, err)) == 0) {
        m = json_pack("{s:s,s:O,s:O,s:O}", "sql", refs->sql, "tables", refs->tables, "params",
                      refs->params, "tree", refs->tree);
        tarn__pool_remember(lake, sb_str(&key), m);
    }
    json_decref(m);
    sb_free(&key);
    return rc;
}

/* Judges table T's files for WHERE (a filter relative to T; NULL: none,
 * every file ALL), in D; *judged: what each file is then, combined into
 * T's verdicts as the union of what each reference needs. */
static int judge_table(qtable *t, json_t *where, tarn_verdict *judged, tarn_lake *lake,
                       tarn_duck *d, tarn_error *err)
{
    for (size_t f = 0; f < t->v.nfiles; f++)
        judged[f] = where ? TARN_VERDICT_SOME : TARN_VERDICT_ALL;
    tarn_prune *p = where ? tarn__prune_new(where, t->cols, t->ncols) : NULL;
    int rc = 0;
    if (tarn__prune_count(p) > 0 && t->v.nfiles > 0) {
        /* Files never change: the verdicts on a version's files for one
         * filter are remembered. */
        char *w = json_dumps(where, JSON_COMPACT | JSON_SORT_KEYS);
        strbuf key = {0};
        sb_printf(&key, "verdicts\t%s\t%s", t->v.id, w ? w : "");
        free(w);
        json_t *m = tarn__pool_recall(lake, sb_str(&key));
        if (json_array_size(m) == t->v.nfiles) {
            for (size_t f = 0; f < t->v.nfiles; f++)
                judged[f] = (tarn_verdict)json_integer_value(json_array_get(m, f));
        } else {
            if (!t->fs.records)
                rc = tarn__file_stats_load(&t->fs, lake, t->v.files, t->v.nfiles, err);
            if (rc == 0) rc = tarn__prune_judge(judged, p, t->fs.stats, t->fs.n, d, NULL);
            json_decref(m);
            m = json_array();
            for (size_t f = 0; rc == 0 && f < t->v.nfiles; f++)
                json_array_append_new(m, json_integer(judged[f]));
            if (rc == 0) tarn__pool_remember(lake, sb_str(&key), m);
        }
        json_decref(m);
        sb_free(&key);
    }
    tarn__prune_free(&p);
    return rc;
}

/* Which files each table needs: those some reference of it may read. */
static int prune_tables(qtable *qt, size_t n, json_t *restrictions, tarn_lake *lake, tarn_duck *d,
                        tarn_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *wheres = json_array_get(restrictions, i);
        if (!json_array_size(wheres)) continue; /* read whole somewhere */
        qtable *t = &qt[i];
        tarn_verdict *judged = calloc(t->v.nfiles + 1, sizeof *judged);
        if (!judged) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        for (size_t f = 0; f < t->v.nfiles; f++)
            t->verdicts[f] = TARN_VERDICT_NONE;
        size_t k;
        json_t *where;
        json_array_foreach(wheres, k, where)
        {
            if ((rc = judge_table(t, where, judged, lake, d, err)) < 0) break;
            for (size_t f = 0; f < t->v.nfiles; f++)
                if (judged[f] != TARN_VERDICT_NONE) t->verdicts[f] = TARN_VERDICT_SOME;
        }
        free(judged);
    }
    return rc;
}

/* The files of T to expose: those it needs, or when it needs none its
 * first one, for its columns (*empty set). */
static size_t exposed_files(const char **keys, int *empty, const qtable *t)
{
    size_t n = 0;
    for (size_t f = 0; f < t->v.nfiles; f++)
        if (t->verdicts[f] != TARN_VERDICT_NONE) keys[n++] = t->v.files[f];
    *empty = n == 0;
    if (*empty && t->v.nfiles) keys[n++] = t->v.files[0];
    return n;
}

/* The pool key of a session exposing QT (STUB: their columns only, as
 * typed NULLs, no file) and the paths it is confined to. */
static int session_key(char key[65], json_t *paths, tarn_lake *lake, const qtable *qt, size_t n,
                       int stub, tarn_error *err)
{
    key[0] = 0;
    if (n == 0) return 0; /* the parser's own: nothing exposed, nothing readable */
    strbuf text = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const qtable *t = &qt[i];
        sb_printf(&text, "%s\t%s\t", t->schema ? t->schema : "", t->table);
        if (stub) {
            sb_printf(&text, "columns\t%s\n", t->v.schema_json);
            continue;
        }
        const char **keys = calloc(t->v.nfiles + 1, sizeof *keys);
        int empty;
        size_t nk = exposed_files(keys, &empty, t);
        sb_append(&text, empty ? "no rows\n" : "rows\n");
        /* Files not on local disk (S3) are fetched now, in parallel and
         * checked against the catalog's sizes, before their paths are
         * asked for. */
        rc = tarn__store_prefetch(lake, keys, nk, err);
        for (size_t f = 0; f < nk && rc == 0; f++) {
            char url[8192];
            rc = tarn__store_read_path(lake, keys[f], url, sizeof url, err);
            if (rc == 0) json_array_append_new(paths, json_string(url));
            sb_printf(&text, "%s\n", keys[f]);
        }
        free(keys);
    }
    if (rc == 0) tarn__sha256_hex(key, text.s, text.len);
    sb_free(&text);
    return rc;
}

/* View SCHEMA.NAME with T's columns and no row, reading no file. */
static int expose_stub(tarn_duck *d, const qtable *t, tarn_error *err)
{
    strbuf sql = {0};
    if (t->schema) {
        sb_append(&sql, "CREATE SCHEMA IF NOT EXISTS ");
        sb_append_sql_ident(&sql, t->schema);
        sb_append(&sql, "; ");
    }
    sb_append(&sql, "CREATE OR REPLACE VIEW ");
    if (t->schema) {
        sb_append_sql_ident(&sql, t->schema);
        sb_append(&sql, ".");
    }
    sb_append_sql_ident(&sql, t->table);
    sb_append(&sql, " AS SELECT ");
    for (size_t c = 0; c < t->ncols; c++) {
        sb_printf(&sql, "%sCAST(NULL AS %s) AS ", c ? ", " : "", t->cols[c].type);
        sb_append_sql_ident(&sql, t->cols[c].name);
    }
    sb_append(&sql, " LIMIT 0");
    int rc = tarn__duck_exec(d, sb_str(&sql), TARN_EINVALID, "cannot describe a table", err);
    sb_free(&sql);
    return rc;
}

/* Exposes each table of QT in D as a view over the files it needs (STUB:
 * its columns only). */
static int expose(tarn_duck *d, tarn_lake *lake, const qtable *qt, size_t n, int stub,
                  tarn_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const qtable *t = &qt[i];
        /* (a version without files, such as an external table whose
         * Iceberg snapshot is empty, is its columns without rows) */
        if (stub || t->v.nfiles == 0) {
            rc = expose_stub(d, t, err);
            continue;
        }
        const char **keys = calloc(t->v.nfiles + 1, sizeof *keys);
        int empty;
        size_t nk = exposed_files(keys, &empty, t);
        rc = tarn__duck_register_files(d, lake, t->schema, t->table, keys, nk, empty, err);
        free(keys);
    }
    return rc;
}

/* A session of a query goes back to the lake's pool, unless it carries
 * limits of its own (a server's query): those are closed. */
static void give_back(tarn_lake *lake, const char *key, tarn_duck *d)
{
    if (d->limits.memory_bytes > 0 || d->limits.threads > 0) tarn__duck_close(d);
    else tarn__pool_give(lake, key, d);
}

/* A DuckDB for a statement over QT into *d, confined to PATHS and
 * exposing QT (STUB: their columns only) before the statement runs: the
 * one the pool keeps under KEY, else PARSER itself while it is fresh (it
 * is then *d's), else a new one. */
static int open_session(tarn_duck *d, tarn_duck *parser, int fresh, tarn_lake *lake,
                        const char *key, json_t *paths, const qtable *qt, size_t n, int stub,
                        tarn_error *err)
{
    memset(d, 0, sizeof *d);
    /* A query with limits of its own (memory, threads) gets a session of
     * its own, limited before its configuration is locked. */
    const tarn_query_limits *lim = &lake->query_limits;
    int limited = lim->memory_bytes > 0 || lim->threads > 0;
    if (*key && !limited && tarn__pool_take(d, lake, key)) return 0;
    int rc = 0;
    if (parser->db && fresh) {
        *d = *parser;
        memset(parser, 0, sizeof *parser);
    } else if (!*key && parser->db && !limited) {
        *d = *parser; /* confined already, exposing nothing */
        memset(parser, 0, sizeof *parser);
        return 0;
    } else {
        rc = tarn__duck_open(d, err);
    }
    /* From here on the session reads those files and nothing else. */
    d->limits = *lim;
    if (rc == 0) rc = tarn__duck_confine(d, paths, err);
    if (rc == 0) rc = expose(d, lake, qt, n, stub, err);
    if (rc < 0) {
        tarn__duck_close(d);
        memset(d, 0, sizeof *d);
    }
    return rc;
}

/* The names and types of the columns of prepared statement P. */
static void column_names(char ***names, char ***types, size_t *n, duckdb_prepared_statement p)
{
    *n = (size_t)duckdb_prepared_statement_column_count(p);
    *names = calloc(*n + 1, sizeof **names);
    *types = calloc(*n + 1, sizeof **types);
    for (size_t c = 0; c < *n; c++) {
        const char *name = duckdb_prepared_statement_column_name(p, c);
        (*names)[c] = strdup(name ? name : "");
        duckdb_free((void *)name); /* DuckDB's copy */
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(p, c);
        (*types)[c] = tarn__duck_type_name(t);
        duckdb_destroy_logical_type(&t);
    }
}

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

/* SQL that answers SQL (aggregate AGG over table T) from statistics, for
 * session D exposing T's columns only, or NULL when it cannot: the answer
 * has the statement's very column names and types, and runs. */
static char *answer(tarn_duck *d, const char *sql, json_t *agg, qtable *t)
{
    duckdb_prepared_statement p = NULL;
    if (tarn__duck_prepare_bound(&p, d, sql, NULL, TARN_EINVALID, "", NULL) < 0) return NULL;
    char **names, **types, **got_names = NULL, **got_types = NULL;
    size_t n, got_n = 0;
    column_names(&names, &types, &n, p);
    duckdb_destroy_prepare(&p);
    char *out = tarn__answer_sql(agg, t->cols, t->ncols, &t->fs, t->verdicts, names, types, n);
    duckdb_result res;
    int ok = out && tarn__duck_prepare_bound(&p, d, out, NULL, TARN_EINVALID, "", NULL) == 0;
    if (ok) {
        column_names(&got_names, &got_types, &got_n, p);
        ok = got_n == n;
        for (size_t c = 0; ok && c < n; c++)
            ok = !strcmp(names[c], got_names[c]) && !strcmp(types[c], got_types[c]);
        /* A statistic DuckDB cannot read back leaves the statement to DuckDB. */
        ok = ok && duckdb_execute_prepared(p, &res) == DuckDBSuccess;
        if (ok) duckdb_destroy_result(&res);
        duckdb_destroy_prepare(&p);
    }
    strings_free(names, n);
    strings_free(types, n);
    strings_free(got_names, got_n);
    strings_free(got_types, got_n);
    if (!ok) {
        free(out);
        out = NULL;
    }
    return out;
}

/* The length of SQL's leading `EXPLAIN` or `EXPLAIN ANALYZE` (with the
 * blanks and comments around it), its words into *how ("EXPLAIN",
 * "EXPLAIN ANALYZE"); 0 and NULL when SQL does not start so. */
static size_t explain_prefix(const char *sql, const char **how)
{
    *how = NULL;
    size_t len = strlen(sql), pos = 0, n;
    int words = 0;
    tarn_sql_token t;
    while ((n = tarn__sql_token(&t, sql, len, pos)) > 0) {
        if (t.kind == TARN_TOK_SPACE || t.kind == TARN_TOK_COMMENT) {
            pos += n;
            continue;
        }
        if (t.kind != TARN_TOK_WORD) break;
        if (words == 0 && n == 7 && !strncasecmp(sql + t.start, "EXPLAIN", 7)) {
            *how = "EXPLAIN";
        } else if (words == 1 && n == 7 && !strncasecmp(sql + t.start, "ANALYZE", 7)) {
            *how = "EXPLAIN ANALYZE";
        } else {
            break;
        }
        words++;
        pos += n;
    }
    return *how ? pos : 0;
}

static int is_explain(const char *run)
{
    return !strncmp(run, "EXPLAIN ", 8);
}

/* Opens a DuckDB session for SQL at REF: checks SQL is one SELECT,
 * resolves every table it names in the ref's tree, keeps of each only the
 * data files its WHERE terms may need (judged by their statistics),
 * confines the session to exactly those files, exposes each table as a
 * view over them and binds SQL. An aggregate the statistics answer
 * (count(*), min, max) opens no data file: *run is then SQL of constants.
 * *run gets the text to run (malloc'd); *prepared (if not NULL) the
 * prepared statement (the caller destroys it), whose columns give the
 * result's names and types. The session comes from the lake's pool and
 * goes back to it under KEY (close_query). On failure nothing is left
 * open. */
static int open_query(tarn_duck *d, char key[65], char **run, tarn_lake *lake, const char *sql,
                      const char *ref, duckdb_prepared_statement *prepared, tarn_error *err)
{
    *run = NULL;
    key[0] = 0;
    memset(d, 0, sizeof *d);
    if (prepared) *prepared = NULL;
    if (!sql || !*sql) return tarn__error_set(err, TARN_EINVALID, "no SQL given");
    /* EXPLAIN [ANALYZE] SELECT: the SELECT is checked and confined as any
     * other; the plan of it reads nothing more. */
    const char *explain = NULL;
    size_t skip = explain_prefix(sql, &explain);
    if (explain) {
        const char *again = NULL;
        explain_prefix(sql + skip, &again);
        if (again) return tarn__error_set(err, TARN_EINVALID, "EXPLAIN takes one SELECT");
        int rc = open_query(d, key, run, lake, sql + skip, ref, prepared, err);
        if (rc == 0) {
            strbuf q = {0};
            sb_printf(&q, "%s ", explain);
            sb_append(&q, *run);
            free(*run);
            *run = q.s;
        }
        return rc;
    }
    tarn_tree tree = {0};
    tarn_commit_id commit;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, &commit, lake, ref, err));
    tarn__sql_fetch_early(lake, &tree, sql);
    /* The parser: a session exposing nothing, readable nothing (a fresh
     * one is confined before any user SQL runs in it). */
    tarn_duck parser = {0};
    int fresh = !tarn__pool_take(&parser, lake, "");
    int rc = fresh ? tarn__duck_open(&parser, err) : 0;
    tarn_sql_refs refs = {0};
    qtable *qt = NULL;
    size_t n = 0;
    json_t *restrictions = NULL, *agg = NULL, *paths = json_array();
    char *answer_sql = NULL;
    if (rc == 0) rc = parse(&refs, lake, &parser, sql, err);
    if (rc == 0 && json_object_size(refs.params))
        rc = tarn__error_set(err, TARN_EINVALID,
                             "tarn query takes no parameters: write the value of $%s into the SQL",
                             json_object_iter_key(json_object_iter(refs.params)));
    n = json_array_size(refs.tables);
    if (rc == 0) rc = resolve_tables(&qt, lake, &tree, &refs, ref, err);
    tarn__tree_clear(&tree);
    /* TARN_NO_PRUNE=1 hands DuckDB every file (to compare results). */
    const char *no_prune = getenv("TARN_NO_PRUNE");
    int prune = !(no_prune && *no_prune && strcmp(no_prune, "0"));
    tarn_column **cols = calloc(n + 1, sizeof *cols);
    size_t *ncols = calloc(n + 1, sizeof *ncols);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cols[i] = qt[i].cols;
        ncols[i] = qt[i].ncols;
    }
    if (rc == 0 && prune) {
        agg = n == 1 ? tarn__pushdown_aggregate(refs.tree, refs.tables, cols, ncols) : NULL;
        restrictions = tarn__pushdown(refs.tree, refs.tables, cols, ncols);
        rc = prune_tables(qt, n, restrictions, lake, &parser, err);
    }
    /* An aggregate over the whole table or over files its filter keeps
     * whole: statistics answer it, in a session exposing the table's
     * columns only, reading no file. */
    if (rc == 0 && agg && qt[0].v.nfiles > 0) {
        json_t *where = json_object_get(agg, "where");
        if (json_is_null(where)) where = NULL;
        tarn_prune *p = where ? tarn__prune_new(where, qt[0].cols, qt[0].ncols) : NULL;
        int whole = !p || (tarn__prune_complete(p) &&
                           tarn__prune_count(p) ==
                               (size_t)json_integer_value(json_object_get(agg, "terms")));
        tarn__prune_free(&p);
        tarn_verdict *verdicts = calloc(qt[0].v.nfiles, sizeof *verdicts);
        if (whole && verdicts && judge_table(&qt[0], where, verdicts, lake, &parser, NULL) == 0 &&
            (qt[0].fs.records ||
             tarn__file_stats_load(&qt[0].fs, lake, qt[0].v.files, qt[0].v.nfiles, NULL) == 0)) {
            memcpy(qt[0].verdicts, verdicts, qt[0].v.nfiles * sizeof *verdicts);
            json_t *none = json_array();
            if (session_key(key, none, lake, qt, n, 1, NULL) == 0 &&
                open_session(d, &parser, fresh, lake, key, none, qt, n, 1, NULL) == 0 &&
                !(answer_sql = answer(d, refs.sql, agg, &qt[0])))
                give_back(lake, key, d); /* the statistics cannot answer */
            json_decref(none);
        }
        free(verdicts);
    }
    if (rc == 0 && !answer_sql) {
        rc = session_key(key, paths, lake, qt, n, 0, err);
        if (rc == 0) rc = open_session(d, &parser, fresh, lake, key, paths, qt, n, 0, err);
    }
    /* A parser still here goes back to the pool, confined. */
    json_t *none = json_array();
    if (parser.db && fresh && tarn__duck_confine(&parser, none, NULL) < 0)
        tarn__duck_close(&parser);
    json_decref(none);
    if (parser.db) tarn__pool_give(lake, "", &parser);
    /* The parser accepted one SELECT only (json_serialize_sql serializes
     * nothing else); binding now reports unknown columns and the like. */
    const char *text = answer_sql ? answer_sql : refs.sql;
    duckdb_prepared_statement prep = NULL;
    if (rc == 0) rc = tarn__duck_prepare_bound(&prep, d, text, NULL, TARN_EINVALID, "invalid SQL", err);
    if (rc == 0 && prepared) *prepared = prep;
    else duckdb_destroy_prepare(&prep);
    if (rc == 0) {
        *run = answer_sql ? answer_sql : refs.sql;
        if (answer_sql) answer_sql = NULL;
        else refs.sql = NULL;
    } else if (d->db) {
        /* A statement that does not bind changes nothing in the session. */
        give_back(lake, key, d);
    }
    free(answer_sql);
    free(cols);
    free(ncols);
    json_decref(paths);
    json_decref(restrictions);
    json_decref(agg);
    qtables_free(qt, n);
    tarn__sql_refs_clear(&refs);
    tarn__store_prefetch_wait(lake);
    return rc;
}

int tarn__query_open(tarn_duck *d, char **run, tarn_lake *lake, const char *sql, const char *ref,
                     duckdb_prepared_statement *prepared, tarn_error *err)
{
    char key[65];
    return open_query(d, key, run, lake, sql, ref, prepared, err);
}

tarn_value_kind tarn__query_kind(const char *type)
{
    return kind_of(type);
}

/* Gives the session of a query back to the lake's pool. */
static void close_query(tarn_lake *lake, const char *key, tarn_duck *d)
{
    give_back(lake, key, d);
}

static tarn_value_kind kind_of(const char *type)
{
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                                       "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (strcmp(type, ints[i]) == 0) return TARN_VALUE_INTEGER;
    if (strcmp(type, "FLOAT") == 0 || strcmp(type, "DOUBLE") == 0 || strncmp(type, "DECIMAL", 7) == 0)
        return TARN_VALUE_FLOAT;
    if (strcmp(type, "BOOLEAN") == 0) return TARN_VALUE_BOOLEAN;
    return TARN_VALUE_STRING;
}

static int is_nested(const char *type)
{
    size_t n = strlen(type);
    return (n && type[n - 1] == ']') || !strncmp(type, "STRUCT(", 7) || !strncmp(type, "MAP(", 4) ||
           !strncmp(type, "UNION(", 6);
}

/* "SELECT <each column of R as text> FROM (" — by position, so that
 * columns of one name stay apart; nested ones as JSON when AS_JSON. */
static void select_as_text(strbuf *q, tarn_result *r, int as_json)
{
    sb_append(q, "SELECT ");
    for (size_t c = 0; c < r->ncols; c++) {
        int json = as_json && is_nested(r->types[c]);
        if (json) r->kinds[c] = TARN_VALUE_JSON;
        sb_printf(q, "%s%s(#%zu)::VARCHAR", c ? ", " : "", json ? "to_json" : "", c + 1);
    }
    if (!r->ncols) sb_append(q, "*");
    sb_append(q, " FROM (");
}

/* An EXPLAIN's columns (names from its result; every value is text). */
static void explain_columns(tarn_result *r, duckdb_result *res)
{
    for (size_t c = 0; c < r->ncols; c++) free(r->names[c]), free(r->types[c]);
    free(r->names), free(r->types), free(r->kinds);
    r->ncols = (size_t)duckdb_column_count(res);
    r->names = calloc(r->ncols ? r->ncols : 1, sizeof *r->names);
    r->types = calloc(r->ncols ? r->ncols : 1, sizeof *r->types);
    r->kinds = calloc(r->ncols ? r->ncols : 1, sizeof *r->kinds);
    for (size_t c = 0; c < r->ncols; c++) {
        r->names[c] = strdup(duckdb_column_name(res, c));
        r->types[c] = strdup("VARCHAR");
        r->kinds[c] = TARN_VALUE_STRING;
    }
}

int tarn_local__query(tarn_result **out, tarn_lake *lake, const char *sql,
                      const tarn_query_options *opts, tarn_error *err)
{
    *out = NULL;
    tarn_query_options defaults = TARN_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    tarn_duck d;
    char *run = NULL, key[65];
    duckdb_prepared_statement prep = NULL;
    TARN_RETURN_NOT_OK(open_query(&d, key, &run, lake, sql, opts->ref, &prep, err));
    tarn_result *r = calloc(1, sizeof *r);
    strbuf q = {0};
    duckdb_result res = {0};
    int have_res = 0;
    int rc = 0;

    /* Names and types from the bound statement, then the values cast to
     * text by DuckDB itself (one LIMIT row more than wanted tells whether
     * rows were left out). */
    r->ncols = (size_t)duckdb_prepared_statement_column_count(prep);
    r->names = calloc(r->ncols ? r->ncols : 1, sizeof *r->names);
    r->types = calloc(r->ncols ? r->ncols : 1, sizeof *r->types);
    r->kinds = calloc(r->ncols ? r->ncols : 1, sizeof *r->kinds);
    for (size_t c = 0; c < r->ncols; c++) {
        const char *name = duckdb_prepared_statement_column_name(prep, c);
        r->names[c] = strdup(name ? name : "");
        duckdb_free((void *)name); /* DuckDB's copy */
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(prep, c);
        r->types[c] = tarn__duck_type_name(t);
        duckdb_destroy_logical_type(&t);
        r->kinds[c] = kind_of(r->types[c]);
    }
    duckdb_destroy_prepare(&prep);

    q.len = 0;
    if (is_explain(run)) {
        /* A plan: its own rows and columns, all text. */
        sb_append(&q, run);
    } else {
        select_as_text(&q, r, opts->version >= 2 && opts->nested_as_json);
        tarn__sql_nestable(&q, run);
        sb_append(&q, "\n)");
        if (opts->max_rows >= 0) sb_printf(&q, " LIMIT %lld", (long long)opts->max_rows + 1);
    }
    have_res = 1;
    if ((rc = tarn__duck_query(&res, &d, sb_str(&q), TARN_EINVALID, "query failed", err)) < 0) goto done;
    if (is_explain(run)) explain_columns(r, &res);
    size_t rows = (size_t)duckdb_row_count(&res);
    if (opts->max_rows >= 0 && rows > (size_t)opts->max_rows) {
        rows = (size_t)opts->max_rows;
        r->truncated = 1;
    }
    r->nrows = rows;
    r->cells = calloc(rows * r->ncols + 1, sizeof *r->cells);
    /* Chunks need not be full: advance by each chunk's own size. */
    idx_t nchunks = duckdb_result_chunk_count(res);
    size_t base = 0;
    for (idx_t ci = 0; ci < nchunks && base < rows; ci++) {
        duckdb_data_chunk chunk = duckdb_result_get_chunk(res, ci);
        if (!chunk) break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (size_t c = 0; c < r->ncols; c++) {
            duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
            uint64_t *validity = duckdb_vector_get_validity(vec);
            duckdb_string_t *data = (duckdb_string_t *)duckdb_vector_get_data(vec);
            for (idx_t k = 0; k < n && base + k < rows; k++) {
                if (validity && !duckdb_validity_row_is_valid(validity, k)) continue;
                r->cells[(base + k) * r->ncols + c] = tarn__duck_string_copy(&data[k]);
            }
        }
        base += n;
        duckdb_destroy_data_chunk(&chunk);
    }
    rc = 0;
done:
    if (have_res) duckdb_destroy_result(&res);
    sb_free(&q);
    free(run);
    close_query(lake, key, &d);
    if (rc < 0) tarn_result_free(&r);
    *out = r;
    return rc;
}

size_t tarn_result_column_count(const tarn_result *r)
{
    return r->ncols;
}
const char *tarn_result_column_name(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->names[col] : NULL;
}
const char *tarn_result_column_type(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->types[col] : NULL;
}
tarn_value_kind tarn_result_column_kind(const tarn_result *r, size_t col)
{
    return col < r->ncols ? r->kinds[col] : TARN_VALUE_STRING;
}
size_t tarn_result_row_count(const tarn_result *r)
{
    return r->nrows;
}
int tarn_result_truncated(const tarn_result *r)
{
    return r->truncated;
}
const char *tarn_result_value(const tarn_result *r, size_t row, size_t col)
{
    if (row >= r->nrows || col >= r->ncols) return NULL;
    return r->cells[row * r->ncols + col];
}

void tarn_result_free(tarn_result **rp)
{
    if (!rp || !*rp) return;
    tarn_result *r = *rp;
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->names) free(r->names[c]);
        if (r->types) free(r->types[c]);
    }
    if (r->cells)
        for (size_t i = 0; i < r->nrows * r->ncols; i++) free(r->cells[i]);
    free(r->cells);
    free(r->names);
    free(r->types);
    free(r->kinds);
    free(r);
    *rp = NULL;
}

int tarn__query_file_format(const char **format, const char *path, tarn_error *err)
{
    if (!*format) {
        const char *dot = strrchr(path, '.');
        *format = dot && strcmp(dot, ".csv") == 0       ? "csv"
                  : dot && strcmp(dot, ".parquet") == 0 ? "parquet"
                                                        : NULL;
        if (!*format)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot tell the format of '%s': name it .parquet or .csv", path);
    }
    if (strcmp(*format, "csv") != 0 && strcmp(*format, "parquet") != 0)
        return tarn__error_set(err, TARN_EINVALID, "unknown output format '%s' (parquet or csv)",
                               *format);
    return 0;
}

int tarn_local__query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                              const char *path, const char *format, tarn_error *err)
{
    *rows = 0;
    TARN_RETURN_NOT_OK(tarn__query_file_format(&format, path, err));
    tarn_duck d;
    char *run = NULL, key[65];
    TARN_RETURN_NOT_OK(open_query(&d, key, &run, lake, sql, ref, NULL, err));
    if (is_explain(run)) {
        free(run);
        close_query(lake, key, &d);
        return tarn__error_set(err, TARN_EINVALID, "a plan (EXPLAIN) is not written to a file: "
                               "run it without --output");
    }
    char *schema = NULL, *stats = NULL;
    strbuf q = {0};
    tarn__sql_nestable(&q, run);
    sb_append(&q, "\n");
    int rc = tarn__duck_write_result(rows, &schema, &stats, &d, NULL, sb_str(&q), NULL, path,
                                     format, NULL, err);
    free(schema);
    free(stats);
    sb_free(&q);
    free(run);
    close_query(lake, key, &d);
    return rc;
}

int tarn_local__query_arrow(int *fd, tarn_lake *lake, const char *sql,
                            const tarn_query_options *opts, tarn_error *err)
{
    *fd = -1;
    tarn_query_options defaults = TARN_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    tarn_duck d;
    char *run = NULL, key[65];
    TARN_RETURN_NOT_OK(open_query(&d, key, &run, lake, sql, opts->ref, NULL, err));
    strbuf q = {0};
    if (opts->max_rows >= 0 && !is_explain(run)) {
        /* The limit goes into the query: DuckDB stops once it has the rows. */
        sb_append(&q, "SELECT * FROM (");
        tarn__sql_nestable(&q, run);
        sb_printf(&q, "\n) LIMIT %lld", (long long)opts->max_rows);
    } else {
        tarn__sql_nestable(&q, run);
        sb_append(&q, "\n");
    }
    int rc = tarn__duck_export_shm(fd, &d, sb_str(&q), "tarn-query", err);
    sb_free(&q);
    free(run);
    close_query(lake, key, &d);
    return rc;
}
