/* server/server.h — `tarn serve`: the lakehouse over HTTP (/api/v1/), on
 * the public API only, like the command line.
 *
 * Arranged as: http.c (libmicrohttpd: connections, bodies, limits,
 * responses, the request log, shutdown), route.c (the route table and
 * mounted prefixes), auth.c (tokens and rights), gate.c (bounded slots
 * with a queue for queries and runs), lakes.c (a pool of lake handles),
 * metrics.c, tar.c (project archives) and one api_*.c per resource. */
#ifndef TARN_SERVER_H
#define TARN_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <tarn/tarn.h>

#include "cli/output.h"

typedef struct srv_options {
    const char *lake_dir; /* the .tarn folder */
    const char *host;     /* "127.0.0.1" */
    int port;             /* 0: any free port (printed) */
    const char *tls_cert, *tls_key; /* PEM files; both or neither */
    const char *tarn_exe;           /* this program, for runs */
    int max_connections;
    int connection_timeout_s; /* a client idle this long is dropped */
    int64_t max_body;         /* JSON bodies */
    int64_t max_upload;       /* imported files, project archives */
    int max_queries, max_runs;  /* running at once */
    int queue;                  /* waiting at most; more: 429 */
    int queue_wait_s;           /* waited at most in the queue; then 429 */
    int64_t query_timeout_ms;
    int64_t query_memory;
    int query_threads;
    const char *port_file; /* where the bound port is written, for scripts */
    const char *iceberg_register_root; /* the folder Iceberg REST registers read under; NULL: off */
} srv_options;

typedef struct srv_gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int running, waiting, max, queue;
} srv_gate;

typedef struct srv_metrics {
    pthread_mutex_t mu;
    uint64_t requests[6]; /* by status class: 1xx..5xx, [0] others */
    uint64_t buckets[12]; /* request latency histogram */
    double latency_sum;
    uint64_t latency_count;
    uint64_t bytes_out;
    uint64_t rejected_busy, rejected_auth;
} srv_metrics;

typedef struct srv_run srv_run;

/* Why a streamed answer was cut (its status was sent before the failure):
 * kept for the client that asks (GET /api/v1/failures/{id}), a few. */
enum { SRV_FAILURES = 32 };
typedef struct srv_failure {
    char id[33];   /* the request's X-Tarn-Request */
    char user[256]; /* only they may read it */
    json_t *error; /* {"code", "message"} */
} srv_failure;

typedef struct srv {
    srv_options o;
    struct MHD_Daemon *daemon;
    srv_gate queries, runs;
    srv_metrics metrics;
    pthread_mutex_t mu; /* lakes, runs, in_flight */
    pthread_cond_t idle;
    tarn_lake **lakes; /* idle handles */
    size_t nlakes, caplakes;
    srv_run *run_list;
    int in_flight;
    int stopping;
    char scratch[4096]; /* .tarn/server: uploads and projects in flight */
    srv_failure failures[SRV_FAILURES]; /* a ring, under mu */
    int next_failure;
} srv;

/* Runs the server until SIGTERM or SIGINT; 0 after a clean shutdown. */
int srv_main(const srv_options *o);

/* ---- requests ------------------------------------------------------------ */

typedef struct srv_req srv_req;
typedef int (*srv_handler)(srv_req *r);

enum srv_body { SRV_BODY_NONE = 0, SRV_BODY_JSON = 1, SRV_BODY_FILE = 2 };
enum srv_right { SRV_PUBLIC = 0, SRV_TOKEN = 1, SRV_ADMIN = 2 };

typedef struct srv_route {
    const char *method;
    const char *pattern; /* "/api/v1/tables/{name}"; a last "{name*}" takes the rest */
    srv_handler fn;
    int body;  /* enum srv_body */
    int right; /* enum srv_right: what is checked before the handler runs */
} srv_route;

#define SRV_MAX_PARAMS 4

struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    const char *method;
    char *path;
    const srv_route *route;
    char *pnames[SRV_MAX_PARAMS];
    char *pvals[SRV_MAX_PARAMS];
    tarn_token_info tok;
    int authed;
    /* the body */
    char *body;
    size_t body_len, body_cap;
    int body_fd;
    char body_path[4200];
    int too_big;
    json_t *json; /* a JSON body, parsed */
    /* the answer */
    int answered;
    int timeout_set; /* the handler chose its connection's idle timeout */
    int status;
    int64_t start_us;
    char user[64];
    char id[33]; /* sent as X-Tarn-Request */
};

/* A path parameter, a query argument, a header (NULL when absent). */
const char *srv_param(srv_req *r, const char *name);
const char *srv_arg(srv_req *r, const char *name);
const char *srv_header(srv_req *r, const char *name);
/* A member of the JSON body as a string (NULL when absent or not one). */
const char *srv_body_str(srv_req *r, const char *key);
/* An integer argument or body member; DEF when absent. -1 when bad. */
int srv_int(int64_t *out, srv_req *r, const char *name, int64_t def);
/* A flag argument or body member ("1", "true", true). */
int srv_flag(srv_req *r, const char *name);
/* The commit options a write request gives: message, body and properties
 * (JSON text), each a body member or else a query argument; borrowed from
 * the request. */
tarn_commit_options srv_commit_options(srv_req *r);

/* Answers. Each returns 0; a handler returns what they return. */
int srv_reply_json(srv_req *r, int status, json_t *body);
int srv_reply_error(srv_req *r, int rc, tarn_error *err);
int srv_reply_msg(srv_req *r, int status, const char *code, const char *message);
/* Streams: READ fills BUF (at most MAX bytes) and returns the count, 0 at
 * the end, -1 on a failure (the connection is cut, so that a truncated
 * body is never taken as whole); FREE releases CLS once done. */
int srv_reply_stream(srv_req *r, int status, const char *type, ssize_t (*read)(void *cls, char *buf, size_t max),
                     void *cls, void (*free_cls)(void *cls));
/* The same; when READ fails, FAILURE (if it gives one) says why, and the
 * client that asks is told (GET /api/v1/failures/{id}: see failure_get). */
int srv_reply_stream_why(srv_req *r, int status, const char *type,
                         ssize_t (*read)(void *cls, char *buf, size_t max), void *cls,
                         void (*free_cls)(void *cls), const tarn_error *(*failure)(void *cls));
/* The route that tells a client why its stream was cut. */
extern const srv_route srv_api_failures[];
/* NBYTES (at most 32) random bytes as hex into OUT (2 * NBYTES + 1
 * chars); -1 when the system gives no randomness. */
int srv_random_hex(char *out, size_t nbytes);
/* The idle timeout of R's connection becomes SECONDS (0: none) from now:
 * a streamed answer may be silent while it is made (a query's first rows,
 * a run's quiet minutes), which the timeout for idle clients would cut. */
void srv_set_timeout(srv_req *r, unsigned seconds);
/* Sends the file open at FD (taken over) with an extra header NAME: VALUE
 * (NAME may be NULL). */
int srv_reply_file(srv_req *r, int status, const char *type, int fd, const char *name,
                   const char *value);
/* Sends LEN bytes from OFFSET of the file open at FD (taken over), of
 * TOTAL bytes in all, as 206 Partial Content with its Content-Range. */
int srv_reply_file_part(srv_req *r, const char *type, int fd, int64_t offset, int64_t len, int64_t total);
/* S as a JSON string, bytes that are not UTF-8 replaced (the command
 * line's own helper: the server is built into the same program). */
#define srv_jstr out_jstr

/* ---- rights (auth.c) ----------------------------------------------------- */

/* 0 or, after answering 403, -1. A NULL ref is the server's active branch. */
int srv_need_read(srv_req *r, tarn_lake *lake, const char *ref);
int srv_need_write(srv_req *r, tarn_lake *lake, const char *branch);
int srv_need_admin(srv_req *r);
/* Checks the Authorization header; 0 with r->tok filled, or -1 after 401. */
int srv_authenticate(srv_req *r);

/* ---- lakes, gates, metrics ------------------------------------------------ */

/* A lake handle for this request, its commits authored by the token's user. */
int srv_lake_get(tarn_lake **out, srv_req *r, tarn_error *err);
void srv_lake_put(srv *s, tarn_lake *lake);
/* In a handler: declares LAKE, taken for R, or answers the failure. */
#define SRV_TAKE_LAKE(r, lake)                                                                               \
    tarn_lake *lake = NULL;                                                                                  \
    do {                                                                                                     \
        tarn_error e_ = TARN_ERROR_INIT;                                                                     \
        int rc_ = srv_lake_get(&lake, r, &e_);                                                               \
        if (rc_ < 0) return srv_reply_error(r, rc_, &e_);                                                    \
    } while (0)
/* Gives LAKE back and ends the handler when CHECK (a srv_need_* call)
 * refused and answered. */
#define SRV_RIGHT(r, lake, check)                                                                            \
    do {                                                                                                     \
        if ((check) < 0) {                                                                                   \
            srv_lake_put((r)->s, lake);                                                                      \
            return 0;                                                                                        \
        }                                                                                                    \
    } while (0)
/* Gives LAKE back and answers RC's failure with ERR, or runs on. */
#define SRV_DONE_ON_ERROR(r, lake, rc, err)                                                                  \
    do {                                                                                                     \
        if ((rc) < 0) {                                                                                      \
            srv_lake_put((r)->s, lake);                                                                      \
            return srv_reply_error(r, rc, err);                                                              \
        }                                                                                                    \
    } while (0)
void srv_lakes_close(srv *s);

void srv_gate_init(srv_gate *g, int max, int queue);
/* Takes a slot, waiting in the queue up to WAIT_S; -1 when the queue is
 * full or the wait ran out (answer 429). */
int srv_gate_enter(srv_gate *g, int wait_s);
void srv_gate_leave(srv_gate *g);
/* Answers 429 with Retry-After. */
int srv_reply_busy(srv_req *r, const char *what);

void srv_metrics_record(srv_metrics *m, int status, double seconds, uint64_t bytes);
int srv_metrics_render(srv *s, char **out);

/* ---- routes ---------------------------------------------------------------- */

/* Finds the route for METHOD and PATH, filling R's parameters; NULL with
 * *status 404 or 405. */
const srv_route *srv_route_find(srv_req *r, const char *method, const char *path, int *status);
/* Calls FN with every route (for GET /api/v1/routes, which a test checks
 * against the API's description). */
void srv_routes_each(void (*fn)(const srv_route *rt, void *ctx), void *ctx);

/* Route tables of each resource (api_*.c); MOUNTS lists them with their
 * prefix, so another module can mount its own under a prefix of its own. */
extern const srv_route srv_api_refs[], srv_api_tables[], srv_api_query[], srv_api_runs[], srv_api_admin[];
/* The Iceberg REST catalog under /iceberg/ (api_iceberg.c). */
extern const srv_route srv_api_iceberg[];

/* ---- runs (api_runs.c) ------------------------------------------------------ */

/* Before any thread: the process's environment, which runs inside the
 * server and the workers they start inherit, loses what would point them
 * elsewhere or hand them a credential. */
void srv_runs_init(srv *s);
/* Stops every run still going (shutdown) and waits for them to settle. */
void srv_runs_stop(srv *s);

/* ---- project archives (tar.c) ------------------------------------------------ */

/* Unpacks the tar archive at ARCHIVE into the empty folder DIR: regular
 * files and folders only, no absolute name, no `..`, no link, at most
 * MAX_FILES files and MAX_BYTES bytes in all. TARN_EINVALID names the
 * first bad entry; DIR may then hold part of it (the caller removes it). */
int srv_tar_extract(const char *archive, const char *dir, size_t max_files, int64_t max_bytes, tarn_error *err);
/* Removes the folder PATH and everything in it. */
void srv_rmtree(const char *path);

#endif
