/* payrun: gathering each employment's data, running the pay rules over it, storing and
 * reviewing the result, and the two-person release (see payrun.h). */
#include "payrun/payrun.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "common/json.h"
#include "rules/rules.h"
#include "sig/minisig.h"

#define MAX_LINES 64
#define DEFAULT_SECOND_PCT 5

/* --- tax tables in memory (the rules look up through the tax() callback) ------------- */

typedef struct {
    int64_t from, to; /* to < 0: open-ended */
    int pct;          /* 1: the columns are percentages ("30%" rows) */
    int64_t col[7];
} tax_row;

typedef struct {
    tax_row *rows[43];
    size_t n[43];
} tax_tables;

static void tax_free(tax_tables *t)
{
    for (int i = 0; i < 43; i++)
        free(t->rows[i]);
}

static int tax_load(vault *v, tax_tables *t)
{
    sqlite3_stmt *st = NULL;
    memset(t, 0, sizeof *t);
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT tbl, kind, income_from, coalesce(income_to, -1), c1, c2,"
                                 " c3, c4, c5, c6, coalesce(c7, 0) FROM tax_tables"
                                 " ORDER BY tbl, income_from",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading the tax tables");
    size_t cap[43] = {0};
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int tbl = sqlite3_column_int(st, 0);
        if (tbl < 29 || tbl > 42)
            continue;
        if (t->n[tbl] == cap[tbl]) {
            cap[tbl] = cap[tbl] ? cap[tbl] * 2 : 256;
            tax_row *r = realloc(t->rows[tbl], cap[tbl] * sizeof *r);
            if (r == NULL) {
                sqlite3_finalize(st);
                return err_set(RL_ENOMEM, "out of memory");
            }
            t->rows[tbl] = r;
        }
        tax_row *r = &t->rows[tbl][t->n[tbl]++];
        r->pct = strcmp((const char *)sqlite3_column_text(st, 1), "30%") == 0;
        r->from = sqlite3_column_int64(st, 2);
        r->to = sqlite3_column_int64(st, 3);
        for (int c = 0; c < 7; c++)
            r->col[c] = sqlite3_column_int64(st, 4 + c);
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "reading the tax tables");
}

/* Skatteverket's monthly tables: the band containing the income (whole SEK) gives the tax
 * in whole SEK ("30B") or, for high incomes, a percentage of the income ("30%"). */
static int tax_lookup(void *ctx, int table, int column, int64_t income, int64_t *out)
{
    tax_tables *t = ctx;
    if (table < 29 || table > 42 || column < 1 || column > 6 || t->n[table] == 0)
        return err_set(RL_EDATA, "no tax table %d column %d in the snapshot", table, column);
    if (income < t->rows[table][0].from) {
        *out = 0;
        return RL_OK;
    }
    size_t lo = 0, hi = t->n[table];
    while (hi - lo > 1) { /* the last row whose from <= income */
        size_t mid = (lo + hi) / 2;
        if (t->rows[table][mid].from <= income)
            lo = mid;
        else
            hi = mid;
    }
    const tax_row *r = &t->rows[table][lo];
    if (r->to >= 0 && income > r->to)
        return err_set(RL_EDATA, "tax table %d has no band for %lld SEK", table, (long long)income);
    int64_t c = r->col[column - 1];
    *out = r->pct ? income * c / 100 : c;
    return RL_OK;
}

/* --- approved registrations, by employment ------------------------------------------- */

typedef struct {
    char employment_id[65];
    char type[16];
    char effective[11];
    char end[11];
    char *fields; /* canonical JSON */
} reg;

typedef struct {
    reg *r;
    size_t n;
} regs;

static void regs_free(regs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].fields);
    free(rs->r);
}

static int cmp_reg(const void *a, const void *b)
{
    const reg *x = a, *y = b;
    int c = strcmp(x->employment_id, y->employment_id);
    return c ? c : strcmp(x->effective, y->effective);
}

/* Live approved documents (corrected ones excluded) that concern employments. */
static int regs_load(vault *v, regs *rs)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    memset(rs, 0, sizeof *rs);
    int src = sqlite3_prepare_v2(
        vault_db(v),
        "SELECT employment_id, type, effective_date, coalesce(end_date, ''), fields"
        " FROM registrations WHERE employment_id IS NOT NULL AND type != 'hire'"
        " AND status IN ('approved','exported') AND uuid NOT IN (SELECT corrects FROM"
        " registrations WHERE corrects IS NOT NULL AND status IN ('approved','exported'))"
        " ORDER BY seq",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading registrations");
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (rs->n == cap) {
            cap = cap ? cap * 2 : 64;
            reg *p = realloc(rs->r, cap * sizeof *p);
            if (p == NULL) {
                sqlite3_finalize(st);
                return err_set(RL_ENOMEM, "out of memory");
            }
            rs->r = p;
        }
        reg *r = &rs->r[rs->n];
        snprintf(r->employment_id, sizeof r->employment_id, "%s", sqlite3_column_text(st, 0));
        snprintf(r->type, sizeof r->type, "%s", sqlite3_column_text(st, 1));
        snprintf(r->effective, sizeof r->effective, "%s", sqlite3_column_text(st, 2));
        snprintf(r->end, sizeof r->end, "%s", sqlite3_column_text(st, 3));
        r->fields = strdup((const char *)sqlite3_column_text(st, 4));
        if (r->fields == NULL) {
            sqlite3_finalize(st);
            return err_set(RL_ENOMEM, "out of memory");
        }
        rs->n++;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return vault_sql_error(v, src, "reading registrations");
    if (rs->n > 0) /* qsort's pointer must not be NULL, even for no elements */
        qsort(rs->r, rs->n, sizeof rs->r[0], cmp_reg);
    return RL_OK;
}

/* The registrations of one employment: a range in the sorted array. */
static void regs_for(const regs *rs, const char *id, size_t *first, size_t *count)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(rs->r[mid].employment_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    while (hi < rs->n && strcmp(rs->r[hi].employment_id, id) == 0)
        hi++;
    *count = hi > lo ? hi - lo : 0;
}

/* --- building the rules' input ------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string; the inputs here are ids, dates and validated text without quotes or
 * control characters, but escape anyway. */
static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            char e[2] = {'\\', *s};
            sb_put(b, e, 2);
        } else if ((unsigned char)*s < 0x20) {
            sb_printf(b, "\\u%04x", (unsigned char)*s);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int64_t json_num(const json_value *f, const char *key, int64_t dflt)
{
    int64_t x;
    return json_int64(json_get(f, key), &x) == RL_OK ? x : dflt;
}

static int64_t json_pct(const json_value *f, const char *key, int64_t dflt)
{
    const char *s = json_string(json_get(f, key), NULL);
    int64_t x;
    return (s && field_pct(s, strlen(s), 0, 10000, &x) == RL_OK) ? x : dflt;
}

/* One employment as the rules see it (docs/pay-rules.md). */
typedef struct {
    const char *id, *pnr, *start, *end, *pay_type;
    int64_t salary, extent;
    int tax_table, tax_column;
    int64_t tax_fixed; /* < 0: by table */
    bool has_last;
    int64_t last_gross, last_tax, last_ded, last_net;
    bool hired;
} employment;

static void build_input(sbuf *b, const char *run_json, const char *period, const employment *e,
                        const regs *rs, bool *changed_out, char *effective_end, size_t end_cap)
{
    size_t first, count;
    regs_for(rs, e->id, &first, &count);
    b->len = 0;
    bool changed = false;
    const char *end = e->end;
    /* A termination's last day ends the employment; the earliest live one counts. */
    for (size_t i = first; i < first + count; i++)
        if (strcmp(rs->r[i].type, "termination") == 0 && (end == NULL || strcmp(rs->r[i].effective, end) < 0))
            end = rs->r[i].effective;
    snprintf(effective_end, end_cap, "%s", end ? end : "");
    sb_printf(b, "{\"run\":%s,\"employment_id\":", run_json);
    sb_str(b, e->id);
    sb_printf(b, ",\"pay_type\":\"%s\",\"start_date\":\"%s\",\"end_date\":", e->pay_type, e->start);
    if (end)
        sb_printf(b, "\"%s\"", end);
    else
        sb_put(b, "null", 4);
    sb_printf(b, ",\"hired\":%s,\"salary\":[{\"from\":\"%s\",\"ore\":%lld}", e->hired ? "true" : "false",
              e->start, (long long)e->salary);
    for (size_t i = first; i < first + count; i++) {
        const reg *r = &rs->r[i];
        if (strcmp(r->type, "salary_change") != 0)
            continue;
        json_value *f = NULL;
        if (json_parse(r->fields, strlen(r->fields), &f) == RL_OK) {
            int64_t s = json_num(f, "monthly_salary_ore", json_num(f, "hourly_rate_ore", -1));
            if (s > 0) {
                sb_printf(b, ",{\"from\":\"%s\",\"ore\":%lld}", r->effective, (long long)s);
                changed = true;
            }
        }
        json_free(f);
    }
    sb_printf(b, "],\"extent\":[{\"from\":\"%s\",\"hundredths\":%lld}", e->start,
              (long long)e->extent);
    int tax_table = e->tax_table, tax_column = e->tax_column;
    int64_t tax_fixed = e->tax_fixed;
    for (size_t i = first; i < first + count; i++) {
        const reg *r = &rs->r[i];
        json_value *f = NULL;
        if (strcmp(r->type, "extent_change") == 0 &&
            json_parse(r->fields, strlen(r->fields), &f) == RL_OK) {
            sb_printf(b, ",{\"from\":\"%s\",\"hundredths\":%lld}", r->effective,
                      (long long)json_pct(f, "extent_pct", e->extent));
            changed = true;
        } else if (strcmp(r->type, "tax_change") == 0 &&
                   json_parse(r->fields, strlen(r->fields), &f) == RL_OK) {
            /* The tax in force at the end of the period applies to the whole month. */
            tax_fixed = json_pct(f, "tax_fixed_pct", -1);
            tax_table = (int)json_num(f, "tax_table", 0);
            tax_column = (int)json_num(f, "tax_column", 0);
            changed = true;
        }
        json_free(f);
    }
    if (tax_fixed >= 0)
        sb_printf(b, "],\"tax\":{\"fixed_hundredths\":%lld}", (long long)tax_fixed);
    else
        sb_printf(b, "],\"tax\":{\"table\":%d,\"column\":%d}", tax_table, tax_column);
    sb_put(b, ",\"leaves\":[", 11);
    bool comma = false;
    for (size_t i = first; i < first + count; i++) {
        const reg *r = &rs->r[i];
        json_value *f = NULL;
        if (strcmp(r->type, "leave") == 0 && json_parse(r->fields, strlen(r->fields), &f) == RL_OK) {
            sb_printf(b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"hundredths\":%lld}", comma ? "," : "",
                      r->effective, r->end, (long long)json_pct(f, "extent_pct", 10000));
            comma = true;
        }
        json_free(f);
    }
    sb_put(b, "],\"one_offs\":[", 14);
    comma = false;
    for (size_t i = first; i < first + count; i++) {
        const reg *r = &rs->r[i];
        json_value *f = NULL;
        /* A one-off is paid in the run of its period (or of the day it was recorded). */
        if (strcmp(r->type, "one_off") == 0 && strncmp(r->effective, period, 7) == 0 &&
            json_parse(r->fields, strlen(r->fields), &f) == RL_OK) {
            sb_printf(b, "%s{\"amount_ore\":%lld,\"pay_code\":", comma ? "," : "",
                      (long long)json_num(f, "amount_ore", 0));
            sb_str(b, json_string(json_get(f, "pay_code"), NULL) ? json_string(json_get(f, "pay_code"), NULL) : "");
            sb_put(b, ",\"reason\":", 10);
            sb_str(b, json_string(json_get(f, "reason"), NULL) ? json_string(json_get(f, "reason"), NULL) : "");
            sb_printf(b, ",\"period\":\"%s\"}", json_string(json_get(f, "period"), NULL) ? json_string(json_get(f, "period"), NULL) : "");
            comma = true;
        }
        json_free(f);
    }
    sb_printf(b, "],\"changed\":%s,\"last\":", changed ? "true" : "false");
    if (e->has_last)
        sb_printf(b, "{\"gross_ore\":%lld,\"tax_ore\":%lld,\"deductions_ore\":%lld,\"net_ore\":%lld}}",
                  (long long)e->last_gross, (long long)e->last_tax, (long long)e->last_ded,
                  (long long)e->last_net);
    else
        sb_put(b, "null}", 5);
    *changed_out = changed;
}

/* --- create ------------------------------------------------------------------------------ */

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static void today_iso(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm); /* the workstation's calendar day */
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int64_t scalar(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Sums the rules' lines by category; RL_EDATA for a code outside GROSS_*, TAX, DED_*, NOTE. */
static int sum_lines(const rules_line *l, size_t n, int64_t *gross, int64_t *tax, int64_t *ded,
                     sbuf *notes, sbuf *lines_json)
{
    *gross = *tax = *ded = 0;
    notes->len = 0;
    lines_json->len = 0;
    sb_put(lines_json, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(l[i].code, "GROSS_", 6) == 0)
            *gross += l[i].amount_ore;
        else if (strcmp(l[i].code, "TAX") == 0)
            *tax += l[i].amount_ore;
        else if (strncmp(l[i].code, "DED_", 4) == 0)
            *ded += l[i].amount_ore;
        else if (strcmp(l[i].code, "NOTE") == 0) {
            if (notes->len)
                sb_put(notes, "; ", 2);
            sb_put(notes, l[i].text, strlen(l[i].text));
            continue;
        } else
            return err_set(RL_EDATA, "the rules returned a line with code '%.24s' (allowed: "
                                     "GROSS_*, TAX, DED_*, NOTE)",
                           l[i].code);
        sb_printf(lines_json, "%s{\"code\":", lines_json->len > 1 ? "," : "");
        sb_str(lines_json, l[i].code);
        sb_printf(lines_json, ",\"amount_ore\":%lld,\"text\":", (long long)l[i].amount_ore);
        sb_str(lines_json, l[i].text);
        sb_put(lines_json, "}", 1);
    }
    sb_put(lines_json, "]", 1);
    return RL_OK;
}

typedef struct {
    int64_t gross, tax, ded, net, last_net;
    int64_t employments, paid;
} totals;

int payrun_create(vault *v, const payrun_params *p, FILE *progress, int64_t *id)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *q = NULL, *ins = NULL;
    rules *r = NULL;
    tax_tables tt;
    regs rs = {0};
    sbuf in = {0}, notes = {0}, lines_json = {0}, warn = {0};
    rules_line *lines = NULL;
    totals t = {0};
    int in_tx = 0;
    int rc;
    memset(&tt, 0, sizeof tt);
    if ((rc = vault_require_role(v, VAULT_ROLE_REGISTRAR | VAULT_ROLE_APPROVER,
                                 "creating a pay run")) != RL_OK)
        return rc;
    if (field_period(p->period, strlen(p->period)) != RL_OK)
        return err_wrap(RL_EDATA, "--period: ");
    if (field_date(p->pay_date, strlen(p->pay_date)) != RL_OK)
        return err_wrap(RL_EDATA, "--pay-date: ");
    char today[11];
    today_iso(today);
    if (strcmp(p->pay_date, today) < 0)
        return err_set(RL_EDATA, "--pay-date %s is in the past (today is %s)", p->pay_date, today);
    if (strcmp(p->policy, "same-as-last") != 0 && strcmp(p->policy, "recalculate") != 0)
        return err_set(RL_EUSAGE, "--policy must be same-as-last or recalculate");
    if (scalar(db, "SELECT count(*) FROM snapshot", NULL) != 1)
        return err_set(RL_EDATA, "the vault holds no snapshot: import one first");
    if (scalar(db, "SELECT count(*) FROM snapshot WHERE last_period >= ?1", p->period) > 0)
        return err_set(RL_EDATA, "period %s is already paid by the main system's last pay run "
                                 "(in the snapshot)", p->period);
    if (scalar(db, "SELECT count(*) FROM payruns WHERE period = ?1 AND status = 'approved'",
               p->period) > 0)
        return err_set(RL_EDATA, "period %s already has an approved emergency pay run", p->period);
    int64_t pending = scalar(db, "SELECT count(*) FROM registrations WHERE status = 'registered'",
                             NULL);
    if (pending > 0 && !p->include_pending)
        return err_set(RL_EDATA,
                       "%lld registration(s) await approval: approve or reject them first, or "
                       "create the pay run with --include-pending (they will not be paid until "
                       "approved)",
                       (long long)pending);

    /* The rules: verified against the vault's rules key before anything runs. */
    char key_text[1024];
    minisig_pubkey pk;
    rc = vault_config_get(v, "rules_pubkey", key_text, sizeof key_text);
    if (rc == RL_EDATA)
        return err_set(RL_EDATA, "no pay-rules key is configured: an administrator sets it with "
                                 "'config set-rules-key FILE'");
    if (rc != RL_OK || (rc = minisig_pubkey_parse(key_text, strlen(key_text), &pk)) != RL_OK)
        return rc;
    rules_limits lim = {p->max_instructions ? p->max_instructions : RULES_DEFAULT_INSTRUCTIONS,
                        p->max_memory ? p->max_memory : RULES_DEFAULT_MEMORY,
                        RULES_DEFAULT_SECONDS};
    if ((rc = rules_load(p->rules_path, &pk, &lim, &r)) != RL_OK)
        goto cleanup;
    uint8_t rh[32];
    char rules_hex[65];
    rules_sha256(r, rh);
    sodium_bin2hex(rules_hex, sizeof rules_hex, rh, sizeof rh);
    if ((rc = tax_load(v, &tt)) != RL_OK || (rc = regs_load(v, &rs)) != RL_OK)
        goto cleanup;
    rules_set_tax(r, tax_lookup, &tt);
    lines = calloc(MAX_LINES, sizeof *lines);
    if (lines == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    int y = atoi(p->period), m = atoi(p->period + 5);
    int dim = days_in_month(y, m);
    char run_json[256];
    snprintf(run_json, sizeof run_json,
             "{\"policy\":\"%s\",\"period\":\"%s\",\"pay_date\":\"%s\",\"first_day\":\"%s-01\","
             "\"last_day\":\"%s-%02d\",\"days_in_month\":%d}",
             p->policy, p->period, p->pay_date, p->period, p->period, dim, dim);

    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = 1;
    char at[21];
    vault_now(at);
    int src = sqlite3_prepare_v2(
        db,
        "INSERT INTO payruns(period, pay_date, policy, status, created_by, created_at,"
        " rules_sha256, employments, paid, gross_ore, tax_ore, deductions_ore, net_ore,"
        " last_net_ore, pending_ignored, second_needed) VALUES(?,?,?,'created',?,?,?,0,0,0,0,0,0,0,?,0)",
        -1, &ins, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(ins, 1, p->period, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, p->pay_date, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, p->policy, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, vault_operator(v), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, at, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, rules_hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 7, pending);
        src = sqlite3_step(ins);
    }
    sqlite3_finalize(ins);
    ins = NULL;
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "creating the pay run");
        goto cleanup;
    }
    int64_t run_id = sqlite3_last_insert_rowid(db);

    /* Every employment: the snapshot's and approved hires', with the person's bank account
     * after approved bank changes and the protection flag. */
    src = sqlite3_prepare_v2(
        db,
        "WITH emp AS ("
        "  SELECT e.employment_id AS id, e.pnr, e.start_date, e.end_date, e.pay_type,"
        "   coalesce(e.monthly_salary_ore, e.hourly_rate_ore) AS salary, e.extent_hundredths AS"
        "   extent, e.tax_table, e.tax_column, coalesce(e.tax_fixed_hundredths, -1) AS fixed,"
        "   0 AS hired FROM employments e"
        "  UNION ALL SELECT employment_id, pnr, effective_date, end_date,"
        "   json_extract(fields,'$.pay_type'), coalesce(json_extract(fields,"
        "   '$.monthly_salary_ore'), json_extract(fields,'$.hourly_rate_ore')),"
        "   CAST(round(CAST(json_extract(fields,'$.extent_pct') AS REAL) * 100) AS INTEGER),"
        "   json_extract(fields,'$.tax_table'), json_extract(fields,'$.tax_column'),"
        "   coalesce(CAST(round(CAST(json_extract(fields,'$.tax_fixed_pct') AS REAL) * 100)"
        "   AS INTEGER), -1), 1 FROM registrations WHERE type='hire' AND status IN"
        "   ('approved','exported') AND uuid NOT IN (SELECT corrects FROM registrations WHERE"
        "   corrects IS NOT NULL AND status IN ('approved','exported')))"
        " SELECT emp.*, l.gross_ore, l.tax_ore, l.deductions_ore, l.net_ore,"
        "  coalesce(p.protected, json_extract(h.fields, '$.protected_identity'), 0),"
        /* An approved bank change (or its approved correction) gives an account. */
        "  CASE WHEN EXISTS (SELECT 1 FROM registrations b WHERE b.pnr = emp.pnr AND"
        "   b.type = 'bank_change' AND b.status IN ('approved','exported')) THEN 1"
        "       WHEN p.pnr IS NOT NULL THEN (p.clearing IS NOT NULL OR p.iban IS NOT NULL)"
        "       ELSE (json_extract(h.fields,'$.clearing') IS NOT NULL OR"
        "             json_extract(h.fields,'$.iban') IS NOT NULL) END"
        " FROM emp LEFT JOIN last_payrun l ON l.employment_id = emp.id"
        " LEFT JOIN employees p ON p.pnr = emp.pnr"
        " LEFT JOIN registrations h ON h.type = 'hire' AND h.employment_id = emp.id AND"
        "  h.status IN ('approved','exported')",
        -1, &q, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "INSERT INTO payrun_results VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1,
                                 &ins, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "creating the pay run");
        goto cleanup;
    }
    int64_t protected_paid = 0, total_rows = scalar(db, "SELECT count(*) FROM employments", NULL);
    bool tty = progress && isatty(fileno(progress));
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        employment e = {0};
        e.id = (const char *)sqlite3_column_text(q, 0);
        e.pnr = (const char *)sqlite3_column_text(q, 1);
        e.start = (const char *)sqlite3_column_text(q, 2);
        e.end = (const char *)sqlite3_column_text(q, 3);
        e.pay_type = (const char *)sqlite3_column_text(q, 4);
        e.salary = sqlite3_column_int64(q, 5);
        e.extent = sqlite3_column_int64(q, 6);
        e.tax_table = sqlite3_column_int(q, 7);
        e.tax_column = sqlite3_column_int(q, 8);
        e.tax_fixed = sqlite3_column_int64(q, 9);
        e.hired = sqlite3_column_int(q, 10) != 0;
        e.has_last = sqlite3_column_type(q, 11) != SQLITE_NULL;
        e.last_gross = sqlite3_column_int64(q, 11);
        e.last_tax = sqlite3_column_int64(q, 12);
        e.last_ded = sqlite3_column_int64(q, 13);
        e.last_net = sqlite3_column_int64(q, 14);
        int prot = sqlite3_column_int(q, 15);
        int has_bank = sqlite3_column_int(q, 16);
        bool changed;
        char eff_end[11];
        build_input(&in, run_json, p->period, &e, &rs, &changed, eff_end, sizeof eff_end);
        if (in.oom) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto cleanup;
        }
        size_t n = 0;
        if ((rc = rules_call(r, "pay", in.buf, in.len, lines, MAX_LINES, &n)) != RL_OK) {
            err_wrap(RL_EDATA, "pay run aborted at employment %s (nothing was written): ", e.id);
            rc = RL_EDATA;
            goto cleanup;
        }
        int64_t gross, tax, ded;
        if ((rc = sum_lines(lines, n, &gross, &tax, &ded, &notes, &lines_json)) != RL_OK) {
            err_wrap(RL_EDATA, "pay run aborted at employment %s (nothing was written): ", e.id);
            goto cleanup;
        }
        int64_t net = gross - tax - ded;
        int64_t last_net = e.has_last ? e.last_net : 0;
        warn.len = 0;
        if (net < 0)
            sb_printf(&warn, "negative net; ");
        if (last_net > 0 && net > 2 * last_net)
            sb_printf(&warn, "net more than twice the last run's; ");
        if (net > 0 && !has_bank)
            sb_printf(&warn, "no bank account: cannot be paid by file; ");
        if (net > 0 && prot > 0)
            protected_paid++;
        if (notes.oom || lines_json.oom || warn.oom) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto cleanup;
        }
        sqlite3_bind_int64(ins, 1, run_id);
        sqlite3_bind_text(ins, 2, e.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, e.pnr, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, gross);
        sqlite3_bind_int64(ins, 5, tax);
        sqlite3_bind_int64(ins, 6, ded);
        sqlite3_bind_int64(ins, 7, net);
        sqlite3_bind_int64(ins, 8, last_net);
        sqlite3_bind_text(ins, 9, lines_json.buf, (int)lines_json.len, SQLITE_STATIC);
        sqlite3_bind_text(ins, 10, notes.len ? notes.buf : "", (int)notes.len, SQLITE_STATIC);
        sqlite3_bind_text(ins, 11, warn.len ? warn.buf : "", warn.len ? (int)warn.len - 2 : 0,
                          SQLITE_STATIC);
        if ((src = sqlite3_step(ins)) != SQLITE_DONE) {
            rc = vault_sql_error(v, src, "storing the pay run");
            goto cleanup;
        }
        sqlite3_reset(ins);
        t.employments++;
        if (gross != 0 || net != 0)
            t.paid++;
        t.gross += gross;
        t.tax += tax;
        t.ded += ded;
        t.net += net;
        t.last_net += last_net;
        if (tty && (t.employments & 4095) == 0 && total_rows > 0) {
            fprintf(progress, "\rpay run: %lld employments", (long long)t.employments);
            fflush(progress);
        }
    }
    if (tty)
        fprintf(progress, "\r%*s\r", 40, "");
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "creating the pay run");
        goto cleanup;
    }
    /* Totals, and whether a second approver is needed (net total moved more than the
     * configured share from the last run's). */
    char pct_text[32];
    int64_t pct = DEFAULT_SECOND_PCT;
    if (vault_config_get(v, "payrun.second_approval_pct", pct_text, sizeof pct_text) == RL_OK)
        pct = atoll(pct_text);
    int64_t diff = t.net - t.last_net;
    bool second = llabs(diff) * 100 > pct * llabs(t.last_net);
    sqlite3_finalize(ins);
    ins = NULL;
    src = sqlite3_prepare_v2(db,
                             "UPDATE payruns SET employments=?, paid=?, gross_ore=?, tax_ore=?,"
                             " deductions_ore=?, net_ore=?, last_net_ore=?, second_needed=?"
                             " WHERE id=?",
                             -1, &ins, NULL);
    if (src == SQLITE_OK) {
        int64_t vals[] = {t.employments, t.paid, t.gross, t.tax, t.ded, t.net, t.last_net,
                          second ? 1 : 0, run_id};
        for (int i = 0; i < 9; i++)
            sqlite3_bind_int64(ins, i + 1, vals[i]);
        src = sqlite3_step(ins);
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "storing the pay run");
        goto cleanup;
    }
    char detail[400];
    snprintf(detail, sizeof detail,
             "pay run %lld created: period %s, pay date %s, policy %s, %lld employments, %lld "
             "paid, net %lld ore (last %lld), rules sha256 %s, %lld protected identities paid",
             (long long)run_id, p->period, p->pay_date, p->policy, (long long)t.employments,
             (long long)t.paid, (long long)t.net, (long long)t.last_net, rules_hex,
             (long long)protected_paid);
    if ((rc = vault_audit(v, "payrun.create", detail)) != RL_OK || (rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = 0;
    *id = run_id;
cleanup:
    if (in_tx)
        vault_rollback(v);
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    rules_free(r);
    tax_free(&tt);
    regs_free(&rs);
    free(in.buf);
    free(notes.buf);
    free(lines_json.buf);
    free(warn.buf);
    free(lines);
    return rc;
}

/* --- review ------------------------------------------------------------------------------ */

static void money(FILE *out, int64_t ore)
{
    char buf[32];
    field_money_format(ore, buf);
    fputs(buf, out);
}

static void csv_field(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

#define TEXT_LIST_MAX 200

int payrun_show(vault *v, int64_t id, int format, FILE *out)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *h = NULL, *q = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT period, pay_date, policy, status, created_by, created_at,"
                                 " rules_sha256, employments, paid, gross_ore, tax_ore,"
                                 " deductions_ore, net_ore, last_net_ore, pending_ignored,"
                                 " second_needed, coalesce(approved_by,''),"
                                 " coalesce(approved2_by,'') FROM payruns WHERE id=?",
                                 -1, &h, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading the pay run");
    sqlite3_bind_int64(h, 1, id);
    src = sqlite3_step(h);
    if (src != SQLITE_ROW) {
        sqlite3_finalize(h);
        return src == SQLITE_DONE ? err_set(RL_EDATA, "no pay run %lld", (long long)id)
                                  : vault_sql_error(v, src, "reading the pay run");
    }
    const char *period = (const char *)sqlite3_column_text(h, 0);
    const char *status = (const char *)sqlite3_column_text(h, 3);
    int64_t gross = sqlite3_column_int64(h, 9), tax = sqlite3_column_int64(h, 10),
            ded = sqlite3_column_int64(h, 11), net = sqlite3_column_int64(h, 12),
            last = sqlite3_column_int64(h, 13);
    src = sqlite3_prepare_v2(
        db,
        "SELECT r.employment_id, r.pnr, r.gross_ore, r.tax_ore, r.deductions_ore, r.net_ore,"
        " r.last_net_ore, r.notes, r.warnings, r.lines,"
        " coalesce(e.protected, (SELECT json_extract(fields,'$.protected_identity') FROM"
        "  registrations WHERE type='hire' AND employment_id = r.employment_id LIMIT 1), 0)"
        " FROM payrun_results r LEFT JOIN employees e ON e.pnr = r.pnr"
        " WHERE r.payrun_id = ? ORDER BY r.employment_id",
        -1, &q, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the pay run");
        goto cleanup;
    }
    sqlite3_bind_int64(q, 1, id);
    if (format == 2) {
        fprintf(out, "employment_id,personnummer,gross_ore,tax_ore,deductions_ore,net_ore,"
                     "last_net_ore,difference_ore,notes,warnings\n");
        while ((src = sqlite3_step(q)) == SQLITE_ROW) {
            const char *pnr = (const char *)sqlite3_column_text(q, 1);
            char shown[16];
            snprintf(shown, sizeof shown, sqlite3_column_int(q, 10) > 0 ? "%.8s-****" : "%.8s-%.4s",
                     pnr, pnr + 8);
            fprintf(out, "%s,%s,%lld,%lld,%lld,%lld,%lld,%lld,", sqlite3_column_text(q, 0), shown,
                    (long long)sqlite3_column_int64(q, 2), (long long)sqlite3_column_int64(q, 3),
                    (long long)sqlite3_column_int64(q, 4), (long long)sqlite3_column_int64(q, 5),
                    (long long)sqlite3_column_int64(q, 6),
                    (long long)(sqlite3_column_int64(q, 5) - sqlite3_column_int64(q, 6)));
            csv_field(out, (const char *)sqlite3_column_text(q, 7));
            fputc(',', out);
            csv_field(out, (const char *)sqlite3_column_text(q, 8));
            fputc('\n', out);
        }
        goto done;
    }
    if (format == 1) {
        fprintf(out, "{\"id\":%lld,\"period\":\"%s\",\"pay_date\":\"%s\",\"policy\":\"%s\","
                     "\"status\":\"%s\",\"created_by\":",
                (long long)id, period, sqlite3_column_text(h, 1), sqlite3_column_text(h, 2),
                status);
        json_write_string(out, (const char *)sqlite3_column_text(h, 4));
        fprintf(out, ",\"created_at\":\"%s\",\"rules_sha256\":\"%s\",\"employments\":%lld,"
                     "\"paid\":%lld,\"totals\":{\"gross_ore\":%lld,\"tax_ore\":%lld,"
                     "\"deductions_ore\":%lld,\"net_ore\":%lld,\"last_net_ore\":%lld,"
                     "\"difference_ore\":%lld},\"pending_registrations_not_paid\":%lld,"
                     "\"second_approval_needed\":%s,\"approved_by\":",
                sqlite3_column_text(h, 5), sqlite3_column_text(h, 6),
                (long long)sqlite3_column_int64(h, 7), (long long)sqlite3_column_int64(h, 8),
                (long long)gross, (long long)tax, (long long)ded, (long long)net, (long long)last,
                (long long)(net - last), (long long)sqlite3_column_int64(h, 14),
                sqlite3_column_int(h, 15) ? "true" : "false");
        json_write_string(out, (const char *)sqlite3_column_text(h, 16));
        fprintf(out, ",\"approved2_by\":");
        json_write_string(out, (const char *)sqlite3_column_text(h, 17));
        fprintf(out, ",\"changed\":[");
    } else {
        fprintf(out, "pay run %lld: period %s, pay date %s, policy %s, status %s\n",
                (long long)id, period, sqlite3_column_text(h, 1), sqlite3_column_text(h, 2),
                status);
        fprintf(out, "created by %s at %s; rules sha256 %.16s...\n", sqlite3_column_text(h, 4),
                sqlite3_column_text(h, 5), sqlite3_column_text(h, 6));
        fprintf(out, "employments %lld, paid %lld\n", (long long)sqlite3_column_int64(h, 7),
                (long long)sqlite3_column_int64(h, 8));
        fprintf(out, "%-12s %20s\n", "", "SEK");
        const char *names[] = {"gross", "tax", "deductions", "net", "last run net", "difference"};
        int64_t vals[] = {gross, tax, ded, net, last, net - last};
        for (int i = 0; i < 6; i++) {
            char buf[32];
            field_money_format(vals[i], buf);
            fprintf(out, "%-12s %20s\n", names[i], buf);
        }
        if (sqlite3_column_int64(h, 14) > 0)
            fprintf(out, "note: %lld registration(s) were awaiting approval and are not paid\n",
                    (long long)sqlite3_column_int64(h, 14));
        fprintf(out, "release: %s\n",
                strcmp(status, "approved") == 0 ? "approved (released)"
                : sqlite3_column_int(h, 15)
                    ? "needs two approvers other than the creator (the net total differs from "
                      "the last run by more than the configured share)"
                    : "needs one approver other than the creator");
        fprintf(out, "changed employments (net differs from the last run):\n");
    }
    int64_t changed = 0, warned = 0, protected_paid = 0;
    sbuf warnings = {0};
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        const char *emp = (const char *)sqlite3_column_text(q, 0);
        const char *pnr = (const char *)sqlite3_column_text(q, 1);
        int64_t n = sqlite3_column_int64(q, 5), l = sqlite3_column_int64(q, 6);
        const char *notes = (const char *)sqlite3_column_text(q, 7);
        const char *w = (const char *)sqlite3_column_text(q, 8);
        bool prot = sqlite3_column_int(q, 10) > 0;
        char shown[16];
        snprintf(shown, sizeof shown, prot ? "%.8s-****" : "%.8s-%.4s", pnr, pnr + 8);
        if (prot && n > 0)
            protected_paid++;
        if (w[0]) {
            warned++;
            if (format == 1) {
                sb_printf(&warnings, "%s{\"employment_id\":", warned > 1 ? "," : "");
                sb_str(&warnings, emp);
                sb_printf(&warnings, ",\"personnummer\":\"%s\",\"warning\":", shown);
                sb_str(&warnings, w);
                sb_put(&warnings, "}", 1);
            } else if (warned <= TEXT_LIST_MAX) {
                sb_printf(&warnings, "  %-14s %s  %s\n", emp, shown, w);
            }
        }
        if (n == l)
            continue;
        changed++;
        if (format == 1) {
            fprintf(out, "%s{\"employment_id\":", changed > 1 ? "," : "");
            json_write_string(out, emp);
            fprintf(out, ",\"personnummer\":\"%s\",\"net_ore\":%lld,\"last_net_ore\":%lld,"
                         "\"difference_ore\":%lld,\"why\":",
                    shown, (long long)n, (long long)l, (long long)(n - l));
            json_write_string(out, notes);
            fprintf(out, ",\"lines\":%s}", sqlite3_column_text(q, 9));
        } else if (changed <= TEXT_LIST_MAX) {
            fprintf(out, "  %-14s %s  ", emp, shown);
            money(out, l);
            fprintf(out, " -> ");
            money(out, n);
            fprintf(out, " (%s", n - l >= 0 ? "+" : "");
            money(out, n - l);
            fprintf(out, ")  %s\n", notes[0] ? notes : "");
        }
    }
    if (format == 1) {
        fprintf(out, "],\"warnings\":[%s],\"protected_identities_paid\":%lld}\n",
                warnings.buf ? warnings.buf : "", (long long)protected_paid);
    } else {
        if (changed > TEXT_LIST_MAX)
            fprintf(out, "  ... and %lld more (see --csv)\n", (long long)(changed - TEXT_LIST_MAX));
        fprintf(out, "  %lld employment(s) changed\n", (long long)changed);
        fprintf(out, "warnings:\n%s", warnings.buf ? warnings.buf : "");
        if (warned > TEXT_LIST_MAX)
            fprintf(out, "  ... and %lld more (see --csv)\n", (long long)(warned - TEXT_LIST_MAX));
        fprintf(out, "  %lld warning(s); %lld person(s) with protected identity paid (not shown "
                     "by name)\n",
                (long long)warned, (long long)protected_paid);
    }
    free(warnings.buf);
done:
    if (src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "reading the pay run");
cleanup:
    sqlite3_finalize(h);
    sqlite3_finalize(q);
    return rc;
}

/* --- release ----------------------------------------------------------------------------- */

int payrun_approve(vault *v, int64_t id, char status_out[16])
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *st = NULL;
    int rc = vault_require_role(v, VAULT_ROLE_APPROVER, "approving a pay run");
    if (rc != RL_OK)
        return rc;
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT status, created_by, coalesce(approved_by,''),"
                                 " second_needed, period FROM payruns WHERE id=?",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "approving");
        goto cleanup;
    }
    sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? err_set(RL_EDATA, "no pay run %lld", (long long)id)
                                : vault_sql_error(v, src, "approving");
        goto cleanup;
    }
    char status[16], creator[80], first[80], period[8];
    snprintf(status, sizeof status, "%s", sqlite3_column_text(st, 0));
    snprintf(creator, sizeof creator, "%s", sqlite3_column_text(st, 1));
    snprintf(first, sizeof first, "%s", sqlite3_column_text(st, 2));
    int second = sqlite3_column_int(st, 3);
    snprintf(period, sizeof period, "%s", sqlite3_column_text(st, 4));
    sqlite3_finalize(st);
    st = NULL;
    const char *me = vault_operator(v);
    if (strcmp(status, "approved") == 0) {
        rc = err_set(RL_EDATA, "pay run %lld is already approved", (long long)id);
        goto cleanup;
    }
    if (strcmp(me, creator) == 0) {
        rc = err_set(RL_EAUTH, "pay run %lld was created by %s: another approver must release it",
                     (long long)id, creator);
        goto cleanup;
    }
    if (strcmp(status, "approved1") == 0 && strcmp(me, first) == 0) {
        rc = err_set(RL_EAUTH, "pay run %lld was already approved by %s: the second approval "
                               "must come from a different approver",
                     (long long)id, first);
        goto cleanup;
    }
    int64_t other = scalar(db, "SELECT count(*) FROM payruns WHERE status='approved' AND period=?1",
                           period);
    if (other > 0) {
        rc = err_set(RL_EDATA, "period %s already has an approved pay run", period);
        goto cleanup;
    }
    char at[21];
    vault_now(at);
    const char *next = (strcmp(status, "created") == 0 && second) ? "approved1" : "approved";
    src = sqlite3_prepare_v2(db,
                             strcmp(status, "created") == 0
                                 ? "UPDATE payruns SET status=?1, approved_by=?2, approved_at=?3"
                                   " WHERE id=?4"
                                 : "UPDATE payruns SET status=?1, approved2_by=?2,"
                                   " approved2_at=?3 WHERE id=?4",
                             -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, next, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, me, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, id);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "approving");
        goto cleanup;
    }
    char detail[300];
    if (strcmp(status, "created") == 0)
        snprintf(detail, sizeof detail, "pay run %lld (period %s) approved by %s, created by %s%s",
                 (long long)id, period, me, creator,
                 second ? "; a second approver is required" : "; released");
    else
        snprintf(detail, sizeof detail,
                 "pay run %lld (period %s) second approval by %s after %s, created by %s; "
                 "released",
                 (long long)id, period, me, first, creator);
    if ((rc = vault_audit(v, "payrun.approve", detail)) != RL_OK)
        goto cleanup;
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = vault_commit(v)) != RL_OK)
        return rc;
    snprintf(status_out, 16, "%s", next);
    return RL_OK;
cleanup:
    sqlite3_finalize(st);
    vault_rollback(v);
    return rc;
}
