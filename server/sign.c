/* SPDX-License-Identifier: Apache-2.0 */
#include "sign.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#include "otto/crypto.h"
#include "otto/err.h"
#include "otto/trust.h"

static EVP_PKEY *read_pub(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 256)) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

bool srv_key_valid(const char *pem)
{
    EVP_PKEY *k = read_pub(pem);
    EVP_PKEY_free(k);
    return k != NULL;
}

typedef struct {
    const uint8_t *sha, *der;
    size_t len;
    char *signer;
    size_t cap;
    bool ok;
} check_t;

static int try_key(void *arg, const srv_key_t *key)
{
    check_t *c = arg;
    if (key->revoked_at)
        return 0;
    EVP_PKEY *k = read_pub(key->pem);
    EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
    /* The signature is over the SHA-256 the caller already has. */
    if (ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
        EVP_PKEY_verify(ctx, c->der, c->len, c->sha, 32) == 1) {
        c->ok = true;
        snprintf(c->signer, c->cap, "%s", key->name);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
    return c->ok;
}

int srv_sig_check(srv_store_t *st, const uint8_t sha256[32], const uint8_t *der, size_t len, char *signer,
                  size_t cap)
{
    check_t c = {sha256, der, len, signer, cap, false};
    int err = srv_key_list(st, try_key, &c);
    if (err)
        return err;
    return c.ok ? OTTO_OK : OTTO_E_VERIFY;
}

void srv_base64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (cap < 4 * ((n + 2) / 3) + 1) {
        out[0] = 0;
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int srv_unbase64(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 || n / 4 * 3 > cap)
        return -1;
    int m = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (m < 0)
        return -1;
    /* DecodeBlock counts the padding as bytes: take them off. */
    if (in[n - 1] == '=')
        m--;
    if (in[n - 2] == '=')
        m--;
    return m;
}

/* Is p (65 bytes, 0x04 | X | Y) a point on P-256? */
static bool point_valid(const uint8_t *p)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
                           OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)p, OTTO_KEY_LEN),
                           OSSL_PARAM_construct_end()};
    bool ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX *chk = ok ? EVP_PKEY_CTX_new(k, NULL) : NULL;
    ok = chk && EVP_PKEY_public_check(chk) == 1;
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

int srv_key_update_check(srv_store_t *st, const cJSON *u, char *signer, size_t cap, char *msg, size_t msglen)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(u, "op");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(u, "key");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(u, "sig-sha256-ecdsa");
    uint8_t point[OTTO_KEY_LEN + 3], der[SRV_SIG_MAX], sha[32];
    char statement[OTTO_KEY_STATEMENT_MAX];
    int kind = !cJSON_IsString(op) ? 0 : !strcmp(op->valuestring, "add") ? OTTO_KEY_ADD
             : !strcmp(op->valuestring, "revoke") ? OTTO_KEY_REVOKE : 0;
    int dlen;
    if (!cJSON_IsObject(u) || !kind || !cJSON_IsString(key) || !cJSON_IsString(sig) ||
        srv_unbase64(key->valuestring, point, sizeof point) != OTTO_KEY_LEN || !point_valid(point) ||
        (dlen = srv_unbase64(sig->valuestring, der, sizeof der)) <= 0) {
        snprintf(msg, msglen, "a key update is {\"op\": \"add\"|\"revoke\", \"key\": base64 P-256 point, "
                 "\"sig-sha256-ecdsa\": base64 DER} as 'otto key update' writes it");
        return OTTO_E_INVAL;
    }
    size_t n = otto_trust_statement(kind, point, statement);
    otto_sha256(statement, n, sha);
    if (srv_sig_check(st, sha, der, (size_t)dlen, signer, cap)) {
        snprintf(msg, msglen, "the key update (%s) is not signed by a key this server trusts: devices would "
                 "refuse it", op->valuestring);
        return OTTO_E_VERIFY;
    }
    return OTTO_OK;
}

int srv_token_new(char out[65])
{
    uint8_t rnd[32];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return -1;
    srv_hex(rnd, sizeof rnd, out);
    OPENSSL_cleanse(rnd, sizeof rnd);
    return 0;
}

void srv_token_hash(const char *token, size_t len, char out[65])
{
    uint8_t d[32];
    SHA256((const unsigned char *)token, len, d);
    srv_hex(d, sizeof d, out);
}
