/* SPDX-License-Identifier: Apache-2.0 */
/* otadata: CRC vectors from the format notes, selection rules, seq math,
 * writes on NOR flash and what a torn write leaves behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "otto/otadata.h"
#include "simflash.h"

static otto_otadata_entry_t ent(uint32_t seq, uint32_t state)
{
    otto_otadata_entry_t e;
    memset(&e, 0xFF, sizeof(e));
    e.seq = seq;
    e.state = state;
    e.crc = otto_otadata_crc(seq);
    return e;
}

static void crc_vectors(void **st)
{
    (void)st;
    assert_int_equal(otto_otadata_crc(1), 0x4743989Au);
    assert_int_equal(otto_otadata_crc(2), 0x55F63774u);
    assert_int_equal(otto_otadata_crc(3), 0xED4A5011u);
    assert_int_equal(otto_otadata_crc(4), 0x709D68A8u);
    uint8_t raw[32];
    otto_otadata_entry_t e = ent(1, OTTO_IMG_NEW), d;
    otto_otadata_encode(&e, raw);
    assert_memory_equal(raw + 28, "\x9a\x98\x43\x47", 4);
    otto_otadata_decode(raw, &d);
    assert_memory_equal(&d, &e, sizeof(e));
}

static void active_rules(void **st)
{
    (void)st;
    otto_otadata_entry_t e[2];
    e[0] = ent(1, OTTO_IMG_VALID);
    e[1] = ent(2, OTTO_IMG_VALID);
    assert_int_equal(otto_otadata_active(e), 1);       /* larger seq wins */
    e[1] = ent(1, OTTO_IMG_VALID);
    assert_int_equal(otto_otadata_active(e), 0);       /* tie: sector 0 */
    e[1] = ent(5, OTTO_IMG_INVALID);
    assert_int_equal(otto_otadata_active(e), 0);
    e[1] = ent(5, OTTO_IMG_ABORTED);
    assert_int_equal(otto_otadata_active(e), 0);
    e[1] = ent(5, OTTO_IMG_PENDING_VERIFY);
    e[1].crc ^= 1;                                     /* bad CRC */
    assert_int_equal(otto_otadata_active(e), 0);
    e[0] = ent(OTTO_OTADATA_SEQ_BLANK, OTTO_IMG_UNDEFINED);
    assert_int_equal(otto_otadata_active(e), -1);
    assert_true(otto_otadata_initial(e));
    e[1] = ent(3, OTTO_IMG_ABORTED);                   /* good CRC but unusable */
    assert_false(otto_otadata_initial(e));
    assert_true(otto_otadata_unusable(&e[1]));
}

static void seq_math(void **st)
{
    (void)st;
    /* ESP-IDF examples with two slots */
    assert_int_equal(otto_otadata_next_seq(1, 1, 2), 2);
    assert_int_equal(otto_otadata_next_seq(2, 0, 2), 3);
    assert_int_equal(otto_otadata_next_seq(3, 1, 2), 4);
    assert_int_equal(otto_otadata_next_seq(3, 0, 2), 3); /* already there: same seq */
    assert_int_equal(otto_otadata_slot(1, 2), 0);
    assert_int_equal(otto_otadata_slot(4, 2), 1);
    assert_int_equal(otto_otadata_slot(7, 3), 0);
    assert_int_equal(otto_otadata_next_seq(7, 2, 3), 9);
}

static void write_and_torn(void **st)
{
    (void)st;
    otto_power_t pw;
    otto_simflash_t sf;
    otto_flash_t fl;
    otto_part_t od = {OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_OTA, 0xd000, 0x2000, "otadata", 0};
    otto_otadata_entry_t e[2], w = ent(7, OTTO_IMG_NEW);

    otto_power_init(&pw);
    assert_int_equal(otto_simflash_open_mem(&sf, &pw, 0x10000, 4096), 0);
    otto_simflash_hal(&sf, &fl);
    assert_int_equal(otto_otadata_write(&fl, &od, 1, &w), 0);
    assert_int_equal(otto_otadata_read(&fl, &od, e), 0);
    assert_int_equal(otto_otadata_active(e), 1);
    assert_int_equal(e[1].state, OTTO_IMG_NEW);
    /* rewriting needs the erase: state NEW -> PENDING sets a bit */
    w.state = OTTO_IMG_PENDING_VERIFY;
    assert_int_equal(otto_otadata_write(&fl, &od, 1, &w), 0);
    assert_int_equal(sf.violations, 0);
    /* cut while programming the first 28 bytes: the CRC stays blank */
    for (uint64_t seed = 1; seed < 200; seed++) {
        otto_power_arm(&pw, 2, OTTO_CUT_TORN, seed); /* op 1 erase, op 2 body */
        w.state = OTTO_IMG_VALID;
        assert_int_equal(otto_otadata_write(&fl, &od, 1, &w), OTTO_E_IO);
        otto_power_restore(&pw);
        assert_int_equal(otto_otadata_read(&fl, &od, e), 0);
        assert_int_equal(otto_otadata_active(e), -1);
    }
    /* a partition of one sector is refused */
    od.size = 0x1000;
    assert_int_equal(otto_otadata_read(&fl, &od, e), OTTO_E_INVAL);
    otto_simflash_close(&sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_vectors),
        cmocka_unit_test(active_rules),
        cmocka_unit_test(seq_math),
        cmocka_unit_test(write_and_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
