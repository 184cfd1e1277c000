/* SPDX-License-Identifier: Apache-2.0 */
/* Hardware variants (server/hw.c): a hello's hw kept as known keys only,
 * refused when a known key is malformed; where filters parsed, each
 * refusal saying what is wrong, and matched (a key a device does not
 * report fails the condition); the fit of images to slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw.h"
#include "otto/err.h"

static int hello(const char *json, char *out, char *msg)
{
    cJSON *j = cJSON_Parse(json);
    int err = srv_hw_from_hello(j, out, SRV_HW_MAX + 1, msg, 160);
    cJSON_Delete(j);
    return err;
}

static void hello_hw(void **state)
{
    (void)state;
    char hw[SRV_HW_MAX + 1], msg[160];
    assert_int_equal(hello("{\"chip\":9,\"chip_rev\":2,\"flash\":4194304,\"slot\":1048576,\"mcufw\":966656,"
                           "\"mcu\":\"STM32F103\",\"colour\":\"red\"}", hw, msg), OTTO_OK);
    assert_string_equal(hw, "{\"chip\":\"esp32s3\",\"chip_rev\":2,\"flash\":4194304,\"slot\":1048576,"
                            "\"mcufw\":966656,\"mcu\":\"stm32f103\"}");
    assert_int_equal(hello("{\"chip\":77,\"mcu_pid\":1040}", hw, msg), OTTO_OK); /* 1040 = 0x410 */
    assert_string_equal(hw, "{\"chip\":\"chip-77\",\"mcu\":\"stm32f103\"}");
    assert_int_equal(hello("{\"mcu_pid\":1111}", hw, msg), OTTO_OK);
    assert_string_equal(hw, "{\"mcu\":\"0x457\"}");
    assert_int_equal(hello("{\"slot\":\"big\"}", hw, msg), OTTO_E_INVAL);
    assert_string_equal(msg, "hello: hw.slot is a whole number of 0-4294967295");
    assert_int_equal(hello("{\"flash\":-1}", hw, msg), OTTO_E_INVAL);
    assert_int_equal(hello("{\"flash\":1.5}", hw, msg), OTTO_E_INVAL);
    assert_int_equal(hello("{\"mcu\":\"two words\"}", hw, msg), OTTO_E_INVAL);
    assert_int_equal(hello("{\"chip\":70000}", hw, msg), OTTO_E_INVAL);
    assert_int_equal(hello("[1]", hw, msg), OTTO_E_INVAL);
}

static void where_parse(void **state)
{
    (void)state;
    srv_where_t w;
    char msg[160];
    assert_int_equal(srv_where_parse(NULL, &w, msg, sizeof msg), OTTO_OK);
    assert_int_equal(w.n, 0);
    assert_int_equal(srv_where_parse("slot>=1536K and chip = ESP32, mcufw<1M", &w, msg, sizeof msg), OTTO_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.c[0].key, "slot");
    assert_string_equal(w.c[0].op, ">=");
    assert_true(w.c[0].num == 1536 * 1024.0);
    assert_string_equal(w.c[1].str, "esp32");
    assert_true(w.c[2].num == 1048576.0);
    assert_int_equal(srv_where_parse("colour=red", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_string_equal(msg, "where: no key 'colour' (chip, chip_rev, flash, slot, mcufw, mcu)");
    assert_int_equal(srv_where_parse("chip>esp32", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_string_equal(msg, "where: chip compares with = or != only");
    assert_int_equal(srv_where_parse("slot>>1", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_int_equal(srv_where_parse("slot=big", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_string_equal(msg, "where: slot takes a number (K and M for KiB and MiB), not 'big'");
    assert_int_equal(srv_where_parse("slot", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_int_equal(srv_where_parse(",", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_int_equal(srv_where_parse("a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1", &w, msg, sizeof msg), OTTO_E_INVAL);
    assert_int_equal(srv_where_parse("flash=1,flash=1,flash=1,flash=1,flash=1,flash=1,flash=1,flash=1,flash=1", &w,
                                     msg, sizeof msg), OTTO_E_INVAL);
    assert_string_equal(msg, "where: at most 8 conditions");
}

static void where_match(void **state)
{
    (void)state;
    srv_where_t w;
    char msg[160], why[160];
    const char *mod = "{\"chip\":\"esp32\",\"slot\":1048576,\"mcufw\":966656,\"mcu\":\"stm32f103\"}";
    const char *bare = "{\"chip\":\"esp32\",\"slot\":2097152}";
    assert_int_equal(srv_where_parse("mcu=stm32f103 and slot>=512K", &w, msg, sizeof msg), OTTO_OK);
    assert_true(srv_where_match(&w, mod, why, sizeof why));
    assert_false(srv_where_match(&w, bare, why, sizeof why));
    assert_string_equal(why, "does not report its mcu (where mcu=stm32f103 and slot>=512K)");
    assert_false(srv_where_match(&w, "{}", why, sizeof why));
    assert_int_equal(srv_where_parse("slot>1M", &w, msg, sizeof msg), OTTO_OK);
    assert_false(srv_where_match(&w, mod, why, sizeof why));
    assert_string_equal(why, "slot > 1048576 does not hold");
    assert_true(srv_where_match(&w, bare, why, sizeof why));
    assert_int_equal(srv_where_parse("mcu!=stm32f103", &w, msg, sizeof msg), OTTO_OK);
    assert_false(srv_where_match(&w, mod, why, sizeof why));
    assert_string_equal(why, "mcu != stm32f103 does not hold");
    assert_true(srv_where_match(&w, bare, why, sizeof why)); /* no MCU is not an stm32f103 */
    assert_int_equal(srv_where_parse("", &w, msg, sizeof msg), OTTO_OK);
    assert_true(srv_where_match(&w, "{}", why, sizeof why)); /* no filter: everyone */
}

static void fits(void **state)
{
    (void)state;
    srv_fw_t fw[2];
    char why[160];
    memset(fw, 0, sizeof fw);
    strcpy(fw[0].ota_type, "esp32");
    fw[0].size = 600 * 1024;
    strcpy(fw[1].ota_type, "stm32");
    fw[1].size = 64 * 1024;
    assert_true(srv_hw_fits("{\"slot\":1048576,\"mcufw\":966656}", fw, 2, why, sizeof why));
    assert_false(srv_hw_fits("{\"slot\":524288}", fw, 2, why, sizeof why));
    assert_string_equal(why, "the esp32 image (614400 bytes) is larger than its OTA slot (524288 bytes)");
    assert_false(srv_hw_fits("{\"slot\":1048576,\"mcufw\":32768}", fw, 2, why, sizeof why));
    assert_string_equal(why, "the stm32 image (65536 bytes) is larger than its MCU staging partition (32768 bytes)");
    assert_true(srv_hw_fits("{}", fw, 2, why, sizeof why)); /* said nothing: not judged */
    assert_true(srv_hw_fits("{\"slot\":614400}", fw, 1, why, sizeof why)); /* exactly fits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hello_hw),
        cmocka_unit_test(where_parse),
        cmocka_unit_test(where_match),
        cmocka_unit_test(fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
