/* main.c — the `tarn` command: global options, `--help`, `--version` and
 * dispatch to one function per command group (the other files here).
 *
 * The global option `-O json` (`--output-format json`) may appear before or
 * after the command name; it is taken out of argv before the command's own
 * options are parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"init", cmd_init, "create an empty lakehouse (.tarn/) in a folder"},
    {"checkout", cmd_checkout, "set the active branch (-b: create it first)"},
    {"branch", cmd_branch, "list, create, delete, diff and merge branches"},
    {"tag", cmd_tag, "list, create and delete tags"},
    {"namespace", cmd_namespace, "list, create and delete namespaces"},
    {"table", cmd_table, "list, describe, import, delete and revert tables"},
    {"query", cmd_query, "run SQL on any branch, tag or commit"},
    {"commit", cmd_commit, "show the log of a ref, newest first"},
    {"gc", cmd_gc, "delete data files no ref reaches any more"},
    {"run", cmd_run, "plan and run a pipeline project as one transaction"},
    {"job", cmd_job, "list, inspect and replay pipeline runs"},
    {"env", cmd_env, "list and prune the package cache of environments"},
    {"token", cmd_token, "create, list and revoke access tokens for 'tarn serve'"},
    {"serve", cmd_serve, "serve this lakehouse over HTTP (/api/v1/) to users with tokens"},
    {"info", cmd_info, "show this lakehouse: folder, branch, user, catalog, storage"},
    {"version", cmd_version, "print tarn's version"},
    {"catalog", cmd_catalog, "where the catalog is; migrate it to PostgreSQL, verify"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void main_help(FILE *f)
{
    fprintf(f,
            "usage: tarn [-O json] [--remote URL --token TOKEN] COMMAND [ARGS]\n\n"
            "tarn is a data lakehouse: git for data over Parquet tables, with SQL on any ref.\n\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nglobal options:\n"
               "  -O, --output-format json   print JSON on stdout (for scripts)\n"
               "  --remote URL               talk to the 'tarn serve' at URL (or set TARN_REMOTE)\n"
               "  --token TOKEN              the token for --remote (or set TARN_TOKEN)\n"
               "  -h, --help                 show this help ('tarn COMMAND --help' for a command)\n"
               "  --version                  print the version\n"
               "\nexample:\n  tarn init && tarn table import trips --from trips.csv && "
               "tarn query 'SELECT count(*) FROM trips'\n");
}

static int main_usage(const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    if (out_json_mode)
        out_usage_json(msg);
    else
        fprintf(stderr, "tarn: error: %s\ntry 'tarn --help'\n", msg);
    return CLI_EXIT_USAGE;
}

/* Sets the output mode from FORMAT; -1 when it is not a known one. */
static int set_format(const char *format)
{
    if (strcmp(format, "json") == 0)
        out_json_mode = 1;
    else if (strcmp(format, "text") == 0 || strcmp(format, "table") == 0)
        out_json_mode = 0;
    else
        return -1;
    return 0;
}

/* Removes the global options from argv (up to a `--`) into ARGS; returns
 * 0, or 2 after a usage error. A first pass sets the mode so that a usage
 * error found on the way is itself reported in the right format. */
static int take_globals(int *argc, char **argv)
{
    const char *bad = NULL;
    int n = 1, only_pos = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (only_pos || a[0] != '-') {
            argv[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) only_pos = 1;
        /* --remote URL and --token TOKEN stand for TARN_REMOTE and
         * TARN_TOKEN: the library opens the server they name. */
        const char *env = strcmp(a, "--remote") == 0  ? "TARN_REMOTE"
                          : strcmp(a, "--token") == 0 ? "TARN_TOKEN"
                                                      : NULL;
        if (!env && strncmp(a, "--remote=", 9) == 0) env = "TARN_REMOTE", v = a + 9;
        if (!env && strncmp(a, "--token=", 8) == 0) env = "TARN_TOKEN", v = a + 8;
        if (env) {
            if (!v && i + 1 >= *argc) return main_usage("option '%s' needs a value", a);
            setenv(env, v ? v : argv[++i], 1);
            continue;
        }
        if (strcmp(a, "-O") == 0 || strcmp(a, "--output-format") == 0) {
            if (i + 1 >= *argc) return main_usage("option '%s' needs a value (json)", a);
            v = argv[++i];
        } else if (strncmp(a, "--output-format=", 16) == 0) {
            v = a + 16;
        } else if (strncmp(a, "-O", 2) == 0) {
            v = a + 2;
        } else {
            argv[n++] = argv[i];
            continue;
        }
        if (set_format(v) < 0 && !bad) bad = v;
    }
    *argc = n;
    argv[n] = NULL;
    if (bad) return main_usage("unknown output format '%s' (use json)", bad);
    return 0;
}

int cli_open_lake(tarn_lake **lake)
{
    tarn_error err = TARN_ERROR_INIT;
    *lake = NULL;
    int rc = tarn_lake_open(lake, NULL, &err);
    if (rc < 0) return out_fail(rc, &err);
    return 0;
}

int cli_done(tarn_lake **lake, int rc, tarn_error *err)
{
    int code = rc < 0 ? out_fail(rc, err) : 0;
    tarn_lake_close(lake);
    return code;
}

int main(int argc, char **argv)
{
    int rc = take_globals(&argc, argv);
    if (rc) return rc;
    if (argc < 2) {
        if (out_json_mode) return main_usage("missing command%s", "");
        main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
        (strcmp(name, "help") == 0 && argc == 2)) {
        main_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) return cmd_version(0, argv + 2);
    /* `tarn help CMD` is `tarn CMD --help`. */
    if (strcmp(name, "help") == 0) {
        name = argv[2];
        argv[2] = "--help";
        argc = 3;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].fn(argc - 2, argv + 2);
    if (name[0] == '-') return main_usage("unknown option '%s'", name);
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i].name;
    const char *near = tarn_nearest_name(name, names, NCOMMANDS);
    if (near) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown command '%s' (did you mean '%s'?)", name, near);
        return main_usage("%s", msg);
    }
    return main_usage("unknown command '%s'", name);
}
