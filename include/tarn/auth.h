/* tarn/auth.h — who may do what: access tokens with rights per ref
 * pattern, protected branches, and the author of a handle's commits.
 *
 * A token is `tarn_<id>_<secret>`: random, shown once when created; the
 * catalog keeps only its SHA-256. Each names a user (the author of the
 * commits made with it) and its rights: refs it may read, branches it may
 * write (both as comma-separated patterns where `*` matches any run of
 * characters), and admin (tokens, protection, gc, everything). */
#ifndef TARN_AUTH_H
#define TARN_AUTH_H

#include "common.h"
#include "lake.h"

typedef struct tarn_token_info {
    char id[33];
    char user[256];
    char read[1024];  /* patterns of refs it may read ("" none, "*" all) */
    char write[1024]; /* patterns of branches it may write (and read) */
    int admin;
    int64_t created_us;
    int64_t expires_us; /* 0: never */
    int64_t revoked_us; /* 0: not revoked */
} tarn_token_info;

typedef struct tarn_token_options {
    int version;
    const char *read;  /* NULL or "": no read right beyond WRITE's branches */
    const char *write; /* NULL or "": read-only */
    int admin;
    int64_t expires_in_s; /* 0: never expires */
} tarn_token_options;

#define TARN_TOKEN_OPTIONS_VERSION 1
#define TARN_TOKEN_OPTIONS_INIT {TARN_TOKEN_OPTIONS_VERSION, NULL, NULL, 0, 0}

/* Creates a token for USER. *token (free with tarn_free) is the only copy
 * of the secret: it cannot be shown again. INFO (may be NULL) gets what is
 * stored. Patterns are checked: TARN_EINVALID names a bad one. */
TARN_EXTERN int tarn_token_create(char **token, tarn_token_info *info, tarn_lake *lake,
                                  const char *user, const tarn_token_options *opts,
                                  tarn_error *err);
/* Every token, revoked and expired ones included (free with tarn_free). */
TARN_EXTERN int tarn_token_list(tarn_token_info **out, size_t *count, tarn_lake *lake,
                                tarn_error *err);
/* Revokes token ID (its public id, or the whole token): from now on it is
 * refused. TARN_ENOTFOUND if there is no such token. */
TARN_EXTERN int tarn_token_revoke(tarn_lake *lake, const char *id, tarn_error *err);
/* Checks TOKEN: 0 and OUT filled when it is known, not revoked and not
 * expired; TARN_EDENIED otherwise, with one message for every case (it
 * must not tell a guesser which part was wrong). */
TARN_EXTERN int tarn_token_verify(tarn_token_info *out, tarn_lake *lake, const char *token,
                                  tarn_error *err);

/* Does NAME match one of PATTERNS (comma-separated, `*` any run of
 * characters, blanks around commas ignored)? 1 or 0. */
TARN_EXTERN int tarn_pattern_match(const char *patterns, const char *name);
/* May token T read ref expression REF (a name, `name~N`, `name@{time}`)?
 * A bare commit hash names no branch: only `*` readers may read it. */
TARN_EXTERN int tarn_token_may_read(const tarn_token_info *t, const char *ref);
/* May token T write (commit on, merge into, create, delete) branch NAME? */
TARN_EXTERN int tarn_token_may_write(const tarn_token_info *t, const char *name);

typedef enum tarn_protect_mode {
    TARN_PROTECT_NONE = 0,
    TARN_PROTECT_MERGES = 1, /* only merges reach it: no direct import or table change */
    TARN_PROTECT_RUNS = 2,   /* only merges of successful runs whose expectations all passed */
} tarn_protect_mode;

/* Sets the protection of branch NAME (which must exist); NONE lifts it.
 * A protected branch refuses direct writes with TARN_EDENIED. */
TARN_EXTERN int tarn_branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                                    tarn_error *err);
/* The protection of branch NAME (NONE when unprotected). */
TARN_EXTERN int tarn_branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                                       tarn_error *err);
/* Protected branches as JSON (free with tarn_free): [{"name", "mode":
 * "merges"|"runs"}]. */
TARN_EXTERN int tarn_branch_protected_list(char **json, tarn_lake *lake, tarn_error *err);

/* Commits made through LAKE are authored by AUTHOR from now on (a server
 * sets the user of each request's token). NULL restores the default. */
TARN_EXTERN int tarn_lake_set_author(tarn_lake *lake, const char *author, tarn_error *err);

#endif
