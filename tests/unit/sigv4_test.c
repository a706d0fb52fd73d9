/* sigv4_test.c — the request signer against AWS's published Signature
 * Version 4 examples: the generic test suite (service "service", key
 * AKIDEXAMPLE, 2015-08-30) and the S3 worked examples of "Signature
 * Calculations for the Authorization Header" (key AKIAIOSFODNN7EXAMPLE,
 * 2013-05-24). Each checks the canonical request, the string to sign and
 * the Authorization header, so a failure says which step went wrong. */
#include <stdio.h>
#include <string.h>

#include "store/sigv4.h"
#include "testlib.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct vector {
    const char *method, *path, *query;
    const char *headers[6];
    const char *payload, *canonical, *to_sign, *auth;
} vector;

static void check_vector(const vector *v, const char *date, const char *service, const char *ak,
                         const char *sk)
{
    size_t n = 0;
    while (n < 6 && v->headers[n]) n++;
    tarn_sigv4_request r = {v->method, v->path, v->query, v->headers, n, v->payload, date,
                            "us-east-1", service, ak, sk};
    strbuf auth = {0}, creq = {0}, sts = {0};
    tarn__sigv4_sign(&auth, &creq, &sts, &r);
    if (v->canonical) CHECK_EQ_STR(sb_str(&creq), v->canonical);
    if (v->to_sign) CHECK_EQ_STR(sb_str(&sts), v->to_sign);
    CHECK_EQ_STR(sb_str(&auth), v->auth);
    sb_free(&auth);
    sb_free(&creq);
    sb_free(&sts);
}

#define SUITE_AUTH(names, sig)                                                                     \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "            \
    "SignedHeaders=" names ", Signature=" sig
#define SUITE_STS(hash) "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" hash

static void suite(const vector *v)
{
    check_vector(v, "20150830T123600Z", "service", "AKIDEXAMPLE",
                 "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

static void test_get_vanilla(void)
{
    vector v = {"GET", "/", "", {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z"}, EMPTY_SHA,
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA,
                SUITE_STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
                SUITE_AUTH("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")};
    suite(&v);
}

static void test_query_order_key_case(void)
{
    vector v = {"GET", "/", "Param2=value2&Param1=value1",
                {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z"}, EMPTY_SHA,
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                "host;x-amz-date\n" EMPTY_SHA,
                SUITE_STS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
                SUITE_AUTH("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")};
    suite(&v);
}

static void test_query_order_value(void)
{
    vector v = {"GET", "/", "Param1=value2&Param1=Value1",
                {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z"}, EMPTY_SHA,
                "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                "host;x-amz-date\n" EMPTY_SHA,
                SUITE_STS("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
                SUITE_AUTH("host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")};
    suite(&v);
}

static void test_post_query(void)
{
    vector v = {"POST", "/", "Param1=value1", {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z"},
                EMPTY_SHA, NULL,
                SUITE_STS("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
                SUITE_AUTH("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")};
    suite(&v);
}

static void test_header_value_order(void)
{
    vector v = {"GET", "/", "",
                {"Host:example.amazonaws.com", "My-Header1:value4", "My-Header1:value1", "My-Header1:value3",
                 "My-Header1:value2", "X-Amz-Date:20150830T123600Z"},
                EMPTY_SHA,
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n"
                "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
                SUITE_STS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
                SUITE_AUTH("host;my-header1;x-amz-date",
                           "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")};
    suite(&v);
}

static void test_security_token(void)
{
    vector v = {"POST", "/", "",
                {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
                 "X-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx"
                 "fpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5"
                 "VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn"
                 "9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="},
                EMPTY_SHA, NULL,
                SUITE_STS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
                SUITE_AUTH("host;x-amz-date;x-amz-security-token",
                           "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")};
    suite(&v);
}

#define S3_AUTH(names, sig)                                                                        \
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "        \
    "SignedHeaders=" names ", Signature=" sig

static void s3(const vector *v)
{
    check_vector(v, "20130524T000000Z", "s3", "AKIAIOSFODNN7EXAMPLE",
                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
}

static void test_s3_get_object(void)
{
    vector v = {"GET", "/test.txt", "",
                {"Host:examplebucket.s3.amazonaws.com", "Range:bytes=0-9", "x-amz-content-sha256:" EMPTY_SHA,
                 "x-amz-date:20130524T000000Z"},
                EMPTY_SHA,
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA,
                "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                S3_AUTH("host;range;x-amz-content-sha256;x-amz-date",
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")};
    s3(&v);
}

static void test_s3_put_object(void)
{
    const char *body_sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    char payload[65];
    tarn__sha256_hex(payload, "Welcome to Amazon S3.", 21);
    CHECK_EQ_STR(payload, body_sha);
    strbuf path = {0};
    tarn__sigv4_encode(&path, "/test$file.text", 1);
    CHECK_EQ_STR(sb_str(&path), "/test%24file.text");
    vector v = {"PUT", sb_str(&path), "",
                {"Date: Fri, 24 May 2013 00:00:00 GMT", "Host:examplebucket.s3.amazonaws.com",
                 "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                 "x-amz-date:20130524T000000Z", "x-amz-storage-class:REDUCED_REDUNDANCY"},
                body_sha, NULL, NULL,
                S3_AUTH("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")};
    s3(&v);
    sb_free(&path);
}

static void test_s3_list_objects(void)
{
    vector v = {"GET", "/", "max-keys=2&prefix=J",
                {"Host:examplebucket.s3.amazonaws.com", "x-amz-content-sha256:" EMPTY_SHA,
                 "x-amz-date:20130524T000000Z"},
                EMPTY_SHA, NULL, NULL,
                S3_AUTH("host;x-amz-content-sha256;x-amz-date",
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")};
    s3(&v);
}

static void test_date_and_encoding(void)
{
    char d[17];
    tarn__sigv4_date(d, 1440938160); /* 2015-08-30 12:36:00 UTC */
    CHECK_EQ_STR(d, "20150830T123600Z");
    strbuf b = {0};
    tarn__sigv4_encode(&b, "a b/c~d*é", 0);
    CHECK_EQ_STR(sb_str(&b), "a%20b%2Fc~d%2A%C3%A9");
    sb_free(&b);
}

int main(void)
{
    TEST_RUN(test_get_vanilla);
    TEST_RUN(test_query_order_key_case);
    TEST_RUN(test_query_order_value);
    TEST_RUN(test_post_query);
    TEST_RUN(test_header_value_order);
    TEST_RUN(test_security_token);
    TEST_RUN(test_s3_get_object);
    TEST_RUN(test_s3_put_object);
    TEST_RUN(test_s3_list_objects);
    TEST_RUN(test_date_and_encoding);
    return test_summary();
}
