/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the STM32 system-memory USART bootloader (ST
 * application note AN3155; part ids and memory maps from AN2606): how the
 * module updates the microcontroller behind it.
 *
 * Line: 8E1 (the port sets it), bytes through otto_uart_t. Every exchange
 * is bounded: a byte that does not come within its timeout, a NACK or a
 * garbled reply is retried (re-sync, then the command again) up to
 * lim.retries times, then the call fails and otto_mcu_t.why says why in
 * words. Erase covers only the pages the image needs, with Erase (0x43) or
 * Extended Erase (0x44) per what Get reported. No malloc; all state in
 * otto_mcu_t.
 *
 * Errors: OTTO_E_TIMEOUT (no answer), OTTO_E_PROTO (NACKs or garbage after
 * all retries), OTTO_E_NOTFOUND (unknown part), OTTO_E_NOSPC (image larger
 * than the flash), OTTO_E_VERIFY (read back differs), OTTO_E_DENIED (the
 * flash is read-protected: only Readout Unprotect, which erases it all,
 * lets anything in), OTTO_E_IO (UART).
 */
#ifndef OTTO_MCU_H
#define OTTO_MCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_MCU_BLOCK 256u /* bytes per Write/Read Memory command */

typedef struct {
    uint16_t pid;          /**< product id from Get ID, e.g. 0x410 */
    const char *name;      /**< e.g. "STM32F10x medium density" */
    uint32_t flash_base;   /**< 0x08000000 */
    uint32_t flash_size;   /**< bytes */
    uint32_t page_size;    /**< erase unit of uniform-page parts; 0: sector_kib */
    const uint16_t *sector_kib; /**< sector sizes, KiB, for sector parts (F2/F4) */
    uint8_t nsectors;
    uint32_t ram_size;     /**< SRAM bytes from 0x20000000 (the most of the family) */
    uint32_t ccm_size;     /**< core-coupled RAM bytes from 0x10000000 (F4), or 0 */
} otto_mcu_part_t;

/** How patient the host is; 0 means the default. Kept by otto_mcu_connect. */
typedef struct {
    unsigned retries;           /**< tries per exchange (0: 5) */
    uint32_t byte_ms;           /**< for each reply byte (0: 500, as stm32flash) */
    uint32_t write_ms;          /**< for a block's ACK (0: 1000) */
    uint32_t erase_ms_per_page; /**< for an erase's ACK, per page or sector (0: 5000) */
} otto_mcu_limits_t;

typedef struct {
    const otto_uart_t *uart;
    otto_mcu_limits_t lim;
    uint8_t version;       /**< bootloader version, e.g. 0x22 */
    uint8_t cmds[24];      /**< commands Get listed */
    uint8_t ncmds;
    bool ext_erase;        /**< 0x44 rather than 0x43 */
    const otto_mcu_part_t *part;
    bool rdp;              /**< read-protected (RDP level 1): connect found Read Memory refused */
    bool cmd_nack;         /* the last exchange failed on a NACK of its command byte */
    const char *why;       /**< the last failure, in words */
    uint32_t resyncs, nacks, timeouts; /**< counted, for reports */
} otto_mcu_t;

/** Synchronise (0x7F), then Get, Get ID; know the part, and whether its
 *  flash is read-protected (rdp: a Read Memory refused at every try). */
int otto_mcu_connect(otto_mcu_t *m, const otto_uart_t *uart);
/** Readout Unprotect: the MCU erases all its flash and restarts in its
 *  bootloader; then connect again. Waits up to 35 s for the erase. */
int otto_mcu_unprotect(otto_mcu_t *m);
/** Erase the pages that hold [addr, addr + len). */
int otto_mcu_erase(otto_mcu_t *m, uint32_t addr, uint32_t len);
/** Write len bytes at addr (word-aligned), in blocks, padding the last one
 *  to a multiple of 4 with 0xFF. */
int otto_mcu_write(otto_mcu_t *m, uint32_t addr, const void *data, uint32_t len);
/** Read len bytes at addr. */
int otto_mcu_read(otto_mcu_t *m, uint32_t addr, void *buf, uint32_t len);
/** Read [addr, addr + len) back and compare with data. Read Memory replies
 *  carry no checksum, so a block that differs is read again (up to
 *  `retries` times) before the flash is called wrong: OTTO_E_VERIFY. */
int otto_mcu_verify(otto_mcu_t *m, uint32_t addr, const void *data, uint32_t len);
/** Start the code at addr (the application: flash_base). */
int otto_mcu_go(otto_mcu_t *m, uint32_t addr);

/** The erase unit (page or sector) holding flash offset off (bytes from
 *  flash_base): its first offset and its length. OTTO_E_NOSPC past the end. */
int otto_mcu_unit(const otto_mcu_t *m, uint32_t off, uint32_t *start, uint32_t *len);

/** A part by its PID, or NULL. */
const otto_mcu_part_t *otto_mcu_part(uint16_t pid);

/** Is an image of `size` bytes, whose first 8 are vec, an application for
 *  the start of flash? A Cortex-M vector table: the initial stack pointer
 *  in SRAM (of part p, or of any STM32 when p is NULL, or an F4's CCM), and
 *  the reset handler a Thumb address inside the image. OTTO_OK, or
 *  OTTO_E_CORRUPT with *why in words. */
int otto_mcu_check_app(const otto_mcu_part_t *p, const uint8_t vec[8], uint32_t size, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_MCU_H */
