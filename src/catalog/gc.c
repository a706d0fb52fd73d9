/* catalog/gc.c — garbage collection of data files (docs/gc.md).
 *
 * An object is deleted only when it is neither live nor claimed:
 * - live: a data file of a table version in the tree of a commit reachable
 *   from a branch or tag, or from where a ref pointed within the grace
 *   period (the ref log), so a deleted branch can be recreated for a while;
 * - claimed: an upload in flight, registered in the catalog under the
 *   writer's lease before the object was written, for as long as the lease
 *   lives (writers renew it; a writer that died stops protecting it once
 *   the lease expires).
 * - Iceberg metadata (iceberg/<version>/..., see docs/iceberg.md) is live
 *   while every data file of its version is: a version in a live tree has
 *   only live files, so the metadata of a live version is never collected.
 * No file time decides safety; object stores have none worth trusting.
 * The grace period only keeps young orphans a little longer.
 *
 * Order matters: the store is listed first, then claims and the live set
 * are read, so an object seen in the listing had its claim registered
 * before it existed. The candidates are then tombstoned in one transaction
 * that first checks no ref moved since the live set was computed (else it
 * computes again, the last time under the write lock); operations that
 * make an old commit reachable again (branch, tag, merge, revert by hash)
 * check the tombstones in their own transaction. Only then are objects
 * deleted. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "iceberg/iceberg.h"
#include "tarn/gc.h"
#include "util/error.h"
#include "util/util.h"

typedef struct str_list {
    char **v;
    size_t n, cap;
} str_list;

static int str_push(str_list *l, const char *s)
{
    TARN_RETURN_NOT_OK(tarn__reserve(&l->v, &l->cap, l->n + 1, sizeof *l->v));
    if (!(l->v[l->n] = strdup(s))) return TARN_ENOMEM;
    l->n++;
    return 0;
}

static int push_cb(const char *s, void *ctx)
{
    return str_push(ctx, s);
}

static int push_ref(const tarn_ref_row *r, void *ctx)
{
    return str_push(ctx, r->commit);
}

static void str_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int contains(const str_list *sorted, const char *s)
{
    return sorted->n && bsearch(&s, sorted->v, sorted->n, sizeof *sorted->v, cmp_str) != NULL;
}

typedef struct object {
    char *key;
    int64_t size, mtime_s;
} object;

typedef struct objects {
    object *v;
    size_t n, cap;
} objects;

static int list_object(const char *key, int64_t size, int64_t mtime_s, void *ctx)
{
    objects *o = ctx;
    TARN_RETURN_NOT_OK(tarn__reserve(&o->v, &o->cap, o->n + 1, sizeof *o->v));
    o->v[o->n] = (object){strdup(key), size, mtime_s};
    o->n++;
    return 0;
}

static const char *last_part(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? slash + 1 : key;
}

/* The live and claimed sets, as they are now. *last gets the ref log's
 * newest entry id: if it is unchanged later, no ref moved meanwhile. */
static int read_sets(str_list *live, str_list *claimed, int64_t *last, tarn_lake *lake, int64_t grace_s,
                     tarn_error *err)
{
    tarn_catalog *c = TARN_CAT(lake);
    str_list heads = {0};
    /* The log first: a ref that moves after this is seen by the check
     * before tombstoning (*last changed); read after the refs, a move in
     * between would be in neither the heads nor the check. */
    int rc = c->vt->reflog_recent(c, tarn__now_us() - grace_s * 1000000, push_cb, &heads, last, err);
    if (rc == 0) rc = c->vt->ref_list(c, -1, push_ref, &heads, err);
    if (rc == 0) rc = c->vt->live_files(c, (const char *const *)heads.v, heads.n, push_cb, live, err);
    if (rc == 0) rc = c->vt->claim_list(c, "upload", push_cb, claimed, err);
    str_free(&heads);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory collecting garbage");
    if (rc < 0) return rc;
    /* Claims match objects by key and their temporaries by last part. */
    size_t n = claimed->n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "tmp/%s", last_part(claimed->v[i]));
        rc = str_push(claimed, tmp);
    }
    if (live->n) qsort(live->v, live->n, sizeof *live->v, cmp_str);
    if (claimed->n) qsort(claimed->v, claimed->n, sizeof *claimed->v, cmp_str);
    return rc;
}

/* The versions whose Iceberg metadata OBJS holds and whose data files are
 * all in LIVE (sorted), into OUT (sorted). */
static int iceberg_live(str_list *out, tarn_lake *lake, const objects *objs, const str_list *live,
                        tarn_error *err)
{
    str_list seen = {0};
    char v[65];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < objs->n; i++)
        if (tarn__ice_key_version(v, objs->v[i].key)) rc = str_push(&seen, v);
    if (seen.n) qsort(seen.v, seen.n, sizeof *seen.v, cmp_str);
    for (size_t i = 0; rc == 0 && i < seen.n; i++) {
        if (i && !strcmp(seen.v[i], seen.v[i - 1])) continue;
        tarn_version ver;
        int got = TARN_CAT(lake)->vt->version_get(TARN_CAT(lake), seen.v[i], &ver, 1, err);
        if (got == TARN_ENOTFOUND) continue;
        if (got < 0) {
            rc = got;
            break;
        }
        int all = 1;
        for (size_t k = 0; all && k < ver.nfiles; k++) all = contains(live, ver.files[k]);
        if (all) rc = str_push(out, seen.v[i]);
        tarn__version_clear(&ver);
    }
    str_free(&seen);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory collecting garbage");
    return rc;
}

static int ignore(const char *s, void *ctx)
{
    (void)s;
    (void)ctx;
    return 0;
}

static int64_t newest_log_id(tarn_lake *lake, tarn_error *err)
{
    int64_t last = -1;
    int rc = TARN_CAT(lake)->vt->reflog_recent(TARN_CAT(lake), INT64_MAX, ignore, NULL, &last, err);
    return rc < 0 ? rc : last;
}

/* Deletes OBJS->v[IDX[0..N)], in batches where the store can (S3). */
static int remove_objects(tarn_lake *lake, const objects *objs, const size_t *idx, size_t n, tarn_error *err)
{
    tarn_store *st = lake->store;
    if (st->vt->version < 3 || !st->vt->remove_many) {
        for (size_t i = 0; i < n; i++) TARN_RETURN_NOT_OK(st->vt->remove(st, objs->v[idx[i]].key, err));
        return 0;
    }
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return tarn__error_set(err, TARN_ENOMEM, "out of memory collecting garbage");
    for (size_t i = 0; i < n; i++) keys[i] = objs->v[idx[i]].key;
    int rc = st->vt->remove_many(st, keys, n, err);
    free(keys);
    return rc;
}

int tarn_local__gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts,
                   tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_gc_options defaults = TARN_GC_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (opts->grace_seconds < 0)
        return tarn__error_set(err, TARN_EINVALID, "the grace period cannot be negative");
    /* Writers that died stop protecting their uploads; their jobs settle. */
    TARN_RETURN_NOT_OK(tarn__lease_settle(lake, err));

    objects objs = {0};
    str_list live = {0}, claimed = {0}, ice_live = {0};
    size_t *doomed = NULL; /* indices into objs */
    size_t ndoomed = 0;
    int rc = lake->store->vt->list(lake->store, list_object, &objs, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory listing objects");
    if (rc < 0) goto done;
    int64_t cutoff_s = tarn__now_us() / 1000000 - opts->grace_seconds;
    doomed = calloc(objs.n ? objs.n : 1, sizeof *doomed);

    for (int attempt = 0;; attempt++) {
        int locked = attempt >= 3; /* the last try holds the write lock throughout */
        int64_t last = 0;
        str_free(&live);
        str_free(&claimed);
        str_free(&ice_live);
        ndoomed = 0;
        memset(out, 0, sizeof *out);
        if (locked && (rc = tarn__tx_begin(lake, err)) < 0) goto done;
        if ((rc = read_sets(&live, &claimed, &last, lake, opts->grace_seconds, err)) < 0 ||
            (rc = iceberg_live(&ice_live, lake, &objs, &live, err)) < 0) {
            if (locked) tarn__tx_rollback(lake);
            goto done;
        }
        for (size_t i = 0; i < objs.n; i++) {
            object *o = &objs.v[i];
            char v[65];
            if (contains(&live, o->key) || (tarn__ice_key_version(v, o->key) && contains(&ice_live, v)))
                out->referenced++;
            else if (contains(&claimed, o->key)) out->in_flight++;
            else if (opts->grace_seconds > 0 && o->mtime_s > cutoff_s) out->kept_recent++;
            else doomed[ndoomed++] = i;
        }
        if (opts->dry_run || ndoomed == 0) {
            if (locked) tarn__tx_rollback(lake);
            break;
        }
        if (!locked && (rc = tarn__tx_begin(lake, err)) < 0) goto done;
        int64_t now_last = locked ? last : newest_log_id(lake, err);
        if (now_last < 0) {
            rc = (int)now_last;
            tarn__tx_rollback(lake);
            goto done;
        }
        if (now_last != last) { /* a ref moved: what is live may have changed */
            tarn__tx_rollback(lake);
            continue;
        }
        for (size_t i = 0; i < ndoomed && rc == 0; i++)
            if (strncmp(objs.v[doomed[i]].key, "tmp/", 4) != 0)
                rc = TARN_CAT(lake)->vt->tombstone_put(TARN_CAT(lake), objs.v[doomed[i]].key, err);
        if (rc == 0) rc = tarn__tx_commit(lake, err);
        else tarn__tx_rollback(lake);
        if (rc < 0) goto done;
        break;
    }
    if (!opts->dry_run && (rc = remove_objects(lake, &objs, doomed, ndoomed, err)) < 0) goto done;
    for (size_t i = 0; i < ndoomed; i++) {
        const object *o = &objs.v[doomed[i]];
        out->files++;
        out->bytes += o->size;
        if (opts->on_file) opts->on_file(o->key, o->size, opts->ctx);
    }
done:
    for (size_t i = 0; i < objs.n; i++) free(objs.v[i].key);
    free(objs.v);
    free(doomed);
    str_free(&live);
    str_free(&claimed);
    str_free(&ice_live);
    return rc;
}
