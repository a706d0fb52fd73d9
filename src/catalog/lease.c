/* catalog/lease.c — this process's lease on the catalog, its claims, and
 * settling what dead processes left behind (docs/gc.md).
 *
 * A process that uploads data or runs a job takes one lease: a catalog row
 * with an expiry that a heartbeat thread renews (on a catalog connection
 * of its own, so it never joins the caller's transactions). Uploads in
 * flight and environments in use are claims under the lease; gc respects
 * claims of live leases only. A lease that expires is dead for good: a
 * stalled process that wakes up finds its lease gone and refuses to commit
 * what it uploaded (gc may have taken it).
 *
 * Expiry is the rule on every host. On the host (boot) and in the PID
 * namespace where a lease was taken, a holder process that is gone is
 * known at once, so its lease is ended without waiting; a process seen
 * from another PID namespace or host is never judged by its PID. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "lake/joblog.h"
#include "util/error.h"
#include "util/util.h"

#define DEFAULT_TTL_S 60

/* ---- who we are --------------------------------------------------------------------- */

static void read_line(char *out, size_t size, const char *path)
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)size, f)) out[strcspn(out, "\n")] = 0;
    fclose(f);
}

static void pid_namespace(char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/ns/pid", out, size - 1);
    out[n > 0 ? n : 0] = 0;
}

/* Start time of PID in clock ticks since boot (field 22 of its stat), or
 * -1 when there is no such process. */
static long long process_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    if (!p) return -1;
    long long v = -1;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
        if (++field == 22) {
            v = atoll(tok);
            break;
        }
    return v;
}

static char *holder_json(void)
{
    char host[256] = "", boot[64], ns[64];
    gethostname(host, sizeof host - 1);
    read_line(boot, sizeof boot, "/proc/sys/kernel/random/boot_id");
    pid_namespace(ns, sizeof ns);
    const char *user = getenv("USER");
    json_t *h = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "host", host, "boot_id", boot, "pid_ns", ns, "pid",
                          (json_int_t)getpid(), "start", (json_int_t)process_start((long)getpid()), "user",
                          user ? user : "");
    char *text = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    return text;
}

/* Is the holder described by JSON a process of this host and PID namespace
 * that no longer runs? (0 when it runs or when we cannot know.) */
static int holder_gone(const char *holder)
{
    json_t *h = json_loads(holder ? holder : "{}", 0, NULL);
    if (!h) return 0;
    char boot[64], ns[64];
    read_line(boot, sizeof boot, "/proc/sys/kernel/random/boot_id");
    pid_namespace(ns, sizeof ns);
    const char *hb = json_string_value(json_object_get(h, "boot_id"));
    const char *hn = json_string_value(json_object_get(h, "pid_ns"));
    long pid = (long)json_integer_value(json_object_get(h, "pid"));
    long long start = (long long)json_integer_value(json_object_get(h, "start"));
    int gone = 0;
    if (hb && hn && boot[0] && ns[0] && !strcmp(hb, boot) && !strcmp(hn, ns) && pid > 0) {
        long long now_start = process_start(pid);
        /* gone, or its PID now belongs to another process */
        gone = (now_start < 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) || (now_start >= 0 && now_start != start);
    }
    json_decref(h);
    return gone;
}

/* ---- holding a lease ------------------------------------------------------------------ */

static void *heartbeat(void *arg)
{
    tarn_lake *lake = arg;
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t wait_us = l->ttl_us / 4;
        until.tv_sec += (time_t)(wait_us / 1000000);
        until.tv_nsec += (long)(wait_us % 1000000) * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->wake, &l->mu, &until);
        if (l->stop || !l->id[0]) continue;
        char id[33];
        snprintf(id, sizeof id, "%s", l->id);
        int64_t ttl_us = l->ttl_us;
        /* Renewed without mu: the commit it may wait for checks the lease
         * under mu. */
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_lock(&l->conn_mu);
        int rc = l->heartbeat->vt->lease_renew(l->heartbeat, id, ttl_us, NULL);
        pthread_mutex_unlock(&l->conn_mu);
        pthread_mutex_lock(&l->mu);
        if (rc == TARN_ENOTFOUND && !strcmp(id, l->id)) l->lost = 1; /* reaped: never revived */
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int64_t lease_ttl_us(tarn_lake *lake)
{
    const char *conf = tarn_lake_config(lake, "lease.ttl_seconds");
    double s = conf ? atof(conf) : 0;
    return (int64_t)((s > 0 ? s : DEFAULT_TTL_S) * 1e6);
}

/* Holds l->mu. */
static int take_lease(tarn_lake *lake, tarn_error *err)
{
    tarn_lease_state *l = &lake->lease;
    if (!l->heartbeat) TARN_RETURN_NOT_OK(TARN_CAT(lake)->vt->clone(&l->heartbeat, TARN_CAT(lake), err));
    l->ttl_us = lease_ttl_us(lake);
    char *holder = holder_json();
    pthread_mutex_lock(&l->conn_mu);
    int rc = l->heartbeat->vt->lease_create(l->heartbeat, holder, l->ttl_us, l->id, err);
    pthread_mutex_unlock(&l->conn_mu);
    free(holder);
    if (rc < 0) {
        l->id[0] = 0;
        return rc;
    }
    l->lost = 0;
    if (!l->running) {
        l->stop = 0;
        if (pthread_create(&l->thread, NULL, heartbeat, lake) != 0) {
            pthread_mutex_lock(&l->conn_mu);
            l->heartbeat->vt->lease_release(l->heartbeat, l->id, NULL);
            pthread_mutex_unlock(&l->conn_mu);
            l->id[0] = 0;
            return tarn__error_set(err, TARN_EIO, "cannot start the lease heartbeat: %s", strerror(errno));
        }
        l->running = 1;
    }
    return 0;
}

int tarn__lease_hold(tarn_lake *lake, char id[33], tarn_error *err)
{
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (l->lost)
        rc = tarn__error_set(err, TARN_EABORTED,
                             "this process's catalog lease expired (it stalled for longer than lease.ttl_seconds); "
                             "what it uploaded may have been collected: run the command again");
    else if (!l->id[0])
        rc = take_lease(lake, err);
    if (rc == 0 && id) snprintf(id, 33, "%s", l->id);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int tarn__lease_check(tarn_lake *lake, tarn_error *err)
{
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    char id[33];
    snprintf(id, sizeof id, "%s", l->id);
    int lost = l->lost;
    pthread_mutex_unlock(&l->mu);
    if (!id[0]) return 0; /* this process uploaded nothing */
    int alive = lost ? 0 : TARN_CAT(lake)->vt->lease_alive(TARN_CAT(lake), id, err);
    if (alive < 0) return alive;
    if (!alive)
        return tarn__error_set(err, TARN_EABORTED,
                               "this process's catalog lease expired before it could commit (it stalled for longer "
                               "than lease.ttl_seconds); nothing was committed: run the command again");
    return 0;
}

void tarn__lease_drop(tarn_lake *lake)
{
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->wake);
    int running = l->running;
    pthread_mutex_unlock(&l->mu);
    if (running) pthread_join(l->thread, NULL);
    l->running = 0;
    if (l->heartbeat) {
        if (l->id[0]) l->heartbeat->vt->lease_release(l->heartbeat, l->id, NULL);
        l->heartbeat->vt->close(l->heartbeat);
        l->heartbeat = NULL;
    }
    l->id[0] = 0;
}

/* ---- claims ------------------------------------------------------------------------- */

static int claim(tarn_lake *lake, const char *kind, const char *key, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn__lease_hold(lake, NULL, err));
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    char id[33];
    snprintf(id, sizeof id, "%s", l->id);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&l->conn_mu);
    int rc = l->heartbeat->vt->claim_add(l->heartbeat, id, kind, key, err);
    pthread_mutex_unlock(&l->conn_mu);
    return rc;
}

int tarn__upload_begin(tarn_lake *lake, const char *key, tarn_error *err)
{
    return claim(lake, "upload", key, err);
}

void tarn__upload_abandon(tarn_lake *lake, const char *key)
{
    lake->store->vt->remove(lake->store, key, NULL);
    tarn_lease_state *l = &lake->lease;
    pthread_mutex_lock(&l->mu);
    char id[33];
    snprintf(id, sizeof id, "%s", l->id);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&l->conn_mu);
    if (l->heartbeat && id[0]) {
        tarn_catalog *c = l->heartbeat;
        if (c->vt->begin(c, NULL) == 0) {
            if (c->vt->claim_drop(c, id, "upload", key, NULL) == 0) c->vt->commit(c, NULL);
            else c->vt->rollback(c);
        }
    }
    pthread_mutex_unlock(&l->conn_mu);
}

int tarn__env_claim(tarn_lake *lake, const char *env_id, tarn_error *err)
{
    return claim(lake, "env", env_id, err);
}

/* ---- settling what dead processes left --------------------------------------------- */

typedef struct lease_ids {
    char (*ids)[33];
    size_t n, cap;
} lease_ids;

static int add_lease(lease_ids *l, const char *id)
{
    TARN_RETURN_NOT_OK(tarn__reserve(&l->ids, &l->cap, l->n + 1, sizeof *l->ids));
    snprintf(l->ids[l->n++], 33, "%s", id);
    return 0;
}

static int note_gone(const tarn_lease_row *r, void *ctx)
{
    return !r->dead && holder_gone(r->holder_json) ? add_lease(ctx, r->id) : 0;
}

static int note_dead(const tarn_lease_row *r, void *ctx)
{
    return add_lease(ctx, r->id);
}

typedef struct running_jobs {
    tarn_job_row *v;
    size_t n, cap;
} running_jobs;

static int add_job(const tarn_job_row *j, void *ctx)
{
    running_jobs *r = ctx;
    TARN_RETURN_NOT_OK(tarn__reserve(&r->v, &r->cap, r->n + 1, sizeof *r->v));
    r->v[r->n++] = *j;
    return 0;
}

#define JOB_STOPPED "the process running this job stopped before the run finished: the run failed"

typedef struct settle_ctx {
    const tarn_job_row *job;
} settle_ctx;

/* One job whose process is gone: failed, its run branch aborted, in one
 * transaction, unless it settled meanwhile. */
static int settle_job(tarn_lake *lake, void *arg, tarn_error *err)
{
    const tarn_job_row *j = ((settle_ctx *)arg)->job;
    tarn_catalog *c = TARN_CAT(lake);
    tarn_job_row now;
    int rc = c->vt->job_get(c, j->id, &now, 1, err);
    if (rc < 0) return rc;
    if (strcmp(now.status, "running") != 0) {
        tarn__job_row_clear(&now);
        return TARN_NOTHING;
    }
    strbuf logs = {0};
    sb_append(&logs, now.logs ? now.logs : "");
    sb_append(&logs, JOB_STOPPED);
    sb_append(&logs, "\n");
    tarn_job_row upd = now;
    snprintf(upd.status, sizeof upd.status, "failed");
    upd.ended_us = tarn__now_us();
    upd.commit[0] = 0;
    upd.report_json = NULL;
    upd.logs = logs.s;
    rc = c->vt->job_update(c, &upd, err);
    char run_branch[TARN_NAME_MAX + 1];
    snprintf(run_branch, sizeof run_branch, "tarn-run/%s", j->id);
    if (rc == 0) rc = c->vt->ref_set_aborted(c, run_branch, err);
    sb_free(&logs);
    tarn__job_row_clear(&now);
    return rc;
}

int tarn__lease_settle(tarn_lake *lake, tarn_error *err)
{
    tarn_catalog *c = TARN_CAT(lake);
    lease_ids gone = {0}, dead = {0};
    running_jobs jobs = {0};
    int rc = c->vt->lease_list(c, note_gone, &gone, err);
    for (size_t i = 0; rc == 0 && i < gone.n; i++) rc = c->vt->lease_kill(c, gone.ids[i], err);
    if (rc == 0) rc = c->vt->lease_reap(c, note_dead, &dead, err);
    if (rc == 0 && dead.n) rc = c->vt->job_list(c, 0, 1, add_job, &jobs, err);
    for (size_t i = 0; rc == 0 && i < jobs.n; i++) {
        int of_dead = 0;
        for (size_t k = 0; k < dead.n && !of_dead; k++) of_dead = !strcmp(jobs.v[i].lease, dead.ids[k]);
        if (!of_dead) continue;
        settle_ctx s = {&jobs.v[i]};
        rc = tarn__tx_run(lake, settle_job, &s, err);
        if (rc == 0) tarn__joblog_append(lake, jobs.v[i].id, JOB_STOPPED); /* the log file says so too */
        if (rc == TARN_NOTHING) rc = 0;
    }
    for (size_t i = 0; rc == 0 && i < dead.n; i++) rc = c->vt->lease_release(c, dead.ids[i], err);
    if (rc == TARN_ENOMEM) rc = tarn__error_set(err, rc, "out of memory settling leases");
    free(gone.ids);
    free(dead.ids);
    free(jobs.v);
    return rc;
}
