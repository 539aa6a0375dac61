/* prompt: reading a passphrase from a file or, without echo, from the terminal. */
#include "cli/prompt.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/err.h"

#define PASS_MAX 1024

/* Reads a passphrase from the first line of path, or from the terminal without echo.
 * The result lives in sodium_malloc'd memory; free with sodium_free. */
int cli_read_passphrase(const char *path, const char *prompt, char **out, size_t *len)
{
    char *buf = sodium_malloc(PASS_MAX);
    *out = NULL;
    *len = 0;
    if (buf == NULL)
        return err_set(RL_ENOMEM, "cannot allocate protected memory");
    size_t n = 0;
    if (path != NULL) {
        FILE *f = fopen(path, "re");
        if (f == NULL) {
            sodium_free(buf);
            return err_set(RL_EDATA, "passphrase file %s: %s", path, strerror(errno));
        }
        n = fread(buf, 1, PASS_MAX - 1, f);
        int read_err = ferror(f) ? errno : 0;
        fclose(f);
        if (read_err != 0) { /* a directory, say: not an "empty passphrase" */
            sodium_free(buf);
            return err_set(RL_EDATA, "passphrase file %s: %s", path, strerror(read_err));
        }
    } else if (isatty(STDIN_FILENO)) {
        struct termios old, quiet;
        int have_old = 0;
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            have_old = 1;
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        if (fgets(buf, PASS_MAX, stdin) != NULL)
            n = strlen(buf);
        if (have_old)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    } else {
        sodium_free(buf);
        return err_set(RL_EUSAGE, "give --passphrase-file (no terminal to ask on)");
    }
    char *nl = memchr(buf, '\n', n);
    if (nl)
        n = (size_t)(nl - buf);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0) {
        sodium_free(buf);
        return err_set(RL_EDATA, "empty passphrase");
    }
    *out = buf;
    *len = n;
    return RL_OK;
}
