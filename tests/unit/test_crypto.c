/* Unit tests for lib/crypto.c: base64url, SHA-256, HMAC-SHA256, randomness helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

static void check_encode(const char *in, size_t n, const char *expect)
{
    char *s = crypto_b64url_encode((const unsigned char *)in, n);
    assert_string_equal(s, expect);
    size_t len = 99;
    unsigned char *back = crypto_b64url_decode(s, &len);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, in, n);
    free(back);
    free(s);
}

static void test_b64url_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10, without padding. */
    check_encode("", 0, "");
    check_encode("f", 1, "Zg");
    check_encode("fo", 2, "Zm8");
    check_encode("foo", 3, "Zm9v");
    check_encode("foob", 4, "Zm9vYg");
    check_encode("fooba", 5, "Zm9vYmE");
    check_encode("foobar", 6, "Zm9vYmFy");
    /* The URL-safe alphabet: 0xfb 0xff is "+/8" in plain base64. */
    check_encode("\xfb\xff", 2, "-_8");
    check_encode("\x00\x00\x00", 3, "AAAA");
}

static void test_b64url_decode_strict(void **state)
{
    (void)state;
    size_t len;
    unsigned char *p;

    assert_null(crypto_b64url_decode("+_8", &len));
    assert_null(crypto_b64url_decode("-/8", &len));
    assert_null(crypto_b64url_decode("Zm9v YmFy", &len));
    assert_null(crypto_b64url_decode("Zm9v\n", &len));
    assert_null(crypto_b64url_decode("Z", &len));   /* 6 bits: no whole byte */
    assert_null(crypto_b64url_decode("Zh", &len));  /* non-zero leftover bits */
    assert_null(crypto_b64url_decode("Zg=", &len)); /* incomplete padding */
    assert_null(crypto_b64url_decode("Zg===", &len));
    assert_null(crypto_b64url_decode("Zm9v=", &len));
    assert_null(crypto_b64url_decode("Z=g=", &len));

    p = crypto_b64url_decode("Zg==", &len); /* padding is optional but allowed */
    assert_non_null(p);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 'f');
    free(p);
    p = crypto_b64url_decode("Zm8=", &len);
    assert_non_null(p);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "fo", 2);
    free(p);
}

static void test_b64url_roundtrip_all_bytes(void **state)
{
    (void)state;
    unsigned char buf[256];
    for (int i = 0; i < 256; i++)
        buf[i] = (unsigned char)i;
    for (size_t n = 0; n <= sizeof buf; n++) {
        char *s = crypto_b64url_encode(buf, n);
        assert_int_equal(strlen(s), (n * 4 + 2) / 3);
        size_t len;
        unsigned char *back = crypto_b64url_decode(s, &len);
        assert_non_null(back);
        assert_int_equal(len, n);
        assert_memory_equal(back, buf, n);
        free(back);
        free(s);
    }
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    crypto_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    unsigned char raw[32];
    crypto_sha256("abc", 3, raw);
    assert_int_equal(raw[0], 0xba);
    assert_int_equal(raw[31], 0xad);
}

static void test_hmac_sha256(void **state)
{
    (void)state;
    /* RFC 4231 test case 2. */
    static const unsigned char expect[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
    };
    const char *data = "what do ya want for nothing?";
    unsigned char out[32];
    crypto_hmac_sha256("Jefe", 4, data, strlen(data), out);
    assert_memory_equal(out, expect, 32);

    /* RFC 4231 test case 1: key 0x0b x 20, "Hi There". */
    static const unsigned char expect1[32] = {
        0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf,
        0xce, 0xaf, 0x0b, 0xf1, 0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83,
        0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
    };
    unsigned char key1[20];
    memset(key1, 0x0b, sizeof key1);
    crypto_hmac_sha256(key1, sizeof key1, "Hi There", 8, out);
    assert_memory_equal(out, expect1, 32);
}

static void test_random(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    crypto_random(a, sizeof a);
    crypto_random(b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);

    char *t1 = crypto_random_token(32);
    char *t2 = crypto_random_token(32);
    assert_int_equal(strlen(t1), 43);
    assert_string_not_equal(t1, t2);
    size_t len;
    unsigned char *raw = crypto_b64url_decode(t1, &len);
    assert_non_null(raw);
    assert_int_equal(len, 32);
    free(raw);
    free(t1);
    free(t2);

    char hex[33];
    crypto_random_hex16(hex);
    assert_int_equal(strlen(hex), 32);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 32);
}

static void test_equal(void **state)
{
    (void)state;
    assert_int_equal(crypto_equal("abcdef", "abcdef", 6), 1);
    assert_int_equal(crypto_equal("abcdef", "abcdeg", 6), 0);
    assert_int_equal(crypto_equal("xbcdef", "abcdef", 6), 0);
    assert_int_equal(crypto_equal("a", "b", 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),
        cmocka_unit_test(test_b64url_decode_strict),
        cmocka_unit_test(test_b64url_roundtrip_all_bytes),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
