/* catalog/objects.c — the immutable, content-addressed catalog objects:
 * data files (with statistics), table versions (schema + ordered files) and
 * trees (name -> table version, plus namespaces). */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

int tarn__data_file_insert(tarn_lake *lake, const tarn_data_file *f, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake,
                                     "INSERT OR IGNORE INTO data_files VALUES(?,?,?,?,?)", err));
    sqlite3_bind_text(st, 1, f->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->row_count);
    sqlite3_bind_int64(st, 3, f->size_bytes);
    sqlite3_bind_text(st, 4, f->stats_json ? f->stats_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, tarn__now_us());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : tarn__db_error(lake, err, "recording a data file");
    sqlite3_finalize(st);
    return rc;
}

int tarn__version_store(tarn_lake *lake, tarn_version *v, tarn_error *err)
{
    strbuf content = {0};
    sb_printf(&content, "schema %s\nparent %s\n", v->schema_json, v->parent);
    for (size_t i = 0; i < v->nfiles; i++) sb_printf(&content, "file %s\n", v->files[i]);
    tarn__sha256_hex(v->id, content.s, content.len);
    sb_free(&content);

    /* Totals come from the files' own records. */
    sqlite3_stmt *st = NULL;
    int rc = tarn__prepare(&st, lake, "SELECT row_count, size_bytes FROM data_files WHERE key=?", err);
    if (rc < 0) return rc;
    v->row_count = v->size_bytes = 0;
    for (size_t i = 0; i < v->nfiles; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, v->files[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            return tarn__error_set(err, TARN_EIO, "catalog error: data file '%s' is not recorded",
                                   v->files[i]);
        }
        v->row_count += sqlite3_column_int64(st, 0);
        v->size_bytes += sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);

    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake,
                                     "INSERT OR IGNORE INTO table_versions VALUES(?,?,?,?,?,?)", err));
    sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->schema_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v->parent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, v->row_count);
    sqlite3_bind_int64(st, 5, (int64_t)v->nfiles);
    sqlite3_bind_int64(st, 6, v->size_bytes);
    rc = sqlite3_step(st);
    int inserted = sqlite3_changes(lake->db) > 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return tarn__db_error(lake, err, "recording a table version");
    if (!inserted) return 0; /* the same version exists already, files and all */

    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO version_files VALUES(?,?,?)", err));
    rc = 0;
    for (size_t i = 0; i < v->nfiles && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_text(st, 3, v->files[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = tarn__db_error(lake, err, "recording version files");
    }
    sqlite3_finalize(st);
    return rc;
}

int tarn__version_load(tarn_version *out, tarn_lake *lake, const char *id, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake, "SELECT schema, parent, row_count, size_bytes FROM table_versions WHERE id=?", err));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return tarn__error_set(err, TARN_EIO, "catalog error: table version %.12s is missing", id);
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    out->schema_json = strdup((const char *)sqlite3_column_text(st, 0));
    snprintf(out->parent, sizeof out->parent, "%s", (const char *)sqlite3_column_text(st, 1));
    out->row_count = sqlite3_column_int64(st, 2);
    out->size_bytes = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);

    TARN_RETURN_NOT_OK(
        tarn__prepare(&st, lake, "SELECT file FROM version_files WHERE version=? ORDER BY ord", err));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (out->nfiles == cap) {
            cap = cap ? cap * 2 : 8;
            out->files = realloc(out->files, cap * sizeof *out->files);
        }
        out->files[out->nfiles++] = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return 0;
}

void tarn__version_clear(tarn_version *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->nfiles; i++) free(v->files[i]);
    free(v->files);
    free(v->schema_json);
    memset(v, 0, sizeof *v);
}

/* ---- trees --------------------------------------------------------------- */

static void tree_reserve(tarn_tree *t, size_t n)
{
    if (n <= t->cap) return;
    size_t cap = t->cap ? t->cap * 2 : 16;
    while (cap < n) cap *= 2;
    t->entries = realloc(t->entries, cap * sizeof *t->entries);
    t->cap = cap;
}

/* Index of NAME, or -(insertion point)-1. */
static long tree_search(const tarn_tree *t, const char *name)
{
    long lo = 0, hi = (long)t->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = strcmp(t->entries[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -lo - 1;
}

tarn_tree_entry *tarn__tree_find(const tarn_tree *t, const char *name)
{
    long i = tree_search(t, name);
    return i >= 0 ? &t->entries[i] : NULL;
}

void tarn__tree_set(tarn_tree *t, const char *name, tarn_entry_kind kind, const char *version)
{
    long i = tree_search(t, name);
    if (i < 0) {
        size_t at = (size_t)(-i - 1);
        tree_reserve(t, t->n + 1);
        memmove(&t->entries[at + 1], &t->entries[at], (t->n - at) * sizeof *t->entries);
        t->entries[at].name = strdup(name);
        t->n++;
        i = (long)at;
    }
    t->entries[i].kind = kind;
    snprintf(t->entries[i].version, sizeof t->entries[i].version, "%s", version ? version : "");
}

int tarn__tree_remove(tarn_tree *t, const char *name)
{
    long i = tree_search(t, name);
    if (i < 0) return 0;
    free(t->entries[i].name);
    memmove(&t->entries[i], &t->entries[i + 1], (t->n - (size_t)i - 1) * sizeof *t->entries);
    t->n--;
    return 1;
}

void tarn__tree_clear(tarn_tree *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->entries[i].name);
    free(t->entries);
    memset(t, 0, sizeof *t);
}

/* A tree is stored in two levels, like git's: the entries are spread over
 * TREE_BUCKETS buckets by a hash of their name, each bucket is a
 * content-addressed subtree (tree_entries), and the root (trees) lists the
 * non-empty buckets' subtrees. A commit that changes one table of a
 * thousand writes one small subtree and a 64-row root, not a thousand rows.
 * The bucket function is part of the catalog format: FNV-1a, mod 64. */
#define TREE_BUCKETS 64

static unsigned bucket_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
    return h % TREE_BUCKETS;
}

int tarn__tree_load(tarn_tree *out, tarn_lake *lake, const char *tree_hash, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake,
                                     "SELECT e.name, e.kind, e.version FROM trees t "
                                     "JOIN tree_entries e ON e.tree = t.subtree "
                                     "WHERE t.tree = ? ORDER BY e.name",
                                     err));
    sqlite3_bind_text(st, 1, tree_hash, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tree_reserve(out, out->n + 1);
        tarn_tree_entry *e = &out->entries[out->n++];
        e->name = strdup((const char *)sqlite3_column_text(st, 0));
        e->kind = (tarn_entry_kind)sqlite3_column_int(st, 1);
        snprintf(e->version, sizeof e->version, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        tarn__tree_clear(out);
        return tarn__db_error(lake, err, "reading a tree");
    }
    /* SQLite's ORDER BY uses the same byte order as strcmp (BINARY collation). */
    return 0;
}

static int exists(tarn_lake *lake, const char *sql, const char *hash, int *found, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, sql, err));
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    *found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return 0;
}

/* Stores the entries of T that fall in BUCKET as a subtree; "" if none. */
static int store_bucket(char out_hash[65], tarn_lake *lake, const tarn_tree *t, unsigned bucket,
                        const unsigned char *buckets, tarn_error *err)
{
    strbuf content = {0};
    size_t count = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (buckets[i] != bucket) continue;
        sb_printf(&content, "%d %s %s\n", (int)t->entries[i].kind, t->entries[i].name,
                  t->entries[i].version);
        count++;
    }
    out_hash[0] = 0;
    if (count == 0) return 0;
    tarn__sha256_hex(out_hash, content.s, content.len);
    sb_free(&content);
    int found;
    TARN_RETURN_NOT_OK(exists(lake, "SELECT 1 FROM tree_entries WHERE tree=? LIMIT 1", out_hash, &found, err));
    if (found) return 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO tree_entries VALUES(?,?,?,?)", err));
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        if (buckets[i] != bucket) continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, out_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->entries[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)t->entries[i].kind);
        sqlite3_bind_text(st, 4, t->entries[i].version, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = tarn__db_error(lake, err, "writing a tree");
    }
    sqlite3_finalize(st);
    return rc;
}

int tarn__tree_store(char out_hash[65], tarn_lake *lake, const tarn_tree *t, tarn_error *err)
{
    unsigned char *buckets = malloc(t->n ? t->n : 1);
    for (size_t i = 0; i < t->n; i++) buckets[i] = (unsigned char)bucket_of(t->entries[i].name);
    char sub[TREE_BUCKETS][65];
    strbuf root = {0};
    int rc = 0;
    for (unsigned b = 0; b < TREE_BUCKETS && rc == 0; b++) {
        rc = store_bucket(sub[b], lake, t, b, buckets, err);
        if (rc == 0 && sub[b][0]) sb_printf(&root, "%u %s\n", b, sub[b]);
    }
    free(buckets);
    if (rc < 0) {
        sb_free(&root);
        return rc;
    }
    tarn__sha256_hex(out_hash, sb_str(&root), root.len);
    sb_free(&root);
    int found;
    TARN_RETURN_NOT_OK(exists(lake, "SELECT 1 FROM trees WHERE tree=? LIMIT 1", out_hash, &found, err));
    if (found || t->n == 0) return 0; /* the empty tree has no rows */
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(&st, lake, "INSERT INTO trees VALUES(?,?,?)", err));
    for (unsigned b = 0; b < TREE_BUCKETS && rc == 0; b++) {
        if (!sub[b][0]) continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, out_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)b);
        sqlite3_bind_text(st, 3, sub[b], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = tarn__db_error(lake, err, "writing a tree");
    }
    sqlite3_finalize(st);
    return rc;
}

void tarn__qualify_table(char *out, size_t size, const char *name)
{
    if (strchr(name, '.')) snprintf(out, size, "%s", name);
    else snprintf(out, size, "default.%s", name);
}

void tarn__tree_ensure_namespace(tarn_tree *t, const char *table)
{
    const char *dot = strchr(table, '.');
    char ns[300];
    snprintf(ns, sizeof ns, "%.*s", (int)(dot ? dot - table : (long)strlen(table)), table);
    if (!tarn__tree_find(t, ns)) tarn__tree_set(t, ns, TARN_ENTRY_NAMESPACE, "");
}

int tarn__tree_put_file(tarn_lake *lake, tarn_tree *tree, const char *table, const tarn_version *old,
                        int append, const char *schema_json, const tarn_data_file *f,
                        tarn_error *err)
{
    /* The file's record lands in the same transaction as the commit. */
    TARN_RETURN_NOT_OK(tarn__data_file_insert(lake, f, err));
    tarn_version v = {0};
    v.schema_json = (char *)schema_json;
    snprintf(v.parent, sizeof v.parent, "%s", old->id);
    size_t keep = append ? old->nfiles : 0;
    v.nfiles = keep + 1;
    v.files = malloc(v.nfiles * sizeof *v.files);
    if (!v.files) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < keep; i++) v.files[i] = old->files[i];
    v.files[keep] = f->key;
    int rc = tarn__version_store(lake, &v, err);
    free(v.files); /* the strings belong to OLD and F */
    if (rc < 0) return rc;
    tarn__tree_ensure_namespace(tree, table);
    tarn__tree_set(tree, table, TARN_ENTRY_TABLE, v.id);
    return 0;
}

const char *tarn__tree_nearest_table(const tarn_tree *t, const char *name, size_t *dist)
{
    const char *best = NULL;
    if (!strncmp(name, "default.", 8)) name += 8;
    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].kind != TARN_ENTRY_TABLE) continue;
        const char *cand = t->entries[i].name;
        if (!strncmp(cand, "default.", 8)) cand += 8;
        size_t d = tarn__edit_distance(cand, name);
        if (d < *dist) {
            *dist = d;
            best = cand;
        }
    }
    return best;
}
