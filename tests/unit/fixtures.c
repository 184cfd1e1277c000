/* SPDX-License-Identifier: Apache-2.0 */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>

#include "imgbuild.h"
#include "partcsv.h"
#include "otto/crypto.h"
#include <string.h>

uint8_t *fx_image(const char *version, uint32_t secure_version, uint32_t size, uint32_t flags,
                  size_t *len)
{
    otto_imgspec_t s = {0};
    uint8_t *img = NULL;
    s.version = version;
    s.project = "demo";
    s.secure_version = secure_version;
    s.chip_id = OTTO_CHIP_ESP32;
    s.size = size;
    s.otto_flags = flags;
    if (otto_img_build(&s, &img, len) != 0) {
        fprintf(stderr, "fixture: image build failed\n");
        abort();
    }
    return img;
}

uint8_t *fx_image_chip(const char *version, uint16_t chip, size_t *len)
{
    otto_imgspec_t s = {0};
    uint8_t *img = NULL;
    s.version = version;
    s.project = "demo";
    s.chip_id = chip;
    if (otto_img_build(&s, &img, len) != 0)
        abort();
    return img;
}

int fx_provision(otto_simdev_t *d, const uint8_t *factory, size_t len)
{
    return fx_provision_csv(d, otto_partcsv_default_layout, factory, len);
}

/* The default table of otto 0.x: no ottokv, its kv in nvs, mcufw 960K. */
const char fx_layout_v0[] =
    "nvs,      data, nvs,     0x9000,   0x4000,\n"
    "otadata,  data, ota,     0xd000,   0x2000,\n"
    "phy_init, data, phy,     0xf000,   0x1000,\n"
    "factory,  app,  factory, 0x10000,  1M,\n"
    "ota_0,    app,  ota_0,   0x110000, 1M,\n"
    "ota_1,    app,  ota_1,   0x210000, 1M,\n"
    "mcufw,    data, 0x40,    0x310000, 960K,\n";

int fx_provision_csv(otto_simdev_t *d, const char *csv, const uint8_t *factory, size_t len)
{
    return fx_provision_flash(d, OTTO_SIM_FLASH_SIZE, csv, factory, len);
}

int fx_provision_flash(otto_simdev_t *d, uint32_t flash_size, const char *csv, const uint8_t *factory, size_t len)
{
    otto_part_t parts[OTTO_PARTCSV_MAX];
    uint8_t bin[OTTO_PART_TABLE_LEN];
    char err[256];
    size_t n;
    int rc = otto_simdev_open_size(d, NULL, flash_size);
    if (rc)
        return rc;
    rc = otto_partcsv_parse(csv, NULL, parts, &n, err, sizeof(err));
    if (!rc)
        rc = otto_part_encode(parts, n, true, bin);
    if (rc)
        return rc;
    otto_simdev_flash_raw(d, OTTO_PART_TABLE_OFFSET, bin, sizeof(bin));
    otto_simdev_flash_raw(d, 0x10000, factory, len);
    return otto_part_load(&d->flash, OTTO_PART_TABLE_OFFSET, &d->table);
}

const otto_part_t *fx_part(otto_simdev_t *d, const char *label)
{
    return otto_part_find(&d->table, OTTO_PART_ANY, OTTO_PART_ANY, label);
}
