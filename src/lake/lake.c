/* lake/lake.c — creating, finding and opening a lakehouse (`.tarn/`), its
 * plain-text config and its active branch (HEAD). */
#include "lake/lake.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "sql/pool.h"
#include "tarn/tarn.h"
#include "store/store.h"
#include "tarn/ref.h"
#include "util/error.h"
#include "util/util.h"

static const char DEFAULT_CONFIG[] =
    "# tarn lakehouse configuration: `key = value`, one per line.\n"
    "# user.name = Ada Lovelace\n"
    "# gc.grace_seconds = 3600\n";

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tarn__lake_default_config(void)
{
    return DEFAULT_CONFIG;
}

static int create_main(tarn_lake *lake, void *ctx, tarn_error *err)
{
    (void)ctx;
    char tree[65], root[65];
    tarn_tree empty = {0};
    int rc = tarn__tree_store(tree, lake, &empty, err);
    if (rc == 0) rc = tarn__commit_create(root, lake, tree, NULL, 0, "Initialize lakehouse", "{}", err);
    if (rc == 0) rc = tarn__ref_insert(lake, "main", TARN_REF_BRANCH, root, err);
    return rc;
}

int tarn__lake_create_main(tarn_lake *lake, tarn_error *err)
{
    return tarn__tx_run(lake, create_main, NULL, err);
}

int tarn_lake_init(const char *dir, tarn_error *err)
{
    return tarn_lake_init_opts(dir, NULL, err);
}

int tarn__lake_init_dir(char *tarn_dir, size_t size, const char *dir, int local_objects,
                        tarn_error *err)
{
    char abs[PATH_MAX], path[PATH_MAX + 64];
    if (!dir || !*dir) dir = ".";
    if (tarn__mkdirs(dir, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", dir, strerror(errno));
    if (!realpath(dir, abs)) return tarn__error_set(err, TARN_EIO, "cannot resolve '%s': %s", dir, strerror(errno));
    snprintf(tarn_dir, size, "%s/.tarn", abs);
    /* catalog.db, or a config naming a shared catalog */
    if (tarn__catalog_found(tarn_dir))
        return tarn__error_set(err, TARN_EEXISTS, "'%s' already holds a tarn lakehouse", abs);
    const char *subdirs[] = {"cache", "envs", local_objects ? "objects" : NULL};
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
        if (!subdirs[i]) continue;
        snprintf(path, sizeof path, "%s/%s", tarn_dir, subdirs[i]);
        if (tarn__mkdirs(path, 0755) != 0)
            return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    return 0;
}

int tarn__lake_init_embedded(const char *dir, const char *config_text, tarn_error *err)
{
    char tarn_dir[PATH_MAX + 16], path[PATH_MAX + 64];
    int rc = tarn__lake_init_dir(tarn_dir, sizeof tarn_dir, dir, 1, err);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/config", tarn_dir);
        if (access(path, F_OK) != 0 && tarn__write_file_atomic(path, config_text, strlen(config_text)) != 0)
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    if (rc < 0) return rc;

    /* The catalog is created under a temporary name and renamed last, so a
     * half-initialised folder is never mistaken for a lakehouse. */
    char tmpdb[PATH_MAX + 64];
    snprintf(tmpdb, sizeof tmpdb, "%s/catalog.db.init-%d", tarn_dir, (int)getpid());
    unlink(tmpdb);
    tarn_lake lake = {0};
    lake.ops = &tarn__local_ops;
    lake.path = tarn_dir;
    rc = tarn__catalog_open(&lake.catalog, tmpdb, 1, err);
    if (rc < 0) goto done;
    if ((rc = tarn__lake_create_main(&lake, err)) < 0) goto done;
    lake.catalog->vt->close(lake.catalog); /* checkpoints: the file is whole before it is renamed */
    lake.catalog = NULL;
    snprintf(path, sizeof path, "%s/HEAD", tarn_dir);
    if (tarn__write_file_atomic(path, "main\n", 5) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/catalog.db", tarn_dir);
    if (rename(tmpdb, path) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (lake.catalog) lake.catalog->vt->close(lake.catalog);
    if (rc < 0) {
        unlink(tmpdb);
        char side[PATH_MAX + 80];
        snprintf(side, sizeof side, "%s-wal", tmpdb);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", tmpdb);
        unlink(side);
    }
    return rc;
}

static int load_config(tarn_lake *lake, tarn_error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config", lake->path);
    char *text = NULL;
    if (tarn__read_file(&text, NULL, path) != 0) return 0; /* no config: defaults */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        if (*line == '#' || *line == 0) continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        char *k = line, *v = eq + 1;
        char *kend = eq;
        while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t')) kend--;
        *kend = 0;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r')) v[--vl] = 0;
        tarn_config_entry *grown = realloc(lake->config, (lake->nconfig + 1) * sizeof *grown);
        if (!grown) {
            free(text);
            return tarn__error_set(err, TARN_ENOMEM, "out of memory reading config");
        }
        lake->config = grown;
        lake->config[lake->nconfig].key = strdup(k);
        lake->config[lake->nconfig].value = strdup(v);
        lake->nconfig++;
    }
    free(text);
    return 0;
}

int tarn_lake_open_path(tarn_lake **out, const char *tarn_dir, tarn_error *err)
{
    *out = NULL;
    char abs[PATH_MAX];
    if (!realpath(tarn_dir, abs) || !is_dir(abs))
        return tarn__error_set(err, TARN_ENOTFOUND, "'%s' is not a tarn lakehouse folder", tarn_dir);
    tarn_lake *lake = calloc(1, sizeof *lake);
    if (!lake) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    lake->ops = &tarn__local_ops;
    lake->path = strdup(abs);
    lake->pool = tarn__pool_new();
    pthread_mutex_init(&lake->lease.mu, NULL);
    pthread_mutex_init(&lake->lease.conn_mu, NULL);
    pthread_cond_init(&lake->lease.wake, NULL);
    char *location = NULL;
    int rc = load_config(lake, err);
    if (rc == 0) rc = tarn__catalog_locate(&location, abs, tarn_lake_config(lake, "catalog"), err);
    if (rc == 0) rc = tarn__catalog_open(&lake->catalog, location, 0, err);
    if (rc == 0) rc = tarn__store_open(&lake->store, lake, err);
    free(location);
    if (rc < 0) {
        tarn_lake_close(&lake);
        return rc;
    }
    *out = lake;
    return 0;
}

int tarn_lake_open(tarn_lake **out, const char *start_dir, tarn_error *err)
{
    *out = NULL;
    /* A server named by TARN_REMOTE is the lakehouse of every call that
     * names no folder: the command line and tarn.Client() then talk to it. */
    const char *remote = getenv("TARN_REMOTE");
    if (!start_dir && remote && *remote)
        return tarn_lake_open_remote(out, remote, getenv("TARN_TOKEN"), err);
    const char *home = getenv("TARN_HOME");
    char probe[PATH_MAX + 16];
    if (home && *home) {
        /* TARN_HOME may name the .tarn folder itself or the folder holding it. */
        snprintf(probe, sizeof probe, "%s/.tarn", home);
        return tarn_lake_open_path(out, is_dir(probe) ? probe : home, err);
    }
    char dir[PATH_MAX];
    if (!realpath(start_dir ? start_dir : ".", dir)) {
        if (start_dir)
            return tarn__error_set(err, TARN_ENOTFOUND, "'%s' does not exist: no lakehouse there (%s)", start_dir,
                                   strerror(errno));
        return tarn__error_set(err, TARN_EIO, "cannot resolve the current folder: %s", strerror(errno));
    }
    for (;;) {
        snprintf(probe, sizeof probe, "%s/.tarn", dir);
        if (tarn__catalog_found(probe)) return tarn_lake_open_path(out, probe, err);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (strcmp(dir, "/") == 0) break;
            strcpy(dir, "/");
            continue;
        }
        *slash = 0;
    }
    return tarn__error_set(err, TARN_ENOTFOUND,
                           "not a tarn lakehouse (or any parent folder): run 'tarn init' or set TARN_HOME");
}

void tarn_local__close(tarn_lake *l)
{
    tarn__store_prefetch_wait(l);
    tarn__pool_free(&l->pool);
    if (l->catalog) tarn__lease_drop(l);
    pthread_mutex_destroy(&l->lease.mu);
    pthread_mutex_destroy(&l->lease.conn_mu);
    pthread_cond_destroy(&l->lease.wake);
    if (l->catalog) l->catalog->vt->close(l->catalog);
    if (l->store) l->store->vt->close(l->store);
    for (size_t i = 0; i < l->nconfig; i++) {
        free(l->config[i].key);
        free(l->config[i].value);
    }
    free(l->config);
    free(l->path);
    free(l);
}

const char *tarn_lake_path(const tarn_lake *lake)
{
    return lake->path;
}

const char *tarn_lake_config(const tarn_lake *lake, const char *key)
{
    for (size_t i = lake->nconfig; i-- > 0;)
        if (strcmp(lake->config[i].key, key) == 0) return lake->config[i].value;
    return NULL;
}

const char *tarn__lake_author(tarn_lake *lake)
{
    if (!lake->author[0]) {
        /* As GIT_AUTHOR_NAME does in git, the variable overrides the
         * config: a server runs each user's pipeline under their name. */
        const char *name = getenv("TARN_AUTHOR");
        if (!name || !*name) name = tarn_lake_config(lake, "user.name");
        if (!name || !*name) name = getenv("USER");
        struct passwd *pw = (!name || !*name) ? getpwuid(getuid()) : NULL;
        if (pw && pw->pw_name && *pw->pw_name) name = pw->pw_name;
        if (!name || !*name) name = "tarn";
        snprintf(lake->author, sizeof lake->author, "%s", name);
    }
    return lake->author;
}

int tarn__lake_env_branch(char *out, size_t size, tarn_error *err)
{
    const char *env = getenv("TARN_BRANCH");
    if (!env || !*env) return 0;
    if (tarn_name_check_ref(env, NULL) != 0)
        return tarn__error_set(err, TARN_EINVALID, "TARN_BRANCH holds an invalid branch name '%s'",
                               env);
    snprintf(out, size, "%s", env);
    return 1;
}

int tarn__lake_env_branch_refuse(const char *branch, tarn_error *err)
{
    const char *env = getenv("TARN_BRANCH");
    if (!env || !*env) return 0;
    return tarn__error_set(
        err, TARN_EINVALID,
        "TARN_BRANCH=%s sets this process's active branch: run 'export TARN_BRANCH=%s' "
        "instead (the checked-out branch is unchanged)",
        env, branch);
}

int tarn_local__lake_active_branch(char *out, size_t size, tarn_lake *lake, tarn_error *err)
{
    int rc = tarn__lake_env_branch(out, size, err);
    if (rc != 0) return rc < 0 ? rc : 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/HEAD", lake->path);
    char *text = NULL;
    if (tarn__read_file(&text, NULL, path) != 0) {
        snprintf(out, size, "main");
        return 0;
    }
    size_t n = strcspn(text, "\r\n");
    text[n] = 0;
    rc = 0;
    if (tarn_name_check_ref(text, NULL) != 0)
        rc = tarn__error_set(err, TARN_EINVALID, "HEAD holds an invalid branch name '%s'", text);
    else
        snprintf(out, size, "%s", text);
    free(text);
    return rc;
}

int tarn_local__lake_set_active_branch(tarn_lake *lake, const char *branch, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(branch, err));
    TARN_RETURN_NOT_OK(tarn__lake_env_branch_refuse(branch, err));
    tarn_ref_row row;
    int rc = tarn__ref_get(&row, lake, branch, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && row.kind != TARN_REF_BRANCH))
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "branch '%s' does not exist (use 'tarn checkout -b %s' to create it)",
                               branch, branch);
    if (rc < 0) return rc;
    char path[PATH_MAX + 16], line[TARN_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/HEAD", lake->path);
    int n = snprintf(line, sizeof line, "%s\n", branch);
    if (tarn__write_file_atomic(path, line, (size_t)n) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

int tarn_local__lake_info(char **json, tarn_lake *lake, tarn_error *err)
{
    *json = NULL;
    char branch[TARN_NAME_MAX + 1] = "";
    TARN_RETURN_NOT_OK(tarn_lake_active_branch(branch, sizeof branch, lake, err));
    char catalog[PATH_MAX + 16], objects[PATH_MAX + 16];
    snprintf(catalog, sizeof catalog, "%s/catalog.db", lake->path);
    snprintf(objects, sizeof objects, "%s/objects", lake->path);
    json_t *info = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s}}", "version", TARN_VERSION, "path",
                             lake->path, "branch", branch, "user", tarn__lake_author(lake), "catalog", "backend",
                             lake->catalog->vt->name, "location", catalog, "storage", "kind", "folder",
                             "location", objects);
    *json = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    return *json ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}
