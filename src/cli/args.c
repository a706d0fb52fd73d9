/* args.c — parsing a command's argv against its cli_cmd description.
 *
 * Long options take `--opt=value` or `--opt value`, short ones `-x value`
 * or `-xvalue`; short flags may be grouped (`-ab`). `--` ends the options,
 * a lone `-` is a positional argument. Positional arguments and options
 * may be mixed in any order. */
#include "args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static int opt_count(const cli_cmd *cmd)
{
    int n = 0;
    while (n < CLI_MAX_OPTS && cmd->opts[n].name)
        n++;
    return n;
}

static int pos_count(const cli_cmd *cmd)
{
    int n = 0;
    while (n < CLI_MAX_POS && cmd->pos[n])
        n++;
    return n;
}

/* Prints TEXT wrapped at 78 columns. */
static void print_wrapped(const char *text)
{
    size_t col = 0;
    while (*text) {
        size_t len = strcspn(text, " ");
        if (col && col + 1 + len > 78) {
            putchar('\n');
            col = 0;
        } else if (col) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)len, text);
        col += len;
        text += len;
        while (*text == ' ')
            text++;
    }
    putchar('\n');
}

void cli_print_help(const cli_cmd *cmd)
{
    printf("usage: tarn %s%s%s\n\n", cmd->path, cmd->synopsis[0] ? " " : "", cmd->synopsis);
    print_wrapped(cmd->summary);
    printf("\noptions:\n");
    char left[96];
    for (int i = 0; i < opt_count(cmd); i++) {
        const cli_opt *o = &cmd->opts[i];
        int n = 0;
        if (o->short_name) n = snprintf(left, sizeof left, "-%c, ", o->short_name);
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "-h, --help", "show this help");
    printf("  %-26s %s\n", "-O, --output-format json", "print JSON on stdout (for scripts)");
    if (cmd->example) printf("\nexample:\n  %s\n", cmd->example);
}

static int vusage(const char *path, const char *synopsis, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (out_json_mode) {
        out_usage_json(msg);
    } else {
        fprintf(stderr, "tarn: error: %s\nusage: tarn %s%s%s\ntry 'tarn %s --help'\n", msg, path,
                synopsis && synopsis[0] ? " " : "", synopsis ? synopsis : "", path);
    }
    return CLI_EXIT_USAGE;
}

int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vusage(cmd->path, cmd->synopsis, fmt, ap);
    va_end(ap);
    return rc;
}

static int group_usage_error(const char *group, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int group_usage_error(const char *group, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vusage(group, "COMMAND ...", fmt, ap);
    va_end(ap);
    return rc;
}

static int find_long(const cli_cmd *cmd, const char *name, size_t len)
{
    for (int i = 0; i < opt_count(cmd); i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static int find_short(const cli_cmd *cmd, char c)
{
    for (int i = 0; i < opt_count(cmd); i++)
        if (cmd->opts[i].short_name == c) return i;
    return -1;
}

/* 0: parsed; 1: help asked; 2: usage error (printed). */
static int parse(cli_args *a, const cli_cmd *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        /* "-- a comment\nSELECT ..." is SQL, not an option: no option name has a blank. */
        size_t name_len = strcspn(arg, "=");
        int blank = arg[0] == '-' && arg[1] == '-' && strcspn(arg, " \t\n") < name_len;
        if (only_pos || arg[0] != '-' || arg[1] == '\0' || blank) {
            if (a->npos >= pos_count(cmd))
                return cli_usage_error(cmd, "unexpected argument '%s'", arg);
            a->pos[a->npos++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_pos = 1;
        } else if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (len == 4 && strncmp(name, "help", 4) == 0) return 1;
            int k = find_long(cmd, name, len);
            if (k < 0) return cli_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
            const cli_opt *o = &cmd->opts[k];
            if (!o->metavar) {
                if (eq) return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
                a->val[k] = "";
            } else if (eq) {
                a->val[k] = eq + 1;
            } else if (i + 1 < argc) {
                a->val[k] = argv[++i];
            } else {
                return cli_usage_error(cmd, "option '--%s' needs a value (%s)", o->name,
                                       o->metavar);
            }
        } else {
            /* A group of short options; one that takes a value ends it. */
            for (const char *p = arg + 1; *p; p++) {
                if (*p == 'h') return 1;
                int k = find_short(cmd, *p);
                if (k < 0) return cli_usage_error(cmd, "unknown option '-%c'", *p);
                const cli_opt *o = &cmd->opts[k];
                if (!o->metavar) {
                    a->val[k] = "";
                    continue;
                }
                if (p[1])
                    a->val[k] = p + 1;
                else if (i + 1 < argc)
                    a->val[k] = argv[++i];
                else
                    return cli_usage_error(cmd, "option '-%c' needs a value (%s)", *p, o->metavar);
                break;
            }
        }
    }
    if (a->npos < cmd->min_pos)
        return cli_usage_error(cmd, "missing argument %s", cmd->pos[a->npos]);
    return 0;
}

int cli_run(const cli_cmd *cmd, cli_fn fn, int argc, char **argv)
{
    cli_args a;
    int rc = parse(&a, cmd, argc, argv);
    if (rc == 1) {
        cli_print_help(cmd);
        return CLI_EXIT_OK;
    }
    if (rc != 0) return rc;
    return fn(&a);
}

static void group_help(const char *group, const char *summary, const cli_sub *subs)
{
    printf("usage: tarn %s COMMAND [OPTIONS]\n\n%s\n\ncommands:\n", group, summary);
    for (const cli_sub *s = subs; s->name; s++) {
        /* The summary's first sentence. */
        const char *end = strstr(s->cmd->summary, ". ");
        int len = end ? (int)(end - s->cmd->summary) : (int)strcspn(s->cmd->summary, ".");
        printf("  %-8s %.*s\n", s->name, len, s->cmd->summary);
    }
    printf("\nrun 'tarn %s COMMAND --help' for a command's options.\n", group);
}

int cli_run_group(const char *group, const char *summary, const cli_sub *subs, int argc,
                  char **argv)
{
    if (argc < 1) return group_usage_error(group, "missing command");
    const char *name = argv[0];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        group_help(group, summary, subs);
        return CLI_EXIT_OK;
    }
    for (const cli_sub *s = subs; s->name; s++)
        if (strcmp(s->name, name) == 0) return cli_run(s->cmd, s->fn, argc - 1, argv + 1);
    if (name[0] == '-') return group_usage_error(group, "unknown option '%s'", name);
    const char *names[64];
    size_t n = 0;
    for (const cli_sub *s = subs; s->name && n < 64; s++) names[n++] = s->name;
    const char *near = tarn_nearest_name(name, names, n);
    if (near) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown command '%s' (did you mean '%s %s'?)", name, group, near);
        return group_usage_error(group, "%s", msg);
    }
    return group_usage_error(group, "unknown command '%s'", name);
}

const char *cli_get(const cli_args *a, const char *name)
{
    int k = find_long(a->cmd, name, strlen(name));
    return k < 0 ? NULL : a->val[k];
}

int cli_has(const cli_args *a, const char *name)
{
    return cli_get(a, name) != NULL;
}

int cli_get_duration(int64_t *out, const cli_args *a, const char *name)
{
    const char *s = cli_get(a, name);
    if (!s) return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    static const struct {
        const char *unit;
        int64_t seconds;
    } units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
    for (size_t i = 0; !errno && end != s && v >= 0 && i < sizeof units / sizeof *units; i++)
        if (strcmp(end, units[i].unit) == 0) {
            *out = (int64_t)v * units[i].seconds;
            return 0;
        }
    return cli_usage_error(a->cmd, "--%s wants a duration such as 3600, 90m, 12h or 7d, not '%s'", name, s);
}

int cli_get_int(int64_t *out, const cli_args *a, const char *name, int64_t min)
{
    const char *s = cli_get(a, name);
    if (!s) return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return cli_usage_error(a->cmd, "--%s wants an integer >= %" PRId64 ", not '%s'", name, min,
                               s);
    *out = (int64_t)v;
    return 0;
}
