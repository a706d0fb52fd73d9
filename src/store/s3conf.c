/* store/s3conf.c — where a bucket is and whose credentials reach it.
 *
 * Settings come from the lakehouse's `.tarn/config` (`s3.KEY`, or
 * `s3.bucket.NAME.KEY` for one bucket, which wins), then from the AWS
 * environment variables, then defaults. Credentials never come from the
 * config file: from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, else from a profile of ~/.aws/credentials. A profile
 * configured for the bucket (`s3.profile`) is read first, so a source
 * bucket can use other credentials than the lakehouse's own. */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3client.h"
#include "util/error.h"

int tarn__s3_parse_url(tarn_s3_target *t, const char *url, tarn_error *err)
{
    if (!url || strncmp(url, "s3://", 5) != 0)
        return tarn__error_set(err, TARN_EINVALID,
                               "'%s' is not an S3 location (s3://bucket/prefix)", url ? url : "");
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (blen < 3 || blen > 63)
        return tarn__error_set(
            err, TARN_EINVALID,
            "'%s' does not name a bucket: use s3://BUCKET/PREFIX (bucket names have 3 "
            "to 63 characters)",
            url);
    for (size_t i = 0; i < blen; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return tarn__error_set(
                err, TARN_EINVALID,
                "invalid bucket name '%.*s' in '%s' (lower-case letters, digits, '-' "
                "and '.')",
                (int)blen, b, url);
    }
    snprintf(t->bucket, sizeof t->bucket, "%.*s", (int)blen, b);
    const char *p = b + blen;
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    if (plen >= sizeof t->prefix)
        return tarn__error_set(err, TARN_EINVALID, "the prefix of '%s' is too long", url);
    snprintf(t->prefix, sizeof t->prefix, "%.*s", (int)plen, p);
    return 0;
}

/* s3.bucket.NAME.KEY, else s3.KEY, else NULL. */
static const char *setting(const tarn_lake *lake, const char *bucket, const char *key)
{
    if (!lake) return NULL;
    char full[400];
    snprintf(full, sizeof full, "s3.bucket.%s.%s", bucket, key);
    const char *v = tarn_lake_config(lake, full);
    if (v && *v) return v;
    snprintf(full, sizeof full, "s3.%s", key);
    v = tarn_lake_config(lake, full);
    return v && *v ? v : NULL;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int setting_int(int *out, const tarn_lake *lake, const char *bucket, const char *key,
                       long lo, long hi, int dflt, tarn_error *err)
{
    const char *v = setting(lake, bucket, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!end || *end || x < lo || x > hi)
        return tarn__error_set(
            err, TARN_EINVALID,
            "s3.%s = '%s' in .tarn/config: expected a whole number from %ld to %ld", key, v, lo,
            hi);
    *out = (int)x;
    return 0;
}

/* Reads profile PROFILE of the shared credentials file into T. 1 if found. */
static int read_profile(tarn_s3_target *t, const char *profile)
{
    char path[PATH_MAX];
    const char *file = env("AWS_SHARED_CREDENTIALS_FILE");
    if (file) {
        snprintf(path, sizeof path, "%s", file);
    } else {
        const char *home = env("HOME");
        if (!home) return 0;
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    }
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int in = 0;
    char ak[256] = "", sk[256] = "", tok[4096] = "";
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = 0;
        if (*s == '#' || *s == ';' || !*s) continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close) *close = 0;
            char *name = s + 1;
            while (*name == ' ')
                name++;
            if (!strncmp(name, "profile ", 8)) name += 8;
            in = strcmp(name, profile) == 0;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        char *k = s, *v = eq + 1, *kend = eq;
        while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        *kend = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcmp(k, "aws_access_key_id"))
            snprintf(ak, sizeof ak, "%s", v);
        else if (!strcmp(k, "aws_secret_access_key"))
            snprintf(sk, sizeof sk, "%s", v);
        else if (!strcmp(k, "aws_session_token"))
            snprintf(tok, sizeof tok, "%s", v);
    }
    fclose(f);
    int found = ak[0] && sk[0];
    if (found) {
        snprintf(t->access_key, sizeof t->access_key, "%s", ak);
        snprintf(t->secret_key, sizeof t->secret_key, "%s", sk);
        snprintf(t->session_token, sizeof t->session_token, "%s", tok);
        snprintf(t->cred_source, sizeof t->cred_source, "profile '%.64s' of %.200s", profile, path);
    }
    OPENSSL_cleanse(sk, sizeof sk);
    OPENSSL_cleanse(tok, sizeof tok);
    return found;
}

static int from_env(tarn_s3_target *t)
{
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    if (!ak || !sk) return 0;
    snprintf(t->access_key, sizeof t->access_key, "%s", ak);
    snprintf(t->secret_key, sizeof t->secret_key, "%s", sk);
    snprintf(t->session_token, sizeof t->session_token, "%s",
             env("AWS_SESSION_TOKEN") ? env("AWS_SESSION_TOKEN") : "");
    snprintf(t->cred_source, sizeof t->cred_source, "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    return 1;
}

static int credentials(tarn_s3_target *t, const char *configured_profile)
{
    if (configured_profile && read_profile(t, configured_profile)) return 1;
    if (from_env(t)) return 1;
    const char *profile = env("AWS_PROFILE");
    if (read_profile(t, profile ? profile : "default")) return 1;
    snprintf(t->cred_source, sizeof t->cred_source,
             "no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in "
             "~/.aws/credentials with AWS_PROFILE)");
    return 0;
}

static int endpoint_of(tarn_s3_target *t, const char *given, tarn_error *err)
{
    if (!given) {
        snprintf(t->endpoint, sizeof t->endpoint, "https://s3.%s.amazonaws.com", t->region);
        return 0;
    }
    if (strncmp(given, "http://", 7) != 0 && strncmp(given, "https://", 8) != 0)
        return tarn__error_set(err, TARN_EINVALID,
                               "S3 endpoint '%s' must start with http:// or https:// (e.g. "
                               "http://127.0.0.1:9000)",
                               given);
    const char *host = strstr(given, "://") + 3;
    size_t hlen = strcspn(host, "/?#");
    if (memchr(host, '@', hlen))
        return tarn__error_set(err, TARN_EINVALID,
                               "the S3 endpoint must not carry credentials: give them in "
                               "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials");
    if (hlen == 0)
        return tarn__error_set(err, TARN_EINVALID, "S3 endpoint '%s' names no host", given);
    int n = snprintf(t->endpoint, sizeof t->endpoint, "%.*s", (int)(host - given + (ptrdiff_t)hlen),
                     given);
    if (n >= (int)sizeof t->endpoint)
        return tarn__error_set(err, TARN_EINVALID, "S3 endpoint too long");
    return 0;
}

int tarn__s3_target_resolve(tarn_s3_target *t, const tarn_lake *lake, const char *url,
                            tarn_error *err)
{
    memset(t, 0, sizeof *t);
    TARN_RETURN_NOT_OK(tarn__s3_parse_url(t, url, err));
    const char *b = t->bucket;
    const char *region = setting(lake, b, "region");
    if (!region) region = env("AWS_REGION");
    if (!region) region = env("AWS_DEFAULT_REGION");
    snprintf(t->region, sizeof t->region, "%s", region ? region : "us-east-1");
    const char *endpoint = setting(lake, b, "endpoint");
    if (!endpoint) endpoint = env("AWS_ENDPOINT_URL_S3");
    if (!endpoint) endpoint = env("AWS_ENDPOINT_URL");
    TARN_RETURN_NOT_OK(endpoint_of(t, endpoint, err));
    /* A custom endpoint (MinIO, s3rver, ...) usually wants path-style
     * addressing; AWS wants the bucket in the host name, except for names
     * with dots over https (the certificate would not match). */
    const char *ps = setting(lake, b, "path_style");
    if (ps)
        t->path_style = !strcmp(ps, "true") || !strcmp(ps, "1") || !strcmp(ps, "yes");
    else
        t->path_style = endpoint != NULL || strchr(b, '.') != NULL;

    int mb = 0, part_mb = 0;
    TARN_RETURN_NOT_OK(setting_int(&t->max_attempts, lake, b, "max_attempts", 1, 100, 8, err));
    TARN_RETURN_NOT_OK(
        setting_int(&t->retry_base_ms, lake, b, "retry_base_ms", 1, 60000, 100, err));
    TARN_RETURN_NOT_OK(setting_int(&t->timeout_s, lake, b, "timeout_seconds", 1, 3600, 30, err));
    TARN_RETURN_NOT_OK(setting_int(&t->parallel, lake, b, "parallel", 1, 64, 8, err));
    TARN_RETURN_NOT_OK(setting_int(&mb, lake, b, "multipart_threshold_mb", 5, 5 * 1024, 64, err));
    TARN_RETURN_NOT_OK(setting_int(&part_mb, lake, b, "part_size_mb", 5, 5 * 1024, 16, err));
    TARN_RETURN_NOT_OK(setting_int(&t->list_page, lake, b, "list_page_size", 1, 1000, 1000, err));
    TARN_RETURN_NOT_OK(
        setting_int(&t->delete_batch, lake, b, "delete_batch_size", 1, 1000, 1000, err));
    t->multipart_threshold = (int64_t)mb << 20;
    t->part_size = (int64_t)part_mb << 20;
    credentials(t, setting(lake, b, "profile"));
    return 0;
}

void tarn__s3_target_clear(tarn_s3_target *t)
{
    OPENSSL_cleanse(t->secret_key, sizeof t->secret_key);
    OPENSSL_cleanse(t->session_token, sizeof t->session_token);
    OPENSSL_cleanse(t->access_key, sizeof t->access_key);
}
