/* store/cache.h — the local cache of immutable data files fetched from
 * object storage (library-internal; see cache.c). */
#ifndef TARN_STORE_CACHE_H
#define TARN_STORE_CACHE_H

#include <stdint.h>

#include "tarn/common.h"
#include "tarn/lake.h"

typedef struct tarn_cache tarn_cache;

/* The local cache folder of LAKE into DIR: cache.dir, else
 * $XDG_CACHE_HOME/tarn, else ~/.cache/tarn, else the lakehouse's own
 * .tarn/cache. */
void tarn__cache_folder(char *dir, size_t size, const tarn_lake *lake);

/* The cache in DIR, holding at most MAX_BYTES (evicting the least recently
 * used entries beyond). Nothing is created until something is stored. */
int tarn__cache_open(tarn_cache **out, const char *dir, int64_t max_bytes, tarn_error *err);
/* Releases what this handle holds (its read locks) and frees it. */
void tarn__cache_close(tarn_cache **c);
const char *tarn__cache_dir(const tarn_cache *c);

/* The entry NAME (a hex digest, optionally with an extension) into PATH if
 * it is there and SIZE bytes long (SIZE -1: any size). The entry is then
 * held — never evicted — until the cache handle is closed, and counts as
 * just used. Returns 1 (hit), 0 (miss: absent, or of the wrong size, which
 * removes it) or a negative code. */
/* Where entry NAME lives when it is in the cache. */
void tarn__cache_path(const tarn_cache *c, const char *name, char *path, size_t psize);
int tarn__cache_get(tarn_cache *c, const char *name, int64_t size, char *path, size_t psize,
                    tarn_error *err);

/* A new temporary file to fill for NAME: *fd (read-write) and its path. */
int tarn__cache_tmp(tarn_cache *c, const char *name, int *fd, char *tmp, size_t tsize,
                    tarn_error *err);

/* Makes the filled temporary TMP the entry NAME (never replacing one that
 * another process stored meanwhile: the same bytes), then gets it as
 * tarn__cache_get does. TMP is gone afterwards, whatever happens. */
int tarn__cache_put(tarn_cache *c, const char *name, const char *tmp, int64_t size, char *path,
                    size_t psize, tarn_error *err);

/* Evicts least recently used entries nobody holds until the cache is
 * within its bound, and removes temporaries abandoned over an hour ago.
 * *EVICTED (NULL allowed) gets the number of entries removed. */
int tarn__cache_trim(tarn_cache *c, int64_t *evicted, tarn_error *err);

#endif
