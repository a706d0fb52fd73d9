/* sql/empty.c — a table's shape without its data. Planning binds filters
 * and a scan that every file was pruned from still needs the table's
 * columns; both used to read the data files' footers, which on object
 * storage means fetching every file. The catalog records each version's
 * schema (DuckDB's own type names), so an empty relation of those columns
 * binds the same way without opening anything. */
#include "sql/empty.h"

#include "catalog/catalog.h"
#include "sql/engine.h"
#include "table/schema.h"
#include "util/error.h"

int tarn__duck_empty_scan_sql(strbuf *out, tarn_lake *lake, const char *version_id, tarn_error *err)
{
    tarn_version v;
    TARN_RETURN_NOT_OK(tarn__version_load(&v, lake, version_id, err));
    tarn_column *cols = NULL;
    size_t n = 0;
    int rc = 0;
    if (tarn__schema_parse(&cols, &n, v.schema_json) != 0 || n == 0)
        rc = tarn__error_set(
            err, TARN_EIO, "catalog error: table version %.12s has no readable schema", version_id);
    if (rc == 0) {
        sb_append(out, "(SELECT ");
        for (size_t i = 0; i < n; i++) {
            sb_printf(out, "%sCAST(NULL AS %s) AS ", i ? ", " : "", cols[i].type);
            sb_append_sql_ident(out, cols[i].name);
        }
        sb_append(out, " LIMIT 0)");
    }
    tarn__columns_free(cols, n);
    tarn__version_clear(&v);
    return rc;
}

int tarn__duck_shape_sql(strbuf *out, tarn_lake *lake, const char *version_id, tarn_error *err)
{
    /* On the local folder, reading footers costs little and is what DuckDB
     * itself would see; elsewhere it costs a download of every file. */
    if (lake->store->vt->version < 3 || !lake->store->vt->prefetch)
        return tarn__duck_scan_sql(out, lake, version_id, err);
    return tarn__duck_empty_scan_sql(out, lake, version_id, err);
}
