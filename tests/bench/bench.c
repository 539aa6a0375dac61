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
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/vault.h"

#define PASS "bench passphrase 2026"
#define MAX_RUNS 15

typedef struct {
    double secs[MAX_RUNS];
    long rss_kb;
    int n;
} result;

static const char *snapshot_dir;
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

/* Workloads run in the child; each returns the seconds of the timed part or < 0. */
typedef double (*workload)(int plain);

static double wl_import(int plain)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    vault_bench_set_plain(plain);
    vault *v = NULL;
    if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK ||
        vault_open(dir, "bench", PASS, strlen(PASS), &v) != RL_OK) {
        fprintf(stderr, "bench: %s\n", err_msg());
        return -1;
    }
    double t0 = now();
    int rc = snapshot_import(v, snapshot_dir, &export_pk, 0, stderr, NULL, NULL);
    double t1 = now();
    vault_close(v);
    if (rc != RL_OK) {
        fprintf(stderr, "bench: import: %s\n", err_msg());
        return -1;
    }
    return t1 - t0;
}

static double wl_open(int plain)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/v", scratch);
    vault_bench_set_plain(plain);
    vault *v = NULL;
    if (vault_create(dir, "bench", PASS, strlen(PASS)) != RL_OK)
        return -1;
    double t0 = now();
    int rc = vault_open(dir, "bench", PASS, strlen(PASS), &v);
    double t1 = now();
    vault_close(v);
    return rc == RL_OK ? t1 - t0 : -1;
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
            double s = fn(plain);
            ssize_t w = write(fds[1], &s, sizeof s);
            _exit(w == (ssize_t)sizeof s && s >= 0 ? 0 : 1);
        }
        close(fds[1]);
        double s = -1;
        ssize_t got = read(fds[0], &s, sizeof s);
        close(fds[0]);
        int status = 0;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof s || s < 0)
            return -1;
        out->secs[out->n++] = s;
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
    }
    if (snapshot_dir == NULL || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench --snapshot DIR --size N [--runs R] [--json FILE]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char key_path[512];
    const char *top = getenv("TOP");
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
    if (measure(wl_import, 0, runs, &ours) != 0 || measure(wl_import, 1, runs, &plain) != 0) {
        fprintf(stderr, "bench: import failed\n");
        rc = 1;
    } else {
        row(json, "snapshot import", size, &ours, &plain, "plain SQLite");
    }
    if (rc == 0 && measure(wl_open, 0, runs, &ours) == 0)
        row(json, "vault open (Argon2id)", size, &ours, NULL, NULL);
    if (json)
        fclose(json);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
