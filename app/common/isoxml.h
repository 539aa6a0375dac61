/* isoxml: the safe libxml2 plumbing shared by the ISO 20022 readers (pain.002 status reports,
 * pain.001 payment file verification).
 *
 * Documents come from outside (a bank, a USB token), so: parsed from memory with no network,
 * no DTD loading, no entity substitution, and a DOCTYPE refused at the '<!DOCTYPE' itself,
 * before any declaration in it is read (no XXE, no expansion bombs); validated against a
 * bundled XSD given by directory and file name (a schemaLocation in the document is never
 * followed); libxml2's errors captured into the message ("line N: ..."), never stderr.
 * Every message starts with the caller's label ("pain.002: "). The element helpers match
 * by local name and namespace. Safe from several threads; never calls xmlCleanupParser. */
#ifndef RL_ISOXML_H
#define RL_ISOXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

/* Parses len bytes of XML. label prefixes messages ("pain.002"); what names the document in
 * the DOCTYPE refusal ("a bank status report"). Returns RL_OK and *out (xmlFreeDoc), or
 * RL_EDATA (a DOCTYPE, not well-formed: libxml2's first error with its line and, when there
 * were more, the last) or RL_ENOMEM. The caller checks emptiness and size limits. */
int isoxml_parse(const char *xml, size_t len, const char *label, const char *what,
                 xmlDocPtr *out) __attribute__((warn_unused_result));

/* Validates doc against xsd_dir/<schema>.xsd ("pain.002.001.03"). ns is the document's
 * namespace, left out of libxml2's element names in the message. RL_EDATA (invalid: the
 * first error with its line), RL_EIO (the schema missing, unreadable or not loading: an
 * installation problem, not the document's), RL_ENOMEM. */
int isoxml_validate(xmlDocPtr doc, const char *xsd_dir, const char *schema, const char *ns,
                    const char *label) __attribute__((warn_unused_result));

/* Element helpers: n is element name in namespace ns. NULL-safe (a NULL parent has no
 * children). */
bool isoxml_is_el(const xmlNode *n, const char *name, const char *ns);
xmlNode *isoxml_next(xmlNode *n, const char *name, const char *ns); /* n itself or a later sibling */
xmlNode *isoxml_child(const xmlNode *parent, const char *name, const char *ns);
size_t isoxml_count(const xmlNode *parent, const char *name, const char *ns);
/* The element's text as a malloc'd string ("" for a NULL node); RL_ENOMEM. */
int isoxml_dup_text(const xmlNode *n, const char *label, char **out)
    __attribute__((warn_unused_result));

enum { ISOXML_AMT_OK, ISOXML_AMT_SYNTAX, ISOXML_AMT_DECIMALS, ISOXML_AMT_RANGE,
       ISOXML_AMT_NEGATIVE };

/* An xs:decimal ("12.5", " +12.50 ", ".5", "12.") in öre, never through a double. Digits
 * past the second decimal must be zeros (an amount is never rounded); *decimals (may be
 * NULL) gets the number of digits written after the point. -0 is 0. Returns ISOXML_AMT_*. */
int isoxml_parse_ore(const char *s, int64_t *out, int *decimals);

/* Reads an amount element's text into *ore with isoxml_parse_ore; a refusal is RL_EDATA
 * "<label>: line L: <what> '<text>'<where> has more than 2 decimals|is too large|is
 * negative|is not a decimal number". */
int isoxml_amount(const xmlNode *n, const char *label, const char *what, const char *where,
                  int64_t *ore) __attribute__((warn_unused_result));

#endif
