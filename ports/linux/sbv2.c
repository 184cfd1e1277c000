/* SPDX-License-Identifier: Apache-2.0 */
#include "sbv2.h"

#include <string.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "otto/crypto.h"
#include "otto/err.h"

#define RSA_BYTES 384 /* RSA-3072 */

/* Big-endian <-> little-endian: the blocks store every number
 * little-endian, as the ROM's big-number hardware reads them. */
static void reverse(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static int load_key(mbedtls_pk_context *pk, const char *path, int want_private)
{
    mbedtls_pk_init(pk);
    if (mbedtls_pk_parse_keyfile(pk, path, NULL) == 0)
        return OTTO_OK;
    mbedtls_pk_free(pk);
    mbedtls_pk_init(pk);
    if (!want_private && mbedtls_pk_parse_public_keyfile(pk, path) == 0)
        return OTTO_OK;
    return OTTO_E_INVAL;
}

/* The key material a block carries (bytes 36 on). RSA: n, e, then the
 * ROM's Montgomery constants R^2 mod n (R = 2^3072) and m' = -n^-1 mod 2^32. */
static int key_material(mbedtls_pk_context *pk, uint8_t *out, size_t *len, unsigned *version)
{
    int ret = 0;
    if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA) {
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
        mbedtls_mpi n, e, rr;
        mbedtls_mpi_init(&n); mbedtls_mpi_init(&e); mbedtls_mpi_init(&rr);
        if (mbedtls_rsa_get_len(rsa) != RSA_BYTES)
            ret = -1;
        if (!ret) ret = mbedtls_rsa_export(rsa, &n, NULL, NULL, NULL, &e);
        if (!ret) ret = mbedtls_mpi_lset(&rr, 1);
        if (!ret) ret = mbedtls_mpi_shift_l(&rr, 2 * 8 * RSA_BYTES);
        if (!ret) ret = mbedtls_mpi_mod_mpi(&rr, &rr, &n);
        if (!ret) ret = mbedtls_mpi_write_binary_le(&n, out, RSA_BYTES);
        if (!ret) ret = mbedtls_mpi_write_binary_le(&e, out + RSA_BYTES, 4);
        if (!ret) ret = mbedtls_mpi_write_binary_le(&rr, out + RSA_BYTES + 4, RSA_BYTES);
        if (!ret) {
            /* n is odd: Newton's iteration doubles the good bits of n^-1. */
            uint32_t n0 = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
                          (uint32_t)out[3] << 24;
            uint32_t x = n0;
            for (int i = 0; i < 5; i++)
                x *= 2u - n0 * x;
            put_le32(out + 2 * RSA_BYTES + 4, 0u - x);
            *len = OTTO_SBV2_RSA_KEY_LEN;
            *version = OTTO_SBV2_RSA;
        }
        mbedtls_mpi_free(&n); mbedtls_mpi_free(&e); mbedtls_mpi_free(&rr);
        return ret ? OTTO_E_INVAL : OTTO_OK;
    }
    if (mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY)) {
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
        if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
            return OTTO_E_INVAL;
        out[0] = OTTO_SBV2_CURVE_P256;
        if (mbedtls_mpi_write_binary_le(&ec->Q.X, out + 1, 32) ||
            mbedtls_mpi_write_binary_le(&ec->Q.Y, out + 33, 32))
            return OTTO_E_INVAL;
        *len = OTTO_SBV2_ECDSA_KEY_LEN;
        *version = OTTO_SBV2_ECDSA;
        return OTTO_OK;
    }
    return OTTO_E_INVAL;
}

int otto_linux_sbv2_key_digest(const char *path, uint8_t digest[32], unsigned *version)
{
    mbedtls_pk_context pk;
    uint8_t mat[OTTO_SBV2_RSA_KEY_LEN];
    size_t len = 0;
    int err = load_key(&pk, path, 0);
    if (!err)
        err = key_material(&pk, mat, &len, version);
    if (!err)
        err = otto_sha256(mat, len, digest);
    mbedtls_pk_free(&pk);
    return err;
}

static int verify_rsa(const uint8_t *blk, const uint8_t digest[32])
{
    const uint8_t *k = blk + OTTO_SBV2_KEY_AT;
    uint8_t sig[RSA_BYTES];
    mbedtls_rsa_context rsa;
    mbedtls_mpi n, e;
    int ret;
    mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
    mbedtls_mpi_init(&n); mbedtls_mpi_init(&e);
    ret = mbedtls_mpi_read_binary_le(&n, k, RSA_BYTES);
    if (!ret) ret = mbedtls_mpi_read_binary_le(&e, k + RSA_BYTES, 4);
    if (!ret) ret = mbedtls_rsa_import(&rsa, &n, NULL, NULL, NULL, &e);
    if (!ret) ret = mbedtls_rsa_complete(&rsa);
    if (!ret && mbedtls_rsa_get_len(&rsa) != RSA_BYTES)
        ret = -1;
    reverse(sig, k + OTTO_SBV2_RSA_KEY_LEN, RSA_BYTES);
    if (!ret)
        ret = mbedtls_rsa_rsassa_pss_verify_ext(&rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, 32,
                                                digest, MBEDTLS_MD_SHA256, 32, sig);
    mbedtls_mpi_free(&n); mbedtls_mpi_free(&e);
    mbedtls_rsa_free(&rsa);
    return ret ? OTTO_E_SIGNATURE : OTTO_OK;
}

static int verify_ecdsa(const uint8_t *blk, const uint8_t digest[32])
{
    const uint8_t *k = blk + OTTO_SBV2_KEY_AT + 1;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    int ret;
    mbedtls_ecp_group_init(&grp); mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r); mbedtls_mpi_init(&s);
    ret = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (!ret) ret = mbedtls_mpi_read_binary_le(&q.X, k, 32);
    if (!ret) ret = mbedtls_mpi_read_binary_le(&q.Y, k + 32, 32);
    if (!ret) ret = mbedtls_mpi_lset(&q.Z, 1);
    if (!ret) ret = mbedtls_ecp_check_pubkey(&grp, &q);
    if (!ret) ret = mbedtls_mpi_read_binary_le(&r, k + 64, 32);
    if (!ret) ret = mbedtls_mpi_read_binary_le(&s, k + 96, 32);
    if (!ret) ret = mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s);
    mbedtls_mpi_free(&r); mbedtls_mpi_free(&s);
    mbedtls_ecp_point_free(&q); mbedtls_ecp_group_free(&grp);
    return ret ? OTTO_E_SIGNATURE : OTTO_OK;
}

int otto_linux_sbv2_verify_block(void *ctx, const uint8_t *blk, const uint8_t digest[32])
{
    unsigned version;
    (void)ctx;
    if (otto_sbv2_block_parse(blk, &version) != OTTO_OK)
        return OTTO_E_SIGNATURE;
    return version == OTTO_SBV2_RSA ? verify_rsa(blk, digest) : verify_ecdsa(blk, digest);
}

int otto_linux_sbv2_sign_block(const char *path, const uint8_t digest[32], uint8_t blk[OTTO_SBV2_BLOCK])
{
    mbedtls_pk_context pk;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    size_t len = 0;
    unsigned version = 0;
    int ret;

    memset(blk, 0, OTTO_SBV2_BLOCK);
    if (load_key(&pk, path, 1))
        return OTTO_E_INVAL;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const unsigned char *)"otto-sbv2", 9);
    if (!ret)
        ret = key_material(&pk, blk + OTTO_SBV2_KEY_AT, &len, &version);
    blk[0] = OTTO_SBV2_MAGIC;
    blk[1] = (uint8_t)version;
    memcpy(blk + 4, digest, 32);
    if (!ret && version == OTTO_SBV2_RSA) {
        uint8_t sig[RSA_BYTES];
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(pk);
        mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
        ret = mbedtls_rsa_rsassa_pss_sign_ext(rsa, mbedtls_ctr_drbg_random, &drbg, MBEDTLS_MD_SHA256, 32,
                                              digest, 32, sig);
        reverse(blk + OTTO_SBV2_KEY_AT + OTTO_SBV2_RSA_KEY_LEN, sig, RSA_BYTES);
    } else if (!ret) {
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
        mbedtls_mpi r, s;
        uint8_t *p = blk + OTTO_SBV2_KEY_AT + OTTO_SBV2_ECDSA_KEY_LEN;
        mbedtls_mpi_init(&r); mbedtls_mpi_init(&s);
        ret = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, digest, 32, mbedtls_ctr_drbg_random, &drbg);
        if (!ret) ret = mbedtls_mpi_write_binary_le(&r, p, 32);
        if (!ret) ret = mbedtls_mpi_write_binary_le(&s, p + 32, 32);
        mbedtls_mpi_free(&r); mbedtls_mpi_free(&s);
    }
    put_le32(blk + OTTO_SBV2_CRC_AT, otto_crc32_le(0, blk, OTTO_SBV2_CRC_AT));
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
    mbedtls_pk_free(&pk);
    return ret ? OTTO_E_INVAL : OTTO_OK;
}
