/* iceberg_test.c — tables as Iceberg: DuckDB type names, field ids that a
 * column keeps across versions, FIELD_IDS for new files, statistics as
 * Iceberg bounds, Avro files read back, the REST catalog's routes on a
 * real lakehouse (refs as prefixes, rights, errors in the spec's shape,
 * metadata written once then found), and gc keeping the metadata of live
 * versions only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iceberg/iceberg.h"
#include "lake/lake.h"
#include "sql/engine.h"
#include "tarn/tarn.h"
#include "testlib.h"

static void type_names(void)
{
    ice_type *t = tarn__ice_type_parse(
        "STRUCT(a INTEGER, \"b \"\"c\" VARCHAR[], m MAP(VARCHAR, DECIMAL(10,2)[]))[]");
    REQUIRE(t);
    CHECK_EQ_INT(t->kind, ICE_LIST);
    ice_type *s = t->children[0];
    CHECK_EQ_INT(s->kind, ICE_STRUCT);
    REQUIRE(s->n == 3);
    CHECK_EQ_STR(s->names[1], "b \"c");
    CHECK_EQ_INT(s->children[1]->kind, ICE_LIST);
    CHECK_EQ_STR(s->children[1]->children[0]->leaf, "VARCHAR");
    CHECK_EQ_INT(s->children[2]->kind, ICE_MAP);
    CHECK_EQ_STR(s->children[2]->children[1]->children[0]->leaf, "DECIMAL(10,2)");
    /* element, a, b, b's element, m, m's key, value, value's element */
    CHECK_EQ_INT(tarn__ice_type_nested(t), 8);
    tarn__ice_type_free(t);
    t = tarn__ice_type_parse("TIMESTAMP WITH TIME ZONE");
    REQUIRE(t);
    CHECK_EQ_STR(t->leaf, "TIMESTAMP WITH TIME ZONE");
    tarn__ice_type_free(t);
    CHECK(tarn__ice_type_parse("STRUCT(a INTEGER") == NULL);
    CHECK(tarn__ice_type_parse("INTEGER[x]") == NULL);
    char buf[48];
    CHECK_EQ_STR(tarn__ice_leaf_type(buf, sizeof buf, "DECIMAL(38,4)"), "decimal(38,4)");
    CHECK_EQ_STR(tarn__ice_leaf_type(buf, sizeof buf, "USMALLINT"), "int");
    CHECK(tarn__ice_leaf_type(buf, sizeof buf, "UINTEGER") == NULL); /* INT32 bits read as signed */
    CHECK(tarn__ice_leaf_type(buf, sizeof buf, "TIMESTAMP_NS") == NULL);
    CHECK(tarn__ice_leaf_type(buf, sizeof buf, "INTERVAL") == NULL);
}

static int id_of(const char *schema_json, const char *name)
{
    ice_schema s;
    if (tarn__ice_schema_load(&s, schema_json, NULL) < 0) return -1;
    int id = -1;
    for (size_t i = 0; i < s.n; i++)
        if (!strcmp(s.cols[i].name, name)) id = s.cols[i].id;
    tarn__ice_schema_clear(&s);
    return id;
}

static void field_ids(void)
{
    const char *v1 = "[{\"name\":\"a\",\"type\":\"BIGINT\"},{\"name\":\"s\",\"type\":\"STRUCT(x "
                     "INTEGER, y VARCHAR)\"},"
                     "{\"name\":\"c\",\"type\":\"VARCHAR\"}]";
    char *first = tarn__ice_schema_assign(v1, "[]");
    REQUIRE(first);
    CHECK(strstr(first, "\"name\":\"a\",\"type\":\"BIGINT\",\"id\":1}") != NULL);
    CHECK(strstr(first, "\"id\":2,\"nested_ids\":[3,4]") != NULL);
    CHECK_EQ_INT(id_of(first, "c"), 5);
    /* Without ids the same are implied, so tables written before ids have
     * them too (and their files are read through the name mapping). */
    CHECK(tarn__ice_schema_same_ids(first, v1));
    /* A replace that drops a, reorders, changes s's shape and adds d: c
     * keeps 5; s and d get ids above every id in use. */
    const char *v2 =
        "[{\"name\":\"c\",\"type\":\"VARCHAR\"},{\"name\":\"s\",\"type\":\"STRUCT(x INTEGER)\"},"
        "{\"name\":\"d\",\"type\":\"DATE\"}]";
    char *second = tarn__ice_schema_assign(v2, first);
    REQUIRE(second);
    CHECK_EQ_INT(id_of(second, "c"), 5);
    CHECK_EQ_INT(id_of(second, "s"), 6);
    CHECK(strstr(second, "\"id\":6,\"nested_ids\":[7]") != NULL);
    CHECK_EQ_INT(id_of(second, "d"), 8);
    CHECK(!tarn__ice_schema_same_ids(first, second));
    /* The same type but a narrower leaf keeps its id (the Parquet layout is
     * alike): INTEGER replaced by BIGINT. */
    char *third = tarn__ice_schema_assign("[{\"name\":\"c\",\"type\":\"BIGINT\"}]", second);
    CHECK_EQ_INT(id_of(third, "c"), 5);
    /* Ids come back onto the types as written. */
    char *merged = tarn__ice_schema_merge_ids("[{\"name\":\"c\",\"type\":\"DOUBLE\"}]", third);
    CHECK(merged && strstr(merged, "\"type\":\"DOUBLE\",\"id\":5"));
    CHECK(tarn__ice_schema_merge_ids("[{\"name\":\"z\",\"type\":\"DOUBLE\"}]", third) == NULL);
    ice_schema s;
    REQUIRE(tarn__ice_schema_load(&s, first, NULL) == 0);
    strbuf sql = {0};
    tarn__ice_field_ids_sql(&sql, &s);
    CHECK_EQ_STR(sql.s, "FIELD_IDS {'a': 1, 's': {__duckdb_field_id: 2, 'x': 3, 'y': 4}, 'c': 5}");
    json_t *mapping = tarn__ice_name_mapping(&s);
    char *m = json_dumps(mapping, JSON_COMPACT);
    CHECK(strstr(
              m,
              "{\"field-id\":2,\"names\":[\"s\"],\"fields\":[{\"field-id\":3,\"names\":[\"x\"]}") !=
          NULL);
    free(m);
    json_decref(mapping);
    sb_free(&sql);
    tarn__ice_schema_clear(&s);
    /* A list inside a map: each nested field in walk order. */
    char *nested =
        tarn__ice_schema_assign("[{\"name\":\"m\",\"type\":\"MAP(VARCHAR, INTEGER[])\"}]", "[]");
    REQUIRE(tarn__ice_schema_load(&s, nested, NULL) == 0);
    tarn__ice_field_ids_sql(&sql, &s);
    CHECK_EQ_STR(sql.s, "FIELD_IDS {'m': {__duckdb_field_id: 1, 'key': 2, 'value': "
                        "{__duckdb_field_id: 3, 'element': 4}}}");
    char *skipped = NULL;
    json_t *ice = tarn__ice_schema_json(&s, &skipped);
    char *text = json_dumps(ice, JSON_COMPACT);
    CHECK(strstr(
              text,
              "\"type\":{\"type\":\"map\",\"key-id\":2,\"key\":\"string\",\"value-id\":3,\"value\":"
              "{\"type\":\"list\",\"element-id\":4,\"element\":\"int\"") != NULL);
    CHECK(skipped == NULL);
    free(text);
    json_decref(ice);
    tarn__ice_schema_clear(&s);
    sb_free(&sql);
    /* DuckDB takes no id for a fixed-size array's element: such a file is
     * written without ids (read through the name mapping), as is one whose
     * columns nest deeper than DuckDB parses the option. */
    REQUIRE(tarn__ice_schema_load(&s, "[{\"name\":\"e\",\"type\":\"FLOAT[3]\"}]", NULL) == 0);
    CHECK_EQ_INT(tarn__ice_field_ids_sql(&sql, &s), 0);
    CHECK_EQ_INT(sql.len, 0);
    tarn__ice_schema_clear(&s);
    strbuf deep = {0};
    sb_append(&deep, "[{\"name\":\"d\",\"type\":\"");
    for (int i = 0; i <= ICE_FIELD_IDS_MAX_DEPTH; i++)
        sb_append(&deep, "STRUCT(a ");
    sb_append(&deep, "INTEGER");
    for (int i = 0; i <= ICE_FIELD_IDS_MAX_DEPTH; i++)
        sb_append(&deep, ")");
    sb_append(&deep, "\"}]");
    REQUIRE(tarn__ice_schema_load(&s, deep.s, NULL) == 0);
    CHECK_EQ_INT(tarn__ice_field_ids_sql(&sql, &s), 0);
    tarn__ice_schema_clear(&s);
    sb_free(&deep);
    /* A column Iceberg cannot hold is left out and named. */
    REQUIRE(tarn__ice_schema_load(
                &s,
                "[{\"name\":\"ok\",\"type\":\"INTEGER\"},{\"name\":\"u\",\"type\":\"UBIGINT\"}]",
                NULL) == 0);
    ice = tarn__ice_schema_json(&s, &skipped);
    CHECK_EQ_INT(json_array_size(json_object_get(ice, "fields")), 1);
    CHECK_EQ_STR(skipped, "u (UBIGINT)");
    free(skipped);
    json_decref(ice);
    tarn__ice_schema_clear(&s);
    free(nested);
    free(first);
    free(second);
    free(third);
    free(merged);
}

static int bound_is(const char *ice, const char *text, const char *hex)
{
    strbuf b = {0};
    int rc = tarn__ice_bound(&b, ice, text);
    char got[200] = "";
    for (size_t i = 0; rc == 0 && i < b.len && i < 90; i++)
        snprintf(got + 2 * i, 3, "%02x", (unsigned char)b.s[i]);
    sb_free(&b);
    if (!hex) return rc < 0;
    if (rc < 0 || strcmp(got, hex) != 0)
        fprintf(stderr, "  %s %s: %s, expected %s\n", ice, text, got, hex);
    return rc == 0 && strcmp(got, hex) == 0;
}

/* A wide table: 4,000 columns, reversed, the first dropped and one added.
 * Every kept column keeps its id; the new one gets the next free id. */
static void wide_table_ids(void)
{
    enum { N = 4000 };
    strbuf a = {0}, b = {0};
    sb_append(&a, "[");
    for (int i = 0; i < N; i++)
        sb_printf(&a, "%s{\"name\":\"c%d\",\"type\":\"INTEGER\"}", i ? "," : "", i);
    sb_append(&a, "]");
    sb_append(&b, "[{\"name\":\"new\",\"type\":\"DATE\"}");
    for (int i = N - 1; i >= 1; i--)
        sb_printf(&b, ",{\"name\":\"c%d\",\"type\":\"INTEGER\"}", i);
    sb_append(&b, "]");
    char *first = tarn__ice_schema_assign(a.s, "[]");
    REQUIRE(first);
    char *second = tarn__ice_schema_assign(b.s, first);
    REQUIRE(second);
    ice_schema s;
    REQUIRE(tarn__ice_schema_load(&s, second, NULL) == 0);
    REQUIRE(s.n == N);
    CHECK_EQ_STR(s.cols[0].name, "new");
    CHECK_EQ_INT(s.cols[0].id, N + 1);
    int wrong = 0;
    for (size_t i = 1; i < s.n; i++)
        if (s.cols[i].id != atoi(s.cols[i].name + 1) + 1) wrong++;
    CHECK_EQ_INT(wrong, 0);
    tarn__ice_schema_clear(&s);
    free(first);
    free(second);
    sb_free(&a);
    sb_free(&b);
}

static void bounds(void)
{
    CHECK(bound_is("int", "-2", "feffffff"));
    CHECK(bound_is("long", "258", "0201000000000000"));
    CHECK(bound_is("double", "1.5", "000000000000f83f"));
    CHECK(bound_is("float", "-2", "000000c0"));
    CHECK(bound_is("boolean", "true", "01"));
    CHECK(bound_is("string", "abc", "616263"));
    /* decimals: the unscaled value, big-endian, in the fewest bytes */
    CHECK(bound_is("decimal(10,2)", "1.5", "0096"));
    CHECK(bound_is("decimal(10,2)", "-1.28", "80"));
    CHECK(bound_is("decimal(10,2)", "-1.29", "ff7f"));
    CHECK(bound_is("decimal(38,0)", "100000000000000000000", "056bc75e2d63100000"));
    CHECK(bound_is("date", "1970-01-02", "01000000"));
    CHECK(bound_is("date", "1969-12-31", "ffffffff"));
    CHECK(bound_is("date", "2024-03-01", "474d0000"));
    CHECK(bound_is("time", "00:00:01.5", "60e3160000000000"));
    CHECK(bound_is("timestamp", "1970-01-01 00:00:01", "40420f0000000000"));
    CHECK(bound_is("timestamptz", "1970-01-01 01:00:01+01", "40420f0000000000"));
    CHECK(bound_is("uuid", "00112233-4455-6677-8899-aabbccddeeff",
                   "00112233445566778899aabbccddeeff"));
    /* no bound rather than a wrong one */
    CHECK(bound_is("double", "nan", NULL));
    CHECK(bound_is("decimal(10,2)", "1.505", NULL));
    CHECK(bound_is("int", "3000000000", NULL));
    CHECK(bound_is("timestamp", "2024-01-01 10:00:00.1234567", NULL));
    CHECK(bound_is("date", "0044-03-15 (BC)", NULL));
    CHECK(bound_is("binary", "\\x00", NULL));
}

static void avro_files(void)
{
    const char *dir = test_tmpdir("iceberg_avro");
    const char *schema = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":"
                         "\"long\",\"field-id\":7},"
                         "{\"name\":\"b\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
    const char *meta[] = {"format-version", "2"};
    char path[4200], again[4200];
    snprintf(path, sizeof path, "%s/one.avro", dir);
    snprintf(again, sizeof again, "%s/two.avro", dir);
    for (int round = 0; round < 2; round++) {
        ice_avro *a = NULL;
        tarn_error err = TARN_ERROR_INIT;
        REQUIRE(tarn__ice_avro_new(&a, schema, meta, 1, &err) == 0);
        for (int i = 0; i < 3; i++) {
            avro_value_t *v = tarn__ice_avro_value(a), f, b;
            avro_value_get_by_name(v, "a", &f, NULL);
            avro_value_set_long(&f, 1000 * i - 1);
            avro_value_get_by_name(v, "b", &f, NULL);
            avro_value_set_branch(&f, i == 1 ? 0 : 1, &b);
            if (i == 1)
                avro_value_set_null(&b);
            else
                avro_value_set_string(&b, "x");
            REQUIRE(tarn__ice_avro_append(a, &err) == 0);
        }
        int64_t size = 0;
        REQUIRE(tarn__ice_avro_write(a, round ? again : path, &size, &err) == 0);
        CHECK(size > 0);
        tarn__ice_avro_free(&a);
    }
    /* equal content, equal bytes (the sync marker is not random) */
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    REQUIRE(tarn__read_file(&x, &nx, path) == 0 && tarn__read_file(&y, &ny, again) == 0);
    CHECK(nx == ny && memcmp(x, y, nx) == 0);
    CHECK(memmem(x, nx, "\"field-id\":7", 12) != NULL); /* the schema as written */
    free(x);
    free(y);
    json_t *records = NULL;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__ice_avro_read(&records, path, &err) == 0);
    char *text = json_dumps(records, JSON_COMPACT);
    CHECK_EQ_STR(text, "[{\"a\":-1,\"b\":\"x\"},{\"a\":999,\"b\":null},{\"a\":1999,\"b\":\"x\"}]");
    free(text);
    json_decref(records);
    snprintf(path, sizeof path, "%s/not.avro", dir);
    FILE *f = fopen(path, "w");
    fputs("no", f);
    fclose(f);
    CHECK_EQ_INT(tarn__ice_avro_read(&records, path, &err), TARN_EINVALID);
}

/* ---- the REST catalog -------------------------------------------------------------- */

typedef struct caller {
    const char *readable; /* a ref it may read, or "*" */
    const char *warehouse;
} caller;

static const char *caller_arg(void *ctx, const char *name)
{
    caller *c = ctx;
    return !strcmp(name, "warehouse") ? c->warehouse : NULL;
}

static int caller_may_read(void *ctx, const char *ref)
{
    caller *c = ctx;
    return !strcmp(c->readable, "*") || !strcmp(c->readable, ref);
}

static json_t *rest(tarn_lake *lake, caller *who, const char *method, const char *path, int *status)
{
    tarn_iceberg_request req = {
        TARN_ICEBERG_REQUEST_VERSION, method,          path, caller_arg, NULL, 0,
        "http://127.0.0.1:1/iceberg", caller_may_read, NULL, who, NULL};
    tarn_iceberg_response res;
    int rc = tarn_iceberg_rest_handle(&res, lake, &req);
    *status = res.status;
    json_t *body = rc == 0 && res.body ? json_loads(res.body, 0, NULL) : NULL;
    if (res.file) body = json_pack("{s:s}", "file", res.file);
    tarn_iceberg_response_clear(&res);
    return body;
}

static tarn_lake *fresh_lake(const char *name, char *dir_out)
{
    const char *dir = test_tmpdir(name);
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_lake_init(dir, &err) != 0) return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, path, &err) != 0) return NULL;
    snprintf(dir_out, 4096, "%s", dir);
    return lake;
}

static int import_csv(tarn_lake *lake, const char *dir, const char *table, const char *csv,
                      tarn_import_mode mode, const char *branch)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/in.csv", dir);
    FILE *f = fopen(path, "w");
    fputs(csv, f);
    fclose(f);
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.mode = mode;
    tarn_import_result r;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_import(&r, lake, table, path, branch, &o, &err);
    if (rc) fprintf(stderr, "  import: %s\n", err.message);
    return rc;
}

static int count_objects(const char *key, int64_t size, int64_t mtime_s, void *ctx)
{
    (void)size;
    (void)mtime_s;
    if (!strncmp(key, "iceberg/", 8)) (*(int *)ctx)++;
    return 0;
}

static int iceberg_objects(tarn_lake *lake)
{
    int n = 0;
    lake->store->vt->list(lake->store, count_objects, &n, NULL);
    return n;
}

static void rest_catalog(void)
{
    char dir[4096];
    tarn_lake *lake = fresh_lake("iceberg_rest", dir);
    REQUIRE(lake);
    REQUIRE(import_csv(lake, dir, "t", "id,name\n1,a\n2,b\n", TARN_IMPORT_CREATE, NULL) == 0);
    REQUIRE(import_csv(lake, dir, "sales.orders", "n\n7\n", TARN_IMPORT_CREATE, NULL) == 0);
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    REQUIRE(tarn_branch_create(&id, lake, "feature/x", "main", &err) == 0);
    REQUIRE(import_csv(lake, dir, "t", "id,name\n3,c\n", TARN_IMPORT_APPEND, "feature/x") == 0);
    caller all = {"*", NULL};
    int status;

    json_t *j = rest(lake, &all, "GET", "/v1/config", &status);
    CHECK_EQ_INT(status, 200);
    CHECK(json_object_size(json_object_get(j, "overrides")) == 0);
    json_decref(j);
    caller wh = {"*", "feature/x"};
    j = rest(lake, &wh, "GET", "/v1/config", &status);
    CHECK_EQ_INT(status, 200);
    const char *prefix =
        json_string_value(json_object_get(json_object_get(j, "overrides"), "prefix"));
    REQUIRE(prefix && !strncmp(prefix, "b64.", 4) && !strchr(prefix, '/'));
    char path[512];
    snprintf(path, sizeof path, "/v1/%s/namespaces/default/tables/t", prefix);
    json_decref(j);
    j = rest(lake, &all, "GET", path, &status);
    CHECK_EQ_INT(status, 200);
    json_t *md = json_object_get(j, "metadata");
    json_t *snap = json_array_get(json_object_get(md, "snapshots"), 0);
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(snap, "summary"), "total-records")), "3");
    CHECK(json_integer_value(json_object_get(md, "current-snapshot-id")) < ((json_int_t)1 << 53));
    CHECK_EQ_INT(json_object_size(json_object_get(md, "refs")), 1);
    const char *loc = json_string_value(json_object_get(j, "metadata-location"));
    CHECK(loc && !strncmp(loc, "http://127.0.0.1:1/iceberg/files/iceberg/", 41));
    char *first_location = loc ? strdup(loc) : NULL;
    json_decref(j);
    /* the same through /REF/v1/ (Bauplan's form), the metadata found again */
    int before = iceberg_objects(lake);
    CHECK(before > 0);
    j = rest(lake, &all, "GET", "/feature/x/v1/namespaces/default/tables/t", &status);
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "metadata-location")), first_location);
    CHECK_EQ_INT(iceberg_objects(lake), before);
    json_decref(j);
    /* main has 2 rows; a plain prefix is the ref itself */
    wh.warehouse = "main";
    j = rest(lake, &wh, "GET", "/v1/config", &status);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "overrides"), "prefix")),
                 "main");
    json_decref(j);
    j = rest(lake, &all, "GET", "/v1/main/namespaces/default/tables/t", &status);
    snap = json_array_get(json_object_get(json_object_get(j, "metadata"), "snapshots"), 0);
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(snap, "summary"), "total-records")), "2");
    json_decref(j);
    /* the files route serves what the metadata names */
    REQUIRE(first_location && strstr(first_location, "/iceberg/files/"));
    snprintf(path, sizeof path, "%s", strstr(first_location, "/iceberg/files/") + 8);
    j = rest(lake, &all, "GET", path, &status);
    CHECK_EQ_INT(status, 200);
    CHECK(json_object_get(j, "file") != NULL);
    json_decref(j);
    free(first_location);
    j = rest(lake, &all, "GET", "/files/tmp/x", &status);
    CHECK_EQ_INT(status, 404);
    json_decref(j);

    j = rest(lake, &all, "GET", "/main/v1/namespaces", &status);
    CHECK_EQ_INT(status, 200);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK_EQ_STR(text, "{\"namespaces\":[[\"default\"],[\"sales\"]]}");
    free(text);
    json_decref(j);
    j = rest(lake, &all, "GET", "/v1/namespaces/sales/tables", &status);
    text = json_dumps(j, JSON_COMPACT);
    CHECK_EQ_STR(text, "{\"identifiers\":[{\"namespace\":[\"sales\"],\"name\":\"orders\"}]}");
    free(text);
    json_decref(j);
    j = rest(lake, &all, "HEAD", "/v1/namespaces/sales", &status);
    CHECK_EQ_INT(status, 204);
    json_decref(j);

    /* errors in the spec's shape */
    j = rest(lake, &all, "GET", "/v1/main/namespaces/default/tables/nope", &status);
    CHECK_EQ_INT(status, 404);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                 "NoSuchTableException");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "error"), "code")), 404);
    json_decref(j);
    j = rest(lake, &all, "GET", "/v1/main/namespaces/nope", &status);
    CHECK_EQ_INT(status, 404);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                 "NoSuchNamespaceException");
    json_decref(j);
    j = rest(lake, &all, "GET", "/nobranch/v1/namespaces", &status);
    CHECK_EQ_INT(status, 404);
    json_decref(j);
    j = rest(lake, &all, "POST", "/v1/main/namespaces/default/tables", &status);
    CHECK_EQ_INT(status, 406);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                 "UnsupportedOperationException");
    json_decref(j);
    /* read rights: a token for feature/x only */
    caller some = {"feature/x", NULL};
    j = rest(lake, &some, "GET", "/main/v1/namespaces/default/tables/t", &status);
    CHECK_EQ_INT(status, 403);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                 "ForbiddenException");
    json_decref(j);
    j = rest(lake, &some, "GET", "/feature/x/v1/namespaces/default/tables/t", &status);
    CHECK_EQ_INT(status, 200);
    json_decref(j);
    tarn_lake_close(&lake);
}

/* NAME=ID,... of the Parquet file of KEY (its top-level field ids). */
static void file_ids(strbuf *out, tarn_lake *lake, const char *key)
{
    char path[8192];
    tarn_duck d;
    if (lake->store->vt->read_url(lake->store, key, path, sizeof path, NULL) < 0 ||
        tarn__duck_open(&d, NULL) < 0)
        return;
    strbuf q = {0};
    sb_append(&q, "SELECT name || '=' || field_id FROM parquet_schema(");
    sb_append_sql_string(&q, path);
    sb_append(&q, ") WHERE field_id IS NOT NULL ORDER BY field_id");
    duckdb_result res;
    if (tarn__duck_query(&res, &d, q.s, TARN_EIO, "q", NULL) == 0)
        for (idx_t r = 0; r < duckdb_row_count(&res); r++) {
            char *v = tarn__duck_text(&res, 0, r);
            sb_printf(out, "%s%s", r ? "," : "", v ? v : "?");
            free(v);
        }
    duckdb_destroy_result(&res);
    tarn__duck_close(&d);
    sb_free(&q);
}

static void new_files_carry_field_ids(void)
{
    char dir[4096];
    tarn_lake *lake = fresh_lake("iceberg_ids", dir);
    REQUIRE(lake);
    REQUIRE(import_csv(lake, dir, "t", "a,b,c\n1,x,2\n", TARN_IMPORT_CREATE, NULL) == 0);
    /* a replace drops a and b and adds d: c keeps 3, d takes 4 */
    REQUIRE(import_csv(lake, dir, "t", "c,d\n5,y\n", TARN_IMPORT_REPLACE, NULL) == 0);
    REQUIRE(import_csv(lake, dir, "t", "c,d\n6,z\n", TARN_IMPORT_APPEND, NULL) == 0);
    tarn_table_info info;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn_table_get(&info, lake, NULL, "t", &err) == 0);
    tarn_version v;
    REQUIRE(tarn__version_load(&v, lake, info.version, &err) == 0);
    CHECK(strstr(v.schema_json, "{\"name\":\"c\",\"type\":\"BIGINT\",\"id\":3}") != NULL);
    CHECK(strstr(v.schema_json, "{\"name\":\"d\",\"type\":\"VARCHAR\",\"id\":4}") != NULL);
    REQUIRE(v.nfiles == 2);
    for (size_t i = 0; i < v.nfiles; i++) {
        strbuf ids = {0};
        file_ids(&ids, lake, v.files[i]);
        CHECK_EQ_STR(ids.s, "c=3,d=4");
        sb_free(&ids);
    }
    tarn__version_clear(&v);
    tarn_table_info_clear(&info);
    tarn_lake_close(&lake);
}

static void gc_keeps_live_metadata(void)
{
    char dir[4096];
    tarn_lake *lake = fresh_lake("iceberg_gc", dir);
    REQUIRE(lake);
    REQUIRE(import_csv(lake, dir, "t", "id\n1\n", TARN_IMPORT_CREATE, NULL) == 0);
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    REQUIRE(tarn_branch_create(&id, lake, "dev", "main", &err) == 0);
    REQUIRE(import_csv(lake, dir, "t", "id\n5\n", TARN_IMPORT_REPLACE, "dev") == 0);
    caller all = {"*", NULL};
    int status;
    json_decref(rest(lake, &all, "GET", "/main/v1/namespaces/default/tables/t", &status));
    CHECK_EQ_INT(status, 200);
    json_decref(rest(lake, &all, "GET", "/dev/v1/namespaces/default/tables/t", &status));
    CHECK_EQ_INT(status, 200);
    int both = iceberg_objects(lake);
    tarn_gc_options o = TARN_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    tarn_gc_result r;
    REQUIRE(tarn_gc(&r, lake, &o, &err) == 0);
    CHECK_EQ_INT(iceberg_objects(lake), both); /* every version is live */
    /* dev goes: its version's data and metadata are garbage, main's stay */
    REQUIRE(tarn_branch_delete(lake, "dev", &err) == 0);
    REQUIRE(tarn_gc(&r, lake, &o, &err) == 0);
    CHECK_EQ_INT(iceberg_objects(lake), both / 2);
    json_decref(rest(lake, &all, "GET", "/main/v1/namespaces/default/tables/t", &status));
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_INT(iceberg_objects(lake), both / 2); /* found, not written again */
    tarn_lake_close(&lake);
}

int main(void)
{
    TEST_RUN(type_names);
    TEST_RUN(field_ids);
    TEST_RUN(wide_table_ids);
    TEST_RUN(bounds);
    TEST_RUN(avro_files);
    TEST_RUN(rest_catalog);
    TEST_RUN(new_files_carry_field_ids);
    TEST_RUN(gc_keeps_live_metadata);
    return test_summary();
}
