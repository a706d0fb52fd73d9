/* server/api_tables.c — namespaces and tables at a ref: list, describe,
 * create and delete, import (an uploaded file, or an object storage URI;
 * never a path on the server) and revert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

static json_t *table_json(const tarn_table_info *t)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < t->ncolumns; c++)
        json_array_append_new(cols, json_pack("{s:o,s:o}", "name", srv_jstr(t->columns[c].name), "type",
                                              srv_jstr(t->columns[c].type)));
    return json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:I}", "name", srv_jstr(t->name), "namespace",
                     srv_jstr(t->namespace_), "version", srv_jstr(t->version), "columns", cols, "rows",
                     (json_int_t)t->row_count, "files", (json_int_t)t->file_count, "size_bytes",
                     (json_int_t)t->size_bytes);
}

static int ns_list(srv_req *r)
{
    const char *ref = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, ref));
    tarn_error err = TARN_ERROR_INIT;
    char **list = NULL;
    size_t n = 0;
    int rc = tarn_namespace_list(&list, &n, lake, ref, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, srv_jstr(list[i]));
    tarn_namespace_list_free(list, n);
    return srv_reply_json(r, 200, json_pack("{s:o}", "namespaces", arr));
}

static int ns_change(srv_req *r)
{
    int create = strcmp(r->method, "POST") == 0;
    const char *name = create ? srv_body_str(r, "name") : srv_param(r, "name");
    const char *branch = srv_body_str(r, "branch");
    if (!name) return srv_reply_msg(r, 400, "invalid", "give the namespace: {\"name\": NS, \"branch\": BRANCH}");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, branch));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = create ? tarn_namespace_create(&id, lake, name, branch, &err)
                    : tarn_namespace_delete(&id, lake, name, branch, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, create ? 201 : 200, json_pack("{s:o,s:s}", "name", srv_jstr(name), "commit", id.hex));
}

static int table_list(srv_req *r)
{
    const char *ref = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, ref));
    tarn_error err = TARN_ERROR_INIT;
    tarn_table_info *list = NULL;
    size_t n = 0;
    int rc = tarn_table_list(&list, &n, lake, ref, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, table_json(&list[i]));
    tarn_table_info_free(list, n);
    return srv_reply_json(r, 200, json_pack("{s:o}", "tables", arr));
}

static int table_get(srv_req *r)
{
    const char *ref = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, ref));
    tarn_error err = TARN_ERROR_INIT;
    tarn_table_info t;
    int rc = tarn_table_get(&t, lake, ref, srv_param(r, "name"), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = table_json(&t);
    tarn_table_info_clear(&t);
    return srv_reply_json(r, 200, v);
}

static int table_delete(srv_req *r)
{
    const char *branch = srv_arg(r, "branch");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, branch));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_table_delete(&id, lake, srv_param(r, "name"), branch, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:s}", "table", srv_jstr(srv_param(r, "name")), "commit", id.hex));
}

static int table_revert(srv_req *r)
{
    const char *source = srv_body_str(r, "source"), *into = srv_body_str(r, "into");
    if (!source) return srv_reply_msg(r, 400, "invalid", "give the ref to restore from: {\"source\": REF, \"into\": BRANCH}");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, source));
    SRV_RIGHT(r, lake, srv_need_write(r, lake, into));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_table_revert(&id, lake, srv_param(r, "name"), source, into, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:s}", "table", srv_jstr(srv_param(r, "name")), "commit", id.hex));
}

/* The file name's format suffix (".csv", ".json.gz", ...): the library
 * tells formats by it, and the upload's scratch name has none. */
static const char *format_suffix(const char *filename, const char *format)
{
    static const char *const known[] = {".csv.gz", ".tsv.gz", ".json.gz", ".jsonl.gz", ".ndjson.gz", ".parquet",
                                        ".csv",    ".tsv",    ".json",    ".jsonl",    ".ndjson",    ".txt"};
    if (filename) {
        size_t n = strlen(filename);
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
            size_t k = strlen(known[i]);
            if (n > k && strcasecmp(filename + n - k, known[i]) == 0) return known[i];
        }
    }
    if (format && strcmp(format, "csv") == 0) return ".csv";
    if (format && strcmp(format, "parquet") == 0) return ".parquet";
    if (format && strcmp(format, "json") == 0) return ".json";
    return NULL;
}

static int table_import(srv_req *r)
{
    const char *branch = srv_arg(r, "branch"), *mode = srv_arg(r, "mode");
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.format = srv_arg(r, "format");
    o.message = srv_arg(r, "message");
    o.delimiter = srv_arg(r, "delimiter");
    o.null_string = srv_arg(r, "null");
    o.encoding = srv_arg(r, "encoding");
    o.quote = srv_arg(r, "quote");
    o.escape = srv_arg(r, "escape");
    const char *header = srv_arg(r, "header");
    if (header) o.header = strcmp(header, "true") == 0 || strcmp(header, "1") == 0 ? TARN_CSV_HEADER_YES : TARN_CSV_HEADER_NO;
    if (srv_int(&o.skip, r, "skip", 0) < 0 || o.skip < 0)
        return srv_reply_msg(r, 400, "invalid", "skip must be a number of lines");
    if (!mode || strcmp(mode, "create") == 0) o.mode = TARN_IMPORT_CREATE;
    else if (strcmp(mode, "append") == 0) o.mode = TARN_IMPORT_APPEND;
    else if (strcmp(mode, "replace") == 0) o.mode = TARN_IMPORT_REPLACE;
    else return srv_reply_msg(r, 400, "invalid", "mode is create, append or replace");
    const char *uri = srv_arg(r, "uri");
    char path[4300];
    if (uri) {
        /* A path on the server is never read for a client: only object
         * storage, which the lakehouse reaches with its own credentials. */
        if (strncmp(uri, "s3://", 5) != 0)
            return srv_reply_msg(r, 400, "invalid",
                                 "an import reads an uploaded file or an s3:// URI, never a path on the server: "
                                 "upload the file as the request body");
        snprintf(path, sizeof path, "%s", uri);
    } else {
        if (r->body_fd < 0 || r->body_len == 0)
            return srv_reply_msg(r, 400, "invalid", "send the file to import as the request body (or ?uri=s3://...)");
        const char *suffix = format_suffix(srv_arg(r, "filename"), o.format);
        if (!suffix)
            return srv_reply_msg(r, 400, "invalid",
                                 "cannot tell the file's format: give ?format=csv|parquet|json or ?filename=NAME.csv");
        snprintf(path, sizeof path, "%s%s", r->body_path, suffix);
        if (rename(r->body_path, path) != 0) return srv_reply_msg(r, 500, "io", "cannot keep the uploaded file");
        snprintf(r->body_path, sizeof r->body_path, "%s", path);
    }
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, branch));
    tarn_error err = TARN_ERROR_INIT;
    tarn_import_result res;
    int rc = tarn_table_import(&res, lake, srv_param(r, "name"), path, branch, &o, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) {
        /* The message names the scratch file: say "the uploaded file". */
        char *at = strstr(err.message, r->body_path[0] ? r->body_path : "\x01");
        if (at) {
            char fixed[TARN_MESSAGE_MAX];
            snprintf(fixed, sizeof fixed, "%.*sthe uploaded file%s", (int)(at - err.message), err.message,
                     at + strlen(r->body_path));
            snprintf(err.message, sizeof err.message, "%s", fixed);
        }
        return srv_reply_error(r, rc, &err);
    }
    return srv_reply_json(r, 201, json_pack("{s:o,s:s,s:I,s:I}", "table", srv_jstr(srv_param(r, "name")), "commit",
                                            res.commit.hex, "rows", (json_int_t)res.rows, "files",
                                            (json_int_t)res.files));
}

const srv_route srv_api_tables[] = {
    {"GET", "/api/v1/namespaces", ns_list, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/namespaces", ns_change, SRV_BODY_JSON, SRV_TOKEN},
    {"DELETE", "/api/v1/namespaces/{name}", ns_change, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/tables", table_list, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/tables/{name}", table_get, SRV_BODY_NONE, SRV_TOKEN},
    {"DELETE", "/api/v1/tables/{name}", table_delete, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/tables/{name}/import", table_import, SRV_BODY_FILE, SRV_TOKEN},
    {"POST", "/api/v1/tables/{name}/revert", table_revert, SRV_BODY_JSON, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
