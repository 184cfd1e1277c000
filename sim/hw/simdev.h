/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A simulated ESP32 module: flash + eFuse + power, the bootloader decision,
 * and the simulated app's start-up (self-test, confirm or roll back). RAM
 * state is lost on every otto_simdev_boot(); only flash and eFuse survive,
 * as on the real thing. Used by otto-sim and by the power-cut tests.
 */
#ifndef OTTO_SIMDEV_H
#define OTTO_SIMDEV_H

#include <stddef.h>
#include <stdint.h>
#include "otto/boot.h"
#include "otto/ota.h"
#include "simflash.h"

#define OTTO_SIM_FLASH_SIZE (4u * 1024u * 1024u)
#define OTTO_SIM_SECTOR     4096u
#define OTTO_SIM_CHIP_REV   300u   /* ESP32 v3.0 */

typedef struct {
    otto_power_t power;
    otto_simflash_t sf;
    otto_simefuse_t se;
    otto_flash_t flash;
    otto_efuse_t efuse;
    otto_secure_boot_t sb;   /**< on while the eFuse holds a key digest */
    otto_platform_t plat;
    otto_part_table_t table;
    otto_boot_result_t boot;
    otto_ota_ctx_t ota;
    int booted;
} otto_simdev_t;

/** What the app did at start-up. */
typedef enum {
    OTTO_APP_RUNNING = 0,   /**< already VALID/UNDEFINED or factory: nothing to do */
    OTTO_APP_CONFIRMED,     /**< was PENDING_VERIFY, self-test passed, marked VALID */
    OTTO_APP_ROLLED_BACK,   /**< self-test failed, marked INVALID: reboot now */
    OTTO_APP_STUCK          /**< self-test failed but nothing else can boot */
} otto_app_outcome_t;

/** Open with flash in RAM (path NULL) or in a file, eFuse next to it
 *  (path + ".efuse"). Rollback and anti-rollback on, chip ESP32. An
 *  existing file keeps its size; a new one is OTTO_SIM_FLASH_SIZE. */
int otto_simdev_open(otto_simdev_t *d, const char *path);
/** Same, creating a new flash of size bytes (a multiple of 4 KiB). */
int otto_simdev_open_size(otto_simdev_t *d, const char *path, uint32_t size);
void otto_simdev_close(otto_simdev_t *d);

/** Secure Boot v2: burn the digest of the public key in pem (RSA-3072 or
 *  ECDSA P-256, as espsecure.py extracts it) into the emulated eFuse, or
 *  revoke key block `revoke` (>= 0). Secure Boot is on once a key is in. */
int otto_simdev_secure_boot_key(otto_simdev_t *d, const char *pem);
int otto_simdev_secure_boot_revoke(otto_simdev_t *d, unsigned block);

/** Power on: load the partition table, run the boot decision. */
int otto_simdev_boot(otto_simdev_t *d);

/** The app starts: reads its own image and runs its self-test when it is
 *  PENDING_VERIFY (the otto block's SELFTEST_FAIL flag makes it fail). */
int otto_simdev_app_start(otto_simdev_t *d, otto_app_outcome_t *outcome);

/** Download-free install: begin / write in chunks / end / set_boot into the
 *  next slot. erase_mode as otto_ota_begin's image_size. */
int otto_simdev_install(otto_simdev_t *d, const uint8_t *img, size_t len, size_t chunk,
                        uint32_t erase_mode);

/** Factory programming (not counted as ops, no power model): write raw bytes. */
void otto_simdev_flash_raw(otto_simdev_t *d, uint32_t off, const void *data, size_t len);

/** Label of the booted partition, or "none". */
const char *otto_simdev_running_label(const otto_simdev_t *d);

/** Text for a boot reason and an image state (for logs and the CLI). */
const char *otto_boot_why_text(otto_boot_why_t why);
const char *otto_img_state_name(uint32_t state);

#endif
