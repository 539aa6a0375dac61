/* pain002: the status report parser. libxml2 builds the tree and validates it against the
 * bundled XSD; the values are then copied out so the tree is freed before returning. */
#include "payfile/pain002.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "common/err.h"
#include "common/fileio.h"

#define NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:"
#define NS_03 NS_PREFIX "pain.002.001.03"
#define NS_10 NS_PREFIX "pain.002.001.10"
#define XSD_MAX ((size_t)4 * 1024 * 1024)

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_arg;
#else
typedef xmlError *xml_error_arg;
#endif

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

/* The first error libxml2 reports (usually the cause), the last one (for a truncated file
 * "Premature end of data", which says what happened) and how many there were; and whether
 * the parser met a DOCTYPE. */
typedef struct {
    long line, last_line;
    char msg[300], last[300];
    unsigned n;
    bool doctype;
    long doctype_line;
} capture;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* --- libxml2 plumbing ------------------------------------------------------------------ */

static void copy_msg(char *dst, size_t cap, const char *m)
{
    snprintf(dst, cap, "%s", m ? m : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void capture_error(capture *c, xml_error_arg e)
{
    /* Warnings (e.g. a relative namespace URI) do not make a report unusable. */
    if (e == NULL || e->level < XML_ERR_ERROR)
        return;
    if (c->n++ == 0) {
        c->line = e->line;
        copy_msg(c->msg, sizeof c->msg, e->message);
    }
    c->last_line = e->line;
    copy_msg(c->last, sizeof c->last, e->message);
}

/* "line L: first message" plus, when there were more, "(N more errors, the last: ...)".
 * Encoding errors come without a line (0): no "line 0". */
static void describe(const capture *c, char *out, size_t cap)
{
    char l1[32] = "", l2[32] = "";
    if (c->line > 0)
        snprintf(l1, sizeof l1, "line %ld: ", c->line);
    if (c->last_line > 0)
        snprintf(l2, sizeof l2, "line %ld: ", c->last_line);
    if (c->n == 0)
        snprintf(out, cap, "no detail from libxml2");
    else if (c->n == 1)
        snprintf(out, cap, "%s%s", l1, c->msg);
    else
        snprintf(out, cap, "%s%s (%u more error%s, the last: %s%s)", l1, c->msg, c->n - 1,
                 c->n == 2 ? "" : "s", l2, c->last);
}

static void on_parse_error(void *ctx, xml_error_arg e)
{
    xmlParserCtxtPtr ctxt = ctx;
    capture_error(ctxt->_private, e);
}

/* Schema parser and validator errors, and parser errors without a context. */
static void on_schema_error(void *ud, xml_error_arg e) { capture_error(ud, e); }

/* SAX hook for <!DOCTYPE: called before any declaration inside it is read, so neither an
 * external entity (XXE) nor an expansion bomb ever reaches the entity code. A bank status
 * report never has a DTD. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    xmlParserCtxtPtr ctxt = ctx;
    capture *c = ctxt->_private;
    c->doctype = true;
    c->doctype_line = ctxt->input ? ctxt->input->line : 0;
    xmlStopParser(ctxt);
}

/* Removes "{namespace}" from libxml2's schema messages: every element is in the report's
 * namespace, and the user reads "Element 'TxSts'" more easily. */
static void strip_ns(char *msg, const char *ns)
{
    char pat[80];
    snprintf(pat, sizeof pat, "{%s}", ns);
    size_t pl = strlen(pat);
    char *p;
    while ((p = strstr(msg, pat)) != NULL)
        memmove(p, p + pl, strlen(p + pl) + 1);
}

static int parse_xml(const char *xml, size_t len, xmlDocPtr *out)
{
    int rc = RL_OK;
    capture cap = {0};
    xmlDocPtr doc = NULL;
    *out = NULL;
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (ctxt == NULL)
        return err_set(RL_ENOMEM, "pain.002: out of memory creating the XML parser");
    /* NONET: no network, ever. Not NOENT/DTDLOAD/DTDATTR/XINCLUDE: nothing is substituted
     * or fetched. BIG_LINES: true line numbers past 65535 in messages. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    ctxt->_private = &cap;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->serror = on_parse_error;
    ctxt->sax->initialized = XML_SAX2_MAGIC; /* so libxml2 uses serror */
    /* Errors raised without the parser context (input encoding conversion) go to the
     * thread's structured handler, by default stderr: capture them too, then restore. */
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&cap, on_schema_error);
    (void)xmlParseDocument(ctxt);
    xmlSetStructuredErrorFunc(old_ctx, old_fn);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    if (cap.doctype) {
        rc = err_set(RL_EDATA,
                     "pain.002: line %ld: a DOCTYPE is not allowed in a bank status report "
                     "(DTDs and entities are refused)",
                     cap.doctype_line);
        goto cleanup;
    }
    if (!ctxt->wellFormed || doc == NULL) {
        char what[800];
        describe(&cap, what, sizeof what);
        rc = err_set(RL_EDATA, "pain.002: not well-formed XML: %s", what);
        goto cleanup;
    }
    *out = doc;
    doc = NULL;
cleanup:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

static int validate(xmlDocPtr doc, const char *xsd_dir, const char *ver, const char *ns)
{
    int rc = RL_OK;
    char path[4096];
    char *buf = NULL;
    size_t blen = 0;
    capture cap = {0};
    xmlSchemaParserCtxtPtr pctxt = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vctxt = NULL;

    if ((size_t)snprintf(path, sizeof path, "%s/pain.002.001.%s.xsd", xsd_dir, ver) >=
        sizeof path)
        return err_set(RL_EIO, "pain.002: schema directory path too long");
    /* An unreadable schema is an installation problem, not the report's: RL_EIO. */
    if (file_read_all(path, XSD_MAX, &buf, &blen) != RL_OK) {
        rc = err_wrap(RL_EIO, "pain.002: cannot load the schema: ");
        goto cleanup;
    }
    pctxt = xmlSchemaNewMemParserCtxt(buf, (int)blen);
    if (pctxt == NULL) {
        rc = err_set(RL_ENOMEM, "pain.002: out of memory loading %s", path);
        goto cleanup;
    }
    xmlSchemaSetParserStructuredErrors(pctxt, on_schema_error, &cap);
    schema = xmlSchemaParse(pctxt);
    if (schema == NULL) {
        char what[800];
        describe(&cap, what, sizeof what);
        rc = err_set(RL_EIO, "pain.002: schema %s does not load: %s", path, what);
        goto cleanup;
    }
    vctxt = xmlSchemaNewValidCtxt(schema);
    if (vctxt == NULL) {
        rc = err_set(RL_ENOMEM, "pain.002: out of memory validating");
        goto cleanup;
    }
    xmlSchemaSetValidStructuredErrors(vctxt, on_schema_error, &cap);
    int v = xmlSchemaValidateDoc(vctxt, doc);
    if (v != 0) {
        char what[800];
        strip_ns(cap.msg, ns);
        strip_ns(cap.last, ns);
        describe(&cap, what, sizeof what);
        rc = err_set(RL_EDATA, "pain.002: not valid against pain.002.001.%s.xsd: %s%s", ver,
                     what, v < 0 ? " (libxml2 internal validator error)" : "");
    }
cleanup:
    xmlSchemaFreeValidCtxt(vctxt);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctxt);
    free(buf);
    return rc;
}

/* --- tree helpers (the tree is valid against the XSD when these run) ------------------- */

static bool is_el(const xmlNode *n, const char *name, const char *ns)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *next_el(xmlNode *n, const char *name, const char *ns)
{
    for (; n != NULL; n = n->next)
        if (is_el(n, name, ns))
            return n;
    return NULL;
}

static xmlNode *child(const xmlNode *parent, const char *name, const char *ns)
{
    return parent ? next_el(parent->children, name, ns) : NULL;
}

static size_t count_el(const xmlNode *parent, const char *name, const char *ns)
{
    size_t k = 0;
    for (xmlNode *n = child(parent, name, ns); n; n = next_el(n->next, name, ns))
        k++;
    return k;
}

/* The element's text as a malloc'd string ("" for a NULL node). */
static int dup_text(const xmlNode *n, char **out)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    *out = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return *out ? RL_OK : err_set(RL_ENOMEM, "pain.002: out of memory");
}

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

enum { AMT_OK, AMT_SYNTAX, AMT_DECIMALS, AMT_RANGE, AMT_NEGATIVE };

static bool xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* An xs:decimal (already validated, surrounding whitespace allowed) in öre. Digits beyond
 * the second decimal must be zeros: an amount is never rounded. */
static int parse_ore(const char *s, int64_t *out)
{
    const int64_t lim = (INT64_MAX - 99) / 100; /* the largest whole part that fits in öre */
    const char *p = s, *end = s + strlen(s);
    while (p < end && xml_space(*p))
        p++;
    while (end > p && xml_space(end[-1]))
        end--;
    bool neg = false;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    int64_t whole = 0, frac = 0;
    int ndig = 0, nfrac = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, ndig++) {
        int d = *p - '0';
        if (whole > (lim - d) / 10)
            return AMT_RANGE;
        whole = whole * 10 + d;
    }
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, ndig++) {
            if (nfrac == 2 && *p != '0')
                return AMT_DECIMALS;
            if (nfrac < 2)
                frac = frac * 10 + (*p - '0'), nfrac++;
        }
    if (p != end || ndig == 0)
        return AMT_SYNTAX;
    for (; nfrac < 2; nfrac++) /* "12.5" is 1250 öre */
        frac *= 10;
    int64_t v = whole * 100 + frac;
    if (neg && v != 0)
        return AMT_NEGATIVE;
    *out = v;
    return AMT_OK;
}

/* Reads an amount element into *ore; what names the element in messages. */
static int amount(const xmlNode *n, const char *what, const char *where, int64_t *ore)
{
    char *t = NULL;
    int rc = dup_text(n, &t);
    if (rc != RL_OK)
        return rc;
    switch (parse_ore(t, ore)) {
    case AMT_OK: break;
    case AMT_DECIMALS:
        rc = err_set(RL_EDATA,
                     "pain.002: line %ld: %s '%.40s'%s has more than 2 decimals (amounts are "
                     "whole öre and are never rounded)",
                     xmlGetLineNo(n), what, t, where);
        break;
    case AMT_RANGE:
        rc = err_set(RL_EDATA, "pain.002: line %ld: %s '%.40s'%s is too large", xmlGetLineNo(n),
                     what, t, where);
        break;
    case AMT_NEGATIVE:
        rc = err_set(RL_EDATA, "pain.002: line %ld: %s '%.40s'%s is negative", xmlGetLineNo(n),
                     what, t, where);
        break;
    default:
        rc = err_set(RL_EDATA, "pain.002: line %ld: %s '%.40s'%s is not a decimal number",
                     xmlGetLineNo(n), what, t, where);
        break;
    }
    free(t);
    return rc;
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
    r->npmt = count_el(rpt, "OrgnlPmtInfAndSts", ns);
    for (xmlNode *p = child(rpt, "OrgnlPmtInfAndSts", ns); p;
         p = next_el(p->next, "OrgnlPmtInfAndSts", ns))
        ntx += count_el(p, "TxInfAndSts", ns);
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
    /* xmlInitParser is not safe to race; once per process, and never cleaned up here:
     * xmlCleanupParser would pull libxml2 out from under any other user in the process. */
    pthread_once(&xml_once, xmlInitParser);

    if ((rc = parse_xml(xml, len, &doc)) != RL_OK)
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
    if ((rc = validate(doc, xsd_dir, ver, href)) != RL_OK)
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
