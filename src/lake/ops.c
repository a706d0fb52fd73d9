/* lake/ops.c — the façade: every public call on a lake handle, dispatched
 * through the handle's operations table (lake/ops.h). The table of the
 * local implementations is here too, so this one file lists the whole
 * surface a lake handle offers, local or remote. */
#include "lake/lake.h"

const tarn_lake_ops tarn__local_ops = {
    .name = "local",
    .close = tarn_local__close,
    .active_branch = tarn_local__lake_active_branch,
    .set_active_branch = tarn_local__lake_set_active_branch,
    .info = tarn_local__lake_info,
    .ref_resolve = tarn_local__ref_resolve,
    .ref_list = tarn_local__ref_list,
    .branch_create = tarn_local__branch_create,
    .branch_delete = tarn_local__branch_delete,
    .ref_rename = tarn_local__ref_rename,
    .branch_prune_aborted = tarn_local__branch_prune_aborted,
    .tag_create = tarn_local__tag_create,
    .tag_delete = tarn_local__tag_delete,
    .commit_log = tarn_local__commit_log,
    .branch_merge = tarn_local__branch_merge,
    .diff = tarn_local__diff,
    .table_list = tarn_local__table_list,
    .table_get = tarn_local__table_get,
    .table_import = tarn_local__table_import,
    .table_import_arrow_fd = tarn_local__table_import_arrow_fd,
    .table_delete = tarn_local__table_delete,
    .table_revert = tarn_local__table_revert,
    .namespace_list = tarn_local__namespace_list,
    .namespace_create = tarn_local__namespace_create,
    .namespace_delete = tarn_local__namespace_delete,
    .query = tarn_local__query,
    .query_to_file = tarn_local__query_to_file,
    .query_arrow_fd = tarn_local__query_arrow_fd,
    .query_stream_open = tarn_local__query_stream_open,
    .gc = tarn_local__gc,
    .run = tarn_local__run,
    .job_list = tarn_local__job_list,
    .job_get = tarn_local__job_get,
    .job_logs = tarn_local__job_logs,
    .job_rerun = tarn_local__job_rerun,
    .env_list = tarn_local__env_list,
    .env_gc = tarn_local__env_gc,
    .token_create = tarn_local__token_create,
    .token_list = tarn_local__token_list,
    .token_revoke = tarn_local__token_revoke,
    .token_verify = tarn_local__token_verify,
    .branch_protect = tarn_local__branch_protect,
    .branch_protection = tarn_local__branch_protection,
    .branch_protected_list = tarn_local__branch_protected_list,
    .set_author = tarn_local__lake_set_author,
};

void tarn_lake_close(tarn_lake **lake)
{
    if (!lake || !*lake) return;
    (*lake)->ops->close(*lake);
    *lake = NULL;
}

/* ---- lake.h ---------------------------------------------------------------- */

int tarn_lake_active_branch(char *out, size_t size, tarn_lake *lake, tarn_error *err)
{
    return lake->ops->active_branch(out, size, lake, err);
}

int tarn_lake_set_active_branch(tarn_lake *lake, const char *branch, tarn_error *err)
{
    return lake->ops->set_active_branch(lake, branch, err);
}

int tarn_lake_info(char **json, tarn_lake *lake, tarn_error *err)
{
    return lake->ops->info(json, lake, err);
}

/* ---- ref.h ----------------------------------------------------------------- */

int tarn_ref_resolve(tarn_commit_id *out, tarn_lake *lake, const char *ref, tarn_error *err)
{
    return lake->ops->ref_resolve(out, lake, ref, err);
}

int tarn_ref_list(tarn_ref_entry **out, size_t *count, tarn_lake *lake, tarn_ref_kind kind,
                  tarn_error *err)
{
    return lake->ops->ref_list(out, count, lake, kind, err);
}

int tarn_branch_create(tarn_commit_id *out, tarn_lake *lake, const char *name, const char *from_ref,
                       tarn_error *err)
{
    return lake->ops->branch_create(out, lake, name, from_ref, err);
}

int tarn_branch_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return lake->ops->branch_delete(lake, name, err);
}

int tarn_ref_rename(tarn_lake *lake, tarn_ref_kind kind, const char *old_name, const char *new_name,
                    tarn_error *err)
{
    return lake->ops->ref_rename(lake, kind, old_name, new_name, err);
}

int tarn_branch_prune_aborted(char ***names, size_t *count, tarn_lake *lake, int64_t older_than_s,
                              int dry_run, tarn_error *err)
{
    return lake->ops->branch_prune_aborted(names, count, lake, older_than_s, dry_run, err);
}

int tarn_tag_create(tarn_commit_id *out, tarn_lake *lake, const char *name, const char *from_ref,
                    tarn_error *err)
{
    return lake->ops->tag_create(out, lake, name, from_ref, err);
}

int tarn_tag_delete(tarn_lake *lake, const char *name, tarn_error *err)
{
    return lake->ops->tag_delete(lake, name, err);
}

/* ---- commit.h -------------------------------------------------------------- */

int tarn_commit_log(tarn_commit_info **out, size_t *count, tarn_lake *lake, const char *ref,
                    size_t limit, tarn_error *err)
{
    return lake->ops->commit_log(out, count, lake, ref, limit, err);
}

int tarn_branch_merge(tarn_merge_result *out, tarn_lake *lake, const char *source_ref,
                      const char *into, const char *message, tarn_error *err)
{
    return lake->ops->branch_merge(out, lake, source_ref, into, message, err);
}

int tarn_diff(tarn_diff_entry **out, size_t *count, tarn_lake *lake, const char *from,
              const char *to, tarn_error *err)
{
    return lake->ops->diff(out, count, lake, from, to, err);
}

/* ---- table.h --------------------------------------------------------------- */

int tarn_table_list(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                    tarn_error *err)
{
    return lake->ops->table_list(out, count, lake, ref, err);
}

int tarn_table_get(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                   tarn_error *err)
{
    return lake->ops->table_get(out, lake, ref, name, err);
}

int tarn_table_import(tarn_import_result *out, tarn_lake *lake, const char *table, const char *path,
                      const char *branch, const tarn_import_options *opts, tarn_error *err)
{
    return lake->ops->table_import(out, lake, table, path, branch, opts, err);
}

int tarn_table_import_arrow_fd(tarn_import_result *out, tarn_lake *lake, const char *table, int fd,
                               const char *branch, const tarn_import_options *opts, tarn_error *err)
{
    return lake->ops->table_import_arrow_fd(out, lake, table, fd, branch, opts, err);
}

int tarn_table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table, const char *branch,
                      tarn_error *err)
{
    return lake->ops->table_delete(out, lake, table, branch, err);
}

int tarn_table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                      const char *source_ref, const char *into, tarn_error *err)
{
    return lake->ops->table_revert(out, lake, table, source_ref, into, err);
}

int tarn_namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                        tarn_error *err)
{
    return lake->ops->namespace_list(out, count, lake, ref, err);
}

int tarn_namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns, const char *branch,
                          tarn_error *err)
{
    return lake->ops->namespace_create(out, lake, ns, branch, err);
}

int tarn_namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns, const char *branch,
                          tarn_error *err)
{
    return lake->ops->namespace_delete(out, lake, ns, branch, err);
}

/* ---- query.h --------------------------------------------------------------- */

int tarn_query(tarn_result **out, tarn_lake *lake, const char *sql, const tarn_query_options *opts,
               tarn_error *err)
{
    return lake->ops->query(out, lake, sql, opts, err);
}

int tarn_query_to_file(int64_t *rows, tarn_lake *lake, const char *sql, const char *ref,
                       const char *path, const char *format, tarn_error *err)
{
    return lake->ops->query_to_file(rows, lake, sql, ref, path, format, err);
}

int tarn_query_arrow_fd(int *fd, tarn_lake *lake, const char *sql, const char *ref, tarn_error *err)
{
    return lake->ops->query_arrow_fd(fd, lake, sql, ref, err);
}

int tarn_query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                           const tarn_query_stream_options *opts, tarn_error *err)
{
    return lake->ops->query_stream_open(out, lake, sql, opts, err);
}

/* ---- gc.h ------------------------------------------------------------------ */

int tarn_gc(tarn_gc_result *out, tarn_lake *lake, const tarn_gc_options *opts, tarn_error *err)
{
    return lake->ops->gc(out, lake, opts, err);
}

/* ---- run.h ----------------------------------------------------------------- */

int tarn_run(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err)
{
    return lake->ops->run(report, lake, opts, err);
}

int tarn_job_list(char **json, tarn_lake *lake, size_t limit, tarn_error *err)
{
    return lake->ops->job_list(json, lake, limit, err);
}

int tarn_job_get(char **json, tarn_lake *lake, const char *id, tarn_error *err)
{
    return lake->ops->job_get(json, lake, id, err);
}

int tarn_job_logs(char **text, tarn_lake *lake, const char *id, tarn_error *err)
{
    return lake->ops->job_logs(text, lake, id, err);
}

int tarn_job_rerun(char **report, tarn_lake *lake, const char *id, const tarn_run_options *opts,
                   tarn_error *err)
{
    return lake->ops->job_rerun(report, lake, id, opts, err);
}

int tarn_env_list(char **json, tarn_lake *lake, tarn_error *err)
{
    return lake->ops->env_list(json, lake, err);
}

int tarn_env_gc(char **json, tarn_lake *lake, int64_t keep_seconds, int dry_run, tarn_error *err)
{
    return lake->ops->env_gc(json, lake, keep_seconds, dry_run, err);
}

/* ---- auth.h ---------------------------------------------------------------- */

int tarn_token_create(char **token, tarn_token_info *info, tarn_lake *lake, const char *user,
                      const tarn_token_options *opts, tarn_error *err)
{
    return lake->ops->token_create(token, info, lake, user, opts, err);
}

int tarn_token_list(tarn_token_info **out, size_t *count, tarn_lake *lake, tarn_error *err)
{
    return lake->ops->token_list(out, count, lake, err);
}

int tarn_token_revoke(tarn_lake *lake, const char *id, tarn_error *err)
{
    return lake->ops->token_revoke(lake, id, err);
}

int tarn_token_verify(tarn_token_info *out, tarn_lake *lake, const char *token, tarn_error *err)
{
    return lake->ops->token_verify(out, lake, token, err);
}

int tarn_branch_protect(tarn_lake *lake, const char *name, tarn_protect_mode mode, tarn_error *err)
{
    return lake->ops->branch_protect(lake, name, mode, err);
}

int tarn_branch_protection(tarn_protect_mode *out, tarn_lake *lake, const char *name,
                           tarn_error *err)
{
    return lake->ops->branch_protection(out, lake, name, err);
}

int tarn_branch_protected_list(char **json, tarn_lake *lake, tarn_error *err)
{
    return lake->ops->branch_protected_list(json, lake, err);
}

int tarn_lake_set_author(tarn_lake *lake, const char *author, tarn_error *err)
{
    return lake->ops->set_author(lake, author, err);
}
