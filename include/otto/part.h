/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP-IDF binary partition table: parse and check it (device side), encode
 * it (host tools). Layout in device/part.c and docs/formats.md.
 *
 * otto_part_load() reads 0xC00 bytes at the table offset 32 bytes at a time
 * (no large buffer) and fills a caller-owned otto_part_table_t; the table
 * keeps copies, no pointers into flash. Errors: OTTO_E_CORRUPT (bad magic,
 * MD5, no end marker, empty table, entry outside the flash), OTTO_E_NOSPC
 * (more partitions than OTTO_CONFIG_PART_MAX), OTTO_E_IO (flash).
 */
#ifndef OTTO_PART_H
#define OTTO_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/config_defaults.h"
#include "otto/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_PART_TABLE_OFFSET   0x8000u /**< ESP-IDF default */
#define OTTO_PART_TABLE_LEN      0xC00u  /**< bytes the generator writes */
#define OTTO_PART_ENTRY_LEN      32u
#define OTTO_PART_MAGIC          0x50AAu /**< bytes AA 50 */
#define OTTO_PART_MD5_MAGIC      0xEBEBu
#define OTTO_PART_LABEL_LEN      16u

#define OTTO_PART_TYPE_APP       0x00u
#define OTTO_PART_TYPE_DATA      0x01u
#define OTTO_PART_SUB_FACTORY    0x00u
#define OTTO_PART_SUB_OTA_MIN    0x10u   /**< ota_0; ota_k = 0x10 + k */
#define OTTO_PART_SUB_OTA_MAX    0x1Fu
#define OTTO_PART_SUB_TEST       0x20u
#define OTTO_PART_SUB_DATA_OTA   0x00u   /**< otadata */
#define OTTO_PART_SUB_DATA_PHY   0x01u
#define OTTO_PART_SUB_DATA_NVS   0x02u
#define OTTO_PART_SUB_MCUFW      0x40u   /**< otto: MCU firmware staging */
#define OTTO_PART_SUB_OTTOKV     0x41u   /**< otto: its own key-value store (kv.h) */
#define OTTO_PART_ANY            0xFFu   /**< wildcard for otto_part_find */

#define OTTO_PART_FLAG_ENCRYPTED 0x1u
#define OTTO_PART_FLAG_READONLY  0x2u

typedef struct {
    uint8_t type;
    uint8_t subtype;
    uint32_t offset; /**< absolute flash address, bytes */
    uint32_t size;   /**< bytes */
    char label[OTTO_PART_LABEL_LEN + 1]; /**< NUL-terminated copy */
    uint32_t flags;
} otto_part_t;

typedef struct {
    otto_part_t part[OTTO_CONFIG_PART_MAX];
    uint16_t count;
    bool has_md5; /**< the table carried an MD5 entry, and it matched */
} otto_part_table_t;

/** Parse one 0xC00-byte table image already in RAM. flash_size bounds the
 *  entries (0 = do not check). */
int otto_part_parse(const uint8_t *raw, size_t len, uint32_t flash_size,
                    otto_part_table_t *out);

/** Read and parse the table at off from flash. */
int otto_part_load(const otto_flash_t *flash, uint32_t off, otto_part_table_t *out);

/** Encode n entries (in the given order) into out[OTTO_PART_TABLE_LEN]:
 *  entries, the MD5 entry when with_md5, then 0xFF. OTTO_E_NOSPC when the
 *  table would not be strictly shorter than 0xC00 bytes. */
int otto_part_encode(const otto_part_t *parts, size_t n, bool with_md5,
                     uint8_t out[OTTO_PART_TABLE_LEN]);

/** First partition matching type/subtype (OTTO_PART_ANY matches any) and
 *  label (NULL matches any); NULL when none. */
const otto_part_t *otto_part_find(const otto_part_table_t *t, uint8_t type,
                                  uint8_t subtype, const char *label);

/** Where otto keeps its store (store.h) when it uses its own kv: the
 *  `ottokv` partition; on a table from before it (otto 0.x: an `mcufw`
 *  partition and no `ottokv`), `nvs`, where those releases kept it. NULL
 *  when neither: otto never writes into an application's `nvs`. */
const otto_part_t *otto_part_store(const otto_part_table_t *t);

/** Number of OTA app slots counted from ota_0 upward, as the bootloader's
 *  sequence-to-slot mapping needs them contiguous. */
unsigned otto_part_ota_count(const otto_part_table_t *t);

/** Partition of OTA slot k (0-based), or NULL. */
const otto_part_t *otto_part_ota_slot(const otto_part_table_t *t, unsigned k);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_PART_H */
