/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public keys a device trusts for firmware signatures: up to
 * OTTO_TRUST_KEYS ECDSA P-256 points (65 bytes, 0x04 | X | Y), kept in the
 * store under "trust" (one record: 0x81, count, the points). They are
 * provisioned once, at manufacture, and change after that only by a key
 * update a key already trusted signed:
 *
 *   the statement  "otto-key-update:1:" op ":" hex(point)   (op: add | revoke)
 *   its signature  DER ECDSA P-256 over the statement's SHA-256
 *
 * (so `openssl dgst -sha256 -sign KEY.pem STATEMENT` makes one). Updates
 * are idempotent, so a job replayed after a power cut applies them again
 * harmlessly. The signature arithmetic is the port's (otto_trust_verify_fn).
 * Errors: OTTO_E_NOTFOUND (nothing provisioned), OTTO_E_CORRUPT (record),
 * OTTO_E_SIGNATURE, OTTO_E_NOSPC (three keys already), OTTO_E_STATE (would
 * revoke the last key: a device never ends up trusting nothing).
 */
#ifndef OTTO_TRUST_H
#define OTTO_TRUST_H

#include <stddef.h>
#include <stdint.h>
#include "otto/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_TRUST_KEYS 3
#define OTTO_KEY_LEN    65
#define OTTO_KEY_ADD    1
#define OTTO_KEY_REVOKE 2
/** "otto-key-update:1:revoke:" and 130 hex digits. */
#define OTTO_KEY_STATEMENT_MAX 160

typedef struct {
    uint8_t n;
    uint8_t key[OTTO_TRUST_KEYS][OTTO_KEY_LEN];
} otto_trust_t;

/** Does sig (DER ECDSA P-256) sign sha256 with key? OTTO_OK or an error. */
typedef int (*otto_trust_verify_fn)(void *ctx, const uint8_t key[OTTO_KEY_LEN], const uint8_t sha256[32],
                                    const uint8_t *sig, size_t len);

int otto_trust_load(const otto_store_t *s, otto_trust_t *t);
int otto_trust_save(const otto_store_t *s, const otto_trust_t *t);
/** Manufacture: store keys unless the store already holds a list (which
 *  then wins: it may have been rotated since). */
int otto_trust_provision(const otto_store_t *s, const uint8_t (*keys)[OTTO_KEY_LEN], unsigned n);

/** The key's id: the first 8 bytes of its SHA-256, as 16 hex digits. */
void otto_trust_key_id(const uint8_t key[OTTO_KEY_LEN], char out[17]);

/** The statement an update signs; its length, or 0 for a bad op. */
size_t otto_trust_statement(int op, const uint8_t key[OTTO_KEY_LEN], char out[OTTO_KEY_STATEMENT_MAX]);

/** Does sig sign sha256 with one of t's keys? */
int otto_trust_verify(const otto_trust_t *t, otto_trust_verify_fn fn, void *ctx, const uint8_t sha256[32],
                      const uint8_t *sig, size_t len);

/** Apply one update to t in RAM, checking its signature first unless it is
 *  applied already (then OTTO_E_EXISTS, t unchanged). */
int otto_trust_update(otto_trust_t *t, int op, const uint8_t key[OTTO_KEY_LEN], const uint8_t *sig,
                      size_t len, otto_trust_verify_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_TRUST_H */
