/* catalog/postgres.c — the shared catalog backend: the same records as the
 * SQLite backend, in PostgreSQL over libpq (docs/catalog.md, "The
 * PostgreSQL catalog").
 *
 * One connection per catalog handle, no session state across transactions
 * (PgBouncer in transaction mode works): every table name is qualified by
 * the schema the URL names, statements are sent with PQexecParams (parsed,
 * bound and run in one round trip, nothing left behind on the server), and
 * the only locks are transaction-scoped.
 *
 * Writers run at READ COMMITTED and take what SQLite's single write lock
 * gave them by name: the ref they move (SELECT ... FOR UPDATE), the job they
 * settle, and, for garbage collection's check-then-tombstone, every writer
 * at once (each write transaction holds a share of the `writers` table;
 * gc's critical section takes it whole). Immutable records are inserted
 * with ON CONFLICT DO NOTHING, so two writers of one content-addressed row
 * never fail.
 *
 * Failures: a serialization failure or deadlock is TARN_ERETRY (nothing
 * was written). A connection lost inside a transaction is TARN_ERETRY too.
 * A connection lost while COMMIT was on its way has an unknown outcome,
 * which is made known: every write transaction learns its transaction id
 * when it begins, and after reconnecting txid_status() says whether it
 * committed (return 0) or not (TARN_ERETRY), so a commit is never applied
 * twice nor lost. Outside a transaction every statement is idempotent and
 * is simply run again on a new connection.
 *
 * Arranged as the vtable is: connection and schema, statements,
 * transactions, immutable records, refs and their log, taints, jobs,
 * leases and claims, garbage collection. */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

#define SCHEMA_VERSION 3
#define DEFAULT_SCHEMA "tarn"
/* How long a lost connection is waited for before giving up. */
#define RECONNECT_MS 30000
#define MAX_PARAMS 12
#define KNOWN_MAX 65536

/* The database's clock, in microseconds: leases expire by it, so every
 * host of a shared catalog agrees on what expired. */
#define NOW_US "(extract(epoch from clock_timestamp()) * 1000000)::bigint"

/* A set of 64-character hashes (open addressing; an empty slot starts
 * with NUL). */
typedef struct hash_set {
    char (*v)[65];
    size_t n, cap;
} hash_set;

/* Table versions (without their files) read along with a tree: `tarn
 * table ls` of a thousand tables is two round trips, not a thousand.
 * Versions are immutable, so a copy is never stale. */
typedef struct version_entry {
    char id[65];
    char parent[65];
    char *schema_json;
    int64_t row_count, size_bytes, file_count;
} version_entry;

typedef struct version_cache {
    version_entry *v; /* open addressing; an empty slot has id "" */
    size_t n, cap;
} version_cache;

typedef struct pg_catalog {
    tarn_catalog base;
    PGconn *conn;
    char *location; /* as given, for clone() */
    char *conninfo; /* the URL handed to libpq (without tarn's own parameters) */
    char *schema;
    char shown[512]; /* the location with its password hidden, for messages */
    int in_tx;
    int tx_failed;      /* a statement of the open transaction failed: its code */
    char txid[32];      /* of the open write transaction */
    int locked_writers; /* the open transaction holds every writer off */
    int faulted;        /* a TARN_FAULT point fired (tests) */
    /* SQL with the schema filled in, by template. */
    struct {
        const char *tmpl;
        char *sql;
        char name[65];
        int uses;
    } sql[96];
    size_t nsql;
    /* Subtrees and trees known to be stored (committed), and those this
     * transaction stored: a commit that changes one table of a thousand
     * then writes one subtree, not 64. */
    hash_set known, pending;
    /* Statements are prepared once per connection (server-side, by name)
     * unless PREPARE is off: the URL said prepare=off, or a pooler was
     * seen dropping them between transactions. */
    int prepare;
    hash_set prepared;
    version_cache versions;
    char prefetched[65]; /* the last tree whose versions were read along */
    /* Subtrees written by this transaction and not yet sent: they go with
     * the root (tree_put), in one statement. */
    strbuf st_tree, st_name, st_kind, st_version;
    size_t st_n;
    /* Writes of the open transaction whose only answer is "done" (records
     * inserted if absent, claims settled): held and sent ahead of the
     * transaction's next statement, in the same round trip (libpq's
     * pipeline mode). A commit is then a handful of round trips, not one
     * per record. Their failure fails that statement, and the transaction. */
    /* Commits (without their text) read or written lately: a commit reads
     * the branch's head and then its parent, the same row, and the next
     * commit's head is often this one's. Rows of the open transaction are
     * pending until it commits. */
    struct {
        tarn_commit_row row;
        int pending;
    } commits[8];
    unsigned commit_next;
    struct later {
        const char *sql, *name, *what;
        int txid; /* its one value is the transaction's id */
        int n;
        char *v[MAX_PARAMS];
    } * later;
    size_t nlater, later_cap;
} pg_catalog;

static const tarn_catalog_vtable PG_VTABLE;

static pg_catalog *PG(tarn_catalog *c)
{
    return (pg_catalog *)c;
}

/* ---- small helpers ---------------------------------------------------------------- */

static size_t hash_slot(const char *h, size_t cap)
{
    uint64_t x = 1469598103934665603ull;
    for (int i = 0; i < 16 && h[i]; i++)
        x = (x ^ (unsigned char)h[i]) * 1099511628211ull;
    return (size_t)x & (cap - 1);
}

static int hash_set_has(const hash_set *s, const char *h)
{
    if (!s->cap) return 0;
    for (size_t i = hash_slot(h, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->v[i][0]) return 0;
        if (memcmp(s->v[i], h, 64) == 0) return 1;
    }
}

static void hash_set_clear(hash_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        s->v[i][0] = 0;
    s->n = 0;
}

static void hash_set_add(hash_set *s, const char *h)
{
    if (strlen(h) != 64 || hash_set_has(s, h)) return;
    if (s->n >= KNOWN_MAX) hash_set_clear(s); /* a cache: forgetting is always safe */
    if (2 * (s->n + 1) > s->cap) {
        hash_set bigger = {calloc(s->cap ? 2 * s->cap : 256, sizeof *s->v), 0,
                           s->cap ? 2 * s->cap : 256};
        if (!bigger.v) return;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i][0]) hash_set_add(&bigger, s->v[i]);
        free(s->v);
        *s = bigger;
    }
    size_t i = hash_slot(h, s->cap);
    while (s->v[i][0])
        i = (i + 1) & (s->cap - 1);
    memcpy(s->v[i], h, 65);
    s->n++;
}

static void hash_set_free(hash_set *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static void version_cache_free(version_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->v[i].schema_json);
    free(c->v);
    memset(c, 0, sizeof *c);
}

static version_entry *version_find(version_cache *c, const char *id)
{
    if (!c->cap || strlen(id) != 64) return NULL;
    for (size_t i = hash_slot(id, c->cap);; i = (i + 1) & (c->cap - 1)) {
        if (!c->v[i].id[0]) return NULL;
        if (!strcmp(c->v[i].id, id)) return &c->v[i];
    }
}

/* Keeps a copy of V (without files); forgetting is always safe. */
static void version_keep(version_cache *c, const tarn_version *v)
{
    if (strlen(v->id) != 64 || version_find(c, v->id)) return;
    if (c->n >= KNOWN_MAX / 4) version_cache_free(c);
    if (2 * (c->n + 1) > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        version_cache bigger = {calloc(cap, sizeof *c->v), 0, cap};
        if (!bigger.v) return;
        for (size_t i = 0; i < c->cap; i++)
            if (c->v[i].id[0]) {
                size_t k = hash_slot(c->v[i].id, bigger.cap);
                while (bigger.v[k].id[0])
                    k = (k + 1) & (bigger.cap - 1);
                bigger.v[k] = c->v[i];
                bigger.n++;
            }
        free(c->v);
        *c = bigger;
    }
    size_t k = hash_slot(v->id, c->cap);
    while (c->v[k].id[0])
        k = (k + 1) & (c->cap - 1);
    version_entry *e = &c->v[k];
    snprintf(e->id, sizeof e->id, "%s", v->id);
    snprintf(e->parent, sizeof e->parent, "%s", v->parent);
    e->schema_json = strdup(v->schema_json ? v->schema_json : "");
    e->row_count = v->row_count;
    e->size_bytes = v->size_bytes;
    e->file_count = v->file_count;
    c->n++;
}

/* The length of the valid UTF-8 sequence at P[I] (N bytes in all), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t i, size_t n)
{
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[i + k] & 0xC0) != 0x80) return 0;
    if (len == 2 && c < 0xC2) return 0; /* overlong */
    if (len == 3 && ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (len == 4 && (c > 0xF4 || (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90)))
        return 0;
    return len;
}

/* Text PostgreSQL accepts: valid UTF-8. Invalid sequences (a model
 * printing raw bytes into its log) become U+FFFD. NULL when S is fine as
 * it is; else a malloc'd copy. */
static char *utf8_fixed(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = strlen(s), len;
    while (i < n && (len = utf8_seq(p, i, n)))
        i += len;
    if (i == n) return NULL;
    strbuf out = {0};
    sb_appendn(&out, s, i);
    while (i < n) {
        if ((len = utf8_seq(p, i, n))) {
            sb_appendn(&out, s + i, len);
            i += len;
        } else {
            sb_append(&out, "\xEF\xBF\xBD");
            i++;
        }
    }
    return out.s;
}

/* Appends S to B as an element of a PostgreSQL array literal. */
static void array_elem(strbuf *b, const char *s)
{
    sb_append(b, b->len ? ",\"" : "{\"");
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '"' || *p == '\\') sb_appendn(b, "\\", 1);
        sb_appendn(b, p, 1);
    }
    sb_append(b, "\"");
}

static const char *array_end(strbuf *b)
{
    if (!b->len) sb_append(b, "{");
    sb_append(b, "}");
    return b->s;
}

/* Statement parameters: text, integers or NULL. */
typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][24];
    char *owned[MAX_PARAMS];
} params;

static void p_text(params *ps, const char *s)
{
    int i = ps->n++;
    ps->owned[i] = s ? utf8_fixed(s) : NULL;
    ps->v[i] = ps->owned[i] ? ps->owned[i] : s ? s : "";
}

static void p_int(params *ps, int64_t v)
{
    int i = ps->n++;
    snprintf(ps->num[i], sizeof ps->num[i], "%lld", (long long)v);
    ps->owned[i] = NULL;
    ps->v[i] = ps->num[i];
}

static void p_null(params *ps)
{
    int i = ps->n++;
    ps->owned[i] = NULL;
    ps->v[i] = NULL;
}

static void p_free(params *ps)
{
    if (!ps) return;
    for (int i = 0; i < ps->n; i++)
        free(ps->owned[i]);
    ps->n = 0;
}

static int64_t col_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_copy(char *out, size_t size, const PGresult *r, int row, int col)
{
    snprintf(out, size, "%s", PQgetvalue(r, row, col));
}

static char *col_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A test hook: TARN_FAULT=POINT makes this backend pretend something
 * happened there (a lost connection), once, without killing the process. */
static int fault_is(pg_catalog *p, const char *point)
{
    const char *want = getenv("TARN_FAULT");
    if (p->faulted || !want || strcmp(want, point) != 0) return 0;
    p->faulted = 1; /* once: what comes after must work */
    return 1;
}

/* ---- locations ---------------------------------------------------------------------- */

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static char *percent_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = 0;
    return out;
}

/* Splits LOCATION into what libpq takes and tarn's own parameters (which
 * libpq would refuse): `schema=NAME` (default tarn; libpq's
 * `options=-csearch_path=NAME` names it too) and `prepare=off` (no
 * server-side prepared statements, for poolers that drop them). */
static int parse_location(pg_catalog *p, const char *location, tarn_error *err)
{
    const char *q = strchr(location, '?');
    strbuf info = {0};
    sb_appendn(&info, location, q ? (size_t)(q - location) : strlen(location));
    char *schema = NULL, *path_schema = NULL;
    int nkept = 0;
    for (const char *s = q ? q + 1 : NULL; s && *s;) {
        size_t len = strcspn(s, "&");
        if (!strncmp(s, "schema=", 7)) {
            free(schema);
            schema = percent_decode(s + 7, len - 7);
        } else if (!strncmp(s, "prepare=", 8)) {
            p->prepare = !(len == 11 && !strncmp(s + 8, "off", 3));
        } else {
            if (!strncmp(s, "options=", 8)) {
                char *opt = percent_decode(s + 8, len - 8);
                char *sp = strstr(opt, "search_path=");
                if (sp) {
                    sp += 12;
                    sp[strcspn(sp, " ,")] = 0;
                    free(path_schema);
                    path_schema = strdup(sp);
                }
                free(opt);
            }
            sb_append(&info, nkept++ ? "&" : "?");
            sb_appendn(&info, s, len);
        }
        s += len;
        if (*s == '&') s++;
    }
    if (!schema)
        schema = path_schema ? path_schema : strdup(DEFAULT_SCHEMA);
    else
        free(path_schema);
    int ok = *schema && strlen(schema) <= 63 &&
             strspn(schema, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(schema) &&
             !(schema[0] >= '0' && schema[0] <= '9');
    if (!ok) {
        int rc = tarn__error_set(
            err, TARN_EINVALID,
            "invalid schema name '%s' in the catalog URL %s: use lower-case letters, digits "
            "and '_' (at most 63), as in ?schema=lake",
            schema, p->shown);
        free(schema);
        sb_free(&info);
        return rc;
    }
    p->schema = schema;
    p->conninfo = info.s;
    return 0;
}

/* ---- statements ---------------------------------------------------------------------- */

/* TMPL with every `@` replaced by the schema ("lake".), malloc'd. */
static char *expand(pg_catalog *p, const char *tmpl)
{
    strbuf b = {0};
    for (const char *s = tmpl; *s; s++) {
        if (*s == '@') {
            sb_append_sql_ident(&b, p->schema);
            sb_append(&b, ".");
        } else {
            sb_appendn(&b, s, 1);
        }
    }
    return b.s ? b.s : strdup("");
}

/* expand() of a static template (the cache is keyed by its address), once
 * per handle; *NAME gets the name it is prepared under (NULL: not yet),
 * a hash of the text, so that one name always means one text, whoever
 * prepared it. */
static const char *Q(pg_catalog *p, const char *tmpl, const char **name)
{
    size_t i = 0;
    while (i < p->nsql && p->sql[i].tmpl != tmpl)
        i++;
    if (i == p->nsql) {
        i = p->nsql < sizeof p->sql / sizeof p->sql[0] ? p->nsql++
                                                       : 0; /* (more than are ever needed) */
        free(p->sql[i].sql);
        p->sql[i].tmpl = tmpl;
        p->sql[i].sql = expand(p, tmpl);
        p->sql[i].uses = 0;
        char hex[65];
        tarn__sha256_hex(hex, p->sql[i].sql, strlen(p->sql[i].sql));
        snprintf(p->sql[i].name, sizeof p->sql[i].name, "tarn_%.59s", hex);
    }
    /* Prepared from its second use on: a command that runs a statement
     * once would only pay the extra round trip of preparing it. */
    if (name) *name = ++p->sql[i].uses >= 2 ? p->sql[i].name : NULL;
    return p->sql[i].sql;
}

static int lost(pg_catalog *p)
{
    return !p->conn || PQstatus(p->conn) != CONNECTION_OK;
}

/* The server's notices (a warning that it is shutting down) are not the
 * user's business: errors say what matters. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Opens the connection. ONCE: a single attempt; otherwise a lost
 * connection is waited for (the server restarting) up to RECONNECT_MS. */
static int connect_db(pg_catalog *p, int once, tarn_error *err)
{
    if (p->conn) PQfinish(p->conn);
    p->conn = NULL;
    hash_set_clear(&p->prepared); /* a new session has none */
    int waited = 0, pause = 20;
    for (;;) {
        const char *keys[] = {"dbname", "client_encoding", "fallback_application_name", NULL};
        const char *vals[] = {p->conninfo, "UTF8", "tarn", NULL};
        p->conn = PQconnectdbParams(keys, vals, 1);
        if (p->conn && PQstatus(p->conn) == CONNECTION_OK) {
            PQsetNoticeProcessor(p->conn, ignore_notice, NULL);
            return 0;
        }
        if (once || waited >= RECONNECT_MS) break;
        PQfinish(p->conn);
        p->conn = NULL;
        sleep_ms(pause);
        waited += pause;
        pause = pause < 500 ? pause * 2 : 1000;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "%s", p->conn ? PQerrorMessage(p->conn) : "out of memory");
    msg[strcspn(msg, "\n")] = 0;
    PQfinish(p->conn);
    p->conn = NULL;
    return tarn__error_set(err, TARN_EIO,
                           "cannot reach the catalog at %s: %s (is the server running?)", p->shown,
                           msg);
}

static int is_retryable(const char *state)
{
    return state && (!strcmp(state, "40001") || !strcmp(state, "40P01"));
}

/* Whether a failed statement's connection is gone: then the transaction
 * is too, and the server never applied what it did not commit. */
static int conn_failure(pg_catalog *p, const char *state)
{
    if (lost(p)) return 1;
    /* admin shutdown, crash shutdown, cannot connect now, connection exceptions */
    return state && (!strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
                     !strcmp(state, "57P02") || !strcmp(state, "57P03"));
}

/* Runs SQL with PS; *OUT gets the result (the caller PQclears it). WHAT
 * names the operation for messages. Outside a transaction a lost
 * connection is reopened and the (idempotent) statement run again; inside
 * one, the transaction is lost: TARN_ERETRY. */
/* Sends SQL: as the prepared statement NAME when given (prepared on this
 * connection first if it is not yet), else unnamed (parsed each time). */
static PGresult *send(pg_catalog *p, const char *sql, const char *name, const params *ps)
{
    int n = ps ? ps->n : 0;
    const char *const *v = ps ? ps->v : NULL;
    if (!name || !p->prepare) return PQexecParams(p->conn, sql, n, NULL, v, NULL, NULL, 0);
    if (!hash_set_has(&p->prepared, name)) {
        PGresult *r = PQprepare(p->conn, name, sql, 0, NULL);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return r;
        PQclear(r);
        hash_set_add(&p->prepared, name);
    }
    return PQexecPrepared(p->conn, name, n, v, NULL, NULL, 0);
}

static int run_do(pg_catalog *p, const char *tmpl, params *ps, const char *what, tarn_error *err);

static void later_clear(pg_catalog *p)
{
    for (size_t i = 0; i < p->nlater; i++)
        for (int k = 0; k < p->later[i].n; k++)
            free(p->later[i].v[k]);
    p->nlater = 0;
}

/* What send_trees() says it is doing: a duplicate key there is a race
 * with another writer of the same root, which running again resolves. */
static const char WRITING_TREE[] = "writing a tree";

/* The error of a statement that failed inside the transaction (R NULL:
 * the connection's); the transaction has failed with it. */
static int tx_error(pg_catalog *p, const PGresult *r, const char *name, const char *what,
                    tarn_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[600];
    snprintf(msg, sizeof msg, "%s",
             r         ? PQresultErrorMessage(r)
             : p->conn ? PQerrorMessage(p->conn)
                       : "no connection");
    msg[strcspn(msg, "\n")] = 0;
    int retry = is_retryable(state), gone = !r || conn_failure(p, state);
    if (state && !strcmp(state, "23505") && what == WRITING_TREE) retry = 1;
    if (state && (!strcmp(state, "26000") || !strcmp(state, "42P05")) && name) {
        /* A prepared statement vanished, or one this session never
         * prepared is there: a pooler in transaction mode (PgBouncer)
         * moves this session between server connections. Unnamed
         * statements from now on; the transaction runs again. */
        p->prepare = 0;
        retry = 1;
    }
    int rc;
    if (retry || gone)
        rc =
            tarn__error_set(err, TARN_ERETRY, "the catalog %s while %s; nothing was changed (%s)",
                            gone ? "connection was lost" : "had to abort a transaction", what, msg);
    else
        rc = tarn__error_set(err, TARN_EIO, "catalog error while %s: %s", what, msg);
    p->tx_failed = rc;
    return rc;
}

/* The held writes, then SQL (when not NULL) whose result goes to *OUT, in
 * one round trip. Inside a transaction that has not failed. */
static int run_pipelined(pg_catalog *p, PGresult **out, const char *sql, const char *name,
                         const params *ps, const char *what, tarn_error *err)
{
    *out = NULL;
    size_t total = p->nlater + (sql ? 1 : 0);
    const char *batch_prepared[64];
    size_t nbatch = 0, k;
    int *prep = calloc(total ? total : 1, sizeof *prep);
    int rc = 0, sent = prep && !lost(p) && PQenterPipelineMode(p->conn);
    for (k = 0; sent && k < total; k++) {
        int mine = k == p->nlater;
        const char *q = mine ? sql : p->later[k].sql;
        const char *nm = mine ? name : p->later[k].name;
        int n = mine ? (ps ? ps->n : 0) : p->later[k].n;
        const char *const *v = mine ? (ps ? ps->v : NULL) : (const char *const *)p->later[k].v;
        if (nm && p->prepare) {
            int known = hash_set_has(&p->prepared, nm);
            for (size_t b = 0; b < nbatch && !known; b++)
                known = !strcmp(batch_prepared[b], nm);
            if (!known && nbatch < sizeof batch_prepared / sizeof *batch_prepared) {
                prep[k] = 1;
                batch_prepared[nbatch++] = nm;
                sent = PQsendPrepare(p->conn, nm, q, 0, NULL);
            } else if (!known) {
                nm = NULL;
            }
        } else {
            nm = NULL;
        }
        if (sent)
            sent = nm ? PQsendQueryPrepared(p->conn, nm, n, v, NULL, NULL, 0)
                      : PQsendQueryParams(p->conn, q, n, NULL, v, NULL, NULL, 0);
    }
    if (sent) sent = PQpipelineSync(p->conn);
    if (!sent) {
        rc = prep ? tx_error(p, NULL, NULL, what, err)
                  : tarn__error_set(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* One result per command sent (a prepare, a statement), each followed
     * by NULL; after the first failure the rest are "aborted". */
    for (k = 0; k < total && rc == 0; k++) {
        int mine = k == p->nlater;
        const char *nm = mine ? name : p->later[k].name;
        const char *w = mine ? what : p->later[k].what;
        for (int step = prep[k] ? 0 : 1; step < 2 && rc == 0; step++) {
            PGresult *r = PQgetResult(p->conn);
            ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                if (step == 0) hash_set_add(&p->prepared, nm);
                if (step == 1 && !mine && p->later[k].txid && PQntuples(r) == 1)
                    snprintf(p->txid, sizeof p->txid, "%s", PQgetvalue(r, 0, 0));
                if (step == 1 && mine)
                    *out = r;
                else
                    PQclear(r);
            } else {
                rc = tx_error(p, r, nm, w, err);
                PQclear(r);
            }
            if (r) PQclear(PQgetResult(p->conn)); /* the command's closing NULL */
        }
    }
    /* What is left up to the sync point (each command ends with a NULL),
     * then out of pipeline mode; a session that cannot leave it is closed,
     * which aborts its transaction on the server. */
    for (size_t nulls = 0; !lost(p) && nulls <= 2 * total + 2;) {
        PGresult *r = PQgetResult(p->conn);
        if (!r) {
            nulls++;
            continue;
        }
        int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync) break;
    }
    if (!lost(p) && !PQexitPipelineMode(p->conn)) {
        PQfinish(p->conn);
        p->conn = NULL;
        if (rc == 0) rc = tx_error(p, NULL, NULL, what, err);
    }
done:
    if (rc < 0 && *out) {
        PQclear(*out);
        *out = NULL;
    }
    free(prep);
    later_clear(p);
    return rc;
}

/* Adds a statement to the held ones (PS may be NULL). */
static int hold(pg_catalog *p, const char *tmpl, params *ps, const char *what, int txid,
                tarn_error *err)
{
    params none = {0};
    if (!ps) ps = &none;
    if (p->nlater == p->later_cap) {
        size_t cap = p->later_cap ? 2 * p->later_cap : 16;
        struct later *more = realloc(p->later, cap * sizeof *more);
        if (!more) {
            p_free(ps);
            return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        }
        p->later = more;
        p->later_cap = cap;
    }
    struct later *l = &p->later[p->nlater];
    l->sql = Q(p, tmpl, &l->name);
    l->what = what;
    l->txid = txid;
    l->n = ps->n;
    int ok = 1;
    for (int i = 0; i < ps->n; i++) {
        l->v[i] = ps->v[i] ? strdup(ps->v[i]) : NULL;
        if (ps->v[i] && !l->v[i]) ok = 0;
    }
    p_free(ps);
    p->nlater++;
    if (!ok) {
        later_clear(p);
        p->tx_failed = TARN_ENOMEM;
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    return 0;
}

/* Holds a write of the open transaction (run_do() outside one): see
 * pg_catalog.later. */
static int run_later(pg_catalog *p, const char *tmpl, params *ps, const char *what, tarn_error *err)
{
    if (!p->in_tx || p->tx_failed) return run_do(p, tmpl, ps, what, err);
    return hold(p, tmpl, ps, what, 0, err);
}

static int run_sql(pg_catalog *p, PGresult **out, const char *sql, const char *name, params *ps,
                   const char *what, tarn_error *err)
{
    *out = NULL;
    int rc = 0;
    if (p->in_tx && p->tx_failed) {
        rc = tarn__error_set(err, p->tx_failed,
                             "catalog error while %s: an earlier statement of this transaction "
                             "failed; nothing was changed",
                             what);
        goto done;
    }
    if (p->in_tx && p->nlater) {
        rc = run_pipelined(p, out, sql, name, ps, what, err);
        goto done;
    }
    for (int attempt = 0;; attempt++) {
        if (lost(p)) {
            if (p->in_tx) {
                p->tx_failed = TARN_ERETRY;
                rc = tarn__error_set(
                    err, TARN_ERETRY,
                    "the connection to the catalog at %s was lost while %s; nothing was changed",
                    p->shown, what);
                goto done;
            }
            if ((rc = connect_db(p, 0, err)) < 0) goto done;
        }
        PGresult *r = send(p, sql, name, ps);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *out = r;
            goto done;
        }
        if (p->in_tx) {
            rc = tx_error(p, r, name, what, err);
            PQclear(r);
            goto done;
        }
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        char msg[600];
        snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
        msg[strcspn(msg, "\n")] = 0;
        int retry = is_retryable(state), gone = conn_failure(p, state);
        if (state && !strcmp(state, "23505") && what == WRITING_TREE) retry = 1;
        if (state && (!strcmp(state, "26000") || !strcmp(state, "42P05")) && name) {
            /* As in tx_error(): unnamed statements from now on, and this
             * one runs again. */
            p->prepare = 0;
            retry = 1;
        }
        PQclear(r);
        if ((retry || gone) && attempt < 5) {
            if (gone) {
                PQfinish(p->conn);
                p->conn = NULL;
            }
            sleep_ms(10 << attempt);
            continue;
        }
        rc = tarn__error_set(err, retry || gone ? TARN_ERETRY : TARN_EIO,
                             "catalog error while %s: %s", what, msg);
        goto done;
    }
done:
    p_free(ps);
    return rc;
}

/* run_sql() of a static template (`@` for the schema). */
static int run(pg_catalog *p, PGresult **out, const char *tmpl, params *ps, const char *what,
               tarn_error *err)
{
    const char *name;
    const char *sql = Q(p, tmpl, &name);
    return run_sql(p, out, sql, name, ps, what, err);
}

/* run() for statements whose result is not needed. */
static int run_do(pg_catalog *p, const char *tmpl, params *ps, const char *what, tarn_error *err)
{
    PGresult *r;
    int rc = run(p, &r, tmpl, ps, what, err);
    PQclear(r);
    return rc;
}

/* A statement of one text parameter. */
static int run1(pg_catalog *p, const char *tmpl, const char *arg, const char *what, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, arg);
    return run_do(p, tmpl, &ps, what, err);
}

static void tx_end(pg_catalog *p, int committed);

/* ---- schema ----------------------------------------------------------------------------- */

/* Version 2, the first PostgreSQL schema: the same tables as SQLite's
 * version 2. Text keys compare bytewise (COLLATE "C"), as SQLite's do:
 * tree listings and hash prefixes depend on it. */
static const char SCHEMA_V2[] =
    "CREATE TABLE IF NOT EXISTS @meta(key text COLLATE \"C\" PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS @data_files(key text COLLATE \"C\" PRIMARY KEY, row_count bigint "
    "NOT NULL,"
    "  size_bytes bigint NOT NULL, stats text NOT NULL, created_us bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS @table_versions(id text COLLATE \"C\" PRIMARY KEY, schema text NOT "
    "NULL,"
    "  parent text COLLATE \"C\" NOT NULL, row_count bigint NOT NULL, file_count bigint NOT NULL,"
    "  size_bytes bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS @version_files(version text COLLATE \"C\" NOT NULL, ord integer "
    "NOT NULL,"
    "  file text COLLATE \"C\" NOT NULL, PRIMARY KEY(version, ord));"
    "CREATE TABLE IF NOT EXISTS @trees(tree text COLLATE \"C\" NOT NULL, bucket integer NOT NULL,"
    "  subtree text COLLATE \"C\" NOT NULL, PRIMARY KEY(tree, bucket));"
    "CREATE TABLE IF NOT EXISTS @tree_entries(tree text COLLATE \"C\" NOT NULL, name text COLLATE "
    "\"C\" NOT NULL,"
    "  kind integer NOT NULL, version text COLLATE \"C\" NOT NULL, PRIMARY KEY(tree, name));"
    "CREATE TABLE IF NOT EXISTS @commits(hash text COLLATE \"C\" PRIMARY KEY, tree text COLLATE "
    "\"C\" NOT NULL,"
    "  author text NOT NULL, message text NOT NULL, time_us bigint NOT NULL, properties text NOT "
    "NULL,"
    "  generation bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS @commit_parents(child text COLLATE \"C\" NOT NULL, ord integer NOT "
    "NULL,"
    "  parent text COLLATE \"C\" NOT NULL, PRIMARY KEY(child, ord));"
    "CREATE INDEX IF NOT EXISTS commit_parents_parent ON @commit_parents(parent);"
    "CREATE TABLE IF NOT EXISTS @refs(name text COLLATE \"C\" PRIMARY KEY, kind integer NOT NULL,"
    "  commit_hash text COLLATE \"C\" NOT NULL, aborted integer NOT NULL DEFAULT 0, updated_us "
    "bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS @ref_log(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name text COLLATE \"C\" NOT NULL, commit_hash text COLLATE \"C\" NOT NULL, time_us bigint "
    "NOT NULL,"
    "  reason text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ref_log_name ON @ref_log(name, time_us);"
    "CREATE TABLE IF NOT EXISTS @jobs(id text COLLATE \"C\" PRIMARY KEY, status text NOT NULL, "
    "branch text NOT NULL,"
    "  started_us bigint NOT NULL, ended_us bigint, commit_hash text, input_commit text, "
    "project_hash text,"
    "  project text, params text, report text, logs text NOT NULL DEFAULT '', lease_id text);"
    "CREATE INDEX IF NOT EXISTS jobs_started ON @jobs(started_us);"
    "CREATE TABLE IF NOT EXISTS @leases(id text COLLATE \"C\" PRIMARY KEY, holder text NOT NULL,"
    "  created_us bigint NOT NULL, expires_us bigint NOT NULL, dead integer NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS @claims(kind text COLLATE \"C\" NOT NULL, key text COLLATE \"C\" "
    "NOT NULL,"
    "  lease text COLLATE \"C\" NOT NULL, PRIMARY KEY(kind, key, lease));"
    "CREATE INDEX IF NOT EXISTS claims_lease ON @claims(lease);"
    "CREATE TABLE IF NOT EXISTS @taints(commit_hash text COLLATE \"C\" NOT NULL, job_id text "
    "COLLATE \"C\" NOT NULL,"
    "  PRIMARY KEY(commit_hash, job_id));"
    "CREATE INDEX IF NOT EXISTS taints_job ON @taints(job_id);"
    "CREATE TABLE IF NOT EXISTS @tombstones(key text COLLATE \"C\" PRIMARY KEY, time_us bigint NOT "
    "NULL);"
    /* Never written: every write transaction holds a share of it, so that
     * garbage collection can hold every writer off (see reflog_recent). */
    "CREATE TABLE IF NOT EXISTS @writers(unused integer);"
    "INSERT INTO @meta VALUES('schema_version', '2') ON CONFLICT(key) DO UPDATE SET value = "
    "excluded.value;";

/* Version 3: access tokens (only the SHA-256 of each is kept) and
 * protected branches, as SQLite keeps them. */
static const char SCHEMA_V3[] =
    "CREATE TABLE IF NOT EXISTS @tokens(id text COLLATE \"C\" PRIMARY KEY, hash text NOT NULL,"
    "  user_name text NOT NULL, read_refs text NOT NULL, write_refs text NOT NULL,"
    "  admin integer NOT NULL, created_us bigint NOT NULL, expires_us bigint NOT NULL,"
    "  revoked_us bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS @protected_branches(name text COLLATE \"C\" PRIMARY KEY,"
    "  mode integer NOT NULL);"
    "INSERT INTO @meta VALUES('schema_version', '3') ON CONFLICT(key) DO UPDATE SET value = "
    "excluded.value;";

/* Migrations, oldest first: each brings the schema to VERSION. */
static const struct {
    int version;
    const char *sql;
} MIGRATIONS[] = {{2, SCHEMA_V2}, {3, SCHEMA_V3}};

/* Runs SQL (several statements, no parameters) on the connection. */
static int run_script(pg_catalog *p, const char *tmpl, const char *what, tarn_error *err)
{
    char *sql = expand(p, tmpl);
    PGresult *r = PQexec(p->conn, sql);
    free(sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    int rc = 0;
    if (!ok) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
        msg[strcspn(msg, "\n")] = 0;
        rc =
            tarn__error_set(err, TARN_EIO, "catalog error while %s in %s: %s", what, p->shown, msg);
    }
    PQclear(r);
    return rc;
}

/* In one transaction, under a lock that serialises every tarn setting up
 * this schema: checks what is there, then creates or migrates it. CREATE:
 * the schema must hold no lakehouse yet (TARN_EEXISTS) and no tables of
 * others. Otherwise it must hold a tarn catalog, which is brought up to
 * SCHEMA_VERSION. */
static int prepare_schema(pg_catalog *p, int create, tarn_error *err)
{
    if (!create) {
        /* The common case, in one round trip: a catalog of this version. */
        PGresult *r;
        p->in_tx = 1; /* no retry here: a failure takes the careful path */
        int rc = run(p, &r, "SELECT value FROM @meta WHERE key = 'schema_version'", NULL,
                     "reading the schema version", NULL);
        int current = rc == 0 && PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == SCHEMA_VERSION;
        PQclear(r);
        tx_end(p, 0);
        if (current) return 0;
        if (lost(p)) TARN_RETURN_NOT_OK(connect_db(p, 1, err));
    }
    params ps = {0};
    p_text(&ps, p->schema);
    TARN_RETURN_NOT_OK(run_script(p, "BEGIN", "starting a transaction", err));
    p->in_tx = 1; /* a lost connection fails the whole of it */
    PGresult *r = NULL;
    int rc = run(p, &r, "SELECT pg_advisory_xact_lock(hashtext('tarn schema ' || $1))", &ps,
                 "locking the schema", err);
    PQclear(r);
    /* Which tables the schema holds, and the version if it is ours. */
    int ntables = 0, has_meta = 0, version = -1, nrefs = 0;
    if (rc == 0) {
        p_text(&ps, p->schema);
        rc = run(p, &r,
                 "SELECT count(*), count(*) FILTER (WHERE table_name = 'meta') FROM "
                 "information_schema.tables "
                 "WHERE table_schema = $1",
                 &ps, "reading the schema", err);
        if (rc == 0) {
            ntables = (int)col_int(r, 0, 0);
            has_meta = (int)col_int(r, 0, 1);
        }
        PQclear(r);
    }
    if (rc == 0 && has_meta) {
        rc = run(p, &r, "SELECT value FROM @meta WHERE key = 'schema_version'", NULL,
                 "reading the schema version", err);
        if (rc == 0 && PQntuples(r) == 1) version = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (rc == 0 && version >= 1) {
            rc = run(p, &r, "SELECT count(*) FROM @refs", NULL, "reading refs", err);
            if (rc == 0) nrefs = (int)col_int(r, 0, 0);
            PQclear(r);
        }
    }
    if (rc == 0 && ntables && version < 1)
        rc = tarn__error_set(
            err, TARN_EINVALID,
            "schema '%s' of %s holds tables that are not a tarn catalog: name another schema "
            "(add ?schema=NAME to the URL)",
            p->schema, p->shown);
    else if (rc == 0 && version > SCHEMA_VERSION)
        rc = tarn__error_set(
            err, TARN_EIO,
            "the catalog at %s was written by a newer tarn (schema %d, this tarn knows %d): "
            "upgrade tarn",
            p->shown, version, SCHEMA_VERSION);
    else if (rc == 0 && create && nrefs > 0)
        rc = tarn__error_set(
            err, TARN_EEXISTS,
            "the catalog at %s already holds a lakehouse: join it with 'tarn init --attach "
            "--catalog URL'",
            p->shown);
    else if (rc == 0 && !create && version < 1)
        rc = tarn__error_set(
            err, TARN_ENOTFOUND,
            "there is no tarn catalog at %s (schema '%s' is empty): create one with 'tarn init "
            "--catalog URL'",
            p->shown, p->schema);
    if (rc == 0 && (create || version < SCHEMA_VERSION)) {
        strbuf s = {0};
        sb_append(&s, "CREATE SCHEMA IF NOT EXISTS ");
        sb_append_sql_ident(&s, p->schema);
        rc = run_script(p, sb_str(&s), "creating the schema", err);
        sb_free(&s);
        for (size_t i = 0; rc == 0 && i < sizeof MIGRATIONS / sizeof *MIGRATIONS; i++)
            if (MIGRATIONS[i].version > version)
                rc = run_script(p, MIGRATIONS[i].sql, "creating tables", err);
    }
    if (rc == 0)
        rc = run_script(p, "COMMIT", "creating tables", err);
    else if (!lost(p))
        run_script(p, "ROLLBACK", "rolling back", NULL);
    tx_end(p, 0);
    return rc;
}

static void pg_close(tarn_catalog *c)
{
    pg_catalog *p = PG(c);
    if (!p) return;
    if (p->conn) PQfinish(p->conn);
    for (size_t i = 0; i < p->nsql; i++)
        free(p->sql[i].sql);
    hash_set_free(&p->known);
    hash_set_free(&p->pending);
    hash_set_free(&p->prepared);
    version_cache_free(&p->versions);
    tarn__tree_cache_close(&p->base.trees);
    later_clear(p);
    free(p->later);
    sb_free(&p->st_tree);
    sb_free(&p->st_name);
    sb_free(&p->st_kind);
    sb_free(&p->st_version);
    free(p->location);
    free(p->conninfo);
    free(p->schema);
    free(p);
}

int tarn__catalog_pg_open(tarn_catalog **out, const char *location, int create, tarn_error *err)
{
    *out = NULL;
    pg_catalog *p = calloc(1, sizeof *p);
    if (!p) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    p->base.vt = &PG_VTABLE;
    p->location = strdup(location);
    p->prepare = 1;
    tarn__catalog_redact(p->shown, sizeof p->shown, location);
    int rc = tarn__tree_cache_open(&p->base.trees);
    if (rc < 0) rc = tarn__error_set(err, rc, "out of memory");
    if (rc == 0) rc = parse_location(p, location, err);
    if (rc == 0) rc = connect_db(p, 1, err);
    if (rc == 0) rc = prepare_schema(p, create, err);
    if (rc < 0) {
        pg_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}

static int pg_clone(tarn_catalog **out, tarn_catalog *c, tarn_error *err)
{
    return tarn__catalog_pg_open(out, PG(c)->location, 0, err);
}

/* ---- transactions ------------------------------------------------------------------------- */

static void tx_end(pg_catalog *p, int committed)
{
    if (committed)
        for (size_t i = 0; i < p->pending.cap; i++)
            if (p->pending.v[i][0]) hash_set_add(&p->known, p->pending.v[i]);
    hash_set_clear(&p->pending);
    later_clear(p);
    for (unsigned i = 0; i < sizeof p->commits / sizeof *p->commits; i++) {
        if (!p->commits[i].pending) continue;
        if (!committed) memset(&p->commits[i].row, 0, sizeof p->commits[i].row);
        p->commits[i].pending = 0;
    }
    p->st_tree.len = p->st_name.len = p->st_kind.len = p->st_version.len = 0;
    p->st_n = 0;
    p->in_tx = p->tx_failed = p->locked_writers = 0;
    p->txid[0] = 0;
}

static int pg_begin(tarn_catalog *c, tarn_error *err)
{
    pg_catalog *p = PG(c);
    if (p->in_tx)
        return tarn__error_set(err, TARN_EIO, "catalog error: a transaction is already open");
    if (lost(p)) TARN_RETURN_NOT_OK(connect_db(p, 0, err));
    /* Held, and sent with the transaction's first statement: the
     * transaction, its share of the writers' lock, and its id (to learn
     * its fate should COMMIT's answer be lost). A connection lost before
     * that fails the first statement with TARN_ERETRY. */
    p->in_tx = 1;
    p->tx_failed = 0;
    p->txid[0] = 0;
    int rc =
        hold(p, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, "starting a transaction", 0, err);
    if (rc == 0)
        rc = hold(p, "LOCK TABLE @writers IN ROW EXCLUSIVE MODE", NULL, "starting a transaction", 0,
                  err);
    if (rc == 0)
        rc = hold(p, "SELECT txid_current()::text", NULL, "starting a transaction", 1, err);
    if (rc < 0) tx_end(p, 0);
    return rc;
}

static void pg_rollback(tarn_catalog *c)
{
    pg_catalog *p = PG(c);
    if (!p->in_tx) return;
    /* (Nothing to roll back while the BEGIN is still held.) */
    if (!lost(p) && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    tx_end(p, 0);
}

static int flush_subtrees(pg_catalog *p, tarn_error *err);

/* The fate of transaction TXID, asked on a new connection after the old
 * one was lost during COMMIT: 1 committed, 0 not, <0 unknown. */
static int tx_fate(pg_catalog *p, const char *txid, tarn_error *err)
{
    for (int waited = 0;; waited += 50) {
        if (lost(p)) TARN_RETURN_NOT_OK(connect_db(p, 0, err));
        params ps = {0};
        p_text(&ps, txid);
        PGresult *r;
        int rc = run(p, &r, "SELECT txid_status($1::bigint)", &ps, "asking whether a commit landed",
                     err);
        if (rc < 0) return rc;
        const char *s = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
        int fate = !strcmp(s, "committed")     ? 1
                   : !strcmp(s, "aborted")     ? 0
                   : !strcmp(s, "in progress") ? 2
                                               : -1;
        PQclear(r);
        if (fate == 2 && waited < RECONNECT_MS) { /* the old session is still finishing */
            sleep_ms(50);
            continue;
        }
        if (fate < 0 || fate == 2)
            return tarn__error_set(
                err, TARN_EIO,
                "the connection to the catalog at %s was lost while committing and whether the "
                "change landed cannot be told: check with 'tarn commit' before running it again",
                p->shown);
        return fate;
    }
}

static int pg_commit(tarn_catalog *c, tarn_error *err)
{
    pg_catalog *p = PG(c);
    if (!p->in_tx) return tarn__error_set(err, TARN_EIO, "catalog error: no transaction to commit");
    int rc = p->tx_failed;
    if (rc < 0) {
        pg_rollback(c);
        return tarn__error_set(
            err, rc, "catalog error: a statement of this transaction failed; nothing was changed");
    }
    if ((rc = flush_subtrees(p, err)) == 0 && p->nlater) {
        PGresult *r;
        rc = run_pipelined(p, &r, NULL, NULL, NULL, "committing", err);
    }
    if (rc < 0) {
        pg_rollback(c);
        return rc;
    }
    char txid[32];
    snprintf(txid, sizeof txid, "%s", p->txid);
    if (fault_is(p, "catalog:connection-lost-before-commit")) {
        PQfinish(p->conn); /* the server aborts what the closed session had open */
        p->conn = NULL;
    }
    PGresult *r = lost(p) ? NULL : PQexec(p->conn, "COMMIT");
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int retry = is_retryable(state);
    char msg[600];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : "");
    msg[strcspn(msg, "\n")] = 0;
    int rolled_back = r && PQresultStatus(r) == PGRES_COMMAND_OK && !ok;
    PQclear(r);
    if (ok && fault_is(p, "catalog:connection-lost-after-commit")) {
        PQfinish(p->conn); /* as if the answer to COMMIT never came */
        p->conn = NULL;
        ok = 0;
    }
    if (ok) {
        tx_end(p, 1);
        return 0;
    }
    if (!lost(p) && !conn_failure(p, state)) {
        tx_end(p, 0);
        if (retry)
            return tarn__error_set(err, TARN_ERETRY, "the catalog had to abort a transaction (%s)",
                                   msg);
        if (rolled_back)
            return tarn__error_set(
                err, TARN_EIO,
                "catalog error: the transaction was rolled back; nothing was changed");
        return tarn__error_set(err, TARN_EIO, "catalog error while committing: %s", msg);
    }
    /* The answer was lost: ask on a new connection what became of it. */
    p->in_tx = 0;
    rc = tx_fate(p, txid, err);
    tx_end(p, rc == 1);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
    return tarn__error_set(
        err, TARN_ERETRY,
        "the connection to the catalog at %s was lost before the commit landed; nothing was "
        "changed",
        p->shown);
}

/* Calls that run in their own transaction: a single statement is one
 * when no transaction is open. */

/* ---- immutable records -------------------------------------------------------------------- */

static int pg_file_put(tarn_catalog *c, const tarn_data_file *f, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, f->key);
    p_int(&ps, f->row_count);
    p_int(&ps, f->size_bytes);
    p_text(&ps, f->stats_json ? f->stats_json : "{}");
    p_int(&ps, tarn__now_us());
    return run_later(PG(c),
                     "INSERT INTO @data_files VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                     &ps, "recording a data file", err);
}

typedef struct file_row {
    const char *key;
    int row;
} file_row;

static int cmp_file_row(const void *a, const void *b)
{
    return strcmp(((const file_row *)a)->key, ((const file_row *)b)->key);
}

static int pg_file_get(tarn_catalog *c, const char *const *keys, size_t n, tarn_data_file *out,
                       tarn_error *err)
{
    memset(out, 0, n * sizeof *out);
    if (n == 0) return 0;
    strbuf arr = {0};
    for (size_t i = 0; i < n; i++)
        array_elem(&arr, keys[i]);
    params ps = {0};
    p_text(&ps, array_end(&arr));
    PGresult *r;
    int rc =
        run(PG(c), &r,
            "SELECT key, row_count, size_bytes, stats FROM @data_files WHERE key = ANY($1::text[])",
            &ps, "reading data files", err);
    sb_free(&arr);
    if (rc < 0) return rc;
    int nrows = PQntuples(r);
    file_row *rows = malloc((size_t)(nrows ? nrows : 1) * sizeof *rows);
    if (!rows) {
        PQclear(r);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < nrows; i++)
        rows[i] = (file_row){PQgetvalue(r, i, 0), i};
    qsort(rows, (size_t)nrows, sizeof *rows, cmp_file_row);
    for (size_t i = 0; i < n && rc == 0; i++) {
        file_row want = {keys[i], 0};
        const file_row *got =
            nrows ? bsearch(&want, rows, (size_t)nrows, sizeof *rows, cmp_file_row) : NULL;
        if (!got) {
            rc = tarn__error_set(err, TARN_ENOTFOUND,
                                 "catalog error: data file '%s' is not recorded", keys[i]);
            break;
        }
        out[i].key = strdup(keys[i]);
        out[i].row_count = col_int(r, got->row, 1);
        out[i].size_bytes = col_int(r, got->row, 2);
        out[i].stats_json = col_dup(r, got->row, 3);
    }
    free(rows);
    PQclear(r);
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            tarn__data_file_clear(&out[i]);
    return rc;
}

static int pg_version_put(tarn_catalog *c, const tarn_version *v, tarn_error *err)
{
    strbuf files = {0};
    for (size_t i = 0; i < v->nfiles; i++)
        array_elem(&files, v->files[i]);
    params ps = {0};
    p_text(&ps, v->id);
    p_text(&ps, v->schema_json);
    p_text(&ps, v->parent);
    p_int(&ps, v->row_count);
    p_int(&ps, (int64_t)v->nfiles);
    p_int(&ps, v->size_bytes);
    p_text(&ps, array_end(&files));
    /* The files go in only with the version: an existing version has them. */
    int rc = run_later(PG(c),
                       "WITH v AS (INSERT INTO @table_versions VALUES($1, $2, $3, $4, $5, $6) ON "
                       "CONFLICT DO NOTHING "
                       "RETURNING id) "
                       "INSERT INTO @version_files SELECT v.id, f.ord - 1, f.file FROM v, "
                       "unnest($7::text[]) WITH ORDINALITY AS f(file, ord)",
                       &ps, "recording a table version", err);
    sb_free(&files);
    return rc;
}

static int pg_version_get(tarn_catalog *c, const char *id, tarn_version *out, int with_files,
                          tarn_error *err)
{
    memset(out, 0, sizeof *out);
    version_entry *e = with_files ? NULL : version_find(&PG(c)->versions, id);
    if (e) {
        snprintf(out->id, sizeof out->id, "%s", e->id);
        snprintf(out->parent, sizeof out->parent, "%s", e->parent);
        out->schema_json = strdup(e->schema_json);
        out->row_count = e->row_count;
        out->size_bytes = e->size_bytes;
        out->file_count = e->file_count;
        return 0;
    }
    params ps = {0};
    p_text(&ps, id);
    p_int(&ps, with_files);
    PGresult *r;
    /* The version's row first, then its files in order: one round trip. */
    TARN_RETURN_NOT_OK(
        run(PG(c), &r,
            "SELECT 0 AS part, -1 AS ord, schema, parent, row_count, size_bytes, file_count "
            "FROM @table_versions WHERE id = $1 "
            "UNION ALL SELECT 1, ord, file, NULL, NULL, NULL, NULL FROM @version_files "
            "WHERE version = $1 AND $2::int = 1 ORDER BY part, ord",
            &ps, "reading a table version", err));
    int n = PQntuples(r);
    if (n == 0 || col_int(r, 0, 0) != 0) {
        PQclear(r);
        return tarn__error_set(err, TARN_ENOTFOUND, "catalog error: table version %.12s is missing",
                               id);
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    out->schema_json = col_dup(r, 0, 2);
    col_copy(out->parent, sizeof out->parent, r, 0, 3);
    out->row_count = col_int(r, 0, 4);
    out->size_bytes = col_int(r, 0, 5);
    out->file_count = col_int(r, 0, 6);
    if (n > 1) {
        out->files = malloc((size_t)(n - 1) * sizeof *out->files);
        if (!out->files) {
            PQclear(r);
            tarn__version_clear(out);
            return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        }
        for (int i = 1; i < n; i++)
            out->files[out->nfiles++] = col_dup(r, i, 2);
    }
    PQclear(r);
    return 0;
}

static int pg_subtree_put(tarn_catalog *c, const char *hash, const tarn_tree_entry *const *entries,
                          size_t n, tarn_error *err)
{
    pg_catalog *p = PG(c);
    if (hash_set_has(&p->known, hash) || hash_set_has(&p->pending, hash)) return 0;
    /* Sent with the root, in one statement (tree_put or commit). */
    for (size_t i = 0; i < n; i++) {
        char kind[8];
        snprintf(kind, sizeof kind, "%d", (int)entries[i]->kind);
        array_elem(&p->st_tree, hash);
        array_elem(&p->st_name, entries[i]->name);
        array_elem(&p->st_kind, kind);
        array_elem(&p->st_version, entries[i]->version);
    }
    p->st_n += n;
    hash_set_add(&p->pending, hash);
    (void)err;
    return 0;
}

/* The subtrees not yet sent, with (when ROOT is not NULL) the root tree's
 * rows, in one statement. A root is written whole or not at all, so one
 * look-up of its hash says whether it is there: cheaper for the server
 * than ON CONFLICT's check of each of its (up to 64) rows, the largest
 * part of an append commit's work there. Two writers of one new root at
 * once: the second waits for the first, then fails on the key and its
 * transaction runs again (tx_error), finding the root stored. */
static int send_trees(pg_catalog *p, const char *root, const char *buckets, const char *subtrees,
                      tarn_error *err)
{
    if (!p->st_n && !root) return 0;
    params ps = {0};
    p_text(&ps, array_end(&p->st_tree));
    p_text(&ps, array_end(&p->st_name));
    p_text(&ps, array_end(&p->st_kind));
    p_text(&ps, array_end(&p->st_version));
    p_text(&ps, root ? root : "");
    p_text(&ps, buckets ? buckets : "{}");
    p_text(&ps, subtrees ? subtrees : "{}");
    int rc = run_later(
        p,
        "WITH s AS (INSERT INTO @tree_entries SELECT * FROM unnest($1::text[], $2::text[], "
        "$3::int[], "
        "$4::text[]) ON CONFLICT DO NOTHING) "
        "INSERT INTO @trees SELECT $5, b, st FROM unnest($6::int[], $7::text[]) AS t(b, st) "
        "WHERE NOT EXISTS (SELECT 1 FROM @trees WHERE tree = $5)",
        &ps, WRITING_TREE, err);
    p->st_tree.len = p->st_name.len = p->st_kind.len = p->st_version.len = 0;
    p->st_n = 0;
    return rc;
}

static int flush_subtrees(pg_catalog *p, tarn_error *err)
{
    return send_trees(p, NULL, NULL, NULL, err);
}

static int pg_tree_put(tarn_catalog *c, const char *hash, const unsigned *buckets,
                       const char *const *subtrees, size_t n, tarn_error *err)
{
    pg_catalog *p = PG(c);
    if (hash_set_has(&p->known, hash) || hash_set_has(&p->pending, hash))
        return flush_subtrees(p, err);
    strbuf b = {0}, s = {0};
    for (size_t i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof num, "%u", buckets[i]);
        array_elem(&b, num);
        array_elem(&s, subtrees[i]);
    }
    int rc = send_trees(p, hash, array_end(&b), array_end(&s), err);
    sb_free(&b);
    sb_free(&s);
    if (rc == 0) hash_set_add(&p->pending, hash);
    return rc;
}

static void note_known(pg_catalog *p, const char *hash)
{
    hash_set_add(p->in_tx ? &p->pending : &p->known, hash);
}

/* Outside a write transaction a tree is read to be looked at (listed,
 * queried, planned): the versions of its tables come along, once per
 * tree. (Inside one it is read to be changed, and they would be waste.) */
static int prefetch_versions(pg_catalog *p, const char *root, tarn_error *err)
{
    if (!strcmp(p->prefetched, root)) return 0;
    params ps = {0};
    p_text(&ps, root);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(
        p, &r,
        "SELECT v.id, v.schema, v.parent, v.row_count, v.size_bytes, v.file_count FROM @trees t "
        "JOIN @tree_entries e ON e.tree = t.subtree AND e.kind = 0 "
        "JOIN @table_versions v ON v.id = e.version WHERE t.tree = $1",
        &ps, "reading a tree", err));
    for (int i = 0; i < PQntuples(r); i++) {
        tarn_version v;
        memset(&v, 0, sizeof v);
        col_copy(v.id, sizeof v.id, r, i, 0);
        v.schema_json = PQgetvalue(r, i, 1);
        col_copy(v.parent, sizeof v.parent, r, i, 2);
        v.row_count = col_int(r, i, 3);
        v.size_bytes = col_int(r, i, 4);
        v.file_count = col_int(r, i, 5);
        version_keep(&p->versions, &v);
    }
    PQclear(r);
    snprintf(p->prefetched, sizeof p->prefetched, "%s", root);
    return 0;
}

static int pg_tree_get(tarn_catalog *c, const char *root,
                       int (*cb)(const tarn_tree_entry *, void *), void *ctx, tarn_error *err)
{
    pg_catalog *p = PG(c);
    TARN_RETURN_NOT_OK(flush_subtrees(p, err));
    params ps = {0};
    p_text(&ps, root);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(p, &r,
            "SELECT e.name, e.kind, e.version, t.subtree FROM @trees t "
            "JOIN @tree_entries e ON e.tree = t.subtree WHERE t.tree = $1",
            &ps, "reading a tree", err));
    int rc = 0, n = PQntuples(r);
    if (n) note_known(p, root);
    for (int i = 0; i < n && rc == 0; i++) {
        tarn_tree_entry e = {PQgetvalue(r, i, 0), (tarn_entry_kind)col_int(r, i, 1), {0}};
        col_copy(e.version, sizeof e.version, r, i, 2);
        if (i == 0 || strcmp(PQgetvalue(r, i, 3), PQgetvalue(r, i - 1, 3)) != 0)
            note_known(p, PQgetvalue(r, i, 3));
        rc = cb(&e, ctx);
    }
    PQclear(r);
    if (rc == 0 && !p->in_tx) rc = prefetch_versions(p, root, err);
    return rc;
}

static void commit_keep(pg_catalog *p, const tarn_commit_row *r)
{
    for (unsigned i = 0; i < sizeof p->commits / sizeof *p->commits; i++)
        if (!strcmp(p->commits[i].row.hash, r->hash)) return;
    unsigned i = p->commit_next++ % (sizeof p->commits / sizeof *p->commits);
    p->commits[i].row = *r;
    p->commits[i].row.author = p->commits[i].row.message = p->commits[i].row.properties_json = NULL;
    p->commits[i].pending = p->in_tx;
}

static int pg_commit_put(tarn_catalog *c, const tarn_commit_row *r, tarn_error *err)
{
    strbuf parents = {0};
    for (size_t i = 0; i < r->nparents; i++)
        array_elem(&parents, r->parents[i]);
    params ps = {0};
    p_text(&ps, r->hash);
    p_text(&ps, r->tree);
    p_text(&ps, r->author);
    p_text(&ps, r->message);
    p_int(&ps, r->time_us);
    p_text(&ps, r->properties_json ? r->properties_json : "{}");
    p_int(&ps, r->generation);
    p_text(&ps, array_end(&parents));
    int rc =
        run_later(PG(c),
                  "WITH c AS (INSERT INTO @commits VALUES($1, $2, $3, $4, $5, $6, $7) ON "
                  "CONFLICT DO NOTHING) "
                  "INSERT INTO @commit_parents SELECT $1, t.o - 1, t.p FROM unnest($8::text[]) "
                  "WITH ORDINALITY AS t(p, o) ON CONFLICT DO NOTHING",
                  &ps, "writing a commit", err);
    if (rc == 0) commit_keep(PG(c), r);
    sb_free(&parents);
    return rc;
}

#define COMMIT_COLUMNS                                                                             \
    "c.hash, c.tree, c.time_us, c.generation, "                                                    \
    "(SELECT parent FROM @commit_parents WHERE child = c.hash AND ord = 0), "                      \
    "(SELECT parent FROM @commit_parents WHERE child = c.hash AND ord = 1), "                      \
    "c.author, c.message, c.properties"

static void commit_row(tarn_commit_row *out, const PGresult *r, int i, int with_text)
{
    memset(out, 0, sizeof *out);
    col_copy(out->hash, sizeof out->hash, r, i, 0);
    col_copy(out->tree, sizeof out->tree, r, i, 1);
    out->time_us = col_int(r, i, 2);
    out->generation = col_int(r, i, 3);
    for (int k = 0; k < 2; k++)
        if (!PQgetisnull(r, i, 4 + k)) col_copy(out->parents[out->nparents++], 65, r, i, 4 + k);
    if (with_text) {
        out->author = col_dup(r, i, 6);
        out->message = col_dup(r, i, 7);
        out->properties_json = col_dup(r, i, 8);
    }
}

static int pg_commit_get(tarn_catalog *c, const char *hash, tarn_commit_row *out, int with_text,
                         tarn_error *err)
{
    memset(out, 0, sizeof *out);
    pg_catalog *p = PG(c);
    for (unsigned i = 0; !with_text && i < sizeof p->commits / sizeof *p->commits; i++)
        if (p->commits[i].row.hash[0] && !strcmp(p->commits[i].row.hash, hash)) {
            *out = p->commits[i].row;
            return 0;
        }
    params ps = {0};
    p_text(&ps, hash);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT " COMMIT_COLUMNS " FROM @commits c WHERE c.hash = $1",
                           &ps, "reading a commit", err));
    int found = PQntuples(r) == 1;
    if (found) commit_row(out, r, 0, with_text);
    if (found) commit_keep(p, out);
    PQclear(r);
    return found ? 0 : tarn__error_set(err, TARN_ENOTFOUND, "commit %s not found", hash);
}

static int pg_commit_prefix(tarn_catalog *c, const char *prefix, char out[2][65], size_t *n,
                            tarn_error *err)
{
    *n = 0;
    params ps = {0};
    p_text(&ps, prefix);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(PG(c), &r,
            "SELECT hash FROM @commits WHERE hash >= $1 AND hash < $1 || 'g' ORDER BY hash LIMIT 2",
            &ps, "finding a commit", err));
    for (int i = 0; i < PQntuples(r) && i < 2; i++)
        col_copy(out[(*n)++], 65, r, i, 0);
    PQclear(r);
    return 0;
}

static int pg_commit_walk(tarn_catalog *c, const char *start, int64_t min_generation, int with_text,
                          int (*cb)(const tarn_commit_row *, void *), void *ctx, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, start);
    p_int(&ps, min_generation);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(
        PG(c), &r,
        "WITH RECURSIVE up(h) AS (SELECT $1::text COLLATE \"C\" UNION "
        /* one index lookup per commit (LATERAL, kept apart by
         * OFFSET 0): planned as a join, the recursion scans
         * every parent row at every step */
        "  SELECT p.parent FROM up CROSS JOIN LATERAL (SELECT cp.parent FROM @commit_parents cp "
        "  JOIN @commits pc ON pc.hash = cp.parent WHERE cp.child = up.h AND pc.generation >= $2 "
        "  OFFSET 0) p) "
        "SELECT " COMMIT_COLUMNS " FROM up JOIN @commits c ON c.hash = up.h",
        &ps, "walking history", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        tarn_commit_row row;
        commit_row(&row, r, i, with_text);
        rc = cb(&row, ctx);
        tarn__commit_row_clear(&row);
    }
    PQclear(r);
    return rc;
}

/* ---- refs and their log --------------------------------------------------------------------- */

/* A ref change and its log entry, in one statement: CHANGE is a
 * data-modifying query RETURNING the ref's name when it changed anything.
 * Log times are monotonic per ref (as in SQLite); writers of one ref are
 * serialised by its row lock, which CHANGE takes. The parameters are
 * $1 name, $2 the logged commit, $3 now, $4 reason, then CHANGE's own. */
#define LOGGED(change)                                                                             \
    "WITH r AS (" change ") INSERT INTO @ref_log(name, commit_hash, time_us, reason) "             \
    "SELECT $1, $2, greatest($3, coalesce((SELECT max(time_us) + 1 FROM @ref_log WHERE name = "    \
    "$1), 0)), $4 "                                                                                \
    "FROM r RETURNING id"

static void ref_row(tarn_ref_row *out, const PGresult *r, int i)
{
    memset(out, 0, sizeof *out);
    col_copy(out->name, sizeof out->name, r, i, 0);
    col_copy(out->commit, sizeof out->commit, r, i, 1);
    out->kind = (int)col_int(r, i, 2);
    out->aborted = (int)col_int(r, i, 3);
    out->updated_us = col_int(r, i, 4);
}

static int pg_ref_get(tarn_catalog *c, const char *name, tarn_ref_row *out, int lock,
                      tarn_error *err)
{
    memset(out, 0, sizeof *out);
    pg_catalog *p = PG(c);
    params ps = {0};
    p_text(&ps, name);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(p, &r,
            lock && p->in_tx
                ? "SELECT name, commit_hash, kind, aborted, updated_us FROM @refs WHERE name = $1 FOR UPDATE"
                : "SELECT name, commit_hash, kind, aborted, updated_us FROM @refs WHERE name = $1",
            &ps, "reading a ref", err));
    int found = PQntuples(r) == 1;
    if (found) ref_row(out, r, 0);
    PQclear(r);
    return found ? 0 : TARN_ENOTFOUND;
}

static int pg_ref_list(tarn_catalog *c, int kind, int (*cb)(const tarn_ref_row *, void *),
                       void *ctx, tarn_error *err)
{
    params ps = {0};
    p_int(&ps, kind);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(
        PG(c), &r,
        "SELECT name, commit_hash, kind, aborted, updated_us FROM @refs WHERE kind = $1::int OR $1::int < 0 "
        "ORDER BY name",
        &ps, "listing refs", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        tarn_ref_row row;
        ref_row(&row, r, i);
        rc = cb(&row, ctx);
    }
    PQclear(r);
    return rc;
}

/* Runs a LOGGED statement; 1 when it changed the ref, 0 when not. */
static int logged(pg_catalog *p, const char *tmpl, params *ps, const char *what, tarn_error *err)
{
    PGresult *r;
    TARN_RETURN_NOT_OK(run(p, &r, tmpl, ps, what, err));
    int changed = PQntuples(r) > 0;
    PQclear(r);
    return changed;
}

static int pg_ref_insert(tarn_catalog *c, const char *name, int kind, const char *commit,
                         const char *reason, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, name);
    p_text(&ps, commit);
    p_int(&ps, tarn__now_us());
    p_text(&ps, reason);
    p_int(&ps, kind);
    int rc = logged(
        PG(c),
        LOGGED("INSERT INTO @refs VALUES($1, $5, $2, 0, $3) ON CONFLICT DO NOTHING RETURNING name"),
        &ps, "creating a ref", err);
    if (rc == 0)
        return tarn__error_set(err, TARN_EEXISTS, "a branch or tag named '%s' already exists",
                               name);
    return rc < 0 ? rc : 0;
}

static int pg_ref_cas(tarn_catalog *c, const char *name, const char *expected, const char *commit,
                      const char *reason, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, name);
    p_text(&ps, commit);
    p_int(&ps, tarn__now_us());
    p_text(&ps, reason);
    p_text(&ps, expected);
    int rc = logged(PG(c),
                    LOGGED("UPDATE @refs SET commit_hash = $2, updated_us = $3 WHERE name = $1 AND "
                           "commit_hash = $5 "
                           "AND kind = 0 RETURNING name"),
                    &ps, "moving a branch", err);
    if (rc == 0)
        return tarn__error_set(err, TARN_ECONFLICT,
                               "branch '%s' moved while this change was being made; nothing was "
                               "changed (run it again)",
                               name);
    return rc < 0 ? rc : 0;
}

static int pg_ref_delete(tarn_catalog *c, const char *name, int kind, const char *reason,
                         tarn_error *err)
{
    params ps = {0};
    p_text(&ps, name);
    p_text(&ps, "");
    p_int(&ps, tarn__now_us());
    p_text(&ps, reason);
    p_int(&ps, kind);
    int rc = logged(PG(c), LOGGED("DELETE FROM @refs WHERE name = $1 AND kind = $5 RETURNING name"),
                    &ps, "deleting a ref", err);
    if (rc == 0) return TARN_ENOTFOUND;
    return rc < 0 ? rc : 0;
}

static int pg_ref_set_aborted(tarn_catalog *c, const char *name, tarn_error *err)
{
    return run1(PG(c), "UPDATE @refs SET aborted = 1 WHERE name = $1 AND kind = 0", name,
                "marking a branch aborted", err);
}

static int pg_reflog_at(tarn_catalog *c, const char *name, int64_t t, char out[65], tarn_error *err)
{
    out[0] = 0;
    params ps = {0};
    p_text(&ps, name);
    p_int(&ps, t);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "SELECT commit_hash FROM @ref_log WHERE name = $1 AND time_us <= $2 "
                           "ORDER BY time_us DESC, id DESC LIMIT 1",
                           &ps, "reading the ref log", err));
    int found = PQntuples(r) == 1;
    if (found) col_copy(out, 65, r, 0, 0);
    PQclear(r);
    return found ? 0 : TARN_ENOTFOUND;
}

/* Inside a write transaction this is garbage collection's check that no
 * ref moved since it computed what is live, followed by its tombstones:
 * it first waits for every other writer and holds new ones off until the
 * transaction ends, which SQLite's single write lock does by itself.
 * *LAST is the number of log entries, not the newest id: identities are
 * handed out when rows are inserted, not in the order transactions
 * commit, so only the count grows with every committed entry. */
static int pg_reflog_recent(tarn_catalog *c, int64_t since_us, int (*cb)(const char *, void *),
                            void *ctx, int64_t *last, tarn_error *err)
{
    pg_catalog *p = PG(c);
    if (p->in_tx && !p->locked_writers) {
        TARN_RETURN_NOT_OK(
            run_do(p, "LOCK TABLE @writers IN SHARE MODE", NULL, "holding writers off", err));
        p->locked_writers = 1;
    }
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(p, &r, "SELECT count(*) FROM @ref_log", NULL, "reading the ref log", err));
    *last = col_int(r, 0, 0);
    PQclear(r);
    params ps = {0};
    p_int(&ps, since_us);
    TARN_RETURN_NOT_OK(
        run(p, &r,
            "SELECT DISTINCT commit_hash FROM @ref_log WHERE time_us >= $1 AND commit_hash <> ''",
            &ps, "reading the ref log", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = cb(PQgetvalue(r, i, 0), ctx);
    PQclear(r);
    return rc;
}

/* ---- taints ---------------------------------------------------------------------------------- */

static int pg_taint_add(tarn_catalog *c, const char *commit, const char *job_id, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, commit);
    p_text(&ps, job_id);
    return run_later(PG(c), "INSERT INTO @taints VALUES($1, $2) ON CONFLICT DO NOTHING", &ps,
                     "recording a run's commit", err);
}

static int pg_taint_inherit(tarn_catalog *c, const char *commit, const char *const *parents,
                            size_t n, tarn_error *err)
{
    if (n == 0) return 0;
    strbuf arr = {0};
    for (size_t i = 0; i < n; i++)
        array_elem(&arr, parents[i]);
    params ps = {0};
    p_text(&ps, commit);
    p_text(&ps, array_end(&arr));
    int rc =
        run_later(PG(c),
                  "INSERT INTO @taints SELECT DISTINCT $1, job_id FROM @taints WHERE commit_hash "
                  "= ANY($2::text[]) "
                  "ON CONFLICT DO NOTHING",
                  &ps, "recording a run's commit", err);
    sb_free(&arr);
    return rc;
}

static int pg_taint_get(tarn_catalog *c, const char *commit, char job_id[65], tarn_error *err)
{
    job_id[0] = 0;
    params ps = {0};
    p_text(&ps, commit);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT job_id FROM @taints WHERE commit_hash = $1 LIMIT 1",
                           &ps, "reading taints", err));
    int found = PQntuples(r) == 1;
    if (found) col_copy(job_id, 65, r, 0, 0);
    PQclear(r);
    return found ? 0 : TARN_ENOTFOUND;
}

static int pg_taint_clear(tarn_catalog *c, const char *job_id, tarn_error *err)
{
    return run1(PG(c), "DELETE FROM @taints WHERE job_id = $1", job_id, "clearing a run's taint",
                err);
}

/* ---- jobs -------------------------------------------------------------------------------------
 */

#define JOB_COLUMNS                                                                                \
    "id, status, branch, started_us, ended_us, commit_hash, input_commit, project_hash, "          \
    "lease_id, "                                                                                   \
    "project, params, report, logs"

static void job_row(tarn_job_row *out, const PGresult *r, int i, int with_text)
{
    memset(out, 0, sizeof *out);
    col_copy(out->id, sizeof out->id, r, i, 0);
    col_copy(out->status, sizeof out->status, r, i, 1);
    col_copy(out->branch, sizeof out->branch, r, i, 2);
    out->started_us = col_int(r, i, 3);
    out->ended_us = col_int(r, i, 4);
    col_copy(out->commit, sizeof out->commit, r, i, 5);
    col_copy(out->input_commit, sizeof out->input_commit, r, i, 6);
    col_copy(out->project_hash, sizeof out->project_hash, r, i, 7);
    col_copy(out->lease, sizeof out->lease, r, i, 8);
    if (with_text) {
        out->project_json = col_dup(r, i, 9);
        out->params_json = col_dup(r, i, 10);
        out->report_json = col_dup(r, i, 11);
        out->logs = col_dup(r, i, 12);
    }
}

static int pg_job_put(tarn_catalog *c, const tarn_job_row *j, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, j->id);
    p_text(&ps, j->status);
    p_text(&ps, j->branch);
    p_int(&ps, j->started_us);
    p_text(&ps, j->input_commit);
    p_text(&ps, j->project_hash);
    p_text(&ps, j->project_json ? j->project_json : "{}");
    p_text(&ps, j->params_json ? j->params_json : "{}");
    p_text(&ps, j->lease);
    return run_do(PG(c),
                  "INSERT INTO @jobs(id, status, branch, started_us, input_commit, project_hash, "
                  "project, params, "
                  "lease_id, logs) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, '')",
                  &ps, "recording the job", err);
}

static int pg_job_update(tarn_catalog *c, const tarn_job_row *j, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, j->status);
    if (j->ended_us)
        p_int(&ps, j->ended_us);
    else
        p_null(&ps);
    p_text(&ps, j->commit);
    if (j->report_json)
        p_text(&ps, j->report_json);
    else
        p_null(&ps);
    if (j->logs)
        p_text(&ps, j->logs);
    else
        p_null(&ps);
    p_text(&ps, j->id);
    return run_do(PG(c),
                  "UPDATE @jobs SET status = $1, ended_us = $2, commit_hash = nullif($3, ''), "
                  "report = coalesce($4, report), logs = coalesce($5, logs) WHERE id = $6",
                  &ps, "recording the job's outcome", err);
}

/* Inside a write transaction the job's row is locked, as SQLite's write
 * lock would have it: a job is settled by one writer at a time (the run
 * recording its success, or a host settling it after its lease expired). */
static int pg_job_get(tarn_catalog *c, const char *id, tarn_job_row *out, int with_text,
                      tarn_error *err)
{
    memset(out, 0, sizeof *out);
    pg_catalog *p = PG(c);
    params ps = {0};
    p_text(&ps, id);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(p, &r,
            p->in_tx ? "SELECT " JOB_COLUMNS " FROM @jobs WHERE id >= $1 AND id < $1 || 'g' "
                       "ORDER BY id LIMIT 2 FOR UPDATE"
                     : "SELECT " JOB_COLUMNS " FROM @jobs WHERE id >= $1 AND id < $1 || 'g' "
                       "ORDER BY id LIMIT 2",
            &ps, "reading a job", err));
    int n = PQntuples(r);
    if (n == 1) job_row(out, r, 0, with_text);
    PQclear(r);
    if (n > 1)
        return tarn__error_set(err, TARN_EAMBIGUOUS,
                               "job id '%s' is ambiguous: give more characters", id);
    return n == 1 ? 0 : TARN_ENOTFOUND;
}

static int pg_job_list(tarn_catalog *c, size_t limit, int running_only,
                       int (*cb)(const tarn_job_row *, void *), void *ctx, tarn_error *err)
{
    params ps = {0};
    if (limit)
        p_int(&ps, (int64_t)limit);
    else
        p_null(&ps);
    p_int(&ps, running_only);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "SELECT " JOB_COLUMNS
                           " FROM @jobs WHERE $2::int = 0 OR status = 'running' "
                           "ORDER BY started_us DESC LIMIT $1::bigint",
                           &ps, "listing jobs", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        tarn_job_row j;
        job_row(&j, r, i, 0);
        rc = cb(&j, ctx);
    }
    PQclear(r);
    return rc;
}

/* ---- leases and claims ------------------------------------------------------------------------
 */

static int pg_lease_create(tarn_catalog *c, const char *holder_json, int64_t ttl_us, char out[33],
                           tarn_error *err)
{
    tarn__random_hex(out);
    params ps = {0};
    p_text(&ps, out);
    p_text(&ps, holder_json);
    p_int(&ps, ttl_us);
    /* ON CONFLICT: run again after a lost connection, it stays one lease. */
    return run_do(PG(c),
                  "INSERT INTO @leases SELECT $1, $2, now_us, now_us + $3, 0 FROM (SELECT " NOW_US
                  " AS now_us) t "
                  "ON CONFLICT DO NOTHING",
                  &ps, "taking a lease", err);
}

static int pg_lease_renew(tarn_catalog *c, const char *id, int64_t ttl_us, tarn_error *err)
{
    params ps = {0};
    p_int(&ps, ttl_us);
    p_text(&ps, id);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "UPDATE @leases SET expires_us = " NOW_US
                           " + $1 WHERE id = $2 AND dead = 0 "
                           "AND expires_us > " NOW_US,
                           &ps, "renewing a lease", err));
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    return changed == 1 ? 0 : TARN_ENOTFOUND;
}

static int pg_lease_release(tarn_catalog *c, const char *id, tarn_error *err)
{
    return run1(
        PG(c),
        "WITH cl AS (DELETE FROM @claims WHERE lease = $1) DELETE FROM @leases WHERE id = $1", id,
        "releasing a lease", err);
}

static int pg_lease_kill(tarn_catalog *c, const char *id, tarn_error *err)
{
    return run1(PG(c), "UPDATE @leases SET dead = 1 WHERE id = $1", id, "ending a lease", err);
}

static int lease_rows(PGresult *r, int (*cb)(const tarn_lease_row *, void *), void *ctx)
{
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        tarn_lease_row l;
        memset(&l, 0, sizeof l);
        col_copy(l.id, sizeof l.id, r, i, 0);
        l.holder_json = PQgetvalue(r, i, 1);
        l.expires_us = col_int(r, i, 2);
        l.dead = (int)col_int(r, i, 3);
        rc = cb(&l, ctx);
    }
    PQclear(r);
    return rc;
}

static int pg_lease_reap(tarn_catalog *c, int (*cb)(const tarn_lease_row *, void *), void *ctx,
                         tarn_error *err)
{
    PGresult *r;
    /* The rows this statement marks are not in its own snapshot: both sets. */
    TARN_RETURN_NOT_OK(run(
        PG(c), &r,
        "WITH reaped AS (UPDATE @leases SET dead = 1 WHERE dead = 0 AND expires_us <= " NOW_US " "
        "RETURNING id, holder, expires_us) "
        "SELECT id, holder, expires_us, 1 FROM @leases WHERE dead = 1 "
        "UNION ALL SELECT id, holder, expires_us, 1 FROM reaped",
        NULL, "reaping leases", err));
    return lease_rows(r, cb, ctx);
}

static int pg_lease_list(tarn_catalog *c, int (*cb)(const tarn_lease_row *, void *), void *ctx,
                         tarn_error *err)
{
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT id, holder, expires_us, dead FROM @leases", NULL,
                           "reading leases", err));
    return lease_rows(r, cb, ctx);
}

static int pg_lease_alive(tarn_catalog *c, const char *id, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, id);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(PG(c), &r, "SELECT 1 FROM @leases WHERE id = $1 AND dead = 0 AND expires_us > " NOW_US,
            &ps, "reading a lease", err));
    int alive = PQntuples(r) == 1;
    PQclear(r);
    return alive;
}

static int pg_claim_add(tarn_catalog *c, const char *lease, const char *kind, const char *key,
                        tarn_error *err)
{
    params ps = {0};
    p_text(&ps, kind);
    p_text(&ps, key);
    p_text(&ps, lease);
    return run_do(PG(c), "INSERT INTO @claims VALUES($1, $2, $3) ON CONFLICT DO NOTHING", &ps,
                  "registering an upload", err);
}

static int pg_claim_drop(tarn_catalog *c, const char *lease, const char *kind, const char *key,
                         tarn_error *err)
{
    params ps = {0};
    p_text(&ps, kind);
    p_text(&ps, key);
    p_text(&ps, lease);
    return run_later(PG(c), "DELETE FROM @claims WHERE kind = $1 AND key = $2 AND lease = $3", &ps,
                     "settling an upload", err);
}

static int str_rows(PGresult *r, int (*cb)(const char *, void *), void *ctx)
{
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = cb(PQgetvalue(r, i, 0), ctx);
    PQclear(r);
    return rc;
}

static int pg_claim_list(tarn_catalog *c, const char *kind, int (*cb)(const char *, void *),
                         void *ctx, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, kind);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(PG(c), &r,
            "SELECT DISTINCT cl.key FROM @claims cl JOIN @leases l ON l.id = cl.lease "
            "WHERE cl.kind = $1 AND l.dead = 0",
            &ps, "reading claims", err));
    return str_rows(r, cb, ctx);
}

/* ---- garbage collection ------------------------------------------------------------------------
 */

static int pg_live_files(tarn_catalog *c, const char *const *commits, size_t n,
                         int (*cb)(const char *, void *), void *ctx, tarn_error *err)
{
    TARN_RETURN_NOT_OK(flush_subtrees(PG(c), err));
    strbuf arr = {0};
    for (size_t i = 0; i < n; i++)
        array_elem(&arr, commits[i]);
    params ps = {0};
    p_text(&ps, array_end(&arr));
    PGresult *r;
    int rc = run(
        PG(c), &r,
        "WITH RECURSIVE live(h) AS (SELECT unnest($1::text[]) COLLATE \"C\" UNION "
        "  SELECT p.parent FROM live CROSS JOIN LATERAL (SELECT cp.parent FROM @commit_parents cp "
        "  WHERE cp.child = live.h OFFSET 0) p), "
        " vers(v) AS (SELECT DISTINCT te.version FROM live JOIN @commits c ON c.hash = live.h "
        "  JOIN @trees t ON t.tree = c.tree "
        "  JOIN @tree_entries te ON te.tree = t.subtree AND te.kind = 0) "
        "SELECT DISTINCT vf.file FROM vers JOIN @version_files vf ON vf.version = vers.v",
        &ps, "finding live data files", err);
    sb_free(&arr);
    if (rc < 0) return rc;
    return str_rows(r, cb, ctx);
}

static int pg_tombstone_put(tarn_catalog *c, const char *key, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, key);
    p_int(&ps, tarn__now_us());
    return run_do(PG(c),
                  "INSERT INTO @tombstones VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET time_us = "
                  "excluded.time_us",
                  &ps, "recording a collected file", err);
}

static int pg_tombstone_any(tarn_catalog *c, const char *root, const char *version,
                            char key_out[1024], tarn_error *err)
{
    key_out[0] = 0;
    TARN_RETURN_NOT_OK(flush_subtrees(PG(c), err));
    params ps = {0};
    p_text(&ps, root ? root : version);
    PGresult *r;
    TARN_RETURN_NOT_OK(
        run(PG(c), &r,
            root ? "SELECT vf.file FROM @trees t JOIN @tree_entries te ON te.tree = t.subtree AND "
                   "te.kind = 0 "
                   "JOIN @version_files vf ON vf.version = te.version JOIN @tombstones tb ON "
                   "tb.key = vf.file "
                   "WHERE t.tree = $1 LIMIT 1"
                 : "SELECT vf.file FROM @version_files vf JOIN @tombstones tb ON tb.key = vf.file "
                   "WHERE vf.version = $1 LIMIT 1",
            &ps, "reading collected files", err));
    int found = PQntuples(r) == 1;
    if (found) col_copy(key_out, 1024, r, 0, 0);
    PQclear(r);
    return found;
}

/* ---- copying and comparing ----------------------------------------------------------------------
 */

/* Rows are read one at a time (single-row mode): a catalog of millions of
 * tree rows is never held in memory whole. */
static int pg_rows_export(tarn_catalog *c, const char *table, const char *columns,
                          const char *order, int (*cb)(const char *const *, void *), void *ctx,
                          tarn_error *err)
{
    pg_catalog *p = PG(c);
    TARN_RETURN_NOT_OK(flush_subtrees(p, err));
    if (lost(p)) TARN_RETURN_NOT_OK(connect_db(p, 0, err));
    strbuf sql = {0};
    sb_printf(&sql, "SELECT %s FROM ", columns);
    sb_append_sql_ident(&sql, p->schema);
    sb_printf(&sql, ".%s ORDER BY %s", table, order);
    int rc = 0;
    if (!PQsendQueryParams(p->conn, sb_str(&sql), 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsetSingleRowMode(p->conn))
        rc = tarn__error_set(err, TARN_EIO, "catalog error while reading %s: %s", table,
                             PQerrorMessage(p->conn));
    sb_free(&sql);
    PGresult *r;
    const char *vals[32];
    while ((r = PQgetResult(p->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (rc == 0 && st == PGRES_SINGLE_TUPLE && PQnfields(r) <= 32) {
            for (int i = 0; i < PQnfields(r); i++)
                vals[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
            rc = cb(vals, ctx);
        } else if (rc == 0 && st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE) {
            rc = tarn__error_set(err, TARN_EIO, "catalog error while reading %s: %s", table,
                                 PQresultErrorMessage(r));
        }
        PQclear(r); /* every result is read, even after an error, so the connection stays usable */
    }
    if (p->in_tx && rc < 0) p->tx_failed = rc;
    return rc;
}

/* N rows at once, as one JSON array of objects (PostgreSQL converts each
 * value to its column's type). */
static int pg_rows_import(tarn_catalog *c, const char *table, const char *columns, size_t n,
                          const char *const *values, tarn_error *err)
{
    pg_catalog *p = PG(c);
    char *names = strdup(columns);
    const char *col[32];
    size_t ncols = 0;
    for (char *save = NULL, *t = strtok_r(names, ", ", &save); t && ncols < 32;
         t = strtok_r(NULL, ", ", &save))
        col[ncols++] = t;
    json_t *rows = json_array();
    for (size_t r = 0; r < n; r++) {
        json_t *o = json_object();
        for (size_t i = 0; i < ncols; i++) {
            const char *v = values[r * ncols + i];
            char *fixed = v ? utf8_fixed(v) : NULL;
            json_object_set_new(o, col[i], v ? json_string(fixed ? fixed : v) : json_null());
            free(fixed);
        }
        json_array_append_new(rows, o);
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    strbuf tmpl = {0};
    sb_printf(&tmpl, "INSERT INTO @%s(%s) SELECT %s FROM json_populate_recordset(null::@%s, $1)",
              table, columns, columns, table);
    char *sql = expand(p, sb_str(&tmpl));
    params ps = {0};
    p_text(&ps, text ? text : "[]");
    PGresult *r;
    int rc = run_sql(p, &r, sql, NULL, &ps, "copying the catalog", err);
    PQclear(r);
    /* Explicit ids go past the log's identity: move it on. */
    if (rc == 0 && !strcmp(table, "ref_log"))
        rc = run_do(p,
                    "SELECT setval(pg_get_serial_sequence('@ref_log', 'id'), coalesce(max(id), 0) "
                    "+ 1, false) "
                    "FROM @ref_log",
                    NULL, "copying the catalog", err);
    free(sql);
    sb_free(&tmpl);
    free(text);
    free(names);
    return rc;
}

/* ---- tokens and protected branches ------------------------------------------------------- */

#define TOKEN_COLUMNS                                                                              \
    "id, hash, user_name, read_refs, write_refs, admin, created_us, expires_us, revoked_us"

static void token_row(tarn_token_row *t, const PGresult *r, int row)
{
    memset(t, 0, sizeof *t);
    col_copy(t->id, sizeof t->id, r, row, 0);
    col_copy(t->hash, sizeof t->hash, r, row, 1);
    col_copy(t->user, sizeof t->user, r, row, 2);
    col_copy(t->read, sizeof t->read, r, row, 3);
    col_copy(t->write, sizeof t->write, r, row, 4);
    t->admin = (int)col_int(r, row, 5);
    t->created_us = col_int(r, row, 6);
    t->expires_us = col_int(r, row, 7);
    t->revoked_us = col_int(r, row, 8);
}

static int pg_token_put(tarn_catalog *c, const tarn_token_row *t, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, t->id);
    p_text(&ps, t->hash);
    p_text(&ps, t->user);
    p_text(&ps, t->read);
    p_text(&ps, t->write);
    p_int(&ps, t->admin);
    p_int(&ps, t->created_us);
    p_int(&ps, t->expires_us);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "INSERT INTO @tokens(" TOKEN_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, "
                           "$7, $8, 0) ON CONFLICT(id) DO NOTHING",
                           &ps, "storing a token", err));
    int inserted = atoi(PQcmdTuples(r));
    PQclear(r);
    if (!inserted) return tarn__error_set(err, TARN_EEXISTS, "token id '%s' is taken", t->id);
    return 0;
}

static int pg_token_get(tarn_catalog *c, const char *id, tarn_token_row *out, tarn_error *err)
{
    params ps = {0};
    p_text(&ps, id);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT " TOKEN_COLUMNS " FROM @tokens WHERE id = $1", &ps,
                           "reading a token", err));
    int found = PQntuples(r) == 1;
    if (found) token_row(out, r, 0);
    PQclear(r);
    return found ? 0 : TARN_ENOTFOUND;
}

static int pg_token_list(tarn_catalog *c, int (*cb)(const tarn_token_row *, void *), void *ctx,
                         tarn_error *err)
{
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "SELECT " TOKEN_COLUMNS " FROM @tokens ORDER BY created_us, id", NULL,
                           "listing tokens", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        tarn_token_row t;
        token_row(&t, r, i);
        rc = cb(&t, ctx);
    }
    PQclear(r);
    return rc;
}

static int pg_token_revoke(tarn_catalog *c, const char *id, int64_t at_us, tarn_error *err)
{
    params ps = {0};
    p_int(&ps, at_us);
    p_text(&ps, id);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r,
                           "UPDATE @tokens SET revoked_us = CASE WHEN revoked_us = 0 THEN $1 ELSE "
                           "revoked_us END WHERE id = $2",
                           &ps, "revoking a token", err));
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    return changed ? 0 : TARN_ENOTFOUND;
}

static int pg_protect_set(tarn_catalog *c, const char *branch, int mode, tarn_error *err)
{
    if (!mode)
        return run1(PG(c), "DELETE FROM @protected_branches WHERE name = $1", branch,
                    "protecting a branch", err);
    params ps = {0};
    p_text(&ps, branch);
    p_int(&ps, mode);
    return run_do(PG(c),
                  "INSERT INTO @protected_branches VALUES($1, $2) ON CONFLICT(name) DO UPDATE SET "
                  "mode = excluded.mode",
                  &ps, "protecting a branch", err);
}

static int pg_protect_get(tarn_catalog *c, const char *branch, int *mode, tarn_error *err)
{
    *mode = 0;
    params ps = {0};
    p_text(&ps, branch);
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT mode FROM @protected_branches WHERE name = $1", &ps,
                           "reading a branch's protection", err));
    if (PQntuples(r) == 1) *mode = (int)col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_protect_list(tarn_catalog *c, int (*cb)(const char *, int, void *), void *ctx,
                           tarn_error *err)
{
    PGresult *r;
    TARN_RETURN_NOT_OK(run(PG(c), &r, "SELECT name, mode FROM @protected_branches ORDER BY name",
                           NULL, "listing protected branches", err));
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = cb(PQgetvalue(r, i, 0), (int)col_int(r, i, 1), ctx);
    PQclear(r);
    return rc;
}

static const tarn_catalog_vtable PG_VTABLE = {
    .version = TARN_CATALOG_VTABLE_VERSION,
    .name = "postgresql",
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .file_put = pg_file_put,
    .file_get = pg_file_get,
    .version_put = pg_version_put,
    .version_get = pg_version_get,
    .subtree_put = pg_subtree_put,
    .tree_put = pg_tree_put,
    .tree_get = pg_tree_get,
    .commit_put = pg_commit_put,
    .commit_get = pg_commit_get,
    .commit_prefix = pg_commit_prefix,
    .commit_walk = pg_commit_walk,
    .ref_get = pg_ref_get,
    .ref_list = pg_ref_list,
    .ref_insert = pg_ref_insert,
    .ref_cas = pg_ref_cas,
    .ref_delete = pg_ref_delete,
    .ref_set_aborted = pg_ref_set_aborted,
    .reflog_at = pg_reflog_at,
    .reflog_recent = pg_reflog_recent,
    .taint_add = pg_taint_add,
    .taint_inherit = pg_taint_inherit,
    .taint_get = pg_taint_get,
    .taint_clear = pg_taint_clear,
    .job_put = pg_job_put,
    .job_update = pg_job_update,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .lease_create = pg_lease_create,
    .lease_renew = pg_lease_renew,
    .lease_release = pg_lease_release,
    .lease_kill = pg_lease_kill,
    .lease_reap = pg_lease_reap,
    .lease_alive = pg_lease_alive,
    .lease_list = pg_lease_list,
    .claim_add = pg_claim_add,
    .claim_drop = pg_claim_drop,
    .claim_list = pg_claim_list,
    .live_files = pg_live_files,
    .tombstone_put = pg_tombstone_put,
    .tombstone_any = pg_tombstone_any,
    .rows_export = pg_rows_export,
    .rows_import = pg_rows_import,
    .clone = pg_clone,
    .close = pg_close,
    .token_put = pg_token_put,
    .token_get = pg_token_get,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .protect_set = pg_protect_set,
    .protect_get = pg_protect_get,
    .protect_list = pg_protect_list,
};
