/* cmd_drill: `reservlon drill`, the continuity drill on a throwaway vault (docs/drill.md). */
#ifndef RL_CMD_DRILL_H
#define RL_CMD_DRILL_H

/* Runs `drill ...` (argv as main's); returns an RL_* code with the message recorded. */
int cmd_drill(int argc, char **argv);

#endif
