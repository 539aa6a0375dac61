/* tamper: the tamper campaign (make tamper, tests/e2e/tamper.sh, docs/tamper.md).
 *
 *   tamper --fixture DIR --work DIR [--samples N] [--seed S]
 *
 * DIR is made by tests/tamper/prepare. For the vault and each signed artifact (payment file,
 * journal, rule file, snapshot manifest and its files) every bit of N sampled byte positions
 * of every file is flipped in turn, the files are cut at sampled lengths, bytes are appended,
 * the vault's pages are swapped, copied and replaced by their older sealed versions, and
 * older valid copies are replayed. Each mutated copy goes to the appliance's own verifier,
 * in this process: vault_open + vault_check, payfile_verify, journal_verify_file (and
 * journal_diff for replays), rules_load, snapshot_import into a fresh vault. A mutation the
 * verifier accepts is a miss unless it provably changed nothing the appliance uses (the
 * vault's logical content is unchanged; an unsigned comment) or is a documented limit;
 * both are listed apart. Prints one row per artifact, file and mutation; exit 1 on a miss.
 *
 * Opening a vault derives its key with Argon2id (256 MiB, ~0.6 s). So that thousands of
 * mutated vaults can be opened, crypto_pwhash is replaced by the memo of tests/tools/pwmemo.c
 * (in memory): the same passphrase, salt and parameters give the same output, as the real
 * function does; any changed input (a flipped salt or parameter) runs the real one. The
 * keyring's unlock delay (sleep) is skipped for the same reason. Nothing in app/ changes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "journal/journal.h"
#include "payfile/verify.h"
#include "rules/rules.h"
#include "sig/minisig.h"
#include "snapshot/snapshot.h"
#include "vault/vault.h"
#include "vault/vfs.h"

#include "pwmemo.h"

#define MAX_FILES 16
#define PAGE VFS_PAGE_SIZE

/* --- unlock costs: Argon2id is memoised by tests/tools/pwmemo.c (linked in) ------------ */

/* The keyring's growing delay after failed unlocks: skipped (counted) in the campaign. */
static unsigned long sleeps_skipped;
unsigned int sleep(unsigned int seconds)
{
    (void)seconds;
    sleeps_skipped++;
    return 0;
}

/* --- small helpers ---------------------------------------------------------------------- */

/* Stops the campaign: the fixture or the machine is not what it needs (exit 2). */
static void die(const char *what, const char *arg)
{
    fprintf(stderr, "tamper: %s%s%s%s%s\n", what, arg[0] ? " " : "", arg,
            err_msg()[0] ? ": " : "", err_msg());
    exit(2);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    char name[256];
    uint8_t *data;
    size_t len;
} tfile;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die("cannot read", path);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            if (buf == NULL)
                die("out of memory reading", path);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die("cannot write", path);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot write", path);
        off += (size_t)w;
    }
    close(fd);
}

/* Loads the named files of dir (all regular files if names is NULL). */
static size_t load_set(const char *dir, const char *const *names, tfile *out)
{
    size_t n = 0;
    char path[4096];
    if (names) {
        for (; names[n]; n++) {
            snprintf(out[n].name, sizeof out[n].name, "%s", names[n]);
            snprintf(path, sizeof path, "%s/%s", dir, names[n]);
            out[n].data = read_file(path, &out[n].len);
        }
        return n;
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        die("cannot list", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(out[n].name, sizeof out[n].name, "%s", e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        out[n].data = read_file(path, &out[n].len);
        n++;
    }
    closedir(d);
    return n;
}

/* --- results ------------------------------------------------------------------------------ */

typedef struct {
    char artifact[24], file[40], kind[40];
    unsigned long tried, detected, exit3, noeffect, limit;
} row;
static row rows[256];
static size_t nrows;
static unsigned long total_tried, total_missed;
static char misses[20][256];
static size_t nmisses;
typedef struct {
    char text[480];
    unsigned long n;
} note;
static note notes[64];
static size_t nnotes;

static row *row_for(const char *artifact, const char *file, const char *kind)
{
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].artifact, artifact) && !strcmp(rows[i].file, file) &&
            !strcmp(rows[i].kind, kind))
            return &rows[i];
    if (nrows == sizeof rows / sizeof rows[0])
        die("too many result rows", "");
    row *r = &rows[nrows++];
    snprintf(r->artifact, sizeof r->artifact, "%s", artifact);
    snprintf(r->file, sizeof r->file, "%s", file);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    return r;
}

/* A documented limit or a change without effect: listed apart, not counted as a miss. */
static void add_note(const char *text)
{
    for (size_t i = 0; i < nnotes; i++)
        if (!strcmp(notes[i].text, text)) {
            notes[i].n++;
            return;
        }
    if (nnotes < sizeof notes / sizeof notes[0]) {
        snprintf(notes[nnotes].text, sizeof notes[nnotes].text, "%s", text);
        notes[nnotes++].n = 1;
    }
}

/* --- targets ---------------------------------------------------------------------------- */

typedef struct target target;
/* Runs the verifier on the work copy; *nochange is set when an accepted copy provably holds
 * what the original held (only the vault can tell). */
typedef int (*verify_fn)(target *t, size_t fi, size_t off, int *nochange);
/* Why an accepted mutation at off of file fi is harmless by design, or NULL. */
typedef const char *(*explain_fn)(target *t, size_t fi, size_t off, const char *kind,
                                   int nochange);

struct target {
    const char *artifact;
    char work[2048];
    tfile files[MAX_FILES];
    size_t nfiles;
    verify_fn verify;
    explain_fn explain;
    const char *fixture;
    /* vault */
    uint8_t content[32];
    char tables[64][64];
    uint8_t table_hash[64][32];
    size_t ntables;
    char changed[160], why[400];
    /* signed artifacts */
    minisig_pubkey pk;
    vault *fresh;
    FILE *devnull;
};

static void restore(target *t, size_t fi, const uint8_t *data, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vault.db-wal", t->work);
    unlink(path);
    for (size_t i = 0; i < t->nfiles; i++)
        if (i == fi)
            write_file(t->work, t->files[i].name, data, len);
        else
            write_file(t->work, t->files[i].name, t->files[i].data, t->files[i].len);
}

/* Gives file fi the bytes data[0..len) and runs the verifier; off says where the change is
 * (for the explanation of an accepted change). */
static void run_case(target *t, size_t fi, const uint8_t *data, size_t len, const char *kind,
                     size_t off, const char *what)
{
    restore(t, fi, data, len);
    int nochange = 0;
    err_clear();
    int rc = t->verify(t, fi, off, &nochange);
    row *r = row_for(t->artifact, fi < t->nfiles ? t->files[fi].name : "(all)", kind);
    r->tried++;
    total_tried++;
    if (rc != RL_OK) {
        r->detected++;
        if (err_exit_code(rc) == 3)
            r->exit3++;
        return;
    }
    const char *why = t->explain ? t->explain(t, fi, off, kind, nochange) : NULL;
    char text[480];
    if (why) {
        if (nochange)
            r->noeffect++;
        else
            r->limit++;
        snprintf(text, sizeof text, "%s %s: %s", t->artifact, t->files[fi].name, why);
        add_note(text);
        return;
    }
    if (nochange) {
        r->noeffect++;
        snprintf(text, sizeof text, "%s %s %s: accepted, and the vault's content is unchanged",
                 t->artifact, t->files[fi].name, kind);
        add_note(text);
        return;
    }
    total_missed++;
    if (nmisses < sizeof misses / sizeof misses[0])
        snprintf(misses[nmisses++], sizeof misses[0], "%s %s %s %s", t->artifact,
                 t->files[fi].name, kind, what);
}

static void sample_positions(size_t len, size_t n, size_t *out, size_t *count)
{
    if (n >= len) {
        for (size_t i = 0; i < len; i++)
            out[i] = i;
        *count = len;
        return;
    }
    /* One random position in each of n equal strata: spread over the whole file. */
    for (size_t i = 0; i < n; i++) {
        size_t lo = len * i / n, hi = len * (i + 1) / n;
        out[i] = lo + (size_t)(rnd() % (hi - lo));
    }
    *count = n;
}

/* Every bit of n sampled positions, n sampled truncations, appended bytes. */
static void campaign_bytes(target *t, size_t fi, size_t n)
{
    tfile *f = &t->files[fi];
    size_t *pos = malloc(sizeof *pos * (n + f->len + 8));
    uint8_t *m = malloc(f->len + 2 * PAGE);
    size_t cnt;
    char what[96];
    if (pos == NULL || m == NULL)
        die("out of memory", "");
    sample_positions(f->len, n, pos, &cnt);
    for (size_t i = 0; i < cnt; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(m, f->data, f->len);
            m[pos[i]] ^= (uint8_t)(1u << b);
            snprintf(what, sizeof what, "byte %zu bit %d", pos[i], b);
            run_case(t, fi, m, f->len, "bit flip", pos[i], what);
        }
    /* Truncations: to nothing, by one byte, and at sampled lengths. */
    size_t tn = n / 4 + 2;
    sample_positions(f->len, tn, pos, &cnt);
    pos[cnt++] = 0;
    if (f->len > 0)
        pos[cnt++] = f->len - 1;
    for (size_t i = 0; i < cnt; i++) {
        snprintf(what, sizeof what, "to %zu bytes", pos[i]);
        run_case(t, fi, f->data, pos[i], "truncate", pos[i], what);
    }
    /* Appends: a byte, a newline, 64 random bytes, a copy of the file's own start. */
    static const size_t add[] = {1, 1, 64, 0};
    for (size_t k = 0; k < 4; k++) {
        size_t a = add[k] ? add[k] : (f->len < PAGE ? f->len : PAGE);
        memcpy(m, f->data, f->len);
        for (size_t j = 0; j < a; j++)
            m[f->len + j] = k == 1 ? '\n' : k == 3 ? f->data[j] : (uint8_t)rnd();
        snprintf(what, sizeof what, "%zu bytes (%s)", a,
                 k == 1 ? "newline" : k == 3 ? "copy of the start" : "random");
        run_case(t, fi, m, f->len + a, "append", f->len, what);
    }
    free(pos);
    free(m);
}

/* --- the vault ---------------------------------------------------------------------------- */

static char passes[4][2][64];

static const char *pass_of(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(passes[i][0], name))
            return passes[i][1];
    return NULL;
}

/* A hash over every row of every table: what the vault holds, whatever the page layout.
 * With t, each table's own hash is compared with the original's (base: recorded) and the
 * tables that differ are named in t->changed. */
static int content_hash(vault *v, uint8_t out[32], target *t, int base)
{
    sqlite3 *db = vault_db(v);
    sqlite3_stmt *tabs = NULL, *st = NULL;
    crypto_generichash_state h;
    int ok = 1;
    crypto_generichash_init(&h, NULL, 0, 32);
    if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_schema WHERE type='table' ORDER BY name",
                           -1, &tabs, NULL) != SQLITE_OK)
        return RL_EIO;
    while (ok && sqlite3_step(tabs) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tabs, 0);
        const char *sql = (const char *)sqlite3_column_text(tabs, 1);
        crypto_generichash_update(&h, (const uint8_t *)sql, sql ? strlen(sql) : 0);
        char q[256];
        snprintf(q, sizeof q, "SELECT * FROM \"%s\"", name);
        crypto_generichash_state th;
        crypto_generichash_init(&th, NULL, 0, 32);
        if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
            ok = 0;
            break;
        }
        int src;
        while ((src = sqlite3_step(st)) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const void *b = sqlite3_column_blob(st, c);
                int64_t nb = sqlite3_column_bytes(st, c);
                int64_t ty = sqlite3_column_type(st, c);
                crypto_generichash_update(&th, (const uint8_t *)&ty, sizeof ty);
                crypto_generichash_update(&th, (const uint8_t *)&nb, sizeof nb);
                if (b)
                    crypto_generichash_update(&th, b, (size_t)nb);
            }
        ok = src == SQLITE_DONE;
        uint8_t tdig[32];
        crypto_generichash_final(&th, tdig, sizeof tdig);
        crypto_generichash_update(&h, tdig, sizeof tdig);
        if (t && base && t->ntables < 64) {
            snprintf(t->tables[t->ntables], sizeof t->tables[0], "%s", name);
            memcpy(t->table_hash[t->ntables++], tdig, 32);
        } else if (t) {
            int same = 0;
            for (size_t i = 0; i < t->ntables; i++)
                if (!strcmp(t->tables[i], name))
                    same = !memcmp(t->table_hash[i], tdig, 32);
            size_t u = strlen(t->changed);
            if (!same && u + strlen(name) + 3 < sizeof t->changed)
                snprintf(t->changed + u, sizeof t->changed - u, "%s%s", u ? ", " : "", name);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    sqlite3_finalize(tabs);
    crypto_generichash_final(&h, out, 32);
    return ok ? RL_OK : RL_EIO;
}

/* The keyring's layout (keyring.h): which operator an offset belongs to, and its field. */
static const char *keyring_field(const tfile *f, size_t off, char *op, size_t cap)
{
    snprintf(op, cap, "alice");
    if (off < 32)
        return "header";
    size_t p = 32;
    while (p < f->len) {
        size_t nl = f->data[p];
        size_t end = p + 1 + nl + 4 + 8 + 8 + 16 + 24 + 48 + 4;
        if (off < end) {
            snprintf(op, cap, "%.*s", (int)nl, (const char *)f->data + p + 1);
            size_t r = off - (p + 1 + nl);
            if (off < p + 1 + nl)
                return "name";
            if (r < 4)
                return "alg";
            if (r < 12)
                return "opslimit";
            if (r < 20)
                return "memlimit";
            if (r < 36)
                return "salt";
            if (r < 60)
                return "nonce";
            if (r < 108)
                return "wrapped";
            return "failures";
        }
        p = end;
    }
    return "beyond";
}

static int vault_verify(target *t, size_t fi, size_t off, int *nochange)
{
    char op[80] = "alice";
    if (fi < t->nfiles && !strcmp(t->files[fi].name, "keyring")) {
        /* A change to an operator's entry shows when that operator logs in. */
        keyring_field(&t->files[fi], off, op, sizeof op);
        if (pass_of(op) == NULL)
            snprintf(op, sizeof op, "alice");
    }
    const char *pass = pass_of(op);
    vault *v = NULL;
    int rc = vault_open(t->work, op, pass, strlen(pass), &v);
    if (rc == RL_OK)
        rc = vault_check(v);
    if (rc == RL_OK) {
        uint8_t h[32];
        t->changed[0] = '\0';
        *nochange = content_hash(v, h, t, 0) == RL_OK && memcmp(h, t->content, 32) == 0;
    }
    vault_close(v);
    return rc;
}

static const char *vault_explain(target *t, size_t fi, size_t off, const char *kind,
                                 int nochange)
{
    const tfile *f = &t->files[fi];
    if (!strcmp(f->name, "keyring") && !strcmp(kind, "bit flip")) {
        char op[80];
        if (!strcmp(keyring_field(f, off, op, sizeof op), "failures"))
            return "an operator's failed-login count is not authenticated (docs/vault.md: "
                   "whoever can edit the keyring can change it; it only sets the delay)";
    }
    if (!strcmp(f->name, "vault.db") && !strcmp(kind, "older page replayed") && !nochange) {
        snprintf(t->why, sizeof t->why,
                 "an older sealed version of a page at its own place (changed: %s) passes "
                 "the page seal, the B-tree checks, the audit chain and the commit counter "
                 "(DESIGN LIMIT, docs/tamper.md)", t->changed);
        return t->why;
    }
    if (!strcmp(f->name, "commits") && nochange) {
        /* Which slot holds the newest record: the other is the torn-write fallback. */
        uint64_t n[2] = {0, 0};
        for (int s = 0; s < 2 && f->len >= (size_t)(s + 1) * 48; s++)
            for (int i = 7; i >= 0; i--)
                n[s] = n[s] << 8 | f->data[s * 48 + 8 + i];
        size_t stale = n[0] > n[1] ? 1 : 0;
        if (!strcmp(kind, "append"))
            return "bytes after the record's two 48-byte slots are never read (no effect)";
        if (!strcmp(kind, "bit flip") && off % 48 >= 4 && off % 48 < 8)
            return "bytes 4-7 of a commit-record slot are unused padding, not read (no effect)";
        if (off / 48 == stale || (!strcmp(kind, "truncate") && stale == 1 && off >= 48))
            return "the older commit-record slot is the fallback for a torn write of the "
                   "newer one: damage to it reads as a power cut and is overwritten at the "
                   "next commit (no effect)";
        return "the newer commit-record slot damaged reads as a torn write in the crash "
               "window (database one commit ahead of the older slot): accepted and the record "
               "rewritten to the database's count (no effect)";
    }
    return NULL;
}

static void vault_pages(target *t, const tfile *old, size_t n)
{
    tfile *f = &t->files[0];
    size_t pages = f->len / PAGE, opages = old->len / PAGE;
    uint8_t *m = malloc(f->len);
    char what[96];
    if (m == NULL)
        die("out of memory", "");
    for (size_t k = 0; k < n && pages > 1; k++) {
        size_t a = (size_t)(rnd() % pages), b = (size_t)(rnd() % pages);
        if (a == b)
            b = (a + 1) % pages;
        memcpy(m, f->data, f->len);
        memcpy(m + a * PAGE, f->data + b * PAGE, PAGE);
        memcpy(m + b * PAGE, f->data + a * PAGE, PAGE);
        snprintf(what, sizeof what, "pages %zu and %zu", a + 1, b + 1);
        run_case(t, 0, m, f->len, "page swap", a * PAGE, what);
        memcpy(m, f->data, f->len);
        memcpy(m + b * PAGE, f->data + a * PAGE, PAGE);
        snprintf(what, sizeof what, "page %zu over page %zu", a + 1, b + 1);
        run_case(t, 0, m, f->len, "page copied over another", b * PAGE, what);
    }
    /* Whole-page truncation and a sealed page appended (SQLite sees a shorter/longer file). */
    for (size_t k = 0; k < n / 4 + 1 && pages > 1; k++) {
        size_t keep = 1 + (size_t)(rnd() % (pages - 1));
        snprintf(what, sizeof what, "to %zu pages", keep);
        run_case(t, 0, f->data, keep * PAGE, "truncate at a page boundary", keep * PAGE, what);
    }
    /* Every page replaced by its older sealed version from the earlier copy: valid under
     * the same key and page number, so only the database's structure, the audit chain and
     * the commit counter can tell. */
    for (size_t p = 0; p < pages && p < opages; p++) {
        if (memcmp(f->data + p * PAGE, old->data + p * PAGE, PAGE) == 0)
            continue; /* not rewritten since the copy: replaying it changes nothing */
        memcpy(m, f->data, f->len);
        memcpy(m + p * PAGE, old->data + p * PAGE, PAGE);
        snprintf(what, sizeof what, "page %zu from the older copy", p + 1);
        run_case(t, 0, m, f->len, "older page replayed", p * PAGE, what);
    }
    free(m);
}

/* --- signed artifacts ------------------------------------------------------------------ */

/* An accepted change inside a signature file's first line, the untrusted comment. */
static const char *sig_explain(target *t, size_t fi, size_t off, const char *kind,
                               int nochange)
{
    (void)nochange;
    const tfile *f = &t->files[fi];
    size_t n = strlen(f->name);
    if (n < 8 || strcmp(f->name + n - 8, ".minisig") != 0)
        return NULL;
    if (!strcmp(kind, "truncate") && off + 1 == f->len && f->data[off] == '\n')
        return "the .minisig's final newline is not part of anything signed (minisign "
               "accepts a last line without it)";
    if (strcmp(kind, "bit flip") != 0)
        return NULL;
    const uint8_t *nl = memchr(f->data, '\n', f->len);
    if (nl && off >= 19 && off < (size_t)(nl - f->data))
        return "the untrusted comment (first line of the .minisig) is not signed, by the "
               "minisign format's design; nothing reads it";
    return NULL;
}

static int payfile_check(target *t, size_t fi, size_t off, int *nochange)
{
    (void)fi, (void)off, (void)nochange;
    char path[4200];
    payfile_verified out;
    snprintf(path, sizeof path, "%s/%s", t->work, t->files[0].name);
    return payfile_verify(path, &t->pk, RL_XSD_DIR, &out);
}

static int journal_check_file(target *t, size_t fi, size_t off, int *nochange)
{
    (void)fi, (void)off, (void)nochange;
    char path[4200];
    journal_info info;
    snprintf(path, sizeof path, "%s/%s", t->work, t->files[0].name);
    return journal_verify_file(path, &t->pk, &info);
}

static int rules_check(target *t, size_t fi, size_t off, int *nochange)
{
    (void)fi, (void)off, (void)nochange;
    char path[4200];
    rules *r = NULL;
    snprintf(path, sizeof path, "%s/%s", t->work, t->files[0].name);
    int rc = rules_load(path, &t->pk, NULL, &r);
    rules_free(r);
    return rc;
}

static int snapshot_check(target *t, size_t fi, size_t off, int *nochange)
{
    (void)fi, (void)off, (void)nochange;
    snapshot_counts c;
    return snapshot_import(t->fresh, t->work, &t->pk, 1, t->devnull, NULL, &c);
}

/* --- replays ------------------------------------------------------------------------------ */

static void replay_row(const char *artifact, const char *kind, int detected, const char *limit)
{
    row *r = row_for(artifact, "(older copy)", kind);
    r->tried++;
    total_tried++;
    if (detected) {
        r->detected++;
        r->exit3++;
    } else if (limit) {
        r->limit++;
        char text[240];
        snprintf(text, sizeof text, "%s, %s: %s", artifact, kind, limit);
        add_note(text);
    } else {
        total_missed++;
        if (nmisses < sizeof misses / sizeof misses[0])
            snprintf(misses[nmisses++], sizeof misses[0], "%s %s", artifact, kind);
    }
}

static void copy_dir(const char *from, const char *to)
{
    tfile fs[MAX_FILES];
    size_t n = load_set(from, NULL, fs);
    mkdir(to, 0700);
    for (size_t i = 0; i < n; i++) {
        write_file(to, fs[i].name, fs[i].data, fs[i].len);
        free(fs[i].data);
    }
}

static int open_check(const char *dir, uint64_t *commits)
{
    vault *v = NULL;
    int rc = vault_open(dir, "alice", pass_of("alice"), strlen(pass_of("alice")), &v);
    if (rc == RL_OK)
        rc = vault_check(v);
    if (rc == RL_OK && commits)
        *commits = vault_commits(v);
    vault_close(v);
    return rc;
}

static void vault_replays(const char *fx, const char *work)
{
    char cur[4096], old[4096], w[4200], path[4300];
    snprintf(cur, sizeof cur, "%s/vault", fx);
    snprintf(old, sizeof old, "%s/vault-old", fx);
    snprintf(w, sizeof w, "%s/replay", work);
    static const char *const parts[] = {"vault.db", "commits", "keyring"};
    for (size_t i = 0; i < 3; i++) {
        copy_dir(cur, w);
        size_t len;
        snprintf(path, sizeof path, "%s/%s", old, parts[i]);
        uint8_t *d = read_file(path, &len);
        size_t clen;
        snprintf(path, sizeof path, "%s/%s", cur, parts[i]);
        uint8_t *c = read_file(path, &clen);
        write_file(w, parts[i], d, len);
        char kind[64];
        snprintf(kind, sizeof kind, "older %s", parts[i]);
        int same = len == clen && memcmp(c, d, len) == 0;
        int rc = open_check(w, NULL);
        replay_row("vault", kind, rc != RL_OK,
                   same ? "the older copy is byte for byte the current file (not rewritten "
                          "since): nothing to detect"
                        : NULL);
        free(d);
        free(c);
    }
    /* The whole directory: database, keyring and commit record together. */
    uint64_t c_old = 0, c_cur = 0;
    int rc = open_check(old, &c_old);
    if (open_check(cur, &c_cur) != RL_OK)
        die("the current vault does not open", "");
    char lim[200];
    snprintf(lim, sizeof lim, "accepted by the vault alone (its own counters went back with "
             "it: %llu commits instead of %llu); see the rows below and docs/tamper.md",
             (unsigned long long)c_old, (unsigned long long)c_cur);
    replay_row("vault", "whole directory", rc != RL_OK, lim);
}

static void artifact_replays(const char *fx)
{
    char a[4200], b[4200];
    minisig_pubkey pk;
    snprintf(a, sizeof a, "%s/appliance.pub", fx);
    if (minisig_pubkey_load(a, &pk) != RL_OK)
        die("cannot load", a);
    /* Payment files: verify is stateless; the token keeps the per-key sequence. */
    payfile_verified v1, v2, vr;
    snprintf(a, sizeof a, "%s/pay1.xml", fx);
    int rc = payfile_verify(a, &pk, RL_XSD_DIR, &v1);
    replay_row("payment file", "older file, payfile verify", rc != RL_OK,
               "a validly signed older file verifies (verify has no state); the token refuses "
               "a sequence not newer than the last it holds for the key, the bank a MsgId it "
               "has seen");
    snprintf(a, sizeof a, "%s/pay2.xml", fx);
    snprintf(b, sizeof b, "%s/pay-rolledback.xml", fx);
    if (payfile_verify(a, &pk, RL_XSD_DIR, &v2) != RL_OK ||
        payfile_verify(b, &pk, RL_XSD_DIR, &vr) != RL_OK)
        die("the fixture's payment files do not verify", "");
    /* What the token (firmware/core, tok_test_commands) and the bank check: the sequence
     * number must exceed the last one the token holds for the key; a MsgId seen before is
     * a duplicate. */
    replay_row("payment file", "rolled-back vault, token seq",
               strtoull(vr.seq, NULL, 10) <= strtoull(v2.seq, NULL, 10),
               "the rolled-back vault issued a sequence number beyond the token's");
    replay_row("payment file", "rolled-back vault, bank MsgId", strcmp(vr.msg_id, v2.msg_id) == 0,
               "the rolled-back vault issued a MsgId the bank has not seen");
    (void)v1;
    /* Journals: an older export is a valid signed prefix. */
    journal_info ji;
    journal_diff_info d;
    snprintf(a, sizeof a, "%s/j1.jsonl", fx);
    rc = journal_verify_file(a, &pk, &ji);
    replay_row("journal", "older export, journal verify", rc != RL_OK,
               "an older export is a valid signed journal (verify alone cannot know a newer "
               "one exists); journal diff against the last import tells");
    snprintf(b, sizeof b, "%s/j2.jsonl", fx);
    rc = journal_diff(b, a, &d);
    replay_row("journal", "older export, diff vs last", rc != RL_OK, NULL);
    snprintf(a, sizeof a, "%s/j-rolledback.jsonl", fx);
    if (journal_verify_file(a, &pk, &ji) != RL_OK)
        die("the rolled-back vault's journal does not verify", "");
    rc = journal_diff(b, a, &d);
    replay_row("journal", "rolled-back vault, diff", rc != RL_OK, NULL);
    /* Rules: any validly signed rule file loads. */
    snprintf(a, sizeof a, "%s/rules.pub", fx);
    if (minisig_pubkey_load(a, &pk) != RL_OK)
        die("cannot load", a);
    snprintf(a, sizeof a, "%s/rules-old/payroll.lua", fx);
    rules *r = NULL;
    rc = rules_load(a, &pk, NULL, &r);
    rules_free(r);
    replay_row("rule file", "older release, rules_load", rc != RL_OK,
               "rule files carry no version: any file the rules key signed loads; each pay "
               "run records the SHA-256 of the rules it ran");
}

static void snapshot_replay(target *t, const char *fx)
{
    char a[4200];
    snapshot_counts c;
    snprintf(a, sizeof a, "%s/snap", fx);
    if (snapshot_import(t->fresh, a, &t->pk, 1, t->devnull, NULL, &c) != RL_OK)
        die("the fixture's snapshot does not import", "");
    snprintf(a, sizeof a, "%s/snap-old", fx);
    int rc = snapshot_import(t->fresh, a, &t->pk, 1, t->devnull, NULL, &c);
    replay_row("snapshot", "older export, --replace", rc != RL_OK,
               "an older signed export is imported with --replace (the export time is shown "
               "by status and audited, not compared)");
}

/* --- main ----------------------------------------------------------------------------------- */

static void setup_signed(target *t, const char *artifact, const char *fx, const char *sub,
                         const char *const *names, const char *pub, verify_fn fn,
                         const char *work)
{
    char dir[4200], pk[4200];
    memset(t, 0, sizeof *t);
    t->artifact = artifact;
    t->fixture = fx;
    snprintf(dir, sizeof dir, "%s%s%s", fx, sub ? "/" : "", sub ? sub : "");
    t->nfiles = load_set(dir, names, t->files);
    snprintf(t->work, sizeof t->work, "%s/%s", work, artifact);
    for (char *p = t->work + strlen(work); *p; p++)
        if (*p == ' ')
            *p = '-';
    mkdir(t->work, 0700);
    snprintf(pk, sizeof pk, "%s/%s", fx, pub);
    if (minisig_pubkey_load(pk, &t->pk) != RL_OK)
        die("cannot load", pk);
    t->verify = fn;
    t->explain = sig_explain;
}

static void free_files(tfile *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].data);
}

static void baseline(target *t)
{
    int nochange = 0;
    restore(t, (size_t)-1, NULL, 0);
    err_clear();
    if (t->verify(t, (size_t)-1, 0, &nochange) != RL_OK)
        die("refused unaltered:", t->artifact);
}

int main(int argc, char **argv)
{
    const char *fx = NULL, *work = NULL;
    size_t samples = 16;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--fixture"))
            fx = argv[i + 1];
        else if (!strcmp(argv[i], "--work"))
            work = argv[i + 1];
        else if (!strcmp(argv[i], "--samples"))
            samples = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (fx == NULL || work == NULL || samples == 0 || (argc - 1) % 2 != 0) {
        fprintf(stderr, "usage: tamper --fixture DIR --work DIR [--samples N] [--seed S]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("libsodium failed to start", "");
    rng_state = seed;
    umask(077);
    mkdir(work, 0700);
    static const char *const ops[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) {
        char path[4200];
        size_t len;
        snprintf(path, sizeof path, "%s/pass/%s", fx, ops[i]);
        uint8_t *p = read_file(path, &len);
        while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
            len--;
        snprintf(passes[i][0], sizeof passes[i][0], "%s", ops[i]);
        snprintf(passes[i][1], sizeof passes[i][1], "%.*s", (int)len, (const char *)p);
        free(p);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* The vault: its three files, each on its own. */
    static target tv;
    char dir[4200];
    static const char *const vnames[] = {"vault.db", "commits", "keyring", NULL};
    snprintf(dir, sizeof dir, "%s/vault", fx);
    tv.artifact = "vault";
    tv.nfiles = load_set(dir, vnames, tv.files);
    snprintf(tv.work, sizeof tv.work, "%s/vault", work);
    mkdir(tv.work, 0700);
    tv.verify = vault_verify;
    tv.explain = vault_explain;
    {
        vault *v = NULL;
        restore(&tv, (size_t)-1, NULL, 0);
        if (vault_open(tv.work, "alice", pass_of("alice"), strlen(pass_of("alice")), &v) != RL_OK ||
            vault_check(v) != RL_OK || content_hash(v, tv.content, &tv, 1) != RL_OK)
            die("the unaltered vault does not open", "");
        vault_close(v);
    }
    tfile old[1];
    static const char *const oldname[] = {"vault.db", NULL};
    snprintf(dir, sizeof dir, "%s/vault-old", fx);
    load_set(dir, oldname, old);
    campaign_bytes(&tv, 0, samples);
    vault_pages(&tv, &old[0], samples);
    campaign_bytes(&tv, 1, samples);
    campaign_bytes(&tv, 2, samples / 4 + 1); /* each keyring position may cost a real Argon2id */
    vault_replays(fx, work);

    /* Signed artifacts. */
    static target tp, tj, tr, ts;
    static const char *const pnames[] = {"pay2.xml", "pay2.xml.minisig", NULL};
    setup_signed(&tp, "payment file", fx, NULL, pnames, "appliance.pub", payfile_check, work);
    static const char *const jnames[] = {"j2.jsonl", "j2.jsonl.minisig", NULL};
    setup_signed(&tj, "journal", fx, NULL, jnames, "appliance.pub", journal_check_file, work);
    static const char *const rnames[] = {"payroll.lua", "payroll.lua.minisig", NULL};
    setup_signed(&tr, "rule file", fx, "rules", rnames, "rules.pub", rules_check, work);
    setup_signed(&ts, "snapshot", fx, "snap", NULL, "export.pub", snapshot_check, work);
    snprintf(dir, sizeof dir, "%s/fresh", fx);
    ts.devnull = fopen("/dev/null", "w");
    if (vault_open(dir, "alice", pass_of("alice"), strlen(pass_of("alice")), &ts.fresh) != RL_OK)
        die("the fresh vault does not open", "");
    /* manifest.json first: the file whose signature guards the rest. */
    for (size_t i = 1; i < ts.nfiles; i++)
        if (!strcmp(ts.files[i].name, "manifest.json")) {
            tfile x = ts.files[0];
            ts.files[0] = ts.files[i];
            ts.files[i] = x;
        }
    target *signed_targets[] = {&tp, &tj, &tr, &ts};
    for (size_t k = 0; k < 4; k++) {
        target *t = signed_targets[k];
        baseline(t);
        for (size_t fi = 0; fi < t->nfiles; fi++)
            campaign_bytes(t, fi, samples);
    }
    artifact_replays(fx);
    snapshot_replay(&ts, fx);
    vault_close(ts.fresh);
    fclose(ts.devnull);
    free_files(old, 1);
    free_files(tv.files, tv.nfiles);
    for (size_t k = 0; k < 4; k++)
        free_files(signed_targets[k]->files, signed_targets[k]->nfiles);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("%-12s %-21s %-29s %6s %8s %6s %6s %6s %7s\n", "artifact", "file", "mutation", "tried",
           "detected", "exit3", "no-eff", "limit", "rate");
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        unsigned long counted = r->tried - r->noeffect - r->limit;
        char rate[16] = "-";
        if (counted > 0)
            snprintf(rate, sizeof rate, "%.1f%%", 100.0 * (double)r->detected / (double)counted);
        printf("%-12s %-21s %-29s %6lu %8lu %6lu %6lu %6lu %7s\n", r->artifact, r->file, r->kind,
               r->tried, r->detected, r->exit3, r->noeffect, r->limit, rate);
    }
    unsigned long kdf_real, kdf_memo;
    pwmemo_stats(&kdf_real, &kdf_memo);
    printf("\n%lu mutations in %.1f s (%.0f/s); Argon2id: %lu real, %lu memoised; unlock delays "
           "skipped: %lu\n",
           total_tried, secs, (double)total_tried / secs, kdf_real, kdf_memo, sleeps_skipped);
    if (nnotes) {
        printf("\naccepted, not counted as misses (documented limits, or no effect):\n");
        for (size_t i = 0; i < nnotes; i++)
            printf("  %5lu  %s\n", notes[i].n, notes[i].text);
    }
    if (total_missed) {
        printf("\nMISSED: %lu mutation(s) accepted by the verifier:\n", total_missed);
        for (size_t i = 0; i < nmisses; i++)
            printf("  %s\n", misses[i]);
        return 1;
    }
    printf("\ndetection: 100%% of the counted mutations (%lu tried)\n", total_tried);
    return 0;
}
