/* table/input.c — the files an import reads, before DuckDB does: which
 * files a path names (a glob expands here), how each is compressed, its
 * first bytes (for the CSV dialect), the line a byte offset falls on (for
 * errors), and how deep a JSON document nests.
 *
 * Bytes are read through zlib's gz functions, which read plain files as
 * they are and gzip files decompressed, so one path serves both. Zstandard
 * is refused: tarn could not look inside such a file before DuckDB does,
 * and DuckDB is not safe on every input (see tarn__input_json_depth). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "table/input.h"
#include "util/error.h"

int tarn__input_expand(char ***files, size_t *n, const char *path, tarn_error *err)
{
    *files = NULL;
    *n = 0;
    /* A name that exists is that file, even with glob characters in it. */
    if (!strpbrk(path, "*?[") || access(path, R_OK) == 0) {
        if (access(path, R_OK) != 0)
            return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path,
                                   strerror(errno));
        *files = calloc(1, sizeof **files);
        (*files)[0] = strdup(path);
        *n = 1;
        return 0;
    }
    glob_t g;
    int grc = glob(path, GLOB_ERR, NULL, &g);
    if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return tarn__error_set(err, TARN_ENOTFOUND, "no file matches '%s'", path);
    }
    if (grc != 0) {
        globfree(&g);
        return tarn__error_set(err, TARN_EIO, "cannot list the files matching '%s'", path);
    }
    /* glob sorts its matches: the files are read in name order. */
    *files = calloc(g.gl_pathc, sizeof **files);
    for (size_t i = 0; i < g.gl_pathc; i++)
        (*files)[i] = strdup(g.gl_pathv[i]);
    *n = g.gl_pathc;
    globfree(&g);
    return 0;
}

void tarn__input_files_free(char **files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

int tarn__input_compression(const char **out, const char *path, tarn_error *err)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    *out = "none";
    if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        *out = "gzip";
    else if (got == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
             magic[3] == 0xfd)
        return tarn__error_set(err, TARN_EINVALID,
                               "'%s' is Zstandard-compressed, which tarn cannot check before it "
                               "imports: decompress it first (zstd -d) or use gzip",
                               path);
    return 0;
}

int tarn__input_head(char **out, size_t *len, const char *path, size_t max, tarn_error *err)
{
    *out = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    int rc = 0;
    size_t n = 0;
    while (buf && n < max) {
        int got = gzread(f, buf + n, (unsigned)(max - n));
        if (got < 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot read '%s': the compressed data is damaged",
                                 path);
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    if (!buf) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int64_t tarn__input_line_at(const char *path, int64_t offset)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return -1;
    char buf[1 << 16];
    int64_t line = 1, pos = 0;
    while (pos < offset) {
        int64_t want = offset - pos < (int64_t)sizeof buf ? offset - pos : (int64_t)sizeof buf;
        int got = gzread(f, buf, (unsigned)want);
        if (got <= 0) break;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))) != NULL; p++)
            line++;
        pos += got;
    }
    gzclose(f);
    return line;
}

int tarn__input_json_depth(const char *path, int limit, tarn_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
    /* Brackets inside strings do not nest; a backslash escapes the next
     * character of a string. Malformed JSON is DuckDB's to report: only
     * the depth matters here, and it can only be over-counted. */
    unsigned char buf[1 << 16];
    int depth = 0, in_string = 0, escaped = 0, rc = 0;
    int64_t line = 1;
    int got;
    while (rc == 0 && (got = gzread(f, buf, sizeof buf)) > 0) {
        for (int i = 0; i < got; i++) {
            unsigned char c = buf[i];
            if (c == '\n') line++;
            if (in_string) {
                if (escaped)
                    escaped = 0;
                else if (c == '\\')
                    escaped = 1;
                else if (c == '"')
                    in_string = 0;
            } else if (c == '"') {
                in_string = 1;
            } else if (c == '[' || c == '{') {
                if (++depth > limit) {
                    rc = tarn__error_set(
                        err, TARN_EINVALID,
                        "'%s' nests deeper than %d levels (line %lld): tarn refuses "
                        "it, as reading it could crash; flatten the data first",
                        path, limit, (long long)line);
                    break;
                }
            } else if ((c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
    }
    if (rc == 0 && got < 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot read '%s': the compressed data is damaged",
                             path);
    gzclose(f);
    return rc;
}
