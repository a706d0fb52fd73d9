/* tarn/sys/catalog.h — the catalog backend extension point (versioned
 * vtable), in the manner of libgit2's odb and refdb backends.
 *
 * A backend stores the catalog's records and nothing else; it never
 * decides what they mean. Every SQL statement of the catalog lives behind
 * this interface; no other module knows which backend is in use.
 *
 * - Immutable, content-addressed records (data files, table versions,
 *   subtrees, trees, commits) are inserted if absent and read by id.
 * - Refs move only by compare-and-swap; every creation, move and deletion
 *   is logged with a time that is monotonic per ref.
 * - Jobs (every run), leases (a writer's heartbeat with an expiry),
 *   claims (what a live lease protects: uploads in flight, environments in
 *   use), taints (commits carrying a run's unfinished or failed output) and
 *   tombstones (data files garbage collection deleted).
 *
 * Calls that change something must run inside begin()/commit(), except
 * those marked "own transaction". Reads may run inside or outside one.
 * Strings in rows returned to the caller are malloc'd and freed by the
 * caller (the *_clear helpers of src/catalog/catalog.h); strings passed in
 * are borrowed for the duration of the call. Every call returns 0 or a
 * negative tarn_code and fills err (NULL allowed) on failure. */
#ifndef TARN_SYS_CATALOG_H
#define TARN_SYS_CATALOG_H

#include "../common.h"

#define TARN_CATALOG_VTABLE_VERSION 3

typedef struct tarn_catalog tarn_catalog;

/* ---- rows -------------------------------------------------------------- */

typedef struct tarn_data_file {
    char *key; /* object store key */
    int64_t row_count;
    int64_t size_bytes;
    char *stats_json; /* {"col": {"min":..,"max":..,"nulls":n}} */
} tarn_data_file;

typedef struct tarn_version {
    char id[65];
    char *schema_json; /* [{"name":..,"type":..}, ...] */
    char parent[65];   /* "" for the first version */
    int64_t row_count, size_bytes, file_count;
    size_t nfiles;
    char **files; /* data file keys, in order (only when asked for) */
} tarn_version;

typedef enum { TARN_ENTRY_TABLE = 0, TARN_ENTRY_NAMESPACE = 1 } tarn_entry_kind;

typedef struct tarn_tree_entry {
    char *name; /* ns.table for tables, ns for namespaces */
    tarn_entry_kind kind;
    char version[65]; /* "" for namespaces */
} tarn_tree_entry;

typedef struct tarn_commit_row {
    char hash[65];
    char tree[65];
    size_t nparents;
    char parents[2][65];
    int64_t time_us;
    int64_t generation; /* 1 + the largest parent generation */
    /* Only when asked for (with_text): */
    char *author;
    char *message;
    char *properties_json;
} tarn_commit_row;

typedef struct tarn_ref_row {
    char name[256];
    char commit[65];
    int kind; /* tarn_ref_kind: 0 branch, 1 tag */
    int aborted;
    int64_t updated_us; /* created or last moved */
} tarn_ref_row;

typedef struct tarn_job_row {
    char id[65];
    char status[16]; /* running, success, failed */
    char branch[256];
    int64_t started_us;
    int64_t ended_us; /* 0 while running */
    char commit[65];  /* "" unless it succeeded */
    char input_commit[65];
    char project_hash[65];
    char lease[33]; /* the lease of the process running it */
    /* Only when asked for (with_text); NULL when absent: */
    char *project_json;
    char *params_json;
    char *report_json;
    char *logs; /* a bounded tail of the job's log */
} tarn_job_row;

typedef struct tarn_lease_row {
    char id[33];
    char *holder_json; /* who holds it: host, boot id, pid namespace, pid */
    int64_t expires_us;
    int dead; /* reaped: it can never be renewed again */
} tarn_lease_row;

/* An access token (tarn/auth.h): only the SHA-256 of the secret is kept. */
typedef struct tarn_token_row {
    char id[33];     /* public part of the token, shown in lists */
    char hash[65];   /* SHA-256 (hex) of the whole token */
    char user[256];  /* commits made with it are authored by this name */
    char read[1024]; /* ref patterns, comma-separated ("*", "main,dev.*") */
    char write[1024];
    int admin;
    int64_t created_us;
    int64_t expires_us; /* 0: never */
    int64_t revoked_us; /* 0: live */
} tarn_token_row;

/* ---- the backend ------------------------------------------------------- */

typedef struct tarn_catalog_vtable {
    int version;
    const char *name; /* "sqlite", "postgresql" */

    /* Transactions. begin() starts a write transaction; writers that
     * touch the same ref serialise (the ref is locked by ref_get with
     * LOCK). commit() may return TARN_ERETRY: nothing was written, run
     * the whole transaction again. */
    int (*begin)(tarn_catalog *c, tarn_error *err);
    int (*commit)(tarn_catalog *c, tarn_error *err);
    void (*rollback)(tarn_catalog *c);

    /* Immutable records, inserted if absent. */
    int (*file_put)(tarn_catalog *c, const tarn_data_file *f, tarn_error *err);
    /* Fills OUT[0..N) for KEYS[0..N); TARN_ENOTFOUND if any is missing. */
    int (*file_get)(tarn_catalog *c, const char *const *keys, size_t n, tarn_data_file *out,
                    tarn_error *err);
    int (*version_put)(tarn_catalog *c, const tarn_version *v, tarn_error *err);
    /* TARN_ENOTFOUND if absent; files only WITH_FILES. */
    int (*version_get)(tarn_catalog *c, const char *id, tarn_version *out, int with_files,
                       tarn_error *err);
    int (*subtree_put)(tarn_catalog *c, const char *hash, const tarn_tree_entry *const *entries,
                       size_t n, tarn_error *err);
    int (*tree_put)(tarn_catalog *c, const char *hash, const unsigned *buckets,
                    const char *const *subtrees, size_t n, tarn_error *err);
    /* Every entry of tree ROOT (both levels), in no particular order. */
    int (*tree_get)(tarn_catalog *c, const char *root,
                    int (*cb)(const tarn_tree_entry *e, void *ctx), void *ctx, tarn_error *err);
    /* R with its text and parents. */
    int (*commit_put)(tarn_catalog *c, const tarn_commit_row *r, tarn_error *err);
    int (*commit_get)(tarn_catalog *c, const char *hash, tarn_commit_row *out, int with_text,
                      tarn_error *err);
    /* Up to two commits whose hash starts with PREFIX. */
    int (*commit_prefix)(tarn_catalog *c, const char *prefix, char out[2][65], size_t *n,
                         tarn_error *err);
    /* START and each of its ancestors whose generation is at least
     * MIN_GENERATION, each once, in no particular order: one round trip. */
    int (*commit_walk)(tarn_catalog *c, const char *start, int64_t min_generation, int with_text,
                       int (*cb)(const tarn_commit_row *r, void *ctx), void *ctx, tarn_error *err);

    /* Refs. ref_get: TARN_ENOTFOUND (err untouched) if absent; LOCK holds
     * the ref until the transaction ends. ref_insert: TARN_EEXISTS.
     * ref_cas: TARN_ECONFLICT if NAME is not at EXPECTED. Every change is
     * logged with REASON. */
    int (*ref_get)(tarn_catalog *c, const char *name, tarn_ref_row *out, int lock,
                   tarn_error *err);
    int (*ref_list)(tarn_catalog *c, int kind, int (*cb)(const tarn_ref_row *r, void *ctx),
                    void *ctx, tarn_error *err);
    int (*ref_insert)(tarn_catalog *c, const char *name, int kind, const char *commit,
                      const char *reason, tarn_error *err);
    int (*ref_cas)(tarn_catalog *c, const char *name, const char *expected, const char *commit,
                   const char *reason, tarn_error *err);
    int (*ref_delete)(tarn_catalog *c, const char *name, int kind, const char *reason,
                      tarn_error *err);
    int (*ref_set_aborted)(tarn_catalog *c, const char *name, tarn_error *err);
    /* Where NAME pointed at T (its newest log entry at or before T): OUT is
     * "" if it was deleted by then; TARN_ENOTFOUND if it did not exist yet. */
    int (*reflog_at)(tarn_catalog *c, const char *name, int64_t t, char out[65], tarn_error *err);
    /* Every commit a ref log entry newer than SINCE_US points at (kept by
     * gc for the grace period), and the log's newest entry id in *LAST. */
    int (*reflog_recent)(tarn_catalog *c, int64_t since_us, int (*cb)(const char *commit, void *ctx),
                         void *ctx, int64_t *last, tarn_error *err);

    /* Taints: commits that carry the output of a run that has not
     * succeeded. A commit inherits its parents' taints when created. */
    int (*taint_add)(tarn_catalog *c, const char *commit, const char *job_id, tarn_error *err);
    int (*taint_inherit)(tarn_catalog *c, const char *commit, const char *const *parents,
                         size_t n, tarn_error *err);
    /* A job whose output COMMIT carries into *job_id; TARN_ENOTFOUND if clean. */
    int (*taint_get)(tarn_catalog *c, const char *commit, char job_id[65], tarn_error *err);
    int (*taint_clear)(tarn_catalog *c, const char *job_id, tarn_error *err);

    /* Jobs. job_get takes an id or a unique prefix (TARN_EAMBIGUOUS). */
    int (*job_put)(tarn_catalog *c, const tarn_job_row *j, tarn_error *err);
    /* Updates status, ended_us, commit, report_json and logs of J->id. */
    int (*job_update)(tarn_catalog *c, const tarn_job_row *j, tarn_error *err);
    int (*job_get)(tarn_catalog *c, const char *id, tarn_job_row *out, int with_text,
                   tarn_error *err);
    /* Newest first, at most LIMIT (0: all); RUNNING_ONLY lists running jobs. */
    int (*job_list)(tarn_catalog *c, size_t limit, int running_only,
                    int (*cb)(const tarn_job_row *j, void *ctx), void *ctx, tarn_error *err);

    /* Leases, each call in its own transaction. The backend's clock
     * decides expiry (one clock for every host of a shared catalog).
     * lease_renew: TARN_ENOTFOUND once the lease is dead or expired (it
     * is never revived). lease_release drops the lease and its claims.
     * lease_reap marks every expired lease dead, then lists the dead. */
    int (*lease_create)(tarn_catalog *c, const char *holder_json, int64_t ttl_us, char out[33],
                        tarn_error *err);
    int (*lease_renew)(tarn_catalog *c, const char *id, int64_t ttl_us, tarn_error *err);
    int (*lease_release)(tarn_catalog *c, const char *id, tarn_error *err);
    int (*lease_kill)(tarn_catalog *c, const char *id, tarn_error *err);
    int (*lease_reap)(tarn_catalog *c, int (*cb)(const tarn_lease_row *l, void *ctx), void *ctx,
                      tarn_error *err);
    /* Live (not dead, not expired) inside the caller's transaction? 1/0. */
    int (*lease_alive)(tarn_catalog *c, const char *id, tarn_error *err);
    /* Every live lease (for settling jobs of vanished processes). */
    int (*lease_list)(tarn_catalog *c, int (*cb)(const tarn_lease_row *l, void *ctx), void *ctx,
                      tarn_error *err);

    /* Claims: KIND ("upload", "env") + KEY protected by LEASE while it
     * lives. claim_add runs in its own transaction, so it is visible to
     * gc before the upload starts. claim_drop may run inside a commit. */
    int (*claim_add)(tarn_catalog *c, const char *lease, const char *kind, const char *key,
                     tarn_error *err);
    int (*claim_drop)(tarn_catalog *c, const char *lease, const char *kind, const char *key,
                      tarn_error *err);
    /* Every key of KIND claimed by a lease that is not dead. */
    int (*claim_list)(tarn_catalog *c, const char *kind, int (*cb)(const char *key, void *ctx),
                      void *ctx, tarn_error *err);

    /* Garbage collection. live_files: every data file of a table version in
     * the tree of a commit reachable from COMMITS[0..N) (refs and recent
     * log entries), each once. tombstone_put records that KEY is deleted
     * (in the caller's transaction); tombstone_any: 1 if any data file of
     * tree ROOT (or of version VERSION, when ROOT is NULL) is tombstoned. */
    int (*live_files)(tarn_catalog *c, const char *const *commits, size_t n,
                      int (*cb)(const char *key, void *ctx), void *ctx, tarn_error *err);
    int (*tombstone_put)(tarn_catalog *c, const char *key, tarn_error *err);
    int (*tombstone_any)(tarn_catalog *c, const char *root, const char *version, char key_out[1024],
                         tarn_error *err);

    /* Copying a catalog to another backend and comparing two (version 2).
     * rows_export: every row of TABLE, COLUMNS (comma-separated) as text
     * (NULL for SQL NULL), ordered by ORDER (a column list; byte order for
     * text). rows_import: N rows of TABLE's COLUMNS, row-major in VALUES,
     * inserted as they are, in the caller's transaction. TABLE, COLUMNS
     * and ORDER come from the library's list of catalog tables. */
    int (*rows_export)(tarn_catalog *c, const char *table, const char *columns, const char *order,
                       int (*cb)(const char *const *values, void *ctx), void *ctx, tarn_error *err);
    int (*rows_import)(tarn_catalog *c, const char *table, const char *columns, size_t n,
                       const char *const *values, tarn_error *err);

    /* A new, independent connection to the same catalog (for a heartbeat
     * thread, which must not share the caller's transactions). */
    int (*clone)(tarn_catalog **out, tarn_catalog *c, tarn_error *err);
    void (*close)(tarn_catalog *c);

    /* Version 3: tokens and protected branches, each call in its own
     * transaction (or the caller's). token_put: TARN_EEXISTS if the id is
     * taken. token_get: TARN_ENOTFOUND (err untouched) if absent.
     * token_list: every token, revoked ones too, oldest first.
     * token_revoke: sets revoked_us once; TARN_ENOTFOUND if absent. */
    int (*token_put)(tarn_catalog *c, const tarn_token_row *t, tarn_error *err);
    int (*token_get)(tarn_catalog *c, const char *id, tarn_token_row *out, tarn_error *err);
    int (*token_list)(tarn_catalog *c, int (*cb)(const tarn_token_row *t, void *ctx), void *ctx,
                      tarn_error *err);
    int (*token_revoke)(tarn_catalog *c, const char *id, int64_t at_us, tarn_error *err);
    /* Protection of BRANCH (tarn_protect_mode; 0: none, which removes it).
     * protect_get sets *mode to 0 for an unprotected branch. */
    int (*protect_set)(tarn_catalog *c, const char *branch, int mode, tarn_error *err);
    int (*protect_get)(tarn_catalog *c, const char *branch, int *mode, tarn_error *err);
    int (*protect_list)(tarn_catalog *c, int (*cb)(const char *branch, int mode, void *ctx),
                        void *ctx, tarn_error *err);
} tarn_catalog_vtable;

struct tarn_catalog {
    const tarn_catalog_vtable *vt;
    /* The library's cache of trees (src/catalog/tree_cache.c): a backend
     * makes it when it opens (tarn__tree_cache_open) and frees it when it
     * closes (tarn__tree_cache_close); it never reads it. */
    struct tarn__tree_cache *trees;
};

#endif
