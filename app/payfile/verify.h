/* payfile verify: checks a signed payment file on any machine, with no vault and no operator
 * (the bank, an auditor, the second approver before carrying it out).
 *
 * In order, stopping at the first problem: the signature FILE.minisig over the very bytes
 * that are then parsed; the XML (hardened parser, common/isoxml) valid against the bundled
 * pain.001.001.03 or .09 XSD (by namespace); the sums (GrpHdr and every PmtInf NbOfTxs and
 * CtrlSum against their CdtTrfTxInf, every InstdAmt SEK, > 0, at most 2 decimals, CtgyPurp
 * SALA on every PmtInf, unique EndToEndIds); the signed trusted comment against the file
 * (msgid=, count=, total=, exec=, key=, and mode=drill exactly when the MsgId starts with
 * DRILL-). docs/payfile.md, "Verifying a payment file". */
#ifndef RL_PAYFILE_VERIFY_H
#define RL_PAYFILE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "sig/minisig.h"

/* The bundled ISO 20022 schemas: RESERVLON_XSD_DIR, else the source tree's app/data/iso20022
 * (found beside the rules directory the build compiles in), else relative to the current
 * directory. */
#ifndef RL_XSD_DIR
#ifdef RL_RULES_DIR
#define RL_XSD_DIR RL_RULES_DIR "/../data/iso20022"
#else
#define RL_XSD_DIR "app/data/iso20022"
#endif
#endif

/* Larger files are refused before reading (a 100 000-person file is ~80 MB). */
#define PAYFILE_VERIFY_MAX_BYTES ((size_t)512 * 1024 * 1024)

typedef struct {
    int version;          /* 3 or 9 (pain.001.001.03 / .09) */
    char msg_id[144];     /* GrpHdr/MsgId (Max35Text: up to 140 bytes of UTF-8) */
    uint64_t count;       /* NbOfTxs */
    int64_t total_ore;    /* CtrlSum */
    char exec_date[11];   /* the first PmtInf's ReqdExctnDt */
    size_t pmtinf_count;
    bool drill;           /* mode=drill (and the MsgId starts with DRILL-) */
    char key_id[17];      /* the public key's id, as minisign prints it */
    /* From the signed trusted comment; "" when the comment lacks them. */
    char signed_by[130], signed_at[32], payrun[24], seq[24], left_out[24], file[80];
    char trusted_comment[MINISIG_TC_MAX + 1];
} payfile_verified;

/* Verifies path (and path.minisig) with pk; xsd_dir holds pain.001.001.03.xsd and
 * pain.001.001.09.xsd. Fills *out on success. Returns RL_OK; RL_EINTEGRITY (signature
 * missing, malformed, made with another key or not matching the file); RL_EDATA (file
 * missing or too large, not well-formed, a DOCTYPE, not a pain.001, invalid against the XSD,
 * a sum, amount, currency, category purpose or EndToEndId problem, the trusted comment
 * disagreeing with the file: the message names the element and its line); RL_EIO (the
 * schema missing: an installation problem); RL_ENOMEM. */
int payfile_verify(const char *path, const minisig_pubkey *pk, const char *xsd_dir,
                   payfile_verified *out) __attribute__((warn_unused_result));

#endif
