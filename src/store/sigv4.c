/* store/sigv4.c — AWS Signature Version 4, written here rather than taken
 * from libcurl (CURLOPT_AWS_SIGV4) so that every step can be checked
 * against AWS's published test vectors (tests/unit/sigv4_test.c), and so
 * that the payload hash and signed headers are the caller's choice.
 *
 * The canonical request is: method, path, sorted query, sorted lower-case
 * headers with trimmed values (repeated names joined by commas, in order),
 * the signed header names, the payload hash. Its hash goes into the string
 * to sign, which is signed with a key derived from the secret, the date,
 * the region and the service. */
#include "store/sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct header {
    char *name;  /* lower case */
    char *value; /* trimmed, inner runs of spaces folded */
    size_t order;
} header;

static int cmp_header(const void *a, const void *b)
{
    const header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void hmac(unsigned char out[32], const void *key, size_t keylen, const char *data)
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &n);
}

void tarn__sigv4_hex(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static header parse_header(const char *line, size_t order)
{
    header h = {0};
    const char *colon = strchr(line, ':');
    size_t nlen = colon ? (size_t)(colon - line) : strlen(line);
    h.name = malloc(nlen + 1);
    for (size_t i = 0; i < nlen; i++)
        h.name[i] = (char)tolower((unsigned char)line[i]);
    h.name[nlen] = 0;
    const char *v = colon ? colon + 1 : "";
    h.value = malloc(strlen(v) + 1);
    size_t o = 0;
    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            if (o && h.value[o - 1] != ' ') h.value[o++] = ' ';
        } else {
            h.value[o++] = *v;
        }
    }
    while (o && h.value[o - 1] == ' ')
        o--;
    h.value[o] = 0;
    h.order = order;
    return h;
}

/* The query's pairs sorted by name, then value; a bare name gets "=". */
static void canonical_query(strbuf *out, const char *query)
{
    char *copy = strdup(query ? query : "");
    size_t n = 0, cap = 0;
    char **pairs = NULL;
    char *save = NULL;
    for (char *p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
        if (tarn__reserve(&pairs, &cap, n + 1, sizeof *pairs) < 0) break;
        strbuf pair = {0};
        sb_append(&pair, p);
        if (!strchr(p, '=')) sb_append(&pair, "=");
        pairs[n++] = pair.s;
    }
    /* Sorting "name=value" strings sorts by name first only if '=' sorts
     * below every name character, which it does not ('-', '.', digits);
     * compare name and value apart instead. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            char *a = pairs[j - 1], *b = pairs[j];
            size_t la = strcspn(a, "="), lb = strcspn(b, "=");
            int c = strncmp(a, b, la < lb ? la : lb);
            if (c == 0) c = la < lb ? -1 : la > lb;
            if (c == 0) c = strcmp(a + la, b + lb);
            if (c <= 0) break;
            pairs[j - 1] = b;
            pairs[j] = a;
        }
    for (size_t i = 0; i < n; i++) {
        if (i) sb_append(out, "&");
        sb_append(out, pairs[i]);
        free(pairs[i]);
    }
    free(pairs);
    free(copy);
}

void tarn__sigv4_sign(strbuf *auth, strbuf *canonical, strbuf *to_sign, const tarn_sigv4_request *r)
{
    header *hs = calloc(r->nheaders ? r->nheaders : 1, sizeof *hs);
    for (size_t i = 0; i < r->nheaders; i++)
        hs[i] = parse_header(r->headers[i], i);
    qsort(hs, r->nheaders, sizeof *hs, cmp_header);

    strbuf creq = {0}, names = {0};
    sb_printf(&creq, "%s\n%s\n", r->method, r->path && *r->path ? r->path : "/");
    canonical_query(&creq, r->query);
    sb_append(&creq, "\n");
    for (size_t i = 0; i < r->nheaders; i++) {
        if (i && !strcmp(hs[i].name, hs[i - 1].name)) {
            sb_printf(&creq, ",%s", hs[i].value);
            continue;
        }
        sb_printf(&creq, "%s%s:%s", i ? "\n" : "", hs[i].name, hs[i].value);
        sb_printf(&names, "%s%s", names.len ? ";" : "", hs[i].name);
    }
    sb_printf(&creq, "\n\n%s\n%s", sb_str(&names), r->payload_hash);

    char date[9], creq_hash[65], scope[256];
    snprintf(date, sizeof date, "%.8s", r->amz_date);
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, r->region, r->service);
    tarn__sha256_hex(creq_hash, sb_str(&creq), creq.len);
    strbuf sts = {0};
    sb_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash);

    unsigned char k[32];
    strbuf secret = {0};
    sb_printf(&secret, "AWS4%s", r->secret_key);
    hmac(k, secret.s, secret.len, date);
    hmac(k, k, 32, r->region);
    hmac(k, k, 32, r->service);
    hmac(k, k, 32, "aws4_request");
    unsigned char sig[32];
    hmac(sig, k, 32, sb_str(&sts));
    char sig_hex[65];
    tarn__sigv4_hex(sig_hex, sig, 32);
    /* The derived key and the secret copy are as sensitive as the secret. */
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(secret.s, secret.len);
    sb_free(&secret);

    sb_printf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
              r->access_key, scope, sb_str(&names), sig_hex);
    if (canonical) sb_append(canonical, sb_str(&creq));
    if (to_sign) sb_append(to_sign, sb_str(&sts));
    for (size_t i = 0; i < r->nheaders; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    sb_free(&creq);
    sb_free(&names);
    sb_free(&sts);
}

void tarn__sigv4_date(char out[17], long long time_s)
{
    time_t t = (time_t)time_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void tarn__sigv4_encode(strbuf *out, const char *s, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            char c = (char)*p;
            sb_appendn(out, &c, 1);
        } else {
            char esc[3] = {'%', digits[*p >> 4], digits[*p & 15]};
            sb_appendn(out, esc, 3);
        }
    }
}
