/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secure Boot v2 arithmetic with Debian's mbedTLS: the Linux port's
 * otto_secure_boot_t.verify_block, and what the host tools need to make
 * blocks (a key's material and eFuse digest, a signed block). Keys are PEM
 * files as espsecure.py and `otto key gen` write them: RSA-3072 (block
 * version 2, RSA-PSS with SHA-256, MGF1, salt 32) or ECDSA P-256 (version 3).
 * Errors: OTTO_E_INVAL (not such a key), OTTO_E_IO (file), OTTO_E_SIGNATURE.
 */
#ifndef OTTO_LINUX_SBV2_H
#define OTTO_LINUX_SBV2_H

#include <stddef.h>
#include <stdint.h>
#include "otto/sbv2.h"

/** verify_block for otto_secure_boot_t (ctx unused): does the signature
 *  in blk, with the public key blk carries, sign digest? */
int otto_linux_sbv2_verify_block(void *ctx, const uint8_t *blk, const uint8_t digest[32]);

/** The SHA-256 an eFuse key block holds for the key in path (public or
 *  private PEM); *version is OTTO_SBV2_RSA or OTTO_SBV2_ECDSA. */
int otto_linux_sbv2_key_digest(const char *path, uint8_t digest[32], unsigned *version);

/** Make a whole 1216-byte block signing digest with the private key in path. */
int otto_linux_sbv2_sign_block(const char *path, const uint8_t digest[32],
                               uint8_t blk[OTTO_SBV2_BLOCK]);

#endif
