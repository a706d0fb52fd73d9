/* tarn/iceberg.h — every table at every ref readable as an Apache Iceberg
 * table (format v2), and Iceberg tables from elsewhere added to a branch.
 *
 * - tarn_iceberg_export writes a self-contained Iceberg table (metadata,
 *   manifests, and references to or copies of the data files) into a
 *   folder or an S3 prefix, for engines that take a metadata location.
 * - tarn_iceberg_rest_handle answers the Iceberg REST catalog's read routes
 *   (and register) for a server that mounts it under /iceberg/; each ref is
 *   a catalog: /iceberg/REF/v1/... or the prefix /v1/config?warehouse=REF
 *   returns. Metadata is written lazily into the object store, once per
 *   table version, and found there afterwards.
 * - tarn_iceberg_register adds a table whose Iceberg metadata lives
 *   elsewhere to a branch; tarn then queries its Parquet files in place.
 * See docs/iceberg.md. */
#ifndef TARN_ICEBERG_H
#define TARN_ICEBERG_H

#include "common.h"
#include "lake.h"

typedef struct tarn_iceberg_export_options {
    int version;
    const char *ref; /* NULL: the active branch */
    int copy;        /* copy the data files beside the metadata (else point at them) */
} tarn_iceberg_export_options;

#define TARN_ICEBERG_EXPORT_OPTIONS_VERSION 1
#define TARN_ICEBERG_EXPORT_OPTIONS_INIT                                                           \
    {                                                                                              \
        TARN_ICEBERG_EXPORT_OPTIONS_VERSION, NULL, 0                                               \
    }

typedef struct tarn_iceberg_export_result {
    char *metadata_location; /* where an engine finds the table (file://... or s3://...) */
    int64_t files, rows;
    char *skipped; /* columns Iceberg cannot hold, "name (TYPE), ..."; NULL when none */
} tarn_iceberg_export_result;

/* Writes TABLE as it is at OPTS->ref as an Iceberg table into TO (a folder,
 * created if missing, or s3://bucket/prefix). TO must not hold an Iceberg
 * table already (TARN_EEXISTS). Free the result's strings with
 * tarn_iceberg_export_result_clear. */
TARN_EXTERN int tarn_iceberg_export(tarn_iceberg_export_result *out, tarn_lake *lake,
                                    const char *table, const char *to,
                                    const tarn_iceberg_export_options *opts, tarn_error *err);
TARN_EXTERN void tarn_iceberg_export_result_clear(tarn_iceberg_export_result *r);

/* Adds TABLE (it must not exist) to BRANCH (NULL: active) in a new commit:
 * an external table whose Parquet files are those of the current snapshot
 * of the Iceberg metadata at METADATA_LOCATION (a path or file:// URI).
 * The files are not copied; tarn reads them where they are. Refused, with
 * the reason, for what tarn cannot read exactly: delete files, data files
 * that are not Parquet, files missing a column of the current schema. */
TARN_EXTERN int tarn_iceberg_register(tarn_commit_id *out, tarn_lake *lake, const char *table,
                                      const char *metadata_location, const char *branch,
                                      tarn_error *err);

/* ---- the REST catalog ------------------------------------------------------ */

typedef struct tarn_iceberg_request {
    int version;
    const char *method; /* GET, HEAD, POST, ... */
    /* The path below the mount point: "/v1/config", "/main/v1/namespaces",
     * "/v1/main/namespaces/default/tables/t", "/files/data/...". */
    const char *path;
    /* A query argument by name (NULL when absent). */
    const char *(*arg)(void *ctx, const char *name);
    const char *body; /* the request body (JSON), NULL when none */
    size_t body_len;
    /* Where the mount point is reached from outside, without a trailing
     * '/' ("http://127.0.0.1:8181/iceberg"): file locations are built on it. */
    const char *base_url;
    /* The caller's rights: may it read REF (a ref expression), write
     * BRANCH? 1 or 0. */
    int (*may_read)(void *ctx, const char *ref);
    int (*may_write)(void *ctx, const char *branch);
    void *ctx;
    /* Version 2. The folder a register may read Iceberg metadata and data
     * files under (NULL: register is refused). A server reads files on
     * its own host for a client: without this bound a client could
     * register, and then read, any table another lakehouse there exported. */
    const char *register_root;
} tarn_iceberg_request;

#define TARN_ICEBERG_REQUEST_VERSION 2

typedef struct tarn_iceberg_response {
    int status;
    char *body; /* JSON (free with tarn_iceberg_response_clear); NULL for HEAD */
    char *file; /* the files route: a local file to send instead of BODY */
    int64_t file_size;
    const char *content_type; /* static */
} tarn_iceberg_response;

/* Answers REQ on LAKE: always fills OUT (errors in the REST spec's shape,
 * {"error": {"message", "type", "code"}}) and returns 0, or a negative
 * code when OUT could not be made at all (out of memory). */
TARN_EXTERN int tarn_iceberg_rest_handle(tarn_iceberg_response *out, tarn_lake *lake,
                                         const tarn_iceberg_request *req);
TARN_EXTERN void tarn_iceberg_response_clear(tarn_iceberg_response *r);

#endif
