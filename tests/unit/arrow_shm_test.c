/* arrow_shm_test.c — tables in sealed memfds: a forked child encodes a batch
 * into a memfd and sends the descriptor over a Unix socket (SCM_RIGHTS); the
 * parent checks the seals, maps it read-only, decodes it in place, reads it
 * from DuckDB, and the mapping goes away with the last reference. Unsealed
 * or corrupted memfds are refused. */
#include <duckdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arrow_testutil.h"
#include "testlib.h"

#define ROWS 1000

static int32_t ids[ROWS];
static int32_t offs[ROWS + 1];
static char text[ROWS * 8];
static uint8_t valid[ROWS / 8 + 1];

typedef struct batch {
    tcol root, id, name;
} batch;

static void make_batch(batch *b)
{
    int i, pos = 0;
    for (i = 0; i < ROWS; i++) {
        ids[i] = i * 3;
        offs[i] = pos;
        pos += snprintf(text + pos, 8, "n%d", i % 1000);
        if (i % 10 != 7) valid[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    offs[ROWS] = pos;
    tcol_init(&b->root, "+s", "", ROWS, 0, NULL, NULL, NULL);
    tcol_init(&b->id, "i", "id", ROWS, 0, NULL, ids, NULL);
    tcol_init(&b->name, "u", "name", ROWS, ROWS / 10, valid, offs, text);
    tcol_add(&b->root, &b->id);
    tcol_add(&b->root, &b->name);
}

/* Mappings of memfds named NAME in this process. */
static int count_mappings(const char *name)
{
    char line[512];
    int n = 0;
    FILE *fp = fopen("/proc/self/maps", "r");
    if (fp == NULL) return -1;
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, name)) n++;
    fclose(fp);
    return n;
}

static void test_memfd_between_processes(void)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    struct ArrowSchema s;
    struct ArrowArray a;
    batch src;
    int sv[2], fd = -1, status = 0, seals;
    pid_t pid;

    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        batch b;
        const struct ArrowArray *batches[2];
        size_t size = 0;
        int mfd = -1, rc;
        close(sv[0]);
        make_batch(&b);
        batches[0] = batches[1] = &b.root.arr;
        rc = tarn_arrow_shm_create(&mfd, &size, "tarn-shm-test", &b.root.sch, batches, 2, &err);
        if (rc == 0) rc = tarn_arrow_shm_send(sv[1], mfd, &err);
        if (rc != 0) fprintf(stderr, "  child: %s\n", err.message);
        if (mfd >= 0) close(mfd);
        close(sv[1]);
        _exit(rc == 0 ? 0 : 1);
    }
    close(sv[1]);
    CHECK(tarn_arrow_shm_recv(&fd, sv[0], &err) == 0);
    close(sv[0]);
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    REQUIRE(fd >= 0);

    /* sealed: no writes, no resizing, no more seals */
    seals = fcntl(fd, F_GET_SEALS);
    CHECK_EQ_INT(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
                 F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    CHECK(pwrite(fd, "x", 1, 0) < 0);
    CHECK(ftruncate(fd, 0) < 0);
    CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);

    if (tarn_arrow_shm_map(&t, fd, &err) != 0) fprintf(stderr, "  map: %s\n", err.message);
    close(fd);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(count_mappings("tarn-shm-test"), 1);
    CHECK_EQ_INT(tarn_arrow_table_num_batches(t), 2);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), 2 * ROWS);
    REQUIRE(tarn_arrow_table_schema(&s, t, &err) == 0);
    REQUIRE(tarn_arrow_table_batch(&a, t, 1, &err) == 0);
    make_batch(&src);
    {
        int64_t i, k, diffs = 0;
        for (i = 0; i < ROWS; i++)
            for (k = 0; k < 2; k++)
                diffs += !telem_eq(s.children[k], src.root.arr.children[k], i, a.children[k], i);
        CHECK_EQ_INT(diffs, 0);
        CHECK_EQ_INT(a.children[1]->null_count, ROWS / 10);
    }

    /* DuckDB reads the mapping in place */
    {
        duckdb_database db;
        duckdb_connection con;
        duckdb_result r;
        tarn_arrow_duckdb_view *view = NULL;
        REQUIRE(duckdb_open(NULL, &db) == DuckDBSuccess);
        REQUIRE(duckdb_connect(db, &con) == DuckDBSuccess);
        CHECK(tarn_arrow_duckdb_register(&view, con, "shm_input", t, &err) == 0);
        CHECK(duckdb_query(con, "SELECT sum(id)::BIGINT, count(name), max(name) FROM shm_input",
                           &r) == DuckDBSuccess);
        CHECK_EQ_INT(duckdb_value_int64(&r, 0, 0), 2LL * 3 * (ROWS - 1) * ROWS / 2);
        CHECK_EQ_INT(duckdb_value_int64(&r, 1, 0), 2 * (ROWS - ROWS / 10));
        duckdb_destroy_result(&r);
        /* a second registration under the same name is refused, cleanly */
        {
            tarn_arrow_duckdb_view *again = NULL;
            CHECK(tarn_arrow_duckdb_register(&again, con, "shm_input", t, &err) < 0);
            CHECK(again == NULL);
            CHECK(tarn_arrow_duckdb_register(&again, con, "bad name;", t, &err) == TARN_EINVALID);
        }
        tarn_arrow_duckdb_view_free(&view);
        CHECK(duckdb_query(con, "SELECT * FROM shm_input", &r) == DuckDBError);
        duckdb_destroy_result(&r);
        duckdb_disconnect(&con);
        duckdb_close(&db);
    }

    /* the mapping outlives the table handle while a batch is exported */
    tarn_arrow_table_free(&t);
    CHECK_EQ_INT(count_mappings("tarn-shm-test"), 1);
    CHECK_EQ_INT(((const int32_t *)a.children[0]->buffers[1])[ROWS - 1], 3 * (ROWS - 1));
    a.release(&a);
    s.release(&s);
    CHECK_EQ_INT(count_mappings("tarn-shm-test"), 0);
}

static void test_unsealed_or_corrupt_refused(void)
{
    tarn_error err = TARN_ERROR_INIT;
    tarn_arrow_table *t = NULL;
    batch b;
    const struct ArrowArray *batches[1];
    size_t size = 0;
    int fd, good = -1;
    char junk[64];

    /* an unsealed memfd could change under the reader */
    fd = memfd_create("tarn-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "hello", 5) == 5);
    CHECK_EQ_INT(tarn_arrow_shm_map(&t, fd, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "sealed") != NULL);
    close(fd);

    /* a regular file is not a memfd */
    fd = open("/proc/self/exe", O_RDONLY);
    CHECK_EQ_INT(tarn_arrow_shm_map(&t, fd, &err), TARN_EINVALID);
    close(fd);

    /* sealed but not Arrow */
    fd = memfd_create("tarn-junk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    memset(junk, 0x5A, sizeof(junk));
    REQUIRE(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    REQUIRE(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0);
    CHECK_EQ_INT(tarn_arrow_shm_map(&t, fd, &err), TARN_EINVALID);
    CHECK(t == NULL);
    CHECK_EQ_INT(count_mappings("tarn-junk"), 0); /* unmapped on failure */
    close(fd);

    /* a good one, for contrast */
    make_batch(&b);
    batches[0] = &b.root.arr;
    REQUIRE(tarn_arrow_shm_create(&good, &size, "tarn-good", &b.root.sch, batches, 1, &err) == 0);
    CHECK(size > (size_t)ROWS * 4);
    CHECK(tarn_arrow_shm_map(&t, good, &err) == 0);
    CHECK_EQ_INT(tarn_arrow_table_num_rows(t), ROWS);
    tarn_arrow_table_free(&t);
    close(good);

    /* no descriptor on the socket */
    {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        REQUIRE(write(sv[1], "z", 1) == 1);
        CHECK_EQ_INT(tarn_arrow_shm_recv(&fd, sv[0], &err), TARN_EINVALID);
        close(sv[1]);
        CHECK_EQ_INT(tarn_arrow_shm_recv(&fd, sv[0], &err), TARN_EIO);
        close(sv[0]);
    }
}

int main(void)
{
    TEST_RUN(test_memfd_between_processes);
    TEST_RUN(test_unsealed_or_corrupt_refused);
    return test_summary();
}
