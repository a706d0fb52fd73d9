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
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(
        tarn__prepare(&st, lake, "SELECT commit_hash, kind, aborted FROM refs WHERE name=?", err));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->commit, sizeof out->commit, "%s", (const char *)sqlite3_column_text(st, 0));
        out->kind = (tarn_ref_kind)sqlite3_column_int(st, 1);
        out->aborted = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return TARN_ENOTFOUND;
    return tarn__db_error(lake, err, "reading a ref");
}

static int ref_log(tarn_lake *lake, const char *name, const char *commit, const char *reason,
                   tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "INSERT INTO ref_log(name, commit_hash, time_us, reason) VALUES(?,?,?,?)", err));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, commit, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tarn__now_us());
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : tarn__db_error(lake, err, "logging a ref move");
    sqlite3_finalize(st);
    return rc;
}

int tarn__ref_insert(tarn_lake *lake, const char *name, tarn_ref_kind kind, const char *commit,
                     tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO refs VALUES(?,?,?,0,?)", err));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_text(st, 3, commit, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, tarn__now_us());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return tarn__error_set(err, TARN_EEXISTS, "a branch or tag named '%s' already exists", name);
    if (rc != SQLITE_DONE) return tarn__db_error(lake, err, "creating a ref");
    return ref_log(lake, name, commit, "create", err);
}

int tarn__ref_cas(tarn_lake *lake, const char *name, const char *expected, const char *commit,
                  const char *reason, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "UPDATE refs SET commit_hash=?1, updated_us=?4 WHERE name=?2 AND commit_hash=?3 AND kind=0",
        err));
    sqlite3_bind_text(st, 1, commit, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, expected, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, tarn__now_us());
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(lake->db);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return tarn__db_error(lake, err, "moving a branch");
    if (changed != 1)
        return tarn__error_set(err, TARN_ECONFLICT,
                               "branch '%s' moved while this change was being made; nothing was "
                               "changed (run it again)",
                               name);
    return ref_log(lake, name, commit, reason, err);
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

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return n > 0;
}

static int resolve_hash_prefix(char out[65], tarn_lake *lake, const char *prefix, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT hash FROM commits WHERE hash >= ?1 AND hash < ?1 || 'g' LIMIT 2", err));
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int found = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (found++ == 0) snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (found == 0) return TARN_ENOTFOUND;
    if (found > 1)
        return tarn__error_set(err, TARN_EAMBIGUOUS,
                               "'%s' is ambiguous: several commits start with it (give more digits)",
                               prefix);
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
    return tarn__error_set(err, TARN_ENOTFOUND,
                           "unknown ref '%s': no branch, tag or commit has that name (see 'tarn branch ls')",
                           name);
}

/* The commit NAME pointed at, at instant T (from the ref log). */
static int resolve_at_time(char out[65], tarn_lake *lake, const char *name, int64_t t,
                           const char *whole, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "SELECT commit_hash FROM ref_log WHERE name=? AND time_us<=? ORDER BY time_us DESC, id DESC LIMIT 1",
        err));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW && out[0]) return 0;
    if (rc == SQLITE_ROW) /* the log says it was deleted by then */
        return tarn__error_set(err, TARN_ENOTFOUND, "'%s' did not exist at that time", name);
    if (rc != SQLITE_DONE) return tarn__db_error(lake, err, "reading the ref log");
    /* Not a branch or tag name: a commit; take its newest first-parent
     * ancestor made at or before T. */
    char c[65];
    TARN_RETURN_NOT_OK(resolve_base(c, lake, name, whole, err));
    tarn_ref_row row;
    if (tarn__ref_get(&row, lake, name, NULL) == 0)
        return tarn__error_set(err, TARN_ENOTFOUND, "'%s' did not exist at that time", name);
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

int tarn_ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err)
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

int tarn_ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                  tarn_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT name, commit_hash, aborted FROM refs WHERE kind=? ORDER BY name", err));
    sqlite3_bind_int(st, 1, (int)kind);
    size_t cap = 0;
    tarn_ref_entry *list = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            list = realloc(list, cap * sizeof *list);
        }
        tarn_ref_entry *e = &list[(*count)++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(e->commit.hex, sizeof e->commit.hex, "%s", (const char *)sqlite3_column_text(st, 1));
        e->kind = kind;
        e->aborted = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    *out = list;
    return 0;
}

static int ref_create(tarn_commit_id *out, tarn_lake *lake, const char *name, tarn_ref_kind kind,
                      const char *from_ref, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(name, err));
    if (strcmp(name, "HEAD") == 0)
        return tarn__error_set(err, TARN_EINVALID, "'HEAD' is reserved: choose another name");
    size_t n = strlen(name);
    if (n >= 7 && n <= 64 && is_hex(name, n))
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid name '%s': it would read as a commit hash", name);
    tarn_commit_id at;
    TARN_RETURN_NOT_OK(tarn_ref_resolve(&at, lake, from_ref, err));
    TARN_RETURN_NOT_OK(tarn__tx_begin(lake, err));
    int rc = tarn__ref_insert(lake, name, kind, at.hex, err);
    if (rc == TARN_EEXISTS) {
        tarn_ref_row row;
        if (tarn__ref_get(&row, lake, name, NULL) == 0)
            tarn__error_set(err, TARN_EEXISTS, "%s '%s' already exists",
                            row.kind == TARN_REF_BRANCH ? "branch" : "tag", name);
    }
    if (rc < 0) {
        tarn__tx_rollback(lake);
        return rc;
    }
    TARN_RETURN_NOT_OK(tarn__tx_commit(lake, err));
    if (out) *out = at;
    return 0;
}

static int ref_delete(tarn_lake *lake, const char *name, tarn_ref_kind kind, tarn_error *err)
{
    const char *what = kind == TARN_REF_BRANCH ? "branch" : "tag";
    TARN_RETURN_NOT_OK(tarn_name_check_ref(name, err));
    if (kind == TARN_REF_BRANCH) {
        char active[TARN_NAME_MAX + 1];
        TARN_RETURN_NOT_OK(tarn_lake_active_branch(active, sizeof active, lake, err));
        if (strcmp(active, name) == 0)
            return tarn__error_set(err, TARN_EINVALID,
                                   "cannot delete the active branch '%s' (check out another first)", name);
    }
    TARN_RETURN_NOT_OK(tarn__tx_begin(lake, err));
    tarn_ref_row row;
    int rc = tarn__ref_get(&row, lake, name, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && row.kind != kind))
        rc = tarn__error_set(err, TARN_ENOTFOUND, "%s '%s' does not exist", what, name);
    sqlite3_stmt *st = NULL;
    if (rc == 0) rc = tarn__prepare(&st, lake, "DELETE FROM refs WHERE name=? AND kind=?", err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)kind);
        if (sqlite3_step(st) != SQLITE_DONE) rc = tarn__db_error(lake, err, "deleting a ref");
        sqlite3_finalize(st);
    }
    if (rc == 0) rc = ref_log(lake, name, "", "delete", err);
    if (rc < 0) {
        tarn__tx_rollback(lake);
        return rc;
    }
    return tarn__tx_commit(lake, err);
}

int tarn_branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                       const char *from_ref, tarn_error *err)
{
    return ref_create(out, lake, name, TARN_REF_BRANCH, from_ref, err);
}

int tarn_branch_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return ref_delete(lake, name, TARN_REF_BRANCH, err);
}

int tarn_tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name, const char *from_ref,
                    tarn_error *err)
{
    return ref_create(out, lake, name, TARN_REF_TAG, from_ref, err);
}

int tarn_tag_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return ref_delete(lake, name, TARN_REF_TAG, err);
}

int tarn__branch_mark_aborted(tarn_lake *lake, const char *name, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "UPDATE refs SET aborted = 1 WHERE name = ? AND kind = 0", err));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : tarn__db_error(lake, err, "marking a branch aborted");
    sqlite3_finalize(st);
    return rc;
}
