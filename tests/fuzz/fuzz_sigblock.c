/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: Secure Boot v2 signature sectors (what an upload or a
 * download carries after an image). The input is laid out as a slot: the
 * first 2 bytes give the image length, the rest is the flash. A fake
 * Secure Boot trusts the first block's key and takes any signature whose
 * first byte is 0x5A, so every path of the checker is reachable. What the
 * checker accepts must hold what it promises. */
#include <string.h>
#include "otto/crypto.h"
#include "otto/err.h"
#include "otto/sbv2.h"

typedef struct { const uint8_t *b; uint32_t n; } mem_t;

static int mem_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    mem_t *m = ctx;
    if (off > m->n || len > m->n - off)
        __builtin_trap(); /* the checker must stay inside the slot it was given */
    memcpy(buf, m->b + off, len);
    return OTTO_OK;
}

static uint8_t trusted[32];
static unsigned ntrusted;

static int keys(void *ctx, uint8_t d[OTTO_SBV2_KEYS][32], unsigned *n, unsigned *revoked)
{
    (void)ctx;
    memcpy(d[0], trusted, 32);
    *n = ntrusted;
    *revoked = 0;
    return OTTO_OK;
}

static int verify_block(void *ctx, const uint8_t *blk, const uint8_t digest[32])
{
    (void)ctx;
    if (memcmp(blk + 4, digest, 32))
        __builtin_trap(); /* asked only about blocks that carry the image's digest */
    return blk[OTTO_SBV2_KEY_AT + OTTO_SBV2_RSA_KEY_LEN] == 0x5A ? OTTO_OK : OTTO_E_SIGNATURE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2 || len > (1u << 20))
        return 0;
    mem_t m = {data + 2, (uint32_t)(len - 2)};
    otto_flash_t f = {&m, mem_read, NULL, NULL, m.n, 4096, 1};
    otto_secure_boot_t sb = {NULL, keys, verify_block};
    uint32_t ilen = (uint32_t)data[0] << 8 | data[1], sector;
    unsigned version, blocks = 0;
    if (m.n >= OTTO_SBV2_BLOCK && otto_sbv2_block_parse(m.b, &version) == OTTO_OK) {
        if (version != OTTO_SBV2_RSA && version != OTTO_SBV2_ECDSA)
            __builtin_trap();
        otto_sbv2_key_digest(m.b, trusted);
    }
    if (otto_sbv2_find(&f, 0, m.n, ilen, &sector) != OTTO_OK)
        return 0;
    if (sector < ilen || !otto_sbv2_place_ok(ilen, sector) || m.b[sector] != OTTO_SBV2_MAGIC)
        __builtin_trap();
    int plain = otto_sbv2_check(&f, 0, sector, NULL, &blocks);
    if ((plain == OTTO_OK) != (blocks > 0))
        __builtin_trap();
    for (ntrusted = 0; ntrusted < 2; ntrusted++) {
        int err = otto_sbv2_check(&f, 0, sector, &sb, NULL);
        if (err == OTTO_OK && (plain != OTTO_OK || ntrusted == 0))
            __builtin_trap(); /* trusted implies well formed; no keys, nothing verifies */
    }
    return 0;
}
