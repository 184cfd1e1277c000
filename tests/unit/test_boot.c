/* SPDX-License-Identifier: Apache-2.0 */
/* The boot decision, row by row of ESP-IDF's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixtures.h"
#include "otto/otadata.h"
#include "partcsv.h"

static otto_simdev_t d;

/* Provision with a CSV table and images by label. */
static void make(const char *csv, const char *label0, const uint8_t *img0, size_t len0,
                 const char *label1, const uint8_t *img1, size_t len1)
{
    otto_part_t parts[OTTO_PARTCSV_MAX];
    uint8_t bin[OTTO_PART_TABLE_LEN];
    char err[256];
    size_t n;
    assert_int_equal(otto_simdev_open(&d, NULL), 0);
    assert_int_equal(otto_partcsv_parse(csv, NULL, parts, &n, err, sizeof(err)), 0);
    assert_int_equal(otto_part_encode(parts, n, true, bin), 0);
    otto_simdev_flash_raw(&d, OTTO_PART_TABLE_OFFSET, bin, sizeof(bin));
    assert_int_equal(otto_part_load(&d.flash, OTTO_PART_TABLE_OFFSET, &d.table), 0);
    if (label0)
        otto_simdev_flash_raw(&d, fx_part(&d, label0)->offset, img0, len0);
    if (label1)
        otto_simdev_flash_raw(&d, fx_part(&d, label1)->offset, img1, len1);
}

static const char no_factory[] =
    "nvs, data, nvs, , 0x4000\notadata, data, ota, , 0x2000\n"
    "ota_0, app, ota_0, , 256K\nota_1, app, ota_1, , 256K\n";

static void write_entry(unsigned idx, uint32_t seq, uint32_t state)
{
    otto_otadata_entry_t e;
    memset(&e, 0xFF, sizeof(e));
    e.seq = seq;
    e.state = state;
    assert_int_equal(otto_otadata_write(&d.flash, fx_part(&d, "otadata"), idx, &e), 0);
}

static void factory_rules(void **st)
{
    (void)st;
    size_t fl, l1;
    uint8_t *f = fx_image("1.0.0", 0, 0, 0, &fl), *a = fx_image("1.1.0", 0, 0, 0, &l1);
    /* no otadata partition at all */
    make("nvs, data, nvs, , 0x4000\nfactory, app, factory, , 256K\n", "factory", f, fl, NULL, NULL, 0);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_NO_OTADATA);
    otto_simdev_close(&d);

    /* blank otadata: factory; an entry for ota_0: ota_0 */
    make(otto_partcsv_default_layout, "factory", f, fl, "ota_0", a, l1);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_NO_ENTRY);
    assert_string_equal(d.boot.part->label, "factory");
    write_entry(0, 3, OTTO_IMG_VALID); /* seq 3 -> slot (3-1)%2 = 0 */
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(d.boot.part->label, "ota_0");
    /* selected image broken: with anti-rollback its entry is dropped (its
     * secure_version cannot be read), so factory is the plain choice ... */
    d.flash.erase(d.flash.ctx, fx_part(&d, "ota_0")->offset, 4096);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_NO_ENTRY);
    /* ... without it, the load fails and falls back down to factory */
    d.plat.anti_rollback = 0;
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_FALLBACK);
    assert_string_equal(d.boot.part->label, "factory");
    assert_int_equal(d.boot.chosen_slot, 0);
    otto_simdev_close(&d);
    free(f);
    free(a);
}

static void initial_state(void **st)
{
    (void)st;
    size_t l0;
    uint8_t *a = fx_image("1.0.0", 2, 0, 0, &l0);
    uint32_t fuse;
    make(no_factory, "ota_0", a, l0, NULL, NULL, 0);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_INITIAL);
    assert_string_equal(d.boot.part->label, "ota_0");
    /* the bootloader wrote {seq 1, VALID} and raised the eFuse */
    otto_otadata_entry_t e[2];
    otto_otadata_read(&d.flash, fx_part(&d, "otadata"), e);
    assert_int_equal(e[0].seq, 1);
    assert_int_equal(e[0].state, OTTO_IMG_VALID);
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    assert_int_equal(fuse, 2);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_ACTIVE);
    otto_simdev_close(&d);
    free(a);
}

static void pending_then_aborted(void **st)
{
    (void)st;
    size_t l0, l1;
    uint8_t *a = fx_image("1.0.0", 0, 0, 0, &l0), *b = fx_image("1.1.0", 0, 0, 0, &l1);
    make(no_factory, "ota_0", a, l0, "ota_1", b, l1);
    write_entry(0, 1, OTTO_IMG_VALID);
    write_entry(1, 2, OTTO_IMG_NEW);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(d.boot.part->label, "ota_1");
    assert_true(d.boot.pending);
    assert_int_equal(d.boot.state, OTTO_IMG_PENDING_VERIFY);
    /* reset without confirming: ABORTED, back to ota_0 */
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.aborted, 2);
    assert_string_equal(d.boot.part->label, "ota_0");
    /* a bad CRC on the newer entry: ignored */
    write_entry(1, 4, OTTO_IMG_VALID);
    uint8_t z = 0;
    d.flash.program(d.flash.ctx, fx_part(&d, "otadata")->offset + 4096 + 28, &z, 1);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(d.boot.part->label, "ota_0");
    otto_simdev_close(&d);
    free(a);
    free(b);
}

static void anti_rollback(void **st)
{
    (void)st;
    size_t l0, l1;
    uint8_t *a = fx_image("1.0.0", 1, 0, 0, &l0), *b = fx_image("0.9.0", 0, 0, 0, &l1);
    uint32_t fuse;
    make(no_factory, "ota_0", a, l0, "ota_1", b, l1);
    write_entry(0, 1, OTTO_IMG_VALID);
    write_entry(1, 2, OTTO_IMG_VALID); /* newer entry, but an older secure_version */
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(d.boot.part->label, "ota_1");     /* eFuse 0: allowed */
    d.efuse.raise_secure_version(d.efuse.ctx, 1);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(d.boot.part->label, "ota_0");     /* now below the eFuse: skipped */
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    assert_int_equal(fuse, 1);
    d.efuse.raise_secure_version(d.efuse.ctx, 5);
    assert_int_equal(otto_simdev_boot(&d), OTTO_E_NOTFOUND); /* nothing meets the eFuse */
    otto_simdev_close(&d);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(factory_rules),
        cmocka_unit_test(initial_state),
        cmocka_unit_test(pending_then_aborted),
        cmocka_unit_test(anti_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
