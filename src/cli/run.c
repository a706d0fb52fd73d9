/* run.c — `tarn run`: plan and run a pipeline project on a branch, as one
 * transaction (or start it detached); and `tarn job ls|get|logs|rerun|stop`:
 * the record of runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static void print_line(const char *line, void *ctx)
{
    (void)ctx;
    /* In JSON mode progress goes to stderr so stdout stays one document. */
    fprintf(out_json_mode ? stderr : stdout, "%s\n", line);
    fflush(out_json_mode ? stderr : stdout);
}

static void print_previews(json_t *report)
{
    const char *model;
    json_t *p;
    json_object_foreach(json_object_get(report, "previews"), model, p)
    {
        json_t *cols = json_object_get(p, "columns"), *rows = json_object_get(p, "rows");
        size_t nc = json_array_size(cols);
        printf("\npreview of %s:\n", model);
        out_table t;
        out_table_init(&t, nc);
        const char **cells = out_xmalloc((nc ? nc : 1) * sizeof *cells);
        for (size_t c = 0; c < nc; c++) cells[c] = json_string_value(json_array_get(cols, c));
        out_table_add(&t, cells);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            for (size_t c = 0; c < nc; c++) cells[c] = json_string_value(json_array_get(row, c));
            out_table_add(&t, cells);
        }
        out_table_print(&t, stdout, 1);
        out_table_free(&t);
        free(cells);
    }
}

/* The report as the JSON shape scripts rely on. */
static json_t *report_json(json_t *report)
{
    json_t *out = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "job_id", json_object_get(report, "job_id"),
                            "outcome", json_object_get(report, "outcome"), "commit",
                            json_object_get(report, "commit"), "branch", json_object_get(report, "branch"),
                            "tasks", json_object_get(report, "tasks"));
    const char *keys[] = {"expectations", "previews", "plan", "error", "run_branch", "scans", "reused"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (json_object_get(report, keys[i])) json_object_set(out, keys[i], json_object_get(report, keys[i]));
    return out;
}

/* --result FILE: the outcome as the library gave it (code, message,
 * conflicting tables, the whole report), for `tarn serve` to hand on to a
 * remote client exactly. */
static void write_result(const char *path, int rc, const tarn_error *err, json_t *report)
{
    if (!path) return;
    json_t *v = json_pack("{s:O?}", "report", report);
    if (rc < 0) {
        json_t *tables = json_array();
        for (size_t i = 0; i < err->ntables; i++)
            json_array_append_new(tables, out_jstr(err->tables[i]));
        json_object_set_new(v, "error",
                            json_pack("{s:s,s:o,s:o}", "code", tarn_code_name(rc), "message",
                                      out_jstr(err->message[0] ? err->message : tarn_strerror(rc)),
                                      "tables", tables));
    }
    if (json_dump_file(v, path, JSON_COMPACT) != 0)
        fprintf(stderr, "tarn: warning: cannot write the run's outcome to '%s'\n", path);
    json_decref(v);
}

static int finish_run(tarn_lake *lake, int rc, char *report_text, tarn_error *err,
                      const char *result)
{
    json_t *report = report_text ? json_loads(report_text, 0, NULL) : NULL;
    tarn_free(report_text);
    write_result(result, rc, err, report);
    int exit_code;
    if (out_json_mode && report && json_object_get(report, "job_id")) {
        /* A run that started reports itself, failed or not. */
        out_json(report_json(report));
        exit_code = rc < 0 ? 1 : 0;
        tarn_lake_close(&lake);
    } else if (rc < 0) {
        exit_code = cli_done(&lake, rc, err);
    } else {
        if (out_json_mode && report) out_json(report_json(report));
        else if (report) print_previews(report);
        exit_code = cli_done(&lake, 0, err);
    }
    json_decref(report);
    return exit_code;
}

static int collect_params(tarn_run_options *o, const char ***names, const char ***values,
                          char ***owned, int *argc, char **argv)
{
    /* --param / -P may repeat: take them out before the option parser. */
    int n = 0, w = 0;
    *names = calloc((size_t)*argc + 1, sizeof **names);
    *values = calloc((size_t)*argc + 1, sizeof **values);
    *owned = calloc((size_t)*argc + 1, sizeof **owned);
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--")) {
            while (i < *argc) argv[w++] = argv[i++];
            break;
        }
        if ((!strcmp(argv[i], "--param") || !strcmp(argv[i], "-P")) && i + 1 < *argc) v = argv[++i];
        else if (!strncmp(argv[i], "--param=", 8)) v = argv[i] + 8;
        if (!v) {
            argv[w++] = argv[i];
            continue;
        }
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) return -1;
        (*owned)[n] = strndup(v, (size_t)(eq - v));
        (*names)[n] = (*owned)[n];
        (*values)[n] = eq + 1;
        n++;
    }
    *argc = w;
    o->nparams = (size_t)n;
    o->param_names = *names;
    o->param_values = *values;
    return 0;
}

static tarn_run_options g_opts;
static char g_exe[4096];

/* Runs borrow warm Python parents from this program's warm runtime. */
static void use_warm_runtime(tarn_run_options *o)
{
    if (cli_self_exe(g_exe, sizeof g_exe) == 0) o->runtime_exe = g_exe;
}

static const cli_cmd run_cmd;

/* ---- tarn run --detach ---------------------------------------------------------- */

/* In the detached process: the job's id (or why there is none) goes up
 * the pipe to the command that started it, which then returns. */
static void detached_started(const char *job_id, void *ctx)
{
    int fd = *(int *)ctx;
    dprintf(fd, "%s\n", job_id);
    close(fd);
    *(int *)ctx = -1;
}

/* Runs O in a process of its own session, and returns as soon as the job
 * is recorded: the run goes on without this command (`tarn job logs ID`
 * follows it, `tarn job stop ID` stops it). */
static int run_detached(tarn_run_options *o)
{
    int p[2];
    if (pipe(p) != 0) {
        fprintf(stderr, "tarn: error: cannot start a detached run: %s\n", strerror(errno));
        return 1;
    }
    /* No lakehouse is open yet: this process has no threads to lose. */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "tarn: error: cannot start a detached run: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        setsid();
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
        int fd = p[1];
        o->on_line = NULL; /* the job's log has every line */
        o->on_job = detached_started;
        o->ctx = &fd;
        tarn_lake *lake = NULL;
        tarn_error err = TARN_ERROR_INIT;
        char *report = NULL;
        int rc = tarn_lake_open(&lake, NULL, &err);
        if (rc == 0) rc = tarn_run(&report, lake, o, &err);
        if (fd >= 0) dprintf(fd, "!%d\t%s\n", rc < 0 ? rc : TARN_ERROR, err.message);
        tarn_free(report);
        tarn_lake_close(&lake);
        _exit(rc < 0 ? 1 : 0);
    }
    close(p[1]);
    char line[TARN_MESSAGE_MAX + 64] = "";
    FILE *f = fdopen(p[0], "r");
    if (!f || !fgets(line, sizeof line, f)) line[0] = 0;
    if (f) fclose(f);
    line[strcspn(line, "\n")] = 0;
    if (line[0] == '!' || !line[0]) {
        tarn_error err = TARN_ERROR_INIT;
        char *tab = strchr(line, '\t');
        err.code = line[0] ? atoi(line + 1) : TARN_ERROR;
        snprintf(err.message, sizeof err.message, "%s",
                 tab ? tab + 1 : "the detached run stopped before its job started");
        waitpid(pid, NULL, 0);
        return out_fail(err.code, &err);
    }
    if (out_json_mode)
        out_json(json_pack("{s:s,s:s,s:b}", "job_id", line, "status", "running", "detached", 1));
    else
        printf("job %s started, detached: follow it with 'tarn job logs %s', stop it with 'tarn job "
               "stop %s'\n",
               line, line, line);
    return 0;
}
static int job_group(int argc, char **argv);

static int run_run(const cli_args *a)
{
    tarn_run_options o = g_opts;
    o.project_dir = cli_get(a, "project-dir") ? cli_get(a, "project-dir") : ".";
    o.branch = cli_get(a, "ref");
    o.dry_run = cli_has(a, "dry-run");
    o.strict = cli_has(a, "strict");
    o.no_transaction = cli_has(a, "no-transaction");
    o.preview_rows = cli_has(a, "preview") ? 5 : 0;
    o.namespace_ = cli_get(a, "namespace");
    const char *cache = cli_get(a, "cache");
    if (cache && strcmp(cache, "on") != 0 && strcmp(cache, "off") != 0)
        return cli_usage_error(a->cmd, "--cache takes on or off, not '%s'", cache);
    o.no_cache = cache && !strcmp(cache, "off");
    o.on_line = print_line;
    use_warm_runtime(&o);
    if (cli_has(a, "detach")) {
        if (o.dry_run) return cli_usage_error(a->cmd, "--detach runs a job: it cannot be a --dry-run");
        return run_detached(&o);
    }
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *report = NULL;
    int rc = tarn_run(&report, lake, &o, &err);
    return finish_run(lake, rc, report, &err, cli_get(a, "result"));
}

static const cli_cmd run_cmd = {
    .path = "run",
    .synopsis = "[-p DIR] [--ref BRANCH] [--namespace NS] [--dry-run] [--strict] [--preview] "
                "[--param K=V]... [--no-transaction] [--cache on|off] [--detach]",
    .summary = "Plan and run a project's Python and SQL models on a branch as one transaction: "
               "outputs are merged only if every model succeeds.",
    .opts = {{"project-dir", 'p', "DIR", "the project folder (default: the current folder)"},
             {"ref", 'r', "BRANCH", "the branch to run on (default: the active branch)"},
             {"namespace", 'n', "NS", "materialize models without a namespace of their own in NS"},
             {"dry-run", 0, NULL, "print the plan (DAG and scans) and run nothing"},
             {"strict", 0, NULL, "a failed expectation fails the run"},
             {"preview", 0, NULL, "show the first rows of each model's output"},
             {"param", 'P', "K=V", "set a parameter the project file declares (repeatable)"},
             {"no-transaction", 0, NULL, "write outputs directly on the branch"},
             {"cache", 0, "on|off", "off: run every model and read every source scan from its files, "
                                    "reusing and keeping nothing (default on: a model nothing changed "
                                    "for takes its last output; scans reuse kept results)"},
             {"detach", 0, NULL, "return once the job has started; it runs on in its own session"},
             {"result", 0, "FILE", "also write the outcome (code, message, report) as JSON to FILE"}},
    .example = "tarn run -p examples/quickstart --ref main --param min_usd=100",
};

int cmd_run(int argc, char **argv)
{
    const char **names, **values;
    char **owned;
    memset(&g_opts, 0, sizeof g_opts);
    g_opts.version = TARN_RUN_OPTIONS_VERSION;
    int rc;
    if (collect_params(&g_opts, &names, &values, &owned, &argc, argv) != 0)
        rc = cli_usage_error(&run_cmd, "--param takes NAME=VALUE");
    else
        rc = cli_run(&run_cmd, run_run, argc, argv);
    for (size_t i = 0; owned[i]; i++) free(owned[i]);
    free(owned);
    free(names);
    free(values);
    return rc;
}

/* ---- tarn job --------------------------------------------------------------------- */

static int job_ls(const cli_args *a)
{
    int64_t limit = 20;
    if (cli_get_int(&limit, a, "limit", 1)) return CLI_EXIT_USAGE;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_job_list(&text, lake, (size_t)limit, &err);
    if (rc == 0) {
        json_t *jobs = json_loads(text, 0, NULL);
        if (out_json_mode) {
            out_json(jobs);
        } else {
            out_table t;
            out_table_init(&t, 5);
            const char *head[] = {"JOB", "STATUS", "BRANCH", "STARTED", "COMMIT"};
            out_table_add(&t, head);
            size_t i;
            json_t *j;
            json_array_foreach(jobs, i, j)
            {
                char c[16] = "";
                const char *commit = json_string_value(json_object_get(j, "commit"));
                if (commit) out_short(c, commit);
                const char *row[] = {json_string_value(json_object_get(j, "id")),
                                     json_string_value(json_object_get(j, "status")),
                                     json_string_value(json_object_get(j, "branch")),
                                     json_string_value(json_object_get(j, "started")), c};
                out_table_add(&t, row);
            }
            out_table_print(&t, stdout, 0);
            out_table_free(&t);
            json_decref(jobs);
        }
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static int job_get(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_job_get(&text, lake, a->pos[0], &err);
    if (rc == 0) {
        json_t *job = json_loads(text, 0, NULL);
        if (out_json_mode) {
            out_json(job);
        } else {
            const char *keys[] = {"id", "status", "branch", "started", "ended", "commit", "input_commit", "error"};
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
                json_t *v = json_object_get(job, keys[i]);
                if (json_is_string(v)) printf("%-13s %s\n", keys[i], json_string_value(v));
            }
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(job, "tasks"), i, t)
                printf("  %-24s %-18s %lld rows%s\n", json_string_value(json_object_get(t, "name")),
                       json_string_value(json_object_get(t, "outcome")),
                       (long long)json_integer_value(json_object_get(t, "rows")),
                       json_is_true(json_object_get(t, "reused")) ? " (reused)" : "");
            json_decref(job);
        }
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static int job_logs(const cli_args *a)
{
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *text = NULL;
    int rc = tarn_job_logs(&text, lake, a->pos[0], &err);
    if (rc == 0) {
        if (out_json_mode)
            out_json(json_pack("{s:o,s:o}", "id", out_jstr(a->pos[0]), "logs", out_jstr(text)));
        else fputs(text, stdout);
    }
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd job_rerun_cmd;

static int job_rerun(const cli_args *a)
{
    tarn_run_options o = g_opts; /* its --param values */
    o.branch = cli_get(a, "ref");
    o.strict = cli_has(a, "strict");
    o.on_line = print_line;
    use_warm_runtime(&o);
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    char *report = NULL;
    int rc = tarn_job_rerun(&report, lake, a->pos[0], &o, &err);
    return finish_run(lake, rc, report, &err, cli_get(a, "result"));
}

/* `tarn job stop ID`: asks, then waits until the job has ended. */
static int job_stop(const cli_args *a)
{
    int64_t wait_s = 60;
    if (cli_get_int(&wait_s, a, "wait", 0)) return CLI_EXIT_USAGE;
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_job_cancel(lake, a->pos[0], &err);
    char *text = NULL;
    json_t *job = NULL;
    /* The job notices within a second; its end is recorded when its
     * workers are gone. */
    for (int64_t waited = 0; rc == 0; waited += 100) {
        json_decref(job);
        job = NULL;
        tarn_free(text);
        text = NULL;
        if ((rc = tarn_job_get(&text, lake, a->pos[0], &err)) < 0) break;
        job = json_loads(text, 0, NULL);
        const char *status = json_string_value(json_object_get(job, "status"));
        if (!status || strcmp(status, "running") != 0 || waited >= wait_s * 1000) break;
        usleep(100 * 1000);
    }
    if (rc == 0) {
        const char *id = json_string_value(json_object_get(job, "id"));
        const char *status = json_string_value(json_object_get(job, "status"));
        if (out_json_mode)
            out_json(json_pack("{s:s?,s:s?}", "id", id, "status", status));
        else if (status && !strcmp(status, "running"))
            printf("asked job %s to stop; it is still running (see 'tarn job get %s')\n", id, id);
        else
            printf("job %s %s\n", id, status ? status : "ended");
    }
    json_decref(job);
    tarn_free(text);
    return cli_done(&lake, rc, &err);
}

static const cli_cmd job_ls_cmd = {
    .path = "job ls", .synopsis = "[--limit N]", .summary = "List runs, newest first.",
    .opts = {{"limit", 'n', "N", "at most N jobs (default 20)"}}, .example = "tarn job ls -n 5"};
static const cli_cmd job_get_cmd = {
    .path = "job get", .synopsis = "ID", .summary = "Show a run: status, branch, commit, tasks.",
    .pos = {"ID"}, .min_pos = 1, .example = "tarn job get 3f2a9c1b"};
static const cli_cmd job_logs_cmd = {
    .path = "job logs", .synopsis = "ID", .summary = "Print a run's log: the plan, task outcomes and user prints.",
    .pos = {"ID"}, .min_pos = 1, .example = "tarn job logs 3f2a9c1b"};
static const cli_cmd job_stop_cmd = {
    .path = "job stop", .synopsis = "ID [--wait SECONDS]",
    .summary = "Stop a running job: its tasks are killed, nothing of it is committed, its run "
               "branch is kept aborted and the job ends \"cancelled\". Waits until it has ended.",
    .pos = {"ID"}, .min_pos = 1,
    .opts = {{"wait", 0, "SECONDS", "wait at most this long for the job to end (default 60; 0: "
                                    "do not wait)"}},
    .example = "tarn job stop 3f2a9c1b"};
static const cli_cmd job_rerun_cmd = {
    .path = "job rerun", .synopsis = "ID [--ref BRANCH] [--strict] [--param K=V]...",
    .summary = "Run a job's code again, reading sources at the job's input commit, with its "
               "parameter values (secrets are not recorded: give them again).",
    .pos = {"ID"}, .min_pos = 1,
    .opts = {{"ref", 'r', "BRANCH", "run on this branch (default: the job's)"},
             {"strict", 0, NULL, "a failed expectation fails the run"},
             {"param", 'P', "K=V", "a parameter value instead of the job's (repeatable)"},
             {"result", 0, "FILE", "also write the outcome (code, message, report) as JSON to FILE"}},
    .example = "tarn job rerun 3f2a9c1b"};

int cmd_job(int argc, char **argv)
{
    memset(&g_opts, 0, sizeof g_opts);
    g_opts.version = TARN_RUN_OPTIONS_VERSION;
    const char **names = NULL, **values = NULL;
    char **owned = NULL;
    if (argc > 0 && !strcmp(argv[0], "rerun") &&
        collect_params(&g_opts, &names, &values, &owned, &argc, argv) != 0) {
        for (size_t i = 0; owned && owned[i]; i++) free(owned[i]);
        free(owned), free(names), free(values);
        return cli_usage_error(&job_rerun_cmd, "--param takes NAME=VALUE");
    }
    int rc = job_group(argc, argv);
    for (size_t i = 0; owned && owned[i]; i++) free(owned[i]);
    free(owned);
    free(names);
    free(values);
    return rc;
}

static int job_group(int argc, char **argv)
{
    static const cli_sub subs[] = {{"ls", &job_ls_cmd, job_ls},
                                   {"get", &job_get_cmd, job_get},
                                   {"logs", &job_logs_cmd, job_logs},
                                   {"rerun", &job_rerun_cmd, job_rerun},
                                   {"stop", &job_stop_cmd, job_stop},
                                   {NULL, NULL, NULL}};
    return cli_run_group("job", "Inspect, replay and stop pipeline runs.", subs, argc, argv);
}
