/* empstate: one employment's current state, shared inside app/registry by `employee show`
 * (registry.c) and `employee state` (state.c), so both read the vault and apply approved
 * documents the same way. Internal to the registry module: not for other modules.
 *
 * The state of an employment is its snapshot row or its live hire, with the live approved
 * documents that concern it applied in (effective_date, recorded order) order. "Live
 * approved": approved (or exported) and not replaced by an approved correction. */
#ifndef RL_REGISTRY_EMPSTATE_H
#define RL_REGISTRY_EMPSTATE_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/json.h"

/* SQL condition on table registrations: the documents that count. */
#define EMPSTATE_LIVE_APPROVED                                                                 \
    "status IN ('approved','exported') AND uuid NOT IN (SELECT corrects FROM registrations"   \
    " WHERE corrects IS NOT NULL AND status IN ('approved','exported'))"

/* The ten columns empstate_from_row reads, from the snapshot's employments table and from
 * a hire document (table registrations), in the same order. */
#define EMPSTATE_SNAPSHOT_COLS                                                                 \
    "employment_id, org_unit_id, start_date, end_date, pay_type,"                              \
    " coalesce(monthly_salary_ore, hourly_rate_ore), extent_hundredths, tax_table,"           \
    " tax_column, tax_fixed_hundredths"
#define EMPSTATE_HIRE_COLS                                                                     \
    "employment_id, json_extract(fields,'$.org_unit_id'), effective_date, end_date,"           \
    " json_extract(fields,'$.pay_type'), coalesce(json_extract(fields,'$.monthly_salary_ore'),"\
    " json_extract(fields,'$.hourly_rate_ore')),"                                              \
    " CAST(round(CAST(json_extract(fields,'$.extent_pct') AS REAL) * 100) AS INTEGER),"        \
    " json_extract(fields,'$.tax_table'), json_extract(fields,'$.tax_column'),"                \
    " CAST(round(CAST(json_extract(fields,'$.tax_fixed_pct') AS REAL) * 100) AS INTEGER)"

typedef struct {
    char id[65], org[65], start[11], end[11], pay_type[8];
    char extent[24];     /* percentage as written, "62.5" */
    int tax_table;       /* 29-42, or 0 when taxed at a fixed percentage */
    int tax_column;      /* 1-6 with tax_table */
    char tax_fixed[24];  /* percentage, when tax_table is 0 */
    int64_t salary;      /* monthly salary or hourly rate in öre, per pay_type */
    char source[48];     /* "snapshot", or who/what it comes from (caller's choice) */
} empstate;

/* Reads the ten EMPSTATE_*_COLS columns of the current row of st, starting at column 0. */
void empstate_from_row(sqlite3_stmt *st, empstate *e, const char *source);

/* Applies one live approved document (type, its fields, its effective date) to e:
 * termination sets the end date, salary_change, extent_change and tax_change their values;
 * other types (leave, one_off, bank_change, hire) do not change an employment. */
void empstate_apply(empstate *e, const char *type, const json_value *fields, const char *eff);

/* The live approved documents of one employment, in the order they apply: bind the
 * employment id as ?1, then call empstate_apply_docs for each employment. */
#define EMPSTATE_DOCS_SQL                                                                      \
    "SELECT type, fields, effective_date FROM registrations WHERE employment_id = ?1"          \
    " AND type != 'hire' AND " EMPSTATE_LIVE_APPROVED " ORDER BY effective_date, seq"

/* Runs docs (a prepared EMPSTATE_DOCS_SQL) for e's id and applies every row to e; resets
 * docs. Returns SQLITE_DONE, or the SQLite error code of the failed step. */
int empstate_apply_docs(sqlite3_stmt *docs, empstate *e);

/* "table 33 column 1" or "fixed 30 %" into out[48]. */
void empstate_tax_text(const empstate *e, char out[48]);

#endif
