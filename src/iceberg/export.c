/* iceberg/export.c — `tarn table export-iceberg`: a table at a ref written
 * as a self-contained Iceberg table into a folder or an S3 prefix, for
 * engines pointed at a metadata location; no server needed.
 *
 * TO/metadata/ gets v1.metadata.json, version-hint.text, the manifest list
 * and the manifests; the data files stay where they are (their file:// or
 * s3:// location in the lakehouse's store) or, with --copy, are copied to
 * TO/data/. What was written is removed again if anything fails. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/names.h"
#include "iceberg/iceberg.h"
#include "store/store.h"
#include "tarn/iceberg.h"
#include "util/error.h"

/* Where the files go: a folder (DIR) or an S3 prefix (STORE). */
typedef struct target {
    tarn_lake *lake;
    char dir[PATH_MAX];
    tarn_store *store;
    strbuf location; /* file:///abs/dir/ or s3://bucket/prefix/ */
    int copy;
    char **put; /* names written, removed again on failure */
    size_t nput, cap;
} target;

static int target_temp(void *ctx, const char *name, char *out, size_t size, tarn_error *err)
{
    target *t = ctx;
    char rnd[33];
    tarn__random_hex(rnd);
    if (t->store) {
        /* The S3 store's temporaries are named by the key's last part. */
        char key[600];
        snprintf(key, sizeof key, "tmp/%s-%s", rnd,
                 strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
        return t->store->vt->write_path(t->store, key, out, size, err);
    }
    snprintf(out, size, "%s/%s.tmp-%s", t->dir, name, rnd);
    char *slash = strrchr(out, '/');
    *slash = 0;
    int rc = tarn__mkdirs(out, 0755);
    *slash = '/';
    return rc == 0 ? 0
                   : tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", out, strerror(errno));
}

static int target_put(void *ctx, const char *name, const char *local, tarn_error *err)
{
    target *t = ctx;
    int rc = tarn__reserve(&t->put, &t->cap, t->nput + 1, sizeof *t->put);
    if (rc < 0) return tarn__error_set(err, rc, "out of memory");
    if (t->store) {
        rc = t->store->vt->publish(t->store, name, local, err);
        unlink(local);
    } else {
        char dest[PATH_MAX * 2];
        snprintf(dest, sizeof dest, "%s/%s", t->dir, name);
        if (rename(local, dest) != 0) {
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", dest, strerror(errno));
            unlink(local);
        }
    }
    if (rc == 0) t->put[t->nput++] = strdup(name);
    return rc;
}

static const char *base_name(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? slash + 1 : key;
}

static void target_data_location(void *ctx, const char *key, strbuf *out)
{
    target *t = ctx;
    if (t->copy)
        sb_printf(out, "%sdata/%s", t->location.s, base_name(key));
    else if (tarn__ice_key_external(key))
        sb_append(out, key); /* an external table's own */
    else
        tarn__store_uri(out, t->lake, key);
}

static void target_undo(target *t)
{
    for (size_t i = 0; i < t->nput; i++) {
        if (t->store) {
            t->store->vt->remove(t->store, t->put[i], NULL);
        } else {
            char path[PATH_MAX * 2];
            snprintf(path, sizeof path, "%s/%s", t->dir, t->put[i]);
            unlink(path);
        }
    }
}

static void target_close(target *t)
{
    for (size_t i = 0; i < t->nput; i++)
        free(t->put[i]);
    free(t->put);
    if (t->store) t->store->vt->close(t->store);
    sb_free(&t->location);
}

/* Opens TO and checks that it holds no Iceberg table yet. */
static int target_open(target *t, tarn_lake *lake, const char *to, tarn_error *err)
{
    t->lake = lake;
    if (!strncmp(to, "s3://", 5)) {
        TARN_RETURN_NOT_OK(tarn__store_s3_open(&t->store, lake, to, err));
        size_t len = strlen(to);
        while (len > 5 && to[len - 1] == '/')
            len--;
        sb_printf(&t->location, "%.*s/", (int)len, to);
        int64_t size;
        int rc = t->store->vt->stat(t->store, ICE_METADATA_NAME, &size, err);
        if (rc == 0)
            return tarn__error_set(err, TARN_EEXISTS,
                                   "%s already holds an Iceberg table (%s): choose another prefix",
                                   to, ICE_METADATA_NAME);
        return rc == TARN_ENOTFOUND ? 0 : rc;
    }
    if (!*to)
        return tarn__error_set(err, TARN_EINVALID, "--to needs a folder or s3://bucket/prefix");
    char meta[PATH_MAX + 16];
    snprintf(meta, sizeof meta, "%s/metadata", to);
    if (tarn__mkdirs(meta, 0755) != 0)
        return tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", meta, strerror(errno));
    if (!realpath(to, t->dir))
        return tarn__error_set(err, TARN_EIO, "cannot find '%s': %s", to, strerror(errno));
    sb_printf(&t->location, "file://%s/", t->dir);
    char existing[PATH_MAX + 40];
    snprintf(existing, sizeof existing, "%s/%s", t->dir, ICE_METADATA_NAME);
    struct stat st;
    if (stat(existing, &st) == 0)
        return tarn__error_set(err, TARN_EEXISTS,
                               "'%s' already holds an Iceberg table (%s): choose an empty folder",
                               to, ICE_METADATA_NAME);
    return 0;
}

/* Copies the version's data files into TO/data/ (what the store keeps
 * elsewhere is fetched first). */
static int copy_data(target *t, const tarn_version *v, tarn_error *err)
{
    int rc = tarn__store_prefetch(t->lake, (const char *const *)v->files, v->nfiles, err);
    for (size_t i = 0; rc == 0 && i < v->nfiles; i++) {
        char src[8192], tmp[PATH_MAX * 2], name[600];
        snprintf(name, sizeof name, "data/%s", base_name(v->files[i]));
        rc = tarn__store_read_path(t->lake, v->files[i], src, sizeof src, err);
        if (rc == 0) rc = target_temp(t, name, tmp, sizeof tmp, err);
        if (rc < 0) break;
        FILE *in = fopen(src, "rb"), *out = fopen(tmp, "wb");
        char buf[1 << 16];
        size_t n;
        while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, n, out) != n) break;
        int bad = !in || !out || ferror(in) || ferror(out);
        if (in) fclose(in);
        if (out && fclose(out) != 0) bad = 1;
        if (bad) {
            unlink(tmp);
            rc = tarn__error_set(err, TARN_EIO, "cannot copy '%s' into '%s'", v->files[i], tmp);
        }
        if (rc == 0) rc = target_put(t, name, tmp, err);
    }
    return rc;
}

int tarn_iceberg_export(tarn_iceberg_export_result *out, tarn_lake *lake, const char *table,
                        const char *to, const tarn_iceberg_export_options *opts, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_iceberg_export_options defaults = TARN_ICEBERG_EXPORT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (opts->version != TARN_ICEBERG_EXPORT_OPTIONS_VERSION)
        return tarn__error_set(err, TARN_EINVALID,
                               "tarn_iceberg_export_options version %d is unknown to this library: "
                               "rebuild against its headers",
                               opts->version);
    TARN_RETURN_NOT_OK(tarn__ice_need_local(lake, "tarn table export-iceberg", err));
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (!to)
        return tarn__error_set(err, TARN_EINVALID, "--to needs a folder or s3://bucket/prefix");
    char qualified[300];
    tarn__qualify_table(qualified, sizeof qualified, table);
    tarn_tree tree = {0};
    tarn_commit_id commit;
    tarn_commit_row row = {0};
    tarn_version v = {0};
    target t = {0};
    int loaded = 0;
    int rc = tarn__ref_tree(&tree, &commit, lake, opts->ref, err);
    tarn_tree_entry *e = NULL;
    if (rc == 0) rc = tarn__name_lookup(&e, &tree, qualified, 1, err);
    if (rc == 0 && (!e || e->kind != TARN_ENTRY_TABLE))
        rc = tarn__error_set(err, TARN_ENOTFOUND,
                             "table '%s' does not exist at '%s' (see tarn table ls)", qualified,
                             tarn__ref_display(lake, opts->ref));
    if (rc == 0) rc = tarn__commit_load(&row, lake, commit.hex, err);
    if (rc == 0 && (rc = tarn__version_load(&v, lake, e->version, err)) == 0) loaded = 1;
    t.copy = opts->copy;
    if (rc == 0) rc = target_open(&t, lake, to, err);
    if (rc == 0 && opts->copy) rc = copy_data(&t, &v, err);
    if (rc == 0) {
        ice_sink sink = {t.location.s, target_temp, target_put, target_data_location, &t};
        ice_table it = {e->name, &v, row.time_us};
        rc = tarn__ice_metadata_write(NULL, &out->skipped, lake, &it, &sink, err);
    }
    if (rc == 0) {
        strbuf loc = {0};
        sb_printf(&loc, "%s%s", t.location.s, ICE_METADATA_NAME);
        out->metadata_location = loc.s;
        out->files = (int64_t)v.nfiles;
        out->rows = v.row_count;
    } else {
        target_undo(&t);
    }
    target_close(&t);
    if (loaded) tarn__version_clear(&v);
    tarn__commit_row_clear(&row);
    tarn__tree_clear(&tree);
    return rc;
}

void tarn_iceberg_export_result_clear(tarn_iceberg_export_result *r)
{
    if (!r) return;
    free(r->metadata_location);
    free(r->skipped);
    memset(r, 0, sizeof *r);
}
