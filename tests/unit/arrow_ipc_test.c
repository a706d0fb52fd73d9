/* arrow_ipc_test.c — IPC encoder/decoder round trips over hand-built arrays
 * of every supported type (with nulls, dictionaries, nesting, slices), the
 * zero-copy and release-hook contract, the stream interface, and rejection
 * of corrupted, truncated and malicious streams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arrow_testutil.h"
#include "testlib.h"

static void free_bytes(void *ctx, const void *data, size_t size)
{
    (*(int *)ctx)++;
    free((void *)data);
}

static uint8_t *encode(size_t *size, tfixture *f, int nbatches)
{
    const struct ArrowArray *batches[4];
    tarn_error err = TARN_ERROR_INIT;
    size_t need = 0, written = 0;
    uint8_t *buf;
    int i;
    for (i = 0; i < nbatches; i++)
        batches[i] = &f->root.arr;
    if (tarn_arrow_ipc_size(&need, &f->root.sch, batches, (size_t)nbatches, &err) != 0) {
        fprintf(stderr, "  size: %s\n", err.message);
        return NULL;
    }
    buf = malloc(need);
    if (tarn_arrow_ipc_encode(&written, buf, need, &f->root.sch, batches, (size_t)nbatches, &err) !=
            0 ||
        written != need) {
        fprintf(stderr, "  encode: %s\n", err.message);
        free(buf);
        return NULL;
    }
    *size = need;
    return buf;
}

static void check_same(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const struct ArrowArray *b, int64_t a_shift)
{
    int64_t i;
    CHECK_EQ_INT(b->length, a->length - a_shift);
    for (i = 0; i < b->length; i++) {
        int64_t k;
        for (k = 0; k < s->n_children; k++)
            if (!telem_eq(s->children[k], a->children[k], i + a_shift + a->offset, b->children[k],
                          i + b->offset)) {
                fprintf(stderr, "  column %s row %lld differs\n", s->children[k]->name,
                        (long long)i);
                CHECK(0);
            }
    }
}

static void test_round_trip_all_types(void)
{
    tfixture f;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct ArrowSchema s;
    struct ArrowArray b;
    size_t size = 0, i;
    int released = 0;
    uint8_t *buf;
    int64_t k;

    tfix_build(&f);
    buf = encode(&size, &f, 2);
    REQUIRE(buf != NULL);
    REQUIRE(tarn_arrow_ipc_decode(&t, buf, size, free_bytes, &released, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_batches(t), 2);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 2 * TF_N);
    REQUIRE(tarn_arrow_table_schema(&s, t, &err) == 0);
    CHECK_EQ_INT(s.n_children, f.root.sch.n_children);
    for (k = 0; k < s.n_children; k++) {
        CHECK_EQ_STR(s.children[k]->name, f.root.sch.children[k]->name);
        CHECK_EQ_STR(s.children[k]->format, f.root.sch.children[k]->format);
        CHECK(s.children[k]->flags & ARROW_FLAG_NULLABLE);
    }
    CHECK_EQ_STR(s.children[18]->dictionary->format, "u");
    CHECK_EQ_STR(s.children[19]->children[1]->name, "b");
    CHECK_EQ_STR(s.children[20]->children[0]->name, "item");
    for (i = 0; i < 2; i++) {
        REQUIRE(tarn_arrow_table_batch(&b, t, i, &err) == 0);
        check_same(&s, &f.root.arr, &b, 0);
        /* zero copy: the i32 values live inside the IPC bytes */
        CHECK((const uint8_t *)b.children[3]->buffers[1] >= buf &&
              (const uint8_t *)b.children[3]->buffers[1] < buf + size);
        CHECK_EQ_INT(b.children[3]->null_count, 2);
        b.release(&b);
    }
    /* the bytes outlive the table while an export is alive */
    REQUIRE(tarn_arrow_table_batch(&b, t, 1, &err) == 0);
    tarn_arrow_table_free(&t);
    CHECK(t == NULL);
    CHECK_EQ_INT(released, 0);
    check_same(&s, &f.root.arr, &b, 0);
    /* a child moved out and released on its own */
    {
        struct ArrowArray moved = *b.children[11];
        b.children[11]->release = NULL;
        b.release(&b);
        CHECK_EQ_INT(released, 0);
        moved.release(&moved);
    }
    CHECK_EQ_INT(released, 1);
    s.release(&s);
}

static void test_sliced_input(void)
{
    tfixture f;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct ArrowArray b;
    size_t size = 0;
    int released = 0;
    uint8_t *buf;

    tfix_build(&f);
    /* the whole batch starts at row 1, and one column at a further offset */
    f.root.arr.offset = 1;
    f.root.arr.length = TF_N - 1;
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    REQUIRE(tarn_arrow_ipc_decode(&t, buf, size, free_bytes, &released, &err) == 0);
    REQUIRE(tarn_arrow_table_batch(&b, t, 0, &err) == 0);
    f.root.arr.offset = 0;
    f.root.arr.length = TF_N;
    check_same(&f.root.sch, &f.root.arr, &b, 1);
    b.release(&b);
    tarn_arrow_table_free(&t);
    CHECK_EQ_INT(released, 1);
}

static void test_writer_and_stream(void)
{
    tfixture f;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_writer *w = NULL;
    tarn_arrow_table *t = NULL;
    struct ArrowArrayStream st;
    struct ArrowSchema s;
    struct ArrowArray b;
    const uint8_t *data;
    uint8_t *copy, *enc;
    size_t size, enc_size = 0;
    int released = 0, n = 0;

    tfix_build(&f);
    REQUIRE(tarn_arrow_writer_new(&w, &f.root.sch, &err) == 0);
    REQUIRE(tarn_arrow_writer_write(w, &f.root.arr, &err) == 0);
    REQUIRE(tarn_arrow_writer_write(w, &f.root.arr, &err) == 0);
    REQUIRE(tarn_arrow_writer_write(w, &f.root.arr, &err) == 0);
    REQUIRE(tarn_arrow_writer_finish(w, &data, &size, &err) == 0);
    CHECK(tarn_arrow_writer_write(w, &f.root.arr, &err) == TARN_EINVALID);
    /* the one-shot encoder produces the same bytes */
    enc = encode(&enc_size, &f, 3);
    REQUIRE(enc != NULL);
    CHECK_EQ_INT(enc_size, size);
    CHECK(memcmp(enc, data, size) == 0);
    free(enc);
    /* 8-byte framing: continuation, length, and an end marker */
    CHECK_EQ_INT(size % 8, 0);
    CHECK(memcmp(data + size - 8, "\xff\xff\xff\xff\0\0\0\0", 8) == 0);
    copy = malloc(size);
    memcpy(copy, data, size);
    tarn_arrow_writer_free(&w);
    CHECK(w == NULL);

    REQUIRE(tarn_arrow_ipc_decode(&t, copy, size, free_bytes, &released, &err) == 0);
    REQUIRE(tarn_arrow_table_stream(&st, t, &err) == 0);
    tarn_arrow_table_free(&t);
    REQUIRE(st.get_schema(&st, &s) == 0);
    CHECK_EQ_INT(s.n_children, f.root.sch.n_children);
    for (;;) {
        REQUIRE(st.get_next(&st, &b) == 0);
        if (b.release == NULL) break;
        check_same(&s, &f.root.arr, &b, 0);
        b.release(&b);
        n++;
    }
    CHECK_EQ_INT(n, 3);
    /* stays at the end */
    REQUIRE(st.get_next(&st, &b) == 0);
    CHECK(b.release == NULL);
    s.release(&s);
    CHECK_EQ_INT(released, 0);
    st.release(&st);
    CHECK_EQ_INT(released, 1);
}

static void test_buffer_too_small(void)
{
    tfixture f;
    tarn_error err = TARN_ERROR_INIT;
    const struct ArrowArray *batches[1];
    uint8_t small[64];
    size_t written = 1;
    tfix_build(&f);
    batches[0] = &f.root.arr;
    CHECK_EQ_INT(
        tarn_arrow_ipc_encode(&written, small, sizeof(small), &f.root.sch, batches, 1, &err),
        TARN_EINVALID);
    CHECK_EQ_INT(written, 0);
    CHECK(strstr(err.message, "too small") != NULL);
}

static void test_empty_table(void)
{
    tfixture f;
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    size_t size = 0;
    int released = 0;
    uint8_t *buf;
    tfix_build(&f);
    buf = encode(&size, &f, 0);
    REQUIRE(buf != NULL);
    REQUIRE(tarn_arrow_ipc_decode(&t, buf, size, free_bytes, &released, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_batches(t), 0);
    tarn_arrow_table_free(&t);
    CHECK_EQ_INT(released, 1);
    /* empty arrays (length 0) */
    tfix_build(&f);
    f.root.arr.length = 0;
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    REQUIRE(tarn_arrow_ipc_decode(&t, buf, size, free_bytes, &released, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 0);
    tarn_arrow_table_free(&t);
}

/* Decode BUF; 0 or TARN_EINVALID; if it decodes, read everything. */
static int decode_any(const uint8_t *buf, size_t size)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct ArrowSchema s;
    struct ArrowArray b;
    size_t i;
    int rc = tarn_arrow_ipc_decode(&t, buf, size, NULL, NULL, &err);
    if (rc != 0) {
        if (rc == TARN_EINVALID && err.message[0] == '\0') return -100;
        return rc;
    }
    tarn_arrow_table_schema(&s, t, &err);
    for (i = 0; i < tarn_arrow_table_num_batches(t); i++) {
        tarn_arrow_table_batch(&b, t, i, &err);
        (void)ttouch(&s, &b);
        b.release(&b);
    }
    s.release(&s);
    tarn_arrow_table_free(&t);
    return 0;
}

static void test_truncated_and_flipped(void)
{
    tfixture f;
    size_t size = 0, i;
    uint8_t *buf, *copy;
    int bad = 0;
    tfix_build(&f);
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    copy = malloc(size);
    for (i = 0; i < size; i++) {
        int rc;
        memcpy(copy, buf, i);
        rc = decode_any(copy, i);
        if (rc != 0 && rc != TARN_EINVALID) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    for (i = 0; i < size; i++) {
        static const uint8_t flips[] = {0xff, 0x01, 0x80, 0x10};
        size_t k;
        for (k = 0; k < sizeof(flips); k++) {
            int rc;
            memcpy(copy, buf, size);
            copy[i] ^= flips[k];
            rc = decode_any(copy, size);
            if (rc != 0 && rc != TARN_EINVALID) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* a prefix cut inside a message is refused */
    CHECK_EQ_INT(decode_any(buf, size - 20), TARN_EINVALID);
    CHECK_EQ_INT(decode_any(buf, 3), TARN_EINVALID);
    free(copy);
    free(buf);
}

/* Find the FieldNode {LEN, NULLS} in the metadata and change its nulls. */
static int patch_node(uint8_t *buf, size_t size, int64_t len, int64_t nulls, int64_t new_nulls)
{
    int64_t pat[2] = {len, nulls};
    size_t i;
    for (i = 0; i + 16 <= size; i += 8)
        if (memcmp(buf + i, pat, 16) == 0) {
            memcpy(buf + i + 8, &new_nulls, 8);
            return 1;
        }
    return 0;
}

static void expect_invalid(const uint8_t *buf, size_t size, const char *needle)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    int rc = tarn_arrow_ipc_decode(&t, buf, size, NULL, NULL, &err);
    CHECK_EQ_INT(rc, TARN_EINVALID);
    CHECK(t == NULL);
    if (strstr(err.message, needle) == NULL) {
        fprintf(stderr, "  expected '%s' in '%s'\n", needle, err.message);
        CHECK(0);
    }
}

static void test_malicious(void)
{
    tfixture f;
    size_t size = 0;
    uint8_t *buf, *shifted;
    static const int32_t bad_off[TF_N + 1] = {0, 0, 9, 5, 5, 11};
    static const int32_t long_off[TF_N + 1] = {0, 0, 5, 5, 5, 11};
    static const int8_t bad_idx[TF_N] = {0, 1, 7, 0, 2};

    /* offsets going backwards */
    tfix_build(&f);
    f.cols[11].bufs[1] = bad_off;
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    expect_invalid(buf, size, "monotonic");
    free(buf);

    /* a dictionary index past the dictionary (row 2 is valid) */
    tfix_build(&f);
    f.cols[18].bufs[1] = bad_idx;
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    expect_invalid(buf, size, "dictionary index");
    free(buf);

    /* a null count that disagrees with the bitmap */
    tfix_build(&f);
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    REQUIRE(patch_node(buf, size, TF_N, 2, 1));
    expect_invalid(buf, size, "null count");
    free(buf);

    /* a null count larger than the length */
    tfix_build(&f);
    buf = encode(&size, &f, 1);
    REQUIRE(patch_node(buf, size, TF_N, 2, TF_N + 1));
    expect_invalid(buf, size, "null count");
    free(buf);

    /* offsets past the data: the data buffer is shorter than the offsets say */
    tfix_build(&f);
    f.cols[11].bufs[1] = long_off;
    f.cols[11].arr.length = TF_N;
    buf = encode(&size, &f, 1);
    REQUIRE(buf != NULL);
    {
        /* shrink the utf8 data buffer's recorded length: find its Buffer
         * entry {offset, 11} and make the length 6 */
        int64_t len11 = 11, len6 = 6;
        size_t i;
        int done = 0;
        for (i = 8; i + 8 <= size && !done; i += 8)
            if (memcmp(buf + i, &len11, 8) == 0) {
                memcpy(buf + i, &len6, 8);
                done = 1;
            }
        CHECK(done);
    }
    expect_invalid(buf, size, "past the data");
    free(buf);

    /* a stream whose body is not 8-aligned in memory */
    tfix_build(&f);
    buf = encode(&size, &f, 1);
    shifted = malloc(size + 1);
    memcpy(shifted + 1, buf, size);
    expect_invalid(shifted + 1, size, "misaligned");
    free(shifted);

    /* garbage and empty input */
    expect_invalid(buf, 0, "no Schema");
    memset(buf, 0xAB, size);
    expect_invalid(buf, size, "");
    free(buf);
}

/* Encode the one batch ROOT and decode it: the decoder's verdict, or -100
 * if encoding failed. */
static int encode_decode(tcol *root, tarn_error *err)
{
    const struct ArrowArray *batches[1] = {&root->arr};
    tarn_arrow_table *t = NULL;
    size_t size = 0, written = 0;
    uint8_t *buf;
    int rc;
    if (tarn_arrow_ipc_size(&size, &root->sch, batches, 1, err) != 0) return -100;
    buf = malloc(size);
    if (tarn_arrow_ipc_encode(&written, buf, size, &root->sch, batches, 1, err) != 0) {
        free(buf);
        return -100;
    }
    rc = tarn_arrow_ipc_decode(&t, buf, size, NULL, NULL, err);
    tarn_arrow_table_free(&t);
    free(buf);
    return rc;
}

/* A one-column utf8 batch of TF_N rows (rows 0 and 3 null) over DATA. */
static int decode_strings(const int32_t *off, const char *data, tarn_error *err)
{
    tcol root, col;
    tcol_init(&root, "+s", "", TF_N, 0, NULL, NULL, NULL);
    tcol_init(&col, "u", "s", TF_N, 2, tf_valid, off, data);
    tcol_add(&root, &col);
    return encode_decode(&root, err);
}

static void test_utf8_checked(void)
{
    tarn_error err = TARN_ERROR_INIT;
    /* rows 1, 2 and 4 are valid; row 1 holds the bytes under test */
    static const struct {
        const char *bytes;
        int ok;
    } cases[] = {
        {"plain", 1},
        {"w\xc3\xb6rld", 1},
        {"\xf0\x9f\x90\x9f", 1},
        {"\xe2\x82\xac", 1},
        {"\xff", 0},
        {"\xc3", 0},
        {"\xc0\xaf", 0},
        {"\xe0\x80\xaf", 0},
        {"\xed\xa0\x80", 0},
        {"\xf4\x90\x80\x80", 0},
        {"\xf8\x88\x80\x80\x80", 0},
        {"a\x80", 0},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char data[64];
        int32_t off[TF_N + 1];
        int n = (int)strlen(cases[i].bytes), rc;
        memcpy(data, cases[i].bytes, (size_t)n);
        memcpy(data + n, "xyz", 3);
        off[0] = off[1] = 0;
        off[2] = n;
        off[3] = off[4] = n + 1;
        off[5] = n + 3;
        rc = decode_strings(off, data, &err);
        if (rc != (cases[i].ok ? 0 : TARN_EINVALID)) {
            fprintf(stderr, "  case %zu: rc %d (%s)\n", i, rc, err.message);
            CHECK(0);
        }
    }
    /* a character split across two values is two invalid values */
    {
        static const int32_t off[TF_N + 1] = {0, 0, 1, 2, 2, 2};
        CHECK_EQ_INT(decode_strings(off, "\xc3\xb6", &err), TARN_EINVALID);
        CHECK(strstr(err.message, "UTF-8") != NULL);
    }
    /* bytes under a null slot are never read: anything goes */
    {
        static const int32_t off[TF_N + 1] = {0, 2, 3, 4, 6, 7};
        CHECK_EQ_INT(decode_strings(off,
                                    "\xff\xff"
                                    "ab\xff\xff"
                                    "c",
                                    &err),
                     0);
    }
}

/* Encode a one-column union batch (FORMAT, type ids IDS, dense offsets
 * OFFS) over the children of the all-types fixture and decode it. */
static int decode_union(const char *format, const int8_t *ids, const int32_t *offs, tarn_error *err)
{
    tcol root, col, a, b;
    int dense = format[2] == 'd';
    tcol_init(&root, "+s", "", TF_N, 0, NULL, NULL, NULL);
    tcol_init(&col, format, "u", TF_N, 0, ids, offs, NULL);
    tcol_init(&a, "i", "i", dense ? 3 : TF_N, 0, NULL, dense ? tf_dense_ints : tf_i32s, NULL);
    tcol_init(&b, "u", "s", dense ? 2 : TF_N, 0, NULL, dense ? tf_dense_str_off : tf_str_off,
              dense ? "abxyz" : tf_str_data);
    tcol_add(&col, &a);
    tcol_add(&col, &b);
    tcol_add(&root, &col);
    return encode_decode(&root, err);
}

static void test_union_checked(void)
{
    tarn_error err = TARN_ERROR_INIT;
    static const int8_t bad_ids[TF_N] = {3, 7, 4, 7, 3};
    static const int8_t negative_id[TF_N] = {3, -1, 3, 7, 3};
    static const int32_t bad_off[TF_N] = {0, 0, 1, 2, 2}; /* child "s" has 2 values */
    static const int32_t negative_off[TF_N] = {0, 0, -1, 1, 2};
    CHECK_EQ_INT(decode_union("+us:3,7", tf_union_ids, NULL, &err), 0);
    CHECK_EQ_INT(decode_union("+ud:3,7", tf_union_ids, tf_dense_off, &err), 0);
    CHECK_EQ_INT(decode_union("+us:3,7", bad_ids, NULL, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "type id") != NULL);
    CHECK_EQ_INT(decode_union("+ud:3,7", negative_id, tf_dense_off, &err), TARN_EINVALID);
    CHECK_EQ_INT(decode_union("+ud:3,7", tf_union_ids, bad_off, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "offset") != NULL);
    CHECK_EQ_INT(decode_union("+ud:3,7", tf_union_ids, negative_off, &err), TARN_EINVALID);
    /* formats: ids 0..127, each once, one per child */
    {
        tarn_arrow__type t;
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+us:0,127"), 0);
        CHECK_EQ_INT(t.n_ids, 2);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+ud:"), 0);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+us:1,1"), -1);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+us:128"), -1);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+us:-1"), -1);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+ux:1"), -1);
        CHECK_EQ_INT(tarn_arrow__parse_format(&t, "+us:1,"), -1);
    }
}

int main(void)
{
    TEST_RUN(test_round_trip_all_types);
    TEST_RUN(test_sliced_input);
    TEST_RUN(test_writer_and_stream);
    TEST_RUN(test_buffer_too_small);
    TEST_RUN(test_empty_table);
    TEST_RUN(test_truncated_and_flipped);
    TEST_RUN(test_malicious);
    TEST_RUN(test_utf8_checked);
    TEST_RUN(test_union_checked);
    return test_summary();
}
