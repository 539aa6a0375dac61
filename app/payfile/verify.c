/* payfile verify (verify.h): the signature first, so nothing unsigned is even parsed; then
 * the XML, the sums and the signed comment, each problem named by element and line. */
#include "payfile/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "common/isoxml.h"

#define NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:"
#define NS_03 NS_PREFIX "pain.001.001.03"
#define NS_09 NS_PREFIX "pain.001.001.09"
#define SIG_MAX ((size_t)64 * 1024)

typedef struct {
    char *id;
    long line;
} e2e_rec;

typedef struct {
    const char *label; /* the file as named on the command line: every message starts so */
    const char *ns;
    int version; /* 3 or 9 */
    e2e_rec *ids;
    size_t nids;
    uint64_t ntx;
    int64_t sum;
} walk;

static long line_of(const xmlNode *n) { return n ? xmlGetLineNo(n) : 0; }

/* The element's text ("" if absent) into buf, or RL_EDATA naming what is missing. */
static int text_of(const walk *w, const xmlNode *n, const char *what, const xmlNode *near,
                   char *buf, size_t cap)
{
    if (n == NULL)
        return err_set(RL_EDATA, "%s: line %ld: %s is missing (this appliance always writes it)",
                       w->label, line_of(near), what);
    xmlChar *t = xmlNodeGetContent(n);
    snprintf(buf, cap, "%s", t ? (const char *)t : "");
    xmlFree(t);
    return RL_OK;
}

/* NbOfTxs (Max15NumericText, so it fits) and CtrlSum of a GrpHdr or PmtInf against what
 * its transactions add up to. */
static int check_totals(const walk *w, const xmlNode *parent, const char *where, uint64_t n,
                        int64_t sum)
{
    char t[64], a[32], b[32];
    xmlNode *nb = isoxml_child(parent, "NbOfTxs", w->ns);
    int rc = text_of(w, nb, where, parent, t, sizeof t);
    if (rc != RL_OK)
        return rc;
    unsigned long long got = strtoull(t, NULL, 10);
    if (got != n)
        return err_set(RL_EDATA, "%s: line %ld: %s/NbOfTxs is %llu but there are %llu CdtTrfTxInf",
                       w->label, line_of(nb), where, got, (unsigned long long)n);
    xmlNode *cs = isoxml_child(parent, "CtrlSum", w->ns);
    if (cs == NULL)
        return err_set(RL_EDATA, "%s: line %ld: %s/CtrlSum is missing (this appliance always "
                                 "writes it)", w->label, line_of(parent), where);
    char what[64];
    snprintf(what, sizeof what, "%s/CtrlSum", where);
    int64_t ore = 0;
    if ((rc = isoxml_amount(cs, w->label, what, "", &ore)) != RL_OK)
        return rc;
    if (ore != sum) {
        field_money_format(ore, a);
        field_money_format(sum, b);
        return err_set(RL_EDATA, "%s: line %ld: %s is %s but its %llu InstdAmt add up to %s",
                       w->label, line_of(cs), what, a, (unsigned long long)n, b);
    }
    return RL_OK;
}

static int check_tx(walk *w, xmlNode *tx)
{
    char e2e[160]; /* Max35Text: 35 characters, up to 140 bytes of UTF-8 */
    xmlNode *idn = isoxml_child(isoxml_child(tx, "PmtId", w->ns), "EndToEndId", w->ns);
    int rc = text_of(w, idn, "CdtTrfTxInf/PmtId/EndToEndId", tx, e2e, sizeof e2e);
    if (rc != RL_OK)
        return rc;
    xmlNode *amt = isoxml_child(isoxml_child(tx, "Amt", w->ns), "InstdAmt", w->ns);
    if (amt == NULL)
        return err_set(RL_EDATA, "%s: line %ld: CdtTrfTxInf %s has no Amt/InstdAmt (a salary is "
                                 "paid in SEK as InstdAmt, never EqvtAmt)",
                       w->label, line_of(tx), e2e);
    xmlChar *ccy = xmlGetProp(amt, (const xmlChar *)"Ccy");
    bool sek = ccy && strcmp((const char *)ccy, "SEK") == 0;
    char c[8];
    snprintf(c, sizeof c, "%s", ccy ? (const char *)ccy : "");
    xmlFree(ccy);
    if (!sek)
        return err_set(RL_EDATA, "%s: line %ld: InstdAmt of %s is in '%s', not SEK", w->label,
                       line_of(amt), e2e, c);
    char t[64];
    if ((rc = text_of(w, amt, "InstdAmt", tx, t, sizeof t)) != RL_OK)
        return rc;
    int64_t ore = 0;
    int dec = 0;
    int a = isoxml_parse_ore(t, &ore, &dec);
    if (a == ISOXML_AMT_OK && dec > 2)
        a = ISOXML_AMT_DECIMALS; /* SEK has öre: a third decimal, even 0, is not ours */
    if (a == ISOXML_AMT_OK && ore <= 0)
        return err_set(RL_EDATA, "%s: line %ld: InstdAmt '%s' of %s is not above 0", w->label,
                       line_of(amt), t, e2e);
    if (a != ISOXML_AMT_OK)
        return err_set(RL_EDATA, "%s: line %ld: InstdAmt '%s' of %s %s", w->label, line_of(amt),
                       t, e2e,
                       a == ISOXML_AMT_DECIMALS ? "has more than 2 decimals"
                       : a == ISOXML_AMT_NEGATIVE ? "is negative"
                       : a == ISOXML_AMT_RANGE    ? "is too large"
                                                  : "is not a decimal number");
    if (w->sum > INT64_MAX - ore)
        return err_set(RL_EDATA, "%s: line %ld: the amounts add up beyond any possible sum",
                       w->label, line_of(amt));
    w->sum += ore;
    w->ntx++;
    if ((w->ids[w->nids].id = strdup(e2e)) == NULL)
        return err_set(RL_ENOMEM, "%s: out of memory", w->label);
    w->ids[w->nids++].line = line_of(idn);
    return RL_OK;
}

static int cmp_e2e(const void *x, const void *y)
{
    const e2e_rec *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* Every PmtInf (SALA, its own totals), then the group totals. Fills the summary's date. */
static int check_sums(walk *w, xmlNode *init, payfile_verified *out)
{
    int rc;
    xmlNode *hdr = isoxml_child(init, "GrpHdr", w->ns);
    size_t cap = 0;
    for (xmlNode *p = isoxml_child(init, "PmtInf", w->ns); p; p = isoxml_next(p->next, "PmtInf", w->ns))
        cap += isoxml_count(p, "CdtTrfTxInf", w->ns);
    if (cap && (w->ids = calloc(cap, sizeof *w->ids)) == NULL)
        return err_set(RL_ENOMEM, "%s: out of memory for %zu payments", w->label, cap);
    for (xmlNode *p = isoxml_child(init, "PmtInf", w->ns); p;
         p = isoxml_next(p->next, "PmtInf", w->ns)) {
        out->pmtinf_count++;
        char cd[16];
        xmlNode *cdn = isoxml_child(
            isoxml_child(isoxml_child(p, "PmtTpInf", w->ns), "CtgyPurp", w->ns), "Cd", w->ns);
        if ((rc = text_of(w, cdn, "PmtInf/PmtTpInf/CtgyPurp/Cd (SALA)", p, cd, sizeof cd)) != RL_OK)
            return rc;
        if (strcmp(cd, "SALA") != 0)
            return err_set(RL_EDATA, "%s: line %ld: PmtInf/PmtTpInf/CtgyPurp/Cd is '%s', not "
                                     "SALA (a salary payment)", w->label, line_of(cdn), cd);
        if (out->exec_date[0] == '\0') {
            xmlNode *d = isoxml_child(p, "ReqdExctnDt", w->ns);
            if (w->version == 9) /* a choice: Dt or DtTm */
                d = isoxml_child(d, "Dt", w->ns) ? isoxml_child(d, "Dt", w->ns)
                                                 : isoxml_child(d, "DtTm", w->ns);
            char t[40];
            if ((rc = text_of(w, d, "PmtInf/ReqdExctnDt", p, t, sizeof t)) != RL_OK)
                return rc;
            snprintf(out->exec_date, sizeof out->exec_date, "%.10s", t);
        }
        uint64_t n0 = w->ntx;
        int64_t s0 = w->sum;
        for (xmlNode *t = isoxml_child(p, "CdtTrfTxInf", w->ns); t;
             t = isoxml_next(t->next, "CdtTrfTxInf", w->ns))
            if ((rc = check_tx(w, t)) != RL_OK)
                return rc;
        if ((rc = check_totals(w, p, "PmtInf", w->ntx - n0, w->sum - s0)) != RL_OK)
            return rc;
    }
    if ((rc = check_totals(w, hdr, "GrpHdr", w->ntx, w->sum)) != RL_OK)
        return rc;
    qsort(w->ids, w->nids, sizeof *w->ids, cmp_e2e);
    for (size_t i = 1; i < w->nids; i++)
        if (strcmp(w->ids[i - 1].id, w->ids[i].id) == 0)
            return err_set(RL_EDATA, "%s: line %ld: EndToEndId '%.40s' is also used on line %ld "
                                     "(each payment needs its own, for the bank's status report)",
                           w->label, w->ids[i].line, w->ids[i].id, w->ids[i - 1].line);
    char id[144];
    if ((rc = text_of(w, isoxml_child(hdr, "MsgId", w->ns), "GrpHdr/MsgId", hdr, id,
                      sizeof id)) != RL_OK)
        return rc;
    snprintf(out->msg_id, sizeof out->msg_id, "%s", id);
    out->count = w->ntx;
    out->total_ore = w->sum;
    return RL_OK;
}

/* The value of key= in the trusted comment (space-separated key=value words) into buf;
 * false when absent. */
static bool tc_get(const char *tc, const char *key, char *buf, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = tc; *p;) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            snprintf(buf, cap, "%.*s", (int)(n - kl - 1), p + kl + 1);
            return true;
        }
        p += n;
    }
    buf[0] = '\0';
    return false;
}

static int check_comment(const char *label, const char *tc, payfile_verified *out)
{
    static const char head[] = "reservlon payfile ";
    char v[160], a[32];
    if (strncmp(tc, head, sizeof head - 1) != 0)
        return err_set(RL_EDATA, "%s: the signature is valid but its trusted comment is not a "
                                 "payment file's ('%.60s'): this key signed it for something else",
                       label, tc);
    const char *need[] = {"mode", "msgid", "count", "total"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!tc_get(tc, need[i], v, sizeof v))
            return err_set(RL_EDATA, "%s: the signature's trusted comment has no %s=", label,
                           need[i]);
    tc_get(tc, "msgid", v, sizeof v);
    if (strcmp(v, out->msg_id) != 0)
        return err_set(RL_EDATA, "%s: the signature says msgid=%s but GrpHdr/MsgId is %s", label,
                       v, out->msg_id);
    tc_get(tc, "count", v, sizeof v);
    char cnt[32];
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)out->count);
    if (strcmp(v, cnt) != 0)
        return err_set(RL_EDATA, "%s: the signature says count=%s but GrpHdr/NbOfTxs is %s", label,
                       v, cnt);
    /* total=1234.56 followed by the word SEK */
    tc_get(tc, "total", v, sizeof v);
    int64_t ore = -1;
    int dec = 0;
    field_money_format(out->total_ore, a);
    if (isoxml_parse_ore(v, &ore, &dec) != ISOXML_AMT_OK || ore != out->total_ore ||
        strstr(tc, " SEK ") == NULL)
        return err_set(RL_EDATA, "%s: the signature says total=%s but GrpHdr/CtrlSum is %s SEK",
                       label, v, a);
    tc_get(tc, "mode", v, sizeof v);
    bool drill_id = strncmp(out->msg_id, "DRILL-", 6) == 0;
    if (strcmp(v, "drill") != 0 && strcmp(v, "production") != 0)
        return err_set(RL_EDATA, "%s: the signature's mode=%s is neither production nor drill",
                       label, v);
    out->drill = strcmp(v, "drill") == 0;
    if (out->drill != drill_id)
        return err_set(RL_EDATA, "%s: the signature says mode=%s but the MsgId %s %s with DRILL-",
                       label, v, out->msg_id, drill_id ? "starts" : "does not start");
    if (tc_get(tc, "exec", v, sizeof v) && strcmp(v, out->exec_date) != 0)
        return err_set(RL_EDATA, "%s: the signature says exec=%s but ReqdExctnDt is %s", label, v,
                       out->exec_date);
    if (tc_get(tc, "key", v, sizeof v) && strcmp(v, out->key_id) != 0)
        return err_set(RL_EDATA, "%s: the signature's comment names key=%s but it was made with "
                                 "key %s", label, v, out->key_id);
    tc_get(tc, "by", out->signed_by, sizeof out->signed_by);
    tc_get(tc, "signed", out->signed_at, sizeof out->signed_at);
    tc_get(tc, "payrun", out->payrun, sizeof out->payrun);
    tc_get(tc, "seq", out->seq, sizeof out->seq);
    tc_get(tc, "left_out", out->left_out, sizeof out->left_out);
    tc_get(tc, "file", out->file, sizeof out->file);
    return RL_OK;
}

int payfile_verify(const char *path, const minisig_pubkey *pk, const char *xsd_dir,
                   payfile_verified *out)
{
    int rc;
    char *data = NULL, *sig = NULL, sig_path[4096];
    size_t dlen = 0, slen = 0;
    xmlDocPtr doc = NULL;
    walk w = {.label = path};
    memset(out, 0, sizeof *out);
    minisig_key_id_hex(pk->key_id, out->key_id);
    if ((size_t)snprintf(sig_path, sizeof sig_path, "%s.minisig", path) >= sizeof sig_path)
        return err_set(RL_EUSAGE, "%s: path too long", path);

    /* One read: the bytes whose signature is checked are the bytes parsed (the file cannot
     * be swapped between the two). */
    if ((rc = file_read_all(path, PAYFILE_VERIFY_MAX_BYTES, &data, &dlen)) != RL_OK)
        goto cleanup;
    if (file_read_all(sig_path, SIG_MAX, &sig, &slen) != RL_OK) {
        rc = err_wrap(RL_EINTEGRITY, "%s: no usable signature (FILE.minisig): ", path);
        goto cleanup;
    }
    if ((rc = minisig_verify(pk, (const uint8_t *)data, dlen, sig, slen, out->trusted_comment,
                             sizeof out->trusted_comment)) != RL_OK) {
        rc = err_wrap(RL_EINTEGRITY, "%s: the signature does not verify with key %s: ", path,
                      out->key_id);
        goto cleanup;
    }

    if (dlen == 0) {
        rc = err_set(RL_EDATA, "%s: the file is empty", path);
        goto cleanup;
    }
    if ((rc = isoxml_parse(data, dlen, path, "a payment file", &doc)) != RL_OK)
        goto cleanup;
    xmlNode *root = xmlDocGetRootElement(doc);
    const char *href = root && root->ns ? (const char *)root->ns->href : "";
    w.version = strcmp(href, NS_03) == 0 ? 3 : strcmp(href, NS_09) == 0 ? 9 : 0;
    if (w.version == 0 || strcmp((const char *)root->name, "Document") != 0) {
        rc = err_set(RL_EDATA, "%s: not a pain.001.001.03 or pain.001.001.09 payment file: the "
                               "root element is '%.40s' in namespace '%.100s'",
                     path, root ? (const char *)root->name : "", href[0] ? href : "(none)");
        goto cleanup;
    }
    w.ns = href;
    out->version = w.version;
    if ((rc = isoxml_validate(doc, xsd_dir, w.version == 3 ? "pain.001.001.03" : "pain.001.001.09",
                              href, path)) != RL_OK)
        goto cleanup;
    if ((rc = check_sums(&w, isoxml_child(root, "CstmrCdtTrfInitn", w.ns), out)) != RL_OK ||
        (rc = check_comment(path, out->trusted_comment, out)) != RL_OK)
        goto cleanup;
cleanup:
    for (size_t i = 0; i < w.nids; i++)
        free(w.ids[i].id);
    free(w.ids);
    xmlFreeDoc(doc);
    free(data);
    free(sig);
    return rc;
}
