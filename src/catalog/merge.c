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

/* A version's file keys, sorted, for membership tests in O(log n): merges
 * of tables with many thousands of files stay O(n log n). */
typedef struct file_set {
    char **keys;
    size_t n;
} file_set;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int file_set_of(file_set *out, const tarn_version *v)
{
    out->n = v->nfiles;
    out->keys = malloc((v->nfiles ? v->nfiles : 1) * sizeof *out->keys);
    if (!out->keys) return TARN_ENOMEM;
    memcpy(out->keys, v->files, v->nfiles * sizeof *out->keys);
    qsort(out->keys, out->n, sizeof *out->keys, cmp_key);
    return 0;
}

static int has_file(const file_set *s, const char *key)
{
    return bsearch(&key, s->keys, s->n, sizeof *s->keys, cmp_key) != NULL;
}

/* Did V only append to BASE: same schema, every one of BASE's files kept?
 * (Not a prefix test: after an earlier merge a side's list interleaves its
 * own and the other side's files.) */
static int appends_to(const tarn_version *base, const tarn_version *v, const file_set *vs)
{
    if (strcmp(base->schema_json, v->schema_json) != 0) return 0;
    for (size_t i = 0; i < base->nfiles; i++)
        if (!has_file(vs, base->files[i])) return 0;
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
    file_set base_s = {0}, ours_s = {0}, theirs_s = {0};
    if (file_set_of(&base_s, &base) < 0 || file_set_of(&ours_s, &ours) < 0 || file_set_of(&theirs_s, &theirs) < 0) {
        rc = tarn__error_set(err, TARN_ENOMEM, "out of memory merging '%s'", ours.id);
        goto done;
    }
    if (!appends_to(&base, &ours, &ours_s) || !appends_to(&base, &theirs, &theirs_s)) {
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
        if (!has_file(&base_s, theirs.files[i]) && !has_file(&ours_s, theirs.files[i]))
            merged.files[k++] = theirs.files[i];
    merged.nfiles = k;
    rc = tarn__version_store(lake, &merged, err);
    if (rc == 0) snprintf(out_version, 65, "%s", merged.id);
    free(merged.files); /* the strings belong to ours and theirs */
done:
    free(base_s.keys);
    free(ours_s.keys);
    free(theirs_s.keys);
    tarn__version_clear(&base);
    tarn__version_clear(&ours);
    tarn__version_clear(&theirs);
    return rc;
}

static const char *version_of(const tarn_tree_entry *e)
{
    return e ? e->version : NULL;
}

static int same(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Three-way merge of trees into OUT; conflicts are added to err. Every
 * tree is sorted by name, so each side is walked once with a cursor per
 * other tree (tarn__tree_find_next): a merge of trees of a thousand tables
 * costs a pass over them, not three searches per name. */
static int merge_trees(tarn_tree *out, int *conflicts, tarn_lake *lake, const tarn_tree *base,
                       const tarn_tree *ours, const tarn_tree *theirs, strbuf *why_all,
                       tarn_error *err)
{
    /* Start from ours and walk every name on any side. */
    if (tarn__tree_copy(out, ours) < 0) return tarn__error_set(err, TARN_ENOMEM, "out of memory merging");
    const tarn_tree *sides[2] = {base, theirs};
    for (int s = 0; s < 2; s++) {
        size_t at_base = 0, at_ours = 0, at_theirs = 0;
        for (size_t i = 0; i < sides[s]->n; i++) {
            const tarn_tree_entry *e = &sides[s]->entries[i];
            const tarn_tree_entry *in_base = s == 0 ? e : tarn__tree_find_next(base, e->name, &at_base);
            if (s == 1 && in_base) continue; /* seen with the base */
            const char *b = version_of(in_base);
            const char *o = version_of(tarn__tree_find_next(ours, e->name, &at_ours));
            const char *t = s == 1 ? e->version : version_of(tarn__tree_find_next(theirs, e->name, &at_theirs));
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

/* A merge must not leave a table whose namespace is gone: one side
 * removed a namespace while the other added or changed a table in it. */
static void check_namespaces(int *conflicts, const tarn_tree *merged, strbuf *why_all, tarn_error *err)
{
    for (size_t i = 0; i < merged->n; i++) {
        const tarn_tree_entry *e = &merged->entries[i];
        if (e->kind != TARN_ENTRY_TABLE) continue;
        const char *dot = strchr(e->name, '.');
        char ns[300];
        snprintf(ns, sizeof ns, "%.*s", (int)(dot ? dot - e->name : (long)strlen(e->name)), e->name);
        const tarn_tree_entry *n = tarn__tree_find(merged, ns);
        if (n && n->kind == TARN_ENTRY_NAMESPACE) continue;
        tarn__error_add_table(err, e->name);
        sb_printf(why_all, "%s  %s: its namespace '%s' was removed on one side while the table changed on the other",
                  why_all->len ? "\n" : "", e->name, ns);
        (*conflicts)++;
    }
}

typedef struct merge_ctx {
    const char *source_ref;
    const char *target;
    tarn_commit_id source;
    const tarn_commit_options *commit; /* what the caller's merge commit says (NULL: none) */
    int (*on_merged)(tarn_lake *lake, const char *commit, void *ctx, tarn_error *err);
    void *ctx;
    tarn_merge_result *out;
} merge_ctx;

/* Loads the tree of commit HASH into T (T zeroed when HASH is ""). */
static int load_tree(tarn_tree *t, tarn_lake *lake, const char *hash, tarn_error *err)
{
    memset(t, 0, sizeof *t);
    if (!hash[0]) return 0;
    return tarn__tree_load_commit(t, lake, hash, err);
}

static int merge_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    merge_ctx *m = arg;
    tarn_merge_result *out = m->out;
    memset(out, 0, sizeof *out);
    const char *source = m->source.hex;
    tarn_ref_row ref;
    int rc = TARN_CAT(lake)->vt->ref_get(TARN_CAT(lake), m->target, &ref, 1, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && ref.kind != TARN_REF_BRANCH))
        return tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", m->target);
    if (rc < 0) return rc;
    if (ref.aborted)
        return tarn__error_set(err, TARN_EABORTED, "branch '%s' belongs to a failed run and is read-only", m->target);
    if (tarn__ref_is_run_branch(m->target))
        return tarn__error_set(err, TARN_EINVALID, "branch '%s' is a run's: only its run writes on it", m->target);
    /* The checks run in the merge's transaction: a run cannot fail, nor
     * gc collect, between the check and the merge. */
    if (!m->on_merged) TARN_RETURN_NOT_OK(tarn__commit_check_usable(lake, m->source_ref, source, err));
    /* A run's own merge is the one way its output reaches a branch. */
    if (!m->on_merged) TARN_RETURN_NOT_OK(tarn__protect_check_merge(lake, m->target, m->source_ref, source, err));

    rc = tarn__commit_is_ancestor(lake, source, ref.commit, err);
    if (rc < 0) return rc;
    if (rc == 1) { /* already contained */
        snprintf(out->commit.hex, sizeof out->commit.hex, "%s", ref.commit);
        out->up_to_date = 1;
        return m->on_merged ? m->on_merged(lake, ref.commit, m->ctx, err) : TARN_NOTHING;
    }
    rc = tarn__commit_is_ancestor(lake, ref.commit, source, err);
    if (rc < 0) return rc;
    /* A message, a body or properties ask for a merge commit, except for
     * a run's own merge. */
    const tarn_commit_options *c = m->commit;
    int says = c && ((c->message && *c->message) || (c->body && *c->body) ||
                     (c->properties_json && *c->properties_json));
    if (rc == 1 && (!says || m->on_merged)) {
        TARN_RETURN_NOT_OK(tarn__ref_cas(lake, m->target, ref.commit, source, "merge (fast-forward)", err));
        out->commit = m->source;
        out->fast_forward = 1;
        return m->on_merged ? m->on_merged(lake, source, m->ctx, err) : 0;
    }

    tarn_tree base_t = {0}, ours_t = {0}, theirs_t = {0}, merged = {0};
    strbuf why = {0};
    char base[65], tree_hash[65], commit[65];
    if ((rc = tarn__merge_base(base, lake, ref.commit, source, err)) < 0) goto done;
    if ((rc = load_tree(&ours_t, lake, ref.commit, err)) < 0) goto done;
    if ((rc = load_tree(&theirs_t, lake, source, err)) < 0) goto done;
    if ((rc = load_tree(&base_t, lake, base, err)) < 0) goto done;
    int conflicts = 0;
    if ((rc = merge_trees(&merged, &conflicts, lake, &base_t, &ours_t, &theirs_t, &why, err)) < 0) goto done;
    if (!conflicts) check_namespaces(&conflicts, &merged, &why, err);
    if (conflicts) {
        rc = tarn__error_set(err, TARN_ECONFLICT,
                             "merge of '%s' into '%s' conflicts on %d table%s; nothing was changed:\n%s",
                             m->source_ref ? m->source_ref : "HEAD", m->target, conflicts,
                             conflicts == 1 ? "" : "s", sb_str(&why));
        goto done;
    }
    const char *parents[2] = {ref.commit, source};
    strbuf def = {0};
    sb_printf(&def, "Merge '%s' into '%s'", m->source_ref ? m->source_ref : source, m->target);
    char *msg = NULL, *props = NULL;
    rc = tarn__commit_text(&msg, &props, m->commit, def.s, NULL, err);
    if (rc == 0) rc = tarn__tree_store(tree_hash, lake, &merged, err);
    if (rc == 0) rc = tarn__commit_create(commit, lake, tree_hash, parents, 2, msg, props, err);
    sb_free(&def);
    free(msg);
    free(props);
    if (rc == 0) rc = tarn__ref_cas(lake, m->target, ref.commit, commit, "merge", err);
    if (rc == 0) snprintf(out->commit.hex, sizeof out->commit.hex, "%s", commit);
    if (rc == 0 && m->on_merged) rc = m->on_merged(lake, commit, m->ctx, err);
done:
    tarn__tree_clear(&base_t);
    tarn__tree_clear(&ours_t);
    tarn__tree_clear(&theirs_t);
    tarn__tree_clear(&merged);
    sb_free(&why);
    return rc;
}

int tarn__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                       const char *into, const tarn_commit_options *commit,
                       int (*on_merged)(tarn_lake *lake, const char *commit, void *ctx, tarn_error *err),
                       void *ctx, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    char target[TARN_NAME_MAX + 1];
    TARN_RETURN_NOT_OK(tarn__branch_name(target, lake, into, err));
    merge_ctx m = {source_ref, target, {{0}}, commit, on_merged, ctx, out};
    if (commit) {
        /* refused before anything is read or locked */
        char *msg = NULL, *props = NULL;
        int bad = tarn__commit_text(&msg, &props, commit, "", NULL, err);
        free(msg);
        free(props);
        if (bad < 0) return bad;
    }
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&m.source, lake, source_ref, err));
    tarn_ref_row ref;
    if (source_ref && tarn__ref_get(&ref, lake, source_ref, NULL) == 0 && ref.aborted)
        return tarn__error_set(err, TARN_EABORTED,
                               "branch '%s' belongs to a failed run and cannot be merged", source_ref);
    int rc = tarn__tx_run(lake, merge_tx, &m, err);
    return rc == TARN_NOTHING ? 0 : rc;
}

int tarn_local__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                      const char *into, const tarn_commit_options *commit, tarn_error *err)
{
    return tarn__branch_merge(out, lake, source_ref, into, commit, NULL, NULL, err);
}
