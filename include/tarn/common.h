/* tarn/common.h — what every tarn call shares: the export macro, the
 * append-only error codes and the caller-owned error record.
 *
 * Every fallible call returns 0 or a negative tarn_code and, on failure,
 * fills the caller's tarn_error (NULL allowed) with a message that says what
 * happened and what to do. */
#ifndef TARN_COMMON_H
#define TARN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TARN_EXTERN __attribute__((visibility("default")))

/* Append-only: numbers never change meaning. */
typedef enum tarn_code {
    TARN_OK = 0,
    TARN_ERROR = -1,     /* anything not listed below */
    TARN_ENOTFOUND = -2, /* a ref, table, namespace or file does not exist */
    TARN_EEXISTS = -3,   /* the thing to create already exists */
    TARN_ECONFLICT = -4, /* a merge or concurrent update conflicts */
    TARN_EINVALID = -5,  /* bad input: a name, a ref, SQL, a schema */
    TARN_EIO = -6,       /* the file system, the object store or the catalog failed */
    TARN_EAMBIGUOUS = -7,/* a short hash names several commits */
    TARN_ENOMEM = -8,
    TARN_EUSER = -9,     /* a user function failed */
    TARN_EABORTED = -10, /* the operation was interrupted or refused for a marked-aborted ref */
    TARN_ERETRY = -11,   /* a transient failure (a lost connection, a lost race): nothing
                            changed, running it again may succeed */
    TARN_EDENIED = -12,  /* not allowed: a protected branch, a token without the right */
} tarn_code;

#define TARN_MESSAGE_MAX 1024

/* The caller owns it (a stack value is fine); tarn_error_clear releases the
 * list of conflicting tables a failed merge may attach. */
typedef struct tarn_error {
    int code;
    char message[TARN_MESSAGE_MAX];
    size_t ntables; /* ECONFLICT: the tables that conflict, one per entry */
    char **tables;
} tarn_error;

#define TARN_ERROR_INIT {0, {0}, 0, NULL}

/* "not_found", "exists", "conflict", "invalid", ... — stable, for JSON. */
TARN_EXTERN const char *tarn_code_name(int code);
/* A one-line description of a code. */
TARN_EXTERN const char *tarn_strerror(int code);
/* Frees what err holds and resets it to TARN_ERROR_INIT. NULL allowed. */
TARN_EXTERN void tarn_error_clear(tarn_error *err);

#define TARN_RETURN_NOT_OK(expr)                                                                   \
    do {                                                                                           \
        int tarn_rc__ = (expr);                                                                    \
        if (tarn_rc__ < 0) return tarn_rc__;                                                       \
    } while (0)

/* A commit id: the hex SHA-256 of the commit's content. */
#define TARN_HASH_HEX_LEN 64
typedef struct tarn_commit_id {
    char hex[TARN_HASH_HEX_LEN + 1];
} tarn_commit_id;

/* The candidate nearest to NAME within a few edits (about a third of its
 * length), for "did you mean"; NULL when none is that near. */
TARN_EXTERN const char *tarn_nearest_name(const char *name, const char *const *candidates, size_t n);

/* Frees memory tarn returned to the caller (strings, arrays). */
TARN_EXTERN void tarn_free(void *p);

/* The N bytes of S as valid UTF-8: every byte that does not start a
 * well-formed sequence (and every NUL) becomes U+FFFD, so that text from
 * outside (a file, a user's print) can go into JSON without being lost.
 * Returns a new NUL-terminated string (free with tarn_free), NULL when S is
 * NULL or memory runs out. tarn's own error messages are already valid. */
TARN_EXTERN char *tarn_utf8_repair(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
