/* util/util.c — growable strings, hashing, time, files, fault injection. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void sb_reserve(strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *grown = realloc(b->s, cap);
    if (!grown) abort(); /* out of memory in a string builder: nothing sane to do */
    b->s = grown;
    b->cap = cap;
}

void sb_appendn(strbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_append(strbuf *b, const char *s)
{
    sb_appendn(b, s, strlen(s));
}

void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_reserve(b, (size_t)n);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

static void sb_append_quoted(strbuf *b, const char *s, char q)
{
    sb_appendn(b, &q, 1);
    for (const char *p = s; *p; p++) {
        if (*p == q) sb_appendn(b, &q, 1);
        sb_appendn(b, p, 1);
    }
    sb_appendn(b, &q, 1);
}

void sb_append_sql_string(strbuf *b, const char *s)
{
    sb_append_quoted(b, s, '\'');
}

void sb_append_sql_ident(strbuf *b, const char *s)
{
    sb_append_quoted(b, s, '"');
}

const char *sb_str(const strbuf *b)
{
    return b->s ? b->s : "";
}

void sb_free(strbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

const char *tarn_nearest_name(const char *name, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    /* A slip of the fingers: about a third of the name (a transposed pair
     * is two edits, so "mian" finds "main"). */
    size_t dist = (strlen(name) + 2) / 3 + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = tarn__edit_distance(candidates[i], name);
        if (d < dist) {
            dist = d;
            best = candidates[i];
        }
    }
    return best;
}

int tarn__reserve(void *ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void **p = ptr;
    void *grown = realloc(*p, n * elem);
    if (!grown) return TARN_ENOMEM;
    *p = grown;
    *cap = n;
    return 0;
}

void tarn__sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = 0;
}

void tarn__random_hex(char out[33])
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        /* Fall back on the kernel directly; uniqueness is what matters. */
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd < 0 || read(fd, bytes, sizeof bytes) != (ssize_t)sizeof bytes) abort();
        close(fd);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    out[32] = 0;
}

int64_t tarn__now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void tarn__format_time(char *out, size_t size, int64_t time_us)
{
    time_t secs = (time_t)(time_us / 1000000);
    int micros = (int)(time_us % 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06dZ", base, micros);
}

int tarn__parse_time(int64_t *out_us, const char *text)
{
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    if (strcmp(text, "now") == 0) {
        *out_us = tarn__now_us();
        return 0;
    }
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
    const char *p = text + n;
    double frac = 0;
    int offset_s = 0;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &s, &m) != 3) return -1;
        p += 1 + m;
        if (*p == '.') {
            char *end;
            frac = strtod(p, &end);
            p = end;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, k = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2) return -1;
            offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 1 + k;
        }
    }
    if (*p) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t secs = timegm(&tm);
    *out_us = ((int64_t)secs - offset_s) * 1000000 + (int64_t)(frac * 1e6 + 0.5);
    return 0;
}

int tarn__mkdirs(const char *path, int mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

int tarn__write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    char rnd[33];
    tarn__random_hex(rnd);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return -1;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int tarn__read_file(char **out, size_t *len, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    strbuf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sb_appendn(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sb_free(&b);
        return -1;
    }
    if (!b.s) sb_append(&b, "");
    if (len) *len = b.len;
    *out = b.s;
    return 0;
}

size_t tarn__edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 99;
    size_t dp[65][65];
    for (size_t i = 0; i <= n; i++) dp[i][0] = i;
    for (size_t j = 0; j <= m; j++) dp[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t sub = dp[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = dp[i - 1][j] + 1, ins = dp[i][j - 1] + 1;
            dp[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return dp[n][m];
}

/* TARN_FAULT=POINT kills the process at POINT; TARN_FAULT=POINT=stop stops
 * it there (SIGSTOP), so a test can act while it stands still and then let
 * it go on (SIGCONT); TARN_FAULT=POINT=pause:MS makes the thread that
 * reaches POINT wait MS milliseconds (the rest of the process runs on). */
void tarn__fault(const char *point)
{
    const char *want = getenv("TARN_FAULT");
    if (!want) return;
    size_t n = strlen(point);
    if (strcmp(want, point) == 0) raise(SIGKILL);
    if (strncmp(want, point, n) != 0 || want[n] != '=') return;
    if (strcmp(want + n, "=stop") == 0) raise(SIGSTOP);
    else if (strncmp(want + n, "=pause:", 7) == 0) {
        long ms = atol(want + n + 7);
        struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
    }
}

int tarn__write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
