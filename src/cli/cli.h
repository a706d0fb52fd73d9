/* cli.h — the `tarn` command's entry points, one per command group, and
 * what they share: opening the lakehouse. Each takes the arguments after
 * its own name and returns the process's exit code (0, 1 error, 2 usage). */
#ifndef TARN_CLI_H
#define TARN_CLI_H

#include <tarn/tarn.h>

#include "args.h"
#include "output.h"

int cmd_init(int argc, char **argv);
int cmd_checkout(int argc, char **argv);
int cmd_branch(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_namespace(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_runtime(int argc, char **argv);

/* This program's path (/proc/self/exe) into OUT: what starts the warm
 * runtime. 0, or -1 when it cannot be told. */
int cli_self_exe(char *out, size_t size);
int cmd_catalog(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* `branch protect` and `branch protected` (protect.c). */
extern const cli_cmd cli_protect_cmd, cli_protected_cmd;
int cli_branch_protect(const cli_args *a);
int cli_branch_protected(const cli_args *a);

/* Opens the lakehouse found from the current folder (or TARN_HOME); on
 * failure prints the library's error and returns 1. */
int cli_open_lake(tarn_lake **lake);
/* Ends a command: closes LAKE and returns 0, or 1 after printing ERR when
 * RC (the last library call's result) is negative. */
int cli_done(tarn_lake **lake, int rc, tarn_error *err);

/* The commit options of a write command (src/cli/commit_opts.c). When
 * ARGV[0] names one of the subcommands WRITES (names separated by spaces)
 * of SUBS, takes every `--property K=V` out of ARGV (0, or a usage error:
 * 2); cli_commit_options then fills O from A's -m/--message and --body
 * and those pairs, whose JSON text goes to *properties (free it after the
 * call). */
int cli_take_properties(const cli_sub *subs, const char *writes, int *argc, char **argv);
int cli_commit_options(tarn_commit_options *o, char **properties, const cli_args *a);
/* The options every write command lists: -m, --body, --property. */
#define CLI_COMMIT_OPTS                                                                            \
    {"message", 'm', "MSG", "the commit message"},                                                 \
        {"body", 0, "TEXT", "more of the commit message, after a blank line"},                     \
    {                                                                                              \
        "property", 0, "K=V", "a commit property (repeatable)"                                      \
    }

/* `branch ls` and `tag ls`: prints the refs of KIND. */
int cli_list_refs(tarn_ref_kind kind);
/* `branch rename` and `tag rename`: A's two positionals, OLD and NEW. */
int cli_rename_ref(tarn_ref_kind kind, const cli_args *a);

/* `table export-iceberg` and `table create-external` (iceberg.c). */
extern const cli_cmd cli_export_iceberg_cmd, cli_create_external_cmd;
int cli_run_export_iceberg(const cli_args *a);
int cli_run_create_external(const cli_args *a);

#endif
