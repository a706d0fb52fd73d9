/* table/table.c — tables and namespaces on a ref: listing, describing,
 * deleting, reverting. Each change is one commit through
 * tarn__branch_commit. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "table/schema.h"
#include "tarn/table.h"
#include "util/error.h"
#include "util/util.h"

static int fill_info(tarn_table_info *out, tarn_lake *lake, const char *name, const char *version,
                     tarn_error *err)
{
    memset(out, 0, sizeof *out);
    tarn_version v;
    int rc = TARN_CAT(lake)->vt->version_get(TARN_CAT(lake), version, &v, 0, err);
    if (rc == TARN_ENOTFOUND) rc = TARN_EIO;
    if (rc < 0) return rc;
    tarn__schema_parse(&out->columns, &out->ncolumns, v.schema_json);
    out->row_count = v.row_count;
    out->file_count = v.file_count;
    out->size_bytes = v.size_bytes;
    tarn__version_clear(&v);
    out->name = strdup(name);
    const char *dot = strchr(name, '.');
    out->namespace_ = strndup(name, (size_t)(dot - name));
    out->version = strdup(version);
    return 0;
}

int tarn_local__table_list(tarn_table_info **out, size_t *count, tarn_lake *lake, const char *ref,
                           tarn_error *err)
{
    *out = NULL;
    *count = 0;
    tarn_tree tree;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, NULL, lake, ref, err));
    tarn_table_info *list = calloc(tree.n ? tree.n : 1, sizeof *list);
    int rc = 0;
    for (size_t i = 0; i < tree.n && rc == 0; i++) {
        if (tree.entries[i].kind != TARN_ENTRY_TABLE) continue;
        rc = fill_info(&list[*count], lake, tree.entries[i].name, tree.entries[i].version, err);
        if (rc == 0) (*count)++;
    }
    tarn__tree_clear(&tree);
    if (rc < 0) {
        tarn_table_info_free(list, *count);
        *count = 0;
        return rc;
    }
    *out = list;
    return 0;
}

int tarn_local__table_get(tarn_table_info *out, tarn_lake *lake, const char *ref, const char *name,
                          tarn_error *err)
{
    memset(out, 0, sizeof *out);
    TARN_RETURN_NOT_OK(tarn_name_check_table(name, err));
    char qualified[300];
    tarn__qualify_table(qualified, sizeof qualified, name);
    tarn_tree tree;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, NULL, lake, ref, err));
    tarn_tree_entry *e = tarn__tree_find(&tree, qualified);
    int rc;
    if (!e || e->kind != TARN_ENTRY_TABLE)
        rc = tarn__error_set(err, TARN_ENOTFOUND, "table '%s' not found at ref '%s'", name,
                             tarn__ref_display(lake, ref));
    else
        rc = fill_info(out, lake, e->name, e->version, err); /* as first written */
    tarn__tree_clear(&tree);
    return rc;
}

void tarn_table_info_clear(tarn_table_info *info)
{
    if (!info) return;
    free(info->name);
    free(info->namespace_);
    free(info->version);
    tarn__columns_free(info->columns, info->ncolumns);
    memset(info, 0, sizeof *info);
}

void tarn_table_info_free(tarn_table_info *list, size_t count)
{
    if (!list) return;
    for (size_t i = 0; i < count; i++) tarn_table_info_clear(&list[i]);
    free(list);
}

/* ---- delete and revert -------------------------------------------------------- */

typedef struct table_edit {
    const char *table;  /* qualified */
    const char *branch;
    const char *source; /* revert: the version to restore */
    int revert;
    const char *source_ref;    /* revert: where it comes from */
    const char *source_commit;
} table_edit;

static int apply_table_edit(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    table_edit *ed = ctx;
    tarn_tree_entry *e = tarn__tree_find(tree, ed->table);
    if (!ed->revert) {
        if (!e || e->kind != TARN_ENTRY_TABLE)
            return tarn__error_set(err, TARN_ENOTFOUND, "table '%s' not found on branch '%s'",
                                   ed->table, ed->branch);
        tarn__tree_remove(tree, ed->table);
        return 0;
    }
    /* A failed run's output, or a state whose data gc collected, is never
     * brought back (checked in the commit's transaction). */
    TARN_RETURN_NOT_OK(tarn__commit_check_usable(lake, ed->source_ref, ed->source_commit, err));
    if (e && strcmp(e->version, ed->source) == 0) return TARN_NOTHING;
    tarn__tree_ensure_namespace(tree, ed->table);
    tarn__tree_set(tree, ed->table, TARN_ENTRY_TABLE, ed->source);
    (void)lake;
    return 0;
}

/* Commits EDIT on branch NAME with the message and properties COMMIT
 * gives on top of tarn's (DEFAULT_MESSAGE, TARN_PROPS). */
static int commit_edit(tarn_commit_id *out, tarn_lake *lake, const char *name,
                       tarn_tree_edit_fn edit, void *ed, const tarn_commit_options *commit,
                       const char *default_message, const char *tarn_props, tarn_error *err)
{
    char *msg = NULL, *props = NULL;
    TARN_RETURN_NOT_OK(tarn__commit_text(&msg, &props, commit, default_message, tarn_props, err));
    tarn_commit_id id;
    int rc = tarn__branch_commit(&id, lake, name, edit, ed, msg, props, err);
    free(msg);
    free(props);
    if (rc >= 0 && out) *out = id;
    return rc < 0 ? rc : 0;
}

int tarn_local__table_delete(tarn_commit_id *out, tarn_lake *lake, const char *table, const char *branch,
                      const tarn_commit_options *commit, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    char qualified[300], name[TARN_NAME_MAX + 1], msg[400];
    tarn__qualify_table(qualified, sizeof qualified, table);
    TARN_RETURN_NOT_OK(tarn__branch_name(name, lake, branch, err));
    table_edit ed = {qualified, name, NULL, 0, NULL, NULL};
    snprintf(msg, sizeof msg, "Delete table %s", qualified);
    return commit_edit(out, lake, name, apply_table_edit, &ed, commit, msg, NULL, err);
}

int tarn_local__table_revert(tarn_commit_id *out, tarn_lake *lake, const char *table,
                      const char *source_ref, const char *into, const tarn_commit_options *commit,
                      tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_table(table, err));
    if (!source_ref || !*source_ref)
        return tarn__error_set(err, TARN_EINVALID, "revert needs a source ref (--source-ref)");
    char qualified[300], name[TARN_NAME_MAX + 1], msg[800], version[65] = "";
    tarn__qualify_table(qualified, sizeof qualified, table);
    TARN_RETURN_NOT_OK(tarn__branch_name(name, lake, into, err));
    tarn_tree src;
    tarn_commit_id src_commit;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&src, &src_commit, lake, source_ref, err));
    tarn_tree_entry *e = tarn__tree_find(&src, qualified);
    if (e && e->kind == TARN_ENTRY_TABLE) snprintf(version, sizeof version, "%s", e->version);
    tarn__tree_clear(&src);
    if (!version[0])
        return tarn__error_set(err, TARN_ENOTFOUND,
                               "table '%s' does not exist at '%s': nothing to revert to (to remove it, use "
                               "'tarn table rm')",
                               qualified, source_ref);
    table_edit ed = {qualified, name, version, 1, source_ref, src_commit.hex};
    snprintf(msg, sizeof msg, "Revert table %s to %s (%.12s)", qualified, source_ref, src_commit.hex);
    char props[512];
    snprintf(props, sizeof props, "{\"reverted_table\":\"%s\",\"source_commit\":\"%s\"}", qualified,
             src_commit.hex);
    return commit_edit(out, lake, name, apply_table_edit, &ed, commit, msg, props, err);
}

/* ---- namespaces ------------------------------------------------------------------ */

int tarn_local__namespace_list(char ***out, size_t *count, tarn_lake *lake, const char *ref,
                               tarn_error *err)
{
    *out = NULL;
    *count = 0;
    tarn_tree tree;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, NULL, lake, ref, err));
    char **list = calloc(tree.n + 1, sizeof *list);
    int has_default = 0;
    for (size_t i = 0; i < tree.n; i++) {
        if (tree.entries[i].kind != TARN_ENTRY_NAMESPACE) continue;
        if (tarn__name_cmp(tree.entries[i].name, "default") == 0) has_default = 1;
        list[(*count)++] = strdup(tree.entries[i].name);
    }
    /* `default` always exists. */
    if (!has_default) {
        memmove(list + 1, list, *count * sizeof *list);
        list[0] = strdup("default");
        (*count)++;
        for (size_t i = 1; i < *count && strcmp(list[i - 1], list[i]) > 0; i++) {
            char *t = list[i - 1];
            list[i - 1] = list[i];
            list[i] = t;
        }
    }
    tarn__tree_clear(&tree);
    *out = list;
    return 0;
}

void tarn_namespace_list_free(char **list, size_t count)
{
    if (!list) return;
    for (size_t i = 0; i < count; i++) free(list[i]);
    free(list);
}

typedef struct ns_edit {
    const char *ns;
    const char *branch;
    int create;
} ns_edit;

static int apply_ns_edit(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    ns_edit *ed = ctx;
    (void)lake;
    tarn_tree_entry *e = tarn__tree_find(tree, ed->ns);
    if (ed->create) {
        if (e || tarn__name_cmp(ed->ns, "default") == 0)
            return tarn__error_set(err, TARN_EEXISTS, "namespace '%s' already exists on branch '%s'",
                                   ed->ns, ed->branch);
        tarn__tree_set(tree, ed->ns, TARN_ENTRY_NAMESPACE, "");
        return 0;
    }
    if (!e) return tarn__error_set(err, TARN_ENOTFOUND, "namespace '%s' not found on branch '%s'",
                                   ed->ns, ed->branch);
    for (size_t i = 0; i < tree->n; i++)
        if (tree->entries[i].kind == TARN_ENTRY_TABLE && tarn__name_in_namespace(tree->entries[i].name, ed->ns))
            return tarn__error_set(err, TARN_EINVALID,
                                   "namespace '%s' still holds tables (e.g. '%s'): remove them first",
                                   ed->ns, tree->entries[i].name);
    tarn__tree_remove(tree, ed->ns);
    return 0;
}

static int ns_change(tarn_commit_id *out, tarn_lake *lake, const char *ns, const char *branch,
                     int create, const tarn_commit_options *commit, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn_name_check_namespace(ns, err));
    char name[TARN_NAME_MAX + 1], msg[300];
    TARN_RETURN_NOT_OK(tarn__branch_name(name, lake, branch, err));
    ns_edit ed = {ns, name, create};
    snprintf(msg, sizeof msg, "%s namespace %s", create ? "Create" : "Delete", ns);
    return commit_edit(out, lake, name, apply_ns_edit, &ed, commit, msg, NULL, err);
}

int tarn_local__namespace_create(tarn_commit_id *out, tarn_lake *lake, const char *ns, const char *branch,
                          const tarn_commit_options *commit, tarn_error *err)
{
    return ns_change(out, lake, ns, branch, 1, commit, err);
}

int tarn_local__namespace_delete(tarn_commit_id *out, tarn_lake *lake, const char *ns, const char *branch,
                          const tarn_commit_options *commit, tarn_error *err)
{
    return ns_change(out, lake, ns, branch, 0, commit, err);
}

int tarn__table_schema_at(char **out, tarn_lake *lake, const char *ref, const char *qualified,
                          tarn_error *err)
{
    *out = NULL;
    tarn_tree tree;
    TARN_RETURN_NOT_OK(tarn__ref_tree(&tree, NULL, lake, ref, err));
    tarn_tree_entry *e = tarn__tree_find(&tree, qualified);
    int rc = 0;
    if (e && e->kind == TARN_ENTRY_TABLE) {
        tarn_version v;
        rc = TARN_CAT(lake)->vt->version_get(TARN_CAT(lake), e->version, &v, 0, err);
        if (rc == TARN_ENOTFOUND) rc = TARN_EIO;
        if (rc == 0) {
            *out = v.schema_json;
            v.schema_json = NULL;
            tarn__version_clear(&v);
        }
    }
    tarn__tree_clear(&tree);
    return rc;
}
