/* Unit tests for lib/token.c: round trip, expiry, tampering, alg pinning, claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "token.h"

static const unsigned char key[] = "test-key-0123456789-0123456789-0123456789";
#define KEYLEN (sizeof key - 1)
#define NOW    1700000000L

/* A token signed by libjwt with any alg/claims, to test what verify refuses. */
static char *make_jwt(jwt_alg_t alg, const char *claims_json)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, claims_json), 0);
    assert_int_equal(jwt_set_alg(j, alg, key, (int)KEYLEN), 0);
    char *s = jwt_encode_str(j);
    assert_non_null(s);
    jwt_free(j);
    return s;
}

static char *b64(const char *s)
{
    return crypto_b64url_encode((const unsigned char *)s, strlen(s));
}

static const char *valid_claims = "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,"
                                  "\"exp\":1700000900}";

static void test_roundtrip(void **state)
{
    (void)state;
    char *t = token_issue(key, KEYLEN, "access", 42, 9, "jti-1", NOW, 900);
    assert_non_null(t);
    assert_int_equal(strncmp(t, "eyJ", 3), 0);

    struct token_claims c;
    memset(&c, 0xFF, sizeof c);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_OK);
    assert_int_equal(c.sub, 42);
    assert_int_equal(c.sid, 9);
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.exp, NOW + 900);
    assert_string_equal(c.jti, "jti-1");
    free(t);

    t = token_issue(key, KEYLEN, "ticket", 5, 0, NULL, NOW, 60);
    assert_non_null(t);
    assert_int_equal(token_verify(key, KEYLEN, "ticket", t, NOW + 30, &c), TOKEN_OK);
    assert_string_equal(c.jti, "");
    assert_int_equal(c.sid, 0);
    assert_int_equal(token_verify(key, KEYLEN, "ticket", t, NOW + 30, NULL), TOKEN_OK);
    free(t);

    /* libjwt itself would accept a NULL key and skip the signature; we refuse. */
    assert_null(token_issue(NULL, 0, "access", 1, 1, NULL, NOW, 60));
}

static void test_expired(void **state)
{
    (void)state;
    struct token_claims c;
    char *t = token_issue(key, KEYLEN, "access", 42, 9, NULL, NOW, 900);
    assert_non_null(t);
    /* Still good within the skew, expired from exp + skew on. */
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW + 900 + TOKEN_SKEW - 1, &c),
                     TOKEN_OK);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW + 900 + TOKEN_SKEW, &c),
                     TOKEN_EXPIRED);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW + 86400 * 365, &c), TOKEN_EXPIRED);
    free(t);
}

static void test_tampered(void **state)
{
    (void)state;
    struct token_claims c;
    char *t = token_issue(key, KEYLEN, "access", 42, 9, NULL, NOW, 900);
    assert_non_null(t);
    char *sig = strrchr(t, '.') + 1;
    /* Change a character in the middle: the last one may only carry padding bits. */
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_MALFORMED);
    free(t);

    /* Swap the payload for one claiming another user, keeping the signature. */
    t = token_issue(key, KEYLEN, "access", 42, 9, NULL, NOW, 900);
    char *other = token_issue(key, KEYLEN, "access", 1, 9, NULL, NOW, 900);
    char *p1 = strchr(t, '.');
    char *s1 = strrchr(t, '.');
    char *p2 = strchr(other, '.');
    char *s2 = strrchr(other, '.');
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(p1 - t), t, (int)(s2 - p2), p2, s1);
    assert_int_equal(token_verify(key, KEYLEN, "access", forged, NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(key, KEYLEN, "access", other, NOW, &c), TOKEN_OK);
    free(t);
    free(other);

    assert_int_equal(token_verify(key, KEYLEN, "access", "", NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(key, KEYLEN, "access", "a.b.c", NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(key, KEYLEN, "access", "garbage", NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(key, KEYLEN, "access", NULL, NOW, &c), TOKEN_MALFORMED);
}

static void test_wrong_key(void **state)
{
    (void)state;
    static const unsigned char other[] = "another-key-0123456789-0123456789-0123";
    struct token_claims c;
    char *t = token_issue(key, KEYLEN, "access", 42, 9, NULL, NOW, 900);
    assert_int_equal(token_verify(other, sizeof other - 1, "access", t, NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(NULL, 0, "access", t, NOW, &c), TOKEN_MALFORMED);
    assert_int_equal(token_verify(key, 0, "access", t, NOW, &c), TOKEN_MALFORMED);
    free(t);
}

static void test_alg_none(void **state)
{
    (void)state;
    struct token_claims c;
    char *h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    char *p = b64(valid_claims);
    char tok[1024];

    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    assert_int_equal(token_verify(key, KEYLEN, "access", tok, NOW, &c), TOKEN_MALFORMED);

    /* A leftover signature does not make it better. */
    char *good = token_issue(key, KEYLEN, "access", 7, 3, NULL, NOW, 900);
    snprintf(tok, sizeof tok, "%s.%s.%s", h, p, strrchr(good, '.') + 1);
    assert_int_equal(token_verify(key, KEYLEN, "access", tok, NOW, &c), TOKEN_MALFORMED);

    snprintf(tok, sizeof tok, "%s.%s", h, p);
    assert_int_equal(token_verify(key, KEYLEN, "access", tok, NOW, &c), TOKEN_MALFORMED);

    free(good);
    free(h);
    free(p);
}

static void test_other_hmac_algs(void **state)
{
    (void)state;
    struct token_claims c;
    /* Correctly signed with our key, but not HS256: refused. */
    char *t = make_jwt(JWT_ALG_HS512, valid_claims);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_MALFORMED);
    free(t);
    t = make_jwt(JWT_ALG_HS384, valid_claims);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_MALFORMED);
    free(t);
    /* The same claims as HS256 pass, so the refusal above is about the alg. */
    t = make_jwt(JWT_ALG_HS256, valid_claims);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_OK);
    assert_int_equal(c.sub, 7);
    free(t);
}

static void test_wrong_type(void **state)
{
    (void)state;
    struct token_claims c;
    char *t = token_issue(key, KEYLEN, "ticket", 42, 9, NULL, NOW, 900);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_WRONG_TYPE);
    free(t);
    t = make_jwt(JWT_ALG_HS256, "{\"sub\":7,\"sid\":3,\"iat\":1700000000,\"exp\":1700000900}");
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_WRONG_TYPE);
    free(t);
}

static void test_bad_claims(void **state)
{
    (void)state;
    struct token_claims c;
    const char *bad[] = {
        /* missing sub */
        "{\"typ\":\"access\",\"sid\":3,\"iat\":1700000000,\"exp\":1700000900}",
        /* sub 0, sub as string */
        "{\"typ\":\"access\",\"sub\":0,\"sid\":3,\"iat\":1700000000,\"exp\":1700000900}",
        "{\"typ\":\"access\",\"sub\":\"7\",\"sid\":3,\"iat\":1700000000,\"exp\":1700000900}",
        /* missing or negative sid */
        "{\"typ\":\"access\",\"sub\":7,\"iat\":1700000000,\"exp\":1700000900}",
        "{\"typ\":\"access\",\"sub\":7,\"sid\":-1,\"iat\":1700000000,\"exp\":1700000900}",
        /* missing exp, exp as a string */
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000}",
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,\"exp\":\"1700000900\"}",
        /* missing iat, iat in the future beyond the skew */
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"exp\":1700000900}",
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000061,\"exp\":1700000900}",
        /* jti too long or not a string */
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,\"exp\":1700000900,"
        "\"jti\":\"0123456789012345678901234567890123456789\"}",
        "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,\"exp\":1700000900,"
        "\"jti\":5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = make_jwt(JWT_ALG_HS256, bad[i]);
        assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_MALFORMED);
        free(t);
    }
    /* iat within the skew is fine. */
    char *t = make_jwt(JWT_ALG_HS256, "{\"typ\":\"access\",\"sub\":7,\"sid\":3,"
                                      "\"iat\":1700000060,\"exp\":1700000900}");
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_OK);
    free(t);
    /* A huge exp must not overflow into "expired" or worse. */
    t = make_jwt(JWT_ALG_HS256, "{\"typ\":\"access\",\"sub\":7,\"sid\":3,"
                                "\"iat\":1700000000,\"exp\":9223372036854775807}");
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_OK);
    free(t);
}

static void test_oversize(void **state)
{
    (void)state;
    struct token_claims c;
    /* Properly signed and otherwise valid: only its size is wrong. */
    char pad[5000];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char claims[6000];
    snprintf(claims, sizeof claims,
             "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,"
             "\"exp\":1700000900,\"pad\":\"%s\"}",
             pad);
    char *t = make_jwt(JWT_ALG_HS256, claims);
    assert_true(strlen(t) > 4096);
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_MALFORMED);
    free(t);

    /* A small extra claim is fine, so the refusal above is about the length. */
    t = make_jwt(JWT_ALG_HS256, "{\"typ\":\"access\",\"sub\":7,\"sid\":3,\"iat\":1700000000,"
                                "\"exp\":1700000900,\"pad\":\"xx\"}");
    assert_int_equal(token_verify(key, KEYLEN, "access", t, NOW, &c), TOKEN_OK);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_expired),
        cmocka_unit_test(test_tampered),   cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_alg_none),   cmocka_unit_test(test_other_hmac_algs),
        cmocka_unit_test(test_wrong_type), cmocka_unit_test(test_bad_claims),
        cmocka_unit_test(test_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
