/* SPDX-License-Identifier: Apache-2.0 */
/* App image checker: layout, streaming in any chunking, and rejection of
 * every single-bit corruption, truncation, wrong chip and oversize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixtures.h"
#include "imgbuild.h"
#include "otto/image.h"

static int check(const uint8_t *b, size_t len, size_t chunk, uint16_t chip, uint32_t max,
                 otto_image_check_t *c)
{
    int rc = otto_image_check_init(c, chip, 300, max);
    for (size_t off = 0; !rc && off < len; off += chunk)
        rc = otto_image_check_feed(c, b + off, len - off < chunk ? len - off : chunk);
    return rc ? rc : otto_image_check_finish(c);
}

static void layout_and_stream(void **st)
{
    (void)st;
    size_t len;
    uint8_t *img = fx_image("1.2.3", 5, 4096, OTTO_APP_FLAG_SELFTEST_FAIL, &len);
    otto_image_check_t c;
    assert_int_equal(len, 4096);
    assert_int_equal(img[0], 0xE9);
    assert_int_equal(img[1], 1);
    assert_int_equal(img[23], 1);
    assert_memory_equal(img + 0x20, "\x32\x54\xcd\xab", 4);   /* descriptor magic at 0x20 */
    assert_string_equal((char *)img + 0x20 + 16, "1.2.3");
    /* checksum byte: last of a 16-byte block, 32 bytes of hash after it */
    assert_int_equal((len - 32) % 16, 0);
    size_t chunks[] = {1, 3, 7, 64, 289, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        assert_int_equal(check(img, len, chunks[i], OTTO_CHIP_ESP32, 1u << 20, &c), 0);
        assert_true(otto_image_check_done(&c));
        assert_int_equal(c.info.length, len);
        assert_int_equal(c.info.desc.secure_version, 5);
        assert_string_equal(c.info.desc.version, "1.2.3");
        assert_string_equal(c.info.desc.project, "demo");
        assert_true(c.info.otto_flags & OTTO_APP_FLAG_SELFTEST_FAIL);
    }
    /* the head is known after 288 + 16 bytes */
    otto_image_check_init(&c, OTTO_CHIP_ESP32, 300, 1u << 20);
    otto_image_check_feed(&c, img, OTTO_IMAGE_HEAD_LEN + OTTO_APP_BLOCK_LEN - 1);
    assert_false(otto_image_check_head_ok(&c));
    otto_image_check_feed(&c, img + OTTO_IMAGE_HEAD_LEN + OTTO_APP_BLOCK_LEN - 1, 1);
    assert_true(otto_image_check_head_ok(&c));
    free(img);
}

static void every_bit_flip(void **st)
{
    (void)st;
    size_t len;
    uint8_t *img = fx_image("1.0.0", 0, 0, 0, &len);
    otto_image_check_t c;
    unsigned caught = 0, total = 0;
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            img[i] ^= (uint8_t)(1u << b);
            int rc = check(img, len, 64, OTTO_CHIP_ESP32, 1u << 20, &c);
            img[i] ^= (uint8_t)(1u << b);
            total++;
            caught += rc != 0;
        }
    }
    assert_int_equal(caught, total);
    free(img);
}

static void rejects(void **st)
{
    (void)st;
    size_t len;
    uint8_t *img = fx_image("1.0.0", 0, 8192, 0, &len);
    otto_image_check_t c;
    for (size_t cut = 0; cut < len; cut += 509)
        assert_int_equal(check(img, cut, 100, OTTO_CHIP_ESP32, 1u << 20, &c), cut ? OTTO_E_CORRUPT : OTTO_E_CORRUPT);
    assert_int_equal(check(img, len - 1, 100, OTTO_CHIP_ESP32, 1u << 20, &c), OTTO_E_CORRUPT);
    assert_int_equal(check(img, len, 100, OTTO_CHIP_ESP32S3, 1u << 20, &c), OTTO_E_CHIP);
    assert_int_equal(check(img, len, 100, OTTO_CHIP_ESP32, 4096, &c), OTTO_E_NOSPC);
    assert_int_equal(check(img, len, 100, OTTO_CHIP_ANY, (uint32_t)len, &c), 0);

    /* trailing bytes are counted, not parsed */
    uint8_t *longer = malloc(len + 10);
    memcpy(longer, img, len);
    memset(longer + len, 0xAB, 10);
    assert_int_equal(check(longer, len + 10, 100, OTTO_CHIP_ESP32, 1u << 20, &c), 0);
    assert_int_equal(c.trailing, 10);
    free(longer);

    /* chip revision window */
    otto_imgspec_t s = {.version = "1", .project = "p", .chip_id = OTTO_CHIP_ESP32, .min_rev = 301};
    uint8_t *r;
    size_t rl;
    assert_int_equal(otto_img_build(&s, &r, &rl), 0);
    assert_int_equal(check(r, rl, 64, OTTO_CHIP_ESP32, 1u << 20, &c), OTTO_E_CHIP); /* chip is 3.0 */
    free(r);
    s.min_rev = 0;
    s.max_rev = 200;
    assert_int_equal(otto_img_build(&s, &r, &rl), 0);
    assert_int_equal(check(r, rl, 64, OTTO_CHIP_ESP32, 1u << 20, &c), OTTO_E_CHIP);
    free(r);

    /* structural fields */
    img[0] = 0xE8;
    assert_int_equal(check(img, len, 64, OTTO_CHIP_ANY, 1u << 20, &c), OTTO_E_CORRUPT);
    img[0] = 0xE9;
    img[1] = 17;
    assert_int_equal(check(img, len, 64, OTTO_CHIP_ANY, 1u << 20, &c), OTTO_E_CORRUPT);
    img[1] = 1;
    img[28] ^= 2; /* segment length no longer a multiple of 4 */
    assert_int_equal(check(img, len, 64, OTTO_CHIP_ANY, 1u << 20, &c), OTTO_E_CORRUPT);
    img[28] ^= 2;
    img[0x20] ^= 1; /* descriptor magic */
    assert_int_equal(check(img, len, 64, OTTO_CHIP_ANY, 1u << 20, &c), OTTO_E_CORRUPT);
    img[0x20] ^= 1;
    img[len - 40] ^= 0x10; /* padding: only the hash sees it */
    assert_int_equal(check(img, len, 64, OTTO_CHIP_ANY, 1u << 20, &c), OTTO_E_VERIFY);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_and_stream),
        cmocka_unit_test(every_bit_flip),
        cmocka_unit_test(rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
