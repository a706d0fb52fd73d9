/* catalog/ref.c — branches and tags, the ref log, and resolving ref
 * expressions: NAME, HASH or a unique prefix (>= 7), REF~N, REF@{TIME}.
 * Moving a branch is a compare-and-swap on its current commit. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

int tarn__ref_get(tarn_ref_row *out, tarn_lake *lake, const char *name, tarn_error *err)
{
    return TARN_CAT(lake)->vt->ref_get(TARN_CAT(lake), name, out, 0, err);
}

int tarn__ref_insert(tarn_lake *lake, const char *name, tarn_ref_kind kind, const char *commit,
                     tarn_error *err)
{
    return TARN_CAT(lake)->vt->ref_insert(TARN_CAT(lake), name, (int)kind, commit, "create", err);
}

int tarn__ref_cas(tarn_lake *lake, const char *name, const char *expected, const char *commit,
                  const char *reason, tarn_error *err)
{
    return TARN_CAT(lake)->vt->ref_cas(TARN_CAT(lake), name, expected, commit, reason, err);
}

#define RUN_BRANCH_PREFIX "tarn-run/"

int tarn__ref_is_run_branch(const char *name)
{
    return strncmp(name, RUN_BRANCH_PREFIX, sizeof RUN_BRANCH_PREFIX - 1) == 0;
}

int tarn__commit_check_usable(tarn_lake *lake, const char *source_ref, const char *commit,
                              tarn_error *err)
{
    tarn_catalog *c = TARN_CAT(lake);
    char job[65];
    int rc = c->vt->taint_get(c, commit, job, err);
    if (rc == 0) {
        tarn_job_row j;
        char status[16] = "unknown";
        if (c->vt->job_get(c, job, &j, 0, NULL) == 0) snprintf(status, sizeof status, "%s", j.status);
        return tarn__error_set(err, TARN_EABORTED,
                               "'%s' (commit %.12s) carries the output of run %s, which has not succeeded "
                               "(%s): it can be read, but never merged, reverted from or branched from",
                               source_ref ? source_ref : commit, commit, job, status);
    }
    if (rc != TARN_ENOTFOUND) return rc;
    /* A ref's own head is never collected; any other commit may have lost
     * its data to garbage collection since its branch was deleted. */
    tarn_ref_row ref;
    if (source_ref && c->vt->ref_get(c, source_ref, &ref, 0, NULL) == 0 && !strcmp(ref.commit, commit)) return 0;
    tarn_commit_row row;
    TARN_RETURN_NOT_OK(tarn__commit_load(&row, lake, commit, err));
    char key[1024];
    rc = c->vt->tombstone_any(c, row.tree, NULL, key, err);
    if (rc < 0) return rc;
    if (rc == 1)
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "the data of commit %.12s was garbage-collected (data file '%s' is gone): it can "
                               "no longer be branched from, tagged or merged",
                               commit, key);
    return 0;
}

int tarn__branch_name(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *branch,
                      tarn_error *err)
{
    if (!branch || !*branch) return tarn_lake_active_branch(out, TARN_NAME_MAX + 1, lake, err);
    TARN_RETURN_NOT_OK(tarn_name_check_ref(branch, err));
    snprintf(out, TARN_NAME_MAX + 1, "%s", branch);
    return 0;
}

const char *tarn__ref_display(tarn_lake *lake, const char *ref)
{
    if (ref && *ref) return ref;
    if (tarn_lake_active_branch(lake->display_ref, sizeof lake->display_ref, lake, NULL) != 0)
        return "HEAD";
    return lake->display_ref;
}

/* ---- resolving ref expressions --------------------------------------------- */

typedef struct ref_names {
    char **v;
    size_t n, cap;
} ref_names;

static int add_ref_name(const tarn_ref_row *r, void *ctx)
{
    ref_names *l = ctx;
    if (tarn__ref_is_run_branch(r->name)) return 0;
    TARN_RETURN_NOT_OK(tarn__reserve(&l->v, &l->cap, l->n + 1, sizeof *l->v));
    return (l->v[l->n++] = strdup(r->name)) ? 0 : TARN_ENOMEM;
}

int tarn__ref_nearest(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *name)
{
    ref_names l = {0};
    int rc = TARN_CAT(lake)->vt->ref_list(TARN_CAT(lake), -1, add_ref_name, &l, NULL);
    const char *near = rc == 0 ? tarn_nearest_name(name, (const char *const *)l.v, l.n) : NULL;
    if (near) snprintf(out, TARN_NAME_MAX + 1, "%s", near);
    for (size_t i = 0; i < l.n; i++) free(l.v[i]);
    free(l.v);
    return near ? 0 : TARN_ENOTFOUND;
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return n > 0;
}

static int resolve_hash_prefix(char out[65], tarn_lake *lake, const char *prefix, tarn_error *err)
{
    char found[2][65];
    size_t n = 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->commit_prefix(TARN_CAT(lake), prefix, found, &n, err));
    if (n == 0) return TARN_ENOTFOUND;
    if (n > 1)
        return tarn__error_set(err, TARN_EAMBIGUOUS,
                               "'%s' is ambiguous: several commits start with it (give more digits)",
                               prefix);
    snprintf(out, 65, "%s", found[0]);
    return 0;
}

/* A bare name: HEAD, a branch or tag, a full or abbreviated commit hash. */
static int resolve_base(char out[65], tarn_lake *lake, const char *name, const char *whole,
                        tarn_error *err)
{
    char active[TARN_NAME_MAX + 1];
    if (strcmp(name, "HEAD") == 0) {
        TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
        name = active;
    }
    tarn_ref_row row;
    int rc = tarn__ref_get(&row, lake, name, err);
    if (rc == 0) {
        snprintf(out, 65, "%s", row.commit);
        return 0;
    }
    if (rc != TARN_ENOTFOUND) return rc;
    size_t n = strlen(name);
    if (n >= 7 && n <= 64 && is_hex(name, n)) {
        rc = resolve_hash_prefix(out, lake, name, err);
        if (rc != TARN_ENOTFOUND) return rc;
        return tarn__error_set(err, TARN_ENOTFOUND, "no commit starts with '%s'", name);
    }
    if (tarn_name_check_ref(name, NULL) != 0)
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid ref '%s': expected a branch, a tag, a commit hash (7+ hex "
                               "digits), REF~N or REF@{2026-11-26T10:00:00Z}",
                               whole);
    char near[TARN_NAME_MAX + 1];
    if (tarn__ref_nearest(near, lake, name) == 0)
        return tarn__error_set(err, TARN_ENOTFOUND, "unknown ref '%s': did you mean '%s'?", name, near);
    return tarn__error_set(err, TARN_ENOTFOUND,
                           "unknown ref '%s': no branch, tag or commit has that name (see 'tarn branch ls')",
                           name);
}

/* The commit NAME pointed at, at instant T (from the ref log). A time at
 * or after the present is the ref as it is now, whatever the clock did:
 * log times are monotonic per ref, so they may run ahead of a clock that
 * stepped back. A time before the ref existed is an error. */
static int resolve_at_time(char out[65], tarn_lake *lake, const char *name, int64_t t,
                           const char *whole, tarn_error *err)
{
    tarn_ref_row row;
    int is_ref = tarn__ref_get(&row, lake, name, NULL) == 0;
    if (is_ref && t >= tarn__now_us()) {
        snprintf(out, 65, "%s", row.commit);
        return 0;
    }
    int rc = TARN_CAT(lake)->vt->reflog_at(TARN_CAT(lake), name, t, out, err);
    if (rc == 0 && out[0]) return 0;
    if (rc == 0) /* the log says it was deleted by then */
        return tarn__error_set(err, TARN_ENOTFOUND, "'%s' did not exist at that time", name);
    if (rc != TARN_ENOTFOUND) return rc;
    if (is_ref) return tarn__error_set(err, TARN_ENOTFOUND, "'%s' did not exist yet at that time", name);
    /* Not a branch or tag name: a commit; take its newest first-parent
     * ancestor made at or before T. */
    char c[65];
    TARN_RETURN_NOT_OK(resolve_base(c, lake, name, whole, err));
    for (;;) {
        tarn_commit_row cr;
        TARN_RETURN_NOT_OK(tarn__commit_load(&cr, lake, c, err));
        if (cr.time_us <= t) {
            snprintf(out, 65, "%s", c);
            return 0;
        }
        if (cr.nparents == 0)
            return tarn__error_set(err, TARN_ENOTFOUND, "'%s': no commit that old", whole);
        snprintf(c, sizeof c, "%s", cr.parents[0]);
    }
}

int tarn_local__ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    char active[TARN_NAME_MAX + 1];
    if (!ref || !*ref) {
        TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
        ref = active;
    }
    size_t len = strlen(ref);
    if (len > 512) return tarn__error_set(err, TARN_EINVALID, "ref is too long");
    char expr[520];
    memcpy(expr, ref, len + 1);

    /* Peel trailing ~N suffixes (each adds N first-parent steps). */
    long steps = 0;
    for (;;) {
        char *tilde = strrchr(expr, '~');
        if (!tilde) break;
        char *end;
        long n = tilde[1] ? strtol(tilde + 1, &end, 10) : 1;
        if (tilde[1] && (*end || n < 0 || !isdigit((unsigned char)tilde[1])))
            return tarn__error_set(err, TARN_EINVALID, "invalid ref '%s': '~' takes a number, as in main~2", ref);
        steps += n;
        *tilde = 0;
    }
    char c[65];
    char *at = strstr(expr, "@{");
    if (at) {
        size_t el = strlen(expr);
        if (expr[el - 1] != '}' || at == expr)
            return tarn__error_set(err, TARN_EINVALID,
                                   "invalid ref '%s': write REF@{2026-11-26T10:00:00Z}", ref);
        expr[el - 1] = 0;
        *at = 0;
        int64_t t;
        if (tarn__parse_time(&t, at + 2) != 0)
            return tarn__error_set(err, TARN_EINVALID,
                                   "invalid time in ref '%s': write REF@{2026-11-26T10:00:00Z}", ref);
        TARN_RETURN_NOT_OK(resolve_at_time(c, lake, expr, t, ref, err));
    } else {
        TARN_RETURN_NOT_OK(resolve_base(c, lake, expr, ref, err));
    }
    for (long i = 0; i < steps; i++) {
        tarn_commit_row row;
        TARN_RETURN_NOT_OK(tarn__commit_load(&row, lake, c, err));
        if (row.nparents == 0)
            return tarn__error_set(err, TARN_ENOTFOUND, "'%s' goes back further than history (%ld steps)",
                                   ref, i + 1);
        snprintf(c, sizeof c, "%s", row.parents[0]);
    }
    snprintf(out->hex, sizeof out->hex, "%s", c);
    return 0;
}

/* ---- branches and tags ------------------------------------------------------ */

typedef struct ref_list_ctx {
    tarn_ref_entry *list;
    size_t n, cap;
} ref_list_ctx;

static int ref_list_add(const tarn_ref_row *r, void *arg)
{
    ref_list_ctx *l = arg;
    TARN_RETURN_NOT_OK(tarn__reserve(&l->list, &l->cap, l->n + 1, sizeof *l->list));
    tarn_ref_entry *e = &l->list[l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", r->name);
    snprintf(e->commit.hex, sizeof e->commit.hex, "%s", r->commit);
    e->kind = (tarn_ref_kind)r->kind;
    e->aborted = r->aborted;
    e->updated_us = r->updated_us;
    return 0;
}

int tarn_local__ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                         tarn_error *err)
{
    *out = NULL;
    *count = 0;
    ref_list_ctx l = {0};
    int rc = TARN_CAT(lake)->vt->ref_list(TARN_CAT(lake), (int)kind, ref_list_add, &l, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory listing refs");
    if (rc < 0) {
        free(l.list);
        return rc;
    }
    *out = l.list;
    *count = l.n;
    return 0;
}

typedef struct ref_create_ctx {
    const char *name;
    tarn_ref_kind kind;
    const char *from_ref;
    const char *commit;
} ref_create_ctx;

static int ref_create_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    ref_create_ctx *r = arg;
    /* Checked in the transaction that creates the ref, so that neither a
     * failing run nor a concurrent gc can slip in between. A tag may point
     * at a failed run's output (it never moves, nothing is written on it);
     * a branch may not. */
    int rc = tarn__commit_check_usable(lake, r->from_ref, r->commit, err);
    if (rc == TARN_EABORTED && r->kind == TARN_REF_TAG) rc = 0;
    if (rc < 0) return rc;
    rc = tarn__ref_insert(lake, r->name, r->kind, r->commit, err);
    if (rc == TARN_EEXISTS) {
        tarn_ref_row row;
        if (tarn__ref_get(&row, lake, r->name, NULL) == 0)
            tarn__error_set(err, TARN_EEXISTS, "%s '%s' already exists",
                            row.kind == TARN_REF_BRANCH ? "branch" : "tag", r->name);
    }
    return rc;
}

static int ref_create(tarn_commit_id *out, tarn_lake *lake, const char *name, tarn_ref_kind kind,
                      const char *from_ref, int internal, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(name, err));
    if (strcmp(name, "HEAD") == 0)
        return tarn__error_set(err, TARN_EINVALID, "'HEAD' is reserved: choose another name");
    if (!internal && tarn__ref_is_run_branch(name))
        return tarn__error_set(err, TARN_EINVALID,
                               "names starting with '" RUN_BRANCH_PREFIX "' are reserved for runs: choose another name");
    size_t n = strlen(name);
    if (n >= 7 && n <= 64 && is_hex(name, n))
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid name '%s': it would read as a commit hash", name);
    tarn_commit_id at;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&at, lake, from_ref, err));
    char display[TARN_NAME_MAX + 1];
    if (!from_ref || !*from_ref) TARN_RETURN_NOT_OK(tarn_lake_active_branch(display, sizeof display, lake, err));
    ref_create_ctx r = {name, kind, from_ref && *from_ref ? from_ref : display, at.hex};
    TARN_RETURN_NOT_OK(tarn__tx_run(lake, ref_create_tx, &r, err));
    if (out) *out = at;
    return 0;
}

typedef struct ref_delete_ctx {
    const char *name;
    tarn_ref_kind kind;
} ref_delete_ctx;

static int ref_delete_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    ref_delete_ctx *r = arg;
    int rc = TARN_CAT(lake)->vt->ref_delete(TARN_CAT(lake), r->name, (int)r->kind, "delete", err);
    if (rc == TARN_ENOTFOUND)
        return tarn__error_set(err, TARN_ENOTFOUND, "%s '%s' does not exist",
                               r->kind == TARN_REF_BRANCH ? "branch" : "tag", r->name);
    return rc;
}

static int ref_delete(tarn_lake *lake, const char *name, tarn_ref_kind kind, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(name, err));
    if (kind == TARN_REF_BRANCH) {
        char active[TARN_NAME_MAX + 1];
        TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
        if (strcmp(active, name) == 0)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot delete the active branch '%s' (check out another first)", name);
    }
    ref_delete_ctx r = {name, kind};
    return tarn__tx_run(lake, ref_delete_tx, &r, err);
}

int tarn_local__branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                              const char *from_ref, tarn_error *err)
{
    return ref_create(out, lake, name, TARN_REF_BRANCH, from_ref, 0, err);
}

int tarn__run_branch_create(char out[TARN_NAME_MAX + 1], tarn_lake *lake, const char *job_id,
                            const char *at, tarn_error *err)
{
    snprintf(out, TARN_NAME_MAX + 1, RUN_BRANCH_PREFIX "%s", job_id);
    return ref_create(NULL, lake, out, TARN_REF_BRANCH, at, 1, err);
}

/* A protected branch stays where it is until its protection is lifted. */
static int check_unprotected(tarn_lake *lake, const char *name, const char *what, tarn_error *err)
{
    int mode = 0;
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->protect_get(TARN_CAT(lake), name ? name : "", &mode, err));
    if (!mode) return 0;
    return tarn__error_set(err, TARN_EDENIED,
                           "branch '%s' is protected: it cannot be %s (lift the protection first: tarn "
                           "branch protect %s --none)",
                           name, what, name);
}

int tarn_local__branch_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    TARN_RETURN_NOT_OK(check_unprotected(lake, name, "deleted", err));
    return ref_delete(lake, name, TARN_REF_BRANCH, err);
}

int tarn_local__tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                           const char *from_ref, tarn_error *err)
{
    return ref_create(out, lake, name, TARN_REF_TAG, from_ref, 0, err);
}

int tarn_local__tag_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return ref_delete(lake, name, TARN_REF_TAG, err);
}

int tarn__branch_mark_aborted(tarn_lake *lake, const char *name, tarn_error *err)
{
    return TARN_CAT(lake)->vt->ref_set_aborted(TARN_CAT(lake), name, err);
}

/* ---- renaming and pruning --------------------------------------------------- */

typedef struct rename_ctx {
    tarn_ref_kind kind;
    const char *old_name, *new_name;
} rename_ctx;

static int rename_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    rename_ctx *r = arg;
    tarn_catalog *c = TARN_CAT(lake);
    const char *what = r->kind == TARN_REF_BRANCH ? "branch" : "tag";
    tarn_ref_row row;
    int rc = c->vt->ref_get(c, r->old_name, &row, 1, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && row.kind != (int)r->kind))
        return tarn__error_set(err, TARN_ENOTFOUND, "%s '%s' does not exist", what, r->old_name);
    if (rc < 0) return rc;
    rc = c->vt->ref_insert(c, r->new_name, row.kind, row.commit, "rename", err);
    if (rc == TARN_EEXISTS)
        return tarn__error_set(err, TARN_EEXISTS, "a branch or tag named '%s' already exists", r->new_name);
    if (rc == 0 && row.aborted) rc = c->vt->ref_set_aborted(c, r->new_name, err);
    if (rc == 0) rc = c->vt->ref_delete(c, r->old_name, row.kind, "rename", err);
    return rc;
}

int tarn_local__ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                           const char *new_name, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(old_name, err));
    TARN_RETURN_NOT_OK(tarn_name_check_ref(new_name, err));
    if (tarn__ref_is_run_branch(old_name) || tarn__ref_is_run_branch(new_name))
        return tarn__error_set(err, TARN_EINVALID,
                               "names starting with '" RUN_BRANCH_PREFIX "' belong to runs: they are not renamed");
    if (!strcmp(new_name, "HEAD")) return tarn__error_set(err, TARN_EINVALID, "'HEAD' is reserved: choose another name");
    size_t n = strlen(new_name);
    if (n >= 7 && n <= 64 && is_hex(new_name, n))
        return tarn__error_set(err, TARN_EINVALID, "invalid name '%s': it would read as a commit hash", new_name);
    if (kind == TARN_REF_BRANCH) TARN_RETURN_NOT_OK(check_unprotected(lake, old_name, "renamed", err));
    char active[TARN_NAME_MAX + 1] = "";
    if (kind == TARN_REF_BRANCH) TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
    rename_ctx r = {kind, old_name, new_name};
    TARN_RETURN_NOT_OK(tarn__tx_run(lake, rename_tx, &r, err));
    /* The active branch follows its new name (when HEAD names it). */
    if (kind == TARN_REF_BRANCH && !strcmp(active, old_name) && !getenv("TARN_BRANCH"))
        return tarn_lake_set_active_branch(lake, new_name, err);
    return 0;
}

typedef struct prune_ctx {
    int64_t cutoff_us;
    char **names;
    size_t n, cap;
} prune_ctx;

static int consider_prune(const tarn_ref_row *r, void *arg)
{
    prune_ctx *p = arg;
    if (!r->aborted || !tarn__ref_is_run_branch(r->name) || r->updated_us > p->cutoff_us) return 0;
    TARN_RETURN_NOT_OK(tarn__reserve(&p->names, &p->cap, p->n + 1, sizeof *p->names));
    return (p->names[p->n++] = strdup(r->name)) ? 0 : TARN_ENOMEM;
}

int tarn_local__branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake,
                                     int64_t older_than_s, int dry_run, tarn_error *err)
{
    *names = NULL;
    *count = 0;
    if (older_than_s < 0) return tarn__error_set(err, TARN_EINVALID, "--older-than cannot be negative");
    prune_ctx p = {tarn__now_us() - older_than_s * 1000000, NULL, 0, 0};
    int rc = TARN_CAT(lake)->vt->ref_list(TARN_CAT(lake), TARN_REF_BRANCH, consider_prune, &p, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory listing branches");
    for (size_t i = 0; rc == 0 && !dry_run && i < p.n; i++) {
        ref_delete_ctx d = {p.names[i], TARN_REF_BRANCH};
        rc = tarn__tx_run(lake, ref_delete_tx, &d, err);
    }
    if (rc < 0) {
        for (size_t i = 0; i < p.n; i++) free(p.names[i]);
        free(p.names);
        return rc;
    }
    *names = p.names;
    *count = p.n;
    return 0;
}
