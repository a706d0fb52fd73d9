/* project_file_test.c — reading project files: YAML as JSON with the line
 * of every key (util/yaml.c), and parameter declarations and values
 * (runtime/params.c): types, defaults, required, secrets, did-you-mean. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "testlib.h"
#include "util/yaml.h"

static json_t *yaml(const char *text, json_t **lines, tarn_error *err)
{
    json_t *out = NULL;
    int rc = tarn__yaml_to_json(&out, lines, text, strlen(text), err);
    return rc == 0 ? out : NULL;
}

static void test_yaml_types_and_lines(void)
{
    tarn_error err = TARN_ERROR_INIT;
    json_t *lines = NULL;
    json_t *doc = yaml("project:\n"
                       "  id: 641d33d8\n"
                       "  name: demo\n"
                       "parameters:\n"
                       "  n:\n"
                       "    default: 138\n"
                       "    type: int\n"
                       "  ratio: {default: 1.5, type: float}\n"
                       "  flag:\n"
                       "    default: True\n"
                       "  quoted: \"42\"\n"
                       "  nothing: ~\n"
                       "  empty:\n"
                       "  big: 99999999999999999999999\n"
                       "list: [a, 'b', 3]\n",
                       &lines, &err);
    REQUIRE(doc != NULL);
    json_t *p = json_object_get(doc, "parameters");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "n"), "default")), 138);
    CHECK(json_is_real(json_object_get(json_object_get(p, "ratio"), "default")));
    CHECK(json_is_true(json_object_get(json_object_get(p, "flag"), "default")));
    CHECK_EQ_STR(json_string_value(json_object_get(p, "quoted")), "42"); /* quoted: text */
    CHECK(json_is_null(json_object_get(p, "nothing")));
    CHECK(json_is_null(json_object_get(p, "empty")));
    CHECK_EQ_STR(json_string_value(json_object_get(p, "big")), "99999999999999999999999");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(doc, "project"), "id")),
                 "641d33d8");
    json_t *list = json_object_get(doc, "list");
    CHECK_EQ_INT(json_array_size(list), 3);
    CHECK_EQ_INT(json_integer_value(json_array_get(list, 2)), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(lines, "parameters.n.type")), 7);
    CHECK_EQ_INT(json_integer_value(json_object_get(lines, "parameters.ratio")), 8);
    CHECK_EQ_INT(json_integer_value(json_object_get(lines, "parameters.flag.default")), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(lines, "list")), 15);
    json_decref(doc);
    json_decref(lines);
}

static void test_yaml_refusals(void)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"a: &x 1\nb: *x\n", "line 1: anchors"},
        {"a: 1\na: 2\n", "line 2: key 'a' is given twice"},
        {"? [a, b]\n: 1\n", "a mapping key must be a plain word"},
        {"a: 1\n---\nb: 2\n", "one YAML document"},
        {"a: [1, 2\n", "line "},
        {"a:\n  b: 1\n c: 2\n", "line 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tarn_error err = TARN_ERROR_INIT;
        json_t *doc = yaml(cases[i].text, NULL, &err);
        CHECK(doc == NULL);
        CHECK_EQ_INT(err.code, TARN_EINVALID);
        if (!strstr(err.message, cases[i].message)) {
            fprintf(stderr, "  case %zu: '%s' lacks '%s'\n", i, err.message, cases[i].message);
            CHECK(0);
        }
        json_decref(doc);
    }
    /* nesting is bounded, however deep a file goes */
    char deep[2000] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    tarn_error err = TARN_ERROR_INIT;
    CHECK(yaml(deep, NULL, &err) == NULL);
    CHECK(strstr(err.message, "deeper than 64") != NULL);
    /* an empty file is null, not an error */
    json_t *none = yaml("", NULL, &err);
    CHECK(json_is_null(none));
    json_decref(none);
}

static int declare(json_t *decls, const char *name, const char *spec_json, tarn_error *err)
{
    json_t *spec = json_loads(spec_json, JSON_DECODE_ANY, NULL);
    int rc = tarn__params_declare(decls, name, spec, "p.yml:3", err);
    json_decref(spec);
    return rc;
}

static void test_params_declarations(void)
{
    json_t *d = json_object();
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(declare(d, "n", "{\"type\": \"int\", \"default\": 3}", &err), 0);
    CHECK_EQ_INT(declare(d, "ratio", "{\"type\": \"float\", \"default\": 2}", &err), 0);
    CHECK_EQ_INT(declare(d, "when", "\"2023-01-01\"", &err), 0); /* a bare default */
    CHECK_EQ_INT(declare(d, "key", "{\"type\": \"secret\"}", &err), 0);
    CHECK_EQ_INT(declare(d, "opt", "{\"type\": \"str\", \"required\": false}", &err), 0);
    CHECK(json_is_real(json_object_get(json_object_get(d, "ratio"), "default"))); /* int widens */
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(d, "when"), "type")), "str");
    CHECK(json_is_true(json_object_get(json_object_get(d, "key"), "required")));
    CHECK(json_is_false(json_object_get(json_object_get(d, "opt"), "required")));
    CHECK(json_is_false(json_object_get(json_object_get(d, "n"), "required")));

    static const struct {
        const char *name, *spec, *message;
    } bad[] = {
        {"a", "{\"type\": \"integer\"}", "unknown type 'integer' (did you mean 'int'?)"},
        {"a", "{\"type\": \"vault\"}", "unknown type 'vault'"},
        {"a", "{\"tpye\": \"int\"}", "unknown key 'tpye' (did you mean 'type'?)"},
        {"a", "{\"type\": \"int\", \"default\": \"abc\"}",
         "the default of parameter 'a' is a str, not an int"},
        {"a", "{\"type\": \"bool\", \"default\": 1}", "is an int, not a bool"},
        {"a", "{\"type\": \"str\", \"default\": 5}", "(quote it)"},
        {"a", "{\"type\": \"int\", \"required\": \"yes\"}", "must be true or false"},
        {"a", "{\"type\": \"int\", \"default\": 1, \"required\": true}", "drop one of them"},
        {"n", "{\"type\": \"int\"}", "declared twice"},
        {"2x", "1", "not a parameter name"},
        {"a", "{\"type\": \"int\", \"key\": \"kms\"}", "type secret only"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tarn_error e = TARN_ERROR_INIT;
        CHECK_EQ_INT(declare(d, bad[i].name, bad[i].spec, &e), TARN_EINVALID);
        if (!strstr(e.message, bad[i].message) || strncmp(e.message, "p.yml:3: ", 9) != 0) {
            fprintf(stderr, "  case %zu: '%s' lacks '%s'\n", i, e.message, bad[i].message);
            CHECK(0);
        }
    }
    json_decref(d);
}

static int resolve(json_t **out, json_t *decls, size_t n, const char **names, const char **values,
                   tarn_error *err)
{
    tarn_run_options o = TARN_RUN_OPTIONS_INIT;
    o.nparams = n;
    o.param_names = names;
    o.param_values = values;
    return tarn__params_resolve(out, decls, "bauplan_project.yml", &o, err);
}

static void test_params_values_and_secrets(void)
{
    json_t *d = json_object();
    tarn_error err = TARN_ERROR_INIT;
    declare(d, "limit", "{\"type\": \"int\", \"default\": 3}", &err);
    declare(d, "api_key", "{\"type\": \"secret\"}", &err);
    declare(d, "enc", "{\"type\": \"secret\", \"default\": \"AbC=\", \"key\": \"awskms:///k\"}",
            &err);
    declare(d, "opt", "{\"required\": false}", &err);
    json_t *v = NULL;
    /* a required parameter without a value says how to give it */
    const char *n1[] = {"enc"}, *v1[] = {"x"};
    CHECK_EQ_INT(resolve(&v, d, 1, n1, v1, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "parameter 'api_key' is required") != NULL);
    CHECK(strstr(err.message, "--param api_key=VALUE") != NULL);
    /* an encrypted default cannot be used: the value must come with the run */
    const char *n2[] = {"api_key"}, *v2[] = {"s3cr3t"};
    CHECK_EQ_INT(resolve(&v, d, 1, n2, v2, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "encrypted with 'awskms:///k'") != NULL);
    /* unknown names get a did-you-mean; values are typed */
    const char *n3[] = {"limt"}, *v3[] = {"5"};
    CHECK_EQ_INT(resolve(&v, d, 1, n3, v3, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "unknown parameter 'limt' (did you mean 'limit'?)") != NULL);
    const char *n4[] = {"limit", "api_key", "enc"}, *v4[] = {"five", "k", "e"};
    CHECK_EQ_INT(resolve(&v, d, 3, n4, v4, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "parameter 'limit' is an int: 'five' is not one") != NULL);
    const char *v5[] = {"5", "s3cr3t", "e"};
    REQUIRE(resolve(&v, d, 3, n4, v5, &err) == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "limit")), 5);
    CHECK_EQ_STR(json_string_value(json_object_get(v, "api_key")), "s3cr3t");
    CHECK(json_is_null(json_object_get(v, "opt")));
    /* what may be shown keeps no secret */
    json_t *shown = tarn__params_shown(v, d);
    char *text = json_dumps(shown, JSON_COMPACT);
    CHECK(strstr(text, "s3cr3t") == NULL);
    CHECK(json_is_null(json_object_get(shown, "api_key")));
    CHECK_EQ_INT(json_integer_value(json_object_get(shown, "limit")), 5);
    free(text);
    json_decref(shown);
    json_decref(v);
    json_decref(d);
}

int main(void)
{
    TEST_RUN(test_yaml_types_and_lines);
    TEST_RUN(test_yaml_refusals);
    TEST_RUN(test_params_declarations);
    TEST_RUN(test_params_values_and_secrets);
    return test_summary();
}
