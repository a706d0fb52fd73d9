/* server/api_tables.c — namespaces and tables at a ref: list, describe,
 * create and delete, import (an uploaded file, or an object storage URI;
 * never a path on the server) and revert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tarn/arrow.h>

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
    tarn_commit_options co = srv_commit_options(r);
    int rc = create ? tarn_namespace_create(&id, lake, name, branch, &co, &err)
                    : tarn_namespace_delete(&id, lake, name, branch, &co, &err);
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
    tarn_commit_options co = srv_commit_options(r);
    int rc = tarn_table_delete(&id, lake, srv_param(r, "name"), branch, &co, &err);
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
    tarn_commit_options co = srv_commit_options(r);
    int rc = tarn_table_revert(&id, lake, srv_param(r, "name"), source, into, &co, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:s}", "table", srv_jstr(srv_param(r, "name")), "commit", id.hex));
}

/* The suffix of an uploaded file's name (".csv", ".json.gz", ".csv.zst":
 * all after the first dot), which the library tells formats by: the upload's
 * scratch name gets it. Letters, digits and dots only; "" when none. */
static void name_suffix(char *out, size_t size, const char *filename)
{
    out[0] = 0;
    if (!filename) return;
    const char *base = strrchr(filename, '/');
    const char *dot = strchr(base ? base + 1 : filename, '.');
    size_t n = 0;
    for (; dot && *dot && n + 1 < size && n < 32; dot++)
        if ((*dot >= 'a' && *dot <= 'z') || (*dot >= 'A' && *dot <= 'Z') ||
            (*dot >= '0' && *dot <= '9') || *dot == '.')
            out[n++] = *dot;
    out[n] = 0;
}

/* Replaces each FROM in ERR's message with TO: the library names the
 * server's scratch files, which mean nothing to the client. */
static void rename_in_message(tarn_error *err, const char *from, const char *to)
{
    char *at;
    while (*from && (at = strstr(err->message, from))) {
        char fixed[TARN_MESSAGE_MAX];
        snprintf(fixed, sizeof fixed, "%.*s%s%s", (int)(at - err->message), err->message, to,
                 at + strlen(from));
        snprintf(err->message, sizeof err->message, "%s", fixed);
    }
}

/* ?column_types=[{"name": N, "type": T}, ...] into O (pointing into *HOLD,
 * which the caller releases). -1 when it is not that. */
static int column_types(tarn_import_options *o, json_t **hold, tarn_column **cols, const char *text)
{
    *hold = NULL;
    *cols = NULL;
    if (!text) return 0;
    *hold = json_loads(text, 0, NULL);
    size_t n = json_array_size(*hold);
    if (!json_is_array(*hold) || n == 0 || n > 10000) return -1;
    *cols = calloc(n, sizeof **cols);
    if (!*cols) return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(*hold, i);
        (*cols)[i].name = (char *)json_string_value(json_object_get(c, "name"));
        (*cols)[i].type = (char *)json_string_value(json_object_get(c, "type"));
        if (!(*cols)[i].name || !(*cols)[i].type) return -1;
    }
    o->column_types = *cols;
    o->ncolumn_types = n;
    return 0;
}

/* An import's CSV options and column types from R's arguments into O
 * (the types point into *HOLD and *COLS, which the caller releases); -1
 * once a bad one is answered. */
static int read_options(tarn_import_options *o, json_t **hold, tarn_column **cols, srv_req *r)
{
    const char *bad = NULL;
    if (column_types(o, hold, cols, srv_arg(r, "column_types")) < 0)
        bad = "column_types is a JSON list of {\"name\": N, \"type\": T}";
    o->delimiter = srv_arg(r, "delimiter");
    o->null_string = srv_arg(r, "null");
    o->encoding = srv_arg(r, "encoding");
    o->quote = srv_arg(r, "quote");
    o->escape = srv_arg(r, "escape");
    const char *header = srv_arg(r, "header");
    if (header)
        o->header = strcmp(header, "true") == 0 || strcmp(header, "1") == 0 ? TARN_CSV_HEADER_YES
                                                                            : TARN_CSV_HEADER_NO;
    if (!bad && (srv_int(&o->skip, r, "skip", 0) < 0 || o->skip < 0))
        bad = "skip must be a number of lines";
    if (!bad) return 0;
    json_decref(*hold);
    free(*cols);
    *hold = NULL;
    *cols = NULL;
    srv_reply_msg(r, 400, "invalid", bad);
    return -1;
}

static int table_import(srv_req *r)
{
    const char *branch = srv_arg(r, "branch"), *mode = srv_arg(r, "mode");
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.format = srv_arg(r, "format");
    tarn_commit_options co = srv_commit_options(r);
    o.commit = &co;
    o.source_name = srv_arg(r, "source");
    if (!mode || strcmp(mode, "create") == 0) o.mode = TARN_IMPORT_CREATE;
    else if (strcmp(mode, "append") == 0) o.mode = TARN_IMPORT_APPEND;
    else if (strcmp(mode, "replace") == 0) o.mode = TARN_IMPORT_REPLACE;
    else return srv_reply_msg(r, 400, "invalid", "mode is create, append or replace");
    json_t *types_json = NULL;
    tarn_column *types = NULL;
    if (read_options(&o, &types_json, &types, r) < 0) return 0;
    const char *uri = srv_arg(r, "uri"), *archive = srv_arg(r, "archive");
    int arrow = o.format && strcmp(o.format, "arrow") == 0;
    char path[4400], dir[4300] = "", shown[4400] = "";
    int rc = 0, answered = 0, mfd = -1;
    tarn_error err = TARN_ERROR_INIT;
    if (uri) {
        /* A path on the server is never read for a client: only object
         * storage, which the lakehouse reaches with its own credentials. */
        if (strncmp(uri, "s3://", 5) != 0) {
            answered = 1;
            srv_reply_msg(
                r, 400, "invalid",
                "an import reads an uploaded file or an s3:// URI, never a path on the server: "
                "upload the file as the request body");
        }
        snprintf(path, sizeof path, "%s", uri);
    } else if (r->body_fd < 0 && !srv_arg(r, "filename")) {
        answered = 1;
        srv_reply_msg(r, 400, "invalid",
                      "send the file to import as the request body (or ?uri=s3://...)");
    } else if (r->body_fd < 0 && (arrow || archive)) {
        answered = 1;
        srv_reply_msg(r, 400, "invalid",
                      "the request body is empty: send the Arrow stream or the archive");
    } else if (arrow) {
        /* An Arrow table (what tarn.Table hands over) is imported from
         * sealed memory, as it is locally. */
        o.format = NULL;
        rc = tarn_arrow_shm_copy(&mfd, r->body_fd, "tarn-upload", &err);
    } else if (archive) {
        /* The files of a glob, in one archive: imported as one. */
        snprintf(dir, sizeof dir, "%s/import-XXXXXX", r->s->scratch);
        if (!mkdtemp(dir)) {
            dir[0] = 0;
            answered = 1;
            srv_reply_msg(r, 500, "io", "cannot unpack the uploaded files");
        } else {
            /* Entries are named in match order, with the files' suffix,
             * which tells their format. */
            char suffix[40];
            name_suffix(suffix, sizeof suffix, srv_arg(r, "filename"));
            rc = srv_tar_extract(r->body_path, dir, 100000, r->s->o.max_upload, &err);
            snprintf(path, sizeof path, "%s/*%s", dir, suffix);
            snprintf(shown, sizeof shown, "%s/", dir);
        }
    } else {
        /* An empty file sends no body: it is still a file (the library
         * says what is wrong with it). */
        if (r->body_fd < 0) {
            snprintf(r->body_path, sizeof r->body_path, "%s/upload-XXXXXX", r->s->scratch);
            r->body_fd = mkstemp(r->body_path);
            if (r->body_fd < 0) r->body_path[0] = 0;
        }
        char suffix[40];
        name_suffix(suffix, sizeof suffix, srv_arg(r, "filename"));
        snprintf(path, sizeof path, "%s%s", r->body_path, suffix);
        if (r->body_fd < 0 || rename(r->body_path, path) != 0) {
            answered = 1;
            srv_reply_msg(r, 500, "io", "cannot keep the uploaded file");
        } else {
            snprintf(r->body_path, sizeof r->body_path, "%.4190s",
                     path); /* scratch names are short */
        }
    }
    tarn_import_result res;
    if (!answered && rc == 0) {
        tarn_lake *lake = NULL;
        rc = srv_lake_get(&lake, r, &err);
        if (rc == 0 && srv_need_write(r, lake, branch) < 0) answered = 1;
        if (rc == 0 && !answered)
            rc = arrow
                     ? tarn_table_import_arrow_fd(&res, lake, srv_param(r, "name"), mfd, branch, &o,
                                                  &err)
                     : tarn_table_import(&res, lake, srv_param(r, "name"), path, branch, &o, &err);
        srv_lake_put(r->s, lake);
    }
    if (mfd >= 0) close(mfd);
    if (dir[0]) srv_rmtree(dir);
    json_decref(types_json);
    free(types);
    if (answered) return 0;
    if (rc < 0) {
        if (shown[0])
            rename_in_message(&err, shown, "");
        else if (!uri && !arrow)
            rename_in_message(&err, r->body_path, "the uploaded file");
        return srv_reply_error(r, rc, &err);
    }
    return srv_reply_json(r, 201, json_pack("{s:o,s:s,s:I,s:I}", "table", srv_jstr(srv_param(r, "name")), "commit",
                                            res.commit.hex, "rows", (json_int_t)res.rows, "files",
                                            (json_int_t)res.files));
}

/* An empty table from a plan's columns: {"columns": [{"name", "type"}],
 * "mode": "create" or "replace", and the commit's fields}. */
static int table_create(srv_req *r)
{
    const char *branch = srv_arg(r, "branch"), *mode = srv_body_str(r, "mode");
    json_t *list = json_object_get(r->json, "columns");
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0 || n > 10000)
        return srv_reply_msg(r, 400, "invalid",
                             "give the table's columns: {\"columns\": [{\"name\": N, \"type\": T}, ...]}");
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    if (!mode || strcmp(mode, "create") == 0) o.mode = TARN_IMPORT_CREATE;
    else if (strcmp(mode, "replace") == 0) o.mode = TARN_IMPORT_REPLACE;
    else return srv_reply_msg(r, 400, "invalid", "mode is create or replace");
    tarn_column *cols = calloc(n, sizeof *cols);
    if (!cols) return srv_reply_msg(r, 500, "io", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(list, i);
        cols[i].name = (char *)json_string_value(json_object_get(c, "name"));
        cols[i].type = (char *)json_string_value(json_object_get(c, "type"));
        if (!cols[i].name || !cols[i].type) {
            free(cols);
            return srv_reply_msg(r, 400, "invalid", "every column needs a name and a type (text)");
        }
    }
    tarn_commit_options co = srv_commit_options(r);
    o.commit = &co;
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    tarn_import_result res;
    int rc = srv_lake_get(&lake, r, &err), answered = 0;
    if (rc == 0 && srv_need_write(r, lake, branch) < 0) answered = 1;
    if (rc == 0 && !answered) rc = tarn_table_create(&res, lake, srv_param(r, "name"), cols, n, branch, &o, &err);
    srv_lake_put(r->s, lake);
    free(cols);
    if (answered) return 0;
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 201, json_pack("{s:o,s:s,s:I,s:I}", "table", srv_jstr(srv_param(r, "name")),
                                            "commit", res.commit.hex, "rows", (json_int_t)res.rows,
                                            "files", (json_int_t)res.files));
}

/* A table creation plan of object storage files (?uri=s3://..., read
 * with the lakehouse's credentials, as an import of them is, so it needs
 * the right to write ?branch as an import does); a client plans its own
 * files itself. */
static int table_plan(srv_req *r)
{
    const char *uri = srv_arg(r, "uri");
    if (!uri || strncmp(uri, "s3://", 5) != 0)
        return srv_reply_msg(r, 400, "invalid",
                             "a plan on the server reads an s3:// URI (?uri=s3://...); plan local files "
                             "on the client");
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.format = srv_arg(r, "format");
    json_t *types_json = NULL;
    tarn_column *types = NULL;
    if (read_options(&o, &types_json, &types, r) < 0) return 0;
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    char *plan = NULL;
    int rc = srv_lake_get(&lake, r, &err), answered = 0;
    if (rc == 0 && srv_need_write(r, lake, srv_arg(r, "branch")) < 0) answered = 1;
    if (rc == 0 && !answered) rc = tarn_table_plan(&plan, lake, uri, &o, &err);
    srv_lake_put(r->s, lake);
    json_decref(types_json);
    free(types);
    if (answered) return 0;
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *j = json_loads(plan, 0, NULL);
    tarn_free(plan);
    if (!j) return srv_reply_msg(r, 500, "io", "the plan could not be read back");
    return srv_reply_json(r, 200, j);
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
    {"POST", "/api/v1/tables/{name}/create", table_create, SRV_BODY_JSON, SRV_TOKEN},
    {"GET", "/api/v1/table-plans", table_plan, SRV_BODY_NONE, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
