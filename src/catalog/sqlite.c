/* catalog/sqlite.c — the embedded catalog backend: one SQLite database
 * (`.tarn/catalog.db`), documented in docs/catalog.md.
 *
 * WAL journal, synchronous=FULL: a commit that returned is on disk, and a
 * process killed at any instant leaves the catalog as before or as after.
 * Writers take the write lock up front (BEGIN IMMEDIATE) and wait for each
 * other (busy timeout), so read-modify-write cycles never interleave and a
 * transaction never needs to be retried. A catalog on a read-only medium
 * (or one the user may only read) opens read-only: reads work, writes fail
 * with a clear error.
 *
 * Arranged as the vtable is: connection and schema, transactions,
 * immutable records, refs and their log, taints, jobs, leases and claims,
 * garbage collection. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

#define SCHEMA_VERSION 2

/* Prepared statements are kept for the life of the connection, keyed by
 * their text: preparing costs more than running most of the catalog's
 * statements (a merge stores 64 subtrees, each a lookup and an insert). */
#define STMT_CACHE 64
typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *st;
    int busy; /* handed out and not yet released: a nested use prepares its own */
} cached_stmt;

typedef struct sqlite_catalog {
    tarn_catalog base;
    sqlite3 *db;
    char *path;
    int read_only;
    dev_t dev; /* the file opened, to notice it being deleted or replaced */
    ino_t ino;
    cached_stmt stmts[STMT_CACHE];
    pthread_mutex_t stmts_mu; /* threads may share a connection (FULLMUTEX) */
} sqlite_catalog;

static sqlite3 *DB(tarn_catalog *c)
{
    return ((sqlite_catalog *)c)->db;
}

/* ---- connection and schema -------------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS data_files("
    "  key TEXT PRIMARY KEY, row_count INTEGER NOT NULL, size_bytes INTEGER NOT NULL,"
    "  stats TEXT NOT NULL, created_us INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS table_versions("
    "  id TEXT PRIMARY KEY, schema TEXT NOT NULL, parent TEXT NOT NULL,"
    "  row_count INTEGER NOT NULL, file_count INTEGER NOT NULL, size_bytes INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS version_files("
    "  version TEXT NOT NULL, ord INTEGER NOT NULL, file TEXT NOT NULL,"
    "  PRIMARY KEY(version, ord)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS trees("
    "  tree TEXT NOT NULL, bucket INTEGER NOT NULL, subtree TEXT NOT NULL,"
    "  PRIMARY KEY(tree, bucket)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tree_entries("
    "  tree TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, version TEXT NOT NULL,"
    "  PRIMARY KEY(tree, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS commits("
    "  hash TEXT PRIMARY KEY, tree TEXT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL,"
    "  time_us INTEGER NOT NULL, properties TEXT NOT NULL, generation INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS commit_parents("
    "  child TEXT NOT NULL, ord INTEGER NOT NULL, parent TEXT NOT NULL,"
    "  PRIMARY KEY(child, ord)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS commit_parents_parent ON commit_parents(parent);"
    "CREATE TABLE IF NOT EXISTS refs("
    "  name TEXT PRIMARY KEY, kind INTEGER NOT NULL, commit_hash TEXT NOT NULL,"
    "  aborted INTEGER NOT NULL DEFAULT 0, updated_us INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ref_log("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, commit_hash TEXT NOT NULL,"
    "  time_us INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ref_log_name ON ref_log(name, time_us);"
    "CREATE TABLE IF NOT EXISTS jobs("
    "  id TEXT PRIMARY KEY, status TEXT NOT NULL, branch TEXT NOT NULL,"
    "  started_us INTEGER NOT NULL, ended_us INTEGER, commit_hash TEXT, input_commit TEXT,"
    "  project_hash TEXT, project TEXT, params TEXT, report TEXT, logs TEXT NOT NULL DEFAULT '',"
    "  pid INTEGER);";

/* Version 2: leases, claims, taints, tombstones; jobs are owned by leases. */
static const char SCHEMA_V2[] =
    "CREATE TABLE IF NOT EXISTS leases("
    "  id TEXT PRIMARY KEY, holder TEXT NOT NULL, created_us INTEGER NOT NULL,"
    "  expires_us INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS claims("
    "  kind TEXT NOT NULL, key TEXT NOT NULL, lease TEXT NOT NULL,"
    "  PRIMARY KEY(kind, key, lease)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS claims_lease ON claims(lease);"
    "CREATE TABLE IF NOT EXISTS taints("
    "  commit_hash TEXT NOT NULL, job_id TEXT NOT NULL,"
    "  PRIMARY KEY(commit_hash, job_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS taints_job ON taints(job_id);"
    "CREATE TABLE IF NOT EXISTS tombstones(key TEXT PRIMARY KEY, time_us INTEGER NOT NULL) WITHOUT ROWID;";

/* Tokens and protected branches came later than schema 2: their tables
 * are created when missing, which older tarns simply do not read. */
static const char SCHEMA_AUTH[] =
    "CREATE TABLE IF NOT EXISTS tokens("
    "  id TEXT PRIMARY KEY, hash TEXT NOT NULL, user_name TEXT NOT NULL, read_refs TEXT NOT NULL,"
    "  write_refs TEXT NOT NULL, admin INTEGER NOT NULL, created_us INTEGER NOT NULL,"
    "  expires_us INTEGER NOT NULL, revoked_us INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS protected_branches(name TEXT PRIMARY KEY, mode INTEGER NOT NULL);";

static int column_exists(sqlite3 *db, const char *table, const char *column)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", table, column);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st, NULL) !=
        SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Brings a catalog of an older schema up to SCHEMA_VERSION, in one
 * transaction. Version 1 had no leases: the commits of runs that did not
 * succeed become taints. */
static int migrate(sqlite3 *db, char **msg)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_exec(db, SCHEMA, NULL, NULL, msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, SCHEMA_V2, NULL, NULL, msg);
    if (rc == SQLITE_OK && !column_exists(db, "jobs", "lease_id"))
        rc = sqlite3_exec(db, "ALTER TABLE jobs ADD COLUMN lease_id TEXT", NULL, NULL, msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          /* Runs recorded before leases cannot be told alive: a
                           * tarn that opens the catalog with this schema never
                           * ran them, so they ended without an outcome. */
                          "UPDATE jobs SET status = 'failed', logs = logs || 'the run never finished' || char(10) "
                          "WHERE status = 'running';"
                          "INSERT OR IGNORE INTO taints SELECT c.hash, j.id FROM commits c JOIN jobs j "
                          "ON j.id = json_extract(c.properties, '$.job_id') WHERE j.status <> 'success';"
                          "INSERT OR REPLACE INTO meta VALUES('schema_version', '2');",
                          NULL, NULL, msg);
    sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? atoi((const char *)sqlite3_column_text(st, 0)) : -1;
    sqlite3_finalize(st);
    return v;
}

static const tarn_catalog_vtable SQLITE_VTABLE;

/* Can DB be read here (its WAL index made, its pages read)? 0 only when
 * the medium or the permissions say no; a busy database is readable (it
 * waits for the writer, like every other statement). */
static int readable(sqlite3 *db)
{
    if (!db) return 0;
    int rc = sqlite3_exec(db, "SELECT 1 FROM meta LIMIT 1", NULL, NULL, NULL);
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_PERM: return 0;
    default: return 1;
    }
}

static int open_db(sqlite3 **db, const char *path, int flags, const char *how)
{
    char uri[8192];
    snprintf(uri, sizeof uri, "file:%s%s", path, how);
    int rc = sqlite3_open_v2(uri, db, flags | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL);
    if (*db) sqlite3_busy_timeout(*db, 120000);
    return rc;
}

int tarn__catalog_sqlite_open(tarn_catalog **out, const char *path, int create, tarn_error *err)
{
    *out = NULL;
    sqlite3 *db = NULL;
    int read_only = 0;
    int rc = open_db(&db, path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), "");
    if (!create && (rc != SQLITE_OK || !readable(db))) {
        /* The user may only read the catalog, the medium is read-only or
         * the disk is full (the WAL index cannot be created): read it
         * read-only. Without a write-ahead log on disk the file alone is
         * the whole catalog, and nobody can change it from here: it may be
         * opened as immutable when even the WAL index cannot be made. */
        read_only = 1;
        sqlite3_close(db);
        db = NULL;
        rc = open_db(&db, path, SQLITE_OPEN_READONLY, "");
        char wal[8192];
        snprintf(wal, sizeof wal, "%s-wal", path);
        struct stat st;
        int wal_empty = stat(wal, &st) != 0 || st.st_size == 0;
        if ((rc != SQLITE_OK || !readable(db)) && wal_empty) {
            sqlite3_close(db);
            db = NULL;
            rc = open_db(&db, path, SQLITE_OPEN_READONLY, "?immutable=1");
        }
    }
    if (rc != SQLITE_OK) {
        tarn__error_set(err, TARN_EIO, "cannot open catalog '%s': %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return TARN_EIO;
    }
    sqlite3_busy_timeout(db, 120000);
    char *msg = NULL;
    if (!read_only)
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK && create) {
        rc = sqlite3_exec(db, SCHEMA, NULL, NULL, &msg);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, SCHEMA_V2, NULL, NULL, &msg);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, "ALTER TABLE jobs ADD COLUMN lease_id TEXT", NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "INSERT OR IGNORE INTO meta VALUES('schema_version', '2')", NULL, NULL, &msg);
    }
    if (rc == SQLITE_OK && !create) {
        /* A catalog that is not ours (or is damaged) is refused, not used. */
        int v = schema_version(db);
        if (v < 1) {
            rc = SQLITE_ERROR;
            msg = sqlite3_mprintf("it is not a tarn catalog (no schema_version)");
        } else if (v > SCHEMA_VERSION) {
            rc = SQLITE_ERROR;
            msg = sqlite3_mprintf("it was written by a newer tarn (schema %d, this tarn knows %d): upgrade tarn", v,
                                  SCHEMA_VERSION);
        } else if (v < SCHEMA_VERSION && !read_only) {
            rc = migrate(db, &msg);
        }
    }
    if (rc == SQLITE_OK && !read_only && !table_exists(db, "protected_branches"))
        rc = sqlite3_exec(db, SCHEMA_AUTH, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        tarn__error_set(err, TARN_EIO, "catalog '%s' is unusable: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return TARN_EIO;
    }
    sqlite_catalog *c = calloc(1, sizeof *c);
    if (!c || tarn__tree_cache_open(&c->base.trees) < 0) {
        free(c);
        sqlite3_close(db);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    c->base.vt = &SQLITE_VTABLE;
    pthread_mutex_init(&c->stmts_mu, NULL);
    c->db = db;
    c->path = strdup(path);
    c->read_only = read_only;
    struct stat st;
    if (stat(path, &st) == 0) {
        c->dev = st.st_dev;
        c->ino = st.st_ino;
    }
    *out = &c->base;
    return 0;
}

static void sq_close(tarn_catalog *c)
{
    sqlite_catalog *s = (sqlite_catalog *)c;
    if (!s) return;
    for (unsigned i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(s->stmts[i].st);
        free(s->stmts[i].sql);
    }
    pthread_mutex_destroy(&s->stmts_mu);
    tarn__tree_cache_close(&s->base.trees);
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

static int sq_clone(tarn_catalog **out, tarn_catalog *c, tarn_error *err)
{
    return tarn__catalog_sqlite_open(out, ((sqlite_catalog *)c)->path, 0, err);
}

static int db_error(tarn_catalog *c, tarn_error *err, const char *what)
{
    sqlite_catalog *s = (sqlite_catalog *)c;
    int code = sqlite3_errcode(s->db);
    if (code == SQLITE_READONLY || s->read_only)
        return tarn__error_set(err, TARN_EIO,
                               "the catalog can only be read here (no write permission, a read-only medium or a "
                               "full disk): reading works, %s does not; nothing was changed",
                               what);
    if (code == SQLITE_FULL)
        return tarn__error_set(err, TARN_EIO, "the disk is full while %s: nothing was changed", what);
    return tarn__error_set(err, TARN_EIO, "catalog error while %s: %s", what, sqlite3_errmsg(s->db));
}

static unsigned sql_slot(const char *sql)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) h = (h ^ *p) * 16777619u;
    return h % STMT_CACHE;
}

/* A statement for SQL, from the cache when it is there and free. Every
 * statement taken here goes back through stmt_release, never finalize. */
static int stmt_acquire(sqlite3_stmt **out, tarn_catalog *c, const char *sql, tarn_error *err)
{
    sqlite_catalog *s = (sqlite_catalog *)c;
    cached_stmt *slot = NULL;
    int rc = 0;
    pthread_mutex_lock(&s->stmts_mu);
    for (unsigned i = 0, at = sql_slot(sql); i < STMT_CACHE; i++, at = (at + 1) % STMT_CACHE) {
        cached_stmt *e = &s->stmts[at];
        if (!e->sql) {
            slot = e;
            break;
        }
        if (strcmp(e->sql, sql) != 0) continue;
        if (!e->busy) {
            e->busy = 1;
            *out = e->st;
            goto done;
        }
        break;
    }
    if (sqlite3_prepare_v3(DB(c), sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL) != SQLITE_OK) {
        *out = NULL;
        rc = db_error(c, err, "preparing a statement");
    } else if (slot && (slot->sql = strdup(sql))) {
        slot->st = *out;
        slot->busy = 1;
    }
done:
    pthread_mutex_unlock(&s->stmts_mu);
    return rc;
}

static void stmt_release(tarn_catalog *c, sqlite3_stmt *st)
{
    if (!st) return;
    sqlite_catalog *s = (sqlite_catalog *)c;
    int cached = 0;
    pthread_mutex_lock(&s->stmts_mu);
    for (unsigned i = 0; i < STMT_CACHE && !cached; i++)
        if (s->stmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->stmts[i].busy = 0;
            cached = 1;
        }
    pthread_mutex_unlock(&s->stmts_mu);
    if (!cached) sqlite3_finalize(st);
}

/* Runs ST to completion and releases it. */
static int step_done(sqlite3_stmt *st, tarn_catalog *c, const char *what, tarn_error *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(c, err, what);
    stmt_release(c, st);
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* Runs SQL, a statement with one text parameter ARG, to completion. */
static int run1(tarn_catalog *c, const char *sql, const char *arg, const char *what, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, sql, err));
    bind_text(st, 1, arg);
    return step_done(st, c, what, err);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static void col_copy(char *out, size_t size, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* ---- transactions ----------------------------------------------------------------- */

static int sq_begin(tarn_catalog *c, tarn_error *err)
{
    sqlite_catalog *s = (sqlite_catalog *)c;
    struct stat st;
    if (stat(s->path, &st) != 0 || st.st_ino != s->ino || st.st_dev != s->dev)
        return tarn__error_set(err, TARN_EIO,
                               "the catalog '%s' was deleted or replaced while open: nothing was written (open the "
                               "lakehouse again)",
                               s->path);
    if (sqlite3_exec(DB(c), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(c, err, "starting a transaction");
    return 0;
}

static void sq_rollback(tarn_catalog *c)
{
    if (!sqlite3_get_autocommit(DB(c))) sqlite3_exec(DB(c), "ROLLBACK", NULL, NULL, NULL);
}

static int sq_commit(tarn_catalog *c, tarn_error *err)
{
    if (sqlite3_exec(DB(c), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = db_error(c, err, "committing");
        sq_rollback(c);
        return rc;
    }
    return 0;
}

/* Calls that run in their own transaction: one when the caller holds none. */
static int own_begin(tarn_catalog *c, int *began, tarn_error *err)
{
    *began = sqlite3_get_autocommit(DB(c));
    return *began ? sq_begin(c, err) : 0;
}

static int own_end(tarn_catalog *c, int began, int rc, tarn_error *err)
{
    if (!began) return rc;
    if (rc < 0) {
        sq_rollback(c);
        return rc;
    }
    return sq_commit(c, err);
}

/* ---- immutable records ------------------------------------------------------------ */

static int sq_file_put(tarn_catalog *c, const tarn_data_file *f, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR IGNORE INTO data_files VALUES(?,?,?,?,?)", err));
    bind_text(st, 1, f->key);
    sqlite3_bind_int64(st, 2, f->row_count);
    sqlite3_bind_int64(st, 3, f->size_bytes);
    bind_text(st, 4, f->stats_json ? f->stats_json : "{}");
    sqlite3_bind_int64(st, 5, tarn__now_us());
    return step_done(st, c, "recording a data file", err);
}

static int sq_file_get(tarn_catalog *c, const char *const *keys, size_t n, tarn_data_file *out,
                       tarn_error *err)
{
    memset(out, 0, n * sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT row_count, size_bytes, stats FROM data_files WHERE key=?", err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, keys[i]);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            out[i].key = strdup(keys[i]);
            out[i].row_count = sqlite3_column_int64(st, 0);
            out[i].size_bytes = sqlite3_column_int64(st, 1);
            out[i].stats_json = col_dup(st, 2);
        } else if (s == SQLITE_DONE) {
            rc = tarn__error_set(err, TARN_ENOTFOUND, "catalog error: data file '%s' is not recorded", keys[i]);
        } else {
            rc = db_error(c, err, "reading data files");
        }
    }
    stmt_release(c, st);
    if (rc < 0)
        for (size_t i = 0; i < n; i++) tarn__data_file_clear(&out[i]);
    return rc;
}

static int sq_version_put(tarn_catalog *c, const tarn_version *v, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR IGNORE INTO table_versions VALUES(?,?,?,?,?,?)", err));
    bind_text(st, 1, v->id);
    bind_text(st, 2, v->schema_json);
    bind_text(st, 3, v->parent);
    sqlite3_bind_int64(st, 4, v->row_count);
    sqlite3_bind_int64(st, 5, (int64_t)v->nfiles);
    sqlite3_bind_int64(st, 6, v->size_bytes);
    int rc = sqlite3_step(st);
    int inserted = sqlite3_changes(DB(c)) > 0;
    stmt_release(c, st);
    if (rc != SQLITE_DONE) return db_error(c, err, "recording a table version");
    if (!inserted) return 0; /* the same version exists already, files and all */
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT INTO version_files VALUES(?,?,?)", err));
    rc = 0;
    for (size_t i = 0; i < v->nfiles && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, v->id);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        bind_text(st, 3, v->files[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "recording version files");
    }
    stmt_release(c, st);
    return rc;
}

static int sq_version_get(tarn_catalog *c, const char *id, tarn_version *out, int with_files,
                          tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "SELECT schema, parent, row_count, size_bytes, file_count FROM table_versions WHERE id=?", err));
    bind_text(st, 1, id);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        stmt_release(c, st);
        if (s == SQLITE_DONE)
            return tarn__error_set(err, TARN_ENOTFOUND, "catalog error: table version %.12s is missing", id);
        return db_error(c, err, "reading a table version");
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    out->schema_json = col_dup(st, 0);
    col_copy(out->parent, sizeof out->parent, st, 1);
    out->row_count = sqlite3_column_int64(st, 2);
    out->size_bytes = sqlite3_column_int64(st, 3);
    out->file_count = sqlite3_column_int64(st, 4);
    stmt_release(c, st);
    if (!with_files) return 0;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT file FROM version_files WHERE version=? ORDER BY ord", err));
    bind_text(st, 1, id);
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (out->nfiles == cap) {
            cap = cap ? cap * 2 : 8;
            out->files = realloc(out->files, cap * sizeof *out->files);
        }
        out->files[out->nfiles++] = col_dup(st, 0);
    }
    stmt_release(c, st);
    return 0;
}

static int sq_subtree_put(tarn_catalog *c, const char *hash, const tarn_tree_entry *const *entries,
                          size_t n, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT 1 FROM tree_entries WHERE tree=? LIMIT 1", err));
    bind_text(st, 1, hash);
    int found = sqlite3_step(st) == SQLITE_ROW;
    stmt_release(c, st);
    if (found) return 0;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT INTO tree_entries VALUES(?,?,?,?)", err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, hash);
        bind_text(st, 2, entries[i]->name);
        sqlite3_bind_int(st, 3, (int)entries[i]->kind);
        bind_text(st, 4, entries[i]->version);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "writing a tree");
    }
    stmt_release(c, st);
    return rc;
}

static int sq_tree_put(tarn_catalog *c, const char *hash, const unsigned *buckets,
                       const char *const *subtrees, size_t n, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT 1 FROM trees WHERE tree=? LIMIT 1", err));
    bind_text(st, 1, hash);
    int found = sqlite3_step(st) == SQLITE_ROW;
    stmt_release(c, st);
    if (found) return 0;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT INTO trees VALUES(?,?,?)", err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, hash);
        sqlite3_bind_int(st, 2, (int)buckets[i]);
        bind_text(st, 3, subtrees[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "writing a tree");
    }
    stmt_release(c, st);
    return rc;
}

static int sq_tree_get(tarn_catalog *c, const char *root, int (*cb)(const tarn_tree_entry *, void *),
                       void *ctx, tarn_error *err)
{
    sqlite3_stmt *st;
    /* Unordered: the caller sorts by its own rule (tarn__tree_load), and
     * sorting here too cost as much as reading. */
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               "SELECT e.name, e.kind, e.version FROM trees t "
                               "JOIN tree_entries e ON e.tree = t.subtree WHERE t.tree = ?",
                               err));
    bind_text(st, 1, root);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_tree_entry e = {(char *)sqlite3_column_text(st, 0), (tarn_entry_kind)sqlite3_column_int(st, 1), {0}};
        const unsigned char *v = sqlite3_column_text(st, 2);
        size_t len = v ? (size_t)sqlite3_column_bytes(st, 2) : 0;
        if (len >= sizeof e.version) len = sizeof e.version - 1;
        memcpy(e.version, v ? (const char *)v : "", len);
        e.version[len] = 0;
        rc = cb(&e, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "reading a tree");
    stmt_release(c, st);
    return rc;
}

static int sq_commit_put(tarn_catalog *c, const tarn_commit_row *r, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR IGNORE INTO commits VALUES(?,?,?,?,?,?,?)", err));
    bind_text(st, 1, r->hash);
    bind_text(st, 2, r->tree);
    bind_text(st, 3, r->author);
    bind_text(st, 4, r->message);
    sqlite3_bind_int64(st, 5, r->time_us);
    bind_text(st, 6, r->properties_json ? r->properties_json : "{}");
    sqlite3_bind_int64(st, 7, r->generation);
    TARN_RETURN_NOT_OK(step_done(st, c, "writing a commit", err));
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR IGNORE INTO commit_parents VALUES(?,?,?)", err));
    int rc = 0;
    for (size_t i = 0; i < r->nparents && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, r->hash);
        sqlite3_bind_int(st, 2, (int)i);
        bind_text(st, 3, r->parents[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "writing commit parents");
    }
    stmt_release(c, st);
    return rc;
}

#define COMMIT_COLUMNS                                                                             \
    "c.hash, c.tree, c.time_us, c.generation, "                                                    \
    "(SELECT parent FROM commit_parents WHERE child = c.hash AND ord = 0), "                       \
    "(SELECT parent FROM commit_parents WHERE child = c.hash AND ord = 1), "                       \
    "c.author, c.message, c.properties"

static void commit_row(tarn_commit_row *out, sqlite3_stmt *st, int with_text)
{
    memset(out, 0, sizeof *out);
    col_copy(out->hash, sizeof out->hash, st, 0);
    col_copy(out->tree, sizeof out->tree, st, 1);
    out->time_us = sqlite3_column_int64(st, 2);
    out->generation = sqlite3_column_int64(st, 3);
    for (int p = 0; p < 2; p++)
        if (sqlite3_column_type(st, 4 + p) != SQLITE_NULL)
            col_copy(out->parents[out->nparents++], 65, st, 4 + p);
    if (with_text) {
        out->author = col_dup(st, 6);
        out->message = col_dup(st, 7);
        out->properties_json = col_dup(st, 8);
    }
}

static int sq_commit_get(tarn_catalog *c, const char *hash, tarn_commit_row *out, int with_text,
                         tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT " COMMIT_COLUMNS " FROM commits c WHERE c.hash = ?", err));
    bind_text(st, 1, hash);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) commit_row(out, st, with_text);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE) return tarn__error_set(err, TARN_ENOTFOUND, "commit %s not found", hash);
    return db_error(c, err, "reading a commit");
}

static int sq_commit_prefix(tarn_catalog *c, const char *prefix, char out[2][65], size_t *n,
                            tarn_error *err)
{
    *n = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT hash FROM commits WHERE hash >= ?1 AND hash < ?1 || 'g' LIMIT 2", err));
    bind_text(st, 1, prefix);
    while (sqlite3_step(st) == SQLITE_ROW) col_copy(out[(*n)++], 65, st, 0);
    stmt_release(c, st);
    return 0;
}

static int sq_commit_walk(tarn_catalog *c, const char *start, int64_t min_generation, int with_text,
                          int (*cb)(const tarn_commit_row *, void *), void *ctx, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c,
        "WITH RECURSIVE up(h) AS (SELECT ?1 UNION "
        "  SELECT p.parent FROM commit_parents p JOIN up ON p.child = up.h "
        "  JOIN commits pc ON pc.hash = p.parent WHERE pc.generation >= ?2) "
        "SELECT " COMMIT_COLUMNS " FROM up JOIN commits c ON c.hash = up.h",
        err));
    bind_text(st, 1, start);
    sqlite3_bind_int64(st, 2, min_generation);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_commit_row r;
        commit_row(&r, st, with_text);
        rc = cb(&r, ctx);
        tarn__commit_row_clear(&r);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "walking history");
    stmt_release(c, st);
    return rc;
}

/* ---- refs and their log ---------------------------------------------------------- */

/* Log times are monotonic per ref: a clock that steps back cannot reorder
 * the log, so REF@{time} stays well defined. */
static int ref_log(tarn_catalog *c, const char *name, const char *commit, const char *reason,
                   tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               "INSERT INTO ref_log(name, commit_hash, time_us, reason) "
                               "VALUES(?1, ?2, max(?3, coalesce((SELECT max(time_us) + 1 FROM ref_log "
                               "WHERE name = ?1), 0)), ?4)",
                               err));
    bind_text(st, 1, name);
    bind_text(st, 2, commit);
    sqlite3_bind_int64(st, 3, tarn__now_us());
    bind_text(st, 4, reason);
    return step_done(st, c, "logging a ref move", err);
}

static void ref_row(tarn_ref_row *out, sqlite3_stmt *st)
{
    memset(out, 0, sizeof *out);
    col_copy(out->name, sizeof out->name, st, 0);
    col_copy(out->commit, sizeof out->commit, st, 1);
    out->kind = sqlite3_column_int(st, 2);
    out->aborted = sqlite3_column_int(st, 3);
    out->updated_us = sqlite3_column_int64(st, 4);
}

static int sq_ref_get(tarn_catalog *c, const char *name, tarn_ref_row *out, int lock, tarn_error *err)
{
    (void)lock; /* BEGIN IMMEDIATE already holds the whole database */
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT name, commit_hash, kind, aborted, updated_us FROM refs WHERE name=?", err));
    bind_text(st, 1, name);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) ref_row(out, st);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE) return TARN_ENOTFOUND;
    return db_error(c, err, "reading a ref");
}

static int sq_ref_list(tarn_catalog *c, int kind, int (*cb)(const tarn_ref_row *, void *), void *ctx,
                       tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "SELECT name, commit_hash, kind, aborted, updated_us FROM refs WHERE kind=?1 OR ?1 < 0 ORDER BY name", err));
    sqlite3_bind_int(st, 1, kind);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_ref_row r;
        ref_row(&r, st);
        rc = cb(&r, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "listing refs");
    stmt_release(c, st);
    return rc;
}

static int sq_ref_insert(tarn_catalog *c, const char *name, int kind, const char *commit,
                         const char *reason, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT INTO refs VALUES(?,?,?,0,?)", err));
    bind_text(st, 1, name);
    sqlite3_bind_int(st, 2, kind);
    bind_text(st, 3, commit);
    sqlite3_bind_int64(st, 4, tarn__now_us());
    int rc = sqlite3_step(st);
    stmt_release(c, st);
    if (rc == SQLITE_CONSTRAINT)
        return tarn__error_set(err, TARN_EEXISTS, "a branch or tag named '%s' already exists", name);
    if (rc != SQLITE_DONE) return db_error(c, err, "creating a ref");
    return ref_log(c, name, commit, reason, err);
}

static int sq_ref_cas(tarn_catalog *c, const char *name, const char *expected, const char *commit,
                      const char *reason, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "UPDATE refs SET commit_hash=?1, updated_us=?4 WHERE name=?2 AND commit_hash=?3 AND kind=0", err));
    bind_text(st, 1, commit);
    bind_text(st, 2, name);
    bind_text(st, 3, expected);
    sqlite3_bind_int64(st, 4, tarn__now_us());
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(DB(c));
    stmt_release(c, st);
    if (rc != SQLITE_DONE) return db_error(c, err, "moving a branch");
    if (changed != 1)
        return tarn__error_set(err, TARN_ECONFLICT,
                               "branch '%s' moved while this change was being made; nothing was "
                               "changed (run it again)",
                               name);
    return ref_log(c, name, commit, reason, err);
}

static int sq_ref_delete(tarn_catalog *c, const char *name, int kind, const char *reason, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "DELETE FROM refs WHERE name=? AND kind=?", err));
    bind_text(st, 1, name);
    sqlite3_bind_int(st, 2, kind);
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(DB(c));
    stmt_release(c, st);
    if (rc != SQLITE_DONE) return db_error(c, err, "deleting a ref");
    if (changed != 1) return TARN_ENOTFOUND;
    return ref_log(c, name, "", reason, err);
}

static int sq_ref_set_aborted(tarn_catalog *c, const char *name, tarn_error *err)
{
    return run1(c, "UPDATE refs SET aborted = 1 WHERE name = ? AND kind = 0", name, "marking a branch aborted", err);
}

static int sq_reflog_at(tarn_catalog *c, const char *name, int64_t t, char out[65], tarn_error *err)
{
    out[0] = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c,
        "SELECT commit_hash FROM ref_log WHERE name=? AND time_us<=? ORDER BY time_us DESC, id DESC LIMIT 1", err));
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, t);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) col_copy(out, 65, st, 0);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE) return TARN_ENOTFOUND;
    return db_error(c, err, "reading the ref log");
}

static int sq_reflog_recent(tarn_catalog *c, int64_t since_us, int (*cb)(const char *, void *), void *ctx,
                            int64_t *last, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT coalesce(max(id), 0) FROM ref_log", err));
    *last = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    stmt_release(c, st);
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "SELECT DISTINCT commit_hash FROM ref_log WHERE time_us >= ? AND commit_hash <> ''", err));
    sqlite3_bind_int64(st, 1, since_us);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) rc = cb((const char *)sqlite3_column_text(st, 0), ctx);
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "reading the ref log");
    stmt_release(c, st);
    return rc;
}

/* ---- taints -------------------------------------------------------------------------- */

static int sq_taint_add(tarn_catalog *c, const char *commit, const char *job_id, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR IGNORE INTO taints VALUES(?,?)", err));
    bind_text(st, 1, commit);
    bind_text(st, 2, job_id);
    return step_done(st, c, "recording a run's commit", err);
}

static int sq_taint_inherit(tarn_catalog *c, const char *commit, const char *const *parents, size_t n,
                            tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "INSERT OR IGNORE INTO taints SELECT ?1, job_id FROM taints WHERE commit_hash = ?2", err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, commit);
        bind_text(st, 2, parents[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "recording a run's commit");
    }
    stmt_release(c, st);
    return rc;
}

static int sq_taint_get(tarn_catalog *c, const char *commit, char job_id[65], tarn_error *err)
{
    job_id[0] = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT job_id FROM taints WHERE commit_hash = ? LIMIT 1", err));
    bind_text(st, 1, commit);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) col_copy(job_id, 65, st, 0);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE) return TARN_ENOTFOUND;
    return db_error(c, err, "reading taints");
}

static int sq_taint_clear(tarn_catalog *c, const char *job_id, tarn_error *err)
{
    return run1(c, "DELETE FROM taints WHERE job_id = ?", job_id, "clearing a run's taint", err);
}

/* ---- jobs ------------------------------------------------------------------------------ */

#define JOB_COLUMNS                                                                                \
    "id, status, branch, started_us, ended_us, commit_hash, input_commit, project_hash, lease_id, " \
    "project, params, report, logs"

static void job_row(tarn_job_row *out, sqlite3_stmt *st, int with_text)
{
    memset(out, 0, sizeof *out);
    col_copy(out->id, sizeof out->id, st, 0);
    col_copy(out->status, sizeof out->status, st, 1);
    col_copy(out->branch, sizeof out->branch, st, 2);
    out->started_us = sqlite3_column_int64(st, 3);
    out->ended_us = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 4);
    col_copy(out->commit, sizeof out->commit, st, 5);
    col_copy(out->input_commit, sizeof out->input_commit, st, 6);
    col_copy(out->project_hash, sizeof out->project_hash, st, 7);
    col_copy(out->lease, sizeof out->lease, st, 8);
    if (with_text) {
        out->project_json = col_dup(st, 9);
        out->params_json = col_dup(st, 10);
        out->report_json = col_dup(st, 11);
        out->logs = col_dup(st, 12);
    }
}

static int sq_job_put(tarn_catalog *c, const tarn_job_row *j, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               "INSERT INTO jobs(id, status, branch, started_us, input_commit, project_hash, "
                               "project, params, lease_id, logs) VALUES(?,?,?,?,?,?,?,?,?,'')",
                               err));
    bind_text(st, 1, j->id);
    bind_text(st, 2, j->status);
    bind_text(st, 3, j->branch);
    sqlite3_bind_int64(st, 4, j->started_us);
    bind_text(st, 5, j->input_commit);
    bind_text(st, 6, j->project_hash);
    bind_text(st, 7, j->project_json ? j->project_json : "{}");
    bind_text(st, 8, j->params_json ? j->params_json : "{}");
    bind_text(st, 9, j->lease);
    return step_done(st, c, "recording the job", err);
}

static int sq_job_update(tarn_catalog *c, const tarn_job_row *j, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               "UPDATE jobs SET status=?, ended_us=?, commit_hash=nullif(?, ''), "
                               "report=coalesce(?, report), logs=coalesce(?, logs) WHERE id=?",
                               err));
    bind_text(st, 1, j->status);
    if (j->ended_us) sqlite3_bind_int64(st, 2, j->ended_us);
    else sqlite3_bind_null(st, 2);
    bind_text(st, 3, j->commit);
    if (j->report_json) bind_text(st, 4, j->report_json);
    else sqlite3_bind_null(st, 4);
    if (j->logs) bind_text(st, 5, j->logs);
    else sqlite3_bind_null(st, 5);
    bind_text(st, 6, j->id);
    return step_done(st, c, "recording the job's outcome", err);
}

static int sq_job_get(tarn_catalog *c, const char *id, tarn_job_row *out, int with_text, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT " JOB_COLUMNS " FROM jobs WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2",
                               err));
    bind_text(st, 1, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) job_row(out, st, with_text);
    int second = s == SQLITE_ROW && sqlite3_step(st) == SQLITE_ROW;
    stmt_release(c, st);
    if (second) {
        tarn__job_row_clear(out);
        return tarn__error_set(err, TARN_EAMBIGUOUS, "job id '%s' is ambiguous: give more characters", id);
    }
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE) return TARN_ENOTFOUND;
    return db_error(c, err, "reading a job");
}

static int sq_job_list(tarn_catalog *c, size_t limit, int running_only, int (*cb)(const tarn_job_row *, void *),
                       void *ctx, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "SELECT " JOB_COLUMNS " FROM jobs WHERE ?2 = 0 OR status = 'running' ORDER BY started_us DESC LIMIT ?1",
        err));
    sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    sqlite3_bind_int(st, 2, running_only);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_job_row j;
        job_row(&j, st, 0);
        rc = cb(&j, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "listing jobs");
    stmt_release(c, st);
    return rc;
}

/* ---- leases and claims ---------------------------------------------------------------- */

static int sq_lease_create(tarn_catalog *c, const char *holder_json, int64_t ttl_us, char out[33],
                           tarn_error *err)
{
    tarn__random_hex(out);
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c, "INSERT INTO leases VALUES(?,?,?,?,0)", err);
    if (rc == 0) {
        int64_t now = tarn__now_us();
        bind_text(st, 1, out);
        bind_text(st, 2, holder_json);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, now + ttl_us);
        rc = step_done(st, c, "taking a lease", err);
    }
    return own_end(c, began, rc, err);
}

static int sq_lease_renew(tarn_catalog *c, const char *id, int64_t ttl_us, tarn_error *err)
{
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c, "UPDATE leases SET expires_us = ?1 + ?2 WHERE id = ?3 AND dead = 0 AND expires_us > ?1",
                     err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, tarn__now_us());
        sqlite3_bind_int64(st, 2, ttl_us);
        bind_text(st, 3, id);
        rc = step_done(st, c, "renewing a lease", err);
        if (rc == 0 && sqlite3_changes(DB(c)) != 1) rc = TARN_ENOTFOUND;
    }
    return own_end(c, began, rc, err);
}

static int sq_lease_release(tarn_catalog *c, const char *id, tarn_error *err)
{
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    int rc = run1(c, "DELETE FROM claims WHERE lease = ?", id, "releasing a lease", err);
    if (rc == 0) rc = run1(c, "DELETE FROM leases WHERE id = ?", id, "releasing a lease", err);
    return own_end(c, began, rc, err);
}

static int sq_lease_kill(tarn_catalog *c, const char *id, tarn_error *err)
{
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    int rc = run1(c, "UPDATE leases SET dead = 1 WHERE id = ?", id, "ending a lease", err);
    return own_end(c, began, rc, err);
}

static void lease_row(tarn_lease_row *out, sqlite3_stmt *st)
{
    memset(out, 0, sizeof *out);
    col_copy(out->id, sizeof out->id, st, 0);
    out->holder_json = (char *)sqlite3_column_text(st, 1);
    out->expires_us = sqlite3_column_int64(st, 2);
    out->dead = sqlite3_column_int(st, 3);
}

static int lease_rows(tarn_catalog *c, const char *sql, int (*cb)(const tarn_lease_row *, void *), void *ctx,
                      tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, sql, err));
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_lease_row l;
        lease_row(&l, st);
        rc = cb(&l, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "reading leases");
    stmt_release(c, st);
    return rc;
}

static int sq_lease_reap(tarn_catalog *c, int (*cb)(const tarn_lease_row *, void *), void *ctx, tarn_error *err)
{
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c, "UPDATE leases SET dead = 1 WHERE dead = 0 AND expires_us <= ?", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, tarn__now_us());
        rc = step_done(st, c, "reaping leases", err);
    }
    rc = own_end(c, began, rc, err);
    if (rc < 0) return rc;
    return lease_rows(c, "SELECT id, holder, expires_us, dead FROM leases WHERE dead = 1", cb, ctx, err);
}

static int sq_lease_list(tarn_catalog *c, int (*cb)(const tarn_lease_row *, void *), void *ctx, tarn_error *err)
{
    return lease_rows(c, "SELECT id, holder, expires_us, dead FROM leases", cb, ctx, err);
}

static int sq_lease_alive(tarn_catalog *c, const char *id, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT 1 FROM leases WHERE id = ? AND dead = 0 AND expires_us > ?", err));
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, tarn__now_us());
    int s = sqlite3_step(st);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    return db_error(c, err, "reading a lease");
}

static int sq_claim_add(tarn_catalog *c, const char *lease, const char *kind, const char *key, tarn_error *err)
{
    int began;
    TARN_RETURN_NOT_OK(own_begin(c, &began, err));
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c, "INSERT OR IGNORE INTO claims VALUES(?,?,?)", err);
    if (rc == 0) {
        bind_text(st, 1, kind);
        bind_text(st, 2, key);
        bind_text(st, 3, lease);
        rc = step_done(st, c, "registering an upload", err);
    }
    return own_end(c, began, rc, err);
}

static int sq_claim_drop(tarn_catalog *c, const char *lease, const char *kind, const char *key, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "DELETE FROM claims WHERE kind = ? AND key = ? AND lease = ?", err));
    bind_text(st, 1, kind);
    bind_text(st, 2, key);
    bind_text(st, 3, lease);
    return step_done(st, c, "settling an upload", err);
}

static int sq_claim_list(tarn_catalog *c, const char *kind, int (*cb)(const char *, void *), void *ctx,
                         tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               "SELECT DISTINCT cl.key FROM claims cl JOIN leases l ON l.id = cl.lease "
                               "WHERE cl.kind = ? AND l.dead = 0",
                               err));
    bind_text(st, 1, kind);
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) rc = cb((const char *)sqlite3_column_text(st, 0), ctx);
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "reading claims");
    stmt_release(c, st);
    return rc;
}

/* ---- garbage collection --------------------------------------------------------------- */

static int sq_live_files(tarn_catalog *c, const char *const *commits, size_t n, int (*cb)(const char *, void *),
                         void *ctx, tarn_error *err)
{
    strbuf list = {0};
    sb_append(&list, "[");
    for (size_t i = 0; i < n; i++) sb_printf(&list, "%s\"%s\"", i ? "," : "", commits[i]);
    sb_append(&list, "]");
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c,
                     "WITH RECURSIVE live(h) AS (SELECT value FROM json_each(?1) UNION "
                     "  SELECT p.parent FROM commit_parents p JOIN live ON p.child = live.h), "
                     " vers(v) AS (SELECT DISTINCT te.version FROM live JOIN commits c ON c.hash = live.h "
                     "  JOIN trees t ON t.tree = c.tree "
                     "  JOIN tree_entries te ON te.tree = t.subtree AND te.kind = 0) "
                     "SELECT DISTINCT vf.file FROM vers JOIN version_files vf ON vf.version = vers.v",
                     err);
    if (rc < 0) {
        sb_free(&list);
        return rc;
    }
    bind_text(st, 1, sb_str(&list));
    int s;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) rc = cb((const char *)sqlite3_column_text(st, 0), ctx);
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "finding live data files");
    stmt_release(c, st);
    sb_free(&list);
    return rc;
}

static int sq_tombstone_put(tarn_catalog *c, const char *key, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT OR REPLACE INTO tombstones VALUES(?,?)", err));
    bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, tarn__now_us());
    return step_done(st, c, "recording a collected file", err);
}

static int sq_tombstone_any(tarn_catalog *c, const char *root, const char *version, char key_out[1024],
                            tarn_error *err)
{
    key_out[0] = 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c,
        root ? "SELECT vf.file FROM trees t JOIN tree_entries te ON te.tree = t.subtree AND te.kind = 0 "
               "JOIN version_files vf ON vf.version = te.version JOIN tombstones tb ON tb.key = vf.file "
               "WHERE t.tree = ? LIMIT 1"
             : "SELECT vf.file FROM version_files vf JOIN tombstones tb ON tb.key = vf.file "
               "WHERE vf.version = ? LIMIT 1",
        err));
    bind_text(st, 1, root ? root : version);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) col_copy(key_out, 1024, st, 0);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    return db_error(c, err, "reading collected files");
}

/* ---- tokens and protected branches ------------------------------------------------ */

/* A read-only catalog written by an older tarn has no such tables: it has
 * no tokens and no protected branch. */
static int auth_absent(tarn_catalog *c)
{
    return ((sqlite_catalog *)c)->read_only && !table_exists(DB(c), "protected_branches");
}

#define TOKEN_COLUMNS "id, hash, user_name, read_refs, write_refs, admin, created_us, expires_us, revoked_us"

static void token_row(tarn_token_row *t, sqlite3_stmt *st)
{
    memset(t, 0, sizeof *t);
    col_copy(t->id, sizeof t->id, st, 0);
    col_copy(t->hash, sizeof t->hash, st, 1);
    col_copy(t->user, sizeof t->user, st, 2);
    col_copy(t->read, sizeof t->read, st, 3);
    col_copy(t->write, sizeof t->write, st, 4);
    t->admin = sqlite3_column_int(st, 5);
    t->created_us = sqlite3_column_int64(st, 6);
    t->expires_us = sqlite3_column_int64(st, 7);
    t->revoked_us = sqlite3_column_int64(st, 8);
}

static int sq_token_put(tarn_catalog *c, const tarn_token_row *t, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "INSERT INTO tokens(" TOKEN_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,0)", err));
    bind_text(st, 1, t->id);
    bind_text(st, 2, t->hash);
    bind_text(st, 3, t->user);
    bind_text(st, 4, t->read);
    bind_text(st, 5, t->write);
    sqlite3_bind_int(st, 6, t->admin);
    sqlite3_bind_int64(st, 7, t->created_us);
    sqlite3_bind_int64(st, 8, t->expires_us);
    int rc = sqlite3_step(st);
    stmt_release(c, st);
    if (rc == SQLITE_CONSTRAINT) return tarn__error_set(err, TARN_EEXISTS, "token id '%s' is taken", t->id);
    return rc == SQLITE_DONE ? 0 : db_error(c, err, "storing a token");
}

static int sq_token_get(tarn_catalog *c, const char *id, tarn_token_row *out, tarn_error *err)
{
    if (auth_absent(c)) return TARN_ENOTFOUND;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?", err));
    bind_text(st, 1, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) token_row(out, st);
    stmt_release(c, st);
    if (s == SQLITE_ROW) return 0;
    return s == SQLITE_DONE ? TARN_ENOTFOUND : db_error(c, err, "reading a token");
}

static int sq_token_list(tarn_catalog *c, int (*cb)(const tarn_token_row *, void *), void *ctx, tarn_error *err)
{
    if (auth_absent(c)) return 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY created_us, id", err));
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        tarn_token_row t;
        token_row(&t, st);
        rc = cb(&t, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "listing tokens");
    stmt_release(c, st);
    return rc;
}

static int sq_token_revoke(tarn_catalog *c, const char *id, int64_t at_us, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(
        &st, c, "UPDATE tokens SET revoked_us = CASE WHEN revoked_us = 0 THEN ?2 ELSE revoked_us END WHERE id = ?1",
        err));
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, at_us);
    TARN_RETURN_NOT_OK(step_done(st, c, "revoking a token", err));
    return sqlite3_changes(DB(c)) ? 0 : TARN_ENOTFOUND;
}

static int sq_protect_set(tarn_catalog *c, const char *branch, int mode, tarn_error *err)
{
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c,
                               mode ? "INSERT OR REPLACE INTO protected_branches VALUES(?1, ?2)"
                                    : "DELETE FROM protected_branches WHERE name = ?1",
                               err));
    bind_text(st, 1, branch);
    if (mode) sqlite3_bind_int(st, 2, mode);
    return step_done(st, c, "protecting a branch", err);
}

static int sq_protect_get(tarn_catalog *c, const char *branch, int *mode, tarn_error *err)
{
    *mode = 0;
    if (auth_absent(c)) return 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT mode FROM protected_branches WHERE name = ?", err));
    bind_text(st, 1, branch);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) *mode = sqlite3_column_int(st, 0);
    stmt_release(c, st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : db_error(c, err, "reading a branch's protection");
}

static int sq_protect_list(tarn_catalog *c, int (*cb)(const char *, int, void *), void *ctx, tarn_error *err)
{
    if (auth_absent(c)) return 0;
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, "SELECT name, mode FROM protected_branches ORDER BY name", err));
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1), ctx);
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "listing protected branches");
    stmt_release(c, st);
    return rc;
}

/* ---- copying and comparing --------------------------------------------------------------- */

static int sq_rows_export(tarn_catalog *c, const char *table, const char *columns, const char *order,
                          int (*cb)(const char *const *, void *), void *ctx, tarn_error *err)
{
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", columns, table, order);
    sqlite3_stmt *st;
    TARN_RETURN_NOT_OK(stmt_acquire(&st, c, sql, err));
    int ncols = sqlite3_column_count(st), s, rc = 0;
    const char *vals[32];
    while (rc == 0 && ncols <= 32 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) vals[i] = (const char *)sqlite3_column_text(st, i);
        rc = cb(vals, ctx);
    }
    if (rc == 0 && s != SQLITE_DONE) rc = db_error(c, err, "reading the catalog");
    stmt_release(c, st);
    return rc;
}

static int sq_rows_import(tarn_catalog *c, const char *table, const char *columns, size_t n,
                          const char *const *values, tarn_error *err)
{
    size_t ncols = 1;
    for (const char *p = columns; *p; p++) ncols += *p == ',';
    strbuf sql = {0};
    sb_printf(&sql, "INSERT INTO %s(%s) VALUES(?", table, columns);
    for (size_t i = 1; i < ncols; i++) sb_append(&sql, ",?");
    sb_append(&sql, ")");
    sqlite3_stmt *st;
    int rc = stmt_acquire(&st, c, sb_str(&sql), err);
    sb_free(&sql);
    for (size_t r = 0; rc == 0 && r < n; r++) {
        sqlite3_reset(st);
        for (size_t i = 0; i < ncols; i++) {
            const char *v = values[r * ncols + i];
            if (v) sqlite3_bind_text(st, (int)i + 1, v, -1, SQLITE_STATIC);
            else sqlite3_bind_null(st, (int)i + 1);
        }
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(c, err, "copying the catalog");
    }
    stmt_release(c, st);
    return rc;
}

static const tarn_catalog_vtable SQLITE_VTABLE = {
    .version = TARN_CATALOG_VTABLE_VERSION,
    .name = "sqlite",
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .file_put = sq_file_put,
    .file_get = sq_file_get,
    .version_put = sq_version_put,
    .version_get = sq_version_get,
    .subtree_put = sq_subtree_put,
    .tree_put = sq_tree_put,
    .tree_get = sq_tree_get,
    .commit_put = sq_commit_put,
    .commit_get = sq_commit_get,
    .commit_prefix = sq_commit_prefix,
    .commit_walk = sq_commit_walk,
    .ref_get = sq_ref_get,
    .ref_list = sq_ref_list,
    .ref_insert = sq_ref_insert,
    .ref_cas = sq_ref_cas,
    .ref_delete = sq_ref_delete,
    .ref_set_aborted = sq_ref_set_aborted,
    .reflog_at = sq_reflog_at,
    .reflog_recent = sq_reflog_recent,
    .taint_add = sq_taint_add,
    .taint_inherit = sq_taint_inherit,
    .taint_get = sq_taint_get,
    .taint_clear = sq_taint_clear,
    .job_put = sq_job_put,
    .job_update = sq_job_update,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .lease_create = sq_lease_create,
    .lease_renew = sq_lease_renew,
    .lease_release = sq_lease_release,
    .lease_kill = sq_lease_kill,
    .lease_reap = sq_lease_reap,
    .lease_alive = sq_lease_alive,
    .lease_list = sq_lease_list,
    .claim_add = sq_claim_add,
    .claim_drop = sq_claim_drop,
    .claim_list = sq_claim_list,
    .live_files = sq_live_files,
    .tombstone_put = sq_tombstone_put,
    .tombstone_any = sq_tombstone_any,
    .rows_export = sq_rows_export,
    .rows_import = sq_rows_import,
    .clone = sq_clone,
    .close = sq_close,
    .token_put = sq_token_put,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .protect_set = sq_protect_set,
    .protect_get = sq_protect_get,
    .protect_list = sq_protect_list,
};
