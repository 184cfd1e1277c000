/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A port skeleton: copy this file into your firmware, fill in each TODO, and
 * the device core runs on your board. It compiles as it is (CI builds it) so
 * the contract in include/otto/hal.h and this file never drift apart.
 *
 * What a port provides:
 *   - otto_flash_t:  read / program / erase on the SPI NOR the app runs from
 *   - otto_efuse_t:  the anti-rollback counter (ESP32: SECURE_VERSION field)
 *   - otto_platform_t: chip id and revision, rollback flags (must match the
 *     bootloader's configuration)
 * Then: otto_part_load() the table, learn the running partition (the
 * bootloader's choice; on ESP-IDF esp_ota_get_running_partition()), and
 * otto_ota_ctx_init() - after that the whole ota.h API works.
 */
#include <stddef.h>
#include "otto/ota.h"
#include "otto/part.h"

typedef struct {
    int unused; /* TODO: your flash driver's handle */
} board_flash_t;

static int board_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    (void)ctx; (void)off; (void)buf; (void)len;
    return OTTO_E_IO; /* TODO: read len bytes at flash offset off */
}

static int board_program(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    (void)ctx; (void)off; (void)buf; (void)len;
    return OTTO_E_IO; /* TODO: program (AND) len bytes; never erase here */
}

static int board_erase(void *ctx, uint32_t off, uint32_t len)
{
    (void)ctx; (void)off; (void)len;
    return OTTO_E_IO; /* TODO: erase the sectors covering [off, off+len) */
}

static int board_fuse_read(void *ctx, uint32_t *value)
{
    (void)ctx;
    *value = 0; /* TODO: popcount of the SECURE_VERSION eFuse field */
    return OTTO_OK;
}

static int board_fuse_raise(void *ctx, uint32_t value)
{
    (void)ctx; (void)value;
    return OTTO_E_IO; /* TODO: burn bits 0..value-1 of SECURE_VERSION */
}

/* Call once at start-up; returns OTTO_OK when the ota API is ready. */
int otto_port_template_init(otto_ota_ctx_t *ota, otto_platform_t *plat, otto_part_table_t *table,
                            otto_flash_t *flash, otto_efuse_t *efuse, board_flash_t *board)
{
    flash->ctx = board;
    flash->read = board_read;
    flash->program = board_program;
    flash->erase = board_erase;
    flash->size = 4u * 1024u * 1024u; /* TODO: your flash size */
    flash->sector_size = 4096u;
    flash->write_align = 1u;

    efuse->ctx = board;
    efuse->read_secure_version = board_fuse_read;
    efuse->raise_secure_version = board_fuse_raise;
    efuse->width = 32u; /* TODO: the field width of your chip */

    plat->flash = flash;
    plat->efuse = efuse;
    plat->chip_id = OTTO_CHIP_ESP32; /* TODO */
    plat->chip_rev = 300u;           /* TODO: read from the chip */
    plat->rollback = 1u;             /* must match CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
    plat->anti_rollback = 1u;        /* must match CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK */

    int err = otto_part_load(flash, OTTO_PART_TABLE_OFFSET, table);
    if (err)
        return err;
    /* TODO: the partition the bootloader started; ota_0 is a placeholder */
    otto_ota_ctx_init(ota, plat, table, otto_part_ota_slot(table, 0));
    return OTTO_OK;
}
