/* export: writing the restore journal from the vault (docs/journal-format.md).
 *
 * The vault keeps every journal line it has ever exported (table journal), so each export
 * re-writes those lines unchanged and appends what is new since: a replaced snapshot,
 * registrations in recorded order, decisions on them, released pay runs, payment files.
 * A later export therefore starts with every earlier one byte for byte, and a status that
 * changes after an export appears as a new line, never as an edit. Approved registrations
 * whose decision is in the journal become "exported" (docs/registrations.md). */
#ifndef RL_JOURNAL_EXPORT_H
#define RL_JOURNAL_EXPORT_H

#include <stdint.h>

#include "journal/journal.h"
#include "signing/signing.h"
#include "vault/vault.h"

typedef struct {
    uint64_t lines;                  /* in the file */
    uint64_t added[JOURNAL_NKINDS];  /* new in this export, by kind */
    uint64_t first_new;              /* seq of the first new line (0: nothing new) */
    char last[65];                   /* hash of the last line */
    char exported[21];
} journal_export_summary;

/* Appends the new lines, writes out_path and out_path.minisig atomically with the session's
 * unlocked appliance key, reads both back and verifies them, audits, and commits; on any
 * failure nothing changes in the vault and no file is left. Needs an approver logged in
 * and a signing session (signing_pair_open + signing_unlock). */
int journal_export(vault *v, signing_session *s, const char *out_path,
                   journal_export_summary *sum) __attribute__((warn_unused_result));

#endif
