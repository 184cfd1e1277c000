/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers boot.c and ota.c share: app slots and whether one may boot. */
#ifndef OTTO_INTERNAL_SLOT_H
#define OTTO_INTERNAL_SLOT_H

#include "otto/boot.h"

/* OTA slot index of p, OTTO_BOOT_FACTORY, OTTO_BOOT_TEST, or -3. */
int otto_slot_of(const otto_part_t *p);

/* Partition of a slot value (as above), or NULL. */
const otto_part_t *otto_slot_part(const otto_part_table_t *t, int slot);

/* The image in p verifies for this chip and, with anti-rollback, its
 * secure_version is not below the eFuse. info may be NULL. */
int otto_slot_check(const otto_platform_t *plat, const otto_part_t *p,
                    otto_image_info_t *info);

/* Read the eFuse counter (0 when the platform has none). */
int otto_efuse_value(const otto_platform_t *plat, uint32_t *v);

/* Raise the eFuse counter to v, capped at the field width; a no-op without
 * anti-rollback. */
int otto_efuse_raise(const otto_platform_t *plat, uint32_t v);

#endif
