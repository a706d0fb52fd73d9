/* tarn/ref.h — branches, tags and ref expressions.
 *
 * A ref expression is a branch or tag name, a commit hash or a unique prefix
 * of at least 7 hex digits, `REF~N` (the N-th first-parent ancestor) or
 * `REF@{2026-11-26T10:00:00Z}` (where REF pointed at that instant). */
#ifndef TARN_REF_H
#define TARN_REF_H

#include "common.h"
#include "lake.h"

#define TARN_NAME_MAX 255

typedef enum tarn_ref_kind { TARN_REF_BRANCH = 0, TARN_REF_TAG = 1 } tarn_ref_kind;

typedef struct tarn_ref_entry {
    char name[TARN_NAME_MAX + 1];
    tarn_commit_id commit;
    tarn_ref_kind kind;
    int aborted; /* a branch left by a failed run: it cannot be merged */
    int64_t updated_us; /* when it was created or last moved */
} tarn_ref_entry;

/* Resolves a ref expression to a commit id. */
TARN_EXTERN int tarn_ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref,
                                 tarn_error *err);

/* Lists branches or tags, sorted by name. *out is freed with tarn_free. */
TARN_EXTERN int tarn_ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake,
                              tarn_ref_kind kind, tarn_error *err);

/* Creates branch NAME at FROM_REF (NULL: the active branch). O(1): no data
 * is copied. TARN_EEXISTS if it exists. */
TARN_EXTERN int tarn_branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                                   const char *from_ref, tarn_error *err);
/* Deletes branch NAME; refuses the active branch and `main`'s last copy. */
TARN_EXTERN int tarn_branch_delete(tarn_lake *lake, const char *name, tarn_error *err);

/* Renames branch or tag OLD to NEW (same commit, same history; the ref
 * log records both names). The active branch stays active under its new
 * name. TARN_EEXISTS if NEW exists. */
TARN_EXTERN int tarn_ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                                const char *new_name, tarn_error *err);

/* Deletes the run branches left by failed runs (aborted) that have not
 * moved for OLDER_THAN_S seconds (0: all). *names (free each and the list
 * with tarn_free) lists them; DRY_RUN deletes nothing. */
TARN_EXTERN int tarn_branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake,
                                          int64_t older_than_s, int dry_run, tarn_error *err);

TARN_EXTERN int tarn_tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                                const char *from_ref, tarn_error *err);
TARN_EXTERN int tarn_tag_delete(tarn_lake *lake, const char *name, tarn_error *err);

/* Name rules, checked before a name reaches SQL or a path.
 * Branch and tag names: like git's (no spaces, `..`, leading `-`, control
 * characters, `~^:?*[\`, `@{`, trailing `/` or `.lock`). */
TARN_EXTERN int tarn_name_check_ref(const char *name, tarn_error *err);
/* Table names: `table` or `namespace.table`, each part [A-Za-z0-9_]+ not
 * starting with a digit, at most 128 characters. */
TARN_EXTERN int tarn_name_check_table(const char *name, tarn_error *err);
TARN_EXTERN int tarn_name_check_namespace(const char *name, tarn_error *err);

#endif
