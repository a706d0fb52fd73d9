/* server/api_refs.c — branches, tags, the log, diff and merge. A list
 * shows only the refs the token may read; every ref a request names is
 * checked against the token's rights before anything happens. */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static json_t *ref_json(const tarn_ref_entry *e)
{
    return json_pack("{s:o,s:s,s:s,s:b,s:I}", "name", srv_jstr(e->name), "commit", e->commit.hex, "kind",
                     e->kind == TARN_REF_TAG ? "tag" : "branch", "aborted", e->aborted, "updated_us",
                     (json_int_t)e->updated_us);
}

static tarn_ref_kind kind_of(srv_req *r)
{
    return strstr(r->route->pattern, "/tags") ? TARN_REF_TAG : TARN_REF_BRANCH;
}

static int ref_list(srv_req *r)
{
    SRV_TAKE_LAKE(r, lake);
    tarn_error err = TARN_ERROR_INIT;
    tarn_ref_entry *list = NULL;
    size_t n = 0;
    int rc = tarn_ref_list(&list, &n, lake, kind_of(r), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (tarn_token_may_read(&r->tok, list[i].name)) json_array_append_new(arr, ref_json(&list[i]));
    tarn_free(list);
    return srv_reply_json(r, 200, json_pack("{s:o}", kind_of(r) == TARN_REF_TAG ? "tags" : "branches", arr));
}

static int ref_get(srv_req *r)
{
    const char *name = srv_param(r, "name");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, name));
    tarn_error err = TARN_ERROR_INIT;
    tarn_ref_entry *list = NULL;
    size_t n = 0;
    int rc = tarn_ref_list(&list, &n, lake, kind_of(r), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *found = NULL;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(list[i].name, name) == 0) found = ref_json(&list[i]);
    tarn_free(list);
    if (!found) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s '%.255s' does not exist", kind_of(r) == TARN_REF_TAG ? "tag" : "branch", name);
        return srv_reply_msg(r, 404, "not_found", msg);
    }
    return srv_reply_json(r, 200, found);
}

static int ref_create(srv_req *r)
{
    const char *name = srv_body_str(r, "name"), *from = srv_body_str(r, "from");
    if (!name) return srv_reply_msg(r, 400, "invalid", "give the new ref's name: {\"name\": ..., \"from\": REF}");
    SRV_TAKE_LAKE(r, lake);
    /* A tag is written once: creating one needs the write right on its name. */
    SRV_RIGHT(r, lake, srv_need_write(r, lake, name));
    SRV_RIGHT(r, lake, srv_need_read(r, lake, from));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = kind_of(r) == TARN_REF_TAG ? tarn_tag_create(&id, lake, name, from, &err)
                                        : tarn_branch_create(&id, lake, name, from, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 201, json_pack("{s:o,s:s}", "name", srv_jstr(name), "commit", id.hex));
}

static int ref_delete(srv_req *r)
{
    const char *name = srv_param(r, "name");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, name));
    tarn_error err = TARN_ERROR_INIT;
    int rc = kind_of(r) == TARN_REF_TAG ? tarn_tag_delete(lake, name, &err) : tarn_branch_delete(lake, name, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:b}", "name", srv_jstr(name), "deleted", 1));
}

static int ref_rename(srv_req *r)
{
    const char *name = srv_param(r, "name"), *to = srv_body_str(r, "name");
    if (!to) return srv_reply_msg(r, 400, "invalid", "give the new name: {\"name\": NEW}");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_write(r, lake, name));
    SRV_RIGHT(r, lake, srv_need_write(r, lake, to));
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_ref_rename(lake, kind_of(r), name, to, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:o}", "old", srv_jstr(name), "name", srv_jstr(to)));
}

static int resolve(srv_req *r)
{
    const char *ref = srv_arg(r, "ref");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, ref));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_ref_resolve(&id, lake, ref, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:o,s:s}", "ref", srv_jstr(ref), "commit", id.hex));
}

static int commits(srv_req *r)
{
    const char *ref = srv_arg(r, "ref");
    int64_t limit;
    if (srv_int(&limit, r, "limit", 0) < 0 || limit < 0)
        return srv_reply_msg(r, 400, "invalid", "limit must be a number of commits (0: all)");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, ref));
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_info *c = NULL;
    size_t n = 0;
    int rc = tarn_commit_log(&c, &n, lake, ref, (size_t)limit, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *parents = json_array();
        for (size_t p = 0; p < c[i].nparents; p++) json_array_append_new(parents, json_string(c[i].parents[p].hex));
        json_t *props = json_loads(c[i].properties_json ? c[i].properties_json : "{}", 0, NULL);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:o,s:I,s:o}", "hash", c[i].id.hex, "parents", parents,
                                             "author", srv_jstr(c[i].author), "message", srv_jstr(c[i].message),
                                             "time_us", (json_int_t)c[i].time_us, "properties",
                                             props ? props : json_object()));
    }
    tarn_commit_info_free(c, n);
    return srv_reply_json(r, 200, json_pack("{s:o}", "commits", arr));
}

static int diff(srv_req *r)
{
    const char *from = srv_arg(r, "from"), *to = srv_arg(r, "to");
    if (!from) return srv_reply_msg(r, 400, "invalid", "give the ref to compare from: ?from=REF[&to=REF]");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, from));
    SRV_RIGHT(r, lake, srv_need_read(r, lake, to));
    tarn_error err = TARN_ERROR_INIT;
    tarn_diff_entry *d = NULL;
    size_t n = 0;
    int rc = tarn_diff(&d, &n, lake, from, to, &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    static const char *const kinds[] = {"added", "removed", "changed"};
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:I,s:I}", "table", srv_jstr(d[i].table), "kind",
                                             kinds[d[i].kind], "rows_from", (json_int_t)d[i].rows_from, "rows_to",
                                             (json_int_t)d[i].rows_to));
    tarn_diff_free(d, n);
    return srv_reply_json(r, 200, json_pack("{s:o}", "changes", arr));
}

static int merge(srv_req *r)
{
    const char *source = srv_body_str(r, "source"), *into = srv_body_str(r, "into");
    if (!source) return srv_reply_msg(r, 400, "invalid", "give the ref to merge: {\"source\": REF, \"into\": BRANCH}");
    SRV_TAKE_LAKE(r, lake);
    SRV_RIGHT(r, lake, srv_need_read(r, lake, source));
    SRV_RIGHT(r, lake, srv_need_write(r, lake, into));
    tarn_error err = TARN_ERROR_INIT;
    tarn_merge_result m;
    int rc = tarn_branch_merge(&m, lake, source, into, srv_body_str(r, "message"), &err);
    srv_lake_put(r->s, lake);
    if (rc < 0) return srv_reply_error(r, rc, &err);
    return srv_reply_json(r, 200, json_pack("{s:s,s:b,s:b}", "commit", m.commit.hex, "fast_forward", m.fast_forward,
                                            "up_to_date", m.up_to_date));
}

const srv_route srv_api_refs[] = {
    {"GET", "/api/v1/branches", ref_list, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/branches", ref_create, SRV_BODY_JSON, SRV_TOKEN},
    {"GET", "/api/v1/branches/{name*}", ref_get, SRV_BODY_NONE, SRV_TOKEN},
    {"PATCH", "/api/v1/branches/{name*}", ref_rename, SRV_BODY_JSON, SRV_TOKEN},
    {"DELETE", "/api/v1/branches/{name*}", ref_delete, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/tags", ref_list, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/tags", ref_create, SRV_BODY_JSON, SRV_TOKEN},
    {"GET", "/api/v1/tags/{name*}", ref_get, SRV_BODY_NONE, SRV_TOKEN},
    {"PATCH", "/api/v1/tags/{name*}", ref_rename, SRV_BODY_JSON, SRV_TOKEN},
    {"DELETE", "/api/v1/tags/{name*}", ref_delete, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/resolve", resolve, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/commits", commits, SRV_BODY_NONE, SRV_TOKEN},
    {"GET", "/api/v1/diff", diff, SRV_BODY_NONE, SRV_TOKEN},
    {"POST", "/api/v1/merge", merge, SRV_BODY_JSON, SRV_TOKEN},
    {NULL, NULL, NULL, 0, 0},
};
