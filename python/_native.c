/* python/_native.c — tarn._native, the C half of tarn's Python SDK.
 *
 * It holds Arrow data for tarn.Table and moves it in and out of Python
 * without copying, on libtarn's public Arrow API (tarn/arrow.h) only:
 *
 *   Arrays   an owned ArrowSchema ("+s") plus N record batches ("+s"
 *            ArrowArrays). Made by decode_ipc (IPC bytes, zero-copy over any
 *            buffer object), map_fd (a sealed memfd, mapped read-only),
 *            import_stream (an "arrow_array_stream" PyCapsule) or
 *            from_columns (column descriptions whose buffers are Python
 *            objects, e.g. numpy arrays, viewed in place).
 *   Buffer   a read-only buffer-protocol view of one Arrow buffer that keeps
 *            its Arrays alive: numpy arrays made with np.frombuffer(Buffer)
 *            point straight into the IPC bytes / the mapping.
 *
 * A tarn.Table is (Arrays, selected columns, row segments); the export
 * functions (export_stream, export_schema, to_ipc, to_memfd, DuckDB helpers)
 * take that triple and build fresh ArrowArray trees whose nodes each hold a
 * reference on the Arrays, so consumers may release them in any order, on
 * any thread (the release callbacks take the GIL).
 *
 * The numpy/pandas conversions live in Python (tarn/table.py); only the
 * loops numpy cannot vectorise (strings to objects) are here. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <duckdb.h>

#include "tarn/arrow.h"

/* ---- errors ------------------------------------------------------------- */

/* Raise tarn.errors class for CODE (tarn.errors.from_code(code, message)). */
static PyObject *raise_tarn(int code, const char *message)
{
    PyObject *mod = PyImport_ImportModule("tarn.errors");
    PyObject *exc = NULL;
    if (mod == NULL) return NULL;
    exc = PyObject_CallMethod(mod, "from_code", "is", code, message ? message : "");
    Py_DECREF(mod);
    if (exc == NULL) return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *raise_err(const tarn_error *err, int rc)
{
    return raise_tarn(err->code ? err->code : rc, err->message[0] ? err->message : tarn_strerror(rc));
}

/* ---- ArrowSchema deep copy (schema nodes each independently releasable) -- */

static size_t metadata_len(const char *m)
{
    int32_t n, k, i;
    size_t pos = 4;
    if (m == NULL) return 0;
    memcpy(&n, m, 4);
    for (i = 0; i < n; i++) {
        memcpy(&k, m + pos, 4);
        pos += 4 + (size_t)k;
        memcpy(&k, m + pos, 4);
        pos += 4 + (size_t)k;
    }
    return pos;
}

static void schema_release(struct ArrowSchema *s)
{
    int64_t i;
    if (s == NULL || s->release == NULL) return;
    free((void *)s->format);
    free((void *)s->name);
    free((void *)s->metadata);
    for (i = 0; i < s->n_children; i++) {
        if (s->children[i]->release) s->children[i]->release(s->children[i]);
        free(s->children[i]);
    }
    free(s->children);
    if (s->dictionary) {
        if (s->dictionary->release) s->dictionary->release(s->dictionary);
        free(s->dictionary);
    }
    s->release = NULL;
}

static char *dupstr(const char *p)
{
    return p ? strdup(p) : NULL;
}

/* Copy SRC into DST; -1 on allocation failure (DST then releasable). */
static int schema_copy(struct ArrowSchema *dst, const struct ArrowSchema *src)
{
    int64_t i;
    size_t ml = metadata_len(src->metadata);
    memset(dst, 0, sizeof(*dst));
    dst->release = schema_release;
    dst->format = dupstr(src->format);
    dst->name = dupstr(src->name);
    dst->flags = src->flags;
    if (ml) {
        char *m = malloc(ml);
        if (m == NULL) return -1;
        memcpy(m, src->metadata, ml);
        dst->metadata = m;
    }
    if (dst->format == NULL || (src->name && dst->name == NULL)) return -1;
    if (src->n_children > 0) {
        dst->children = calloc((size_t)src->n_children, sizeof(*dst->children));
        if (dst->children == NULL) return -1;
        for (i = 0; i < src->n_children; i++) {
            dst->children[i] = calloc(1, sizeof(struct ArrowSchema));
            dst->n_children = i + 1;
            if (dst->children[i] == NULL) {
                dst->n_children = i;
                return -1;
            }
            if (schema_copy(dst->children[i], src->children[i]) < 0) return -1;
        }
    }
    if (src->dictionary) {
        dst->dictionary = calloc(1, sizeof(struct ArrowSchema));
        if (dst->dictionary == NULL) return -1;
        if (schema_copy(dst->dictionary, src->dictionary) < 0) return -1;
    }
    return 0;
}

/* ---- Arrays ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    struct ArrowSchema schema; /* "+s", one child per column */
    Py_ssize_t nbatches;
    struct ArrowArray *batches; /* "+s" record batches, owned */
    int fd;                     /* a dup of the sealed memfd behind the data, or -1 */
    size_t fd_size;
    PyObject *owner;            /* what keeps the bytes alive when not a mapping, or NULL */
} ArraysObject;

static PyTypeObject ArraysType;

static ArraysObject *arrays_new(void)
{
    ArraysObject *a = PyObject_New(ArraysObject, &ArraysType);
    if (a == NULL) return NULL;
    memset(&a->schema, 0, sizeof(a->schema));
    a->nbatches = 0;
    a->batches = NULL;
    a->fd = -1;
    a->fd_size = 0;
    a->owner = NULL;
    return a;
}

static int arrays_push(ArraysObject *a, struct ArrowArray *batch)
{
    struct ArrowArray *nb = realloc(a->batches, (size_t)(a->nbatches + 1) * sizeof(*nb));
    if (nb == NULL) return -1;
    a->batches = nb;
    a->batches[a->nbatches++] = *batch; /* move */
    batch->release = NULL;
    return 0;
}

static void arrays_dealloc(ArraysObject *a)
{
    Py_ssize_t i;
    for (i = 0; i < a->nbatches; i++)
        if (a->batches[i].release) a->batches[i].release(&a->batches[i]);
    free(a->batches);
    if (a->schema.release) a->schema.release(&a->schema);
    if (a->fd >= 0) close(a->fd);
    Py_XDECREF(a->owner);
    PyObject_Free(a);
}

/* Releases what every array this module builds owns besides its private
 * data: children, dictionary, the buffer pointer list. */
static void release_tree(struct ArrowArray *a)
{
    int64_t i;
    for (i = 0; i < a->n_children; i++) {
        if (a->children[i]->release) a->children[i]->release(a->children[i]);
        free(a->children[i]);
    }
    free(a->children);
    if (a->dictionary) {
        if (a->dictionary->release) a->dictionary->release(a->dictionary);
        free(a->dictionary);
    }
    free((void *)a->buffers);
}

/* ---- exported arrays: clones of the tree, each node holding the Arrays -- */

typedef struct {
    PyObject *arrays;
} export_priv;

static void export_release(struct ArrowArray *a)
{
    export_priv *p;
    PyGILState_STATE g;
    if (a == NULL || a->release == NULL) return;
    p = a->private_data;
    release_tree(a);
    if (p) {
        g = PyGILState_Ensure();
        Py_XDECREF(p->arrays);
        PyGILState_Release(g);
        free(p);
    }
    a->release = NULL;
}

/* Clone SRC's structure into DST (buffers shared); -1 on allocation failure. */
static int array_clone(struct ArrowArray *dst, const struct ArrowArray *src, PyObject *arrays)
{
    int64_t i;
    export_priv *p = calloc(1, sizeof(*p));
    memset(dst, 0, sizeof(*dst));
    if (p == NULL) return -1;
    Py_INCREF(arrays);
    p->arrays = arrays;
    dst->private_data = p;
    dst->release = export_release;
    dst->length = src->length;
    dst->null_count = src->null_count;
    dst->offset = src->offset;
    if (src->n_buffers > 0) {
        dst->buffers = calloc((size_t)src->n_buffers, sizeof(void *));
        if (dst->buffers == NULL) return -1;
        memcpy((void *)dst->buffers, src->buffers, (size_t)src->n_buffers * sizeof(void *));
        dst->n_buffers = src->n_buffers;
    }
    if (src->n_children > 0) {
        dst->children = calloc((size_t)src->n_children, sizeof(*dst->children));
        if (dst->children == NULL) return -1;
        for (i = 0; i < src->n_children; i++) {
            dst->children[i] = calloc(1, sizeof(struct ArrowArray));
            if (dst->children[i] == NULL) return -1;
            dst->n_children = i + 1;
            if (array_clone(dst->children[i], src->children[i], arrays) < 0) return -1;
        }
    }
    if (src->dictionary) {
        dst->dictionary = calloc(1, sizeof(struct ArrowArray));
        if (dst->dictionary == NULL) return -1;
        if (array_clone(dst->dictionary, src->dictionary, arrays) < 0) return -1;
    }
    return 0;
}

/* A table view: which columns, which rows (segments of batches). */
typedef struct {
    ArraysObject *arrays;
    Py_ssize_t ncols;
    Py_ssize_t *cols;
    Py_ssize_t nsegs;
    int64_t (*segs)[3]; /* batch, offset, length */
} view;

static void view_clear(view *v)
{
    free(v->cols);
    free(v->segs);
    v->cols = NULL;
    v->segs = NULL;
}

/* Parse (arrays, cols, segs) Python arguments into V. */
static int view_parse(view *v, PyObject *arrays, PyObject *cols, PyObject *segs)
{
    Py_ssize_t i, n;
    memset(v, 0, sizeof(*v));
    if (!PyObject_TypeCheck(arrays, &ArraysType)) {
        PyErr_SetString(PyExc_TypeError, "expected tarn._native.Arrays");
        return -1;
    }
    v->arrays = (ArraysObject *)arrays;
    cols = PySequence_Fast(cols, "cols must be a sequence");
    if (cols == NULL) return -1;
    n = PySequence_Fast_GET_SIZE(cols);
    v->cols = calloc((size_t)n + 1, sizeof(*v->cols));
    v->ncols = n;
    for (i = 0; i < n; i++) {
        Py_ssize_t c = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(cols, i));
        if (c == -1 && PyErr_Occurred()) goto fail;
        if (c < 0 || c >= v->arrays->schema.n_children) {
            PyErr_SetString(PyExc_IndexError, "column index out of range");
            goto fail;
        }
        v->cols[i] = c;
    }
    Py_DECREF(cols);
    cols = NULL;
    segs = PySequence_Fast(segs, "segs must be a sequence");
    if (segs == NULL) goto fail;
    n = PySequence_Fast_GET_SIZE(segs);
    v->segs = calloc((size_t)n + 1, sizeof(*v->segs));
    v->nsegs = n;
    for (i = 0; i < n; i++) {
        long long b, o, l;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(segs, i), "LLL", &b, &o, &l)) goto fail;
        if (b < 0 || b >= v->arrays->nbatches || o < 0 || l < 0 ||
            o + l > v->arrays->batches[b].length) {
            PyErr_SetString(PyExc_IndexError, "segment out of range");
            goto fail;
        }
        v->segs[i][0] = b;
        v->segs[i][1] = o;
        v->segs[i][2] = l;
    }
    Py_DECREF(segs);
    return 0;
fail:
    Py_XDECREF(cols);
    Py_XDECREF(segs);
    view_clear(v);
    return -1;
}

/* The "+s" schema of view V. */
static int view_schema(struct ArrowSchema *out, const view *v)
{
    Py_ssize_t i;
    const struct ArrowSchema *src = &v->arrays->schema;
    memset(out, 0, sizeof(*out));
    out->release = schema_release;
    out->format = strdup("+s");
    out->name = strdup("");
    if (out->format == NULL || out->name == NULL) goto oom;
    if (v->ncols > 0) {
        out->children = calloc((size_t)v->ncols, sizeof(*out->children));
        if (out->children == NULL) goto oom;
        for (i = 0; i < v->ncols; i++) {
            out->children[i] = calloc(1, sizeof(struct ArrowSchema));
            if (out->children[i] == NULL) goto oom;
            out->n_children = i + 1;
            if (schema_copy(out->children[i], src->children[v->cols[i]]) < 0) goto oom;
        }
    }
    return 0;
oom:
    schema_release(out);
    PyErr_NoMemory();
    return -1;
}

/* Segment I of view V as a fresh "+s" batch. */
static int view_batch(struct ArrowArray *out, const view *v, Py_ssize_t i)
{
    Py_ssize_t c;
    const struct ArrowArray *b = &v->arrays->batches[v->segs[i][0]];
    int64_t off = v->segs[i][1], len = v->segs[i][2];
    export_priv *p = calloc(1, sizeof(*p));
    memset(out, 0, sizeof(*out));
    if (p == NULL) goto oom;
    Py_INCREF(v->arrays);
    p->arrays = (PyObject *)v->arrays;
    out->private_data = p;
    out->release = export_release;
    out->length = len;
    out->n_buffers = 1;
    out->buffers = calloc(1, sizeof(void *));
    if (out->buffers == NULL) goto oom;
    if (v->ncols > 0) {
        out->children = calloc((size_t)v->ncols, sizeof(*out->children));
        if (out->children == NULL) goto oom;
    }
    for (c = 0; c < v->ncols; c++) {
        const struct ArrowArray *src = b->children[v->cols[c]];
        struct ArrowArray *dst = calloc(1, sizeof(*dst));
        if (dst == NULL) goto oom;
        out->children[c] = dst;
        out->n_children = c + 1;
        if (array_clone(dst, src, (PyObject *)v->arrays) < 0) goto oom;
        /* A struct's offset applies to its children: fold the batch's and
         * the segment's offsets into each column. */
        dst->offset = src->offset + b->offset + off;
        dst->length = len;
        if (!(src->null_count == 0 || (off == 0 && b->offset == 0 && len == src->length)))
            dst->null_count = -1;
    }
    return 0;
oom:
    export_release(out);
    PyErr_NoMemory();
    return -1;
}

/* All segments of V as batches; *out is an array of *n ArrowArrays. */
static int view_batches(struct ArrowArray **out, const view *v)
{
    Py_ssize_t i;
    struct ArrowArray *bs = calloc((size_t)v->nsegs + 1, sizeof(*bs));
    *out = NULL;
    if (bs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < v->nsegs; i++) {
        if (view_batch(&bs[i], v, i) < 0) {
            while (i-- > 0) bs[i].release(&bs[i]);
            free(bs);
            return -1;
        }
    }
    *out = bs;
    return 0;
}

static void batches_free(struct ArrowArray *bs, Py_ssize_t n)
{
    Py_ssize_t i;
    if (bs == NULL) return;
    for (i = 0; i < n; i++)
        if (bs[i].release) bs[i].release(&bs[i]);
    free(bs);
}

/* ---- Arrays constructors ------------------------------------------------ */

/* Fill A's schema and batches from decoded table T (which we then drop:
 * every exported batch holds its own reference). */
static PyObject *arrays_from_table(tarn_arrow_table *t, int fd, size_t fd_size, PyObject *owner)
{
    tarn_error err = TARN_ERROR_INIT;
    ArraysObject *a = arrays_new();
    size_t i, n = tarn_arrow_table_num_batches(t);
    int rc;
    if (a == NULL) goto fail;
    if ((rc = tarn_arrow_table_schema(&a->schema, t, &err)) < 0) {
        raise_err(&err, rc);
        goto fail;
    }
    for (i = 0; i < n; i++) {
        struct ArrowArray b;
        if ((rc = tarn_arrow_table_batch(&b, t, i, &err)) < 0) {
            raise_err(&err, rc);
            goto fail;
        }
        if (arrays_push(a, &b) < 0) {
            b.release(&b);
            PyErr_NoMemory();
            goto fail;
        }
    }
    tarn_arrow_table_free(&t);
    a->fd = fd;
    a->fd_size = fd_size;
    Py_XINCREF(owner);
    a->owner = owner;
    return (PyObject *)a;
fail:
    tarn_arrow_table_free(&t);
    if (fd >= 0) close(fd);
    Py_XDECREF(a);
    return NULL;
}

typedef struct {
    Py_buffer view; /* view.obj NULL when the bytes are our own copy */
    void *copy;
} buf_ctx;

static void buf_release(void *ctx, const void *data, size_t size)
{
    buf_ctx *c = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    if (c->view.obj) PyBuffer_Release(&c->view);
    PyGILState_Release(g);
    free(c->copy);
    free(c);
}

/* decode_ipc(buffer) -> Arrays viewing the buffer's bytes (copied first
 * only when they are not 8-byte aligned, which the format requires). */
static PyObject *py_decode_ipc(PyObject *self, PyObject *arg)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    buf_ctx *c = calloc(1, sizeof(*c));
    const void *data;
    size_t size;
    int rc;
    if (c == NULL) return PyErr_NoMemory();
    if (PyObject_GetBuffer(arg, &c->view, PyBUF_SIMPLE) < 0) {
        free(c);
        return NULL;
    }
    data = c->view.buf;
    size = (size_t)c->view.len;
    if (((uintptr_t)data) % 8 != 0) {
        c->copy = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
        if (c->copy == NULL) {
            PyBuffer_Release(&c->view);
            free(c);
            return PyErr_NoMemory();
        }
        memcpy(c->copy, data, size);
        data = c->copy;
        PyBuffer_Release(&c->view);
        c->view.obj = NULL;
    }
    /* The release hook runs even when decoding fails. */
    rc = tarn_arrow_ipc_decode(&t, data, size, buf_release, c, &err);
    if (rc < 0) return raise_err(&err, rc);
    return arrays_from_table(t, -1, 0, NULL);
}

/* map_fd(fd, trusted=False) -> Arrays over the sealed memfd FD, mapped
 * read-only (TRUSTED: tarn_arrow_shm_map_flags' TARN_ARROW_TRUSTED). FD stays
 * the caller's; the Arrays keep a duplicate (fd()) for handing it on. */
static PyObject *py_map_fd(PyObject *self, PyObject *args)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct stat st;
    PyObject *arg;
    int trusted = 0;
    if (!PyArg_ParseTuple(args, "O|p", &arg, &trusted)) return NULL;
    int fd = PyObject_AsFileDescriptor(arg), dup_fd, rc;
    if (fd < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = tarn_arrow_shm_map_flags(&t, fd, trusted ? TARN_ARROW_TRUSTED : 0, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0) return raise_err(&err, rc);
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0 || fstat(dup_fd, &st) < 0) {
        tarn_arrow_table_free(&t);
        if (dup_fd >= 0) close(dup_fd);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return arrays_from_table(t, dup_fd, (size_t)st.st_size, NULL);
}

/* import_stream(capsule) -> Arrays: takes over the capsule's stream. */
static PyObject *py_import_stream(PyObject *self, PyObject *arg)
{
    struct ArrowArrayStream *cs, stream;
    ArraysObject *a;
    int rc;
    cs = PyCapsule_GetPointer(arg, "arrow_array_stream");
    if (cs == NULL) return NULL;
    if (cs->release == NULL) return raise_tarn(-5, "the Arrow stream was already consumed");
    stream = *cs;
    cs->release = NULL; /* moved: the capsule's destructor now does nothing */
    a = arrays_new();
    if (a == NULL) goto fail;
    if ((rc = stream.get_schema(&stream, &a->schema)) != 0) {
        const char *m = stream.get_last_error ? stream.get_last_error(&stream) : NULL;
        raise_tarn(-5, m ? m : "the Arrow stream failed to give its schema");
        goto fail;
    }
    if (a->schema.format == NULL || strcmp(a->schema.format, "+s") != 0) {
        raise_tarn(-5, "the Arrow stream's schema is not a struct (record batches) schema");
        goto fail;
    }
    for (;;) {
        struct ArrowArray b;
        memset(&b, 0, sizeof(b));
        if ((rc = stream.get_next(&stream, &b)) != 0) {
            const char *m = stream.get_last_error ? stream.get_last_error(&stream) : NULL;
            raise_tarn(-5, m ? m : "the Arrow stream failed");
            goto fail;
        }
        if (b.release == NULL) break;
        if (b.n_children != a->schema.n_children) {
            b.release(&b);
            raise_tarn(-5, "an Arrow batch does not match the stream's schema");
            goto fail;
        }
        if (arrays_push(a, &b) < 0) {
            b.release(&b);
            PyErr_NoMemory();
            goto fail;
        }
    }
    stream.release(&stream);
    return (PyObject *)a;
fail:
    stream.release(&stream);
    Py_XDECREF(a);
    return NULL;
}

/* ---- from_columns: Arrow arrays over Python buffers --------------------- */

typedef struct {
    Py_ssize_t n;
    Py_buffer views[3];
} pybuf_priv;

static void pybuf_release(struct ArrowArray *a)
{
    int64_t i;
    pybuf_priv *p;
    PyGILState_STATE g;
    if (a == NULL || a->release == NULL) return;
    p = a->private_data;
    release_tree(a);
    g = PyGILState_Ensure();
    for (i = 0; i < p->n; i++)
        if (p->views[i].obj) PyBuffer_Release(&p->views[i]);
    PyGILState_Release(g);
    free(p);
    a->release = NULL;
}

/* SPEC = (name, format, length, null_count, (buffers...), (children...),
 * dictionary or None[, metadata]). Buffers are buffer-protocol objects or
 * None; metadata (bytes, the C data interface's encoding) names extension
 * types such as arrow.uuid. */
static int build_column(struct ArrowSchema *s, struct ArrowArray *a, PyObject *spec)
{
    const char *name, *format, *meta = NULL;
    long long length, null_count;
    PyObject *bufs, *children, *dict;
    Py_ssize_t i, nb, nc, meta_len = 0;
    pybuf_priv *p;

    memset(s, 0, sizeof(*s));
    memset(a, 0, sizeof(*a));
    if (!PyArg_ParseTuple(spec, "ssLLO!O!O|z#", &name, &format, &length, &null_count,
                          &PyTuple_Type, &bufs, &PyTuple_Type, &children, &dict, &meta, &meta_len))
        return -1;
    if (meta != NULL && (meta_len < 4 || (size_t)meta_len != metadata_len(meta))) {
        PyErr_SetString(PyExc_ValueError, "malformed Arrow metadata");
        return -1;
    }
    nb = PyTuple_GET_SIZE(bufs);
    nc = PyTuple_GET_SIZE(children);
    if (nb > 3) {
        PyErr_SetString(PyExc_ValueError, "at most 3 buffers");
        return -1;
    }
    s->release = schema_release;
    s->format = strdup(format);
    s->name = strdup(name);
    s->flags = ARROW_FLAG_NULLABLE;
    if (meta != NULL) {
        char *m = malloc((size_t)meta_len);
        if (m == NULL) return PyErr_NoMemory(), -1;
        memcpy(m, meta, (size_t)meta_len);
        s->metadata = m;
    }
    p = calloc(1, sizeof(*p));
    a->private_data = p;
    a->release = pybuf_release;
    a->length = length;
    a->null_count = null_count;
    a->buffers = calloc((size_t)nb + 1, sizeof(void *));
    if (s->format == NULL || s->name == NULL || p == NULL || a->buffers == NULL) goto oom;
    a->n_buffers = nb;
    for (i = 0; i < nb; i++) {
        PyObject *b = PyTuple_GET_ITEM(bufs, i);
        if (b == Py_None) continue;
        if (PyObject_GetBuffer(b, &p->views[i], PyBUF_C_CONTIGUOUS) < 0) return -1;
        p->n = i + 1;
        a->buffers[i] = p->views[i].buf;
    }
    if (nc > 0) {
        s->children = calloc((size_t)nc, sizeof(*s->children));
        a->children = calloc((size_t)nc, sizeof(*a->children));
        if (s->children == NULL || a->children == NULL) goto oom;
        for (i = 0; i < nc; i++) {
            s->children[i] = calloc(1, sizeof(struct ArrowSchema));
            a->children[i] = calloc(1, sizeof(struct ArrowArray));
            if (s->children[i] == NULL || a->children[i] == NULL) {
                free(s->children[i]);
                free(a->children[i]);
                goto oom;
            }
            s->n_children = a->n_children = i + 1;
            if (build_column(s->children[i], a->children[i], PyTuple_GET_ITEM(children, i)) < 0)
                return -1;
        }
    }
    if (dict != Py_None) {
        s->dictionary = calloc(1, sizeof(struct ArrowSchema));
        a->dictionary = calloc(1, sizeof(struct ArrowArray));
        if (s->dictionary == NULL || a->dictionary == NULL) goto oom;
        if (build_column(s->dictionary, a->dictionary, dict) < 0) return -1;
    }
    return 0;
oom:
    PyErr_NoMemory();
    return -1;
}

/* from_columns(length, [spec, ...]) -> Arrays with one batch; the batch is
 * validated by encoding nothing: consumers trust the specs, so table.py
 * builds them carefully. */
static PyObject *py_from_columns(PyObject *self, PyObject *args)
{
    long long length;
    PyObject *specs;
    ArraysObject *a = NULL;
    struct ArrowArray batch;
    Py_ssize_t i, n;
    if (!PyArg_ParseTuple(args, "LO!", &length, &PyList_Type, &specs)) return NULL;
    n = PyList_GET_SIZE(specs);
    memset(&batch, 0, sizeof(batch));
    a = arrays_new();
    if (a == NULL) return NULL;
    a->schema.release = schema_release;
    a->schema.format = strdup("+s");
    a->schema.name = strdup("");
    batch.release = pybuf_release;
    batch.private_data = calloc(1, sizeof(pybuf_priv));
    batch.length = length;
    batch.n_buffers = 1;
    batch.buffers = calloc(1, sizeof(void *));
    if (a->schema.format == NULL || a->schema.name == NULL || batch.private_data == NULL ||
        batch.buffers == NULL)
        goto oom;
    if (n > 0) {
        a->schema.children = calloc((size_t)n, sizeof(struct ArrowSchema *));
        batch.children = calloc((size_t)n, sizeof(struct ArrowArray *));
        if (a->schema.children == NULL || batch.children == NULL) goto oom;
    }
    for (i = 0; i < n; i++) {
        a->schema.children[i] = calloc(1, sizeof(struct ArrowSchema));
        batch.children[i] = calloc(1, sizeof(struct ArrowArray));
        if (a->schema.children[i] == NULL || batch.children[i] == NULL) {
            free(a->schema.children[i]);
            free(batch.children[i]);
            goto oom;
        }
        a->schema.n_children = batch.n_children = i + 1;
        if (build_column(a->schema.children[i], batch.children[i], PyList_GET_ITEM(specs, i)) < 0)
            goto fail;
        if (batch.children[i]->length != length) {
            PyErr_SetString(PyExc_ValueError, "columns differ in length");
            goto fail;
        }
    }
    if (arrays_push(a, &batch) < 0) goto oom;
    return (PyObject *)a;
oom:
    PyErr_NoMemory();
fail:
    if (batch.release) batch.release(&batch);
    Py_DECREF(a);
    return NULL;
}

/* ---- Buffer: a read-only view of one Arrow buffer ----------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *arrays;
    const void *ptr;
    Py_ssize_t size;
} BufferObject;

static PyTypeObject BufferType;

static int buffer_getbuffer(BufferObject *b, Py_buffer *out, int flags)
{
    static const char empty[8];
    return PyBuffer_FillInfo(out, (PyObject *)b, (void *)(b->ptr ? b->ptr : empty), b->size, 1,
                             flags);
}

static void buffer_dealloc(BufferObject *b)
{
    Py_XDECREF(b->arrays);
    PyObject_Free(b);
}

static PyObject *buffer_address(BufferObject *b, PyObject *unused)
{
    return PyLong_FromVoidPtr((void *)b->ptr);
}

static PyBufferProcs buffer_as_buffer = {(getbufferproc)buffer_getbuffer, NULL};
static PyMethodDef buffer_methods[] = {
    {"address", (PyCFunction)buffer_address, METH_NOARGS, "Address of the first byte."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tarn._native.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_as_buffer = &buffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = buffer_methods,
    .tp_doc = "A read-only Arrow buffer; keeps the data it views alive.",
};

static PyObject *make_buffer(PyObject *arrays, const void *ptr, int64_t size)
{
    BufferObject *b;
    if (ptr == NULL && size > 0) Py_RETURN_NONE;
    b = PyObject_New(BufferObject, &BufferType);
    if (b == NULL) return NULL;
    Py_INCREF(arrays);
    b->arrays = arrays;
    b->ptr = ptr;
    b->size = (Py_ssize_t)(size < 0 ? 0 : size);
    return (PyObject *)b;
}

/* Fixed width in bytes of FORMAT, 0 if not fixed-width, -1 for bits. */
static int fixed_width(const char *f)
{
    if (strcmp(f, "b") == 0) return -1;
    if (f[1] == 0) {
        switch (f[0]) {
        case 'c': case 'C': return 1;
        case 's': case 'S': case 'e': return 2;
        case 'i': case 'I': case 'f': return 4;
        case 'l': case 'L': case 'g': return 8;
        default: return 0;
        }
    }
    if (strcmp(f, "tdD") == 0 || strcmp(f, "tts") == 0 || strcmp(f, "ttm") == 0) return 4;
    if (strcmp(f, "tdm") == 0 || strcmp(f, "ttu") == 0 || strcmp(f, "ttn") == 0) return 8;
    if (f[0] == 't' && (f[1] == 's' || f[1] == 'D')) return 8;
    if (f[0] == 'd' && f[1] == ':') {
        const char *c = strchr(f + 2, ',');
        if (c && strchr(c + 1, ',')) return atoi(strchr(c + 1, ',') + 1) / 8;
        return 16;
    }
    if (f[0] == 'w' && f[1] == ':') return atoi(f + 2);
    if (strcmp(f, "tiM") == 0) return 4;
    if (strcmp(f, "tiD") == 0) return 8;
    if (strcmp(f, "tin") == 0) return 16;
    return 0;
}

/* (format, name, length, offset, null_count, (buffers...), (children...),
 * dictionary) for array A with schema S; buffers are Buffer objects sized
 * from the type (None where absent or unknown). */
static PyObject *array_info(PyObject *arrays, const struct ArrowSchema *s,
                            const struct ArrowArray *a)
{
    PyObject *bufs = NULL, *kids = NULL, *dict = NULL, *r = NULL;
    const char *f = s->format;
    int64_t end = a->offset + a->length, sizes[3] = {0, 0, 0}, i;
    int w = fixed_width(f), nbuf = (int)a->n_buffers;

    sizes[0] = (end + 7) / 8;
    if (w == -1) sizes[1] = (end + 7) / 8;
    else if (w > 0) sizes[1] = end * w;
    else if (strncmp(f, "+u", 2) == 0) { /* union: type ids, dense offsets; no validity */
        sizes[0] = end;
        sizes[1] = end * 4;
    } else if (strcmp(f, "u") == 0 || strcmp(f, "z") == 0 || strcmp(f, "+l") == 0 ||
             strcmp(f, "+m") == 0 ||
             strcmp(f, "U") == 0 || strcmp(f, "Z") == 0 || strcmp(f, "+L") == 0) {
        int wide = (f[0] == 'U' || f[0] == 'Z' || strcmp(f, "+L") == 0);
        sizes[1] = (end + 1) * (wide ? 8 : 4);
        if ((f[0] == 'u' || f[0] == 'z' || f[0] == 'U' || f[0] == 'Z') && nbuf >= 3) {
            if (a->buffers[1] == NULL) {
                sizes[1] = 0;
                sizes[2] = 0;
            } else if (wide) {
                int64_t last;
                memcpy(&last, (const uint8_t *)a->buffers[1] + 8 * end, 8);
                sizes[2] = last;
            } else {
                int32_t last;
                memcpy(&last, (const uint8_t *)a->buffers[1] + 4 * end, 4);
                sizes[2] = last;
            }
        }
    } else if (strcmp(f, "+s") != 0 && strcmp(f, "n") != 0 && strncmp(f, "+w:", 3) != 0) {
        nbuf = 0; /* a layout we do not describe */
    }
    if (nbuf > 3) nbuf = 3;
    bufs = PyTuple_New(nbuf);
    if (bufs == NULL) goto done;
    for (i = 0; i < nbuf; i++) {
        PyObject *b = a->buffers[i] ? make_buffer(arrays, a->buffers[i], sizes[i])
                                    : (Py_INCREF(Py_None), Py_None);
        if (b == NULL) goto done;
        PyTuple_SET_ITEM(bufs, i, b);
    }
    kids = PyTuple_New(a->n_children);
    if (kids == NULL) goto done;
    for (i = 0; i < a->n_children && i < s->n_children; i++) {
        PyObject *k = array_info(arrays, s->children[i], a->children[i]);
        if (k == NULL) goto done;
        PyTuple_SET_ITEM(kids, i, k);
    }
    if (a->dictionary && s->dictionary) {
        dict = array_info(arrays, s->dictionary, a->dictionary);
        if (dict == NULL) goto done;
    } else {
        Py_INCREF(Py_None);
        dict = Py_None;
    }
    r = Py_BuildValue("(ssLLLOOO)", f, s->name ? s->name : "", (long long)a->length,
                      (long long)a->offset, (long long)a->null_count, bufs, kids, dict);
done:
    Py_XDECREF(bufs);
    Py_XDECREF(kids);
    Py_XDECREF(dict);
    return r;
}

static PyObject *schema_info(const struct ArrowSchema *s)
{
    PyObject *kids, *dict, *meta, *r;
    int64_t i;
    size_t ml = metadata_len(s->metadata);
    kids = PyTuple_New(s->n_children);
    if (kids == NULL) return NULL;
    for (i = 0; i < s->n_children; i++) {
        PyObject *k = schema_info(s->children[i]);
        if (k == NULL) {
            Py_DECREF(kids);
            return NULL;
        }
        PyTuple_SET_ITEM(kids, i, k);
    }
    if (s->dictionary) dict = schema_info(s->dictionary);
    else {
        Py_INCREF(Py_None);
        dict = Py_None;
    }
    if (dict == NULL) {
        Py_DECREF(kids);
        return NULL;
    }
    if (ml) meta = PyBytes_FromStringAndSize(s->metadata, (Py_ssize_t)ml);
    else {
        Py_INCREF(Py_None);
        meta = Py_None;
    }
    r = Py_BuildValue("(ssLNNN)", s->format, s->name ? s->name : "", (long long)s->flags, kids,
                      dict, meta);
    return r;
}

static PyObject *arrays_schema_info(ArraysObject *a, PyObject *unused)
{
    return schema_info(&a->schema);
}

static PyObject *arrays_batch_lengths(ArraysObject *a, PyObject *unused)
{
    Py_ssize_t i;
    PyObject *r = PyList_New(a->nbatches);
    if (r == NULL) return NULL;
    for (i = 0; i < a->nbatches; i++)
        PyList_SET_ITEM(r, i, PyLong_FromLongLong(a->batches[i].length));
    return r;
}

/* column_info(batch, col) -> info of column COL in batch BATCH, with the
 * batch's own offset folded in. */
static PyObject *arrays_column_info(ArraysObject *a, PyObject *args)
{
    Py_ssize_t b, c;
    const struct ArrowArray *batch;
    struct ArrowArray tmp;
    if (!PyArg_ParseTuple(args, "nn", &b, &c)) return NULL;
    if (b < 0 || b >= a->nbatches || c < 0 || c >= a->schema.n_children) {
        PyErr_SetString(PyExc_IndexError, "batch or column out of range");
        return NULL;
    }
    batch = &a->batches[b];
    tmp = *batch->children[c];
    tmp.offset += batch->offset;
    tmp.length = batch->length;
    return array_info((PyObject *)a, a->schema.children[c], &tmp);
}

/* fd() -> the memfd behind this data (a duplicate the Arrays own), or -1. */
static PyObject *arrays_fd(ArraysObject *a, PyObject *unused)
{
    return PyLong_FromLong(a->fd);
}

static PyMethodDef arrays_methods[] = {
    {"schema_info", (PyCFunction)arrays_schema_info, METH_NOARGS,
     "(format, name, flags, children, dictionary, metadata) of the '+s' schema."},
    {"batch_lengths", (PyCFunction)arrays_batch_lengths, METH_NOARGS, "Rows per batch."},
    {"column_info", (PyCFunction)arrays_column_info, METH_VARARGS,
     "column_info(batch, col) -> (format, name, length, offset, null_count, buffers, children, dictionary)."},
    {"fd", (PyCFunction)arrays_fd, METH_NOARGS, "The sealed memfd behind the data, or -1."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ArraysType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tarn._native.Arrays",
    .tp_basicsize = sizeof(ArraysObject),
    .tp_dealloc = (destructor)arrays_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = arrays_methods,
    .tp_doc = "Arrow record batches owned by tarn (see tarn.Table).",
};

/* ---- exports ------------------------------------------------------------ */

static void capsule_schema_free(PyObject *cap)
{
    struct ArrowSchema *s = PyCapsule_GetPointer(cap, "arrow_schema");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release) s->release(s);
    free(s);
}

static void capsule_stream_free(PyObject *cap)
{
    struct ArrowArrayStream *s = PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release) s->release(s);
    free(s);
}

/* export_schema(arrays, cols) -> "arrow_schema" capsule. */
static PyObject *py_export_schema(PyObject *self, PyObject *args)
{
    PyObject *arrays, *cols, *cap;
    view v;
    struct ArrowSchema *s;
    PyObject *none;
    int prc;
    if (!PyArg_ParseTuple(args, "OO", &arrays, &cols)) return NULL;
    if ((none = PyTuple_New(0)) == NULL) return NULL;
    prc = view_parse(&v, arrays, cols, none);
    Py_DECREF(none);
    if (prc < 0) return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL || view_schema(s, &v) < 0) {
        free(s);
        view_clear(&v);
        return s ? NULL : PyErr_NoMemory();
    }
    view_clear(&v);
    cap = PyCapsule_New(s, "arrow_schema", capsule_schema_free);
    if (cap == NULL) {
        s->release(s);
        free(s);
    }
    return cap;
}

typedef struct {
    view v;
    Py_ssize_t next;
    char error[256];
} stream_priv;

static int stream_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    if (view_schema(out, &p->v) < 0) {
        PyErr_Clear();
        snprintf(p->error, sizeof(p->error), "out of memory");
        rc = ENOMEM;
    }
    PyGILState_Release(g);
    return rc;
}

static int stream_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g;
    int rc = 0;
    if (p->next >= p->v.nsegs) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    g = PyGILState_Ensure();
    if (view_batch(out, &p->v, p->next) < 0) {
        PyErr_Clear();
        snprintf(p->error, sizeof(p->error), "out of memory");
        rc = ENOMEM;
    } else {
        p->next++;
    }
    PyGILState_Release(g);
    return rc;
}

static const char *stream_last_error(struct ArrowArrayStream *st)
{
    stream_priv *p = st->private_data;
    return p->error[0] ? p->error : NULL;
}

static void stream_release(struct ArrowArrayStream *st)
{
    stream_priv *p = st->private_data;
    PyGILState_STATE g;
    if (st->release == NULL) return;
    g = PyGILState_Ensure();
    Py_XDECREF(p->v.arrays);
    PyGILState_Release(g);
    view_clear(&p->v);
    free(p);
    st->release = NULL;
}

static int make_stream(struct ArrowArrayStream *st, PyObject *args)
{
    PyObject *arrays, *cols, *segs;
    stream_priv *p;
    if (!PyArg_ParseTuple(args, "OOO", &arrays, &cols, &segs)) return -1;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (view_parse(&p->v, arrays, cols, segs) < 0) {
        free(p);
        return -1;
    }
    Py_INCREF(p->v.arrays);
    st->get_schema = stream_get_schema;
    st->get_next = stream_get_next;
    st->get_last_error = stream_last_error;
    st->release = stream_release;
    st->private_data = p;
    return 0;
}

/* export_stream(arrays, cols, segs) -> "arrow_array_stream" capsule. */
static PyObject *py_export_stream(PyObject *self, PyObject *args)
{
    struct ArrowArrayStream *st = calloc(1, sizeof(*st));
    PyObject *cap;
    if (st == NULL) return PyErr_NoMemory();
    if (make_stream(st, args) < 0) {
        free(st);
        return NULL;
    }
    cap = PyCapsule_New(st, "arrow_array_stream", capsule_stream_free);
    if (cap == NULL) {
        st->release(st);
        free(st);
    }
    return cap;
}

/* A view's schema and batches, ready for the encoder (to_ipc, to_memfd). */
typedef struct {
    view v;
    struct ArrowSchema schema;
    struct ArrowArray *bs;
    const struct ArrowArray **ptrs;
} view_export;

static int export_open(view_export *e, PyObject *arrays, PyObject *cols, PyObject *segs)
{
    Py_ssize_t i;
    memset(e, 0, sizeof(*e));
    if (view_parse(&e->v, arrays, cols, segs) < 0) return -1;
    if (view_schema(&e->schema, &e->v) < 0 || view_batches(&e->bs, &e->v) < 0) return -1;
    e->ptrs = calloc((size_t)e->v.nsegs + 1, sizeof(*e->ptrs));
    if (e->ptrs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < e->v.nsegs; i++) e->ptrs[i] = &e->bs[i];
    return 0;
}

static void export_close(view_export *e)
{
    free(e->ptrs);
    batches_free(e->bs, e->v.nsegs);
    if (e->schema.release) e->schema.release(&e->schema);
    view_clear(&e->v);
}

/* to_ipc(arrays, cols, segs) -> bytes: one Arrow IPC stream. */
static PyObject *py_to_ipc(PyObject *self, PyObject *args)
{
    PyObject *arrays, *cols, *segs, *out = NULL;
    tarn_error err = TARN_ERROR_INIT;
    size_t size = 0, written = 0;
    view_export e;
    int rc;
    if (!PyArg_ParseTuple(args, "OOO", &arrays, &cols, &segs)) return NULL;
    if (export_open(&e, arrays, cols, segs) < 0) goto done;
    size_t n = (size_t)e.v.nsegs;
    if ((rc = tarn_arrow_ipc_size(&size, &e.schema, e.ptrs, n, &err)) < 0) {
        raise_err(&err, rc);
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (out == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    rc = tarn_arrow_ipc_encode(&written, PyBytes_AS_STRING(out), size, &e.schema, e.ptrs, n, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        Py_CLEAR(out);
        raise_err(&err, rc);
        goto done;
    }
    if (written != size) _PyBytes_Resize(&out, (Py_ssize_t)written);
done:
    export_close(&e);
    return out;
}

/* to_memfd(arrays, cols, segs, name) -> (fd, size): a new sealed memfd
 * holding the view as one IPC stream; the caller closes fd. */
static PyObject *py_to_memfd(PyObject *self, PyObject *args)
{
    PyObject *arrays, *cols, *segs, *out = NULL;
    const char *name;
    tarn_error err = TARN_ERROR_INIT;
    size_t size = 0;
    view_export e;
    int rc, fd = -1;
    if (!PyArg_ParseTuple(args, "OOOs", &arrays, &cols, &segs, &name)) return NULL;
    if (export_open(&e, arrays, cols, segs) < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    rc = tarn_arrow_shm_create(&fd, &size, name, &e.schema, e.ptrs, (size_t)e.v.nsegs, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        raise_err(&err, rc);
        goto done;
    }
    out = Py_BuildValue("(in)", fd, (Py_ssize_t)size);
    if (out == NULL) close(fd);
done:
    export_close(&e);
    return out;
}

/* ---- strings ------------------------------------------------------------ */

/* strings(info_offsets, info_data, offset, length, wide, binary, valid)
 * -> list of str/bytes (None where VALID, a bytes-like of 0/1 per row, has
 * 0). Invalid UTF-8 raises tarn.InvalidError. */
static PyObject *py_strings(PyObject *self, PyObject *args)
{
    PyObject *recent[256] = {0}; /* recently made short ASCII strings, by hash */
    Py_buffer ob, db, vb;
    PyObject *offs, *data, *valid, *list = NULL;
    long long offset, length;
    int wide, binary;
    Py_ssize_t i;
    vb.obj = NULL;
    if (!PyArg_ParseTuple(args, "OOLLppO", &offs, &data, &offset, &length, &wide, &binary,
                          &valid))
        return NULL;
    if (PyObject_GetBuffer(offs, &ob, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(data, &db, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&ob);
        return NULL;
    }
    if (valid != Py_None && PyObject_GetBuffer(valid, &vb, PyBUF_SIMPLE) < 0) goto done;
    if (offset < 0 || length < 0 || (offset + length + 1) * (wide ? 8 : 4) > ob.len ||
        (vb.obj && vb.len < length)) {
        raise_tarn(-5, "string offsets out of range");
        goto done;
    }
    list = PyList_New((Py_ssize_t)length);
    if (list == NULL) goto done;
    for (i = 0; i < (Py_ssize_t)length; i++) {
        int64_t a, b;
        PyObject *o;
        if (vb.obj && ((const uint8_t *)vb.buf)[i] == 0) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(list, i, Py_None);
            continue;
        }
        if (wide) {
            memcpy(&a, (const uint8_t *)ob.buf + 8 * (offset + i), 8);
            memcpy(&b, (const uint8_t *)ob.buf + 8 * (offset + i + 1), 8);
        } else {
            int32_t a32, b32;
            memcpy(&a32, (const uint8_t *)ob.buf + 4 * (offset + i), 4);
            memcpy(&b32, (const uint8_t *)ob.buf + 4 * (offset + i + 1), 4);
            a = a32;
            b = b32;
        }
        if (a < 0 || b < a || b > db.len) {
            Py_CLEAR(list);
            raise_tarn(-5, "string offsets out of range");
            goto done;
        }
        o = NULL;
        if (!binary && b - a <= 16) {
            /* Short strings repeat (codes, countries, flags): one object per
             * distinct value instead of one per row. */
            const unsigned char *bytes = (const unsigned char *)db.buf + a;
            uint32_t h = 2166136261u;
            for (int64_t k = 0; k < b - a; k++) h = (h ^ bytes[k]) * 16777619u;
            PyObject **slot = &recent[h & 255];
            if (*slot && PyUnicode_GET_LENGTH(*slot) == b - a &&
                memcmp(PyUnicode_DATA(*slot), bytes, (size_t)(b - a)) == 0) {
                o = *slot;
                Py_INCREF(o);
            } else {
                o = PyUnicode_DecodeUTF8((const char *)bytes, (Py_ssize_t)(b - a), "strict");
                if (o && PyUnicode_IS_COMPACT_ASCII(o)) { /* only ASCII: its data are the bytes */
                    Py_XSETREF(*slot, o);
                    Py_INCREF(o);
                }
            }
        } else {
            o = binary ? PyBytes_FromStringAndSize((const char *)db.buf + a, (Py_ssize_t)(b - a))
                       : PyUnicode_DecodeUTF8((const char *)db.buf + a, (Py_ssize_t)(b - a), "strict");
        }
        if (o == NULL) {
            Py_CLEAR(list);
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear();
                raise_tarn(-5, "a utf8 column holds invalid UTF-8");
            }
            goto done;
        }
        PyList_SET_ITEM(list, i, o);
    }
done:
    for (int k = 0; k < 256; k++) Py_XDECREF(recent[k]);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    if (vb.obj) PyBuffer_Release(&vb);
    return list;
}

/* ---- zip_columns: columns of several views side by side ----------------- */

/* zip_columns([(arrays, col, segs), ...]) -> Arrays: one column from each
 * view, all with the same segment lengths; batch I holds segment I of every
 * column (no copy: each column keeps its own Arrays alive). */
static PyObject *py_zip_columns(PyObject *self, PyObject *args)
{
    PyObject *parts, *fast = NULL;
    ArraysObject *a = NULL;
    view *vs = NULL;
    Py_ssize_t i, k, n = 0, nsegs = -1;
    if (!PyArg_ParseTuple(args, "O", &parts)) return NULL;
    if ((fast = PySequence_Fast(parts, "zip_columns takes a list")) == NULL) return NULL;
    n = PySequence_Fast_GET_SIZE(fast);
    vs = calloc((size_t)n + 1, sizeof(*vs));
    if (vs == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (i = 0; i < n; i++) {
        PyObject *arr, *col, *segs, *cols;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "OOO", &arr, &col, &segs))
            goto fail;
        if ((cols = Py_BuildValue("(O)", col)) == NULL) goto fail;
        k = view_parse(&vs[i], arr, cols, segs);
        Py_DECREF(cols);
        if (k < 0) goto fail;
        if (nsegs >= 0 && vs[i].nsegs != nsegs) goto mismatch;
        nsegs = vs[i].nsegs;
        for (k = 0; k < nsegs; k++)
            if (vs[i].segs[k][2] != vs[0].segs[k][2]) goto mismatch;
    }
    if ((a = arrays_new()) == NULL) goto fail;
    a->schema.release = schema_release;
    a->schema.format = strdup("+s");
    a->schema.name = strdup("");
    a->schema.children = calloc((size_t)n + 1, sizeof(struct ArrowSchema *));
    if (!a->schema.format || !a->schema.name || !a->schema.children) goto oom;
    for (i = 0; i < n; i++) {
        a->schema.children[i] = calloc(1, sizeof(struct ArrowSchema));
        if (a->schema.children[i] == NULL) goto oom;
        a->schema.n_children = i + 1;
        if (schema_copy(a->schema.children[i], vs[i].arrays->schema.children[vs[i].cols[0]]) < 0)
            goto oom;
    }
    for (k = 0; k < (nsegs < 0 ? 0 : nsegs); k++) {
        struct ArrowArray batch;
        export_priv *p = calloc(1, sizeof(*p));
        memset(&batch, 0, sizeof(batch));
        if (p == NULL) goto oom;
        p->arrays = NULL; /* each column holds its own source Arrays */
        batch.private_data = p;
        batch.release = export_release;
        batch.length = vs[0].segs[k][2];
        batch.n_buffers = 1;
        batch.buffers = calloc(1, sizeof(void *));
        batch.children = calloc((size_t)n + 1, sizeof(struct ArrowArray *));
        if (batch.buffers == NULL || batch.children == NULL) {
            export_release(&batch);
            goto oom;
        }
        for (i = 0; i < n; i++) {
            /* segment K of view I as a one-column batch; take its column */
            struct ArrowArray one;
            if (view_batch(&one, &vs[i], k) < 0) {
                export_release(&batch);
                goto fail;
            }
            batch.children[i] = one.children[0];
            one.children[0] = calloc(1, sizeof(struct ArrowArray)); /* moved out */
            batch.n_children = i + 1;
            if (one.children[0] == NULL) {
                one.n_children = 0;
                one.release(&one);
                export_release(&batch);
                goto oom;
            }
            one.release(&one);
        }
        if (arrays_push(a, &batch) < 0) {
            export_release(&batch);
            goto oom;
        }
    }
    for (i = 0; i < n; i++) view_clear(&vs[i]);
    free(vs);
    Py_DECREF(fast);
    return (PyObject *)a;
mismatch:
    raise_tarn(-5, "columns to put side by side have different row counts or chunks");
    goto fail;
oom:
    PyErr_NoMemory();
fail:
    for (i = 0; vs && i < n; i++) view_clear(&vs[i]);
    free(vs);
    Py_XDECREF(fast);
    Py_XDECREF(a);
    return NULL;
}

/* An Arrays holding SCHEMA (moved in) and no batches yet; NULL on error. */
static ArraysObject *arrays_with_schema(struct ArrowSchema *schema)
{
    ArraysObject *a = arrays_new();
    if (a == NULL) {
        schema->release(schema);
        return NULL;
    }
    a->schema = *schema;
    schema->release = NULL;
    return a;
}

/* rename(arrays, cols, segs, names) -> Arrays: the view under new column
 * names (the batches still point at the same memory). */
static PyObject *py_rename(PyObject *self, PyObject *args)
{
    PyObject *arrays, *cols, *segs, *names, *fast = NULL;
    ArraysObject *a = NULL;
    view_export e;
    Py_ssize_t i;
    if (!PyArg_ParseTuple(args, "OOOO", &arrays, &cols, &segs, &names)) return NULL;
    if (export_open(&e, arrays, cols, segs) < 0) goto done;
    fast = PySequence_Fast(names, "names must be a sequence");
    if (fast == NULL) goto done;
    if (PySequence_Fast_GET_SIZE(fast) != e.schema.n_children) {
        PyErr_SetString(PyExc_ValueError, "one name per column");
        goto done;
    }
    for (i = 0; i < e.schema.n_children; i++) {
        const char *n = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(fast, i));
        char *copy = n ? strdup(n) : NULL;
        if (copy == NULL) {
            if (n) PyErr_NoMemory();
            goto done;
        }
        free((void *)e.schema.children[i]->name);
        e.schema.children[i]->name = copy;
    }
    if ((a = arrays_with_schema(&e.schema)) == NULL) goto done;
    for (i = 0; i < e.v.nsegs; i++) {
        if (arrays_push(a, &e.bs[i]) < 0) { /* moved: export_close skips it */
            PyErr_NoMemory();
            Py_CLEAR(a);
            goto done;
        }
    }
done:
    Py_XDECREF(fast);
    export_close(&e);
    return (PyObject *)a;
}

/* combine(arrays, cols, segs) -> Arrays with one batch: the view's rows
 * copied together (tarn_arrow_concat: flat columns only, else
 * tarn.InvalidError and the caller rebuilds the values). */
static PyObject *py_combine(PyObject *self, PyObject *args)
{
    PyObject *arrays, *cols, *segs;
    ArraysObject *a = NULL;
    tarn_error err = TARN_ERROR_INIT;
    struct ArrowArray out;
    view_export e;
    int rc;
    if (!PyArg_ParseTuple(args, "OOO", &arrays, &cols, &segs)) return NULL;
    if (export_open(&e, arrays, cols, segs) < 0) goto done;
    rc = tarn_arrow_concat(&out, &e.schema, e.ptrs, (size_t)e.v.nsegs, &err);
    if (rc < 0) {
        raise_err(&err, rc);
        goto done;
    }
    if ((a = arrays_with_schema(&e.schema)) == NULL || arrays_push(a, &out) < 0) {
        out.release(&out);
        Py_CLEAR(a);
        if (!PyErr_Occurred()) PyErr_NoMemory();
    }
done:
    export_close(&e);
    return (PyObject *)a;
}

/* ---- DuckDB in the worker: tarn's own Arrow views, confined ------------- */

/* TABLE (arrays, cols, segs) as a tarn_arrow_table DuckDB can view: the
 * memfd itself when the view is all of it (no copy), else a new sealed
 * memfd. Both were written by tarn, so they are mapped trusted. */
static int view_table(tarn_arrow_table **out, PyObject *arrays, PyObject *cols, PyObject *segs)
{
    tarn_error err = TARN_ERROR_INIT;
    view_export e;
    size_t size = 0;
    int rc, fd = -1, whole = 1;
    Py_ssize_t i, k = 0;
    *out = NULL;
    if (export_open(&e, arrays, cols, segs) < 0) {
        export_close(&e);
        return -1;
    }
    whole = e.v.ncols == e.v.arrays->schema.n_children && e.v.arrays->fd >= 0;
    for (i = 0; whole && i < e.v.ncols; i++)
        whole = e.v.cols[i] == i;
    for (i = 0; whole && i < e.v.arrays->nbatches; i++) {
        if (e.v.arrays->batches[i].length == 0) continue;
        whole = k < e.v.nsegs && e.v.segs[k][0] == i && e.v.segs[k][1] == 0 &&
                e.v.segs[k][2] == e.v.arrays->batches[i].length;
        k++;
    }
    whole = whole && k == e.v.nsegs;
    Py_BEGIN_ALLOW_THREADS
    if (whole) {
        rc = tarn_arrow_shm_map_flags(out, e.v.arrays->fd, TARN_ARROW_TRUSTED, &err);
    } else {
        rc = tarn_arrow_shm_create(&fd, &size, "tarn-sql", &e.schema, e.ptrs, (size_t)e.v.nsegs,
                                   &err);
        if (rc == 0) rc = tarn_arrow_shm_map_flags(out, fd, TARN_ARROW_TRUSTED, &err);
    }
    Py_END_ALLOW_THREADS
    if (fd >= 0) close(fd);
    export_close(&e);
    if (rc < 0) {
        raise_err(&err, rc);
        return -1;
    }
    return 0;
}

/* duckdb_query(sql, [(name, arrays, cols, segs), ...], confined=False) ->
 * Arrays or None: run SQL on a fresh in-memory DuckDB where each given table
 * is a view NAME over its Arrow memory (tarn_arrow_duckdb_register); the
 * result comes back as Arrow. CONFINED: no file or network access and the
 * configuration locked, for the SQL tarn.Table composes over given tables
 * only (join, group_by, sort_by, filter). */
static PyObject *py_duckdb_query(PyObject *self, PyObject *args)
{
    const char *sql;
    PyObject *tables = NULL, *result = NULL;
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_config config = NULL;
    duckdb_arrow res = NULL;
    tarn_arrow_duckdb_view **views = NULL;
    tarn_error err = TARN_ERROR_INIT;
    Py_ssize_t i, nt = 0;
    duckdb_state st;
    ArraysObject *a = NULL;
    int confined = 0, rc;
    char *open_err = NULL;
    if (!PyArg_ParseTuple(args, "s|O!p", &sql, &PyList_Type, &tables, &confined)) return NULL;
    if (duckdb_create_config(&config) != DuckDBSuccess) {
        raise_tarn(-6, "cannot configure an in-memory DuckDB");
        goto done;
    }
    duckdb_set_config(config, "autoinstall_known_extensions", "false");
    duckdb_set_config(config, "autoload_known_extensions", "false");
    if (confined) {
        duckdb_set_config(config, "enable_external_access", "false");
        /* UUIDs leave as arrow.uuid (tarn.Table gives uuid.UUID back) */
        duckdb_set_config(config, "arrow_lossless_conversion", "true");
        duckdb_set_config(config, "lock_configuration", "true");
    }
    if (duckdb_open_ext(NULL, &db, config, &open_err) != DuckDBSuccess ||
        duckdb_connect(db, &con) != DuckDBSuccess) {
        raise_tarn(-6, open_err ? open_err : "cannot open an in-memory DuckDB");
        goto done;
    }
    nt = tables ? PyList_GET_SIZE(tables) : 0;
    views = calloc((size_t)nt + 1, sizeof(*views));
    if (views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < nt; i++) {
        const char *name;
        PyObject *arr, *cols, *segs;
        tarn_arrow_table *t = NULL;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(tables, i), "sOOO", &name, &arr, &cols, &segs))
            goto done;
        if (view_table(&t, arr, cols, segs) < 0) goto done;
        rc = tarn_arrow_duckdb_register(&views[i], con, name, t, &err);
        tarn_arrow_table_free(&t);
        if (rc < 0) {
            raise_err(&err, rc);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    st = duckdb_query_arrow(con, sql, &res);
    Py_END_ALLOW_THREADS
    if (st != DuckDBSuccess) {
        raise_tarn(-5, res ? duckdb_query_arrow_error(res) : "DuckDB query failed");
        goto done;
    }
    if (duckdb_arrow_column_count(res) == 0) {
        Py_INCREF(Py_None);
        result = Py_None;
        goto done;
    }
    a = arrays_new();
    if (a == NULL) goto done;
    {
        duckdb_arrow_schema sp = (duckdb_arrow_schema)&a->schema;
        if (duckdb_query_arrow_schema(res, &sp) != DuckDBSuccess) {
            raise_tarn(-5, "DuckDB gave no Arrow schema");
            goto done;
        }
    }
    for (;;) {
        struct ArrowArray b;
        duckdb_arrow_array bp = (duckdb_arrow_array)&b;
        memset(&b, 0, sizeof(b));
        Py_BEGIN_ALLOW_THREADS
        st = duckdb_query_arrow_array(res, &bp);
        Py_END_ALLOW_THREADS
        if (st != DuckDBSuccess) {
            raise_tarn(-5, duckdb_query_arrow_error(res));
            goto done;
        }
        if (b.release == NULL) break;
        if (b.length == 0) {
            b.release(&b);
            break;
        }
        if (arrays_push(a, &b) < 0) {
            b.release(&b);
            PyErr_NoMemory();
            goto done;
        }
    }
    result = (PyObject *)a;
    a = NULL;
done:
    Py_XDECREF(a);
    if (res) duckdb_destroy_arrow(&res);
    for (i = 0; views && i < nt; i++) tarn_arrow_duckdb_view_free(&views[i]);
    free(views);
    if (con) duckdb_disconnect(&con);
    if (db) duckdb_close(&db);
    if (config) duckdb_destroy_config(&config);
    duckdb_free(open_err);
    return result;
}

/* ---- module ------------------------------------------------------------- */

/* utf8_column(object_array) -> (offsets bytes (int64), data bytes, valid bytes
 * (one 0/1 byte per row) or None) when every element is a str or a null
 * (None, NaN float, pandas NA/NaT: anything the caller's is_null says);
 * None when some element is something else (the caller then takes its
 * general path). The fast path for pandas' object columns of strings. */
static PyObject *py_utf8_column(PyObject *self, PyObject *args)
{
    PyObject *seq, *is_null;
    if (!PyArg_ParseTuple(args, "OO", &seq, &is_null)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "utf8_column needs a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int64_t));
    PyObject *valid = PyBytes_FromStringAndSize(NULL, n ? n : 1);
    if (!offsets || !valid) goto fail;
    int64_t *off = (int64_t *)PyBytes_AS_STRING(offsets);
    char *ok = PyBytes_AS_STRING(valid);
    int any_null = 0;
    int64_t total = 0;
    off[0] = 0;
    /* First pass: lengths (and the UTF-8 forms CPython caches). */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = items[i];
        if (PyUnicode_CheckExact(v)) {
            Py_ssize_t len;
            if (!PyUnicode_AsUTF8AndSize(v, &len)) goto fail;
            total += len;
            ok[i] = 1;
        } else if (v == Py_None || (PyFloat_CheckExact(v) && PyFloat_AS_DOUBLE(v) != PyFloat_AS_DOUBLE(v))) {
            ok[i] = 0;
            any_null = 1;
        } else {
            PyObject *r = PyObject_CallOneArg(is_null, v);
            if (!r) goto fail;
            int null = PyObject_IsTrue(r);
            Py_DECREF(r);
            if (null != 1) { /* not a string, not a null: not ours */
                Py_DECREF(offsets);
                Py_DECREF(valid);
                Py_DECREF(fast);
                Py_RETURN_NONE;
            }
            ok[i] = 0;
            any_null = 1;
        }
        off[i + 1] = total;
    }
    PyObject *data = PyBytes_FromStringAndSize(NULL, total);
    if (!data) goto fail;
    char *dst = PyBytes_AS_STRING(data);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        Py_ssize_t len;
        const char *src = PyUnicode_AsUTF8AndSize(items[i], &len);
        memcpy(dst + off[i], src, (size_t)len);
    }
    Py_DECREF(fast);
    if (!any_null) {
        Py_DECREF(valid);
        valid = Py_None;
        Py_INCREF(valid);
    }
    return Py_BuildValue("(NNN)", offsets, data, valid);
fail:
    Py_XDECREF(offsets);
    Py_XDECREF(valid);
    Py_DECREF(fast);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"utf8_column", py_utf8_column, METH_VARARGS,
     "utf8_column(values, is_null) -> (offsets, data, valid) or None: strings to Arrow utf8."},
    {"decode_ipc", py_decode_ipc, METH_O, "decode_ipc(buffer) -> Arrays (zero-copy)."},
    {"map_fd", py_map_fd, METH_VARARGS,
     "map_fd(fd, trusted=False) -> Arrays over a sealed memfd, mapped read-only."},
    {"import_stream", py_import_stream, METH_O,
     "import_stream(capsule) -> Arrays, consuming an arrow_array_stream capsule."},
    {"from_columns", py_from_columns, METH_VARARGS,
     "from_columns(length, specs) -> Arrays viewing Python buffers."},
    {"export_schema", py_export_schema, METH_VARARGS, "export_schema(arrays, cols) -> capsule."},
    {"export_stream", py_export_stream, METH_VARARGS,
     "export_stream(arrays, cols, segs) -> arrow_array_stream capsule."},
    {"to_ipc", py_to_ipc, METH_VARARGS, "to_ipc(arrays, cols, segs) -> bytes."},
    {"to_memfd", py_to_memfd, METH_VARARGS, "to_memfd(arrays, cols, segs, name) -> (fd, size)."},
    {"strings", py_strings, METH_VARARGS, "Arrow utf8/binary -> list of str/bytes/None."},
    {"duckdb_query", py_duckdb_query, METH_VARARGS,
     "duckdb_query(sql, [(name, arrays, cols, segs)], confined=False) -> Arrays or None."},
    {"rename", py_rename, METH_VARARGS, "rename(arrays, cols, segs, names) -> Arrays."},
    {"combine", py_combine, METH_VARARGS, "combine(arrays, cols, segs) -> Arrays (one batch)."},
    {"zip_columns", py_zip_columns, METH_VARARGS,
     "zip_columns([(arrays, col, segs)]) -> Arrays: the columns side by side."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, .m_name = "tarn._native",
    .m_doc = "tarn's C extension: Arrow memory for tarn.Table.", .m_size = -1,
    .m_methods = module_methods};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m;
    if (PyType_Ready(&ArraysType) < 0 || PyType_Ready(&BufferType) < 0) return NULL;
    m = PyModule_Create(&native_module);
    if (m == NULL) return NULL;
    Py_INCREF(&ArraysType);
    PyModule_AddObject(m, "Arrays", (PyObject *)&ArraysType);
    Py_INCREF(&BufferType);
    PyModule_AddObject(m, "Buffer", (PyObject *)&BufferType);
    return m;
}
