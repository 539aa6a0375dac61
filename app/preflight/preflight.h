/* preflight: the workstation checklist an operator runs before trusting the appliance.
 *
 * `reservlon preflight` looks at what can go wrong around the vault rather than inside one
 * command: a network interface that is up, a clock that would misdate registrations,
 * core dumps, the vault directory's owner, mode and free space, the vault's integrity and
 * configured keys, the signed rule file, the USB token and swap. It reads state only: no
 * socket is opened and nothing in the vault is changed (a login may add the audit entry
 * any login adds). docs/preflight.md lists every check and what it asks the operator to do.
 *
 * The sources of the network, swap and clock checks are parameters so tests can give a
 * fake sysfs tree, swap table and time; the report names a source that is not the real one. */
#ifndef RL_PREFLIGHT_H
#define RL_PREFLIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *vault_dir;  /* NULL: the workstation checks only */
    const char *as;         /* the operator for the checks that need a login, or NULL */
    const char *pass;       /* their passphrase (borrowed; the caller wipes it) */
    size_t pass_len;
    const char *rules_path; /* the rule file a pay run would load */
    /* Test seams; preflight_opts_init sets the real sources. */
    const char *sysfs_net;  /* directory of network interfaces, "/sys/class/net" */
    const char *proc_swaps; /* the swap table, "/proc/swaps" */
    int64_t now;            /* the time to judge, seconds since 1970 (the system clock) */
    int fake_now;           /* now came from the test seam */
} preflight_opts;

/* Fills *o with the real sources and the current time, then applies the test overrides
 * RL_TEST_SYSFS_NET, RL_TEST_PROC_SWAPS and RL_TEST_NOW (ISO 8601 UTC, "2026-12-05T10:00:00Z")
 * from the environment. The caller sets the vault, login and rule file fields. Returns 0, or
 * RL_EUSAGE if RL_TEST_NOW is not such a time. */
int preflight_opts_init(preflight_opts *o) __attribute__((warn_unused_result));

/* Runs every check and prints one line per check to out ("OK", "WARN", "FAIL" or "SKIP",
 * the check, what was found and what to do), then a summary line. Returns 0 if nothing
 * failed; RL_EINTEGRITY if the vault or the rule file failed an integrity check or the
 * login was refused; RL_EDATA if any other check failed (the message counts the failures). */
int preflight_run(const preflight_opts *o, FILE *out) __attribute__((warn_unused_result));

#endif
