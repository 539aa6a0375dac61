/* journal: the restore journal's format, checked without a vault (docs/journal-format.md).
 *
 * A journal is JSON Lines: line N is one object {"seq":N,"id":...,"kind":...,...,"prev":H}
 * where H is the BLAKE2b-256 (hex) of line N-1's bytes without its newline (64 zeros for
 * line 1, the header). Exports are cumulative: a later export of the same vault starts with
 * the earlier one, byte for byte. The file is signed (FILE.minisig, minisign format) by the
 * appliance's two-approver key; the trusted comment states lines= and last= (the hash of
 * the last line), so a file cut after a line boundary is refused too.
 *
 * This module offers the line hash (for the writer), the line checks, the signed-file
 * verification and the prefix comparison of two exports. Every problem is reported as the
 * FIRST one found, naming its line: "line 17: prev does not match line 16 (...)". */
#ifndef RL_JOURNAL_H
#define RL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sig/minisig.h"

#define JOURNAL_FORMAT "reservlon-journal"
#define JOURNAL_VERSION 1
/* Largest journal read (a year of outage at city scale is far below this). */
#define JOURNAL_MAX_BYTES ((size_t)1 << 30)

/* The kinds of line, in the order an export appends new lines of each kind. */
typedef enum {
    JOURNAL_HEADER,
    JOURNAL_SNAPSHOT,
    JOURNAL_REGISTRATION,
    JOURNAL_DECISION,
    JOURNAL_PAYRUN,
    JOURNAL_PAYFILE,
    JOURNAL_NKINDS
} journal_kind;

/* The kind's name as written in "kind", or NULL. */
const char *journal_kind_name(journal_kind k);

/* What a check found: line count, per-kind counts, the last line's hash, and (from the
 * header) the vault id; from a signed file also the trusted comment's fields. */
typedef struct {
    uint64_t lines;
    uint64_t count[JOURNAL_NKINDS];
    char last[65];
    char vault_id[65];
    char exported[32], by[160], key_id[17];
    char trusted_comment[MINISIG_TC_MAX + 1];
} journal_info;

/* BLAKE2b-256 of one line's bytes (without its newline), as 64 lowercase hex digits. */
void journal_line_hash(const char *line, size_t len, char hex[65]);

/* Checks every line of a journal held in memory: each ends in '\n', is a strict JSON
 * object with seq = its line number, prev = the previous line's hash, the header first
 * and only first, a known kind and that kind's required fields. Returns 0 and *info, or
 * RL_EINTEGRITY with "line N: problem" for the first problem. */
int journal_check(const char *data, size_t len, journal_info *info)
    __attribute__((warn_unused_result));

/* Verifies a journal file against path.minisig with pk, then journal_check, then that the
 * trusted comment's lines= and last= are the file's. RL_EINTEGRITY for any failure (a bad
 * or missing signature too; the first line problem is added to a bad signature's message
 * when there is one, to say where the file was changed), RL_EDATA if path is unreadable. */
int journal_verify_file(const char *path, const minisig_pubkey *pk, journal_info *info)
    __attribute__((warn_unused_result));

/* What a newer export adds to an older one. */
typedef struct {
    uint64_t old_lines, new_lines;
    uint64_t added[JOURNAL_NKINDS];
} journal_diff_info;

/* Checks both files (journal_check) and that old_path is a prefix of new_path, line for
 * line; RL_EINTEGRITY naming the first line that differs (or is missing from NEW). */
int journal_diff(const char *old_path, const char *new_path, journal_diff_info *d)
    __attribute__((warn_unused_result));

#endif
