/* SPDX-License-Identifier: Apache-2.0 */
#include "verify.h"

#include <string.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>

#include "otto/err.h"

void otto_linux_keys_init(otto_linux_keys_t *k)
{
    memset(k, 0, sizeof *k);
}

int otto_linux_keys_add(otto_linux_keys_t *k, const char *path)
{
    mbedtls_pk_context pk;
    size_t olen = 0;
    int err = OTTO_E_INVAL;
    if (k->n == OTTO_LINUX_KEYS)
        return OTTO_E_NOSPC;
    mbedtls_pk_init(&pk);
    if (mbedtls_pk_parse_public_keyfile(&pk, path) == 0 && mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA)) {
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
        if (ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 &&
            mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, k->key[k->n],
                                           OTTO_KEY_LEN) == 0 && olen == OTTO_KEY_LEN) {
            k->n++;
            err = OTTO_OK;
        }
    }
    mbedtls_pk_free(&pk);
    return err;
}

int otto_linux_verify(void *ctx, const uint8_t key[OTTO_KEY_LEN], const uint8_t sha256[32], const uint8_t *sig,
                      size_t len)
{
    mbedtls_ecdsa_context ec;
    int ret;
    (void)ctx;
    mbedtls_ecdsa_init(&ec);
    ret = mbedtls_ecp_group_load(&ec.grp, MBEDTLS_ECP_DP_SECP256R1);
    if (!ret) ret = mbedtls_ecp_point_read_binary(&ec.grp, &ec.Q, key, OTTO_KEY_LEN);
    if (!ret) ret = mbedtls_ecp_check_pubkey(&ec.grp, &ec.Q);
    if (!ret) ret = mbedtls_ecdsa_read_signature(&ec, sha256, 32, sig, len);
    mbedtls_ecdsa_free(&ec);
    return ret ? OTTO_E_SIGNATURE : OTTO_OK;
}
