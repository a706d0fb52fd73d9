/* runtime/params.c — a project's parameters: their declarations (from
 * tarn_project.toml or bauplan_project.yml, both read into the same form),
 * the values a run binds (defaults overridden by --param, typed), and
 * the copy of those values that may be shown or stored (secrets left out).
 *
 * A declaration is {"type", "default"?, "required", "description"?,
 * "secret_key"?}; types are int, float, bool, str and secret (a str whose
 * value is never printed, logged or recorded). A parameter declared
 * without a default is required unless it says `required: false` (then it
 * is NULL). Everything is checked when the project loads, before a run. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "util/error.h"
#include "util/util.h"

static const char *const TYPES[] = {"int", "float", "bool", "str", "secret"};
static const char *const KEYS[] = {"type", "default", "required", "description", "key"};
#define NTYPES (sizeof TYPES / sizeof *TYPES)
#define NKEYS (sizeof KEYS / sizeof *KEYS)

static int one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return 1;
    return 0;
}

/* " (did you mean 'x'?)" or "" into OUT: a near spelling, or a word the
 * name starts with ("integer" for int). */
static void nearest(char *out, size_t size, const char *name, const char *const *list, size_t n)
{
    const char *near = tarn_nearest_name(name, list, n);
    for (size_t i = 0; i < n && !near; i++)
        if (!strncmp(name, list[i], strlen(list[i]))) near = list[i];
    if (near)
        snprintf(out, size, " (did you mean '%s'?)", near);
    else
        out[0] = 0;
}

/* Whether V is a value of TYPE; int widens to float. */
static int fits(const char *type, json_t *v)
{
    if (!strcmp(type, "int")) return json_is_integer(v);
    if (!strcmp(type, "float")) return json_is_number(v);
    if (!strcmp(type, "bool")) return json_is_boolean(v);
    return json_is_string(v);
}

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return "an int";
    case JSON_REAL:
        return "a float";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a bool";
    case JSON_STRING:
        return "a str";
    case JSON_NULL:
        return "null";
    default:
        return "a list or a mapping";
    }
}

int tarn__params_declare(json_t *decls, const char *name, json_t *spec, const char *where,
                         tarn_error *err)
{
    int ok = isalpha((unsigned char)*name) || *name == '_';
    for (const char *p = name; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_';
    if (!ok)
        return tarn__error_set(err, TARN_EINVALID,
                               "%s: '%s' is not a parameter name (letters, digits and '_', not "
                               "starting with a digit)",
                               where, name);
    if (json_object_get(decls, name))
        return tarn__error_set(err, TARN_EINVALID, "%s: parameter '%s' is declared twice", where,
                               name);
    /* A bare value is a default (TOML `limit = 3`; YAML `limit: 3`). */
    json_t *given = json_is_object(spec) ? json_incref(spec) : json_pack("{s:O}", "default", spec);
    json_t *decl = json_object();
    char hint[128];
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(given, key, v)
    {
        if (one_of(key, KEYS, NKEYS)) continue;
        nearest(hint, sizeof hint, key, KEYS, NKEYS);
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: parameter '%s' has an unknown key '%s'%s (keys: type, default, "
                             "required, description)",
                             where, name, key, hint);
        goto done;
    }
    json_t *type = json_object_get(given, "type"), *def = json_object_get(given, "default");
    if (json_is_null(def)) def = NULL;
    const char *t;
    if (type && !json_is_string(type)) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: the type of parameter '%s' must be a word "
                             "(int, float, bool, str or secret)",
                             where, name);
        goto done;
    }
    if (type) {
        t = json_string_value(type);
        if (!one_of(t, TYPES, NTYPES)) {
            nearest(hint, sizeof hint, t, TYPES, NTYPES);
            rc =
                tarn__error_set(err, TARN_EINVALID,
                                "%s: parameter '%s' has unknown type '%s'%s: use int, float, bool, "
                                "str or secret",
                                where, name, t, hint);
            goto done;
        }
    } else {
        t = !def                   ? "str"
            : json_is_integer(def) ? "int"
            : json_is_real(def)    ? "float"
            : json_is_boolean(def) ? "bool"
                                   : "str";
    }
    json_object_set_new(decl, "type", json_string(t));
    json_t *key_v = json_object_get(given, "key");
    if (key_v && (strcmp(t, "secret") || !json_is_string(key_v))) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: parameter '%s': 'key' names the key a secret's default is "
                             "encrypted with; it applies to type secret only",
                             where, name);
        goto done;
    }
    if (key_v) {
        /* tarn cannot decrypt it: the value must come with the run. */
        json_object_set(decl, "secret_key", key_v);
        def = NULL;
    }
    if (def && !fits(t, def)) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: the default of parameter '%s' is %s, not %s %s%s", where, name,
                             json_kind(def), strcmp(t, "int") ? "a" : "an", t,
                             !strcmp(t, "str") || !strcmp(t, "secret") ? " (quote it)" : "");
        goto done;
    }
    if (def && json_is_real(def) && !isfinite(json_real_value(def))) def = NULL;
    if (def)
        json_object_set_new(decl, "default",
                            !strcmp(t, "float") ? json_real(json_number_value(def))
                                                : json_incref(def));
    json_t *req = json_object_get(given, "required");
    if (req && !json_is_boolean(req)) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: 'required' of parameter '%s' must be true or "
                             "false",
                             where, name);
        goto done;
    }
    if (req && json_is_true(req) && def) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: parameter '%s' is required and has a default: drop one of them",
                             where, name);
        goto done;
    }
    json_object_set_new(decl, "required", json_boolean(req ? json_is_true(req) : !def));
    json_t *desc = json_object_get(given, "description");
    if (desc && !json_is_string(desc) && !json_is_null(desc)) {
        rc = tarn__error_set(err, TARN_EINVALID,
                             "%s: the description of parameter '%s' must be "
                             "text",
                             where, name);
        goto done;
    }
    if (json_is_string(desc)) json_object_set(decl, "description", desc);
    json_object_set(decls, name, decl);
done:
    json_decref(given);
    json_decref(decl);
    return rc;
}

/* The value TEXT (from --param) as TYPE, or NULL when it is not one. */
static json_t *parse_value(const char *type, const char *text)
{
    char *end;
    if (!strcmp(type, "int")) {
        long long x = strtoll(text, &end, 10);
        return *text && !*end ? json_integer(x) : NULL;
    }
    if (!strcmp(type, "float")) {
        double x = strtod(text, &end);
        return *text && !*end && isfinite(x) ? json_real(x) : NULL;
    }
    if (!strcmp(type, "bool")) {
        if (!strcmp(text, "1") || !strcasecmp(text, "true")) return json_true();
        if (!strcmp(text, "0") || !strcasecmp(text, "false")) return json_false();
        return NULL;
    }
    return json_string(text);
}

static int unknown_param(json_t *decls, const char *name, const char *file, tarn_error *err)
{
    size_t n = json_object_size(decls), i = 0;
    const char **names = calloc(n + 1, sizeof *names);
    strbuf all = {0};
    const char *k;
    json_t *v;
    json_object_foreach(decls, k, v)
    {
        names[i++] = k;
        sb_printf(&all, "%s%s", all.len ? ", " : "", k);
    }
    char hint[128];
    nearest(hint, sizeof hint, name, names, n);
    int rc =
        n ? tarn__error_set(err, TARN_EINVALID, "unknown parameter '%s'%s: the project declares %s",
                            name, hint, sb_str(&all))
          : tarn__error_set(err, TARN_EINVALID,
                            "unknown parameter '%s': the project declares none (declare it "
                            "under parameters in %s)",
                            name, file);
    sb_free(&all);
    free(names);
    return rc;
}

int tarn__params_resolve(json_t **out, json_t *decls, const char *file,
                         const tarn_run_options *opts, tarn_error *err)
{
    *out = NULL;
    json_t *values = json_object();
    int rc = 0;
    for (size_t i = 0; i < opts->nparams && rc == 0; i++) {
        const char *pn = opts->param_names[i], *pv = opts->param_values[i];
        json_t *decl = json_object_get(decls, pn);
        if (!decl) {
            rc = unknown_param(decls, pn, file, err);
            break;
        }
        const char *type = json_string_value(json_object_get(decl, "type"));
        json_t *v = parse_value(type, pv);
        if (!v)
            rc = tarn__error_set(err, TARN_EINVALID, "parameter '%s' is %s %s: '%s' is not one", pn,
                                 strcmp(type, "int") ? "a" : "an", type, pv);
        else
            json_object_set_new(values, pn, v);
    }
    const char *name;
    json_t *decl;
    json_object_foreach(decls, name, decl)
    {
        if (rc < 0 || json_object_get(values, name)) continue;
        json_t *def = json_object_get(decl, "default");
        if (def) {
            json_object_set(values, name, def);
        } else if (json_is_true(json_object_get(decl, "required"))) {
            const char *key = json_string_value(json_object_get(decl, "secret_key"));
            if (key)
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "parameter '%s' is a secret whose default is encrypted with "
                                     "'%s', which tarn cannot decrypt: give its value with --param "
                                     "%s=VALUE",
                                     name, key, name);
            else
                rc = tarn__error_set(
                    err, TARN_EINVALID,
                    "parameter '%s' is required (%s declares it without a default): "
                    "give it with --param %s=VALUE",
                    name, file, name);
        } else {
            json_object_set_new(values, name, json_null());
        }
    }
    if (rc < 0) {
        json_decref(values);
        return rc;
    }
    *out = values;
    return 0;
}

int tarn__param_is_secret(json_t *decls, const char *name)
{
    const char *t = json_string_value(json_object_get(json_object_get(decls, name), "type"));
    return t && !strcmp(t, "secret");
}

json_t *tarn__params_shown(json_t *values, json_t *decls)
{
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(values, name, v) json_object_set_new(
        out, name, tarn__param_is_secret(decls, name) ? json_null() : json_incref(v));
    return out;
}
