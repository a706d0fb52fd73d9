/* iceberg/external.c — tables whose Iceberg metadata lives elsewhere
 * (Bauplan's create_external_table_from_metadata, the REST catalog's
 * register route), added to a branch and queried by tarn in place.
 *
 * The smallest change to the catalog: an external table is an ordinary
 * table version whose data files are the Parquet files of the Iceberg
 * table's current snapshot, recorded under their absolute location
 * (file:///...) instead of a store key. Nothing is copied; gc never deletes
 * them (they are not in the store it lists); queries read them where they
 * are. The version's schema is the Iceberg schema's, field ids and all, so
 * the table is served back as Iceberg with the ids its files carry. The
 * commit's properties name the metadata it came from.
 *
 * Registering reads the metadata once: the table is that snapshot, as any
 * Iceberg metadata file is. What tarn cannot read exactly is refused with
 * the reason: delete files, data files that are not Parquet, files that
 * lack a column of the current schema (written before it was added, or
 * renamed since), locations it cannot reach. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/names.h"
#include "iceberg/iceberg.h"
#include "sql/engine.h"
#include "tarn/iceberg.h"
#include "util/error.h"

/* A local path for LOCATION (a path, or a file:// URI, percent-decoded);
 * TARN_EINVALID for any other scheme. */
static int local_path(char *out, size_t size, const char *location, tarn_error *err)
{
    const char *p = location;
    if (!strncmp(p, "file://", 7)) {
        p += 7;
        if (*p != '/')
            return tarn__error_set(err, TARN_EINVALID,
                                   "'%s' is not a file:///absolute/path location", location);
    } else if (strstr(p, "://")) {
        return tarn__error_set(
            err, TARN_EINVALID,
            "cannot read '%s': external tables are read from local paths and file:// "
            "locations (copy the table's files to this machine first)",
            location);
    }
    size_t n = 0;
    for (; *p && n + 1 < size; p++) {
        if (*p == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            char *end;
            long c = strtol(hex, &end, 16);
            if (!*end && c > 0) {
                out[n++] = (char)c;
                p += 2;
                continue;
            }
        }
        out[n++] = *p;
    }
    out[n] = 0;
    return 0;
}

int tarn__ice_local_path(char *out, size_t size, const char *key, tarn_error *err)
{
    return local_path(out, size, key, err);
}

/* local_path, refusing a location whose file is not under ROOT (NULL: no
 * bound; ROOT is already resolved, and links in the location are, so
 * none leads out). */
static int path_within(char *out, size_t size, const char *location, const char *root,
                       tarn_error *err)
{
    TARN_RETURN_NOT_OK(local_path(out, size, location, err));
    if (!root) return 0;
    char real[PATH_MAX];
    size_t n = strlen(root);
    if (realpath(out, real) && strncmp(real, root, n) == 0 && (real[n] == '/' || root[n - 1] == '/'))
        return 0;
    return tarn__error_set(err, TARN_EDENIED,
                           "'%s' is not under the folder this server registers tables from: put "
                           "the table's metadata and data files there",
                           location);
}

static int read_json_file(json_t **out, const char *location, const char *root, tarn_error *err)
{
    char path[PATH_MAX];
    TARN_RETURN_NOT_OK(path_within(path, sizeof path, location, root, err));
    json_error_t je;
    *out = json_load_file(path, 0, &je);
    if (!*out)
        return tarn__error_set(err, errno == ENOENT ? TARN_ENOTFOUND : TARN_EINVALID,
                               "cannot read Iceberg metadata '%s': %s", location, je.text);
    return 0;
}

static int read_avro(json_t **out, const char *location, const char *root, tarn_error *err)
{
    char path[PATH_MAX];
    TARN_RETURN_NOT_OK(path_within(path, sizeof path, location, root, err));
    struct stat st;
    if (stat(path, &st) != 0)
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "cannot read '%s' (named by the Iceberg metadata): %s", location,
                               strerror(errno));
    return tarn__ice_avro_read(out, path, err);
}

/* The nested field ids of Iceberg type T in the walk order of ice_column. */
static void nested_ids(json_t *ids, const json_t *t)
{
    if (!json_is_object(t)) return;
    const char *kind = json_string_value(json_object_get(t, "type"));
    json_t *kids = json_array();
    if (kind && !strcmp(kind, "struct")) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f)
        {
            json_array_append(ids, json_object_get(f, "id"));
            json_array_append(kids, json_object_get(f, "type"));
        }
    } else if (kind && !strcmp(kind, "list")) {
        json_array_append(ids, json_object_get(t, "element-id"));
        json_array_append(kids, json_object_get(t, "element"));
    } else if (kind && !strcmp(kind, "map")) {
        json_array_append(ids, json_object_get(t, "key-id"));
        json_array_append(ids, json_object_get(t, "value-id"));
        json_array_append(kids, json_object_get(t, "key"));
        json_array_append(kids, json_object_get(t, "value"));
    }
    size_t i;
    json_t *k;
    json_array_foreach(kids, i, k) nested_ids(ids, k);
    json_decref(kids);
}

/* The table schema JSON of the Iceberg schema S, its ids kept. */
static int schema_of(char **out, const json_t *s, const char *location, tarn_error *err)
{
    json_t *cols = json_array();
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(json_object_get(s, "fields"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        char *type = tarn__ice_duck_type(json_object_get(f, "type"));
        if (!name || !type || !json_is_integer(json_object_get(f, "id"))) {
            free(type);
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "column '%s' of '%s' has a type tarn cannot read",
                                 name ? name : "?", location);
            break;
        }
        json_t *c =
            json_pack("{s:s,s:s,s:O}", "name", name, "type", type, "id", json_object_get(f, "id"));
        free(type);
        json_t *ids = json_array();
        nested_ids(ids, json_object_get(f, "type"));
        if (json_array_size(ids)) json_object_set(c, "nested_ids", ids);
        json_decref(ids);
        json_array_append_new(cols, c);
    }
    if (rc == 0 && json_array_size(cols) == 0)
        rc = tarn__error_set(err, TARN_EINVALID, "'%s' has no columns", location);
    if (rc == 0) *out = json_dumps(cols, JSON_COMPACT);
    json_decref(cols);
    return rc;
}

static const json_t *find_by(const json_t *arr, const char *key, json_int_t id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_integer_value(json_object_get(e, key)) == id) return e;
    return NULL;
}

/* The data files of the current snapshot of METADATA, as tarn data file
 * records keyed by their location. */
typedef struct files {
    tarn_data_file *v;
    size_t n, cap;
} files;

static int refuse_deletes(const char *location, tarn_error *err)
{
    return tarn__error_set(err, TARN_EINVALID,
                           "'%s' has delete files (row-level deletes), which tarn does not apply: "
                           "rewrite the table's data files first (e.g. Spark's rewrite_data_files)",
                           location);
}

static int add_manifest(files *out, const char *manifest, const char *location, const char *root,
                        tarn_error *err)
{
    json_t *entries = NULL;
    TARN_RETURN_NOT_OK(read_avro(&entries, manifest, root, err));
    int rc = 0;
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (json_integer_value(json_object_get(e, "status")) == 2) continue; /* deleted */
        json_t *df = json_object_get(e, "data_file");
        const char *path = json_string_value(json_object_get(df, "file_path"));
        const char *format = json_string_value(json_object_get(df, "file_format"));
        if (json_integer_value(json_object_get(df, "content")) != 0) {
            rc = refuse_deletes(location, err);
            break;
        }
        if (!path || !format || strcasecmp(format, "PARQUET") != 0) {
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "'%s' has a data file in %s format: tarn reads Parquet only",
                                 location, format ? format : "an unknown");
            break;
        }
        char local[PATH_MAX];
        struct stat st;
        if ((rc = path_within(local, sizeof local, path, root, err)) < 0) break;
        if (stat(local, &st) != 0) {
            rc = tarn__error_set(err, TARN_ENOTFOUND, "data file '%s' of '%s' cannot be read: %s",
                                 path, location, strerror(errno));
            break;
        }
        if ((rc = tarn__reserve(&out->v, &out->cap, out->n + 1, sizeof *out->v)) < 0) break;
        /* The key is the location itself: an absolute file:// URI. */
        strbuf key = {0};
        if (!strncmp(path, "file://", 7))
            sb_append(&key, path);
        else
            sb_printf(&key, "file://%s", path);
        out->v[out->n++] =
            (tarn_data_file){key.s, json_integer_value(json_object_get(df, "record_count")),
                             (int64_t)st.st_size, strdup("{}")};
    }
    json_decref(entries);
    return rc;
}

static int snapshot_files(files *out, const json_t *md, const char *location, const char *root,
                          tarn_error *err)
{
    json_t *cur = json_object_get(md, "current-snapshot-id");
    if (!json_is_integer(cur) || json_integer_value(cur) < 0) return 0; /* no snapshot: empty */
    const json_t *snap =
        find_by(json_object_get(md, "snapshots"), "snapshot-id", json_integer_value(cur));
    if (!snap)
        return tarn__error_set(err, TARN_EINVALID, "'%s': its current snapshot is not listed",
                               location);
    const char *list = json_string_value(json_object_get(snap, "manifest-list"));
    json_t *manifests = NULL;
    if (list) {
        TARN_RETURN_NOT_OK(read_avro(&manifests, list, root, err));
    } else {
        manifests = json_array(); /* format v1 may list manifests in the snapshot */
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(snap, "manifests"), i, m)
            json_array_append_new(manifests, json_pack("{s:O}", "manifest_path", m));
    }
    int rc = 0;
    size_t i;
    json_t *m;
    json_array_foreach(manifests, i, m)
    {
        const char *path = json_string_value(json_object_get(m, "manifest_path"));
        if (json_integer_value(json_object_get(m, "content")) == 1) {
            json_int_t live = json_integer_value(json_object_get(m, "added_files_count")) +
                              json_integer_value(json_object_get(m, "existing_files_count"));
            if (live == 0) continue;
            rc = refuse_deletes(location, err);
            break;
        }
        if (!path || (rc = add_manifest(out, path, location, root, err)) < 0) {
            if (!path)
                rc = tarn__error_set(err, TARN_EINVALID, "'%s': a manifest without a path",
                                     location);
            break;
        }
    }
    json_decref(manifests);
    return rc;
}

/* Every file must hold every column, under its name (tarn reads columns
 * by name): one that was written before a column was added, or whose
 * column was renamed since, is refused. */
static int check_columns(const files *f, const char *schema_json, const char *location,
                         tarn_error *err)
{
    if (f->n == 0) return 0;
    tarn_duck d;
    TARN_RETURN_NOT_OK(tarn__duck_open(&d, err));
    ice_schema s;
    int rc = tarn__ice_schema_load(&s, schema_json, err);
    strbuf q = {0};
    for (size_t i = 0; rc == 0 && i < f->n; i++) {
        char path[PATH_MAX];
        if ((rc = local_path(path, sizeof path, f->v[i].key, err)) < 0) break;
        q.len = 0;
        sb_append(&q, "SELECT ");
        for (size_t c = 0; c < s.n; c++) {
            if (c) sb_append(&q, ", ");
            sb_append_sql_ident(&q, s.cols[c].name);
        }
        sb_append(&q, " FROM read_parquet(");
        sb_append_sql_string(&q, path);
        sb_append(&q, ")");
        duckdb_prepared_statement st = NULL;
        if (duckdb_prepare(d.con, q.s, &st) != DuckDBSuccess)
            rc = tarn__error_set(
                err, TARN_EINVALID,
                "data file '%s' of '%s' does not hold the table's columns by their names "
                "(written before a column was added, or renamed since): %s",
                f->v[i].key, location, tarn__duck_message(duckdb_prepare_error(st)));
        duckdb_destroy_prepare(&st);
    }
    sb_free(&q);
    tarn__ice_schema_clear(&s);
    tarn__duck_close(&d);
    return rc;
}

typedef struct register_edit {
    const char *table, *branch, *schema_json;
    const files *f;
} register_edit;

static int apply_register(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    register_edit *ed = ctx;
    tarn_tree_entry *e = tarn__tree_find(tree, ed->table);
    if (e && e->kind == TARN_ENTRY_TABLE)
        return tarn__error_set(err, TARN_EEXISTS,
                               "table '%s' already exists on branch '%s' (remove it first)",
                               ed->table, ed->branch);
    tarn_version v = {0};
    v.schema_json = (char *)ed->schema_json;
    v.nfiles = ed->f->n;
    v.files = calloc(v.nfiles ? v.nfiles : 1, sizeof *v.files);
    if (!v.files) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ed->f->n; i++) {
        v.files[i] = ed->f->v[i].key;
        rc = tarn__data_file_insert(lake, &ed->f->v[i], err);
    }
    if (rc == 0) rc = tarn__version_store(lake, &v, err);
    free(v.files);
    if (rc < 0) return rc;
    tarn__tree_ensure_namespace(tree, ed->table);
    tarn__tree_set(tree, ed->table, TARN_ENTRY_TABLE, v.id);
    return 0;
}

int tarn_iceberg_register(tarn_commit_id *out, tarn_lake *lake, const char *table,
                          const char *metadata_location, const char *branch, tarn_error *err)
{
    return tarn__ice_register_within(out, lake, table, metadata_location, branch, NULL, err);
}

int tarn__ice_register_within(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *metadata_location, const char *branch, const char *root,
                              tarn_error *err)
{
    memset(out, 0, sizeof *out);
    TARN_RETURN_NOT_OK(tarn__ice_need_local(lake, "tarn table create-external", err));
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (!metadata_location || !*metadata_location)
        return tarn__error_set(err, TARN_EINVALID,
                               "a metadata location is needed (a metadata.json path)");
    char qualified[300], branch_name[TARN_NAME_MAX + 1];
    tarn__qualify_table(qualified, sizeof qualified, table);
    TARN_RETURN_NOT_OK(tarn__branch_name(branch_name, lake, branch, err));
    json_t *md = NULL;
    /* The folder resolved once; every location read is checked against it. */
    char top[PATH_MAX];
    if (root && !realpath(root, top))
        return tarn__error_set(err, TARN_EIO, "the register folder '%s' cannot be read: %s", root,
                               strerror(errno));
    if (root) root = top;
    TARN_RETURN_NOT_OK(read_json_file(&md, metadata_location, root, err));
    files f = {0};
    char *schema_json = NULL;
    int rc = 0;
    json_int_t version = json_integer_value(json_object_get(md, "format-version"));
    if (version != 1 && version != 2)
        rc = tarn__error_set(err, TARN_EINVALID,
                             "'%s' is Iceberg format version %lld: tarn reads versions 1 and 2",
                             metadata_location, (long long)version);
    const json_t *schema = json_object_get(md, "schema"); /* v1 */
    if (json_object_get(md, "schemas"))
        schema = find_by(json_object_get(md, "schemas"), "schema-id",
                         json_integer_value(json_object_get(md, "current-schema-id")));
    if (rc == 0 && !schema)
        rc = tarn__error_set(err, TARN_EINVALID, "'%s' has no current schema", metadata_location);
    if (rc == 0) rc = schema_of(&schema_json, schema, metadata_location, err);
    if (rc == 0) rc = snapshot_files(&f, md, metadata_location, root, err);
    if (rc == 0) rc = check_columns(&f, schema_json, metadata_location, err);
    if (rc == 0) {
        register_edit ed = {qualified, branch_name, schema_json, &f};
        strbuf msg = {0};
        sb_printf(&msg, "Add external table %s from %s", qualified, metadata_location);
        json_t *props = json_pack("{s:s}", "iceberg.metadata-location", metadata_location);
        char *props_text = json_dumps(props, JSON_COMPACT);
        rc = tarn__branch_commit(out, lake, branch_name, apply_register, &ed, msg.s, props_text,
                                 err);
        free(props_text);
        json_decref(props);
        sb_free(&msg);
    }
    for (size_t i = 0; i < f.n; i++)
        tarn__data_file_clear(&f.v[i]);
    free(f.v);
    free(schema_json);
    json_decref(md);
    return rc < 0 ? rc : 0;
}
