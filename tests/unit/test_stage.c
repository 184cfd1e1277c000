/* SPDX-License-Identifier: Apache-2.0 */
/* Staging writes into a data partition: sequential erase, resume at any
 * offset (mid-sector: the same bytes programmed over themselves; at a
 * sector boundary: that sector erased first), never past the partition,
 * and nothing outside it touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "otto/stage.h"
#include "simflash.h"

#define SECTOR 4096u
#define PART_OFF (2u * SECTOR)
#define PART_LEN (4u * SECTOR)

typedef struct {
    otto_power_t pw;
    otto_simflash_t sf;
    otto_flash_t fl;
    otto_part_t part;
    uint8_t img[PART_LEN];
} rig_t;

static void rig_open(rig_t *r)
{
    memset(r, 0, sizeof *r);
    otto_power_init(&r->pw);
    assert_int_equal(otto_simflash_open_mem(&r->sf, &r->pw, 8u * SECTOR, SECTOR), 0);
    otto_simflash_hal(&r->sf, &r->fl);
    memset(r->sf.mem, 0x00, 8u * SECTOR); /* old contents everywhere: nothing is erased */
    r->part = (otto_part_t){OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, PART_OFF, PART_LEN, "mcufw", 0};
    for (uint32_t i = 0; i < PART_LEN; i++)
        r->img[i] = (uint8_t)(i * 31u + 7u);
}

static void rig_close(rig_t *r) { otto_simflash_close(&r->sf); }

/* Write img[from, to) in chunks of n. */
static void feed(rig_t *r, otto_stage_t *s, uint32_t from, uint32_t to, uint32_t n)
{
    for (uint32_t off = from; off < to; off += n)
        assert_int_equal(otto_stage_write(s, r->img + off, to - off < n ? to - off : n), OTTO_OK);
}

static void outside_untouched(const rig_t *r)
{
    for (uint32_t i = 0; i < PART_OFF; i++)
        assert_int_equal(r->sf.mem[i], 0);
    for (uint32_t i = PART_OFF + PART_LEN; i < 8u * SECTOR; i++)
        assert_int_equal(r->sf.mem[i], 0);
}

static void whole(void **state)
{
    (void)state;
    static rig_t r;
    otto_stage_t s;
    rig_open(&r);
    assert_int_equal(otto_stage_begin(&s, &r.fl, &r.part), OTTO_OK);
    feed(&r, &s, 0, 10000, 777);
    assert_int_equal(s.written, 10000);
    assert_memory_equal(r.sf.mem + PART_OFF, r.img, 10000);
    /* Sectors are erased as the writing reaches them, not before. */
    assert_int_equal(r.sf.mem[PART_OFF + 3u * SECTOR], 0);
    assert_int_equal(r.sf.violations, 0);
    outside_untouched(&r);
    rig_close(&r);
}

static void resume(void **state)
{
    (void)state;
    static rig_t r;
    otto_stage_t s;
    static const uint32_t at[] = {1, 4095, 4096, 4097, 8191, 8192, 12000};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        rig_open(&r);
        /* A first session got further than its checkpoint `at[k]`, then the
         * power went; a second one resumes at the checkpoint. */
        assert_int_equal(otto_stage_begin(&s, &r.fl, &r.part), OTTO_OK);
        feed(&r, &s, 0, at[k] + 900 < PART_LEN ? at[k] + 900 : PART_LEN, 512);
        assert_int_equal(otto_stage_resume(&s, &r.fl, &r.part, at[k]), OTTO_OK);
        feed(&r, &s, at[k], PART_LEN, 1000);
        assert_memory_equal(r.sf.mem + PART_OFF, r.img, PART_LEN);
        assert_int_equal(r.sf.violations, 0);
        outside_untouched(&r);
        rig_close(&r);
    }
}

static void bounds(void **state)
{
    (void)state;
    static rig_t r;
    otto_stage_t s;
    rig_open(&r);
    assert_int_equal(otto_stage_resume(&s, &r.fl, &r.part, PART_LEN + 1), OTTO_E_INVAL);
    assert_int_equal(otto_stage_begin(&s, &r.fl, &r.part), OTTO_OK);
    feed(&r, &s, 0, PART_LEN - 10, 4096);
    assert_int_equal(otto_stage_write(&s, r.img, 11), OTTO_E_NOSPC);
    assert_int_equal(otto_stage_write(&s, r.img, 10), OTTO_OK);
    assert_int_equal(otto_stage_write(&s, r.img, 1), OTTO_E_NOSPC);
    outside_untouched(&r);
    rig_close(&r);
    /* A flash that fails mid-way says so. */
    rig_open(&r);
    assert_int_equal(otto_stage_begin(&s, &r.fl, &r.part), OTTO_OK);
    otto_power_arm(&r.pw, 2, OTTO_CUT_BEFORE, 1);
    assert_int_equal(otto_stage_write(&s, r.img, 100), OTTO_E_IO);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole),
        cmocka_unit_test(resume),
        cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
