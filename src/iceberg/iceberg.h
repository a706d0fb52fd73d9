/* iceberg/iceberg.h — tables as Apache Iceberg (format v2), inside the
 * library (docs/iceberg.md).
 *
 * Arranged as: schema.c (DuckDB types as Iceberg types, field ids, the
 * name mapping), bounds.c (statistics as Iceberg's single-value bytes),
 * avro.c (Avro object container files), metadata.c (metadata.json, the
 * manifest list and manifests of one table version, written through a
 * sink), cache.c (those files in the object store: written lazily once,
 * found again), export.c (a self-contained copy elsewhere), external.c
 * (tables registered from Iceberg metadata that lives elsewhere) and
 * rest.c (the REST catalog's routes). */
#ifndef TARN_ICEBERG_INTERNAL_H
#define TARN_ICEBERG_INTERNAL_H

#include <avro.h>
#include <jansson.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "util/util.h"

/* ---- types and field ids (schema.c) ------------------------------------- */

typedef enum { ICE_LEAF = 0, ICE_STRUCT, ICE_LIST, ICE_MAP } ice_kind;

/* A DuckDB type as a tree: a leaf (its DuckDB name), a struct (named
 * fields), a list (one element) or a map (key, value). */
typedef struct ice_type {
    ice_kind kind;
    int fixed;    /* ICE_LIST: a fixed-size ARRAY, T[N] (read back from Parquet as a list) */
    char *leaf;   /* ICE_LEAF: the DuckDB type name, e.g. DECIMAL(10,2) */
    size_t n;     /* children */
    char **names; /* ICE_STRUCT: field names */
    struct ice_type **children;
} ice_type;

/* Parses a DuckDB type name (STRUCT(a INTEGER, "b c" VARCHAR[]), MAP(K, V),
 * T[], T[N], DECIMAL(P,S), ...). NULL when it cannot be read. */
ice_type *tarn__ice_type_parse(const char *duck);
void tarn__ice_type_free(ice_type *t);
/* How many field ids the nested fields of T take (0 for a leaf). */
size_t tarn__ice_type_nested(const ice_type *t);
/* How deep T nests (0 for a leaf). */
size_t tarn__ice_type_depth(const ice_type *t);

/* One column of a table schema with its Iceberg field ids: ID for the
 * column, NESTED for its nested fields in the order the type is walked: a
 * nested type's own fields first (a struct's fields, a list's element, a
 * map's key and value), then, in turn, the nested fields of each. */
typedef struct ice_column {
    char *name;
    char *type; /* DuckDB's */
    ice_type *t;
    int id;
    int *nested;
    size_t nnested;
} ice_column;

typedef struct ice_schema {
    size_t n;
    ice_column *cols;
    int explicit_ids; /* the JSON carried ids (else implied: 1, 2, ... in order) */
    int last_id;      /* the largest id used */
} ice_schema;

/* Reads a table schema JSON ([{"name","type","id"?,"nested_ids"?}]).
 * Without ids, the implied ones: 1, 2, ... in column order, each
 * column's nested fields right after it. */
int tarn__ice_schema_load(ice_schema *out, const char *schema_json, tarn_error *err);
void tarn__ice_schema_clear(ice_schema *s);
/* The schema JSON (names and types of NEW_JSON) with field ids: a column
 * named and shaped like one of BASE_JSON (NULL: none) keeps its ids, any
 * other gets new ones above every id in use. Malloc'd; NULL when a schema
 * cannot be read. */
char *tarn__ice_schema_assign(const char *new_json, const char *base_json);
/* TYPES_JSON (names and types as written) with the ids of IDS_JSON,
 * column by column; NULL when the two do not describe the same columns. */
char *tarn__ice_schema_merge_ids(const char *types_json, const char *ids_json);
/* 1 if A and B give every column the same ids (explicit or implied). */
int tarn__ice_schema_same_ids(const char *a_json, const char *b_json);
/* Appends `FIELD_IDS {...}` (DuckDB's COPY option) for S and returns 1;
 * 0 (nothing appended) when DuckDB cannot take ids for every field — a
 * fixed-size ARRAY (no id for its element) or a column nesting deeper than
 * it parses such an option: that file is read through the name mapping. */
#define ICE_FIELD_IDS_MAX_DEPTH 200
int tarn__ice_field_ids_sql(strbuf *out, const ice_schema *s);

/* The Iceberg type of a DuckDB leaf type ("long", "decimal(10,2)"), NULL
 * when Iceberg v2 has none that every reader reads exactly from the
 * Parquet DuckDB wrote (unsigned 32/64-bit, TIMESTAMP_NS, INTERVAL, ...). */
const char *tarn__ice_leaf_type(char *buf, size_t size, const char *duck);
/* The Iceberg schema (a struct, schema-id 0) of S. Columns Iceberg cannot
 * hold are left out and listed in *skipped ("name (TYPE)", comma-separated;
 * malloc'd, NULL when none). */
json_t *tarn__ice_schema_json(const ice_schema *s, char **skipped);
/* schema.name-mapping.default for S: every field id with its name. */
json_t *tarn__ice_name_mapping(const ice_schema *s);
/* The DuckDB type of an Iceberg type (JSON), for external tables; NULL
 * when there is none. Malloc'd. */
char *tarn__ice_duck_type(const json_t *iceberg_type);

/* ---- statistics as bounds (bounds.c) ------------------------------------ */

/* Appends Iceberg's single-value serialisation of the statistic TEXT (as
 * tarn records it) of a column of Iceberg type ICE to OUT: 0, or -1 when
 * it cannot be given exactly (then no bound is written: a reader must never
 * skip a file on a wrong bound). */
int tarn__ice_bound(strbuf *out, const char *ice, const char *text);

/* ---- Avro object container files (avro.c) ------------------------------- */

typedef struct ice_avro ice_avro;
/* A new file of records of SCHEMA_JSON (an Avro record schema, with
 * Iceberg's field-id attributes kept in the file) carrying the key-value
 * pairs META[0..2*NMETA) in its header. */
int tarn__ice_avro_new(ice_avro **out, const char *schema_json, const char *const *meta,
                       size_t nmeta, tarn_error *err);
/* The record to fill next (libavro's generic value, reset), then
 * tarn__ice_avro_append encodes it into the file. */
avro_value_t *tarn__ice_avro_value(ice_avro *a);
int tarn__ice_avro_append(ice_avro *a, tarn_error *err);
/* Writes the file to PATH (all records in one block; the sync marker is
 * derived from the content, so equal content gives equal bytes). */
int tarn__ice_avro_write(ice_avro *a, const char *path, int64_t *size, tarn_error *err);
void tarn__ice_avro_free(ice_avro **a);
/* Reads every record of the Avro file at PATH as JSON (records as
 * objects, unions as their value, bytes as arrays of numbers) into
 * *records (an array). */
int tarn__ice_avro_read(json_t **records, const char *path, tarn_error *err);

/* ---- the metadata of a table version (metadata.c) ------------------------ */

/* Where the files go and how readers find them. */
typedef struct ice_sink {
    /* The location the files' names are read under ("<...>/", ending in
     * '/'): metadata/v1.metadata.json is found at LOCATION + that name. */
    const char *location;
    /* A local path to write NAME (e.g. "metadata/snap-1.avro") to. */
    int (*temp)(void *ctx, const char *name, char *out, size_t size, tarn_error *err);
    /* Publishes what was written at LOCAL as NAME. */
    int (*put)(void *ctx, const char *name, const char *local, tarn_error *err);
    /* The location readers read data file KEY at (an external table's
     * file, KEY is already one: file://...). */
    void (*data_location)(void *ctx, const char *key, strbuf *out);
    void *ctx;
} ice_sink;

/* One table version to describe. */
typedef struct ice_table {
    const char *name;            /* ns.table */
    const tarn_version *version; /* with its files */
    int64_t time_us;             /* the commit it was read through: the snapshot's time */
} ice_table;

/* Writes the metadata of T through SINK: the manifests, the manifest list,
 * then metadata/v1.metadata.json and metadata/version-hint.text (last, so
 * that its presence means the rest is there). *metadata (may be NULL) gets
 * the metadata JSON, *skipped the columns left out. */
int tarn__ice_metadata_write(json_t **metadata, char **skipped, tarn_lake *lake, const ice_table *t,
                             const ice_sink *sink, tarn_error *err);
/* The snapshot id of a version: 52 bits of its id, so that JavaScript
 * readers (doubles) keep it exact. */
int64_t tarn__ice_snapshot_id(const char *version_id);
/* The table UUID of NAME (stable for a table across its versions). */
void tarn__ice_table_uuid(char out[37], const char *name);

#define ICE_METADATA_NAME "metadata/v1.metadata.json"

/* ---- metadata in the object store (cache.c) ----------------------------- */

/* The object key prefix ("iceberg/<version>/<set>/") of the metadata of
 * version VERSION of table NAME whose files are read under LOCATION (a
 * URI prefix ending in '/' that maps to the store's root). */
void tarn__ice_set_prefix(strbuf *out, const char *version, const char *name, const char *location);
/* The metadata of table NAME at version V read through commit time TIME_US,
 * from the store when written before, else written now; *metadata_location
 * (malloc'd) is where readers find it. */
int tarn__ice_cached(json_t **metadata, char **metadata_location, tarn_lake *lake, const char *name,
                     const char *version_id, int64_t time_us, const char *location,
                     tarn_error *err);
/* 0 when LAKE is the lakehouse of this host (its catalog and store at
 * hand); else TARN_EINVALID saying that WHAT (\"tarn table export-iceberg\")
 * runs on the lakehouse's host, and that a server's tables are read as
 * Iceberg through its REST catalog. */
int tarn__ice_need_local(tarn_lake *lake, const char *what, tarn_error *err);
/* Is KEY (an object key) Iceberg metadata: "iceberg/<version>/..."? Fills
 * VERSION (65 bytes). */
int tarn__ice_key_version(char version[65], const char *key);

/* ---- data files that live outside the store (external.c) ----------------- */

/* Is KEY an absolute location (file://...) rather than a store key? (In
 * metadata.c.) */
int tarn__ice_key_external(const char *key);
/* The local path of an external data file's KEY (a file:// URI or a path). */
int tarn__ice_local_path(char *out, size_t size, const char *key, tarn_error *err);

/* tarn_iceberg_register, reading the metadata and every data file only
 * under ROOT (a folder; NULL: anywhere): a location elsewhere, or a link
 * out of it, is TARN_EDENIED naming it, before anything is committed. */
int tarn__ice_register_within(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *metadata_location, const char *branch, const char *root,
                              tarn_error *err);

#endif
