/* emu: emulated USB tokens for the end-to-end tests of app/token.
 *
 * Each emulated token is the REAL firmware core (firmware/core, token_poll) on the host HAL
 * (firmware/hal/host: RAM flash with fault injection, queue-backed endpoints), presented to
 * libusb as a USB device by umockdev: a fake sysfs entry with the device's descriptors, a
 * device node, and an ioctl handler that plays the kernel's usbfs (URB submit, reap,
 * discard, claim, reset, string descriptors on ep0). libusb and app/token run unchanged;
 * only the kernel below them is replaced (recipe: /work/shared/notes/usb-emulation.md).
 *
 * Bulk OUT transfers are cut into wMaxPacketSize packets (plus a zero-length packet when
 * libusb asks for one) and handed to the HAL's OUT queue; the core is polled until it is
 * idle; complete IN transfers (packets up to a short one) are handed to pending IN URBs.
 * Like a real token, the device takes no new OUT transfer while an answer is unread (the
 * core reads no request while its answer is pending; hardware NAKs): a host that resends
 * without reading must not deadlock. The HAL's clock follows real time, so the token's
 * 60 s upload timeout holds.
 *
 * Faults a test can inject, at the USB level (the flash level is the host HAL's own API,
 * reached with emu_hal under emu_lock):
 *  - mute: the device stops answering: OUT transfers are never taken, IN never completes
 *    (libusb times out); as a cable that stopped working or a hung device;
 *  - unplug: every transfer fails with "no device", the device leaves sysfs;
 *  - replug: power cycle (RAM state lost, flash kept) and enumerate again;
 *  - damage: flip a bit in the next n IN or OUT transfers (CRC errors);
 *  - loss: swallow the next n IN transfers (answers lost on the way);
 *  - slowness: hold the next n answers back for some milliseconds;
 *  - forgery: change a byte in the next answer to a given command and fix its CRC, as a
 *    faulty or dishonest token would (the transport cannot see it; the appliance's own
 *    checks must).
 * A flash fault that cuts the token's power (hal_host_flash_fault, HAL_HOST_FAULT_CUT or
 * _CUT_AFTER) takes the device off the bus as soon as it fires, as an unpowered token does:
 * the host sees a disconnect. emu_replug brings it back (power on, flash as it was left).
 *
 * The ioctl handler runs on umockdev's worker thread; every function here takes the
 * device's lock, so tests call them freely from the test thread. Test code only. */
#ifndef TOK_EMU_H
#define TOK_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "hal.h"

typedef struct emu emu;
typedef struct emu_dev emu_dev;

typedef struct {
    uint16_t vid, pid;       /* default 1209:0001 (USBTOKEN_VID/PID) */
    const char *serial;      /* default "RLTEST0001"; at most 16 characters */
    const char *usb_serial;  /* the USB descriptor's serial, if not `serial` (a token whose
                                descriptor and firmware disagree); NULL: the same */
    uint32_t max_packet;     /* 64 (full speed, default) or 512 (high speed) */
    uint32_t block_count;    /* flash size in 4 KiB blocks; default 64 (256 KiB) */
    uint32_t page_size;      /* default 256 */
} emu_dev_config;

typedef enum {
    EMU_CUT_MUTE = 1,   /* the device stops answering */
    EMU_CUT_UNPLUG = 2, /* the device disappears: transfers fail with "no device" */
} emu_cut;

typedef struct {
    uint64_t out_transfers, in_transfers;
    uint64_t out_bytes, in_bytes;
} emu_stats;

/* Creates an empty testbed (umockdev_testbed_new). Must run under umockdev-wrapper (or
 * LD_PRELOAD=libumockdev-preload.so.0); returns NULL, with a message on stderr, otherwise. */
emu *emu_new(void);
/* Frees every device and the testbed. Accepts NULL. No libusb handle may be open on its
 * devices any more. */
void emu_free(emu *e);

/* Fills *cfg with the defaults above. */
void emu_dev_config_default(emu_dev_config *cfg);
/* Plugs in a new token with an erased flash. cfg NULL means defaults. Returns NULL on
 * failure (message on stderr). The device belongs to e. */
emu_dev *emu_add(emu *e, const emu_dev_config *cfg);

/* Unplugs the device now. */
void emu_unplug(emu_dev *d);
/* Power-cycles the token (its RAM state and any upload are lost; flash is kept, torn pages
 * included) and plugs it in again under a new device address; clears mute, cuts and
 * injected damage. Close libusb handles to the old device first. */
void emu_replug(emu_dev *d);

/* Mute on (1) or off (0). */
void emu_set_mute(emu_dev *d, int on);
/* After n more bulk OUT transfers have been delivered to the token, cut as given: the n-th
 * transfer still reaches the token (and is executed), but its answer never comes back. */
void emu_cut_after_out(emu_dev *d, uint32_t n, emu_cut how);
/* Flips one bit in each of the next n IN (answers) or OUT (requests) bulk transfers. */
void emu_damage_in(emu_dev *d, uint32_t n);
void emu_damage_out(emu_dev *d, uint32_t n);
/* Swallows the next n IN transfers (the token sent them; they never arrive). */
void emu_lose_in(emu_dev *d, uint32_t n);
/* Holds the answers to the next n delivered requests back for ms milliseconds each (a slow
 * token, or a commit that takes long). */
void emu_delay_answers(emu_dev *d, uint32_t n, uint32_t ms);
/* In the next answer frame to command cmd (PROTO_CMD_*), flips the low bit of payload byte
 * off and recomputes the CRC. */
void emu_forge_answer(emu_dev *d, uint8_t cmd, uint32_t off);

/* USB traffic so far. */
void emu_get_stats(emu_dev *d, emu_stats *out);

/* Direct access to the host HAL device (flash fault injection, inspection): call emu_lock
 * first and emu_unlock after, since the ioctl thread polls the token concurrently. */
void emu_lock(emu_dev *d);
void emu_unlock(emu_dev *d);
hal_dev *emu_hal(emu_dev *d);

#endif
