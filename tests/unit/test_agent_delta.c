/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's delta update (device/agent_delta.c) through the in-process
 * job API and file server (agent_world.c): the job offers a patch from the
 * running image (made here by host/delta.c, blocks of 4 KiB), and the power
 * is cut at each flash and eFuse operation in turn (before, after, torn):
 * every run ends SUCCEEDED once on 1.1.0, decoded from the patch alone, and
 * no more of the patch fetched again than one block and the read that was
 * in flight. A damaged
 * patch falls back to the full image, and says so; a patch from another
 * base is not taken. The MCU's image the same way, from the image the
 * module last relayed (kept in one half of mcufw), cut at every operation
 * of the second job. With --corpus DIR: a real release (WLED 0.14.1 to
 * 0.14.2, 1.3 MB, both built with the same version string: told apart by
 * SHA-256) on a module with 8 MiB of flash, cut at a sample of its
 * operations (exit 77 when DIR is not there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_world.h"
#include "an3155_double.h"
#include "delta.h"
#include "fixtures.h"
#include "otto/image.h"
#include "partcsv.h"
#include "util.h"

#define CHUNK 512 /* bytes per download read */

static otto_simdev_t d;
static otto_agent_t a;
static otto_kv_t kv;
static world_t w;
static char doc[1100];
static uint8_t *factory, *img, *patch;
static size_t flen, ilen, plen;
static uint32_t max_block; /* the longest block of the patch, with its length field */
static const char *layout;  /* NULL: the default table on 4 MiB; else on 8 MiB */
static const char *want = "1.1.0"; /* the version that must run at the end */
static const char layout_8m[] = /* two app slots of 1.875 MiB, as such projects ship */
    "nvs,      data, nvs,     0x9000,   0x4000,\n"
    "otadata,  data, ota,     0xd000,   0x2000,\n"
    "phy_init, data, phy,     0xf000,   0x1000,\n"
    "ota_0,    app,  ota_0,   0x10000,  0x1E0000,\n"
    "ota_1,    app,  ota_1,   0x1F0000, 0x1E0000,\n"
    "ottokv,   data, ottokv,  0x3D0000, 16K,\n";

/* Boot (and boot again after each cut or reboot) until the job is over. */
static void run(uint64_t at, otto_cut_mode_t m, const uint8_t *p, size_t pn)
{
    agent_world_init(&w, img, ilen, doc, &d.power);
    w.patch = p;
    w.psize = (uint32_t)pn;
    assert_int_equal(layout ? fx_provision_flash(&d, 8u << 20, layout, factory, flen) : fx_provision(&d, factory, flen),
                     OTTO_OK);
    if (at)
        otto_power_arm(&d.power, at, m, at * 7919u + (uint64_t)m);
    const agent_world_opts_t o = {CHUNK, NULL, NULL, false, true};
    assert_int_equal(agent_world_boots(&d, &w, &a, &kv, &o, 16), 1);
    assert_null(agent_world_updated(&d, &w, at, want));
}

static void block_sizes(void)
{
    max_block = 0;
    for (size_t off = OTTO_DELTA_HEADER_LEN; off + 4 <= plen;) {
        uint32_t n = (patch[off] | patch[off + 1] << 8 | (uint32_t)patch[off + 2] << 16 |
                      (uint32_t)patch[off + 3] << 24) & 0x7FFFFFFFu;
        max_block = 4 + n > max_block ? 4 + n : max_block;
        off += 4 + n;
    }
}

static void setup_images(void)
{
    /* 1.1.0 is 1.0.0 grown by a third: a patch of a few blocks */
    factory = fx_image("1.0.0", 0, 24576, 0, &flen);
    img = fx_image("1.1.0", 1, 32768, 0, &ilen);
    assert_int_equal(otto_delta_make(factory, flen, img, ilen, 4096, &patch, &plen), OTTO_OK);
    block_sizes();
    assert_int_equal(agent_world_doc_delta(doc, sizeof doc, img, ilen, "1.1.0", factory, flen, plen), 0);
}

/* A cut at each of total operations in turn (before, after, torn): every
 * run took the patch (pn bytes) alone, and fetched at most one block of
 * it again and the read in flight. The most fetched again. */
static uint64_t sweep(uint64_t total, void (*one)(uint64_t at, otto_cut_mode_t m), size_t pn, unsigned *runs)
{
    static const otto_cut_mode_t modes[] = {OTTO_CUT_BEFORE, OTTO_CUT_AFTER, OTTO_CUT_TORN};
    uint64_t worst = 0;
    *runs = 0;
    for (uint64_t at = 1; at <= total; at++, (*runs)++) {
        one(at, modes[*runs % 3]);
        assert_true(w.served == w.served_patch);                 /* never the full image */
        assert_true(w.served_patch <= pn + max_block + CHUNK); /* one block again, and the read in flight */
        worst = w.served_patch - pn > worst ? w.served_patch - pn : worst;
        otto_simdev_close(&d);
    }
    return worst;
}

static void run_patch(uint64_t at, otto_cut_mode_t m)
{
    run(at, m, patch, plen);
}

static void cuts_everywhere(void **state)
{
    (void)state;
    setup_images();
    run(0, OTTO_CUT_BEFORE, patch, plen);
    uint64_t total = d.power.ops;
    assert_non_null(strstr(w.final, "\"delta_bytes\":"));
    assert_true(w.served == w.served_patch && w.served_patch == plen); /* the patch, once, and nothing else */
    otto_simdev_close(&d);
    unsigned runs;
    uint64_t worst = sweep(total, run_patch, plen, &runs);
    printf("delta update: %zu-byte image from a %zu-byte patch (4 KiB blocks); %llu flash/eFuse ops, cut at each "
           "(%u runs): each landed, each SUCCEEDED once on 1.1.0 from the patch alone; at most %llu patch bytes "
           "fetched again (a block is at most %u, a read %d)\n", ilen, plen, (unsigned long long)total, runs,
           (unsigned long long)worst, max_block, CHUNK);
}

static void damaged_patch_falls_back(void **state)
{
    (void)state;
    uint8_t *bad = malloc(plen);
    memcpy(bad, patch, plen);
    for (size_t i = OTTO_DELTA_HEADER_LEN + 40; i < plen; i += 53)
        bad[i] ^= 0x5A;
    run(0, OTTO_CUT_BEFORE, bad, plen);
    assert_non_null(strstr(w.final, "\"delta\":\"fallback\""));
    assert_true(w.served - w.served_patch == ilen); /* then the whole image */
    otto_simdev_close(&d);
    free(bad);
}

static void another_base_is_not_taken(void **state)
{
    (void)state;
    size_t olen;
    uint8_t *other = fx_image("0.9.0", 0, 24576, 0, &olen); /* what the patch was made from is not what runs */
    assert_int_equal(agent_world_doc_delta(doc, sizeof doc, img, ilen, "1.1.0", other, olen, plen), 0);
    run(0, OTTO_CUT_BEFORE, patch, plen);
    assert_int_equal(w.served_patch, 0);
    assert_null(strstr(w.final, "delta"));
    otto_simdev_close(&d);
    free(other);
    free(factory);
    free(img);
    free(patch);
}

/* ---- the MCU's image from a patch of the one last relayed ---------------- */

static an3155_t mcu; /* an STM32F103 in its ROM bootloader, in memory */
static otto_uart_t mcu_inner, mcu_line;
static uint8_t *m1, *m2, *mpatch;
static size_t m1n, m2n, mpn;

static void mcu_reset(void *ctx)
{
    (void)ctx;
    an3155_reset(&mcu);
}
/* The module's UART: dead without power. */
static int ml_write(void *ctx, const void *b, size_t n)
{
    (void)ctx;
    return d.power.off ? OTTO_E_IO : mcu_inner.write(mcu_inner.ctx, b, n);
}
static int ml_read(void *ctx, void *b, size_t n, uint32_t ms)
{
    (void)ctx;
    return d.power.off ? OTTO_E_IO : mcu_inner.read(mcu_inner.ctx, b, n, ms);
}

/* An application for the F103: its vector table, then bytes. */
static uint8_t *mcu_app(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)otto_xorshift64(&seed);
    const uint8_t vec[8] = {0x00, 0x40, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08}; /* SP 0x20004000, reset 0x08000101 */
    memcpy(b, vec, sizeof vec);
    return b;
}

/* One MCU-only job for mimg (version v), offering pn bytes of p made from
 * base (none: pn 0), cut at the at-th operation from its start. */
static void mcu_job(const uint8_t *mimg, size_t mn, const char *v, const uint8_t *base, size_t bn, const uint8_t *p,
                    size_t pn, uint64_t at, otto_cut_mode_t m)
{
    assert_int_equal(agent_world_doc_mcu_delta(doc, sizeof doc, mimg, mn, v, base, bn, pn), 0);
    agent_world_init(&w, factory, flen, doc, &d.power);
    w.mimg = mimg;
    w.msize = (uint32_t)mn;
    w.mpatch = p;
    w.mpsize = (uint32_t)pn;
    if (at)
        otto_power_arm(&d.power, at, m, at * 7919u + (uint64_t)m);
    uint64_t before = d.power.landed;
    const agent_world_opts_t o = {CHUNK, &mcu_line, mcu_reset, false, true};
    assert_int_equal(agent_world_boots(&d, &w, &a, &kv, &o, 16), 1);
    if (at)
        assert_int_equal(d.power.landed, before + 1); /* the planned cut landed */
    assert_true(w.status == 2 && w.finals == 1);  /* SUCCEEDED, once */
    assert_memory_equal(mcu.flash, mimg, mn);    /* the MCU holds the image */
    assert_false(d.sf.violations);
}

/* Does the last hello name a base for the MCU (in its "sha256" map)? */
static bool hello_has_mcu_base(void)
{
    const char *m = strstr(w.hello, "\"sha256\":{");
    const char *end = m ? strchr(m, '}') : NULL;
    const char *k = m ? strstr(m, "\"stm32\":") : NULL;
    return k && k < end;
}

/* The module as it leaves the factory, and its first MCU job (the full
 * 2.0.0: no base yet, so a patch offered is not taken); after it, the
 * module holds 2.0.0 as its base and says so in its hello. */
static void mcu_first_job(void)
{
    char hex[65];
    uint8_t sha[32];
    assert_int_equal(fx_provision(&d, factory, flen), OTTO_OK);
    an3155_init(&mcu);
    memset(mcu.flash, 0x5A, 64 * 1024); /* what the factory programmed */
    mcu_job(m1, m1n, "2.0.0", m2, m2n, mpatch, mpn, 0, OTTO_CUT_BEFORE);
    assert_int_equal(w.served_patch, 0);
    assert_null(strstr(w.final, "delta"));
    otto_sha256(m1, m1n, sha);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", sha[i]);
    char want_sha[80];
    snprintf(want_sha, sizeof want_sha, "\"stm32\":\"%s\"", hex);
    assert_non_null(strstr(w.hello, want_sha));
}

static void run_mcu_patch(uint64_t at, otto_cut_mode_t m)
{
    mcu_first_job();
    mcu_job(m2, m2n, "2.1.0", m1, m1n, mpatch, mpn, at, m);
}

static void mcu_cuts_everywhere(void **state)
{
    (void)state;
    factory = fx_image("1.0.0", 0, 24576, 0, &flen);
    m1n = 24 * 1024;
    m1 = mcu_app(m1n, 11);
    m2n = m1n + 2048;
    m2 = malloc(m2n);
    memcpy(m2, m1, 9000); /* 2.1.0: 2 KiB of new code at 9000, a few bytes changed after it */
    uint64_t r = 99;
    for (size_t i = 9000; i < 9000 + 2048; i++)
        m2[i] = (uint8_t)otto_xorshift64(&r);
    memcpy(m2 + 9000 + 2048, m1 + 9000, m1n - 9000);
    for (int i = 0; i < 120; i++)
        m2[12000 + (otto_xorshift64(&r) % 10000)] ^= 0x10;
    assert_int_equal(otto_delta_make(m1, m1n, m2, m2n, 4096, &mpatch, &mpn), OTTO_OK);
    patch = mpatch;
    plen = mpn;
    block_sizes();
    mcu_inner = an3155_uart(&mcu);
    mcu_line = (otto_uart_t){NULL, ml_write, ml_read, NULL};

    mcu_first_job();
    uint64_t start = d.power.ops;
    mcu_job(m2, m2n, "2.1.0", m1, m1n, mpatch, mpn, 0, OTTO_CUT_BEFORE);
    uint64_t total = d.power.ops - start;
    assert_non_null(strstr(w.final, "\"stm32_delta_bytes\":"));
    assert_true(w.served == w.served_patch && w.served_patch == mpn);
    otto_simdev_close(&d);

    unsigned runs;
    uint64_t worst = sweep(total, run_mcu_patch, mpn, &runs);
    printf("MCU delta update: %zu-byte image from a %zu-byte patch of the image last relayed; %llu flash/eFuse ops, "
           "cut at each (%u runs): each landed, each SUCCEEDED once with the MCU holding 2.1.0, from the patch "
           "alone; at most %llu patch bytes fetched again\n", m2n, mpn, (unsigned long long)total, runs,
           (unsigned long long)worst);
}

/* An MCU image larger than half of mcufw takes all of it: the base is
 * forgotten before its first byte (the patch offered is not taken), and
 * the module holds none after it. */
static void mcu_image_over_half(void **state)
{
    (void)state;
    char small_mcufw[1024]; /* the default table with an mcufw of 48 KiB: halves of 24 KiB */
    snprintf(small_mcufw, sizeof small_mcufw, "%s", otto_partcsv_default_layout);
    char *m = strstr(small_mcufw, "944K,");
    assert_non_null(m);
    memcpy(m, " 48K,", 5);
    assert_int_equal(fx_provision_csv(&d, small_mcufw, factory, flen), OTTO_OK);
    an3155_init(&mcu);
    mcu_job(m1, m1n, "2.0.0", m2, m2n, mpatch, mpn, 0, OTTO_CUT_BEFORE); /* 24 KiB: half 0 */
    assert_true(hello_has_mcu_base());
    mcu_job(m2, m2n, "2.1.0", m1, m1n, mpatch, mpn, 0, OTTO_CUT_BEFORE); /* 26 KiB: all of mcufw */
    assert_int_equal(w.served_patch, 0);
    assert_null(strstr(w.final, "delta"));
    assert_true(strstr(w.hello, "\"sha256\":{\"esp32\"") && !hello_has_mcu_base()); /* a hello, without an MCU base */
    otto_simdev_close(&d);
}

/* A damaged MCU patch: the full image instead, and the report says so. */
static void mcu_damaged_patch_falls_back(void **state)
{
    (void)state;
    uint8_t *bad = malloc(mpn);
    memcpy(bad, mpatch, mpn);
    for (size_t i = OTTO_DELTA_HEADER_LEN + 40; i < mpn; i += 53)
        bad[i] ^= 0x5A;
    mcu_first_job();
    mcu_job(m2, m2n, "2.1.0", m1, m1n, bad, mpn, 0, OTTO_CUT_BEFORE);
    assert_non_null(strstr(w.final, "\"stm32_delta\":\"fallback\""));
    assert_true(w.served - w.served_patch == m2n);
    otto_simdev_close(&d);
    free(bad);
    free(m1);
    free(m2);
    free(mpatch);
    free(factory);
}

static const char *corpus_dir;

/* WLED 0.14.1 -> 0.14.2: the patch the server would make (64 KiB blocks),
 * through the agent on an 8 MiB module, cut at every 16th operation. */
static void corpus_release(void **state)
{
    (void)state;
    char path[1024];
    otto_image_info_t info;
    snprintf(path, sizeof path, "%s/wled-esp32/0.14.1.bin", corpus_dir);
    assert_int_equal(otto_read_file(path, &factory, &flen), 0);
    snprintf(path, sizeof path, "%s/wled-esp32/0.14.2.bin", corpus_dir);
    assert_int_equal(otto_read_file(path, &img, &ilen), 0);
    assert_int_equal(otto_delta_make(factory, flen, img, ilen, 0, &patch, &plen), OTTO_OK);
    block_sizes();
    otto_image_check_t c;
    assert_int_equal(otto_image_check_init(&c, OTTO_CHIP_ANY, 0, (uint32_t)ilen), OTTO_OK);
    otto_image_check_feed(&c, img, ilen);
    assert_int_equal(otto_image_check_finish(&c), OTTO_OK);
    info = c.info;
    want = info.desc.version;
    assert_int_equal(agent_world_doc_delta(doc, sizeof doc, img, ilen, want, factory, flen, plen), 0);
    layout = layout_8m;
    run(0, OTTO_CUT_BEFORE, patch, plen);
    uint64_t total = d.power.ops;
    assert_true(w.served == plen && w.served_patch == plen);
    otto_simdev_close(&d);
    static const otto_cut_mode_t modes[] = {OTTO_CUT_BEFORE, OTTO_CUT_AFTER, OTTO_CUT_TORN};
    unsigned runs = 0;
    for (uint64_t at = 7; at <= total; at += 16, runs++) {
        run(at, modes[runs % 3], patch, plen);
        assert_true(w.served == w.served_patch && w.served_patch <= plen + max_block + CHUNK);
        otto_simdev_close(&d);
    }
    printf("WLED 0.14.1 -> 0.14.2 on an 8 MiB module: %zu-byte image from a %zu-byte patch (%.1f %%); %llu flash "
           "ops, cut at every 16th (%u runs): each SUCCEEDED once on the new image from the patch alone\n",
           ilen, plen, 100.0 * (double)plen / (double)ilen, (unsigned long long)total, runs);
    free(factory);
    free(img);
    free(patch);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--corpus")) {
        char sums[1024];
        uint8_t *x;
        size_t xl;
        corpus_dir = argv[2];
        snprintf(sums, sizeof sums, "%s/SHA256SUMS", corpus_dir);
        if (otto_read_file(sums, &x, &xl)) {
            printf("skipped: no delta corpus at %s\n", corpus_dir);
            return 77;
        }
        free(x);
        const struct CMUnitTest corpus[] = {cmocka_unit_test(corpus_release)};
        return cmocka_run_group_tests(corpus, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuts_everywhere),
        cmocka_unit_test(damaged_patch_falls_back),
        cmocka_unit_test(another_base_is_not_taken),
        cmocka_unit_test(mcu_cuts_everywhere),
        cmocka_unit_test(mcu_image_over_half),
        cmocka_unit_test(mcu_damaged_patch_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
