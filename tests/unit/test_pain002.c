/* Unit tests for the pain.002 status report parser: hand-written reports in
 * tests/fixtures/pain002 (each first checked with xmllint against the official XSD, an
 * independent oracle) parsed with every value asserted; then every refusal (not XML,
 * truncated, empty, too large, another message, XSD-invalid, 3 decimals, XXE, billion
 * laughs, missing schema) with its exact message. Run from the repository top or with TOP
 * set to it (tests/run-all does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "payfile/pain002.h"

static char top[512], xsd[600];

/* --- helpers ----------------------------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static char *fixture(const char *name, size_t *len)
{
    char p[700];
    char *buf = NULL;
    snprintf(p, sizeof p, "%s/tests/fixtures/pain002/%s", top, name);
    if (file_read_all(p, PAIN002_MAX_BYTES, &buf, len) != RL_OK)
        fail_msg("%s: %s", p, err_msg());
    return buf;
}

/* The oracle: does xmllint say name is valid against pain.002.001.<ver>.xsd? */
static void oracle(const char *name, const char *ver, bool valid)
{
    int rc = sh("xmllint --noout --nonet --schema '%s/pain.002.001.%s.xsd' "
                "'%s/tests/fixtures/pain002/%s' >/dev/null 2>&1",
                xsd, ver, top, name);
    if ((rc == 0) != valid)
        fail_msg("xmllint says %s is %s against pain.002.001.%s.xsd", name,
                 rc == 0 ? "valid" : "invalid", ver);
}

static pain002_report *parse_ok_n(const char *xml, size_t len)
{
    pain002_report *r = NULL;
    if (pain002_parse(xml, len, xsd, &r) != RL_OK)
        fail_msg("expected to parse: %s", err_msg());
    assert_non_null(r);
    return r;
}

static pain002_report *parse_file(const char *name)
{
    size_t len;
    char *xml = fixture(name, &len);
    pain002_report *r = parse_ok_n(xml, len);
    free(xml);
    return r;
}

/* Expects xml to be refused with code, *out NULL, and a message containing each of the
 * NULL-terminated wants. */
static void refused_n(const char *xml, size_t len, int code, ...)
{
    pain002_report *r = (pain002_report *)(uintptr_t)1; /* must be reset to NULL */
    int rc = pain002_parse(xml, len, xsd, &r);
    if (rc != code || r != NULL)
        fail_msg("expected code %d, got %d: %s", code, rc, rc == 0 ? "(parsed)" : err_msg());
    va_list ap;
    va_start(ap, code);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
        if (strstr(err_msg(), want) == NULL)
            fail_msg("message lacks '%s': %s", want, err_msg());
    va_end(ap);
}

#define refused(xml, ...) refused_n((xml), strlen(xml), RL_EDATA, __VA_ARGS__, (const char *)NULL)

static void refused_file(const char *name, const char *full_message)
{
    size_t len;
    char *xml = fixture(name, &len);
    refused_n(xml, len, RL_EDATA, full_message, (const char *)NULL);
    if (strcmp(err_msg(), full_message) != 0)
        fail_msg("%s: expected message\n  %s\ngot\n  %s", name, full_message, err_msg());
    free(xml);
}

/* text with the first occurrence of from replaced by to (malloc'd). */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    if (p == NULL)
        fail_msg("'%s' not in the text", from);
    size_t a = (size_t)(p - text), fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    char *s = malloc(a + tl + rest + 1);
    assert_non_null(s);
    memcpy(s, text, a);
    memcpy(s + a, to, tl);
    memcpy(s + a + tl, p + fl, rest + 1);
    return s;
}

static pain002_tx tx(const pain002_report *r, size_t i)
{
    pain002_tx t;
    assert_int_equal(pain002_tx_at(r, i, &t), RL_OK);
    return t;
}

static pain002_pmtinf pmt(const pain002_report *r, size_t i)
{
    pain002_pmtinf m;
    assert_int_equal(pain002_pmtinf_at(r, i, &m), RL_OK);
    return m;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- accepted reports -------------------------------------------------------------------- */

static void test_group_accepted(void **state)
{
    (void)state;
    oracle("group-accepted.xml", "03", true);
    pain002_report *r = parse_file("group-accepted.xml");
    assert_int_equal(pain002_version(r), 3);
    assert_string_equal(pain002_msg_id(r), "SEB-STS-20250425-000117");
    assert_string_equal(pain002_created(r), "2025-04-25T08:14:02");
    assert_string_equal(pain002_orig_msg_id(r), "RL1a2b3c4d-250424-000003");
    assert_string_equal(pain002_orig_msg_name(r), "pain.001.001.03");
    uint64_t n = 0;
    int64_t sum = 0;
    assert_true(pain002_orig_nb_of_txs(r, &n));
    assert_int_equal(n, 3);
    assert_true(pain002_orig_ctrl_sum(r, &sum));
    assert_int_equal(sum, 4512350);
    assert_string_equal(pain002_group_status(r), "ACCP");
    assert_string_equal(pain002_group_reason(r), "");
    assert_string_equal(pain002_group_info(r), "");
    assert_true(pain002_status_is_accepted(pain002_group_status(r)));
    assert_int_equal(pain002_pmtinf_count(r), 1);
    pain002_pmtinf m = pmt(r, 0);
    assert_string_equal(m.id, "RL1a2b3c4d-250424-000003-1");
    assert_string_equal(m.status, "ACCP");
    assert_string_equal(m.reason, "");
    assert_string_equal(m.info, "");
    assert_int_equal(m.tx_count, 0);
    assert_int_equal(pain002_tx_count(r), 0);
    pain002_tx t = {0};
    assert_int_equal(pain002_tx_at(r, 0, &t), RL_EUSAGE);
    assert_null(t.status);
    assert_int_equal(pain002_pmtinf_at(r, 1, &m), RL_EUSAGE);
    pain002_free(r);
    pain002_free(NULL);
}

static void test_two_rejected(void **state)
{
    (void)state;
    oracle("two-rejected.xml", "03", true);
    pain002_report *r = parse_file("two-rejected.xml");
    assert_int_equal(pain002_version(r), 3);
    assert_string_equal(pain002_msg_id(r), "HB-PSR-0000981");
    assert_string_equal(pain002_created(r), "2025-04-25T09:30:00+02:00");
    assert_string_equal(pain002_orig_msg_id(r), "RL1a2b3c4d-250424-000004");
    assert_string_equal(pain002_group_status(r), "PART");
    int64_t sum = 0;
    assert_true(pain002_orig_ctrl_sum(r, &sum));
    assert_int_equal(sum, 2089150); /* "20891.5" */
    assert_int_equal(pain002_pmtinf_count(r), 1);
    pain002_pmtinf m = pmt(r, 0);
    assert_string_equal(m.status, "PART");
    assert_int_equal(m.tx_count, 3);
    assert_int_equal(pain002_tx_count(r), 3);

    pain002_tx t = tx(r, 0);
    assert_string_equal(t.pmtinf_id, "RL1a2b3c4d-250424-000004-1");
    assert_string_equal(t.end_to_end_id, "RL7-b60c86dacbab");
    assert_string_equal(t.status, "RJCT");
    assert_string_equal(t.effective_status, "RJCT");
    assert_true(pain002_status_is_final_reject(t.status));
    assert_false(pain002_status_is_accepted(t.status));
    assert_string_equal(t.reason, "AC01");
    assert_string_equal(t.reason_prtry, "");
    /* the first AddtlInf only; UTF-8 as written */
    assert_string_equal(t.info, "Kontonumret \xc3\xa4r felaktigt f\xc3\xb6r mottagaren "
                                "\xc3\x85sa \xc3\x96" "berg");
    assert_true(t.has_amount);
    assert_int_equal(t.amount_ore, 1239100);
    assert_string_equal(t.currency, "SEK");

    t = tx(r, 1);
    assert_string_equal(t.end_to_end_id, "RL7-0f3e29a1c4d2");
    assert_string_equal(t.status, "RJCT");
    assert_string_equal(t.reason, "AC04");
    assert_string_equal(t.info, "Kontot \xc3\xa4r avslutat, kontakta betalningsmottagaren "
                                "(\xc3\xb6)");
    assert_true(t.has_amount);
    assert_int_equal(t.amount_ore, 850050); /* " 8500.5 ": xs:decimal collapses whitespace */

    t = tx(r, 2);
    assert_string_equal(t.end_to_end_id, "RL7-9a8b7c6d5e4f");
    assert_string_equal(t.status, "ACCP");
    assert_true(pain002_status_is_accepted(t.status));
    assert_string_equal(t.reason, "");
    assert_string_equal(t.info, "");
    assert_false(t.has_amount);
    assert_int_equal(t.amount_ore, 0);
    assert_string_equal(t.currency, "");
    pain002_free(r);
}

static void test_v10(void **state)
{
    (void)state;
    oracle("v10.xml", "10", true);
    oracle("v10.xml", "03", false); /* the oracle tells the versions apart too */
    pain002_report *r = parse_file("v10.xml");
    assert_int_equal(pain002_version(r), 10);
    assert_string_equal(pain002_msg_id(r), "NDEA-PSR-77-0001");
    assert_string_equal(pain002_created(r), "2025-05-23T16:45:10.250Z");
    assert_string_equal(pain002_orig_msg_id(r), "RL1a2b3c4d-250522-000009");
    assert_string_equal(pain002_orig_msg_name(r), "pain.001.001.09");
    assert_string_equal(pain002_group_status(r), "");
    uint64_t n = 0;
    int64_t sum = -1;
    assert_true(pain002_orig_nb_of_txs(r, &n));
    assert_int_equal(n, 4);
    assert_false(pain002_orig_ctrl_sum(r, &sum));
    assert_int_equal(sum, -1);

    assert_int_equal(pain002_pmtinf_count(r), 2);
    pain002_pmtinf m = pmt(r, 0);
    assert_string_equal(m.id, "RL1a2b3c4d-250522-000009-1");
    assert_string_equal(m.status, "ACSP");
    assert_int_equal(m.tx_count, 4);
    m = pmt(r, 1);
    assert_string_equal(m.id, "RL1a2b3c4d-250522-000009-2");
    assert_string_equal(m.status, "RJCT");
    assert_string_equal(m.reason, "DT01");
    assert_string_equal(m.info, "Ogiltigt datum");
    assert_int_equal(m.tx_count, 0);

    assert_int_equal(pain002_tx_count(r), 4);
    pain002_tx t = tx(r, 0);
    assert_string_equal(t.end_to_end_id, "RL9-111111111111");
    assert_string_equal(t.status, "ACSC");
    assert_true(t.has_amount);
    assert_int_equal(t.amount_ore, 3100000); /* "31000" */

    t = tx(r, 1);
    assert_string_equal(t.status, "RJCT");
    /* Prtry in the first StsRsnInf, Cd and the text in the second */
    assert_string_equal(t.reason, "AM04");
    assert_string_equal(t.reason_prtry, "NDEA-ACCT-BLOCKED");
    assert_string_equal(t.info, "Insufficient funds on the debtor account");
    assert_int_equal(t.amount_ore, 7); /* "0.07" */

    t = tx(r, 2);
    assert_string_equal(t.status, "ACFC"); /* v10 codes are free text (1-4), kept as written */
    assert_false(pain002_status_is_accepted(t.status));
    assert_false(pain002_status_is_final_reject(t.status));
    assert_false(t.has_amount);

    t = tx(r, 3);
    assert_string_equal(t.status, "");
    assert_string_equal(t.effective_status, "ACSP"); /* its PmtInfSts */
    assert_string_equal(t.pmtinf_id, "RL1a2b3c4d-250522-000009-1");
    assert_string_equal(t.currency, "EUR");
    assert_int_equal(t.amount_ore, 123456789); /* "1234567.890": zeros past öre are exact */
    pain002_free(r);
}

static void test_group_rejected(void **state)
{
    (void)state;
    oracle("group-rejected.xml", "03", true);
    pain002_report *r = parse_file("group-rejected.xml");
    assert_int_equal(pain002_version(r), 3);
    assert_string_equal(pain002_msg_id(r), "SWED-20250425-4711");
    assert_string_equal(pain002_orig_msg_id(r), "RL1a2b3c4d-250424-000005");
    assert_string_equal(pain002_group_status(r), "RJCT");
    assert_true(pain002_status_is_final_reject(pain002_group_status(r)));
    assert_string_equal(pain002_group_reason(r), "FF01");
    assert_string_equal(pain002_group_info(r), "Filen kunde inte l\xc3\xa4sas: ogiltigt format");
    uint64_t n = 0;
    int64_t sum = 0;
    assert_false(pain002_orig_nb_of_txs(r, &n));
    assert_false(pain002_orig_ctrl_sum(r, &sum));
    assert_int_equal(pain002_pmtinf_count(r), 0);
    assert_int_equal(pain002_tx_count(r), 0);
    pain002_free(r);
}

/* The same report in ISO-8859-1: values come out as UTF-8. */
static void test_latin1(void **state)
{
    (void)state;
    size_t len;
    char *xml = fixture("group-rejected.xml", &len);
    char *a = replace(xml, "encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"");
    char *b = replace(a, "l\xc3\xa4sas", "l\xe4sas");
    pain002_report *r = parse_ok_n(b, strlen(b));
    assert_string_equal(pain002_group_info(r), "Filen kunde inte l\xc3\xa4sas: ogiltigt format");
    pain002_free(r);
    free(b);
    free(a);
    free(xml);
}

/* Amounts: exact öre, never rounded, no overflow. */
static void test_amounts(void **state)
{
    (void)state;
    size_t len;
    char *xml = fixture("two-rejected.xml", &len);
    static const struct {
        const char *text;
        int64_t ore;
    } ok[] = {{"12391", 1239100},   {"12391.", 1239100}, {".5", 50},
              {"+1.25", 125},       {"0", 0},            {"-0.00", 0},
              {"7.50000", 750},     {"0001.01", 101},
              {"9999999999999999.99", 999999999999999999}, /* 18 digits: the XSD's most */
              {"92233720368547757", 9223372036854775700}};
    char from[] = "<InstdAmt Ccy=\"SEK\">12391.00</InstdAmt>";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char to[100];
        snprintf(to, sizeof to, "<InstdAmt Ccy=\"SEK\">%s</InstdAmt>", ok[i].text);
        char *s = replace(xml, from, to);
        pain002_report *r = parse_ok_n(s, strlen(s));
        pain002_tx t = tx(r, 0);
        if (t.amount_ore != ok[i].ore)
            fail_msg("'%s': %lld öre, expected %lld", ok[i].text, (long long)t.amount_ore,
                     (long long)ok[i].ore);
        pain002_free(r);
        free(s);
    }
    /* a valid xs:decimal (at most 18 digits), but more öre than an int64 holds */
    char *s = replace(xml, from, "<InstdAmt Ccy=\"SEK\">92233720368547758</InstdAmt>");
    refused(s, "pain.002: line 36: InstdAmt '92233720368547758' (OrgnlEndToEndId "
               "RL7-b60c86dacbab) is too large");
    free(s);
    s = replace(xml, "<OrgnlCtrlSum>20891.5<", "<OrgnlCtrlSum>20891.501<");
    refused(s, "pain.002: line 13: OrgnlCtrlSum '20891.501' has more than 2 decimals");
    free(s);
    s = replace(xml, "<OrgnlCtrlSum>20891.5<", "<OrgnlCtrlSum>-1.00<");
    refused(s, "pain.002: line 13: OrgnlCtrlSum '-1.00' is negative");
    free(s);
    free(xml);
}

static void test_status_helpers(void **state)
{
    (void)state;
    static const char *const acc[] = {"ACCP", "ACSC", "ACSP", "ACTC", "ACWC", "ACCC"};
    static const char *const neither[] = {"PDNG", "RCVD", "PART", "ACFC", "ACWP", "CANC",
                                          "rjct", "RJCTX", "", "ACC"};
    for (size_t i = 0; i < sizeof acc / sizeof acc[0]; i++) {
        assert_true(pain002_status_is_accepted(acc[i]));
        assert_false(pain002_status_is_final_reject(acc[i]));
    }
    for (size_t i = 0; i < sizeof neither / sizeof neither[0]; i++) {
        assert_false(pain002_status_is_accepted(neither[i]));
        assert_false(pain002_status_is_final_reject(neither[i]));
    }
    assert_true(pain002_status_is_final_reject("RJCT"));
    assert_false(pain002_status_is_accepted(NULL));
    assert_false(pain002_status_is_final_reject(NULL));
}

/* --- refusals ------------------------------------------------------------------------------ */

static void test_not_xml(void **state)
{
    (void)state;
    refused_file("not-xml.txt",
                 "pain.002: not well-formed XML: line 1: Start tag expected, '<' not found");
    static const char nul[] = "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<Document>\0</Document>";
    refused_n(nul, sizeof nul - 1, RL_EDATA, "pain.002: not well-formed XML: line 2:",
              (const char *)NULL);
    refused("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\"><a></b>",
            "pain.002: not well-formed XML: line 1: Opening and ending tag mismatch: a line 1 "
            "and b");
}

/* Encoding errors: in the message, and nothing from libxml2 on stderr. */
static void test_encoding_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/rl-pain002-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    refused("<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>\n<a>\x1b$B\xff\xff</a>",
            "pain.002: not well-formed XML: input conversion failed due to input error, bytes "
            "0xFF 0xFF 0x3C 0x2F (3 more errors, the last: line 2: Premature end of data in tag "
            "a line 2)");
    refused("<?xml version=\"1.0\" encoding=\"x-nonsense\"?>\n<a/>",
            "pain.002: not well-formed XML: line 1: Unsupported encoding x-nonsense");
    refused("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<a/>",
            "pain.002: not well-formed XML: line 1: Document labelled UTF-16 but has UTF-8 "
            "content");
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(size, 0);
}

static void test_truncated(void **state)
{
    (void)state;
    refused_file("truncated.xml",
                 "pain.002: not well-formed XML: line 33: expected '>' (2 more errors, the last: "
                 "line 33: Premature end of data in tag TxInfAndSts line 20)");
    /* cut inside a UTF-8 letter */
    size_t len;
    char *xml = fixture("two-rejected.xml", &len);
    const char *o = strstr(xml, "\xc3\x96" "berg");
    refused_n(xml, (size_t)(o - xml) + 1, RL_EDATA, "pain.002: not well-formed XML: line 31:",
              (const char *)NULL);
    free(xml);
}

static void test_empty(void **state)
{
    (void)state;
    refused_file("empty.xml", "pain.002: the status report is empty");
    refused_n("", 0, RL_EDATA, "pain.002: the status report is empty", (const char *)NULL);
    refused(" \n", "pain.002: not well-formed XML: line 2: Start tag expected, '<' not found");
}

static void test_too_large(void **state)
{
    (void)state;
    size_t n = PAIN002_MAX_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    double t0 = now();
    refused_n(big, n, RL_EDATA,
              "pain.002: the status report is 67108865 bytes, more than the 64 MiB limit",
              (const char *)NULL);
    assert_true(now() - t0 < 0.5); /* refused before any parsing */
    free(big);
}

static void test_wrong_namespace(void **state)
{
    (void)state;
    refused_file("pain001.xml",
                 "pain.002: not a pain.002.001.03 or pain.002.001.10 status report: the root "
                 "element is 'Document' in namespace "
                 "'urn:iso:std:iso:20022:tech:xsd:pain.001.001.03' (a payment file, not the "
                 "bank's status report)");
    size_t len;
    char *xml = fixture("group-accepted.xml", &len);
    char *s = replace(xml, "pain.002.001.03\"", "pain.002.001.09\"");
    refused(s, "root element is 'Document' in namespace "
               "'urn:iso:std:iso:20022:tech:xsd:pain.002.001.09'");
    free(s);
    s = replace(xml, " xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\"", "");
    refused(s, "root element is 'Document' in namespace '(none)'");
    free(s);
    refused("<Dokument xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"/>",
            "root element is 'Dokument' in namespace "
            "'urn:iso:std:iso:20022:tech:xsd:pain.002.001.10'");
    free(xml);
}

static void test_xsd_invalid(void **state)
{
    (void)state;
    oracle("missing-orgnlmsgid.xml", "03", false);
    refused_file("missing-orgnlmsgid.xml",
                 "pain.002: not valid against pain.002.001.03.xsd: line 10: Element "
                 "'OrgnlMsgNmId': This element is not expected. Expected is ( OrgnlMsgId ).");
    oracle("bad-txsts-length.xml", "10", false);
    refused_file("bad-txsts-length.xml",
                 "pain.002: not valid against pain.002.001.10.xsd: line 31: Element 'TxSts': "
                 "[facet 'maxLength'] The value has a length of '8'; this exceeds the allowed "
                 "maximum length of '4'.");
    /* v03 status codes are an enumeration */
    size_t len;
    char *xml = fixture("two-rejected.xml", &len);
    char *s = replace(xml, "<TxSts>ACCP<", "<TxSts>ACFC<");
    refused(s, "pain.002: not valid against pain.002.001.03.xsd: line 58: Element 'TxSts': "
               "[facet 'enumeration'] The value 'ACFC' is not an element of the set");
    free(s);
    free(xml);
}

static void test_amount_3_decimals(void **state)
{
    (void)state;
    oracle("amount-3-decimals.xml", "03", true); /* the XSD allows 5: the limit is ours */
    refused_file("amount-3-decimals.xml",
                 "pain.002: line 36: InstdAmt '12391.005' (OrgnlEndToEndId RL7-b60c86dacbab) "
                 "has more than 2 decimals (amounts are whole öre and are never rounded)");
}

static void test_xxe(void **state)
{
    (void)state;
    refused_file("xxe.xml", "pain.002: line 2: a DOCTYPE is not allowed in a bank status "
                            "report (DTDs and entities are refused)");
    assert_null(strstr(err_msg(), "root:"));
    refused_file("xxe-external-dtd.xml", "pain.002: line 2: a DOCTYPE is not allowed in a bank "
                                         "status report (DTDs and entities are refused)");
    assert_null(strstr(err_msg(), "root:"));
    /* A parameter entity pulling in the file: refused at the DOCTYPE as well. */
    refused("<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> "
            "%p;]>\n<d/>",
            "pain.002: line 2: a DOCTYPE is not allowed");
    assert_null(strstr(err_msg(), "root:"));
    /* xsi:schemaLocation is not followed: the bundled schema is the only one used. */
    size_t len;
    char *xml = fixture("group-accepted.xml", &len);
    char *s = replace(xml, "<Document ", "<Document xsi:schemaLocation=\"urn:x "
                                         "http://example.invalid/x.xsd urn:y /etc/passwd\" ");
    pain002_report *r = parse_ok_n(s, strlen(s));
    assert_string_equal(pain002_group_status(r), "ACCP");
    pain002_free(r);
    free(s);
    free(xml);
}

static void test_billion_laughs(void **state)
{
    (void)state;
    double t0 = now();
    refused_file("billion-laughs.xml", "pain.002: line 2: a DOCTYPE is not allowed in a bank "
                                       "status report (DTDs and entities are refused)");
    double dt = now() - t0;
    if (dt > 0.5)
        fail_msg("billion laughs took %.2f s", dt);
}

static void test_missing_schema(void **state)
{
    (void)state;
    size_t len;
    char *xml = fixture("group-accepted.xml", &len);
    pain002_report *r = (pain002_report *)(uintptr_t)1;
    assert_int_equal(pain002_parse(xml, len, NULL, &r), RL_EUSAGE);
    assert_null(r);
    r = (pain002_report *)(uintptr_t)1;
    assert_int_equal(pain002_parse(xml, len, "/nonexistent-rl-xsd", &r), RL_EIO);
    assert_null(r);
    if (strstr(err_msg(), "pain.002: cannot load the schema: ") != err_msg() ||
        strstr(err_msg(), "/nonexistent-rl-xsd/pain.002.001.03.xsd") == NULL)
        fail_msg("%s", err_msg());
    free(xml);
}

/* Many parses from several threads: libxml2 initialised once, nothing shared, no leaks
 * (under ASan). */
static void *parse_many(void *arg)
{
    const char *names[] = {"group-accepted.xml", "two-rejected.xml", "v10.xml", "xxe.xml"};
    long bad = 0;
    for (int i = 0; i < 12; i++) {
        const char *name = names[(i + (int)(intptr_t)arg) % 4];
        char p[700];
        char *buf = NULL;
        size_t len;
        pain002_report *r = NULL;
        snprintf(p, sizeof p, "%s/tests/fixtures/pain002/%s", top, name);
        if (file_read_all(p, PAIN002_MAX_BYTES, &buf, &len) != RL_OK)
            return (void *)1;
        int rc = pain002_parse(buf, len, xsd, &r);
        if ((rc == RL_OK) != (strcmp(name, "xxe.xml") != 0))
            bad++;
        pain002_free(r);
        free(buf);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads_and_repeats(void **state)
{
    (void)state;
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, parse_many, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TOP");
    snprintf(top, sizeof top, "%s", t && t[0] ? t : ".");
    snprintf(xsd, sizeof xsd, "%s/app/data/iso20022", top);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_accepted),
        cmocka_unit_test(test_two_rejected),
        cmocka_unit_test(test_v10),
        cmocka_unit_test(test_group_rejected),
        cmocka_unit_test(test_latin1),
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_status_helpers),
        cmocka_unit_test(test_not_xml),
        cmocka_unit_test(test_encoding_errors),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_wrong_namespace),
        cmocka_unit_test(test_xsd_invalid),
        cmocka_unit_test(test_amount_3_decimals),
        cmocka_unit_test(test_xxe),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_missing_schema),
        cmocka_unit_test(test_threads_and_repeats),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
