/* remote/admin.c — what a server's admins do through it: garbage
 * collection (/api/v1/gc), tokens (/tokens) and protected branches
 * (/protected). The server checks the admin right; a refusal comes back as
 * TARN_EDENIED with its message. */
#include <stdlib.h>
#include <string.h>

#include "remote/remote.h"
#include "util/error.h"

int tarn_remote__gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts,
                    tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_gc_options o = opts ? *opts : (tarn_gc_options)TARN_GC_OPTIONS_INIT;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/gc");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(
        tarn_remote__json(&v, lake, "POST", &p,
                          json_pack("{s:b,s:I,s:b}", "dry_run", o.dry_run, "grace_seconds",
                                    (json_int_t)o.grace_seconds, "list_files", o.on_file != NULL),
                          err));
    out->files = json_integer_value(json_object_get(v, "files"));
    out->bytes = json_integer_value(json_object_get(v, "bytes"));
    out->kept_recent = json_integer_value(json_object_get(v, "kept_recent"));
    out->referenced = json_integer_value(json_object_get(v, "referenced"));
    out->in_flight = json_integer_value(json_object_get(v, "in_flight"));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(v, "collected"), i, f)
    {
        if (o.on_file)
            o.on_file(tarn_remote__str(f, "key"),
                      json_integer_value(json_object_get(f, "size_bytes")), o.ctx);
    }
    json_decref(v);
    return 0;
}

static void token_from(tarn_token_info *t, json_t *j)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", tarn_remote__str(j, "id"));
    snprintf(t->user, sizeof t->user, "%s", tarn_remote__str(j, "user"));
    snprintf(t->read, sizeof t->read, "%s", tarn_remote__str(j, "read"));
    snprintf(t->write, sizeof t->write, "%s", tarn_remote__str(j, "write"));
    t->admin = json_is_true(json_object_get(j, "admin"));
    t->created_us = json_integer_value(json_object_get(j, "created_us"));
    t->expires_us = json_integer_value(json_object_get(j, "expires_us"));
    t->revoked_us = json_integer_value(json_object_get(j, "revoked_us"));
}

int tarn_remote__token_create(char **token, tarn_token_info *info, tarn_lake *lake,
                              const char *user, const tarn_token_options *opts, tarn_error *err)
{
    *token = NULL;
    tarn_token_options o = opts ? *opts : (tarn_token_options)TARN_TOKEN_OPTIONS_INIT;
    json_t *body = json_pack("{s:s,s:b,s:I}", "user", user ? user : "", "admin", o.admin,
                             "expires_in_s", (json_int_t)o.expires_in_s);
    if (o.read) json_object_set_new(body, "read", json_string(o.read));
    if (o.write) json_object_set_new(body, "write", json_string(o.write));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tokens");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "POST", &p, body, err));
    if (info) token_from(info, v);
    *token = strdup(tarn_remote__str(v, "token"));
    json_decref(v);
    return *token ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}

int tarn_remote__token_list(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tokens");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, "tokens");
    size_t n = json_array_size(list);
    tarn_token_info *t = calloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; t && i < n; i++)
        token_from(&t[i], json_array_get(list, i));
    json_decref(v);
    if (!t) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    *out = t;
    *count = n;
    return 0;
}

int tarn_remote__token_revoke(tarn_lake *lake, const char *id, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tokens/%s", id ? id : "");
    return tarn_remote__json(NULL, lake, "DELETE", &p, NULL, err);
}

int tarn_remote__token_verify(tarn_token_info *out, tarn_lake *lake, const char *token,
                              tarn_error *err)
{
    memset(out, 0, sizeof *out);
    rm_path p;
    tarn_remote__path(&p, "/api/v1/tokens/verify");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "POST", &p,
                                         json_pack("{s:s}", "token", token ? token : ""), err));
    token_from(out, v);
    json_decref(v);
    return 0;
}

int tarn_remote__branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                                tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/protected/%s", name ? name : "");
    if (mode == TARN_PROTECT_NONE) return tarn_remote__json(NULL, lake, "DELETE", &p, NULL, err);
    return tarn_remote__json(
        NULL, lake, "PUT", &p,
        json_pack("{s:s}", "mode", mode == TARN_PROTECT_RUNS ? "runs" : "merges"), err);
}

int tarn_remote__branch_protected_list(char **json, tarn_lake *lake, tarn_error *err)
{
    *json = NULL;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/protected");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    *json = json_dumps(json_object_get(v, "protected"), JSON_COMPACT);
    json_decref(v);
    return *json ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}

int tarn_remote__branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                                   tarn_error *err)
{
    *out = TARN_PROTECT_NONE;
    char *text = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__branch_protected_list(&text, lake, err));
    json_t *list = json_loads(text, 0, NULL);
    tarn_free(text);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (name && strcmp(tarn_remote__str(e, "name"), name) == 0)
            *out = strcmp(tarn_remote__str(e, "mode"), "runs") == 0 ? TARN_PROTECT_RUNS
                                                                    : TARN_PROTECT_MERGES;
    }
    json_decref(list);
    return 0;
}
