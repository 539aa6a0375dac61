/* Unit tests for the registry: every document type with a good case and a bad case per
 * rule (each failure returns RL_EDATA, names the field and stores nothing, not even an
 * audit entry), duplicates, corrections, approval with separation of duties, batches (JSON
 * Lines and CSV, all or nothing, a crash in the middle), the audit chain against edited,
 * deleted and reordered entries, and protected identities in list and show output.
 *
 * One vault for the whole suite: created, loaded with a generated snapshot (200 people)
 * and given a registrar and two approvers in the group setup. Opening a vault costs an
 * Argon2id derivation (~0.6 s), so the tests run in an order that switches operator only a
 * few times (use()); they share state and must run in the order listed in main(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "ident/ident.h"
#include "registry/registry.h"
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/vault.h"

#define ADMIN_PASS "admin passphrase 1"
#define REG_PASS "registrar passphrase"
#define APPR1_PASS "approver one passphrase"
#define APPR2_PASS "approver two passphrase"

static char base[256], vdir[300];
static vault *V;
static char V_who[32];
static int opens;

/* Facts about the imported snapshot, found with SQL in the setup. */
typedef struct {
    char id[65], pnr[13], start[11], end[11];
} emp;
static emp M[10];   /* monthly, open-ended, started before 2026, one employment per person */
static emp H;       /* hourly, open-ended */
static emp ENDED;   /* has an end date */
static char ended_after[11];
static emp PROT;    /* an employment of a protected person */
static char prot_given[128], prot_family[128];
static char org[65];
static char acc_clearing[8], acc_account[24], acc_bad[24]; /* a valid non-Swedbank account */

/* New people (not in the snapshot), made with a valid check digit in the setup. */
static char P_NEW[13], P_SAM[13], P_OLD[13], P_12[13], P_PROT[13], P_BAD[13], P_B1[13],
    P_B2[13], P_DUP[13], P_UNK[13], P_TWO[13];

/* Registrations made by one test and used by later ones. */
static char U_HIRE_KNOWN[37], U_HIRE_PROT[37], U_TERM[37], U_LEAVE[37], U_SAL_M0[37],
    U_EXT_M0[37], U_ONEOFF_NEG[37], U_PROT_EXT[37], U_PROT_SAL[37], U_SAL_H[37],
    U_TERM1C[37], U_TERM2[37], U_HIRE_P12[37],
    U_HIRE_NAMED[37];

static const char *const IBAN_OK = "SE45 5000 0000 0583 9825 7466";
static const char *const IBAN_BAD = "SE45 5000 0000 0583 9825 7467";
static const char *const NO_UUID = "00000000-0000-4000-8000-000000000000";

/* --- helpers ----------------------------------------------------------------------------- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static const char *pass_of(const char *who)
{
    if (strcmp(who, "admin") == 0)
        return ADMIN_PASS;
    if (strcmp(who, "reg") == 0)
        return REG_PASS;
    if (strcmp(who, "appr1") == 0)
        return APPR1_PASS;
    return APPR2_PASS;
}

static void close_vault(void)
{
    vault_close(V);
    V = NULL;
    V_who[0] = '\0';
}

/* Makes V a handle of operator who (one process holds the vault at a time). */
static void use(const char *who)
{
    if (V && strcmp(V_who, who) == 0)
        return;
    close_vault();
    const char *pass = pass_of(who);
    int rc = vault_open(vdir, who, pass, strlen(pass), &V);
    if (rc != RL_OK)
        fail_msg("opening the vault as %s: %s", who, err_msg());
    snprintf(V_who, sizeof V_who, "%s", who);
    opens++;
}

/* One value from a query with at most one text parameter (?1). */
static long long q_int(const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(V), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(vault_db(V)));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    long long x = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        x = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return x;
}

/* A text value into buf ("" for no row or NULL). */
static const char *q_text(char *buf, size_t cap, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(V), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(vault_db(V)));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    buf[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

static long long n_regs(void) { return q_int("SELECT count(*) FROM registrations", NULL); }
static long long n_audit(void) { return q_int("SELECT count(*) FROM audit", NULL); }
static long long n_audit_action(const char *action)
{
    return q_int("SELECT count(*) FROM audit WHERE action = ?1", action);
}

/* Runs sql on the raw connection inside a vault transaction. */
static void raw_exec(const char *sql)
{
    assert_int_equal(vault_begin(V), RL_OK);
    char *msg = NULL;
    if (sqlite3_exec(vault_db(V), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    assert_int_equal(vault_commit(V), RL_OK);
}

/* A personnummer with a correct check digit: yyyymmdd + 3-digit birth number. */
static void mkpnr(char out[13], const char *yyyymmdd, const char *nnn)
{
    char nine[10];
    snprintf(nine, sizeof nine, "%.6s%.3s", yyyymmdd + 2, nnn);
    int c = ident_luhn_digit(nine, 9);
    assert_true(c >= 0);
    snprintf(out, 13, "%.8s%.3s%d", yyyymmdd, nnn, c);
}

/* The same number with the wrong check digit. */
static void badcheck(char out[13], const char *pnr)
{
    memcpy(out, pnr, 11);
    out[11] = (char)('0' + (pnr[11] - '0' + 1) % 10);
    out[12] = '\0';
}

/* 10-digit forms: "YYMMDD-NNNN" (sep '-' or '+') or "YYMMDDNNNN" (sep 0). */
static void short_form(char out[12], const char *pnr, char sep)
{
    if (sep)
        snprintf(out, 12, "%.6s%c%.4s", pnr + 2, sep, pnr + 8);
    else
        snprintf(out, 12, "%.10s", pnr + 2);
}

static void today_iso(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Field lists: name, value, name, value ..., NULL. */
#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *kvbuf[160];

/* base with edits applied: an edit NAME VALUE replaces NAME's value (NULL removes the
 * field) or appends it; an edit "+NAME" VALUE appends NAME even if present (given twice). */
static const char *const *kv_with(const char *const *b, const char *const *e)
{
    size_t n = 0;
    for (size_t i = 0; b[i]; i += 2) {
        kvbuf[n++] = b[i];
        kvbuf[n++] = b[i + 1];
    }
    for (size_t j = 0; e && e[j]; j += 2) {
        if (e[j][0] == '+') {
            kvbuf[n++] = e[j] + 1;
            kvbuf[n++] = e[j + 1];
            continue;
        }
        size_t i = 0;
        while (i < n && strcmp(kvbuf[i], e[j]) != 0)
            i += 2;
        if (i < n && e[j + 1] == NULL) {
            memmove(&kvbuf[i], &kvbuf[i + 2], (n - i - 2) * sizeof kvbuf[0]);
            n -= 2;
        } else if (i < n) {
            kvbuf[i + 1] = e[j + 1];
        } else if (e[j + 1]) {
            kvbuf[n++] = e[j];
            kvbuf[n++] = e[j + 1];
        }
        assert_true(n + 2 < sizeof kvbuf / sizeof kvbuf[0]);
    }
    kvbuf[n] = NULL;
    return kvbuf;
}

static char *rep;       /* the last report */
static size_t rep_len;

static int reg_doc(const char *type, const char *corrects, const char *const *kv,
                   char uuid[37])
{
    reg_field f[40];
    size_t n = 0;
    for (size_t i = 0; kv[i]; i += 2) {
        assert_true(n < 40);
        f[n++] = (reg_field){kv[i], kv[i + 1]};
    }
    free(rep);
    rep = NULL;
    FILE *m = open_memstream(&rep, &rep_len);
    assert_non_null(m);
    int rc = registry_register(V, type, f, n, corrects, m, uuid);
    assert_int_equal(fclose(m), 0);
    return rc;
}

/* A document that must be stored: one more registration and one more audit entry. */
static void good_at(int line, const char *type, const char *corrects, const char *const *kv,
                    char *uuid_out)
{
    char uuid[37] = "";
    long long r0 = n_regs(), a0 = n_audit();
    int rc = reg_doc(type, corrects, kv, uuid);
    if (rc != RL_OK)
        fail_msg("line %d: %s refused (%d, %s):\n%s", line, type, rc, err_msg(), rep);
    if (rep_len != 0)
        fail_msg("line %d: a good %s printed a report:\n%s", line, type, rep);
    if (n_regs() != r0 + 1 || n_audit() != a0 + 1)
        fail_msg("line %d: %s stored %lld registrations and %lld audit entries", line, type,
                 n_regs() - r0, n_audit() - a0);
    char st[32], au[64], buf[64];
    q_text(st, sizeof st, "SELECT status FROM registrations WHERE uuid = ?1", uuid);
    q_text(au, sizeof au, "SELECT author FROM registrations WHERE uuid = ?1", uuid);
    if (strcmp(st, "registered") != 0 || strcmp(au, V_who) != 0)
        fail_msg("line %d: stored with status '%s', author '%s'", line, st, au);
    q_text(buf, sizeof buf,
           "SELECT action FROM audit WHERE seq = (SELECT max(seq) FROM audit)", NULL);
    assert_string_equal(buf, "registration.add");
    if (uuid_out)
        memcpy(uuid_out, uuid, 37);
}

/* A document that must be refused: RL_EDATA, nothing stored (no registration, no audit
 * entry), the report names the field (or contains text), and the message says so. */
static void bad_at(int line, const char *type, const char *corrects, const char *const *kv,
                   const char *field, const char *text)
{
    char uuid[37] = "";
    long long r0 = n_regs(), a0 = n_audit();
    int rc = reg_doc(type, corrects, kv, uuid);
    if (rc != RL_EDATA)
        fail_msg("line %d: %s expected RL_EDATA, got %d (report: %s)", line, type, rc,
                 rep ? rep : "");
    if (n_regs() != r0 || n_audit() != a0)
        fail_msg("line %d: a refused %s changed the vault", line, type);
    char want[128];
    if (field) {
        snprintf(want, sizeof want, "field %s: ", field);
        if (strstr(rep, want) == NULL)
            fail_msg("line %d: the report does not name '%s':\n%s", line, field, rep);
    }
    if (text && strstr(rep, text) == NULL)
        fail_msg("line %d: the report lacks '%s':\n%s", line, text, rep);
    if (strstr(err_msg(), "nothing was registered") == NULL)
        fail_msg("line %d: message '%s'", line, err_msg());
}

#define GOOD(type, corr, kv, uuid) good_at(__LINE__, type, corr, kv, uuid)
#define BAD(type, corr, kv, field) bad_at(__LINE__, type, corr, kv, field, NULL)
#define BADT(type, corr, kv, field, text) bad_at(__LINE__, type, corr, kv, field, text)

static char *capture_list(const char *status, const char *pnr, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    int rc = registry_list(V, status, pnr, json, m);
    assert_int_equal(fclose(m), 0);
    if (rc != RL_OK)
        fail_msg("registry_list: %d %s", rc, err_msg());
    return buf;
}

static int capture_show(const char *pnr, int json, int reveal, char **out)
{
    size_t len = 0;
    *out = NULL;
    FILE *m = open_memstream(out, &len);
    assert_non_null(m);
    int rc = registry_employee_show(V, pnr, json, reveal, m);
    assert_int_equal(fclose(m), 0);
    return rc;
}

static void assert_json(const char *text)
{
    json_value *j = NULL;
    if (json_parse(text, strlen(text), &j) != RL_OK)
        fail_msg("not JSON (%s):\n%s", err_msg(), text);
    json_free(j);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int batch(const char *leaf, const char *text, size_t *count)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", base, leaf);
    write_file(path, text);
    free(rep);
    rep = NULL;
    FILE *m = open_memstream(&rep, &rep_len);
    assert_non_null(m);
    int rc = registry_batch(V, path, m, count);
    assert_int_equal(fclose(m), 0);
    return rc;
}

static void get_emp(emp *e, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(vault_db(V), sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("the snapshot has no row for: %s", sql);
    snprintf(e->id, sizeof e->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(e->pnr, sizeof e->pnr, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(e->start, sizeof e->start, "%s", (const char *)sqlite3_column_text(st, 2));
    const char *end = (const char *)sqlite3_column_text(st, 3);
    snprintf(e->end, sizeof e->end, "%s", end ? end : "");
    sqlite3_finalize(st);
}

/* --- setup ------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/rl-registry-XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(vdir, sizeof vdir, "%s/v", base);
    const char *b = getenv("B"), *top = getenv("TOP");
    if (b == NULL || b[0] == '\0')
        b = "build";
    if (top == NULL || top[0] == '\0')
        top = ".";
    sh("'%s/bin/gen-snapshot' --employees 200 --seed 4 --out '%s/snap' >/dev/null", b, base);

    assert_int_equal(vault_create(vdir, "admin", ADMIN_PASS, strlen(ADMIN_PASS)), RL_OK);
    use("admin");
    char path[600];
    minisig_pubkey pk;
    snprintf(path, sizeof path, "%s/keys/test/export-TEST.pub", top);
    assert_int_equal(minisig_pubkey_load(path, &pk), RL_OK);
    snprintf(path, sizeof path, "%s/snap", base);
    snapshot_counts counts;
    int rc = snapshot_import(V, path, &pk, 0, stderr, NULL, &counts);
    if (rc != RL_OK)
        fail_msg("import: %s", err_msg());
    assert_int_equal(counts.employees, 200);
    assert_int_equal(vault_operator_add(V, "reg", VAULT_ROLE_REGISTRAR, REG_PASS,
                                        strlen(REG_PASS)),
                     RL_OK);
    assert_int_equal(vault_operator_add(V, "appr1", VAULT_ROLE_APPROVER, APPR1_PASS,
                                        strlen(APPR1_PASS)),
                     RL_OK);
    assert_int_equal(vault_operator_add(V, "appr2", VAULT_ROLE_APPROVER, APPR2_PASS,
                                        strlen(APPR2_PASS)),
                     RL_OK);

    /* Ten monthly, open-ended employments of distinct unprotected people with table tax. */
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(vault_db(V),
                           "SELECT e.employment_id, e.pnr, e.start_date, e.end_date FROM"
                           " employments e JOIN employees p USING(pnr) WHERE e.end_date IS NULL"
                           " AND e.pay_type = 'monthly' AND p.protected = 0 AND e.start_date <"
                           " '2026-01-01' AND (SELECT count(*) FROM employments x WHERE x.pnr ="
                           " e.pnr) = 1 ORDER BY e.employment_id LIMIT 10",
                           -1, &st, NULL),
        SQLITE_OK);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(M[i].id, sizeof M[i].id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(M[i].pnr, sizeof M[i].pnr, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(M[i].start, sizeof M[i].start, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    get_emp(&H, "SELECT employment_id, pnr, start_date, end_date FROM employments WHERE"
                " pay_type = 'hourly' AND end_date IS NULL AND start_date < '2026-01-01'"
                " ORDER BY employment_id LIMIT 1");
    get_emp(&ENDED, "SELECT employment_id, pnr, start_date, end_date FROM employments WHERE"
                    " end_date IS NOT NULL ORDER BY employment_id LIMIT 1");
    q_text(ended_after, sizeof ended_after, "SELECT date(?1, '+1 day')", ENDED.end);
    get_emp(&PROT, "SELECT e.employment_id, e.pnr, e.start_date, e.end_date FROM employments e"
                   " JOIN employees p USING(pnr) WHERE p.protected > 0 ORDER BY"
                   " (e.end_date IS NULL AND e.pay_type = 'monthly') DESC, e.employment_id"
                   " LIMIT 1");
    q_text(prot_given, sizeof prot_given, "SELECT given_name FROM employees WHERE pnr = ?1",
           PROT.pnr);
    q_text(prot_family, sizeof prot_family, "SELECT family_name FROM employees WHERE pnr = ?1",
           PROT.pnr);
    q_text(org, sizeof org, "SELECT org_unit_id FROM org_units ORDER BY org_unit_id LIMIT 1",
           NULL);
    /* A valid account with a check digit over the account only (not Swedbank, not 3300). */
    q_text(acc_clearing, sizeof acc_clearing,
           "SELECT clearing FROM employees WHERE clearing IS NOT NULL AND clearing NOT LIKE '8%'"
           " AND clearing != '3300' ORDER BY pnr LIMIT 1",
           NULL);
    q_text(acc_account, sizeof acc_account,
           "SELECT account FROM employees WHERE clearing IS NOT NULL AND clearing NOT LIKE '8%'"
           " AND clearing != '3300' ORDER BY pnr LIMIT 1",
           NULL);
    assert_true(acc_clearing[0] && acc_account[0]);
    snprintf(acc_bad, sizeof acc_bad, "%s", acc_account);
    size_t al = strlen(acc_bad);
    acc_bad[al - 1] = (char)('0' + (acc_bad[al - 1] - '0' + 1) % 10);

    mkpnr(P_NEW, "19850312", "123");
    mkpnr(P_SAM, "19900375", "456"); /* samordningsnummer: born the 15th, +60 */
    mkpnr(P_OLD, "19201015", "789");
    mkpnr(P_12, "19770707", "321");
    mkpnr(P_PROT, "19880808", "808");
    mkpnr(P_BAD, "19950505", "505");
    mkpnr(P_B1, "19930303", "303");
    mkpnr(P_B2, "19940404", "404");
    mkpnr(P_DUP, "19960606", "606");
    mkpnr(P_UNK, "19970707", "707");
    mkpnr(P_TWO, "19981212", "212");
    const char *fresh[] = {P_NEW, P_SAM, P_OLD, P_12, P_PROT, P_BAD, P_B1, P_B2, P_DUP, P_UNK, P_TWO};
    for (size_t i = 0; i < sizeof fresh / sizeof fresh[0]; i++)
        assert_int_equal(q_int("SELECT count(*) FROM employees WHERE pnr = ?1", fresh[i]), 0);
    /* V stays open as admin for the first test. */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close_vault();
    free(rep);
    fprintf(stderr, "test_registry: %d vault opens in the parent\n", opens);
    sh("rm -rf '%s'", base);
    return 0;
}

/* --- roles ------------------------------------------------------------------------------- */

static void test_admin_cannot_register_or_decide(void **state)
{
    (void)state;
    use("admin");
    char uuid[37];
    long long r0 = n_regs(), a0 = n_audit();
    assert_int_equal(reg_doc("one_off", NULL,
                             KV("employment_id", M[3].id, "amount_ore", "100", "pay_code", "X",
                                "reason", "admin"),
                             uuid),
                     RL_EAUTH);
    size_t count = 7;
    assert_int_equal(batch("admin.jsonl",
                           "{\"type\":\"one_off\",\"employment_id\":\"E1\",\"amount_ore\":1}\n",
                           &count),
                     RL_EAUTH);
    assert_int_equal(count, 0);
    assert_int_equal(registry_approve(V, NO_UUID), RL_EAUTH);
    assert_int_equal(registry_reject(V, NO_UUID, "no"), RL_EAUTH);
    assert_int_equal(n_regs(), r0);
    assert_int_equal(n_audit(), a0);
    /* The eight document types, in the documented order. */
    const char *const want[] = {"hire", "termination", "salary_change", "extent_change",
                                "bank_change", "tax_change", "leave", "one_off"};
    const char *const *types = registry_types();
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(types[i], want[i]);
    assert_null(types[8]);
}

/* --- hire -------------------------------------------------------------------------------- */

static void test_hire_good(void **state)
{
    (void)state;
    use("reg");
    char buf[128], f10[12];
    /* A person from the snapshot: no names needed. */
    GOOD("hire", NULL,
         KV("personnummer", M[5].pnr, "employment_id", "T-HIRE-1", "org_unit_id", org,
            "start_date", "2026-12-01", "pay_type", "monthly", "monthly_salary_ore", "3200000",
            "extent_pct", "100", "tax_table", "33", "tax_column", "1"),
         U_HIRE_KNOWN);
    q_text(buf, sizeof buf,
           "SELECT employment_id || ' ' || pnr || ' ' || effective_date || ' ' ||"
           " coalesce(end_date, '-') FROM registrations WHERE uuid=?1",
           U_HIRE_KNOWN);
    char want[128];
    snprintf(want, sizeof want, "T-HIRE-1 %s 2026-12-01 -", M[5].pnr);
    assert_string_equal(buf, want);
    /* Numbers are stored as JSON numbers, so amounts never pass through text again. */
    assert_int_equal(q_int("SELECT json_type(fields, '$.monthly_salary_ore') = 'integer' AND"
                           " json_extract(fields, '$.monthly_salary_ore') = 3200000 FROM"
                           " registrations WHERE uuid = ?1",
                           U_HIRE_KNOWN),
                     1);

    /* A new person in the YYMMDD-NNNN form, hourly, fixed tax, a bank account, no id. */
    char uuid[37];
    short_form(f10, P_NEW, '-');
    GOOD("hire", NULL,
         KV("personnummer", f10, "given_name", "Ada", "family_name", "Qvarnbeck", "org_unit_id",
            org, "start_date", "2026-12-01", "end_date", "2027-05-31", "pay_type", "hourly",
            "hourly_rate_ore", "19500", "extent_pct", "62.5", "tax_fixed_pct", "30",
            "clearing", acc_clearing, "account", acc_account),
         uuid);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT pnr FROM registrations WHERE uuid=?1",
                               uuid),
                        P_NEW);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT json_extract(fields, '$.extent_pct') FROM registrations"
                               " WHERE uuid=?1",
                               uuid),
                        "62.5");
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT end_date FROM registrations WHERE uuid=?1", uuid),
                        "2027-05-31");
    /* The generated employment id: "R-" and 12 hex digits of the UUID. */
    q_text(buf, sizeof buf, "SELECT employment_id FROM registrations WHERE uuid=?1", uuid);
    assert_int_equal(strlen(buf), 14);
    assert_memory_equal(buf, "R-", 2);
    assert_memory_equal(buf + 2, uuid, 8);
    assert_memory_equal(buf + 10, uuid + 9, 4);

    /* A samordningsnummer (day + 60), 12 digits without dash, IBAN with spaces. */
    GOOD("hire", NULL,
         KV("personnummer", P_SAM, "given_name", "Jonas", "family_name", "Vilkaitis",
            "org_unit_id", org, "start_date", "2026-12-07", "pay_type", "monthly",
            "monthly_salary_ore", "2750000", "extent_pct", "100", "tax_table", "32",
            "tax_column", "1", "iban", IBAN_OK),
         uuid);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT pnr FROM registrations WHERE uuid=?1",
                               uuid),
                        P_SAM);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT json_extract(fields, '$.iban') FROM registrations"
                               " WHERE uuid=?1",
                               uuid),
                        "SE4550000000058398257466");

    /* YYMMDD+NNNN: a hundred years or older. */
    short_form(f10, P_OLD, '+');
    GOOD("hire", NULL,
         KV("personnummer", f10, "given_name", "Greta", "family_name", "Hundraårig",
            "org_unit_id", org, "start_date", "2026-12-01", "pay_type", "hourly",
            "hourly_rate_ore", "15000", "extent_pct", "10", "tax_fixed_pct", "0"),
         uuid);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT pnr FROM registrations WHERE uuid=?1",
                               uuid),
                        P_OLD);

    /* YYYYMMDD-NNNN. */
    char dashed[14];
    snprintf(dashed, sizeof dashed, "%.8s-%.4s", P_12, P_12 + 8);
    GOOD("hire", NULL,
         KV("personnummer", dashed, "given_name", "Emil", "family_name", "Tolvsiffra",
            "org_unit_id", org, "start_date", "2026-12-01", "pay_type", "monthly",
            "monthly_salary_ore", "3000000", "extent_pct", "100", "tax_table", "30",
            "tax_column", "1"),
         U_HIRE_P12);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT pnr FROM registrations WHERE uuid=?1",
                               U_HIRE_P12),
                        P_12);

    /* A second employment of a person known only from a registered hire: no names needed.
     * (The first hire is rejected later: test_employee_show.) */
    GOOD("hire", NULL,
         KV("personnummer", P_TWO, "given_name", "Namn", "family_name", "Förstadottir",
            "org_unit_id", org, "start_date", "2026-12-01", "pay_type", "monthly",
            "monthly_salary_ore", "3000000", "extent_pct", "100", "tax_table", "30",
            "tax_column", "1"),
         U_HIRE_NAMED);
    GOOD("hire", NULL,
         KV("personnummer", P_TWO, "org_unit_id", org, "start_date", "2027-01-01", "pay_type",
            "hourly", "hourly_rate_ore", "20000", "extent_pct", "20", "tax_fixed_pct", "30"),
         NULL);

    /* A new protected person (used by the listing tests). */
    GOOD("hire", NULL,
         KV("personnummer", P_PROT, "given_name", "Hemligna", "family_name", "Skyddadottir",
            "protected_identity", "2", "employment_id", "T-PROT-1", "org_unit_id", org,
            "start_date", "2026-12-01", "pay_type", "monthly", "monthly_salary_ore", "3100000",
            "extent_pct", "100", "tax_table", "33", "tax_column", "1"),
         U_HIRE_PROT);
}

static void test_hire_bad(void **state)
{
    (void)state;
    use("reg");
    const char *const *hb =
        KV("personnummer", P_BAD, "given_name", "Bo", "family_name", "Felsson", "org_unit_id",
           org, "start_date", "2026-12-01", "pay_type", "monthly", "monthly_salary_ore",
           "3000000", "extent_pct", "100", "tax_table", "33", "tax_column", "1");
    /* Keep a private copy: kv_with reuses one buffer. */
    const char *base_kv[40];
    size_t n = 0;
    for (; hb[n]; n++)
        base_kv[n] = hb[n];
    base_kv[n] = NULL;
    const char *const *b = base_kv;

    /* Required fields. */
    BAD("hire", NULL, kv_with(b, KV("personnummer", NULL)), "personnummer");
    BAD("hire", NULL, kv_with(b, KV("org_unit_id", NULL)), "org_unit_id");
    BAD("hire", NULL, kv_with(b, KV("start_date", NULL)), "start_date");
    BAD("hire", NULL, kv_with(b, KV("pay_type", NULL)), "pay_type");
    BAD("hire", NULL, kv_with(b, KV("extent_pct", NULL)), "extent_pct");
    BAD("hire", NULL, kv_with(b, KV("org_unit_id", "")), "org_unit_id"); /* empty = absent */
    /* Unknown field, field given twice (also when the first value is empty). */
    BADT("hire", NULL, kv_with(b, KV("salary", "3000000")), "salary", "not a field");
    BADT("hire", NULL, kv_with(b, KV("+start_date", "2026-12-02")), "start_date", "twice");
    BADT("hire", NULL, kv_with(b, KV("+extent_pct", "100")), "extent_pct", "twice");
    {
        const char *const *k = kv_with(b, KV("start_date", NULL));
        const char *kk[40];
        size_t m = 0;
        kk[m++] = "start_date";
        kk[m++] = "";
        for (size_t i = 0; k[i]; i++)
            kk[m++] = k[i];
        kk[m++] = "start_date";
        kk[m++] = "2026-12-01";
        kk[m] = NULL;
        BADT("hire", NULL, kk, "start_date", "twice");
    }
    /* Personnummer: check digit, date, samordningsnummer date, birth number, garbage. The
     * report never repeats the rejected number. */
    char wrong[13], p[13];
    badcheck(wrong, P_BAD);
    BAD("hire", NULL, kv_with(b, KV("personnummer", wrong)), "personnummer");
    assert_null(strstr(rep, wrong));
    assert_null(strstr(rep, P_BAD));
    mkpnr(p, "19850231", "123"); /* 31 February */
    BAD("hire", NULL, kv_with(b, KV("personnummer", p)), "personnummer");
    assert_null(strstr(rep, p));
    mkpnr(p, "19850292", "123"); /* samordningsnummer of 32 February */
    BAD("hire", NULL, kv_with(b, KV("personnummer", p)), "personnummer");
    mkpnr(p, "19851301", "123"); /* month 13 */
    BAD("hire", NULL, kv_with(b, KV("personnummer", p)), "personnummer");
    mkpnr(p, "19850312", "000"); /* birth number 000 */
    BAD("hire", NULL, kv_with(b, KV("personnummer", p)), "personnummer");
    BAD("hire", NULL, kv_with(b, KV("personnummer", "19850312-12")), "personnummer");
    BAD("hire", NULL, kv_with(b, KV("personnummer", "abcdefghijkl")), "personnummer");
    {
        char plus12[14];
        snprintf(plus12, sizeof plus12, "%.8s+%.4s", P_BAD, P_BAD + 8);
        BAD("hire", NULL, kv_with(b, KV("personnummer", plus12)), "personnummer");
    }
    /* A person not in the snapshot needs both names. */
    BADT("hire", NULL, kv_with(b, KV("given_name", NULL)), "given_name", "not in the snapshot");
    BADT("hire", NULL, kv_with(b, KV("family_name", NULL)), "family_name", "not in the snapshot");
    BAD("hire", NULL, kv_with(b, KV("given_name", "Bo\x01")), "given_name");
    /* Employment id: new (snapshot or registered), well-formed. */
    BADT("hire", NULL, kv_with(b, KV("employment_id", M[0].id)), "employment_id", "already exists");
    BADT("hire", NULL, kv_with(b, KV("employment_id", "T-HIRE-1")), "employment_id",
         "already exists");
    BAD("hire", NULL, kv_with(b, KV("employment_id", "no spaces")), "employment_id");
    /* Org unit known. */
    BADT("hire", NULL, kv_with(b, KV("org_unit_id", "OU-NOPE")), "org_unit_id",
         "no such organisation unit");
    /* Salary: > 0, matching the pay type. */
    BAD("hire", NULL, kv_with(b, KV("monthly_salary_ore", "0")), "monthly_salary_ore");
    BAD("hire", NULL, kv_with(b, KV("monthly_salary_ore", "-100")), "monthly_salary_ore");
    BAD("hire", NULL, kv_with(b, KV("monthly_salary_ore", "300.50")), "monthly_salary_ore");
    BAD("hire", NULL, kv_with(b, KV("monthly_salary_ore", "1000000000001")), "monthly_salary_ore");
    BAD("hire", NULL, kv_with(b, KV("monthly_salary_ore", NULL)), "monthly_salary_ore");
    BAD("hire", NULL, kv_with(b, KV("hourly_rate_ore", "20000")), "hourly_rate_ore");
    BAD("hire", NULL, kv_with(b, KV("pay_type", "hourly")), "hourly_rate_ore");
    BAD("hire", NULL, kv_with(b, KV("pay_type", "hourly", "hourly_rate_ore", "0")),
        "hourly_rate_ore");
    BAD("hire", NULL, kv_with(b, KV("pay_type", "weekly")), "pay_type");
    /* Extent 0 < x <= 100, two decimals at most. */
    BAD("hire", NULL, kv_with(b, KV("extent_pct", "0")), "extent_pct");
    BAD("hire", NULL, kv_with(b, KV("extent_pct", "100.5")), "extent_pct");
    BAD("hire", NULL, kv_with(b, KV("extent_pct", "12.345")), "extent_pct");
    /* Tax: exactly one way. */
    BAD("hire", NULL, kv_with(b, KV("tax_column", NULL)), "tax_column");
    BAD("hire", NULL, kv_with(b, KV("tax_table", NULL)), "tax_table");
    BAD("hire", NULL, kv_with(b, KV("tax_fixed_pct", "30")), "tax_fixed_pct");
    BAD("hire", NULL, kv_with(b, KV("tax_table", NULL, "tax_column", NULL)), "tax_table");
    BAD("hire", NULL, kv_with(b, KV("tax_table", "28")), "tax_table");
    BAD("hire", NULL, kv_with(b, KV("tax_column", "7")), "tax_column");
    BAD("hire", NULL,
        kv_with(b, KV("tax_table", NULL, "tax_column", NULL, "tax_fixed_pct", "100.01")),
        "tax_fixed_pct");
    /* Bank account. */
    BAD("hire", NULL, kv_with(b, KV("clearing", acc_clearing, "account", acc_bad)), "account");
    BAD("hire", NULL, kv_with(b, KV("clearing", "0001", "account", acc_account)), "clearing");
    BAD("hire", NULL, kv_with(b, KV("clearing", acc_clearing)), "account");
    BAD("hire", NULL, kv_with(b, KV("account", acc_account)), "clearing");
    BAD("hire", NULL, kv_with(b, KV("iban", IBAN_BAD)), "iban");
    BAD("hire", NULL, kv_with(b, KV("iban", "SE45")), "iban");
    BAD("hire", NULL,
        kv_with(b, KV("clearing", acc_clearing, "account", acc_account, "iban", IBAN_OK)),
        "iban");
    /* Dates. */
    BAD("hire", NULL, kv_with(b, KV("start_date", "2026-02-30")), "start_date");
    BAD("hire", NULL, kv_with(b, KV("start_date", "2026-12-1")), "start_date");
    BADT("hire", NULL, kv_with(b, KV("end_date", "2026-11-30")), "end_date", "before start_date");
    /* Protected identity 0-3. */
    BAD("hire", NULL, kv_with(b, KV("protected_identity", "4")), "protected_identity");
    /* Every problem is reported, not just the first. */
    BAD("hire", NULL,
        kv_with(b, KV("org_unit_id", NULL, "extent_pct", "0", "iban", IBAN_BAD, "bogus", "1")),
        "org_unit_id");
    assert_non_null(strstr(rep, "field extent_pct: "));
    assert_non_null(strstr(rep, "field iban: "));
    assert_non_null(strstr(rep, "field bogus: "));
    assert_non_null(strstr(err_msg(), "4 problems"));
    /* An unknown document type. */
    BADT("promotion", NULL, b, "type", "unknown document type");
    /* The base itself is good, so every case above failed for its one reason. */
    GOOD("hire", NULL, b, NULL);
}

/* --- termination ------------------------------------------------------------------------- */

static void test_termination(void **state)
{
    (void)state;
    use("reg");
    char before[11];
    q_text(before, sizeof before, "SELECT date(?1, '-1 day')", M[1].start);
    const char *id = M[1].id;
    BADT("termination", NULL,
         KV("employment_id", "E-NOPE", "last_day", "2026-12-31", "reason", "resignation"),
         "employment_id", "no such employment");
    BADT("termination", NULL, KV("employment_id", id, "last_day", before, "reason", "resignation"),
         "last_day", "before the employment starts");
    BAD("termination", NULL, KV("employment_id", id, "last_day", "2026-12-31", "reason", "fired"),
        "reason");
    BAD("termination", NULL, KV("employment_id", id, "last_day", "2026-12-31"), "reason");
    BAD("termination", NULL, KV("employment_id", id, "reason", "resignation"), "last_day");
    BAD("termination", NULL, KV("last_day", "2026-12-31", "reason", "resignation"),
        "employment_id");
    BAD("termination", NULL,
        KV("employment_id", id, "last_day", "2026-12-32", "reason", "resignation"), "last_day");
    BAD("termination", NULL,
        KV("employment_id", id, "last_day", "2026-12-31", "reason", "resignation", "to_date",
           "2026-12-31"),
        "to_date");
    /* A registered hire's employment: not before its start. */
    BAD("termination", NULL,
        KV("employment_id", "T-HIRE-1", "last_day", "2026-11-30", "reason", "other"),
        "last_day");

    GOOD("termination", NULL,
         KV("employment_id", id, "last_day", "2026-12-31", "reason", "resignation"), U_TERM);
    char buf[64], want[64];
    q_text(buf, sizeof buf, "SELECT effective_date || ' ' || pnr FROM registrations WHERE uuid=?1",
           U_TERM);
    snprintf(want, sizeof want, "2026-12-31 %s", M[1].pnr);
    assert_string_equal(buf, want);
    /* Twice, or another termination (earlier or later) of a terminated employment. */
    BADT("termination", NULL,
         KV("employment_id", id, "last_day", "2026-12-31", "reason", "resignation"), NULL,
         "duplicate");
    BADT("termination", NULL,
         KV("employment_id", id, "last_day", "2026-12-31", "reason", "dismissal"),
         "employment_id", "already terminated");
    BADT("termination", NULL, KV("employment_id", id, "last_day", "2027-01-31", "reason", "other"),
         "employment_id", U_TERM);
    BADT("termination", NULL,
         KV("employment_id", id, "last_day", "2026-12-15", "reason", "dismissal"),
         "employment_id", "already terminated");
    /* Documents after the last day are refused; up to it they are fine. */
    BADT("salary_change", NULL,
         KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "3500000"),
         "from_date", "last day");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-02", "to_date", "2027-01-05"),
        "from_date");
    GOOD("extent_change", NULL, KV("employment_id", id, "from_date", "2026-12-31", "extent_pct", "50"),
         NULL);
}

/* --- salary, extent, tax changes --------------------------------------------------------- */

static void test_salary_change(void **state)
{
    (void)state;
    use("reg");
    char before[11];
    q_text(before, sizeof before, "SELECT date(?1, '-1 day')", M[0].start);
    GOOD("salary_change", NULL,
         KV("employment_id", M[0].id, "from_date", "2026-12-01", "monthly_salary_ore", "4100000"),
         U_SAL_M0);
    GOOD("salary_change", NULL,
         KV("employment_id", H.id, "from_date", "2026-12-01", "hourly_rate_ore", "25000"), U_SAL_H);
    /* A registered (not yet approved) hire's employment can be changed. */
    GOOD("salary_change", NULL,
         KV("employment_id", "T-HIRE-1", "from_date", "2026-12-15", "monthly_salary_ore",
            "3300000"),
         NULL);
    const char *id = M[0].id;
    BADT("salary_change", NULL,
         KV("employment_id", id, "from_date", "2027-01-01", "hourly_rate_ore", "25000"),
         "hourly_rate_ore", "paid monthly");
    BADT("salary_change", NULL,
         KV("employment_id", H.id, "from_date", "2027-01-01", "monthly_salary_ore", "3000000"),
         "monthly_salary_ore", "paid hourly");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "3000000",
           "hourly_rate_ore", "20000"),
        "monthly_salary_ore");
    BAD("salary_change", NULL, KV("employment_id", id, "from_date", "2027-01-01"),
        "monthly_salary_ore");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "0"),
        "monthly_salary_ore");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "-5"),
        "monthly_salary_ore");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "12.50"),
        "monthly_salary_ore");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", ""),
        "monthly_salary_ore");
    BADT("salary_change", NULL,
         KV("employment_id", id, "from_date", before, "monthly_salary_ore", "3000000"),
         "from_date", "before the employment starts");
    BADT("salary_change", NULL,
         KV("employment_id", "E-NOPE", "from_date", "2027-01-01", "monthly_salary_ore", "1"),
         "employment_id", "no such employment");
    BAD("salary_change", NULL, KV("from_date", "2027-01-01", "monthly_salary_ore", "3000000"),
        "employment_id");
    BAD("salary_change", NULL,
        KV("employment_id", id, "from_date", "2027-01-01", "monthly_salary_ore", "3000000",
           "pay_type", "monthly"),
        "pay_type");
    /* After a snapshot employment's end date. */
    BADT("extent_change", NULL,
         KV("employment_id", ENDED.id, "from_date", ended_after, "extent_pct", "50"),
         "from_date", "after the employment ends");
    GOOD("extent_change", NULL,
         KV("employment_id", ENDED.id, "from_date", ENDED.end, "extent_pct", "50"), NULL);
}

static void test_extent_change(void **state)
{
    (void)state;
    use("reg");
    const char *id = M[0].id;
    char before[11];
    q_text(before, sizeof before, "SELECT date(?1, '-1 day')", M[0].start);
    GOOD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-01-01", "extent_pct", "80"),
         U_EXT_M0);
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-02-01", "extent_pct", "0"),
        "extent_pct");
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-02-01", "extent_pct", "101"),
        "extent_pct");
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-02-01", "extent_pct", "-5"),
        "extent_pct");
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-02-01", "extent_pct", "abc"),
        "extent_pct");
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", "2027-02-01"), "extent_pct");
    BAD("extent_change", NULL, KV("employment_id", id, "extent_pct", "50"), "from_date");
    BAD("extent_change", NULL, KV("employment_id", id, "from_date", before, "extent_pct", "50"),
        "from_date");
    BAD("extent_change", NULL, KV("employment_id", "E-NOPE", "from_date", "2027-02-01", "extent_pct", "50"),
        "employment_id");
}

static void test_tax_change(void **state)
{
    (void)state;
    use("reg");
    const char *id = M[0].id;
    GOOD("tax_change", NULL,
         KV("employment_id", id, "from_date", "2027-01-01", "tax_table", "34", "tax_column", "2"),
         NULL);
    GOOD("tax_change", NULL, KV("employment_id", id, "from_date", "2027-02-01", "tax_fixed_pct", "30.5"),
         NULL);
    BAD("tax_change", NULL, KV("employment_id", id, "from_date", "2027-03-01", "tax_table", "34"),
        "tax_column");
    BAD("tax_change", NULL, KV("employment_id", id, "from_date", "2027-03-01", "tax_column", "1"),
        "tax_table");
    BAD("tax_change", NULL,
        KV("employment_id", id, "from_date", "2027-03-01", "tax_table", "34", "tax_column", "1",
           "tax_fixed_pct", "30"),
        "tax_fixed_pct");
    BAD("tax_change", NULL, KV("employment_id", id, "from_date", "2027-03-01"), "tax_table");
    BAD("tax_change", NULL,
        KV("employment_id", id, "from_date", "2027-03-01", "tax_table", "43", "tax_column", "1"),
        "tax_table");
    BAD("tax_change", NULL,
        KV("employment_id", id, "from_date", "2027-03-01", "tax_table", "34", "tax_column", "0"),
        "tax_column");
    BAD("tax_change", NULL, KV("employment_id", id, "from_date", "2027-03-01", "tax_fixed_pct", "101"),
        "tax_fixed_pct");
    BAD("tax_change", NULL, KV("employment_id", "E-NOPE", "from_date", "2027-03-01", "tax_fixed_pct", "30"),
        "employment_id");
}

/* --- bank change ------------------------------------------------------------------------- */

static void test_bank_change(void **state)
{
    (void)state;
    use("reg");
    const char *pnr = M[0].pnr;
    char f10[12], uuid[37], buf[64];
    GOOD("bank_change", NULL,
         KV("personnummer", pnr, "from_date", "2026-12-01", "clearing", acc_clearing, "account",
            acc_account),
         NULL);
    short_form(f10, pnr, 0);
    GOOD("bank_change", NULL, KV("personnummer", f10, "from_date", "2027-01-01", "iban", IBAN_OK),
         uuid);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT pnr FROM registrations WHERE uuid=?1",
                               uuid),
                        pnr);
    /* A person known only from a registered hire. */
    GOOD("bank_change", NULL, KV("personnummer", P_NEW, "from_date", "2026-12-01", "iban", IBAN_OK),
         NULL);
    /* Nordea personkonto: the account is the holder's own personnummer. */
    char own[12], other[12];
    short_form(own, pnr, 0);
    short_form(other, M[1].pnr, 0);
    GOOD("bank_change", NULL,
         KV("personnummer", pnr, "from_date", "2027-02-01", "clearing", "3300", "account", own),
         NULL);
    BADT("bank_change", NULL,
         KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", "3300", "account", other),
         "account", "personkonto");

    BADT("bank_change", NULL, KV("personnummer", P_UNK, "from_date", "2027-03-01", "iban", IBAN_OK),
         "personnummer", "no such person");
    char wrong[13];
    badcheck(wrong, pnr);
    BAD("bank_change", NULL, KV("personnummer", wrong, "from_date", "2027-03-01", "iban", IBAN_OK),
        "personnummer");
    BAD("bank_change", NULL, KV("personnummer", pnr, "from_date", "2027-03-01"), "clearing");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", acc_clearing, "account",
           acc_account, "iban", IBAN_OK),
        "iban");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", acc_clearing), "account");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", acc_clearing, "account",
           acc_bad),
        "account");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", "0001", "account",
           acc_account),
        "clearing");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "clearing", "12", "account",
           acc_account),
        "clearing");
    BAD("bank_change", NULL, KV("personnummer", pnr, "from_date", "2027-03-01", "iban", IBAN_BAD),
        "iban");
    BAD("bank_change", NULL, KV("personnummer", pnr, "iban", IBAN_OK), "from_date");
    BAD("bank_change", NULL, KV("from_date", "2027-03-01", "iban", IBAN_OK), "personnummer");
    BAD("bank_change", NULL,
        KV("personnummer", pnr, "from_date", "2027-03-01", "iban", IBAN_OK, "employment_id",
           M[0].id),
        "employment_id");
}

/* --- leave ------------------------------------------------------------------------------- */

static void test_leave(void **state)
{
    (void)state;
    use("reg");
    const char *id = M[2].id;
    char buf[64];
    GOOD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-10", "to_date", "2027-01-20"),
         U_LEAVE);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT json_extract(fields, '$.extent_pct') || ' ' ||"
                               " effective_date || ' ' || end_date FROM registrations"
                               " WHERE uuid=?1",
                               U_LEAVE),
                        "100 2027-01-10 2027-01-20");
    BADT("leave", NULL, KV("employment_id", id, "from_date", "2027-02-10", "to_date", "2027-02-09"),
         "to_date", "before from_date");
    /* Overlaps, including touching on one day, inside and around. */
    BADT("leave", NULL, KV("employment_id", id, "from_date", "2027-01-15", "to_date", "2027-01-25"),
         "from_date", "overlaps");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-20", "to_date", "2027-01-22"),
        "from_date");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-01", "to_date", "2027-01-10"),
        "from_date");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-12", "to_date", "2027-01-13"),
        "from_date");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-01-01", "to_date", "2027-02-01"),
        "from_date");
    /* A partial leave overlapping is still an overlap. */
    BAD("leave", NULL,
        KV("employment_id", id, "from_date", "2027-01-15", "to_date", "2027-01-16", "extent_pct",
           "50"),
        "from_date");
    BAD("leave", NULL, KV("employment_id", id, "from_date", "2027-03-01"), "to_date");
    BAD("leave", NULL,
        KV("employment_id", id, "from_date", "2027-03-01", "to_date", "2027-03-02", "extent_pct",
           "0"),
        "extent_pct");
    BAD("leave", NULL, KV("employment_id", "E-NOPE", "from_date", "2027-03-01", "to_date", "2027-03-02"),
        "employment_id");
    char before[11];
    q_text(before, sizeof before, "SELECT date(?1, '-1 day')", M[2].start);
    BAD("leave", NULL, KV("employment_id", id, "from_date", before, "to_date", "2027-03-02"),
        "from_date");
    /* The whole leave is within the employment: it does not run past its end date. */
    BADT("leave", NULL,
         KV("employment_id", ENDED.id, "from_date", ENDED.end, "to_date", ended_after),
         "to_date", "after the employment ends");
    GOOD("leave", NULL, KV("employment_id", ENDED.id, "from_date", ENDED.end, "to_date", ENDED.end),
         NULL);
    /* Adjacent leaves, a one-day leave, a partial leave; another employment the same days. */
    GOOD("leave", NULL,
         KV("employment_id", id, "from_date", "2027-01-21", "to_date", "2027-01-31", "extent_pct",
            "50"),
         NULL);
    GOOD("leave", NULL, KV("employment_id", id, "from_date", "2027-02-05", "to_date", "2027-02-05"),
         NULL);
    GOOD("leave", NULL, KV("employment_id", M[3].id, "from_date", "2027-01-10", "to_date", "2027-01-20"),
         NULL);
}

/* --- one-off payment or deduction -------------------------------------------------------- */

static void test_one_off(void **state)
{
    (void)state;
    use("reg");
    const char *id = M[3].id;
    char uuid[37], buf[64], today[11];
    GOOD("one_off", NULL,
         KV("employment_id", id, "amount_ore", "150000", "pay_code", "BONUS", "reason",
            "Jubileumsgåva, 25 år", "period", "2026-12"),
         uuid);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT effective_date FROM registrations WHERE uuid=?1", uuid),
                        "2026-12-01");
    today_iso(today);
    GOOD("one_off", NULL,
         KV("employment_id", id, "amount_ore", "-50000", "pay_code", "AVDRAG", "reason",
            "Förskott"),
         U_ONEOFF_NEG);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT effective_date FROM registrations WHERE uuid=?1",
                               U_ONEOFF_NEG),
                        today);
    assert_int_equal(q_int("SELECT json_extract(fields, '$.amount_ore') FROM registrations"
                           " WHERE uuid=?1",
                           U_ONEOFF_NEG),
                     -50000);
    const char *const *b =
        KV("employment_id", id, "amount_ore", "1000", "pay_code", "OB", "reason", "Test");
    const char *bk[16];
    size_t n = 0;
    for (; b[n]; n++)
        bk[n] = b[n];
    bk[n] = NULL;
    BADT("one_off", NULL, kv_with(bk, KV("amount_ore", "0")), "amount_ore", "zero");
    BAD("one_off", NULL, kv_with(bk, KV("amount_ore", "-0")), "amount_ore");
    BAD("one_off", NULL, kv_with(bk, KV("amount_ore", "12.5")), "amount_ore");
    BAD("one_off", NULL, kv_with(bk, KV("amount_ore", "1000000000001")), "amount_ore");
    BAD("one_off", NULL, kv_with(bk, KV("amount_ore", "-1000000000001")), "amount_ore");
    BAD("one_off", NULL, kv_with(bk, KV("amount_ore", NULL)), "amount_ore");
    BAD("one_off", NULL, kv_with(bk, KV("pay_code", NULL)), "pay_code");
    BAD("one_off", NULL, kv_with(bk, KV("pay_code", "bad code!")), "pay_code");
    BAD("one_off", NULL, kv_with(bk, KV("reason", NULL)), "reason");
    BAD("one_off", NULL, kv_with(bk, KV("period", "2026-13")), "period");
    BAD("one_off", NULL, kv_with(bk, KV("period", "2026-12-01")), "period");
    BAD("one_off", NULL, kv_with(bk, KV("employment_id", "E-NOPE")), "employment_id");
    BAD("one_off", NULL, kv_with(bk, KV("employment_id", NULL)), "employment_id");
    GOOD("one_off", NULL, bk, NULL);
}

/* --- duplicates -------------------------------------------------------------------------- */

static void test_duplicates(void **state)
{
    (void)state;
    use("reg");
    char first[37];
    GOOD("salary_change", NULL,
         KV("employment_id", M[4].id, "from_date", "2027-02-01", "monthly_salary_ore", "5000000"),
         first);
    /* The same content again: reported with the first UUID, not stored. */
    BADT("salary_change", NULL,
         KV("employment_id", M[4].id, "from_date", "2027-02-01", "monthly_salary_ore", "5000000"),
         NULL, first);
    assert_non_null(strstr(rep, "duplicate"));
    /* ... also when written differently but the same after normalisation, and in another
     * field order. */
    BADT("salary_change", NULL,
         KV("monthly_salary_ore", "05000000", "from_date", "2027-02-01", "employment_id", M[4].id),
         NULL, first);
    char f10[12];
    GOOD("bank_change", NULL,
         KV("personnummer", M[4].pnr, "from_date", "2027-02-01", "iban", IBAN_OK), first);
    short_form(f10, M[4].pnr, '-');
    BADT("bank_change", NULL,
         KV("personnummer", f10, "from_date", "2027-02-01", "iban", "se4550000000058398257466"),
         NULL, first);
    /* A different date is a different document. */
    GOOD("salary_change", NULL,
         KV("employment_id", M[4].id, "from_date", "2027-03-01", "monthly_salary_ore", "5000000"),
         NULL);
    /* Two identical hires without an employment id are one document registered twice (the
     * generated id must not make them differ). */
    const char *const *hire =
        KV("personnummer", P_DUP, "given_name", "Dubbel", "family_name", "Dokumentsson",
           "org_unit_id", org, "start_date", "2026-12-01", "pay_type", "monthly",
           "monthly_salary_ore", "2900000", "extent_pct", "100", "tax_table", "33", "tax_column",
           "1");
    GOOD("hire", NULL, hire, first);
    BADT("hire", NULL, hire, NULL, "duplicate");
}

/* --- corrections ------------------------------------------------------------------------- */

static void test_corrections(void **state)
{
    (void)state;
    use("reg");
    char l2[37], h2[37];
    char *t2 = U_TERM1C;
    const char *lid = M[2].id;
    BADT("leave", NO_UUID, KV("employment_id", lid, "from_date", "2027-06-01", "to_date", "2027-06-02"),
         "corrects", "no live registration");
    BADT("leave", "not-a-uuid",
         KV("employment_id", lid, "from_date", "2027-06-01", "to_date", "2027-06-02"), "corrects",
         "UUID");
    BADT("salary_change", U_LEAVE,
         KV("employment_id", lid, "from_date", "2027-06-01", "monthly_salary_ore", "3000000"),
         "corrects", "same type");
    /* A correction of a leave may overlap the leave it corrects (it replaces it) ... */
    GOOD("leave", U_LEAVE, KV("employment_id", lid, "from_date", "2027-01-08", "to_date", "2027-01-19"),
         l2);
    char buf[64];
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT corrects FROM registrations WHERE uuid=?1", l2),
                        U_LEAVE);
    assert_int_equal(q_int("SELECT count(*) FROM audit WHERE action='registration.add' AND"
                           " detail LIKE '%correcting ' || ?1",
                           U_LEAVE),
                     1);
    /* A document is corrected once; correct the correction instead ... */
    BADT("leave", U_LEAVE,
         KV("employment_id", lid, "from_date", "2027-01-09", "to_date", "2027-01-18"), "corrects",
         "already corrected");
    /* ... which may not overlap another leave (2027-01-21..31) ... */
    BADT("leave", l2, KV("employment_id", lid, "from_date", "2027-01-09", "to_date", "2027-01-25"),
         "from_date", "overlaps leave 2027-01-21..2027-01-31");
    /* ... but may overlap the leaves it replaces. */
    GOOD("leave", l2, KV("employment_id", lid, "from_date", "2027-01-09", "to_date", "2027-01-18"),
         NULL);
    /* A correction of a termination replaces it: it is not "already terminated". */
    GOOD("termination", U_TERM,
         KV("employment_id", M[1].id, "last_day", "2027-01-15", "reason", "resignation"), t2);
    /* ... and a new termination beside it still is. */
    BADT("termination", NULL,
         KV("employment_id", M[1].id, "last_day", "2027-01-20", "reason", "resignation"),
         "employment_id", "already terminated");
    /* The corrected last day is the one that counts for later documents ... */
    GOOD("salary_change", NULL,
         KV("employment_id", M[1].id, "from_date", "2027-01-10", "monthly_salary_ore", "3500000"),
         NULL);
    BADT("salary_change", NULL,
         KV("employment_id", M[1].id, "from_date", "2027-01-16", "monthly_salary_ore", "3500000"),
         "from_date", "last day 2027-01-15");
    /* ... also for the end of a leave. */
    BADT("leave", NULL, KV("employment_id", M[1].id, "from_date", "2027-01-10", "to_date", "2027-01-20"),
         "to_date", "last day 2027-01-15");
    GOOD("leave", NULL, KV("employment_id", M[1].id, "from_date", "2027-01-10", "to_date", "2027-01-15"),
         NULL);
    /* A correction of the correction. */
    GOOD("termination", t2,
         KV("employment_id", M[1].id, "last_day", "2027-01-31", "reason", "resignation"),
         U_TERM2);
    /* A leave that overlapped only the replaced leaves (01-10..01-20, 01-08..01-19) but not
     * their latest correction (01-09..01-18) is fine. */
    GOOD("leave", NULL, KV("employment_id", lid, "from_date", "2027-01-19", "to_date", "2027-01-20"),
         NULL);
    BAD("leave", NULL, KV("employment_id", lid, "from_date", "2027-01-18", "to_date", "2027-01-18"),
        "from_date");
    /* A correction of a hire keeps its employment id (the id is not "already" taken by the
     * very hire being corrected). */
    GOOD("hire", U_HIRE_KNOWN,
         KV("personnummer", M[5].pnr, "employment_id", "T-HIRE-1", "org_unit_id", org,
            "start_date", "2026-12-01", "pay_type", "monthly", "monthly_salary_ore", "3250000",
            "extent_pct", "100", "tax_table", "33", "tax_column", "1"),
         h2);
    /* The employment is still known, now from the correction. */
    GOOD("salary_change", NULL,
         KV("employment_id", "T-HIRE-1", "from_date", "2027-01-01", "monthly_salary_ore",
            "3400000"),
         NULL);
    /* A correction of a new person's hire stands on its own: the names are needed again. */
    BADT("hire", U_HIRE_P12,
         KV("personnummer", P_12, "org_unit_id", org, "start_date", "2026-12-02", "pay_type",
            "monthly", "monthly_salary_ore", "3000000", "extent_pct", "100", "tax_table", "30",
            "tax_column", "1"),
         "given_name", "not in the snapshot");
    GOOD("hire", U_HIRE_P12,
         KV("personnummer", P_12, "given_name", "Emil", "family_name", "Tolvsiffra",
            "org_unit_id", org, "start_date", "2026-12-02", "pay_type", "monthly",
            "monthly_salary_ore", "3000000", "extent_pct", "100", "tax_table", "30",
            "tax_column", "1"),
         NULL);
    /* ... but another hire still may not take it. */
    BADT("hire", NULL,
         KV("personnummer", M[5].pnr, "employment_id", "T-HIRE-1", "org_unit_id", org,
            "start_date", "2027-01-01", "pay_type", "monthly", "monthly_salary_ore", "3250000",
            "extent_pct", "100", "tax_table", "33", "tax_column", "1"),
         "employment_id", "already exists");
    /* A correction identical to what it corrects is a duplicate, not a correction. */
    BADT("termination", U_TERM2,
         KV("employment_id", M[1].id, "last_day", "2027-01-31", "reason", "resignation"), NULL,
         "duplicate");
    assert_null(strstr(rep, "field "));
}

static void test_registrar_cannot_decide(void **state)
{
    (void)state;
    use("reg");
    long long a0 = n_audit();
    assert_int_equal(registry_approve(V, U_SAL_M0), RL_EAUTH);
    assert_non_null(strstr(err_msg(), "approv"));
    assert_int_equal(registry_reject(V, U_SAL_M0, "no"), RL_EAUTH);
    char buf[32];
    assert_string_equal(q_text(buf, sizeof buf, "SELECT status FROM registrations WHERE uuid=?1",
                               U_SAL_M0),
                        "registered");
    assert_int_equal(n_audit(), a0);
}

/* --- protected identity: documents for the listing tests --------------------------------- */

static void test_protected_documents(void **state)
{
    (void)state;
    use("reg");
    /* A snapshot person with protected identity, and the protected person hired above. */
    GOOD("extent_change", NULL,
         KV("employment_id", PROT.id, "from_date", PROT.start, "extent_pct", "75"), U_PROT_EXT);
    GOOD("salary_change", NULL,
         KV("employment_id", "T-PROT-1", "from_date", "2027-01-01", "monthly_salary_ore",
            "3200000"),
         U_PROT_SAL);
    GOOD("bank_change", NULL,
         KV("personnummer", P_PROT, "from_date", "2027-01-01", "iban", IBAN_OK), NULL);
    /* A snapshot person without protection whom a new hire marks as protected: from then
     * on every listing of them is masked. */
    GOOD("hire", NULL,
         KV("personnummer", M[9].pnr, "protected_identity", "1", "employment_id", "T-PROT-2",
            "org_unit_id", org, "start_date", "2026-12-01", "pay_type", "hourly",
            "hourly_rate_ore", "21000", "extent_pct", "25", "tax_fixed_pct", "30"),
         NULL);
}

/* --- batches ----------------------------------------------------------------------------- */

static void test_batch_jsonl_good(void **state)
{
    (void)state;
    use("reg");
    char text[4096];
    /* A hire and, on later lines, documents for its employment; numbers as JSON numbers,
     * a blank line and a CRLF line end. */
    snprintf(text, sizeof text,
             "{\"type\":\"hire\",\"personnummer\":\"%s\",\"given_name\":\"Batch\","
             "\"family_name\":\"Ettan\",\"employment_id\":\"B-1\",\"org_unit_id\":\"%s\","
             "\"start_date\":\"2026-12-01\",\"pay_type\":\"monthly\","
             "\"monthly_salary_ore\":3000000,\"extent_pct\":100,\"tax_table\":33,"
             "\"tax_column\":1}\n"
             "\n"
             "{\"type\":\"salary_change\",\"employment_id\":\"B-1\",\"from_date\":\"2027-01-01\","
             "\"monthly_salary_ore\":3100000}\r\n"
             "{\"type\":\"leave\",\"employment_id\":\"B-1\",\"from_date\":\"2027-02-01\","
             "\"to_date\":\"2027-02-03\",\"extent_pct\":\"50\"}\n"
             "{\"type\":\"one_off\",\"employment_id\":\"B-1\",\"amount_ore\":-2500,"
             "\"pay_code\":\"AVDRAG\",\"reason\":\"Personalfest\"}\n"
             "{\"type\":\"salary_change\",\"corrects\":\"%s\",\"employment_id\":\"%s\","
             "\"from_date\":\"2026-12-01\",\"hourly_rate_ore\":25500}",
             P_B1, org, U_SAL_H, H.id);
    long long r0 = n_regs(), a0 = n_audit();
    size_t count = 0;
    int rc = batch("good.jsonl", text, &count);
    if (rc != RL_OK)
        fail_msg("batch refused: %s\n%s", err_msg(), rep);
    assert_int_equal(count, 5);
    assert_int_equal(rep_len, 0);
    assert_int_equal(n_regs(), r0 + 5);
    assert_int_equal(n_audit(), a0 + 6); /* five registration.add and one registration.batch */
    assert_int_equal(n_audit_action("registration.batch"), 1);
    assert_int_equal(q_int("SELECT count(*) FROM registrations WHERE employment_id = 'B-1'",
                           NULL),
                     4);
    assert_int_equal(q_int("SELECT json_extract(fields,'$.amount_ore') FROM registrations"
                           " WHERE employment_id = 'B-1' AND type = 'one_off'",
                           NULL),
                     -2500);
    /* The same batch again: every line is a duplicate, nothing is stored. */
    rc = batch("good.jsonl", text, &count);
    assert_int_equal(rc, RL_EDATA);
    assert_int_equal(count, 0);
    assert_non_null(strstr(rep, "good.jsonl line 1"));
    assert_non_null(strstr(rep, "good.jsonl line 6"));
    assert_int_equal(n_regs(), r0 + 5);
}

static void test_batch_csv_good(void **state)
{
    (void)state;
    use("reg");
    char text[2048];
    const char *id = M[6].id;
    snprintf(text, sizeof text,
             "type,employment_id,from_date,extent_pct,monthly_salary_ore,amount_ore,pay_code,"
             "reason,corrects\r\n"
             "extent_change,%s,2027-03-01,75,,,,,\r\n"
             "salary_change,%s,2027-03-01,,3900000,,,,\r\n"
             "one_off,%s,,,,125000,RETRO,\"Retroaktiv lön, oktober \"\"2026\"\"\",\r\n"
             "extent_change,%s,2027-01-01,90,,,,,%s\r\n",
             id, id, id, M[0].id, U_EXT_M0);
    long long r0 = n_regs(), a0 = n_audit();
    size_t count = 0;
    int rc = batch("good.csv", text, &count);
    if (rc != RL_OK)
        fail_msg("batch refused: %s\n%s", err_msg(), rep);
    assert_int_equal(count, 4);
    assert_int_equal(n_regs(), r0 + 4);
    assert_int_equal(n_audit(), a0 + 5);
    char buf[128];
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT json_extract(fields, '$.reason') FROM registrations"
                               " WHERE employment_id = ?1 AND type = 'one_off'",
                               id),
                        "Retroaktiv lön, oktober \"2026\"");
    assert_int_equal(q_int("SELECT count(*) FROM registrations WHERE corrects = ?1", U_EXT_M0),
                     1);
}

static void test_batch_all_or_nothing(void **state)
{
    (void)state;
    use("reg");
    char text[4096];
    long long r0 = n_regs(), a0 = n_audit();
    size_t count = 99;
    /* Line 3 has salary 0 and line 5 an unknown employment; the good lines (a hire and
     * documents for it) are not stored either. */
    snprintf(text, sizeof text,
             "{\"type\":\"hire\",\"personnummer\":\"%s\",\"given_name\":\"Batch\","
             "\"family_name\":\"Tvåan\",\"employment_id\":\"B-2\",\"org_unit_id\":\"%s\","
             "\"start_date\":\"2026-12-01\",\"pay_type\":\"monthly\","
             "\"monthly_salary_ore\":\"3000000\",\"extent_pct\":\"100\",\"tax_table\":\"33\","
             "\"tax_column\":\"1\"}\n"
             "{\"type\":\"salary_change\",\"employment_id\":\"B-2\",\"from_date\":\"2027-01-01\","
             "\"monthly_salary_ore\":3100000}\n"
             "{\"type\":\"salary_change\",\"employment_id\":\"B-2\",\"from_date\":\"2027-02-01\","
             "\"monthly_salary_ore\":0}\n"
             "{\"type\":\"one_off\",\"employment_id\":\"B-2\",\"amount_ore\":500,"
             "\"pay_code\":\"X\",\"reason\":\"r\"}\n"
             "{\"type\":\"one_off\",\"employment_id\":\"B-NOPE\",\"amount_ore\":500,"
             "\"pay_code\":\"X\",\"reason\":\"r\"}\n",
             P_B2, org);
    int rc = batch("mixed.jsonl", text, &count);
    assert_int_equal(rc, RL_EDATA);
    assert_int_equal(count, 0);
    assert_non_null(strstr(rep, "mixed.jsonl line 3 field monthly_salary_ore: "));
    assert_non_null(strstr(rep, "mixed.jsonl line 5 field employment_id: "));
    assert_null(strstr(rep, "line 1 "));
    assert_null(strstr(rep, "line 2 "));
    assert_null(strstr(rep, "line 4 "));
    if (strstr(err_msg(), "2 problems") == NULL)
        fail_msg("%s\n%s", err_msg(), rep);
    assert_non_null(strstr(err_msg(), "nothing was registered"));
    assert_int_equal(n_regs(), r0);
    assert_int_equal(n_audit(), a0);
    assert_int_equal(q_int("SELECT count(*) FROM registrations WHERE employment_id = 'B-2'"
                           " OR pnr = ?1",
                           P_B2),
                     0);
    /* Without the hire the later lines have no employment to refer to. */
    char *nl = strchr(text, '\n');
    rc = batch("nohire.jsonl", nl + 1, &count);
    assert_int_equal(rc, RL_EDATA);
    assert_non_null(strstr(rep, "nohire.jsonl line 1 field employment_id: "));
    /* CSV: the bad line is named by its line in the file (the header is line 1). */
    snprintf(text, sizeof text,
             "type,employment_id,last_day,reason\n"
             "termination,%s,2027-06-30,retirement\n"
             "termination,%s,2027-06-31,retirement\n",
             M[8].id, M[9].id);
    rc = batch("terms.csv", text, &count);
    assert_int_equal(rc, RL_EDATA);
    assert_non_null(strstr(rep, "terms.csv line 3 field last_day: "));
    assert_int_equal(n_regs(), r0);
    assert_int_equal(n_audit(), a0);
    /* A duplicate inside one batch is reported on its line. */
    snprintf(text, sizeof text,
             "type,employment_id,last_day,reason\n"
             "termination,%s,2027-06-30,retirement\n"
             "termination,%s,2027-06-30,retirement\n",
             M[8].id, M[8].id);
    rc = batch("twice.csv", text, &count);
    assert_int_equal(rc, RL_EDATA);
    assert_non_null(strstr(rep, "twice.csv line 3"));
    assert_non_null(strstr(rep, "duplicate"));
    assert_int_equal(n_regs(), r0);
}

static void test_batch_malformed(void **state)
{
    (void)state;
    use("reg");
    long long r0 = n_regs(), a0 = n_audit();
    size_t count = 0;
    char text[2048], good[512];
    snprintf(good, sizeof good,
             "{\"type\":\"one_off\",\"employment_id\":\"%s\",\"amount_ore\":777,"
             "\"pay_code\":\"X\",\"reason\":\"malformed test\"}",
             M[3].id);
    snprintf(text, sizeof text, "%s\n{\"type\":\"leave\",\n", good);
    assert_int_equal(batch("broken.jsonl", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "broken.jsonl line 2"));
    snprintf(text, sizeof text, "%s\n[1,2]\n", good);
    assert_int_equal(batch("array.jsonl", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "array.jsonl line 2"));
    snprintf(text, sizeof text,
             "%s\n{\"type\":\"one_off\",\"employment_id\":\"%s\",\"amount_ore\":{\"x\":1},"
             "\"pay_code\":\"X\",\"reason\":\"r\"}\n",
             good, M[3].id);
    assert_int_equal(batch("nested.jsonl", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "nested.jsonl line 2 field amount_ore: "));
    snprintf(text, sizeof text, "%s\n{\"employment_id\":\"%s\"}\n", good, M[3].id);
    assert_int_equal(batch("notype.jsonl", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "notype.jsonl line 2 field type: "));
    snprintf(text, sizeof text,
             "%s\n{\"type\":\"one_off\",\"type\":\"leave\",\"employment_id\":\"%s\"}\n", good,
             M[3].id);
    assert_int_equal(batch("dupkey.jsonl", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "dupkey.jsonl line 2"));
    snprintf(text, sizeof text, "%s\n{\"type\":\"one_off\",\"reason\":\"\xff\"}\n", good);
    assert_int_equal(batch("utf8.jsonl", text, &count), RL_EDATA);
    /* CSV with a wrong number of columns on line 3. */
    snprintf(text, sizeof text,
             "type,employment_id,amount_ore,pay_code,reason\n"
             "one_off,%s,777,X,malformed test\n"
             "one_off,%s,778,X\n",
             M[3].id, M[3].id);
    assert_int_equal(batch("short.csv", text, &count), RL_EDATA);
    assert_non_null(strstr(rep, "short.csv line 3"));
    assert_non_null(strstr(rep, "fields"));
    /* An unterminated quote, a first column other than type, an empty file. */
    snprintf(text, sizeof text,
             "type,employment_id,amount_ore,pay_code,reason\n"
             "one_off,%s,777,X,\"malformed test\n",
             M[3].id);
    assert_int_equal(batch("quote.csv", text, &count), RL_EDATA);
    assert_int_equal(batch("notype.csv", "employment_id,type\nE1,leave\n", &count), RL_EDATA);
    assert_int_equal(batch("empty.csv", "", &count), RL_EDATA);
    assert_int_equal(batch("header.csv", "type,employment_id\n", &count), RL_EDATA);
    assert_int_equal(count, 0);
    free(rep);
    rep = NULL;
    char missing[400];
    snprintf(missing, sizeof missing, "%s/no-such-batch.jsonl", base);
    assert_true(registry_batch(V, missing, NULL, &count) < 0);
    assert_int_equal(n_regs(), r0);
    assert_int_equal(n_audit(), a0);
}

/* --- approval ---------------------------------------------------------------------------- */

static void test_approval(void **state)
{
    (void)state;
    use("appr1");
    char buf[128];
    long long a0 = n_audit();
    assert_int_equal(registry_approve(V, U_SAL_M0), RL_OK);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT status || ' ' || decided_by || ' ' || (decided_at IS NOT"
                               " NULL) FROM registrations WHERE uuid = ?1",
                               U_SAL_M0),
                        "approved appr1 1");
    assert_int_equal(n_audit(), a0 + 1);
    q_text(buf, sizeof buf, "SELECT action || ' ' || operator FROM audit ORDER BY seq DESC LIMIT 1",
           NULL);
    assert_string_equal(buf, "registration.approve appr1");
    /* Decided once. */
    assert_int_equal(registry_approve(V, U_SAL_M0), RL_EDATA);
    assert_non_null(strstr(err_msg(), "already approved"));
    assert_int_equal(registry_reject(V, U_SAL_M0, "changed my mind"), RL_EDATA);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT status FROM registrations WHERE uuid=?1",
                               U_SAL_M0),
                        "approved");
    /* Unknown UUIDs. */
    assert_int_equal(registry_approve(V, NO_UUID), RL_EDATA);
    assert_int_equal(registry_reject(V, NO_UUID, "why"), RL_EDATA);
    /* A rejection needs a reason. */
    assert_int_equal(registry_reject(V, U_ONEOFF_NEG, NULL), RL_EUSAGE);
    assert_int_equal(registry_reject(V, U_ONEOFF_NEG, ""), RL_EUSAGE);
    assert_int_equal(registry_reject(V, U_ONEOFF_NEG, "bad\nreason"), RL_EUSAGE);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT status FROM registrations WHERE uuid=?1",
                               U_ONEOFF_NEG),
                        "registered");
    assert_int_equal(n_audit(), a0 + 1);
    assert_int_equal(registry_reject(V, U_ONEOFF_NEG, "Fel belopp"), RL_OK);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT status || ' ' || decided_by || ' ' || decision_reason FROM"
                               " registrations WHERE uuid = ?1",
                               U_ONEOFF_NEG),
                        "rejected appr1 Fel belopp");
    assert_int_equal(n_audit_action("registration.reject"), 1);
    assert_int_equal(registry_approve(V, U_ONEOFF_NEG), RL_EDATA);
    /* A rejected document cannot be corrected; the same content may be registered anew
     * (a rejected document is not a duplicate). */
    BADT("one_off", U_ONEOFF_NEG,
         KV("employment_id", M[3].id, "amount_ore", "-40000", "pay_code", "AVDRAG", "reason",
            "Förskott"),
         "corrects", "rejected");
    GOOD("one_off", NULL,
         KV("employment_id", M[3].id, "amount_ore", "-50000", "pay_code", "AVDRAG", "reason",
            "Förskott"),
         NULL);
    /* Approve the documents the show test relies on. */
    assert_int_equal(registry_approve(V, U_EXT_M0), RL_OK);
    assert_int_equal(registry_approve(V, U_HIRE_PROT), RL_OK);
    assert_int_equal(registry_approve(V, U_PROT_EXT), RL_OK);
    assert_int_equal(registry_approve(V, U_TERM), RL_OK);
    assert_int_equal(registry_approve(V, U_TERM1C), RL_OK);
    assert_int_equal(registry_approve(V, U_TERM2), RL_OK);
    /* An approver may register, but not approve their own document. */
    char own[37];
    GOOD("extent_change", NULL,
         KV("employment_id", M[8].id, "from_date", "2027-01-01", "extent_pct", "60"), own);
    long long a1 = n_audit();
    assert_int_equal(registry_approve(V, own), RL_EAUTH);
    assert_non_null(strstr(err_msg(), "different approver"));
    assert_int_equal(registry_reject(V, own, "my own"), RL_EAUTH);
    assert_string_equal(q_text(buf, sizeof buf, "SELECT status FROM registrations WHERE uuid=?1",
                               own),
                        "registered");
    assert_int_equal(n_audit(), a1);
    /* Hand it to the other approver. */
    use("appr2");
    assert_int_equal(registry_approve(V, own), RL_OK);
    assert_string_equal(q_text(buf, sizeof buf,
                               "SELECT status || ' ' || decided_by FROM registrations WHERE"
                               " uuid = ?1",
                               own),
                        "approved appr2");
}

/* --- listing and showing ----------------------------------------------------------------- */

static void assert_no_protected(const char *out, const char *what)
{
    char f13[14];
    const char *secret[] = {PROT.pnr, P_PROT, "Hemligna", "Skyddadottir", NULL, NULL, NULL};
    snprintf(f13, sizeof f13, "%.8s-%.4s", PROT.pnr, PROT.pnr + 8);
    secret[4] = f13;
    char full[260];
    snprintf(full, sizeof full, "%s %s", prot_given, prot_family);
    secret[5] = full;
    for (size_t i = 0; secret[i]; i++)
        if (strstr(out, secret[i]))
            fail_msg("%s shows protected data '%s':\n%s", what, secret[i], out);
    char p13[14];
    snprintf(p13, sizeof p13, "%.8s-%.4s", P_PROT, P_PROT + 8);
    if (strstr(out, p13))
        fail_msg("%s shows protected data '%s':\n%s", what, p13, out);
}

static void test_list(void **state)
{
    (void)state;
    use("appr2");
    const char *statuses[] = {NULL, "registered", "approved", "rejected"};
    for (size_t s = 0; s < 4; s++)
        for (int json = 0; json <= 1; json++) {
            char *out = capture_list(statuses[s], NULL, json);
            assert_no_protected(out, "register list");
            if (json)
                assert_json(out);
            free(out);
        }
    /* Text: one line per registration plus the header; the protected are marked. */
    char *out = capture_list(NULL, NULL, 0);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal((long long)lines, n_regs() + 1);
    char masked[16];
    snprintf(masked, sizeof masked, "%.8s-****", PROT.pnr);
    assert_non_null(strstr(out, masked));
    snprintf(masked, sizeof masked, "%.8s-****", P_PROT);
    assert_non_null(strstr(out, masked));
    assert_non_null(strstr(out, U_SAL_M0));
    free(out);
    /* Filters: status; employee in any usual form. */
    out = capture_list("rejected", NULL, 0);
    assert_non_null(strstr(out, U_ONEOFF_NEG));
    assert_null(strstr(out, U_SAL_M0));
    free(out);
    char f10[12];
    short_form(f10, M[0].pnr, '-');
    out = capture_list(NULL, f10, 1);
    assert_json(out);
    assert_non_null(strstr(out, U_SAL_M0));
    assert_null(strstr(out, U_LEAVE));
    free(out);
    out = capture_list(NULL, PROT.pnr, 1);
    assert_no_protected(out, "register list --employee");
    assert_non_null(strstr(out, U_PROT_EXT));
    free(out);
    char m9[14];
    snprintf(m9, sizeof m9, "%.8s-%.4s", M[9].pnr, M[9].pnr + 8);
    for (int json = 0; json <= 1; json++) {
        out = capture_list(NULL, M[9].pnr, json);
        if (strstr(out, m9) || strstr(out, M[9].pnr))
            fail_msg("a person protected by a hire is listed unmasked:\n%s", out);
        assert_non_null(strstr(out, "T-PROT-2"));
        free(out);
    }
    out = capture_list(NULL, P_PROT, 1);
    assert_no_protected(out, "register list --employee --json");
    assert_non_null(strstr(out, "\"protected_identity\":true"));
    assert_null(strstr(out, "\"protected_identity\":false"));
    free(out);
    out = capture_list(NULL, P_PROT, 0);
    assert_no_protected(out, "register list --employee");
    assert_non_null(strstr(out, U_HIRE_PROT));
    assert_non_null(strstr(out, U_PROT_SAL));
    free(out);
    /* Bad arguments. */
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    assert_int_equal(registry_list(V, "bogus", NULL, 0, null), RL_EUSAGE);
    assert_int_equal(registry_list(V, NULL, "19850312-0000", 0, null), RL_EDATA);
    fclose(null);
}

static void test_employee_show(void **state)
{
    (void)state;
    use("appr2");
    char *out = NULL;
    /* An unprotected person: name shown, the approved salary change applied, the pending
     * tax changes not, history listed; no audit entry. */
    long long a0 = n_audit();
    assert_int_equal(capture_show(M[0].pnr, 0, 0, &out), RL_OK);
    char given[128], family[128];
    q_text(given, sizeof given, "SELECT given_name FROM employees WHERE pnr=?1", M[0].pnr);
    q_text(family, sizeof family, "SELECT family_name FROM employees WHERE pnr=?1", M[0].pnr);
    assert_non_null(strstr(out, given));
    assert_non_null(strstr(out, family));
    assert_non_null(strstr(out, "41000.00 SEK"));
    assert_non_null(strstr(out, "extent 80 %"));
    assert_non_null(strstr(out, U_SAL_M0));
    assert_non_null(strstr(out, "history"));
    free(out);
    assert_int_equal(capture_show(M[0].pnr, 1, 0, &out), RL_OK);
    assert_json(out);
    assert_non_null(strstr(out, "\"monthly_salary_ore\":4100000"));
    free(out);
    assert_int_equal(n_audit(), a0);
    /* A termination corrected twice: the last correction's day counts. */
    assert_int_equal(capture_show(M[1].pnr, 0, 0, &out), RL_OK);
    assert_non_null(strstr(out, "to 2027-01-31"));
    assert_non_null(strstr(out, U_TERM));
    free(out);
    assert_int_equal(capture_show(M[1].pnr, 1, 0, &out), RL_OK);
    assert_json(out);
    assert_non_null(strstr(out, "\"end_date\":\"2027-01-31\""));
    free(out);

    /* A protected snapshot person: masked and audited (text and JSON) ... */
    for (int json = 0; json <= 1; json++) {
        long long v0 = n_audit_action("employee.view");
        assert_int_equal(capture_show(PROT.pnr, json, 0, &out), RL_OK);
        if (strstr(out, prot_given) || strstr(out, prot_family))
            fail_msg("employee show prints a protected name:\n%s", out);
        assert_non_null(strstr(out, "skyddad identitet"));
        if (json)
            assert_json(out);
        assert_int_equal(n_audit_action("employee.view"), v0 + 1);
        free(out);
    }
    /* ... revealed on request, and that is audited too. */
    long long r0 = n_audit_action("employee.reveal");
    assert_int_equal(capture_show(PROT.pnr, 0, 1, &out), RL_OK);
    assert_non_null(strstr(out, prot_given));
    assert_non_null(strstr(out, prot_family));
    free(out);
    assert_int_equal(n_audit_action("employee.reveal"), r0 + 1);
    char buf[128];
    q_text(buf, sizeof buf, "SELECT operator || ' ' || detail FROM audit ORDER BY seq DESC LIMIT 1",
           NULL);
    assert_non_null(strstr(buf, "appr2 revealed"));
    assert_null(strstr(buf, PROT.pnr)); /* the audit log does not hold the whole number */

    /* A snapshot person whom a hire marks as protected: masked and audited too. */
    char m9given[128], m9family[128];
    q_text(m9given, sizeof m9given, "SELECT given_name FROM employees WHERE pnr = ?1", M[9].pnr);
    q_text(m9family, sizeof m9family, "SELECT family_name FROM employees WHERE pnr = ?1",
           M[9].pnr);
    long long w0 = n_audit_action("employee.view");
    assert_int_equal(capture_show(M[9].pnr, 0, 0, &out), RL_OK);
    if (strstr(out, m9given) || strstr(out, m9family))
        fail_msg("employee show prints the name of a person a hire protects:\n%s", out);
    free(out);
    assert_int_equal(n_audit_action("employee.view"), w0 + 1);

    /* A protected person created by a hire: the same. */
    long long v0 = n_audit_action("employee.view");
    assert_int_equal(capture_show(P_PROT, 0, 0, &out), RL_OK);
    if (strstr(out, "Hemligna") || strstr(out, "Skyddadottir"))
        fail_msg("employee show prints a protected name:\n%s", out);
    assert_non_null(strstr(out, "T-PROT-1"));
    free(out);
    assert_int_equal(n_audit_action("employee.view"), v0 + 1);
    assert_int_equal(capture_show(P_PROT, 1, 1, &out), RL_OK);
    assert_non_null(strstr(out, "Hemligna"));
    assert_json(out);
    free(out);

    /* The person's only hire with names rejected: the other hire still shows the person,
     * without printing "(null)" for the names. */
    use("appr1");
    assert_int_equal(registry_reject(V, U_HIRE_NAMED, "fel person"), RL_OK);
    assert_int_equal(capture_show(P_TWO, 0, 0, &out), RL_OK);
    if (strstr(out, "(null)"))
        fail_msg("employee show prints (null):\n%s", out);
    free(out);
    assert_int_equal(capture_show(P_TWO, 1, 0, &out), RL_OK);
    assert_json(out);
    free(out);

    /* A person known only from a registered (unapproved) hire; unknown people. */
    assert_int_equal(capture_show(P_NEW, 0, 0, &out), RL_OK);
    assert_non_null(strstr(out, "Qvarnbeck"));
    free(out);
    assert_int_equal(capture_show(P_UNK, 0, 0, &out), RL_EDATA);
    free(out);
    assert_int_equal(capture_show("19850312-0000", 0, 0, &out), RL_EDATA);
    free(out);
}

/* --- a crash in the middle of a batch ---------------------------------------------------- */

static void test_crash_during_batch(void **state)
{
    (void)state;
    use("reg");
    enum { LINES = 4000 };
    char path[400];
    snprintf(path, sizeof path, "%s/crash.jsonl", base);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < LINES; i++)
        fprintf(f,
                "{\"type\":\"one_off\",\"employment_id\":\"%s\",\"amount_ore\":%d,"
                "\"pay_code\":\"CRASH\",\"reason\":\"crash test %d\"}\n",
                M[7].id, i + 1, i);
    assert_int_equal(fclose(f), 0);
    long long r0 = n_regs();
    close_vault();
    /* The child opens the vault, says so, runs the batch; we kill it at different points. */
    const int delay_ms[] = {5, 60, 250};
    int killed = 0;
    for (size_t round = 0; round < sizeof delay_ms / sizeof delay_ms[0]; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            vault *w = NULL;
            if (vault_open(vdir, "reg", REG_PASS, strlen(REG_PASS), &w) != RL_OK)
                _exit(2);
            if (write(pfd[1], "x", 1) != 1)
                _exit(2);
            size_t n = 0;
            int rc = registry_batch(w, path, NULL, &n);
            vault_close(w);
            _exit(rc == RL_OK ? 0 : 1);
        }
        close(pfd[1]);
        char c;
        assert_int_equal(read(pfd[0], &c, 1), 1);
        close(pfd[0]);
        usleep((useconds_t)delay_ms[round] * 1000);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            killed++;
        else
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
    }
    assert_true(killed > 0);
    use("reg");
    long long r1 = n_regs();
    if (r1 != r0 && r1 != r0 + LINES)
        fail_msg("a killed batch left %lld of %d registrations", r1 - r0, LINES);
    assert_int_equal(vault_check(V), RL_OK);
    fprintf(stderr, "crash test: %d of 3 children killed, %lld registrations kept (none or all)\n",
            killed, r1 - r0);
}

/* --- the audit chain --------------------------------------------------------------------- */

typedef struct {
    long long seq;
    char at[32], op[64], action[64], detail[512];
    uint8_t prev[32], hash[32];
} audit_row;

static void audit_get(long long seq, audit_row *r)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(vault_db(V),
                                        "SELECT seq, at, operator, action, detail, prev, hash"
                                        " FROM audit WHERE seq = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    r->seq = sqlite3_column_int64(st, 0);
    snprintf(r->at, sizeof r->at, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(r->op, sizeof r->op, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(r->action, sizeof r->action, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(r->detail, sizeof r->detail, "%s", (const char *)sqlite3_column_text(st, 4));
    assert_int_equal(sqlite3_column_bytes(st, 5), 32);
    assert_int_equal(sqlite3_column_bytes(st, 6), 32);
    memcpy(r->prev, sqlite3_column_blob(st, 5), 32);
    memcpy(r->hash, sqlite3_column_blob(st, 6), 32);
    sqlite3_finalize(st);
}

static void audit_put(const audit_row *r)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(vault_begin(V), RL_OK);
    assert_int_equal(sqlite3_prepare_v2(vault_db(V),
                                        "INSERT INTO audit(seq, at, operator, action, detail,"
                                        " prev, hash) VALUES(?,?,?,?,?,?,?)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_text(st, 2, r->at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, r->prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, r->hash, 32, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(vault_commit(V), RL_OK);
}

static void expect_broken_at(long long seq)
{
    uint64_t entries = 0;
    assert_int_equal(vault_audit_verify(V, &entries), RL_EINTEGRITY);
    char want[64];
    snprintf(want, sizeof want, "entry %lld ", seq);
    if (strstr(err_msg(), want) == NULL)
        fail_msg("expected the chain to break at %lld: %s", seq, err_msg());
    assert_int_equal(vault_check(V), RL_EINTEGRITY);
}

static void expect_intact(uint64_t n)
{
    uint64_t entries = 0;
    if (vault_audit_verify(V, &entries) != RL_OK)
        fail_msg("audit chain: %s", err_msg());
    assert_int_equal(entries, n);
}

static void test_audit_chain(void **state)
{
    (void)state;
    use("reg");
    uint64_t n = 0;
    assert_int_equal(vault_audit_verify(V, &n), RL_OK);
    assert_int_equal((long long)n, n_audit());
    assert_true((long long)n > n_regs());
    /* Every registration and decision made above is in the log, in order. */
    assert_int_equal(q_int("SELECT count(*) FROM audit WHERE action = 'registration.add'", NULL),
                     n_regs());
    long long mid = (long long)n / 2;
    char sql[256];
    audit_row row;

    /* An edited entry. */
    audit_get(mid, &row);
    snprintf(sql, sizeof sql, "UPDATE audit SET detail = detail || ' (edited)' WHERE seq = %lld",
             mid);
    raw_exec(sql);
    expect_broken_at(mid);
    snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", mid);
    raw_exec(sql);
    audit_put(&row);
    expect_intact(n);
    /* An edited operator is caught as well. */
    audit_get(mid + 1, &row);
    snprintf(sql, sizeof sql, "UPDATE audit SET operator = 'mallory' WHERE seq = %lld", mid + 1);
    raw_exec(sql);
    expect_broken_at(mid + 1);
    snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", mid + 1);
    raw_exec(sql);
    audit_put(&row);
    expect_intact(n);

    /* A deleted entry in the middle. */
    audit_get(mid, &row);
    snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", mid);
    raw_exec(sql);
    expect_broken_at(mid);
    audit_put(&row);
    expect_intact(n);

    /* The last entry deleted: the chain is still consistent, but the count shows it. */
    audit_get((long long)n, &row);
    snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", (long long)n);
    raw_exec(sql);
    expect_intact(n - 1);
    audit_put(&row);
    expect_intact(n);

    /* Two entries swapped (their sequence numbers exchanged). */
    snprintf(sql, sizeof sql,
             "UPDATE audit SET seq = -1 WHERE seq = %lld; UPDATE audit SET seq = %lld WHERE seq"
             " = %lld; UPDATE audit SET seq = %lld WHERE seq = -1",
             mid, mid, mid + 3, mid + 3);
    raw_exec(sql);
    expect_broken_at(mid);
    raw_exec(sql); /* the same swap puts them back */
    expect_intact(n);

    /* Two adjacent entries swapped. */
    snprintf(sql, sizeof sql,
             "UPDATE audit SET seq = -1 WHERE seq = %lld; UPDATE audit SET seq = %lld WHERE seq"
             " = %lld; UPDATE audit SET seq = %lld WHERE seq = -1",
             mid + 5, mid + 5, mid + 6, mid + 6);
    raw_exec(sql);
    expect_broken_at(mid + 5);
    raw_exec(sql);
    expect_intact(n);

    /* A registration after all this chains on normally. */
    GOOD("one_off", NULL,
         KV("employment_id", M[9].id, "amount_ore", "100", "pay_code", "END", "reason", "last"),
         NULL);
    expect_intact(n + 1);
    assert_int_equal(vault_check(V), RL_OK);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_cannot_register_or_decide),
        cmocka_unit_test(test_hire_good),
        cmocka_unit_test(test_hire_bad),
        cmocka_unit_test(test_termination),
        cmocka_unit_test(test_salary_change),
        cmocka_unit_test(test_extent_change),
        cmocka_unit_test(test_tax_change),
        cmocka_unit_test(test_bank_change),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_one_off),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_corrections),
        cmocka_unit_test(test_registrar_cannot_decide),
        cmocka_unit_test(test_protected_documents),
        cmocka_unit_test(test_batch_jsonl_good),
        cmocka_unit_test(test_batch_csv_good),
        cmocka_unit_test(test_batch_all_or_nothing),
        cmocka_unit_test(test_batch_malformed),
        cmocka_unit_test(test_approval),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_employee_show),
        cmocka_unit_test(test_crash_during_batch),
        cmocka_unit_test(test_audit_chain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
