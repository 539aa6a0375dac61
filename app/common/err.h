/* err: the error convention shared by every module.
 *
 * Library functions return 0 on success or a negative RL_E* code, after recording a
 * message the user can act on with err_set(). Only the CLI turns codes into exit codes
 * (DESIGN.md: 0 ok, 1 user or data error, 2 usage error, 3 integrity or security failure).
 * Messages never contain secrets and name personal data only where the user needs it to
 * find the bad record (file, line and field). */
#ifndef RL_ERR_H
#define RL_ERR_H

#include <stddef.h>

enum {
    RL_OK = 0,
    RL_EDATA = -1,      /* bad input or data: exit 1 */
    RL_EUSAGE = -2,     /* wrong command line: exit 2 */
    RL_EINTEGRITY = -3, /* tampering, bad signature, failed authentication: exit 3 */
    RL_EIO = -4,        /* the operating system refused (disk full, permissions): exit 1 */
    RL_ENOMEM = -5,     /* out of memory: exit 1 */
    RL_EAUTH = -6,      /* wrong passphrase or role: exit 3 */
    RL_EBUSY = -7       /* the vault is in use by another process: exit 1 */
};

/* Records a message for code and returns code, so callers write
 * `return err_set(RL_EDATA, "employees.csv line %zu: ...", line);`. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("snapshot: " + old message). */
int err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded (empty string if none). Valid until the next err_set. */
const char *err_msg(void);

/* Clears the message. */
void err_clear(void);

/* The process exit code DESIGN.md assigns to a code. */
int err_exit_code(int code);

#endif
