/* gen_corpus.c — writes the seed corpus of ipc_decode_fuzz into a folder:
 * small valid IPC streams made by our encoder (every type alone and all
 * together, dictionaries, nesting, slices, several batches, no batches,
 * empty batches) and deterministic mutants of them (truncations, flipped
 * bits, patched lengths). Run: ipc_gen_corpus fuzz/corpus/ipc_decode */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow_testutil.h"

static const char *dir;
static int nfiles;

static void put(const char *name, const uint8_t *buf, size_t size)
{
    char path[4096];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL || (size && fwrite(buf, 1, size, fp) != size)) {
        perror(path);
        exit(1);
    }
    fclose(fp);
    nfiles++;
}

static uint8_t *encode(size_t *size, const struct ArrowSchema *s, const struct ArrowArray *a,
                       int nbatches)
{
    const struct ArrowArray *batches[4] = {a, a, a, a};
    tarn_error err = TARN_ERROR_INIT;
    size_t written = 0;
    uint8_t *buf;
    if (tarn_arrow_ipc_size(size, s, batches, (size_t)nbatches, &err) != 0) {
        fprintf(stderr, "encode: %s\n", err.message);
        exit(1);
    }
    buf = malloc(*size);
    if (buf == NULL ||
        tarn_arrow_ipc_encode(&written, buf, *size, s, batches, (size_t)nbatches, &err) != 0) {
        fprintf(stderr, "encode: %s\n", err.message);
        exit(1);
    }
    return buf;
}

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static void mutants(const char *stem, const uint8_t *buf, size_t size)
{
    char name[256];
    uint8_t *m = malloc(size);
    int i;
    for (i = 0; i < 6; i++) { /* truncated */
        size_t cut = size * (size_t)(i + 1) / 7;
        snprintf(name, sizeof(name), "%s-trunc%d.arrows", stem, i);
        put(name, buf, cut);
    }
    for (i = 0; i < 10; i++) { /* a few flipped bytes */
        int k;
        memcpy(m, buf, size);
        for (k = 0; k < 1 + i % 3; k++)
            m[next_rand() % size] ^= (uint8_t)(1u << (next_rand() % 8));
        snprintf(name, sizeof(name), "%s-flip%d.arrows", stem, i);
        put(name, m, size);
    }
    /* the metadata length word of the first message made huge */
    memcpy(m, buf, size);
    m[7] = 0x7f;
    snprintf(name, sizeof(name), "%s-hugelen.arrows", stem);
    put(name, m, size);
    free(m);
}

int main(int argc, char **argv)
{
    tfixture f;
    tcol root;
    uint8_t *buf;
    size_t size;
    int64_t k;
    char name[256];

    if (argc != 2) {
        fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    tfix_build(&f);
    buf = encode(&size, &f.root.sch, &f.root.arr, 2);
    put("all_types.arrows", buf, size);
    mutants("all_types", buf, size);
    free(buf);

    /* every column alone, one batch */
    for (k = 0; k < f.root.sch.n_children; k++) {
        tfix_build(&f);
        tcol_init(&root, "+s", "", TF_N, 0, NULL, NULL, NULL);
        root.akids[0] = f.root.arr.children[k];
        root.skids[0] = f.root.sch.children[k];
        root.arr.n_children = root.sch.n_children = 1;
        buf = encode(&size, &root.sch, &root.arr, 1);
        snprintf(name, sizeof(name), "col-%s.arrows", f.root.sch.children[k]->name);
        put(name, buf, size);
        free(buf);
    }

    /* three batches, so three dictionary replacements */
    tfix_build(&f);
    buf = encode(&size, &f.root.sch, &f.root.arr, 3);
    put("three_batches.arrows", buf, size);
    free(buf);

    /* a slice starting at row 1 */
    tfix_build(&f);
    f.root.arr.offset = 1;
    f.root.arr.length = TF_N - 1;
    buf = encode(&size, &f.root.sch, &f.root.arr, 1);
    put("sliced.arrows", buf, size);
    free(buf);

    /* schema only, and one batch of zero rows */
    tfix_build(&f);
    buf = encode(&size, &f.root.sch, &f.root.arr, 0);
    put("no_batches.arrows", buf, size);
    mutants("no_batches", buf, size);
    free(buf);
    f.root.arr.length = 0;
    buf = encode(&size, &f.root.sch, &f.root.arr, 1);
    put("zero_rows.arrows", buf, size);
    free(buf);

    /* dictionaries with 16-, 32- and 64-bit, signed and unsigned indices */
    {
        static const int16_t idx16[TF_N] = {0, 2, 1, 0, 2};
        static const int32_t idx32[TF_N] = {0, 1, 1, 0, 2};
        static const int64_t idx64[TF_N] = {0, 2, 0, 0, 1};
        static const struct {
            const char *fmt, *name;
            const void *idx;
        } d[] = {{"s", "dict-i16", idx16}, {"I", "dict-u32", idx32}, {"l", "dict-i64", idx64}};
        size_t j;
        for (j = 0; j < sizeof(d) / sizeof(d[0]); j++) {
            tfix_build(&f);
            tcol_init(&root, "+s", "", TF_N, 0, NULL, NULL, NULL);
            f.cols[18].sch.format = d[j].fmt;
            f.cols[18].bufs[1] = d[j].idx;
            root.akids[0] = &f.cols[18].arr;
            root.skids[0] = &f.cols[18].sch;
            root.arr.n_children = root.sch.n_children = 1;
            buf = encode(&size, &root.sch, &root.arr, 2);
            snprintf(name, sizeof(name), "%s.arrows", d[j].name);
            put(name, buf, size);
            free(buf);
        }
    }

    /* a longer batch: bitmaps of many bytes */
    {
        enum { ROWS = 200 };
        static int32_t vals[ROWS], offs[ROWS + 1];
        static uint8_t valid[ROWS / 8], bits[ROWS / 8];
        static char text[ROWS * 4];
        tcol c1, c2, c3;
        int r, pos = 0;
        for (r = 0; r < ROWS; r++) {
            vals[r] = r * 7 - 300;
            offs[r] = pos;
            pos += snprintf(text + pos, 5, "%d", r % 1000);
            if (r % 3 != 1) valid[r / 8] |= (uint8_t)(1u << (r % 8));
            if (r % 5 == 2) bits[r / 8] |= (uint8_t)(1u << (r % 8));
        }
        offs[ROWS] = pos;
        tcol_init(&root, "+s", "", ROWS, 0, NULL, NULL, NULL);
        tcol_init(&c1, "i", "v", ROWS, ROWS - (ROWS + 1) / 3 * 2, valid, vals, NULL);
        tcol_init(&c2, "u", "s", ROWS, 0, NULL, offs, text);
        tcol_init(&c3, "b", "b", ROWS, ROWS - (ROWS + 1) / 3 * 2, valid, bits, NULL);
        c1.arr.null_count = c3.arr.null_count = -1; /* let the writer count */
        tcol_add(&root, &c1);
        tcol_add(&root, &c2);
        tcol_add(&root, &c3);
        buf = encode(&size, &root.sch, &root.arr, 2);
        put("long_batch.arrows", buf, size);
        mutants("long_batch", buf, size);
        free(buf);
    }

    put("empty.arrows", (const uint8_t *)"", 0);
    put("eos_only.arrows", (const uint8_t *)"\xff\xff\xff\xff\0\0\0\0", 8);
    printf("%d files in %s\n", nfiles, dir);
    return 0;
}
