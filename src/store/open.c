/* store/open.c — which object store a lakehouse uses: TARN_STORAGE, else
 * the `storage` key of its config, else its own `.tarn/objects/`. A small
 * dispatcher: each kind of store opens itself.
 *
 * A location is an S3-compatible bucket (`s3://bucket/prefix`), or a folder
 * (an absolute path, or file:///path): a folder shared by several hosts (a
 * network mount) holds one lakehouse's data for all of them, beside a
 * shared catalog. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"
#include "store/store.h"
#include "util/error.h"

const char *tarn__store_location(const tarn_lake *lake)
{
    const char *env = getenv("TARN_STORAGE");
    if (env && *env) return env;
    const char *conf = tarn_lake_config(lake, "storage");
    return conf && *conf ? conf : NULL;
}

static const char *folder_of(const char *location)
{
    return !strncmp(location, "file://", 7) ? location + 7 : location;
}

int tarn__store_check(const char *location, tarn_error *err)
{
    if (!strncmp(location, "s3://", 5) || folder_of(location)[0] == '/') return 0;
    return tarn__error_set(err, TARN_EINVALID,
                           "unknown storage location '%.200s': use s3://bucket/prefix, an absolute folder "
                           "path or file:///path (nothing, for the lakehouse's own folder)",
                           location);
}

int tarn__store_open(tarn_store **out, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    const char *location = tarn__store_location(lake);
    if (!location) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/objects", lake->path);
        return tarn__store_fs_open(out, dir, err);
    }
    TARN_RETURN_NOT_OK(tarn__store_check(location, err));
    if (!strncmp(location, "s3://", 5)) return tarn__store_s3_open(out, lake, location, err);
    return tarn__store_fs_open(out, folder_of(location), err);
}

int tarn__store_init_config(strbuf *config, const tarn_init_options *opts, tarn_error *err)
{
    tarn_init_options defaults = TARN_INIT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    const char *storage = opts->storage && *opts->storage ? opts->storage : getenv("TARN_STORAGE");
    int s3 = storage && !strncmp(storage, "s3://", 5);
    if ((opts->endpoint || opts->region) && !s3)
        return tarn__error_set(err, TARN_EINVALID, "--endpoint and --region need --storage s3://bucket/prefix");
    if (!storage || !*storage) return 0;
    TARN_RETURN_NOT_OK(tarn__store_check(storage, err));
    if (!s3) {
        /* A shared folder: made now, so every host finds it. */
        if (tarn__mkdirs(folder_of(storage), 0755) != 0)
            return tarn__error_set(err, TARN_EIO, "cannot create the storage folder '%s': %s", folder_of(storage),
                                   strerror(errno));
        sb_printf(config, "storage = %s\n", storage);
        return 0;
    }
    /* The new lakehouse's S3 settings, as its config will hold them; the
     * bucket must answer and the prefix be empty. */
    tarn_config_entry entries[2];
    size_t n = 0;
    if (opts->endpoint) entries[n++] = (tarn_config_entry){"s3.endpoint", (char *)opts->endpoint};
    if (opts->region) entries[n++] = (tarn_config_entry){"s3.region", (char *)opts->region};
    tarn_lake probe = {0};
    probe.path = "";
    probe.config = entries;
    probe.nconfig = n;
    TARN_RETURN_NOT_OK(tarn__store_s3_check_new(&probe, storage, err));
    sb_printf(config, "storage = %s\n", storage);
    for (size_t i = 0; i < n; i++) sb_printf(config, "%s = %s\n", entries[i].key, entries[i].value);
    return 0;
}

void tarn__store_uri(strbuf *out, tarn_lake *lake, const char *key)
{
    const char *storage = tarn_lake_config(lake, "storage");
    if (!storage || !*storage) {
        sb_printf(out, "file://%s/objects/%s", tarn_lake_path(lake), key);
        return;
    }
    size_t len = strlen(storage);
    while (len && storage[len - 1] == '/') len--;
    sb_printf(out, "%.*s/%s", (int)len, storage, key);
}
