/* Unit tests for mem_grow: doubling from the first size, enough room left alone, a need
 * beyond one doubling, and sizes that would overflow refused with the array untouched. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_overflow_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
