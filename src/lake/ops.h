/* lake/ops.h — the operations of a lake handle, as a table (library-internal).
 *
 * Every public call that takes a tarn_lake goes through lake->ops (the
 * façade is lake/ops.c), so a handle is either the lakehouse in a local
 * folder (tarn__local_ops: the catalog, store and runtime of this process)
 * or a server reached over HTTP (tarn__remote_ops, src/remote/). Callers
 * never ask which: both keep the contracts of the public headers, with the
 * same codes and messages. An entry has the public call's signature. */
#ifndef TARN_LAKE_OPS_H
#define TARN_LAKE_OPS_H

#include "tarn/tarn.h"

typedef struct tarn_lake_ops {
    const char *name; /* "local", "remote" */
    void (*close)(tarn_lake *lake);

    /* lake.h */
    int (*active_branch)(char *out, size_t size, tarn_lake *lake, tarn_error *err);
    int (*set_active_branch)(tarn_lake *lake, const char *branch, tarn_error *err);
    int (*info)(char **json, tarn_lake *lake, tarn_error *err);

    /* ref.h */
    int (*ref_resolve)(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err);
    int (*ref_list)(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                    tarn_error *err);
    int (*branch_create)(tarn_commit_id *out, tarn_lake *lake, const char *name,
                         const char *from_ref, tarn_error *err);
    int (*branch_delete)(tarn_lake *lake, const char *name, tarn_error *err);
    int (*ref_rename)(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                      const char *new_name, tarn_error *err);
    int (*branch_prune_aborted)(char ***names, size_t *count, tarn_lake *lake, int64_t older_than_s,
                                int dry_run, tarn_error *err);
    int (*tag_create)(tarn_commit_id *out, tarn_lake *lake, const char *name, const char *from_ref,
                      tarn_error *err);
    int (*tag_delete)(tarn_lake *lake, const char *name, tarn_error *err);

    /* commit.h */
    int (*commit_log)(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                      size_t limit, tarn_error *err);
    int (*branch_merge)(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                        const char *into, const char *message, tarn_error *err);
    int (*diff)(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                const char *to, tarn_error *err);

    /* table.h */
    int (*table_list)(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                      tarn_error *err);
    int (*table_get)(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                     tarn_error *err);
    int (*table_import)(tarn_import_result *out, tarn_lake *lake, const char *table,
                        const char *path, const char *branch, const tarn_import_options *opts,
                        tarn_error *err);
    int (*table_import_arrow_fd)(tarn_import_result *out, tarn_lake *lake, const char *table,
                                 int fd, const char *branch, const tarn_import_options *opts,
                                 tarn_error *err);
    int (*table_delete)(tarn_commit_id *out, tarn_lake *lake, const char *table, const char *branch,
                        tarn_error *err);
    int (*table_revert)(tarn_commit_id *out, tarn_lake *lake, const char *table,
                        const char *source_ref, const char *into, tarn_error *err);
    int (*namespace_list)(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                          tarn_error *err);
    int (*namespace_create)(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                            const char *branch, tarn_error *err);
    int (*namespace_delete)(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                            const char *branch, tarn_error *err);

    /* query.h */
    int (*query)(tarn_result **out, tarn_lake *lake, const char *sql,
                 const tarn_query_options *opts, tarn_error *err);
    int (*query_to_file)(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                         const char *path, const char *format, tarn_error *err);
    int (*query_arrow_fd)(int *fd, tarn_lake *lake, const char *sql, const char *ref,
                          tarn_error *err);
    int (*query_stream_open)(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                             const tarn_query_stream_options *opts, tarn_error *err);

    /* gc.h */
    int (*gc)(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts, tarn_error *err);

    /* run.h */
    int (*run)(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err);
    int (*job_list)(char **json, tarn_lake *lake, size_t limit, tarn_error *err);
    int (*job_get)(char **json, tarn_lake *lake, const char *id, tarn_error *err);
    int (*job_logs)(char **text, tarn_lake *lake, const char *id, tarn_error *err);
    int (*job_rerun)(char **report, tarn_lake *lake, const char *id, const tarn_run_options *opts,
                     tarn_error *err);
    int (*env_list)(char **json, tarn_lake *lake, tarn_error *err);
    int (*env_gc)(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run, tarn_error *err);

    /* auth.h */
    int (*token_create)(char **token, tarn_token_info *info, tarn_lake *lake, const char *user,
                        const tarn_token_options *opts, tarn_error *err);
    int (*token_list)(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err);
    int (*token_revoke)(tarn_lake *lake, const char *id, tarn_error *err);
    int (*token_verify)(tarn_token_info *out, tarn_lake *lake, const char *token, tarn_error *err);
    int (*branch_protect)(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                          tarn_error *err);
    int (*branch_protection)(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                             tarn_error *err);
    int (*branch_protected_list)(char **json, tarn_lake *lake, tarn_error *err);
    int (*set_author)(tarn_lake *lake, const char *author, tarn_error *err);
} tarn_lake_ops;

/* The lakehouse in a folder of this host: today's code, each entry a
 * tarn_local__<call> defined in the module that owns it. */
extern const tarn_lake_ops tarn__local_ops;
/* A `tarn serve` reached over HTTP (src/remote/). */
extern const tarn_lake_ops tarn__remote_ops;

/* The local implementations (same signatures as the public calls). */
void tarn_local__close(tarn_lake *lake);
int tarn_local__lake_active_branch(char *out, size_t size, tarn_lake *lake, tarn_error *err);
int tarn_local__lake_set_active_branch(tarn_lake *lake, const char *branch, tarn_error *err);
int tarn_local__lake_info(char **json, tarn_lake *lake, tarn_error *err);
int tarn_local__ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err);
int tarn_local__ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                         tarn_error *err);
int tarn_local__branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                              const char *from_ref, tarn_error *err);
int tarn_local__branch_delete(tarn_lake *lake, const char *name, tarn_error *err);
int tarn_local__ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name,
                           const char *new_name, tarn_error *err);
int tarn_local__branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake,
                                     int64_t older_than_s, int dry_run, tarn_error *err);
int tarn_local__tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name,
                           const char *from_ref, tarn_error *err);
int tarn_local__tag_delete(tarn_lake *lake, const char *name, tarn_error *err);
int tarn_local__commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                           size_t limit, tarn_error *err);
int tarn_local__branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                             const char *into, const char *message, tarn_error *err);
int tarn_local__diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
                     const char *to, tarn_error *err);
int tarn_local__table_list(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                           tarn_error *err);
int tarn_local__table_get(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                          tarn_error *err);
int tarn_local__table_import(tarn_import_result *out, tarn_lake *lake, const char *table,
                             const char *path, const char *branch, const tarn_import_options *opts,
                             tarn_error *err);
int tarn_local__table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table,
                                      int fd, const char *branch, const tarn_import_options *opts,
                                      tarn_error *err);
int tarn_local__table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table,
                             const char *branch, tarn_error *err);
int tarn_local__table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                             const char *source_ref, const char *into, tarn_error *err);
int tarn_local__namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                               tarn_error *err);
int tarn_local__namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                 const char *branch, tarn_error *err);
int tarn_local__namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns,
                                 const char *branch, tarn_error *err);
int tarn_local__query(tarn_result **out, tarn_lake *lake, const char *sql,
                      const tarn_query_options *opts, tarn_error *err);
int tarn_local__query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                              const char *path, const char *format, tarn_error *err);
int tarn_local__query_arrow_fd(int *fd, tarn_lake *lake, const char *sql, const char *ref,
                               tarn_error *err);
int tarn_local__query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                                  const tarn_query_stream_options *opts, tarn_error *err);
int tarn_local__gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts,
                   tarn_error *err);
int tarn_local__run(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err);
int tarn_local__job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err);
int tarn_local__job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err);
int tarn_local__job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err);
int tarn_local__job_rerun(char **report, tarn_lake *lake, const char *id,
                          const tarn_run_options *opts, tarn_error *err);
int tarn_local__env_list(char **json, tarn_lake *lake, tarn_error *err);
int tarn_local__env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run,
                       tarn_error *err);
int tarn_local__token_create(char **token, tarn_token_info *info, tarn_lake *lake, const char *user,
                             const tarn_token_options *opts, tarn_error *err);
int tarn_local__token_list(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err);
int tarn_local__token_revoke(tarn_lake *lake, const char *id, tarn_error *err);
int tarn_local__token_verify(tarn_token_info *out, tarn_lake *lake, const char *token,
                             tarn_error *err);
int tarn_local__branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode,
                               tarn_error *err);
int tarn_local__branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                                  tarn_error *err);
int tarn_local__branch_protected_list(char **json, tarn_lake *lake, tarn_error *err);
int tarn_local__lake_set_author(tarn_lake *lake, const char *author, tarn_error *err);

#endif
