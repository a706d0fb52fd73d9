/* sql/engine.c — DuckDB sessions (see engine.h). */
#include "sql/engine.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "sql/empty.h"
#include "store/store.h"
#include "util/error.h"
#include "util/util.h"

int tarn__duck_open(tarn_duck *d, tarn_error *err)
{
    memset(d, 0, sizeof *d);
    char *open_err = NULL;
    duckdb_config config = NULL;
    duckdb_create_config(&config);
    /* No autoloading from the network: every extension tarn uses is built in. */
    duckdb_set_config(config, "autoinstall_known_extensions", "false");
    duckdb_set_config(config, "autoload_known_extensions", "false");
    if (duckdb_open_ext(NULL, &d->db, config, &open_err) != DuckDBSuccess) {
        tarn__error_set(err, TARN_EIO, "cannot start DuckDB: %s", open_err ? open_err : "unknown error");
        duckdb_free(open_err);
        duckdb_destroy_config(&config);
        return TARN_EIO;
    }
    duckdb_destroy_config(&config);
    if (duckdb_connect(d->db, &d->con) != DuckDBSuccess) {
        duckdb_close(&d->db);
        return tarn__error_set(err, TARN_EIO, "cannot connect to DuckDB");
    }
    return 0;
}

int tarn__duck_add_version_paths(json_t *paths, tarn_lake *lake, const char *version_id,
                                 tarn_error *err)
{
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    int rc = 0;
    for (size_t i = 0; i < v.nfiles && rc == 0; i++) {
        char url[8192];
        /* Where the file will be read from, without fetching it: only the
         * files a scan keeps are fetched, later. */
        rc = tarn__store_path_of(lake, v.files[i], url, sizeof url, err);
        if (rc == 0) json_array_append_new(paths, json_string(url));
    }
    tarn__version_clear(&v);
    return rc;
}

int tarn__duck_confine(tarn_duck *d, json_t *paths, tarn_error *err)
{
    /* allowed_paths must be set while external access is still on; once it
     * is off and the configuration locked, neither can change again (a
     * SET or PRAGMA in user SQL is refused by DuckDB itself). */
    strbuf q = {0};
    if (json_array_size(paths)) {
        sb_append(&q, "SET allowed_paths = [");
        size_t i;
        json_t *p;
        json_array_foreach(paths, i, p)
        {
            if (i) sb_append(&q, ", ");
            sb_append_sql_string(&q, json_string_value(p));
        }
        sb_append(&q, "]; ");
    }
    if (d->limits.memory_bytes > 0) sb_printf(&q, "SET memory_limit = '%lldB'; ", (long long)d->limits.memory_bytes);
    if (d->limits.threads > 0) sb_printf(&q, "SET threads = %d; ", d->limits.threads);
    /* Data files never change once written: their footers may be cached
     * for the session's life (a pooled session reads them again and again). */
    sb_append(&q, "SET parquet_metadata_cache = true; ");
    sb_append(&q, "SET enable_external_access = false; SET lock_configuration = true");
    int rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot confine DuckDB", err);
    sb_free(&q);
    return rc;
}

void tarn__duck_close(tarn_duck *d)
{
    if (d->con) duckdb_disconnect(&d->con);
    if (d->db) duckdb_close(&d->db);
}

const char *tarn__duck_message(const char *msg)
{
    return msg ? msg : "unknown DuckDB error";
}

int tarn__duck_fail(tarn_error *err, int code, const char *what, const char *msg)
{
    msg = tarn__duck_message(msg);
    /* What a confined session refuses (tarn__duck_confine), said in
     * tarn's terms: DuckDB's own words blame "configuration". */
    const char *hint = "";
    if (strstr(msg, "Permission Error") && strstr(msg, "extensions"))
        hint = "\n(SQL in tarn cannot install or load DuckDB extensions)";
    else if (strstr(msg, "Permission Error"))
        hint = "\n(SQL in tarn reads only the tables of its ref that it names, never other files "
               "or URLs: to read a file, import it with 'tarn table import')";
    return tarn__error_set(err, code, "%s: %s%s", what, msg, hint);
}

int tarn__duck_query(duckdb_result *res, tarn_duck *d, const char *sql, int code, const char *what,
                     tarn_error *err)
{
    if (duckdb_query(d->con, sql, res) != DuckDBSuccess)
        return tarn__duck_fail(err, code, what, duckdb_result_error(res));
    return 0;
}

int tarn__duck_exec(tarn_duck *d, const char *sql, int code, const char *what, tarn_error *err)
{
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sql, code, what, err);
    duckdb_destroy_result(&res);
    return rc;
}

/* A JSON parameter value as a DuckDB value (NULL for what JSON cannot say). */
static duckdb_value param_value(json_t *v)
{
    if (json_is_string(v)) return duckdb_create_varchar(json_string_value(v));
    if (json_is_integer(v)) return duckdb_create_int64((int64_t)json_integer_value(v));
    if (json_is_real(v)) return duckdb_create_double(json_real_value(v));
    if (json_is_boolean(v)) return duckdb_create_bool(json_is_true(v));
    return duckdb_create_null_value();
}

int tarn__duck_prepare_bound(duckdb_prepared_statement *out, tarn_duck *d, const char *sql,
                             json_t *params, int code, const char *what, tarn_error *err)
{
    *out = NULL;
    duckdb_prepared_statement p = NULL;
    int rc = 0;
    if (duckdb_prepare(d->con, sql, &p) != DuckDBSuccess) {
        rc = tarn__duck_fail(err, code, what, duckdb_prepare_error(p));
        goto done;
    }
    idx_t n = duckdb_nparams(p);
    for (idx_t i = 1; i <= n && rc == 0; i++) {
        const char *name = duckdb_parameter_name(p, i);
        json_t *v = name ? json_object_get(params, name) : NULL;
        if (!v) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "%s: $%s has no value (declare it under [parameters] in "
                                 "tarn_project.toml)",
                                 what, name ? name : "?");
        } else {
            duckdb_value val = param_value(v);
            if (duckdb_bind_value(p, i, val) != DuckDBSuccess)
                rc = tarn__error_set(err, TARN_EINVALID, "%s: cannot bind $%s: %s", what, name,
                                     tarn__duck_message(duckdb_prepare_error(p)));
            duckdb_destroy_value(&val);
        }
        duckdb_free((void *)name);
    }
done:
    if (rc == 0) *out = p;
    else duckdb_destroy_prepare(&p);
    return rc;
}

int tarn__duck_query_bound(duckdb_result *res, tarn_duck *d, const char *sql, json_t *params,
                           int code, const char *what, tarn_error *err)
{
    memset(res, 0, sizeof *res);
    duckdb_prepared_statement p;
    TARN_RETURN_NOT_OK(tarn__duck_prepare_bound(&p, d, sql, params, code, what, err));
    int rc = 0;
    if (duckdb_execute_prepared(p, res) != DuckDBSuccess)
        rc = tarn__duck_fail(err, code, what, duckdb_result_error(res));
    duckdb_destroy_prepare(&p);
    return rc;
}

void tarn__sql_append_table(strbuf *out, const char *name)
{
    /* DuckDB's schema main holds tarn's namespace default. */
    const char *dot = strchr(name, '.');
    if (dot && !(dot - name == 7 && tarn__name_ncmp(name, "default", 7) == 0)) {
        char ns[300];
        snprintf(ns, sizeof ns, "%.*s", (int)(dot - name), name);
        sb_append_sql_ident(out, ns);
        sb_append(out, ".");
    }
    sb_append_sql_ident(out, dot ? dot + 1 : name);
}

char *tarn__duck_string_copy(duckdb_string_t *s)
{
    uint32_t len = duckdb_string_t_length(*s);
    char *out = malloc(len + 1);
    memcpy(out, duckdb_string_t_data(s), len);
    out[len] = 0;
    return out;
}

void tarn__sql_nestable(strbuf *out, const char *sql)
{
    size_t n = strlen(sql);
    while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\n' ||
                 sql[n - 1] == '\t' || sql[n - 1] == '\r'))
        n--;
    sb_appendn(out, sql, n);
}

char *tarn__duck_text(duckdb_result *res, idx_t col, idx_t row)
{
    /* duckdb_value_varchar is deprecated in the C API; read the chunks.
     * Chunks of a materialized result need not be full (a UNION ALL makes
     * one per branch), so walk them by their own sizes. */
    idx_t nchunks = duckdb_result_chunk_count(*res);
    for (idx_t ci = 0; ci < nchunks; ci++) {
        duckdb_data_chunk chunk = duckdb_result_get_chunk(*res, ci);
        if (!chunk) return NULL;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        if (row >= n) {
            row -= n;
            duckdb_destroy_data_chunk(&chunk);
            continue;
        }
        char *out = NULL;
        duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, col);
        uint64_t *validity = duckdb_vector_get_validity(vec);
        if (!validity || duckdb_validity_row_is_valid(validity, row))
            out = tarn__duck_string_copy((duckdb_string_t *)duckdb_vector_get_data(vec) + row);
        duckdb_destroy_data_chunk(&chunk);
        return out;
    }
    return NULL;
}

int tarn__duck_read_parquet_sql(strbuf *out, tarn_lake *lake, const char *const *keys, size_t n,
                                tarn_error *err)
{
    /* Data files not on local disk (S3) are fetched now, in parallel. */
    int rc = tarn__store_prefetch(lake, keys, n, err);
    sb_append(out, "read_parquet([");
    for (size_t i = 0; i < n && rc == 0; i++) {
        char url[8192];
        rc = tarn__store_read_path(lake, keys[i], url, sizeof url, err);
        if (i) sb_append(out, ", ");
        sb_append_sql_string(out, url);
    }
    sb_append(out, "])");
    return rc;
}

int tarn__duck_scan_sql(strbuf *out, tarn_lake *lake, const char *version_id, tarn_error *err)
{
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    /* A version without files (an external table whose Iceberg snapshot
     * is empty) is its columns without rows: read_parquet needs a file. */
    int rc = v.nfiles ? tarn__duck_read_parquet_sql(out, lake, (const char *const *)v.files, v.nfiles, err)
                      : tarn__duck_empty_scan_sql(out, lake, version_id, err);
    tarn__version_clear(&v);
    return rc;
}

int tarn__duck_register(tarn_duck *d, tarn_lake *lake, const char *schema, const char *name,
                        const char *version_id, tarn_error *err)
{
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    int rc = tarn__duck_register_files(d, lake, schema, name, (const char *const *)v.files,
                                       v.nfiles, 0, err);
    tarn__version_clear(&v);
    return rc;
}

int tarn__duck_register_files(tarn_duck *d, tarn_lake *lake, const char *schema, const char *name,
                              const char *const *keys, size_t n, int empty, tarn_error *err)
{
    strbuf sql = {0};
    if (schema) {
        sb_append(&sql, "CREATE SCHEMA IF NOT EXISTS ");
        sb_append_sql_ident(&sql, schema);
        sb_append(&sql, "; ");
    }
    sb_append(&sql, "CREATE OR REPLACE VIEW ");
    if (schema) {
        sb_append_sql_ident(&sql, schema);
        sb_append(&sql, ".");
    }
    sb_append_sql_ident(&sql, name);
    sb_append(&sql, " AS SELECT * FROM ");
    int rc = tarn__duck_read_parquet_sql(&sql, lake, keys, n, err);
    if (empty) sb_append(&sql, " LIMIT 0");
    if (rc == 0) rc = tarn__duck_exec(d, sb_str(&sql), TARN_EIO, "cannot expose a table to DuckDB", err);
    sb_free(&sql);
    return rc;
}

/* "KIND(name TYPE, ...)": the N named members of struct or union T. */
static void members(strbuf *b, const char *kind, duckdb_logical_type t, idx_t n,
                    char *(*name_of)(duckdb_logical_type, idx_t),
                    duckdb_logical_type (*type_of)(duckdb_logical_type, idx_t))
{
    sb_printf(b, "%s(", kind);
    for (idx_t i = 0; i < n; i++) {
        char *name = name_of(t, i);
        duckdb_logical_type member = type_of(t, i);
        char *c = tarn__duck_type_name(member);
        sb_printf(b, "%s%s %s", i ? ", " : "", name, c);
        free(c);
        duckdb_free(name);
        duckdb_destroy_logical_type(&member);
    }
    sb_append(b, ")");
}

char *tarn__duck_type_name(duckdb_logical_type t)
{
    static const struct {
        duckdb_type id;
        const char *name;
    } names[] = {
        {DUCKDB_TYPE_BOOLEAN, "BOOLEAN"},       {DUCKDB_TYPE_TINYINT, "TINYINT"},
        {DUCKDB_TYPE_SMALLINT, "SMALLINT"},     {DUCKDB_TYPE_INTEGER, "INTEGER"},
        {DUCKDB_TYPE_BIGINT, "BIGINT"},         {DUCKDB_TYPE_UTINYINT, "UTINYINT"},
        {DUCKDB_TYPE_USMALLINT, "USMALLINT"},   {DUCKDB_TYPE_UINTEGER, "UINTEGER"},
        {DUCKDB_TYPE_UBIGINT, "UBIGINT"},       {DUCKDB_TYPE_FLOAT, "FLOAT"},
        {DUCKDB_TYPE_DOUBLE, "DOUBLE"},         {DUCKDB_TYPE_TIMESTAMP, "TIMESTAMP"},
        {DUCKDB_TYPE_DATE, "DATE"},             {DUCKDB_TYPE_TIME, "TIME"},
        {DUCKDB_TYPE_INTERVAL, "INTERVAL"},     {DUCKDB_TYPE_HUGEINT, "HUGEINT"},
        {DUCKDB_TYPE_UHUGEINT, "UHUGEINT"},     {DUCKDB_TYPE_VARCHAR, "VARCHAR"},
        {DUCKDB_TYPE_BLOB, "BLOB"},             {DUCKDB_TYPE_TIMESTAMP_S, "TIMESTAMP_S"},
        {DUCKDB_TYPE_TIMESTAMP_MS, "TIMESTAMP_MS"}, {DUCKDB_TYPE_TIMESTAMP_NS, "TIMESTAMP_NS"},
        {DUCKDB_TYPE_UUID, "UUID"},             {DUCKDB_TYPE_BIT, "BIT"},
        {DUCKDB_TYPE_TIME_TZ, "TIME WITH TIME ZONE"},
        {DUCKDB_TYPE_TIMESTAMP_TZ, "TIMESTAMP WITH TIME ZONE"},
        {DUCKDB_TYPE_ENUM, "ENUM"},             {DUCKDB_TYPE_SQLNULL, "NULL"},
    };
    duckdb_type id = duckdb_get_type_id(t);
    strbuf b = {0};
    if (id == DUCKDB_TYPE_DECIMAL) {
        sb_printf(&b, "DECIMAL(%u,%u)", (unsigned)duckdb_decimal_width(t), (unsigned)duckdb_decimal_scale(t));
    } else if (id == DUCKDB_TYPE_LIST) {
        duckdb_logical_type child = duckdb_list_type_child_type(t);
        char *c = tarn__duck_type_name(child);
        sb_printf(&b, "%s[]", c);
        free(c);
        duckdb_destroy_logical_type(&child);
    } else if (id == DUCKDB_TYPE_STRUCT) {
        members(&b, "STRUCT", t, duckdb_struct_type_child_count(t), duckdb_struct_type_child_name,
                duckdb_struct_type_child_type);
    } else if (id == DUCKDB_TYPE_ARRAY) {
        duckdb_logical_type child = duckdb_array_type_child_type(t);
        char *c = tarn__duck_type_name(child);
        sb_printf(&b, "%s[%llu]", c, (unsigned long long)duckdb_array_type_array_size(t));
        free(c);
        duckdb_destroy_logical_type(&child);
    } else if (id == DUCKDB_TYPE_UNION) {
        members(&b, "UNION", t, duckdb_union_type_member_count(t), duckdb_union_type_member_name,
                duckdb_union_type_member_type);
    } else if (id == DUCKDB_TYPE_MAP) {
        duckdb_logical_type k = duckdb_map_type_key_type(t), v = duckdb_map_type_value_type(t);
        char *ks = tarn__duck_type_name(k), *vs = tarn__duck_type_name(v);
        sb_printf(&b, "MAP(%s, %s)", ks, vs);
        free(ks);
        free(vs);
        duckdb_destroy_logical_type(&k);
        duckdb_destroy_logical_type(&v);
    } else {
        const char *name = "UNKNOWN";
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (names[i].id == id) name = names[i].name;
        sb_append(&b, name);
    }
    return b.s;
}
