/* catalog/catalog.h — the catalog's internal model and operations, written
 * once over the backend interface (include/tarn/sys/catalog.h): content
 * addressing, trees, commits, refs, merges, leases, gc. The backends
 * (catalog/sqlite.c, ...) only store and fetch records. */
#ifndef TARN_CATALOG_H
#define TARN_CATALOG_H

#include <stdint.h>
#include <stdio.h>

#include "lake/lake.h"
#include "tarn/commit.h"
#include "tarn/ref.h"
#include "tarn/sys/catalog.h"

/* ---- backends and transactions ----------------------------------------- */

/* Opens the catalog at LOCATION: a SQLite file path or a postgresql:// URL.
 * CREATE makes an empty catalog (SQLite only creates the file). */
int tarn__catalog_open(tarn_catalog **out, const char *location, int create, tarn_error *err);
int tarn__catalog_sqlite_open(tarn_catalog **out, const char *path, int create, tarn_error *err);
/* The PostgreSQL backend (catalog/postgres.c). CREATE makes the schema the
 * URL names (TARN_EEXISTS if it holds a lakehouse already); otherwise it
 * must hold a tarn catalog, which is migrated to this tarn's schema. */
int tarn__catalog_pg_open(tarn_catalog **out, const char *url, int create, tarn_error *err);
/* Is LOCATION a database URL (rather than a SQLite file)? */
int tarn__catalog_is_url(const char *location);
/* LOCATION for messages: passwords replaced by `***`. */
void tarn__catalog_redact(char *out, size_t size, const char *location);
/* Where the catalog of the lakehouse at TARN_DIR is (malloc'd into *out):
 * TARN_CATALOG, else CONFIG_VALUE (its config's `catalog`), else its
 * catalog.db; TARN_ENOTFOUND when there is none. */
int tarn__catalog_locate(char **out, const char *tarn_dir, const char *config_value, tarn_error *err);
/* 1 if TARN_DIR is a lakehouse folder: it has a catalog.db, or a config
 * that names a catalog (or TARN_CATALOG names one). */
int tarn__catalog_found(const char *tarn_dir);
/* The lake's catalog. */
#define TARN_CAT(lake) ((lake)->catalog)

int tarn__tx_begin(tarn_lake *lake, tarn_error *err);
int tarn__tx_commit(tarn_lake *lake, tarn_error *err);
void tarn__tx_rollback(tarn_lake *lake);

/* Runs FN inside a write transaction and commits it; when the backend says
 * TARN_ERETRY (a serialisation failure, a dropped connection), runs the
 * whole of it again, a bounded number of times. FN returns 0 (commit),
 * TARN_NOTHING (roll back, report success) or a negative code (roll back,
 * fail). */
#define TARN_NOTHING 1
int tarn__tx_run(tarn_lake *lake, int (*fn)(tarn_lake *lake, void *ctx, tarn_error *err), void *ctx,
                 tarn_error *err);

void tarn__data_file_clear(tarn_data_file *f);
void tarn__commit_row_clear(tarn_commit_row *r);
void tarn__job_row_clear(tarn_job_row *j);

/* ---- data files and table versions ------------------------------------- */

int tarn__data_file_insert(tarn_lake *lake, const tarn_data_file *f, tarn_error *err);
/* Computes v->id from its content, totals from its files' records, and
 * stores it (idempotent). */
int tarn__version_store(tarn_lake *lake, tarn_version *v, tarn_error *err);
/* Loads version ID with its files. */
int tarn__version_load(tarn_version *out, tarn_lake *lake, const char *id, tarn_error *err);
void tarn__version_clear(tarn_version *v);

/* ---- trees ------------------------------------------------------------- */

typedef struct tarn_tree {
    size_t n, cap;
    tarn_tree_entry *entries; /* sorted by name */
    /* The stored tree it was loaded from (or copied from one that was), ""
     * if none: storing it again re-stores only the buckets that differ. */
    char origin[65];
} tarn_tree;

/* A tree is stored in TARN_TREE_BUCKETS subtrees by a hash of each name
 * (objects.c): part of the catalog format. */
#define TARN_TREE_BUCKETS 64
unsigned tarn__tree_bucket(const char *name);

/* The trees a catalog handle read or wrote lately (tree_cache.c). */
typedef struct tarn__tree_cache tarn__tree_cache;
/* 0 or TARN_ENOMEM. */
int tarn__tree_cache_open(tarn__tree_cache **out);
void tarn__tree_cache_close(tarn__tree_cache **tc);
/* A copy of tree ROOT into OUT, inside a transaction: 1 when kept, 0 when
 * not or outside one (OUT empty), TARN_ENOMEM. TC may be NULL. */
int tarn__tree_cache_get(tarn__tree_cache *tc, const char *root, tarn_tree *out);
/* Keeps a copy of T (sorted) as ROOT; BUCKET: each entry's bucket (NULL:
 * computed); SUB: each bucket's subtree hash ("" unknown), NULL if none is
 * known. Out of memory, it keeps nothing. */
void tarn__tree_cache_put(tarn__tree_cache *tc, const char *root, const tarn_tree *t,
                          const unsigned char *bucket, const char (*sub)[65]);
/* Into SUB[b], for each bucket b of T (entries' buckets in BUCKET) whose
 * entries are exactly those of kept tree ORIGIN: ORIGIN's subtree hash;
 * "" for every other bucket. */
void tarn__tree_cache_subtrees(tarn__tree_cache *tc, const char *origin, const tarn_tree *t,
                               const unsigned char *bucket, char sub[][65]);
/* Transactions, as tarn__tx_begin/commit/rollback see them. */
enum { TARN_TREE_CACHE_ENDED = 0, TARN_TREE_CACHE_BEGIN = 1, TARN_TREE_CACHE_COMMITTED = 2 };
void tarn__tree_cache_tx(tarn__tree_cache *tc, int state);

int tarn__tree_load(tarn_tree *out, tarn_lake *lake, const char *tree_hash, tarn_error *err);
int tarn__tree_store(char out_hash[65], tarn_lake *lake, const tarn_tree *t, tarn_error *err);
tarn_tree_entry *tarn__tree_find(const tarn_tree *t, const char *name);
/* The entry NAME, as tarn__tree_find, for callers asking for names in
 * rising tarn__name_cmp order: *AT (0 at first) is where the previous
 * search stopped, and moves forward only. */
tarn_tree_entry *tarn__tree_find_next(const tarn_tree *t, const char *name, size_t *at);
/* A copy of T into OUT (freed with tarn__tree_clear, also on failure):
 * 0 or TARN_ENOMEM. */
int tarn__tree_copy(tarn_tree *out, const tarn_tree *t);
/* Inserts or replaces NAME. */
void tarn__tree_set(tarn_tree *t, const char *name, tarn_entry_kind kind, const char *version);
/* Removes NAME; returns 1 if it was there. */
int tarn__tree_remove(tarn_tree *t, const char *name);
void tarn__tree_clear(tarn_tree *t);
/* "default.x" for "x"; copies into out (at least 260 bytes). */
void tarn__qualify_table(char *out, size_t size, const char *name);
/* The table of T whose name (without "default.") is nearest to NAME,
 * within an edit distance below *dist (updated); NULL if none is. */
const char *tarn__tree_nearest_table(const tarn_tree *t, const char *name, size_t *dist);
/* Adds the namespace of qualified TABLE ("ns.t") to T if it is missing: a
 * table's namespace comes into being with it. */
void tarn__tree_ensure_namespace(tarn_tree *t, const char *table);
/* Records data file F and points qualified TABLE in TREE at a new version
 * of SCHEMA_JSON whose parent is OLD (zeroed: none) and whose files are
 * OLD's (when APPEND) followed by F. How imports and runs write a table.
 * An append keeps OLD's schema, and F's field ids (in SCHEMA_JSON) must be
 * OLD's (TARN_ECONFLICT: the table changed meanwhile).
 * F must be an upload this process holds (tarn__upload_begin): its claim
 * is settled in the same transaction. */
int tarn__tree_put_file(tarn_lake *lake, tarn_tree *tree, const char *table, const tarn_version *old,
                        int append, const char *schema_json, const tarn_data_file *f,
                        tarn_error *err);

/* ---- commits ----------------------------------------------------------- */

int tarn__commit_load(tarn_commit_row *out, tarn_lake *lake, const char *hash, tarn_error *err);
/* Creates a commit (hash computed from its content); it inherits its
 * parents' taints. */
int tarn__commit_create(char out_hash[65], tarn_lake *lake, const char *tree_hash,
                        const char *const *parents, size_t nparents, const char *message,
                        const char *properties_json, tarn_error *err);
/* The message and properties of the commit a write makes, both malloc'd:
 * O's message (else DEFAULT_MESSAGE), O's body after a blank line; O's
 * properties (a JSON object of text values) added to TARN_PROPS (the
 * properties tarn sets, NULL: none), whose keys O may not set. Refuses
 * properties that are not such an object, naming what is wrong. */
int tarn__commit_text(char **message, char **properties, const tarn_commit_options *o,
                      const char *default_message, const char *tarn_props, tarn_error *err);
/* 1 if ANCESTOR is DESCENDANT or one of its ancestors, 0 if not, <0 error. */
int tarn__commit_is_ancestor(tarn_lake *lake, const char *ancestor, const char *descendant,
                             tarn_error *err);
/* The best common ancestor of A and B into out ("" if none): the walk goes
 * down only as far as the commits' generation numbers require. */
int tarn__merge_base(char out[65], tarn_lake *lake, const char *a, const char *b, tarn_error *err);

/* ---- refs -------------------------------------------------------------- */

/* TARN_ENOTFOUND (without touching err) if NAME is no ref. */
int tarn__ref_get(tarn_ref_row *out, tarn_lake *lake, const char *name, tarn_error *err);
/* Moves branch NAME from EXPECTED to COMMIT (compare-and-swap);
 * TARN_ECONFLICT if it no longer points at EXPECTED. Logs the move. */
int tarn__ref_cas(tarn_lake *lake, const char *name, const char *expected, const char *commit,
                  const char *reason, tarn_error *err);
int tarn__ref_insert(tarn_lake *lake, const char *name, tarn_ref_kind kind, const char *commit,
                     tarn_error *err);
/* REF for messages: the active branch's name when REF is NULL (static
 * storage in the lake, valid until the next call). */
const char *tarn__ref_display(tarn_lake *lake, const char *ref);
/* Resolves BRANCH (NULL: the active one) to an existing branch name. */
int tarn__branch_name(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *branch,
                      tarn_error *err);
/* The branch or tag whose name is nearest to NAME, within a few edits
 * (for "did you mean"); TARN_ENOTFOUND if none is. */
int tarn__ref_nearest(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *name);
/* Is REF_NAME a name tarn reserves for its own run branches? */
int tarn__ref_is_run_branch(const char *name);
/* Creates the run branch of job JOB_ID (`tarn-run/JOB_ID`, a reserved
 * name) at commit AT; its name into OUT. */
int tarn__run_branch_create(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *job_id,
                            const char *at, tarn_error *err);

/* What a failed run left behind never reaches a branch: refuses (with
 * TARN_EABORTED) COMMIT when it carries the output of a run that has not
 * succeeded, and (TARN_ENOTFOUND) when garbage collection deleted data
 * files of its tree. SOURCE_REF names how it was reached, for messages. */
int tarn__commit_check_usable(tarn_lake *lake, const char *source_ref, const char *commit,
                              tarn_error *err);

/* tarn_branch_merge; ON_MERGED (may be NULL) runs inside the merge's
 * transaction with the resulting commit, so that a run's outcome is
 * recorded with its merge, never apart from it. */
int tarn__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                       const char *into, const tarn_commit_options *commit,
                       int (*on_merged)(tarn_lake *lake, const char *commit, void *ctx, tarn_error *err),
                       void *ctx, tarn_error *err);
/* Marks branch NAME as left by a failed run (read-only, never merged). */
int tarn__branch_mark_aborted(tarn_lake *lake, const char *name, tarn_error *err);

/* ---- writing a commit on a branch --------------------------------------- */

/* Edits TREE in place. Returns 0 (commit it), TARN_NOTHING (no change) or a
 * negative code (abort with err set). */
typedef int (*tarn_tree_edit_fn)(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err);

/* In one catalog transaction: reads BRANCH's head, applies EDIT to its
 * tree, writes a commit and moves the branch. Because the edit runs on the
 * head as it is inside the transaction, concurrent writers serialise and
 * none is lost; an edit that no longer applies (create on an existing table,
 * append with another schema) fails with its own error. */
int tarn__branch_commit(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                        tarn_tree_edit_fn edit, void *ctx, const char *message,
                        const char *properties_json, tarn_error *err);

/* The same for a run's outputs: the commit carries the output of job
 * JOB_ID (a taint, in the same transaction) until the job succeeds, so
 * that nothing reaches a branch from it before, or ever if it fails. */
int tarn__branch_commit_run(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                            tarn_tree_edit_fn edit, void *ctx, const char *message,
                            const char *properties_json, const char *job_id, tarn_error *err);

/* Protected branches (catalog/protect.c), checked inside the transaction
 * that would move BRANCH: a direct write is TARN_EDENIED on any protected
 * branch; a merge into a branch protected for runs only is TARN_EDENIED
 * unless SOURCE_COMMIT is the output of a successful run whose
 * expectations all passed. */
int tarn__protect_check_write(tarn_lake *lake, const char *branch, tarn_error *err);
/* A run merging into TARGET in the merge's transaction: a branch protected
 * for runs takes it only when FAILED_EXPECTATIONS is 0, --strict or not. */
int tarn__protect_check_run(tarn_lake *lake, const char *target, int failed_expectations, tarn_error *err);
int tarn__protect_check_merge(tarn_lake *lake, const char *target, const char *source_ref,
                              const char *source_commit, tarn_error *err);

/* Loads the tree of commit HASH. */
int tarn__tree_load_commit(tarn_tree *out, tarn_lake *lake, const char *hash, tarn_error *err);
/* Resolves REF (NULL: the active branch) and loads its tree. */
int tarn__ref_tree(tarn_tree *out, tarn_commit_id *commit, tarn_lake *lake, const char *ref,
                   tarn_error *err);

/* ---- leases: what this process holds (catalog/lease.c) ------------------ */

/* This process's lease on LAKE, taken on first use and renewed by a
 * heartbeat thread until tarn_lake_close; *id (33 bytes) gets its id. */
int tarn__lease_hold(tarn_lake *lake, char id[33], tarn_error *err);
/* Fails (TARN_EABORTED) if the lease was lost (this process stalled past
 * its expiry and something reaped it): whatever it uploaded may be gone.
 * Call inside the transaction that commits the process's work. */
int tarn__lease_check(tarn_lake *lake, tarn_error *err);
/* Releases the lease (and its claims) now; tarn_lake_close does it too. */
void tarn__lease_drop(tarn_lake *lake);
/* Reaps expired leases and leases whose process is known to be gone, and
 * settles what they held: running jobs become failed and their run
 * branches aborted; their claims go. Cheap when nothing expired. */
int tarn__lease_settle(tarn_lake *lake, tarn_error *err);

/* Registers KEY as an upload in flight (visible to gc before the object is
 * written), under this process's lease. */
int tarn__upload_begin(tarn_lake *lake, const char *key, tarn_error *err);
/* The upload was not committed (failure): its claim goes; the object, if
 * any, is removed. */
void tarn__upload_abandon(tarn_lake *lake, const char *key);
/* Claims an environment id as in use by this process (env gc keeps it). */
int tarn__env_claim(tarn_lake *lake, const char *env_id, tarn_error *err);

#endif
