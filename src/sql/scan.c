/* sql/scan.c — reading one table for a client (Client.scan): its columns,
 * the rows a filter keeps, at most so many.
 *
 * The filter comes from outside: it is parsed as a model's filter is
 * (exactly one SQL expression on the table's columns: no second statement,
 * no clause after it, no subquery) before it is put into the SELECT, which
 * then runs confined as any query does (sql/query.c). */
#include <stdlib.h>
#include <string.h>

#include "catalog/names.h"
#include "lake/ops.h"
#include "sql/engine.h"
#include "sql/refs.h"
#include "tarn/query.h"
#include "util/error.h"
#include "util/util.h"

/* Refuses FILTER unless it is one expression without $parameters. */
static int check_filter(const char *filter, tarn_error *err)
{
    tarn_duck d;
    TARN_RETURN_NOT_OK(tarn__duck_open(&d, err));
    json_t *where = NULL, *params = NULL;
    tarn_error ferr = TARN_ERROR_INIT;
    int rc = tarn__sql_filter_parse(&where, &params, &d, filter, &ferr);
    if (rc < 0)
        rc = tarn__error_set(err, TARN_EINVALID, "the filter is not valid: %s", ferr.message);
    else if (json_object_size(params))
        rc = tarn__error_set(err, TARN_EINVALID,
                             "the filter uses $%s, but a scan takes no parameters: write the "
                             "value into the filter",
                             json_object_iter_key(json_object_iter(params)));
    tarn_error_clear(&ferr);
    json_decref(where);
    json_decref(params);
    tarn__duck_close(&d);
    return rc;
}

int tarn_local__scan_arrow(int *fd, tarn_lake *lake, const char *table, const char *const *columns,
                    size_t ncolumns, const char *filter, const tarn_query_options *opts,
                    tarn_error *err)
{
    *fd = -1;
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (filter && *filter) TARN_RETURN_NOT_OK(check_filter(filter, err));
    strbuf q = {0};
    sb_append(&q, "SELECT ");
    for (size_t i = 0; i < ncolumns; i++) {
        if (i) sb_append(&q, ", ");
        sb_append_sql_ident(&q, columns[i]);
    }
    if (!ncolumns) sb_append(&q, "*");
    sb_append(&q, " FROM ");
    tarn__sql_append_table(&q, table);
    if (filter && *filter) {
        /* The newline ends a trailing -- comment inside the parentheses. */
        sb_append(&q, " WHERE (");
        sb_append(&q, filter);
        sb_append(&q, "\n)");
    }
    int rc = tarn_query_arrow(fd, lake, sb_str(&q), opts, err);
    sb_free(&q);
    return rc;
}
