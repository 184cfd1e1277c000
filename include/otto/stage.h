/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Staging: write a blob (the MCU's firmware) into a data partition as it
 * downloads, erasing each sector just before its first byte, so a download
 * can be resumed after a power cut without erasing what is already there.
 * The bytes are not interpreted; the caller checks MD5/SHA-256.
 *
 * Errors: OTTO_E_NOSPC (more bytes than the partition), OTTO_E_INVAL,
 * OTTO_E_IO (flash). Nothing is held in RAM: every accepted byte is in flash.
 */
#ifndef OTTO_STAGE_H
#define OTTO_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include "otto/hal.h"
#include "otto/part.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const otto_flash_t *flash;
    const otto_part_t *part;
    uint32_t written;   /**< bytes in the partition so far */
    uint32_t erased_to; /**< partition-relative end of the erased region */
} otto_stage_t;

/** Start at byte 0 of part (nothing is erased yet). */
int otto_stage_begin(otto_stage_t *s, const otto_flash_t *flash, const otto_part_t *part);
/** Go on after the first `written` bytes, which an earlier otto_stage_t put
 *  there (the sector holding byte `written` is already erased). */
int otto_stage_resume(otto_stage_t *s, const otto_flash_t *flash, const otto_part_t *part,
                      uint32_t written);
int otto_stage_write(otto_stage_t *s, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_STAGE_H */
