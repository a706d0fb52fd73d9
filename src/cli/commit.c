/* commit.c — `tarn commit [REF] [-n N]`: the log, newest first, printed
 * like `git log` (or as JSON with the properties parsed). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* A commit's properties as a JSON object ({} when they do not parse). */
static json_t *properties(const char *text)
{
    json_t *p = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(p)) return p;
    json_decref(p);
    return json_object();
}

static void print_json(const tarn_commit_info *c, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char when[32];
        json_t *parents = json_array();
        for (size_t k = 0; k < c[i].nparents && k < 2; k++)
            json_array_append_new(parents, json_string(c[i].parents[k].hex));
        json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o, s:s, s:o}", "hash", c[i].id.hex,
                                              "parents", parents, "message",
                                              out_jstr(c[i].message ? c[i].message : ""), "author",
                                              out_jstr(c[i].author ? c[i].author : ""), "time",
                                              out_iso_time(when, c[i].time_us), "properties",
                                              properties(c[i].properties_json)));
    }
    out_json(list);
}

/* `Properties: key=value, ...`; strings bare, anything else as JSON. */
static void print_properties(const char *text)
{
    json_t *p = properties(text);
    const char *key;
    json_t *v;
    const char *sep = "Properties: ";
    json_object_foreach(p, key, v)
    {
        char *dump = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s%s=%s", sep, key, dump ? dump : json_string_value(v));
        free(dump);
        sep = ", ";
    }
    if (json_object_size(p)) putchar('\n');
    json_decref(p);
}

static void print_log(const tarn_commit_info *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char a[13], b[13], when[40];
        if (i) putchar('\n');
        printf("commit %s\n", c[i].id.hex);
        if (c[i].nparents > 1)
            printf("Merge: %s %s\n", out_short(a, c[i].parents[0].hex),
                   out_short(b, c[i].parents[1].hex));
        printf("Author: %s\nDate:   %s\n", c[i].author ? c[i].author : "",
               out_git_time(when, c[i].time_us));
        print_properties(c[i].properties_json);
        /* The message indented by four spaces, line by line, like git. */
        putchar('\n');
        const char *m = c[i].message ? c[i].message : "";
        do {
            size_t len = strcspn(m, "\n");
            if (len)
                printf("    %.*s\n", (int)len, m);
            else
                putchar('\n');
            m += len;
        } while (*m && *++m);
    }
}

static int run_commit(const cli_args *a)
{
    int64_t limit = 0;
    if (cli_get_int(&limit, a, "max-count", 0)) return CLI_EXIT_USAGE;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_commit_info *list = NULL;
    size_t n = 0;
    int rc = tarn_commit_log(&list, &n, lake, a->npos ? a->pos[0] : NULL, (size_t)limit, &err);
    if (rc == 0 && out_json_mode)
        print_json(list, n);
    else if (rc == 0)
        print_log(list, n);
    tarn_commit_info_free(list, n);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd commit_cmd = {
    .path = "commit",
    .synopsis = "[REF] [-n N]",
    .summary = "Show the commits reachable from REF (default: the active branch), newest first.",
    .pos = {"REF"},
    .opts = {{"max-count", 'n', "N", "show at most N commits (default: all)"}},
    .example = "tarn commit main -n 5",
};

int cmd_commit(int argc, char **argv)
{
    return cli_run(&commit_cmd, run_commit, argc, argv);
}
