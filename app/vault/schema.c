/* schema: the vault's tables. One place, versioned with PRAGMA user_version, so a later
 * program can migrate an older vault instead of misreading it. Amounts are integers in
 * öre, percentages integers in hundredths of a percent, dates ISO 8601 text. */
#include "vault/schema.h"

#include <stdio.h>

#include "common/err.h"

#define SCHEMA_VERSION 3

/* Version 3: each pay run's distinct (code, text) line pairs, once per run; its results'
 * lines refer to them by number (payrun.c, docs/payrun.md). Results stored by version 2
 * keep their lines as JSON and are read as such. */
#define PAYRUN_TEXTS_SQL                                                                       \
    "CREATE TABLE payrun_texts("                                                               \
    "  payrun_id INTEGER NOT NULL, idx INTEGER NOT NULL, code TEXT NOT NULL,"                  \
    "  text TEXT NOT NULL, PRIMARY KEY (payrun_id, idx)) WITHOUT ROWID;"

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE operators("
    "  name TEXT PRIMARY KEY, role TEXT NOT NULL, active INTEGER NOT NULL,"
    "  created_at TEXT NOT NULL, created_by TEXT NOT NULL);"
    "CREATE TABLE audit("
    "  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, operator TEXT NOT NULL,"
    "  action TEXT NOT NULL, detail TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL);"
    /* The snapshot: replaced as a whole by each import. */
    "CREATE TABLE snapshot("
    "  id INTEGER PRIMARY KEY CHECK (id = 1), source_system TEXT NOT NULL,"
    "  export_time TEXT NOT NULL, employer_orgnr TEXT NOT NULL, manifest_sha256 TEXT NOT NULL,"
    "  trusted_comment TEXT NOT NULL, imported_at TEXT NOT NULL, imported_by TEXT NOT NULL,"
    "  last_period TEXT, last_pay_date TEXT);"
    "CREATE TABLE org_units("
    "  org_unit_id TEXT PRIMARY KEY, name TEXT NOT NULL, parent_id TEXT) WITHOUT ROWID;"
    "CREATE TABLE employees("
    "  pnr TEXT PRIMARY KEY, id_kind INTEGER NOT NULL, given_name TEXT NOT NULL,"
    "  family_name TEXT NOT NULL, protected INTEGER NOT NULL, clearing TEXT, account TEXT,"
    "  iban TEXT) WITHOUT ROWID;"
    "CREATE TABLE employments("
    "  employment_id TEXT PRIMARY KEY, pnr TEXT NOT NULL, org_unit_id TEXT NOT NULL,"
    "  start_date TEXT NOT NULL, end_date TEXT, pay_type TEXT NOT NULL,"
    "  monthly_salary_ore INTEGER, hourly_rate_ore INTEGER, extent_hundredths INTEGER NOT NULL,"
    "  tax_table INTEGER, tax_column INTEGER, tax_fixed_hundredths INTEGER) WITHOUT ROWID;"
    "CREATE INDEX employments_pnr ON employments(pnr);"
    "CREATE TABLE last_payrun("
    "  employment_id TEXT PRIMARY KEY, period TEXT NOT NULL, pay_date TEXT NOT NULL,"
    "  gross_ore INTEGER NOT NULL, tax_ore INTEGER NOT NULL, deductions_ore INTEGER NOT NULL,"
    "  net_ore INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tax_tables("
    "  year INTEGER NOT NULL, kind TEXT NOT NULL, tbl INTEGER NOT NULL,"
    "  income_from INTEGER NOT NULL, income_to INTEGER,"
    "  c1 INTEGER, c2 INTEGER, c3 INTEGER, c4 INTEGER, c5 INTEGER, c6 INTEGER, c7 INTEGER);"
    "CREATE INDEX tax_tables_lookup ON tax_tables(tbl, income_from);"
    /* Employment documents registered during an outage. Never updated but for status and
     * the decision; never deleted. seq is the recorded order, effective_date the date the
     * document takes effect (both matter to the main system's retroactive corrections). */
    "CREATE TABLE registrations("
    "  seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    "  pnr TEXT NOT NULL, employment_id TEXT, effective_date TEXT NOT NULL, end_date TEXT,"
    "  fields TEXT NOT NULL, content_hash TEXT NOT NULL, corrects TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('registered','approved','rejected','exported')),"
    "  author TEXT NOT NULL, recorded_at TEXT NOT NULL,"
    "  decided_by TEXT, decided_at TEXT, decision_reason TEXT, exported_at TEXT);"
    "CREATE INDEX registrations_pnr ON registrations(pnr);"
    "CREATE INDEX registrations_employment ON registrations(employment_id, type);"
    "CREATE INDEX registrations_hash ON registrations(content_hash);"
    "CREATE INDEX registrations_corrects ON registrations(corrects);"
    /* Emergency pay runs: created, then released by one or two approvers other than the
     * creator. Results are per employment; lines are kept as the rules returned them. */
    "CREATE TABLE payruns("
    "  id INTEGER PRIMARY KEY, period TEXT NOT NULL, pay_date TEXT NOT NULL,"
    "  policy TEXT NOT NULL, status TEXT NOT NULL"
    "  CHECK (status IN ('created','approved1','approved')),"
    "  created_by TEXT NOT NULL, created_at TEXT NOT NULL, rules_sha256 TEXT NOT NULL,"
    "  employments INTEGER NOT NULL, paid INTEGER NOT NULL, gross_ore INTEGER NOT NULL,"
    "  tax_ore INTEGER NOT NULL, deductions_ore INTEGER NOT NULL, net_ore INTEGER NOT NULL,"
    "  last_net_ore INTEGER NOT NULL, pending_ignored INTEGER NOT NULL,"
    "  second_needed INTEGER NOT NULL, approved_by TEXT, approved_at TEXT,"
    "  approved2_by TEXT, approved2_at TEXT);"
    "CREATE TABLE payrun_results("
    "  payrun_id INTEGER NOT NULL, employment_id TEXT NOT NULL, pnr TEXT NOT NULL,"
    "  gross_ore INTEGER NOT NULL, tax_ore INTEGER NOT NULL, deductions_ore INTEGER NOT NULL,"
    "  net_ore INTEGER NOT NULL, last_net_ore INTEGER NOT NULL, lines TEXT NOT NULL,"
    "  notes TEXT NOT NULL, warnings TEXT NOT NULL,"
    "  PRIMARY KEY (payrun_id, employment_id)) WITHOUT ROWID;"
    PAYRUN_TEXTS_SQL
    /* Two-person signing (docs/signing.md): each approver's X25519 key pair, its secret
     * half wrapped under the approver's passphrase-derived share key; the appliance's
     * Ed25519 signing keys (public halves); and the signing key sealed for every pair of
     * approvers, to the one and then to the other. */
    "CREATE TABLE signers("
    "  name TEXT PRIMARY KEY, box_pk BLOB NOT NULL, wrapped_sk BLOB NOT NULL,"
    "  created_at TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE signing_keys("
    "  key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_at TEXT NOT NULL,"
    "  created_by TEXT NOT NULL, cosigned_by TEXT NOT NULL, retired_at TEXT) WITHOUT ROWID;"
    "CREATE TABLE signing_wraps("
    "  key_id TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, wrap BLOB NOT NULL,"
    "  created_at TEXT NOT NULL, PRIMARY KEY (key_id, a, b)) WITHOUT ROWID;"
    /* Payment files written, signed by two approvers; statuses from the bank's pain.002. */
    "CREATE TABLE payfiles("
    "  msg_id TEXT PRIMARY KEY, payrun_id INTEGER NOT NULL, format TEXT NOT NULL,"
    "  profile TEXT NOT NULL, sha256 TEXT NOT NULL, count INTEGER NOT NULL,"
    "  total_ore INTEGER NOT NULL, exec_date TEXT NOT NULL, key_id TEXT NOT NULL,"
    "  written_by TEXT NOT NULL, cosigned_by TEXT NOT NULL, written_at TEXT NOT NULL,"
    "  drill INTEGER NOT NULL, signature TEXT NOT NULL, left_out INTEGER NOT NULL,"
    "  left_out_ore INTEGER NOT NULL) WITHOUT ROWID;"
    /* The bank's pain.002 status reports (payfile status): one row per reported payment
     * and one for the group level (end_to_end_id ''); pnr mapped back by recomputing the
     * EndToEndId, amount_ore what the file paid. */
    "CREATE TABLE payfile_status("
    "  report_msg_id TEXT NOT NULL, msg_id TEXT NOT NULL, end_to_end_id TEXT NOT NULL,"
    "  pnr TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, info TEXT NOT NULL,"
    "  amount_ore INTEGER NOT NULL, imported_at TEXT NOT NULL, imported_by TEXT NOT NULL,"
    "  PRIMARY KEY (report_msg_id, end_to_end_id)) WITHOUT ROWID;"
    "CREATE INDEX payfile_status_msg ON payfile_status(msg_id);"
    /* The restore journal's lines as exported (docs/journal-format.md): every export
     * re-writes these unchanged and appends; ref names what a line stands for (a header or
     * snapshot line's snapshot, a decision's registration). */
    "CREATE TABLE journal("
    "  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL UNIQUE, ref TEXT,"
    "  line TEXT NOT NULL);";

int schema_apply(sqlite3 *db)
{
    char *msg = NULL;
    int src = sqlite3_exec(db, schema_sql, NULL, NULL, &msg);
    if (src == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        src = sqlite3_exec(db, sql, NULL, NULL, &msg);
    }
    if (src != SQLITE_OK) {
        int rc = err_set(RL_EIO, "creating the vault schema: %s", msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
        return rc;
    }
    return RL_OK;
}

int schema_check(sqlite3 *db, int *upgrade_from)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    int src = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (src == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    *upgrade_from = 0;
    if (version == 2) {
        *upgrade_from = version;
        return RL_OK;
    }
    if (version != SCHEMA_VERSION)
        return err_set(RL_EINTEGRITY,
                       "the vault's schema version is %d; this program knows version %d",
                       version, SCHEMA_VERSION);
    return RL_OK;
}

int schema_upgrade(sqlite3 *db, int from)
{
    char *msg = NULL;
    char sql[512];
    if (from != 2)
        return err_set(RL_EINTEGRITY, "no upgrade from schema version %d", from);
    snprintf(sql, sizeof sql, "%s PRAGMA user_version=%d;", PAYRUN_TEXTS_SQL, SCHEMA_VERSION);
    int src = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (src != SQLITE_OK) {
        int rc = err_set(RL_EIO, "upgrading the vault schema from version %d: %s", from,
                         msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
        return rc;
    }
    return RL_OK;
}
