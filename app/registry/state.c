/* state: the vault's current employment state as canonical CSV (`employee state`, see
 * registry.h and docs/restore.md), and the per-employment state shared with `employee show`
 * (empstate.h). */
#include "registry/empstate.h"
#include "registry/registry.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"

/* --- one employment (empstate.h) ---------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

void empstate_from_row(sqlite3_stmt *st, empstate *e, const char *source)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", col(st, 0));
    snprintf(e->org, sizeof e->org, "%s", col(st, 1));
    snprintf(e->start, sizeof e->start, "%s", col(st, 2));
    snprintf(e->end, sizeof e->end, "%s", col(st, 3));
    snprintf(e->pay_type, sizeof e->pay_type, "%s", col(st, 4));
    e->salary = sqlite3_column_int64(st, 5);
    field_pct_format(sqlite3_column_int64(st, 6), e->extent);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
        e->tax_table = sqlite3_column_int(st, 7);
        e->tax_column = sqlite3_column_int(st, 8);
    } else {
        field_pct_format(sqlite3_column_int64(st, 9), e->tax_fixed);
    }
    snprintf(e->source, sizeof e->source, "%s", source);
}

void empstate_apply(empstate *e, const char *type, const json_value *f, const char *eff)
{
    const char *s;
    int64_t x = 0;
    if (strcmp(type, "salary_change") == 0) {
        const json_value *m = json_get(f, "monthly_salary_ore");
        if (m == NULL)
            m = json_get(f, "hourly_rate_ore");
        if (json_int64(m, &x) == RL_OK)
            e->salary = x;
    } else if (strcmp(type, "extent_change") == 0 &&
               (s = json_string(json_get(f, "extent_pct"), NULL))) {
        snprintf(e->extent, sizeof e->extent, "%s", s);
    } else if (strcmp(type, "tax_change") == 0) {
        int64_t t = 0, c = 0;
        if (json_int64(json_get(f, "tax_table"), &t) == RL_OK &&
            json_int64(json_get(f, "tax_column"), &c) == RL_OK && t > 0 && t < 100 && c > 0 &&
            c < 10) {
            e->tax_table = (int)t;
            e->tax_column = (int)c;
            e->tax_fixed[0] = '\0';
        } else if ((s = json_string(json_get(f, "tax_fixed_pct"), NULL))) {
            e->tax_table = e->tax_column = 0;
            snprintf(e->tax_fixed, sizeof e->tax_fixed, "%s", s);
        }
    } else if (strcmp(type, "termination") == 0) {
        snprintf(e->end, sizeof e->end, "%s", eff);
    }
}

int empstate_apply_docs(sqlite3_stmt *docs, empstate *e)
{
    int src;
    sqlite3_bind_text(docs, 1, e->id, -1, SQLITE_TRANSIENT);
    while ((src = sqlite3_step(docs)) == SQLITE_ROW) {
        json_value *f = NULL;
        const char *text = col(docs, 1);
        /* The vault wrote these fields itself (canonical JSON): one that does not parse
         * cannot change anything, and `check` reports a damaged vault. */
        if (json_parse(text, strlen(text), &f) == RL_OK)
            empstate_apply(e, col(docs, 0), f, col(docs, 2));
        json_free(f);
    }
    sqlite3_reset(docs);
    return src;
}

void empstate_tax_text(const empstate *e, char out[48])
{
    if (e->tax_table > 0)
        snprintf(out, 48, "table %d column %d", e->tax_table, e->tax_column);
    else
        snprintf(out, 48, "fixed %s %%", e->tax_fixed);
}

/* --- the whole state ---------------------------------------------------------------------- */

#define LIVE EMPSTATE_LIVE_APPROVED

/* A cursor in personnummer order, for merging per-person facts into one pass. */
typedef struct {
    sqlite3_stmt *st;
    int rc; /* of the last step: SQLITE_ROW, SQLITE_DONE or an error */
} cursor;

/* Advances c to the first row whose column 0 is >= key; true if it equals key. */
static bool seek(cursor *c, const char *key)
{
    int cmp = 1;
    while (c->rc == SQLITE_ROW && (cmp = strcmp(col(c->st, 0), key)) < 0)
        c->rc = sqlite3_step(c->st);
    return c->rc == SQLITE_ROW && cmp == 0;
}

static int open_cursor(vault *v, const char *sql, cursor *c)
{
    int src = sqlite3_prepare_v2(vault_db(v), sql, -1, &c->st, NULL);
    if (src == SQLITE_OK)
        src = c->rc = sqlite3_step(c->st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return vault_sql_error(v, src, "reading the state");
    return RL_OK;
}

static int cursor_ok(vault *v, const cursor *c)
{
    return (c->rc == SQLITE_ROW || c->rc == SQLITE_DONE) ? RL_OK
                                                          : vault_sql_error(v, c->rc, "reading the state");
}

/* Persons: the snapshot's, then people that only a live hire brings; protected identity
 * the highest of the snapshot's and the live hires'; the bank account from the latest live
 * bank change (by effective date, then recorded order), else the snapshot's, else (a person
 * the snapshot does not hold) the latest live hire's. */
static int write_persons(vault *v, FILE *out, size_t *count)
{
    cursor p = {0}, prot = {0}, bank = {0}, hire = {0};
    int rc;
    if ((rc = open_cursor(v,
                          "SELECT pnr, protected, coalesce(clearing,''), coalesce(account,''),"
                          " coalesce(iban,''), 1 FROM employees UNION ALL SELECT DISTINCT pnr, 0,"
                          " '', '', '', 0 FROM registrations WHERE type = 'hire' AND " LIVE
                          " AND pnr NOT IN (SELECT pnr FROM employees) ORDER BY 1",
                          &p)) != RL_OK ||
        (rc = open_cursor(v,
                          "SELECT pnr, max(coalesce(json_extract(fields,'$.protected_identity'),"
                          " 0)) FROM registrations WHERE type = 'hire' AND " LIVE
                          " GROUP BY pnr ORDER BY pnr",
                          &prot)) != RL_OK ||
        (rc = open_cursor(v,
                          "SELECT pnr, coalesce(json_extract(fields,'$.clearing'),''),"
                          " coalesce(json_extract(fields,'$.account'),''),"
                          " coalesce(json_extract(fields,'$.iban'),''), effective_date, uuid"
                          " FROM registrations WHERE type = 'bank_change' AND " LIVE
                          " ORDER BY pnr, effective_date DESC, seq DESC",
                          &bank)) != RL_OK ||
        (rc = open_cursor(v,
                          "SELECT pnr, coalesce(json_extract(fields,'$.clearing'),''),"
                          " coalesce(json_extract(fields,'$.account'),''),"
                          " coalesce(json_extract(fields,'$.iban'),''), uuid"
                          " FROM registrations WHERE type = 'hire' AND " LIVE
                          " ORDER BY pnr, seq DESC",
                          &hire)) != RL_OK)
        goto cleanup;
    fputs("[persons]\npersonnummer,protected_identity,clearing,account,iban,bank_from,"
          "bank_source\n", out);
    for (; p.rc == SQLITE_ROW; p.rc = sqlite3_step(p.st)) {
        char pnr[16];
        snprintf(pnr, sizeof pnr, "%s", col(p.st, 0));
        int level = sqlite3_column_int(p.st, 1);
        if (seek(&prot, pnr) && sqlite3_column_int(prot.st, 1) > level)
            level = sqlite3_column_int(prot.st, 1);
        const char *clr = "", *acc = "", *iban = "", *from = "", *source = "";
        if (seek(&bank, pnr)) {
            clr = col(bank.st, 1);
            acc = col(bank.st, 2);
            iban = col(bank.st, 3);
            from = col(bank.st, 4);
            source = col(bank.st, 5);
        } else if (sqlite3_column_int(p.st, 5)) {
            clr = col(p.st, 2);
            acc = col(p.st, 3);
            iban = col(p.st, 4);
            source = (clr[0] || iban[0]) ? "snapshot" : "";
        } else if (seek(&hire, pnr)) {
            clr = col(hire.st, 1);
            acc = col(hire.st, 2);
            iban = col(hire.st, 3);
            source = (clr[0] || iban[0]) ? col(hire.st, 4) : "";
        }
        fprintf(out, "%s,%d,%s,%s,%s,%s,%s\n", pnr, level, clr, acc, iban, from, source);
        (*count)++;
    }
    if ((rc = cursor_ok(v, &p)) != RL_OK || (rc = cursor_ok(v, &prot)) != RL_OK ||
        (rc = cursor_ok(v, &bank)) != RL_OK)
        goto cleanup;
    rc = cursor_ok(v, &hire);
cleanup:
    sqlite3_finalize(p.st);
    sqlite3_finalize(prot.st);
    sqlite3_finalize(bank.st);
    sqlite3_finalize(hire.st);
    return rc;
}

/* Employments: the snapshot's and the live hires', each with its live approved documents
 * applied (the same code as `employee show`), by employment id. */
static int write_employments(vault *v, FILE *out, size_t *count)
{
    sqlite3_stmt *st = NULL, *docs = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT " EMPSTATE_SNAPSHOT_COLS ", 'snapshot', pnr FROM employments"
                                 " UNION ALL SELECT " EMPSTATE_HIRE_COLS ", uuid, pnr FROM"
                                 " registrations WHERE type = 'hire' AND " LIVE " ORDER BY 1, 11",
                                 -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(vault_db(v), EMPSTATE_DOCS_SQL, -1, &docs, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the state");
        goto cleanup;
    }
    fputs("[employments]\nemployment_id,personnummer,org_unit_id,start_date,end_date,pay_type,"
          "monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct,"
          "source\n", out);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        empstate e;
        empstate_from_row(st, &e, col(st, 10));
        if ((src = empstate_apply_docs(docs, &e)) != SQLITE_DONE)
            break;
        bool monthly = strcmp(e.pay_type, "monthly") == 0;
        char salary[24], table[12] = "", column[12] = "";
        snprintf(salary, sizeof salary, "%lld", (long long)e.salary);
        if (e.tax_table > 0) {
            snprintf(table, sizeof table, "%d", e.tax_table);
            snprintf(column, sizeof column, "%d", e.tax_column);
        }
        fprintf(out, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", e.id, col(st, 11), e.org,
                e.start, e.end, e.pay_type, monthly ? salary : "", monthly ? "" : salary,
                e.extent, table, column, e.tax_table > 0 ? "" : e.tax_fixed, e.source);
        (*count)++;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "reading the state");
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(docs);
    return rc;
}

/* Leave and one-off documents change no employment's state; the live approved ones are
 * listed so that both sides agree on them too. */
static int write_documents(vault *v, FILE *out, size_t *count)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        vault_db(v),
        "SELECT employment_id, effective_date, uuid, type, pnr, coalesce(end_date,''),"
        " coalesce(json_extract(fields,'$.extent_pct'),''),"
        " coalesce(json_extract(fields,'$.amount_ore'),''),"
        " coalesce(json_extract(fields,'$.pay_code'),''),"
        " coalesce(json_extract(fields,'$.period'),'') FROM registrations"
        " WHERE type IN ('leave','one_off') AND " LIVE " ORDER BY employment_id, effective_date, uuid",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading the state");
    fputs("[leave_and_one_off]\nemployment_id,effective_date,uuid,type,personnummer,end_date,"
          "extent_pct,amount_ore,pay_code,period\n", out);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < 10; i++)
            fprintf(out, "%s%s", i ? "," : "", col(st, i));
        fputc('\n', out);
        (*count)++;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "reading the state");
    sqlite3_finalize(st);
    return rc;
}

int registry_state_write(vault *v, FILE *out, registry_state_counts *counts)
{
    sqlite3_stmt *st = NULL;
    int rc;
    memset(counts, 0, sizeof *counts);
    int src = sqlite3_prepare_v2(vault_db(v), "SELECT manifest_sha256 FROM snapshot WHERE id = 1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = err_set(RL_EDATA, "the vault holds no snapshot: there is no state to write "
                               "('snapshot import' first)");
    else if (src != SQLITE_ROW)
        rc = vault_sql_error(v, src, "reading the snapshot");
    else {
        fprintf(out, "reservlon-state,1,%s\n", col(st, 0));
        rc = RL_OK;
    }
    sqlite3_finalize(st);
    if (rc == RL_OK && (rc = write_persons(v, out, &counts->persons)) == RL_OK &&
        (rc = write_employments(v, out, &counts->employments)) == RL_OK)
        rc = write_documents(v, out, &counts->documents);
    if (rc == RL_OK && ferror(out))
        rc = err_set(RL_EIO, "writing the state failed");
    return rc;
}

int registry_state_save(vault *v, const char *path, registry_state_counts *counts)
{
    char *buf = NULL;
    size_t len = 0;
    bool in_tx = false;
    int rc;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    rc = registry_state_write(v, mem, counts);
    if (fclose(mem) != 0 && rc == RL_OK)
        rc = err_set(RL_ENOMEM, "out of memory writing the state");
    if (rc != RL_OK)
        goto cleanup;
    /* The audit entry and the file together: the file is written inside the transaction
     * and removed again if the commit fails. */
    char detail[600];
    snprintf(detail, sizeof detail, "employment state written to %.400s: %zu persons, %zu "
             "employments, %zu leave and one-off documents", path, counts->persons,
             counts->employments, counts->documents);
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = true;
    if ((rc = vault_audit(v, "employee.state", detail)) != RL_OK ||
        (rc = file_write_atomic(path, buf, len, 0600)) != RL_OK)
        goto cleanup;
    if ((rc = vault_commit(v)) != RL_OK) {
        (void)unlink(path);
        goto cleanup;
    }
    in_tx = false;
cleanup:
    if (in_tx)
        vault_rollback(v);
    if (buf)
        sodium_memzero(buf, len); /* personnummer and accounts */
    free(buf);
    return rc;
}
