/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the delta decoder (patches come from the network). Input: a
 * u32 base length, the base, then a patch whose header gets that base size
 * and a good CRC (so mutations reach the blocks). Whatever the patch says,
 * the decoder must never read outside the base or write past its target,
 * in any chunking; what it accepts, it accepts whole. */
#include <string.h>

#include "otto/crypto.h"
#include "otto/delta.h"
#include "otto/err.h"

typedef struct {
    const uint8_t *base;
    uint32_t base_len;
    uint32_t written, cap;
} io_t;

static int rd(void *ctx, uint32_t off, void *buf, size_t len)
{
    io_t *io = ctx;
    if ((uint64_t)off + len > io->base_len)
        __builtin_trap(); /* outside the base */
    memcpy(buf, io->base + off, len);
    return OTTO_OK;
}

static int wr(void *ctx, const void *data, size_t len)
{
    io_t *io = ctx;
    (void)data;
    io->written += (uint32_t)len;
    if (io->written > io->cap)
        __builtin_trap(); /* past the target */
    return OTTO_OK;
}

static otto_delta_t d;
static uint8_t patch[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 4)
        return 0;
    uint32_t bl = data[0] | data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    if (bl > len - 4)
        bl = (uint32_t)(len - 4);
    io_t io = {data + 4, bl, 0, 0};
    size_t pl = len - 4 - bl;
    if (pl > sizeof patch)
        pl = sizeof patch;
    memcpy(patch, data + 4 + bl, pl);
    if (pl >= OTTO_DELTA_HEADER_LEN) {
        patch[12] = (uint8_t)bl, patch[13] = (uint8_t)(bl >> 8), patch[14] = (uint8_t)(bl >> 16), patch[15] = 0;
        uint32_t crc = otto_crc32_le(0, patch, 88);
        memcpy(patch + 88, &crc, 4); /* little-endian hosts only: the fuzz build */
        io.cap = patch[16] | patch[17] << 8 | (uint32_t)patch[18] << 16 | (uint32_t)patch[19] << 24;
    }
    otto_delta_begin(&d, rd, wr, &io);
    int err = OTTO_OK;
    for (size_t off = 0, step = 1; off < pl && !err; off += step, step = step * 3 % 1021 + 1)
        err = otto_delta_feed(&d, patch + off, step < pl - off ? step : pl - off);
    if (!err && otto_delta_finish(&d) == OTTO_OK && io.written != io.cap)
        __builtin_trap(); /* "done" must mean the whole target */
    return 0;
}
