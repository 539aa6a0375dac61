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

#endif
