/* emu: the emulated USB token (see emu.h): the firmware core on the host HAL behind a
 * umockdev testbed that plays the kernel's usbfs for libusb. */
#include "emu.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <umockdev.h>

#include "../../firmware/hal/host/hal_host.h"
#include "proto.h"
#include "token.h"

#define EMU_MAX_DEVS 8
/* A whole IN transfer fits: the largest frame plus the terminating zero-length packet. */
#define INBUF_CAP (PROTO_MAX_FRAME + 512u)

/* One submitted URB: the client's struct usbdevfs_urb and its buffer, as local copies that
 * umockdev writes back to the client when the URB is reaped. */
typedef struct {
    UMockdevIoctlData *urb;
    UMockdevIoctlData *buf; /* NULL for a zero-length buffer */
} urb_rec;

struct emu {
    UMockdevTestbed *tb;
    char *root;
    emu_dev *devs[EMU_MAX_DEVS];
    size_t ndevs;
    int next_devnum;
};

struct emu_dev {
    emu *e;
    pthread_mutex_t mu;
    emu_dev_config cfg;
    char serial[PROTO_SERIAL_LEN + 1];
    char usb_serial[PROTO_SERIAL_LEN + 1];
    hal_dev *hal;
    token_storage *mem;
    token *tok;
    int port;       /* sysfs name "1-<port>": the hub port, kept across replugs */
    int devnum;     /* USB address: a new one on every plug, as a real bus assigns */
    char *syspath;  /* NULL while unplugged */
    char devnode[64];
    UMockdevIoctlBase *handler;
    GQueue pending_in;  /* IN URBs waiting for an answer */
    GQueue pending_out; /* OUT URBs not taken yet: mute, or an answer is unread */
    GQueue done;        /* URBs to hand back on REAPURB */
    int mute, gone;
    uint32_t cut_after;
    emu_cut cut_how;
    uint32_t damage_in, damage_out, lose_in;
    uint32_t delay_ms, delay_n; /* hold the next delay_n answers back for delay_ms */
    struct timespec hold_until;
    int forge;
    uint8_t forge_cmd;
    uint32_t forge_off;
    struct timespec last;
    emu_stats stats;
    uint8_t inbuf[INBUF_CAP];
};

/* ---- descriptors ---------------------------------------------------------------------------- */

static const char *const STRINGS[] = {NULL, "Reservlon test", "RLTK-1 emulated token"};

static size_t device_descriptor(const emu_dev *d, uint8_t *o)
{
    const uint8_t dd[18] = {
        18, 1, 0x00, 0x02,        /* bLength, DEVICE, bcdUSB 2.00 */
        0, 0, 0, 64,              /* class in the interface; ep0 packet size */
        (uint8_t)d->cfg.vid, (uint8_t)(d->cfg.vid >> 8),
        (uint8_t)d->cfg.pid, (uint8_t)(d->cfg.pid >> 8),
        (uint8_t)(TOKEN_FW_MINOR << 4 | TOKEN_FW_PATCH), TOKEN_FW_MAJOR, /* bcdDevice */
        1, 2, 3, 1,               /* iManufacturer, iProduct, iSerialNumber, 1 configuration */
    };
    memcpy(o, dd, sizeof dd);
    return sizeof dd;
}

/* Configuration 1: one vendor-class interface with bulk OUT 0x01 and bulk IN 0x81. */
static size_t config_descriptor(const emu_dev *d, uint8_t *o)
{
    uint8_t mp0 = (uint8_t)d->cfg.max_packet, mp1 = (uint8_t)(d->cfg.max_packet >> 8);
    const uint8_t cd[32] = {
        9, 2, 32, 0, 1, 1, 0, 0x80, 50,         /* CONFIGURATION, total 32, bus powered */
        9, 4, 0, 0, 2, 0xFF, 0x00, 0x00, 0,     /* INTERFACE 0: vendor, 2 endpoints */
        7, 5, 0x01, 0x02, mp0, mp1, 0,          /* ENDPOINT 1 OUT bulk */
        7, 5, 0x81, 0x02, mp0, mp1, 0,          /* ENDPOINT 1 IN bulk */
    };
    memcpy(o, cd, sizeof cd);
    return sizeof cd;
}

static size_t string_descriptor(const emu_dev *d, unsigned idx, uint8_t *o)
{
    const char *s = idx == 3 ? d->usb_serial : idx < 3 ? STRINGS[idx] : NULL;
    if (idx == 0) {
        const uint8_t langs[4] = {4, 3, 0x09, 0x04}; /* en-US */
        memcpy(o, langs, sizeof langs);
        return sizeof langs;
    }
    if (s == NULL)
        return 0;
    size_t n = strlen(s);
    o[0] = (uint8_t)(2 + 2 * n);
    o[1] = 3;
    for (size_t i = 0; i < n; i++) {
        o[2 + 2 * i] = (uint8_t)s[i];
        o[3 + 2 * i] = 0;
    }
    return 2 + 2 * n;
}

/* ---- URBs ----------------------------------------------------------------------------------- */

static struct usbdevfs_urb *urb_of(const urb_rec *r)
{
    return (struct usbdevfs_urb *)(void *)r->urb->data;
}

static void urb_free(urb_rec *r)
{
    if (r == NULL)
        return;
    if (r->buf != NULL)
        g_object_unref(r->buf);
    g_object_unref(r->urb);
    g_free(r);
}

static void finish(emu_dev *d, urb_rec *r, int status, int actual)
{
    urb_of(r)->status = status;
    urb_of(r)->actual_length = actual;
    g_queue_push_tail(&d->done, r);
}

static void queue_free(GQueue *q)
{
    urb_rec *r;
    while ((r = g_queue_pop_head(q)) != NULL)
        urb_free(r);
}

/* The device is gone: URBs in flight come back with -ESHUTDOWN (libusb: NO_DEVICE). */
static void go_away(emu_dev *d)
{
    urb_rec *r;
    d->gone = 1;
    while ((r = g_queue_pop_head(&d->pending_in)) != NULL)
        finish(d, r, -ESHUTDOWN, 0);
    while ((r = g_queue_pop_head(&d->pending_out)) != NULL)
        finish(d, r, -ESHUTDOWN, 0);
}

static int time_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int deliver(emu_dev *d, urb_rec *r);

/* Hands complete IN transfers (answers) to waiting IN URBs. */
static void complete_in(emu_dev *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (time_before(&now, &d->hold_until))
        return; /* a slow answer */
    for (;;) {
        urb_rec *r = g_queue_peek_head(&d->pending_in);
        if (r == NULL)
            break;
        long n = hal_host_usb_recv(d->hal, d->inbuf, sizeof d->inbuf);
        if (n < 0)
            break; /* no complete transfer yet (-2 cannot happen: inbuf holds any) */
        if (d->lose_in > 0) {
            d->lose_in--;
            continue;
        }
        g_queue_pop_head(&d->pending_in);
        struct usbdevfs_urb *urb = urb_of(r);
        if (n > urb->buffer_length || (n > 0 && r->buf == NULL)) {
            finish(d, r, -EOVERFLOW, 0); /* the host's buffer was too small: babble */
            continue;
        }
        if (d->forge && n >= (long)(PROTO_HDR_SIZE + PROTO_CRC_SIZE) &&
            d->inbuf[PROTO_OFF_CMD] == (uint8_t)(d->forge_cmd | PROTO_RSP_FLAG)) {
            uint32_t plen = proto_load32(d->inbuf + PROTO_OFF_LEN);
            if (d->forge_off < plen && PROTO_HDR_SIZE + plen + PROTO_CRC_SIZE == (uint32_t)n) {
                d->forge = 0;
                d->inbuf[PROTO_HDR_SIZE + d->forge_off] ^= 0x01;
                proto_store32(d->inbuf + PROTO_HDR_SIZE + plen,
                              proto_crc32(0, d->inbuf, PROTO_HDR_SIZE + plen));
            }
        }
        if (d->damage_in > 0 && n > 0) {
            d->damage_in--;
            d->inbuf[n / 2] ^= 0x10;
        }
        if (n > 0)
            memcpy(r->buf->data, d->inbuf, (size_t)n);
        d->stats.in_transfers++;
        d->stats.in_bytes += (uint64_t)n;
        finish(d, r, 0, (int)n);
    }
}

static void poll_token(emu_dev *d)
{
    for (long guard = 0; guard < 10000000 && token_poll(d->tok); guard++) {
    }
    if (hal_host_power_lost(d->hal))
        go_away(d); /* a token without power drops off the bus: the host sees a disconnect */
}

/* Lets the token run: the clock follows real time; waiting requests are delivered while no
 * answer is unread; the core is polled until idle; answers go to waiting IN URBs. */
static void service(emu_dev *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - d->last.tv_sec) * 1000000000 +
                 (now.tv_nsec - d->last.tv_nsec);
    if (ns >= 1000000) {
        int64_t ms = ns / 1000000;
        hal_host_clock_advance(d->hal, (uint32_t)ms);
        ns = (int64_t)d->last.tv_nsec + ms * 1000000;
        d->last.tv_sec += (time_t)(ns / 1000000000);
        d->last.tv_nsec = (long)(ns % 1000000000);
    }
    if (d->gone)
        return;
    poll_token(d);
    while (!d->gone && !d->mute) {
        complete_in(d);
        if (d->gone || hal_host_usb_in_queued(d->hal) > 0 || g_queue_is_empty(&d->pending_out))
            break;
        if (deliver(d, g_queue_pop_head(&d->pending_out)) != 0)
            break;
        if (!d->gone)
            poll_token(d);
    }
}

/* ep0: GET_DESCRIPTOR (device, configuration, strings); anything else stalls. */
static void control(emu_dev *d, urb_rec *r)
{
    struct usbdevfs_urb *urb = urb_of(r);
    uint8_t desc[256];
    size_t n = 0;
    int ok = 0;
    if (r->buf == NULL || urb->buffer_length < 8) {
        finish(d, r, -EPIPE, 0);
        return;
    }
    const uint8_t *s = r->buf->data;
    unsigned type = s[3], idx = s[2];
    size_t wlength = (size_t)s[6] | (size_t)s[7] << 8;
    if (s[0] == 0x80 && s[1] == 6) {
        if (type == 1) {
            n = device_descriptor(d, desc);
            ok = 1;
        } else if (type == 2 && idx == 0) {
            n = config_descriptor(d, desc);
            ok = 1;
        } else if (type == 3) {
            n = string_descriptor(d, idx, desc);
            ok = n > 0;
        }
    }
    if (!ok) {
        finish(d, r, -EPIPE, 0);
        return;
    }
    if (n > wlength)
        n = wlength;
    if (n > (size_t)urb->buffer_length - 8)
        n = (size_t)urb->buffer_length - 8;
    memcpy(r->buf->data + 8, desc, n);
    finish(d, r, 0, (int)n);
}

/* Bulk OUT: the transfer as wMaxPacketSize packets (and a ZLP when asked) to the token.
 * Returns 0, or -1 if the token has no power (it is then gone). */
static int deliver(emu_dev *d, urb_rec *r)
{
    struct usbdevfs_urb *urb = urb_of(r);
    size_t len = (size_t)urb->buffer_length, mp = d->cfg.max_packet;
    /* A copy: damage must not reach the host's own buffer (written back on reap), which it
     * sends again on a retry. */
    uint8_t *data = g_malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(data, r->buf->data, len);
    if (d->damage_out > 0 && len > 0) {
        d->damage_out--;
        data[len / 2] ^= 0x04;
    }
    int ok = 1;
    for (size_t off = 0; ok && off < len; off += mp)
        ok = hal_host_usb_send_packet(d->hal, data + off, len - off < mp ? len - off : mp) == 0;
    if (ok && (len == 0 || (len % mp == 0 && (urb->flags & USBDEVFS_URB_ZERO_PACKET))))
        ok = hal_host_usb_send_packet(d->hal, NULL, 0) == 0;
    g_free(data);
    if (!ok) {
        /* The token lost power (a flash fault cut it): it is off the bus. */
        g_queue_push_tail(&d->pending_out, r);
        go_away(d);
        return -1;
    }
    d->stats.out_transfers++;
    d->stats.out_bytes += len;
    finish(d, r, 0, (int)len);
    if (d->delay_n > 0) {
        d->delay_n--;
        clock_gettime(CLOCK_MONOTONIC, &d->hold_until);
        int64_t ns = (int64_t)d->hold_until.tv_nsec + (int64_t)d->delay_ms * 1000000;
        d->hold_until.tv_sec += (time_t)(ns / 1000000000);
        d->hold_until.tv_nsec = (long)(ns % 1000000000);
    }
    if (d->cut_after > 0 && --d->cut_after == 0) {
        if (d->cut_how == EMU_CUT_UNPLUG) {
            for (long guard = 0; guard < 10000000 && token_poll(d->tok); guard++) {
            } /* the token still executes what it got */
            go_away(d);
            return -1;
        }
        d->mute = 1;
    }
    return 0;
}

static void submit(emu_dev *d, UMockdevIoctlData *arg, long *ret, int *err)
{
    UMockdevIoctlData *u = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (u == NULL) {
        *ret = -1;
        *err = EFAULT;
        return;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)(void *)u->data;
    urb_rec *r = g_new0(urb_rec, 1);
    r->urb = u;
    if (urb->buffer_length > 0)
        r->buf = umockdev_ioctl_data_resolve(u, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                             (gsize)urb->buffer_length, NULL);
    if (d->gone || urb->buffer_length < 0 || (urb->buffer_length > 0 && r->buf == NULL)) {
        *ret = -1;
        *err = d->gone ? ENODEV : EINVAL;
        urb_free(r);
        return;
    }
    urb->status = 0;
    urb->actual_length = 0;
    if (urb->type == USBDEVFS_URB_TYPE_CONTROL && urb->endpoint == 0) {
        control(d, r);
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == 0x81) {
        g_queue_push_tail(&d->pending_in, r);
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == 0x01) {
        /* Delivered by service() when the device takes it: not while mute, nor while an
         * answer is unread (the core reads no request then, so a real token NAKs). */
        g_queue_push_tail(&d->pending_out, r);
    } else {
        *ret = -1;
        *err = EINVAL;
        urb_free(r);
    }
}

static gint same_client_addr(gconstpointer rec, gconstpointer addr)
{
    return ((const urb_rec *)rec)->urb->client_addr == (gulong)addr ? 0 : 1;
}

/* DISCARDURB (libusb's timeout): the URB comes back with -ENOENT. */
static void discard(emu_dev *d, UMockdevIoctlData *arg, long *ret, int *err)
{
    void *addr = NULL;
    GQueue *qs[2] = {&d->pending_in, &d->pending_out};
    memcpy(&addr, arg->data, sizeof addr);
    for (int i = 0; i < 2; i++) {
        GList *l = g_queue_find_custom(qs[i], addr, same_client_addr);
        if (l != NULL) {
            urb_rec *r = l->data;
            g_queue_delete_link(qs[i], l);
            finish(d, r, -ENOENT, 0);
            return;
        }
    }
    *ret = -1;
    *err = EINVAL;
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
    emu_dev *d = user;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *keep = NULL; /* released only after the ioctl is completed */
    urb_rec *reaped = NULL;
    long ret = 0;
    int err = 0;
    (void)base;
    pthread_mutex_lock(&d->mu);
    service(d);
    switch (req) {
    case USBDEVFS_GET_CAPABILITIES: {
        /* Bulk transfers of any length in one URB (no 16 KiB splitting) and ZLP on request. */
        uint32_t caps = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                        USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_BULK_SCATTER_GATHER |
                        USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
        keep = umockdev_ioctl_data_resolve(arg, 0, sizeof caps, NULL);
        if (keep != NULL)
            memcpy(keep->data, &caps, sizeof caps);
        else
            ret = -1, err = EFAULT;
        break;
    }
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
        if (d->gone)
            ret = -1, err = ENODEV;
        break;
    case USBDEVFS_RELEASEINTERFACE:
        /* The client is done: URBs it left behind must not take later answers. */
        queue_free(&d->pending_in);
        queue_free(&d->pending_out);
        break;
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_RESET:
        /* The token's resynchronisation: drop half frames, queued answers, the session. */
        if (d->gone)
            ret = -1, err = ENODEV;
        else
            hal_host_usb_reset(d->hal);
        break;
    case USBDEVFS_GETDRIVER:
        ret = -1, err = ENODATA; /* no kernel driver bound */
        break;
    case USBDEVFS_SUBMITURB:
        submit(d, arg, &ret, &err);
        service(d);
        break;
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY:
        reaped = g_queue_pop_head(&d->done);
        if (reaped == NULL) {
            ret = -1, err = d->gone ? ENODEV : EAGAIN;
            break;
        }
        keep = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
        if (keep == NULL || !umockdev_ioctl_data_set_ptr(keep, 0, reaped->urb)) {
            g_queue_push_head(&d->done, reaped);
            reaped = NULL;
            ret = -1, err = EFAULT;
        }
        break;
    case USBDEVFS_DISCARDURB:
        discard(d, arg, &ret, &err);
        break;
    default:
        ret = -1, err = ENOTTY;
        break;
    }
    pthread_mutex_unlock(&d->mu);
    umockdev_ioctl_client_complete(client, ret, err);
    if (keep != NULL)
        g_object_unref(keep);
    urb_free(reaped);
    return TRUE;
}

/* ---- testbed -------------------------------------------------------------------------------- */

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* Makes the device visible: sysfs entry with descriptors, device node, ioctl handler. */
static int plug(emu_dev *d)
{
    emu *e = d->e;
    char name[16], devnum[16], devnum_prop[16], speed[16], vid[16], pid[16], serial[32];
    char node[1024];
    uint8_t desc[64];
    GError *ge = NULL;
    d->devnum = e->next_devnum++;
    snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/001/%03d", d->devnum);
    snprintf(name, sizeof name, "1-%d", d->port);
    snprintf(devnum, sizeof devnum, "%d\n", d->devnum);
    snprintf(devnum_prop, sizeof devnum_prop, "%03d", d->devnum);
    snprintf(speed, sizeof speed, "%s\n", d->cfg.max_packet >= 512 ? "480" : "12");
    snprintf(vid, sizeof vid, "%04x\n", d->cfg.vid);
    snprintf(pid, sizeof pid, "%04x\n", d->cfg.pid);
    snprintf(serial, sizeof serial, "%s\n", d->usb_serial);
    d->syspath = umockdev_testbed_add_device(
        e->tb, "usb", name, NULL, "busnum", "1\n", "devnum", devnum, "speed", speed,
        "bConfigurationValue", "1\n", "idVendor", vid, "idProduct", pid, "serial", serial,
        "manufacturer", "Reservlon test\n", "product", "RLTK-1 emulated token\n", NULL,
        "DEVTYPE", "usb_device", "DEVNAME", d->devnode, "BUSNUM", "001", "DEVNUM", devnum_prop,
        NULL);
    if (d->syspath == NULL) {
        fprintf(stderr, "emu: umockdev_testbed_add_device failed\n");
        return -1;
    }
    /* sysfs "descriptors": the device descriptor, then each whole configuration. */
    size_t n = device_descriptor(d, desc);
    n += config_descriptor(d, desc + n);
    umockdev_testbed_set_attribute_binary(e->tb, d->syspath, "descriptors", desc, (gint)n);
    /* umockdev does not create the node; libusb_open needs it. */
    snprintf(node, sizeof node, "%s%s", e->root, d->devnode);
    if (mkdirs(node) != 0) {
        fprintf(stderr, "emu: mkdir for %s: %s\n", node, strerror(errno));
        return -1;
    }
    FILE *f = fopen(node, "w");
    if (f == NULL) {
        fprintf(stderr, "emu: create %s: %s\n", node, strerror(errno));
        return -1;
    }
    fclose(f);
    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(on_ioctl), d);
    if (!umockdev_testbed_attach_ioctl(e->tb, d->devnode, d->handler, &ge)) {
        fprintf(stderr, "emu: attach_ioctl %s: %s\n", d->devnode, ge ? ge->message : "?");
        g_clear_error(&ge);
        return -1;
    }
    return 0;
}

/* Removes the sysfs entry (a rescan no longer finds the device). */
static void remove_sysfs(emu_dev *d)
{
    if (d->syspath != NULL) {
        umockdev_testbed_remove_device(d->e->tb, d->syspath);
        g_free(d->syspath);
        d->syspath = NULL;
    }
}

/* Detaches the handler; the device must already be gone for libusb. */
static void detach(emu_dev *d)
{
    if (d->handler != NULL) {
        umockdev_testbed_detach_ioctl(d->e->tb, d->devnode, NULL);
        g_object_unref(d->handler);
        d->handler = NULL;
    }
}

emu *emu_new(void)
{
    emu *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->tb = umockdev_testbed_new();
    if (e->tb == NULL || !umockdev_in_mock_environment()) {
        fprintf(stderr, "emu: not in a umockdev environment: run under umockdev-wrapper\n");
        emu_free(e);
        return NULL;
    }
    e->root = umockdev_testbed_get_root_dir(e->tb);
    e->next_devnum = 2; /* 1 is the root hub on a real bus */
    return e;
}

void emu_dev_config_default(emu_dev_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->vid = 0x1209;
    cfg->pid = 0x0001;
    cfg->serial = "RLTEST0001";
    cfg->max_packet = 64;
    cfg->block_count = 64;
    cfg->page_size = 256;
}

static void dev_free(emu_dev *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->gone = 1;
    pthread_mutex_unlock(&d->mu);
    detach(d);
    remove_sysfs(d);
    queue_free(&d->pending_in);
    queue_free(&d->pending_out);
    queue_free(&d->done);
    token_close(d->tok);
    hal_host_destroy(d->hal);
    free(d->mem);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

emu_dev *emu_add(emu *e, const emu_dev_config *cfg_in)
{
    emu_dev_config def;
    hal_host_config hc;
    if (cfg_in == NULL) {
        emu_dev_config_default(&def);
        cfg_in = &def;
    }
    if (e->ndevs == EMU_MAX_DEVS || cfg_in->serial == NULL ||
        strlen(cfg_in->serial) > PROTO_SERIAL_LEN ||
        (cfg_in->usb_serial != NULL && strlen(cfg_in->usb_serial) > PROTO_SERIAL_LEN))
        return NULL;
    emu_dev *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->e = e;
    d->cfg = *cfg_in;
    snprintf(d->serial, sizeof d->serial, "%s", cfg_in->serial);
    snprintf(d->usb_serial, sizeof d->usb_serial, "%s",
             cfg_in->usb_serial != NULL ? cfg_in->usb_serial : cfg_in->serial);
    d->cfg.serial = d->serial;
    d->cfg.usb_serial = d->usb_serial;
    pthread_mutex_init(&d->mu, NULL);
    g_queue_init(&d->pending_in);
    g_queue_init(&d->pending_out);
    g_queue_init(&d->done);
    clock_gettime(CLOCK_MONOTONIC, &d->last);
    hal_host_config_default(&hc);
    hc.serial = d->serial;
    hc.max_packet = d->cfg.max_packet;
    hc.block_count = d->cfg.block_count;
    hc.page_size = d->cfg.page_size;
    d->hal = hal_host_create(&hc);
    d->mem = calloc(1, sizeof *d->mem);
    if (d->hal == NULL || d->mem == NULL) {
        dev_free(d);
        return NULL;
    }
    d->tok = token_open(d->mem, d->hal);
    d->port = (int)e->ndevs + 1;
    e->devs[e->ndevs++] = d;
    if (plug(d) != 0)
        return NULL; /* freed with the testbed */
    return d;
}

void emu_free(emu *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->ndevs; i++)
        dev_free(e->devs[i]);
    g_free(e->root);
    if (e->tb != NULL)
        g_object_unref(e->tb);
    free(e);
}

void emu_unplug(emu_dev *d)
{
    pthread_mutex_lock(&d->mu);
    go_away(d);
    pthread_mutex_unlock(&d->mu);
    remove_sysfs(d);
}

void emu_replug(emu_dev *d)
{
    pthread_mutex_lock(&d->mu);
    go_away(d);
    pthread_mutex_unlock(&d->mu);
    detach(d);
    remove_sysfs(d);
    pthread_mutex_lock(&d->mu);
    queue_free(&d->pending_in);
    queue_free(&d->pending_out);
    queue_free(&d->done);
    token_close(d->tok);
    hal_host_power_cycle(d->hal);
    d->tok = token_open(d->mem, d->hal);
    d->gone = d->mute = 0;
    d->cut_after = d->damage_in = d->damage_out = d->lose_in = 0;
    d->forge = 0;
    d->delay_n = 0;
    pthread_mutex_unlock(&d->mu);
    if (plug(d) != 0)
        fprintf(stderr, "emu: replug of %s failed\n", d->serial);
}

void emu_set_mute(emu_dev *d, int on)
{
    pthread_mutex_lock(&d->mu);
    d->mute = on != 0;
    pthread_mutex_unlock(&d->mu);
}

void emu_cut_after_out(emu_dev *d, uint32_t n, emu_cut how)
{
    pthread_mutex_lock(&d->mu);
    d->cut_after = n;
    d->cut_how = how;
    pthread_mutex_unlock(&d->mu);
}

void emu_damage_in(emu_dev *d, uint32_t n)
{
    pthread_mutex_lock(&d->mu);
    d->damage_in = n;
    pthread_mutex_unlock(&d->mu);
}

void emu_damage_out(emu_dev *d, uint32_t n)
{
    pthread_mutex_lock(&d->mu);
    d->damage_out = n;
    pthread_mutex_unlock(&d->mu);
}

void emu_lose_in(emu_dev *d, uint32_t n)
{
    pthread_mutex_lock(&d->mu);
    d->lose_in = n;
    pthread_mutex_unlock(&d->mu);
}

void emu_delay_answers(emu_dev *d, uint32_t n, uint32_t ms)
{
    pthread_mutex_lock(&d->mu);
    d->delay_n = n;
    d->delay_ms = ms;
    pthread_mutex_unlock(&d->mu);
}

void emu_forge_answer(emu_dev *d, uint8_t cmd, uint32_t off)
{
    pthread_mutex_lock(&d->mu);
    d->forge = 1;
    d->forge_cmd = cmd;
    d->forge_off = off;
    pthread_mutex_unlock(&d->mu);
}

void emu_get_stats(emu_dev *d, emu_stats *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
}

void emu_lock(emu_dev *d)
{
    pthread_mutex_lock(&d->mu);
}

void emu_unlock(emu_dev *d)
{
    pthread_mutex_unlock(&d->mu);
}

hal_dev *emu_hal(emu_dev *d)
{
    return d->hal;
}
