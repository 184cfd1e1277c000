/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's transitions (the table in device/agent.c), driven by hand: a
 * simulated module, a fake port that records what the agent publishes and
 * fetches, and no network. Every rejection reason, the whole happy path,
 * duplicated and reordered messages, a cancel in each phase, a restart in
 * each phase, and a record from a newer agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"
#include "otto/agent.h"
#include "otto/kv.h"
#include "otto/record.h"

#define T "$aws/things/dev/jobs/"

typedef struct {
    otto_simdev_t d;
    otto_kv_t kv;
    otto_store_t store;
    otto_agent_t a;
    otto_agent_port_t port;
    /* what the agent did */
    char topic[16][160], payload[16][700];
    int npub;
    char url[256];
    uint32_t from;
    int gets, cancels;
    bool rebooted;
    uint32_t clock;
    uint8_t *img;
    size_t ilen;
    char md5[33];
    bool allow_unsigned;  /* the port option (most tests: their jobs are unsigned) */
    int verified;         /* signatures the fake port was asked about */
} rig_t;

static rig_t R;

static int p_publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    rig_t *r = ctx;
    int k = r->npub < 16 ? r->npub++ : 15;
    snprintf(r->topic[k], sizeof r->topic[k], "%s", topic);
    snprintf(r->payload[k], sizeof r->payload[k], "%.*s", (int)len, payload);
    return OTTO_OK;
}

static int p_get(void *ctx, const char *url, uint32_t from, const char *etag)
{
    rig_t *r = ctx;
    (void)etag;
    snprintf(r->url, sizeof r->url, "%s", url);
    r->from = from;
    r->gets++;
    return OTTO_OK;
}

static void p_cancel(void *ctx) { ((rig_t *)ctx)->cancels++; }
static void p_reboot(void *ctx) { ((rig_t *)ctx)->rebooted = true; }
static uint32_t p_now(void *ctx) { return ((rig_t *)ctx)->clock; }

/* The fake verifier takes exactly the signature "good" (4 bytes), from
 * whichever key the device trusts. */
static int p_verify(void *ctx, const uint8_t key[65], const uint8_t sha256[32], const uint8_t *sig, size_t len)
{
    (void)sha256;
    (void)key;
    ((rig_t *)ctx)->verified++;
    return len == 4 && !memcmp(sig, "good", 4) ? OTTO_OK : OTTO_E_VERIFY;
}

/* Power on: boot decision, the app's start, the store, the agent. */
static void boot(rig_t *r)
{
    otto_app_outcome_t out;
    otto_image_info_t self;
    assert_int_equal(otto_simdev_boot(&r->d), OTTO_OK);
    assert_int_equal(otto_simdev_app_start(&r->d, &out), OTTO_OK);
    if (out == OTTO_APP_ROLLED_BACK) {
        assert_int_equal(otto_simdev_boot(&r->d), OTTO_OK);
        assert_int_equal(otto_simdev_app_start(&r->d, &out), OTTO_OK);
    }
    assert_int_equal(otto_image_read_head(&r->d.flash, r->d.boot.part->offset, r->d.boot.part->size, &self), 0);
    const otto_part_t *kvp = otto_part_store(&r->d.table);
    assert_non_null(kvp);
    assert_string_equal(kvp->label, "ottokv");
    assert_int_equal(otto_kv_mount(&r->kv, &r->d.flash, kvp->offset, kvp->size, true, NULL), OTTO_OK);
    otto_kv_store(&r->kv, &r->store);
    static const uint8_t factory_key[1][65] = {{0x04, 0xF1}}; /* stands for the owner's key */
    assert_int_equal(otto_trust_provision(&r->store, factory_key, 1), OTTO_OK);
    r->port = (otto_agent_port_t){r, p_publish, p_get, p_cancel, p_reboot, p_now, NULL, NULL, p_verify};
    otto_agent_config_t cfg = {.thing = "dev", .product = "lamp", .ota = &r->d.ota, .store = &r->store,
                               .port = &r->port, .checkpoint_bytes = 8192, .retry_ms = 1000,
                               .allow_unsigned = r->allow_unsigned};
    assert_int_equal(otto_agent_init(&r->a, &cfg, self.desc.version), OTTO_OK);
    r->npub = 0;
    r->rebooted = false;
}

static int setup(void **state)
{
    (void)state;
    size_t flen;
    uint8_t md5[16];
    memset(&R, 0, sizeof R);
    R.allow_unsigned = true;
    uint8_t *factory = fx_image("1.0.0", 0, 16384, 0, &flen);
    assert_int_equal(fx_provision(&R.d, factory, flen), 0);
    free(factory);
    R.img = fx_image("1.1.0", 1, 40000, 0, &R.ilen);
    otto_md5(R.img, R.ilen, md5);
    for (int i = 0; i < 16; i++)
        sprintf(R.md5 + 2 * i, "%02x", md5[i]);
    boot(&R);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otto_simdev_close(&R.d);
    free(R.img);
    return 0;
}

static void msg(const char *leaf, const char *payload)
{
    char topic[200];
    snprintf(topic, sizeof topic, T "%s", leaf);
    otto_agent_message(&R.a, topic, payload, strlen(payload));
}

/* notify-next with a job whose esp32 entry is `entry` (fields after ota_type). */
static void next_job(const char *id, unsigned version, const char *doc)
{
    char p[1500];
    snprintf(p, sizeof p, "{\"execution\":{\"jobId\":\"%s\",\"status\":\"QUEUED\",\"versionNumber\":%u,"
             "\"jobDocument\":%s}}", id, version, doc);
    msg("notify-next", p);
}

static void doc_for(char *out, size_t cap, const char *version, const char *product, unsigned sv)
{
    snprintf(out, cap, "{\"product\":\"%s\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/1\","
             "\"size\":%zu,\"md5\":\"%s\",\"version\":\"%s\",\"secure_version\":%u}]}", product, R.ilen, R.md5,
             version, sv);
}

/* The last job update published (hello and $next requests skipped). */
static const char *last(void)
{
    for (int i = R.npub - 1; i >= 0; i--)
        if (strstr(R.payload[i], "\"status\""))
            return R.payload[i];
    return "";
}
static const char *last_topic(void) { return R.npub ? R.topic[R.npub - 1] : ""; }

static void reason_is(const char *status, const char *reason)
{
    char want[80];
    snprintf(want, sizeof want, "\"status\":\"%s\"", status);
    if (!strstr(last(), want))
        fail_msg("expected %s %s, got %s", status, reason, last());
    snprintf(want, sizeof want, "\"reason\":\"%s\"", reason);
    if (!strstr(last(), want))
        fail_msg("expected %s %s, got %s", status, reason, last());
}

/* ---- judging: every reason a job is refused ----------------------------- */

static void rejections(void **state)
{
    (void)state;
    char doc[600];
    otto_agent_connected(&R.a);
    struct {
        const char *doc_version, *product;
        unsigned sv;
        const char *status, *reason;
    } cases[] = {
        {"1.1.0", "toaster", 1, "REJECTED", "wrong_product"},
        {"0.9.0", "lamp", 1, "REJECTED", "outdated"},
        {"1.0.0", "lamp", 0, "SUCCEEDED", "already_running"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[16];
        snprintf(id, sizeof id, "job-r%zu", i);
        doc_for(doc, sizeof doc, cases[i].doc_version, cases[i].product, cases[i].sv);
        next_job(id, 1, doc);
        reason_is(cases[i].status, cases[i].reason);
        assert_string_equal(otto_agent_phase(&R.a), "reporting");
        assert_int_equal(R.gets, 0); /* judged before any download */
        char leaf[64];
        snprintf(leaf, sizeof leaf, "%s/update/accepted", id);
        msg(leaf, "{}");
        assert_string_equal(otto_agent_phase(&R.a), "idle");
        assert_non_null(strstr(last_topic(), "$next/get")); /* and it asks what is next */
    }
    next_job("job-bad", 1, "{\"firmware\":5}");
    reason_is("REJECTED", "bad_document");
    msg("job-bad/update/accepted", "{}");
    next_job("job-none", 1, "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"nrf52\",\"url\":\"http://fw/3\","
                            "\"size\":100,\"md5\":\"00112233445566778899aabbccddeeff\"}]}");
    reason_is("REJECTED", "no_image");
    msg("job-none/update/accepted", "{}");
    next_job("job-mcu", 1, "{\"firmware\":[{\"ota_type\":\"stm32\",\"url\":\"http://fw/2\",\"size\":100,"
                           "\"md5\":\"00112233445566778899aabbccddeeff\",\"version\":\"2.0.0\"}]}");
    reason_is("REJECTED", "no_mcu");
    msg("job-mcu/update/accepted", "{}");
    /* an image for another chip: refused on its first bytes, before any is written */
    size_t slen;
    uint8_t *s3 = fx_image_chip("1.3.0", OTTO_CHIP_ESP32S3, &slen);
    char s3doc[600];
    snprintf(s3doc, sizeof s3doc, "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/9\","
             "\"size\":%zu,\"md5\":\"00112233445566778899aabbccddeeff\",\"version\":\"1.3.0\"}]}", slen);
    next_job("job-chip", 1, s3doc);
    msg("job-chip/update/accepted", "{}");
    otto_agent_http_head(&R.a, 200, (uint32_t)slen, 0, "");
    otto_agent_http_data(&R.a, s3, slen);
    reason_is("REJECTED", "wrong_chip");
    free(s3);
    msg("job-chip/update/accepted", "{}");
    /* more than the slot holds: refused as it arrives */
    snprintf(s3doc, sizeof s3doc, "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/8\","
             "\"size\":%u,\"md5\":\"00112233445566778899aabbccddeeff\",\"version\":\"1.4.0\"}]}", 2u << 20);
    next_job("job-big", 1, s3doc);
    msg("job-big/update/accepted", "{}");
    otto_agent_http_head(&R.a, 200, 2u << 20, 0, "");
    for (uint32_t off = 0; off < (2u << 20) && !strstr(last(), "too_large"); off += R.ilen)
        otto_agent_http_data(&R.a, R.img, R.ilen);
    reason_is("FAILED", "too_large");
    msg("job-big/update/accepted", "{}");
    /* the anti-rollback counter: raised to 2, a secure_version 1 image is refused */
    assert_int_equal(R.d.efuse.raise_secure_version(R.d.efuse.ctx, 2), OTTO_OK);
    doc_for(doc, sizeof doc, "1.1.0", "lamp", 1);
    next_job("job-sv", 1, doc);
    reason_is("REJECTED", "downgrade_refused");
}

/* ---- the whole way, transition by transition ---------------------------- */

static void feed_image(const uint8_t *img, size_t len, uint32_t from)
{
    otto_agent_http_head(&R.a, from ? 206 : 200, (uint32_t)(len - from), from, "\"e1\"");
    for (size_t off = from; off < len; off += 4096)
        otto_agent_http_data(&R.a, img + off, len - off < 4096 ? len - off : 4096);
    otto_agent_http_end(&R.a, OTTO_OK);
}

static void happy_path(void **state)
{
    (void)state;
    char doc[600];
    otto_agent_connected(&R.a);
    assert_non_null(strstr(R.topic[0], "otto/things/dev/hello"));
    doc_for(doc, sizeof doc, "1.1.0", "lamp", 1);
    next_job("job-1", 1, doc); /* idle -> starting */
    assert_string_equal(otto_agent_phase(&R.a), "starting");
    assert_non_null(strstr(last(), "\"status\":\"IN_PROGRESS\",\"expectedVersion\":1"));
    next_job("job-1", 1, doc); /* a duplicate: nothing more */
    int sent = R.npub;
    next_job("job-1", 1, doc);
    assert_int_equal(R.npub, sent);
    msg("job-1/update/accepted", "{}"); /* starting -> downloading */
    assert_string_equal(otto_agent_phase(&R.a), "downloading");
    assert_int_equal(R.gets, 1);
    assert_string_equal(R.url, "http://fw/1");
    msg("job-1/update/accepted", "{}"); /* a late duplicate of the reply: ignored */
    assert_int_equal(R.gets, 1);
    feed_image(R.img, R.ilen, 0); /* downloading -> switched, reboot */
    assert_true(R.rebooted);
    assert_string_equal(otto_agent_phase(&R.a), "switched");
    next_job("job-2", 2, doc); /* another job while switched: waits */
    assert_string_equal(otto_agent_phase(&R.a), "switched");
    boot(&R); /* switched -> reporting: the new image confirmed itself */
    assert_string_equal(R.a.running_version, "1.1.0");
    assert_string_equal(otto_agent_phase(&R.a), "reporting");
    otto_agent_connected(&R.a);
    reason_is("SUCCEEDED", "updated");
    msg("job-1/update/rejected", "{\"code\":\"ThrottlingException\"}"); /* not gone: try again */
    assert_string_equal(otto_agent_phase(&R.a), "reporting");
    R.clock += 1000 * 64;
    otto_agent_tick(&R.a);
    reason_is("SUCCEEDED", "updated");
    msg("job-1/update/accepted", "{}"); /* -> idle */
    assert_string_equal(otto_agent_phase(&R.a), "idle");
    assert_false(otto_agent_busy(&R.a));
}

/* ---- cancel at each phase ------------------------------------------------ */

static void cancels(void **state)
{
    (void)state;
    char doc[600];
    int64_t v;
    otto_agent_connected(&R.a);
    doc_for(doc, sizeof doc, "1.1.0", "lamp", 1);
    /* starting: notify-next says nothing is next */
    next_job("job-c1", 1, doc);
    msg("notify-next", "{\"timestamp\":1}");
    assert_string_equal(otto_agent_phase(&R.a), "idle");
    /* starting: the update is rejected as gone */
    next_job("job-c2", 1, doc);
    msg("job-c2/update/rejected", "{\"code\":\"TerminalStateReached\"}");
    assert_string_equal(otto_agent_phase(&R.a), "idle");
    /* downloading: canceled mid-way, the download stops */
    next_job("job-c3", 1, doc);
    msg("job-c3/update/accepted", "{}");
    otto_agent_http_head(&R.a, 200, (uint32_t)R.ilen, 0, "");
    otto_agent_http_data(&R.a, R.img, 16384);
    msg("job-c3/update/rejected", "{\"code\":\"VersionMismatch\"}");
    assert_int_equal(R.cancels, 1);
    assert_string_equal(otto_agent_phase(&R.a), "idle");
    assert_int_equal(otto_store_get_int(&R.store, "off", &v), OTTO_E_NOTFOUND);
    /* downloading: superseded by another job */
    next_job("job-c4", 1, doc);
    msg("job-c4/update/accepted", "{}");
    next_job("job-c5", 1, doc);
    assert_string_equal(R.a.job.job_id, "job-c5");
    assert_string_equal(otto_agent_phase(&R.a), "starting");
    /* reporting: a new job waits until ours is reported */
    doc_for(doc, sizeof doc, "0.1.0", "lamp", 1);
    next_job("job-c6", 1, doc); /* supersedes c5 (starting), and is REJECTED outdated */
    reason_is("REJECTED", "outdated");
    next_job("job-c7", 1, doc); /* while c6 is reported: waits */
    assert_string_equal(R.a.job.job_id, "job-c6");
    assert_string_equal(otto_agent_phase(&R.a), "reporting");
}

/* ---- restart (reboot without a cut) in each phase ------------------------ */

static void restarts(void **state)
{
    (void)state;
    char doc[600];
    otto_agent_connected(&R.a);
    doc_for(doc, sizeof doc, "1.1.0", "lamp", 1);
    next_job("job-s", 1, doc);
    boot(&R); /* starting: IN_PROGRESS again on connect, same expectedVersion */
    assert_string_equal(otto_agent_phase(&R.a), "starting");
    otto_agent_connected(&R.a);
    assert_non_null(strstr(R.payload[1], "\"status\":\"IN_PROGRESS\",\"expectedVersion\":1"));
    msg("job-s/update/accepted", "{}");
    otto_agent_http_head(&R.a, 200, (uint32_t)R.ilen, 0, "\"e1\"");
    for (uint32_t off = 0; off < 20000; off += 4096)
        otto_agent_http_data(&R.a, R.img + off, 4096);
    boot(&R); /* downloading: resumes with Range from the checkpoint */
    assert_string_equal(otto_agent_phase(&R.a), "downloading");
    otto_agent_connected(&R.a);
    next_job("job-s", 2, doc);
    assert_true(R.from >= 8192 && R.from <= 20480);
    assert_int_equal(R.a.job.resumes, 1);
    feed_image(R.img, R.ilen, R.from);
    assert_true(R.rebooted);
    /* switched, but the power went before the new image confirmed: the
     * bootloader is told nothing; here the device restarts into the old
     * image by hand (otadata untouched) -> the image is checked again */
    boot(&R);
    assert_string_equal(R.a.running_version, "1.1.0");
    assert_string_equal(otto_agent_phase(&R.a), "reporting");
    boot(&R); /* reporting: the final status again on connect */
    otto_agent_connected(&R.a);
    reason_is("SUCCEEDED", "updated");
    assert_non_null(strstr(last(), "\"resumes\":\"1\""));
}

/* A record written by a newer agent (a rollback to older firmware mid-job):
 * the job ends FAILED record_newer, not resumed blind. */
static void newer_record(void **state)
{
    (void)state;
    otto_agent_job_t j;
    uint8_t b[OTTO_JOB_RECORD_MAX];
    size_t n;
    memset(&j, 0, sizeof j);
    strcpy(j.job_id, "job-future");
    j.exec_version = 4;
    j.phase = 2;
    assert_int_equal(otto_job_record_encode(&j, b, sizeof b, &n), OTTO_OK);
    b[0] = 0x80 | 7;
    assert_int_equal(otto_store_set_blob(&R.store, "job", b, n + 20), OTTO_OK);
    boot(&R);
    assert_string_equal(otto_agent_phase(&R.a), "reporting");
    otto_agent_connected(&R.a);
    reason_is("FAILED", "record_newer");
    assert_non_null(strstr(R.topic[R.npub - 2], "job-future/update"));
}

/* Signatures: a device that requires them refuses an unsigned image and
 * one whose signature does not verify, before the slot is switched. */
static void signatures(void **state)
{
    (void)state;
    char doc[700];
    R.allow_unsigned = false;
    boot(&R);
    otto_agent_connected(&R.a);
    doc_for(doc, sizeof doc, "1.1.0", "lamp", 1);
    next_job("job-u", 1, doc);
    msg("job-u/update/accepted", "{}");
    feed_image(R.img, R.ilen, 0);
    reason_is("FAILED", "unsigned");
    assert_false(R.rebooted);
    msg("job-u/update/accepted", "{}");
    /* "YmFk" is base64 of "bad"; "Z29vZA==" of "good" */
    snprintf(doc, sizeof doc, "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/1\","
             "\"size\":%zu,\"md5\":\"%s\",\"version\":\"1.1.0\",\"secure_version\":1,\"sig-sha256-ecdsa\":\"YmFk\"}]}",
             R.ilen, R.md5);
    next_job("job-b", 1, doc);
    msg("job-b/update/accepted", "{}");
    feed_image(R.img, R.ilen, 0);
    reason_is("FAILED", "bad_signature");
    assert_false(R.rebooted);
    assert_int_equal(R.verified, 1);
    msg("job-b/update/accepted", "{}");
    snprintf(doc, sizeof doc, "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/1\","
             "\"size\":%zu,\"md5\":\"%s\",\"version\":\"1.1.0\",\"secure_version\":1,\"sig-sha256-ecdsa\":\"Z29vZA==\"}]}",
             R.ilen, R.md5);
    next_job("job-g", 1, doc);
    msg("job-g/update/accepted", "{}");
    feed_image(R.img, R.ilen, 0);
    assert_true(R.rebooted); /* verified: switched */
    boot(&R);
    otto_agent_connected(&R.a);
    reason_is("SUCCEEDED", "updated");
}

/* Key updates: an add signed by a trusted key is stored and announced; one
 * applied already is skipped unchecked (a replay after a cut); a bad
 * signature, a fourth key and revoking the last key are refused, the
 * stored list untouched. */
static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = 0;
}

static void key_job(const char *id, const char *op, uint8_t tag, const char *sig_b64)
{
    uint8_t key[65] = {0x04, tag};
    char kb[100], doc[900], fw[700];
    b64(key, sizeof key, kb);
    doc_for(fw, sizeof fw, "1.0.0", "lamp", 0); /* the running version: only the keys change */
    snprintf(doc, sizeof doc, "{\"keyUpdates\":[{\"op\":\"%s\",\"key\":\"%s\",\"sig-sha256-ecdsa\":\"%s\"}],%s",
             op, kb, sig_b64, fw + 1);
    next_job(id, 1, doc);
}

static unsigned stored_keys(void)
{
    otto_trust_t t;
    assert_int_equal(otto_trust_load(&R.store, &t), OTTO_OK);
    return t.n;
}

static void key_updates(void **state)
{
    (void)state;
    R.allow_unsigned = false;
    boot(&R);
    otto_agent_connected(&R.a);
    assert_non_null(strstr(R.payload[0], "\"signatures\":\"required\",\"keys\":[\""));
    key_job("k-add", "add", 0xA2, "Z29vZA==");
    reason_is("SUCCEEDED", "already_running");
    msg("k-add/update/accepted", "{}");
    assert_int_equal(stored_keys(), 2);
    bool announced = false;
    for (int i = 0; i < R.npub; i++)
        announced |= strstr(R.topic[i], "/hello") && strstr(R.payload[i], "\",\"") && strstr(R.payload[i], "keys");
    assert_true(announced);
    int verified = R.verified;
    key_job("k-again", "add", 0xA2, "YmFk"); /* applied already: not even checked */
    reason_is("SUCCEEDED", "already_running");
    msg("k-again/update/accepted", "{}");
    assert_int_equal(R.verified, verified);
    key_job("k-bad", "add", 0xA3, "YmFk");
    reason_is("FAILED", "bad_key_update");
    msg("k-bad/update/accepted", "{}");
    key_job("k-3", "add", 0xA3, "Z29vZA==");
    reason_is("SUCCEEDED", "already_running");
    msg("k-3/update/accepted", "{}");
    key_job("k-4", "add", 0xA4, "Z29vZA==");
    reason_is("FAILED", "key_slots_full");
    msg("k-4/update/accepted", "{}");
    assert_int_equal(stored_keys(), 3);
    key_job("k-r1", "revoke", 0xF1, "Z29vZA==");
    reason_is("SUCCEEDED", "already_running");
    msg("k-r1/update/accepted", "{}");
    key_job("k-r2", "revoke", 0xA2, "Z29vZA==");
    reason_is("SUCCEEDED", "already_running");
    msg("k-r2/update/accepted", "{}");
    assert_int_equal(stored_keys(), 1);
    key_job("k-last", "revoke", 0xA3, "Z29vZA==");
    reason_is("FAILED", "last_key");
    msg("k-last/update/accepted", "{}");
    assert_int_equal(stored_keys(), 1);
    boot(&R); /* the list survives a reboot, and the factory key does not come back */
    assert_int_equal(R.a.trust.n, 1);
    assert_int_equal(R.a.trust.key[0][1], 0xA3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(happy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_record, setup, teardown),
        cmocka_unit_test_setup_teardown(signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(key_updates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
