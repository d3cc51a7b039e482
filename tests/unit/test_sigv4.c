/*
 * Unit tests for lib/sigv4.c: AWS Signature Version 4.
 *
 * Expected values come from outside this code: AWS's published S3 presigned-URL example,
 * vectors of the AWS SigV4 test suite, and URLs made by the official AWS SDK for
 * JavaScript (tests/tools/sigv4-sdk.mjs, committed as fixtures under sigv4_vectors/ so
 * node is not needed here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sigv4.h"
#include "xalloc.h"

/* ---- AWS docs: S3 "Authenticating Requests: Using Query Parameters", GET example ---- */

static void test_s3_presign_doc_example(void **state)
{
    (void)state;
    const struct sigv4_creds c = {"AKIAIOSFODNN7EXAMPLE",
                                  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
    const struct sigv4_request r = {
        .method = "GET",
        .scheme = "https",
        .host = "examplebucket.s3.amazonaws.com",
        .path = "/test.txt",
        .expires = 86400,
        .now = 1369353600, /* 2013-05-24T00:00:00Z */
    };
    char *url = sigv4_presign(&c, &r);
    assert_non_null(url);
    assert_string_equal(
        url, "https://examplebucket.s3.amazonaws.com/test.txt"
             "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
             "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
             "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(url);
}

/* ---- AWS SigV4 test suite (service "service", 20150830T123600Z) -------------------- */

#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define SUITE_CRED                                                                                 \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

struct suite_case {
    const char *name;
    const char *method;
    const char *path;
    const char *const *query;
    const char *const *headers;
    const char *body;
    const char *expect; /* the suite's Authorization header */
};

static void run_suite_case(const struct suite_case *t)
{
    const struct sigv4_creds c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  "us-east-1", "service"};
    const struct sigv4_request r = {
        .method = t->method,
        .host = "example.amazonaws.com",
        .path = t->path,
        .query = t->query,
        .headers = t->headers,
        .now = SUITE_TIME,
    };
    char hash[65], date[17];
    crypto_sha256_hex(t->body, strlen(t->body), hash);
    char *auth = sigv4_authorization(&c, &r, hash, date);
    if (!auth || strcmp(auth, t->expect) != 0)
        print_error("case %s:\n  got    %s\n  expect %s\n", t->name, auth ? auth : "(null)",
                    t->expect);
    assert_non_null(auth);
    assert_string_equal(auth, t->expect);
    assert_string_equal(date, "20150830T123600Z");
    free(auth);
}

static void test_suite_vectors(void **state)
{
    (void)state;
    static const char *const q_key_case[] = {"Param2", "value2", "Param1", "value1", NULL};
    static const char *const q_value[] = {"Param1", "value2", "Param1", "value1", NULL};
    static const char *const q_utf8[] = {"\xe1\x88\xb4", "bar", NULL};
    static const char *const h_trim[] = {"My-Header1", " value1", "My-Header2", "\"a   b   c\"",
                                         NULL};
    /* The suite's repeated headers, joined with ',' in order as the caller must. */
    static const char *const h_dup[] = {"My-Header1", "value2,value2,value1", NULL};
    static const char *const h_order[] = {"My-Header1", "value4,value1,value3,value2", NULL};
    static const char *const h_form[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
    static const char *const h_token[] = {
        "X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
        NULL};
    static const struct suite_case cases[] = {
        {"get-vanilla", "GET", "/", NULL, NULL, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date, "
                    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        {"get-unreserved", "GET",
         "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL, NULL, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date, "
                    "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
        {"get-vanilla-query-order-key-case", "GET", "/", q_key_case, NULL, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date, "
                    "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
        {"get-vanilla-query-order-value", "GET", "/", q_value, NULL, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date, "
                    "Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
        {"get-vanilla-utf8-query", "GET", "/", q_utf8, NULL, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date, "
                    "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
        {"get-header-value-trim", "GET", "/", NULL, h_trim, "",
         SUITE_CRED "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                    "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
        {"get-header-key-duplicate", "GET", "/", NULL, h_dup, "",
         SUITE_CRED "SignedHeaders=host;my-header1;x-amz-date, "
                    "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
        {"get-header-value-order", "GET", "/", NULL, h_order, "",
         SUITE_CRED "SignedHeaders=host;my-header1;x-amz-date, "
                    "Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
        {"post-x-www-form-urlencoded", "POST", "/", NULL, h_form, "Param1=value1",
         SUITE_CRED "SignedHeaders=content-type;host;x-amz-date, "
                    "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
        {"get-vanilla-with-session-token", "GET", "/", NULL, h_token, "",
         SUITE_CRED "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                    "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_suite_case(&cases[i]);
}

/* ---- AWS SDK for JavaScript fixtures ----------------------------------------------- */

#define SDK_TIME 1714566896 /* 2024-05-01T12:34:56Z, signingDate in sigv4-sdk.mjs */

static const struct sigv4_creds sdk_creds = {"test:tester", "testing", "us-east-1", "s3"};

/* The fixture directory, found next to this source file so no working directory is assumed. */
static char *fixture_path(const char *name)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file + 1) : 0;
    return xasprintf("%.*ssigv4_vectors/%s", dirlen, file, name);
}

/* The fixture's one line, without its newline. */
static char *read_fixture(const char *name)
{
    char *path = fixture_path(name);
    FILE *f = fopen(path, "r");
    if (!f)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    assert_true(n > 0);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fclose(f);
    free(path);
    return line;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits url at '?' into *base and its '&'-separated parameters, sorted. Modifies url. */
static size_t split_url(char *url, char **base, char ***params)
{
    char *q = strchr(url, '?');
    assert_non_null(q);
    *q++ = '\0';
    *base = url;
    size_t n = 1;
    for (char *p = q; *p; p++)
        n += *p == '&';
    *params = xcalloc(n, sizeof **params);
    size_t i = 0;
    for (char *save = NULL, *tok = strtok_r(q, "&", &save); tok; tok = strtok_r(NULL, "&", &save))
        (*params)[i++] = tok;
    assert_int_equal(i, n);
    qsort(*params, n, sizeof **params, cmp_str);
    return n;
}

static const char *param(char **params, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(params[i], name, len) == 0 && params[i][len] == '=')
            return params[i] + len + 1;
    return NULL;
}

/*
 * Same URL up to parameter order: the SDK sorts its query for output, this module keeps
 * the canonical order and appends the signature. The signature is compared on its own
 * as well so a mismatch there reads as such.
 */
static void assert_same_url(const char *got, const char *fixture)
{
    char *a = xstrdup(got), *b = xstrdup(fixture), *base_a, *base_b, **pa, **pb;
    size_t na = split_url(a, &base_a, &pa), nb = split_url(b, &base_b, &pb);

    assert_string_equal(base_a, base_b);
    assert_non_null(param(pb, nb, "X-Amz-Signature"));
    assert_non_null(param(pa, na, "X-Amz-Signature"));
    assert_string_equal(param(pa, na, "X-Amz-Signature"), param(pb, nb, "X-Amz-Signature"));
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_string_equal(pa[i], pb[i]);
    /* The URL itself ends with the signature, as AWS's examples do. */
    assert_non_null(strstr(got, "&X-Amz-Signature="));
    assert_null(strchr(strstr(got, "&X-Amz-Signature=") + 1, '&'));
    free(pa);
    free(pb);
    free(a);
    free(b);
}

static void test_sdk_put_object(void **state)
{
    (void)state;
    /* The SDK's PutObject also signs these two parameters; a caller passes them as extras. */
    static const char *const query[] = {"x-id", "PutObject", "X-Amz-Content-Sha256",
                                        "UNSIGNED-PAYLOAD", NULL};
    static const char *const headers[] = {"Content-Type", "image/jpeg", "Content-Length", "12345",
                                          NULL};
    char *key = sigv4_uri_encode("abc/def", 0);
    char *path = xasprintf("/media/%s", key);
    const struct sigv4_request r = {
        .method = "PUT",
        .scheme = "http",
        .host = "127.0.0.1:19080",
        .path = path,
        .query = query,
        .headers = headers,
        .expires = 900,
        .now = SDK_TIME,
    };
    char *url = sigv4_presign(&sdk_creds, &r);
    char *fixture = read_fixture("sdk_put.txt");
    assert_non_null(url);
    assert_same_url(url, fixture);
    /* The colon of the access key is encoded inside the credential, '/' as %2F. */
    assert_non_null(strstr(url, "X-Amz-Credential=test%3Atester%2F20240501%2Fus-east-1%2Fs3%2F"
                                "aws4_request&"));
    assert_non_null(strstr(url, "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&"));
    free(fixture);
    free(url);
    free(path);
    free(key);
}

static void test_sdk_get_object_encoded_key(void **state)
{
    (void)state;
    static const char *const query[] = {"response-content-disposition",
                                        "attachment; filename=\"a b/c.jpg\"",
                                        "x-id",
                                        "GetObject",
                                        "x-amz-checksum-mode",
                                        "ENABLED",
                                        "X-Amz-Content-Sha256",
                                        "UNSIGNED-PAYLOAD",
                                        NULL};
    char *key = sigv4_uri_encode("photos/\xc3\xbcn\xc3\xaf code~ 1+2(x).jpg", 0);
    char *path = xasprintf("/media/%s", key);
    const struct sigv4_request r = {
        .method = "GET",
        .scheme = "http",
        .host = "127.0.0.1:19080",
        .path = path,
        .query = query,
        .expires = SIGV4_MAX_EXPIRES,
        .now = SDK_TIME,
    };
    char *url = sigv4_presign(&sdk_creds, &r);
    char *fixture = read_fixture("sdk_get.txt");
    assert_non_null(url);
    assert_same_url(url, fixture);
    free(fixture);
    free(url);
    free(path);
    free(key);
}

/* ---- encoding and input checks ----------------------------------------------------- */

static void check_encode(const char *in, int encode_slash, const char *expect)
{
    char *s = sigv4_uri_encode(in, encode_slash);
    assert_non_null(s);
    assert_string_equal(s, expect);
    free(s);
}

static void test_uri_encode(void **state)
{
    (void)state;
    check_encode("", 0, "");
    check_encode("AZaz09-._~", 1, "AZaz09-._~");
    check_encode("a b", 0, "a%20b"); /* never '+' */
    check_encode("a+b", 0, "a%2Bb");
    check_encode("a/b c", 0, "a/b%20c");
    check_encode("a/b c", 1, "a%2Fb%20c");
    check_encode("100%", 1, "100%25");
    check_encode("!*'();:@&=$,?#[]", 0, "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D");
    check_encode("\xc3\xa9\xe1\x88\xb4", 0, "%C3%A9%E1%88%B4"); /* UTF-8 bytes, upper-case hex */
    check_encode("\x01\x7f\xff", 1, "%01%7F%FF");
    assert_null(sigv4_uri_encode(NULL, 0));
}

static struct sigv4_request plain_get(const char *path)
{
    const struct sigv4_request r = {
        .method = "GET",
        .scheme = "https",
        .host = "s3.example.test",
        .path = path,
        .expires = 60,
        .now = SDK_TIME,
    };
    return r;
}

static void test_presign_encoding(void **state)
{
    (void)state;
    static const char *const query[] = {"response-content-disposition",
                                        "inline; filename=\"x y~/\xc3\xa9.jpg\"", NULL};
    char *key = sigv4_uri_encode("dir/a b~\xc3\xa9.jpg", 0);
    char *path = xasprintf("/bucket/%s", key);
    struct sigv4_request r = plain_get(path);
    r.query = query;
    char *url = sigv4_presign(&sdk_creds, &r);
    assert_non_null(url);
    assert_string_equal(key, "dir/a%20b~%C3%A9.jpg");
    /* The path goes out exactly as signed... */
    assert_true(starts_with(url, "https://s3.example.test/bucket/dir/a%20b~%C3%A9.jpg?"));
    /* ...and the value is encoded with '/' as %2F and the space as %20. */
    assert_non_null(strstr(url, "&response-content-disposition=inline%3B%20filename%3D%22x%20y~"
                                "%2F%C3%A9.jpg%22&X-Amz-Signature="));
    free(url);
    free(path);
    free(key);
}

static void test_presign_rejects_bad_input(void **state)
{
    (void)state;
    struct sigv4_creds c = sdk_creds;
    struct sigv4_request r = plain_get("/bucket/key");
    char *url;

    /* The baseline is accepted, so each NULL below is down to the one change. */
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    free(url);

    r.expires = 0;
    assert_null(sigv4_presign(&c, &r));
    r.expires = -1;
    assert_null(sigv4_presign(&c, &r));
    r.expires = SIGV4_MAX_EXPIRES + 1;
    assert_null(sigv4_presign(&c, &r));
    r.expires = 1;
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    free(url);
    r.expires = SIGV4_MAX_EXPIRES;
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    free(url);

    c.access_key = "";
    assert_null(sigv4_presign(&c, &r));
    c.access_key = NULL;
    assert_null(sigv4_presign(&c, &r));
    c.access_key = "AK ID";
    assert_null(sigv4_presign(&c, &r));
    c.access_key = "AK/ID";
    assert_null(sigv4_presign(&c, &r));
    c = sdk_creds;
    c.secret_key = "";
    assert_null(sigv4_presign(&c, &r));
    c = sdk_creds;
    c.region = "us/east";
    assert_null(sigv4_presign(&c, &r));
    c = sdk_creds;
    c.service = "";
    assert_null(sigv4_presign(&c, &r));
    c = sdk_creds;
    assert_null(sigv4_presign(NULL, &r));
    assert_null(sigv4_presign(&c, NULL));

    r = plain_get("/bucket/key");
    r.scheme = "ftp";
    assert_null(sigv4_presign(&c, &r));
    r.scheme = NULL;
    assert_null(sigv4_presign(&c, &r));

    r = plain_get("/bucket/key");
    r.method = "get";
    assert_null(sigv4_presign(&c, &r));
    r.method = "";
    assert_null(sigv4_presign(&c, &r));

    r = plain_get("/bucket/key");
    r.host = "";
    assert_null(sigv4_presign(&c, &r));
    r.host = "evil.test/x?";
    assert_null(sigv4_presign(&c, &r));
    r.host = "[::1]:9000";
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    assert_true(starts_with(url, "https://[::1]:9000/bucket/key?"));
    free(url);

    /* Paths must already be in canonical form: they are signed and sent byte for byte. */
    static const char *const bad_paths[] = {"bucket/key", "",     "/a b", "/a%2fb",   "/a%2",
                                            "/a%G0",      "/a!b", "/a?b", "/\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        r = plain_get(bad_paths[i]);
        assert_null(sigv4_presign(&c, &r));
    }
    r = plain_get(NULL);
    assert_null(sigv4_presign(&c, &r));
    r = plain_get("/a%2Fb%20c");
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    free(url);

    /* X-Amz-Date has four digits for the year. */
    r = plain_get("/bucket/key");
    r.now = -1;
    assert_null(sigv4_presign(&c, &r));
    r.now = (time_t)253402300800; /* 10000-01-01T00:00:00Z */
    assert_null(sigv4_presign(&c, &r));
    r.now = (time_t)253402300799; /* 9999-12-31T23:59:59Z */
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    assert_non_null(strstr(url, "&X-Amz-Date=99991231T235959Z&"));
    free(url);
    r.now = 0;
    url = sigv4_presign(&c, &r);
    assert_non_null(url);
    assert_non_null(strstr(url, "&X-Amz-Date=19700101T000000Z&"));
    free(url);
}

static void test_rejects_bad_pairs(void **state)
{
    (void)state;
    static const char *const odd_query[] = {"a", NULL, NULL};
    static const char *const empty_name[] = {"", "v", NULL};
    static const char *const reserved[] = {"X-Amz-Signature", "0", NULL};
    static const char *const reserved_case[] = {"x-amz-credential", "AK", NULL};
    static const char *const host_hdr[] = {"Host", "s3.example.test", NULL};
    static const char *const dup_hdr[] = {"X-A", "1", "x-a", "2", NULL};
    static const char *const crlf_hdr[] = {"X-A", "1\r\nx-b: 2", NULL};
    static const char *const ctl_hdr[] = {"X-A", "1\x01", NULL};
    static const char *const bad_name[] = {"X A", "1", NULL};
    static const char *const colon_name[] = {"X-A:", "1", NULL};
    static const char *const empty_hdr_name[] = {"", "1", NULL};
    static const char *const *const bad_query[] = {odd_query, empty_name, reserved, reserved_case};
    static const char *const *const bad_headers[] = {
        odd_query, host_hdr, dup_hdr, crlf_hdr, ctl_hdr, bad_name, colon_name, empty_hdr_name};
    struct sigv4_request r = plain_get("/bucket/key");
    char date[17] = "x";

    for (size_t i = 0; i < sizeof bad_query / sizeof bad_query[0]; i++) {
        r.query = bad_query[i];
        assert_null(sigv4_presign(&sdk_creds, &r));
        assert_null(sigv4_authorization(&sdk_creds, &r, "UNSIGNED-PAYLOAD", date));
        assert_string_equal(date, "");
    }
    r.query = NULL;
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        r.headers = bad_headers[i];
        assert_null(sigv4_presign(&sdk_creds, &r));
        assert_null(sigv4_authorization(&sdk_creds, &r, "UNSIGNED-PAYLOAD", date));
    }

    /* Header auth adds x-amz-date itself, so the caller may not. */
    static const char *const date_hdr[] = {"X-Amz-Date", "20240501T123456Z", NULL};
    r.headers = date_hdr;
    assert_null(sigv4_authorization(&sdk_creds, &r, "UNSIGNED-PAYLOAD", date));
}

static void test_authorization_payload_hash(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        NULL};
    /* The access key goes in raw here: the header's syntax has room for the colon. */
    static const char prefix[] =
        "AWS4-HMAC-SHA256 Credential=test:tester/20240501/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=";
    struct sigv4_request r = plain_get("/bucket/key");
    char date[17];
    char *auth;

    r.method = "HEAD";
    r.headers = headers;
    r.expires = 0; /* not read by header auth */
    auth = sigv4_authorization(&sdk_creds, &r, headers[1], date);
    assert_non_null(auth);
    assert_string_equal(date, "20240501T123456Z");
    assert_true(starts_with(auth, prefix));
    assert_int_equal(strlen(auth), strlen(prefix) + 64);
    free(auth);

    auth = sigv4_authorization(&sdk_creds, &r, "UNSIGNED-PAYLOAD", date);
    assert_non_null(auth);
    free(auth);

    assert_null(sigv4_authorization(&sdk_creds, &r, NULL, date));
    assert_null(sigv4_authorization(&sdk_creds, &r, "", date));
    assert_null(sigv4_authorization(&sdk_creds, &r, "unsigned-payload", date));
    assert_null(sigv4_authorization(
        &sdk_creds, &r, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", date));
    assert_null(sigv4_authorization(
        &sdk_creds, &r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8", date));
    assert_null(sigv4_authorization(
        &sdk_creds, &r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550", date));
    assert_null(sigv4_authorization(&sdk_creds, &r, headers[1], NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_presign_doc_example),
        cmocka_unit_test(test_suite_vectors),
        cmocka_unit_test(test_sdk_put_object),
        cmocka_unit_test(test_sdk_get_object_encoded_key),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_presign_encoding),
        cmocka_unit_test(test_presign_rejects_bad_input),
        cmocka_unit_test(test_rejects_bad_pairs),
        cmocka_unit_test(test_authorization_payload_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
