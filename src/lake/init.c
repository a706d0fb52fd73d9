/* lake/init.c — creating a lakehouse folder whose catalog or data live
 * elsewhere: a new shared catalog (`tarn init --catalog URL`), joining an
 * existing one from another host (`--attach`), a shared storage folder.
 * The embedded default is tarn_lake_init (lake/lake.c).
 *
 * The config file is written last: it is what makes the folder a
 * lakehouse (lake discovery looks for it), so a failed init leaves none. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "lake/lake.h"
#include "store/store.h"
#include "util/error.h"
#include "util/util.h"

/* The config of a new lakehouse: the defaults, then where things are
 * (WHERE: the catalog and storage lines). */
static int write_config(const char *tarn_dir, const char *catalog, const char *where, tarn_error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config", tarn_dir);
    strbuf text = {0};
    char *old = NULL;
    if (tarn__read_file(&old, NULL, path) == 0)
        sb_append(&text, old);
    else
        sb_append(&text, tarn__lake_default_config());
    free(old);
    if (text.len && text.s[text.len - 1] != '\n') sb_append(&text, "\n");
    sb_append(&text, where);
    int rc = 0;
    if (tarn__write_file_atomic(path, text.s, text.len) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    /* A URL may carry a password: only its owner reads the file then. */
    else if (catalog && strchr(catalog, '@'))
        chmod(path, 0600);
    sb_free(&text);
    return rc;
}

static int check_options(const char *catalog, const char *storage, int attach, tarn_error *err)
{
    char shown[512];
    if (catalog && !tarn__catalog_is_url(catalog)) {
        tarn__catalog_redact(shown, sizeof shown, catalog);
        return tarn__error_set(
            err, TARN_EINVALID,
            "unknown catalog '%s': give a postgresql://USER@HOST/DB URL (nothing, for the "
            "embedded catalog)",
            shown);
    }
    if (attach && !catalog)
        return tarn__error_set(
            err, TARN_EINVALID,
            "attaching joins a shared catalog: name it with --catalog postgresql://... (or "
            "TARN_CATALOG)");
    (void)storage;
    return 0;
}

/* The shared catalog's side: create it with `main`, or check there is a
 * lakehouse to attach to. */
static int open_shared(tarn_lake *lake, const char *catalog, int attach, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn__catalog_open(&lake->catalog, catalog, !attach, err));
    if (!attach) return tarn__lake_create_main(lake, err);
    tarn_ref_row main;
    int rc = tarn__ref_get(&main, lake, "main", err);
    if (rc == TARN_ENOTFOUND) {
        char shown[512];
        tarn__catalog_redact(shown, sizeof shown, catalog);
        return tarn__error_set(
            err, TARN_ENOTFOUND,
            "the catalog at %s holds no lakehouse (no branch 'main'): create one with 'tarn init "
            "--catalog URL'",
            shown);
    }
    return rc;
}

int tarn_lake_init_opts(const char *dir, const tarn_init_options *opts, tarn_error *err)
{
    tarn_init_options defaults = TARN_INIT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    const char *catalog = opts->catalog && *opts->catalog ? opts->catalog : getenv("TARN_CATALOG");
    if (catalog && !*catalog) catalog = NULL;
    TARN_RETURN_NOT_OK(check_options(catalog, opts->storage, opts->attach, err));
    /* Where things are, as the config will say: the storage is checked (and
     * a shared folder made) before anything else is created. */
    strbuf where = {0};
    if (catalog) sb_printf(&where, "catalog = %s\n", catalog);
    int rc = tarn__store_init_config(&where, opts, err);
    int local_objects = rc == 0 && !strstr(sb_str(&where), "storage = ");
    if (rc == 0 && !catalog) {
        /* The embedded catalog; its data in .tarn/objects, a folder or a bucket. */
        strbuf text = {0};
        sb_append(&text, tarn__lake_default_config());
        sb_append(&text, sb_str(&where));
        rc = tarn__lake_init_embedded(dir, sb_str(&text), err);
        sb_free(&text);
        sb_free(&where);
        return rc;
    }
    char tarn_dir[PATH_MAX + 16] = "", path[PATH_MAX + 64];
    if (rc == 0) rc = tarn__lake_init_dir(tarn_dir, sizeof tarn_dir, dir, local_objects, err);
    tarn_lake lake = {0};
    lake.path = tarn_dir;
    if (rc == 0) rc = open_shared(&lake, catalog, opts->attach, err);
    if (lake.catalog) lake.catalog->vt->close(lake.catalog);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/HEAD", tarn_dir);
        if (tarn__write_file_atomic(path, "main\n", 5) != 0)
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    if (rc == 0) rc = write_config(tarn_dir, catalog, sb_str(&where), err);
    sb_free(&where);
    return rc;
}

void tarn_lake_where(char *catalog, size_t catalog_size, char *storage, size_t storage_size,
                     const tarn_lake *lake)
{
    char *location = NULL;
    if (tarn__catalog_locate(&location, lake->path, tarn_lake_config(lake, "catalog"), NULL) == 0)
        tarn__catalog_redact(catalog, catalog_size, location);
    else
        snprintf(catalog, catalog_size, "%s", "");
    free(location);
    const char *s = tarn__store_location(lake);
    if (s)
        snprintf(storage, storage_size, "%s", !strncmp(s, "file://", 7) ? s + 7 : s);
    else
        snprintf(storage, storage_size, "%s/objects", lake->path);
}
