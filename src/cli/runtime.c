/* runtime.c — `tarn runtime serve|status|stop`: the warm runtime, a
 * per-user process that keeps warm Python parents between runs. `tarn run`
 * starts it on first use (as `tarn runtime serve`); it exits by itself
 * after an idle time. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

int cli_self_exe(char *out, size_t size)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return -1;
    path[n] = 0;
    snprintf(out, size, "%s", path);
    return 0;
}

static int runtime_serve(const cli_args *a)
{
    int64_t idle = 0;
    if (cli_get_int(&idle, a, "idle", 1)) return CLI_EXIT_USAGE;
    char exe[PATH_MAX];
    tarn_error err = TARN_ERROR_INIT;
    if (cli_self_exe(exe, sizeof exe) != 0) {
        fprintf(stderr, "tarn: error: cannot tell which program this is (/proc/self/exe)\n");
        return 1;
    }
    int rc = tarn_runtime_serve(exe, (double)idle, &err);
    return rc < 0 ? out_fail(rc, &err) : 0;
}

static int runtime_status(const cli_args *a)
{
    (void)a;
    char exe[PATH_MAX], *text = NULL;
    tarn_error err = TARN_ERROR_INIT;
    if (cli_self_exe(exe, sizeof exe) != 0) return 1;
    int rc = tarn_runtime_status(&text, exe, &err);
    if (rc < 0) return out_fail(rc, &err);
    json_t *st = json_loads(text, 0, NULL);
    tarn_free(text);
    if (out_json_mode) {
        out_json(st);
        return 0;
    }
    printf("warm runtime %lld on %s (exits after %g s idle)\n",
           (long long)json_integer_value(json_object_get(st, "pid")),
           json_string_value(json_object_get(st, "socket")),
           json_number_value(json_object_get(st, "idle_seconds")));
    size_t i;
    json_t *z;
    json_array_foreach(json_object_get(st, "zygotes"), i, z)
        printf("  %-8lld %-9s %s\n", (long long)json_integer_value(json_object_get(z, "pid")),
               json_string_value(json_object_get(z, "state")),
               json_string_value(json_object_get(z, "python")));
    json_t *scans = json_object_get(st, "scans");
    if (scans)
        printf("  scan results kept in memory: %lld (%.1f of %.0f MiB)\n",
               (long long)json_integer_value(json_object_get(scans, "entries")),
               (double)json_integer_value(json_object_get(scans, "bytes")) / 1048576.0,
               (double)json_integer_value(json_object_get(scans, "max_bytes")) / 1048576.0);
    json_decref(st);
    return 0;
}

static int runtime_stop(const cli_args *a)
{
    (void)a;
    char exe[PATH_MAX];
    tarn_error err = TARN_ERROR_INIT;
    if (cli_self_exe(exe, sizeof exe) != 0) return 1;
    int rc = tarn_runtime_stop(exe, &err);
    if (rc < 0) return out_fail(rc, &err);
    if (out_json_mode)
        out_json(json_pack("{s:b}", "stopped", 1));
    else
        printf("stopped the warm runtime\n");
    return 0;
}

static const cli_cmd serve_cmd = {
    .path = "runtime serve",
    .synopsis = "[--idle SECONDS]",
    .summary = "Run the warm runtime in the foreground (tarn run starts it by itself): it keeps "
               "warm Python parents for runs and exits after SECONDS without any (default: "
               "TARN_RUNTIME_IDLE, else 600).",
    .opts = {{"idle", 0, "SECONDS", "exit after this long without a run"}},
    .example = "tarn runtime serve --idle 60",
};
static const cli_cmd status_cmd = {
    .path = "runtime status",
    .synopsis = "",
    .summary = "Show the warm runtime and the Python parents it holds or has lent.",
    .example = "tarn -O json runtime status",
};
static const cli_cmd stop_cmd = {
    .path = "runtime stop",
    .synopsis = "",
    .summary = "Stop the warm runtime and the Python parents it holds (runs in progress keep "
               "theirs).",
    .example = "tarn runtime stop",
};

int cmd_runtime(int argc, char **argv)
{
    static const cli_sub subs[] = {{"serve", &serve_cmd, runtime_serve},
                                   {"status", &status_cmd, runtime_status},
                                   {"stop", &stop_cmd, runtime_stop},
                                   {NULL, NULL, NULL}};
    return cli_run_group("runtime", "The warm runtime: Python parents kept warm between runs.",
                         subs, argc, argv);
}
