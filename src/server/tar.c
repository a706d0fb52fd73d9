/* server/tar.c — unpacking a project archive a client uploaded (POSIX
 * ustar, as `tar` and Python's tarfile write it): regular files and
 * folders only. Names are checked before anything is written: no absolute
 * name, no `..`, no link of any kind, no device, bounded count and size;
 * files are created with O_NOFOLLOW|O_EXCL under folders this code made,
 * so nothing can land outside the target folder. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include "server/server.h"

static int bad(tarn_error *err, const char *name, const char *why)
{
    if (err) {
        err->code = TARN_EINVALID;
        snprintf(err->message, sizeof err->message, "the project archive is refused: entry '%.200s' %s", name, why);
    }
    return TARN_EINVALID;
}

static int64_t octal(const char *p, size_t n)
{
    int64_t v = 0;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == 0)) i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) v = v * 8 + (p[i] - '0');
    return v;
}

/* NAME is relative, has no empty, "." or ".." part, and only printable
 * characters. */
static int name_ok(const char *name)
{
    if (!*name || name[0] == '/') return 0;
    const char *p = name;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 && p[n] == '/') return 0;
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += n;
        if (*p == '/') p++;
    }
    for (p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') return 0;
    return 1;
}

/* Makes every folder of REL under DIR (REL's last part excluded unless
 * ALL); refuses to pass through anything that is not a real folder. */
static int make_dirs(const char *dir, const char *rel, int all)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    size_t base = strlen(dir) + 1;
    for (char *p = path + base;; p++) {
        int end = *p == 0;
        if (*p != '/' && !end) continue;
        if (end && !all) break;
        char c = *p;
        *p = 0;
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) return -1;
        } else if (mkdir(path, 0755) != 0) {
            return -1;
        }
        *p = c;
        if (end) break;
    }
    return 0;
}

int srv_tar_extract(const char *archive, const char *dir, size_t max_files, int64_t max_bytes, tarn_error *err)
{
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bad(err, "(archive)", "cannot be read");
    FILE *f = fdopen(fd, "rb");
    unsigned char h[512];
    size_t files = 0;
    int64_t total = 0;
    int rc = 0, zeros = 0;
    char longname[4096] = "";
    while (rc == 0) {
        if (fread(h, 1, 512, f) != 512) {
            rc = zeros ? 0 : bad(err, "(archive)", "ends in the middle (not a whole tar file)");
            break;
        }
        int empty = 1;
        for (int i = 0; i < 512 && empty; i++) empty = h[i] == 0;
        if (empty) {
            if (++zeros == 2) break;
            continue;
        }
        zeros = 0;
        unsigned sum = 0;
        for (int i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
        if ((int64_t)sum != octal((char *)h + 148, 8)) {
            rc = bad(err, "(archive)", "has a damaged header (not a tar file?)");
            break;
        }
        char name[4096];
        char type = (char)h[156];
        int64_t size = octal((char *)h + 124, 12);
        if (longname[0]) {
            snprintf(name, sizeof name, "%s", longname);
            longname[0] = 0;
        } else if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
            snprintf(name, sizeof name, "%.155s/%.100s", (char *)h + 345, (char *)h);
        } else {
            snprintf(name, sizeof name, "%.100s", (char *)h);
        }
        size_t nl = strlen(name);
        while (nl > 1 && name[nl - 1] == '/') name[--nl] = 0;
        if (size < 0 || size > max_bytes) {
            rc = bad(err, name, "is larger than the server takes");
            break;
        }
        int64_t padded = (size + 511) / 512 * 512;
        if (type == 'L') { /* GNU long name: the next entry's name */
            if (size >= (int64_t)sizeof longname) {
                rc = bad(err, "(long name)", "is too long");
                break;
            }
            if (fread(longname, 1, (size_t)padded, f) != (size_t)padded) {
                rc = bad(err, "(long name)", "ends early");
                break;
            }
            longname[size] = 0;
            continue;
        }
        if (type == 'x' || type == 'g') { /* pax headers: attributes tarn does not need */
            if (fseeko(f, padded, SEEK_CUR) != 0) rc = bad(err, name, "ends early");
            continue;
        }
        if (strcmp(name, ".") == 0 && type == '5') continue;
        if (strncmp(name, "./", 2) == 0) memmove(name, name + 2, strlen(name + 2) + 1);
        if (!name_ok(name)) {
            rc = bad(err, name, "has an absolute name or a '..' part: names stay inside the project");
            break;
        }
        if (type == '1' || type == '2') {
            rc = bad(err, name, "is a link: a project holds only files and folders");
            break;
        }
        if (type == '5') {
            if (make_dirs(dir, name, 1) != 0) rc = bad(err, name, "cannot be made a folder");
            continue;
        }
        if (type != '0' && type != 0 && type != '7') {
            rc = bad(err, name, "is not a file or a folder (device, fifo, ...)");
            break;
        }
        if (++files > max_files) {
            rc = bad(err, name, "is one file too many for a project");
            break;
        }
        total += size;
        if (total > max_bytes) {
            rc = bad(err, name, "takes the project past the size the server takes");
            break;
        }
        if (make_dirs(dir, name, 0) != 0) {
            rc = bad(err, name, "has a folder that cannot be made");
            break;
        }
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (out < 0) {
            rc = bad(err, name, "cannot be written (twice in the archive?)");
            break;
        }
        char buf[65536];
        int64_t left = padded;
        while (left > 0 && rc == 0) {
            size_t want = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
            if (fread(buf, 1, want, f) != want) {
                rc = bad(err, name, "ends early");
                break;
            }
            int64_t data = size - (padded - left);
            size_t keep = data <= 0 ? 0 : data < (int64_t)want ? (size_t)data : want;
            if (keep && write(out, buf, keep) != (ssize_t)keep) rc = bad(err, name, "cannot be written");
            left -= (int64_t)want;
        }
        close(out);
    }
    fclose(f);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : 0;
}

void srv_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
