/* sql/prune.c — skipping data files by their statistics (see prune.h).
 *
 * A filter's parse tree (DuckDB's) is split into its top-level AND terms;
 * each term of the form `column OP constant`, `column BETWEEN a AND b` or
 * `column IN (...)` on a column with statistics becomes a test on a file's
 * min and max, written in SQL so that DuckDB compares values with the very
 * casts and rules it applies to the filter itself. Anything else keeps the
 * file. */
#include "sql/prune.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"

typedef enum { C_EQ, C_LT, C_LE, C_GT, C_GE, C_BETWEEN, C_IN } cmp_kind;

typedef struct conjunct {
    const char *column; /* borrowed from the table's columns */
    const char *type;
    cmp_kind kind;
    size_t nconst;
    char **consts; /* SQL text of each constant */
} conjunct;

struct tarn_prune {
    size_t n;
    conjunct *list;
};

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int is_class(json_t *node, const char *cls)
{
    return node && jstr(node, "class") && !strcmp(jstr(node, "class"), cls);
}

static int flat_type(const char *type)
{
    return !strchr(type, '(') && !strchr(type, '[') && !strstr(type, "STRUCT") &&
           !strstr(type, "MAP") && !strstr(type, "UNION");
}

int tarn__stats_column(const char **column, const char **type, const tarn_column *cols,
                       size_t ncols, json_t *path)
{
    *column = *type = NULL;
    /* ["x"] is column x; ["s", "x"] a field of struct s, whose values the
     * statistics of s (if any) do not describe, never column x. */
    if (json_array_size(path) != 1) return 0;
    const char *name = json_string_value(json_array_get(path, 0));
    if (!name) return 0;
    const tarn_column *found = NULL;
    for (size_t i = 0; i < ncols; i++) {
        if (tarn__name_cmp(cols[i].name, name) != 0) continue;
        if (found) return 0; /* two columns DuckDB cannot tell apart */
        found = &cols[i];
    }
    if (!found || !flat_type(found->type)) return 0;
    *column = found->name;
    *type = found->type;
    return 1;
}

/* Types whose Parquet min/max DuckDB always writes exactly: no NaN, no
 * truncation. */
static int always_exact(const char *type)
{
    static const char *const exact[] = {"TINYINT",      "SMALLINT",     "INTEGER",
                                        "BIGINT",       "HUGEINT",      "UTINYINT",
                                        "USMALLINT",    "UINTEGER",     "UBIGINT",
                                        "UHUGEINT",     "BOOLEAN",      "DATE",
                                        "TIME",         "TIMESTAMP",    "TIMESTAMP_S",
                                        "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(type, exact[i])) return 1;
    return !strncmp(type, "DECIMAL(", 8);
}

json_t *tarn__stats_exact(json_t *file_stats, const char *column, const char *type)
{
    json_t *s = json_object_get(file_stats, column);
    if (!jstr(s, "min") || !jstr(s, "max")) return NULL;
    json_t *exact = json_object_get(s, "exact");
    if (exact ? !json_is_true(exact) : !always_exact(type)) return NULL;
    return s;
}

static int is_literal(json_t *node)
{
    if (is_class(node, "CAST")) node = json_object_get(node, "child");
    return is_class(node, "CONSTANT") || is_class(node, "PARAMETER");
}

/* SQL text for a constant of DuckDB's parse tree (or a CAST of one, as in
 * TIMESTAMP '2026-01-01', or a named $parameter), or NULL when it is of a
 * kind not handled here. */
static char *const_sql(json_t *node)
{
    strbuf b = {0};
    if (is_class(node, "CAST")) {
        json_t *to = json_object_get(node, "cast_type");
        const char *id = jstr(to, "id");
        if (!id || !json_is_null(json_object_get(to, "type_info"))) return NULL;
        for (const char *p = id; *p; p++)
            if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) return NULL;
        char *inner = const_sql(json_object_get(node, "child"));
        if (!inner) return NULL;
        sb_printf(&b, "CAST(%s AS %s)", inner, id);
        free(inner);
        return b.s;
    }
    if (is_class(node, "PARAMETER")) {
        /* Bound by name when the test runs, like the filter itself. */
        const char *id = jstr(node, "identifier");
        if (!id || !*id) return NULL;
        for (const char *p = id; *p; p++)
            if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9')))
                return NULL;
        sb_printf(&b, "$%s", id);
        return b.s;
    }
    if (!is_class(node, "CONSTANT")) return NULL;
    json_t *value = json_object_get(node, "value");
    const char *id = jstr(json_object_get(value, "type"), "id");
    json_t *v = json_object_get(value, "value");
    if (!id || json_is_true(json_object_get(value, "is_null"))) return NULL;
    static const char *const ints[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",
                                       "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        if (strcmp(id, ints[i]) || !json_is_number(v)) continue;
        double x = json_number_value(v);
        if (x > 9007199254740992.0 || x < -9007199254740992.0) return NULL; /* not exact */
        sb_printf(&b, "%.0f", x);
        return b.s;
    }
    if ((!strcmp(id, "DOUBLE") || !strcmp(id, "FLOAT")) && json_is_number(v)) {
        sb_printf(&b, "%.17g", json_number_value(v));
    } else if (!strcmp(id, "DECIMAL") && json_is_number(v)) {
        /* An unscaled integer and a scale: 105 with scale 1 is 10.5. */
        json_t *info = json_object_get(json_object_get(value, "type"), "type_info");
        int scale = (int)json_number_value(json_object_get(info, "scale"));
        double x = json_number_value(v);
        if (scale < 0 || scale > 18 || x > 9007199254740992.0 || x < -9007199254740992.0)
            return NULL;
        char digits[64];
        snprintf(digits, sizeof digits, "%.0f", x < 0 ? -x : x);
        size_t n = strlen(digits);
        sb_append(&b, x < 0 ? "-" : "");
        if ((int)n <= scale) {
            sb_append(&b, "0.");
            for (int i = 0; i < scale - (int)n; i++)
                sb_append(&b, "0");
            sb_append(&b, digits);
        } else {
            sb_appendn(&b, digits, n - (size_t)scale);
            if (scale) {
                sb_append(&b, ".");
                sb_append(&b, digits + n - scale);
            }
        }
    } else if (!strcmp(id, "VARCHAR") && json_is_string(v)) {
        sb_append_sql_string(&b, json_string_value(v));
    } else if (!strcmp(id, "BOOLEAN") && json_is_boolean(v)) {
        sb_append(&b, json_is_true(v) ? "TRUE" : "FALSE");
    } else {
        sb_free(&b);
        return NULL;
    }
    return b.s;
}

/* The column path of a COLUMN_REF node, or NULL. */
static json_t *path_of(json_t *node)
{
    return is_class(node, "COLUMN_REF") ? json_object_get(node, "column_names") : NULL;
}

/* Reads one AND term into *c; 0 when statistics cannot judge it. */
static int read_conjunct(conjunct *c, json_t *p, const tarn_column *cols, size_t ncols)
{
    memset(c, 0, sizeof *c);
    const char *type = jstr(p, "type");
    if (!type) return 0;
    json_t *consts[64], *path = NULL;
    size_t nc = 0;
    static const struct {
        const char *name;
        cmp_kind k, flipped;
    } cmps[] = {{"COMPARE_EQUAL", C_EQ, C_EQ},
                {"COMPARE_LESSTHAN", C_LT, C_GT},
                {"COMPARE_LESSTHANOREQUALTO", C_LE, C_GE},
                {"COMPARE_GREATERTHAN", C_GT, C_LT},
                {"COMPARE_GREATERTHANOREQUALTO", C_GE, C_LE}};
    for (size_t k = 0; k < sizeof cmps / sizeof *cmps; k++) {
        if (strcmp(type, cmps[k].name)) continue;
        json_t *l = json_object_get(p, "left"), *r = json_object_get(p, "right");
        if (path_of(l) && is_literal(r))
            path = path_of(l), c->kind = cmps[k].k, consts[nc++] = r;
        else if (path_of(r) && is_literal(l))
            path = path_of(r), c->kind = cmps[k].flipped, consts[nc++] = l;
    }
    if (!strcmp(type, "COMPARE_BETWEEN") && path_of(json_object_get(p, "input")) &&
        is_literal(json_object_get(p, "lower")) && is_literal(json_object_get(p, "upper"))) {
        path = path_of(json_object_get(p, "input"));
        c->kind = C_BETWEEN;
        consts[nc++] = json_object_get(p, "lower");
        consts[nc++] = json_object_get(p, "upper");
    }
    if (!strcmp(type, "COMPARE_IN")) {
        json_t *ch = json_object_get(p, "children");
        int ok = path_of(json_array_get(ch, 0)) != NULL && json_array_size(ch) - 1 <= 64;
        for (size_t k = 1; ok && k < json_array_size(ch); k++)
            ok = is_literal(json_array_get(ch, k));
        if (ok) {
            path = path_of(json_array_get(ch, 0));
            c->kind = C_IN;
            for (size_t k = 1; k < json_array_size(ch); k++)
                consts[nc++] = json_array_get(ch, k);
        }
    }
    if (!path || !tarn__stats_column(&c->column, &c->type, cols, ncols, path)) return 0;
    c->consts = calloc(nc ? nc : 1, sizeof *c->consts);
    c->nconst = nc;
    for (size_t k = 0; k < nc; k++) {
        if ((c->consts[k] = const_sql(consts[k])) == NULL) {
            for (size_t j = 0; j < k; j++)
                free(c->consts[j]);
            free(c->consts);
            return 0;
        }
    }
    return 1;
}

tarn_prune *tarn__prune_new(json_t *where, const tarn_column *cols, size_t ncols)
{
    tarn_prune *p = calloc(1, sizeof *p);
    json_t *parts = json_array();
    if (jstr(where, "type") && !strcmp(jstr(where, "type"), "CONJUNCTION_AND"))
        json_array_extend(parts, json_object_get(where, "children"));
    else if (where)
        json_array_append(parts, where);
    p->list = calloc(json_array_size(parts) + 1, sizeof *p->list);
    size_t i;
    json_t *part;
    json_array_foreach(parts, i, part) if (read_conjunct(&p->list[p->n], part, cols, ncols)) p->n++;
    json_decref(parts);
    return p;
}

size_t tarn__prune_count(const tarn_prune *p)
{
    return p ? p->n : 0;
}

void tarn__prune_free(tarn_prune **pp)
{
    if (!pp || !*pp) return;
    tarn_prune *p = *pp;
    for (size_t k = 0; k < p->n; k++) {
        for (size_t j = 0; j < p->list[k].nconst; j++)
            free(p->list[k].consts[j]);
        free(p->list[k].consts);
    }
    free(p->list);
    free(p);
    *pp = NULL;
}

/* "Some row of a file with these statistics may satisfy C" as SQL. */
static void conjunct_test(strbuf *q, const conjunct *c, const char *min, const char *max)
{
    strbuf mn = {0}, mx = {0};
    sb_append(&mn, "TRY_CAST(");
    sb_append_sql_string(&mn, min);
    sb_printf(&mn, " AS %s)", c->type);
    sb_append(&mx, "TRY_CAST(");
    sb_append_sql_string(&mx, max);
    sb_printf(&mx, " AS %s)", c->type);
    sb_append(q, "COALESCE(");
    switch (c->kind) {
    case C_EQ:
        sb_printf(q, "(%s) BETWEEN %s AND %s", c->consts[0], mn.s, mx.s);
        break;
    case C_LT:
        sb_printf(q, "%s < (%s)", mn.s, c->consts[0]);
        break;
    case C_LE:
        sb_printf(q, "%s <= (%s)", mn.s, c->consts[0]);
        break;
    case C_GT:
        sb_printf(q, "%s > (%s)", mx.s, c->consts[0]);
        break;
    case C_GE:
        sb_printf(q, "%s >= (%s)", mx.s, c->consts[0]);
        break;
    case C_BETWEEN:
        sb_printf(q, "%s >= (%s) AND %s <= (%s)", mx.s, c->consts[0], mn.s, c->consts[1]);
        break;
    case C_IN:
        sb_append(q, "(");
        for (size_t k = 0; k < c->nconst; k++)
            sb_printf(q, "%s(%s) BETWEEN %s AND %s", k ? " OR " : "", c->consts[k], mn.s, mx.s);
        sb_append(q, ")");
        break;
    }
    sb_append(q, ", TRUE)");
    sb_free(&mn);
    sb_free(&mx);
}

void tarn__prune_file_test(strbuf *q, const tarn_prune *p, json_t *file_stats)
{
    sb_append(q, "(");
    int terms = 0;
    for (size_t k = 0; p && k < p->n; k++) {
        json_t *s = tarn__stats_exact(file_stats, p->list[k].column, p->list[k].type);
        if (!s) continue;
        if (terms++) sb_append(q, " AND ");
        conjunct_test(q, &p->list[k], jstr(s, "min"), jstr(s, "max"));
    }
    if (!terms) sb_append(q, "TRUE");
    sb_append(q, ")");
}
