/* util/error.c — error codes, their names, and the caller's error record. */
#include "util/error.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tarn_code_name(int code)
{
    switch (code) {
    case TARN_OK: return "ok";
    case TARN_ENOTFOUND: return "not_found";
    case TARN_EEXISTS: return "exists";
    case TARN_ECONFLICT: return "conflict";
    case TARN_EINVALID: return "invalid";
    case TARN_EIO: return "io";
    case TARN_EAMBIGUOUS: return "ambiguous";
    case TARN_ENOMEM: return "out_of_memory";
    case TARN_EUSER: return "user_error";
    case TARN_EABORTED: return "aborted";
    case TARN_ERETRY: return "retry";
    case TARN_EDENIED: return "denied";
    default: return "error";
    }
}

const char *tarn_strerror(int code)
{
    switch (code) {
    case TARN_OK: return "success";
    case TARN_ENOTFOUND: return "not found";
    case TARN_EEXISTS: return "already exists";
    case TARN_ECONFLICT: return "conflict";
    case TARN_EINVALID: return "invalid input";
    case TARN_EIO: return "input/output error";
    case TARN_EAMBIGUOUS: return "ambiguous";
    case TARN_ENOMEM: return "out of memory";
    case TARN_EUSER: return "user function failed";
    case TARN_EABORTED: return "aborted";
    case TARN_ERETRY: return "transient failure, nothing changed: try again";
    case TARN_EDENIED: return "not allowed";
    default: return "error";
    }
}

int tarn__error_set(tarn_error *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* Messages quote outside text (a CSV line, a traceback): they must stay
     * valid UTF-8, or a JSON consumer would drop them whole. */
    tarn__utf8_fit(err->message, sizeof err->message, n >= (int)sizeof err->message);
    return code;
}

void tarn__error_add_table(tarn_error *err, const char *table)
{
    if (!err) return;
    char **grown = realloc(err->tables, (err->ntables + 1) * sizeof *grown);
    if (!grown) return;
    err->tables = grown;
    err->tables[err->ntables] = strdup(table);
    if (err->tables[err->ntables]) err->ntables++;
}

void tarn_error_clear(tarn_error *err)
{
    if (!err) return;
    for (size_t i = 0; i < err->ntables; i++) free(err->tables[i]);
    free(err->tables);
    memset(err, 0, sizeof *err);
}

void tarn_free(void *p)
{
    free(p);
}
