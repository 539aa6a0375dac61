/* ui: the terminal user interface of the appliance (`reservlon ui`, docs/ui.md).
 *
 * Log in, see the vault's state, register documents with field-by-field checks, find an
 * employee by personnummer or name, decide on the approval queue, create, review and
 * release pay runs under two-person control, write the signed payment file and put it on
 * the USB token, export the journal. It calls the same library functions as the command line and
 * re-implements none of their rules. */
#ifndef RL_UI_H
#define RL_UI_H

/* Runs the interface on the terminal. vault_dir may be NULL (asked for on the login
 * screen; $RESERVLON_VAULT is the default); lang "sv", "en" or NULL (from $LANG, Swedish
 * by default). Returns 0 when the user quits, RL_EUSAGE if the terminal cannot be used or
 * lang is unknown; a hang-up (SIGHUP) or SIGTERM ends it without saving anything and
 * returns RL_EIO. The terminal is restored on every path. */
int ui_run(const char *vault_dir, const char *lang);

#endif
