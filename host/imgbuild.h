/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-side builder of ESP32 app images (for `otto image build`, the
 * simulator and tests). The image is real: header, a DROM segment that
 * starts with the app descriptor and otto's block, a payload, checksum and
 * appended SHA-256, so ESP-IDF's tools and otto's device core both accept it.
 */
#ifndef OTTO_HOST_IMGBUILD_H
#define OTTO_HOST_IMGBUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *version;      /**< e.g. "1.2.0" (<= 31 chars) */
    const char *project;      /**< <= 31 chars */
    uint32_t secure_version;
    uint16_t chip_id;         /**< OTTO_CHIP_* */
    uint16_t min_rev;         /**< min chip revision (major*100+minor) */
    uint16_t max_rev;         /**< 0 = no limit */
    const uint8_t *payload;   /**< copied after the descriptor; may be NULL */
    size_t payload_len;
    uint32_t size;            /**< wanted total size (rounded up to 16); 0 = natural */
    uint32_t otto_flags;      /**< OTTO_APP_FLAG_* */
    const char *date;         /**< NULL: "Jan  1 2026" (reproducible builds) */
    const char *time;         /**< NULL: "00:00:00" */
} otto_imgspec_t;

/** Build the image into a malloc'd buffer (*out, *len). Returns 0 or a
 *  negative otto_err_t (OTTO_E_INVAL for a bad spec, OTTO_E_NOSPC when size
 *  is too small for descriptor + payload). */
int otto_img_build(const otto_imgspec_t *spec, uint8_t **out, size_t *len);

/** Give an existing image (ESP-IDF's or otto's) another version and
 *  secure_version in its app descriptor, with its checksum and appended
 *  SHA-256 made again, in place. *out_len is the image's length without
 *  what followed it (a Secure Boot signature block signs the old bytes:
 *  sign again). OTTO_E_INVAL when img is not an app image. */
int otto_img_restamp(uint8_t *img, size_t len, const char *version, uint32_t secure_version, size_t *out_len);

#endif
