/* iceberg/rest.c — the Iceberg REST catalog (read routes and register),
 * for a server to mount under /iceberg/ (docs/iceberg.md).
 *
 * Every ref is a catalog. It is named in one of two ways:
 *   /iceberg/REF/v1/...            (REF in the address, as Bauplan does)
 *   /iceberg/v1/PREFIX/...         (the prefix /v1/config?warehouse=REF gives)
 * and /iceberg/v1/namespaces/... reads the server's active branch. A prefix
 * is the ref itself when it is plain ([A-Za-z0-9._-]) and no word the spec
 * uses after /v1/, else "b64." and the ref in base64url, so that any ref
 * expression (feature/x, main~3, main@{2026-01-01T00:00:00Z}) fits one
 * path segment.
 *
 * Readers fetch files from /iceberg/files/KEY (data and metadata objects
 * of the store, authenticated by the server like every route): the
 * metadata this catalog hands out names its files there. A key is 128
 * random bits (data) or derived from random keys (metadata), so a reader
 * only ever learns one through a table it was allowed to load. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/names.h"
#include "iceberg/iceberg.h"
#include "tarn/iceberg.h"
#include "tarn/table.h"
#include "util/error.h"

/* Route words that follow /v1/ directly (no prefix). */
static const char *const ROUTE_WORDS[] = {"namespaces",   "tables", "views",
                                          "transactions", "oauth",  "config"};

static int route_word(const char *seg, size_t len)
{
    for (size_t i = 0; i < sizeof ROUTE_WORDS / sizeof *ROUTE_WORDS; i++)
        if (strlen(ROUTE_WORDS[i]) == len && !strncmp(seg, ROUTE_WORDS[i], len)) return 1;
    return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void prefix_of(strbuf *out, const char *ref)
{
    int plain = *ref && !route_word(ref, strlen(ref)) && strncmp(ref, "b64.", 4) != 0;
    for (const char *p = ref; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '.' || *p == '_' || *p == '-';
    if (plain) {
        sb_append(out, ref);
        return;
    }
    sb_append(out, "b64.");
    const unsigned char *s = (const unsigned char *)ref;
    size_t n = strlen(ref);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {B64[v >> 18 & 63], B64[v >> 12 & 63], B64[v >> 6 & 63], B64[v & 63]};
        sb_appendn(out, q, i + 2 < n ? 4 : i + 1 < n ? 3 : 2);
    }
}

/* The ref a prefix (or a path segment of the /REF/v1/ form) names; NULL
 * when it does not decode. */
static char *ref_of(const char *seg, size_t len)
{
    if (len < 4 || strncmp(seg, "b64.", 4) != 0) return strndup(seg, len);
    strbuf out = {0};
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 4; i < len; i++) {
        const char *at = strchr(B64, seg[i]);
        if (!at || !seg[i]) {
            sb_free(&out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)(at - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)(acc >> bits & 0xff);
            if (!c) {
                sb_free(&out);
                return NULL;
            }
            sb_appendn(&out, &c, 1);
        }
    }
    if (!out.s) sb_append(&out, "");
    return out.s;
}

/* ---- answers --------------------------------------------------------------------- */

static int reply_json(tarn_iceberg_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return body && !out->body ? TARN_ENOMEM : 0;
}

/* The REST spec's error shape: {"error": {"message", "type", "code"}}. */
static int reply_error(tarn_iceberg_response *out, int status, const char *type, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static int reply_error(tarn_iceberg_response *out, int status, const char *type, const char *fmt,
                       ...)
{
    char msg[TARN_MESSAGE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *safe = tarn_utf8_repair(msg, strlen(msg));
    int rc = reply_json(out, status,
                        json_pack("{s:{s:s,s:s,s:i}}", "error", "message", safe ? safe : "error",
                                  "type", type, "code", status));
    tarn_free(safe);
    return rc;
}

/* A library failure as a REST error. NOT_FOUND_TYPE names what was not
 * found (NoSuchTableException, ...). */
static int reply_failure(tarn_iceberg_response *out, int rc, tarn_error *err,
                         const char *not_found_type)
{
    int status = 500;
    const char *type = "ServerErrorException";
    switch (rc) {
    case TARN_ENOTFOUND:
        status = 404;
        type = not_found_type;
        break;
    case TARN_EINVALID:
    case TARN_EAMBIGUOUS:
        status = 400;
        type = "BadRequestException";
        break;
    case TARN_EEXISTS:
        status = 409;
        type = "AlreadyExistsException";
        break;
    case TARN_EDENIED:
        status = 403;
        type = "ForbiddenException";
        break;
    case TARN_ECONFLICT:
        status = 409;
        type = "CommitFailedException";
        break;
    case TARN_EABORTED:
        status = 403;
        type = "ForbiddenException";
        break;
    case TARN_ERETRY:
        status = 503;
        type = "ServiceUnavailableException";
        break;
    default:
        break;
    }
    int r =
        reply_error(out, status, type, "%s", err->message[0] ? err->message : tarn_strerror(rc));
    tarn_error_clear(err);
    return r;
}

/* ---- requests ---------------------------------------------------------------------- */

typedef struct call {
    tarn_iceberg_response *out;
    tarn_lake *lake;
    const tarn_iceberg_request *req;
    char *ref;         /* NULL: the active branch */
    const char *route; /* after /v1/ and the prefix */
    int prefix_given;  /* the ref came from the address */
} call;

static const char *arg(const call *c, const char *name)
{
    return c->req->arg ? c->req->arg(c->req->ctx, name) : NULL;
}

static const char *ref_shown(const call *c)
{
    return c->ref ? c->ref : tarn__ref_display(c->lake, NULL);
}

/* Refuses (403) when the caller may not read the call's ref. */
static int check_read(call *c, const char *ref)
{
    char active[TARN_NAME_MAX + 1];
    if (!ref) {
        if (tarn_lake_active_branch(active, sizeof active, c->lake, NULL) < 0)
            snprintf(active, sizeof active, "main");
        ref = active;
    }
    if (!c->req->may_read || c->req->may_read(c->req->ctx, ref)) return 0;
    reply_error(c->out, 403, "ForbiddenException",
                "this token may not read '%s' (ask an admin for a token with that right)", ref);
    return -1;
}

/* The tree and commit of the call's ref; on failure answers (404). */
static int load_ref(tarn_tree *tree, tarn_commit_row *commit, call *c)
{
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn__ref_tree(tree, &id, c->lake, c->ref, &err);
    if (rc == 0) rc = tarn__commit_load(commit, c->lake, id.hex, &err);
    if (rc < 0) {
        tarn__tree_clear(tree);
        reply_failure(c->out, rc, &err, "NotFoundException");
    }
    return rc;
}

/* One namespace segment (a multi-level one, joined by 0x1F, is none of
 * tarn's); 0 or, after answering 404, -1. */
static int namespace_arg(char *out, size_t size, call *c, const char *seg, size_t len)
{
    if (len == 0 || len >= size || memchr(seg, 0x1f, len) ||
        (snprintf(out, size, "%.*s", (int)len, seg), tarn_name_check_namespace(out, NULL) < 0)) {
        reply_error(c->out, 404, "NoSuchNamespaceException",
                    "namespace '%.*s' does not exist at '%s'", (int)len, seg, ref_shown(c));
        return -1;
    }
    return 0;
}

static int has_namespace(const tarn_tree *t, const char *ns)
{
    tarn_tree_entry *e = tarn__tree_find(t, ns);
    return e && e->kind == TARN_ENTRY_NAMESPACE;
}

static int config(call *c)
{
    json_t *overrides = json_object();
    const char *warehouse = arg(c, "warehouse");
    /* iceberg-js and pyiceberg send the warehouse they were given; the
     * catalog of that ref is then the prefix. In the /REF/v1/ form the
     * address already names the ref. */
    const char *ref = c->prefix_given ? c->ref : warehouse;
    if (ref && *ref) {
        if (check_read(c, ref) < 0) {
            json_decref(overrides);
            return 0;
        }
        tarn_commit_id id;
        tarn_error err = TARN_ERROR_INIT;
        int rc = tarn_ref_resolve(&id, c->lake, ref, &err);
        if (rc < 0) {
            json_decref(overrides);
            return reply_failure(c->out, rc, &err, "NotFoundException");
        }
        if (warehouse) {
            strbuf p = {0};
            prefix_of(&p, ref);
            json_object_set_new(overrides, "prefix", json_string(p.s));
            sb_free(&p);
        }
    }
    json_t *endpoints = json_pack("[s,s,s,s,s,s,s,s]", "GET /v1/{prefix}/namespaces",
                                  "GET /v1/{prefix}/namespaces/{namespace}",
                                  "HEAD /v1/{prefix}/namespaces/{namespace}",
                                  "GET /v1/{prefix}/namespaces/{namespace}/tables",
                                  "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
                                  "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
                                  "POST /v1/{prefix}/namespaces/{namespace}/register",
                                  "GET /v1/{prefix}/namespaces/{namespace}/views");
    return reply_json(
        c->out, 200,
        json_pack("{s:{},s:o,s:o}", "defaults", "overrides", overrides, "endpoints", endpoints));
}

static int list_namespaces(call *c)
{
    if (check_read(c, c->ref) < 0) return 0;
    tarn_tree t;
    tarn_commit_row commit = {0};
    if (load_ref(&t, &commit, c) < 0) return 0;
    json_t *list = json_array();
    /* tarn's namespaces are one level: none has children. */
    const char *parent = arg(c, "parent");
    for (size_t i = 0; !(parent && *parent) && i < t.n; i++)
        if (t.entries[i].kind == TARN_ENTRY_NAMESPACE)
            json_array_append_new(list, json_pack("[s]", t.entries[i].name));
    tarn__tree_clear(&t);
    tarn__commit_row_clear(&commit);
    return reply_json(c->out, 200, json_pack("{s:o}", "namespaces", list));
}

static int load_namespace(call *c, const char *ns, int head)
{
    if (check_read(c, c->ref) < 0) return 0;
    tarn_tree t;
    tarn_commit_row commit = {0};
    if (load_ref(&t, &commit, c) < 0) return 0;
    int found = has_namespace(&t, ns);
    tarn__tree_clear(&t);
    tarn__commit_row_clear(&commit);
    if (!found)
        return reply_error(c->out, 404, "NoSuchNamespaceException",
                           "namespace '%s' does not exist at '%s'", ns, ref_shown(c));
    if (head) return reply_json(c->out, 204, NULL);
    return reply_json(c->out, 200, json_pack("{s:[s],s:{}}", "namespace", ns, "properties"));
}

static int list_tables(call *c, const char *ns, int views)
{
    if (check_read(c, c->ref) < 0) return 0;
    tarn_tree t;
    tarn_commit_row commit = {0};
    if (load_ref(&t, &commit, c) < 0) return 0;
    int rc = 0;
    if (!has_namespace(&t, ns)) {
        rc = reply_error(c->out, 404, "NoSuchNamespaceException",
                         "namespace '%s' does not exist at '%s'", ns, ref_shown(c));
    } else {
        json_t *ids = json_array();
        size_t len = strlen(ns);
        for (size_t i = 0; !views && i < t.n; i++) {
            const tarn_tree_entry *e = &t.entries[i];
            if (e->kind == TARN_ENTRY_TABLE && !strncmp(e->name, ns, len) && e->name[len] == '.')
                json_array_append_new(
                    ids, json_pack("{s:[s],s:s}", "namespace", ns, "name", e->name + len + 1));
        }
        rc = reply_json(c->out, 200, json_pack("{s:o}", "identifiers", ids));
    }
    tarn__tree_clear(&t);
    tarn__commit_row_clear(&commit);
    return rc;
}

/* LoadTableResult for table NS.NAME at the call's ref. */
static int load_table(call *c, const char *ns, const char *name, int head)
{
    if (check_read(c, c->ref) < 0) return 0;
    char qualified[300];
    snprintf(qualified, sizeof qualified, "%s.%s", ns, name);
    tarn_error err = TARN_ERROR_INIT;
    if (tarn_name_check_table(qualified, &err) < 0)
        return reply_error(c->out, 404, "NoSuchTableException", "table '%s' does not exist at '%s'",
                           qualified, ref_shown(c));
    tarn_tree t;
    tarn_commit_row commit = {0};
    if (load_ref(&t, &commit, c) < 0) return 0;
    tarn_tree_entry *e = NULL;
    int rc = tarn__name_lookup(&e, &t, qualified, 1, &err);
    json_t *md = NULL;
    char *location = NULL;
    if (rc < 0) {
        rc = reply_failure(c->out, rc, &err, "NoSuchTableException");
    } else if (!e || e->kind != TARN_ENTRY_TABLE) {
        rc = reply_error(c->out, 404, "NoSuchTableException", "table '%s' does not exist at '%s'",
                         qualified, ref_shown(c));
    } else if (head) {
        rc = reply_json(c->out, 204, NULL);
    } else {
        strbuf files = {0};
        sb_printf(&files, "%s/files/", c->req->base_url ? c->req->base_url : "");
        rc = tarn__ice_cached(&md, &location, c->lake, e->name, e->version, commit.time_us, files.s,
                              &err);
        if (rc < 0) {
            rc = reply_failure(c->out, rc, &err, "NoSuchTableException");
        } else {
            json_t *cfg = json_pack("{s:s,s:s,s:s}", "tarn.files", files.s, "tarn.version",
                                    e->version, "tarn.commit", commit.hash);
            rc = reply_json(c->out, 200,
                            json_pack("{s:s,s:o,s:o}", "metadata-location", location, "metadata",
                                      md, "config", cfg));
            md = NULL;
        }
        sb_free(&files);
    }
    json_decref(md);
    free(location);
    tarn__tree_clear(&t);
    tarn__commit_row_clear(&commit);
    return rc;
}

static int register_table(call *c, const char *ns)
{
    json_t *body = c->req->body ? json_loadb(c->req->body, c->req->body_len, 0, NULL) : NULL;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *location = json_string_value(json_object_get(body, "metadata-location"));
    int rc = 0;
    char active[TARN_NAME_MAX + 1];
    const char *branch = c->ref;
    if (!branch && tarn_lake_active_branch(active, sizeof active, c->lake, NULL) == 0)
        branch = active;
    if (!name || !location) {
        rc = reply_error(
            c->out, 400, "BadRequestException",
            "register needs a JSON body {\"name\": TABLE, \"metadata-location\": LOCATION}");
    } else if (json_is_true(json_object_get(body, "overwrite"))) {
        rc = reply_error(
            c->out, 406, "UnsupportedOperationException",
            "register with overwrite is not supported: remove the table first (tarn table rm)");
    } else if (c->req->may_write && !c->req->may_write(c->req->ctx, branch ? branch : "")) {
        rc = reply_error(c->out, 403, "ForbiddenException",
                         "this token may not write '%s' (ask an admin for a token with that right)",
                         branch ? branch : "");
    } else if (c->req->version >= 2 && !c->req->register_root) {
        rc = reply_error(c->out, 403, "ForbiddenException",
                         "registering tables through this catalog is off: its server reads only "
                         "metadata under a folder it is given (tarn serve --iceberg-register-root "
                         "DIR), or register on the lakehouse's host (tarn table create-external)");
    } else {
        char qualified[300];
        snprintf(qualified, sizeof qualified, "%s.%s", ns, name);
        tarn_error err = TARN_ERROR_INIT;
        tarn_commit_id id;
        rc = tarn__ice_register_within(&id, c->lake, qualified, location, branch,
                                       c->req->version >= 2 ? c->req->register_root : NULL, &err);
        if (rc < 0)
            rc = reply_failure(c->out, rc, &err, "NotFoundException");
        else
            rc = load_table(c, ns, name, 0);
    }
    json_decref(body);
    return rc;
}

static int unsupported(call *c)
{
    return reply_error(
        c->out, 406, "UnsupportedOperationException",
        "%s /v1/%s is not supported: tarn's Iceberg catalog reads tables (and registers "
        "external ones); write with tarn itself (tarn table import, tarn run)",
        c->req->method, c->route);
}

/* Routes after /v1/[PREFIX/]. */
static int dispatch(call *c)
{
    const char *m = c->req->method, *r = c->route;
    int get = !strcmp(m, "GET"), head = !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
    if (!strcmp(r, "config")) return get ? config(c) : unsupported(c);
    if (!strcmp(r, "namespaces")) return get ? list_namespaces(c) : unsupported(c);
    if (strncmp(r, "namespaces/", 11) != 0) {
        if (!strcmp(r, "tables/rename") || !strncmp(r, "transactions", 12)) return unsupported(c);
        return reply_error(c->out, 404, "NotFoundException",
                           "no route %s /v1/%s in the Iceberg REST catalog", m, r);
    }
    const char *ns_seg = r + 11, *slash = strchr(ns_seg, '/');
    size_t ns_len = slash ? (size_t)(slash - ns_seg) : strlen(ns_seg);
    char ns[160];
    if (namespace_arg(ns, sizeof ns, c, ns_seg, ns_len) < 0) return 0;
    const char *rest = slash ? slash + 1 : NULL;
    if (!rest) return get || head ? load_namespace(c, ns, head) : unsupported(c);
    if (!strcmp(rest, "tables")) return get ? list_tables(c, ns, 0) : unsupported(c);
    if (!strcmp(rest, "views")) return get ? list_tables(c, ns, 1) : unsupported(c);
    if (!strcmp(rest, "register")) return post ? register_table(c, ns) : unsupported(c);
    if (!strncmp(rest, "tables/", 7) && rest[7] && !strchr(rest + 7, '/'))
        return get || head ? load_table(c, ns, rest + 7, head) : unsupported(c);
    return reply_error(c->out, 404, "NotFoundException",
                       "no route %s /v1/%s in the Iceberg REST catalog", m, r);
}

/* GET /files/KEY: an object of the store, as a local file to send. */
static int file_route(tarn_iceberg_response *out, tarn_lake *lake, const tarn_iceberg_request *req,
                      const char *key)
{
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
        return reply_error(out, 405, "BadRequestException", "files are read with GET");
    if ((strncmp(key, "data/", 5) && strncmp(key, "iceberg/", 8)) || strstr(key, "..") ||
        strstr(key, "//"))
        return reply_error(out, 404, "NotFoundException", "no file '%s' here", key);
    tarn_error err = TARN_ERROR_INIT;
    int64_t size = 0;
    int rc = lake->store->vt->stat(lake->store, key, &size, &err);
    char path[8192];
    if (rc == 0) rc = lake->store->vt->read_url(lake->store, key, path, sizeof path, &err);
    struct stat st;
    if (rc == 0 && stat(path, &st) != 0) rc = TARN_ENOTFOUND;
    if (rc < 0) return reply_failure(out, rc, &err, "NotFoundException");
    out->status = 200;
    out->file = strdup(path);
    out->file_size = (int64_t)st.st_size;
    size_t len = strlen(key);
    out->content_type = len > 5 && !strcmp(key + len - 5, ".json") ? "application/json"
                                                                   : "application/octet-stream";
    return out->file ? 0 : TARN_ENOMEM;
}

int tarn_iceberg_rest_handle(tarn_iceberg_response *out, tarn_lake *lake,
                             const tarn_iceberg_request *req)
{
    memset(out, 0, sizeof *out);
    if (!req || req->version != TARN_ICEBERG_REQUEST_VERSION || !req->method || !req->path)
        return reply_error(out, 500, "ServerErrorException",
                           "the server passed a request this library does not know");
    const char *p = req->path;
    if (!strncmp(p, "/files/", 7)) return file_route(out, lake, req, p + 7);
    call c = {out, lake, req, NULL, NULL, 0};
    int rc;
    if (!strncmp(p, "/v1/", 4)) {
        /* /v1/ROUTE or /v1/PREFIX/ROUTE */
        const char *seg = p + 4, *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (route_word(seg, len) || !slash) {
            c.route = seg;
        } else {
            c.ref = ref_of(seg, len);
            c.route = slash + 1;
            c.prefix_given = 1;
        }
    } else {
        /* /REF/v1/ROUTE: REF may hold '/', so it ends at the first /v1/. */
        const char *v1 = strstr(p, "/v1/");
        if (p[0] != '/' || !v1 || v1 == p)
            return reply_error(out, 404, "NotFoundException",
                               "no route %s %s: use /iceberg/REF/v1/... or /iceberg/v1/PREFIX/... "
                               "(see /iceberg/v1/config?warehouse=REF)",
                               req->method, p);
        c.ref = ref_of(p + 1, (size_t)(v1 - p - 1));
        c.prefix_given = 1;
        const char *seg = v1 + 4, *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        c.route = seg;
        if (slash && !route_word(seg, len)) {
            /* A prefix after /REF/v1/ (a client given a warehouse too) wins. */
            free(c.ref);
            c.ref = ref_of(seg, len);
            c.route = slash + 1;
        }
    }
    if (c.prefix_given && !c.ref)
        return reply_error(out, 400, "BadRequestException",
                           "the catalog prefix in %s does not decode to a ref", p);
    rc = dispatch(&c);
    free(c.ref);
    return rc;
}

void tarn_iceberg_response_clear(tarn_iceberg_response *r)
{
    if (!r) return;
    free(r->body);
    free(r->file);
    memset(r, 0, sizeof *r);
}
