/* SPDX-License-Identifier: Apache-2.0 */
#include "simdev.h"
#include "sbv2.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int otto_simdev_open(otto_simdev_t *d, const char *path)
{
    struct stat st;
    uint32_t size = OTTO_SIM_FLASH_SIZE;
    if (path && stat(path, &st) == 0 && st.st_size > 0 && st.st_size <= 0x40000000)
        size = (uint32_t)st.st_size;
    return otto_simdev_open_size(d, path, size);
}

int otto_simdev_open_size(otto_simdev_t *d, const char *path, uint32_t size)
{
    char epath[600];
    int err;

    memset(d, 0, sizeof(*d));
    otto_power_init(&d->power);
    if (path) {
        err = otto_simflash_open_file(&d->sf, &d->power, path, size, OTTO_SIM_SECTOR);
        snprintf(epath, sizeof(epath), "%s.efuse", path);
    } else {
        err = otto_simflash_open_mem(&d->sf, &d->power, size, OTTO_SIM_SECTOR);
    }
    if (err)
        return err;
    err = otto_simefuse_open(&d->se, &d->power, path ? epath : NULL, 32);
    if (err) {
        otto_simflash_close(&d->sf);
        return err;
    }
    otto_simflash_hal(&d->sf, &d->flash);
    otto_simefuse_hal(&d->se, &d->efuse);
    d->plat.flash = &d->flash;
    d->plat.efuse = &d->efuse;
    d->plat.chip_id = OTTO_CHIP_ESP32;
    d->plat.chip_rev = OTTO_SIM_CHIP_REV;
    d->plat.rollback = 1;
    d->plat.anti_rollback = 1;
    d->sb.ctx = &d->se;
    d->sb.read_keys = otto_simefuse_sbv2_read;
    d->sb.verify_block = otto_linux_sbv2_verify_block;
    d->plat.secure_boot = d->se.sb_n ? &d->sb : NULL;
    return OTTO_OK;
}

int otto_simdev_secure_boot_key(otto_simdev_t *d, const char *pem)
{
    uint8_t digest[32];
    unsigned version;
    int err = otto_linux_sbv2_key_digest(pem, digest, &version);
    if (!err)
        err = otto_simefuse_sbv2_burn(&d->se, digest);
    if (!err)
        d->plat.secure_boot = &d->sb;
    return err;
}

int otto_simdev_secure_boot_revoke(otto_simdev_t *d, unsigned block)
{
    return otto_simefuse_sbv2_revoke(&d->se, block);
}

void otto_simdev_close(otto_simdev_t *d)
{
    otto_simflash_close(&d->sf);
}

int otto_simdev_boot(otto_simdev_t *d)
{
    int err;
    d->booted = 0;
    err = otto_part_load(&d->flash, OTTO_PART_TABLE_OFFSET, &d->table);
    if (err)
        return err;
    err = otto_boot_select(&d->plat, &d->table, &d->boot);
    if (err)
        return err;
    otto_ota_ctx_init(&d->ota, &d->plat, &d->table, d->boot.part);
    d->booted = 1;
    return OTTO_OK;
}

int otto_simdev_app_start(otto_simdev_t *d, otto_app_outcome_t *outcome)
{
    otto_image_info_t self;
    uint32_t state;
    int err;

    *outcome = OTTO_APP_RUNNING;
    if (!d->booted)
        return OTTO_E_STATE;
    /* The app reads its own descriptor from flash, like esp_app_get_description(). */
    err = otto_image_read_head(&d->flash, d->boot.part->offset, d->boot.part->size, &self);
    if (err)
        return err;
    err = otto_ota_running_state(&d->ota, &state);
    if (err == OTTO_E_NOTFOUND || d->boot.slot < 0)
        return OTTO_OK; /* factory or fallback boot: nothing to confirm */
    if (err)
        return err;
    if (state != OTTO_IMG_PENDING_VERIFY || d->boot.why == OTTO_BOOT_FALLBACK)
        return OTTO_OK;
    if (self.otto_flags & OTTO_APP_FLAG_SELFTEST_FAIL) {
        err = otto_ota_mark_invalid_and_reboot(&d->ota);
        if (err == OTTO_E_NOROLLBACK) {
            *outcome = OTTO_APP_STUCK;
            return OTTO_OK;
        }
        if (!err)
            *outcome = OTTO_APP_ROLLED_BACK;
        return err;
    }
    err = otto_ota_mark_valid(&d->ota);
    if (!err)
        *outcome = OTTO_APP_CONFIRMED;
    return err;
}

int otto_simdev_install(otto_simdev_t *d, const uint8_t *img, size_t len, size_t chunk,
                        uint32_t erase_mode)
{
    otto_ota_t ota;
    int err;

    if (!d->booted)
        return OTTO_E_STATE;
    if (erase_mode != OTTO_OTA_SEQUENTIAL && erase_mode != OTTO_OTA_SIZE_UNKNOWN)
        erase_mode = (uint32_t)len;
    err = otto_ota_begin(&ota, &d->ota, NULL, erase_mode);
    for (size_t off = 0; !err && off < len; off += chunk)
        err = otto_ota_write(&ota, img + off, len - off < chunk ? len - off : chunk);
    if (!err)
        err = otto_ota_end(&ota, NULL);
    if (!err)
        err = otto_ota_set_boot(&d->ota, ota.target);
    return err;
}

void otto_simdev_flash_raw(otto_simdev_t *d, uint32_t off, const void *data, size_t len)
{
    otto_simflash_load(&d->sf, off, data, (uint32_t)len);
}

const char *otto_simdev_running_label(const otto_simdev_t *d)
{
    return d->booted && d->boot.part ? d->boot.part->label : "none";
}

const char *otto_boot_why_text(otto_boot_why_t why)
{
    switch (why) {
    case OTTO_BOOT_NO_OTADATA: return "the partition table has no otadata partition";
    case OTTO_BOOT_NO_ENTRY:   return "otadata has no usable entry";
    case OTTO_BOOT_INITIAL:    return "otadata is blank and there is no factory app";
    case OTTO_BOOT_ACTIVE:     return "the active otadata entry selects it";
    case OTTO_BOOT_FALLBACK:   return "the selected image did not verify; fell back";
    }
    return "?";
}

const char *otto_img_state_name(uint32_t state)
{
    switch (state) {
    case OTTO_IMG_NEW:            return "NEW";
    case OTTO_IMG_PENDING_VERIFY: return "PENDING_VERIFY";
    case OTTO_IMG_VALID:          return "VALID";
    case OTTO_IMG_INVALID:        return "INVALID";
    case OTTO_IMG_ABORTED:        return "ABORTED";
    case OTTO_IMG_UNDEFINED:      return "UNDEFINED";
    }
    return "UNKNOWN";
}
