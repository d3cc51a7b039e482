/*
 * Unit tests for api/validate.c: the value rules behind 422 answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "validate.h"

#include <string.h>

static void uuids(void **state)
{
    (void)state;
    assert_true(validate_uuid("123e4567-e89b-12d3-a456-426614174000"));
    assert_true(validate_uuid("123E4567-E89B-12D3-A456-426614174000"));
    assert_false(validate_uuid("123e4567e89b12d3a456426614174000"));
    assert_false(validate_uuid("123e4567-e89b-12d3-a456-42661417400"));
    assert_false(validate_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    assert_false(validate_uuid(""));
}

static void timestamps(void **state)
{
    (void)state;
    assert_true(validate_timestamp("2030-01-01T00:00:00Z"));
    assert_true(validate_timestamp("2030-01-01T00:00:00.123456Z"));
    assert_true(validate_timestamp("2030-01-01t10:20:30+02:00"));
    assert_true(validate_timestamp("2028-02-29T00:00:00Z"));
    assert_false(validate_timestamp("2030-02-29T00:00:00Z"));
    assert_false(validate_timestamp("2030-02-31T00:00:00Z"));
    assert_false(validate_timestamp("2030-04-31T00:00:00Z"));
    assert_false(validate_timestamp("2100-02-29T00:00:00Z"));
    assert_true(validate_timestamp("2000-02-29T00:00:00Z"));
    assert_false(validate_timestamp("2030-13-01T00:00:00Z"));
    assert_false(validate_timestamp("2030-01-01 00:00:00Z"));
    assert_false(validate_timestamp("2030-01-01T00:00:00"));
    assert_false(validate_timestamp("2030-01-01T24:00:00Z"));
    assert_false(validate_timestamp("2030-01-01T00:00:00.Z"));
    assert_false(validate_timestamp("2030-01-01T00:00:00Zjunk"));
    assert_false(validate_timestamp(""));
}

static void bodies(void **state)
{
    char big[4002 * 2];
    (void)state;
    assert_true(validate_body("hi"));
    assert_true(validate_body("  x  "));
    assert_true(validate_body("\xc3\xa9")); /* é */
    assert_false(validate_body(""));
    assert_false(validate_body(" \n\t\r"));
    assert_false(validate_body("\v\f"));
    assert_false(validate_body("\xc2\xa0"));         /* U+00A0 */
    assert_false(validate_body("\xe3\x80\x80"));     /* U+3000 */
    assert_false(validate_body("\xe2\x80\x83 \xef\xbb\xbf")); /* U+2003, U+FEFF */
    memset(big, 'a', 4000);
    big[4000] = '\0';
    assert_true(validate_body(big));
    big[4000] = 'a';
    big[4001] = '\0';
    assert_false(validate_body(big));
    /* 4000 two-byte characters are 4000 characters, not 8000. */
    for (int i = 0; i < 4000; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[8000] = '\0';
    assert_true(validate_body(big));
}

static void titles(void **state)
{
    (void)state;
    assert_true(validate_title("Family"));
    assert_false(validate_title(""));
    assert_false(validate_title("   "));
    assert_false(validate_title("a\x01" "b"));
    assert_false(validate_title("a\nb"));
    assert_false(validate_title("\xc2\x85")); /* U+0085, a C1 control */
}

static void display_names(void **state)
{
    (void)state;
    assert_true(validate_display_name("Alice"));
    assert_false(validate_display_name(""));
    assert_false(validate_display_name("a\tb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uuids),  cmocka_unit_test(timestamps),    cmocka_unit_test(bodies),
        cmocka_unit_test(titles), cmocka_unit_test(display_names),
    };
    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
