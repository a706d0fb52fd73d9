/* ipc_decode_fuzz.c — libFuzzer target for the Arrow IPC decoder.
 *
 * Any input must decode or be refused with TARN_EINVALID, never crash or
 * read out of bounds. An input that decodes is then read completely (every
 * value of every batch, through the batch exports and the stream), encoded
 * again with our writer and decoded again, and the two must be equal: a
 * stream we accept is one we can also reproduce, whole or sliced.
 *
 * Built two ways (fuzz/CMakeLists.txt): with clang and -fsanitize=fuzzer as
 * the real fuzzer (TARN_FUZZ=ON), and linked with regress_main.c as a plain
 * program that feeds it every file of the corpus (a CTest test). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arrow_testutil.h"

#define DEEP_CHECK_MAX_ROWS (1 << 16)

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "ipc_decode_fuzz: %s: %s\n", what, msg ? msg : "");
    abort();
}

static void free_hook(void *ctx, const void *data, size_t size)
{
    (void)ctx;
    (void)size;
    free((void *)data);
}

static void read_stream(tarn_arrow_table *t)
{
    struct ArrowArrayStream st;
    struct ArrowSchema s;
    struct ArrowArray a;
    tarn_error err = TARN_ERROR_INIT;
    size_t n = 0;
    if (tarn_arrow_table_stream(&st, t, &err) != 0) fail("stream", err.message);
    if (st.get_schema(&st, &s) != 0) fail("get_schema", st.get_last_error(&st));
    for (;;) {
        if (st.get_next(&st, &a) != 0) fail("get_next", st.get_last_error(&st));
        if (a.release == NULL) break;
        if (a.length <= DEEP_CHECK_MAX_ROWS) (void)ttouch(&s, &a);
        a.release(&a);
        n++;
    }
    if (n != tarn_arrow_table_num_batches(t)) fail("stream", "batch count differs");
    s.release(&s);
    st.release(&st);
}

/* Encode T again and check the result decodes to the same values. */
static void reencode(tarn_arrow_table *t, const struct ArrowSchema *s)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_writer *w = NULL;
    tarn_arrow_table *t2 = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0, i, need = 0;
    struct ArrowArray *batches;
    const struct ArrowArray **ptrs;
    size_t n = tarn_arrow_table_num_batches(t);

    batches = calloc(n + 1, sizeof(*batches));
    ptrs = calloc(n + 1, sizeof(*ptrs));
    if (batches == NULL || ptrs == NULL) fail("reencode", "out of memory");
    for (i = 0; i < n; i++) {
        if (tarn_arrow_table_batch(&batches[i], t, i, &err) != 0) fail("batch", err.message);
        ptrs[i] = &batches[i];
    }
    if (tarn_arrow_writer_new(&w, s, &err) != 0) fail("writer_new", err.message);
    for (i = 0; i < n; i++)
        if (tarn_arrow_writer_write(w, &batches[i], &err) != 0) fail("writer_write", err.message);
    if (tarn_arrow_writer_take(w, &bytes, &size, &err) != 0) fail("writer_take", err.message);
    tarn_arrow_writer_free(&w);
    if (tarn_arrow_ipc_size(&need, s, ptrs, n, &err) != 0 || need != size)
        fail("ipc_size", "differs from the writer's output");
    if (tarn_arrow_ipc_decode(&t2, bytes, size, free_hook, NULL, &err) != 0)
        fail("decode of our own encoding", err.message);
    if (tarn_arrow_table_num_batches(t2) != n ||
        tarn_arrow_table_num_rows(t2) != tarn_arrow_table_num_rows(t))
        fail("reencode", "shape differs");
    for (i = 0; i < n; i++) {
        struct ArrowArray b;
        int64_t r, k;
        if (tarn_arrow_table_batch(&b, t2, i, &err) != 0) fail("batch", err.message);
        if (b.length <= DEEP_CHECK_MAX_ROWS)
            for (k = 0; k < s->n_children; k++)
                for (r = 0; r < b.length; r++)
                    if (!telem_eq(s->children[k], batches[i].children[k], r, b.children[k], r))
                        fail("reencode", "values differ");
        b.release(&b);
        batches[i].release(&batches[i]);
    }
    tarn_arrow_table_free(&t2);
    free(batches);
    free(ptrs);
}

/* Encode rows [off, length) of every batch of T (a slice: the writer must
 * shift bitmaps and rebase offsets) and compare with the original rows. */
static void reencode_slices(tarn_arrow_table *t, const struct ArrowSchema *s)
{
    tarn_error err = TARN_ERROR_INIT;
    size_t i, n = tarn_arrow_table_num_batches(t);
    for (i = 0; i < n; i++) {
        struct ArrowArray a, b;
        const struct ArrowArray *one[1];
        tarn_arrow_table *t2 = NULL;
        size_t size = 0, written = 0;
        uint8_t *bytes;
        int64_t off, r, k;
        if (tarn_arrow_table_batch(&a, t, i, &err) != 0) fail("batch", err.message);
        if (a.length < 2 || a.length > DEEP_CHECK_MAX_ROWS) {
            a.release(&a);
            continue;
        }
        off = a.length / 3 + 1;
        a.offset = off;
        a.length -= off;
        one[0] = &a;
        if (tarn_arrow_ipc_size(&size, s, one, 1, &err) != 0) fail("slice size", err.message);
        bytes = malloc(size);
        if (bytes == NULL) fail("slice", "out of memory");
        if (tarn_arrow_ipc_encode(&written, bytes, size, s, one, 1, &err) != 0 || written != size)
            fail("slice encode", err.message);
        if (tarn_arrow_ipc_decode(&t2, bytes, size, free_hook, NULL, &err) != 0)
            fail("decode of an encoded slice", err.message);
        if (tarn_arrow_table_batch(&b, t2, 0, &err) != 0) fail("batch", err.message);
        if (b.length != a.length) fail("slice", "length differs");
        a.offset = 0;
        for (k = 0; k < s->n_children; k++)
            for (r = 0; r < b.length; r++)
                if (!telem_eq(s->children[k], a.children[k], off + r, b.children[k], r))
                    fail("slice", "values differ");
        b.release(&b);
        a.release(&a);
        tarn_arrow_table_free(&t2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct ArrowSchema s;
    uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any overrun */
    int rc;

    if (copy == NULL) return 0;
    if (size) memcpy(copy, data, size);
    rc = tarn_arrow_ipc_decode(&t, copy, size, free_hook, NULL, &err);
    if (rc != 0) {
        if (rc != TARN_EINVALID || err.message[0] == '\0') fail("decode", "bad error code");
        return 0;
    }
    if (tarn_arrow_table_schema(&s, t, &err) != 0) fail("schema", err.message);
    read_stream(t);
    reencode(t, &s);
    reencode_slices(t, &s);
    s.release(&s);
    tarn_arrow_table_free(&t);
    return 0;
}
