/* Unit tests for payfile_verify (app/payfile/verify.h): pain.001.001.03 files crafted here
 * (each checked with xmllint against the official XSD as an independent oracle) and signed
 * with minisig_sign under TEST keys generated in the test (minisig_keygen), so every
 * tampering can be re-signed validly: a signature problem is RL_EINTEGRITY, a data problem
 * RL_EDATA naming the element and its line. Run from the repository top or with TOP set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "payfile/verify.h"
#include "sig/minisig.h"

static char top[512], xsd[600], dir[64], path[128];
static minisig_seckey *SK, *OTHER;
static minisig_pubkey PK, OTHER_PK;

/* What the crafted file and its comment say; the defaults are a correct file. */
typedef struct {
    const char *doctype;
    const char *msgid, *grp_nb, *grp_sum, *pmt_nb, *pmt_sum, *tpinf, *ccy;
    const char *amt[3], *e2e[3];
    const char *tc; /* NULL: a correct comment */
    const minisig_seckey *key;
    const char *extra; /* an element the XSD does not allow, inside GrpHdr */
} spec;

static spec good(void)
{
    return (spec){.doctype = "", .msgid = "RL0A1B2C3D-260105-000001", .grp_nb = "3",
                  .grp_sum = "36000.75", .pmt_nb = "3", .pmt_sum = "36000.75",
                  .tpinf = "<PmtTpInf><CtgyPurp><Cd>SALA</Cd></CtgyPurp></PmtTpInf>",
                  .ccy = "SEK", .amt = {"12000.25", "12000.00", "12000.50"},
                  .e2e = {"RL1-aaaaaaaaaaaa", "RL1-bbbbbbbbbbbb", "RL1-cccccccccccc"},
                  .key = NULL, .extra = ""};
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Writes path and path.minisig as s says; the XML text is line-stable: GrpHdr/CtrlSum on
 * line 7, PmtInf on 10, its NbOfTxs on 13, its CtrlSum on 14, CtgyPurp on 15, the
 * EndToEndIds on 21, 26 and 31, their InstdAmt on 22, 27 and 32. */
static void make(const spec *s)
{
    char xml[6000];
    int n = snprintf(xml, sizeof xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s"
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\"><CstmrCdtTrfInitn>\n"
        "<GrpHdr>%s\n"
        "<MsgId>%s</MsgId>\n"
        "<CreDtTm>2026-01-05T10:00:00Z</CreDtTm>\n"
        "<NbOfTxs>%s</NbOfTxs>\n"
        "<CtrlSum>%s</CtrlSum>\n"
        "<InitgPty><Nm>Exempel kommun</Nm></InitgPty>\n"
        "</GrpHdr>\n"
        "<PmtInf>\n"
        "<PmtInfId>%s-1</PmtInfId>\n"
        "<PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg>\n"
        "<NbOfTxs>%s</NbOfTxs>\n"
        "<CtrlSum>%s</CtrlSum>\n"
        "%s\n"
        "<ReqdExctnDt>2026-01-25</ReqdExctnDt>\n"
        "<Dbtr><Nm>Exempel kommun</Nm></Dbtr>\n"
        "<DbtrAcct><Id><IBAN>SE4550000000058398257466</IBAN></Id><Ccy>SEK</Ccy></DbtrAcct>\n"
        "<DbtrAgt><FinInstnId><BIC>ESSESESS</BIC></FinInstnId></DbtrAgt>\n"
        "<CdtTrfTxInf><PmtId>\n<EndToEndId>%s</EndToEndId></PmtId>\n"
        "<Amt><InstdAmt Ccy=\"%s\">%s</InstdAmt></Amt>\n"
        "<Cdtr><Nm>Anna Andersson</Nm></Cdtr>\n"
        "<CdtrAcct><Id><IBAN>SE4550000000058398257466</IBAN></Id></CdtrAcct>\n"
        "</CdtTrfTxInf><CdtTrfTxInf><PmtId>\n<EndToEndId>%s</EndToEndId></PmtId>\n"
        "<Amt><InstdAmt Ccy=\"SEK\">%s</InstdAmt></Amt>\n"
        "<Cdtr><Nm>Bo Berg</Nm></Cdtr>\n"
        "<CdtrAcct><Id><IBAN>SE4550000000058398257466</IBAN></Id></CdtrAcct>\n"
        "</CdtTrfTxInf><CdtTrfTxInf><PmtId>\n<EndToEndId>%s</EndToEndId></PmtId>\n"
        "<Amt><InstdAmt Ccy=\"SEK\">%s</InstdAmt></Amt>\n"
        "<Cdtr><Nm>Cecilia \xc3\x96st</Nm></Cdtr>\n"
        "<CdtrAcct><Id><IBAN>SE4550000000058398257466</IBAN></Id></CdtrAcct>\n"
        "</CdtTrfTxInf></PmtInf></CstmrCdtTrfInitn></Document>\n",
        s->doctype, s->extra, s->msgid, s->grp_nb, s->grp_sum, s->msgid, s->pmt_nb, s->pmt_sum,
        s->tpinf, s->e2e[0], s->ccy, s->amt[0], s->e2e[1], s->amt[1], s->e2e[2], s->amt[2]);
    assert_true(n > 0 && (size_t)n < sizeof xml);
    char tc[600], sig[MINISIG_SIG_TEXT_MAX], sp[160];
    snprintf(tc, sizeof tc,
             "reservlon payfile mode=%s seq=1 file=pay.xml msgid=%s payrun=1 total=%s SEK "
             "count=%s left_out=0 exec=2026-01-25 signed=2026-01-05T10:00:00Z by=carol+dave "
             "key=%s",
             strncmp(s->msgid, "DRILL-", 6) == 0 ? "drill" : "production", s->msgid, s->grp_sum,
             s->grp_nb, "KEYID");
    /* key= must be the real key id: take it from the public key */
    char kid[17];
    const minisig_pubkey *pk = s->key == OTHER ? &OTHER_PK : &PK;
    for (int i = 0; i < 8; i++)
        snprintf(kid + 2 * i, 3, "%02X", pk->key_id[7 - i]);
    char *k = strstr(tc, "key=KEYID");
    snprintf(k, sizeof tc - (size_t)(k - tc), "key=%s", kid);
    assert_int_equal(file_write_atomic(path, xml, (size_t)n, 0600), RL_OK);
    assert_int_equal(minisig_sign(s->key ? s->key : SK, (const uint8_t *)xml, (size_t)n,
                                  s->tc ? s->tc : tc, sig, sizeof sig),
                     RL_OK);
    snprintf(sp, sizeof sp, "%s.minisig", path);
    assert_int_equal(file_write_atomic(sp, sig, strlen(sig), 0600), RL_OK);
}

/* The oracle: xmllint's verdict on the crafted file. */
static void oracle(bool valid)
{
    int rc = sh("xmllint --noout --nonet --schema '%s/pain.001.001.03.xsd' '%s' 2>/dev/null",
                xsd, path);
    if ((rc == 0) != valid)
        fail_msg("xmllint says the crafted file is %s", rc == 0 ? "valid" : "invalid");
}

static void refused(const spec *s, const minisig_pubkey *pk, int code, const char *msg)
{
    payfile_verified r;
    make(s);
    int rc = payfile_verify(path, pk, xsd, &r);
    if (rc != code || strstr(err_msg(), msg) == NULL)
        fail_msg("got %d '%s', want %d with '%s'", rc, err_msg(), code, msg);
}

static void test_ok(void **state)
{
    (void)state;
    spec s = good();
    make(&s);
    oracle(true);
    payfile_verified r;
    if (payfile_verify(path, &PK, xsd, &r) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(r.version, 3);
    assert_string_equal(r.msg_id, "RL0A1B2C3D-260105-000001");
    assert_int_equal(r.count, 3);
    assert_int_equal(r.total_ore, 3600075);
    assert_string_equal(r.exec_date, "2026-01-25");
    assert_false(r.drill);
    assert_string_equal(r.signed_by, "carol+dave");
    assert_string_equal(r.payrun, "1");
    assert_string_equal(r.left_out, "0");
    assert_int_equal(r.pmtinf_count, 1);
    /* a drill file says so on both sides */
    s.msgid = "DRILL-RL0A1B2C3D-260105-000002";
    make(&s);
    assert_int_equal(payfile_verify(path, &PK, xsd, &r), RL_OK);
    assert_true(r.drill);
}

static void test_signature(void **state)
{
    (void)state;
    spec s = good();
    /* signed by another key (a changed amount re-signed): the appliance key refuses it */
    s.key = OTHER;
    refused(&s, &PK, RL_EINTEGRITY, "the signature does not verify with key");
    /* the file changed after signing */
    s = good();
    make(&s);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 1 << 20, &buf, &len), RL_OK);
    char *p = strstr(buf, "12000.25");
    p[0] = '9';
    assert_int_equal(file_write_atomic(path, buf, len, 0600), RL_OK);
    free(buf);
    payfile_verified r;
    assert_int_equal(payfile_verify(path, &PK, xsd, &r), RL_EINTEGRITY);
    /* no signature at all */
    char sp[160];
    snprintf(sp, sizeof sp, "%s.minisig", path);
    unlink(sp);
    assert_int_equal(payfile_verify(path, &PK, xsd, &r), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "no usable signature"));
    /* no file */
    unlink(path);
    assert_int_equal(payfile_verify(path, &PK, xsd, &r), RL_EDATA);
}

static void test_sums(void **state)
{
    (void)state;
    spec s = good();
    s.grp_sum = "36000.76"; /* one öre off, validly signed by the key in use */
    make(&s);
    oracle(true);
    refused(&s, &PK, RL_EDATA, "line 7: GrpHdr/CtrlSum is 36000.76 but its 3 InstdAmt add up to 36000.75");
    s = good();
    s.pmt_sum = "36000.74";
    refused(&s, &PK, RL_EDATA, "line 14: PmtInf/CtrlSum is 36000.74 but its 3 InstdAmt");
    s = good();
    s.grp_nb = "4";
    refused(&s, &PK, RL_EDATA, "GrpHdr/NbOfTxs is 4 but there are 3 CdtTrfTxInf");
    s = good();
    s.pmt_nb = "2";
    refused(&s, &PK, RL_EDATA, "line 13: PmtInf/NbOfTxs is 2 but there are 3 CdtTrfTxInf");
}

static void test_amounts_and_ids(void **state)
{
    (void)state;
    spec s = good();
    s.ccy = "EUR";
    refused(&s, &PK, RL_EDATA, "line 22: InstdAmt of RL1-aaaaaaaaaaaa is in 'EUR', not SEK");
    s = good();
    s.amt[1] = "12000.001";
    s.grp_sum = s.pmt_sum = "36000.751";
    make(&s);
    oracle(true); /* the XSD allows 5 decimals: the limit is ours */
    refused(&s, &PK, RL_EDATA, "line 27: InstdAmt '12000.001' of RL1-bbbbbbbbbbbb has more than 2 decimals");
    s.amt[1] = "12000.000"; /* exact, but not how öre are written */
    s.grp_sum = s.pmt_sum = "36000.75";
    refused(&s, &PK, RL_EDATA, "line 27: InstdAmt '12000.000' of RL1-bbbbbbbbbbbb has more than 2 decimals");
    s = good();
    s.amt[2] = "0";
    s.grp_sum = s.pmt_sum = "24000.25";
    refused(&s, &PK, RL_EDATA, "line 32: InstdAmt '0' of RL1-cccccccccccc is not above 0");
    s = good();
    s.e2e[2] = "RL1-aaaaaaaaaaaa";
    refused(&s, &PK, RL_EDATA, "line 31: EndToEndId 'RL1-aaaaaaaaaaaa' is also used on line 21");
}

static void test_sala(void **state)
{
    (void)state;
    spec s = good();
    s.tpinf = "<PmtTpInf><CtgyPurp><Cd>SUPP</Cd></CtgyPurp></PmtTpInf>";
    refused(&s, &PK, RL_EDATA, "line 15: PmtInf/PmtTpInf/CtgyPurp/Cd is 'SUPP', not SALA");
    s.tpinf = "";
    make(&s);
    oracle(true);
    refused(&s, &PK, RL_EDATA, "line 10: PmtInf/PmtTpInf/CtgyPurp/Cd (SALA) is missing");
}

static void test_comment(void **state)
{
    (void)state;
    spec s = good();
    s.tc = "reservlon payfile mode=production msgid=RL0A1B2C3D-260105-000009 total=36000.75 SEK count=3";
    refused(&s, &PK, RL_EDATA, "the signature says msgid=RL0A1B2C3D-260105-000009 but GrpHdr/MsgId is RL0A1B2C3D-260105-000001");
    s.tc = "reservlon payfile mode=production msgid=RL0A1B2C3D-260105-000001 total=36000.75 SEK count=2";
    refused(&s, &PK, RL_EDATA, "the signature says count=2 but GrpHdr/NbOfTxs is 3");
    s.tc = "reservlon payfile mode=production msgid=RL0A1B2C3D-260105-000001 total=36000.76 SEK count=3";
    refused(&s, &PK, RL_EDATA, "the signature says total=36000.76 but GrpHdr/CtrlSum is 36000.75 SEK");
    s.tc = "reservlon payfile mode=drill msgid=RL0A1B2C3D-260105-000001 total=36000.75 SEK count=3";
    refused(&s, &PK, RL_EDATA, "mode=drill but the MsgId RL0A1B2C3D-260105-000001 does not start with DRILL-");
    s.msgid = "DRILL-RL0A1B2C3D-260105-000001";
    s.tc = "reservlon payfile mode=production msgid=DRILL-RL0A1B2C3D-260105-000001 total=36000.75 SEK count=3";
    refused(&s, &PK, RL_EDATA, "mode=production but the MsgId DRILL-RL0A1B2C3D-260105-000001 starts with DRILL-");
    s = good();
    s.tc = "reservlon journal seq=1";
    refused(&s, &PK, RL_EDATA, "not a payment file's");
    s.tc = "reservlon payfile mode=production msgid=RL0A1B2C3D-260105-000001 count=3";
    refused(&s, &PK, RL_EDATA, "trusted comment has no total=");
}

static void test_xml(void **state)
{
    (void)state;
    spec s = good();
    s.doctype = "<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n";
    refused(&s, &PK, RL_EDATA, "line 2: a DOCTYPE is not allowed in a payment file");
    s = good();
    s.extra = "<Colour>blue</Colour>";
    make(&s);
    oracle(false);
    refused(&s, &PK, RL_EDATA, "not valid against pain.001.001.03.xsd: line 3: Element 'Colour'");
    s = good();
    make(&s);
    payfile_verified r;
    assert_int_equal(payfile_verify(path, &PK, "/nonexistent-rl-xsd", &r), RL_EIO);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TOP");
    snprintf(top, sizeof top, "%s", t && t[0] ? t : ".");
    snprintf(xsd, sizeof xsd, "%s/app/data/iso20022", top);
    snprintf(dir, sizeof dir, "/tmp/rl-payverify.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/pay.xml", dir);
    minisig_seckey **sks[] = {&SK, &OTHER};
    minisig_pubkey *pks[] = {&PK, &OTHER_PK};
    for (int i = 0; i < 2; i++) {
        char pub[512], sec[512], sp[128];
        snprintf(sp, sizeof sp, "%s/k%d.key", dir, i);
        if (minisig_keygen("TEST key", pub, sizeof pub, sec, sizeof sec) != RL_OK ||
            file_write_atomic(sp, sec, strlen(sec), 0600) != RL_OK ||
            minisig_seckey_load(sp, sks[i]) != RL_OK ||
            minisig_pubkey_parse(pub, strlen(pub), pks[i]) != RL_OK)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    minisig_seckey_free(SK);
    minisig_seckey_free(OTHER);
    return sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),          cmocka_unit_test(test_signature),
        cmocka_unit_test(test_sums),        cmocka_unit_test(test_amounts_and_ids),
        cmocka_unit_test(test_sala),        cmocka_unit_test(test_comment),
        cmocka_unit_test(test_xml),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
