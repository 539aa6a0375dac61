/* pair: opening the vault as the logged-in operator and bringing in a second approver,
 * for the commands that need two approvers in one session (key, payfile, journal). */
#ifndef RL_CLI_PAIR_H
#define RL_CLI_PAIR_H

#include "signing/signing.h"
#include "vault/vault.h"

/* Reads the operator's passphrase (pass_file, or the terminal without echo) and opens dir
 * as operator as. The caller has checked that dir and as are given. */
int cli_open_vault(const char *dir, const char *as, const char *pass_file, vault **v)
    __attribute__((warn_unused_result));

/* The second approver joins for action: their passphrase (second_pass_file, or the
 * terminal), then both approvers' shares (signing_pair_open). The caller has checked that
 * second is given. */
int cli_open_pair(vault *v, const char *second, const char *second_pass_file,
                  const char *action, signing_session **s) __attribute__((warn_unused_result));

#endif
