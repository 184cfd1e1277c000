/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: ottod's signature inputs: a public key PEM offered for trust,
 * a base64 signature from a descriptor, and a DER signature checked against
 * a trusted key (the input split at its first NUL-free thirds). Nothing
 * crashes or leaks, and nothing random verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sign.h"
#include "store.h"

static srv_store_t *st;
static const char pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7H3VOeyoajuJ4PghZ0ulb6NgRbst\n"
    "eTn5A8ivT+ErddJFcrQWiY5tEvu7qdMS9jGqXjPtK+0pZGSnZwk7/+CNug==\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!st) {
        srv_log_set_level(-1);
        if (!srv_key_valid(pub) || srv_store_open(":memory:", &st) || srv_key_put(st, "k", pub, 1))
            abort(); /* the trusted key itself must be one */
    }
    char *txt = malloc(len + 1);
    memcpy(txt, data, len);
    txt[len] = 0;
    (void)srv_key_valid(txt);
    uint8_t sig[SRV_SIG_MAX], sha[32] = {0};
    int n = srv_unbase64(txt, sig, sizeof sig);
    if (n > (int)sizeof sig)
        __builtin_trap();
    char signer[80];
    size_t dl = len < SRV_SIG_MAX ? len : SRV_SIG_MAX;
    if (len >= 32)
        memcpy(sha, data, 32);
    if (srv_sig_check(st, sha, data, dl, signer, sizeof signer) == 0 && len < 40)
        __builtin_trap(); /* a short random input cannot be a signature */
    free(txt);
    return 0;
}
