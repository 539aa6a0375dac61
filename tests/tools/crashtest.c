/* crashtest: power-cut fault injection for the vault (make crashtest, docs/crashtest.md).
 *
 *   crashtest drive --template DIR --work DIR --faultlib SO [--points N] [--jobs J]
 *                   [--regs W] [--seed S] [--only K] [--mode drop|mix]
 *   crashtest work  VAULT ACKLOG W      (run under the fault layer by drive)
 *   crashtest check VAULT ACKLOG        (prints one result line; exit 0 good, 1 bad)
 *
 * TEMPLATE is a vault with a snapshot and a registrar "bob" (tests/crash/run makes it).
 * work opens the vault once and registers W one_off documents (amount 100000+i, reason
 * "crashtest-i"), appending "i uuid" to ACKLOG only after registry_register returned
 * success. drive first runs work without a fault to count the operations T on the vault's
 * files, then for N crash points k spread over 1..T: copies the template, runs work with
 * the power cut at operation k (LD_PRELOAD=SO, FAULT_AT=k), then check: the vault opens,
 * vault_check passes (checkpoint, every page authenticated, integrity_check, audit chain),
 * every acknowledged registration is present with all its fields and its audit entry,
 * nothing else is there but possibly the one in flight, and one more registration
 * succeeds. */
#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "registry/registry.h"
#include "vault/vault.h"

#define OPERATOR "bob"
#define PASS "crashtest passphrase"
#define FAULT_EXIT_CODE 86
#define MAX_ACK 100000

static int open_vault(const char *dir, vault **v)
{
    return vault_open(dir, OPERATOR, PASS, strlen(PASS), v);
}

static int one_off(vault *v, const char *emp, long i, char uuid[37])
{
    char amount[32], reason[48];
    snprintf(amount, sizeof amount, "%ld", 100000 + i);
    snprintf(reason, sizeof reason, "crashtest-%ld", i);
    reg_field f[] = {{"employment_id", emp},
                     {"amount_ore", amount},
                     {"pay_code", "CRASH"},
                     {"reason", reason}};
    FILE *devnull = fopen("/dev/null", "w");
    int rc = registry_register(v, "one_off", f, 4, NULL, devnull, uuid);
    if (devnull)
        fclose(devnull);
    return rc;
}

static int first_employment(vault *v, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT employment_id FROM employments WHERE end_date IS NULL"
                           " ORDER BY employment_id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        ok = 1;
    }
    sqlite3_finalize(st);
    return ok;
}

/* --- work ------------------------------------------------------------------------------- */

static int cmd_work(const char *dir, const char *acklog, long w)
{
    vault *v = NULL;
    if (open_vault(dir, &v) != RL_OK) {
        fprintf(stderr, "work: open: %s\n", err_msg());
        return 1;
    }
    char emp[80];
    if (!first_employment(v, emp, sizeof emp)) {
        fprintf(stderr, "work: no employment in the template\n");
        return 1;
    }
    FILE *ack = fopen(acklog, "a");
    if (ack == NULL)
        return 1;
    for (long i = 1; i <= w; i++) {
        char uuid[37];
        if (one_off(v, emp, i, uuid) != RL_OK) {
            fprintf(stderr, "work: registration %ld: %s\n", i, err_msg());
            return 1;
        }
        /* Acknowledged: the caller has been told. Not under FAULT_DIR, so it survives. */
        fprintf(ack, "%ld %s\n", i, uuid);
        fflush(ack);
    }
    fclose(ack);
    vault_close(v);
    return 0;
}

/* --- check ------------------------------------------------------------------------------ */

typedef struct {
    int opened, check_ok, lost, corrupt, extra;
    long acked;
    char msg[400];
} result;

static int in_audit(vault *v, const char *uuid)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT count(*) FROM audit WHERE action='registration.add'"
                           " AND detail = 'registered one_off ' || ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

static void do_check(const char *dir, const char *acklog, result *r)
{
    memset(r, 0, sizeof *r);
    static char ack_uuid[MAX_ACK + 2][37];
    static char seen[MAX_ACK + 2];
    memset(seen, 0, sizeof seen);
    FILE *a = fopen(acklog, "r");
    long i;
    char u[37];
    while (a && fscanf(a, "%ld %36s", &i, u) == 2)
        if (i >= 1 && i <= MAX_ACK && i == r->acked + 1) {
            memcpy(ack_uuid[i], u, sizeof ack_uuid[i]);
            r->acked = i;
        }
    if (a)
        fclose(a);
    vault *v = NULL;
    if (open_vault(dir, &v) != RL_OK) {
        snprintf(r->msg, sizeof r->msg, "open failed: %s", err_msg());
        r->corrupt = 1;
        return;
    }
    r->opened = 1;
    if (vault_check(v) != RL_OK) {
        snprintf(r->msg, sizeof r->msg, "vault_check failed: %s", err_msg());
        r->corrupt = 1;
        vault_close(v);
        return;
    }
    r->check_ok = 1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT uuid, fields, content_hash, status, author FROM registrations"
                           " WHERE type='one_off'",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(r->msg, sizeof r->msg, "cannot read registrations");
        r->corrupt = 1;
        vault_close(v);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *uuid = (const char *)sqlite3_column_text(st, 0);
        const char *fields = (const char *)sqlite3_column_text(st, 1);
        const char *hash = (const char *)sqlite3_column_text(st, 2);
        const char *status = (const char *)sqlite3_column_text(st, 3);
        const char *author = (const char *)sqlite3_column_text(st, 4);
        const char *p = fields ? strstr(fields, "crashtest-") : NULL;
        long n = p ? strtol(p + 10, NULL, 10) : 0;
        char amount[32];
        snprintf(amount, sizeof amount, "%ld", 100000 + n);
        int whole = p && n >= 1 && n <= MAX_ACK && strstr(fields, amount) &&
                    strstr(fields, "CRASH") && hash && strlen(hash) == 64 && status &&
                    strcmp(status, "registered") == 0 && author &&
                    strcmp(author, OPERATOR) == 0 && in_audit(v, uuid) == 1;
        if (!whole) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "partial registration %s: %s", uuid ? uuid : "?",
                     fields ? fields : "(no fields)");
            continue;
        }
        if (seen[n]++) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld stored twice", n);
        } else if (n <= r->acked && strcmp(uuid, ack_uuid[n]) != 0) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld has another uuid", n);
        } else if (n == r->acked + 1) {
            r->extra = 1; /* committed, the process died before it was acknowledged */
        } else if (n > r->acked + 1) {
            r->corrupt++;
            snprintf(r->msg, sizeof r->msg, "registration %ld was never attempted", n);
        }
    }
    sqlite3_finalize(st);
    for (i = 1; i <= r->acked; i++)
        if (!seen[i]) {
            r->lost++;
            snprintf(r->msg, sizeof r->msg, "acknowledged registration %ld is missing", i);
        }
    /* The vault must still take a change after the recovery. */
    char emp[80], uuid[37];
    if (!first_employment(v, emp, sizeof emp) || one_off(v, emp, MAX_ACK, uuid) != RL_OK) {
        r->corrupt++;
        snprintf(r->msg, sizeof r->msg, "no registration possible after recovery: %s",
                 err_msg());
    }
    vault_close(v);
}

static int cmd_check(const char *dir, const char *acklog)
{
    result r;
    do_check(dir, acklog, &r);
    printf("opened=%d check=%d acked=%ld inflight_committed=%d lost=%d corrupted=%d %s\n",
           r.opened, r.check_ok, r.acked, r.extra, r.lost, r.corrupt, r.msg);
    return r.lost || r.corrupt ? 1 : 0;
}

/* --- drive ------------------------------------------------------------------------------ */

static char self[4096], faultlib[4096];

static int copy_vault(const char *from, const char *to)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs work on dir under the fault layer; returns its exit status (86 = power cut). */
static int run_work(const char *dir, const char *acklog, long regs, unsigned long long at,
                    const char *mode, unsigned long long seed, const char *count_out)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char a[32], s[32], w[32];
        snprintf(a, sizeof a, "%llu", at);
        snprintf(s, sizeof s, "%llu", seed);
        snprintf(w, sizeof w, "%ld", regs);
        setenv("LD_PRELOAD", faultlib, 1);
        setenv("FAULT_DIR", dir, 1);
        setenv("FAULT_AT", a, 1);
        setenv("FAULT_MODE", mode, 1);
        setenv("FAULT_SEED", s, 1);
        if (count_out)
            setenv("FAULT_COUNT_OUT", count_out, 1);
        execl(self, self, "work", dir, acklog, w, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct {
    const char *tmpl, *work, *mode;
    long regs;
    unsigned long long seed;
} drive_cfg;

/* One crash point, in a child: writes its result line to WORK/k.result, exit 0/1/2. */
static int one_point(const drive_cfg *c, unsigned long long k)
{
    char dir[4200], ack[4200], res[4200];
    snprintf(dir, sizeof dir, "%s/p%llu", c->work, k);
    snprintf(ack, sizeof ack, "%s/p%llu.ack", c->work, k);
    snprintf(res, sizeof res, "%s/p%llu.result", c->work, k);
    unlink(ack);
    const char *mode = c->mode ? c->mode : (k % 2 ? "mix" : "drop");
    unsigned long long seed = c->seed * 1000003ULL + k;
    if (copy_vault(c->tmpl, dir) != 0)
        return 2;
    int ws = run_work(dir, ack, c->regs, k, mode, seed, NULL);
    result r;
    do_check(dir, ack, &r);
    FILE *f = fopen(res, "w");
    if (f) {
        fprintf(f, "%llu %s %d %d %d %ld %d %d %d %s\n", k, mode, ws, r.opened, r.check_ok,
                r.acked, r.extra, r.lost, r.corrupt, r.msg);
        fclose(f);
    }
    int bad = r.lost || r.corrupt || (ws != FAULT_EXIT_CODE && ws != 0);
    if (!bad) {
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, ack);
        if (system(cmd) != 0)
            return 2;
    }
    return bad;
}

static int cmd_drive(int argc, char **argv)
{
    drive_cfg c = {0};
    c.regs = 150;
    c.seed = 1;
    long points = 200, jobs = 2;
    unsigned long long only = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *o = argv[i], *val = argv[i + 1];
        if (!strcmp(o, "--template")) c.tmpl = val;
        else if (!strcmp(o, "--work")) c.work = val;
        else if (!strcmp(o, "--faultlib")) snprintf(faultlib, sizeof faultlib, "%s", val);
        else if (!strcmp(o, "--points")) points = atol(val);
        else if (!strcmp(o, "--jobs")) jobs = atol(val);
        else if (!strcmp(o, "--regs")) c.regs = atol(val);
        else if (!strcmp(o, "--seed")) c.seed = strtoull(val, NULL, 10);
        else if (!strcmp(o, "--only")) only = strtoull(val, NULL, 10);
        else if (!strcmp(o, "--mode")) c.mode = val;
        else {
            fprintf(stderr, "crashtest: unknown option %s\n", o);
            return 2;
        }
    }
    if (!c.tmpl || !c.work || !faultlib[0] || points < 1 || jobs < 1 || c.regs < 1 ||
        c.regs >= MAX_ACK) {
        fprintf(stderr, "usage: crashtest drive --template DIR --work DIR --faultlib SO "
                        "[--points N] [--jobs J] [--regs W] [--seed S] [--only K] [--mode M]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long *ks = NULL;
    size_t nk = 0;
    unsigned long long total = 0;
    if (only) {
        ks = malloc(sizeof *ks);
        ks[nk++] = only;
    } else {
        /* Count the operations of a whole run (no fault); it must pass the check too. */
        char dir[4200], ack[4200], cnt[4200];
        snprintf(dir, sizeof dir, "%s/count", c.work);
        snprintf(ack, sizeof ack, "%s/count.ack", c.work);
        snprintf(cnt, sizeof cnt, "%s/count.ops", c.work);
        unlink(ack);
        if (copy_vault(c.tmpl, dir) != 0)
            return 2;
        int ws = run_work(dir, ack, c.regs, 0, "drop", 0, cnt);
        FILE *f = fopen(cnt, "r");
        if (ws != 0 || f == NULL || fscanf(f, "%llu", &total) != 1 || total == 0) {
            fprintf(stderr, "crashtest: the counting run failed (exit %d)\n", ws);
            return 2;
        }
        fclose(f);
        result r;
        do_check(dir, ack, &r);
        if (r.lost || r.corrupt || r.acked != c.regs) {
            fprintf(stderr, "crashtest: the run without a fault fails its check: %s\n", r.msg);
            return 1;
        }
        /* N points spread over 1..T: one random point in each of N equal strata. */
        srand((unsigned)c.seed);
        ks = malloc(sizeof *ks * (size_t)points);
        for (long j = 0; j < points; j++) {
            unsigned long long lo = 1 + (unsigned long long)j * total / (unsigned long long)points;
            unsigned long long hi = 1 + (unsigned long long)(j + 1) * total / (unsigned long long)points;
            unsigned long long k = hi > lo ? lo + (unsigned long long)rand() % (hi - lo) : lo;
            if (k > total)
                k = total;
            if (nk == 0 || ks[nk - 1] != k)
                ks[nk++] = k;
        }
        printf("crashtest: %llu operations on the vault's files in a run of %ld registrations; "
               "%zu crash points\n",
               total, c.regs, nk);
        fflush(stdout);
    }
    size_t next = 0, running = 0;
    while (next < nk || running > 0) {
        while (next < nk && running < (size_t)jobs) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(one_point(&c, ks[next]));
            if (pid < 0)
                return 2;
            next++;
            running++;
        }
        int st;
        if (wait(&st) > 0)
            running--;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long run = 0, lost = 0, corrupt = 0, opened = 0, nocut = 0, inflight = 0, bad = 0;
    for (size_t j = 0; j < nk; j++) {
        char res[4200], line[1000], mode[8], msg[600] = "";
        snprintf(res, sizeof res, "%s/p%llu.result", c.work, ks[j]);
        FILE *f = fopen(res, "r");
        unsigned long long k;
        int ws, op, ck, ex, lo, co;
        long acked;
        if (f == NULL || fgets(line, sizeof line, f) == NULL ||
            sscanf(line, "%llu %7s %d %d %d %ld %d %d %d %599[^\n]", &k, mode, &ws, &op, &ck,
                   &acked, &ex, &lo, &co, msg) < 9) {
            printf("point %llu: no result\n", ks[j]);
            bad++;
            if (f)
                fclose(f);
            continue;
        }
        fclose(f);
        unlink(res);
        run++;
        opened += op;
        lost += lo;
        corrupt += co;
        inflight += ex;
        if (ws == 0)
            nocut++;
        if (lo || co || (ws != FAULT_EXIT_CODE && ws != 0)) {
            bad++;
            printf("FAIL point %llu (mode %s, work exit %d, acked %ld): lost %d, corrupted %d: "
                   "%s\n  reproduce: %s drive --template %s --work %s --faultlib %s --regs %ld "
                   "--seed %llu --only %llu --mode %s (vault kept in %s/p%llu)\n",
                   k, mode, ws, acked, lo, co, msg, self, c.tmpl, c.work, faultlib, c.regs,
                   c.seed, k, mode, c.work, k);
        }
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("crash points run: %ld (of %llu operations; %ld without a cut)\n", run, total, nocut);
    printf("opened ok: %ld\nlost acknowledged: %ld\ncorrupted: %ld\n", opened, lost, corrupt);
    printf("in-flight registration committed though unacknowledged: %ld\n", inflight);
    printf("time: %.1f s, %.2f s per crash point with %ld jobs\n", secs,
           run ? secs * (double)jobs / (double)run : 0.0, jobs);
    return bad || lost || corrupt ? 1 : 0;
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    if (sodium_init() < 0)
        return 2;
    if (argc == 5 && !strcmp(argv[1], "work"))
        return cmd_work(argv[2], argv[3], atol(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "drive"))
        return cmd_drive(argc, argv);
    fprintf(stderr, "usage: crashtest drive ... | work VAULT ACKLOG W | check VAULT ACKLOG\n");
    return 2;
}
