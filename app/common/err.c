/* err: a per-thread last-error message, as SQLite keeps one per connection. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

int err_wrap(int code, const char *fmt, ...)
{
    char prefix[512];
    char old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    /* Truncation is the intent here: the message is advisory and bounded. */
    size_t np = strnlen(prefix, sizeof err_buf - 1);
    size_t no = strnlen(old, sizeof old);
    if (no > sizeof err_buf - 1 - np)
        no = sizeof err_buf - 1 - np;
    memcpy(err_buf, prefix, np);
    memcpy(err_buf + np, old, no);
    err_buf[np + no] = '\0';
    return code;
}

const char *err_msg(void) { return err_buf; }

void err_clear(void) { err_buf[0] = '\0'; }

int err_exit_code(int code)
{
    switch (code) {
    case RL_OK: return 0;
    case RL_EUSAGE: return 2;
    case RL_EINTEGRITY:
    case RL_EAUTH: return 3;
    default: return 1;
    }
}
