/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature checks for the agent's port (otto_agent_port_t.verify) on
 * Linux: up to OTTO_LINUX_KEYS ECDSA P-256 public keys read from PEM files,
 * checked with Debian's mbedTLS. The keys stand for what a product
 * provisions at manufacture.
 */
#ifndef OTTO_LINUX_VERIFY_H
#define OTTO_LINUX_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <mbedtls/pk.h>

#define OTTO_LINUX_KEYS 3

typedef struct {
    mbedtls_pk_context pk[OTTO_LINUX_KEYS];
    int n;
} otto_linux_keys_t;

void otto_linux_keys_init(otto_linux_keys_t *k);
/** Trust the public key in path: OTTO_OK, OTTO_E_NOSPC (three already),
 *  OTTO_E_INVAL (not an ECDSA P-256 public key in PEM). */
int otto_linux_keys_add(otto_linux_keys_t *k, const char *path);
void otto_linux_keys_free(otto_linux_keys_t *k);
/** The agent port's verify: ctx is an otto_linux_keys_t. */
int otto_linux_verify(void *ctx, const uint8_t sha256[32], const uint8_t *sig, size_t len);

#endif
