/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP32 Secure Boot v2 signature sectors, as espsecure.py sign_data writes
 * them and ESP-IDF's bootloader and esp_ota_end check them: the app image
 * padded with 0xFF to a 4 KiB boundary (or so that the sector ends on a
 * 64 KiB one), then one 4 KiB sector of up to three 1216-byte blocks, the
 * rest 0xFF. Each block holds the SHA-256 of the padded image, a public key
 * (RSA-3072, version 2; ECDSA P-256, version 3), a signature and a CRC.
 *
 * This module parses and checks structure, digests and eFuse key digests;
 * the signature arithmetic is the port's (otto_secure_boot_t.verify_block).
 * Offsets are slot-relative bytes. No allocation; one block (1216 bytes) on
 * the stack while checking.
 */
#ifndef OTTO_SBV2_H
#define OTTO_SBV2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_SBV2_SECTOR     4096u
#define OTTO_SBV2_BLOCK      1216u
#define OTTO_SBV2_BLOCKS     3u
#define OTTO_SBV2_MAGIC      0xE7u
#define OTTO_SBV2_RSA        2u    /**< block version: RSA-3072-PSS */
#define OTTO_SBV2_ECDSA      3u    /**< block version: ECDSA */
#define OTTO_SBV2_CURVE_P256 2u
#define OTTO_SBV2_CRC_AT     1196u /**< CRC-32 (zlib) of bytes [0, 1196) */
/* Key material inside a block: RSA n | e | R^2 mod n | m' (bytes 36-811);
 * ECDSA curve id | x | y (bytes 36-100). Its SHA-256 is what eFuse holds. */
#define OTTO_SBV2_KEY_AT     36u
#define OTTO_SBV2_RSA_KEY_LEN   776u
#define OTTO_SBV2_ECDSA_KEY_LEN 65u

/** Is b a well-formed block (magic, a known version and curve, CRC)? On
 *  OTTO_OK *version is OTTO_SBV2_RSA or OTTO_SBV2_ECDSA; else
 *  OTTO_E_NOTFOUND (an erased or absent block) or OTTO_E_CORRUPT. */
int otto_sbv2_block_parse(const uint8_t b[OTTO_SBV2_BLOCK], unsigned *version);

/** The SHA-256 of a well-formed block's key material (eFuse's digest). */
int otto_sbv2_key_digest(const uint8_t b[OTTO_SBV2_BLOCK], uint8_t out[32]);

/** Where the signature sector of an image of image_len bytes lies in a
 *  slot of slot_len bytes at flash offset off: the 4 KiB-padded place, or
 *  the one that ends on 64 KiB, whichever starts with a block.
 *  OTTO_E_NOTFOUND: the image carries no sector. */
int otto_sbv2_find(const otto_flash_t *f, uint32_t off, uint32_t slot_len,
                   uint32_t image_len, uint32_t *sector);

/** True when a sector at slot offset `sector` may follow an image of
 *  image_len bytes (it is one of otto_sbv2_find's two places). */
bool otto_sbv2_place_ok(uint32_t image_len, uint32_t sector);

/** Check the sector at slot offset `sector` (the signed digest covers
 *  [0, sector)). sb NULL: some block is well formed and carries the image's
 *  digest (structure only: a device without Secure Boot). Otherwise a block
 *  whose key's digest is in eFuse, not revoked, must verify.
 *  OTTO_OK, OTTO_E_SIGNATURE, OTTO_E_IO. blocks (may be NULL) gets the
 *  number of well-formed blocks. */
int otto_sbv2_check(const otto_flash_t *f, uint32_t off, uint32_t sector,
                    const otto_secure_boot_t *sb, unsigned *blocks);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_SBV2_H */
