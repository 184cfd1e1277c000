/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flash on Linux: a file or a block device standing in for the module's
 * SPI NOR, with NOR's rules kept (a program ANDs bits in; an erase sets a
 * sector to 0xFF), each program and erase written through to the medium
 * (fdatasync) before it returns, so a power cut of the machine leaves what
 * the core expects of flash. The anti-rollback counter lives beside it in
 * PATH.counter (a thermometer in a small file, replaced atomically).
 *
 * Not simulation: no power model, no fault injection (sim/hw has those).
 * Errors: OTTO_E_IO with errno set, OTTO_E_INVAL (size or alignment).
 */
#ifndef OTTO_LINUX_FLASH_H
#define OTTO_LINUX_FLASH_H

#include <stdint.h>
#include "otto/hal.h"

typedef struct {
    int fd;
    uint32_t size, sector;
    char counter_path[512];
} otto_linux_flash_t;

/** Open path (created at size bytes of 0xFF when missing; an existing file
 *  or device must be at least size bytes). */
int otto_linux_flash_open(otto_linux_flash_t *f, const char *path, uint32_t size, uint32_t sector);
void otto_linux_flash_close(otto_linux_flash_t *f);
void otto_linux_flash_hal(otto_linux_flash_t *f, otto_flash_t *flash, otto_efuse_t *efuse);

#endif
