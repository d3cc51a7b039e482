/* Unit tests for lib/password.c: Argon2id PHC hashing, verification, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <argon2.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

/* Small parameters keep the tests fast; production uses the config values. */
static const struct password_params fast = {.memory_kib = 1024, .iterations = 1};

static void test_hash_and_verify(void **state)
{
    (void)state;
    char *phc = password_hash(&fast, "correct horse battery staple");
    assert_non_null(phc);
    assert_int_equal(strncmp(phc, "$argon2id$v=19$m=", 17), 0);
    assert_non_null(strstr(phc, "m=1024,t=1,p=1$"));

    assert_int_equal(password_verify(phc, "correct horse battery staple"), 1);
    assert_int_equal(password_verify(phc, "correct horse battery stapl"), 0);
    assert_int_equal(password_verify(phc, ""), 0);
    assert_int_equal(password_verify(phc, NULL), 0);

    /* Random salt: hashing the same password twice gives different strings. */
    char *phc2 = password_hash(&fast, "correct horse battery staple");
    assert_non_null(phc2);
    assert_string_not_equal(phc, phc2);
    assert_int_equal(password_verify(phc2, "correct horse battery staple"), 1);
    free(phc);
    free(phc2);

    char *empty = password_hash(&fast, "");
    assert_non_null(empty);
    assert_int_equal(password_verify(empty, ""), 1);
    assert_int_equal(password_verify(empty, "x"), 0);
    free(empty);
}

static void test_malformed_and_other_algorithms(void **state)
{
    (void)state;
    assert_int_equal(password_verify(NULL, "pw"), 0);
    assert_int_equal(password_verify("", "pw"), 0);
    assert_int_equal(password_verify("plaintext", "plaintext"), 0);
    assert_int_equal(password_verify("$argon2id$v=19$m=1024,t=1,p=1$garbage", "pw"), 0);

    /* A valid argon2i hash of the same password is still refused: id only. */
    char enc[256];
    const char salt[] = "0123456789abcdef";
    assert_int_equal(argon2i_hash_encoded(1, 1024, 1, "pw", 2, salt, 16, 32, enc, sizeof enc),
                     ARGON2_OK);
    assert_int_equal(strncmp(enc, "$argon2i$", 9), 0);
    assert_int_equal(password_verify(enc, "pw"), 0);
}

static void test_too_long(void **state)
{
    (void)state;
    char *pw = malloc(PASSWORD_MAX_BYTES + 2);
    assert_non_null(pw);
    memset(pw, 'p', PASSWORD_MAX_BYTES + 1);
    pw[PASSWORD_MAX_BYTES + 1] = '\0';
    assert_null(password_hash(&fast, pw));

    /* Exactly at the limit is accepted... */
    pw[PASSWORD_MAX_BYTES] = '\0';
    char *phc = password_hash(&fast, pw);
    assert_non_null(phc);
    assert_int_equal(password_verify(phc, pw), 1);

    /* ...and one byte over never verifies, even though its prefix would. */
    pw[PASSWORD_MAX_BYTES] = 'p';
    assert_int_equal(password_verify(phc, pw), 0);
    free(phc);

    /* Not even against a hash made of exactly that over-long password. */
    char enc[256];
    const char salt[] = "0123456789abcdef";
    assert_int_equal(argon2id_hash_encoded(1, 1024, 1, pw, PASSWORD_MAX_BYTES + 1, salt, 16, 32,
                                           enc, sizeof enc),
                     ARGON2_OK);
    assert_int_equal(argon2id_verify(enc, pw, PASSWORD_MAX_BYTES + 1), ARGON2_OK);
    assert_int_equal(password_verify(enc, pw), 0);
    free(pw);
}

static void test_bad_params(void **state)
{
    (void)state;
    const struct password_params tiny = {.memory_kib = 1, .iterations = 1};
    assert_null(password_hash(&tiny, "pw"));
    assert_null(password_hash(NULL, "pw"));
    assert_null(password_hash(&fast, NULL));
}

static void test_dummy(void **state)
{
    (void)state;
    assert_int_equal(password_verify_dummy(&fast, "anything"), 0);
    assert_int_equal(password_verify_dummy(&fast, "missive dummy password, never matches"), 0);
    const struct password_params other = {.memory_kib = 2048, .iterations = 1};
    assert_int_equal(password_verify_dummy(&other, "x"), 0);
    assert_int_equal(password_verify_dummy(&fast, ""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_malformed_and_other_algorithms),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_dummy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
