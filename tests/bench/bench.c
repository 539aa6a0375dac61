/* bench: times the appliance's workloads against baselines measured in the same run.
 *
 *   bench --snapshot DIR --size N [--runs R] [--json FILE]
 *
 * Each run of a workload happens in a forked child (fresh vault in a scratch directory),
 * so peak RSS (ru_maxrss from wait4) belongs to that run alone. Prints one row per
 * workload: median, min, max seconds over the runs, peak RSS, and where a baseline exists
 * its median and the ratio ours/baseline. Appends the same as JSON lines to FILE. */
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

static double median(result *r)
{
    qsort(r->secs, (size_t)r->n, sizeof r->secs[0], cmp_double);
    return r->n % 2 ? r->secs[r->n / 2] : (r->secs[r->n / 2 - 1] + r->secs[r->n / 2]) / 2;
}

/* Workloads run in the child; each fills a sample (secs < 0 on failure). */
typedef sample (*workload)(int plain);

static const sample failed = {-1, 0, 0};

/* A fresh vault in the scratch directory; with the snapshot imported if asked. */
static vault *fresh_vault(int plain, int with_snapshot)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    vault_bench_set_plain(plain);
    vault *v = NULL;
    if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK ||
        vault_open(dir, "bench", PASS, strlen(PASS), &v) != RL_OK ||
        vault_operator_add(v, "bench-reg", VAULT_ROLE_REGISTRAR, PASS, strlen(PASS)) != RL_OK ||
        (with_snapshot &&
         snapshot_import(v, snapshot_dir, &export_pk, 0, stderr, NULL, NULL) != RL_OK) ||
        vault_begin(v) != RL_OK || vault_config_set(v, "rules_pubkey", rules_key_text) != RL_OK ||
        vault_commit(v) != RL_OK) {
        fprintf(stderr, "bench: %s\n", err_msg());
        vault_close(v);
        return NULL;
    }
    vault_close(v);
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

/* pain.001 generation and signature for an approved same-as-last pay run over every
 * employment: the file built, signed by two approvers' key, written, read back and
 * verified (payfile_write). Setup (pay run, approvers, approval, key ceremony) untimed. */
static sample wl_payfile(int plain)
{
    char dir[300], out[330];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    snprintf(out, sizeof out, "%s/pay.xml", scratch);
    vault *v = fresh_vault(plain, 1);
    if (v == NULL)
        return failed;
    char period[24], pay_date[11], status[16] = "";
    next_run(v, period, pay_date);
    payrun_params p = {.period = period, .pay_date = pay_date, .policy = "same-as-last",
                       .rules_path = rules_path};
    int64_t id = 0;
    signing_session *s = NULL;
    char pub[512];
    payfile_summary sum;
    double t0 = 0, t1 = 0;
    int ok = payrun_create(v, &p, NULL, &id) == RL_OK;
    vault_close(v);
    v = NULL;
    ok = ok && vault_open(dir, "bench", PASS, strlen(PASS), &v) == RL_OK &&
         vault_operator_add(v, "a1", VAULT_ROLE_APPROVER, PASS, strlen(PASS)) == RL_OK &&
         vault_operator_add(v, "a2", VAULT_ROLE_APPROVER, PASS, strlen(PASS)) == RL_OK;
    vault_close(v);
    v = NULL;
    ok = ok && vault_open(dir, "a1", PASS, strlen(PASS), &v) == RL_OK &&
         payrun_approve(v, id, status) == RL_OK;
    if (ok && strcmp(status, "approved") != 0) {
        vault_close(v);
        v = NULL;
        ok = vault_open(dir, "a2", PASS, strlen(PASS), &v) == RL_OK &&
             payrun_approve(v, id, status) == RL_OK;
        vault_close(v);
        v = NULL;
        ok = ok && vault_open(dir, "a1", PASS, strlen(PASS), &v) == RL_OK;
    }
    ok = ok && signing_pair_open(v, "a2", PASS, strlen(PASS), "bench", &s) == RL_OK &&
         signing_key_create(s, pub, sizeof pub) == RL_OK;
    if (ok) {
        payfile_options o = {.format = PAYFILE_PAIN001_03, .debtor_name = "Bench kommun",
                             .debtor_clearing = "5000", .debtor_account = "123 4560",
                             .debtor_bic = "ESSESESS", .signer = s,
                             .leave_out_unpayable = true};
        t0 = now();
        ok = payfile_write(v, id, &o, out, &sum) == RL_OK;
        t1 = now();
        if (ok && keep_payfile && !plain) {
            char cmd[1200];
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", out, keep_payfile);
            ok = system(cmd) == 0;
        }
    }
    if (!ok)
        fprintf(stderr, "bench: payment file: %s\n", err_msg());
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

static int measure(workload fn, int plain, int runs, result *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < runs; i++) {
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
    }
    return 0;
}

static void row(FILE *json, const char *name, long size, result *r, result *base,
                const char *base_name)
{
    double med = median(r);
    double mn = r->secs[0], mx = r->secs[r->n - 1];
    printf("%-22s %9ld %9.3f %9.3f %9.3f %9.1f", name, size, med, mn, mx, (double)r->rss_kb / 1024);
    if (base) {
        double bmed = median(base);
        printf("  %-14s %9.3f %7.2f", base_name, bmed, med / bmed);
    }
    printf("\n");
    fflush(stdout);
    if (json) {
        fprintf(json,
                "{\"workload\":\"%s\",\"size\":%ld,\"runs\":%d,\"median_s\":%.6f,\"min_s\":%.6f,"
                "\"max_s\":%.6f,\"peak_rss_mib\":%.1f",
                name, size, r->n, med, mn, mx, (double)r->rss_kb / 1024);
        if (base)
            fprintf(json, ",\"baseline\":\"%s\",\"baseline_median_s\":%.6f,\"ratio\":%.3f",
                    base_name, median(base), med / median(base));
        fprintf(json, "}\n");
    }
}

/* A latency row: the median over runs of each run's p50 and p99, in milliseconds. */
static void latency_row(FILE *json, const char *name, long size, result *r, result *base)
{
    result p50 = *r, p99 = *r, b50, b99;
    memcpy(p50.secs, r->p50, sizeof r->p50);
    memcpy(p99.secs, r->p99, sizeof r->p99);
    double m50 = median(&p50) * 1000, m99 = median(&p99) * 1000;
    memcpy(&b50, base, sizeof b50);
    memcpy(&b99, base, sizeof b99);
    memcpy(b50.secs, base->p50, sizeof base->p50);
    memcpy(b99.secs, base->p99, sizeof base->p99);
    double bm50 = median(&b50) * 1000, bm99 = median(&b99) * 1000;
    printf("%-22s %9ld %8.3fms %8.3fms %9s %9.1f  %-14s %8.3fms %7.2f   (p50, p99; baseline p99)\n",
           name, size, m50, m99, "", (double)r->rss_kb / 1024, "plain SQLite", bm99, m99 / bm99);
    if (json)
        fprintf(json,
                "{\"workload\":\"%s\",\"size\":%ld,\"runs\":%d,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                "\"peak_rss_mib\":%.1f,\"baseline\":\"plain SQLite\",\"baseline_p50_ms\":%.4f,"
                "\"baseline_p99_ms\":%.4f,\"ratio_p99\":%.3f}\n",
                name, size, r->n, m50, m99, (double)r->rss_kb / 1024, bm50, bm99, m99 / bm99);
}

/* --only TEXT runs the workloads whose name contains TEXT (for profiling one of them). */
static const char *only;
static int want(const char *name) { return only == NULL || strstr(name, only) != NULL; }

int main(int argc, char **argv)
{
    long size = 0;
    int runs = 3;
    const char *json_path = NULL;
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
    }
    if (snapshot_dir == NULL || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench --snapshot DIR --size N [--runs R] [--json FILE] [--batch FILE] [--only TEXT] [--keep-payfile PATH]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char key_path[512];
    const char *top = getenv("TOP");
    snprintf(key_path, sizeof key_path, "%s/keys/test/export-TEST.pub", top ? top : ".");
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
    snprintf(scratch, sizeof scratch, "%s", "/tmp/rl-bench-XXXXXX");
    if (mkdtemp(scratch) == NULL)
        return 1;
    FILE *json = json_path ? fopen(json_path, "a") : NULL;
    result ours, plain;
    int rc = 0;
    if (!want("snapshot import")) {
    } else if (measure(wl_import, 0, runs, &ours) != 0 || measure(wl_import, 1, runs, &plain) != 0) {
        fprintf(stderr, "bench: import failed\n");
        rc = 1;
    } else {
        row(json, "snapshot import", size, &ours, &plain, "plain SQLite");
    }
    if (rc == 0 && !want("durable registration")) {
    } else if (rc == 0 && (measure(wl_register, 0, runs, &ours) != 0 ||
                    measure(wl_register, 1, runs, &plain) != 0)) {
        fprintf(stderr, "bench: registration failed\n");
        rc = 1;
    } else if (rc == 0) {
        latency_row(json, "durable registration", size, &ours, &plain);
    }
    if (rc == 0 && batch_path && want("10,000-line batch")) {
        if (measure(wl_batch, 0, runs, &ours) != 0 || measure(wl_batch, 1, runs, &plain) != 0) {
            fprintf(stderr, "bench: batch failed\n");
            rc = 1;
        } else {
            row(json, "10,000-line batch", size, &ours, &plain, "plain SQLite");
        }
    }
    struct {
        workload fn;
        const char *name;
    } payruns[] = {{wl_payrun_same, "pay run same-as-last"}, {wl_payrun_recalc, "pay run recalculate"}};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        if (!want(payruns[i].name))
            continue;
        if (measure(payruns[i].fn, 0, runs, &ours) != 0 ||
            measure(payruns[i].fn, 1, runs, &plain) != 0) {
            fprintf(stderr, "bench: %s failed\n", payruns[i].name);
            rc = 1;
        } else {
            row(json, payruns[i].name, size, &ours, &plain, "plain SQLite");
        }
    }
    if (rc == 0 && want("pain.001 + signature")) {
        if (measure(wl_payfile, 0, runs, &ours) != 0 || measure(wl_payfile, 1, runs, &plain) != 0) {
            fprintf(stderr, "bench: payment file failed\n");
            rc = 1;
        } else {
            row(json, "pain.001 + signature", size, &ours, &plain, "plain SQLite");
        }
    }
    if (rc == 0 && want("vault open (Argon2id)") && measure(wl_open, 0, runs, &ours) == 0)
        row(json, "vault open (Argon2id)", size, &ours, NULL, NULL);
    if (json)
        fclose(json);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
