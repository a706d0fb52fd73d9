/* table/schema.c — table schemas as JSON and their differences. */
#include "table/schema.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int tarn__schema_parse(tarn_column **out, size_t *n, const char *schema_json)
{
    *out = NULL;
    *n = 0;
    json_t *root = json_loads(schema_json, 0, NULL);
    if (!json_is_array(root)) {
        json_decref(root);
        return -1;
    }
    size_t count = json_array_size(root);
    tarn_column *cols = calloc(count ? count : 1, sizeof *cols);
    for (size_t i = 0; i < count; i++) {
        json_t *c = json_array_get(root, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        cols[i].name = strdup(name ? name : "");
        cols[i].type = strdup(type ? type : "");
    }
    json_decref(root);
    *out = cols;
    *n = count;
    return 0;
}

void tarn__columns_free(tarn_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

static const tarn_column *find(const tarn_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0) return &cols[i];
    return NULL;
}

int tarn__schema_diff(strbuf *out, const char *a_json, const char *b_json)
{
    tarn_column *a, *b;
    size_t na, nb;
    tarn__schema_parse(&a, &na, a_json);
    tarn__schema_parse(&b, &nb, b_json);
    int diffs = 0;
    for (size_t i = 0; i < na; i++) {
        const tarn_column *other = find(b, nb, a[i].name);
        if (!other) {
            sb_printf(out, "%scolumn '%s' (%s) is missing from the new data", diffs++ ? "; " : "",
                      a[i].name, a[i].type);
        } else if (strcmp(other->type, a[i].type) != 0) {
            sb_printf(out, "%scolumn '%s' is %s in the table but %s in the new data",
                      diffs++ ? "; " : "", a[i].name, a[i].type, other->type);
        }
    }
    for (size_t i = 0; i < nb; i++)
        if (!find(a, na, b[i].name))
            sb_printf(out, "%scolumn '%s' (%s) is not in the table", diffs++ ? "; " : "", b[i].name,
                      b[i].type);
    if (!diffs && strcmp(a_json, b_json) != 0) {
        sb_append(out, "the columns are in a different order");
        diffs++;
    }
    tarn__columns_free(a, na);
    tarn__columns_free(b, nb);
    return diffs;
}
