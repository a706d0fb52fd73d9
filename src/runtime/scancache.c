/* runtime/scancache.c — the differential scan cache ("scans rhyme").
 *
 * A source scan's result is kept as an Arrow IPC stream in the local cache
 * folder (store/cache.c: temporaries linked into place, shared read locks,
 * least recently used evicted beyond run.scan_cache_mb). An entry is named
 * FILES-REST: FILES digests the lakehouse, the table version's schema and
 * its data files (immutable, so an entry is never stale), REST the columns,
 * the filter's parse tree and the values of the parameters it uses. A scan
 * is served, in this order of preference, by:
 *
 * - exact: the entry of the very same files, columns and filter, copied
 *   into a sealed memfd as it is;
 * - append: an entry of the same columns and filter on an earlier version
 *   of the table whose files are all still there (same schema): only the
 *   files added since are read, their rows joined to the kept ones;
 * - subset: an entry of these or earlier files with every requested
 *   column and a filter whose conjuncts are all among the new filter's
 *   (so the new filter implies it): the new filter and projection run
 *   again over the kept rows (DuckDB over the mapped Arrow), plus the
 *   added files.
 *
 * Anything uncertain reads the files: a filter calling a function whose
 * value changes between calls (random(), now(), ...), a kept result whose
 * types do not match what the files give, an entry that fails its checks.
 * An entry's file (scanentry.c) holds the whole key, compared on use; a
 * short, long or altered file is removed and never served. What a model
 * receives is exactly its columns and rows, however the scan was served. */
#include "runtime/scancache.h"
#include "runtime/dataplane.h"
#include "runtime/scanentry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "sql/empty.h"
#include "sql/refs.h"
#include "store/cache.h"
#include "tarn/arrow.h"
#include "util/error.h"
#include "util/util.h"

#define ANCESTORS 16 /* earlier versions of a table looked at for an append */

/* One entry being written, by a thread of its own: the model gets its
 * input without waiting for the copy to disk. */
typedef struct writer {
    pthread_t thread;
    struct tarn_scancache *sc;
    char name[100];
    char *header;
    int fd; /* a duplicate of the scan's sealed memfd */
    size_t len;
    struct writer *next;
} writer;

struct tarn_scancache {
    tarn_lake *lake;
    /* Held around every use of the lake's catalog and store: a run's
     * tasks share one catalog connection (libpq's serves one thread at a
     * time) and one store. NULL: this handle's user has no other thread. */
    pthread_mutex_t *lake_mu;
    tarn_cache *cache; /* NULL: off */
    int64_t max_bytes;
    pthread_mutex_t mu; /* writers */
    writer *writers;    /* entries being written, joined on close */
    struct tarn_rt_session *hot; /* its warm runtime keeps results in memory; NULL: none */
};

/* ---- opening ---------------------------------------------------------------------- */

int tarn__scancache_open(tarn_scancache **out, tarn_lake *lake, pthread_mutex_t *lake_mu, int off,
                         tarn_error *err)
{
    *out = NULL;
    int64_t mb = 2048;
    const char *v = tarn_lake_config(lake, "run.scan_cache_mb");
    if (v && *v) {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (!end || *end || n < 0 || n > 100000000)
            return tarn__error_set(err, TARN_EINVALID,
                                   "run.scan_cache_mb = '%s' in .tarn/config: expected a whole "
                                   "number of MiB (0 turns the scan cache off)",
                                   v);
        mb = n;
    }
    tarn_scancache *sc = calloc(1, sizeof *sc);
    if (!sc) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    sc->lake = lake;
    sc->lake_mu = lake_mu;
    sc->max_bytes = mb * 1024 * 1024;
    pthread_mutex_init(&sc->mu, NULL);
    int rc = 0;
    if (!off && mb > 0) {
        char base[PATH_MAX - 16], dir[PATH_MAX];
        tarn__cache_folder(base, sizeof base, lake);
        snprintf(dir, sizeof dir, "%s/scans", base);
        rc = tarn__cache_open(&sc->cache, dir, sc->max_bytes, err);
    }
    if (rc < 0) {
        pthread_mutex_destroy(&sc->mu);
        free(sc);
    } else
        *out = sc;
    return rc;
}

void tarn__scancache_close(tarn_scancache **sc)
{
    if (!sc || !*sc) return;
    /* every entry still being written is finished first */
    for (writer *w = (*sc)->writers, *next; w; w = next) {
        next = w->next;
        pthread_join(w->thread, NULL);
        free(w->header);
        free(w);
    }
    pthread_mutex_destroy(&(*sc)->mu);
    tarn__cache_close(&(*sc)->cache);
    free(*sc);
    *sc = NULL;
}

/* ---- SQL of a scan ------------------------------------------------------------------ */

void tarn__scan_select_sql(strbuf *q, json_t *columns, const char *from_sql, const char *filter_sql)
{
    sb_append(q, "SELECT ");
    size_t j;
    json_t *c;
    json_array_foreach(columns, j, c)
    {
        if (j) sb_append(q, ", ");
        sb_append_sql_ident(q, json_string_value(c));
    }
    if (!json_array_size(columns)) sb_append(q, "*");
    sb_append(q, " FROM ");
    sb_append(q, from_sql);
    if (filter_sql) {
        /* One expression (checked when planned); its $parameters are bound
         * when the scan runs. The newline ends a trailing -- comment. */
        sb_append(q, " WHERE (");
        sb_append(q, filter_sql);
        sb_append(q, "\n)");
    }
}

int tarn__scan_from_sql(strbuf *q, tarn_lake *lake, const char *version, json_t *files,
                        tarn_error *err)
{
    size_t n = json_array_size(files);
    if (n == 0) {
        /* Every file ruled out: the table's columns, no rows. */
        sb_append(q, "(SELECT * FROM ");
        TARN_RETURN_NOT_OK(tarn__duck_shape_sql(q, lake, version, err));
        sb_append(q, " LIMIT 0)");
        return 0;
    }
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_array_get(files, i));
    int rc = tarn__duck_read_parquet_sql(q, lake, keys, n, err);
    free(keys);
    return rc;
}

/* The scan itself, from FILES, into a sealed memfd. */
/* tarn__version_load and tarn__scan_from_sql under the lake's lock. */
static int load_version(tarn_version *v, tarn_scancache *sc, const char *id, tarn_error *err)
{
    if (sc->lake_mu) pthread_mutex_lock(sc->lake_mu);
    int rc = tarn__version_load(v, sc->lake, id, err);
    if (sc->lake_mu) pthread_mutex_unlock(sc->lake_mu);
    return rc;
}

static int from_sql(strbuf *q, tarn_scancache *sc, const char *version, json_t *files,
                    tarn_error *err)
{
    if (sc->lake_mu) pthread_mutex_lock(sc->lake_mu);
    int rc = tarn__scan_from_sql(q, sc->lake, version, files, err);
    if (sc->lake_mu) pthread_mutex_unlock(sc->lake_mu);
    return rc;
}

static int scan_files(int *fd, tarn_scancache *sc, tarn_duck *d, const tarn_scan_req *req,
                      json_t *files, int limit0, tarn_error *err)
{
    strbuf from = {0}, q = {0};
    int rc = from_sql(&from, sc, req->version, files, err);
    if (rc == 0) tarn__scan_select_sql(&q, req->columns, sb_str(&from), req->filter_sql);
    if (limit0) sb_append(&q, " LIMIT 0");
    duckdb_result res;
    memset(&res, 0, sizeof res);
    if (rc == 0 && (rc = tarn__duck_query_bound(&res, d, sb_str(&q), req->params, TARN_EINVALID,
                                                "reading an input failed", err)) == 0)
        rc = tarn__duck_result_shm(fd, &res, req->name, err);
    duckdb_destroy_result(&res);
    sb_free(&from);
    sb_free(&q);
    return rc;
}

/* ---- the key -------------------------------------------------------------------------- */

/* What identifies a scan: the files digest, the rest, the header fields. */
typedef struct scan_key {
    char files_digest[65];
    char name[100];    /* FILES-REST.arrows */
    json_t *files;     /* sorted keys of the whole version */
    json_t *schema;    /* the version's schema (JSON text as a string) */
    json_t *columns;   /* null: every column */
    json_t *where;     /* the filter's parse tree, locations dropped; null: none */
    json_t *conjuncts; /* its top-level AND terms */
    json_t *bound;     /* {name: value} of the parameters the filter uses */
    char parent[65];   /* the version's parent ("" for none) */
} scan_key;

static void key_clear(scan_key *k)
{
    json_decref(k->files);
    json_decref(k->schema);
    json_decref(k->columns);
    json_decref(k->where);
    json_decref(k->conjuncts);
    json_decref(k->bound);
    memset(k, 0, sizeof *k);
}

static void strip_locations(json_t *node)
{
    size_t i;
    const char *name;
    json_t *v;
    if (json_is_array(node)) json_array_foreach(node, i, v) strip_locations(v);
    if (!json_is_object(node)) return;
    json_object_del(node, "query_location");
    json_object_foreach(node, name, v) strip_locations(v);
}

/* Functions whose value is not a function of the row: a kept result of a
 * filter calling one of them cannot stand for another evaluation. */
static int volatile_call(json_t *node)
{
    static const char *const names[] = {"random",
                                        "gen_random_uuid",
                                        "uuid",
                                        "uuidv4",
                                        "uuidv7",
                                        "now",
                                        "current_timestamp",
                                        "current_date",
                                        "current_time",
                                        "get_current_timestamp",
                                        "get_current_time",
                                        "today",
                                        "transaction_timestamp",
                                        "statement_timestamp",
                                        "localtimestamp",
                                        "localtime",
                                        "nextval",
                                        "currval",
                                        "setseed",
                                        "current_setting",
                                        "current_query",
                                        "getenv",
                                        "txid_current",
                                        "current_localtimestamp",
                                        "current_localtime"};
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_array(node)) {
        json_array_foreach(node, i, v) if (volatile_call(v)) return 1;
        return 0;
    }
    if (!json_is_object(node)) return 0;
    const char *fn = json_string_value(json_object_get(node, "function_name"));
    for (i = 0; fn && i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(fn, names[i])) return 1;
    const char *cls = json_string_value(json_object_get(node, "class"));
    if (cls && strcmp(cls, "FUNCTION") && strcmp(cls, "CONSTANT") && strcmp(cls, "COLUMN_REF") &&
        strcmp(cls, "COMPARISON") && strcmp(cls, "CONJUNCTION") && strcmp(cls, "OPERATOR") &&
        strcmp(cls, "BETWEEN") && strcmp(cls, "CAST") && strcmp(cls, "CASE") &&
        strcmp(cls, "PARAMETER"))
        return 1; /* an expression kind not known to be a function of the row */
    json_object_foreach(node, k, v) if (volatile_call(v)) return 1;
    return 0;
}

static void flatten(json_t *out, json_t *where)
{
    const char *type = json_string_value(json_object_get(where, "type"));
    if (type && !strcmp(type, "CONJUNCTION_AND")) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(where, "children"), i, c) flatten(out, c);
        return;
    }
    json_array_append(out, where);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *sorted_files(char **files, size_t n)
{
    char **copy = malloc((n ? n : 1) * sizeof *copy);
    json_t *out = json_array();
    if (!copy) return out;
    memcpy(copy, files, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, cmp_str);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_string(copy[i]));
    free(copy);
    return out;
}

static void files_digest(char out[65], tarn_lake *lake, json_t *schema, json_t *files)
{
    strbuf b = {0};
    sb_printf(&b, "scan v1\n%s\n%s\n", tarn_lake_path(lake), json_string_value(schema));
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) sb_printf(&b, "%s\n", json_string_value(f));
    tarn__sha256_hex(out, sb_str(&b), b.len);
    sb_free(&b);
}

/* The key of REQ; 1 when the scan may be kept, 0 (WHY says) when not. */
static int key_make(scan_key *k, tarn_scancache *sc, tarn_duck *d, const tarn_scan_req *req,
                    char *why, size_t wsize, tarn_error *err)
{
    memset(k, 0, sizeof *k);
    tarn_version v;
    TARN_RETURN_NOT_OK(load_version(&v, sc, req->version, err));
    k->files = sorted_files(v.files, v.nfiles);
    k->schema = json_string(v.schema_json ? v.schema_json : "");
    snprintf(k->parent, sizeof k->parent, "%s", v.parent);
    tarn__version_clear(&v);
    k->columns = json_array_size(req->columns) ? json_incref(req->columns) : json_null();
    k->conjuncts = json_array();
    k->bound = json_object();
    k->where = json_null();
    int rc = 1;
    if (req->filter_sql) {
        json_t *where = NULL, *names = NULL;
        tarn_error perr = TARN_ERROR_INIT;
        if (tarn__sql_filter_parse(&where, &names, d, req->filter_sql, &perr) < 0) {
            snprintf(why, wsize, "its filter could not be read again: %.100s", perr.message);
            rc = 0;
        } else {
            strip_locations(where);
            json_decref(k->where);
            k->where = json_incref(where);
            flatten(k->conjuncts, where);
            if (volatile_call(where)) {
                snprintf(why, wsize, "its filter's value may change between calls");
                rc = 0;
            }
            const char *name;
            json_t *unused;
            json_object_foreach(names, name, unused)
            {
                json_t *value = json_object_get(req->params, name);
                json_object_set(k->bound, name, value ? value : json_null());
            }
        }
        tarn_error_clear(&perr);
        json_decref(where);
        json_decref(names);
    }
    files_digest(k->files_digest, sc->lake, k->schema, k->files);
    json_t *rest =
        json_pack("{s:O,s:O,s:O}", "columns", k->columns, "where", k->where, "params", k->bound);
    char *text = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
    char digest[65];
    tarn__sha256_hex(digest, text ? text : "", text ? strlen(text) : 0);
    free(text);
    json_decref(rest);
    snprintf(k->name, sizeof k->name, "%s-%.16s.arrows", k->files_digest, digest);
    return rc;
}

static json_t *key_header(const scan_key *k)
{
    return json_pack("{s:i,s:O,s:O,s:O,s:O,s:O}", "v", 1, "schema", k->schema, "files", k->files,
                     "columns", k->columns, "where", k->where, "params", k->bound);
}

/* ---- keeping a result ---------------------------------------------------------------- */

/* Writes W's entry. A failure to keep it is not the scan's: the next scan
 * of the same key reads the files again. */
static void *write_entry(void *arg)
{
    writer *w = arg;
    void *map = mmap(NULL, w->len, PROT_READ, MAP_SHARED, w->fd, 0);
    char tmp[PATH_MAX], path[PATH_MAX];
    int tfd = -1;
    tarn_error e = TARN_ERROR_INIT;
    int rc =
        map == MAP_FAILED ? -1 : tarn__cache_tmp(w->sc->cache, w->name, &tfd, tmp, sizeof tmp, &e);
    if (rc == 0) {
        rc = tarn__scanentry_write(tfd, w->header, map, w->len, &e);
        if (close(tfd) < 0) rc = -1;
        if (rc == 0)
            rc = tarn__cache_put(w->sc->cache, w->name, tmp,
                                 (int64_t)tarn__scanentry_size(strlen(w->header), w->len), path,
                                 sizeof path, &e);
        else
            unlink(tmp);
    }
    if (rc == 0) tarn__cache_trim(w->sc->cache, NULL, &e);
    tarn_error_clear(&e);
    if (map != MAP_FAILED) munmap(map, w->len);
    close(w->fd);
    w->fd = -1;
    return NULL;
}

/* Keeps the IPC stream in memfd FD as entry K->name, written while the
 * scan's consumer goes on; WHY says when it is not kept. */
static void keep_entry(tarn_scancache *sc, const scan_key *k, int fd, char *why, size_t wsize)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) return;
    json_t *h = key_header(k);
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (text &&
        tarn__scanentry_size(strlen(text), (size_t)st.st_size) > (size_t)(sc->max_bytes / 2)) {
        snprintf(why, wsize, "not kept: larger than half of run.scan_cache_mb");
        free(text);
        return;
    }
    writer *w = text ? calloc(1, sizeof *w) : NULL;
    if (!w || (w->fd = dup(fd)) < 0) {
        snprintf(why, wsize, "not kept: out of memory or descriptors");
        free(text);
        free(w);
        return;
    }
    w->sc = sc;
    snprintf(w->name, sizeof w->name, "%s", k->name);
    w->header = text;
    w->len = (size_t)st.st_size;
    pthread_mutex_lock(&sc->mu);
    if (pthread_create(&w->thread, NULL, write_entry, w) == 0) {
        w->next = sc->writers;
        sc->writers = w;
        w = NULL;
    }
    pthread_mutex_unlock(&sc->mu);
    if (w) { /* no thread: written now */
        write_entry(w);
        free(w->header);
        free(w);
    }
}

/* ---- finding a usable entry ---------------------------------------------------------------- */

typedef struct candidate {
    char name[100];
    int kind;     /* EXACT, APPEND (same columns and filter), SUBSET */
    size_t files; /* of the entry's version: more means fewer to read */
    json_t *header;
    int damaged; /* entries found damaged (and removed) on the way */
} candidate;

enum { NONE, SUBSET, APPEND, EXACT };

/* Whether sorted array A is a subset of sorted array B (of strings). */
static int sorted_subset(json_t *a, json_t *b)
{
    size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);
    while (i < na && j < nb) {
        int c = strcmp(json_string_value(json_array_get(a, i)),
                       json_string_value(json_array_get(b, j)));
        if (c == 0)
            i++, j++;
        else if (c > 0)
            j++;
        else
            return 0;
    }
    return i == na;
}

static int contains(json_t *array, json_t *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(array, i, x) if (json_equal(x, v)) return 1;
    return 0;
}

/* How entry header H can serve key K. */
static int judge(json_t *h, const scan_key *k)
{
    if (json_integer_value(json_object_get(h, "v")) != 1 ||
        !json_equal(json_object_get(h, "schema"), k->schema))
        return NONE;
    json_t *files = json_object_get(h, "files");
    int same_files = json_equal(files, k->files);
    if (!same_files && !sorted_subset(files, k->files)) return NONE;
    json_t *cols = json_object_get(h, "columns"), *where = json_object_get(h, "where");
    json_t *bound = json_object_get(h, "params");
    if (json_equal(cols, k->columns) && json_equal(where, k->where) && json_equal(bound, k->bound))
        return same_files ? EXACT : APPEND;
    /* Every column asked for is kept (a kept `*` keeps them all). */
    if (!json_is_null(cols)) {
        if (json_is_null(k->columns)) return NONE;
        size_t i;
        json_t *c;
        json_array_foreach(k->columns, i, c) if (!contains(cols, c)) return NONE;
    }
    /* The kept filter is implied: each of its terms is one of the new
     * filter's, with the same parameter values. */
    json_t *kept = json_array();
    if (!json_is_null(where)) flatten(kept, where);
    size_t i;
    json_t *t;
    int ok = 1;
    json_array_foreach(kept, i, t) if (!contains(k->conjuncts, t)) ok = 0;
    json_decref(kept);
    const char *name;
    json_t *v;
    json_object_foreach(bound, name, v) if (!json_equal(v, json_object_get(k->bound, name))) ok = 0;
    return ok ? SUBSET : NONE;
}

/* Looks at every entry of the files digest DIGEST (held, so never evicted
 * while this scan uses it) and keeps the best in *best. */
static void consider(candidate *best, tarn_scancache *sc, const char *digest, const scan_key *k)
{
    char path[PATH_MAX];
    tarn__cache_path(sc->cache, digest, path, sizeof path);
    char *slash = strrchr(path, '/');
    if (!slash) return;
    *slash = 0;
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (strncmp(de->d_name, digest, 64) || de->d_name[64] != '-' || n < 8 ||
            strcmp(de->d_name + n - 7, ".arrows") || n >= sizeof best->name)
            continue;
        char epath[PATH_MAX];
        if (tarn__cache_get(sc->cache, de->d_name, -1, epath, sizeof epath, NULL) != 1) continue;
        tarn_scanentry e;
        json_t *h = tarn__scanentry_header(&e, epath);
        if (e.fd >= 0) close(e.fd);
        if (!h) {
            /* cut short, or altered: never served, rebuilt when needed */
            unlink(epath);
            best->damaged++;
        }
        int kind = h ? judge(h, k) : NONE;
        size_t files = json_array_size(json_object_get(h, "files"));
        if (kind != NONE && (kind > best->kind || (kind == best->kind && files > best->files))) {
            json_decref(best->header);
            snprintf(best->name, sizeof best->name, "%s", de->d_name);
            best->kind = kind;
            best->files = files;
            best->header = json_incref(h);
        }
        json_decref(h);
    }
    closedir(dir);
}

/* The best entry for K among this version's and its ancestors'. */
static void find(candidate *best, tarn_scancache *sc, const scan_key *k)
{
    consider(best, sc, k->files_digest, k);
    char id[65];
    snprintf(id, sizeof id, "%s", k->parent);
    for (int i = 0; i < ANCESTORS && id[0] && best->kind != EXACT; i++) {
        tarn_version v;
        if (load_version(&v, sc, id, NULL) < 0) break;
        json_t *files = sorted_files(v.files, v.nfiles);
        json_t *schema = json_string(v.schema_json ? v.schema_json : "");
        /* Only an earlier version whose files are all still here: a
         * rewrite or delete in between ends the walk's usefulness there. */
        if (json_equal(schema, k->schema) && sorted_subset(files, k->files)) {
            char digest[65];
            files_digest(digest, sc->lake, schema, files);
            consider(best, sc, digest, k);
        }
        snprintf(id, sizeof id, "%s", v.parent);
        json_decref(files);
        json_decref(schema);
        tarn__version_clear(&v);
    }
}

/* The entry NAME as a sealed memfd; -1 (and the entry removed) when it is
 * damaged or gone. */
static int open_entry(int *fd, tarn_scancache *sc, const char *name, const char *memfd_name)
{
    char path[PATH_MAX];
    *fd = -1;
    if (tarn__cache_get(sc->cache, name, -1, path, sizeof path, NULL) != 1) return -1;
    tarn_scanentry e;
    json_t *h = tarn__scanentry_header(&e, path);
    int rc = h ? tarn__scanentry_load(fd, &e, memfd_name) : -1;
    if (e.fd >= 0) close(e.fd);
    json_decref(h);
    if (rc < 0) unlink(path); /* rebuilt by this very scan */
    return rc;
}

/* ---- serving from an entry ------------------------------------------------------------------ */

static int same_schema(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    if (strcmp(a->format, b->format) || (a->name == NULL) != (b->name == NULL) ||
        (a->name && strcmp(a->name, b->name)) || a->n_children != b->n_children ||
        (a->flags & ARROW_FLAG_NULLABLE) != (b->flags & ARROW_FLAG_NULLABLE) ||
        (a->dictionary == NULL) != (b->dictionary == NULL))
        return 0;
    if (a->dictionary && !same_schema(a->dictionary, b->dictionary)) return 0;
    for (int64_t i = 0; i < a->n_children; i++)
        if (!same_schema(a->children[i], b->children[i])) return 0;
    return 1;
}

static int schema_of(struct ArrowSchema *out, int fd)
{
    tarn_arrow_table *t = NULL;
    int rc = tarn_arrow_shm_map_flags(&t, fd, TARN_ARROW_TRUSTED, NULL);
    if (rc == 0) rc = tarn_arrow_table_schema(out, t, NULL);
    tarn_arrow_table_free(&t);
    return rc;
}

static int has_dictionary(const struct ArrowSchema *s)
{
    if (s->dictionary) return 1;
    for (int64_t i = 0; i < s->n_children; i++)
        if (has_dictionary(s->children[i])) return 1;
    return 0;
}

/* Entry NAME (same columns and filter) followed by the rows of the ADDED
 * files, read as any scan reads them: one copy of the kept stream, no
 * decoding. 0; 1 when it cannot be joined so (another way is tried); -1
 * when the entry is damaged or gone (removed). */
static int append_joined(int *fd, tarn_scancache *sc, tarn_duck *d, const tarn_scan_req *req,
                         const char *name, json_t *added)
{
    char path[PATH_MAX];
    if (tarn__cache_get(sc->cache, name, -1, path, sizeof path, NULL) != 1) return -1;
    tarn_scanentry e;
    json_t *h = tarn__scanentry_header(&e, path);
    if (!h) {
        unlink(path);
        return -1;
    }
    json_decref(h);
    int more = -1;
    struct stat st;
    void *map = MAP_FAILED;
    tarn_arrow_table *t = NULL;
    struct ArrowSchema schema = {0};
    int rc =
        scan_files(&more, sc, d, req, added, 0, NULL) < 0 || fstat(more, &st) < 0 ? 1 : 0;
    if (rc == 0) map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, more, 0);
    /* dictionaries would need their own messages joined: not done here */
    if (rc == 0 &&
        (map == MAP_FAILED || tarn_arrow_shm_map_flags(&t, more, TARN_ARROW_TRUSTED, NULL) < 0 ||
         tarn_arrow_table_schema(&schema, t, NULL) < 0 || has_dictionary(&schema)))
        rc = 1;
    if (rc == 0) rc = tarn__scanentry_load_joined(fd, &e, map, (size_t)st.st_size, req->name);
    if (rc < 0) unlink(path);
    if (schema.release) schema.release(&schema);
    tarn_arrow_table_free(&t);
    if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
    if (more >= 0) close(more);
    close(e.fd);
    return rc;
}

static int sorted_has(json_t *sorted, const char *v)
{
    size_t lo = 0, hi = json_array_size(sorted);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(json_string_value(json_array_get(sorted, mid)), v);
        if (c == 0) return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The files REQ reads (those the statistics kept) that entry header H
 * does not hold. */
static json_t *added_files(json_t *h, const tarn_scan_req *req)
{
    json_t *had = json_object_get(h, "files"), *out = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(req->files, i, f) if (!sorted_has(had, json_string_value(f)))
        json_array_append(out, f);
    return out;
}

/* The new filter and projection over the kept rows of memfd KEPT, plus the
 * ADDED files, in DuckDB; -1 (WHY says) when DuckDB cannot, or when the
 * types differ from what the files give. */
static int rescan(int *out, tarn_scancache *sc, tarn_duck *d, const tarn_scan_req *req, int kept,
                  json_t *added, char *why, size_t wsize)
{
    tarn_arrow_table *t = NULL;
    tarn_arrow_duckdb_view *view = NULL;
    tarn_error e = TARN_ERROR_INIT;
    char rnd[33], vname[64];
    tarn__random_hex(rnd);
    snprintf(vname, sizeof vname, "tarn_scan_%.16s", rnd);
    strbuf q = {0}, from = {0};
    int rc = tarn_arrow_shm_map_flags(&t, kept, TARN_ARROW_TRUSTED, &e);
    if (rc == 0) rc = tarn_arrow_duckdb_register(&view, d->con, vname, t, &e);
    if (rc == 0) {
        tarn__scan_select_sql(&q, req->columns, vname, req->filter_sql);
        if (json_array_size(added)) {
            rc = from_sql(&from, sc, req->version, added, &e);
            sb_append(&q, "\nUNION ALL\n");
            tarn__scan_select_sql(&q, req->columns, sb_str(&from), req->filter_sql);
        }
    }
    duckdb_result res;
    memset(&res, 0, sizeof res);
    if (rc == 0 && (rc = tarn__duck_query_bound(&res, d, sb_str(&q), req->params, TARN_EINVALID,
                                                "rescanning", &e)) == 0)
        rc = tarn__duck_result_shm(out, &res, req->name, &e);
    duckdb_destroy_result(&res);
    tarn_arrow_duckdb_view_free(&view);
    tarn_arrow_table_free(&t);
    /* What the files would give, to the type: else the files are read. */
    int shape = -1;
    struct ArrowSchema a = {0}, b = {0};
    if (rc == 0 && scan_files(&shape, sc, d, req, req->files, 1, &e) == 0 &&
        schema_of(&a, shape) == 0 && schema_of(&b, *out) == 0 && !same_schema(&a, &b))
        rc = tarn__error_set(&e, TARN_EINVALID, "its types differ from the files'");
    else if (rc == 0 && (shape < 0 || !a.release || !b.release))
        rc = tarn__error_set(&e, TARN_EINVALID, "its types could not be compared: %s", e.message);
    if (a.release) a.release(&a);
    if (b.release) b.release(&b);
    if (shape >= 0) close(shape);
    if (rc < 0) {
        snprintf(why, wsize, "a kept result could not serve it: %.100s", e.message);
        if (*out >= 0) close(*out);
        *out = -1;
    }
    tarn_error_clear(&e);
    sb_free(&q);
    sb_free(&from);
    return rc < 0 ? -1 : 0;
}

/* Serves REQ from candidate C; -1 (OUT->why says) when it cannot: then
 * the files are read. */
static int serve(int *fd, tarn_scan_outcome *out, tarn_scancache *sc, tarn_duck *d,
                 const tarn_scan_req *req, candidate *c)
{
    json_t *added = added_files(c->header, req);
    out->new_files = json_array_size(added);
    out->how = c->kind == EXACT                      ? "exact"
               : out->new_files || c->kind == APPEND ? "append"
                                                     : "subset";
    int rc = 1, kept = -1;
    if (c->kind == APPEND && out->new_files) rc = append_joined(fd, sc, d, req, c->name, added);
    if (rc == 1 && open_entry(&kept, sc, c->name, req->name) < 0) rc = -1;
    if (rc < 0) snprintf(out->why, sizeof out->why, "a kept result was damaged or gone: removed");
    if (rc == 1 && (c->kind == EXACT || (c->kind == APPEND && !out->new_files))) {
        /* the same columns and filter, and no row to add */
        *fd = kept, kept = -1;
        rc = 0;
    } else if (rc == 1) {
        /* the new filter and projection over the kept rows and added files */
        rc = rescan(fd, sc, d, req, kept, added, out->why, sizeof out->why);
    }
    json_decref(added);
    if (kept >= 0) close(kept);
    return rc;
}

void tarn__scancache_set_hot(tarn_scancache *sc, struct tarn_rt_session *rt)
{
    if (sc) sc->hot = rt;
}

/* The whole key, as the name of a result kept in memory: an entry's file
 * compares its header; a memory entry has only this name. */
static void hot_key(char out[65], const scan_key *k)
{
    json_t *all =
        json_pack("{s:s,s:O,s:O,s:O,s:O,s:O}", "files", k->files_digest, "schema", k->schema,
                  "columns", k->columns, "where", k->where ? k->where : json_null(), "bound",
                  k->bound, "all_files", k->files);
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    tarn__sha256_hex(out, text ? text : "", text ? strlen(text) : 0);
    free(text);
    json_decref(all);
}

int tarn__scancache_read(int *fd, tarn_scan_outcome *out, tarn_scancache *sc, tarn_duck *d,
                         const tarn_scan_req *req, tarn_error *err)
{
    *fd = -1;
    memset(out, 0, sizeof *out);
    int64_t t0 = tarn__now_us();
    out->how = "off";
    scan_key k = {0};
    int rc = 0, keep = 0;
    if (sc->cache) {
        out->how = "uncached";
        rc = keep = key_make(&k, sc, d, req, out->why, sizeof out->why, err);
    }
    char hk[65] = "";
    if (keep == 1 && sc->hot) {
        /* kept in memory: handed over as it is, a sealed memfd */
        hot_key(hk, &k);
        if ((*fd = tarn__rt_hot_get(sc->hot, hk)) >= 0) {
            out->how = "exact";
            snprintf(out->why, sizeof out->why, "kept in memory");
            goto done;
        }
    }
    if (keep == 1) {
        candidate c = {{0}, NONE, 0, NULL, 0};
        find(&c, sc, &k);
        int served = c.kind != NONE ? serve(fd, out, sc, d, req, &c) : -1;
        if (served < 0 && c.damaged)
            snprintf(out->why, sizeof out->why, "a kept result was damaged or gone: removed");
        json_decref(c.header);
        if (served == 0) {
            /* An append or subset is kept too: the next run finds it exact. */
            if (strcmp(out->how, "exact")) keep_entry(sc, &k, *fd, out->why, sizeof out->why);
            if (hk[0]) tarn__rt_hot_put(sc->hot, hk, *fd);
            goto done;
        }
        out->how = "miss";
        out->new_files = 0;
    }
    if (rc >= 0) rc = scan_files(fd, sc, d, req, req->files, 0, err);
    if (rc >= 0 && keep == 1) keep_entry(sc, &k, *fd, out->why, sizeof out->why);
    if (rc >= 0 && hk[0]) tarn__rt_hot_put(sc->hot, hk, *fd);
done:
    key_clear(&k);
    out->micros = tarn__now_us() - t0;
    return rc < 0 ? rc : 0;
}
