/* Unit tests for the page-sealing VFS: round trip, no plaintext on disk, and detection of
 * flipped bytes, swapped pages, truncation and a wrong key. These drive SQLite directly
 * with a raw key (no Argon2id), so they can afford to tamper with every page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "vault/vfs.h"

#define MARKER "Sven-Erik Plaintextsson"
#define ROWS 3000

static char dir[256];
static char dbpath[300];
static uint8_t key[32];

static void path_in(char *out, size_t cap, const char *leaf)
{
    snprintf(out, cap, "%s/%s", dir, leaf);
}

/* Opens dbpath through a fresh VFS instance with the vault's pragmas. */
static int open_db(const uint8_t *k, const char *path, sqlite3 **db, vfs_ctx **ctx)
{
    const char *name;
    if (vfs_create(k, ctx, &name) != RL_OK)
        return SQLITE_ERROR;
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, name);
    if (rc != SQLITE_OK)
        return rc;
    int reserve = VFS_RESERVE;
    sqlite3_file_control(*db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    sqlite3_extended_result_codes(*db, 1);
    return sqlite3_exec(*db,
                        "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                        "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;",
                        NULL, NULL, NULL);
}

static void close_db(sqlite3 *db, vfs_ctx *ctx)
{
    sqlite3_close_v2(db);
    vfs_destroy(ctx);
}

static void make_db(const char *path)
{
    sqlite3 *db;
    vfs_ctx *ctx;
    unlink(path);
    assert_int_equal(open_db(key, path, &db, &ctx), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);"
                                      "BEGIN;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(name) VALUES(?)", -1, &st, NULL),
                     SQLITE_OK);
    for (int i = 0; i < ROWS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %d", MARKER, i);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    close_db(db, ctx);
}

/* Reads every row; returns the first SQLite error, or SQLITE_OK with *count. */
static int scan(const uint8_t *k, const char *path, int *count)
{
    sqlite3 *db = NULL;
    vfs_ctx *ctx = NULL;
    int rc = open_db(k, path, &db, &ctx);
    *count = 0;
    if (rc == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db, "SELECT name FROM t ORDER BY id", -1, &st, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            (*count)++;
            rc = SQLITE_OK;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(st);
        if (rc == SQLITE_OK) {
            rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
            if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                    rc = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0
                             ? SQLITE_OK
                             : SQLITE_CORRUPT;
            }
            sqlite3_finalize(st);
        }
    }
    close_db(db, ctx);
    return rc;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    *len = file_size(path);
    unsigned char *b = malloc((size_t)*len + 1);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static void spill(const char *path, const unsigned char *b, long len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rl-vfs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    path_in(dbpath, sizeof dbpath, "v.db");
    randombytes_buf(key, sizeof key);
    make_db(dbpath);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(scan(key, dbpath, &n), SQLITE_OK);
    assert_int_equal(n, ROWS);
    assert_int_equal(file_size(dbpath) % VFS_PAGE_SIZE, 0);
}

static void test_no_plaintext_on_disk(void **state)
{
    (void)state;
    long len;
    unsigned char *b = slurp(dbpath, &len);
    assert_null(memmem(b, (size_t)len, "Plaintextsson", 13));
    assert_null(memmem(b, (size_t)len, "SQLite format 3", 15));
    assert_null(memmem(b, (size_t)len, "CREATE TABLE", 12));
    free(b);
    /* The same data through plain SQLite does contain the marker: the check can fail. */
    char plain[320];
    path_in(plain, sizeof plain, "plain.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(plain, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(name TEXT); INSERT INTO t VALUES('"
                                      "Sven-Erik Plaintextsson');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    b = slurp(plain, &len);
    assert_non_null(memmem(b, (size_t)len, "Plaintextsson", 13));
    free(b);
}

static void test_wrong_key_refused(void **state)
{
    (void)state;
    uint8_t other[32];
    memcpy(other, key, 32);
    other[0] ^= 1;
    int n = 0;
    int rc = scan(other, dbpath, &n);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_int_equal(n, 0);
}

/* Flips one bit in every page (at a different offset each time, including the nonce and
 * the tag) and requires both SQLite and the page verifier to notice. */
static void test_every_page_bit_flip_detected(void **state)
{
    (void)state;
    long len;
    unsigned char *orig = slurp(dbpath, &len);
    long pages = len / VFS_PAGE_SIZE;
    char copy[320];
    path_in(copy, sizeof copy, "flip.db");
    int detected_sql = 0, detected_verify = 0;
    for (long p = 0; p < pages; p++) {
        unsigned char *b = malloc((size_t)len);
        memcpy(b, orig, (size_t)len);
        long within = (p * 977 + 13) % VFS_PAGE_SIZE;
        if (p == 1)
            within = VFS_PAGE_SIZE - 30; /* inside the nonce */
        if (p == 2)
            within = VFS_PAGE_SIZE - 1; /* inside the tag */
        b[p * VFS_PAGE_SIZE + within] ^= (unsigned char)(1u << (p % 8));
        spill(copy, b, len);
        free(b);
        int n = 0;
        if (scan(key, copy, &n) != SQLITE_OK)
            detected_sql++;
        vfs_ctx *ctx;
        const char *name;
        uint64_t np = 0;
        assert_int_equal(vfs_create(key, &ctx, &name), RL_OK);
        if (vfs_verify_file(ctx, copy, &np) == RL_EINTEGRITY)
            detected_verify++;
        vfs_destroy(ctx);
    }
    free(orig);
    assert_true(pages > 10);
    assert_int_equal(detected_verify, pages);
    /* SQLite reads every in-use page in a full scan plus integrity_check. */
    assert_int_equal(detected_sql, pages);
}

static void test_swapped_pages_detected(void **state)
{
    (void)state;
    long len;
    unsigned char *b = slurp(dbpath, &len);
    unsigned char tmp[VFS_PAGE_SIZE];
    memcpy(tmp, b + 2 * VFS_PAGE_SIZE, VFS_PAGE_SIZE);
    memcpy(b + 2 * VFS_PAGE_SIZE, b + 3 * VFS_PAGE_SIZE, VFS_PAGE_SIZE);
    memcpy(b + 3 * VFS_PAGE_SIZE, tmp, VFS_PAGE_SIZE);
    char copy[320];
    path_in(copy, sizeof copy, "swap.db");
    spill(copy, b, len);
    int n = 0;
    assert_int_equal(scan(key, copy, &n) & 0xff, SQLITE_IOERR);
    /* A page copied over another is just as wrong. */
    memcpy(b + 3 * VFS_PAGE_SIZE, b + 2 * VFS_PAGE_SIZE, VFS_PAGE_SIZE);
    spill(copy, b, len);
    assert_int_not_equal(scan(key, copy, &n), SQLITE_OK);
    free(b);
}

static void test_truncation_detected(void **state)
{
    (void)state;
    long len;
    unsigned char *b = slurp(dbpath, &len);
    char copy[320];
    path_in(copy, sizeof copy, "trunc.db");
    int n = 0;
    /* Mid-page. */
    spill(copy, b, len - 100);
    assert_int_not_equal(scan(key, copy, &n), SQLITE_OK);
    vfs_ctx *ctx;
    const char *name;
    uint64_t np;
    assert_int_equal(vfs_create(key, &ctx, &name), RL_OK);
    assert_int_equal(vfs_verify_file(ctx, copy, &np), RL_EINTEGRITY);
    /* By whole pages: SQLite's structure check notices the missing pages. */
    spill(copy, b, len - 2 * VFS_PAGE_SIZE);
    assert_int_not_equal(scan(key, copy, &n), SQLITE_OK);
    /* To zero: an empty file verifies as nothing at all; the vault layer refuses it. */
    spill(copy, b, 0);
    assert_int_equal(vfs_verify_file(ctx, copy, &np), RL_EINTEGRITY);
    vfs_destroy(ctx);
    free(b);
}

/* The WAL: pages written and not yet checkpointed are sealed too. */
static void test_wal_sealed_and_recovered(void **state)
{
    (void)state;
    char wal_db[320], wal_copy[320], cmd[1400];
    path_in(wal_db, sizeof wal_db, "wal.db");
    path_in(wal_copy, sizeof wal_copy, "walcopy.db");
    sqlite3 *db;
    vfs_ctx *ctx;
    assert_int_equal(open_db(key, wal_db, &db, &ctx), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA wal_autocheckpoint=0; CREATE TABLE t(id INTEGER PRIMARY"
                                  " KEY, name TEXT); INSERT INTO t(name) VALUES('" MARKER "');"
                                  "INSERT INTO t(name) SELECT name FROM t;"
                                  "INSERT INTO t(name) SELECT name FROM t;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* Copy the files while the connection is open: what a crash leaves behind. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s-wal' '%s-wal'", wal_db, wal_copy, wal_db,
             wal_copy);
    assert_int_equal(system(cmd), 0);
    close_db(db, ctx);
    char walf[340];
    snprintf(walf, sizeof walf, "%s-wal", wal_copy);
    long len;
    unsigned char *b = slurp(walf, &len);
    assert_true(len > VFS_PAGE_SIZE);
    assert_null(memmem(b, (size_t)len, "Plaintextsson", 13));
    free(b);
    int n = 0;
    assert_int_equal(scan(key, wal_copy, &n), SQLITE_OK);
    assert_int_equal(n, 4);
}

/* A transaction larger than the page cache spills frames to the WAL mid-transaction;
 * touching a spilled page again overwrites its frame and, at commit, SQLite re-reads the
 * previous frame's checksum alone (8 bytes at offset 16 of its header). That read must
 * pass, or large imports fail with "disk I/O error" (found at 1,000,000 employments). */
static void test_spilled_frames_rewritten(void **state)
{
    (void)state;
    char path[320];
    path_in(path, sizeof path, "spill.db");
    sqlite3 *db;
    vfs_ctx *ctx;
    assert_int_equal(open_db(key, path, &db, &ctx), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA cache_size=20;"
                                  "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                                  "INSERT INTO t(v) VALUES('first');"
                                  "BEGIN;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n"
                                  " WHERE i < 3000) INSERT INTO t(v) SELECT printf('%0200d', i)"
                                  " FROM n;"
                                  "UPDATE t SET v = v || 'x';"
                                  "COMMIT;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    close_db(db, ctx);
    assert_int_equal(open_db(key, path, &db, &ctx), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3001);
    assert_int_equal(sqlite3_column_int(st, 1), 6 + 3000 * 201);
    sqlite3_finalize(st);
    close_db(db, ctx);
}

static void test_side_files_refused(void **state)
{
    (void)state;
    sqlite3 *db;
    vfs_ctx *ctx;
    assert_int_equal(open_db(key, dbpath, &db, &ctx), SQLITE_OK);
    /* With temp_store=MEMORY a large sort stays in memory and works. */
    assert_int_equal(sqlite3_exec(db, "SELECT name FROM t ORDER BY name DESC", NULL, NULL, NULL),
                     SQLITE_OK);
    /* A temporary database file would be unsealed: the shim refuses it (once the temp
     * table outgrows its cache and SQLite needs the file). */
    assert_int_equal(sqlite3_exec(db, "PRAGMA temp_store=FILE; CREATE TEMP TABLE x(a);"
                                      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM"
                                      " c WHERE i < 100000) INSERT INTO x SELECT randomblob(200)"
                                      " FROM c;",
                                  NULL, NULL, NULL) &
                         0xff,
                     SQLITE_CANTOPEN);
    /* The page size is fixed. */
    assert_int_not_equal(sqlite3_exec(db, "PRAGMA page_size=8192", NULL, NULL, NULL), SQLITE_OK);
    close_db(db, ctx);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_plaintext_on_disk),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_every_page_bit_flip_detected),
        cmocka_unit_test(test_swapped_pages_detected),
        cmocka_unit_test(test_truncation_detected),
        cmocka_unit_test(test_wal_sealed_and_recovered),
        cmocka_unit_test(test_spilled_frames_rewritten),
        cmocka_unit_test(test_side_files_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
