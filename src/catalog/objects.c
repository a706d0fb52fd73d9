/* catalog/objects.c — the immutable, content-addressed catalog objects:
 * data files (with statistics), table versions (schema + ordered files) and
 * trees (name -> table version, plus namespaces). */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "iceberg/iceberg.h"
#include "tarn/sys/store.h"
#include "util/error.h"
#include "util/util.h"

int tarn__data_file_insert(tarn_lake *lake, const tarn_data_file *f, tarn_error *err)
{
    return TARN_CAT(lake)->vt->file_put(TARN_CAT(lake), f, err);
}

int tarn__version_store(tarn_lake *lake, tarn_version *v, tarn_error *err)
{
    strbuf content = {0};
    sb_printf(&content, "schema %s\nparent %s\n", v->schema_json, v->parent);
    for (size_t i = 0; i < v->nfiles; i++) sb_printf(&content, "file %s\n", v->files[i]);
    tarn__sha256_hex(v->id, content.s, content.len);
    sb_free(&content);

    /* Totals come from the files' own records. */
    tarn_data_file *files = calloc(v->nfiles ? v->nfiles : 1, sizeof *files);
    if (!files) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    int rc = TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), (const char *const *)v->files, v->nfiles, files, err);
    v->row_count = v->size_bytes = 0;
    for (size_t i = 0; rc == 0 && i < v->nfiles; i++) {
        v->row_count += files[i].row_count;
        v->size_bytes += files[i].size_bytes;
    }
    for (size_t i = 0; i < v->nfiles; i++) tarn__data_file_clear(&files[i]);
    free(files);
    if (rc == TARN_ENOTFOUND) rc = TARN_EIO; /* a version may only name recorded files */
    if (rc < 0) return rc;
    v->file_count = (int64_t)v->nfiles;
    return TARN_CAT(lake)->vt->version_put(TARN_CAT(lake), v, err);
}

int tarn__version_load(tarn_version *out, tarn_lake *lake, const char *id, tarn_error *err)
{
    int rc = TARN_CAT(lake)->vt->version_get(TARN_CAT(lake), id, out, 1, err);
    if (rc == TARN_ENOTFOUND) rc = TARN_EIO; /* a tree names only stored versions */
    return rc;
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

/* Index of NAME, or -(insertion point)-1. Names compare as SQL
 * identifiers (catalog/names.h): `T` finds `t`. A tree written before that
 * rule may hold both; they sit side by side and the exact spelling wins. */
static long tree_search(const tarn_tree *t, const char *name)
{
    long lo = 0, hi = (long)t->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = tarn__name_cmp(t->entries[mid].name, name);
        if (c == 0) {
            while (mid > 0 && tarn__name_cmp(t->entries[mid - 1].name, name) == 0) mid--;
            for (long i = mid; i < (long)t->n && tarn__name_cmp(t->entries[i].name, name) == 0; i++)
                if (strcmp(t->entries[i].name, name) == 0) return i;
            return mid;
        }
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

tarn_tree_entry *tarn__tree_find_next(const tarn_tree *t, const char *name, size_t *at)
{
    /* The tree is sorted by tarn__name_order, whose first key is
     * tarn__name_cmp: names asked for in rising order move *AT forward
     * only, so a walk over a whole tree costs one pass, not a search per
     * name. The spelling rule is tree_search's. */
    size_t i = *at;
    while (i < t->n && tarn__name_cmp(t->entries[i].name, name) < 0) i++;
    *at = i;
    for (size_t k = i; k < t->n && tarn__name_cmp(t->entries[k].name, name) == 0; k++)
        if (strcmp(t->entries[k].name, name) == 0) return &t->entries[k];
    return i < t->n && tarn__name_cmp(t->entries[i].name, name) == 0 ? &t->entries[i] : NULL;
}

int tarn__tree_copy(tarn_tree *out, const tarn_tree *t)
{
    memset(out, 0, sizeof *out);
    memcpy(out->origin, t->origin, sizeof out->origin);
    if (!t->n) return 0;
    out->entries = malloc(t->n * sizeof *out->entries);
    if (!out->entries) return TARN_ENOMEM;
    out->cap = t->n;
    for (size_t i = 0; i < t->n; i++) {
        out->entries[i] = t->entries[i];
        out->entries[i].name = strdup(t->entries[i].name);
        out->n = i + 1;
        if (!out->entries[i].name) return TARN_ENOMEM;
    }
    return 0;
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
 * TARN_TREE_BUCKETS buckets by a hash of their name, each bucket is a
 * content-addressed subtree (tree_entries), and the root (trees) lists the
 * non-empty buckets' subtrees. A commit that changes one table of a
 * thousand writes one small subtree and a 64-row root, not a thousand rows.
 * The bucket function is part of the catalog format: FNV-1a, mod 64. */
unsigned tarn__tree_bucket(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
    return h % TARN_TREE_BUCKETS;
}

static int add_entry(const tarn_tree_entry *e, void *ctx)
{
    tarn_tree *out = ctx;
    tree_reserve(out, out->n + 1);
    tarn_tree_entry *copy = &out->entries[out->n++];
    *copy = *e;
    copy->name = strdup(e->name);
    return copy->name ? 0 : TARN_ENOMEM;
}

static int entry_order(const void *a, const void *b)
{
    return tarn__name_order(((const tarn_tree_entry *)a)->name, ((const tarn_tree_entry *)b)->name);
}

int tarn__tree_load(tarn_tree *out, tarn_lake *lake, const char *tree_hash, tarn_error *err)
{
    int rc = tarn__tree_cache_get(TARN_CAT(lake)->trees, tree_hash, out);
    if (rc == TARN_ENOMEM) return tarn__error_set(err, rc, "out of memory reading a tree");
    if (rc == 1) {
        snprintf(out->origin, sizeof out->origin, "%s", tree_hash);
        return 0;
    }
    rc = TARN_CAT(lake)->vt->tree_get(TARN_CAT(lake), tree_hash, add_entry, out, err);
    if (rc < 0) tarn__tree_clear(out);
    if (rc == TARN_ENOMEM) tarn__error_set(err, rc, "out of memory reading a tree");
    /* Lookups need the order names compare in, which no backend's
     * collation promises: sort here. */
    if (rc == 0 && out->n > 1) qsort(out->entries, out->n, sizeof *out->entries, entry_order);
    if (rc == 0) {
        tarn__tree_cache_put(TARN_CAT(lake)->trees, tree_hash, out, NULL, NULL);
        snprintf(out->origin, sizeof out->origin, "%s", tree_hash);
    }
    return rc;
}

/* Stores the entries of T that fall in BUCKET as a subtree; "" if none. */
static int store_bucket(char out_hash[65], tarn_lake *lake, const tarn_tree *t, unsigned bucket,
                        const unsigned char *buckets, tarn_error *err)
{
    strbuf content = {0};
    size_t count = 0;
    const tarn_tree_entry **mine = malloc((t->n ? t->n : 1) * sizeof *mine);
    for (size_t i = 0; i < t->n; i++) {
        if (buckets[i] != bucket) continue;
        /* "KIND NAME VERSION\n", written without printf: a commit of a
         * thousand tables formats a thousand of these */
        char kind[2] = {(char)('0' + t->entries[i].kind), ' '};
        sb_appendn(&content, kind, 2);
        sb_append(&content, t->entries[i].name);
        sb_appendn(&content, " ", 1);
        sb_append(&content, t->entries[i].version);
        sb_appendn(&content, "\n", 1);
        mine[count++] = &t->entries[i];
    }
    out_hash[0] = 0;
    int rc = 0;
    if (count > 0) {
        tarn__sha256_hex(out_hash, content.s, content.len);
        rc = TARN_CAT(lake)->vt->subtree_put(TARN_CAT(lake), out_hash, mine, count, err);
    }
    sb_free(&content);
    free(mine);
    return rc;
}

int tarn__tree_store(char out_hash[65], tarn_lake *lake, const tarn_tree *t, tarn_error *err)
{
    unsigned char *buckets = malloc(t->n ? t->n : 1);
    if (!buckets) return tarn__error_set(err, TARN_ENOMEM, "out of memory writing a tree");
    for (size_t i = 0; i < t->n; i++) buckets[i] = (unsigned char)tarn__tree_bucket(t->entries[i].name);
    /* Buckets unchanged since the tree it was loaded from keep their
     * subtrees, which are stored already: only the others are hashed and
     * written. */
    char sub[TARN_TREE_BUCKETS][65];
    tarn__tree_cache_subtrees(TARN_CAT(lake)->trees, t->origin, t, buckets, sub);
    unsigned used[TARN_TREE_BUCKETS];
    const char *subs[TARN_TREE_BUCKETS];
    size_t nused = 0;
    strbuf root = {0};
    int rc = 0;
    for (unsigned b = 0; b < TARN_TREE_BUCKETS && rc == 0; b++) {
        if (!sub[b][0]) rc = store_bucket(sub[b], lake, t, b, buckets, err);
        if (rc == 0 && sub[b][0]) {
            sb_printf(&root, "%u %s\n", b, sub[b]);
            used[nused] = b;
            subs[nused++] = sub[b];
        }
    }
    if (rc == 0) tarn__sha256_hex(out_hash, sb_str(&root), root.len);
    sb_free(&root);
    /* the empty tree has no rows */
    if (rc == 0 && t->n > 0) rc = TARN_CAT(lake)->vt->tree_put(TARN_CAT(lake), out_hash, used, subs, nused, err);
    if (rc == 0) tarn__tree_cache_put(TARN_CAT(lake)->trees, out_hash, t, buckets, (const char(*)[65])sub);
    free(buckets);
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
    /* The file's record lands in the same transaction as the commit, which
     * settles its upload: the lease that protected it from gc must still
     * be alive, and the object must be there. */
    tarn__fault("commit:before-lease-check");
    TARN_RETURN_NOT_OK(tarn__lease_check(lake, err));
    int64_t size = 0;
    int exists = lake->store->vt->stat(lake->store, f->key, &size, err);
    if (exists == TARN_ENOTFOUND)
        return tarn__error_set(err, TARN_EIO, "data file '%s' vanished before it was committed; nothing was committed",
                               f->key);
    if (exists < 0) return exists;
    /* An append keeps the table's schema, field ids and all; the new file
     * was written with the ids the table had when it started, which a
     * concurrent replace may have changed since. */
    if (append && !tarn__ice_schema_same_ids(old->schema_json, schema_json))
        return tarn__error_set(err, TARN_ECONFLICT,
                               "table '%s' changed while the new data was written (its columns' "
                               "field ids differ now); nothing was committed: run it again",
                               table);
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->claim_drop(TARN_CAT(lake), lake->lease.id, "upload", f->key, err));
    TARN_RETURN_NOT_OK(tarn__data_file_insert(lake, f, err));
    tarn_version v = {0};
    v.schema_json = (char *)(append ? old->schema_json : schema_json);
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
