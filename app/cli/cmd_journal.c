/* cmd_journal: `reservlon journal export|verify|diff` (see cmd_journal.h).
 *
 * export brings a second approver into the session (--second NAME), so the command parses
 * its own options, as key and payfile do; verify and diff need no vault and no operator:
 * the main system's staff run them wherever the journal is imported. */
#include "cli/cmd_journal.h"

#include <stdio.h>
#include <string.h>

#include "cli/pair.h"
#include "common/err.h"
#include "common/json.h"
#include "journal/export.h"
#include "journal/journal.h"

typedef struct {
    const char *vault, *as, *pass_file, *second, *second_pass_file, *out, *pubkey;
    int json;
    const char *pos[6];
    int npos;
} jopts;

static const char help_text[] =
    "usage: reservlon journal SUBCOMMAND ...\n"
    "\n"
    "  --vault DIR journal export --out FILE --as APPROVER --second APPROVER2\n"
    "              [--passphrase-file F] [--second-passphrase-file G]\n"
    "                             write the signed restore journal (FILE and FILE.minisig);\n"
    "                             each export starts with the previous one, unchanged\n"
    "  journal verify FILE --pubkey KEY.pub [--json]\n"
    "                             check the signature, every line and the hash chain (no vault)\n"
    "  journal diff OLD NEW       check OLD is a prefix of NEW; what NEW adds (no vault)\n";

static int usage_err(const char *msg)
{
    return err_set(RL_EUSAGE, "%s\n%s", msg, help_text);
}

static int parse(int argc, char **argv, jopts *o)
{
    memset(o, 0, sizeof *o);
    const cli_opt opts[] = {
        {"--vault", &o->vault, NULL},       {"--as", &o->as, NULL},
        {"--passphrase-file", &o->pass_file, NULL}, {"--second", &o->second, NULL},
        {"--second-passphrase-file", &o->second_pass_file, NULL},
        {"--out", &o->out, NULL},           {"--pubkey", &o->pubkey, NULL},
        {"--json", NULL, &o->json}};
    return cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], o->pos,
                     (int)(sizeof o->pos / sizeof o->pos[0]), &o->npos, help_text);
}

static void print_counts(const uint64_t *c)
{
    static const journal_kind order[] = {JOURNAL_REGISTRATION, JOURNAL_DECISION, JOURNAL_PAYRUN,
                                         JOURNAL_PAYFILE, JOURNAL_SNAPSHOT};
    static const char *const words[] = {"registrations", "decisions", "pay runs",
                                        "payment files", "snapshot changes"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        printf("%s%llu %s", i ? ", " : "", (unsigned long long)c[order[i]], words[i]);
}

static int export_cmd(const jopts *o)
{
    if (o->npos != 2 || o->out == NULL)
        return usage_err("journal export --out FILE --as APPROVER --second APPROVER2");
    if (o->pubkey || o->json)
        return usage_err("journal export takes no --pubkey or --json");
    if (o->vault == NULL)
        return usage_err("--vault DIR is required");
    if (o->as == NULL)
        return usage_err("--as NAME is required (the operator running this command)");
    /* Refused before any passphrase is asked for: the key needs two approvers. */
    if (o->second == NULL)
        return usage_err("--second NAME is required: the journal is signed with the "
                         "two-approver key");
    vault *v = NULL;
    signing_session *s = NULL;
    journal_export_summary sum;
    int rc = cli_open_vault(o->vault, o->as, o->pass_file, &v);
    if (rc != RL_OK)
        goto cleanup;
    if ((rc = vault_require_role(v, VAULT_ROLE_APPROVER, "exporting the journal")) != RL_OK ||
        (rc = cli_open_pair(v, o->second, o->second_pass_file, "signing the journal", &s)) !=
            RL_OK ||
        (rc = signing_unlock(s)) != RL_OK || (rc = journal_export(v, s, o->out, &sum)) != RL_OK)
        goto cleanup;
    uint64_t added = 0;
    for (int k = 0; k < JOURNAL_NKINDS; k++)
        added += sum.added[k];
    printf("journal %s written: %llu lines, ", o->out, (unsigned long long)sum.lines);
    if (added == 0)
        printf("nothing new since the last export\n");
    else {
        printf("%llu new (lines %llu-%llu: ", (unsigned long long)added,
               (unsigned long long)sum.first_new, (unsigned long long)sum.lines);
        print_counts(sum.added);
        printf(")\n");
    }
    printf("last line hash %s\nsigned by %s and %s (key %s) at %s: %s.minisig\n", sum.last, o->as,
           o->second, signing_key_id(s), sum.exported, o->out);
cleanup:
    signing_close(s);
    vault_close(v);
    return rc;
}

static int verify_cmd(const jopts *o)
{
    if (o->npos != 3 || o->pubkey == NULL)
        return usage_err("journal verify FILE --pubkey KEY.pub [--json]");
    if (o->vault || o->as || o->pass_file || o->second || o->second_pass_file || o->out)
        return usage_err("journal verify takes FILE, --pubkey and --json only (no vault)");
    minisig_pubkey pk;
    journal_info info;
    int rc = minisig_pubkey_load(o->pubkey, &pk);
    if (rc != RL_OK)
        return err_wrap(rc, "--pubkey %s: ", o->pubkey);
    if ((rc = journal_verify_file(o->pos[2], &pk, &info)) != RL_OK)
        return rc;
    if (o->json) {
        printf("{\"ok\":true,\"file\":");
        json_write_string(stdout, o->pos[2]);
        printf(",\"lines\":%llu", (unsigned long long)info.lines);
        for (int k = 0; k < JOURNAL_NKINDS; k++)
            printf(",\"%s\":%llu", journal_kind_name((journal_kind)k),
                   (unsigned long long)info.count[k]);
        printf(",\"last\":\"%s\",\"vault_id\":", info.last);
        json_write_string(stdout, info.vault_id);
        printf(",\"exported\":");
        json_write_string(stdout, info.exported);
        printf(",\"signed_by\":");
        json_write_string(stdout, info.by);
        printf(",\"key_id\":");
        json_write_string(stdout, info.key_id);
        printf(",\"trusted_comment\":");
        json_write_string(stdout, info.trusted_comment);
        printf("}\n");
        return RL_OK;
    }
    printf("%s: OK (signature, %llu lines, hash chain, signed comment)\nvault      %s\ncontents   ",
           o->pos[2], (unsigned long long)info.lines, info.vault_id);
    print_counts(info.count);
    printf("\nlast line  %s\nexported   %s\nsigned by  %s\nkey id     %s\n", info.last,
           info.exported, info.by, info.key_id);
    return RL_OK;
}

static int diff_cmd(const jopts *o)
{
    if (o->npos != 4 || o->vault || o->as || o->pass_file || o->second ||
        o->second_pass_file || o->out || o->pubkey || o->json)
        return usage_err("journal diff OLD NEW (no vault, no options)");
    journal_diff_info d;
    int rc = journal_diff(o->pos[2], o->pos[3], &d);
    if (rc != RL_OK)
        return rc;
    if (d.new_lines == d.old_lines) {
        printf("%s is a prefix of %s: identical (%llu lines), nothing added\n", o->pos[2],
               o->pos[3], (unsigned long long)d.old_lines);
        return RL_OK;
    }
    printf("%s is a prefix of %s: %s adds %llu lines (seq %llu-%llu): ", o->pos[2], o->pos[3],
           o->pos[3], (unsigned long long)(d.new_lines - d.old_lines),
           (unsigned long long)(d.old_lines + 1), (unsigned long long)d.new_lines);
    print_counts(d.added);
    printf("\n");
    return RL_OK;
}

int cmd_journal(int argc, char **argv)
{
    jopts o;
    int rc = parse(argc, argv, &o);
    if (rc != RL_OK)
        return rc;
    const char *sub = o.npos >= 2 ? o.pos[1] : "";
    if (strcmp(sub, "export") == 0)
        return export_cmd(&o);
    if (strcmp(sub, "verify") == 0)
        return verify_cmd(&o);
    if (strcmp(sub, "diff") == 0)
        return diff_cmd(&o);
    return usage_err("journal export|verify|diff");
}
