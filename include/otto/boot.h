/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bootloader's decision, as ESP-IDF's second-stage bootloader makes it
 * (rollback on, anti-rollback optional): turn PENDING_VERIFY entries into
 * ABORTED, pick the active otadata entry, turn NEW into PENDING_VERIFY,
 * verify the image and fall back down then up the slots when it does not
 * verify, raise the anti-rollback counter for a VALID image. It writes
 * otadata and the eFuse as ESP-IDF does; a power cut in any of those writes
 * returns OTTO_E_IO and the next call decides again from what survived.
 *
 * Errors: OTTO_E_NOTFOUND (nothing bootable: real hardware resets and
 * loops), OTTO_E_IO (flash/eFuse), OTTO_E_CORRUPT (otadata partition bad).
 */
#ifndef OTTO_BOOT_H
#define OTTO_BOOT_H

#include <stdbool.h>
#include <stdint.h>
#include "otto/hal.h"
#include "otto/image.h"
#include "otto/otadata.h"
#include "otto/part.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_BOOT_FACTORY (-1) /**< slot value of the factory app */
#define OTTO_BOOT_TEST    (-2) /**< slot value of the test app */
#define OTTO_SLOT_NONE    (-3) /**< not an app partition, or none */

/** Why this image was chosen. */
typedef enum {
    OTTO_BOOT_NO_OTADATA = 1, /**< table has no otadata: factory */
    OTTO_BOOT_NO_ENTRY,       /**< no usable otadata entry: factory */
    OTTO_BOOT_INITIAL,        /**< otadata blank, no factory: ota_0, entry written */
    OTTO_BOOT_ACTIVE,         /**< the active otadata entry's slot */
    OTTO_BOOT_FALLBACK        /**< the chosen image failed; another one booted */
} otto_boot_why_t;

typedef struct {
    const otto_part_t *part;  /**< partition that boots */
    int slot;                 /**< OTA slot, or OTTO_BOOT_FACTORY / OTTO_BOOT_TEST */
    int chosen_slot;          /**< what otadata asked for before any fallback */
    otto_boot_why_t why;
    int entry;                /**< active otadata entry (0/1), -1 if none */
    uint32_t state;           /**< that entry's state after this boot's writes */
    uint8_t aborted;          /**< bit i: entry i was PENDING_VERIFY, now ABORTED */
    bool pending;             /**< entry went NEW -> PENDING_VERIFY on this boot */
    uint32_t efuse_before;    /**< anti-rollback counter before / after boot */
    uint32_t efuse_after;
    uint32_t rejected;        /**< bit per attempted slot+2 whose image failed */
    int reject_err;           /**< error of the first rejected image */
    otto_image_info_t info;   /**< header and descriptor of the booted image */
} otto_boot_result_t;

/** Decide and prepare the boot. table must be loaded from the same flash. */
int otto_boot_select(const otto_platform_t *plat, const otto_part_table_t *table,
                     otto_boot_result_t *res);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_BOOT_H */
