/* catalog_backend_test.c — the backend interface (include/tarn/sys/
 * catalog.h) called directly: compare-and-swap on refs (also from two
 * connections at once), the ref log, records that round-trip byte for
 * byte, ancestry walks bounded by generation, job id prefixes, leases that
 * die for good, tokens and protected branches. Run against SQLite, and
 * against PostgreSQL when TARN_TEST_CATALOG names a server: both must
 * behave the same. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "tarn/tarn.h"
#include "testlib.h"
#include "util/util.h"

static tarn_lake *fresh_lake(const char *name)
{
    const char *dir = test_tmpdir(name);
    tarn_error err = TARN_ERROR_INIT;
    tarn_init_options o = TARN_INIT_OPTIONS_INIT;
    char url[1024], path[4200];
    const char *base = getenv("TARN_TEST_CATALOG");
    if (base && *base) {
        snprintf(url, sizeof url, "%s%sschema=b_%s_%d", base, strchr(base, '?') ? "&" : "?", name,
                 (int)getpid());
        o.catalog = url;
    }
    if (tarn_lake_init_opts(dir, &o, &err) != 0) {
        fprintf(stderr, "init: %s\n", err.message);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/.tarn", dir);
    tarn_lake *lake = NULL;
    if (tarn_lake_open_path(&lake, path, &err) != 0) fprintf(stderr, "open: %s\n", err.message);
    return lake;
}

static void hash_of(char out[65], const char *text)
{
    tarn__sha256_hex(out, text, strlen(text));
}

/* A commit row on PARENT ("" for none) at generation GEN. */
static int put_commit(tarn_catalog *c, char out[65], const char *parent, int64_t gen,
                      const char *message)
{
    tarn_commit_row r;
    memset(&r, 0, sizeof r);
    char seed[200];
    snprintf(seed, sizeof seed, "%s %lld %s", parent, (long long)gen, message);
    hash_of(r.hash, seed);
    snprintf(r.tree, sizeof r.tree, "%s", r.hash);
    if (parent[0]) snprintf(r.parents[r.nparents++], 65, "%s", parent);
    r.time_us = 1000 + gen;
    r.generation = gen;
    r.author = "tests";
    r.message = (char *)message;
    r.properties_json = "{}";
    snprintf(out, 65, "%s", r.hash);
    return c->vt->commit_put(c, &r, NULL);
}

static void test_refs(void)
{
    tarn_lake *lake = fresh_lake("refs");
    REQUIRE(lake);
    tarn_catalog *c = TARN_CAT(lake);
    tarn_error err = TARN_ERROR_INIT;
    char h1[65], h2[65], h3[65], at[65];
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(put_commit(c, h1, "", 1, "one"), 0);
    CHECK_EQ_INT(put_commit(c, h2, h1, 2, "two"), 0);
    CHECK_EQ_INT(put_commit(c, h3, h2, 3, "three"), 0);
    CHECK_EQ_INT(c->vt->ref_insert(c, "dev", 0, h1, "create", &err), 0);
    CHECK_EQ_INT(c->vt->ref_insert(c, "dev", 0, h2, "create", &err), TARN_EEXISTS);
    REQUIRE(c->vt->commit(c, &err) == 0);
    /* a compare-and-swap from the wrong commit changes nothing */
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(c->vt->ref_cas(c, "dev", h2, h3, "commit", &err), TARN_ECONFLICT);
    CHECK_EQ_INT(c->vt->ref_cas(c, "dev", h1, h2, "commit", &err), 0);
    CHECK_EQ_INT(c->vt->ref_cas(c, "nope", h1, h2, "commit", &err), TARN_ECONFLICT);
    REQUIRE(c->vt->commit(c, &err) == 0);
    tarn_ref_row row;
    CHECK_EQ_INT(c->vt->ref_get(c, "dev", &row, 0, &err), 0);
    CHECK_EQ_STR(row.commit, h2);
    CHECK_EQ_INT(c->vt->ref_get(c, "nope", &row, 0, &err), TARN_ENOTFOUND);
    /* a rolled-back move never happened */
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(c->vt->ref_cas(c, "dev", h2, h3, "commit", &err), 0);
    c->vt->rollback(c);
    CHECK_EQ_INT(c->vt->ref_get(c, "dev", &row, 0, &err), 0);
    CHECK_EQ_STR(row.commit, h2);
    /* the log: every change, in order; after deletion the ref reads "" */
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(c->vt->ref_delete(c, "dev", 0, "delete", &err), 0);
    CHECK_EQ_INT(c->vt->ref_delete(c, "dev", 0, "delete", &err), TARN_ENOTFOUND);
    REQUIRE(c->vt->commit(c, &err) == 0);
    CHECK_EQ_INT(c->vt->reflog_at(c, "dev", INT64_MAX, at, &err), 0);
    CHECK_EQ_STR(at, "");
    CHECK_EQ_INT(c->vt->reflog_at(c, "dev", 0, at, &err), TARN_ENOTFOUND);
    CHECK_EQ_INT(c->vt->reflog_at(c, "never", INT64_MAX, at, &err), TARN_ENOTFOUND);
    /* prefixes and walks bounded by generation */
    char found[2][65];
    size_t n = 0;
    char prefix[12];
    snprintf(prefix, sizeof prefix, "%.10s", h3);
    CHECK_EQ_INT(c->vt->commit_prefix(c, prefix, found, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(found[0], h3);
    tarn_lake_close(&lake);
}

static int count_row(const tarn_commit_row *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static void test_walk_and_text(void)
{
    tarn_lake *lake = fresh_lake("walk");
    REQUIRE(lake);
    tarn_catalog *c = TARN_CAT(lake);
    tarn_error err = TARN_ERROR_INIT;
    char h[6][65] = {""};
    /* text that array literals, JSON and SQL would each mangle if quoted wrong */
    const char *message = "quotes \" ' \\ {braces}, commas, \"NULL\", NULL, 日本語";
    REQUIRE(c->vt->begin(c, &err) == 0);
    for (int i = 1; i <= 5; i++)
        CHECK_EQ_INT(put_commit(c, h[i], h[i - 1], i, message), 0);
    tarn_data_file f = {"data/x/a,b\"c\\d{e}.parquet", 7, 70, "{\"a\": {\"min\": \"1\"}}"};
    CHECK_EQ_INT(c->vt->file_put(c, &f, &err), 0);
    tarn_version v;
    memset(&v, 0, sizeof v);
    hash_of(v.id, "version");
    v.schema_json = "[{\"name\":\"a\",\"type\":\"BIGINT\"}]";
    v.row_count = 7;
    v.size_bytes = 70;
    v.nfiles = 1;
    char *files[1] = {f.key};
    v.files = files;
    CHECK_EQ_INT(c->vt->version_put(c, &v, &err), 0);
    CHECK_EQ_INT(c->vt->version_put(c, &v, &err), 0); /* again: no change, no error */
    REQUIRE(c->vt->commit(c, &err) == 0);
    int rows = 0;
    CHECK_EQ_INT(c->vt->commit_walk(c, h[5], 3, 0, count_row, &rows, &err), 0);
    CHECK_EQ_INT(rows, 3); /* generations 5, 4, 3 */
    rows = 0;
    CHECK_EQ_INT(c->vt->commit_walk(c, h[5], 0, 0, count_row, &rows, &err), 0);
    CHECK_EQ_INT(rows, 5);
    tarn_commit_row got;
    CHECK_EQ_INT(c->vt->commit_get(c, h[3], &got, 1, &err), 0);
    CHECK_EQ_STR(got.message, message);
    CHECK_EQ_INT(got.nparents, 1);
    CHECK_EQ_STR(got.parents[0], h[2]);
    CHECK_EQ_INT(got.generation, 3);
    tarn__commit_row_clear(&got);
    const char *keys[1] = {f.key};
    tarn_data_file back;
    CHECK_EQ_INT(c->vt->file_get(c, keys, 1, &back, &err), 0);
    CHECK_EQ_STR(back.key, f.key);
    CHECK_EQ_STR(back.stats_json, f.stats_json);
    CHECK_EQ_INT(back.row_count, 7);
    tarn__data_file_clear(&back);
    const char *missing[2] = {f.key, "data/none.parquet"};
    tarn_data_file two[2];
    CHECK_EQ_INT(c->vt->file_get(c, missing, 2, two, &err), TARN_ENOTFOUND);
    tarn_version vb;
    CHECK_EQ_INT(c->vt->version_get(c, v.id, &vb, 1, &err), 0);
    CHECK_EQ_INT(vb.nfiles, 1);
    if (vb.nfiles) CHECK_EQ_STR(vb.files[0], f.key);
    CHECK_EQ_STR(vb.schema_json, v.schema_json);
    tarn__version_clear(&vb);
    tarn_lake_close(&lake);
}

/* ---- two connections racing for one ref -------------------------------- */

typedef struct racer {
    tarn_catalog *c;
    const char *from, *to;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    tarn_error err = TARN_ERROR_INIT;
    r->rc = r->c->vt->begin(r->c, &err);
    if (r->rc == 0) r->rc = r->c->vt->ref_cas(r->c, "main", r->from, r->to, "commit", &err);
    if (r->rc == 0)
        r->rc = r->c->vt->commit(r->c, &err);
    else
        r->c->vt->rollback(r->c);
    return NULL;
}

static void test_cas_race(void)
{
    tarn_lake *lake = fresh_lake("race");
    REQUIRE(lake);
    tarn_catalog *c = TARN_CAT(lake), *other = NULL;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(c->vt->clone(&other, c, &err) == 0);
    tarn_ref_row main;
    REQUIRE(c->vt->ref_get(c, "main", &main, 0, &err) == 0);
    char a[65], b[65];
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(put_commit(c, a, main.commit, 2, "a"), 0);
    CHECK_EQ_INT(put_commit(c, b, main.commit, 2, "b"), 0);
    REQUIRE(c->vt->commit(c, &err) == 0);
    /* A moves main and holds its transaction open while B tries the same
     * move from the same commit: B waits, then loses, and is told. */
    REQUIRE(c->vt->begin(c, &err) == 0);
    CHECK_EQ_INT(c->vt->ref_cas(c, "main", main.commit, a, "commit", &err), 0);
    racer r = {other, main.commit, b, 1};
    pthread_t t;
    int started = pthread_create(&t, NULL, race, &r) == 0;
    usleep(200000);
    CHECK_EQ_INT(c->vt->commit(c, &err), 0);
    if (started) pthread_join(t, NULL);
    CHECK_EQ_INT(r.rc, TARN_ECONFLICT);
    tarn_ref_row now;
    CHECK_EQ_INT(c->vt->ref_get(c, "main", &now, 0, &err), 0);
    CHECK_EQ_STR(now.commit, a);
    other->vt->close(other);
    tarn_lake_close(&lake);
}

/* ---- jobs and leases ------------------------------------------------------ */

static int count_lease(const tarn_lease_row *l, void *ctx)
{
    if (l->dead) (*(int *)ctx)++;
    return 0;
}

static void test_jobs_and_leases(void)
{
    tarn_lake *lake = fresh_lake("jobs");
    REQUIRE(lake);
    tarn_catalog *c = TARN_CAT(lake);
    tarn_error err = TARN_ERROR_INIT;
    char lease[33], short_lease[33];
    REQUIRE(c->vt->lease_create(c, "{\"host\":\"t\"}", 60000000, lease, &err) == 0);
    CHECK_EQ_INT(c->vt->lease_alive(c, lease, &err), 1);
    CHECK_EQ_INT(c->vt->lease_renew(c, lease, 60000000, &err), 0);
    tarn_job_row j;
    memset(&j, 0, sizeof j);
    snprintf(j.status, sizeof j.status, "running");
    snprintf(j.branch, sizeof j.branch, "main");
    snprintf(j.lease, sizeof j.lease, "%s", lease);
    j.started_us = 1;
    REQUIRE(c->vt->begin(c, &err) == 0);
    snprintf(j.id, sizeof j.id, "abc1000000000001");
    CHECK_EQ_INT(c->vt->job_put(c, &j, &err), 0);
    snprintf(j.id, sizeof j.id, "abc2000000000002");
    CHECK_EQ_INT(c->vt->job_put(c, &j, &err), 0);
    REQUIRE(c->vt->commit(c, &err) == 0);
    tarn_job_row got;
    CHECK_EQ_INT(c->vt->job_get(c, "abc", &got, 0, &err), TARN_EAMBIGUOUS);
    CHECK_EQ_INT(c->vt->job_get(c, "abc2", &got, 0, &err), 0);
    CHECK_EQ_STR(got.id, "abc2000000000002");
    CHECK_EQ_STR(got.lease, lease);
    CHECK_EQ_INT(c->vt->job_get(c, "abd", &got, 0, &err), TARN_ENOTFOUND);
    /* a lease killed is dead for good */
    CHECK_EQ_INT(c->vt->lease_kill(c, lease, &err), 0);
    CHECK_EQ_INT(c->vt->lease_alive(c, lease, &err), 0);
    CHECK_EQ_INT(c->vt->lease_renew(c, lease, 60000000, &err), TARN_ENOTFOUND);
    /* an expired lease is reaped, and never renewed after */
    REQUIRE(c->vt->lease_create(c, "{}", 1000, short_lease, &err) == 0);
    usleep(20000);
    CHECK_EQ_INT(c->vt->lease_alive(c, short_lease, &err), 0);
    int dead = 0;
    CHECK_EQ_INT(c->vt->lease_reap(c, count_lease, &dead, &err), 0);
    CHECK_EQ_INT(dead, 2);
    CHECK_EQ_INT(c->vt->lease_renew(c, short_lease, 60000000, &err), TARN_ENOTFOUND);
    CHECK_EQ_INT(c->vt->lease_release(c, short_lease, &err), 0);
    dead = 0;
    CHECK_EQ_INT(c->vt->lease_list(c, count_lease, &dead, &err), 0);
    CHECK_EQ_INT(dead, 1);
    tarn_lake_close(&lake);
}

static int count_token(const tarn_token_row *t, void *ctx)
{
    (void)t;
    (*(int *)ctx)++;
    return 0;
}

/* The protected branches listed as "name=mode," into CTX (a strbuf). */
static int list_protected(const char *branch, int mode, void *ctx)
{
    char item[300];
    snprintf(item, sizeof item, "%s=%d,", branch, mode);
    strncat((char *)ctx, item, 1023 - strlen((char *)ctx));
    return 0;
}

/* Tokens round-trip, ids are unique, revocation happens once; protection
 * is set, changed, listed and removed. */
static void test_tokens_and_protection(void)
{
    tarn_lake *lake = fresh_lake("auth");
    REQUIRE(lake);
    tarn_catalog *c = TARN_CAT(lake);
    tarn_error err = TARN_ERROR_INIT;
    tarn_token_row t, got;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "0123456789abcdef");
    hash_of(t.hash, "secret");
    snprintf(t.user, sizeof t.user, "alice \xc3\xa9");
    snprintf(t.read, sizeof t.read, "*");
    snprintf(t.write, sizeof t.write, "alice.*,dev");
    t.admin = 1;
    t.created_us = 10;
    t.expires_us = 99;
    CHECK_EQ_INT(c->vt->token_get(c, t.id, &got, &err), TARN_ENOTFOUND);
    CHECK_EQ_INT(c->vt->token_put(c, &t, &err), 0);
    CHECK_EQ_INT(c->vt->token_put(c, &t, &err), TARN_EEXISTS);
    REQUIRE(c->vt->token_get(c, t.id, &got, &err) == 0);
    CHECK_EQ_STR(got.hash, t.hash);
    CHECK_EQ_STR(got.user, t.user);
    CHECK_EQ_STR(got.write, "alice.*,dev");
    CHECK_EQ_INT(got.admin, 1);
    CHECK_EQ_INT((int)got.expires_us, 99);
    CHECK_EQ_INT((int)got.revoked_us, 0);
    snprintf(t.id, sizeof t.id, "fedcba9876543210");
    t.admin = 0;
    CHECK_EQ_INT(c->vt->token_put(c, &t, &err), 0);
    int n = 0;
    CHECK_EQ_INT(c->vt->token_list(c, count_token, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(c->vt->token_revoke(c, "0123456789abcdef", 500, &err), 0);
    CHECK_EQ_INT(c->vt->token_revoke(c, "0123456789abcdef", 700, &err), 0);
    REQUIRE(c->vt->token_get(c, "0123456789abcdef", &got, &err) == 0);
    CHECK_EQ_INT((int)got.revoked_us, 500);
    CHECK_EQ_INT(c->vt->token_revoke(c, "0000000000000000", 500, &err), TARN_ENOTFOUND);

    int mode = -1;
    CHECK_EQ_INT(c->vt->protect_get(c, "main", &mode, &err), 0);
    CHECK_EQ_INT(mode, 0);
    CHECK_EQ_INT(c->vt->protect_set(c, "main", 1, &err), 0);
    CHECK_EQ_INT(c->vt->protect_set(c, "dev", 1, &err), 0);
    CHECK_EQ_INT(c->vt->protect_set(c, "main", 2, &err), 0);
    CHECK_EQ_INT(c->vt->protect_get(c, "main", &mode, &err), 0);
    CHECK_EQ_INT(mode, 2);
    char listed[1024] = "";
    CHECK_EQ_INT(c->vt->protect_list(c, list_protected, listed, &err), 0);
    CHECK_EQ_STR(listed, "dev=1,main=2,");
    CHECK_EQ_INT(c->vt->protect_set(c, "dev", 0, &err), 0);
    listed[0] = 0;
    CHECK_EQ_INT(c->vt->protect_list(c, list_protected, listed, &err), 0);
    CHECK_EQ_STR(listed, "main=2,");
    tarn_lake_close(&lake);
}

/* Tree T with N tables, default.t0000.. at versions named after SEED. */
static void fill_tree(tarn_tree *t, int n, const char *seed)
{
    tarn__tree_set(t, "default", TARN_ENTRY_NAMESPACE, "");
    for (int i = 0; i < n; i++) {
        char name[64], text[128], v[65];
        snprintf(name, sizeof name, "default.t%04d", i);
        snprintf(text, sizeof text, "%s %d", seed, i);
        hash_of(v, text);
        tarn__tree_set(t, name, TARN_ENTRY_TABLE, v);
    }
}

/* Tree ROOT as a handle that never saw it reads it: every entry of WANT. */
static void check_stored(const char *path, const char *root, const tarn_tree *want)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake *other = NULL;
    REQUIRE(tarn_lake_open_path(&other, path, &err) == 0);
    tarn_tree got;
    CHECK(tarn__tree_load(&got, other, root, &err) == 0);
    CHECK_EQ_INT((int)got.n, (int)want->n);
    for (size_t i = 0; i < got.n && i < want->n; i++) {
        CHECK_EQ_STR(got.entries[i].name, want->entries[i].name);
        CHECK_EQ_STR(got.entries[i].version, want->entries[i].version);
    }
    tarn__tree_clear(&got);
    tarn_lake_close(&other);
}

/* Trees kept by a handle (catalog/tree_cache.c): a tree stored again keeps
 * the subtrees of the buckets it did not change, and only those that exist
 * for sure. A tree written by a transaction that rolled back has no rows:
 * the same tree written again must write them all. An entry changed in
 * place (not through tarn__tree_set) is seen too. */
static void test_tree_cache(void)
{
    tarn_lake *lake = fresh_lake("treecache");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    char path[4200], base_root[65], root[65], again[65];
    snprintf(path, sizeof path, "%s", tarn_lake_path(lake));

    tarn_tree base = {0};
    fill_tree(&base, 300, "base");
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    REQUIRE(tarn__tree_store(base_root, lake, &base, &err) == 0);
    REQUIRE(tarn__tx_commit(lake, &err) == 0);
    check_stored(path, base_root, &base);

    /* Change three tables, store, roll back. */
    tarn_tree t;
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    REQUIRE(tarn__tree_load(&t, lake, base_root, &err) == 0);
    const char *changed[3] = {"default.t0007", "default.t0123", "default.t0299"};
    for (int i = 0; i < 3; i++) tarn__tree_set(&t, changed[i], TARN_ENTRY_TABLE, base_root);
    REQUIRE(tarn__tree_store(root, lake, &t, &err) == 0);
    tarn__tx_rollback(lake);
    tarn__tree_clear(&t);
    /* Its rows are gone: this handle reads what the catalog holds (no
     * rows, an empty tree), not what the rolled-back transaction wrote. */
    tarn_tree gone;
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    CHECK(tarn__tree_load(&gone, lake, root, &err) == 0);
    CHECK_EQ_INT((int)gone.n, 0);
    tarn__tx_rollback(lake);
    tarn__tree_clear(&gone);

    /* The same change again, committed this time: every row is there. */
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    REQUIRE(tarn__tree_load(&t, lake, base_root, &err) == 0);
    for (int i = 0; i < 3; i++) tarn__tree_set(&t, changed[i], TARN_ENTRY_TABLE, base_root);
    REQUIRE(tarn__tree_store(again, lake, &t, &err) == 0);
    REQUIRE(tarn__tx_commit(lake, &err) == 0);
    CHECK_EQ_STR(again, root);
    check_stored(path, again, &t);

    /* Changed in place, then stored from the tree it was loaded from. */
    tarn_tree u;
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    REQUIRE(tarn__tree_load(&u, lake, again, &err) == 0);
    CHECK_EQ_STR(u.origin, again);
    tarn_tree_entry *e = tarn__tree_find(&u, "default.t0042");
    REQUIRE(e);
    snprintf(e->version, sizeof e->version, "%s", again);
    REQUIRE(tarn__tree_store(root, lake, &u, &err) == 0);
    REQUIRE(tarn__tx_commit(lake, &err) == 0);
    CHECK(strcmp(root, again) != 0);
    check_stored(path, root, &u);

    tarn__tree_clear(&u);
    tarn__tree_clear(&t);
    tarn__tree_clear(&base);
    tarn_lake_close(&lake);
}

/* ---- two writers of one new root at once ------------------------------- */

typedef struct tree_writer {
    tarn_lake *lake;
    const tarn_tree *tree;
    char root[65];
    int rc;
} tree_writer;

static int store_tree(tarn_lake *lake, void *ctx, tarn_error *err)
{
    tree_writer *w = ctx;
    return tarn__tree_store(w->root, lake, w->tree, err);
}

static void *write_tree(void *arg)
{
    tree_writer *w = arg;
    tarn_error err = TARN_ERROR_INIT;
    w->rc = tarn__tx_run(w->lake, store_tree, w, &err);
    if (w->rc != 0) fprintf(stderr, "second writer: %s\n", err.message);
    return NULL;
}

/* A holds a new root written, uncommitted, while B (another connection,
 * which never saw it) writes the same root: B waits for A and then
 * succeeds, its tree the one A stored, whatever each backend does to
 * learn that the root is already there. */
static void test_tree_race(void)
{
    tarn_lake *lake = fresh_lake("treerace");
    REQUIRE(lake);
    tarn_error err = TARN_ERROR_INIT;
    char path[4200], root[65];
    snprintf(path, sizeof path, "%s", tarn_lake_path(lake));
    tarn_lake *other = NULL;
    REQUIRE(tarn_lake_open_path(&other, path, &err) == 0);
    tarn_tree t = {0};
    fill_tree(&t, 200, "race");
    tree_writer w = {other, &t, "", 1};
    REQUIRE(tarn__tx_begin(lake, &err) == 0);
    REQUIRE(tarn__tree_store(root, lake, &t, &err) == 0);
    /* A read sends the held writes: A's rows now exist, uncommitted. */
    tarn_catalog *c = TARN_CAT(lake);
    tarn_ref_row main;
    CHECK_EQ_INT(c->vt->ref_get(c, "main", &main, 0, &err), 0);
    pthread_t th;
    int started = pthread_create(&th, NULL, write_tree, &w) == 0;
    usleep(300000);
    CHECK_EQ_INT(tarn__tx_commit(lake, &err), 0);
    if (started) pthread_join(th, NULL);
    CHECK_EQ_INT(w.rc, 0);
    CHECK_EQ_STR(w.root, root);
    check_stored(path, root, &t);
    tarn__tree_clear(&t);
    tarn_lake_close(&other);
    tarn_lake_close(&lake);
}

int main(void)
{
    TEST_RUN(test_refs);
    TEST_RUN(test_walk_and_text);
    TEST_RUN(test_cas_race);
    TEST_RUN(test_jobs_and_leases);
    TEST_RUN(test_tokens_and_protection);
    TEST_RUN(test_tree_cache);
    TEST_RUN(test_tree_race);
    return test_summary();
}
