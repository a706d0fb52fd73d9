/* runtime/cancel.c — stopping a running job from another process
 * (`tarn job stop`, Client.cancel_job).
 *
 * A cancel request is a claim of kind "cancel" on the job's id, filed
 * under the lease of the process that runs the job: it lives exactly as
 * long as that process holds its lease, so a request never outlives the
 * job nor reaches a later one, and it needs nothing of the catalog but
 * what every backend has. The running process watches for it on a catalog
 * connection of its own, a few times a second, and then calls the run
 * back, which stops scheduling, kills its workers and interrupts DuckDB. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lake/ops.h"
#include "runtime/runtime.h"
#include "util/error.h"
#include "util/util.h"

#define POLL_MS 200

struct tarn_cancel_watch {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stop;
    tarn_catalog *c; /* its own connection: never inside the run's transactions */
    char job_id[65];
    void (*on_cancel)(void *ctx);
    void (*on_poll)(void *ctx);
    void *ctx;
};

static int is_job(const char *key, void *ctx)
{
    return strcmp(key, ctx) == 0 ? 1 : 0;
}

static void *watch(void *arg)
{
    tarn_cancel_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&w->wake, &w->mu, &until);
        if (w->stop) break;
        if (w->on_poll) w->on_poll(w->ctx);
        /* A catalog that cannot be read right now is asked again later. */
        if (w->c->vt->claim_list(w->c, "cancel", is_job, w->job_id, NULL) == 1) {
            pthread_mutex_unlock(&w->mu);
            w->on_cancel(w->ctx);
            pthread_mutex_lock(&w->mu);
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int tarn__cancel_watch(tarn_cancel_watch **out, tarn_lake *lake, const char *job_id,
                       void (*on_cancel)(void *ctx), void (*on_poll)(void *ctx), void *ctx,
                       tarn_error *err)
{
    *out = NULL;
    tarn_cancel_watch *w = calloc(1, sizeof *w);
    if (!w) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    snprintf(w->job_id, sizeof w->job_id, "%s", job_id);
    w->on_cancel = on_cancel;
    w->on_poll = on_poll;
    w->ctx = ctx;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    int rc = TARN_CAT(lake)->vt->clone(&w->c, TARN_CAT(lake), err);
    if (rc == 0 && pthread_create(&w->thread, NULL, watch, w) != 0)
        rc = tarn__error_set(err, TARN_EIO, "cannot watch for a cancel request: %s",
                             strerror(errno));
    if (rc < 0) {
        if (w->c) w->c->vt->close(w->c);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->wake);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void tarn__cancel_unwatch(tarn_cancel_watch **wp)
{
    if (!wp || !*wp) return;
    tarn_cancel_watch *w = *wp;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->c->vt->close(w->c);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->wake);
    free(w);
    *wp = NULL;
}

int tarn_local__job_cancel(tarn_lake *lake, const char *id, tarn_error *err)
{
    /* A job whose process is gone is settled (failed) first: nothing to stop. */
    tarn__lease_settle(lake, NULL);
    tarn_job_row j;
    TARN_RETURN_NOT_OK(tarn__job_find(&j, lake, id, err));
    int rc = 0;
    if (strcmp(j.status, "running") != 0)
        rc = tarn__error_set(err, TARN_EINVALID, "job %s is not running (it ended: %s)", j.id,
                             j.status);
    else if (!j.lease[0])
        rc = tarn__error_set(err, TARN_EINVALID,
                             "job %s was started by a tarn that cannot be stopped this way", j.id);
    else
        rc = TARN_CAT(lake)->vt->claim_add(TARN_CAT(lake), j.lease, "cancel", j.id, err);
    tarn__job_row_clear(&j);
    return rc;
}
