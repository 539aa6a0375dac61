/* cmd_ui: `reservlon [--vault DIR] [--lang sv|en] ui`, and the same with no command on a
 * terminal: the terminal user interface (app/ui, docs/ui.md). */
#ifndef RL_CMD_UI_H
#define RL_CMD_UI_H

/* Non-zero if the command line asks for the interface: the command word is `ui`, or there
 * is none (only --vault and --lang) and standard input and output are a terminal. */
int cmd_ui_wanted(int argc, char **argv);

/* Runs it; returns an RL_E* code (RL_EUSAGE for anything else on the command line). */
int cmd_ui(int argc, char **argv);

#endif
