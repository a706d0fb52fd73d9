/* arrow/table.c — a decoded table's life and its exports.
 *
 * The table (table.h) owns the IPC bytes, the schema and the template array
 * trees the decoder built. Exporting a batch deep-copies a template into
 * fresh ArrowArray structs — each node with its own release, as the C data
 * interface requires, so a consumer may move children out — and every node
 * takes a reference on the table; the caller's release hook (munmap, free)
 * runs when the last reference goes. The stream is a thin cursor over the
 * batch exports. */
#include "arrow/table.h"

#include <stdlib.h>
#include <string.h>

const int64_t tarn_arrow__zeros[2];

int tarn_arrow__grow(void **p, size_t *cap, size_t need, size_t elem)
{
    void *np;
    size_t ncap;
    if (need <= *cap) return 0;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    np = realloc(*p, ncap * elem);
    if (np == NULL) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

/* ---- lifetime -------------------------------------------------------- */

static void rfield_clear(tarn_arrow__field *f)
{
    int64_t i;
    for (i = 0; i < f->n_children; i++)
        rfield_clear(&f->children[i]);
    free(f->children);
    f->children = NULL;
    f->n_children = 0;
}

void tarn_arrow__tnode_free(struct ArrowArray *a)
{
    int64_t i;
    if (a == NULL) return;
    for (i = 0; i < a->n_children; i++)
        tarn_arrow__tnode_free(a->children[i]);
    free(a->children);
    free(a); /* a is the first member of its tarn_arrow__node */
}

static void table_ref(tarn_arrow_table *t)
{
    __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
}

void tarn_arrow__table_unref(tarn_arrow_table *t)
{
    size_t i;
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (i = 0; i < t->nbatches; i++)
        tarn_arrow__tnode_free(t->batches[i]);
    for (i = 0; i < t->ndict_arrays; i++)
        tarn_arrow__tnode_free(t->dict_arrays[i]);
    tarn_arrow__tnode_free(t->empty);
    free(t->batches);
    free(t->dict_arrays);
    free(t->dicts);
    rfield_clear(&t->root);
    if (t->schema.release) t->schema.release(&t->schema);
    if (t->release) t->release(t->ctx, t->data, t->size);
    free(t);
}

tarn_arrow_table *tarn_arrow__table_ref(tarn_arrow_table *t)
{
    table_ref(t);
    return t;
}

void tarn_arrow_table_free(tarn_arrow_table **t)
{
    if (t == NULL || *t == NULL) return;
    tarn_arrow__table_unref(*t);
    *t = NULL;
}

/* ---- export ---------------------------------------------------------- */

size_t tarn_arrow_table_num_batches(const tarn_arrow_table *t)
{
    return t ? t->nbatches : 0;
}

int64_t tarn_arrow_table_num_rows(const tarn_arrow_table *t)
{
    return t ? t->rows : 0;
}

int tarn_arrow_table_schema(struct ArrowSchema *out, const tarn_arrow_table *t, tarn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (tarn_arrow__schema_copy(out, &t->schema) < 0)
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory copying the schema");
    return 0;
}

static void export_release(struct ArrowArray *a)
{
    int64_t i;
    if (a == NULL || a->release == NULL) return;
    for (i = 0; a->children != NULL && i < a->n_children; i++) {
        if (a->children[i] != NULL && a->children[i]->release)
            a->children[i]->release(a->children[i]);
        free(a->children[i]);
    }
    if (a->dictionary != NULL) {
        if (a->dictionary->release) a->dictionary->release(a->dictionary);
        free(a->dictionary);
    }
    free(a->children);
    free((void *)a->buffers);
    a->release = NULL;
    tarn_arrow__table_unref((tarn_arrow_table *)a->private_data);
}

static int export_node(struct ArrowArray *out, const struct ArrowArray *src, tarn_arrow_table *t)
{
    int64_t i;
    *out = *src;
    out->buffers = NULL;
    out->children = NULL;
    out->dictionary = NULL;
    out->n_children = 0;
    out->private_data = t;
    out->release = export_release;
    table_ref(t);
    out->buffers = calloc((size_t)src->n_buffers + 1, sizeof(void *));
    if (out->buffers == NULL) goto fail;
    if (src->n_buffers)
        memcpy((void *)out->buffers, src->buffers, (size_t)src->n_buffers * sizeof(void *));
    if (src->n_children > 0) {
        out->children = calloc((size_t)src->n_children, sizeof(*out->children));
        if (out->children == NULL) goto fail;
        out->n_children = src->n_children;
        for (i = 0; i < src->n_children; i++) {
            out->children[i] = calloc(1, sizeof(struct ArrowArray));
            if (out->children[i] == NULL || export_node(out->children[i], src->children[i], t) < 0)
                goto fail;
        }
    }
    if (src->dictionary != NULL) {
        out->dictionary = calloc(1, sizeof(struct ArrowArray));
        if (out->dictionary == NULL || export_node(out->dictionary, src->dictionary, t) < 0)
            goto fail;
    }
    return 0;
fail:
    out->n_children = src->n_children; /* children not exported yet are zeroed */
    export_release(out);
    return -1;
}

int tarn_arrow_table_batch(struct ArrowArray *out, tarn_arrow_table *t, size_t i, tarn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (t == NULL || i >= t->nbatches)
        return tarn_arrow__fail(err, TARN_EINVALID, "no batch %zu in this table", i);
    if (export_node(out, t->batches[i], t) < 0) {
        memset(out, 0, sizeof(*out));
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory exporting a batch");
    }
    return 0;
}

/* A length-0 template for F: buffers point at zeros, dictionaries are
 * empty (kept in dict_arrays so they are freed with the table). */
static struct ArrowArray *make_empty(tarn_arrow_table *t, const tarn_arrow__field *f, int as_value)
{
    const tarn_arrow__type *ty = (f->is_dict && !as_value) ? &f->index : &f->type;
    tarn_arrow__node *tn = calloc(1, sizeof(*tn));
    int64_t i, n = (ty->layout == TARN_LAYOUT_STRUCT || ty->layout == TARN_LAYOUT_FSL ||
                    ty->layout == TARN_LAYOUT_LIST32 || ty->layout == TARN_LAYOUT_LIST64 ||
                    tarn_arrow__is_union(ty->layout))
                       ? f->n_children
                       : 0;
    if (tn == NULL) return NULL;
    tn->a.n_buffers = tarn_arrow__n_buffers(ty->layout);
    tn->a.buffers = tn->bufs;
    tn->bufs[1] = tn->bufs[2] = tarn_arrow__zeros;
    if (tarn_arrow__is_union(ty->layout)) tn->bufs[0] = tarn_arrow__zeros; /* type ids */
    if (n > 0) {
        tn->a.children = calloc((size_t)n, sizeof(*tn->a.children));
        if (tn->a.children == NULL) goto fail;
        tn->a.n_children = n;
        for (i = 0; i < n; i++)
            if ((tn->a.children[i] = make_empty(t, &f->children[i], 0)) == NULL) goto fail;
    }
    if (f->is_dict && !as_value) {
        struct ArrowArray *d;
        if (tarn_arrow__grow((void **)&t->dict_arrays, &t->capdict_arrays, t->ndict_arrays + 1,
                             sizeof(*t->dict_arrays)) < 0 ||
            (d = make_empty(t, f, 1)) == NULL)
            goto fail;
        t->dict_arrays[t->ndict_arrays++] = d;
        tn->a.dictionary = d;
    }
    return &tn->a;
fail:
    tarn_arrow__tnode_free(&tn->a);
    return NULL;
}

int tarn_arrow__table_empty_batch(struct ArrowArray *out, tarn_arrow_table *t, tarn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (t->empty == NULL && (t->empty = make_empty(t, &t->root, 0)) == NULL)
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    if (export_node(out, t->empty, t) < 0) {
        memset(out, 0, sizeof(*out));
        return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory exporting a batch");
    }
    return 0;
}

/* ---- stream ---------------------------------------------------------- */

typedef struct stream_state {
    tarn_arrow_table *t;
    size_t next;
    tarn_error err;
} stream_state;

static int stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    stream_state *st = s->private_data;
    return tarn_arrow_table_schema(out, st->t, &st->err) < 0 ? 12 /* ENOMEM */ : 0;
}

static int stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    stream_state *st = s->private_data;
    if (st->next >= st->t->nbatches) {
        memset(out, 0, sizeof(*out)); /* the end (and again on later calls) */
        return 0;
    }
    return tarn_arrow_table_batch(out, st->t, st->next++, &st->err) < 0 ? 12 : 0;
}

static const char *stream_last_error(struct ArrowArrayStream *s)
{
    stream_state *st = s->private_data;
    return st->err.message[0] ? st->err.message : NULL;
}

static void stream_release(struct ArrowArrayStream *s)
{
    stream_state *st;
    if (s == NULL || s->release == NULL) return;
    st = s->private_data;
    tarn_arrow__table_unref(st->t);
    free(st);
    s->release = NULL;
}

int tarn_arrow_table_stream(struct ArrowArrayStream *out, tarn_arrow_table *t, tarn_error *err)
{
    stream_state *st;
    memset(out, 0, sizeof(*out));
    if (t == NULL) return tarn_arrow__fail(err, TARN_EINVALID, "no table");
    st = calloc(1, sizeof(*st));
    if (st == NULL) return tarn_arrow__fail(err, TARN_ENOMEM, "out of memory");
    st->t = t;
    table_ref(t);
    out->get_schema = stream_get_schema;
    out->get_next = stream_get_next;
    out->get_last_error = stream_last_error;
    out->release = stream_release;
    out->private_data = st;
    return 0;
}
