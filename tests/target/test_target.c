/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device core on a Cortex-M4 (QEMU mps2-an386, unaligned accesses
 * trapped): hashes and CRC, the partition table, otadata, the kv store,
 * the job document, the image checker, and a whole A/B update (write,
 * verify, select, boot, confirm) over a RAM-backed NOR flash with the power
 * cut at a sample of its flash operations. Buffers are handed over at odd
 * addresses on purpose. Each test's stack high water is printed.
 * Command line "fault": a deliberately misaligned word load, which must
 * fault (the runner reports it as exit 3, not a hang).
 *
 * Built with OTTO_TARGET_SMALL for a Cortex-M0 with 16 KiB of RAM (QEMU
 * microbit): what fits there, the tests that need no flash model in RAM
 * (hashes, the partition table, otadata, the job document, the image
 * checker reading the image from ROM in odd-addressed chunks).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "images.h"
#include "otto/agent.h"
#include "otto/boot.h"
#include "otto/trust.h"
#include "otto/crypto.h"
#include "otto/jobdoc.h"
#include "otto/kv.h"
#include "otto/ota.h"
#include "otto/otadata.h"
#include "otto/part.h"
#include "target.h"

static int failures;

static void put_u(uint32_t v)
{
    char b[12], *p = b + sizeof b - 1;
    *p = 0;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    t_puts(p);
}

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) {                                                              \
            t_puts("  FAIL " __FILE__ ":");                                      \
            put_u(__LINE__);                                                     \
            t_puts(": " #c "\n");                                                \
            failures++;                                                          \
            return;                                                              \
        }                                                                        \
    } while (0)

#ifndef OTTO_TARGET_SMALL
/* ---- a NOR flash in RAM, with power cuts -------------------------------- */

#define FLASH_SIZE (1024u * 1024u)
static uint8_t flash_mem[FLASH_SIZE];
static uint32_t ops, cut_at; /* cut_at: the op that loses power (0: never) */
static bool power_off;

static int op(void)
{
    if (power_off)
        return OTTO_E_IO;
    if (cut_at && ++ops == cut_at) {
        power_off = true;
        return 1; /* this one is torn */
    }
    if (!cut_at)
        ops++;
    return 0;
}

static int f_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    (void)ctx;
    if (power_off)
        return OTTO_E_IO;
    memcpy(buf, flash_mem + off, len);
    return OTTO_OK;
}

static int f_program(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    (void)ctx;
    int c = op();
    if (c < 0)
        return c;
    const uint8_t *b = buf;
    uint32_t n = c ? len / 2 : len; /* torn: half of it made it */
    for (uint32_t i = 0; i < n; i++)
        flash_mem[off + i] &= b[i];
    return c ? OTTO_E_IO : OTTO_OK;
}

static int f_erase(void *ctx, uint32_t off, uint32_t len)
{
    (void)ctx;
    int c = op();
    if (c < 0)
        return c;
    memset(flash_mem + off, c ? 0x5A : 0xFF, c ? len / 3 : len); /* torn: garbage at the start */
    return c ? OTTO_E_IO : OTTO_OK;
}

static const otto_flash_t flash = {NULL, f_read, f_program, f_erase, FLASH_SIZE, 4096, 1};

static uint32_t fuse;
static int e_read(void *ctx, uint32_t *v)
{
    (void)ctx;
    *v = fuse;
    return power_off ? OTTO_E_IO : OTTO_OK;
}
static int e_raise(void *ctx, uint32_t v)
{
    (void)ctx;
    int c = op();
    if (c < 0)
        return c;
    if (!c && v > fuse)
        fuse = v;
    return c ? OTTO_E_IO : OTTO_OK;
}
static const otto_efuse_t efuse = {NULL, e_read, e_raise, 32};
static const otto_platform_t plat = {&flash, &efuse, OTTO_CHIP_ESP32, 300, 1, 1, NULL};
#define SCRATCH 70000
#else
#define FLASH_SIZE (1024u * 1024u) /* what the partition table describes */
#define SCRATCH (OTTO_PART_TABLE_LEN + 8)
#endif

/* An odd address to hand data over from, as a network stack may. */
static uint8_t scratch[SCRATCH] __attribute__((aligned(4)));
static void *odd_copy(const void *src, size_t n)
{
    memcpy(scratch + 1, src, n);
    return scratch + 1;
}

/* ---- the tests ---------------------------------------------------------- */

static void t_hashes(void)
{
    static const uint8_t abc_sha[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const uint8_t abc_md5[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                                        0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    uint8_t out[32];
    CHECK(otto_sha256(odd_copy("abc", 3), 3, out) == OTTO_OK && !memcmp(out, abc_sha, 32));
    CHECK(otto_md5(odd_copy("abc", 3), 3, out) == OTTO_OK && !memcmp(out, abc_md5, 16));
    CHECK(otto_crc32_le(0, odd_copy("123456789", 9), 9) == 0xCBF43926u); /* zlib's check value */
}

static otto_part_t layout[] = {
    {OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_OTA, 0xD000, 0x2000, "otadata", 0},
    {OTTO_PART_TYPE_APP, OTTO_PART_SUB_FACTORY, 0x10000, 0x40000, "factory", 0},
    {OTTO_PART_TYPE_APP, OTTO_PART_SUB_OTA_MIN, 0x50000, 0x40000, "ota_0", 0},
    {OTTO_PART_TYPE_APP, OTTO_PART_SUB_OTA_MIN + 1, 0x90000, 0x40000, "ota_1", 0},
    {OTTO_PART_TYPE_DATA, OTTO_PART_SUB_OTTOKV, 0xD0000, 0x4000, "ottokv", 0},
};
#ifndef OTTO_TARGET_SMALL
static otto_part_table_t table;

/* Factory programming: the table and the factory app, no power model. */
static void provision(void)
{
    uint8_t bin[OTTO_PART_TABLE_LEN];
    memset(flash_mem, 0xFF, sizeof flash_mem);
    otto_part_encode(layout, sizeof layout / sizeof *layout, true, bin);
    memcpy(flash_mem + OTTO_PART_TABLE_OFFSET, bin, sizeof bin);
    memcpy(flash_mem + 0x10000, img_v100, img_v100_len);
    fuse = 0;
    ops = cut_at = 0;
    power_off = false;
}
#endif

static void t_part(void)
{
    uint8_t bin[OTTO_PART_TABLE_LEN];
    otto_part_table_t t;
    CHECK(otto_part_encode(layout, sizeof layout / sizeof *layout, true, bin) == OTTO_OK);
    CHECK(otto_part_parse(odd_copy(bin, sizeof bin), sizeof bin, FLASH_SIZE, &t) == OTTO_OK);
    CHECK(t.count == 5 && otto_part_find(&t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_OTA_MIN + 1, NULL)->offset == 0x90000);
    ((uint8_t *)scratch)[1 + 40] ^= 1; /* a flipped bit: the table's MD5 catches it */
    CHECK(otto_part_parse(scratch + 1, sizeof bin, FLASH_SIZE, &t) != OTTO_OK);
}

static void t_otadata(void)
{
    otto_otadata_entry_t e = {7, {0}, 1, 0}, d;
    uint8_t raw[OTTO_OTADATA_ENTRY_LEN];
    e.crc = otto_otadata_crc(e.seq);
    otto_otadata_encode(&e, raw);
    otto_otadata_decode(odd_copy(raw, sizeof raw), &d);
    CHECK(d.seq == 7 && d.crc == e.crc && otto_otadata_valid(&d));
    CHECK(otto_otadata_next_seq(7, 0, 2) % 2 == 1);
}

#ifndef OTTO_TARGET_SMALL
static void t_kv(void)
{
    otto_kv_t kv;
    int64_t v = 0;
    char s[40];
    uint8_t blob[64];
    size_t n;
    provision();
    CHECK(otto_kv_mount(&kv, &flash, 0xD0000, 0x4000, true, NULL) == OTTO_OK);
    CHECK(otto_kv_set_int(&kv, "n", -1234567890123LL) == OTTO_OK);
    CHECK(otto_kv_set_str(&kv, "s", odd_copy("on a Cortex-M4", 15)) == OTTO_OK);
    for (int i = 0; i < 64; i++)
        blob[i] = (uint8_t)(i * 7);
    CHECK(otto_kv_set_blob(&kv, "b", odd_copy(blob, 64), 64) == OTTO_OK);
    for (int i = 0; i < 300; i++) /* wrap the ring a few times */
        CHECK(otto_kv_set_int(&kv, "i", i) == OTTO_OK);
    CHECK(otto_kv_mount(&kv, &flash, 0xD0000, 0x4000, false, NULL) == OTTO_OK);
    CHECK(otto_kv_get_int(&kv, "n", &v) == OTTO_OK && v == -1234567890123LL);
    CHECK(otto_kv_get_int(&kv, "i", &v) == OTTO_OK && v == 299);
    CHECK(otto_kv_get_str(&kv, "s", s, sizeof s) == OTTO_OK && !strcmp(s, "on a Cortex-M4"));
    CHECK(otto_kv_get_blob(&kv, "b", scratch + 3, 64, &n) == OTTO_OK && n == 64 && !memcmp(scratch + 3, blob, 64));
}
#endif

static void t_jobdoc(void)
{
    static const char doc[] =
        "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"https://h/fw/1?thing=a&sig=00\","
        "\"size\":4096,\"md5\":\"000102030405060708090a0b0c0d0e0f\",\"version\":\"1.1.0\",\"secure_version\":1,"
        "\"sig-sha256-ecdsa\":\"Z29vZA==\"}]}";
    static otto_json_tok_t tok[OTTO_JOBDOC_TOKENS];
    static otto_jobdoc_t d;
    CHECK(otto_jobdoc_parse(odd_copy(doc, sizeof doc - 1), sizeof doc - 1, tok, OTTO_JOBDOC_TOKENS, &d) == OTTO_OK);
    CHECK(d.count == 1 && d.fw[0].size == 4096 && d.fw[0].md5[15] == 0x0f && d.fw[0].siglen == 4);
    CHECK(!strcmp(d.fw[0].version, "1.1.0") && d.fw[0].secure_version == 1);
}

/* The image fed in odd-sized chunks, so most start at odd addresses; then
 * again with one bit flipped in the chunk holding byte 5000. */
static int feed_image(const uint8_t *img, uint32_t len, uint32_t flip_at)
{
    static otto_image_check_t c;
    static uint8_t flipped[333 + 1] __attribute__((aligned(4)));
    int err = otto_image_check_init(&c, OTTO_CHIP_ESP32, 300, 0x40000);
    for (uint32_t off = 0; !err && off < len; off += 333) {
        uint32_t n = len - off < 333 ? len - off : 333;
        const uint8_t *p = img + off;
        if (flip_at >= off && flip_at < off + n) {
            memcpy(flipped + 1, p, n); /* at an odd address too */
            flipped[1 + flip_at - off] ^= 0x80;
            p = flipped + 1;
        }
        err = otto_image_check_feed(&c, p, n);
    }
    if (!err)
        err = otto_image_check_finish(&c);
    return err ? err : strcmp(c.info.desc.version, "1.1.0") ? OTTO_E_CORRUPT : OTTO_OK;
}

static void t_image(void)
{
#ifndef OTTO_TARGET_SMALL
    const uint8_t *img = odd_copy(img_v110, img_v110_len);
#else
    const uint8_t *img = img_v110; /* from ROM: no room to copy it */
#endif
    CHECK(feed_image(img, img_v110_len, UINT32_MAX) == OTTO_OK);
    CHECK(feed_image(img, img_v110_len, 5000) != OTTO_OK);
}

#ifndef OTTO_TARGET_SMALL
/* Boot, and run the app's start-up: confirm a PENDING_VERIFY image. */
static int boot(otto_boot_result_t *b, otto_ota_ctx_t *ota)
{
    int err = otto_part_load(&flash, OTTO_PART_TABLE_OFFSET, &table);
    if (!err)
        err = otto_boot_select(&plat, &table, b);
    if (err)
        return err;
    otto_ota_ctx_init(ota, &plat, &table, b->part);
    uint32_t st;
    if (otto_ota_running_state(ota, &st) == OTTO_OK && st == OTTO_IMG_PENDING_VERIFY)
        return otto_ota_mark_valid(ota);
    return OTTO_OK;
}

/* The running app installs v1.1.0 into the next slot in odd chunks. */
static int install(const otto_ota_ctx_t *ota)
{
    static otto_ota_t u;
    const uint8_t *img = odd_copy(img_v110, img_v110_len);
    int err = otto_ota_begin(&u, ota, NULL, OTTO_OTA_SEQUENTIAL);
    for (uint32_t off = 0; !err && off < img_v110_len; off += 1000)
        err = otto_ota_write(&u, img + off, img_v110_len - off < 1000 ? img_v110_len - off : 1000);
    if (!err)
        err = otto_ota_end(&u, NULL);
    if (!err)
        err = otto_ota_set_boot(ota, u.target);
    return err;
}

static const char *running(const otto_boot_result_t *b)
{
    return b->info.desc.version;
}

/* The whole update, clean; then cut at a sample of its flash operations:
 * after each cut the device boots, and if it is not on v1.1.0 yet the
 * update is sent again; it must end on v1.1.0 VALID with the eFuse at 1. */
static void t_update(void)
{
    otto_boot_result_t b;
    otto_ota_ctx_t ota;
    provision();
    CHECK(boot(&b, &ota) == OTTO_OK && !strcmp(running(&b), "1.0.0"));
    uint32_t start = ops;
    CHECK(install(&ota) == OTTO_OK);
    CHECK(boot(&b, &ota) == OTTO_OK && !strcmp(running(&b), "1.1.0") && fuse == 1);
    uint32_t total = ops - start, runs = 0;
    CHECK(total > 10);
    for (uint32_t at = 1; at <= total + 2; at += total / 40 + 1, runs++) {
        provision();
        CHECK(boot(&b, &ota) == OTTO_OK);
        cut_at = at;
        ops = 0;
        int err = install(&ota);
        if (!power_off) /* the cut came later: in the boot */
            err = boot(&b, &ota);
        bool was_cut = power_off;
        power_off = false;
        cut_at = 0;
        for (int tries = 0; tries < 4; tries++) {
            CHECK(boot(&b, &ota) == OTTO_OK); /* something always boots */
            if (!strcmp(running(&b), "1.1.0"))
                break;
            CHECK(install(&ota) == OTTO_OK);
        }
        (void)err;
        CHECK(!strcmp(running(&b), "1.1.0") && fuse == 1);
        CHECK(was_cut || at > total);
    }
    t_puts("  ");
    put_u(runs);
    t_puts(" runs cut at a sample of ");
    put_u(total);
    t_puts(" flash/eFuse ops, all ended on v1.1.0\n");
}

/* ---- a whole agent update through a fake port --------------------------- */

static struct {
    char topic[160], payload[700];
    char status[700]; /* the last job update (payload with a "status") */
    char url[300];
    uint32_t from;
    int gets;
    bool rebooted;
    uint32_t clock;
} port_log;

static int p_publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    (void)ctx;
    strcpy(port_log.topic, topic);
    if (len >= sizeof port_log.payload)
        len = sizeof port_log.payload - 1;
    memcpy(port_log.payload, payload, len);
    port_log.payload[len] = 0;
    if (strstr(port_log.payload, "\"status\""))
        strcpy(port_log.status, port_log.payload);
    return OTTO_OK;
}
static int p_get(void *ctx, const char *url, uint32_t from, const char *etag)
{
    (void)ctx;
    (void)etag;
    strcpy(port_log.url, url);
    port_log.from = from;
    port_log.gets++;
    return OTTO_OK;
}
static void p_cancel(void *ctx) { (void)ctx; }
static void p_reboot(void *ctx) { (void)ctx; port_log.rebooted = true; }
static uint32_t p_now(void *ctx) { (void)ctx; return port_log.clock; }
/* The fake verifier takes the signature "good", as the host's agent tests. */
static int p_verify(void *ctx, const uint8_t key[65], const uint8_t sha[32], const uint8_t *sig, size_t len)
{
    (void)ctx; (void)key; (void)sha;
    return len == 4 && !memcmp(sig, "good", 4) ? OTTO_OK : OTTO_E_SIGNATURE;
}
static const otto_agent_port_t port = {NULL, p_publish, p_get, p_cancel, p_reboot, p_now, NULL, NULL, p_verify};

static otto_agent_t agent;
static otto_kv_t kv;
static otto_store_t store;
static otto_ota_ctx_t agent_ota;

/* Power on: boot, confirm, mount the store, start the agent. */
static int agent_boot(void)
{
    otto_boot_result_t b;
    int err = boot(&b, &agent_ota);
    if (!err)
        err = otto_kv_mount(&kv, &flash, 0xD0000, 0x4000, true, NULL);
    if (err)
        return err;
    otto_kv_store(&kv, &store);
    static const uint8_t owner[1][65] = {{0x04, 0x0E}};
    if ((err = otto_trust_provision(&store, owner, 1)))
        return err;
    static const otto_agent_config_t cfg = {.thing = "dev", .product = "lamp", .ota = &agent_ota, .store = &store,
                                            .port = &port, .checkpoint_bytes = 8192, .retry_ms = 1000};
    return otto_agent_init(&agent, &cfg, b.info.desc.version);
}

static void to_agent(const char *leaf, const char *payload)
{
    char topic[160] = "$aws/things/dev/jobs/";
    strcpy(topic + strlen(topic), leaf);
    otto_agent_message(&agent, topic, odd_copy(payload, strlen(payload)), strlen(payload));
}

static void t_agent(void)
{
    static char doc[1200], hex[33];
    uint8_t md5[16];
    provision();
    CHECK(agent_boot() == OTTO_OK);
    otto_agent_connected(&agent);
    CHECK(strstr(port_log.topic, "/hello") || strstr(port_log.topic, "$next/get"));
    otto_md5(img_v110, img_v110_len, md5);
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = "0123456789abcdef"[md5[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md5[i] & 15];
    }
    hex[32] = 0;
    strcpy(doc, "{\"execution\":{\"jobId\":\"job-1\",\"status\":\"QUEUED\",\"versionNumber\":1,\"jobDocument\":"
                "{\"product\":\"lamp\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"https://fw/1\",\"size\":");
    char num[12], *p = num + sizeof num - 1;
    uint32_t v = img_v110_len;
    *p = 0;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    strcpy(doc + strlen(doc), p);
    strcpy(doc + strlen(doc), ",\"md5\":\"");
    strcpy(doc + strlen(doc), hex);
    strcpy(doc + strlen(doc), "\",\"version\":\"1.1.0\",\"secure_version\":1,\"sig-sha256-ecdsa\":\"Z29vZA==\"}]}}}");
    to_agent("notify-next", doc);
    CHECK(strstr(port_log.status, "\"status\":\"IN_PROGRESS\""));
    to_agent("job-1/update/accepted", "{}");
    CHECK(port_log.gets == 1 && !strcmp(port_log.url, "https://fw/1"));
    otto_agent_http_head(&agent, 200, img_v110_len, 0, "\"e\"");
    const uint8_t *img = odd_copy(img_v110, img_v110_len);
    for (uint32_t off = 0; off < img_v110_len && !port_log.rebooted; off += 1400)
        otto_agent_http_data(&agent, img + off, img_v110_len - off < 1400 ? img_v110_len - off : 1400);
    otto_agent_http_end(&agent, OTTO_OK);
    CHECK(port_log.rebooted); /* verified, signature checked, selected: reboot */
    port_log.rebooted = false;
    CHECK(agent_boot() == OTTO_OK); /* the new image confirms itself */
    CHECK(!strcmp(agent.running_version, "1.1.0") && fuse == 1);
    otto_agent_connected(&agent);
    CHECK(strstr(port_log.status, "\"status\":\"SUCCEEDED\"") && strstr(port_log.status, "\"reason\":\"updated\""));
    to_agent("job-1/update/accepted", "{}");
    CHECK(!otto_agent_busy(&agent));
}

/* ---- instructions per byte -----------------------------------------------
 * QEMU runs with -icount shift=0: virtual time advances 1 ns per instruction,
 * and SysTick counts the board's 25 MHz clock, so one tick is 40
 * instructions. */
#define INSTR_PER_TICK 40u
static void systick_start(void)
{
    *(volatile uint32_t *)0xE000E014u = 0xFFFFFFu; /* reload */
    *(volatile uint32_t *)0xE000E018u = 0;         /* current */
    *(volatile uint32_t *)0xE000E010u = 5;         /* enable, processor clock, no interrupt */
}
static uint32_t systick_ticks(void)
{
    return 0xFFFFFFu - *(volatile uint32_t *)0xE000E018u;
}

static void perf_line(const char *what, uint32_t ticks, uint32_t units, const char *per)
{
    t_puts("perf: ");
    t_puts(what);
    t_puts(": ");
    put_u(ticks * INSTR_PER_TICK / units);
    t_puts(" instructions per ");
    t_puts(per);
    t_puts("\n");
}

static void perf(void)
{
    static otto_image_check_t c;
    static otto_sha256_t sh;
    static otto_md5_t m5;
    uint8_t out[32];
    const uint32_t n = img_v110_len;
    systick_start();
    otto_image_check_init(&c, OTTO_CHIP_ESP32, 300, 0x40000);
    otto_image_check_feed(&c, img_v110, n);
    otto_image_check_finish(&c);
    perf_line("image check", systick_ticks(), n, "byte");
    systick_start();
    otto_sha256_start(&sh);
    otto_md5_start(&m5);
    otto_sha256_update(&sh, img_v110, n);
    otto_md5_update(&m5, img_v110, n);
    otto_sha256_finish(&sh, out);
    otto_md5_finish(&m5, out);
    perf_line("SHA-256 + MD5 of a download", systick_ticks(), n, "byte");
    provision();
    otto_kv_mount(&kv, &flash, 0xD0000, 0x4000, true, NULL);
    systick_start();
    for (int i = 0; i < 100; i++)
        otto_kv_set_int(&kv, "n", i);
    perf_line("kv write of an integer", systick_ticks(), 100, "write");
}
#endif

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"hashes and CRC", t_hashes}, {"partition table", t_part}, {"otadata", t_otadata},
    {"job document", t_jobdoc},  {"image check", t_image},
#ifndef OTTO_TARGET_SMALL
    {"kv store", t_kv}, {"A/B update with power cuts", t_update}, {"a whole agent update (fake port)", t_agent},
#endif
};

int main(void)
{
    char cmd[64] = "";
#ifndef OTTO_TARGET_SMALL
    if (t_get_cmdline(cmd, sizeof cmd) > 0 && strstr(cmd, "perf")) {
        perf();
        return 0;
    }
#else
    t_get_cmdline(cmd, sizeof cmd);
#endif
    if (strstr(cmd, "fault")) {
        t_puts("a misaligned word load, on purpose:\n");
        /* An LDR the compiler cannot split into bytes: the core must trap. */
        uint32_t v;
        __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(scratch + 1) : "memory");
        t_puts("... and it did not fault\n");
        return (int)(v | 1); /* not reached when the trap works: UsageFault, exit 3 */
    }
    for (unsigned i = 0; i < sizeof tests / sizeof *tests; i++) {
        int before = failures;
        t_stack_repaint();
        tests[i].fn();
        t_puts(failures == before ? "ok   - " : "FAIL - ");
        t_puts(tests[i].name);
        t_puts(" (stack ");
        put_u(t_stack_size() - t_stack_unused());
        t_puts(" B)\n");
    }
#ifndef OTTO_TARGET_SMALL
    t_puts(failures ? "target: FAILED\n" : "target: all passed on the Cortex-M4\n");
#else
    t_puts(failures ? "target: FAILED\n" : "target: all passed on the Cortex-M0\n");
#endif
    return failures ? 1 : 0;
}
