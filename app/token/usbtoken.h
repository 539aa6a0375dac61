/* usbtoken: the appliance's side of the USB token, over libusb-1.0.
 *
 * The token (firmware/, specified in firmware/README.md) is a vendor-class USB device with
 * one bulk OUT and one bulk IN endpoint; every request and every answer is one frame
 * (firmware/include/proto.h) sent as one bulk transfer. This module finds the token by
 * VID:PID and a serial-number allowlist, claims its interface, and runs the protocol:
 * sessions (HELLO), sequence numbers, per-transfer timeouts, CRC checks of every answer, and
 * recovery by resending the identical frame (the token executes each sequence number once
 * and answers a repeat from its cache), so a lost or damaged answer never executes a command
 * twice. docs/token-transport.md describes the choices; the tests run this code unchanged
 * against the real firmware core behind an emulated USB device (tests/token/).
 *
 * What the appliance checks itself, beyond what the token refuses:
 *  - the USB serial string is on the allowlist and equals the serial INFO reports;
 *  - the token speaks protocol version PROTO_VERSION;
 *  - every answer's frame (magic, version, length, CRC-32) before any field is read;
 *  - a put is reported successful only after the stored file was read back (STAT and every
 *    byte with GET) and equals what was sent, with the same BLAKE2b-512 and signature;
 *  - a get returns bytes only after their BLAKE2b-512 equals the signed prehash on the token.
 *
 * Errors: every function returns 0 or a negative RL_E* code (common/err.h) with a message
 * from err_msg() that names the token's serial and says what to do:
 *   RL_EINTEGRITY  the token refused a signature, a key, a replay, a drill/production
 *                  mismatch or an enrolment statement; a read-back or get did not match; a
 *                  token not on the allowlist was the only one present; the .minisig is
 *                  unreadable.
 *   RL_EDATA       refusals about the request's data: name taken or invalid, no such file,
 *                  token full, file too large, delete before mark-collected, malformed
 *                  trusted comment.
 *   RL_EIO         transport problems (no token, unplugged, timeouts after every retry,
 *                  damaged answers, protocol errors) and token flash faults.
 *   RL_EBUSY       another program has the token's interface claimed.
 *   RL_EUSAGE      bad arguments or configuration; several allowlisted tokens are present.
 *   RL_ENOMEM      out of memory.
 * A transport failure ends the session; the next call starts a new one (HELLO) first.
 *
 * Threads: a handle is used by one thread at a time. Several handles (several tokens) may be
 * open at once; each has its own libusb context. No network code, no child processes. */
#ifndef RL_USBTOKEN_H
#define RL_USBTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The pid.codes test VID:PID 1209:0001. pid.codes reserves it for testing and in-house use:
 * it is what the emulated token and development tokens enumerate as, and it is configurable
 * (usbtoken_config.vid/pid). A token that leaves the lab needs its own pid.codes PID (free
 * for open-source hardware); the serial allowlist and the INFO checks keep another test
 * device on the same VID:PID from being mistaken for a token. */
#define USBTOKEN_VID 0x1209u
#define USBTOKEN_PID 0x0001u

/* Defaults (usbtoken_config_default). A bulk transfer to or from the token is given
 * timeout_ms; PUT_COMMIT, which hashes the whole file back from flash and writes a snapshot,
 * gets commit_timeout_ms for its answer. A request whose answer does not come, comes
 * damaged, or reports that our frame arrived damaged is sent again up to `retries` times. */
#define USBTOKEN_TIMEOUT_MS 2000u
#define USBTOKEN_COMMIT_TIMEOUT_MS 30000u
#define USBTOKEN_RETRIES 3u

typedef struct usbtoken usbtoken;

typedef enum {
    USBTOKEN_DRILL = PROTO_CLASS_DRILL,
    USBTOKEN_PRODUCTION = PROTO_CLASS_PRODUCTION,
} usbtoken_class;

/* Progress of a long operation: what ("put", "verify", "get"), bytes done of total. Called
 * after every chunk; for a progress bar. */
typedef void (*usbtoken_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

typedef struct {
    uint16_t vid, pid;          /* device to look for */
    const char *const *serials; /* allowlist: a token is used only if its USB serial string is
                                   one of these (at least one, each 1..16 printable bytes);
                                   the array is read during usbtoken_open only */
    size_t nserials;
    unsigned timeout_ms;        /* per bulk transfer (>= 1) */
    unsigned commit_timeout_ms; /* PUT_COMMIT answer (>= timeout_ms) */
    unsigned retries;           /* resends of one request after the first attempt */
    usbtoken_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} usbtoken_config;

/* INFO, decoded (firmware/README.md, "Commands"). */
typedef struct {
    unsigned proto_version;
    unsigned fw_major, fw_minor, fw_patch;
    char model[PROTO_MODEL_LEN + 1];
    char serial[PROTO_SERIAL_LEN + 1];
    uint32_t session;        /* random per session: changes on HELLO and when the token reboots */
    uint64_t counter;        /* accepted-file counter; never decreases */
    uint32_t free_bytes, largest_file, capacity;
    unsigned nfiles, max_files;
    unsigned flags;          /* PROTO_INFO_FLAG_* */
    unsigned max_payload, max_chunk;
    uint32_t epoch;          /* enrolment statements accepted so far */
    uint8_t authority_id[8]; /* zero if no authority is provisioned */
    unsigned nkeys;          /* enrolled appliance keys */
    struct {
        uint8_t key_id[8];
        uint64_t last_seq;   /* last production seq= accepted from this key */
    } keys[PROTO_MAX_APPLIANCE_KEYS];
} usbtoken_info;

/* One LIST entry. */
typedef struct {
    char name[PROTO_NAME_MAX + 1];
    uint32_t size;
    uint64_t counter; /* the counter value that accepted this file */
    uint32_t flags;   /* PROTO_FILE_DRILL / _PRODUCTION, | PROTO_FILE_COLLECTED */
    uint8_t hash_id[PROTO_HASH_ID_LEN];
} usbtoken_entry;

/* STAT: a file's metadata and the minisign signature it was accepted with. */
typedef struct {
    char name[PROTO_NAME_MAX + 1];
    uint32_t size;
    uint64_t counter;
    uint32_t flags;
    uint8_t key_id[8];
    uint8_t prehash[64]; /* BLAKE2b-512 of the file */
    uint8_t sig[64];
    uint8_t gsig[64];
    char tc[PROTO_TC_MAX + 1]; /* trusted comment */
} usbtoken_filestat;

/* What a successful put returns: the token's counter value for the file and its hash id. */
typedef struct {
    uint64_t counter;
    uint8_t hash_id[PROTO_HASH_ID_LEN];
} usbtoken_receipt;

/* Transport counters of one handle, for diagnostics, tests and the benchmark. */
typedef struct {
    uint64_t requests;     /* request frames answered */
    uint64_t resends;      /* frames sent again after a timeout or damage */
    uint64_t timeouts;     /* bulk transfers that timed out */
    uint64_t bad_frames;   /* answers refused: CRC, magic, version or length wrong */
    uint64_t stale_frames; /* well-formed answers to an earlier request, skipped */
    uint64_t resyncs;      /* sessions opened (HELLO) */
    uint64_t bytes_out, bytes_in;
} usbtoken_stats;

/* Fills *cfg with USBTOKEN_VID/PID, the default timeouts and retries, no allowlist and no
 * progress callback. */
void usbtoken_config_default(usbtoken_config *cfg);

/* Lists the serial numbers of every device present with cfg's VID:PID (allowlisted or not),
 * reading only their USB serial strings (no claim, no frame): for `reservlon token info`
 * when the token is not on the allowlist, and for the key ceremony. Writes at most cap
 * serials ("?" for one that cannot be read); *n gets the number found. Returns 0 or RL_EIO
 * (libusb cannot start). */
int usbtoken_scan(const usbtoken_config *cfg, char serials[][PROTO_SERIAL_LEN + 1], size_t cap,
                  size_t *n) __attribute__((warn_unused_result));

/* Finds the one present token with cfg's VID:PID whose serial is on the allowlist, claims its
 * vendor interface and opens a session (HELLO), checking the protocol version and that INFO
 * names the same serial. Devices with other serials are left alone. Errors: RL_EIO "no
 * token" (none with that VID:PID, or it cannot be opened), RL_EINTEGRITY (only tokens with
 * serials not on the allowlist: their serials are in the message), RL_EUSAGE (several
 * allowlisted tokens: unplug all but one, or narrow the allowlist), RL_EBUSY. On success
 * *out is the caller's to usbtoken_close; on failure it is NULL. */
int usbtoken_open(const usbtoken_config *cfg, usbtoken **out) __attribute__((warn_unused_result));

/* Releases the interface and closes the device. Accepts NULL. Aborts nothing on the token:
 * an upload in progress is dropped by the token on the next HELLO or after 60 s. */
void usbtoken_close(usbtoken *t);

/* The token's serial number (NUL-terminated); valid until usbtoken_close. */
const char *usbtoken_serial(const usbtoken *t);

/* Copies the handle's transport counters. */
void usbtoken_get_stats(const usbtoken *t, usbtoken_stats *out);

/* INFO. */
int usbtoken_get_info(usbtoken *t, usbtoken_info *out) __attribute__((warn_unused_result));

/* LIST: writes at most cap entries into files (PROTO_MAX_FILES always suffices); *n gets the
 * number of files on the token and *counter (may be NULL) the token's counter. */
int usbtoken_list(usbtoken *t, usbtoken_entry *files, size_t cap, size_t *n, uint64_t *counter)
    __attribute__((warn_unused_result));

/* STAT of one file. RL_EDATA if there is no such file. */
int usbtoken_stat(usbtoken *t, const char *name, usbtoken_filestat *out)
    __attribute__((warn_unused_result));

/* Reads a whole file: STAT, then GET chunk by chunk. Returns the bytes only if their
 * BLAKE2b-512 equals the prehash the token stored with the file's signature (else
 * RL_EINTEGRITY). *data is malloc'd (the caller frees it; never NULL on success, even for an
 * empty file), *len its length; st (may be NULL) gets the STAT. */
int usbtoken_get(usbtoken *t, const char *name, uint8_t **data, size_t *len,
                 usbtoken_filestat *st) __attribute__((warn_unused_result));

/* usbtoken_get into out_path, and its signature as out_path.minisig (what `minisign -V`
 * checks on the receiving side), both written atomically. */
int usbtoken_get_file(usbtoken *t, const char *name, const char *out_path)
    __attribute__((warn_unused_result));

/* Puts a signed file under `name` (1..63 bytes of [A-Za-z0-9._-], not starting with '.').
 * sig_text is the file's .minisig text as `minisign -S` or minisig_sign wrote it (prehashed
 * "ED"; trusted comment at most PROTO_TC_MAX bytes, following the token's contract
 * `mode=production|drill seq=N file=NAME`); cls must be the class the trusted comment
 * signs. Uploads in chunks, commits, then reads the file back (STAT and every byte) and
 * compares it with data before returning 0 with *rcpt (may be NULL) filled in. A token
 * refusal leaves the token's contents as they were. A transfer cut before the commit
 * leaves them as they were too (RL_EIO says so); a cut during the commit leaves the old or
 * the new state: this function then reconnects once and reports which, and a file that is
 * not listed can be put again (it was not accepted, so it is no replay). */
int usbtoken_put(usbtoken *t, const char *name, usbtoken_class cls, const uint8_t *data,
                 size_t len, const char *sig_text, size_t sig_len, usbtoken_receipt *rcpt)
    __attribute__((warn_unused_result));

/* usbtoken_put of the file at path with its signature path.minisig; name NULL means the
 * path's last component. */
int usbtoken_put_file(usbtoken *t, const char *path, const char *name, usbtoken_class cls,
                      usbtoken_receipt *rcpt) __attribute__((warn_unused_result));

/* MARK_COLLECTED (idempotent). */
int usbtoken_mark_collected(usbtoken *t, const char *name) __attribute__((warn_unused_result));

/* DELETE: only a file marked collected (RL_EDATA otherwise). */
int usbtoken_delete(usbtoken *t, const char *name) __attribute__((warn_unused_result));

/* Builds an enrolment statement (firmware/README.md, "ENROLL_KEY") for the token with this
 * serial: the authority signs it offline, in the key ceremony, with minisign. op is a
 * PROTO_ENROLL_* value, epoch the token's INFO epoch + 1. Returns 0 or RL_EUSAGE. */
int usbtoken_statement_build(uint8_t out[PROTO_ST_SIZE], const char *serial, uint32_t epoch,
                             unsigned op, const uint8_t key_id[8], const uint8_t pk[32])
    __attribute__((warn_unused_result));

/* ENROLL_KEY with a statement and the authority's .minisig text over it. *epoch and *nkeys
 * (both may be NULL) get the token's new epoch and number of appliance keys. */
int usbtoken_enroll(usbtoken *t, const uint8_t statement[PROTO_ST_SIZE], const char *sig_text,
                    size_t sig_len, uint32_t *epoch, unsigned *nkeys)
    __attribute__((warn_unused_result));

/* Formats a STAT's signature as .minisig text (NUL-terminated) into out (cap >= 512 holds any).
 * Returns 0 or RL_EUSAGE if cap is too small. */
int usbtoken_minisig_text(const usbtoken_filestat *st, char *out, size_t cap)
    __attribute__((warn_unused_result));

#endif
