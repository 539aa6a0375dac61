/* store.c: the log-structured store on NOR flash (see store.h and firmware/README.md).
 *
 * Snapshot record, STORE_SNAP_SIZE (4096) bytes, little-endian:
 *     0  magic "RLTS"           4  u16 format (1), u16 0
 *     8  u64 generation        16  u64 counter
 *    24  u32 epoch             28  u8 has_authority, 3 x 0
 *    32  authority key id[8]   40  authority pk[32]
 *    72  4 appliance keys x 56: u8 used, 7 x 0, key_id[8], pk[32], u64 last_seq
 *   296  u32 nfiles, u32 ndeleted, u32 deleted_head, u32 0
 *   312  16 files x 128: u8 name_len, 3 x 0, u32 flags, name[64], hash_id[32],
 *        u64 counter, u32 size, u32 first_block, u32 nblocks, u32 0
 *  2360  32 deleted ids x 32
 *  3384  zero up to 4064
 *  4064  BLAKE2b-256 of bytes [0, 4064)
 *
 * File-extent header, STORE_FILEHDR_SIZE (640) bytes, then file bytes from data_off (the
 * header size rounded up to a page):
 *     0  magic "RLTF"   4 u16 format (1), u8 class, u8 0   8 u32 size   12 u32 0
 *    16  name[64]      80 prehash[64]  144 key_id[8]  152 sig[64]  216 gsig[64]
 *   280  u16 tc_len, u16 0   284 tc[256]   540 zero   608 BLAKE2b-256 of [0, 608)
 */
#include "store.h"

#include "util.h"

#define SNAP_FORMAT 1u
#define SNAP_SUM_OFF (STORE_SNAP_SIZE - 32u)
#define SNAP_KEYS 72u
#define SNAP_KEY_SIZE 56u
#define SNAP_COUNTS 296u
#define SNAP_FILES 312u
#define SNAP_FILE_SIZE 128u
#define SNAP_DELETED (SNAP_FILES + STORE_MAX_FILES * SNAP_FILE_SIZE)
#define SNAP_END (SNAP_DELETED + STORE_DELETED_RING * PROTO_HASH_ID_LEN)
_Static_assert(SNAP_END <= SNAP_SUM_OFF, "snapshot layout overflows its record");

#define FH_FORMAT 1u
#define FH_SUM_OFF (STORE_FILEHDR_SIZE - 32u)
_Static_assert(284u + 256u <= FH_SUM_OFF, "file header layout overflows");

/* Records per metadata area we aim for: more means fewer area erases per commit. */
#define RECORDS_PER_AREA_TARGET 4u

static const uint8_t snap_magic[4] = {'R', 'L', 'T', 'S'};
static const uint8_t fh_magic[4] = {'R', 'L', 'T', 'F'};

static void checksum(const uint8_t *p, size_t len, uint8_t out[32])
{
    hal_blake2b_state h;
    (void)hal_blake2b_init(&h, 32); /* 32 is always a valid length */
    hal_blake2b_update(&h, p, len);
    hal_blake2b_final(&h, out, 32);
}

int store_name_valid(const uint8_t *name, size_t len)
{
    if (len == 0 || len > PROTO_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = name[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static uint64_t block_bytes(const store *s, uint32_t nblocks)
{
    return (uint64_t)nblocks * s->geo.block_size;
}

static uint32_t blocks_for(const store *s, uint32_t size)
{
    uint64_t total = (uint64_t)s->data_off + size;
    return (uint32_t)((total + s->geo.block_size - 1u) / s->geo.block_size);
}

/* ---- snapshot encode / decode ---------------------------------------------------------- */

static void snap_encode(const store_state *st, uint8_t *r)
{
    tk_memset(r, 0, STORE_SNAP_SIZE);
    tk_memcpy(r, snap_magic, 4);
    proto_store16(r + 4, SNAP_FORMAT);
    proto_store64(r + 8, st->generation);
    proto_store64(r + 16, st->counter);
    proto_store32(r + 24, st->epoch);
    r[28] = st->has_authority ? 1u : 0u;
    tk_memcpy(r + 32, st->auth_key_id, 8);
    tk_memcpy(r + 40, st->auth_pk, 32);
    for (uint32_t i = 0; i < STORE_MAX_KEYS; i++) {
        uint8_t *k = r + SNAP_KEYS + i * SNAP_KEY_SIZE;
        const store_key *key = &st->keys[i];
        if (!key->used)
            continue;
        k[0] = 1;
        tk_memcpy(k + 8, key->key_id, 8);
        tk_memcpy(k + 16, key->pk, 32);
        proto_store64(k + 48, key->last_seq);
    }
    proto_store32(r + SNAP_COUNTS, st->nfiles);
    proto_store32(r + SNAP_COUNTS + 4, st->ndeleted);
    proto_store32(r + SNAP_COUNTS + 8, st->deleted_head);
    for (uint32_t i = 0; i < st->nfiles && i < STORE_MAX_FILES; i++) {
        uint8_t *f = r + SNAP_FILES + i * SNAP_FILE_SIZE;
        const store_file *file = &st->files[i];
        f[0] = file->name_len;
        proto_store32(f + 4, file->flags);
        tk_memcpy(f + 8, file->name, file->name_len);
        tk_memcpy(f + 72, file->hash_id, PROTO_HASH_ID_LEN);
        proto_store64(f + 104, file->counter);
        proto_store32(f + 112, file->size);
        proto_store32(f + 116, file->first_block);
        proto_store32(f + 120, file->nblocks);
    }
    tk_memcpy(r + SNAP_DELETED, st->deleted, sizeof st->deleted);
    checksum(r, SNAP_SUM_OFF, r + SNAP_SUM_OFF);
}

/* Checks magic, format and checksum only. Returns 1 if the record is intact. */
static int snap_intact(const uint8_t *r)
{
    uint8_t sum[32];
    if (!tk_memeq(r, snap_magic, 4) || proto_load16(r + 4) != SNAP_FORMAT)
        return 0;
    checksum(r, SNAP_SUM_OFF, sum);
    return tk_ct_equal(sum, r + SNAP_SUM_OFF, 32) == sectrue;
}

/* Decodes an intact record into *st and checks that it makes sense for this geometry (a
 * record that passes its checksum but not this is a firmware bug; it is not used). */
static int snap_decode(const store *s, const uint8_t *r, store_state *st)
{
    tk_memset(st, 0, sizeof *st);
    st->generation = proto_load64(r + 8);
    st->counter = proto_load64(r + 16);
    st->epoch = proto_load32(r + 24);
    if (r[28] > 1)
        return 0;
    st->has_authority = r[28];
    tk_memcpy(st->auth_key_id, r + 32, 8);
    tk_memcpy(st->auth_pk, r + 40, 32);
    for (uint32_t i = 0; i < STORE_MAX_KEYS; i++) {
        const uint8_t *k = r + SNAP_KEYS + i * SNAP_KEY_SIZE;
        if (k[0] > 1)
            return 0;
        st->keys[i].used = k[0];
        tk_memcpy(st->keys[i].key_id, k + 8, 8);
        tk_memcpy(st->keys[i].pk, k + 16, 32);
        st->keys[i].last_seq = proto_load64(k + 48);
    }
    st->nfiles = proto_load32(r + SNAP_COUNTS);
    st->ndeleted = proto_load32(r + SNAP_COUNTS + 4);
    st->deleted_head = proto_load32(r + SNAP_COUNTS + 8);
    if (st->nfiles > STORE_MAX_FILES || st->ndeleted > STORE_DELETED_RING ||
        st->deleted_head >= STORE_DELETED_RING)
        return 0;
    for (uint32_t i = 0; i < st->nfiles; i++) {
        const uint8_t *f = r + SNAP_FILES + i * SNAP_FILE_SIZE;
        store_file *file = &st->files[i];
        file->name_len = f[0];
        file->flags = proto_load32(f + 4);
        if (!store_name_valid(f + 8, file->name_len) ||
            !tk_all(f + 8 + file->name_len, 0, 64u - file->name_len))
            return 0;
        tk_memcpy(file->name, f + 8, 64);
        tk_memcpy(file->hash_id, f + 72, PROTO_HASH_ID_LEN);
        file->counter = proto_load64(f + 104);
        file->size = proto_load32(f + 112);
        file->first_block = proto_load32(f + 116);
        file->nblocks = proto_load32(f + 120);
        uint32_t cls = file->flags & (PROTO_FILE_DRILL | PROTO_FILE_PRODUCTION);
        if ((file->flags & ~(PROTO_FILE_DRILL | PROTO_FILE_PRODUCTION | PROTO_FILE_COLLECTED)) ||
            (cls != PROTO_FILE_DRILL && cls != PROTO_FILE_PRODUCTION))
            return 0;
        if (file->counter == 0 || file->counter > st->counter)
            return 0;
        if (file->first_block < s->data_first || file->nblocks == 0 ||
            (uint64_t)file->first_block + file->nblocks > s->geo.block_count ||
            file->nblocks != blocks_for(s, file->size))
            return 0;
        for (uint32_t j = 0; j < i; j++) {
            const store_file *o = &st->files[j];
            if (file->first_block < o->first_block + o->nblocks &&
                o->first_block < file->first_block + file->nblocks)
                return 0; /* overlapping extents */
            if (o->name_len == file->name_len && tk_memeq(o->name, file->name, o->name_len))
                return 0; /* duplicate name */
        }
    }
    tk_memcpy(st->deleted, r + SNAP_DELETED, sizeof st->deleted);
    return 1;
}

/* ---- mount and commit ------------------------------------------------------------------ */

static int geometry_setup(store *s)
{
    const hal_flash_geometry *g = &s->geo;
    uint32_t ps = g->page_size;
    if (ps < 64u || ps > STORE_MAX_PAGE || (ps & (ps - 1u)) != 0)
        return STORE_EGEOMETRY;
    if (g->block_size < ps || g->block_size % ps != 0 || g->block_count == 0 ||
        (uint64_t)g->block_size * g->block_count > 0xFFFFFFFFull)
        return STORE_EGEOMETRY;
    uint32_t want = RECORDS_PER_AREA_TARGET * STORE_SNAP_SIZE;
    s->area_blocks = (want + g->block_size - 1u) / g->block_size;
    s->records_per_area = (uint32_t)(block_bytes(s, s->area_blocks) / STORE_SNAP_SIZE);
    s->data_first = 2u * s->area_blocks;
    s->data_off = (STORE_FILEHDR_SIZE + ps - 1u) / ps * ps;
    if (s->records_per_area == 0 || g->block_count <= s->data_first ||
        block_bytes(s, g->block_count - s->data_first) <= s->data_off)
        return STORE_EGEOMETRY;
    return STORE_OK;
}

static uint32_t record_addr(const store *s, uint32_t area, uint32_t slot)
{
    return (uint32_t)(block_bytes(s, area * s->area_blocks) + (uint64_t)slot * STORE_SNAP_SIZE);
}

int store_mount(store *s, hal_dev *dev)
{
    tk_memset(s, 0, sizeof *s);
    s->dev = dev;
    hal_flash_geometry_get(dev, &s->geo);
    int rc = geometry_setup(s);
    if (rc != STORE_OK)
        return rc;

    int found = 0;
    uint32_t best_area = 0, best_slot = 0;
    uint64_t best_gen = 0;
    for (uint32_t area = 0; area < 2; area++) {
        for (uint32_t slot = 0; slot < s->records_per_area; slot++) {
            if (hal_flash_read(dev, record_addr(s, area, slot), s->rec, STORE_SNAP_SIZE) != HAL_OK)
                return STORE_EFLASH;
            if (!snap_intact(s->rec))
                continue;
            uint64_t gen = proto_load64(s->rec + 8);
            if (gen > s->max_gen)
                s->max_gen = gen;
            if (!snap_decode(s, s->rec, &s->st))
                continue;
            if (!found || gen > best_gen) {
                found = 1;
                best_gen = gen;
                best_area = area;
                best_slot = slot;
            }
        }
    }
    tk_memset(&s->st, 0, sizeof s->st);
    if (found) {
        if (hal_flash_read(dev, record_addr(s, best_area, best_slot), s->rec, STORE_SNAP_SIZE) !=
                HAL_OK ||
            !snap_intact(s->rec) || !snap_decode(s, s->rec, &s->st))
            return STORE_EFLASH;
        s->cur_area = best_area;
        s->next_slot = best_slot + 1u;
    } else {
        /* Empty (or wiped) flash: area 1 counts as current so the first commit erases and
         * writes area 0. */
        s->cur_area = 1;
        s->next_slot = s->records_per_area;
    }
    /* The first commit after a mount always goes to the freshly erased other area: the tail
     * of the current area may hold a torn record, and a torn page can read as erased while
     * not being programmable; we never program a page whose history we do not know. */
    s->must_rotate = 1;
    return STORE_OK;
}

int store_commit(store *s)
{
    s->st.generation = s->max_gen + 1u;
    snap_encode(&s->st, s->rec);
    if (s->must_rotate || s->next_slot >= s->records_per_area) {
        uint32_t other = s->cur_area ^ 1u;
        /* Erases only the area that does not hold the newest valid snapshot. */
        for (uint32_t b = 0; b < s->area_blocks; b++)
            if (hal_flash_erase(s->dev, other * s->area_blocks + b) != HAL_OK)
                return STORE_EFLASH;
        s->cur_area = other;
        s->next_slot = 0;
        s->must_rotate = 0;
    }
    /* A generation number is never handed out twice, even when this write fails. */
    s->max_gen = s->st.generation;
    if (hal_flash_program(s->dev, record_addr(s, s->cur_area, s->next_slot), s->rec,
                          STORE_SNAP_SIZE) != HAL_OK) {
        s->must_rotate = 1;
        return STORE_EFLASH;
    }
    s->next_slot++;
    return STORE_OK;
}

/* ---- data region ------------------------------------------------------------------------ */

/* First block at or after `from` not inside a stored file, and the length of the free run
 * starting there (0 if none). */
static uint32_t free_run(const store *s, uint32_t from, uint32_t *len)
{
    uint32_t pos = from;
    int moved = 1;
    while (moved && pos < s->geo.block_count) {
        moved = 0;
        for (uint32_t i = 0; i < s->st.nfiles; i++) {
            const store_file *f = &s->st.files[i];
            if (pos >= f->first_block && pos < f->first_block + f->nblocks) {
                pos = f->first_block + f->nblocks;
                moved = 1;
            }
        }
    }
    uint32_t end = s->geo.block_count;
    for (uint32_t i = 0; i < s->st.nfiles; i++) {
        const store_file *f = &s->st.files[i];
        if (f->first_block >= pos && f->first_block < end)
            end = f->first_block;
    }
    *len = pos < end ? end - pos : 0;
    return pos;
}

static uint32_t clamp32(uint64_t v)
{
    return v > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)v;
}

uint32_t store_capacity(const store *s)
{
    return clamp32(block_bytes(s, s->geo.block_count - s->data_first) - s->data_off);
}

uint32_t store_free_bytes(const store *s)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < s->st.nfiles; i++)
        used += s->st.files[i].nblocks;
    return clamp32(block_bytes(s, s->geo.block_count - s->data_first - used));
}

uint32_t store_largest_file(const store *s)
{
    uint32_t best = 0, pos = s->data_first;
    while (pos < s->geo.block_count) {
        uint32_t len;
        uint32_t start = free_run(s, pos, &len);
        if (len > best)
            best = len;
        if (start >= s->geo.block_count)
            break;
        pos = start + (len ? len : 1u);
    }
    uint64_t bytes = block_bytes(s, best);
    return bytes > s->data_off ? clamp32(bytes - s->data_off) : 0;
}

int store_upload_begin(store *s, uint32_t size, uint32_t *first, uint32_t *nblocks)
{
    uint32_t need = blocks_for(s, size);
    if ((uint64_t)s->data_off + size > block_bytes(s, s->geo.block_count - s->data_first))
        return STORE_ETOOBIG;
    uint32_t pos = s->data_first;
    while (pos < s->geo.block_count) {
        uint32_t len;
        uint32_t start = free_run(s, pos, &len);
        if (len >= need) {
            s->up_first = start;
            s->up_nblocks = need;
            s->up_pos = 0;
            s->up_fill = 0;
            *first = start;
            *nblocks = need;
            return STORE_OK;
        }
        if (start >= s->geo.block_count)
            break;
        pos = start + (len ? len : 1u);
    }
    return STORE_EFULL;
}

static int upload_program_page(store *s)
{
    uint32_t ps = s->geo.page_size, bs = s->geo.block_size;
    if (block_bytes(s, s->up_nblocks) < (uint64_t)s->up_pos + ps)
        return STORE_EFLASH; /* past the reserved extent: caller bug, refuse */
    uint32_t base = (uint32_t)block_bytes(s, s->up_first);
    if (s->up_pos % bs == 0 && hal_flash_erase(s->dev, s->up_first + s->up_pos / bs) != HAL_OK)
        return STORE_EFLASH;
    if (hal_flash_program(s->dev, base + s->up_pos, s->page, ps) != HAL_OK)
        return STORE_EFLASH;
    s->up_pos += ps;
    s->up_fill = 0;
    return STORE_OK;
}

int store_upload_write(store *s, const uint8_t *data, uint32_t len)
{
    uint32_t ps = s->geo.page_size;
    while (len) {
        uint32_t n = TK_MIN(len, ps - s->up_fill);
        tk_memcpy(s->page + s->up_fill, data, n);
        s->up_fill += n;
        data += n;
        len -= n;
        if (s->up_fill == ps && upload_program_page(s) != STORE_OK)
            return STORE_EFLASH;
    }
    return STORE_OK;
}

int store_upload_flush(store *s)
{
    uint32_t ps = s->geo.page_size;
    if (s->up_fill == 0)
        return STORE_OK;
    tk_memset(s->page + s->up_fill, 0xFF, ps - s->up_fill);
    s->up_fill = ps;
    return upload_program_page(s);
}

int store_upload_header(store *s, const store_filehdr *h)
{
    uint8_t *r = s->rec; /* scratch: the snapshot buffer is free outside mount/commit */
    tk_memset(r, 0, STORE_FILEHDR_SIZE);
    tk_memcpy(r, fh_magic, 4);
    proto_store16(r + 4, FH_FORMAT);
    r[6] = h->cls;
    proto_store32(r + 8, h->size);
    tk_memcpy(r + 16, h->name, TK_MIN((uint32_t)h->name_len, 63u));
    tk_memcpy(r + 80, h->prehash, 64);
    tk_memcpy(r + 144, h->key_id, 8);
    tk_memcpy(r + 152, h->sig, 64);
    tk_memcpy(r + 216, h->gsig, 64);
    uint16_t tcl = h->tc_len > PROTO_TC_MAX ? (uint16_t)PROTO_TC_MAX : h->tc_len;
    proto_store16(r + 280, tcl);
    tk_memcpy(r + 284, h->tc, tcl);
    checksum(r, FH_SUM_OFF, r + FH_SUM_OFF);
    if (store_upload_write(s, r, STORE_FILEHDR_SIZE) != STORE_OK)
        return STORE_EFLASH;
    return store_upload_flush(s);
}

int store_read_header(store *s, uint32_t first, store_filehdr *h)
{
    uint8_t *r = s->rec;
    uint8_t sum[32];
    tk_memset(h, 0, sizeof *h);
    if (hal_flash_read(s->dev, (uint32_t)block_bytes(s, first), r, STORE_FILEHDR_SIZE) != HAL_OK)
        return STORE_EFLASH;
    checksum(r, FH_SUM_OFF, sum);
    if (!tk_memeq(r, fh_magic, 4) || proto_load16(r + 4) != FH_FORMAT ||
        tk_ct_equal(sum, r + FH_SUM_OFF, 32) != sectrue)
        return STORE_EFLASH;
    h->cls = r[6];
    h->size = proto_load32(r + 8);
    tk_memcpy(h->name, r + 16, 64);
    h->name[63] = 0;
    uint32_t nl = 0;
    while (nl < 63u && h->name[nl])
        nl++;
    h->name_len = (uint8_t)nl;
    tk_memcpy(h->prehash, r + 80, 64);
    tk_memcpy(h->key_id, r + 144, 8);
    tk_memcpy(h->sig, r + 152, 64);
    tk_memcpy(h->gsig, r + 216, 64);
    h->tc_len = proto_load16(r + 280);
    if (h->tc_len > PROTO_TC_MAX)
        return STORE_EFLASH;
    tk_memcpy(h->tc, r + 284, h->tc_len);
    return STORE_OK;
}

int store_read_data(store *s, uint32_t first, uint32_t off, uint8_t *buf, uint32_t len)
{
    uint64_t addr = block_bytes(s, first) + s->data_off + off;
    if (addr + len > block_bytes(s, s->geo.block_count))
        return STORE_EFLASH;
    return hal_flash_read(s->dev, (uint32_t)addr, buf, len) == HAL_OK ? STORE_OK : STORE_EFLASH;
}
