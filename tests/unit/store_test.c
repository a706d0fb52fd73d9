/* store_test.c — the pieces of the S3 store that need no server: reading
 * S3's XML answers, S3 locations and where credentials come from (never
 * from the config), and the local cache (sizes checked, held entries never
 * evicted, least recently used first, temporaries of killed downloads
 * swept, a second copy of an entry never replacing the first). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/cache.h"
#include "store/s3client.h"
#include "store/xml.h"
#include "testlib.h"

static int collect(const char *inner, size_t len, void *ctx)
{
    strbuf *b = ctx;
    sb_printf(b, "[%.*s]", (int)len, inner);
    return 0;
}

static void test_xml(void)
{
    const char *doc = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
                      "<Contents><Key>a&amp;b &lt;c&gt; &#233;&#x4e2d;</Key><Size>12</Size></Contents>"
                      "<Contents ><Key>d</Key><Size/></Contents><ContentsX><Key>no</Key></ContentsX>"
                      "<NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
    strbuf all = {0};
    tarn__xml_each(doc, strlen(doc), "Contents", collect, &all);
    CHECK(strstr(sb_str(&all), "[<Key>d</Key><Size/>]") != NULL);
    CHECK(strstr(sb_str(&all), "no") == NULL); /* ContentsX is another element */
    strbuf key = {0};
    CHECK(tarn__xml_text(&key, doc, strlen(doc), "Key"));
    CHECK_EQ_STR(sb_str(&key), "a&b <c> \xc3\xa9\xe4\xb8\xad");
    strbuf tok = {0};
    CHECK(tarn__xml_text(&tok, doc, strlen(doc), "NextContinuationToken"));
    CHECK_EQ_STR(sb_str(&tok), "t1");
    strbuf none = {0};
    CHECK(!tarn__xml_text(&none, doc, strlen(doc), "Missing"));
    /* truncated documents: no read past the end */
    for (size_t n = 0; n < strlen(doc); n++) {
        strbuf b = {0};
        tarn__xml_text(&b, doc, n, "Key");
        tarn__xml_each(doc, n, "Contents", collect, &b);
        sb_free(&b);
    }
    strbuf bad = {0};
    tarn__xml_text(&bad, "<K>&#0;&#xFFFFFFFF;&bogus;&</K>", 31, "K");
    CHECK_EQ_STR(sb_str(&bad), "\xef\xbf\xbd\xef\xbf\xbd&bogus;&");
    sb_free(&all);
    sb_free(&key);
    sb_free(&tok);
    sb_free(&bad);
}

static void test_locations(void)
{
    tarn_s3_target t;
    tarn_error err = TARN_ERROR_INIT;
    memset(&t, 0, sizeof t);
    CHECK_EQ_INT(tarn__s3_parse_url(&t, "s3://my-bucket/a/b/", &err), 0);
    CHECK_EQ_STR(t.bucket, "my-bucket");
    CHECK_EQ_STR(t.prefix, "a/b");
    CHECK_EQ_INT(tarn__s3_parse_url(&t, "s3://b2c", &err), 0);
    CHECK_EQ_STR(t.prefix, "");
    CHECK_EQ_INT(tarn__s3_parse_url(&t, "s3://Upper/x", &err), TARN_EINVALID);
    CHECK(strstr(err.message, "invalid bucket name") != NULL);
    CHECK_EQ_INT(tarn__s3_parse_url(&t, "s3://ab/x", &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn__s3_parse_url(&t, "http://bucket/x", &err), TARN_EINVALID);
}

static void test_credentials(void)
{
    const char *dir = test_tmpdir("store_creds");
    char file[4200];
    snprintf(file, sizeof file, "%s/credentials", dir);
    FILE *f = fopen(file, "w");
    fputs("[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret\n"
          "[profile other]\n aws_access_key_id=AKOTHER \naws_secret_access_key=other-secret\n"
          "aws_session_token = tok\n",
          f);
    fclose(f);
    setenv("AWS_SHARED_CREDENTIALS_FILE", file, 1);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    tarn_s3_target t;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__s3_target_resolve(&t, NULL, "s3://bucket.with.dots/p", &err) == 0);
    CHECK_EQ_STR(t.access_key, "AKDEFAULT");
    CHECK_EQ_STR(t.secret_key, "default-secret");
    CHECK_EQ_STR(t.endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK(t.path_style); /* dots in the name: not in the host over https */
    CHECK(strstr(t.cred_source, "secret") == NULL);
    setenv("AWS_PROFILE", "other", 1);
    REQUIRE(tarn__s3_target_resolve(&t, NULL, "s3://bucket/p", &err) == 0);
    CHECK_EQ_STR(t.access_key, "AKOTHER");
    CHECK_EQ_STR(t.session_token, "tok");
    CHECK(!t.path_style);
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
    REQUIRE(tarn__s3_target_resolve(&t, NULL, "s3://bucket/p", &err) == 0);
    CHECK_EQ_STR(t.access_key, "AKENV"); /* the environment before the file */
    CHECK_EQ_STR(t.endpoint, "http://127.0.0.1:9");
    CHECK(t.path_style);
    tarn__s3_target_clear(&t);
    CHECK_EQ_STR(t.secret_key, "");
    setenv("AWS_ENDPOINT_URL", "http://user:pw@host", 1);
    CHECK_EQ_INT(tarn__s3_target_resolve(&t, NULL, "s3://bucket/p", &err), TARN_EINVALID);
    CHECK(strstr(err.message, "pw") == NULL);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void put_entry(tarn_cache *c, const char *name, const char *data)
{
    int fd;
    char tmp[4200], path[4200];
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__cache_tmp(c, name, &fd, tmp, sizeof tmp, &err) == 0);
    REQUIRE(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    close(fd);
    CHECK_EQ_INT(tarn__cache_put(c, name, tmp, (int64_t)strlen(data), path, sizeof path, &err), 0);
    CHECK(access(tmp, F_OK) != 0);
}

static void age(const char *dir, const char *name, int seconds_ago)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/v1/%.2s/%s", dir, name, name);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= seconds_ago;
    tv[1] = tv[0];
    utimes(path, tv);
}

static void test_cache(void)
{
    const char *dir = test_tmpdir("store_cache");
    tarn_cache *c = NULL, *other = NULL;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__cache_open(&c, dir, 25, &err) == 0);
    char path[4200];
    CHECK_EQ_INT(tarn__cache_get(c, "aa01.parquet", -1, path, sizeof path, &err), 0);
    CHECK_EQ_INT(tarn__cache_get(c, "../etc", -1, path, sizeof path, &err), TARN_EINVALID);
    put_entry(c, "aa01.parquet", "0123456789");
    CHECK_EQ_INT(tarn__cache_get(c, "aa01.parquet", 10, path, sizeof path, &err), 1);
    /* A wrong size is never handed out, and goes. */
    put_entry(c, "bb02.parquet", "short");
    CHECK_EQ_INT(tarn__cache_get(c, "bb02.parquet", 6, path, sizeof path, &err), 0);
    CHECK(access(path, F_OK) != 0);
    /* A second copy never replaces the first. */
    put_entry(c, "aa01.parquet", "0123456789");
    CHECK_EQ_INT(tarn__cache_get(c, "aa01.parquet", 10, path, sizeof path, &err), 1);
    tarn__cache_close(&c);

    /* Eviction: over 25 bytes; the least recently used entry that no one
     * holds goes first, a held one stays. */
    REQUIRE(tarn__cache_open(&c, dir, 25, &err) == 0);
    REQUIRE(tarn__cache_open(&other, dir, 25, &err) == 0);
    put_entry(other, "cc03.parquet", "0123456789"); /* held by OTHER */
    tarn__cache_close(&c);
    REQUIRE(tarn__cache_open(&c, dir, 25, &err) == 0);
    put_entry(c, "dd04.parquet", "0123456789");
    tarn__cache_close(&c);
    REQUIRE(tarn__cache_open(&c, dir, 25, &err) == 0);
    age(dir, "cc03.parquet", 3000); /* oldest, but held */
    age(dir, "aa01.parquet", 2000);
    age(dir, "dd04.parquet", 1000);
    int64_t evicted = 0;
    CHECK_EQ_INT(tarn__cache_trim(c, &evicted, &err), 0);
    CHECK_EQ_INT(evicted, 1);
    CHECK_EQ_INT(tarn__cache_get(c, "aa01.parquet", 10, path, sizeof path, &err), 0);
    CHECK_EQ_INT(tarn__cache_get(c, "cc03.parquet", 10, path, sizeof path, &err), 1);
    CHECK_EQ_INT(tarn__cache_get(c, "dd04.parquet", 10, path, sizeof path, &err), 1);
    /* Held by two handles now: still not evicted, even at a bound of 1. */
    tarn_cache *tiny = NULL;
    REQUIRE(tarn__cache_open(&tiny, dir, 1, &err) == 0);
    CHECK_EQ_INT(tarn__cache_trim(tiny, &evicted, &err), 0);
    CHECK_EQ_INT(evicted, 0);
    tarn__cache_close(&c);
    tarn__cache_close(&other);
    /* Nobody holds anything: everything goes. */
    CHECK_EQ_INT(tarn__cache_trim(tiny, &evicted, &err), 0);
    CHECK_EQ_INT(evicted, 2);

    /* A download a killed process left: swept once an hour old. */
    int fd;
    char tmp[4200];
    REQUIRE(tarn__cache_tmp(tiny, "ee05.parquet", &fd, tmp, sizeof tmp, &err) == 0);
    close(fd);
    CHECK_EQ_INT(tarn__cache_trim(tiny, NULL, &err), 0);
    CHECK(access(tmp, F_OK) == 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 7200;
    tv[1] = tv[0];
    utimes(tmp, tv);
    CHECK_EQ_INT(tarn__cache_trim(tiny, NULL, &err), 0);
    CHECK(access(tmp, F_OK) != 0);
    tarn__cache_close(&tiny);
}

/* Another process holding an entry (a reader in the middle of a query)
 * keeps it from eviction. */
static void test_cache_across_processes(void)
{
    const char *dir = test_tmpdir("store_cache_procs");
    tarn_cache *c = NULL;
    tarn_error err = TARN_ERROR_INIT;
    REQUIRE(tarn__cache_open(&c, dir, 1, &err) == 0);
    put_entry(c, "ff06.parquet", "0123456789");
    tarn__cache_close(&c);
    int ready[2], go[2];
    REQUIRE(pipe(ready) == 0 && pipe(go) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        tarn_cache *r = NULL;
        char p[4200];
        tarn_error e = TARN_ERROR_INIT;
        tarn__cache_open(&r, dir, 1, &e);
        int hit = tarn__cache_get(r, "ff06.parquet", 10, p, sizeof p, &e);
        char b = (char)hit;
        if (write(ready[1], &b, 1) != 1) _exit(2);
        if (read(go[0], &b, 1) != 1) _exit(2);
        tarn__cache_close(&r);
        _exit(0);
    }
    char b = 0;
    REQUIRE(read(ready[0], &b, 1) == 1);
    CHECK_EQ_INT(b, 1);
    REQUIRE(tarn__cache_open(&c, dir, 1, &err) == 0);
    int64_t evicted = -1;
    CHECK_EQ_INT(tarn__cache_trim(c, &evicted, &err), 0);
    CHECK_EQ_INT(evicted, 0); /* the reader holds it */
    CHECK(write(go[1], &b, 1) == 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(tarn__cache_trim(c, &evicted, &err), 0);
    CHECK_EQ_INT(evicted, 1); /* let go: now it may go */
    tarn__cache_close(&c);
}

int main(void)
{
    TEST_RUN(test_xml);
    TEST_RUN(test_locations);
    TEST_RUN(test_credentials);
    TEST_RUN(test_cache);
    TEST_RUN(test_cache_across_processes);
    return test_summary();
}
