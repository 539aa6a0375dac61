/* cmd_reconcile: `reservlon reconcile --payrun ID --out DIR` (docs/reconcile.md). */
#ifndef RL_CMD_RECONCILE_H
#define RL_CMD_RECONCILE_H

/* Runs `reconcile ...` (argv as main's); returns an RL_* code with the message recorded. */
int cmd_reconcile(int argc, char **argv);

#endif
