/* runtime/runtime.h — the pipeline runtime's internal parts: loading a
 * project, planning its DAG, executing it, and the job records.
 *
 * Projects and plans are JSON documents (jansson): they are printed by
 * `--dry-run`, stored with the job, and read by the executor. */
#ifndef TARN_RUNTIME_H
#define TARN_RUNTIME_H

#include <jansson.h>

#include "catalog/catalog.h"
#include "tarn/run.h"

/* The interpreter that runs project code and the folder holding the `tarn`
 * Python package (TARN_PYTHON / TARN_PYTHONPATH override them). */
const char *tarn__python_exe(tarn_lake *lake);
const char *tarn__python_path(void);
/* Whether interpreter version HAVE ("3.11.2") is what a model asks for with
 * WANT: "3.11" is any 3.11.x (never 3.110), "3.11.2" only itself. */
int tarn__python_version_matches(const char *have, const char *want);

/* Loads DIR: {"dir", "hash", "files": {path: text}, "parameters": {name:
 * {"type", "default"}}, "models": [...]} where a model is {"name", "kind":
 * "python"|"sql", "role": "model"|"expectation", "file", "line",
 * "materialization", "python", "pip", "installed", "inputs": [{"param",
 * "name", "columns", "filter", "ref"}], "parameters", "sql", "code_hash"}.
 * Errors name the file and line. RT (may be NULL): a session whose warm
 * parent inspects the Python files. */
struct tarn_rt_session;
int tarn__project_load(json_t **out, tarn_lake *lake, const char *dir, struct tarn_rt_session *rt,
                       tarn_error *err);

/* Checks the project against the lakehouse at INPUT_COMMIT and orders it:
 * adds "order" (model names, parents first), per model "parents" (models)
 * and per input "source" (a table: {"table", "version", "ref"}) and the
 * resolved "params". Refuses cycles, unknown names (did-you-mean),
 * duplicates, models named like tables, unknown parameters. */
int tarn__plan(json_t *project, tarn_lake *lake, const char *input_commit,
               const tarn_run_options *opts, tarn_error *err);

/* The data files of table version VERSION_ID that a scan with filter
 * WHERE (its parse tree from tarn__sql_filter_parse; NULL: none) must read,
 * judged by their statistics, with the filter's parameters bound from
 * PARAMS: *kept is a JSON array of keys, *total the version's file count. */
struct tarn_duck;
int tarn__scan_files(json_t **kept, size_t *total, tarn_lake *lake, struct tarn_duck *d,
                     const char *version_id, json_t *where, json_t *params, tarn_error *err);

#endif
