/* cmd_payfile: the `reservlon key ...` and `reservlon payfile ...` commands: the two-person
 * appliance signing key, the payment file and its checks (docs/signing.md, docs/payfile.md). */
#ifndef RL_CMD_PAYFILE_H
#define RL_CMD_PAYFILE_H

/* Runs `key ...` or `payfile ...` (argv as main's); returns an RL_* code with the message
 * recorded, as the other commands do. */
int cmd_payfile(int argc, char **argv);

#endif
