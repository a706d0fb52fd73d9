/* util/yaml.h — reading a small YAML document (a project file such as
 * bauplan_project.yml) into JSON, with the line of every mapping key. */
#ifndef TARN_UTIL_YAML_H
#define TARN_UTIL_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "tarn/common.h"

/* Parses TEXT (LEN bytes, one YAML document of mappings, sequences and
 * scalars) into *out (a new reference). A plain scalar is typed as YAML
 * 1.2's core schema does: null (``~``, ``null``, nothing), true/false,
 * a decimal integer, a float, else a string; a quoted scalar is always a
 * string. Refused, with the line: anchors and aliases, a key that is not
 * a scalar, a key given twice, more than one document, nesting deeper than
 * 64 levels. When LINES is not NULL, *lines (a new reference) maps each
 * mapping key's path ("parameters.limit.type") to its line number. */
int tarn__yaml_to_json(json_t **out, json_t **lines, const char *text, size_t len, tarn_error *err);

#endif
