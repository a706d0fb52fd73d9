/* client.c — tarn._client: the lakehouse operations for Python, on
 * libtarn's public API (include/tarn/tarn.h).
 *
 * One type, Lake, owns a tarn_lake handle. Every method returns plain
 * Python values (dicts, lists, strings); tables travel as sealed memfds
 * that tarn.Table maps without a copy. A failing call raises
 * tarn.errors.from_code(code, message[, tables]) — tarn.Client (client.py)
 * is the friendly layer on top. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include <tarn/tarn.h>

typedef struct {
    PyObject_HEAD tarn_lake *lake;
} LakeObject;

/* Raises the tarn error ERR as its Python class. */
static PyObject *raise_tarn(int rc, tarn_error *err)
{
    PyObject *mod = PyImport_ImportModule("tarn.errors");
    PyObject *exc = NULL;
    if (mod) {
        PyObject *tables = PyList_New(0);
        for (size_t i = 0; i < err->ntables; i++) {
            PyObject *t = PyUnicode_FromString(err->tables[i]);
            PyList_Append(tables, t);
            Py_DECREF(t);
        }
        exc = PyObject_CallMethod(mod, "from_code", "isO", rc, err->message, tables);
        Py_DECREF(tables);
        Py_DECREF(mod);
    }
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, err->message);
    }
    tarn_error_clear(err);
    return NULL;
}

static int Lake_init(LakeObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "token", NULL};
    const char *path = NULL, *token = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zz", kwlist, &path, &token)) return -1;
    tarn_error err = TARN_ERROR_INIT;
    tarn_lake_close(&self->lake);
    /* A URL names a server: the handle is remote, every call goes there. */
    int remote = path && (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0);
    if (remote && !token) token = getenv("TARN_TOKEN");
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = remote ? tarn_lake_open_remote(&self->lake, path, token, &err)
                                       : tarn_lake_open(&self->lake, path, &err);
    Py_END_ALLOW_THREADS if (rc < 0)
    {
        raise_tarn(rc, &err);
        return -1;
    }
    return 0;
}

static void Lake_dealloc(LakeObject *self)
{
    tarn_lake_close(&self->lake);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Lake_path(LakeObject *self, PyObject *unused)
{
    return PyUnicode_FromString(tarn_lake_path(self->lake));
}

static PyObject *refs_list(LakeObject *self, tarn_ref_kind kind)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_ref_entry *refs = NULL;
    size_t n = 0;
    int rc = tarn_ref_list(&refs, &n, self->lake, kind, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:s,s:O,s:L}", "name", refs[i].name, "commit", refs[i].commit.hex,
                                    "aborted", refs[i].aborted ? Py_True : Py_False, "updated_us",
                                    (long long)refs[i].updated_us);
        PyList_Append(list, d);
        Py_DECREF(d);
    }
    tarn_free(refs);
    return list;
}

static PyObject *Lake_branches(LakeObject *self, PyObject *unused)
{
    return refs_list(self, TARN_REF_BRANCH);
}

static PyObject *Lake_tags(LakeObject *self, PyObject *unused)
{
    return refs_list(self, TARN_REF_TAG);
}

static PyObject *Lake_active_branch(LakeObject *self, PyObject *unused)
{
    char name[256];
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_lake_active_branch(name, sizeof name, self->lake, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(name);
}

static PyObject *Lake_resolve(LakeObject *self, PyObject *args)
{
    const char *ref = NULL;
    if (!PyArg_ParseTuple(args, "z", &ref)) return NULL;
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_ref_resolve(&id, self->lake, ref, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(id.hex);
}

/* create_ref(kind, name, from_ref) / delete_ref(kind, name): kind 0 branch, 1 tag */
static PyObject *Lake_create_ref(LakeObject *self, PyObject *args)
{
    int kind;
    const char *name, *from = NULL;
    if (!PyArg_ParseTuple(args, "isz", &kind, &name, &from)) return NULL;
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = kind == 0 ? tarn_branch_create(&id, self->lake, name, from, &err)
                       : tarn_tag_create(&id, self->lake, name, from, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(id.hex);
}

static PyObject *Lake_delete_ref(LakeObject *self, PyObject *args)
{
    int kind;
    const char *name;
    if (!PyArg_ParseTuple(args, "is", &kind, &name)) return NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = kind == 0 ? tarn_branch_delete(self->lake, name, &err) : tarn_tag_delete(self->lake, name, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *table_dict(const tarn_table_info *t)
{
    PyObject *cols = PyList_New(0);
    for (size_t i = 0; i < t->ncolumns; i++) {
        PyObject *c = Py_BuildValue("{s:s,s:s}", "name", t->columns[i].name, "type", t->columns[i].type);
        PyList_Append(cols, c);
        Py_DECREF(c);
    }
    PyObject *d = Py_BuildValue("{s:s,s:s,s:N,s:L,s:L,s:L,s:s}", "name", t->name, "namespace",
                                t->namespace_, "columns", cols, "row_count", (long long)t->row_count,
                                "file_count", (long long)t->file_count, "size_bytes",
                                (long long)t->size_bytes, "version", t->version);
    return d;
}

static PyObject *Lake_tables(LakeObject *self, PyObject *args)
{
    const char *ref = NULL;
    if (!PyArg_ParseTuple(args, "z", &ref)) return NULL;
    tarn_table_info *list = NULL;
    size_t n = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_list(&list, &n, self->lake, ref, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *out = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *d = table_dict(&list[i]);
        PyList_Append(out, d);
        Py_DECREF(d);
    }
    tarn_table_info_free(list, n);
    return out;
}

static PyObject *Lake_table(LakeObject *self, PyObject *args)
{
    const char *name, *ref = NULL;
    if (!PyArg_ParseTuple(args, "sz", &name, &ref)) return NULL;
    tarn_table_info info;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_get(&info, self->lake, ref, name, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *d = table_dict(&info);
    tarn_table_info_clear(&info);
    return d;
}

/* COMMIT — None, or (message, body, properties_json) each a str or None —
 * into O; the strings stay the tuple's, which the caller's args hold. */
static int commit_options(tarn_commit_options *o, PyObject *commit)
{
    tarn_commit_options init = TARN_COMMIT_OPTIONS_INIT;
    *o = init;
    if (!commit || commit == Py_None) return 1;
    return PyArg_ParseTuple(commit, "zzz", &o->message, &o->body, &o->properties_json);
}

static PyObject *Lake_delete_table(LakeObject *self, PyObject *args)
{
    const char *name, *branch = NULL;
    PyObject *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "sz|O", &name, &branch, &commit) || !commit_options(&co, commit))
        return NULL;
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_delete(&id, self->lake, name, branch, &co, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(id.hex);
}

static PyObject *Lake_revert_table(LakeObject *self, PyObject *args)
{
    const char *name, *source, *into = NULL;
    PyObject *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "ssz|O", &name, &source, &into, &commit) ||
        !commit_options(&co, commit))
        return NULL;
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_table_revert(&id, self->lake, name, source, into, &co, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(id.hex);
}

/* S as a str, bytes that are not UTF-8 replaced (U+FFFD). */
static PyObject *text_of(const char *s)
{
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)strlen(s ? s : ""), "replace");
}

static PyObject *Lake_commits(LakeObject *self, PyObject *args)
{
    const char *ref = NULL;
    Py_ssize_t limit = 0;
    if (!PyArg_ParseTuple(args, "zn", &ref, &limit)) return NULL;
    tarn_commit_info *log = NULL;
    size_t n = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_commit_log(&log, &n, self->lake, ref, limit > 0 ? (size_t)limit : 0, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *out = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *parents = PyList_New(0);
        for (size_t k = 0; k < log[i].nparents; k++) {
            PyObject *p = PyUnicode_FromString(log[i].parents[k].hex);
            PyList_Append(parents, p);
            Py_DECREF(p);
        }
        /* A message or author written by another client may hold bytes
         * that are not UTF-8: they become U+FFFD, not an exception. */
        PyObject *d = Py_BuildValue("{s:s,s:N,s:N,s:N,s:L,s:s}", "hash", log[i].id.hex, "parents",
                                    parents, "message", text_of(log[i].message), "author",
                                    text_of(log[i].author), "time_us", (long long)log[i].time_us,
                                    "properties", log[i].properties_json);
        if (!d) {
            Py_DECREF(out);
            tarn_commit_info_free(log, n);
            return NULL;
        }
        PyList_Append(out, d);
        Py_DECREF(d);
    }
    tarn_commit_info_free(log, n);
    return out;
}

static PyObject *Lake_merge(LakeObject *self, PyObject *args)
{
    const char *source, *into = NULL;
    PyObject *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "sz|O", &source, &into, &commit) || !commit_options(&co, commit))
        return NULL;
    tarn_merge_result m;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_branch_merge(&m, self->lake, source, into, &co, &err);
    Py_END_ALLOW_THREADS if (rc < 0) return raise_tarn(rc, &err);
    return Py_BuildValue("{s:s,s:O,s:O}", "commit", m.commit.hex, "fast_forward",
                         m.fast_forward ? Py_True : Py_False, "up_to_date", m.up_to_date ? Py_True : Py_False);
}

static PyObject *Lake_diff(LakeObject *self, PyObject *args)
{
    const char *from, *to;
    if (!PyArg_ParseTuple(args, "ss", &from, &to)) return NULL;
    tarn_diff_entry *d = NULL;
    size_t n = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_diff(&d, &n, self->lake, from, to, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    static const char *kinds[] = {"added", "removed", "changed"};
    PyObject *out = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *e = Py_BuildValue("{s:s,s:s,s:L,s:L}", "table", d[i].table, "change", kinds[d[i].kind],
                                    "rows_from", (long long)d[i].rows_from, "rows_to", (long long)d[i].rows_to);
        PyList_Append(out, e);
        Py_DECREF(e);
    }
    tarn_diff_free(d, n);
    return out;
}

/* query_fd(sql, ref, max_rows=-1) -> a sealed memfd holding the result as
 * Arrow IPC; DuckDB stops after max_rows rows (-1: all). */
static PyObject *Lake_query_fd(LakeObject *self, PyObject *args)
{
    tarn_query_options o = TARN_QUERY_OPTIONS_INIT;
    const char *sql;
    long long max_rows = -1;
    if (!PyArg_ParseTuple(args, "sz|L", &sql, &o.ref, &max_rows)) return NULL;
    o.max_rows = max_rows;
    int fd = -1, rc;
    tarn_error err = TARN_ERROR_INIT;
    Py_BEGIN_ALLOW_THREADS rc = tarn_query_arrow(&fd, self->lake, sql, &o, &err);
    Py_END_ALLOW_THREADS if (rc < 0) return raise_tarn(rc, &err);
    return PyLong_FromLong(fd);
}

/* scan_fd(table, ref, columns, filter, limit) -> a sealed memfd, as query_fd;
 * columns a sequence of names or None, limit -1 for all. */
static PyObject *Lake_scan_fd(LakeObject *self, PyObject *args)
{
    tarn_query_options o = TARN_QUERY_OPTIONS_INIT;
    const char *table, *filter = NULL;
    PyObject *columns = Py_None;
    long long limit = -1;
    if (!PyArg_ParseTuple(args, "szOzL", &table, &o.ref, &columns, &filter, &limit)) return NULL;
    o.max_rows = limit;
    PyObject *seq = columns == Py_None ? NULL : PySequence_Fast(columns, "columns: a list of names");
    if (columns != Py_None && !seq) return NULL;
    Py_ssize_t n = seq ? PySequence_Fast_GET_SIZE(seq) : 0;
    const char **names = calloc(n ? (size_t)n : 1, sizeof *names);
    for (Py_ssize_t i = 0; i < n && names; i++) {
        names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        if (!names[i]) {
            free(names);
            Py_DECREF(seq);
            return NULL;
        }
    }
    int fd = -1, rc;
    tarn_error err = TARN_ERROR_INIT;
    /* The names stay the list's, which SEQ holds while the GIL is released. */
    Py_BEGIN_ALLOW_THREADS rc = tarn_scan_arrow(&fd, self->lake, table, names, (size_t)n, filter, &o, &err);
    Py_END_ALLOW_THREADS free(names);
    Py_XDECREF(seq);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyLong_FromLong(fd);
}

static void columns_free(tarn_column *cols, size_t n)
{
    for (size_t i = 0; cols && i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

static PyObject *json_string_result(int rc, char *json, tarn_error *err);

static PyObject *import_result(int rc, tarn_import_result *r, tarn_error *err)
{
    if (rc < 0) return raise_tarn(rc, err);
    return Py_BuildValue("{s:s,s:L,s:L}", "commit", r->commit.hex, "rows", (long long)r->rows, "files",
                         (long long)r->files);
}

/* PAIRS — None or a sequence of (name, type) — as columns (copied: calls
 * run without the GIL); -1 with a Python error set on bad input. */
static int column_types(tarn_column **out, size_t *n, PyObject *pairs)
{
    *out = NULL;
    *n = 0;
    if (pairs == Py_None) return 0;
    PyObject *seq = PySequence_Fast(pairs, "column_types: pairs (name, type)");
    if (!seq) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    tarn_column *cols = calloc(count ? (size_t)count : 1, sizeof *cols);
    int ok = cols != NULL;
    Py_ssize_t i = 0;
    for (; ok && i < count; i++) {
        const char *name, *type;
        ok = PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss", &name, &type);
        if (ok) {
            cols[i].name = strdup(name);
            cols[i].type = strdup(type);
        }
    }
    Py_DECREF(seq);
    if (!ok) {
        columns_free(cols, (size_t)i);
        return -1;
    }
    *out = cols;
    *n = (size_t)count;
    return 0;
}

/* import_path(table, path, branch, mode, format, commit, delimiter, header, null,
 *             column_types, skip, encoding, quote, escape): header 0 detect, 1 yes, 2 no;
 * column_types a sequence of (name, type) pairs or None; commit as commit_options. */
static PyObject *Lake_import_path(LakeObject *self, PyObject *args)
{
    const char *table, *path, *branch = NULL, *format = NULL;
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    int mode, header = 0;
    long long skip = 0;
    PyObject *types = Py_None, *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "sszizOzizOLzzz", &table, &path, &branch, &mode, &format, &commit,
                          &o.delimiter, &header, &o.null_string, &types, &skip, &o.encoding,
                          &o.quote, &o.escape) ||
        !commit_options(&co, commit))
        return NULL;
    o.mode = (tarn_import_mode)mode;
    o.format = format;
    o.commit = &co;
    o.header = (tarn_csv_header)header;
    o.skip = skip;
    tarn_column *cols = NULL;
    if (column_types(&cols, &o.ncolumn_types, types) < 0) return NULL;
    o.column_types = cols;
    tarn_import_result r;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_table_import(&r, self->lake, table, path, branch, &o, &err);
    Py_END_ALLOW_THREADS columns_free(cols, o.ncolumn_types);
    return import_result(rc, &r, &err);
}

/* table_plan(path, format, delimiter, header, null, column_types, skip,
 * encoding, quote, escape) -> JSON (tarn_table_plan) */
static PyObject *Lake_table_plan(LakeObject *self, PyObject *args)
{
    const char *path;
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    int header = 0;
    long long skip = 0;
    PyObject *types = Py_None;
    if (!PyArg_ParseTuple(args, "szzizOLzzz", &path, &o.format, &o.delimiter, &header,
                          &o.null_string, &types, &skip, &o.encoding, &o.quote, &o.escape))
        return NULL;
    o.header = (tarn_csv_header)header;
    o.skip = skip;
    tarn_column *cols = NULL;
    if (column_types(&cols, &o.ncolumn_types, types) < 0) return NULL;
    o.column_types = cols;
    char *plan = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_table_plan(&plan, self->lake, path, &o, &err);
    Py_END_ALLOW_THREADS columns_free(cols, o.ncolumn_types);
    return json_string_result(rc, plan, &err);
}

/* table_create(table, columns, branch, replace, commit): columns a
 * sequence of (name, type) pairs */
static PyObject *Lake_table_create(LakeObject *self, PyObject *args)
{
    const char *table, *branch = NULL;
    PyObject *columns, *commit = Py_None;
    int replace = 0;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "sOzp|O", &table, &columns, &branch, &replace, &commit) ||
        !commit_options(&co, commit))
        return NULL;
    tarn_column *cols = NULL;
    size_t n = 0;
    if (column_types(&cols, &n, columns) < 0) return NULL;
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.mode = replace ? TARN_IMPORT_REPLACE : TARN_IMPORT_CREATE;
    o.commit = &co;
    tarn_import_result r;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_table_create(&r, self->lake, table, cols, n, branch, &o, &err);
    Py_END_ALLOW_THREADS columns_free(cols, n);
    return import_result(rc, &r, &err);
}

/* import_fd(table, fd, branch, mode, commit) */
static PyObject *Lake_import_fd(LakeObject *self, PyObject *args)
{
    const char *table, *branch = NULL;
    int fd, mode;
    PyObject *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "sizi|O", &table, &fd, &branch, &mode, &commit) ||
        !commit_options(&co, commit))
        return NULL;
    tarn_import_options o = TARN_IMPORT_OPTIONS_INIT;
    o.mode = (tarn_import_mode)mode;
    o.commit = &co;
    tarn_import_result r;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_table_import_arrow_fd(&r, self->lake, table, fd, branch, &o, &err);
    Py_END_ALLOW_THREADS return import_result(rc, &r, &err);
}

/* run(project_dir, branch, params: dict[str,str], strict, dry_run, no_transaction, preview_rows
 *     [, namespace, notify_fd, no_cache]) -> (rc, report_json, message) — the report exists for
 * failed runs too. */
/* A detached run's job id goes to the descriptor its starter reads. */
static void run_started(const char *job_id, void *ctx)
{
    int fd = *(int *)ctx;
    if (fd >= 0) dprintf(fd, "%s\n", job_id);
}

static PyObject *Lake_run(LakeObject *self, PyObject *args)
{
    const char *dir, *branch = NULL, *ns = NULL;
    PyObject *params;
    int strict, dry_run, no_tx, preview, notify_fd = -1, no_cache = 0;
    if (!PyArg_ParseTuple(args, "szO!pppi|zip", &dir, &branch, &PyDict_Type, &params, &strict,
                          &dry_run, &no_tx, &preview, &ns, &notify_fd, &no_cache))
        return NULL;
    Py_ssize_t n = PyDict_Size(params), pos = 0, i = 0;
    const char **names = PyMem_Calloc((size_t)n + 1, sizeof *names);
    const char **values = PyMem_Calloc((size_t)n + 1, sizeof *values);
    PyObject *k, *v;
    while (PyDict_Next(params, &pos, &k, &v)) {
        names[i] = PyUnicode_AsUTF8(k);
        values[i] = PyUnicode_AsUTF8(v);
        if (!names[i] || !values[i]) {
            PyMem_Free(names);
            PyMem_Free(values);
            return NULL;
        }
        i++;
    }
    tarn_run_options o = TARN_RUN_OPTIONS_INIT;
    o.project_dir = dir;
    o.branch = branch;
    o.strict = strict;
    o.dry_run = dry_run;
    o.no_transaction = no_tx;
    o.preview_rows = preview;
    o.nparams = (size_t)n;
    o.param_names = names;
    o.param_values = values;
    o.namespace_ = ns;
    o.no_cache = no_cache;
    if (notify_fd >= 0) {
        o.on_job = run_started;
        o.ctx = &notify_fd;
    }
    char *report = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_run(&report, self->lake, &o, &err);
    Py_END_ALLOW_THREADS PyMem_Free(names);
    PyMem_Free(values);
    PyObject *out = Py_BuildValue("(iss)", rc, report ? report : "{}", rc < 0 ? err.message : "");
    tarn_free(report);
    tarn_error_clear(&err);
    return out;
}

static PyObject *Lake_cancel_job(LakeObject *self, PyObject *args)
{
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_job_cancel(self->lake, id, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *Lake_jobs(LakeObject *self, PyObject *args)
{
    Py_ssize_t limit = 20;
    if (!PyArg_ParseTuple(args, "|n", &limit)) return NULL;
    char *json = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_job_list(&json, self->lake, limit > 0 ? (size_t)limit : 0, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *s = PyUnicode_FromString(json);
    tarn_free(json);
    return s;
}

/* A JSON document the library returned (freed here) as a Python string. */
static PyObject *json_string_result(int rc, char *json, tarn_error *err)
{
    if (rc < 0) return raise_tarn(rc, err);
    PyObject *s = PyUnicode_FromString(json ? json : "null");
    tarn_free(json);
    return s;
}

static PyObject *Lake_job(LakeObject *self, PyObject *args)
{
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    char *json = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_job_get(&json, self->lake, id, &err);
    return json_string_result(rc, json, &err);
}

static PyObject *Lake_job_logs(LakeObject *self, PyObject *args)
{
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    char *text = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_job_logs(&text, self->lake, id, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    tarn_free(text);
    return s;
}

static PyObject *Lake_info(LakeObject *self, PyObject *unused)
{
    char *json = NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_lake_info(&json, self->lake, &err);
    return json_string_result(rc, json, &err);
}

/* rename_ref(kind, old, new): kind 0 branch, 1 tag */
static PyObject *Lake_rename_ref(LakeObject *self, PyObject *args)
{
    int kind;
    const char *old_name, *new_name;
    if (!PyArg_ParseTuple(args, "iss", &kind, &old_name, &new_name)) return NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_ref_rename(self->lake, kind == 0 ? TARN_REF_BRANCH : TARN_REF_TAG, old_name, new_name, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *Lake_prune_aborted(LakeObject *self, PyObject *args)
{
    long long older = 0;
    int dry = 0;
    if (!PyArg_ParseTuple(args, "Lp", &older, &dry)) return NULL;
    char **names = NULL;
    size_t n = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_branch_prune_aborted(&names, &n, self->lake, older, dry, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        PyList_Append(list, s);
        Py_DECREF(s);
        tarn_free(names[i]);
    }
    tarn_free(names);
    return list;
}

static PyObject *Lake_query_to_file(LakeObject *self, PyObject *args)
{
    const char *sql, *ref = NULL, *path, *format = NULL;
    if (!PyArg_ParseTuple(args, "szsz", &sql, &ref, &path, &format)) return NULL;
    int64_t rows = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = tarn_query_to_file(&rows, self->lake, sql, ref, path, format, &err);
    Py_END_ALLOW_THREADS if (rc < 0) return raise_tarn(rc, &err);
    return PyLong_FromLongLong((long long)rows);
}

static PyObject *Lake_namespaces(LakeObject *self, PyObject *args)
{
    const char *ref = NULL;
    if (!PyArg_ParseTuple(args, "z", &ref)) return NULL;
    char **list = NULL;
    size_t n = 0;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_namespace_list(&list, &n, self->lake, ref, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    PyObject *out = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(list[i]);
        PyList_Append(out, s);
        Py_DECREF(s);
    }
    tarn_namespace_list_free(list, n);
    return out;
}

static PyObject *Lake_namespace_change(LakeObject *self, PyObject *args)
{
    const char *ns, *branch = NULL;
    int create;
    PyObject *commit = Py_None;
    tarn_commit_options co;
    if (!PyArg_ParseTuple(args, "psz|O", &create, &ns, &branch, &commit) ||
        !commit_options(&co, commit))
        return NULL;
    tarn_commit_id id;
    tarn_error err = TARN_ERROR_INIT;
    int rc = create ? tarn_namespace_create(&id, self->lake, ns, branch, &co, &err)
                    : tarn_namespace_delete(&id, self->lake, ns, branch, &co, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    return PyUnicode_FromString(id.hex);
}

static PyMethodDef Lake_methods[] = {
    {"path", (PyCFunction)Lake_path, METH_NOARGS, "The .tarn folder."},
    {"branches", (PyCFunction)Lake_branches, METH_NOARGS, "Branches as dicts."},
    {"tags", (PyCFunction)Lake_tags, METH_NOARGS, "Tags as dicts."},
    {"active_branch", (PyCFunction)Lake_active_branch, METH_NOARGS, "The active branch."},
    {"resolve", (PyCFunction)Lake_resolve, METH_VARARGS, "resolve(ref) -> commit hash"},
    {"create_ref", (PyCFunction)Lake_create_ref, METH_VARARGS, "create_ref(kind, name, from_ref)"},
    {"delete_ref", (PyCFunction)Lake_delete_ref, METH_VARARGS, "delete_ref(kind, name)"},
    {"tables", (PyCFunction)Lake_tables, METH_VARARGS, "tables(ref)"},
    {"table", (PyCFunction)Lake_table, METH_VARARGS, "table(name, ref)"},
    {"delete_table", (PyCFunction)Lake_delete_table, METH_VARARGS, "delete_table(name, branch, commit)"},
    {"revert_table", (PyCFunction)Lake_revert_table, METH_VARARGS,
     "revert_table(name, source_ref, into, commit)"},
    {"commits", (PyCFunction)Lake_commits, METH_VARARGS, "commits(ref, limit)"},
    {"merge", (PyCFunction)Lake_merge, METH_VARARGS, "merge(source_ref, into, commit)"},
    {"diff", (PyCFunction)Lake_diff, METH_VARARGS, "diff(from_ref, to_ref)"},
    {"query_fd", (PyCFunction)Lake_query_fd, METH_VARARGS, "query_fd(sql, ref, max_rows) -> memfd"},
    {"scan_fd", (PyCFunction)Lake_scan_fd, METH_VARARGS,
     "scan_fd(table, ref, columns, filter, limit) -> memfd"},
    {"import_path", (PyCFunction)Lake_import_path, METH_VARARGS,
     "import_path(table, path, branch, mode, format, commit, delimiter, header, null, "
     "column_types, skip, encoding, quote, escape)"},
    {"import_fd", (PyCFunction)Lake_import_fd, METH_VARARGS,
     "import_fd(table, fd, branch, mode, commit)"},
    {"table_plan", (PyCFunction)Lake_table_plan, METH_VARARGS,
     "table_plan(path, format, delimiter, header, null, column_types, skip, encoding, quote, escape)"},
    {"table_create", (PyCFunction)Lake_table_create, METH_VARARGS,
     "table_create(table, columns, branch, replace, commit)"},
    {"run", (PyCFunction)Lake_run, METH_VARARGS,
     "run(dir, branch, params, strict, dry_run, no_transaction, preview, namespace, notify_fd, "
     "no_cache)"},
    {"cancel_job", (PyCFunction)Lake_cancel_job, METH_VARARGS, "cancel_job(id)"},
    {"jobs", (PyCFunction)Lake_jobs, METH_VARARGS, "jobs(limit) -> JSON"},
    {"namespaces", (PyCFunction)Lake_namespaces, METH_VARARGS, "namespaces(ref)"},
    {"namespace_change", (PyCFunction)Lake_namespace_change, METH_VARARGS, "namespace_change(create, ns, branch, commit)"},
    {"job", (PyCFunction)Lake_job, METH_VARARGS, "job(id) -> JSON"},
    {"job_logs", (PyCFunction)Lake_job_logs, METH_VARARGS, "job_logs(id) -> text"},
    {"info", (PyCFunction)Lake_info, METH_NOARGS, "info() -> JSON"},
    {"rename_ref", (PyCFunction)Lake_rename_ref, METH_VARARGS, "rename_ref(kind, old, new)"},
    {"prune_aborted", (PyCFunction)Lake_prune_aborted, METH_VARARGS, "prune_aborted(older_than_s, dry_run) -> names"},
    {"query_to_file", (PyCFunction)Lake_query_to_file, METH_VARARGS, "query_to_file(sql, ref, path, format) -> rows"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LakeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tarn._client.Lake",
    .tp_basicsize = sizeof(LakeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An open tarn lakehouse (see tarn.Client).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lake_init,
    .tp_dealloc = (destructor)Lake_dealloc,
    .tp_methods = Lake_methods,
};

static int init_lake_static(PyObject *m)
{
    if (PyType_Ready(&LakeType) < 0) return -1;
    Py_INCREF(&LakeType);
    return PyModule_AddObject(m, "Lake", (PyObject *)&LakeType);
}

static PyObject *client_init(PyObject *mod, PyObject *args)
{
    const char *dir = NULL;
    tarn_init_options opts = TARN_INIT_OPTIONS_INIT;
    if (!PyArg_ParseTuple(args, "z|zzzzp", &dir, &opts.storage, &opts.endpoint, &opts.region, &opts.catalog,
                          &opts.attach))
        return NULL;
    tarn_error err = TARN_ERROR_INIT;
    int rc = tarn_lake_init_opts(dir ? dir : ".", &opts, &err);
    if (rc < 0) return raise_tarn(rc, &err);
    Py_RETURN_NONE;
}

static PyMethodDef client_functions[] = {
    {"init", client_init, METH_VARARGS, "init(dir, storage=None, endpoint=None, region=None, catalog=None, attach=False): create a lakehouse in DIR/.tarn"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot client_slots[] = {{Py_mod_exec, init_lake_static}, {0, NULL}};

static struct PyModuleDef client_module = {
    PyModuleDef_HEAD_INIT, "tarn._client", "tarn's lakehouse operations (libtarn).", 0,
    client_functions, client_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__client(void)
{
    return PyModuleDef_Init(&client_module);
}
