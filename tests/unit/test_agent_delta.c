/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's delta update (device/agent_delta.c) through the in-process
 * job API and file server (agent_world.c): the job offers a patch from the
 * running image (made here by host/delta.c, blocks of 4 KiB), and the power
 * is cut at each flash and eFuse operation in turn (before, after, torn):
 * every run ends SUCCEEDED once on 1.1.0, decoded from the patch alone, and
 * no more of the patch fetched again than one block and the read that was
 * in flight. A damaged
 * patch falls back to the full image, and says so; a patch from another
 * base is not taken. With --corpus DIR: a real release (WLED 0.14.1 to
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
#include "delta.h"
#include "fixtures.h"
#include "otto/image.h"
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

static void cuts_everywhere(void **state)
{
    (void)state;
    setup_images();
    run(0, OTTO_CUT_BEFORE, patch, plen);
    uint64_t total = d.power.ops;
    assert_non_null(strstr(w.final, "\"delta_bytes\":"));
    assert_true(w.served == w.served_patch && w.served_patch == plen); /* the patch, once, and nothing else */
    otto_simdev_close(&d);
    static const otto_cut_mode_t modes[] = {OTTO_CUT_BEFORE, OTTO_CUT_AFTER, OTTO_CUT_TORN};
    uint64_t worst = 0;
    unsigned runs = 0;
    for (uint64_t at = 1; at <= total; at++, runs++) {
        run(at, modes[runs % 3], patch, plen);
        assert_true(w.served == w.served_patch); /* never the full image */
        assert_true(w.served_patch <= plen + max_block + CHUNK); /* one block again, and the read in flight */
        worst = w.served_patch - plen > worst ? w.served_patch - plen : worst;
        otto_simdev_close(&d);
    }
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
