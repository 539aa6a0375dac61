/* reconcile: the reconciliation report of a released emergency pay run (docs/reconcile.md).
 *
 * For every employment of the run: what the run paid (gross, tax, deductions, net), whether
 * it went out in a payment file or was left out, which registrations the run included and
 * which it did not (approved after it, or still pending), what a `recalculate` run with
 * every document approved now pays for the same period and pay date under the same signed
 * rules (payrun_compute), and the difference the main system's next regular run must
 * settle. Written as DIR/reconcile-payrun-ID.csv and .html (0600, atomic). */
#ifndef RL_RECONCILE_H
#define RL_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

typedef struct {
    size_t employments;        /* employments in the pay run */
    size_t corrections_needed; /* rows whose should-have-been differs from what was paid */
    int64_t paid_net_ore;      /* = the pay run's stored net total */
    int64_t should_net_ore;    /* recalculated now, every row (added ones included) */
    int64_t diff_net_ore;      /* should - paid */
    size_t added;              /* employments the run did not contain that the
                                  recalculation pays (hires approved after the run) */
} reconcile_totals;

/* Writes DIR/reconcile-payrun-ID.csv and DIR/reconcile-payrun-ID.html for pay run payrun_id
 * and fills *t. out_dir must be an existing directory. The rules are the shipped rule file
 * (RL_RULES_DIR/payroll.lua), which must be the one the run was computed with.
 * Approvers and administrators only; audited as payrun.reconcile.
 * Returns 0; RL_EDATA (no such pay run, not released, other rules, bad directory: nothing
 * written); RL_EAUTH (role); RL_EINTEGRITY (rule file unsigned or modified; or the
 * report's paid totals do not equal the pay run's stored totals: an internal error,
 * nothing written); RL_EIO. */
int reconcile_write(vault *v, int64_t payrun_id, const char *out_dir, reconcile_totals *t)
    __attribute__((warn_unused_result));

/* The same with another signed rule file (rules_path, with rules_path.minisig beside it). */
int reconcile_write_rules(vault *v, int64_t payrun_id, const char *out_dir,
                          const char *rules_path, reconcile_totals *t)
    __attribute__((warn_unused_result));

#endif
