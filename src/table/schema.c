/* table/schema.c — table schemas as JSON, their differences, and which
 * type changes an append may make without changing a value. */
#include "table/schema.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tarn__schema_parse(tarn_column **out, size_t *n, const char *schema_json)
{
    *out = NULL;
    *n = 0;
    json_t *root = json_loads(schema_json, 0, NULL);
    if (!json_is_array(root)) {
        json_decref(root);
        return -1;
    }
    size_t count = json_array_size(root);
    tarn_column *cols = calloc(count ? count : 1, sizeof *cols);
    for (size_t i = 0; i < count; i++) {
        json_t *c = json_array_get(root, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        cols[i].name = strdup(name ? name : "");
        cols[i].type = strdup(type ? type : "");
    }
    json_decref(root);
    *out = cols;
    *n = count;
    return 0;
}

void tarn__columns_free(tarn_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

static char *folded(const char *name, int fold)
{
    char *k = strdup(name ? name : "");
    for (char *p = k; fold && *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return k;
}

json_t *tarn__columns_index(const tarn_column *cols, size_t n, int fold)
{
    json_t *index = json_object();
    for (size_t i = 0; i < n; i++) {
        char *k = folded(cols[i].name, fold);
        if (!json_object_get(index, k))
            json_object_set_new_nocheck(index, k, json_integer((json_int_t)i));
        free(k);
    }
    return index;
}

long tarn__columns_find(json_t *index, const char *name, int fold)
{
    char *k = folded(name, fold);
    json_t *v = json_object_get(index, k);
    free(k);
    return v ? (long)json_integer_value(v) : -1;
}

int tarn__schema_diff(strbuf *out, const char *a_json, const char *b_json)
{
    tarn_column *a, *b;
    size_t na, nb;
    tarn__schema_parse(&a, &na, a_json);
    tarn__schema_parse(&b, &nb, b_json);
    int diffs = 0;
    json_t *a_index = tarn__columns_index(a, na, 0), *b_index = tarn__columns_index(b, nb, 0);
    for (size_t i = 0; i < na; i++) {
        long k = tarn__columns_find(b_index, a[i].name, 0);
        const tarn_column *other = k >= 0 ? &b[k] : NULL;
        if (!other) {
            sb_printf(out, "%scolumn '%s' (%s) is missing from the new data", diffs++ ? "; " : "",
                      a[i].name, a[i].type);
        } else if (strcmp(other->type, a[i].type) != 0) {
            sb_printf(out, "%scolumn '%s' is %s in the table but %s in the new data",
                      diffs++ ? "; " : "", a[i].name, a[i].type, other->type);
        }
    }
    for (size_t i = 0; i < nb; i++)
        if (tarn__columns_find(a_index, b[i].name, 0) < 0)
            sb_printf(out, "%scolumn '%s' (%s) is not in the table", diffs++ ? "; " : "", b[i].name,
                      b[i].type);
    /* The same columns (field ids aside, which the schema JSON may carry),
     * but perhaps not in the same order. */
    for (size_t i = 0; !diffs && i < na && i < nb; i++) {
        if (strcmp(a[i].name, b[i].name) == 0) continue;
        sb_append(out, "the columns are in a different order");
        diffs++;
    }
    json_decref(a_index);
    json_decref(b_index);
    tarn__columns_free(a, na);
    tarn__columns_free(b, nb);
    return diffs;
}

/* ---- widening --------------------------------------------------------------------- */

/* Integer types: their rank (1 = 8 bits ... 5 = 128 bits), signedness and
 * the decimal digits their largest value has. */
static const struct {
    const char *name;
    int rank, is_signed, digits;
} integers[] = {
    {"TINYINT", 1, 1, 3},  {"SMALLINT", 2, 1, 5},  {"INTEGER", 3, 1, 10},  {"BIGINT", 4, 1, 19},
    {"HUGEINT", 5, 1, 39}, {"UTINYINT", 1, 0, 3},  {"USMALLINT", 2, 0, 5}, {"UINTEGER", 3, 0, 10},
    {"UBIGINT", 4, 0, 20}, {"UHUGEINT", 5, 0, 39},
};

static int integer(const char *t)
{
    for (size_t i = 0; i < sizeof integers / sizeof *integers; i++)
        if (!strcmp(integers[i].name, t)) return (int)i;
    return -1;
}

/* DECIMAL(P,S): 1 and P, S; 0 for another type. */
static int decimal(const char *t, int *p, int *s)
{
    return sscanf(t, "DECIMAL(%d,%d)", p, s) == 2;
}

/* Timestamps by resolution, coarsest first: each fits in the next. */
static int timestamp_rank(const char *t)
{
    static const char *ts[] = {"DATE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(ts[i], t)) return i + 1;
    return 0;
}

tarn_widen tarn__type_widen(const char *from, const char *to)
{
    if (!strcmp(from, to)) return TARN_WIDEN_SAME;
    /* A column DuckDB could not type because every value was NULL. */
    if (!strcmp(from, "NULL")) return TARN_WIDEN_CAST;
    int fi = integer(from), ti = integer(to), p, s, p2, s2;
    if (fi >= 0 && ti >= 0) {
        int fr = integers[fi].rank, tr = integers[ti].rank;
        if (integers[fi].is_signed == integers[ti].is_signed)
            return fr <= tr ? TARN_WIDEN_CAST : TARN_WIDEN_NO;
        return !integers[fi].is_signed && fr < tr ? TARN_WIDEN_CAST : TARN_WIDEN_NO;
    }
    if (fi >= 0 && (!strcmp(to, "DOUBLE") || !strcmp(to, "FLOAT"))) {
        /* A double holds integers up to 2^53 exactly, a float up to 2^24. */
        int exact_rank = !strcmp(to, "DOUBLE") ? 3 : 2;
        return integers[fi].rank <= exact_rank ? TARN_WIDEN_CAST : TARN_WIDEN_CHECKED;
    }
    if (fi >= 0 && decimal(to, &p, &s))
        return p - s >= integers[fi].digits ? TARN_WIDEN_CAST : TARN_WIDEN_NO;
    if (decimal(from, &p, &s) && decimal(to, &p2, &s2))
        return s2 >= s && p2 - s2 >= p - s ? TARN_WIDEN_CAST : TARN_WIDEN_NO;
    /* A decimal of up to 15 digits (6 for a float) gives the double nearest
     * to it, the one its text read as a DOUBLE gives, and back. */
    if (decimal(from, &p, &s) && !strcmp(to, "DOUBLE"))
        return p <= 15 ? TARN_WIDEN_CAST : TARN_WIDEN_CHECKED;
    if (decimal(from, &p, &s) && !strcmp(to, "FLOAT"))
        return p <= 6 ? TARN_WIDEN_CAST : TARN_WIDEN_CHECKED;
    if (!strcmp(from, "FLOAT") && !strcmp(to, "DOUBLE")) return TARN_WIDEN_CAST;
    int fts = timestamp_rank(from), tts = timestamp_rank(to);
    if (fts && tts) return fts < tts ? TARN_WIDEN_CAST : TARN_WIDEN_NO;
    return TARN_WIDEN_NO;
}

void tarn__widen_sql(strbuf *out, const char *name, const char *from, const char *to)
{
    tarn_widen w = tarn__type_widen(from, to);
    if (w == TARN_WIDEN_SAME) {
        sb_append_sql_ident(out, name);
        return;
    }
    strbuf col = {0}, cast = {0};
    sb_append_sql_ident(&col, name);
    sb_printf(&cast, "CAST(%s AS %s)", col.s, to);
    if (w == TARN_WIDEN_CHECKED) {
        /* Converting back must give the value again, or the append stops. */
        strbuf msg = {0};
        sb_printf(&msg, "column '%s': the value ", name);
        sb_printf(out, "CASE WHEN %s IS NULL OR TRY_CAST(%s AS %s) = %s THEN %s ELSE error(", col.s,
                  cast.s, from, col.s, cast.s);
        sb_append_sql_string(out, msg.s);
        sb_printf(out, " || CAST(%s AS VARCHAR) || ", col.s);
        sb_free(&msg);
        sb_printf(&msg, " cannot be held exactly by the table's %s column (the new data is %s)", to,
                  from);
        sb_append_sql_string(out, msg.s);
        sb_append(out, ") END");
        sb_free(&msg);
    } else {
        sb_append(out, cast.s);
    }
    sb_append(out, " AS ");
    sb_append(out, col.s);
    sb_free(&col);
    sb_free(&cast);
}
