/* catalog/db.c — the SQLite catalog: connection, schema, transactions.
 *
 * WAL journal, synchronous=FULL: a commit that returned is on disk, and a
 * process killed at any instant leaves the catalog as before or as after.
 * Writers take the write lock up front (BEGIN IMMEDIATE) and wait for each
 * other (busy timeout), so read-modify-write cycles never interleave. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/error.h"

#define TARN_CATALOG_SCHEMA_VERSION "1"

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
    "  pid INTEGER);"
    "INSERT OR IGNORE INTO meta VALUES('schema_version', '" TARN_CATALOG_SCHEMA_VERSION "');";

int tarn__catalog_open(sqlite3 **out, const char *path, int create, tarn_error *err)
{
    *out = NULL;
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        tarn__error_set(err, TARN_EIO, "cannot open catalog '%s': %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return TARN_EIO;
    }
    sqlite3_busy_timeout(db, 120000);
    char *msg = NULL;
    rc = sqlite3_exec(db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
                      NULL, NULL, &msg);
    if (rc == SQLITE_OK && create) rc = sqlite3_exec(db, SCHEMA, NULL, NULL, &msg);
    if (rc == SQLITE_OK && !create) {
        /* A catalog that is not ours (or is damaged) is refused, not used. */
        rc = sqlite3_exec(db, "SELECT value FROM meta WHERE key='schema_version'", NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        tarn__error_set(err, TARN_EIO, "catalog '%s' is unusable: %s", path,
                        msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return TARN_EIO;
    }
    *out = db;
    return 0;
}

int tarn__db_error(tarn_lake *lake, tarn_error *err, const char *what)
{
    return tarn__error_set(err, TARN_EIO, "catalog error while %s: %s", what,
                           sqlite3_errmsg(lake->db));
}

int tarn__tx_begin(tarn_lake *lake, tarn_error *err)
{
    if (sqlite3_exec(lake->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return tarn__db_error(lake, err, "starting a transaction");
    return 0;
}

int tarn__tx_commit(tarn_lake *lake, tarn_error *err)
{
    if (sqlite3_exec(lake->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = tarn__db_error(lake, err, "committing");
        tarn__tx_rollback(lake);
        return rc;
    }
    return 0;
}

void tarn__tx_rollback(tarn_lake *lake)
{
    if (!sqlite3_get_autocommit(lake->db)) sqlite3_exec(lake->db, "ROLLBACK", NULL, NULL, NULL);
}

int tarn__prepare(sqlite3_stmt **out, tarn_lake *lake, const char *sql, tarn_error *err)
{
    if (sqlite3_prepare_v3(lake->db, sql, -1, 0, out, NULL) != SQLITE_OK) {
        *out = NULL;
        return tarn__db_error(lake, err, "preparing a statement");
    }
    return 0;
}
