/* catalog/token.c — access tokens: made from 32 random bytes, shown once,
 * kept in the catalog as a SHA-256 only; checked in constant time; rights
 * as comma-separated ref patterns. Also who authors a handle's commits. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tarn/auth.h"
#include "util/error.h"
#include "util/util.h"

#define TOKEN_PREFIX "tarn_"
#define ID_HEX 16
#define SECRET_HEX 64

/* `*` matches any run of characters; everything else itself. */
static int glob_match(const char *p, size_t plen, const char *s)
{
    if (plen == 0) return *s == 0;
    if (*p == '*') {
        for (;;) {
            if (glob_match(p + 1, plen - 1, s)) return 1;
            if (!*s++) return 0;
        }
    }
    return *s && *s == *p && glob_match(p + 1, plen - 1, s + 1);
}

int tarn_pattern_match(const char *patterns, const char *name)
{
    if (!patterns || !name) return 0;
    const char *p = patterns;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',') end++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ') len--;
        if (len && glob_match(p, len, name)) return 1;
        p = end;
    }
    return 0;
}

/* The branch or tag a ref expression starts from ("main" of "main~2" and
 * "main@{...}"), into OUT. */
static void ref_base(char *out, size_t size, const char *ref)
{
    size_t n = strcspn(ref, "~^@");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), ref);
}

int tarn_token_may_write(const tarn_token_info *t, const char *name)
{
    return t->admin || tarn_pattern_match(t->write, name);
}

int tarn_token_may_read(const tarn_token_info *t, const char *ref)
{
    if (t->admin || tarn_pattern_match(t->read, "*") || tarn_pattern_match(t->write, "*")) return 1;
    char base[TARN_NAME_MAX + 1];
    ref_base(base, sizeof base, ref);
    return tarn_pattern_match(t->read, base) || tarn_pattern_match(t->write, base);
}

/* A pattern list holds names a ref could have, plus `*`. */
static int check_patterns(const char *what, const char *patterns, tarn_error *err)
{
    if (!patterns) return 0;
    if (strlen(patterns) >= 1024)
        return tarn__error_set(err, TARN_EINVALID, "the %s patterns are too long (at most 1023 characters)", what);
    for (const char *c = patterns; *c; c++)
        if ((unsigned char)*c < 0x20 || strchr("\\?[:^~", *c))
            return tarn__error_set(err, TARN_EINVALID,
                                   "%s pattern '%s' has a character refs cannot have ('%c'): use names, "
                                   "commas and '*'",
                                   what, patterns, *c < 0x20 ? '?' : *c);
    return 0;
}

int tarn_local__token_create(char **token, tarn_token_info *info, tarn_lake *lake, const char *user,
                             const tarn_token_options *opts, tarn_error *err)
{
    *token = NULL;
    tarn_token_options defaults = TARN_TOKEN_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (!user || !*user || strlen(user) > 255 || strpbrk(user, "\n\r\t"))
        return tarn__error_set(err, TARN_EINVALID, "a token needs a user name (1 to 255 characters, one line)");
    TARN_RETURN_NOT_OK(check_patterns("read", opts->read, err));
    TARN_RETURN_NOT_OK(check_patterns("write", opts->write, err));
    if (opts->expires_in_s < 0) return tarn__error_set(err, TARN_EINVALID, "a token cannot expire in the past");
    unsigned char rnd[ID_HEX / 2 + SECRET_HEX / 2];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return tarn__error_set(err, TARN_EIO, "the system gave no random bytes: no token was made");
    char hex[sizeof rnd * 2 + 1];
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    OPENSSL_cleanse(rnd, sizeof rnd);
    tarn_token_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "%.*s", ID_HEX, hex);
    size_t len = sizeof TOKEN_PREFIX + ID_HEX + 1 + SECRET_HEX + 1;
    char *secret = malloc(len);
    if (!secret) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    snprintf(secret, len, TOKEN_PREFIX "%.16s_%.64s", row.id, hex + ID_HEX);
    OPENSSL_cleanse(hex, sizeof hex);
    tarn__sha256_hex(row.hash, secret, strlen(secret));
    snprintf(row.user, sizeof row.user, "%s", user);
    snprintf(row.read, sizeof row.read, "%s", opts->read ? opts->read : "");
    snprintf(row.write, sizeof row.write, "%s", opts->write ? opts->write : "");
    row.admin = opts->admin ? 1 : 0;
    row.created_us = tarn__now_us();
    row.expires_us = opts->expires_in_s ? row.created_us + opts->expires_in_s * 1000000 : 0;
    int rc = TARN_CAT(lake)->vt->token_put(TARN_CAT(lake), &row, err);
    if (rc < 0) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
        return rc;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        memcpy(info->id, row.id, sizeof info->id);
        memcpy(info->user, row.user, sizeof info->user);
        memcpy(info->read, row.read, sizeof info->read);
        memcpy(info->write, row.write, sizeof info->write);
        info->admin = row.admin;
        info->created_us = row.created_us;
        info->expires_us = row.expires_us;
    }
    *token = secret;
    return 0;
}

static void info_from_row(tarn_token_info *out, const tarn_token_row *r)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, r->id, sizeof out->id);
    memcpy(out->user, r->user, sizeof out->user);
    memcpy(out->read, r->read, sizeof out->read);
    memcpy(out->write, r->write, sizeof out->write);
    out->admin = r->admin;
    out->created_us = r->created_us;
    out->expires_us = r->expires_us;
    out->revoked_us = r->revoked_us;
}

typedef struct token_list_ctx {
    tarn_token_info *items;
    size_t n, cap;
} token_list_ctx;

static int collect_token(const tarn_token_row *r, void *arg)
{
    token_list_ctx *l = arg;
    if (tarn__reserve(&l->items, &l->cap, l->n + 1, sizeof *l->items) != 0) return TARN_ENOMEM;
    info_from_row(&l->items[l->n++], r);
    return 0;
}

int tarn_local__token_list(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    token_list_ctx l = {0};
    int rc = TARN_CAT(lake)->vt->token_list(TARN_CAT(lake), collect_token, &l, err);
    if (rc == TARN_ENOMEM) tarn__error_set(err, rc, "out of memory");
    if (rc < 0) {
        free(l.items);
        return rc;
    }
    *out = l.items;
    *count = l.n;
    return 0;
}

/* The public id of TOKEN, or TOKEN itself when it is an id. */
static void token_id(char out[33], const char *token)
{
    if (strncmp(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1) == 0) token += sizeof TOKEN_PREFIX - 1;
    size_t n = strcspn(token, "_");
    snprintf(out, 33, "%.*s", (int)(n < 32 ? n : 32), token);
}

int tarn_local__token_revoke(tarn_lake *lake, const char *id, tarn_error *err)
{
    char tid[33];
    token_id(tid, id ? id : "");
    int rc = TARN_CAT(lake)->vt->token_revoke(TARN_CAT(lake), tid, tarn__now_us(), err);
    if (rc == TARN_ENOTFOUND)
        return tarn__error_set(err, rc, "no token with id '%s' (see 'tarn token ls')", tid);
    return rc;
}

int tarn_local__token_verify(tarn_token_info *out, tarn_lake *lake, const char *token,
                             tarn_error *err)
{
    memset(out, 0, sizeof *out);
    static const char refused[] = "the token is not valid (unknown, revoked or expired)";
    if (!token || strncmp(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1) != 0 ||
        strlen(token) != sizeof TOKEN_PREFIX - 1 + ID_HEX + 1 + SECRET_HEX)
        return tarn__error_set(err, TARN_EDENIED, refused);
    char id[33], hash[65];
    token_id(id, token);
    tarn_token_row row;
    int rc = TARN_CAT(lake)->vt->token_get(TARN_CAT(lake), id, &row, err);
    if (rc == TARN_ENOTFOUND) return tarn__error_set(err, TARN_EDENIED, refused);
    if (rc < 0) return rc;
    tarn__sha256_hex(hash, token, strlen(token));
    int same = CRYPTO_memcmp(hash, row.hash, 64) == 0;
    int64_t now = tarn__now_us();
    if (!same || row.revoked_us || (row.expires_us && row.expires_us <= now))
        return tarn__error_set(err, TARN_EDENIED, refused);
    info_from_row(out, &row);
    return 0;
}

int tarn_local__lake_set_author(tarn_lake *lake, const char *author, tarn_error *err)
{
    if (author && (strlen(author) >= sizeof lake->author || strpbrk(author, "\n\r")))
        return tarn__error_set(err, TARN_EINVALID, "an author is one line of at most 255 characters");
    snprintf(lake->author, sizeof lake->author, "%s", author ? author : "");
    return 0;
}
