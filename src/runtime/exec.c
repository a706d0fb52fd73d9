/* runtime/exec.c — `tarn run`: plan, execute, publish.
 *
 * One DuckDB session per run holds every model's output as a table (SQL
 * models) or as a view over a shared-memory Arrow table (Python models).
 * Models run parents first. Materialized outputs are written as Parquet,
 * then committed together in ONE commit on the run's temporary branch,
 * which is merged into the target branch only when every task succeeded.
 * A failure at any point marks the temporary branch aborted and leaves the
 * target branch exactly as it was. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/joblog.h"
#include "lake/ops.h"
#include "runtime/dataplane.h"
#include "runtime/reuse.h"
#include "runtime/runtime.h"
#include "runtime/scancache.h"
#include "sql/empty.h"
#include "sql/engine.h"
#include "table/schema.h"
#include "util/error.h"
#include "util/util.h"

typedef struct run_ctx {
    tarn_lake *lake;
    const tarn_run_options *opts;
    json_t *project;
    json_t *report;
    json_t *tasks;
    tarn_joblog *log; /* lines to .tarn/logs/JOBID.log, a bounded tail in memory */
    tarn_duck duck;   /* user SQL runs here, once confined (open_confined) */
    tarn_duck writer; /* writes materialized outputs (sql/pipe.c), runs no user SQL */
    /* Both DuckDBs start on a thread of their own while the run plans. */
    pthread_t opener;
    int engines_asked, opener_started, engines_rc;
    tarn_error engines_err;
    tarn_rt_session *rt; /* Python workers and shared-memory tables */
    char job_id[17];
    char branch[TARN_NAME_MAX + 1];
    char run_branch[TARN_NAME_MAX + 1]; /* tarn-run/JOBID */
    char lease[33];                     /* the lease that owns the job */
    char input_commit[65]; /* where sources are read */
    char base_commit[65];  /* the branch's head when the run started */
    json_t *outputs; /* [{"model", "table", "key", "rows", "schema", "stats", "strategy"}] */
    /* Tasks run on several threads, each with its own DuckDB connection. */
    pthread_mutex_t mu;    /* the report, the log, the outputs, the task states */
    pthread_mutex_t ddl;   /* DuckDB catalog changes (views), and the lake's catalog and store */
    pthread_mutex_t log_mu;
    pthread_cond_t changed;
    json_t *sources;       /* source views created so far: {"schema.table": version} */
    duckdb_connection *conns; /* one per thread; they outlive the tasks, since
                                 the views of Python outputs live on them */
    size_t nconns;         /* under mu: a cancel interrupts them from another thread */
    int cancelled;         /* under mu: tarn job stop asked; nothing new starts */
    tarn_cancel_watch *watch;
    tarn_scancache *scans; /* source scans kept and reused across runs */
} run_ctx;

/* Options of version 2 (a caller built against version 1 has none). */
static const char *runtime_exe(const tarn_run_options *o)
{
    return o->version >= 2 ? o->runtime_exe : NULL;
}

/* Options of version 3: whether earlier outputs may be reused. */
static int cache_on(const tarn_run_options *o)
{
    return o->version < 3 || !o->no_cache;
}

static void emit(run_ctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(run_ctx *r, const char *fmt, ...)
{
    char small[4096], *line = small;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof small && (line = malloc((size_t)n + 1)))
        vsnprintf(line, (size_t)n + 1, fmt, ap2); /* a long line stays whole */
    va_end(ap2);
    if (!line) line = small;
    pthread_mutex_lock(&r->log_mu);
    if (r->log) tarn__joblog_line(r->log, line);
    if (r->opts->on_line) r->opts->on_line(line, r->opts->ctx);
    pthread_mutex_unlock(&r->log_mu);
    if (line != small) free(line);
}

static void user_line(const char *line, void *ctx)
{
    emit((run_ctx *)ctx, "%s", line);
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *model_named(json_t *project, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "models"), i, m) if (!strcmp(str(m, "name"), name)) return m;
    return NULL;
}

/* ---- the DAG as text (--dry-run and the start of every run) ------------------- */

static void print_plan(run_ctx *r)
{
    json_t *project = r->project;
    emit(r, "plan for %s (%zu models), reading %.12s:", str(project, "dir"),
         json_array_size(json_object_get(project, "order")), r->input_commit);
    size_t i;
    json_t *name;
    /* $name in SQL and filters is bound to these values when it runs. */
    json_t *params = json_object_get(project, "params");
    if (json_object_size(params)) {
        strbuf line = {0};
        const char *pname;
        json_t *pv;
        json_object_foreach(params, pname, pv)
        {
            /* a secret's value is never printed, logged or recorded */
            int secret = tarn__param_is_secret(json_object_get(project, "parameters"), pname);
            char *v = secret ? strdup("(secret)") : json_dumps(pv, JSON_ENCODE_ANY | JSON_COMPACT);
            sb_printf(&line, "%s$%s = %s", line.len ? ", " : "", pname, v ? v : "?");
            free(v);
        }
        emit(r, "  parameters: %s", sb_str(&line));
        sb_free(&line);
    }
    json_array_foreach(json_object_get(project, "order"), i, name)
    {
        json_t *m = model_named(project, json_string_value(name));
        const char *mat = str(m, "materialization");
        emit(r, "  %s %s [%s%s%s] %s:%lld", !strcmp(str(m, "role"), "expectation") ? "?" : "*",
             str(m, "name"), str(m, "kind"), strcmp(mat, "NONE") ? ", materialize " : "",
             strcmp(mat, "NONE") ? mat : "", str(m, "file"),
             (long long)json_integer_value(json_object_get(m, "line")));
        json_t *env = json_object_get(m, "env");
        if (env) {
            strbuf pk = {0};
            const char *pkg;
            json_t *ver;
            json_object_foreach(json_object_get(env, "packages"), pkg, ver)
                sb_printf(&pk, "%s%s==%s", pk.len ? ", " : "", pkg, json_string_value(ver));
            size_t cold = json_array_size(json_object_get(env, "cold"));
            emit(r, "      env %.12s: Python %s + %s%s", str(env, "id") ? str(env, "id") : "?",
                 str(env, "python") ? str(env, "python") : "?", sb_str(&pk),
                 cold ? " (newly unpacked into the cache)" : " (cached)");
            sb_free(&pk);
        }
        size_t k;
        json_t *in;
        json_array_foreach(json_object_get(m, "inputs"), k, in)
        {
            json_t *src = json_object_get(in, "source");
            strbuf cols = {0};
            json_t *c;
            size_t j;
            json_array_foreach(json_object_get(in, "columns"), j, c)
                sb_printf(&cols, "%s%s", j ? ", " : "", json_string_value(c));
            if (src)
                emit(r, "      <- scan %s%s%s%s%s%s (%zu of %lld files)", str(src, "table"),
                     cols.len ? " columns [" : "", sb_str(&cols), cols.len ? "]" : "",
                     str(in, "filter_sql") ? " where " : "", str(in, "filter_sql") ? str(in, "filter_sql") : "",
                     json_array_size(json_object_get(src, "files")),
                     (long long)json_integer_value(json_object_get(src, "files_total")));
            else
                emit(r, "      <- model %s%s%s%s%s%s", str(in, "name"), cols.len ? " columns [" : "",
                     sb_str(&cols), cols.len ? "]" : "", str(in, "filter_sql") ? " where " : "",
                     str(in, "filter_sql") ? str(in, "filter_sql") : "");
            sb_free(&cols);
        }
    }
}

/* ---- running one model ----------------------------------------------------------- */

/* SELECT text that reads a parent model's output for a Python model
 * (columns and filter pushed into the scan). */
static void input_sql(strbuf *q, json_t *in)
{
    strbuf from = {0};
    tarn__sql_append_table(&from, str(in, "name"));
    tarn__scan_select_sql(q, json_object_get(in, "columns"), sb_str(&from), str(in, "filter_sql"));
    sb_free(&from);
}

/* A source scan of a Python model, through the scan cache; how it was
 * served goes to the output and to the report (the job's record). */
static int scan_input(int *fd, run_ctx *r, tarn_duck *d, json_t *m, json_t *in, tarn_error *err)
{
    json_t *src = json_object_get(in, "source");
    tarn_scan_req req = {str(src, "table"), str(src, "version"), json_object_get(src, "files"),
                         json_object_get(in, "columns"), str(in, "filter_sql"),
                         json_object_get(r->project, "params"), str(in, "name")};
    tarn_scan_outcome o;
    TARN_RETURN_NOT_OK(tarn__scancache_read(fd, &o, r->scans, d, &req, err));
    char added[64] = "";
    if (o.new_files) snprintf(added, sizeof added, ", %zu file%s added", o.new_files, o.new_files == 1 ? "" : "s");
    emit(r, "  %s <- %s: scan %s%s%s%s%s (%.1f ms)", str(m, "name"), req.table,
         strcmp(o.how, "off") && strcmp(o.how, "miss") && strcmp(o.how, "uncached") ? "cache hit, " : "",
         o.how, added, o.why[0] ? "; " : "", o.why, (double)o.micros / 1e3);
    pthread_mutex_lock(&r->mu);
    json_t *scans = json_object_get(r->report, "scans");
    if (!scans) json_object_set_new(r->report, "scans", scans = json_array());
    json_array_append_new(scans, json_pack("{s:s,s:s,s:s,s:s,s:I,s:f}", "model", str(m, "name"), "input",
                                           str(in, "param"), "table", req.table, "cache", o.how,
                                           "files_added", (json_int_t)o.new_files, "ms",
                                           (double)o.micros / 1e3));
    if (o.why[0]) json_object_set_new(json_array_get(scans, json_array_size(scans) - 1), "note", json_string(o.why));
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* A view over a source table for SQL models, created once per run (every
 * model reads sources at the same input commit). */
static int register_source(run_ctx *r, tarn_duck *d, const char *schema, const char *name,
                           const char *version, tarn_error *err)
{
    char key[600];
    snprintf(key, sizeof key, "%s.%s", schema ? schema : "", name);
    pthread_mutex_lock(&r->ddl);
    int rc = 0;
    if (!json_object_get(r->sources, key)) {
        rc = tarn__duck_register(d, r->lake, schema, name, version, err);
        if (rc == 0) json_object_set_new(r->sources, key, json_string(version));
    }
    pthread_mutex_unlock(&r->ddl);
    return rc;
}

/* Python parents' outputs are views local to the connection that received
 * them; make them visible on D too. */
static int attach_parents(run_ctx *r, tarn_duck *d, json_t *m, tarn_error *err)
{
    size_t k;
    json_t *p;
    int rc = 0;
    json_array_foreach(json_object_get(m, "parents"), k, p)
    {
        json_t *parent = model_named(r->project, json_string_value(p));
        if (!parent || strcmp(str(parent, "kind"), "python") || tarn__reuse_skipped(parent)) continue;
        pthread_mutex_lock(&r->ddl);
        rc = tarn__rt_attach(d, json_string_value(p), err);
        pthread_mutex_unlock(&r->ddl);
        if (rc < 0) break;
    }
    return rc;
}

static int run_sql_model(int64_t *rows, run_ctx *r, tarn_duck *d, json_t *m, tarn_error *err)
{
    size_t k;
    json_t *in;
    json_array_foreach(json_object_get(m, "inputs"), k, in)
    {
        json_t *src = json_object_get(in, "source");
        if (!src) continue;
        const char *name = str(in, "name");
        const char *dot = strchr(name, '.');
        char schema[300];
        if (dot) snprintf(schema, sizeof schema, "%.*s", (int)(dot - name), name);
        TARN_RETURN_NOT_OK(register_source(r, d, dot ? schema : NULL, dot ? dot + 1 : name,
                                           str(src, "version"), err));
    }
    strbuf q = {0};
    const char *name = str(m, "name"), *dot = strchr(name, '.');
    int rc = 0;
    if (dot) {
        /* A model ns.t is table t of DuckDB schema ns, as SQL names it. */
        char ns[300];
        snprintf(ns, sizeof ns, "%.*s", (int)(dot - name), name);
        sb_append(&q, "CREATE SCHEMA IF NOT EXISTS ");
        sb_append_sql_ident(&q, ns);
        pthread_mutex_lock(&r->ddl);
        rc = tarn__duck_exec(d, sb_str(&q), TARN_EIO, "cannot create a schema", err);
        pthread_mutex_unlock(&r->ddl);
        q.len = 0;
    }
    sb_append(&q, "CREATE TABLE ");
    tarn__sql_append_table(&q, name);
    sb_append(&q, " AS ");
    tarn__sql_nestable(&q, str(m, "sql_run"));
    sb_append(&q, "\n");
    char what[400];
    snprintf(what, sizeof what, "SQL model '%s' failed", name);
    /* Parameters are bound as values, never spliced into the text. */
    duckdb_result res;
    if (rc == 0)
        rc = tarn__duck_query_bound(&res, d, sb_str(&q), json_object_get(r->project, "params"), TARN_EUSER,
                                    what, err);
    if (rc == 0) duckdb_destroy_result(&res);
    sb_free(&q);
    if (rc < 0) return rc;
    q.len = 0;
    sb_append(&q, "SELECT count(*)::VARCHAR FROM ");
    tarn__sql_append_table(&q, name);
    rc = tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "counting rows", err);
    if (rc == 0) {
        char *t = tarn__duck_text(&res, 0, 0);
        *rows = t ? atoll(t) : 0;
        free(t);
    }
    duckdb_destroy_result(&res);
    sb_free(&q);
    return rc;
}

/* The call of Python model M as the model says it (its inputs, parameters
 * and the "ahead" hint are the caller's); ENV holds its environment. */
static tarn_rt_call model_call(tarn_rt_env *env, json_t *m)
{
    json_t *e = json_object_get(m, "env");
    *env = (tarn_rt_env){str(e, "id"), str(m, "interpreter"), json_object_get(e, "paths")};
    tarn_rt_call call = {0};
    call.file = str(m, "file");
    call.function = str(m, "function");
    call.model = str(m, "name");
    call.expectation = !strcmp(str(m, "role"), "expectation");
    call.env = e || env->python ? env : NULL;
    call.resources = json_object_get(m, "resources");
    call.internet = json_is_true(json_object_get(m, "internet_access"));
    return call;
}

/* The first Python model the run will call: its worker is forked while
 * the run gets ready (tarn__rt_prefork). */
static void prefork_first(run_ctx *r)
{
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(r->project, "order"), i, name)
    {
        json_t *m = model_named(r->project, json_string_value(name));
        if (!m || strcmp(str(m, "kind"), "python") || tarn__reuse_skipped(m)) continue;
        tarn_rt_env env;
        tarn_rt_call call = model_call(&env, m);
        tarn__rt_prefork(r->rt, &call);
        return;
    }
}

/* Whether a Python model after M in the run's order has M's warm parent:
 * its worker can then be forked while M runs. */
static int python_follows(run_ctx *r, json_t *m)
{
    tarn_rt_env env;
    tarn_rt_call call = model_call(&env, m);
    const char *parent = tarn__rt_parent_key(call.env);
    int after = 0;
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(r->project, "order"), i, name)
    {
        json_t *o = model_named(r->project, json_string_value(name));
        if (o == m) {
            after = 1;
            continue;
        }
        if (!after || !o || strcmp(str(o, "kind"), "python") || tarn__reuse_skipped(o)) continue;
        tarn_rt_env oenv;
        tarn_rt_call ocall = model_call(&oenv, o);
        if (!strcmp(tarn__rt_parent_key(ocall.env), parent)) return 1;
    }
    return 0;
}

static int run_python_model(int64_t *rows, int *verdict, run_ctx *r, tarn_duck *d, json_t *m,
                            tarn_error *err)
{
    size_t n = json_array_size(json_object_get(m, "inputs"));
    tarn_rt_input *inputs = calloc(n ? n : 1, sizeof *inputs);
    int rc = 0;
    size_t k;
    json_t *in;
    json_array_foreach(json_object_get(m, "inputs"), k, in)
    {
        inputs[k].param = str(in, "param");
        inputs[k].format = str(in, "format");
        inputs[k].fd = -1;
        /* A Python parent's output read without a filter is handed over as
         * the same sealed memfd (the worker selects the columns): no copy. */
        json_t *parent = json_object_get(in, "source") ? NULL : model_named(r->project, str(in, "name"));
        if (parent && !strcmp(str(parent, "kind"), "python") && !str(in, "filter_sql")) {
            inputs[k].fd = tarn__rt_output_fd(r->rt, str(in, "name"));
            if (inputs[k].fd >= 0) {
                inputs[k].columns = json_object_get(in, "columns");
                if (json_is_null(inputs[k].columns)) inputs[k].columns = NULL;
                continue;
            }
        }
        if (json_object_get(in, "source")) {
            if ((rc = scan_input(&inputs[k].fd, r, d, m, in, err)) < 0) break;
            continue;
        }
        strbuf q = {0};
        input_sql(&q, in);
        duckdb_result res;
        memset(&res, 0, sizeof res);
        if (rc == 0 && (rc = tarn__duck_query_bound(&res, d, sb_str(&q), json_object_get(r->project, "params"),
                                                    TARN_EINVALID, "reading an input failed", err)) == 0)
            rc = tarn__duck_result_shm(&inputs[k].fd, &res, str(in, "name"), err);
        duckdb_destroy_result(&res);
        sb_free(&q);
        if (rc < 0) break;
    }
    if (rc == 0) {
        json_t *params = json_object();
        json_t *p;
        json_array_foreach(json_object_get(m, "parameters"), k, p)
            json_object_set(params, str(p, "param"),
                            json_object_get(json_object_get(r->project, "params"), str(p, "name")));
        tarn_rt_env rt_env;
        tarn_rt_call call = model_call(&rt_env, m);
        call.inputs = inputs;
        call.ninputs = n;
        call.params = params;
        call.columns =
            json_is_array(json_object_get(m, "columns")) ? json_object_get(m, "columns") : NULL;
        call.ahead = python_follows(r, m);
        rc = tarn__rt_call(rows, verdict, r->rt, d, &call, user_line, r, err);
        json_decref(params);
        if (rc == 0 && !call.expectation && strchr(str(m, "name"), '.')) {
            /* ns.t: a view of schema ns, for every connection at once */
            pthread_mutex_lock(&r->ddl);
            rc = tarn__rt_attach(d, str(m, "name"), err);
            pthread_mutex_unlock(&r->ddl);
        }
    }
    for (k = 0; k < n; k++)
        if (inputs[k].fd >= 0) close(inputs[k].fd);
    free(inputs);
    return rc;
}

/* An APPEND must fit the table as the branch has it when the run starts:
 * said at the task, naming the columns, rather than when committing. */
static int append_check(run_ctx *r, json_t *m, const char *table, const char *schema,
                        tarn_error *err)
{
    tarn_tree tree = {0};
    TARN_RETURN_NOT_OK(tarn__tree_load_commit(&tree, r->lake, r->base_commit, err));
    tarn_tree_entry *e = tarn__tree_find(&tree, table);
    int rc = 0;
    if (e && e->kind == TARN_ENTRY_TABLE) {
        tarn_version old = {0};
        rc = tarn__version_load(&old, r->lake, e->version, err);
        strbuf why = {0};
        if (rc == 0 && tarn__schema_diff(&why, old.schema_json, schema) > 0)
            rc = tarn__error_set(err, TARN_EUSER,
                                 "model '%s' appends to '%s', but its output does not have the "
                                 "table's schema: %s (return the table's columns and types, or "
                                 "use materialization_strategy=REPLACE)",
                                 str(m, "name"), table, sb_str(&why));
        sb_free(&why);
        tarn__version_clear(&old);
    }
    tarn__tree_clear(&tree);
    return rc;
}

/* Writes a model's output as a Parquet data file and records what to commit. */
static int materialize(run_ctx *r, tarn_duck *d, json_t *m, tarn_error *err)
{
    char table[600], rnd[33], key[800], tmp[8192];
    snprintf(table, sizeof table, "%s", str(m, "output"));
    tarn__random_hex(rnd);
    snprintf(key, sizeof key, "data/%s/%s.parquet", table, rnd);
    /* Registered before it is written: gc never takes it while this run
     * lives. The catalog is the run's, shared by its tasks: under ddl. */
    pthread_mutex_lock(&r->ddl);
    int wrc = tarn__upload_begin(r->lake, key, err);
    if (wrc == 0 && (wrc = r->lake->store->vt->write_path(r->lake->store, key, tmp, sizeof tmp, err)) < 0)
        tarn__upload_abandon(r->lake, key);
    pthread_mutex_unlock(&r->ddl);
    if (wrc < 0) return wrc;
    char *schema = NULL, *stats = NULL, *base = NULL;
    int64_t rows = 0;
    strbuf q = {0};
    sb_append(&q, "SELECT * FROM ");
    tarn__sql_append_table(&q, str(m, "name"));
    /* The file's Iceberg field ids keep those of the table it replaces or
     * appends to, as it is where the run started (catalog reads take the
     * lock source views take). */
    pthread_mutex_lock(&r->ddl);
    int rc = tarn__table_schema_at(&base, r->lake, r->input_commit, table, err);
    pthread_mutex_unlock(&r->ddl);
    /* D runs user SQL and cannot write files: the file is written by a
     * DuckDB of its own, fed from D's result. */
    if (rc == 0)
        rc = tarn__duck_write_result(&rows, &schema, &stats, d, &r->writer, sb_str(&q), NULL, tmp,
                                     "parquet", base ? base : "[]", err);
    free(base);
    sb_free(&q);
    if (rc == 0 && !strcmp(str(m, "materialization"), "APPEND")) {
        pthread_mutex_lock(&r->ddl);
        rc = append_check(r, m, table, schema, err);
        pthread_mutex_unlock(&r->ddl);
    }
    /* The size of what was written: the published object may not be local. */
    struct stat st;
    int64_t size = rc == 0 && stat(tmp, &st) == 0 ? (int64_t)st.st_size : 0;
    if (rc == 0) rc = r->lake->store->vt->publish(r->lake->store, key, tmp, err);
    if (rc < 0) {
        unlink(tmp);
        pthread_mutex_lock(&r->ddl);
        tarn__upload_abandon(r->lake, key);
        pthread_mutex_unlock(&r->ddl);
        free(schema);
        free(stats);
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    json_array_append_new(r->outputs,
                          json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s}", "model", str(m, "name"), "table",
                                    table, "key", key, "rows", (json_int_t)rows, "size",
                                    (json_int_t)size, "schema", schema, "stats", stats, "strategy",
                                    str(m, "materialization")));
    pthread_mutex_unlock(&r->mu);
    free(schema);
    free(stats);
    return 0;
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* The run's parameter values as they may be recorded: secrets are null. */
static json_t *shown_params(json_t *project)
{
    return tarn__params_shown(json_object_get(project, "params"), json_object_get(project, "parameters"));
}

static int job_insert(run_ctx *r, tarn_error *err)
{
    TARN_RETURN_NOT_OK(tarn__lease_hold(r->lake, r->lease, err));
    json_t *snapshot = json_pack("{s:s,s:O}", "dir", str(r->project, "dir"), "files",
                                 json_object_get(r->project, "files"));
    tarn_job_row j = {0};
    snprintf(j.id, sizeof j.id, "%s", r->job_id);
    snprintf(j.status, sizeof j.status, "running");
    snprintf(j.branch, sizeof j.branch, "%s", r->branch);
    j.started_us = tarn__now_us();
    snprintf(j.input_commit, sizeof j.input_commit, "%s", r->input_commit);
    snprintf(j.project_hash, sizeof j.project_hash, "%s", str(r->project, "hash"));
    snprintf(j.lease, sizeof j.lease, "%s", r->lease);
    j.project_json = json_dumps(snapshot, JSON_COMPACT);
    json_t *shown = shown_params(r->project);
    j.params_json = json_dumps(shown, JSON_COMPACT);
    json_decref(shown);
    json_decref(snapshot);
    tarn_catalog *c = TARN_CAT(r->lake);
    int rc = c->vt->begin(c, err);
    if (rc == 0) rc = c->vt->job_put(c, &j, err);
    if (rc == 0) rc = c->vt->commit(c, err);
    else c->vt->rollback(c);
    tarn__job_row_clear(&j);
    return rc;
}

/* The job's row as it ends: STATUS, COMMIT, the report and the log. Runs
 * inside the caller's transaction. */
static int job_update(run_ctx *r, const char *status, const char *commit, tarn_error *err)
{
    tarn_job_row j = {0};
    snprintf(j.id, sizeof j.id, "%s", r->job_id);
    snprintf(j.status, sizeof j.status, "%s", status);
    j.ended_us = tarn__now_us();
    snprintf(j.commit, sizeof j.commit, "%s", commit ? commit : "");
    j.report_json = json_dumps(r->report, JSON_COMPACT);
    j.logs = r->log ? tarn__joblog_tail(r->log) : NULL; /* the whole log is in its file */
    int rc = TARN_CAT(r->lake)->vt->job_update(TARN_CAT(r->lake), &j, err);
    free(j.report_json);
    free(j.logs);
    return rc;
}

static void report_outcome(run_ctx *r, const char *outcome, const char *commit, const char *error)
{
    json_object_set_new(r->report, "outcome", json_string(outcome));
    if (commit) json_object_set_new(r->report, "commit", json_string(commit));
    if (error) json_object_set_new(r->report, "error", json_string(error));
}

/* Inside the merge's transaction: the job succeeded, its output is clean,
 * its run branch goes (the merge keeps its history). */
static int job_succeeded(tarn_lake *lake, const char *commit, void *ctx, tarn_error *err)
{
    run_ctx *r = ctx;
    tarn_catalog *c = TARN_CAT(lake);
    /* A failed expectation is not fatal without --strict, except into a
     * branch protected for runs: checked here, in the merge's transaction. */
    int failed = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->report, "expectations"), i, e) failed += !json_is_true(json_object_get(e, "passed"));
    /* A run whose lease lapsed may have been settled as failed by another
     * process meanwhile (and its uploads collected): it never merges then. */
    tarn_job_row now;
    int rc = c->vt->job_get(c, r->job_id, &now, 0, err);
    if (rc == 0 && strcmp(now.status, "running") != 0)
        rc = tarn__error_set(err, TARN_EABORTED,
                             "run %s was recorded as %s meanwhile (its process stalled past its lease): it "
                             "cannot merge; nothing was changed",
                             r->job_id, now.status);
    if (rc == 0) rc = tarn__lease_check(lake, err);
    if (rc == 0) rc = tarn__protect_check_run(lake, r->branch, failed, err);
    if (rc == 0) rc = tarn__reuse_check_commit(lake, commit, r->project, err);
    if (rc < 0) return rc;
    report_outcome(r, "success", commit, NULL);
    rc = job_update(r, "success", commit, err);
    if (rc == 0) rc = c->vt->taint_clear(c, r->job_id, err);
    if (rc == 0) {
        rc = c->vt->ref_delete(c, r->run_branch, TARN_REF_BRANCH, "run succeeded", err);
        if (rc == TARN_ENOTFOUND) rc = 0;
    }
    if (rc == 0) tarn__fault("run:before-merge-commit");
    return rc;
}

typedef struct job_end {
    run_ctx *r;
    const char *status;
    const char *commit;
} job_end;

static int job_end_tx(tarn_lake *lake, void *arg, tarn_error *err)
{
    job_end *e = arg;
    int rc = job_update(e->r, e->status, e->commit, err);
    if (rc == 0 && e->r->run_branch[0] && strcmp(e->status, "success") != 0)
        rc = TARN_CAT(lake)->vt->ref_set_aborted(TARN_CAT(lake), e->r->run_branch, err);
    return rc;
}

/* Records the job's end in one transaction (with, on failure, its run
 * branch marked aborted). */
static int job_record(run_ctx *r, const char *status, const char *commit, tarn_error *err)
{
    job_end e = {r, status, commit};
    return tarn__tx_run(r->lake, job_end_tx, &e, err);
}

/* ---- publishing: one commit with every output --------------------------------------- */

static int apply_outputs(tarn_lake *lake, tarn_tree *tree, void *ctx, tarn_error *err)
{
    run_ctx *r = ctx;
    json_t *outputs = r->outputs;
    /* Reused outputs are the tree's already: unless changed meanwhile. */
    TARN_RETURN_NOT_OK(tarn__reuse_check(lake, tree, r->project, err));
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o)
    {
        tarn_data_file f = {(char *)str(o, "key"), json_integer_value(json_object_get(o, "rows")),
                            json_integer_value(json_object_get(o, "size")), (char *)str(o, "stats")};
        const char *table = str(o, "table");
        tarn_tree_entry *e = tarn__tree_find(tree, table);
        tarn_version old = {0};
        int append = !strcmp(str(o, "strategy"), "APPEND") && e && e->kind == TARN_ENTRY_TABLE;
        if (e && e->kind == TARN_ENTRY_TABLE) TARN_RETURN_NOT_OK(tarn__version_load(&old, lake, e->version, err));
        int rc = 0;
        strbuf why = {0};
        if (append && tarn__schema_diff(&why, old.schema_json, str(o, "schema")) > 0)
            rc = tarn__error_set(err, TARN_EINVALID,
                                 "model '%s' appends to '%s', whose schema changed meanwhile: %s",
                                 str(o, "model"), table, sb_str(&why));
        sb_free(&why);
        if (rc == 0) rc = tarn__tree_put_file(lake, tree, table, &old, append, str(o, "schema"), &f, err);
        tarn__version_clear(&old);
        if (rc < 0) return rc;
    }
    return json_array_size(outputs) ? 0 : TARN_NOTHING;
}

/* What later runs may reuse, from the run's own commit, into the report
 * the job's success records. Without it they only run again. */
static void record_reuse(run_ctx *r, const char *commit)
{
    tarn_error rerr = TARN_ERROR_INIT;
    if (tarn__reuse_record(r->report, r->project, r->lake, commit, &rerr) < 0)
        emit(r, "warning: later runs will not reuse this run's outputs: %s", rerr.message);
    tarn_error_clear(&rerr);
}

static int publish(tarn_commit_id *commit, run_ctx *r, tarn_error *err)
{
    /* bpln_job_id: the name Bauplan's clients filter run commits by. */
    json_t *props = json_pack("{s:s,s:s,s:s,s:s,s:{},s:{}}", "job_id", r->job_id, "bpln_job_id",
                              r->job_id, "project_hash", str(r->project, "hash"), "input_commit",
                              r->input_commit, "models", "environments");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r->project, "models"), i, m)
    {
        json_object_set(json_object_get(props, "models"), str(m, "name"), json_object_get(m, "code_hash"));
        /* which packages each model ran with, so a rerun can use the same */
        json_t *env = json_object_get(m, "env");
        if (env)
            json_object_set_new(json_object_get(props, "environments"), str(m, "name"),
                                json_pack("{s:O?,s:O?,s:O?}", "id", json_object_get(env, "id"), "python",
                                          json_object_get(env, "python"), "packages",
                                          json_object_get(env, "packages")));
    }
    char *props_text = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(props);
    char msg[600];
    snprintf(msg, sizeof msg, "Run %s of %s", r->job_id, str(r->project, "dir"));
    int rc;
    if (r->opts->no_transaction) {
        rc = tarn__branch_commit(commit, r->lake, r->branch, apply_outputs, r, msg, props_text, err);
        free(props_text);
        if (rc < 0) return rc;
        record_reuse(r, commit->hex);
        report_outcome(r, "success", commit->hex, NULL);
        return job_record(r, "success", commit->hex, err);
    }
    rc = tarn__branch_commit_run(commit, r->lake, r->run_branch, apply_outputs, r, msg, props_text,
                                 r->job_id, err);
    free(props_text);
    if (rc < 0) return rc;
    record_reuse(r, commit->hex);
    tarn__fault("run:before-merge");
    /* The merge, the job's success, the end of its taint and the removal of
     * its run branch are one transaction: a run killed at any instant is
     * either merged and successful, or neither. */
    tarn_merge_result mr;
    rc = tarn__branch_merge(&mr, r->lake, r->run_branch, r->branch, NULL, job_succeeded, r, err);
    if (rc == 0) *commit = mr.commit;
    if (rc == 0) tarn__fault("run:after-merge");
    return rc;
}

/* ---- the run ---------------------------------------------------------------------------- */

static void add_preview(run_ctx *r, tarn_duck *d, json_t *m)
{
    if (r->opts->preview_rows <= 0 || strcmp(str(m, "role"), "model")) return;
    strbuf q = {0};
    sb_append(&q, "SELECT COLUMNS(*)::VARCHAR FROM ");
    tarn__sql_append_table(&q, str(m, "name"));
    sb_printf(&q, " LIMIT %d", r->opts->preview_rows);
    duckdb_result res;
    if (tarn__duck_query(&res, d, sb_str(&q), TARN_EIO, "preview", NULL) == 0) {
        json_t *cols = json_array(), *rows = json_array();
        idx_t nc = duckdb_column_count(&res), nr = duckdb_row_count(&res);
        for (idx_t c = 0; c < nc; c++) json_array_append_new(cols, json_string(duckdb_column_name(&res, c)));
        for (idx_t i = 0; i < nr; i++) {
            json_t *row = json_array();
            for (idx_t c = 0; c < nc; c++) {
                char *t = tarn__duck_text(&res, c, i);
                json_array_append_new(row, t ? json_string(t) : json_null());
                free(t);
            }
            json_array_append_new(rows, row);
        }
        pthread_mutex_lock(&r->mu);
        json_object_set_new(json_object_get(r->report, "previews"), str(m, "name"),
                            json_pack("{s:o,s:o}", "columns", cols, "rows", rows));
        pthread_mutex_unlock(&r->mu);
    }
    duckdb_destroy_result(&res);
    sb_free(&q);
}

/* ---- scheduling: parents first, independent models in parallel -------------------- */

enum { TASK_PENDING, TASK_RUNNING, TASK_DONE };

typedef struct task {
    json_t *m;
    int state;
    int64_t estimate; /* bytes of input it may hold in memory */
    int64_t started, ended, rows;
    int verdict;
    int rc;
    tarn_error err;
} task;

typedef struct sched {
    run_ctx *r;
    size_t next_conn;
    task *tasks;
    size_t n;
    int failed;       /* a task failed: start nothing new */
    int64_t in_use;   /* sum of the running tasks' estimates */
    int64_t budget;   /* memory budget for running tasks */
    int running;
} sched;

static int parents_done(sched *s, task *t)
{
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(t->m, "parents"), k, p)
        for (size_t i = 0; i < s->n; i++)
            if (!strcmp(str(s->tasks[i].m, "name"), json_string_value(p)) && s->tasks[i].state != TASK_DONE)
                return 0;
    return 1;
}

/* The next task that may start now, or NULL. Holds r->mu. */
static task *next_task(sched *s)
{
    if (s->failed || s->r->cancelled) return NULL;
    for (size_t i = 0; i < s->n; i++) {
        task *t = &s->tasks[i];
        if (t->state != TASK_PENDING || !parents_done(s, t)) continue;
        /* Over budget only when it would run alone. */
        if (s->running > 0 && s->in_use + t->estimate > s->budget) continue;
        return t;
    }
    return NULL;
}

/* A model that does not run: its earlier output (a view over the table
 * version, for what reads it), or nothing when no reader needs it. */
static void reuse_task(run_ctx *r, tarn_duck *d, task *t)
{
    json_t *m = t->m;
    const char *version = tarn__reuse_version(m);
    int rc = 0;
    if (version) {
        const char *name = str(m, "name"), *dot = strchr(name, '.');
        char schema[300];
        if (dot) snprintf(schema, sizeof schema, "%.*s", (int)(dot - name), name);
        pthread_mutex_lock(&r->ddl);
        rc = tarn__duck_register(d, r->lake, dot ? schema : NULL, dot ? dot + 1 : name, version, &t->err);
        tarn_version v = {0};
        if (rc == 0 && (rc = tarn__version_load(&v, r->lake, version, &t->err)) == 0) t->rows = v.row_count;
        tarn__version_clear(&v);
        pthread_mutex_unlock(&r->ddl);
        if (rc == 0) add_preview(r, d, m);
    }
    t->ended = tarn__now_us();
    t->rc = rc;
    if (rc < 0)
        emit(r, "x %-24s failed    %8.1f ms  %s", str(m, "name"), 0.0, t->err.message);
    else if (version)
        emit(r, "= %-24s reused    %8s     %lld rows (job %s's output, unchanged)", str(m, "name"), "",
             (long long)t->rows, str(json_object_get(m, "reuse"), "job"));
    else
        emit(r, "= %-24s reused    %8s     (not needed: what reads it was reused)", str(m, "name"), "");
}

static void run_task(sched *s, task *t, tarn_duck *d)
{
    run_ctx *r = s->r;
    json_t *m = t->m;
    int expectation = !strcmp(str(m, "role"), "expectation");
    t->started = tarn__now_us();
    if (tarn__reuse_skipped(m)) {
        reuse_task(r, d, t);
        return;
    }
    int rc = attach_parents(r, d, m, &t->err);
    if (rc == 0)
        rc = !strcmp(str(m, "kind"), "sql") ? run_sql_model(&t->rows, r, d, m, &t->err)
                                            : run_python_model(&t->rows, &t->verdict, r, d, m, &t->err);
    if (rc == 0 && !expectation && strcmp(str(m, "materialization"), "NONE")) rc = materialize(r, d, m, &t->err);
    if (rc == 0 && !expectation) add_preview(r, d, m);
    t->ended = tarn__now_us();
    t->rc = rc;
    double ms = (double)(t->ended - t->started) / 1000.0;
    if (rc < 0) {
        /* The task line gets the error's last line; the whole of it (a
         * traceback) comes with the run's error. */
        const char *last = t->err.message, *nl;
        while ((nl = strchr(last, '\n')) && nl[1]) last = nl + 1;
        pthread_mutex_lock(&r->mu);
        int cancelled = r->cancelled;
        pthread_mutex_unlock(&r->mu);
        emit(r, "x %-24s %s %8.1f ms  %s", str(m, "name"), cancelled ? "cancelled" : "failed   ",
             ms, last);
    } else if (expectation) {
        emit(r, "%s %-24s %s %8.1f ms", t->verdict ? "v" : "!", str(m, "name"),
             t->verdict ? "passed   " : "FAILED   ", ms);
    } else {
        emit(r, "v %-24s success   %8.1f ms  %lld rows%s", str(m, "name"), ms, (long long)t->rows,
             strcmp(str(m, "materialization"), "NONE") ? " (materialized)" : "");
    }
}

static void *worker_thread(void *arg)
{
    sched *s = arg;
    run_ctx *r = s->r;
    pthread_mutex_lock(&r->mu);
    tarn_duck d = {r->duck.db, r->conns[s->next_conn++], {0, 0}};
    for (;;) {
        task *t = next_task(s);
        if (!t) {
            int pending = 0;
            for (size_t i = 0; i < s->n; i++) pending += s->tasks[i].state == TASK_PENDING;
            if (s->running == 0 && (!pending || s->failed || r->cancelled)) break;
            pthread_cond_wait(&r->changed, &r->mu);
            continue;
        }
        t->state = TASK_RUNNING;
        s->running++;
        s->in_use += t->estimate;
        pthread_mutex_unlock(&r->mu);
        run_task(s, t, &d);
        pthread_mutex_lock(&r->mu);
        t->state = TASK_DONE;
        s->running--;
        s->in_use -= t->estimate;
        if (t->rc < 0) s->failed = 1;
        pthread_cond_broadcast(&r->changed);
    }
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static const char *task_kind(json_t *m)
{
    return !strcmp(str(m, "role"), "expectation") ? "expectation" : str(m, "kind");
}

/* Why task T never ran: the first parent that failed or was skipped
 * itself, or the run's failure elsewhere. */
static void skip_reason(char *out, size_t size, sched *s, task *t)
{
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(t->m, "parents"), k, p)
        for (size_t i = 0; i < s->n; i++) {
            task *o = &s->tasks[i];
            if (strcmp(str(o->m, "name"), json_string_value(p)) != 0) continue;
            if (o->state == TASK_DONE && o->rc < 0) {
                snprintf(out, size, "its parent '%s' failed", json_string_value(p));
                return;
            }
            if (o->state != TASK_DONE) {
                snprintf(out, size, "its parent '%s' did not run", json_string_value(p));
                return;
            }
        }
    snprintf(out, size, "the run stopped after a failure");
}

/* Bytes a task's inputs may take in memory: source files (Parquet grows
 * when decoded) and parents' outputs as a rough per-row size. */
static int64_t estimate_task(run_ctx *r, json_t *m)
{
    int64_t bytes = 0;
    size_t k;
    json_t *in;
    json_array_foreach(json_object_get(m, "inputs"), k, in)
    {
        json_t *src = json_object_get(in, "source");
        if (!src) continue;
        tarn_version v;
        if (TARN_CAT(r->lake)->vt->version_get(TARN_CAT(r->lake), str(src, "version"), &v, 0, NULL) < 0) continue;
        bytes += 4 * v.size_bytes;
        tarn__version_clear(&v);
    }
    return bytes;
}

static int64_t memory_budget(run_ctx *r)
{
    const char *conf = tarn_lake_config(r->lake, "run.memory_budget_mb");
    if (conf && atoll(conf) > 0) return atoll(conf) * 1024 * 1024;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page / 2 : (int64_t)4 << 30;
}

/* A DuckDB takes ~15 ms to start: the run's two start on a thread of
 * their own while the project loads and plans. Neither runs anything
 * until the run confines the first (open_confined). */
static void *open_engines(void *arg)
{
    run_ctx *r = arg;
    r->engines_rc = tarn__duck_open(&r->duck, &r->engines_err);
    if (r->engines_rc == 0) r->engines_rc = tarn__duck_open_writer(&r->writer, &r->engines_err);
    return NULL;
}

static void engines_start(run_ctx *r)
{
    r->engines_asked = 1;
    r->opener_started = pthread_create(&r->opener, NULL, open_engines, r) == 0;
    if (!r->opener_started) open_engines(r);
}

static int engines_ready(run_ctx *r, tarn_error *err)
{
    if (!r->engines_asked) engines_start(r);
    if (r->opener_started) pthread_join(r->opener, NULL);
    r->opener_started = 0;
    if (r->engines_rc < 0) return tarn__error_set(err, r->engines_rc, "%s", r->engines_err.message);
    return 0;
}

/* The run's DuckDB runs user SQL (SQL models, filters): before any runs,
 * it is confined to the data files of the run's source tables. */
static int open_confined(run_ctx *r, tarn_error *err)
{
    TARN_RETURN_NOT_OK(engines_ready(r, err));
    json_t *paths = json_array(), *seen = json_object();
    int rc = 0;
    size_t i, k;
    json_t *m, *in;
    json_array_foreach(json_object_get(r->project, "models"), i, m)
    {
        json_array_foreach(json_object_get(m, "inputs"), k, in)
        {
            const char *version = str(json_object_get(in, "source"), "version");
            if (rc < 0 || !version || json_object_get(seen, version)) continue;
            json_object_set_new(seen, version, json_true());
            rc = tarn__duck_add_version_paths(paths, r->lake, version, err);
        }
        const char *reused = tarn__reuse_version(m);
        if (rc == 0 && reused && !json_object_get(seen, reused)) {
            json_object_set_new(seen, reused, json_true());
            rc = tarn__duck_add_version_paths(paths, r->lake, reused, err);
        }
    }
    if (rc == 0) rc = tarn__duck_confine(&r->duck, paths, err);
    json_decref(paths);
    json_decref(seen);
    return rc;
}

/* From the cancel watcher's thread: stop scheduling, stop the workers
 * (their supervisors kill what they started) and interrupt the queries. */
static void cancel_run(void *ctx)
{
    run_ctx *r = ctx;
    emit(r, "job %s: cancel requested: stopping its tasks", r->job_id);
    pthread_mutex_lock(&r->mu);
    r->cancelled = 1;
    tarn__rt_cancel(r->rt);
    for (size_t i = 0; i < r->nconns; i++) duckdb_interrupt(r->conns[i]);
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
}

/* From the same thread, a few times a second: what the job printed is in
 * its log file for `tarn job logs`, even while a task is silent. */
static void flush_log(void *ctx)
{
    run_ctx *r = ctx;
    pthread_mutex_lock(&r->log_mu);
    tarn__joblog_flush(r->log);
    pthread_mutex_unlock(&r->log_mu);
}

static int execute(tarn_commit_id *commit, run_ctx *r, tarn_error *err)
{
    int rc = open_confined(r, err);
    if (rc == 0)
        rc = tarn__scancache_open(&r->scans, r->lake, &r->ddl, r->opts->version >= 3 && r->opts->no_cache, err);
    if (rc == 0 && !r->rt) rc = tarn__rt_open(&r->rt, r->lake, 0, runtime_exe(r->opts), err);
    if (rc == 0) tarn__scancache_set_hot(r->scans, r->rt);
    if (rc < 0) return rc;
    json_t *order = json_object_get(r->project, "order");
    sched s = {0};
    s.r = r;
    s.n = json_array_size(order);
    s.tasks = calloc(s.n ? s.n : 1, sizeof *s.tasks);
    s.budget = memory_budget(r);
    size_t i;
    json_t *name;
    json_array_foreach(order, i, name)
    {
        s.tasks[i].m = model_named(r->project, json_string_value(name));
        s.tasks[i].rows = -1;
        s.tasks[i].verdict = -1;
        s.tasks[i].estimate = estimate_task(r, s.tasks[i].m);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = cores > 0 ? (size_t)cores : 1;
    const char *conf = tarn_lake_config(r->lake, "run.parallelism");
    if (conf && atoi(conf) > 0) nthreads = (size_t)atoi(conf);
    if (nthreads > s.n) nthreads = s.n ? s.n : 1;
    pthread_mutex_lock(&r->mu);
    r->conns = calloc(nthreads, sizeof *r->conns);
    for (i = 0; i < nthreads && rc == 0; i++) {
        if (duckdb_connect(r->duck.db, &r->conns[i]) != DuckDBSuccess)
            rc = tarn__error_set(err, TARN_EIO, "cannot connect to DuckDB");
        else r->nconns++;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc < 0) {
        free(s.tasks);
        return rc;
    }
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    size_t started = 0;
    for (i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker_thread, &s) == 0) started++;
    if (started == 0) worker_thread(&s);
    for (i = 0; i < started; i++) pthread_join(threads[i], NULL);
    free(threads);
    /* From here on a cancel comes too late: the outputs are what they are. */
    tarn__cancel_unwatch(&r->watch);
    int cancelled = r->cancelled;

    /* The report lists tasks in plan order, whatever order they ran in. */
    int failed_expectations = 0;
    task *failed = NULL;
    for (i = 0; i < s.n; i++) {
        task *t = &s.tasks[i];
        if (t->state != TASK_DONE) {
            /* Never started: a parent failed, or the run stopped first. */
            char why[400];
            if (cancelled) snprintf(why, sizeof why, "the job was cancelled");
            else skip_reason(why, sizeof why, &s, t);
            emit(r, "- %-24s skipped   (%s)", str(t->m, "name"), why);
            json_array_append_new(r->tasks, json_pack("{s:s,s:s,s:s,s:n,s:n,s:i,s:s}", "name",
                                                      str(t->m, "name"), "kind", task_kind(t->m),
                                                      "outcome", "skipped", "started", "ended",
                                                      "rows", -1, "reason", why));
            continue;
        }
        json_t *m = t->m;
        int expectation = !strcmp(str(m, "role"), "expectation");
        char t0[40], t1[40];
        tarn__format_time(t0, sizeof t0, t->started);
        tarn__format_time(t1, sizeof t1, t->ended);
        const char *outcome = t->rc < 0 && cancelled ? "cancelled"
                              : t->rc < 0                 ? "failed"
                              : expectation && t->verdict == 0 ? "expectation_failed"
                                                               : "success";
        json_t *tj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "name", str(m, "name"), "kind",
                               task_kind(m), "outcome", outcome,
                               "started", t0, "ended", t1, "rows", (json_int_t)t->rows);
        if (t->rc < 0) json_object_set_new(tj, "error", json_string(t->err.message));
        if (t->rc == 0 && tarn__reuse_skipped(m)) {
            json_object_set_new(tj, "reused", json_true());
            const char *from = str(json_object_get(m, "reuse"), "job");
            if (from) json_object_set_new(tj, "reused_from", json_string(from));
            json_array_append_new(json_object_get(r->report, "reused"), json_string(str(m, "name")));
        }
        json_array_append_new(r->tasks, tj);
        if (t->rc < 0 && !failed) failed = t;
        if (t->rc == 0 && expectation) {
            json_array_append_new(json_object_get(r->report, "expectations"),
                                  json_pack("{s:s,s:b}", "name", str(m, "name"), "passed", t->verdict != 0));
            if (!t->verdict) failed_expectations++;
        }
    }
    /* Every Python call has ended, its processes gone, before anything
     * commits (tarn__rt_call returns once its result is in). */
    tarn_error settle_err = TARN_ERROR_INIT;
    int unsettled = r->rt ? tarn__rt_settle(r->rt, &settle_err) : 0;
    if (cancelled) {
        rc = tarn__error_set(err, TARN_EABORTED, "job %s was cancelled: nothing "
                             "of it was committed", r->job_id);
    } else if (unsettled < 0) {
        rc = tarn__error_set(err, unsettled, "%s", settle_err.message);
    } else if (failed) {
        json_t *m = failed->m;
        rc = tarn__error_set(err, TARN_EUSER, "model '%s' (%s:%lld) failed: %s", str(m, "name"),
                             str(m, "file"), (long long)json_integer_value(json_object_get(m, "line")),
                             failed->err.message);
    } else if (failed_expectations && r->opts->strict) {
        rc = tarn__error_set(err, TARN_EUSER, "%d expectation%s failed (--strict)", failed_expectations,
                             failed_expectations == 1 ? "" : "s");
    } else if (failed_expectations) {
        emit(r, "%d expectation%s failed (not fatal without --strict)", failed_expectations,
             failed_expectations == 1 ? "" : "s");
    }
    tarn_error_clear(&settle_err);
    for (i = 0; i < s.n; i++) tarn_error_clear(&s.tasks[i].err);
    free(s.tasks);
    if (rc == 0) rc = publish(commit, r, err);
    return rc;
}

int tarn_local__run(char **report, tarn_lake *lake, const tarn_run_options *opts, tarn_error *err)
{
    *report = NULL;
    tarn_run_options defaults = TARN_RUN_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    run_ctx r = {0};
    r.lake = lake;
    r.opts = opts;
    r.report = json_pack("{s:s,s:[],s:[],s:{},s:[]}", "outcome", "planned", "tasks", "expectations", "previews",
                         "reused");
    r.tasks = json_object_get(r.report, "tasks");
    r.outputs = json_array();
    r.sources = json_object();
    pthread_mutex_init(&r.mu, NULL);
    pthread_mutex_init(&r.ddl, NULL);
    pthread_mutex_init(&r.log_mu, NULL);
    pthread_cond_init(&r.changed, NULL);
    char rnd[33];
    tarn__random_hex(rnd);
    snprintf(r.job_id, sizeof r.job_id, "%.16s", rnd);
    tarn_commit_id commit = {{0}};
    int rc = tarn__branch_name(r.branch, lake, opts->branch, err);
    tarn_ref_row ref;
    if (rc == 0) {
        rc = tarn__ref_get(&ref, lake, r.branch, err);
        if (rc == TARN_ENOTFOUND || (rc == 0 && ref.kind != TARN_REF_BRANCH))
            rc = tarn__error_set(err, TARN_ENOTFOUND, "branch '%s' does not exist", r.branch);
    }
    if (rc == 0) {
        snprintf(r.base_commit, sizeof r.base_commit, "%s", ref.commit);
        tarn_commit_id in;
        rc = tarn_ref_resolve(&in, lake, opts->input_ref ? opts->input_ref : ref.commit, err);
        snprintf(r.input_commit, sizeof r.input_commit, "%s", in.hex);
    }
    tarn_error ns_err = TARN_ERROR_INIT;
    if (rc == 0 && opts->version >= 2 && opts->namespace_ &&
        tarn_name_check_namespace(opts->namespace_, &ns_err) != 0)
        rc = tarn__error_set(err, TARN_EINVALID, "namespace '%s': %s", opts->namespace_, ns_err.message);
    tarn_error_clear(&ns_err);
    if (rc == 0) rc = tarn__joblog_open(&r.log, lake, err);
    if (rc == 0 && !opts->dry_run) rc = tarn__rt_open(&r.rt, lake, 1, runtime_exe(opts), err);
    if (rc == 0 && !opts->dry_run) engines_start(&r);
    /* One DuckDB parses the SQL files and binds the models' filters,
     * reading no file: confined from the start. */
    tarn_duck planner = {0};
    int planner_open = 0;
    if (rc == 0 && (rc = tarn__duck_open(&planner, err)) == 0) {
        planner_open = 1;
        json_t *none = json_array();
        rc = tarn__duck_confine(&planner, none, err);
        json_decref(none);
    }
    if (rc == 0) rc = tarn__project_load(&r.project, lake, opts->project_dir, r.rt, &planner, err);
    if (rc == 0) rc = tarn__plan(r.project, lake, r.input_commit, opts, &planner, err);
    if (planner_open) tarn__duck_close(&planner);
    if (rc == 0 && !opts->dry_run) rc = tarn__reuse_plan(r.project, lake, r.base_commit, cache_on(opts), err);
    json_object_set_new(r.report, "branch", json_string(r.branch));
    if (rc < 0) goto done;
    json_object_set_new(r.report, "plan", json_pack("{s:O,s:o,s:s}", "order", json_object_get(r.project, "order"),
                                                     "params", shown_params(r.project),
                                                     "input_commit", r.input_commit));
    print_plan(&r);
    if (opts->dry_run) goto done;

    json_object_set_new(r.report, "job_id", json_string(r.job_id));
    prefork_first(&r);
    if ((rc = job_insert(&r, err)) < 0) goto done;
    tarn_error log_err = TARN_ERROR_INIT;
    if (tarn__joblog_start(r.log, r.job_id, &log_err) < 0) emit(&r, "warning: %s", log_err.message);
    tarn_error_clear(&log_err);
    emit(&r, "job %s on branch '%s'%s", r.job_id, r.branch, opts->no_transaction ? " (no transaction)" : "");
    /* From here on the job can be stopped from elsewhere (tarn job stop). */
    tarn_error watch_err = TARN_ERROR_INIT;
    if (tarn__cancel_watch(&r.watch, lake, r.job_id, cancel_run, flush_log, &r, &watch_err) < 0)
        emit(&r, "warning: this job cannot be cancelled: %s", watch_err.message);
    tarn_error_clear(&watch_err);
    if (opts->version >= 2 && opts->on_job) opts->on_job(r.job_id, opts->ctx);
    if (!opts->no_transaction) {
        /* Outputs land on top of the branch as it is; sources are read at
         * the input commit (the same unless this is a rerun). */
        rc = tarn__run_branch_create(r.run_branch, lake, r.job_id, r.base_commit, err);
        if (rc == 0) json_object_set_new(r.report, "run_branch", json_string(r.run_branch));
        else r.run_branch[0] = 0;
    }
    /* Environments in use are claimed, so env gc leaves them alone. */
    size_t mi;
    json_t *model;
    json_array_foreach(json_object_get(r.project, "models"), mi, model)
    {
        const char *env_id = str(json_object_get(model, "env"), "id");
        if (rc == 0 && env_id) rc = tarn__env_claim(lake, env_id, err);
    }
    if (rc == 0) rc = execute(&commit, &r, err);
    tarn__cancel_unwatch(&r.watch);
    size_t nreused = json_array_size(json_object_get(r.report, "reused")), nmodels = 0;
    json_array_foreach(json_object_get(r.project, "models"), mi, model) nmodels += !strcmp(str(model, "role"), "model");
    if (rc == 0 && nreused)
        emit(&r, "%zu of %zu models reused: nothing they depend on changed (--cache off runs them)", nreused,
             nmodels);
    if (rc == 0) {
        emit(&r, "run %s succeeded: branch '%s' is at %.12s", r.job_id, r.branch, commit.hex);
    } else {
        const char *status = r.cancelled ? "cancelled" : "failed";
        report_outcome(&r, status, NULL, err ? err->message : "failed");
        emit(&r, "run %s %s: branch '%s' is unchanged%s%s", r.job_id, status, r.branch,
             r.run_branch[0] ? "; its run branch is kept, aborted: " : "", r.run_branch);
        flush_log(&r); /* whoever sees the job ended finds its whole log */
        tarn_error rec = TARN_ERROR_INIT;
        if (job_record(&r, status, NULL, &rec) < 0) emit(&r, "could not record the job's end: %s", rec.message);
    }
done:
    if (rc < 0 && !json_object_get(r.report, "error"))
        json_object_set_new(r.report, "error", json_string(err ? err->message : "failed"));
    if (rc < 0 && !json_object_get(r.report, "job_id"))
        json_object_set_new(r.report, "outcome", json_string("refused"));
    *report = json_dumps(r.report, JSON_COMPACT);
    tarn__rt_close(&r.rt); /* drops views: before their connections go */
    for (size_t i = 0; i < r.nconns; i++) duckdb_disconnect(&r.conns[i]);
    free(r.conns);
    if (r.opener_started) pthread_join(r.opener, NULL);
    tarn__duck_close(&r.duck);
    tarn__duck_close(&r.writer);
    tarn_error_clear(&r.engines_err);
    tarn__scancache_close(&r.scans);
    json_decref(r.report);
    json_decref(r.project);
    json_decref(r.outputs);
    json_decref(r.sources);
    tarn__joblog_close(&r.log);
    pthread_mutex_destroy(&r.mu);
    pthread_mutex_destroy(&r.ddl);
    pthread_mutex_destroy(&r.log_mu);
    pthread_cond_destroy(&r.changed);
    return rc;
}
