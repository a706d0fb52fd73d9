/* remote/refs.c — branches, tags, the log, diff and merge on a server
 * (/api/v1/branches, /tags, /resolve, /commits, /diff, /merge). A ref left
 * out means this client's active branch, never the server's. */
#include <stdlib.h>
#include <string.h>

#include "remote/remote.h"
#include "util/error.h"

static const char *kind_path(tarn_ref_kind kind)
{
    return kind == TARN_REF_TAG ? "tags" : "branches";
}

int tarn_remote__ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err)
{
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/resolve");
    tarn_remote__arg(&p, "ref", ref);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    tarn_remote__commit(out, v, "commit");
    json_decref(v);
    return 0;
}

int tarn_remote__ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                          tarn_error *err)
{
    *out = NULL;
    *count = 0;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/%s", kind_path(kind));
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, kind_path(kind));
    size_t n = json_array_size(list);
    tarn_ref_entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        json_decref(v);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(list, i);
        snprintf(e[i].name, sizeof e[i].name, "%s", tarn_remote__str(r, "name"));
        tarn_remote__commit(&e[i].commit, r, "commit");
        e[i].kind = kind;
        e[i].aborted = json_is_true(json_object_get(r, "aborted"));
        e[i].updated_us = json_integer_value(json_object_get(r, "updated_us"));
    }
    json_decref(v);
    *out = e;
    *count = n;
    return 0;
}

static int ref_create(tarn_commit_id *out, tarn_lake *lake, tarn_ref_kind kind, const char *name,
                      const char *from_ref, tarn_error *err)
{
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&from_ref, buf, lake, from_ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/%s", kind_path(kind));
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(
        tarn_remote__json(&v, lake, "POST", &p,
                          json_pack("{s:s,s:s}", "name", name ? name : "", "from", from_ref), err));
    if (out) tarn_remote__commit(out, v, "commit");
    json_decref(v);
    return 0;
}

static int ref_delete(tarn_lake *lake, tarn_ref_kind kind, const char *name, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/%s/%s", kind_path(kind), name ? name : "");
    return tarn_remote__json(NULL, lake, "DELETE", &p, NULL, err);
}

int tarn_remote__branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                               const char *from_ref, tarn_error *err)
{
    return ref_create(out, lake, TARN_REF_BRANCH, name, from_ref, err);
}

int tarn_remote__tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                            const char *from_ref, tarn_error *err)
{
    return ref_create(out, lake, TARN_REF_TAG, name, from_ref, err);
}

int tarn_remote__branch_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    /* The active branch, which is this client's, cannot be deleted; a
     * protected one is refused first, by the server, as locally. */
    char active[256];
    TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
    if (name && strcmp(active, name) == 0) {
        tarn_protect_mode mode;
        TARN_RETURN_NOT_OK(tarn_remote__branch_protection(&mode, lake, name, err));
        if (mode == TARN_PROTECT_NONE)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot delete the active branch '%s' (check out another first)",
                                   name);
    }
    return ref_delete(lake, TARN_REF_BRANCH, name, err);
}

int tarn_remote__tag_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return ref_delete(lake, TARN_REF_TAG, name, err);
}

int tarn_remote__ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                            const char *new_name, tarn_error *err)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/%s/%s", kind_path(kind), old_name ? old_name : "");
    TARN_RETURN_NOT_OK(tarn_remote__json(
        NULL, lake, "PATCH", &p, json_pack("{s:s}", "name", new_name ? new_name : ""), err));
    /* The active branch stays active under its new name, as locally. */
    char active[256];
    if (kind == TARN_REF_BRANCH &&
        tarn_lake_active_branch(active, sizeof active, lake, NULL) == 0 &&
        strcmp(active, old_name) == 0 && !getenv("TARN_BRANCH"))
        tarn_lake_set_active_branch(lake, new_name, NULL);
    return 0;
}

int tarn_remote__branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake,
                                      int64_t older_than_s, int dry_run, tarn_error *err)
{
    *names = NULL;
    *count = 0;
    rm_path p;
    tarn_remote__path(&p, "/api/v1/prune-aborted");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(
        &v, lake, "POST", &p,
        json_pack("{s:I,s:b}", "older_than_s", (json_int_t)older_than_s, "dry_run", dry_run), err));
    json_t *list = json_object_get(v, "branches");
    size_t n = json_array_size(list);
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = strdup(json_string_value(json_array_get(list, i)));
    json_decref(v);
    if (!out) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    *names = out;
    *count = n;
    return 0;
}

int tarn_remote__commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                            size_t limit, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&ref, buf, lake, ref, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/commits");
    tarn_remote__arg(&p, "ref", ref);
    tarn_remote__arg_int(&p, "limit", (int64_t)limit);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, "commits");
    size_t n = json_array_size(list);
    tarn_commit_info *c = calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++) {
        json_t *j = json_array_get(list, i);
        tarn_remote__commit(&c[i].id, j, "hash");
        json_t *parents = json_object_get(j, "parents");
        c[i].nparents = json_array_size(parents) > 2 ? 2 : json_array_size(parents);
        for (size_t k = 0; k < c[i].nparents; k++)
            snprintf(c[i].parents[k].hex, sizeof c[i].parents[k].hex, "%s",
                     json_string_value(json_array_get(parents, k)));
        c[i].author = strdup(tarn_remote__str(j, "author"));
        c[i].message = strdup(tarn_remote__str(j, "message"));
        c[i].time_us = json_integer_value(json_object_get(j, "time_us"));
        json_t *props = json_object_get(j, "properties");
        c[i].properties_json = props ? json_dumps(props, JSON_COMPACT) : strdup("{}");
    }
    json_decref(v);
    if (!c) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    *out = c;
    *count = n;
    return 0;
}

int tarn_remote__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                              const char *into, const char *message, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    char buf[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&into, buf, lake, into, err));
    json_t *body = json_pack("{s:s,s:s}", "source", source_ref ? source_ref : "", "into", into);
    if (message) json_object_set_new(body, "message", json_string(message));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/merge");
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "POST", &p, body, err));
    tarn_remote__commit(&out->commit, v, "commit");
    out->fast_forward = json_is_true(json_object_get(v, "fast_forward"));
    out->up_to_date = json_is_true(json_object_get(v, "up_to_date"));
    json_decref(v);
    return 0;
}

int tarn_remote__diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                      const char *to, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    char b1[256], b2[256];
    TARN_RETURN_NOT_OK(tarn_remote__branch(&from, b1, lake, from, err));
    TARN_RETURN_NOT_OK(tarn_remote__branch(&to, b2, lake, to, err));
    rm_path p;
    tarn_remote__path(&p, "/api/v1/diff");
    tarn_remote__arg(&p, "from", from);
    tarn_remote__arg(&p, "to", to);
    json_t *v = NULL;
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &p, NULL, err));
    json_t *list = json_object_get(v, "changes");
    size_t n = json_array_size(list);
    tarn_diff_entry *d = calloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; d && i < n; i++) {
        json_t *j = json_array_get(list, i);
        const char *kind = tarn_remote__str(j, "kind");
        d[i].table = strdup(tarn_remote__str(j, "table"));
        d[i].kind = strcmp(kind, "added") == 0     ? TARN_DIFF_ADDED
                    : strcmp(kind, "removed") == 0 ? TARN_DIFF_REMOVED
                                                   : TARN_DIFF_CHANGED;
        d[i].rows_from = json_integer_value(json_object_get(j, "rows_from"));
        d[i].rows_to = json_integer_value(json_object_get(j, "rows_to"));
    }
    json_decref(v);
    if (!d) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    *out = d;
    *count = n;
    return 0;
}
