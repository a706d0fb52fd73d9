/* arrow/duckdb.c — hand a decoded table to DuckDB as a view, through the
 * Arrow C stream interface (duckdb_arrow_scan). DuckDB reads the stream
 * each time the view is queried; our stream starts over after its end, so
 * the view can be queried repeatedly while the stream lives. */
#include "arrow/internal.h"

#include <duckdb.h>

int tarn_arrow_duckdb_register(struct ArrowArrayStream *stream_out, void *conn, const char *name,
                               tarn_arrow_table *t, tarn_error *err)
{
    int rc = tarn_arrow_table_stream(stream_out, t, err);
    if (rc < 0) goto done;
    if (duckdb_arrow_scan((duckdb_connection)conn, name, (duckdb_arrow_stream)stream_out) !=
        DuckDBSuccess) {
        stream_out->release(stream_out);
        rc = tarn_arrow__fail(err, TARN_EINVALID, "DuckDB refused the Arrow stream for view '%s'",
                              name);
    }
done:
    return rc;
}
