/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the agent and the relay keep what must survive a reboot: a small
 * typed key-value store that the port provides. otto's own kv (kv.h, in a
 * partition of its own: `ottokv`) is one; on ESP-IDF the port may give the
 * real NVS API under an `otto` namespace instead (ports/template/store_nvs.c)
 * -- never the application's `nvs` partition in another format.
 *
 * Promises a store keeps:
 * - set_* and erase are durable when they return OTTO_OK (a port over NVS
 *   commits each one), and a power cut during one leaves the old value or
 *   the new one;
 * - get_* of a key that is missing, or was set with another type, is
 *   OTTO_E_NOTFOUND; erase of a missing key is OTTO_OK;
 * - keys are 1-15 printable ASCII bytes; strings and blobs up to 1,000 bytes;
 * - get_str writes a NUL (cap counts it); get_blob sets *len, and a buffer
 *   too small is OTTO_E_NOSPC. Other errors: OTTO_E_IO (the medium).
 */
#ifndef OTTO_STORE_H
#define OTTO_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "otto/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct otto_store {
    void *ctx;
    int (*get_int)(void *ctx, const char *key, int64_t *value);
    int (*set_int)(void *ctx, const char *key, int64_t value);
    int (*get_str)(void *ctx, const char *key, char *buf, size_t cap);
    int (*set_str)(void *ctx, const char *key, const char *value);
    int (*get_blob)(void *ctx, const char *key, void *buf, size_t cap, size_t *len);
    int (*set_blob)(void *ctx, const char *key, const void *value, size_t len);
    int (*erase)(void *ctx, const char *key);
} otto_store_t;

static inline int otto_store_get_int(const otto_store_t *s, const char *k, int64_t *v)
{
    return s->get_int(s->ctx, k, v);
}
static inline int otto_store_set_int(const otto_store_t *s, const char *k, int64_t v)
{
    return s->set_int(s->ctx, k, v);
}
static inline int otto_store_get_str(const otto_store_t *s, const char *k, char *b, size_t cap)
{
    return s->get_str(s->ctx, k, b, cap);
}
static inline int otto_store_set_str(const otto_store_t *s, const char *k, const char *v)
{
    return s->set_str(s->ctx, k, v);
}
static inline int otto_store_get_blob(const otto_store_t *s, const char *k, void *b, size_t cap, size_t *len)
{
    return s->get_blob(s->ctx, k, b, cap, len);
}
static inline int otto_store_set_blob(const otto_store_t *s, const char *k, const void *v, size_t len)
{
    return s->set_blob(s->ctx, k, v, len);
}
static inline int otto_store_erase(const otto_store_t *s, const char *k)
{
    return s->erase(s->ctx, k);
}

#ifdef __cplusplus
}
#endif
#endif /* OTTO_STORE_H */
