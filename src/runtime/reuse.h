/* runtime/reuse.h — model reuse: a model whose inputs, code, environment
 * and parameters are those of an earlier successful run takes that run's
 * output instead of running again. */
#ifndef TARN_RUNTIME_REUSE_H
#define TARN_RUNTIME_REUSE_H

#include <jansson.h>

#include "catalog/catalog.h"

/* After tarn__plan: gives every model of PROJECT its "reuse_key" (absent
 * when what it computes cannot be known: internet access, a secret
 * parameter, cache_strategy NONE, or such a parent). With LOOKUP, a
 * materialized model whose output table at BASE_COMMIT is the very
 * version a successful job recorded for its key gets "reuse": {"version",
 * "job"}, and a non-materialized model whose readers all skip gets
 * "reuse": {} (it is not needed). Nothing is written. */
int tarn__reuse_plan(json_t *project, tarn_lake *lake, const char *base_commit, int lookup,
                     tarn_error *err);

/* Whether model M is not run (its output reused, or not needed). */
int tarn__reuse_skipped(json_t *m);
/* The table version model M reuses, or NULL. */
const char *tarn__reuse_version(json_t *m);

/* Every reused output must still be its table's version in TREE (the run
 * commits it as its output): TARN_ECONFLICT, naming the table, if another
 * writer changed it meanwhile. */
int tarn__reuse_check(tarn_lake *lake, const tarn_tree *tree, json_t *project, tarn_error *err);
/* The same against the tree of commit COMMIT. */
int tarn__reuse_check_commit(tarn_lake *lake, const char *commit, json_t *project, tarn_error *err);

/* Adds to REPORT "reuse": {model: {"key", "table", "version"}} for every
 * keyed, replaced output as commit COMMIT (the run's own) holds it: the
 * record later runs look up, stored with the job. */
int tarn__reuse_record(json_t *report, json_t *project, tarn_lake *lake, const char *commit,
                       tarn_error *err);

#endif
