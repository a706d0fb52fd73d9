/* store/prefetch.c — making data files readable before DuckDB opens them.
 * A store that is not local (S3) fetches the files a query or scan kept,
 * in parallel, checking each against the size the catalog recorded when it
 * was written; the local folder has nothing to do. */
#include <stdlib.h>

#include "catalog/catalog.h"
#include "iceberg/iceberg.h"
#include "store/store.h"
#include "util/error.h"

int tarn__store_prefetch(tarn_lake *lake, const char *const *keys, size_t n, tarn_error *err)
{
    tarn_store *s = lake->store;
    if (n == 0 || s->vt->version < 3 || !s->vt->prefetch) return 0;
    tarn_data_file *files = calloc(n, sizeof *files);
    tarn_store_object *objs = calloc(n, sizeof *objs);
    int rc = files && objs ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
    if (rc == 0) rc = TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), keys, n, files, err);
    size_t nobjs = 0;
    /* An external table's files are read where they are (iceberg/external.c). */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!tarn__ice_key_external(keys[i])) objs[nobjs++] = (tarn_store_object){keys[i], files[i].size_bytes};
    if (rc == 0 && nobjs) rc = s->vt->prefetch(s, objs, nobjs, err);
    for (size_t i = 0; files && i < n; i++)
        tarn__data_file_clear(&files[i]);
    free(files);
    free(objs);
    return rc;
}

int tarn__store_read_path(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err)
{
    if (tarn__ice_key_external(key)) return tarn__ice_local_path(out, size, key, err);
    return lake->store->vt->read_url(lake->store, key, out, size, err);
}

int tarn__store_path_of(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err)
{
    if (tarn__ice_key_external(key)) return tarn__ice_local_path(out, size, key, err);
    return lake->store->vt->local_path(lake->store, key, out, size, err);
}
