/* SPDX-License-Identifier: Apache-2.0 */
#include "otto/trust.h"

#include <string.h>

#include "otto/crypto.h"
#include "otto/err.h"

#define RECORD_TAG 0x81u /* 0x80 | version 1, as record.h's records */
#define KEY "trust"

static const char hexd[] = "0123456789abcdef";

int otto_trust_load(const otto_store_t *s, otto_trust_t *t)
{
    uint8_t buf[2 + OTTO_TRUST_KEYS * OTTO_KEY_LEN];
    size_t len = 0;
    int err = otto_store_get_blob(s, KEY, buf, sizeof buf, &len);
    memset(t, 0, sizeof *t);
    if (err)
        return err;
    if (len < 2 || buf[0] != RECORD_TAG || buf[1] == 0 || buf[1] > OTTO_TRUST_KEYS ||
        len != 2u + (size_t)buf[1] * OTTO_KEY_LEN)
        return OTTO_E_CORRUPT;
    for (unsigned i = 0; i < buf[1]; i++)
        if (buf[2 + i * OTTO_KEY_LEN] != 0x04)
            return OTTO_E_CORRUPT; /* not an uncompressed point: not ours */
    t->n = buf[1];
    memcpy(t->key, buf + 2, (size_t)t->n * OTTO_KEY_LEN);
    return OTTO_OK;
}

int otto_trust_save(const otto_store_t *s, const otto_trust_t *t)
{
    uint8_t buf[2 + OTTO_TRUST_KEYS * OTTO_KEY_LEN];
    if (!t->n || t->n > OTTO_TRUST_KEYS)
        return OTTO_E_INVAL;
    for (unsigned i = 0; i < t->n; i++)
        if (t->key[i][0] != 0x04)
            return OTTO_E_INVAL;
    buf[0] = RECORD_TAG;
    buf[1] = t->n;
    memcpy(buf + 2, t->key, (size_t)t->n * OTTO_KEY_LEN);
    return otto_store_set_blob(s, KEY, buf, 2u + (size_t)t->n * OTTO_KEY_LEN);
}

int otto_trust_provision(const otto_store_t *s, const uint8_t (*keys)[OTTO_KEY_LEN], unsigned n)
{
    otto_trust_t t;
    int err = otto_trust_load(s, &t);
    if (err != OTTO_E_NOTFOUND)
        return err;
    if (!n || n > OTTO_TRUST_KEYS)
        return OTTO_E_INVAL;
    t.n = (uint8_t)n;
    memcpy(t.key, keys, (size_t)n * OTTO_KEY_LEN);
    return otto_trust_save(s, &t);
}

void otto_trust_key_id(const uint8_t key[OTTO_KEY_LEN], char out[17])
{
    uint8_t h[32];
    otto_sha256(key, OTTO_KEY_LEN, h);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hexd[h[i] >> 4];
        out[2 * i + 1] = hexd[h[i] & 15];
    }
    out[16] = 0;
}

size_t otto_trust_statement(int op, const uint8_t key[OTTO_KEY_LEN], char out[OTTO_KEY_STATEMENT_MAX])
{
    const char *head = op == OTTO_KEY_ADD ? "otto-key-update:1:add:"
                     : op == OTTO_KEY_REVOKE ? "otto-key-update:1:revoke:" : NULL;
    if (!head)
        return 0;
    size_t n = strlen(head);
    memcpy(out, head, n);
    for (int i = 0; i < OTTO_KEY_LEN; i++) {
        out[n++] = hexd[key[i] >> 4];
        out[n++] = hexd[key[i] & 15];
    }
    return n;
}

int otto_trust_verify(const otto_trust_t *t, otto_trust_verify_fn fn, void *ctx, const uint8_t sha256[32],
                      const uint8_t *sig, size_t len)
{
    for (unsigned i = 0; fn && i < t->n; i++)
        if (fn(ctx, t->key[i], sha256, sig, len) == OTTO_OK)
            return OTTO_OK;
    return OTTO_E_SIGNATURE;
}

static int find(const otto_trust_t *t, const uint8_t key[OTTO_KEY_LEN])
{
    for (unsigned i = 0; i < t->n; i++)
        if (!memcmp(t->key[i], key, OTTO_KEY_LEN))
            return (int)i;
    return -1;
}

int otto_trust_update(otto_trust_t *t, int op, const uint8_t key[OTTO_KEY_LEN], const uint8_t *sig,
                      size_t len, otto_trust_verify_fn fn, void *ctx)
{
    char st[OTTO_KEY_STATEMENT_MAX];
    uint8_t sha[32];
    int at = find(t, key);
    size_t n = otto_trust_statement(op, key, st);
    if (!n || key[0] != 0x04)
        return OTTO_E_INVAL;
    if ((op == OTTO_KEY_ADD) == (at >= 0))
        return OTTO_E_EXISTS; /* applied already: nothing to check or do */
    if (op == OTTO_KEY_ADD && t->n == OTTO_TRUST_KEYS)
        return OTTO_E_NOSPC;
    if (op == OTTO_KEY_REVOKE && t->n == 1)
        return OTTO_E_STATE;
    int err = otto_sha256(st, n, sha);
    if (!err)
        err = otto_trust_verify(t, fn, ctx, sha, sig, len);
    if (err)
        return err;
    if (op == OTTO_KEY_ADD) {
        memcpy(t->key[t->n++], key, OTTO_KEY_LEN);
    } else {
        memmove(t->key[at], t->key[at + 1], (size_t)(t->n - at - 1) * OTTO_KEY_LEN);
        t->n--;
    }
    return OTTO_OK;
}
