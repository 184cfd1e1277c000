/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hardware abstraction the device core runs on: the only way the core
 * touches the world. A port fills these structs with callbacks and a context
 * pointer; the core keeps pointers to them, so they must outlive every
 * object that was given them. Callbacks return OTTO_OK or a negative
 * otto_err_t (OTTO_E_IO for a hardware failure, including loss of power).
 *
 * Units: flash offsets and lengths are bytes from the start of the flash
 * chip; time is milliseconds from an arbitrary origin (may wrap).
 */
#ifndef OTTO_HAL_H
#define OTTO_HAL_H

#include <stddef.h>
#include <stdint.h>
#include "otto/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * NOR flash. Rules the core relies on and a port must keep:
 * - erase(off, len): off and len are multiples of sector_size; every byte
 *   becomes 0xFF.
 * - program(off, buf, len): each byte becomes old AND new. A port may (and
 *   the simulator does) refuse a program that needs a 0 bit to become 1,
 *   with OTTO_E_PROGRAM. off and len are multiples of write_align.
 * - read(off, buf, len): any offset and length.
 * None of them may be called with off + len > size.
 */
typedef struct otto_flash {
    void *ctx;
    int (*read)(void *ctx, uint32_t off, void *buf, uint32_t len);
    int (*program)(void *ctx, uint32_t off, const void *buf, uint32_t len);
    int (*erase)(void *ctx, uint32_t off, uint32_t len);
    uint32_t size;        /**< bytes */
    uint32_t sector_size; /**< erase unit, bytes (4096 on ESP32 SPI flash) */
    uint32_t write_align; /**< program unit, bytes (1 on plain SPI NOR) */
} otto_flash_t;

/**
 * The anti-rollback counter (ESP32 eFuse SECURE_VERSION). It is a
 * thermometer code: the value is the number of burnt bits, so it can only
 * grow. raise(v) burns bits until the value is at least v; it never lowers
 * the value and is a no-op when the value is already >= v.
 */
typedef struct otto_efuse {
    void *ctx;
    int (*read_secure_version)(void *ctx, uint32_t *value);
    int (*raise_secure_version)(void *ctx, uint32_t value);
    uint32_t width; /**< bits in the field: the largest value it can hold */
} otto_efuse_t;

/**
 * Secure Boot v2 as the eFuse and the ROM see it (ESP-IDF's secure boot
 * with signed apps). read_keys gives the SHA-256 digests of up to
 * OTTO_SBV2_KEYS public-key blocks burnt into eFuse and a bit mask of the
 * revoked ones (bit i: digest i revoked). verify_block checks the signature
 * in one 1216-byte signature block (RSA-3072-PSS or ECDSA P-256, with the
 * public key the block carries) over digest: OTTO_OK or OTTO_E_SIGNATURE.
 * The core checks everything else: the block's CRC, that its digest is the
 * image's, that its key's digest is in eFuse and not revoked.
 */
#define OTTO_SBV2_KEYS 3
typedef struct otto_secure_boot {
    void *ctx;
    int (*read_keys)(void *ctx, uint8_t digest[OTTO_SBV2_KEYS][32], unsigned *n,
                     unsigned *revoked);
    int (*verify_block)(void *ctx, const uint8_t *block, const uint8_t digest[32]);
} otto_secure_boot_t;

/**
 * A serial line (the module's UART to the MCU). write sends all len bytes
 * or fails; read waits up to timeout_ms for at least one byte and returns
 * how many it got (0 on timeout) or a negative otto_err_t; flush_input
 * (may be NULL) drops bytes already received and not yet read.
 */
typedef struct otto_uart {
    void *ctx;
    int (*write)(void *ctx, const void *buf, size_t len);
    int (*read)(void *ctx, void *buf, size_t len, uint32_t timeout_ms);
    void (*flush_input)(void *ctx);
} otto_uart_t;

/** A monotonic millisecond clock; the core handles 32-bit wrap. */
typedef struct otto_clock {
    void *ctx;
    uint32_t (*now_ms)(void *ctx);
} otto_clock_t;

/**
 * One device as the boot and OTA code see it: its flash and eFuse, which
 * chip it is, and the rollback configuration. The bootloader and the app
 * must be given the same flags (one source of truth: a bootloader without
 * rollback never turns NEW into PENDING_VERIFY, so nothing rolls back).
 */
typedef struct otto_platform {
    const otto_flash_t *flash;
    const otto_efuse_t *efuse;  /**< may be NULL when anti_rollback is false */
    uint16_t chip_id;           /**< OTTO_CHIP_* of this device */
    uint16_t chip_rev;          /**< major * 100 + minor */
    uint8_t rollback;           /**< 1: NEW/PENDING_VERIFY/ABORTED rollback */
    uint8_t anti_rollback;      /**< 1: secure_version vs eFuse enforced */
    const otto_secure_boot_t *secure_boot; /**< NULL: Secure Boot v2 off; else
                                    an app must carry a block a key in eFuse signed */
} otto_platform_t;

#ifdef __cplusplus
}
#endif
#endif /* OTTO_HAL_H */
