/* SPDX-License-Identifier: Apache-2.0 */
/* The job document parser: ottod's documents, each refusal, and every
 * truncation of a good document (no crash, no false success). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otto/err.h"
#include "otto/jobdoc.h"

static const char DOC[] =
    "{\"product\":\"lamp\",\"group\":\"\",\"firmware\":[{\"id\":\"fw-ed484672ba46\",\"ota_type\":\"esp32\","
    "\"url\":\"http://127.0.0.1:8080/fw/fw-ed484672ba46\",\"size\":352,"
    "\"md5\":\"ad2cdf971bf4e66547704ba4c0276082\","
    "\"sha256\":\"ed484672ba46e7a1072be5772df293c680f17b68e822538fad04821335fd838d\","
    "\"version\":\"1.1.0\",\"project\":\"lamp\",\"secure_version\":1,\"notes\":{\"a\":[1,2,{\"b\":null}]}},"
    "{\"ota_type\":\"stm32\",\"url\":\"http://h/fw/x\",\"size\":65536,\"md5\":\"00112233445566778899aabbccddeeff\","
    "\"version\":\"2.0.3\",\"part_id\":\"0x410\"}]}";

static int parse(const char *s, otto_jobdoc_t *d)
{
    otto_json_tok_t t[OTTO_JOBDOC_TOKENS];
    return otto_jobdoc_parse(s, strlen(s), t, OTTO_JOBDOC_TOKENS, d);
}

static void good(void **state)
{
    (void)state;
    otto_jobdoc_t d;
    assert_int_equal(parse(DOC, &d), OTTO_OK);
    assert_string_equal(d.product, "lamp");
    assert_int_equal(d.count, 2);
    const otto_fw_entry_t *e = otto_jobdoc_find(&d, "esp32");
    assert_non_null(e);
    assert_string_equal(e->url, "http://127.0.0.1:8080/fw/fw-ed484672ba46");
    assert_int_equal(e->size, 352);
    assert_int_equal(e->secure_version, 1);
    assert_string_equal(e->version, "1.1.0");
    assert_true(e->has_md5 && e->has_sha256);
    assert_int_equal(e->md5[0], 0xad);
    assert_int_equal(e->sha256[31], 0x8d);
    e = otto_jobdoc_find(&d, "stm32");
    assert_non_null(e);
    assert_false(e->has_sha256);
    assert_int_equal(e->size, 65536);
    assert_int_equal(e->part_id, 0x410);
    assert_int_equal(otto_jobdoc_find(&d, "esp32")->part_id, 0); /* none: any */
    assert_null(otto_jobdoc_find(&d, "nrf"));

    /* ota_type defaults to esp32; escapes in strings. */
    assert_int_equal(parse("{\"firmware\":[{\"url\":\"http:\\/\\/h\\/a b\",\"size\":1,"
                           "\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}]}", &d),
                     OTTO_OK);
    assert_string_equal(d.fw[0].ota_type, "esp32");
    assert_string_equal(d.fw[0].url, "http://h/a b");
}

static void refused(void **state)
{
    (void)state;
    otto_jobdoc_t d;
    static const struct { const char *doc; int err; } cases[] = {
        {"", OTTO_E_PROTO},
        {"[]", OTTO_E_PROTO},
        {"{\"firmware\":[]}", OTTO_E_PROTO},
        {"{\"firmware\":{}}", OTTO_E_PROTO},
        {"{\"firmware\":[1]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":-1,\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":4294967296,\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"0011223344556677\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"zz112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":5,\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        /* part_id: "0x" and 1 to 3 hex digits, not zero */
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":\"410\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":\"0x\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":\"0x4g0\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":\"0x1000\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":\"0x000\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{\"url\":\"u\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\",\"part_id\":1040}]}", OTTO_E_PROTO},
        /* an empty url (found by fuzz_jobdoc): nothing to download from */
        {"{\"firmware\":[{\"url\":\"\",\"size\":1,\"md5\":\"00112233445566778899aabbccddeeff\"}]}", OTTO_E_PROTO},
        {"{\"firmware\":[{},{},{}]}", OTTO_E_NOSPC},
        {"{\"product\":\"a-product-name-that-is-far-too-long-for-otto\",\"firmware\":[{}]}", OTTO_E_NOSPC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int err = parse(cases[i].doc, &d);
        if (err != cases[i].err)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].doc, err, cases[i].err);
    }
    /* Too many tokens for the scratch. */
    otto_json_tok_t t[8];
    assert_int_equal(otto_jobdoc_parse(DOC, strlen(DOC), t, 8, &d), OTTO_E_NOSPC);
}

static void truncations(void **state)
{
    (void)state;
    otto_jobdoc_t d;
    otto_json_tok_t t[OTTO_JOBDOC_TOKENS];
    size_t n = strlen(DOC);
    for (size_t len = 0; len < n; len++)
        assert_int_not_equal(otto_jobdoc_parse(DOC, len, t, OTTO_JOBDOC_TOKENS, &d), OTTO_OK);
    assert_int_equal(otto_jobdoc_parse(DOC, n, t, OTTO_JOBDOC_TOKENS, &d), OTTO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good),
        cmocka_unit_test(refused),
        cmocka_unit_test(truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
