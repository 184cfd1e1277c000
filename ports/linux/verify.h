/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firmware signature checks for the agent's port on Linux, with Debian's
 * mbedTLS: otto_linux_verify is otto_agent_port_t.verify (a DER ECDSA
 * P-256 signature over a SHA-256, with one of the points the device trusts;
 * the list itself is the device core's, trust.h). otto_linux_keys_t reads
 * the public keys a product is provisioned with at manufacture (PEM files)
 * into such points, for otto_trust_provision.
 */
#ifndef OTTO_LINUX_VERIFY_H
#define OTTO_LINUX_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include "otto/trust.h"

#define OTTO_LINUX_KEYS OTTO_TRUST_KEYS

typedef struct {
    uint8_t key[OTTO_LINUX_KEYS][OTTO_KEY_LEN];
    unsigned n;
} otto_linux_keys_t;

void otto_linux_keys_init(otto_linux_keys_t *k);
/** Add the public key in path: OTTO_OK, OTTO_E_NOSPC (three already),
 *  OTTO_E_INVAL (not an ECDSA P-256 public key in PEM). */
int otto_linux_keys_add(otto_linux_keys_t *k, const char *path);
/** The agent port's verify (ctx unused). */
int otto_linux_verify(void *ctx, const uint8_t key[OTTO_KEY_LEN], const uint8_t sha256[32], const uint8_t *sig,
                      size_t len);

#endif
