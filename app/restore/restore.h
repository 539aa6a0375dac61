/* restore: a REFERENCE importer for the main payroll system's side of the restore journal
 * (docs/restore.md). It is not part of the appliance: it shows, and lets drills and tests
 * check, what the main system does with a journal when it is back. It reads only the
 * snapshot the main system exported and the appliance's signed journal; it never opens a
 * vault, and it derives employment state with its own code (not app/registry's), so that
 * comparing its state with the appliance's (`reservlon employee state`) checks both.
 *
 * A "main directory" stands in for the main system's database: its own copy of the
 * snapshot, the journal lines it has accepted (a byte prefix of every later export) and a
 * ledger (the snapshot's manifest hash, the vault id, the number of lines accepted and the
 * last one's hash). State is recomputed from snapshot + accepted lines, in the journal's
 * order, so late decisions and corrections are handled without editing anything. */
#ifndef RL_RESTORE_H
#define RL_RESTORE_H

#include <stddef.h>
#include <stdio.h>

#include "sig/minisig.h"

/* What restore_apply did: lines is the journal's line count (all held after the apply);
 * new_lines those applied now; the rest count the new lines by kind. */
typedef struct {
    size_t lines, new_lines, registrations, decisions, payruns, payfiles;
} restore_result;

/* Creates main_dir (which must not exist, or be an empty directory) as the main system's
 * copy of the snapshot in snapshot_dir: the manifest and every file it lists, each checked
 * against the manifest's SHA-256 and row count (the main system trusts its own export, so
 * the signature is not needed; a file that does not match is RL_EINTEGRITY). Built in a
 * temporary directory and renamed into place: all or nothing. Returns 0, RL_EDATA (not
 * empty, unreadable or malformed snapshot), RL_EINTEGRITY, RL_EIO. */
int restore_init(const char *main_dir, const char *snapshot_dir)
    __attribute__((warn_unused_result));

/* Applies the journal at journal_path (with journal_path.minisig) to main_dir: verifies it
 * fully with pk (signature, every line, hash chain, signed line count), checks that it
 * starts from main_dir's snapshot and vault and continues exactly what was accepted before
 * (the accepted line count's line must have the ledger's hash), checks the journal's own
 * rules (unique ids, decisions after their documents, corrections of the same type, ...),
 * then records the new lines: accepted.jsonl and its signature, then the ledger, each
 * written atomically (the ledger last: a crash before it leaves the previous state). The
 * same journal again, or an older export, changes nothing (not a byte). A summary of what
 * was applied and what remains pending goes to report (may be NULL), *r is filled (may be
 * NULL). Returns 0, RL_EINTEGRITY (signature, chain, another snapshot or vault, a history
 * that differs from what was accepted), RL_EDATA (a journal that breaks its rules, or
 * records a snapshot main_dir does not hold), RL_EBUSY (main_dir in use), RL_EIO. */
int restore_apply(const char *main_dir, const char *journal_path, const minisig_pubkey *pk,
                  FILE *report, restore_result *r) __attribute__((warn_unused_result));

/* Writes main_dir's current employment state to out_path (atomically, mode 0600) as the
 * canonical CSV of docs/restore.md, the same bytes `reservlon employee state` writes for a
 * vault holding the same snapshot and documents. */
int restore_state_write(const char *main_dir, const char *out_path)
    __attribute__((warn_unused_result));

#endif
