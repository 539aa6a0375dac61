/* Unit tests for the error convention: messages, wrapping and exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/err.h"

static void test_set_and_wrap(void **state)
{
    (void)state;
    assert_int_equal(err_set(RL_EDATA, "line %d: field %s", 7, "net_ore"), RL_EDATA);
    assert_string_equal(err_msg(), "line 7: field net_ore");
    assert_int_equal(err_wrap(RL_EDATA, "%s ", "employees.csv"), RL_EDATA);
    assert_string_equal(err_msg(), "employees.csv line 7: field net_ore");
    err_clear();
    assert_string_equal(err_msg(), "");
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(err_exit_code(RL_OK), 0);
    assert_int_equal(err_exit_code(RL_EDATA), 1);
    assert_int_equal(err_exit_code(RL_EIO), 1);
    assert_int_equal(err_exit_code(RL_EUSAGE), 2);
    assert_int_equal(err_exit_code(RL_EINTEGRITY), 3);
    assert_int_equal(err_exit_code(RL_EAUTH), 3);
}

static void test_long_message_truncated_not_overflowed(void **state)
{
    (void)state;
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_set(RL_EDATA, "%s", big);
    assert_true(strlen(err_msg()) < 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_wrap),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_long_message_truncated_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
