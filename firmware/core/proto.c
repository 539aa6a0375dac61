/* proto.c: CRC-32 and request-frame building, shared by the firmware and its host tools. */
#include "proto.h"

#include "util.h"

/* Half-byte table: 64 bytes of ROM instead of 1 KiB, two lookups per byte; fast enough for a
 * USB full/high-speed link on a Cortex-M. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t proto_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xFu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xFu];
    }
    return ~crc;
}

size_t proto_frame_build(uint8_t *out, size_t cap, uint8_t cmd, uint16_t status, uint32_t seq,
                         const uint8_t *payload, uint32_t len)
{
    if (len > PROTO_MAX_PAYLOAD || cap < (size_t)PROTO_HDR_SIZE + len + PROTO_CRC_SIZE)
        return 0;
    out[0] = PROTO_MAGIC0;
    out[1] = PROTO_MAGIC1;
    out[2] = PROTO_MAGIC2;
    out[3] = PROTO_MAGIC3;
    out[PROTO_OFF_VERSION] = PROTO_VERSION;
    out[PROTO_OFF_CMD] = cmd;
    proto_store16(out + PROTO_OFF_STATUS, status);
    proto_store32(out + PROTO_OFF_SEQ, seq);
    proto_store32(out + PROTO_OFF_LEN, len);
    if (len && payload != out + PROTO_HDR_SIZE)
        tk_memcpy(out + PROTO_HDR_SIZE, payload, len);
    uint32_t crc = proto_crc32(0, out, PROTO_HDR_SIZE + (size_t)len);
    proto_store32(out + PROTO_HDR_SIZE + len, crc);
    return PROTO_HDR_SIZE + (size_t)len + PROTO_CRC_SIZE;
}
