/* iceberg/cache.c — the Iceberg metadata of table versions, kept in the
 * object store beside the data under `iceberg/<version>/<set>/`: written
 * the first time a version is asked for, found there ever after.
 *
 * A set is the metadata of one version of one table whose files readers
 * reach under one location (the server's file route, say); its key is a
 * hash of the table's name and that location, so the same version read
 * through another address gets a set of its own and no file is ever
 * rewritten. metadata/version-hint.text is written last: when it is there,
 * so is everything it stands for. gc keeps a set while every data file of
 * its version is live (docs/gc.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/iceberg.h"
#include "lake/ops.h"
#include "util/error.h"

void tarn__ice_set_prefix(strbuf *out, const char *version, const char *name, const char *location)
{
    strbuf b = {0};
    sb_printf(&b, "%s\n%s", name, location);
    char h[65];
    tarn__sha256_hex(h, b.s, b.len);
    sb_free(&b);
    sb_printf(out, "iceberg/%s/%.16s/", version, h);
}

int tarn__ice_need_local(tarn_lake *lake, const char *what, tarn_error *err)
{
    if (lake->ops == &tarn__local_ops) return 0;
    return tarn__error_set(err, TARN_EINVALID,
                           "%s works on the lakehouse's own host, not through a server: there, "
                           "read tables as Iceberg from the server's REST catalog "
                           "(SERVER/iceberg/REF/v1, see docs/iceberg.md), or run it where the "
                           "lakehouse is",
                           what);
}

int tarn__ice_key_version(char version[65], const char *key)
{
    if (strncmp(key, "iceberg/", 8) != 0) return 0;
    const char *v = key + 8, *slash = strchr(v, '/');
    if (!slash || slash - v != 64) return 0;
    for (const char *p = v; p < slash; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    snprintf(version, 65, "%.64s", v);
    return 1;
}

/* Files go to the store through temporaries claimed under this process's
 * lease (gc leaves them alone), published under the set's prefix. */
typedef struct store_sink {
    tarn_lake *lake;
    const char *prefix;
    const char *location;
    char **staged; /* claimed staging keys, released at the end */
    size_t nstaged, cap;
} store_sink;

static int store_temp(void *ctx, const char *name, char *out, size_t size, tarn_error *err)
{
    store_sink *s = ctx;
    (void)name;
    char rnd[33];
    tarn__random_hex(rnd);
    strbuf key = {0};
    sb_printf(&key, "%stmp-%s", s->prefix, rnd);
    int rc = tarn__reserve(&s->staged, &s->cap, s->nstaged + 1, sizeof *s->staged);
    if (rc < 0) {
        sb_free(&key);
        return tarn__error_set(err, rc, "out of memory");
    }
    rc = tarn__upload_begin(s->lake, key.s, err);
    if (rc < 0) {
        sb_free(&key);
        return rc;
    }
    s->staged[s->nstaged++] = key.s;
    return s->lake->store->vt->write_path(s->lake->store, key.s, out, size, err);
}

static int store_put(void *ctx, const char *name, const char *local, tarn_error *err)
{
    store_sink *s = ctx;
    strbuf key = {0};
    sb_printf(&key, "%s%s", s->prefix, name);
    int rc = s->lake->store->vt->publish(s->lake->store, key.s, local, err);
    sb_free(&key);
    return rc;
}

static void store_data_location(void *ctx, const char *key, strbuf *out)
{
    store_sink *s = ctx;
    /* An external table's files are read where they are. */
    if (tarn__ice_key_external(key))
        sb_append(out, key);
    else
        sb_printf(out, "%s%s", s->location, key);
}

/* Reads the metadata JSON of the set at PREFIX, if it is complete. */
static int read_set(json_t **out, tarn_lake *lake, const char *prefix, tarn_error *err)
{
    *out = NULL;
    tarn_store *st = lake->store;
    strbuf key = {0};
    sb_printf(&key, "%smetadata/version-hint.text", prefix);
    int64_t size = 0;
    int rc = st->vt->stat(st, key.s, &size, err);
    if (rc == TARN_ENOTFOUND) {
        sb_free(&key);
        return 0;
    }
    char path[8192];
    key.len = 0;
    sb_printf(&key, "%s%s", prefix, ICE_METADATA_NAME);
    if (rc == 0) rc = st->vt->read_url(st, key.s, path, sizeof path, err);
    char *text = NULL;
    size_t len = 0;
    if (rc == 0 && tarn__read_file(&text, &len, path) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot read Iceberg metadata '%s'", key.s);
    if (rc == 0 && !(*out = json_loadb(text, len, 0, NULL)))
        rc = tarn__error_set(err, TARN_EIO, "Iceberg metadata '%s' is not JSON", key.s);
    free(text);
    sb_free(&key);
    return rc;
}

int tarn__ice_cached(json_t **metadata, char **metadata_location, tarn_lake *lake, const char *name,
                     const char *version_id, int64_t time_us, const char *location, tarn_error *err)
{
    *metadata = NULL;
    *metadata_location = NULL;
    strbuf prefix = {0}, where = {0};
    tarn__ice_set_prefix(&prefix, version_id, name, location);
    sb_printf(&where, "%s%s%s", location, prefix.s, ICE_METADATA_NAME);
    int rc = read_set(metadata, lake, prefix.s, err);
    if (rc == 0 && !*metadata) {
        tarn_version v;
        rc = tarn__version_load(&v, lake, version_id, err);
        if (rc == 0) {
            strbuf loc = {0};
            sb_printf(&loc, "%s%s", location, prefix.s);
            store_sink s = {lake, prefix.s, location, NULL, 0, 0};
            ice_sink sink = {loc.s, store_temp, store_put, store_data_location, &s};
            ice_table t = {name, &v, time_us};
            rc = tarn__ice_metadata_write(metadata, NULL, lake, &t, &sink, err);
            for (size_t i = 0; i < s.nstaged; i++) {
                tarn__upload_abandon(lake, s.staged[i]); /* the claim goes; nothing is left there */
                free(s.staged[i]);
            }
            free(s.staged);
            sb_free(&loc);
            tarn__version_clear(&v);
        }
    }
    if (rc == 0)
        *metadata_location = where.s;
    else
        sb_free(&where);
    sb_free(&prefix);
    return rc;
}
