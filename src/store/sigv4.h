/* store/sigv4.h — AWS Signature Version 4 (library-internal). */
#ifndef TARN_STORE_SIGV4_H
#define TARN_STORE_SIGV4_H

#include <stddef.h>

#include "util/util.h"

/* What is signed. Strings are borrowed. PATH and QUERY are exactly as they
 * go on the wire (already percent-encoded, QUERY without '?', "" for none);
 * HEADERS are "Name: value" lines, every one of them signed. */
typedef struct tarn_sigv4_request {
    const char *method;
    const char *path;
    const char *query;
    const char *const *headers;
    size_t nheaders;
    const char *payload_hash; /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
    const char *amz_date;     /* 20150830T123600Z, also in an X-Amz-Date header */
    const char *region;
    const char *service; /* "s3" */
    const char *access_key;
    const char *secret_key;
} tarn_sigv4_request;

/* Appends the Authorization header's value to AUTH. CANONICAL and TO_SIGN
 * (NULL allowed) receive the canonical request and the string to sign, so
 * that tests can compare each step with AWS's published examples. */
void tarn__sigv4_sign(strbuf *auth, strbuf *canonical, strbuf *to_sign,
                      const tarn_sigv4_request *r);

/* N bytes of IN as lower-case hex into OUT (2N+1 bytes). */
void tarn__sigv4_hex(char *out, const unsigned char *in, size_t n);

/* 20150830T123600Z for TIME_S (UTC) into out (17 bytes). */
void tarn__sigv4_date(char out[17], long long time_s);

/* Appends S percent-encoded as AWS wants (every byte but A-Z a-z 0-9 - _ . ~;
 * '/' too unless KEEP_SLASH). */
void tarn__sigv4_encode(strbuf *out, const char *s, int keep_slash);

#endif
