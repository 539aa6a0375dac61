/* cmd_token: the `reservlon token ...` commands (the USB token; no vault needed). */
#ifndef RL_CMD_TOKEN_H
#define RL_CMD_TOKEN_H

/* Runs `reservlon [global options] token SUBCOMMAND ...` from the whole command line and
 * returns 0 or a negative RL_E* code (the message recorded with err_set), as the other
 * commands do. */
int cmd_token(int argc, char **argv);

#endif
