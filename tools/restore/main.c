/* reservlon-restore: the REFERENCE importer's command line, standing in for the main
 * payroll system when the restore journal comes back (docs/restore.md). Not part of the
 * appliance: it reads a snapshot directory and signed journals, never a vault. Exit codes
 * as the appliance's: 0 ok, 1 data, 2 usage, 3 integrity. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "restore/restore.h"
#include "sig/minisig.h"

static const char usage_text[] =
    "usage: reservlon-restore init --snapshot DIR --main DIR\n"
    "       reservlon-restore apply --main DIR --journal FILE --pubkey KEY.pub\n"
    "       reservlon-restore state --main DIR --out FILE\n"
    "\n"
    "A reference for the main system's side of the restore journal (docs/restore.md):\n"
    "  init   start a main directory from the snapshot the main system exported\n"
    "  apply  verify a journal export (FILE.minisig beside it, the appliance's public key)\n"
    "         and apply what is new in it; the same or an older export changes nothing\n"
    "  state  write the employment state as canonical CSV, comparable byte for byte with\n"
    "         `reservlon employee state`\n"
    "Exit codes: 0 ok, 1 data error, 2 usage, 3 integrity (signature, chain, another vault\n"
    "or snapshot, a history that differs from what was applied).\n";

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "reservlon-restore: %s\n", msg);
    fputs(usage_text, stderr);
    return RL_EUSAGE;
}

typedef struct {
    const char *snapshot, *main, *journal, *pubkey, *out;
} opts;

/* Every argument after the command is an --option VALUE pair, each known and given once. */
static int parse(int argc, char **argv, opts *o)
{
    static const char *const names[] = {"--snapshot", "--main", "--journal", "--pubkey", "--out"};
    const char **slots[] = {&o->snapshot, &o->main, &o->journal, &o->pubkey, &o->out};
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        size_t k = 0;
        while (k < 5 && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == 5) {
            fprintf(stderr, "reservlon-restore: %s: unknown option or argument\n", argv[i]);
            return usage(NULL);
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0' || strncmp(argv[i + 1], "--", 2) == 0) {
            fprintf(stderr, "reservlon-restore: %s needs a value\n", argv[i]);
            return RL_EUSAGE;
        }
        if (*slots[k]) {
            fprintf(stderr, "reservlon-restore: %s is given twice\n", argv[i]);
            return RL_EUSAGE;
        }
        *slots[k] = argv[++i];
    }
    return RL_OK;
}

static int run(int argc, char **argv)
{
    opts o;
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return RL_OK;
    }
    int rc = parse(argc, argv, &o);
    if (rc != RL_OK)
        return rc;
    if (strcmp(cmd, "init") == 0) {
        if (!o.snapshot || !o.main || o.journal || o.pubkey || o.out)
            return usage("init takes --snapshot DIR --main DIR");
        if ((rc = restore_init(o.main, o.snapshot)) == RL_OK)
            printf("main directory %s started from the snapshot in %s\n", o.main, o.snapshot);
        return rc;
    }
    if (strcmp(cmd, "apply") == 0) {
        if (!o.main || !o.journal || !o.pubkey || o.snapshot || o.out)
            return usage("apply takes --main DIR --journal FILE --pubkey KEY.pub");
        minisig_pubkey pk;
        if ((rc = minisig_pubkey_load(o.pubkey, &pk)) != RL_OK)
            return err_wrap(rc, "--pubkey %s: ", o.pubkey);
        restore_result r;
        return restore_apply(o.main, o.journal, &pk, stdout, &r);
    }
    if (strcmp(cmd, "state") == 0) {
        if (!o.main || !o.out || o.snapshot || o.journal || o.pubkey)
            return usage("state takes --main DIR --out FILE");
        if ((rc = restore_state_write(o.main, o.out)) == RL_OK)
            printf("state written to %s\n", o.out);
        return rc;
    }
    fprintf(stderr, "reservlon-restore: unknown command '%s'\n", cmd);
    return usage(NULL);
}

int main(int argc, char **argv)
{
    umask(077); /* the main directory and the state hold personal data */
    if (sodium_init() < 0) {
        fprintf(stderr, "reservlon-restore: libsodium failed to initialise\n");
        return 3;
    }
    int rc = run(argc, argv);
    if (rc != RL_OK && err_msg()[0] != '\0')
        fprintf(stderr, "reservlon-restore: %s\n", err_msg());
    return err_exit_code(rc);
}
