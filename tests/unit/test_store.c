/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store contract (store.h), held by both stores a port may give the
 * agent: otto's kv in its own partition, and ESP-IDF's NVS under the
 * "otto" namespace (ports/template/store_nvs.c on the NVS double).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "otto/kv.h"
#include "simflash.h"
#include "store_nvs.h"

static void contract(const otto_store_t *s)
{
    int64_t v = 0;
    char str[8];
    uint8_t blob[4];
    size_t len = 0;
    assert_int_equal(otto_store_get_int(s, "off", &v), OTTO_E_NOTFOUND);
    assert_int_equal(otto_store_set_int(s, "off", 16384), OTTO_OK);
    assert_int_equal(otto_store_get_int(s, "off", &v), OTTO_OK);
    assert_int_equal(v, 16384);
    /* another type: not found */
    assert_int_equal(otto_store_get_str(s, "off", str, sizeof str), OTTO_E_NOTFOUND);
    assert_int_equal(otto_store_get_blob(s, "off", blob, sizeof blob, &len), OTTO_E_NOTFOUND);
    assert_int_equal(otto_store_set_str(s, "mcuver", "2.0.0"), OTTO_OK);
    assert_int_equal(otto_store_get_str(s, "mcuver", str, sizeof str), OTTO_OK);
    assert_string_equal(str, "2.0.0");
    assert_int_equal(otto_store_get_str(s, "mcuver", str, 5), OTTO_E_NOSPC); /* the NUL counts */
    assert_int_equal(otto_store_set_blob(s, "job", "\x81\x01\x02\x03\x04\x05", 6), OTTO_OK);
    assert_int_equal(otto_store_get_blob(s, "job", blob, sizeof blob, &len), OTTO_E_NOSPC);
    assert_int_equal(len, 6);
    uint8_t big[8];
    assert_int_equal(otto_store_get_blob(s, "job", big, sizeof big, &len), OTTO_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(big, "\x81\x01\x02\x03\x04\x05", 6);
    /* replaced, then erased; erasing again is fine */
    assert_int_equal(otto_store_set_int(s, "off", 32768), OTTO_OK);
    assert_int_equal(otto_store_get_int(s, "off", &v), OTTO_OK);
    assert_int_equal(v, 32768);
    assert_int_equal(otto_store_erase(s, "off"), OTTO_OK);
    assert_int_equal(otto_store_get_int(s, "off", &v), OTTO_E_NOTFOUND);
    assert_int_equal(otto_store_erase(s, "off"), OTTO_OK);
}

static void kv_store(void **state)
{
    (void)state;
    otto_power_t pw;
    otto_simflash_t sf;
    otto_flash_t fl;
    otto_kv_t kv;
    otto_store_t s;
    otto_power_init(&pw);
    assert_int_equal(otto_simflash_open_mem(&sf, &pw, 4 * 4096, 4096), OTTO_OK);
    otto_simflash_hal(&sf, &fl);
    assert_int_equal(otto_kv_mount(&kv, &fl, 0, 4 * 4096, true, NULL), OTTO_OK);
    otto_kv_store(&kv, &s);
    contract(&s);
    otto_simflash_close(&sf);
}

static void nvs_store(void **state)
{
    (void)state;
    otto_nvs_store_t n;
    otto_store_t s;
    nvs_double_reset();
    assert_int_equal(otto_nvs_store_open(&n, &s), OTTO_OK);
    contract(&s);
    otto_nvs_store_close(&n);
}

/* Every set and erase is committed before it returns: a power cut right
 * after loses nothing. */
static void nvs_store_durable(void **state)
{
    (void)state;
    otto_nvs_store_t n;
    otto_store_t s;
    int64_t v = 0;
    char str[16];
    nvs_double_reset();
    assert_int_equal(otto_nvs_store_open(&n, &s), OTTO_OK);
    assert_int_equal(otto_store_set_int(&s, "off", 4096), OTTO_OK);
    nvs_double_power_cut();
    assert_int_equal(otto_store_get_int(&s, "off", &v), OTTO_OK);
    assert_int_equal(v, 4096);
    assert_int_equal(otto_store_set_str(&s, "mcuver", "2.1.0"), OTTO_OK);
    assert_int_equal(otto_store_erase(&s, "off"), OTTO_OK);
    nvs_double_power_cut();
    assert_int_equal(otto_store_get_str(&s, "mcuver", str, sizeof str), OTTO_OK);
    assert_int_equal(otto_store_get_int(&s, "off", &v), OTTO_E_NOTFOUND);
    assert_true(nvs_double_commits() >= 3);
}

/* otto's keys live in its own namespace; the application's stay as they are. */
static void nvs_app_keys_untouched(void **state)
{
    (void)state;
    nvs_handle_t app;
    otto_nvs_store_t n;
    otto_store_t s;
    char ssid[32];
    size_t len = sizeof ssid;
    nvs_double_reset();
    assert_int_equal(nvs_open("wifi", NVS_READWRITE, &app), ESP_OK);
    assert_int_equal(nvs_set_str(app, "job", "home-network"), ESP_OK); /* the same key name as otto's */
    assert_int_equal(nvs_commit(app), ESP_OK);
    assert_int_equal(otto_nvs_store_open(&n, &s), OTTO_OK);
    assert_int_equal(otto_store_set_blob(&s, "job", "\x81", 1), OTTO_OK);
    assert_int_equal(otto_store_erase(&s, "job"), OTTO_OK);
    assert_int_equal(nvs_get_str(app, "job", ssid, &len), ESP_OK);
    assert_string_equal(ssid, "home-network");
    assert_int_equal(nvs_double_keys("wifi"), 1);
    assert_int_equal(nvs_double_keys("otto"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_store),
        cmocka_unit_test(nvs_store),
        cmocka_unit_test(nvs_store_durable),
        cmocka_unit_test(nvs_app_keys_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
