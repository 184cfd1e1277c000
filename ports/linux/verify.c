/* SPDX-License-Identifier: Apache-2.0 */
#include "verify.h"

#include <mbedtls/ecp.h>

#include "otto/err.h"

void otto_linux_keys_init(otto_linux_keys_t *k)
{
    k->n = 0;
    for (int i = 0; i < OTTO_LINUX_KEYS; i++)
        mbedtls_pk_init(&k->pk[i]);
}

int otto_linux_keys_add(otto_linux_keys_t *k, const char *path)
{
    if (k->n == OTTO_LINUX_KEYS)
        return OTTO_E_NOSPC;
    mbedtls_pk_context *pk = &k->pk[k->n];
    if (mbedtls_pk_parse_public_keyfile(pk, path) != 0 || !mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA) ||
        mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        return OTTO_E_INVAL;
    }
    k->n++;
    return OTTO_OK;
}

void otto_linux_keys_free(otto_linux_keys_t *k)
{
    for (int i = 0; i < OTTO_LINUX_KEYS; i++)
        mbedtls_pk_free(&k->pk[i]);
    k->n = 0;
}

int otto_linux_verify(void *ctx, const uint8_t sha256[32], const uint8_t *sig, size_t len)
{
    otto_linux_keys_t *k = ctx;
    for (int i = 0; k && i < k->n; i++)
        if (mbedtls_pk_verify(&k->pk[i], MBEDTLS_MD_SHA256, sha256, 32, sig, len) == 0)
            return OTTO_OK;
    return OTTO_E_VERIFY;
}
