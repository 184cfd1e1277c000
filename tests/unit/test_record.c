/* SPDX-License-Identifier: Apache-2.0 */
/* Records kept across a reboot: every version decodes (record.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otto/kv.h"
#include "otto/record.h"

static const char *data_dir;

static size_t load_hex_from(const char *dir, const char *name, uint8_t *out, size_t cap)
{
    char path[512];
    unsigned v;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s/%s", data_dir, dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (n < cap && fscanf(f, "%2x", &v) == 1)
        out[n++] = (uint8_t)v;
    fclose(f);
    return n;
}

static size_t load_hex(const char *name, uint8_t *out, size_t cap)
{
    return load_hex_from("records-v0", name, out, cap);
}

static void sample(otto_agent_job_t *j)
{
    memset(j, 0, sizeof *j);
    j->phase = 2;
    j->result = 0;
    j->attempts = 1;
    j->target = 1;
    j->esp_state = 1;
    j->mcu_state = 2;
    j->mcu_tries = 2;
    strcpy(j->job_id, "job-1795511259-593d");
    j->exec_version = 7;
    strcpy(j->fw.ota_type, "esp32");
    strcpy(j->fw.url, "http://updates.example.com:8080/fw/fw-ed484672ba46");
    strcpy(j->fw.version, "1.1.0");
    j->fw.size = 1048576;
    j->fw.secure_version = 2;
    j->fw.has_md5 = true;
    j->fw.has_sha256 = true;
    memset(j->fw.md5, 0xA5, 16);
    memset(j->fw.sha256, 0x5A, 32);
    strcpy(j->mcu.ota_type, "stm32");
    strcpy(j->mcu.url, "http://u/fw/2");
    strcpy(j->mcu.version, "2.0.0");
    j->mcu.size = 65536;
    j->mcu.part_id = 0x410;
    j->mcu.has_sha256 = true;
    j->fw.siglen = 71; /* version 2: the job's signature travels with the entry */
    memset(j->fw.sig, 0x30, 71);
    strcpy(j->from_version, "1.0.0");
    strcpy(j->etag, "\"abc\"");
    strcpy(j->reason, "updated");
    strcpy(j->detail, "a person's words");
    j->resumes = 3;
    j->refetched = 4096;
    j->download_ms = 1234;
    j->relay_ms = 99;
    j->relay_mark = 8192;
}

static void job_round_trip(void **state)
{
    (void)state;
    otto_agent_job_t j, k;
    uint8_t b[OTTO_JOB_RECORD_MAX];
    size_t n;
    unsigned v;
    sample(&j);
    assert_int_equal(otto_job_record_encode(&j, b, sizeof b, &n), OTTO_OK);
    assert_true(n < 400); /* the raw struct was 920 */
    assert_int_equal(b[0], 0x82);
    assert_int_equal(otto_job_record_decode(b, n, &k, &v), OTTO_OK);
    assert_int_equal(v, 2);
    assert_memory_equal(&j, &k, sizeof j);
    /* Every truncation is refused, never half-read. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(otto_job_record_decode(b, cut, &k, &v), OTTO_E_CORRUPT);
    /* A buffer too small says so. */
    assert_int_equal(otto_job_record_encode(&j, b, 40, &n), OTTO_E_NOSPC);
}

static void job_longest_fits(void **state)
{
    (void)state;
    otto_agent_job_t j;
    static uint8_t b[OTTO_JOB_RECORD_MAX];
    size_t n;
    sample(&j);
    memset(j.job_id, 'j', sizeof j.job_id - 1);
    memset(j.fw.url, 'u', sizeof j.fw.url - 1);
    memset(j.mcu.url, 'u', sizeof j.mcu.url - 1);
    memset(j.fw.version, 'v', sizeof j.fw.version - 1);
    memset(j.mcu.version, 'v', sizeof j.mcu.version - 1);
    memset(j.from_version, 'f', sizeof j.from_version - 1);
    memset(j.etag, 'e', sizeof j.etag - 1);
    memset(j.reason, 'r', sizeof j.reason - 1);
    memset(j.detail, 'd', sizeof j.detail - 1);
    j.fw.siglen = j.mcu.siglen = OTTO_JOBDOC_SIG_MAX;
    assert_int_equal(otto_job_record_encode(&j, b, sizeof b, &n), OTTO_OK);
    printf("the longest job record: %zu bytes\n", n);
    assert_true(n <= OTTO_JOB_RECORD_MAX);
    /* What is stored fits every store; with links of 200 bytes (typical
     * signed links are ~130) a job at every other limit still does. */
    assert_true(OTTO_JOB_RECORD_STORE_MAX <= OTTO_KV_VALUE_MAX);
    j.fw.url[200] = j.mcu.url[200] = 0;
    assert_int_equal(otto_job_record_encode(&j, b, sizeof b, &n), OTTO_OK);
    assert_true(n <= OTTO_JOB_RECORD_STORE_MAX);
}

/* Version 0, as the first agents wrote it (frozen bytes). */
static void job_v0_downloading(void **state)
{
    (void)state;
    uint8_t b[2048];
    otto_agent_job_t j;
    unsigned v = 9;
    size_t n = load_hex("job-downloading.hex", b, sizeof b);
    assert_int_equal(n, OTTO_JOB_RECORD_V0_LEN);
    assert_int_equal(otto_job_record_decode(b, n, &j, &v), OTTO_OK);
    assert_int_equal(v, 0);
    assert_int_equal(j.phase, 2); /* downloading */
    assert_string_equal(j.job_id, "job-sweep");
    assert_int_equal(j.exec_version, 2);
    assert_string_equal(j.fw.ota_type, "esp32");
    assert_string_equal(j.fw.url, "http://fw/1");
    assert_string_equal(j.fw.version, "1.1.0");
    assert_int_equal(j.fw.size, 49152);
    assert_int_equal(j.fw.secure_version, 1);
    assert_true(j.fw.has_md5 && j.fw.has_sha256);
    assert_int_equal(j.mcu.size, 0);
    assert_string_equal(j.from_version, "1.0.0");
    assert_string_equal(j.etag, "\"etag\"");
    /* and it re-encodes in today's form without losing a field */
    uint8_t e[OTTO_JOB_RECORD_MAX];
    otto_agent_job_t k;
    assert_int_equal(otto_job_record_encode(&j, e, sizeof e, &n), OTTO_OK);
    assert_int_equal(otto_job_record_decode(e, n, &k, &v), OTTO_OK);
    assert_memory_equal(&j, &k, sizeof j);
}

static void job_v0_relaying(void **state)
{
    (void)state;
    uint8_t b[2048];
    otto_agent_job_t j;
    unsigned v;
    size_t n = load_hex("job-relaying.hex", b, sizeof b);
    assert_int_equal(otto_job_record_decode(b, n, &j, &v), OTTO_OK);
    assert_int_equal(j.phase, 5); /* relaying */
    assert_int_equal(j.target, 1);
    assert_string_equal(j.mcu.ota_type, "stm32");
    assert_string_equal(j.mcu.url, "http://fw/2");
    assert_int_equal(j.mcu.size, 12288);
    assert_string_equal(j.mcu.version, "2.0.0");
    assert_int_equal(j.fw.size, 24576);
}

/* Version 1, as the agents before signatures wrote it (frozen bytes): read
 * by today's, with no signature. */
static void job_v1(void **state)
{
    (void)state;
    uint8_t b[512];
    otto_agent_job_t j;
    unsigned v = 9;
    size_t n = load_hex_from("records-v1", "job-downloading.hex", b, sizeof b);
    assert_int_equal(b[0], 0x81);
    assert_int_equal(otto_job_record_decode(b, n, &j, &v), OTTO_OK);
    assert_int_equal(v, 1);
    assert_string_equal(j.job_id, "job-v1-sample");
    assert_int_equal(j.phase, 2);
    assert_int_equal(j.exec_version, 3);
    assert_string_equal(j.fw.url, "http://updates.example.com:8080/fw/fw-ed484672ba46");
    assert_int_equal(j.fw.size, 49152);
    assert_true(j.fw.has_md5 && j.fw.has_sha256);
    assert_int_equal(j.fw.siglen, 0);
    assert_int_equal(j.resumes, 2);
    assert_int_equal(j.refetched, 8192);
}

/* A record from a newer agent: only its prefix is read. */
static void job_newer(void **state)
{
    (void)state;
    otto_agent_job_t j, k;
    uint8_t b[OTTO_JOB_RECORD_MAX];
    size_t n;
    unsigned v;
    sample(&j);
    assert_int_equal(otto_job_record_encode(&j, b, sizeof b, &n), OTTO_OK);
    b[0] = 0x80 | 3;
    assert_int_equal(otto_job_record_decode(b, n + 10, &k, &v), OTTO_E_VERSION);
    assert_int_equal(v, 3);
    assert_string_equal(k.job_id, j.job_id);
    assert_int_equal(k.exec_version, 7);
    assert_int_equal(k.phase, 0);
    b[0] = 0x03; /* neither a version-0 struct (length) nor a record */
    assert_int_equal(otto_job_record_decode(b, n, &k, &v), OTTO_E_CORRUPT);
}

static void relay_versions(void **state)
{
    (void)state;
    otto_relay_state_t st = {3, 0x12345, 0x20000}, back;
    uint8_t b[16];
    size_t n;
    assert_int_equal(otto_relay_record_encode(&st, b, sizeof b, &n), OTTO_OK);
    assert_int_equal(n, 10);
    assert_int_equal(otto_relay_record_decode(b, n, &back), OTTO_OK);
    assert_int_equal(back.phase, 3);
    assert_int_equal(back.next, 0x12345);
    assert_int_equal(back.size, 0x20000);
    /* version 0: u8 phase, 3 bytes padding, u32 next, u32 size */
    const uint8_t v0[12] = {2, 0, 0, 0, 0x00, 0x10, 0, 0, 0x00, 0x30, 0, 0};
    assert_int_equal(otto_relay_record_decode(v0, sizeof v0, &back), OTTO_OK);
    assert_int_equal(back.phase, 2);
    assert_int_equal(back.next, 4096);
    assert_int_equal(back.size, 12288);
    b[0] = 0x82;
    assert_int_equal(otto_relay_record_decode(b, n, &back), OTTO_E_VERSION);
    assert_int_equal(otto_relay_record_decode(b, 3, &back), OTTO_E_VERSION);
    b[0] = 0x81;
    assert_int_equal(otto_relay_record_decode(b, 9, &back), OTTO_E_CORRUPT);
}

int main(int argc, char **argv)
{
    data_dir = argc > 1 ? argv[1] : OTTO_TEST_DATA;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_round_trip),  cmocka_unit_test(job_longest_fits), cmocka_unit_test(job_v0_downloading),
        cmocka_unit_test(job_v0_relaying), cmocka_unit_test(job_v1),           cmocka_unit_test(job_newer),
        cmocka_unit_test(relay_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
