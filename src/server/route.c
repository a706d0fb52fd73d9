/* server/route.c — the route table: every resource's routes, mounted
 * under their prefix. A pattern is matched segment by segment; `{name}`
 * takes one segment, a last `{name*}` the rest of the path (branch names
 * may hold '/'). Another module (the Iceberg REST catalog) mounts its
 * table the same way, under its own prefix. */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static const srv_route *const MOUNTS[] = {srv_api_failures, srv_api_admin, srv_api_refs, srv_api_tables, srv_api_query, srv_api_runs,
                                       srv_api_iceberg};
#define NMOUNTS (sizeof MOUNTS / sizeof *MOUNTS)

/* Matches PATH against PATTERN; fills R's parameters when R is not NULL. */
static int match(srv_req *r, const char *pattern, const char *path)
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close) return 0;
            int rest = close[-1] == '*';
            size_t nlen = (size_t)(close - p - 1 - rest);
            size_t vlen = rest ? strlen(s) : strcspn(s, "/");
            if (vlen == 0 || np >= SRV_MAX_PARAMS) return 0;
            if (r) {
                r->pnames[np] = strndup(p + 1, nlen);
                r->pvals[np] = strndup(s, vlen);
            }
            np++;
            p = close + 1;
            s += vlen;
            continue;
        }
        if (*p != *s) return 0;
        p++;
        s++;
    }
    return *p == 0 && *s == 0;
}

const srv_route *srv_route_find(srv_req *r, const char *method, const char *path, int *status)
{
    *status = 404;
    for (size_t m = 0; m < NMOUNTS; m++)
        for (const srv_route *rt = MOUNTS[m]; rt->pattern; rt++) {
            if (!match(NULL, rt->pattern, path)) continue;
            if (strcmp(rt->method, method) != 0) {
                *status = 405;
                continue;
            }
            match(r, rt->pattern, path);
            return rt;
        }
    return NULL;
}

void srv_routes_each(void (*fn)(const srv_route *rt, void *ctx), void *ctx)
{
    for (size_t m = 0; m < NMOUNTS; m++)
        for (const srv_route *rt = MOUNTS[m]; rt->pattern; rt++) fn(rt, ctx);
}
