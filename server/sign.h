/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firmware signatures on the server: DER ECDSA P-256 signatures over a
 * file's SHA-256 (as `openssl dgst -sha256 -sign` and `otto fw sign` make
 * them), checked against the trusted public keys in the store; in job
 * documents as AWS carries them, "sig-sha256-ecdsa": base64 of the DER.
 * OpenSSL's libcrypto does the cryptography.
 */
#ifndef SRV_SIGN_H
#define SRV_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include "store.h"

#define SRV_SIG_MAX 80 /* DER ECDSA P-256: at most 72 bytes */

/** Is pem an ECDSA P-256 public key (SubjectPublicKeyInfo PEM)? */
bool srv_key_valid(const char *pem);
/** Does der (len bytes) sign sha256 with a trusted, unrevoked key? OTTO_OK
 *  and the key's name in signer, or OTTO_E_VERIFY. */
int srv_sig_check(srv_store_t *st, const uint8_t sha256[32], const uint8_t *der, size_t len, char *signer,
                  size_t cap);
/** Check a key update for a job document (otto/trust.h): op "add" or
 *  "revoke", key the base64 of a P-256 point, sig-sha256-ecdsa by a
 *  trusted, unrevoked key over the update's statement. OTTO_OK, the
 *  signer's name in signer; or OTTO_E_INVAL / OTTO_E_VERIFY with msg. */
int srv_key_update_check(srv_store_t *st, const cJSON *u, char *signer, size_t cap, char *msg, size_t msglen);
/** Lower-case hex of n bytes into out (2n + 1 bytes). */
static inline void srv_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}
/** A new bearer token: 32 random bytes as 64 hex digits. 0 or -1. */
int srv_token_new(char out[65]);
/** The SHA-256 of a token, in hex: all the server keeps of one. */
void srv_token_hash(const char *token, size_t len, char out[65]);
/** Base64 (with padding) of n bytes into out (cap >= 4 * ((n + 2) / 3) + 1). */
void srv_base64(const uint8_t *in, size_t n, char *out, size_t cap);
/** Decode base64; the byte count, or -1. */
int srv_unbase64(const char *in, uint8_t *out, size_t cap);

#endif
