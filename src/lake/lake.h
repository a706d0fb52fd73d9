/* lake/lake.h — the inside of a tarn_lake handle (library-internal). */
#ifndef TARN_LAKE_INTERNAL_H
#define TARN_LAKE_INTERNAL_H

#include <sqlite3.h>

#include "tarn/lake.h"
#include "tarn/sys/store.h"

typedef struct tarn_config_entry {
    char *key;
    char *value;
} tarn_config_entry;

struct tarn_lake {
    char *path;   /* absolute path of the .tarn folder */
    sqlite3 *db;  /* the catalog */
    tarn_store *store;
    tarn_config_entry *config;
    size_t nconfig;
    char author[256];
    char display_ref[256]; /* scratch for tarn__ref_display */
};

/* The commit author for this process: config user.name, $USER, "tarn". */
const char *tarn__lake_author(tarn_lake *lake);

/* The local folder store rooted at DIR (library-internal constructor). */
int tarn__store_fs_open(tarn_store **out, const char *dir, tarn_error *err);

#endif
