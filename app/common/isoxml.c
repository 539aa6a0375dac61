/* isoxml: libxml2 parsing, XSD validation and tree helpers for ISO 20022 documents
 * (isoxml.h). Factored out of the pain.002 reader so the pain.001 verifier uses the same
 * hardened parser. */
#include "common/isoxml.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "common/err.h"
#include "common/fileio.h"

#define XSD_MAX ((size_t)4 * 1024 * 1024)

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_arg;
#else
typedef xmlError *xml_error_arg;
#endif

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

static void copy_msg(char *dst, size_t cap, const char *m)
{
    snprintf(dst, cap, "%s", m ? m : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void capture_error(capture *c, xml_error_arg e)
{
    /* Warnings (e.g. a relative namespace URI) do not make a document unusable. */
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
 * external entity (XXE) nor an expansion bomb ever reaches the entity code. No ISO 20022
 * message has a DTD. */
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

/* Removes "{namespace}" from libxml2's schema messages: every element is in the document's
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

int isoxml_parse(const char *xml, size_t len, const char *label, const char *what,
                 xmlDocPtr *out)
{
    int rc = RL_OK;
    capture cap = {0};
    xmlDocPtr doc = NULL;
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return err_set(RL_EDATA, "%s: the document is too large (%zu bytes)", label, len);
    /* xmlInitParser is not safe to race; once per process, and never cleaned up here:
     * xmlCleanupParser would pull libxml2 out from under any other user in the process. */
    pthread_once(&xml_once, xmlInitParser);
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (ctxt == NULL)
        return err_set(RL_ENOMEM, "%s: out of memory creating the XML parser", label);
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
                     "%s: line %ld: a DOCTYPE is not allowed in %s (DTDs and entities are "
                     "refused)",
                     label, cap.doctype_line, what);
        goto cleanup;
    }
    if (!ctxt->wellFormed || doc == NULL) {
        char msg[800];
        describe(&cap, msg, sizeof msg);
        rc = err_set(RL_EDATA, "%s: not well-formed XML: %s", label, msg);
        goto cleanup;
    }
    *out = doc;
    doc = NULL;
cleanup:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

int isoxml_validate(xmlDocPtr doc, const char *xsd_dir, const char *schema_name, const char *ns,
                    const char *label)
{
    int rc = RL_OK;
    char path[4096];
    char *buf = NULL;
    size_t blen = 0;
    capture cap = {0};
    xmlSchemaParserCtxtPtr pctxt = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vctxt = NULL;

    if ((size_t)snprintf(path, sizeof path, "%s/%s.xsd", xsd_dir, schema_name) >= sizeof path)
        return err_set(RL_EIO, "%s: schema directory path too long", label);
    /* An unreadable schema is an installation problem, not the document's: RL_EIO. */
    if (file_read_all(path, XSD_MAX, &buf, &blen) != RL_OK) {
        rc = err_wrap(RL_EIO, "%s: cannot load the schema: ", label);
        goto cleanup;
    }
    pctxt = xmlSchemaNewMemParserCtxt(buf, (int)blen);
    if (pctxt == NULL) {
        rc = err_set(RL_ENOMEM, "%s: out of memory loading %s", label, path);
        goto cleanup;
    }
    xmlSchemaSetParserStructuredErrors(pctxt, on_schema_error, &cap);
    schema = xmlSchemaParse(pctxt);
    if (schema == NULL) {
        char msg[800];
        describe(&cap, msg, sizeof msg);
        rc = err_set(RL_EIO, "%s: schema %s does not load: %s", label, path, msg);
        goto cleanup;
    }
    vctxt = xmlSchemaNewValidCtxt(schema);
    if (vctxt == NULL) {
        rc = err_set(RL_ENOMEM, "%s: out of memory validating", label);
        goto cleanup;
    }
    xmlSchemaSetValidStructuredErrors(vctxt, on_schema_error, &cap);
    int v = xmlSchemaValidateDoc(vctxt, doc);
    if (v != 0) {
        char msg[800];
        strip_ns(cap.msg, ns);
        strip_ns(cap.last, ns);
        describe(&cap, msg, sizeof msg);
        rc = err_set(RL_EDATA, "%s: not valid against %s.xsd: %s%s", label, schema_name, msg,
                     v < 0 ? " (libxml2 internal validator error)" : "");
    }
cleanup:
    xmlSchemaFreeValidCtxt(vctxt);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctxt);
    free(buf);
    return rc;
}

/* --- tree helpers ------------------------------------------------------------------------ */

bool isoxml_is_el(const xmlNode *n, const char *name, const char *ns)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

xmlNode *isoxml_next(xmlNode *n, const char *name, const char *ns)
{
    for (; n != NULL; n = n->next)
        if (isoxml_is_el(n, name, ns))
            return n;
    return NULL;
}

xmlNode *isoxml_child(const xmlNode *parent, const char *name, const char *ns)
{
    return parent ? isoxml_next(parent->children, name, ns) : NULL;
}

size_t isoxml_count(const xmlNode *parent, const char *name, const char *ns)
{
    size_t k = 0;
    for (xmlNode *n = isoxml_child(parent, name, ns); n; n = isoxml_next(n->next, name, ns))
        k++;
    return k;
}

int isoxml_dup_text(const xmlNode *n, const char *label, char **out)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    *out = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return *out ? RL_OK : err_set(RL_ENOMEM, "%s: out of memory", label);
}

/* --- amounts ----------------------------------------------------------------------------- */

static bool xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int isoxml_parse_ore(const char *s, int64_t *out, int *decimals)
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
    int ndig = 0, nfrac = 0, written = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, ndig++) {
        int d = *p - '0';
        if (whole > (lim - d) / 10)
            return ISOXML_AMT_RANGE;
        whole = whole * 10 + d;
    }
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, ndig++, written++) {
            if (nfrac == 2 && *p != '0')
                return ISOXML_AMT_DECIMALS;
            if (nfrac < 2)
                frac = frac * 10 + (*p - '0'), nfrac++;
        }
    if (p != end || ndig == 0)
        return ISOXML_AMT_SYNTAX;
    for (; nfrac < 2; nfrac++) /* "12.5" is 1250 öre */
        frac *= 10;
    int64_t v = whole * 100 + frac;
    if (neg && v != 0)
        return ISOXML_AMT_NEGATIVE;
    *out = v;
    if (decimals)
        *decimals = written;
    return ISOXML_AMT_OK;
}

int isoxml_amount(const xmlNode *n, const char *label, const char *what, const char *where,
                  int64_t *ore)
{
    char *t = NULL;
    int rc = isoxml_dup_text(n, label, &t);
    if (rc != RL_OK)
        return rc;
    long line = n ? xmlGetLineNo(n) : 0;
    switch (isoxml_parse_ore(t, ore, NULL)) {
    case ISOXML_AMT_OK: break;
    case ISOXML_AMT_DECIMALS:
        rc = err_set(RL_EDATA,
                     "%s: line %ld: %s '%.40s'%s has more than 2 decimals (amounts are whole "
                     "öre and are never rounded)",
                     label, line, what, t, where);
        break;
    case ISOXML_AMT_RANGE:
        rc = err_set(RL_EDATA, "%s: line %ld: %s '%.40s'%s is too large", label, line, what, t,
                     where);
        break;
    case ISOXML_AMT_NEGATIVE:
        rc = err_set(RL_EDATA, "%s: line %ld: %s '%.40s'%s is negative", label, line, what, t,
                     where);
        break;
    default:
        rc = err_set(RL_EDATA, "%s: line %ld: %s '%.40s'%s is not a decimal number", label, line,
                     what, t, where);
        break;
    }
    free(t);
    return rc;
}
