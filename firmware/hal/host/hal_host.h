/* hal_host.h: the host HAL's own API, for tests, the simulator and the emulated USB token.
 *
 * firmware/hal/host implements hal.h on a PC: a RAM flash that behaves like NOR flash and can
 * be told to fail or lose power at the Nth operation, queue-backed bulk endpoints driven from
 * the "host" side with the functions below, a clock that only moves when told, a seeded
 * random sequence, and libsodium for the crypto seam. Firmware core code never includes this
 * header; only code that plays the world around the token does.
 *
 * Not thread-safe: a caller that drives a token from several threads (umockdev's ioctl
 * handler runs on its own thread) must hold one lock around token_poll() and these calls. */
#ifndef TOKEN_HAL_HOST_H
#define TOKEN_HAL_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "hal.h"

typedef struct {
    uint32_t page_size;   /* default 256 */
    uint32_t block_size;  /* default 4096 */
    uint32_t block_count; /* default 64 (256 KiB) */
    uint32_t max_packet;  /* default 64 (full speed); 512 for high speed */
    const char *serial;   /* default "RLTEST0001"; at most 16 bytes */
    uint64_t random_seed; /* default 1 */
    int program_once;     /* default 1: a page may be programmed once per erase (ECC flash) */
} hal_host_config;

/* Fills *cfg with the defaults above. */
void hal_host_config_default(hal_host_config *cfg);

/* Creates a device with an erased flash (all 0xFF). cfg NULL means defaults. Returns NULL on
 * bad geometry or out of memory. Calls sodium_init(). */
hal_dev *hal_host_create(const hal_host_config *cfg);
/* Frees the device. Accepts NULL. */
void hal_host_destroy(hal_dev *dev);

/* ---- flash fault injection ------------------------------------------------------------------
 * Every page programmed and every block erased is one "flash operation"; they are numbered
 * from 0 since creation. */
typedef enum {
    HAL_HOST_FAULT_NONE = 0,
    HAL_HOST_FAULT_FAIL = 1, /* that operation is torn and returns HAL_EIO; power stays on */
    HAL_HOST_FAULT_CUT = 2,  /* that operation is torn and power is lost: it and every later
                                flash or USB call fails with HAL_EPOWER until power_cycle */
    HAL_HOST_FAULT_CUT_AFTER = 3, /* that operation completes, then power is lost before the
                                     core hears of it (returns HAL_EPOWER): the "committed but
                                     never acknowledged" case */
} hal_host_fault;

/* Arms a fault at the operation numbered hal_host_flash_ops(dev) + n (n = 0: the very next
 * one). Torn program (FAIL, CUT): the first half of the page is programmed, the rest not. Torn erase:
 * the first half of the block reads 0xFF, the rest keeps its old bytes, and every page of the
 * block counts as programmed (it must be erased again). kind NONE disarms. */
void hal_host_flash_fault(hal_dev *dev, uint64_t n, hal_host_fault kind);
/* Number of flash operations (page programs + block erases) so far. */
uint64_t hal_host_flash_ops(const hal_dev *dev);
/* Number of misuse attempts refused so far: misaligned or out-of-range program/erase,
 * 0->1 program, second program of a page without erase. A correct core causes none. */
uint64_t hal_host_flash_violations(const hal_dev *dev);
/* 1 after a HAL_HOST_FAULT_CUT fired, until hal_host_power_cycle. */
int hal_host_power_lost(const hal_dev *dev);
/* Power comes back: clears the power-lost state, any armed fault, both USB queues and the
 * pending reset; flash contents (torn ones included) stay. Reopen the token afterwards. */
void hal_host_power_cycle(hal_dev *dev);
/* Copies flash contents and per-page state from src to dst (same geometry). Returns 0, or
 * -1 if the geometries differ. Lets a test restore a saved flash state quickly. */
int hal_host_flash_copy(hal_dev *dst, const hal_dev *src);
/* Direct view of the flash bytes, for tests that corrupt or inspect them. */
uint8_t *hal_host_flash_bytes(hal_dev *dev, size_t *len);
/* File-backed flash for the simulator: save the image (bytes only) / load it (the pages of a
 * loaded image count as programmed where they are not 0xFF). Return 0 or -1 (errno set). */
int hal_host_flash_save(const hal_dev *dev, const char *path);
int hal_host_flash_load(hal_dev *dev, const char *path);

/* ---- USB, seen from the host (the appliance side of the cable) ------------------------------ */

/* Sends one bulk OUT transfer: data split into max_packet packets, followed by a zero-length
 * packet when len is a multiple of max_packet (so len 0 sends one ZLP), as libusb does with
 * LIBUSB_TRANSFER_ADD_ZERO_PACKET. Returns 0, or -1 (no power / out of memory). */
int hal_host_usb_send(hal_dev *dev, const uint8_t *data, size_t len);
/* Sends exactly one OUT packet (len <= max_packet), for malformed-transfer tests. */
int hal_host_usb_send_packet(hal_dev *dev, const uint8_t *data, size_t len);
/* Receives one bulk IN transfer: packets up to and including the first short packet.
 * Returns its length; -1 if no complete transfer is queued (nothing is consumed); -2 if cap
 * is too small (the transfer is consumed and dropped). */
long hal_host_usb_recv(hal_dev *dev, uint8_t *buf, size_t cap);
/* Number of IN packets waiting. */
size_t hal_host_usb_in_queued(const hal_dev *dev);
/* The next n hal_usb_write_packet calls return HAL_EAGAIN (a host that is slow to read). */
void hal_host_usb_in_busy(hal_dev *dev, uint32_t n);
/* Simulates a bus reset / SET_INTERFACE: both queues are emptied and the core will see
 * hal_usb_take_reset() == 1 once. */
void hal_host_usb_reset(hal_dev *dev);

/* ---- clock, LED ---------------------------------------------------------------------------- */
void hal_host_clock_advance(hal_dev *dev, uint32_t ms);
hal_led hal_host_led(const hal_dev *dev);

#endif
