/* export: writing the restore journal from the vault (see export.h). */
#include "journal/export.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"

typedef struct {
    vault *v;
    sqlite3 *db;
    uint64_t seq;     /* lines so far */
    char prev[65];    /* hash of the last line */
    char *p;          /* the whole file */
    size_t n, cap;
    journal_export_summary *sum;
} ex;

static int buf_add(ex *x, const char *s, size_t len)
{
    if (x->n + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 1 << 16;
        while (cap < x->n + len + 1)
            cap *= 2;
        char *p = realloc(x->p, cap);
        if (p == NULL)
            return err_set(RL_ENOMEM, "out of memory building the journal");
        x->p = p;
        x->cap = cap;
    }
    memcpy(x->p + x->n, s, len);
    x->n += len;
    x->p[x->n] = '\n';
    x->n++;
    return RL_OK;
}

/* --- writing one line ---------------------------------------------------------------- */

static void w_name(FILE *f, const char *name)
{
    fprintf(f, ",\"%s\":", name); /* names are our own literals */
}

static void w_str(FILE *f, const char *name, const char *val)
{
    w_name(f, name);
    if (val)
        json_write_string(f, val);
    else
        fputs("null", f);
}

static void w_col(FILE *f, const char *name, sqlite3_stmt *st, int i)
{
    w_str(f, name, (const char *)sqlite3_column_text(st, i));
}

static void w_int(FILE *f, const char *name, sqlite3_stmt *st, int i)
{
    w_name(f, name);
    fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i));
}

/* Re-writes a parsed JSON value on one line (the registration's fields as recorded): the
 * vault's text is re-emitted by our writer, so the line is valid JSON whatever it holds. */
static void w_json(FILE *f, const json_value *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_BOOL: fputs(json_bool(j) ? "true" : "false", f); break;
    case JSON_NUMBER: fputs(json_number_text(j), f); break;
    case JSON_STRING: json_write_string(f, json_string(j, NULL)); break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        bool obj = json_typeof(j) == JSON_OBJECT;
        fputc(obj ? '{' : '[', f);
        for (size_t i = 0; i < json_len(j); i++) {
            if (i)
                fputc(',', f);
            if (obj) {
                json_write_string(f, json_key_at(j, i));
                fputc(':', f);
            }
            w_json(f, json_at(j, i));
        }
        fputc(obj ? '}' : ']', f);
        break;
    }
    }
}

typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} line;

static int line_begin(ex *x, line *l, journal_kind k, const char *id)
{
    l->buf = NULL;
    l->len = 0;
    l->f = open_memstream(&l->buf, &l->len);
    if (l->f == NULL)
        return err_set(RL_ENOMEM, "out of memory building the journal");
    fprintf(l->f, "{\"seq\":%llu,\"id\":", (unsigned long long)(x->seq + 1));
    json_write_string(l->f, id);
    fprintf(l->f, ",\"kind\":\"%s\"", journal_kind_name(k));
    return RL_OK;
}

/* Closes the line with prev, stores it in the vault (ref: what later exports compare
 * against, e.g. the snapshot a header or snapshot line names) and appends it to the file. */
static int line_end(ex *x, line *l, journal_kind k, const char *id, const char *ref)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    fprintf(l->f, ",\"prev\":\"%s\"}", x->prev);
    if (fclose(l->f) != 0) {
        l->f = NULL;
        rc = err_set(RL_ENOMEM, "out of memory building the journal");
        goto cleanup;
    }
    l->f = NULL;
    int src = sqlite3_prepare_v2(x->db, "INSERT INTO journal(seq, kind, id, ref, line)"
                                        " VALUES(?,?,?,?,?)", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(x->seq + 1));
        sqlite3_bind_text(st, 2, journal_kind_name(k), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        if (ref)
            sqlite3_bind_text(st, 4, ref, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, l->buf, (int)l->len, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(x->v, src, "storing a journal line");
        goto cleanup;
    }
    if ((rc = buf_add(x, l->buf, l->len)) != RL_OK)
        goto cleanup;
    journal_line_hash(l->buf, l->len, x->prev);
    x->seq++;
    x->sum->added[k]++;
    if (x->sum->first_new == 0)
        x->sum->first_new = x->seq;
cleanup:
    if (l->f)
        fclose(l->f);
    l->f = NULL;
    sqlite3_finalize(st);
    free(l->buf);
    l->buf = NULL;
    return rc;
}

/* --- what the vault holds ---------------------------------------------------------- */

/* The lines of earlier exports, unchanged, and the hash of the last. */
static int load_previous(ex *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(x->db, "SELECT seq, line FROM journal ORDER BY seq", -1, &st,
                                 NULL);
    /* src goes back to SQLITE_OK after each row: the loop test reads it before stepping. */
    for (; src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW; src = SQLITE_OK) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if ((uint64_t)sqlite3_column_int64(st, 0) != x->seq + 1 || text == NULL) {
            rc = err_set(RL_EINTEGRITY, "the vault's journal has a gap at line %llu: run "
                         "'check' and report it", (unsigned long long)(x->seq + 1));
            goto cleanup;
        }
        if ((rc = buf_add(x, text, len)) != RL_OK)
            goto cleanup;
        journal_line_hash(text, len, x->prev);
        x->seq++;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading the journal");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* The header (first export) or, when the snapshot was replaced since the last line that
 * names one, a snapshot line. */
static int add_snapshot(ex *x)
{
    sqlite3_stmt *st = NULL, *q = NULL;
    line l = {0};
    int rc = RL_OK;
    char ref[200], id[220], vault_id[65] = "";
    int src = sqlite3_prepare_v2(x->db, "SELECT source_system, export_time, manifest_sha256,"
                                        " imported_at, imported_by FROM snapshot WHERE id = 1",
                                 -1, &st, NULL);
    if (src != SQLITE_OK || (src = sqlite3_step(st)) != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? err_set(RL_EDATA, "the vault holds no snapshot: the journal "
                                                    "starts from one ('snapshot import')")
                                : vault_sql_error(x->v, src, "reading the snapshot");
        goto cleanup;
    }
    const char *sha = (const char *)sqlite3_column_text(st, 2);
    const char *imported = (const char *)sqlite3_column_text(st, 3);
    snprintf(ref, sizeof ref, "%s/%s", sha, imported);
    if (x->seq > 0) {
        src = sqlite3_prepare_v2(x->db, "SELECT ref FROM journal WHERE kind IN ('header',"
                                        "'snapshot') ORDER BY seq DESC LIMIT 1", -1, &q, NULL);
        if (src != SQLITE_OK || (src = sqlite3_step(q)) != SQLITE_ROW) {
            rc = vault_sql_error(x->v, src == SQLITE_DONE ? SQLITE_CORRUPT : src,
                                 "reading the journal's snapshot");
            goto cleanup;
        }
        if (strcmp((const char *)sqlite3_column_text(q, 0), ref) == 0)
            goto cleanup; /* the same snapshot: nothing to add */
        snprintf(id, sizeof id, "snapshot/%s", ref);
        if ((rc = line_begin(x, &l, JOURNAL_SNAPSHOT, id)) != RL_OK)
            goto cleanup;
        w_col(l.f, "source", st, 0);
        w_col(l.f, "export_time", st, 1);
        w_col(l.f, "manifest_sha256", st, 2);
        w_col(l.f, "imported_at", st, 3);
        w_col(l.f, "imported_by", st, 4);
        rc = line_end(x, &l, JOURNAL_SNAPSHOT, id, ref);
        goto cleanup;
    }
    src = sqlite3_prepare_v2(x->db, "SELECT value FROM meta WHERE key = 'vault_id'", -1, &q,
                             NULL);
    if (src == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(vault_id, sizeof vault_id, "%s", (const char *)sqlite3_column_text(q, 0));
    if (vault_id[0] == '\0') {
        rc = err_set(RL_EINTEGRITY, "the vault has no vault id: run 'check'");
        goto cleanup;
    }
    if ((rc = line_begin(x, &l, JOURNAL_HEADER, "header")) != RL_OK)
        goto cleanup;
    w_str(l.f, "format", JOURNAL_FORMAT);
    fprintf(l.f, ",\"version\":%d", JOURNAL_VERSION);
    w_str(l.f, "vault_id", vault_id);
    w_col(l.f, "snapshot_source", st, 0);
    w_col(l.f, "snapshot_export_time", st, 1);
    w_col(l.f, "snapshot_manifest_sha256", st, 2);
    w_col(l.f, "snapshot_imported_at", st, 3);
    rc = line_end(x, &l, JOURNAL_HEADER, "header", ref);
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(q);
    return rc;
}

/* Registrations not yet in the journal, in the vault's recorded order, as recorded: the
 * status is not part of the line (it changes; a decision line records it). */
static int add_registrations(ex *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        x->db,
        "SELECT uuid, type, pnr, employment_id, effective_date, end_date, fields, content_hash,"
        " corrects, author, recorded_at, seq FROM registrations"
        " WHERE uuid NOT IN (SELECT id FROM journal) ORDER BY seq", -1, &st, NULL);
    for (; src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW; src = SQLITE_OK) {
        const char *uuid = (const char *)sqlite3_column_text(st, 0);
        const char *fields = (const char *)sqlite3_column_text(st, 6);
        json_value *j = NULL;
        if (json_parse(fields, (size_t)sqlite3_column_bytes(st, 6), &j) != RL_OK ||
            json_typeof(j) != JSON_OBJECT) {
            json_free(j);
            rc = err_set(RL_EINTEGRITY, "registration %s: its recorded fields are not a JSON "
                         "object: run 'check' and report it", uuid);
            goto cleanup;
        }
        line l;
        if ((rc = line_begin(x, &l, JOURNAL_REGISTRATION, uuid)) != RL_OK) {
            json_free(j);
            goto cleanup;
        }
        w_col(l.f, "type", st, 1);
        w_col(l.f, "personnummer", st, 2);
        w_col(l.f, "employment_id", st, 3);
        w_col(l.f, "effective_date", st, 4);
        w_col(l.f, "end_date", st, 5);
        w_name(l.f, "fields");
        w_json(l.f, j);
        json_free(j);
        w_col(l.f, "corrects", st, 8);
        w_col(l.f, "content_hash", st, 7);
        w_col(l.f, "author", st, 9);
        w_col(l.f, "recorded_at", st, 10);
        w_int(l.f, "vault_seq", st, 11);
        if ((rc = line_end(x, &l, JOURNAL_REGISTRATION, uuid, NULL)) != RL_OK)
            goto cleanup;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading registrations for the journal");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Decisions not yet in the journal, in the order they were taken. */
static int add_decisions(ex *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        x->db,
        "SELECT uuid, status, decided_by, decided_at, decision_reason FROM registrations"
        " WHERE status IN ('approved','rejected','exported')"
        " AND uuid || '/decision' NOT IN (SELECT id FROM journal) ORDER BY decided_at, seq",
        -1, &st, NULL);
    for (; src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW; src = SQLITE_OK) {
        const char *uuid = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        char id[64];
        snprintf(id, sizeof id, "%s/decision", uuid);
        line l;
        if ((rc = line_begin(x, &l, JOURNAL_DECISION, id)) != RL_OK)
            goto cleanup;
        w_str(l.f, "registration", uuid);
        w_str(l.f, "decision", strcmp(status, "rejected") == 0 ? "rejected" : "approved");
        w_col(l.f, "decided_by", st, 2);
        w_col(l.f, "decided_at", st, 3);
        w_col(l.f, "reason", st, 4);
        if ((rc = line_end(x, &l, JOURNAL_DECISION, id, uuid)) != RL_OK)
            goto cleanup;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading decisions for the journal");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Released pay runs (status approved: final, so the line never needs changing). A pay run
 * created but not released paid nothing; it joins the journal once released. */
static int add_payruns(ex *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        x->db,
        "SELECT id, period, pay_date, policy, created_by, created_at, approved_by, approved_at,"
        " approved2_by, approved2_at, rules_sha256, employments, paid, gross_ore, tax_ore,"
        " deductions_ore, net_ore, last_net_ore, pending_ignored FROM payruns"
        " WHERE status = 'approved' AND 'payrun/' || id NOT IN (SELECT id FROM journal)"
        " ORDER BY id", -1, &st, NULL);
    for (; src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW; src = SQLITE_OK) {
        char id[40];
        snprintf(id, sizeof id, "payrun/%lld", (long long)sqlite3_column_int64(st, 0));
        line l;
        if ((rc = line_begin(x, &l, JOURNAL_PAYRUN, id)) != RL_OK)
            goto cleanup;
        w_int(l.f, "payrun", st, 0);
        static const char *const text[] = {"period", "pay_date", "policy", "created_by",
                                           "created_at", "approved_by", "approved_at",
                                           "approved2_by", "approved2_at", "rules_sha256"};
        for (int i = 0; i < 10; i++)
            w_col(l.f, text[i], st, 1 + i);
        static const char *const ints[] = {"employments", "paid", "gross_ore", "tax_ore",
                                           "deductions_ore", "net_ore", "last_net_ore",
                                           "pending_ignored"};
        for (int i = 0; i < 8; i++)
            w_int(l.f, ints[i], st, 11 + i);
        if ((rc = line_end(x, &l, JOURNAL_PAYRUN, id, NULL)) != RL_OK)
            goto cleanup;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading pay runs for the journal");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Payment files written (rows of payfiles never change), in the order written. */
static int add_payfiles(ex *x)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    int src = sqlite3_prepare_v2(
        x->db,
        "SELECT msg_id, payrun_id, format, profile, count, total_ore, left_out, left_out_ore,"
        " exec_date, sha256, key_id, written_by, cosigned_by, written_at, drill FROM payfiles"
        " WHERE msg_id NOT IN (SELECT id FROM journal) ORDER BY written_at, msg_id",
        -1, &st, NULL);
    for (; src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW; src = SQLITE_OK) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        line l;
        if ((rc = line_begin(x, &l, JOURNAL_PAYFILE, id)) != RL_OK)
            goto cleanup;
        w_col(l.f, "msg_id", st, 0);
        w_int(l.f, "payrun", st, 1);
        w_col(l.f, "format", st, 2);
        w_col(l.f, "profile", st, 3);
        w_int(l.f, "count", st, 4);
        w_int(l.f, "total_ore", st, 5);
        w_int(l.f, "left_out", st, 6);
        w_int(l.f, "left_out_ore", st, 7);
        static const char *const text[] = {"exec_date", "sha256", "key_id", "written_by",
                                           "cosigned_by", "written_at"};
        for (int i = 0; i < 6; i++)
            w_col(l.f, text[i], st, 8 + i);
        w_name(l.f, "drill");
        fputs(sqlite3_column_int(st, 14) ? "true" : "false", l.f);
        if ((rc = line_end(x, &l, JOURNAL_PAYFILE, id, NULL)) != RL_OK)
            goto cleanup;
    }
    if (src != SQLITE_DONE)
        rc = vault_sql_error(x->v, src, "reading payment files for the journal");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int journal_export(vault *v, signing_session *s, const char *out_path,
                   journal_export_summary *sum)
{
    ex x = {.v = v, .db = vault_db(v), .sum = sum};
    char sig_path[4096], sig[MINISIG_SIG_TEXT_MAX], tc[MINISIG_TC_MAX], detail[700];
    bool in_tx = false, written = false;
    int rc;
    memset(sum, 0, sizeof *sum);
    memset(x.prev, '0', 64);
    x.prev[64] = '\0';
    const minisig_seckey *sk = signing_seckey(s);
    if (sk == NULL)
        return err_set(RL_EAUTH, "the signing key is not unlocked");
    int w = snprintf(sig_path, sizeof sig_path, "%s.minisig", out_path);
    if (w < 0 || (size_t)w >= sizeof sig_path)
        return err_set(RL_EUSAGE, "--out path too long");
    if ((rc = vault_begin(v)) != RL_OK)
        return rc;
    in_tx = true;
    vault_now(sum->exported);
    /* Kinds in a fixed order, each in its own order: the lines appended are a function of
     * the vault's contents and of what earlier exports held, never of the time. */
    if ((rc = load_previous(&x)) != RL_OK || (rc = add_snapshot(&x)) != RL_OK ||
        (rc = add_registrations(&x)) != RL_OK || (rc = add_decisions(&x)) != RL_OK ||
        (rc = add_payruns(&x)) != RL_OK || (rc = add_payfiles(&x)) != RL_OK)
        goto cleanup;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(x.db, "UPDATE registrations SET status = 'exported',"
                                       " exported_at = ? WHERE status = 'approved'", -1, &st,
                                 NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sum->exported, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "marking registrations exported");
        goto cleanup;
    }
    /* Our own output must pass the receiver's checks before anyone signs it. */
    journal_info info;
    if ((rc = journal_check(x.p, x.n, &info)) != RL_OK) {
        rc = err_wrap(RL_EINTEGRITY, "the journal built does not pass its own check (a bug; "
                                     "nothing was written): ");
        goto cleanup;
    }
    sum->lines = info.lines;
    memcpy(sum->last, info.last, sizeof sum->last);
    uint64_t added = 0;
    for (int k = 0; k < JOURNAL_NKINDS; k++)
        added += sum->added[k];
    snprintf(detail, sizeof detail,
             "journal export: %llu lines (%llu new: %llu registrations, %llu decisions, %llu pay "
             "runs, %llu payment files, %llu snapshots), last %s, signed by %s and %s with key %s",
             (unsigned long long)sum->lines, (unsigned long long)added,
             (unsigned long long)sum->added[JOURNAL_REGISTRATION],
             (unsigned long long)sum->added[JOURNAL_DECISION],
             (unsigned long long)sum->added[JOURNAL_PAYRUN],
             (unsigned long long)sum->added[JOURNAL_PAYFILE],
             (unsigned long long)sum->added[JOURNAL_SNAPSHOT], sum->last, vault_operator(v),
             signing_second(s), signing_key_id(s));
    if ((rc = vault_audit(v, "journal.export", detail)) != RL_OK)
        goto cleanup;
    /* The export time lives only here, in the signed comment, never in a line. */
    snprintf(tc, sizeof tc, "reservlon journal lines=%llu last=%s exported=%s by=%s+%s key=%s",
             (unsigned long long)sum->lines, sum->last, sum->exported, vault_operator(v),
             signing_second(s), signing_key_id(s));
    if ((rc = minisig_sign(sk, (const uint8_t *)x.p, x.n, tc, sig, sizeof sig)) != RL_OK)
        goto cleanup;
    written = true;
    minisig_pubkey pk;
    minisig_seckey_pubkey(sk, &pk);
    if ((rc = file_write_atomic(out_path, x.p, x.n, 0600)) != RL_OK ||
        (rc = file_write_atomic(sig_path, sig, strlen(sig), 0600)) != RL_OK ||
        (rc = journal_verify_file(out_path, &pk, &info)) != RL_OK)
        goto cleanup;
    if ((rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = false;
cleanup:
    if (in_tx)
        vault_rollback(v);
    if (rc != RL_OK && written) {
        (void)unlink(out_path);
        (void)unlink(sig_path);
    }
    free(x.p);
    return rc;
}
