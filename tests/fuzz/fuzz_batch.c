/* libFuzzer target: the registration batch reader (app/registry: registry_batch), JSON Lines
 * and CSV, with every document's validation against a real vault.
 *
 * A vault is made once per process in a private temporary directory (/dev/shm when it
 * exists): created, the small signed snapshot in tests/fuzz/snapshot imported (run from the
 * repository top, as make fuzz does; RL_FUZZ_SNAPSHOT overrides), and a registrar logged
 * in. Each input is written to a file there and registered as a batch. An SQLite commit
 * hook turns the batch's COMMIT into a rollback, so every input meets the same vault and a
 * run costs no key derivation. What must hold: a batch is all or nothing (nothing is left
 * stored, no transaction is left open, the commit counter does not move), a refusal has a
 * message, and no input makes the vault report damage or an I/O failure. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/err.h"
#include "registry/registry.h"
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[256], vault_path[300], input_path[300];
static vault *v;
static FILE *devnull;
static int reached_commit;
static uint64_t commits_at_start;

/* Counts a table's rows; -1 on error. */
static int64_t rows(const char *table)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    if (sqlite3_prepare_v2(vault_db(v), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int refuse_commit(void *arg)
{
    *(int *)arg = 1;
    return 1; /* non-zero: SQLite turns the COMMIT into a ROLLBACK */
}

static void remove_tree(void)
{
    vault_close(v);
    v = NULL;
    const char *dirs[] = {vault_path, tmpdir};
    for (size_t i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        char p[600];
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", dirs[i], e->d_name);
            unlink(p);
        }
        if (d)
            closedir(d);
        rmdir(dirs[i]);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_batch: %s: %s\n", what, err_msg());
    abort();
}

static void setup(void)
{
    static const char admin_pass[] = "fuzz admin passphrase";
    static const char reg_pass[] = "fuzz registrar passphrase";
    const char *snap = getenv("RL_FUZZ_SNAPSHOT");
    if (snap == NULL || snap[0] == '\0')
        snap = "tests/fuzz/snapshot";
    if (sodium_init() < 0)
        die("sodium_init");
    snprintf(tmpdir, sizeof tmpdir, "%s/rl-fuzz-batch.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        die("mkdtemp");
    snprintf(vault_path, sizeof vault_path, "%s/vault", tmpdir);
    snprintf(input_path, sizeof input_path, "%s/batch", tmpdir);
    atexit(remove_tree);
    minisig_pubkey pk;
    snapshot_counts c;
    if (vault_create(vault_path, "admin", admin_pass, strlen(admin_pass)) != RL_OK ||
        vault_open(vault_path, "admin", admin_pass, strlen(admin_pass), &v) != RL_OK ||
        minisig_pubkey_load("keys/test/export-TEST.pub", &pk) != RL_OK ||
        snapshot_import(v, snap, &pk, 0, NULL, NULL, &c) != RL_OK ||
        vault_operator_add(v, "reg", VAULT_ROLE_REGISTRAR, reg_pass, strlen(reg_pass)) != RL_OK)
        die("setting up the vault (run from the repository top)");
    vault_close(v);
    if (vault_open(vault_path, "reg", reg_pass, strlen(reg_pass), &v) != RL_OK)
        die("logging in as the registrar");
    if ((devnull = fopen("/dev/null", "w")) == NULL)
        die("/dev/null");
    sqlite3_commit_hook(vault_db(v), refuse_commit, &reached_commit);
    commits_at_start = vault_commits(v);
}

/* A broken promise: say which, with the batch's result, then crash for libFuzzer. */
static void broken(const char *what, int rc)
{
    fprintf(stderr, "fuzz_batch: %s (rc %d, commit reached %d): %s\n", what, rc,
            reached_commit, err_msg());
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (v == NULL)
        setup();
    int fd = open(input_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        die("writing the input");
    size_t n = 99;
    reached_commit = 0;
    err_clear();
    int rc = registry_batch(v, input_path, devnull, &n);
    /* The hook refused every commit, so nothing can have succeeded. */
    if (rc == RL_OK || n != 0 || err_msg()[0] == '\0')
        broken("a batch succeeded past a refused commit, or failed without a message", rc);
    /* No input may look like damage or make the operating system fail; an accepted batch
     * ends in the refused commit (SQLITE_CONSTRAINT_COMMITHOOK: RL_EDATA). */
    if (rc == RL_EINTEGRITY || rc == RL_EIO || rc == RL_EAUTH ||
        (reached_commit && rc != RL_EDATA))
        broken("an input made the vault report damage, an I/O or a login failure", rc);
    /* All or nothing: no transaction open, nothing stored, the counter unmoved. */
    if (!sqlite3_get_autocommit(vault_db(v)) || vault_commits(v) != commits_at_start ||
        rows("registrations") != 0)
        broken("a refused batch left something behind", rc);
    return 0;
}
