/* snapshot: verification and all-or-nothing import of a signed snapshot (see snapshot.h
 * and docs/snapshot-format.md). */
#include "snapshot/snapshot.h"

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
#include "ident/ident.h"
#include "snapshot/csv.h"
#include "snapshot/keyset.h"

#define MAX_FILE (2ULL << 30)

enum { F_ORG, F_EMPLOYEES, F_EMPLOYMENTS, F_LAST_PAYRUN, F_TAX, F_COUNT };

static const char *const file_names[F_COUNT] = {
    "org_units.csv", "employees.csv", "employments.csv", "last_payrun.csv", "tax_tables.csv",
};

static const char *const org_cols[] = {"org_unit_id", "name", "parent_id"};
static const char *const emp_cols[] = {"personnummer",       "given_name", "family_name",
                                       "protected_identity", "clearing",   "account",
                                       "iban"};
static const char *const empl_cols[] = {
    "employment_id",   "personnummer",       "org_unit_id",     "start_date",
    "end_date",        "pay_type",           "monthly_salary_ore", "hourly_rate_ore",
    "extent_pct",      "tax_table",          "tax_column",      "tax_fixed_pct"};
static const char *const pay_cols[] = {"employment_id", "period",         "pay_date", "gross_ore",
                                       "tax_ore",       "deductions_ore", "net_ore"};
static const char *const tax_cols[] = {"year", "kind", "table", "income_from", "income_to", "col1",
                                       "col2", "col3", "col4",  "col5",        "col6",      "col7"};

typedef struct {
    char *data;
    size_t len;
    uint64_t rows_expected;
    uint8_t sha256[32];
} snap_file;

typedef struct {
    vault *v;
    sqlite3 *db;
    FILE *report;
    FILE *progress;
    size_t errors;
    size_t max_report;
    uint32_t today;
    const char *file;
    size_t done_bytes, total_bytes;
    int last_pct;
    char period[8];
    char pay_date[11];
    int64_t net_total;
    /* What the checks look up, in memory (keyset.h): the org units, people and employments
     * accepted so far, the employments the last pay run has paid, the tax tables present. */
    keyset *orgs, *people, *employments, *paid;
    bool tax_seen[43];
} importer;

/* Records one bad field: "employees.csv line 17 field personnummer: check digit mismatch". */
static void bad(importer *im, size_t line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad(importer *im, size_t line, const char *field, const char *fmt, ...)
{
    im->errors++;
    if (im->errors > im->max_report || im->report == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *text = field_message(field, msg);
    if (field)
        fprintf(im->report, "%s line %zu field %s: %s\n", im->file, line, field, text);
    else
        fprintf(im->report, "%s line %zu: %s\n", im->file, line, msg);
}

static void show_progress(importer *im, size_t bytes_in_file)
{
    if (im->progress == NULL || !isatty(fileno(im->progress)) || im->total_bytes == 0)
        return;
    int pct = (int)((im->done_bytes + bytes_in_file) * 100 / im->total_bytes);
    if (pct != im->last_pct) {
        im->last_pct = pct;
        fprintf(im->progress, "\rimporting snapshot: %3d%% (%s)   ", pct, im->file);
        fflush(im->progress);
    }
}

/* --- field parsers: each returns true if the field is valid, else reports it ----------- */

static bool is_empty(const csv_row *r, size_t i) { return r->len[i] == 0; }

/* Reports the message field_* or ident_* just recorded, if rc says the field is bad. */
static bool ok_or_report(importer *im, const csv_row *r, const char *field, int rc)
{
    if (rc == RL_OK)
        return true;
    bad(im, r->line, field, "%s", err_msg());
    return false;
}

static bool parse_id(importer *im, const csv_row *r, size_t i, const char *field)
{
    return ok_or_report(im, r, field, field_id(r->f[i], r->len[i]));
}

static bool parse_text(importer *im, const csv_row *r, size_t i, const char *field, size_t max)
{
    return ok_or_report(im, r, field, field_text(r->f[i], r->len[i], max));
}

static bool parse_uint(importer *im, const csv_row *r, size_t i, const char *field,
                       int64_t lo, int64_t hi, int64_t *out)
{
    return ok_or_report(im, r, field, field_int(r->f[i], r->len[i], lo, hi, out));
}

static bool parse_ore(importer *im, const csv_row *r, size_t i, const char *field, int64_t *out)
{
    return parse_uint(im, r, i, field, 0, FIELD_MAX_ORE, out);
}

static bool parse_pct(importer *im, const csv_row *r, size_t i, const char *field, int64_t lo,
                      int64_t hi, int64_t *out)
{
    return ok_or_report(im, r, field, field_pct(r->f[i], r->len[i], lo, hi, out));
}

static bool parse_date(importer *im, const csv_row *r, size_t i, const char *field)
{
    return ok_or_report(im, r, field, field_date(r->f[i], r->len[i]));
}

/* --- statements ----------------------------------------------------------------------- */

static int prep(importer *im, const char *sql, sqlite3_stmt **st)
{
    int src = sqlite3_prepare_v2(im->db, sql, -1, st, NULL);
    return src == SQLITE_OK ? RL_OK : vault_sql_error(im->v, src, "preparing the import");
}

/* Runs an insert; a uniqueness violation becomes a reported bad record. */
static int insert(importer *im, sqlite3_stmt *st, size_t line, const char *field,
                  const char *what)
{
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (src == SQLITE_DONE)
        return RL_OK;
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY || src == SQLITE_CONSTRAINT_UNIQUE) {
        bad(im, line, field, "duplicate %s", what);
        return RL_OK;
    }
    return vault_sql_error(im->v, src, "importing");
}

static bool exists(sqlite3_stmt *st, const char *key)
{
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

static void bind_opt_int(sqlite3_stmt *st, int col, bool present, int64_t v)
{
    if (present)
        sqlite3_bind_int64(st, col, v);
    else
        sqlite3_bind_null(st, col);
}

/* Accepts key for set, or reports a duplicate as the table's unique key would have:
 * 1 accepted, 0 duplicate (reported), or RL_ENOMEM. */
static int unique(importer *im, keyset *set, const csv_row *r, const char *key, size_t len,
                  const char *field)
{
    int added = keyset_add(set, key, len);
    if (added == 0)
        bad(im, r->line, field, "duplicate %s", field);
    return added;
}

/* --- rows inserted in key order -------------------------------------------------------- */

/* The large files (employees, employments, last pay run) go into their tables in key order.
 * In file order the personnummer-keyed employees (and the rows of any export not sorted by
 * id) land on random B-tree pages: at 1,000,000 employments the database is many times the
 * CPU caches and the page cache, and those random descents cost more than the rest of the
 * import (performance.md, "Growth"). A row whose key follows the last one inserted goes in
 * at once, so an export sorted by id holds nothing back; the others are held, packed, until
 * the file has been read, and then go in sorted. The first value of a row is its key. */
typedef struct {
    uint64_t p0, p1; /* the key's first 16 bytes, big-endian: comparisons mostly end there */
    const char *key; /* set by held_flush */
    size_t klen;
    size_t off;      /* of the row's first value in data */
    size_t line;
} held_row;

typedef struct {
    char *data; /* per value: 'n'; 'i' and 8 bytes; 't', a length byte and the bytes */
    size_t len, cap;
    held_row *rows;
    size_t n, rows_cap;
    int oom;
    sqlite3_stmt *st; /* the insert, with ncols values */
    int ncols;
    const char *field; /* the key's column, for a duplicate's message */
    char last[256];    /* the key inserted last, once any_in */
    size_t last_len;
    bool any_in;
} held;

/* Sizes the buffers from the file (an upper bound: untouched capacity costs no memory). */
static int held_init(held *h, const snap_file *f, size_t rows, sqlite3_stmt *st, int ncols,
                     const char *field)
{
    memset(h, 0, sizeof *h);
    h->st = st;
    h->ncols = ncols;
    h->field = field;
    h->cap = 2 * f->len + (1 << 16);
    h->rows_cap = rows > 16 ? rows : 16;
    h->data = malloc(h->cap);
    h->rows = malloc(h->rows_cap * sizeof *h->rows);
    if (h->data == NULL || h->rows == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    return RL_OK;
}

static void held_free(held *h)
{
    if (h->data)
        sodium_memzero(h->data, h->len); /* names, personnummer and accounts */
    sodium_memzero(h->last, sizeof h->last);
    free(h->data);
    free(h->rows);
    memset(h, 0, sizeof *h);
}

static char *held_room(held *h, size_t n)
{
    if (h->oom)
        return NULL;
    if (h->len + n > h->cap) {
        size_t cap = h->cap * 2;
        while (cap < h->len + n)
            cap *= 2;
        char *d = malloc(cap);
        if (d == NULL) {
            h->oom = 1;
            return NULL;
        }
        memcpy(d, h->data, h->len);
        sodium_memzero(h->data, h->len);
        free(h->data);
        h->data = d;
        h->cap = cap;
    }
    char *p = h->data + h->len;
    h->len += n;
    return p;
}

/* Text of at most 255 bytes: every column held is (ids 64, names 100, dates, numbers). */
static void held_text(held *h, const char *s, size_t n)
{
    if (n > 255)
        abort(); /* API misuse: the fields were validated first */
    char *p = held_room(h, 2 + n);
    if (p == NULL)
        return;
    p[0] = 't';
    p[1] = (char)(unsigned char)n;
    memcpy(p + 2, s, n);
}

static void held_int(held *h, int64_t v)
{
    char *p = held_room(h, 1 + 8);
    if (p == NULL)
        return;
    p[0] = 'i';
    memcpy(p + 1, &v, 8);
}

static void held_null(held *h)
{
    char *p = held_room(h, 1);
    if (p)
        p[0] = 'n';
}

static void held_opt_int(held *h, bool present, int64_t v)
{
    if (present)
        held_int(h, v);
    else
        held_null(h);
}

/* Starts a row whose key (first column) is key[0..n). */
static void held_begin(held *h, size_t line, const char *key, size_t n)
{
    if (h->oom)
        return;
    if (h->n == h->rows_cap) {
        size_t cap = h->rows_cap * 2;
        held_row *r = realloc(h->rows, cap * sizeof *r);
        if (r == NULL) {
            h->oom = 1;
            return;
        }
        h->rows = r;
        h->rows_cap = cap;
    }
    h->rows[h->n++] = (held_row){.off = h->len, .line = line, .klen = n};
    held_text(h, key, n);
}

/* SQLite's BINARY collation: bytes, then the shorter first. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int cmp_held(const void *a, const void *b)
{
    const held_row *x = a, *y = b;
    if (x->p0 != y->p0)
        return x->p0 < y->p0 ? -1 : 1;
    if (x->p1 != y->p1)
        return x->p1 < y->p1 ? -1 : 1;
    return cmp_bytes(x->key, x->klen, y->key, y->klen);
}

/* Binds the row at p and inserts it. */
static int held_put(importer *im, held *h, const char *p, size_t line)
{
    for (int col = 1; col <= h->ncols; col++) {
        int64_t v;
        switch (*p) {
        case 'i':
            memcpy(&v, p + 1, 8);
            sqlite3_bind_int64(h->st, col, v);
            p += 9;
            break;
        case 't':
            sqlite3_bind_text(h->st, col, p + 2, (unsigned char)p[1], SQLITE_STATIC);
            p += 2 + (unsigned char)p[1];
            break;
        default:
            sqlite3_bind_null(h->st, col);
            p += 1;
            break;
        }
    }
    return insert(im, h->st, line, h->field, h->field);
}

/* Ends the row begun last: inserts it now if its key follows the last one inserted, else
 * keeps it for held_flush. Once a bad record dooms the import nothing more goes in. */
static int held_end(importer *im, held *h)
{
    if (h->oom)
        return err_set(RL_ENOMEM, "out of memory");
    held_row *r = &h->rows[h->n - 1];
    const char *key = h->data + r->off + 2;
    if (im->errors == 0 &&
        (!h->any_in || cmp_bytes(h->last, h->last_len, key, r->klen) < 0)) {
        int rc = held_put(im, h, h->data + r->off, r->line);
        if (rc != RL_OK)
            return rc;
        memcpy(h->last, key, r->klen);
        h->last_len = r->klen;
        h->any_in = true;
    } else if (im->errors == 0) {
        return RL_OK; /* held */
    }
    h->len = r->off; /* inserted, or not needed: forget it */
    h->n--;
    return RL_OK;
}

/* Inserts the held rows in key order (unless a bad record doomed the import). */
static int held_flush(importer *im, held *h)
{
    if (im->errors > 0 || h->n == 0)
        return RL_OK;
    for (size_t i = 0; i < h->n; i++) {
        held_row *r = &h->rows[i];
        uint8_t b[16] = {0};
        r->key = h->data + r->off + 2;
        memcpy(b, r->key, r->klen < 16 ? r->klen : 16);
        r->p0 = r->p1 = 0;
        for (int k = 0; k < 8; k++) {
            r->p0 = r->p0 << 8 | b[k];
            r->p1 = r->p1 << 8 | b[8 + k];
        }
    }
    qsort(h->rows, h->n, sizeof *h->rows, cmp_held);
    for (size_t i = 0; i < h->n; i++) {
        int rc = held_put(im, h, h->data + h->rows[i].off, h->rows[i].line);
        if (rc != RL_OK)
            return rc;
    }
    return RL_OK;
}

/* Iterates the records of one file after checking its header. */
typedef int (*row_fn)(importer *im, const csv_row *row, void *ctx);

static int each_row(importer *im, int which, snap_file *f, const char *const *cols, size_t ncols,
                    row_fn fn, void *ctx, uint64_t *rows)
{
    csv_reader *r = NULL;
    csv_row row;
    uint64_t n = 0;
    im->file = file_names[which];
    int rc = csv_open(f->data, f->len, file_names[which], &r);
    if (rc == RL_OK)
        rc = csv_expect_header(r, cols, ncols);
    while (rc == RL_OK) {
        int got = csv_next(r, &row);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0)
            break;
        n++;
        if (row.n != ncols) {
            bad(im, row.line, NULL, "has %zu fields, the header has %zu", row.n, ncols);
            continue;
        }
        rc = fn(im, &row, ctx);
        if ((n & 1023) == 0)
            show_progress(im, csv_offset(r));
    }
    bool structural = rc == RL_EDATA;
    if (structural) {
        /* A structural CSV error: report it like a record error and stop this file. The
         * records not read are not missing (the file matched its signed hash), so the count
         * check below would wrongly call it tampering (exit 3): the import fails as bad
         * data instead. */
        im->errors++;
        if (im->report)
            fprintf(im->report, "%s\n", err_msg());
        rc = RL_OK;
    }
    csv_close(r);
    im->done_bytes += f->len;
    *rows = n;
    if (rc == RL_OK && !structural && n != f->rows_expected)
        rc = err_set(RL_EINTEGRITY, "%s: %llu records, the signed manifest says %llu",
                     file_names[which], (unsigned long long)n,
                     (unsigned long long)f->rows_expected);
    return rc;
}

/* --- per-file record handlers ---------------------------------------------------------- */

typedef struct {
    sqlite3_stmt *ins;
    size_t n, cap;
    struct parent_ref {
        size_t line;
        char parent[65];
    } *refs;
} org_ctx;

static int org_row(importer *im, const csv_row *r, void *vctx)
{
    org_ctx *c = vctx;
    bool ok = parse_id(im, r, 0, "org_unit_id");
    ok = parse_text(im, r, 1, "name", 200) && ok;
    if (!is_empty(r, 2)) {
        if (parse_id(im, r, 2, "parent_id")) {
            if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 64;
                struct parent_ref *p = realloc(c->refs, cap * sizeof *p);
                if (p == NULL)
                    return err_set(RL_ENOMEM, "out of memory");
                c->refs = p;
                c->cap = cap;
            }
            c->refs[c->n].line = r->line;
            memcpy(c->refs[c->n].parent, r->f[2], r->len[2] + 1);
            c->n++;
        } else {
            ok = false;
        }
    }
    if (!ok)
        return RL_OK;
    int added = unique(im, im->orgs, r, r->f[0], r->len[0], "org_unit_id");
    if (added <= 0)
        return added;
    sqlite3_bind_text(c->ins, 1, r->f[0], (int)r->len[0], SQLITE_STATIC);
    sqlite3_bind_text(c->ins, 2, r->f[1], (int)r->len[1], SQLITE_STATIC);
    if (is_empty(r, 2))
        sqlite3_bind_null(c->ins, 3);
    else
        sqlite3_bind_text(c->ins, 3, r->f[2], (int)r->len[2], SQLITE_STATIC);
    return insert(im, c->ins, r->line, "org_unit_id", "org_unit_id");
}

static bool parse_pnr(importer *im, const csv_row *r, size_t i, const char *field, ident_pnr *p)
{
    size_t n = r->len[i];
    bool form = n == 12 || (n == 13 && r->f[i][8] == '-');
    if (!form) {
        bad(im, r->line, field, "must have 12 digits (YYYYMMDDNNNC or YYYYMMDD-NNNC)");
        return false;
    }
    if (ident_pnr_parse(r->f[i], im->today, p) != RL_OK) {
        bad(im, r->line, field, "%s", err_msg());
        return false;
    }
    return true;
}

static int employee_row(importer *im, const csv_row *r, void *vctx)
{
    held *h = vctx;
    ident_pnr p;
    ident_account acct;
    char iban[35];
    bool has_acct = false, has_iban = false;
    int64_t prot = 0;
    bool ok = parse_pnr(im, r, 0, "personnummer", &p);
    ok = parse_text(im, r, 1, "given_name", 100) && ok;
    ok = parse_text(im, r, 2, "family_name", 100) && ok;
    ok = parse_uint(im, r, 3, "protected_identity", 0, 3, &prot) && ok;
    if (!is_empty(r, 4) || !is_empty(r, 5)) {
        if (!is_empty(r, 6)) {
            bad(im, r->line, "iban", "give either clearing and account or an IBAN, not both");
            ok = false;
        } else if (is_empty(r, 4) || is_empty(r, 5)) {
            bad(im, r->line, is_empty(r, 4) ? "clearing" : "account",
                "clearing and account go together");
            ok = false;
        } else if (ident_account_parse(r->f[4], r->f[5], &acct) != RL_OK) {
            const char *m = err_msg();
            bad(im, r->line, strncmp(m, "clearing", 8) == 0 ? "clearing" : "account", "%s", m);
            ok = false;
        } else {
            has_acct = true;
            if (acct.warning && im->report)
                fprintf(im->report,
                        "%s line %zu field account: warning: the %s account has no valid check "
                        "digit (older Swedbank accounts may lack one); imported, confirm it\n",
                        im->file, r->line, acct.bank);
            if (strcmp(acct.clearing, "3300") == 0 && ok &&
                strcmp(acct.account, p.digits + 2) != 0) {
                bad(im, r->line, "account",
                    "a Nordea personkonto (clearing 3300) must be the holder's personnummer");
                ok = false;
            }
        }
    } else if (!is_empty(r, 6)) {
        if (ident_iban_parse(r->f[6], iban) != RL_OK) {
            bad(im, r->line, "iban", "%s", err_msg());
            ok = false;
        } else {
            has_iban = true;
        }
    }
    if (!ok)
        return RL_OK;
    int added = unique(im, im->people, r, p.digits, 12, "personnummer");
    if (added <= 0)
        return added;
    held_begin(h, r->line, p.digits, 12);
    held_int(h, (int64_t)p.kind);
    held_text(h, r->f[1], r->len[1]);
    held_text(h, r->f[2], r->len[2]);
    held_int(h, prot);
    if (has_acct) {
        held_text(h, acct.clearing, strlen(acct.clearing));
        held_text(h, acct.account, strlen(acct.account));
    } else {
        held_null(h);
        held_null(h);
    }
    if (has_iban)
        held_text(h, iban, strlen(iban));
    else
        held_null(h);
    return held_end(im, h);
}

static int tax_row(importer *im, const csv_row *r, void *vctx)
{
    sqlite3_stmt *ins = vctx;
    int64_t year, tbl, from, to = 0, col[7];
    bool has_col[7];
    bool ok = parse_uint(im, r, 0, "year", 2000, 2200, &year);
    bool pct = r->len[1] == 3 && memcmp(r->f[1], "30%", 3) == 0;
    if (!pct && !(r->len[1] == 3 && memcmp(r->f[1], "30B", 3) == 0)) {
        bad(im, r->line, "kind", "must be 30B or 30%%");
        ok = false;
    }
    ok = parse_uint(im, r, 2, "table", 29, 42, &tbl) && ok;
    ok = parse_uint(im, r, 3, "income_from", 0, 100000000, &from) && ok;
    if (is_empty(r, 4)) {
        if (!pct) {
            bad(im, r->line, "income_to", "is required for 30B rows");
            ok = false;
        }
    } else if (parse_uint(im, r, 4, "income_to", 0, 100000000, &to)) {
        if (ok && to < from) {
            bad(im, r->line, "income_to", "is below income_from");
            ok = false;
        }
    } else {
        ok = false;
    }
    for (size_t k = 0; k < 7; k++) {
        static const char *const names[] = {"col1", "col2", "col3", "col4",
                                            "col5", "col6", "col7"};
        has_col[k] = !is_empty(r, 5 + k);
        if (has_col[k])
            ok = parse_uint(im, r, 5 + k, names[k], 0, pct ? 100 : 100000000, &col[k]) && ok;
        else if (k < 6) {
            bad(im, r->line, names[k], "is required");
            ok = false;
        }
    }
    if (!ok)
        return RL_OK;
    sqlite3_bind_int64(ins, 1, year);
    sqlite3_bind_text(ins, 2, pct ? "30%" : "30B", -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 3, tbl);
    sqlite3_bind_int64(ins, 4, from);
    bind_opt_int(ins, 5, !is_empty(r, 4), to);
    for (int k = 0; k < 7; k++)
        bind_opt_int(ins, 6 + k, has_col[k], has_col[k] ? col[k] : 0);
    int rc = insert(im, ins, r->line, NULL, "tax row");
    if (rc == RL_OK)
        im->tax_seen[tbl] = true; /* tbl is 29-42 here; tax_tables has no unique key */
    return rc;
}

static int employment_row(importer *im, const csv_row *r, void *vctx)
{
    held *h = vctx;
    ident_pnr p;
    int64_t salary = 0, rate = 0, extent = 0, tbl = 0, column = 0, fixed = 0;
    bool ok = parse_id(im, r, 0, "employment_id");
    if (parse_pnr(im, r, 1, "personnummer", &p)) {
        if (!keyset_has(im->people, p.digits, 12)) {
            bad(im, r->line, "personnummer", "no such person in employees.csv");
            ok = false;
        }
    } else {
        ok = false;
    }
    if (parse_id(im, r, 2, "org_unit_id")) {
        if (!keyset_has(im->orgs, r->f[2], r->len[2])) {
            bad(im, r->line, "org_unit_id", "no such unit in org_units.csv");
            ok = false;
        }
    } else {
        ok = false;
    }
    bool start_ok = parse_date(im, r, 3, "start_date");
    ok = start_ok && ok;
    if (!is_empty(r, 4)) {
        if (!parse_date(im, r, 4, "end_date"))
            ok = false;
        else if (start_ok && strcmp(r->f[4], r->f[3]) < 0) {
            bad(im, r->line, "end_date", "is before start_date");
            ok = false;
        }
    }
    bool monthly = strcmp(r->f[5], "monthly") == 0;
    bool hourly = strcmp(r->f[5], "hourly") == 0;
    if (!monthly && !hourly) {
        bad(im, r->line, "pay_type", "must be monthly or hourly");
        ok = false;
    } else if (monthly) {
        ok = parse_uint(im, r, 6, "monthly_salary_ore", 1, FIELD_MAX_ORE, &salary) && ok;
        if (!is_empty(r, 7)) {
            bad(im, r->line, "hourly_rate_ore", "must be empty for monthly pay");
            ok = false;
        }
    } else {
        ok = parse_uint(im, r, 7, "hourly_rate_ore", 1, FIELD_MAX_ORE, &rate) && ok;
        if (!is_empty(r, 6)) {
            bad(im, r->line, "monthly_salary_ore", "must be empty for hourly pay");
            ok = false;
        }
    }
    ok = parse_pct(im, r, 8, "extent_pct", 1, 10000, &extent) && ok;
    bool by_table = !is_empty(r, 9) || !is_empty(r, 10);
    if (by_table) {
        if (!is_empty(r, 11)) {
            bad(im, r->line, "tax_fixed_pct", "give either tax_table and tax_column or "
                                               "tax_fixed_pct, not both");
            ok = false;
        }
        if (parse_uint(im, r, 9, "tax_table", 29, 42, &tbl)) {
            if (!im->tax_seen[tbl]) {
                bad(im, r->line, "tax_table", "table %lld is not in tax_tables.csv",
                    (long long)tbl);
                ok = false;
            }
        } else {
            ok = false;
        }
        ok = parse_uint(im, r, 10, "tax_column", 1, 6, &column) && ok;
    } else if (!is_empty(r, 11)) {
        ok = parse_pct(im, r, 11, "tax_fixed_pct", 0, 10000, &fixed) && ok;
    } else {
        bad(im, r->line, "tax_table", "give tax_table and tax_column, or tax_fixed_pct");
        ok = false;
    }
    if (!ok)
        return RL_OK;
    int added = unique(im, im->employments, r, r->f[0], r->len[0], "employment_id");
    if (added <= 0)
        return added;
    held_begin(h, r->line, r->f[0], r->len[0]);
    held_text(h, p.digits, 12);
    held_text(h, r->f[2], r->len[2]);
    held_text(h, r->f[3], 10);
    if (is_empty(r, 4))
        held_null(h);
    else
        held_text(h, r->f[4], 10);
    held_text(h, monthly ? "monthly" : "hourly", monthly ? 7 : 6);
    held_opt_int(h, monthly, salary);
    held_opt_int(h, hourly, rate);
    held_int(h, extent);
    held_opt_int(h, by_table, tbl);
    held_opt_int(h, by_table, column);
    held_opt_int(h, !by_table, fixed);
    return held_end(im, h);
}

static int pay_row(importer *im, const csv_row *r, void *vctx)
{
    held *h = vctx;
    int64_t gross, tax, ded, net;
    bool ok = parse_id(im, r, 0, "employment_id");
    if (ok && !keyset_has(im->employments, r->f[0], r->len[0])) {
        bad(im, r->line, "employment_id", "no such employment in employments.csv");
        ok = false;
    }
    const char *per = r->f[1];
    if (!ok_or_report(im, r, "period", field_period(per, r->len[1]))) {
        ok = false;
    } else if (im->period[0] == '\0') {
        memcpy(im->period, per, 8);
    } else if (strcmp(im->period, per) != 0) {
        bad(im, r->line, "period", "differs from the first line's period %s", im->period);
        ok = false;
    }
    if (!parse_date(im, r, 2, "pay_date")) {
        ok = false;
    } else if (im->pay_date[0] == '\0') {
        memcpy(im->pay_date, r->f[2], 11);
    } else if (strcmp(im->pay_date, r->f[2]) != 0) {
        bad(im, r->line, "pay_date", "differs from the first line's pay date %s", im->pay_date);
        ok = false;
    }
    bool amounts = parse_ore(im, r, 3, "gross_ore", &gross);
    amounts = parse_ore(im, r, 4, "tax_ore", &tax) && amounts;
    amounts = parse_ore(im, r, 5, "deductions_ore", &ded) && amounts;
    amounts = parse_ore(im, r, 6, "net_ore", &net) && amounts;
    if (amounts && net != gross - tax - ded) {
        bad(im, r->line, "net_ore", "must equal gross_ore - tax_ore - deductions_ore (%lld)",
            (long long)(gross - tax - ded));
        amounts = false;
    }
    if (!ok || !amounts)
        return RL_OK;
    im->net_total += net;
    int added = unique(im, im->paid, r, r->f[0], r->len[0], "employment_id");
    if (added <= 0)
        return added;
    held_begin(h, r->line, r->f[0], r->len[0]);
    held_text(h, per, 7);
    held_text(h, r->f[2], 10);
    held_int(h, gross);
    held_int(h, tax);
    held_int(h, ded);
    held_int(h, net);
    return held_end(im, h);
}

/* --- manifest ---------------------------------------------------------------------------- */

typedef struct {
    char source_system[201];
    char export_time[32];
    char orgnr[11];
} manifest_info;

static int manifest_str(const json_value *root, const char *key, char *out, size_t cap)
{
    size_t len = 0;
    const char *s = json_string(json_get(root, key), &len);
    if (s == NULL || len == 0 || len >= cap || field_text(s, len, cap - 1) != RL_OK)
        return err_set(RL_EDATA,
                       "manifest.json: field %s must be a string of 1-%zu bytes without control "
                       "characters",
                       key, cap - 1);
    memcpy(out, s, len + 1);
    return RL_OK;
}

/* export_time is shown to operators and compared by people: RFC 3339 in UTC,
 * YYYY-MM-DDTHH:MM:SSZ, a date that exists. */
static int manifest_time(const char *t)
{
    size_t n = strlen(t);
    int ok = n == 20 && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == 'Z' &&
             field_date(t, 10) == RL_OK;
    for (size_t k = 11; ok && k < 19; k++)
        if (k != 13 && k != 16 && (t[k] < '0' || t[k] > '9'))
            ok = 0;
    if (ok)
        ok = (t[11] - '0') * 10 + (t[12] - '0') < 24 && (t[14] - '0') * 10 + (t[15] - '0') < 60 &&
             (t[17] - '0') * 10 + (t[18] - '0') < 60;
    return ok ? RL_OK
              : err_set(RL_EDATA, "manifest.json: field export_time must be a UTC time "
                                  "YYYY-MM-DDTHH:MM:SSZ");
}

static int manifest_parse(const char *text, size_t len, snap_file files[F_COUNT],
                          manifest_info *info)
{
    json_value *root = NULL;
    int rc = json_parse(text, len, &root);
    if (rc != RL_OK) {
        err_wrap(rc, "manifest.json: ");
        goto cleanup;
    }
    rc = RL_EDATA;
    const char *fmt = json_string(json_get(root, "format"), NULL);
    int64_t version = 0;
    if (fmt == NULL || strcmp(fmt, "reservlon-snapshot") != 0) {
        err_set(rc, "manifest.json: field format must be \"reservlon-snapshot\"");
        goto cleanup;
    }
    if (json_int64(json_get(root, "version"), &version) != RL_OK || version != 1) {
        err_set(rc, "manifest.json: field version must be 1 (this program reads version 1)");
        goto cleanup;
    }
    char orgnr_text[32];
    if ((rc = manifest_str(root, "source_system", info->source_system,
                           sizeof info->source_system)) != RL_OK ||
        (rc = manifest_str(root, "export_time", info->export_time, sizeof info->export_time)) !=
            RL_OK ||
        (rc = manifest_str(root, "employer_orgnr", orgnr_text, sizeof orgnr_text)) != RL_OK ||
        (rc = manifest_time(info->export_time)) != RL_OK)
        goto cleanup;
    if (ident_orgnr_parse(orgnr_text, info->orgnr) != RL_OK) {
        rc = err_wrap(RL_EDATA, "manifest.json: field employer_orgnr: ");
        goto cleanup;
    }
    rc = RL_EDATA;
    const json_value *fl = json_get(root, "files");
    if (fl == NULL || json_typeof(fl) != JSON_OBJECT) {
        err_set(rc, "manifest.json: field files must be an object");
        goto cleanup;
    }
    if (json_len(fl) != F_COUNT) {
        err_set(rc, "manifest.json: files must list exactly the %d snapshot files", F_COUNT);
        goto cleanup;
    }
    for (int i = 0; i < F_COUNT; i++) {
        const json_value *e = json_get(fl, file_names[i]);
        int64_t rows = -1;
        const char *hexs = json_string(json_get(e, "sha256"), NULL);
        size_t bin_len = 0;
        if (e == NULL || json_int64(json_get(e, "rows"), &rows) != RL_OK || rows < 0 ||
            hexs == NULL || strlen(hexs) != 64 ||
            sodium_hex2bin(files[i].sha256, 32, hexs, 64, NULL, &bin_len, NULL) != 0 ||
            bin_len != 32) {
            err_set(rc, "manifest.json: files.%s needs rows (a count) and sha256 (64 hex digits)",
                    file_names[i]);
            goto cleanup;
        }
        files[i].rows_expected = (uint64_t)rows;
    }
    rc = RL_OK;
cleanup:
    json_free(root);
    return rc;
}

/* --- import -------------------------------------------------------------------------------- */

static uint32_t today_yyyymmdd(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm); /* the workstation's calendar day */
    return (uint32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

static int check_org_parents(importer *im, org_ctx *c)
{
    sqlite3_stmt *q = NULL;
    int rc = prep(im, "SELECT 1 FROM org_units WHERE org_unit_id=?", &q);
    im->file = file_names[F_ORG];
    for (size_t i = 0; rc == RL_OK && i < c->n; i++)
        if (!exists(q, c->refs[i].parent))
            bad(im, c->refs[i].line, "parent_id", "no such unit in org_units.csv");
    sqlite3_finalize(q);
    return rc;
}

/* Bands of one table and kind must not overlap: the lookup must be unambiguous. */
static int check_tax_overlaps(importer *im)
{
    sqlite3_stmt *q = NULL;
    int rc = prep(im,
                  "SELECT tbl, kind, income_from, income_to FROM tax_tables "
                  "ORDER BY tbl, kind, income_from",
                  &q);
    int64_t prev_tbl = -1, prev_to = -1;
    char prev_kind[4] = "";
    while (rc == RL_OK && sqlite3_step(q) == SQLITE_ROW) {
        int64_t tbl = sqlite3_column_int64(q, 0);
        const char *kind = (const char *)sqlite3_column_text(q, 1);
        int64_t from = sqlite3_column_int64(q, 2);
        bool open_end = sqlite3_column_type(q, 3) == SQLITE_NULL;
        if (tbl == prev_tbl && strcmp(kind, prev_kind) == 0 && (prev_to < 0 || from <= prev_to)) {
            im->errors++;
            if (im->report)
                fprintf(im->report,
                        "tax_tables.csv: table %lld kind %s: band from %lld overlaps the previous "
                        "band\n",
                        (long long)tbl, kind, (long long)from);
        }
        prev_tbl = tbl;
        snprintf(prev_kind, sizeof prev_kind, "%s", kind);
        prev_to = open_end ? -1 : sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
    return rc;
}

static int load_files(const char *dir, snap_file files[F_COUNT], manifest_info *info,
                      const minisig_pubkey *pk, char *tc, size_t tc_cap, uint8_t manifest_hash[32])
{
    char path[4096];
    char *mtext = NULL;
    size_t mlen = 0;
    int rc;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if ((rc = file_read_all(path, 1 << 20, &mtext, &mlen)) != RL_OK)
        return err_wrap(rc, "snapshot: ");
    /* The signature first: nothing in an unsigned manifest is believed. Over the bytes
     * read, which are the bytes parsed below (not the file again: it could change). */
    rc = minisig_verify_bytes(pk, (const uint8_t *)mtext, mlen, path, tc, tc_cap);
    if (rc != RL_OK) {
        err_wrap(RL_EINTEGRITY, "snapshot manifest.json: ");
        rc = RL_EINTEGRITY;
        goto cleanup;
    }
    crypto_hash_sha256(manifest_hash, (const uint8_t *)mtext, mlen);
    if ((rc = manifest_parse(mtext, mlen, files, info)) != RL_OK)
        goto cleanup;
    for (int i = 0; i < F_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, file_names[i]);
        if ((rc = file_read_all(path, MAX_FILE, &files[i].data, &files[i].len)) != RL_OK) {
            err_wrap(rc, "snapshot: ");
            goto cleanup;
        }
        uint8_t h[32];
        crypto_hash_sha256(h, (const uint8_t *)files[i].data, files[i].len);
        if (sodium_memcmp(h, files[i].sha256, 32) != 0) {
            rc = err_set(RL_EINTEGRITY,
                         "snapshot %s: SHA-256 does not match the signed manifest (the file was "
                         "altered, replaced or truncated after export)",
                         file_names[i]);
            goto cleanup;
        }
    }
cleanup:
    free(mtext);
    return rc;
}

static void file_drop(snap_file *f)
{
    if (f->data)
        sodium_memzero(f->data, f->len);
    free(f->data);
    f->data = NULL;
}

/* After a file's records were read and checked: the held rows go in and the file's bytes
 * are let go. */
static int flush_file(importer *im, held *h, snap_file *f)
{
    int rc = held_flush(im, h);
    held_free(h);
    file_drop(f);
    return rc;
}

/* Employments go in with their personnummer index dropped, and it is built again after
 * them: one sorted build instead of an entry per row at a random place. The definition is
 * the schema's own (read back from it), so the vault ends up with the same index. Returns
 * the definition to build_index (malloc'd; NULL if none was dropped). */
static int drop_index(importer *im, char **sql)
{
    sqlite3_stmt *q = NULL;
    int src, rc = prep(im,
                       "SELECT sql FROM sqlite_master WHERE type = 'index' AND"
                       " name = 'employments_pnr'",
                       &q);
    *sql = NULL;
    if (rc == RL_OK && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL &&
        (*sql = strdup((const char *)sqlite3_column_text(q, 0))) == NULL)
        rc = err_set(RL_ENOMEM, "out of memory");
    sqlite3_finalize(q); /* before the DROP: a statement still reading the schema blocks it */
    if (*sql != NULL &&
        (src = sqlite3_exec(im->db, "DROP INDEX employments_pnr", NULL, NULL, NULL)) != SQLITE_OK)
        rc = vault_sql_error(im->v, src, "importing");
    return rc;
}

static int build_index(importer *im, const char *sql)
{
    int src = sql ? sqlite3_exec(im->db, sql, NULL, NULL, NULL) : SQLITE_OK;
    return src == SQLITE_OK ? RL_OK : vault_sql_error(im->v, src, "indexing the employments");
}

/* The page cache for the import's transaction, in KiB: the vault's own, or about the size
 * the snapshot will take in the database if that is larger, up to IMPORT_CACHE_MAX_KIB. At
 * 1,000,000 employments (220 MB) the vault's 64 MiB made SQLite write pages to the WAL
 * mid-transaction and read them back (and decrypt them) to build the personnummer index;
 * 256 MiB, with the rest of the import's memory, keeps the peak well under 1 GiB. */
#define IMPORT_CACHE_MAX_KIB (256 * 1024)

/* Expected keys for a set: the signed row count, but no more than the file could hold. */
static size_t expect_rows(const snap_file *f)
{
    size_t most = f->len / 8 + 16; /* a record takes more than 8 bytes */
    return f->rows_expected < most ? (size_t)f->rows_expected : most;
}

int snapshot_import(vault *v, const char *dir, const minisig_pubkey *pk, int replace,
                    FILE *report, FILE *progress, snapshot_counts *counts)
{
    snap_file files[F_COUNT];
    manifest_info info;
    char tc[1100] = "";
    uint8_t mhash[32];
    org_ctx org = {0};
    held emp_h = {0}, empl_h = {0}, pay_h = {0};
    char *index_sql = NULL;
    sqlite3_stmt *emp_ins = NULL, *tax_ins = NULL, *snap_ins = NULL, *empl_ins = NULL,
                 *pay_ins = NULL;
    importer im = {.v = v, .db = vault_db(v), .report = report, .progress = progress,
                   .max_report = 100, .today = today_yyyymmdd(), .last_pct = -1};
    snapshot_counts cnt = {0};
    int rc;
    int in_tx = 0;
    int64_t cache_before = 0;
    memset(files, 0, sizeof files);
    memset(&info, 0, sizeof info);
    if ((rc = vault_require_role(v, VAULT_ROLE_ADMIN, "importing a snapshot")) != RL_OK)
        return rc;
    if ((rc = load_files(dir, files, &info, pk, tc, sizeof tc, mhash)) != RL_OK)
        goto cleanup;
    for (int i = 0; i < F_COUNT; i++)
        im.total_bytes += files[i].len;
    if ((rc = keyset_create(expect_rows(&files[F_ORG]), &im.orgs)) != RL_OK ||
        (rc = keyset_create(expect_rows(&files[F_EMPLOYEES]), &im.people)) != RL_OK ||
        (rc = keyset_create(expect_rows(&files[F_EMPLOYMENTS]), &im.employments)) != RL_OK ||
        (rc = keyset_create(expect_rows(&files[F_LAST_PAYRUN]), &im.paid)) != RL_OK)
        goto cleanup;

    /* The database takes about 1.4 times the CSV bytes (generated snapshots: 220 MB for
     * 165 MB at 1,000,000 employments). */
    cache_before = vault_cache_kib(im.v);
    if (cache_before > 0 && im.total_bytes / 1024 * 3 / 2 > (size_t)cache_before)
        vault_cache_set(im.v, im.total_bytes / 1024 * 3 / 2 < IMPORT_CACHE_MAX_KIB
                             ? (int64_t)(im.total_bytes / 1024 * 3 / 2)
                             : IMPORT_CACHE_MAX_KIB);
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = 1;
    sqlite3_stmt *q = NULL;
    if ((rc = prep(&im, "SELECT source_system, export_time FROM snapshot", &q)) != RL_OK)
        goto cleanup;
    if (sqlite3_step(q) == SQLITE_ROW && !replace) {
        rc = err_set(RL_EDATA,
                     "the vault already holds a snapshot (%s, exported %s); add --replace to "
                     "replace it",
                     sqlite3_column_text(q, 0), sqlite3_column_text(q, 1));
        sqlite3_finalize(q);
        goto cleanup;
    }
    sqlite3_finalize(q);
    if ((rc = sqlite3_exec(im.db,
                           "DELETE FROM last_payrun; DELETE FROM employments; DELETE FROM employees;"
                           "DELETE FROM tax_tables; DELETE FROM org_units; DELETE FROM snapshot;",
                           NULL, NULL, NULL)) != SQLITE_OK) {
        rc = vault_sql_error(v, rc, "clearing the previous snapshot");
        goto cleanup;
    }
    if ((rc = prep(&im, "INSERT INTO org_units VALUES(?,?,?)", &org.ins)) ||
        (rc = prep(&im, "INSERT INTO employees VALUES(?,?,?,?,?,?,?,?)", &emp_ins)) ||
        (rc = prep(&im, "INSERT INTO tax_tables VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", &tax_ins)) ||
        (rc = prep(&im, "INSERT INTO employments VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", &empl_ins)) ||
        (rc = prep(&im, "INSERT INTO last_payrun VALUES(?,?,?,?,?,?,?)", &pay_ins)) ||
        (rc = held_init(&emp_h, &files[F_EMPLOYEES], expect_rows(&files[F_EMPLOYEES]), emp_ins,
                        8, "personnummer")) ||
        (rc = held_init(&empl_h, &files[F_EMPLOYMENTS], expect_rows(&files[F_EMPLOYMENTS]),
                        empl_ins, 12, "employment_id")) ||
        (rc = held_init(&pay_h, &files[F_LAST_PAYRUN], expect_rows(&files[F_LAST_PAYRUN]),
                        pay_ins, 7, "employment_id")))
        goto cleanup;

    if ((rc = each_row(&im, F_ORG, &files[F_ORG], org_cols, 3, org_row, &org, &cnt.org_units)) ||
        (rc = check_org_parents(&im, &org)) ||
        (rc = each_row(&im, F_EMPLOYEES, &files[F_EMPLOYEES], emp_cols, 7, employee_row, &emp_h,
                       &cnt.employees)) ||
        (rc = flush_file(&im, &emp_h, &files[F_EMPLOYEES])) ||
        (rc = each_row(&im, F_TAX, &files[F_TAX], tax_cols, 12, tax_row, tax_ins,
                       &cnt.tax_rows)) ||
        (rc = check_tax_overlaps(&im)) || (rc = drop_index(&im, &index_sql)) ||
        (rc = each_row(&im, F_EMPLOYMENTS, &files[F_EMPLOYMENTS], empl_cols, 12, employment_row,
                       &empl_h, &cnt.employments)) ||
        (rc = flush_file(&im, &empl_h, &files[F_EMPLOYMENTS])) ||
        (rc = build_index(&im, index_sql)) ||
        (rc = each_row(&im, F_LAST_PAYRUN, &files[F_LAST_PAYRUN], pay_cols, 7, pay_row, &pay_h,
                       &cnt.last_payrun)) ||
        (rc = flush_file(&im, &pay_h, &files[F_LAST_PAYRUN])))
        goto cleanup;
    if (progress && isatty(fileno(progress)) && im.last_pct >= 0)
        fprintf(progress, "\n");
    if (im.errors > 0) {
        if (report && im.errors > im.max_report)
            fprintf(report, "... and %zu more bad records\n", im.errors - im.max_report);
        rc = err_set(RL_EDATA, "snapshot rejected: %zu bad record%s; nothing was imported",
                     im.errors, im.errors == 1 ? "" : "s");
        goto cleanup;
    }
    char at[21], mhex[65], detail[512];
    vault_now(at);
    sodium_bin2hex(mhex, sizeof mhex, mhash, 32);
    if ((rc = prep(&im,
                   "INSERT INTO snapshot(id, source_system, export_time, employer_orgnr,"
                   " manifest_sha256, trusted_comment, imported_at, imported_by, last_period,"
                   " last_pay_date) VALUES(1,?,?,?,?,?,?,?,?,?)",
                   &snap_ins)) != RL_OK)
        goto cleanup;
    sqlite3_bind_text(snap_ins, 1, info.source_system, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 2, info.export_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 3, info.orgnr, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 4, mhex, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 5, tc, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 6, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(snap_ins, 7, vault_operator(v), -1, SQLITE_STATIC);
    if (im.period[0]) {
        sqlite3_bind_text(snap_ins, 8, im.period, -1, SQLITE_STATIC);
        sqlite3_bind_text(snap_ins, 9, im.pay_date, -1, SQLITE_STATIC);
    }
    if ((rc = insert(&im, snap_ins, 0, NULL, "snapshot")) != RL_OK)
        goto cleanup;
    snprintf(detail, sizeof detail,
             "snapshot imported: source %s, exported %s, manifest sha256 %s, %llu employees, "
             "%llu employments, %llu last pay run lines",
             info.source_system, info.export_time, mhex, (unsigned long long)cnt.employees,
             (unsigned long long)cnt.employments, (unsigned long long)cnt.last_payrun);
    if ((rc = vault_audit(v, "snapshot.import", detail)) != RL_OK ||
        (rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = 0;
    cnt.last_net_total_ore = im.net_total;
    if (counts)
        *counts = cnt;
cleanup:
    if (in_tx)
        vault_rollback(v);
    if (cache_before > 0 && vault_cache_kib(im.v) != cache_before)
        vault_cache_set(im.v, cache_before); /* gives the pages back */
    sqlite3_finalize(org.ins);
    free(org.refs);
    sqlite3_finalize(emp_ins);
    sqlite3_finalize(tax_ins);
    sqlite3_finalize(snap_ins);
    sqlite3_finalize(empl_ins);
    sqlite3_finalize(pay_ins);
    held_free(&emp_h);
    held_free(&empl_h);
    held_free(&pay_h);
    free(index_sql);
    keyset_free(im.orgs);
    keyset_free(im.people);
    keyset_free(im.employments);
    keyset_free(im.paid);
    for (int i = 0; i < F_COUNT; i++)
        file_drop(&files[i]);
    return rc;
}

/* --- status ---------------------------------------------------------------------------------- */

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int snapshot_status(vault *v, int json, FILE *out)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT source_system, export_time, imported_at, imported_by,"
                                 " last_period, last_pay_date, trusted_comment FROM snapshot",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading the status");
    src = sqlite3_step(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        int rc = vault_sql_error(v, src, "reading the status");
        sqlite3_finalize(st);
        return rc;
    }
    bool have = src == SQLITE_ROW;
    const char *col[7];
    for (int i = 0; i < 7; i++) {
        col[i] = have ? (const char *)sqlite3_column_text(st, i) : NULL;
        if (col[i] == NULL)
            col[i] = "";
    }
    int64_t n_emp = scalar(db, "SELECT count(*) FROM employees");
    int64_t n_empl = scalar(db, "SELECT count(*) FROM employments");
    int64_t n_pay = scalar(db, "SELECT count(*) FROM last_payrun");
    int64_t net = scalar(db, "SELECT coalesce(sum(net_ore), 0) FROM last_payrun");
    int64_t n_org = scalar(db, "SELECT count(*) FROM org_units");
    int64_t n_prot = scalar(db, "SELECT count(*) FROM employees WHERE protected > 0");
    int64_t n_ops = scalar(db, "SELECT count(*) FROM operators WHERE active = 1");
    int64_t n_audit = scalar(db, "SELECT count(*) FROM audit");
    int64_t n_reg[4];
    static const char *const st_names[4] = {"registered", "approved", "rejected", "exported"};
    for (int i = 0; i < 4; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT count(*) FROM registrations WHERE status = '%s'",
                 st_names[i]);
        n_reg[i] = scalar(db, q);
    }
    if (n_emp < 0 || n_empl < 0 || n_pay < 0 || net < 0 || n_audit < 0) {
        sqlite3_finalize(st);
        return vault_sql_error(v, sqlite3_errcode(db), "reading the status");
    }
    if (json) {
        fprintf(out, "{\"snapshot\":");
        if (have) {
            fprintf(out, "{\"source_system\":");
            json_write_string(out, col[0]);
            fprintf(out, ",\"export_time\":");
            json_write_string(out, col[1]);
            fprintf(out, ",\"imported_at\":");
            json_write_string(out, col[2]);
            fprintf(out, ",\"imported_by\":");
            json_write_string(out, col[3]);
            fprintf(out, ",\"signature_comment\":");
            json_write_string(out, col[6]);
            fprintf(out, "}");
        } else {
            fprintf(out, "null");
        }
        fprintf(out,
                ",\"counts\":{\"employees\":%lld,\"employments\":%lld,\"last_payrun_lines\":%lld,"
                "\"org_units\":%lld,\"protected_identities\":%lld},"
                "\"last_payrun\":{\"period\":",
                (long long)n_emp, (long long)n_empl, (long long)n_pay, (long long)n_org,
                (long long)n_prot);
        if (have && col[4][0]) {
            json_write_string(out, col[4]);
            fprintf(out, ",\"pay_date\":");
            json_write_string(out, col[5]);
        } else {
            fprintf(out, "null,\"pay_date\":null");
        }
        fprintf(out, ",\"net_total_ore\":%lld},\"registrations\":{", (long long)net);
        for (int i = 0; i < 4; i++)
            fprintf(out, "%s\"%s\":%lld", i ? "," : "", st_names[i], (long long)n_reg[i]);
        fprintf(out, "},\"operators\":%lld,\"audit_entries\":%lld,\"commits\":%llu}\n",
                (long long)n_ops, (long long)n_audit, (unsigned long long)vault_commits(v));
    } else {
        if (have)
            fprintf(out, "snapshot:         %s, exported %s (imported %s by %s)\n", col[0], col[1],
                    col[2], col[3]);
        else
            fprintf(out, "snapshot:         none imported yet\n");
        fprintf(out, "employees:        %lld (%lld with protected identity)\n", (long long)n_emp,
                (long long)n_prot);
        fprintf(out, "employments:      %lld in %lld org units\n", (long long)n_empl,
                (long long)n_org);
        if (have && col[4][0])
            fprintf(out, "last pay run:     %s paid %s, %lld lines, net %lld.%02lld SEK\n", col[4],
                    col[5], (long long)n_pay, (long long)(net / 100), (long long)(net % 100));
        fprintf(out, "registrations:    %lld registered, %lld approved, %lld rejected, %lld "
                     "exported\n",
                (long long)n_reg[0], (long long)n_reg[1], (long long)n_reg[2],
                (long long)n_reg[3]);
        fprintf(out, "operators:        %lld active\naudit entries:    %lld\n", (long long)n_ops,
                (long long)n_audit);
        fprintf(out, "commits:          %llu (note it: a later lower number means the vault "
                     "was rolled back)\n",
                (unsigned long long)vault_commits(v));
    }
    sqlite3_finalize(st);
    return ferror(out) ? err_set(RL_EIO, "writing the status failed") : RL_OK;
}
