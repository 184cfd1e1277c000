/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTTO_SIM_H
#define OTTO_SIM_H

int cmd_mkflash(int argc, char **argv);
int cmd_boot(int argc, char **argv);
int cmd_ota(int argc, char **argv);
int cmd_efuse(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_fleet(int argc, char **argv);
int cmd_stm32(int argc, char **argv);

#include <stddef.h>
#include <stdint.h>
#include "otto/part.h"

/* A device flash file: this table at 0x8000 and img in factory, eFuse 0. */
int sim_write_flash(const char *out, const uint8_t table[OTTO_PART_TABLE_LEN], const otto_part_t *factory,
                    const uint8_t *img, size_t len, uint32_t fsize);
/* The default partition table (nvs, otadata, phy, factory, ota_0, ota_1). */
int sim_default_table(uint32_t fsize, uint8_t bin[OTTO_PART_TABLE_LEN], otto_part_table_t *t);

#endif
