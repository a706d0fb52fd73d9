/* runtime/runtime.h — the pipeline runtime's internal parts: loading a
 * project, planning its DAG, executing it, and the job records.
 *
 * Projects and plans are JSON documents (jansson): they are printed by
 * `--dry-run`, stored with the job, and read by the executor. */
#ifndef TARN_RUNTIME_H
#define TARN_RUNTIME_H

#include <jansson.h>

#include "catalog/catalog.h"
#include "sql/engine.h"
#include "tarn/run.h"

/* The interpreter that runs project code and the folder holding the `tarn`
 * Python package (TARN_PYTHON / TARN_PYTHONPATH override them). */
const char *tarn__python_exe(tarn_lake *lake);
const char *tarn__python_path(void);
/* Whether interpreter version HAVE ("3.11.2") is what a model asks for with
 * WANT: "3.11" is any 3.11.x (never 3.110), "3.11.2" only itself. */
int tarn__python_version_matches(const char *have, const char *want);

/* Loads DIR: {"dir", "hash", "files": {path: text}, "parameters": {name:
 * {"type", "default", "required", ...}}, "params_file", "defaults":
 * {"python", "pip", "namespace", "timeout"}, "models": [...]} where a model is {"name", "kind":
 * "python"|"sql", "role": "model"|"expectation", "file", "line",
 * "materialization", "python", "pip", "installed", "inputs": [{"param",
 * "name", "columns", "filter", "ref"}], "parameters", "sql", "code_hash"}.
 * Errors name the file and line. RT (may be NULL): a session whose warm
 * parent inspects the Python files; DUCK: a confined DuckDB session that
 * parses the SQL files (the planner's, see tarn__plan). */
struct tarn_rt_session;
int tarn__project_load(json_t **out, tarn_lake *lake, const char *dir, struct tarn_rt_session *rt,
                       tarn_duck *duck, tarn_error *err);

/* Parameters (runtime/params.c). Declares NAME in DECLS from SPEC (a
 * value: the default; or an object with type, default, required,
 * description, key), checking names, keys and types (did-you-mean) and
 * that the default fits its type; WHERE ("FILE:LINE") starts messages. */
int tarn__params_declare(json_t *decls, const char *name, json_t *spec, const char *where,
                         tarn_error *err);
/* The values a run binds: --param values typed by their declaration,
 * then defaults; a required parameter without a value is an error that
 * says how to give it. FILE names the project file for messages. */
int tarn__params_resolve(json_t **out, json_t *decls, const char *file,
                         const tarn_run_options *opts, tarn_error *err);
/* Whether parameter NAME is declared secret. */
int tarn__param_is_secret(json_t *decls, const char *name);
/* VALUES as they may be shown, logged or recorded: secrets are null. */
json_t *tarn__params_shown(json_t *values, json_t *decls);

/* Checks the project against the lakehouse at INPUT_COMMIT and orders it:
 * adds "order" (model names, parents first), per model "parents" (models)
 * and per input "source" (a table: {"table", "version", "ref"}) and the
 * resolved "params". Refuses cycles, unknown names (did-you-mean),
 * duplicates, models named like tables, unknown parameters. DUCK: a DuckDB
 * session confined to no file (tarn__duck_confine with none), which binds
 * the filters. */
int tarn__plan(json_t *project, tarn_lake *lake, const char *input_commit,
               const tarn_run_options *opts, tarn_duck *duck, tarn_error *err);

/* Job ID (or a unique prefix) into *out (clear it with
 * tarn__job_row_clear); TARN_ENOTFOUND names `tarn job ls`. */
int tarn__job_find(tarn_job_row *out, tarn_lake *lake, const char *id, tarn_error *err);

/* Watches for a request to cancel job JOB_ID (tarn_job_cancel) on a
 * catalog connection of its own, and calls ON_CANCEL(CTX) once, from its
 * own thread, when one comes; ON_POLL(CTX) (may be NULL) at every look,
 * a few times a second. */
typedef struct tarn_cancel_watch tarn_cancel_watch;
int tarn__cancel_watch(tarn_cancel_watch **out, tarn_lake *lake, const char *job_id,
                       void (*on_cancel)(void *ctx), void (*on_poll)(void *ctx), void *ctx,
                       tarn_error *err);
/* Stops watching (waits for the thread). NULL allowed. */
void tarn__cancel_unwatch(tarn_cancel_watch **w);

/* The data files of table version VERSION_ID that a scan with filter
 * WHERE (its parse tree from tarn__sql_filter_parse; NULL: none) must read,
 * judged by their statistics, with the filter's parameters bound from
 * PARAMS: *kept is a JSON array of keys, *total the version's file count. */
struct tarn_duck;
int tarn__scan_files(json_t **kept, size_t *total, tarn_lake *lake, struct tarn_duck *d,
                     const char *version_id, json_t *where, json_t *params, tarn_error *err);

#endif
