/* server/auth.c — every request but the health check carries a bearer
 * token; its rights decide each route. A refusal says only "401" or which
 * right is missing for a ref the caller named: nothing that tells a guesser
 * which part of a token was wrong, and the token never reaches a log. */
#include <string.h>

#include "server/server.h"

static int refuse_auth(srv_req *r)
{
    pthread_mutex_lock(&r->s->metrics.mu);
    r->s->metrics.rejected_auth++;
    pthread_mutex_unlock(&r->s->metrics.mu);
    srv_reply_msg(r, 401, "unauthorized",
                  "a valid token is needed: send 'Authorization: Bearer TOKEN' (tarn token create)");
    return -1;
}

int srv_authenticate(srv_req *r)
{
    const char *h = srv_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return refuse_auth(r);
    const char *token = h + 7;
    while (*token == ' ') token++;
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    if (srv_lake_get(&lake, r, &err) < 0) {
        srv_reply_error(r, TARN_EIO, &err);
        return -1;
    }
    int rc = tarn_token_verify(&r->tok, lake, token, &err);
    srv_lake_put(r->s, lake);
    if (rc == TARN_EDENIED) {
        tarn_error_clear(&err);
        return refuse_auth(r);
    }
    if (rc < 0) {
        srv_reply_error(r, rc, &err);
        return -1;
    }
    r->authed = 1;
    snprintf(r->user, sizeof r->user, "%.63s", r->tok.user);
    /* The user name goes into log lines: one word. */
    for (char *c = r->user; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) *c = '_';
    return 0;
}

static int refuse_right(srv_req *r, const char *what, const char *name)
{
    char msg[600];
    snprintf(msg, sizeof msg, "this token may not %s '%.255s' (ask an admin for a token with that right)", what,
             name);
    srv_reply_msg(r, 403, "denied", msg);
    return -1;
}

/* The server's active branch, for requests that name none. */
static const char *active(char *buf, size_t size, tarn_lake *lake, const char *ref)
{
    if (ref) return ref;
    if (tarn_lake_active_branch(buf, size, lake, NULL) < 0) snprintf(buf, size, "main");
    return buf;
}

int srv_need_read(srv_req *r, tarn_lake *lake, const char *ref)
{
    char buf[256];
    ref = active(buf, sizeof buf, lake, ref);
    return tarn_token_may_read(&r->tok, ref) ? 0 : refuse_right(r, "read", ref);
}

int srv_need_write(srv_req *r, tarn_lake *lake, const char *branch)
{
    char buf[256];
    branch = active(buf, sizeof buf, lake, branch);
    return tarn_token_may_write(&r->tok, branch) ? 0 : refuse_right(r, "write", branch);
}

int srv_need_admin(srv_req *r)
{
    if (r->tok.admin) return 0;
    srv_reply_msg(r, 403, "denied", "this route needs an admin token");
    return -1;
}
