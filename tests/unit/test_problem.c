/* Unit tests for lib/problem.c: the kind table and problem+json objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "problem.h"

static const struct {
    enum problem_kind kind;
    int status;
    const char *slug;
    const char *title;
} expected[] = {
    {PROB_BAD_REQUEST, 400, "bad-request", "Bad request"},
    {PROB_VALIDATION, 422, "validation", "Invalid value"},
    {PROB_UNAUTHORIZED, 401, "unauthorized", "Authentication required"},
    {PROB_FORBIDDEN, 403, "forbidden", "Forbidden"},
    {PROB_NOT_FOUND, 404, "not-found", "Not found"},
    {PROB_METHOD, 405, "method-not-allowed", "Method not allowed"},
    {PROB_CONFLICT, 409, "conflict", "Conflict"},
    {PROB_TOO_LARGE, 413, "payload-too-large", "Payload too large"},
    {PROB_UNSUPPORTED_TYPE, 415, "unsupported-media-type", "Unsupported media type"},
    {PROB_RATE_LIMITED, 429, "rate-limited", "Too many requests"},
    {PROB_INTERNAL, 500, "internal", "Internal error"},
    {PROB_UNAVAILABLE, 503, "unavailable", "Service unavailable"},
};

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(sizeof expected / sizeof expected[0], PROB_KIND_COUNT);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        assert_int_equal(problem_status(expected[i].kind), expected[i].status);
        assert_string_equal(problem_slug(expected[i].kind), expected[i].slug);
        assert_string_equal(problem_title(expected[i].kind), expected[i].title);
    }
    /* Out of range degrades to an internal error instead of reading past the table. */
    assert_int_equal(problem_status(PROB_KIND_COUNT), 500);
    assert_int_equal(problem_status((enum problem_kind) - 1), 500);
}

static void test_new_full(void **state)
{
    (void)state;
    json_t *p = problem_new(PROB_VALIDATION, "must be a string", "name");
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "type")),
                        "https://missive.dev/problems/validation");
    assert_string_equal(json_string_value(json_object_get(p, "title")), "Invalid value");
    assert_true(json_is_integer(json_object_get(p, "status")));
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 422);
    assert_string_equal(json_string_value(json_object_get(p, "detail")), "must be a string");
    assert_string_equal(json_string_value(json_object_get(p, "field")), "name");
    assert_int_equal(json_object_size(p), 5);
    json_decref(p);
}

static void test_new_minimal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        json_t *p = problem_new(expected[i].kind, NULL, NULL);
        assert_non_null(p);
        assert_int_equal(json_object_size(p), 3);
        assert_null(json_object_get(p, "detail"));
        assert_null(json_object_get(p, "field"));
        const char *type = json_string_value(json_object_get(p, "type"));
        assert_int_equal(strncmp(type, PROBLEM_TYPE_BASE, strlen(PROBLEM_TYPE_BASE)), 0);
        assert_string_equal(type + strlen(PROBLEM_TYPE_BASE), expected[i].slug);
        assert_int_equal(json_integer_value(json_object_get(p, "status")), expected[i].status);
        json_decref(p);
    }
}

static void test_detail_escaping_and_bad_utf8(void **state)
{
    (void)state;
    json_t *p = problem_new(PROB_BAD_REQUEST, "quote \" and \n newline", NULL);
    char *s = json_dumps(p, JSON_COMPACT);
    assert_non_null(strstr(s, "quote \\\" and \\n newline"));
    free(s);
    json_decref(p);

    /* Invalid UTF-8 in detail is dropped rather than failing the whole answer. */
    p = problem_new(PROB_BAD_REQUEST, "bad \xff byte", "");
    assert_non_null(p);
    assert_null(json_object_get(p, "detail"));
    assert_null(json_object_get(p, "field"));
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 400);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_new_full),
        cmocka_unit_test(test_new_minimal),
        cmocka_unit_test(test_detail_escaping_and_bad_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
