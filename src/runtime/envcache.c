/* runtime/envcache.c — `tarn env ls | gc`: the package cache behind
 * assembled environments (.tarn/envs/).
 *
 * tarn.envs (Python) writes it: pkgs/<name>-<version>-<hash>/ holds one
 * unpacked wheel (read-only), envs/<id>.json one assembled environment
 * (its entries and when a run last used it). Collecting removes the
 * environments no run used within the keep period, then every package entry
 * no remaining environment lists and that was not used within it either. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lake/ops.h"
#include "runtime/runtime.h"
#include "util/error.h"

/* Bytes of the files under PATH (nftw has no context pointer, and the
 * library keeps no global state: walk by hand). */
static int64_t dir_size(const char *path)
{
    int64_t total = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char child[PATH_MAX];
        if (snprintf(child, sizeof child, "%s/%s", path, de->d_name) >= (int)sizeof child) continue;
        struct stat st;
        if (lstat(child, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) total += dir_size(child);
        else if (S_ISREG(st.st_mode)) total += st.st_size;
    }
    if (d) closedir(d);
    return total;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st, (void)f;
    if (type == FTW_DP) {
        chmod(path, 0755);
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    }
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Cache entries are read-only: make them writable on the way down, then
 * remove depth-first. */
static int make_writable(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type == FTW_D) chmod(path, (st->st_mode & 07777) | 0700);
    return 0;
}

static int rm_tree(const char *path)
{
    nftw(path, make_writable, 16, FTW_PHYS);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t last_used(const char *dir)
{
    char marker[PATH_MAX + 32];
    struct stat st;
    snprintf(marker, sizeof marker, "%s/.tarn-used", dir);
    if (stat(marker, &st) == 0) return (int64_t)st.st_mtime;
    return stat(dir, &st) == 0 ? (int64_t)st.st_mtime : 0;
}

/* {"packages": [...], "environments": [...]} as read from the cache. */
static json_t *read_cache(tarn_lake *lake)
{
    json_t *out = json_pack("{s:[],s:[]}", "packages", "environments");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/envs/pkgs", tarn_lake_path(lake));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* . .. and half-unpacked .tmp-* */
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_array_append_new(json_object_get(out, "packages"),
                              json_pack("{s:s,s:s,s:I,s:I}", "name", de->d_name, "path", path,
                                        "size_bytes", (json_int_t)dir_size(path), "last_used",
                                        (json_int_t)last_used(path)));
    }
    if (d) closedir(d);
    snprintf(dir, sizeof dir, "%s/envs/envs", tarn_lake_path(lake));
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json")) continue;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_t *env = json_load_file(path, 0, NULL);
        if (!env) continue;
        json_object_set_new(env, "file", json_string(path));
        json_array_append_new(json_object_get(out, "environments"), env);
    }
    if (d) closedir(d);
    return out;
}

int tarn_local__env_list(char **json, tarn_lake *lake, tarn_error *err)
{
    (void)err;
    json_t *cache = read_cache(lake);
    *json = json_dumps(cache, JSON_COMPACT);
    json_decref(cache);
    return 0;
}

static int add_claimed(const char *env_id, void *ctx)
{
    json_object_set_new(ctx, env_id, json_true());
    return 0;
}

int tarn_local__env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run,
                       tarn_error *err)
{
    *json = NULL;
    if (keep_seconds < 0) return tarn__error_set(err, TARN_EINVALID, "the keep period cannot be negative");
    /* What a running pipeline uses is claimed under its lease (the lease
     * rule of gc). A run claims its environments right after planning
     * them; environments used within one lease period are kept too, so the
     * moment between the two is covered whatever KEEP_SECONDS says. */
    TARN_RETURN_NOT_OK(tarn__lease_settle(lake, err));
    json_t *claimed = json_object();
    int rc = TARN_CAT(lake)->vt->claim_list(TARN_CAT(lake), "env", add_claimed, claimed, err);
    if (rc < 0) {
        json_decref(claimed);
        return rc;
    }
    const char *ttl = tarn_lake_config(lake, "lease.ttl_seconds");
    int64_t floor_s = ttl && atoll(ttl) > 0 ? atoll(ttl) : 60;
    if (keep_seconds < floor_s) keep_seconds = floor_s;
    int64_t cutoff = (int64_t)time(NULL) - keep_seconds;
    json_t *cache = read_cache(lake);
    json_t *kept_paths = json_object(), *removed_envs = json_array(), *removed_pkgs = json_array();
    int64_t bytes = 0;
    size_t i;
    json_t *env;
    json_array_foreach(json_object_get(cache, "environments"), i, env)
    {
        json_int_t used = json_integer_value(json_object_get(env, "last_used"));
        const char *id = json_string_value(json_object_get(env, "id"));
        if (used >= cutoff || (id && json_object_get(claimed, id))) {
            size_t k;
            json_t *p;
            json_array_foreach(json_object_get(env, "paths"), k, p)
                json_object_set_new(kept_paths, json_string_value(p), json_true());
            continue;
        }
        json_array_append(removed_envs, json_object_get(env, "id"));
        if (!dry_run) unlink(json_string_value(json_object_get(env, "file")));
    }
    /* Half-unpacked folders a killed writer left behind (a live writer
     * renames its folder within seconds). */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/envs/pkgs", tarn_lake_path(lake));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0) continue;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (last_used(path) >= (int64_t)time(NULL) - 3600) continue;
        if (!dry_run) rm_tree(path);
    }
    if (d) closedir(d);
    json_t *pkg;
    json_array_foreach(json_object_get(cache, "packages"), i, pkg)
    {
        const char *path = json_string_value(json_object_get(pkg, "path"));
        if (json_object_get(kept_paths, path)) continue;
        if (json_integer_value(json_object_get(pkg, "last_used")) >= cutoff) continue;
        json_array_append(removed_pkgs, json_object_get(pkg, "name"));
        bytes += json_integer_value(json_object_get(pkg, "size_bytes"));
        if (!dry_run && rm_tree(path) != 0) {
            json_decref(cache), json_decref(kept_paths), json_decref(removed_envs), json_decref(removed_pkgs);
            json_decref(claimed);
            return tarn__error_set(err, TARN_EIO, "cannot remove '%s': %s", path, strerror(errno));
        }
    }
    json_t *out = json_pack("{s:o,s:o,s:I,s:b}", "environments", removed_envs, "packages", removed_pkgs,
                            "bytes", (json_int_t)bytes, "dry_run", dry_run);
    *json = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    json_decref(cache);
    json_decref(kept_paths);
    json_decref(claimed);
    return 0;
}
