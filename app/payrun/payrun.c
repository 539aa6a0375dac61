/* payrun: gathering each employment's data, running the pay rules over it, storing and
 * reviewing the result, and the two-person release (see payrun.h). */
#include "payrun/payrun.h"

#include <pthread.h>
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
#include "payrun/lineset.h"
#include "rules/rules.h"
#include "sig/minisig.h"
#include "vault/keyconf.h"

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
    /* What the rules' input takes from the document's fields, decoded once when loaded (it
     * was parsed per employment and per run before). parsed: the fields were valid JSON; a
     * document whose fields are not adds nothing but a termination's date. */
    bool parsed;
    int64_t salary;          /* salary_change: monthly or hourly öre; -1 if neither */
    int64_t extent;          /* extent_change: hundredths; -1: the employment's own */
    int64_t tax_fixed;       /* tax_change: hundredths, or -1 with table and column */
    int tax_table, tax_column;
    int64_t leave;           /* leave: hundredths of full time */
    int64_t amount;          /* one_off: öre (negative: a deduction) */
    char *pay_code, *reason, *period; /* one_off; "" when absent */
} reg;

typedef struct {
    reg *r;
    size_t n;
} regs;

static void regs_free(regs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->r[i].pay_code);
        free(rs->r[i].reason);
        free(rs->r[i].period);
    }
    free(rs->r);
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

/* A text field of a one-off, "" if absent; NULL if out of memory. */
static char *json_text(const json_value *f, const char *key)
{
    const char *s = json_string(json_get(f, key), NULL);
    return strdup(s ? s : "");
}

/* Fills r's decoded fields from the document's JSON fields. */
static int reg_decode(reg *r, const char *fields)
{
    json_value *f = NULL;
    r->parsed = json_parse(fields, strlen(fields), &f) == RL_OK;
    if (!r->parsed)
        return RL_OK;
    r->salary = json_num(f, "monthly_salary_ore", json_num(f, "hourly_rate_ore", -1));
    r->extent = json_pct(f, "extent_pct", -1);
    r->tax_fixed = json_pct(f, "tax_fixed_pct", -1);
    r->tax_table = (int)json_num(f, "tax_table", 0);
    r->tax_column = (int)json_num(f, "tax_column", 0);
    r->leave = json_pct(f, "extent_pct", 10000);
    int rc = RL_OK;
    if (strcmp(r->type, "one_off") == 0) {
        r->amount = json_num(f, "amount_ore", 0);
        r->pay_code = json_text(f, "pay_code");
        r->reason = json_text(f, "reason");
        r->period = json_text(f, "period");
        if (r->pay_code == NULL || r->reason == NULL || r->period == NULL)
            rc = err_set(RL_ENOMEM, "out of memory");
    }
    json_free(f);
    return rc;
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
        memset(r, 0, sizeof *r);
        snprintf(r->employment_id, sizeof r->employment_id, "%s", sqlite3_column_text(st, 0));
        snprintf(r->type, sizeof r->type, "%s", sqlite3_column_text(st, 1));
        snprintf(r->effective, sizeof r->effective, "%s", sqlite3_column_text(st, 2));
        snprintf(r->end, sizeof r->end, "%s", sqlite3_column_text(st, 3));
        rs->n++; /* counted first: regs_free then frees what reg_decode made */
        const unsigned char *fields = sqlite3_column_text(st, 4);
        int rc = reg_decode(r, fields ? (const char *)fields : "");
        if (rc != RL_OK) {
            sqlite3_finalize(st);
            return rc;
        }
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

/* --- every employment, with what the rules and the warnings need ------------------------- */

/* Per person: protected identity and whether the snapshot holds an account. Loaded once in
 * pnr order so the pay run looks people up in memory instead of joining per employment
 * (the joins cost more than the rules did at 100 000 employments). People are keyed by
 * the personnummer's 12 digits as a number (a bisection over the strings with strcmp was
 * 4 % of the run) and found through a hash index. */
typedef struct {
    uint64_t key;
    uint8_t protected_id, has_account;
} person;

typedef struct {
    person *p;
    size_t n;
    uint64_t *bank; /* people with an approved bank change, sorted */
    size_t nbank;
    /* A hash index over p (index + 1 per slot, 0 empty; keyed SipHash): at 1,000,000 people
     * a bisection's cache misses made the lookups a tenth of this thread's time. */
    uint32_t *slot;
    size_t mask;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
} people;

static void people_free(people *ps)
{
    free(ps->p);
    free(ps->bank);
    free(ps->slot);
}

static size_t person_hash(const people *ps, uint64_t key)
{
    uint8_t in[8], h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(key >> (8 * i));
    crypto_shorthash(h, in, sizeof in, ps->hkey);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[i] << (8 * i);
    return (size_t)v;
}

static int people_index(people *ps)
{
    size_t size = 16;
    while (size / 2 < ps->n)
        size *= 2;
    if (ps->n >= UINT32_MAX || (ps->slot = calloc(size, sizeof *ps->slot)) == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    ps->mask = size - 1;
    crypto_shorthash_keygen(ps->hkey);
    for (size_t i = 0; i < ps->n; i++) {
        size_t j = person_hash(ps, ps->p[i].key) & ps->mask;
        while (ps->slot[j] != 0)
            j = (j + 1) & ps->mask;
        ps->slot[j] = (uint32_t)i + 1;
    }
    return RL_OK;
}

/* The key of a personnummer (12 digits, as the vault stores every one); false otherwise. */
static bool pnr_key(const unsigned char *s, uint64_t *key)
{
    uint64_t k = 0;
    for (int i = 0; i < 12; i++) {
        if (s == NULL || s[i] < '0' || s[i] > '9')
            return false;
        k = k * 10 + (uint64_t)(s[i] - '0');
    }
    *key = k;
    return s[12] == '\0';
}

static int pnr_stored(const unsigned char *s, uint64_t *key)
{
    return pnr_key(s, key) ? RL_OK
                           : err_set(RL_EINTEGRITY, "the vault holds a malformed personnummer");
}

static int people_load(vault *v, people *ps)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = RL_OK;
    memset(ps, 0, sizeof *ps);
    /* Both queries return pnr order (the employees primary key, an explicit ORDER BY). */
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT pnr, protected, clearing IS NOT NULL OR iban IS NOT NULL"
                                 " FROM employees ORDER BY pnr",
                                 -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (ps->n == cap) {
            cap = cap ? cap * 2 : 4096;
            person *p = realloc(ps->p, cap * sizeof *p);
            if (p == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            ps->p = p;
        }
        person *p = &ps->p[ps->n];
        if ((rc = pnr_stored(sqlite3_column_text(st, 0), &p->key)) != RL_OK)
            goto cleanup;
        p->protected_id = sqlite3_column_int(st, 1) != 0;
        p->has_account = sqlite3_column_int(st, 2) != 0;
        ps->n++;
    }
    if (src != SQLITE_DONE) { /* SQLITE_OK here: the statement did not compile */
        rc = vault_sql_error(v, src, "reading employees");
        goto cleanup;
    }
    if ((rc = people_index(ps)) != RL_OK)
        goto cleanup;
    sqlite3_finalize(st);
    st = NULL;
    cap = 0;
    src = sqlite3_prepare_v2(vault_db(v),
                             "SELECT DISTINCT pnr FROM registrations WHERE type = 'bank_change'"
                             " AND status IN ('approved','exported') ORDER BY pnr",
                             -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (ps->nbank == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *b = realloc(ps->bank, cap * sizeof *b);
            if (b == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            ps->bank = b;
        }
        if ((rc = pnr_stored(sqlite3_column_text(st, 0), &ps->bank[ps->nbank])) != RL_OK)
            goto cleanup;
        ps->nbank++;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "reading bank changes");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

static const person *person_find(const people *ps, uint64_t key)
{
    for (size_t j = person_hash(ps, key) & ps->mask; ps->slot[j] != 0; j = (j + 1) & ps->mask)
        if (ps->p[ps->slot[j] - 1].key == key)
            return &ps->p[ps->slot[j] - 1];
    return NULL;
}

static bool bank_changed(const people *ps, uint64_t key)
{
    size_t lo = 0, hi = ps->nbank;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ps->bank[mid] == key)
            return true;
        if (ps->bank[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
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
    bool hire_protected, hire_bank; /* a hire's own: for a person the snapshot lacks */
} employment;

/* Walks the snapshot's employments in id order, merged with the last pay run (same key,
 * same order), then the live approved hires. */
typedef struct {
    sqlite3_stmt *emp, *last, *hire, *last_one;
    int last_row; /* SQLITE_ROW while the last-run cursor holds a row */
    int phase;    /* 0 snapshot employments, 1 hires, 2 done */
} source;

static void source_close(source *s)
{
    sqlite3_finalize(s->emp);
    sqlite3_finalize(s->last);
    sqlite3_finalize(s->hire);
    sqlite3_finalize(s->last_one);
}

static int source_open(vault *v, source *s)
{
    sqlite3 *db = vault_db(v);
    int rc = RL_OK;
    memset(s, 0, sizeof *s);
    int src = sqlite3_prepare_v2(
        db,
        "SELECT employment_id, pnr, start_date, end_date, pay_type,"
        " coalesce(monthly_salary_ore, hourly_rate_ore), extent_hundredths, tax_table,"
        " tax_column, coalesce(tax_fixed_hundredths, -1), 0, 0 FROM employments"
        " ORDER BY employment_id",
        -1, &s->emp, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT employment_id, gross_ore, tax_ore, deductions_ore, net_ore"
                                 " FROM last_payrun ORDER BY employment_id",
                                 -1, &s->last, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT employment_id, gross_ore, tax_ore, deductions_ore, net_ore"
                                 " FROM last_payrun WHERE employment_id = ?1",
                                 -1, &s->last_one, NULL);
    /* A hire's own fields give what the snapshot would: the person may be new. */
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(
            db,
            "SELECT employment_id, pnr, effective_date, end_date,"
            " json_extract(fields,'$.pay_type'), coalesce(json_extract(fields,"
            " '$.monthly_salary_ore'), json_extract(fields,'$.hourly_rate_ore')),"
            " CAST(round(CAST(json_extract(fields,'$.extent_pct') AS REAL) * 100) AS INTEGER),"
            " json_extract(fields,'$.tax_table'), json_extract(fields,'$.tax_column'),"
            " coalesce(CAST(round(CAST(json_extract(fields,'$.tax_fixed_pct') AS REAL) * 100)"
            " AS INTEGER), -1), coalesce(json_extract(fields, '$.protected_identity'), 0),"
            " json_extract(fields,'$.clearing') IS NOT NULL OR json_extract(fields,'$.iban')"
            " IS NOT NULL FROM registrations WHERE type = 'hire' AND status IN"
            " ('approved','exported') AND uuid NOT IN (SELECT corrects FROM registrations WHERE"
            " corrects IS NOT NULL AND status IN ('approved','exported')) ORDER BY employment_id",
            -1, &s->hire, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(s->last);
        s->last_row = src;
        if (src == SQLITE_ROW || src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the employments");
        source_close(s);
    }
    return rc;
}

static void read_last(sqlite3_stmt *st, employment *e)
{
    e->has_last = true;
    e->last_gross = sqlite3_column_int64(st, 1);
    e->last_tax = sqlite3_column_int64(st, 2);
    e->last_ded = sqlite3_column_int64(st, 3);
    e->last_net = sqlite3_column_int64(st, 4);
}

/* The next employment: 1 and *e (valid until the next call), 0 at the end, or an error. */
static int source_next(vault *v, source *s, employment *e)
{
    sqlite3_stmt *q = s->phase == 0 ? s->emp : s->hire;
    int src;
    for (;;) {
        if (s->phase == 2)
            return 0;
        q = s->phase == 0 ? s->emp : s->hire;
        src = sqlite3_step(q);
        if (src == SQLITE_ROW)
            break;
        if (src != SQLITE_DONE)
            return vault_sql_error(v, src, "reading the employments");
        s->phase++;
    }
    memset(e, 0, sizeof *e);
    e->id = (const char *)sqlite3_column_text(q, 0);
    e->pnr = (const char *)sqlite3_column_text(q, 1);
    e->start = (const char *)sqlite3_column_text(q, 2);
    e->end = (const char *)sqlite3_column_text(q, 3);
    e->pay_type = (const char *)sqlite3_column_text(q, 4);
    e->salary = sqlite3_column_int64(q, 5);
    e->extent = sqlite3_column_int64(q, 6);
    e->tax_table = sqlite3_column_int(q, 7);
    e->tax_column = sqlite3_column_int(q, 8);
    e->tax_fixed = sqlite3_column_int64(q, 9);
    e->hired = s->phase == 1;
    if (e->id == NULL || e->pnr == NULL || e->start == NULL || e->pay_type == NULL)
        return err_set(RL_EINTEGRITY, "an employment in the vault lacks its id, person, start "
                                      "date or pay type");
    if (s->phase == 0) {
        /* Merge: both cursors are in employment_id order (BINARY collation = strcmp). */
        while (s->last_row == SQLITE_ROW) {
            int c = strcmp((const char *)sqlite3_column_text(s->last, 0), e->id);
            if (c > 0)
                break;
            if (c == 0) {
                read_last(s->last, e);
                break;
            }
            if ((s->last_row = sqlite3_step(s->last)) != SQLITE_ROW && s->last_row != SQLITE_DONE)
                return vault_sql_error(v, s->last_row, "reading the last pay run");
        }
    } else {
        sqlite3_reset(s->last_one);
        sqlite3_bind_text(s->last_one, 1, e->id, -1, SQLITE_TRANSIENT);
        if ((src = sqlite3_step(s->last_one)) == SQLITE_ROW)
            read_last(s->last_one, e);
        else if (src != SQLITE_DONE)
            return vault_sql_error(v, src, "reading the last pay run");
    }
    e->hire_protected = sqlite3_column_int(q, 10) != 0;
    e->hire_bank = sqlite3_column_int(q, 11) != 0;
    return 1;
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

/* Format-free appends for the per-employment paths (vsnprintf there cost more than the
 * SQL did). */
static void sb_cat(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_int(sbuf *b, int64_t v)
{
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sb_put(b, p, (size_t)(t + sizeof t - p));
}

/* A JSON string; the inputs here are ids, dates and validated text without quotes or
 * control characters, but escape anyway. */
static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    while (*s) {
        size_t n = 0; /* a run that needs no escape goes in one piece */
        while (s[n] && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20)
            n++;
        sb_put(b, s, n);
        s += n;
        if (*s == '"' || *s == '\\') {
            char e[2] = {'\\', *s++};
            sb_put(b, e, 2);
        } else if (*s) {
            sb_printf(b, "\\u%04x", (unsigned char)*s++);
        }
    }
    sb_put(b, "\"", 1);
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

/* One pay line as JSON, as payrun_show prints it (an element of the "lines" array). */
static void line_json(sbuf *b, bool first, const char *code, int64_t amount, const char *text)
{
    sb_cat(b, first ? "{\"code\":" : ",{\"code\":");
    sb_str(b, code);
    sb_cat(b, ",\"amount_ore\":");
    sb_int(b, amount);
    sb_cat(b, ",\"text\":");
    sb_str(b, text);
    sb_put(b, "}", 1);
}

/* How a pay run stores lines: each (code, text) pair once per run in payrun_texts, and per
 * employment "number:amount" for each line, comma-separated ("0:3450000,1:758000"), in
 * the rules' order. The same lines as JSON were three quarters of every stored result:
 * written to the WAL, sealed and checkpointed, they were a quarter of the pay run and
 * made the payment file read three times the pages (docs/performance.md). */
typedef struct {
    lineset *set;
    sqlite3_stmt *ins; /* INSERT INTO payrun_texts */
    vault *v;
    int64_t run_id;
} line_texts;

static int texts_ref(line_texts *tx, const rules_line *l, sbuf *out)
{
    uint32_t idx;
    bool added;
    int rc = lineset_intern(tx->set, l->code, l->text, &idx, &added);
    if (rc != RL_OK)
        return rc;
    if (added) {
        sqlite3_bind_int64(tx->ins, 1, tx->run_id);
        sqlite3_bind_int64(tx->ins, 2, idx);
        sqlite3_bind_text(tx->ins, 3, l->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(tx->ins, 4, l->text, -1, SQLITE_STATIC);
        int src = sqlite3_step(tx->ins);
        sqlite3_reset(tx->ins);
        if (src != SQLITE_DONE)
            return vault_sql_error(tx->v, src, "storing the pay run");
    }
    if (out->len > 0)
        sb_put(out, ",", 1);
    sb_int(out, idx);
    sb_put(out, ":", 1);
    sb_int(out, l->amount_ore);
    return RL_OK;
}

/* Sums the rules' lines by category and appends the notes; the lines go to out in the
 * stored form (tx given) or not at all (out NULL). RL_EDATA for a code outside GROSS_*,
 * TAX, DED_*, NOTE, or an amount beyond what any amount of the appliance may be (the sums
 * of at most MAX_LINES such lines cannot overflow). */
static int sum_lines(const rules_line *l, size_t n, int64_t *gross, int64_t *tax, int64_t *ded,
                     sbuf *notes, sbuf *out, line_texts *tx)
{
    size_t notes0 = notes->len;
    *gross = *tax = *ded = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].code, "NOTE") != 0 &&
            (l[i].amount_ore > FIELD_MAX_ORE || l[i].amount_ore < -FIELD_MAX_ORE))
            return err_set(RL_EDATA, "the rules returned a %s line of %lld öre, beyond the "
                                     "%lld öre an amount may be",
                           l[i].code, (long long)l[i].amount_ore, (long long)FIELD_MAX_ORE);
        if (strncmp(l[i].code, "GROSS_", 6) == 0)
            *gross += l[i].amount_ore;
        else if (strcmp(l[i].code, "TAX") == 0)
            *tax += l[i].amount_ore;
        else if (strncmp(l[i].code, "DED_", 4) == 0)
            *ded += l[i].amount_ore;
        else if (strcmp(l[i].code, "NOTE") == 0) {
            if (notes->len > notes0)
                sb_put(notes, "; ", 2);
            sb_put(notes, l[i].text, strlen(l[i].text));
            continue;
        } else
            return err_set(RL_EDATA, "the rules returned a line with code '%.24s' (allowed: "
                                     "GROSS_*, TAX, DED_*, NOTE)",
                           l[i].code);
        if (out && tx) {
            int rc = texts_ref(tx, &l[i], out);
            if (rc != RL_OK)
                return rc;
        }
    }
    return RL_OK;
}

/* The stored lines of one result as JSON into out: results stored by schema version 2 hold
 * the JSON itself; later ones "number:amount,..." into the run's texts. RL_EINTEGRITY if
 * they are neither. */
static int lines_json(const char *stored, const lineset *set, sbuf *out)
{
    if (stored == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    if (stored[0] == '[') {
        sb_cat(out, stored);
        return RL_OK;
    }
    sb_put(out, "[", 1);
    const char *p = stored;
    for (bool first = true; *p; first = false) {
        if (!first && *p++ != ',')
            return err_set(RL_EINTEGRITY, "malformed stored pay lines");
        uint64_t idx = 0, amount = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && p - d < 10)
            idx = idx * 10 + (uint64_t)(*p++ - '0');
        if (p == d || *p++ != ':')
            return err_set(RL_EINTEGRITY, "malformed stored pay lines");
        bool neg = *p == '-';
        p += neg;
        d = p;
        while (*p >= '0' && *p <= '9' && p - d < 19) /* any int64 the rules may return */
            amount = amount * 10 + (uint64_t)(*p++ - '0');
        const char *code = idx <= UINT32_MAX ? lineset_code(set, (uint32_t)idx) : NULL;
        if (p == d || (*p != ',' && *p != '\0') || code == NULL ||
            amount > (uint64_t)INT64_MAX + neg)
            return err_set(RL_EINTEGRITY, "malformed stored pay lines");
        int64_t a = !neg ? (int64_t)amount
                    : amount > (uint64_t)INT64_MAX ? INT64_MIN
                                                   : -(int64_t)amount;
        line_json(out, first, code, a, lineset_text(set, (uint32_t)idx));
    }
    sb_put(out, "]", 1);
    return RL_OK;
}

/* The texts of pay run id, in number order (RL_EINTEGRITY if the numbers have gaps). */
static int texts_load(vault *v, int64_t id, lineset **out)
{
    sqlite3_stmt *st = NULL;
    lineset *set = NULL;
    int rc = lineset_new(&set);
    int src = rc == RL_OK ? sqlite3_prepare_v2(vault_db(v),
                                               "SELECT idx, code, text FROM payrun_texts WHERE"
                                               " payrun_id = ?1 ORDER BY idx",
                                               -1, &st, NULL)
                          : SQLITE_OK;
    if (rc == RL_OK && src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            uint32_t idx;
            bool added;
            const char *code = (const char *)sqlite3_column_text(st, 1);
            const char *text = (const char *)sqlite3_column_text(st, 2);
            if (code == NULL || text == NULL ||
                (rc = lineset_intern(set, code, text, &idx, &added)) != RL_OK || !added ||
                sqlite3_column_int64(st, 0) != (int64_t)idx) {
                rc = err_set(RL_EINTEGRITY, "pay run %lld: its stored line texts are damaged",
                             (long long)id);
                break;
            }
        }
    }
    if (rc == RL_OK && src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "reading the pay run");
    sqlite3_finalize(st);
    if (rc != RL_OK) {
        lineset_free(set);
        set = NULL;
    }
    *out = set;
    return rc;
}

/* --- the rules on the other cores ------------------------------------------------------ */

/* A pay run is a pipeline: this thread reads employments, builds the rules' input and
 * stores results, while WORKERS threads run the rules, each in its own Lua state loaded
 * from the same verified bytes. Batches of BATCH employments are numbered in input order;
 * batch k goes to worker k % WORKERS and results are stored strictly in order, so the
 * outcome, including the employment at which a rule error or a limit stops the run, is the
 * same on every run and every machine (docs/payrun.md). A worker touches only the batches
 * it is handed, its rules object and the read-only tax tables; SQLite stays on this
 * thread. One worker: the rules take about as long as everything else together, so this
 * thread and one worker keep both cores of the workstation busy; two workers measured no
 * faster on two cores (performance.md) and would split the per-run limits across states. */
#define BATCH 256
#define WORKERS 1
/* Batches in flight: the worker may run up to NBUF - 1 batches ahead of the stores. The
 * rules are the longer side; this thread loads the people at its first store (store_sink)
 * and the queued batches keep the worker busy meanwhile (2 left it idle through that and
 * through this thread's pauses). About 60 KiB each, and their lines. */
#define NBUF 32

/* One employment in a batch: what the rules' input and the stored result need. */
typedef struct {
    char id[65], pnr[16];
    bool hire_protected, hire_bank, has_last;
    int64_t last_gross, last_tax, last_ded, last_net;
    char start[11], end[11], pay_type[16];
    bool has_end, hired;
    int64_t salary, extent;
    int tax_table, tax_column;
    int64_t tax_fixed;         /* < 0: by table */
    size_t line_off, line_n;   /* in the batch's lines, set by the worker */
} item;

/* The rules' input for one employment (docs/pay-rules.md), pushed straight into the rules'
 * Lua state by the worker (rules_call_build): the same table the JSON the pay run used to
 * format for rules_call would give, member for member (tests/e2e/payrun_scale.sh and the
 * comparison in performance.md hold the results to the byte). */
typedef struct {
    const item *it;
    const regs *rs;
    const char *period;
    size_t first, count; /* the employment's registrations in rs */
    const char *end;     /* its last day: the snapshot's, or the earliest termination */
    int nsalary, nextent, nleaves, noneoffs;
    bool changed;
    int64_t tax_fixed; /* < 0: by table */
    int tax_table, tax_column;
} input_plan;

static bool is_one_off_paid(const reg *r, const char *period)
{
    /* A one-off is paid in the run of its period (or of the day it was recorded). */
    return strcmp(r->type, "one_off") == 0 && strncmp(r->effective, period, 7) == 0 &&
           r->parsed;
}

/* Everything push_input needs to know before it starts (sizes, end date, tax). */
static void plan_input(input_plan *pl, const item *it, const regs *rs, const char *period)
{
    memset(pl, 0, sizeof *pl);
    pl->it = it;
    pl->rs = rs;
    pl->period = period;
    regs_for(rs, it->id, &pl->first, &pl->count);
    pl->end = it->has_end ? it->end : NULL;
    pl->nsalary = pl->nextent = 1;
    pl->tax_fixed = it->tax_fixed;
    pl->tax_table = it->tax_table;
    pl->tax_column = it->tax_column;
    for (size_t i = pl->first; i < pl->first + pl->count; i++) {
        const reg *r = &rs->r[i];
        /* A termination's last day ends the employment; the earliest live one counts. */
        if (strcmp(r->type, "termination") == 0 &&
            (pl->end == NULL || strcmp(r->effective, pl->end) < 0))
            pl->end = r->effective;
        if (!r->parsed)
            continue;
        if (strcmp(r->type, "salary_change") == 0 && r->salary > 0) {
            pl->nsalary++;
            pl->changed = true;
        } else if (strcmp(r->type, "extent_change") == 0) {
            pl->nextent++;
            pl->changed = true;
        } else if (strcmp(r->type, "tax_change") == 0) {
            /* The tax in force at the end of the period applies to the whole month. */
            pl->tax_fixed = r->tax_fixed;
            pl->tax_table = r->tax_table;
            pl->tax_column = r->tax_column;
            pl->changed = true;
        } else if (strcmp(r->type, "leave") == 0) {
            pl->nleaves++;
        } else if (is_one_off_paid(r, period)) {
            pl->noneoffs++;
        }
    }
}

static void in_str(rules_input *in, const char *key, const char *s)
{
    rules_in_string(in, key, s, strlen(s));
}

/* A dated value {from = date, <key> = value}. */
static void in_dated(rules_input *in, const char *from, const char *key, int64_t v)
{
    rules_in_object(in, NULL, 2);
    in_str(in, "from", from);
    rules_in_int(in, key, v);
    rules_in_end(in);
}

/* Pushes the input planned in ctx (an input_plan); runs inside the rules' protected call. */
static void push_input(rules_input *in, void *ctx)
{
    const input_plan *pl = ctx;
    const item *it = pl->it;
    const reg *regs_of = pl->rs->r + pl->first;
    rules_in_object(in, NULL, 12);
    in_str(in, "employment_id", it->id);
    in_str(in, "pay_type", it->pay_type);
    in_str(in, "start_date", it->start);
    if (pl->end)
        in_str(in, "end_date", pl->end);
    rules_in_bool(in, "hired", it->hired);
    rules_in_array(in, "salary", pl->nsalary);
    in_dated(in, it->start, "ore", it->salary);
    for (size_t i = 0; i < pl->count; i++)
        if (regs_of[i].parsed && strcmp(regs_of[i].type, "salary_change") == 0 &&
            regs_of[i].salary > 0)
            in_dated(in, regs_of[i].effective, "ore", regs_of[i].salary);
    rules_in_end(in);
    rules_in_array(in, "extent", pl->nextent);
    in_dated(in, it->start, "hundredths", it->extent);
    for (size_t i = 0; i < pl->count; i++)
        if (regs_of[i].parsed && strcmp(regs_of[i].type, "extent_change") == 0)
            in_dated(in, regs_of[i].effective, "hundredths",
                     regs_of[i].extent >= 0 ? regs_of[i].extent : it->extent);
    rules_in_end(in);
    if (pl->tax_fixed >= 0) {
        rules_in_object(in, "tax", 1);
        rules_in_int(in, "fixed_hundredths", pl->tax_fixed);
    } else {
        rules_in_object(in, "tax", 2);
        rules_in_int(in, "table", pl->tax_table);
        rules_in_int(in, "column", pl->tax_column);
    }
    rules_in_end(in);
    rules_in_array(in, "leaves", pl->nleaves);
    for (size_t i = 0; i < pl->count; i++) {
        const reg *r = &regs_of[i];
        if (r->parsed && strcmp(r->type, "leave") == 0) {
            rules_in_object(in, NULL, 3);
            in_str(in, "from", r->effective);
            in_str(in, "to", r->end);
            rules_in_int(in, "hundredths", r->leave);
            rules_in_end(in);
        }
    }
    rules_in_end(in);
    rules_in_array(in, "one_offs", pl->noneoffs);
    for (size_t i = 0; i < pl->count; i++) {
        const reg *r = &regs_of[i];
        if (is_one_off_paid(r, pl->period)) {
            rules_in_object(in, NULL, 4);
            rules_in_int(in, "amount_ore", r->amount);
            in_str(in, "pay_code", r->pay_code);
            in_str(in, "reason", r->reason);
            in_str(in, "period", r->period);
            rules_in_end(in);
        }
    }
    rules_in_end(in);
    rules_in_bool(in, "changed", pl->changed);
    if (it->has_last) {
        rules_in_object(in, "last", 4);
        rules_in_int(in, "gross_ore", it->last_gross);
        rules_in_int(in, "tax_ore", it->last_tax);
        rules_in_int(in, "deductions_ore", it->last_ded);
        rules_in_int(in, "net_ore", it->last_net);
        rules_in_end(in);
    }
    rules_in_end(in);
}


enum { B_FREE, B_READY, B_DONE };

typedef struct {
    size_t n;
    item it[BATCH];
    rules_line *lines; /* every item's lines, back to back */
    size_t nlines, lines_cap;
    uint64_t seq;      /* the batch's place in the run */
    int state;         /* B_*, under the pipeline's mutex */
    int rc;            /* the worker's verdict */
    size_t failed;     /* the item it stopped at */
    char err[1024];
} batch;

typedef struct pipeline pipeline;

typedef struct {
    pipeline *pl;
    unsigned index;
    rules *r;
    rules_line lines[MAX_LINES]; /* scratch for one call */
    pthread_t thread;
    bool started;
} worker;

struct pipeline {
    worker w[WORKERS];
    batch *bufs; /* NBUF */
    const regs *rs;     /* read-only while the run lasts */
    const char *period;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit, threaded;
};

static void batch_run(worker *w, batch *b)
{
    b->rc = RL_OK;
    b->nlines = 0;
    for (size_t i = 0; i < b->n; i++) {
        item *it = &b->it[i];
        size_t n = 0;
        input_plan plan;
        plan_input(&plan, it, w->pl->rs, w->pl->period);
        int rc = rules_call_build(w->r, "pay", push_input, &plan, w->lines, MAX_LINES, &n);
        if (rc == RL_OK && b->nlines + n > b->lines_cap) {
            size_t cap = b->lines_cap ? b->lines_cap * 2 : BATCH * 4;
            while (cap < b->nlines + n)
                cap *= 2;
            rules_line *l = realloc(b->lines, cap * sizeof *l);
            if (l == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
            } else {
                b->lines = l;
                b->lines_cap = cap;
            }
        } else if (rc != RL_OK) {
            rc = RL_EDATA;
        }
        if (rc != RL_OK) {
            b->rc = rc;
            b->failed = i;
            snprintf(b->err, sizeof b->err, "%s", err_msg());
            return;
        }
        if (n > 0)
            memcpy(b->lines + b->nlines, w->lines, n * sizeof *w->lines);
        it->line_off = b->nlines;
        it->line_n = n;
        b->nlines += n;
    }
}

/* Worker i runs batches i, i + WORKERS, i + 2 * WORKERS ... in that order. */
static void *pipeline_worker(void *arg)
{
    worker *w = arg;
    pipeline *pl = w->pl;
    uint64_t next = w->index;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        batch *b = &pl->bufs[next % NBUF];
        while (!(b->state == B_READY && b->seq == next) && !pl->quit)
            pthread_cond_wait(&pl->cv, &pl->mu);
        if (pl->quit)
            break;
        pthread_mutex_unlock(&pl->mu);
        batch_run(w, b);
        pthread_mutex_lock(&pl->mu);
        b->state = B_DONE;
        pthread_cond_broadcast(&pl->cv);
        next += WORKERS;
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* If a thread cannot be started, every batch runs inline on this thread, with the rules
 * state its worker would have used (the same outcome, on one core). */
static void pipeline_start(pipeline *pl, rules *const r[WORKERS], batch *bufs, const regs *rs,
                           const char *period)
{
    memset(pl, 0, sizeof *pl);
    pl->bufs = bufs;
    pl->rs = rs;
    pl->period = period;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    pl->threaded = true;
    for (unsigned i = 0; i < WORKERS; i++) {
        pl->w[i].pl = pl;
        pl->w[i].index = i;
        pl->w[i].r = r[i];
    }
    for (unsigned i = 0; i < WORKERS && pl->threaded; i++)
        pl->threaded = (pl->w[i].started = pthread_create(&pl->w[i].thread, NULL,
                                                           pipeline_worker, &pl->w[i]) == 0);
    if (!pl->threaded) { /* stop the ones that did start; run inline from here on */
        pthread_mutex_lock(&pl->mu);
        pl->quit = true;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        for (unsigned i = 0; i < WORKERS; i++)
            if (pl->w[i].started)
                pthread_join(pl->w[i].thread, NULL);
        pl->quit = false;
    }
}

static void pipeline_stop(pipeline *pl)
{
    if (pl->threaded) {
        pthread_mutex_lock(&pl->mu);
        pl->quit = true;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        for (unsigned i = 0; i < WORKERS; i++)
            pthread_join(pl->w[i].thread, NULL);
    }
    pthread_cond_destroy(&pl->cv);
    pthread_mutex_destroy(&pl->mu);
}

static void pipeline_submit(pipeline *pl, batch *b, uint64_t seq)
{
    if (!pl->threaded) {
        b->seq = seq;
        batch_run(&pl->w[seq % WORKERS], b);
        b->state = B_DONE;
        return;
    }
    pthread_mutex_lock(&pl->mu); /* the workers read seq and state under the mutex */
    b->seq = seq;
    b->state = B_READY;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
}

static void pipeline_wait(pipeline *pl, batch *b)
{
    if (!pl->threaded)
        return;
    pthread_mutex_lock(&pl->mu);
    while (b->state != B_DONE)
        pthread_cond_wait(&pl->cv, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

/* The batch is stored: free for the next fill. */
static void pipeline_release(pipeline *pl, batch *b)
{
    if (pl->threaded)
        pthread_mutex_lock(&pl->mu);
    b->state = B_FREE;
    if (pl->threaded)
        pthread_mutex_unlock(&pl->mu);
}

/* Copies src into dst[cap]; false if it does not fit. */
static bool copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* Reads up to BATCH employments into b (the worker builds their inputs from them); b->n ==
 * 0 at the end. */
static int batch_fill(vault *v, source *es, batch *b)
{
    employment e;
    int rc = 0;
    b->n = 0;
    while (b->n < BATCH && (rc = source_next(v, es, &e)) == 1) {
        item *it = &b->it[b->n];
        if (!copy_text(it->id, sizeof it->id, e.id) || !copy_text(it->pnr, sizeof it->pnr, e.pnr))
            return err_set(RL_EINTEGRITY, "the vault holds an over-long employment id or "
                                          "personnummer");
        if (!copy_text(it->start, sizeof it->start, e.start) ||
            !copy_text(it->end, sizeof it->end, e.end ? e.end : "") ||
            !copy_text(it->pay_type, sizeof it->pay_type, e.pay_type))
            return err_set(RL_EINTEGRITY, "employment %s: a date or the pay type in the vault is "
                                          "malformed", it->id);
        it->has_end = e.end != NULL;
        it->hired = e.hired;
        it->hire_protected = e.hire_protected;
        it->hire_bank = e.hire_bank;
        it->has_last = e.has_last;
        it->last_gross = e.last_gross;
        it->last_tax = e.last_tax;
        it->last_ded = e.last_ded;
        it->last_net = e.has_last ? e.last_net : 0;
        it->salary = e.salary;
        it->extent = e.extent;
        it->tax_table = e.tax_table;
        it->tax_column = e.tax_column;
        it->tax_fixed = e.tax_fixed;
        b->n++;
    }
    return rc < 0 ? rc : RL_OK;
}

typedef struct {
    int64_t gross, tax, ded, net, last_net;
    int64_t employments, paid;
} totals;

/* Whether the person of it is a protected identity and has an account for the file: the
 * snapshot knows the person unless a hire brought a new one; an approved bank change (or
 * its approved correction) always gives an account. */
static void person_flags(const people *ps, const item *it, bool *protected_id, bool *has_bank)
{
    uint64_t key = 0;
    bool keyed = pnr_key((const unsigned char *)it->pnr, &key);
    const person *p = keyed ? person_find(ps, key) : NULL;
    *protected_id = p ? p->protected_id : it->hire_protected;
    *has_bank = (p ? p->has_account : it->hire_bank) || (keyed && bank_changed(ps, key));
}

/* Stores one computed batch in input order and adds it to the totals. */
static int batch_store(vault *v, sqlite3_stmt *ins, int64_t run_id, const batch *b,
                       const people *ps, sbuf *scratch[3], line_texts *tx, totals *t,
                       int64_t *protected_paid)
{
    sbuf *warn = scratch[0], *notes = scratch[1], *lines = scratch[2];
    for (size_t i = 0; i < b->n; i++) {
        const item *it = &b->it[i];
        int64_t gross, tax, ded;
        notes->len = lines->len = 0;
        int rc = sum_lines(b->lines + it->line_off, it->line_n, &gross, &tax, &ded, notes,
                           lines, tx);
        if (rc != RL_OK)
            return err_wrap(rc, "pay run aborted at employment %s (nothing was written): ",
                            it->id);
        int64_t net = gross - tax - ded;
        bool protected_id, has_bank;
        person_flags(ps, it, &protected_id, &has_bank);
        warn->len = 0;
        if (net < 0)
            sb_cat(warn, "negative net; ");
        if (it->last_net > 0 && net > 2 * it->last_net)
            sb_cat(warn, "net more than twice the last run's; ");
        if (net > 0 && !has_bank)
            sb_cat(warn, "no bank account: cannot be paid by file; ");
        if (net > 0 && protected_id)
            (*protected_paid)++;
        if (warn->oom || notes->oom || lines->oom)
            return err_set(RL_ENOMEM, "out of memory");
        sqlite3_bind_int64(ins, 1, run_id);
        sqlite3_bind_text(ins, 2, it->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, it->pnr, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, gross);
        sqlite3_bind_int64(ins, 5, tax);
        sqlite3_bind_int64(ins, 6, ded);
        sqlite3_bind_int64(ins, 7, net);
        sqlite3_bind_int64(ins, 8, it->last_net);
        sqlite3_bind_text(ins, 9, lines->len ? lines->buf : "", (int)lines->len, SQLITE_STATIC);
        sqlite3_bind_text(ins, 10, notes->len ? notes->buf : "", (int)notes->len,
                          SQLITE_STATIC);
        sqlite3_bind_text(ins, 11, warn->len ? warn->buf : "", warn->len ? (int)warn->len - 2 : 0,
                          SQLITE_STATIC);
        int src = sqlite3_step(ins);
        if (src != SQLITE_DONE)
            return vault_sql_error(v, src, "storing the pay run");
        sqlite3_reset(ins);
        t->employments++;
        if (gross != 0 || net != 0)
            t->paid++;
        t->gross += gross;
        t->tax += tax;
        t->ded += ded;
        t->net += net;
        t->last_net += it->last_net;
    }
    return RL_OK;
}

/* --- the computation, shared by create and compute -------------------------------------- */

/* What running the rules over every employment needs: the verified rule states with the
 * run's constants, the tax tables, the live approved registrations and the batch buffers. */
typedef struct {
    rules *r[WORKERS];
    tax_tables tt;
    regs rs;
    batch *bufs;
    char rules_hex[65];
} engine;

static void engine_close(engine *en)
{
    for (unsigned i = 0; i < WORKERS; i++)
        rules_free(en->r[i]);
    tax_free(&en->tt);
    regs_free(&en->rs);
    for (int i = 0; en->bufs && i < NBUF; i++) {
        free(en->bufs[i].lines);
    }
    free(en->bufs);
    memset(en, 0, sizeof *en);
}

/* Loads and verifies the rules (RL_EINTEGRITY if unsigned or modified), the tax tables and
 * the registrations, and gives the rules the run's constants. On failure nothing is held. */
static int engine_open(vault *v, const payrun_params *p, engine *en)
{
    memset(en, 0, sizeof *en);
    /* The rules: verified against the vault's rules key before anything runs. */
    minisig_pubkey pk;
    int rc = keyconf_get(v, KEYCONF_RULES, &pk);
    if (rc != RL_OK)
        return rc;
    rules_limits lim = {p->max_instructions ? p->max_instructions : RULES_DEFAULT_INSTRUCTIONS,
                        p->max_memory ? p->max_memory : RULES_DEFAULT_MEMORY,
                        RULES_DEFAULT_SECONDS};
    /* One state per worker, each verified; all must be the same bytes (the file could be
     * replaced between two loads, and a run must never mix two rule files). */
    uint8_t rh[32], rh2[32];
    for (unsigned i = 0; i < WORKERS; i++) {
        if ((rc = rules_load(p->rules_path, &pk, &lim, &en->r[i])) != RL_OK)
            goto cleanup;
        rules_sha256(en->r[i], i == 0 ? rh : rh2);
        if (i > 0 && sodium_memcmp(rh, rh2, sizeof rh) != 0) {
            rc = err_set(RL_EINTEGRITY, "the rule file %s changed while it was being loaded; "
                                        "nothing was run", p->rules_path);
            goto cleanup;
        }
    }
    sodium_bin2hex(en->rules_hex, sizeof en->rules_hex, rh, sizeof rh);
    if ((rc = tax_load(v, &en->tt)) != RL_OK || (rc = regs_load(v, &en->rs)) != RL_OK)
        goto cleanup;
    for (unsigned i = 0; i < WORKERS; i++)
        rules_set_tax(en->r[i], tax_lookup, &en->tt);
    en->bufs = calloc(NBUF, sizeof *en->bufs);
    if (en->bufs == NULL) {
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
    /* The run's constants reach pay() once, as its second argument (docs/pay-rules.md). */
    for (unsigned i = 0; i < WORKERS; i++)
        if ((rc = rules_set_context(en->r[i], run_json, strlen(run_json))) != RL_OK)
            goto cleanup;
    return RL_OK;
cleanup:
    engine_close(en);
    return rc;
}

/* The page cache while the rules run, in KiB. The run reads every page of the snapshot once
 * and appends its results, so a small cache serves it as well as the vault's 64 MiB, and
 * it does not grow: growing it to 11,000 pages at 100,000 employments (a malloc and fresh
 * memory for each) was a sixth of this thread's time, and the results now reach the WAL
 * as they are made rather than all at the commit (performance.md, "Pay run"). */
#define RUN_CACHE_KIB 4096

/* Receives each computed batch, in input order. */
typedef int (*batch_sink)(void *ctx, const batch *b);

/* Runs the rules over every employment (docs/payrun.md, "How it runs") and hands each
 * batch to sink in order; the first error stops it. Progress on a terminal only. */
static int engine_run(vault *v, engine *en, const char *period, FILE *progress,
                      batch_sink sink, void *ctx)
{
    source es;
    pipeline pl;
    int rc;
    int64_t cache_before = vault_cache_kib(v);
    if (cache_before > RUN_CACHE_KIB)
        vault_cache_set(v, RUN_CACHE_KIB);
    if ((rc = source_open(v, &es)) != RL_OK) {
        if (cache_before > RUN_CACHE_KIB)
            vault_cache_set(v, cache_before);
        return rc;
    }
    int64_t done = 0, total_rows = scalar(vault_db(v), "SELECT count(*) FROM employments", NULL);
    bool tty = progress && isatty(fileno(progress));
    batch *bufs = en->bufs;
    pipeline_start(&pl, en->r, bufs, &en->rs, period);
    /* Keep NBUF batches in flight: read ahead while the workers run the rules, store the
     * oldest as soon as it is done. */
    uint64_t filled = 0, stored = 0;
    bool eof = false;
    for (;;) {
        while (!eof && filled - stored < NBUF) {
            batch *f = &bufs[filled % NBUF];
            if ((rc = batch_fill(v, &es, f)) != RL_OK)
                goto cleanup;
            if (f->n == 0) {
                eof = true;
                break;
            }
            pipeline_submit(&pl, f, filled++);
        }
        if (stored == filled)
            break;
        batch *b = &bufs[stored % NBUF];
        pipeline_wait(&pl, b);
        if (b->rc != RL_OK) {
            err_set(b->rc, "%s", b->err);
            rc = err_wrap(b->rc, "pay run aborted at employment %s (nothing was written): ",
                          b->it[b->failed].id);
            goto cleanup;
        }
        if ((rc = sink(ctx, b)) != RL_OK)
            goto cleanup;
        done += (int64_t)b->n;
        pipeline_release(&pl, b);
        stored++;
        if (tty && total_rows > 0) {
            fprintf(progress, "\rpay run: %lld of %lld employments", (long long)done,
                    (long long)total_rows);
            fflush(progress);
        }
    }
    if (tty)
        fprintf(progress, "\r%*s\r", 50, "");
    rc = RL_OK;
cleanup:
    pipeline_stop(&pl); /* first: the worker may still be using the rules and tables */
    source_close(&es);
    if (cache_before > RUN_CACHE_KIB)
        vault_cache_set(v, cache_before);
    for (int i = 0; i < NBUF; i++) /* the buffers may be used again */
        bufs[i].state = B_FREE;
    return rc;
}

typedef struct {
    vault *v;
    sqlite3_stmt *ins;
    int64_t run_id;
    people ps;
    bool ps_loaded;
    sbuf *scratch[3];
    line_texts tx;
    totals t;
    int64_t protected_paid;
} store_ctx;

static int store_sink(void *ctx, const batch *b)
{
    store_ctx *s = ctx;
    /* The people are loaded at the first store, not before the run: only the warnings
     * need them, and the rules worker runs the batches already queued meanwhile (loading
     * them before the run kept both cores otherwise idle; performance.md). */
    if (!s->ps_loaded) {
        int rc = people_load(s->v, &s->ps);
        if (rc != RL_OK)
            return rc;
        s->ps_loaded = true;
    }
    return batch_store(s->v, s->ins, s->run_id, b, &s->ps, s->scratch, &s->tx, &s->t,
                       &s->protected_paid);
}

int payrun_create(vault *v, const payrun_params *p, FILE *progress, int64_t *id)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *ins = NULL;
    engine en;
    int en_open = 0;
    sbuf warn = {0}, notes = {0}, lines = {0};
    store_ctx sc = {.scratch = {&warn, &notes, &lines}};
    int in_tx = 0;
    int rc;
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
    if ((rc = engine_open(v, p, &en)) != RL_OK)
        return rc;
    en_open = 1;

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
        sqlite3_bind_text(ins, 6, en.rules_hex, -1, SQLITE_STATIC);
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
    src = sqlite3_prepare_v2(db, "INSERT INTO payrun_results VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1,
                             &ins, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "creating the pay run");
        goto cleanup;
    }
    sc.v = v;
    sc.ins = ins;
    sc.run_id = run_id;
    sc.tx = (line_texts){.v = v, .run_id = run_id};
    if ((rc = lineset_new(&sc.tx.set)) != RL_OK)
        goto cleanup;
    src = sqlite3_prepare_v2(db, "INSERT INTO payrun_texts VALUES(?,?,?,?)", -1, &sc.tx.ins, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "creating the pay run");
        goto cleanup;
    }
    if ((rc = engine_run(v, &en, p->period, progress, store_sink, &sc)) != RL_OK)
        goto cleanup;
    const totals t = sc.t;
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
             (long long)t.paid, (long long)t.net, (long long)t.last_net, en.rules_hex,
             (long long)sc.protected_paid);
    if ((rc = vault_audit(v, "payrun.create", detail)) != RL_OK || (rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = 0;
    *id = run_id;
cleanup:
    if (in_tx)
        vault_rollback(v);
    sqlite3_finalize(ins);
    if (en_open)
        engine_close(&en);
    sqlite3_finalize(sc.tx.ins);
    lineset_free(sc.tx.set);
    people_free(&sc.ps);
    free(warn.buf);
    free(notes.buf);
    free(lines.buf);
    return rc;
}

/* --- computing without storing (payrun_compute) ----------------------------------------- */

typedef struct {
    payrun_result_fn fn;
    void *ctx;
    sbuf notes;
} compute_ctx;

static int compute_sink(void *ctx, const batch *b)
{
    compute_ctx *c = ctx;
    for (size_t i = 0; i < b->n; i++) {
        const item *it = &b->it[i];
        payrun_result r = {.employment_id = it->id, .pnr = it->pnr};
        c->notes.len = 0;
        int rc = sum_lines(b->lines + it->line_off, it->line_n, &r.gross_ore, &r.tax_ore,
                           &r.deductions_ore, &c->notes, NULL, NULL);
        if (rc != RL_OK)
            return err_wrap(rc, "computing employment %s: ", it->id);
        if (c->notes.oom)
            return err_set(RL_ENOMEM, "out of memory");
        r.net_ore = r.gross_ore - r.tax_ore - r.deductions_ore;
        r.notes = c->notes.len ? c->notes.buf : "";
        if ((rc = c->fn(c->ctx, &r)) != RL_OK)
            return rc;
    }
    return RL_OK;
}

int payrun_compute(vault *v, const payrun_params *p, const char *rules_sha256, FILE *progress,
                   payrun_result_fn fn, void *ctx)
{
    engine en;
    compute_ctx cc = {.fn = fn, .ctx = ctx};
    int rc;
    if (field_period(p->period, strlen(p->period)) != RL_OK)
        return err_wrap(RL_EDATA, "period: ");
    if (field_date(p->pay_date, strlen(p->pay_date)) != RL_OK)
        return err_wrap(RL_EDATA, "pay date: ");
    if (strcmp(p->policy, "same-as-last") != 0 && strcmp(p->policy, "recalculate") != 0)
        return err_set(RL_EUSAGE, "the policy must be same-as-last or recalculate");
    if (scalar(vault_db(v), "SELECT count(*) FROM snapshot", NULL) != 1)
        return err_set(RL_EDATA, "the vault holds no snapshot: import one first");
    if ((rc = engine_open(v, p, &en)) != RL_OK)
        return rc;
    if (rules_sha256 && strcmp(en.rules_hex, rules_sha256) != 0)
        rc = err_set(RL_EDATA, "the rule file %s (sha256 %.16s...) is not the one required "
                               "(sha256 %.16s...): give the rule file the pay run was computed "
                               "with",
                     p->rules_path, en.rules_hex, rules_sha256);
    else
        rc = engine_run(v, &en, p->period, progress, compute_sink, &cc);
    engine_close(&en);
    free(cc.notes.buf);
    return rc;
}

/* --- review ------------------------------------------------------------------------------ */

static void money(FILE *out, int64_t ore)
{
    char buf[32];
    field_money_format(ore, buf);
    fputs(buf, out);
}

/* A quoted CSV cell. Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR
 * first) gets a leading ' inside the quotes (OWASP's advice): the review file is opened in
 * spreadsheets, and an employment id or a note comes from registrations. */
static void csv_field(FILE *out, const char *s)
{
    fputc('"', out);
    if (strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0')
        fputc('\'', out);
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
    lineset *texts = NULL; /* the JSON shows each changed employment's lines */
    sbuf line_buf = {0};
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
    if (format == 1 && (rc = texts_load(v, id, &texts)) != RL_OK)
        goto cleanup;
    if (format == 2) {
        fprintf(out, "employment_id,personnummer,gross_ore,tax_ore,deductions_ore,net_ore,"
                     "last_net_ore,difference_ore,notes,warnings\n");
        while ((src = sqlite3_step(q)) == SQLITE_ROW) {
            const char *pnr = (const char *)sqlite3_column_text(q, 1);
            char shown[16];
            snprintf(shown, sizeof shown, sqlite3_column_int(q, 10) > 0 ? "%.8s-****" : "%.8s-%.4s",
                     pnr, pnr + 8);
            csv_field(out, (const char *)sqlite3_column_text(q, 0));
            fprintf(out, ",%s,%lld,%lld,%lld,%lld,%lld,%lld,", shown,
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
            line_buf.len = 0;
            if ((rc = lines_json((const char *)sqlite3_column_text(q, 9), texts, &line_buf)) !=
                RL_OK) {
                rc = err_wrap(rc, "pay run %lld, employment %s: ", (long long)id, emp);
                break;
            }
            if (line_buf.oom) {
                rc = err_set(RL_ENOMEM, "out of memory");
                break;
            }
            fprintf(out, ",\"lines\":%s}", line_buf.buf);
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
    if (rc != RL_OK) {
        src = SQLITE_DONE; /* the message is rc's */
    } else if (format == 1) {
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
    lineset_free(texts);
    free(line_buf.buf);
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

/* --- listing ----------------------------------------------------------------------------- */

int payrun_list(vault *v, FILE *out)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT id, period, pay_date, policy, status, created_by,"
                                 " employments, net_ore, last_net_ore, second_needed,"
                                 " coalesce(approved_by,''), coalesce(approved2_by,'')"
                                 " FROM payruns ORDER BY id DESC",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "listing pay runs");
    fputc('[', out);
    int n = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(out, "%s{\"id\":%lld,\"period\":\"%s\",\"pay_date\":\"%s\",\"policy\":\"%s\","
                     "\"status\":\"%s\",\"created_by\":",
                n++ ? "," : "", (long long)sqlite3_column_int64(st, 0),
                sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                sqlite3_column_text(st, 3), sqlite3_column_text(st, 4));
        json_write_string(out, (const char *)sqlite3_column_text(st, 5));
        fprintf(out, ",\"employments\":%lld,\"net_ore\":%lld,\"last_net_ore\":%lld,"
                     "\"second_approval_needed\":%s,\"approved_by\":",
                (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
                (long long)sqlite3_column_int64(st, 8),
                sqlite3_column_int(st, 9) ? "true" : "false");
        json_write_string(out, (const char *)sqlite3_column_text(st, 10));
        fputs(",\"approved2_by\":", out);
        json_write_string(out, (const char *)sqlite3_column_text(st, 11));
        fputc('}', out);
    }
    fputs("]\n", out);
    int rc = src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "listing pay runs");
    sqlite3_finalize(st);
    return rc;
}
