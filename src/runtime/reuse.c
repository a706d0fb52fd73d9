/* runtime/reuse.c — model reuse (Bauplan's cache_strategy).
 *
 * A model's reuse key is a hash of everything its output depends on that
 * tarn can see: its code (a SQL model's text; a Python model's function
 * and every Python file of the project, since it may call any of them),
 * its environment, the parameter values it reads, the exact version of
 * every source table it scans with the scan's columns and filter, its
 * parents' keys, where and how it is materialized, and tarn's version.
 * What tarn cannot see (internet access, a secret, cache_strategy NONE,
 * or a parent of such) has no key: it and what reads it always run.
 *
 * The record is the job: a successful run's report holds {model: key,
 * table, version} (written in the transaction that makes the job
 * successful, so a failed or half-written run records nothing). A later run
 * reuses a REPLACE model's output only when its output table, at the
 * branch's head, is still that very version: the data files are then
 * reachable from the branch (gc keeps them), and committing the output
 * again changes nothing. A merge that finds the table changed meanwhile
 * fails instead of keeping another writer's table as the model's output. */
#include <string.h>

#include "runtime/reuse.h"
#include "runtime/runtime.h"
#include "tarn/tarn.h"
#include "util/error.h"
#include "util/util.h"

/* How many of the newest jobs a run looks through for its records. */
#define REUSE_JOBS 100

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *model_named(json_t *project, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i,
                       m) if (!strcmp(str(m, "name"), name)) return m;
    return NULL;
}

/* A hash of every Python file of the project, by path. */
static void python_files_hash(char out[65], json_t *project)
{
    strbuf all = {0};
    const char *path;
    json_t *text;
    json_t *files = json_object_get(project, "files");
    const char **keys = calloc(json_object_size(files) + 1, sizeof *keys);
    size_t n = 0;
    json_object_foreach(files, path, text)
    {
        size_t len = strlen(path);
        if (len > 3 && !strcmp(path + len - 3, ".py")) keys[n++] = path;
    }
    /* object order is not insertion order: sort by path */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(keys[k - 1], keys[k]) > 0; k--) {
            const char *t = keys[k];
            keys[k] = keys[k - 1];
            keys[k - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_object_get(files, keys[i]));
        sb_printf(&all, "%s%c%zu%c", keys[i], 0, t ? strlen(t) : 0, 0);
        if (t) sb_append(&all, t);
    }
    tarn__sha256_hex(out, all.s ? all.s : "", all.len);
    free(keys);
    sb_free(&all);
}

/* Adds the names of OBJ ({"name": true}) to SEEN. */
static void add_names(json_t *seen, json_t *obj)
{
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) json_object_set_new(seen, name, json_true());
}

/* The parameter values M reads ({name: value}); *secret when one of them
 * is a secret (never hashed into a record). */
static json_t *params_seen(json_t *project, json_t *m, int *secret)
{
    json_t *names = json_object(), *out = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(m, "parameters"), i, p)
        json_object_set_new(names, str(p, "name"), json_true());
    add_names(names, json_object_get(m, "sql_params"));
    json_array_foreach(json_object_get(m, "inputs"), i, p)
        add_names(names, json_object_get(p, "filter_params"));
    json_t *values = json_object_get(project, "params");
    const char *name;
    json_t *v;
    *secret = 0;
    json_object_foreach(names, name, v)
    {
        if (tarn__param_is_secret(json_object_get(project, "parameters"), name)) *secret = 1;
        json_object_set(
            out, name, json_object_get(values, name) ? json_object_get(values, name) : json_null());
    }
    json_decref(names);
    return out;
}

/* M's key into KEY, or 0 when it has none. */
static int model_key(char key[65], json_t *project, json_t *m, const char *py_hash)
{
    if (json_is_true(json_object_get(m, "internet_access"))) return 0;
    const char *cache = str(m, "cache_strategy");
    if (cache && !strcmp(cache, "NONE")) return 0;
    int secret = 0;
    json_t *params = params_seen(project, m, &secret);
    json_t *env = json_object_get(m, "env");
    json_t *doc = json_pack(
        "{s:s,s:o,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "tarn", TARN_VERSION,
        "params", params, "name", json_object_get(m, "name"), "kind", json_object_get(m, "kind"),
        "role", json_object_get(m, "role"), "output", json_object_get(m, "output"),
        "materialization", json_object_get(m, "materialization"), "columns",
        json_object_get(m, "columns"), "function", json_object_get(m, "function"), "code_hash",
        json_object_get(m, "code_hash"), "sql", json_object_get(m, "sql_run"), "interpreter",
        json_object_get(m, "interpreter"));
    if (!strcmp(str(m, "kind"), "python")) {
        json_object_set_new(doc, "python_files", json_string(py_hash));
        json_object_set(doc, "project_interpreter", json_object_get(project, "interpreter"));
        json_object_set(doc, "python", json_object_get(m, "python"));
        if (env)
            json_object_set_new(doc, "env",
                                json_pack("{s:O?,s:O?,s:O?}", "id", json_object_get(env, "id"),
                                          "python", json_object_get(env, "python"), "packages",
                                          json_object_get(env, "packages")));
    }
    json_t *inputs = json_array();
    json_object_set_new(doc, "inputs", inputs);
    int known = !secret;
    size_t i;
    json_t *in;
    json_array_foreach(json_object_get(m, "inputs"), i, in)
    {
        json_t *src = json_object_get(in, "source");
        json_t *one =
            json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "param", json_object_get(in, "param"),
                      "name", json_object_get(in, "name"), "columns",
                      json_object_get(in, "columns"), "filter", json_object_get(in, "filter_sql"),
                      "ref", json_object_get(in, "ref"), "format", json_object_get(in, "format"));
        if (src) {
            json_object_set(one, "version", json_object_get(src, "version"));
        } else {
            json_t *parent = model_named(project, str(in, "name"));
            const char *pk = parent ? str(parent, "reuse_key") : NULL;
            if (!pk)
                known = 0;
            else
                json_object_set_new(one, "parent", json_string(pk));
        }
        json_array_append_new(inputs, one);
    }
    if (known) {
        char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (text)
            tarn__sha256_hex(key, text, strlen(text));
        else
            known = 0;
        free(text);
    }
    json_decref(doc);
    return known;
}

/* A model whose output a later run may take: a model (not an expectation)
 * that replaces its table, with a key. APPEND adds rows each time: taking
 * the earlier output would not be what running does. */
static int recordable(json_t *m)
{
    return str(m, "reuse_key") && !strcmp(str(m, "role"), "model") &&
           !strcmp(str(m, "materialization"), "REPLACE");
}

static int collect_success(const tarn_job_row *j, void *ctx)
{
    if (!strcmp(j->status, "success")) json_array_append_new(ctx, json_string(j->id));
    return 0;
}

/* Finds, in the newest jobs' records, the entries of WANT ({key:
 * {"model", "version"}}) and marks their models reused. */
static int look_up(json_t *project, json_t *want, tarn_lake *lake, tarn_error *err)
{
    tarn_catalog *c = TARN_CAT(lake);
    json_t *ids = json_array();
    int rc = c->vt->job_list(c, REUSE_JOBS, 0, collect_success, ids, err);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (rc < 0 || json_object_size(want) == 0) break;
        tarn_job_row j = {0};
        if ((rc = c->vt->job_get(c, json_string_value(id), &j, 1, err)) < 0) break;
        json_t *report = j.report_json ? json_loads(j.report_json, 0, NULL) : NULL;
        const char *model;
        json_t *rec;
        json_object_foreach(json_object_get(report, "reuse"), model, rec)
        {
            const char *key = str(rec, "key");
            json_t *w = key ? json_object_get(want, key) : NULL;
            if (!w || !str(rec, "version") || strcmp(str(rec, "version"), str(w, "version")) != 0)
                continue;
            json_t *m = model_named(project, str(w, "model"));
            if (m)
                json_object_set_new(m, "reuse",
                                    json_pack("{s:s,s:s}", "version", str(w, "version"), "job",
                                              json_string_value(id)));
            json_object_del(want, key);
        }
        json_decref(report);
        tarn__job_row_clear(&j);
    }
    json_decref(ids);
    return rc;
}

/* Whether model O reads model NAME. */
static int reads(json_t *o, const char *name)
{
    size_t j;
    json_t *p;
    json_array_foreach(json_object_get(o, "parents"), j,
                       p) if (!strcmp(json_string_value(p), name)) return 1;
    return 0;
}

/* A non-materialized model is not needed when it has readers and every one
 * of them is skipped (reused or not needed itself): parents first in
 * ORDER, so this walks it backwards. */
static void skip_unneeded(json_t *project)
{
    json_t *order = json_object_get(project, "order");
    for (size_t i = json_array_size(order); i-- > 0;) {
        json_t *m = model_named(project, json_string_value(json_array_get(order, i)));
        if (!m || tarn__reuse_skipped(m) || strcmp(str(m, "role"), "model") ||
            strcmp(str(m, "materialization"), "NONE"))
            continue;
        size_t readers = 0, skipped = 0, k;
        json_t *o;
        json_array_foreach(json_object_get(project, "models"), k, o)
        {
            if (!reads(o, str(m, "name"))) continue;
            readers++;
            skipped += tarn__reuse_skipped(o) != 0;
        }
        if (readers && readers == skipped) json_object_set_new(m, "reuse", json_object());
    }
}

int tarn__reuse_plan(json_t *project, tarn_lake *lake, const char *base_commit, int lookup,
                     tarn_error *err)
{
    char py_hash[65];
    python_files_hash(py_hash, project);
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(project, "order"), i, name)
    {
        json_t *m = model_named(project, json_string_value(name));
        char key[65];
        if (m && model_key(key, project, m, py_hash))
            json_object_set_new(m, "reuse_key", json_string(key));
    }
    if (!lookup) return 0;
    tarn_tree tree = {0};
    TARN_RETURN_NOT_OK(tarn__tree_load_commit(&tree, lake, base_commit, err));
    json_t *want = json_object();
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i, m)
    {
        tarn_tree_entry *e = recordable(m) ? tarn__tree_find(&tree, str(m, "output")) : NULL;
        if (e && e->kind == TARN_ENTRY_TABLE)
            json_object_set_new(
                want, str(m, "reuse_key"),
                json_pack("{s:s,s:s}", "model", str(m, "name"), "version", e->version));
    }
    tarn__tree_clear(&tree);
    int rc = json_object_size(want) ? look_up(project, want, lake, err) : 0;
    json_decref(want);
    if (rc == 0) skip_unneeded(project);
    return rc;
}

int tarn__reuse_skipped(json_t *m)
{
    return json_object_get(m, "reuse") != NULL;
}

const char *tarn__reuse_version(json_t *m)
{
    return str(json_object_get(m, "reuse"), "version");
}

int tarn__reuse_check(tarn_lake *lake, const tarn_tree *tree, json_t *project, tarn_error *err)
{
    (void)lake;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i, m)
    {
        const char *v = tarn__reuse_version(m);
        if (!v) continue;
        tarn_tree_entry *e = tarn__tree_find(tree, str(m, "output"));
        if (!e || e->kind != TARN_ENTRY_TABLE || strcmp(e->version, v) != 0)
            return tarn__error_set(
                err, TARN_ECONFLICT,
                "table '%s' changed on the branch while this run reused model '%s''s "
                "output for it: nothing was committed; run again",
                str(m, "output"), str(m, "name"));
    }
    return 0;
}

int tarn__reuse_check_commit(tarn_lake *lake, const char *commit, json_t *project, tarn_error *err)
{
    size_t i;
    json_t *m;
    int any = 0;
    json_array_foreach(json_object_get(project, "models"), i, m) any |=
        tarn__reuse_version(m) != NULL;
    if (!any) return 0;
    tarn_tree tree = {0};
    TARN_RETURN_NOT_OK(tarn__tree_load_commit(&tree, lake, commit, err));
    int rc = tarn__reuse_check(lake, &tree, project, err);
    tarn__tree_clear(&tree);
    return rc;
}

int tarn__reuse_record(json_t *report, json_t *project, tarn_lake *lake, const char *commit,
                       tarn_error *err)
{
    tarn_tree tree = {0};
    TARN_RETURN_NOT_OK(tarn__tree_load_commit(&tree, lake, commit, err));
    json_t *rec = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i, m)
    {
        tarn_tree_entry *e = recordable(m) ? tarn__tree_find(&tree, str(m, "output")) : NULL;
        if (e && e->kind == TARN_ENTRY_TABLE)
            json_object_set_new(rec, str(m, "name"),
                                json_pack("{s:s,s:s,s:s}", "key", str(m, "reuse_key"), "table",
                                          str(m, "output"), "version", e->version));
    }
    tarn__tree_clear(&tree);
    json_object_set_new(report, "reuse", rec);
    return 0;
}
