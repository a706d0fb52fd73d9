/* yaml_fuzz.c — libFuzzer target for reading project files as YAML
 * (util/yaml.c), the first thing `tarn run` reads of a Bauplan project.
 *
 * Beyond "no crash": an accepted document is JSON that dumps and reloads
 * to the same value, every line recorded for a key is within the text,
 * and a refusal always says which line. Built as fuzz/CMakeLists.txt says
 * (regression runner always, libFuzzer binary with TARN_FUZZ=ON). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/yaml.h"

static void fail(const char *what)
{
    fprintf(stderr, "yaml_fuzz: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    size_t lines_in_text = 1;
    for (size_t i = 0; i < size; i++)
        lines_in_text += data[i] == '\n' || data[i] == '\r';
    json_t *doc = NULL, *lines = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn__yaml_to_json(&doc, &lines, (const char *)data, size, &err);
    if (rc < 0) {
        if (doc || lines) fail("a refusal returned a document");
        if (strncmp(err.message, "line ", 5) != 0) fail("a refusal does not name its line");
        return 0;
    }
    if (!doc || !json_is_object(lines)) fail("an accepted document is missing");
    char *text = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) fail("an accepted document does not dump as JSON");
    json_t *again = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!again || !json_equal(doc, again)) fail("the JSON does not reload to the same value");
    const char *key;
    json_t *v;
    json_object_foreach(lines, key, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            (size_t)json_integer_value(v) > lines_in_text)
            fail("a key's line is outside the text");
    }
    json_decref(again);
    free(text);
    json_decref(doc);
    json_decref(lines);
    return 0;
}
