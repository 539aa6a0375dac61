/* token.c: the token's protocol engine: USB packet framing, the session/sequence rules, the
 * state machine and every command. Specification: firmware/README.md and proto.h.
 *
 * Everything that arrives over USB is hostile until proven otherwise: every length is
 * checked against the buffer it indexes before use, and every malformed or unexpected frame
 * gets an error frame back, never a crash and never a state change. Security decisions
 * (signature, authority) are secbool. */
#include "token.h"

#include "proto.h"
#include "sig.h"
#include "store.h"
#include "util.h"

#define TOKEN_MAGIC 0x544F4B4Eu /* "TOKN": catches use of a closed or foreign handle */
#define ERR_FRAME_CAP (PROTO_HDR_SIZE + 64u + PROTO_CRC_SIZE)

typedef struct {
    uint8_t cls;
    uint8_t production;
    uint32_t size, received;
    uint32_t key_slot;
    int has_seq;
    uint64_t seq;
    uint32_t first_block, nblocks;
    uint32_t last_activity_ms;
    store_filehdr hdr;
} upload;

struct token {
    uint32_t magic;
    hal_dev *dev;
    token_state state;
    uint32_t session;
    char serial[TOKEN_SERIAL_LEN];
    uint32_t max_packet;

    /* sequence: last executed request, for exactly-once execution and retransmission */
    int have_last;
    uint32_t last_seq;
    uint8_t last_cmd;
    uint32_t last_crc;
    int cache_valid;           /* tx holds the response to last_seq */

    /* receive: one frame per USB transfer */
    uint32_t rx_len;
    int rx_overflow;
    uint8_t rx[PROTO_MAX_FRAME];
    uint8_t pkt[TOKEN_MAX_PACKET];

    /* transmit */
    const uint8_t *tx_ptr;     /* tx or errtx */
    uint32_t tx_len, tx_off;
    int tx_pending, tx_zlp;
    uint8_t tx[PROTO_MAX_FRAME];
    uint8_t errtx[ERR_FRAME_CAP];

    upload up;
    store store;
};

_Static_assert(sizeof(struct token) <= TOKEN_STATE_BYTES, "raise TOKEN_STATE_BYTES in token.h");
_Static_assert(_Alignof(struct token) <= 16, "token_storage alignment too small");

/* ---- responses --------------------------------------------------------------------------- */

static uint32_t cstrlen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void tx_start(token *t, const uint8_t *frame, uint32_t len)
{
    t->tx_ptr = frame;
    t->tx_len = len;
    t->tx_off = 0;
    t->tx_pending = 1;
    t->tx_zlp = 0;
}

/* Frames that do not answer an executed request (malformed frames, sequence errors, unknown
 * commands, no session) go out of errtx so that tx keeps the cached response. */
static void send_error_frame(token *t, uint8_t cmd, uint32_t seq, uint16_t status,
                             const char *msg, const uint8_t *prefix, uint32_t prefix_len)
{
    uint8_t payload[64];
    uint32_t n = 0;
    if (prefix_len > 8u)
        prefix_len = 8u;
    tk_memcpy(payload, prefix, prefix_len);
    n = prefix_len;
    uint32_t ml = TK_MIN(cstrlen(msg), (uint32_t)sizeof payload - n);
    tk_memcpy(payload + n, msg, ml);
    n += ml;
    size_t fl = proto_frame_build(t->errtx, sizeof t->errtx, cmd, status, seq, payload, n);
    tx_start(t, t->errtx, (uint32_t)fl);
}

/* Response to an executed request: payload already in t->tx + PROTO_HDR_SIZE. */
static void send_response(token *t, uint8_t cmd, uint32_t seq, uint16_t status, uint32_t len)
{
    size_t fl = proto_frame_build(t->tx, sizeof t->tx, (uint8_t)(cmd | PROTO_RSP_FLAG), status,
                                  seq, t->tx + PROTO_HDR_SIZE, len);
    tx_start(t, t->tx, (uint32_t)fl);
}

/* Error answer to an executed request: a short message as payload. Returns the status so a
 * handler can `return fail(...)`. */
static uint16_t fail_msg(token *t, uint32_t *len, uint16_t status, const char *msg)
{
    uint32_t ml = TK_MIN(cstrlen(msg), 60u);
    tk_memcpy(t->tx + PROTO_HDR_SIZE, msg, ml);
    *len = ml;
    return status;
}

static uint8_t *out(token *t)
{
    return t->tx + PROTO_HDR_SIZE;
}

/* ---- state helpers ----------------------------------------------------------------------- */

static void set_state(token *t, token_state s)
{
    t->state = s;
    hal_led_set(t->dev, s == TOKEN_FAULT       ? HAL_LED_ERROR
                        : s == TOKEN_RECEIVING ? HAL_LED_BUSY
                                               : HAL_LED_IDLE);
}

static void abort_upload(token *t)
{
    tk_wipe(&t->up, sizeof t->up);
    if (t->state == TOKEN_RECEIVING)
        set_state(t, TOKEN_IDLE);
}

/* After a failed flash write: reload the truth from flash. A token that cannot even mount
 * any more goes to FAULT. */
static void remount(token *t)
{
    abort_upload(t);
    if (store_mount(&t->store, t->dev) != STORE_OK)
        set_state(t, TOKEN_FAULT);
}

static int find_file(const token *t, const uint8_t *name, uint32_t len)
{
    const store_state *st = &t->store.st;
    for (uint32_t i = 0; i < st->nfiles; i++)
        if (st->files[i].name_len == len && tk_memeq(st->files[i].name, name, len))
            return (int)i;
    return -1;
}

static int find_key(const token *t, const uint8_t key_id[8])
{
    for (uint32_t i = 0; i < STORE_MAX_KEYS; i++)
        if (t->store.st.keys[i].used && tk_memeq(t->store.st.keys[i].key_id, key_id, 8))
            return (int)i;
    return -1;
}

static int hash_seen(const token *t, const uint8_t id[PROTO_HASH_ID_LEN])
{
    const store_state *st = &t->store.st;
    for (uint32_t i = 0; i < st->nfiles; i++)
        if (tk_memeq(st->files[i].hash_id, id, PROTO_HASH_ID_LEN))
            return 1;
    for (uint32_t i = 0; i < st->ndeleted; i++)
        if (tk_memeq(st->deleted[i], id, PROTO_HASH_ID_LEN))
            return 1;
    return 0;
}

/* ---- commands ---------------------------------------------------------------------------- */

static uint16_t cmd_info(token *t, uint32_t *len)
{
    const store_state *st = &t->store.st;
    uint8_t *o = out(t);
    uint32_t nkeys = 0;
    tk_memset(o, 0, PROTO_INFO_KEYS);
    o[PROTO_INFO_PROTO] = PROTO_VERSION;
    o[PROTO_INFO_FW] = TOKEN_FW_MAJOR;
    o[PROTO_INFO_FW + 1] = TOKEN_FW_MINOR;
    o[PROTO_INFO_FW + 2] = TOKEN_FW_PATCH;
    tk_memcpy(o + PROTO_INFO_MODEL, TOKEN_MODEL, cstrlen(TOKEN_MODEL));
    tk_memcpy(o + PROTO_INFO_SERIAL, t->serial, TOKEN_SERIAL_LEN);
    proto_store32(o + PROTO_INFO_SESSION, t->session);
    o[PROTO_INFO_MAXFILES] = (uint8_t)STORE_MAX_FILES;
    proto_store16(o + PROTO_INFO_MAXPAYLOAD, (uint16_t)PROTO_MAX_PAYLOAD);
    proto_store16(o + PROTO_INFO_MAXCHUNK, (uint16_t)PROTO_MAX_CHUNK);
    if (t->state != TOKEN_FAULT) {
        proto_store64(o + PROTO_INFO_COUNTER, st->counter);
        proto_store32(o + PROTO_INFO_FREE, store_free_bytes(&t->store));
        proto_store32(o + PROTO_INFO_LARGEST, store_largest_file(&t->store));
        proto_store32(o + PROTO_INFO_TOTAL, store_capacity(&t->store));
        o[PROTO_INFO_NFILES] = (uint8_t)st->nfiles;
        o[PROTO_INFO_FLAGS] = (uint8_t)((st->has_authority ? PROTO_INFO_FLAG_AUTHORITY : 0u) |
                                        (t->state == TOKEN_RECEIVING ? PROTO_INFO_FLAG_UPLOADING
                                                                     : 0u));
        proto_store32(o + PROTO_INFO_EPOCH, st->epoch);
        if (st->has_authority)
            tk_memcpy(o + PROTO_INFO_AUTH_ID, st->auth_key_id, 8);
        for (uint32_t i = 0; i < STORE_MAX_KEYS; i++) {
            if (!st->keys[i].used)
                continue;
            uint8_t *k = o + PROTO_INFO_KEYS + nkeys * PROTO_INFO_KEY_SIZE;
            tk_memcpy(k, st->keys[i].key_id, 8);
            proto_store64(k + 8, st->keys[i].last_seq);
            nkeys++;
        }
    }
    o[PROTO_INFO_NKEYS] = (uint8_t)nkeys;
    *len = PROTO_INFO_KEYS + nkeys * PROTO_INFO_KEY_SIZE;
    return PROTO_OK;
}

static uint16_t cmd_list(token *t, uint32_t plen, uint32_t *len)
{
    const store_state *st = &t->store.st;
    uint8_t *o = out(t);
    if (plen != 0)
        return fail_msg(t, len, PROTO_E_MALFORMED, "LIST takes no payload");
    tk_memset(o, 0, PROTO_LIST_HDR + st->nfiles * PROTO_LIST_ENTRY);
    proto_store64(o, st->counter);
    o[8] = (uint8_t)st->nfiles;
    for (uint32_t i = 0; i < st->nfiles; i++) {
        const store_file *f = &st->files[i];
        uint8_t *e = o + PROTO_LIST_HDR + i * PROTO_LIST_ENTRY;
        tk_memcpy(e + PROTO_LE_NAME, f->name, f->name_len);
        proto_store32(e + PROTO_LE_SIZE, f->size);
        proto_store64(e + PROTO_LE_COUNTER, f->counter);
        proto_store32(e + PROTO_LE_FLAGS, f->flags);
        tk_memcpy(e + PROTO_LE_HASH_ID, f->hash_id, PROTO_HASH_ID_LEN);
    }
    *len = PROTO_LIST_HDR + st->nfiles * PROTO_LIST_ENTRY;
    return PROTO_OK;
}

static uint16_t cmd_stat(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    store_filehdr *h = &t->up.hdr; /* scratch; no upload can be running in IDLE */
    int i = find_file(t, p, plen);
    if (i < 0)
        return fail_msg(t, len, PROTO_E_NOT_FOUND, "no such file");
    const store_file *f = &t->store.st.files[i];
    if (store_read_header(&t->store, f->first_block, h) != STORE_OK || h->size != f->size ||
        h->name_len != f->name_len || !tk_memeq(h->name, f->name, f->name_len))
        return fail_msg(t, len, PROTO_E_FLASH, "stored file header damaged");
    uint8_t *o = out(t);
    proto_store32(o + PROTO_STAT_SIZE, f->size);
    proto_store64(o + PROTO_STAT_COUNTER, f->counter);
    proto_store32(o + PROTO_STAT_FLAGS, f->flags);
    tk_memcpy(o + PROTO_STAT_KEY_ID, h->key_id, 8);
    tk_memcpy(o + PROTO_STAT_PREHASH, h->prehash, 64);
    tk_memcpy(o + PROTO_STAT_SIG, h->sig, 64);
    tk_memcpy(o + PROTO_STAT_GSIG, h->gsig, 64);
    proto_store16(o + PROTO_STAT_TC_LEN, h->tc_len);
    tk_memcpy(o + PROTO_STAT_TC, h->tc, h->tc_len);
    *len = PROTO_STAT_TC + h->tc_len;
    tk_wipe(h, sizeof *h);
    return PROTO_OK;
}

static uint16_t cmd_get(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    if (plen < PROTO_GET_NAME + 1u)
        return fail_msg(t, len, PROTO_E_MALFORMED, "GET payload too short");
    uint32_t off = proto_load32(p + PROTO_GET_OFFSET);
    uint32_t want = proto_load16(p + PROTO_GET_LEN);
    if (want == 0 || want > PROTO_MAX_CHUNK)
        return fail_msg(t, len, PROTO_E_MALFORMED, "GET length must be 1..4096");
    int i = find_file(t, p + PROTO_GET_NAME, plen - PROTO_GET_NAME);
    if (i < 0)
        return fail_msg(t, len, PROTO_E_NOT_FOUND, "no such file");
    const store_file *f = &t->store.st.files[i];
    if (off > f->size)
        return fail_msg(t, len, PROTO_E_RANGE, "offset beyond end of file");
    uint32_t n = TK_MIN(want, f->size - off);
    if (n && store_read_data(&t->store, f->first_block, off, out(t), n) != STORE_OK)
        return fail_msg(t, len, PROTO_E_FLASH, "flash read failed");
    *len = n;
    return PROTO_OK;
}

static uint16_t cmd_put_begin(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    upload *u = &t->up;
    store_filehdr *h = &u->hdr;
    store_state *st = &t->store.st;
    sig_tc_info tci;

    if (plen < PROTO_PB_VAR)
        return fail_msg(t, len, PROTO_E_MALFORMED, "PUT_BEGIN payload too short");
    uint32_t nl = p[PROTO_PB_NAME_LEN];
    uint32_t tl = proto_load16(p + PROTO_PB_TC_LEN);
    if (tl > PROTO_TC_MAX || plen != PROTO_PB_VAR + nl + tl)
        return fail_msg(t, len, PROTO_E_MALFORMED, "PUT_BEGIN lengths inconsistent");
    const uint8_t *name = p + PROTO_PB_VAR;
    const uint8_t *tc = name + nl;
    if (!(p[PROTO_PB_ALG] == 'E' && p[PROTO_PB_ALG + 1] == 'D' && p[PROTO_PB_ALG + 2] == 0 &&
          p[PROTO_PB_ALG + 3] == 0))
        return fail_msg(t, len, PROTO_E_MALFORMED, "only prehashed ED signatures");
    uint8_t cls = p[PROTO_PB_CLASS];
    if (cls != PROTO_CLASS_DRILL && cls != PROTO_CLASS_PRODUCTION)
        return fail_msg(t, len, PROTO_E_MALFORMED, "class must be drill or production");
    if (!store_name_valid(name, nl))
        return fail_msg(t, len, PROTO_E_NAME, "bad file name");
    if (find_file(t, name, nl) >= 0)
        return fail_msg(t, len, PROTO_E_EXISTS, "a file with this name is on the token");
    if (st->nfiles >= STORE_MAX_FILES)
        return fail_msg(t, len, PROTO_E_FULL, "file table full");
    int ks = find_key(t, p + PROTO_PB_KEY_ID);
    if (ks < 0)
        return fail_msg(t, len, PROTO_E_KEY, "signer is not an enrolled appliance key");

    /* Signatures before anything in the trusted comment is believed. */
    secbool ok = sig_verify_minisign(p + PROTO_PB_PREHASH, p + PROTO_PB_SIG, p + PROTO_PB_GSIG, tc,
                                     tl, st->keys[ks].pk);
    if (ok != sectrue)
        return fail_msg(t, len, PROTO_E_SIGNATURE, "signature does not verify");
    if (sig_tc_parse(tc, tl, &tci) != 0)
        return fail_msg(t, len, PROTO_E_MALFORMED, "trusted comment malformed");
    if (tci.file && (tci.file_len != nl || !tk_memeq(tci.file, name, nl)))
        return fail_msg(t, len, PROTO_E_NAME, "name differs from signed file= name");
    /* A drill file can never become production: the class is the signed one, and the
     * request must agree with it. */
    if ((cls == PROTO_CLASS_PRODUCTION) != (tci.production == 1))
        return fail_msg(t, len, PROTO_E_CLASS,
                        tci.production ? "signed as production, sent as drill"
                                       : "drill file cannot be production");
    if (tci.production && !tci.has_seq)
        return fail_msg(t, len, PROTO_E_MALFORMED, "production file needs seq= in comment");
    if (hash_seen(t, p + PROTO_PB_PREHASH))
        return fail_msg(t, len, PROTO_E_REPLAY, "this file was already accepted");
    if (tci.has_seq && tci.seq <= st->keys[ks].last_seq)
        return fail_msg(t, len, PROTO_E_REPLAY, "seq not newer than the last accepted");

    uint32_t size = proto_load32(p + PROTO_PB_SIZE);
    uint32_t first, nblocks;
    int rc = store_upload_begin(&t->store, size, &first, &nblocks);
    if (rc == STORE_ETOOBIG)
        return fail_msg(t, len, PROTO_E_TOO_BIG, "file larger than the token");
    if (rc != STORE_OK)
        return fail_msg(t, len, PROTO_E_FULL, "not enough free flash");

    tk_memset(u, 0, sizeof *u);
    u->cls = cls;
    u->production = (uint8_t)tci.production;
    u->size = size;
    u->key_slot = (uint32_t)ks;
    u->has_seq = tci.has_seq;
    u->seq = tci.seq;
    u->first_block = first;
    u->nblocks = nblocks;
    u->last_activity_ms = hal_clock_ms(t->dev);
    h->cls = cls;
    h->size = size;
    h->name_len = (uint8_t)nl;
    tk_memcpy(h->name, name, nl);
    tk_memcpy(h->prehash, p + PROTO_PB_PREHASH, 64);
    tk_memcpy(h->key_id, p + PROTO_PB_KEY_ID, 8);
    tk_memcpy(h->sig, p + PROTO_PB_SIG, 64);
    tk_memcpy(h->gsig, p + PROTO_PB_GSIG, 64);
    h->tc_len = (uint16_t)tl;
    tk_memcpy(h->tc, tc, tl);
    if (store_upload_header(&t->store, h) != STORE_OK) {
        abort_upload(t);
        return fail_msg(t, len, PROTO_E_FLASH, "flash write failed");
    }
    set_state(t, TOKEN_RECEIVING);
    *len = 0;
    return PROTO_OK;
}

static uint16_t cmd_put_data(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    upload *u = &t->up;
    if (plen < PROTO_PD_DATA + 1u)
        return fail_msg(t, len, PROTO_E_MALFORMED, "PUT_DATA without data");
    uint32_t off = proto_load32(p + PROTO_PD_OFFSET);
    uint32_t n = plen - PROTO_PD_DATA;
    if (n > PROTO_MAX_CHUNK)
        return fail_msg(t, len, PROTO_E_MALFORMED, "chunk larger than 4096");
    if (off != u->received) {
        /* Not fatal: the host resends from the offset in the payload. */
        uint32_t ml = TK_MIN(cstrlen("unexpected offset"), 56u);
        proto_store32(out(t), u->received);
        tk_memcpy(out(t) + 4, "unexpected offset", ml);
        *len = 4 + ml;
        return PROTO_E_OFFSET;
    }
    if (n > u->size - u->received)
        return fail_msg(t, len, PROTO_E_MALFORMED, "data beyond the announced size");
    if (store_upload_write(&t->store, p + PROTO_PD_DATA, n) != STORE_OK) {
        abort_upload(t);
        return fail_msg(t, len, PROTO_E_FLASH, "flash write failed; upload abandoned");
    }
    u->received += n;
    u->last_activity_ms = hal_clock_ms(t->dev);
    proto_store32(out(t), u->received);
    *len = 4;
    return PROTO_OK;
}

/* Hashes the stored file back from flash: what we commit is what we verified. */
static int hash_stored(token *t, uint8_t prehash[64])
{
    upload *u = &t->up;
    hal_blake2b_state h;
    uint8_t *buf = t->store.page; /* free after the final flush */
    uint32_t ps = t->store.geo.page_size;
    if (hal_blake2b_init(&h, 64) != HAL_OK)
        return -1;
    for (uint32_t off = 0; off < u->size;) {
        uint32_t n = TK_MIN(ps, u->size - off);
        if (store_read_data(&t->store, u->first_block, off, buf, n) != STORE_OK) {
            hal_blake2b_final(&h, prehash, 64);
            return -1;
        }
        hal_blake2b_update(&h, buf, n);
        off += n;
    }
    hal_blake2b_final(&h, prehash, 64);
    return 0;
}

static uint16_t cmd_put_commit(token *t, uint32_t plen, uint32_t *len)
{
    upload *u = &t->up;
    store_state *st = &t->store.st;
    uint8_t computed[64];
    if (plen != 0)
        return fail_msg(t, len, PROTO_E_MALFORMED, "PUT_COMMIT takes no payload");
    if (u->received != u->size)
        return fail_msg(t, len, PROTO_E_INCOMPLETE, "not all bytes received");
    if (store_upload_flush(&t->store) != STORE_OK) {
        abort_upload(t);
        return fail_msg(t, len, PROTO_E_FLASH, "flash write failed; upload abandoned");
    }
    if (hash_stored(t, computed) != 0) {
        abort_upload(t);
        return fail_msg(t, len, PROTO_E_FLASH, "flash read failed; upload abandoned");
    }
    /* The file as stored must hash to the prehash the signature was checked over; and the
     * signature is checked again over the computed hash (two independent decisions). */
    secbool same = tk_ct_equal(computed, u->hdr.prehash, 64);
    secbool ok = secfalse;
    if (same == sectrue)
        ok = sig_verify_minisign(computed, u->hdr.sig, u->hdr.gsig, u->hdr.tc, u->hdr.tc_len,
                                 st->keys[u->key_slot].pk);
    if (same != sectrue || ok != sectrue) {
        abort_upload(t);
        return fail_msg(t, len, PROTO_E_SIGNATURE, "file does not match its signature");
    }

    /* Commit: one new snapshot holds the file, the counter and the key's seq together. */
    store_file *f = &st->files[st->nfiles];
    tk_memset(f, 0, sizeof *f);
    f->name_len = u->hdr.name_len;
    tk_memcpy(f->name, u->hdr.name, u->hdr.name_len);
    tk_memcpy(f->hash_id, computed, PROTO_HASH_ID_LEN);
    f->counter = st->counter + 1u;
    f->size = u->size;
    f->first_block = u->first_block;
    f->nblocks = u->nblocks;
    f->flags = u->production ? PROTO_FILE_PRODUCTION : PROTO_FILE_DRILL;
    st->nfiles++;
    st->counter++;
    if (u->has_seq)
        st->keys[u->key_slot].last_seq = u->seq;
    if (store_commit(&t->store) != STORE_OK) {
        remount(t);
        return fail_msg(t, len, PROTO_E_FLASH, "commit failed; LIST shows what is stored");
    }
    proto_store64(out(t), f->counter);
    tk_memcpy(out(t) + 8, f->hash_id, PROTO_HASH_ID_LEN);
    *len = 8 + PROTO_HASH_ID_LEN;
    abort_upload(t); /* upload finished: back to IDLE */
    return PROTO_OK;
}

static uint16_t cmd_mark_collected(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    int i = find_file(t, p, plen);
    if (i < 0)
        return fail_msg(t, len, PROTO_E_NOT_FOUND, "no such file");
    store_file *f = &t->store.st.files[i];
    *len = 0;
    if (f->flags & PROTO_FILE_COLLECTED)
        return PROTO_OK; /* idempotent, no flash write */
    f->flags |= PROTO_FILE_COLLECTED;
    if (store_commit(&t->store) != STORE_OK) {
        remount(t);
        return fail_msg(t, len, PROTO_E_FLASH, "commit failed");
    }
    return PROTO_OK;
}

static uint16_t cmd_delete(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    store_state *st = &t->store.st;
    int i = find_file(t, p, plen);
    if (i < 0)
        return fail_msg(t, len, PROTO_E_NOT_FOUND, "no such file");
    if (!(st->files[i].flags & PROTO_FILE_COLLECTED))
        return fail_msg(t, len, PROTO_E_NOT_COLLECTED, "file not marked collected");
    /* Remember the id so the same file cannot be put again (replay refusal). */
    tk_memcpy(st->deleted[st->deleted_head], st->files[i].hash_id, PROTO_HASH_ID_LEN);
    st->deleted_head = (st->deleted_head + 1u) % STORE_DELETED_RING;
    if (st->ndeleted < STORE_DELETED_RING)
        st->ndeleted++;
    for (uint32_t j = (uint32_t)i; j + 1u < st->nfiles; j++)
        st->files[j] = st->files[j + 1u];
    st->nfiles--;
    tk_memset(&st->files[st->nfiles], 0, sizeof st->files[0]);
    *len = 0;
    if (store_commit(&t->store) != STORE_OK) {
        remount(t);
        return fail_msg(t, len, PROTO_E_FLASH, "commit failed");
    }
    return PROTO_OK;
}

static uint16_t cmd_enroll(token *t, const uint8_t *p, uint32_t plen, uint32_t *len)
{
    static const uint8_t st_magic[8] = {'R', 'L', 'T', 'K', 'E', 'N', 'R', '1'};
    store_state *st = &t->store.st;
    uint8_t prehash[64];
    if (plen < PROTO_EK_TC)
        return fail_msg(t, len, PROTO_E_MALFORMED, "ENROLL_KEY payload too short");
    uint32_t tl = proto_load16(p + PROTO_EK_TC_LEN);
    if (tl > PROTO_TC_MAX || plen != PROTO_EK_TC + tl)
        return fail_msg(t, len, PROTO_E_MALFORMED, "ENROLL_KEY lengths inconsistent");
    if (!(p[PROTO_EK_ALG] == 'E' && p[PROTO_EK_ALG + 1] == 'D' && p[PROTO_EK_ALG + 2] == 0 &&
          p[PROTO_EK_ALG + 3] == 0))
        return fail_msg(t, len, PROTO_E_MALFORMED, "only prehashed ED signatures");
    uint8_t op = p[PROTO_ST_OP];
    if (!tk_memeq(p + PROTO_ST_MAGIC, st_magic, 8) || !tk_all(p + PROTO_ST_OP + 1, 0, 3) ||
        op < PROTO_ENROLL_ADD_APPLIANCE || op > PROTO_ENROLL_SET_AUTHORITY)
        return fail_msg(t, len, PROTO_E_MALFORMED, "not an enrolment statement");
    if (!tk_memeq(p + PROTO_ST_SERIAL, t->serial, TOKEN_SERIAL_LEN))
        return fail_msg(t, len, PROTO_E_AUTHORITY, "statement is for another token");

    /* Who must have signed: the enrolled authority; on a blank token (no authority yet)
     * only a self-signed SET_AUTHORITY, the provisioning step of the key ceremony. */
    const uint8_t *signer_pk;
    if (st->has_authority) {
        if (!tk_memeq(p + PROTO_EK_KEY_ID, st->auth_key_id, 8))
            return fail_msg(t, len, PROTO_E_AUTHORITY, "not signed by the enrolment authority");
        signer_pk = st->auth_pk;
    } else {
        if (op != PROTO_ENROLL_SET_AUTHORITY || !tk_memeq(p + PROTO_EK_KEY_ID, p + PROTO_ST_KEY_ID, 8))
            return fail_msg(t, len, PROTO_E_AUTHORITY, "no authority: provision one first");
        signer_pk = p + PROTO_ST_PK;
    }
    hal_blake2b_state hs;
    if (hal_blake2b_init(&hs, 64) != HAL_OK)
        return fail_msg(t, len, PROTO_E_FAULT, "hash unavailable");
    hal_blake2b_update(&hs, p, PROTO_ST_SIZE);
    hal_blake2b_final(&hs, prehash, 64);
    secbool ok = sig_verify_minisign(prehash, p + PROTO_EK_SIG, p + PROTO_EK_GSIG, p + PROTO_EK_TC,
                                     tl, signer_pk);
    if (ok != sectrue)
        return fail_msg(t, len, PROTO_E_AUTHORITY, "authority signature does not verify");
    /* Signed statements are used once, in order: an old one cannot be replayed. */
    if (proto_load32(p + PROTO_ST_EPOCH) != st->epoch + 1u)
        return fail_msg(t, len, PROTO_E_REPLAY, "statement epoch is not the next one");

    const uint8_t *kid = p + PROTO_ST_KEY_ID, *pk = p + PROTO_ST_PK;
    int slot = find_key(t, kid);
    if (op == PROTO_ENROLL_ADD_APPLIANCE) {
        if (slot >= 0)
            return fail_msg(t, len, PROTO_E_EXISTS, "key already enrolled");
        for (uint32_t i = 0; i < STORE_MAX_KEYS && slot < 0; i++)
            if (!st->keys[i].used)
                slot = (int)i;
        if (slot < 0)
            return fail_msg(t, len, PROTO_E_FULL, "key table full");
        store_key *k = &st->keys[slot];
        tk_memset(k, 0, sizeof *k);
        k->used = 1;
        tk_memcpy(k->key_id, kid, 8);
        tk_memcpy(k->pk, pk, 32);
    } else if (op == PROTO_ENROLL_REMOVE_APPLIANCE) {
        if (slot < 0)
            return fail_msg(t, len, PROTO_E_NOT_FOUND, "key not enrolled");
        tk_memset(&st->keys[slot], 0, sizeof st->keys[slot]);
    } else {
        st->has_authority = 1;
        tk_memcpy(st->auth_key_id, kid, 8);
        tk_memcpy(st->auth_pk, pk, 32);
    }
    st->epoch++;
    if (store_commit(&t->store) != STORE_OK) {
        remount(t);
        return fail_msg(t, len, PROTO_E_FLASH, "commit failed");
    }
    uint32_t nkeys = 0;
    for (uint32_t i = 0; i < STORE_MAX_KEYS; i++)
        nkeys += st->keys[i].used ? 1u : 0u;
    proto_store32(out(t), st->epoch);
    out(t)[4] = (uint8_t)nkeys;
    *len = 5;
    return PROTO_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int known_cmd(uint8_t c)
{
    switch (c) {
    case PROTO_CMD_HELLO: case PROTO_CMD_INFO: case PROTO_CMD_LIST: case PROTO_CMD_STAT:
    case PROTO_CMD_GET: case PROTO_CMD_PUT_BEGIN: case PROTO_CMD_PUT_DATA:
    case PROTO_CMD_PUT_COMMIT: case PROTO_CMD_PUT_ABORT: case PROTO_CMD_MARK_COLLECTED:
    case PROTO_CMD_DELETE: case PROTO_CMD_ENROLL_KEY:
        return 1;
    default:
        return 0;
    }
}

/* Executes one in-sequence request; the response goes to t->tx. */
static void execute(token *t, uint8_t cmd, uint32_t seq, const uint8_t *p, uint32_t plen)
{
    uint32_t len = 0;
    uint16_t status;
    token_state s = t->state;

    if (s == TOKEN_FAULT && cmd != PROTO_CMD_INFO) {
        status = fail_msg(t, &len, PROTO_E_FAULT, "flash store unusable; send HELLO to retry");
    } else if (cmd == PROTO_CMD_INFO) {
        status = plen ? fail_msg(t, &len, PROTO_E_MALFORMED, "INFO takes no payload")
                      : cmd_info(t, &len);
    } else if (cmd == PROTO_CMD_PUT_DATA || cmd == PROTO_CMD_PUT_COMMIT) {
        if (s != TOKEN_RECEIVING)
            status = fail_msg(t, &len, PROTO_E_STATE, "no upload in progress");
        else if (cmd == PROTO_CMD_PUT_DATA)
            status = cmd_put_data(t, p, plen, &len);
        else
            status = cmd_put_commit(t, plen, &len);
    } else if (cmd == PROTO_CMD_PUT_ABORT) {
        abort_upload(t); /* idempotent */
        status = PROTO_OK;
    } else if (s == TOKEN_RECEIVING) {
        status = fail_msg(t, &len, PROTO_E_STATE, "upload in progress: commit or abort it");
    } else {
        switch (cmd) {
        case PROTO_CMD_LIST: status = cmd_list(t, plen, &len); break;
        case PROTO_CMD_STAT: status = cmd_stat(t, p, plen, &len); break;
        case PROTO_CMD_GET: status = cmd_get(t, p, plen, &len); break;
        case PROTO_CMD_PUT_BEGIN: status = cmd_put_begin(t, p, plen, &len); break;
        case PROTO_CMD_MARK_COLLECTED: status = cmd_mark_collected(t, p, plen, &len); break;
        case PROTO_CMD_DELETE: status = cmd_delete(t, p, plen, &len); break;
        case PROTO_CMD_ENROLL_KEY: status = cmd_enroll(t, p, plen, &len); break;
        default: status = fail_msg(t, &len, PROTO_E_UNKNOWN_CMD, "unknown command"); break;
        }
    }
    send_response(t, cmd, seq, status, len);
}

static void hello(token *t, uint32_t seq, uint32_t plen)
{
    uint32_t len = 0;
    uint16_t status;
    abort_upload(t);
    if (t->state == TOKEN_FAULT) {
        if (store_mount(&t->store, t->dev) == STORE_OK)
            set_state(t, TOKEN_IDLE);
    } else {
        set_state(t, TOKEN_IDLE);
    }
    hal_random(t->dev, &t->session, sizeof t->session);
    t->have_last = 1;
    t->last_seq = seq;
    t->last_cmd = PROTO_CMD_HELLO;
    t->cache_valid = 0; /* a HELLO is never answered from the cache */
    if (plen)
        status = fail_msg(t, &len, PROTO_E_MALFORMED, "HELLO takes no payload");
    else if (t->state == TOKEN_FAULT)
        status = fail_msg(t, &len, PROTO_E_FAULT, "flash store unusable");
    else
        status = cmd_info(t, &len);
    send_response(t, PROTO_CMD_HELLO, seq, status, len);
}

/* A whole USB transfer is in rx[0..rx_len): validate the frame and act on it. */
static void handle_transfer(token *t)
{
    const uint8_t *f = t->rx;
    uint32_t n = t->rx_len;
    uint32_t seq = n >= PROTO_OFF_SEQ + 4u ? proto_load32(f + PROTO_OFF_SEQ) : 0;

    if (n == 0 && !t->rx_overflow)
        return; /* a lone zero-length packet: nothing was sent */
    if (n < PROTO_HDR_SIZE) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_TRUNCATED, "frame shorter than header", 0, 0);
        return;
    }
    if (f[0] != PROTO_MAGIC0 || f[1] != PROTO_MAGIC1 || f[2] != PROTO_MAGIC2 || f[3] != PROTO_MAGIC3) {
        send_error_frame(t, PROTO_RSP_ERROR, 0, PROTO_E_MAGIC, "bad magic", 0, 0);
        return;
    }
    if (f[PROTO_OFF_VERSION] != PROTO_VERSION) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_VERSION, "unsupported version", 0, 0);
        return;
    }
    uint32_t plen = proto_load32(f + PROTO_OFF_LEN);
    if (plen > PROTO_MAX_PAYLOAD) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_LENGTH, "length over maximum", 0, 0);
        return;
    }
    uint32_t need = PROTO_HDR_SIZE + plen + PROTO_CRC_SIZE;
    if (t->rx_overflow || n > need) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_LENGTH, "bytes after frame end", 0, 0);
        return;
    }
    if (n < need) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_TRUNCATED, "transfer ended early", 0, 0);
        return;
    }
    uint32_t crc = proto_load32(f + PROTO_HDR_SIZE + plen);
    if (proto_crc32(0, f, PROTO_HDR_SIZE + plen) != crc) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_CRC, "crc mismatch", 0, 0);
        return;
    }
    uint8_t cmd = f[PROTO_OFF_CMD];
    if (proto_load16(f + PROTO_OFF_STATUS) != 0) {
        send_error_frame(t, PROTO_RSP_ERROR, seq, PROTO_E_RESERVED, "status of request not 0", 0, 0);
        return;
    }
    if (!known_cmd(cmd)) {
        send_error_frame(t, (uint8_t)(cmd | PROTO_RSP_FLAG), seq, PROTO_E_UNKNOWN_CMD,
                         "unknown command", 0, 0);
        return;
    }
    const uint8_t *p = f + PROTO_HDR_SIZE;
    if (cmd == PROTO_CMD_HELLO) {
        hello(t, seq, plen);
        return;
    }
    if (t->state == TOKEN_NO_SESSION) {
        send_error_frame(t, (uint8_t)(cmd | PROTO_RSP_FLAG), seq, PROTO_E_NO_SESSION,
                         "send HELLO first", 0, 0);
        return;
    }
    /* Exactly once: the same request again (lost response) gets the same answer again. */
    if (t->have_last && seq == t->last_seq && cmd == t->last_cmd && crc == t->last_crc &&
        t->cache_valid) {
        tx_start(t, t->tx, PROTO_HDR_SIZE + proto_load32(t->tx + PROTO_OFF_LEN) + PROTO_CRC_SIZE);
        return;
    }
    uint32_t expect = t->last_seq + 1u;
    if (seq != expect) {
        uint8_t e[4];
        proto_store32(e, expect);
        send_error_frame(t, (uint8_t)(cmd | PROTO_RSP_FLAG), seq, PROTO_E_SEQUENCE,
                         "out of sequence", e, 4);
        return;
    }
    t->last_seq = seq;
    t->last_cmd = cmd;
    t->last_crc = crc;
    t->cache_valid = 1;
    execute(t, cmd, seq, p, plen);
}

/* ---- packets ------------------------------------------------------------------------------ */

/* Pushes pending IN packets. Returns 1 if a packet went out. */
static int pump_tx(token *t)
{
    int did = 0;
    while (t->tx_pending) {
        uint32_t left = t->tx_len - t->tx_off;
        uint32_t n = TK_MIN(left, t->max_packet);
        if (n == 0 && !t->tx_zlp) {
            t->tx_pending = 0;
            break;
        }
        if (hal_usb_write_packet(t->dev, t->tx_ptr + t->tx_off, n) != HAL_OK)
            break; /* endpoint busy: try again on the next poll */
        did = 1;
        t->tx_off += n;
        if (n == 0) {
            t->tx_pending = 0; /* the terminating zero-length packet went out */
        } else if (t->tx_off == t->tx_len) {
            /* A transfer ends with a short packet; a full last packet needs a ZLP after it. */
            t->tx_zlp = (n == t->max_packet);
            if (!t->tx_zlp)
                t->tx_pending = 0;
        }
    }
    return did;
}

static void rx_reset(token *t)
{
    t->rx_len = 0;
    t->rx_overflow = 0;
}

int token_poll(token *t)
{
    if (!t || t->magic != TOKEN_MAGIC)
        return 0;
    if (hal_usb_take_reset(t->dev)) {
        /* The host resynchronised the interface: drop half frames, replies and the session. */
        rx_reset(t);
        t->tx_pending = 0;
        abort_upload(t);
        t->have_last = 0;
        t->cache_valid = 0;
        if (t->state != TOKEN_FAULT)
            set_state(t, TOKEN_NO_SESSION);
        return 1;
    }
    if (t->tx_pending) {
        /* Backpressure: no new request is read until the last answer is out. */
        return pump_tx(t);
    }
    int n = hal_usb_read_packet(t->dev, t->pkt, sizeof t->pkt);
    if (n < 0) {
        if (t->state == TOKEN_RECEIVING &&
            hal_clock_ms(t->dev) - t->up.last_activity_ms > TOKEN_UPLOAD_TIMEOUT_MS)
            abort_upload(t);
        return 0;
    }
    uint32_t len = (uint32_t)n;
    if (len > t->max_packet)
        len = t->max_packet; /* a HAL bug; never index past pkt[] */
    if (t->rx_overflow || t->rx_len + len > sizeof t->rx) {
        t->rx_overflow = 1; /* keep the start for diagnosis; drop the rest of the transfer */
    } else {
        tk_memcpy(t->rx + t->rx_len, t->pkt, len);
        t->rx_len += len;
    }
    int end = len < t->max_packet;
    if (!end && !t->rx_overflow && t->rx_len >= PROTO_HDR_SIZE) {
        /* A frame that ends exactly on a packet boundary is complete without a ZLP; a ZLP
         * that still follows is then an empty transfer and ignored. */
        uint32_t plen = proto_load32(t->rx + PROTO_OFF_LEN);
        if (plen <= PROTO_MAX_PAYLOAD && t->rx_len == PROTO_HDR_SIZE + plen + PROTO_CRC_SIZE)
            end = 1;
    }
    if (end) {
        handle_transfer(t);
        rx_reset(t);
        pump_tx(t);
    }
    return 1;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

token *token_open(token_storage *mem, hal_dev *dev)
{
    if (!mem || !dev)
        return 0;
    token *t = (token *)(void *)mem->opaque;
    tk_memset(t, 0, sizeof *t);
    t->magic = TOKEN_MAGIC;
    t->dev = dev;
    hal_device_serial(dev, t->serial);
    t->max_packet = hal_usb_max_packet(dev);
    if (t->max_packet == 0 || t->max_packet > TOKEN_MAX_PACKET)
        t->max_packet = 64; /* HAL bug; a safe value rather than an overflow */
    hal_random(dev, &t->session, sizeof t->session);
    if (store_mount(&t->store, dev) != STORE_OK)
        set_state(t, TOKEN_FAULT);
    else
        set_state(t, TOKEN_NO_SESSION);
    return t;
}

void token_close(token *t)
{
    if (!t)
        return;
    tk_wipe(t, sizeof *t);
}

token_state token_get_state(const token *t)
{
    return t ? t->state : TOKEN_FAULT;
}
