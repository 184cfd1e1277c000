/* SPDX-License-Identifier: Apache-2.0 */
/* OTA writes and slot switching on a simulated device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixtures.h"

static otto_simdev_t d;
static uint8_t *factory;
static size_t factory_len;

static int setup(void **st)
{
    (void)st;
    factory = fx_image("1.0.0", 0, 20000, 0, &factory_len);
    if (fx_provision(&d, factory, factory_len))
        return -1;
    return otto_simdev_boot(&d);
}

static int teardown(void **st)
{
    (void)st;
    otto_simdev_close(&d);
    free(factory);
    return 0;
}

static int write_all(otto_ota_t *o, const uint8_t *b, size_t len, size_t chunk)
{
    int rc = 0;
    for (size_t off = 0; !rc && off < len; off += chunk)
        rc = otto_ota_write(o, b + off, len - off < chunk ? len - off : chunk);
    return rc;
}

static int all_ff(const otto_part_t *p, uint32_t len)
{
    uint8_t b[256];
    for (uint32_t off = 0; off < len; off += sizeof(b)) {
        d.flash.read(d.flash.ctx, p->offset + off, b, sizeof(b));
        for (size_t i = 0; i < sizeof(b); i++)
            if (b[i] != 0xFF)
                return 0;
    }
    return 1;
}

static void full_update(void **st)
{
    (void)st;
    size_t len;
    uint8_t *v11 = fx_image("1.1.0", 1, 30000, 0, &len);
    otto_ota_t o;
    otto_image_info_t info;
    uint32_t state, fuse;

    assert_string_equal(otto_simdev_running_label(&d), "factory");
    assert_string_equal(otto_ota_next_slot(&d.ota)->label, "ota_0");
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, v11, len, 7), 0); /* odd chunking */
    assert_int_equal(otto_ota_end(&o, &info), 0);
    assert_string_equal(info.desc.version, "1.1.0");
    assert_int_equal(otto_ota_set_boot(&d.ota, o.target), 0);
    assert_int_equal(otto_ota_slot_state(&d.ota, o.target, &state), 0);
    assert_int_equal(state, OTTO_IMG_NEW);

    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(otto_simdev_running_label(&d), "ota_0");
    assert_int_equal(otto_ota_running_state(&d.ota, &state), 0);
    assert_int_equal(state, OTTO_IMG_PENDING_VERIFY);
    /* no second update while unconfirmed */
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), OTTO_E_STATE);
    assert_int_equal(otto_ota_mark_valid(&d.ota), 0);
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    assert_int_equal(fuse, 1);
    assert_int_equal(otto_ota_running_state(&d.ota, &state), 0);
    assert_int_equal(state, OTTO_IMG_VALID);
    assert_int_equal(otto_ota_mark_valid(&d.ota), 0); /* idempotent */

    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(otto_simdev_running_label(&d), "ota_0");
    assert_int_equal(d.boot.why, OTTO_BOOT_ACTIVE);
    /* the running slot cannot be a target */
    assert_int_equal(otto_ota_begin(&o, &d.ota, d.boot.part, 0), OTTO_E_STATE);
    assert_int_equal(d.sf.violations, 0);
    free(v11);
}

static void refused_before_writing(void **st)
{
    (void)st;
    size_t len;
    otto_ota_t o;
    const otto_part_t *ota0 = fx_part(&d, "ota_0");

    uint8_t *s3 = fx_image_chip("2.0.0", OTTO_CHIP_ESP32S3, &len);
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, s3, len, 16), OTTO_E_CHIP);
    assert_int_equal(otto_ota_write(&o, s3, 16), OTTO_E_CHIP); /* sticky */
    assert_int_equal(otto_ota_end(&o, NULL), OTTO_E_CHIP);
    assert_true(all_ff(ota0, 0x10000));
    free(s3);

    d.efuse.raise_secure_version(d.efuse.ctx, 2);
    uint8_t *old = fx_image("1.5.0", 1, 30000, 0, &len);
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, old, len, 1000), OTTO_E_VERSION);
    assert_true(all_ff(ota0, 0x10000));
    free(old);

    uint8_t junk[600];
    memset(junk, 0x5A, sizeof(junk));
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(otto_ota_write(&o, junk, sizeof(junk)), OTTO_E_CORRUPT);
    assert_true(all_ff(ota0, 0x10000));
}

static void bad_images(void **st)
{
    (void)st;
    size_t len;
    otto_ota_t o;
    uint8_t *img = fx_image("1.1.0", 0, 30000, 0, &len);

    /* corrupted in the middle: end fails, set_boot refuses the slot */
    img[20000] ^= 0x40;
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SIZE_UNKNOWN), 0);
    int rc = write_all(&o, img, len, 4096); /* the stream sees it at the checksum */
    assert_int_equal(rc ? rc : otto_ota_end(&o, NULL), OTTO_E_VERIFY);
    assert_int_equal(otto_ota_set_boot(&d.ota, fx_part(&d, "ota_0")), OTTO_E_VERIFY);
    img[20000] ^= 0x40;

    /* truncated */
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, (uint32_t)len), 0);
    assert_int_equal(write_all(&o, img, len - 100, 4096), 0);
    assert_int_equal(otto_ota_end(&o, NULL), OTTO_E_CORRUPT);

    /* trailing garbage */
    uint8_t *longer = malloc(len + 64);
    memcpy(longer, img, len);
    memset(longer + len, 0, 64);
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, longer, len + 64, 4096), 0);
    assert_int_equal(otto_ota_end(&o, NULL), OTTO_E_CORRUPT);
    free(longer);

    /* larger than the slot */
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, 2u << 20), OTTO_E_NOSPC);
    /* end with nothing written */
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(otto_ota_end(&o, NULL), OTTO_E_STATE);
    assert_int_equal(d.sf.violations, 0);
    free(img);
}

static void rollback_paths(void **st)
{
    (void)st;
    size_t len;
    uint8_t *bad = fx_image("1.2.0", 0, 30000, OTTO_APP_FLAG_SELFTEST_FAIL, &len);
    otto_app_outcome_t out;

    /* factory verifies: a failing first update rolls back to it */
    assert_int_equal(otto_simdev_install(&d, bad, len, 4096, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(otto_simdev_app_start(&d, &out), 0);
    assert_int_equal(out, OTTO_APP_ROLLED_BACK);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_string_equal(otto_simdev_running_label(&d), "factory");

    /* factory gone: as in ESP-IDF, the fallback walk boots any image that
     * verifies, even one marked INVALID; the app sees it was not selected */
    d.flash.erase(d.flash.ctx, 0x10000, 0x10000);
    assert_int_equal(otto_simdev_boot(&d), 0);
    assert_int_equal(d.boot.why, OTTO_BOOT_FALLBACK);
    assert_string_equal(otto_simdev_running_label(&d), "ota_0");
    assert_int_equal(otto_simdev_app_start(&d, &out), 0);
    assert_int_equal(out, OTTO_APP_RUNNING);
    /* and with that image gone too, nothing boots */
    d.flash.erase(d.flash.ctx, 0x110000, 0x10000);
    assert_int_equal(otto_simdev_boot(&d), OTTO_E_NOTFOUND);
    free(bad);
}

static void set_boot_rules(void **st)
{
    (void)st;
    size_t len;
    uint8_t *v = fx_image("1.1.0", 1, 30000, 0, &len);
    const otto_part_t *ota0 = fx_part(&d, "ota_0");
    otto_ota_t o;
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, v, len, 4096), 0);
    assert_int_equal(otto_ota_end(&o, NULL), 0);
    /* the eFuse moved on meanwhile: the image is erased, not selected */
    d.efuse.raise_secure_version(d.efuse.ctx, 3);
    assert_int_equal(otto_ota_set_boot(&d.ota, ota0), OTTO_E_VERSION);
    assert_true(all_ff(ota0, 0x1000));
    /* selecting factory erases otadata */
    assert_int_equal(otto_ota_set_boot(&d.ota, fx_part(&d, "factory")), 0);
    assert_int_equal(otto_ota_set_boot(&d.ota, fx_part(&d, "nvs")), OTTO_E_NOTFOUND);
    uint32_t s;
    assert_int_equal(otto_ota_slot_state(&d.ota, ota0, &s), OTTO_E_NOTFOUND);
    free(v);
}

/* A download cut in the middle resumes from what flash holds, at any
 * offset, without erasing it again; a slot altered meanwhile is caught. */
static void resume(void **st)
{
    (void)st;
    size_t len;
    uint8_t *v11 = fx_image("1.1.0", 1, 30000, 0, &len);
    otto_ota_t o;
    otto_image_info_t info;
    static const uint32_t cuts[] = {0, 100, 4096, 5003, 12288, 29999};

    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        uint32_t cut = cuts[k] < len ? cuts[k] : (uint32_t)len - 1;
        assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
        assert_int_equal(write_all(&o, v11, cut, 1000), 0);
        /* power lost: o is gone; only flash remains */
        uint64_t erases = d.power.erases;
        assert_int_equal(otto_ota_resume(&o, &d.ota, NULL, cut), 0);
        uint32_t from = o.written;
        assert_true(from == cut || (from == 0 && cut < OTTO_IMAGE_HEAD_LEN + OTTO_APP_BLOCK_LEN));
        assert_int_equal(write_all(&o, v11 + from, len - from, 777), 0);
        assert_int_equal(otto_ota_end(&o, &info), 0);
        assert_string_equal(info.desc.version, "1.1.0");
        if (from)
            assert_true(d.power.erases - erases <= (len - from) / 4096 + 2); /* only what was left */
    }

    /* The slot changes under the device between cut and resume. */
    assert_int_equal(otto_ota_begin(&o, &d.ota, NULL, OTTO_OTA_SEQUENTIAL), 0);
    assert_int_equal(write_all(&o, v11, 20000, 1000), 0);
    const otto_part_t *slot = o.target;
    uint8_t zero[16] = {0};
    d.flash.program(d.flash.ctx, slot->offset + 9000, zero, sizeof zero);
    int rc = otto_ota_resume(&o, &d.ota, NULL, 20000);
    if (!rc)
        rc = write_all(&o, v11 + 20000, len - 20000, 1000);
    if (!rc)
        rc = otto_ota_end(&o, &info);
    assert_int_not_equal(rc, 0);
    free(v11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_update, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_before_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_images, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(set_boot_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(resume, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
