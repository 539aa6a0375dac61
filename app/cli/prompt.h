/* prompt: reading a passphrase from a file or, without echo, from the terminal. */
#ifndef RL_PROMPT_H
#define RL_PROMPT_H

#include <stddef.h>

/* Reads a passphrase from the first line of path, or (path NULL) from the terminal without
 * echo after printing prompt. The result lives in sodium_malloc'd memory; free with
 * sodium_free. RL_EDATA (unreadable file, empty passphrase), RL_EUSAGE (no file and no
 * terminal). */
int cli_read_passphrase(const char *path, const char *prompt, char **out, size_t *len)
    __attribute__((warn_unused_result));

#endif
