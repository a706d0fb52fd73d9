/* token.c — `tarn token create | ls | revoke`: the access tokens a server
 * (`tarn serve`) accepts. A token is printed once, when it is made. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static int run_create(const cli_args *a)
{
    tarn_token_options o = TARN_TOKEN_OPTIONS_INIT;
    o.read = cli_get(a, "read");
    o.write = cli_get(a, "write");
    o.admin = cli_has(a, "admin");
    int u = cli_get_duration(&o.expires_in_s, a, "expires");
    if (u) return u;
    if (!o.read && !o.write && !o.admin)
        return cli_usage_error(a->cmd, "give the token some right: --read PATTERNS, --write PATTERNS or --admin");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *token = NULL;
    tarn_token_info info;
    int rc = tarn_token_create(&token, &info, lake, a->pos[0], &o, &err);
    if (rc == 0) {
        char when[32] = "";
        if (info.expires_us) out_iso_time(when, info.expires_us);
        if (out_json_mode)
            out_json(json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:s?}", "token", token, "id", info.id, "user",
                               out_jstr(info.user), "read", info.read, "write", info.write, "admin", info.admin,
                               "expires", info.expires_us ? when : NULL));
        else
            printf("%s\n", token);
        if (!out_json_mode)
            fprintf(stderr, "Token %s for %s%s%s: keep it now, it is not shown again\n", info.id, info.user,
                    info.expires_us ? ", expires " : "", when);
        memset(token, 0, strlen(token));
    }
    tarn_free(token);
    return cli_done(&lake, rc, &err);
}

static int run_ls(const cli_args *a)
{
    (void)a;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_token_info *list = NULL;
    size_t n = 0;
    int rc = tarn_token_list(&list, &n, lake, &err);
    if (rc == 0) {
        json_t *arr = json_array();
        out_table t;
        out_table_init(&t, 7);
        const char *head[] = {"ID", "USER", "READ", "WRITE", "ADMIN", "EXPIRES", "STATE"};
        out_table_add(&t, head);
        for (size_t i = 0; i < n; i++) {
            char created[32], expires[32] = "", revoked[32] = "";
            out_iso_time(created, list[i].created_us);
            if (list[i].expires_us) out_iso_time(expires, list[i].expires_us);
            if (list[i].revoked_us) out_iso_time(revoked, list[i].revoked_us);
            int64_t now = 0;
            /* The state as a server would judge it now. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
            const char *state = list[i].revoked_us                                 ? "revoked"
                                : list[i].expires_us && list[i].expires_us <= now ? "expired"
                                                                                   : "live";
            json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:s, s:b, s:s, s:s?, s:s?, s:s}", "id",
                                                 list[i].id, "user", out_jstr(list[i].user), "read",
                                                 list[i].read, "write", list[i].write, "admin", list[i].admin,
                                                 "created", created, "expires", *expires ? expires : NULL,
                                                 "revoked", *revoked ? revoked : NULL, "state", state));
            const char *row[] = {list[i].id, list[i].user, list[i].read, list[i].write,
                                 list[i].admin ? "yes" : "", expires, state};
            out_table_add(&t, row);
        }
        if (out_json_mode) {
            out_json(arr);
        } else {
            json_decref(arr);
            if (n) out_table_print(&t, stdout, 0);
            else printf("No tokens (tarn token create USER --read '*')\n");
        }
        out_table_free(&t);
    }
    tarn_free(list);
    return cli_done(&lake, rc, &err);
}

static int run_revoke(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_token_revoke(lake, a->pos[0], &err);
    if (rc == 0) {
        if (out_json_mode) out_json(json_pack("{s:o, s:b}", "id", out_jstr(a->pos[0]), "revoked", 1));
        else printf("Revoked token %s\n", a->pos[0]);
    }
    return cli_done(&lake, rc, &err);
}

static const cli_cmd create_cmd = {
    .path = "token create",
    .synopsis = "USER [--read PATTERNS] [--write PATTERNS] [--admin] [--expires DURATION]",
    .summary = "Make an access token for USER and print it (once: only its hash is kept). Commits "
               "made with it are authored by USER. PATTERNS are comma-separated ref names where '*' "
               "matches anything; writing a branch implies reading it.",
    .pos = {"USER"},
    .min_pos = 1,
    .opts = {{"read", 0, "PATTERNS", "refs it may read ('*': all)"},
             {"write", 0, "PATTERNS", "branches it may create, write, merge into and delete"},
             {"admin", 0, NULL, "every right, tokens and protection included"},
             {"expires", 0, "DURATION", "refused after this long (90m, 12h, 7d, 2w)"}},
    .example = "tarn token create alice --write 'alice.*,dev' --read '*'",
};
static const cli_cmd ls_cmd = {
    .path = "token ls",
    .synopsis = "",
    .summary = "List tokens (never their secret): user, rights, expiry, live/expired/revoked.",
    .example = "tarn token ls",
};
static const cli_cmd revoke_cmd = {
    .path = "token revoke",
    .synopsis = "ID",
    .summary = "Revoke a token (by the id 'tarn token ls' shows, or the token itself): it is refused "
               "from now on.",
    .pos = {"ID"},
    .min_pos = 1,
    .example = "tarn token revoke 3f2a9c0d11e4b7a8",
};

static const cli_sub subs[] = {
    {"create", &create_cmd, run_create},
    {"ls", &ls_cmd, run_ls},
    {"revoke", &revoke_cmd, run_revoke},
    {NULL, NULL, NULL},
};

int cmd_token(int argc, char **argv)
{
    return cli_run_group("token", "Access tokens for 'tarn serve'.", subs, argc, argv);
}
