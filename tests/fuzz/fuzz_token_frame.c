/* libFuzzer target: the token firmware's USB protocol (framing, sessions, every command)
 * through the host HAL. Each input is a sequence of transfers: [u16 length][bytes]...; each
 * is sent to the token, which is then polled until idle and its answers drained. A fresh
 * token per input keeps runs reproducible. The core must never crash, never write flash
 * outside the rules (counted by the fake), and always answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../firmware/hal/host/hal_host.h"
#include "proto.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static token_storage mem;
    hal_dev *dev = hal_host_create(NULL);
    if (dev == NULL)
        return 0;
    token *t = token_open(&mem, dev);
    if (t == NULL) {
        hal_host_destroy(dev);
        return 0;
    }
    static uint8_t out[PROTO_MAX_FRAME + 64];
    size_t pos = 0;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        hal_host_usb_send(dev, data + pos, len);
        pos += len;
        for (int i = 0; i < 1000 && token_poll(t) != 0; i++) {
        }
        while (hal_host_usb_recv(dev, out, sizeof out) > 0) {
        }
    }
    if (hal_host_flash_violations(dev) != 0)
        __builtin_trap();
    token_close(t);
    hal_host_destroy(dev);
    return 0;
}
