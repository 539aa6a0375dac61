/* status: imports the bank's payment status report (pain.002, pain002.h) for a payment
 * file this vault wrote, and says who was not paid.
 *
 * The report must name one of the vault's payfiles (OrgnlMsgId), agree with its count and
 * total when it states them, and not have been imported before (its own MsgId). Every
 * OrgnlEndToEndId is mapped back to a person by recomputing payfile_end_to_end_id for each
 * person paid in the file's pay run; an id that is not among them refuses the whole report.
 * The statuses (one row per transaction, one for the group) and an audit entry are stored
 * in one transaction (table payfile_status). docs/payfile.md, "Importing a status report". */
#ifndef RL_PAYFILE_STATUS_H
#define RL_PAYFILE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

/* A payment the bank rejected (RJCT). Strings valid until payfile_status_free. */
typedef struct {
    const char *end_to_end_id;
    char pnr_masked[16];      /* YYYYMMDD-**** */
    const char *employments;  /* the person's employment ids in the pay run, NUL-separated */
    size_t n_employments;
    int64_t amount_ore;       /* what the file paid the person */
    const char *reason;       /* StsRsnInf/Rsn/Cd, else Rsn/Prtry, else "" */
    const char *info;         /* the first AddtlInf, "" if none */
} payfile_status_rejected;

typedef struct payfile_status_result {
    const char *report_msg_id;  /* the report's GrpHdr/MsgId */
    const char *report_created; /* its CreDtTm as written */
    int version;                /* 3 or 10 (pain.002.001.xx) */
    char msg_id[36];            /* our payment file's MsgId */
    int64_t payrun_id;
    bool drill;
    uint64_t file_count;        /* the file's payments and total */
    int64_t file_total_ore;
    const char *group_status;   /* GrpSts, else the (only) PmtInfSts, else "" */
    const char *group_reason, *group_info;
    uint64_t reported, accepted, rejected, pending; /* transactions in the report */
    payfile_status_rejected *rej;                   /* rejected, in report order */
    size_t nrej;
    void *priv; /* owned storage */
} payfile_status_result;

/* Parses xml (len bytes) with pain002_parse against the schemas in xsd_dir, checks it
 * against the vault (above) and records it. Any operator may import (it is the bank's
 * information); the import is audited (payfile.status). Returns RL_OK and *out (free
 * with payfile_status_free), or *out = NULL and RL_EDATA (the parser's refusals; not a
 * file of this vault; already imported, with date and operator; count or total differ;
 * an EndToEndId not in the file, reported twice, or echoing another amount: nothing is
 * stored), RL_EIO (schemas missing), RL_ENOMEM. */
int payfile_status_import(vault *v, const char *xml, size_t len, const char *xsd_dir,
                          payfile_status_result **out) __attribute__((warn_unused_result));
void payfile_status_free(payfile_status_result *r); /* accepts NULL */

#endif
