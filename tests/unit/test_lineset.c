/* Unit tests for lineset: numbering in first-seen order, one number per (code, text) pair
 * however often and in whatever order it comes back, through the table's growth; the
 * limits refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "payrun/lineset.h"

static void test_numbers_in_first_seen_order(void **state)
{
    (void)state;
    lineset *s = NULL;
    assert_int_equal(lineset_new(&s), RL_OK);
    uint32_t idx;
    bool added;
    assert_int_equal(lineset_intern(s, "GROSS_SALARY", "monthly salary", &idx, &added), RL_OK);
    assert_true(added);
    assert_int_equal(idx, 0);
    assert_int_equal(lineset_intern(s, "TAX", "tax table 33 column 1", &idx, &added), RL_OK);
    assert_true(added);
    assert_int_equal(idx, 1);
    assert_int_equal(lineset_intern(s, "GROSS_SALARY", "monthly salary", &idx, &added), RL_OK);
    assert_false(added);
    assert_int_equal(idx, 0);
    /* Code and text are a pair: the same text under another code, or the boundary moved,
     * is another pair. */
    assert_int_equal(lineset_intern(s, "TAX", "monthly salary", &idx, &added), RL_OK);
    assert_true(added);
    assert_int_equal(idx, 2);
    assert_int_equal(lineset_intern(s, "TA", "Xmonthly salary", &idx, &added), RL_OK);
    assert_true(added);
    assert_int_equal(idx, 3);
    assert_int_equal(lineset_intern(s, "DED_UNION", "", &idx, &added), RL_OK);
    assert_int_equal(idx, 4);
    assert_string_equal(lineset_code(s, 1), "TAX");
    assert_string_equal(lineset_text(s, 1), "tax table 33 column 1");
    assert_string_equal(lineset_text(s, 4), "");
    assert_null(lineset_code(s, 5));
    assert_null(lineset_text(s, 5));
    assert_int_equal(lineset_count(s), 5);
    lineset_free(s);
}

static void test_growth_keeps_every_number(void **state)
{
    (void)state;
    lineset *s = NULL;
    assert_int_equal(lineset_new(&s), RL_OK);
    char text[80];
    uint32_t idx;
    bool added;
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < 5000; i++) {
            snprintf(text, sizeof text, "tax table %u column %u", 29 + i / 6, 1 + i % 6);
            assert_int_equal(lineset_intern(s, i % 2 ? "TAX" : "GROSS_X", text, &idx, &added),
                             RL_OK);
            assert_int_equal(idx, i);
            assert_int_equal(added, round == 0);
        }
    }
    assert_int_equal(lineset_count(s), 5000);
    snprintf(text, sizeof text, "tax table %u column %u", 29 + 4999 / 6, 1 + 4999 % 6);
    assert_string_equal(lineset_text(s, 4999), text);
    lineset_free(s);
}

static void test_limits(void **state)
{
    (void)state;
    lineset *s = NULL;
    assert_int_equal(lineset_new(&s), RL_OK);
    char code[LINESET_CODE_MAX + 2], text[LINESET_TEXT_MAX + 2];
    memset(code, 'C', sizeof code - 1);
    code[sizeof code - 1] = '\0';
    memset(text, 't', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    uint32_t idx;
    bool added;
    assert_int_equal(lineset_intern(s, code, "x", &idx, &added), RL_EDATA);
    assert_int_equal(lineset_intern(s, "TAX", text, &idx, &added), RL_EDATA);
    assert_int_equal(lineset_count(s), 0);
    code[LINESET_CODE_MAX] = '\0';
    text[LINESET_TEXT_MAX] = '\0';
    assert_int_equal(lineset_intern(s, code, text, &idx, &added), RL_OK);
    assert_string_equal(lineset_code(s, idx), code);
    assert_string_equal(lineset_text(s, idx), text);
    lineset_free(s);
    lineset_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_in_first_seen_order),
        cmocka_unit_test(test_growth_keeps_every_number),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
