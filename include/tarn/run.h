/* tarn/run.h — pipelines: plan and run a project's Python and SQL models on
 * a branch as one transaction, and the record of every run (jobs).
 *
 * A run works on a temporary branch BRANCH.tarn-run-JOBID forked from
 * BRANCH; materialized outputs are committed there in one commit and merged
 * into BRANCH only if every task succeeded. A failed run leaves BRANCH
 * untouched and its temporary branch marked aborted: it cannot be merged. */
#ifndef TARN_RUN_H
#define TARN_RUN_H

#include "common.h"
#include "lake.h"

typedef struct tarn_run_options {
    int version;
    const char *project_dir; /* NULL: the current folder */
    const char *branch;      /* NULL: the active branch */
    int dry_run;             /* plan and print, run nothing */
    int strict;              /* a failed expectation fails the run */
    int no_transaction;      /* commit outputs directly on BRANCH */
    int preview_rows;        /* rows of each output to include in the report */
    size_t nparams;          /* --param NAME=VALUE pairs */
    const char *const *param_names;
    const char *const *param_values;
    const char *input_ref; /* read sources at this ref instead of BRANCH (reruns) */
    /* Called with each line of progress: the DAG, task outcomes, user
     * prints as `model @ file:line | message`. May be NULL. */
    void (*on_line)(const char *line, void *ctx);
    void *ctx;
    /* Version 2. Materialized outputs of models whose name has no
     * namespace land in this one (NULL: the project file's
     * defaults.namespace, else `default`). */
    const char *namespace_;
    /* Called once, with the job's id, when the job is recorded and before
     * any task runs (a detached run hands the id back then). May be NULL. */
    void (*on_job)(const char *job_id, void *ctx);
    /* The tarn program whose warm runtime lends warm Python parents
     * (started on first use; see tarn_runtime_serve), or NULL to start this
     * run's own. */
    const char *runtime_exe;
    /* Version 3. Compute everything afresh (`tarn run --cache off`,
     * cache="off" in Python): no model takes an earlier successful run's
     * output (by default one whose code, environment, parameters and input
     * versions are unchanged does), and every source scan reads its data
     * files, keeping nothing for later scans (docs/speed.md). */
    int no_cache;
} tarn_run_options;

/* A caller built against version 1 keeps working: the library reads only
 * the fields its version has. */
#define TARN_RUN_OPTIONS_VERSION 3
#define TARN_RUN_OPTIONS_INIT                                                                      \
    {TARN_RUN_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}

/* Plans and (unless dry_run) runs the project. *report (free with
 * tarn_free) is JSON: {"job_id", "outcome": "success"|"failed"|"planned",
 * "commit", "branch", "plan": {...}, "tasks": [{"name", "kind", "outcome",
 * "started", "ended", "rows", "error"}], "expectations": [...],
 * "previews": {...}, "error", "reused": [models not run: their earlier
 * output taken], "reuse": {model: {"key", "table", "version"}}}; a reused
 * task says "reused": true and "reused_from" (the job whose output it
 * took). Returns 0 on success, TARN_EINVALID /
 * TARN_ENOTFOUND for a plan that cannot run (nothing ran), TARN_EUSER when a
 * model failed (the report says which and why). */
TARN_EXTERN int tarn_run(char **report, tarn_lake *lake, const tarn_run_options *opts,
                         tarn_error *err);

/* Jobs: every run is recorded. Lists are JSON arrays (free with tarn_free):
 * [{"id", "status", "branch", "started", "ended", "commit", "input_commit"}]. */
TARN_EXTERN int tarn_job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err);
/* One job with its report; ID may be a unique prefix. */
TARN_EXTERN int tarn_job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err);
/* A job's log lines as text. */
TARN_EXTERN int tarn_job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err);
/* Runs job ID's project code again, reading sources at the job's input
 * commit, on the job's branch, with the job's parameter values except
 * those OPTS gives (a secret is never recorded: give it again). */
TARN_EXTERN int tarn_job_rerun(char **report, tarn_lake *lake, const char *id,
                               const tarn_run_options *opts, tarn_error *err);

/* Asks running job ID (or a unique prefix) to stop, and returns at once:
 * within a second its process stops scheduling tasks, kills its workers
 * and interrupts its queries; the job ends "cancelled", its run branch
 * aborted, its target branch untouched. A job that already ended is
 * TARN_EINVALID (saying how it ended). */
TARN_EXTERN int tarn_job_cancel(tarn_lake *lake, const char *id, tarn_error *err);

/* Environments: the package cache (.tarn/envs/). JSON (free with
 * tarn_free): {"packages": [{"name", "path", "size_bytes", "last_used"}],
 * "environments": [{"id", "python", "paths", "packages", "last_used"}]}. */
TARN_EXTERN int tarn_env_list(char **json, tarn_lake *lake, tarn_error *err);
/* Removes environments no run used within KEEP_SECONDS, then package entries
 * no remaining environment uses and unused that long. JSON: {"environments":
 * [ids], "packages": [names], "bytes", "dry_run"}. */
TARN_EXTERN int tarn_env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run,
                            tarn_error *err);

/* The warm runtime: a per-user process of the tarn program EXE that keeps
 * warm Python parents between runs (runs started with runtime_exe = EXE
 * borrow them). Serves until idle for IDLE_SECONDS (<= 0: TARN_RUNTIME_IDLE,
 * else 600) or stopped; TARN_EEXISTS when one already serves. */
TARN_EXTERN int tarn_runtime_serve(const char *exe, double idle_seconds, tarn_error *err);
/* Its status as JSON (free with tarn_free): {"pid", "socket",
 * "idle_seconds", "zygotes": [{"pid", "key", "python", "state"}]};
 * TARN_ENOTFOUND when it is not running. */
TARN_EXTERN int tarn_runtime_status(char **json, const char *exe, tarn_error *err);
/* Stops it and the warm parents it holds; TARN_ENOTFOUND when not running. */
TARN_EXTERN int tarn_runtime_stop(const char *exe, tarn_error *err);

#endif
