/* usbtoken: the appliance's libusb transport to the USB token (see usbtoken.h).
 *
 * Layers, bottom up: one bulk transfer with a timeout (bulk); one request frame and its
 * answer, resent until a well-formed answer with our sequence number arrives (exchange);
 * a request inside a session, opening one with HELLO first when there is none (request);
 * the commands. The wire format comes from firmware/include/proto.h; the behaviour this
 * relies on (exactly-once execution per sequence number, cached answers for repeats, HELLO
 * and SET_INTERFACE as resynchronisation) is specified in firmware/README.md.
 *
 * Everything an answer says is checked before it is believed: the frame (magic, version,
 * length, CRC-32), that it answers this request (command and sequence number), and every
 * length inside the payload. The token's refusals are turned into RL_E* codes with the
 * token's own reason and a hint. */
#include "token/usbtoken.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>
#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"

/* IN transfers are given a whole number of the largest packets (512 B) that hold the
 * largest frame: a device never has to split a packet for us (which USB reports as an
 * overflow). */
#define RX_CAP (((PROTO_MAX_FRAME + 511u) / 512u) * 512u)
/* Reading stale answers after a problem: a short wait is enough, they are already queued. */
#define DRAIN_TIMEOUT_MS 20u
#define DRAIN_MAX_FRAMES 64
/* Well-formed answers to earlier requests skipped while waiting for one answer. Each one
 * is the result of one resend, so a small bound suffices. */
#define MAX_STALE 32
/* E_OFFSET rewinds tolerated in one upload before giving up. */
#define MAX_REWINDS 8
/* Bounds on files this module reads itself. */
#define SIG_FILE_MAX 8192u

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "

struct usbtoken {
    libusb_context *ctx;
    libusb_device_handle *h;
    int iface;
    bool claimed;
    unsigned char ep_out, ep_in;
    unsigned max_packet;
    bool zlp;      /* the OS can end a transfer with a zero-length packet for us */
    bool session;  /* HELLO answered and no transport failure since */
    bool dirty;    /* stale answers may be queued: read them away before the next request */
    uint32_t seq;  /* last sequence number used in this session */
    uint32_t chunk; /* file bytes per PUT_DATA / GET */
    char serial[PROTO_SERIAL_LEN + 1];
    usbtoken_config cfg; /* allowlist fields cleared: only used during usbtoken_open */
    usbtoken_info info;  /* from the last HELLO */
    usbtoken_stats stats;
    /* The last answer: status and payload (pointing into rx). */
    uint16_t rsp_status;
    const uint8_t *rsp;
    uint32_t rsp_len;
    uint8_t tx[PROTO_MAX_FRAME];
    uint8_t rx[RX_CAP];
    uint8_t req[PROTO_MAX_PAYLOAD]; /* request payload being built */
};

/* A .minisig in the binary form the token takes (PUT_BEGIN, ENROLL_KEY). */
typedef struct {
    uint8_t key_id[8];
    uint8_t sig[64];
    uint8_t gsig[64];
    uint8_t tc[PROTO_TC_MAX];
    size_t tc_len;
} sigbin;

enum { REQ_UPLOAD = 1 }; /* request() flag: the command belongs to a running upload */

/* ---- names for messages ------------------------------------------------------------------ */

static const char *status_name(unsigned st)
{
    static const char *const names[] = {
        [PROTO_OK] = "OK",
        [PROTO_E_MAGIC] = "E_MAGIC",
        [PROTO_E_VERSION] = "E_VERSION",
        [PROTO_E_LENGTH] = "E_LENGTH",
        [PROTO_E_TRUNCATED] = "E_TRUNCATED",
        [PROTO_E_CRC] = "E_CRC",
        [PROTO_E_RESERVED] = "E_RESERVED",
        [PROTO_E_UNKNOWN_CMD] = "E_UNKNOWN_CMD",
        [PROTO_E_SEQUENCE] = "E_SEQUENCE",
        [PROTO_E_NO_SESSION] = "E_NO_SESSION",
        [PROTO_E_STATE] = "E_STATE",
        [PROTO_E_MALFORMED] = "E_MALFORMED",
        [PROTO_E_NAME] = "E_NAME",
        [PROTO_E_EXISTS] = "E_EXISTS",
        [PROTO_E_NOT_FOUND] = "E_NOT_FOUND",
        [PROTO_E_FULL] = "E_FULL",
        [PROTO_E_KEY] = "E_KEY",
        [PROTO_E_SIGNATURE] = "E_SIGNATURE",
        [PROTO_E_REPLAY] = "E_REPLAY",
        [PROTO_E_CLASS] = "E_CLASS",
        [PROTO_E_OFFSET] = "E_OFFSET",
        [PROTO_E_INCOMPLETE] = "E_INCOMPLETE",
        [PROTO_E_NOT_COLLECTED] = "E_NOT_COLLECTED",
        [PROTO_E_AUTHORITY] = "E_AUTHORITY",
        [PROTO_E_FLASH] = "E_FLASH",
        [PROTO_E_FAULT] = "E_FAULT",
        [PROTO_E_RANGE] = "E_RANGE",
        [PROTO_E_TOO_BIG] = "E_TOO_BIG",
    };
    if (st < sizeof names / sizeof names[0] && names[st] != NULL)
        return names[st];
    return "unknown status";
}

static const char *cmd_name(uint8_t cmd)
{
    switch (cmd) {
    case PROTO_CMD_HELLO: return "HELLO";
    case PROTO_CMD_INFO: return "INFO";
    case PROTO_CMD_LIST: return "LIST";
    case PROTO_CMD_STAT: return "STAT";
    case PROTO_CMD_GET: return "GET";
    case PROTO_CMD_PUT_BEGIN: return "PUT_BEGIN";
    case PROTO_CMD_PUT_DATA: return "PUT_DATA";
    case PROTO_CMD_PUT_COMMIT: return "PUT_COMMIT";
    case PROTO_CMD_PUT_ABORT: return "PUT_ABORT";
    case PROTO_CMD_MARK_COLLECTED: return "MARK_COLLECTED";
    case PROTO_CMD_DELETE: return "DELETE";
    case PROTO_CMD_ENROLL_KEY: return "ENROLL_KEY";
    default: return "command";
    }
}

/* ---- CRC-32 and frames ------------------------------------------------------------------ */

/* CRC-32 as proto.h specifies it (IEEE 802.3, reflected, zlib's crc32()). The firmware's
 * proto_crc32 lives in the firmware library, which the appliance does not link; this is
 * the same function written independently, so the token and the appliance also cross-check
 * each other's implementation on every frame. */
static uint32_t crc32_ieee(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n-- > 0) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static size_t frame_build(uint8_t *f, uint8_t cmd, uint32_t seq, const uint8_t *p, uint32_t len)
{
    f[PROTO_OFF_MAGIC] = PROTO_MAGIC0;
    f[PROTO_OFF_MAGIC + 1] = PROTO_MAGIC1;
    f[PROTO_OFF_MAGIC + 2] = PROTO_MAGIC2;
    f[PROTO_OFF_MAGIC + 3] = PROTO_MAGIC3;
    f[PROTO_OFF_VERSION] = PROTO_VERSION;
    f[PROTO_OFF_CMD] = cmd;
    proto_store16(f + PROTO_OFF_STATUS, 0);
    proto_store32(f + PROTO_OFF_SEQ, seq);
    proto_store32(f + PROTO_OFF_LEN, len);
    if (len > 0)
        memmove(f + PROTO_HDR_SIZE, p, len);
    proto_store32(f + PROTO_HDR_SIZE + len, crc32_ieee(0, f, PROTO_HDR_SIZE + len));
    return PROTO_HDR_SIZE + len + PROTO_CRC_SIZE;
}

/* A received transfer is a frame if its magic, version, length and CRC are right. */
static bool frame_ok(const uint8_t *f, size_t n)
{
    if (n < PROTO_HDR_SIZE + PROTO_CRC_SIZE)
        return false;
    if (f[0] != PROTO_MAGIC0 || f[1] != PROTO_MAGIC1 || f[2] != PROTO_MAGIC2 ||
        f[3] != PROTO_MAGIC3 || f[PROTO_OFF_VERSION] != PROTO_VERSION)
        return false;
    uint32_t plen = proto_load32(f + PROTO_OFF_LEN);
    if (plen > PROTO_MAX_PAYLOAD || n != PROTO_HDR_SIZE + plen + PROTO_CRC_SIZE)
        return false;
    return proto_load32(f + PROTO_HDR_SIZE + plen) == crc32_ieee(0, f, PROTO_HDR_SIZE + plen);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* The token's own explanation from an error answer, as printable ASCII (it is data from a
 * device, so nothing else reaches a terminal). E_SEQUENCE and E_OFFSET put a u32 first. */
static void token_reason(const usbtoken *t, char *out, size_t cap)
{
    size_t skip = (t->rsp_status == PROTO_E_SEQUENCE || t->rsp_status == PROTO_E_OFFSET) ? 4 : 0;
    size_t o = 0;
    for (size_t i = skip; i < t->rsp_len && o + 1 < cap; i++) {
        uint8_t c = t->rsp[i];
        out[o++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    out[o] = '\0';
    if (o == 0)
        snprintf(out, cap, "no reason given");
}

/* A refusal by the token (a well-formed answer with an error status) as an RL code, with
 * the token's reason and what the operator can do about it. */
static int refusal(const usbtoken *t, uint8_t cmd, const char *subject)
{
    char reason[96];
    int code = RL_EIO;
    const char *hint = "";
    token_reason(t, reason, sizeof reason);
    switch (t->rsp_status) {
    case PROTO_E_KEY:
        code = RL_EINTEGRITY;
        hint = "it was signed by a key that is not enrolled on this token; sign with the "
               "appliance key or enrol that key (reservlon token enroll)";
        break;
    case PROTO_E_SIGNATURE:
        code = RL_EINTEGRITY;
        hint = "the signature does not match: the file or its .minisig was altered after "
               "signing, or they do not belong together; do not carry this file";
        break;
    case PROTO_E_REPLAY:
        code = RL_EINTEGRITY;
        hint = "replay refused: this file, or a seq= not newer than the last one accepted from "
               "this key, is already on the token or was on it; produce a new payment file";
        break;
    case PROTO_E_CLASS:
        code = RL_EINTEGRITY;
        hint = "drill/production mismatch: the class requested is not the one signed in the "
               "trusted comment (mode=); a drill file can never be production";
        break;
    case PROTO_E_AUTHORITY:
        code = RL_EINTEGRITY;
        hint = "the enrolment statement is not signed by this token's enrolment authority, or "
               "is for another token";
        break;
    case PROTO_E_MALFORMED:
        code = RL_EDATA;
        hint = "the token cannot use the request: for a put, the trusted comment must follow "
               "`mode=production|drill seq=N file=NAME` (seq= required for production)";
        break;
    case PROTO_E_NAME:
        code = RL_EDATA;
        hint = "file names are 1-63 characters of A-Z a-z 0-9 . _ - and must equal the "
               "signed file= name";
        break;
    case PROTO_E_EXISTS:
        code = RL_EDATA;
        hint = "a file with this name (or this key) is already on the token; `reservlon token "
               "list` shows it";
        break;
    case PROTO_E_NOT_FOUND:
        code = RL_EDATA;
        hint = "there is no such file (or key) on the token; `reservlon token list` shows "
               "what is there";
        break;
    case PROTO_E_FULL:
        code = RL_EDATA;
        hint = "the token is full: mark collected files and delete them, or use another token";
        break;
    case PROTO_E_TOO_BIG:
        code = RL_EDATA;
        hint = "the file is larger than this token can ever hold";
        break;
    case PROTO_E_NOT_COLLECTED:
        code = RL_EDATA;
        hint = "only a file marked collected can be deleted: mark it collected first, once "
               "the bank's upload station has it";
        break;
    case PROTO_E_RANGE:
        code = RL_EDATA;
        hint = "read beyond the end of the file";
        break;
    case PROTO_E_FLASH:
        hint = "the token's flash failed; its stored state is the previous one. Try again; "
               "if it repeats, the token needs service";
        break;
    case PROTO_E_FAULT:
        hint = "the token's flash store cannot be mounted: the token needs service, do not "
               "use it";
        break;
    default:
        hint = "protocol error between the appliance and the token; unplug and replug the "
               "token and try again";
        break;
    }
    return err_set(code, "token %s refused %s%s%s: %s \"%s\": %s", t->serial, cmd_name(cmd),
                   subject != NULL ? " of " : "", subject != NULL ? subject : "",
                   status_name(t->rsp_status), reason, hint);
}

/* An answer that is a valid frame but whose payload does not have the layout its command
 * promises: a firmware fault or a foreign device. */
static int bad_answer(usbtoken *t, uint8_t cmd, const char *what)
{
    t->session = false;
    t->dirty = true;
    return err_set(RL_EIO, "token %s: malformed %s answer (%s); unplug and replug the token; "
                           "if it repeats, the token's firmware is faulty",
                   t->serial, cmd_name(cmd), what);
}

static void progress(const usbtoken *t, const char *what, uint64_t done, uint64_t total)
{
    if (t->cfg.progress != NULL)
        t->cfg.progress(t->cfg.progress_ctx, what, done, total);
}

/* ---- USB -------------------------------------------------------------------------------- */

static void LIBUSB_CALL transfer_done(struct libusb_transfer *x)
{
    *(int *)x->user_data = 1;
}

/* One bulk transfer with a timeout. Returns 0 or a LIBUSB_ERROR_* code; *actual gets the
 * bytes transferred, also when it fails (an OUT that timed out may have sent some).
 * libusb's synchronous libusb_bulk_transfer cannot ask for the terminating zero-length
 * packet that firmware/README.md asks for, so this is its loop with that flag. */
static int bulk(usbtoken *t, unsigned char ep, uint8_t *buf, size_t len, unsigned timeout_ms,
                size_t *actual)
{
    int done = 0;
    int rc;
    *actual = 0;
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    if (x == NULL)
        return LIBUSB_ERROR_NO_MEM;
    libusb_fill_bulk_transfer(x, t->h, ep, buf, (int)len, transfer_done, &done, timeout_ms);
    if ((ep & LIBUSB_ENDPOINT_IN) == 0 && t->zlp)
        x->flags = LIBUSB_TRANSFER_ADD_ZERO_PACKET;
    rc = libusb_submit_transfer(x);
    if (rc == LIBUSB_ERROR_NOT_SUPPORTED && x->flags != 0) {
        /* The OS cannot add the ZLP: the token also takes a frame that ends exactly on a
         * packet boundary as complete (firmware/README.md), so send without it. */
        t->zlp = false;
        x->flags = 0;
        rc = libusb_submit_transfer(x);
    }
    if (rc < 0)
        goto cleanup;
    while (!done) {
        rc = libusb_handle_events_completed(t->ctx, &done);
        if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED) {
            /* Event handling broke: cancel and wait for the transfer to come back, since
             * it may not be freed while libusb still owns it. */
            libusb_cancel_transfer(x);
            while (!done)
                if (libusb_handle_events_completed(t->ctx, &done) < 0)
                    break;
            break;
        }
    }
    *actual = x->actual_length > 0 ? (size_t)x->actual_length : 0;
    switch (x->status) {
    case LIBUSB_TRANSFER_COMPLETED: rc = 0; break;
    case LIBUSB_TRANSFER_TIMED_OUT: rc = LIBUSB_ERROR_TIMEOUT; break;
    case LIBUSB_TRANSFER_STALL: rc = LIBUSB_ERROR_PIPE; break;
    case LIBUSB_TRANSFER_OVERFLOW: rc = LIBUSB_ERROR_OVERFLOW; break;
    case LIBUSB_TRANSFER_NO_DEVICE: rc = LIBUSB_ERROR_NO_DEVICE; break;
    default: rc = LIBUSB_ERROR_IO; break;
    }
cleanup:
    libusb_free_transfer(x);
    return rc;
}

/* Reads away answers still queued from an earlier problem (resends produce duplicates), so
 * the token, which reads no new request while an answer is pending, is ready again. */
static void drain(usbtoken *t)
{
    size_t n;
    for (int i = 0; i < DRAIN_MAX_FRAMES; i++)
        if (bulk(t, t->ep_in, t->rx, sizeof t->rx, DRAIN_TIMEOUT_MS, &n) != 0)
            break;
    t->dirty = false;
}

/* The transport failed: the session is gone (the next request opens a new one). */
static int lost(usbtoken *t, uint8_t cmd, unsigned attempts, const char *problem)
{
    t->session = false;
    t->dirty = true;
    return err_set(RL_EIO, "token %s: %s got no valid answer after %u attempt%s (%s); check "
                           "that the token is plugged in, then unplug and replug it and try "
                           "again",
                   t->serial, cmd_name(cmd), attempts, attempts == 1 ? "" : "s", problem);
}

/* Why a received transfer is not a usable frame, for the message. */
static void frame_problem(const uint8_t *f, size_t n, char *out, size_t cap)
{
    if (n > PROTO_OFF_VERSION && f[0] == PROTO_MAGIC0 && f[1] == PROTO_MAGIC1 &&
        f[2] == PROTO_MAGIC2 && f[3] == PROTO_MAGIC3 && f[PROTO_OFF_VERSION] != PROTO_VERSION)
        snprintf(out, cap, "the token speaks protocol version %u, this appliance %u: use "
                           "matching versions",
                 f[PROTO_OFF_VERSION], PROTO_VERSION);
    else
        snprintf(out, cap, "answer damaged in transfer (bad CRC, magic or length)");
}

/* Sends one request frame with sequence number seq and waits for its answer, sending the
 * identical frame again when no answer comes in time, when the answer arrives damaged, or
 * when the token reports that our frame arrived damaged. This is safe for every command:
 * the token executes a sequence number once and answers a repeat from its cache
 * (firmware/README.md, "Sessions, sequence numbers, retransmission"). Answers to earlier
 * requests (duplicates of resends) are skipped by their sequence number.
 *
 * The token reads no request while an answer of its own is unread, so a resend can find the
 * OUT endpoint refusing it when the previous answer was merely late. After an OUT timeout
 * the loop therefore listens briefly before trying again: that reads the late answer (ours
 * if its sequence number matches) and lets the token take requests again.
 *
 * On 0 the answer's status and payload are in t->rsp_*. Transport failure: RL_EIO and the
 * session is lost. */
static int exchange(usbtoken *t, uint8_t cmd, uint32_t seq, const uint8_t *p, uint32_t len,
                    unsigned answer_timeout_ms)
{
    char problem[160] = "no answer";
    size_t flen = frame_build(t->tx, cmd, seq, p, len);
    unsigned attempt;
    for (attempt = 0; attempt <= t->cfg.retries; attempt++) {
        size_t n = 0;
        bool sent = true; /* false: only listening for a late answer */
        if (attempt > 0) {
            t->stats.resends++;
            t->dirty = true; /* duplicate answers may follow this request's */
        }
        int rc = bulk(t, t->ep_out, t->tx, flen, t->cfg.timeout_ms, &n);
        if (rc == LIBUSB_ERROR_NO_DEVICE)
            return lost(t, cmd, attempt + 1, "the token was unplugged");
        if (rc == LIBUSB_ERROR_TIMEOUT) {
            t->stats.timeouts++;
            snprintf(problem, sizeof problem, "the token did not take the request within %u ms",
                     t->cfg.timeout_ms);
            if (n > 0) {
                /* Part of the frame went out: end that transfer with a zero-length packet
                 * so the token discards it (it answers with an error frame we skip) before
                 * the whole frame comes again. */
                size_t z;
                (void)bulk(t, t->ep_out, t->tx, 0, t->cfg.timeout_ms, &z);
            }
            sent = false;
        } else if (rc == LIBUSB_ERROR_PIPE) {
            libusb_clear_halt(t->h, t->ep_out);
            snprintf(problem, sizeof problem, "the OUT endpoint stalled");
            continue;
        } else if (rc != 0) {
            snprintf(problem, sizeof problem, "sending failed: %s", libusb_error_name(rc));
            continue;
        } else {
            t->stats.bytes_out += flen;
        }
        for (int stale = 0; stale <= MAX_STALE; stale++) {
            /* A late answer is already queued if there is one: listening needs no long wait. */
            rc = bulk(t, t->ep_in, t->rx, sizeof t->rx, sent ? answer_timeout_ms : DRAIN_TIMEOUT_MS,
                      &n);
            if (rc == LIBUSB_ERROR_NO_DEVICE)
                return lost(t, cmd, attempt + 1, "the token was unplugged");
            if (rc == LIBUSB_ERROR_TIMEOUT) {
                if (sent) {
                    t->stats.timeouts++;
                    snprintf(problem, sizeof problem, "no answer within %u ms",
                             answer_timeout_ms);
                }
                break;
            }
            if (rc == LIBUSB_ERROR_PIPE) {
                libusb_clear_halt(t->h, t->ep_in);
                snprintf(problem, sizeof problem, "the IN endpoint stalled");
                break;
            }
            if (rc != 0) {
                snprintf(problem, sizeof problem, "receiving failed: %s", libusb_error_name(rc));
                break;
            }
            t->stats.bytes_in += n;
            if (!frame_ok(t->rx, n)) {
                t->stats.bad_frames++;
                frame_problem(t->rx, n, problem, sizeof problem);
                break;
            }
            uint32_t rseq = proto_load32(t->rx + PROTO_OFF_SEQ);
            uint8_t rcmd = t->rx[PROTO_OFF_CMD];
            uint16_t rst = proto_load16(t->rx + PROTO_OFF_STATUS);
            if (rseq == seq && rcmd == PROTO_RSP_ERROR) {
                /* The token could not read our frame (damaged on the way): send it again. */
                snprintf(problem, sizeof problem, "the token received our frame damaged (%s)",
                         status_name(rst));
                break;
            }
            if (rseq != seq || rcmd != (uint8_t)(cmd | PROTO_RSP_FLAG)) {
                t->stats.stale_frames++;
                continue;
            }
            t->rsp_status = rst;
            t->rsp = t->rx + PROTO_HDR_SIZE;
            t->rsp_len = proto_load32(t->rx + PROTO_OFF_LEN);
            return RL_OK;
        }
    }
    return lost(t, cmd, attempt, problem);
}

/* ---- sessions --------------------------------------------------------------------------- */

static void copy_field(char *out, const uint8_t *in, size_t n)
{
    size_t i;
    for (i = 0; i < n && in[i] != 0; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7F) ? (char)in[i] : '?';
    out[i] = '\0';
}

/* Decodes an INFO payload (also HELLO's). Returns 0, or -1 if the layout is wrong. */
static int info_parse(const uint8_t *p, uint32_t n, usbtoken_info *o)
{
    memset(o, 0, sizeof *o);
    if (n < PROTO_INFO_KEYS)
        return -1;
    unsigned nkeys = p[PROTO_INFO_NKEYS];
    if (nkeys > PROTO_MAX_APPLIANCE_KEYS || n != PROTO_INFO_KEYS + nkeys * PROTO_INFO_KEY_SIZE)
        return -1;
    o->proto_version = p[PROTO_INFO_PROTO];
    o->fw_major = p[PROTO_INFO_FW];
    o->fw_minor = p[PROTO_INFO_FW + 1];
    o->fw_patch = p[PROTO_INFO_FW + 2];
    copy_field(o->model, p + PROTO_INFO_MODEL, PROTO_MODEL_LEN);
    copy_field(o->serial, p + PROTO_INFO_SERIAL, PROTO_SERIAL_LEN);
    o->session = proto_load32(p + PROTO_INFO_SESSION);
    o->counter = proto_load64(p + PROTO_INFO_COUNTER);
    o->free_bytes = proto_load32(p + PROTO_INFO_FREE);
    o->largest_file = proto_load32(p + PROTO_INFO_LARGEST);
    o->capacity = proto_load32(p + PROTO_INFO_TOTAL);
    o->nfiles = p[PROTO_INFO_NFILES];
    o->max_files = p[PROTO_INFO_MAXFILES];
    o->flags = p[PROTO_INFO_FLAGS];
    o->max_payload = proto_load16(p + PROTO_INFO_MAXPAYLOAD);
    o->max_chunk = proto_load16(p + PROTO_INFO_MAXCHUNK);
    o->epoch = proto_load32(p + PROTO_INFO_EPOCH);
    memcpy(o->authority_id, p + PROTO_INFO_AUTH_ID, 8);
    o->nkeys = nkeys;
    for (unsigned i = 0; i < nkeys; i++) {
        const uint8_t *k = p + PROTO_INFO_KEYS + i * PROTO_INFO_KEY_SIZE;
        memcpy(o->keys[i].key_id, k, 8);
        o->keys[i].last_seq = proto_load64(k + 8);
    }
    return 0;
}

/* Opens a session: HELLO with a random sequence number (so answers left over from an
 * earlier session cannot be taken for this one's). If the token does not answer, the
 * interface is reset (SET_INTERFACE: the token drops half-received frames and queued
 * answers) and HELLO is tried once more. Checks what the token says about itself. */
static int hello(usbtoken *t)
{
    uint32_t seq = randombytes_random();
    t->session = false;
    if (t->dirty)
        drain(t);
    int rc = exchange(t, PROTO_CMD_HELLO, seq, NULL, 0, t->cfg.timeout_ms);
    if (rc != RL_OK) {
        if (libusb_set_interface_alt_setting(t->h, t->iface, 0) == LIBUSB_ERROR_NO_DEVICE)
            return rc;
        drain(t);
        seq = randombytes_random();
        rc = exchange(t, PROTO_CMD_HELLO, seq, NULL, 0, t->cfg.timeout_ms);
        if (rc != RL_OK)
            return rc;
    }
    t->stats.resyncs++;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, PROTO_CMD_HELLO, NULL);
    if (info_parse(t->rsp, t->rsp_len, &t->info) != 0)
        return bad_answer(t, PROTO_CMD_HELLO, "INFO layout");
    if (t->info.proto_version != PROTO_VERSION)
        return err_set(RL_EIO, "token %s speaks protocol version %u, this appliance version %u: "
                               "use a token and an appliance of matching versions",
                       t->serial, t->info.proto_version, PROTO_VERSION);
    if (strcmp(t->info.serial, t->serial) != 0)
        return err_set(RL_EINTEGRITY, "token %s reports serial \"%s\" in INFO, not its USB "
                                      "serial: not a genuine token, or faulty; do not use it",
                       t->serial, t->info.serial);
    uint32_t chunk = t->info.max_chunk < PROTO_MAX_CHUNK ? t->info.max_chunk : PROTO_MAX_CHUNK;
    if (chunk == 0 || t->info.max_payload < PROTO_PD_DATA + 1u)
        return bad_answer(t, PROTO_CMD_HELLO, "zero chunk or payload size");
    if (chunk > t->info.max_payload - PROTO_PD_DATA)
        chunk = t->info.max_payload - PROTO_PD_DATA;
    t->chunk = chunk;
    t->seq = seq;
    t->session = true;
    return RL_OK;
}

/* One request in the session (opened first if there is none). If the token answers "no
 * session" or "out of sequence", it did not execute the request (it was reset or rebooted
 * under us); outside an upload, a new session is opened and the request sent once more.
 * Within an upload that cannot help (HELLO aborts uploads), so it is an error. On 0 the
 * answer is in t->rsp_*, with any status. */
static int request(usbtoken *t, uint8_t cmd, const uint8_t *p, uint32_t len, unsigned timeout_ms,
                   int flags)
{
    for (int round = 0;; round++) {
        if (!t->session) {
            if (flags & REQ_UPLOAD)
                return err_set(RL_EIO, "token %s: the session ended during the upload; the "
                                       "token dropped it and stored nothing: put the file again",
                               t->serial);
            int rc = hello(t);
            if (rc != RL_OK)
                return rc;
        } else if (t->dirty) {
            drain(t);
        }
        uint32_t seq = t->seq + 1u;
        int rc = exchange(t, cmd, seq, p, len, timeout_ms);
        if (rc != RL_OK)
            return rc;
        if (t->rsp_status != PROTO_E_NO_SESSION && t->rsp_status != PROTO_E_SEQUENCE) {
            t->seq = seq;
            t->stats.requests++;
            return RL_OK;
        }
        t->session = false;
        t->dirty = true;
        if ((flags & REQ_UPLOAD) || round > 0)
            return err_set(RL_EIO, "token %s lost the session (%s) %s", t->serial,
                           status_name(t->rsp_status),
                           (flags & REQ_UPLOAD) ? "during the upload: it dropped the upload "
                                                  "and stored nothing; put the file again"
                                                : "twice in a row: unplug and replug it");
    }
}

/* ---- discovery -------------------------------------------------------------------------- */

/* The USB serial string: 1..16 printable ASCII characters without spaces, else -1. */
static int read_serial(libusb_device_handle *h, const struct libusb_device_descriptor *dd,
                       char out[PROTO_SERIAL_LEN + 1])
{
    unsigned char buf[64];
    out[0] = '\0';
    if (dd->iSerialNumber == 0)
        return -1;
    int n = libusb_get_string_descriptor_ascii(h, dd->iSerialNumber, buf, sizeof buf);
    if (n <= 0 || n > (int)PROTO_SERIAL_LEN)
        return -1;
    for (int i = 0; i < n; i++)
        if (buf[i] <= 0x20 || buf[i] >= 0x7F)
            return -1;
    memcpy(out, buf, (size_t)n);
    out[n] = '\0';
    return 0;
}

static bool allowlisted(const usbtoken_config *cfg, const char *serial)
{
    for (size_t i = 0; i < cfg->nserials; i++)
        if (strcmp(cfg->serials[i], serial) == 0)
            return true;
    return false;
}

/* Appends ", s" (or "s") to a bounded list for messages; truncation is harmless there. */
static void list_add(char *list, size_t cap, const char *s)
{
    size_t n = strlen(list);
    if (n + 1 < cap)
        snprintf(list + n, cap - n, "%s%s", n > 0 ? ", " : "", s);
}

static int config_check(const usbtoken_config *cfg)
{
    if (cfg == NULL)
        return err_set(RL_EUSAGE, "token: no configuration");
    if (cfg->timeout_ms == 0 || cfg->commit_timeout_ms < cfg->timeout_ms)
        return err_set(RL_EUSAGE, "token: timeouts must be >= 1 ms, the commit timeout at "
                                  "least the transfer timeout");
    for (size_t i = 0; i < cfg->nserials; i++) {
        size_t n = cfg->serials[i] != NULL ? strlen(cfg->serials[i]) : 0;
        if (n == 0 || n > PROTO_SERIAL_LEN)
            return err_set(RL_EUSAGE, "token: allowlisted serial %zu is empty or longer than "
                                      "%u characters", i + 1, PROTO_SERIAL_LEN);
    }
    return RL_OK;
}

void usbtoken_config_default(usbtoken_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->vid = USBTOKEN_VID;
    cfg->pid = USBTOKEN_PID;
    cfg->timeout_ms = USBTOKEN_TIMEOUT_MS;
    cfg->commit_timeout_ms = USBTOKEN_COMMIT_TIMEOUT_MS;
    cfg->retries = USBTOKEN_RETRIES;
}

int usbtoken_scan(const usbtoken_config *cfg, char serials[][PROTO_SERIAL_LEN + 1], size_t cap,
                  size_t *n)
{
    int rc = RL_EIO;
    libusb_context *ctx = NULL;
    libusb_device **list = NULL;
    *n = 0;
    if (cfg == NULL)
        return err_set(RL_EUSAGE, "token: no configuration");
    if (libusb_init(&ctx) < 0) {
        rc = err_set(RL_EIO, "token: libusb cannot start (is USB available?)");
        goto cleanup;
    }
    ssize_t nd = libusb_get_device_list(ctx, &list);
    if (nd < 0) {
        rc = err_set(RL_EIO, "token: cannot list USB devices: %s", libusb_error_name((int)nd));
        goto cleanup;
    }
    for (ssize_t i = 0; i < nd; i++) {
        struct libusb_device_descriptor dd;
        libusb_device_handle *h = NULL;
        char serial[PROTO_SERIAL_LEN + 1];
        if (libusb_get_device_descriptor(list[i], &dd) != 0 || dd.idVendor != cfg->vid ||
            dd.idProduct != cfg->pid)
            continue;
        if (libusb_open(list[i], &h) != 0)
            snprintf(serial, sizeof serial, "?");
        else if (read_serial(h, &dd, serial) != 0)
            snprintf(serial, sizeof serial, "?");
        if (h != NULL)
            libusb_close(h);
        if (*n < cap)
            memcpy(serials[*n], serial, sizeof serial);
        (*n)++;
    }
    rc = RL_OK;
cleanup:
    if (list != NULL)
        libusb_free_device_list(list, 1);
    if (ctx != NULL)
        libusb_exit(ctx);
    return rc;
}

/* Finds the vendor-class interface with one bulk IN and one bulk OUT endpoint. */
static int find_interface(usbtoken *t)
{
    struct libusb_config_descriptor *cd = NULL;
    libusb_device *dev = libusb_get_device(t->h);
    int rc = RL_EIO;
    if (libusb_get_active_config_descriptor(dev, &cd) != 0 &&
        libusb_get_config_descriptor(dev, 0, &cd) != 0) {
        rc = err_set(RL_EIO, "token %s: cannot read its configuration descriptor", t->serial);
        goto cleanup;
    }
    for (int i = 0; i < cd->bNumInterfaces && t->iface < 0; i++) {
        if (cd->interface[i].num_altsetting < 1)
            continue;
        const struct libusb_interface_descriptor *id = &cd->interface[i].altsetting[0];
        unsigned char in = 0, out = 0;
        unsigned mp = 0;
        if (id->bInterfaceClass != LIBUSB_CLASS_VENDOR_SPEC)
            continue;
        for (int e = 0; e < id->bNumEndpoints; e++) {
            const struct libusb_endpoint_descriptor *ed = &id->endpoint[e];
            if ((ed->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
                continue;
            if ((ed->bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0 && in == 0) {
                in = ed->bEndpointAddress;
                mp = ed->wMaxPacketSize & 0x7FFu;
            } else if ((ed->bEndpointAddress & LIBUSB_ENDPOINT_IN) == 0 && out == 0) {
                out = ed->bEndpointAddress;
            }
        }
        if (in != 0 && out != 0 && mp > 0) {
            t->iface = id->bInterfaceNumber;
            t->ep_in = in;
            t->ep_out = out;
            t->max_packet = mp;
        }
    }
    if (t->iface < 0) {
        rc = err_set(RL_EIO, "token %s has no vendor interface with bulk IN and OUT endpoints: "
                             "not a Reservlön token", t->serial);
        goto cleanup;
    }
    rc = RL_OK;
cleanup:
    if (cd != NULL)
        libusb_free_config_descriptor(cd);
    return rc;
}

int usbtoken_open(const usbtoken_config *cfg, usbtoken **out)
{
    int rc = RL_EUSAGE;
    usbtoken *t = NULL;
    libusb_device **list = NULL;
    char ignored[256] = "", chosen[256] = "";
    size_t found = 0, allowed = 0;
    int open_err = 0;
    *out = NULL;
    rc = config_check(cfg);
    if (rc != RL_OK)
        goto cleanup;
    if (cfg->nserials == 0) {
        rc = err_set(RL_EUSAGE, "token: no serial allowlist configured: list the serials of "
                                "this site's tokens in the appliance configuration");
        goto cleanup;
    }
    if (sodium_init() < 0) {
        rc = err_set(RL_EIO, "token: libsodium cannot start");
        goto cleanup;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = err_set(RL_ENOMEM, "token: out of memory");
        goto cleanup;
    }
    t->cfg = *cfg;
    t->cfg.serials = NULL; /* the caller's array is only borrowed for this call */
    t->cfg.nserials = 0;
    t->iface = -1;
    t->zlp = true;
    if (libusb_init(&t->ctx) < 0) {
        t->ctx = NULL;
        rc = err_set(RL_EIO, "token: libusb cannot start (is USB available?)");
        goto cleanup;
    }
    ssize_t nd = libusb_get_device_list(t->ctx, &list);
    if (nd < 0) {
        rc = err_set(RL_EIO, "token: cannot list USB devices: %s", libusb_error_name((int)nd));
        goto cleanup;
    }
    for (ssize_t i = 0; i < nd; i++) {
        struct libusb_device_descriptor dd;
        libusb_device_handle *h = NULL;
        char serial[PROTO_SERIAL_LEN + 1];
        if (libusb_get_device_descriptor(list[i], &dd) != 0 || dd.idVendor != cfg->vid ||
            dd.idProduct != cfg->pid)
            continue;
        found++;
        int r = libusb_open(list[i], &h);
        if (r != 0) {
            open_err = r;
            continue;
        }
        if (read_serial(h, &dd, serial) != 0) {
            list_add(ignored, sizeof ignored, "(unreadable serial)");
            libusb_close(h);
            continue;
        }
        if (!allowlisted(cfg, serial)) {
            /* Not ours to talk to: only its serial string was read. */
            list_add(ignored, sizeof ignored, serial);
            libusb_close(h);
            continue;
        }
        allowed++;
        list_add(chosen, sizeof chosen, serial);
        if (t->h == NULL) {
            t->h = h;
            memcpy(t->serial, serial, sizeof serial);
        } else {
            libusb_close(h);
        }
    }
    if (allowed > 1) {
        rc = err_set(RL_EUSAGE, "token: several allowlisted tokens are plugged in (%s): unplug "
                                "all but the one to use, or name its serial",
                     chosen);
        goto cleanup;
    }
    if (allowed == 0) {
        if (ignored[0] != '\0')
            rc = err_set(RL_EINTEGRITY, "token: the token%s plugged in (serial %s) %s not on "
                                        "this appliance's allowlist: use one of this site's "
                                        "tokens, or add the serial to the configuration after "
                                        "checking the token",
                         strchr(ignored, ',') ? "s" : "", ignored,
                         strchr(ignored, ',') ? "are" : "is");
        else if (open_err != 0)
            rc = err_set(RL_EIO, "token: found %zu device%s %04x:%04x but cannot open %s (%s): "
                                 "check the permissions on the USB device (udev rule)",
                         found, found == 1 ? "" : "s", cfg->vid, cfg->pid,
                         found == 1 ? "it" : "them", libusb_error_name(open_err));
        else
            rc = err_set(RL_EIO, "token: no token found (USB %04x:%04x): plug in the token and "
                                 "try again",
                         cfg->vid, cfg->pid);
        goto cleanup;
    }
    rc = find_interface(t);
    if (rc != RL_OK)
        goto cleanup;
    int r = libusb_claim_interface(t->h, t->iface);
    if (r == LIBUSB_ERROR_BUSY) {
        rc = err_set(RL_EBUSY, "token %s is in use by another program: close it and try again",
                     t->serial);
        goto cleanup;
    }
    if (r != 0) {
        rc = err_set(RL_EIO, "token %s: cannot claim its interface: %s", t->serial,
                     libusb_error_name(r));
        goto cleanup;
    }
    t->claimed = true;
    rc = hello(t);
    if (rc != RL_OK)
        goto cleanup;
    *out = t;
    t = NULL;
    rc = RL_OK;
cleanup:
    if (list != NULL)
        libusb_free_device_list(list, 1);
    usbtoken_close(t);
    return rc;
}

void usbtoken_close(usbtoken *t)
{
    if (t == NULL)
        return;
    if (t->claimed)
        libusb_release_interface(t->h, t->iface);
    if (t->h != NULL)
        libusb_close(t->h);
    if (t->ctx != NULL)
        libusb_exit(t->ctx);
    free(t);
}

const char *usbtoken_serial(const usbtoken *t)
{
    return t->serial;
}

void usbtoken_get_stats(const usbtoken *t, usbtoken_stats *out)
{
    *out = t->stats;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* File names as the token accepts them: 1..63 bytes of [A-Za-z0-9._-], not starting '.'. */
static bool name_ok(const char *name, size_t n)
{
    bool ok = n >= 1 && n <= PROTO_NAME_MAX && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    return ok;
}

/* Checked here too so that a bad name is reported before anything is sent. */
static int name_check(const char *name, size_t *len)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (!name_ok(name, n))
        return err_set(RL_EDATA, "token: file name \"%.80s\" cannot be used on the token: 1-%u "
                                 "characters of A-Z a-z 0-9 . _ -, not starting with '.'",
                       name != NULL ? name : "", PROTO_NAME_MAX);
    *len = n;
    return RL_OK;
}

int usbtoken_get_info(usbtoken *t, usbtoken_info *out)
{
    memset(out, 0, sizeof *out);
    int rc = request(t, PROTO_CMD_INFO, NULL, 0, t->cfg.timeout_ms, 0);
    if (rc != RL_OK)
        return rc;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, PROTO_CMD_INFO, NULL);
    if (info_parse(t->rsp, t->rsp_len, out) != 0)
        return bad_answer(t, PROTO_CMD_INFO, "layout");
    return RL_OK;
}

int usbtoken_list(usbtoken *t, usbtoken_entry *files, size_t cap, size_t *n, uint64_t *counter)
{
    *n = 0;
    if (counter != NULL)
        *counter = 0;
    int rc = request(t, PROTO_CMD_LIST, NULL, 0, t->cfg.timeout_ms, 0);
    if (rc != RL_OK)
        return rc;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, PROTO_CMD_LIST, NULL);
    const uint8_t *p = t->rsp;
    if (t->rsp_len < PROTO_LIST_HDR)
        return bad_answer(t, PROTO_CMD_LIST, "too short");
    unsigned nf = p[8];
    if (nf > PROTO_MAX_FILES || t->rsp_len != PROTO_LIST_HDR + nf * PROTO_LIST_ENTRY)
        return bad_answer(t, PROTO_CMD_LIST, "length does not match the file count");
    for (unsigned i = 0; i < nf; i++) {
        const uint8_t *e = p + PROTO_LIST_HDR + i * PROTO_LIST_ENTRY;
        const uint8_t *name = e + PROTO_LE_NAME;
        const uint8_t *nul = memchr(name, 0, PROTO_NAME_MAX + 1);
        if (nul == NULL || !name_ok((const char *)name, (size_t)(nul - name)))
            return bad_answer(t, PROTO_CMD_LIST, "file name");
        if (i >= cap)
            continue;
        usbtoken_entry *f = &files[i];
        memset(f, 0, sizeof *f);
        memcpy(f->name, name, (size_t)(nul - name));
        f->size = proto_load32(e + PROTO_LE_SIZE);
        f->counter = proto_load64(e + PROTO_LE_COUNTER);
        f->flags = proto_load32(e + PROTO_LE_FLAGS);
        memcpy(f->hash_id, e + PROTO_LE_HASH_ID, PROTO_HASH_ID_LEN);
    }
    *n = nf;
    if (counter != NULL)
        *counter = proto_load64(p);
    return RL_OK;
}

int usbtoken_stat(usbtoken *t, const char *name, usbtoken_filestat *out)
{
    size_t nl;
    memset(out, 0, sizeof *out);
    int rc = name_check(name, &nl);
    if (rc != RL_OK)
        return rc;
    rc = request(t, PROTO_CMD_STAT, (const uint8_t *)name, (uint32_t)nl, t->cfg.timeout_ms, 0);
    if (rc != RL_OK)
        return rc;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, PROTO_CMD_STAT, name);
    const uint8_t *p = t->rsp;
    if (t->rsp_len < PROTO_STAT_TC)
        return bad_answer(t, PROTO_CMD_STAT, "too short");
    uint32_t tl = proto_load16(p + PROTO_STAT_TC_LEN);
    if (tl > PROTO_TC_MAX || t->rsp_len != PROTO_STAT_TC + tl)
        return bad_answer(t, PROTO_CMD_STAT, "trusted comment length");
    /* One line of text, as signed: it goes into .minisig files and onto terminals. */
    for (uint32_t i = 0; i < tl; i++)
        if (p[PROTO_STAT_TC + i] < 0x20 || p[PROTO_STAT_TC + i] == 0x7F)
            return bad_answer(t, PROTO_CMD_STAT, "control character in the trusted comment");
    memcpy(out->name, name, nl);
    out->size = proto_load32(p + PROTO_STAT_SIZE);
    out->counter = proto_load64(p + PROTO_STAT_COUNTER);
    out->flags = proto_load32(p + PROTO_STAT_FLAGS);
    memcpy(out->key_id, p + PROTO_STAT_KEY_ID, 8);
    memcpy(out->prehash, p + PROTO_STAT_PREHASH, 64);
    memcpy(out->sig, p + PROTO_STAT_SIG, 64);
    memcpy(out->gsig, p + PROTO_STAT_GSIG, 64);
    memcpy(out->tc, p + PROTO_STAT_TC, tl);
    out->tc[tl] = '\0';
    return RL_OK;
}

/* Reads st's file with GET, chunk by chunk, into out (if not NULL) and/or comparing it with
 * expect (if not NULL), and checks that the bytes hash to the signed prehash. */
static int read_file(usbtoken *t, const usbtoken_filestat *st, uint8_t *out,
                     const uint8_t *expect, const char *what)
{
    crypto_generichash_state hs;
    uint8_t hash[64];
    size_t nl = strlen(st->name);
    crypto_generichash_init(&hs, NULL, 0, sizeof hash);
    progress(t, what, 0, st->size);
    for (uint32_t off = 0; off < st->size;) {
        uint32_t want = st->size - off < t->chunk ? st->size - off : t->chunk;
        proto_store32(t->req + PROTO_GET_OFFSET, off);
        proto_store16(t->req + PROTO_GET_LEN, (uint16_t)want);
        memcpy(t->req + PROTO_GET_NAME, st->name, nl);
        int rc = request(t, PROTO_CMD_GET, t->req, (uint32_t)(PROTO_GET_NAME + nl),
                         t->cfg.timeout_ms, 0);
        if (rc != RL_OK)
            return rc;
        if (t->rsp_status != PROTO_OK)
            return refusal(t, PROTO_CMD_GET, st->name);
        if (t->rsp_len != want)
            return bad_answer(t, PROTO_CMD_GET, "not the number of bytes asked for");
        if (expect != NULL && memcmp(t->rsp, expect + off, want) != 0)
            return err_set(RL_EINTEGRITY, "token %s: %s read back differs from what was sent, "
                                          "at bytes %u..%u: do not use this copy; delete it "
                                          "when collected and put the file again",
                           t->serial, st->name, off, off + want - 1);
        crypto_generichash_update(&hs, t->rsp, want);
        if (out != NULL)
            memcpy(out + off, t->rsp, want);
        off += want;
        progress(t, what, off, st->size);
    }
    crypto_generichash_final(&hs, hash, sizeof hash);
    if (memcmp(hash, st->prehash, sizeof hash) != 0)
        return err_set(RL_EINTEGRITY, "token %s: %s as read does not hash to the value signed "
                                      "for it: the stored copy is damaged; do not use it",
                       t->serial, st->name);
    return RL_OK;
}

int usbtoken_get(usbtoken *t, const char *name, uint8_t **data, size_t *len,
                 usbtoken_filestat *st_out)
{
    usbtoken_filestat st;
    uint8_t *buf = NULL;
    *data = NULL;
    *len = 0;
    if (st_out != NULL)
        memset(st_out, 0, sizeof *st_out);
    int rc = usbtoken_stat(t, name, &st);
    if (rc != RL_OK)
        goto cleanup;
    buf = malloc(st.size > 0 ? st.size : 1);
    if (buf == NULL) {
        rc = err_set(RL_ENOMEM, "token: out of memory for %s (%u bytes)", name, st.size);
        goto cleanup;
    }
    rc = read_file(t, &st, buf, NULL, "get");
    if (rc != RL_OK)
        goto cleanup;
    *data = buf;
    *len = st.size;
    buf = NULL;
    if (st_out != NULL)
        *st_out = st;
    rc = RL_OK;
cleanup:
    free(buf);
    return rc;
}

/* Base64 (standard, padded) of exactly out_len bytes, the whole text consumed. */
static bool b64_exact(const char *s, size_t n, uint8_t *out, size_t out_len)
{
    size_t got = 0;
    const char *end = NULL;
    if (n != sodium_base64_ENCODED_LEN(out_len, sodium_base64_VARIANT_ORIGINAL) - 1)
        return false;
    if (sodium_base642bin(out, out_len, s, n, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return got == out_len && end == s + n;
}

int usbtoken_minisig_text(const usbtoken_filestat *st, char *out, size_t cap)
{
    uint8_t blob[2 + 8 + 64];
    char b1[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    char b2[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    memcpy(blob, "ED", 2);
    memcpy(blob + 2, st->key_id, 8);
    memcpy(blob + 10, st->sig, 64);
    sodium_bin2base64(b1, sizeof b1, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b2, sizeof b2, st->gsig, 64, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap, UNTRUSTED_PREFIX "signature of %s, as stored on the token\n%s\n"
                               TRUSTED_PREFIX "%s\n%s\n",
                     st->name, b1, st->tc, b2);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return err_set(RL_EUSAGE, "token: signature text buffer too small");
    }
    return RL_OK;
}

static int path_plus(char *out, size_t cap, const char *path, const char *suffix)
{
    int n = snprintf(out, cap, "%s%s", path, suffix);
    if (n < 0 || (size_t)n >= cap)
        return err_set(RL_EUSAGE, "%.80s: path too long", path);
    return RL_OK;
}

int usbtoken_get_file(usbtoken *t, const char *name, const char *out_path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    usbtoken_filestat st;
    char sig[1024];
    char sig_path[4096];
    int rc = path_plus(sig_path, sizeof sig_path, out_path, ".minisig");
    if (rc != RL_OK)
        goto cleanup;
    rc = usbtoken_get(t, name, &data, &len, &st);
    if (rc != RL_OK)
        goto cleanup;
    rc = usbtoken_minisig_text(&st, sig, sizeof sig);
    if (rc != RL_OK)
        goto cleanup;
    /* A payment file holds salaries and account numbers: owner-only. */
    rc = file_write_atomic(out_path, data, len, 0600);
    if (rc != RL_OK)
        goto cleanup;
    rc = file_write_atomic(sig_path, sig, strlen(sig), 0644);
cleanup:
    free(data);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Decodes a .minisig text into the binary form the token takes. The format is minisign's
 * (app/sig/minisig.h describes it); any deviation is RL_EINTEGRITY, since a signature that
 * cannot be read vouches for nothing. The trusted comment must also fit the token
 * (PROTO_TC_MAX bytes, a tighter bound than minisign's): RL_EDATA otherwise. */
static int sig_decode(const char *text, size_t len, sigbin *out)
{
    const char *line[4];
    size_t ll[4];
    size_t pos = 0;
    int nlines = 0;
    uint8_t blob[2 + 8 + 64];
    memset(out, 0, sizeof *out);
    if (text == NULL || len == 0)
        return err_set(RL_EINTEGRITY, "no signature: the token accepts only files signed by "
                                      "the appliance (FILE.minisig)");
    if (len > SIG_FILE_MAX || memchr(text, '\0', len) != NULL)
        return err_set(RL_EINTEGRITY, "signature: not a minisign signature (too long or "
                                      "binary)");
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        if (nl != NULL && n > 0 && text[end - 1] == '\r')
            n--;
        if (nlines == 4)
            return err_set(RL_EINTEGRITY, "signature: more than 4 lines");
        line[nlines] = text + pos;
        ll[nlines] = n;
        nlines++;
        pos = nl != NULL ? end + 1 : len;
    }
    if (nlines != 4)
        return err_set(RL_EINTEGRITY, "signature: expected 4 lines (untrusted comment, "
                                      "signature, trusted comment, global signature)");
    size_t up = strlen(UNTRUSTED_PREFIX), tp = strlen(TRUSTED_PREFIX);
    if (ll[0] < up || memcmp(line[0], UNTRUSTED_PREFIX, up) != 0)
        return err_set(RL_EINTEGRITY, "signature: line 1 must start with \"%s\"",
                       UNTRUSTED_PREFIX);
    if (!b64_exact(line[1], ll[1], blob, sizeof blob))
        return err_set(RL_EINTEGRITY, "signature: line 2 is not a minisign signature");
    if (memcmp(blob, "Ed", 2) == 0)
        return err_set(RL_EINTEGRITY, "signature: legacy algorithm \"Ed\" refused (the token "
                                      "takes prehashed \"ED\" only; sign again)");
    if (memcmp(blob, "ED", 2) != 0)
        return err_set(RL_EINTEGRITY, "signature: unsupported algorithm (expected \"ED\")");
    if (ll[2] < tp || memcmp(line[2], TRUSTED_PREFIX, tp) != 0)
        return err_set(RL_EINTEGRITY, "signature: line 3 must start with \"%s\"", TRUSTED_PREFIX);
    size_t tl = ll[2] - tp;
    if (memchr(line[2] + tp, '\r', tl) != NULL)
        return err_set(RL_EINTEGRITY, "signature: carriage return in the trusted comment");
    if (tl > PROTO_TC_MAX)
        return err_set(RL_EDATA, "signature: the trusted comment is %zu bytes; the token "
                                 "accepts at most %u: sign with a shorter comment",
                       tl, PROTO_TC_MAX);
    if (!b64_exact(line[3], ll[3], out->gsig, sizeof out->gsig))
        return err_set(RL_EINTEGRITY, "signature: line 4 is not a global signature");
    memcpy(out->key_id, blob + 2, 8);
    memcpy(out->sig, blob + 10, 64);
    memcpy(out->tc, line[2] + tp, tl);
    out->tc_len = tl;
    return RL_OK;
}

/* Best effort: end an upload the token may still be receiving, so it is IDLE again for the
 * next command. Keeps the caller's error message. */
static void abort_upload(usbtoken *t)
{
    char saved[1024];
    if (!t->session)
        return; /* the next HELLO aborts it anyway */
    snprintf(saved, sizeof saved, "%s", err_msg());
    (void)request(t, PROTO_CMD_PUT_ABORT, NULL, 0, t->cfg.timeout_ms, 0);
    err_set(RL_OK, "%s", saved);
}

/* The commit's answer never came (transport failure): the token holds the old state or the
 * new one (firmware/README.md, "Power cuts"). Asks it once which. Returns 0 when the file
 * is there with our hash (committed; *counter set), else RL_EIO saying what to do. */
static int commit_outcome(usbtoken *t, const char *name, const uint8_t prehash[64],
                          uint64_t *counter)
{
    char first[512];
    usbtoken_filestat st;
    snprintf(first, sizeof first, "%s", err_msg());
    int rc = usbtoken_stat(t, name, &st);
    if (rc == RL_OK && memcmp(st.prehash, prehash, 64) == 0) {
        *counter = st.counter;
        return RL_OK;
    }
    if (rc == RL_EDATA && t->rsp_status == PROTO_E_NOT_FOUND)
        return err_set(RL_EIO, "put %s: the commit did not complete (%s); the token kept its "
                               "previous contents and does not hold the file: put it again",
                       name, first);
    return err_set(RL_EIO, "put %s: transfer cut during the commit (%s); the token holds either "
                           "its previous contents or the new file: reconnect it, run `reservlon "
                           "token list`, and put the file again if it is not listed (that is "
                           "not a replay)",
                   name, first);
}

/* After the commit: STAT must show exactly what was sent. */
static int check_stored(const usbtoken *t, const usbtoken_filestat *st, size_t len,
                        usbtoken_class cls, const sigbin *sb, const uint8_t prehash[64],
                        uint64_t counter)
{
    uint32_t want_flag = cls == USBTOKEN_PRODUCTION ? PROTO_FILE_PRODUCTION : PROTO_FILE_DRILL;
    if (st->size != len || memcmp(st->prehash, prehash, 64) != 0 ||
        memcmp(st->key_id, sb->key_id, 8) != 0 || memcmp(st->sig, sb->sig, 64) != 0 ||
        memcmp(st->gsig, sb->gsig, 64) != 0 || strlen(st->tc) != sb->tc_len ||
        memcmp(st->tc, sb->tc, sb->tc_len) != 0 ||
        (st->flags & (PROTO_FILE_DRILL | PROTO_FILE_PRODUCTION)) != want_flag ||
        st->counter != counter)
        return err_set(RL_EINTEGRITY, "token %s: %s as stored (size, hash, signature, class or "
                                      "counter) differs from what was sent: do not use this "
                                      "copy",
                       t->serial, st->name);
    return RL_OK;
}

int usbtoken_put(usbtoken *t, const char *name, usbtoken_class cls, const uint8_t *data,
                 size_t len, const char *sig_text, size_t sig_len, usbtoken_receipt *rcpt)
{
    sigbin sb;
    uint8_t prehash[64];
    usbtoken_filestat st;
    uint64_t counter = 0;
    size_t nl = 0;
    bool uploading = false;
    unsigned rewinds = 0;
    uint8_t *p = t->req;
    if (rcpt != NULL)
        memset(rcpt, 0, sizeof *rcpt);
    int rc = name_check(name, &nl);
    if (rc != RL_OK)
        goto cleanup;
    if ((cls != USBTOKEN_DRILL && cls != USBTOKEN_PRODUCTION) || (data == NULL && len > 0)) {
        rc = err_set(RL_EUSAGE, "put %s: bad arguments", name);
        goto cleanup;
    }
    if (len > UINT32_MAX) {
        rc = err_set(RL_EDATA, "put %s: %zu bytes is more than a token file can hold", name, len);
        goto cleanup;
    }
    rc = sig_decode(sig_text, sig_len, &sb);
    if (rc != RL_OK) {
        err_wrap(rc, "put %s: ", name);
        goto cleanup;
    }
    /* The token checks the signature over this hash now and over the hash of what it
     * stored at commit; a file that was altered after signing fails the first check. */
    crypto_generichash(prehash, sizeof prehash, data, len, NULL, 0);

    memset(p, 0, PROTO_PB_VAR);
    p[PROTO_PB_NAME_LEN] = (uint8_t)nl;
    p[PROTO_PB_CLASS] = (uint8_t)cls;
    proto_store16(p + PROTO_PB_TC_LEN, (uint16_t)sb.tc_len);
    proto_store32(p + PROTO_PB_SIZE, (uint32_t)len);
    memcpy(p + PROTO_PB_ALG, "ED", 2);
    memcpy(p + PROTO_PB_KEY_ID, sb.key_id, 8);
    memcpy(p + PROTO_PB_PREHASH, prehash, 64);
    memcpy(p + PROTO_PB_SIG, sb.sig, 64);
    memcpy(p + PROTO_PB_GSIG, sb.gsig, 64);
    memcpy(p + PROTO_PB_VAR, name, nl);
    memcpy(p + PROTO_PB_VAR + nl, sb.tc, sb.tc_len);
    rc = request(t, PROTO_CMD_PUT_BEGIN, p, (uint32_t)(PROTO_PB_VAR + nl + sb.tc_len),
                 t->cfg.timeout_ms, 0);
    if (rc != RL_OK) {
        err_wrap(rc, "put %s: ", name);
        goto cleanup;
    }
    if (t->rsp_status != PROTO_OK) {
        rc = refusal(t, PROTO_CMD_PUT_BEGIN, name);
        goto cleanup;
    }
    uploading = true;

    progress(t, "put", 0, len);
    for (uint32_t off = 0; off < len;) {
        uint32_t n = (uint32_t)(len - off < t->chunk ? len - off : t->chunk);
        proto_store32(p + PROTO_PD_OFFSET, off);
        memcpy(p + PROTO_PD_DATA, data + off, n);
        rc = request(t, PROTO_CMD_PUT_DATA, p, PROTO_PD_DATA + n, t->cfg.timeout_ms, REQ_UPLOAD);
        if (rc != RL_OK) {
            err_wrap(rc, "put %s: transfer cut after %u of %zu bytes, before the commit: the "
                         "token keeps its previous contents and drops the partial upload; "
                         "reconnect and put the file again: ",
                     name, off, len);
            goto cleanup;
        }
        if (t->rsp_status == PROTO_E_OFFSET && t->rsp_len >= 4 && ++rewinds <= MAX_REWINDS &&
            proto_load32(t->rsp) <= len) {
            /* The token has a different byte count than we do: continue from its count. */
            off = proto_load32(t->rsp);
            continue;
        }
        if (t->rsp_status != PROTO_OK) {
            rc = refusal(t, PROTO_CMD_PUT_DATA, name);
            goto cleanup;
        }
        if (t->rsp_len < 4 || proto_load32(t->rsp) != off + n) {
            rc = bad_answer(t, PROTO_CMD_PUT_DATA, "byte count");
            goto cleanup;
        }
        off += n;
        progress(t, "put", off, len);
    }

    rc = request(t, PROTO_CMD_PUT_COMMIT, NULL, 0, t->cfg.commit_timeout_ms, REQ_UPLOAD);
    if (rc != RL_OK) {
        uploading = false; /* whatever happened, the upload is over on the token */
        rc = commit_outcome(t, name, prehash, &counter);
        if (rc != RL_OK)
            goto cleanup;
    } else {
        if (t->rsp_status != PROTO_OK) {
            rc = refusal(t, PROTO_CMD_PUT_COMMIT, name);
            goto cleanup;
        }
        uploading = false;
        if (t->rsp_len < 8 + PROTO_HASH_ID_LEN) {
            rc = bad_answer(t, PROTO_CMD_PUT_COMMIT, "too short");
            goto cleanup;
        }
        counter = proto_load64(t->rsp);
        if (memcmp(t->rsp + 8, prehash, PROTO_HASH_ID_LEN) != 0) {
            rc = err_set(RL_EINTEGRITY, "token %s committed %s with a hash that is not the "
                                        "file's: do not use this copy",
                         t->serial, name);
            goto cleanup;
        }
    }

    /* Read-back: success means the token holds exactly these bytes and this signature. */
    rc = usbtoken_stat(t, name, &st);
    if (rc != RL_OK) {
        err_wrap(rc, "put %s: read-back: ", name);
        goto cleanup;
    }
    rc = check_stored(t, &st, len, cls, &sb, prehash, counter);
    if (rc != RL_OK)
        goto cleanup;
    rc = read_file(t, &st, NULL, data, "verify");
    if (rc != RL_OK) {
        err_wrap(rc, "put %s: read-back: ", name);
        goto cleanup;
    }
    if (rcpt != NULL) {
        rcpt->counter = counter;
        memcpy(rcpt->hash_id, prehash, PROTO_HASH_ID_LEN);
    }
    rc = RL_OK;
cleanup:
    if (uploading)
        abort_upload(t);
    return rc;
}

int usbtoken_put_file(usbtoken *t, const char *path, const char *name, usbtoken_class cls,
                      usbtoken_receipt *rcpt)
{
    char *data = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    char sig_path[4096];
    int rc = path_plus(sig_path, sizeof sig_path, path, ".minisig");
    if (rc != RL_OK)
        goto cleanup;
    if (name == NULL) {
        const char *slash = strrchr(path, '/');
        name = slash != NULL ? slash + 1 : path;
    }
    rc = file_read_all(path, UINT32_MAX, &data, &len);
    if (rc != RL_OK)
        goto cleanup;
    rc = file_read_all(sig_path, SIG_FILE_MAX, &sig, &sig_len);
    if (rc == RL_EDATA) {
        /* Nothing vouches for the file: the token would refuse it. */
        rc = err_wrap(RL_EINTEGRITY, "put %s: no usable signature file: ", name);
        goto cleanup;
    }
    if (rc != RL_OK)
        goto cleanup;
    rc = usbtoken_put(t, name, cls, (const uint8_t *)data, len, sig, sig_len, rcpt);
cleanup:
    free(data);
    free(sig);
    return rc;
}

static int name_command(usbtoken *t, uint8_t cmd, const char *name)
{
    size_t nl;
    int rc = name_check(name, &nl);
    if (rc != RL_OK)
        return rc;
    rc = request(t, cmd, (const uint8_t *)name, (uint32_t)nl, t->cfg.timeout_ms, 0);
    if (rc != RL_OK)
        return rc;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, cmd, name);
    return RL_OK;
}

int usbtoken_mark_collected(usbtoken *t, const char *name)
{
    return name_command(t, PROTO_CMD_MARK_COLLECTED, name);
}

int usbtoken_delete(usbtoken *t, const char *name)
{
    return name_command(t, PROTO_CMD_DELETE, name);
}

int usbtoken_statement_build(uint8_t out[PROTO_ST_SIZE], const char *serial, uint32_t epoch,
                             unsigned op, const uint8_t key_id[8], const uint8_t pk[32])
{
    size_t sl = serial != NULL ? strlen(serial) : 0;
    memset(out, 0, PROTO_ST_SIZE);
    if (sl == 0 || sl > PROTO_SERIAL_LEN || op < PROTO_ENROLL_ADD_APPLIANCE ||
        op > PROTO_ENROLL_SET_AUTHORITY)
        return err_set(RL_EUSAGE, "enrolment statement: bad serial or operation");
    memcpy(out + PROTO_ST_MAGIC, "RLTKENR1", 8);
    memcpy(out + PROTO_ST_SERIAL, serial, sl);
    proto_store32(out + PROTO_ST_EPOCH, epoch);
    out[PROTO_ST_OP] = (uint8_t)op;
    memcpy(out + PROTO_ST_KEY_ID, key_id, 8);
    memcpy(out + PROTO_ST_PK, pk, 32);
    return RL_OK;
}

int usbtoken_enroll(usbtoken *t, const uint8_t statement[PROTO_ST_SIZE], const char *sig_text,
                    size_t sig_len, uint32_t *epoch, unsigned *nkeys)
{
    sigbin sb;
    uint8_t *p = t->req;
    if (epoch != NULL)
        *epoch = 0;
    if (nkeys != NULL)
        *nkeys = 0;
    int rc = sig_decode(sig_text, sig_len, &sb);
    if (rc != RL_OK)
        return err_wrap(rc, "enrol: ");
    memcpy(p, statement, PROTO_ST_SIZE);
    memset(p + PROTO_EK_ALG, 0, 4);
    memcpy(p + PROTO_EK_ALG, "ED", 2);
    memcpy(p + PROTO_EK_KEY_ID, sb.key_id, 8);
    memcpy(p + PROTO_EK_SIG, sb.sig, 64);
    memcpy(p + PROTO_EK_GSIG, sb.gsig, 64);
    proto_store16(p + PROTO_EK_TC_LEN, (uint16_t)sb.tc_len);
    memcpy(p + PROTO_EK_TC, sb.tc, sb.tc_len);
    rc = request(t, PROTO_CMD_ENROLL_KEY, p, (uint32_t)(PROTO_EK_TC + sb.tc_len),
                 t->cfg.timeout_ms, 0);
    if (rc != RL_OK)
        return rc;
    if (t->rsp_status != PROTO_OK)
        return refusal(t, PROTO_CMD_ENROLL_KEY, NULL);
    if (t->rsp_len < 5)
        return bad_answer(t, PROTO_CMD_ENROLL_KEY, "too short");
    if (epoch != NULL)
        *epoch = proto_load32(t->rsp);
    if (nkeys != NULL)
        *nkeys = t->rsp[4];
    return RL_OK;
}
