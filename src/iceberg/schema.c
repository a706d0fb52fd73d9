/* iceberg/schema.c — table schemas as Iceberg sees them: DuckDB type names
 * parsed into trees, Iceberg field ids (kept in the table version's schema
 * JSON, or implied by column order for tables written before ids), the
 * Iceberg schema and name mapping of a version, and DuckDB's FIELD_IDS
 * option that writes the ids into new Parquet files.
 *
 * Ids of one column: its own, then one per nested field in walk order (see
 * ice_column). A column keeps its ids across versions while its name and
 * shape (its nested fields) stay; a new column takes ids above every id in
 * use, so ids never collide within a schema. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/iceberg.h"
#include "util/error.h"

/* ---- DuckDB type names ------------------------------------------------------ */

static void skip_space(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static int starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static ice_type *parse_type(const char **p);

static int add_child(ice_type *t, char *name, ice_type *child)
{
    char **names = realloc(t->names, (t->n + 1) * sizeof *names);
    if (names) t->names = names;
    ice_type **children = realloc(t->children, (t->n + 1) * sizeof *children);
    if (children) t->children = children;
    if (!names || !children || !child) {
        free(name);
        tarn__ice_type_free(child);
        return -1;
    }
    t->names[t->n] = name;
    t->children[t->n++] = child;
    return 0;
}

/* A struct field's name: "quoted" (with "" inside) or bare up to a space. */
static char *parse_name(const char **p)
{
    strbuf b = {0};
    skip_space(p);
    if (**p == '"') {
        (*p)++;
        while (**p && !(**p == '"' && (*p)[1] != '"')) {
            if (**p == '"') (*p)++;
            sb_appendn(&b, *p, 1);
            (*p)++;
        }
        if (**p != '"') {
            sb_free(&b);
            return NULL;
        }
        (*p)++;
    } else {
        while (**p && **p != ' ' && **p != ',' && **p != ')')
            sb_appendn(&b, (*p)++, 1);
    }
    if (!b.s) sb_append(&b, "");
    return b.s;
}

/* A leaf: up to a ',', ')' or '[' outside parentheses and quotes. */
static ice_type *parse_leaf(const char **p)
{
    const char *start = *p;
    int depth = 0, quoted = 0;
    for (; **p; (*p)++) {
        char c = **p;
        if (quoted) {
            if (c == '\'') quoted = 0;
        } else if (c == '\'') {
            quoted = 1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth == 0) break;
            depth--;
        } else if (depth == 0 && (c == ',' || c == '[')) {
            break;
        }
    }
    size_t len = (size_t)(*p - start);
    while (len && start[len - 1] == ' ')
        len--;
    if (len == 0 || depth || quoted) return NULL;
    ice_type *t = calloc(1, sizeof *t);
    if (t && !(t->leaf = strndup(start, len))) {
        free(t);
        t = NULL;
    }
    return t;
}

static ice_type *parse_base(const char **p)
{
    skip_space(p);
    ice_type *t = NULL;
    if (starts_with_ci(*p, "STRUCT(")) {
        *p += 7;
        if (!(t = calloc(1, sizeof *t))) return NULL;
        t->kind = ICE_STRUCT;
        for (;;) {
            char *name = parse_name(p);
            if (!name || add_child(t, name, parse_type(p)) < 0) goto bad;
            skip_space(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p != ')') goto bad;
            (*p)++;
            return t;
        }
    }
    if (starts_with_ci(*p, "MAP(")) {
        *p += 4;
        if (!(t = calloc(1, sizeof *t))) return NULL;
        t->kind = ICE_MAP;
        if (add_child(t, NULL, parse_type(p)) < 0) goto bad;
        skip_space(p);
        if (**p != ',') goto bad;
        (*p)++;
        if (add_child(t, NULL, parse_type(p)) < 0) goto bad;
        skip_space(p);
        if (**p != ')') goto bad;
        (*p)++;
        return t;
    }
    return parse_leaf(p);
bad:
    tarn__ice_type_free(t);
    return NULL;
}

static ice_type *parse_type(const char **p)
{
    ice_type *t = parse_base(p);
    /* T[] and T[N] (a fixed-size array reads back from Parquet as a list). */
    while (t && **p == '[') {
        const char *close = strchr(*p, ']');
        for (const char *q = *p + 1; close && q < close; q++)
            if (!isdigit((unsigned char)*q)) close = NULL;
        if (!close) {
            tarn__ice_type_free(t);
            return NULL;
        }
        int fixed = close > *p + 1;
        *p = close + 1;
        ice_type *list = calloc(1, sizeof *list);
        if (!list) {
            tarn__ice_type_free(t);
            return NULL;
        }
        list->kind = ICE_LIST;
        list->fixed = fixed;
        if (add_child(list, NULL, t) < 0) return NULL;
        t = list;
    }
    return t;
}

ice_type *tarn__ice_type_parse(const char *duck)
{
    if (!duck) return NULL;
    const char *p = duck;
    ice_type *t = parse_type(&p);
    skip_space(&p);
    if (t && *p) {
        tarn__ice_type_free(t);
        return NULL;
    }
    return t;
}

void tarn__ice_type_free(ice_type *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->names) free(t->names[i]);
        tarn__ice_type_free(t->children[i]);
    }
    free(t->names);
    free(t->children);
    free(t->leaf);
    free(t);
}

size_t tarn__ice_type_nested(const ice_type *t)
{
    size_t n = 0;
    for (size_t i = 0; t && i < t->n; i++)
        n += 1 + tarn__ice_type_nested(t->children[i]);
    return n;
}

static int has_fixed_array(const ice_type *t)
{
    if (t->kind == ICE_LIST && t->fixed) return 1;
    for (size_t i = 0; i < t->n; i++)
        if (has_fixed_array(t->children[i])) return 1;
    return 0;
}

size_t tarn__ice_type_depth(const ice_type *t)
{
    size_t deepest = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        size_t d = tarn__ice_type_depth(t->children[i]);
        if (d > deepest) deepest = d;
    }
    return t && t->n ? deepest + 1 : 0;
}

/* Same nested fields (names and nesting), leaf types aside: such a column
 * keeps its ids, since the Parquet DuckDB writes for it is laid out alike. */
static int same_shape(const ice_type *a, const ice_type *b)
{
    if (!a || !b || a->kind != b->kind || a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == ICE_STRUCT && strcmp(a->names[i], b->names[i]) != 0) return 0;
        if (!same_shape(a->children[i], b->children[i])) return 0;
    }
    return 1;
}

/* ---- schemas with ids ------------------------------------------------------------ */

void tarn__ice_schema_clear(ice_schema *s)
{
    for (size_t i = 0; s && i < s->n; i++) {
        free(s->cols[i].name);
        free(s->cols[i].type);
        free(s->cols[i].nested);
        tarn__ice_type_free(s->cols[i].t);
    }
    if (s) {
        free(s->cols);
        memset(s, 0, sizeof *s);
    }
}

/* Gives column C ids from *NEXT on: its own, then its nested fields'. */
static int fresh_ids(ice_column *c, int *next)
{
    c->id = (*next)++;
    c->nnested = tarn__ice_type_nested(c->t);
    free(c->nested);
    c->nested = calloc(c->nnested ? c->nnested : 1, sizeof *c->nested);
    if (!c->nested) return -1;
    for (size_t k = 0; k < c->nnested; k++)
        c->nested[k] = (*next)++;
    return 0;
}

static int column_last_id(const ice_column *c)
{
    int last = c->id;
    for (size_t k = 0; k < c->nnested; k++)
        if (c->nested[k] > last) last = c->nested[k];
    return last;
}

int tarn__ice_schema_load(ice_schema *out, const char *schema_json, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loads(schema_json ? schema_json : "", 0, NULL);
    int rc =
        json_is_array(root)
            ? 0
            : tarn__error_set(err, TARN_EIO, "a table schema in the catalog is not a JSON array");
    size_t n = json_array_size(root);
    if (rc == 0 && !(out->cols = calloc(n ? n : 1, sizeof *out->cols)))
        rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    int next = 1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *c = json_array_get(root, i);
        ice_column *col = &out->cols[out->n++];
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        col->name = strdup(name ? name : "");
        col->type = strdup(type ? type : "");
        col->t = tarn__ice_type_parse(type);
        if (!col->t) { /* unreadable: a leaf Iceberg will not export */
            col->t = calloc(1, sizeof *col->t);
            if (col->t) col->t->leaf = strdup(type ? type : "");
        }
        json_t *id = json_object_get(c, "id");
        if (i == 0) out->explicit_ids = json_is_integer(id);
        if (out->explicit_ids && json_is_integer(id)) {
            col->id = (int)json_integer_value(id);
            json_t *nested = json_object_get(c, "nested_ids");
            col->nnested = json_array_size(nested);
            col->nested = calloc(col->nnested ? col->nnested : 1, sizeof *col->nested);
            for (size_t k = 0; col->nested && k < col->nnested; k++)
                col->nested[k] = (int)json_integer_value(json_array_get(nested, k));
            if (col->nnested != tarn__ice_type_nested(col->t))
                rc = tarn__error_set(
                    err, TARN_EIO,
                    "column '%s' has %zu nested field ids for a type with %zu nested fields",
                    col->name, col->nnested, tarn__ice_type_nested(col->t));
        } else if (out->explicit_ids) {
            rc = tarn__error_set(err, TARN_EIO, "column '%s' has no field id while others have",
                                 col->name);
        } else if (fresh_ids(col, &next) < 0) {
            rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
        }
        if (rc == 0 && (!col->name || !col->type || !col->t || !col->nested))
            rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
        if (rc == 0 && column_last_id(col) > out->last_id) out->last_id = column_last_id(col);
    }
    json_decref(root);
    if (rc < 0) tarn__ice_schema_clear(out);
    return rc;
}

static json_t *schema_to_json(const ice_schema *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const ice_column *c = &s->cols[i];
        json_t *o = json_pack("{s:s,s:s,s:i}", "name", c->name, "type", c->type, "id", c->id);
        if (c->nnested) {
            json_t *nested = json_array();
            for (size_t k = 0; k < c->nnested; k++)
                json_array_append_new(nested, json_integer(c->nested[k]));
            json_object_set_new(o, "nested_ids", nested);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

char *tarn__ice_schema_assign(const char *new_json, const char *base_json)
{
    ice_schema now, base = {0};
    if (tarn__ice_schema_load(&now, new_json, NULL) < 0) return NULL;
    if (base_json && tarn__ice_schema_load(&base, base_json, NULL) < 0) {
        tarn__ice_schema_clear(&now);
        return NULL;
    }
    int next = base.last_id + 1, ok = 1;
    /* Kept ids first, so that new ones start above all of them. Base
     * columns by name: a table may have 10,000 of them. */
    char *kept = calloc(now.n ? now.n : 1, 1);
    json_t *by_name = json_object();
    for (size_t j = 0; j < base.n; j++)
        if (!json_object_get(by_name, base.cols[j].name))
            json_object_set_new(by_name, base.cols[j].name, json_integer((json_int_t)j));
    for (size_t i = 0; ok && kept && i < now.n; i++) {
        ice_column *c = &now.cols[i];
        json_t *at = json_object_get(by_name, c->name);
        const ice_column *b = at ? &base.cols[json_integer_value(at)] : NULL;
        if (!b || !same_shape(b->t, c->t)) continue;
        c->id = b->id;
        memcpy(c->nested, b->nested, c->nnested * sizeof *c->nested);
        kept[i] = 1;
    }
    json_decref(by_name);
    for (size_t i = 0; ok && kept && i < now.n; i++)
        if (!kept[i]) ok = fresh_ids(&now.cols[i], &next) == 0;
    char *out = ok && kept ? dump(schema_to_json(&now)) : NULL;
    free(kept);
    tarn__ice_schema_clear(&now);
    tarn__ice_schema_clear(&base);
    return out;
}

char *tarn__ice_schema_merge_ids(const char *types_json, const char *ids_json)
{
    ice_schema types, ids;
    if (tarn__ice_schema_load(&types, types_json, NULL) < 0) return NULL;
    if (tarn__ice_schema_load(&ids, ids_json, NULL) < 0) {
        tarn__ice_schema_clear(&types);
        return NULL;
    }
    int ok = types.n == ids.n;
    for (size_t i = 0; ok && i < types.n; i++) {
        ice_column *c = &types.cols[i];
        ok = !strcmp(c->name, ids.cols[i].name) && c->nnested == ids.cols[i].nnested;
        if (!ok) break;
        c->id = ids.cols[i].id;
        memcpy(c->nested, ids.cols[i].nested, c->nnested * sizeof *c->nested);
    }
    char *out = ok ? dump(schema_to_json(&types)) : NULL;
    tarn__ice_schema_clear(&types);
    tarn__ice_schema_clear(&ids);
    return out;
}

int tarn__ice_schema_same_ids(const char *a_json, const char *b_json)
{
    ice_schema a, b;
    if (tarn__ice_schema_load(&a, a_json, NULL) < 0) return 0;
    if (tarn__ice_schema_load(&b, b_json, NULL) < 0) {
        tarn__ice_schema_clear(&a);
        return 0;
    }
    int same = a.n == b.n;
    for (size_t i = 0; same && i < a.n; i++)
        same = a.cols[i].id == b.cols[i].id && a.cols[i].nnested == b.cols[i].nnested &&
               !memcmp(a.cols[i].nested, b.cols[i].nested, a.cols[i].nnested * sizeof(int));
    tarn__ice_schema_clear(&a);
    tarn__ice_schema_clear(&b);
    return same;
}

/* ---- FIELD_IDS ------------------------------------------------------------------ */

/* The ids of type T from IDS[*k] on, as DuckDB's FIELD_IDS value: a number
 * for a leaf, {__duckdb_field_id: N, child: ...} for a nested type. */
static void field_ids_value(strbuf *out, int id, const ice_type *t, const int *ids, size_t *k)
{
    if (t->kind == ICE_LEAF) {
        sb_printf(out, "%d", id);
        return;
    }
    sb_printf(out, "{__duckdb_field_id: %d", id);
    /* Ids are handed out before the walk goes deeper (see ice_column). */
    size_t first = *k;
    *k += t->n;
    for (size_t i = 0; i < t->n; i++) {
        sb_append(out, ", ");
        const char *name = t->kind == ICE_STRUCT ? t->names[i]
                           : t->kind == ICE_LIST ? "element"
                           : i == 0              ? "key"
                                                 : "value";
        sb_append_sql_string(out, name);
        sb_append(out, ": ");
        field_ids_value(out, ids[first + i], t->children[i], ids, k);
    }
    sb_append(out, "}");
}

int tarn__ice_field_ids_sql(strbuf *out, const ice_schema *s)
{
    /* DuckDB parses FIELD_IDS as one expression, at most 1,000 deep: a
     * file of deeper columns goes without ids (the name mapping reads it). */
    for (size_t i = 0; i < s->n; i++)
        if (tarn__ice_type_depth(s->cols[i].t) > ICE_FIELD_IDS_MAX_DEPTH ||
            has_fixed_array(s->cols[i].t))
            return 0;
    sb_append(out, "FIELD_IDS {");
    for (size_t i = 0; i < s->n; i++) {
        if (i) sb_append(out, ", ");
        sb_append_sql_string(out, s->cols[i].name);
        sb_append(out, ": ");
        size_t k = 0;
        field_ids_value(out, s->cols[i].id, s->cols[i].t, s->cols[i].nested, &k);
    }
    sb_append(out, "}");
    return 1;
}

/* ---- Iceberg types -------------------------------------------------------------- */

const char *tarn__ice_leaf_type(char *buf, size_t size, const char *duck)
{
    static const struct {
        const char *duck, *ice;
    } map[] = {
        {"BOOLEAN", "boolean"},
        /* Narrow and small unsigned integers are INT32 in Parquet: exact. */
        {"TINYINT", "int"},
        {"SMALLINT", "int"},
        {"INTEGER", "int"},
        {"UTINYINT", "int"},
        {"USMALLINT", "int"},
        {"BIGINT", "long"},
        {"FLOAT", "float"},
        {"DOUBLE", "double"},
        {"VARCHAR", "string"},
        {"JSON", "string"},
        {"BLOB", "binary"},
        {"DATE", "date"},
        {"TIME", "time"},
        {"TIMESTAMP", "timestamp"},
        {"TIMESTAMP_MS", "timestamp"},
        {"TIMESTAMP_S", "timestamp"},
        {"TIMESTAMP WITH TIME ZONE", "timestamptz"},
        {"UUID", "uuid"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(duck, map[i].duck)) return map[i].ice;
    int p, s;
    char end;
    if (sscanf(duck, "DECIMAL(%d,%d%c", &p, &s, &end) == 3 && end == ')' && p >= 1 && p <= 38 &&
        s >= 0 && s <= p) {
        snprintf(buf, size, "decimal(%d,%d)", p, s);
        return buf;
    }
    if (!strncmp(duck, "ENUM(", 5)) return "string";
    return NULL;
}

/* The Iceberg type of T with ids from IDS[*k] on; NULL if a part has none. */
static json_t *ice_type_json(const ice_type *t, const int *ids, size_t *k)
{
    char buf[48];
    if (t->kind == ICE_LEAF) {
        const char *ice = tarn__ice_leaf_type(buf, sizeof buf, t->leaf);
        return ice ? json_string(ice) : NULL;
    }
    size_t first = *k;
    *k += t->n;
    json_t *kids[64], **children = t->n <= 64 ? kids : calloc(t->n, sizeof *children);
    int ok = children != NULL;
    for (size_t i = 0; ok && i < t->n; i++)
        ok = (children[i] = ice_type_json(t->children[i], ids, k)) != NULL;
    json_t *out = NULL;
    if (ok && t->kind == ICE_STRUCT) {
        json_t *fields = json_array();
        for (size_t i = 0; i < t->n; i++)
            json_array_append_new(fields,
                                  json_pack("{s:i,s:s,s:b,s:o}", "id", ids[first + i], "name",
                                            t->names[i], "required", 0, "type", children[i]));
        out = json_pack("{s:s,s:o}", "type", "struct", "fields", fields);
    } else if (ok && t->kind == ICE_LIST) {
        out = json_pack("{s:s,s:i,s:o,s:b}", "type", "list", "element-id", ids[first], "element",
                        children[0], "element-required", 0);
    } else if (ok) {
        out = json_pack("{s:s,s:i,s:o,s:i,s:o,s:b}", "type", "map", "key-id", ids[first], "key",
                        children[0], "value-id", ids[first + 1], "value", children[1],
                        "value-required", 0);
    } else {
        for (size_t i = 0; children && i < t->n && children[i]; i++)
            json_decref(children[i]);
    }
    if (children != kids) free(children);
    return out;
}

json_t *tarn__ice_schema_json(const ice_schema *s, char **skipped)
{
    strbuf left = {0};
    json_t *fields = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const ice_column *c = &s->cols[i];
        size_t k = 0;
        json_t *type = ice_type_json(c->t, c->nested, &k);
        if (!type) {
            sb_printf(&left, "%s%s (%s)", left.len ? ", " : "", c->name, c->type);
            continue;
        }
        json_array_append_new(fields, json_pack("{s:i,s:s,s:b,s:o}", "id", c->id, "name", c->name,
                                                "required", 0, "type", type));
    }
    if (skipped)
        *skipped = left.s;
    else
        sb_free(&left);
    return json_pack("{s:s,s:i,s:o}", "type", "struct", "schema-id", 0, "fields", fields);
}

static json_t *mapping_of(const ice_type *t, const int *ids, size_t *k)
{
    json_t *fields = json_array();
    size_t first = *k;
    *k += t->n;
    for (size_t i = 0; i < t->n; i++) {
        const char *name = t->kind == ICE_STRUCT ? t->names[i]
                           : t->kind == ICE_LIST ? "element"
                           : i == 0              ? "key"
                                                 : "value";
        json_t *m = json_pack("{s:i,s:[s]}", "field-id", ids[first + i], "names", name);
        if (t->children[i]->kind != ICE_LEAF)
            json_object_set_new(m, "fields", mapping_of(t->children[i], ids, k));
        json_array_append_new(fields, m);
    }
    return fields;
}

json_t *tarn__ice_name_mapping(const ice_schema *s)
{
    json_t *out = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const ice_column *c = &s->cols[i];
        json_t *m = json_pack("{s:i,s:[s]}", "field-id", c->id, "names", c->name);
        size_t k = 0;
        if (c->t->kind != ICE_LEAF)
            json_object_set_new(m, "fields", mapping_of(c->t, c->nested, &k));
        json_array_append_new(out, m);
    }
    return out;
}

/* ---- Iceberg types as DuckDB's (external tables) ------------------------------- */

static void append_duck_name(strbuf *b, const char *name)
{
    sb_append(b, "\"");
    for (const char *p = name; *p; p++)
        sb_append(b, *p == '"' ? "\"\"" : (char[]){*p, 0});
    sb_append(b, "\"");
}

char *tarn__ice_duck_type(const json_t *t)
{
    static const struct {
        const char *ice, *duck;
    } map[] = {
        {"boolean", "BOOLEAN"},
        {"int", "INTEGER"},
        {"long", "BIGINT"},
        {"float", "FLOAT"},
        {"double", "DOUBLE"},
        {"date", "DATE"},
        {"time", "TIME"},
        {"timestamp", "TIMESTAMP"},
        {"timestamptz", "TIMESTAMP WITH TIME ZONE"},
        {"string", "VARCHAR"},
        {"uuid", "UUID"},
        {"binary", "BLOB"},
    };
    if (json_is_string(t)) {
        const char *s = json_string_value(t);
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcmp(s, map[i].ice)) return strdup(map[i].duck);
        int p, sc, len;
        if (sscanf(s, "decimal(%d, %d)", &p, &sc) == 2 ||
            sscanf(s, "decimal(%d,%d)", &p, &sc) == 2) {
            char buf[48];
            snprintf(buf, sizeof buf, "DECIMAL(%d,%d)", p, sc);
            return strdup(buf);
        }
        if (sscanf(s, "fixed[%d]", &len) == 1) return strdup("BLOB");
        return NULL;
    }
    const char *kind = json_string_value(json_object_get(t, "type"));
    strbuf b = {0};
    char *a = NULL, *v = NULL;
    int ok = kind != NULL;
    if (ok && !strcmp(kind, "struct")) {
        sb_append(&b, "STRUCT(");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f)
        {
            char *ft = tarn__ice_duck_type(json_object_get(f, "type"));
            const char *fn = json_string_value(json_object_get(f, "name"));
            if (!ft || !fn)
                ok = 0;
            else {
                if (i) sb_append(&b, ", ");
                append_duck_name(&b, fn);
                sb_printf(&b, " %s", ft);
            }
            free(ft);
        }
        sb_append(&b, ")");
    } else if (ok && !strcmp(kind, "list")) {
        ok = (a = tarn__ice_duck_type(json_object_get(t, "element"))) != NULL;
        if (ok) sb_printf(&b, "%s[]", a);
    } else if (ok && !strcmp(kind, "map")) {
        a = tarn__ice_duck_type(json_object_get(t, "key"));
        v = tarn__ice_duck_type(json_object_get(t, "value"));
        ok = a && v;
        if (ok) sb_printf(&b, "MAP(%s, %s)", a, v);
    } else {
        ok = 0;
    }
    free(a);
    free(v);
    if (!ok) {
        sb_free(&b);
        return NULL;
    }
    return b.s;
}
