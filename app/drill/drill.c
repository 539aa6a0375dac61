/* drill: the continuity drill's steps (drill.h); report.c writes what they found. */
#include "drill/drill.h"

#include "drill/report.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "ident/ident.h"
#include "journal/export.h"
#include "journal/journal.h"
#include "payfile/payfile.h"
#include "payfile/verify.h"
#include "payrun/payrun.h"
#include "reconcile/reconcile.h"
#include "registry/registry.h"
#include "restore/restore.h"
#include "sig/minisig.h"
#include "signing/signing.h"
#include "snapshot/snapshot.h"
#include "token/usbtoken.h"
#include "vault/keyconf.h"
#include "vault/vault.h"

#ifndef RL_RULES_DIR
#define RL_RULES_DIR "app/rules"
#endif

enum { ADMIN, REGISTRAR, APPROVER1, APPROVER2, NOPS };
static const char *const op_names[NOPS] = {"drill-admin", "drill-registrar", "drill-approver1",
                                           "drill-approver2"};
#define PASS_LEN 32 /* base64 of 24 random bytes */

/* The documents registered per round: one of each type. */
#define DOC_TYPES 8
#define MIX_MAX 50

typedef struct {
    char id[65], pnr[13], pay_type[8];
    int64_t pay; /* monthly salary or hourly rate, öre */
} emp_pick;

struct drill {
    const drill_options *o;
    drill_report rep;
    char *pass[NOPS]; /* sodium_malloc'd, never written anywhere */
    vault *v;
    int who; /* the operator logged in, or -1 */
    char dir[2048], vault_dir[2100];
    char payfile[2100], pubkey[2100], readback[2100], journal[2100];
    char period[8], pay_date[11];
    char token_serial[PROTO_SERIAL_LEN + 1];
    int64_t payrun;
    char late_uuid[37];
    minisig_pubkey appliance;
    unsigned mix, registered, approved, rejected, pending;
    payfile_summary pay;
    bool have_token;
};
typedef struct drill drill;

/* --- helpers ---------------------------------------------------------------------------- */

static int login(drill *d, int who)
{
    if (d->who == who && d->v != NULL)
        return RL_OK;
    vault_close(d->v);
    d->v = NULL;
    d->who = -1;
    int rc = vault_open(d->vault_dir, op_names[who], d->pass[who], strlen(d->pass[who]), &d->v);
    if (rc == RL_OK)
        d->who = who;
    return rc;
}

/* The second approver joins the logged-in first one, with the key unlocked unless making it. */
static int pair(drill *d, const char *action, bool unlock, signing_session **s)
{
    int rc = login(d, APPROVER1);
    if (rc == RL_OK)
        rc = signing_pair_open(d->v, op_names[APPROVER2], d->pass[APPROVER2],
                               strlen(d->pass[APPROVER2]), action, s);
    if (rc == RL_OK && unlock && (rc = signing_unlock(*s)) != RL_OK) {
        signing_close(*s);
        *s = NULL;
    }
    return rc;
}

static int path_in(drill *d, char *out, size_t cap, const char *name)
{
    if ((size_t)snprintf(out, cap, "%s/%s", d->dir, name) >= cap)
        return err_set(RL_EUSAGE, "drill: the drill directory's path is too long");
    return RL_OK;
}

/* A step that did not apply: its reason, and 1 (skipped). */
static int skip(char *det, size_t cap, const char *why)
{
    snprintf(det, cap, "%s", why);
    return 1;
}

static void money(int64_t ore, char out[40])
{
    char m[32];
    field_money_format(ore, m);
    snprintf(out, 40, "%s SEK", m);
}

/* A single-row, single-column query's text (or "" when there is no row). */
static int query_text(drill *d, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(d->v), sql, -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(d->v, src, "reading the drill vault");
    out[0] = '\0';
    if ((src = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    int rc = (src == SQLITE_ROW || src == SQLITE_DONE) ? RL_OK
                                                        : vault_sql_error(d->v, src, "reading");
    sqlite3_finalize(st);
    return rc;
}

/* --- the steps ---------------------------------------------------------------------------- */

static int step_vault(drill *d, char *det, size_t cap)
{
    int rc = vault_create(d->vault_dir, op_names[ADMIN], d->pass[ADMIN], strlen(d->pass[ADMIN]));
    if (rc == RL_OK)
        rc = login(d, ADMIN);
    if (rc == RL_OK)
        rc = keyconf_set_file(d->v, KEYCONF_EXPORT, d->o->export_pubkey, "snapshot export key");
    if (rc == RL_OK)
        rc = keyconf_set_file(d->v, KEYCONF_RULES, d->o->rules_pubkey, "pay-rules key");
    for (int i = REGISTRAR; rc == RL_OK && i < NOPS; i++)
        rc = vault_operator_add(d->v, op_names[i],
                                i == REGISTRAR ? VAULT_ROLE_REGISTRAR : VAULT_ROLE_APPROVER,
                                d->pass[i], strlen(d->pass[i]));
    snprintf(det, cap, "administrator, registrar and two approvers (passphrases only in memory)");
    return rc;
}

static int step_import(drill *d, char *det, size_t cap)
{
    minisig_pubkey pk;
    snapshot_counts c;
    char net[40];
    int rc = login(d, ADMIN);
    if (rc == RL_OK)
        rc = keyconf_get(d->v, KEYCONF_EXPORT, &pk);
    if (rc == RL_OK)
        rc = snapshot_import(d->v, d->o->snapshot_dir, &pk, 0, stderr, d->o->progress, &c);
    if (rc != RL_OK)
        return rc;
    money(c.last_net_total_ore, net);
    snprintf(det, cap, "%" PRIu64 " employees, %" PRIu64 " employments, last pay run %s net",
             c.employees, c.employments, net);
    drill_report_fact(&d->rep, "Snapshot: employees", "%" PRIu64, c.employees);
    drill_report_fact(&d->rep, "Snapshot: employments", "%" PRIu64, c.employments);
    drill_report_fact(&d->rep, "Snapshot: last pay run, net", "%s", net);
    /* The emergency run is for the month after the snapshot's last run, paid tomorrow. */
    char last[16];
    if ((rc = query_text(d, "SELECT last_period FROM snapshot", last, sizeof last)) != RL_OK)
        return rc;
    int y = 0, m = 0;
    if (sscanf(last, "%4d-%2d", &y, &m) != 2 || m < 1 || m > 12)
        return err_set(RL_EDATA, "drill: the snapshot has no last pay run period");
    snprintf(d->period, sizeof d->period, "%04d-%02d", m == 12 ? y + 1 : y, m % 12 + 1);
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(d->pay_date, sizeof d->pay_date, "%Y-%m-%d", &tm);
    return RL_OK;
}

/* A new, valid personnummer nobody in the vault has. */
static int new_person(drill *d, char pnr[13])
{
    for (int tries = 0; tries < 1000; tries++) {
        char ten[11];
        uint32_t r = randombytes_uniform(40u * 12u * 28u * 999u);
        unsigned year = 1965 + r % 40, mon = 1 + r / 40 % 12, day = 1 + r / 480 % 28,
                 birth = 1 + r / 13440 % 999;
        snprintf(ten, sizeof ten, "%02u%02u%02u%03u", year % 100, mon, day, birth);
        int check = ident_luhn_digit(ten, 9);
        snprintf(pnr, 13, "%04u%02u%02u%03u%d", year, mon, day, birth, check);
        char seen[4];
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT 1 FROM employees WHERE pnr = '%s'", pnr);
        int rc = query_text(d, sql, seen, sizeof seen);
        if (rc != RL_OK)
            return rc;
        if (seen[0] == '\0')
            return RL_OK;
    }
    return err_set(RL_EDATA, "drill: could not find an unused personnummer");
}

/* Employments to change (open-ended, started before the period, each used once) and
 * accounts known to be valid (reused for hires and bank changes). */
static int pick(drill *d, emp_pick *e, size_t n, char acc[][2][24], size_t nacc, size_t *got)
{
    sqlite3_stmt *st = NULL;
    char first[16];
    snprintf(first, sizeof first, "%s-01", d->period);
    int src = sqlite3_prepare_v2(
        vault_db(d->v),
        "SELECT employment_id, pnr, pay_type, coalesce(monthly_salary_ore, hourly_rate_ore)"
        " FROM employments WHERE end_date IS NULL AND start_date < ?1"
        " AND pnr IN (SELECT pnr FROM employees WHERE protected = 0)"
        " ORDER BY substr(employment_id, -2), employment_id LIMIT ?2",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(d->v, src, "choosing employments");
    sqlite3_bind_text(st, 1, first, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    *got = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        emp_pick *p = &e[(*got)++];
        snprintf(p->id, sizeof p->id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(p->pnr, sizeof p->pnr, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(p->pay_type, sizeof p->pay_type, "%s", (const char *)sqlite3_column_text(st, 2));
        p->pay = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return vault_sql_error(d->v, src, "choosing employments");
    if (*got < n)
        return err_set(RL_EDATA, "drill: the snapshot has %zu open employments to change, "
                                 "the drill needs %zu (use a smaller --mix)",
                       *got, n);
    src = sqlite3_prepare_v2(vault_db(d->v),
                             "SELECT clearing, account FROM employees WHERE clearing IS NOT NULL"
                             " AND clearing != '3300' AND protected = 0 LIMIT ?1",
                             -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(d->v, src, "choosing accounts");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)nacc);
    size_t k = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && k < nacc) {
        snprintf(acc[k][0], 24, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(acc[k][1], 24, "%s", (const char *)sqlite3_column_text(st, 1));
        k++;
    }
    sqlite3_finalize(st);
    if (k < nacc)
        return err_set(RL_EDATA, "drill: the snapshot has too few domestic accounts");
    return RL_OK;
}

static int reg(drill *d, const char *type, const reg_field *f, size_t n, const char *corrects,
               char uuid[37])
{
    int rc = registry_register(d->v, type, f, n, corrects, stderr, uuid);
    if (rc != RL_OK)
        return err_wrap(rc, "drill: registering a %s: ", type);
    d->registered++;
    return RL_OK;
}

#define NF(a) (sizeof a / sizeof a[0])

static int step_register(drill *d, char *det, size_t cap)
{
    unsigned mix = d->mix;
    size_t need = (size_t)mix * 7, got = 0;
    emp_pick *e = calloc(need, sizeof *e);
    char(*acc)[2][24] = calloc((size_t)mix * 2, sizeof *acc);
    int rc = (e && acc) ? login(d, REGISTRAR) : err_set(RL_ENOMEM, "out of memory");
    if (rc == RL_OK)
        rc = pick(d, e, need, acc, (size_t)mix * 2, &got);
    static const char *const givens[] = {"Åsa", "Erik", "Noor", "Linnéa", "Omar"};
    static const char *const families[] = {"Öberg", "Lind", "Haddad", "Ström"};
    static const char *const ends[] = {"resignation", "retirement", "end_of_fixed_term"};
    size_t k = 0;
    for (unsigned i = 0; rc == RL_OK && i < mix; i++) {
        char uuid[37], pnr[13], start[11], last[11], from[11], to[11], amount[24], salary[24],
            org[65];
        snprintf(from, sizeof from, "%s-01", d->period);
        if ((rc = new_person(d, pnr)) != RL_OK ||
            (rc = query_text(d, "SELECT org_unit_id FROM org_units ORDER BY org_unit_id LIMIT 1",
                             org, sizeof org)) != RL_OK)
            break;
        snprintf(start, sizeof start, "%s-%02u", d->period, 1 + i % 20);
        snprintf(salary, sizeof salary, "%u", 2600000u + 10000u * randombytes_uniform(220));
        reg_field hire[] = {{"personnummer", pnr},  {"given_name", givens[i % 5]},
                            {"family_name", families[i % 4]}, {"org_unit_id", org},
                            {"start_date", start},  {"pay_type", "monthly"},
                            {"monthly_salary_ore", salary}, {"extent_pct", i % 2 ? "75" : "100"},
                            {"tax_table", "32"},    {"tax_column", "1"},
                            {"clearing", acc[2 * i][0]}, {"account", acc[2 * i][1]}};
        if ((rc = reg(d, "hire", hire, NF(hire), NULL, uuid)) != RL_OK)
            break;
        snprintf(last, sizeof last, "%s-%02u", d->period, 5 + i % 20);
        reg_field term[] = {{"employment_id", e[k++].id}, {"last_day", last},
                            {"reason", ends[i % 3]}};
        if ((rc = reg(d, "termination", term, NF(term), NULL, uuid)) != RL_OK)
            break;
        emp_pick *s = &e[k++];
        bool monthly = strcmp(s->pay_type, "monthly") == 0;
        snprintf(amount, sizeof amount, "%" PRId64, s->pay + (monthly ? 50000 : 500));
        reg_field sal[] = {{"employment_id", s->id}, {"from_date", from},
                           {monthly ? "monthly_salary_ore" : "hourly_rate_ore", amount}};
        if ((rc = reg(d, "salary_change", sal, NF(sal), NULL, uuid)) != RL_OK)
            break;
        reg_field ext[] = {{"employment_id", e[k++].id}, {"from_date", from}, {"extent_pct", "80"}};
        if ((rc = reg(d, "extent_change", ext, NF(ext), NULL, uuid)) != RL_OK)
            break;
        reg_field tax[] = {{"employment_id", e[k++].id}, {"from_date", from},
                           {"tax_fixed_pct", "30"}};
        if ((rc = reg(d, "tax_change", tax, NF(tax), NULL, uuid)) != RL_OK)
            break;
        reg_field bank[] = {{"personnummer", e[k++].pnr}, {"from_date", from},
                            {"clearing", acc[2 * i + 1][0]}, {"account", acc[2 * i + 1][1]}};
        if ((rc = reg(d, "bank_change", bank, NF(bank), NULL, uuid)) != RL_OK)
            break;
        snprintf(from, sizeof from, "%s-03", d->period);
        snprintf(to, sizeof to, "%s-12", d->period);
        reg_field leave[] = {{"employment_id", e[k++].id}, {"from_date", from}, {"to_date", to},
                             {"extent_pct", "100"}};
        if ((rc = reg(d, "leave", leave, NF(leave), NULL, uuid)) != RL_OK)
            break;
        snprintf(amount, sizeof amount, "%d", i % 2 ? -25000 : 150000);
        reg_field one[] = {{"employment_id", e[k++].id}, {"amount_ore", amount},
                           {"pay_code", "OB-TILLAGG"},
                           {"reason", "overtime paid on paper during the outage"},
                           {"period", d->period}};
        if ((rc = reg(d, "one_off", one, NF(one), NULL, uuid)) != RL_OK)
            break;
    }
    if (rc == RL_OK)
        snprintf(det, cap, "%u documents: %u of each of the %d types", d->registered, mix,
                 DOC_TYPES);
    free(e);
    free(acc);
    return rc;
}

/* The UUIDs of documents with status, in recorded order. */
static int uuids(drill *d, const char *status, char (**out)[37], size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int src = sqlite3_prepare_v2(vault_db(d->v),
                                 "SELECT uuid FROM registrations WHERE status = ?1 ORDER BY seq",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(d->v, src, "listing registrations");
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc = RL_OK;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char(*grown)[37] = realloc(*out, cap * sizeof **out);
            if (grown == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                break;
            }
            *out = grown;
        }
        snprintf((*out)[(*n)++], 37, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    if (rc == RL_OK && src != SQLITE_DONE)
        rc = vault_sql_error(d->v, src, "listing registrations");
    sqlite3_finalize(st);
    return rc;
}

static int step_approve(drill *d, char *det, size_t cap)
{
    char(*list)[37] = NULL;
    size_t n = 0;
    int rc = login(d, APPROVER1);
    if (rc == RL_OK)
        rc = uuids(d, "registered", &list, &n);
    for (size_t i = 0; rc == RL_OK && i < n; i++)
        if ((rc = registry_approve(d->v, list[i])) == RL_OK)
            d->approved++;
    free(list);
    snprintf(det, cap, "%u documents approved by %s (not their author)", d->approved,
             op_names[APPROVER1]);
    return rc;
}

/* A correction (the first salary change had the wrong amount), a duplicate of a one-off
 * that the other approver rejects, and a late document still pending when the run is made. */
static int step_decide(drill *d, char *det, size_t cap)
{
    char first[37], fields[512], emp[65], from[16], late_emp[65], one_emp[65], uuid_c[37],
        uuid_dup[37];
    int rc = login(d, REGISTRAR);
    if (rc == RL_OK)
        rc = query_text(d, "SELECT uuid FROM registrations WHERE type = 'salary_change' "
                           "ORDER BY seq LIMIT 1", first, sizeof first);
    if (rc == RL_OK)
        rc = query_text(d, "SELECT employment_id || ' ' || effective_date || ' ' || "
                           "coalesce(json_extract(fields, '$.monthly_salary_ore'), 'h' || "
                           "json_extract(fields, '$.hourly_rate_ore')) FROM registrations "
                           "WHERE type = 'salary_change' ORDER BY seq LIMIT 1",
                        fields, sizeof fields);
    long long amount = 0;
    if (rc == RL_OK) {
        const char *sp = strchr(fields, ' ');
        const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        if (sp == NULL || sp2 == NULL)
            return err_set(RL_EDATA, "drill: no salary change to correct");
        snprintf(emp, sizeof emp, "%.*s", (int)(sp - fields), fields);
        snprintf(from, sizeof from, "%.*s", (int)(sp2 - sp - 1), sp + 1);
        bool hourly = sp2[1] == 'h';
        amount = strtoll(sp2 + (hourly ? 2 : 1), NULL, 10) + (hourly ? 100 : 10000);
        char a[24];
        snprintf(a, sizeof a, "%lld", amount);
        reg_field corr[] = {{"employment_id", emp}, {"from_date", from},
                            {hourly ? "hourly_rate_ore" : "monthly_salary_ore", a}};
        rc = reg(d, "salary_change", corr, NF(corr), first, uuid_c);
    }
    /* The duplicate: the same one-off entered twice from the paper form. */
    if (rc == RL_OK)
        rc = query_text(d, "SELECT employment_id FROM registrations WHERE type = 'one_off' "
                           "ORDER BY seq LIMIT 1", one_emp, sizeof one_emp);
    if (rc == RL_OK) {
        reg_field dup[] = {{"employment_id", one_emp}, {"amount_ore", "99900"},
                           {"pay_code", "OB-TILLAGG"},
                           {"reason", "the same paper form entered twice"},
                           {"period", d->period}};
        rc = reg(d, "one_off", dup, NF(dup), NULL, uuid_dup);
    }
    if (rc == RL_OK)
        rc = login(d, APPROVER2);
    if (rc == RL_OK && (rc = registry_approve(d->v, uuid_c)) == RL_OK)
        d->approved++;
    if (rc == RL_OK &&
        (rc = registry_reject(d->v, uuid_dup, "duplicate of a paper form already entered")) ==
            RL_OK)
        d->rejected++;
    /* The late document: an extent change that arrives while the run is being made. */
    if (rc == RL_OK)
        rc = login(d, REGISTRAR);
    if (rc == RL_OK)
        rc = query_text(d, "SELECT employment_id FROM employments WHERE end_date IS NULL AND "
                           "employment_id NOT IN (SELECT coalesce(employment_id, '') FROM "
                           "registrations) AND pnr IN (SELECT pnr FROM employees WHERE "
                           "protected = 0) ORDER BY employment_id DESC LIMIT 1",
                        late_emp, sizeof late_emp);
    if (rc == RL_OK) {
        char f[16];
        snprintf(f, sizeof f, "%s-01", d->period);
        reg_field late[] = {{"employment_id", late_emp}, {"from_date", f}, {"extent_pct", "60"}};
        if ((rc = reg(d, "extent_change", late, NF(late), NULL, d->late_uuid)) == RL_OK)
            d->pending++;
    }
    snprintf(det, cap, "a correction approved and a duplicate rejected by %s; one late "
             "document left pending", op_names[APPROVER2]);
    return rc;
}

static int step_payrun(drill *d, char *det, size_t cap)
{
    char path[2100];
    int rc = login(d, REGISTRAR);
    payrun_params p = {.period = d->period,
                       .pay_date = d->pay_date,
                       .policy = "same-as-last",
                       .include_pending = 1,
                       .rules_path = d->o->rules_path ? d->o->rules_path
                                                      : RL_RULES_DIR "/payroll.lua"};
    if (rc == RL_OK)
        rc = payrun_create(d->v, &p, d->o->progress, &d->payrun);
    if (rc != RL_OK)
        return rc;
    /* The review the approvers read before releasing it. */
    if ((rc = path_in(d, path, sizeof path, "payrun-review.txt")) != RL_OK)
        return rc;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return err_set(RL_EIO, "%s: %s", path, strerror(errno));
    rc = payrun_show(d->v, d->payrun, 0, f);
    if (fclose(f) != 0 && rc == RL_OK)
        rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
    if (rc != RL_OK)
        return rc;
    char q[256], emps[32], paid[32], net[40], last[40], pend[16];
    snprintf(q, sizeof q, "SELECT employments || ' ' || paid || ' ' || net_ore || ' ' || "
             "last_net_ore || ' ' || pending_ignored FROM payruns WHERE id = %" PRId64,
             d->payrun);
    char row[160];
    if ((rc = query_text(d, q, row, sizeof row)) != RL_OK)
        return rc;
    long long n_net = 0, n_last = 0;
    if (sscanf(row, "%31s %31s %lld %lld %15s", emps, paid, &n_net, &n_last, pend) != 5)
        return err_set(RL_EDATA, "drill: pay run %" PRId64 " not found", d->payrun);
    money(n_net, net);
    money(n_last, last);
    snprintf(det, cap, "pay run %" PRId64 " for %s, paid %s: %s employments, %s paid, net %s "
             "(last run %s)", d->payrun, d->period, d->pay_date, emps, paid, net, last);
    drill_report_fact(&d->rep, "Pay run", "%" PRId64 " (%s, same-as-last, pay date %s)", d->payrun,
                d->period, d->pay_date);
    drill_report_fact(&d->rep, "Pay run: employments / paid", "%s / %s", emps, paid);
    drill_report_fact(&d->rep, "Pay run: net total", "%s (last regular run %s)", net, last);
    if (strcmp(pend, "0") != 0)
        drill_report_warn(&d->rep, "the pay run was made with %s document(s) still pending: they are "
                    "not in it and the main system's next run must catch up on them "
                    "(the reconciliation lists them)", pend);
    return RL_OK;
}

static int step_release(drill *d, char *det, size_t cap)
{
    char status[16] = "";
    int rc = login(d, APPROVER1);
    if (rc == RL_OK)
        rc = payrun_approve(d->v, d->payrun, status);
    bool second = rc == RL_OK && strcmp(status, "approved1") == 0;
    if (second && (rc = login(d, APPROVER2)) == RL_OK)
        rc = payrun_approve(d->v, d->payrun, status);
    if (rc == RL_OK && strcmp(status, "approved") != 0)
        rc = err_set(RL_EDATA, "drill: pay run %" PRId64 " is %s after its approvals", d->payrun,
                     status);
    snprintf(det, cap, "released by %s%s%s", op_names[APPROVER1], second ? " and " : "",
             second ? op_names[APPROVER2] : "");
    return rc;
}

static int step_debtor(drill *d, char *det, size_t cap)
{
    static const char *const kv[][2] = {
        {"payfile.debtor_name", "Reservlön drill municipality"},
        {"payfile.debtor_clearing", "5000"},
        {"payfile.debtor_account", "1234560"},
        {"payfile.debtor_bic", "ESSESESS"},
        {"payfile.agreement_id", "DRILL-AGR"},
        {"payfile.profile", "generic"}};
    int rc = login(d, ADMIN);
    if (rc == RL_OK)
        rc = vault_begin(d->v);
    for (size_t i = 0; rc == RL_OK && i < sizeof kv / sizeof kv[0]; i++)
        rc = vault_config_set(d->v, kv[i][0], kv[i][1]);
    if (rc == RL_OK)
        rc = vault_audit(d->v, "config.set", "payment file debtor settings (drill)");
    if (rc == RL_OK)
        rc = vault_commit(d->v);
    else
        vault_rollback(d->v);
    snprintf(det, cap, "the debtor (employer) account and bank settings, by the administrator");
    return rc;
}

static int step_keys(drill *d, char *det, size_t cap)
{
    signing_session *s = NULL;
    char pub[1024];
    int rc = pair(d, "key ceremony (drill)", false, &s);
    if (rc == RL_OK)
        rc = signing_key_create(s, pub, sizeof pub);
    if (rc == RL_OK)
        rc = file_write_atomic(d->pubkey, pub, strlen(pub), 0644);
    if (rc == RL_OK)
        rc = minisig_pubkey_parse(pub, strlen(pub), &d->appliance);
    if (rc == RL_OK) {
        snprintf(det, cap, "appliance key %s made by %s and %s", signing_key_id(s),
                 op_names[APPROVER1], op_names[APPROVER2]);
        drill_report_fact(&d->rep, "Appliance signing key", "%s (public key in appliance.pub)",
                    signing_key_id(s));
    }
    signing_close(s);
    return rc;
}

static int step_payfile(drill *d, char *det, size_t cap)
{
    signing_session *s = NULL;
    char path[2100];
    FILE *left = NULL;
    int rc = path_in(d, path, sizeof path, "payfile-left-out.txt");
    if (rc == RL_OK)
        rc = pair(d, "payment file (drill)", true, &s);
    if (rc == RL_OK && (left = fopen(path, "w")) == NULL)
        rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
    if (rc == RL_OK) {
        payfile_options po = {.format = PAYFILE_PAIN001_03,
                              .profile = "generic",
                              .debtor_name = "Reservlön drill municipality",
                              .debtor_clearing = "5000",
                              .debtor_account = "1234560",
                              .debtor_bic = "ESSESESS",
                              .agreement_id = "DRILL-AGR",
                              .drill = true,
                              .signer = s,
                              .leave_out_unpayable = true,
                              .report = left};
        rc = payfile_write(d->v, d->payrun, &po, d->payfile, &d->pay);
    }
    if (left != NULL && fclose(left) != 0 && rc == RL_OK)
        rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
    signing_close(s);
    if (rc != RL_OK)
        return rc;
    char total[40], lo[40];
    money(d->pay.total_ore, total);
    money(d->pay.left_out_ore, lo);
    snprintf(det, cap, "%s: %" PRIu64 " payments, %s, execution %s", d->pay.msg_id,
             d->pay.count, total, d->pay.exec_date);
    drill_report_fact(&d->rep, "Payment file", "%s, pain.001.001.03, message id %s",
                strrchr(d->payfile, '/') + 1, d->pay.msg_id);
    drill_report_fact(&d->rep, "Payment file: payments / total", "%" PRIu64 " / %s", d->pay.count,
                total);
    drill_report_fact(&d->rep, "Payment file: SHA-256", "%s", d->pay.sha256);
    if (d->pay.left_out > 0) {
        drill_report_fact(&d->rep, "Left out (no valid account)", "%" PRIu64 " person(s), %s",
                    d->pay.left_out, lo);
        drill_report_warn(&d->rep, "%" PRIu64 " person(s) with %s have no valid account and are not in "
                    "the payment file (payfile-left-out.txt): practise paying them another way",
                    d->pay.left_out, lo);
    }
    return RL_OK;
}

static int step_payverify(drill *d, char *det, size_t cap)
{
    payfile_verified pv;
    int rc = payfile_verify(d->payfile, &d->appliance, RL_XSD_DIR, &pv);
    if (rc != RL_OK)
        return rc;
    if (!pv.drill || strncmp(pv.msg_id, "DRILL-", 6) != 0)
        return err_set(RL_EINTEGRITY, "drill: the payment file is not marked as a drill");
    if (pv.count != d->pay.count || pv.total_ore != d->pay.total_ore)
        return err_set(RL_EINTEGRITY, "drill: the payment file's sums differ from the writer's");
    snprintf(det, cap, "signature (key %s), ISO 20022 schema, sums, mode=drill", pv.key_id);
    return RL_OK;
}

/* --- the token ----------------------------------------------------------------------------- */

typedef struct {
    FILE *tty;
    int last;
} token_progress;

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    token_progress *p = ctx;
    if (p->tty == NULL || total == 0)
        return;
    int pct = (int)(done * 100 / total);
    if (pct == p->last)
        return;
    p->last = pct;
    fprintf(p->tty, "\r  token %-6s %3d %%%s", what, pct, done == total ? "\n" : "");
    fflush(p->tty);
}

static int token_open(drill *d, token_progress *pg, usbtoken **t)
{
    usbtoken_config cfg;
    const char *serials[1] = {d->token_serial};
    usbtoken_config_default(&cfg);
    cfg.serials = serials;
    cfg.nserials = 1;
    cfg.progress = on_progress;
    cfg.progress_ctx = pg;
    return usbtoken_open(&cfg, t);
}

/* Signs an enrolment statement for the token with the drill's authority. */
static int enrol(usbtoken *t, const minisig_seckey *auth, unsigned op, const minisig_pubkey *key,
                 const char *what)
{
    usbtoken_info in;
    uint8_t st[PROTO_ST_SIZE];
    char tc[128];
    char *sig = malloc(MINISIG_SIG_TEXT_MAX);
    int rc = sig ? usbtoken_get_info(t, &in) : err_set(RL_ENOMEM, "out of memory");
    if (rc == RL_OK)
        rc = usbtoken_statement_build(st, in.serial, in.epoch + 1, op, key->key_id, key->pk);
    snprintf(tc, sizeof tc, "reservlon DRILL enrolment %s serial=%s epoch=%lu", what, in.serial,
             (unsigned long)(in.epoch + 1));
    if (rc == RL_OK)
        rc = minisig_sign(auth, st, sizeof st, tc, sig, MINISIG_SIG_TEXT_MAX);
    if (rc == RL_OK)
        rc = usbtoken_enroll(t, st, sig, strlen(sig), NULL, NULL);
    free(sig);
    return rc;
}

static int step_token_enrol(drill *d, char *det, size_t cap)
{
    usbtoken_config cfg;
    char found[8][PROTO_SERIAL_LEN + 1];
    size_t n = 0;
    usbtoken_config_default(&cfg);
    if (d->o->token == DRILL_TOKEN_SKIP)
        return skip(det, cap, "not asked for (--no-token)");
    int rc = usbtoken_scan(&cfg, found, 8, &n);
    if (rc != RL_OK || n == 0) {
        if (d->o->token == DRILL_TOKEN_REQUIRE)
            return rc != RL_OK ? rc : err_set(RL_EDATA, "drill: no token is plugged in");
        err_clear();
        drill_report_warn(&d->rep, "no USB token was plugged in: the token steps were skipped; "
                    "practise them with a drill token");
        return skip(det, cap, "no token plugged in");
    }
    snprintf(d->token_serial, sizeof d->token_serial, "%s", found[0]);
    /* A one-off DRILL enrolment authority: the drill token trusts it, nothing else does. */
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], key_id[8];
    minisig_seckey *auth = NULL;
    minisig_pubkey auth_pk;
    usbtoken *t = NULL;
    token_progress pg = {NULL, -1};
    if (sk == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    crypto_sign_keypair(pk, sk);
    randombytes_buf(key_id, sizeof key_id);
    rc = minisig_seckey_from_raw(sk, key_id, &auth);
    sodium_free(sk);
    if (rc == RL_OK) {
        minisig_seckey_pubkey(auth, &auth_pk);
        rc = token_open(d, &pg, &t);
    }
    usbtoken_info in;
    if (rc == RL_OK && (rc = usbtoken_get_info(t, &in)) == RL_OK) {
        static const uint8_t zero[8];
        if (memcmp(in.authority_id, zero, 8) != 0)
            rc = err_set(RL_EDATA, "drill: token %s already has an enrolment authority: use a "
                                   "blank drill token",
                         in.serial);
    }
    if (rc == RL_OK)
        rc = enrol(t, auth, PROTO_ENROLL_SET_AUTHORITY, &auth_pk, "set-authority");
    if (rc == RL_OK)
        rc = enrol(t, auth, PROTO_ENROLL_ADD_APPLIANCE, &d->appliance, "add-appliance");
    usbtoken_close(t);
    minisig_seckey_free(auth);
    if (rc == RL_OK) {
        d->have_token = true;
        snprintf(det, cap, "token %s: a DRILL authority set, the appliance key enrolled",
                 d->token_serial);
    }
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int step_token_put(drill *d, char *det, size_t cap)
{
    if (!d->have_token)
        return skip(det, cap, "no token");
    usbtoken *t = NULL;
    usbtoken_receipt r;
    token_progress pg = {d->o->progress, -1};
    double t0 = now_s();
    int rc = token_open(d, &pg, &t);
    if (rc == RL_OK)
        rc = usbtoken_put_file(t, d->payfile, NULL, USBTOKEN_DRILL, &r);
    usbtoken_close(t);
    if (rc != RL_OK)
        return rc;
    double secs = now_s() - t0;
    struct stat sb;
    double bytes = stat(d->payfile, &sb) == 0 ? (double)sb.st_size : 0;
    snprintf(det, cap, "%.0f bytes as a drill file (counter %" PRIu64 "), written and read back "
             "by the token, %.2f MB/s", bytes, r.counter, secs > 0 ? bytes / secs / 1e6 : 0);
    drill_report_fact(&d->rep, "Token put", "%.2f MB/s (upload, commit, full read-back)",
                secs > 0 ? bytes / secs / 1e6 : 0);
    return RL_OK;
}

static int step_token_get(drill *d, char *det, size_t cap)
{
    if (!d->have_token)
        return skip(det, cap, "no token");
    usbtoken *t = NULL;
    token_progress pg = {d->o->progress, -1};
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    const char *name = strrchr(d->payfile, '/') + 1;
    double t0 = now_s();
    int rc = token_open(d, &pg, &t);
    if (rc == RL_OK)
        rc = usbtoken_get_file(t, name, d->readback);
    double secs = now_s() - t0;
    if (rc == RL_OK)
        rc = usbtoken_mark_collected(t, name);
    usbtoken_close(t);
    if (rc == RL_OK)
        rc = file_read_all(d->payfile, PAYFILE_VERIFY_MAX_BYTES, &a, &alen);
    if (rc == RL_OK)
        rc = file_read_all(d->readback, PAYFILE_VERIFY_MAX_BYTES, &b, &blen);
    if (rc == RL_OK && (alen != blen || memcmp(a, b, alen) != 0))
        rc = err_set(RL_EINTEGRITY, "drill: the file read back from the token differs");
    free(a);
    free(b);
    payfile_verified pv;
    if (rc == RL_OK)
        rc = payfile_verify(d->readback, &d->appliance, RL_XSD_DIR, &pv);
    if (rc != RL_OK)
        return rc;
    snprintf(det, cap, "read back at %.2f MB/s, byte-identical, signature verified, marked "
             "collected", secs > 0 ? (double)alen / secs / 1e6 : 0);
    drill_report_fact(&d->rep, "Token get", "%.2f MB/s", secs > 0 ? (double)alen / secs / 1e6 : 0);
    return RL_OK;
}

static int step_late(drill *d, char *det, size_t cap)
{
    int rc = login(d, APPROVER2);
    if (rc == RL_OK && (rc = registry_approve(d->v, d->late_uuid)) == RL_OK) {
        d->approved++;
        d->pending--;
    }
    snprintf(det, cap, "the late document approved after the run: the reconciliation must "
             "show it");
    return rc;
}

static int step_journal(drill *d, char *det, size_t cap)
{
    signing_session *s = NULL;
    journal_export_summary sum;
    journal_info info;
    int rc = pair(d, "journal export (drill)", true, &s);
    if (rc == RL_OK)
        rc = journal_export(d->v, s, d->journal, &sum);
    signing_close(s);
    if (rc == RL_OK)
        rc = journal_verify_file(d->journal, &d->appliance, &info);
    if (rc != RL_OK)
        return rc;
    snprintf(det, cap, "%" PRIu64 " lines (%" PRIu64 " registrations, %" PRIu64
             " decisions, %" PRIu64 " pay run, %" PRIu64 " payment file), signature and chain "
             "verified", info.lines, info.count[JOURNAL_REGISTRATION],
             info.count[JOURNAL_DECISION], info.count[JOURNAL_PAYRUN],
             info.count[JOURNAL_PAYFILE]);
    drill_report_fact(&d->rep, "Journal", "%" PRIu64 " lines, last line hash %.16s...", info.lines,
                info.last);
    return RL_OK;
}

/* The main system's side, with the reference importer: its copy of the snapshot, the
 * journal applied (twice: the second must change nothing), and its employment state
 * compared byte for byte with the appliance's. */
static int step_restore(drill *d, char *det, size_t cap)
{
    char main_dir[2100], ours[2100], theirs[2100];
    restore_result r1, r2;
    registry_state_counts c;
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    int rc = path_in(d, main_dir, sizeof main_dir, "main-system");
    if (rc == RL_OK)
        rc = path_in(d, ours, sizeof ours, "state-appliance.csv");
    if (rc == RL_OK)
        rc = path_in(d, theirs, sizeof theirs, "state-main-system.csv");
    if (rc == RL_OK)
        rc = restore_init(main_dir, d->o->snapshot_dir);
    if (rc == RL_OK)
        rc = restore_apply(main_dir, d->journal, &d->appliance, NULL, &r1);
    if (rc == RL_OK)
        rc = restore_apply(main_dir, d->journal, &d->appliance, NULL, &r2);
    if (rc == RL_OK && r2.new_lines != 0)
        rc = err_set(RL_EINTEGRITY, "drill: the same journal applied twice added %zu lines",
                     r2.new_lines);
    if (rc == RL_OK)
        rc = restore_state_write(main_dir, theirs);
    if (rc == RL_OK)
        rc = login(d, APPROVER1);
    if (rc == RL_OK)
        rc = registry_state_save(d->v, ours, &c);
    if (rc == RL_OK)
        rc = file_read_all(ours, (size_t)1 << 30, &a, &alen);
    if (rc == RL_OK)
        rc = file_read_all(theirs, (size_t)1 << 30, &b, &blen);
    if (rc == RL_OK && (alen != blen || memcmp(a, b, alen) != 0))
        rc = err_set(RL_EINTEGRITY, "drill: the main system's state after the import differs "
                                    "from the appliance's (compare state-appliance.csv and "
                                    "state-main-system.csv)");
    free(a);
    free(b);
    if (rc != RL_OK)
        return rc;
    snprintf(det, cap, "%zu lines applied (%zu registrations, %zu decisions); applied again: "
             "nothing changed; %zu employments, state identical to the appliance's",
             r1.new_lines, r1.registrations, r1.decisions, c.employments);
    drill_report_fact(&d->rep, "Reference import", "%zu journal lines; %zu persons and %zu "
                      "employments, byte-identical to the appliance's state", r1.lines,
                      c.persons, c.employments);
    return RL_OK;
}

static int step_reconcile(drill *d, char *det, size_t cap)
{
    reconcile_totals t;
    char paid[40], should[40], diff[40];
    int rc = login(d, APPROVER1);
    if (rc == RL_OK)
        rc = reconcile_write_rules(d->v, d->payrun, d->dir,
                                   d->o->rules_path ? d->o->rules_path
                                                    : RL_RULES_DIR "/payroll.lua",
                                   &t);
    if (rc != RL_OK)
        return rc;
    money(t.paid_net_ore, paid);
    money(t.should_net_ore, should);
    money(t.diff_net_ore, diff);
    snprintf(det, cap, "%zu employments, %zu to correct in the next regular run; net paid %s, "
             "recalculated now %s, difference %s", t.employments, t.corrections_needed, paid,
             should, diff);
    drill_report_fact(&d->rep, "Reconciliation", "reconcile-payrun-%" PRId64 ".csv and .html: "
                      "%zu employments, %zu need a correction", d->payrun, t.employments,
                      t.corrections_needed);
    drill_report_fact(&d->rep, "Reconciliation: net paid / recalculated / difference",
                      "%s / %s / %s", paid, should, diff);
    return RL_OK;
}

static int step_check(drill *d, char *det, size_t cap)
{
    uint64_t entries = 0;
    int rc = login(d, ADMIN);
    if (rc == RL_OK)
        rc = vault_audit_verify(d->v, &entries);
    if (rc == RL_OK)
        rc = vault_check(d->v);
    if (rc == RL_OK) {
        snprintf(det, cap, "audit chain of %" PRIu64 " entries intact; every page authenticated",
                 entries);
        drill_report_fact(&d->rep, "Audit log", "%" PRIu64 " entries, chain intact; %" PRIu64
                    " commits", entries, vault_commits(d->v));
    }
    return rc;
}

/* --- the run --------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*fn)(drill *, char *, size_t); /* 0 passed, 1 skipped, < 0 failed */
} step;

static const step steps[] = {
    {"create the drill vault and its operators", step_vault},
    {"import the snapshot", step_import},
    {"register a mix of documents (registrar)", step_register},
    {"approve them (second person)", step_approve},
    {"correct one, reject a duplicate, one arrives late", step_decide},
    {"create the emergency pay run and its review", step_payrun},
    {"release the pay run (two-person)", step_release},
    {"debtor settings (administrator)", step_debtor},
    {"key ceremony (two approvers)", step_keys},
    {"write the signed DRILL payment file", step_payfile},
    {"verify the payment file (signature, XSD, sums)", step_payverify},
    {"token: provision a DRILL authority, enrol the key", step_token_enrol},
    {"token: put the payment file", step_token_put},
    {"token: read back, compare, verify, mark collected", step_token_get},
    {"approve the late document", step_late},
    {"export and verify the journal", step_journal},
    {"reference import on the main system's side", step_restore},
    {"reconciliation report for payroll", step_reconcile},
    {"verify the audit chain and the vault", step_check},
};
#define NSTEPS (sizeof steps / sizeof steps[0])

static int prepare_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST)
            return err_set(RL_EIO, "drill: cannot create %s: %s", dir, strerror(errno));
        /* An existing directory must be empty (rmdir removes only an empty one): a drill
         * never overwrites anything. */
        if (rmdir(dir) != 0)
            return err_set(RL_EUSAGE, "drill: %s exists and is not empty: give a new directory",
                           dir);
        if (mkdir(dir, 0700) != 0)
            return err_set(RL_EIO, "drill: cannot create %s: %s", dir, strerror(errno));
    }
    return RL_OK;
}

int drill_run(const drill_options *o, drill_result *r)
{
    drill d;
    memset(&d, 0, sizeof d);
    memset(r, 0, sizeof *r);
    d.o = o;
    d.who = -1;
    if (o->snapshot_dir == NULL || o->export_pubkey == NULL || o->rules_pubkey == NULL ||
        o->out_dir == NULL)
        return err_set(RL_EUSAGE, "drill needs a snapshot, its export key, the rules key and "
                                  "a drill directory");
    if (o->mix > MIX_MAX)
        return err_set(RL_EUSAGE, "drill: --mix is at most %d documents per type", MIX_MAX);
    d.mix = o->mix ? o->mix : 3;
    if (strlen(o->out_dir) > 1900)
        return err_set(RL_EUSAGE, "drill: the drill directory's path is too long");
    snprintf(d.dir, sizeof d.dir, "%s", o->out_dir);
    int rc = prepare_dir(d.dir);
    if (rc != RL_OK)
        return rc;
    snprintf(d.vault_dir, sizeof d.vault_dir, "%s/vault", d.dir);
    snprintf(d.payfile, sizeof d.payfile, "%s/DRILL-payrun-1.xml", d.dir);
    snprintf(d.pubkey, sizeof d.pubkey, "%s/appliance.pub", d.dir);
    snprintf(d.readback, sizeof d.readback, "%s/DRILL-readback.xml", d.dir);
    snprintf(d.journal, sizeof d.journal, "%s/DRILL-journal.jsonl", d.dir);
    for (int i = 0; i < NOPS; i++) {
        uint8_t raw[24];
        if ((d.pass[i] = sodium_malloc(PASS_LEN + 1)) == NULL) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto cleanup;
        }
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(d.pass[i], PASS_LEN + 1, raw, sizeof raw,
                          sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(raw, sizeof raw);
    }
    drill_report_begin(&d.rep, o->snapshot_dir, d.mix);
    int first_rc = RL_OK;
    for (size_t i = 0; i < NSTEPS; i++) {
        char det[512] = "";
        if (first_rc != RL_OK) {
            drill_report_step(&d.rep, steps[i].name, 0, DRILL_NOT_RUN, "");
            continue;
        }
        err_clear();
        double t0 = now_s();
        int src = steps[i].fn(&d, det, sizeof det);
        double secs = now_s() - t0;
        drill_status st = src == 0 ? DRILL_PASS : src > 0 ? DRILL_SKIPPED : DRILL_FAIL;
        if (st == DRILL_FAIL) {
            first_rc = src;
            snprintf(det, sizeof det, "%s", err_msg()[0] ? err_msg() : "failed");
        }
        drill_report_step(&d.rep, steps[i].name, secs, st, det);
        if (o->out != NULL) {
            fprintf(o->out, "[%2zu/%zu] %-52s %-7s %7.2f s  %s\n", i + 1, NSTEPS, steps[i].name,
                    drill_status_name(st), secs, det);
            fflush(o->out);
        }
    }
    drill_report_fact(&d.rep, "Documents", "%u registered: %u approved, %u rejected, %u pending",
                d.registered, d.approved, d.rejected, d.pending);
    rc = drill_report_write(&d.rep, d.dir, r->report_md, sizeof r->report_md, r->report_html,
                      sizeof r->report_html);
    drill_report_counts(&d.rep, &r->steps, &r->passed, &r->failed, &r->skipped);
    if (first_rc != RL_OK) {
        /* The failing step's message is the one the user needs. */
        size_t k = 0;
        while (k + 1 < d.rep.nsteps && d.rep.steps[k].st != DRILL_FAIL)
            k++;
        rc = err_set(first_rc, "drill failed at '%s': %s (report: %s)", d.rep.steps[k].name,
                     d.rep.steps[k].detail, r->report_md);
    }
cleanup:
    vault_close(d.v);
    for (int i = 0; i < NOPS; i++)
        sodium_free(d.pass[i]);
    return rc;
}
