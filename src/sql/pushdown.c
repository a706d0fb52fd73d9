/* sql/pushdown.c — the WHERE terms that restrict each table a statement
 * reads (see pushdown.h).
 *
 * The parse tree is walked once. At every SELECT, the FROM clause is read
 * into its bindings (a base table, alone or joined by plain inner, outer
 * or cross joins, or anything else: a subquery, a table function); each
 * top-level AND term of the WHERE that compares one column with constants
 * is given to the binding that column belongs to, as DuckDB binds names: a
 * qualified `b.x` to binding b, an unqualified `x` to the one base table
 * that has column x (two would be ambiguous; none means an outer query's
 * column or a select-list alias, which restrict nothing here). Every base
 * table reference the walk meets afterwards takes the terms found for it,
 * or none.
 *
 * Why the terms may restrict a reference: a WHERE term is evaluated on
 * every row the FROM clause produces, and a comparison is never true on
 * NULL; so a row of the table that fails it cannot be part of any result
 * row, whether it joined, or stood NULL-extended in an outer join. Joins
 * where removing a row changes which other rows pair up (POSITIONAL, ASOF,
 * SEMI, ANTI, LATERAL) and samples keep every file. */
#include "sql/pushdown.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int is(const char *s, const char *what)
{
    return s && !strcmp(s, what);
}

static int empty_array(json_t *a)
{
    return !a || (json_is_array(a) && json_array_size(a) == 0);
}

/* A constant, a $parameter or a cast of one. */
static int literal(json_t *node)
{
    if (is(jstr(node, "class"), "CAST")) node = json_object_get(node, "child");
    return is(jstr(node, "class"), "CONSTANT") || is(jstr(node, "class"), "PARAMETER");
}

static json_t *column_ref(json_t *node)
{
    return is(jstr(node, "class"), "COLUMN_REF") ? node : NULL;
}

/* The COLUMN_REF a term compares with constants, or NULL when the term is
 * not `column OP constant`, `column BETWEEN a AND b` or `column IN (...)`. */
static json_t *term_column(json_t *term)
{
    const char *type = jstr(term, "type");
    if (!type) return NULL;
    static const char *const cmps[] = {"COMPARE_EQUAL", "COMPARE_LESSTHAN",
                                       "COMPARE_LESSTHANOREQUALTO", "COMPARE_GREATERTHAN",
                                       "COMPARE_GREATERTHANOREQUALTO"};
    for (size_t i = 0; i < sizeof cmps / sizeof *cmps; i++) {
        if (strcmp(type, cmps[i])) continue;
        json_t *l = json_object_get(term, "left"), *r = json_object_get(term, "right");
        if (column_ref(l) && literal(r)) return l;
        if (column_ref(r) && literal(l)) return r;
        return NULL;
    }
    if (!strcmp(type, "COMPARE_BETWEEN")) {
        json_t *in = json_object_get(term, "input");
        return column_ref(in) && literal(json_object_get(term, "lower")) &&
                       literal(json_object_get(term, "upper"))
                   ? in
                   : NULL;
    }
    if (!strcmp(type, "COMPARE_IN")) {
        json_t *ch = json_object_get(term, "children");
        if (json_array_size(ch) < 2 || !column_ref(json_array_get(ch, 0))) return NULL;
        for (size_t k = 1; k < json_array_size(ch); k++)
            if (!literal(json_array_get(ch, k))) return NULL;
        return json_array_get(ch, 0);
    }
    return NULL;
}

/* The top-level AND terms of WHERE, appended to OUT (borrowed). */
static void flatten(json_t *out, json_t *where)
{
    if (!where || json_is_null(where)) return;
    if (is(jstr(where, "type"), "CONJUNCTION_AND")) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(where, "children"), i, c) flatten(out, c);
        return;
    }
    json_array_append(out, where);
}

static int has_column(const tarn_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!tarn__name_cmp(cols[i].name, name)) return 1;
    return 0;
}

typedef struct ctx {
    json_t *tables;
    tarn_column *const *cols;
    const size_t *ncols;
    json_t *ctes;    /* {"folded name": true} */
    json_t *handled; /* {"%p of a BASE_TABLE node": [terms]} */
    json_t *out;
} ctx;

static void fold(char *out, size_t size, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        out[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + ('a' - 'A')) : name[i];
    out[i] = 0;
}

/* The index in c->tables of the table a BASE_TABLE node reads, or -1 (a
 * common table expression, or not a table tarn exposes). */
static long table_index(ctx *c, json_t *node)
{
    const char *schema = jstr(node, "schema_name"), *table = jstr(node, "table_name");
    const char *catalog = jstr(node, "catalog_name");
    if (!table || (catalog && *catalog)) return -1;
    if (!schema || !tarn__name_cmp(schema, "main")) schema = "";
    char key[300];
    fold(key, sizeof key, table);
    if (!*schema && json_object_get(c->ctes, key)) return -1;
    size_t i;
    json_t *t;
    json_array_foreach(c->tables, i, t)
    {
        if (!tarn__name_cmp(jstr(t, "schema"), schema) && !tarn__name_cmp(jstr(t, "table"), table))
            return (long)i;
    }
    return -1;
}

/* A base table read as it is: no sample, no AT clause, no column aliases. */
static int plain_table(json_t *node)
{
    json_t *sample = json_object_get(node, "sample"), *at = json_object_get(node, "at_clause");
    return (!sample || json_is_null(sample)) && (!at || json_is_null(at)) &&
           empty_array(json_object_get(node, "column_name_alias"));
}

typedef struct binding {
    json_t *node;
    const char *name; /* alias, else the table's name; "" when none */
    long table;       /* index into c->tables, -1 when not a plain base table */
    json_t *terms;
} binding;

typedef struct bindings {
    binding *list;
    size_t n, cap;
    int ok; /* 0: a join that removing rows would change */
} bindings;

static void add_binding(bindings *b, json_t *node, const char *name, long table)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->list = realloc(b->list, b->cap * sizeof *b->list);
    }
    b->list[b->n++] = (binding){node, name ? name : "", table, json_array()};
}

static void collect(ctx *c, bindings *b, json_t *from)
{
    const char *type = jstr(from, "type");
    const char *alias = jstr(from, "alias");
    if (!type || is(type, "EMPTY") || is(type, "EMPTY_FROM")) return;
    if (is(type, "BASE_TABLE")) {
        long idx = plain_table(from) ? table_index(c, from) : -1;
        add_binding(b, from, alias && *alias ? alias : jstr(from, "table_name"), idx);
    } else if (is(type, "JOIN")) {
        const char *ref = jstr(from, "ref_type"), *join = jstr(from, "join_type");
        int plain_ref = is(ref, "REGULAR") || is(ref, "CROSS") || is(ref, "NATURAL");
        int plain_join =
            is(join, "INNER") || is(join, "LEFT") || is(join, "RIGHT") || is(join, "OUTER");
        json_t *sample = json_object_get(from, "sample");
        if (!plain_ref || !plain_join || (sample && !json_is_null(sample))) b->ok = 0;
        collect(c, b, json_object_get(from, "left"));
        collect(c, b, json_object_get(from, "right"));
    } else {
        /* A subquery, a table function, VALUES...: its columns are its own. */
        add_binding(b, from, alias, -1);
    }
}

/* The binding PATH (a column_names array) belongs to, and in *rel the path
 * relative to it, or NULL when it cannot be told for sure. */
static binding *resolve(ctx *c, bindings *b, json_t *path, json_t **rel)
{
    *rel = NULL;
    size_t n = json_array_size(path);
    const char *first = json_string_value(json_array_get(path, 0));
    if (!first) return NULL;
    if (n >= 2) {
        /* DuckDB binds `a.x` to table a before looking for a column a. */
        binding *found = NULL;
        for (size_t i = 0; i < b->n; i++) {
            if (tarn__name_cmp(b->list[i].name, first)) continue;
            if (found) return NULL; /* ambiguous: DuckDB refuses it */
            found = &b->list[i];
        }
        if (!found || found->table < 0) return NULL;
        *rel = json_array();
        for (size_t k = 1; k < n; k++)
            json_array_append(*rel, json_array_get(path, k));
        return found;
    }
    binding *found = NULL;
    for (size_t i = 0; i < b->n; i++) {
        long t = b->list[i].table;
        if (t < 0 || !has_column(c->cols[t], c->ncols[t], first)) continue;
        if (found) return NULL;
        found = &b->list[i];
    }
    if (found) *rel = json_copy(path);
    return found;
}

/* TERM with its column path replaced by REL (a new tree). */
static json_t *relative_term(json_t *term, json_t *rel)
{
    json_t *copy = json_deep_copy(term);
    json_object_set(term_column(copy), "column_names", rel);
    return copy;
}

static void pointer_key(char *out, size_t size, json_t *node)
{
    snprintf(out, size, "%p", (void *)node);
}

/* Gives each base table of SELECT node NODE's FROM the WHERE terms that
 * restrict it. */
static void read_select(ctx *c, json_t *node)
{
    json_t *where = json_object_get(node, "where_clause");
    if (!where || json_is_null(where)) return;
    bindings b = {NULL, 0, 0, 1};
    collect(c, &b, json_object_get(node, "from_table"));
    if (b.ok) {
        json_t *terms = json_array();
        flatten(terms, where);
        size_t i;
        json_t *term;
        json_array_foreach(terms, i, term)
        {
            json_t *col = term_column(term), *rel = NULL;
            binding *owner =
                col ? resolve(c, &b, json_object_get(col, "column_names"), &rel) : NULL;
            if (owner) json_array_append_new(owner->terms, relative_term(term, rel));
            json_decref(rel);
        }
        json_decref(terms);
        for (size_t k = 0; k < b.n; k++) {
            if (b.list[k].table < 0 || !json_array_size(b.list[k].terms)) continue;
            char key[40];
            pointer_key(key, sizeof key, b.list[k].node);
            json_object_set(c->handled, key, b.list[k].terms);
        }
    }
    for (size_t k = 0; k < b.n; k++)
        json_decref(b.list[k].terms);
    free(b.list);
}

static json_t *and_of(json_t *terms)
{
    return json_pack("{s:s,s:s,s:O}", "class", "CONJUNCTION", "type", "CONJUNCTION_AND", "children",
                     terms);
}

/* Calls FN on every object of NODE's tree, parents before children. */
static void visit(json_t *node, void (*fn)(ctx *c, json_t *obj), ctx *c)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) visit(v, fn, c);
        return;
    }
    if (!json_is_object(node)) return;
    fn(c, node);
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v) visit(v, fn, c);
}

/* A SELECT gives its tables their terms; a base table then takes them. */
static void read_node(ctx *c, json_t *node)
{
    const char *type = jstr(node, "type");
    if (is(type, "SELECT_NODE")) read_select(c, node);
    if (!is(type, "BASE_TABLE")) return;
    long idx = table_index(c, node);
    if (idx < 0) return;
    char key[40];
    pointer_key(key, sizeof key, node);
    json_t *terms = json_object_get(c->handled, key);
    json_t *slot = json_array_get(c->out, (size_t)idx);
    if (!terms)
        json_array_set_new(c->out, (size_t)idx, json_null());
    else if (json_is_array(slot))
        json_array_append_new(slot, and_of(terms));
}

/* Records the names of the common table expressions NODE defines, folded. */
static void read_ctes(ctx *c, json_t *node)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(node, "cte_map"), "map"), i, v)
    {
        const char *name = jstr(v, "key");
        if (!name) continue;
        char key[300];
        fold(key, sizeof key, name);
        json_object_set_new(c->ctes, key, json_true());
    }
}

json_t *tarn__pushdown(json_t *statement, json_t *tables, tarn_column *const *cols,
                       const size_t *ncols)
{
    ctx c = {tables, cols, ncols, json_object(), json_object(), json_array()};
    for (size_t i = 0; i < json_array_size(tables); i++)
        json_array_append_new(c.out, json_array());
    visit(statement, read_ctes, &c);
    visit(statement, read_node, &c);
    json_decref(c.ctes);
    json_decref(c.handled);
    return c.out;
}

/* An aggregate tarn can answer from statistics: count(*), min(col),
 * max(col), written plainly. Sets *fn and *col (NULL for count). */
static int plain_aggregate(const char **fn, json_t **col, json_t *item)
{
    *fn = NULL;
    *col = NULL;
    if (!is(jstr(item, "class"), "FUNCTION")) return 0;
    const char *name = jstr(item, "function_name"), *schema = jstr(item, "schema");
    const char *catalog = jstr(item, "catalog");
    json_t *filter = json_object_get(item, "filter");
    if (!name || (schema && *schema) || (catalog && *catalog) ||
        json_is_true(json_object_get(item, "distinct")) ||
        json_is_true(json_object_get(item, "is_operator")) ||
        json_is_true(json_object_get(item, "export_state")) || (filter && !json_is_null(filter)) ||
        !empty_array(json_object_get(json_object_get(item, "order_bys"), "orders")))
        return 0;
    json_t *children = json_object_get(item, "children");
    if (!tarn__name_cmp(name, "count_star") && empty_array(children)) {
        *fn = "count";
        return 1;
    }
    if ((!tarn__name_cmp(name, "min") || !tarn__name_cmp(name, "max")) &&
        json_array_size(children) == 1 && column_ref(json_array_get(children, 0))) {
        *fn = !tarn__name_cmp(name, "min") ? "min" : "max";
        *col = json_array_get(children, 0);
        return 1;
    }
    return 0;
}

json_t *tarn__pushdown_aggregate(json_t *statement, json_t *tables, tarn_column *const *cols,
                                 const size_t *ncols)
{
    json_t *node =
        json_object_get(json_array_get(json_object_get(statement, "statements"), 0), "node");
    json_t *from = json_object_get(node, "from_table");
    if (!is(jstr(node, "type"), "SELECT_NODE") || !is(jstr(from, "type"), "BASE_TABLE") ||
        !plain_table(from) || !empty_array(json_object_get(node, "modifiers")) ||
        !empty_array(json_object_get(json_object_get(node, "cte_map"), "map")) ||
        !empty_array(json_object_get(node, "group_expressions")) ||
        !empty_array(json_object_get(node, "group_sets")) ||
        !is(jstr(node, "aggregate_handling"), "STANDARD_HANDLING") ||
        !json_array_size(json_object_get(node, "select_list")))
        return NULL;
    static const char *const absent[] = {"having", "sample", "qualify"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        json_t *v = json_object_get(node, absent[i]);
        if (v && !json_is_null(v)) return NULL;
    }
    ctx c = {tables, cols, ncols, json_object(), NULL, NULL};
    long idx = table_index(&c, from);
    json_decref(c.ctes);
    if (idx < 0) return NULL;
    bindings b = {NULL, 0, 0, 1};
    add_binding(&b, from,
                jstr(from, "alias") && *jstr(from, "alias") ? jstr(from, "alias")
                                                            : jstr(from, "table_name"),
                idx);
    json_t *items = json_array(), *where = NULL;
    int ok = 1;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(node, "select_list"), i, item)
    {
        const char *fn;
        json_t *col, *rel = NULL;
        if (!(ok = plain_aggregate(&fn, &col, item))) break;
        const char *column = NULL;
        if (col) {
            ok = resolve(&c, &b, json_object_get(col, "column_names"), &rel) != NULL &&
                 json_array_size(rel) == 1;
            if (ok) {
                const char *name = json_string_value(json_array_get(rel, 0));
                for (size_t k = 0; k < ncols[idx] && !column; k++)
                    if (!tarn__name_cmp(cols[idx][k].name, name)) column = cols[idx][k].name;
                ok = column != NULL;
            }
            json_decref(rel);
            if (!ok) break;
        }
        json_array_append_new(items, json_pack("{s:s,s:s?}", "fn", fn, "column", column));
    }
    json_t *terms = json_array();
    flatten(terms, json_object_get(node, "where_clause"));
    json_t *term;
    json_t *relative = json_array();
    json_array_foreach(terms, i, term)
    {
        json_t *col = term_column(term), *rel = NULL;
        if (col && resolve(&c, &b, json_object_get(col, "column_names"), &rel))
            json_array_append_new(relative, relative_term(term, rel));
        json_decref(rel);
    }
    if (json_array_size(terms)) where = and_of(relative);
    json_t *out =
        ok ? json_pack("{s:I,s:O,s:o,s:I}", "table", (json_int_t)idx, "items", items, "where",
                       where ? where : json_null(), "terms", (json_int_t)json_array_size(terms))
           : NULL;
    if (!ok) json_decref(where);
    json_decref(relative);
    json_decref(terms);
    json_decref(items);
    json_decref(b.list[0].terms);
    free(b.list);
    return out;
}
