/* Unit tests for lib/jsonv.c: parse limits, field table checks, UTF-8 counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

static json_t *parse(const char *s, struct jsonv_error *err)
{
    return jsonv_parse_object(s, strlen(s), 65536, 8, err);
}

static void test_valid_object(void **state)
{
    (void)state;
    struct jsonv_error err;
    json_t *o = parse("{\"name\": \"x\", \"n\": 5, \"ok\": true, \"tags\": [1, 2]}", &err);
    assert_non_null(o);
    assert_string_equal(jsonv_str(o, "name", NULL), "x");
    assert_int_equal(jsonv_int(o, "n", -1), 5);
    assert_int_equal(jsonv_int(o, "missing", -1), -1);
    assert_string_equal(jsonv_str(o, "n", "def"), "def"); /* wrong type -> default */
    assert_true(jsonv_has(o, "ok"));
    assert_false(jsonv_has(o, "nope"));
    assert_int_equal(err.too_large, 0);
    json_decref(o);

    o = parse("{\"a\": null}", &err);
    assert_non_null(o);
    assert_false(jsonv_has(o, "a"));
    assert_string_equal(jsonv_str(o, "a", "d"), "d");
    json_decref(o);
}

static void test_not_object(void **state)
{
    (void)state;
    struct jsonv_error err;
    const char *bad[] = {"[1,2]", "\"str\"",     "42",      "null",      "",
                         "{",     "{\"a\":1} x", "{'a':1}", "{\"a\":1,}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = parse(bad[i], &err);
        assert_null(o);
        assert_int_equal(err.too_large, 0);
        assert_true(strlen(err.detail) > 0);
    }
    /* Syntax errors say where. */
    assert_null(parse("{\"a\": tru}", &err));
    assert_non_null(strstr(err.detail, "line 1"));
}

static void test_duplicate_key(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_null(parse("{\"a\":1,\"a\":2}", &err));
    assert_non_null(strstr(err.detail, "duplicate"));
    assert_null(parse("{\"o\":{\"b\":1,\"b\":1}}", &err));
}

static void test_too_large(void **state)
{
    (void)state;
    struct jsonv_error err;
    const char *s = "{\"a\":\"0123456789\"}";
    assert_null(jsonv_parse_object(s, strlen(s), strlen(s) - 1, 8, &err));
    assert_int_equal(err.too_large, 1);
    json_t *o = jsonv_parse_object(s, strlen(s), strlen(s), 8, &err);
    assert_non_null(o);
    assert_int_equal(err.too_large, 0);
    json_decref(o);
}

static void test_depth(void **state)
{
    (void)state;
    struct jsonv_error err;
    const char *d3 = "{\"a\":{\"b\":[1]}}";
    const char *d4 = "{\"a\":{\"b\":[[1]]}}";
    json_t *o = jsonv_parse_object(d3, strlen(d3), 1000, 3, &err);
    assert_non_null(o);
    assert_int_equal(jsonv_depth(o), 3);
    json_decref(o);
    assert_null(jsonv_parse_object(d4, strlen(d4), 1000, 3, &err));
    assert_non_null(strstr(err.detail, "deeper"));

    /* Deep nesting well past the limit, without blowing the stack. */
    size_t n = 5000;
    char *deep = malloc(2 * n + 16);
    assert_non_null(deep);
    strcpy(deep, "{\"a\":");
    size_t len = strlen(deep);
    for (size_t i = 0; i < n; i++)
        deep[len++] = '[';
    for (size_t i = 0; i < n; i++)
        deep[len++] = ']';
    deep[len++] = '}';
    deep[len] = '\0';
    assert_null(jsonv_parse_object(deep, len, 1 << 20, 16, &err));
    free(deep);

    json_t *scalar = json_integer(1);
    assert_int_equal(jsonv_depth(scalar), 0);
    json_decref(scalar);
}

/* clang-format off */
static const struct jsonv_field fields[] = {
    {"name", JV_STRING, 1, 1, 5, 0},
    {"count", JV_INT, 0, 0, 0, 0},
    {"limit", JV_INT, 0, 1, 100, 0},
    {"id", JV_ID, 0, 0, 0, 0},
    {"flag", JV_BOOL, 0, 0, 0, 0},
    {"list", JV_ARRAY, 0, 0, 0, 0},
    {"obj", JV_OBJECT, 0, 0, 0, 0},
    {"note", JV_STRING, 0, 0, 0, 1},
    {"any", JV_ANY, 0, 0, 0, 0},
    JSONV_END,
};
/* clang-format on */

/* Parses s and runs jsonv_check; returns its result, err filled. */
static int check(const char *s, struct jsonv_error *err)
{
    struct jsonv_error perr;
    json_t *o = parse(s, &perr);
    assert_non_null(o);
    int rc = jsonv_check(o, fields, err);
    json_decref(o);
    return rc;
}

static void test_check_ok(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_int_equal(check("{\"name\":\"bob\",\"count\":-7,\"limit\":100,\"id\":1,\"flag\":false,"
                           "\"list\":[],\"obj\":{},\"note\":null,\"any\":[{}]}",
                           &err),
                     0);
    assert_int_equal(check("{\"name\":\"b\"}", &err), 0);
}

static void test_unknown_field(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_int_equal(check("{\"name\":\"bob\",\"admin\":true}", &err), -1);
    assert_string_equal(err.field, "admin");
    assert_non_null(strstr(err.detail, "unknown field"));
}

static void test_missing_required(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_int_equal(check("{\"count\":1}", &err), -1);
    assert_string_equal(err.field, "name");
    assert_non_null(strstr(err.detail, "is required"));
}

static void test_wrong_types(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_int_equal(check("{\"name\":5}", &err), -1);
    assert_string_equal(err.field, "name");
    assert_string_equal(err.detail, "must be a string");

    assert_int_equal(check("{\"name\":\"a\",\"count\":\"5\"}", &err), -1);
    assert_string_equal(err.field, "count");
    assert_string_equal(err.detail, "must be an integer");

    assert_int_equal(check("{\"name\":\"a\",\"count\":1.0}", &err), -1);
    assert_string_equal(err.field, "count");

    assert_int_equal(check("{\"name\":\"a\",\"flag\":1}", &err), -1);
    assert_string_equal(err.field, "flag");

    assert_int_equal(check("{\"name\":\"a\",\"list\":{}}", &err), -1);
    assert_string_equal(err.field, "list");

    assert_int_equal(check("{\"name\":\"a\",\"obj\":[]}", &err), -1);
    assert_string_equal(err.field, "obj");

    /* null is only accepted for nullable fields. */
    assert_int_equal(check("{\"name\":null}", &err), -1);
    assert_string_equal(err.field, "name");
    assert_int_equal(check("{\"name\":\"a\",\"count\":null}", &err), -1);
    assert_string_equal(err.field, "count");
}

static void test_int_bounds_and_id(void **state)
{
    (void)state;
    struct jsonv_error err;
    assert_int_equal(check("{\"name\":\"a\",\"id\":0}", &err), -1);
    assert_string_equal(err.field, "id");
    assert_int_equal(check("{\"name\":\"a\",\"id\":-3}", &err), -1);
    assert_string_equal(err.field, "id");
    assert_int_equal(check("{\"name\":\"a\",\"id\":9007199254740993}", &err), 0);

    assert_int_equal(check("{\"name\":\"a\",\"limit\":0}", &err), -1);
    assert_string_equal(err.field, "limit");
    assert_int_equal(check("{\"name\":\"a\",\"limit\":101}", &err), -1);
    assert_int_equal(check("{\"name\":\"a\",\"limit\":1}", &err), 0);
}

static void test_string_length_code_points(void **state)
{
    (void)state;
    struct jsonv_error err;
    /* "ééééé" is 10 bytes but 5 code points: within max 5. */
    assert_int_equal(check("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &err), 0);
    assert_int_equal(check("{\"name\":\"\\u00e9\"}", &err), 0);
    assert_int_equal(check("{\"name\":\"abcdef\"}", &err), -1);
    assert_string_equal(err.field, "name");
    assert_int_equal(check("{\"name\":\"\"}", &err), -1); /* min 1 */
    assert_string_equal(err.field, "name");
    /* An emoji (4 bytes, or a surrogate pair in the escape) is one code point. */
    assert_int_equal(check("{\"name\":\"\\ud83d\\ude00abcd\"}", &err), 0);
}

static void test_nul_in_string(void **state)
{
    (void)state;
    struct jsonv_error err;
    /* The parser refuses \u0000 outright... */
    assert_null(parse("{\"name\":\"a\\u0000b\"}", &err));
    /* ...and jsonv_check refuses it in values built any other way. */
    json_t *o = json_object();
    json_object_set_new(o, "name", json_stringn("a\0b", 3));
    assert_int_equal(jsonv_check(o, fields, &err), -1);
    assert_string_equal(err.field, "name");
    assert_non_null(strstr(err.detail, "NUL"));
    json_decref(o);
}

static void test_check_not_object(void **state)
{
    (void)state;
    struct jsonv_error err;
    json_t *a = json_array();
    assert_int_equal(jsonv_check(a, fields, &err), -1);
    json_decref(a);
}

static void test_utf8_length(void **state)
{
    (void)state;
    assert_int_equal(utf8_length("", 0), 0);
    assert_int_equal(utf8_length("abc", 3), 3);
    assert_int_equal(utf8_length("\xc3\xa9", 2), 1);
    assert_int_equal(utf8_length("\xe2\x82\xac", 3), 1);     /* euro sign */
    assert_int_equal(utf8_length("\xf0\x9f\x98\x80", 4), 1); /* U+1F600 */
    assert_int_equal(utf8_length("\xf4\x8f\xbf\xbf", 4), 1); /* U+10FFFF */
    assert_int_equal(utf8_length("a\0b", 3), 3);

    assert_int_equal(utf8_length("\xc0\x80", 2), -1);         /* overlong NUL */
    assert_int_equal(utf8_length("\xc1\xbf", 2), -1);         /* overlong */
    assert_int_equal(utf8_length("\xe0\x80\x80", 3), -1);     /* overlong 3-byte */
    assert_int_equal(utf8_length("\xf0\x80\x80\x80", 4), -1); /* overlong 4-byte */
    assert_int_equal(utf8_length("\xed\xa0\x80", 3), -1);     /* surrogate D800 */
    assert_int_equal(utf8_length("\xed\xbf\xbf", 3), -1);     /* surrogate DFFF */
    assert_int_equal(utf8_length("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
    assert_int_equal(utf8_length("\xf5\x80\x80\x80", 4), -1);
    assert_int_equal(utf8_length("\xc3", 1), -1);         /* truncated */
    assert_int_equal(utf8_length("\xe2\x82", 2), -1);     /* truncated */
    assert_int_equal(utf8_length("\xe2\x82\xac", 2), -1); /* n cuts the sequence */
    assert_int_equal(utf8_length("\x80", 1), -1);         /* lone continuation */
    assert_int_equal(utf8_length("\xc3\x28", 2), -1);     /* bad continuation */
    assert_int_equal(utf8_length("\xff", 1), -1);
}

static void test_error_text_is_valid_utf8(void **state)
{
    (void)state;
    struct jsonv_error err;
    /* A long unknown multi-byte key is cut to fit err.field without breaking UTF-8. */
    char body[512];
    strcpy(body, "{\"");
    for (int i = 0; i < 100; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\":1}");
    json_t *o = parse(body, &err);
    assert_non_null(o);
    assert_int_equal(jsonv_check(o, fields, &err), -1);
    assert_true(strlen(err.field) > 0 && strlen(err.field) < sizeof err.field);
    assert_true(utf8_length(err.field, strlen(err.field)) >= 0);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_object),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_int_bounds_and_id),
        cmocka_unit_test(test_string_length_code_points),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_check_not_object),
        cmocka_unit_test(test_utf8_length),
        cmocka_unit_test(test_error_text_is_valid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
