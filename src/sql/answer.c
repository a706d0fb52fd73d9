/* sql/answer.c — aggregates answered from statistics (see answer.h).
 *
 * count(*) is the sum of the kept files' row counts; min(col) and
 * max(col) the least minimum and the greatest maximum of their exact
 * statistics (a file whose column holds only NULLs adds nothing). The
 * values are compared by DuckDB itself, cast to the column's type, so
 * that strings, dates and decimals order as they do in the table. Floats
 * are left to DuckDB: their statistics may hold -0.0 where min() says
 * 0.0. */
#include "sql/answer.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "util/util.h"

/* Types whose exact statistics are the values min() and max() return. */
static int answerable(const char *type)
{
    return tarn__stats_always_exact(type) || !strcmp(type, "VARCHAR");
}

static const tarn_column *column_named(const tarn_column *cols, size_t ncols, const char *name)
{
    for (size_t i = 0; i < ncols; i++)
        if (!strcmp(cols[i].name, name)) return &cols[i];
    return NULL;
}

/* Appends min or max (FN) of COL over the kept files as SQL; 0 when a kept
 * file's statistics cannot say. */
static int extreme_sql(strbuf *q, const char *fn, const tarn_column *col, const tarn_file_stats *fs,
                       const tarn_verdict *verdicts)
{
    strbuf values = {0};
    size_t nvalues = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if (verdicts[i] == TARN_VERDICT_NONE) continue;
        json_t *all = json_object_get(fs->stats[i], col->name);
        json_t *nulls = json_object_get(all, "nulls");
        int64_t rows = fs->records[i].row_count;
        if (rows == 0 || (json_is_integer(nulls) && json_integer_value(nulls) == rows)) continue;
        json_t *s = tarn__stats_exact(fs->stats[i], col->name, col->type);
        if (!s) {
            sb_free(&values);
            return 0;
        }
        sb_append(&values, nvalues++ ? "), (CAST(" : "(CAST(");
        sb_append_sql_string(&values, json_string_value(json_object_get(s, fn)));
        sb_printf(&values, " AS %s)", col->type);
    }
    if (!nvalues) {
        sb_printf(q, "CAST(NULL AS %s)", col->type);
    } else {
        sb_printf(q, "(SELECT %s(v) FROM (VALUES %s)) AS s(v))", fn, sb_str(&values));
    }
    sb_free(&values);
    return 1;
}

char *tarn__answer_sql(json_t *agg, const tarn_column *cols, size_t ncols,
                       const tarn_file_stats *fs, const tarn_verdict *verdicts, char *const *names,
                       char *const *types, size_t n)
{
    json_t *items = json_object_get(agg, "items");
    if (json_array_size(items) != n) return NULL;
    for (size_t i = 0; i < fs->n; i++)
        if (verdicts[i] == TARN_VERDICT_SOME) return NULL;
    strbuf q = {0};
    sb_append(&q, "SELECT ");
    int ok = 1;
    for (size_t k = 0; k < n && ok; k++) {
        json_t *item = json_array_get(items, k);
        const char *fn = json_string_value(json_object_get(item, "fn"));
        if (k) sb_append(&q, ", ");
        sb_append(&q, "CAST(");
        if (!strcmp(fn, "count")) {
            int64_t rows = 0;
            for (size_t i = 0; i < fs->n; i++)
                if (verdicts[i] == TARN_VERDICT_ALL) rows += fs->records[i].row_count;
            sb_printf(&q, "%lld", (long long)rows);
        } else {
            const tarn_column *col =
                column_named(cols, ncols, json_string_value(json_object_get(item, "column")));
            ok = col && answerable(col->type) && extreme_sql(&q, fn, col, fs, verdicts);
        }
        sb_printf(&q, " AS %s) AS ", types[k]);
        sb_append_sql_ident(&q, names[k]);
    }
    if (!ok) {
        sb_free(&q);
        return NULL;
    }
    return q.s;
}
