/* runtime/warm.h — the warm runtime: a small per-user process that keeps
 * warm Python parents (zygotes, python/tarn/worker.py) between runs and
 * lends them to runs, so that a run pays neither the interpreter's start-up
 * nor numpy's and pandas' imports.
 *
 * It only starts zygotes and holds them while idle; a run that borrows one
 * talks to it directly, exactly as to a zygote of its own, and every task
 * is confined and limited in the worker after the fork, as always. A
 * zygote is started with the borrower's own interpreter, arguments,
 * environment, folder, umask and resource limits, and lent only to a run
 * asking for exactly those (the key is their hash) — of the environment,
 * the variables that shape an interpreter as it starts (PYTHON*, LD_*,
 * locale, HOME, TZ, TMPDIR, thread counts of numerical libraries, TARN_*);
 * every worker gets its caller's whole environment with its call. The server keeps the
 * same machinery warm (tarn serve): it embeds tarn__warm_serve or connects
 * like a run does.
 *
 * Protocol (docs/speed.md): SOCK_SEQPACKET Unix socket
 * TARN_RUNTIME_DIR (else $XDG_RUNTIME_DIR/tarn, else /tmp/tarn-UID; a
 * folder of the user's own, mode 0700) / warm-ID.sock, where ID names the
 * tarn program serving it; one JSON message a packet (util/packet.h):
 *   {"op": "lease", "key", "spec"} -> {"ok", "pid", "ready"} + the
 *       zygote's control socket (now the borrower's: when the borrower
 *       closes it, the zygote kills its workers and exits);
 *   {"op": "release", "pid", "ready"} + the control socket: back to idle
 *       (the borrower has waited for every worker it forked);
 *   {"op": "status"} -> {"ok", "pid", "socket", "idle_seconds",
 *       "zygotes": [{"pid", "key", "python", "state"}]};
 *   {"op": "scan_put", "key"} + a sealed memfd -> {"ok"}: a scan result
 *       kept hot (runtime/scancache.c; at most 64, an eighth of the
 *       memory, the least recently used going first);
 *   {"op": "scan_get", "key"} -> {"ok"} + that memfd, or not ok;
 *   {"op": "stop"} -> {"ok"}, then it exits. */
#ifndef TARN_RUNTIME_WARM_H
#define TARN_RUNTIME_WARM_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "tarn/common.h"

/* The socket of the warm runtime that program EXE serves into OUT.
 * TARN_EINVALID when no folder of the user's own can hold it. */
int tarn__warm_socket(char *out, size_t size, const char *exe, tarn_error *err);

/* A connection to the warm runtime of EXE (started as `EXE runtime serve`
 * when START and it is not running), or -1: the caller then starts its own
 * zygotes. TARN_RUNTIME=off turns it off. */
int tarn__warm_connect(const char *exe, int start);

/* Borrows a zygote started as SPEC says ({"python", "argv", "env", "cwd",
 * "umask", "rlimits", "key_env"}) over connection CONN: *ctrl its control
 * socket (the caller's to close or release), *pid, *ready whether its warm
 * message was already read. Zygotes are lent for the same SPEC but "env":
 * "key_env" holds the entries of env that shape the interpreter as it
 * starts. 0, or -1 when the runtime could not lend one. */
int tarn__warm_lease(int *ctrl, pid_t *pid, int *ready, int conn, json_t *spec);
/* Gives a borrowed zygote back; CTRL is closed. */
void tarn__warm_release(int conn, int ctrl, pid_t pid, int ready);

/* A scan result kept hot under KEY (64 hex digits) over connection CONN:
 * a sealed memfd (the caller's to close), or -1. */
int tarn__warm_hot_get(int conn, const char *key);
/* Keeps sealed memfd FD (still the caller's) hot under KEY. */
void tarn__warm_hot_put(int conn, const char *key, int fd);

/* Serves the warm runtime of EXE until idle for IDLE_S seconds with no
 * borrower, or told to stop. TARN_EEXISTS when one already serves. */
int tarn__warm_serve(const char *exe, double idle_s, tarn_error *err);
/* The runtime's status as JSON (see the protocol); TARN_ENOTFOUND when it
 * is not running. */
int tarn__warm_status(char **json, const char *exe, tarn_error *err);
/* Stops it (and its idle zygotes); TARN_ENOTFOUND when not running. */
int tarn__warm_stop(const char *exe, tarn_error *err);

#endif
