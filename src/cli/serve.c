/* serve.c — `tarn serve`: this lakehouse over HTTP for users with tokens
 * (src/server/). Options set the address, TLS and the limits. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "server/server.h"

static int get_size(int64_t *out, const cli_args *a, const char *name, int64_t min)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end;
    double n = strtod(v, &end);
    int64_t mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1 << 10;
    else if (*end == 'm' || *end == 'M') mult = 1 << 20;
    else if (*end == 'g' || *end == 'G') mult = 1 << 30;
    if ((*end && mult == 1) || (mult > 1 && end[1] && strcmp(end + 1, "B") != 0 && strcmp(end + 1, "iB") != 0) ||
        n < (double)min / (double)mult)
        return cli_usage_error(a->cmd, "--%s takes a size such as 512K, 64M or 2G", name);
    *out = (int64_t)(n * (double)mult);
    return 0;
}

static int run_serve(const cli_args *a)
{
    /* The server serves this host's lakehouse: a TARN_REMOTE naming some
     * server (perhaps this one) is for clients, not for it. */
    unsetenv("TARN_REMOTE");
    unsetenv("TARN_TOKEN");
    tarn_lake *lake;
    if (cli_open_lake(&lake)) return 1;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", tarn_lake_path(lake));
    tarn_lake_close(&lake);
    srv_options o = {0};
    o.lake_dir = dir;
    o.host = "127.0.0.1";
    o.port = 8181;
    o.max_connections = 512;
    o.connection_timeout_s = 30;
    o.max_body = 1 << 20;
    o.max_upload = (int64_t)1 << 30;
    o.max_queries = 8;
    o.max_runs = 2;
    o.queue = 64;
    o.queue_wait_s = 30;
    o.query_timeout_ms = 300000;
    o.query_memory = (int64_t)4 << 30;
    o.query_threads = 2;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "tarn: error: cannot find this program's path (/proc/self/exe)\n");
        return 1;
    }
    exe[n] = 0;
    o.tarn_exe = exe;
    char host[256];
    const char *listen = cli_get(a, "listen");
    if (listen) {
        const char *colon = strrchr(listen, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == listen || *end || port < 0 || port > 65535 || (size_t)(colon - listen) >= sizeof host)
            return cli_usage_error(a->cmd, "--listen takes HOST:PORT, such as 127.0.0.1:8181 (port 0: any free one)");
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        o.host = host;
        o.port = (int)port;
    }
    o.tls_cert = cli_get(a, "tls-cert");
    o.tls_key = cli_get(a, "tls-key");
    if (!o.tls_cert != !o.tls_key) return cli_usage_error(a->cmd, "--tls-cert and --tls-key go together");
    int64_t v;
    int rc = 0;
    if (!rc && !(rc = cli_get_int(&v, a, "max-queries", 1)) && cli_get(a, "max-queries")) o.max_queries = (int)v;
    if (!rc && !(rc = cli_get_int(&v, a, "max-runs", 1)) && cli_get(a, "max-runs")) o.max_runs = (int)v;
    if (!rc && !(rc = cli_get_int(&v, a, "queue", 0)) && cli_get(a, "queue")) o.queue = (int)v;
    if (!rc && !(rc = cli_get_int(&v, a, "idle-timeout", 1)) && cli_get(a, "idle-timeout")) o.connection_timeout_s = (int)v;
    if (!rc && !(rc = cli_get_int(&v, a, "query-timeout", 1)) && cli_get(a, "query-timeout")) o.query_timeout_ms = v * 1000;
    if (!rc) rc = get_size(&o.query_memory, a, "query-memory", 16 << 20);
    if (!rc) rc = get_size(&o.max_body, a, "max-body", 1024);
    if (!rc) rc = get_size(&o.max_upload, a, "max-upload", 1024);
    if (rc) return rc;
    o.port_file = cli_get(a, "port-file");
    o.iceberg_register_root = cli_get(a, "iceberg-register-root");
    return srv_main(&o) == 0 ? 0 : 1;
}

static const cli_cmd serve_cmd = {
    .path = "serve",
    .synopsis = "[--listen HOST:PORT] [--tls-cert C --tls-key K] [limits]",
    .summary = "Serve this lakehouse over HTTP: the API under /api/v1/ (docs/api.md) for users with "
               "tokens (tarn token create), /metrics for Prometheus. Logs one line per request on "
               "stderr; SIGTERM stops it gracefully.",
    .opts = {{"listen", 0, "HOST:PORT", "address to listen on (default 127.0.0.1:8181; port 0: any free one)"},
             {"tls-cert", 0, "FILE", "TLS certificate (PEM): serve https"},
             {"tls-key", 0, "FILE", "TLS private key (PEM)"},
             {"max-queries", 0, "N", "queries running at once (default 8)"},
             {"max-runs", 0, "N", "runs at once (default 2)"},
             {"queue", 0, "N", "requests waiting for a slot at most, beyond that 429 (default 64)"},
             {"query-timeout", 0, "SECONDS", "a query running longer is stopped (default 300)"},
             {"query-memory", 0, "SIZE", "memory one query may use (default 4G)"},
             {"max-body", 0, "SIZE", "largest JSON request body (default 1M)"},
             {"max-upload", 0, "SIZE", "largest imported file or project archive (default 1G)"},
             {"idle-timeout", 0, "SECONDS", "a connection silent this long is closed (default 30)"},
             {"port-file", 0, "FILE", "write the port listened on to FILE once listening"},
             {"iceberg-register-root", 0, "DIR",
              "let the Iceberg catalog register tables whose metadata and data files are under "
              "DIR (default: registering through the server is off)"}},
    .example = "tarn serve --listen 0.0.0.0:8181 --tls-cert cert.pem --tls-key key.pem",
};

int cmd_serve(int argc, char **argv)
{
    return cli_run(&serve_cmd, run_serve, argc, argv);
}
