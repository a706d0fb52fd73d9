/* commit_opts.c — what a write command says in its commit, the same on
 * every command that commits (table import|rm|revert, namespace
 * create|rm, branch merge): -m/--message, --body and --property K=V.
 *
 * --property may repeat, which the option parser does not allow, so the
 * pairs are taken out of argv before it runs and kept here until the
 * command builds its tarn_commit_options. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *g_properties; /* this process's --property pairs, or NULL */

int cli_take_properties(const cli_sub *subs, const char *writes, int *argc, char **argv)
{
    const cli_cmd *cmd = NULL;
    for (const cli_sub *s = subs; *argc > 0 && s->name; s++) {
        size_t n = strlen(s->name);
        for (const char *w = strstr(writes, s->name); w; w = strstr(w + 1, s->name))
            if ((w == writes || w[-1] == ' ') && (w[n] == 0 || w[n] == ' ') &&
                !strcmp(argv[0], s->name))
                cmd = s->cmd;
    }
    if (!cmd)
        return 0; /* not a write: the parser refuses --property as it does any unknown option */
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[w++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--property") && i + 1 < *argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--property=", 11))
            v = argv[i] + 11;
        if (!v) {
            argv[w++] = argv[i];
            continue;
        }
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) return cli_usage_error(cmd, "--property takes KEY=VALUE, not '%s'", v);
        if (!g_properties) g_properties = json_object();
        char *key = strndup(v, (size_t)(eq - v));
        json_object_set_new(g_properties, key, out_jstr(eq + 1));
        free(key);
    }
    *argc = w;
    argv[w] = NULL;
    return 0;
}

int cli_commit_options(tarn_commit_options *o, char **properties, const cli_args *a)
{
    tarn_commit_options init = TARN_COMMIT_OPTIONS_INIT;
    *o = init;
    o->message = cli_get(a, "message");
    o->body = cli_get(a, "body");
    *properties = g_properties ? json_dumps(g_properties, JSON_COMPACT) : NULL;
    o->properties_json = *properties;
    json_decref(g_properties);
    g_properties = NULL;
    return 0;
}
