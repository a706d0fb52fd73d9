/* iceberg.c — `tarn table export-iceberg` (a table at a ref as an Iceberg
 * table in a folder or an S3 prefix) and `tarn table create-external` (an
 * Iceberg table from elsewhere added to a branch). Mounted in table.c. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_run_export_iceberg(const cli_args *a)
{
    const char *to = cli_get(a, "to");
    if (!to) return cli_usage_error(a->cmd, "missing --to DIR|s3://bucket/prefix");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_iceberg_export_options opts = TARN_ICEBERG_EXPORT_OPTIONS_INIT;
    opts.ref = cli_get(a, "ref");
    opts.copy = cli_has(a, "copy");
    tarn_iceberg_export_result r;
    int rc = tarn_iceberg_export(&r, lake, a->pos[0], to, &opts, &err);
    if (rc == 0 && out_json_mode) {
        json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:b}", "table", out_jstr(a->pos[0]),
                              "metadata_location", r.metadata_location, "files",
                              (json_int_t)r.files, "rows", (json_int_t)r.rows, "copied", opts.copy);
        json_object_set_new(o, "columns_not_exported",
                            r.skipped ? json_string(r.skipped) : json_null());
        out_json(o);
    } else if (rc == 0) {
        printf("Exported %s as Iceberg (%lld files, %lld rows%s)\n", a->pos[0], (long long)r.files,
               (long long)r.rows, opts.copy ? ", copied" : "");
        printf("metadata location: %s\n", r.metadata_location);
        if (r.skipped)
            fprintf(stderr, "warning: Iceberg has no type for these columns, left out: %s\n",
                    r.skipped);
    }
    tarn_iceberg_export_result_clear(&r);
    return cli_done(&lake, rc, &err);
}

int cli_run_create_external(const cli_args *a)
{
    const char *metadata = cli_get(a, "metadata");
    if (!metadata) return cli_usage_error(a->cmd, "missing --metadata LOCATION");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_iceberg_register(&id, lake, a->pos[0], metadata, cli_get(a, "branch"), &err);
    if (rc == 0 && out_json_mode) {
        out_json(json_pack("{s:o, s:o, s:s}", "table", out_jstr(a->pos[0]), "metadata_location",
                           out_jstr(metadata), "commit", id.hex));
    } else if (rc == 0) {
        char sh[13];
        printf("Added external table %s from %s (commit %s)\n", a->pos[0], metadata,
               out_short(sh, id.hex));
    }
    return cli_done(&lake, rc, &err);
}

const cli_cmd cli_export_iceberg_cmd = {
    .path = "table export-iceberg",
    .synopsis = "NAME [--ref REF] --to DIR|s3://bucket/prefix [--copy]",
    .summary = "Write table NAME, as it is at REF, as an Apache Iceberg table (format v2): "
               "metadata.json, a manifest list and manifests under TO/metadata/, pointing at the "
               "table's Parquet files where they are, or at copies in TO/data/ with --copy. "
               "Engines that take a metadata location (Spark, Trino, DuckDB, pyiceberg) read it. "
               "Columns of a type Iceberg lacks (unsigned 32/64-bit, TIMESTAMP_NS, INTERVAL...) "
               "are left out and named.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"ref", 0, "REF", "the branch, tag or commit to export (default: the active branch)"},
             {"to", 0, "DIR", "a folder (created if missing) or s3://bucket/prefix (required)"},
             {"copy", 0, NULL, "copy the data files too, so that TO holds the whole table"}},
    .example = "tarn table export-iceberg trips --ref v1 --to /srv/iceberg/trips --copy",
};

const cli_cmd cli_create_external_cmd = {
    .path = "table create-external",
    .synopsis = "NAME --metadata LOCATION [--branch B]",
    .summary = "Add table NAME to branch B in a new commit from Iceberg metadata that lives "
               "elsewhere (a metadata.json path or file:// URI): the Parquet files of its "
               "current snapshot become the table's, read where they are, not copied.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"metadata", 0, "LOCATION", "the table's metadata.json (required)"},
             {"branch", 0, "B", "the branch to commit on (default: the active branch)"}},
    .example =
        "tarn table create-external events --metadata /data/events/metadata/v3.metadata.json",
};
