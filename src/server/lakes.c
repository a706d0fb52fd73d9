/* server/lakes.c — a pool of lake handles: each request takes one (a
 * handle, like its catalog connection, serves one thread at a time) and
 * gives it back; commits made through it are authored by the request's
 * user. */
#include <stdlib.h>

#include "server/server.h"

int srv_lake_get(tarn_lake **out, srv_req *r, tarn_error *err)
{
    srv *s = r->s;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nlakes) *out = s->lakes[--s->nlakes];
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    if (!*out) rc = tarn_lake_open_path(out, s->o.lake_dir, err);
    if (rc == 0 && r->authed) rc = tarn_lake_set_author(*out, r->tok.user, err);
    if (rc < 0 && *out) {
        srv_lake_put(s, *out);
        *out = NULL;
    }
    return rc;
}

void srv_lake_put(srv *s, tarn_lake *lake)
{
    if (!lake) return;
    tarn_lake_set_author(lake, NULL, NULL);
    pthread_mutex_lock(&s->mu);
    if (s->nlakes == s->caplakes) {
        size_t cap = s->caplakes ? s->caplakes * 2 : 16;
        tarn_lake **l = realloc(s->lakes, cap * sizeof *l);
        if (l) {
            s->lakes = l;
            s->caplakes = cap;
        }
    }
    /* Idle handles beyond 64 are closed: a burst does not keep them all. */
    if (s->nlakes < s->caplakes && s->nlakes < 64) {
        s->lakes[s->nlakes++] = lake;
        lake = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (lake) tarn_lake_close(&lake);
}

void srv_lakes_close(srv *s)
{
    for (size_t i = 0; i < s->nlakes; i++) tarn_lake_close(&s->lakes[i]);
    free(s->lakes);
    s->lakes = NULL;
    s->nlakes = s->caplakes = 0;
}
