/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hashes the core needs (SHA-256 for images, MD5 for partition tables and
 * descriptors), over mbedTLS. Contexts are caller-owned and hold no pointers,
 * so they can live inside other core objects and be copied. Functions return
 * OTTO_OK or OTTO_E_INVAL (a failure inside mbedTLS).
 */
#ifndef OTTO_CRYPTO_H
#define OTTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>
#include "otto/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { mbedtls_sha256_context c; } otto_sha256_t;
typedef struct { mbedtls_md5_context c; } otto_md5_t;

int otto_sha256_start(otto_sha256_t *h);
int otto_sha256_update(otto_sha256_t *h, const void *data, size_t len);
int otto_sha256_finish(otto_sha256_t *h, uint8_t out[32]);

int otto_md5_start(otto_md5_t *h);
int otto_md5_update(otto_md5_t *h, const void *data, size_t len);
int otto_md5_finish(otto_md5_t *h, uint8_t out[16]);

/** One-shot helpers. */
int otto_sha256(const void *data, size_t len, uint8_t out[32]);
int otto_md5(const void *data, size_t len, uint8_t out[16]);

/** CRC-32 as ESP-IDF stores it (otadata, NVS): zlib CRC-32 seeded with
 *  0xFFFFFFFF, i.e. ROM crc32_le(0xFFFFFFFF, data, len). */
uint32_t otto_crc32_le(uint32_t seed, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_CRYPTO_H */
