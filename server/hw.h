/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hardware variants: what a device says it is in its hello ("hw"), and
 * which devices a job may reach because of it.
 *
 * A device's hw is kept as a JSON object of known keys only:
 *   chip      string   "esp32", "esp32s3", ... ("chip-N" for an id otto
 *                      does not name)
 *   chip_rev  number   major * 100 + minor
 *   flash     number   bytes of flash
 *   slot      number   bytes of its smallest OTA slot (what any update
 *                      must fit)
 *   mcufw     number   bytes of its MCU staging partition
 *   mcu       string   the MCU behind it ("stm32f103", or its product id
 *                      as "0x410" when only that is known)
 * A device that never said (an older agent) has "{}": the fit check lets
 * it through; a where condition on a key it lacks leaves it out (but !=).
 *
 * A filter ("where") is up to SRV_WHERE_MAX conditions joined by "," or
 * " and ": KEY OP VALUE, OP one of = != < <= > >=, VALUE a number (with
 * an optional K or M: KiB, MiB) for the numeric keys and a name for chip
 * and mcu (= and != only). Every condition must hold; a device that does
 * not report a key fails every condition on it but != (no MCU is not an
 * stm32f103).
 */
#ifndef SRV_HW_H
#define SRV_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"

#define SRV_WHERE_MAX 8
#define SRV_HW_MAX    255 /* the stored JSON text, bytes */

typedef struct {
    char key[12];
    char op[3];
    bool numeric;
    double num;
    char str[33];
} srv_cond_t;

typedef struct {
    srv_cond_t c[SRV_WHERE_MAX];
    size_t n;
    char text[256]; /* as given, for messages */
} srv_where_t;

/** The hello's "hw" (NULL: none) as the stored JSON text, in out[cap]
 *  (SRV_HW_MAX + 1 is enough). OTTO_E_INVAL with msg when a known key has
 *  the wrong type or range; unknown keys are left out (newer agents). */
int srv_hw_from_hello(const cJSON *hw, char *out, size_t cap, char *msg, size_t msglen);

/** Parse a filter; OTTO_E_INVAL with msg saying what is wrong. An empty
 *  or NULL text is the filter every device passes. */
int srv_where_parse(const char *text, srv_where_t *w, char *msg, size_t msglen);

/** Does a device with hw (stored JSON text) pass? When not, why[cap] says
 *  which condition failed (or that the device does not report the key). */
bool srv_where_match(const srv_where_t *w, const char *hw, char *why, size_t cap);

/** Does every firmware of a job fit a device with hw? An esp32 image must
 *  fit its OTA slot, an stm32 image its MCU staging partition; what the
 *  device does not report is not judged. When not, why[cap] says which. */
bool srv_hw_fits(const char *hw, const srv_fw_t *fws, size_t nfw, char *why, size_t cap);

#endif
