/* crashtest: power-cut fault injection for the vault (make crashtest, docs/crashtest.md).
 *
 *   crashtest drive --template DIR --work DIR --faultlib SO
 *                   [--workload registration|import|batch|payrun] [--points N] [--jobs J]
 *                   [--regs W] [--seed S] [--only K] [--mode drop|mix]
 *                   [--snap-a DIR --snap-b DIR] [--batch N]
 *   crashtest work  VAULT ACKLOG W                    (run under the fault layer by drive)
 *   crashtest work-import VAULT ACKLOG W SNAPA SNAPB  (likewise)
 *   crashtest work-batch VAULT ACKLOG W N             (likewise)
 *   crashtest work-payrun VAULT ACKLOG W              (likewise)
 *   crashtest check VAULT ACKLOG [REF|batch=N|payrun=REF]  (one result line; exit 0 good,
 *                                                          1 bad)
 *   crashtest spoil-payrun VAULT       (negative control: a pay run missing a result row)
 *
 * TEMPLATE is a vault with a small snapshot S0, an administrator "alice", a registrar "bob",
 * approvers "carol" and "dave", payrun.second_approval_pct 0 and an approved leave in the
 * period after the snapshot's last run (tests/crash/run makes it). Workload registration:
 * work opens the vault once and registers W one_off documents (amount 100000+i, reason
 * "crashtest-i"), appending "i uuid" to ACKLOG only after registry_register returned
 * success. Workload import: work-import makes W such registrations as bob, then as alice
 * imports snapshot A with --replace over S0 and snapshot B with --replace over A, appending
 * "import K HASH AUDITS COUNTS" after import K returned success (K = 0 is the state before
 * the imports, written for reference only). HASH is a hash of the whole content of the
 * snapshot tables. Workload batch: work-batch makes W such registrations, then registers
 * one batch of N one_offs (amount 200000+i, reason "batch-i"), appending "batch N" after
 * registry_batch returned success. Workload payrun: work-payrun makes W such
 * registrations, creates a pay run as bob and approves it as carol and then dave (the calls
 * of `payrun create --include-pending` and `payrun approve`), appending "payrun K HASH
 * AUDITS COUNTS" after each step K returned success; HASH covers the pay runs, their result
 * rows and their audit entries.
 *
 * drive first runs the workload without a fault to count the operations T on the vault's
 * files (and, for import and payrun, to record the reference states in WORK/ref), then for
 * N crash points k spread over 1..T: copies the template, runs the workload with the power
 * cut at operation k (LD_PRELOAD=SO, FAULT_AT=k), then check: the vault opens, vault_check
 * passes (checkpoint, every page authenticated, integrity_check, audit chain), every
 * acknowledged registration is present with all its fields and its audit entry, nothing
 * else is there but possibly the one in flight, the snapshot tables (or the pay runs) are
 * exactly one reference state, not older than the last acknowledged step, with as many
 * audit entries as that state had; a stored pay run has all its result rows summing to
 * its totals; the batch is there whole (with its audit entries) or not at all, and not
 * absent once acknowledged; and one more registration succeeds. Each workload marks its
 * phases ("mark NAME OPS") with the fault layer's operation count, so the driver reports
 * how many points fell in each.
 *
 * Argon2id (256 MiB, ~0.6 s per unlock) is memoised for every process of a run in files
 * under $CRASHTEST_PWMEMO (default WORK/pwmemo; tests/tools/pwmemo.h): test-only, and
 * outside the vault directories the fault layer watches. */
#include <dlfcn.h>
#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "payrun/payrun.h"
#include "registry/registry.h"
#include "snapshot/snapshot.h"
#include "vault/keyconf.h"
#include "vault/vault.h"

#include "pwmemo.h"

#define OPERATOR "bob"
#define PASS "crashtest passphrase"
#define ADMIN "alice"
#define ADMIN_PASS "correct horse battery"
#define IMPORTS 2 /* snapshot A over S0, then B over A */
#define APPROVER1 "carol"
#define APPROVER1_PASS "crashtest approver one"
#define APPROVER2 "dave"
#define APPROVER2_PASS "crashtest approver two"
#define PAY_DATE "2099-12-24" /* fixed: the reference run and every point store the same run */
#define MAX_STAGES 4 /* payrun: none, created, approved once, approved */
#define FAULT_EXIT_CODE 86
#define MAX_ACK 100000

static int open_vault(const char *dir, vault **v)
{
    return vault_open(dir, OPERATOR, PASS, strlen(PASS), v);
}

static int one_off(vault *v, const char *emp, long i, char uuid[37])
{
    char amount[32], reason[48];
    snprintf(amount, sizeof amount, "%ld", 100000 + i);
    snprintf(reason, sizeof reason, "crashtest-%ld", i);
    reg_field f[] = {{"employment_id", emp},
                     {"amount_ore", amount},
                     {"pay_code", "CRASH"},
                     {"reason", reason}};
    FILE *devnull = fopen("/dev/null", "w");
    int rc = registry_register(v, "one_off", f, 4, NULL, devnull, uuid);
    if (devnull)
        fclose(devnull);
    return rc;
}

static int first_employment(vault *v, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT employment_id FROM employments WHERE end_date IS NULL"
                           " ORDER BY employment_id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        ok = 1;
    }
    sqlite3_finalize(st);
    return ok;
}

/* --- work ------------------------------------------------------------------------------- */

/* The fault layer's operation count so far (0 without it): marks the workload's phases. */
static unsigned long long ops_now(void)
{
    unsigned long long (*f)(void);
    *(void **)&f = dlsym(RTLD_DEFAULT, "faultfs_ops");
    return f ? f() : 0;
}

static void mark(FILE *ack, const char *phase)
{
    fprintf(ack, "mark %s %llu\n", phase, ops_now());
    fflush(ack);
}

/* Registers one_offs from..to as the open operator, acknowledging each in ack. */
static int register_some(vault *v, FILE *ack, long from, long to)
{
    char emp[80];
    if (!first_employment(v, emp, sizeof emp)) {
        fprintf(stderr, "work: no employment in the template\n");
        return 1;
    }
    for (long i = from; i <= to; i++) {
        char uuid[37];
        if (one_off(v, emp, i, uuid) != RL_OK) {
            fprintf(stderr, "work: registration %ld: %s\n", i, err_msg());
            return 1;
        }
        /* Acknowledged: the caller has been told. Not under FAULT_DIR, so it survives. */
        fprintf(ack, "%ld %s\n", i, uuid);
        fflush(ack);
    }
    return 0;
}

/* How every workload begins: the acknowledgement log opened for appending, the
 * "registrations" phase marked, the vault opened as the registrar and W registrations made
 * and acknowledged. 0, or 1 with the reason on stderr. */
static int work_begin(const char *dir, const char *acklog, long w, FILE **ack, vault **v)
{
    *v = NULL;
    if ((*ack = fopen(acklog, "a")) == NULL)
        return 1;
    mark(*ack, "registrations");
    if (open_vault(dir, v) != RL_OK) {
        fprintf(stderr, "work: open as %s: %s\n", OPERATOR, err_msg());
        return 1;
    }
    return register_some(*v, *ack, 1, w);
}

static int cmd_work(const char *dir, const char *acklog, long w)
{
    FILE *ack;
    vault *v;
    if (work_begin(dir, acklog, w, &ack, &v) != 0)
        return 1;
    mark(ack, "close");
    fclose(ack);
    vault_close(v);
    return 0;
}

/* A workload's state as a hash of every row that queries q[0..n-1] return (each value with
 * its type and length, each query's row count after its rows), the number of audit entries
 * that audit_sql counts, and the row counts (for messages). */
typedef struct {
    char hash[65];
    long audits;
    char counts[160];
} snap_state;

static int state_of(vault *v, const char *const *q, const char *const *name, size_t n,
                    const char *audit_sql, snap_state *out)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    size_t used = 0;
    out->counts[0] = '\0';
    for (size_t t = 0; t < n; t++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(vault_db(v), q[t], -1, &st, NULL) != SQLITE_OK)
            return -1;
        long rows = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            int nc = sqlite3_column_count(st);
            for (int c = 0; c < nc; c++) {
                /* type, length and bytes of each value: no two rows hash alike by accident */
                unsigned char type = (unsigned char)sqlite3_column_type(st, c);
                const unsigned char *val = sqlite3_column_text(st, c);
                uint32_t len = (uint32_t)sqlite3_column_bytes(st, c);
                crypto_generichash_update(&h, &type, 1);
                crypto_generichash_update(&h, (const unsigned char *)&len, sizeof len);
                if (val)
                    crypto_generichash_update(&h, val, len);
            }
            crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return -1;
        crypto_generichash_update(&h, (const unsigned char *)&rows, sizeof rows);
        if (name[t] == NULL)
            continue;
        int k = snprintf(out->counts + used, sizeof out->counts - used, "%s%s=%ld",
                         used ? "," : "", name[t], rows);
        if (k > 0 && (size_t)k < sizeof out->counts - used)
            used += (size_t)k;
    }
    unsigned char bin[32];
    crypto_generichash_final(&h, bin, sizeof bin);
    sodium_bin2hex(out->hash, sizeof out->hash, bin, sizeof bin);
    out->audits = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(v), audit_sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        out->audits = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return out->audits < 0 ? -1 : 0;
}

/* The snapshot tables: every row of snapshot (but the import time), org_units, employees,
 * employments, last_payrun and tax_tables in a fixed order; the snapshot.import entries. */
static int snap_state_of(vault *v, snap_state *out)
{
    static const char *const q[] = {
        "SELECT source_system, export_time, employer_orgnr, manifest_sha256, trusted_comment,"
        " imported_by, last_period, last_pay_date FROM snapshot",
        "SELECT * FROM org_units ORDER BY org_unit_id",
        "SELECT * FROM employees ORDER BY pnr",
        "SELECT * FROM employments ORDER BY employment_id",
        "SELECT * FROM last_payrun ORDER BY employment_id",
        "SELECT * FROM tax_tables ORDER BY year, kind, tbl, income_from, income_to",
    };
    static const char *const name[] = {"snapshot", "org", "emp", "empl", "pay", "tax"};
    return state_of(v, q, name, sizeof q / sizeof q[0],
                    "SELECT count(*) FROM audit WHERE action='snapshot.import'", out);
}

/* The pay runs: every column of payruns but the times (created_at, approved_at,
 * approved2_at differ between the reference run and a crash point), every result row, and
 * the payrun.* audit entries (operator, action, detail: they hold no time either), so that
 * data and audit are compared together; the last query puts the runs' status and net
 * total in the counts. */
static int payrun_state_of(vault *v, snap_state *out)
{
    static const char *const q[] = {
        "SELECT id, period, pay_date, policy, status, created_by, rules_sha256, employments,"
        " paid, gross_ore, tax_ore, deductions_ore, net_ore, last_net_ore, pending_ignored,"
        " second_needed, approved_by, approved2_by FROM payruns ORDER BY id",
        "SELECT * FROM payrun_results ORDER BY payrun_id, employment_id",
        "SELECT operator, action, detail FROM audit WHERE action LIKE 'payrun.%' ORDER BY seq",
    };
    static const char *const name[] = {"runs", "results", "audit"};
    return state_of(v, q, name, sizeof q / sizeof q[0],
                    "SELECT count(*) FROM audit WHERE action LIKE 'payrun.%'", out);
}

/* Acknowledges step k of a staged workload (kind "import" or "payrun") with its state. */
static void ack_state(FILE *ack, vault *v, const char *kind, int k)
{
    snap_state s;
    if ((strcmp(kind, "payrun") == 0 ? payrun_state_of(v, &s) : snap_state_of(v, &s)) != 0) {
        fprintf(stderr, "work: cannot read the %s tables\n", kind);
        _exit(1);
    }
    fprintf(ack, "%s %d %s %ld %s\n", kind, k, s.hash, s.audits, s.counts);
    fflush(ack);
}

static int cmd_work_import(const char *dir, const char *acklog, long w, const char *snap_a,
                           const char *snap_b)
{
    FILE *ack;
    vault *v;
    if (work_begin(dir, acklog, w, &ack, &v) != 0)
        return 1;
    vault_close(v);
    /* Importing takes an administrator; registering a registrar: two sessions. */
    mark(ack, "admin-open");
    if (vault_open(dir, ADMIN, ADMIN_PASS, strlen(ADMIN_PASS), &v) != RL_OK) {
        fprintf(stderr, "work: open as %s: %s\n", ADMIN, err_msg());
        return 1;
    }
    minisig_pubkey pk;
    if (keyconf_get(v, KEYCONF_EXPORT, &pk) != RL_OK) {
        fprintf(stderr, "work: export key: %s\n", err_msg());
        return 1;
    }
    ack_state(ack, v, "import", 0);
    const char *snaps[IMPORTS] = {snap_a, snap_b};
    for (int k = 1; k <= IMPORTS; k++) {
        char phase[16];
        snprintf(phase, sizeof phase, "import-%c", 'a' + k - 1);
        mark(ack, phase);
        FILE *devnull = fopen("/dev/null", "w");
        int rc = snapshot_import(v, snaps[k - 1], &pk, 1, devnull, NULL, NULL);
        if (devnull)
            fclose(devnull);
        if (rc != RL_OK) {
            fprintf(stderr, "work: import %d: %s\n", k, err_msg());
            return 1;
        }
        ack_state(ack, v, "import", k); /* acknowledged */
    }
    mark(ack, "close");
    fclose(ack);
    vault_close(v);
    return 0;
}

/* The batch workload: W single registrations, then one batch of nb one_offs (amount
 * 200000+i, reason "batch-i") from a CSV file written next to ACKLOG. */
static int cmd_work_batch(const char *dir, const char *acklog, long w, long nb)
{
    FILE *ack;
    vault *v;
    if (work_begin(dir, acklog, w, &ack, &v) != 0)
        return 1;
    char emp[80], csv[4200];
    snprintf(csv, sizeof csv, "%s.csv", acklog);
    FILE *f = fopen(csv, "w");
    if (f == NULL || !first_employment(v, emp, sizeof emp))
        return 1;
    fprintf(f, "type,employment_id,amount_ore,pay_code,reason\n");
    for (long i = 1; i <= nb; i++)
        fprintf(f, "one_off,%s,%ld,CRASH,batch-%ld\n", emp, 200000 + i, i);
    if (fclose(f) != 0)
        return 1;
    mark(ack, "batch");
    size_t count = 0;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = registry_batch(v, csv, devnull, &count);
    if (devnull)
        fclose(devnull);
    if (rc != RL_OK || count != (size_t)nb) {
        fprintf(stderr, "work: batch: %s\n", err_msg());
        return 1;
    }
    fprintf(ack, "batch %ld\n", nb); /* acknowledged */
    fflush(ack);
    mark(ack, "close");
    fclose(ack);
    vault_close(v);
    return 0;
}

/* The pay-run workload: W registrations as the registrar (left pending: the run is created
 * with include_pending, as `payrun create --include-pending`), then the calls of `payrun
 * create` as the registrar and of `payrun approve` as each approver, one session each, as
 * the CLI makes them; each step acknowledged ("payrun K HASH AUDITS COUNTS") after it
 * returned success. The template sets payrun.second_approval_pct to 0 and the run
 * recalculates, so its net total moves and two approvers must release it. */
static int cmd_work_payrun(const char *dir, const char *acklog, long w)
{
    FILE *ack;
    vault *v;
    if (work_begin(dir, acklog, w, &ack, &v) != 0)
        return 1;
    /* The period after the snapshot's last run (reads only). */
    char period[16] = "";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(v), "SELECT last_period FROM snapshot", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        int y = 0, m = 0;
        if (sscanf((const char *)sqlite3_column_text(st, 0), "%4d-%2d", &y, &m) == 2 &&
            y >= 1900 && y < 2200 && m >= 1 && m <= 12)
            snprintf(period, sizeof period, "%04d-%02d", m == 12 ? y + 1 : y, m % 12 + 1);
    }
    sqlite3_finalize(st);
    if (!period[0]) {
        fprintf(stderr, "work: the template's snapshot has no last period\n");
        return 1;
    }
    ack_state(ack, v, "payrun", 0);
    mark(ack, "payrun-create");
    payrun_params p = {.period = period,
                       .pay_date = PAY_DATE,
                       .policy = "recalculate",
                       .include_pending = 1,
                       .rules_path = RL_RULES_DIR "/payroll.lua"};
    int64_t id = 0;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = payrun_create(v, &p, devnull, &id);
    if (devnull)
        fclose(devnull);
    if (rc != RL_OK) {
        fprintf(stderr, "work: payrun create: %s\n", err_msg());
        return 1;
    }
    ack_state(ack, v, "payrun", 1); /* acknowledged */
    vault_close(v);
    static const char *const who[2][2] = {{APPROVER1, APPROVER1_PASS},
                                          {APPROVER2, APPROVER2_PASS}};
    char status[16] = "created";
    for (int k = 0; k < 2 && strcmp(status, "approved") != 0; k++) {
        char phase[16];
        snprintf(phase, sizeof phase, "approve-%d", k + 1);
        mark(ack, phase);
        if (vault_open(dir, who[k][0], who[k][1], strlen(who[k][1]), &v) != RL_OK) {
            fprintf(stderr, "work: open as %s: %s\n", who[k][0], err_msg());
            return 1;
        }
        if (payrun_approve(v, id, status) != RL_OK) {
            fprintf(stderr, "work: payrun approve as %s: %s\n", who[k][0], err_msg());
            return 1;
        }
        ack_state(ack, v, "payrun", k + 2); /* acknowledged */
        if (k == 0 && strcmp(status, "approved") != 0)
            vault_close(v);
    }
    mark(ack, "close");
    fclose(ack);
    vault_close(v);
    return 0;
}

/* --- check ------------------------------------------------------------------------------ */

typedef struct {
    int opened, check_ok, lost, corrupt, extra, mixed, extra_import;
    long acked;
    int state; /* which reference snapshot state the vault holds (import workload), or -1 */
    char msg[400];
} result;

/* The registration.add audit entries, indexed in memory (temp_store=MEMORY: nothing is
 * written to the vault's files), so that a 10,000-document batch is checked in seconds. */
static int audit_index(vault *v)
{
    return sqlite3_exec(vault_db(v),
                        "DROP TABLE IF EXISTS temp.ct_audit;"
                        "CREATE TEMP TABLE ct_audit AS SELECT detail, count(*) AS n FROM audit"
                        " WHERE action='registration.add' GROUP BY detail;"
                        "CREATE INDEX temp.ct_audit_detail ON ct_audit(detail);",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

static int in_audit(vault *v, const char *uuid)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT n FROM temp.ct_audit WHERE detail = 'registered one_off ' || ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Reads the "KIND K HASH AUDITS COUNTS" lines of path into refs[0..MAX_STAGES-1]; returns
 * the highest K read, or -1. */
static int read_stages(const char *path, const char *kind, snap_state refs[MAX_STAGES])
{
    FILE *f = path ? fopen(path, "r") : NULL;
    int top = -1;
    char line[600], word[16];
    while (f && fgets(line, sizeof line, f)) {
        int k;
        snap_state s;
        if (sscanf(line, "%15s %d %64s %ld %159s", word, &k, s.hash, &s.audits, s.counts) == 5 &&
            strcmp(word, kind) == 0 && k >= 0 && k < MAX_STAGES) {
            refs[k] = s;
            if (k > top)
                top = k;
        }
    }
    if (f)
        fclose(f);
    return top;
}

/* The import workload's last check: the newest snapshot.import audit entry names the
 * manifest of the snapshot the tables hold (data and audit committed together). */
static void check_import_audit(vault *v, result *r)
{
    sqlite3_stmt *st = NULL;
    int named = 0;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT instr(a.detail, s.manifest_sha256) > 0 FROM snapshot s,"
                           " (SELECT detail FROM audit WHERE action='snapshot.import'"
                           "  ORDER BY seq DESC LIMIT 1) a",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        named = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (!named) {
        r->mixed++;
        snprintf(r->msg, sizeof r->msg, "the last snapshot.import audit entry does not name "
                 "the snapshot held (state %d)", r->state);
    }
}

/* The pay-run workload's own check, besides the state hash: every stored run is whole, its
 * result rows as many as its employments and summing to its totals. Returns 1 (and says
 * which run, in msg) if one is not, or cannot be read. */
static int payrun_partial(vault *v, char *msg, size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            vault_db(v),
            "SELECT p.id, p.employments, count(x.employment_id), p.gross_ore,"
            " coalesce(sum(x.gross_ore),0), p.net_ore, coalesce(sum(x.net_ore),0)"
            " FROM payruns p LEFT JOIN payrun_results x ON x.payrun_id = p.id"
            " GROUP BY p.id HAVING p.employments != count(x.employment_id)"
            " OR p.gross_ore != coalesce(sum(x.gross_ore),0)"
            " OR p.net_ore != coalesce(sum(x.net_ore),0) OR p.employments = 0",
            -1, &st, NULL) != SQLITE_OK) {
        snprintf(msg, cap, "cannot read the pay runs");
        return 1;
    }
    int bad = sqlite3_step(st) == SQLITE_ROW;
    if (bad)
        snprintf(msg, cap, "partial pay run %lld: %lld employments, %lld result "
                 "rows; gross %lld, rows %lld; net %lld, rows %lld",
                 (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                 (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
                 (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5),
                 (long long)sqlite3_column_int64(st, 6));
    sqlite3_finalize(st);
    return bad;
}

/* The staged workloads' checks (kind "import": the snapshot tables; "payrun": the pay
 * runs, their results and audit entries): the vault holds exactly one reference state, not
 * older than the last acknowledged step, at most one newer (the step in flight), with as
 * many audit entries as that state had. */
static void check_stages(vault *v, const char *acklog, const char *ref, const char *kind,
                         result *r)
{
    int payrun = strcmp(kind, "payrun") == 0;
    const char *step = payrun ? "pay-run step" : "import", *tables = payrun ? "pay-run" : "snapshot";
    snap_state refs[MAX_STAGES], acks[MAX_STAGES], now;
    int top = read_stages(ref, kind, refs);
    if (payrun ? top < 2 : top != IMPORTS) {
        r->corrupt++;
        snprintf(r->msg, sizeof r->msg, "no reference states in %s", ref);
        return;
    }
    memset(acks, 0, sizeof acks);
    int acked = read_stages(acklog, kind, acks);
    for (int k = 1; k <= acked; k++)
        if (acks[k].hash[0] && strcmp(acks[k].hash, refs[k].hash) != 0) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "%s %d made another state than the reference run "
                     "(the workload is not deterministic)", step, k);
            return;
        }
    if (acked < 1)
        acked = 0;
    if ((payrun ? payrun_state_of(v, &now) : snap_state_of(v, &now)) != 0) {
        r->corrupt++;
        snprintf(r->msg, sizeof r->msg, "cannot read the %s tables", tables);
        return;
    }
    r->state = -1;
    for (int k = 0; k <= top; k++)
        if (strcmp(now.hash, refs[k].hash) == 0)
            r->state = k;
    if (r->state < 0) {
        r->mixed++;
        if (!payrun || !payrun_partial(v, r->msg, sizeof r->msg))
            snprintf(r->msg, sizeof r->msg, "%s tables are no reference state (a mix?): %s",
                     tables, now.counts);
        return;
    }
    if (r->state < acked) {
        r->lost++;
        snprintf(r->msg, sizeof r->msg, "acknowledged %s %d is missing: the vault holds "
                 "state %d (%s)", step, acked, r->state, now.counts);
    } else if (r->state > acked + 1) {
        r->corrupt++;
        snprintf(r->msg, sizeof r->msg, "state %d but %s %d was never attempted", r->state,
                 step, r->state);
    } else if (r->state == acked + 1) {
        r->extra_import = 1; /* committed, the process died before it was acknowledged */
    }
    if (now.audits != refs[r->state].audits) {
        r->mixed++;
        snprintf(r->msg, sizeof r->msg, "state %d with %ld %s audit entries, not %ld", r->state,
                 now.audits, payrun ? "payrun.*" : "snapshot.import", refs[r->state].audits);
    }
    if (payrun && payrun_partial(v, r->msg, sizeof r->msg))
        r->mixed++;
    else if (!payrun)
        check_import_audit(v, r);
}

/* Counts the registration.batch audit entries. */
static long batch_audits(vault *v)
{
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT count(*) FROM audit WHERE action='registration.batch'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ref is the reference states of a staged workload (kind "import" or "payrun") or NULL;
 * batch the size of the batch (batch workload) or 0. */
static void do_check(const char *dir, const char *acklog, const char *ref, const char *kind,
                     long batch, result *r)
{
    memset(r, 0, sizeof *r);
    r->state = -1;
    static char ack_uuid[MAX_ACK + 2][37];
    static char seen[MAX_ACK + 2], seen_batch[MAX_ACK + 2];
    memset(seen, 0, sizeof seen);
    memset(seen_batch, 0, sizeof seen_batch);
    long batch_acked = 0, batch_found = 0;
    FILE *a = fopen(acklog, "r");
    long i;
    char u[37], line[600];
    while (a && fgets(line, sizeof line, a))
        if (sscanf(line, "batch %ld", &i) == 1)
            batch_acked = i;
        else if (sscanf(line, "%ld %36s", &i, u) == 2 && i >= 1 && i <= MAX_ACK &&
            i == r->acked + 1) {
            memcpy(ack_uuid[i], u, sizeof ack_uuid[i]);
            r->acked = i;
        }
    if (a)
        fclose(a);
    vault *v = NULL;
    if (open_vault(dir, &v) != RL_OK) {
        snprintf(r->msg, sizeof r->msg, "open failed: %s", err_msg());
        r->corrupt = 1;
        return;
    }
    r->opened = 1;
    if (vault_check(v) != RL_OK) {
        snprintf(r->msg, sizeof r->msg, "vault_check failed: %s", err_msg());
        r->corrupt = 1;
        vault_close(v);
        return;
    }
    r->check_ok = 1;
    if (ref)
        check_stages(v, acklog, ref, kind, r);
    if (audit_index(v) != 0) {
        snprintf(r->msg, sizeof r->msg, "cannot index the audit entries");
        r->corrupt = 1;
        vault_close(v);
        return;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT uuid, fields, content_hash, status, author FROM registrations"
                           " WHERE type='one_off'",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(r->msg, sizeof r->msg, "cannot read registrations");
        r->corrupt = 1;
        vault_close(v);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *uuid = (const char *)sqlite3_column_text(st, 0);
        const char *fields = (const char *)sqlite3_column_text(st, 1);
        const char *hash = (const char *)sqlite3_column_text(st, 2);
        const char *status = (const char *)sqlite3_column_text(st, 3);
        const char *author = (const char *)sqlite3_column_text(st, 4);
        const char *b = fields && batch ? strstr(fields, "\"batch-") : NULL;
        const char *p = b ? b + 7 : fields ? strstr(fields, "crashtest-") : NULL;
        long n = b ? strtol(p, NULL, 10) : p ? strtol(p + 10, NULL, 10) : 0;
        char amount[32];
        snprintf(amount, sizeof amount, "%ld", (b ? 200000 : 100000) + n);
        int whole = p && n >= 1 && n <= MAX_ACK && strstr(fields, amount) &&
                    strstr(fields, "CRASH") && hash && strlen(hash) == 64 && status &&
                    strcmp(status, "registered") == 0 && author &&
                    strcmp(author, OPERATOR) == 0 && in_audit(v, uuid) == 1;
        if (!whole) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "partial registration %s: %s", uuid ? uuid : "?",
                     fields ? fields : "(no fields)");
            continue;
        }
        if (b) {
            batch_found++;
            if (n > batch || seen_batch[n]++) {
                r->corrupt++;
                snprintf(r->msg, sizeof r->msg, "batch document %ld stored twice or never sent", n);
            }
            continue;
        }
        if (seen[n]++) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld stored twice", n);
        } else if (n <= r->acked && strcmp(uuid, ack_uuid[n]) != 0) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld has another uuid", n);
        } else if (n == r->acked + 1) {
            r->extra = 1; /* committed, the process died before it was acknowledged */
        } else if (n > r->acked + 1) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld was never attempted", n);
        }
    }
    sqlite3_finalize(st);
    if (batch) {
        /* All or nothing, with its one registration.batch audit entry. */
        r->state = batch_found == batch ? 1 : batch_found == 0 ? 0 : -1;
        long audits = batch_audits(v);
        if (r->state < 0) {
            r->mixed++;
            snprintf(r->msg, sizeof r->msg, "partial batch: %ld of %ld documents", batch_found,
                     batch);
        } else if (audits != r->state) {
            r->mixed++;
            snprintf(r->msg, sizeof r->msg, "batch state %d with %ld registration.batch audit "
                     "entries", r->state, audits);
        } else if (batch_acked && r->state == 0) {
            r->lost += (int)batch;
            snprintf(r->msg, sizeof r->msg, "the acknowledged batch of %ld is missing", batch);
        } else if (!batch_acked && r->state == 1) {
            r->extra_import = 1; /* committed, the process died before it was acknowledged */
        }
    }
    for (i = 1; i <= r->acked; i++)
        if (!seen[i]) {
            r->lost++;
            snprintf(r->msg, sizeof r->msg, "acknowledged registration %ld is missing", i);
        }
    /* The vault must still take a change after the recovery. */
    char emp[80], uuid[37];
    if (!first_employment(v, emp, sizeof emp) || one_off(v, emp, MAX_ACK, uuid) != RL_OK) {
        r->corrupt++;
        snprintf(r->msg, sizeof r->msg, "no registration possible after recovery: %s",
                 err_msg());
    }
    vault_close(v);
}

static int cmd_check(const char *dir, const char *acklog, const char *arg)
{
    result r;
    long batch = arg && !strncmp(arg, "batch=", 6) ? atol(arg + 6) : 0;
    int payrun = arg && !strncmp(arg, "payrun=", 7);
    const char *ref = arg && !batch ? arg + (payrun ? 7 : 0) : NULL;
    const char *kind = payrun ? "payrun" : "import";
    do_check(dir, acklog, ref, kind, batch, &r);
    printf("opened=%d check=%d acked=%ld inflight_committed=%d lost=%d corrupted=%d", r.opened,
           r.check_ok, r.acked, r.extra, r.lost, r.corrupt);
    if (ref || batch)
        printf(" state=%d mixed=%d inflight_%s_committed=%d", r.state, r.mixed,
               ref ? kind : "batch", r.extra_import);
    printf(" %s\n", r.msg);
    return r.lost || r.corrupt || r.mixed ? 1 : 0;
}

/* The pay-run negative control (tests/e2e/crashtest.sh): deletes one result row of pay run 1
 * through the vault, a partial run that a power cut must never leave; check must say so. */
static int cmd_spoil_payrun(const char *dir)
{
    vault *v = NULL;
    if (open_vault(dir, &v) != RL_OK) {
        fprintf(stderr, "spoil: open: %s\n", err_msg());
        return 1;
    }
    int began = vault_begin(v) == RL_OK;
    int ok = began &&
             sqlite3_exec(vault_db(v),
                          "DELETE FROM payrun_results WHERE payrun_id = 1 AND employment_id ="
                          " (SELECT max(employment_id) FROM payrun_results WHERE payrun_id = 1)",
                          NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_changes(vault_db(v)) == 1 && vault_commit(v) == RL_OK;
    if (!ok) {
        fprintf(stderr, "spoil: no result row of pay run 1 deleted: %s\n", err_msg());
        if (began)
            vault_rollback(v);
    }
    vault_close(v);
    return ok ? 0 : 1;
}

/* --- drive ------------------------------------------------------------------------------ */

static char self[4096], faultlib[4096];

static int copy_vault(const char *from, const char *to)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct {
    const char *tmpl, *work, *mode, *workload, *snap_a, *snap_b;
    int import; /* the import workload */
    int payrun; /* the pay-run workload */
    const char *kind; /* the staged workloads' kind ("import", "payrun"), else NULL */
    long batch; /* the batch workload: its size, else 0 */
    long regs;
    unsigned long long seed;
    char ref[4200]; /* import: the reference states, WORK/ref */
} drive_cfg;

/* Runs the workload on dir under the fault layer; returns its exit status (86 = power cut). */
static int run_work(const drive_cfg *c, const char *dir, const char *acklog,
                    unsigned long long at, const char *mode, unsigned long long seed,
                    const char *count_out)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char a[32], s[32], w[32], nb[32];
        snprintf(a, sizeof a, "%llu", at);
        snprintf(s, sizeof s, "%llu", seed);
        snprintf(w, sizeof w, "%ld", c->regs);
        snprintf(nb, sizeof nb, "%ld", c->batch);
        setenv("LD_PRELOAD", faultlib, 1);
        setenv("FAULT_DIR", dir, 1);
        setenv("FAULT_AT", a, 1);
        setenv("FAULT_MODE", mode, 1);
        setenv("FAULT_SEED", s, 1);
        if (count_out)
            setenv("FAULT_COUNT_OUT", count_out, 1);
        if (c->import)
            execl(self, self, "work-import", dir, acklog, w, c->snap_a, c->snap_b, (char *)NULL);
        else if (c->payrun)
            execl(self, self, "work-payrun", dir, acklog, w, (char *)NULL);
        else if (c->batch)
            execl(self, self, "work-batch", dir, acklog, w, nb, (char *)NULL);
        else
            execl(self, self, "work", dir, acklog, w, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One crash point, in a child: writes its result line to WORK/k.result, exit 0/1/2. */
static int one_point(const drive_cfg *c, unsigned long long k)
{
    char dir[4200], ack[4200], res[4200];
    snprintf(dir, sizeof dir, "%s/p%llu", c->work, k);
    snprintf(ack, sizeof ack, "%s/p%llu.ack", c->work, k);
    snprintf(res, sizeof res, "%s/p%llu.result", c->work, k);
    unlink(ack);
    const char *mode = c->mode ? c->mode : (k % 2 ? "mix" : "drop");
    unsigned long long seed = c->seed * 1000003ULL + k;
    if (copy_vault(c->tmpl, dir) != 0)
        return 2;
    int ws = run_work(c, dir, ack, k, mode, seed, NULL);
    result r;
    do_check(dir, ack, c->kind ? c->ref : NULL, c->kind, c->batch, &r);
    FILE *f = fopen(res, "w");
    if (f) {
        fprintf(f, "%llu %s %d %d %d %ld %d %d %d %d %d %d %s\n", k, mode, ws, r.opened,
                r.check_ok, r.acked, r.extra, r.lost, r.corrupt, r.mixed, r.extra_import,
                r.state, r.msg);
        fclose(f);
    }
    int bad = r.lost || r.corrupt || r.mixed || (ws != FAULT_EXIT_CODE && ws != 0);
    if (!bad) {
        char cmd[13000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s.csv'", dir, ack, ack);
        if (system(cmd) != 0)
            return 2;
    }
    return bad;
}

/* The workload's phases as marked by the counting run ("mark NAME OPS" lines). */
typedef struct {
    char name[24];
    unsigned long long from;
    long points;
} phase;

static size_t read_phases(const char *acklog, phase *ph, size_t cap)
{
    FILE *f = fopen(acklog, "r");
    size_t n = 0;
    char line[600];
    while (f && n < cap && fgets(line, sizeof line, f))
        if (sscanf(line, "mark %23s %llu", ph[n].name, &ph[n].from) == 2) {
            ph[n].from++; /* the phase's first operation is the next one */
            ph[n].points = 0;
            n++;
        }
    if (f)
        fclose(f);
    return n;
}

static int cmd_drive(int argc, char **argv)
{
    drive_cfg c = {0};
    c.regs = -1;
    c.seed = 1;
    c.workload = "registration";
    long points = 200, jobs = 2;
    unsigned long long only = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *o = argv[i], *val = argv[i + 1];
        if (!strcmp(o, "--template")) c.tmpl = val;
        else if (!strcmp(o, "--work")) c.work = val;
        else if (!strcmp(o, "--faultlib")) snprintf(faultlib, sizeof faultlib, "%s", val);
        else if (!strcmp(o, "--workload")) c.workload = val;
        else if (!strcmp(o, "--snap-a")) c.snap_a = val;
        else if (!strcmp(o, "--snap-b")) c.snap_b = val;
        else if (!strcmp(o, "--points")) points = atol(val);
        else if (!strcmp(o, "--jobs")) jobs = atol(val);
        else if (!strcmp(o, "--regs")) c.regs = atol(val);
        else if (!strcmp(o, "--batch")) c.batch = atol(val);
        else if (!strcmp(o, "--seed")) c.seed = strtoull(val, NULL, 10);
        else if (!strcmp(o, "--only")) only = strtoull(val, NULL, 10);
        else if (!strcmp(o, "--mode")) c.mode = val;
        else {
            fprintf(stderr, "crashtest: unknown option %s\n", o);
            return 2;
        }
    }
    c.import = strcmp(c.workload, "import") == 0;
    c.payrun = strcmp(c.workload, "payrun") == 0;
    c.kind = c.import ? "import" : c.payrun ? "payrun" : NULL;
    int is_batch = strcmp(c.workload, "batch") == 0;
    if (!is_batch)
        c.batch = 0;
    else if (c.batch == 0)
        c.batch = 10000;
    if (c.regs < 0)
        c.regs = c.import || is_batch ? 10 : c.payrun ? 2 : 150;
    if (!c.tmpl || !c.work || !faultlib[0] || points < 1 || jobs < 1 || c.regs < 0 ||
        c.regs >= MAX_ACK || c.batch < 0 || c.batch >= MAX_ACK ||
        (!c.kind && !is_batch && (strcmp(c.workload, "registration") != 0 || c.regs < 1)) ||
        (c.import && (!c.snap_a || !c.snap_b))) {
        fprintf(stderr, "usage: crashtest drive --template DIR --work DIR --faultlib SO "
                        "[--workload registration|import|batch|payrun] [--points N] [--jobs J] [--regs W] "
                        "[--seed S] [--only K] [--mode M] [--snap-a DIR --snap-b DIR] [--batch N]\n");
        return 2;
    }
    snprintf(c.ref, sizeof c.ref, "%s/ref", c.work);
    if (getenv("CRASHTEST_PWMEMO") == NULL) {
        /* WORK/pwmemo: beside the points' vault directories, never inside one */
        char memo[4200];
        snprintf(memo, sizeof memo, "%s/pwmemo", c.work);
        if (pwmemo_use_dir(memo) != 0 || setenv("CRASHTEST_PWMEMO", memo, 1) != 0) {
            fprintf(stderr, "crashtest: cannot make %s: %s\n", memo, strerror(errno));
            return 2;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long *ks = NULL;
    size_t nk = 0;
    unsigned long long total = 0;
    phase ph[8];
    size_t nph = 0;
    if (only && !c.kind) {
        ks = malloc(sizeof *ks);
        ks[nk++] = only;
    } else {
        /* Count the operations of a whole run (no fault); it must pass the check too. */
        char dir[4200], ack[4200], cnt[4200];
        snprintf(dir, sizeof dir, "%s/count", c.work);
        snprintf(ack, sizeof ack, "%s/count.ack", c.work);
        snprintf(cnt, sizeof cnt, "%s/count.ops", c.work);
        unlink(ack);
        if (copy_vault(c.tmpl, dir) != 0)
            return 2;
        int ws = run_work(&c, dir, ack, 0, "drop", 0, cnt);
        FILE *f = fopen(cnt, "r");
        if (ws != 0 || f == NULL || fscanf(f, "%llu", &total) != 1 || total == 0) {
            fprintf(stderr, "crashtest: the counting run failed (exit %d)\n", ws);
            return 2;
        }
        fclose(f);
        if (c.kind) {
            /* Its states before and after each step are the references. */
            char cmd[9000];
            snprintf(cmd, sizeof cmd, "grep '^%s ' '%s' > '%s'", c.kind, ack, c.ref);
            if (system(cmd) != 0)
                return 2;
        }
        result r;
        do_check(dir, ack, c.kind ? c.ref : NULL, c.kind, c.batch, &r);
        snap_state refs[MAX_STAGES];
        if (r.lost || r.corrupt || r.mixed || r.acked != c.regs ||
            (c.import && r.state != IMPORTS) || (c.batch && r.state != 1) ||
            (c.payrun && (r.state != MAX_STAGES - 1 ||
                          read_stages(c.ref, "payrun", refs) != MAX_STAGES - 1 ||
                          !strstr(refs[r.state].counts, "runs=1,")))) {
            fprintf(stderr, "crashtest: the run without a fault fails its check: %s\n", r.msg);
            return 1;
        }
        nph = read_phases(ack, ph, sizeof ph / sizeof ph[0]);
        if (only) {
            /* import/payrun --only K: the counting run above made the reference states */
            ks = malloc(sizeof *ks);
            ks[nk++] = only;
            points = 0;
        }
        /* N points spread over 1..T: one random point in each of N equal strata. */
        srand((unsigned)c.seed);
        if (!only)
            ks = malloc(sizeof *ks * (size_t)points);
        for (long j = 0; j < points; j++) {
            unsigned long long lo = 1 + (unsigned long long)j * total / (unsigned long long)points;
            unsigned long long hi = 1 + (unsigned long long)(j + 1) * total / (unsigned long long)points;
            unsigned long long k = hi > lo ? lo + (unsigned long long)rand() % (hi - lo) : lo;
            if (k > total)
                k = total;
            if (nk == 0 || ks[nk - 1] != k)
                ks[nk++] = k;
        }
        if (c.import)
            printf("crashtest import: %llu operations on the vault's files in a run of %ld "
                   "registrations, two snapshot imports with --replace and close; %zu crash "
                   "points\n",
                   total, c.regs, nk);
        else if (c.payrun)
            printf("crashtest payrun: %llu operations on the vault's files in a run of %ld "
                   "registrations, a pay run created, approved twice and close; %zu crash "
                   "points\n",
                   total, c.regs, nk);
        else if (c.batch)
            printf("crashtest batch: %llu operations on the vault's files in a run of %ld "
                   "registrations and a batch of %ld; %zu crash points\n",
                   total, c.regs, c.batch, nk);
        else
            printf("crashtest registration: %llu operations on the vault's files in a run of "
                   "%ld registrations; %zu crash points\n",
                   total, c.regs, nk);
        fflush(stdout);
    }
    size_t next = 0, running = 0;
    while (next < nk || running > 0) {
        while (next < nk && running < (size_t)jobs) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(one_point(&c, ks[next]));
            if (pid < 0)
                return 2;
            next++;
            running++;
        }
        int st;
        if (wait(&st) > 0)
            running--;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long run = 0, lost = 0, corrupt = 0, mixed = 0, opened = 0, nocut = 0, inflight = 0;
    long inflight_import = 0, bad = 0, states[MAX_STAGES] = {0};
    for (size_t j = 0; j < nk; j++) {
        char res[4200], line[1000], mode[8], msg[600] = "";
        snprintf(res, sizeof res, "%s/p%llu.result", c.work, ks[j]);
        FILE *f = fopen(res, "r");
        unsigned long long k;
        int ws, op, ck, ex, lo, co, mx, exi, state;
        long acked;
        if (f == NULL || fgets(line, sizeof line, f) == NULL ||
            sscanf(line, "%llu %7s %d %d %d %ld %d %d %d %d %d %d %599[^\n]", &k, mode, &ws,
                   &op, &ck, &acked, &ex, &lo, &co, &mx, &exi, &state, msg) < 12) {
            printf("point %llu: no result\n", ks[j]);
            bad++;
            if (f)
                fclose(f);
            continue;
        }
        fclose(f);
        unlink(res);
        run++;
        opened += op;
        lost += lo;
        corrupt += co;
        mixed += mx;
        inflight += ex;
        inflight_import += exi;
        if (state >= 0 && state < MAX_STAGES)
            states[state]++;
        for (size_t p = nph; p-- > 0;)
            if (k >= ph[p].from) {
                ph[p].points++;
                break;
            }
        if (ws == 0)
            nocut++;
        if (lo || co || mx || (ws != FAULT_EXIT_CODE && ws != 0)) {
            bad++;
            printf("FAIL point %llu (mode %s, work exit %d, acked %ld): lost %d, corrupted %d, "
                   "mixed %d: %s\n  reproduce: %s drive --template %s --work %s --faultlib %s "
                   "--workload %s --regs %ld --batch %ld%s%s%s%s --seed %llu --only %llu --mode %s (vault "
                   "kept in %s/p%llu)\n",
                   k, mode, ws, acked, lo, co, mx, msg, self, c.tmpl, c.work, faultlib,
                   c.workload, c.regs, c.batch, c.import ? " --snap-a " : "", c.import ? c.snap_a : "",
                   c.import ? " --snap-b " : "", c.import ? c.snap_b : "", c.seed, k, mode,
                   c.work, k);
        }
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("workload: %s\n", c.workload);
    printf("crash points run: %ld (of %llu operations; %ld without a cut)\n", run, total, nocut);
    for (size_t p = 0; p < nph; p++) {
        unsigned long long to = p + 1 < nph ? ph[p + 1].from - 1 : total;
        if (to >= ph[p].from)
            printf("  phase %-13s operations %llu..%llu (%llu): %ld points\n", ph[p].name,
                   ph[p].from, to, to - ph[p].from + 1, ph[p].points);
        else
            printf("  phase %-13s no operations\n", ph[p].name);
    }
    printf("opened ok: %ld\nlost acknowledged: %ld\ncorrupted: %ld\n", opened, lost, corrupt);
    if (c.import) {
        printf("mixed snapshot: %ld\n", mixed);
        printf("snapshot state after the cut: S0 %ld, A %ld, B %ld\n", states[0], states[1],
               states[2]);
        printf("in-flight import committed though unacknowledged: %ld\n", inflight_import);
    }
    if (c.payrun) {
        printf("partial pay run: %ld\n", mixed);
        printf("pay run after the cut: none %ld, created %ld, approved once %ld, approved %ld\n",
               states[0], states[1], states[2], states[3]);
        printf("in-flight pay-run step committed though unacknowledged: %ld\n", inflight_import);
    }
    if (c.batch) {
        printf("partial batch: %ld\n", mixed);
        printf("batch after the cut: absent %ld, whole %ld\n", states[0], states[1]);
        printf("in-flight batch committed though unacknowledged: %ld\n", inflight_import);
    }
    printf("in-flight registration committed though unacknowledged: %ld\n", inflight);
    printf("time: %.1f s, %.2f s per crash point with %ld jobs\n", secs,
           run ? secs * (double)jobs / (double)run : 0.0, jobs);
    return bad || lost || corrupt || mixed ? 1 : 0;
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    if (sodium_init() < 0)
        return 2;
    if (argc == 5 && !strcmp(argv[1], "work"))
        return cmd_work(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && !strcmp(argv[1], "work-batch"))
        return cmd_work_batch(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
    /* Test-only: Argon2id memoised in files outside the vault directory (so the fault layer
     * never sees them), shared by the driver and every work process it starts. */
    const char *memo = getenv("CRASHTEST_PWMEMO");
    if (memo && memo[0] && strcmp(memo, "none") != 0 && pwmemo_use_dir(memo) != 0) {
        fprintf(stderr, "crashtest: cannot make the Argon2id memo directory %s: %s\n", memo,
                strerror(errno));
        return 2;
    }
    if (argc == 3 && !strcmp(argv[1], "spoil-payrun"))
        return cmd_spoil_payrun(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "work-payrun"))
        return cmd_work_payrun(argv[2], argv[3], atol(argv[4]));
    if (argc == 7 && !strcmp(argv[1], "work-import"))
        return cmd_work_import(argv[2], argv[3], atol(argv[4]), argv[5], argv[6]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc >= 2 && !strcmp(argv[1], "drive"))
        return cmd_drive(argc, argv);
    fprintf(stderr, "usage: crashtest drive ... | work VAULT ACKLOG W | work-import VAULT ACKLOG "
                    "W SNAPA SNAPB | work-batch VAULT ACKLOG W N | work-payrun VAULT ACKLOG W | check VAULT "
                    "ACKLOG [REF|batch=N|payrun=REF]\n");
    return 2;
}
