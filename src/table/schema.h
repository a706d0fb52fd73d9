/* table/schema.h — table schemas as JSON ([{"name","type"}]) and how two
 * of them differ. */
#ifndef TARN_TABLE_SCHEMA_H
#define TARN_TABLE_SCHEMA_H

#include <jansson.h>

#include "tarn/table.h"
#include "util/util.h"

/* Parses SCHEMA_JSON into columns (free with tarn__columns_free). */
int tarn__schema_parse(tarn_column **out, size_t *n, const char *schema_json);
void tarn__columns_free(tarn_column *cols, size_t n);
/* Where each of COLS[0..N) is, by name (ASCII case folded when FOLD, as
 * DuckDB compares names): for lookups in wide tables without a scan per
 * name. The first of equal names wins. Release with json_decref. */
json_t *tarn__columns_index(const tarn_column *cols, size_t n, int fold);
/* The position of NAME in INDEX, or -1. */
long tarn__columns_find(json_t *index, const char *name, int fold);

/* The schema JSON of qualified table TABLE at REF into *out (malloc'd;
 * NULL when it does not exist there). (In table.c.) */
int tarn__table_schema_at(char **out, tarn_lake *lake, const char *ref, const char *table,
                          tarn_error *err);

/* Describes how B differs from A ("column 'x' only in ...; 'y' is BIGINT
 * here but VARCHAR there") into out; returns the number of differences. */
int tarn__schema_diff(strbuf *out, const char *a_json, const char *b_json);

/* Whether values of type FROM can be appended to a column of type TO. */
typedef enum tarn_widen {
    TARN_WIDEN_NO = 0,  /* not without losing or inventing data */
    TARN_WIDEN_SAME,    /* the same type */
    TARN_WIDEN_CAST,    /* every value converts exactly (INTEGER -> BIGINT, DATE -> TIMESTAMP) */
    TARN_WIDEN_CHECKED, /* most values do (BIGINT -> DOUBLE up to 2^53): check each */
} tarn_widen;
tarn_widen tarn__type_widen(const char *from, const char *to);
/* Appends the expression that turns column NAME of type FROM into TO (as
 * tarn__type_widen allows), named NAME; a CHECKED conversion fails the
 * query on the first value that would change. */
void tarn__widen_sql(strbuf *out, const char *name, const char *from, const char *to);

#endif
