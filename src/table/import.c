/* table/import.c — `tarn table import`: CSV, Parquet or JSON in, Parquet
 * data files out, statistics recorded, one commit.
 *
 * Order matters for crash safety: the data file is written under a
 * temporary name, published under its final key, and only then does one
 * catalog transaction record it and move the branch. A process killed at
 * any point leaves the branch as before or as after; an unreferenced file
 * is left for `tarn gc`. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sql/engine.h"
#include "store/store.h"
#include "table/schema.h"
#include "tarn/arrow.h"
#include "tarn/table.h"
#include "util/error.h"
#include "util/util.h"

typedef struct import_edit {
    const char *table; /* qualified */
    const char *branch;
    tarn_import_mode mode;
    const char *schema_json;
    const tarn_data_file *file;
} import_edit;

static int apply_import(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    import_edit *ed = ctx;
    tarn_tree_entry *e = tarn__tree_find(tree, ed->table);
    tarn_version old = {0};
    int rc = 0;
    if (e && e->kind == TARN_ENTRY_TABLE) {
        if (ed->mode == TARN_IMPORT_CREATE)
            return tarn__error_set(err, TARN_EEXISTS,
                                   "table '%s' already exists on branch '%s' (use --mode append or "
                                   "--mode replace)",
                                   ed->table, ed->branch);
        TARN_RETURN_NOT_OK(tarn__version_load(&old, lake, e->version, err));
    } else if (ed->mode == TARN_IMPORT_APPEND) {
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "table '%s' does not exist on branch '%s' (use --mode create)",
                               ed->table, ed->branch);
    }
    if (ed->mode == TARN_IMPORT_APPEND) {
        strbuf why = {0};
        if (tarn__schema_diff(&why, old.schema_json, ed->schema_json) > 0)
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "cannot append to '%s': the schema differs: %s", ed->table, sb_str(&why));
        sb_free(&why);
    }
    if (rc == 0)
        rc = tarn__tree_put_file(lake, tree, ed->table, &old, ed->mode == TARN_IMPORT_APPEND,
                                 ed->schema_json, ed->file, err);
    tarn__version_clear(&old);
    return rc;
}

static const char *reader_for(const char *path, const char *format, tarn_error *err)
{
    if (!format) {
        const char *dot = strrchr(path, '.');
        const char *ext = dot ? dot + 1 : "";
        if (!strcmp(ext, "gz") || !strcmp(ext, "zst")) { /* data.csv.gz */
            const char *p = dot;
            while (p > path && p[-1] != '.') p--;
            ext = p > path ? p : "";
        }
        if (!strncmp(ext, "csv", 3) || !strncmp(ext, "tsv", 3)) format = "csv";
        else if (!strncmp(ext, "parquet", 7)) format = "parquet";
        else if (!strncmp(ext, "json", 4) || !strncmp(ext, "ndjson", 6) || !strncmp(ext, "jsonl", 5))
            format = "json";
        else {
            tarn__error_set(err, TARN_EINVALID,
                            "cannot tell the format of '%s' from its name: use --format csv|parquet|json",
                            path);
            return NULL;
        }
    }
    if (!strcmp(format, "csv")) return "read_csv_auto";
    if (!strcmp(format, "parquet")) return "read_parquet";
    if (!strcmp(format, "json")) return "read_json_auto";
    tarn__error_set(err, TARN_EINVALID, "unknown format '%s' (csv, parquet or json)", format);
    return NULL;
}

typedef struct progress_poll {
    tarn_duck *d;
    const tarn_import_options *opts;
    volatile int done;
} progress_poll;

static void *poll_progress(void *arg)
{
    progress_poll *p = arg;
    while (!p->done) {
        usleep(100000);
        if (p->done) break;
        duckdb_query_progress_type q = duckdb_query_progress(p->d->con);
        if (q.percentage >= 0) p->opts->progress(q.percentage / 100.0, p->opts->progress_ctx);
    }
    return NULL;
}

/* Writes the Parquet file from SELECT_SQL; fills rows. */
static int write_parquet(int64_t *rows, tarn_duck *d, const char *select_sql, const char *dest,
                         const tarn_import_options *opts, tarn_error *err)
{
    strbuf q = {0};
    tarn__duck_copy_parquet_sql(&q, select_sql, dest);
    pthread_t poller;
    progress_poll poll = {d, opts, 0};
    int polling = 0;
    if (opts->progress) {
        tarn__duck_exec(d, "SET enable_progress_bar=true; SET enable_progress_bar_print=false",
                        TARN_EIO, "progress", NULL);
        polling = pthread_create(&poller, NULL, poll_progress, &poll) == 0;
    }
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot import", err);
    if (rc == 0) *rows = duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    if (polling) {
        poll.done = 1;
        pthread_join(poller, NULL);
        if (rc == 0) opts->progress(1.0, opts->progress_ctx);
    }
    sb_free(&q);
    return rc;
}

/* Where an import reads from: a file (PATH with a DuckDB reader) or a
 * shared-memory Arrow table (FD). */
typedef struct import_source {
    const char *path;   /* NULL for an Arrow table */
    const char *origin; /* what the user named, for the commit message (NULL: PATH) */
    const char *reader; /* read_csv_auto, read_parquet, read_json_auto */
    int fd;
} import_source;

static int import_common(tarn_import_result *out, tarn_lake *lake, const char *table,
                         const import_source *src, const char *branch,
                         const tarn_import_options *opts, tarn_error *err)
{
    char qualified[300], branch_name[TARN_NAME_MAX + 1];
    tarn__qualify_table(qualified, sizeof qualified, table);
    TARN_RETURN_NOT_OK(tarn__branch_name(branch_name, lake, branch, err));

    /* Fail early on what the catalog already refuses (checked again at commit). */
    tarn_ref_row ref;
    int rc = tarn__ref_get(&ref, lake, branch_name, err);
    if (rc == TARN_ENOTFOUND || (rc == 0 && ref.kind != TARN_REF_BRANCH))
        return tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", branch_name);
    if (rc < 0) return rc;
    {
        tarn_tree tree;
        TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, NULL, lake, ref.commit, err));
        tarn_tree_entry *e = tarn__tree_find(&tree, qualified);
        if (e && opts->mode == TARN_IMPORT_CREATE)
            rc = tarn__error_set(err, TARN_EEXISTS,
                                 "table '%s' already exists on branch '%s' (use --mode append or --mode replace)",
                                 qualified, branch_name);
        else if (!e && opts->mode == TARN_IMPORT_APPEND)
            rc = tarn__error_set(err, TARN_ENOTFOUND,
                                 "table '%s' does not exist on branch '%s' (use --mode create)", qualified,
                                 branch_name);
        tarn__tree_clear(&tree);
        if (rc < 0) return rc;
    }

    char rnd[33], key[512], tmp[8192];
    tarn__random_hex(rnd);
    snprintf(key, sizeof key, "data/%s/%s.parquet", qualified, rnd);
    /* Registered before it is written: gc never takes an upload in flight. */
    TARN_RETURN_NOT_OK(tarn__upload_begin(lake, key, err));
    if ((rc = lake->store->vt->write_path(lake->store, key, tmp, sizeof tmp, err)) < 0) {
        tarn__upload_abandon(lake, key);
        return rc;
    }

    tarn_duck d;
    if ((rc = tarn__duck_open(&d, err)) < 0) {
        tarn__upload_abandon(lake, key);
        return rc;
    }
    char *schema_json = NULL, *stats_json = NULL;
    int64_t rows = 0;
    tarn_arrow_table *arrow = NULL;
    tarn_arrow_duckdb_view *view = NULL;
    strbuf select = {0};
    if (src->path) {
        sb_printf(&select, "SELECT * FROM %s(", src->reader);
        sb_append_sql_string(&select, src->path);
        sb_append(&select, ")");
    } else {
        rc = tarn_arrow_shm_map(&arrow, src->fd, err);
        if (rc == 0) rc = tarn_arrow_duckdb_register(&view, d.con, "tarn_import_source", arrow, err);
        sb_append(&select, "SELECT * FROM tarn_import_source");
    }
    if (rc == 0) rc = write_parquet(&rows, &d, sb_str(&select), tmp, opts, err);
    if (rc == 0) rc = tarn__duck_describe_parquet(&schema_json, &stats_json, &d, tmp, err);
    tarn_arrow_duckdb_view_free(&view);
    tarn_arrow_table_free(&arrow);
    tarn__duck_close(&d);
    sb_free(&select);
    if (rc < 0) {
        unlink(tmp);
        goto done;
    }
    struct stat st;
    int64_t size_bytes = stat(tmp, &st) == 0 ? (int64_t)st.st_size : 0;
    tarn__fault("import:after-data-write");
    if ((rc = lake->store->vt->publish(lake->store, key, tmp, err)) < 0) {
        unlink(tmp);
        goto done;
    }
    tarn__fault("import:after-publish");

    tarn_data_file file = {key, rows, size_bytes, stats_json};
    import_edit ed = {qualified, branch_name, opts->mode, schema_json, &file};
    strbuf msg = {0};
    if (opts->message && *opts->message) sb_append(&msg, opts->message);
    else sb_printf(&msg, "%s %s from %s",
                   opts->mode == TARN_IMPORT_APPEND ? "Append to" :
                   opts->mode == TARN_IMPORT_REPLACE ? "Replace" : "Create", qualified,
                   src->origin ? src->origin : src->path ? src->path : "an Arrow table");
    rc = tarn__branch_commit(&out->commit, lake, branch_name, apply_import, &ed, msg.s, "{}", err);
    sb_free(&msg);
    if (rc == 0) {
        out->rows = rows;
        out->files = 1;
    }
done:
    if (rc < 0) tarn__upload_abandon(lake, key);
    free(schema_json);
    free(stats_json);
    return rc < 0 ? rc : 0;
}

static int check_import(const char *table, const tarn_import_options *opts, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (opts->mode < TARN_IMPORT_CREATE || opts->mode > TARN_IMPORT_REPLACE)
        return tarn__error_set(err, TARN_EINVALID, "unknown import mode");
    return 0;
}

/* An import from S3: the objects URL names are downloaded first (DuckDB
 * cannot read s3:// here), then imported like local files. */
static int import_s3(tarn_import_result *out, tarn_lake *lake, const char *table, const char *url,
                     const char *branch, const tarn_import_options *opts, tarn_error *err)
{
    char *dir = NULL, *glob = NULL;
    TARN_RETURN_NOT_OK(tarn__s3_source_fetch(&dir, &glob, lake, url, err));
    const char *reader = reader_for(glob, opts->format, err);
    int rc = TARN_EINVALID;
    if (reader) {
        import_source src = {glob, url, reader, -1};
        rc = import_common(out, lake, table, &src, branch, opts, err);
    }
    tarn__s3_source_done(&dir, &glob);
    return rc;
}

int tarn_table_import(tarn_import_result *out, tarn_lake *lake, const char *table, const char *path,
                      const char *branch, const tarn_import_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_import_options defaults = TARN_IMPORT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    TARN_RETURN_NOT_OK(check_import(table, opts, err));
    if (!strncmp(path, "s3:", 3)) return import_s3(out, lake, table, path, branch, opts, err);
    const char *reader = reader_for(path, opts->format, err);
    if (!reader) return TARN_EINVALID;
    if (!strpbrk(path, "*?[") && access(path, R_OK) != 0)
        return tarn__error_set(err, TARN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
    import_source src = {path, NULL, reader, -1};
    return import_common(out, lake, table, &src, branch, opts, err);
}

int tarn_table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table, int fd,
                               const char *branch, const tarn_import_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_import_options defaults = TARN_IMPORT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    TARN_RETURN_NOT_OK(check_import(table, opts, err));
    import_source src = {NULL, NULL, NULL, fd};
    return import_common(out, lake, table, &src, branch, opts, err);
}
