/* store/prefetch.c — making data files readable before DuckDB opens them.
 * A store that is not local (S3) fetches the files a query or scan kept,
 * in parallel, checking each against the size the catalog recorded when it
 * was written; the local folder has nothing to do.
 *
 * A query may also start fetching early (tarn__store_prefetch_early), on a
 * thread of its own, while DuckDB opens and parses: the download is most
 * of a cold query's time, and the rest then overlaps it. Every store call
 * below waits for that thread first, so the store is never used by two
 * threads at once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "iceberg/iceberg.h"
#include "store/store.h"
#include "util/error.h"

struct tarn_early_fetch {
    pthread_t thread;
    tarn_store *store;
    tarn_store_object *objs;
    size_t n;
};

/* The objects of KEYS[0..N) the store holds (external tables' files are
 * read where they are, iceberg/external.c), with the sizes the catalog
 * recorded, into *OBJS (keys borrowed from FILES, which the caller clears). */
static int objects_of(tarn_store_object **objs, size_t *nobjs, tarn_data_file **files,
                      tarn_lake *lake, const char *const *keys, size_t n, tarn_error *err)
{
    *nobjs = 0;
    *files = calloc(n, sizeof **files);
    *objs = calloc(n, sizeof **objs);
    if (!*files || !*objs) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->file_get(TARN_CAT(lake), keys, n, *files, err));
    for (size_t i = 0; i < n; i++)
        if (!tarn__ice_key_external(keys[i]))
            (*objs)[(*nobjs)++] = (tarn_store_object){keys[i], (*files)[i].size_bytes};
    return 0;
}

static void files_free(tarn_data_file *files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        tarn__data_file_clear(&files[i]);
    free(files);
}

int tarn__store_fetches(tarn_lake *lake)
{
    tarn_store *s = lake->store;
    return s && s->vt->version >= 3 && s->vt->prefetch;
}

static void *early_main(void *arg)
{
    struct tarn_early_fetch *e = arg;
    /* A failure is not reported here: the query's own fetch of the files
     * it keeps retries, and reports what still fails. */
    tarn_error ignored = TARN_ERROR_INIT;
    e->store->vt->prefetch(e->store, e->objs, e->n, &ignored);
    tarn_error_clear(&ignored);
    return NULL;
}

void tarn__store_prefetch_wait(tarn_lake *lake)
{
    struct tarn_early_fetch *e = lake->early;
    if (!e) return;
    pthread_join(e->thread, NULL);
    for (size_t i = 0; i < e->n; i++)
        free((char *)e->objs[i].key);
    free(e->objs);
    free(e);
    lake->early = NULL;
}

void tarn__store_prefetch_early(tarn_lake *lake, const char *const *keys, size_t n)
{
    tarn__store_prefetch_wait(lake);
    if (n == 0 || !tarn__store_fetches(lake)) return;
    tarn_store_object *objs = NULL;
    tarn_data_file *files = NULL;
    size_t nobjs = 0;
    struct tarn_early_fetch *e = NULL;
    if (objects_of(&objs, &nobjs, &files, lake, keys, n, NULL) < 0 || nobjs == 0) goto done;
    if (!(e = calloc(1, sizeof *e))) goto done;
    e->store = lake->store;
    e->objs = objs;
    for (size_t i = 0; i < nobjs; i++) { /* the thread's own copies */
        objs[i].key = strdup(objs[i].key);
        if (objs[i].key) e->n++;
        else break;
    }
    if (e->n == nobjs && pthread_create(&e->thread, NULL, early_main, e) == 0) {
        lake->early = e;
        objs = NULL;
        e = NULL;
    }
done:
    if (e) {
        for (size_t i = 0; i < e->n; i++)
            free((char *)objs[i].key);
        free(e);
    }
    free(objs);
    files_free(files, n);
}

int tarn__store_prefetch(tarn_lake *lake, const char *const *keys, size_t n, tarn_error *err)
{
    tarn__store_prefetch_wait(lake);
    if (n == 0 || !tarn__store_fetches(lake)) return 0;
    tarn_store_object *objs = NULL;
    tarn_data_file *files = NULL;
    size_t nobjs = 0;
    int rc = objects_of(&objs, &nobjs, &files, lake, keys, n, err);
    if (rc == 0 && nobjs) rc = lake->store->vt->prefetch(lake->store, objs, nobjs, err);
    files_free(files, n);
    free(objs);
    return rc;
}

int tarn__store_read_path(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err)
{
    tarn__store_prefetch_wait(lake);
    if (tarn__ice_key_external(key)) return tarn__ice_local_path(out, size, key, err);
    return lake->store->vt->read_url(lake->store, key, out, size, err);
}

int tarn__store_path_of(tarn_lake *lake, const char *key, char *out, size_t size, tarn_error *err)
{
    tarn__store_prefetch_wait(lake);
    if (tarn__ice_key_external(key)) return tarn__ice_local_path(out, size, key, err);
    return lake->store->vt->local_path(lake->store, key, out, size, err);
}
