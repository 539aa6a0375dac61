/* pain002: the status report parser. libxml2 builds the tree and validates it against the
 * bundled XSD (common/isoxml, the hardened parser shared with the pain.001 verifier); the
 * values are then copied out so the tree is freed before returning. */
#include "payfile/pain002.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "common/err.h"
#include "common/isoxml.h"

#define NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:"
#define NS_03 NS_PREFIX "pain.002.001.03"
#define NS_10 NS_PREFIX "pain.002.001.10"

typedef struct {
    char *id, *status, *reason, *info;
    size_t ntx;
} pmt_rec;

typedef struct {
    size_t pmt; /* its OrgnlPmtInfAndSts: index into the report's pmt */
    char *e2e, *status, *reason, *prtry, *info, *ccy;
    int64_t ore;
    bool has_amount;
} tx_rec;

struct pain002_report {
    int version;
    char *msg_id, *created, *orig_msg_id, *orig_msg_name, *grp_status, *grp_reason, *grp_info;
    bool has_nb, has_sum;
    uint64_t nb;
    int64_t sum_ore;
    pmt_rec *pmt;
    size_t npmt;
    tx_rec *tx;
    size_t ntx;
};

/* --- tree helpers (the tree is valid against the XSD when these run) ------------------- */

static xmlNode *next_el(xmlNode *n, const char *name, const char *ns)
{
    return isoxml_next(n, name, ns);
}

static xmlNode *child(const xmlNode *parent, const char *name, const char *ns)
{
    return isoxml_child(parent, name, ns);
}

static int dup_text(const xmlNode *n, char **out) { return isoxml_dup_text(n, "pain.002", out); }


/* The first Rsn/Cd, Rsn/Prtry and AddtlInf over the StsRsnInf children of parent (each may
 * come from a different StsRsnInf: banks put the code and the text in separate blocks). */
static int reasons(const xmlNode *parent, const char *ns, char **cd, char **prtry, char **info)
{
    xmlNode *cdn = NULL, *prn = NULL, *inf = NULL;
    for (xmlNode *s = child(parent, "StsRsnInf", ns); s; s = next_el(s->next, "StsRsnInf", ns)) {
        xmlNode *rsn = child(s, "Rsn", ns);
        if (!cdn)
            cdn = child(rsn, "Cd", ns);
        if (!prn)
            prn = child(rsn, "Prtry", ns);
        if (!inf)
            inf = child(s, "AddtlInf", ns);
    }
    int rc = dup_text(cdn, cd);
    if (rc == RL_OK && prtry)
        rc = dup_text(prn, prtry);
    if (rc == RL_OK)
        rc = dup_text(inf, info);
    return rc;
}

/* Reads an amount element into *ore; what names the element in messages. */
static int amount(const xmlNode *n, const char *what, const char *where, int64_t *ore)
{
    return isoxml_amount(n, "pain.002", what, where, ore);
}

/* --- extraction ---------------------------------------------------------------------- */

static int read_tx(const xmlNode *n, const char *ns, size_t pmt, tx_rec *t)
{
    int rc;
    t->pmt = pmt;
    if ((rc = dup_text(child(n, "OrgnlEndToEndId", ns), &t->e2e)) != RL_OK ||
        (rc = dup_text(child(n, "TxSts", ns), &t->status)) != RL_OK ||
        (rc = reasons(n, ns, &t->reason, &t->prtry, &t->info)) != RL_OK)
        return rc;
    /* Amt is a choice: InstdAmt, or EqvtAmt (an amount to convert) which is not taken. */
    xmlNode *amt = child(child(child(n, "OrgnlTxRef", ns), "Amt", ns), "InstdAmt", ns);
    if (amt == NULL)
        return dup_text(NULL, &t->ccy);
    char where[64];
    snprintf(where, sizeof where, " (OrgnlEndToEndId %s)", t->e2e[0] ? t->e2e : "absent");
    if ((rc = amount(amt, "InstdAmt", where, &t->ore)) != RL_OK)
        return rc;
    t->has_amount = true;
    xmlChar *ccy = xmlGetProp(amt, (const xmlChar *)"Ccy");
    t->ccy = strdup(ccy ? (const char *)ccy : "");
    xmlFree(ccy);
    return t->ccy ? RL_OK : err_set(RL_ENOMEM, "pain.002: out of memory");
}

static int extract(const xmlNode *root, const char *ns, pain002_report *r)
{
    int rc;
    xmlNode *rpt = child(root, "CstmrPmtStsRpt", ns);
    xmlNode *hdr = child(rpt, "GrpHdr", ns);
    xmlNode *grp = child(rpt, "OrgnlGrpInfAndSts", ns);
    if ((rc = dup_text(child(hdr, "MsgId", ns), &r->msg_id)) != RL_OK ||
        (rc = dup_text(child(hdr, "CreDtTm", ns), &r->created)) != RL_OK ||
        (rc = dup_text(child(grp, "OrgnlMsgId", ns), &r->orig_msg_id)) != RL_OK ||
        (rc = dup_text(child(grp, "OrgnlMsgNmId", ns), &r->orig_msg_name)) != RL_OK ||
        (rc = dup_text(child(grp, "GrpSts", ns), &r->grp_status)) != RL_OK ||
        (rc = reasons(grp, ns, &r->grp_reason, NULL, &r->grp_info)) != RL_OK)
        return rc;
    xmlNode *nb = child(grp, "OrgnlNbOfTxs", ns);
    if (nb) {
        char *t = NULL;
        if ((rc = dup_text(nb, &t)) != RL_OK)
            return rc;
        /* Max15NumericText: [0-9]{1,15}, so it fits */
        r->nb = strtoull(t, NULL, 10);
        r->has_nb = true;
        free(t);
    }
    xmlNode *sum = child(grp, "OrgnlCtrlSum", ns);
    if (sum) {
        if ((rc = amount(sum, "OrgnlCtrlSum", "", &r->sum_ore)) != RL_OK)
            return rc;
        r->has_sum = true;
    }

    /* Counted first so each array is allocated once. */
    size_t ntx = 0;
    r->npmt = isoxml_count(rpt, "OrgnlPmtInfAndSts", ns);
    for (xmlNode *p = child(rpt, "OrgnlPmtInfAndSts", ns); p;
         p = next_el(p->next, "OrgnlPmtInfAndSts", ns))
        ntx += isoxml_count(p, "TxInfAndSts", ns);
    if ((r->npmt && (r->pmt = calloc(r->npmt, sizeof *r->pmt)) == NULL) ||
        (ntx && (r->tx = calloc(ntx, sizeof *r->tx)) == NULL)) {
        r->npmt = 0;
        return err_set(RL_ENOMEM, "pain.002: out of memory for %zu transactions", ntx);
    }
    size_t i = 0;
    for (xmlNode *p = child(rpt, "OrgnlPmtInfAndSts", ns); p;
         p = next_el(p->next, "OrgnlPmtInfAndSts", ns), i++) {
        pmt_rec *m = &r->pmt[i];
        if ((rc = dup_text(child(p, "OrgnlPmtInfId", ns), &m->id)) != RL_OK ||
            (rc = dup_text(child(p, "PmtInfSts", ns), &m->status)) != RL_OK ||
            (rc = reasons(p, ns, &m->reason, NULL, &m->info)) != RL_OK)
            return rc;
        for (xmlNode *t = child(p, "TxInfAndSts", ns); t; t = next_el(t->next, "TxInfAndSts", ns)) {
            /* r->ntx counts the records to free, including a half-filled one */
            if ((rc = read_tx(t, ns, i, &r->tx[r->ntx++])) != RL_OK)
                return rc;
            m->ntx++;
        }
    }
    return RL_OK;
}

/* --- public ------------------------------------------------------------------------------ */

int pain002_parse(const char *xml, size_t len, const char *xsd_dir, pain002_report **out)
{
    int rc;
    xmlDocPtr doc = NULL;
    pain002_report *r = NULL;
    *out = NULL;
    if (xsd_dir == NULL || (xml == NULL && len > 0))
        return err_set(RL_EUSAGE, "pain.002: no schema directory or no input");
    if (len == 0)
        return err_set(RL_EDATA, "pain.002: the status report is empty");
    if (len > PAIN002_MAX_BYTES)
        return err_set(RL_EDATA,
                       "pain.002: the status report is %zu bytes, more than the %zu MiB limit", len,
                       PAIN002_MAX_BYTES >> 20);
    if ((rc = isoxml_parse(xml, len, "pain.002", "a bank status report", &doc)) != RL_OK)
        goto cleanup;
    xmlNode *root = xmlDocGetRootElement(doc);
    const char *href = root && root->ns ? (const char *)root->ns->href : "";
    const char *ver = strcmp(href, NS_03) == 0 ? "03" : strcmp(href, NS_10) == 0 ? "10" : NULL;
    if (ver == NULL || strcmp((const char *)root->name, "Document") != 0) {
        rc = err_set(RL_EDATA,
                     "pain.002: not a pain.002.001.03 or pain.002.001.10 status report: the root "
                     "element is '%.40s' in namespace '%.100s'%s",
                     root ? (const char *)root->name : "", href[0] ? href : "(none)",
                     strncmp(href, NS_PREFIX "pain.001.", strlen(NS_PREFIX "pain.001.")) == 0
                         ? " (a payment file, not the bank's status report)"
                         : "");
        goto cleanup;
    }
    char schema[32];
    snprintf(schema, sizeof schema, "pain.002.001.%s", ver);
    if ((rc = isoxml_validate(doc, xsd_dir, schema, href, "pain.002")) != RL_OK)
        goto cleanup;

    r = calloc(1, sizeof *r);
    if (r == NULL) {
        rc = err_set(RL_ENOMEM, "pain.002: out of memory");
        goto cleanup;
    }
    r->version = ver[0] == '0' ? 3 : 10;
    if ((rc = extract(root, href, r)) != RL_OK)
        goto cleanup;
    *out = r;
    r = NULL;
cleanup:
    pain002_free(r);
    xmlFreeDoc(doc);
    return rc;
}

void pain002_free(pain002_report *r)
{
    if (r == NULL)
        return;
    free(r->msg_id);
    free(r->created);
    free(r->orig_msg_id);
    free(r->orig_msg_name);
    free(r->grp_status);
    free(r->grp_reason);
    free(r->grp_info);
    for (size_t i = 0; i < r->npmt; i++) {
        free(r->pmt[i].id);
        free(r->pmt[i].status);
        free(r->pmt[i].reason);
        free(r->pmt[i].info);
    }
    for (size_t i = 0; i < r->ntx; i++) {
        tx_rec *t = &r->tx[i];
        free(t->e2e);
        free(t->status);
        free(t->reason);
        free(t->prtry);
        free(t->info);
        free(t->ccy);
    }
    free(r->pmt);
    free(r->tx);
    free(r);
}

int pain002_version(const pain002_report *r) { return r->version; }
const char *pain002_msg_id(const pain002_report *r) { return r->msg_id; }
const char *pain002_created(const pain002_report *r) { return r->created; }
const char *pain002_orig_msg_id(const pain002_report *r) { return r->orig_msg_id; }
const char *pain002_orig_msg_name(const pain002_report *r) { return r->orig_msg_name; }
const char *pain002_group_status(const pain002_report *r) { return r->grp_status; }
const char *pain002_group_reason(const pain002_report *r) { return r->grp_reason; }
const char *pain002_group_info(const pain002_report *r) { return r->grp_info; }
size_t pain002_pmtinf_count(const pain002_report *r) { return r->npmt; }
size_t pain002_tx_count(const pain002_report *r) { return r->ntx; }

bool pain002_orig_nb_of_txs(const pain002_report *r, uint64_t *n)
{
    if (r->has_nb)
        *n = r->nb;
    return r->has_nb;
}

bool pain002_orig_ctrl_sum(const pain002_report *r, int64_t *ore)
{
    if (r->has_sum)
        *ore = r->sum_ore;
    return r->has_sum;
}

int pain002_pmtinf_at(const pain002_report *r, size_t i, pain002_pmtinf *out)
{
    if (i >= r->npmt)
        return err_set(RL_EUSAGE, "pain.002: payment information %zu of %zu", i, r->npmt);
    const pmt_rec *m = &r->pmt[i];
    *out = (pain002_pmtinf){.id = m->id, .status = m->status, .reason = m->reason,
                            .info = m->info, .tx_count = m->ntx};
    return RL_OK;
}

int pain002_tx_at(const pain002_report *r, size_t i, pain002_tx *out)
{
    if (i >= r->ntx)
        return err_set(RL_EUSAGE, "pain.002: transaction %zu of %zu", i, r->ntx);
    const tx_rec *t = &r->tx[i];
    const pmt_rec *m = &r->pmt[t->pmt];
    /* ISO 20022: a transaction without its own status has its block's, else the group's. */
    const char *eff = t->status[0] ? t->status : m->status[0] ? m->status : r->grp_status;
    *out = (pain002_tx){.pmtinf_id = m->id, .end_to_end_id = t->e2e, .status = t->status,
                        .effective_status = eff, .reason = t->reason, .reason_prtry = t->prtry,
                        .info = t->info, .currency = t->ccy, .amount_ore = t->ore,
                        .has_amount = t->has_amount};
    return RL_OK;
}

bool pain002_status_is_final_reject(const char *sts) { return sts && strcmp(sts, "RJCT") == 0; }

bool pain002_status_is_accepted(const char *sts)
{
    static const char *const ok[] = {"ACCP", "ACSC", "ACSP", "ACTC", "ACWC", "ACCC"};
    for (size_t i = 0; sts && i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(sts, ok[i]) == 0)
            return true;
    return false;
}
