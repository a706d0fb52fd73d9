/* catalog/commit.c — commits: creating (content-addressed), loading,
 * ancestry (via generation numbers and recursive queries), the log, and
 * the one path by which anything is committed on a branch. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

int tarn__commit_load(tarn_commit_row *out, tarn_lake *lake, const char *hash, tarn_error *err)
{
    return TARN_CAT(lake)->vt->commit_get(TARN_CAT(lake), hash, out, 0, err);
}

int tarn__commit_create(char out_hash[65], tarn_lake *lake, const char *tree_hash,
                        const char *const *parents, size_t nparents, const char *message,
                        const char *properties_json, tarn_error *err)
{
    tarn_commit_row r = {0};
    r.author = (char *)tarn__lake_author(lake);
    r.time_us = tarn__now_us();
    r.generation = 1;
    for (size_t i = 0; i < nparents; i++) {
        tarn_commit_row p;
        TARN_RETURN_NOT_OK(tarn__commit_load(&p, lake, parents[i], err));
        if (p.generation + 1 > r.generation) r.generation = p.generation + 1;
        /* Time never goes backwards along history, so REF@{time} is well defined. */
        if (p.time_us >= r.time_us) r.time_us = p.time_us + 1;
        snprintf(r.parents[i], 65, "%s", parents[i]);
    }
    r.nparents = nparents;
    r.properties_json = (char *)(properties_json && *properties_json ? properties_json : "{}");
    r.message = (char *)(message ? message : "");
    snprintf(r.tree, sizeof r.tree, "%s", tree_hash);

    strbuf content = {0};
    sb_printf(&content, "tree %s\n", tree_hash);
    for (size_t i = 0; i < nparents; i++) sb_printf(&content, "parent %s\n", parents[i]);
    sb_printf(&content, "author %s\ntime %lld\nproperties %s\n\n%s", r.author, (long long)r.time_us,
              r.properties_json, r.message);
    tarn__sha256_hex(out_hash, content.s, content.len);
    sb_free(&content);
    snprintf(r.hash, sizeof r.hash, "%s", out_hash);
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->commit_put(TARN_CAT(lake), &r, err));
    /* A commit on top of a run's unfinished or failed output carries it. */
    return TARN_CAT(lake)->vt->taint_inherit(TARN_CAT(lake), out_hash, parents, nparents, err);
}

static int found_hash(const tarn_commit_row *r, void *ctx)
{
    return strcmp(r->hash, ctx) == 0 ? 1 : 0;
}

int tarn__commit_is_ancestor(tarn_lake *lake, const char *ancestor, const char *descendant,
                             tarn_error *err)
{
    if (strcmp(ancestor, descendant) == 0) return 1;
    tarn_commit_row a, d;
    TARN_RETURN_NOT_OK(tarn__commit_load(&a, lake, ancestor, err));
    TARN_RETURN_NOT_OK(tarn__commit_load(&d, lake, descendant, err));
    if (a.generation >= d.generation) return 0;
    /* Walk up from the descendant, never below the ancestor's generation. */
    return TARN_CAT(lake)->vt->commit_walk(TARN_CAT(lake), descendant, a.generation, 0, found_hash,
                                           (void *)ancestor, err);
}

/* A set of commits met by a walk: hash, generation and time, sorted by
 * hash once complete. */
typedef struct walk_set {
    tarn_commit_row *rows;
    size_t n, cap;
} walk_set;

static int collect(const tarn_commit_row *r, void *ctx)
{
    walk_set *w = ctx;
    TARN_RETURN_NOT_OK(tarn__reserve(&w->rows, &w->cap, w->n + 1, sizeof *w->rows));
    w->rows[w->n] = *r;
    w->rows[w->n].author = w->rows[w->n].message = w->rows[w->n].properties_json = NULL;
    w->n++;
    return 0;
}

static int cmp_row_hash(const void *a, const void *b)
{
    return strcmp(((const tarn_commit_row *)a)->hash, ((const tarn_commit_row *)b)->hash);
}

int tarn__merge_base(char out[65], tarn_lake *lake, const char *a, const char *b, tarn_error *err)
{
    out[0] = 0;
    tarn_commit_row ra, rb;
    TARN_RETURN_NOT_OK(tarn__commit_load(&ra, lake, a, err));
    TARN_RETURN_NOT_OK(tarn__commit_load(&rb, lake, b, err));
    /* A common ancestor's generation is at most the smaller of the two.
     * Walk both sides down to a window below it; every ancestor of that
     * generation or more is reached (generations fall along every parent
     * edge), so the best common commit inside the window is the best of
     * all. Widen the window only when it holds none: the cost follows how
     * far the two sides diverged, not the length of history. A narrow
     * first window: a branch merged soon after it forked (the common case)
     * finds its base in a few generations, and with many merged branches
     * each generation holds many commits. */
    int64_t top = ra.generation < rb.generation ? ra.generation : rb.generation;
    int64_t window = 4;
    int rc = 0;
    for (;;) {
        int64_t min_gen = top - window > 1 ? top - window : 1;
        walk_set wa = {0}, wb = {0};
        rc = TARN_CAT(lake)->vt->commit_walk(TARN_CAT(lake), a, min_gen, 0, collect, &wa, err);
        if (rc == 0) rc = TARN_CAT(lake)->vt->commit_walk(TARN_CAT(lake), b, min_gen, 0, collect, &wb, err);
        if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory finding a merge base");
        if (rc == 0) {
            if (wb.n) qsort(wb.rows, wb.n, sizeof *wb.rows, cmp_row_hash);
            const tarn_commit_row *best = NULL;
            for (size_t i = 0; i < wa.n; i++) {
                if (!wb.n || !bsearch(&wa.rows[i], wb.rows, wb.n, sizeof *wb.rows, cmp_row_hash)) continue;
                const tarn_commit_row *c = &wa.rows[i];
                if (!best || c->generation > best->generation ||
                    (c->generation == best->generation && c->time_us > best->time_us))
                    best = c;
            }
            if (best) snprintf(out, 65, "%s", best->hash);
        }
        free(wa.rows);
        free(wb.rows);
        if (rc < 0 || out[0] || min_gen <= 1) break;
        window *= 8;
    }
    return rc;
}

static int info_load(tarn_commit_info *c, tarn_lake *lake, const char *hash, tarn_error *err)
{
    memset(c, 0, sizeof *c);
    tarn_commit_row row;
    int rc = TARN_CAT(lake)->vt->commit_get(TARN_CAT(lake), hash, &row, 1, err);
    if (rc == TARN_ENOTFOUND) return tarn__error_set(err, TARN_EIO, "catalog error: commit %.12s is missing", hash);
    if (rc < 0) return rc;
    snprintf(c->id.hex, sizeof c->id.hex, "%s", hash);
    c->author = row.author;
    c->message = row.message;
    c->properties_json = row.properties_json;
    c->time_us = row.time_us;
    c->nparents = row.nparents;
    for (size_t i = 0; i < row.nparents; i++) snprintf(c->parents[i].hex, 65, "%s", row.parents[i]);
    return 0;
}

/* The newest LIMIT commits, walking from HEAD with the newest unvisited
 * commit first: cost grows with LIMIT, not with history. */
static int log_walk(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *head,
                    size_t limit, tarn_error *err)
{
    tarn_commit_info *list = calloc(limit, sizeof *list);
    tarn_commit_info *frontier = calloc(2 * limit + 2, sizeof *frontier);
    size_t nf = 0;
    int rc = info_load(&frontier[nf++], lake, head, err);
    while (rc == 0 && nf > 0 && *count < limit) {
        size_t best = 0;
        for (size_t i = 1; i < nf; i++)
            if (frontier[i].time_us > frontier[best].time_us) best = i;
        tarn_commit_info c = frontier[best];
        frontier[best] = frontier[--nf];
        list[(*count)++] = c;
        for (size_t p = 0; p < c.nparents && rc == 0; p++) {
            int seen = 0;
            for (size_t i = 0; i < nf && !seen; i++) seen = !strcmp(frontier[i].id.hex, c.parents[p].hex);
            for (size_t i = 0; i < *count && !seen; i++) seen = !strcmp(list[i].id.hex, c.parents[p].hex);
            if (!seen && nf < 2 * limit + 2) rc = info_load(&frontier[nf++], lake, c.parents[p].hex, err);
        }
    }
    tarn_commit_info_free(frontier, nf);
    if (rc < 0) {
        tarn_commit_info_free(list, *count);
        *count = 0;
        return rc;
    }
    *out = list;
    return 0;
}

typedef struct log_list {
    tarn_commit_info *list;
    size_t n, cap;
} log_list;

static int log_add(const tarn_commit_row *r, void *ctx)
{
    log_list *l = ctx;
    TARN_RETURN_NOT_OK(tarn__reserve(&l->list, &l->cap, l->n + 1, sizeof *l->list));
    tarn_commit_info *c = &l->list[l->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->id.hex, sizeof c->id.hex, "%s", r->hash);
    c->author = strdup(r->author ? r->author : "");
    c->message = strdup(r->message ? r->message : "");
    c->properties_json = strdup(r->properties_json ? r->properties_json : "{}");
    c->time_us = r->time_us;
    c->nparents = r->nparents;
    for (size_t i = 0; i < r->nparents; i++) snprintf(c->parents[i].hex, 65, "%s", r->parents[i]);
    return 0;
}

static int cmp_newest(const void *a, const void *b)
{
    const tarn_commit_info *x = a, *y = b;
    if (x->time_us != y->time_us) return x->time_us > y->time_us ? -1 : 1;
    return strcmp(x->id.hex, y->id.hex);
}

int tarn_local__commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                           size_t limit, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    tarn_commit_id head;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&head, lake, ref, err));
    if (limit > 0 && limit <= 256) return log_walk(out, count, lake, head.hex, limit, err);
    log_list l = {0};
    int rc = TARN_CAT(lake)->vt->commit_walk(TARN_CAT(lake), head.hex, 0, 1, log_add, &l, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory reading the log");
    if (rc < 0) {
        tarn_commit_info_free(l.list, l.n);
        return rc;
    }
    /* Times rise strictly along history, so newest first is a valid order. */
    if (l.n) qsort(l.list, l.n, sizeof *l.list, cmp_newest);
    for (; limit && l.n > limit; l.n--) {
        tarn_commit_info *c = &l.list[l.n - 1];
        free(c->author);
        free(c->message);
        free(c->properties_json);
    }
    *out = l.list;
    *count = l.n;
    return 0;
}

void tarn_commit_info_free(tarn_commit_info *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i].author);
        free(list[i].message);
        free(list[i].properties_json);
    }
    free(list);
}

int tarn__tree_load_commit(tarn_tree *out, tarn_lake *lake, const char *hash, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_commit_row row;
    TARN_RETURN_NOT_OK(tarn__commit_load(&row, lake, hash, err));
    return tarn__tree_load(out, lake, row.tree, err);
}

int tarn__ref_tree(tarn_tree *out, tarn_commit_id *commit, tarn_lake *lake, const char *ref,
                   tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_commit_id id;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&id, lake, ref, err));
    tarn_commit_row row;
    TARN_RETURN_NOT_OK(tarn__commit_load(&row, lake, id.hex, err));
    if (commit) *commit = id;
    return tarn__tree_load(out, lake, row.tree, err);
}

typedef struct branch_commit_ctx {
    const char *name;
    tarn_tree_edit_fn edit;
    void *ctx;
    const char *message;
    const char *properties_json;
    const char *taint_job;
    char commit[65];
} branch_commit_ctx;

static int branch_commit_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    branch_commit_ctx *b = arg;
    tarn_tree tree = {0};
    tarn_ref_row ref;
    int rc = TARN_CAT(lake)->vt->ref_get(TARN_CAT(lake), b->name, &ref, 1, err);
    if (rc == TARN_ENOTFOUND) return tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", b->name);
    if (rc < 0) return rc;
    if (ref.kind != TARN_REF_BRANCH)
        return tarn__error_set(err, TARN_EINVALID, "'%s' is a tag: tags never move, commit on a branch", b->name);
    if (ref.aborted)
        return tarn__error_set(err, TARN_EABORTED, "branch '%s' belongs to a failed run and is read-only", b->name);
    if (!b->taint_job && tarn__ref_is_run_branch(b->name))
        return tarn__error_set(err, TARN_EINVALID, "branch '%s' is a run's: only its run writes on it", b->name);
    if ((rc = tarn__protect_check_write(lake, b->name, err)) < 0) return rc;
    tarn_commit_row head;
    if ((rc = tarn__commit_load(&head, lake, ref.commit, err)) < 0) return rc;
    snprintf(b->commit, sizeof b->commit, "%s", head.hash);
    if ((rc = tarn__tree_load(&tree, lake, head.tree, err)) < 0) return rc;
    rc = b->edit(lake, &tree, b->ctx, err);
    char tree_hash[65];
    const char *parents[1] = {head.hash};
    if (rc == 0) rc = tarn__tree_store(tree_hash, lake, &tree, err);
    if (rc == 0)
        rc = tarn__commit_create(b->commit, lake, tree_hash, parents, 1, b->message, b->properties_json, err);
    tarn__tree_clear(&tree);
    if (rc == 0 && b->taint_job) rc = TARN_CAT(lake)->vt->taint_add(TARN_CAT(lake), b->commit, b->taint_job, err);
    if (rc != 0) return rc;
    tarn__fault("commit:before-ref-update");
    rc = tarn__ref_cas(lake, b->name, head.hash, b->commit, "commit", err);
    if (rc == 0) tarn__fault("commit:before-catalog-commit");
    return rc;
}

static int branch_commit(tarn_commit_id *out, tarn_lake *lake, const char *branch, tarn_tree_edit_fn edit,
                         void *ctx, const char *message, const char *properties_json, const char *taint_job,
                         tarn_error *err)
{
    char name[TARN_NAME_MAX + 1];
    TARN_RETURN_NOT_OK(tarn__branch_name(name, lake, branch, err));
    branch_commit_ctx b = {name, edit, ctx, message, properties_json, taint_job, {0}};
    int rc = tarn__tx_run(lake, branch_commit_tx, &b, err);
    if (rc < 0) return rc;
    if (rc == 0) tarn__fault("commit:after-catalog-commit");
    /* TARN_NOTHING: the branch's head, unchanged. */
    if (out) snprintf(out->hex, sizeof out->hex, "%s", b.commit);
    return rc;
}

int tarn__branch_commit(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                        tarn_tree_edit_fn edit, void *ctx, const char *message,
                        const char *properties_json, tarn_error *err)
{
    return branch_commit(out, lake, branch, edit, ctx, message, properties_json, NULL, err);
}

int tarn__branch_commit_run(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                            tarn_tree_edit_fn edit, void *ctx, const char *message,
                            const char *properties_json, const char *job_id, tarn_error *err)
{
    return branch_commit(out, lake, branch, edit, ctx, message, properties_json, job_id, err);
}

/* ---- what a write says in its commit ---------------------------------------------------- */

#define PROPERTIES_MAX (64 * 1024)

int tarn__commit_text(char **message, char **properties, const tarn_commit_options *o,
                      const char *default_message, const char *tarn_props, tarn_error *err)
{
    *message = *properties = NULL;
    if (o && o->version != TARN_COMMIT_OPTIONS_VERSION)
        return tarn__error_set(err, TARN_EINVALID,
                               "tarn_commit_options version %d is unknown to this library (it "
                               "knows %d): rebuild against its headers",
                               o->version, TARN_COMMIT_OPTIONS_VERSION);
    json_t *props = json_loads(tarn_props && *tarn_props ? tarn_props : "{}", 0, NULL);
    if (!json_is_object(props)) {
        json_decref(props);
        return tarn__error_set(err, TARN_EIO, "tarn's own commit properties are not a JSON object");
    }
    int rc = 0;
    const char *given = o ? o->properties_json : NULL;
    if (given && *given) {
        json_error_t jerr;
        json_t *extra = strlen(given) > PROPERTIES_MAX ? NULL : json_loads(given, 0, &jerr);
        const char *key;
        json_t *v;
        if (!json_is_object(extra))
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "commit properties must be a JSON object of text values, such as "
                                 "{\"ticket\": \"DATA-42\"}, of at most 64 KiB");
        json_object_foreach(extra, key, v)
        {
            if (rc < 0) break;
            if (!*key || !json_is_string(v))
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "commit property '%s' must have a name and a text value", key);
            else if (json_object_get(props, key))
                rc = tarn__error_set(err, TARN_EINVALID,
                                     "commit property '%s' is one tarn sets on this commit itself: "
                                     "name yours otherwise",
                                     key);
            else json_object_set(props, key, v);
        }
        json_decref(extra);
    }
    if (rc == 0) {
        strbuf m = {0};
        const char *first = o && o->message && *o->message ? o->message : default_message;
        sb_append(&m, first ? first : "");
        if (o && o->body && *o->body) sb_printf(&m, "\n\n%s", o->body);
        *message = m.s ? m.s : strdup("");
        *properties = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(props);
    return rc;
}
