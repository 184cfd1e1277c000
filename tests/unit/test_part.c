/* SPDX-License-Identifier: Apache-2.0 */
/* Partition table: encode/parse against the documented layout, and every
 * way a table can be bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "otto/crypto.h"
#include "otto/part.h"
#include "simflash.h"

static const otto_part_t two_ota[] = {
    {1, 2, 0x9000, 0x4000, "nvs", 0},       {1, 0, 0xd000, 0x2000, "otadata", 0},
    {1, 1, 0xf000, 0x1000, "phy_init", 0},  {0, 0, 0x10000, 0x100000, "factory", 0},
    {0, 0x10, 0x110000, 0x100000, "ota_0", 0}, {0, 0x11, 0x210000, 0x100000, "ota_1", 0},
};

static void encode_layout(void **st)
{
    (void)st;
    uint8_t bin[OTTO_PART_TABLE_LEN], md5[16];
    assert_int_equal(otto_part_encode(two_ota, 6, true, bin), 0);
    /* the seed table's first bytes, from the format notes */
    static const uint8_t head[] = {0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00,
                                   0x00, 0x40, 0x00, 0x00, 0x6e, 0x76, 0x73, 0x00};
    assert_memory_equal(bin, head, sizeof(head));
    /* MD5 entry: EB EB, 14 x FF, MD5 of the entries */
    assert_int_equal(bin[192], 0xEB);
    assert_int_equal(bin[193], 0xEB);
    for (int i = 194; i < 208; i++)
        assert_int_equal(bin[i], 0xFF);
    otto_md5(bin, 192, md5);
    assert_memory_equal(bin + 208, md5, 16);
    for (size_t i = 224; i < sizeof(bin); i++)
        assert_int_equal(bin[i], 0xFF);

    otto_part_table_t t;
    assert_int_equal(otto_part_parse(bin, sizeof(bin), 4u << 20, &t), 0);
    assert_int_equal(t.count, 6);
    assert_true(t.has_md5);
    assert_string_equal(t.part[2].label, "phy_init");
    assert_int_equal(otto_part_ota_count(&t), 2);
    assert_int_equal(otto_part_ota_slot(&t, 1)->offset, 0x210000);
    assert_null(otto_part_ota_slot(&t, 2));
    assert_string_equal(otto_part_find(&t, 1, 0, NULL)->label, "otadata");
    assert_non_null(otto_part_find(&t, OTTO_PART_ANY, OTTO_PART_ANY, "ota_1"));
    assert_null(otto_part_find(&t, 1, 0x82, NULL));

    /* without MD5 it is accepted too */
    assert_int_equal(otto_part_encode(two_ota, 6, false, bin), 0);
    assert_int_equal(otto_part_parse(bin, sizeof(bin), 0, &t), 0);
    assert_false(t.has_md5);
}

static void label_16_chars(void **st)
{
    (void)st;
    otto_part_t p = {1, 0x81, 0x9000, 0x1000, "sixteen_chars_xx", 0};
    uint8_t bin[OTTO_PART_TABLE_LEN];
    otto_part_table_t t;
    assert_int_equal(otto_part_encode(&p, 1, true, bin), 0);
    assert_memory_equal(bin + 12, "sixteen_chars_xx", 16); /* no NUL */
    assert_int_equal(otto_part_parse(bin, sizeof(bin), 0, &t), 0);
    assert_string_equal(t.part[0].label, "sixteen_chars_xx");
}

static void bad_tables(void **st)
{
    (void)st;
    uint8_t bin[OTTO_PART_TABLE_LEN], bad[OTTO_PART_TABLE_LEN];
    otto_part_table_t t;
    assert_int_equal(otto_part_encode(two_ota, 6, true, bin), 0);

    memcpy(bad, bin, sizeof(bad));
    bad[40] ^= 1; /* an entry changed: MD5 mismatch */
    assert_int_equal(otto_part_parse(bad, sizeof(bad), 0, &t), OTTO_E_CORRUPT);

    memset(bad, 0xFF, sizeof(bad)); /* empty */
    assert_int_equal(otto_part_parse(bad, sizeof(bad), 0, &t), OTTO_E_CORRUPT);

    memcpy(bad, bin, sizeof(bad));
    bad[225] = 0x12; /* garbage after the MD5 entry instead of the end marker */
    bad[224] = 0x34;
    assert_int_equal(otto_part_parse(bad, sizeof(bad), 0, &t), OTTO_E_CORRUPT);

    memcpy(bad, bin, sizeof(bad));
    assert_int_equal(otto_part_parse(bad, sizeof(bad), 0x200000, &t), OTTO_E_CORRUPT); /* beyond a 2 MiB chip */

    /* 96 entries: no end marker fits */
    otto_part_t many[96];
    for (int i = 0; i < 96; i++)
        many[i] = (otto_part_t){1, 0x81, 0x9000u + 0x1000u * (uint32_t)i, 0x1000, "p", 0};
    assert_int_equal(otto_part_encode(many, 95, true, bin), OTTO_E_NOSPC);
    assert_int_equal(otto_part_encode(many, 95, false, bin), 0);
    assert_int_equal(otto_part_encode(many, 94, true, bin), 0);
    /* more than this build keeps in RAM */
    assert_int_equal(otto_part_parse(bin, sizeof(bin), 0, &t), OTTO_E_NOSPC);
    for (size_t i = 0; i < 96; i++)
        memcpy(bad + i * 32, "\xaa\x50\x01\x81\x00\x90\x00\x00\x00\x10\x00\x00p", 13);
    assert_int_equal(otto_part_parse(bad, sizeof(bad), 0, &t), OTTO_E_NOSPC);
    assert_int_equal(otto_part_parse(NULL, 0, 0, &t), OTTO_E_INVAL);
}

static void load_from_flash(void **st)
{
    (void)st;
    otto_power_t pw;
    otto_simflash_t sf;
    otto_flash_t fl;
    otto_part_table_t t;
    uint8_t bin[OTTO_PART_TABLE_LEN];
    otto_power_init(&pw);
    assert_int_equal(otto_simflash_open_mem(&sf, &pw, 4u << 20, 4096), 0);
    otto_simflash_hal(&sf, &fl);
    assert_int_equal(otto_part_load(&fl, OTTO_PART_TABLE_OFFSET, &t), OTTO_E_CORRUPT); /* blank */
    otto_part_encode(two_ota, 6, true, bin);
    otto_simflash_load(&sf, OTTO_PART_TABLE_OFFSET, bin, sizeof(bin));
    assert_int_equal(otto_part_load(&fl, OTTO_PART_TABLE_OFFSET, &t), 0);
    assert_int_equal(t.count, 6);
    otto_power_arm(&pw, 1, OTTO_CUT_BEFORE, 1);
    fl.erase(fl.ctx, 0, 4096); /* power gone */
    assert_int_equal(otto_part_load(&fl, OTTO_PART_TABLE_OFFSET, &t), OTTO_E_IO);
    otto_simflash_close(&sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_layout),
        cmocka_unit_test(label_16_chars),
        cmocka_unit_test(bad_tables),
        cmocka_unit_test(load_from_flash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
