/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thin wrappers over mbedTLS so the rest of the core does not care which
 * mbedTLS major version it is built against (2.x names the int-returning
 * calls *_ret, 3.x drops the suffix).
 */
#include "otto/crypto.h"
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR < 3
#define SHA256_START(c)      mbedtls_sha256_starts_ret((c), 0)
#define SHA256_UPDATE(c,d,n) mbedtls_sha256_update_ret((c), (d), (n))
#define SHA256_FINISH(c,o)   mbedtls_sha256_finish_ret((c), (o))
#define MD5_START(c)         mbedtls_md5_starts_ret(c)
#define MD5_UPDATE(c,d,n)    mbedtls_md5_update_ret((c), (d), (n))
#define MD5_FINISH(c,o)      mbedtls_md5_finish_ret((c), (o))
#else
#define SHA256_START(c)      mbedtls_sha256_starts((c), 0)
#define SHA256_UPDATE(c,d,n) mbedtls_sha256_update((c), (d), (n))
#define SHA256_FINISH(c,o)   mbedtls_sha256_finish((c), (o))
#define MD5_START(c)         mbedtls_md5_starts(c)
#define MD5_UPDATE(c,d,n)    mbedtls_md5_update((c), (d), (n))
#define MD5_FINISH(c,o)      mbedtls_md5_finish((c), (o))
#endif

int otto_sha256_start(otto_sha256_t *h)
{
    mbedtls_sha256_init(&h->c);
    return SHA256_START(&h->c) ? OTTO_E_INVAL : OTTO_OK;
}

int otto_sha256_update(otto_sha256_t *h, const void *data, size_t len)
{
    return SHA256_UPDATE(&h->c, (const unsigned char *)data, len) ? OTTO_E_INVAL : OTTO_OK;
}

int otto_sha256_finish(otto_sha256_t *h, uint8_t out[32])
{
    int rc = SHA256_FINISH(&h->c, out);
    mbedtls_sha256_free(&h->c);
    return rc ? OTTO_E_INVAL : OTTO_OK;
}

int otto_md5_start(otto_md5_t *h)
{
    mbedtls_md5_init(&h->c);
    return MD5_START(&h->c) ? OTTO_E_INVAL : OTTO_OK;
}

int otto_md5_update(otto_md5_t *h, const void *data, size_t len)
{
    return MD5_UPDATE(&h->c, (const unsigned char *)data, len) ? OTTO_E_INVAL : OTTO_OK;
}

int otto_md5_finish(otto_md5_t *h, uint8_t out[16])
{
    int rc = MD5_FINISH(&h->c, out);
    mbedtls_md5_free(&h->c);
    return rc ? OTTO_E_INVAL : OTTO_OK;
}

int otto_sha256(const void *data, size_t len, uint8_t out[32])
{
    otto_sha256_t h;
    int err = otto_sha256_start(&h);
    if (!err) err = otto_sha256_update(&h, data, len);
    if (!err) err = otto_sha256_finish(&h, out);
    return err;
}

int otto_md5(const void *data, size_t len, uint8_t out[16])
{
    otto_md5_t h;
    int err = otto_md5_start(&h);
    if (!err) err = otto_md5_update(&h, data, len);
    if (!err) err = otto_md5_finish(&h, out);
    return err;
}

/* Bitwise reflected CRC-32 (poly 0xEDB88320): no 1 KiB table in RAM or
 * flash, and the core only CRCs a few bytes at a time (otadata: 4). The
 * seed is inverted on entry and the result on exit, as ESP-ROM does. */
uint32_t otto_crc32_le(uint32_t seed, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    uint32_t crc = ~seed;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}
