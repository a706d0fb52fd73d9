/* sql/stream.c — a query's result pulled batch by batch (what a server
 * streams to its clients): the statement runs in a confined session like
 * every user query, in DuckDB's streaming mode, so only the batch being
 * sent is held. A timer thread interrupts a query past its time limit. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lake/ops.h"
#include "sql/engine.h"
#include "tarn/arrow.h"
#include "tarn/query.h"
#include "util/error.h"
#include "util/util.h"

struct tarn_query_stream {
    tarn_duck d;
    duckdb_prepared_statement prep;
    duckdb_result res;
    int have_res;
    duckdb_arrow_options aopts;
    size_t ncols;
    char **names, **types;
    /* the timer */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t timer;
    int timer_running, done, timed_out, interrupted;
    int64_t timeout_ms;
};

static void *timer_main(void *arg)
{
    tarn_query_stream *s = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s->timeout_ms / 1000;
    until.tv_nsec += (s->timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!s->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&s->cond, &s->mu, &until);
    if (!s->done) {
        s->timed_out = 1;
        duckdb_interrupt(s->d.con);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int fail_running(tarn_query_stream *s, const char *msg, tarn_error *err)
{
    pthread_mutex_lock(&s->mu);
    int timed_out = s->timed_out, interrupted = s->interrupted;
    pthread_mutex_unlock(&s->mu);
    if (timed_out)
        return tarn__error_set(err, TARN_EABORTED,
                               "the query ran past its time limit of %lld ms and was stopped: narrow it "
                               "(filters, LIMIT) or ask for a longer limit",
                               (long long)s->timeout_ms);
    if (interrupted) return tarn__error_set(err, TARN_EABORTED, "the query was stopped");
    return tarn__duck_fail(err, TARN_EINVALID, "query failed", msg ? msg : "unknown error");
}

int tarn_local__query_stream_open(tarn_query_stream **out, tarn_lake *lake, const char *sql,
                                  const tarn_query_stream_options *opts, tarn_error *err)
{
    *out = NULL;
    tarn_query_stream_options defaults = TARN_QUERY_STREAM_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    tarn_query_stream *s = calloc(1, sizeof *s);
    if (!s) return tarn__error_set(err, TARN_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->timeout_ms = opts->timeout_ms;
    /* The limits go into the session before its configuration is locked. */
    tarn_query_limits saved = lake->query_limits;
    if (opts->memory_bytes > 0) lake->query_limits.memory_bytes = opts->memory_bytes;
    if (opts->threads > 0) lake->query_limits.threads = opts->threads;
    char *run = NULL;
    duckdb_prepared_statement planned = NULL;
    int rc = tarn__query_open(&s->d, &run, lake, sql, opts->ref, &planned, err);
    lake->query_limits = saved;
    if (rc < 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cond);
        free(s);
        return rc;
    }
    if (strncmp(run, "EXPLAIN ", 8) == 0) {
        /* A plan: its own statement, whose columns (all text) are the
         * plan's, not the SELECT's. */
        duckdb_destroy_prepare(&planned);
        rc = tarn__duck_prepare_bound(&planned, &s->d, run, NULL, TARN_EINVALID, "invalid SQL", err);
        if (rc < 0) {
            free(run);
            tarn__duck_close(&s->d);
            pthread_mutex_destroy(&s->mu);
            pthread_cond_destroy(&s->cond);
            free(s);
            return rc;
        }
    }
    s->ncols = duckdb_prepared_statement_column_count(planned);
    s->names = calloc(s->ncols + 1, sizeof *s->names);
    s->types = calloc(s->ncols + 1, sizeof *s->types);
    for (size_t c = 0; c < s->ncols && s->names && s->types; c++) {
        const char *name = duckdb_prepared_statement_column_name(planned, c);
        s->names[c] = strdup(name ? name : "");
        duckdb_free((void *)name);
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(planned, c);
        s->types[c] = tarn__duck_type_name(t);
        duckdb_destroy_logical_type(&t);
    }
    if (opts->as_text && strncmp(run, "EXPLAIN ", 8) != 0) { /* a plan is text already */
        /* Every column as text, DuckDB's own rendering of each value. */
        duckdb_destroy_prepare(&planned);
        strbuf q = {0};
        sb_append(&q, "SELECT COLUMNS(*)::VARCHAR FROM (");
        tarn__sql_nestable(&q, run);
        sb_append(&q, "\n)");
        rc = tarn__duck_prepare_bound(&planned, &s->d, sb_str(&q), NULL, TARN_EINVALID, "invalid SQL", err);
        sb_free(&q);
    }
    free(run);
    s->prep = planned;
    if (rc == 0 && s->timeout_ms > 0) {
        if (pthread_create(&s->timer, NULL, timer_main, s) == 0) s->timer_running = 1;
        else rc = tarn__error_set(err, TARN_EIO, "cannot start the query's timer");
    }
    if (rc == 0) {
        if (duckdb_execute_prepared_streaming(s->prep, &s->res) != DuckDBSuccess)
            rc = fail_running(s, duckdb_result_error(&s->res), err);
        s->have_res = 1;
    }
    if (rc == 0) s->aopts = duckdb_result_get_arrow_options(&s->res);
    if (rc < 0) {
        tarn_query_stream_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

size_t tarn_query_stream_column_count(const tarn_query_stream *s)
{
    return s->ncols;
}

const char *tarn_query_stream_column_name(const tarn_query_stream *s, size_t col)
{
    return col < s->ncols ? s->names[col] : NULL;
}

const char *tarn_query_stream_column_type(const tarn_query_stream *s, size_t col)
{
    return col < s->ncols ? s->types[col] : NULL;
}

tarn_value_kind tarn_query_stream_column_kind(const tarn_query_stream *s, size_t col)
{
    return col < s->ncols ? tarn__query_kind(s->types[col]) : TARN_VALUE_STRING;
}

int tarn_query_stream_schema(struct ArrowSchema *out, tarn_query_stream *s, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    idx_t ncols = duckdb_column_count(&s->res);
    duckdb_logical_type *types = calloc(ncols ? ncols : 1, sizeof *types);
    const char **names = calloc(ncols ? ncols : 1, sizeof *names);
    int rc = 0;
    if (!types || !names) rc = tarn__error_set(err, TARN_ENOMEM, "out of memory");
    for (idx_t c = 0; rc == 0 && c < ncols; c++) {
        types[c] = duckdb_column_logical_type(&s->res, c);
        names[c] = duckdb_column_name(&s->res, c);
    }
    /* Text mode renames nothing: the names are the query's. */
    for (idx_t c = 0; rc == 0 && c < ncols && c < s->ncols; c++) names[c] = s->names[c];
    if (rc == 0) {
        duckdb_error_data e = duckdb_to_arrow_schema(s->aopts, types, names, ncols, out);
        if (e && duckdb_error_data_has_error(e))
            rc = tarn__error_set(err, TARN_EIO, "cannot export to Arrow: %s", duckdb_error_data_message(e));
        if (e) duckdb_destroy_error_data(&e);
    }
    for (idx_t c = 0; types && c < ncols; c++)
        if (types[c]) duckdb_destroy_logical_type(&types[c]);
    free(types);
    free(names);
    return rc;
}

int tarn_query_stream_next(struct ArrowArray *out, tarn_query_stream *s, tarn_error *err)
{
    memset(out, 0, sizeof *out);
    duckdb_data_chunk chunk = duckdb_fetch_chunk(s->res);
    if (!chunk) {
        const char *msg = duckdb_result_error(&s->res);
        pthread_mutex_lock(&s->mu);
        int stopped = s->timed_out || s->interrupted;
        pthread_mutex_unlock(&s->mu);
        if ((msg && *msg) || stopped) return fail_running(s, msg, err);
        return 0;
    }
    int rc = 0;
    duckdb_error_data e = duckdb_data_chunk_to_arrow(s->aopts, chunk, out);
    if (e && duckdb_error_data_has_error(e))
        rc = tarn__error_set(err, TARN_EIO, "cannot export to Arrow: %s", duckdb_error_data_message(e));
    if (e) duckdb_destroy_error_data(&e);
    duckdb_destroy_data_chunk(&chunk);
    return rc;
}

void tarn_query_stream_interrupt(tarn_query_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->interrupted = 1;
    duckdb_interrupt(s->d.con);
    pthread_mutex_unlock(&s->mu);
}

void tarn_query_stream_close(tarn_query_stream **sp)
{
    tarn_query_stream *s = sp ? *sp : NULL;
    if (!s) return;
    if (s->timer_running) {
        pthread_mutex_lock(&s->mu);
        s->done = 1;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->timer, NULL);
    }
    if (s->have_res) duckdb_destroy_result(&s->res);
    if (s->aopts) duckdb_destroy_arrow_options(&s->aopts);
    if (s->prep) duckdb_destroy_prepare(&s->prep);
    tarn__duck_close(&s->d);
    for (size_t c = 0; c < s->ncols; c++) {
        if (s->names) free(s->names[c]);
        if (s->types) free(s->types[c]);
    }
    free(s->names);
    free(s->types);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
    *sp = NULL;
}
