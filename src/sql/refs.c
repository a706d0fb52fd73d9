/* sql/refs.c — what a user's statement or filter names (see refs.h).
 *
 * json_serialize_sql hands back DuckDB's parse tree as JSON: parsing only,
 * nothing is bound, so any statement is read whatever tables it names, and
 * comments and strings are never mistaken for code. The tree is walked
 * once for base tables, common table expressions, parameters and the table
 * functions tarn refuses. */
#include "sql/refs.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "sql/lexer.h"
#include "util/error.h"
#include "util/util.h"

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* DuckDB's parse tree of SQL, or TARN_EINVALID with its message. */
static int serialize(json_t **tree, tarn_duck *d, const char *sql, tarn_error *err)
{
    *tree = NULL;
    strbuf q = {0};
    sb_append(&q, "SELECT json_serialize_sql(");
    sb_append_sql_string(&q, sql);
    sb_append(&q, ")");
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "invalid SQL", err);
    char *text = rc == 0 ? tarn__duck_text(&res, 0, 0) : NULL;
    duckdb_destroy_result(&res);
    sb_free(&q);
    if (rc < 0) return rc;
    /* query_location can be 2^64-1: read numbers as reals (only strings matter) */
    json_t *t = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(text);
    if (!t) return tarn__error_set(err, TARN_EINVALID, "invalid SQL: cannot be parsed");
    if (json_is_true(json_object_get(t, "error"))) {
        const char *msg = jstr(t, "error_message"), *etype = jstr(t, "error_type");
        if (msg && strstr(msg, "Only SELECT"))
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "only a read-only SELECT is accepted here: to change data use "
                                 "'tarn table import' or a pipeline");
        else if (msg && strstr(msg, "Mixing named and positional"))
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "invalid SQL: parameters are named ($name), never ? or $1");
        else
            rc = tarn__error_set(err, TARN_EINVALID, "invalid SQL: %s%s%s", etype ? etype : "",
                                 etype ? ": " : "", msg ? msg : "cannot be parsed");
        json_decref(t);
        return rc;
    }
    size_t n = json_array_size(json_object_get(t, "statements"));
    if (n != 1) {
        json_decref(t);
        return tarn__error_set(err, TARN_EINVALID, "give one SQL statement at a time (found %zu)",
                               n);
    }
    *tree = t;
    return 0;
}

typedef struct walk {
    json_t *tables, *seen, *ctes, *params;
    int rc;
    tarn_error *err;
} walk;

/* A $name parameter: named ones are recorded, positional ones refused
 * (a value is bound by the name tarn_project.toml declares). */
static void add_param(walk *w, json_t *node)
{
    const char *id = jstr(node, "identifier");
    if (!id) return;
    int positional = *id != 0;
    for (const char *p = id; *p; p++)
        if (*p < '0' || *p > '9') positional = 0;
    if (positional)
        w->rc = tarn__error_set(w->err, TARN_EINVALID,
                                "invalid SQL: parameters are named ($name), never ? or $%s", id);
    else
        json_object_set_new(w->params, id, json_true());
}

/* NAME with ASCII letters folded: the key under which tarn and DuckDB
 * see one name. */
static void append_folded(strbuf *b, const char *name)
{
    for (const char *p = name; *p; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + ('a' - 'A')) : *p;
        sb_appendn(b, &c, 1);
    }
}

static void add_table(walk *w, json_t *node)
{
    const char *catalog = jstr(node, "catalog_name"), *schema = jstr(node, "schema_name");
    const char *table = jstr(node, "table_name");
    if (!table) return;
    if (catalog && *catalog) {
        w->rc = tarn__error_set(w->err, TARN_EINVALID,
                                "'%s.%s.%s' is not a table name: name tables 'table' or "
                                "'namespace.table'",
                                catalog, schema ? schema : "", table);
        return;
    }
    /* DuckDB's schema main holds tarn's namespace default. */
    if (!schema || tarn__name_cmp(schema, "main") == 0) schema = "";
    /* One entry per name as tarn compares names: `t` and `T` are one table. */
    strbuf key = {0};
    append_folded(&key, schema);
    sb_append(&key, "\t");
    append_folded(&key, table);
    json_t *first = json_object_get(w->seen, sb_str(&key));
    if (!first) {
        first = json_pack("{s:s,s:s}", "schema", schema, "table", table);
        json_object_set_new(w->seen, sb_str(&key), first);
        json_array_append(w->tables, first);
    } else if (strcmp(json_string_value(json_object_get(first, "schema")), schema) ||
               strcmp(json_string_value(json_object_get(first, "table")), table)) {
        json_object_set_new(first, "respelled", json_true());
    }
    sb_free(&key);
}

static void walk_node(walk *w, json_t *node)
{
    if (w->rc < 0) return;
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) walk_node(w, v);
        return;
    }
    if (!json_is_object(node)) return;
    const char *type = jstr(node, "type"), *cls = jstr(node, "class");
    if (type && !strcmp(type, "BASE_TABLE")) add_table(w, node);
    if (cls && !strcmp(cls, "PARAMETER")) add_param(w, node);
    if (type && !strcmp(type, "TABLE_FUNCTION")) {
        const char *fn = jstr(json_object_get(node, "function"), "function_name");
        if (fn && (!tarn__name_cmp(fn, "query") || !tarn__name_cmp(fn, "query_table"))) {
            w->rc = tarn__error_set(w->err, TARN_EINVALID,
                                    "%s() reads tables named in a string, which tarn cannot see: "
                                    "name the tables in FROM",
                                    fn);
            return;
        }
    }
    json_t *cte_map = json_object_get(json_object_get(node, "cte_map"), "map");
    size_t i;
    json_t *v;
    json_array_foreach(cte_map, i, v)
    {
        const char *name = jstr(v, "key");
        if (!name) continue;
        strbuf key = {0};
        append_folded(&key, name);
        json_object_set_new(w->ctes, sb_str(&key), json_true());
        sb_free(&key);
    }
    const char *k;
    json_object_foreach(node, k, v) walk_node(w, v);
}

void tarn__sql_refs_clear(tarn_sql_refs *r)
{
    if (!r) return;
    free(r->sql);
    json_decref(r->tables);
    json_decref(r->params);
    json_decref(r->tree);
    memset(r, 0, sizeof *r);
}

int tarn__sql_refs_parse(tarn_sql_refs *out, tarn_duck *d, const char *sql, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    out->sql = tarn__sql_spell_default(sql);
    out->tables = json_array();
    out->params = json_object();
    json_t *tree = NULL;
    int rc = serialize(&tree, d, out->sql, err);
    if (rc < 0) return rc;
    walk w = {json_array(), json_object(), json_object(), out->params, 0, err};
    walk_node(&w, json_object_get(tree, "statements"));
    /* A bare name that a common table expression defines is not a table
     * (as DuckDB binds it, names folded). */
    size_t i;
    json_t *t;
    json_array_foreach(w.tables, i, t)
    {
        strbuf key = {0};
        append_folded(&key, json_string_value(json_object_get(t, "table")));
        if (*json_string_value(json_object_get(t, "schema")) ||
            !json_object_get(w.ctes, sb_str(&key)))
            json_array_append(out->tables, t);
        sb_free(&key);
    }
    json_decref(w.tables);
    json_decref(w.seen);
    json_decref(w.ctes);
    out->tree = tree;
    return w.rc;
}

/* Drops every "query_location" (where in the text a node was), recursively. */
static void strip_locations(json_t *node)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) strip_locations(v);
    } else if (json_is_object(node)) {
        json_object_del(node, "query_location");
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) strip_locations(v);
    }
}

static int has_subquery(json_t *node)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) if (has_subquery(v)) return 1;
        return 0;
    }
    if (!json_is_object(node)) return 0;
    const char *cls = jstr(node, "class");
    if (cls && !strcmp(cls, "SUBQUERY")) return 1;
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v) if (has_subquery(v)) return 1;
    return 0;
}

/* The statement node of `SELECT 1 WHERE <COND>` without its condition. */
static json_t *shell_of(json_t *tree)
{
    json_t *node = json_deep_copy(
        json_object_get(json_array_get(json_object_get(tree, "statements"), 0), "node"));
    json_object_del(node, "where_clause");
    strip_locations(node);
    return node;
}

int tarn__sql_filter_parse(json_t **where, json_t **params, tarn_duck *d, const char *filter,
                           tarn_error *err)
{
    *where = *params = NULL;
    if (!filter || !*filter) return tarn__error_set(err, TARN_EINVALID, "it is empty");
    /* The filter is read as the condition of a SELECT that has nothing
     * else: whatever differs from the same SELECT with a plain TRUE (a
     * second statement, GROUP BY, UNION, LIMIT, ...) is not part of one
     * expression. The newline ends a trailing -- comment. */
    strbuf q = {0};
    sb_append(&q, "SELECT 1 WHERE ");
    sb_append(&q, filter);
    sb_append(&q, "\n");
    json_t *tree = NULL, *plain = NULL;
    tarn_error perr = TARN_ERROR_INIT;
    int rc = serialize(&tree, d, sb_str(&q), &perr);
    sb_free(&q);
    int same = 0;
    json_t *cond = NULL;
    if (rc < 0 && !strncmp(perr.message, "invalid SQL: ", 13)) {
        rc = tarn__error_set(err, TARN_EINVALID, "%s", perr.message);
        goto done;
    }
    if (rc == 0 && (rc = serialize(&plain, d, "SELECT 1 WHERE TRUE", err)) < 0) goto done;
    if (rc == 0) {
        json_t *a = shell_of(tree), *b = shell_of(plain);
        same = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        cond = json_object_get(
            json_object_get(json_array_get(json_object_get(tree, "statements"), 0), "node"),
            "where_clause");
    }
    if (!same || !cond) {
        /* A second statement, or a clause after the condition. */
        rc = tarn__error_set(err, TARN_EINVALID,
                             "it is not one SQL expression: write a condition on the table's "
                             "columns, such as \"country = 'IT' AND usd > 10\"");
        goto done;
    }
    if (has_subquery(cond)) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "it holds a subquery, but a filter reads only its own table's "
                             "columns (join in a model instead)");
        goto done;
    }
    *params = json_object();
    walk w = {json_array(), json_object(), json_object(), *params, 0, err};
    walk_node(&w, cond);
    json_decref(w.tables);
    json_decref(w.ctes);
    json_decref(w.seen);
    if ((rc = w.rc) < 0) goto done;
    *where = json_incref(cond);
done:
    tarn_error_clear(&perr);
    json_decref(tree);
    json_decref(plain);
    if (rc < 0) {
        json_decref(*params);
        *params = NULL;
    }
    return rc;
}

const char *tarn__sql_params_missing(json_t *params, json_t *declared)
{
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v) if (!json_object_get(declared, name)) return name;
    return NULL;
}
