/* runtime/discocache.c — what a project's Python files declare, kept
 * between runs (see discocache.h).
 *
 * Discovering a project runs its Python files' top level in a confined
 * worker: about as long as a small model. Its findings depend on the
 * project's files, tarn's Python package, the interpreter and the settings
 * the discovery is given, so they are kept under a hash of all of these as
 * entry KEY.json of a cache of their own in CACHE/discover (store/cache.h:
 * the local cache folder, entries linked into place, the least recently
 * used evicted beyond KEPT_BYTES). Model files
 * are kept relative to the project folder: a project uploaded to a server
 * lands in a new folder each time and is still the same project. A top
 * level that depends on anything else (the clock, files outside the
 * project) is discovered once per key; run.discover_cache = off in
 * .tarn/config turns keeping off. The models' environments also depend on
 * the wheelhouses and the interpreter's packages: the discovery names
 * those folders ("watch"), and a kept entry whose folders changed since
 * (a wheel added, a package installed) is discovered again. */
#include "runtime/discocache.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "store/cache.h"
#include "tarn/tarn.h"
#include "util/error.h"
#include "util/util.h"

#define MAX_FILES 2000
#define MAX_BYTES (8 << 20)
#define MAX_DEPTH 8
#define KEPT_BYTES (16 << 20) /* of kept discoveries, a few KiB each */

typedef struct tree {
    char **paths; /* relative to the root */
    size_t n, cap;
    int too_big;
} tree;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file below ROOT/REL (dot names left out), into T. */
static void walk(tree *t, const char *root, const char *rel, int depth)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while (!t->too_big && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char sub[PATH_MAX], full[PATH_MAX * 2];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st, lst;
        if (lstat(full, &lst) != 0 || stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            /* a linked folder may loop: it is named, not entered */
            if (S_ISLNK(lst.st_mode) || depth >= MAX_DEPTH) {
                if (t->n == t->cap &&
                    tarn__reserve(&t->paths, &t->cap, t->n + 1, sizeof *t->paths)) {
                    t->too_big = 1;
                    break;
                }
                t->paths[t->n++] = strdup(sub);
            } else {
                walk(t, root, sub, depth + 1);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (t->n >= MAX_FILES ||
                tarn__reserve(&t->paths, &t->cap, t->n + 1, sizeof *t->paths)) {
                t->too_big = 1;
                break;
            }
            t->paths[t->n++] = strdup(sub);
        }
    }
    closedir(d);
}

/* TEXT with every DIR in it written as "<project>", onto B. */
static void append_unrooted(strbuf *b, const char *text, const char *dir)
{
    size_t dl = strlen(dir);
    const char *p = text, *hit;
    while (dl && (hit = strstr(p, dir))) {
        sb_appendn(b, p, (size_t)(hit - p));
        sb_append(b, "<project>");
        p = hit + dl;
    }
    sb_append(b, p);
}

/* Size and modification time of every file of tarn's Python package. */
static void append_package(strbuf *b, const char *pythonpath)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tarn", pythonpath ? pythonpath : "");
    tree t = {0};
    walk(&t, dir, "", MAX_DEPTH);
    if (t.n) qsort(t.paths, t.n, sizeof *t.paths, cmp_str);
    for (size_t i = 0; i < t.n; i++) {
        char full[PATH_MAX * 2];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", dir, t.paths[i]);
        if (stat(full, &st) == 0)
            sb_printf(b, "pkg %s %lld %lld.%09ld\n", t.paths[i], (long long)st.st_size,
                      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        free(t.paths[i]);
    }
    free(t.paths);
}

int tarn__discocache_key(char key[65], const char *dir, const char *python,
                         const char *const *settings, size_t nsettings)
{
    tree t = {0};
    walk(&t, dir, "", 0);
    strbuf b = {0};
    sb_printf(&b, "tarn discover 1 %s\n", TARN_VERSION);
    struct stat st;
    if (python && stat(python, &st) == 0)
        sb_printf(&b, "python %s %lld %lld\n", python, (long long)st.st_size,
                  (long long)st.st_mtim.tv_sec);
    append_package(&b, tarn__python_path());
    for (size_t i = 0; i < nsettings; i++) {
        sb_append(&b, "setting ");
        append_unrooted(&b, settings[i] ? settings[i] : "", dir);
        sb_appendn(&b, "\n", 1);
    }
    if (t.n) qsort(t.paths, t.n, sizeof *t.paths, cmp_str);
    size_t bytes = 0;
    for (size_t i = 0; i < t.n && !t.too_big; i++) {
        char full[PATH_MAX * 2];
        snprintf(full, sizeof full, "%s/%s", dir, t.paths[i]);
        char *text = NULL;
        size_t len = 0;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            sb_printf(&b, "folder %s\n", t.paths[i]);
            continue;
        }
        if (stat(full, &st) != 0 || (bytes += (size_t)st.st_size) > MAX_BYTES ||
            tarn__read_file(&text, &len, full) != 0) {
            t.too_big = 1;
            break;
        }
        sb_printf(&b, "file %s %zu\n", t.paths[i], len);
        sb_appendn(&b, text, len);
        free(text);
    }
    int ok = !t.too_big;
    if (ok) tarn__sha256_hex(key, sb_str(&b), b.len);
    for (size_t i = 0; i < t.n; i++)
        free(t.paths[i]);
    free(t.paths);
    sb_free(&b);
    return ok ? 0 : -1;
}

/* The state of the folders a discovery's environments were resolved from
 * (its "watch" list: wheelhouses, the interpreter's packages): each
 * folder's time and its wheels' names, sizes and times, hashed. */
static void watch_state(char out[65], json_t *watch)
{
    strbuf b = {0};
    size_t i;
    json_t *w;
    json_array_foreach(watch, i, w)
    {
        const char *dir = json_string_value(w);
        struct stat st;
        if (!dir || stat(dir, &st) != 0) {
            sb_printf(&b, "absent %s\n", dir ? dir : "");
            continue;
        }
        sb_printf(&b, "dir %s %lld.%09ld\n", dir, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        tree t = {0};
        walk(&t, dir, "", MAX_DEPTH); /* its own files: folders named, not entered */
        if (t.n) qsort(t.paths, t.n, sizeof *t.paths, cmp_str);
        for (size_t k = 0; k < t.n; k++) {
            char full[PATH_MAX * 2];
            snprintf(full, sizeof full, "%s/%s", dir, t.paths[k]);
            size_t len = strlen(t.paths[k]);
            if (len >= 4 && !strcmp(t.paths[k] + len - 4, ".whl") && stat(full, &st) == 0)
                sb_printf(&b, "whl %s %lld %lld.%09ld\n", t.paths[k], (long long)st.st_size,
                          (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            free(t.paths[k]);
        }
        free(t.paths);
    }
    tarn__sha256_hex(out, sb_str(&b), b.len);
    sb_free(&b);
}

int tarn__discocache_enabled(tarn_lake *lake, tarn_error *err)
{
    const char *v = tarn_lake_config(lake, "run.discover_cache");
    if (!v || !*v || !strcmp(v, "on")) return 1;
    if (!strcmp(v, "off")) return 0;
    return tarn__error_set(err, TARN_EINVALID,
                           "run.discover_cache in .tarn/config must be 'on' or 'off' (it is '%s')",
                           v);
}

/* The cache of kept discoveries, and the name of KEY's entry in it. */
static tarn_cache *open_kept(char name[80], tarn_lake *lake, const char *key)
{
    char base[PATH_MAX - 16], dir[PATH_MAX];
    tarn__cache_folder(base, sizeof base, lake);
    snprintf(dir, sizeof dir, "%s/discover", base);
    snprintf(name, 80, "%s.json", key);
    tarn_cache *c = NULL;
    tarn__cache_open(&c, dir, KEPT_BYTES, NULL);
    return c;
}

json_t *tarn__discocache_get(tarn_lake *lake, const char *key, const char *dir)
{
    char name[80], path[PATH_MAX];
    tarn_cache *c = open_kept(name, lake, key);
    json_t *doc = c && tarn__cache_get(c, name, -1, path, sizeof path, NULL) == 1
                      ? json_load_file(path, 0, NULL)
                      : NULL;
    tarn__cache_close(&c);
    json_t *models = json_object_get(doc, "models");
    if (doc && !json_is_array(models)) unlink(path); /* damaged: kept again after this discovery */
    if (!json_is_array(models)) {
        json_decref(doc);
        return NULL;
    }
    /* a wheelhouse or the interpreter's packages changed: resolve again */
    char state[65];
    watch_state(state, json_object_get(doc, "watch"));
    const char *was = json_string_value(json_object_get(doc, "watch_state"));
    if (!was || strcmp(was, state)) {
        json_decref(doc);
        return NULL;
    }
    json_object_del(doc, "watch_state");
    size_t i, k;
    json_t *m, *p;
    json_array_foreach(models, i, m)
    {
        const char *rel = json_string_value(json_object_get(m, "file"));
        if (rel && json_is_true(json_object_get(m, "file_in_project"))) {
            char full[PATH_MAX * 2];
            snprintf(full, sizeof full, "%s/%s", dir, rel);
            json_object_set_new(m, "file", json_string(full));
            json_object_del(m, "file_in_project");
        }
        /* an environment folder removed since (env gc): discover again */
        json_array_foreach(json_object_get(json_object_get(m, "env"), "paths"), k, p)
        {
            struct stat st;
            if (!json_is_string(p) || stat(json_string_value(p), &st) != 0) {
                json_decref(doc);
                return NULL;
            }
        }
    }
    return doc;
}

void tarn__discocache_put(tarn_lake *lake, const char *key, const char *dir, const json_t *doc)
{
    json_t *copy = json_deep_copy(doc);
    size_t i, dl = strlen(dir);
    json_t *m;
    json_array_foreach(json_object_get(copy, "models"), i, m)
    {
        const char *file = json_string_value(json_object_get(m, "file"));
        if (file && !strncmp(file, dir, dl) && file[dl] == '/') {
            json_object_set_new(m, "file", json_string(file + dl + 1));
            json_object_set_new(m, "file_in_project", json_true());
        }
        /* unpacked by this discovery: cached for the next */
        json_t *env = json_object_get(m, "env");
        if (json_is_object(env)) json_object_set_new(env, "cold", json_array());
    }
    char state[65];
    watch_state(state, json_object_get(copy, "watch"));
    json_object_set_new(copy, "watch_state", json_string(state));
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    char name[80], tmp[PATH_MAX], path[PATH_MAX];
    int fd = -1;
    tarn_cache *c = text ? open_kept(name, lake, key) : NULL;
    if (c && tarn__cache_tmp(c, name, &fd, tmp, sizeof tmp, NULL) == 0) {
        size_t len = strlen(text);
        int ok = tarn__write_all(fd, text, len) == 0;
        if (close(fd) != 0) ok = 0;
        if (ok && tarn__cache_put(c, name, tmp, (int64_t)len, path, sizeof path, NULL) == 0)
            tarn__cache_trim(c, NULL, NULL);
        else if (!ok)
            unlink(tmp);
    }
    tarn__cache_close(&c);
    free(text);
}
