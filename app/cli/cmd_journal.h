/* cmd_journal: the `reservlon journal ...` commands: export the signed restore journal (two
 * approvers), verify one and compare two exports without a vault (docs/journal-format.md). */
#ifndef RL_CMD_JOURNAL_H
#define RL_CMD_JOURNAL_H

/* Runs `journal ...` (argv as main's); returns an RL_* code with the message recorded. */
int cmd_journal(int argc, char **argv);

#endif
