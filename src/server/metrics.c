/* server/metrics.c — counters for /metrics in Prometheus' text format:
 * requests by status class, a latency histogram, bytes streamed, requests
 * refused (busy, unauthenticated), queries and runs in flight. */
#include <stdio.h>
#include <stdlib.h>

#include "server/server.h"

static const double BOUNDS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
#define NBOUNDS (sizeof BOUNDS / sizeof *BOUNDS)

void srv_metrics_record(srv_metrics *m, int status, double seconds, uint64_t bytes)
{
    pthread_mutex_lock(&m->mu);
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    m->requests[cls]++;
    for (size_t i = 0; i < NBOUNDS; i++)
        if (seconds <= BOUNDS[i]) m->buckets[i]++;
    m->latency_sum += seconds;
    m->latency_count++;
    m->bytes_out += bytes;
    pthread_mutex_unlock(&m->mu);
}

int srv_metrics_render(srv *s, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -1;
    srv_metrics *m = &s->metrics;
    pthread_mutex_lock(&m->mu);
    fprintf(f, "# HELP tarn_http_requests_total Requests answered, by status class.\n"
               "# TYPE tarn_http_requests_total counter\n");
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        fprintf(f, "tarn_http_requests_total{code=\"%s\"} %llu\n", classes[i], (unsigned long long)m->requests[i]);
    fprintf(f, "# HELP tarn_http_request_duration_seconds Time from a request's first byte to its end.\n"
               "# TYPE tarn_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < NBOUNDS; i++)
        fprintf(f, "tarn_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", BOUNDS[i],
                (unsigned long long)m->buckets[i]);
    fprintf(f, "tarn_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m->latency_count);
    fprintf(f, "tarn_http_request_duration_seconds_sum %.6f\n", m->latency_sum);
    fprintf(f, "tarn_http_request_duration_seconds_count %llu\n", (unsigned long long)m->latency_count);
    fprintf(f, "# HELP tarn_http_response_bytes_streamed_total Bytes of streamed answers (query results, logs).\n"
               "# TYPE tarn_http_response_bytes_streamed_total counter\n"
               "tarn_http_response_bytes_streamed_total %llu\n",
            (unsigned long long)m->bytes_out);
    fprintf(f, "# HELP tarn_http_rejected_total Requests refused before any work.\n"
               "# TYPE tarn_http_rejected_total counter\n"
               "tarn_http_rejected_total{reason=\"busy\"} %llu\n"
               "tarn_http_rejected_total{reason=\"unauthenticated\"} %llu\n",
            (unsigned long long)m->rejected_busy, (unsigned long long)m->rejected_auth);
    pthread_mutex_unlock(&m->mu);
    int q_run, q_wait, r_run, r_wait;
    pthread_mutex_lock(&s->queries.mu);
    q_run = s->queries.running;
    q_wait = s->queries.waiting;
    pthread_mutex_unlock(&s->queries.mu);
    pthread_mutex_lock(&s->runs.mu);
    r_run = s->runs.running;
    r_wait = s->runs.waiting;
    pthread_mutex_unlock(&s->runs.mu);
    pthread_mutex_lock(&s->mu);
    size_t lakes = s->nlakes;
    int in_flight = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    fprintf(f, "# HELP tarn_queries_running Queries running now.\n# TYPE tarn_queries_running gauge\n"
               "tarn_queries_running %d\n# HELP tarn_queries_queued Queries waiting for a slot.\n"
               "# TYPE tarn_queries_queued gauge\ntarn_queries_queued %d\n",
            q_run, q_wait);
    fprintf(f, "# HELP tarn_jobs_running Runs going on now.\n# TYPE tarn_jobs_running gauge\n"
               "tarn_jobs_running %d\n# HELP tarn_jobs_queued Runs waiting for a slot.\n"
               "# TYPE tarn_jobs_queued gauge\ntarn_jobs_queued %d\n",
            r_run, r_wait);
    fprintf(f, "# HELP tarn_http_requests_in_flight Requests being served.\n"
               "# TYPE tarn_http_requests_in_flight gauge\ntarn_http_requests_in_flight %d\n"
               "# HELP tarn_lake_handles_cached Idle lakehouse handles kept open (the handle cache).\n"
               "# TYPE tarn_lake_handles_cached gauge\ntarn_lake_handles_cached %zu\n",
            in_flight, lakes);
    fclose(f);
    *out = buf;
    return 0;
}
