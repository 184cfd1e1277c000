/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: certificate signing requests a device (or anyone with an
 * operator's help) sends ottod: parsed with OpenSSL, never by hand. What is
 * accepted is an ECDSA P-256 key whose request verifies, with a bounded CN. */
#include <string.h>
#include <openssl/evp.h>
#include "pki.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char cn[80], err[200];
    EVP_PKEY *k = srv_pki_csr((const char *)data, len, cn, sizeof cn, err);
    if (k) {
        if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 256 || !memchr(cn, 0, sizeof cn))
            __builtin_trap();
        EVP_PKEY_free(k);
    } else if (!memchr(err, 0, sizeof err) || !err[0]) {
        __builtin_trap(); /* a refusal says why */
    }
    return 0;
}
