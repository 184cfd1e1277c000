/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP-IDF otadata: the two "select entries" (one per 4 KiB sector of the
 * data/ota partition) that tell the bootloader which OTA slot to boot and in
 * which rollback state it is. Byte-compatible with ESP-IDF; layout in
 * device/otadata.c. Writes are erase-sector-then-program, so a power cut
 * leaves the written sector blank or with a bad CRC, and the other entry
 * wins. Errors: OTTO_E_IO (flash), OTTO_E_INVAL (partition too small).
 */
#ifndef OTTO_OTADATA_H
#define OTTO_OTADATA_H

#include <stdbool.h>
#include <stdint.h>
#include "otto/hal.h"
#include "otto/part.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_OTADATA_ENTRY_LEN 32u
#define OTTO_OTADATA_SEQ_BLANK 0xFFFFFFFFu

/* Image states (esp_ota_img_states_t, stored as u32). Plain macros, as
 * 0xFFFFFFFF does not fit a C99 enum. */
#define OTTO_IMG_NEW            0x0u        /**< selected, never booted */
#define OTTO_IMG_PENDING_VERIFY 0x1u        /**< booted once, not confirmed */
#define OTTO_IMG_VALID          0x2u        /**< confirmed by the app */
#define OTTO_IMG_INVALID        0x3u        /**< rejected by the app */
#define OTTO_IMG_ABORTED        0x4u        /**< rebooted before confirming */
#define OTTO_IMG_UNDEFINED      0xFFFFFFFFu /**< rollback disabled */

typedef struct {
    uint32_t seq;       /**< ota_seq; slot = (seq - 1) mod app_count */
    uint8_t label[20];  /**< seq_label, unused; kept as found */
    uint32_t state;     /**< OTTO_IMG_* */
    uint32_t crc;       /**< CRC-32 of the 4 seq bytes */
} otto_otadata_entry_t;

/** CRC of one sequence number as ESP-IDF stores it. */
uint32_t otto_otadata_crc(uint32_t seq);

/** Decode / encode one 32-byte entry. */
void otto_otadata_decode(const uint8_t raw[OTTO_OTADATA_ENTRY_LEN], otto_otadata_entry_t *e);
void otto_otadata_encode(const otto_otadata_entry_t *e, uint8_t raw[OTTO_OTADATA_ENTRY_LEN]);

/** Read both entries (index 0 = first sector). */
int otto_otadata_read(const otto_flash_t *flash, const otto_part_t *otadata,
                      otto_otadata_entry_t e[2]);

/** Write entry e into sector idx (0 or 1): erase, program the first 28
 *  bytes, then the CRC, so a torn write can never leave a good CRC over a
 *  half-written state. The CRC in e is recomputed. */
int otto_otadata_write(const otto_flash_t *flash, const otto_part_t *otadata,
                       unsigned idx, const otto_otadata_entry_t *e);

/** Erase one sector (idx 0/1), or both (idx 2). */
int otto_otadata_erase(const otto_flash_t *flash, const otto_part_t *otadata, unsigned idx);

/** "Invalid" by ESP-IDF's rule (blank seq, INVALID or ABORTED), ignoring CRC. */
bool otto_otadata_unusable(const otto_otadata_entry_t *e);

/** Usable and with a good CRC. */
bool otto_otadata_valid(const otto_otadata_entry_t *e);

/** Neither entry has a good CRC, or both are blank: the "initial state". */
bool otto_otadata_initial(const otto_otadata_entry_t e[2]);

/** Index (0/1) of the active entry: the valid one with the larger seq,
 *  sector 0 on a tie; -1 when neither is valid. */
int otto_otadata_active(const otto_otadata_entry_t e[2]);

/** OTA slot an entry selects, given app_count > 0. */
unsigned otto_otadata_slot(uint32_t seq, unsigned app_count);

/** Smallest seq >= floor that maps to slot k: what set_boot writes. */
uint32_t otto_otadata_next_seq(uint32_t floor, unsigned k, unsigned app_count);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_OTADATA_H */
