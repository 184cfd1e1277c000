/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto's certificate authority, on OpenSSL's libcrypto (no hand-written
 * ASN.1): ECDSA P-256 keys, a self-signed CA, and certificates it issues —
 * the broker's and HTTPS server's (subjectAltName from DNS names and IP
 * addresses), ottod's own MQTT identity, and one per device (CN = thing
 * name, as Mosquitto's use_identity_as_username reads it). A device may
 * bring its own key in a CSR instead. PEM in and out; the caller frees.
 * Errors: NULL / -1 with a reason in err (at most 200 bytes).
 */
#ifndef SRV_PKI_H
#define SRV_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#define SRV_CERT_DAYS_CA     3650
#define SRV_CERT_DAYS_SERVER 825
#define SRV_CERT_DAYS_DEVICE 825

typedef enum { SRV_CERT_SERVER, SRV_CERT_CLIENT } srv_cert_kind_t;

EVP_PKEY *srv_pki_keygen(void);
X509 *srv_pki_make_ca(EVP_PKEY *key, const char *cn, int days);
/** Issue a certificate for pub, signed by ca/cakey. names: DNS names or IP
 *  addresses for subjectAltName (server certificates), may be NULL. */
X509 *srv_pki_issue(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *pub, const char *cn, const char *const *names,
                    size_t nnames, srv_cert_kind_t kind, int days, char *err);
/** The public key of a PEM CSR whose self-signature verifies, and its CN
 *  (cap bytes). */
EVP_PKEY *srv_pki_csr(const char *pem, size_t len, char *cn, size_t cap, char *err);

char *srv_pki_cert_pem(X509 *x);
char *srv_pki_key_pem(EVP_PKEY *k);
/** Write PEM to path with mode (0600 for keys), replacing it. */
int srv_pki_write(const char *path, const char *pem, unsigned mode);
/** A certificate from a file or bytes, PEM or DER; NULL when neither. */
X509 *srv_pki_read_cert(const char *path);
X509 *srv_pki_parse_cert(const void *buf, size_t len);
/** 0 when ca can issue otto's certificates: a CA (basicConstraints CA:TRUE;
 *  keyCertSign if it has key usages), valid at now (seconds since the
 *  epoch), with a P-256 or an RSA key of 2048 bits or more, and key (when
 *  not NULL) its private key. Otherwise -1 and why in err. */
int srv_pki_ca_check(X509 *ca, EVP_PKEY *key, long long now, char *err);
EVP_PKEY *srv_pki_read_key(const char *path);
/** notAfter as seconds since the epoch. */
long long srv_pki_not_after(X509 *x);

#endif
