/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: a certificate an operator hands `ottod init --ca` (PEM or
 * DER), parsed with OpenSSL and checked for whether it can be otto's CA. A
 * refusal says why; an accepted one is a CA with a usable key. */
#include <string.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "pki.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char err[200];
    X509 *x = srv_pki_parse_cert(data, len);
    if (!x)
        return 0;
    memset(err, 0, sizeof err);
    if (srv_pki_ca_check(x, NULL, 1800000000LL, err) == 0) {
        if (X509_check_ca(x) != 1 || !X509_get0_pubkey(x))
            __builtin_trap();
    } else if (!err[0] || !memchr(err, 0, sizeof err)) {
        __builtin_trap(); /* a refusal says why */
    }
    X509_free(x);
    return 0;
}
