/* table/import.c — `tarn table import`: CSV, Parquet or JSON in, Parquet
 * data files out, statistics recorded, one commit.
 *
 * Order matters for crash safety: the data file is written under a
 * temporary name, published under its final key, and only then does one
 * catalog transaction record it and move the branch. A process killed at
 * any point leaves the branch as before or as after; an unreferenced file
 * is left for `tarn gc`.
 *
 * What is read is checked before it is kept: CSV files through csv.c
 * (every line must fit), JSON files for their depth (input.c), every source
 * for at least one column, and an append for types that widen to the
 * table's (schema.c) — anything else fails the import and changes nothing. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/ops.h"
#include "sql/engine.h"
#include "table/csv.h"
#include "table/import.h"
#include "table/input.h"
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

/* The format of PATH: FORMAT when given, else from the file's extension
 * (data.csv.gz is CSV). */
static const char *format_of(const char *path, const char *format, tarn_error *err)
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
    if (!strcmp(format, "csv") || !strcmp(format, "parquet") || !strcmp(format, "json"))
        return format;
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

/* Writes the Parquet file from SELECT_SQL, with Iceberg field ids that
 * keep those of the table's schema BASE ("[]": a new table) into *ids;
 * fills rows. */
static int write_parquet(int64_t *rows, char **ids, tarn_duck *d, const char *select_sql,
                         const char *dest, const char *base, const char *table,
                         const tarn_import_options *opts, tarn_error *err)
{
    char what[320];
    snprintf(what, sizeof what, "table '%s'", table);
    TARN_RETURN_NOT_OK(tarn__duck_check_columns(d, select_sql, what, err));
    TARN_RETURN_NOT_OK(tarn__duck_field_ids(ids, d, select_sql, base, err));
    strbuf q = {0};
    tarn__duck_copy_parquet_sql(&q, select_sql, dest, *ids);
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

/* Where an import reads from: files (one format; a glob expanded) or a
 * shared-memory Arrow table (FD). */
typedef struct import_source {
    const char *path;   /* as given; NULL for an Arrow table */
    const char *origin; /* what the user named, for the commit message (NULL: PATH) */
    const char *format;
    char **files;
    size_t nfiles;
    int fd;
} import_source;

/* An append of data with schema NEW to TABLE: every column of the table,
 * no other, each of the table's type or one that widens to it without
 * changing a value, or holding only NULLs. Appends the SELECT over INNER
 * that yields the table's columns in its order and types. */
static int conform(strbuf *out, tarn_duck *d, const char *inner, const tarn_column *table,
                   size_t ntable, const char *qualified, tarn_error *err)
{
    strbuf q = {0}, why = {0}, counts = {0};
    sb_append(&q, "DESCRIBE ");
    sb_append(&q, inner);
    duckdb_result res;
    int rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot read the new data", err);
    size_t n = rc == 0 ? (size_t)duckdb_row_count(&res) : 0;
    tarn_column *cols = calloc(n ? n : 1, sizeof *cols);
    for (size_t i = 0; i < n; i++) {
        cols[i].name = tarn__duck_text(&res, 0, i);
        cols[i].type = tarn__duck_text(&res, 1, i);
    }
    duckdb_destroy_result(&res);
    size_t *match = calloc(ntable ? ntable : 1, sizeof *match);
    int diffs = 0, nnull = 0;
    json_t *in_new = tarn__columns_index(cols, n, 0),
           *in_table = tarn__columns_index(table, ntable, 0);
    for (size_t k = 0; rc == 0 && k < ntable; k++) {
        long i = tarn__columns_find(in_new, table[k].name, 0);
        match[k] = i < 0 ? n : (size_t)i;
        if (match[k] == n) {
            sb_printf(&why, "%scolumn '%s' (%s) is missing from the new data", diffs++ ? "; " : "",
                      table[k].name, table[k].type);
        } else if (tarn__type_widen(cols[match[k]].type, table[k].type) == TARN_WIDEN_NO) {
            /* Unless it holds only NULLs: counted below. */
            sb_append(&counts, nnull++ ? ", count(" : "SELECT count(");
            sb_append_sql_ident(&counts, table[k].name);
            sb_append(&counts, ")");
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (tarn__columns_find(in_table, cols[i].name, 0) < 0)
            sb_printf(&why, "%scolumn '%s' (%s) is not in the table", diffs++ ? "; " : "",
                      cols[i].name ? cols[i].name : "", cols[i].type ? cols[i].type : "");
    }
    if (rc == 0 && !diffs && nnull) {
        sb_append(&counts, " FROM (");
        sb_append(&counts, inner);
        sb_append(&counts, ")");
        rc = tarn__duck_query(&res, d, sb_str(&counts), TARN_EINVALID, "cannot read the new data",
                              err);
        for (size_t k = 0, c = 0; rc == 0 && k < ntable; k++) {
            const tarn_column *nc = &cols[match[k]];
            if (tarn__type_widen(nc->type, table[k].type) != TARN_WIDEN_NO) continue;
            if (duckdb_value_int64(&res, c++, 0) == 0) {
                free(nc->type);
                cols[match[k]].type = strdup("NULL"); /* nothing to convert */
            } else {
                sb_printf(&why, "%scolumn '%s' is %s in the table but %s in the new data",
                          diffs++ ? "; " : "", table[k].name, table[k].type, nc->type);
            }
        }
        duckdb_destroy_result(&res);
    }
    if (rc == 0 && diffs)
        rc = tarn__error_set(err, TARN_EINVALID,
                             "cannot append to '%s': %s (a type is converted only when every value "
                             "stays the same, e.g. INTEGER to BIGINT or BIGINT to DOUBLE)",
                             qualified, sb_str(&why));
    if (rc == 0) {
        sb_append(out, "SELECT ");
        for (size_t k = 0; k < ntable; k++) {
            if (k) sb_append(out, ", ");
            tarn__widen_sql(out, table[k].name, cols[match[k]].type, table[k].type);
        }
        sb_append(out, " FROM (");
        sb_append(out, inner);
        sb_append(out, ")");
    }
    json_decref(in_new);
    json_decref(in_table);
    tarn__columns_free(cols, n);
    free(match);
    sb_free(&q);
    sb_free(&why);
    sb_free(&counts);
    return rc;
}

/* `SELECT * FROM read_parquet(['a', ...])` or read_json over the source's
 * files, after the checks their format needs. */
static int file_select(strbuf *out, const import_source *src, tarn_error *err)
{
    const char *compression = "none", *first = NULL;
    for (size_t i = 0; i < src->nfiles && !strcmp(src->format, "json"); i++) {
        TARN_RETURN_NOT_OK(tarn__input_compression(&compression, src->files[i], err));
        if (first && strcmp(first, compression))
            return tarn__error_set(
                err, TARN_EINVALID,
                "'%s' and '%s' are compressed differently: import them separately", src->files[0],
                src->files[i]);
        first = compression;
        /* DuckDB's schema inference recurses once per level: refuse what
         * would crash it before it sees the file. */
        TARN_RETURN_NOT_OK(tarn__input_json_depth(src->files[i], TARN_JSON_MAX_DEPTH, err));
    }
    sb_printf(out, "SELECT * FROM %s([",
              !strcmp(src->format, "json") ? "read_json_auto" : "read_parquet");
    for (size_t i = 0; i < src->nfiles; i++) {
        if (i) sb_append(out, ", ");
        sb_append_sql_string(out, src->files[i]);
    }
    sb_append(out, "]");
    /* read_json spells "none" differently from read_csv. */
    if (!strcmp(src->format, "json"))
        sb_printf(out, ", compression='%s'",
                  strcmp(compression, "none") ? compression : "uncompressed");
    sb_append(out, ")");
    return 0;
}

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
    tarn_column *existing = NULL; /* an append: the table's columns */
    size_t nexisting = 0;
    char *base = NULL; /* the table's schema, whose field ids the new file keeps */
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
        else if (e) {
            tarn_version v;
            rc = tarn__version_load(&v, lake, e->version, err);
            if (rc == 0) {
                if (opts->mode == TARN_IMPORT_APPEND)
                    tarn__schema_parse(&existing, &nexisting, v.schema_json);
                base = v.schema_json;
                v.schema_json = NULL;
                tarn__version_clear(&v);
            }
        }
        tarn__tree_clear(&tree);
        if (rc < 0) return rc;
    }

    char rnd[33], key[512], tmp[8192];
    tarn__random_hex(rnd);
    snprintf(key, sizeof key, "data/%s/%s.parquet", qualified, rnd);
    /* Registered before it is written: gc never takes an upload in flight. */
    rc = tarn__upload_begin(lake, key, err);
    if (rc == 0 && (rc = lake->store->vt->write_path(lake->store, key, tmp, sizeof tmp, err)) < 0)
        tarn__upload_abandon(lake, key);
    if (rc < 0) {
        tarn__columns_free(existing, nexisting);
        free(base);
        return rc;
    }

    tarn_duck d;
    char *schema_json = NULL, *stats_json = NULL, *ids = NULL;
    int64_t rows = 0;
    tarn_arrow_table *arrow = NULL;
    tarn_arrow_duckdb_view *view = NULL;
    tarn_csv_read csv = {0};
    strbuf select = {0}, inner = {0};
    int is_csv = src->format && !strcmp(src->format, "csv");
    if ((rc = tarn__duck_open(&d, err)) < 0) goto done;
    if (is_csv) {
        rc = tarn__csv_select(&csv, &select, &d, src->files, src->nfiles, opts, existing, nexisting,
                              err);
    } else {
        if (src->files) {
            rc = file_select(&inner, src, err);
        } else {
            rc = tarn_arrow_shm_map(&arrow, src->fd, err);
            struct ArrowSchema schema = {0};
            if (rc == 0 && (rc = tarn_arrow_table_schema(&schema, arrow, err)) == 0) {
                if (schema.n_children == 0)
                    rc = tarn__error_set(err, TARN_EINVALID,
                                         "cannot import '%s': the table has no columns (a table "
                                         "needs at least one)",
                                         qualified);
                schema.release(&schema);
            }
            if (rc == 0)
                rc = tarn_arrow_duckdb_register(&view, d.con, "tarn_import_source", arrow, err);
            sb_append(&inner, "SELECT * FROM tarn_import_source");
        }
        if (rc == 0 && existing)
            rc = conform(&select, &d, sb_str(&inner), existing, nexisting, qualified, err);
        else if (rc == 0)
            sb_append(&select, sb_str(&inner));
    }
    if (rc == 0)
        rc = write_parquet(&rows, &ids, &d, sb_str(&select), tmp, base ? base : "[]", qualified, opts, err);
    if (rc == 0 && is_csv) rc = tarn__csv_check_rejects(&csv, &d, err);
    if (rc == 0) rc = tarn__duck_describe_parquet(&schema_json, &stats_json, &d, tmp, err);
    if (rc == 0) rc = tarn__duck_schema_with_ids(&schema_json, ids, err);
    tarn_arrow_duckdb_view_free(&view);
    tarn_arrow_table_free(&arrow);
    tarn__duck_close(&d);
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
    strbuf def = {0};
    if (opts->message && *opts->message) sb_append(&def, opts->message);
    else sb_printf(&def, "%s %s from %s",
                   opts->mode == TARN_IMPORT_APPEND ? "Append to" :
                   opts->mode == TARN_IMPORT_REPLACE ? "Replace" : "Create", qualified,
                   opts->source_name ? opts->source_name
                   : src->origin   ? src->origin
                   : src->path     ? src->path
                                   : "an Arrow table");
    char *msg = NULL, *props = NULL;
    rc = tarn__commit_text(&msg, &props, opts->commit, def.s, NULL, err);
    if (rc == 0)
        rc = tarn__branch_commit(&out->commit, lake, branch_name, apply_import, &ed, msg, props, err);
    sb_free(&def);
    free(msg);
    free(props);
    if (rc == 0) {
        out->rows = rows;
        out->files = 1;
    }
done:
    if (rc < 0) tarn__upload_abandon(lake, key);
    tarn__csv_read_clear(&csv);
    tarn__columns_free(existing, nexisting);
    free(base);
    free(ids);
    sb_free(&select);
    sb_free(&inner);
    free(schema_json);
    free(stats_json);
    return rc < 0 ? rc : 0;
}

/* OPTS as this library's version of the struct: a caller built against
 * version 1 passed a shorter one, whose fields are read and no others. */
int tarn__import_options(tarn_import_options *out, const tarn_import_options *opts, tarn_error *err)
{
    tarn_import_options defaults = TARN_IMPORT_OPTIONS_INIT;
    *out = defaults;
    if (!opts) return 0;
    if (opts->version == TARN_IMPORT_OPTIONS_VERSION) {
        *out = *opts;
    } else if (opts->version == 2) {
        memcpy(out, opts, offsetof(tarn_import_options, commit));
        out->version = TARN_IMPORT_OPTIONS_VERSION;
    } else if (opts->version == 0 || opts->version == 1) {
        out->mode = opts->mode;
        out->format = opts->format;
        out->message = opts->message;
        out->progress = opts->progress;
        out->progress_ctx = opts->progress_ctx;
    } else {
        return tarn__error_set(err, TARN_EINVALID,
                               "tarn_import_options version %d is unknown to this library (it "
                               "knows 1 to %d): rebuild against its headers",
                               opts->version, TARN_IMPORT_OPTIONS_VERSION);
    }
    if (out->mode < TARN_IMPORT_CREATE || out->mode > TARN_IMPORT_REPLACE)
        return tarn__error_set(err, TARN_EINVALID, "unknown import mode");
    return 0;
}

/* An import from S3: the objects URL names are downloaded first (DuckDB
 * cannot read s3:// here), then imported like local files. */
/* Files at PATH (a file or a glob, expanded here), named ORIGIN in the
 * commit message when they were fetched from elsewhere. */
static int import_files(tarn_import_result *out, tarn_lake *lake, const char *table, const char *path,
                        const char *origin, const char *branch, const tarn_import_options *o,
                        tarn_error *err)
{
    import_source src = {path, origin, format_of(path, o->format, err), NULL, 0, -1};
    if (!src.format) return TARN_EINVALID;
    if (strcmp(src.format, "csv")) TARN_RETURN_NOT_OK(tarn__csv_options_unused(o, src.format, err));
    TARN_RETURN_NOT_OK(tarn__input_expand(&src.files, &src.nfiles, path, err));
    int rc = import_common(out, lake, table, &src, branch, o, err);
    tarn__input_files_free(src.files, src.nfiles);
    return rc;
}

/* An s3:// source (a key, a prefix or a glob, any bucket) is fetched into a
 * temporary folder first: DuckDB here cannot read s3:// itself. */
static int import_s3(tarn_import_result *out, tarn_lake *lake, const char *table, const char *url,
                     const char *branch, const tarn_import_options *o, tarn_error *err)
{
    char *dir = NULL, *glob = NULL;
    TARN_RETURN_NOT_OK(tarn__s3_source_fetch(&dir, &glob, lake, url, err));
    int rc = import_files(out, lake, table, glob, url, branch, o, err);
    tarn__s3_source_done(&dir, &glob);
    return rc;
}

int tarn_local__table_import(tarn_import_result *out, tarn_lake *lake, const char *table,
                             const char *path, const char *branch, const tarn_import_options *opts,
                             tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (!strncmp(path, "s3:", 3)) return import_s3(out, lake, table, path, branch, &o, err);
    return import_files(out, lake, table, path, NULL, branch, &o, err);
}

int tarn_local__table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table,
                                      int fd, const char *branch, const tarn_import_options *opts,
                                      tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    TARN_RETURN_NOT_OK(tarn__csv_options_unused(&o, "an Arrow table", err));
    import_source src = {NULL, NULL, NULL, NULL, 0, fd};
    return import_common(out, lake, table, &src, branch, &o, err);
}

/* ---- table creation plans: the schema files give, and an empty table ------------ */

/* The columns one file of SRC gives, as tarn reads it: a CSV file as an
 * import sniffs it, other formats as DuckDB describes them. */
static int file_columns(json_t *out, tarn_duck *d, const import_source *src, size_t i,
                        const tarn_import_options *opts, tarn_error *err)
{
    import_source one = *src;
    one.files = &src->files[i];
    one.nfiles = 1;
    if (!strcmp(src->format, "csv")) {
        tarn_csv_read csv;
        strbuf ignored = {0};
        int rc = tarn__csv_select(&csv, &ignored, d, one.files, 1, opts, NULL, 0, err);
        for (size_t c = 0; rc == 0 && c < csv.ncols; c++)
            json_array_append_new(out, json_pack("{s:s,s:s}", "name", csv.cols[c].name, "type",
                                                 csv.cols[c].type));
        tarn__csv_read_clear(&csv);
        sb_free(&ignored);
        return rc;
    }
    strbuf q = {0};
    sb_append(&q, "DESCRIBE ");
    int rc = file_select(&q, &one, err);
    duckdb_result res;
    if (rc == 0 && (rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EINVALID, "cannot read the file", err)) == 0) {
        for (idx_t r = 0; r < duckdb_row_count(&res); r++) {
            char *name = tarn__duck_text(&res, 0, r), *type = tarn__duck_text(&res, 1, r);
            json_array_append_new(out, json_pack("{s:s,s:s}", "name", name ? name : "", "type",
                                                 type ? type : ""));
            free(name);
            free(type);
        }
        duckdb_destroy_result(&res);
    }
    sb_free(&q);
    return rc;
}

static int plan_files(char **plan_json, const char *path, const char *origin,
                      const tarn_import_options *opts, tarn_error *err);

int tarn_local__table_plan(char **plan_json, tarn_lake *lake, const char *path,
                    const tarn_import_options *opts, tarn_error *err)
{
    *plan_json = NULL;
    tarn_import_options o;
    TARN_RETURN_NOT_OK(tarn__import_options(&o, opts, err));
    if (strncmp(path, "s3:", 3) != 0) return plan_files(plan_json, path, NULL, &o, err);
    /* Fetched first, as an import does: DuckDB here cannot read s3:// itself. */
    char *dir = NULL, *glob = NULL;
    TARN_RETURN_NOT_OK(tarn__s3_source_fetch(&dir, &glob, lake, path, err));
    int rc = plan_files(plan_json, glob, path, &o, err);
    tarn__s3_source_done(&dir, &glob);
    return rc;
}

/* The plan of the local files PATH names; ORIGIN (NULL: PATH) is what the
 * caller named, listed as the files when set. */
static int plan_files(char **plan_json, const char *path, const char *origin,
                      const tarn_import_options *opts, tarn_error *err)
{
    tarn_import_options o = *opts;
    import_source src = {path, origin, format_of(path, o.format, err), NULL, 0, -1};
    if (!src.format) return TARN_EINVALID;
    if (strcmp(src.format, "csv")) TARN_RETURN_NOT_OK(tarn__csv_options_unused(&o, src.format, err));
    TARN_RETURN_NOT_OK(tarn__input_expand(&src.files, &src.nfiles, path, err));
    tarn_duck d;
    int rc = tarn__duck_open(&d, err);
    json_t *plan = json_pack("{s:s,s:[],s:[],s:[]}", "format", src.format, "files", "columns",
                             "conflicts");
    json_t *columns = json_object_get(plan, "columns"), *conflicts = json_object_get(plan, "conflicts");
    json_t *types_seen = json_object(); /* column -> [{"file","type"}] */
    if (origin) json_array_append_new(json_object_get(plan, "files"), json_string(origin));
    for (size_t i = 0; rc == 0 && i < src.nfiles; i++) {
        if (!origin) json_array_append_new(json_object_get(plan, "files"), json_string(src.files[i]));
        json_t *cols = json_array();
        rc = file_columns(cols, &d, &src, i, &o, err);
        size_t k;
        json_t *c;
        json_array_foreach(cols, k, c)
        {
            const char *name = json_string_value(json_object_get(c, "name"));
            const char *type = json_string_value(json_object_get(c, "type"));
            json_t *seen = json_object_get(types_seen, name);
            if (!seen) {
                json_object_set_new(types_seen, name, seen = json_array());
                json_array_append_new(columns, json_pack("{s:s,s:s}", "name", name, "type", type));
            }
            json_array_append_new(seen, json_pack("{s:s,s:s}", "file", origin ? origin : src.files[i],
                                                  "type", type));
        }
        json_decref(cols);
    }
    /* Types that differ between files: the one the others widen to without
     * changing a value, else a conflict for the caller to settle. */
    size_t k;
    json_t *c;
    json_array_foreach(columns, k, c)
    {
        json_t *seen = json_object_get(types_seen, json_string_value(json_object_get(c, "name")));
        const char *best = json_string_value(json_object_get(c, "type"));
        int conflict = 0;
        size_t j;
        json_t *s;
        json_array_foreach(seen, j, s)
        {
            const char *t = json_string_value(json_object_get(s, "type"));
            if (tarn__type_widen(t, best) != TARN_WIDEN_NO) continue;
            if (tarn__type_widen(best, t) != TARN_WIDEN_NO) best = t;
            else conflict = 1;
        }
        json_object_set_new(c, "type", json_string(best));
        if (conflict) {
            json_array_append_new(conflicts, json_pack("{s:O,s:O}", "name", json_object_get(c, "name"),
                                                       "types", seen));
            json_object_set_new(c, "type", json_null());
        }
    }
    if (rc == 0 && json_array_size(columns) == 0)
        rc = tarn__error_set(err, TARN_EINVALID, "'%s' holds no columns: a table needs at least one",
                             path);
    json_decref(types_seen);
    tarn__duck_close(&d);
    tarn__input_files_free(src.files, src.nfiles);
    if (rc == 0) *plan_json = json_dumps(plan, JSON_COMPACT);
    json_decref(plan);
    return rc;
}

/* Whether TYPE reads as a DuckDB type name and nothing else: words,
 * numbers, quoted field names, and balanced (), [] — never a statement. */
static int plain_type(const char *type)
{
    int depth = 0, quoted = 0;
    if (!type || !*type || strlen(type) > 4096) return 0;
    for (const char *p = type; *p; p++) {
        if (*p == '"') quoted = !quoted;
        else if (quoted) continue;
        else if (*p == '(' || *p == '[') depth++;
        else if (*p == ')' || *p == ']') {
            if (--depth < 0) return 0;
        } else if (!isalnum((unsigned char)*p) && !strchr("_ ,.", *p)) return 0;
    }
    return depth == 0 && !quoted;
}

int tarn_local__table_create(tarn_import_result *out, tarn_lake *lake, const char *table,
                      const tarn_column *columns, size_t ncolumns, const char *branch,
                      const tarn_import_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    if (ncolumns == 0)
        return tarn__error_set(err, TARN_EINVALID, "table '%s' needs at least one column", table);
    strbuf q = {0};
    sb_append(&q, "CREATE TABLE tarn_new (");
    int rc = 0;
    for (size_t i = 0; i < ncolumns && rc == 0; i++) {
        if (!columns[i].name || !*columns[i].name)
            rc = tarn__error_set(err, TARN_EINVALID, "column %zu of '%s' has no name", i + 1, table);
        else if (!plain_type(columns[i].type))
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "column '%s': '%s' is not a type name (such as BIGINT, DOUBLE, "
                                 "VARCHAR, TIMESTAMP, DECIMAL(18,2), INTEGER[])",
                                 columns[i].name, columns[i].type ? columns[i].type : "");
        if (i) sb_append(&q, ", ");
        sb_append_sql_ident(&q, columns[i].name ? columns[i].name : "");
        sb_printf(&q, " %s", columns[i].type ? columns[i].type : "");
    }
    sb_append(&q, ")");
    tarn_duck d;
    int fd = -1;
    if (rc == 0 && (rc = tarn__duck_open(&d, err)) == 0) {
        /* A DuckDB that may read nothing makes the empty table of those types. */
        json_t *none = json_array();
        rc = tarn__duck_confine(&d, none, err);
        json_decref(none);
        if (rc == 0) rc = tarn__duck_exec(&d, sb_str(&q), TARN_EINVALID, "the schema is not valid", err);
        if (rc == 0) rc = tarn__duck_export_shm(&fd, &d, "SELECT * FROM tarn_new", "tarn-create", err);
        tarn__duck_close(&d);
    }
    sb_free(&q);
    if (rc == 0) rc = tarn_table_import_arrow_fd(out, lake, table, fd, branch, opts, err);
    if (fd >= 0) close(fd);
    return rc;
}
