/* vfs: the page-sealing SQLite VFS shim (see vfs.h for the design).
 *
 * Layout of a sealed page (P = 4096, R = 40):
 *   [0, P-R)      ciphertext of SQLite's bytes [0, P-R)
 *   [P-R, P-16)   24-byte random nonce
 *   [P-16, P)     16-byte Poly1305 tag
 * SQLite always sees zeros in the reserved bytes: its WAL checksums cover whole pages, so
 * handing back nonce and tag would make recovery drop committed frames.
 *
 * Files: the main database is a sequence of sealed pages. The WAL keeps its 32-byte header
 * and 24-byte frame headers in plaintext (SQLite rewrites frame headers at commit and its
 * recovery checks their checksums) and seals the page part of each frame. */
#include "vault/vfs.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define P VFS_PAGE_SIZE
#define R VFS_RESERVE
#define SEALED (P - R)
#define NONCE_OFF (P - R)
#define TAG_OFF (P - crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define WAL_HDR 32
#define FRAME_HDR 24
#define FRAME (P + FRAME_HDR)

_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                       crypto_aead_xchacha20poly1305_ietf_ABYTES ==
                   R,
               "nonce and tag must fill the reserved bytes exactly");

enum { KIND_DB = 'D', KIND_WAL = 'W', KIND_JOURNAL = 'J' };

struct vfs_ctx {
    sqlite3_vfs vfs;  /* registered copy; pAppData points back here */
    sqlite3_vfs *root;
    uint8_t *key;     /* sodium_malloc'd, 32 bytes */
    char name[48];
    atomic_uint_fast64_t auth_failures;
    atomic_uint_fast64_t seals;
    atomic_uint_fast64_t opens;
};

typedef struct {
    sqlite3_file base;
    vfs_ctx *ctx;
    sqlite3_file *real;
    int kind;
    uint8_t *scratch;      /* one frame: FRAME_HDR + P bytes (the database uses P of it) */
    sqlite3_int64 hdr_off; /* offset of the WAL frame header last written, or -1 */
    uint32_t hdr_pgno;     /* its page number */
    /* Writes held back (see wb_room): wb_len bytes for the file at wb_off, sealed. */
    uint8_t *wb;
    size_t wb_len;
    sqlite3_int64 wb_off;
} vfile;

/* The write-behind buffer's size: 30 WAL frames or 31 database pages. SQLite's unix VFS
 * writes at most 128 KiB - 1 bytes per call (it masks the length to 17 bits, and a longer
 * write comes back as SQLITE_FULL). */
#define WB_CAP ((size_t)31 * P)
_Static_assert(WB_CAP < 0x20000, "the unix VFS writes less than 128 KiB at a time");

/* The associated data: what a sealed page is bound to. */
static void make_ad(uint8_t ad[20], int kind, uint32_t pgno, sqlite3_int64 off)
{
    memcpy(ad, "RLV1", 4);
    ad[4] = (uint8_t)kind;
    ad[5] = ad[6] = ad[7] = 0;
    for (int i = 0; i < 4; i++)
        ad[8 + i] = (uint8_t)(pgno >> (8 * i));
    uint64_t o = (uint64_t)off;
    for (int i = 0; i < 8; i++)
        ad[12 + i] = (uint8_t)(o >> (8 * i));
}

/* Seals the P bytes at plain into out (which must not alias plain). */
static void page_seal(vfs_ctx *ctx, int kind, uint32_t pgno, sqlite3_int64 off,
                      const uint8_t *plain, uint8_t *out)
{
    uint8_t ad[20];
    make_ad(ad, kind, pgno, off);
    randombytes_buf(out + NONCE_OFF, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + TAG_OFF, NULL, plain, SEALED,
                                                        ad, sizeof ad, NULL, out + NONCE_OFF,
                                                        ctx->key);
    atomic_fetch_add(&ctx->seals, 1);
}

/* Opens a sealed page in place; on success the reserved bytes read as zeros. */
static int page_open(vfs_ctx *ctx, int kind, uint32_t pgno, sqlite3_int64 off, uint8_t *page)
{
    uint8_t ad[20];
    make_ad(ad, kind, pgno, off);
    atomic_fetch_add(&ctx->opens, 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(page, NULL, page, SEALED,
                                                            page + TAG_OFF, ad, sizeof ad,
                                                            page + NONCE_OFF, ctx->key) != 0) {
        atomic_fetch_add(&ctx->auth_failures, 1);
        sqlite3_log(SQLITE_IOERR_DATA, "reservlon vault: page %u of the %s failed authentication",
                    pgno, kind == KIND_DB ? "database" : "WAL");
        return -1;
    }
    memset(page + SEALED, 0, R);
    return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- write-behind ------------------------------------------------------------------- */

/* SQLite writes a WAL frame as two writes (header, page), a transaction's frames one after
 * the other, and a checkpoint's pages in page order: a system call each, which on the
 * reference virtual machine cost more than sealing the page. Writes that continue the
 * previous one are gathered here and written together. Every other operation on the file
 * (a read, a sync, its size, a truncation, a file control, the close) writes them out
 * first, so SQLite never sees the difference, and nothing is held across a sync: what a
 * sync promises is on disk when it returns. */
static int wb_flush(vfile *f)
{
    if (f->wb_len == 0)
        return SQLITE_OK;
    size_t n = f->wb_len;
    f->wb_len = 0;
    return f->real->pMethods->xWrite(f->real, f->wb, (int)n, f->wb_off);
}

/* Where to put n bytes that belong at off: in the buffer, after what it holds if they
 * continue it; NULL (and *rc) if writing the buffer out failed. */
static uint8_t *wb_room(vfile *f, sqlite3_int64 off, size_t n, int *rc)
{
    if (f->wb_len > 0 && (off != f->wb_off + (sqlite3_int64)f->wb_len || f->wb_len + n > WB_CAP)) {
        if ((*rc = wb_flush(f)) != SQLITE_OK)
            return NULL;
    }
    if (f->wb_len == 0)
        f->wb_off = off;
    uint8_t *at = f->wb + f->wb_len;
    f->wb_len += n;
    return at;
}

/* --- database file ----------------------------------------------------------------- */

/* A header read that cannot be authenticated must not fail the open: after a power cut
 * the WAL may hold the good page 1 while the database file's copy is torn. SQLite only
 * takes the page size and reserve from this read and re-reads page 1 through the pager. */
static void synth_header(uint8_t *page)
{
    memset(page, 0, P);
    memcpy(page, "SQLite format 3", 16);
    page[16] = (uint8_t)(P >> 8);
    page[17] = (uint8_t)(P & 0xff);
    page[18] = 2;
    page[19] = 2;
    page[20] = R;
    page[21] = 64;
    page[22] = 32;
    page[23] = 32;
}

static int db_read(vfile *f, void *buf, int amt, sqlite3_int64 off)
{
    int frc = wb_flush(f);
    if (frc != SQLITE_OK)
        return frc;
    if (amt == P && off % P == 0) {
        int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            /* A whole page past the end reads as zeros (SQLite relies on this); a partial
             * page means the file was cut mid-page. */
            const uint8_t *b = buf;
            for (int i = 0; i < amt; i++)
                if (b[i] != 0)
                    return SQLITE_IOERR_DATA;
            return rc;
        }
        if (rc != SQLITE_OK)
            return rc;
        if (page_open(f->ctx, KIND_DB, (uint32_t)(off / P) + 1, 0, buf) != 0)
            return SQLITE_IOERR_DATA;
        return SQLITE_OK;
    }
    /* A partial read (the 100-byte header on open): serve it from the covering page. */
    sqlite3_int64 base = off - off % P;
    if (amt <= 0 || off - base + amt > P)
        return SQLITE_IOERR_READ;
    int rc = f->real->pMethods->xRead(f->real, f->scratch, P, base);
    if (rc == SQLITE_IOERR_SHORT_READ) {
        memset(buf, 0, (size_t)amt);
        return rc;
    }
    if (rc != SQLITE_OK)
        return rc;
    if (page_open(f->ctx, KIND_DB, (uint32_t)(base / P) + 1, 0, f->scratch) != 0) {
        if (base != 0)
            return SQLITE_IOERR_DATA;
        synth_header(f->scratch);
    }
    memcpy(buf, f->scratch + (off - base), (size_t)amt);
    return SQLITE_OK;
}

static int db_write(vfile *f, const void *buf, int amt, sqlite3_int64 off)
{
    if (amt != P || off % P != 0) {
        sqlite3_log(SQLITE_IOERR_WRITE, "reservlon vault: unexpected write of %d at %lld", amt,
                    (long long)off);
        return SQLITE_IOERR_WRITE;
    }
    const uint8_t *page = buf;
    if (off == 0 && (page[20] != R || page[16] != (P >> 8) || page[17] != (P & 0xff))) {
        /* Without 40 reserved bytes the nonce and tag would overwrite SQLite's data. */
        sqlite3_log(SQLITE_IOERR_WRITE, "reservlon vault: page 1 without the reserved bytes");
        return SQLITE_IOERR_WRITE;
    }
    int rc = SQLITE_OK;
    uint8_t *at = wb_room(f, off, P, &rc);
    if (at == NULL)
        return rc;
    page_seal(f->ctx, KIND_DB, (uint32_t)(off / P) + 1, 0, page, at);
    return SQLITE_OK;
}

/* --- WAL file ------------------------------------------------------------------------ */

/* Where an offset falls in the WAL: -1 inside the header, else the frame's offset and the
 * position inside the frame. */
static sqlite3_int64 wal_frame_of(sqlite3_int64 off, sqlite3_int64 *within)
{
    if (off < WAL_HDR)
        return -1;
    *within = (off - WAL_HDR) % FRAME;
    return off - *within;
}

static int wal_frame_pgno(vfile *f, sqlite3_int64 frame, uint32_t *pgno)
{
    if (f->hdr_off == frame) {
        *pgno = f->hdr_pgno;
        return SQLITE_OK;
    }
    uint8_t hdr[FRAME_HDR];
    int rc = wb_flush(f);
    if (rc == SQLITE_OK)
        rc = f->real->pMethods->xRead(f->real, hdr, FRAME_HDR, frame);
    if (rc != SQLITE_OK)
        return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_DATA : rc;
    *pgno = get_be32(hdr);
    return SQLITE_OK;
}

static int wal_read(vfile *f, void *buf, int amt, sqlite3_int64 off)
{
    int frc = wb_flush(f);
    if (frc != SQLITE_OK)
        return frc;
    sqlite3_int64 within = 0;
    sqlite3_int64 frame = wal_frame_of(off, &within);
    uint8_t *out = buf;
    /* Frame headers are not sealed. Besides whole headers SQLite reads a frame's 8-byte
     * checksum alone (offset 16) when a transaction larger than the page cache rewrites a
     * frame it had spilled (walRewriteChecksums): 1,000,000-employment imports do. */
    if (frame < 0 || within + amt <= FRAME_HDR) {
        if (frame < 0 && off + amt > WAL_HDR)
            return SQLITE_IOERR_READ;
        return f->real->pMethods->xRead(f->real, buf, amt, off);
    }
    if (within == FRAME_HDR && amt == P) {
        if (f->hdr_off == frame) {
            int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
            if (rc != SQLITE_OK)
                return rc;
            return page_open(f->ctx, KIND_WAL, f->hdr_pgno, frame, out) == 0 ? SQLITE_OK
                                                                               : SQLITE_IOERR_DATA;
        }
        /* The page number is in the frame's header: one read of header and page (a
         * checkpoint reads every frame this way) instead of two. */
        int rc = f->real->pMethods->xRead(f->real, f->scratch, FRAME, frame);
        if (rc != SQLITE_OK)
            return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_DATA : rc;
        if (page_open(f->ctx, KIND_WAL, get_be32(f->scratch), frame, f->scratch + FRAME_HDR) != 0)
            return SQLITE_IOERR_DATA;
        memcpy(out, f->scratch + FRAME_HDR, P);
        return SQLITE_OK;
    }
    if (within == 0 && amt == FRAME) {
        /* Whole-frame reads happen during recovery. A frame that fails to open is handed
         * back as noise so SQLite's own frame checksum rejects it, as it would a torn
         * frame; failing hard here would make a vault unopenable after a power cut. */
        int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
        if (rc != SQLITE_OK)
            return rc;
        if (page_open(f->ctx, KIND_WAL, get_be32(out), frame, out + FRAME_HDR) != 0)
            randombytes_buf(out + FRAME_HDR, P);
        return SQLITE_OK;
    }
    sqlite3_log(SQLITE_IOERR_READ, "reservlon vault: unexpected WAL read of %d at %lld", amt,
                (long long)off);
    return SQLITE_IOERR_READ;
}

static int wal_write(vfile *f, const void *buf, int amt, sqlite3_int64 off)
{
    sqlite3_int64 within = 0;
    sqlite3_int64 frame = wal_frame_of(off, &within);
    int rc = SQLITE_OK;
    if (frame < 0) {
        if (off + amt > WAL_HDR)
            return SQLITE_IOERR_WRITE;
        if ((rc = wb_flush(f)) != SQLITE_OK)
            return rc;
        return f->real->pMethods->xWrite(f->real, buf, amt, off);
    }
    if (within == 0 && amt == FRAME_HDR) {
        uint8_t *at = wb_room(f, off, FRAME_HDR, &rc);
        if (at == NULL)
            return rc;
        memcpy(at, buf, FRAME_HDR);
        f->hdr_off = frame;
        f->hdr_pgno = get_be32(buf);
        return SQLITE_OK;
    }
    if (within == FRAME_HDR && amt == P) {
        uint32_t pgno;
        if ((rc = wal_frame_pgno(f, frame, &pgno)) != SQLITE_OK)
            return rc;
        uint8_t *at = wb_room(f, off, P, &rc);
        if (at == NULL)
            return rc;
        page_seal(f->ctx, KIND_WAL, pgno, frame, buf, at);
        return SQLITE_OK;
    }
    sqlite3_log(SQLITE_IOERR_WRITE, "reservlon vault: unexpected WAL write of %d at %lld", amt,
                (long long)off);
    return SQLITE_IOERR_WRITE;
}

/* --- io methods ---------------------------------------------------------------------- */

static int x_close(sqlite3_file *pf)
{
    vfile *f = (vfile *)pf;
    int rc = SQLITE_OK;
    if (f->real->pMethods != NULL) {
        rc = wb_flush(f);
        int crc = f->real->pMethods->xClose(f->real);
        if (rc == SQLITE_OK)
            rc = crc;
    }
    free(f->wb);
    f->wb = NULL;
    if (f->scratch != NULL) {
        sodium_memzero(f->scratch, FRAME);
        free(f->scratch);
        f->scratch = NULL;
    }
    return rc;
}

/* The rollback journal exists only for the instant a new vault switches itself to WAL,
 * when the database is still empty: it then holds headers, never a page. Any page-sized
 * write into it is refused so that a future change in SQLite's behaviour fails loudly
 * instead of leaking an unsealed page. */
static int journal_write(vfile *f, const void *buf, int amt, sqlite3_int64 off)
{
    if (amt >= P) {
        sqlite3_log(SQLITE_IOERR_WRITE, "reservlon vault: refusing a page in the rollback journal");
        return SQLITE_IOERR_WRITE;
    }
    return f->real->pMethods->xWrite(f->real, buf, amt, off);
}

static int x_read(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off)
{
    vfile *f = (vfile *)pf;
    switch (f->kind) {
    case KIND_DB: return db_read(f, buf, amt, off);
    case KIND_WAL: return wal_read(f, buf, amt, off);
    default: return f->real->pMethods->xRead(f->real, buf, amt, off);
    }
}

static int x_write(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off)
{
    vfile *f = (vfile *)pf;
    switch (f->kind) {
    case KIND_DB: return db_write(f, buf, amt, off);
    case KIND_WAL: return wal_write(f, buf, amt, off);
    default: return journal_write(f, buf, amt, off);
    }
}

static int x_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    vfile *f = (vfile *)pf;
    int rc = wb_flush(f);
    f->hdr_off = -1;
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int x_sync(sqlite3_file *pf, int flags)
{
    vfile *f = (vfile *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int x_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    vfile *f = (vfile *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int x_lock(sqlite3_file *pf, int lock)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xLock(f->real, lock);
}

static int x_unlock(sqlite3_file *pf, int lock)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xUnlock(f->real, lock);
}

static int x_check_reserved_lock(sqlite3_file *pf, int *out)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int x_file_control(sqlite3_file *pf, int op, void *arg)
{
    vfile *f = (vfile *)pf;
    int rc = wb_flush(f); /* e.g. a size hint or a persisted-WAL query sees the file whole */
    if (rc != SQLITE_OK)
        return rc;
    if (op == SQLITE_FCNTL_PRAGMA) {
        char **az = arg;
        if (az[1] != NULL && sqlite3_stricmp(az[1], "page_size") == 0 && az[2] != NULL &&
            atoi(az[2]) != P) {
            /* The sealing layout is fixed to 4096-byte pages. */
            az[0] = sqlite3_mprintf("the vault's page size is fixed at %d", P);
            return SQLITE_ERROR;
        }
    }
    if (op == SQLITE_FCNTL_MMAP_SIZE) {
        /* Memory-mapped reads would hand SQLite ciphertext. */
        *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int x_sector_size(sqlite3_file *pf)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int x_device_characteristics(sqlite3_file *pf)
{
    vfile *f = (vfile *)pf;
    /* Powersafe overwrite stops the WAL from padding or splitting page writes at sector
     * boundaries: every write we see is then a whole page or a whole header. */
    return f->real->pMethods->xDeviceCharacteristics(f->real) | SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static int x_shm_map(sqlite3_file *pf, int pg, int sz, int extend, void volatile **pp)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, sz, extend, pp);
}

static int x_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void x_shm_barrier(sqlite3_file *pf)
{
    vfile *f = (vfile *)pf;
    f->real->pMethods->xShmBarrier(f->real);
}

static int x_shm_unmap(sqlite3_file *pf, int del)
{
    vfile *f = (vfile *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

/* Version 2: no xFetch, so SQLite never memory-maps the (sealed) file. */
static const sqlite3_io_methods io_methods = {
    .iVersion = 2,
    .xClose = x_close,
    .xRead = x_read,
    .xWrite = x_write,
    .xTruncate = x_truncate,
    .xSync = x_sync,
    .xFileSize = x_file_size,
    .xLock = x_lock,
    .xUnlock = x_unlock,
    .xCheckReservedLock = x_check_reserved_lock,
    .xFileControl = x_file_control,
    .xSectorSize = x_sector_size,
    .xDeviceCharacteristics = x_device_characteristics,
    .xShmMap = x_shm_map,
    .xShmLock = x_shm_lock,
    .xShmBarrier = x_shm_barrier,
    .xShmUnmap = x_shm_unmap,
};

/* --- vfs methods --------------------------------------------------------------------- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    vfs_ctx *ctx = vfs->pAppData;
    vfile *f = (vfile *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->ctx = ctx;
    f->hdr_off = -1;
    if (name == NULL ||
        !(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        /* Anything else would hold unsealed pages: temp files, statement journals. The
         * vault's pragmas (temp_store=MEMORY) mean SQLite never asks for them. */
        sqlite3_log(SQLITE_CANTOPEN, "reservlon vault: refusing to open an unsealed side file");
        return SQLITE_CANTOPEN;
    }
    f->kind = (flags & SQLITE_OPEN_MAIN_DB)  ? KIND_DB
              : (flags & SQLITE_OPEN_WAL) ? KIND_WAL
                                          : KIND_JOURNAL;
    f->scratch = malloc(FRAME);
    f->wb = f->kind == KIND_JOURNAL ? NULL : malloc(WB_CAP); /* sealed bytes only */
    if (f->scratch == NULL || (f->wb == NULL && f->kind != KIND_JOURNAL)) {
        free(f->scratch);
        free(f->wb);
        f->scratch = f->wb = NULL;
        return SQLITE_NOMEM;
    }
    int rc = ctx->root->xOpen(ctx->root, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        free(f->scratch);
        free(f->wb);
        f->scratch = f->wb = NULL;
        return rc;
    }
    f->base.pMethods = &io_methods;
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xDelete(ctx->root, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xAccess(ctx->root, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xFullPathname(ctx->root, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    (void)name;
    return NULL; /* no extension loading in the vault */
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    if (n > 0)
        snprintf(msg, (size_t)n, "extension loading is disabled");
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    (void)h;
    (void)sym;
    return NULL;
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    (void)h;
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    randombytes_buf(out, (size_t)n);
    return n;
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xSleep(ctx->root, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xCurrentTime(ctx->root, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xGetLastError(ctx->root, n, out);
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    vfs_ctx *ctx = vfs->pAppData;
    return ctx->root->xCurrentTimeInt64(ctx->root, out);
}

int vfs_create(const uint8_t key[32], vfs_ctx **out, const char **name)
{
    static atomic_uint counter;
    int rc = RL_EIO;
    vfs_ctx *ctx = NULL;
    *out = NULL;
    *name = NULL;
    sqlite3_vfs *root = sqlite3_vfs_find(NULL);
    if (root == NULL || root->iVersion < 2) {
        rc = err_set(RL_EIO, "vault: no usable default SQLite VFS");
        goto cleanup;
    }
    ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        rc = err_set(RL_ENOMEM, "vault: out of memory");
        goto cleanup;
    }
    ctx->key = sodium_malloc(32);
    if (ctx->key == NULL) {
        rc = err_set(RL_ENOMEM, "vault: cannot allocate protected memory for the key");
        goto cleanup;
    }
    memcpy(ctx->key, key, 32);
    sodium_mprotect_readonly(ctx->key);
    snprintf(ctx->name, sizeof ctx->name, "reservlon-%u", atomic_fetch_add(&counter, 1));
    ctx->root = root;
    ctx->vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(vfile) + root->szOsFile,
        .mxPathname = root->mxPathname,
        .zName = ctx->name,
        .pAppData = ctx,
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_full_pathname,
        .xDlOpen = v_dlopen,
        .xDlError = v_dlerror,
        .xDlSym = v_dlsym,
        .xDlClose = v_dlclose,
        .xRandomness = v_randomness,
        .xSleep = v_sleep,
        .xCurrentTime = v_current_time,
        .xGetLastError = v_get_last_error,
        .xCurrentTimeInt64 = v_current_time_int64,
    };
    if (sqlite3_vfs_register(&ctx->vfs, 0) != SQLITE_OK) {
        rc = err_set(RL_EIO, "vault: cannot register the sealing VFS");
        goto cleanup;
    }
    *out = ctx;
    *name = ctx->name;
    ctx = NULL;
    rc = RL_OK;
cleanup:
    if (ctx != NULL) {
        sodium_free(ctx->key);
        free(ctx);
    }
    return rc;
}

void vfs_destroy(vfs_ctx *ctx)
{
    if (ctx == NULL)
        return;
    sqlite3_vfs_unregister(&ctx->vfs);
    sodium_free(ctx->key); /* sodium_free wipes before freeing */
    free(ctx);
}

int vfs_verify_file(vfs_ctx *ctx, const char *path, uint64_t *pages)
{
    int rc = RL_EINTEGRITY;
    uint8_t *page = malloc(P);
    FILE *f = fopen(path, "rbe");
    uint64_t n = 0;
    if (page == NULL || f == NULL) {
        rc = err_set(page == NULL ? RL_ENOMEM : RL_EIO, "%s: cannot read", path);
        goto cleanup;
    }
    for (;;) {
        size_t got = fread(page, 1, P, f);
        if (got == 0)
            break;
        if (got != P) {
            err_set(rc, "vault integrity failure: the database file ends in a partial page "
                        "(truncated)");
            goto cleanup;
        }
        n++;
        if (page_open(ctx, KIND_DB, (uint32_t)n, 0, page) != 0) {
            err_set(rc, "vault integrity failure: page %llu of the database failed "
                        "authentication (altered, swapped or damaged)",
                    (unsigned long long)n);
            goto cleanup;
        }
    }
    if (ferror(f)) {
        rc = err_set(RL_EIO, "%s: read error", path);
        goto cleanup;
    }
    if (n == 0) {
        err_set(rc, "vault integrity failure: the database file is empty");
        goto cleanup;
    }
    *pages = n;
    rc = RL_OK;
cleanup:
    if (f)
        fclose(f);
    if (page) {
        sodium_memzero(page, P);
        free(page);
    }
    return rc;
}

int vfs_copy_key(const vfs_ctx *ctx, uint8_t out[32])
{
    memcpy(out, ctx->key, 32);
    return RL_OK;
}

uint64_t vfs_auth_failures(const vfs_ctx *ctx) { return atomic_load(&ctx->auth_failures); }

void vfs_stats(const vfs_ctx *ctx, uint64_t *seals, uint64_t *opens)
{
    *seals = atomic_load(&ctx->seals);
    *opens = atomic_load(&ctx->opens);
}
