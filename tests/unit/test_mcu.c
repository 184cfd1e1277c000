/* SPDX-License-Identifier: Apache-2.0 */
/* The MCU host (device/mcu.c) against an in-memory STM32F103 bootloader
 * (an3155_double.c): connect, the part tables' erase units, the vector
 * table check, and an application erased, written from a misaligned
 * buffer, verified, read back and started. Runs on the host and on the
 * Cortex-M target alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "an3155_double.h"
#include "otto/err.h"
#include "otto/mcu.h"

static an3155_t mcu; /* 128 KiB of flash: not on the stack */

static void connect_f103(void **state)
{
    (void)state;
    an3155_init(&mcu);
    otto_uart_t u = an3155_uart(&mcu);
    otto_mcu_t m = {0};
    assert_int_equal(otto_mcu_connect(&m, &u), OTTO_OK);
    assert_non_null(m.part);
    assert_int_equal(m.part->pid, 0x410);
    assert_true(m.ext_erase);
    assert_int_equal(m.version, 0x22);
    assert_false(m.rdp);
    assert_int_equal(mcu.reads, 1); /* the read-protection probe */
}

static void erase_units(void **state)
{
    (void)state;
    otto_mcu_t m = {0};
    uint32_t start, len;
    m.part = otto_mcu_part(0x410); /* pages of 1 KiB */
    assert_int_equal(otto_mcu_unit(&m, 0x1234, &start, &len), OTTO_OK);
    assert_int_equal(start, 0x1000);
    assert_int_equal(len, 1024);
    assert_int_equal(otto_mcu_unit(&m, 128u * 1024u, &start, &len), OTTO_E_NOSPC);
    m.part = otto_mcu_part(0x413); /* F4: 4 x 16, 64, 7 x 128 KiB */
    assert_non_null(m.part);
    assert_int_equal(otto_mcu_unit(&m, 0x3FFF, &start, &len), OTTO_OK);
    assert_int_equal(start, 0);
    assert_int_equal(len, 16384);
    assert_int_equal(otto_mcu_unit(&m, 0x10000, &start, &len), OTTO_OK);
    assert_int_equal(start, 0x10000);
    assert_int_equal(len, 65536);
    assert_int_equal(otto_mcu_unit(&m, 0x21000, &start, &len), OTTO_OK);
    assert_int_equal(start, 0x20000);
    assert_int_equal(len, 131072);
    assert_int_equal(otto_mcu_unit(&m, 0xFFFFF, &start, &len), OTTO_OK);
    assert_int_equal(start, 0xE0000);
    m.part = NULL;
    assert_int_equal(otto_mcu_unit(&m, 0, &start, &len), OTTO_E_STATE);
}

static void vector_table(void **state)
{
    (void)state;
    const otto_mcu_part_t *f103 = otto_mcu_part(0x410), *f407 = otto_mcu_part(0x413);
    const char *why = NULL;
    static const uint8_t good[8] = {0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08};
    static const uint8_t arm_pc[8] = {0x00, 0x50, 0x00, 0x20, 0x00, 0x01, 0x00, 0x08}; /* not Thumb */
    static const uint8_t big_sp[8] = {0x00, 0x00, 0x02, 0x20, 0x01, 0x01, 0x00, 0x08}; /* 128 KiB of SRAM */
    static const uint8_t ccm_sp[8] = {0x00, 0x00, 0x01, 0x10, 0x01, 0x01, 0x00, 0x08};
    static const uint8_t far_pc[8] = {0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x10, 0x08}; /* past the file */
    assert_int_equal(otto_mcu_check_app(f103, good, 4096, &why), OTTO_OK);
    assert_int_equal(otto_mcu_check_app(f103, arm_pc, 4096, &why), OTTO_E_CORRUPT);
    assert_int_equal(otto_mcu_check_app(f103, far_pc, 4096, &why), OTTO_E_CORRUPT);
    assert_int_equal(otto_mcu_check_app(f103, good, 4, &why), OTTO_E_CORRUPT);
    assert_int_equal(otto_mcu_check_app(f103, big_sp, 4096, &why), OTTO_E_CORRUPT);
    assert_non_null(strstr(why, "another part"));
    assert_int_equal(otto_mcu_check_app(f407, big_sp, 4096, &why), OTTO_OK);
    assert_int_equal(otto_mcu_check_app(f407, ccm_sp, 4096, &why), OTTO_OK);
    assert_int_equal(otto_mcu_check_app(f103, ccm_sp, 4096, &why), OTTO_E_CORRUPT);
}

static void write_misaligned_and_go(void **state)
{
    (void)state;
    static uint8_t buf[3001 + 3], back[3001];
    uint8_t *img = buf + 3; /* a misaligned source, on purpose */
    for (unsigned i = 0; i < 3001; i++)
        img[i] = (uint8_t)(i * 13u + 7u);
    memcpy(img, "\x00\x50\x00\x20\x01\x01\x00\x08", 8);
    an3155_init(&mcu);
    memset(mcu.flash + 5 * 1024, 0x00, 16); /* something past the image, kept */
    otto_uart_t u = an3155_uart(&mcu);
    otto_mcu_t m = {0};
    assert_int_equal(otto_mcu_connect(&m, &u), OTTO_OK);
    assert_int_equal(otto_mcu_erase(&m, AN_FLASH_BASE, 3001), OTTO_OK);
    assert_int_equal(mcu.erases, 3); /* 3 pages of 1 KiB */
    assert_int_equal(otto_mcu_write(&m, AN_FLASH_BASE, img, 3001), OTTO_OK);
    assert_int_equal(mcu.writes, 12); /* 256-byte blocks, the last padded */
    assert_memory_equal(mcu.flash, img, 3001);
    assert_int_equal(mcu.flash[3001], 0xFF);
    assert_int_equal(mcu.flash[5 * 1024], 0x00);
    assert_int_equal(otto_mcu_verify(&m, AN_FLASH_BASE, img, 3001), OTTO_OK);
    assert_int_equal(otto_mcu_read(&m, AN_FLASH_BASE + 1, back, 3000), OTTO_OK);
    assert_memory_equal(back, img + 1, 3000);
    img[2000] ^= 1;
    assert_int_not_equal(otto_mcu_verify(&m, AN_FLASH_BASE, img, 3001), OTTO_OK);
    assert_int_equal(otto_mcu_write(&m, AN_FLASH_BASE + 128u * 1024u - 8, img, 16), OTTO_E_NOSPC);
    assert_int_equal(mcu.nacks, 0);
    assert_int_equal(otto_mcu_go(&m, AN_FLASH_BASE), OTTO_OK);
    assert_true(mcu.running);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_f103),
        cmocka_unit_test(erase_units),
        cmocka_unit_test(vector_table),
        cmocka_unit_test(write_misaligned_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
