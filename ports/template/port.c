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
 *
 * With an STM32 behind the module (the MCU relay), also:
 *   - otto_uart_t: the UART wired to the MCU's bootloader USART (USART1 on
 *     PA9/PA10 for most parts), 8 data bits, EVEN parity, 1 stop bit; any
 *     baud up to 115200 (the bootloader measures it from the first 0x7F)
 *   - two GPIOs, to the MCU's BOOT0 and NRST, for the agent port's
 *     mcu_bootloader and mcu_run (the rest of otto_agent_port_t - MQTT,
 *     HTTP, reboot, clock - is your network stack's; ports/linux/net.c is one)
 *
 * Signatures: otto_agent_port_t.verify checks a DER ECDSA P-256 signature
 * over a SHA-256 with one trusted key (a 65-byte point the core takes from
 * its store, trust.h): the verifier below, on your chip's crypto (ESP-IDF:
 * mbedTLS with its ECC hardware; a bare Cortex-M: mbedTLS, or micro-ecc
 * plus a DER decoder). With ESP32 Secure Boot v2 on, also an
 * otto_secure_boot_t (hal.h): the key digests from eFuse and a block check
 * (ESP-IDF: esp_secure_boot_verify_sbv2_signature_block); leave
 * plat->secure_boot NULL otherwise.
 *
 * TLS (MQTT and HTTPS downloads, a certificate per device): the device
 * checks the server's certificate, which needs the time. An ESP32 has no
 * RTC: get it from SNTP (esp_sntp) before the first TLS connection, and
 * keep the device's certificate renewed before it expires (otto device
 * cert THING --renew).
 *
 * The agent keeps its state through otto_store_t (store.h): otto's kv in an
 * `ottokv` partition (otto_kv_store), or on ESP-IDF the NVS API under the
 * "otto" namespace: store_nvs.c beside this file, never the app's nvs in
 * another format.
 */
#include <stdbool.h>
#include <stddef.h>
#include "otto/agent.h"
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

/* ---- the MCU behind the module ------------------------------------------ */

typedef struct {
    int unused; /* TODO: your UART driver's handle and the two GPIOs */
} board_mcu_t;

/* The agent port's context (otto_agent_port_t.ctx, handed to every one of
 * its callbacks): yours, holding the MCU's pins among the rest. */
typedef struct {
    board_mcu_t mcu;
    /* TODO: your MQTT client, HTTP client, ... */
} board_port_t;

static int board_uart_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx; (void)buf; (void)len;
    return OTTO_E_IO; /* TODO: send all len bytes (uart_write_bytes + wait for TX done) */
}

static int board_uart_read(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    (void)ctx; (void)buf; (void)len; (void)timeout_ms;
    return 0; /* TODO: up to len bytes, waiting at most timeout_ms for the first; 0 on timeout */
}

static void board_uart_flush_input(void *ctx)
{
    (void)ctx; /* TODO: drop what was received and not read (uart_flush_input) */
}

static void board_set_pins(board_mcu_t *b, bool boot0, bool in_reset)
{
    (void)b; (void)boot0; (void)in_reset; /* TODO: drive BOOT0; hold NRST low while in_reset */
}

static void board_delay_ms(uint32_t ms)
{
    (void)ms; /* TODO: vTaskDelay(pdMS_TO_TICKS(ms)) */
}

/* BOOT0 high, pulse NRST: the MCU starts in its ROM bootloader and waits
 * for 0x7F. The bootloader needs a few milliseconds to start. */
static void board_mcu_bootloader(void *ctx)
{
    board_mcu_t *b = &((board_port_t *)ctx)->mcu;
    board_set_pins(b, true, true);
    board_delay_ms(5);
    board_set_pins(b, true, false);
    board_delay_ms(20);
}

/* BOOT0 low, pulse NRST: the MCU starts its application from flash, now
 * and at every later reset. */
static void board_mcu_run(void *ctx)
{
    board_mcu_t *b = &((board_port_t *)ctx)->mcu;
    board_set_pins(b, false, true);
    board_delay_ms(5);
    board_set_pins(b, false, false);
}

/* otto_agent_port_t.verify: does sig (DER ECDSA P-256, len bytes) sign
 * sha256 with key (0x04 | X | Y)? Runs once per trusted key, after the
 * download and before anything becomes bootable or reaches the MCU. */
static int board_verify(void *ctx, const uint8_t key[65], const uint8_t sha256[32], const uint8_t *sig, size_t len)
{
    (void)ctx; (void)key; (void)sha256; (void)sig; (void)len;
    return OTTO_E_SIGNATURE; /* TODO: your crypto library's ECDSA verify; until then nothing verifies */
}

/* Secure Boot v2 (optional): the eFuse key digests and revoke bits ... */
static int board_sbv2_keys(void *ctx, uint8_t digest[OTTO_SBV2_KEYS][32], unsigned *n, unsigned *revoked)
{
    (void)ctx; (void)digest;
    *n = 0;       /* TODO: read KEY_PURPOSE_SECURE_BOOT_DIGESTn blocks */
    *revoked = 0; /* TODO: SECURE_BOOT_KEY_REVOKEn bits */
    return OTTO_OK;
}

/* ... and one block's signature (RSA-3072-PSS or ECDSA P-256, with the key
 * the block carries; the core has checked its CRC, digest and key digest). */
static int board_sbv2_verify(void *ctx, const uint8_t *block, const uint8_t digest[32])
{
    (void)ctx; (void)block; (void)digest;
    return OTTO_E_SIGNATURE; /* TODO: the ROM's or mbedTLS's verify */
}

/* Signature hooks: the agent's verifier, and Secure Boot v2 when the chip
 * has it on (plat->secure_boot = sb; NULL when it does not). */
void otto_port_template_signatures(otto_agent_port_t *port, otto_secure_boot_t *sb)
{
    port->verify = board_verify;
    sb->ctx = NULL;
    sb->read_keys = board_sbv2_keys;
    sb->verify_block = board_sbv2_verify;
}

/* The MCU's line and pins, for otto_agent_config_t.mcu_uart and
 * otto_agent_port_t.mcu_bootloader/mcu_run (port->ctx is bp). */
void otto_port_template_mcu(otto_uart_t *uart, otto_agent_port_t *port, board_port_t *bp)
{
    uart->ctx = &bp->mcu;
    uart->write = board_uart_write;
    uart->read = board_uart_read;
    uart->flush_input = board_uart_flush_input;
    port->ctx = bp;
    port->mcu_bootloader = board_mcu_bootloader;
    port->mcu_run = board_mcu_run;
    board_set_pins(&bp->mcu, false, false); /* the application runs until a job needs the bootloader */
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
    plat->secure_boot = NULL;        /* TODO: an otto_secure_boot_t when Secure Boot v2 is on */

    int err = otto_part_load(flash, OTTO_PART_TABLE_OFFSET, table);
    if (err)
        return err;
    /* TODO: the partition the bootloader started; ota_0 is a placeholder */
    otto_ota_ctx_init(ota, plat, table, otto_part_ota_slot(table, 0));
    return OTTO_OK;
}
