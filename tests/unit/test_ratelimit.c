/*
 * Unit tests for api/ratelimit.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

#include <stdio.h>

static void burst_then_wait(void **state)
{
    struct ratelimit *rl = ratelimit_new(1024);
    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(ratelimit_take(rl, "login:alice", 10.0 / 60, 10, 100.0), 0);
    /* The 11th in the same instant waits for one token: 6 s at 10 per minute. */
    assert_int_equal(ratelimit_take(rl, "login:alice", 10.0 / 60, 10, 100.0), 6);
    /* Other keys are unaffected. */
    assert_int_equal(ratelimit_take(rl, "login:bob", 10.0 / 60, 10, 100.0), 0);
    /* After 6 s one token is back, and only one. */
    assert_int_equal(ratelimit_take(rl, "login:alice", 10.0 / 60, 10, 106.0), 0);
    assert_true(ratelimit_take(rl, "login:alice", 10.0 / 60, 10, 106.0) > 0);
    ratelimit_free(rl);
}

static void refill_caps_at_burst(void **state)
{
    struct ratelimit *rl = ratelimit_new(1024);
    (void)state;
    assert_int_equal(ratelimit_take(rl, "k", 1, 3, 0), 0);
    /* A long quiet time refills to the burst, not beyond. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "k", 1, 3, 1000), 0);
    assert_int_equal(ratelimit_take(rl, "k", 1, 3, 1000), 1);
    ratelimit_free(rl);
}

static void zero_means_unlimited(void **state)
{
    struct ratelimit *rl = ratelimit_new(16);
    (void)state;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ratelimit_take(rl, "k", 0, 0, 0), 0);
    ratelimit_free(rl);
}

static void many_keys_bounded_memory(void **state)
{
    struct ratelimit *rl = ratelimit_new(64);
    char key[32];
    (void)state;
    /* More keys than slots: collisions reset buckets, they never refuse a newcomer. */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "ip:%d", i);
        assert_int_equal(ratelimit_take(rl, key, 1, 1, 5), 0);
    }
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_wait),
        cmocka_unit_test(refill_caps_at_burst),
        cmocka_unit_test(zero_means_unlimited),
        cmocka_unit_test(many_keys_bounded_memory),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
