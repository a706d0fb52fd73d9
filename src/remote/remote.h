/* remote/remote.h — a lake handle whose lakehouse is a `tarn serve` reached
 * over HTTP (library-internal).
 *
 * Arranged as: http.c (libcurl: one connection per handle, the bearer
 * token, JSON answers, uploads, downloads, lines followed live, errors
 * turned back into tarn codes and messages), remote.c (opening, the
 * operations table, the client's active branch, info), and one file per
 * resource, mirroring the server's: refs.c, tables.c, query.c, runs.c
 * (with tar.c, the project archive) and admin.c. */
#ifndef TARN_REMOTE_H
#define TARN_REMOTE_H

#include <jansson.h>
#include <pthread.h>

#include "lake/lake.h"
#include "util/util.h"

typedef struct tarn_remote {
    char *token;
    void *curl;         /* CURL *, reused: one connection kept alive */
    pthread_mutex_t mu; /* a handle may be shared by threads: one request at a time */
} tarn_remote;

/* ---- requests (http.c) ------------------------------------------------------ */

/* A request path: "/api/v1/..." then arguments. */
typedef struct rm_path {
    strbuf b;
    int has_args;
} rm_path;

/* Starts PATH with FMT, each %s of ARGS percent-encoded as one path part. */
void tarn_remote__path(rm_path *p, const char *fmt, ...);
/* Appends ?KEY=VALUE (or &...), VALUE percent-encoded; nothing when VALUE
 * is NULL. */
void tarn_remote__arg(rm_path *p, const char *key, const char *value);
void tarn_remote__arg_int(rm_path *p, const char *key, int64_t value);
/* COMMIT's message, body and properties (JSON text) as fields of BODY, or
 * when BODY is NULL as arguments of P (NULL COMMIT: none). */
void tarn_remote__commit_fields(json_t *body, rm_path *p, const tarn_commit_options *commit);
/* The error of a call a server does not offer yet: TARN_EINVALID, saying
 * to run it where the lakehouse is. */
int tarn_remote__unsupported(const char *what, tarn_error *err);

/* Sends METHOD PATH with BODY (JSON, taken over; NULL: none) and gives the
 * JSON answer in *OUT (may be NULL when not wanted). A failure answer
 * becomes the code and message the server sent. PATH is freed. */
int tarn_remote__json(json_t **out, tarn_lake *lake, const char *method, rm_path *path,
                      json_t *body, tarn_error *err);
/* POSTs the SIZE bytes of FD (read from its start) as the body. */
int tarn_remote__upload(json_t **out, tarn_lake *lake, rm_path *path, int fd, tarn_error *err);
/* Sends METHOD PATH with BODY and writes a successful answer's body to FD
 * as it arrives; *HEADER_VALUE (when HEADER is given) gets that response
 * header (free with free). */
int tarn_remote__download(int fd, tarn_lake *lake, const char *method, rm_path *path, json_t *body,
                          const char *header, char **header_value, tarn_error *err);
/* POSTs FD (or no body when FD < 0) and calls ON_LINE with each line of
 * the answer as it arrives (JSON lines of a run followed live). */
int tarn_remote__lines(tarn_lake *lake, rm_path *path, int fd,
                       void (*on_line)(const char *line, void *ctx), void *ctx, tarn_error *err);

/* The error a JSON error object ({"code", "message", "tables"}) stands for. */
int tarn_remote__error_from(tarn_error *err, json_t *error, int status);
/* A string member, "" when absent. */
const char *tarn_remote__str(json_t *o, const char *key);
/* A commit id member into ID. */
void tarn_remote__commit(tarn_commit_id *id, json_t *o, const char *key);
/* The branch a call names, or this client's active branch when NULL: the
 * server would otherwise take its own. BUF holds at least 256 bytes. */
int tarn_remote__branch(const char **out, char *buf, tarn_lake *lake, const char *branch,
                        tarn_error *err);

/* ---- project archives (tar.c) ------------------------------------------------- */

/* Writes the N files PATHS as a tar archive into a new memfd *FD, each
 * under NAMES[i] (the caller closes *FD). */
int tarn_remote__tar_files(int *fd, const char *const *paths, const char *const *names, size_t n,
                           tarn_error *err);
/* Writes the regular files under DIR (skipping .git, .tarn and __pycache__
 * folders) as a tar archive into the new file FD (a memfd; the caller
 * closes it). A link that leads outside DIR, or anything but a file or a
 * folder, is refused with TARN_EINVALID naming it. */
int tarn_remote__tar(int *fd, const char *dir, tarn_error *err);

/* ---- operations (one file per resource) ---------------------------------------- */

int tarn_remote__ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref,
                             tarn_error *err);
int tarn_remote__ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                          tarn_error *err);
int tarn_remote__branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                               const char *from_ref, tarn_error *err);
int tarn_remote__branch_delete(tarn_lake *lake, const char *name, tarn_error *err);
int tarn_remote__ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                            const char *new_name, tarn_error *err);
int tarn_remote__branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake,
                                      int64_t older_than_s, int dry_run, tarn_error *err);
int tarn_remote__tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                            const char *from_ref, tarn_error *err);
int tarn_remote__tag_delete(tarn_lake *lake, const char *name, tarn_error *err);
int tarn_remote__commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                            size_t limit, tarn_error *err);
int tarn_remote__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                              const char *into, const tarn_commit_options *commit, tarn_error *err);
int tarn_remote__diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                      const char *to, tarn_error *err);

int tarn_remote__table_list(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                            tarn_error *err);
int tarn_remote__table_get(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                           tarn_error *err);
int tarn_remote__table_import(tarn_import_result *out, tarn_lake *lake, const char *table,
                              const char *path, const char *branch, const tarn_import_options *opts,
                              tarn_error *err);
int tarn_remote__table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table,
                                       int fd, const char *branch, const tarn_import_options *opts,
                                       tarn_error *err);
int tarn_remote__table_plan(char **plan_json, tarn_lake *lake, const char *path,
                            const tarn_import_options *opts, tarn_error *err);
int tarn_remote__table_create(tarn_import_result *out, tarn_lake *lake, const char *table,
                              const tarn_column *columns, size_t ncolumns, const char *branch,
                              const tarn_import_options *opts, tarn_error *err);
int tarn_remote__table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *branch, const tarn_commit_options *commit,
                              tarn_error *err);
int tarn_remote__table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                              const char *source_ref, const char *into,
                              const tarn_commit_options *commit, tarn_error *err);
int tarn_remote__namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                                tarn_error *err);
int tarn_remote__namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                  const char *branch, const tarn_commit_options *commit,
                                  tarn_error *err);
int tarn_remote__namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                  const char *branch, const tarn_commit_options *commit,
                                  tarn_error *err);

int tarn_remote__query(tarn_result **out, tarn_lake *lake, const char *sql,
                       const tarn_query_options *opts, tarn_error *err);
int tarn_remote__query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                               const char *path, const char *format, tarn_error *err);
int tarn_remote__query_arrow(int *fd, tarn_lake *lake, const char *sql,
                             const tarn_query_options *opts, tarn_error *err);
int tarn_remote__query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                                   const tarn_query_stream_options *opts, tarn_error *err);

int tarn_remote__run(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err);
int tarn_remote__job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err);
int tarn_remote__job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err);
int tarn_remote__job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err);
int tarn_remote__job_cancel(tarn_lake *lake, const char *id, tarn_error *err);
int tarn_remote__job_rerun(char **report, tarn_lake *lake, const char *id,
                           const tarn_run_options *opts, tarn_error *err);
int tarn_remote__env_list(char **json, tarn_lake *lake, tarn_error *err);
int tarn_remote__env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run,
                        tarn_error *err);

int tarn_remote__gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts,
                    tarn_error *err);
int tarn_remote__token_create(char **token, tarn_token_info *info, tarn_lake *lake,
                              const char *user, const tarn_token_options *opts, tarn_error *err);
int tarn_remote__token_list(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err);
int tarn_remote__token_revoke(tarn_lake *lake, const char *id, tarn_error *err);
int tarn_remote__token_verify(tarn_token_info *out, tarn_lake *lake, const char *token,
                              tarn_error *err);
int tarn_remote__branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                                tarn_error *err);
int tarn_remote__branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                                   tarn_error *err);
int tarn_remote__branch_protected_list(char **json, tarn_lake *lake, tarn_error *err);

#endif
