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

#include "runtime/runtime.h"
#include "sql/empty.h"
#include "sql/engine.h"
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
        size_t dist = tarn__edit_distance(name, key);
        if (dist < best_d) best_d = dist, best = key;
    }
    const char *table = tarn__tree_nearest_table(tree, name, &best_d);
    return table ? table : best;
}

/* Parameter values: declared defaults overridden by --param, typed. */
static int resolve_params(json_t *project, const tarn_run_options *opts, tarn_error *err)
{
    json_t *decls = json_object_get(project, "parameters");
    json_t *values = json_object();
    const char *name;
    json_t *decl;
    json_object_foreach(decls, name, decl)
    {
        json_t *d = json_object_get(decl, "default");
        if (d) json_object_set(values, name, d);
    }
    for (size_t i = 0; i < opts->nparams; i++) {
        const char *pn = opts->param_names[i], *pv = opts->param_values[i];
        decl = json_object_get(decls, pn);
        if (!decl) {
            json_decref(values);
            return tarn__error_set(err, TARN_EINVALID,
                                   "unknown parameter '%s': declare it under [parameters] in "
                                   "tarn_project.toml",
                                   pn);
        }
        const char *type = str(decl, "type");
        json_t *v = NULL;
        char *end;
        if (!type || !strcmp(type, "str")) {
            v = json_string(pv);
        } else if (!strcmp(type, "int")) {
            long long x = strtoll(pv, &end, 10);
            if (*pv && !*end) v = json_integer(x);
        } else if (!strcmp(type, "float")) {
            double x = strtod(pv, &end);
            if (*pv && !*end) v = json_real(x);
        } else if (!strcmp(type, "bool")) {
            if (!strcmp(pv, "true") || !strcmp(pv, "1")) v = json_true();
            else if (!strcmp(pv, "false") || !strcmp(pv, "0")) v = json_false();
        }
        if (!v) {
            json_decref(values);
            return tarn__error_set(err, TARN_EINVALID, "parameter '%s' is %s: '%s' is not one", pn,
                                   type, pv);
        }
        json_object_set_new(values, pn, v);
    }
    json_object_set_new(project, "params", values);
    return 0;
}

char *tarn__substitute_params(const char *text, json_t *params, tarn_error *err)
{
    strbuf out = {0};
    char quote = 0;
    for (const char *p = text; *p; p++) {
        if (quote) {
            sb_appendn(&out, p, 1);
            if (*p == quote) quote = 0;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            quote = *p;
            sb_appendn(&out, p, 1);
            continue;
        }
        if (*p != '$' || !(isalpha((unsigned char)p[1]) || p[1] == '_')) {
            sb_appendn(&out, p, 1);
            continue;
        }
        const char *s = p + 1, *e = s;
        while (isalnum((unsigned char)*e) || *e == '_') e++;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(e - s), s);
        json_t *v = json_object_get(params, name);
        if (!v) {
            sb_free(&out);
            tarn__error_set(err, TARN_EINVALID,
                            "$%s is not a parameter: declare it under [parameters] in tarn_project.toml",
                            name);
            return NULL;
        }
        if (json_is_string(v)) sb_append_sql_string(&out, json_string_value(v));
        else if (json_is_integer(v)) sb_printf(&out, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) sb_printf(&out, "%.17g", json_real_value(v));
        else if (json_is_boolean(v)) sb_append(&out, json_is_true(v) ? "TRUE" : "FALSE");
        else sb_append(&out, "NULL");
        p = e - 1;
    }
    if (!out.s) sb_append(&out, "");
    return out.s;
}

/* The interpreter a model asks for must exist: the one that inspected the
 * project, or one of `python.interpreters` (colon-separated paths). Its
 * pinned packages were resolved into an environment at discovery. */
static int check_environment(json_t *m, json_t *project, tarn_lake *lake, tarn_error *err)
{
    const char *want = str(m, "python"), *have = str(project, "interpreter");
    if (!want || !have || !strncmp(have, want, strlen(want))) return 0;
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
            if (!strncmp(out, want, strlen(want))) {
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

/* Binds the scan's filter against the table (DESCRIBE runs nothing), so a
 * bad column or expression is refused at plan time. */
static int check_filter(json_t *m, json_t *input, tarn_lake *lake, tarn_duck *d, const char *version,
                        tarn_error *err)
{
    strbuf q = {0};
    sb_append(&q, "DESCRIBE SELECT * FROM ");
    int rc = tarn__duck_shape_sql(&q, lake, version, err);
    sb_printf(&q, " WHERE %s", str(input, "filter_sql"));
    tarn_error derr = TARN_ERROR_INIT;
    if (rc == 0 && tarn__duck_exec(d, sb_str(&q), TARN_EINVALID, "DuckDB", &derr) < 0) {
        /* DuckDB's "LINE 1: ..." excerpt shows tarn's rewritten scan, not the
         * user's filter: keep the message only. */
        char *cut = strstr(derr.message, "\nLINE ");
        if (cut) *cut = 0;
        size_t n = strlen(derr.message);
        while (n && (derr.message[n - 1] == '\n' || derr.message[n - 1] == ' ')) derr.message[--n] = 0;
        rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": the filter on '%s' is not valid: %s",
                             AT(m), str(input, "name"), derr.message);
    }
    sb_free(&q);
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
    json_array_foreach(json_object_get(json_object_get(by_name, name), "parents"), i, p)
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
               const tarn_run_options *opts, tarn_error *err)
{
    TARN_RETURN_NOT_OK(resolve_params(project, opts, err));
    json_t *params = json_object_get(project, "params");
    json_t *models = json_object_get(project, "models");
    json_t *by_name = json_object();
    tarn_tree tree = {0};
    tarn_duck duck;
    int duck_open = 0;
    int rc = tarn__tree_load_commit(&tree, lake, input_commit, err);
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        if (rc < 0) break;
        json_t *other = json_object_get(by_name, str(m, "name"));
        if (other) {
            rc = tarn__error_set(err, TARN_EINVALID, "model '%s' is defined twice: %s:%lld and %s:%lld",
                                 str(m, "name"), str(other, "file"),
                                 (long long)json_integer_value(json_object_get(other, "line")),
                                 str(m, "file"), (long long)json_integer_value(json_object_get(m, "line")));
            break;
        }
        if (tarn_name_check_table(str(m, "name"), NULL) != 0) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 MODEL_AT ": a model name must be a valid table name "
                                 "(letters, digits, '_')", AT(m));
            break;
        }
        json_object_set(by_name, str(m, "name"), m);
    }
    json_array_foreach(models, i, m)
    {
        if (rc < 0) break;
        const char *name = str(m, "name");
        const char *role = str(m, "role");
        char qualified[300];
        tarn__qualify_table(qualified, sizeof qualified, name);
        tarn_tree_entry *shadow = tarn__tree_find(&tree, qualified);
        if (shadow && shadow->kind == TARN_ENTRY_TABLE && !strcmp(role, "model") &&
            !strcmp(str(m, "materialization"), "NONE")) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 MODEL_AT " has the name of an existing table: rename it, or "
                                 "materialize it to replace the table",
                                 AT(m));
            break;
        }
        if (!strcmp(str(m, "kind"), "python") && (rc = check_environment(m, project, lake, err)) < 0) break;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(m, "parameters"), k, p)
        {
            if (!json_object_get(params, str(p, "name"))) {
                rc = tarn__error_set(err, TARN_EINVALID,
                                     MODEL_AT " uses parameter '%s', which tarn_project.toml does not declare",
                                     AT(m), str(p, "name"));
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
            json_t *parent = json_object_get(by_name, iname);
            if (parent && !str(in, "ref")) {
                if (!strcmp(str(parent, "role"), "expectation")) {
                    rc = tarn__error_set(err, TARN_EINVALID,
                                         MODEL_AT " reads '%s', which is an expectation, not a table",
                                         AT(m), iname);
                    break;
                }
                json_array_append_new(parents, json_string(iname));
                continue;
            }
            if (tarn_name_check_table(iname, NULL) != 0) {
                rc = tarn__error_set(err, TARN_EINVALID, MODEL_AT ": '%s' is not a valid table name",
                                     AT(m), iname);
                break;
            }
            char q[300];
            tarn__qualify_table(q, sizeof q, iname);
            tarn_tree other = {0};
            tarn_tree *t = &tree;
            char at[65];
            snprintf(at, sizeof at, "%s", input_commit);
            if (str(in, "ref")) {
                tarn_commit_id c;
                if ((rc = tarn_ref_resolve(&c, lake, str(in, "ref"), err)) < 0) break;
                if ((rc = tarn__tree_load_commit(&other, lake, c.hex, err)) < 0) break;
                t = &other;
                snprintf(at, sizeof at, "%s", c.hex);
            }
            tarn_tree_entry *e = tarn__tree_find(t, q);
            if (!e || e->kind != TARN_ENTRY_TABLE) {
                const char *near = did_you_mean(iname, by_name, t);
                rc = tarn__error_set(err, TARN_ENOTFOUND,
                                     MODEL_AT " reads '%s', which is neither a model nor a table%s%s%s",
                                     AT(m), iname, near ? " (did you mean '" : "", near ? near : "",
                                     near ? "'?)" : "");
            } else {
                json_object_set_new(in, "source", json_pack("{s:s,s:s,s:s}", "table", q, "version",
                                                            e->version, "commit", at));
                rc = check_columns(m, in, lake, e->version, err);
            }
            if (rc == 0 && str(in, "filter")) {
                char *f = tarn__substitute_params(str(in, "filter"), params, err);
                if (!f) rc = TARN_EINVALID;
                else json_object_set_new(in, "filter_sql", json_string(f));
                free(f);
            }
            if (rc == 0 && e) {
                /* Files the filter rules out by their statistics are never read. */
                if (!duck_open && (rc = tarn__duck_open(&duck, err)) == 0) duck_open = 1;
                json_t *kept = NULL;
                size_t total = 0;
                if (rc == 0)
                    rc = tarn__scan_files(&kept, &total, lake, &duck, e->version, str(in, "filter_sql"), err);
                json_t *src = json_object_get(in, "source");
                json_object_set_new(src, "files", kept ? kept : json_array());
                if (rc == 0 && str(in, "filter_sql")) rc = check_filter(m, in, lake, &duck, e->version, err);
                json_object_set_new(src, "files_total", json_integer((json_int_t)total));
            }
            tarn__tree_clear(&other);
            if (rc < 0) break;
        }
        if (rc < 0) break;
        if (str(m, "sql")) {
            char *sql = tarn__substitute_params(str(m, "sql"), params, err);
            if (!sql) {
                char msg[TARN_MESSAGE_MAX];
                snprintf(msg, sizeof msg, "%s", err ? err->message : "");
                rc = tarn__error_set(err, TARN_EINVALID, "%s:1: %s", str(m, "file"), msg);
                break;
            }
            json_object_set_new(m, "sql_run", json_string(sql));
            free(sql);
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
            sb_free(&path);
            json_decref(state);
        }
        json_object_set_new(project, "order", order);
        json_decref(done);
    }
    tarn__tree_clear(&tree);
    json_decref(by_name);
    if (duck_open) tarn__duck_close(&duck);
    return rc;
}
