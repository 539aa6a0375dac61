/* Unit tests for what the terminal interface's checks rest on without a terminal: the
 * registry's per-field check (the same rules as registering, one field alone) and field
 * list, and the interface's string table (both languages complete, library messages
 * translated without being cut short). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "registry/registry.h"
#include "ui/ui_text.h"

static void test_check_field(void **state)
{
    (void)state;
    char msg[300];
    assert_int_equal(registry_check_field("hire", "personnummer", "19900315-1231", msg,
                                          sizeof msg), RL_OK);
    assert_string_equal(msg, "");
    assert_int_equal(registry_check_field("hire", "personnummer", "19900315-1232", msg,
                                          sizeof msg), RL_EDATA);
    assert_string_equal(msg, "check digit mismatch"); /* no "field ...: " prefix */
    assert_int_equal(registry_check_field("hire", "start_date", "2026-02-30", msg, sizeof msg),
                     RL_EDATA);
    assert_non_null(strstr(msg, "YYYY-MM-DD"));
    assert_int_equal(registry_check_field("hire", "extent_pct", "0", msg, sizeof msg), RL_EDATA);
    assert_int_equal(registry_check_field("one_off", "amount_ore", "0", msg, sizeof msg),
                     RL_EDATA);
    assert_string_equal(msg, "must not be zero");
    assert_int_equal(registry_check_field("one_off", "amount_ore", "-500", msg, sizeof msg),
                     RL_OK);
    assert_int_equal(registry_check_field("termination", "reason", "bored", msg, sizeof msg),
                     RL_EDATA);
    assert_int_equal(registry_check_field("hire", "pay_type", "weekly", msg, sizeof msg),
                     RL_EDATA);
    /* Empty: absent; an error only for a required field. */
    assert_int_equal(registry_check_field("hire", "end_date", "", msg, sizeof msg), RL_OK);
    assert_int_equal(registry_check_field("hire", "start_date", "", msg, sizeof msg), RL_EDATA);
    assert_non_null(strstr(msg, "required"));
    /* Invalid UTF-8 and control characters are refused as on the command line. */
    assert_int_equal(registry_check_field("hire", "given_name", "Ann\xff", msg, sizeof msg),
                     RL_EDATA);
    assert_int_equal(registry_check_field("hire", "given_name", "A\tB", msg, sizeof msg),
                     RL_EDATA);
    /* Not a field of the type, or no such type. */
    assert_int_equal(registry_check_field("hire", "last_day", "2026-01-01", msg, sizeof msg),
                     RL_EUSAGE);
    assert_int_equal(registry_check_field("promotion", "x", "1", msg, sizeof msg), RL_EUSAGE);
    /* A small buffer is filled, never overrun. */
    char tiny[8];
    assert_int_equal(registry_check_field("hire", "start_date", "x", tiny, sizeof tiny),
                     RL_EDATA);
    assert_int_equal(strlen(tiny), 7);
}

static void test_type_fields(void **state)
{
    (void)state;
    const char *names[32];
    int req[32];
    size_t n = registry_type_fields("hire", names, req, 32);
    assert_int_equal(n, 18);
    assert_string_equal(names[0], "personnummer");
    assert_int_equal(req[0], 1);
    assert_int_equal(req[1], 0); /* given_name: only for a person not in the snapshot */
    assert_int_equal(registry_type_fields("termination", names, NULL, 32), 3);
    assert_int_equal(registry_type_fields("hire", names, req, 2), 2);
    assert_int_equal(registry_type_fields("nope", names, req, 32), 0);
    /* Every type the registry knows has a label in both languages. */
    for (const char *const *t = registry_types(); *t; t++) {
        ui_text_lang("sv");
        assert_string_not_equal(ui_type_label(*t), *t);
        n = registry_type_fields(*t, names, req, 32);
        for (size_t i = 0; i < n; i++) {
            ui_text_lang("sv");
            const char *sv = ui_field_label(names[i]);
            assert_string_not_equal(ui_field_hint(names[i]), "");
            ui_text_lang("en");
            assert_true(sv != names[i] || strcmp(names[i], "iban") == 0 ||
                        strcmp(names[i], "personnummer") == 0);
            assert_string_not_equal(ui_field_hint(names[i]), "");
        }
    }
}

static void test_text(void **state)
{
    (void)state;
    assert_int_equal(ui_text_lang("fi"), -1);
    assert_int_equal(ui_text_lang("sv"), 0);
    assert_string_equal(ui_t(T_LOGIN), "Logga in");
    for (int i = 0; i < T__COUNT; i++)
        assert_true(ui_t((ui_text_id)i)[0] != '\0');
    char out[200];
    assert_string_equal(ui_text_translate("check digit mismatch", out, sizeof out),
                        "kontrollsiffran stämmer inte");
    assert_string_equal(ui_text_translate("must be between 29 and 42", out, sizeof out),
                        "måste vara mellan 29 och 42");
    /* Unknown text stays as it is; a translation that would not fit keeps the English. */
    assert_string_equal(ui_text_translate("token unplugged", out, sizeof out),
                        "token unplugged");
    char small[24];
    assert_string_equal(ui_text_translate("check digit mismatch", small, sizeof small),
                        "check digit mismatch");
    assert_int_equal(ui_text_lang("en"), 0);
    assert_string_equal(ui_t(T_LOGIN), "Log in");
    assert_string_equal(ui_text_translate("check digit mismatch", out, sizeof out),
                        "check digit mismatch");
    ui_text_lang("sv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_field),
        cmocka_unit_test(test_type_fields),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
