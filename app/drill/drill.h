/* drill: the continuity drill, the whole outage chain on a throwaway vault.
 *
 * From a signed snapshot (the main system's real one, or a generated one) it creates a new
 * vault in a drill directory with four DRILL operators whose passphrases exist only in this
 * process, then does what the payroll office does on the day, each step through the same
 * library calls the commands use: import, register a realistic mix of documents, approve
 * (and correct and reject) as a second person, create and review the emergency pay run,
 * release it under two-person control, hold the key ceremony, write and verify the signed
 * DRILL payment file, carry it to a USB token and read it back, export and verify the
 * journal, apply it with the reference importer and compare the states, write the
 * reconciliation, and check the audit chain and the vault. Every step is timed and the
 * outcome is written to report.md and report.html in the drill directory (docs/drill.md).
 *
 * Everything it makes is marked as a drill: DRILL- message ids and file names, mode=drill
 * signatures, the token's drill class. Nothing it makes can be paid: the key it signs with
 * is made for the drill and enrolled only on the drill token. */
#ifndef RL_DRILL_H
#define RL_DRILL_H

#include <stdio.h>

typedef enum {
    DRILL_TOKEN_AUTO,    /* use a token if one is plugged in, else skip those steps (a warning) */
    DRILL_TOKEN_REQUIRE, /* no token: the token steps fail */
    DRILL_TOKEN_SKIP     /* do not look for one */
} drill_token;

typedef struct {
    const char *snapshot_dir;  /* a signed snapshot (docs/snapshot-format.md) */
    const char *export_pubkey; /* the key it is signed with */
    const char *rules_pubkey;  /* the pay rules' key */
    const char *rules_path;    /* the signed rule file (NULL: the installed one) */
    const char *out_dir;       /* the drill directory: created 0700, must not exist or be empty */
    unsigned mix;              /* documents of each type (1..50; 0: 3) */
    drill_token token;
    FILE *out;      /* one line per step as it finishes (NULL: quiet) */
    FILE *progress; /* long steps' progress (a terminal, or NULL) */
} drill_options;

typedef struct {
    unsigned steps, passed, failed, skipped;
    char report_md[4096], report_html[4096];
} drill_result;

/* Runs the drill. The report is written whatever happens after the drill directory exists
 * (a failed step is the report's most important line; the steps after it are "not run").
 * Returns 0 when every step passed (skipped token steps are warnings), else the first
 * failing step's code (RL_EDATA, RL_EINTEGRITY, ...) with its message; RL_EUSAGE for bad
 * options, before anything is made. */
int drill_run(const drill_options *o, drill_result *r) __attribute__((warn_unused_result));

#endif
