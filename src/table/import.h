/* table/import.h — import options as this library reads them
 * (library-internal): a local import and a remote one read a caller's
 * options, of whatever version, the same way. */
#ifndef TARN_TABLE_IMPORT_H
#define TARN_TABLE_IMPORT_H

#include "tarn/table.h"

/* OPTS (NULL: the defaults) as the current version into OUT: a caller
 * built against an older version gets defaults for the newer fields.
 * TARN_EINVALID for an unknown version or mode. */
int tarn__import_options(tarn_import_options *out, const tarn_import_options *opts,
                         tarn_error *err);

#endif
