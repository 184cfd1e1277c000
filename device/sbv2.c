/* SPDX-License-Identifier: Apache-2.0 */
#include "otto/sbv2.h"

#include <string.h>

#include "otto/crypto.h"
#include "otto/err.h"
#include "internal/util.h"

int otto_sbv2_block_parse(const uint8_t b[OTTO_SBV2_BLOCK], unsigned *version)
{
    if (!b || !version)
        return OTTO_E_INVAL;
    if (b[0] != OTTO_SBV2_MAGIC)
        return OTTO_E_NOTFOUND;
    if (b[1] != OTTO_SBV2_RSA && b[1] != OTTO_SBV2_ECDSA)
        return OTTO_E_CORRUPT;
    /* ECDSA: SHA-256 (type 0) and P-256 only; P-384 blocks are for chips
     * otto does not target. */
    if (b[1] == OTTO_SBV2_ECDSA && (b[2] != 0 || b[OTTO_SBV2_KEY_AT] != OTTO_SBV2_CURVE_P256))
        return OTTO_E_CORRUPT;
    if (otto_get_le32(b + OTTO_SBV2_CRC_AT) != otto_crc32_le(0, b, OTTO_SBV2_CRC_AT))
        return OTTO_E_CORRUPT;
    *version = b[1];
    return OTTO_OK;
}

int otto_sbv2_key_digest(const uint8_t b[OTTO_SBV2_BLOCK], uint8_t out[32])
{
    size_t len = b[1] == OTTO_SBV2_RSA ? OTTO_SBV2_RSA_KEY_LEN : OTTO_SBV2_ECDSA_KEY_LEN;
    return otto_sha256(b + OTTO_SBV2_KEY_AT, len, out);
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1u) / a * a;
}

/* Where a sector may follow an image: after 4 KiB padding, or where it ends
 * on a 64 KiB boundary (as ESP-IDF's build may pad). */
static void places(uint32_t image_len, uint32_t at[2])
{
    at[0] = align_up(image_len, OTTO_SBV2_SECTOR);
    at[1] = align_up(image_len + OTTO_SBV2_SECTOR, 0x10000u) - OTTO_SBV2_SECTOR;
}

bool otto_sbv2_place_ok(uint32_t image_len, uint32_t sector)
{
    uint32_t at[2];
    places(image_len, at);
    return sector == at[0] || sector == at[1];
}

int otto_sbv2_find(const otto_flash_t *f, uint32_t off, uint32_t slot_len,
                   uint32_t image_len, uint32_t *sector)
{
    uint32_t at[2];
    uint8_t head[2];
    places(image_len, at);
    for (int i = 0; i < 2; i++) {
        if (at[i] < image_len || at[i] > slot_len || slot_len - at[i] < OTTO_SBV2_SECTOR)
            continue;
        int err = f->read(f->ctx, off + at[i], head, 2);
        if (err)
            return err;
        if (head[0] == OTTO_SBV2_MAGIC) {
            *sector = at[i];
            return OTTO_OK;
        }
    }
    return OTTO_E_NOTFOUND;
}

/* SHA-256 of the padded image, read back from flash in small pieces. */
static int digest_flash(const otto_flash_t *f, uint32_t off, uint32_t len, uint8_t out[32])
{
    otto_sha256_t h;
    uint8_t buf[128];
    int err = otto_sha256_start(&h);
    for (uint32_t done = 0; !err && done < len;) {
        uint32_t n = len - done < sizeof buf ? len - done : (uint32_t)sizeof buf;
        err = f->read(f->ctx, off + done, buf, n);
        if (!err)
            err = otto_sha256_update(&h, buf, n);
        done += n;
    }
    if (!err)
        err = otto_sha256_finish(&h, out);
    return err;
}

/* Is this block's key one eFuse trusts and has not revoked? */
static int key_trusted(const otto_secure_boot_t *sb, const uint8_t *blk, bool *ok)
{
    uint8_t fuse[OTTO_SBV2_KEYS][32], kd[32];
    unsigned n = 0, revoked = 0;
    int err = sb->read_keys(sb->ctx, fuse, &n, &revoked);
    if (!err)
        err = otto_sbv2_key_digest(blk, kd);
    *ok = false;
    for (unsigned i = 0; !err && i < n && i < OTTO_SBV2_KEYS; i++)
        if (!(revoked & (1u << i)) && memcmp(fuse[i], kd, 32) == 0)
            *ok = true;
    return err;
}

int otto_sbv2_check(const otto_flash_t *f, uint32_t off, uint32_t sector,
                    const otto_secure_boot_t *sb, unsigned *blocks)
{
    uint8_t digest[32], blk[OTTO_SBV2_BLOCK];
    unsigned good = 0, version;
    bool verified = false;
    int err;

    if (!f || sector % OTTO_SBV2_SECTOR)
        return OTTO_E_INVAL;
    if ((err = digest_flash(f, off, sector, digest)))
        return err;
    for (unsigned i = 0; i < OTTO_SBV2_BLOCKS && !verified; i++) {
        if ((err = f->read(f->ctx, off + sector + i * OTTO_SBV2_BLOCK, blk, OTTO_SBV2_BLOCK)))
            return err;
        if (otto_sbv2_block_parse(blk, &version) != OTTO_OK)
            break; /* blocks are consecutive: the first gap ends them */
        if (memcmp(blk + 4, digest, 32) != 0)
            continue; /* signs some other image */
        good++;
        if (!sb) {
            verified = true;
            continue;
        }
        bool trusted;
        if ((err = key_trusted(sb, blk, &trusted)))
            return err;
        if (trusted && sb->verify_block(sb->ctx, blk, digest) == OTTO_OK)
            verified = true;
    }
    if (blocks)
        *blocks = good;
    return verified ? OTTO_OK : OTTO_E_SIGNATURE;
}
