/* catalog/backend.c — where a lakehouse's catalog is and which backend
 * serves it, the transaction helpers every catalog operation uses, and
 * freeing rows.
 *
 * A location is a SQLite file path or a postgresql:// URL. It comes from
 * TARN_CATALOG, else the `catalog` key of `.tarn/config`, else the
 * embedded `.tarn/catalog.db`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/util.h"

int tarn__catalog_is_url(const char *location)
{
    return location && (!strncmp(location, "postgresql://", 13) || !strncmp(location, "postgres://", 11));
}

int tarn__catalog_open(tarn_catalog **out, const char *location, int create, tarn_error *err)
{
    *out = NULL;
    if (tarn__catalog_is_url(location)) return tarn__catalog_pg_open(out, location, create, err);
    if (strstr(location, "://"))
        return tarn__error_set(err, TARN_EINVALID,
                               "unknown catalog location '%.200s': use a postgresql:// URL (or nothing, for the "
                               "embedded catalog)",
                               location);
    return tarn__catalog_sqlite_open(out, location, create, err);
}

void tarn__catalog_redact(char *out, size_t size, const char *location)
{
    /* postgresql://user:PASSWORD@host/... and ...?password=PASSWORD */
    strbuf b = {0};
    const char *p = location, *scheme = strstr(location, "://");
    if (scheme) {
        const char *auth = scheme + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
        const char *colon = at && (!slash || at < slash) ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            sb_appendn(&b, location, (size_t)(colon - location));
            sb_append(&b, ":***");
            p = at;
        }
    }
    for (;;) {
        const char *q = strstr(p, "password=");
        while (q && q != location && q[-1] != '?' && q[-1] != '&' && q[-1] != ' ') q = strstr(q + 1, "password=");
        if (!q) {
            sb_append(&b, p);
            break;
        }
        sb_appendn(&b, p, (size_t)(q - p) + 9);
        sb_append(&b, "***");
        p = q + 9 + strcspn(q + 9, "& ");
    }
    snprintf(out, size, "%s", sb_str(&b));
    sb_free(&b);
}

/* The location named for a lakehouse without its own catalog.db. */
static const char *configured(const char *config_value)
{
    const char *env = getenv("TARN_CATALOG");
    if (env && *env) return env;
    return config_value && *config_value ? config_value : NULL;
}

int tarn__catalog_locate(char **out, const char *tarn_dir, const char *config_value, tarn_error *err)
{
    *out = NULL;
    const char *named = configured(config_value);
    if (named) {
        if (!(*out = strdup(named))) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
        return 0;
    }
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/catalog.db", tarn_dir);
    if (access(db, F_OK) != 0)
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "'%s' has no catalog (no catalog.db, and its config names none): run 'tarn init'",
                               tarn_dir);
    if (!(*out = strdup(db))) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    return 0;
}

int tarn__catalog_found(const char *tarn_dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/catalog.db", tarn_dir);
    if (access(path, F_OK) == 0) return 1;
    snprintf(path, sizeof path, "%s/config", tarn_dir);
    char *text = NULL;
    if (tarn__read_file(&text, NULL, path) != 0) return 0;
    if (configured(NULL)) {
        free(text);
        return 1;
    }
    /* a line `catalog = ...` (the config's own parser is lake.c's) */
    int found = 0;
    for (char *line = text; line && *line && !found;) {
        line += strspn(line, " \t");
        if (!strncmp(line, "catalog", 7) && line[7 + strspn(line + 7, " \t")] == '=') found = 1;
        line = strchr(line, '\n');
        if (line) line++;
    }
    free(text);
    return found;
}

int tarn__tx_begin(tarn_lake *lake, tarn_error *err)
{
    int rc = TARN_CAT(lake)->vt->begin(TARN_CAT(lake), err);
    if (rc == 0) tarn__tree_cache_tx(TARN_CAT(lake)->trees, TARN_TREE_CACHE_BEGIN);
    return rc;
}

int tarn__tx_commit(tarn_lake *lake, tarn_error *err)
{
    int rc = TARN_CAT(lake)->vt->commit(TARN_CAT(lake), err);
    tarn__tree_cache_tx(TARN_CAT(lake)->trees, rc == 0 ? TARN_TREE_CACHE_COMMITTED : TARN_TREE_CACHE_ENDED);
    return rc;
}

void tarn__tx_rollback(tarn_lake *lake)
{
    TARN_CAT(lake)->vt->rollback(TARN_CAT(lake));
    tarn__tree_cache_tx(TARN_CAT(lake)->trees, TARN_TREE_CACHE_ENDED);
}

int tarn__tx_run(tarn_lake *lake, int (*fn)(tarn_lake *, void *, tarn_error *), void *ctx, tarn_error *err)
{
    int rc = TARN_ERETRY;
    for (int attempt = 0; attempt < 5 && rc == TARN_ERETRY; attempt++) {
        if ((rc = tarn__tx_begin(lake, err)) < 0) continue;
        rc = fn(lake, ctx, err);
        if (rc == 0) rc = tarn__tx_commit(lake, err);
        else tarn__tx_rollback(lake);
    }
    return rc;
}

void tarn__data_file_clear(tarn_data_file *f)
{
    if (!f) return;
    free(f->key);
    free(f->stats_json);
    memset(f, 0, sizeof *f);
}

void tarn__commit_row_clear(tarn_commit_row *r)
{
    if (!r) return;
    free(r->author);
    free(r->message);
    free(r->properties_json);
    r->author = r->message = r->properties_json = NULL;
}

void tarn__job_row_clear(tarn_job_row *j)
{
    if (!j) return;
    free(j->project_json);
    free(j->params_json);
    free(j->report_json);
    free(j->logs);
    j->project_json = j->params_json = j->report_json = j->logs = NULL;
}
