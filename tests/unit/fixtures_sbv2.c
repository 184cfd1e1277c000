/* SPDX-License-Identifier: Apache-2.0 */
/* The Secure Boot v2 fixture: signing needs the Linux port's mbedTLS
 * RSA/ECDSA, which the target runner of the other fixtures does not link. */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "otto/crypto.h"
#include "sbv2.h"

uint8_t *fx_sign_sbv2(const uint8_t *img, size_t len, const char *pem, size_t *out_len)
{
    size_t padded = (len + OTTO_SBV2_SECTOR - 1) / OTTO_SBV2_SECTOR * OTTO_SBV2_SECTOR;
    uint8_t *o = malloc(padded + OTTO_SBV2_SECTOR), digest[32];
    if (!o)
        return NULL;
    memset(o, 0xFF, padded + OTTO_SBV2_SECTOR);
    memcpy(o, img, len);
    if (otto_sha256(o, padded, digest) || otto_linux_sbv2_sign_block(pem, digest, o + padded)) {
        free(o);
        return NULL;
    }
    *out_len = padded + OTTO_SBV2_SECTOR;
    return o;
}
