/* tarn/lake.h — a lakehouse: the handle that owns config, catalog and store.
 *
 * The embedded default is a folder `.tarn/` (config, catalog.db, objects/,
 * cache/, envs/, HEAD). Commands find it by walking up from the current
 * folder, like git; TARN_HOME names one directly. */
#ifndef TARN_LAKE_H
#define TARN_LAKE_H

#include "common.h"

typedef struct tarn_lake tarn_lake;

/* Creates DIR/.tarn with an empty catalog, a `main` branch at an empty root
 * commit, and HEAD on main. TARN_EEXISTS if DIR already holds one. */
TARN_EXTERN int tarn_lake_init(const char *dir, tarn_error *err);

/* Where a new lakehouse keeps its catalog and data (tarn_lake_init_opts). */
typedef struct tarn_init_options {
    int version;
    /* NULL: TARN_CATALOG, else the embedded SQLite catalog (.tarn/catalog.db);
     * or a postgresql:// URL (`?schema=NAME` picks the schema, default
     * `tarn`): a catalog shared by many hosts. */
    const char *catalog;
    /* NULL: TARN_STORAGE, else .tarn/objects/; "s3://bucket/prefix": an
     * S3-compatible bucket (an empty prefix); or a folder (absolute path or
     * file:///path) that every host of a shared lakehouse mounts. */
    const char *storage;
    const char *endpoint; /* S3 endpoint URL (http://127.0.0.1:9000), NULL for AWS */
    const char *region;   /* S3 region, NULL for AWS_REGION or us-east-1 */
    /* Join the lakehouse the catalog already holds instead of creating one. */
    int attach;
} tarn_init_options;
#define TARN_INIT_OPTIONS_VERSION 1
#define TARN_INIT_OPTIONS_INIT {TARN_INIT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0}

/* Creates DIR/.tarn as OPTS say (NULL: the defaults): a new catalog with a
 * `main` branch, or (attach) a folder joined to an existing shared
 * catalog; .tarn/config records where the catalog and the data are
 * (credentials never). The storage is checked first (a bucket answers and
 * its prefix holds nothing). TARN_EEXISTS if DIR already holds a lakehouse,
 * or if the catalog already holds one when creating; TARN_ENOTFOUND when
 * attaching to an empty one. */
TARN_EXTERN int tarn_lake_init_opts(const char *dir, const tarn_init_options *opts, tarn_error *err);

/* Where LAKE's catalog is (a file path or a URL, its password hidden) and
 * its data (a folder or a bucket URL), into the caller's buffers. */
TARN_EXTERN void tarn_lake_where(char *catalog, size_t catalog_size, char *storage, size_t storage_size,
                                 const tarn_lake *lake);

/* Opens the lakehouse at TARN_HOME, else the first `.tarn` found walking up
 * from START_DIR (NULL: the current folder). With START_DIR NULL and
 * TARN_REMOTE set, opens that server instead (tarn_lake_open_remote, the
 * token from TARN_TOKEN). Close with tarn_lake_close. */
TARN_EXTERN int tarn_lake_open(tarn_lake **out, const char *start_dir, tarn_error *err);

/* Opens exactly the `.tarn` folder at PATH (no discovery). */
TARN_EXTERN int tarn_lake_open_path(tarn_lake **out, const char *tarn_dir, tarn_error *err);

/* Opens the lakehouse served by `tarn serve` at URL ("http://host:port" or
 * "https://..."), authenticated by TOKEN (`tarn token create`). Every call
 * on the handle then runs on the server, with the same results, codes and
 * messages as on a local one; imports and runs upload their files. The
 * active branch is this client's own: TARN_BRANCH, else the one last set
 * with tarn_lake_set_active_branch for URL (kept under
 * $XDG_STATE_HOME/tarn/remotes/), else `main`. Nothing is sent until the
 * first call. */
TARN_EXTERN int tarn_lake_open_remote(tarn_lake **out, const char *url, const char *token,
                                      tarn_error *err);

TARN_EXTERN void tarn_lake_close(tarn_lake **lake);

/* The `.tarn` folder's absolute path (a remote lake: its URL); owned by the
 * lake. */
TARN_EXTERN const char *tarn_lake_path(const tarn_lake *lake);

/* The active branch into OUT (at least 256 bytes): TARN_BRANCH when set
 * (each process, or agent, its own), else .tarn/HEAD. */
TARN_EXTERN int tarn_lake_active_branch(char *out, size_t size, tarn_lake *lake, tarn_error *err);

/* Makes BRANCH (which must exist) the active one in .tarn/HEAD. Refused
 * while TARN_BRANCH is set: that process's active branch is the variable. */
TARN_EXTERN int tarn_lake_set_active_branch(tarn_lake *lake, const char *branch, tarn_error *err);

/* What this lakehouse is, as JSON (free with tarn_free): {"version",
 * "path", "branch", "user", "catalog": {"backend", "location"},
 * "storage": {"kind", "location"}}. Secrets never appear in it. */
TARN_EXTERN int tarn_lake_info(char **json, tarn_lake *lake, tarn_error *err);

/* A config value ("user.name", ...) or NULL; owned by the lake. */
TARN_EXTERN const char *tarn_lake_config(const tarn_lake *lake, const char *key);

#endif
