/* reservlon: the command-line entry point of the appliance.
 *
 * Parses the command line, authenticates the operator, calls the modules and turns their
 * return codes into the exit codes of DESIGN.md (0 ok, 1 user or data error, 2 usage,
 * 3 integrity or security failure). Only this file calls exit(). */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "cli/cmd_drill.h"
#include "cli/cmd_journal.h"
#include "cli/cmd_payfile.h"
#include "cli/cmd_reconcile.h"
#include "cli/prompt.h"
#include "cli/cmd_token.h"
#include "cli/cmd_ui.h"
#include "payrun/payrun.h"
#include "preflight/preflight.h"
#include "registry/registry.h"
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/keyconf.h"
#include "vault/vault.h"


static const char usage_text[] =
    "usage: reservlon --vault DIR COMMAND [ARGS] [--as NAME --passphrase-file FILE]\n"
    "\n"
    "commands:\n"
    "  init --admin NAME --passphrase-file FILE [--export-pubkey FILE] [--rules-pubkey FILE]\n"
    "                              create a vault with its first administrator\n"
    "  operator add NAME --role registrar|approver|administrator --new-passphrase-file FILE\n"
    "                              add an operator (administrators)\n"
    "  config set-export-key FILE  set the main system's snapshot export public key\n"
    "  config set-rules-key FILE   set the pay-rules signing public key\n"
    "  config set payrun.second_approval_pct N\n"
    "                              net-total change (%) above which a pay run needs two\n"
    "                              approvers besides its creator (default 5)\n"
    "  snapshot import DIR [--replace]\n"
    "                              verify and import a signed snapshot (administrators)\n"
    "  status [--json]             counts, snapshot source and time\n"
    "  check                       full integrity check of the vault and its audit log\n"
    "  register TYPE --FIELD VALUE ... [--corrects UUID]\n"
    "                              register one document (docs/registrations.md): hire,\n"
    "                              termination, salary_change, extent_change, bank_change,\n"
    "                              tax_change, leave, one_off\n"
    "  register --batch FILE       register a JSON Lines or CSV batch, all or nothing\n"
    "  register approve UUID...    approve (approvers; not the author)\n"
    "  register reject UUID --reason TEXT\n"
    "  register list [--status S] [--employee PNR] [--json]\n"
    "  employee show PNR [--json] [--reveal]\n"
    "  employee state --out FILE   the current state of every employment as canonical CSV\n"
    "                              (compared with the main system's restore, docs/restore.md)\n"
    "  audit verify | audit list [--json]\n"
    "  payrun create --period YYYY-MM --pay-date DATE --policy same-as-last|recalculate\n"
    "                [--include-pending] [--rules FILE]\n"
    "  payrun show ID [--json|--csv]\n"
    "  payrun approve ID           release (approvers other than the creator)\n"
    "  key create|rotate|grant --second NAME | key show\n"
    "                              the two-approver signing key (docs/signing.md)\n"
    "  payfile write --payrun ID --out FILE --second NAME [--format F] [--profile B]\n"
    "                [--drill]     the signed payment file (two approvers)\n"
    "  payfile list | payfile config show | payfile config set KEY VALUE [KEY VALUE ...]\n"
    "  payfile verify FILE --pubkey KEY   check a payment file anywhere (no vault)\n"
    "  payfile status REPORT.xml   import the bank's pain.002 status report\n"
    "  journal export --out FILE --second NAME | journal verify FILE --pubkey KEY.pub |\n"
    "  journal diff OLD NEW        the signed restore journal (docs/journal-format.md)\n"
    "  reconcile --payrun ID --out DIR [--rules FILE]\n"
    "                              what a released pay run paid against what it should\n"
    "                              have, per employment (docs/reconcile.md)\n"
    "  token info|list|put FILE|get NAME --out F|enroll ...   (see 'reservlon token help')\n"
    "  drill --snapshot DIR --export-pubkey K --rules-pubkey K --out DIR [--mix N]\n"
    "                              the continuity drill on a throwaway vault (docs/drill.md)\n"
    "  ui [--lang sv|en]           the terminal user interface (also: no command on a\n"
    "                              terminal); docs/ui.md\n"
    "  preflight [--vault DIR] [--as NAME --passphrase-file FILE] [--rules FILE]\n"
    "                              check the workstation (docs/preflight.md); no vault needed\n"
    "\n"
    "Every command but init authenticates an operator with --as and --passphrase-file, or\n"
    "asks for the passphrase on the terminal. Exit codes: 0 ok, 1 data error, 2 usage,\n"
    "3 integrity or security failure.\n";

typedef struct {
    const char *vault;
    const char *as;
    const char *pass_file;
    const char *new_pass_file;
    const char *admin;
    const char *role;
    const char *export_pubkey;
    const char *batch;
    const char *rules_pubkey;
    const char *rules;
    const char *period;
    const char *pay_date;
    const char *policy;
    int include_pending;
    int csv;
    const char *corrects;
    const char *reason;
    const char *status;
    const char *employee;
    const char *out;
    int json;
    int replace;
    int reveal;
    const char *pos[256];
    int npos;
    /* Any other --name value pair: a document field for `register TYPE`. */
    reg_field fields[40];
    char field_names[40][48];
    size_t nfields;
} args;

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "reservlon: %s\n", msg);
    fputs(usage_text, stderr);
    return RL_EUSAGE;
}

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        if (strcmp(s, "--vault") == 0)
            slot = &a->vault;
        else if (strcmp(s, "--as") == 0)
            slot = &a->as;
        else if (strcmp(s, "--passphrase-file") == 0)
            slot = &a->pass_file;
        else if (strcmp(s, "--new-passphrase-file") == 0)
            slot = &a->new_pass_file;
        else if (strcmp(s, "--admin") == 0)
            slot = &a->admin;
        else if (strcmp(s, "--role") == 0)
            slot = &a->role;
        else if (strcmp(s, "--export-pubkey") == 0)
            slot = &a->export_pubkey;
        else if (strcmp(s, "--batch") == 0)
            slot = &a->batch;
        else if (strcmp(s, "--rules-pubkey") == 0)
            slot = &a->rules_pubkey;
        else if (strcmp(s, "--rules") == 0)
            slot = &a->rules;
        else if (strcmp(s, "--period") == 0)
            slot = &a->period;
        else if (strcmp(s, "--pay-date") == 0)
            slot = &a->pay_date;
        else if (strcmp(s, "--policy") == 0)
            slot = &a->policy;
        else if (strcmp(s, "--include-pending") == 0)
            a->include_pending = 1;
        else if (strcmp(s, "--csv") == 0)
            a->csv = 1;
        else if (strcmp(s, "--corrects") == 0)
            slot = &a->corrects;
        else if (strcmp(s, "--reason") == 0)
            slot = &a->reason;
        else if (strcmp(s, "--status") == 0)
            slot = &a->status;
        else if (strcmp(s, "--employee") == 0)
            slot = &a->employee;
        else if (strcmp(s, "--json") == 0)
            a->json = 1;
        else if (strcmp(s, "--replace") == 0)
            a->replace = 1;
        else if (strcmp(s, "--out") == 0)
            slot = &a->out;
        else if (strcmp(s, "--reveal") == 0)
            a->reveal = 1;
        else if (strncmp(s, "--", 2) == 0 && s[2] != '\0' && i + 1 < argc &&
                 strncmp(argv[i + 1], "--", 2) != 0 &&
                 a->nfields < sizeof a->fields / sizeof a->fields[0] && strlen(s + 2) < 48) {
            /* A document field: --start-date and --start_date both name start_date. */
            char *name = a->field_names[a->nfields];
            snprintf(name, 48, "%s", s + 2);
            for (char *c = name; *c; c++)
                if (*c == '-')
                    *c = '_';
            a->fields[a->nfields].name = name;
            a->fields[a->nfields].value = argv[++i];
            a->nfields++;
        } else if (strncmp(s, "--", 2) == 0) {
            fprintf(stderr, "reservlon: %s: unknown option, or its value is missing\n", s);
            return RL_EUSAGE;
        } else if (a->npos < 256)
            a->pos[a->npos++] = s;
        else
            return usage("too many arguments");
        if (slot) {
            /* "--period --pay-date X" is a forgotten value, not a period "--pay-date". */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                fprintf(stderr, "reservlon: %s needs a value\n", s);
                return RL_EUSAGE;
            }
            if (*slot != NULL) { /* never silently take the second of two */
                fprintf(stderr, "reservlon: %s is given twice\n", s);
                return RL_EUSAGE;
            }
            *slot = argv[++i];
        }
    }
    return RL_OK;
}

static int open_vault(const args *a, vault **v)
{
    char *pass = NULL;
    size_t len = 0;
    if (a->vault == NULL)
        return usage("--vault DIR is required");
    if (a->as == NULL)
        return usage("--as NAME is required (the operator running this command)");
    int rc = cli_read_passphrase(a->pass_file, "passphrase: ", &pass, &len);
    if (rc != RL_OK)
        return rc;
    rc = vault_open(a->vault, a->as, pass, len, v);
    sodium_free(pass);
    return rc;
}

/* Stores a minisign public key file as vault configuration (administrators, audited). */
static int set_key_config(vault *v, const char *path, const char *key, const char *what)
{
    return keyconf_set_file(v, key, path, what);
}

/* Reads and parses a public key file without storing it (init checks its key files
 * before it creates anything). */
static int check_key_file(const char *path)
{
    minisig_pubkey pk;
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 4096, &text, &len);
    if (rc != RL_OK)
        return rc;
    if ((rc = minisig_pubkey_parse(text, len, &pk)) != RL_OK)
        err_wrap(rc, "%s: ", path);
    free(text);
    return rc;
}

static int set_export_key(vault *v, const char *path)
{
    return set_key_config(v, path, "export_pubkey", "snapshot export key");
}

/* Numeric settings an administrator may change (documented in docs/). */
static int set_config_value(vault *v, const char *key, const char *value)
{
    int rc = vault_require_role(v, VAULT_ROLE_ADMIN, "changing configuration");
    if (rc != RL_OK)
        return rc;
    if (strcmp(key, "payrun.second_approval_pct") != 0)
        return err_set(RL_EUSAGE, "unknown setting '%s' (payrun.second_approval_pct)", key);
    char *end = NULL;
    long n = strtol(value, &end, 10);
    if (end == value || *end != '\0' || n < 0 || n > 100)
        return err_set(RL_EDATA, "%s must be a whole percentage 0-100", key);
    char detail[160];
    snprintf(detail, sizeof detail, "%s set to %ld", key, n);
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    if ((rc = vault_config_set(v, key, value)) != RL_OK ||
        (rc = vault_audit(v, "config.set", detail)) != RL_OK) {
        vault_rollback(v);
        return rc;
    }
    return vault_commit(v);
}

static int cmd_init(const args *a)
{
    char *pass = NULL;
    size_t len = 0;
    vault *v = NULL;
    if (a->vault == NULL || a->admin == NULL)
        return usage("init needs --vault DIR and --admin NAME");
    /* A bad key file must not leave a vault behind that a corrected init then refuses. */
    int rc;
    if ((a->export_pubkey && (rc = check_key_file(a->export_pubkey)) != RL_OK) ||
        (a->rules_pubkey && (rc = check_key_file(a->rules_pubkey)) != RL_OK))
        return rc;
    rc = cli_read_passphrase(a->pass_file, "new administrator passphrase: ", &pass, &len);
    if (rc != RL_OK)
        return rc;
    rc = vault_create(a->vault, a->admin, pass, len);
    if (rc == RL_OK && (a->export_pubkey || a->rules_pubkey)) {
        rc = vault_open(a->vault, a->admin, pass, len, &v);
        if (rc == RL_OK && a->export_pubkey)
            rc = set_export_key(v, a->export_pubkey);
        if (rc == RL_OK && a->rules_pubkey)
            rc = set_key_config(v, a->rules_pubkey, "rules_pubkey", "pay-rules key");
        vault_close(v);
    }
    sodium_free(pass);
    if (rc == RL_OK)
        printf("vault created in %s with administrator %s\n", a->vault, a->admin);
    return rc;
}

static int cmd_operator(const args *a, vault *v)
{
    if (a->npos < 3 || strcmp(a->pos[1], "add") != 0 || a->role == NULL)
        return usage("operator add NAME --role ROLE --new-passphrase-file FILE");
    vault_role role;
    int rc = vault_role_parse(a->role, &role);
    if (rc != RL_OK)
        return rc;
    char *pass = NULL;
    size_t len = 0;
    if ((rc = cli_read_passphrase(a->new_pass_file, "new operator's passphrase: ", &pass, &len)))
        return rc;
    rc = vault_operator_add(v, a->pos[2], role, pass, len);
    sodium_free(pass);
    if (rc == RL_OK)
        printf("operator %s added with role %s\n", a->pos[2], a->role);
    return rc;
}

static int cmd_snapshot(const args *a, vault *v)
{
    if (a->npos < 3 || strcmp(a->pos[1], "import") != 0)
        return usage("snapshot import DIR");
    minisig_pubkey pk;
    int rc = keyconf_get(v, KEYCONF_EXPORT, &pk);
    if (rc != RL_OK)
        return rc;
    snapshot_counts c;
    rc = snapshot_import(v, a->pos[2], &pk, a->replace, stderr, stderr, &c);
    if (rc == RL_OK)
        printf("snapshot imported: %llu employees, %llu employments, %llu last pay run lines "
               "(net %lld.%02lld SEK)\n",
               (unsigned long long)c.employees, (unsigned long long)c.employments,
               (unsigned long long)c.last_payrun, (long long)(c.last_net_total_ore / 100),
               (long long)(c.last_net_total_ore % 100));
    return rc;
}

static int cmd_register(const args *a, vault *v)
{
    int rc;
    const char *sub = a->npos > 1 ? a->pos[1] : NULL;
    if (a->batch) {
        size_t n = 0;
        if (a->npos > 1 || a->nfields)
            return usage("register --batch FILE takes no other arguments");
        rc = registry_batch(v, a->batch, stderr, &n);
        if (rc == RL_OK)
            printf("registered %zu documents from %s\n", n, a->batch);
        return rc;
    }
    if (sub == NULL)
        return usage("register needs a document type, --batch, approve, reject or list");
    if (strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0) {
        if (a->npos < 3 || a->nfields)
            return usage("register approve|reject UUID... [--reason TEXT]");
        /* Several UUIDs in one login; each decision is its own transaction, and the first
         * failure stops (the ones before it stand, and were printed). */
        for (int i = 2; i < a->npos; i++) {
            rc = strcmp(sub, "approve") == 0 ? registry_approve(v, a->pos[i])
                                             : registry_reject(v, a->pos[i], a->reason);
            if (rc != RL_OK)
                return rc;
            printf("registration %s %s\n", a->pos[i],
                   strcmp(sub, "approve") == 0 ? "approved" : "rejected");
        }
        return RL_OK;
    }
    if (strcmp(sub, "list") == 0) {
        if (a->nfields)
            return usage("register list [--status S] [--employee PNR] [--json]");
        return registry_list(v, a->status, a->employee, a->json, stdout);
    }
    if (a->npos != 2)
        return usage("register TYPE --FIELD VALUE ...");
    char uuid[37];
    reg_field fields[sizeof a->fields / sizeof a->fields[0] + 2];
    size_t n = a->nfields;
    memcpy(fields, a->fields, n * sizeof fields[0]);
    /* --reason and --period are document fields here (termination, one_off), though the
     * parser takes them as options of other commands: never drop them. */
    if (a->reason)
        fields[n++] = (reg_field){"reason", a->reason};
    if (a->period)
        fields[n++] = (reg_field){"period", a->period};
    rc = registry_register(v, sub, fields, n, a->corrects, stderr, uuid);
    if (rc == RL_OK)
        printf("registered %s %s (status: registered; needs approval by another approver)\n",
               sub, uuid);
    return rc;
}

#ifndef RL_RULES_DIR
#define RL_RULES_DIR "app/rules"
#endif

static int cmd_payrun(const args *a, vault *v)
{
    const char *sub = a->npos > 1 ? a->pos[1] : "";
    int rc;
    if (strcmp(sub, "create") == 0) {
        if (a->npos != 2 || !a->period || !a->pay_date || !a->policy)
            return usage("payrun create --period YYYY-MM --pay-date YYYY-MM-DD --policy "
                         "same-as-last|recalculate [--include-pending] [--rules FILE]");
        payrun_params p = {.period = a->period,
                           .pay_date = a->pay_date,
                           .policy = a->policy,
                           .include_pending = a->include_pending,
                           .rules_path = a->rules ? a->rules : RL_RULES_DIR "/payroll.lua"};
        int64_t id = 0;
        rc = payrun_create(v, &p, stderr, &id);
        if (rc == RL_OK)
            printf("pay run %lld created (review with 'payrun show %lld'; release with "
                   "'payrun approve %lld' by another approver)\n",
                   (long long)id, (long long)id, (long long)id);
        return rc;
    }
    if ((strcmp(sub, "show") == 0 || strcmp(sub, "approve") == 0) && a->npos == 3) {
        char *end = NULL;
        errno = 0;
        long long id = strtoll(a->pos[2], &end, 10);
        if (end == a->pos[2] || *end != '\0' || id <= 0 || errno == ERANGE)
            return usage("a pay run id is a positive number");
        if (strcmp(sub, "show") == 0)
            return payrun_show(v, id, a->csv ? 2 : a->json ? 1 : 0, stdout);
        char status[16];
        rc = payrun_approve(v, id, status);
        if (rc == RL_OK)
            printf("pay run %lld %s\n", id,
                   strcmp(status, "approved") == 0
                       ? "approved: released for the payment file"
                       : "approved once: a second, different approver must also approve");
        return rc;
    }
    return usage("payrun create|show ID|approve ID");
}

/* The workstation checklist: works without a vault, and logs in only when --as is given. */
static int cmd_preflight(const args *a)
{
    preflight_opts o;
    char *pass = NULL;
    int rc;
    if (a->npos != 1 || a->nfields > 0)
        return usage("preflight [--vault DIR] [--as NAME --passphrase-file FILE] [--rules FILE]");
    if (a->as != NULL && a->vault == NULL)
        return usage("preflight --as needs --vault DIR");
    if ((rc = preflight_opts_init(&o)) != RL_OK)
        return rc;
    o.vault_dir = a->vault;
    o.as = a->as;
    o.rules_path = a->rules ? a->rules : RL_RULES_DIR "/payroll.lua";
    if (a->as != NULL &&
        (rc = cli_read_passphrase(a->pass_file, "passphrase: ", &pass, &o.pass_len)) != RL_OK)
        return rc;
    o.pass = pass;
    rc = preflight_run(&o, stdout);
    sodium_free(pass);
    return rc;
}

static int cmd_audit(const args *a, vault *v)
{
    if (a->npos == 2 && strcmp(a->pos[1], "verify") == 0) {
        uint64_t n = 0;
        int rc = vault_audit_verify(v, &n);
        if (rc == RL_OK)
            printf("audit log: %llu entries, hash chain intact\n", (unsigned long long)n);
        return rc;
    }
    if (a->npos == 2 && strcmp(a->pos[1], "list") == 0)
        return vault_audit_list(v, a->json, stdout);
    return usage("audit verify | audit list [--json]");
}

/* The command word: the first argument that is neither a global option nor its value. */
static const char *command_word(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vault") == 0 || strcmp(argv[i], "--as") == 0 ||
            strcmp(argv[i], "--passphrase-file") == 0)
            i++;
        else if (strncmp(argv[i], "--", 2) != 0)
            return argv[i];
    }
    return "";
}

static int run(int argc, char **argv)
{
    args a;
    /* key and payfile bring in a second approver and parse their own options. */
    const char *word = command_word(argc, argv);
    if (cmd_ui_wanted(argc, argv)) /* `ui`, or no command on a terminal */
        return cmd_ui(argc, argv);
    if (strcmp(word, "key") == 0 || strcmp(word, "payfile") == 0)
        return cmd_payfile(argc, argv);
    if (strcmp(word, "journal") == 0) /* a second approver signs; verify/diff need no vault */
        return cmd_journal(argc, argv);
    if (strcmp(word, "reconcile") == 0) /* --payrun and --out: its own options */
        return cmd_reconcile(argc, argv);
    if (strcmp(word, "drill") == 0) /* its own vault and operators: no global options */
        return cmd_drill(argc, argv);
    int rc = parse_args(argc, argv, &a);
    if (rc != RL_OK)
        return rc;
    if (a.npos == 0)
        return usage(NULL);
    const char *cmd = a.pos[0];
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&a);
    if (strcmp(cmd, "preflight") == 0)
        return cmd_preflight(&a);
    if (strcmp(cmd, "token") == 0) /* the token needs no vault: it holds only signed files */
        return cmd_token(argc, argv);
    static const char *const known[] = {"operator", "config",   "snapshot", "status", "check",
                                        "register", "employee", "audit",    "payrun"};
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        found |= strcmp(cmd, known[i]) == 0;
    if (!found) {
        fprintf(stderr, "reservlon: unknown command '%s'\n", cmd);
        return usage(NULL);
    }
    /* Document fields belong to `register TYPE` only: anything else is refused before the
     * passphrase is asked for. */
    if (a.nfields > 0 && (strcmp(cmd, "register") != 0 || a.npos < 2 ||
                          strcmp(a.pos[1], "list") == 0)) {
        fprintf(stderr, "reservlon: unknown option --%s\n", a.fields[0].name);
        return RL_EUSAGE;
    }
    if (a.out && strcmp(cmd, "employee") != 0) {
        fprintf(stderr, "reservlon: unknown option --out for %s\n", cmd);
        return RL_EUSAGE;
    }
    vault *v = NULL;
    if ((rc = open_vault(&a, &v)) != RL_OK)
        return rc;
    if (strcmp(cmd, "operator") == 0)
        rc = cmd_operator(&a, v);
    else if (strcmp(cmd, "register") == 0)
        rc = cmd_register(&a, v);
    else if (strcmp(cmd, "audit") == 0)
        rc = cmd_audit(&a, v);
    else if (strcmp(cmd, "payrun") == 0)
        rc = cmd_payrun(&a, v);
    else if (strcmp(cmd, "employee") == 0) {
        if (a.npos == 2 && strcmp(a.pos[1], "state") == 0 && a.out && !a.json && !a.reveal) {
            registry_state_counts n;
            rc = registry_state_save(v, a.out, &n);
            if (rc == RL_OK)
                printf("state written to %s: %zu persons, %zu employments, %zu leave and "
                       "one-off documents\n", a.out, n.persons, n.employments, n.documents);
        } else if (a.npos != 3 || strcmp(a.pos[1], "show") != 0 || a.out)
            rc = usage("employee show PNR [--json] [--reveal] | employee state --out FILE");
        else
            rc = registry_employee_show(v, a.pos[2], a.json, a.reveal, stdout);
    }
    else if (strcmp(cmd, "config") == 0) {
        if (a.npos == 3 && strcmp(a.pos[1], "set-export-key") == 0)
            rc = set_export_key(v, a.pos[2]);
        else if (a.npos == 3 && strcmp(a.pos[1], "set-rules-key") == 0)
            rc = set_key_config(v, a.pos[2], "rules_pubkey", "pay-rules key");
        else if (a.npos == 4 && strcmp(a.pos[1], "set") == 0)
            rc = set_config_value(v, a.pos[2], a.pos[3]);
        else
            rc = usage("config set-export-key FILE | set-rules-key FILE | set KEY VALUE");
    } else if (strcmp(cmd, "snapshot") == 0)
        rc = cmd_snapshot(&a, v);
    else if (strcmp(cmd, "status") == 0)
        rc = snapshot_status(v, a.json, stdout);
    else if (strcmp(cmd, "check") == 0) {
        rc = vault_check(v);
        if (rc == RL_OK)
            printf("vault check: ok (every page authenticated, structure and audit chain "
                   "intact)\n");
    }
    vault_close(v);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("reservlon 0.1");
        return 0;
    }
    umask(077); /* every file the appliance writes is for its operators only */
    /* Secrets (data keys, signing shares, passphrases) must never land in a core file, and
     * no other process of the same user may read this one's memory (docs/threat-model.md). */
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "reservlon: cannot disable core dumps: %s\n", strerror(errno));
        return 3;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "reservlon: libsodium failed to initialise\n");
        return 3;
    }
    int rc = run(argc, argv);
    if (rc != RL_OK && err_msg()[0] != '\0')
        fprintf(stderr, "reservlon: %s\n", err_msg());
    return err_exit_code(rc);
}
