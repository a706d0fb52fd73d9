/* catalog/tree_cache.c — the trees a catalog handle read or wrote lately,
 * kept by root hash, so that a commit or a merge in a long-lived process
 * (the server, the Python SDK, a pipeline) reads its trees from memory and
 * re-stores only the buckets it changed.
 *
 * A tree is named by the hash of its content, so a kept tree is never
 * stale. What must never happen is reusing the subtree hash of a tree whose
 * rows do not exist: trees kept inside a transaction are kept aside
 * (pending) until it commits and forgotten if it rolls back. Transactions
 * started and ended through tarn__tx_begin/commit/rollback tell the cache
 * (tarn__tree_cache_tx); every transaction that writes trees goes through
 * them.
 *
 * Bounded: at most CACHE_TREES trees and CACHE_ENTRIES entries in all, the
 * least recently used forgotten first. A mutex guards it, as threads may
 * share a catalog handle. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"

#define CACHE_TREES 8
#define CACHE_ENTRIES (1u << 17)

typedef struct cached_tree {
    char root[65]; /* "" for a free slot */
    tarn_tree tree;
    unsigned char *bucket;           /* each entry's bucket */
    char sub[TARN_TREE_BUCKETS][65]; /* each bucket's subtree, "" unknown or empty */
    uint64_t used;
    int pending; /* kept inside the open transaction */
} cached_tree;

struct tarn__tree_cache {
    pthread_mutex_t mu;
    cached_tree slot[CACHE_TREES];
    size_t entries;
    uint64_t clock;
    int in_tx;
};

int tarn__tree_cache_open(tarn__tree_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return TARN_ENOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return 0;
}

static void forget(tarn__tree_cache *tc, cached_tree *s)
{
    tc->entries -= s->tree.n;
    tarn__tree_clear(&s->tree);
    free(s->bucket);
    memset(s, 0, sizeof *s);
}

void tarn__tree_cache_close(tarn__tree_cache **tc)
{
    if (!tc || !*tc) return;
    for (int i = 0; i < CACHE_TREES; i++)
        forget(*tc, &(*tc)->slot[i]);
    pthread_mutex_destroy(&(*tc)->mu);
    free(*tc);
    *tc = NULL;
}

static cached_tree *find(tarn__tree_cache *tc, const char *root)
{
    for (int i = 0; i < CACHE_TREES; i++)
        if (tc->slot[i].root[0] && !strcmp(tc->slot[i].root, root)) return &tc->slot[i];
    return NULL;
}

int tarn__tree_cache_get(tarn__tree_cache *tc, const char *root, tarn_tree *out)
{
    memset(out, 0, sizeof *out);
    if (!tc) return 0;
    pthread_mutex_lock(&tc->mu);
    /* Only a transaction reads a kept tree (to change it). Outside one a
     * tree is read to be looked at, and the backend brings along what
     * looking needs (PostgreSQL: its tables' versions, in the same round
     * trip). */
    cached_tree *s = tc->in_tx ? find(tc, root) : NULL;
    int rc = 0;
    if (s) {
        s->used = ++tc->clock;
        rc = tarn__tree_copy(out, &s->tree) < 0 ? TARN_ENOMEM : 1;
        if (rc < 0) tarn__tree_clear(out);
    }
    pthread_mutex_unlock(&tc->mu);
    return rc;
}

void tarn__tree_cache_put(tarn__tree_cache *tc, const char *root, const tarn_tree *t,
                          const unsigned char *bucket, const char (*sub)[65])
{
    if (!tc || t->n > CACHE_ENTRIES) return;
    pthread_mutex_lock(&tc->mu);
    cached_tree *s = find(tc, root);
    if (s) { /* known already: it may now know its subtrees (not from an
              * open transaction's rows, unless it was kept by that one) */
        s->used = ++tc->clock;
        for (int b = 0; sub && (s->pending || !tc->in_tx) && b < TARN_TREE_BUCKETS; b++)
            if (!s->sub[b][0]) memcpy(s->sub[b], sub[b], 65);
        goto done;
    }
    /* Room: a free slot, else the least recently used; then entries. */
    for (;;) {
        cached_tree *victim = NULL;
        for (int i = 0; i < CACHE_TREES; i++) {
            cached_tree *c = &tc->slot[i];
            if (!c->root[0]) {
                if (tc->entries + t->n <= CACHE_ENTRIES) {
                    s = c;
                    break;
                }
                continue;
            }
            if (!victim || c->used < victim->used) victim = c;
        }
        if (s || !victim) break;
        forget(tc, victim);
    }
    if (!s) goto done;
    s->bucket = malloc(t->n ? t->n : 1);
    if (!s->bucket || tarn__tree_copy(&s->tree, t) < 0) {
        tarn__tree_clear(&s->tree);
        free(s->bucket);
        memset(s, 0, sizeof *s);
        goto done;
    }
    for (size_t i = 0; i < t->n; i++)
        s->bucket[i] = bucket ? bucket[i] : (unsigned char)tarn__tree_bucket(t->entries[i].name);
    if (sub) memcpy(s->sub, sub, sizeof s->sub);
    snprintf(s->root, sizeof s->root, "%s", root);
    s->used = ++tc->clock;
    s->pending = tc->in_tx;
    tc->entries += t->n;
done:
    pthread_mutex_unlock(&tc->mu);
}

/* Indices of T's entries grouped by bucket, each group in T's order:
 * group B is ORDER[START[B] .. START[B + 1]). */
static int group(size_t **order, size_t start[TARN_TREE_BUCKETS + 1], const tarn_tree *t,
                 const unsigned char *bucket)
{
    memset(start, 0, (TARN_TREE_BUCKETS + 1) * sizeof *start);
    *order = malloc((t->n ? t->n : 1) * sizeof **order);
    if (!*order) return TARN_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        start[bucket[i] + 1]++;
    for (int b = 0; b < TARN_TREE_BUCKETS; b++)
        start[b + 1] += start[b];
    size_t next[TARN_TREE_BUCKETS];
    memcpy(next, start, sizeof next);
    for (size_t i = 0; i < t->n; i++)
        (*order)[next[bucket[i]]++] = i;
    return 0;
}

static int same_entry(const tarn_tree_entry *a, const tarn_tree_entry *b)
{
    return a->kind == b->kind && !strcmp(a->name, b->name) && !strcmp(a->version, b->version);
}

void tarn__tree_cache_subtrees(tarn__tree_cache *tc, const char *origin, const tarn_tree *t,
                               const unsigned char *bucket, char sub[][65])
{
    for (int b = 0; b < TARN_TREE_BUCKETS; b++)
        sub[b][0] = 0;
    if (!tc || !origin[0]) return;
    pthread_mutex_lock(&tc->mu);
    cached_tree *s = find(tc, origin);
    size_t *mine = NULL, *theirs = NULL, ms[TARN_TREE_BUCKETS + 1], ts[TARN_TREE_BUCKETS + 1];
    if (!s || group(&mine, ms, t, bucket) < 0 || group(&theirs, ts, &s->tree, s->bucket) < 0)
        goto done;
    /* A bucket whose entries are the very ones of ORIGIN's, in the same
     * order, has ORIGIN's subtree: the same content, the same hash. */
    for (int b = 0; b < TARN_TREE_BUCKETS; b++) {
        size_t n = ms[b + 1] - ms[b];
        if (!s->sub[b][0] || !n || n != ts[b + 1] - ts[b]) continue;
        size_t k = 0;
        while (k < n &&
               same_entry(&t->entries[mine[ms[b] + k]], &s->tree.entries[theirs[ts[b] + k]]))
            k++;
        if (k == n) memcpy(sub[b], s->sub[b], 65);
    }
    s->used = ++tc->clock;
done:
    free(mine);
    free(theirs);
    pthread_mutex_unlock(&tc->mu);
}

void tarn__tree_cache_tx(tarn__tree_cache *tc, int state)
{
    if (!tc) return;
    pthread_mutex_lock(&tc->mu);
    for (int i = 0; i < CACHE_TREES; i++) {
        cached_tree *s = &tc->slot[i];
        if (!s->root[0] || !s->pending) continue;
        if (state == TARN_TREE_CACHE_COMMITTED)
            s->pending = 0;
        else
            forget(tc, s); /* a new or a rolled-back transaction: its trees may not exist */
    }
    tc->in_tx = state == TARN_TREE_CACHE_BEGIN;
    pthread_mutex_unlock(&tc->mu);
}
