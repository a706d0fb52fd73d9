/* runtime/plan.c — from a loaded project to a runnable DAG.
 *
 * Every refusal happens here, before anything runs, with the file and line
 * of the model at fault: duplicate names, unknown inputs (with a
 * did-you-mean), a non-materialized model named like a table, cycles,
 * unknown or ill-typed parameters, columns a source table lacks, an
 * interpreter or a pinned package that is not available. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "runtime/runtime.h"
#include "sql/empty.h"
#include "sql/engine.h"
#include "sql/refs.h"
#include "table/schema.h"
#include <sys/wait.h>

#include "util/error.h"
#include "util/proc.h"
#include "util/util.h"

#define MODEL_AT "model '%s' (%s:%lld)"
#define AT(m)                                                                                      \
    json_string_value(json_object_get(m, "name")), json_string_value(json_object_get(m, "file")),  \
        (long long)json_integer_value(json_object_get(m, "line"))

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The nearest model or table name to NAME, or NULL. */
static const char *did_you_mean(const char *name, json_t *models, const tarn_tree *tree)
{
    const char *best = NULL;
    size_t best_d = 4;
    const char *key;
    json_t *v;
    json_object_foreach(models, key, v)
    {
        size_t dist = tarn__edit_distance(name, str(v, "name"));
        if (dist < best_d) best_d = dist, best = str(v, "name");
    }
    const char *table = tarn__tree_nearest_table(tree, name, &best_d);
    return table ? table : best;
}

/* Parameter values: declared defaults overridden by --param, typed. */
static int resolve_params(json_t *project, const tarn_run_options *opts, tarn_error *err)
{
    json_t *values = NULL;
    TARN_RETURN_NOT_OK(tarn__params_resolve(&values, json_object_get(project, "parameters"),
                                            str(project, "params_file"), opts, err));
    json_object_set_new(project, "params", values);
    return 0;
}

/* A model's key in the plan's name index: qualified and case folded, so
 * that `Countries`, `countries` and `default.countries` are one name. */
static void model_key(char *out, size_t size, const char *name)
{
    tarn__qualify_table(out, size, name);
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
}

/* Every $name of PARAMS (names) must be declared; WHERE says where. */
static int check_declared(json_t *params, json_t *declared, json_t *m, const char *where,
                          const char *file, tarn_error *err)
{
    const char *missing = tarn__sql_params_missing(params, declared);
    if (!missing) return 0;
    return tarn__error_set(err, TARN_EINVALID,
                           MODEL_AT ": $%s is not a parameter (%s uses it): declare it under "
                           "parameters in %s",
                           AT(m), missing, where, file);
}

/* The interpreter a model asks for must exist: the one that inspected the
 * project, or one of `python.interpreters` (colon-separated paths). Its
 * pinned packages were resolved into an environment at discovery. */
static int check_environment(json_t *m, json_t *project, tarn_lake *lake, tarn_error *err)
{
    const char *want = str(m, "python"), *have = str(project, "interpreter");
    if (!want || !have || tarn__python_version_matches(have, want)) return 0;
    const char *list = tarn_lake_config(lake, "python.interpreters");
    strbuf seen = {0};
    sb_printf(&seen, "%s (Python %s)", tarn__python_exe(lake), have);
    int found = 0;
    char *copy = strdup(list ? list : "");
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p && !found; p = strtok_r(NULL, ":", &save)) {
        char *argv[] = {p, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])", NULL};
        char *out = NULL, *errout = NULL;
        int status = 0;
        if (tarn__proc_capture(&out, &errout, &status, argv, NULL) == 0 && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0) {
            out[strcspn(out, "\n")] = 0;
            sb_printf(&seen, ", %s (Python %s)", p, out);
            if (tarn__python_version_matches(out, want)) {
                json_object_set_new(m, "interpreter", json_string(p));
                found = 1;
            }
        }
        free(out);
        free(errout);
    }
    free(copy);
    int rc = found ? 0 : tarn__error_set(err, TARN_EINVALID,
                                         MODEL_AT " asks for Python %s, but no interpreter provides it "
                                         "(have: %s; add one to python.interpreters in .tarn/config)",
                                         AT(m), want, sb_str(&seen));
    sb_free(&seen);
    return rc;
}

static int check_columns(json_t *m, json_t *input, tarn_lake *lake, const char *version,
                         tarn_error *err)
{
    json_t *cols = json_object_get(input, "columns");
    if (!json_is_array(cols)) return 0;
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version, err));
    tarn_column *schema;
    size_t n;
    tarn__schema_parse(&schema, &n, v.schema_json);
    int rc = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        int found = 0;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(schema[k].name, json_string_value(c))) found = 1;
        if (!found) {
            strbuf have = {0};
            for (size_t k = 0; k < n; k++) sb_printf(&have, "%s%s", k ? ", " : "", schema[k].name);
            rc = tarn__error_set(err, TARN_EINVALID,
                                 MODEL_AT ": table '%s' has no column '%s' (it has: %s)", AT(m),
                                 str(input, "name"), json_string_value(c), sb_str(&have));
            sb_free(&have);
            break;
        }
    }
    tarn__columns_free(schema, n);
    tarn__version_clear(&v);
    return rc;
}

/* Binds the scan's filter, its parameters bound, against an empty table
 * with the source's columns: a bad column, expression or parameter is
 * refused at plan time, and nothing is read or run (--dry-run included). */
static int check_filter(json_t *m, json_t *input, tarn_lake *lake, tarn_duck *d, const char *version,
                        json_t *params, tarn_error *err)
{
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version, err));
    tarn_column *cols = NULL;
    size_t n = 0;
    tarn__schema_parse(&cols, &n, v.schema_json);
    char table[32];
    snprintf(table, sizeof table, "tarn_scan_%.16s", version);
    strbuf q = {0};
    sb_printf(&q, "CREATE TABLE IF NOT EXISTS %s (", table);
    for (size_t i = 0; i < n; i++) {
        if (i) sb_append(&q, ", ");
        sb_append_sql_ident(&q, cols[i].name);
        sb_printf(&q, " %s", cols[i].type);
    }
    sb_append(&q, ")");
    int rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot check a filter", err);
    q.len = 0;
    sb_printf(&q, "SELECT * FROM %s WHERE (", table);
    sb_append(&q, str(input, "filter_sql"));
    sb_append(&q, "\n)");
    tarn_error derr = TARN_ERROR_INIT;
    duckdb_prepared_statement prep = NULL;
    if (rc == 0 && tarn__duck_prepare_bound(&prep, d, sb_str(&q), params, TARN_EINVALID, "DuckDB", &derr) < 0) {
        /* DuckDB's "LINE 1: ..." excerpt shows tarn's rewritten scan, not the
         * user's filter: keep the message only. */
        char *cut = strstr(derr.message, "\nLINE ");
        if (cut) *cut = 0;
        size_t len = strlen(derr.message);
        while (len && (derr.message[len - 1] == '\n' || derr.message[len - 1] == ' ')) derr.message[--len] = 0;
        rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": the filter on '%s' is not valid: %s",
                             AT(m), str(input, "name"), derr.message);
    }
    duckdb_destroy_prepare(&prep);
    tarn_error_clear(&derr);
    sb_free(&q);
    tarn__columns_free(cols, n);
    tarn__version_clear(&v);
    return rc;
}

/* Depth-first search for a cycle, written into PATH as "a -> b -> a". */
static int find_cycle(json_t *by_name, const char *name, json_t *state, strbuf *path)
{
    json_t *s = json_object_get(state, name);
    if (s && json_integer_value(s) == 2) return 0;
    if (s && json_integer_value(s) == 1) {
        sb_append(path, name);
        return 1;
    }
    json_object_set_new(state, name, json_integer(1));
    size_t i;
    json_t *p;
    char key[300];
    model_key(key, sizeof key, name);
    json_array_foreach(json_object_get(json_object_get(by_name, key), "parents"), i, p)
    {
        if (find_cycle(by_name, json_string_value(p), state, path)) {
            strbuf tmp = {0};
            sb_printf(&tmp, "%s -> %s", name, sb_str(path));
            sb_free(path);
            *path = tmp;
            return 1;
        }
    }
    json_object_set_new(state, name, json_integer(2));
    return 0;
}

int tarn__plan(json_t *project, tarn_lake *lake, const char *input_commit,
               const tarn_run_options *opts, tarn_duck *duck, tarn_error *err)
{
    TARN_RETURN_NOT_OK(resolve_params(project, opts, err));
    json_t *params = json_object_get(project, "params");
    const char *ns = opts->version >= 2 && opts->namespace_ ? opts->namespace_ : NULL;
    if (!ns) ns = str(json_object_get(project, "defaults"), "namespace");
    tarn_error ns_err = TARN_ERROR_INIT;
    if (ns && tarn_name_check_namespace(ns, &ns_err) != 0) {
        int bad = tarn__error_set(err, TARN_EINVALID, "namespace '%s': %s", ns, ns_err.message);
        tarn_error_clear(&ns_err);
        return bad;
    }
    if (ns) json_object_set_new(project, "namespace", json_string(ns));
    json_t *models = json_object_get(project, "models");
    json_t *by_name = json_object();
    tarn_tree tree = {0};
    int rc = tarn__tree_load_commit(&tree, lake, input_commit, err);
    size_t i;
    json_t *m;
    tarn_error nerr = TARN_ERROR_INIT;
    json_array_foreach(models, i, m)
    {
        if (rc < 0) break;
        if (tarn_name_check_table(str(m, "name"), &nerr) != 0) {
            rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": a model name must be a valid table name: %s",
                                 AT(m), nerr.message);
            break;
        }
        char key[300];
        model_key(key, sizeof key, str(m, "name"));
        json_t *other = json_object_get(by_name, key);
        if (other) {
            rc = tarn__error_set(err, TARN_EINVALID, "model '%s' is defined twice: %s:%lld and %s:%lld%s",
                                 str(m, "name"), str(other, "file"),
                                 (long long)json_integer_value(json_object_get(other, "line")),
                                 str(m, "file"), (long long)json_integer_value(json_object_get(m, "line")),
                                 strcmp(str(m, "name"), str(other, "name")) ? " (names do not differ by case)" : "");
            break;
        }
        json_object_set(by_name, key, m);
    }
    tarn_error_clear(&nerr);
    json_array_foreach(models, i, m)
    {
        if (rc < 0) break;
        const char *name = str(m, "name");
        const char *role = str(m, "role");
        char qualified[300];
        tarn__qualify_table(qualified, sizeof qualified, name);
        tarn_tree_entry *shadow = NULL;
        /* One DuckDB session holds every model and source of the run: a
         * name written two ways would be one view there. */
        if ((rc = tarn__name_lookup(&shadow, &tree, qualified, 0, err)) < 0) break;
        if (shadow && shadow->kind == TARN_ENTRY_TABLE && !strcmp(role, "model") &&
            !strcmp(str(m, "materialization"), "NONE")) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 MODEL_AT " has the name of an existing table ('%s'): rename it, or "
                                 "materialize it to replace the table",
                                 AT(m), shadow->name);
            break;
        }
        const char *dot = strchr(name, '.');
        if (dot && !strcmp(str(m, "kind"), "python")) {
            /* Its output is registered in DuckDB as ns__dot__t (see
             * runtime/worker.c): no other model may have that name. */
            char mangled[600];
            snprintf(mangled, sizeof mangled, "%.*s__dot__%s", (int)(dot - name), name, dot + 1);
            char mkey[700];
            model_key(mkey, sizeof mkey, mangled);
            json_t *other = json_object_get(by_name, mkey);
            if (other) {
                rc = tarn__error_set(err, TARN_EINVALID,
                                     MODEL_AT " and model '%s' cannot run together (tarn names "
                                     "one's output like the other): rename one",
                                     AT(m), str(other, "name"));
                break;
            }
        }
        /* Where a materialized output lands: the model's own namespace,
         * else the run's (--namespace, or the project file's default),
         * else default. */
        char output[600];
        if (dot || !ns) tarn__qualify_table(output, sizeof output, name);
        else snprintf(output, sizeof output, "%s.%s", ns, name);
        json_object_set_new(m, "output", json_string(output));
        if (!strcmp(str(m, "kind"), "python") && (rc = check_environment(m, project, lake, err)) < 0) break;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(m, "parameters"), k, p)
        {
            if (!json_object_get(params, str(p, "name"))) {
                rc = tarn__error_set(err, TARN_EINVALID,
                                     MODEL_AT " uses parameter '%s', which %s does not declare",
                                     AT(m), str(p, "name"), str(project, "params_file"));
                break;
            }
        }
        if (rc < 0) break;
        json_t *parents = json_array();
        json_object_set_new(m, "parents", parents);
        json_t *in;
        json_array_foreach(json_object_get(m, "inputs"), k, in)
        {
            const char *iname = str(in, "name");
            if (tarn_name_check_table(iname, NULL) != 0) {
                rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": '%s' is not a valid table name",
                                     AT(m), iname);
                break;
            }
            /* A filter is one expression on the input's columns, its
             * parameters bound by name when it runs. */
            json_t *where = NULL, *fparams = NULL;
            if (str(in, "filter")) {
                tarn_error ferr = TARN_ERROR_INIT;
                rc = tarn__sql_filter_parse(&where, &fparams, duck, str(in, "filter"), &ferr);
                if (rc < 0)
                    rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": the filter on '%s' is not valid: %s",
                                         AT(m), iname, ferr.message);
                tarn_error_clear(&ferr);
                if (rc == 0) rc = check_declared(fparams, params, m, "its filter", str(project, "params_file"), err);
                if (rc == 0) json_object_set_new(in, "filter_sql", json_string(str(in, "filter")));
                /* the parameters it reads are part of the model's reuse key */
                if (rc == 0 && fparams) json_object_set(in, "filter_params", fparams);
            }
            char key[300];
            model_key(key, sizeof key, iname);
            json_t *parent = json_object_get(by_name, key);
            if (rc == 0 && parent && !str(in, "ref")) {
                if (!strcmp(str(parent, "role"), "expectation")) {
                    rc = tarn__error_set(err, TARN_EINVALID,
                                         MODEL_AT " reads '%s', which is an expectation, not a table",
                                         AT(m), iname);
                } else {
                    /* From here on the input goes by its model's own name. */
                    json_object_set_new(in, "name", json_string(str(parent, "name")));
                    json_array_append_new(parents, json_string(str(parent, "name")));
                }
                json_decref(where);
                json_decref(fparams);
                if (rc < 0) break;
                continue;
            }
            char q[300];
            tarn__qualify_table(q, sizeof q, iname);
            tarn_tree other = {0};
            tarn_tree *t = &tree;
            char at[65];
            snprintf(at, sizeof at, "%s", input_commit);
            if (rc == 0 && str(in, "ref")) {
                tarn_commit_id c;
                if ((rc = tarn_ref_resolve(&c, lake, str(in, "ref"), err)) == 0 &&
                    (rc = tarn__tree_load_commit(&other, lake, c.hex, err)) == 0) {
                    t = &other;
                    snprintf(at, sizeof at, "%s", c.hex);
                }
            }
            tarn_tree_entry *e = NULL;
            if (rc == 0) rc = tarn__name_lookup(&e, t, q, 0, err);
            if (rc == 0 && (!e || e->kind != TARN_ENTRY_TABLE)) {
                const char *near = did_you_mean(iname, by_name, t);
                rc = tarn__error_set(err, TARN_ENOTFOUND,
                                     MODEL_AT " reads '%s', which is neither a model nor a table%s%s%s",
                                     AT(m), iname, near ? " (did you mean '" : "", near ? near : "",
                                     near ? "'?)" : "");
            } else if (rc == 0) {
                json_object_set_new(in, "source", json_pack("{s:s,s:s,s:s}", "table", e->name, "version",
                                                            e->version, "commit", at));
                rc = check_columns(m, in, lake, e->version, err);
            }
            if (rc == 0) {
                /* Files the filter rules out by their statistics are never read. */
                json_t *kept = NULL;
                size_t total = 0;
                rc = tarn__scan_files(&kept, &total, lake, duck, e->version, where, params, err);
                json_t *src = json_object_get(in, "source");
                json_object_set_new(src, "files", kept ? kept : json_array());
                if (rc == 0 && where) rc = check_filter(m, in, lake, duck, e->version, params, err);
                json_object_set_new(src, "files_total", json_integer((json_int_t)total));
            }
            json_decref(where);
            json_decref(fparams);
            tarn__tree_clear(&other);
            if (rc < 0) break;
        }
        if (rc < 0) break;
        if (str(m, "sql")) {
            /* Bound when the model runs; every one must be declared. */
            if ((rc = check_declared(json_object_get(m, "sql_params"), params, m, "its SQL",
                                     str(project, "params_file"), err)) < 0)
                break;
            json_object_set_new(m, "sql_run", json_string(str(m, "sql")));
        }
    }
    /* Order: parents first (Kahn); what cannot be ordered is a cycle. */
    if (rc == 0) {
        json_t *order = json_array(), *done = json_object();
        size_t n = json_array_size(models);
        int progress = 1;
        while (json_array_size(order) < n && progress) {
            progress = 0;
            json_array_foreach(models, i, m)
            {
                if (json_object_get(done, str(m, "name"))) continue;
                int ready = 1;
                size_t k;
                json_t *p;
                json_array_foreach(json_object_get(m, "parents"), k, p)
                    if (!json_object_get(done, json_string_value(p))) ready = 0;
                if (!ready) continue;
                json_object_set_new(done, str(m, "name"), json_true());
                json_array_append_new(order, json_string(str(m, "name")));
                progress = 1;
            }
        }
        if (json_array_size(order) < n) {
            json_t *state = json_object();
            strbuf path = {0};
            json_array_foreach(models, i, m)
            {
                if (json_object_get(done, str(m, "name"))) continue;
                if (find_cycle(by_name, str(m, "name"), state, &path)) {
                    rc = tarn__error_set(err, TARN_EINVALID, "the models form a cycle: %s (" MODEL_AT ")",
                                         sb_str(&path), AT(m));
                    break;
                }
            }
            if (rc == 0) /* every model that cannot be ordered is on a cycle: never here */
                rc = tarn__error_set(err, TARN_EINVALID, "the models cannot be ordered (a cycle?)");
            sb_free(&path);
            json_decref(state);
        }
        json_object_set_new(project, "order", order);
        json_decref(done);
    }
    tarn__tree_clear(&tree);
    json_decref(by_name);
    return rc;
}
