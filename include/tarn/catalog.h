/* tarn/catalog.h — where a lakehouse's catalog lives, and moving it: an
 * embedded (SQLite) catalog copied into a shared PostgreSQL one, history
 * and all, and two catalogs compared record by record. */
#ifndef TARN_CATALOG_PUBLIC_H
#define TARN_CATALOG_PUBLIC_H

#include "common.h"
#include "lake.h"

/* Copies LAKE's embedded catalog into the empty PostgreSQL schema TO
 * (every data file, table version, tree, commit, ref with its log, job,
 * taint and tombstone; no lease: nothing may be in flight), in one
 * transaction, then points .tarn/config at it. The embedded catalog.db
 * stays as it was (tarn_catalog_verify compares the two). *report_json
 * (malloc'd, the caller frees) gets {"to": URL, "tables": {NAME: rows}}.
 * TARN_EINVALID when LAKE's catalog is not embedded or a run or upload is
 * in flight; TARN_EEXISTS when TO already holds a lakehouse. */
TARN_EXTERN int tarn_catalog_migrate(char **report_json, tarn_lake *lake, const char *to, tarn_error *err);

/* Compares LAKE's catalog with the one at AGAINST (NULL: the embedded
 * catalog.db the lakehouse was migrated from), every record of every
 * table. *report_json gets {"same": bool, "tables": {NAME: {"rows": [a, b],
 * "differ": n}}, "differences": ["...", ...]} (at most a few listed).
 * Returns 0 whether or not they differ; <0 when either cannot be read. */
TARN_EXTERN int tarn_catalog_verify(char **report_json, tarn_lake *lake, const char *against, tarn_error *err);

#endif
