/* catalog/merge.c — merging a ref into a branch.
 *
 * Fast-forward when the branch is an ancestor of the source. Otherwise a
 * three-way merge of the trees against the merge base, entry by entry: an
 * entry changed on one side takes that side; a table to which both sides
 * only appended (same schema, every base file kept, in order) gets the base's
 * files plus each side's new files; anything else changed on both sides is
 * a conflict, and then nothing changes. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

static int has_file(const tarn_version *v, const char *key)
{
    for (size_t i = 0; i < v->nfiles; i++)
        if (strcmp(v->files[i], key) == 0) return 1;
    return 0;
}

/* Did V only append to BASE: same schema, every one of BASE's files kept?
 * (Not a prefix test: after an earlier merge a side's list interleaves its
 * own and the other side's files.) */
static int appends_to(const tarn_version *base, const tarn_version *v)
{
    if (strcmp(base->schema_json, v->schema_json) != 0) return 0;
    for (size_t i = 0; i < base->nfiles; i++)
        if (!has_file(v, base->files[i])) return 0;
    return 1;
}

/* Merges one table changed on both sides into out_version, or explains the
 * conflict in WHY. */
static int merge_table(char out_version[65], char *why, size_t whysize, tarn_lake *lake,
                       const char *base_id, const char *ours_id, const char *theirs_id,
                       tarn_error *err)
{
    if (!base_id) {
        snprintf(why, whysize, "created on both sides");
        return TARN_ECONFLICT;
    }
    if (!ours_id || !theirs_id) {
        snprintf(why, whysize, "deleted on one side and changed on the other");
        return TARN_ECONFLICT;
    }
    tarn_version base, ours, theirs;
    int rc = tarn__version_load(&base, lake, base_id, err);
    if (rc < 0) return rc;
    if ((rc = tarn__version_load(&ours, lake, ours_id, err)) < 0) {
        tarn__version_clear(&base);
        return rc;
    }
    if ((rc = tarn__version_load(&theirs, lake, theirs_id, err)) < 0) {
        tarn__version_clear(&base);
        tarn__version_clear(&ours);
        return rc;
    }
    if (!appends_to(&base, &ours) || !appends_to(&base, &theirs)) {
        if (strcmp(ours.schema_json, base.schema_json) != 0 ||
            strcmp(theirs.schema_json, base.schema_json) != 0)
            snprintf(why, whysize, "changed on both sides, and the schema changed");
        else
            snprintf(why, whysize, "changed on both sides, and not only by appends");
        rc = TARN_ECONFLICT;
        goto done;
    }
    /* ours' files (the base's and its own), then theirs' new ones */
    tarn_version merged = {0};
    merged.schema_json = ours.schema_json;
    snprintf(merged.parent, sizeof merged.parent, "%s", ours.id);
    merged.files = malloc((ours.nfiles + theirs.nfiles) * sizeof *merged.files);
    size_t k = 0;
    for (size_t i = 0; i < ours.nfiles; i++) merged.files[k++] = ours.files[i];
    for (size_t i = 0; i < theirs.nfiles; i++)
        if (!has_file(&base, theirs.files[i]) && !has_file(&ours, theirs.files[i]))
            merged.files[k++] = theirs.files[i];
    merged.nfiles = k;
    rc = tarn__version_store(lake, &merged, err);
    if (rc == 0) snprintf(out_version, 65, "%s", merged.id);
    free(merged.files); /* the strings belong to ours and theirs */
done:
    tarn__version_clear(&base);
    tarn__version_clear(&ours);
    tarn__version_clear(&theirs);
    return rc;
}

static const char *entry_version(const tarn_tree *t, const char *name)
{
    const tarn_tree_entry *e = tarn__tree_find(t, name);
    return e ? e->version : NULL;
}

static int same(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Three-way merge of trees into OUT; conflicts are added to err. */
static int merge_trees(tarn_tree *out, int *conflicts, tarn_lake *lake, const tarn_tree *base,
                       const tarn_tree *ours, const tarn_tree *theirs, strbuf *why_all,
                       tarn_error *err)
{
    /* Start from ours and walk every name on any side. */
    for (size_t i = 0; i < ours->n; i++)
        tarn__tree_set(out, ours->entries[i].name, ours->entries[i].kind, ours->entries[i].version);
    const tarn_tree *sides[2] = {base, theirs};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sides[s]->n; i++) {
            const tarn_tree_entry *e = &sides[s]->entries[i];
            if (s == 1 && tarn__tree_find(base, e->name)) continue; /* seen with the base */
            const char *b = entry_version(base, e->name);
            const char *o = entry_version(ours, e->name);
            const char *t = entry_version(theirs, e->name);
            if (same(o, t) || same(b, t)) continue; /* nothing new from theirs */
            if (same(b, o)) {                       /* only theirs changed it */
                if (t) tarn__tree_set(out, e->name, e->kind, t);
                else tarn__tree_remove(out, e->name);
                continue;
            }
            if (e->kind == TARN_ENTRY_NAMESPACE) continue; /* both sides have it in some form */
            char version[65], why[160];
            int rc = merge_table(version, why, sizeof why, lake, b, o, t, err);
            if (rc == TARN_ECONFLICT) {
                /* Each conflicting table is reported once. */
                int seen = 0;
                for (size_t k = 0; err && k < err->ntables; k++)
                    if (strcmp(err->tables[k], e->name) == 0) seen = 1;
                if (!seen) {
                    tarn__error_add_table(err, e->name);
                    sb_printf(why_all, "%s  %s: %s", why_all->len ? "\n" : "", e->name, why);
                    (*conflicts)++;
                }
                continue;
            }
            if (rc < 0) return rc;
            tarn__tree_set(out, e->name, TARN_ENTRY_TABLE, version);
        }
    }
    return 0;
}

/* What a failed run left behind is never merged: neither its temporary
 * branch (marked aborted) nor, by hash, a commit made by a run whose job did
 * not succeed. (Bauplan documents this hole in its own model.) */
static int refuse_failed_run(tarn_lake *lake, const char *source_ref, const char *commit,
                             tarn_error *err)
{
    tarn_ref_row ref;
    if (source_ref && tarn__ref_get(&ref, lake, source_ref, NULL) == 0 && ref.aborted)
        return tarn__error_set(err, TARN_EABORTED,
                               "branch '%s' belongs to a failed run and cannot be merged", source_ref);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "SELECT j.id, j.status FROM commits c JOIN jobs j "
        "ON j.id = json_extract(c.properties, '$.job_id') WHERE c.hash = ?",
        err));
    sqlite3_bind_text(st, 1, commit, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 1), "success") != 0)
        rc = tarn__error_set(err, TARN_EABORTED,
                             "commit %.12s was made by run %s, which did not succeed (%s): it cannot be merged",
                             commit, (const char *)sqlite3_column_text(st, 0),
                             (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc;
}

int tarn__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                       const char *into, const char *message, int check_runs, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    char target[TARN_NAME_MAX + 1];
    TARN_RETURN_NOT_OK(tarn__branch_name(target, lake, into, err));
    tarn_commit_id source;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&source, lake, source_ref, err));
    if (check_runs) TARN_RETURN_NOT_OK(refuse_failed_run(lake, source_ref, source.hex, err));
    tarn_tree base_t = {0}, ours_t = {0}, theirs_t = {0}, merged = {0};
    strbuf why = {0};
    int rc = tarn__tx_begin(lake, err);
    if (rc < 0) return rc;
    tarn_ref_row ref;
    rc = tarn__ref_get(&ref, lake, target, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && ref.kind != TARN_REF_BRANCH)) {
        rc = tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", target);
        goto fail;
    }
    if (rc < 0) goto fail;

    rc = tarn__commit_is_ancestor(lake, source.hex, ref.commit, err);
    if (rc < 0) goto fail;
    if (rc == 1) { /* already contained */
        tarn__tx_rollback(lake);
        snprintf(out->commit.hex, sizeof out->commit.hex, "%s", ref.commit);
        out->up_to_date = 1;
        return 0;
    }
    rc = tarn__commit_is_ancestor(lake, ref.commit, source.hex, err);
    if (rc < 0) goto fail;
    if (rc == 1) {
        if ((rc = tarn__ref_cas(lake, target, ref.commit, source.hex, "merge (fast-forward)", err)) < 0)
            goto fail;
        if ((rc = tarn__tx_commit(lake, err)) < 0) goto done;
        out->commit = source;
        out->fast_forward = 1;
        rc = 0;
        goto done;
    }

    char base[65];
    tarn_commit_row ours_c, theirs_c, base_c;
    if ((rc = tarn__merge_base(base, lake, ref.commit, source.hex, err)) < 0) goto fail;
    if ((rc = tarn__commit_load(&ours_c, lake, ref.commit, err)) < 0) goto fail;
    if ((rc = tarn__commit_load(&theirs_c, lake, source.hex, err)) < 0) goto fail;
    if ((rc = tarn__tree_load(&ours_t, lake, ours_c.tree, err)) < 0) goto fail;
    if ((rc = tarn__tree_load(&theirs_t, lake, theirs_c.tree, err)) < 0) goto fail;
    if (base[0]) {
        if ((rc = tarn__commit_load(&base_c, lake, base, err)) < 0) goto fail;
        if ((rc = tarn__tree_load(&base_t, lake, base_c.tree, err)) < 0) goto fail;
    }
    int conflicts = 0;
    if ((rc = merge_trees(&merged, &conflicts, lake, &base_t, &ours_t, &theirs_t, &why, err)) < 0)
        goto fail;
    if (conflicts) {
        rc = tarn__error_set(err, TARN_ECONFLICT,
                             "merge of '%s' into '%s' conflicts on %d table%s; nothing was changed:\n%s",
                             source_ref ? source_ref : "HEAD", target, conflicts,
                             conflicts == 1 ? "" : "s", sb_str(&why));
        goto fail;
    }
    char tree_hash[65], commit[65];
    const char *parents[2] = {ref.commit, source.hex};
    strbuf msg = {0};
    if (message && *message) sb_append(&msg, message);
    else sb_printf(&msg, "Merge '%s' into '%s'", source_ref ? source_ref : source.hex, target);
    rc = tarn__tree_store(tree_hash, lake, &merged, err);
    if (rc == 0) rc = tarn__commit_create(commit, lake, tree_hash, parents, 2, msg.s, "{}", err);
    sb_free(&msg);
    if (rc < 0) goto fail;
    if ((rc = tarn__ref_cas(lake, target, ref.commit, commit, "merge", err)) < 0) goto fail;
    if ((rc = tarn__tx_commit(lake, err)) < 0) goto done;
    snprintf(out->commit.hex, sizeof out->commit.hex, "%s", commit);
    rc = 0;
    goto done;
fail:
    tarn__tx_rollback(lake);
done:
    tarn__tree_clear(&base_t);
    tarn__tree_clear(&ours_t);
    tarn__tree_clear(&theirs_t);
    tarn__tree_clear(&merged);
    sb_free(&why);
    return rc;
}

int tarn_branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                      const char *into, const char *message, tarn_error *err)
{
    return tarn__branch_merge(out, lake, source_ref, into, message, 1, err);
}
