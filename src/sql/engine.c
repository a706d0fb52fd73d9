/* sql/engine.c — DuckDB sessions (see engine.h). */
#include "sql/engine.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

void tarn__duck_close(tarn_duck *d)
{
    if (d->con) duckdb_disconnect(&d->con);
    if (d->db) duckdb_close(&d->db);
}

const char *tarn__duck_message(const char *msg)
{
    return msg ? msg : "unknown DuckDB error";
}

int tarn__duck_query(duckdb_result *res, tarn_duck *d, const char *sql, int code, const char *what,
                     tarn_error *err)
{
    if (duckdb_query(d->con, sql, res) != DuckDBSuccess)
        return tarn__error_set(err, code, "%s: %s", what, tarn__duck_message(duckdb_result_error(res)));
    return 0;
}

int tarn__duck_exec(tarn_duck *d, const char *sql, int code, const char *what, tarn_error *err)
{
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sql, code, what, err);
    duckdb_destroy_result(&res);
    return rc;
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
        rc = lake->store->vt->read_url(lake->store, keys[i], url, sizeof url, err);
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
    int rc = tarn__duck_read_parquet_sql(out, lake, (const char *const *)v.files, v.nfiles, err);
    tarn__version_clear(&v);
    return rc;
}

int tarn__duck_register(tarn_duck *d, tarn_lake *lake, const char *schema, const char *name,
                        const char *version_id, tarn_error *err)
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
    int rc = tarn__duck_scan_sql(&sql, lake, version_id, err);
    if (rc == 0) rc = tarn__duck_exec(d, sb_str(&sql), TARN_EIO, "cannot expose a table to DuckDB", err);
    sb_free(&sql);
    return rc;
}

/* Schema JSON and per-column statistics JSON of a written Parquet file. */
int tarn__duck_describe_parquet(char **schema_json, char **stats_json, tarn_duck *d,
                                const char *path, tarn_error *err)
{
    *schema_json = *stats_json = NULL;
    strbuf q = {0};
    sb_append(&q, "DESCRIBE SELECT * FROM read_parquet(");
    sb_append_sql_string(&q, path);
    sb_append(&q, ")");
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "cannot read the written file", err);
    json_t *schema = json_array();
    strbuf stats_q = {0};
    if (rc == 0) {
        idx_t n = duckdb_row_count(&res);
        for (idx_t i = 0; i < n; i++) {
            char *name = tarn__duck_text(&res, 0, i), *type = tarn__duck_text(&res, 1, i);
            json_array_append_new(schema, json_pack("{s:s,s:s}", "name", name ? name : "",
                                                    "type", type ? type : ""));
            /* Statistics for flat columns, from the footer only. */
            if (name && type && !strchr(type, '(') && !strchr(type, '[') && !strstr(type, "STRUCT") &&
                !strstr(type, "MAP") && !strstr(type, "UNION")) {
                sb_append(&stats_q, stats_q.len ? " UNION ALL " : "");
                sb_append(&stats_q, "SELECT ");
                sb_append_sql_string(&stats_q, name);
                sb_printf(&stats_q, ", min(TRY_CAST(stats_min_value AS %s))::VARCHAR, "
                                    "max(TRY_CAST(stats_max_value AS %s))::VARCHAR, "
                                    "sum(stats_null_count)::BIGINT FROM parquet_metadata(",
                          type, type);
                sb_append_sql_string(&stats_q, path);
                sb_append(&stats_q, ") WHERE path_in_schema = ");
                sb_append_sql_string(&stats_q, name);
            }
            free(name);
            free(type);
        }
    }
    duckdb_destroy_result(&res);
    json_t *stats = json_object();
    if (rc == 0 && stats_q.len) {
        rc = tarn__duck_query(&res, d, sb_str(&stats_q), TARN_EIO, "cannot read file statistics", err);
        if (rc == 0) {
            idx_t n = duckdb_row_count(&res);
            for (idx_t i = 0; i < n; i++) {
                char *col = tarn__duck_text(&res, 0, i), *mn = tarn__duck_text(&res, 1, i),
                     *mx = tarn__duck_text(&res, 2, i);
                int64_t nulls = duckdb_value_int64(&res, 3, i);
                json_object_set_new(stats, col ? col : "",
                                    json_pack("{s:s?,s:s?,s:I}", "min", mn, "max", mx, "nulls",
                                              (json_int_t)nulls));
                free(col);
                free(mn);
                free(mx);
            }
        }
        duckdb_destroy_result(&res);
    }
    if (rc == 0) {
        *schema_json = json_dumps(schema, JSON_COMPACT);
        *stats_json = json_dumps(stats, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(schema);
    json_decref(stats);
    sb_free(&q);
    sb_free(&stats_q);
    return rc;
}

void tarn__duck_copy_parquet_sql(strbuf *q, const char *select_sql, const char *dest)
{
    sb_append(q, "COPY (");
    sb_append(q, select_sql);
    sb_append(q, ") TO ");
    sb_append_sql_string(q, dest);
    sb_append(q, " (FORMAT parquet, COMPRESSION zstd)");
}

int tarn__duck_write_parquet(int64_t *rows, char **schema_json, char **stats_json, tarn_duck *d,
                             const char *select_sql, const char *dest, tarn_error *err)
{
    *rows = 0;
    strbuf q = {0};
    tarn__duck_copy_parquet_sql(&q, select_sql, dest);
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "cannot write Parquet", err);
    if (rc == 0) *rows = duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    sb_free(&q);
    if (rc == 0) rc = tarn__duck_describe_parquet(schema_json, stats_json, d, dest, err);
    return rc;
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
        sb_append(&b, "STRUCT(");
        idx_t n = duckdb_struct_type_child_count(t);
        for (idx_t i = 0; i < n; i++) {
            char *cn = duckdb_struct_type_child_name(t, i);
            duckdb_logical_type child = duckdb_struct_type_child_type(t, i);
            char *c = tarn__duck_type_name(child);
            sb_printf(&b, "%s%s %s", i ? ", " : "", cn, c);
            free(c);
            duckdb_free(cn);
            duckdb_destroy_logical_type(&child);
        }
        sb_append(&b, ")");
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
