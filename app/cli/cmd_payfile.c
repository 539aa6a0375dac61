/* cmd_payfile: `reservlon key ...` and `reservlon payfile ...` (see cmd_payfile.h).
 *
 * These commands bring a second approver into the session (--second NAME, with
 * --second-passphrase-file or a no-echo prompt), so they parse their own options; the
 * global --vault, --as and --passphrase-file mean what they mean everywhere. The command
 * line is documented in docs/signing.md and docs/payfile.md. */
#include "cli/cmd_payfile.h"

#include "cli/pair.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/field.h"
#include "common/json.h"
#include "common/fileio.h"
#include "payfile/pain002.h"
#include "payfile/payfile.h"
#include "payfile/status.h"
#include "payfile/verify.h"
#include "signing/signing.h"
#include "vault/vault.h"


typedef struct {
    const char *vault, *as, *pass_file, *second, *second_pass_file;
    const char *payrun, *out, *format, *profile, *pubkey;
    int drill, json, leave_out;
    const char *pos[24]; /* config set takes up to ten KEY VALUE pairs */
    int npos;
} popts;

static const char help_text[] =
    "usage: reservlon --vault DIR key|payfile SUBCOMMAND [OPTIONS] --as NAME [--passphrase-file F]\n"
    "\n"
    "  key create --second NAME [--out FILE]   the key ceremony: two approvers make the\n"
    "                                          appliance signing key (public key to FILE)\n"
    "  key rotate --second NAME [--out FILE]   a new key; the old one is retired\n"
    "  key grant --second NAME                 seal the key for approver pairs that lack it\n"
    "  key show                                the current public key\n"
    "  payfile write --payrun ID --out FILE --second NAME [--format pain.001.001.03|\n"
    "                pain.001.001.09] [--profile BANK] [--drill] [--leave-out-unpayable]\n"
    "                                          write and sign the payment file (FILE.minisig)\n"
    "  payfile list [--json]                   payment files written, with the bank's status\n"
    "  payfile status REPORT.xml [--json]      import the bank's pain.002 status report for\n"
    "                                          a file written here; lists rejected payments\n"
    "  payfile verify FILE --pubkey KEY.pub [--json]   check a signed payment file (no vault,\n"
    "                                          no --as): signature, XSD, sums, signed comment\n"
    "  payfile config show | config set KEY VALUE [KEY VALUE ...]\n"
    "                                          the debtor (employer) settings, all or none\n"
    "\n"
    "The second approver's passphrase comes from --second-passphrase-file or the terminal.\n";

static const char *xsd_dir(void)
{
    const char *xsd = getenv("RESERVLON_XSD_DIR");
    return xsd && xsd[0] ? xsd : RL_XSD_DIR;
}

static int usage_err(const char *msg)
{
    return err_set(RL_EUSAGE, "%s\n%s", msg, help_text);
}

static int parse(int argc, char **argv, popts *o)
{
    memset(o, 0, sizeof *o);
    const cli_opt opts[] = {
        {"--vault", &o->vault, NULL},       {"--as", &o->as, NULL},
        {"--passphrase-file", &o->pass_file, NULL}, {"--second", &o->second, NULL},
        {"--second-passphrase-file", &o->second_pass_file, NULL},
        {"--payrun", &o->payrun, NULL},     {"--out", &o->out, NULL},
        {"--format", &o->format, NULL},     {"--profile", &o->profile, NULL},
        {"--pubkey", &o->pubkey, NULL},     {"--drill", NULL, &o->drill},
        {"--leave-out-unpayable", NULL, &o->leave_out}, {"--json", NULL, &o->json}};
    return cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], o->pos,
                     (int)(sizeof o->pos / sizeof o->pos[0]), &o->npos, help_text);
}

static int open_as(const popts *o, vault **v)
{
    if (o->vault == NULL)
        return usage_err("--vault DIR is required");
    if (o->as == NULL)
        return usage_err("--as NAME is required (the operator running this command)");
    return cli_open_vault(o->vault, o->as, o->pass_file, v);
}

/* The second approver joins: their passphrase, then both approvers' shares. */
static int open_pair(const popts *o, vault *v, const char *action, signing_session **s)
{
    if (o->second == NULL)
        return usage_err("--second NAME is required: this needs a second approver");
    return cli_open_pair(v, o->second, o->second_pass_file, action, s);
}

/* --- key ----------------------------------------------------------------------------- */

static int key_cmd(const popts *o, vault *v)
{
    const char *sub = o->npos >= 2 ? o->pos[1] : "";
    signing_session *s = NULL;
    char pub[512];
    minisig_pubkey pk;
    int rc;
    if (strcmp(sub, "show") == 0 && o->npos == 2) {
        if ((rc = signing_pubkey(v, &pk, pub, sizeof pub)) == RL_OK)
            fputs(pub, stdout);
        return rc;
    }
    bool create = strcmp(sub, "create") == 0, rotate = strcmp(sub, "rotate") == 0;
    if ((create || rotate) && o->npos == 2) {
        int have = signing_pubkey(v, &pk, NULL, 0);
        if (have != RL_OK && have != RL_EDATA)
            return have;
        if (create && have == RL_OK)
            return err_set(RL_EDATA, "the appliance already has a signing key: 'key rotate' "
                                     "replaces it");
        if (rotate && have == RL_EDATA)
            return err_set(RL_EDATA, "the appliance has no signing key yet: 'key create'");
        if ((rc = open_pair(o, v, create ? "creating the signing key" : "rotating the signing key",
                            &s)) != RL_OK)
            return rc;
        rc = signing_key_create(s, pub, sizeof pub);
        if (rc == RL_OK && o->out)
            rc = file_write_atomic(o->out, pub, strlen(pub), 0644);
        if (rc == RL_OK) {
            printf("appliance signing key %s %s by %s and %s\n", signing_key_id(s),
                   create ? "created" : "rotated", o->as, o->second);
            printf("give this public key to the bank and enrol it on the tokens:\n%s", pub);
        }
        signing_close(s);
        return rc;
    }
    if (strcmp(sub, "grant") == 0 && o->npos == 2) {
        size_t made = 0;
        if ((rc = open_pair(o, v, "granting the signing key", &s)) == RL_OK &&
            (rc = signing_unlock(s)) == RL_OK && (rc = signing_grant(s, &made)) == RL_OK)
            printf("signing key %s sealed for %zu more approver pair(s)\n", signing_key_id(s),
                   made);
        signing_close(s);
        return rc;
    }
    return usage_err("key create|rotate|grant --second NAME | key show");
}

/* --- payfile ------------------------------------------------------------------------- */

static int config_cmd(const popts *o, vault *v)
{
    payfile_settings c;
    if (o->npos == 3 && strcmp(o->pos[2], "show") == 0) {
        payfile_settings_load(v, &c);
        for (size_t i = 0; i < PAYFILE_SETTINGS; i++)
            printf("%-16s %s\n", payfile_setting_names[i], c.v[i][0] ? c.v[i] : "(not set)");
        return RL_OK;
    }
    if (!(o->npos >= 5 && (o->npos - 3) % 2 == 0 && strcmp(o->pos[2], "set") == 0))
        return usage_err("payfile config show | payfile config set KEY VALUE [KEY VALUE ...]");
    int rc = vault_require_role(v, VAULT_ROLE_ADMIN, "changing the payment file settings");
    if (rc != RL_OK)
        return rc;
    /* Every pair is checked before any is stored: all or nothing, one login. */
    for (int k = 3; k < o->npos; k += 2) {
        const char *name = o->pos[k], *value = o->pos[k + 1];
        if (payfile_setting_index(name) < 0)
            return err_set(RL_EUSAGE, "unknown payment file setting '%s' (debtor_name, "
                                      "debtor_iban, debtor_clearing, debtor_account, debtor_bic, "
                                      "agreement_id, initiator_id, profile)", name);
        size_t n = strlen(value);
        bool utf8 = true;
        for (size_t j = 0; j < n && utf8;) {
            size_t len = (unsigned char)value[j] < 0x80
                              ? 1
                              : json_utf8_seq((const unsigned char *)value + j, n - j, NULL);
            utf8 = len > 0;
            j += len;
        }
        if (n >= sizeof c.v[0] || !utf8 ||
            (n > 0 && field_text(value, n, sizeof c.v[0] - 1) != RL_OK))
            return err_set(RL_EDATA, "payfile.%s: must be text of at most %zu bytes without "
                                     "control characters", name, sizeof c.v[0] - 1);
        if (strcmp(name, "profile") == 0 && n > 0 && payfile_profile_find(value) == NULL)
            return err_set(RL_EDATA, "payfile.profile: unknown bank profile '%s' (see "
                                     "docs/payfile.md)", value);
    }
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    for (int k = 3; k < o->npos; k += 2) {
        char key[64], detail[300];
        snprintf(key, sizeof key, "payfile.%s", o->pos[k]);
        snprintf(detail, sizeof detail, "%s set to '%s'", key, o->pos[k + 1]);
        if ((rc = vault_config_set(v, key, o->pos[k + 1])) != RL_OK ||
            (rc = vault_audit(v, "config.set", detail)) != RL_OK) {
            vault_rollback(v);
            return rc;
        }
    }
    return vault_commit(v);
}

static int write_cmd(const popts *o, vault *v)
{
    if (o->payrun == NULL || o->out == NULL)
        return usage_err("payfile write needs --payrun ID and --out FILE");
    char *end = NULL;
    long long run = strtoll(o->payrun, &end, 10);
    if (end == o->payrun || *end != '\0' || run <= 0)
        return err_set(RL_EUSAGE, "--payrun must be a pay run number");
    payfile_settings c;
    payfile_settings_load(v, &c);
    payfile_options po = {0};
    payfile_settings_apply(&c, &po);
    if (o->format == NULL || strcmp(o->format, "pain.001.001.03") == 0)
        po.format = PAYFILE_PAIN001_03;
    else if (strcmp(o->format, "pain.001.001.09") == 0)
        po.format = PAYFILE_PAIN001_09;
    else
        return err_set(RL_EUSAGE, "--format must be pain.001.001.03 or pain.001.001.09");
    if (o->profile)
        po.profile = o->profile;
    po.drill = o->drill != 0;
    po.leave_out_unpayable = o->leave_out != 0;
    po.report = stdout;
    signing_session *s = NULL;
    int rc = vault_require_role(v, VAULT_ROLE_APPROVER, "writing a payment file");
    if (rc != RL_OK || (rc = open_pair(o, v, "signing a payment file", &s)) != RL_OK ||
        (rc = signing_unlock(s)) != RL_OK)
        goto cleanup;
    po.signer = s;
    payfile_summary sum;
    if ((rc = payfile_write(v, run, &po, o->out, &sum)) != RL_OK)
        goto cleanup;
    char total[32];
    field_money_format(sum.total_ore, total);
    printf("payment file %s written%s: msgid %s, %llu payments, total %s SEK, execution date "
           "%s\nsigned by %s and %s (key %s): %s.minisig\nsha256 %s\n",
           o->out, po.drill ? " (DRILL)" : "", sum.msg_id, (unsigned long long)sum.count, total,
           sum.exec_date, o->as, o->second, signing_key_id(s), o->out, sum.sha256);
    if (sum.left_out > 0) {
        field_money_format(sum.left_out_ore, total);
        printf("%llu person(s) with %s SEK are NOT in the file (no valid account, listed "
               "above): pay them another way\n", (unsigned long long)sum.left_out, total);
    }
cleanup:
    signing_close(s);
    return rc;
}

static int list_cmd(const popts *o, vault *v)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT msg_id, payrun_id, format, profile, count, total_ore,"
                                 " exec_date, written_by, cosigned_by, written_at, drill, key_id,"
                                 " sha256, (SELECT status FROM payfile_status s WHERE s.msg_id ="
                                 " payfiles.msg_id AND s.end_to_end_id = '' ORDER BY imported_at"
                                 " DESC, report_msg_id DESC LIMIT 1) FROM payfiles"
                                 " ORDER BY written_at, msg_id",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "listing payment files");
    int n = 0;
    if (o->json)
        fputs("[", stdout);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        char total[32];
        field_money_format(sqlite3_column_int64(st, 5), total);
        const char *t[14];
        for (int i = 0; i < 14; i++)
            t[i] = (const char *)sqlite3_column_text(st, i);
        if (o->json) {
            printf("%s{\"msg_id\":\"%s\",\"payrun\":%s,\"format\":\"%s\",\"profile\":\"%s\","
                   "\"count\":%s,\"total_ore\":%s,\"exec_date\":\"%s\",\"written_by\":\"%s\","
                   "\"cosigned_by\":\"%s\",\"written_at\":\"%s\",\"drill\":%s,\"key_id\":\"%s\","
                   "\"sha256\":\"%s\",\"bank_status\":",
                   n ? "," : "", t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9],
                   sqlite3_column_int(st, 10) ? "true" : "false", t[11], t[12]);
            if (t[13]) /* the bank's text: escaped */
                json_write_string(stdout, t[13]);
            else
                fputs("null", stdout);
            fputs("}", stdout);
        } else {
            char sts[16];
            snprintf(sts, sizeof sts, "%s", t[13] ? t[13] : "");
            for (char *c = sts; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = '?';
            printf("%-28s run %-4s %s %-13s %6s payments %16s SEK  exec %s  by %s+%s %s%s%s%s\n",
                   t[0], t[1], t[2], t[3], t[4], total, t[6], t[7], t[8], t[9],
                   sqlite3_column_int(st, 10) ? " DRILL" : "", t[13] ? "  bank " : "",
                   t[13] ? (sts[0] ? sts : "(none)") : "");
        }
        n++;
    }
    sqlite3_finalize(st);
    if (o->json)
        fputs("]\n", stdout);
    else if (n == 0)
        puts("no payment files written");
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "listing payment files");
}

/* The bank's text on the terminal: control characters (an escape sequence) become '?'. */
static void put_bank_text(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static const char status_advice[] =
    "pay the rejected people another way or correct their account with a bank_change and "
    "write a new file";

static void status_json(const payfile_status_result *r)
{
    char amt[32];
    printf("{\"report_msg_id\":");
    json_write_string(stdout, r->report_msg_id);
    printf(",\"report_format\":\"pain.002.001.%02d\",\"report_created\":", r->version);
    json_write_string(stdout, r->report_created);
    printf(",\"msg_id\":\"%s\",\"payrun\":%lld,\"drill\":%s,\"file_count\":%llu,"
           "\"file_total_ore\":%lld,\"group_status\":",
           r->msg_id, (long long)r->payrun_id, r->drill ? "true" : "false",
           (unsigned long long)r->file_count, (long long)r->file_total_ore);
    json_write_string(stdout, r->group_status);
    printf(",\"group_reason\":");
    json_write_string(stdout, r->group_reason);
    printf(",\"group_info\":");
    json_write_string(stdout, r->group_info);
    printf(",\"reported\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"pending\":%llu,"
           "\"rejected_payments\":[",
           (unsigned long long)r->reported, (unsigned long long)r->accepted,
           (unsigned long long)r->rejected, (unsigned long long)r->pending);
    for (size_t i = 0; i < r->nrej; i++) {
        const payfile_status_rejected *x = &r->rej[i];
        field_money_format(x->amount_ore, amt);
        printf("%s{\"end_to_end_id\":\"%s\",\"employments\":[", i ? "," : "",
               x->end_to_end_id);
        const char *e = x->employments;
        for (size_t k = 0; k < x->n_employments; k++, e += strlen(e) + 1) {
            if (k)
                putchar(',');
            json_write_string(stdout, e);
        }
        printf("],\"pnr_masked\":\"%s\",\"amount_ore\":%lld,\"amount\":\"%s\",\"reason\":",
               x->pnr_masked, (long long)x->amount_ore, amt);
        json_write_string(stdout, x->reason);
        printf(",\"info\":");
        json_write_string(stdout, x->info);
        putchar('}');
    }
    printf("],\"advice\":");
    json_write_string(stdout, r->rejected || pain002_status_is_final_reject(r->group_status)
                                  ? status_advice : "");
    printf("}\n");
}

static void status_text(const payfile_status_result *r)
{
    char amt[32];
    field_money_format(r->file_total_ore, amt);
    printf("status report ");
    put_bank_text(r->report_msg_id);
    printf(" (pain.002.001.%02d) imported\npayment file %s%s, pay run %lld: %llu payments, %s SEK\n"
           "group status ",
           r->version, r->msg_id, r->drill ? " (DRILL)" : "", (long long)r->payrun_id,
           (unsigned long long)r->file_count, amt);
    put_bank_text(r->group_status[0] ? r->group_status : "(none)");
    if (r->group_reason[0] || r->group_info[0]) {
        printf(" (");
        put_bank_text(r->group_reason);
        printf("%s", r->group_reason[0] && r->group_info[0] ? ": " : "");
        put_bank_text(r->group_info);
        printf(")");
    }
    printf("\npayments reported %llu: %llu accepted, %llu rejected, %llu pending or other, "
           "%llu not named in this report\n",
           (unsigned long long)r->reported, (unsigned long long)r->accepted,
           (unsigned long long)r->rejected, (unsigned long long)r->pending,
           (unsigned long long)(r->file_count > r->reported ? r->file_count - r->reported : 0));
    if (r->nrej > 0)
        printf("rejected by the bank (NOT paid):\n");
    for (size_t i = 0; i < r->nrej; i++) {
        const payfile_status_rejected *x = &r->rej[i];
        field_money_format(x->amount_ore, amt);
        printf("  employment ");
        const char *e = x->employments;
        for (size_t k = 0; k < x->n_employments; k++, e += strlen(e) + 1)
            printf("%s%s", k ? ", " : "", e);
        printf(" (%s): %s SEK, %s, reason ", x->pnr_masked, amt, x->end_to_end_id);
        put_bank_text(x->reason[0] ? x->reason : "(none)");
        if (x->info[0]) {
            printf(": ");
            put_bank_text(x->info);
        }
        putchar('\n');
    }
    if (pain002_status_is_final_reject(r->group_status))
        printf("the bank rejected the whole file: nobody in it is paid by it; correct the cause "
               "and write a new file\n");
    if (r->pending > 0 || (r->reported == 0 && !pain002_status_is_accepted(r->group_status) &&
                           !pain002_status_is_final_reject(r->group_status)))
        printf("pending payments are not final: a later report from the bank settles them\n");
    if (strcmp(r->group_status, "ACTC") == 0)
        printf("ACTC means only that the file passed the bank's technical checks: a later "
               "report may still reject payments\n");
    if (r->nrej > 0)
        printf("what to do: %s\n", status_advice);
}

/* Any operator: the bank's report is information, and the import is audited. */
static int status_cmd(const popts *o, vault *v)
{
    if (o->npos != 3)
        return usage_err("payfile status REPORT.xml [--json]");
    if (o->second || o->payrun || o->out || o->format || o->profile || o->pubkey || o->drill ||
        o->leave_out)
        return usage_err("payfile status takes REPORT.xml and --json only");
    char *xml = NULL;
    size_t len = 0;
    payfile_status_result *r = NULL;
    int rc = file_read_all(o->pos[2], PAIN002_MAX_BYTES, &xml, &len);
    if (rc != RL_OK)
        return err_wrap(rc, "%s: ", o->pos[2]);
    if ((rc = payfile_status_import(v, xml, len, xsd_dir(), &r)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", o->pos[2]);
        goto cleanup;
    }
    if (o->json)
        status_json(r);
    else
        status_text(r);
cleanup:
    payfile_status_free(r);
    free(xml);
    return rc;
}

/* No vault and no operator: anyone with the public key can check a file anywhere. */
static int verify_cmd(const popts *o)
{
    if (o->npos != 3 || o->pubkey == NULL)
        return usage_err("payfile verify FILE --pubkey KEY.pub [--json]");
    if (o->vault || o->as || o->pass_file || o->second || o->payrun || o->out || o->format ||
        o->profile || o->drill || o->leave_out)
        return usage_err("payfile verify takes FILE, --pubkey and --json only (no vault)");
    minisig_pubkey pk;
    payfile_verified r;
    int rc = minisig_pubkey_load(o->pubkey, &pk);
    if (rc != RL_OK)
        return err_wrap(rc, "--pubkey %s: ", o->pubkey);
    if ((rc = payfile_verify(o->pos[2], &pk, xsd_dir(), &r)) != RL_OK)
        return rc;
    char total[32];
    field_money_format(r.total_ore, total);
    if (o->json) {
        printf("{\"ok\":true,\"file\":");
        json_write_string(stdout, o->pos[2]);
        printf(",\"format\":\"pain.001.001.%02d\",\"msg_id\":", r.version);
        json_write_string(stdout, r.msg_id);
        printf(",\"count\":%llu,\"total_ore\":%lld,\"total\":\"%s\",\"exec_date\":",
               (unsigned long long)r.count, (long long)r.total_ore, total);
        json_write_string(stdout, r.exec_date);
        printf(",\"mode\":\"%s\",\"key_id\":\"%s\",\"signed_by\":", r.drill ? "drill" : "production",
               r.key_id);
        json_write_string(stdout, r.signed_by);
        printf(",\"signed_at\":");
        json_write_string(stdout, r.signed_at);
        printf(",\"payrun\":");
        json_write_string(stdout, r.payrun);
        printf(",\"seq\":");
        json_write_string(stdout, r.seq);
        printf(",\"left_out\":");
        json_write_string(stdout, r.left_out);
        printf(",\"trusted_comment\":");
        json_write_string(stdout, r.trusted_comment);
        printf("}\n");
        return RL_OK;
    }
    printf("%s: OK (signature, pain.001.001.%02d schema, sums, signed comment)\n"
           "msgid      %s%s%s%s\n"
           "payments   %llu\n"
           "total      %s SEK\n"
           "execution  %s\n"
           "signed by  %s%s%s\n"
           "key id     %s\n"
           "mode       %s\n"
           "left out   %s%s\n",
           o->pos[2], r.version, r.msg_id, r.payrun[0] ? "  (pay run " : "", r.payrun[0] ? r.payrun : "",
           r.payrun[0] ? ")" : "", (unsigned long long)r.count,
           total, r.exec_date, r.signed_by[0] ? r.signed_by : "(not named)",
           r.signed_at[0] ? " at " : "", r.signed_at, r.key_id,
           r.drill ? "drill (not a real payment)" : "production", r.left_out[0] ? r.left_out : "0",
           r.left_out[0] && strcmp(r.left_out, "0") != 0
               ? " person(s) NOT in the file: pay them another way"
               : "");
    return RL_OK;
}

int cmd_payfile(int argc, char **argv)
{
    popts o;
    vault *v = NULL;
    int rc = parse(argc, argv, &o);
    if (rc != RL_OK)
        return rc;
    if (o.npos < 2)
        return usage_err("which subcommand?");
    bool key = strcmp(o.pos[0], "key") == 0;
    const char *sub = o.pos[1];
    if (!key && strcmp(sub, "verify") == 0)
        return verify_cmd(&o);
    if (!key && !(strcmp(sub, "write") == 0 || strcmp(sub, "list") == 0 ||
                  strcmp(sub, "config") == 0 || strcmp(sub, "status") == 0))
        return usage_err("payfile write|list|status|config|verify");
    if ((rc = open_as(&o, &v)) != RL_OK)
        return rc;
    if (key)
        rc = key_cmd(&o, v);
    else if (strcmp(sub, "write") == 0)
        rc = o.npos == 2 ? write_cmd(&o, v) : usage_err("payfile write takes no argument");
    else if (strcmp(sub, "list") == 0)
        rc = o.npos == 2 ? list_cmd(&o, v) : usage_err("payfile list takes no argument");
    else if (strcmp(sub, "status") == 0)
        rc = status_cmd(&o, v);
    else
        rc = config_cmd(&o, v);
    vault_close(v);
    return rc;
}
