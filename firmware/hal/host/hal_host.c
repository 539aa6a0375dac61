/* hal_host.c: hal.h on a PC (see hal_host.h): NOR-like RAM flash with fault injection,
 * queue-backed bulk endpoints, a manual clock, a seeded random source and libsodium crypto.
 * Test and simulator code only: a production firmware build never links this file. */
#include "hal_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(hal_blake2b_state),
               "hal_blake2b_state too small for libsodium's state");
_Static_assert(_Alignof(crypto_generichash_state) <= _Alignof(hal_blake2b_state),
               "hal_blake2b_state under-aligned for libsodium's state");

#define MAX_PACKET_CAP 512u

typedef struct {
    uint32_t len;
    uint8_t data[MAX_PACKET_CAP];
} packet;

typedef struct {
    packet *v;
    size_t head, count, cap;
} pqueue;

struct hal_dev {
    hal_host_config cfg;
    char serial[16];
    uint8_t *flash;
    uint8_t *programmed; /* per page: 1 if programmed (or torn) since its last erase */
    size_t flash_len, npages;
    uint64_t ops, violations;
    uint64_t fault_at;
    hal_host_fault fault_kind;
    int power_lost;
    pqueue out_q, in_q; /* out: host -> device; in: device -> host */
    uint32_t in_busy;
    int reset_pending;
    uint32_t clock_ms;
    uint64_t rng;
    hal_led led;
};

/* ---- queues ---------------------------------------------------------------------------------- */

static int q_push(pqueue *q, const uint8_t *data, uint32_t len)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 64;
        packet *nv = malloc(ncap * sizeof *nv);
        if (!nv)
            return -1;
        for (size_t i = 0; i < q->count; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->cap = ncap;
        q->head = 0;
    }
    packet *p = &q->v[(q->head + q->count) % q->cap];
    p->len = len;
    if (len)
        memcpy(p->data, data, len);
    q->count++;
    return 0;
}

static const packet *q_peek(const pqueue *q, size_t i)
{
    return i < q->count ? &q->v[(q->head + i) % q->cap] : NULL;
}

static void q_pop(pqueue *q)
{
    if (q->count) {
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}

static void q_clear(pqueue *q)
{
    q->head = q->count = 0;
}

/* ---- lifetime -------------------------------------------------------------------------------- */

void hal_host_config_default(hal_host_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->page_size = 256;
    cfg->block_size = 4096;
    cfg->block_count = 64;
    cfg->max_packet = 64;
    cfg->serial = "RLTEST0001";
    cfg->random_seed = 1;
    cfg->program_once = 1;
}

hal_dev *hal_host_create(const hal_host_config *cfg)
{
    hal_host_config def;
    if (!cfg) {
        hal_host_config_default(&def);
        cfg = &def;
    }
    if (sodium_init() < 0)
        return NULL;
    if (cfg->page_size == 0 || cfg->block_size % cfg->page_size != 0 || cfg->block_count == 0 ||
        cfg->max_packet == 0 || cfg->max_packet > MAX_PACKET_CAP ||
        (uint64_t)cfg->block_size * cfg->block_count > 0xFFFFFFFFull ||
        (cfg->serial && strlen(cfg->serial) > 16))
        return NULL;
    hal_dev *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = *cfg;
    d->cfg.serial = NULL;
    if (cfg->serial)
        memcpy(d->serial, cfg->serial, strlen(cfg->serial));
    d->flash_len = (size_t)cfg->block_size * cfg->block_count;
    d->npages = d->flash_len / cfg->page_size;
    d->flash = malloc(d->flash_len);
    d->programmed = calloc(d->npages, 1);
    if (!d->flash || !d->programmed) {
        hal_host_destroy(d);
        return NULL;
    }
    memset(d->flash, 0xFF, d->flash_len);
    d->rng = cfg->random_seed ? cfg->random_seed : 1;
    return d;
}

void hal_host_destroy(hal_dev *dev)
{
    if (!dev)
        return;
    free(dev->flash);
    free(dev->programmed);
    free(dev->out_q.v);
    free(dev->in_q.v);
    free(dev);
}

/* ---- flash ----------------------------------------------------------------------------------- */

void hal_flash_geometry_get(hal_dev *dev, hal_flash_geometry *geo)
{
    geo->page_size = dev->cfg.page_size;
    geo->block_size = dev->cfg.block_size;
    geo->block_count = dev->cfg.block_count;
}

int hal_flash_read(hal_dev *dev, uint32_t addr, void *buf, uint32_t len)
{
    if (dev->power_lost)
        return HAL_EPOWER;
    if ((uint64_t)addr + len > dev->flash_len)
        return HAL_EINVAL;
    memcpy(buf, dev->flash + addr, len);
    return HAL_OK;
}

/* Returns the armed fault for the operation about to happen (and counts it). */
static hal_host_fault next_op(hal_dev *dev)
{
    hal_host_fault f = HAL_HOST_FAULT_NONE;
    if (dev->fault_kind != HAL_HOST_FAULT_NONE && dev->ops == dev->fault_at) {
        f = dev->fault_kind;
        dev->fault_kind = HAL_HOST_FAULT_NONE;
    }
    dev->ops++;
    return f;
}

static int fault_result(hal_dev *dev, hal_host_fault f)
{
    if (f == HAL_HOST_FAULT_CUT || f == HAL_HOST_FAULT_CUT_AFTER) {
        dev->power_lost = 1;
        return HAL_EPOWER;
    }
    return HAL_EIO;
}

int hal_flash_program(hal_dev *dev, uint32_t addr, const void *data, uint32_t len)
{
    uint32_t ps = dev->cfg.page_size;
    const uint8_t *src = data;
    if (dev->power_lost)
        return HAL_EPOWER;
    if (addr % ps || len % ps || (uint64_t)addr + len > dev->flash_len) {
        dev->violations++;
        return HAL_EINVAL;
    }
    /* Check every page first: misuse writes nothing. */
    for (uint32_t off = 0; off < len; off += ps) {
        size_t page = (addr + off) / ps;
        if (dev->cfg.program_once && dev->programmed[page]) {
            dev->violations++;
            return HAL_EINVAL;
        }
        for (uint32_t i = 0; i < ps; i++) {
            if ((uint8_t)(~dev->flash[addr + off + i] & src[off + i])) {
                dev->violations++; /* would need a 0 -> 1 transition */
                return HAL_EINVAL;
            }
        }
    }
    for (uint32_t off = 0; off < len; off += ps) {
        size_t page = (addr + off) / ps;
        hal_host_fault f = next_op(dev);
        uint32_t n = (f == HAL_HOST_FAULT_NONE || f == HAL_HOST_FAULT_CUT_AFTER) ? ps : ps / 2;
        for (uint32_t i = 0; i < n; i++)
            dev->flash[addr + off + i] &= src[off + i];
        dev->programmed[page] = 1;
        if (f != HAL_HOST_FAULT_NONE)
            return fault_result(dev, f);
    }
    return HAL_OK;
}

int hal_flash_erase(hal_dev *dev, uint32_t block)
{
    uint32_t bs = dev->cfg.block_size, ps = dev->cfg.page_size;
    if (dev->power_lost)
        return HAL_EPOWER;
    if (block >= dev->cfg.block_count) {
        dev->violations++;
        return HAL_EINVAL;
    }
    hal_host_fault f = next_op(dev);
    size_t base = (size_t)block * bs;
    if (f == HAL_HOST_FAULT_NONE || f == HAL_HOST_FAULT_CUT_AFTER) {
        memset(dev->flash + base, 0xFF, bs);
        memset(dev->programmed + base / ps, 0, bs / ps);
        return f == HAL_HOST_FAULT_NONE ? HAL_OK : fault_result(dev, f);
    }
    memset(dev->flash + base, 0xFF, bs / 2);
    memset(dev->programmed + base / ps, 1, bs / ps);
    return fault_result(dev, f);
}

void hal_host_flash_fault(hal_dev *dev, uint64_t n, hal_host_fault kind)
{
    dev->fault_at = dev->ops + n;
    dev->fault_kind = kind;
}

uint64_t hal_host_flash_ops(const hal_dev *dev)
{
    return dev->ops;
}

uint64_t hal_host_flash_violations(const hal_dev *dev)
{
    return dev->violations;
}

int hal_host_power_lost(const hal_dev *dev)
{
    return dev->power_lost;
}

void hal_host_power_cycle(hal_dev *dev)
{
    dev->power_lost = 0;
    dev->fault_kind = HAL_HOST_FAULT_NONE;
    q_clear(&dev->out_q);
    q_clear(&dev->in_q);
    dev->in_busy = 0;
    dev->reset_pending = 0;
}

int hal_host_flash_copy(hal_dev *dst, const hal_dev *src)
{
    if (dst->flash_len != src->flash_len || dst->cfg.page_size != src->cfg.page_size)
        return -1;
    memcpy(dst->flash, src->flash, src->flash_len);
    memcpy(dst->programmed, src->programmed, src->npages);
    return 0;
}

uint8_t *hal_host_flash_bytes(hal_dev *dev, size_t *len)
{
    if (len)
        *len = dev->flash_len;
    return dev->flash;
}

int hal_host_flash_save(const hal_dev *dev, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(dev->flash, 1, dev->flash_len, f);
    int rc = fclose(f);
    if (n != dev->flash_len || rc != 0) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}

int hal_host_flash_load(hal_dev *dev, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(dev->flash, 1, dev->flash_len, f);
    int extra = fgetc(f);
    fclose(f);
    if (n != dev->flash_len || extra != EOF) {
        errno = EINVAL;
        return -1;
    }
    uint32_t ps = dev->cfg.page_size;
    for (size_t p = 0; p < dev->npages; p++) {
        const uint8_t *pg = dev->flash + p * ps;
        dev->programmed[p] = 0;
        for (uint32_t i = 0; i < ps; i++)
            if (pg[i] != 0xFF)
                dev->programmed[p] = 1;
    }
    return 0;
}

/* ---- USB ------------------------------------------------------------------------------------ */

uint32_t hal_usb_max_packet(hal_dev *dev)
{
    return dev->cfg.max_packet;
}

int hal_usb_read_packet(hal_dev *dev, uint8_t *buf, uint32_t cap)
{
    const packet *p = q_peek(&dev->out_q, 0);
    if (dev->power_lost || !p)
        return HAL_EAGAIN;
    if (p->len > cap)
        return HAL_EINVAL; /* core bug: buffer smaller than max_packet */
    memcpy(buf, p->data, p->len);
    int n = (int)p->len;
    q_pop(&dev->out_q);
    return n;
}

int hal_usb_write_packet(hal_dev *dev, const uint8_t *buf, uint32_t len)
{
    if (dev->power_lost)
        return HAL_EPOWER;
    if (len > dev->cfg.max_packet)
        return HAL_EINVAL;
    if (dev->in_busy) {
        dev->in_busy--;
        return HAL_EAGAIN;
    }
    return q_push(&dev->in_q, buf, len) == 0 ? HAL_OK : HAL_EAGAIN;
}

int hal_usb_take_reset(hal_dev *dev)
{
    int r = dev->reset_pending;
    dev->reset_pending = 0;
    return r;
}

int hal_host_usb_send(hal_dev *dev, const uint8_t *data, size_t len)
{
    uint32_t mp = dev->cfg.max_packet;
    if (dev->power_lost)
        return -1;
    size_t off = 0;
    while (off < len) {
        uint32_t n = (uint32_t)(len - off < mp ? len - off : mp);
        if (q_push(&dev->out_q, data + off, n) != 0)
            return -1;
        off += n;
    }
    if (len % mp == 0 && q_push(&dev->out_q, NULL, 0) != 0)
        return -1;
    return 0;
}

int hal_host_usb_send_packet(hal_dev *dev, const uint8_t *data, size_t len)
{
    if (dev->power_lost || len > dev->cfg.max_packet)
        return -1;
    return q_push(&dev->out_q, data, (uint32_t)len);
}

long hal_host_usb_recv(hal_dev *dev, uint8_t *buf, size_t cap)
{
    size_t total = 0, npk = 0;
    const packet *p;
    int complete = 0;
    while ((p = q_peek(&dev->in_q, npk)) != NULL) {
        total += p->len;
        npk++;
        if (p->len < dev->cfg.max_packet) {
            complete = 1;
            break;
        }
    }
    if (!complete)
        return -1;
    if (total > cap) {
        while (npk--)
            q_pop(&dev->in_q);
        return -2;
    }
    size_t off = 0;
    while (npk--) {
        p = q_peek(&dev->in_q, 0);
        memcpy(buf + off, p->data, p->len);
        off += p->len;
        q_pop(&dev->in_q);
    }
    return (long)total;
}

size_t hal_host_usb_in_queued(const hal_dev *dev)
{
    return dev->in_q.count;
}

void hal_host_usb_in_busy(hal_dev *dev, uint32_t n)
{
    dev->in_busy = n;
}

void hal_host_usb_reset(hal_dev *dev)
{
    q_clear(&dev->out_q);
    q_clear(&dev->in_q);
    dev->reset_pending = 1;
}

/* ---- identity, clock, random, LED ---------------------------------------------------------- */

void hal_device_serial(hal_dev *dev, char serial[16])
{
    memcpy(serial, dev->serial, 16);
}

uint32_t hal_clock_ms(hal_dev *dev)
{
    return dev->clock_ms;
}

void hal_host_clock_advance(hal_dev *dev, uint32_t ms)
{
    dev->clock_ms += ms;
}

void hal_random(hal_dev *dev, void *buf, uint32_t len)
{
    /* xorshift64*: reproducible, NOT random. The host HAL is for tests and the simulator. */
    uint8_t *b = buf;
    for (uint32_t i = 0; i < len; i++) {
        dev->rng ^= dev->rng >> 12;
        dev->rng ^= dev->rng << 25;
        dev->rng ^= dev->rng >> 27;
        b[i] = (uint8_t)((dev->rng * 0x2545F4914F6CDD1Dull) >> 56);
    }
}

void hal_led_set(hal_dev *dev, hal_led state)
{
    dev->led = state;
}

hal_led hal_host_led(const hal_dev *dev)
{
    return dev->led;
}

/* ---- crypto seam (libsodium) --------------------------------------------------------------- */

secbool hal_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t pk[32])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? sectrue : secfalse;
}

int hal_blake2b_init(hal_blake2b_state *st, size_t outlen)
{
    if (outlen < 1 || outlen > crypto_generichash_BYTES_MAX)
        return HAL_EINVAL;
    return crypto_generichash_init((crypto_generichash_state *)(void *)st, NULL, 0, outlen) == 0
               ? HAL_OK
               : HAL_EINVAL;
}

void hal_blake2b_update(hal_blake2b_state *st, const uint8_t *in, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)(void *)st, in, len);
}

void hal_blake2b_final(hal_blake2b_state *st, uint8_t *out, size_t outlen)
{
    crypto_generichash_final((crypto_generichash_state *)(void *)st, out, outlen);
    sodium_memzero(st, sizeof *st);
}
