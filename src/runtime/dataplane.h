/* runtime/dataplane.h — moving tables between the run's DuckDB session and
 * Python workers: query results exported as sealed shared-memory Arrow
 * tables, worker results mapped back and exposed to DuckDB as views. */
#ifndef TARN_RUNTIME_DATAPLANE_H
#define TARN_RUNTIME_DATAPLANE_H

#include <jansson.h>

#include "sql/engine.h"

typedef struct tarn_rt_session tarn_rt_session;

typedef struct tarn_rt_input {
    const char *param; /* the function's argument name */
    int fd;            /* a sealed memfd holding one Arrow IPC stream */
    json_t *columns;   /* NULL, or the columns the function sees (the worker selects them) */
    const char *format; /* NULL, or how the function sees the table: "pyarrow", "polars", "tarn" */
} tarn_rt_input;

/* An assembled environment: an interpreter and cache entries put after the
 * standard library and ahead of its site-packages. NULL members: the base
 * interpreter as it is. */
typedef struct tarn_rt_env {
    const char *id;     /* the environment's id (hash of interpreter + pins) */
    const char *python; /* interpreter path */
    json_t *paths;      /* array of cache entry folders */
} tarn_rt_env;

/* The key of the warm parent (zygote) ENV's workers come from: its id, or
 * "base" for the base interpreter's (NULL, or an environment that adds no
 * package and names no other interpreter). */
const char *tarn__rt_parent_key(const tarn_rt_env *env);

typedef struct tarn_rt_call {
    const char *file;     /* the project's .py file */
    const char *function; /* the function's name in it */
    const char *model;    /* the model's name (labels its output lines) */
    int expectation;      /* the function returns a bool, not a table */
    tarn_rt_input *inputs;
    size_t ninputs;
    json_t *params; /* {argument: value} for tarn.Parameter defaults */
    const tarn_rt_env *env; /* NULL: the base environment */
    /* @tarn.resources: {"memory_mb", "timeout_s", "cpus"}, each may be
     * missing or null (then run.memory_limit_mb, run.timeout_s, run.cpus
     * of .tarn/config apply). NULL: none declared. */
    json_t *resources;
    int internet; /* @tarn.model(internet_access=True) */
    json_t *columns; /* @tarn.model(columns=[...]): the output's columns, exactly; NULL: any */
    int ahead;       /* a call of the same environment is likely to follow: fork its worker now */
} tarn_rt_call;

/* WARM: start the Python parent now, so it warms up while the run plans.
 * EXE (may be NULL): the tarn program whose warm runtime (runtime/warm.h)
 * lends warm parents, started if not running; without it, or when it
 * cannot lend, the session starts its own. Refuses run.memory_limit_mb,
 * run.timeout_s, run.cpus or run.confine values that make no sense,
 * before anything runs. */
int tarn__rt_open(tarn_rt_session **out, tarn_lake *lake, int warm, const char *exe,
                  tarn_error *err);
/* Two "K=V" environment entries (malloc'd) that make `python3 -m
 * tarn.discover` run the project's top level confined like a model, within
 * run.timeout_s: TARN_CONFINE and TARN_DISCOVER_TIMEOUT. */
int tarn__rt_discover_env(char *out[2], tarn_lake *lake, const char *project_dir, tarn_error *err);

/* Runs `python3 -m tarn.discover FILES` as a child of the base
 * environment's warm parent, with the NAME=VALUE entries ENV added to its
 * environment: its stdout and stderr (malloc'd) and its wait status, as
 * tarn__proc_capture gives them, without the interpreter's start-up. */
int tarn__rt_discover(char **out, char **errout, int *status, tarn_rt_session *s,
                      char *const *files, size_t n, char *const *env, tarn_error *err);

/* Cancels the session's calls (any thread may call it): running workers
 * are stopped, and each of their calls fails with TARN_EABORTED; calls
 * that start later do not start. NULL allowed. */
void tarn__rt_cancel(tarn_rt_session *s);

/* Releases every mapped table and stops the workers (settling first).
 * NULL allowed. */
void tarn__rt_close(tarn_rt_session **s);

/* Calls a Python function in a worker, confined (python/tarn/confine.py:
 * it cannot open the lakehouse, writes only to a scratch folder, has no
 * network unless CALL->internet) and under its limits. A model's result
 * becomes view CALL->model in D (kept mapped by the session until it
 * closes) and *rows its row count; an expectation's result goes to
 * *verdict (1 passed, 0 failed). The function's output lines go to ON_LINE
 * labelled `model @ file:line | text` (cut at 8 KiB, invalid UTF-8
 * escaped). A function that raises, crashes, passes a limit or returns
 * something else is TARN_EUSER saying which; a longer traceback keeps its
 * end (its full text goes to ON_LINE). It returns once the result is in:
 * the worker's processes end and its supervisor accounts for them
 * afterwards, and ON_LINE may still be called until tarn__rt_settle. */
int tarn__rt_call(int64_t *rows, int *verdict, tarn_rt_session *s, tarn_duck *d,
                  const tarn_rt_call *call, void (*on_line)(const char *line, void *ctx), void *ctx,
                  tarn_error *err);

/* Forks the worker of a call like CALL now (only its environment,
 * resources, internet access and file count), so that the call finds it
 * ready; a call of another policy forks its own, and one never made is
 * let go when the session closes. A worker's time limit runs from its
 * fork: one waits for its call only while that has used at most 1% of
 * it. */
void tarn__rt_prefork(tarn_rt_session *s, const tarn_rt_call *call);

/* Scan results kept hot by the warm runtime (runtime/warm.h), when the
 * session has one: a sealed memfd kept under KEY, or -1; and keeping one
 * (FD stays the caller's). */
int tarn__rt_hot_get(tarn_rt_session *s, const char *key);
void tarn__rt_hot_put(tarn_rt_session *s, const char *key, int fd);

/* Waits for every call that returned to end: its processes gone, its
 * last output lines passed on. TARN_EUSER when a supervisor ended without
 * accounting for its call (nothing then vouches that the model and what
 * it started are gone), told as tarn__rt_call tells it: a run must not
 * commit on that. */
int tarn__rt_settle(tarn_rt_session *s, tarn_error *err);

/* A duplicate of the sealed memfd holding Python model MODEL's output (the
 * caller closes it), or -1: a child that reads it whole gets it as is. */
int tarn__rt_output_fd(tarn_rt_session *s, const char *model);

/* Makes the output of Python model NAME, received on another connection,
 * a view on D's connection too; for a model ns.t, view t of schema ns,
 * which every connection sees (call it once the model has run). */
int tarn__rt_attach(tarn_duck *d, const char *name, tarn_error *err);

#endif
