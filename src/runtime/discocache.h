/* runtime/discocache.h — what a project's Python files declare, kept
 * between runs (see discocache.c). */
#ifndef TARN_RUNTIME_DISCOCACHE_H
#define TARN_RUNTIME_DISCOCACHE_H

#include <jansson.h>

#include "tarn/common.h"
#include "tarn/lake.h"

/* The key of a discovery of project folder DIR into KEY: every file below
 * DIR (names and contents; folders and files whose name starts with a dot
 * are left out), tarn's own Python package and interpreter, and SETTINGS
 * (what else the discovery is given, with DIR written as "<project>").
 * Returns 0, or -1 when the folder is too large to key (over 2,000 files
 * or 8 MiB): then nothing is kept. */
int tarn__discocache_key(char key[65], const char *dir, const char *python,
                         const char *const *settings, size_t nsettings);

/* 1 when discoveries are kept (run.discover_cache in .tarn/config: on,
 * the default, or off), 0 when not, or TARN_EINVALID for another value. */
int tarn__discocache_enabled(tarn_lake *lake, tarn_error *err);
/* The discovery kept under KEY, its models' files re-rooted in DIR, or
 * NULL: none, unreadable, or naming an environment folder that is gone
 * (env gc). */
json_t *tarn__discocache_get(tarn_lake *lake, const char *key, const char *dir);
/* Keeps DOC (a successful discovery of DIR) under KEY; failures to write
 * are ignored (the next run discovers again). */
void tarn__discocache_put(tarn_lake *lake, const char *key, const char *dir, const json_t *doc);

#endif
