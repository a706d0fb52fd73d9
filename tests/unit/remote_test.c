/* remote_test.c — the remote client's pieces that need no server: request
 * paths and arguments, a server's error answers turned back into tarn
 * errors, project archives (read back header by header), and opening a
 * remote handle (bad URLs, no token, nobody listening). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote/remote.h"
#include "testlib.h"

static void test_paths_and_arguments(void)
{
    rm_path p;
    tarn_remote__path(&p, "/api/v1/branches/%s", "alice/exp 1?#%");
    CHECK_EQ_STR(sb_str(&p.b), "/api/v1/branches/alice/exp%201%3F%23%25");
    tarn_remote__arg(&p, "ref", "main~1");
    tarn_remote__arg(&p, "none", NULL);
    tarn_remote__arg(&p, "q", "a=b&c/d");
    tarn_remote__arg_int(&p, "limit", -5);
    CHECK_EQ_STR(sb_str(&p.b),
                 "/api/v1/branches/alice/exp%201%3F%23%25?ref=main~1&q=a%3Db%26c%2Fd&limit=-5");
    sb_free(&p.b);
}

static void test_error_answers(void)
{
    tarn_error err = TARN_ERROR_INIT;
    json_t *e = json_pack("{s:s,s:s,s:[s,s]}", "code", "conflict", "message",
                          "both sides changed t", "tables", "default.t", "default.u");
    CHECK_EQ_INT(tarn_remote__error_from(&err, e, 409), TARN_ECONFLICT);
    CHECK_EQ_INT(err.code, TARN_ECONFLICT);
    CHECK_EQ_STR(err.message, "both sides changed t");
    CHECK_EQ_INT(err.ntables, 2);
    if (err.ntables == 2) CHECK_EQ_STR(err.tables[1], "default.u");
    tarn_error_clear(&err);
    json_decref(e);
    /* the server's own codes */
    static const struct {
        const char *code;
        int status, want;
    } cases[] = {{"unauthorized", 401, TARN_EDENIED}, {"denied", 403, TARN_EDENIED},
                 {"busy", 429, TARN_ERETRY},          {"too_large", 413, TARN_EINVALID},
                 {"not_found", 404, TARN_ENOTFOUND},  {"user_error", 422, TARN_EUSER},
                 {"something new", 500, TARN_EIO},    {"", 404, TARN_ENOTFOUND}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *x = json_pack("{s:s,s:s}", "code", cases[i].code, "message", "m");
        CHECK_EQ_INT(tarn_remote__error_from(&err, x, cases[i].status), cases[i].want);
        tarn_error_clear(&err);
        json_decref(x);
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The entries of the ustar archive in FD as "name:size;" (prefix/name). */
static void list_tar(strbuf *out, int fd)
{
    off_t off = 0;
    char h[512];
    while (pread(fd, h, sizeof h, off) == (ssize_t)sizeof h && h[0]) {
        char name[300];
        if (h[345])
            snprintf(name, sizeof name, "%.155s/%.100s", h + 345, h);
        else
            snprintf(name, sizeof name, "%.100s", h);
        long long size = strtoll(h + 124, NULL, 8);
        unsigned sum = 0, want = (unsigned)strtoul(h + 148, NULL, 8);
        for (int i = 0; i < 512; i++)
            sum += (unsigned char)(i >= 148 && i < 156 ? ' ' : h[i]);
        sb_printf(out, "%s:%lld%s;", name, size, sum == want ? "" : "(bad checksum)");
        off += 512 + (size + 511) / 512 * 512;
    }
}

static void test_project_archive(void)
{
    const char *dir = test_tmpdir("remote-tar");
    char p[8192], deep[4096];
    snprintf(p, sizeof p, "%s/proj", dir);
    REQUIRE(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/proj/models.py", dir);
    write_text(p, "import tarn\n");
    snprintf(p, sizeof p, "%s/proj/.git", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/proj/.git/HEAD", dir);
    write_text(p, "ref\n");
    /* a name past 100 bytes goes into the header's prefix */
    snprintf(
        deep, sizeof deep, "%s/proj/%s", dir,
        "a-folder-with-a-rather-long-name-to-pass-one-hundred-bytes/and-another-one-inside-it");
    char *slash = strrchr(deep, '/');
    *slash = 0;
    mkdir(deep, 0755);
    *slash = '/';
    mkdir(deep, 0755);
    snprintf(p, sizeof p, "%s/m.sql", deep);
    write_text(p, "SELECT 1\n");
    /* a link inside the project is sent as its file */
    snprintf(p, sizeof p, "%s/proj/again.py", dir);
    CHECK(symlink("models.py", p) == 0);
    int fd = -1;
    tarn_error err = TARN_ERROR_INIT;
    snprintf(p, sizeof p, "%s/proj", dir);
    REQUIRE(tarn_remote__tar(&fd, p, &err) == 0);
    strbuf list = {0};
    list_tar(&list, fd);
    close(fd);
    CHECK_EQ_STR(sb_str(&list), "a-folder-with-a-rather-long-name-to-pass-one-hundred-bytes/"
                                "and-another-one-inside-it/m.sql:9;"
                                "again.py:12;models.py:12;");
    sb_free(&list);
    /* a link out of it is refused, naming it */
    char secret[4096];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    write_text(secret, "x\n");
    snprintf(p, sizeof p, "%s/proj/notes.txt", dir);
    CHECK(symlink(secret, p) == 0);
    snprintf(p, sizeof p, "%s/proj", dir);
    CHECK_EQ_INT(tarn_remote__tar(&fd, p, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "'notes.txt' is a link that leads out of the project folder") !=
          NULL);
    CHECK_EQ_INT(fd, -1);
    tarn_error_clear(&err);
    snprintf(p, sizeof p, "%s/nowhere", dir);
    CHECK_EQ_INT(tarn_remote__tar(&fd, p, &err), TARN_ENOTFOUND);
    CHECK(strstr(err.message, "not found") != NULL);
    tarn_error_clear(&err);
}

static void test_opening(void)
{
    tarn_lake *lake = NULL;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn_lake_open_remote(&lake, "ftp://x", "t", &err), TARN_EINVALID);
    CHECK(strstr(err.message, "is not a server URL") != NULL);
    CHECK_EQ_INT(tarn_lake_open_remote(&lake, "http://127.0.0.1:9", NULL, &err), TARN_EINVALID);
    CHECK(strstr(err.message, "TARN_TOKEN") != NULL);
    CHECK(lake == NULL);
    /* opening sends nothing; the first call finds nobody listening */
    REQUIRE(tarn_lake_open_remote(&lake, "http://127.0.0.1:9/", "tarn_x_y", &err) == 0);
    CHECK_EQ_STR(tarn_lake_path(lake), "http://127.0.0.1:9");
    tarn_ref_entry *refs = NULL;
    size_t n = 0;
    CHECK_EQ_INT(tarn_ref_list(&refs, &n, lake, TARN_REF_BRANCH, &err), TARN_EIO);
    CHECK(strstr(err.message, "cannot reach the tarn server at http://127.0.0.1:9") != NULL);
    CHECK(refs == NULL && n == 0);
    /* no config, and commits are the token's user's */
    CHECK(tarn_lake_config(lake, "user.name") == NULL);
    CHECK_EQ_INT(tarn_lake_set_author(lake, "someone", &err), TARN_EDENIED);
    tarn_error_clear(&err);
    tarn_lake_close(&lake);
    CHECK(lake == NULL);
}

int main(void)
{
    TEST_RUN(test_paths_and_arguments);
    TEST_RUN(test_error_answers);
    TEST_RUN(test_project_archive);
    TEST_RUN(test_opening);
    return test_summary();
}
