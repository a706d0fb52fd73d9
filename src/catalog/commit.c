/* catalog/commit.c — commits: creating (content-addressed), loading,
 * ancestry (via generation numbers and recursive queries), the log, and
 * the one path by which anything is committed on a branch. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

int tarn__commit_load(tarn_commit_row *out, tarn_lake *lake, const char *hash, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT tree, time_us, generation FROM commits WHERE hash=?", err));
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return tarn__error_set(err, TARN_ENOTFOUND, "commit %s not found", hash);
    }
    snprintf(out->hash, sizeof out->hash, "%s", hash);
    snprintf(out->tree, sizeof out->tree, "%s", (const char *)sqlite3_column_text(st, 0));
    out->time_us = sqlite3_column_int64(st, 1);
    out->generation = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT parent FROM commit_parents WHERE child=? ORDER BY ord LIMIT 2", err));
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out->parents[out->nparents++], 65, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return 0;
}

int tarn__commit_create(char out_hash[65], tarn_lake *lake, const char *tree_hash,
                        const char *const *parents, size_t nparents, const char *message,
                        const char *properties_json, tarn_error *err)
{
    const char *author = tarn__lake_author(lake);
    int64_t now = tarn__now_us();
    int64_t generation = 1;
    for (size_t i = 0; i < nparents; i++) {
        tarn_commit_row p;
        TARN_RETURN_NOT_OK(tarn__commit_load(&p, lake, parents[i], err));
        if (p.generation + 1 > generation) generation = p.generation + 1;
        /* Time never goes backwards along history, so REF@{time} is well defined. */
        if (p.time_us >= now) now = p.time_us + 1;
    }
    if (!properties_json || !*properties_json) properties_json = "{}";
    if (!message) message = "";

    strbuf content = {0};
    sb_printf(&content, "tree %s\n", tree_hash);
    for (size_t i = 0; i < nparents; i++) sb_printf(&content, "parent %s\n", parents[i]);
    sb_printf(&content, "author %s\ntime %lld\nproperties %s\n\n%s", author, (long long)now,
              properties_json, message);
    tarn__sha256_hex(out_hash, content.s, content.len);
    sb_free(&content);

    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO commits VALUES(?,?,?,?,?,?,?)", err));
    sqlite3_bind_text(st, 1, out_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tree_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, author, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_text(st, 6, properties_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, generation);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : tarn__db_error(lake, err, "writing a commit");
    sqlite3_finalize(st);
    if (rc < 0) return rc;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO commit_parents VALUES(?,?,?)", err));
    for (size_t i = 0; i < nparents && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, out_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)i);
        sqlite3_bind_text(st, 3, parents[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = tarn__db_error(lake, err, "writing commit parents");
    }
    sqlite3_finalize(st);
    return rc;
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
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "WITH RECURSIVE up(h) AS (SELECT ?1 UNION "
        "  SELECT p.parent FROM commit_parents p JOIN up ON p.child = up.h "
        "  JOIN commits c ON c.hash = p.parent WHERE c.generation >= ?3) "
        "SELECT 1 FROM up WHERE h = ?2 LIMIT 1",
        err));
    sqlite3_bind_text(st, 1, descendant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ancestor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a.generation);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return tarn__db_error(lake, err, "walking history");
}

int tarn__merge_base(char out[65], tarn_lake *lake, const char *a, const char *b, tarn_error *err)
{
    out[0] = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "WITH RECURSIVE "
        " ua(h) AS (SELECT ?1 UNION SELECT p.parent FROM commit_parents p JOIN ua ON p.child = ua.h),"
        " ub(h) AS (SELECT ?2 UNION SELECT p.parent FROM commit_parents p JOIN ub ON p.child = ub.h) "
        /* IN, not JOIN: each ancestor set is built once (a join rescans one
         * per row of the other, O(history^2)). */
        "SELECT c.hash FROM commits c WHERE c.hash IN (SELECT h FROM ua) AND c.hash IN (SELECT h FROM ub) "
        "ORDER BY c.generation DESC, c.time_us DESC LIMIT 1",
        err));
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return tarn__db_error(lake, err, "finding a merge base");
    return 0;
}

static int info_load(tarn_commit_info *c, tarn_lake *lake, const char *hash, tarn_error *err)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT author, message, time_us, properties FROM commits WHERE hash = ?", err));
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return tarn__error_set(err, TARN_EIO, "catalog error: commit %.12s is missing", hash);
    }
    snprintf(c->id.hex, sizeof c->id.hex, "%s", hash);
    c->author = strdup((const char *)sqlite3_column_text(st, 0));
    c->message = strdup((const char *)sqlite3_column_text(st, 1));
    c->time_us = sqlite3_column_int64(st, 2);
    c->properties_json = strdup((const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    tarn_commit_row row;
    TARN_RETURN_NOT_OK(tarn__commit_load(&row, lake, hash, err));
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

int tarn_commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                    size_t limit, tarn_error *err)
{
    *out = NULL;
    *count = 0;
    tarn_commit_id head;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&head, lake, ref, err));
    if (limit > 0 && limit <= 256) return log_walk(out, count, lake, head.hex, limit, err);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "WITH RECURSIVE anc(h) AS (SELECT ?1 UNION "
        "  SELECT p.parent FROM commit_parents p JOIN anc ON p.child = anc.h) "
        "SELECT c.hash, c.author, c.message, c.time_us, c.properties, "
        "  (SELECT parent FROM commit_parents WHERE child = c.hash AND ord = 0), "
        "  (SELECT parent FROM commit_parents WHERE child = c.hash AND ord = 1) "
        "FROM commits c JOIN anc ON anc.h = c.hash "
        "ORDER BY c.time_us DESC, c.generation DESC LIMIT ?2",
        err));
    sqlite3_bind_text(st, 1, head.hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    size_t cap = 0;
    tarn_commit_info *list = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            list = realloc(list, cap * sizeof *list);
        }
        tarn_commit_info *c = &list[(*count)++];
        memset(c, 0, sizeof *c);
        snprintf(c->id.hex, sizeof c->id.hex, "%s", (const char *)sqlite3_column_text(st, 0));
        c->author = strdup((const char *)sqlite3_column_text(st, 1));
        c->message = strdup((const char *)sqlite3_column_text(st, 2));
        c->time_us = sqlite3_column_int64(st, 3);
        c->properties_json = strdup((const char *)sqlite3_column_text(st, 4));
        for (int p = 0; p < 2; p++)
            if (sqlite3_column_type(st, 5 + p) != SQLITE_NULL)
                snprintf(c->parents[c->nparents++].hex, 65, "%s",
                         (const char *)sqlite3_column_text(st, 5 + p));
    }
    sqlite3_finalize(st);
    *out = list;
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

int tarn__branch_commit(tarn_commit_id *out, tarn_lake *lake, const char *branch,
                        tarn_tree_edit_fn edit, void *ctx, const char *message,
                        const char *properties_json, tarn_error *err)
{
    char name[TARN_NAME_MAX + 1];
    TARN_RETURN_NOT_OK(tarn__branch_name(name, lake, branch, err));
    tarn_tree tree = {0};
    int rc = tarn__tx_begin(lake, err);
    if (rc < 0) return rc;
    tarn_ref_row ref;
    if ((rc = tarn__ref_get(&ref, lake, name, err)) < 0) {
        if (rc == TARN_ENOTFOUND)
            rc = tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", name);
        goto fail;
    }
    if (ref.kind != TARN_REF_BRANCH) {
        rc = tarn__error_set(err, TARN_EINVALID, "'%s' is a tag: tags never move, commit on a branch", name);
        goto fail;
    }
    if (ref.aborted) {
        rc = tarn__error_set(err, TARN_EABORTED,
                             "branch '%s' belongs to a failed run and is read-only", name);
        goto fail;
    }
    tarn_commit_row head;
    if ((rc = tarn__commit_load(&head, lake, ref.commit, err)) < 0) goto fail;
    if ((rc = tarn__tree_load(&tree, lake, head.tree, err)) < 0) goto fail;
    rc = edit(lake, &tree, ctx, err);
    if (rc < 0) goto fail;
    if (rc == TARN_NOTHING) {
        tarn__tx_rollback(lake);
        tarn__tree_clear(&tree);
        if (out) snprintf(out->hex, sizeof out->hex, "%s", head.hash);
        return TARN_NOTHING;
    }
    char tree_hash[65], commit[65];
    const char *parents[1] = {head.hash};
    if ((rc = tarn__tree_store(tree_hash, lake, &tree, err)) < 0) goto fail;
    if ((rc = tarn__commit_create(commit, lake, tree_hash, parents, 1, message, properties_json,
                                  err)) < 0)
        goto fail;
    tarn__fault("commit:before-ref-update");
    if ((rc = tarn__ref_cas(lake, name, head.hash, commit, "commit", err)) < 0) goto fail;
    tarn__fault("commit:before-catalog-commit");
    if ((rc = tarn__tx_commit(lake, err)) < 0) goto done;
    tarn__fault("commit:after-catalog-commit");
    if (out) snprintf(out->hex, sizeof out->hex, "%s", commit);
    rc = 0;
    goto done;
fail:
    tarn__tx_rollback(lake);
done:
    tarn__tree_clear(&tree);
    return rc;
}
