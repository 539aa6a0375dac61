/* pain002: the bank's payment status report (ISO 20022 pain.002, customer payment status
 * report) for a payment file we sent, versions pain.002.001.03 and pain.002.001.10.
 *
 * The report comes from outside (the bank, over the USB token), so it is refused whole
 * unless it is well-formed XML in one of the two namespaces and validates against the
 * bundled official XSD. No network, no DTD, no entities: a DOCTYPE is refused before any
 * declaration in it is read (no XXE, no entity expansion bombs). Status codes are kept as
 * the bank's text; mapping EndToEndIds back to people is the importer's job
 * (payfile_end_to_end_id). docs/payfile.md, "Bank status reports (pain.002)". */
#ifndef RL_PAIN002_H
#define RL_PAIN002_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Larger inputs are refused before parsing. */
#define PAIN002_MAX_BYTES ((size_t)64 * 1024 * 1024)

typedef struct pain002_report pain002_report;

/* One OrgnlPmtInfAndSts/TxInfAndSts. Strings are UTF-8, never NULL ("" when absent), and
 * valid until pain002_free. */
typedef struct pain002_tx {
    const char *pmtinf_id;        /* its OrgnlPmtInfAndSts/OrgnlPmtInfId */
    const char *end_to_end_id;    /* OrgnlEndToEndId */
    const char *status;           /* TxSts as written, e.g. "RJCT" */
    const char *effective_status; /* TxSts, else its PmtInfSts, else GrpSts, else "" */
    const char *reason;           /* the first StsRsnInf/Rsn/Cd, e.g. "AC01" */
    const char *reason_prtry;     /* the first StsRsnInf/Rsn/Prtry (bank-specific codes) */
    const char *info;             /* the first StsRsnInf/AddtlInf */
    const char *currency;         /* OrgnlTxRef/Amt/InstdAmt/@Ccy, "" without an amount */
    int64_t amount_ore;           /* InstdAmt in öre (hundredths), 0 without an amount */
    bool has_amount;
} pain002_tx;

/* One OrgnlPmtInfAndSts (a payment information block of the original file). */
typedef struct pain002_pmtinf {
    const char *id;     /* OrgnlPmtInfId */
    const char *status; /* PmtInfSts, "" if absent */
    const char *reason; /* the first StsRsnInf/Rsn/Cd on this level */
    const char *info;   /* the first StsRsnInf/AddtlInf on this level */
    size_t tx_count;    /* its TxInfAndSts */
} pain002_pmtinf;

/* Parses and validates a status report of len bytes (need not be NUL-terminated).
 * xsd_dir holds pain.002.001.03.xsd and pain.002.001.10.xsd (app/data/iso20022).
 * Returns RL_OK and *out (free with pain002_free), or sets *out = NULL and returns
 * RL_EDATA (empty, over PAIN002_MAX_BYTES, not well-formed, a DOCTYPE, another message
 * or namespace, not valid against its XSD, an amount with non-zero digits beyond öre or
 * out of range: the message names the problem and the line), RL_EIO (a schema missing or
 * unreadable: an installation problem, not the report's), RL_EUSAGE (xsd_dir NULL) or
 * RL_ENOMEM. Safe to call from several threads; never calls xmlCleanupParser. */
int pain002_parse(const char *xml, size_t len, const char *xsd_dir, pain002_report **out)
    __attribute__((warn_unused_result));
void pain002_free(pain002_report *r); /* accepts NULL */

int pain002_version(const pain002_report *r);             /* 3 or 10 */
const char *pain002_msg_id(const pain002_report *r);      /* GrpHdr/MsgId */
const char *pain002_created(const pain002_report *r);     /* GrpHdr/CreDtTm, as written */
const char *pain002_orig_msg_id(const pain002_report *r); /* OrgnlGrpInfAndSts/OrgnlMsgId */
const char *pain002_orig_msg_name(const pain002_report *r); /* OrgnlMsgNmId, "pain.001.001.03" */
/* OrgnlNbOfTxs / OrgnlCtrlSum (in öre): false when the report leaves them out. */
bool pain002_orig_nb_of_txs(const pain002_report *r, uint64_t *n);
bool pain002_orig_ctrl_sum(const pain002_report *r, int64_t *ore);
/* GrpSts and the group level's first StsRsnInf Rsn/Cd and AddtlInf; "" if absent. */
const char *pain002_group_status(const pain002_report *r);
const char *pain002_group_reason(const pain002_report *r);
const char *pain002_group_info(const pain002_report *r);

/* OrgnlPmtInfAndSts and TxInfAndSts (over all of them), in document order. The _at
 * functions return RL_OK, or RL_EUSAGE if i is out of range (*out untouched). */
size_t pain002_pmtinf_count(const pain002_report *r);
int pain002_pmtinf_at(const pain002_report *r, size_t i, pain002_pmtinf *out);
size_t pain002_tx_count(const pain002_report *r);
int pain002_tx_at(const pain002_report *r, size_t i, pain002_tx *out);

/* RJCT: the bank will not execute it (group, payment information or transaction). */
bool pain002_status_is_final_reject(const char *sts);
/* ACCP, ACSC, ACSP, ACTC, ACWC, ACCC. ACTC is technical validation only: a later report
 * may still reject the payment. Anything else (PDNG, RCVD, PART, ACFC, ACWP, CANC, unknown,
 * "") is neither accepted nor a final reject. */
bool pain002_status_is_accepted(const char *sts);

#endif
