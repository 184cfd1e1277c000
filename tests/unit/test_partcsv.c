/* SPDX-License-Identifier: Apache-2.0 */
/* Partition CSV: ESP-IDF's syntax and every documented input error, each
 * reported with its line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "partcsv.h"

static otto_part_t parts[OTTO_PARTCSV_MAX];
static size_t n;
static char err[512];

static int parse(const char *csv)
{
    err[0] = 0;
    return otto_partcsv_parse(csv, NULL, parts, &n, err, sizeof(err));
}

static void syntax(void **st)
{
    (void)st;
    assert_int_equal(parse("# comment\n\n  nvs, data, nvs, 0x9000, 24K,\n"
                           "phy_init, DATA, phy, , 4K\n"
                           "factory, app, factory, , 1M\n"
                           "store, data, , , 0x10K, encrypted:readonly\n"
                           "cust, 0x40, 7, , 4096\n"
                           "tail, data, fat, , -0x400000\n"), 0);
    assert_int_equal(n, 6);
    assert_int_equal(parts[0].size, 0x6000);
    assert_int_equal(parts[1].offset, 0xf000);               /* auto, 4 KiB aligned */
    assert_int_equal(parts[2].offset, 0x10000);              /* auto, app: 64 KiB */
    assert_int_equal(parts[3].subtype, 0x06);                /* empty data subtype: undefined */
    assert_int_equal(parts[3].offset, 0x110000);
    assert_int_equal(parts[3].size, 0x4000);
    assert_int_equal(parts[3].flags, 3);
    assert_int_equal(parts[4].type, 0x40);
    assert_int_equal(parts[4].subtype, 7);
    assert_int_equal(parts[5].offset, 0x115000);
    assert_int_equal(parts[5].size, 0x400000 - 0x115000);    /* negative size: end address */

    setenv("OTTO_TEST_SIZE", "0x2000", 1);
    assert_int_equal(parse("otadata, data, ota, 0xd000, ${OTTO_TEST_SIZE}\n"), 0);
    assert_int_equal(parts[0].size, 0x2000);
    assert_int_equal(parse("\xEF\xBB\xBFnvs, data, nvs, 0x9000, 0x3000\n"), 0); /* BOM */
    assert_int_equal(parse("a_very_long_partition_name, data, nvs, 0x9000, 0x3000\n"), 0);
    assert_string_equal(parts[0].label, "a_very_long_part"); /* truncated to 16 */
}

static void expect_err(const char *csv, const char *needle)
{
    assert_int_not_equal(parse(csv), 0);
    if (!strstr(err, needle)) {
        print_error("error '%s' lacks '%s'\n", err, needle);
        fail();
    }
}

static void errors(void **st)
{
    (void)st;
    expect_err("nvs, data, nvs, 0x9000, 0x4000\nfactory, app, factory, 0x10000, 1M\n"
               "ota_0, app, ota_0, 0x100000, 1M\n",
               "line 3: partitions overlap");
    expect_err("nvs, data, nvs, 0x8000, 0x4000\n", "line 1:");
    expect_err("nvs, data, nvs, 0x9000, 0x4000\nfactory, app, factory, 0x18000, 1M\n",
               "line 2: partition 'factory': offset 0x18000 is not aligned to 0x10000");
    expect_err("nvs, data, nvs, 0x9000, 0x4000\nnvs, data, phy, , 0x1000\n",
               "line 2: duplicate partition name 'nvs' (first on line 1)");
    expect_err("\n\nx, blob, nvs, 0x9000, 0x4000\n", "line 3: partition 'x': unknown type 'blob'");
    expect_err("x, app, ota_99, , 1M\n", "unknown subtype 'ota_99'");
    expect_err("x, app, , , 1M\n", "subtype is empty");
    expect_err("x, 0x40, name, , 1M\n", "unknown subtype 'name'");
    expect_err("x, data, nvs, 0x9000, \n", "size is empty");
    expect_err("x, data, nvs, 0x9000, 0x4000, secret\n", "unknown flag 'secret'");
    expect_err("x, data, ota, 0xd000, 0x1000\n", "exactly 0x2000");
    expect_err("x, data, ota, 0xd000, 0x2000\ny, data, ota, , 0x2000\n", "line 2: partition 'y': only one otadata");
    expect_err("x, data, ota, 0xd000, 0x2000, readonly\n", "cannot be readonly");
    expect_err("x, data, nvs, 0x9000, 0x2000\n", "at least 0x3000");
    expect_err("x, app, factory, 0x10000, 0x10800\n", "not a multiple of 0x1000");
    expect_err("x, data, nvs, 0x9000, $OTTO_NO_SUCH_VAR\n", "unknown environment variable $OTTO_NO_SUCH_VAR");
    expect_err("x, data, nvs, 0x9000, 010\n", "bad size");
    expect_err("# nothing\n", "no partitions");
    otto_partcsv_opts_t o = {0x8000, 2u << 20};
    assert_int_not_equal(otto_partcsv_parse("f, app, factory, 0x10000, 2M\n", &o, parts, &n, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "past the end"));
    /* too many partitions for the table */
    char *big = malloc(96 * 48);
    big[0] = 0;
    for (int i = 0; i < 96; i++)
        strcat(big, "p, data, fat, , 4K\n");
    expect_err(big, "duplicate"); /* same names */
    big[0] = 0;
    for (int i = 0; i < 97; i++) {
        char line[48];
        snprintf(line, sizeof(line), "p%d, data, fat, , 4K\n", i);
        strcat(big = realloc(big, strlen(big) + 48), line);
    }
    expect_err(big, "line 97: too many partitions");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syntax),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
