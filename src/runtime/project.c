/* runtime/project.c — loading a pipeline project: its files, parameters
 * (tarn_project.toml), SQL models (parsed by DuckDB) and Python models
 * (discovered by importing the files in a subprocess with the SDK).
 *
 * Nothing of the user's code runs inside this process. */
#include <ctype.h>
#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/dataplane.h"
#include "runtime/runtime.h"
#include "sql/engine.h"
#include "sql/refs.h"
#include "util/error.h"
#include "util/proc.h"
#include "util/util.h"

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
const char *tarn__python_path(void)
{
    const char *p = getenv("TARN_PYTHONPATH");
    if (p && *p) return p;
    static char found[PATH_MAX]; /* computed once; the same for the whole process */
    if (found[0]) return found;
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
                snprintf(found, sizeof found, "%s", cand);
                return found;
            }
        }
    }
    snprintf(found, sizeof found, "%s", TARN_BUILD_PYTHON_DIR);
    return found;
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

/* ---- tarn_project.toml: [parameters] name = { type = "int", default = 3 } -- */

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

static int parse_params(json_t *params, const char *text, const char *path, tarn_error *err)
{
    char *copy = strdup(text), *save = NULL;
    int section = 0, lineno = 0, rc = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash && !strchr(line, '"')) *hash = 0;
        char *l = trim(line);
        if (!*l) continue;
        if (*l == '[') {
            section = strcmp(l, "[parameters]") == 0;
            continue;
        }
        if (!section) continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = tarn__error_set(err, TARN_EINVALID, "%s:%d: expected NAME = VALUE", path, lineno);
            break;
        }
        *eq = 0;
        char *name = trim(l), *value = trim(eq + 1);
        json_t *decl = json_object();
        if (*value == '{') {
            size_t n = strlen(value);
            if (value[n - 1] != '}') {
                json_decref(decl);
                rc = tarn__error_set(err, TARN_EINVALID, "%s:%d: an inline table ends with '}'", path, lineno);
                break;
            }
            value[n - 1] = 0;
            char *save2 = NULL;
            for (char *kv = strtok_r(value + 1, ",", &save2); kv; kv = strtok_r(NULL, ",", &save2)) {
                char *e2 = strchr(kv, '=');
                if (!e2) continue;
                *e2 = 0;
                json_t *v = toml_value(trim(e2 + 1));
                if (v) json_object_set_new(decl, trim(kv), v);
            }
        } else {
            json_t *v = toml_value(value);
            if (v) json_object_set_new(decl, "default", v);
        }
        if (!json_object_get(decl, "type")) {
            json_t *d = json_object_get(decl, "default");
            json_object_set_new(decl, "type", json_string(json_is_integer(d) ? "int" :
                                                          json_is_real(d) ? "float" :
                                                          json_is_boolean(d) ? "bool" : "str"));
        }
        json_object_set_new(params, name, decl);
    }
    free(copy);
    return rc;
}

/* ---- SQL models ---------------------------------------------------------------- */

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
    /* Header comments: -- tarn: key=value key=value */
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (strncmp(p, "--", 2) != 0) break;
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        char *opt = strstr(line, "tarn:");
        if (opt) {
            char *save = NULL;
            for (char *kv = strtok_r(opt + 5, " \t,", &save); kv; kv = strtok_r(NULL, " \t,", &save)) {
                char *eq = strchr(kv, '=');
                if (!eq) continue;
                *eq = 0;
                if (!strcmp(kv, "materialization_strategy") || !strcmp(kv, "materialize")) {
                    char *v = eq + 1;
                    for (char *c = v; *c; c++) *c = (char)toupper((unsigned char)*c);
                    if (!strcmp(v, "TRUE")) v = "REPLACE";
                    if (strcmp(v, "NONE") && strcmp(v, "REPLACE") && strcmp(v, "APPEND")) {
                        json_decref(m);
                        return tarn__error_set(err, TARN_EINVALID,
                                               "%s:1: materialization_strategy must be NONE, REPLACE or APPEND",
                                               path);
                    }
                    json_object_set_new(m, "materialization", json_string(v));
                }
            }
        }
        p += n;
    }
    tarn_sql_refs refs;
    int rc = tarn__sql_refs_parse(&refs, d, text, err);
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
                   NULL};
    char *out = NULL, *errout = NULL;
    /* A warm parent runs it without the interpreter's start-up, else a
     * process of its own. */
    if ((!rt || tarn__rt_discover(&out, &errout, &status, rt, files, n, env, NULL) < 0) &&
        tarn__proc_capture(&out, &errout, &status, argv, env) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "cannot start %s: %s", argv[0], strerror(errno));
        goto done;
    }
    json_t *doc = json_loads(out, 0, NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !doc) {
        rc = tarn__error_set(err, TARN_EINVALID, "inspecting the project's Python files failed: %s",
                             *errout ? errout : "no output");
        json_decref(doc);
        goto done;
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
    free(argv);
    free(out);
    free(errout);
    free(confine[0]);
    free(confine[1]);
    return rc;
}

int tarn__project_load(json_t **out, tarn_lake *lake, const char *dir, tarn_rt_session *rt,
                       tarn_error *err)
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
            strcmp(de->d_name, "tarn_project.toml") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str);

    json_t *project = json_pack("{s:s,s:{},s:{},s:[]}", "dir", abs, "files", "parameters", "models");
    json_t *files = json_object_get(project, "files");
    char **py = calloc(n + 1, sizeof *py);
    size_t npy = 0;
    strbuf all = {0};
    tarn_duck d = {0};
    int rc = tarn__duck_open(&d, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", abs, names[i]);
        char *text = NULL;
        size_t len = 0;
        if (tarn__read_file(&text, &len, path) != 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        json_object_set_new(files, names[i], json_string(text));
        sb_printf(&all, "%s\n%zu\n", names[i], len);
        sb_appendn(&all, text, len);
        if (!strcmp(names[i], "tarn_project.toml"))
            rc = parse_params(json_object_get(project, "parameters"), text, path, err);
        else if (ends_with(names[i], ".sql"))
            rc = load_sql_model(json_object_get(project, "models"), &d, path, text, err);
        else
            py[npy++] = strdup(path);
        free(text);
    }
    tarn__duck_close(&d);
    if (rc == 0)
        rc = discover_python(project, json_object_get(project, "models"), lake, abs, py, npy, rt,
                             err);
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
