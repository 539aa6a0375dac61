/* status: the pain.002 import (status.h).
 *
 * Everything is checked before anything is written: the report is parsed and validated,
 * matched to a payfiles row, and every transaction mapped to a person through a table of
 * the pay run's paid people sorted by EndToEndId (built once: a report may carry 100 000
 * transactions). Only then are the rows and the audit entry written, in one transaction. */
#include "payfile/status.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/field.h"
#include "common/mem.h"
#include "payfile/pain002.h"
#include "payfile/payfile.h"

typedef struct {
    char pnr[13];
    char e2e[36];
    int64_t net;       /* summed over the person's employments: the file's amount */
    size_t emp_off;    /* the employment ids in priv.emps, NUL-separated */
    size_t n_emps;
    bool seen;         /* already in this report */
} person;

typedef struct {
    pain002_report *rep;
    person *p;
    size_t np, cap;
    char *emps;
    size_t emps_n, emps_cap;
} priv;

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* The bank's text in our messages: control characters (a terminal escape) become '?'. */
static const char *safe(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in[n] && n + 1 < cap; n++)
        out[n] = (unsigned char)in[n] < 0x20 || in[n] == 0x7f ? '?' : in[n];
    out[n] = '\0';
    return out;
}

static int cmp_person(const void *a, const void *b)
{
    return strcmp(((const person *)a)->e2e, ((const person *)b)->e2e);
}

static int add_emp(priv *pv, const char *emp)
{
    size_t n = strlen(emp) + 1;
    if (pv->emps_n + n > pv->emps_cap) {
        size_t cap = pv->emps_cap ? pv->emps_cap : 4096;
        while (cap < pv->emps_n + n)
            cap *= 2;
        char *e = realloc(pv->emps, cap);
        if (e == NULL)
            return err_set(RL_ENOMEM, "out of memory");
        pv->emps = e;
        pv->emps_cap = cap;
    }
    memcpy(pv->emps + pv->emps_n, emp, n);
    pv->emps_n += n;
    return RL_OK;
}

/* Ends the current person: kept (with an EndToEndId) when their net sum is positive, as
 * payfile_write pays them; otherwise their employment ids are dropped again. */
static int finish(const uint8_t key[32], int64_t run, priv *pv, person *cur, size_t emp_start)
{
    if (cur->pnr[0] == '\0')
        return RL_OK;
    if (cur->net <= 0) {
        pv->emps_n = emp_start;
        return RL_OK;
    }
    payfile_e2e_id(key, run, cur->pnr, cur->e2e);
    person *p = mem_grow(pv->p, &pv->cap, pv->np + 1, sizeof *p, 256);
    if (p == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    pv->p = p;
    pv->p[pv->np++] = *cur;
    return RL_OK;
}

/* Everyone the pay run pays (net summed per personnummer above 0), sorted by EndToEndId. */
static int load_people(vault *v, int64_t run, priv *pv)
{
    sqlite3_stmt *st = NULL;
    uint8_t key[32]; /* read once: the ids of every person paid come from it */
    int rc = payfile_e2e_key(v, key);
    if (rc != RL_OK)
        return rc;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT pnr, employment_id, net_ore FROM payrun_results WHERE"
                                 " payrun_id = ?1 ORDER BY pnr, employment_id",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the pay run");
        goto cleanup;
    }
    sqlite3_bind_int64(st, 1, run);
    person cur;
    memset(&cur, 0, sizeof cur);
    size_t emp_start = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pnr = col(st, 0);
        if (strcmp(pnr, cur.pnr) != 0) {
            if ((rc = finish(key, run, pv, &cur, emp_start)) != RL_OK)
                goto cleanup;
            memset(&cur, 0, sizeof cur);
            snprintf(cur.pnr, sizeof cur.pnr, "%s", pnr);
            emp_start = cur.emp_off = pv->emps_n;
        }
        if ((rc = add_emp(pv, col(st, 1))) != RL_OK)
            goto cleanup;
        cur.n_emps++;
        cur.net += sqlite3_column_int64(st, 2); /* payfile_write refused out-of-range nets */
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "reading the pay run");
        goto cleanup;
    }
    if ((rc = finish(key, run, pv, &cur, emp_start)) != RL_OK)
        goto cleanup;
    if (pv->np > 0)
        qsort(pv->p, pv->np, sizeof *pv->p, cmp_person);
cleanup:
    sodium_memzero(key, sizeof key);
    sqlite3_finalize(st);
    return rc;
}

static person *find(priv *pv, const char *e2e)
{
    size_t lo = 0, hi = pv->np;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pv->p[mid].e2e, e2e);
        if (c == 0)
            return &pv->p[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The payfiles row for the report's OrgnlMsgId, and an earlier import of the same report. */
static int match_file(vault *v, payfile_status_result *r, uint64_t *left_out)
{
    char m1[40], m2[40];
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT imported_at, imported_by, msg_id FROM payfile_status"
                                 " WHERE report_msg_id = ?1 LIMIT 1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, r->report_msg_id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW) {
        rc = err_set(RL_EDATA, "status report %s (for payment file %s) was already imported on "
                               "%.10s by %s: nothing imported",
                     safe(r->report_msg_id, m1, sizeof m1), col(st, 2), col(st, 0), col(st, 1));
        goto cleanup;
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "reading the imported status reports");
        goto cleanup;
    }
    sqlite3_finalize(st);
    src = sqlite3_prepare_v2(vault_db(v),
                             "SELECT msg_id, payrun_id, count, total_ore, drill, left_out FROM"
                             " payfiles WHERE msg_id = ?1",
                             -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, pain002_orig_msg_id(((priv *)r->priv)->rep), -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW) {
        snprintf(r->msg_id, sizeof r->msg_id, "%s", col(st, 0));
        r->payrun_id = sqlite3_column_int64(st, 1);
        r->file_count = (uint64_t)sqlite3_column_int64(st, 2);
        r->file_total_ore = sqlite3_column_int64(st, 3);
        r->drill = sqlite3_column_int(st, 4) != 0;
        *left_out = (uint64_t)sqlite3_column_int64(st, 5);
    } else if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "status report %s is for MsgId %s, not a payment file written by "
                               "this appliance (payfile list shows them): nothing imported",
                     safe(r->report_msg_id, m1, sizeof m1),
                     safe(pain002_orig_msg_id(((priv *)r->priv)->rep), m2, sizeof m2));
    } else {
        rc = vault_sql_error(v, src, "reading the payment files");
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* The report against the file and its pay run; fills the counts and the rejected list. */
static int map_report(vault *v, payfile_status_result *r, priv *pv, uint64_t left_out)
{
    char m[40], t1[32], t2[32];
    uint64_t n;
    int64_t sum;
    if (pain002_orig_nb_of_txs(pv->rep, &n) && n != r->file_count)
        return err_set(RL_EDATA, "status report %s: OrgnlNbOfTxs is %llu but payment file %s has "
                                 "%llu payments: nothing imported",
                       safe(r->report_msg_id, m, sizeof m), (unsigned long long)n, r->msg_id,
                       (unsigned long long)r->file_count);
    if (pain002_orig_ctrl_sum(pv->rep, &sum) && sum != r->file_total_ore) {
        field_money_format(sum, t1);
        field_money_format(r->file_total_ore, t2);
        return err_set(RL_EDATA, "status report %s: OrgnlCtrlSum is %s but payment file %s totals "
                                 "%s SEK: nothing imported",
                       safe(r->report_msg_id, m, sizeof m), t1, r->msg_id, t2);
    }
    char pmtinf_id[40];
    snprintf(pmtinf_id, sizeof pmtinf_id, "%s-1", r->msg_id); /* we write one PmtInf */
    for (size_t i = 0; i < pain002_pmtinf_count(pv->rep); i++) {
        pain002_pmtinf pi;
        if (pain002_pmtinf_at(pv->rep, i, &pi) == RL_OK && strcmp(pi.id, pmtinf_id) != 0)
            return err_set(RL_EDATA, "status report %s: OrgnlPmtInfId %s is not in payment file "
                                     "%s (its payment information is %s): nothing imported",
                           safe(r->report_msg_id, m, sizeof m), safe(pi.id, t1, sizeof t1),
                           r->msg_id, pmtinf_id);
    }
    int rc = load_people(v, r->payrun_id, pv);
    if (rc != RL_OK)
        return rc;
    /* The file paid these people but for those left out without an account. */
    if (pv->np != r->file_count + left_out)
        return err_set(RL_EDATA, "pay run %lld pays %zu people but payment file %s has %llu "
                                 "payments and %llu left out: the vault does not match the file",
                       (long long)r->payrun_id, pv->np, r->msg_id,
                       (unsigned long long)r->file_count, (unsigned long long)left_out);
    size_t ntx = pain002_tx_count(pv->rep);
    if (ntx > 0) {
        r->rej = calloc(ntx, sizeof *r->rej);
        if (r->rej == NULL)
            return err_set(RL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ntx; i++) {
        pain002_tx tx;
        if ((rc = pain002_tx_at(pv->rep, i, &tx)) != RL_OK)
            return rc;
        person *p = find(pv, tx.end_to_end_id);
        if (p == NULL)
            return err_set(RL_EDATA, "status report %s, transaction %zu: EndToEndId %s is not in "
                                     "payment file %s: nothing imported",
                           safe(r->report_msg_id, m, sizeof m), i + 1,
                           safe(tx.end_to_end_id, t1, sizeof t1), r->msg_id);
        if (p->seen)
            return err_set(RL_EDATA, "status report %s: EndToEndId %s is reported twice: nothing "
                                     "imported", safe(r->report_msg_id, m, sizeof m), p->e2e);
        p->seen = true;
        /* An echoed amount must be what we sent: otherwise the report is about something
         * else than this file. */
        if (tx.has_amount && (strcmp(tx.currency, "SEK") != 0 || tx.amount_ore != p->net)) {
            field_money_format(tx.amount_ore, t1);
            field_money_format(p->net, t2);
            char ccy[8];
            return err_set(RL_EDATA, "status report %s: EndToEndId %s echoes %s %s but payment "
                                     "file %s paid %s SEK: nothing imported",
                           safe(r->report_msg_id, m, sizeof m), p->e2e, t1,
                           safe(tx.currency, ccy, sizeof ccy), r->msg_id, t2);
        }
        r->reported++;
        if (pain002_status_is_accepted(tx.effective_status)) {
            r->accepted++;
        } else if (pain002_status_is_final_reject(tx.effective_status)) {
            payfile_status_rejected *x = &r->rej[r->nrej++];
            r->rejected++;
            x->end_to_end_id = p->e2e;
            snprintf(x->pnr_masked, sizeof x->pnr_masked, "%.8s-****", p->pnr);
            x->employments = pv->emps + p->emp_off;
            x->n_employments = p->n_emps;
            x->amount_ore = p->net;
            x->reason = tx.reason[0] ? tx.reason : tx.reason_prtry;
            x->info = tx.info;
        } else {
            r->pending++;
        }
    }
    return RL_OK;
}

static int store(vault *v, const payfile_status_result *r, priv *pv)
{
    char now[21];
    vault_now(now);
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "INSERT INTO payfile_status(report_msg_id, msg_id, end_to_end_id,"
                                 " pnr, status, reason, info, amount_ore, imported_at, imported_by)"
                                 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "recording the status report");
    sqlite3_bind_text(st, 1, r->report_msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, vault_operator(v), -1, SQLITE_STATIC);
    /* The group level first (end_to_end_id ''), then each transaction. */
    sqlite3_bind_text(st, 3, "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->group_status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->group_reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->group_info, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, r->file_total_ore);
    src = sqlite3_step(st);
    size_t ntx = pain002_tx_count(pv->rep);
    for (size_t i = 0; i < ntx && src == SQLITE_DONE; i++) {
        pain002_tx tx;
        if (pain002_tx_at(pv->rep, i, &tx) != RL_OK) {
            src = SQLITE_INTERNAL;
            break;
        }
        const person *p = find(pv, tx.end_to_end_id); /* map_report found every one */
        sqlite3_reset(st);
        sqlite3_bind_text(st, 3, p->e2e, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->pnr, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, tx.effective_status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, tx.reason[0] ? tx.reason : tx.reason_prtry, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, tx.info, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, p->net);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return vault_sql_error(v, src, "recording the status report");
    char detail[400], m[40];
    snprintf(detail, sizeof detail,
             "status report %s for payment file %s (pay run %lld): group status %s, %llu "
             "accepted, %llu rejected, %llu pending, %llu of %llu payments reported",
             safe(r->report_msg_id, m, sizeof m), r->msg_id, (long long)r->payrun_id,
             r->group_status[0] ? r->group_status : "(none)", (unsigned long long)r->accepted,
             (unsigned long long)r->rejected, (unsigned long long)r->pending,
             (unsigned long long)r->reported, (unsigned long long)r->file_count);
    return vault_audit(v, "payfile.status", detail);
}

int payfile_status_import(vault *v, const char *xml, size_t len, const char *xsd_dir,
                          payfile_status_result **out)
{
    *out = NULL;
    payfile_status_result *r = calloc(1, sizeof *r);
    priv *pv = calloc(1, sizeof *pv);
    if (r == NULL || pv == NULL) {
        free(r);
        free(pv);
        return err_set(RL_ENOMEM, "out of memory");
    }
    r->priv = pv; /* from here on payfile_status_free(r) releases everything */
    bool in_tx = false;
    int rc;
    if ((rc = pain002_parse(xml, len, xsd_dir, &pv->rep)) != RL_OK)
        goto cleanup;
    r->version = pain002_version(pv->rep);
    r->report_msg_id = pain002_msg_id(pv->rep);
    r->report_created = pain002_created(pv->rep);
    r->group_status = pain002_group_status(pv->rep);
    r->group_reason = pain002_group_reason(pv->rep);
    r->group_info = pain002_group_info(pv->rep);
    pain002_pmtinf pi;
    /* Our files have one PmtInf: without a GrpSts its status is the file's. */
    if (r->group_status[0] == '\0' && pain002_pmtinf_count(pv->rep) == 1 &&
        pain002_pmtinf_at(pv->rep, 0, &pi) == RL_OK) {
        r->group_status = pi.status;
        r->group_reason = pi.reason;
        r->group_info = pi.info;
    }
    uint64_t left_out = 0;
    if ((rc = match_file(v, r, &left_out)) != RL_OK ||
        (rc = map_report(v, r, pv, left_out)) != RL_OK)
        goto cleanup;
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = true;
    if ((rc = store(v, r, pv)) != RL_OK || (rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = false;
    *out = r;
cleanup:
    if (in_tx)
        vault_rollback(v);
    if (rc != RL_OK)
        payfile_status_free(r);
    return rc;
}

void payfile_status_free(payfile_status_result *r)
{
    if (r == NULL)
        return;
    priv *pv = r->priv;
    if (pv) {
        pain002_free(pv->rep);
        free(pv->p);
        free(pv->emps);
        free(pv);
    }
    free(r->rej);
    free(r);
}
