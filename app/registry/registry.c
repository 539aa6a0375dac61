/* registry: validation, storage and decisions for employment documents (see registry.h
 * and docs/registrations.md). */
#include "registry/registry.h"
#include "registry/empstate.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "common/json.h"
#include "ident/ident.h"
#include "snapshot/csv.h"

#define MAXF 20
#define VAL_MAX 512

typedef enum {
    K_PNR, K_NAME, K_TEXT, K_ID, K_DATE, K_PERIOD, K_ORE_POS, K_ORE_SIGNED, K_EXTENT, K_TAXPCT,
    K_TAXTABLE, K_TAXCOL, K_PROTECTED, K_PAYTYPE, K_REASON, K_CLEARING, K_ACCOUNT, K_IBAN
} kind;

typedef struct {
    const char *name;
    kind k;
    bool required;
} fspec;

typedef struct {
    const char *type;
    const fspec *f;
    size_t n;
    const char *effective; /* the field that gives the effective date, NULL: recorded date */
    const char *end;       /* the field that ends a period, or NULL */
} tspec;

static const fspec hire_f[] = {
    {"personnummer", K_PNR, true},        {"given_name", K_NAME, false},
    {"family_name", K_NAME, false},       {"protected_identity", K_PROTECTED, false},
    {"employment_id", K_ID, false},       {"org_unit_id", K_ID, true},
    {"start_date", K_DATE, true},         {"end_date", K_DATE, false},
    {"pay_type", K_PAYTYPE, true},        {"monthly_salary_ore", K_ORE_POS, false},
    {"hourly_rate_ore", K_ORE_POS, false}, {"extent_pct", K_EXTENT, true},
    {"tax_table", K_TAXTABLE, false},     {"tax_column", K_TAXCOL, false},
    {"tax_fixed_pct", K_TAXPCT, false},   {"clearing", K_CLEARING, false},
    {"account", K_ACCOUNT, false},        {"iban", K_IBAN, false},
};
static const fspec term_f[] = {
    {"employment_id", K_ID, true}, {"last_day", K_DATE, true}, {"reason", K_REASON, true}};
static const fspec salary_f[] = {{"employment_id", K_ID, true},
                                 {"from_date", K_DATE, true},
                                 {"monthly_salary_ore", K_ORE_POS, false},
                                 {"hourly_rate_ore", K_ORE_POS, false}};
static const fspec extent_f[] = {
    {"employment_id", K_ID, true}, {"from_date", K_DATE, true}, {"extent_pct", K_EXTENT, true}};
static const fspec bank_f[] = {{"personnummer", K_PNR, true},
                               {"from_date", K_DATE, true},
                               {"clearing", K_CLEARING, false},
                               {"account", K_ACCOUNT, false},
                               {"iban", K_IBAN, false}};
static const fspec tax_f[] = {{"employment_id", K_ID, true},
                              {"from_date", K_DATE, true},
                              {"tax_table", K_TAXTABLE, false},
                              {"tax_column", K_TAXCOL, false},
                              {"tax_fixed_pct", K_TAXPCT, false}};
static const fspec leave_f[] = {{"employment_id", K_ID, true},
                                {"from_date", K_DATE, true},
                                {"to_date", K_DATE, true},
                                {"extent_pct", K_EXTENT, false}};
static const fspec oneoff_f[] = {{"employment_id", K_ID, true},
                                 {"amount_ore", K_ORE_SIGNED, true},
                                 {"pay_code", K_ID, true},
                                 {"reason", K_TEXT, true},
                                 {"period", K_PERIOD, false}};

#define T(name, arr, eff, end) {name, arr, sizeof arr / sizeof arr[0], eff, end}
static const tspec types[] = {
    T("hire", hire_f, "start_date", "end_date"),
    T("termination", term_f, "last_day", NULL),
    T("salary_change", salary_f, "from_date", NULL),
    T("extent_change", extent_f, "from_date", NULL),
    T("bank_change", bank_f, "from_date", NULL),
    T("tax_change", tax_f, "from_date", NULL),
    T("leave", leave_f, "from_date", "to_date"),
    T("one_off", oneoff_f, NULL, NULL),
};
#undef T

static const char *const type_names[] = {"hire",     "termination", "salary_change", "extent_change",
                                         "bank_change", "tax_change", "leave",          "one_off",
                                         NULL};

static const char *const reasons[] = {"resignation", "dismissal", "end_of_fixed_term",
                                      "retirement",  "death",     "other"};

const char *const *registry_types(void) { return type_names; }

/* A document after parsing: normalised values in the type's field order. */
typedef struct {
    const tspec *t;
    bool has[MAXF];
    bool given[MAXF]; /* present in the input, valid or not */
    char val[MAXF][VAL_MAX];
    char pnr[13];
    char employment_id[65];
    char effective[11];
    char end[11];
    char corrects[37];
} doc;

/* Where problems go: "PREFIX field F: problem". */
typedef struct {
    FILE *out;
    char prefix[600];
    size_t errors;
    size_t max;
} reporter;

static void report(reporter *rp, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(reporter *rp, const char *field, const char *fmt, ...)
{
    rp->errors++;
    if (rp->out == NULL || rp->errors > rp->max)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *text = field_message(field, msg);
    if (field)
        fprintf(rp->out, "%s%sfield %s: %s\n", rp->prefix, rp->prefix[0] ? " " : "", field, text);
    else
        fprintf(rp->out, "%s%s%s\n", rp->prefix, rp->prefix[0] ? ": " : "", text);
}

static int idx_of(const tspec *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const char *get(const doc *d, const char *name)
{
    int i = idx_of(d->t, name);
    return (i >= 0 && d->has[i]) ? d->val[i] : NULL;
}

static uint32_t today_int(char iso[11])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm); /* the workstation's calendar day (Swedish time), not UTC's */
    if (iso)
        strftime(iso, 11, "%Y-%m-%d", &tm);
    return (uint32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

/* Parses and normalises one field's value into out; reports and returns false if bad. */
static bool parse_value(reporter *rp, const fspec *fs, const char *v, char out[VAL_MAX])
{
    size_t n = strlen(v);
    int64_t x = 0;
    int rc = RL_OK;
    /* A batch file is checked whole; a command-line value is checked here. */
    if (!csv_utf8_valid(v, n)) {
        report(rp, fs->name, "is not valid UTF-8 text");
        return false;
    }
    switch (fs->k) {
    case K_PNR: {
        ident_pnr p;
        rc = ident_pnr_parse(v, today_int(NULL), &p);
        if (rc == RL_OK)
            memcpy(out, p.digits, 13);
        break;
    }
    case K_NAME: rc = field_text(v, n, 100); break;
    case K_TEXT: rc = field_text(v, n, 500); break;
    case K_ID: rc = field_id(v, n); break;
    case K_DATE: rc = field_date(v, n); break;
    case K_PERIOD: rc = field_period(v, n); break;
    case K_ORE_POS:
        rc = field_int(v, n, 1, FIELD_MAX_ORE, &x);
        if (rc == RL_OK)
            snprintf(out, VAL_MAX, "%lld", (long long)x);
        break;
    case K_ORE_SIGNED:
        rc = field_int(v, n, -FIELD_MAX_ORE, FIELD_MAX_ORE, &x);
        if (rc == RL_OK && x == 0)
            rc = err_set(RL_EDATA, "must not be zero");
        if (rc == RL_OK)
            snprintf(out, VAL_MAX, "%lld", (long long)x);
        break;
    case K_EXTENT:
    case K_TAXPCT:
        rc = field_pct(v, n, fs->k == K_EXTENT ? 1 : 0, 10000, &x);
        if (rc == RL_OK) {
            char f[24];
            field_pct_format(x, f);
            snprintf(out, VAL_MAX, "%s", f);
        }
        break;
    case K_TAXTABLE:
    case K_TAXCOL:
    case K_PROTECTED:
        rc = field_int(v, n, fs->k == K_TAXTABLE ? 29 : fs->k == K_TAXCOL ? 1 : 0,
                       fs->k == K_TAXTABLE ? 42 : fs->k == K_TAXCOL ? 6 : 3, &x);
        if (rc == RL_OK)
            snprintf(out, VAL_MAX, "%lld", (long long)x);
        break;
    case K_PAYTYPE:
        if (strcmp(v, "monthly") != 0 && strcmp(v, "hourly") != 0)
            rc = err_set(RL_EDATA, "must be monthly or hourly");
        break;
    case K_REASON: {
        rc = err_set(RL_EDATA, "must be one of resignation, dismissal, end_of_fixed_term, "
                               "retirement, death, other");
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
            if (strcmp(v, reasons[i]) == 0)
                rc = RL_OK;
        break;
    }
    case K_CLEARING:
    case K_ACCOUNT:
        rc = n > 0 && n < 40 ? RL_OK : err_set(RL_EDATA, "is required");
        break;
    case K_IBAN: {
        char iban[35];
        rc = ident_iban_parse(v, iban);
        if (rc == RL_OK)
            snprintf(out, VAL_MAX, "%s", iban);
        break;
    }
    }
    if (rc != RL_OK) {
        report(rp, fs->name, "%s", err_msg());
        return false;
    }
    if (fs->k == K_NAME || fs->k == K_TEXT || fs->k == K_ID || fs->k == K_DATE ||
        fs->k == K_PERIOD || fs->k == K_PAYTYPE || fs->k == K_REASON || fs->k == K_CLEARING ||
        fs->k == K_ACCOUNT)
        snprintf(out, VAL_MAX, "%s", v);
    return true;
}

/* Present in the input, valid or not (a bad value is reported once, by its own field). */
static bool given(const doc *d, const char *name)
{
    int i = idx_of(d->t, name);
    return i >= 0 && d->given[i];
}

/* Exactly one way to state tax, and the bank account's parts together. */
static void check_tax(reporter *rp, doc *d, bool required)
{
    bool table = get(d, "tax_table") || get(d, "tax_column");
    bool fixed = given(d, "tax_fixed_pct");
    if (table && fixed)
        report(rp, "tax_fixed_pct", "give either tax_table and tax_column or tax_fixed_pct, "
                                    "not both");
    else if (table && !(get(d, "tax_table") && get(d, "tax_column")))
        report(rp, get(d, "tax_table") ? "tax_column" : "tax_table",
               "tax_table and tax_column go together");
    else if (!table && !fixed && required)
        report(rp, "tax_table", "give tax_table and tax_column, or tax_fixed_pct");
}

static void check_account(reporter *rp, doc *d, bool required)
{
    const char *clr = get(d, "clearing"), *acc = get(d, "account"), *iban = get(d, "iban");
    if ((clr || acc) && iban) {
        report(rp, "iban", "give either clearing and account or an IBAN, not both");
    } else if ((clr != NULL) != (acc != NULL)) {
        report(rp, clr ? "account" : "clearing", "clearing and account go together");
    } else if (clr) {
        ident_account a;
        if (ident_account_parse(clr, acc, &a) != RL_OK) {
            const char *m = err_msg();
            report(rp, strncmp(m, "clearing", 8) == 0 ? "clearing" : "account", "%s", m);
        } else {
            if (strcmp(a.clearing, "3300") == 0 && strcmp(a.account, d->pnr + 2) != 0)
                report(rp, "account",
                       "a Nordea personkonto (clearing 3300) must be the holder's personnummer");
            snprintf(d->val[idx_of(d->t, "clearing")], VAL_MAX, "%s", a.clearing);
            snprintf(d->val[idx_of(d->t, "account")], VAL_MAX, "%s", a.account);
        }
    } else if (!given(d, "iban") && required) {
        report(rp, "clearing", "give clearing and account, or an IBAN");
    }
}

/* Field-level parsing and the rules that need only the document itself. */
static void parse_doc(reporter *rp, const char *type, const reg_field *fields, size_t n, doc *d)
{
    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].type, type) == 0)
            d->t = &types[i];
    if (d->t == NULL) {
        report(rp, "type",
               "unknown document type '%.40s' (hire, termination, salary_change, extent_change, "
               "bank_change, tax_change, leave, one_off)",
               type);
        return;
    }
    bool seen[MAXF] = {false};
    for (size_t i = 0; i < n; i++) {
        int k = idx_of(d->t, fields[i].name);
        if (k < 0) {
            report(rp, fields[i].name, "is not a field of a %s document (see "
                   "docs/registrations.md)", type);
            continue;
        }
        if (seen[k]) {
            /* Also when the first value was empty or bad: never silently take the second. */
            report(rp, fields[i].name, "is given twice");
            continue;
        }
        seen[k] = true;
        if (fields[i].value[0] == '\0')
            continue; /* empty means absent, as in CSV */
        d->given[k] = true;
        if (parse_value(rp, &d->t->f[k], fields[i].value, d->val[k]))
            d->has[k] = true;
        else
            d->has[k] = false;
    }
    for (size_t k = 0; k < d->t->n; k++) {
        bool given = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(fields[i].name, d->t->f[k].name) == 0 && fields[i].value[0])
                given = true;
        if (d->t->f[k].required && !given)
            report(rp, d->t->f[k].name, "is required for a %s document", type);
    }
    const char *p = get(d, "personnummer");
    if (p)
        snprintf(d->pnr, sizeof d->pnr, "%s", p);
    const char *e = get(d, "employment_id");
    if (e)
        snprintf(d->employment_id, sizeof d->employment_id, "%s", e);
    const char *eff = d->t->effective ? get(d, d->t->effective) : NULL;
    if (eff)
        snprintf(d->effective, sizeof d->effective, "%s", eff);
    else if (d->t->effective == NULL) {
        const char *per = get(d, "period");
        if (per)
            snprintf(d->effective, sizeof d->effective, "%.7s-01", per);
        else
            today_int(d->effective);
    }
    const char *end = d->t->end ? get(d, d->t->end) : NULL;
    if (end)
        snprintf(d->end, sizeof d->end, "%s", end);
    if (d->effective[0] && d->end[0] && strcmp(d->end, d->effective) < 0)
        report(rp, d->t->end, "is before %s", d->t->effective);

    const char *t = d->t->type;
    if (strcmp(t, "hire") == 0) {
        const char *pt = get(d, "pay_type");
        if (pt && strcmp(pt, "monthly") == 0) {
            if (!d->given[idx_of(d->t, "monthly_salary_ore")])
                report(rp, "monthly_salary_ore", "is required for monthly pay (greater than 0)");
            if (get(d, "hourly_rate_ore"))
                report(rp, "hourly_rate_ore", "must be empty for monthly pay");
        } else if (pt) {
            if (!d->given[idx_of(d->t, "hourly_rate_ore")])
                report(rp, "hourly_rate_ore", "is required for hourly pay (greater than 0)");
            if (get(d, "monthly_salary_ore"))
                report(rp, "monthly_salary_ore", "must be empty for hourly pay");
        }
        check_tax(rp, d, true);
        check_account(rp, d, false);
    } else if (strcmp(t, "salary_change") == 0) {
        if (d->given[idx_of(d->t, "monthly_salary_ore")] ==
            d->given[idx_of(d->t, "hourly_rate_ore")])
            report(rp, "monthly_salary_ore",
                   "give exactly one of monthly_salary_ore or hourly_rate_ore (greater than 0)");
    } else if (strcmp(t, "tax_change") == 0) {
        check_tax(rp, d, true);
    } else if (strcmp(t, "bank_change") == 0) {
        check_account(rp, d, true);
    } else if (strcmp(t, "leave") == 0 && !get(d, "extent_pct")) {
        d->has[idx_of(d->t, "extent_pct")] = true;
        snprintf(d->val[idx_of(d->t, "extent_pct")], VAL_MAX, "100");
    }
}

/* --- state checks against the vault ------------------------------------------------------ */

typedef struct {
    vault *v;
    sqlite3 *db;
    reporter *rp;
} ctx;

static int sqlerr(ctx *c, int src) { return vault_sql_error(c->v, src, "registering"); }

/* The state checks compare a document with live documents (not rejected) that no live
 * correction replaces: a correction takes the place of what it corrects, so correcting a
 * correction, or moving a leave or a last day with a correction, is not refused because of
 * the document being replaced. */
#define NOT_REPLACED                                                                           \
    " AND NOT EXISTS (SELECT 1 FROM registrations c WHERE c.corrects = registrations.uuid"    \
    " AND c.status != 'rejected')"

/* Employment facts from the snapshot or from a live hire document (other than exclude, the
 * hire a correction replaces). */
typedef struct {
    bool found;
    char pnr[13];
    char start[11];
    char end[11];
    char pay_type[8];
} employment;

static int find_employment(ctx *c, const char *id, const char *exclude, employment *e)
{
    sqlite3_stmt *st = NULL;
    memset(e, 0, sizeof *e);
    int src = sqlite3_prepare_v2(
        c->db,
        "SELECT pnr, start_date, coalesce(end_date, ''), pay_type FROM employments"
        " WHERE employment_id = ?1 UNION ALL"
        " SELECT pnr, effective_date, coalesce(end_date, ''), json_extract(fields, '$.pay_type')"
        " FROM registrations WHERE type = 'hire' AND employment_id = ?1"
        " AND status != 'rejected' AND uuid != ?2" NOT_REPLACED " LIMIT 1",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return sqlerr(c, src);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, exclude, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        e->found = true;
        snprintf(e->pnr, sizeof e->pnr, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(e->start, sizeof e->start, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(e->end, sizeof e->end, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(e->pay_type, sizeof e->pay_type, "%s", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    return (src == SQLITE_ROW || src == SQLITE_DONE) ? RL_OK : sqlerr(c, src);
}

/* The first live document matching sql (bound: ?1 text, ?2 text, ?3 text), into uuid. */
static int find_live(ctx *c, const char *sql, const char *a, const char *b, const char *x,
                     char uuid[37], char *extra, size_t extra_cap)
{
    sqlite3_stmt *st = NULL;
    uuid[0] = '\0';
    int src = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (src != SQLITE_OK)
        return sqlerr(c, src);
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    if (x)
        sqlite3_bind_text(st, 3, x, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        snprintf(uuid, 37, "%s", (const char *)sqlite3_column_text(st, 0));
        if (extra && sqlite3_column_count(st) > 1)
            snprintf(extra, extra_cap, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return (src == SQLITE_ROW || src == SQLITE_DONE) ? RL_OK : sqlerr(c, src);
}

static int person_known(ctx *c, const char *pnr, const char *exclude, bool *known)
{
    char u[37];
    int rc = find_live(c,
                       "SELECT pnr FROM employees WHERE pnr = ?1 UNION ALL SELECT uuid FROM"
                       " registrations WHERE type = 'hire' AND pnr = ?1 AND status != 'rejected'"
                       " AND uuid != ?2" NOT_REPLACED " LIMIT 1",
                       pnr, exclude, NULL, u, NULL, 0);
    *known = u[0] != '\0';
    return rc;
}

static int check_state(ctx *c, doc *d, const char *content_hash)
{
    reporter *rp = c->rp;
    const char *t = d->t->type;
    const char *corr = d->corrects[0] ? d->corrects : "";
    char u[37], extra[64];
    int rc;
    if (d->corrects[0]) {
        char ctype[32] = "";
        if ((rc = find_live(c, "SELECT uuid, type FROM registrations WHERE uuid = ?1 AND status"
                               " != 'rejected'",
                            d->corrects, NULL, NULL, u, ctype, sizeof ctype)) != RL_OK)
            return rc;
        if (!u[0])
            report(rp, "corrects", "no live registration with that UUID (unknown or rejected)");
        else if (strcmp(ctype, t) != 0)
            report(rp, "corrects", "corrects a %s document; a correction has the same type",
                   ctype);
        else {
            if ((rc = find_live(c, "SELECT uuid FROM registrations WHERE corrects = ?1 AND"
                                   " status != 'rejected'",
                                d->corrects, NULL, NULL, u, NULL, 0)) != RL_OK)
                return rc;
            if (u[0])
                report(rp, "corrects", "already corrected by registration %s", u);
            /* A correction fixes a document; it cannot move it to another employment or
             * person (that is a new document, and the old one is rejected). */
            char same[8] = "";
            const char *key = strcmp(t, "hire") == 0 || strcmp(t, "bank_change") == 0
                                  ? d->pnr
                                  : d->employment_id;
            if ((rc = find_live(c,
                                "SELECT uuid, CASE WHEN ?2 IN (pnr, coalesce(employment_id, ''))"
                                " THEN 'same' ELSE 'other' END FROM registrations WHERE uuid = ?1",
                                d->corrects, key, NULL, u, same, sizeof same)) != RL_OK)
                return rc;
            if (u[0] && strcmp(same, "same") != 0)
                report(rp, strcmp(t, "hire") == 0 || strcmp(t, "bank_change") == 0
                               ? "personnummer"
                               : "employment_id",
                       "differs from the document it corrects; register a new document and "
                       "reject the old one instead");
        }
    }
    if ((rc = find_live(c, "SELECT uuid FROM registrations WHERE content_hash = ?1 AND status"
                           " != 'rejected'",
                        content_hash, NULL, NULL, u, NULL, 0)) != RL_OK)
        return rc;
    if (u[0])
        report(rp, NULL, "duplicate: the same %s document is already registered as %s", t, u);

    if (strcmp(t, "hire") == 0) {
        employment e;
        if (d->employment_id[0]) {
            if ((rc = find_employment(c, d->employment_id, corr, &e)) != RL_OK)
                return rc;
            if (e.found)
                report(rp, "employment_id", "already exists");
        }
        const char *org = get(d, "org_unit_id");
        if (org) {
            if ((rc = find_live(c, "SELECT org_unit_id FROM org_units WHERE org_unit_id = ?1",
                                org, NULL, NULL, u, NULL, 0)) != RL_OK)
                return rc;
            if (!u[0])
                report(rp, "org_unit_id", "no such organisation unit in the snapshot");
        }
        bool known = false;
        if (d->pnr[0] && (rc = person_known(c, d->pnr, corr, &known)) != RL_OK)
            return rc;
        if (d->pnr[0] && !known && (!get(d, "given_name") || !get(d, "family_name")))
            report(rp, get(d, "given_name") ? "family_name" : "given_name",
                   "is required: the person is not in the snapshot");
        return RL_OK;
    }
    if (strcmp(t, "bank_change") == 0) {
        bool known = false;
        if (d->pnr[0] && (rc = person_known(c, d->pnr, corr, &known)) != RL_OK)
            return rc;
        if (d->pnr[0] && !known)
            report(rp, "personnummer", "no such person in the snapshot or in registered hires");
        return RL_OK;
    }
    /* Everything else concerns an existing employment. */
    employment e;
    if (!d->employment_id[0])
        return RL_OK;
    if ((rc = find_employment(c, d->employment_id, corr, &e)) != RL_OK)
        return rc;
    if (!e.found) {
        report(rp, "employment_id", "no such employment in the snapshot or in registered hires");
        return RL_OK;
    }
    memcpy(d->pnr, e.pnr, sizeof d->pnr);
    const char *eff_field = d->t->effective ? d->t->effective : "period";
    if (d->t->effective && d->effective[0] && strcmp(d->effective, e.start) < 0)
        report(rp, eff_field, "is before the employment starts (%s)", e.start);
    /* A termination too: a last day after the employment has ended would extend it. */
    if (e.end[0] && d->t->effective && d->effective[0] && strcmp(d->effective, e.end) > 0)
        report(rp, eff_field, "is after the employment ends (%s)", e.end);
    else if (e.end[0] && d->end[0] && strcmp(d->end, e.end) > 0) /* a leave's end, too */
        report(rp, d->t->end, "is after the employment ends (%s)", e.end);
    if (strcmp(t, "termination") == 0) {
        if ((rc = find_live(c, "SELECT uuid, effective_date FROM registrations WHERE type ="
                               " 'termination' AND employment_id = ?1 AND status != 'rejected'"
                               " AND uuid != ?2" NOT_REPLACED,
                            d->employment_id, corr, NULL, u, extra, sizeof extra)) != RL_OK)
            return rc;
        if (u[0])
            report(rp, "employment_id", "already terminated (last day %s) by registration %s",
                   extra, u);
    } else {
        if ((rc = find_live(c, "SELECT uuid, effective_date FROM registrations WHERE type ="
                               " 'termination' AND employment_id = ?1 AND status != 'rejected'"
                               " AND uuid != ?2 AND effective_date < ?3" NOT_REPLACED,
                            d->employment_id, corr, d->end[0] ? d->end : d->effective, u, extra,
                            sizeof extra)) != RL_OK)
            return rc;
        if (u[0] && d->t->effective)
            report(rp, strcmp(extra, d->effective) < 0 ? eff_field : d->t->end,
                   "is after the employment's last day %s (registration %s)", extra, u);
    }
    if (strcmp(t, "salary_change") == 0 && e.pay_type[0]) {
        bool monthly = strcmp(e.pay_type, "monthly") == 0;
        if (monthly && get(d, "hourly_rate_ore"))
            report(rp, "hourly_rate_ore", "the employment is paid monthly: give "
                                          "monthly_salary_ore");
        if (!monthly && get(d, "monthly_salary_ore"))
            report(rp, "monthly_salary_ore", "the employment is paid hourly: give "
                                             "hourly_rate_ore");
    }
    if (strcmp(t, "leave") == 0 && d->end[0]) {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(c->db,
                                     "SELECT uuid, effective_date, end_date FROM registrations"
                                     " WHERE type = 'leave' AND employment_id = ?1 AND status !="
                                     " 'rejected' AND uuid != ?2 AND effective_date <= ?4 AND"
                                     " end_date >= ?3" NOT_REPLACED " LIMIT 1",
                                     -1, &st, NULL);
        if (src != SQLITE_OK)
            return sqlerr(c, src);
        sqlite3_bind_text(st, 1, d->employment_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, corr, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d->effective, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, d->end, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            report(rp, "from_date", "overlaps leave %s..%s (registration %s)",
                   (const char *)sqlite3_column_text(st, 1),
                   (const char *)sqlite3_column_text(st, 2),
                   (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            return sqlerr(c, src);
    }
    return RL_OK;
}

/* --- storing -------------------------------------------------------------------------- */

static void new_uuid(char out[37])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hx[b[i] >> 4];
        out[o++] = hx[b[i] & 15];
    }
    out[o] = '\0';
}

static bool numeric_kind(kind k)
{
    return k == K_ORE_POS || k == K_ORE_SIGNED || k == K_TAXTABLE || k == K_TAXCOL ||
           k == K_PROTECTED;
}

/* The canonical JSON of a document's fields (type order, numbers as numbers), malloc'd. */
static char *canonical_json(const doc *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    fputc('{', f);
    bool first = true;
    for (size_t k = 0; k < d->t->n; k++) {
        if (!d->has[k])
            continue;
        if (!first)
            fputc(',', f);
        first = false;
        json_write_string(f, d->t->f[k].name);
        fputc(':', f);
        if (numeric_kind(d->t->f[k].k))
            fputs(d->val[k], f);
        else
            json_write_string(f, d->val[k]);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int insert_doc(ctx *c, doc *d, char uuid[37])
{
    int rc = RL_OK;
    char *json = NULL;
    sqlite3_stmt *st = NULL;
    new_uuid(uuid);
    /* The content hash covers the document as entered: an employment id generated below
     * (random) must not make a repeated hire look new. */
    json = canonical_json(d);
    if (json == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    uint8_t h[32];
    char hhex[65];
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, sizeof h);
    crypto_generichash_update(&hs, (const uint8_t *)d->t->type, strlen(d->t->type) + 1);
    crypto_generichash_update(&hs, (const uint8_t *)json, strlen(json));
    crypto_generichash_final(&hs, h, sizeof h);
    sodium_bin2hex(hhex, sizeof hhex, h, sizeof h);
    if (strcmp(d->t->type, "hire") == 0 && !d->employment_id[0]) {
        /* A hire without an id gets one the main system can map back: "R-" + 12 hex. */
        snprintf(d->employment_id, sizeof d->employment_id, "R-%.8s%.4s", uuid, uuid + 9);
        int k = idx_of(d->t, "employment_id");
        d->has[k] = true;
        snprintf(d->val[k], VAL_MAX, "%s", d->employment_id);
        free(json);
        if ((json = canonical_json(d)) == NULL)
            return err_set(RL_ENOMEM, "out of memory");
    }
    size_t before = c->rp->errors;
    if ((rc = check_state(c, d, hhex)) != RL_OK)
        goto cleanup;
    if (c->rp->errors > before) {
        rc = RL_EDATA;
        goto cleanup;
    }
    char at[21];
    vault_now(at);
    int src = sqlite3_prepare_v2(
        c->db,
        "INSERT INTO registrations(uuid, type, pnr, employment_id, effective_date, end_date,"
        " fields, content_hash, corrects, status, author, recorded_at)"
        " VALUES(?,?,?,?,?,?,?,?,?,'registered',?,?)",
        -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = sqlerr(c, src);
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->t->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->pnr, -1, SQLITE_STATIC);
    if (d->employment_id[0])
        sqlite3_bind_text(st, 4, d->employment_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d->effective, -1, SQLITE_STATIC);
    if (d->end[0])
        sqlite3_bind_text(st, 6, d->end, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, hhex, -1, SQLITE_STATIC);
    if (d->corrects[0])
        sqlite3_bind_text(st, 9, d->corrects, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, vault_operator(c->v), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, at, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sqlerr(c, src);
        goto cleanup;
    }
    char detail[200];
    snprintf(detail, sizeof detail, "registered %s %s%s%s", d->t->type, uuid,
             d->corrects[0] ? " correcting " : "", d->corrects);
    rc = vault_audit(c->v, "registration.add", detail);
cleanup:
    sqlite3_finalize(st);
    free(json);
    return rc;
}

/* Parses, checks and inserts one document inside the caller's transaction. */
static int add_one(ctx *c, const char *type, const reg_field *fields, size_t n,
                   const char *corrects, char uuid[37])
{
    doc *d = calloc(1, sizeof *d);
    if (d == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    size_t before = c->rp->errors;
    int rc = RL_OK;
    parse_doc(c->rp, type, fields, n, d);
    if (corrects && corrects[0]) {
        if (strlen(corrects) != 36)
            report(c->rp, "corrects", "must be a registration UUID");
        else
            snprintf(d->corrects, sizeof d->corrects, "%s", corrects);
    }
    if (c->rp->errors == before)
        rc = insert_doc(c, d, uuid);
    else
        rc = RL_EDATA;
    free(d);
    return rc;
}

int registry_register(vault *v, const char *type, const reg_field *fields, size_t n,
                      const char *corrects, FILE *out, char uuid[37])
{
    reporter rp = {.out = out, .max = 100};
    ctx c = {.v = v, .db = vault_db(v), .rp = &rp};
    int rc = vault_require_role(v, VAULT_ROLE_REGISTRAR | VAULT_ROLE_APPROVER,
                                "registering a document");
    if (rc != RL_OK)
        return rc;
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    rc = add_one(&c, type, fields, n, corrects, uuid);
    if (rc == RL_OK)
        return vault_commit(v);
    vault_rollback(v);
    if (rc == RL_EDATA)
        return err_set(RL_EDATA, "%zu problem%s in the %s document; nothing was registered",
                       rp.errors, rp.errors == 1 ? "" : "s", type);
    return rc;
}

/* --- batch ---------------------------------------------------------------------------- */

static int batch_jsonl(ctx *c, const char *name, char *data, size_t len, size_t *count)
{
    size_t line = 0;
    char *p = data, *end = data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        line++;
        size_t n = (size_t)(stop - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        snprintf(c->rp->prefix, sizeof c->rp->prefix, "%s line %zu", name, line);
        bool blank = true;
        for (size_t i = 0; i < n; i++)
            if (p[i] != ' ' && p[i] != '\t')
                blank = false;
        if (!blank) {
            json_value *obj = NULL;
            if (json_parse(p, n, &obj) != RL_OK || json_typeof(obj) != JSON_OBJECT) {
                report(c->rp, NULL, "%s", obj ? "must be a JSON object" : err_msg());
            } else {
                reg_field f[MAXF + 4];
                size_t nf = 0;
                const char *type = NULL, *corrects = NULL;
                bool ok = true;
                for (size_t i = 0; i < json_len(obj); i++) {
                    const char *k = json_key_at(obj, i);
                    const json_value *jv = json_at(obj, i);
                    size_t svlen = 0;
                    const char *sv = json_typeof(jv) == JSON_STRING   ? json_string(jv, &svlen)
                                     : json_typeof(jv) == JSON_NUMBER ? json_number_text(jv)
                                                                      : NULL;
                    if (sv != NULL && json_typeof(jv) == JSON_STRING && strlen(sv) != svlen) {
                        /* "a\u0000b" would otherwise be cut to "a" without a word. */
                        report(c->rp, k, "contains a NUL character (\\u0000)");
                        ok = false;
                    } else if (sv == NULL) {
                        report(c->rp, k, "must be a string or a number");
                        ok = false;
                    } else if (strcmp(k, "type") == 0) {
                        type = sv;
                    } else if (strcmp(k, "corrects") == 0) {
                        corrects = sv;
                    } else if (nf < MAXF + 4) {
                        f[nf++] = (reg_field){k, sv};
                    } else {
                        report(c->rp, k, "too many fields");
                        ok = false;
                    }
                }
                if (!ok) {
                    /* each bad member is reported already */
                } else if (type == NULL) {
                    report(c->rp, "type", "is required");
                } else {
                    char uuid[37];
                    int rc = add_one(c, type, f, nf, corrects, uuid);
                    if (rc != RL_OK && rc != RL_EDATA) {
                        json_free(obj);
                        return rc;
                    }
                    if (rc == RL_OK)
                        (*count)++;
                }
            }
            json_free(obj);
        }
        p = nl ? nl + 1 : end;
    }
    return RL_OK;
}

static int batch_csv(ctx *c, const char *name, char *data, size_t len, size_t *count)
{
    csv_reader *r = NULL;
    csv_row hdr, row;
    char *names[CSV_MAX_FIELDS] = {0};
    size_t ncol = 0;
    int rc = csv_open(data, len, name, &r);
    if (rc != RL_OK)
        goto structural;
    rc = csv_next(r, &hdr);
    if (rc <= 0) {
        if (rc == 0)
            rc = err_set(RL_EDATA, "%s: empty batch (no header row)", name);
        goto structural;
    }
    ncol = hdr.n;
    for (size_t i = 0; i < ncol; i++) {
        names[i] = strdup(hdr.f[i]);
        if (names[i] == NULL) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    if (strcmp(names[0], "type") != 0) {
        rc = err_set(RL_EDATA, "%s line 1: the first column must be 'type'", name);
        goto structural;
    }
    for (;;) {
        rc = csv_next(r, &row);
        if (rc < 0)
            goto structural;
        if (rc == 0)
            break;
        snprintf(c->rp->prefix, sizeof c->rp->prefix, "%s line %zu", name, row.line);
        if (row.n != ncol) {
            report(c->rp, NULL, "has %zu fields, the header has %zu", row.n, ncol);
            continue;
        }
        reg_field f[CSV_MAX_FIELDS];
        size_t nf = 0;
        const char *corrects = NULL;
        for (size_t i = 1; i < ncol; i++) {
            if (row.len[i] == 0)
                continue;
            if (strcmp(names[i], "corrects") == 0)
                corrects = row.f[i];
            else
                f[nf++] = (reg_field){names[i], row.f[i]};
        }
        char uuid[37];
        rc = add_one(c, row.f[0], f, nf, corrects, uuid);
        if (rc != RL_OK && rc != RL_EDATA)
            goto cleanup;
        if (rc == RL_OK)
            (*count)++;
    }
    rc = RL_OK;
    goto cleanup;
structural:
    if (rc == RL_EDATA) {
        c->rp->errors++;
        if (c->rp->out)
            fprintf(c->rp->out, "%s\n", err_msg());
        rc = RL_OK;
    }
cleanup:
    for (size_t i = 0; i < ncol; i++)
        free(names[i]);
    csv_close(r);
    return rc;
}

int registry_batch(vault *v, const char *path, FILE *out, size_t *count)
{
    reporter rp = {.out = out, .max = 200};
    ctx c = {.v = v, .db = vault_db(v), .rp = &rp};
    char *data = NULL;
    size_t len = 0;
    *count = 0;
    int rc = vault_require_role(v, VAULT_ROLE_REGISTRAR | VAULT_ROLE_APPROVER,
                                "registering documents");
    if (rc != RL_OK)
        return rc;
    if ((rc = file_read_all(path, 256u << 20, &data, &len)) != RL_OK)
        return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* A UTF-8 byte order mark (as some editors save) is skipped for both formats. */
    size_t bom = len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    size_t i = bom;
    while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
        i++;
    if (i == len) {
        rc = err_set(RL_EDATA, "%s: empty batch (no documents)", base);
        goto cleanup;
    }
    bool jsonl = data[i] == '{';
    if (jsonl && !csv_utf8_valid(data, len)) {
        rc = err_set(RL_EDATA, "%s: not valid UTF-8", base);
        goto cleanup;
    }
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    rc = jsonl ? batch_jsonl(&c, base, data + bom, len - bom, count)
               : batch_csv(&c, base, data, len, count);
    if (rc == RL_OK && rp.errors == 0 && *count == 0)
        rc = err_set(RL_EDATA, "%s: no documents in the batch", base);
    else if (rc == RL_OK && rp.errors > 0) {
        if (out && rp.errors > rp.max)
            fprintf(out, "... and %zu more problems\n", rp.errors - rp.max);
        rc = err_set(RL_EDATA, "batch %s rejected: %zu problem%s; nothing was registered", base,
                     rp.errors, rp.errors == 1 ? "" : "s");
    }
    if (rc == RL_OK) {
        char detail[300];
        snprintf(detail, sizeof detail, "batch %s: %zu documents registered", base, *count);
        rc = vault_audit(v, "registration.batch", detail);
    }
    if (rc == RL_OK)
        rc = vault_commit(v);
    else
        vault_rollback(v);
    if (rc != RL_OK)
        *count = 0; /* a failed commit stored nothing either */
cleanup:
    if (data)
        sodium_memzero(data, len);
    free(data);
    return rc;
}

/* --- decisions ------------------------------------------------------------------------ */

static int decide(vault *v, const char *uuid, const char *status, const char *reason)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *st = NULL;
    int rc = vault_require_role(v, VAULT_ROLE_APPROVER,
                                strcmp(status, "approved") == 0 ? "approving a registration"
                                                                : "rejecting a registration");
    if (rc != RL_OK)
        return rc;
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    int src = sqlite3_prepare_v2(db, "SELECT author, status, type FROM registrations WHERE uuid=?",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "deciding");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "no registration %s", uuid);
        goto cleanup;
    }
    if (src != SQLITE_ROW) {
        rc = vault_sql_error(v, src, "deciding");
        goto cleanup;
    }
    char author[80], cur[16], type[32];
    snprintf(author, sizeof author, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(cur, sizeof cur, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    st = NULL;
    if (strcmp(cur, "registered") != 0) {
        rc = err_set(RL_EDATA, "registration %s is already %s", uuid, cur);
        goto cleanup;
    }
    if (strcmp(author, vault_operator(v)) == 0) {
        /* Separation of duties: the author cannot decide on their own document. */
        rc = err_set(RL_EAUTH, "registration %s was registered by %s: a different approver "
                               "must decide on it",
                     uuid, author);
        goto cleanup;
    }
    char at[21];
    vault_now(at);
    src = sqlite3_prepare_v2(db,
                             "UPDATE registrations SET status=?, decided_by=?, decided_at=?,"
                             " decision_reason=? WHERE uuid=? AND status='registered'",
                             -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, vault_operator(v), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
        if (reason)
            sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, uuid, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "deciding");
        goto cleanup;
    }
    char detail[300];
    snprintf(detail, sizeof detail, "%s %s %s%s%.150s", status, type, uuid, reason ? ": " : "",
             reason ? reason : "");
    if ((rc = vault_audit(v, strcmp(status, "approved") == 0 ? "registration.approve"
                                                            : "registration.reject",
                          detail)) != RL_OK)
        goto cleanup;
    sqlite3_finalize(st);
    return vault_commit(v);
cleanup:
    sqlite3_finalize(st);
    vault_rollback(v);
    return rc;
}

int registry_approve(vault *v, const char *uuid) { return decide(v, uuid, "approved", NULL); }

int registry_reject(vault *v, const char *uuid, const char *reason)
{
    if (reason == NULL || field_text(reason, strlen(reason), 500) != RL_OK ||
        !csv_utf8_valid(reason, strlen(reason)))
        return err_set(RL_EUSAGE, "rejecting needs --reason TEXT (1-500 bytes of UTF-8 text, "
                                  "no control characters)");
    return decide(v, uuid, "rejected", reason);
}

/* --- listing ---------------------------------------------------------------------------- */

static void pnr_format(const char *d, bool protect, char out[16])
{
    if (protect)
        snprintf(out, 16, "%.8s-****", d);
    else
        snprintf(out, 16, "%.8s-%.4s", d, d + 8);
}

int registry_list(vault *v, const char *status, const char *pnr_text, int json, FILE *out)
{
    sqlite3_stmt *st = NULL;
    ident_pnr p;
    int rc = RL_OK;
    if (pnr_text && (rc = ident_pnr_parse(pnr_text, today_int(NULL), &p)) != RL_OK)
        return err_wrap(RL_EDATA, "--employee: ");
    if (status && strcmp(status, "registered") && strcmp(status, "approved") &&
        strcmp(status, "rejected") && strcmp(status, "exported"))
        return err_set(RL_EUSAGE, "--status must be registered, approved, rejected or exported");
    int src = sqlite3_prepare_v2(
        vault_db(v),
        "SELECT r.seq, r.uuid, r.type, r.status, r.pnr, coalesce(r.employment_id, ''),"
        " r.effective_date, r.author, r.recorded_at, coalesce(r.decided_by, ''),"
        " coalesce(r.corrects, ''), r.fields,"
        " max(coalesce((SELECT protected FROM employees e WHERE e.pnr = r.pnr), 0),"
        "     coalesce((SELECT max(json_extract(h.fields, '$.protected_identity'))"
        "               FROM registrations h WHERE h.type = 'hire' AND h.pnr = r.pnr), 0))"
        " FROM registrations r WHERE (?1 IS NULL OR r.status = ?1) AND (?2 IS NULL OR r.pnr = ?2)"
        " ORDER BY r.seq",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "listing registrations");
    if (status)
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    if (pnr_text)
        sqlite3_bind_text(st, 2, p.digits, -1, SQLITE_STATIC);
    if (json)
        fputc('[', out);
    else
        fprintf(out, "%-5s %-36s %-13s %-10s %-10s %-15s %-14s %s\n", "seq", "uuid", "type",
                "status", "effective", "person", "employment", "author");
    size_t n = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c[12];
        for (int i = 0; i < 12; i++)
            c[i] = (const char *)sqlite3_column_text(st, i);
        bool prot = sqlite3_column_int(st, 12) > 0;
        char person[16];
        pnr_format(c[4], prot, person);
        if (json) {
            fprintf(out, "%s{\"seq\":%s,\"uuid\":\"%s\",\"type\":\"%s\",\"status\":\"%s\","
                         "\"personnummer\":\"%s\",\"protected_identity\":%s,",
                    n ? "," : "", c[0], c[1], c[2], c[3], person, prot ? "true" : "false");
            fprintf(out, "\"employment_id\":");
            json_write_string(out, c[5]);
            fprintf(out, ",\"effective_date\":\"%s\",\"author\":", c[6]);
            json_write_string(out, c[7]);
            fprintf(out, ",\"recorded_at\":\"%s\",\"decided_by\":", c[8]);
            json_write_string(out, c[9]);
            fprintf(out, ",\"corrects\":");
            json_write_string(out, c[10]);
            if (prot) {
                fprintf(out, ",\"fields\":\"(masked: protected identity)\"}");
            } else {
                fprintf(out, ",\"fields\":%s}", c[11]);
            }
        } else {
            fprintf(out, "%-5s %-36s %-13s %-10s %-10s %-15s %-14s %s%s%s\n", c[0], c[1], c[2],
                    c[3], c[6], person, c[5], c[7], c[10][0] ? " corrects " : "", c[10]);
        }
        n++;
    }
    if (json)
        fputs("]\n", out);
    if (src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "listing registrations");
    sqlite3_finalize(st);
    return rc;
}

/* --- one person's state ----------------------------------------------------------------- */

/* Approved (or exported) documents that count: not superseded by an approved correction. */
#define LIVE_APPROVED EMPSTATE_LIVE_APPROVED

static void money(FILE *out, int64_t ore)
{
    char buf[32];
    field_money_format(ore, buf);
    fprintf(out, "%s SEK", buf);
}

static void print_state(FILE *out, int json, const empstate *e, bool first)
{
    char tax[48];
    empstate_tax_text(e, tax);
    if (json) {
        fprintf(out, "%s{\"employment_id\":", first ? "" : ",");
        json_write_string(out, e->id);
        fprintf(out, ",\"source\":\"%s\",\"org_unit_id\":", e->source);
        json_write_string(out, e->org);
        fprintf(out,
                ",\"start_date\":\"%s\",\"end_date\":%s%s%s,\"pay_type\":\"%s\",\"%s\":%lld,"
                "\"extent_pct\":\"%s\",\"tax\":\"%s\"}",
                e->start, e->end[0] ? "\"" : "", e->end[0] ? e->end : "null",
                e->end[0] ? "\"" : "", e->pay_type,
                strcmp(e->pay_type, "monthly") == 0 ? "monthly_salary_ore" : "hourly_rate_ore",
                (long long)e->salary, e->extent, tax);
        return;
    }
    fprintf(out, "  employment %s (%s), org unit %s\n", e->id, e->source, e->org);
    fprintf(out, "    %s, ", e->pay_type);
    money(out, e->salary);
    fprintf(out, "%s, extent %s %%, tax %s\n", strcmp(e->pay_type, "monthly") ? "/hour" : "/month",
            e->extent, tax);
    fprintf(out, "    from %s to %s\n", e->start, e->end[0] ? e->end : "(open-ended)");
}

int registry_employee_show(vault *v, const char *pnr_text, int json, int reveal, FILE *out)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *st = NULL, *docs = NULL;
    ident_pnr p;
    int rc = RL_OK;
    if (ident_pnr_parse(pnr_text, today_int(NULL), &p) != RL_OK)
        return RL_EDATA; /* the message already says "personnummer: ..." */
    /* The person: from the snapshot, else from the first live hire. */
    int src = sqlite3_prepare_v2(
        db,
        "SELECT given_name, family_name, protected, coalesce(clearing,''), coalesce(account,''),"
        " coalesce(iban,''), 'snapshot' FROM employees WHERE pnr = ?1 UNION ALL"
        " SELECT json_extract(fields,'$.given_name'), json_extract(fields,'$.family_name'),"
        " coalesce(json_extract(fields,'$.protected_identity'),0),"
        " coalesce(json_extract(fields,'$.clearing'),''), coalesce(json_extract(fields,'$.account'),''),"
        " coalesce(json_extract(fields,'$.iban'),''), 'registration ' || uuid"
        " FROM registrations WHERE type='hire' AND pnr = ?1 AND status != 'rejected' LIMIT 1",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "showing the employee");
    sqlite3_bind_text(st, 1, p.digits, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        sqlite3_finalize(st);
        return err_set(RL_EDATA, "no such person in the snapshot or in registrations");
    }
    if (src != SQLITE_ROW) {
        sqlite3_finalize(st);
        return vault_sql_error(v, src, "showing the employee");
    }
    char given[128], family[128], clr[8], acc[24], iban[40], source[64];
    /* A hire of a person already known (from another hire) carries no names. */
    const char *g = (const char *)sqlite3_column_text(st, 0);
    const char *fam = (const char *)sqlite3_column_text(st, 1);
    snprintf(given, sizeof given, "%s", g ? g : "");
    snprintf(family, sizeof family, "%s", fam ? fam : "");
    int prot = sqlite3_column_int(st, 2);
    snprintf(clr, sizeof clr, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(acc, sizeof acc, "%s", (const char *)sqlite3_column_text(st, 4));
    snprintf(iban, sizeof iban, "%s", (const char *)sqlite3_column_text(st, 5));
    snprintf(source, sizeof source, "%s", (const char *)sqlite3_column_text(st, 6));
    sqlite3_finalize(st);
    st = NULL;
    /* Protected if the snapshot or any hire of the person says so (a hire may add it). */
    src = sqlite3_prepare_v2(db,
                             "SELECT max(json_extract(fields, '$.protected_identity')) FROM"
                             " registrations WHERE type = 'hire' AND pnr = ?1",
                             -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "showing the employee");
    sqlite3_bind_text(st, 1, p.digits, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > prot)
        prot = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    bool masked = prot > 0 && !reveal;
    if (prot > 0) {
        /* Every access to a protected identity is recorded, revealed or not. */
        char detail[120];
        snprintf(detail, sizeof detail, "%s protected identity %.8s-****",
                 reveal ? "revealed" : "viewed (masked)", p.digits);
        if ((rc = vault_begin(v)) != RL_OK)
            return rc;
        if ((rc = vault_audit(v, reveal ? "employee.reveal" : "employee.view", detail)) != RL_OK ||
            (rc = vault_commit(v)) != RL_OK) {
            vault_rollback(v);
            return rc;
        }
    }
    /* The latest approved bank change overrides the snapshot's account. */
    src = sqlite3_prepare_v2(db,
                             "SELECT coalesce(json_extract(fields,'$.clearing'),''),"
                             " coalesce(json_extract(fields,'$.account'),''),"
                             " coalesce(json_extract(fields,'$.iban'),''), effective_date, uuid"
                             " FROM registrations WHERE type='bank_change' AND pnr=?1 AND "
                             LIVE_APPROVED " ORDER BY effective_date DESC, seq DESC LIMIT 1",
                             -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "showing the employee");
    sqlite3_bind_text(st, 1, p.digits, -1, SQLITE_STATIC);
    char bank_from[80] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(clr, sizeof clr, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(acc, sizeof acc, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(iban, sizeof iban, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(bank_from, sizeof bank_from, " (from %s, registration %s)",
                 (const char *)sqlite3_column_text(st, 3), (const char *)sqlite3_column_text(st, 4));
    }
    sqlite3_finalize(st);
    st = NULL;
    char shown_pnr[16];
    pnr_format(p.digits, false, shown_pnr);
    if (masked && (clr[0] || iban[0])) {
        /* An account can locate a protected person too: show only that there is one. */
        snprintf(clr, sizeof clr, "%s", "");
        snprintf(acc, sizeof acc, "%s", "");
        snprintf(iban, sizeof iban, "%s", "present (masked: protected identity)");
    }
    if (json) {
        fprintf(out, "{\"personnummer\":\"%s\",\"kind\":\"%s\",\"protected_identity\":%d,",
                shown_pnr, p.kind == IDENT_SAMORDNINGSNUMMER ? "samordningsnummer" : "personnummer",
                prot);
        fprintf(out, "\"name\":");
        if (masked) {
            json_write_string(out, "(skyddad identitet)");
        } else {
            char full[260];
            snprintf(full, sizeof full, "%s %s", given, family);
            json_write_string(out, full);
        }
        fprintf(out, ",\"source\":\"%s\",\"bank\":\"%s%s%s%s%s\",\"employments\":[", source, clr,
                clr[0] ? "-" : "", acc, iban, (!clr[0] && !iban[0]) ? "none" : "");
    } else {
        fprintf(out, "person %s%s  %s%s%s\n", shown_pnr,
                p.kind == IDENT_SAMORDNINGSNUMMER ? " (samordningsnummer)" : "",
                masked ? "(skyddad identitet)" : given, masked ? "" : " ", masked ? "" : family);
        if (prot > 0)
            fprintf(out, "  protected identity (level %d): never print or send the name or "
                         "address outside the payment file\n",
                    prot);
        fprintf(out, "  source: %s\n  bank account: ", source);
        if (clr[0])
            fprintf(out, "%s-%s", clr, acc);
        else if (iban[0])
            fprintf(out, "%s", iban);
        else
            fprintf(out, "none (the pay run will warn)");
        fprintf(out, "%s\n", bank_from);
    }
    /* Employments: snapshot rows and live hires, each with approved changes applied. */
    src = sqlite3_prepare_v2(
        db,
        "SELECT " EMPSTATE_SNAPSHOT_COLS ", 'snapshot' FROM employments WHERE pnr = ?1"
        " UNION ALL SELECT " EMPSTATE_HIRE_COLS ", 'hire ' || status FROM registrations"
        " WHERE type = 'hire' AND pnr = ?1 AND " LIVE_APPROVED " ORDER BY 3",
        -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, EMPSTATE_DOCS_SQL, -1, &docs, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "showing the employee");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, p.digits, -1, SQLITE_STATIC);
    bool first = true;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        empstate e;
        empstate_from_row(st, &e, (const char *)sqlite3_column_text(st, 10));
        if ((src = empstate_apply_docs(docs, &e)) != SQLITE_DONE)
            break;
        print_state(out, json, &e, first);
        first = false;
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "showing the employee");
        goto cleanup;
    }
    if (json)
        fputs("],\"history\":", out);
    else
        fputs("  history (every registration concerning this person):\n", out);
    sqlite3_finalize(st);
    st = NULL;
    if (!json) {
        /* The listing's own format, indented by the caller's eye; masked as listings are. */
        rc = registry_list(v, NULL, pnr_text, 0, out);
    } else {
        rc = registry_list(v, NULL, pnr_text, 1, out);
        fputs("}\n", out);
    }
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(docs);
    return rc;
}

/* --- per-field checks (the terminal interface validates as the user types) --------------- */

size_t registry_type_fields(const char *type, const char **names, int *required, size_t cap)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(types[i].type, type) != 0)
            continue;
        size_t n = types[i].n < cap ? types[i].n : cap;
        for (size_t k = 0; k < n; k++) {
            names[k] = types[i].f[k].name;
            if (required)
                required[k] = types[i].f[k].required;
        }
        return n;
    }
    return 0;
}

int registry_check_field(const char *type, const char *field, const char *value, char *msg,
                         size_t cap)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = RL_OK;
    const tspec *t = NULL;
    msg[0] = '\0';
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].type, type) == 0)
            t = &types[i];
    int k = t ? idx_of(t, field) : -1;
    if (k < 0) {
        snprintf(msg, cap, "is not a field of a %s document", type);
        return RL_EUSAGE;
    }
    if (value[0] == '\0') {
        if (!t->f[k].required)
            return RL_OK;
        snprintf(msg, cap, "is required for a %s document", type);
        return RL_EDATA;
    }
    /* parse_value's own report, without the "field F: " it starts with. */
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    reporter rp = {.out = f, .max = 1};
    char *out = malloc(VAL_MAX);
    bool ok = out != NULL && parse_value(&rp, &t->f[k], value, out);
    free(out);
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        return err_set(RL_ENOMEM, "out of memory");
    }
    if (!ok) {
        const char *m = buf;
        size_t skip = strlen("field ") + strlen(field) + 2;
        if (strncmp(m, "field ", 6) == 0 && strlen(m) >= skip)
            m += skip;
        snprintf(msg, cap, "%.*s", (int)strcspn(m, "\n"), m[0] ? m : "is not valid");
        rc = RL_EDATA;
    }
    free(buf);
    return rc;
}

/* --- finding people by name (the terminal interface's search) ---------------------------- */

/* Lower case for matching: ASCII and the Latin-1 letters of UTF-8 (Å Ä Ö É Ü ...), which is
 * what Swedish names need; anything else is kept as it is. */
static void name_fold(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 3 < cap; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (c == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) {
            out[o++] = (char)c;
            c = (unsigned char)(*++p + 0x20);
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

int registry_employee_find(vault *v, const char *name, size_t max, FILE *out)
{
    char q[256], full[300], fold[300];
    size_t chars = 0;
    for (const char *c = name; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80 && *c != ' ';
    if (chars < 2 || strlen(name) >= sizeof q)
        return err_set(RL_EDATA, "name: give at least 2 letters of the name (at most 200)");
    name_fold(name, q, sizeof q);
    /* Protected identities are left out entirely, by the same rule as employee show: the
     * snapshot's level or any hire of the person that sets one. */
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(
        vault_db(v),
        "WITH prot(pnr) AS (SELECT pnr FROM registrations WHERE type = 'hire' AND"
        "   coalesce(json_extract(fields, '$.protected_identity'), 0) > 0)"
        " SELECT pnr, given_name, family_name, src FROM ("
        "  SELECT pnr, given_name, family_name, 'snapshot' AS src FROM employees"
        "   WHERE protected = 0 AND pnr NOT IN prot"
        "  UNION ALL SELECT r.pnr, json_extract(r.fields, '$.given_name'),"
        "   json_extract(r.fields, '$.family_name'), 'registration'"
        "   FROM registrations r WHERE r.type = 'hire' AND r.status != 'rejected'"
        "   AND json_extract(r.fields, '$.given_name') IS NOT NULL"
        "   AND r.pnr NOT IN (SELECT pnr FROM employees) AND r.pnr NOT IN prot"
        "   AND r.seq = (SELECT min(h.seq) FROM registrations h WHERE h.type = 'hire'"
        "                AND h.pnr = r.pnr AND h.status != 'rejected'))"
        " ORDER BY 3, 2, 1",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "finding employees by name");
    size_t n = 0;
    bool more = false;
    fputs("{\"matches\":[", out);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pnr = (const char *)sqlite3_column_text(st, 0);
        const char *g = (const char *)sqlite3_column_text(st, 1);
        const char *f = (const char *)sqlite3_column_text(st, 2);
        snprintf(full, sizeof full, "%s %s", g ? g : "", f ? f : "");
        name_fold(full, fold, sizeof fold);
        /* Every word of the query somewhere in the name, in any order. */
        bool hit = true;
        for (const char *w = q; *w && hit;) {
            size_t wl = strcspn(w, " ");
            if (wl > 0) {
                char word[256];
                snprintf(word, sizeof word, "%.*s", (int)wl, w);
                hit = strstr(fold, word) != NULL;
            }
            w += wl;
            while (*w == ' ')
                w++;
        }
        if (!hit || pnr == NULL)
            continue;
        if (n == max) {
            more = true;
            break;
        }
        char shown[16];
        pnr_format(pnr, false, shown);
        fprintf(out, "%s{\"personnummer\":\"%s\",\"name\":", n ? "," : "", shown);
        json_write_string(out, full);
        fprintf(out, ",\"source\":\"%s\"}", (const char *)sqlite3_column_text(st, 3));
        n++;
    }
    sqlite3_finalize(st);
    sodium_memzero(full, sizeof full);
    sodium_memzero(fold, sizeof fold);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        return vault_sql_error(v, src, "finding employees by name");
    fprintf(out, "],\"more\":%s}\n", more ? "true" : "false");
    return RL_OK;
}
