/* runtime/project.c — loading a pipeline project: its files, its project
 * file (tarn_project.toml, or a Bauplan project's bauplan_project.yml:
 * parameters, defaults, include_paths), SQL models (parsed by DuckDB; a
 * `-- tarn:` or `-- bauplan:` header sets options) and Python models
 * (discovered by importing the files in a subprocess with the SDK).
 *
 * Nothing of the user's code runs inside this process. */
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/dataplane.h"
#include "runtime/discocache.h"
#include "runtime/runtime.h"
#include "sql/engine.h"
#include "sql/refs.h"
#include "util/error.h"
#include "util/proc.h"
#include "util/util.h"
#include "util/yaml.h"

#ifndef TARN_BUILD_PYTHON_DIR
#define TARN_BUILD_PYTHON_DIR ""
#endif

const char *tarn__python_exe(tarn_lake *lake)
{
    const char *p = getenv("TARN_PYTHON");
    if (p && *p) return p;
    p = lake ? tarn_lake_config(lake, "python.interpreter") : NULL;
    return p && *p ? p : "/usr/bin/python3";
}

/* The folder holding the `tarn` package: TARN_PYTHONPATH, else next to
 * the library that runs (build/python beside build/libtarn.so, or
 * PREFIX/lib/python3.X/dist-packages beside PREFIX/lib/libtarn.so), else the
 * build tree this library was compiled in. */
static char python_path_found[PATH_MAX]; /* computed once; the same for the whole process */
static pthread_once_t python_path_once = PTHREAD_ONCE_INIT;

static void python_path_find(void);

/* Once per process: runs inside `tarn serve` plan on threads at once. */
const char *tarn__python_path(void)
{
    const char *p = getenv("TARN_PYTHONPATH");
    if (p && *p) return p;
    pthread_once(&python_path_once, python_path_find);
    return python_path_found;
}

static void python_path_find(void)
{
    Dl_info info;
    char dir[PATH_MAX] = "";
    if (dladdr((void *)tarn__python_path, &info) && info.dli_fname && realpath(info.dli_fname, dir)) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        static const char *const candidates[] = {"%s/python", "%s/python3.11/dist-packages",
                                                 "%s/python3/dist-packages"};
        for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
            char cand[PATH_MAX + 64], init[PATH_MAX + 96];
            snprintf(cand, sizeof cand, candidates[i], dir);
            snprintf(init, sizeof init, "%s/tarn/__init__.py", cand);
            if (access(init, R_OK) == 0) {
                snprintf(python_path_found, sizeof python_path_found, "%s", cand);
                return;
            }
        }
    }
    snprintf(python_path_found, sizeof python_path_found, "%s", TARN_BUILD_PYTHON_DIR);
}

int tarn__python_version_matches(const char *have, const char *want)
{
    size_t n = strlen(want);
    /* A prefix that ends where a version component ends: "3.1" is not "3.11". */
    return n && !strncmp(have, want, n) && (have[n] == 0 || have[n] == '.');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* ---- project files: tarn_project.toml or bauplan_project.yml ------------------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* A TOML scalar: "string", number, true/false. */
static json_t *toml_value(const char *v)
{
    if (*v == '"' || *v == '\'') {
        size_t n = strlen(v);
        if (n >= 2 && v[n - 1] == v[0]) return json_stringn(v + 1, n - 2);
        return NULL;
    }
    if (!strcmp(v, "true")) return json_true();
    if (!strcmp(v, "false")) return json_false();
    char *end;
    long long i = strtoll(v, &end, 10);
    if (*v && !*end) return json_integer(i);
    double d = strtod(v, &end);
    if (*v && !*end) return json_real(d);
    return NULL;
}

/* tarn_project.toml: [parameters] name = { type = "int", default = 3 }. */
static int parse_toml(json_t *project, const char *text, const char *path, tarn_error *err)
{
    json_t *params = json_object_get(project, "parameters");
    char *copy = strdup(text), *save = NULL;
    int section = 0, lineno = 0, rc = 0;
    char where[PATH_MAX + 512];
    /* strtok_r skips empty lines: count them from the text itself */
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        lineno = 1;
        for (const char *c = text; c < text + (line - copy); c++) lineno += *c == '\n';
        char *hash = strchr(line, '#');
        if (hash && !strchr(line, '"')) *hash = 0;
        char *l = trim(line);
        if (!*l) continue;
        if (*l == '[') {
            section = strcmp(l, "[parameters]") == 0;
            continue;
        }
        if (!section) continue;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = tarn__error_set(err, TARN_EINVALID, "%s: expected NAME = VALUE", where);
            break;
        }
        *eq = 0;
        char *name = trim(l), *value = trim(eq + 1);
        json_t *spec = NULL;
        if (*value == '{') {
            size_t n = strlen(value);
            if (value[n - 1] != '}') {
                rc = tarn__error_set(err, TARN_EINVALID, "%s: an inline table ends with '}'", where);
                break;
            }
            value[n - 1] = 0;
            spec = json_object();
            char *save2 = NULL;
            for (char *kv = strtok_r(value + 1, ",", &save2); kv && rc == 0;
                 kv = strtok_r(NULL, ",", &save2)) {
                char *e2 = strchr(kv, '=');
                if (!e2) continue;
                *e2 = 0;
                json_t *v = toml_value(trim(e2 + 1));
                if (!v)
                    rc = tarn__error_set(err, TARN_EINVALID,
                                         "%s: the value of '%s' is not a TOML string, number or "
                                         "boolean",
                                         where, trim(kv));
                else json_object_set_new(spec, trim(kv), v);
            }
        } else {
            spec = toml_value(value);
            if (!spec)
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "%s: the value of '%s' is not a TOML string, number, boolean "
                                     "or inline table",
                                     where, name);
        }
        if (rc == 0) rc = tarn__params_declare(params, name, spec, where, err);
        json_decref(spec);
    }
    free(copy);
    return rc;
}

/* "FILE:LINE" of the YAML key at PATH ("parameters.x"), or FILE. */
static void yaml_where(char *out, size_t size, const char *file, json_t *lines, const char *path)
{
    json_t *l = json_object_get(lines, path);
    if (l) snprintf(out, size, "%s:%lld", file, (long long)json_integer_value(l));
    else snprintf(out, size, "%s", file);
}

/* Refuses a key of OBJ (a mapping at PATH) that is not in KEYS. */
static int check_keys(json_t *obj, const char *const *keys, size_t n, const char *file,
                      json_t *lines, const char *path, tarn_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) known = !strcmp(k, keys[i]);
        if (known) continue;
        char where[PATH_MAX + 512], at[300];
        snprintf(at, sizeof at, "%s%s%s", path, *path ? "." : "", k);
        yaml_where(where, sizeof where, file, lines, at);
        const char *near = tarn_nearest_name(k, keys, n);
        strbuf all = {0};
        for (size_t i = 0; i < n; i++) sb_printf(&all, "%s%s", i ? ", " : "", keys[i]);
        int rc = tarn__error_set(err, TARN_EINVALID, "%s: unknown key '%s'%s%s%s (%s%s holds: %s)",
                                 where, k, near ? " (did you mean '" : "", near ? near : "",
                                 near ? "'?)" : "", *path ? path : "the file",
                                 *path ? "" : "", sb_str(&all));
        sb_free(&all);
        return rc;
    }
    return 0;
}

static int expect_kind(json_t *v, int object, const char *file, json_t *lines, const char *path,
                       tarn_error *err)
{
    if (!v || json_is_null(v) || (object ? json_is_object(v) : json_is_array(v))) return 0;
    char where[PATH_MAX + 512];
    yaml_where(where, sizeof where, file, lines, path);
    return tarn__error_set(err, TARN_EINVALID, "%s: '%s' must be a %s", where, path,
                           object ? "mapping (key: value lines)" : "list (- item lines)");
}

/* defaults: python: {version, packages: [{name, version}]}, namespace, timeout. */
static int yaml_defaults(json_t *project, json_t *defaults, const char *file, json_t *lines,
                         tarn_error *err)
{
    static const char *const keys[] = {"python", "namespace", "timeout"};
    static const char *const py_keys[] = {"version", "packages"};
    char where[PATH_MAX + 512];
    TARN_RETURN_NOT_OK(check_keys(defaults, keys, 3, file, lines, "defaults", err));
    json_t *out = json_object_get(project, "defaults");
    json_t *py = json_object_get(defaults, "python");
    TARN_RETURN_NOT_OK(expect_kind(py, 1, file, lines, "defaults.python", err));
    if (json_is_object(py)) {
        TARN_RETURN_NOT_OK(check_keys(py, py_keys, 2, file, lines, "defaults.python", err));
        json_t *ver = json_object_get(py, "version");
        if (json_is_real(ver)) { /* version: 3.11 unquoted reads as a number */
            char text[32];
            snprintf(text, sizeof text, "%.2f", json_real_value(ver));
            json_object_set_new(out, "python", json_string(text));
        } else if (json_is_string(ver)) {
            json_object_set(out, "python", ver);
        } else if (ver && !json_is_null(ver)) {
            yaml_where(where, sizeof where, file, lines, "defaults.python.version");
            return tarn__error_set(err, TARN_EINVALID, "%s: the Python version is text such as "
                                   "\"3.11\"", where);
        }
        json_t *pkgs = json_object_get(py, "packages");
        TARN_RETURN_NOT_OK(expect_kind(pkgs, 0, file, lines, "defaults.python.packages", err));
        json_t *pins = json_object();
        json_object_set_new(out, "pip", pins);
        size_t i;
        json_t *p;
        json_array_foreach(pkgs, i, p)
        {
            json_t *name = json_object_get(p, "name"), *version = json_object_get(p, "version");
            if (!json_is_string(name) || !(json_is_string(version) || json_is_number(version))) {
                yaml_where(where, sizeof where, file, lines, "defaults.python.packages");
                return tarn__error_set(err, TARN_EINVALID,
                                       "%s: each package is `- name: NAME` with `version: \"X.Y\"`",
                                       where);
            }
            char *v = json_is_string(version) ? strdup(json_string_value(version))
                                              : json_dumps(version, JSON_ENCODE_ANY);
            json_object_set_new(pins, json_string_value(name), json_string(v));
            free(v);
        }
    }
    json_t *ns = json_object_get(defaults, "namespace");
    if (ns && !json_is_null(ns)) {
        if (!json_is_string(ns) || tarn_name_check_namespace(json_string_value(ns), NULL) != 0) {
            yaml_where(where, sizeof where, file, lines, "defaults.namespace");
            return tarn__error_set(err, TARN_EINVALID, "%s: the namespace must be a name of "
                                   "[A-Za-z0-9_]", where);
        }
        json_object_set(out, "namespace", ns);
    }
    json_t *timeout = json_object_get(defaults, "timeout");
    if (timeout && !json_is_null(timeout)) {
        if (!json_is_number(timeout) || json_number_value(timeout) <= 0) {
            yaml_where(where, sizeof where, file, lines, "defaults.timeout");
            return tarn__error_set(err, TARN_EINVALID, "%s: the timeout is a number of seconds",
                                   where);
        }
        json_object_set_new(out, "timeout", json_real(json_number_value(timeout)));
    }
    return 0;
}

/* bauplan_project.yml: project (id, name), parameters, defaults, include_paths. */
static int parse_yaml(json_t *project, const char *text, size_t len, const char *path,
                      tarn_error *err)
{
    static const char *const keys[] = {"project", "parameters", "defaults", "include_paths"};
    static const char *const project_keys[] = {"id", "name"};
    json_t *doc = NULL, *lines = NULL;
    char where[PATH_MAX + 512];
    int rc = tarn__yaml_to_json(&doc, &lines, text, len, err);
    if (rc < 0) {
        char msg[TARN_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return tarn__error_set(err, rc, "%s: %s", path, msg);
    }
    if (json_is_null(doc)) goto done; /* an empty file */
    if (!json_is_object(doc)) {
        rc = tarn__error_set(err, TARN_EINVALID, "%s: a project file is a mapping (project:, "
                             "parameters:, ...)", path);
        goto done;
    }
    if ((rc = check_keys(doc, keys, 4, path, lines, "", err)) < 0) goto done;
    json_t *proj = json_object_get(doc, "project");
    if ((rc = expect_kind(proj, 1, path, lines, "project", err)) < 0) goto done;
    if (json_is_object(proj) && (rc = check_keys(proj, project_keys, 2, path, lines, "project", err)) < 0)
        goto done;
    json_t *id = json_object_get(proj, "id"), *name = json_object_get(proj, "name");
    if (json_is_string(id)) json_object_set(project, "project_id", id);
    if (json_is_string(name)) json_object_set(project, "project_name", name);
    json_t *params = json_object_get(doc, "parameters");
    if ((rc = expect_kind(params, 1, path, lines, "parameters", err)) < 0) goto done;
    const char *pname;
    json_t *spec;
    json_object_foreach(params, pname, spec)
    {
        char at[300];
        snprintf(at, sizeof at, "parameters.%s", pname);
        yaml_where(where, sizeof where, path, lines, at);
        if ((rc = tarn__params_declare(json_object_get(project, "parameters"), pname,
                                       json_is_null(spec) ? NULL : spec, where, err)) < 0)
            goto done;
    }
    json_t *defaults = json_object_get(doc, "defaults");
    if ((rc = expect_kind(defaults, 1, path, lines, "defaults", err)) < 0) goto done;
    if (json_is_object(defaults) && (rc = yaml_defaults(project, defaults, path, lines, err)) < 0)
        goto done;
    json_t *include = json_object_get(doc, "include_paths");
    if ((rc = expect_kind(include, 0, path, lines, "include_paths", err)) < 0) goto done;
    if (include) json_object_set(project, "include_paths", include);
done:
    json_decref(doc);
    json_decref(lines);
    return rc;
}

/* ---- SQL models ---------------------------------------------------------------- */

static const char *const HEADER_KEYS[] = {"name", "materialization_strategy", "materialize",
                                          "cache_strategy", "partitioned_by"};
#define NHEADER_KEYS (sizeof HEADER_KEYS / sizeof *HEADER_KEYS)

/* One `-- tarn: key=value ...` (or `-- bauplan:`) header line into M. */
static int sql_header(json_t *m, char *opt, const char *path, int lineno, tarn_error *err)
{
    char *save = NULL;
    for (char *kv = strtok_r(opt, " \t,", &save); kv; kv = strtok_r(NULL, " \t,", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv || !eq[1])
            return tarn__error_set(err, TARN_EINVALID, "%s:%d: '%s' is not KEY=VALUE in the header",
                                   path, lineno, kv);
        *eq = 0;
        char *v = eq + 1;
        if (!strcmp(kv, "materialization_strategy") || !strcmp(kv, "materialize")) {
            for (char *c = v; *c; c++) *c = (char)toupper((unsigned char)*c);
            if (!strcmp(kv, "materialize")) v = !strcmp(v, "TRUE") ? "REPLACE" : !strcmp(v, "FALSE") ? "NONE" : v;
            if (!strcmp(v, "OVERWRITE_PARTITIONS"))
                return tarn__error_set(err, TARN_EINVALID,
                                       "%s:%d: materialization_strategy OVERWRITE_PARTITIONS is not "
                                       "supported (tables are not partitioned): use REPLACE or APPEND",
                                       path, lineno);
            if (strcmp(v, "NONE") && strcmp(v, "REPLACE") && strcmp(v, "APPEND"))
                return tarn__error_set(err, TARN_EINVALID,
                                       "%s:%d: %s must be NONE, REPLACE or APPEND (or "
                                       "materialize=true)",
                                       path, lineno, kv);
            json_object_set_new(m, "materialization", json_string(v));
        } else if (!strcmp(kv, "name")) {
            json_object_set_new(m, "name", json_string(v));
        } else if (!strcmp(kv, "cache_strategy")) {
            for (char *c = v; *c; c++) *c = (char)toupper((unsigned char)*c);
            if (strcmp(v, "NONE") && strcmp(v, "DEFAULT"))
                return tarn__error_set(err, TARN_EINVALID, "%s:%d: cache_strategy must be NONE or "
                                       "DEFAULT", path, lineno);
            json_object_set_new(m, "cache_strategy", json_string(v));
        } else if (strcmp(kv, "partitioned_by") != 0) {
            const char *near = tarn_nearest_name(kv, HEADER_KEYS, NHEADER_KEYS);
            return tarn__error_set(err, TARN_EINVALID,
                                   "%s:%d: unknown header key '%s'%s%s%s (keys: name, "
                                   "materialization_strategy, materialize, cache_strategy, "
                                   "partitioned_by)",
                                   path, lineno, kv, near ? " (did you mean '" : "",
                                   near ? near : "", near ? "'?)" : "");
        }
    }
    return 0;
}

/* The header comments at the top of a SQL model: `-- tarn: k=v` or
 * `-- bauplan: k=v`, one or more keys a line, several lines. */
static int sql_headers(json_t *m, const char *path, const char *text, tarn_error *err)
{
    const char *p = text;
    int lineno = 1;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') lineno += *p++ == '\n';
        if (strncmp(p, "--", 2) != 0) break;
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        char *c = line + 2;
        while (*c == ' ' || *c == '\t') c++;
        char *opt = !strncmp(c, "tarn:", 5) ? c + 5 : !strncmp(c, "bauplan:", 8) ? c + 8 : NULL;
        if (opt) TARN_RETURN_NOT_OK(sql_header(m, opt, path, lineno, err));
        p += n;
    }
    return 0;
}

static int load_sql_model(json_t *models, tarn_duck *d, const char *path, const char *text,
                          tarn_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    json_t *m = json_object();
    json_object_set_new(m, "name", json_stringn(base, strlen(base) - 4));
    json_object_set_new(m, "kind", json_string("sql"));
    json_object_set_new(m, "role", json_string("model"));
    json_object_set_new(m, "file", json_string(path));
    json_object_set_new(m, "line", json_integer(1));
    json_object_set_new(m, "materialization", json_string("NONE"));
    int rc = sql_headers(m, path, text, err);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    tarn_sql_refs refs;
    rc = tarn__sql_refs_parse(&refs, d, text, err);
    if (rc < 0) {
        char msg[TARN_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        tarn__error_set(err, rc, "%s:1: %s", path, msg);
    } else {
        json_t *inputs = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(refs.tables, i, t)
        {
            const char *schema = json_string_value(json_object_get(t, "schema"));
            const char *table = json_string_value(json_object_get(t, "table"));
            char name[600];
            if (*schema) snprintf(name, sizeof name, "%s.%s", schema, table);
            else snprintf(name, sizeof name, "%s", table);
            json_array_append_new(inputs, json_pack("{s:s,s:s,s:n,s:n,s:n}", "param", name, "name",
                                                    name, "columns", "filter", "ref"));
        }
        json_object_set_new(m, "inputs", inputs);
        /* Run as DuckDB reads it (`default.t` spelled `main.t`); its $name
         * parameters are bound when it runs. */
        json_object_set_new(m, "sql", json_string(refs.sql));
        json_object_set_new(m, "parameters", json_array());
        json_object_set_new(m, "sql_params", json_incref(refs.params));
        char hash[65];
        tarn__sha256_hex(hash, text, strlen(text));
        json_object_set_new(m, "code_hash", json_string(hash));
        json_array_append(models, m);
    }
    json_decref(m);
    tarn__sql_refs_clear(&refs);
    return rc;
}

/* ---- Python models ---------------------------------------------------------------- */

/* "KEY=N" for the environment of tarn.envs from .tarn/config KEY (a whole
 * number >= 1), or "" when unset. */
static int env_cap(char *out, size_t size, tarn_lake *lake, const char *key, const char *var,
                   tarn_error *err)
{
    const char *v = tarn_lake_config(lake, key);
    out[0] = 0;
    if (!v || !*v) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 1)
        return tarn__error_set(err, TARN_EINVALID,
                               "%s in .tarn/config must be a whole number, at least 1 (it is '%s')",
                               key, v);
    snprintf(out, size, "%s=%lld", var, n);
    return 0;
}

static int discover_python(json_t *project_out, json_t *models, tarn_lake *lake, const char *dir,
                           char **files, size_t n, tarn_rt_session *rt, tarn_error *err)
{
    if (n == 0) return 0;
    /* The project file's defaults.python (version and packages) apply to
     * models that declare none: discovery resolves their environments. */
    json_t *pydef = json_pack("{s:O?,s:O?}", "python",
                              json_object_get(json_object_get(project_out, "defaults"), "python"),
                              "pip", json_object_get(json_object_get(project_out, "defaults"), "pip"));
    char *pydef_text = json_dumps(pydef, JSON_COMPACT);
    json_decref(pydef);
    strbuf defaults_env = {0};
    sb_printf(&defaults_env, "TARN_PROJECT_DEFAULTS=%s", pydef_text);
    free(pydef_text);
    char **argv = calloc(n + 5, sizeof *argv);
    argv[0] = (char *)tarn__python_exe(lake);
    argv[1] = "-m";
    argv[2] = "tarn.discover";
    for (size_t i = 0; i < n; i++) argv[3 + i] = files[i];
    char env_path[PATH_MAX + 32], envs_dir[PATH_MAX + 32], links[PATH_MAX * 4], index[PATH_MAX + 32];
    char max_mb[64], max_files[64];
    char *confine[2] = {NULL, NULL};
    int status = 0, rc = 0;
    snprintf(env_path, sizeof env_path, "PYTHONPATH=%s", tarn__python_path());
    /* Environments are resolved and unpacked at plan time (tarn.envs), into
     * the lakehouse's cache, from the configured wheelhouses. */
    snprintf(envs_dir, sizeof envs_dir, "TARN_ENVS_DIR=%s/envs", tarn_lake_path(lake));
    const char *fl = getenv("TARN_FIND_LINKS");
    if (!fl || !*fl) fl = tarn_lake_config(lake, "env.find_links");
    snprintf(links, sizeof links, "TARN_FIND_LINKS=%s", fl ? fl : "");
    const char *iu = getenv("TARN_INDEX_URL");
    if (!iu || !*iu) iu = tarn_lake_config(lake, "env.index_url");
    snprintf(index, sizeof index, "TARN_INDEX_URL=%s", iu ? iu : "");
    rc = env_cap(max_mb, sizeof max_mb, lake, "env.max_unpacked_mb", "TARN_ENV_MAX_UNPACKED_MB",
                 err);
    if (rc == 0)
        rc = env_cap(max_files, sizeof max_files, lake, "env.max_files", "TARN_ENV_MAX_FILES", err);
    /* The files' top level is user code: it runs confined, like a model. */
    if (rc == 0) rc = tarn__rt_discover_env(confine, lake, dir, err);
    if (rc < 0) {
        free(argv);
        sb_free(&defaults_env);
        return rc;
    }
    char *env[] = {env_path,
                   envs_dir,
                   links,
                   index,
                   "PYTHONDONTWRITEBYTECODE=1",
                   "PYTHONSAFEPATH=1",
                   confine[0],
                   confine[1],
                   max_mb[0] ? max_mb : "TARN_ENV_MAX_UNPACKED_MB=",
                   max_files[0] ? max_files : "TARN_ENV_MAX_FILES=",
                   defaults_env.s,
                   NULL};
    char *out = NULL, *errout = NULL;
    /* The same files, interpreter and settings were discovered before:
     * their findings are kept (runtime/discocache.c). */
    const char *settings[] = {env_path,   envs_dir, links,     index,         confine[0],
                              confine[1], max_mb,   max_files, defaults_env.s};
    char key[65];
    int keep = tarn__discocache_enabled(lake, err);
    if (keep < 0) {
        rc = keep;
        goto done;
    }
    keep = keep && tarn__discocache_key(key, dir, argv[0], settings,
                                        sizeof settings / sizeof *settings) == 0;
    json_t *doc = keep ? tarn__discocache_get(lake, key, dir) : NULL;
    /* A warm parent runs it without the interpreter's start-up, else a
     * process of its own. */
    if (!doc) {
        if ((!rt || tarn__rt_discover(&out, &errout, &status, rt, files, n, env, NULL) < 0) &&
            tarn__proc_capture(&out, &errout, &status, argv, env) != 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot start %s: %s", argv[0], strerror(errno));
            goto done;
        }
        doc = json_loads(out, 0, NULL);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !doc) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "inspecting the project's Python files failed: %s",
                                 *errout ? errout : "no output");
            json_decref(doc);
            goto done;
        }
        if (keep && json_array_size(json_object_get(doc, "errors")) == 0)
            tarn__discocache_put(lake, key, dir, doc);
    }
    json_t *errors = json_object_get(doc, "errors");
    if (json_array_size(errors) > 0) {
        json_t *e = json_array_get(errors, 0);
        rc = tarn__error_set(err, TARN_EINVALID, "%s:%lld: %s",
                             json_string_value(json_object_get(e, "file")),
                             (long long)json_integer_value(json_object_get(e, "line")),
                             json_string_value(json_object_get(e, "message")));
    } else {
        json_object_set(project_out, "interpreter", json_object_get(doc, "interpreter"));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "models"), i, m)
        {
            json_t *copy = json_deep_copy(m);
            json_object_set_new(copy, "role", json_string(json_string_value(json_object_get(m, "kind"))));
            json_object_set_new(copy, "kind", json_string("python"));
            const char *src = json_string_value(json_object_get(m, "source"));
            char hash[65];
            tarn__sha256_hex(hash, src ? src : "", src ? strlen(src) : 0);
            json_object_set_new(copy, "code_hash", json_string(hash));
            json_object_del(copy, "source");
            json_array_append_new(models, copy);
        }
    }
    json_decref(doc);
done:
    sb_free(&defaults_env);
    free(argv);
    free(out);
    free(errout);
    free(confine[0]);
    free(confine[1]);
    return rc;
}

static int is_project_file(const char *name)
{
    return !strcmp(name, "tarn_project.toml") || !strcmp(name, "bauplan_project.yml") ||
           !strcmp(name, "bauplan_project.yaml");
}

static int add_name(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *names = realloc(*names, *cap * sizeof **names);
    }
    (*names)[(*n)++] = strdup(name);
    return 0;
}

/* SQL files the project file's include_paths name (globs relative to DIR
 * ending in .sql, never leaving it), added to NAMES as relative paths. */
static int include_paths(char ***names, size_t *n, size_t *cap, json_t *patterns, const char *dir,
                         const char *file, tarn_error *err)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p)
    {
        const char *pat = json_string_value(p);
        if (!pat || !ends_with(pat, ".sql") || pat[0] == '/' || strstr(pat, ".."))
            return tarn__error_set(err, TARN_EINVALID,
                                   "%s: include_paths holds globs of .sql files inside the project "
                                   "(such as views/*.sql), not '%s'",
                                   file, pat ? pat : "(not text)");
        char full[PATH_MAX * 2];
        snprintf(full, sizeof full, "%s/%s", dir, pat);
        glob_t g;
        int grc = glob(full, 0, NULL, &g);
        for (size_t k = 0; grc == 0 && k < g.gl_pathc; k++) {
            char real[PATH_MAX];
            size_t dl = strlen(dir);
            if (!realpath(g.gl_pathv[k], real) || strncmp(real, dir, dl) != 0 || real[dl] != '/') {
                globfree(&g);
                return tarn__error_set(err, TARN_EINVALID,
                                       "%s: include_paths: '%s' leads outside the project folder",
                                       file, g.gl_pathv[k]);
            }
            const char *rel = g.gl_pathv[k] + dl + 1;
            int seen = 0;
            for (size_t j = 0; j < *n && !seen; j++) seen = !strcmp((*names)[j], rel);
            if (!seen) add_name(names, n, cap, rel);
        }
        if (grc == 0) globfree(&g);
    }
    return 0;
}

/* Reads the project's file NAME (its path into PATH): kept with the
 * project (a rerun writes it back) and counted in its hash (ALL). */
static int take_file(char **text, size_t *len, char *path, size_t size, json_t *project,
                     strbuf *all, const char *name, tarn_error *err)
{
    snprintf(path, size, "%s/%s", json_string_value(json_object_get(project, "dir")), name);
    if (tarn__read_file(text, len, path) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", path, strerror(errno));
    json_object_set_new(json_object_get(project, "files"), name, json_stringn(*text, *len));
    sb_printf(all, "%s\n%zu\n", name, *len);
    sb_appendn(all, *text, *len);
    return 0;
}

/* What the project file says every model gets unless it says otherwise. */
static void apply_defaults(json_t *project)
{
    json_t *def = json_object_get(project, "defaults");
    json_t *timeout = json_object_get(def, "timeout");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i, m)
    {
        if (!timeout || strcmp(json_string_value(json_object_get(m, "kind")), "python")) continue;
        json_t *res = json_object_get(m, "resources");
        if (!json_is_object(res)) json_object_set_new(m, "resources", res = json_object());
        if (!json_is_number(json_object_get(res, "timeout_s"))) json_object_set(res, "timeout_s", timeout);
    }
}

int tarn__project_load(json_t **out, tarn_lake *lake, const char *dir, tarn_rt_session *rt,
                       tarn_duck *duck, tarn_error *err)
{
    *out = NULL;
    char abs[PATH_MAX];
    if (!realpath(dir ? dir : ".", abs))
        return tarn__error_set(err, TARN_ENOTFOUND, "project folder '%s' not found", dir ? dir : ".");
    DIR *dp = opendir(abs);
    if (!dp) return tarn__error_set(err, TARN_ENOTFOUND, "cannot open project folder '%s': %s", abs, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_') continue;
        if (!ends_with(de->d_name, ".py") && !ends_with(de->d_name, ".sql") &&
            !is_project_file(de->d_name))
            continue;
        add_name(&names, &n, &cap, de->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str);

    json_t *project = json_pack("{s:s,s:{},s:{},s:[],s:{}}", "dir", abs, "files", "parameters",
                                "models", "defaults");
    strbuf all = {0}; /* every file's name and text: the project's hash */
    int rc = 0;
    /* The project file first: parameters and include_paths apply to the rest. */
    const char *project_file = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!is_project_file(names[i])) continue;
        if (project_file) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "'%s' holds both %s and %s: keep one project file", abs,
                                 project_file, names[i]);
            break;
        }
        project_file = names[i];
        char path[PATH_MAX + 256];
        char *text = NULL;
        size_t len = 0;
        if ((rc = take_file(&text, &len, path, sizeof path, project, &all, names[i], err)) < 0) break;
        rc = ends_with(names[i], ".toml") ? parse_toml(project, text, path, err)
                                          : parse_yaml(project, text, len, path, err);
        free(text);
    }
    json_object_set_new(project, "params_file", json_string(project_file ? project_file
                                                                         : "tarn_project.toml"));
    if (rc == 0 && json_object_get(project, "include_paths")) {
        size_t before = n;
        rc = include_paths(&names, &n, &cap, json_object_get(project, "include_paths"), abs,
                           project_file, err);
        if (n > before) qsort(names + before, n - before, sizeof *names, cmp_str);
    }
    char **py = calloc(n + 1, sizeof *py);
    size_t npy = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (is_project_file(names[i])) continue;
        char path[PATH_MAX + 256];
        char *text = NULL;
        size_t len = 0;
        if ((rc = take_file(&text, &len, path, sizeof path, project, &all, names[i], err)) < 0) break;
        if (ends_with(names[i], ".sql"))
            rc = load_sql_model(json_object_get(project, "models"), duck, path, text, err);
        else if (ends_with(names[i], ".py"))
            py[npy++] = strdup(path);
        free(text);
    }
    if (rc == 0)
        rc = discover_python(project, json_object_get(project, "models"), lake, abs, py, npy, rt,
                             err);
    if (rc == 0) apply_defaults(project);
    char hash[65];
    tarn__sha256_hex(hash, sb_str(&all), all.len);
    json_object_set_new(project, "hash", json_string(hash));
    sb_free(&all);
    for (size_t i = 0; i < npy; i++) free(py[i]);
    free(py);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == 0 && json_array_size(json_object_get(project, "models")) == 0)
        rc = tarn__error_set(err, TARN_EINVALID,
                             "no models in '%s': add NAME.sql files or Python functions decorated with @tarn.model()",
                             abs);
    if (rc < 0) {
        json_decref(project);
        return rc;
    }
    *out = project;
    return 0;
}
