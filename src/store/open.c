/* store/open.c — which object store a lakehouse uses, from the `storage`
 * line of its `.tarn/config`: none means the local folder `.tarn/objects/`;
 * `s3://bucket/prefix` an S3-compatible bucket. A small dispatcher: each
 * kind of store opens itself. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/error.h"

int tarn__store_open(tarn_store **out, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    const char *storage = tarn_lake_config(lake, "storage");
    if (!storage || !*storage) {
        char objects[PATH_MAX + 16];
        snprintf(objects, sizeof objects, "%s/objects", tarn_lake_path(lake));
        return tarn__store_fs_open(out, objects, err);
    }
    if (!strncmp(storage, "s3://", 5)) return tarn__store_s3_open(out, lake, storage, err);
    return tarn__error_set(err, TARN_EINVALID,
                           "storage = '%s' in .tarn/config is not a known kind of storage (use "
                           "s3://bucket/prefix, or remove the line for the local folder)",
                           storage);
}

int tarn__store_init_config(strbuf *config, const tarn_init_options *opts, tarn_error *err)
{
    tarn_init_options defaults = TARN_INIT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    const char *storage = opts->storage;
    if (!storage) storage = getenv("TARN_STORAGE");
    if (!storage || !*storage) {
        if (opts->endpoint || opts->region)
            return tarn__error_set(err, TARN_EINVALID,
                                   "--endpoint and --region need --storage s3://bucket/prefix");
        return 0;
    }
    if (strncmp(storage, "s3://", 5) != 0)
        return tarn__error_set(
            err, TARN_EINVALID,
            "storage '%s' is not supported: use s3://bucket/prefix (or nothing for the "
            "local folder .tarn/objects/)",
            storage);
    /* The new lakehouse's S3 settings, as its config will hold them. */
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
    for (size_t i = 0; i < n; i++)
        sb_printf(config, "%s = %s\n", entries[i].key, entries[i].value);
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
