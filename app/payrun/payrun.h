/* payrun: the emergency pay run, computed by the signed Lua pay rules and released under
 * two-person control.
 *
 * A pay run covers one period (YYYY-MM) and pays every employment of the snapshot and of
 * approved hires with the lines the rules return for it (docs/pay-rules.md), under one of
 * two policies: same-as-last (last run's pay, adjusted by approved registrations) or
 * recalculate (gross from salary and extent, tax from the tables). It is created by a
 * registrar or approver, reviewed (totals, differences, warnings), and approved by an
 * approver other than its creator, and by a second, different approver when its net total
 * differs from the last run's by more than the configured share. Creation is one
 * transaction: a rule error anywhere aborts it with the employment named. */
#ifndef RL_PAYRUN_H
#define RL_PAYRUN_H

#include <stdint.h>
#include <stdio.h>

#include "vault/vault.h"

typedef struct {
    const char *period;    /* YYYY-MM */
    const char *pay_date;  /* YYYY-MM-DD, today or later */
    const char *policy;    /* "same-as-last" or "recalculate" */
    int include_pending;   /* proceed although registrations await approval (not paid) */
    const char *rules_path; /* the signed rule file (path.minisig beside it) */
    uint64_t max_instructions; /* 0: the rules module's default */
    size_t max_memory;         /* 0: default */
} payrun_params;

/* Computes and stores a pay run; writes its id. Progress goes to progress on a terminal.
 * Returns 0, RL_EDATA (bad parameters, pending registrations, rule error: nothing
 * written), RL_EINTEGRITY (rule file unsigned or modified), RL_EAUTH (role). */
int payrun_create(vault *v, const payrun_params *p, FILE *progress, int64_t *id)
    __attribute__((warn_unused_result));

/* Review: totals, difference against the last run, every changed employment and why,
 * warnings. format: 0 text, 1 JSON, 2 CSV (one line per employment). */
int payrun_show(vault *v, int64_t id, int format, FILE *out) __attribute__((warn_unused_result));

/* Approves (releases) a pay run; see the two-person rules above. Writes the resulting
 * status ("approved1" waiting for a second approver, or "approved"). */
int payrun_approve(vault *v, int64_t id, char status[16]) __attribute__((warn_unused_result));

/* One employment's pay as payrun_compute computed it; the strings are valid during the
 * callback only. net_ore = gross_ore - tax_ore - deductions_ore. */
typedef struct {
    const char *employment_id, *pnr;
    int64_t gross_ore, tax_ore, deductions_ore, net_ore;
    const char *notes; /* the rules' NOTE lines, "; "-separated */
} payrun_result;

/* Returns RL_OK to go on, or an RL_E* code (with its message) that stops the computation. */
typedef int (*payrun_result_fn)(void *ctx, const payrun_result *r);

/* Computes a pay run exactly as payrun_create would (same employments in the same order,
 * the same rules and inputs) over the vault as it is now, but stores nothing and writes no
 * audit entry: for the reconciliation's "what should have been paid". p->include_pending is
 * ignored (pending documents are never paid); the pay date may be in the past and the
 * period already paid. rules_sha256 (hex), if not NULL, must be the rule file's hash, else
 * RL_EDATA. Calls fn for every employment. Returns 0, what fn returned, RL_EDATA (bad
 * parameters, rule error), RL_EINTEGRITY (rule file unsigned or modified). */
int payrun_compute(vault *v, const payrun_params *p, const char *rules_sha256, FILE *progress,
                   payrun_result_fn fn, void *ctx) __attribute__((warn_unused_result));

/* Every pay run of the vault, newest first, as a JSON array of objects (id, period,
 * pay_date, policy, status, created_by, employments, net_ore, last_net_ore,
 * second_approval_needed, approved_by, approved2_by). */
int payrun_list(vault *v, FILE *out) __attribute__((warn_unused_result));

#endif
