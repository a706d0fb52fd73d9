/* catalog/gc.c — garbage collection of data files.
 *
 * Live files are those of every table version in the tree of every commit
 * reachable from a branch or tag (history is never rewritten, so all of it
 * stays queryable). A stored object that is not live and is older than the
 * grace period is deleted; a younger one may belong to a write in flight
 * and is kept. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tarn/gc.h"
#include "util/error.h"
#include "util/util.h"

typedef struct gc_state {
    char **live;
    size_t nlive;
    int64_t cutoff_s;
    tarn_lake *lake;
    const tarn_gc_options *opts;
    tarn_gc_result *out;
    tarn_error *err;
} gc_state;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int visit(const char *key, int64_t size, int64_t mtime_s, void *ctx)
{
    gc_state *g = ctx;
    const char *k = key;
    if (bsearch(&k, g->live, g->nlive, sizeof *g->live, cmp_str)) {
        g->out->referenced++;
        return 0;
    }
    if (mtime_s > g->cutoff_s) {
        g->out->kept_recent++;
        return 0;
    }
    if (!g->opts->dry_run) {
        int rc = g->lake->store->vt->remove(g->lake->store, key, g->err);
        if (rc < 0) return rc;
    }
    g->out->files++;
    g->out->bytes += size;
    if (g->opts->on_file) g->opts->on_file(key, size, g->opts->ctx);
    return 0;
}

int tarn_gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_gc_options defaults = TARN_GC_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (opts->grace_seconds < 0)
        return tarn__error_set(err, TARN_EINVALID, "the grace period cannot be negative");
    gc_state g = {0};
    g.lake = lake;
    g.opts = opts;
    g.out = out;
    g.err = err;
    /* Time is taken before the catalog is read: a file published after this
     * instant is younger than the cutoff whatever the grace period. */
    g.cutoff_s = tarn__now_us() / 1000000 - opts->grace_seconds;
    if (opts->grace_seconds == 0) g.cutoff_s -= 1; /* mtime has 1 s resolution */

    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(tarn__prepare(
        &st, lake,
        "WITH RECURSIVE live(h) AS (SELECT commit_hash FROM refs UNION "
        "  SELECT p.parent FROM commit_parents p JOIN live ON p.child = live.h) "
        "SELECT DISTINCT vf.file FROM live JOIN commits c ON c.hash = live.h "
        "JOIN trees t ON t.tree = c.tree "
        "JOIN tree_entries te ON te.tree = t.subtree AND te.kind = 0 "
        "JOIN version_files vf ON vf.version = te.version",
        err));
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (g.nlive == cap) {
            cap = cap ? cap * 2 : 256;
            g.live = realloc(g.live, cap * sizeof *g.live);
        }
        g.live[g.nlive++] = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    qsort(g.live, g.nlive, sizeof *g.live, cmp_str);
    int rc = lake->store->vt->list(lake->store, visit, &g, err);
    for (size_t i = 0; i < g.nlive; i++) free(g.live[i]);
    free(g.live);
    return rc;
}
