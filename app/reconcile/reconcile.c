/* reconcile: gathering what a released pay run paid, what it should have paid with every
 * document approved now, and writing both as the reconciliation report (see reconcile.h). */
#include "reconcile/reconcile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/html.h"
#include "common/mem.h"
#include "payfile/payfile.h"
#include "payrun/payrun.h"

#ifndef RL_RULES_DIR
#define RL_RULES_DIR "app/rules"
#endif

enum { C_GROSS, C_TAX, C_DED, C_NET, NC };

/* How an employment's pay left the appliance. PAY_UNKNOWN: the file left out fewer or more
 * people than lack an account now, and this person's account changed after the file. */
enum { PAY_NOTHING, PAY_FILE, PAY_LEFT_OUT, PAY_NO_FILE, PAY_NEGATIVE, PAY_UNKNOWN,
       PAY_NOT_IN_RUN };

/* A registration relative to the pay run. */
enum { REG_INCLUDED, REG_AFTER, REG_PENDING, REG_SKIP };

typedef struct {
    char uuid[37], type[16], key[65]; /* key: the employment id, or a person's pnr */
    int64_t seq;
    int64_t approved; /* the approval's audit sequence, 0 if none */
    int state;
} rreg;

typedef struct {
    rreg *r;
    size_t n, cap;
} rregs;

typedef struct {
    char emp[65], pnr[16];
    bool in_run, has_should, protected_id;
    int64_t paid[NC], should[NC];
    char *name; /* NULL for a protected identity (never shown) or an unknown person */
    char *paid_notes, *should_notes;
    int pay;
} rrow;

typedef struct {
    rrow *r;
    size_t n, cap;
} rrows;

typedef struct {
    char msg_id[40], written_at[21];
    bool drill;
    int64_t count, total, left_out, left_out_ore;
} pfile;

typedef struct {
    vault *v;
    int64_t id;
    char period[8], pay_date[11], policy[16], status[16], created_by[80], created_at[21];
    char rules[65], approved_by[80], approved2_by[80], last_day[11], generated[21];
    int64_t employments, tot[NC], create_seq;
    rrows rows;
    rregs by_emp, by_pnr;
    pfile *files;
    size_t nfiles;
    const pfile *file; /* the file the payment column refers to, or NULL */
    char (*left)[16];  /* people the file left out (as judged now), pnr order */
    size_t nleft, left_cap;
    int64_t left_ore;
    bool left_mismatch, left_oom;
    /* the summary */
    size_t corrections, added, n_pay[PAY_NOT_IN_RUN + 1];
    int64_t should[NC], diff[NC], pos[NC], neg[NC];
} rec;

/* --- small helpers ---------------------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int dup_str(const char *s, char **out)
{
    *out = strdup(s);
    return *out ? RL_OK : err_set(RL_ENOMEM, "out of memory");
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const rrow *)a)->emp, ((const rrow *)b)->emp);
}

static int cmp_reg(const void *a, const void *b)
{
    const rreg *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static rrow *row_add(rrows *rs)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        rrow *p = realloc(rs->r, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        rs->r = p;
        rs->cap = cap;
    }
    rrow *r = &rs->r[rs->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static rrow *row_find(const rrows *rs, const char *emp)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(rs->r[mid].emp, emp);
        if (c == 0)
            return &rs->r[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void rec_free(rec *x)
{
    for (size_t i = 0; i < x->rows.n; i++) {
        free(x->rows.r[i].name);
        free(x->rows.r[i].paid_notes);
        free(x->rows.r[i].should_notes);
    }
    free(x->rows.r);
    free(x->by_emp.r);
    free(x->by_pnr.r);
    free(x->files);
    free(x->left);
}

/* --- the pay run as stored -------------------------------------------------------------- */

static int read_run(rec *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT period, pay_date, policy, status, created_by, created_at,"
                                 " rules_sha256, employments, gross_ore, tax_ore, deductions_ore,"
                                 " net_ore, coalesce(approved_by,''), coalesce(approved2_by,'')"
                                 " FROM payruns WHERE id = ?1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, x->id);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "no pay run %lld", (long long)x->id);
    } else if (src != SQLITE_ROW) {
        rc = vault_sql_error(x->v, src, "reading the pay run");
    } else {
        copy(x->period, sizeof x->period, col(st, 0));
        copy(x->pay_date, sizeof x->pay_date, col(st, 1));
        copy(x->policy, sizeof x->policy, col(st, 2));
        copy(x->status, sizeof x->status, col(st, 3));
        copy(x->created_by, sizeof x->created_by, col(st, 4));
        copy(x->created_at, sizeof x->created_at, col(st, 5));
        copy(x->rules, sizeof x->rules, col(st, 6));
        x->employments = sqlite3_column_int64(st, 7);
        for (int c = 0; c < NC; c++)
            x->tot[c] = sqlite3_column_int64(st, 8 + c);
        copy(x->approved_by, sizeof x->approved_by, col(st, 12));
        copy(x->approved2_by, sizeof x->approved2_by, col(st, 13));
    }
    sqlite3_finalize(st);
    if (rc == RL_OK && strlen(x->period) != 7)
        rc = err_set(RL_EINTEGRITY, "pay run %lld has a malformed period", (long long)x->id);
    return rc;
}

/* The run's creation in the audit log: registrations approved before it were in the run.
 * The audit sequence orders events within one second, which the timestamps cannot. */
static int read_create_seq(rec *x)
{
    sqlite3_stmt *st = NULL;
    char like[64];
    snprintf(like, sizeof like, "pay run %lld created:%%", (long long)x->id);
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT min(seq) FROM audit WHERE action = 'payrun.create' AND"
                                 " detail LIKE ?1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    int rc = RL_OK;
    if (src != SQLITE_ROW)
        rc = vault_sql_error(x->v, src, "reading the audit log");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = err_set(RL_EINTEGRITY, "the audit log has no entry for the creation of pay run %lld",
                     (long long)x->id);
    else
        x->create_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Name and protection of a person the snapshot does not hold: the latest approved hire. */
static int hire_person(rec *x, sqlite3_stmt **st, rrow *r)
{
    if (*st == NULL) {
        int src = sqlite3_prepare_v2(
            vault_db(x->v),
            "SELECT coalesce(json_extract(fields,'$.given_name'),''),"
            " coalesce(json_extract(fields,'$.family_name'),''),"
            " coalesce(json_extract(fields,'$.protected_identity'),0) FROM registrations"
            " WHERE type = 'hire' AND pnr = ?1 ORDER BY status IN ('approved','exported') DESC,"
            " seq DESC LIMIT 1",
            -1, st, NULL);
        if (src != SQLITE_OK)
            return vault_sql_error(x->v, src, "reading hires");
    }
    sqlite3_reset(*st);
    sqlite3_bind_text(*st, 1, r->pnr, -1, SQLITE_STATIC);
    int src = sqlite3_step(*st);
    if (src == SQLITE_DONE)
        return RL_OK; /* unknown person: no name */
    if (src != SQLITE_ROW)
        return vault_sql_error(x->v, src, "reading hires");
    r->protected_id = sqlite3_column_int(*st, 2) > 0;
    if (r->protected_id)
        return RL_OK;
    char name[520];
    snprintf(name, sizeof name, "%s %s", col(*st, 0), col(*st, 1));
    return dup_str(name, &r->name);
}

/* Looks up name and protection for a row from the employees table, else the hires. */
static int person_of(rec *x, sqlite3_stmt **emp_st, sqlite3_stmt **hire_st, rrow *r)
{
    if (*emp_st == NULL) {
        int src = sqlite3_prepare_v2(vault_db(x->v),
                                     "SELECT given_name, family_name, protected FROM employees"
                                     " WHERE pnr = ?1",
                                     -1, emp_st, NULL);
        if (src != SQLITE_OK)
            return vault_sql_error(x->v, src, "reading employees");
    }
    sqlite3_reset(*emp_st);
    sqlite3_bind_text(*emp_st, 1, r->pnr, -1, SQLITE_STATIC);
    int src = sqlite3_step(*emp_st);
    if (src == SQLITE_DONE)
        return hire_person(x, hire_st, r);
    if (src != SQLITE_ROW)
        return vault_sql_error(x->v, src, "reading employees");
    r->protected_id = sqlite3_column_int(*emp_st, 2) > 0;
    if (r->protected_id)
        return RL_OK;
    char name[520];
    snprintf(name, sizeof name, "%s %s", col(*emp_st, 0), col(*emp_st, 1));
    return dup_str(name, &r->name);
}

/* Every employment of the run with what it paid (one pass, with the person joined). */
static int load_paid(rec *x)
{
    sqlite3_stmt *q = NULL, *hire_st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        vault_db(x->v),
        "SELECT r.employment_id, r.pnr, r.gross_ore, r.tax_ore, r.deductions_ore, r.net_ore,"
        " r.notes, e.pnr IS NOT NULL, coalesce(e.given_name,''), coalesce(e.family_name,''),"
        " coalesce(e.protected,0) FROM payrun_results r LEFT JOIN employees e ON e.pnr = r.pnr"
        " WHERE r.payrun_id = ?1",
        -1, &q, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(x->v, src, "reading the pay run");
    sqlite3_bind_int64(q, 1, x->id);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        rrow *r = row_add(&x->rows);
        if (r == NULL) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (strlen(col(q, 0)) >= sizeof r->emp || strlen(col(q, 1)) != 12) {
            rc = err_set(RL_EINTEGRITY, "pay run %lld holds a malformed employment id or "
                                        "personnummer", (long long)x->id);
            goto cleanup;
        }
        copy(r->emp, sizeof r->emp, col(q, 0));
        copy(r->pnr, sizeof r->pnr, col(q, 1));
        r->in_run = true;
        for (int c = 0; c < NC; c++)
            r->paid[c] = sqlite3_column_int64(q, 2 + c);
        if ((rc = dup_str(col(q, 6), &r->paid_notes)) != RL_OK)
            goto cleanup;
        if (sqlite3_column_int(q, 7)) {
            r->protected_id = sqlite3_column_int(q, 10) > 0;
            if (!r->protected_id) {
                char name[520];
                snprintf(name, sizeof name, "%s %s", col(q, 8), col(q, 9));
                if ((rc = dup_str(name, &r->name)) != RL_OK)
                    goto cleanup;
            }
        } else if ((rc = hire_person(x, &hire_st, r)) != RL_OK) {
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading the pay run");
cleanup:
    sqlite3_finalize(q);
    sqlite3_finalize(hire_st);
    if (rc == RL_OK && x->rows.n > 0)
        qsort(x->rows.r, x->rows.n, sizeof *x->rows.r, cmp_row);
    return rc;
}

/* The report's paid columns must be the run's stored totals to the öre: anything else
 * means this code misread the run, and a report that disagrees with the run it reconciles
 * must not reach the main system. */
static int check_totals(const rec *x)
{
    int64_t sum[NC] = {0}, n = 0;
    for (size_t i = 0; i < x->rows.n; i++) {
        if (!x->rows.r[i].in_run)
            continue;
        n++;
        for (int c = 0; c < NC; c++)
            sum[c] += x->rows.r[i].paid[c];
    }
    if (n != x->employments || memcmp(sum, x->tot, sizeof sum) != 0)
        return err_set(RL_EINTEGRITY,
                       "internal error: the report's paid totals (%lld employments, gross %lld, "
                       "tax %lld, deductions %lld, net %lld ore) differ from pay run %lld's "
                       "stored totals (%lld employments, gross %lld, tax %lld, deductions %lld, "
                       "net %lld ore); no report written",
                       (long long)n, (long long)sum[0], (long long)sum[1], (long long)sum[2],
                       (long long)sum[3], (long long)x->id, (long long)x->employments,
                       (long long)x->tot[0], (long long)x->tot[1], (long long)x->tot[2],
                       (long long)x->tot[3]);
    return RL_OK;
}

/* --- what it should have been ----------------------------------------------------------- */

typedef struct {
    rec *x;
    rrows added;
} should_ctx;

static int on_should(void *ctx, const payrun_result *res)
{
    should_ctx *s = ctx;
    rrow *r = row_find(&s->x->rows, res->employment_id);
    if (r == NULL) { /* not in the run: a hire approved after it */
        if (strlen(res->employment_id) >= sizeof r->emp || strlen(res->pnr) != 12)
            return err_set(RL_EINTEGRITY, "the vault holds a malformed employment id or "
                                          "personnummer");
        if ((r = row_add(&s->added)) == NULL)
            return err_set(RL_ENOMEM, "out of memory");
        copy(r->emp, sizeof r->emp, res->employment_id);
        copy(r->pnr, sizeof r->pnr, res->pnr);
    }
    r->has_should = true;
    r->should[C_GROSS] = res->gross_ore;
    r->should[C_TAX] = res->tax_ore;
    r->should[C_DED] = res->deductions_ore;
    r->should[C_NET] = res->net_ore;
    free(r->should_notes);
    return dup_str(res->notes, &r->should_notes);
}

static int compute_should(rec *x, const char *rules_path)
{
    should_ctx s = {.x = x};
    sqlite3_stmt *emp_st = NULL, *hire_st = NULL;
    payrun_params p = {.period = x->period, .pay_date = x->pay_date, .policy = "recalculate",
                       .rules_path = rules_path};
    int rc = payrun_compute(x->v, &p, x->rules, NULL, on_should, &s);
    for (size_t i = 0; rc == RL_OK && i < s.added.n; i++) {
        rrow *r = &s.added.r[i];
        r->pay = PAY_NOT_IN_RUN;
        if ((rc = person_of(x, &emp_st, &hire_st, r)) == RL_OK &&
            (rc = dup_str("", &r->paid_notes)) == RL_OK) {
            rrow *d = row_add(&x->rows);
            if (d == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                break;
            }
            *d = *r; /* the strings move to the report's row */
            memset(r, 0, sizeof *r);
        }
    }
    for (size_t i = 0; i < s.added.n; i++) {
        free(s.added.r[i].name);
        free(s.added.r[i].paid_notes);
        free(s.added.r[i].should_notes);
    }
    free(s.added.r);
    sqlite3_finalize(emp_st);
    sqlite3_finalize(hire_st);
    if (rc == RL_OK && x->rows.n > 0)
        qsort(x->rows.r, x->rows.n, sizeof *x->rows.r, cmp_row);
    return rc;
}

/* --- registrations: in the run or not ----------------------------------------------------- */

typedef struct {
    char uuid[37];
    int64_t seq;
} approval;

static int cmp_approval(const void *a, const void *b)
{
    return strcmp(((const approval *)a)->uuid, ((const approval *)b)->uuid);
}

static int64_t approval_seq(const approval *a, size_t n, const char *uuid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(a[mid].uuid, uuid);
        if (c == 0)
            return a[mid].seq;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Every approval's audit sequence, by UUID (the detail ends "approved TYPE UUID"). */
static int load_approvals(rec *x, approval **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = RL_OK;
    *out = NULL;
    *n = 0;
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT seq, detail FROM audit WHERE action ="
                                 " 'registration.approve'",
                                 -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        const char *d = col(st, 1);
        size_t len = strlen(d);
        if (len < 36)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            approval *p = realloc(*out, cap * sizeof *p);
            if (p == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            *out = p;
        }
        copy((*out)[*n].uuid, sizeof (*out)[*n].uuid, d + len - 36);
        (*out)[*n].seq = sqlite3_column_int64(st, 0);
        (*n)++;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading the audit log");
cleanup:
    sqlite3_finalize(st);
    if (rc == RL_OK && *n > 0)
        qsort(*out, *n, sizeof **out, cmp_approval);
    return rc;
}

static int reg_push(rregs *rs, const rreg *r)
{
    rreg *p = mem_grow(rs->r, &rs->cap, rs->n + 1, sizeof *p, 64);
    if (p == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    rs->r = p;
    rs->r[rs->n++] = *r;
    return RL_OK;
}

typedef struct {
    rreg r;
    char corrects[37], effective[11], status[16], decided_at[21];
    bool before; /* approved before the run was created */
} reg_in;

static int cmp_uuid_str(const void *a, const void *b) { return strcmp(a, b); }

/* Classifies every registration that can concern the run's period: included (approved
 * before the run and not superseded by a correction approved before it), approved after
 * the run, or still pending. Rejected documents, documents superseded before the run,
 * documents taking effect after the period and one-offs of other periods are left out. */
static int load_regs(rec *x)
{
    sqlite3_stmt *st = NULL;
    approval *ap = NULL;
    size_t nap = 0, n = 0, cap = 0, ncorr = 0;
    reg_in *all = NULL;
    char(*corr)[37] = NULL;
    int rc = load_approvals(x, &ap, &nap);
    if (rc != RL_OK)
        return rc;
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT uuid, type, pnr, coalesce(employment_id,''),"
                                 " effective_date, status, coalesce(corrects,''), seq,"
                                 " coalesce(decided_at,'') FROM registrations"
                                 " WHERE status != 'rejected' ORDER BY seq",
                                 -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            reg_in *p = realloc(all, cap * sizeof *p);
            if (p == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            all = p;
        }
        reg_in *g = &all[n++];
        memset(g, 0, sizeof *g);
        copy(g->r.uuid, sizeof g->r.uuid, col(st, 0));
        copy(g->r.type, sizeof g->r.type, col(st, 1));
        copy(g->r.key, sizeof g->r.key, col(st, 3)[0] ? col(st, 3) : col(st, 2));
        copy(g->effective, sizeof g->effective, col(st, 4));
        copy(g->status, sizeof g->status, col(st, 5));
        copy(g->corrects, sizeof g->corrects, col(st, 6));
        g->r.seq = sqlite3_column_int64(st, 7);
        copy(g->decided_at, sizeof g->decided_at, col(st, 8));
        if (strcmp(g->status, "registered") != 0) {
            int64_t a = approval_seq(ap, nap, g->r.uuid);
            g->r.approved = a;
            /* Without its audit entry (never expected) the decision time decides. */
            g->before = a > 0 ? a < x->create_seq : strcmp(g->decided_at, x->created_at) <= 0;
        }
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(x->v, src, "reading registrations");
        goto cleanup;
    }
    /* Documents that a correction approved before the run had already replaced. */
    corr = calloc(n ? n : 1, sizeof *corr);
    if (corr == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        if (all[i].before && all[i].corrects[0])
            memcpy(corr[ncorr++], all[i].corrects, sizeof corr[0]);
    if (ncorr > 0)
        qsort(corr, ncorr, sizeof *corr, cmp_uuid_str);
    for (size_t i = 0; i < n; i++) {
        reg_in *g = &all[i];
        bool person = strcmp(g->r.type, "bank_change") == 0;
        if (strcmp(g->effective, x->last_day) > 0 ||
            (strcmp(g->r.type, "one_off") == 0 && strncmp(g->effective, x->period, 7) != 0) ||
            (ncorr > 0 && bsearch(g->r.uuid, corr, ncorr, sizeof *corr, cmp_uuid_str)))
            continue;
        g->r.state = strcmp(g->status, "registered") == 0 ? REG_PENDING
                     : g->before                          ? REG_INCLUDED
                                                          : REG_AFTER;
        if ((rc = reg_push(person ? &x->by_pnr : &x->by_emp, &g->r)) != RL_OK)
            goto cleanup;
    }
    if (x->by_emp.n > 0)
        qsort(x->by_emp.r, x->by_emp.n, sizeof *x->by_emp.r, cmp_reg);
    if (x->by_pnr.n > 0)
        qsort(x->by_pnr.r, x->by_pnr.n, sizeof *x->by_pnr.r, cmp_reg);
cleanup:
    sqlite3_finalize(st);
    free(ap);
    free(all);
    free(corr);
    return rc;
}

static void regs_range(const rregs *rs, const char *key, size_t *first, size_t *count)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(rs->r[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    while (hi < rs->n && strcmp(rs->r[hi].key, key) == 0)
        hi++;
    *count = hi - lo;
}

/* --- payment files ---------------------------------------------------------------------- */

static void on_left_out(void *ctx, const char *pnr, int64_t net)
{
    rec *x = ctx;
    if (x->nleft == x->left_cap) {
        size_t cap = x->left_cap ? x->left_cap * 2 : 16;
        char(*p)[16] = realloc(x->left, cap * sizeof *p);
        if (p == NULL) {
            x->left_oom = true;
            return;
        }
        x->left = p;
        x->left_cap = cap;
    }
    copy(x->left[x->nleft++], 16, pnr);
    x->left_ore += net;
}

static bool left_out(const rec *x, const char *pnr)
{
    size_t lo = 0, hi = x->nleft;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(x->left[mid], pnr);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The audit sequence of the file's payfile.write entry ("... msgid ID, ..."). */
static int file_audit_seq(rec *x, int64_t *seq)
{
    sqlite3_stmt *st = NULL;
    char like[80];
    snprintf(like, sizeof like, "%%: msgid %s,%%", x->file->msg_id);
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT coalesce(min(seq), 0) FROM audit WHERE action ="
                                 " 'payfile.write' AND detail LIKE ?1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return src == SQLITE_ROW ? RL_OK : vault_sql_error(x->v, src, "reading the audit log");
}

/* Whether a bank change of pnr was approved after the audit entry seq (every bank change
 * counts when seq is 0: the file's entry was not found). */
static bool bank_changed_since(const rec *x, const char *pnr, int64_t seq)
{
    size_t a, n;
    regs_range(&x->by_pnr, pnr, &a, &n);
    for (size_t i = a; i < a + n; i++)
        if (strcmp(x->by_pnr.r[i].type, "bank_change") == 0 && x->by_pnr.r[i].approved > seq)
            return true;
    return false;
}

/* The run's payment files; the payment column refers to the latest production file, or
 * the latest drill file when there is no production file (a drill's reconciliation). */
static int load_payment(rec *x)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(vault_db(x->v),
                                 "SELECT msg_id, written_at, drill, count, total_ore, left_out,"
                                 " left_out_ore FROM payfiles WHERE payrun_id = ?1"
                                 " ORDER BY written_at, msg_id",
                                 -1, &st, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_int64(st, 1, x->id);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (x->nfiles == cap) {
            cap = cap ? cap * 2 : 4;
            pfile *p = realloc(x->files, cap * sizeof *p);
            if (p == NULL) {
                sqlite3_finalize(st);
                return err_set(RL_ENOMEM, "out of memory");
            }
            x->files = p;
        }
        pfile *f = &x->files[x->nfiles++];
        copy(f->msg_id, sizeof f->msg_id, col(st, 0));
        copy(f->written_at, sizeof f->written_at, col(st, 1));
        f->drill = sqlite3_column_int(st, 2) != 0;
        f->count = sqlite3_column_int64(st, 3);
        f->total = sqlite3_column_int64(st, 4);
        f->left_out = sqlite3_column_int64(st, 5);
        f->left_out_ore = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return vault_sql_error(x->v, src, "reading the payment files");
    for (size_t i = 0; i < x->nfiles; i++)
        if (x->file == NULL || !x->files[i].drill || x->file->drill)
            x->file = &x->files[i];
    /* The files record how many people they left out, not who: who is judged again now,
     * and a count or sum that differs (an account corrected since) is said in the summary. */
    if (x->file && x->file->left_out > 0) {
        if ((rc = payfile_left_out_now(x->v, x->id, on_left_out, x)) != RL_OK)
            return rc;
        if (x->left_oom)
            return err_set(RL_ENOMEM, "out of memory");
        if ((int64_t)x->nleft != x->file->left_out || x->left_ore != x->file->left_out_ore)
            x->left_mismatch = true;
    }
    int64_t file_seq = 0;
    if (x->left_mismatch && (rc = file_audit_seq(x, &file_seq)) != RL_OK)
        return rc;
    for (size_t i = 0; i < x->rows.n; i++) {
        rrow *r = &x->rows.r[i];
        if (!r->in_run)
            r->pay = PAY_NOT_IN_RUN;
        else if (r->paid[C_NET] == 0)
            r->pay = PAY_NOTHING;
        else if (r->paid[C_NET] < 0)
            r->pay = PAY_NEGATIVE;
        else if (x->file == NULL)
            r->pay = PAY_NO_FILE;
        else if (left_out(x, r->pnr))
            r->pay = PAY_LEFT_OUT;
        else
            r->pay = x->left_mismatch && bank_changed_since(x, r->pnr, file_seq) ? PAY_UNKNOWN
                                                                                 : PAY_FILE;
    }
    return rc;
}

/* --- the figures -------------------------------------------------------------------------- */

static bool needs_correction(const rrow *r)
{
    for (int c = 0; c < NC; c++)
        if (r->should[c] != r->paid[c])
            return true;
    return false;
}

static void summarise(rec *x)
{
    for (size_t i = 0; i < x->rows.n; i++) {
        const rrow *r = &x->rows.r[i];
        x->n_pay[r->pay]++;
        if (!r->in_run)
            x->added++;
        if (needs_correction(r))
            x->corrections++;
        for (int c = 0; c < NC; c++) {
            int64_t d = r->should[c] - r->paid[c];
            x->should[c] += r->should[c];
            x->diff[c] += d;
            if (d > 0)
                x->pos[c] += d;
            else
                x->neg[c] += d;
        }
    }
}

/* --- CSV ---------------------------------------------------------------------------------- */

static const char *const pay_code[] = {"nothing_to_pay", "in_file",
                                       "left_out",       "no_file_yet",
                                       "negative_net",   "in_file_or_left_out",
                                       "not_in_run"};

static void pnr_shown(const rrow *r, char out[16])
{
    snprintf(out, 16, r->protected_id ? "%.8s-****" : "%.8s-%.4s", r->pnr, r->pnr + 8);
}

/* A quoted cell; text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets
 * a leading ' inside the quotes, as in `payrun show --csv`. */
static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The registrations of a row in one state: "UUID type; UUID type ...". */
static void reg_list(FILE *f, const rec *x, const rrow *r, bool included, void (*put)(FILE *, const char *))
{
    char item[80];
    bool first = true;
    const rregs *sets[2] = {&x->by_emp, &x->by_pnr};
    const char *keys[2] = {r->emp, r->pnr};
    for (int s = 0; s < 2; s++) {
        size_t a, n;
        regs_range(sets[s], keys[s], &a, &n);
        for (size_t i = a; i < a + n; i++) {
            const rreg *g = &sets[s]->r[i];
            if ((g->state == REG_INCLUDED) != included)
                continue;
            snprintf(item, sizeof item, "%s%s %s%s", first ? "" : "; ", g->uuid, g->type,
                     g->state == REG_PENDING ? " (pending approval)"
                     : g->state == REG_AFTER ? " (approved after the run)"
                                             : "");
            put(f, item);
            first = false;
        }
    }
}

static void put_raw(FILE *f, const char *s) { fputs(s, f); }

static void csv_regs(FILE *f, const rec *x, const rrow *r, bool included)
{
    /* UUIDs and type names need no quoting but the cell is text: quoted like the others. */
    fputc('"', f);
    reg_list(f, x, r, included, put_raw);
    fputc('"', f);
}

static void csv_amounts(FILE *f, const int64_t v[NC])
{
    for (int c = 0; c < NC; c++)
        fprintf(f, ",%lld", (long long)v[c]);
}

static void write_csv(FILE *f, const rec *x)
{
    fputs("row,employment_id,personnummer,name,protected_identity,in_run,policy,"
          "paid_gross_ore,paid_tax_ore,paid_deductions_ore,paid_net_ore,paid_notes,payment,"
          "payment_msg_id,registrations_included,registrations_not_included,"
          "should_gross_ore,should_tax_ore,should_deductions_ore,should_net_ore,should_notes,"
          "difference_gross_ore,difference_tax_ore,difference_deductions_ore,"
          "difference_net_ore,correction_needed\r\n",
          f);
    int64_t paid[NC] = {0};
    for (size_t i = 0; i < x->rows.n; i++) {
        const rrow *r = &x->rows.r[i];
        char shown[16];
        int64_t d[NC];
        for (int c = 0; c < NC; c++) {
            d[c] = r->should[c] - r->paid[c];
            paid[c] += r->paid[c];
        }
        pnr_shown(r, shown);
        fputs("employment,", f);
        csv_text(f, r->emp);
        fprintf(f, ",%s,", shown);
        csv_text(f, r->name ? r->name : "");
        fprintf(f, ",%s,%s,%s", r->protected_id ? "yes" : "no", r->in_run ? "yes" : "no",
                x->policy);
        csv_amounts(f, r->paid);
        fputc(',', f);
        csv_text(f, r->paid_notes ? r->paid_notes : "");
        fprintf(f, ",%s,", pay_code[r->pay]);
        csv_text(f, r->pay == PAY_FILE || r->pay == PAY_UNKNOWN ? x->file->msg_id : "");
        fputc(',', f);
        csv_regs(f, x, r, true);
        fputc(',', f);
        csv_regs(f, x, r, false);
        csv_amounts(f, r->should);
        fputc(',', f);
        csv_text(f, r->should_notes ? r->should_notes : "");
        csv_amounts(f, d);
        fprintf(f, ",%s\r\n", needs_correction(r) ? "yes" : "no");
    }
    fputs("total,,,,,,", f);
    fputs(x->policy, f);
    csv_amounts(f, paid);
    fputs(",,,,,,", f);
    for (int c = 0; c < NC; c++)
        fprintf(f, "%s%lld", c ? "," : "", (long long)x->should[c]);
    fputs(",", f);
    csv_amounts(f, x->diff);
    fprintf(f, ",%zu\r\n", x->corrections);
}

/* --- HTML --------------------------------------------------------------------------------- */

/* Swedish style: a minus sign, a no-break space between thousands, a decimal comma
 * ("−12 345,67"). */
static void html_money(FILE *f, int64_t ore)
{
    uint64_t a = ore < 0 ? (uint64_t)0 - (uint64_t)ore : (uint64_t)ore;
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(a / 100));
    if (ore < 0)
        fputs("&#8722;", f);
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            fputs("&#160;", f);
        fputc(digits[i], f);
    }
    fprintf(f, ",%02u", (unsigned)(a % 100));
}

static void html_amounts(FILE *f, const int64_t v[NC], const char *cls)
{
    for (int c = 0; c < NC; c++) {
        fprintf(f, "<td class=\"%s\">", cls);
        html_money(f, v[c]);
        fputs("</td>", f);
    }
}

static const char *const pay_text[] = {
    "nothing to pay", "in payment file", "left out of the file: no valid account (paid another way)",
    "no payment file written yet", "negative net: not paid",
    "in the file or left out: the account changed after the file was written (see the file)",
    "not in the pay run"};

static void html_row4(FILE *f, const char *label, const int64_t v[NC])
{
    fputs("<tr><th>", f);
    html_write_text(f, label);
    fputs("</th>", f);
    html_amounts(f, v, "n");
    fputs("</tr>\n", f);
}

static void html_count(FILE *f, const char *label, size_t n)
{
    fputs("<tr><th>", f);
    html_write_text(f, label);
    fprintf(f, "</th><td class=\"n\">%zu</td></tr>\n", n);
}

static void write_html(FILE *f, const rec *x)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'\">\n"
               "<title>Reconciliation of emergency pay run %lld</title>\n"
               "<style>\n"
               "body{font-family:sans-serif;margin:1.5em;color:#111}\n"
               "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
               "th,td{border:1px solid #bbb;padding:.2em .5em;vertical-align:top}\n"
               "th{background:#eee;text-align:left}\n"
               "td.n,td.d{text-align:right;white-space:nowrap}\n"
               "tr.corr td{background:#fff0c0}\ntr.corr td.d{font-weight:bold}\n"
               "tfoot td{font-weight:bold;border-top:2px solid #333}\n"
               ".regs{font-size:.8em;font-family:monospace}\n.warn{color:#a00;font-weight:bold}\n"
               "</style>\n</head>\n<body>\n",
            (long long)x->id);
    fprintf(f, "<h1>Reconciliation of emergency pay run %lld</h1>\n<p>Period %s, pay date %s, "
               "policy <b>",
            (long long)x->id, x->period, x->pay_date);
    html_write_text(f, x->policy);
    fputs("</b>. Created by ", f);
    html_write_text(f, x->created_by);
    fprintf(f, " at %s; released by ", x->created_at);
    html_write_text(f, x->approved_by);
    if (x->approved2_by[0]) {
        fputs(" and ", f);
        html_write_text(f, x->approved2_by);
    }
    fprintf(f, ". Pay rules sha256 <code>%s</code>. Report made %s. Amounts in SEK.</p>\n",
            x->rules, x->generated);

    fputs("<h2>Summary</h2>\n<table>\n", f);
    html_count(f, "Employments in the pay run", (size_t)x->employments);
    html_count(f, "Employments not in the run that a recalculation pays now", x->added);
    html_count(f, "Employments needing a correction", x->corrections);
    fputs("</table>\n<table>\n<thead><tr><th></th><th>Gross</th><th>Tax</th>"
          "<th>Deductions</th><th>Net</th></tr></thead>\n<tbody>\n",
          f);
    html_row4(f, "Paid by the emergency run", x->tot);
    html_row4(f, "Should have been (recalculate, every document approved now)", x->should);
    html_row4(f, "Difference (should have been minus paid)", x->diff);
    html_row4(f, "Sum of positive differences (to pay)", x->pos);
    html_row4(f, "Sum of negative differences (to recover)", x->neg);
    fputs("</tbody>\n</table>\n", f);

    fputs("<h2>Payment</h2>\n", f);
    if (x->nfiles == 0)
        fputs("<p>No payment file has been written for this pay run.</p>\n", f);
    else
        fputs("<ul>\n", f);
    for (size_t i = 0; i < x->nfiles; i++) {
        const pfile *p = &x->files[i];
        fputs("<li>", f);
        html_write_text(f, p->msg_id);
        fprintf(f, "%s, written %s: %lld payments, ", p->drill ? " (drill)" : "", p->written_at,
                (long long)p->count);
        html_money(f, p->total);
        fprintf(f, " SEK; %lld person(s) left out (", (long long)p->left_out);
        html_money(f, p->left_out_ore);
        fprintf(f, " SEK)%s</li>\n", p == x->file ? " &#8212; the file this report refers to" : "");
    }
    if (x->nfiles > 0)
        fputs("</ul>\n", f);
    if (x->left_mismatch) {
        fprintf(f, "<p class=\"warn\">The file left out %lld person(s) (", (long long)x->file->left_out);
        html_money(f, x->file->left_out_ore);
        fprintf(f, " SEK); judged on the accounts as they are now, %zu person(s) (", x->nleft);
        html_money(f, x->left_ore);
        fputs(" SEK) lack a valid account: an account was changed after the file was written. "
              "Check the left-out rows against the file's own listing.</p>\n",
              f);
    }
    fputs("<table>\n", f);
    for (int k = 0; k <= PAY_NOT_IN_RUN; k++)
        if (x->n_pay[k])
            html_count(f, pay_text[k], x->n_pay[k]);
    fputs("</table>\n", f);

    fputs("<h2>What the main system&#39;s next regular run must do</h2>\n<p>For every "
          "highlighted employment, settle the difference per component: a positive difference "
          "is still owed to the employee, a negative one was paid too much and is to be "
          "recovered. Registrations listed as not included were approved after the emergency "
          "run or are still pending: import them from the restore journal first (a pending one "
          "is paid only once it is approved). People left out of the payment file were paid "
          "another way: check that payment before settling.</p>\n",
          f);

    fputs("<h2>Employments</h2>\n<table>\n<thead><tr><th>Employment</th><th>Personnummer</th>"
          "<th>Name</th><th>Paid gross</th><th>Paid tax</th><th>Paid deductions</th>"
          "<th>Paid net</th><th>Payment</th><th>Registrations included</th>"
          "<th>Registrations not included</th><th>Should gross</th><th>Should tax</th>"
          "<th>Should deductions</th><th>Should net</th><th>Diff. gross</th><th>Diff. tax</th>"
          "<th>Diff. deductions</th><th>Diff. net</th><th>Correction</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < x->rows.n; i++) {
        const rrow *r = &x->rows.r[i];
        char shown[16];
        int64_t d[NC];
        for (int c = 0; c < NC; c++)
            d[c] = r->should[c] - r->paid[c];
        bool corr = needs_correction(r);
        pnr_shown(r, shown);
        fputs(corr ? "<tr class=\"corr\"><td>" : "<tr><td>", f);
        html_write_text(f, r->emp);
        fprintf(f, "</td><td>%s</td><td>", shown);
        if (r->protected_id)
            fputs("<i>protected identity</i>", f);
        else
            html_write_text(f, r->name ? r->name : "");
        fputs("</td>", f);
        html_amounts(f, r->paid, "n");
        fputs("<td>", f);
        html_write_text(f, pay_text[r->pay]);
        if (r->pay == PAY_FILE || r->pay == PAY_UNKNOWN) {
            fputs(": ", f);
            html_write_text(f, x->file->msg_id);
        }
        fputs("</td><td class=\"regs\">", f);
        reg_list(f, x, r, true, html_write_text);
        fputs("</td><td class=\"regs\">", f);
        reg_list(f, x, r, false, html_write_text);
        fputs("</td>", f);
        html_amounts(f, r->should, "n");
        html_amounts(f, d, "d");
        fprintf(f, "<td>%s</td></tr>\n", corr ? "yes" : "");
    }
    fputs("</tbody>\n<tfoot><tr><td colspan=\"3\">Total</td>", f);
    html_amounts(f, x->tot, "n");
    fputs("<td></td><td></td><td></td>", f);
    html_amounts(f, x->should, "n");
    html_amounts(f, x->diff, "d");
    fprintf(f, "<td>%zu</td></tr></tfoot>\n</table>\n</body>\n</html>\n", x->corrections);
}

/* --- the whole write ---------------------------------------------------------------------- */

static int render(const rec *x, void (*fn)(FILE *, const rec *), char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = open_memstream(buf, len); /* in memory: no temporary file holds the report */
    if (f == NULL)
        return err_set(RL_ENOMEM, "out of memory building the report");
    fn(f, x);
    if (ferror(f) | fclose(f)) {
        free(*buf);
        *buf = NULL;
        return err_set(RL_ENOMEM, "out of memory building the report");
    }
    return RL_OK;
}

int reconcile_write_rules(vault *v, int64_t payrun_id, const char *out_dir,
                          const char *rules_path, reconcile_totals *t)
{
    rec x;
    char *csv = NULL, *html = NULL;
    size_t csv_len = 0, html_len = 0;
    char csv_path[4200], html_path[4200];
    bool in_tx = false, written = false;
    memset(&x, 0, sizeof x);
    memset(t, 0, sizeof *t);
    x.v = v;
    x.id = payrun_id;
    int rc = vault_require_role(v, VAULT_ROLE_APPROVER | VAULT_ROLE_ADMIN,
                                "reconciling a pay run");
    if (rc != RL_OK)
        return rc;
    if ((rc = read_run(&x)) != RL_OK)
        return rc;
    if (strcmp(x.status, "approved") != 0)
        return err_set(RL_EDATA, "pay run %lld is not released (status %s%s): only a released "
                                 "pay run paid anything to reconcile",
                       (long long)payrun_id, x.status,
                       strcmp(x.status, "approved1") == 0 ? ": a second approver must release it"
                                                          : "");
    struct stat sb;
    if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(RL_EDATA, "--out %s: not an existing directory", out_dir);
    int n1 = snprintf(csv_path, sizeof csv_path, "%s/reconcile-payrun-%lld.csv", out_dir,
                      (long long)payrun_id);
    int n2 = snprintf(html_path, sizeof html_path, "%s/reconcile-payrun-%lld.html", out_dir,
                      (long long)payrun_id);
    if (n1 < 0 || (size_t)n1 >= sizeof csv_path || n2 < 0 || (size_t)n2 >= sizeof html_path)
        return err_set(RL_EDATA, "--out %.64s...: path too long", out_dir);
    {
        int y = atoi(x.period), m = atoi(x.period + 5);
        static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int d = m >= 1 && m <= 12 ? dim[m - 1] : 31;
        if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
            d = 29;
        snprintf(x.last_day, sizeof x.last_day, "%.7s-%02d", x.period, d);
    }
    vault_now(x.generated);
    if ((rc = read_create_seq(&x)) != RL_OK || (rc = load_paid(&x)) != RL_OK ||
        (rc = check_totals(&x)) != RL_OK || (rc = compute_should(&x, rules_path)) != RL_OK ||
        (rc = load_regs(&x)) != RL_OK || (rc = load_payment(&x)) != RL_OK)
        goto cleanup;
    summarise(&x);
    if ((rc = check_totals(&x)) != RL_OK || (rc = render(&x, write_csv, &csv, &csv_len)) != RL_OK ||
        (rc = render(&x, write_html, &html, &html_len)) != RL_OK)
        goto cleanup;

    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = true;
    char detail[400];
    snprintf(detail, sizeof detail,
             "reconciliation of pay run %lld (period %s): %lld employments, %zu not in the run, "
             "%zu need a correction; net paid %lld ore, should have been %lld, difference %lld;"
             " reconcile-payrun-%lld.csv and .html",
             (long long)payrun_id, x.period, (long long)x.employments, x.added, x.corrections,
             (long long)x.tot[C_NET], (long long)x.should[C_NET], (long long)x.diff[C_NET],
             (long long)payrun_id);
    if ((rc = vault_audit(v, "payrun.reconcile", detail)) != RL_OK)
        goto cleanup;
    written = true;
    if ((rc = file_write_atomic(csv_path, csv, csv_len, 0600)) != RL_OK ||
        (rc = file_write_atomic(html_path, html, html_len, 0600)) != RL_OK ||
        (rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = false;
    t->employments = (size_t)x.employments;
    t->corrections_needed = x.corrections;
    t->paid_net_ore = x.tot[C_NET];
    t->should_net_ore = x.should[C_NET];
    t->diff_net_ore = x.diff[C_NET];
    t->added = x.added;
cleanup:
    if (in_tx)
        vault_rollback(v);
    if (rc != RL_OK && written) {
        (void)unlink(csv_path);
        (void)unlink(html_path);
    }
    free(csv);
    free(html);
    rec_free(&x);
    return rc;
}

int reconcile_write(vault *v, int64_t payrun_id, const char *out_dir, reconcile_totals *t)
{
    return reconcile_write_rules(v, payrun_id, out_dir, RL_RULES_DIR "/payroll.lua", t);
}
