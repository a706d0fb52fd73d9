/* lake/lake.h — the inside of a tarn_lake handle (library-internal). */
#ifndef TARN_LAKE_INTERNAL_H
#define TARN_LAKE_INTERNAL_H

#include <pthread.h>

#include "lake/ops.h"
#include "tarn/lake.h"
#include "tarn/sys/catalog.h"
#include "tarn/sys/store.h"

typedef struct tarn_config_entry {
    char *key;
    char *value;
} tarn_config_entry;

/* This process's lease on the catalog (catalog/lease.c): taken on the
 * first write that needs one, renewed by a heartbeat thread on a catalog
 * connection of its own. */
typedef struct tarn_lease_state {
    pthread_mutex_t mu; /* the fields below; never held while a catalog call waits */
    /* The heartbeat connection's: taken after mu when both are held, and
     * alone by the heartbeat thread, so that a renewal waiting for the
     * catalog's write lock never blocks a commit that holds it and is
     * checking the lease (which would leave the lease to expire). */
    pthread_mutex_t conn_mu;
    pthread_cond_t wake;
    pthread_t thread;
    int running;            /* the heartbeat thread exists */
    int stop;               /* asks it to end */
    int lost;               /* a renewal found the lease reaped */
    char id[33];            /* "" until taken */
    int64_t ttl_us;
    tarn_catalog *heartbeat; /* the heartbeat's own connection */
} tarn_lease_state;

/* Limits every user query of this handle runs under (a server sets them). */
typedef struct tarn_query_limits {
    int64_t memory_bytes; /* 0: DuckDB's default */
    int threads;          /* 0: DuckDB's default */
} tarn_query_limits;

struct tarn_lake {
    const tarn_lake_ops *ops;   /* local or remote (lake/ops.h) */
    struct tarn_remote *remote; /* a remote handle's connection (src/remote/) */
    char *path;                 /* absolute path of the .tarn folder; a remote handle's URL */
    tarn_catalog *catalog;
    tarn_store *store;
    tarn_config_entry *config;
    size_t nconfig;
    char author[256];
    char display_ref[256]; /* scratch for tarn__ref_display */
    tarn_lease_state lease;
    tarn_query_limits query_limits;
    struct tarn_duck_pool *pool; /* DuckDBs kept between queries (sql/pool.c) */
    struct tarn_early_fetch *early; /* a download started before a query is parsed (store/prefetch.c) */
};

/* TARN_BRANCH, when set, into OUT: 1; 0 when unset; TARN_EINVALID when it
 * is not a branch name. Each process (or agent) may have its own. */
int tarn__lake_env_branch(char *out, size_t size, tarn_error *err);
/* TARN_EINVALID while TARN_BRANCH is set: the active branch is then the
 * variable, not what a checkout to BRANCH would keep; else 0. */
int tarn__lake_env_branch_refuse(const char *branch, tarn_error *err);
/* The root commit (empty tree) and the `main` branch on it, in one
 * transaction, in LAKE's new catalog. */
int tarn__lake_create_main(tarn_lake *lake, tarn_error *err);
/* Creates DIR/.tarn with the embedded catalog and CONFIG_TEXT as its
 * config (tarn_lake_init_opts without a shared catalog). */
int tarn__lake_init_embedded(const char *dir, const char *config_text, tarn_error *err);
/* Makes DIR/.tarn (DIR: "." when empty) with its cache and envs folders
 * (and objects when LOCAL_OBJECTS), its path into TARN_DIR; TARN_EEXISTS
 * when it already holds a lakehouse. The one start of every init. */
int tarn__lake_init_dir(char *tarn_dir, size_t size, const char *dir, int local_objects,
                        tarn_error *err);
/* The text of a new lakehouse's config file. */
const char *tarn__lake_default_config(void);

/* The commit author for this process: config user.name, $USER, "tarn". */
const char *tarn__lake_author(tarn_lake *lake);

/* The local folder store rooted at DIR (library-internal constructor). */
int tarn__store_fs_open(tarn_store **out, const char *dir, tarn_error *err);

/* The lake's object store, as its location says (store/open.c). */
int tarn__store_open(tarn_store **out, tarn_lake *lake, tarn_error *err);
/* The storage location named by TARN_STORAGE or the config; NULL for the
 * lakehouse's own `.tarn/objects/`. */
const char *tarn__store_location(const tarn_lake *lake);
/* 0 if LOCATION is a storage location this tarn can open, else
 * TARN_EINVALID with a message. */
int tarn__store_check(const char *location, tarn_error *err);

#endif
