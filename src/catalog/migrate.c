/* catalog/migrate.c — copying a catalog into another backend (`tarn
 * catalog migrate`) and comparing two record by record (`tarn catalog
 * verify`), through the backends' rows_export/rows_import.
 *
 * The tables and their columns are listed once here, in an order that
 * keeps references pointing backwards (files before the versions naming
 * them, trees before commits). Leases and claims are not copied: a
 * migration refuses to run while anything is in flight. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tarn/catalog.h"
#include "util/error.h"
#include "util/util.h"

static const struct {
    const char *name, *columns, *order;
} TABLES[] = {
    {"data_files", "key, row_count, size_bytes, stats, created_us", "key"},
    {"table_versions", "id, schema, parent, row_count, file_count, size_bytes", "id"},
    {"version_files", "version, ord, file", "version, ord"},
    {"tree_entries", "tree, name, kind, version", "tree, name"},
    {"trees", "tree, bucket, subtree", "tree, bucket"},
    {"commits", "hash, tree, author, message, time_us, properties, generation", "hash"},
    {"commit_parents", "child, ord, parent", "child, ord"},
    {"refs", "name, kind, commit_hash, aborted, updated_us", "name"},
    {"ref_log", "id, name, commit_hash, time_us, reason", "id"},
    {"jobs",
     "id, status, branch, started_us, ended_us, commit_hash, input_commit, project_hash, project, "
     "params, report, "
     "logs, lease_id",
     "id"},
    {"taints", "commit_hash, job_id", "commit_hash, job_id"},
    {"tombstones", "key, time_us", "key"},
    {"tokens",
     "id, hash, user_name, read_refs, write_refs, admin, created_us, expires_us, revoked_us",
     "id"},
    {"protected_branches", "name, mode", "name"},
};
#define NTABLES (sizeof TABLES / sizeof *TABLES)
#define BATCH 1000

static size_t ncolumns(const char *columns)
{
    size_t n = 1;
    for (const char *p = columns; *p; p++)
        n += *p == ',';
    return n;
}

/* ---- copying -------------------------------------------------------------------------- */

typedef struct copy_ctx {
    tarn_catalog *to;
    size_t t, ncols, n;
    char **values; /* BATCH x ncols */
    int64_t rows;
    tarn_error *err;
} copy_ctx;

static void batch_clear(copy_ctx *c)
{
    for (size_t i = 0; i < c->n * c->ncols; i++)
        free(c->values[i]);
    c->n = 0;
}

static int batch_flush(copy_ctx *c)
{
    if (!c->n) return 0;
    int rc = c->to->vt->rows_import(c->to, TABLES[c->t].name, TABLES[c->t].columns, c->n,
                                    (const char *const *)c->values, c->err);
    batch_clear(c);
    return rc;
}

static int copy_row(const char *const *values, void *arg)
{
    copy_ctx *c = arg;
    for (size_t i = 0; i < c->ncols; i++)
        c->values[c->n * c->ncols + i] = values[i] ? strdup(values[i]) : NULL;
    c->n++;
    c->rows++;
    return c->n == BATCH ? batch_flush(c) : 0;
}

/* Every table of FROM into TO, in TO's transaction; row counts into COUNTS. */
static int copy_all(tarn_catalog *from, tarn_catalog *to, json_t *counts, tarn_error *err)
{
    int rc = 0;
    for (size_t t = 0; t < NTABLES && rc == 0; t++) {
        copy_ctx c = {to, t, ncolumns(TABLES[t].columns), 0, NULL, 0, err};
        c.values = calloc(BATCH * c.ncols, sizeof *c.values);
        if (!c.values) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        rc = from->vt->rows_export(from, TABLES[t].name, TABLES[t].columns, TABLES[t].order,
                                   copy_row, &c, err);
        if (rc == 0) rc = batch_flush(&c);
        batch_clear(&c);
        free(c.values);
        json_object_set_new(counts, TABLES[t].name, json_integer(c.rows));
    }
    return rc;
}

/* Nothing may be in flight: a lease or a running job would not survive
 * the move (leases are the source's, and its jobs would never settle). */
static int note_live(const tarn_lease_row *l, void *ctx)
{
    if (!l->dead) *(int *)ctx += 1;
    return 0;
}

static int note_running(const tarn_job_row *j, void *ctx)
{
    snprintf(ctx, 65, "%s", j->id);
    return 0;
}

static int check_quiet(tarn_catalog *c, tarn_error *err)
{
    int live = 0;
    char job[65] = "";
    TARN_RETURN_NOT_OK(c->vt->lease_list(c, note_live, &live, err));
    TARN_RETURN_NOT_OK(c->vt->job_list(c, 1, 1, note_running, job, err));
    if (job[0])
        return tarn__error_set(
            err, TARN_EINVALID,
            "run %s is in progress: migrate when no run or upload is in flight (nothing was "
            "changed)",
            job);
    if (live)
        return tarn__error_set(
            err, TARN_EINVALID,
            "%d tarn process%s uploading or running here: migrate when none is (nothing was "
            "changed)",
            live, live == 1 ? " is" : "es are");
    return 0;
}

/* Points .tarn/config at TO: its `catalog` lines go, one new one comes. */
static int switch_config(tarn_lake *lake, const char *to, tarn_error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config", tarn_lake_path(lake));
    char *old = NULL;
    strbuf text = {0};
    if (tarn__read_file(&old, NULL, path) == 0) {
        for (char *save = NULL, *line = strtok_r(old, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            const char *k = line + strspn(line, " \t");
            if (!strncmp(k, "catalog", 7) && k[7 + strspn(k + 7, " \t")] == '=') continue;
            sb_printf(&text, "%s\n", line);
        }
    }
    free(old);
    sb_printf(&text, "catalog = %s\n", to);
    int rc = 0;
    if (tarn__write_file_atomic(path, text.s, text.len) != 0)
        rc = tarn__error_set(err, TARN_EIO,
                             "the catalog was copied, but '%s' cannot be written: add `catalog = "
                             "URL` to it yourself",
                             path);
    sb_free(&text);
    return rc;
}

int tarn_catalog_migrate(char **report_json, tarn_lake *lake, const char *to, tarn_error *err)
{
    *report_json = NULL;
    tarn_catalog *src = TARN_CAT(lake), *dst = NULL;
    char shown[512];
    tarn__catalog_redact(shown, sizeof shown, to ? to : "");
    if (!to || !tarn__catalog_is_url(to))
        return tarn__error_set(err, TARN_EINVALID,
                               "migrate to where? give --to postgresql://USER@HOST/DB (not '%s')",
                               shown);
    if (tarn__catalog_is_url(tarn_lake_config(lake, "catalog")) ||
        strcmp(src->vt->name, "sqlite") != 0)
        return tarn__error_set(
            err, TARN_EINVALID,
            "this lakehouse's catalog is not the embedded one: only an embedded catalog is "
            "migrated");
    /* Processes that died are settled first: only the living count. */
    TARN_RETURN_NOT_OK(tarn__lease_settle(lake, err));
    TARN_RETURN_NOT_OK(check_quiet(src, err));
    TARN_RETURN_NOT_OK(tarn__catalog_open(&dst, to, 1, err));
    json_t *counts = json_object();
    /* The source holds its write lock throughout (nothing changes while
     * it is read); the copy lands in one transaction, whole or not at all. */
    int rc = src->vt->begin(src, err);
    if (rc == 0) {
        rc = dst->vt->begin(dst, err);
        if (rc == 0) rc = copy_all(src, dst, counts, err);
        if (rc == 0)
            rc = dst->vt->commit(dst, err);
        else
            dst->vt->rollback(dst);
        if (rc == 0) rc = switch_config(lake, to, err);
        src->vt->rollback(src);
    }
    dst->vt->close(dst);
    if (rc == 0) {
        json_t *report = json_pack("{s:s,s:O}", "to", shown, "tables", counts);
        *report_json = json_dumps(report, JSON_COMPACT);
        json_decref(report);
    }
    json_decref(counts);
    return rc;
}

/* ---- comparing ------------------------------------------------------------------------ */

typedef struct rows {
    char **v; /* n x ncols */
    size_t n, cap, ncols;
} rows;

static int keep_row(const char *const *values, void *arg)
{
    rows *r = arg;
    TARN_RETURN_NOT_OK(tarn__reserve(&r->v, &r->cap, (r->n + 1) * r->ncols, sizeof *r->v));
    for (size_t i = 0; i < r->ncols; i++)
        r->v[r->n * r->ncols + i] = values[i] ? strdup(values[i]) : NULL;
    r->n++;
    return 0;
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n * r->ncols; i++)
        free(r->v[i]);
    free(r->v);
}

/* -1/0/1 comparing row I of A with row J of B by everything, text order. */
static int row_cmp(const rows *a, size_t i, const rows *b, size_t j)
{
    for (size_t k = 0; k < a->ncols; k++) {
        const char *x = a->v[i * a->ncols + k], *y = b->v[j * b->ncols + k];
        int c = !x || !y ? (x != NULL) - (y != NULL) : strcmp(x, y);
        if (c) return c < 0 ? -1 : 1;
    }
    return 0;
}

static int cmp_rows_of(const rows *r, size_t i, size_t j)
{
    return row_cmp(r, i, r, j);
}

/* Rows in full order (export order is by key only; the comparison needs
 * one order for both sides whatever the text collation). */
static void sort_rows(rows *r)
{
    /* insertion into an index, then permute: n log n via qsort on indices */
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx);
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    /* a simple merge sort on indices (qsort has no context argument) */
    size_t *tmp = malloc((r->n ? r->n : 1) * sizeof *tmp);
    for (size_t w = 1; w < r->n; w *= 2)
        for (size_t lo = 0; lo < r->n; lo += 2 * w) {
            size_t mid = lo + w < r->n ? lo + w : r->n, hi = lo + 2 * w < r->n ? lo + 2 * w : r->n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = cmp_rows_of(r, idx[a], idx[b]) <= 0 ? idx[a++] : idx[b++];
            while (a < mid)
                tmp[k++] = idx[a++];
            while (b < hi)
                tmp[k++] = idx[b++];
            memcpy(idx + lo, tmp + lo, (hi - lo) * sizeof *idx);
        }
    char **v = malloc((r->n ? r->n : 1) * r->ncols * sizeof *v);
    for (size_t i = 0; i < r->n; i++)
        memcpy(v + i * r->ncols, r->v + idx[i] * r->ncols, r->ncols * sizeof *v);
    free(r->v);
    r->v = v;
    r->cap = r->n * r->ncols;
    free(idx);
    free(tmp);
}

static void describe(strbuf *out, const char *side, const char *table, const rows *r, size_t i)
{
    sb_printf(out, "%s: only in %s: (", table, side);
    for (size_t k = 0; k < r->ncols && k < 3; k++) {
        const char *v = r->v[i * r->ncols + k];
        sb_printf(out, "%s%.40s", k ? ", " : "", v ? v : "NULL");
    }
    sb_append(out, r->ncols > 3 ? ", ...)" : ")");
}

/* Compares TABLE of A and B; differences counted into *DIFFER and the
 * first few described in LIST. */
static int compare_table(size_t t, tarn_catalog *a, tarn_catalog *b, json_t *tables, json_t *list,
                         int64_t *total, tarn_error *err)
{
    rows ra = {NULL, 0, 0, ncolumns(TABLES[t].columns)}, rb = {NULL, 0, 0, ra.ncols};
    int rc = a->vt->rows_export(a, TABLES[t].name, TABLES[t].columns, TABLES[t].order, keep_row,
                                &ra, err);
    if (rc == 0)
        rc = b->vt->rows_export(b, TABLES[t].name, TABLES[t].columns, TABLES[t].order, keep_row,
                                &rb, err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory comparing catalogs");
    int64_t differ = 0;
    if (rc == 0) {
        sort_rows(&ra);
        sort_rows(&rb);
        size_t i = 0, j = 0;
        while (i < ra.n || j < rb.n) {
            int c = i == ra.n ? 1 : j == rb.n ? -1 : row_cmp(&ra, i, &rb, j);
            if (c == 0) {
                i++, j++;
                continue;
            }
            differ++;
            if (json_array_size(list) < 10) {
                strbuf d = {0};
                if (c < 0)
                    describe(&d, "this lakehouse's catalog", TABLES[t].name, &ra, i);
                else
                    describe(&d, "the other", TABLES[t].name, &rb, j);
                json_array_append_new(list, json_string(sb_str(&d)));
                sb_free(&d);
            }
            if (c < 0)
                i++;
            else
                j++;
        }
        json_object_set_new(tables, TABLES[t].name,
                            json_pack("{s:[I,I],s:I}", "rows", (json_int_t)ra.n, (json_int_t)rb.n,
                                      "differ", (json_int_t)differ));
    }
    *total += differ;
    rows_free(&ra);
    rows_free(&rb);
    return rc;
}

int tarn_catalog_verify(char **report_json, tarn_lake *lake, const char *against, tarn_error *err)
{
    *report_json = NULL;
    char db[PATH_MAX + 16];
    if (!against || !*against) {
        snprintf(db, sizeof db, "%s/catalog.db", tarn_lake_path(lake));
        against = db;
    }
    tarn_catalog *other = NULL;
    TARN_RETURN_NOT_OK(tarn__catalog_open(&other, against, 0, err));
    json_t *tables = json_object(), *list = json_array();
    int64_t total = 0;
    int rc = 0;
    for (size_t t = 0; t < NTABLES && rc == 0; t++)
        rc = compare_table(t, TARN_CAT(lake), other, tables, list, &total, err);
    other->vt->close(other);
    if (rc == 0) {
        char shown[512];
        tarn__catalog_redact(shown, sizeof shown, against);
        json_t *report = json_pack("{s:b,s:s,s:I,s:O,s:O}", "same", total == 0, "against", shown,
                                   "differences_count", (json_int_t)total, "tables", tables,
                                   "differences", list);
        *report_json = json_dumps(report, JSON_COMPACT);
        json_decref(report);
    }
    json_decref(tables);
    json_decref(list);
    return rc;
}
