/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* The simulated NOR flash: NOR rules, op counting and each cut mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "simflash.h"

static otto_power_t pw;
static otto_simflash_t sf;
static otto_flash_t fl;

static int setup(void **st)
{
    (void)st;
    otto_power_init(&pw);
    otto_simflash_hal(&sf, &fl);
    int rc = otto_simflash_open_mem(&sf, &pw, 4 * 4096, 4096);
    otto_simflash_hal(&sf, &fl);
    return rc;
}

static int teardown(void **st)
{
    (void)st;
    otto_simflash_close(&sf);
    return 0;
}

static void nor_rules(void **st)
{
    (void)st;
    uint8_t b[4];
    fl.read(fl.ctx, 0, b, 4);
    assert_memory_equal(b, "\xff\xff\xff\xff", 4);
    assert_int_equal(fl.program(fl.ctx, 0, "\x0f\xf0", 2), 0);
    assert_int_equal(fl.program(fl.ctx, 0, "\x0e\xf0", 2), 0);     /* clears one more bit */
    assert_int_equal(fl.program(fl.ctx, 0, "\xff\xf0", 2), OTTO_E_PROGRAM); /* 0 -> 1 */
    assert_int_equal(sf.violations, 1);
    fl.read(fl.ctx, 0, b, 2);
    assert_memory_equal(b, "\x0e\xf0", 2);                          /* refused op changed nothing */
    assert_int_equal(fl.erase(fl.ctx, 100, 4096), OTTO_E_INVAL);    /* unaligned */
    assert_int_equal(fl.erase(fl.ctx, 0, 4096), 0);
    fl.read(fl.ctx, 0, b, 2);
    assert_memory_equal(b, "\xff\xff", 2);
    assert_int_equal(sf.wear[0], 1);
    assert_int_equal(fl.program(fl.ctx, 4 * 4096 - 1, "ab", 2), OTTO_E_INVAL);
    assert_int_equal(pw.ops, 4); /* 3 programs (one refused) + 1 erase */
}

static void cut_modes(void **st)
{
    (void)st;
    uint8_t data[256], got[256];
    memset(data, 0x00, sizeof(data));

    otto_power_arm(&pw, 1, OTTO_CUT_BEFORE, 1);
    assert_int_equal(fl.program(fl.ctx, 0, data, 256), OTTO_E_IO);
    assert_true(pw.off);
    assert_int_equal(fl.read(fl.ctx, 0, got, 1), OTTO_E_IO);       /* no power, no reads */
    otto_power_restore(&pw);
    fl.read(fl.ctx, 0, got, 256);
    for (int i = 0; i < 256; i++)
        assert_int_equal(got[i], 0xFF);

    otto_power_arm(&pw, 1, OTTO_CUT_AFTER, 1);
    assert_int_equal(fl.program(fl.ctx, 0, data, 256), OTTO_E_IO);
    otto_power_restore(&pw);
    fl.read(fl.ctx, 0, got, 256);
    assert_memory_equal(got, data, 256);

    /* torn program: a prefix lands, the rest is partly programmed; the same
     * seed gives the same bytes */
    uint8_t first[256];
    for (int rep = 0; rep < 2; rep++) {
        fl.erase(fl.ctx, 4096, 4096);
        otto_power_arm(&pw, 1, OTTO_CUT_TORN, 42);
        assert_int_equal(fl.program(fl.ctx, 4096, data, 256), OTTO_E_IO);
        otto_power_restore(&pw);
        fl.read(fl.ctx, 4096, got, 256);
        if (rep == 0)
            memcpy(first, got, 256);
        else
            assert_memory_equal(first, got, 256);
    }
    int zero = 0, ff = 0;
    for (int i = 0; i < 256; i++) {
        zero += got[i] == 0;
        ff += got[i] == 0xFF;
    }
    assert_true(zero > 0 && zero < 256);
    assert_int_equal(fl.program(fl.ctx, 4096, data, 256), 0);      /* completing it is legal */

    /* torn erase leaves random content, not 0xFF and not the old bytes */
    otto_power_arm(&pw, 1, OTTO_CUT_TORN, 7);
    assert_int_equal(fl.erase(fl.ctx, 4096, 4096), OTTO_E_IO);
    otto_power_restore(&pw);
    fl.read(fl.ctx, 4096, got, 256);
    ff = 0;
    for (int i = 0; i < 256; i++)
        ff += got[i] == 0xFF;
    assert_true(ff < 256);
    (void)ff;

    /* a multi-sector erase is one op per sector: cut the second */
    fl.program(fl.ctx, 0, data, 16);
    fl.program(fl.ctx, 4096, data, 16);
    otto_power_arm(&pw, 2, OTTO_CUT_BEFORE, 1);
    assert_int_equal(fl.erase(fl.ctx, 0, 2 * 4096), OTTO_E_IO);
    otto_power_restore(&pw);
    fl.read(fl.ctx, 0, got, 1);
    assert_int_equal(got[0], 0xFF);
    fl.read(fl.ctx, 4096, got, 1);
    assert_int_equal(got[0], 0x00);
}

static void efuse(void **st)
{
    (void)st;
    otto_simefuse_t e;
    otto_efuse_t h;
    uint32_t v;
    char path[] = "/tmp/otto-efuse-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    assert_int_equal(otto_simefuse_open(&e, &pw, path, 16), 0);
    otto_simefuse_hal(&e, &h);
    h.read_secure_version(h.ctx, &v);
    assert_int_equal(v, 0);
    assert_int_equal(h.raise_secure_version(h.ctx, 3), 0);
    assert_int_equal(h.raise_secure_version(h.ctx, 1), 0);  /* never lowers */
    h.read_secure_version(h.ctx, &v);
    assert_int_equal(v, 3);
    assert_int_equal(h.raise_secure_version(h.ctx, 17), OTTO_E_INVAL);
    otto_simefuse_t again;
    assert_int_equal(otto_simefuse_open(&again, &pw, path, 16), 0); /* persisted */
    assert_int_equal(again.bits, 0x7u);
    otto_power_arm(&pw, 1, OTTO_CUT_TORN, 3);
    assert_int_equal(h.raise_secure_version(h.ctx, 12), OTTO_E_IO);
    otto_power_restore(&pw);
    h.read_secure_version(h.ctx, &v);
    assert_true(v >= 3 && v <= 12);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(nor_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(efuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
