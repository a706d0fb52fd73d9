/* branch.c — `tarn branch ls | create | rm | rename | diff | merge | prune`.
 *
 * Also the ref listing and renaming that `tarn tag` shares (cli_list_refs,
 * cli_rename_ref). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_list_refs(tarn_ref_kind kind)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_ref_entry *refs = NULL;
    size_t n = 0;
    char active[TARN_NAME_MAX + 1] = "";
    int rc = tarn_ref_list(&refs, &n, lake, kind, &err);
    if (rc == 0 && kind == TARN_REF_BRANCH)
        rc = tarn_lake_active_branch(active, sizeof active, lake, &err);
    if (rc < 0) goto done;
    if (out_json_mode) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:o, s:s}", "name", out_jstr(refs[i].name), "commit",
                                  refs[i].commit.hex);
            if (kind == TARN_REF_BRANCH) {
                json_object_set_new(o, "active", json_boolean(strcmp(refs[i].name, active) == 0));
                json_object_set_new(o, "aborted", json_boolean(refs[i].aborted));
            }
            json_array_append_new(list, o);
        }
        out_json(list);
    } else {
        out_table t;
        out_table_init(&t, 3);
        for (size_t i = 0; i < n; i++) {
            char sh[13];
            int is_active = kind == TARN_REF_BRANCH && strcmp(refs[i].name, active) == 0;
            const char *name = refs[i].name;
            char marked[TARN_NAME_MAX + 3];
            if (kind == TARN_REF_BRANCH) {
                snprintf(marked, sizeof marked, "%c %s", is_active ? '*' : ' ', name);
                name = marked;
            }
            const char *row[3] = {name, out_short(sh, refs[i].commit.hex),
                                  refs[i].aborted ? "(aborted)" : NULL};
            out_table_add(&t, row);
        }
        out_table_print(&t, stdout, 0);
        out_table_free(&t);
    }
done:
    tarn_free(refs);
    return cli_done(&lake, rc, &err);
}

static int run_ls(const cli_args *a)
{
    (void)a;
    return cli_list_refs(TARN_REF_BRANCH);
}

static int run_create(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_id id;
    int rc = tarn_branch_create(&id, lake, a->pos[0], cli_get(a, "from-ref"), &err);
    if (rc == 0) {
        char sh[13];
        if (out_json_mode)
            out_json(json_pack("{s:o, s:s}", "name", out_jstr(a->pos[0]), "commit", id.hex));
        else
            printf("Created branch %s at %s\n", a->pos[0], out_short(sh, id.hex));
    }
    return cli_done(&lake, rc, &err);
}

static int run_rm(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_branch_delete(lake, a->pos[0], &err);
    if (rc == 0) {
        if (out_json_mode)
            out_json(json_pack("{s:o, s:b}", "name", out_jstr(a->pos[0]), "deleted", 1));
        else
            printf("Deleted branch %s\n", a->pos[0]);
    }
    return cli_done(&lake, rc, &err);
}

int cli_rename_ref(tarn_ref_kind kind, const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_ref_rename(lake, kind, a->pos[0], a->pos[1], &err);
    if (rc == 0) {
        if (out_json_mode)
            out_json(json_pack("{s:s, s:s}", "name", a->pos[1], "old_name", a->pos[0]));
        else
            printf("Renamed %s %s to %s\n", kind == TARN_REF_BRANCH ? "branch" : "tag", a->pos[0], a->pos[1]);
    }
    return cli_done(&lake, rc, &err);
}

static int run_rename(const cli_args *a)
{
    return cli_rename_ref(TARN_REF_BRANCH, a);
}

static int run_prune(const cli_args *a)
{
    if (!cli_has(a, "aborted"))
        return cli_usage_error(a->cmd, "say what to prune: --aborted (the run branches failed runs left)");
    int64_t older = 0;
    if (cli_get_duration(&older, a, "older-than")) return CLI_EXIT_USAGE;
    int dry = cli_has(a, "dry-run");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char **names = NULL;
    size_t n = 0;
    int rc = tarn_branch_prune_aborted(&names, &n, lake, older, dry, &err);
    if (rc == 0 && out_json_mode) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(list, json_string(names[i]));
        out_json(json_pack("{s:o, s:b, s:I}", "branches", list, "dry_run", dry, "count", (json_int_t)n));
    } else if (rc == 0) {
        for (size_t i = 0; i < n; i++) printf("%s %s\n", dry ? "would delete" : "deleted", names[i]);
        printf("%s %zu aborted run branch%s\n", dry ? "would delete" : "deleted", n, n == 1 ? "" : "es");
    }
    for (size_t i = 0; i < n; i++) tarn_free(names[i]);
    tarn_free(names);
    return cli_done(&lake, rc, &err);
}

static void print_diff(const tarn_diff_entry *d, size_t n)
{
    if (out_json_mode) {
        json_t *added = json_array(), *removed = json_array(), *changed = json_array();
        json_t *tables = json_array();
        static const char *kinds[] = {"added", "removed", "changed"};
        for (size_t i = 0; i < n; i++) {
            json_t *list = d[i].kind == TARN_DIFF_ADDED     ? added
                           : d[i].kind == TARN_DIFF_REMOVED ? removed
                                                            : changed;
            json_array_append_new(list, out_jstr(d[i].table));
            json_t *o =
                json_pack("{s:o, s:s}", "table", out_jstr(d[i].table), "kind", kinds[d[i].kind]);
            json_object_set_new(o, "rows_from",
                                d[i].rows_from < 0 ? json_null() : json_integer(d[i].rows_from));
            json_object_set_new(o, "rows_to",
                                d[i].rows_to < 0 ? json_null() : json_integer(d[i].rows_to));
            json_array_append_new(tables, o);
        }
        out_json(json_pack("{s:o, s:o, s:o, s:o}", "added", added, "removed", removed, "changed",
                           changed, "tables", tables));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind == TARN_DIFF_ADDED)
            printf("+ %s\n", d[i].table);
        else if (d[i].kind == TARN_DIFF_REMOVED)
            printf("- %s\n", d[i].table);
        else
            printf("~ %s (rows %lld -> %lld)\n", d[i].table, (long long)d[i].rows_from,
                   (long long)d[i].rows_to);
    }
}

static int run_diff(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char active[TARN_NAME_MAX + 1];
    const char *to = a->npos > 1 ? a->pos[1] : active;
    tarn_diff_entry *d = NULL;
    size_t n = 0;
    int rc = 0;
    if (a->npos < 2) rc = tarn_lake_active_branch(active, sizeof active, lake, &err);
    if (rc == 0) rc = tarn_diff(&d, &n, lake, a->pos[0], to, &err);
    if (rc == 0) print_diff(d, n);
    tarn_diff_free(d, n);
    return cli_done(&lake, rc, &err);
}

static int run_merge(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char into[TARN_NAME_MAX + 1];
    int rc = 0;
    if (cli_has(a, "into"))
        snprintf(into, sizeof into, "%s", cli_get(a, "into"));
    else
        rc = tarn_lake_active_branch(into, sizeof into, lake, &err);
    tarn_merge_result m = {0};
    if (rc == 0) rc = tarn_branch_merge(&m, lake, a->pos[0], into, cli_get(a, "message"), &err);
    if (rc == 0 && out_json_mode) {
        out_json(json_pack("{s:s, s:b, s:b, s:o, s:o}", "commit", m.commit.hex, "fast_forward",
                           m.fast_forward, "up_to_date", m.up_to_date, "source",
                           out_jstr(a->pos[0]), "into", out_jstr(into)));
    } else if (rc == 0) {
        char sh[13];
        out_short(sh, m.commit.hex);
        if (m.up_to_date)
            printf("Already up to date: %s at %s\n", into, sh);
        else if (m.fast_forward)
            printf("Fast-forward %s to %s\n", into, sh);
        else
            printf("Merged %s into %s: %s\n", a->pos[0], into, sh);
    }
    return cli_done(&lake, rc, &err);
}

static const cli_cmd ls_cmd = {
    .path = "branch ls",
    .synopsis = "",
    .summary = "List branches; * marks the active one.",
    .example = "tarn branch ls",
};
static const cli_cmd create_cmd = {
    .path = "branch create",
    .synopsis = "NAME [--from-ref REF]",
    .summary = "Create branch NAME at REF. No data is copied.",
    .pos = {"NAME"},
    .min_pos = 1,
    .opts = {{"from-ref", 0, "REF",
              "branch, tag or commit to start from (default: the active "
              "branch)"}},
    .example = "tarn branch create dev --from-ref main",
};
static const cli_cmd rm_cmd = {
    .path = "branch rm",
    .synopsis = "NAME",
    .summary = "Delete branch NAME (not the active one).",
    .pos = {"NAME"},
    .min_pos = 1,
    .example = "tarn branch rm dev",
};
static const cli_cmd diff_cmd = {
    .path = "branch diff",
    .synopsis = "A [B]",
    .summary = "List the tables added (+), removed (-) and changed (~) from ref A to ref B. "
               "B defaults to the active branch; a changed table shows its rows on both sides.",
    .pos = {"A", "B"},
    .min_pos = 1,
    .example = "tarn branch diff main dev",
};
static const cli_cmd merge_cmd = {
    .path = "branch merge",
    .synopsis = "SOURCE [--into BRANCH] [-m MESSAGE]",
    .summary = "Merge ref SOURCE into BRANCH. A fast-forward when possible, else a three-way "
               "merge per table; a conflict changes nothing and names the tables. With -m, "
               "a merge commit carrying the message is made even when a fast-forward would do.",
    .pos = {"SOURCE"},
    .min_pos = 1,
    .opts = {{"into", 0, "BRANCH", "the branch to merge into (default: the active branch)"},
             {"message", 'm', "MESSAGE", "the merge commit's message"}},
    .example = "tarn branch merge dev --into main -m 'add trips'",
};

static const cli_cmd rename_cmd = {
    .path = "branch rename",
    .synopsis = "OLD NEW",
    .summary = "Rename branch OLD to NEW: the same commit and history; the active branch follows.",
    .pos = {"OLD", "NEW"},
    .min_pos = 2,
    .example = "tarn branch rename exp alice.exp",
};
static const cli_cmd prune_cmd = {
    .path = "branch prune",
    .synopsis = "--aborted [--older-than DURATION] [--dry-run]",
    .summary = "Delete the run branches that failed runs left (tarn-run/JOBID, aborted). Their data "
               "stays until gc finds nothing else needs it.",
    .opts = {{"aborted", 0, NULL, "the aborted run branches"},
             {"older-than", 0, "DURATION", "only those that have not moved for this long (90m, 12h, 7d)"},
             {"dry-run", 0, NULL, "list them, delete nothing"}},
    .example = "tarn branch prune --aborted --older-than 7d",
};

static const cli_sub subs[] = {
    {"ls", &ls_cmd, run_ls},           {"create", &create_cmd, run_create}, {"rm", &rm_cmd, run_rm},
    {"rename", &rename_cmd, run_rename}, {"diff", &diff_cmd, run_diff},  {"merge", &merge_cmd, run_merge},
    {"prune", &prune_cmd, run_prune},  {"protect", &cli_protect_cmd, cli_branch_protect},
    {"protected", &cli_protected_cmd, cli_branch_protected}, {NULL, NULL, NULL},
};

int cmd_branch(int argc, char **argv)
{
    return cli_run_group("branch", "Branches: movable refs to commits.", subs, argc, argv);
}
