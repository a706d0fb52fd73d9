/* remote/tar.c — the archives a remote client uploads: a project folder
 * for a run, the files a glob matches for one import. POSIX ustar, regular
 * files only (folders follow from the names), written into a memfd. A
 * project's links are followed only when they lead to a file inside the
 * project: the server refuses links, and a link out of the folder would
 * send a file its owner did not mean to send. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote/remote.h"
#include "util/error.h"

#define BLOCK 512

static void octal(char *field, size_t width, uint64_t v)
{
    snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

/* A ustar header for NAME (split into prefix and name past 100 bytes). */
static int header(char h[BLOCK], const char *name, uint64_t size, tarn_error *err)
{
    memset(h, 0, BLOCK);
    size_t n = strlen(name);
    if (n <= 100) {
        memcpy(h, name, n);
    } else {
        const char *slash = name + n;
        while (slash > name && (*slash != '/' || (size_t)(slash - name) > 155 ||
                                n - (size_t)(slash - name) - 1 > 100))
            slash--;
        if (slash == name)
            return tarn__error_set(err, TARN_EINVALID,
                                   "the file name '%s' is too long to upload (at most 255 "
                                   "bytes, 100 after the last '/')",
                                   name);
        memcpy(h + 345, name, (size_t)(slash - name));
        memcpy(h, slash + 1, n - (size_t)(slash - name) - 1);
    }
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    return 0;
}

static int add_file(int out, const char *path, const char *name, tarn_error *err)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) {
        int rc =
            tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
        if (in >= 0) close(in);
        return rc;
    }
    char h[BLOCK];
    int rc = header(h, name, (uint64_t)st.st_size, err);
    if (rc == 0 && tarn__write_all(out, h, BLOCK) != 0) rc = -1;
    char buf[65536];
    uint64_t left = (uint64_t)st.st_size;
    while (rc == 0 && left) {
        ssize_t r = read(in, buf, left < sizeof buf ? left : sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot read '%s': %s", path,
                                 r < 0 ? strerror(errno) : "it shrank");
            break;
        }
        if (tarn__write_all(out, buf, (size_t)r) != 0) rc = -1;
        left -= (uint64_t)r;
    }
    size_t pad = (size_t)((BLOCK - st.st_size % BLOCK) % BLOCK);
    if (rc == 0 && pad && tarn__write_all(out, memset(h, 0, BLOCK), pad) != 0) rc = -1;
    close(in);
    if (rc == -1)
        rc = tarn__error_set(err, TARN_EIO, "cannot write the archive to upload: %s",
                             strerror(errno));
    return rc;
}

int tarn_remote__tar_files(int *fd, const char *const *paths, const char *const *names, size_t n,
                           tarn_error *err)
{
    *fd = memfd_create("tarn-upload", MFD_CLOEXEC);
    if (*fd < 0)
        return tarn__error_set(err, TARN_EIO, "cannot make the archive to upload: %s",
                               strerror(errno));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_file(*fd, paths[i], names[i], err);
    char end[2 * BLOCK] = {0};
    if (rc == 0 && tarn__write_all(*fd, end, sizeof end) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write the archive to upload: %s",
                             strerror(errno));
    if (rc < 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* ---- a project folder ------------------------------------------------------------- */

typedef struct walk {
    char root[PATH_MAX];
    char **paths, **names;
    size_t n, pcap, ncap;
} walk;

static int skipped(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, ".git") == 0 ||
           strcmp(name, ".tarn") == 0 || strcmp(name, "__pycache__") == 0;
}

static int add_entry(walk *w, const char *path, const char *name, tarn_error *err)
{
    if (tarn__reserve(&w->paths, &w->pcap, w->n + 1, sizeof *w->paths) < 0 ||
        tarn__reserve(&w->names, &w->ncap, w->n + 1, sizeof *w->names) < 0)
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    w->paths[w->n] = strdup(path);
    w->names[w->n] = strdup(name);
    w->n++;
    return 0;
}

static int walk_dir(walk *w, const char *dir, const char *rel, int depth, tarn_error *err)
{
    if (depth > 32)
        return tarn__error_set(err, TARN_EINVALID, "'%s' nests folders too deep to upload", dir);
    int rc = 0;
    /* Sorted names make the same folder the same archive. */
    struct dirent **list = NULL;
    int count = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < count; i++) {
        struct dirent *e = list[i];
        if (rc == 0 && !skipped(e->d_name)) {
            char path[PATH_MAX], name[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
            struct stat lst, st;
            if (lstat(path, &lst) != 0 || stat(path, &st) != 0) {
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "project file '%s' cannot be read (%s): remove it or fix it",
                                     name, strerror(errno));
            } else if (S_ISLNK(lst.st_mode)) {
                char real[PATH_MAX];
                size_t rl = strlen(w->root);
                if (!realpath(path, real) || strncmp(real, w->root, rl) != 0 || real[rl] != '/' ||
                    !S_ISREG(st.st_mode))
                    rc = tarn__error_set(
                        err, TARN_EINVALID,
                        "project file '%s' is a link that leads out of the project folder (or not "
                        "to a file): a remote run uploads only the project's own files; copy it in",
                        name);
                else
                    rc = add_entry(w, path, name, err);
            } else if (S_ISDIR(st.st_mode)) {
                rc = walk_dir(w, path, name, depth + 1, err);
            } else if (S_ISREG(st.st_mode)) {
                rc = add_entry(w, path, name, err);
            } else {
                rc = tarn__error_set(
                    err, TARN_EINVALID,
                    "project file '%s' is neither a file nor a folder: a remote run uploads files "
                    "only",
                    name);
            }
        }
        free(e);
    }
    free(list);
    if (count < 0)
        rc = tarn__error_set(err, TARN_ENOTFOUND, "cannot read the project folder '%s': %s", dir,
                             strerror(errno));
    return rc;
}

int tarn_remote__tar(int *fd, const char *dir, tarn_error *err)
{
    *fd = -1;
    walk w = {0};
    if (!realpath(dir, w.root))
        return tarn__error_set(err, TARN_ENOTFOUND, "project folder '%s' not found", dir);
    int rc = walk_dir(&w, w.root, "", 0, err);
    if (rc == 0)
        rc = tarn_remote__tar_files(fd, (const char *const *)w.paths, (const char *const *)w.names,
                                    w.n, err);
    for (size_t i = 0; i < w.n; i++) {
        free(w.paths[i]);
        free(w.names[i]);
    }
    free(w.paths);
    free(w.names);
    return rc;
}
