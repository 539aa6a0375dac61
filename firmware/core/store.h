/* store.h: the token's log-structured store on NOR flash (internal to firmware/core).
 *
 * Flash is split into two metadata areas (A and B, each whole erase blocks) and a data
 * region. The store's whole state (counter, keys, file table, recently deleted file ids) is
 * one fixed-size, checksummed, generation-numbered record, the "snapshot". Every change is
 * made by appending a new snapshot; the valid snapshot with the highest generation is the
 * state. File contents live in contiguous extents of erase blocks in the data region,
 * written (and erased first) before the snapshot that names them. See firmware/README.md,
 * "Flash layout" and "Power cuts", for the argument why a cut at any point leaves either the
 * old or the new state.
 *
 * Usage: the caller mutates s->st in place, then calls store_commit(). If store_commit()
 * fails the caller must call store_mount() again, which reloads s->st from flash (the old
 * state, or the new one if it did become durable). */
#ifndef TOKEN_CORE_STORE_H
#define TOKEN_CORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "hal.h"
#include "proto.h"

#define STORE_SNAP_SIZE 4096u     /* one snapshot record; a multiple of every page size */
#define STORE_FILEHDR_SIZE 640u   /* header at the start of every file extent */
#define STORE_MAX_FILES PROTO_MAX_FILES
#define STORE_MAX_KEYS PROTO_MAX_APPLIANCE_KEYS
#define STORE_DELETED_RING 32u    /* ids of recently deleted files, for replay refusal */
#define STORE_MAX_PAGE 4096u

enum {
    STORE_OK = 0,
    STORE_EFLASH = -1,    /* a flash operation failed */
    STORE_EGEOMETRY = -2, /* the flash geometry cannot hold a store */
    STORE_EFULL = -3,     /* no contiguous free extent large enough */
    STORE_ETOOBIG = -4,   /* larger than the whole data region */
};

typedef struct {
    uint8_t used;
    uint8_t key_id[8];
    uint8_t pk[32];
    uint64_t last_seq;   /* highest trusted-comment seq accepted from this key (0 = none) */
} store_key;

typedef struct {
    uint8_t name_len;
    char name[64];       /* NUL padded */
    uint8_t hash_id[PROTO_HASH_ID_LEN];
    uint64_t counter;    /* the counter value that accepted this file */
    uint32_t size;       /* file bytes */
    uint32_t first_block, nblocks;
    uint32_t flags;      /* PROTO_FILE_* */
} store_file;

typedef struct {
    uint64_t generation;
    uint64_t counter;    /* files accepted ever; never decreases */
    uint32_t epoch;      /* enrolment statements accepted ever */
    uint8_t has_authority;
    uint8_t auth_key_id[8];
    uint8_t auth_pk[32];
    store_key keys[STORE_MAX_KEYS];
    uint32_t nfiles;
    store_file files[STORE_MAX_FILES];
    uint32_t ndeleted, deleted_head;
    uint8_t deleted[STORE_DELETED_RING][PROTO_HASH_ID_LEN];
} store_state;

/* The file-extent header (first STORE_FILEHDR_SIZE bytes of an extent), decoded. */
typedef struct {
    uint8_t cls;         /* PROTO_CLASS_* */
    uint32_t size;
    uint8_t name_len;
    char name[64];
    uint8_t prehash[64];
    uint8_t key_id[8];
    uint8_t sig[64];
    uint8_t gsig[64];
    uint16_t tc_len;
    uint8_t tc[PROTO_TC_MAX + 1];
} store_filehdr;

typedef struct {
    hal_dev *dev;
    hal_flash_geometry geo;
    uint32_t area_blocks;      /* erase blocks per metadata area */
    uint32_t records_per_area;
    uint32_t data_first;       /* first data block */
    uint32_t data_off;         /* offset of file bytes within an extent (header, page aligned) */
    uint32_t cur_area, next_slot;
    int must_rotate;           /* next commit goes to the other area, erased first */
    uint64_t max_gen;
    store_state st;            /* the committed state (or being changed before a commit) */
    /* upload writer */
    uint32_t up_first, up_nblocks;
    uint32_t up_pos;           /* bytes of the extent written or buffered */
    uint32_t up_fill;          /* bytes in page[] */
    uint8_t page[STORE_MAX_PAGE];
    uint8_t rec[STORE_SNAP_SIZE];
} store;

/* Returns 1 if name[0..len) is an acceptable file name: 1..63 bytes of [A-Za-z0-9._-],
 * not starting with '.' (no path separators, nothing a shell or a FAT volume would mangle). */
int store_name_valid(const uint8_t *name, size_t len);

/* Reads the flash geometry and finds the newest valid snapshot. A flash with no valid
 * snapshot (new, or wiped) mounts as an empty store; the first commit formats it. Returns
 * STORE_OK, STORE_EGEOMETRY or STORE_EFLASH (read failure). */
int store_mount(store *s, hal_dev *dev);

/* Appends s->st as the next snapshot (generation assigned here). Returns STORE_OK once the
 * snapshot is durable, else STORE_EFLASH (then call store_mount). */
int store_commit(store *s);

/* Data-region accounting. */
uint32_t store_capacity(const store *s);      /* bytes of file data the region could hold */
uint32_t store_free_bytes(const store *s);    /* sum of free blocks, in bytes */
uint32_t store_largest_file(const store *s);  /* largest file that fits in one free extent */

/* Reserves a free extent for a file of `size` bytes (plus header) and positions the upload
 * writer at its start. Nothing is written. STORE_OK, STORE_EFULL, STORE_ETOOBIG. */
int store_upload_begin(store *s, uint32_t size, uint32_t *first, uint32_t *nblocks);
/* Appends bytes to the extent; full pages are programmed, each block erased on first use. */
int store_upload_write(store *s, const uint8_t *data, uint32_t len);
/* Pads the current page with 0xFF and programs it (end of header, end of file). */
int store_upload_flush(store *s);

/* Encodes *h as a file header (with checksum) and writes it through the upload writer,
 * padded to s->data_off. */
int store_upload_header(store *s, const store_filehdr *h);
/* Reads and checks the header of the extent starting at block `first`. Returns STORE_OK, or
 * STORE_EFLASH if unreadable or its checksum is wrong. */
int store_read_header(store *s, uint32_t first, store_filehdr *h);

/* Reads len bytes at offset `off` of the file data of the extent starting at `first`. */
int store_read_data(store *s, uint32_t first, uint32_t off, uint8_t *buf, uint32_t len);

#endif
