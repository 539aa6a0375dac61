/* cmd_reconcile: the reconciliation report of a released pay run from the command line
 * (see cmd_reconcile.h); it parses its own options, as journal does. */
#include "cli/cmd_reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pair.h"
#include "common/err.h"
#include "common/field.h"
#include "reconcile/reconcile.h"

static const char help_text[] =
    "usage: reservlon --vault DIR reconcile --payrun ID --out DIR [--rules FILE]\n"
    "                 --as APPROVER|ADMIN [--passphrase-file F]\n"
    "  writes DIR/reconcile-payrun-ID.csv and .html: per employment what the released pay\n"
    "  run paid, what a recalculation with every document approved now pays, and the\n"
    "  difference the main system's next regular run must settle (docs/reconcile.md)\n";

int cmd_reconcile(int argc, char **argv)
{
    const char *vault_dir = NULL, *as = NULL, *pass_file = NULL, *payrun = NULL, *out = NULL,
               *rules = NULL, *pos[4];
    int npos = 0;
    const cli_opt opts[] = {{"--vault", &vault_dir, NULL}, {"--as", &as, NULL},
                            {"--passphrase-file", &pass_file, NULL},
                            {"--payrun", &payrun, NULL}, {"--out", &out, NULL},
                            {"--rules", &rules, NULL}};
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], pos,
                       (int)(sizeof pos / sizeof pos[0]), &npos, help_text);
    if (rc != RL_OK)
        return rc;
    if (npos != 1 || payrun == NULL || out == NULL)
        return err_set(RL_EUSAGE, "reconcile needs --payrun ID and --out DIR\n%s", help_text);
    if (vault_dir == NULL || as == NULL)
        return err_set(RL_EUSAGE, "--vault DIR and --as NAME are required\n%s", help_text);
    char *end = NULL;
    errno = 0;
    long long id = strtoll(payrun, &end, 10);
    if (end == payrun || *end != '\0' || id <= 0 || errno == ERANGE)
        return err_set(RL_EUSAGE, "--payrun: a pay run id is a positive number\n%s", help_text);
    vault *v = NULL;
    reconcile_totals t;
    if ((rc = cli_open_vault(vault_dir, as, pass_file, &v)) != RL_OK)
        goto cleanup;
    rc = rules ? reconcile_write_rules(v, id, out, rules, &t) : reconcile_write(v, id, out, &t);
    if (rc != RL_OK)
        goto cleanup;
    char paid[32], should[32], diff[32];
    field_money_format(t.paid_net_ore, paid);
    field_money_format(t.should_net_ore, should);
    field_money_format(t.diff_net_ore, diff);
    printf("reconciliation of pay run %lld written: %s/reconcile-payrun-%lld.csv and .html\n"
           "%zu employments in the run, %zu not in it but paid by a recalculation now\n"
           "net paid %s SEK, should have been %s SEK, difference %s SEK\n"
           "%zu employment(s) need a correction by the main system's next regular run\n",
           id, out, id, t.employments, t.added, paid, should, diff, t.corrections_needed);
cleanup:
    vault_close(v);
    return rc;
}
