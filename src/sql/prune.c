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

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "sql/engine.h"
#include "util/error.h"

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
    size_t terms; /* top-level AND terms of the filter, read or not */
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

int tarn__stats_always_exact(const char *type)
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
    if (exact ? !json_is_true(exact) : !tarn__stats_always_exact(type)) return NULL;
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
    p->terms = json_array_size(parts);
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

int tarn__prune_complete(const tarn_prune *p)
{
    return p && p->n == p->terms;
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

/* "Some row of a file may satisfy C" as SQL, the file's minimum and
 * maximum of C's column being MN and MX (SQL of C's type, NULL when not
 * known: then it is true). */
static void some_test(strbuf *q, const conjunct *c, const char *mn, const char *mx)
{
    sb_append(q, "COALESCE(");
    switch (c->kind) {
    case C_EQ:
        sb_printf(q, "(%s) BETWEEN %s AND %s", c->consts[0], mn, mx);
        break;
    case C_LT:
        sb_printf(q, "%s < (%s)", mn, c->consts[0]);
        break;
    case C_LE:
        sb_printf(q, "%s <= (%s)", mn, c->consts[0]);
        break;
    case C_GT:
        sb_printf(q, "%s > (%s)", mx, c->consts[0]);
        break;
    case C_GE:
        sb_printf(q, "%s >= (%s)", mx, c->consts[0]);
        break;
    case C_BETWEEN:
        sb_printf(q, "%s >= (%s) AND %s <= (%s)", mx, c->consts[0], mn, c->consts[1]);
        break;
    case C_IN:
        sb_append(q, "(");
        for (size_t k = 0; k < c->nconst; k++)
            sb_printf(q, "%s(%s) BETWEEN %s AND %s", k ? " OR " : "", c->consts[k], mn, mx);
        sb_append(q, ")");
        break;
    }
    sb_append(q, ", TRUE)");
}

/* "Every row of a file satisfies C" as SQL: its values all lie where C
 * holds, and none is NULL (NULLS: the file's NULL count, NULL when not
 * known: then it is false). */
static void all_test(strbuf *q, const conjunct *c, const char *mn, const char *mx,
                     const char *nulls)
{
    sb_printf(q, "COALESCE(%s = 0 AND ", nulls);
    switch (c->kind) {
    case C_EQ:
        sb_printf(q, "%s = (%s) AND %s = (%s)", mn, c->consts[0], mx, c->consts[0]);
        break;
    case C_LT:
        sb_printf(q, "%s < (%s)", mx, c->consts[0]);
        break;
    case C_LE:
        sb_printf(q, "%s <= (%s)", mx, c->consts[0]);
        break;
    case C_GT:
        sb_printf(q, "%s > (%s)", mn, c->consts[0]);
        break;
    case C_GE:
        sb_printf(q, "%s >= (%s)", mn, c->consts[0]);
        break;
    case C_BETWEEN:
        sb_printf(q, "%s >= (%s) AND %s <= (%s)", mn, c->consts[0], mx, c->consts[1]);
        break;
    case C_IN:
        sb_printf(q, "%s = %s AND (", mn, mx);
        for (size_t k = 0; k < c->nconst; k++)
            sb_printf(q, "%s%s = (%s)", k ? " OR " : "", mn, c->consts[k]);
        sb_append(q, ")");
        break;
    }
    sb_append(q, ", FALSE)");
}

/* Appends one file's row of the statistics table: its number, then per
 * term the minimum, maximum (text, NULL when not exact) and NULL count. */
static void stats_row(strbuf *q, const tarn_prune *p, size_t i, json_t *file_stats)
{
    sb_printf(q, "%s(%zu", i ? ", " : "", i);
    for (size_t k = 0; k < p->n; k++) {
        json_t *s = tarn__stats_exact(file_stats, p->list[k].column, p->list[k].type);
        json_t *nulls = json_object_get(json_object_get(file_stats, p->list[k].column), "nulls");
        sb_append(q, ", ");
        if (s) sb_append_sql_string(q, jstr(s, "min"));
        else sb_append(q, "NULL");
        sb_append(q, ", ");
        if (s) sb_append_sql_string(q, jstr(s, "max"));
        else sb_append(q, "NULL");
        if (s && json_is_integer(nulls)) sb_printf(q, ", %lld", (long long)json_integer_value(nulls));
        else sb_append(q, ", NULL::BIGINT");
    }
    sb_append(q, ")");
}

int tarn__file_stats_load(tarn_file_stats *out, tarn_lake *lake, char *const *keys, size_t n,
                          tarn_error *err)
{
    memset(out, 0, sizeof *out);
    out->records = calloc(n ? n : 1, sizeof *out->records);
    out->stats = calloc(n ? n : 1, sizeof *out->stats);
    if (!out->records || !out->stats) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    out->n = n;
    if (!n) return 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), (const char *const *)keys, n,
                                                    out->records, err));
    for (size_t i = 0; i < n; i++) {
        const char *text = out->records[i].stats_json;
        out->stats[i] = text ? json_loads(text, 0, NULL) : NULL;
        if (!out->stats[i]) out->stats[i] = json_object();
    }
    return 0;
}

void tarn__file_stats_clear(tarn_file_stats *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->records) tarn__data_file_clear(&fs->records[i]);
        if (fs->stats) json_decref(fs->stats[i]);
    }
    free(fs->records);
    free(fs->stats);
    memset(fs, 0, sizeof *fs);
}

int tarn__prune_judge(tarn_verdict *out, const tarn_prune *p, json_t *const *file_stats,
                      size_t nfiles, tarn_duck *d, json_t *params)
{
    for (size_t i = 0; i < nfiles; i++)
        out[i] = TARN_VERDICT_SOME;
    if (!nfiles || tarn__prune_count(p) == 0) return 0;
    /* One query judges every file: a row of statistics per file, each
     * term compared with the very casts and rules DuckDB applies to the
     * filter itself, the filter's parameters bound as in the scan. */
    strbuf q = {0}, mn = {0}, mx = {0}, nl = {0};
    sb_append(&q, "SELECT i::VARCHAR, (");
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < p->n; k++) {
            mn.len = mx.len = nl.len = 0;
            sb_printf(&mn, "TRY_CAST(mn%zu AS %s)", k, p->list[k].type);
            sb_printf(&mx, "TRY_CAST(mx%zu AS %s)", k, p->list[k].type);
            sb_printf(&nl, "nl%zu", k);
            if (k) sb_append(&q, " AND ");
            if (pass == 0) some_test(&q, &p->list[k], mn.s, mx.s);
            else all_test(&q, &p->list[k], mn.s, mx.s, nl.s);
        }
        sb_append(&q, pass == 0 ? ")::VARCHAR, (" : ")::VARCHAR FROM (VALUES ");
    }
    for (size_t i = 0; i < nfiles; i++)
        stats_row(&q, p, i, file_stats[i]);
    sb_append(&q, ") AS stats(i");
    for (size_t k = 0; k < p->n; k++)
        sb_printf(&q, ", mn%zu, mx%zu, nl%zu", k, k, k);
    sb_append(&q, ")");
    duckdb_result res;
    /* Statistics that cannot be compared prove nothing: every file stays. */
    if (tarn__duck_query_bound(&res, d, sb_str(&q), params, TARN_EINVALID, "file statistics",
                               NULL) == 0) {
        idx_t nchunks = duckdb_result_chunk_count(res);
        for (idx_t ci = 0; ci < nchunks; ci++) {
            duckdb_data_chunk chunk = duckdb_result_get_chunk(res, ci);
            if (!chunk) break;
            idx_t n = duckdb_data_chunk_get_size(chunk);
            duckdb_string_t *ids = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0));
            duckdb_vector vs[2] = {duckdb_data_chunk_get_vector(chunk, 1),
                                   duckdb_data_chunk_get_vector(chunk, 2)};
            for (idx_t r = 0; r < n; r++) {
                char *id = tarn__duck_string_copy(&ids[r]);
                size_t i = (size_t)strtoull(id, NULL, 10);
                free(id);
                char *v[2] = {NULL, NULL};
                for (int k = 0; k < 2; k++) {
                    uint64_t *valid = duckdb_vector_get_validity(vs[k]);
                    if (!valid || duckdb_validity_row_is_valid(valid, r))
                        v[k] = tarn__duck_string_copy(
                            (duckdb_string_t *)duckdb_vector_get_data(vs[k]) + r);
                }
                if (i < nfiles && v[0] && !strcmp(v[0], "false")) out[i] = TARN_VERDICT_NONE;
                else if (i < nfiles && v[1] && !strcmp(v[1], "true") && tarn__prune_complete(p))
                    out[i] = TARN_VERDICT_ALL;
                free(v[0]);
                free(v[1]);
            }
            duckdb_destroy_data_chunk(&chunk);
        }
    }
    duckdb_destroy_result(&res);
    sb_free(&q);
    sb_free(&mn);
    sb_free(&mx);
    sb_free(&nl);
    return 0;
}
