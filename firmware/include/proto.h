/* proto.h: the token's USB wire format, shared by the firmware and the appliance (app/token).
 *
 * Everything here is a wire format: fixed offsets, little-endian integers read and written
 * with the explicit helpers below (never by casting a struct onto a buffer). The full
 * specification with the state machine is in firmware/README.md; this header is its
 * machine-readable half. Freestanding: only <stdint.h>/<stddef.h>.
 *
 * Frame (one per USB bulk transfer, both directions):
 *
 *   off size field
 *     0    4 magic     "RLTK" (0x52 0x4C 0x54 0x4B)
 *     4    1 version   PROTO_VERSION
 *     5    1 command   request: PROTO_CMD_*; response: request command | PROTO_RSP_FLAG,
 *                      or PROTO_RSP_ERROR for a frame the token could not parse
 *     6    2 status    request: 0; response: PROTO_OK or a PROTO_E* code
 *     8    4 sequence  request: chosen by the host (see README); response: echoed
 *    12    4 length    payload length n, 0..PROTO_MAX_PAYLOAD
 *    16    n payload
 *  16+n    4 crc       CRC-32 (IEEE 802.3, as zlib's crc32()) of bytes [0, 16+n)
 *
 * The CRC only catches transport damage; authenticity comes from the minisign signatures.
 */
#ifndef TOKEN_PROTO_H
#define TOKEN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC0 0x52u /* 'R' */
#define PROTO_MAGIC1 0x4Cu /* 'L' */
#define PROTO_MAGIC2 0x54u /* 'T' */
#define PROTO_MAGIC3 0x4Bu /* 'K' */
#define PROTO_VERSION 1u

#define PROTO_HDR_SIZE 16u
#define PROTO_CRC_SIZE 4u
#define PROTO_MAX_CHUNK 4096u                      /* file bytes per PUT_DATA / GET */
#define PROTO_MAX_PAYLOAD (PROTO_MAX_CHUNK + 64u)  /* 4160 */
#define PROTO_MAX_FRAME (PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD + PROTO_CRC_SIZE)

/* header field offsets */
#define PROTO_OFF_MAGIC 0u
#define PROTO_OFF_VERSION 4u
#define PROTO_OFF_CMD 5u
#define PROTO_OFF_STATUS 6u
#define PROTO_OFF_SEQ 8u
#define PROTO_OFF_LEN 12u

/* commands (requests) */
enum {
    PROTO_CMD_HELLO = 0x01,      /* open a session, any sequence number; reply = INFO */
    PROTO_CMD_INFO = 0x02,
    PROTO_CMD_LIST = 0x03,
    PROTO_CMD_STAT = 0x04,       /* one file's metadata and its minisign signature */
    PROTO_CMD_GET = 0x05,        /* one chunk of a file */
    PROTO_CMD_PUT_BEGIN = 0x10,
    PROTO_CMD_PUT_DATA = 0x11,
    PROTO_CMD_PUT_COMMIT = 0x12,
    PROTO_CMD_PUT_ABORT = 0x13,
    PROTO_CMD_MARK_COLLECTED = 0x20,
    PROTO_CMD_DELETE = 0x21,
    PROTO_CMD_ENROLL_KEY = 0x30,
};
#define PROTO_RSP_FLAG 0x80u
#define PROTO_RSP_ERROR 0xFFu

/* status codes; error responses carry a short ASCII explanation as payload (no NUL) */
enum {
    PROTO_OK = 0,
    PROTO_E_MAGIC = 1,         /* frame: bad magic */
    PROTO_E_VERSION = 2,       /* frame: unsupported protocol version */
    PROTO_E_LENGTH = 3,        /* frame: length field > PROTO_MAX_PAYLOAD, or trailing bytes */
    PROTO_E_TRUNCATED = 4,     /* frame: transfer ended before header/payload/crc */
    PROTO_E_CRC = 5,           /* frame: CRC mismatch */
    PROTO_E_RESERVED = 6,      /* frame: status field of a request not 0 */
    PROTO_E_UNKNOWN_CMD = 7,
    PROTO_E_SEQUENCE = 8,      /* payload: u32 expected sequence number, then text */
    PROTO_E_NO_SESSION = 9,    /* HELLO first */
    PROTO_E_STATE = 10,        /* command not allowed in the current state */
    PROTO_E_MALFORMED = 11,    /* payload length or field invalid for the command */
    PROTO_E_NAME = 12,         /* file name not acceptable */
    PROTO_E_EXISTS = 13,       /* a file with that name, or that key, is already there */
    PROTO_E_NOT_FOUND = 14,
    PROTO_E_FULL = 15,         /* no room: file table, key table or flash */
    PROTO_E_KEY = 16,          /* signing key is not an enrolled appliance key */
    PROTO_E_SIGNATURE = 17,    /* signature, global signature or file hash does not verify */
    PROTO_E_REPLAY = 18,       /* file already seen, or its seq is not newer than the last */
    PROTO_E_CLASS = 19,        /* drill/production mismatch between request and trusted comment */
    PROTO_E_OFFSET = 20,       /* PUT_DATA offset is not the next expected byte */
    PROTO_E_INCOMPLETE = 21,   /* PUT_COMMIT before all bytes arrived */
    PROTO_E_NOT_COLLECTED = 22,/* DELETE of a file not marked collected */
    PROTO_E_AUTHORITY = 23,    /* ENROLL_KEY statement not signed by the enrolment authority */
    PROTO_E_FLASH = 24,        /* flash operation failed; stored state is the old one */
    PROTO_E_FAULT = 25,        /* the store cannot be mounted; token needs service */
    PROTO_E_RANGE = 26,        /* GET offset beyond the end of the file */
    PROTO_E_TOO_BIG = 27,      /* PUT size larger than the token can ever hold */
};

/* file classes (PUT_BEGIN request, LIST/STAT flags) */
#define PROTO_CLASS_DRILL 1u
#define PROTO_CLASS_PRODUCTION 2u

/* LIST / STAT file flags */
#define PROTO_FILE_DRILL 0x01u
#define PROTO_FILE_PRODUCTION 0x02u
#define PROTO_FILE_COLLECTED 0x04u

#define PROTO_NAME_MAX 63u   /* file names: 1..63 bytes of [A-Za-z0-9._-], not starting '.' */
#define PROTO_TC_MAX 255u    /* trusted comment bytes (one line, no NUL/CR/LF) */
#define PROTO_SERIAL_LEN 16u
#define PROTO_MODEL_LEN 16u
#define PROTO_HASH_ID_LEN 32u /* file id: first 32 bytes of the BLAKE2b-512 prehash */
#define PROTO_MAX_APPLIANCE_KEYS 4u
#define PROTO_MAX_FILES 16u

/* ---- payload layouts (offsets within the payload) ----------------------------------------- */

/* HELLO, INFO response */
#define PROTO_INFO_PROTO 0u        /* u8 protocol version */
#define PROTO_INFO_FW 1u           /* u8 major, u8 minor, u8 patch */
#define PROTO_INFO_MODEL 4u        /* char[16] NUL padded */
#define PROTO_INFO_SERIAL 20u      /* char[16] NUL padded */
#define PROTO_INFO_SESSION 36u     /* u32 random per session (changes on HELLO and reboot) */
#define PROTO_INFO_COUNTER 40u     /* u64 accepted-file counter */
#define PROTO_INFO_FREE 48u        /* u32 free data bytes */
#define PROTO_INFO_LARGEST 52u     /* u32 largest file that fits now */
#define PROTO_INFO_TOTAL 56u       /* u32 data capacity in bytes */
#define PROTO_INFO_NFILES 60u      /* u8 */
#define PROTO_INFO_MAXFILES 61u    /* u8 */
#define PROTO_INFO_NKEYS 62u       /* u8 enrolled appliance keys */
#define PROTO_INFO_FLAGS 63u       /* u8: bit0 authority enrolled, bit1 upload in progress */
#define PROTO_INFO_MAXPAYLOAD 64u  /* u16 */
#define PROTO_INFO_MAXCHUNK 66u    /* u16 */
#define PROTO_INFO_EPOCH 68u       /* u32 enrolment epoch (statements accepted so far) */
#define PROTO_INFO_AUTH_ID 72u     /* u8[8] authority key id (zero if none) */
#define PROTO_INFO_KEYS 80u        /* nkeys x { key_id[8], last_seq u64 } */
#define PROTO_INFO_KEY_SIZE 16u
#define PROTO_INFO_FLAG_AUTHORITY 0x01u
#define PROTO_INFO_FLAG_UPLOADING 0x02u

/* LIST response: u64 counter, u8 nfiles, u8[3] 0, then nfiles entries */
#define PROTO_LIST_HDR 12u
#define PROTO_LIST_ENTRY 112u
#define PROTO_LE_NAME 0u       /* char[64] NUL padded */
#define PROTO_LE_SIZE 64u      /* u32 */
#define PROTO_LE_COUNTER 68u   /* u64 value of the counter that accepted this file */
#define PROTO_LE_FLAGS 76u     /* u32 PROTO_FILE_* */
#define PROTO_LE_HASH_ID 80u   /* u8[32] */

/* STAT request: name (1..63 bytes, the whole payload).
 * STAT response: */
#define PROTO_STAT_SIZE 0u     /* u32 */
#define PROTO_STAT_COUNTER 4u  /* u64 */
#define PROTO_STAT_FLAGS 12u   /* u32 */
#define PROTO_STAT_KEY_ID 16u  /* u8[8] */
#define PROTO_STAT_PREHASH 24u /* u8[64] BLAKE2b-512 of the file */
#define PROTO_STAT_SIG 88u     /* u8[64] */
#define PROTO_STAT_GSIG 152u   /* u8[64] global signature over sig || trusted comment */
#define PROTO_STAT_TC_LEN 216u /* u16 */
#define PROTO_STAT_TC 218u     /* trusted comment bytes */

/* GET request: u32 offset, u16 len (1..PROTO_MAX_CHUNK), name. Response: the bytes
 * (min(len, size - offset); empty at offset == size). */
#define PROTO_GET_OFFSET 0u
#define PROTO_GET_LEN 4u
#define PROTO_GET_NAME 6u

/* PUT_BEGIN request (the .minisig file in binary form; its untrusted comment is not sent) */
#define PROTO_PB_NAME_LEN 0u   /* u8 */
#define PROTO_PB_CLASS 1u      /* u8 PROTO_CLASS_* the appliance intends */
#define PROTO_PB_TC_LEN 2u     /* u16 */
#define PROTO_PB_SIZE 4u       /* u32 file size in bytes (may be 0) */
#define PROTO_PB_ALG 8u        /* "ED" then two zero bytes */
#define PROTO_PB_KEY_ID 12u    /* u8[8] signer key id from the signature line */
#define PROTO_PB_PREHASH 20u   /* u8[64] BLAKE2b-512 of the file, as the appliance computed it */
#define PROTO_PB_SIG 84u       /* u8[64] */
#define PROTO_PB_GSIG 148u     /* u8[64] */
#define PROTO_PB_VAR 212u      /* name bytes then trusted comment bytes; payload ends there */

/* PUT_DATA request: u32 offset, then 1..PROTO_MAX_CHUNK bytes. Response: u32 received. */
#define PROTO_PD_OFFSET 0u
#define PROTO_PD_DATA 4u

/* PUT_COMMIT response: u64 counter (this file's), u8[32] hash id */

/* MARK_COLLECTED, DELETE request: name. Response: empty. */

/* ENROLL_KEY request: statement[72], then the authority's minisign signature of the statement
 * in binary form: alg "ED"+2 zero bytes, key_id[8], sig[64], gsig[64], u16 tc_len, tc. */
#define PROTO_ST_SIZE 72u
#define PROTO_ST_MAGIC 0u      /* "RLTKENR1" */
#define PROTO_ST_SERIAL 8u     /* char[16]: this token's serial */
#define PROTO_ST_EPOCH 24u     /* u32: must be the token's epoch + 1 */
#define PROTO_ST_OP 28u        /* u8 PROTO_ENROLL_*; then 3 zero bytes */
#define PROTO_ST_KEY_ID 32u    /* u8[8] */
#define PROTO_ST_PK 40u        /* u8[32] */
#define PROTO_EK_ALG 72u
#define PROTO_EK_KEY_ID 76u
#define PROTO_EK_SIG 84u
#define PROTO_EK_GSIG 148u
#define PROTO_EK_TC_LEN 212u
#define PROTO_EK_TC 214u
enum {
    PROTO_ENROLL_ADD_APPLIANCE = 1,
    PROTO_ENROLL_REMOVE_APPLIANCE = 2,
    PROTO_ENROLL_SET_AUTHORITY = 3,
};
/* ENROLL_KEY response: u32 new epoch, u8 enrolled appliance keys. */

/* ---- little-endian helpers ---------------------------------------------------------------- */

static inline uint16_t proto_load16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static inline uint32_t proto_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t proto_load64(const uint8_t *p)
{
    return (uint64_t)proto_load32(p) | ((uint64_t)proto_load32(p + 4) << 32);
}

static inline void proto_store16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void proto_store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void proto_store64(uint8_t *p, uint64_t v)
{
    proto_store32(p, (uint32_t)v);
    proto_store32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF): continue a running
 * value; start with crc = 0. proto_crc32(0, "123456789", 9) == 0xCBF43926. Implemented in
 * firmware/core/proto.c; the appliance may use zlib's crc32() instead (same function). */
uint32_t proto_crc32(uint32_t crc, const uint8_t *p, size_t len);

/* Builds a request frame into out (cap bytes): header, payload copy, CRC. Returns the frame
 * length, or 0 if cap is too small or len > PROTO_MAX_PAYLOAD. For the appliance and tests. */
size_t proto_frame_build(uint8_t *out, size_t cap, uint8_t cmd, uint16_t status, uint32_t seq,
                         const uint8_t *payload, uint32_t len);

#endif
