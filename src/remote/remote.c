/* remote/remote.c — opening a lake handle on a `tarn serve`, its table of
 * operations, and what stays on the client: its active branch (as a git
 * clone keeps its own HEAD), kept in a small file per server URL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "remote/remote.h"
#include "util/error.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_start(void)
{
    /* Before any thread uses libcurl: its global set-up is not thread-safe. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tarn_lake_open_remote(tarn_lake **out, const char *url, const char *token, tarn_error *err)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return tarn__error_set(
            err, TARN_EINVALID,
            "'%s' is not a server URL: TARN_REMOTE (or --remote) takes http://HOST:PORT or "
            "https://HOST:PORT",
            url ? url : "");
    if (!token || !*token)
        return tarn__error_set(
            err, TARN_EINVALID,
            "no token for %s: set TARN_TOKEN (or --token) to a token made with 'tarn token "
            "create' on the server",
            url);
    pthread_once(&curl_once, curl_start);
    tarn_lake *lake = calloc(1, sizeof *lake);
    tarn_remote *rm = lake ? calloc(1, sizeof *rm) : NULL;
    if (!rm) {
        free(lake);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    lake->ops = &tarn__remote_ops;
    lake->remote = rm;
    pthread_mutex_init(&rm->mu, NULL);
    pthread_mutex_init(&lake->lease.mu, NULL);
    pthread_mutex_init(&lake->lease.conn_mu, NULL);
    pthread_cond_init(&lake->lease.wake, NULL);
    lake->path = strdup(url);
    rm->token = strdup(token);
    if (!lake->path || !rm->token) {
        tarn_lake_close(&lake);
        return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    }
    size_t n = strlen(lake->path);
    while (n > 8 && lake->path[n - 1] == '/')
        lake->path[--n] = 0;
    *out = lake;
    return 0;
}

static void remote_close(tarn_lake *lake)
{
    tarn_remote *rm = lake->remote;
    if (rm) {
        if (rm->curl) curl_easy_cleanup(rm->curl);
        if (rm->token) {
            memset(rm->token, 0, strlen(rm->token));
            free(rm->token);
        }
        pthread_mutex_destroy(&rm->mu);
        free(rm);
    }
    pthread_mutex_destroy(&lake->lease.mu);
    pthread_mutex_destroy(&lake->lease.conn_mu);
    pthread_cond_destroy(&lake->lease.wake);
    free(lake->path);
    free(lake);
}

/* ---- the client's active branch ----------------------------------------------------- */

/* $XDG_STATE_HOME/tarn/remotes/<URL as one name>/HEAD */
static int head_path(strbuf *out, tarn_lake *lake)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (state && *state)
        sb_append(out, state);
    else if (home && *home)
        sb_printf(out, "%s/.local/state", home);
    else
        return -1;
    sb_append(out, "/tarn/remotes/");
    for (const char *c = lake->path; *c; c++) {
        char ch = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                          (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'
                      ? *c
                      : '_';
        sb_appendn(out, &ch, 1);
    }
    return 0;
}

static int remote_active_branch(char *out, size_t size, tarn_lake *lake, tarn_error *err)
{
    int rc = tarn__lake_env_branch(out, size, err);
    if (rc != 0) return rc < 0 ? rc : 0;
    strbuf p = {0};
    char *text = NULL;
    snprintf(out, size, "main");
    if (head_path(&p, lake) == 0) {
        sb_append(&p, "/HEAD");
        if (tarn__read_file(&text, NULL, sb_str(&p)) == 0) {
            text[strcspn(text, "\r\n")] = 0;
            if (tarn_name_check_ref(text, NULL) == 0) snprintf(out, size, "%s", text);
        }
    }
    free(text);
    sb_free(&p);
    return 0;
}

static int remote_set_active_branch(tarn_lake *lake, const char *branch, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_ref(branch, err));
    TARN_RETURN_NOT_OK(tarn__lake_env_branch_refuse(branch, err));
    rm_path path;
    tarn_remote__path(&path, "/api/v1/branches/%s", branch);
    int rc = tarn_remote__json(NULL, lake, "GET", &path, NULL, err);
    if (rc == TARN_ENOTFOUND)
        return tarn__error_set(
            err, TARN_ENOTFOUND,
            "branch '%s' does not exist (use 'tarn checkout -b %s' to create it)", branch, branch);
    if (rc < 0) return rc;
    strbuf p = {0};
    if (head_path(&p, lake) != 0) {
        sb_free(&p);
        return tarn__error_set(err, TARN_EIO,
                               "cannot keep the active branch: set HOME or XDG_STATE_HOME");
    }
    if (tarn__mkdirs(sb_str(&p), 0700) != 0) {
        rc = tarn__error_set(err, TARN_EIO, "cannot create '%s': %s", sb_str(&p), strerror(errno));
    } else {
        sb_append(&p, "/HEAD");
        char line[TARN_NAME_MAX + 2];
        int n = snprintf(line, sizeof line, "%s\n", branch);
        if (tarn__write_file_atomic(sb_str(&p), line, (size_t)n) != 0)
            rc = tarn__error_set(err, TARN_EIO, "cannot write '%s': %s", sb_str(&p),
                                 strerror(errno));
    }
    sb_free(&p);
    return rc;
}

int tarn_remote__branch(const char **out, char *buf, tarn_lake *lake, const char *branch,
                        tarn_error *err)
{
    *out = branch;
    if (branch) return 0;
    TARN_RETURN_NOT_OK(remote_active_branch(buf, 256, lake, err));
    *out = buf;
    return 0;
}

/* ---- what the lakehouse is ---------------------------------------------------------- */

static int remote_info(char **json, tarn_lake *lake, tarn_error *err)
{
    *json = NULL;
    char branch[256];
    TARN_RETURN_NOT_OK(remote_active_branch(branch, sizeof branch, lake, err));
    rm_path path;
    json_t *v = NULL;
    tarn_remote__path(&path, "/api/v1/info");
    TARN_RETURN_NOT_OK(tarn_remote__json(&v, lake, "GET", &path, NULL, err));
    /* The server's own active branch means nothing here: the client's is. */
    json_object_set_new(v, "path", json_string(lake->path));
    json_object_set_new(v, "branch", json_string(branch));
    json_object_set_new(v, "remote", json_string(lake->path));
    *json = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return *json ? 0 : tarn__error_set(err, TARN_ENOMEM, "out of memory");
}

static int remote_set_author(tarn_lake *lake, const char *author, tarn_error *err)
{
    (void)lake;
    if (!author) return 0;
    return tarn__error_set(
        err, TARN_EDENIED,
        "commits made through a server are authored by the user of its token: ask an admin "
        "for a token of your own");
}

const tarn_lake_ops tarn__remote_ops = {
    .name = "remote",
    .close = remote_close,
    .active_branch = remote_active_branch,
    .set_active_branch = remote_set_active_branch,
    .info = remote_info,
    .ref_resolve = tarn_remote__ref_resolve,
    .ref_list = tarn_remote__ref_list,
    .branch_create = tarn_remote__branch_create,
    .branch_delete = tarn_remote__branch_delete,
    .ref_rename = tarn_remote__ref_rename,
    .branch_prune_aborted = tarn_remote__branch_prune_aborted,
    .tag_create = tarn_remote__tag_create,
    .tag_delete = tarn_remote__tag_delete,
    .commit_log = tarn_remote__commit_log,
    .branch_merge = tarn_remote__branch_merge,
    .diff = tarn_remote__diff,
    .table_list = tarn_remote__table_list,
    .table_get = tarn_remote__table_get,
    .table_import = tarn_remote__table_import,
    .table_import_arrow_fd = tarn_remote__table_import_arrow_fd,
    .table_plan = tarn_remote__table_plan,
    .table_create = tarn_remote__table_create,
    .table_delete = tarn_remote__table_delete,
    .table_revert = tarn_remote__table_revert,
    .namespace_list = tarn_remote__namespace_list,
    .namespace_create = tarn_remote__namespace_create,
    .namespace_delete = tarn_remote__namespace_delete,
    .query = tarn_remote__query,
    .query_to_file = tarn_remote__query_to_file,
    .query_arrow = tarn_remote__query_arrow,
    /* a scan is a query built here (its filter checked by a DuckDB of
     * this process, which reads nothing): the server runs the query */
    .scan_arrow = tarn_local__scan_arrow,
    .query_stream_open = tarn_remote__query_stream_open,
    .gc = tarn_remote__gc,
    .run = tarn_remote__run,
    .job_list = tarn_remote__job_list,
    .job_get = tarn_remote__job_get,
    .job_logs = tarn_remote__job_logs,
    .job_cancel = tarn_remote__job_cancel,
    .job_rerun = tarn_remote__job_rerun,
    .env_list = tarn_remote__env_list,
    .env_gc = tarn_remote__env_gc,
    .token_create = tarn_remote__token_create,
    .token_list = tarn_remote__token_list,
    .token_revoke = tarn_remote__token_revoke,
    .token_verify = tarn_remote__token_verify,
    .branch_protect = tarn_remote__branch_protect,
    .branch_protection = tarn_remote__branch_protection,
    .branch_protected_list = tarn_remote__branch_protected_list,
    .set_author = remote_set_author,
};
