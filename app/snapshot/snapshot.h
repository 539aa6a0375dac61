/* snapshot: verify and import the main payroll system's signed snapshot into the vault.
 *
 * The format is docs/snapshot-format.md. An import is all or nothing: the manifest's
 * signature and every file's hash and row count are checked first (any mismatch is an
 * integrity failure), then every record is validated and written inside one vault
 * transaction that is rolled back if a single record is bad. */
#ifndef RL_SNAPSHOT_H
#define RL_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

#include "sig/minisig.h"
#include "vault/vault.h"

typedef struct {
    uint64_t org_units, employees, employments, last_payrun, tax_rows;
    int64_t last_net_total_ore;
} snapshot_counts;

/* Imports the snapshot in dir, verified with pk. Each bad record is written to report as
 * "FILE line N field F: problem" (at most `max_report` lines, then a count). Progress is
 * shown on progress (NULL for none) when it is a terminal. Only administrators may
 * import; a vault that already holds a snapshot is replaced only with replace != 0.
 * Returns 0, RL_EDATA (bad records: nothing imported), RL_EINTEGRITY (signature, hash or
 * row count), RL_EAUTH (role). */
int snapshot_import(vault *v, const char *dir, const minisig_pubkey *pk, int replace,
                    FILE *report, FILE *progress, snapshot_counts *counts)
    __attribute__((warn_unused_result));

/* Prints the vault's status (counts, snapshot source and time) as text or JSON. */
int snapshot_status(vault *v, int json, FILE *out) __attribute__((warn_unused_result));

#endif
