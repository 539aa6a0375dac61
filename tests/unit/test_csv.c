/* Unit tests for the strict CSV reader: quoting, line ends, UTF-8 and every malformation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "snapshot/csv.h"

static csv_reader *open_text(const char *text)
{
    csv_reader *r = NULL;
    assert_int_equal(csv_open(text, strlen(text), "t.csv", &r), RL_OK);
    return r;
}

static void test_fields_quotes_and_line_ends(void **state)
{
    (void)state;
    const char *text = "a,b,c\r\n1,\"x, \"\"y\"\"\",\r\n\"multi\nline\",2,3\n";
    csv_reader *r = open_text(text);
    csv_row row;
    assert_int_equal(csv_next(r, &row), 1);
    assert_int_equal(row.n, 3);
    assert_string_equal(row.f[2], "c");
    assert_int_equal(csv_next(r, &row), 1);
    assert_int_equal(row.line, 2);
    assert_string_equal(row.f[1], "x, \"y\"");
    assert_int_equal(row.len[2], 0);
    assert_int_equal(csv_next(r, &row), 1);
    assert_int_equal(row.line, 3);
    assert_string_equal(row.f[0], "multi\nline");
    assert_int_equal(csv_next(r, &row), 0);
    csv_close(r);
}

static void test_header_checked(void **state)
{
    (void)state;
    static const char *const cols[] = {"a", "b"};
    csv_reader *r = open_text("\xef\xbb\xbf" "a,b\n1,2\n");
    assert_int_equal(csv_expect_header(r, cols, 2), RL_OK);
    csv_close(r);
    r = open_text("a,c\n");
    assert_int_equal(csv_expect_header(r, cols, 2), RL_EDATA);
    assert_non_null(strstr(err_msg(), "t.csv line 1: header must be exactly: a,b"));
    csv_close(r);
    r = open_text("");
    assert_int_equal(csv_expect_header(r, cols, 2), RL_EDATA);
    csv_close(r);
}

static void expect_bad(const char *text, const char *msg)
{
    csv_reader *r = NULL;
    int rc = csv_open(text, strlen(text), "t.csv", &r);
    csv_row row;
    while (rc == RL_OK && (rc = csv_next(r, &row)) == 1)
        rc = RL_OK;
    csv_close(r);
    assert_int_equal(rc, RL_EDATA);
    if (strstr(err_msg(), msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, err_msg());
}

static void test_malformed(void **state)
{
    (void)state;
    expect_bad("a\n\"open\n", "t.csv line 2: unterminated quoted field");
    expect_bad("a\n\"x\"y\n", "line 2: text after a closing quote");
    expect_bad("a\nx\"y\n", "line 2: quote inside an unquoted field");
    expect_bad("a\nx\ry\n", "line 2: bare carriage return");
    expect_bad("a\nb\n\xc3\x28\n", "t.csv line 3: not valid UTF-8");
    expect_bad("a\n\xe0\x80\xaf\n", "not valid UTF-8");      /* overlong */
    expect_bad("a\n\xed\xa0\x80\n", "not valid UTF-8");      /* surrogate */
    expect_bad("a\n\xf4\x90\x80\x80\n", "not valid UTF-8");  /* > U+10FFFF */
    expect_bad("a\n\xc3", "not valid UTF-8");                /* cut short */
    char many[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "x,");
    strcat(many, "x\n");
    expect_bad(many, "more than 32 fields");
    const char nul[] = {'a', '\n', 'b', '\0', 'c', '\n'};
    csv_reader *r = NULL;
    csv_row row;
    assert_int_equal(csv_open(nul, sizeof nul, "t.csv", &r), RL_OK);
    assert_int_equal(csv_next(r, &row), 1);
    assert_int_equal(csv_next(r, &row), RL_EDATA);
    assert_non_null(strstr(err_msg(), "NUL byte"));
    csv_close(r);
}

static void test_utf8_accepts_swedish(void **state)
{
    (void)state;
    const char *s = "Åsa Öberg-Ängström, 𝄞";
    assert_true(csv_utf8_valid(s, strlen(s)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_quotes_and_line_ends),
        cmocka_unit_test(test_header_checked),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_utf8_accepts_swedish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
