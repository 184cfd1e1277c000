/* SPDX-License-Identifier: Apache-2.0 */
#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

EVP_PKEY *srv_pki_keygen(void)
{
    return EVP_EC_gen("P-256");
}

/* A random positive 127-bit serial, as CAs should use. */
static int set_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] &= 0x7F;
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai && X509_set_serialNumber(x, ai) == 1;
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static X509 *base(EVP_PKEY *pub, const char *cn, int days)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    if (!x || !n || X509_set_version(x, 2) != 1 || set_serial(x) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||      /* clocks drift */
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_subject_name(x, n) != 1 || X509_set_pubkey(x, pub) != 1) {
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(n);
    return x;
}

X509 *srv_pki_make_ca(EVP_PKEY *key, const char *cn, int days)
{
    X509 *x = base(key, cn, days);
    if (!x || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(x, x, NID_subject_key_identifier, "hash") || X509_sign(x, key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

X509 *srv_pki_issue(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *pub, const char *cn, const char *const *names,
                    size_t nnames, srv_cert_kind_t kind, int days, char *err)
{
    char san[2048] = "";
    size_t o = 0;
    for (size_t i = 0; i < nnames; i++) {
        unsigned char buf[16];
        bool ip = inet_pton(AF_INET, names[i], buf) == 1 || inet_pton(AF_INET6, names[i], buf) == 1;
        if (!names[i][0] || strpbrk(names[i], ", \t") || !strcmp(names[i], "0.0.0.0") || !strcmp(names[i], "::")) {
            snprintf(err, 200, "'%s' cannot be a certificate name (a bind-all address or an empty name)", names[i]);
            return NULL;
        }
        int n = snprintf(san + o, sizeof san - o, "%s%s:%s", o ? "," : "", ip ? "IP" : "DNS", names[i]);
        if (n < 0 || (size_t)n >= sizeof san - o) {
            snprintf(err, 200, "too many certificate names");
            return NULL;
        }
        o += (size_t)n;
    }
    X509 *x = base(pub, cn, days);
    if (!x || X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
        add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
        add_ext(x, ca, NID_ext_key_usage, kind == SRV_CERT_SERVER ? "serverAuth,clientAuth" : "clientAuth") ||
        add_ext(x, ca, NID_authority_key_identifier, "keyid:always") ||
        (san[0] && add_ext(x, ca, NID_subject_alt_name, san)) || X509_sign(x, cakey, EVP_sha256()) <= 0) {
        snprintf(err, 200, "cannot issue a certificate for '%s'", cn);
        X509_free(x);
        return NULL;
    }
    return x;
}

EVP_PKEY *srv_pki_csr(const char *pem, size_t len, char *cn, size_t cap, char *err)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = r ? X509_REQ_get_pubkey(r) : NULL;
    BIO_free(b);
    if (!r || !k) {
        snprintf(err, 200, "not a certificate signing request in PEM");
    } else if (X509_REQ_verify(r, k) != 1) {
        snprintf(err, 200, "the request's signature does not verify with its own key");
    } else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 256) {
        snprintf(err, 200, "the request's key is not ECDSA P-256");
    } else if (X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(r), NID_commonName, cn, (int)cap) < 0) {
        cn[0] = 0; /* none: the caller names it */
        X509_REQ_free(r);
        return k;
    } else {
        X509_REQ_free(r);
        return k;
    }
    EVP_PKEY_free(k);
    X509_REQ_free(r);
    return NULL;
}

static char *bio_text(BIO *b, int ok)
{
    char *data = NULL, *out = NULL;
    long n = ok ? BIO_get_mem_data(b, &data) : 0;
    if (n > 0 && (out = malloc((size_t)n + 1))) {
        memcpy(out, data, (size_t)n);
        out[n] = 0;
    }
    BIO_free(b);
    return out;
}

char *srv_pki_cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_X509(b, x) == 1) : NULL;
}

char *srv_pki_key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1) : NULL;
}

int srv_pki_write(const char *path, const char *pem, unsigned mode)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(pem);
    int ok = fchmod(fd, mode) == 0 && write(fd, pem, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

X509 *srv_pki_parse_cert(const void *buf, size_t len)
{
    if (len > 1u << 20 || len > INT_MAX)
        return NULL;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    if (!x && b) { /* not PEM: DER, the whole of it */
        const unsigned char *p = buf;
        x = d2i_X509(NULL, &p, (long)len);
        if (x && p != (const unsigned char *)buf + len) {
            X509_free(x);
            x = NULL;
        }
    }
    BIO_free(b);
    ERR_clear_error();
    return x;
}

X509 *srv_pki_read_cert(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static const size_t cap = 1u << 20;
    unsigned char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    X509 *x = n ? srv_pki_parse_cert(buf, n) : NULL;
    free(buf);
    return x;
}

int srv_pki_ca_check(X509 *ca, EVP_PKEY *key, long long now, char *err)
{
    time_t t = (time_t)now;
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    int id = pub ? EVP_PKEY_get_base_id(pub) : 0, bits = pub ? EVP_PKEY_get_bits(pub) : 0;
    const char *why = NULL;
    if (X509_check_ca(ca) != 1)
        why = "not a CA certificate (it needs basicConstraints CA:TRUE and, with key usages, keyCertSign)";
    else if (X509_cmp_time(X509_get0_notBefore(ca), &t) > 0)
        why = "not valid yet (notBefore is in the future)";
    else if (X509_cmp_time(X509_get0_notAfter(ca), &t) <= 0)
        why = "expired";
    else if (!(id == EVP_PKEY_EC && bits == 256) && !(id == EVP_PKEY_RSA && bits >= 2048))
        why = "its key is neither P-256 nor RSA of 2048 bits or more";
    else if (key && X509_check_private_key(ca, key) != 1)
        why = "the private key is not this certificate's";
    ERR_clear_error();
    if (why)
        snprintf(err, 200, "%s", why);
    return why ? -1 : 0;
}

EVP_PKEY *srv_pki_read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

long long srv_pki_not_after(X509 *x)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return 0;
    return (long long)timegm(&tm);
}
