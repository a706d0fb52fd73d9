/* catalog/catalog.h — the catalog's internal model and operations.
 *
 * SQLite tables (documented in docs/catalog.md): data_files, table_versions,
 * version_files, tree_entries, commits, commit_parents, refs, ref_log.
 * Everything but refs and ref_log is immutable and content-addressed. */
#ifndef TARN_CATALOG_H
#define TARN_CATALOG_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "lake/lake.h"
#include "tarn/commit.h"
#include "tarn/ref.h"

/* ---- the database ------------------------------------------------------ */

int tarn__catalog_open(sqlite3 **out, const char *path, int create, tarn_error *err);
/* BEGIN IMMEDIATE (waits for other writers), COMMIT, ROLLBACK. */
int tarn__tx_begin(tarn_lake *lake, tarn_error *err);
int tarn__tx_commit(tarn_lake *lake, tarn_error *err);
void tarn__tx_rollback(tarn_lake *lake);
/* Prepares SQL or fills err. */
int tarn__prepare(sqlite3_stmt **out, tarn_lake *lake, const char *sql, tarn_error *err);
/* An EIO error naming what failed and SQLite's message. */
int tarn__db_error(tarn_lake *lake, tarn_error *err, const char *what);

/* ---- data files and table versions ------------------------------------- */

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
    int64_t row_count, size_bytes;
    size_t nfiles;
    char **files; /* data file keys, in order */
} tarn_version;

int tarn__data_file_insert(tarn_lake *lake, const tarn_data_file *f, tarn_error *err);
/* Computes v->id from its content and stores it (idempotent). */
int tarn__version_store(tarn_lake *lake, tarn_version *v, tarn_error *err);
int tarn__version_load(tarn_version *out, tarn_lake *lake, const char *id, tarn_error *err);
void tarn__version_clear(tarn_version *v);

/* ---- trees ------------------------------------------------------------- */

typedef enum { TARN_ENTRY_TABLE = 0, TARN_ENTRY_NAMESPACE = 1 } tarn_entry_kind;

typedef struct tarn_tree_entry {
    char *name; /* ns.table for tables, ns for namespaces */
    tarn_entry_kind kind;
    char version[65]; /* "" for namespaces */
} tarn_tree_entry;

typedef struct tarn_tree {
    size_t n, cap;
    tarn_tree_entry *entries; /* sorted by name */
} tarn_tree;

int tarn__tree_load(tarn_tree *out, tarn_lake *lake, const char *tree_hash, tarn_error *err);
int tarn__tree_store(char out_hash[65], tarn_lake *lake, const tarn_tree *t, tarn_error *err);
tarn_tree_entry *tarn__tree_find(const tarn_tree *t, const char *name);
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
 * OLD's (when APPEND) followed by F. How imports and runs write a table. */
int tarn__tree_put_file(tarn_lake *lake, tarn_tree *tree, const char *table, const tarn_version *old,
                        int append, const char *schema_json, const tarn_data_file *f,
                        tarn_error *err);

/* ---- commits ----------------------------------------------------------- */

typedef struct tarn_commit_row {
    char hash[65];
    char tree[65];
    size_t nparents;
    char parents[2][65];
    int64_t time_us;
    int64_t generation;
} tarn_commit_row;

int tarn__commit_load(tarn_commit_row *out, tarn_lake *lake, const char *hash, tarn_error *err);
/* Creates a commit (hash computed from its content). */
int tarn__commit_create(char out_hash[65], tarn_lake *lake, const char *tree_hash,
                        const char *const *parents, size_t nparents, const char *message,
                        const char *properties_json, tarn_error *err);
/* 1 if ANCESTOR is DESCENDANT or one of its ancestors, 0 if not, <0 error. */
int tarn__commit_is_ancestor(tarn_lake *lake, const char *ancestor, const char *descendant,
                             tarn_error *err);
/* The best common ancestor of A and B into out ("" if none). */
int tarn__merge_base(char out[65], tarn_lake *lake, const char *a, const char *b, tarn_error *err);

/* ---- refs -------------------------------------------------------------- */

typedef struct tarn_ref_row {
    char commit[65];
    tarn_ref_kind kind;
    int aborted;
} tarn_ref_row;

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

/* tarn_branch_merge; CHECK_RUNS 0 lets a run merge its own commit before
 * its job is marked successful. */
int tarn__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                       const char *into, const char *message, int check_runs, tarn_error *err);
/* Marks branch NAME as left by a failed run (read-only, never merged). */
int tarn__branch_mark_aborted(tarn_lake *lake, const char *name, tarn_error *err);

/* ---- writing a commit on a branch --------------------------------------- */

/* Edits TREE in place. Returns 0 (commit it), TARN_NOTHING (no change) or a
 * negative code (abort with err set). */
#define TARN_NOTHING 1
typedef int (*tarn_tree_edit_fn)(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err);

/* In one catalog transaction: reads BRANCH's head, applies EDIT to its
 * tree, writes a commit and moves the branch. Because the edit runs on the
 * head as it is inside the transaction, concurrent writers serialise and
 * none is lost; an edit that no longer applies (create on an existing table,
 * append with another schema) fails with its own error. */
int tarn__branch_commit(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                        tarn_tree_edit_fn edit, void *ctx, const char *message,
                        const char *properties_json, tarn_error *err);

/* Loads the tree of commit HASH. */
int tarn__tree_load_commit(tarn_tree *out, tarn_lake *lake, const char *hash, tarn_error *err);
/* Resolves REF (NULL: the active branch) and loads its tree. */
int tarn__ref_tree(tarn_tree *out, tarn_commit_id *commit, tarn_lake *lake, const char *ref,
                   tarn_error *err);

#endif
