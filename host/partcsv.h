/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP-IDF partition CSV -> partition entries, with the generator's rules:
 * comments and blank lines, $VAR expansion, K/M suffixes, numbers in any
 * base, type/subtype names, automatic offsets (app 64 KiB, others 4 KiB),
 * negative sizes ("end at"), flags, and the checks gen_esp32part runs.
 * Every error message starts with "line N: ".
 */
#ifndef OTTO_HOST_PARTCSV_H
#define OTTO_HOST_PARTCSV_H

#include <stddef.h>
#include <stdint.h>
#include "otto/part.h"

#define OTTO_PARTCSV_MAX 96

/** The simulated device's layout (DESIGN.md): ESP-IDF's "two OTA" table plus
 *  a 960 KiB data partition (subtype 0x40) for MCU firmware staging. */
extern const char otto_partcsv_default_layout[];

typedef struct {
    uint32_t table_offset; /**< default 0x8000 */
    uint32_t flash_size;   /**< 0: do not check the end of the last partition */
} otto_partcsv_opts_t;

/** Parse text. Fills parts[0..*n). On error returns a negative otto_err_t
 *  and writes a message into err (errlen bytes). Warnings, if any, go to
 *  warn (may be NULL). */
int otto_partcsv_parse(const char *text, const otto_partcsv_opts_t *opts,
                       otto_part_t parts[OTTO_PARTCSV_MAX], size_t *n,
                       char *err, size_t errlen);

/** Names for printing: "app", "data", or NULL; subtype name or NULL. */
const char *otto_part_type_name(uint8_t type);
const char *otto_part_subtype_name(uint8_t type, uint8_t subtype);

#endif
