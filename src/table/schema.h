/* table/schema.h — table schemas as JSON ([{"name","type"}]) and how two
 * of them differ. */
#ifndef TARN_TABLE_SCHEMA_H
#define TARN_TABLE_SCHEMA_H

#include "tarn/table.h"
#include "util/util.h"

/* Parses SCHEMA_JSON into columns (free with tarn__columns_free). */
int tarn__schema_parse(tarn_column **out, size_t *n, const char *schema_json);
void tarn__columns_free(tarn_column *cols, size_t n);
/* Describes how B differs from A ("column 'x' only in ...; 'y' is BIGINT
 * here but VARCHAR there") into out; returns the number of differences. */
int tarn__schema_diff(strbuf *out, const char *a_json, const char *b_json);

#endif
