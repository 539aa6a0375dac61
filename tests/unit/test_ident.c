/* Unit tests for ident: one accepted and one rejected case for every rule (personnummer
 * forms, samordningsnummer, dates, each Bankgirot type/comment, Swedbank's 5-digit clearing,
 * Nordea personkonto, Plusgirot, IBAN, orgnr), the messages (field named, number never
 * echoed), and the built-in clearing table against app/data/clearing-ranges.csv. Vectors
 * were checked against npm kontonummer 6.0.1, python3-stdnum 1.18 and npm personnummer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ident/ident.h"

#define TODAY 20261124u

/* ---- helpers ----------------------------------------------------------------------- */

/* The message names the field and does not contain the number's digits (a run of 6 or
 * more of the input's digits would identify the person or account). */
static void assert_msg(const char *field, const char *input)
{
    const char *m = err_msg();
    if (strncmp(m, field, strlen(field)) != 0)
        fail_msg("message '%s' does not start with '%s'", m, field);
    char digits[64];
    size_t n = 0;
    for (size_t i = 0; input[i] && n < sizeof digits - 1; i++)
        if (input[i] >= '0' && input[i] <= '9')
            digits[n++] = input[i];
    digits[n] = '\0';
    for (size_t i = 0; n >= 6 && i + 6 <= n; i++) {
        char run[7];
        memcpy(run, digits + i, 6);
        run[6] = '\0';
        if (strstr(m, run))
            fail_msg("message '%s' echoes the number", m);
    }
}

static void pnr_ok(const char *text, const char *want, ident_kind kind)
{
    ident_pnr p;
    err_clear();
    int rc = ident_pnr_parse(text, TODAY, &p);
    if (rc != 0)
        fail_msg("'%s' rejected: %s", text, err_msg());
    assert_string_equal(p.digits, want);
    assert_int_equal(p.kind, kind);
}

static void pnr_bad(const char *text, const char *msg_part)
{
    ident_pnr p;
    memset(&p, 'x', sizeof p);
    err_clear();
    int rc = ident_pnr_parse(text, TODAY, &p);
    if (rc != RL_EDATA)
        fail_msg("'%s' accepted (or wrong code %d)", text, rc);
    assert_string_equal(p.digits, ""); /* out is cleared on failure */
    if (!strstr(err_msg(), msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", text, err_msg(), msg_part);
    const char *field = strstr(err_msg(), "samordningsnummer") == err_msg()
                            ? "samordningsnummer"
                            : "personnummer";
    assert_msg(field, text);
}

static ident_account acct_ok(const char *clearing, const char *account)
{
    ident_account a;
    err_clear();
    int rc = ident_account_parse(clearing, account, &a);
    if (rc != 0)
        fail_msg("%s / %s rejected: %s", clearing, account, err_msg());
    return a;
}

static void acct_bad(const char *clearing, const char *account, const char *msg_part)
{
    ident_account a;
    memset(&a, 'x', sizeof a);
    err_clear();
    int rc = ident_account_parse(clearing, account, &a);
    if (rc != RL_EDATA)
        fail_msg("%s / %s accepted (or wrong code %d)", clearing, account, rc);
    assert_string_equal(a.account, "");
    if (!strstr(err_msg(), msg_part))
        fail_msg("%s / %s: message '%s' lacks '%s'", clearing, account, err_msg(), msg_part);
    if (strncmp(err_msg(), "clearing", 8) != 0)
        assert_msg("account", account);
}

/* ---- Luhn and dates ---------------------------------------------------------------- */

static void test_luhn(void **state)
{
    (void)state;
    assert_int_equal(ident_luhn_digit("811228987", 9), 4);
    assert_true(ident_luhn_ok("8112289874", 10));
    assert_false(ident_luhn_ok("8112289875", 10));
    assert_int_equal(ident_luhn_digit("8327", 4), 9); /* Swedbank 8327-9 */
    assert_false(ident_luhn_ok("", 0));
    assert_false(ident_luhn_ok("12a4", 4));
    assert_int_equal(ident_luhn_digit("1x", 2), -1);
}

static void test_dates(void **state)
{
    (void)state;
    assert_true(ident_date_valid(2000, 2, 29));  /* divisible by 400 */
    assert_false(ident_date_valid(1900, 2, 29)); /* divisible by 100 only */
    assert_true(ident_date_valid(2024, 2, 29));
    assert_false(ident_date_valid(1999, 2, 29));
    assert_false(ident_date_valid(2024, 4, 31));
    assert_false(ident_date_valid(2024, 13, 1));
    assert_false(ident_date_valid(2024, 0, 1));
    assert_false(ident_date_valid(2024, 1, 0));
    assert_false(ident_date_valid(0, 1, 1));
    assert_true(ident_date_valid(2024, 12, 31));
}

/* ---- personnummer ------------------------------------------------------------------ */

static void test_pnr_forms(void **state)
{
    (void)state;
    pnr_ok("19811228-9874", "198112289874", IDENT_PERSONNUMMER);
    pnr_ok("198112289874", "198112289874", IDENT_PERSONNUMMER);
    pnr_ok("811228-9874", "198112289874", IDENT_PERSONNUMMER);
    pnr_ok("8112289874", "198112289874", IDENT_PERSONNUMMER);
    pnr_ok("  811228-9874\n", "198112289874", IDENT_PERSONNUMMER); /* cell padding trimmed */
    pnr_bad("811228 9874", "unexpected character");
    pnr_bad("8112-289874", "unexpected character");
    pnr_bad("811228--9874", "unexpected character");
}

static void test_pnr_century(void **state)
{
    (void)state;
    /* 10 digits: the latest century that puts the date on or before 2026-11-24. */
    pnr_ok("121212-1212", "201212121212", IDENT_PERSONNUMMER);
    pnr_ok("261124-1239", "202611241239", IDENT_PERSONNUMMER); /* born today */
    pnr_ok("261125-1238", "192611251238", IDENT_PERSONNUMMER); /* tomorrow: 100 years ago */
    /* '+': 100 years or older. */
    pnr_ok("121212+1212", "191212121212", IDENT_PERSONNUMMER);
    pnr_ok("811228+9874", "188112289874", IDENT_PERSONNUMMER);
    /* '+' with an explicit century is contradictory input. */
    pnr_bad("19121212+1212", "'+' is only used with the 10-digit form");
    /* No reference date, no century. */
    ident_pnr p;
    assert_int_equal(ident_pnr_parse("121212-1212", 0, &p), RL_EDATA);
    assert_int_equal(ident_pnr_parse("19121212-1212", 0, &p), 0);
}

static void test_pnr_check_digit(void **state)
{
    (void)state;
    pnr_ok("19900101-0017", "199001010017", IDENT_PERSONNUMMER);
    pnr_bad("19900101-0018", "personnummer: check digit mismatch");
    pnr_bad("9001010018", "personnummer: check digit mismatch");
}

static void test_pnr_dates(void **state)
{
    (void)state;
    pnr_bad("19990229-0007", "personnummer: no such date"); /* 1999 is not a leap year */
    pnr_ok("20000229-0021", "200002290021", IDENT_PERSONNUMMER); /* 2000 is */
    pnr_ok("20240229-0015", "202402290015", IDENT_PERSONNUMMER);
    pnr_bad("19000229-0005", "no such date");  /* 1900 is not */
    pnr_bad("000229+0005", "no such date");    /* '+' makes it 1900 */
    pnr_ok("000229-0021", "200002290021", IDENT_PERSONNUMMER);
    pnr_bad("19901301-0005", "no such date");
    pnr_bad("19900100-0000", "no such date");
    pnr_bad("19900431-0000", "no such date");
    pnr_bad("00000101-0008", "no such date"); /* there is no year 0 */
}

static void test_pnr_birth_number(void **state)
{
    (void)state;
    pnr_ok("19900101-0017", "199001010017", IDENT_PERSONNUMMER);
    pnr_bad("19900101-0009", "birth number 000"); /* Luhn-valid, but 000 is never issued */
}

static void test_samordningsnummer(void **state)
{
    (void)state;
    /* Skatteverket's example 701063-2391: day 63 = the 3rd + 60. */
    pnr_ok("701063-2391", "197010632391", IDENT_SAMORDNINGSNUMMER);
    pnr_ok("19701063-2391", "197010632391", IDENT_SAMORDNINGSNUMMER);
    pnr_bad("701063-2392", "samordningsnummer: check digit mismatch");
    pnr_bad("19700192-0011", "samordningsnummer: no such date"); /* 92 - 60 = 32 */
    pnr_bad("19700160-0019", "personnummer: no such date");      /* day 60: neither kind */
    pnr_ok("20000289-0010", "200002890010", IDENT_SAMORDNINGSNUMMER); /* 29 Feb 2000 */
    pnr_bad("19990289-0012", "no such date");
}

static void test_pnr_garbage(void **state)
{
    (void)state;
    pnr_bad("", "personnummer: empty");
    pnr_bad("   ", "personnummer: empty");
    pnr_bad("19811228-98740", "too long");
    pnr_bad("1981122898741234567890", "too long");
    pnr_bad("811228-987", "unexpected character"); /* separator misplaced */
    pnr_bad("811228987", "wrong length");
    pnr_bad("81122898745", "wrong length");
    pnr_bad("hello world", "unexpected character");
    pnr_bad("81122x-9874", "unexpected character");
    pnr_bad("811228-T874", "unexpected character"); /* interim numbers are not accepted */
    ident_pnr p;
    assert_int_equal(ident_pnr_parse(NULL, TODAY, &p), RL_EDATA);
    assert_int_equal(ident_pnr_parse("8112289874", TODAY, NULL), RL_EDATA);
}

/* ---- organisationsnummer ----------------------------------------------------------- */

static void test_orgnr(void **state)
{
    (void)state;
    char o[11];
    assert_int_equal(ident_orgnr_parse("556036-0793", o), 0);
    assert_string_equal(o, "5560360793");
    assert_int_equal(ident_orgnr_parse("5560360793", o), 0);
    assert_int_equal(ident_orgnr_parse("16556036-0793", o), 0);
    assert_string_equal(o, "5560360793");
    assert_int_equal(ident_orgnr_parse("165560360793", o), 0);
    assert_int_equal(ident_orgnr_parse("212000-0142", o), 0); /* a municipality */

    assert_int_equal(ident_orgnr_parse("556036-0794", o), RL_EDATA);
    assert_string_equal(err_msg(), "orgnr: check digit mismatch");
    assert_string_equal(o, "");
    assert_int_equal(ident_orgnr_parse("811228-9874", o), RL_EDATA); /* a personnummer */
    assert_non_null(strstr(err_msg(), "third digit"));
    assert_int_equal(ident_orgnr_parse("55603-60793", o), RL_EDATA);
    assert_int_equal(ident_orgnr_parse("17556036-0793", o), RL_EDATA);
    assert_int_equal(ident_orgnr_parse("556036079", o), RL_EDATA);
    assert_int_equal(ident_orgnr_parse("", o), RL_EDATA);
    assert_int_equal(ident_orgnr_parse("55603607931", o), RL_EDATA);
    assert_int_equal(ident_orgnr_parse("AB6036-0793", o), RL_EDATA);
}

/* ---- bank accounts: one good and one bad case per Bankgirot rule ----------------- */

static void test_type1_comment1(void **state)
{
    (void)state;
    ident_account a = acct_ok("5000", "1234560");
    assert_string_equal(a.bank, "SEB");
    assert_int_equal(a.type, 1);
    assert_int_equal(a.comment, 1);
    assert_false(a.warning);
    a = acct_ok("1100", "123 45 61"); /* separators ignored */
    assert_string_equal(a.account, "1234561");
    a = acct_ok("7000", "1234560");
    assert_string_equal(a.bank, "Swedbank");
    acct_bad("5000", "1234561", "account: check digit mismatch");
    acct_bad("5000", "123456", "account: wrong length for SEB (7 digits)");
    acct_bad("5000", "12345600", "account: wrong length for SEB (7 digits)");
}

static void test_type1_comment2(void **state)
{
    (void)state;
    ident_account a = acct_ok("4000", "1234567");
    assert_string_equal(a.bank, "Nordea");
    assert_int_equal(a.comment, 2);
    a = acct_ok("9020", "1234566");
    assert_int_equal(a.comment, 2);
    a = acct_ok("2300", "1234561");
    assert_string_equal(a.bank, "Ålandsbanken");
    acct_bad("4000", "1234568", "account: check digit mismatch");
    acct_bad("9020", "1234567", "account: check digit mismatch");
}

static void test_overlap_3400(void **state)
{
    (void)state;
    /* 3400-3409: only Länsförsäkringar's row matches. 3410-3499: both match, the later
     * starting (Nordea, Bankgirot's boundary) wins. Same check either way. */
    ident_account a = acct_ok("3400", "1234564");
    assert_string_equal(a.bank, "Länsförsäkringar Bank");
    a = acct_ok("3410", "1234566");
    assert_string_equal(a.bank, "Nordea");
    assert_int_equal(a.type, 1);
    assert_int_equal(a.comment, 1);
    a = acct_ok("3499", "7654329");
    assert_string_equal(a.bank, "Nordea");
    a = acct_ok("3409", "7654322");
    assert_string_equal(a.bank, "Länsförsäkringar Bank");
    acct_bad("3410", "1234567", "account: check digit mismatch");
}

static void test_type2_comment1(void **state)
{
    (void)state;
    ident_account a = acct_ok("9180", "1234567897");
    assert_string_equal(a.bank, "Danske Bank");
    assert_int_equal(a.type, 2);
    assert_int_equal(a.comment, 1);
    acct_ok("9300", "1234567897");
    acct_ok("9570", "9876543217");
    acct_ok("9890", "1122334459");
    acct_ok("3782", "1234567897");
    acct_bad("9180", "1234567898", "account: check digit mismatch");
    acct_bad("9180", "123456789", "account: wrong length for Danske Bank (10 digits)");
}

static void test_nordea_personkonto(void **state)
{
    (void)state;
    ident_account a = acct_ok("3300", "811228-9874");
    assert_string_equal(a.account, "8112289874");
    assert_string_equal(a.bank, "Nordea");
    acct_ok("3300", "7010632391"); /* samordningsnummer */
    acct_ok("3300", "0002290021"); /* 29 Feb: leap in 2000 */
    acct_bad("3300", "8112289875", "check digit mismatch");
    /* Luhn-valid but not a date: kontonummer accepts this, a personkonto cannot be it. */
    acct_bad("3300", "1234567897", "no such date");
    acct_bad("3300", "9001010009", "birth number 000");
    acct_bad("3300", "198112289874", "wrong length for Nordea (10 digits)");
}

static void test_handelsbanken(void **state)
{
    (void)state;
    ident_account a = acct_ok("6000", "123456789");
    assert_string_equal(a.bank, "Handelsbanken");
    assert_int_equal(a.comment, 2);
    a = acct_ok("6000", "12345679"); /* 8 digits: a leading zero dropped */
    assert_string_equal(a.account, "12345679");
    acct_ok("6789", "123 456 789");
    acct_bad("6000", "123456788", "account: check digit mismatch");
    acct_bad("6000", "1234567", "account: wrong length for Handelsbanken (8-9 digits)");
    acct_bad("6000", "1234567890", "account: wrong length for Handelsbanken (8-9 digits)");
}

static void test_swedbank_8xxx(void **state)
{
    (void)state;
    ident_account a = acct_ok("8327-9", "123 456 789-7");
    assert_string_equal(a.clearing, "8327"); /* the clearing's check digit is dropped */
    assert_string_equal(a.account, "1234567897");
    assert_string_equal(a.bank, "Swedbank");
    assert_int_equal(a.type, 2);
    assert_int_equal(a.comment, 3);
    assert_false(a.warning);
    a = acct_ok("8327", "1234567897"); /* the 4-digit form is fine too */
    assert_false(a.warning);
    a = acct_ok("8327", "91234567897"); /* 5th clearing digit glued to the account */
    assert_string_equal(a.account, "1234567897");
    a = acct_ok("83279", "0123456782");
    assert_false(a.warning);

    /* Bad 5th digit: the clearing's own Luhn check fails. */
    acct_bad("8327-8", "1234567897", "clearing: Swedbank check digit");
    acct_bad("8327", "81234567897", "wrong length for Swedbank");
    acct_bad("83279", "91234567897", "wrong length for Swedbank");
    acct_bad("5000-1", "1234560", "clearing: 5 digits are only used for Swedbank");
    acct_bad("8327", "123456789", "wrong length for Swedbank (10 digits; pad");

    /* An account failing the Luhn check is an old account without a check digit or a
     * typo: accepted, flagged (Bankgirot; SOURCES.txt). */
    a = acct_ok("8327-9", "1234567898");
    assert_true(a.warning);
}

static void test_plusgirot(void **state)
{
    (void)state;
    ident_account a = acct_ok("9960", "1234567-4");
    assert_string_equal(a.bank, "Nordea Plusgirot");
    assert_string_equal(a.account, "12345674");
    assert_false(a.warning);
    acct_ok("9500", "12344");
    acct_ok("9500", "18"); /* shortest: 2 digits */
    /* No warning escape for Plusgirot: its numbers always carry a check digit. */
    acct_bad("9960", "12345675", "account: check digit mismatch");
    acct_bad("9500", "1", "wrong length for Nordea Plusgirot (2-8 digits)");
    acct_bad("9500", "123456789", "wrong length for Nordea Plusgirot (2-8 digits)");
}

static void test_account_garbage(void **state)
{
    (void)state;
    acct_bad("9999", "1234567", "clearing: 9999 is not a known clearing number");
    acct_bad("0100", "1234567", "clearing: 0100 is not a known clearing number");
    acct_bad("9400", "1234567", "not a known clearing number"); /* Forex: gone in 2024 */
    acct_bad("500", "1234560", "clearing: wrong length");
    acct_bad("500000", "1234560", "clearing: too long");
    acct_bad("", "1234560", "clearing: wrong length");
    acct_bad("50x0", "1234560", "clearing: unexpected character");
    acct_bad("5000", "", "account: empty");
    acct_bad("5000", "123456O", "account: unexpected character");
    acct_bad("5000", "0000000", "account: all zeros");
    acct_bad("6000", "1234567890123456789", "account: too long");
    ident_account a;
    assert_int_equal(ident_account_parse(NULL, "1", &a), RL_EDATA);
    assert_int_equal(ident_account_parse("5000", NULL, &a), RL_EDATA);
}

/* ---- IBAN -------------------------------------------------------------------------- */

static void iban_ok(const char *text, const char *want)
{
    char o[35];
    if (ident_iban_parse(text, o) != 0)
        fail_msg("'%s' rejected: %s", text, err_msg());
    assert_string_equal(o, want);
}

static void iban_bad(const char *text, const char *msg_part)
{
    char o[35];
    memset(o, 'x', sizeof o);
    if (ident_iban_parse(text, o) != RL_EDATA)
        fail_msg("'%s' accepted", text);
    assert_string_equal(o, "");
    if (!strstr(err_msg(), msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", text, err_msg(), msg_part);
    assert_msg("iban", text);
}

static void test_iban(void **state)
{
    (void)state;
    iban_ok("SE45 5000 0000 0583 9825 7466", "SE4550000000058398257466");
    iban_ok("se4550000000058398257466", "SE4550000000058398257466");
    iban_ok("DE89370400440532013000", "DE89370400440532013000");
    iban_ok("NO9386011117947", "NO9386011117947");
    iban_ok("MT84MALT011000012345MTLCAST001S", "MT84MALT011000012345MTLCAST001S");
    iban_ok("GB29 NWBK 6016 1331 9268 19", "GB29NWBK60161331926819");
    iban_ok("FR7630006000011234567890189", "FR7630006000011234567890189");

    iban_bad("SE45 5000 0000 0583 9825 7467", "iban: check digits mismatch");
    iban_bad("SE54 5000 0000 0583 9825 7466", "iban: check digits mismatch");
    iban_bad("SE45 5000 0000 0583 9825 746", "iban: wrong length for SE (24 characters)");
    iban_bad("DE8937040044053201300", "iban: wrong length for DE (22 characters)");
    iban_bad("GB29 1WBK 6016 1331 9268 19", "iban: wrong format for GB");
    iban_bad("SE45-5000-0000-0583-9825-7466", "iban: unexpected character");
    iban_bad("", "iban: empty");
    iban_bad("1E4550000000058398257466", "country code");
    iban_bad("SEX550000000058398257466", "check digits");
    iban_bad("SE455000000005839825746612345678901", "iban: too long");
    iban_bad("XA12345", "too short");
}

static void test_iban_check_digit_aliases(void **state)
{
    (void)state;
    /* Check digits 99 are congruent to 02 mod 97, so a valid IBAN with 02 has a twin with 99
     * that passes the bare mod-97 test; ISO 13616 allows only 02-98. */
    char o[35];
    assert_int_equal(ident_iban_parse("GB02BARC20000055700057", o), 0);
    assert_int_equal(ident_iban_parse("GB99BARC20000055700057", o), RL_EDATA);
}

/* ---- the clearing table equals app/data/clearing-ranges.csv ------------------------ */

/* Parses one CSV row: from,to,"bank",type,comment,len (len "7" or "10-11"). */
static int parse_csv_row(char *line, int *from, int *to, char *bank, size_t bank_cap,
                         int *type, int *comment, int *lmin, int *lmax)
{
    char *q1 = strchr(line, '"');
    char *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
    if (!q1 || !q2 || (size_t)(q2 - q1 - 1) >= bank_cap)
        return -1;
    memcpy(bank, q1 + 1, (size_t)(q2 - q1 - 1));
    bank[q2 - q1 - 1] = '\0';
    if (sscanf(line, "%d,%d,", from, to) != 2)
        return -1;
    if (sscanf(q2 + 1, ",%d,%d,%d-%d", type, comment, lmin, lmax) == 4)
        return 0;
    if (sscanf(q2 + 1, ",%d,%d,%d", type, comment, lmin) == 3) {
        *lmax = *lmin;
        return 0;
    }
    return -1;
}

static void test_table_matches_csv(void **state)
{
    (void)state;
    const char *top = getenv("TOP");
    char path[4096];
    snprintf(path, sizeof path, "%s/app/data/clearing-ranges.csv", top && *top ? top : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (run from the repository root or set TOP)", path);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(strncmp(line, "clearing_from,clearing_to,bank,type,comment,account_length",
                             58),
                     0);
    size_t i = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        int from, to, type, comment, lmin, lmax;
        char bank[64];
        if (parse_csv_row(line, &from, &to, bank, sizeof bank, &type, &comment, &lmin, &lmax))
            fail_msg("bad CSV row %zu: %s", i + 2, line);
        if (i >= ident_clearing_count())
            fail_msg("CSV has more rows than the table (row %zu)", i + 2);
        int cfrom, cto, ctype, ccomment, clmin, clmax;
        const char *cbank;
        ident_clearing_row(i, &cfrom, &cto, &cbank, &ctype, &ccomment, &clmin, &clmax);
        assert_int_equal(cfrom, from);
        assert_int_equal(cto, to);
        assert_string_equal(cbank, bank);
        assert_int_equal(ctype, type);
        assert_int_equal(ccomment, comment);
        assert_int_equal(clmin, lmin);
        assert_int_equal(clmax, lmax);
        i++;
    }
    fclose(f);
    assert_int_equal(i, ident_clearing_count());
}

/* Every row's rule is one the parser implements, so no row silently accepts anything. */
static void test_table_rules_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < ident_clearing_count(); i++) {
        int from, to, type, comment, lmin, lmax;
        const char *bank;
        ident_clearing_row(i, &from, &to, &bank, &type, &comment, &lmin, &lmax);
        assert_true(from <= to);
        assert_true(strlen(bank) < sizeof((ident_account *)0)->bank);
        if (type == 1) {
            assert_true(comment == 1 || comment == 2);
            assert_int_equal(lmin, 7);
            assert_int_equal(lmax, 7);
        } else {
            assert_int_equal(type, 2);
            assert_true(comment >= 1 && comment <= 3);
            assert_true(lmin >= 2 && lmin <= lmax && lmax <= 11);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_pnr_forms),
        cmocka_unit_test(test_pnr_century),
        cmocka_unit_test(test_pnr_check_digit),
        cmocka_unit_test(test_pnr_dates),
        cmocka_unit_test(test_pnr_birth_number),
        cmocka_unit_test(test_samordningsnummer),
        cmocka_unit_test(test_pnr_garbage),
        cmocka_unit_test(test_orgnr),
        cmocka_unit_test(test_type1_comment1),
        cmocka_unit_test(test_type1_comment2),
        cmocka_unit_test(test_overlap_3400),
        cmocka_unit_test(test_type2_comment1),
        cmocka_unit_test(test_nordea_personkonto),
        cmocka_unit_test(test_handelsbanken),
        cmocka_unit_test(test_swedbank_8xxx),
        cmocka_unit_test(test_plusgirot),
        cmocka_unit_test(test_account_garbage),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_iban_check_digit_aliases),
        cmocka_unit_test(test_table_matches_csv),
        cmocka_unit_test(test_table_rules_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
