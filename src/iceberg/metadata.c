/* iceberg/metadata.c — the Iceberg metadata of one table version (format
 * v2): manifests listing its Parquet files with their record counts, sizes,
 * null counts and bounds (from the statistics tarn recorded when each file
 * was written), a manifest list, and metadata.json with the schema (field
 * ids), an unpartitioned spec, one snapshot and one `main` ref.
 *
 * Everything in it is derived from the version, so a version's metadata is
 * the same whenever it is written, but for the snapshot's time (the time
 * of the commit it was first read through). Where the files go is the
 * sink's business: the object store (cache.c), a folder or a bucket
 * (export.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/iceberg.h"
#include "util/error.h"

/* Files per manifest: readers plan one task per manifest, and a table of a
 * thousand files then needs no more than one. */
#define ICE_MANIFEST_FILES 1000

/* clang-format off */
static const char MANIFEST_ENTRY_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
    "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
    "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
    "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":3},"
    "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":4},"
    "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
    "{\"name\":\"content\",\"type\":\"int\",\"field-id\":134},"
    "{\"name\":\"file_path\",\"type\":\"string\",\"field-id\":100},"
    "{\"name\":\"file_format\",\"type\":\"string\",\"field-id\":101},"
    "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[]},\"field-id\":102},"
    "{\"name\":\"record_count\",\"type\":\"long\",\"field-id\":103},"
    "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"field-id\":104},"
    "{\"name\":\"column_sizes\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k117_v118\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":117},"
    "{\"name\":\"value\",\"type\":\"long\",\"field-id\":118}]}}],\"default\":null,\"field-id\":108},"
    "{\"name\":\"value_counts\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k119_v120\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":119},"
    "{\"name\":\"value\",\"type\":\"long\",\"field-id\":120}]}}],\"default\":null,\"field-id\":109},"
    "{\"name\":\"null_value_counts\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k121_v122\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":121},"
    "{\"name\":\"value\",\"type\":\"long\",\"field-id\":122}]}}],\"default\":null,\"field-id\":110},"
    "{\"name\":\"nan_value_counts\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k138_v139\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":138},"
    "{\"name\":\"value\",\"type\":\"long\",\"field-id\":139}]}}],\"default\":null,\"field-id\":137},"
    "{\"name\":\"lower_bounds\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k126_v127\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":126},"
    "{\"name\":\"value\",\"type\":\"bytes\",\"field-id\":127}]}}],\"default\":null,\"field-id\":125},"
    "{\"name\":\"upper_bounds\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":"
    "{\"type\":\"record\",\"name\":\"k129_v130\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":129},"
    "{\"name\":\"value\",\"type\":\"bytes\",\"field-id\":130}]}}],\"default\":null,\"field-id\":128},"
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":131},"
    "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\",\"element-id\":133}],"
    "\"default\":null,\"field-id\":132},"
    "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\",\"element-id\":136}],"
    "\"default\":null,\"field-id\":135},"
    "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"default\":null,\"field-id\":140}"
    "]},\"field-id\":2}]}";

static const char MANIFEST_FILE_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
    "{\"name\":\"manifest_path\",\"type\":\"string\",\"field-id\":500},"
    "{\"name\":\"manifest_length\",\"type\":\"long\",\"field-id\":501},"
    "{\"name\":\"partition_spec_id\",\"type\":\"int\",\"field-id\":502},"
    "{\"name\":\"content\",\"type\":\"int\",\"field-id\":517},"
    "{\"name\":\"sequence_number\",\"type\":\"long\",\"field-id\":515},"
    "{\"name\":\"min_sequence_number\",\"type\":\"long\",\"field-id\":516},"
    "{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"field-id\":503},"
    "{\"name\":\"added_files_count\",\"type\":\"int\",\"field-id\":504},"
    "{\"name\":\"existing_files_count\",\"type\":\"int\",\"field-id\":505},"
    "{\"name\":\"deleted_files_count\",\"type\":\"int\",\"field-id\":506},"
    "{\"name\":\"added_rows_count\",\"type\":\"long\",\"field-id\":512},"
    "{\"name\":\"existing_rows_count\",\"type\":\"long\",\"field-id\":513},"
    "{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"field-id\":514},"
    "{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"r508\",\"fields\":[{\"name\":\"contains_null\",\"type\":\"boolean\",\"field-id\":509},"
    "{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"default\":null,\"field-id\":518},"
    "{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":510},"
    "{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":511}]},"
    "\"element-id\":508}],\"default\":null,\"field-id\":507},"
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":519}]}";
/* clang-format on */

int64_t tarn__ice_snapshot_id(const char *version_id)
{
    char head[14];
    snprintf(head, sizeof head, "%.13s", version_id);
    int64_t id = (int64_t)strtoull(head, NULL, 16); /* 52 bits */
    return id ? id : 1;
}

void tarn__ice_table_uuid(char out[37], const char *name)
{
    strbuf b = {0};
    sb_printf(&b, "tarn table %s", name);
    char h[65];
    tarn__sha256_hex(h, b.s, b.len);
    sb_free(&b);
    /* A name-derived UUID: version 8 (custom), RFC 4122 variant. */
    h[12] = '8';
    h[16] = "89ab"[strtol((char[]){h[16], 0}, NULL, 16) & 3];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int tarn__ice_key_external(const char *key)
{
    return key && strstr(key, "://") != NULL;
}

/* ---- setting libavro values ------------------------------------------------------- */

static avro_value_t field(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    avro_value_get_by_name(rec, name, &f, NULL);
    return f;
}

static void set_int(avro_value_t *rec, const char *name, int32_t v)
{
    avro_value_t f = field(rec, name);
    avro_value_set_int(&f, v);
}

static void set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f = field(rec, name);
    avro_value_set_long(&f, v);
}

static void set_string(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f = field(rec, name);
    avro_value_set_string(&f, s);
}

/* An optional field: its null branch, or the value branch into *VALUE. */
static void set_null(avro_value_t *rec, const char *name)
{
    avro_value_t f = field(rec, name), b;
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
}

static avro_value_t set_present(avro_value_t *rec, const char *name)
{
    avro_value_t f = field(rec, name), b;
    avro_value_set_branch(&f, 1, &b);
    return b;
}

static void set_opt_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t b = set_present(rec, name);
    avro_value_set_long(&b, v);
}

/* ---- per-file column metrics ------------------------------------------------------- */

/* The top-level columns whose metrics a manifest carries: their id,
 * Iceberg type and name. */
typedef struct metric_col {
    int id;
    char ice[48];
    const char *name;
} metric_col;

static avro_value_t map_entry(avro_value_t *map)
{
    avro_value_t e;
    avro_value_append(map, &e, NULL);
    return e;
}

/* value_counts, null_value_counts, lower_bounds and upper_bounds of a file
 * from its statistics JSON; a column gets them only when they are exact. */
static void set_metrics(avro_value_t *df, const metric_col *cols, size_t ncols,
                        const tarn_data_file *f)
{
    json_t *stats = json_loads(f->stats_json ? f->stats_json : "{}", 0, NULL);
    avro_value_t values = set_present(df, "value_counts"),
                 nulls = set_present(df, "null_value_counts"),
                 lower = set_present(df, "lower_bounds"), upper = set_present(df, "upper_bounds");
    strbuf lo = {0}, hi = {0};
    for (size_t i = 0; i < ncols; i++) {
        json_t *s = json_object_get(stats, cols[i].name);
        if (!json_is_true(json_object_get(s, "exact"))) continue;
        avro_value_t e = map_entry(&values), k, v;
        avro_value_get_by_name(&e, "key", &k, NULL);
        avro_value_set_int(&k, cols[i].id);
        avro_value_get_by_name(&e, "value", &v, NULL);
        avro_value_set_long(&v, f->row_count);
        e = map_entry(&nulls);
        avro_value_get_by_name(&e, "key", &k, NULL);
        avro_value_set_int(&k, cols[i].id);
        avro_value_get_by_name(&e, "value", &v, NULL);
        avro_value_set_long(&v, json_integer_value(json_object_get(s, "nulls")));
        lo.len = hi.len = 0;
        const char *min = json_string_value(json_object_get(s, "min"));
        const char *max = json_string_value(json_object_get(s, "max"));
        if (!min || !max || tarn__ice_bound(&lo, cols[i].ice, min) < 0 ||
            tarn__ice_bound(&hi, cols[i].ice, max) < 0)
            continue;
        e = map_entry(&lower);
        avro_value_get_by_name(&e, "key", &k, NULL);
        avro_value_set_int(&k, cols[i].id);
        avro_value_get_by_name(&e, "value", &v, NULL);
        avro_value_set_bytes(&v, lo.s ? lo.s : "", lo.len);
        e = map_entry(&upper);
        avro_value_get_by_name(&e, "key", &k, NULL);
        avro_value_set_int(&k, cols[i].id);
        avro_value_get_by_name(&e, "value", &v, NULL);
        avro_value_set_bytes(&v, hi.s ? hi.s : "", hi.len);
    }
    sb_free(&lo);
    sb_free(&hi);
    json_decref(stats);
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct manifest_out {
    char *path; /* the location readers read it at */
    int64_t length;
    int files;
    int64_t rows;
} manifest_out;

/* Writes the avro file A as NAME through SINK; its location into *where. */
static int put_avro(ice_avro *a, const ice_sink *sink, const char *name, char **where,
                    int64_t *size, tarn_error *err)
{
    char tmp[4096];
    int rc = sink->temp(sink->ctx, name, tmp, sizeof tmp, err);
    if (rc == 0) rc = tarn__ice_avro_write(a, tmp, size, err);
    if (rc == 0) rc = sink->put(sink->ctx, name, tmp, err);
    if (rc == 0 && where) {
        strbuf loc = {0};
        sb_printf(&loc, "%s%s", sink->location, name);
        *where = loc.s;
    }
    return rc;
}

static int put_text(const ice_sink *sink, const char *name, const char *text, tarn_error *err)
{
    char tmp[4096];
    int rc = sink->temp(sink->ctx, name, tmp, sizeof tmp, err);
    if (rc == 0) {
        FILE *f = fopen(tmp, "wb");
        size_t len = strlen(text);
        if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
            if (f) fclose(f);
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s'", tmp);
        }
    }
    if (rc == 0) rc = sink->put(sink->ctx, name, tmp, err);
    return rc;
}

static int write_manifest(manifest_out *out, const ice_sink *sink, int64_t snapshot,
                          const char *schema_text, const tarn_data_file *files, size_t n,
                          const metric_col *cols, size_t ncols, size_t index, tarn_error *err)
{
    const char *meta[] = {"schema",         schema_text, "schema-id",         "0",
                          "partition-spec", "[]",        "partition-spec-id", "0",
                          "format-version", "2",         "content",           "data"};
    ice_avro *a = NULL;
    TARN_RETURN_NOT_OK(tarn__ice_avro_new(&a, MANIFEST_ENTRY_SCHEMA, meta, 6, err));
    int rc = 0;
    strbuf loc = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        avro_value_t *e = tarn__ice_avro_value(a);
        set_int(e, "status", 1); /* ADDED: the snapshot is the version, all of it */
        set_opt_long(e, "snapshot_id", snapshot);
        set_opt_long(e, "sequence_number", 1);
        set_opt_long(e, "file_sequence_number", 1);
        avro_value_t df = field(e, "data_file");
        set_int(&df, "content", 0);
        loc.len = 0;
        sink->data_location(sink->ctx, files[i].key, &loc);
        set_string(&df, "file_path", sb_str(&loc));
        set_string(&df, "file_format", "PARQUET");
        set_long(&df, "record_count", files[i].row_count);
        set_long(&df, "file_size_in_bytes", files[i].size_bytes);
        set_null(&df, "column_sizes");
        set_null(&df, "nan_value_counts");
        set_metrics(&df, cols, ncols, &files[i]);
        set_null(&df, "key_metadata");
        set_null(&df, "split_offsets");
        set_null(&df, "equality_ids");
        set_null(&df, "sort_order_id");
        rc = tarn__ice_avro_append(a, err);
        out->files++;
        out->rows += files[i].row_count;
    }
    sb_free(&loc);
    char name[96];
    snprintf(name, sizeof name, "metadata/%lld-m%zu.avro", (long long)snapshot, index);
    if (rc == 0) rc = put_avro(a, sink, name, &out->path, &out->length, err);
    tarn__ice_avro_free(&a);
    return rc;
}

static int write_manifest_list(char **where, const ice_sink *sink, int64_t snapshot,
                               const manifest_out *m, size_t n, tarn_error *err)
{
    char snap[32];
    snprintf(snap, sizeof snap, "%lld", (long long)snapshot);
    const char *meta[] = {"snapshot-id",     snap, "parent-snapshot-id", "null",
                          "sequence-number", "1",  "format-version",     "2"};
    ice_avro *a = NULL;
    TARN_RETURN_NOT_OK(tarn__ice_avro_new(&a, MANIFEST_FILE_SCHEMA, meta, 4, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        avro_value_t *e = tarn__ice_avro_value(a);
        set_string(e, "manifest_path", m[i].path);
        set_long(e, "manifest_length", m[i].length);
        set_int(e, "partition_spec_id", 0);
        set_int(e, "content", 0);
        set_long(e, "sequence_number", 1);
        set_long(e, "min_sequence_number", 1);
        set_long(e, "added_snapshot_id", snapshot);
        set_int(e, "added_files_count", m[i].files);
        set_int(e, "existing_files_count", 0);
        set_int(e, "deleted_files_count", 0);
        set_long(e, "added_rows_count", m[i].rows);
        set_long(e, "existing_rows_count", 0);
        set_long(e, "deleted_rows_count", 0);
        set_present(e, "partitions"); /* unpartitioned: an empty list */
        set_null(e, "key_metadata");
        rc = tarn__ice_avro_append(a, err);
    }
    char name[96];
    snprintf(name, sizeof name, "metadata/snap-%lld-1.avro", (long long)snapshot);
    if (rc == 0) rc = put_avro(a, sink, name, where, NULL, err);
    tarn__ice_avro_free(&a);
    return rc;
}

static json_t *snapshot_json(int64_t snapshot, int64_t ms, const char *manifest_list, int64_t files,
                             int64_t rows, int64_t bytes)
{
    char nf[24], nr[24], nb[24];
    snprintf(nf, sizeof nf, "%lld", (long long)files);
    snprintf(nr, sizeof nr, "%lld", (long long)rows);
    snprintf(nb, sizeof nb, "%lld", (long long)bytes);
    json_t *summary = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "operation", "append",
                                "added-data-files", nf, "added-records", nr, "added-files-size", nb,
                                "total-data-files", nf, "total-records", nr, "total-files-size", nb,
                                "total-delete-files", "0", "total-position-deletes", "0",
                                "total-equality-deletes", "0");
    return json_pack("{s:I,s:i,s:I,s:o,s:s,s:i}", "snapshot-id", (json_int_t)snapshot,
                     "sequence-number", 1, "timestamp-ms", (json_int_t)ms, "summary", summary,
                     "manifest-list", manifest_list, "schema-id", 0);
}

int tarn__ice_metadata_write(json_t **metadata, char **skipped, tarn_lake *lake, const ice_table *t,
                             const ice_sink *sink, tarn_error *err)
{
    if (metadata) *metadata = NULL;
    if (skipped) *skipped = NULL;
    const tarn_version *v = t->version;
    ice_schema schema;
    TARN_RETURN_NOT_OK(tarn__ice_schema_load(&schema, v->schema_json, err));
    char *left = NULL;
    json_t *ice_schema_j = tarn__ice_schema_json(&schema, &left);
    char *schema_text = json_dumps(ice_schema_j, JSON_COMPACT);
    tarn_data_file *files = calloc(v->nfiles ? v->nfiles : 1, sizeof *files);
    metric_col *cols = calloc(schema.n ? schema.n : 1, sizeof *cols);
    size_t ncols = 0, nmanifests = (v->nfiles + ICE_MANIFEST_FILES - 1) / ICE_MANIFEST_FILES;
    manifest_out *manifests = calloc(nmanifests ? nmanifests : 1, sizeof *manifests);
    char *manifest_list = NULL;
    json_t *md = NULL;
    int rc = files && cols && manifests && schema_text
                 ? 0
                 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0 && v->nfiles)
        rc = TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), (const char *const *)v->files, v->nfiles,
                                          files, err);
    for (size_t i = 0; rc == 0 && i < schema.n; i++) {
        const ice_column *c = &schema.cols[i];
        if (c->t->kind != ICE_LEAF) continue;
        const char *ice = tarn__ice_leaf_type(cols[ncols].ice, sizeof cols[ncols].ice, c->t->leaf);
        if (!ice) continue;
        if (ice != cols[ncols].ice) snprintf(cols[ncols].ice, sizeof cols[ncols].ice, "%s", ice);
        cols[ncols].id = c->id;
        cols[ncols++].name = c->name;
    }
    int64_t snapshot = tarn__ice_snapshot_id(v->id), rows = 0, bytes = 0;
    for (size_t m = 0; rc == 0 && m < nmanifests; m++) {
        size_t from = m * ICE_MANIFEST_FILES;
        size_t n = v->nfiles - from < ICE_MANIFEST_FILES ? v->nfiles - from : ICE_MANIFEST_FILES;
        rc = write_manifest(&manifests[m], sink, snapshot, schema_text, files + from, n, cols,
                            ncols, m, err);
        rows += manifests[m].rows;
    }
    for (size_t i = 0; i < v->nfiles; i++)
        bytes += files[i].size_bytes;
    if (rc == 0 && v->nfiles)
        rc = write_manifest_list(&manifest_list, sink, snapshot, manifests, nmanifests, err);
    if (rc == 0) {
        char uuid[37];
        tarn__ice_table_uuid(uuid, t->name);
        int64_t ms = t->time_us / 1000;
        json_t *mapping = tarn__ice_name_mapping(&schema);
        char *mapping_text = json_dumps(mapping, JSON_COMPACT);
        json_decref(mapping);
        json_t *props = json_pack("{s:s,s:s,s:s,s:s}", "schema.name-mapping.default",
                                  mapping_text ? mapping_text : "[]", "write.format.default",
                                  "parquet", "tarn.table", t->name, "tarn.version", v->id);
        free(mapping_text);
        if (left) json_object_set_new(props, "tarn.columns-not-exported", json_string(left));
        size_t len = strlen(sink->location);
        md = json_pack(
            "{s:i,s:s,s:s%,s:i,s:I,s:i,s:i,s:[O],s:i,s:[{s:i,s:[]}],s:i,s:i,s:[{s:i,s:[]}],s:o}",
            "format-version", 2, "table-uuid", uuid, "location", sink->location,
            len && sink->location[len - 1] == '/' ? len - 1 : len, "last-sequence-number",
            v->nfiles ? 1 : 0, "last-updated-ms", (json_int_t)ms, "last-column-id", schema.last_id,
            "current-schema-id", 0, "schemas", ice_schema_j, "default-spec-id", 0,
            "partition-specs", "spec-id", 0, "fields", "last-partition-id", 999,
            "default-sort-order-id", 0, "sort-orders", "order-id", 0, "fields", "properties",
            props);
        if (md && v->nfiles) {
            json_object_set_new(md, "current-snapshot-id", json_integer(snapshot));
            json_object_set_new(md, "snapshots",
                                json_pack("[o]", snapshot_json(snapshot, ms, manifest_list,
                                                               (int64_t)v->nfiles, rows, bytes)));
            json_object_set_new(md, "snapshot-log",
                                json_pack("[{s:I,s:I}]", "snapshot-id", (json_int_t)snapshot,
                                          "timestamp-ms", (json_int_t)ms));
            /* One ref per metadata file: readers that meet several pick wrongly. */
            json_object_set_new(md, "refs",
                                json_pack("{s:{s:I,s:s}}", "main", "snapshot-id",
                                          (json_int_t)snapshot, "type", "branch"));
        } else if (md) {
            json_object_set_new(md, "current-snapshot-id", json_integer(-1));
            json_object_set_new(md, "snapshots", json_array());
            json_object_set_new(md, "snapshot-log", json_array());
            json_object_set_new(md, "refs", json_object());
        }
        if (md) json_object_set_new(md, "metadata-log", json_array());
        if (!md) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    char *text = rc == 0 ? json_dumps(md, JSON_INDENT(2)) : NULL;
    if (rc == 0 && !text) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0) rc = put_text(sink, ICE_METADATA_NAME, text, err);
    /* Last: readers that look for the newest version find this one only
     * once everything it names is in place. */
    if (rc == 0) rc = put_text(sink, "metadata/version-hint.text", "1", err);
    free(text);
    if (rc == 0 && metadata) *metadata = json_incref(md);
    if (rc == 0 && skipped) {
        *skipped = left;
        left = NULL;
    }
    json_decref(md);
    json_decref(ice_schema_j);
    free(left);
    free(schema_text);
    for (size_t i = 0; files && i < v->nfiles; i++)
        tarn__data_file_clear(&files[i]);
    free(files);
    free(cols);
    for (size_t m = 0; manifests && m < nmanifests; m++)
        free(manifests[m].path);
    free(manifests);
    free(manifest_list);
    tarn__ice_schema_clear(&schema);
    return rc;
}
