/* hal.h: the contract between the token's portable core (firmware/core) and the hardware.
 *
 * The core is compiled freestanding with only firmware/include on its include path; every
 * contact with the outside world goes through the functions declared here. Each platform
 * implements them once: firmware/hal/host (RAM flash, queue-backed USB endpoints, fixed clock
 * and random source, libsodium crypto; for tests and the simulator) and firmware/hal/<target>
 * for a real microcontroller. The implementation is chosen at link time, never by #ifdef in
 * the core.
 *
 * Every function takes the platform's device handle `hal_dev *` (opaque to the core) so that
 * a host process can run several independent tokens (the end-to-end tests emulate two tokens
 * at once). On a target there is exactly one.
 *
 * Threading: the core calls the HAL from one thread only (the main loop / token_poll). A
 * target HAL whose USB stack runs in an interrupt hands packets over through its own queue.
 *
 * Return convention: 0 (HAL_OK) or a negative HAL_E* code. The crypto seam returns secbool
 * for its one security decision. */
#ifndef TOKEN_HAL_H
#define TOKEN_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "secbool.h"

typedef struct hal_dev hal_dev;

enum {
    HAL_OK = 0,
    HAL_EINVAL = -1,  /* misuse: misaligned or out-of-range address, bad length */
    HAL_EIO = -2,     /* the hardware reported a failure; the operation may be partly done */
    HAL_EPOWER = -3,  /* power is gone (host fake after a simulated cut): nothing more happens */
    HAL_EAGAIN = -4,  /* USB: no packet waiting (read) or endpoint busy (write); try later */
};

/* ---- flash -------------------------------------------------------------------------------
 * NOR-flash semantics, which the core's store relies on and the host fake enforces:
 *  - The flash is block_count erase blocks of block_size bytes; a block consists of
 *    block_size / page_size program pages. Addresses are byte offsets from 0.
 *  - Erase sets every byte of one block to 0xFF.
 *  - Program writes whole pages (page-aligned address, length a multiple of page_size). A
 *    page is programmed AT MOST ONCE between erases, and programming can only turn bits from
 *    1 to 0. (Internal MCU flash with ECC forbids even a second 1->0 program of a page;
 *    keeping to "once" makes the store portable to it.)
 *  - Reads may have any alignment and length within the device.
 *  - A power cut during a program leaves that page in an unknown mix of old and new bits
 *    (torn); during an erase, the block in an unknown state that may read partly erased. In
 *    both cases the page/block must be erased before it is programmed again. Everything
 *    programmed or erased by a call that returned HAL_OK is durable.
 * The geometry the core needs: page_size a power of two between 64 and TOKEN_MAX_PAGE
 * (token.h), block_size a multiple of page_size, and enough blocks for the store's two
 * metadata areas plus at least one data block (firmware/README.md, "Flash layout").
 */
typedef struct {
    uint32_t page_size;   /* program unit in bytes */
    uint32_t block_size;  /* erase unit in bytes */
    uint32_t block_count; /* number of erase blocks */
} hal_flash_geometry;

/* Fills *geo with this device's flash geometry; constant for the device's lifetime. */
void hal_flash_geometry_get(hal_dev *dev, hal_flash_geometry *geo);

/* Reads len bytes at addr into buf. Returns HAL_OK, HAL_EINVAL (range), HAL_EIO, HAL_EPOWER.
 * Reading a torn page returns some bit pattern; it never fails because of the tear. */
int hal_flash_read(hal_dev *dev, uint32_t addr, void *buf, uint32_t len);

/* Programs len bytes (whole pages, page-aligned) from data at addr. Each page must have been
 * erased since it was last programmed. Returns HAL_OK when every page is durable; HAL_EINVAL
 * for misuse (nothing written); HAL_EIO or HAL_EPOWER when some pages may be written or torn. */
int hal_flash_program(hal_dev *dev, uint32_t addr, const void *data, uint32_t len);

/* Erases block number `block` (0-based). Returns HAL_OK when the block reads all 0xFF and may
 * be programmed; HAL_EINVAL (range); HAL_EIO or HAL_EPOWER when the block is in an unknown
 * state and must be erased again before use. */
int hal_flash_erase(hal_dev *dev, uint32_t block);

/* ---- USB vendor interface: one bulk OUT and one bulk IN endpoint ----------------------------
 * The HAL delivers and sends individual bulk packets; the core does the framing. A packet
 * shorter than hal_usb_max_packet() (including a zero-length packet) ends a USB transfer.
 * Enumeration, descriptors, ep0 and the USB serial-number string are the HAL's business. */

/* wMaxPacketSize of the bulk endpoints (64 at full speed, 512 at high speed; at most
 * TOKEN_MAX_PACKET). Constant. */
uint32_t hal_usb_max_packet(hal_dev *dev);

/* Takes the next received OUT packet, if any, into buf (cap >= hal_usb_max_packet()).
 * Returns its length (0 for a zero-length packet) or HAL_EAGAIN when none is waiting. */
int hal_usb_read_packet(hal_dev *dev, uint8_t *buf, uint32_t cap);

/* Queues one IN packet of len <= hal_usb_max_packet() bytes (0 = zero-length packet).
 * Returns HAL_OK once the HAL has taken its own copy, or HAL_EAGAIN when the endpoint is
 * busy (the core keeps the packet and retries on a later poll). */
int hal_usb_write_packet(hal_dev *dev, const uint8_t *buf, uint32_t len);

/* Returns 1 once after each USB bus reset, SET_CONFIGURATION or SET_INTERFACE (the host's
 * way to resynchronise), 0 otherwise. The core then drops partial frames and its session. */
int hal_usb_take_reset(hal_dev *dev);

/* ---- identity, time, randomness, indicator ------------------------------------------------ */

/* Writes the device serial number: exactly TOKEN_SERIAL_LEN (16) bytes, printable ASCII
 * padded with NUL bytes; the same string as the USB iSerialNumber descriptor. On a target it
 * is derived from the chip's unique id. Constant. */
void hal_device_serial(hal_dev *dev, char serial[16]);

/* Milliseconds since power-up from a monotonic clock; wraps after ~49 days (the core only
 * takes differences). Not a wall clock: the token has no trusted time. */
uint32_t hal_clock_ms(hal_dev *dev);

/* Fills buf with len bytes from the platform's random source (a hardware TRNG on a target;
 * a fixed, seeded sequence in the host fake so tests are reproducible). The core uses it
 * only for session identifiers, never for key material. */
void hal_random(hal_dev *dev, void *buf, uint32_t len);

typedef enum { HAL_LED_OFF = 0, HAL_LED_IDLE = 1, HAL_LED_BUSY = 2, HAL_LED_ERROR = 3 } hal_led;

/* Shows a state on the token's LED. May be a no-op. */
void hal_led_set(hal_dev *dev, hal_led state);

/* ---- crypto seam ---------------------------------------------------------------------------
 * The core is freestanding and links no crypto library itself; the platform provides these
 * two primitives. Host: libsodium (crypto_sign_verify_detached, crypto_generichash). Target:
 * libsodium's ref10 Ed25519 and reference BLAKE2b compiled for the MCU (or a vetted
 * equivalent such as Monocypher); firmware/README.md says why. No secret ever passes here:
 * the token only verifies. */

/* Ed25519 (RFC 8032, pure, as libsodium: canonical S, small-order keys and R refused) check of
 * sig over msg[0..len) with public key pk. Returns sectrue only if valid; anything else means
 * invalid. */
secbool hal_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t pk[32]) __attribute__((warn_unused_result));

/* Incremental unkeyed BLAKE2b (RFC 7693) with output length 1..64 bytes. The state is opaque;
 * its size and alignment cover libsodium's crypto_generichash_state (checked in hal/host). */
typedef struct {
    _Alignas(64) unsigned char opaque[384];
} hal_blake2b_state;

/* Returns HAL_OK, or HAL_EINVAL if outlen is not in 1..64. */
int hal_blake2b_init(hal_blake2b_state *st, size_t outlen);
void hal_blake2b_update(hal_blake2b_state *st, const uint8_t *in, size_t len);
/* Writes outlen bytes (the value given to init) and wipes the state. */
void hal_blake2b_final(hal_blake2b_state *st, uint8_t *out, size_t outlen);

#endif
