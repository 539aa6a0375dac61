/* payfile: the ISO 20022 salary payment file (pain.001, SALA) for an approved pay run.
 *
 * One file per call: one PmtInf for the pay run's pay date, one CdtTrfTxInf per person paid
 * (net summed over the person's employments), amounts from integer öre. Bank differences
 * live in data (profiles.c, docs/payfile.md), never in code branches. Everything is checked
 * before anything is written: a refusal leaves no file and no trace in the vault but the
 * message. The file is signed (FILE.minisig, minisign format) with the appliance key,
 * which two approvers unlock together (signing.h, docs/signing.md). */
#ifndef RL_PAYFILE_H
#define RL_PAYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "signing/signing.h"
#include "vault/vault.h"

typedef enum {
    PAYFILE_PAIN001_03 = 0, /* pain.001.001.03: the default, what Swedish banks take today */
    PAYFILE_PAIN001_09 = 1
} payfile_format;

/* Default ceiling for one person's payment: 1 000 000.00 SEK. */
#define PAYFILE_DEFAULT_CEILING_ORE 100000000LL

/* A bank's variant of the message. Every value is to be confirmed against the bank's
 * message implementation guide (MIG); docs/payfile.md lists what is and is not confirmed. */
typedef struct {
    const char *name;          /* "generic", "seb", "handelsbanken", "nordea", "swedbank" */
    const char *bank;          /* display name */
    bool othr_id_with_clearing; /* CdtrAcct/DbtrAcct Othr/Id = clearing + account */
    bool initg_id_agreement;   /* InitgPty id: the bank agreement id (else the orgnr) */
    const char *initg_scheme;  /* InitgPty/Id/OrgId/Othr/SchmeNm/Cd ("BANK", "CUST") */
    bool rmtinf_allowed;       /* RmtInf/Ustrd ("Lön YYYY-MM") on SALA payments */
    const char *svc_lvl;       /* PmtTpInf/SvcLvl/Cd, or NULL for none */
    size_t name_max;           /* Cdtr/Nm length in characters */
} payfile_profile;

/* The profile named name (case-insensitive), or NULL. */
const payfile_profile *payfile_profile_find(const char *name);
size_t payfile_profile_count(void);
const payfile_profile *payfile_profile_at(size_t i);

typedef struct {
    payfile_format format;
    const char *profile;         /* NULL: "generic" */
    const char *debtor_name;     /* the employer as the bank knows it (required) */
    const char *debtor_iban;     /* the debtor account: an IBAN, or ... */
    const char *debtor_clearing; /* ... clearing + account (BBAN) */
    const char *debtor_account;
    const char *debtor_bic;      /* DbtrAgt BIC (optional: else the clearing, or NOTPROVIDED) */
    const char *agreement_id;    /* the bank agreement / customer id (profiles that use it) */
    const char *initiator_id;    /* overrides the snapshot's employer_orgnr as InitgPty id */
    int64_t ceiling_ore;         /* per person; 0: PAYFILE_DEFAULT_CEILING_ORE */
    bool drill;                  /* a drill file: MsgId prefixed "DRILL-" */
    signing_session *signer;     /* two approvers with the signing key unlocked (required) */
    /* People whose account is missing or invalid are left out of the file (listed on
     * report, counted in the summary, the audit entry and the signed comment) instead of
     * refusing the whole file: they are paid another way (docs/payfile.md). */
    bool leave_out_unpayable;
    FILE *report;
} payfile_options;

/* The debtor settings an administrator keeps in the vault (`payfile config`, docs/payfile.md),
 * each as the vault setting "payfile.NAME"; one list for the command line and the screens. */
#define PAYFILE_SETTINGS 8
#define PAYFILE_SETTING_MAX 160
extern const char *const payfile_setting_names[PAYFILE_SETTINGS];
typedef struct {
    char v[PAYFILE_SETTINGS][PAYFILE_SETTING_MAX];
} payfile_settings;

/* Reads every setting (an unset one is empty). */
void payfile_settings_load(vault *v, payfile_settings *s);

/* The index of the setting NAME in payfile_setting_names, or -1. */
int payfile_setting_index(const char *name);

/* Points o's profile and debtor fields at s (NULL where unset); nothing else of o changes. */
void payfile_settings_apply(const payfile_settings *s, payfile_options *o);

typedef struct {
    char msg_id[36];
    uint64_t count;       /* CdtTrfTxInf (persons paid) */
    int64_t total_ore;    /* CtrlSum in öre */
    char exec_date[11];   /* ReqdExctnDt, YYYY-MM-DD */
    char sha256[65];      /* of the file written (hex), as audited */
    uint64_t left_out;    /* persons left out (leave_out_unpayable) and their net total */
    int64_t left_out_ore;
} payfile_summary;

/* Writes the payment file for approved pay run payrun_id to out_path atomically (mode
 * 0600) and its signature to out_path.minisig (read back and verified), records the new
 * MsgId, the file (payfiles) and an audit entry in one vault transaction, and fills *sum.
 * The logged-in approver and o->signer's second approver are named in the signature's
 * trusted comment (pay run, total, count, execution date, signing time, key id).
 * Approvers and administrators only. Returns 0, RL_EDATA (pay run not approved, bad
 * options, a negative or too large net, a person without a valid account: named by
 * employment and masked personnummer; no file written), RL_EAUTH (role), RL_EIO. */
int payfile_write(vault *v, int64_t payrun_id, const payfile_options *o, const char *out_path,
                  payfile_summary *sum) __attribute__((warn_unused_result));

/* The EndToEndId of pnr (12 digits) in pay run payrun_id: "RL<run>-" + 12 hex digits of
 * HMAC-SHA-256 under the vault's payfile key, so it is deterministic per vault (the pain.002
 * status import maps back by recomputing) and reveals nothing about the person. RL_EDATA if
 * no payment file was ever written (no key yet). */
int payfile_end_to_end_id(vault *v, int64_t payrun_id, const char *pnr, char out[36])
    __attribute__((warn_unused_result));

/* The same for many people: read the vault's EndToEndId key once (RL_EDATA if there is
 * none yet), then compute each id from it. The caller wipes key (sodium_memzero). */
int payfile_e2e_key(vault *v, uint8_t key[32]) __attribute__((warn_unused_result));
void payfile_e2e_id(const uint8_t key[32], int64_t payrun_id, const char *pnr, char out[36]);

/* For the reconciliation: everyone payfile_write with leave_out_unpayable would leave out of a
 * file for pay run payrun_id for want of a valid account, judged on the vault as it is now
 * (a bank change approved since a file was written makes that person payable):
 * fn(ctx, 12-digit pnr, the person's net in öre) for each, in personnummer order. Returns 0,
 * RL_EDATA (no such pay run; a negative net, which no file can pay). */
int payfile_left_out_now(vault *v, int64_t payrun_id,
                         void (*fn)(void *ctx, const char *pnr, int64_t net_ore), void *ctx)
    __attribute__((warn_unused_result));

/* Transliterates UTF-8 text to the character set Swedish banks accept (docs/payfile.md):
 * ASCII letters, digits, space and / - ? : ( ) . , ' + & < > " kept; å ä ö Å Ä Ö é É ü Ü
 * kept; other Latin letters mapped to ASCII (æ -> ae, ł -> l, ...); anything else '?'.
 * At most max_chars characters; out (cap bytes) is always NUL-terminated. Not escaped: the
 * writer escapes & < > " ' for XML. Returns the number of characters written. */
size_t payfile_transliterate(const char *in, size_t max_chars, char *out, size_t cap);

#endif
