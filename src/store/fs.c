/* store/fs.c — the local folder object store (`.tarn/objects/`).
 *
 * New objects are written under `tmp/` and renamed into place, so a key
 * never names a half-written file. Keys are relative paths. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/lake.h"
#include "util/error.h"
#include "util/util.h"

typedef struct fs_store {
    tarn_store base;
    char root[PATH_MAX];
} fs_store;

static int key_ok(const char *key)
{
    return key && *key && key[0] != '/' && !strstr(key, "..");
}

static int fs_write_path(tarn_store *s, const char *key, char *out, size_t size, tarn_error *err)
{
    fs_store *fs = (fs_store *)s;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/tmp", fs->root);
    if (tarn__mkdirs(dir, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", dir, strerror(errno));
    /* Keys end in 128 random bits, so the last part names the temporary
     * uniquely and tells gc which upload it belongs to. */
    const char *base = strrchr(key, '/');
    snprintf(out, size, "%s/%s", dir, base ? base + 1 : key);
    return 0;
}

static int fs_publish(tarn_store *s, const char *key, const char *local_path, tarn_error *err)
{
    fs_store *fs = (fs_store *)s;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char dest[PATH_MAX * 2];
    snprintf(dest, sizeof dest, "%s/%s", fs->root, key);
    char *slash = strrchr(dest, '/');
    *slash = 0;
    if (tarn__mkdirs(dest, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", dest, strerror(errno));
    *slash = '/';
    /* Data must be on disk before the catalog can point at it. */
    FILE *f = fopen(local_path, "rb");
    if (f) {
        fsync(fileno(f));
        fclose(f);
    }
    if (rename(local_path, dest) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot store object '%s': %s", key, strerror(errno));
    return 0;
}

static int fs_read_url(tarn_store *s, const char *key, char *out, size_t size, tarn_error *err)
{
    fs_store *fs = (fs_store *)s;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    snprintf(out, size, "%s/%s", fs->root, key);
    return 0;
}

static int walk(fs_store *fs, const char *rel, int (*cb)(const char *, int64_t, int64_t, void *),
                void *ctx, tarn_error *err)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s%s%s", fs->root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) return 0;
        return tarn__error_set(err, TARN_EIO, "cannot list '%s': %s", path, strerror(errno));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        char full[PATH_MAX * 2];
        snprintf(full, sizeof full, "%s/%s", fs->root, child);
        struct stat st;
        if (lstat(full, &st) != 0) continue; /* removed meanwhile */
        if (S_ISDIR(st.st_mode))
            rc = walk(fs, child, cb, ctx, err);
        else if (S_ISREG(st.st_mode))
            rc = cb(child, (int64_t)st.st_size, (int64_t)st.st_mtime, ctx);
    }
    closedir(d);
    return rc;
}

static int fs_list(tarn_store *s, int (*cb)(const char *, int64_t, int64_t, void *), void *ctx,
                   tarn_error *err)
{
    return walk((fs_store *)s, "", cb, ctx, err);
}

static int fs_remove(tarn_store *s, const char *key, tarn_error *err)
{
    fs_store *fs = (fs_store *)s;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fs->root, key);
    if (unlink(path) != 0 && errno != ENOENT)
        return tarn__error_set(err, TARN_EIO, "cannot delete '%s': %s", path, strerror(errno));
    return 0;
}

static int fs_stat(tarn_store *s, const char *key, int64_t *size, tarn_error *err)
{
    fs_store *fs = (fs_store *)s;
    if (!key_ok(key)) return tarn__error_set(err, TARN_EINVALID, "invalid object key '%s'", key);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fs->root, key);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return TARN_ENOTFOUND;
        return tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", path, strerror(errno));
    }
    *size = (int64_t)st.st_size;
    return 0;
}

static void fs_close(tarn_store *s)
{
    free(s);
}

static const tarn_store_vtable FS_VTABLE = {
    .version = TARN_STORE_VTABLE_VERSION,
    .write_path = fs_write_path,
    .publish = fs_publish,
    .read_url = fs_read_url,
    .local_path = fs_read_url, /* the folder is local: the same path */
    .list = fs_list,
    .remove = fs_remove,
    .stat = fs_stat,
    .close = fs_close,
};

int tarn__store_fs_open(tarn_store **out, const char *dir, tarn_error *err)
{
    *out = NULL;
    if (tarn__mkdirs(dir, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", dir, strerror(errno));
    fs_store *fs = calloc(1, sizeof *fs);
    if (!fs) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    fs->base.vt = &FS_VTABLE;
    snprintf(fs->root, sizeof fs->root, "%s", dir);
    *out = &fs->base;
    return 0;
}
