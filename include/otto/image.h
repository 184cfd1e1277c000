/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP32 app images: a streaming checker that accepts the image in chunks of
 * any size (as it arrives over the network or is read back from flash) and
 * checks header, segments, XOR checksum and appended SHA-256, decoding the
 * app descriptor on the way. Layout in device/image.c and docs/formats.md.
 *
 * The checker is a caller-owned struct (about 700 bytes) holding no pointers.
 * Errors are sticky: once feed() fails it keeps returning that error.
 * OTTO_E_CORRUPT (bad magic, segment count or length, truncated image),
 * OTTO_E_CHIP (other chip id or revision), OTTO_E_NOSPC (longer than the
 * slot), OTTO_E_VERIFY (checksum or SHA-256 mismatch).
 */
#ifndef OTTO_IMAGE_H
#define OTTO_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/crypto.h"
#include "otto/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_IMAGE_MAGIC        0xE9u
#define OTTO_IMAGE_HEADER_LEN   24u
#define OTTO_IMAGE_SEG_HDR_LEN  8u
#define OTTO_IMAGE_MAX_SEGMENTS 16u
#define OTTO_APP_DESC_MAGIC     0xABCD5432u
#define OTTO_APP_DESC_LEN       256u
#define OTTO_APP_DESC_OFFSET    32u   /**< header + first segment header */
/** Bytes needed before header, chip and secure_version can be judged. */
#define OTTO_IMAGE_HEAD_LEN     (OTTO_APP_DESC_OFFSET + OTTO_APP_DESC_LEN)

#define OTTO_CHIP_ESP32   0x0000u
#define OTTO_CHIP_ESP32S2 0x0002u
#define OTTO_CHIP_ESP32C3 0x0005u
#define OTTO_CHIP_ESP32S3 0x0009u
#define OTTO_CHIP_ESP32C2 0x000Cu
#define OTTO_CHIP_ESP32C6 0x000Du
#define OTTO_CHIP_ESP32H2 0x0010u
#define OTTO_CHIP_ANY     0xFFFFu

/* otto's optional 16-byte block right after the app descriptor in segment
 * 0: "OTTO", flags (u32), 8 reserved bytes. ESP-IDF tools ignore it. */
#define OTTO_APP_BLOCK_MAGIC        0x4F54544Fu /* "OTTO" */
#define OTTO_APP_BLOCK_LEN          16u
#define OTTO_APP_FLAG_SELFTEST_FAIL 0x1u /**< simulated app fails its self-test */

typedef struct {
    uint8_t segments;
    uint8_t spi_mode;
    uint8_t spi_speed;   /**< low nibble of byte 3 */
    uint8_t flash_size;  /**< high nibble of byte 3 */
    uint32_t entry;
    uint16_t chip_id;
    uint8_t min_rev;
    uint16_t min_rev_full;
    uint16_t max_rev_full;
    uint8_t hash_appended;
} otto_image_header_t;

typedef struct {
    uint32_t secure_version;
    char version[33];
    char project[33];
    char time[17];
    char date[17];
    char idf_ver[33];
    uint8_t elf_sha256[32];
} otto_app_desc_t;

typedef struct {
    otto_image_header_t hdr;
    otto_app_desc_t desc;
    bool has_otto_block;
    uint32_t otto_flags;   /**< OTTO_APP_FLAG_* */
    uint32_t length;       /**< whole image incl. checksum and hash; 0 until done */
    uint8_t sha256[32];    /**< SHA-256 of bytes [0, checksum byte]; valid once done */
} otto_image_info_t;

typedef struct {
    otto_image_info_t info;
    otto_sha256_t sha;
    uint32_t pos;          /**< bytes consumed so far */
    uint32_t max_len;      /**< the slot size */
    uint32_t left;         /**< bytes left in the current field */
    uint32_t csum_at;      /**< offset of the checksum byte */
    uint32_t trailing;     /**< bytes fed after the end of the image */
    uint16_t chip_id;      /**< expected chip, or OTTO_CHIP_ANY */
    uint16_t chip_rev;     /**< this chip's revision (major*100+minor) */
    uint8_t phase;
    uint8_t seg;
    uint8_t csum;
    uint8_t hbuf_len;
    uint8_t hbuf[32];      /**< assembles headers and the trailing hash */
    uint16_t cap_len;
    uint8_t cap[OTTO_APP_DESC_LEN + OTTO_APP_BLOCK_LEN]; /**< start of segment 0 */
    bool head_ok;          /**< header and descriptor seen and well-formed */
    int err;               /**< sticky error */
} otto_image_check_t;

/** Start checking an image for chip_id (OTTO_CHIP_ANY skips the chip and
 *  revision checks) that may be at most max_len bytes. */
int otto_image_check_init(otto_image_check_t *c, uint16_t chip_id, uint16_t chip_rev,
                          uint32_t max_len);

/** Feed the next len bytes. OTTO_OK means "so far so good". */
int otto_image_check_feed(otto_image_check_t *c, const void *data, size_t len);

/** True once header and descriptor have been parsed (info.hdr/desc valid). */
bool otto_image_check_head_ok(const otto_image_check_t *c);

/** True once the whole image (up to its hash) has been fed and verified. */
bool otto_image_check_done(const otto_image_check_t *c);

/** Finish: OTTO_OK when the image was complete and verified; OTTO_E_CORRUPT
 *  when it is truncated; the sticky error otherwise. */
int otto_image_check_finish(otto_image_check_t *c);

/** Verify the image stored at flash offset off in a slot of slot_len bytes,
 *  reading it back. info may be NULL. */
int otto_image_verify_flash(const otto_flash_t *flash, uint32_t off, uint32_t slot_len,
                            uint16_t chip_id, uint16_t chip_rev, otto_image_info_t *info);

/** Read only the header and descriptor of the image at off (no hash check). */
int otto_image_read_head(const otto_flash_t *flash, uint32_t off, uint32_t slot_len,
                         otto_image_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_IMAGE_H */
