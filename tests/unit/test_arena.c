/* Unit tests for lib/arena.c: alignment, big blocks, cleanup order, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"

static void test_alignment_and_no_overlap(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    enum { N = 2000 };
    unsigned char *ptrs[N];
    size_t sizes[N];

    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i % 97) + 1;
        ptrs[i] = arena_alloc(a, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], i & 0xFF, sizes[i]);
    }
    /* Later allocations must not have overwritten earlier ones. */
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(ptrs[i][k], i & 0xFF);
    arena_free(a);
}

static void test_large_alloc(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    unsigned char *small1 = arena_alloc(a, 10);
    unsigned char *big = arena_alloc(a, 1 << 20);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 0xAB, 1 << 20);
    unsigned char *small2 = arena_alloc(a, 10);
    assert_int_equal((uintptr_t)small2 % 16, 0);
    /* The big allocation gets its own block; small ones keep filling the first. */
    assert_true(small2 > small1 && small2 - small1 < 4096);
    assert_int_equal(big[0], 0xAB);
    assert_int_equal(big[(1 << 20) - 1], 0xAB);

    unsigned char *big2 = arena_alloc(a, 5000); /* just over one first block */
    memset(big2, 1, 5000);
    assert_int_equal(big[12345], 0xAB);
    arena_free(a);
}

static void test_zalloc_and_strings(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    unsigned char *z = arena_zalloc(a, 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(z[i], 0);

    assert_string_equal(arena_strdup(a, "hello"), "hello");
    assert_string_equal(arena_strndup(a, "hello", 3), "hel");
    assert_string_equal(arena_strndup(a, "hi", 10), "hi");
    assert_string_equal(arena_sprintf(a, "%d-%s", 42, "x"), "42-x");

    char longfmt[6000];
    memset(longfmt, 'q', sizeof longfmt - 1);
    longfmt[sizeof longfmt - 1] = '\0';
    char *s = arena_sprintf(a, "<%s>", longfmt);
    assert_int_equal(strlen(s), sizeof longfmt + 1);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[sizeof longfmt], '>');
    arena_free(a);
}

static int order[8];
static int norder;

static void record(void *p)
{
    order[norder++] = *(int *)p;
}

static void test_defer_lifo_on_free(void **state)
{
    (void)state;
    static int one = 1, two = 2, three = 3;
    norder = 0;
    struct arena *a = arena_new();
    arena_defer(a, record, &one);
    arena_defer(a, record, &two);
    arena_defer(a, record, &three);
    assert_int_equal(norder, 0);
    arena_free(a);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

static void test_reset(void **state)
{
    (void)state;
    static int one = 1, two = 2;
    norder = 0;
    struct arena *a = arena_new();
    void *first = arena_alloc(a, 32);
    for (int i = 0; i < 1000; i++)
        arena_alloc(a, 100); /* spill into further blocks */
    arena_alloc(a, 100000);
    arena_defer(a, record, &one);
    arena_defer(a, record, &two);

    arena_reset(a);
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1);

    /* The first block is kept and reused from its start. */
    void *again = arena_alloc(a, 32);
    assert_ptr_equal(first, again);

    /* Cleanups already run are not run a second time. */
    arena_free(a);
    assert_int_equal(norder, 2);
    arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_no_overlap),
        cmocka_unit_test(test_large_alloc),
        cmocka_unit_test(test_zalloc_and_strings),
        cmocka_unit_test(test_defer_lifo_on_free),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
