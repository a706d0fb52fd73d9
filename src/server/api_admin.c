/* server/api_admin.c — the server itself: health (no token), metrics,
 * info, the route list; and what only admins do: tokens, protected
 * branches, garbage collection. */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static int health(srv_req *r)
{
    return srv_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static ssize_t text_read(void *cls, char *buf, size_t max)
{
    char **p = cls;
    size_t n = strlen(*p);
    if (n > max) n = max;
    memcpy(buf, *p, n);
    *p += n;
    return (ssize_t)n;
}

typedef struct text_stream {
    char *cursor;
    char *text;
} text_stream;

static void text_free(void *cls)
{
    text_stream *t = cls;
    free(t->text);
    free(t);
}

static int metrics(srv_req *r)
{
    char *text = NULL;
    if (srv_metrics_render(r->s, &text) < 0) return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    text_stream *t = calloc(1, sizeof *t);
    if (!t) {
        free(text);
        return srv_reply_msg(r, 503, "out_of_memory", "out of memory");
    }
    t->text = t->cursor = text;
    return srv_reply_stream(r, 200, "text/plain; version=0.0.4", text_read, t, text_free);
}

static int info(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_lake_info(&json, lake, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = json_loads(json, 0, NULL);
    tarn_free(json);
    /* Who is asking: the token's user and rights. */
    json_object_set_new(v, "user", srv_jstr(r->tok.user));
    json_object_set_new(v, "rights", json_pack("{s:o,s:o,s:b}", "read", srv_jstr(r->tok.read), "write",
                                               srv_jstr(r->tok.write), "admin", r->tok.admin));
    json_object_del(v, "path");
    return srv_reply_json(r, 200, v);
}

static void add_route(const srv_route *rt, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "method", rt->method, "path", rt->pattern));
}

static int routes(srv_req *r)
{
    json_t *list = json_array();
    srv_routes_each(add_route, list);
    return srv_reply_json(r, 200, json_pack("{s:o}", "routes", list));
}

static json_t *token_json(const tarn_token_info *t)
{
    return json_pack("{s:s,s:o,s:s,s:s,s:b,s:I,s:I,s:I}", "id", t->id, "user", srv_jstr(t->user), "read", t->read,
                     "write", t->write, "admin", t->admin, "created_us", (json_int_t)t->created_us, "expires_us",
                     (json_int_t)t->expires_us, "revoked_us", (json_int_t)t->revoked_us);
}

static int token_list(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    tarn_token_info *list = NULL;
    size_t n = 0;
    int rc = tarn_token_list(&list, &n, lake, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, token_json(&list[i]));
    tarn_free(list);
    return srv_reply_json(r, 200, json_pack("{s:o}", "tokens", arr));
}

static int token_create(srv_req *r)
{
    tarn_token_options o = TARN_TOKEN_OPTIONS_INIT;
    o.read = srv_body_str(r, "read");
    o.write = srv_body_str(r, "write");
    o.admin = srv_flag(r, "admin");
    if (srv_int(&o.expires_in_s, r, "expires_in_s", 0) < 0)
        return srv_reply_msg(r, 400, "invalid", "expires_in_s must be a number of seconds");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *token = NULL;
    tarn_token_info info;
    int rc = tarn_token_create(&token, &info, lake, srv_body_str(r, "user"), &o, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = token_json(&info);
    json_object_set_new(v, "token", json_string(token));
    memset(token, 0, strlen(token));
    tarn_free(token);
    return srv_reply_json(r, 201, v);
}

static int token_revoke(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_token_revoke(lake, srv_param(r, "id"), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:s,s:b}", "id", srv_param(r, "id"), "revoked", 1));
}

static int protected_list(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_branch_protected_list(&json, lake, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = json_loads(json, 0, NULL);
    tarn_free(json);
    return srv_reply_json(r, 200, json_pack("{s:o}", "protected", v));
}

static int protect_set(srv_req *r)
{
    const char *mode = srv_body_str(r, "mode");
    tarn_protect_mode m = TARN_PROTECT_MERGES;
    if (strcmp(r->method, "DELETE") == 0) m = TARN_PROTECT_NONE;
    else if (mode && strcmp(mode, "runs") == 0) m = TARN_PROTECT_RUNS;
    else if (mode && strcmp(mode, "merges") != 0)
        return srv_reply_msg(r, 400, "invalid", "mode is 'merges' or 'runs'");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_branch_protect(lake, srv_param(r, "name"), m, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    static const char *const names[] = {"none", "merges", "runs"};
    return srv_reply_json(r, 200, json_pack("{s:o,s:s}", "name", srv_jstr(srv_param(r, "name")), "protection", names[m]));
}

#define GC_LISTED_MAX 100000

static void gc_file(const char *key, int64_t size_bytes, void *ctx)
{
    /* The answer lists what was collected, up to a bound. */
    if (json_array_size(ctx) < GC_LISTED_MAX)
        json_array_append_new(ctx, json_pack("{s:o,s:I}", "key", srv_jstr(key), "size_bytes",
                                             (json_int_t)size_bytes));
}

static int gc(srv_req *r)
{
    tarn_gc_options o = TARN_GC_OPTIONS_INIT;
    json_t *files = json_array();
    o.dry_run = srv_flag(r, "dry_run");
    if (srv_flag(r, "list_files")) {
        o.on_file = gc_file;
        o.ctx = files;
    }
    if (srv_int(&o.grace_seconds, r, "grace_seconds", o.grace_seconds) < 0 || o.grace_seconds < 0)
        return srv_reply_msg(r, 400, "invalid", "grace_seconds must be a number of seconds");
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    tarn_gc_result res;
    int rc = srv_lake_get(&lake, r, &err);
    if (rc == 0) rc = tarn_gc(&res, lake, &o, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) {
        json_decref(files);
        return srv_reply_error(r, rc, &err);
    }
    return srv_reply_json(
        r, 200,
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "files", (json_int_t)res.files, "bytes",
                  (json_int_t)res.bytes, "kept_recent", (json_int_t)res.kept_recent, "referenced",
                  (json_int_t)res.referenced, "in_flight", (json_int_t)res.in_flight, "dry_run",
                  o.dry_run, "collected", files));
}

static int token_verify(srv_req *r)
{
    const char *token = srv_body_str(r, "token");
    if (!token)
        return srv_reply_msg(r, 400, "invalid", "give the token to check: {\"token\": TOKEN}");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    tarn_token_info info;
    int rc = tarn_token_verify(&info, lake, token, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, token_json(&info));
}

/* The package cache and environments of the server's runs. */
static int env_list(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_env_list(&json, lake, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = json_loads(json, 0, NULL);
    tarn_free(json);
    return srv_reply_json(r, 200, v);
}

static int env_gc(srv_req *r)
{
    int64_t keep;
    if (srv_int(&keep, r, "keep_seconds", 7 * 86400) < 0 || keep < 0)
        return srv_reply_msg(r, 400, "invalid", "keep_seconds must be a number of seconds");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char *json = NULL;
    int rc = tarn_env_gc(&json, lake, keep, srv_flag(r, "dry_run"), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *v = json_loads(json, 0, NULL);
    tarn_free(json);
    return srv_reply_json(r, 200, v);
}

/* Run branches left by failed runs, deleted (or, dry run, listed). */
static int prune_aborted(srv_req *r)
{
    int64_t older;
    if (srv_int(&older, r, "older_than_s", 0) < 0 || older < 0)
        return srv_reply_msg(r, 400, "invalid", "older_than_s must be a number of seconds");
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    char **names = NULL;
    size_t n = 0;
    int rc = tarn_branch_prune_aborted(&names, &n, lake, older, srv_flag(r, "dry_run"), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, srv_jstr(names[i]));
        tarn_free(names[i]);
    }
    tarn_free(names);
    return srv_reply_json(r, 200, json_pack("{s:o}", "branches", list));
}

const srv_route srv_api_admin[] = {
    {"GET", "/api/v1/health", health, SRV_BODY_NONE, SRV_PUBLIC},
    {"GET", "/metrics", metrics, SRV_BODY_NONE, SRV_ADMIN},
    {"GET", "/api/v1/info", info, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/routes", routes, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/tokens", token_list, SRV_BODY_NONE, SRV_ADMIN},
    {"POST", "/api/v1/tokens", token_create, SRV_BODY_JSON, SRV_ADMIN},
    {"DELETE", "/api/v1/tokens/{id}", token_revoke, SRV_BODY_NONE, SRV_ADMIN},
    {"POST", "/api/v1/tokens/verify", token_verify, SRV_BODY_JSON, SRV_ADMIN},
    {"GET", "/api/v1/protected", protected_list, SRV_BODY_NONE, SRV_TOKEN},
    {"PUT", "/api/v1/protected/{name*}", protect_set, SRV_BODY_JSON, SRV_ADMIN},
    {"DELETE", "/api/v1/protected/{name*}", protect_set, SRV_BODY_NONE, SRV_ADMIN},
    {"POST", "/api/v1/gc", gc, SRV_BODY_JSON, SRV_ADMIN},
    {"GET", "/api/v1/envs", env_list, SRV_BODY_NONE, SRV_ADMIN},
    {"POST", "/api/v1/envs/gc", env_gc, SRV_BODY_JSON, SRV_ADMIN},
    {"POST", "/api/v1/prune-aborted", prune_aborted, SRV_BODY_JSON, SRV_ADMIN},
    {NULL, NULL, NULL, 0, 0},
};
