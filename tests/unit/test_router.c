/*
 * Unit tests for api/router.c and the request getters in api/http.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "config.h"
#include "http.h"
#include "router.h"

#include <string.h>

static void h_a(struct req *r)
{
    (void)r;
}
static void h_b(struct req *r)
{
    (void)r;
}

static const struct route table[] = {
    {"GET", "/v1/things", h_a, ROUTE_PUBLIC},
    {"POST", "/v1/things", h_b, ROUTE_USER},
    {"GET", "/v1/things/{id}", h_a, ROUTE_USER},
    {"PATCH", "/v1/things/{id}", h_b, ROUTE_USER},
    {"PUT", "/v1/things/{id}/tags/{tag}", h_a, ROUTE_USER},
};
#define N (sizeof table / sizeof table[0])

struct fixture {
    struct arena *arena;
    struct req r;
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->arena = arena_new();
    config_defaults(&f->cfg);
    f->app.cfg = &f->cfg;
    f->r.arena = f->arena;
    f->r.app = &f->app;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arena_free(f->arena);
    config_release(&f->cfg);
    free(f);
    return 0;
}

static enum router_result match(struct fixture *f, const char *method, const char *path,
                                char *allow)
{
    memset(&f->r, 0, sizeof f->r);
    f->r.arena = f->arena;
    f->r.app = &f->app;
    f->r.method = method;
    f->r.path = path;
    return router_match(table, N, &f->r, allow, 64);
}

static void literal_routes_match(void **state)
{
    struct fixture *f = *state;
    char allow[64];
    assert_int_equal(match(f, "GET", "/v1/things", allow), ROUTER_MATCH);
    assert_ptr_equal(f->r.route, &table[0]);
    assert_int_equal(match(f, "POST", "/v1/things", allow), ROUTER_MATCH);
    assert_ptr_equal(f->r.route, &table[1]);
    assert_int_equal(f->r.nparams, 0);
}

static void params_are_captured_and_decoded(void **state)
{
    struct fixture *f = *state;
    char allow[64];
    assert_int_equal(match(f, "GET", "/v1/things/42", allow), ROUTER_MATCH);
    assert_int_equal(f->r.nparams, 1);
    assert_string_equal(f->r.params[0], "42");
    assert_int_equal(match(f, "PUT", "/v1/things/7/tags/%F0%9F%91%8D", allow), ROUTER_MATCH);
    assert_int_equal(f->r.nparams, 2);
    assert_string_equal(f->r.params[1], "\xF0\x9F\x91\x8D");
}

static void unknown_paths_are_404(void **state)
{
    struct fixture *f = *state;
    char allow[64];
    assert_int_equal(match(f, "GET", "/v1/thing", allow), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, "GET", "/v1/things/", allow), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, "GET", "/v1/things/1/extra", allow), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, "GET", "/v1//things", allow), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, "GET", "", allow), ROUTER_NOT_FOUND);
    /* An undecodable parameter (bad escape, or an encoded NUL) never reaches a handler. */
    assert_int_equal(match(f, "GET", "/v1/things/%zz", allow), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, "GET", "/v1/things/%00", allow), ROUTER_NOT_FOUND);
}

static void wrong_method_is_405_with_allow(void **state)
{
    struct fixture *f = *state;
    char allow[64];
    assert_int_equal(match(f, "DELETE", "/v1/things/9", allow), ROUTER_METHOD);
    assert_string_equal(allow, "GET, PATCH");
    assert_int_equal(match(f, "PUT", "/v1/things", allow), ROUTER_METHOD);
    assert_string_equal(allow, "GET, POST");
}

static void ids_parse_strictly(void **state)
{
    long long id = 0;
    (void)state;
    assert_int_equal(http_parse_id("1", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(http_parse_id("9223372036854775807", &id), 0);
    assert_int_equal(id, 9223372036854775807LL);
    assert_int_equal(http_parse_id("9223372036854775808", &id), -1);
    assert_int_equal(http_parse_id("0", &id), -1);
    assert_int_equal(http_parse_id("-1", &id), -1);
    assert_int_equal(http_parse_id("01", &id), -1);
    assert_int_equal(http_parse_id("1a", &id), -1);
    assert_int_equal(http_parse_id("", &id), -1);
    assert_int_equal(http_parse_id(NULL, &id), -1);
}

static void query_getters(void **state)
{
    struct fixture *f = *state;
    int bad = 0;
    long long v = 0;
    memset(&f->r, 0, sizeof f->r);
    f->r.arena = f->arena;
    f->r.app = &f->app;
    f->r.query = "q=al%20ice+b&limit=5&flag&x=%zz";
    assert_string_equal(http_query(&f->r, "q", &bad), "al ice b");
    assert_int_equal(bad, 0);
    assert_string_equal(http_query(&f->r, "flag", &bad), "");
    assert_null(http_query(&f->r, "missing", &bad));
    assert_int_equal(http_query_int(&f->r, "limit", 1, 100, 20, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(http_query_int(&f->r, "absent", 1, 100, 20, &v), 0);
    assert_int_equal(v, 20);
    assert_null(http_query(&f->r, "x", &bad));
    assert_int_equal(bad, 1);
    assert_int_equal(f->r.status, 400);

    f->r.status = 0;
    f->r.query = "limit=101";
    assert_int_equal(http_query_int(&f->r, "limit", 1, 100, 20, &v), -1);
    assert_int_equal(f->r.status, 400);
    f->r.status = 0;
    f->r.query = "limit=5x";
    assert_int_equal(http_query_int(&f->r, "limit", 1, 100, 20, &v), -1);
    assert_int_equal(f->r.status, 400);
}

static void the_real_table_has_unique_operations(void **state)
{
    (void)state;
    for (size_t i = 0; i < routes_count; i++)
        for (size_t j = i + 1; j < routes_count; j++)
            assert_false(strcmp(routes[i].method, routes[j].method) == 0 &&
                         strcmp(routes[i].pattern, routes[j].pattern) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(literal_routes_match, setup, teardown),
        cmocka_unit_test_setup_teardown(params_are_captured_and_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_paths_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_method_is_405_with_allow, setup, teardown),
        cmocka_unit_test(ids_parse_strictly),
        cmocka_unit_test_setup_teardown(query_getters, setup, teardown),
        cmocka_unit_test(the_real_table_has_unique_operations),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
