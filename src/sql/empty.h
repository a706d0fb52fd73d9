/* sql/empty.h — a table version's columns as a relation without rows
 * (library-internal; see empty.c). */
#ifndef TARN_SQL_EMPTY_H
#define TARN_SQL_EMPTY_H

#include "lake/lake.h"
#include "util/util.h"

/* Appends `(SELECT CAST(NULL AS type) AS "col", ... LIMIT 0)` with the
 * columns of table version VERSION_ID, from the catalog: binding a filter
 * or a projection against it opens no data file. */
int tarn__duck_empty_scan_sql(strbuf *out, tarn_lake *lake, const char *version_id,
                              tarn_error *err);

/* What planning binds a table's filters against: its data files where they
 * are local, the empty relation above where they would have to be fetched. */
int tarn__duck_shape_sql(strbuf *out, tarn_lake *lake, const char *version_id, tarn_error *err);

#endif
