/* SPDX-License-Identifier: Apache-2.0 */
/* Shared test fixtures: images and provisioned simulated devices. */
#ifndef OTTO_TEST_FIXTURES_H
#define OTTO_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include "simdev.h"

/* A valid ESP32 image (malloc'd). flags: OTTO_APP_FLAG_*. size 0 = small. */
uint8_t *fx_image(const char *version, uint32_t secure_version, uint32_t size, uint32_t flags,
                  size_t *len);
/* Same, for another chip. */
uint8_t *fx_image_chip(const char *version, uint16_t chip, size_t *len);
/* RAM device with the default layout and a factory image. Returns 0. */
int fx_provision(otto_simdev_t *d, const uint8_t *factory, size_t len);
/** img signed for Secure Boot v2 with the private key in pem (padded to
 *  4 KiB, then the signature sector); malloc'd, *out_len set. NULL on error. */
uint8_t *fx_sign_sbv2(const uint8_t *img, size_t len, const char *pem, size_t *out_len);
/* Same, with the table from a CSV; fx_layout_v0 is otto 0.x's default. */
int fx_provision_csv(otto_simdev_t *d, const char *csv, const uint8_t *factory, size_t len);
/** The same on a module with flash_size bytes of flash (an 8 MiB layout
 *  for images over 1 MiB). */
int fx_provision_flash(otto_simdev_t *d, uint32_t flash_size, const char *csv, const uint8_t *factory, size_t len);
extern const char fx_layout_v0[];
/* Partition by label on a booted or provisioned device. */
const otto_part_t *fx_part(otto_simdev_t *d, const char *label);

#endif
