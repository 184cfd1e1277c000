/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A power-safe key-value store in a flash partition of its own (`ottokv`,
 * data subtype 0x41; never the application's `nvs`), for the agent's job
 * and download checkpoints; otto_kv_store gives it as the agent's store. Format and reasoning: device/kv.c
 * and docs/formats.md ("Key-value store").
 *
 * Promises:
 * - Every set/erase is durable when it returns OTTO_OK: it is its own
 *   commit. A power cut during one leaves every key with its old or its new
 *   value, never garbage (each record has a CRC-32 and is read back after it
 *   is written; a torn record is ignored).
 * - Writes go around the partition's sectors in a ring, so wear spreads over
 *   all of them; one sector is kept erased for compaction.
 * - Mount tells an empty partition (all 0xFF: formatted, OTTO_KV_EMPTY) from
 *   a corrupt one (no valid sector but not blank: OTTO_E_CORRUPT unless
 *   format is true, then OTTO_KV_FORMATTED).
 * - No malloc; the struct is the whole state (about 290 bytes); reads use a
 *   small stack buffer.
 *
 * Keys are 1-15 bytes of printable ASCII. Values: 64-bit integers, strings
 * and blobs up to OTTO_KV_VALUE_MAX bytes. Errors: OTTO_E_NOTFOUND (no such
 * key, or a key of another type), OTTO_E_NOSPC (partition full, or caller's
 * buffer too small), OTTO_E_INVAL (bad key or size), OTTO_E_IO (flash).
 */
#ifndef OTTO_KV_H
#define OTTO_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/config_defaults.h"
#include "otto/hal.h"
#include "otto/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OTTO_CONFIG_KV_SECTORS_MAX
#define OTTO_CONFIG_KV_SECTORS_MAX 32
#endif

#define OTTO_KV_KEY_MAX   15u
#define OTTO_KV_VALUE_MAX 1024u

typedef enum {
    OTTO_KV_MOUNTED = 0,  /**< existing data found */
    OTTO_KV_EMPTY = 1,    /**< the partition was blank; formatted */
    OTTO_KV_FORMATTED = 2 /**< the partition held no valid store; formatted (format = true) */
} otto_kv_mount_t;

typedef struct {
    const otto_flash_t *flash;
    uint32_t base;        /**< partition offset, bytes */
    uint32_t sector;      /**< sector size, bytes */
    uint16_t nsec;        /**< sectors in the partition */
    uint16_t active;      /**< the sector new records go to */
    bool active_full;     /**< a torn record ends it: write elsewhere */
    uint32_t seq[OTTO_CONFIG_KV_SECTORS_MAX]; /**< 0: not in use (erased) */
    uint32_t end[OTTO_CONFIG_KV_SECTORS_MAX]; /**< end of the checked records (of the
                                                   active sector: where the next goes) */
    uint32_t erases;      /**< sector erases since mount (for wear figures) */
} otto_kv_t;

/** Mount the store in [off, off + size) (whole sectors, at least 2). */
int otto_kv_mount(otto_kv_t *kv, const otto_flash_t *flash, uint32_t off, uint32_t size,
                  bool format, otto_kv_mount_t *how);

int otto_kv_set_int(otto_kv_t *kv, const char *key, int64_t value);
int otto_kv_get_int(otto_kv_t *kv, const char *key, int64_t *value);

/** Strings are stored without their NUL; get writes one (cap includes it). */
int otto_kv_set_str(otto_kv_t *kv, const char *key, const char *value);
int otto_kv_get_str(otto_kv_t *kv, const char *key, char *buf, size_t cap);

int otto_kv_set_blob(otto_kv_t *kv, const char *key, const void *value, size_t len);
/** *len gets the stored length; OTTO_E_NOSPC (and *len) if cap is smaller. */
int otto_kv_get_blob(otto_kv_t *kv, const char *key, void *buf, size_t cap, size_t *len);

/** Remove a key; OTTO_OK if it was not there. */
int otto_kv_erase(otto_kv_t *kv, const char *key);

/** The store interface (store.h) over kv, which must outlive s. */
void otto_kv_store(otto_kv_t *kv, otto_store_t *s);

/** Bytes still free for records before a compaction is needed, over all
 *  sectors but the spare (a figure, not a promise: compaction frees more). */
uint32_t otto_kv_free(const otto_kv_t *kv);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_KV_H */
