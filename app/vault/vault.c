/* vault: opening, authenticating, transactions and the audit chain (see vault.h). */
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"
#include "vault/keyring.h"
#include "vault/schema.h"
#include "vault/vfs.h"

#define FORMAT_VERSION "1"

struct vault {
    char dir[2048];
    char counter_path[2100];
    uint64_t commits;      /* the commit counter after the last commit */
    char db_path[2100];
    char keyring_path[2100];
    int lock_fd;
    vfs_ctx *vfs;
    sqlite3 *db;
    char operator[KEYRING_NAME_MAX + 1];
    vault_role role;
    int in_tx;
    uint8_t *share; /* the operator's signing-share key (sodium_malloc'd), see signing.h */
};

static int path_join(char *out, size_t cap, const char *dir, const char *leaf)
{
    int n = snprintf(out, cap, "%s/%s", dir, leaf);
    if (n < 0 || (size_t)n >= cap)
        return err_set(RL_EDATA, "vault path too long");
    return RL_OK;
}

void vault_now(char out[21])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *vault_role_name(vault_role r)
{
    switch (r) {
    case VAULT_ROLE_REGISTRAR: return "registrar";
    case VAULT_ROLE_APPROVER: return "approver";
    case VAULT_ROLE_ADMIN: return "administrator";
    }
    return "unknown";
}

int vault_role_parse(const char *s, vault_role *out)
{
    static const vault_role roles[] = {VAULT_ROLE_REGISTRAR, VAULT_ROLE_APPROVER, VAULT_ROLE_ADMIN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(s, vault_role_name(roles[i])) == 0) {
            *out = roles[i];
            return RL_OK;
        }
    return err_set(RL_EUSAGE, "unknown role '%s' (registrar, approver or administrator)", s);
}

int vault_sql_error(vault *v, int src, const char *what)
{
    int primary = src & 0xff;
    const char *detail = v && v->db ? sqlite3_errmsg(v->db) : sqlite3_errstr(src);
    if (src == SQLITE_IOERR_DATA || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        return err_set(RL_EINTEGRITY,
                       "%s: vault integrity failure: a page failed authentication or the "
                       "database structure is damaged (the vault files were altered, swapped "
                       "or truncated); restore the vault from its last backup",
                       what);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return err_set(RL_EBUSY, "%s: the vault is in use by another process", what);
    if (primary == SQLITE_FULL)
        return err_set(RL_EIO, "%s: the disk is full", what);
    if (primary == SQLITE_CONSTRAINT)
        return err_set(RL_EDATA, "%s: %s", what, detail);
    return err_set(RL_EIO, "%s: %s", what, detail);
}

static int exec(vault *v, const char *sql, const char *what)
{
    int rc = sqlite3_exec(v->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? RL_OK : vault_sql_error(v, rc, what);
}

#ifdef RL_BENCH_PLAIN
/* Benchmark builds only (build/bench, never the appliance): the same vault, schema and
 * workload on SQLite's default VFS, so `make bench` can print the cost of sealing. */
static int bench_plain;
void vault_bench_set_plain(int on) { bench_plain = on; }
#endif

/* Opens the sealed database with the vault's fixed pragmas. */
static int db_open(vault *v, const uint8_t *key, int create)
{
    const char *vfs_name;
    int rc = vfs_create(key, &v->vfs, &vfs_name);
    if (rc != RL_OK)
        return rc;
#ifdef RL_BENCH_PLAIN
    if (bench_plain)
        vfs_name = NULL;
#endif
    /* NOMUTEX: the connection is only ever used by the thread that opened the vault (the
     * pay run's and payment file's helper threads never touch it), so SQLite's per-call
     * mutex is pure cost: 4 % of the pay run's reading thread at 1,000,000 employments. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE |
                SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int src = sqlite3_open_v2(v->db_path, &v->db, flags, vfs_name);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "opening the vault database");
    /* The nonce and tag live in these 40 bytes of every page; must precede any write. */
    int reserve = VFS_RESERVE;
#ifdef RL_BENCH_PLAIN
    if (bench_plain)
        reserve = 0;
#endif
    sqlite3_file_control(v->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    sqlite3_extended_result_codes(v->db, 1);
    sqlite3_db_config(v->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(v->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    /* locking_mode before journal_mode: the WAL index then lives in heap memory and no
     * -shm file (which would leak which pages changed) is created. temp_store=MEMORY keeps
     * sorter and statement-journal files off the disk, where the shim refuses them anyway. */
    rc = exec(v,
              "PRAGMA locking_mode=EXCLUSIVE;"
              "PRAGMA page_size=4096;"
              "PRAGMA journal_mode=WAL;"
              "PRAGMA synchronous=FULL;"
              "PRAGMA temp_store=MEMORY;"
              "PRAGMA secure_delete=ON;"
              "PRAGMA foreign_keys=ON;"
              "PRAGMA cell_size_check=ON;"
              "PRAGMA cache_size=-65536;",
              "opening the vault database");
    return rc;
}

static int meta_get(vault *v, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = RL_EDATA;
    int src = sqlite3_prepare_v2(v->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the vault header");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const unsigned char *val = sqlite3_column_text(st, 0);
        int n = snprintf(out, cap, "%s", val ? (const char *)val : "");
        rc = (n >= 0 && (size_t)n < cap) ? RL_OK : err_set(RL_EDATA, "value of %s too long", key);
    } else if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "no value for %s", key);
    } else {
        rc = vault_sql_error(v, src, "reading the vault header");
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}

static int meta_set(vault *v, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(v->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "writing the vault header");
}

int vault_config_get(vault *v, const char *key, char *out, size_t cap)
{
    char k[128];
    snprintf(k, sizeof k, "config.%s", key);
    return meta_get(v, k, out, cap);
}

int vault_config_set(vault *v, const char *key, const char *value)
{
    char k[128];
    snprintf(k, sizeof k, "config.%s", key);
    return meta_set(v, k, value);
}

static int lock_dir(vault *v)
{
    char path[2100];
    int rc = path_join(path, sizeof path, v->dir, "lock");
    if (rc != RL_OK)
        return rc;
    /* The contents are sealed, but names, sizes and times are not, and a directory others
     * can write to lets them replace files: the vault lives only in a private directory. */
    struct stat st;
    if (stat(v->dir, &st) != 0)
        return err_set(RL_EIO, "%s: %s", v->dir, strerror(errno));
    if ((st.st_mode & 0077) != 0)
        return err_set(RL_EINTEGRITY, "the vault directory %s is open to other users (mode "
                                      "%04o); the appliance uses it only when it is private: "
                                      "chmod 700 %s",
                       v->dir, (unsigned)(st.st_mode & 07777), v->dir);
    v->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (v->lock_fd < 0)
        return err_set(RL_EIO, "%s: %s", path, strerror(errno));
    if (flock(v->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return err_set(RL_EBUSY, "the vault %s is in use by another reservlon process", v->dir);
    return RL_OK;
}

static vault *vault_alloc(const char *dir)
{
    vault *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->lock_fd = -1;
    if (path_join(v->db_path, sizeof v->db_path, dir, "vault.db") != RL_OK ||
        path_join(v->keyring_path, sizeof v->keyring_path, dir, "keyring") != RL_OK ||
        path_join(v->counter_path, sizeof v->counter_path, dir, "commits") != RL_OK ||
        snprintf(v->dir, sizeof v->dir, "%s", dir) >= (int)sizeof v->dir) {
        free(v);
        return NULL;
    }
    return v;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    sodium_bin2hex(out, n * 2 + 1, b, n);
}

/* --- audit ----------------------------------------------------------------------------- */

static void audit_hash(const uint8_t prev[32], int64_t seq, const char *at, const char *op,
                       const char *action, const char *detail, uint8_t out[32])
{
    crypto_generichash_state h;
    uint8_t buf[8];
    crypto_generichash_init(&h, (const uint8_t *)"reservlon-audit1", 16, 32);
    crypto_generichash_update(&h, prev, 32);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)seq >> (8 * i));
    crypto_generichash_update(&h, buf, 8);
    const char *fields[] = {at, op, action, detail};
    for (size_t f = 0; f < 4; f++) {
        uint64_t n = strlen(fields[f]);
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(n >> (8 * i));
        crypto_generichash_update(&h, buf, 8);
        crypto_generichash_update(&h, (const uint8_t *)fields[f], n);
    }
    crypto_generichash_final(&h, out, 32);
}

/* "SEQ:HASH" of the newest audit entry, kept in meta beside the commit counter (same
 * transaction as the entry): an older sealed copy of the audit table's last page, put back
 * at its place, would otherwise pass as a shorter but intact chain (docs/tamper.md). */
static void audit_head_text(int64_t seq, const uint8_t hash[32], char out[96])
{
    char h[65];
    hex(hash, 32, h);
    snprintf(out, 96, "%lld:%s", (long long)seq, h);
}

/* The newest audit entry must be the one meta names. A vault from before the head was kept
 * has none until its next audit entry. */
static int audit_head_check(vault *v)
{
    char want[96], have[96] = "0:";
    int rc = meta_get(v, "audit_head", want, sizeof want);
    if (rc == RL_EDATA) {
        err_clear();
        return RL_OK;
    }
    if (rc != RL_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(v->db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 1) == 32)
        audit_head_text(sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1), have);
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return vault_sql_error(v, src, "reading the audit log");
    if (strcmp(want, have) != 0)
        return err_set(RL_EINTEGRITY,
                       "vault integrity failure: the audit log ends at entry %.*s but the vault "
                       "header names entry %.*s as its newest (part of the database was "
                       "replaced by an older copy)",
                       (int)strcspn(have, ":"), have, (int)strcspn(want, ":"), want);
    return RL_OK;
}

int vault_audit(vault *v, const char *action, const char *detail)
{
    /* The entry and the head in meta go together: in the caller's transaction, or in one of
     * their own. */
    if (sqlite3_get_autocommit(v->db)) {
        int rc = vault_begin(v);
        if (rc == RL_OK && (rc = vault_audit(v, action, detail)) == RL_OK)
            return vault_commit(v);
        if (rc != RL_OK)
            vault_rollback(v);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    uint8_t prev[32] = {0};
    int64_t seq = 1;
    int rc = RL_EIO;
    int src = sqlite3_prepare_v2(v->db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        goto sqlfail;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0) + 1;
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = err_set(RL_EINTEGRITY, "audit log damaged at entry %lld", (long long)seq - 1);
            goto cleanup;
        }
        memcpy(prev, sqlite3_column_blob(st, 1), 32);
    } else if (src != SQLITE_DONE) {
        goto sqlfail;
    }
    sqlite3_finalize(st);
    st = NULL;
    char at[21];
    vault_now(at);
    uint8_t h[32];
    audit_hash(prev, seq, at, v->operator, action, detail, h);
    src = sqlite3_prepare_v2(v->db,
                             "INSERT INTO audit(seq, at, operator, action, detail, prev, hash) "
                             "VALUES(?,?,?,?,?,?,?)",
                             -1, &st, NULL);
    if (src != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v->operator, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, h, 32, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        goto sqlfail;
    char head[96];
    audit_head_text(seq, h, head);
    rc = meta_set(v, "audit_head", head);
    goto cleanup;
sqlfail:
    rc = vault_sql_error(v, src, "writing the audit log");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int vault_audit_verify(vault *v, uint64_t *entries)
{
    sqlite3_stmt *st = NULL;
    uint8_t prev[32] = {0};
    int64_t expect = 1;
    int rc = RL_EINTEGRITY;
    int src = sqlite3_prepare_v2(v->db,
                                 "SELECT seq, at, operator, action, detail, prev, hash FROM audit "
                                 "ORDER BY seq",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(v, src, "reading the audit log");
        goto cleanup;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *f[4];
        for (int i = 0; i < 4; i++) {
            f[i] = (const char *)sqlite3_column_text(st, 1 + i);
            if (f[i] == NULL)
                f[i] = "";
        }
        uint8_t h[32];
        audit_hash(prev, seq, f[0], f[1], f[2], f[3], h);
        if (seq != expect || sqlite3_column_bytes(st, 5) != 32 ||
            sqlite3_column_bytes(st, 6) != 32 ||
            sodium_memcmp(sqlite3_column_blob(st, 5), prev, 32) != 0 ||
            sodium_memcmp(sqlite3_column_blob(st, 6), h, 32) != 0) {
            rc = err_set(RL_EINTEGRITY, "audit log: entry %lld breaks the hash chain",
                         (long long)expect);
            goto cleanup;
        }
        memcpy(prev, h, 32);
        expect++;
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "reading the audit log");
        goto cleanup;
    }
    if (entries)
        *entries = (uint64_t)(expect - 1);
    rc = RL_OK;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* --- commit counter ---------------------------------------------------------------------
 * Per-page sealing cannot notice a WAL frame that recovery silently dropped (a flipped
 * byte, a deleted -wal, an older copy of one file): the database would just look older.
 * So every commit also records its number, MACed under the data key, in a small file
 * beside the database: two 48-byte slots written alternately with fdatasync, so a torn
 * slot leaves the other. At open the database's counter must equal the file's, or be one
 * ahead (a crash between the commit and the counter write). */

#define COUNTER_SLOT 48

static void counter_mac(vault *v, uint64_t n, uint8_t mac[32])
{
    uint8_t key[32], msg[8 + 16];
    int ok = vfs_copy_key(v->vfs, key);
    (void)ok;
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)(n >> (8 * i));
    sqlite3_stmt *st = NULL;
    memset(msg + 8, 0, 16);
    if (sqlite3_prepare_v2(v->db, "SELECT value FROM meta WHERE key='vault_id'", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        size_t bin_len = 0;
        if (id)
            sodium_hex2bin(msg + 8, 16, id, strlen(id), NULL, &bin_len, NULL);
    }
    sqlite3_finalize(st);
    crypto_generichash(mac, 32, msg, sizeof msg, key, sizeof key);
    sodium_memzero(key, sizeof key);
}

static int counter_write(vault *v, uint64_t n)
{
    uint8_t slot[COUNTER_SLOT] = {0};
    memcpy(slot, "RLCC", 4);
    for (int i = 0; i < 8; i++)
        slot[8 + i] = (uint8_t)(n >> (8 * i));
    counter_mac(v, n, slot + 16);
    int fd = open(v->counter_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(RL_EIO, "%s: %s", v->counter_path, strerror(errno));
    int rc = RL_OK;
    off_t off = (off_t)(n % 2) * COUNTER_SLOT;
    if (pwrite(fd, slot, sizeof slot, off) != (ssize_t)sizeof slot || fdatasync(fd) != 0)
        rc = err_set(RL_EIO, "%s: %s", v->counter_path, strerror(errno));
    close(fd);
    return rc;
}

/* The highest authentic counter in the file, or RL_EINTEGRITY if none. */
static int counter_read(vault *v, uint64_t *out)
{
    uint8_t buf[2 * COUNTER_SLOT];
    int fd = open(v->counter_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_set(RL_EINTEGRITY, "vault integrity failure: the commit record %s is missing",
                       v->counter_path);
    ssize_t got = pread(fd, buf, sizeof buf, 0);
    close(fd);
    int found = 0;
    for (int s = 0; s < 2 && got >= (ssize_t)((s + 1) * COUNTER_SLOT); s++) {
        const uint8_t *slot = buf + s * COUNTER_SLOT;
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | slot[8 + i];
        uint8_t mac[32];
        counter_mac(v, n, mac);
        if (memcmp(slot, "RLCC", 4) == 0 && sodium_memcmp(mac, slot + 16, 32) == 0 &&
            (!found || n > *out)) {
            *out = n;
            found = 1;
        }
    }
    if (!found)
        return err_set(RL_EINTEGRITY,
                       "vault integrity failure: the commit record %s is damaged", v->counter_path);
    return RL_OK;
}

static int counter_check(vault *v)
{
    char buf[32];
    uint64_t file_n = 0;
    int rc = meta_get(v, "commits", buf, sizeof buf);
    if (rc != RL_OK)
        return rc;
    uint64_t db_n = strtoull(buf, NULL, 10);
    if ((rc = counter_read(v, &file_n)) != RL_OK)
        return rc;
    if (db_n < file_n)
        return err_set(RL_EINTEGRITY,
                       "vault integrity failure: the database is %llu committed transaction(s) "
                       "behind its commit record (a WAL file was deleted or altered, or an older "
                       "copy of the database was restored)",
                       (unsigned long long)(file_n - db_n));
    if (db_n > file_n + 1)
        return err_set(RL_EINTEGRITY,
                       "vault integrity failure: the commit record is older than the database "
                       "(an older copy of %s was restored)", v->counter_path);
    v->commits = db_n;
    if (db_n == file_n + 1)
        return counter_write(v, db_n); /* the crash window between commit and record */
    return RL_OK;
}

int vault_audit_list(vault *v, int json, FILE *out)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(v->db,
                                 "SELECT seq, at, operator, action, detail, hash FROM audit"
                                 " ORDER BY seq",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return vault_sql_error(v, src, "reading the audit log");
    if (json)
        fputc('[', out);
    int n = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        char h[65] = "";
        if (sqlite3_column_bytes(st, 5) == 32)
            hex(sqlite3_column_blob(st, 5), 32, h);
        if (json) {
            fprintf(out, "%s{\"seq\":%lld,\"at\":\"%s\",\"operator\":", n ? "," : "",
                    (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1));
            json_write_string(out, (const char *)sqlite3_column_text(st, 2));
            fprintf(out, ",\"action\":");
            json_write_string(out, (const char *)sqlite3_column_text(st, 3));
            fprintf(out, ",\"detail\":");
            json_write_string(out, (const char *)sqlite3_column_text(st, 4));
            fprintf(out, ",\"hash\":\"%s\"}", h);
        } else {
            fprintf(out, "%6lld %s %-16s %-22s %s\n", (long long)sqlite3_column_int64(st, 0),
                    sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                    sqlite3_column_text(st, 3), sqlite3_column_text(st, 4));
        }
        n++;
    }
    if (json)
        fputs("]\n", out);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "reading the audit log");
}

/* --- transactions ------------------------------------------------------------------- */

int vault_begin(vault *v)
{
    int rc = exec(v, "BEGIN IMMEDIATE", "starting a vault transaction");
    if (rc == RL_OK)
        v->in_tx = 1;
    return rc;
}

int vault_commit(vault *v)
{
    int rc = RL_OK;
    uint64_t next = v->commits + 1;
    char val[32];
    snprintf(val, sizeof val, "%llu", (unsigned long long)next);
    if ((rc = meta_set(v, "commits", val)) == RL_OK)
        rc = exec(v, "COMMIT", "committing");
    if (rc != RL_OK) {
        vault_rollback(v);
        return rc;
    }
    v->in_tx = 0;
    v->commits = next;
    return counter_write(v, next);
}

void vault_rollback(vault *v)
{
    if (v->in_tx && !sqlite3_get_autocommit(v->db))
        sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
    v->in_tx = 0;
}

/* --- create / open ------------------------------------------------------------------ */

static int check_new_passphrase(size_t len)
{
    if (len < VAULT_PASSPHRASE_MIN)
        return err_set(RL_EDATA, "passphrase too short: at least %d characters",
                       VAULT_PASSPHRASE_MIN);
    return RL_OK;
}

static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KEYRING_NAME_MAX)
        return err_set(RL_EDATA, "operator name must be 1-%d characters", KEYRING_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return err_set(RL_EDATA,
                           "operator name '%s': use letters a-z, digits, '.', '_' or '-'", name);
    }
    return RL_OK;
}

static int insert_operator(vault *v, const char *name, vault_role role)
{
    sqlite3_stmt *st = NULL;
    char at[21];
    vault_now(at);
    int src = sqlite3_prepare_v2(v->db,
                                 "INSERT INTO operators(name, role, active, created_at, created_by)"
                                 " VALUES(?,?,1,?,?) ON CONFLICT(name) DO UPDATE SET"
                                 " role=excluded.role, active=1",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, vault_role_name(role), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v->operator, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "adding the operator");
}

int vault_create(const char *dir, const char *admin, const char *pass, size_t pass_len)
{
    int rc = RL_EIO;
    vault *v = NULL;
    keyring *kr = NULL;
    uint8_t *key = NULL;
    if ((rc = check_name(admin)) != RL_OK || (rc = check_new_passphrase(pass_len)) != RL_OK)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(RL_EIO, "%s: %s", dir, strerror(errno));
    v = vault_alloc(dir);
    if (v == NULL)
        return err_set(RL_ENOMEM, "out of memory or vault path too long");
    if ((rc = lock_dir(v)) != RL_OK)
        goto cleanup;
    struct stat st;
    if (stat(v->keyring_path, &st) == 0 || stat(v->db_path, &st) == 0) {
        rc = err_set(RL_EDATA, "%s already holds a vault; refusing to overwrite it", dir);
        goto cleanup;
    }
    key = sodium_malloc(32);
    if (key == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    randombytes_buf(key, 32);
    if ((rc = keyring_new(&kr)) != RL_OK || (rc = keyring_set(kr, admin, pass, pass_len, key, NULL)))
        goto cleanup;
    snprintf(v->operator, sizeof v->operator, "%s", admin);
    v->role = VAULT_ROLE_ADMIN;
    if ((rc = db_open(v, key, 1)) != RL_OK)
        goto cleanup;
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    char id_hex[33], at[21];
    hex(keyring_vault_id(kr), 16, id_hex);
    vault_now(at);
    if ((rc = schema_apply(v->db)) != RL_OK || (rc = meta_set(v, "format", FORMAT_VERSION)) ||
        (rc = meta_set(v, "vault_id", id_hex)) || (rc = meta_set(v, "created_at", at)) ||
        (rc = meta_set(v, "commits", "0")) || (rc = insert_operator(v, admin, VAULT_ROLE_ADMIN)) ||
        (rc = vault_audit(v, "vault.init", "vault created")) || (rc = vault_commit(v)))
        goto cleanup;
    /* The keyring goes last: without it the database cannot be opened, so a crash before
     * this point leaves a directory that init refuses and the administrator removes. */
    rc = keyring_save(kr, v->keyring_path);
cleanup:
    if (rc != RL_OK && v != NULL)
        vault_rollback(v);
    vault_close(v);
    keyring_free(kr);
    sodium_free(key);
    return rc;
}

static unsigned delay_for(uint32_t failures)
{
    if (failures == 0)
        return 0;
    if (failures >= 6)
        return 30;
    return 1u << (failures - 1);
}

/* Waits the delay the operator's failures call for, then unwraps the data key (and the
 * share key). A wrong passphrase is counted in the keyring (saved) and reported with the
 * next delay; the count before this success is returned for the audit log. */
static int unlock_operator(vault *v, keyring *kr, const char *name, const char *pass,
                           size_t pass_len, uint8_t *key, uint8_t *share,
                           uint32_t *failures_before)
{
    unsigned wait = delay_for(keyring_failures(kr, name));
    if (wait > 0) {
        fprintf(stderr, "reservlon: %u earlier failed attempts for '%s'; waiting %u s\n",
                keyring_failures(kr, name), name, wait);
        sleep(wait);
    }
    *failures_before = keyring_failures(kr, name);
    int rc = keyring_unlock(kr, name, pass, pass_len, key, share);
    if (rc == RL_EAUTH) {
        uint32_t n = keyring_failures(kr, name);
        if (keyring_save(kr, v->keyring_path) != RL_OK) {
            /* keep the authentication error; the counter is best effort */
        }
        return err_set(RL_EAUTH,
                       "wrong passphrase for operator '%s' (%u consecutive failures; the next "
                       "attempt waits %u s)",
                       name, n, delay_for(n));
    }
    if (rc != RL_OK)
        return rc;
    if (*failures_before > 0)
        return keyring_save(kr, v->keyring_path);
    return RL_OK;
}

/* The role and active flag of name in the database. */
static int operator_role(vault *v, const char *name, vault_role *role)
{
    sqlite3_stmt *q = NULL;
    int rc;
    int src = sqlite3_prepare_v2(v->db, "SELECT role, active FROM operators WHERE name=?", -1, &q,
                                 NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(q);
    }
    if (src == SQLITE_ROW && sqlite3_column_int(q, 1) == 1 &&
        vault_role_parse((const char *)sqlite3_column_text(q, 0), role) == RL_OK)
        rc = RL_OK;
    else if (src == SQLITE_ROW || src == SQLITE_DONE)
        rc = err_set(RL_EAUTH, "operator '%s' is not active in this vault", name);
    else
        rc = vault_sql_error(v, src, "reading operators");
    sqlite3_finalize(q);
    return rc;
}

/* --- approvers' signing key pairs (docs/signing.md) ---------------------------------------- */

static int signer_revoke(vault *v, const char *name, int whole);

/* RL_OK if name has a key pair, RL_EDATA if not. */
static int signer_missing(vault *v, const char *name)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(v->db, "SELECT 1 FROM signers WHERE name = ?", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src == SQLITE_ROW)
        return RL_OK;
    return src == SQLITE_DONE ? RL_EDATA : vault_sql_error(v, src, "reading signers");
}

#define SIGNER_WRAP_LEN (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 32 + \
                         crypto_aead_xchacha20poly1305_ietf_ABYTES)

static void signer_ad(vault *v, const char *name, uint8_t *ad, size_t *len)
{
    char id[64] = "";
    if (meta_get(v, "vault_id", id, sizeof id) != RL_OK)
        id[0] = '\0';
    *len = (size_t)snprintf((char *)ad, 8 + 64 + KEYRING_NAME_MAX + 4, "RLSIGNR1|%s|%s", id, name);
}

/* Gives name a new X25519 key pair, its secret half wrapped under share, and drops every
 * wrap of the appliance signing key that involved name's old pair (a new passphrase or
 * role revokes the old share; two approvers grant it again). Inside the caller's
 * transaction. */
static int signer_enroll(vault *v, const char *name, const uint8_t *share)
{
    uint8_t pk[32], *sk = sodium_malloc(32);
    uint8_t wrap[SIGNER_WRAP_LEN], ad[8 + 64 + KEYRING_NAME_MAX + 4];
    size_t ad_len;
    sqlite3_stmt *st = NULL;
    int rc = RL_OK;
    if (sk == NULL)
        return err_set(RL_ENOMEM, "cannot allocate protected memory");
    crypto_box_keypair(pk, sk);
    randombytes_buf(wrap, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    signer_ad(v, name, ad, &ad_len);
    crypto_aead_xchacha20poly1305_ietf_encrypt(wrap + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               NULL, sk, 32, ad, ad_len, NULL, wrap, share);
    char at[21];
    vault_now(at);
    int src = sqlite3_prepare_v2(v->db, "INSERT OR REPLACE INTO signers VALUES(?,?,?,?)", -1, &st,
                                 NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, pk, sizeof pk, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, wrap, sizeof wrap, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "enrolling a signer");
        goto cleanup;
    }
    rc = signer_revoke(v, name, 0);
cleanup:
    sodium_free(sk);
    return rc;
}

/* Drops name's wraps of the signing key, and with whole also its key pair. */
static int signer_revoke(vault *v, const char *name, int whole)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(v->db, "DELETE FROM signing_wraps WHERE a = ?1 OR b = ?1", -1,
                                 &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src == SQLITE_DONE && whole) {
        src = sqlite3_prepare_v2(v->db, "DELETE FROM signers WHERE name = ?1", -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            src = sqlite3_step(st);
        }
        sqlite3_finalize(st);
    }
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "revoking a signer");
}

int vault_signer_unwrap(vault *v, const char *name, const uint8_t *share, uint8_t *box_sk,
                        uint8_t box_pk[32])
{
    sqlite3_stmt *st = NULL;
    int rc;
    uint8_t ad[8 + 64 + KEYRING_NAME_MAX + 4];
    size_t ad_len;
    int src = sqlite3_prepare_v2(v->db, "SELECT box_pk, wrapped_sk FROM signers WHERE name = ?",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_DONE) {
        rc = err_set(RL_EAUTH, "approver '%s' has no signing key pair yet: it is made at their "
                               "next login", name);
    } else if (src != SQLITE_ROW) {
        rc = vault_sql_error(v, src, "reading signers");
    } else if (sqlite3_column_bytes(st, 0) != 32 ||
               sqlite3_column_bytes(st, 1) != SIGNER_WRAP_LEN) {
        rc = err_set(RL_EINTEGRITY, "the signing key pair of '%s' is damaged", name);
    } else {
        const uint8_t *w = sqlite3_column_blob(st, 1);
        memcpy(box_pk, sqlite3_column_blob(st, 0), 32);
        signer_ad(v, name, ad, &ad_len);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                box_sk, NULL, NULL, w + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                SIGNER_WRAP_LEN - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad, ad_len, w,
                share) != 0)
            rc = err_set(RL_EAUTH, "the signing share of '%s' does not open with their "
                                   "passphrase (it was reset: two approvers must grant it again "
                                   "with 'key grant')", name);
        else
            rc = RL_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

const uint8_t *vault_share_key(const vault *v) { return v->share; }

int vault_authenticate_second(vault *v, const char *name, const char *pass, size_t pass_len,
                              unsigned roles, const char *action, uint8_t *share)
{
    keyring *kr = NULL;
    uint8_t *key = NULL, *mine = NULL;
    vault_role role;
    int rc;
    if (strcmp(name, v->operator) == 0)
        return err_set(RL_EAUTH, "%s needs two different people: '%s' cannot be both", action,
                       name);
    if ((rc = keyring_load(v->keyring_path, &kr)) != RL_OK)
        return rc;
    if (!keyring_has(kr, name)) {
        rc = err_set(RL_EAUTH, "no operator named '%s' in this vault", name);
        goto cleanup;
    }
    key = sodium_malloc(32);
    mine = sodium_malloc(32);
    if (key == NULL || mine == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    uint32_t failures_before = 0;
    if ((rc = unlock_operator(v, kr, name, pass, pass_len, key, share, &failures_before)) !=
        RL_OK)
        goto cleanup;
    /* The same vault: the second passphrase must unwrap the key the vault runs under. */
    if ((rc = vfs_copy_key(v->vfs, mine)) != RL_OK)
        goto cleanup;
    if (sodium_memcmp(key, mine, 32) != 0) {
        rc = err_set(RL_EINTEGRITY, "the keyring entry of '%s' does not belong to this vault",
                     name);
        goto cleanup;
    }
    if ((rc = operator_role(v, name, &role)) != RL_OK)
        goto cleanup;
    if (!(role & roles)) {
        rc = err_set(RL_EAUTH, "%s: '%s' is %s, not an approver", action, name,
                     vault_role_name(role));
        goto cleanup;
    }
    char detail[200];
    snprintf(detail, sizeof detail, "%s authenticated as second person for %s%s", name, action,
             failures_before ? " (after failed attempts)" : "");
    if ((rc = vault_begin(v)) != RL_OK || (rc = vault_audit(v, "auth.second", detail)) != RL_OK ||
        (rc = vault_commit(v)) != RL_OK)
        vault_rollback(v);
cleanup:
    if (rc != RL_OK && share != NULL)
        sodium_memzero(share, 32);
    keyring_free(kr);
    sodium_free(key);
    sodium_free(mine);
    return rc;
}

int vault_open(const char *dir, const char *name, const char *pass, size_t pass_len,
               vault **out)
{
    int rc = RL_EIO;
    vault *v = NULL;
    keyring *kr = NULL;
    uint8_t *key = NULL;
    *out = NULL;
    v = vault_alloc(dir);
    if (v == NULL)
        return err_set(RL_ENOMEM, "out of memory or vault path too long");
    struct stat st;
    if (stat(v->keyring_path, &st) != 0) {
        rc = err_set(RL_EDATA, "%s is not a vault (no keyring); create one with 'init'", dir);
        goto cleanup;
    }
    if ((rc = lock_dir(v)) != RL_OK || (rc = keyring_load(v->keyring_path, &kr)) != RL_OK)
        goto cleanup;
    if (!keyring_has(kr, name)) {
        rc = err_set(RL_EAUTH, "no operator named '%s' in this vault", name);
        goto cleanup;
    }
    key = sodium_malloc(32);
    v->share = sodium_malloc(32);
    if (key == NULL || v->share == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    uint32_t failures_before = 0;
    if ((rc = unlock_operator(v, kr, name, pass, pass_len, key, v->share, &failures_before)) !=
        RL_OK)
        goto cleanup;
    if (stat(v->db_path, &st) != 0 && errno == ENOENT) {
        /* Keyring and commit record without their database: removed, not "cannot open". */
        rc = err_set(RL_EINTEGRITY,
                     "vault integrity failure: the database %s is missing (deleted or moved); "
                     "restore the vault from its last backup",
                     v->db_path);
        goto cleanup;
    }
    if ((rc = db_open(v, key, 0)) != RL_OK)
        goto cleanup;
    char id_hex[33], stored[64];
    hex(keyring_vault_id(kr), 16, id_hex);
    rc = meta_get(v, "vault_id", stored, sizeof stored);
    if (rc == RL_EDATA || rc == RL_EIO || (rc == RL_OK && strcmp(stored, id_hex) != 0)) {
        /* An empty database (file truncated to zero) or one from another vault. */
        rc = err_set(RL_EINTEGRITY,
                     "vault integrity failure: the database does not belong to this keyring "
                     "(replaced, emptied or from another vault)");
        goto cleanup;
    }
    if (rc != RL_OK)
        goto cleanup;
    int upgrade_from = 0;
    if ((rc = schema_check(v->db, &upgrade_from)) != RL_OK || (rc = counter_check(v)) != RL_OK ||
        (rc = audit_head_check(v)) != RL_OK)
        goto cleanup;
    if ((rc = operator_role(v, name, &v->role)) != RL_OK)
        goto cleanup;
    snprintf(v->operator, sizeof v->operator, "%s", name);
    if (upgrade_from) {
        /* A vault written by an older program: its tables brought up to date at the first
         * login (added, never rewritten), in the audit log like any change. */
        char detail[80];
        snprintf(detail, sizeof detail, "schema upgraded from version %d", upgrade_from);
        if ((rc = vault_begin(v)) != RL_OK || (rc = schema_upgrade(v->db, upgrade_from)) ||
            (rc = vault_audit(v, "vault.upgrade", detail)) || (rc = vault_commit(v)))
            goto cleanup;
    }
    if (failures_before > 0) {
        /* Failed unlocks cannot be written where they happen (no key yet): the keyring
         * counted them, and the next successful login puts them in the audit log. */
        char detail[160];
        snprintf(detail, sizeof detail, "%u failed passphrase attempt(s) for %s before this login",
                 failures_before, name);
        if ((rc = vault_begin(v)) != RL_OK || (rc = vault_audit(v, "auth.failures", detail)) ||
            (rc = vault_commit(v)))
            goto cleanup;
    }
    if (v->role == VAULT_ROLE_APPROVER && (rc = signer_missing(v, name)) != RL_OK) {
        /* An approver without a key pair (from before signing existed): made now, while
         * their passphrase is at hand; the signing key still has to be granted to them. */
        if (rc != RL_EDATA)
            goto cleanup;
        if ((rc = vault_begin(v)) != RL_OK || (rc = signer_enroll(v, name, v->share)) ||
            (rc = vault_audit(v, "signer.enroll", "signing key pair made at login")) ||
            (rc = vault_commit(v)))
            goto cleanup;
    }
    *out = v;
    v = NULL;
cleanup:
    vault_close(v);
    keyring_free(kr);
    sodium_free(key);
    return rc;
}

void vault_close(vault *v)
{
    if (v == NULL)
        return;
    if (v->db != NULL) {
        vault_rollback(v);
        sqlite3_close_v2(v->db);
    }
    vfs_destroy(v->vfs);
    if (v->lock_fd >= 0)
        close(v->lock_fd);
    sodium_free(v->share);
    sodium_memzero(v, sizeof *v);
    free(v);
}

sqlite3 *vault_db(vault *v) { return v->db; }
const char *vault_dir(const vault *v) { return v->dir; }
uint64_t vault_commits(const vault *v) { return v->commits; }

int64_t vault_cache_kib(vault *v)
{
    sqlite3_stmt *st = NULL;
    int64_t kib = 0;
    if (sqlite3_prepare_v2(v->db, "PRAGMA cache_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        kib = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return kib < 0 ? -kib : kib * 4; /* pages of 4 KiB (the vault's page size) */
}

void vault_cache_set(vault *v, int64_t kib)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%lld", (long long)kib);
    (void)sqlite3_exec(v->db, sql, NULL, NULL, NULL);
}
const char *vault_operator(const vault *v) { return v->operator; }
vault_role vault_operator_role(const vault *v) { return v->role; }

int vault_require_role(const vault *v, unsigned roles, const char *action)
{
    if (v->role & roles)
        return RL_OK;
    char need[96] = "";
    static const vault_role all[] = {VAULT_ROLE_REGISTRAR, VAULT_ROLE_APPROVER, VAULT_ROLE_ADMIN};
    for (size_t i = 0; i < 3; i++)
        if (roles & all[i]) {
            if (need[0])
                strncat(need, " or ", sizeof need - strlen(need) - 1);
            strncat(need, vault_role_name(all[i]), sizeof need - strlen(need) - 1);
        }
    return err_set(RL_EAUTH, "%s needs the %s role; operator '%s' is %s", action, need,
                   v->operator, vault_role_name(v->role));
}

int vault_operator_add(vault *v, const char *name, vault_role role, const char *pass,
                       size_t pass_len)
{
    int rc;
    keyring *kr = NULL;
    uint8_t *key = NULL, *share = NULL;
    if ((rc = vault_require_role(v, VAULT_ROLE_ADMIN, "adding an operator")) != RL_OK ||
        (rc = check_name(name)) != RL_OK || (rc = check_new_passphrase(pass_len)) != RL_OK)
        return rc;
    if ((rc = keyring_load(v->keyring_path, &kr)) != RL_OK)
        goto cleanup;
    /* The new operator's entry wraps the same data key the open vault runs under. */
    key = sodium_malloc(32);
    if (key == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    if ((rc = vfs_copy_key(v->vfs, key)) != RL_OK)
        goto cleanup;
    share = sodium_malloc(32);
    if (share == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    if ((rc = keyring_set(kr, name, pass, pass_len, key, share)) != RL_OK)
        goto cleanup;
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    /* A new passphrase or role revokes the operator's old signing share (docs/signing.md). */
    rc = role == VAULT_ROLE_APPROVER ? signer_enroll(v, name, share) : signer_revoke(v, name, 1);
    if (rc != RL_OK)
        goto cleanup;
    char detail[160];
    snprintf(detail, sizeof detail, "operator %s added with role %s", name, vault_role_name(role));
    if ((rc = insert_operator(v, name, role)) != RL_OK ||
        (rc = vault_audit(v, "operator.add", detail)) != RL_OK)
        goto cleanup;
    /* Keyring first, then the commit: a crash between them leaves a keyring entry that
     * cannot log in (the database does not know the operator) and a re-run repairs it. */
    if ((rc = keyring_save(kr, v->keyring_path)) != RL_OK)
        goto cleanup;
    rc = vault_commit(v);
cleanup:
    if (rc != RL_OK)
        vault_rollback(v);
    keyring_free(kr);
    sodium_free(key);
    sodium_free(share);
    return rc;
}

int vault_check(vault *v)
{
    sqlite3_stmt *st = NULL;
    uint64_t pages = 0;
    /* Move every committed page into the database file, then authenticate all of it. */
    int rc = exec(v, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing the vault");
    if (rc != RL_OK || (rc = vfs_verify_file(v->vfs, v->db_path, &pages)) != RL_OK)
        return rc;
    int src = sqlite3_prepare_v2(v->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (src == SQLITE_OK) {
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            const char *r = (const char *)sqlite3_column_text(st, 0);
            if (r == NULL || strcmp(r, "ok") != 0) {
                rc = err_set(RL_EINTEGRITY, "vault integrity check: %s", r ? r : "(null)");
                break;
            }
        }
    }
    if (rc == RL_OK && src != SQLITE_DONE)
        rc = vault_sql_error(v, src, "vault integrity check");
    sqlite3_finalize(st);
    if (rc == RL_OK)
        rc = vault_audit_verify(v, NULL);
    if (rc == RL_OK)
        rc = audit_head_check(v);
    return rc;
}
