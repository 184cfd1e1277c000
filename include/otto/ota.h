/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a new app image and switching to it, from the running app (the
 * equivalent of ESP-IDF's esp_ota_* calls), power-cut safe at every step.
 *
 *   begin -> write... -> end -> set_boot -> (reboot) -> mark_valid
 *                                                    or mark_invalid_and_reboot
 *
 * otto_ota_ctx_t is the running app's view: platform, partition table and
 * the partition the bootloader started (from otto_boot_result_t.part). All
 * three must outlive it. otto_ota_t is one update in progress; it holds
 * the first OTTO_IMAGE_HEAD_LEN + 16 bytes until the header and descriptor
 * can be judged, so an image for another chip, with bad magic or below the
 * anti-rollback counter is refused before a byte of it reaches flash.
 *
 * Errors: OTTO_E_STATE (target is the running slot; running image still
 * PENDING_VERIFY; no active entry), OTTO_E_CHIP, OTTO_E_VERSION,
 * OTTO_E_CORRUPT, OTTO_E_VERIFY, OTTO_E_NOSPC, OTTO_E_NOROLLBACK,
 * OTTO_E_IO. After an error an otto_ota_t keeps returning it: begin again.
 */
#ifndef OTTO_OTA_H
#define OTTO_OTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/boot.h"
#include "otto/hal.h"
#include "otto/image.h"
#include "otto/part.h"

#ifdef __cplusplus
extern "C" {
#endif

/** begin(image_size): erase the whole slot up front. */
#define OTTO_OTA_SIZE_UNKNOWN 0xFFFFFFFFu
/** begin(image_size): erase nothing up front; each sector just before it
 *  is first written (ESP-IDF OTA_WITH_SEQUENTIAL_WRITES). */
#define OTTO_OTA_SEQUENTIAL   0xFFFFFFFEu

typedef struct {
    const otto_platform_t *plat;
    const otto_part_table_t *table;
    const otto_part_t *running;
} otto_ota_ctx_t;

typedef struct {
    const otto_ota_ctx_t *ctx;
    const otto_part_t *target;
    uint32_t written;     /**< bytes accepted so far (held + programmed) */
    uint32_t erased_to;   /**< slot-relative end of the erased region */
    otto_image_check_t check;
    uint16_t held;        /**< bytes in head[] not yet programmed */
    uint8_t head[OTTO_IMAGE_HEAD_LEN + OTTO_APP_BLOCK_LEN];
    bool head_checked;    /**< chip and secure_version accepted */
    bool open;
    int err;              /**< sticky */
} otto_ota_t;

/** Fill ctx. running is the booted partition. */
void otto_ota_ctx_init(otto_ota_ctx_t *ctx, const otto_platform_t *plat,
                       const otto_part_table_t *table, const otto_part_t *running);

/** The slot an update should go to: the OTA slot after the running one
 *  (ota_0 when running factory); NULL when there is none. */
const otto_part_t *otto_ota_next_slot(const otto_ota_ctx_t *ctx);

/** Start writing an image of image_size bytes (or OTTO_OTA_SIZE_UNKNOWN /
 *  OTTO_OTA_SEQUENTIAL) into target (NULL: otto_ota_next_slot). */
int otto_ota_begin(otto_ota_t *ota, const otto_ota_ctx_t *ctx,
                   const otto_part_t *target, uint32_t image_size);

/** Continue an update after a reboot or power cut: the first `written`
 *  bytes are already in target (written by an earlier otto_ota_t with
 *  OTTO_OTA_SEQUENTIAL). They are read back and re-checked, nothing is
 *  erased, and writing goes on at `written`. When fewer than the head's
 *  bytes were written, it starts at 0 instead: see ota->written. */
int otto_ota_resume(otto_ota_t *ota, const otto_ota_ctx_t *ctx,
                    const otto_part_t *target, uint32_t written);

/** Append len bytes, any chunking. */
int otto_ota_write(otto_ota_t *ota, const void *data, size_t len);

/** Finish: the image must be complete, with nothing after it, and verify
 *  both as streamed and as read back from flash. info may be NULL. */
int otto_ota_end(otto_ota_t *ota, otto_image_info_t *info);

/** Abandon an update; the slot is left as it is (never booted). */
void otto_ota_abort(otto_ota_t *ota);

/** Make p boot next: verify it, then write the next otadata entry (state
 *  NEW with rollback, UNDEFINED without). p may be the factory app (otadata
 *  is erased). With anti-rollback an image below the eFuse is erased and
 *  OTTO_E_VERSION returned. */
int otto_ota_set_boot(const otto_ota_ctx_t *ctx, const otto_part_t *p);

/** The running image passed its self-test: make it VALID (written to the
 *  other otadata sector with seq + slot count, so no instant exists with
 *  no entry for it), then raise the eFuse to its secure_version. */
int otto_ota_mark_valid(const otto_ota_ctx_t *ctx);

/** The running image failed its self-test: check that something else can
 *  boot (OTTO_E_NOROLLBACK otherwise, and nothing is changed), mark the
 *  running entry INVALID. On OTTO_OK the caller must reboot now. */
int otto_ota_mark_invalid_and_reboot(const otto_ota_ctx_t *ctx);

/** State of the running image: of the active otadata entry when it selects
 *  the running slot. OTTO_E_NOTFOUND for a factory or fallback boot. */
int otto_ota_running_state(const otto_ota_ctx_t *ctx, uint32_t *state);

/** State of slot p: of the first otadata entry (sector 0 then 1) that maps
 *  to p and has a good CRC. OTTO_E_NOTFOUND when none does. */
int otto_ota_slot_state(const otto_ota_ctx_t *ctx, const otto_part_t *p, uint32_t *state);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_OTA_H */
