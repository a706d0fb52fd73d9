/* runtime/scan.c — which data files a source scan must read.
 *
 * A scan's filter is parsed by DuckDB; each top-level conjunct of the form
 * `column OP constant`, `column BETWEEN a AND b` or `column IN (...)` is
 * turned into a test on every file's min/max statistics (recorded in the
 * catalog when the file was written). A file whose statistics prove that
 * some conjunct is false for all its rows is skipped without being opened.
 * Anything else keeps the file: skipping is an optimisation, never a
 * change of result. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "sql/engine.h"
#include "table/schema.h"
#include "util/error.h"
#include "util/util.h"

typedef enum { C_EQ, C_LT, C_LE, C_GT, C_GE, C_BETWEEN, C_IN } cmp_kind;

typedef struct conjunct {
    const char *column;
    const char *type;
    cmp_kind kind;
    size_t nconst;
    char **consts; /* SQL text of each constant */
} conjunct;

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *column_of(json_t *node)
{
    if (!node || strcmp(jstr(node, "class") ? jstr(node, "class") : "", "COLUMN_REF") != 0) return NULL;
    json_t *names = json_object_get(node, "column_names");
    return json_string_value(json_array_get(names, json_array_size(names) - 1));
}

static int is_const(json_t *node)
{
    return node && jstr(node, "class") && !strcmp(jstr(node, "class"), "CONSTANT");
}

static int is_literal(json_t *node)
{
    return is_const(node) || (node && jstr(node, "class") && !strcmp(jstr(node, "class"), "CAST") &&
                              is_const(json_object_get(node, "child")));
}

/* SQL text for a constant of DuckDB's parse tree (or a CAST of one, as in
 * TIMESTAMP '2026-01-01'), or NULL when it is of a kind not handled here. */
static char *const_sql(json_t *node)
{
    const char *cls = jstr(node, "class");
    if (cls && !strcmp(cls, "CAST")) {
        json_t *to = json_object_get(node, "cast_type");
        const char *id = jstr(to, "id");
        if (!id || !json_is_null(json_object_get(to, "type_info"))) return NULL;
        for (const char *p = id; *p; p++)
            if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) return NULL;
        char *inner = const_sql(json_object_get(node, "child"));
        if (!inner) return NULL;
        strbuf b = {0};
        sb_printf(&b, "CAST(%s AS %s)", inner, id);
        free(inner);
        return b.s;
    }
    if (!is_const(node)) return NULL;
    json_t *value = json_object_get(node, "value");
    const char *id = jstr(json_object_get(value, "type"), "id");
    json_t *v = json_object_get(value, "value");
    if (!id || json_is_true(json_object_get(value, "is_null"))) return NULL;
    strbuf b = {0};
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT",
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
        if (scale < 0 || scale > 18 || x > 9007199254740992.0 || x < -9007199254740992.0) return NULL;
        char digits[64];
        snprintf(digits, sizeof digits, "%.0f", x < 0 ? -x : x);
        size_t n = strlen(digits);
        sb_append(&b, x < 0 ? "-" : "");
        if ((int)n <= scale) {
            sb_append(&b, "0.");
            for (int i = 0; i < scale - (int)n; i++) sb_append(&b, "0");
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
        return NULL;
    }
    return b.s;
}

static const char *type_of(tarn_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cols[i].name, name)) return cols[i].type;
    return NULL;
}

/* Reads the usable conjuncts of FILTER. */
static size_t parse_conjuncts(conjunct **out, tarn_duck *d, const char *filter, tarn_column *cols,
                              size_t ncols, json_t **doc_out)
{
    *out = NULL;
    *doc_out = NULL;
    strbuf q = {0};
    sb_append(&q, "SELECT json_serialize_sql(");
    strbuf stmt = {0};
    sb_printf(&stmt, "SELECT 1 WHERE %s", filter);
    sb_append_sql_string(&q, sb_str(&stmt));
    sb_append(&q, ")");
    sb_free(&stmt);
    duckdb_result res;
    char *text = NULL;
    if (tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "filter", NULL) == 0) text = tarn__duck_text(&res, 0, 0);
    duckdb_destroy_result(&res);
    sb_free(&q);
    json_t *doc = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(text);
    if (!doc || json_is_true(json_object_get(doc, "error"))) {
        json_decref(doc);
        return 0;
    }
    json_t *where = json_object_get(json_object_get(json_array_get(json_object_get(doc, "statements"), 0), "node"),
                                    "where_clause");
    json_t *parts = json_array();
    if (jstr(where, "type") && !strcmp(jstr(where, "type"), "CONJUNCTION_AND"))
        json_array_extend(parts, json_object_get(where, "children"));
    else if (where)
        json_array_append(parts, where);
    conjunct *list = calloc(json_array_size(parts) + 1, sizeof *list);
    size_t n = 0, i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        const char *type = jstr(p, "type");
        if (!type) continue;
        conjunct c = {0};
        json_t *consts[64];
        size_t nc = 0;
        static const struct { const char *name; cmp_kind k, flipped; } cmps[] = {
            {"COMPARE_EQUAL", C_EQ, C_EQ},         {"COMPARE_LESSTHAN", C_LT, C_GT},
            {"COMPARE_LESSTHANOREQUALTO", C_LE, C_GE}, {"COMPARE_GREATERTHAN", C_GT, C_LT},
            {"COMPARE_GREATERTHANOREQUALTO", C_GE, C_LE}};
        for (size_t k = 0; k < sizeof cmps / sizeof *cmps; k++) {
            if (strcmp(type, cmps[k].name)) continue;
            json_t *l = json_object_get(p, "left"), *r = json_object_get(p, "right");
            if (column_of(l) && is_literal(r)) c.column = column_of(l), c.kind = cmps[k].k, consts[nc++] = r;
            else if (column_of(r) && is_literal(l)) c.column = column_of(r), c.kind = cmps[k].flipped, consts[nc++] = l;
        }
        if (!strcmp(type, "COMPARE_BETWEEN") && column_of(json_object_get(p, "input")) &&
            is_literal(json_object_get(p, "lower")) && is_literal(json_object_get(p, "upper"))) {
            c.column = column_of(json_object_get(p, "input"));
            c.kind = C_BETWEEN;
            consts[nc++] = json_object_get(p, "lower");
            consts[nc++] = json_object_get(p, "upper");
        }
        if (!strcmp(type, "COMPARE_IN")) {
            json_t *ch = json_object_get(p, "children");
            int ok = column_of(json_array_get(ch, 0)) != NULL && json_array_size(ch) - 1 <= 64;
            for (size_t k = 1; ok && k < json_array_size(ch); k++) ok = is_literal(json_array_get(ch, k));
            if (ok) {
                c.column = column_of(json_array_get(ch, 0));
                c.kind = C_IN;
                for (size_t k = 1; k < json_array_size(ch); k++) consts[nc++] = json_array_get(ch, k);
            }
        }
        if (!c.column || !(c.type = type_of(cols, ncols, c.column))) continue;
        c.consts = calloc(nc, sizeof *c.consts);
        int ok = 1;
        for (size_t k = 0; k < nc; k++) ok = ok && (c.consts[k] = const_sql(consts[k])) != NULL;
        c.nconst = nc;
        if (!ok) {
            for (size_t k = 0; k < nc; k++) free(c.consts[k]);
            free(c.consts);
            continue;
        }
        list[n++] = c;
    }
    json_decref(parts);
    *out = list;
    *doc_out = doc;
    return n;
}

/* "Some row of a file with these statistics may satisfy C" as SQL. */
static void file_test(strbuf *q, const conjunct *c, const char *min, const char *max)
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
    case C_EQ: sb_printf(q, "(%s) BETWEEN %s AND %s", c->consts[0], mn.s, mx.s); break;
    case C_LT: sb_printf(q, "%s < (%s)", mn.s, c->consts[0]); break;
    case C_LE: sb_printf(q, "%s <= (%s)", mn.s, c->consts[0]); break;
    case C_GT: sb_printf(q, "%s > (%s)", mx.s, c->consts[0]); break;
    case C_GE: sb_printf(q, "%s >= (%s)", mx.s, c->consts[0]); break;
    case C_BETWEEN: sb_printf(q, "%s >= (%s) AND %s <= (%s)", mx.s, c->consts[0], mn.s, c->consts[1]); break;
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

int tarn__scan_files(json_t **kept, size_t *total, tarn_lake *lake, tarn_duck *d,
                     const char *version_id, const char *filter, tarn_error *err)
{
    *kept = json_array();
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    *total = v.nfiles;
    tarn_column *cols = NULL;
    size_t ncols = 0, nconj = 0;
    conjunct *conj = NULL;
    json_t *doc = NULL;
    if (filter && *filter && v.nfiles > 0) {
        tarn__schema_parse(&cols, &ncols, v.schema_json);
        nconj = parse_conjuncts(&conj, d, filter, cols, ncols, &doc);
    }
    int rc = 0;
    if (nconj == 0) {
        for (size_t i = 0; i < v.nfiles; i++) json_array_append_new(*kept, json_string(v.files[i]));
        goto done;
    }
    /* One query tests every file: SELECT <file 0 may match>, <file 1 ...>. */
    strbuf q = {0};
    sb_append(&q, "SELECT ");
    tarn_data_file *records = calloc(v.nfiles, sizeof *records);
    rc = records ? TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), (const char *const *)v.files, v.nfiles, records, err)
                 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < v.nfiles && rc == 0; i++) {
        json_t *stats = json_loads(records[i].stats_json ? records[i].stats_json : "{}", 0, NULL);
        sb_append(&q, i ? ", (" : "(");
        int terms = 0;
        for (size_t k = 0; k < nconj; k++) {
            json_t *s = json_object_get(stats, conj[k].column);
            const char *mn = jstr(s, "min"), *mx = jstr(s, "max");
            if (!mn || !mx) continue;
            if (terms++) sb_append(&q, " AND ");
            file_test(&q, &conj[k], mn, mx);
        }
        if (!terms) sb_append(&q, "TRUE");
        sb_append(&q, ")::VARCHAR");
        json_decref(stats);
    }
    for (size_t i = 0; records && i < v.nfiles; i++) tarn__data_file_clear(&records[i]);
    free(records);
    duckdb_result res;
    if (rc == 0 && tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "file statistics", NULL) == 0) {
        for (size_t i = 0; i < v.nfiles; i++) {
            char *t = tarn__duck_text(&res, (idx_t)i, 0);
            if (!t || strcmp(t, "false") != 0) json_array_append_new(*kept, json_string(v.files[i]));
            free(t);
        }
    } else if (rc == 0) {
        /* Statistics that cannot be compared prove nothing: keep every file. */
        for (size_t i = 0; i < v.nfiles; i++) json_array_append_new(*kept, json_string(v.files[i]));
    }
    if (rc == 0) duckdb_destroy_result(&res);
    sb_free(&q);
done:
    for (size_t k = 0; k < nconj; k++) {
        for (size_t j = 0; j < conj[k].nconst; j++) free(conj[k].consts[j]);
        free(conj[k].consts);
    }
    free(conj);
    json_decref(doc);
    tarn__columns_free(cols, ncols);
    tarn__version_clear(&v);
    return rc;
}
