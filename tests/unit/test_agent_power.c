/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's whole update (job document with a key update, the image in
 * chunks, checkpoints, verification, the slot switch, reboot, self-test,
 * confirmation, eFuse, the final report) through the in-process job API
 * and file server (agent_world.c), with the power cut at each of its flash
 * and eFuse operations in turn (before, after and torn, alternately): each
 * cut must land, and each run must end with the job reported SUCCEEDED
 * exactly once, 1.1.0 running and confirmed, the eFuse raised, the key
 * stored and no NOR rule broken. A small image, so it runs on the Cortex-M
 * target as on the host (agent_sweep: every mode and tear of every op). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_world.h"
#include "fixtures.h"
#include "otto/image.h"

static otto_simdev_t d;
static otto_agent_t a;
static otto_kv_t kv;
static world_t w;
static char doc[1100];
static uint8_t *factory, *img;
static size_t flen, ilen;

/* One update, cut at op `at` (0: none) in mode m. Returns the ops counted. */
static uint64_t update(uint64_t at, otto_cut_mode_t m)
{
    memset(&w, 0, sizeof w);
    w.img = img;
    w.size = (uint32_t)ilen;
    w.power = &d.power;
    w.version = 1;
    strcpy(w.doc, doc);
    assert_int_equal(fx_provision(&d, factory, flen), OTTO_OK);
    if (at)
        otto_power_arm(&d.power, at, m, at * 7919u + (uint64_t)m);
    const agent_world_opts_t o = {1024, NULL, NULL, false};
    int rc = 0;
    for (int boots = 0; boots < 16 && rc == 0; boots++) {
        rc = agent_world_boot(&d, &w, &a, &kv, &o);
        if (d.power.off)
            otto_power_restore(&d.power);
    }
    uint32_t state = 0, fuse = 0;
    otto_image_info_t self;
    assert_int_equal(rc, 1);
    if (at) {
        assert_int_equal(d.power.landed, 1); /* the cut this run planned happened */
        assert_int_equal(d.power.landed_at, at);
    }
    assert_string_equal(agent_world_status(&w), "SUCCEEDED");
    assert_int_equal(w.finals, 1);
    assert_int_equal(otto_ota_running_state(&d.ota, &state), OTTO_OK);
    assert_int_equal(state, OTTO_IMG_VALID);
    assert_int_equal(otto_image_read_head(&d.flash, d.boot.part->offset, d.boot.part->size, &self), OTTO_OK);
    assert_string_equal(self.desc.version, "1.1.0");
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    assert_int_equal(fuse, 1);
    assert_int_equal(a.trust.n, 2); /* the job's key update is stored */
    assert_int_equal(d.sf.violations, 0);
    uint64_t ops = d.power.ops;
    otto_simdev_close(&d);
    return ops;
}

static void cuts_at_a_sample(void **state)
{
    (void)state;
    factory = fx_image("1.0.0", 0, 8192, 0, &flen);
    img = fx_image("1.1.0", 1, 12288, 0, &ilen);
    assert_int_equal(agent_world_doc(doc, sizeof doc, img, ilen, NULL, 0), 0);
    uint64_t total = update(0, OTTO_CUT_BEFORE);
    assert_true(total > 20);
    unsigned runs = 0;
    static const otto_cut_mode_t modes[] = {OTTO_CUT_BEFORE, OTTO_CUT_AFTER, OTTO_CUT_TORN};
    for (uint64_t at = 1; at <= total; at++, runs++)
        update(at, modes[runs % 3]);
    printf("agent update: %llu flash/eFuse ops, cut at each (%u runs; before, after, torn in turn): "
           "each landed, each run SUCCEEDED once on 1.1.0\n", (unsigned long long)total, runs);
    free(factory);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuts_at_a_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
