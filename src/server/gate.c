/* server/gate.c — bounded slots with a bounded queue: at most MAX at once
 * (queries, runs), at most QUEUE more waiting, each for a bounded time;
 * past that the caller answers 429 with Retry-After. */
#include <errno.h>
#include <time.h>

#include "server/server.h"

void srv_gate_init(srv_gate *g, int max, int queue)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->running = g->waiting = 0;
    g->max = max > 0 ? max : 1;
    g->queue = queue >= 0 ? queue : 0;
}

int srv_gate_enter(srv_gate *g, int wait_s)
{
    pthread_mutex_lock(&g->mu);
    if (g->running < g->max) {
        g->running++;
        pthread_mutex_unlock(&g->mu);
        return 0;
    }
    if (g->waiting >= g->queue) {
        pthread_mutex_unlock(&g->mu);
        return -1;
    }
    g->waiting++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_s;
    int timed_out = 0;
    while (g->running >= g->max && !timed_out)
        timed_out = pthread_cond_timedwait(&g->cond, &g->mu, &until) == ETIMEDOUT;
    g->waiting--;
    int ok = g->running < g->max;
    if (ok) g->running++;
    pthread_mutex_unlock(&g->mu);
    return ok ? 0 : -1;
}

void srv_gate_leave(srv_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->running--;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mu);
}
