/* args.h — the command line's option parser and command table.
 *
 * A command is described once by a cli_cmd (its usage, its options, an
 * example); the same description drives parsing, `--help` and usage errors.
 * cli_run parses argv against it and calls the command's function. */
#ifndef TARN_CLI_ARGS_H
#define TARN_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define CLI_MAX_OPTS 20
#define CLI_MAX_POS 4

/* Exit codes of the `tarn` command. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

typedef struct cli_opt {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0: none */
    const char *metavar; /* NULL: a flag without a value */
    const char *help;
} cli_opt;

typedef struct cli_cmd {
    const char *path;             /* "branch create" */
    const char *synopsis;         /* "NAME [--from-ref REF]" */
    const char *summary;          /* one sentence */
    const char *pos[CLI_MAX_POS]; /* positional names; the first min_pos are required */
    int min_pos;
    cli_opt opts[CLI_MAX_OPTS]; /* ends at the first entry without a name */
    const char *example;
} cli_cmd;

typedef struct cli_args {
    const cli_cmd *cmd;
    const char *val[CLI_MAX_OPTS]; /* an option's value; "" for a given flag */
    const char *pos[CLI_MAX_POS];
    int npos;
} cli_args;

typedef int (*cli_fn)(const cli_args *a);

/* Parses argv (argv[0] is the first argument after the command's name) and
 * runs FN; `--help` prints the help and returns 0, bad usage prints a
 * message and returns 2. */
int cli_run(const cli_cmd *cmd, cli_fn fn, int argc, char **argv);

/* A command group ("branch"): argv[0] names the subcommand. */
typedef struct cli_sub {
    const char *name;
    const cli_cmd *cmd;
    cli_fn fn;
} cli_sub;
int cli_run_group(const char *group, const char *summary, const cli_sub *subs, int argc,
                  char **argv);

/* The value of option NAME, or NULL when it was not given. */
const char *cli_get(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);

/* Reports bad usage of A's command (message, usage line, hint) and returns 2. */
int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses option NAME as an integer >= MIN; 0, or a usage error (2). */
int cli_get_int(int64_t *out, const cli_args *a, const char *name, int64_t min);
/* The duration option NAME in seconds (3600, 90m, 12h, 7d, 2w) into *out;
 * unchanged when absent. Returns 0 or, after a usage error, 2. */
int cli_get_duration(int64_t *out, const cli_args *a, const char *name);

void cli_print_help(const cli_cmd *cmd);

#endif
