/* ident-check: a line-oriented front end to the ident module for end-to-end tests that
 * compare it with independent implementations (tests/e2e/ident_oracle.sh).
 *
 * Reads lines from stdin and prints exactly one line per input line:
 *   pnr TEXT                 -> OK YYYYMMDDNNNC P|S      (P personnummer, S samordningsnummer)
 *   orgnr TEXT               -> OK NNNNNNNNNN
 *   iban TEXT                -> OK COMPACTIBAN
 *   account CLEARING ACCOUNT -> OK CLEARING ACCOUNT TYPE COMMENT WARNING BANK...
 *                               (WARNING 0 or 1; BANK is the rest of the line)
 * and "ERR" for anything rejected (with -v: "ERR <message>"). TEXT and ACCOUNT are the rest
 * of the line, so they may contain spaces. The reference date for the personnummer century
 * is IDENT_TODAY (YYYYMMDD) if set, else 20261124, so that results do not depend on the
 * day the test runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ident/ident.h"

static void print_err(bool verbose)
{
    if (verbose)
        printf("ERR %s\n", err_msg());
    else
        puts("ERR");
}

/* Splits off the first space-delimited word of *line, NUL-terminating it. */
static char *next_word(char **line)
{
    char *s = *line;
    while (*s == ' ')
        s++;
    char *w = s;
    while (*s && *s != ' ')
        s++;
    if (*s)
        *s++ = '\0';
    *line = s;
    return w;
}

static void run_line(char *line, uint32_t today, bool verbose)
{
    char *cmd = next_word(&line);
    int rc = RL_EDATA;
    err_clear();
    if (strcmp(cmd, "pnr") == 0) {
        ident_pnr p;
        rc = ident_pnr_parse(line, today, &p);
        if (rc == 0) {
            printf("OK %s %c\n", p.digits, p.kind == IDENT_SAMORDNINGSNUMMER ? 'S' : 'P');
            return;
        }
    } else if (strcmp(cmd, "orgnr") == 0) {
        char o[11];
        rc = ident_orgnr_parse(line, o);
        if (rc == 0) {
            printf("OK %s\n", o);
            return;
        }
    } else if (strcmp(cmd, "iban") == 0) {
        char o[35];
        rc = ident_iban_parse(line, o);
        if (rc == 0) {
            printf("OK %s\n", o);
            return;
        }
    } else if (strcmp(cmd, "account") == 0) {
        char *clearing = next_word(&line);
        ident_account a;
        rc = ident_account_parse(clearing, line, &a);
        if (rc == 0) {
            printf("OK %s %s %d %d %d %s\n", a.clearing, a.account, a.type, a.comment,
                   a.warning ? 1 : 0, a.bank);
            return;
        }
    } else {
        err_set(RL_EUSAGE, "unknown command");
    }
    print_err(verbose);
}

int main(int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    uint32_t today = 20261124u;
    const char *env = getenv("IDENT_TODAY");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end || v < 10000101ul || v > 99991231ul) {
            fprintf(stderr, "ident-check: IDENT_TODAY must be YYYYMMDD\n");
            return 2;
        }
        today = (uint32_t)v;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        run_line(line, today, verbose);
    }
    free(line);
    return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
