/* util/error.h — filling a caller's tarn_error. */
#ifndef TARN_UTIL_ERROR_H
#define TARN_UTIL_ERROR_H

#include "tarn/common.h"

/* Sets err (if not NULL) and returns CODE, so callers can `return
 * tarn__error_set(err, TARN_EINVALID, "...")`. */
int tarn__error_set(tarn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a table name to err->tables (for conflicts). */
void tarn__error_add_table(tarn_error *err, const char *table);

#endif
