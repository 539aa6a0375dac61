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

/* One option of a subcommand: --name VALUE into *value, or a flag --name setting *flag. */
typedef struct {
    const char *name;
    const char **value;
    int *flag;
} cli_opt;

/* Parses argv[1..argc) against opts: every other "--x" is an unknown option, every
 * non-option word goes to pos (at most maxpos). A value may not start with "--" (a
 * forgotten value) and an option may not be given twice. RL_EUSAGE with a message that
 * ends with help otherwise. */
int cli_parse(int argc, char **argv, const cli_opt *opts, size_t nopts, const char **pos,
              int maxpos, int *npos, const char *help) __attribute__((warn_unused_result));

#endif
