/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the device's trusted-key list under hostile input: a stored
 * "trust" record (flash may hold anything), then key updates drawn from the
 * input, checked by a fake verifier that takes signatures starting 'G'.
 * The list must never exceed 3 keys, never become empty, and change only
 * when an update is accepted. */
#include <string.h>
#include "otto/err.h"
#include "otto/trust.h"

static const uint8_t *rec;
static size_t reclen;

static int get_blob(void *ctx, const char *key, void *buf, size_t cap, size_t *len)
{
    (void)ctx;
    if (strcmp(key, "trust") || !reclen)
        return OTTO_E_NOTFOUND;
    if (reclen > cap)
        return OTTO_E_NOSPC;
    memcpy(buf, rec, reclen);
    *len = reclen;
    return OTTO_OK;
}

static int verify(void *ctx, const uint8_t key[65], const uint8_t sha[32], const uint8_t *sig, size_t len)
{
    (void)ctx; (void)sha;
    if (key[0] != 0x04)
        __builtin_trap(); /* only stored points are asked */
    return len && sig[0] == 'G' ? OTTO_OK : OTTO_E_SIGNATURE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    otto_store_t st = {NULL, NULL, NULL, NULL, NULL, get_blob, NULL, NULL};
    otto_trust_t t;
    if (len < 1)
        return 0;
    reclen = data[0] < len - 1 ? data[0] : len - 1;
    rec = data + 1;
    data += 1 + reclen;
    len -= 1 + reclen;
    if (otto_trust_load(&st, &t) != OTTO_OK) {
        t.n = 1;
        memset(t.key[0], 0, 65);
        t.key[0][0] = 0x04;
    }
    for (unsigned i = 0; t.n && i < t.n; i++)
        if (t.n > OTTO_TRUST_KEYS)
            __builtin_trap();
    /* updates: op (1), key (65), siglen (1), sig */
    while (len >= 67) {
        uint8_t key[65];
        otto_trust_t before = t;
        int op = data[0] & 3;
        memcpy(key, data + 1, 65);
        size_t sl = data[66] < len - 67 ? data[66] : len - 67;
        int err = otto_trust_update(&t, op, key, data + 67, sl, verify, NULL);
        if (t.n == 0 || t.n > OTTO_TRUST_KEYS || (err != OTTO_OK && memcmp(&t, &before, sizeof t)))
            __builtin_trap();
        data += 67 + sl;
        len -= 67 + sl;
    }
    return 0;
}
