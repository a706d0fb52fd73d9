/* store/cache.c — a local, content-addressed cache of data files.
 *
 * Data files are immutable and their keys are never reused, so an entry,
 * once stored, is never stale: it is named by a digest of the object's
 * location and key (`DIR/v1/ab/abcdef....parquet`). Many processes may
 * share one cache:
 *
 * - An entry appears whole or not at all: it is downloaded into `DIR/tmp/`
 *   and hard-linked into place (link never replaces, so two processes
 *   fetching the same file both end up reading one of the two identical
 *   copies). A process killed mid-download leaves only a temporary, which
 *   a later trim removes once it is an hour old.
 * - Every read checks the entry's size against the size the catalog
 *   recorded; an entry of another size (a disk that lost a write) is
 *   removed and fetched again.
 * - A reader holds a shared flock(2) on each entry it hands out, for as
 *   long as its cache handle lives (the duration of a command, or of a
 *   query in a long-lived process beyond a bound of held entries). Eviction
 *   takes the exclusive lock without waiting and skips entries it cannot
 *   lock, so a file is never removed from under its reader. A reader that
 *   opened a file just as it was evicted sees, once it holds the lock, that
 *   the name no longer leads to its inode, and fetches again.
 * - Least recently used goes first: an entry's mtime is its last use
 *   (touched at most once a minute), and trimming removes the oldest
 *   unlocked entries until the total is back under 90% of the bound. */
#include "store/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/util.h"

/* Entries a handle keeps locked; beyond that the oldest are let go. */
#define HELD_MAX 768

typedef struct held {
    char *name;
    int fd;
} held;

struct tarn_cache {
    char dir[PATH_MAX];
    int64_t max_bytes;
    pthread_mutex_t mu;
    held *held;
    size_t nheld, cap;
};

int tarn__cache_open(tarn_cache **out, const char *dir, int64_t max_bytes, tarn_error *err)
{
    *out = NULL;
    tarn_cache *c = calloc(1, sizeof *c);
    if (!c) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    /* Each held entry is an open descriptor: make room for many. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    *out = c;
    return 0;
}

void tarn__cache_close(tarn_cache **cp)
{
    if (!cp || !*cp) return;
    tarn_cache *c = *cp;
    for (size_t i = 0; i < c->nheld; i++) {
        close(c->held[i].fd);
        free(c->held[i].name);
    }
    free(c->held);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *cp = NULL;
}

void tarn__cache_folder(char *dir, size_t size, const tarn_lake *lake)
{
    const char *v = tarn_lake_config(lake, "cache.dir");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (v && *v) snprintf(dir, size, "%s", v);
    else if (xdg && *xdg == '/') snprintf(dir, size, "%s/tarn", xdg);
    else if (home && *home == '/') snprintf(dir, size, "%s/.cache/tarn", home);
    else snprintf(dir, size, "%s/cache", tarn_lake_path(lake));
}

const char *tarn__cache_dir(const tarn_cache *c)
{
    return c->dir;
}

static int name_ok(const char *name)
{
    if (!name || strlen(name) < 3 || strlen(name) > 200) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_' ||
              *p == '-'))
            return 0;
    return name[0] != '.';
}

static void entry_path(char *out, size_t size, const tarn_cache *c, const char *name)
{
    snprintf(out, size, "%s/v1/%.2s/%s", c->dir, name, name);
}

void tarn__cache_path(const tarn_cache *c, const char *name, char *path, size_t psize)
{
    entry_path(path, psize, c, name);
}

static void hold(tarn_cache *c, const char *name, int fd)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nheld; i++)
        if (!strcmp(c->held[i].name, name)) { /* already held: one lock is enough */
            pthread_mutex_unlock(&c->mu);
            close(fd);
            return;
        }
    if (c->nheld == HELD_MAX) {
        close(c->held[0].fd);
        free(c->held[0].name);
        memmove(c->held, c->held + 1, (c->nheld - 1) * sizeof *c->held);
        c->nheld--;
    }
    if (tarn__reserve(&c->held, &c->cap, c->nheld + 1, sizeof *c->held) == 0) {
        c->held[c->nheld].name = strdup(name);
        c->held[c->nheld].fd = fd;
        c->nheld++;
    } else {
        close(fd);
    }
    pthread_mutex_unlock(&c->mu);
}

int tarn__cache_get(tarn_cache *c, const char *name, int64_t size, char *path, size_t psize,
                    tarn_error *err)
{
    if (!name_ok(name))
        return tarn__error_set(err, TARN_EINVALID, "invalid cache entry name '%s'", name);
    entry_path(path, psize, c, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return tarn__error_set(err, TARN_EIO, "cannot open cached file '%s': %s", path,
                               strerror(errno));
    }
    struct stat fst, pst;
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
    }
    /* Evicted between open and lock: the name leads elsewhere, or nowhere. */
    if (fstat(fd, &fst) != 0 || stat(path, &pst) != 0 || fst.st_ino != pst.st_ino ||
        fst.st_dev != pst.st_dev) {
        close(fd);
        return 0;
    }
    if (size >= 0 && fst.st_size != size) {
        /* Not what the catalog recorded: never hand it out. Unlinking is
         * safe even if another reader holds it: it checks sizes too. */
        close(fd);
        unlink(path);
        return 0;
    }
    if (time(NULL) - fst.st_mtime > 60) futimens(fd, NULL); /* last used: now */
    hold(c, name, fd);
    return 1;
}

int tarn__cache_tmp(tarn_cache *c, const char *name, int *fd, char *tmp, size_t tsize,
                    tarn_error *err)
{
    *fd = -1;
    if (!name_ok(name))
        return tarn__error_set(err, TARN_EINVALID, "invalid cache entry name '%s'", name);
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/tmp", c->dir);
    if (tarn__mkdirs(dir, 0755) != 0)
        return tarn__error_set(err, TARN_EIO,
                               "cannot create the cache folder '%s': %s (set cache.dir in "
                               ".tarn/config to a writable folder)",
                               dir, strerror(errno));
    char rnd[33];
    tarn__random_hex(rnd);
    snprintf(tmp, tsize, "%s/%.64s.%d.%.8s", dir, name, (int)getpid(), rnd);
    *fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (*fd < 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    return 0;
}

int tarn__cache_put(tarn_cache *c, const char *name, const char *tmp, int64_t size, char *path,
                    size_t psize, tarn_error *err)
{
    int rc = 0;
    if (!name_ok(name)) {
        rc = tarn__error_set(err, TARN_EINVALID, "invalid cache entry name '%s'", name);
        goto done;
    }
    entry_path(path, psize, c, name);
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    if (tarn__mkdirs(dir, 0755) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "cannot create the cache folder '%s': %s", dir,
                             strerror(errno));
        goto done;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        if (link(tmp, path) != 0 && errno != EEXIST) {
            rc = tarn__error_set(err, TARN_EIO, "cannot store '%s' in the cache: %s", path,
                                 strerror(errno));
            goto done;
        }
        /* Ours or an identical copy stored by another process first; a
         * wrong-sized one is removed by get, and ours linked again. */
        rc = tarn__cache_get(c, name, size, path, psize, err);
        if (rc != 0) break;
    }
    if (rc == 0)
        rc = tarn__error_set(err, TARN_EIO, "the cache entry '%s' keeps disappearing", path);
done:
    unlink(tmp);
    return rc < 0 ? rc : 0;
}

typedef struct entry {
    char *path;
    int64_t size;
    time_t used;
} entry;

static int by_use(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->used < y->used ? -1 : x->used > y->used;
}

/* Removes temporaries nobody has written to for an hour (killed downloads). */
static void sweep_tmp(const tarn_cache *c)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/tmp", c->dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 3600) unlink(p);
    }
    closedir(d);
}

int tarn__cache_trim(tarn_cache *c, int64_t *evicted, tarn_error *err)
{
    if (evicted) *evicted = 0;
    sweep_tmp(c);
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/v1", c->dir);
    DIR *d = opendir(root);
    if (!d) return 0;
    entry *es = NULL;
    size_t n = 0, cap = 0;
    int64_t total = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char sub[PATH_MAX * 2];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        DIR *sd = opendir(sub);
        if (!sd) continue;
        struct dirent *fe;
        while ((fe = readdir(sd))) {
            if (fe->d_name[0] == '.') continue;
            char p[PATH_MAX * 3];
            snprintf(p, sizeof p, "%s/%s", sub, fe->d_name);
            struct stat st;
            if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (tarn__reserve(&es, &cap, n + 1, sizeof *es) < 0) {
                rc = tarn__error_set(err, TARN_ENOMEM, "out of memory trimming the cache");
                break;
            }
            es[n++] = (entry){strdup(p), (int64_t)st.st_size, st.st_mtime};
            total += (int64_t)st.st_size;
        }
        closedir(sd);
    }
    closedir(d);
    if (rc == 0 && total > c->max_bytes) {
        qsort(es, n, sizeof *es, by_use);
        int64_t goal = c->max_bytes - c->max_bytes / 10;
        for (size_t i = 0; i < n && total > goal; i++) {
            int fd = open(es[i].path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            struct stat fst, pst;
            /* Held by a reader (any process, this one included): keep. */
            if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &fst) == 0 &&
                stat(es[i].path, &pst) == 0 && fst.st_ino == pst.st_ino &&
                unlink(es[i].path) == 0) {
                total -= es[i].size;
                if (evicted) (*evicted)++;
            }
            close(fd);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(es[i].path);
    free(es);
    return rc;
}
