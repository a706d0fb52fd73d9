/* runtime/scanentry.c — the file format of a kept scan result.
 *
 * [8-byte magic][header length][data length][header checksum][data
 * checksum] (little-endian 64-bit words), then the header padded to 8
 * bytes, then the Arrow IPC stream. The lengths make a cut or grown file
 * obvious; the checksums an altered one. Entries are written to a
 * temporary and linked into place by the cache (store/cache.c), so a
 * reader never sees a half-written one under its name. */
#include "runtime/scanentry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/util.h"

#define MAGIC "TARNSC01"
#define PREFIX 40
#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

/* A fast checksum (four multiply-rotate lanes over 8-byte words): it
 * catches a damaged entry; the name and the header make the key. */
static uint64_t checksum(const uint8_t *p, size_t n)
{
    const uint64_t m = 0x9E3779B97F4A7C15ull;
    uint64_t h[4] = {m, m ^ 1, m ^ 2, m ^ 3};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * m;
            h[l] = (h[l] << 29) | (h[l] >> 35);
        }
    uint64_t tail = n;
    for (; i < n; i++)
        tail = (tail ^ p[i]) * m;
    uint64_t r = tail;
    for (int l = 0; l < 4; l++)
        r = (r ^ h[l]) * m + (uint64_t)l;
    return r ^ (r >> 31);
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

size_t tarn__scanentry_size(size_t header_len, size_t data_len)
{
    return PREFIX + pad8(header_len) + data_len;
}

int tarn__scanentry_write(int tfd, const char *header, const void *data, size_t len,
                          tarn_error *err)
{
    size_t hlen = strlen(header);
    uint8_t pre[PREFIX];
    uint64_t hl = hlen, dl = len, hs = checksum((const uint8_t *)header, hlen),
             ds = checksum(data, len);
    memcpy(pre, MAGIC, 8);
    memcpy(pre + 8, &hl, 8);
    memcpy(pre + 16, &dl, 8);
    memcpy(pre + 24, &hs, 8);
    memcpy(pre + 32, &ds, 8);
    static const char zeros[8];
    if (tarn__write_all(tfd, pre, PREFIX) < 0 || tarn__write_all(tfd, header, hlen) < 0 ||
        tarn__write_all(tfd, zeros, pad8(hlen) - hlen) < 0)
        return tarn__error_set(err, TARN_EIO, "cannot write: %s", strerror(errno));
    /* Killed here, the half-written temporary never gets the entry's name
     * (tests/cli/cases/run_scan_cache.sh). */
    tarn__fault("scancache:mid-write");
    if (tarn__write_all(tfd, data, len) < 0)
        return tarn__error_set(err, TARN_EIO, "cannot write: %s", strerror(errno));
    return 0;
}

json_t *tarn__scanentry_header(tarn_scanentry *e, const char *path)
{
    memset(e, 0, sizeof *e);
    e->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    uint8_t pre[PREFIX];
    uint64_t hlen, dlen, hsum;
    struct stat st;
    json_t *h = NULL;
    char *text = NULL;
    if (fstat(fd, &st) < 0 || pread(fd, pre, PREFIX, 0) != PREFIX || memcmp(pre, MAGIC, 8))
        goto done;
    memcpy(&hlen, pre + 8, 8);
    memcpy(&dlen, pre + 16, 8);
    memcpy(&hsum, pre + 24, 8);
    memcpy(&e->data_sum, pre + 32, 8);
    /* A short or long file is not an entry: it was cut, or is another's. */
    if (hlen > (1u << 30) || dlen > (uint64_t)st.st_size ||
        (uint64_t)st.st_size != PREFIX + pad8(hlen) + dlen)
        goto done;
    text = malloc(hlen + 1);
    if (!text || pread(fd, text, hlen, PREFIX) != (ssize_t)hlen) goto done;
    text[hlen] = 0;
    if (checksum((const uint8_t *)text, hlen) != hsum) goto done;
    h = json_loads(text, 0, NULL);
    e->data_off = PREFIX + pad8(hlen);
    e->data_len = dlen;
done:
    free(text);
    if (h)
        e->fd = fd;
    else
        close(fd);
    return h;
}

/* E's stream into a new sealed memfd, its last 8 bytes (the end-of-stream
 * marker) replaced by TAIL[0..N) when N > 0 (N >= 8). */
static int load_into(int *out, const tarn_scanentry *e, const uint8_t *tail, size_t n,
                     const char *name)
{
    *out = -1;
    uint64_t off = e->data_off, len = e->data_len;
    size_t size = n ? len - 8 + n : len;
    int m = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0) return -1;
    void *map = MAP_FAILED;
    int ok = len >= 8 && (!n || n >= 8) && ftruncate(m, (off_t)size) == 0;
    if (ok) map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    ok = ok && map != MAP_FAILED;
    for (uint64_t done = 0; ok && done < len;) {
        ssize_t r = pread(e->fd, (uint8_t *)map + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            ok = 0;
        else
            done += (uint64_t)r;
    }
    ok = ok && checksum(map, len) == e->data_sum;
    if (ok && n) memcpy((uint8_t *)map + len - 8, tail, n);
    if (map != MAP_FAILED) munmap(map, size);
    ok = ok && fcntl(m, F_ADD_SEALS, ALL_SEALS) == 0;
    if (!ok) {
        close(m);
        return -1;
    }
    *out = m;
    return 0;
}

int tarn__scanentry_load(int *out, const tarn_scanentry *e, const char *name)
{
    return load_into(out, e, NULL, 0, name);
}

/* The length of the Schema message that opens the IPC stream P[0..N), or
 * 0 when it does not open with one in tarn's framing. */
static size_t schema_message(const uint8_t *p, size_t n)
{
    uint32_t cont, meta;
    if (n < 16) return 0;
    memcpy(&cont, p, 4);
    memcpy(&meta, p + 4, 4);
    return cont == 0xFFFFFFFFu && meta % 8 == 0 && meta <= n - 16 ? 8 + (size_t)meta : 0;
}

static int ends_the_stream(const uint8_t *p, size_t n)
{
    static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    return n >= 8 && !memcmp(p + n - 8, eos, 8);
}

int tarn__scanentry_load_joined(int *out, const tarn_scanentry *e, const uint8_t *more, size_t n,
                                const char *name)
{
    *out = -1;
    size_t schema = schema_message(more, n);
    if (!schema || !ends_the_stream(more, n) || e->data_len < 16) return 1;
    /* E's stream: the very same Schema message, and the end marker last */
    uint8_t *head = malloc(schema), last[8];
    int same = head && pread(e->fd, head, schema, (off_t)e->data_off) == (ssize_t)schema &&
               !memcmp(head, more, schema) &&
               pread(e->fd, last, 8, (off_t)(e->data_off + e->data_len - 8)) == 8 &&
               ends_the_stream(last, 8);
    free(head);
    if (!same) return 1;
    return load_into(out, e, more + schema, n - schema, name);
}
