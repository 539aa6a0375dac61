/* bench: times the appliance's workloads against baselines measured in the same run.
 *
 *   bench --snapshot DIR --size N [--runs R] [--json FILE] [--sqlcipher PROGRAM] ...
 *
 * Each run of a workload happens in a forked child (fresh vault in a scratch directory),
 * so peak RSS (ru_maxrss from wait4) belongs to that run alone. Prints one row per
 * workload: median, min, max seconds over the runs, peak RSS, and where baselines exist
 * their medians and the ratios ours/baseline. Appends the same as JSON lines to FILE.
 *
 * Built a second time with RL_BENCH_SQLCIPHER and linked with SQLCipher instead of SQLite
 * (bench-sqlcipher): the same workloads on the same vault code, the database keyed with
 * SQLCipher's defaults instead of sealed by our VFS. SQLCipher exports SQLite's symbols, so
 * it cannot share a process with SQLite: bench runs it as a child (--sqlcipher) and reads
 * its figures, one JSON line per workload on its stdout. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"
#include "journal/export.h"
#include "payfile/payfile.h"
#include "payrun/payrun.h"
#include "signing/signing.h"
#include "registry/registry.h"
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/vault.h"

#define PASS "bench passphrase 2026"
#define MAX_RUNS 15

typedef struct {
    double secs[MAX_RUNS];
    double p50[MAX_RUNS], p99[MAX_RUNS]; /* latency workloads: per-run percentiles */
    long rss_kb;
    int n;
} result;

/* What a child reports: the timed seconds and, for latency workloads, percentiles. */
typedef struct {
    double secs, p50, p99;
} sample;

static const char *snapshot_dir;
static char rules_key_text[1024];
static char rules_path[600];
static const char *batch_path;
static const char *keep_payfile; /* --keep-payfile PATH: the token transfer row uses it */
static char scratch[256];
static minisig_pubkey export_pk;

#ifdef RL_BENCH_SQLCIPHER
#include <dlfcn.h>

/* Debian 12's SQLCipher 3.4.1 is SQLite 3.15.2, older than the upsert (3.24) the vault
 * uses to add an operator (setup only, never timed). This program's own definition takes
 * the calls, gives that one statement a 3.15 form with the same parameters (the bench only
 * adds new operators, so replacing is the same as updating) and passes everything else to
 * SQLCipher's. */
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int len, sqlite3_stmt **st,
                       const char **tail)
{
    static int (*real)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
    if (real == NULL)
        return SQLITE_ERROR;
    if (strstr(sql, "INSERT INTO operators(") == sql && strstr(sql, "ON CONFLICT(name)"))
        sql = "INSERT OR REPLACE INTO operators(name, role, active, created_at, created_by)"
              " VALUES(?,?,1,?,?)",
        len = -1;
    return real(db, sql, len, st, tail);
}

/* Every connection is keyed as it opens (an auto extension runs before any read), with a
 * passphrase, so SQLCipher derives the key with its default KDF and iterations. The vault
 * sets PRAGMA page_size=4096; with SQLCipher the page size is cipher_page_size (default
 * 1024), and a page_size set past it produces a database SQLCipher cannot read back
 * ("malformed database schema"), so that one pragma is ignored and the default stays. */
static int sqlcipher_authorize(void *ctx, int action, const char *a, const char *b,
                               const char *db, const char *trigger)
{
    (void)ctx, (void)db, (void)trigger;
    if (action == SQLITE_PRAGMA && a != NULL && b != NULL && sqlite3_stricmp(a, "page_size") == 0)
        return SQLITE_IGNORE;
    return SQLITE_OK;
}

/* Debian's SQLCipher is built without JSON1; the vault reads registrations' fields with
 * json_extract(fields, '$.name') (registrations only, a few thousand rows at most in these
 * workloads). The same for those paths, through the appliance's JSON reader. */
static void sqlcipher_json_extract(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    const char *path = (const char *)sqlite3_value_text(argv[1]);
    json_value *j = NULL;
    (void)argc;
    if (text == NULL || path == NULL)
        return;
    if (strncmp(path, "$.", 2) != 0 || strpbrk(path + 2, ".[") != NULL) {
        sqlite3_result_error(cx, "bench json_extract: only '$.name' paths", -1);
        return;
    }
    if (json_parse(text, (size_t)sqlite3_value_bytes(argv[0]), &j) != RL_OK) {
        sqlite3_result_error(cx, "malformed JSON", -1);
        return;
    }
    const json_value *f = json_get(j, path + 2);
    int64_t i = 0;
    size_t n = 0;
    const char *str = NULL;
    switch (f ? json_typeof(f) : JSON_NULL) {
    case JSON_STRING:
        str = json_string(f, &n);
        sqlite3_result_text(cx, str, (int)n, SQLITE_TRANSIENT);
        break;
    case JSON_NUMBER:
        if (json_int64(f, &i) == RL_OK)
            sqlite3_result_int64(cx, i);
        else
            sqlite3_result_double(cx, strtod(json_number_text(f), NULL));
        break;
    case JSON_BOOL: sqlite3_result_int(cx, json_bool(f)); break;
    case JSON_NULL: break;
    default: sqlite3_result_error(cx, "bench json_extract: not for objects or arrays", -1);
    }
    json_free(j);
}

static int sqlcipher_key(sqlite3 *db, char **errmsg, const void *api)
{
    (void)api;
    int rc = sqlite3_exec(db, "PRAGMA key='" PASS "'", NULL, NULL, errmsg);
    if (rc == SQLITE_OK)
        rc = sqlite3_set_authorizer(db, sqlcipher_authorize, NULL);
    if (rc == SQLITE_OK && !sqlite3_compileoption_used("ENABLE_JSON1"))
        rc = sqlite3_create_function(db, "json_extract", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, sqlcipher_json_extract, NULL, NULL);
    return rc;
}

/* SQLCipher's settings as it reports them, for the table and results.json; 0 or -1. */
static int sqlcipher_settings(char *out, size_t cap)
{
    static const char *const q[] = {"cipher_version", "cipher", "kdf_iter", "cipher_page_size",
                                    "cipher_use_hmac"};
    sqlite3 *db = NULL;
    int rc = -1;
    size_t used = 0;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto cleanup;
    used = (size_t)snprintf(out, cap, "{\"sqlite\":\"%s\"", sqlite3_libversion());
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char sql[64];
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof sql, "PRAGMA %s", q[i]);
        int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
                 sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL;
        if (ok && used < cap)
            used += (size_t)snprintf(out + used, cap - used, ",\"%s\":\"%s\"", q[i],
                                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!ok) /* cipher_version answers only in SQLCipher: never a plain-SQLite baseline */
            goto cleanup;
    }
    if (used + 2 > cap)
        goto cleanup;
    memcpy(out + used, "}", 2);
    rc = 0;
cleanup:
    sqlite3_close(db);
    return rc;
}
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#ifndef RL_BENCH_SQLCIPHER
static double median(result *r)
{
    qsort(r->secs, (size_t)r->n, sizeof r->secs[0], cmp_double);
    return r->n % 2 ? r->secs[r->n / 2] : (r->secs[r->n / 2 - 1] + r->secs[r->n / 2]) / 2;
}
#endif

/* Workloads run in the child; each fills a sample (secs < 0 on failure). */
typedef sample (*workload)(int plain);

static const sample failed = {-1, 0, 0};

/* A fresh vault in the scratch directory, with the snapshot imported if asked, bench-reg
 * logged in. The first one of each kind is built (create, operators, import: Argon2id
 * four times and the whole import) and kept as a template that later runs copy, so each
 * run pays for its own workload only, and its peak RSS is the workload's. */
static vault *fresh_vault(int plain, int with_snapshot)
{
    char dir[300], tmpl[300], cmd[700];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/v", scratch);
    snprintf(tmpl, sizeof tmpl, "%s/template-%d-%d", scratch, plain, with_snapshot);
    vault_bench_set_plain(plain);
    vault *v = NULL;
    if (stat(tmpl, &sb) == 0) {
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tmpl, dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench: copying the template vault failed\n");
            return NULL;
        }
    } else {
        if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK ||
            vault_open(dir, "bench", PASS, strlen(PASS), &v) != RL_OK ||
            vault_operator_add(v, "bench-reg", VAULT_ROLE_REGISTRAR, PASS, strlen(PASS)) !=
                RL_OK ||
            (with_snapshot &&
             snapshot_import(v, snapshot_dir, &export_pk, 0, stderr, NULL, NULL) != RL_OK) ||
            vault_begin(v) != RL_OK ||
            vault_config_set(v, "rules_pubkey", rules_key_text) != RL_OK ||
            vault_commit(v) != RL_OK) {
            fprintf(stderr, "bench: %s\n", err_msg());
            vault_close(v);
            return NULL;
        }
        vault_close(v);
        v = NULL;
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", dir, tmpl);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench: keeping the template vault failed\n");
            return NULL;
        }
    }
    if (vault_open(dir, "bench-reg", PASS, strlen(PASS), &v) != RL_OK) {
        fprintf(stderr, "bench: %s\n", err_msg());
        return NULL;
    }
    return v;
}

static sample wl_import(int plain)
{
    vault *v = fresh_vault(plain, 0);
    if (v == NULL)
        return failed;
    vault_close(v);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    if (vault_open(dir, "bench", PASS, strlen(PASS), &v) != RL_OK)
        return failed;
    double t0 = now();
    int rc = snapshot_import(v, snapshot_dir, &export_pk, 0, stderr, NULL, NULL);
    double t1 = now();
    vault_close(v);
    if (rc != RL_OK) {
        fprintf(stderr, "bench: import: %s\n", err_msg());
        return failed;
    }
    return (sample){t1 - t0, 0, 0};
}

#ifndef RL_BENCH_SQLCIPHER
static sample wl_open(int plain)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    vault_bench_set_plain(plain);
    vault *v = NULL;
    if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK)
        return failed;
    double t0 = now();
    int rc = vault_open(dir, "bench", PASS, strlen(PASS), &v);
    double t1 = now();
    vault_close(v);
    return rc == RL_OK ? (sample){t1 - t0, 0, 0} : failed;
}
#endif

#define SINGLE_REGS 1000

/* 1,000 durable single registrations (each its own committed, fsynced transaction) in an
 * open session: total seconds and the p50/p99 latency. */
static sample wl_register(int plain)
{
    vault *v = fresh_vault(plain, 1);
    if (v == NULL)
        return failed;
    sqlite3_stmt *st = NULL;
    char emp[65] = "";
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT employment_id FROM employments WHERE end_date IS NULL"
                           " ORDER BY employment_id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(emp, sizeof emp, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    static double lat[SINGLE_REGS];
    double t0 = now();
    for (int i = 0; i < SINGLE_REGS; i++) {
        char amount[32], reason[64], uuid[37];
        snprintf(amount, sizeof amount, "%d", 100 + i);
        snprintf(reason, sizeof reason, "benchmark %d", i);
        reg_field f[] = {{"employment_id", emp}, {"amount_ore", amount}, {"pay_code", "BENCH"},
                         {"reason", reason}};
        double a = now();
        if (registry_register(v, "one_off", f, 4, NULL, stderr, uuid) != RL_OK) {
            fprintf(stderr, "bench: register: %s\n", err_msg());
            vault_close(v);
            return failed;
        }
        lat[i] = now() - a;
    }
    double total = now() - t0;
    vault_close(v);
    qsort(lat, SINGLE_REGS, sizeof lat[0], cmp_double);
    return (sample){total, lat[SINGLE_REGS / 2], lat[SINGLE_REGS * 99 / 100]};
}

/* The period after the snapshot's last pay run, paid tomorrow. */
static void next_run(vault *v, char period[24], char pay_date[11])
{
    sqlite3_stmt *st = NULL;
    snprintf(period, 24, "2026-11");
    if (sqlite3_prepare_v2(vault_db(v), "SELECT last_period FROM snapshot", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        int y = atoi((const char *)sqlite3_column_text(st, 0));
        int m = atoi((const char *)sqlite3_column_text(st, 0) + 5);
        snprintf(period, 24, "%04d-%02d", y + (m == 12), m % 12 + 1);
    }
    sqlite3_finalize(st);
    time_t t = time(NULL) + 86400;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(pay_date, 11, "%Y-%m-%d", &tm);
}

/* A pay run over every employment with the shipped, signed rules. */
static sample run_payrun(int plain, const char *policy)
{
    vault *v = fresh_vault(plain, 1);
    if (v == NULL)
        return failed;
    char period[24], pay_date[11];
    next_run(v, period, pay_date);
    payrun_params p = {.period = period, .pay_date = pay_date, .policy = policy,
                       .rules_path = rules_path};
    int64_t id = 0;
    double t0 = now();
    int rc = payrun_create(v, &p, NULL, &id);
    double t1 = now();
    vault_close(v);
    if (rc != RL_OK) {
        fprintf(stderr, "bench: pay run: %s\n", err_msg());
        return failed;
    }
    return (sample){t1 - t0, 0, 0};
}

static sample wl_payrun_same(int plain) { return run_payrun(plain, "same-as-last"); }

/* Opens the vault in the scratch directory as name. */
static int reopen(vault **v, const char *name)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    vault_close(*v);
    *v = NULL;
    return vault_open(dir, name, PASS, strlen(PASS), v) == RL_OK;
}

#define JOURNAL_APPROVE_EVERY 100

/* The state a payment file is written from: the snapshot, an approved same-as-last pay run
 * over every employment, approvers a1 and a2 and the appliance key made by them. With
 * regs, the 10,000-line batch registered first and every JOURNAL_APPROVE_EVERY-th document
 * approved (by a1, one transaction each as `register approve` does), so the journal has
 * registrations, decisions, a pay run and a payment file. Leaves a1 logged in and the
 * signing session open (the key unlocked). 1 or 0. */
/* The documents still awaiting approval are left out, as --include-pending does. */
static int create_run(vault *v, int64_t *id)
{
    char period[24], pay_date[11];
    next_run(v, period, pay_date);
    payrun_params p = {.period = period, .pay_date = pay_date, .policy = "same-as-last",
                       .include_pending = 1, .rules_path = rules_path};
    return payrun_create(v, &p, NULL, id) == RL_OK;
}

static int payfile_setup(int plain, int regs, vault **out, signing_session **s, int64_t *id)
{
    char status[16] = "";
    vault *v = fresh_vault(plain, 1);
    char pub[512];
    size_t n = 0;
    int ok = v != NULL;
    ok = ok && (!regs || registry_batch(v, batch_path, stderr, &n) == RL_OK);
    ok = ok && (regs || create_run(v, id));
    ok = ok && reopen(&v, "bench") &&
         vault_operator_add(v, "a1", VAULT_ROLE_APPROVER, PASS, strlen(PASS)) == RL_OK &&
         vault_operator_add(v, "a2", VAULT_ROLE_APPROVER, PASS, strlen(PASS)) == RL_OK;
    if (ok && regs) {
        ok = reopen(&v, "a1");
        sqlite3_stmt *st = NULL;
        char uuids[10000 / JOURNAL_APPROVE_EVERY + 1][37];
        size_t k = 0;
        if (ok && sqlite3_prepare_v2(vault_db(v), "SELECT uuid FROM registrations ORDER BY seq",
                                     -1, &st, NULL) == SQLITE_OK)
            for (size_t i = 0; sqlite3_step(st) == SQLITE_ROW; i++)
                if (i % JOURNAL_APPROVE_EVERY == 0 && k < sizeof uuids / sizeof uuids[0])
                    snprintf(uuids[k++], 37, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        for (size_t i = 0; ok && i < k; i++)
            ok = registry_approve(v, uuids[i]) == RL_OK;
        ok = ok && reopen(&v, "bench-reg") && create_run(v, id);
    }
    ok = ok && reopen(&v, "a1") && payrun_approve(v, *id, status) == RL_OK;
    if (ok && strcmp(status, "approved") != 0)
        ok = reopen(&v, "a2") && payrun_approve(v, *id, status) == RL_OK && reopen(&v, "a1");
    ok = ok && signing_pair_open(v, "a2", PASS, strlen(PASS), "bench", s) == RL_OK &&
         signing_key_create(*s, pub, sizeof pub) == RL_OK;
    if (!ok) {
        fprintf(stderr, "bench: setting up the pay run and key: %s\n", err_msg());
        signing_close(*s);
        *s = NULL;
        vault_close(v);
        v = NULL;
    }
    *out = v;
    return ok;
}

static int payfile_make(vault *v, signing_session *s, int64_t id, const char *out)
{
    payfile_options o = {.format = PAYFILE_PAIN001_03, .debtor_name = "Bench kommun",
                         .debtor_clearing = "5000", .debtor_account = "123 4560",
                         .debtor_bic = "ESSESESS", .signer = s, .leave_out_unpayable = true};
    payfile_summary sum;
    return payfile_write(v, id, &o, out, &sum) == RL_OK;
}

/* pain.001 generation and signature for an approved same-as-last pay run over every
 * employment: the file built, signed by two approvers' key, written, read back and
 * verified (payfile_write). Setup (pay run, approvers, approval, key ceremony) untimed. */
static sample wl_payfile(int plain)
{
    char out[330];
    snprintf(out, sizeof out, "%s/pay.xml", scratch);
    vault *v = NULL;
    signing_session *s = NULL;
    int64_t id = 0;
    double t0 = 0, t1 = 0;
    int ok = payfile_setup(plain, 0, &v, &s, &id);
    if (ok) {
        t0 = now();
        ok = payfile_make(v, s, id, out);
        t1 = now();
        if (ok && keep_payfile && !plain) {
            char cmd[1200];
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", out, keep_payfile);
            ok = system(cmd) == 0;
        }
        if (!ok)
            fprintf(stderr, "bench: payment file: %s\n", err_msg());
    }
    signing_close(s);
    vault_close(v);
    return ok ? (sample){t1 - t0, 0, 0} : failed;
}

/* The first journal export of a vault holding the snapshot, the 10,000-line batch (1 %
 * approved), a released pay run and its payment file: every line built, the file signed,
 * written, read back and verified, registrations marked exported, committed. */
static sample wl_journal(int plain)
{
    char pay[330], out[330];
    snprintf(pay, sizeof pay, "%s/pay.xml", scratch);
    snprintf(out, sizeof out, "%s/journal.jsonl", scratch);
    vault *v = NULL;
    signing_session *s = NULL;
    int64_t id = 0;
    double t0 = 0, t1 = 0;
    int ok = batch_path != NULL && payfile_setup(plain, 1, &v, &s, &id) &&
             payfile_make(v, s, id, pay);
    if (ok) {
        journal_export_summary sum;
        t0 = now();
        ok = journal_export(v, s, out, &sum) == RL_OK;
        t1 = now();
    }
    if (!ok)
        fprintf(stderr, "bench: journal export: %s\n", err_msg());
    signing_close(s);
    vault_close(v);
    return ok ? (sample){t1 - t0, 0, 0} : failed;
}
static sample wl_payrun_recalc(int plain) { return run_payrun(plain, "recalculate"); }

static sample wl_batch(int plain)
{
    vault *v = fresh_vault(plain, 1);
    if (v == NULL)
        return failed;
    size_t n = 0;
    double t0 = now();
    int rc = registry_batch(v, batch_path, stderr, &n);
    double t1 = now();
    vault_close(v);
    if (rc != RL_OK) {
        fprintf(stderr, "bench: batch: %s\n", err_msg());
        return failed;
    }
    return (sample){t1 - t0, 0, 0};
}

/* Runs the workload once more in a child and adds its figures to out. */
static int measure(workload fn, int plain, result *out)
{
    if (out->n >= MAX_RUNS)
        return -1;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/v'", scratch);
    if (system(cmd) != 0)
        return -1;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        sample s = fn(plain);
        ssize_t w = write(fds[1], &s, sizeof s);
        _exit(w == (ssize_t)sizeof s && s.secs >= 0 ? 0 : 1);
    }
    close(fds[1]);
    sample s = failed;
    ssize_t got = read(fds[0], &s, sizeof s);
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof s || s.secs < 0)
        return -1;
    out->p50[out->n] = s.p50;
    out->p99[out->n] = s.p99;
    out->secs[out->n++] = s.secs;
    if (ru.ru_maxrss > out->rss_kb)
        out->rss_kb = ru.ru_maxrss;
    return 0;
}

#ifdef RL_BENCH_SQLCIPHER
/* The child's figures: one JSON line per workload on its stdout. */
static void emit(const char *name, const result *r)
{
    const double *arrays[] = {r->secs, r->p50, r->p99};
    const char *keys[] = {"secs", "p50", "p99"};
    printf("{\"workload\":\"%s\",\"rss_kb\":%ld", name, r->rss_kb);
    for (size_t a = 0; a < 3; a++) {
        printf(",\"%s\":[", keys[a]);
        for (int i = 0; i < r->n; i++)
            printf("%s%.9f", i ? "," : "", arrays[a][i]);
        printf("]");
    }
    printf("}\n");
    fflush(stdout);
}

/* SQLCipher's counterpart of the vault open row: opening the keyed database and reading
 * its first page, which is when SQLCipher derives the key (PBKDF2). */
static sample wl_sqlcipher_open(int plain)
{
    char dir[300], db_path[320];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    snprintf(db_path, sizeof db_path, "%s/vault.db", dir);
    vault_bench_set_plain(plain);
    if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK)
        return failed;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double t0 = now();
    int ok = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) ==
                 SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    double t1 = now();
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok ? (sample){t1 - t0, 0, 0} : failed;
}
#define WL_OPEN wl_sqlcipher_open
#else
#define WL_OPEN wl_open

static const char *sqlcipher_prog; /* --sqlcipher PROGRAM: the SQLCipher baseline */
static long bench_size;

/* Runs the SQLCipher baseline program for one workload and returns its stdout, malloc'd;
 * NULL on failure (its stderr passes through). */
static char *sqlcipher_run(const char *name)
{
    char size[32], sub[300];
    snprintf(size, sizeof size, "%ld", bench_size);
    /* One run per call (the rounds interleave it with ours), in a scratch directory that
     * outlives the call so its template vaults are built once. */
    snprintf(sub, sizeof sub, "%s/sqlcipher", scratch);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST)
        return NULL;
    const char *argv[16] = {sqlcipher_prog, "--snapshot", snapshot_dir, "--size", size,
                            "--runs", "1", "--scratch", sub};
    int argc = 9;
    if (batch_path) {
        argv[argc++] = "--batch";
        argv[argc++] = batch_path;
    }
    argv[argc++] = "--only";
    argv[argc++] = name;
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(sqlcipher_prog, (char *const *)argv);
        fprintf(stderr, "bench: %s: %s\n", sqlcipher_prog, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t got = 0;
    while (buf && pid > 0 && (got = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || buf == NULL || got < 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Runs the SQLCipher baseline once more for one workload and adds its figures to out: 0
 * or -1. */
static int sqlcipher_measure(const char *name, result *out)
{
    char *text = sqlcipher_run(name);
    json_value *j = NULL;
    int rc = -1;
    if (text == NULL || json_parse(text, strlen(text), &j) != RL_OK)
        goto cleanup;
    const json_value *w = json_get(j, "workload"), *rss = json_get(j, "rss_kb");
    const char *arrays_key[] = {"secs", "p50", "p99"};
    double *arrays[] = {out->secs, out->p50, out->p99};
    int64_t kb = 0;
    if (w == NULL || json_string(w, NULL) == NULL || strcmp(json_string(w, NULL), name) != 0 ||
        rss == NULL || json_int64(rss, &kb) != RL_OK)
        goto cleanup;
    if ((long)kb > out->rss_kb)
        out->rss_kb = (long)kb;
    for (size_t a = 0; a < 3; a++) {
        const json_value *arr = json_get(j, arrays_key[a]);
        if (arr == NULL || json_typeof(arr) != JSON_ARRAY || json_len(arr) != 1 ||
            out->n >= MAX_RUNS)
            goto cleanup;
        const char *num = json_number_text(json_at(arr, 0));
        if (num == NULL)
            goto cleanup;
        arrays[a][out->n] = strtod(num, NULL);
    }
    out->n++;
    rc = 0;
cleanup:
    if (rc != 0)
        fprintf(stderr, "bench: the SQLCipher baseline (%s) failed for %s\n", sqlcipher_prog, name);
    json_free(j);
    free(text);
    return rc;
}

static void print_base(const result *r, double value, double base_value)
{
    if (r)
        printf(" %9.3f %6.2f", base_value, value / base_value);
    else
        printf(" %9s %6s", "-", "-");
}

static void json_base(FILE *json, const char *key, const result *r, double value,
                      double base_value, const char *unit)
{
    if (r)
        fprintf(json, ",\"%s_median_%s\":%.6f,\"ratio_%s\":%.3f,\"%s_peak_rss_mib\":%.1f", key,
                unit, base_value, key, value / base_value, key, (double)r->rss_kb / 1024);
}

/* A row: ours and, where measured (not NULL), the plain-SQLite and SQLCipher baselines.
 * The JSON keeps "baseline"/"baseline_median_s"/"ratio" for the plain-SQLite one. */
static void row(FILE *json, const char *name, long size, result *r, result *plain, result *sq)
{
    double med = median(r);
    double mn = r->secs[0], mx = r->secs[r->n - 1];
    double pmed = plain ? median(plain) : 0, smed = sq ? median(sq) : 0;
    printf("%-22s %9ld %9.3f %9.3f %9.3f %9.1f", name, size, med, mn, mx, (double)r->rss_kb / 1024);
    print_base(plain, med, pmed);
    print_base(sq, med, smed);
    printf("\n");
    fflush(stdout);
    if (json) {
        fprintf(json,
                "{\"workload\":\"%s\",\"size\":%ld,\"runs\":%d,\"median_s\":%.6f,\"min_s\":%.6f,"
                "\"max_s\":%.6f,\"peak_rss_mib\":%.1f",
                name, size, r->n, med, mn, mx, (double)r->rss_kb / 1024);
        if (plain)
            fprintf(json, ",\"baseline\":\"plain SQLite\",\"baseline_median_s\":%.6f,\"ratio\":%.3f",
                    pmed, med / pmed);
        json_base(json, "sqlcipher", sq, med, smed, "s");
        fprintf(json, "}\n");
        fflush(json);
    }
}

/* The median over runs of each run's p50 and p99, in milliseconds. */
static void latencies(const result *r, double *m50, double *m99)
{
    result x = *r;
    memcpy(x.secs, r->p50, sizeof r->p50);
    *m50 = median(&x) * 1000;
    memcpy(x.secs, r->p99, sizeof r->p99);
    *m99 = median(&x) * 1000;
}

/* A latency row: p50 and p99 where other rows have median and min; the ratio columns at
 * p99, the ratios at p50 after them (p99 of 1,000 registrations is the tenth-slowest fsync,
 * as noisy in the baselines as in ours). */
static void latency_row(FILE *json, const char *name, long size, result *r, result *plain,
                        result *sq)
{
    double m50, m99, p50 = 0, p99 = 0, s50 = 0, s99 = 0;
    latencies(r, &m50, &m99);
    if (plain)
        latencies(plain, &p50, &p99);
    if (sq)
        latencies(sq, &s50, &s99);
    printf("%-22s %9ld %7.3fms %7.3fms %9s %9.1f", name, size, m50, m99, "",
           (double)r->rss_kb / 1024);
    print_base(plain, m99, p99);
    print_base(sq, m99, s99);
    printf("  (p50, p99; baselines' p99 in ms");
    if (plain && p50 > 0)
        printf("; at p50: plain %.3fms ratio %.2f", p50, m50 / p50);
    if (sq && s50 > 0)
        printf(", SQLCipher %.3fms ratio %.2f", s50, m50 / s50);
    printf(")\n");
    fflush(stdout);
    if (json) {
        fprintf(json,
                "{\"workload\":\"%s\",\"size\":%ld,\"runs\":%d,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                "\"peak_rss_mib\":%.1f",
                name, size, r->n, m50, m99, (double)r->rss_kb / 1024);
        if (plain)
            fprintf(json, ",\"baseline\":\"plain SQLite\",\"baseline_p50_ms\":%.4f,"
                          "\"baseline_p99_ms\":%.4f,\"ratio_p99\":%.3f,\"ratio_p50\":%.3f",
                    p50, p99, m99 / p99, m50 / p50);
        if (sq)
            fprintf(json, ",\"sqlcipher_p50_ms\":%.4f,\"sqlcipher_p99_ms\":%.4f,"
                          "\"ratio_sqlcipher_p99\":%.3f,\"ratio_sqlcipher_p50\":%.3f,"
                          "\"sqlcipher_peak_rss_mib\":%.1f",
                    s50, s99, m99 / s99, m50 / s50, (double)sq->rss_kb / 1024);
        fprintf(json, "}\n");
        fflush(json);
    }
}
#endif

/* --only TEXT runs the workloads whose name contains TEXT (for profiling one of them). */
static const char *only;
static int want(const char *name) { return only == NULL || strstr(name, only) != NULL; }

enum { BASE_PLAIN = 1, BASE_SQLCIPHER = 2, NEEDS_BATCH = 4, LATENCY = 8 };

static const struct {
    const char *name;
    workload fn;
    int flags;
} workloads[] = {
    {"snapshot import", wl_import, BASE_PLAIN | BASE_SQLCIPHER},
    {"durable registration", wl_register, BASE_PLAIN | BASE_SQLCIPHER | LATENCY},
    {"10,000-line batch", wl_batch, BASE_PLAIN | BASE_SQLCIPHER | NEEDS_BATCH},
    {"pay run same-as-last", wl_payrun_same, BASE_PLAIN | BASE_SQLCIPHER},
    {"pay run recalculate", wl_payrun_recalc, BASE_PLAIN | BASE_SQLCIPHER},
    {"pain.001 + signature", wl_payfile, BASE_PLAIN | BASE_SQLCIPHER},
    {"journal export", wl_journal, BASE_PLAIN | BASE_SQLCIPHER | NEEDS_BATCH},
    /* Our Argon2id unlock against SQLCipher's PBKDF2 key derivation: different costs by
     * design (docs/performance.md), shown side by side, not a target. */
    {"vault open (Argon2id)", WL_OPEN, BASE_SQLCIPHER},
};

int main(int argc, char **argv)
{
    long size = 0;
    int runs = 3, settings = 0;
    const char *json_path = NULL, *given_scratch = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--snapshot") == 0)
            snapshot_dir = argv[i + 1];
        else if (strcmp(argv[i], "--size") == 0)
            size = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--json") == 0)
            json_path = argv[i + 1];
        else if (strcmp(argv[i], "--batch") == 0)
            batch_path = argv[i + 1];
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
        else if (strcmp(argv[i], "--keep-payfile") == 0)
            keep_payfile = argv[i + 1];
        else if (strcmp(argv[i], "--settings") == 0)
            settings = 1;
        else if (strcmp(argv[i], "--scratch") == 0)
            given_scratch = argv[i + 1];
#ifndef RL_BENCH_SQLCIPHER
        else if (strcmp(argv[i], "--sqlcipher") == 0)
            sqlcipher_prog = argv[i + 1];
#endif
    }
    if (snapshot_dir == NULL || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench --snapshot DIR --size N [--runs R] [--json FILE] [--batch FILE] [--only TEXT] [--keep-payfile PATH] [--sqlcipher PROGRAM] [--settings 1] [--scratch DIR]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
#ifdef RL_BENCH_SQLCIPHER
    char conf[512];
    if (sqlite3_auto_extension((void (*)(void))sqlcipher_key) != SQLITE_OK ||
        sqlcipher_settings(conf, sizeof conf) != 0) {
        fprintf(stderr, "bench-sqlcipher: not linked with SQLCipher, or it cannot key a "
                        "database (PRAGMA cipher_version gave nothing)\n");
        return 1;
    }
    if (settings) {
        printf("%s\n", conf);
        return 0;
    }
#else
    bench_size = size;
    if (settings) {
        fprintf(stderr, "bench: --settings is for the SQLCipher baseline program\n");
        return 2;
    }
#endif
    char key_path[512];
    const char *top = getenv("TOP");
    char *kt = NULL;
    size_t kl = 0;
    snprintf(rules_path, sizeof rules_path, "%s/app/rules/payroll.lua", top ? top : ".");
    snprintf(key_path, sizeof key_path, "%s/keys/test/rules-TEST.pub", top ? top : ".");
    if (file_read_all(key_path, sizeof rules_key_text - 1, &kt, &kl) != RL_OK) {
        fprintf(stderr, "bench: %s\n", err_msg());
        return 1;
    }
    memcpy(rules_key_text, kt, kl + 1);
    free(kt);
    snprintf(key_path, sizeof key_path, "%s/keys/test/export-TEST.pub", top ? top : ".");
    if (minisig_pubkey_load(key_path, &export_pk) != RL_OK) {
        fprintf(stderr, "bench: %s\n", err_msg());
        return 1;
    }
    /* --scratch DIR (the baseline program's, given by bench): templates kept between
     * calls, and the directory left for its owner to remove. */
    snprintf(scratch, sizeof scratch, "%s", given_scratch ? given_scratch : "/tmp/rl-bench-XXXXXX");
    if (given_scratch == NULL && mkdtemp(scratch) == NULL)
        return 1;
    FILE *json = json_path ? fopen(json_path, "a") : NULL;
    int rc = 0;
    for (size_t w = 0; rc == 0 && w < sizeof workloads / sizeof workloads[0]; w++) {
        const char *name = workloads[w].name;
        int flags = workloads[w].flags;
        if (!want(name) || ((flags & NEEDS_BATCH) && batch_path == NULL))
            continue;
        result ours;
#ifdef RL_BENCH_SQLCIPHER
        /* The baseline program measures the vault on the default VFS, keyed by SQLCipher. */
        (void)json, (void)size;
        if (!(flags & BASE_SQLCIPHER))
            continue;
        memset(&ours, 0, sizeof ours);
        int ok = 1;
        for (int i = 0; i < runs && ok; i++)
            ok = measure(workloads[w].fn, 1, &ours) == 0;
        if (!ok) {
            fprintf(stderr, "bench-sqlcipher: %s failed\n", name);
            rc = 1;
        } else {
            emit(name, &ours);
        }
#else
        result plain, sq;
        int with_plain = (flags & BASE_PLAIN) != 0;
        int with_sq = (flags & BASE_SQLCIPHER) && sqlcipher_prog != NULL;
        memset(&ours, 0, sizeof ours);
        memset(&plain, 0, sizeof plain);
        memset(&sq, 0, sizeof sq);
        /* Interleaved rounds, ours first in even rounds and last in odd ones: this virtual
         * machine's disk and CPU drift by tens of percent over minutes, and a drift must
         * not land on one side of a ratio. */
        int ok = 1;
        for (int i = 0; i < runs && ok; i++) {
            if (i % 2 == 0)
                ok = measure(workloads[w].fn, 0, &ours) == 0;
            ok = ok && (!with_plain || measure(workloads[w].fn, 1, &plain) == 0) &&
                 (!with_sq || sqlcipher_measure(name, &sq) == 0);
            if (ok && i % 2 == 1)
                ok = measure(workloads[w].fn, 0, &ours) == 0;
        }
        if (!ok) {
            fprintf(stderr, "bench: %s failed\n", name);
            rc = 1;
        } else if (flags & LATENCY) {
            latency_row(json, name, size, &ours, with_plain ? &plain : NULL, with_sq ? &sq : NULL);
        } else {
            row(json, name, size, &ours, with_plain ? &plain : NULL, with_sq ? &sq : NULL);
        }
#endif
    }
    if (json)
        fclose(json);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'%s", scratch, given_scratch ? "/v" : "");
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
