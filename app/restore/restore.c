/* restore: the reference importer for the main system's side of the restore journal (see
 * restore.h and docs/restore.md). Nothing here reads a vault or calls app/registry. */
#include "restore/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/mem.h"
#include "ident/ident.h"
#include "journal/journal.h"
#include "snapshot/csv.h"

#define LEDGER_FORMAT "reservlon-restore-ledger"
#define SNAP_MAX ((size_t)2 << 30)
#define PATH_CAP 4096

enum { F_ORG, F_EMPLOYEES, F_EMPLOYMENTS, F_LAST_PAYRUN, F_TAX, F_COUNT };
static const char *const snap_files[F_COUNT] = {"org_units.csv", "employees.csv",
                                                "employments.csv", "last_payrun.csv",
                                                "tax_tables.csv"};

static int path_join(char out[PATH_CAP], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_CAP)
        return err_set(RL_EUSAGE, "%s: path too long", dir);
    return RL_OK;
}

static bool is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void sha256_hex(const char *data, size_t len, char hex[65])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)data, len);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

/* --- a string arena: employment and unit ids of any number of employments ----------------- */

typedef struct {
    char *p;
    size_t n, cap;
} arena;

static int arena_add(arena *a, const char *s, size_t *off)
{
    size_t len = strlen(s) + 1;
    if (a->n + len > a->cap) {
        size_t cap = a->cap ? a->cap : 1 << 16;
        while (cap < a->n + len)
            cap *= 2;
        char *p = realloc(a->p, cap);
        if (p == NULL)
            return err_set(RL_ENOMEM, "out of memory");
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->n, s, len);
    *off = a->n;
    a->n += len;
    return RL_OK;
}

/* --- the ledger --------------------------------------------------------------------------- */

typedef struct {
    char snapshot_sha[65];
    char source[256], export_time[32];
    char vault_id[65]; /* "" until the first journal */
    uint64_t lines;
    char last[65]; /* "" while lines is 0 */
} ledger;

static int ledger_text(const ledger *l, char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (f == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    fprintf(f, "{\"format\":\"%s\",\"version\":1,\"snapshot_manifest_sha256\":\"%s\","
               "\"snapshot_source\":", LEDGER_FORMAT, l->snapshot_sha);
    json_write_string(f, l->source);
    fputs(",\"snapshot_export_time\":", f);
    json_write_string(f, l->export_time);
    fputs(",\"vault_id\":", f);
    if (l->vault_id[0])
        fprintf(f, "\"%s\"", l->vault_id);
    else
        fputs("null", f);
    fprintf(f, ",\"lines\":%llu,\"last\":", (unsigned long long)l->lines);
    if (l->last[0])
        fprintf(f, "\"%s\"", l->last);
    else
        fputs("null", f);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(*buf);
        *buf = NULL;
        return err_set(RL_ENOMEM, "out of memory");
    }
    return RL_OK;
}

static int ledger_write(const char *main_dir, const ledger *l)
{
    char path[PATH_CAP], *buf = NULL;
    size_t len = 0;
    int rc;
    if ((rc = path_join(path, main_dir, "ledger.json")) != RL_OK ||
        (rc = ledger_text(l, &buf, &len)) != RL_OK)
        return rc;
    rc = file_write_atomic(path, buf, len, 0600);
    free(buf);
    return rc;
}

static int ledger_read(const char *main_dir, ledger *l)
{
    char path[PATH_CAP], *buf = NULL;
    size_t len = 0;
    json_value *j = NULL;
    int rc;
    memset(l, 0, sizeof *l);
    if ((rc = path_join(path, main_dir, "ledger.json")) != RL_OK)
        return rc;
    if (file_read_all(path, 64 * 1024, &buf, &len) != RL_OK)
        return err_set(RL_EDATA, "%s is not a restore main directory (no readable ledger.json: "
                                 "create one with 'reservlon-restore init')", main_dir);
    int64_t lines = -1, version = 0;
    const char *s;
    if (json_parse(buf, len, &j) != RL_OK ||
        (s = json_string(json_get(j, "format"), NULL)) == NULL || strcmp(s, LEDGER_FORMAT) != 0 ||
        json_int64(json_get(j, "version"), &version) != RL_OK || version != 1 ||
        !is_hex64(json_string(json_get(j, "snapshot_manifest_sha256"), NULL)) ||
        json_int64(json_get(j, "lines"), &lines) != RL_OK || lines < 0) {
        rc = err_set(RL_EINTEGRITY, "%s: not a version 1 restore ledger, or damaged", path);
        goto cleanup;
    }
    l->lines = (uint64_t)lines;
    snprintf(l->snapshot_sha, sizeof l->snapshot_sha, "%s",
             json_string(json_get(j, "snapshot_manifest_sha256"), NULL));
    s = json_string(json_get(j, "snapshot_source"), NULL);
    snprintf(l->source, sizeof l->source, "%s", s ? s : "");
    s = json_string(json_get(j, "snapshot_export_time"), NULL);
    snprintf(l->export_time, sizeof l->export_time, "%s", s ? s : "");
    s = json_string(json_get(j, "vault_id"), NULL);
    snprintf(l->vault_id, sizeof l->vault_id, "%s", s ? s : "");
    s = json_string(json_get(j, "last"), NULL);
    if (lines > 0 && !is_hex64(s)) {
        rc = err_set(RL_EINTEGRITY, "%s: lines is %lld but last is not a line hash", path,
                     (long long)lines);
        goto cleanup;
    }
    snprintf(l->last, sizeof l->last, "%s", lines > 0 ? s : "");
    rc = RL_OK;
cleanup:
    json_free(j);
    free(buf);
    return rc;
}

/* One process at a time changes a main directory; state reads share it. */
static int lock_main(const char *main_dir, int how, int *fd)
{
    char path[PATH_CAP];
    int rc;
    *fd = -1;
    if ((rc = path_join(path, main_dir, "lock")) != RL_OK)
        return rc;
    int f = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0)
        return err_set(RL_EDATA, "%s is not a restore main directory (%s: %s; create one with "
                                 "'reservlon-restore init')", main_dir, path, strerror(errno));
    if (flock(f, how | LOCK_NB) != 0) {
        close(f);
        return err_set(RL_EBUSY, "%s is in use by another reservlon-restore; try again when it "
                                 "has finished", main_dir);
    }
    *fd = f;
    return RL_OK;
}

static void unlock_main(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* --- the snapshot ------------------------------------------------------------------------- */

typedef struct {
    char pnr[13];
    int prot;
    bool in_snapshot;
    char clr[5], acc[16], iban[35];
} person;

typedef struct {
    size_t id, org; /* offsets in the arena */
    char pnr[13], start[11], end[11], pay_type[8], extent[24], tax_fixed[24];
    int tax_table, tax_column;
    int64_t salary;
    const char *source; /* "snapshot" or the hire's UUID (in the model's JSON) */
} employment;

typedef struct {
    char sha[65];             /* of manifest.json */
    char source[256], export_time[32];
    char *data[F_COUNT];      /* the files, when loaded */
    size_t len[F_COUNT];
    char *manifest;
    size_t manifest_len;
    person *persons;          /* by personnummer */
    size_t npersons;
    employment *emps;
    size_t nemps, emps_cap;
    arena strings;
} snapshot;

static void snapshot_free(snapshot *s)
{
    for (int i = 0; i < F_COUNT; i++)
        free(s->data[i]);
    free(s->manifest);
    free(s->persons);
    free(s->emps);
    free(s->strings.p);
    memset(s, 0, sizeof *s);
}

static int bad_row(const char *file, size_t line, const char *field, const char *why)
{
    return err_set(RL_EDATA, "snapshot %s line %zu field %s: %s", file, line, field,
                   field_message(field, why));
}

/* The 12-digit form of a personnummer written YYYYMMDDNNNC or YYYYMMDD-NNNC. */
static bool pnr12(const char *s, size_t n, char out[13])
{
    if (n == 13 && s[8] == '-') {
        memcpy(out, s, 8);
        memcpy(out + 8, s + 9, 4);
    } else if (n == 12) {
        memcpy(out, s, 12);
    } else {
        return false;
    }
    out[12] = '\0';
    for (int i = 0; i < 12; i++)
        if (out[i] < '0' || out[i] > '9')
            return false;
    return true;
}

/* A bank account normalised as the appliance stores it: clearing + account (Bankgirot's
 * rules) or a compact IBAN. Empty when none is given. */
static int account_norm(const char *clr_in, const char *acc_in, const char *iban_in,
                        char clr[5], char acc[16], char iban[35])
{
    clr[0] = acc[0] = iban[0] = '\0';
    if (clr_in[0] || acc_in[0]) {
        ident_account a;
        if (ident_account_parse(clr_in, acc_in, &a) != RL_OK)
            return RL_EDATA;
        memcpy(clr, a.clearing, 5);
        snprintf(acc, 16, "%s", a.account);
    } else if (iban_in[0]) {
        if (ident_iban_parse(iban_in, iban) != RL_OK)
            return RL_EDATA;
    }
    return RL_OK;
}

static int cmp_person(const void *a, const void *b)
{
    return strcmp(((const person *)a)->pnr, ((const person *)b)->pnr);
}

static int load_employees(snapshot *s, uint64_t rows_expected)
{
    static const char *const cols[] = {"personnummer", "given_name", "family_name",
                                       "protected_identity", "clearing", "account", "iban"};
    const char *file = snap_files[F_EMPLOYEES];
    csv_reader *r = NULL;
    csv_row row;
    size_t cap = 0;
    int rc = csv_open(s->data[F_EMPLOYEES], s->len[F_EMPLOYEES], file, &r);
    if (rc == RL_OK)
        rc = csv_expect_header(r, cols, 7);
    while (rc == RL_OK) {
        int got = csv_next(r, &row);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (row.n != 7) {
            rc = err_set(RL_EDATA, "snapshot %s line %zu: %zu fields, expected 7", file,
                         row.line, row.n);
            break;
        }
        if (s->npersons == cap) {
            cap = cap ? cap * 2 : 1024;
            person *p = realloc(s->persons, cap * sizeof *p);
            if (p == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                break;
            }
            s->persons = p;
        }
        person *p = &s->persons[s->npersons];
        memset(p, 0, sizeof *p);
        int64_t prot = 0;
        if (!pnr12(row.f[0], row.len[0], p->pnr))
            rc = bad_row(file, row.line, "personnummer", "must have 12 digits");
        else if (field_int(row.f[3], row.len[3], 0, 3, &prot) != RL_OK)
            rc = bad_row(file, row.line, "protected_identity", err_msg());
        else if (account_norm(row.f[4], row.f[5], row.f[6], p->clr, p->acc, p->iban) != RL_OK)
            rc = bad_row(file, row.line, row.f[6][0] ? "iban" : "account", err_msg());
        p->prot = (int)prot;
        p->in_snapshot = true;
        s->npersons++;
    }
    csv_close(r);
    if (rc == RL_OK && s->npersons != rows_expected)
        rc = err_set(RL_EINTEGRITY, "snapshot %s: %zu records, the manifest says %llu", file,
                     s->npersons, (unsigned long long)rows_expected);
    if (rc == RL_OK && s->npersons > 0)
        qsort(s->persons, s->npersons, sizeof *s->persons, cmp_person);
    for (size_t i = 1; rc == RL_OK && i < s->npersons; i++)
        if (strcmp(s->persons[i - 1].pnr, s->persons[i].pnr) == 0)
            rc = err_set(RL_EDATA, "snapshot %s: a personnummer appears twice", file);
    return rc;
}

static int emp_push(snapshot *s, employment **out)
{
    employment *e = mem_grow(s->emps, &s->emps_cap, s->nemps + 1, sizeof *e, 1024);
    if (e == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    s->emps = e;
    *out = &s->emps[s->nemps++];
    memset(*out, 0, sizeof **out);
    return RL_OK;
}

/* A percentage in its canonical form ("62.50" -> "62.5"); false if not one in [lo, hi]. */
static bool pct_norm(const char *s, size_t n, int64_t lo, int64_t hi, char out[24])
{
    int64_t x = 0;
    if (field_pct(s, n, lo, hi, &x) != RL_OK)
        return false;
    field_pct_format(x, out);
    return true;
}

static int load_employments(snapshot *s, uint64_t rows_expected)
{
    static const char *const cols[] = {
        "employment_id", "personnummer", "org_unit_id",        "start_date",
        "end_date",      "pay_type",     "monthly_salary_ore", "hourly_rate_ore",
        "extent_pct",    "tax_table",    "tax_column",         "tax_fixed_pct"};
    const char *file = snap_files[F_EMPLOYMENTS];
    csv_reader *r = NULL;
    csv_row row;
    size_t n = 0;
    int rc = csv_open(s->data[F_EMPLOYMENTS], s->len[F_EMPLOYMENTS], file, &r);
    if (rc == RL_OK)
        rc = csv_expect_header(r, cols, 12);
    while (rc == RL_OK) {
        int got = csv_next(r, &row);
        if (got <= 0) {
            rc = got;
            break;
        }
        n++;
        if (row.n != 12) {
            rc = err_set(RL_EDATA, "snapshot %s line %zu: %zu fields, expected 12", file,
                         row.line, row.n);
            break;
        }
        employment *e;
        if ((rc = emp_push(s, &e)) != RL_OK)
            break;
        e->source = "snapshot";
        bool monthly = strcmp(row.f[5], "monthly") == 0;
        int64_t x = 0;
        if (field_id(row.f[0], row.len[0]) != RL_OK)
            rc = bad_row(file, row.line, "employment_id", err_msg());
        else if (!pnr12(row.f[1], row.len[1], e->pnr))
            rc = bad_row(file, row.line, "personnummer", "must have 12 digits");
        else if (field_id(row.f[2], row.len[2]) != RL_OK)
            rc = bad_row(file, row.line, "org_unit_id", err_msg());
        else if (field_date(row.f[3], row.len[3]) != RL_OK)
            rc = bad_row(file, row.line, "start_date", err_msg());
        else if (row.len[4] && field_date(row.f[4], row.len[4]) != RL_OK)
            rc = bad_row(file, row.line, "end_date", err_msg());
        else if (!monthly && strcmp(row.f[5], "hourly") != 0)
            rc = bad_row(file, row.line, "pay_type", "must be monthly or hourly");
        else if (field_int(row.f[monthly ? 6 : 7], row.len[monthly ? 6 : 7], 1, FIELD_MAX_ORE,
                           &x) != RL_OK)
            rc = bad_row(file, row.line, monthly ? "monthly_salary_ore" : "hourly_rate_ore",
                         err_msg());
        else if (!pct_norm(row.f[8], row.len[8], 1, 10000, e->extent))
            rc = bad_row(file, row.line, "extent_pct", err_msg());
        if (rc != RL_OK)
            break;
        e->salary = x;
        int64_t t = 0, c = 0;
        if (row.len[9] || row.len[10]) {
            if (field_int(row.f[9], row.len[9], 29, 42, &t) != RL_OK)
                rc = bad_row(file, row.line, "tax_table", err_msg());
            else if (field_int(row.f[10], row.len[10], 1, 6, &c) != RL_OK)
                rc = bad_row(file, row.line, "tax_column", err_msg());
            e->tax_table = (int)t;
            e->tax_column = (int)c;
        } else if (!pct_norm(row.f[11], row.len[11], 0, 10000, e->tax_fixed)) {
            rc = bad_row(file, row.line, "tax_fixed_pct", err_msg());
        }
        if (rc == RL_OK && (rc = arena_add(&s->strings, row.f[0], &e->id)) == RL_OK &&
            (rc = arena_add(&s->strings, row.f[2], &e->org)) == RL_OK) {
            memcpy(e->start, row.f[3], 11);
            snprintf(e->end, sizeof e->end, "%s", row.f[4]);
            snprintf(e->pay_type, sizeof e->pay_type, "%s", row.f[5]);
        }
    }
    csv_close(r);
    if (rc == RL_OK && n != rows_expected)
        rc = err_set(RL_EINTEGRITY, "snapshot %s: %zu records, the manifest says %llu", file, n,
                     (unsigned long long)rows_expected);
    return rc;
}

/* Reads a snapshot directory: the manifest, every file checked against its SHA-256, and the
 * employees and employments parsed. */
static int snapshot_load(const char *dir, snapshot *s)
{
    char path[PATH_CAP];
    json_value *m = NULL;
    uint64_t rows[F_COUNT] = {0};
    int rc;
    memset(s, 0, sizeof *s);
    if ((rc = path_join(path, dir, "manifest.json")) != RL_OK)
        return rc;
    if ((rc = file_read_all(path, 1 << 20, &s->manifest, &s->manifest_len)) != RL_OK)
        return err_wrap(rc, "snapshot: ");
    sha256_hex(s->manifest, s->manifest_len, s->sha);
    const char *fmt, *src, *at;
    int64_t version = 0;
    const json_value *files;
    if (json_parse(s->manifest, s->manifest_len, &m) != RL_OK ||
        (fmt = json_string(json_get(m, "format"), NULL)) == NULL ||
        strcmp(fmt, "reservlon-snapshot") != 0 ||
        json_int64(json_get(m, "version"), &version) != RL_OK || version != 1 ||
        (src = json_string(json_get(m, "source_system"), NULL)) == NULL ||
        (at = json_string(json_get(m, "export_time"), NULL)) == NULL ||
        json_typeof(files = json_get(m, "files")) != JSON_OBJECT) {
        rc = err_set(RL_EDATA, "%s: not a version 1 snapshot manifest (docs/snapshot-format.md)",
                     path);
        goto cleanup;
    }
    snprintf(s->source, sizeof s->source, "%s", src);
    snprintf(s->export_time, sizeof s->export_time, "%s", at);
    for (int i = 0; i < F_COUNT; i++) {
        const json_value *f = json_get(files, snap_files[i]);
        const char *want = json_string(json_get(f, "sha256"), NULL);
        int64_t n = -1;
        if (!is_hex64(want) || json_int64(json_get(f, "rows"), &n) != RL_OK || n < 0) {
            rc = err_set(RL_EDATA, "%s: files.%s needs rows and sha256", path, snap_files[i]);
            goto cleanup;
        }
        rows[i] = (uint64_t)n;
        char fp[PATH_CAP], have[65];
        if ((rc = path_join(fp, dir, snap_files[i])) != RL_OK ||
            (rc = file_read_all(fp, SNAP_MAX, &s->data[i], &s->len[i])) != RL_OK)
            goto cleanup;
        sha256_hex(s->data[i], s->len[i], have);
        if (strcmp(have, want) != 0) {
            rc = err_set(RL_EINTEGRITY, "%s: its SHA-256 is not the manifest's (the file was "
                         "changed or damaged after the export)", fp);
            goto cleanup;
        }
    }
    if ((rc = load_employees(s, rows[F_EMPLOYEES])) != RL_OK ||
        (rc = load_employments(s, rows[F_EMPLOYMENTS])) != RL_OK)
        goto cleanup;
cleanup:
    json_free(m);
    if (rc != RL_OK)
        snapshot_free(s);
    return rc;
}

/* --- init --------------------------------------------------------------------------------- */

static int dir_is_empty(const char *dir, bool *exists, bool *empty)
{
    DIR *d = opendir(dir);
    *exists = *empty = false;
    if (d == NULL) {
        if (errno == ENOENT)
            return RL_OK;
        return err_set(errno == ENOTDIR ? RL_EDATA : RL_EIO, "%s: %s", dir, strerror(errno));
    }
    *exists = true;
    *empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            *empty = false;
    closedir(d);
    return RL_OK;
}

/* Removes what init writes into a directory it created (no other names are touched). */
static void init_remove(const char *dir)
{
    char p[PATH_CAP], sub[PATH_CAP];
    if (path_join(sub, dir, "snapshot") != RL_OK)
        return;
    for (int i = 0; i < F_COUNT; i++)
        if (path_join(p, sub, snap_files[i]) == RL_OK)
            (void)unlink(p);
    static const char *const more[] = {"manifest.json", "manifest.json.minisig"};
    for (int i = 0; i < 2; i++)
        if (path_join(p, sub, more[i]) == RL_OK)
            (void)unlink(p);
    (void)rmdir(sub);
    static const char *const top[] = {"ledger.json", "lock"};
    for (int i = 0; i < 2; i++)
        if (path_join(p, dir, top[i]) == RL_OK)
            (void)unlink(p);
    (void)rmdir(dir);
}

int restore_init(const char *main_arg, const char *snapshot_dir)
{
    snapshot s;
    char main_dir[PATH_CAP], tmp[PATH_CAP], sub[PATH_CAP], p[PATH_CAP];
    bool exists, empty, made = false;
    char *sig = NULL;
    size_t sig_len = 0;
    int rc;
    /* "main/" and "main" are one directory; the temporary one is built beside it. */
    int w = snprintf(main_dir, sizeof main_dir, "%s", main_arg);
    if (w <= 0 || (size_t)w >= sizeof main_dir)
        return err_set(RL_EUSAGE, "the main directory's path is empty or too long");
    while (w > 1 && main_dir[w - 1] == '/')
        main_dir[--w] = '\0';
    if ((rc = dir_is_empty(main_dir, &exists, &empty)) != RL_OK)
        return rc;
    if (exists && !empty)
        return err_set(RL_EDATA, "%s is not empty: 'init' starts a new main directory; give a "
                                 "new or empty one", main_dir);
    if ((rc = snapshot_load(snapshot_dir, &s)) != RL_OK)
        return rc;
    int n = snprintf(tmp, sizeof tmp, "%s.init.%ld", main_dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        rc = err_set(RL_EUSAGE, "%s: path too long", main_dir);
        goto cleanup;
    }
    if ((rc = path_join(sub, tmp, "snapshot")) != RL_OK)
        goto cleanup;
    if (mkdir(tmp, 0700) != 0) {
        rc = err_set(RL_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    made = true;
    if (mkdir(sub, 0700) != 0) {
        rc = err_set(RL_EIO, "%s: %s", sub, strerror(errno));
        goto cleanup;
    }
    for (int i = 0; i < F_COUNT; i++)
        if ((rc = path_join(p, sub, snap_files[i])) != RL_OK ||
            (rc = file_write_atomic(p, s.data[i], s.len[i], 0600)) != RL_OK)
            goto cleanup;
    if ((rc = path_join(p, sub, "manifest.json")) != RL_OK ||
        (rc = file_write_atomic(p, s.manifest, s.manifest_len, 0600)) != RL_OK)
        goto cleanup;
    /* The signature is kept when there is one, for whoever checks the copy later. */
    if ((rc = path_join(p, snapshot_dir, "manifest.json.minisig")) != RL_OK)
        goto cleanup;
    if (file_read_all(p, 64 * 1024, &sig, &sig_len) == RL_OK) {
        if ((rc = path_join(p, sub, "manifest.json.minisig")) != RL_OK ||
            (rc = file_write_atomic(p, sig, sig_len, 0600)) != RL_OK)
            goto cleanup;
    }
    err_clear();
    ledger l;
    memset(&l, 0, sizeof l);
    memcpy(l.snapshot_sha, s.sha, sizeof l.snapshot_sha);
    snprintf(l.source, sizeof l.source, "%s", s.source);
    snprintf(l.export_time, sizeof l.export_time, "%s", s.export_time);
    if ((rc = ledger_write(tmp, &l)) != RL_OK || (rc = path_join(p, tmp, "lock")) != RL_OK ||
        (rc = file_write_atomic(p, "", 0, 0600)) != RL_OK)
        goto cleanup;
    /* rename(2) replaces an empty directory: the main directory appears whole or not. */
    if (rename(tmp, main_dir) != 0) {
        rc = err_set(RL_EIO, "%s: %s", main_dir, strerror(errno));
        goto cleanup;
    }
    made = false;
    rc = file_sync_dir(main_dir);
cleanup:
    if (made)
        init_remove(tmp);
    free(sig);
    snapshot_free(&s);
    return rc;
}

/* --- the journal as a model ---------------------------------------------------------------- */

enum { T_HIRE, T_TERMINATION, T_SALARY, T_EXTENT, T_BANK, T_TAX, T_LEAVE, T_ONE_OFF, T_COUNT };
static const char *const type_names[T_COUNT] = {"hire",        "termination", "salary_change",
                                                "extent_change", "bank_change", "tax_change",
                                                "leave",       "one_off"};
enum { PENDING, APPROVED, REJECTED };

typedef struct {
    const char *uuid, *pnr, *emp, *eff, *end, *corrects;
    const json_value *fields;
    int type, status;
    int64_t vault_seq;
    uint64_t line;
    bool superseded, live;
} doc;

typedef struct {
    json_value **lines;
    size_t nlines;
    doc *docs; /* in journal order */
    size_t ndocs;
    doc **by_uuid;
    size_t count[JOURNAL_NKINDS];
} model;

static void model_free(model *m)
{
    for (size_t i = 0; i < m->nlines; i++)
        json_free(m->lines[i]);
    free(m->lines);
    free(m->docs);
    free(m->by_uuid);
    memset(m, 0, sizeof *m);
}

static int cmp_doc_uuid(const void *a, const void *b)
{
    return strcmp((*(doc *const *)a)->uuid, (*(doc *const *)b)->uuid);
}

static doc *find_doc(const model *m, const char *uuid)
{
    size_t lo = 0, hi = m->ndocs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->by_uuid[mid]->uuid, uuid);
        if (c == 0)
            return m->by_uuid[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *str(const json_value *o, const char *key)
{
    return json_string(json_get(o, key), NULL);
}

/* "line N: registration UUID field F: problem" */
static int bad_doc(const doc *d, const char *field, const char *why)
{
    return err_set(RL_EDATA, "line %llu: registration %s field %s: %s", (unsigned long long)d->line,
                   d->uuid, field, field_message(field, why));
}

static bool fint(const json_value *f, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t x = 0;
    if (json_int64(json_get(f, key), &x) != RL_OK || x < lo || x > hi)
        return false;
    if (out)
        *out = x;
    return true;
}

static bool fpct(const json_value *f, const char *key, int64_t lo, int64_t hi)
{
    const char *s = str(f, key);
    char out[24];
    return s && pct_norm(s, strlen(s), lo, hi, out);
}

static bool fid(const json_value *f, const char *key)
{
    const char *s = str(f, key);
    return s && field_id(s, strlen(s)) == RL_OK;
}

/* Tax stated one way: table + column, or a fixed percentage. */
static bool tax_ok(const json_value *f)
{
    if (json_get(f, "tax_table"))
        return fint(f, "tax_table", 29, 42, NULL) && fint(f, "tax_column", 1, 6, NULL) &&
               !json_get(f, "tax_fixed_pct");
    return fpct(f, "tax_fixed_pct", 0, 10000);
}

static bool account_ok(const json_value *f, bool required)
{
    const char *c = str(f, "clearing"), *a = str(f, "account"), *i = str(f, "iban");
    char clr[5], acc[16], iban[35];
    if (!c && !a && !i)
        return !required;
    if ((c || a) && i)
        return false;
    return account_norm(c ? c : "", a ? a : "", (c || a) ? "" : i, clr, acc, iban) == RL_OK &&
           (clr[0] || iban[0]);
}

/* The fields the state needs, checked: a journal is signed by the appliance, which checked
 * them at registration; a line that fails here breaks the format's promise. */
static int doc_check(const doc *d)
{
    const json_value *f = d->fields;
    size_t pl = strlen(d->pnr);
    if (pl != 12 || strspn(d->pnr, "0123456789") != 12)
        return bad_doc(d, "personnummer", "must be 12 digits");
    if (field_date(d->eff, strlen(d->eff)) != RL_OK)
        return bad_doc(d, "effective_date", err_msg());
    if (d->end[0] && field_date(d->end, strlen(d->end)) != RL_OK)
        return bad_doc(d, "end_date", err_msg());
    if (d->type != T_BANK && (d->emp == NULL || field_id(d->emp, strlen(d->emp)) != RL_OK))
        return bad_doc(d, "employment_id", "must be an id");
    if (d->corrects && strlen(d->corrects) != 36)
        return bad_doc(d, "corrects", "must be a UUID");
    switch (d->type) {
    case T_HIRE: {
        const char *pt = str(f, "pay_type");
        bool monthly = pt && strcmp(pt, "monthly") == 0;
        if (!fid(f, "org_unit_id"))
            return bad_doc(d, "org_unit_id", "must be an id");
        if (!pt || (!monthly && strcmp(pt, "hourly") != 0))
            return bad_doc(d, "pay_type", "must be monthly or hourly");
        if (!fint(f, monthly ? "monthly_salary_ore" : "hourly_rate_ore", 1, FIELD_MAX_ORE, NULL))
            return bad_doc(d, monthly ? "monthly_salary_ore" : "hourly_rate_ore",
                           "must be a whole number of öre above 0");
        if (!fpct(f, "extent_pct", 1, 10000))
            return bad_doc(d, "extent_pct", "must be a percentage above 0, at most 100");
        if (!tax_ok(f))
            return bad_doc(d, "tax_table", "give tax_table and tax_column, or tax_fixed_pct");
        if (json_get(f, "protected_identity") && !fint(f, "protected_identity", 0, 3, NULL))
            return bad_doc(d, "protected_identity", "must be 0-3");
        if (!account_ok(f, false))
            return bad_doc(d, "clearing", "not a valid account");
        break;
    }
    case T_SALARY:
        if (!fint(f, "monthly_salary_ore", 1, FIELD_MAX_ORE, NULL) &&
            !fint(f, "hourly_rate_ore", 1, FIELD_MAX_ORE, NULL))
            return bad_doc(d, "monthly_salary_ore", "give monthly_salary_ore or hourly_rate_ore");
        break;
    case T_EXTENT:
        if (!fpct(f, "extent_pct", 1, 10000))
            return bad_doc(d, "extent_pct", "must be a percentage above 0, at most 100");
        break;
    case T_TAX:
        if (!tax_ok(f))
            return bad_doc(d, "tax_table", "give tax_table and tax_column, or tax_fixed_pct");
        break;
    case T_BANK:
        if (!account_ok(f, true))
            return bad_doc(d, "clearing", "give a valid clearing and account, or IBAN");
        break;
    case T_LEAVE:
        if (!d->end[0] || !fpct(f, "extent_pct", 1, 10000))
            return bad_doc(d, "extent_pct", "a leave needs to_date and extent_pct");
        break;
    case T_ONE_OFF: {
        int64_t x = 0;
        const char *per = str(f, "period");
        if (!fint(f, "amount_ore", -FIELD_MAX_ORE, FIELD_MAX_ORE, &x) || x == 0)
            return bad_doc(d, "amount_ore", "must be a whole number of öre, not 0");
        if (!fid(f, "pay_code"))
            return bad_doc(d, "pay_code", "must be an id");
        if (per && field_period(per, strlen(per)) != RL_OK)
            return bad_doc(d, "period", "must be YYYY-MM");
        break;
    }
    default: break;
    }
    return RL_OK;
}

typedef struct {
    const char *id;
    uint64_t line;
} line_id;

static int cmp_line_id(const void *a, const void *b)
{
    const line_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line < y->line ? -1 : x->line > y->line);
}

/* Parses lines 1..nlines of a journal that journal_check accepted, and checks the rules a
 * journal keeps beyond its syntax (docs/journal-format.md): ids unique, snapshots the
 * main directory holds, decisions and corrections after the document they name, at most
 * one decision per document, payment files after their pay run. Then marks what counts. */
static int model_build(const char *data, size_t len, uint64_t nlines, const char *snapshot_sha,
                       model *m)
{
    line_id *ids = NULL;
    int64_t *payruns = NULL;
    size_t npayruns = 0;
    int rc = RL_OK;
    memset(m, 0, sizeof *m);
    m->lines = calloc(nlines ? nlines : 1, sizeof *m->lines);
    m->docs = calloc(nlines ? nlines : 1, sizeof *m->docs);
    m->by_uuid = calloc(nlines ? nlines : 1, sizeof *m->by_uuid);
    ids = calloc(nlines ? nlines : 1, sizeof *ids);
    payruns = calloc(nlines ? nlines : 1, sizeof *payruns);
    if (!m->lines || !m->docs || !m->by_uuid || !ids || !payruns) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    size_t off = 0;
    for (uint64_t n = 1; n <= nlines; n++) {
        const char *nl = memchr(data + off, '\n', len - off);
        if (nl == NULL) {
            rc = err_set(RL_EINTEGRITY, "line %llu: missing", (unsigned long long)n);
            goto cleanup;
        }
        json_value *o = NULL;
        if ((rc = json_parse(data + off, (size_t)(nl - (data + off)), &o)) != RL_OK) {
            rc = err_wrap(RL_EINTEGRITY, "line %llu: ", (unsigned long long)n);
            goto cleanup;
        }
        m->lines[m->nlines++] = o;
        off = (size_t)(nl - data) + 1;
        ids[n - 1].id = str(o, "id");
        ids[n - 1].line = n;
        const char *kind = str(o, "kind");
        int k = 0;
        while (k < JOURNAL_NKINDS && strcmp(kind, journal_kind_name((journal_kind)k)) != 0)
            k++;
        if (k == JOURNAL_NKINDS) {
            rc = err_set(RL_EINTEGRITY, "line %llu: unknown kind", (unsigned long long)n);
            goto cleanup;
        }
        m->count[k]++;
        if (k == JOURNAL_SNAPSHOT) {
            const char *sha = str(o, "manifest_sha256");
            if (sha == NULL || strcmp(sha, snapshot_sha) != 0) {
                rc = err_set(RL_EDATA, "line %llu: the appliance imported another snapshot "
                             "(exported %s) during the outage; the documents after it were "
                             "registered against that snapshot, which this main directory does "
                             "not hold: start a main directory from it and apply the journal "
                             "there", (unsigned long long)n,
                             str(o, "export_time") ? str(o, "export_time") : "?");
                goto cleanup;
            }
        } else if (k == JOURNAL_REGISTRATION) {
            doc *d = &m->docs[m->ndocs];
            const char *type = str(o, "type");
            d->uuid = str(o, "id");
            d->line = n;
            d->type = -1;
            for (int t = 0; t < T_COUNT; t++)
                if (type && strcmp(type, type_names[t]) == 0)
                    d->type = t;
            d->pnr = str(o, "personnummer");
            d->emp = str(o, "employment_id");
            d->eff = str(o, "effective_date");
            d->end = str(o, "end_date") ? str(o, "end_date") : "";
            d->corrects = str(o, "corrects");
            d->fields = json_get(o, "fields");
            if (json_int64(json_get(o, "vault_seq"), &d->vault_seq) != RL_OK) {
                rc = err_set(RL_EDATA, "line %llu: vault_seq is not an integer",
                             (unsigned long long)n);
                goto cleanup;
            }
            if (d->type < 0) {
                rc = bad_doc(d, "type", "unknown document type (a newer format?)");
                goto cleanup;
            }
            if ((rc = doc_check(d)) != RL_OK)
                goto cleanup;
            m->by_uuid[m->ndocs] = d;
            m->ndocs++;
        }
    }
    /* Ids are unique in a journal: a line is found again by its id. */
    qsort(ids, nlines, sizeof *ids, cmp_line_id);
    for (uint64_t i = 1; i < nlines; i++)
        if (strcmp(ids[i - 1].id, ids[i].id) == 0) {
            rc = err_set(RL_EDATA, "line %llu: its id repeats line %llu's (every id is unique in "
                         "a journal)", (unsigned long long)ids[i].line,
                         (unsigned long long)ids[i - 1].line);
            goto cleanup;
        }
    if (m->ndocs > 0)
        qsort(m->by_uuid, m->ndocs, sizeof *m->by_uuid, cmp_doc_uuid);
    /* Decisions, corrections and payment files against what came before them. */
    for (size_t i = 0; i < m->nlines; i++) {
        const json_value *o = m->lines[i];
        uint64_t n = i + 1;
        const char *kind = str(o, "kind");
        if (strcmp(kind, "decision") == 0) {
            const char *ref = str(o, "registration");
            doc *d = ref ? find_doc(m, ref) : NULL;
            if (d == NULL || d->line > n) {
                rc = err_set(RL_EDATA, "line %llu: a decision on %s, which no earlier "
                             "registration line records", (unsigned long long)n, ref ? ref : "?");
                goto cleanup;
            }
            if (d->status != PENDING) {
                rc = err_set(RL_EDATA, "line %llu: a second decision on %s (at most one per "
                             "document)", (unsigned long long)n, d->uuid);
                goto cleanup;
            }
            d->status = strcmp(str(o, "decision"), "approved") == 0 ? APPROVED : REJECTED;
        } else if (strcmp(kind, "registration") == 0) {
            const doc *d = find_doc(m, str(o, "id"));
            const doc *t = d && d->corrects ? find_doc(m, d->corrects) : NULL;
            if (d && d->corrects && (t == NULL || t->line > n || t->type != d->type)) {
                rc = bad_doc(d, "corrects", "names no earlier registration of the same type");
                goto cleanup;
            }
        } else if (strcmp(kind, "payrun") == 0) {
            if (json_int64(json_get(o, "payrun"), &payruns[npayruns]) == RL_OK)
                npayruns++;
        } else if (strcmp(kind, "payfile") == 0) {
            int64_t pr = 0;
            bool found = false;
            if (json_int64(json_get(o, "payrun"), &pr) == RL_OK)
                for (size_t k = 0; k < npayruns; k++)
                    found |= payruns[k] == pr;
            if (!found) {
                rc = err_set(RL_EDATA, "line %llu: payment file %s names pay run %lld, which no "
                             "earlier line records", (unsigned long long)n, str(o, "id"),
                             (long long)pr);
                goto cleanup;
            }
        }
    }
    /* What counts: approved, and not replaced by an approved correction. A rejected
     * correction replaces nothing; a pending one replaces nothing yet. */
    for (size_t i = 0; i < m->ndocs; i++) {
        doc *d = &m->docs[i];
        if (d->status == APPROVED && d->corrects)
            find_doc(m, d->corrects)->superseded = true;
    }
    for (size_t i = 0; i < m->ndocs; i++)
        m->docs[i].live = m->docs[i].status == APPROVED && !m->docs[i].superseded;
cleanup:
    free(ids);
    free(payruns);
    if (rc != RL_OK)
        model_free(m);
    return rc;
}

/* --- the accepted lines -------------------------------------------------------------------- */

/* Reads accepted.jsonl and returns its first l->lines lines (the ledger's count; a longer
 * file is the trace of an apply cut short before its ledger was written), checked: chain
 * intact and the last line's hash the ledger's. */
static int accepted_read(const char *main_dir, const ledger *l, char **data, size_t *len)
{
    char path[PATH_CAP];
    int rc;
    *data = NULL;
    *len = 0;
    if (l->lines == 0)
        return RL_OK;
    if ((rc = path_join(path, main_dir, "accepted.jsonl")) != RL_OK)
        return rc;
    if ((rc = file_read_all(path, JOURNAL_MAX_BYTES, data, len)) != RL_OK)
        return err_wrap(RL_EINTEGRITY, "the ledger says %llu lines were accepted, but ",
                        (unsigned long long)l->lines);
    size_t off = 0;
    for (uint64_t n = 0; n < l->lines; n++) {
        const char *nl = off < *len ? memchr(*data + off, '\n', *len - off) : NULL;
        if (nl == NULL) {
            rc = err_set(RL_EINTEGRITY, "%s: fewer lines than the ledger's %llu", path,
                         (unsigned long long)l->lines);
            goto fail;
        }
        off = (size_t)(nl - *data) + 1;
    }
    *len = off;
    journal_info info;
    if ((rc = journal_check(*data, *len, &info)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", path);
        goto fail;
    }
    if (strcmp(info.last, l->last) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s: line %llu is not the one the ledger recorded", path,
                     (unsigned long long)l->lines);
        goto fail;
    }
    return RL_OK;
fail:
    free(*data);
    *data = NULL;
    *len = 0;
    return rc;
}

/* The hash of line n (1-based) of data, into hex. False if there is no such line. */
static bool line_hash(const char *data, size_t len, uint64_t n, char hex[65])
{
    size_t off = 0;
    for (uint64_t i = 1; off < len; i++) {
        const char *nl = memchr(data + off, '\n', len - off);
        if (nl == NULL)
            return false;
        if (i == n) {
            journal_line_hash(data + off, (size_t)(nl - (data + off)), hex);
            return true;
        }
        off = (size_t)(nl - data) + 1;
    }
    return false;
}

/* --- apply ---------------------------------------------------------------------------------- */

static int64_t int_or0(const json_value *o, const char *key)
{
    int64_t x = 0;
    return json_int64(json_get(o, key), &x) == RL_OK ? x : 0;
}

/* The documents' standing in the whole journal, and the pay runs and payment files among
 * the lines after line `after` (the new ones). */
static void report_model(FILE *out, const model *m, uint64_t after)
{
    size_t pending = 0, rejected = 0, live = 0, replaced = 0;
    for (size_t i = 0; i < m->ndocs; i++) {
        const doc *d = &m->docs[i];
        pending += d->status == PENDING;
        rejected += d->status == REJECTED;
        live += d->live;
        replaced += d->status == APPROVED && d->superseded;
    }
    fprintf(out, "documents: %zu in force, %zu replaced by an approved correction, %zu rejected, "
                 "%zu pending\n", live, replaced, rejected, pending);
    size_t shown = 0;
    for (size_t i = 0; i < m->ndocs; i++) {
        const doc *d = &m->docs[i];
        if (d->status != PENDING)
            continue;
        if (shown++ == 50) {
            fprintf(out, "  ... and %zu more pending\n", pending - 50);
            break;
        }
        fprintf(out, "  pending (received, not valid until a later journal approves it): %s %s%s%s\n",
                type_names[d->type], d->uuid, d->emp ? " employment " : "", d->emp ? d->emp : "");
    }
    for (size_t i = (size_t)after; i < m->nlines; i++) {
        const json_value *o = m->lines[i];
        const char *kind = str(o, "kind");
        int64_t a, b;
        if (strcmp(kind, "payrun") == 0) {
            a = int_or0(o, "payrun");
            b = int_or0(o, "net_ore");
            char net[32];
            field_money_format(b, net);
            fprintf(out, "  pay run %lld (%s, %s): net %s SEK, recorded (what the emergency run "
                         "paid; the next regular run reconciles)\n", (long long)a,
                    str(o, "period"), str(o, "policy"), net);
        } else if (strcmp(kind, "payfile") == 0) {
            a = int_or0(o, "count");
            b = int_or0(o, "total_ore");
            char tot[32];
            field_money_format(b, tot);
            fprintf(out, "  payment file %s: %lld payments, %s SEK%s, recorded\n", str(o, "id"),
                    (long long)a, tot, json_bool(json_get(o, "drill")) ? " (a drill, not paid)" : "");
        }
    }
}

int restore_apply(const char *main_dir, const char *journal_path, const minisig_pubkey *pk,
                  FILE *report, restore_result *r)
{
    ledger l;
    journal_info info, again;
    model m = {0};
    char *data = NULL, *sig = NULL, *old = NULL, path[PATH_CAP], sig_path[PATH_CAP];
    size_t len = 0, sig_len = 0, old_len = 0;
    json_value *head = NULL;
    int fd = -1, rc;
    restore_result res = {0};
    if (r)
        memset(r, 0, sizeof *r);
    if ((rc = lock_main(main_dir, LOCK_EX, &fd)) != RL_OK || (rc = ledger_read(main_dir, &l)) != RL_OK)
        goto cleanup;
    /* Everything about the journal first: signature, every line, chain, signed count. */
    if ((rc = journal_verify_file(journal_path, pk, &info)) != RL_OK)
        goto cleanup;
    /* The bytes used are the bytes verified: read again, they must chain to the same last
     * line (the signature covers it), or the file changed in between. */
    int n = snprintf(sig_path, sizeof sig_path, "%s.minisig", journal_path);
    if (n < 0 || (size_t)n >= sizeof sig_path) {
        rc = err_set(RL_EUSAGE, "%s: path too long", journal_path);
        goto cleanup;
    }
    if ((rc = file_read_all(journal_path, JOURNAL_MAX_BYTES, &data, &len)) != RL_OK ||
        (rc = file_read_all(sig_path, 64 * 1024, &sig, &sig_len)) != RL_OK ||
        (rc = journal_check(data, len, &again)) != RL_OK ||
        (rc = minisig_verify(pk, (const uint8_t *)data, len, sig, sig_len, NULL, 0)) != RL_OK ||
        again.lines != info.lines || strcmp(again.last, info.last) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s changed while it was being read; apply it again",
                     journal_path);
        goto cleanup;
    }
    /* The header: this main directory's snapshot, and the vault applied before. */
    const char *nl = memchr(data, '\n', len);
    if ((rc = json_parse(data, (size_t)(nl - data), &head)) != RL_OK)
        goto cleanup;
    const char *sha = str(head, "snapshot_manifest_sha256");
    if (sha == NULL || strcmp(sha, l.snapshot_sha) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s starts from another snapshot (exported %s by %s) than "
                     "%s holds (exported %s by %s): a journal of another appliance or another "
                     "snapshot; nothing applied", journal_path,
                     str(head, "snapshot_export_time"), str(head, "snapshot_source"), main_dir,
                     l.export_time, l.source);
        goto cleanup;
    }
    if (l.vault_id[0] && strcmp(l.vault_id, info.vault_id) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s comes from vault %s, but %s holds the journal of vault "
                     "%s: nothing applied", journal_path, info.vault_id, main_dir, l.vault_id);
        goto cleanup;
    }
    res.lines = (size_t)info.lines;
    /* Continuity: line l.lines of this journal must be the line accepted last. */
    if (l.lines > 0) {
        char h[65];
        if (info.lines >= l.lines) {
            if (!line_hash(data, len, l.lines, h) || strcmp(h, l.last) != 0) {
                rc = err_set(RL_EINTEGRITY, "%s: line %llu differs from the line %llu accepted "
                             "before: a different history (another or a forged journal); "
                             "nothing applied", journal_path, (unsigned long long)l.lines,
                             (unsigned long long)l.lines);
                goto cleanup;
            }
        } else {
            /* An older export: it must be a prefix of what was accepted. */
            if ((rc = accepted_read(main_dir, &l, &old, &old_len)) != RL_OK)
                goto cleanup;
            if (!line_hash(old, old_len, info.lines, h) || strcmp(h, info.last) != 0) {
                rc = err_set(RL_EINTEGRITY, "%s: its line %llu differs from the line accepted "
                             "before: a different history; nothing applied", journal_path,
                             (unsigned long long)info.lines);
                goto cleanup;
            }
            res.lines = (size_t)l.lines;
        }
    }
    if (info.lines <= l.lines) {
        if (report)
            fprintf(report, "nothing new: %s has %llu lines, all already applied (%llu held)\n",
                    journal_path, (unsigned long long)info.lines, (unsigned long long)l.lines);
        rc = RL_OK;
        goto done;
    }
    /* The whole journal against its rules (a prefix passed them before). */
    if ((rc = model_build(data, len, info.lines, l.snapshot_sha, &m)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", journal_path);
        goto cleanup;
    }
    size_t off = 0;
    for (uint64_t i = 1; i <= info.lines; i++) {
        const char *e = memchr(data + off, '\n', len - off);
        if (i > l.lines) {
            const char *kind = str(m.lines[i - 1], "kind");
            res.registrations += strcmp(kind, "registration") == 0;
            res.decisions += strcmp(kind, "decision") == 0;
            res.payruns += strcmp(kind, "payrun") == 0;
            res.payfiles += strcmp(kind, "payfile") == 0;
            res.new_lines++;
        }
        off = (size_t)(e - data) + 1;
    }
    /* The signature first, then the lines, then the ledger: the ledger commits. */
    if ((rc = path_join(path, main_dir, "accepted.jsonl.minisig")) != RL_OK ||
        (rc = file_write_atomic(path, sig, sig_len, 0600)) != RL_OK ||
        (rc = path_join(path, main_dir, "accepted.jsonl")) != RL_OK ||
        (rc = file_write_atomic(path, data, len, 0600)) != RL_OK)
        goto cleanup;
    snprintf(l.vault_id, sizeof l.vault_id, "%s", info.vault_id);
    l.lines = info.lines;
    memcpy(l.last, info.last, sizeof l.last);
    if ((rc = ledger_write(main_dir, &l)) != RL_OK)
        goto cleanup;
    if (report) {
        fprintf(report, "applied lines %llu-%llu of %s: %zu registrations, %zu decisions, %zu pay "
                        "runs, %zu payment files\n",
                (unsigned long long)(info.lines - res.new_lines + 1),
                (unsigned long long)info.lines, journal_path, res.registrations, res.decisions,
                res.payruns, res.payfiles);
        report_model(report, &m, info.lines - res.new_lines);
    }
done:
    if (r)
        *r = res;
cleanup:
    unlock_main(fd);
    model_free(&m);
    json_free(head);
    free(data);
    free(sig);
    free(old);
    return rc;
}

/* --- state ---------------------------------------------------------------------------------- */

typedef struct {
    const snapshot *s;
} sort_ctx;

static int cmp_emp(const void *a, const void *b, void *ctx)
{
    const employment *x = a, *y = b;
    const char *base = ((const sort_ctx *)ctx)->s->strings.p;
    int c = strcmp(base + x->id, base + y->id);
    return c ? c : strcmp(x->source, y->source);
}

/* Employment documents in the order they apply: by employment, effective date, recorded
 * order. */
static int cmp_apply(const void *a, const void *b)
{
    const doc *x = *(doc *const *)a, *y = *(doc *const *)b;
    int c = strcmp(x->emp, y->emp);
    if (c == 0)
        c = strcmp(x->eff, y->eff);
    return c ? c : (x->vault_seq < y->vault_seq ? -1 : x->vault_seq > y->vault_seq);
}

/* Leave and one-off documents: by employment, effective date, UUID. */
static int cmp_listed(const void *a, const void *b)
{
    const doc *x = *(doc *const *)a, *y = *(doc *const *)b;
    int c = strcmp(x->emp, y->emp);
    if (c == 0)
        c = strcmp(x->eff, y->eff);
    return c ? c : strcmp(x->uuid, y->uuid);
}

/* Per person: hires and bank changes, latest first. */
static int cmp_by_person(const void *a, const void *b)
{
    const doc *x = *(doc *const *)a, *y = *(doc *const *)b;
    int c = strcmp(x->pnr, y->pnr);
    if (c == 0 && x->type == T_BANK)
        c = -strcmp(x->eff, y->eff);
    return c ? c : (x->vault_seq > y->vault_seq ? -1 : x->vault_seq < y->vault_seq);
}

/* The first index in v[0..n) whose key (by key_of) is >= key. */
static size_t lower(doc **v, size_t n, const char *key, bool by_emp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(by_emp ? v[mid]->emp : v[mid]->pnr, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A live document applied to an employment: the main system's reading of the journal. */
static void emp_apply(employment *e, const doc *d)
{
    const json_value *f = d->fields;
    int64_t x = 0;
    const char *s;
    switch (d->type) {
    case T_TERMINATION: snprintf(e->end, sizeof e->end, "%s", d->eff); break;
    case T_SALARY:
        if (fint(f, "monthly_salary_ore", 1, FIELD_MAX_ORE, &x) ||
            fint(f, "hourly_rate_ore", 1, FIELD_MAX_ORE, &x))
            e->salary = x;
        break;
    case T_EXTENT:
        s = str(f, "extent_pct");
        (void)pct_norm(s, strlen(s), 1, 10000, e->extent);
        break;
    case T_TAX:
        if (json_get(f, "tax_table")) {
            (void)fint(f, "tax_table", 29, 42, &x);
            e->tax_table = (int)x;
            (void)fint(f, "tax_column", 1, 6, &x);
            e->tax_column = (int)x;
            e->tax_fixed[0] = '\0';
        } else {
            s = str(f, "tax_fixed_pct");
            e->tax_table = e->tax_column = 0;
            (void)pct_norm(s, strlen(s), 0, 10000, e->tax_fixed);
        }
        break;
    default: break;
    }
}

static int hire_employment(snapshot *s, const doc *d)
{
    const json_value *f = d->fields;
    employment *e;
    int rc;
    if ((rc = emp_push(s, &e)) != RL_OK || (rc = arena_add(&s->strings, d->emp, &e->id)) != RL_OK ||
        (rc = arena_add(&s->strings, str(f, "org_unit_id"), &e->org)) != RL_OK)
        return rc;
    e->source = d->uuid;
    memcpy(e->pnr, d->pnr, 13);
    snprintf(e->start, sizeof e->start, "%s", d->eff);
    snprintf(e->end, sizeof e->end, "%s", d->end);
    snprintf(e->pay_type, sizeof e->pay_type, "%s", str(f, "pay_type"));
    bool monthly = strcmp(e->pay_type, "monthly") == 0;
    (void)fint(f, monthly ? "monthly_salary_ore" : "hourly_rate_ore", 1, FIELD_MAX_ORE, &e->salary);
    const char *x = str(f, "extent_pct");
    (void)pct_norm(x, strlen(x), 1, 10000, e->extent);
    doc tax = *d;
    tax.type = T_TAX;
    emp_apply(e, &tax);
    return RL_OK;
}

static int state_text(snapshot *s, const model *m, FILE *out)
{
    doc **apply = NULL, **listed = NULL, **hires = NULL, **banks = NULL;
    size_t napply = 0, nlisted = 0, nhires = 0, nbanks = 0;
    person *extra = NULL;
    size_t nextra = 0;
    int rc = RL_OK;
    size_t cap = m->ndocs ? m->ndocs : 1;
    apply = calloc(cap, sizeof *apply);
    listed = calloc(cap, sizeof *listed);
    hires = calloc(cap, sizeof *hires);
    banks = calloc(cap, sizeof *banks);
    extra = calloc(cap, sizeof *extra);
    if (!apply || !listed || !hires || !banks || !extra) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < m->ndocs; i++) {
        doc *d = &m->docs[i];
        if (!d->live)
            continue;
        switch (d->type) {
        case T_HIRE:
            hires[nhires++] = d;
            if ((rc = hire_employment(s, d)) != RL_OK)
                goto cleanup;
            break;
        case T_BANK: banks[nbanks++] = d; break;
        case T_LEAVE:
        case T_ONE_OFF: listed[nlisted++] = d; break;
        default: apply[napply++] = d; break;
        }
    }
    sort_ctx ctx = {s};
    if (s->nemps)
        qsort_r(s->emps, s->nemps, sizeof *s->emps, cmp_emp, &ctx);
    if (napply)
        qsort(apply, napply, sizeof *apply, cmp_apply);
    if (nlisted)
        qsort(listed, nlisted, sizeof *listed, cmp_listed);
    if (nhires)
        qsort(hires, nhires, sizeof *hires, cmp_by_person);
    if (nbanks)
        qsort(banks, nbanks, sizeof *banks, cmp_by_person);

    fprintf(out, "reservlon-state,1,%s\n", s->sha);
    /* Persons: the snapshot's and those only a live hire brings. */
    for (size_t i = 0; i < nhires; i++) {
        const char *pnr = hires[i]->pnr;
        person key;
        memcpy(key.pnr, pnr, 13);
        if ((i > 0 && strcmp(hires[i - 1]->pnr, pnr) == 0) ||
            (s->npersons > 0 &&
             bsearch(&key, s->persons, s->npersons, sizeof *s->persons, cmp_person)))
            continue;
        memset(&extra[nextra], 0, sizeof extra[nextra]);
        memcpy(extra[nextra++].pnr, pnr, 13);
    }
    size_t total = s->npersons + nextra;
    person *all = realloc(s->persons, (total ? total : 1) * sizeof *all);
    if (all == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    s->persons = all;
    memcpy(all + s->npersons, extra, nextra * sizeof *extra);
    s->npersons = total;
    if (total)
        qsort(all, total, sizeof *all, cmp_person);
    fputs("[persons]\npersonnummer,protected_identity,clearing,account,iban,bank_from,"
          "bank_source\n", out);
    for (size_t i = 0; i < total; i++) {
        person *p = &all[i];
        int level = p->prot;
        size_t h = lower(hires, nhires, p->pnr, false);
        const doc *latest_hire = h < nhires && strcmp(hires[h]->pnr, p->pnr) == 0 ? hires[h] : NULL;
        for (; h < nhires && strcmp(hires[h]->pnr, p->pnr) == 0; h++) {
            int64_t x = 0;
            if (fint(hires[h]->fields, "protected_identity", 0, 3, &x) && x > level)
                level = (int)x;
        }
        char clr[5] = "", acc[16] = "", iban[35] = "";
        const char *from = "", *source = "";
        size_t b = lower(banks, nbanks, p->pnr, false);
        const json_value *f = NULL;
        if (b < nbanks && strcmp(banks[b]->pnr, p->pnr) == 0) {
            f = banks[b]->fields;
            from = banks[b]->eff;
            source = banks[b]->uuid;
        } else if (p->in_snapshot) {
            memcpy(clr, p->clr, sizeof clr);
            memcpy(acc, p->acc, sizeof acc);
            memcpy(iban, p->iban, sizeof iban);
            source = (clr[0] || iban[0]) ? "snapshot" : "";
        } else if (latest_hire) {
            f = latest_hire->fields;
            source = latest_hire->uuid;
        }
        if (f) {
            const char *c = str(f, "clearing"), *a = str(f, "account"), *ib = str(f, "iban");
            if (account_norm(c ? c : "", a ? a : "", (c || a) ? "" : (ib ? ib : ""), clr, acc,
                             iban) != RL_OK)
                clr[0] = acc[0] = iban[0] = '\0';
            if (!clr[0] && !iban[0])
                source = "";
        }
        fprintf(out, "%s,%d,%s,%s,%s,%s,%s\n", p->pnr, level, clr, acc, iban, from, source);
    }
    /* Employments with their documents applied. */
    fputs("[employments]\nemployment_id,personnummer,org_unit_id,start_date,end_date,pay_type,"
          "monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct,"
          "source\n", out);
    const char *base = s->strings.p;
    for (size_t i = 0; i < s->nemps; i++) {
        employment *e = &s->emps[i];
        for (size_t k = lower(apply, napply, base + e->id, true);
             k < napply && strcmp(apply[k]->emp, base + e->id) == 0; k++)
            emp_apply(e, apply[k]);
        bool monthly = strcmp(e->pay_type, "monthly") == 0;
        fprintf(out, "%s,%s,%s,%s,%s,%s,", base + e->id, e->pnr, base + e->org, e->start, e->end,
                e->pay_type);
        if (monthly)
            fprintf(out, "%lld,,", (long long)e->salary);
        else
            fprintf(out, ",%lld,", (long long)e->salary);
        fprintf(out, "%s,", e->extent);
        if (e->tax_table > 0)
            fprintf(out, "%d,%d,,", e->tax_table, e->tax_column);
        else
            fprintf(out, ",,%s,", e->tax_fixed);
        fprintf(out, "%s\n", e->source);
    }
    /* Leave and one-off documents: no employment state, listed. */
    fputs("[leave_and_one_off]\nemployment_id,effective_date,uuid,type,personnummer,end_date,"
          "extent_pct,amount_ore,pay_code,period\n", out);
    for (size_t i = 0; i < nlisted; i++) {
        const doc *d = listed[i];
        const json_value *f = d->fields;
        char ext[24] = "", amount[24] = "";
        const char *x = str(f, "extent_pct");
        if (x)
            (void)pct_norm(x, strlen(x), 1, 10000, ext);
        int64_t a = 0;
        if (fint(f, "amount_ore", -FIELD_MAX_ORE, FIELD_MAX_ORE, &a))
            snprintf(amount, sizeof amount, "%lld", (long long)a);
        const char *code = str(f, "pay_code"), *per = str(f, "period");
        fprintf(out, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", d->emp, d->eff, d->uuid, type_names[d->type],
                d->pnr, d->end, ext, amount, code ? code : "", per ? per : "");
    }
    if (ferror(out))
        rc = err_set(RL_EIO, "writing the state failed");
cleanup:
    free(apply);
    free(listed);
    free(hires);
    free(banks);
    free(extra);
    return rc;
}

int restore_state_write(const char *main_dir, const char *out_path)
{
    ledger l;
    snapshot s = {0};
    model m = {0};
    char snap[PATH_CAP], *data = NULL, *buf = NULL;
    size_t len = 0, blen = 0;
    int fd = -1, rc;
    if ((rc = lock_main(main_dir, LOCK_SH, &fd)) != RL_OK ||
        (rc = ledger_read(main_dir, &l)) != RL_OK || (rc = path_join(snap, main_dir, "snapshot")) != RL_OK ||
        (rc = snapshot_load(snap, &s)) != RL_OK)
        goto cleanup;
    if (strcmp(s.sha, l.snapshot_sha) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s: its snapshot copy is not the one the ledger recorded",
                     main_dir);
        goto cleanup;
    }
    if ((rc = accepted_read(main_dir, &l, &data, &len)) != RL_OK ||
        (rc = model_build(data ? data : "", len, l.lines, l.snapshot_sha, &m)) != RL_OK)
        goto cleanup;
    FILE *mem = open_memstream(&buf, &blen);
    if (mem == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = state_text(&s, &m, mem);
    if (fclose(mem) != 0 && rc == RL_OK)
        rc = err_set(RL_ENOMEM, "out of memory writing the state");
    if (rc == RL_OK)
        rc = file_write_atomic(out_path, buf, blen, 0600);
cleanup:
    unlock_main(fd);
    if (buf)
        sodium_memzero(buf, blen);
    free(buf);
    free(data);
    model_free(&m);
    snapshot_free(&s);
    return rc;
}
