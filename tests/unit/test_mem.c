/* Unit tests for mem_grow: doubling from the first size, enough room left alone, a need
 * beyond one doubling, and sizes that would overflow refused with the array untouched; and
 * for mem_big: small and large blocks usable to their last byte, large ones aligned to
 * 2 MiB, both growable with realloc and freed with free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "common/mem.h"

static void test_grows_by_doubling(void **state)
{
    (void)state;
    size_t cap = 0;
    int *a = mem_grow(NULL, &cap, 1, sizeof *a, 64);
    assert_non_null(a);
    assert_int_equal(cap, 64);
    a[63] = 7;
    int *same = mem_grow(a, &cap, 64, sizeof *a, 64);
    assert_ptr_equal(same, a);
    assert_int_equal(cap, 64);
    a = mem_grow(a, &cap, 65, sizeof *a, 64);
    assert_non_null(a);
    assert_int_equal(cap, 128);
    assert_int_equal(a[63], 7);
    a = mem_grow(a, &cap, 1000, sizeof *a, 64);
    assert_non_null(a);
    assert_int_equal(cap, 1024);
    assert_int_equal(a[63], 7);
    free(a);
    cap = 0;
    char *c = mem_grow(NULL, &cap, 3, 1, 0); /* no first size: from 1 */
    assert_non_null(c);
    assert_int_equal(cap, 4);
    free(c);
}

static void test_overflow_refused(void **state)
{
    (void)state;
    size_t cap = 4;
    int *a = malloc(4 * sizeof *a);
    assert_non_null(a);
    a[3] = 9;
    assert_null(mem_grow(a, &cap, SIZE_MAX / sizeof *a + 1, sizeof *a, 4));
    assert_int_equal(cap, 4);
    assert_null(mem_grow(a, &cap, SIZE_MAX, 1, 4));
    assert_int_equal(cap, 4);
    assert_int_equal(a[3], 9); /* still the caller's */
    free(a);
}

static void test_big_blocks(void **state)
{
    (void)state;
    unsigned char *small = mem_big(100);
    assert_non_null(small);
    small[99] = 1;
    free(small);
    unsigned char *z = mem_big(0); /* like malloc(0): something free() takes */
    assert_non_null(z);
    free(z);
    size_t n = MEM_BIG_MIN + 12345; /* not a multiple of the huge page */
    unsigned char *big = mem_big(n);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % ((uintptr_t)2 << 20), 0);
    for (size_t i = 0; i < n; i += 4096)
        big[i] = (unsigned char)(i >> 12);
    big[n - 1] = 0xA5;
    unsigned char *grown = realloc(big, 2 * n);
    assert_non_null(grown);
    assert_int_equal(grown[n - 1], 0xA5);
    assert_int_equal(grown[4096 * 700], (unsigned char)700);
    grown[2 * n - 1] = 1;
    free(grown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_overflow_refused),
        cmocka_unit_test(test_big_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
