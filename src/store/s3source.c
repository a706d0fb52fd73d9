/* store/s3source.c — `tarn table import --from s3://...`: the objects an
 * S3 location names, downloaded for DuckDB (which cannot read s3:// here).
 *
 * A location is one object (s3://bucket/key), everything under a prefix
 * (s3://bucket/raw/2024/, ending in '/'), or a glob
 * (s3://bucket/raw/2024/\*.parquet: '*', '?' and [...] within one path
 * segment, as a shell would). A key that names no object is tried as a
 * prefix. The bucket may be another than the lakehouse's, with its own
 * endpoint, region and credentials profile (s3.bucket.NAME.* settings).
 * The objects are downloaded in parallel into a fresh folder under
 * `.tarn/staging/`, which the import removes when done; folders a killed
 * import left behind are removed by the next import a day later. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/s3client.h"
#include "store/store.h"
#include "util/error.h"
#include "util/util.h"

typedef struct match {
    char *name;
    int64_t size;
} match;

typedef struct matches {
    const char *pattern; /* NULL: every object */
    match *v;
    size_t n, cap;
} matches;

static int on_object(const char *name, int64_t size, int64_t mtime_s, void *ctx)
{
    (void)mtime_s;
    matches *m = ctx;
    if (m->pattern && fnmatch(m->pattern, name, FNM_PATHNAME) != 0) return 0;
    TARN_RETURN_NOT_OK(tarn__reserve(&m->v, &m->cap, m->n + 1, sizeof *m->v));
    m->v[m->n++] = (match){strdup(name), size};
    return 0;
}

static void matches_free(matches *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].name);
    free(m->v);
}

static const char *ext_of(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strchr(base, '.'); /* data.csv.gz: ".csv.gz" */
    return dot ? dot : "";
}

/* Removes staging folders older than a day (imports killed midway). */
static void sweep_staging(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "import-", 7) != 0) continue;
        char dir[PATH_MAX * 2];
        snprintf(dir, sizeof dir, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(dir, &st) != 0 || now - st.st_mtime < 86400) continue;
        char *g = NULL;
        char *owned = strdup(dir);
        tarn__s3_source_done(&owned, &g);
    }
    closedir(d);
}

/* Lists the objects PATTERN (a key, a prefix or a glob) names into M. */
static int find_objects(matches *m, tarn_s3 *client, const char *pattern, tarn_error *err)
{
    size_t wild = strcspn(pattern, "*?[");
    if (pattern[wild]) { /* a glob: list from the part before the first wildcard */
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%.*s", (int)wild, pattern);
        m->pattern = pattern;
        return tarn__s3_list(client, prefix, 0, on_object, m, err);
    }
    size_t plen = strlen(pattern);
    if (plen == 0 || pattern[plen - 1] == '/')
        return tarn__s3_list(client, pattern, 0, on_object, m, err);
    tarn_s3_req head;
    tarn__s3_req_init(&head, "HEAD", pattern);
    tarn_error e = TARN_ERROR_INIT;
    int rc = tarn__s3_perform(client, &head, 1, &e);
    if (rc == 0) rc = on_object(pattern, head.content_length, 0, m);
    tarn__s3_req_clear(&head);
    if (rc == TARN_ENOTFOUND) { /* not an object: maybe a "folder" */
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%s/", pattern);
        rc = tarn__s3_list(client, prefix, 0, on_object, m, err);
    } else if (rc < 0) {
        tarn__error_set(err, rc, "%s", e.message);
    }
    tarn_error_clear(&e);
    return rc;
}

int tarn__s3_source_fetch(char **dir_out, char **glob_out, tarn_lake *lake, const char *url,
                          tarn_error *err)
{
    *dir_out = *glob_out = NULL;
    tarn_s3_target t;
    TARN_RETURN_NOT_OK(tarn__s3_target_resolve(&t, lake, url, err));
    const char *pattern = url + 5 + strlen(t.bucket);
    if (*pattern == '/') pattern++;
    t.prefix[0] = 0; /* requests name whole keys */
    tarn_s3 *client = NULL;
    matches m = {0};
    tarn_s3_req *reqs = NULL;
    int *fds = NULL;
    strbuf dir = {0}, glob = {0};
    int rc = tarn__s3_open(&client, &t, err);
    tarn__s3_target_clear(&t);
    if (rc == 0) rc = find_objects(&m, client, pattern, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory listing %s", url);
    if (rc == 0 && m.n == 0)
        rc = tarn__error_set(err, TARN_ENOTFOUND,
                             "no object matches '%s' (check the key, the prefix or the glob)", url);
    const char *ext = m.n ? ext_of(m.v[0].name) : "";
    for (size_t i = 1; rc == 0 && i < m.n; i++)
        if (strcmp(ext_of(m.v[i].name), ext) != 0)
            rc = tarn__error_set(
                err, TARN_EINVALID,
                "'%s' names files of different kinds ('%s' and '%s'): import each kind on its "
                "own, with a glob such as '*%s'",
                url, m.v[0].name, m.v[i].name, ext);
    if (rc == 0) {
        char root[PATH_MAX];
        snprintf(root, sizeof root, "%s/staging", tarn_lake_path(lake));
        sweep_staging(root);
        sb_printf(&dir, "%s/import-XXXXXX", root);
        if (tarn__mkdirs(root, 0755) != 0 || !mkdtemp(dir.s))
            rc = tarn__error_set(err, TARN_EIO, "cannot create a folder under '%s': %s", root,
                                 strerror(errno));
    }
    if (rc == 0) {
        reqs = calloc(m.n, sizeof *reqs);
        fds = malloc(m.n * sizeof *fds);
        if (!reqs || !fds) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    size_t opened = 0;
    for (; rc == 0 && opened < m.n; opened++) {
        char path[PATH_MAX * 2];
        const char *base = strrchr(m.v[opened].name, '/');
        snprintf(path, sizeof path, "%s/%06zu-%s", dir.s, opened,
                 base ? base + 1 : m.v[opened].name);
        fds[opened] = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fds[opened] < 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", path, strerror(errno));
            break;
        }
        tarn__s3_req_init(&reqs[opened], "GET", m.v[opened].name);
        reqs[opened].out_fd = fds[opened];
        reqs[opened].expect_size = m.v[opened].size;
    }
    if (rc == 0) rc = tarn__s3_perform(client, reqs, m.n, err);
    for (size_t i = 0; i < opened; i++) {
        close(fds[i]);
        tarn__s3_req_clear(&reqs[i]);
    }
    if (rc == 0) sb_printf(&glob, "%s/*%s", dir.s, ext);
    free(reqs);
    free(fds);
    matches_free(&m);
    tarn__s3_close(&client);
    if (rc < 0) {
        char *g = NULL;
        if (dir.s && !strstr(dir.s, "XXXXXX")) tarn__s3_source_done(&dir.s, &g);
        sb_free(&dir);
        return rc;
    }
    *dir_out = dir.s;
    *glob_out = glob.s;
    return 0;
}

void tarn__s3_source_done(char **dir, char **glob)
{
    if (*dir) {
        DIR *d = opendir(*dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char p[PATH_MAX * 2];
            snprintf(p, sizeof p, "%s/%s", *dir, de->d_name);
            unlink(p);
        }
        if (d) closedir(d);
        rmdir(*dir);
    }
    free(*dir);
    free(*glob);
    *dir = *glob = NULL;
}
