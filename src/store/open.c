/* store/open.c — which object store a lakehouse uses: TARN_STORAGE, else
 * the `storage` key of its config, else its own `.tarn/objects/`.
 *
 * A storage location is a folder (an absolute path, or file:///path): a
 * folder shared by several hosts (a network mount) holds one lakehouse's
 * data for all of them, beside a shared catalog. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"
#include "util/error.h"

const char *tarn__store_location(const tarn_lake *lake)
{
    const char *env = getenv("TARN_STORAGE");
    if (env && *env) return env;
    const char *conf = tarn_lake_config(lake, "storage");
    return conf && *conf ? conf : NULL;
}

int tarn__store_check(const char *location, tarn_error *err)
{
    const char *path = !strncmp(location, "file://", 7) ? location + 7 : location;
    if (path[0] == '/') return 0;
    return tarn__error_set(
        err, TARN_EINVALID,
        "unknown storage location '%.200s': use an absolute folder path or file:///path", location);
}

int tarn__store_open(tarn_store **out, tarn_lake *lake, tarn_error *err)
{
    *out = NULL;
    const char *location = tarn__store_location(lake);
    char dir[PATH_MAX + 16];
    if (!location) {
        snprintf(dir, sizeof dir, "%s/objects", lake->path);
        return tarn__store_fs_open(out, dir, err);
    }
    TARN_RETURN_NOT_OK(tarn__store_check(location, err));
    return tarn__store_fs_open(out, !strncmp(location, "file://", 7) ? location + 7 : location,
                               err);
}
