/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCU relay: takes a firmware staged in a flash partition (see stage.h)
 * to the MCU through its ROM bootloader (mcu.h), a little at a time, with
 * its progress in the key-value store under "mcu", so that a power cut of
 * the module at any instant is resumed and never leaves the MCU with an
 * image it would believe complete but is not.
 *
 * How: the first block (256 bytes: the vector table, whose reset vector
 * makes the image runnable) is written last, after every other byte has
 * been written and read back. Erase, write, verify, boot block, Go:
 *   erase  the pages/sectors the image needs, from `next` to the end;
 *   write  every block but the first; `next` is saved at erase-unit
 *          boundaries, and a resume erases again from there, so no block
 *          is ever programmed over a half-written one;
 *   verify read back all but the first block;
 *   boot   write and verify the first block (after a cut here, read it
 *          back: if it is neither right nor blank, its unit is erased and
 *          rewritten);
 *   go     start the application.
 *
 * Before anything is erased, an image for the start of flash must begin
 * with a Cortex-M vector table (stack pointer in this part's SRAM, reset
 * handler in the image): OTTO_E_CORRUPT otherwise, the MCU's firmware
 * untouched; so is an MCU other than opt.part_id (OTTO_E_CHIP). A
 * read-protected MCU is OTTO_E_DENIED, untouched, unless `opt.unprotect` is set.
 *
 * otto_relay_step does a bounded piece of work (one erase unit, or up to
 * 4 KiB written or verified) and returns OTTO_E_AGAIN until the MCU runs
 * the new image (OTTO_OK). Errors are those of mcu.h (m.why says why in
 * words) and OTTO_E_IO from the flash or the store; after one, step again
 * to go on from the last saved point (it re-synchronises first).
 */
#ifndef OTTO_RELAY_H
#define OTTO_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include "otto/hal.h"
#include "otto/store.h"
#include "otto/mcu.h"
#include "otto/part.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { OTTO_RELAY_ERASE = 1, OTTO_RELAY_WRITE, OTTO_RELAY_VERIFY, OTTO_RELAY_BOOT, OTTO_RELAY_GO };

/** What is kept under "mcu" (encoded as record.h says). */
typedef struct {
    uint8_t phase;
    uint32_t next;  /**< image offset the phase resumes at */
    uint32_t size;  /**< image bytes */
} otto_relay_state_t;

/** How the relay goes about it; zeros are the defaults a device uses. */
typedef struct {
    uint32_t at;           /**< where the image goes: offset from flash_base (0) */
    uint16_t part_id;      /**< the part the image is built for (Get ID), 0: any */
    bool no_verify;        /**< skip the read-back (the first block still goes last) */
    bool no_go;            /**< leave the MCU in its bootloader at the end */
    bool no_check;         /**< relay even without a vector table at the start */
    bool unprotect;        /**< a read-protected MCU: Readout Unprotect (erases all
                                its flash) rather than OTTO_E_DENIED */
} otto_relay_opts_t;

typedef struct {
    otto_mcu_t mcu;
    const otto_uart_t *uart;
    const otto_flash_t *flash;
    const otto_part_t *stage;
    const otto_store_t *store;
    otto_relay_state_t st;
    otto_relay_opts_t opt; /**< kept by otto_relay_open: set before it */
    uint32_t cur;          /**< RAM cursor within the phase */
    bool connected, repair;
    uint32_t written;      /**< bytes sent in Write Memory, for reports */
    uint8_t buf[OTTO_MCU_BLOCK], back[OTTO_MCU_BLOCK];
} otto_relay_t;

/** Prepare to relay `size` bytes of stage. fresh: start over; otherwise go
 *  on from what "mcu" says (or start over when it holds nothing for this
 *  size). The uart, flash, stage and store must outlive r; store may be NULL (no
 *  progress kept: a tool flashing by hand). mcu.lim and opt are kept
 *  from r. */
int otto_relay_open(otto_relay_t *r, const otto_uart_t *uart, const otto_flash_t *flash,
                    const otto_part_t *stage, uint32_t size, const otto_store_t *store, bool fresh);
int otto_relay_step(otto_relay_t *r);
/** How far the relay has got, as a number that only grows while it gets
 *  on: a caller counts failures without progress against it. */
uint32_t otto_relay_mark(const otto_relay_t *r);
/** Whether stepping again after err can help: not for an image that is
 *  no application, does not fit or is for another part, nor for a
 *  read-protected MCU. */
bool otto_relay_retryable(int err);
/** Drop the saved progress. */
void otto_relay_forget(const otto_store_t *store);
/** The phase, in words ("erase", "write", ...). */
const char *otto_relay_phase(const otto_relay_t *r);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_RELAY_H */
