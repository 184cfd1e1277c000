/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's whole update (job document with a key update, the image in
 * chunks, checkpoints, verification, the slot switch, reboot, self-test,
 * confirmation, eFuse, the final report) through the in-process job API
 * and file server (agent_world.c), with the power cut at each of its flash
 * and eFuse operations in turn (before, after and torn, alternately): each
 * cut must land, and each run must end with the job reported SUCCEEDED
 * exactly once, 1.1.0 running and confirmed, the eFuse raised, the key
 * stored and no NOR rule broken. A small image, so it runs on the Cortex-M
 * target as on the host (agent_sweep: every mode and tear of every op).
 * Install later: the same with the job saying "install": "WAIT" until the
 * device waits with the image downloaded, then "NOW": a cut at each op of
 * the whole of it, and never a byte downloaded after the wait. */
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

/* A fresh module on 1.0.0 and a world with the job ("install": as the
 * world's), the power to be cut at op `at` (0: none) in mode m. */
static void start(uint64_t at, otto_cut_mode_t m, int install)
{
    agent_world_init(&w, img, ilen, doc, &d.power);
    assert_int_equal(fx_provision(&d, factory, flen), OTTO_OK);
    if (at)
        otto_power_arm(&d.power, at, m, at * 7919u + (uint64_t)m);
    w.install = install;
}

/* One update, cut at op `at` (0: none) in mode m. Returns the ops counted. */
static uint64_t update(uint64_t at, otto_cut_mode_t m)
{
    start(at, m, 0);
    const agent_world_opts_t o = {1024, NULL, NULL, false, false};
    uint32_t fuse = 0;
    assert_int_equal(agent_world_boots(&d, &w, &a, &kv, &o, 16), 1);
    assert_null(agent_world_updated(&d, &w, at, "1.1.0")); /* the planned cut landed, SUCCEEDED once */
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    assert_int_equal(fuse, 1);
    assert_int_equal(a.trust.n, 2); /* the job's key update is stored */
    uint64_t ops = d.power.ops;
    otto_simdev_close(&d);
    return ops;
}

/* The same update with "install": "WAIT" until the agent waits, downloaded
 * (power cycled there once more), then "NOW". Returns the ops counted. */
static uint64_t update_later(uint64_t at, otto_cut_mode_t m)
{
    start(at, m, 1);
    const agent_world_opts_t o = {1024, NULL, NULL, false, false};
    otto_image_info_t self;
    int rc = 0, boots = 0;
    for (; boots < 16 && rc == 0; boots++) { /* until it waits: nothing more happens */
        rc = agent_world_boot(&d, &w, &a, &kv, &o);
        if (d.power.off)
            otto_power_restore(&d.power);
    }
    assert_int_equal(rc, -1);
    assert_string_equal(otto_agent_phase(&a), "downloaded");
    assert_string_equal(agent_world_status(&w), "IN_PROGRESS");
    assert_int_equal(otto_image_read_head(&d.flash, d.boot.part->offset, d.boot.part->size, &self), OTTO_OK);
    assert_string_equal(self.desc.version, "1.0.0"); /* still the old one */
    uint64_t served = w.served;
    assert_true(served >= ilen);
    w.install = 2;
    for (rc = 0; boots < 32 && rc <= 0; boots++) { /* power cycled while waiting, then told */
        rc = agent_world_boot(&d, &w, &a, &kv, &o);
        if (d.power.off)
            otto_power_restore(&d.power);
    }
    assert_int_equal(rc, 1);
    if (at) {
        assert_int_equal(d.power.landed, 1);
        assert_int_equal(d.power.landed_at, at);
    }
    assert_string_equal(agent_world_status(&w), "SUCCEEDED");
    assert_int_equal(w.finals, 1);
    assert_true(w.served == served); /* installed from flash: not a byte more */
    assert_int_equal(otto_image_read_head(&d.flash, d.boot.part->offset, d.boot.part->size, &self), OTTO_OK);
    assert_string_equal(self.desc.version, "1.1.0");
    assert_int_equal(d.sf.violations, 0);
    uint64_t ops = d.power.ops;
    otto_simdev_close(&d);
    return ops;
}

/* run() once without a cut to count its ops, then cut at each in turn
 * (before, after, torn); returns the runs. */
static unsigned sweep(uint64_t (*run)(uint64_t at, otto_cut_mode_t m), uint64_t *total)
{
    factory = fx_image("1.0.0", 0, 8192, 0, &flen);
    img = fx_image("1.1.0", 1, 12288, 0, &ilen);
    assert_int_equal(agent_world_doc(doc, sizeof doc, img, ilen, NULL, 0), 0);
    *total = run(0, OTTO_CUT_BEFORE);
    assert_true(*total > 20);
    unsigned runs = 0;
    static const otto_cut_mode_t modes[] = {OTTO_CUT_BEFORE, OTTO_CUT_AFTER, OTTO_CUT_TORN};
    for (uint64_t at = 1; at <= *total; at++, runs++)
        run(at, modes[runs % 3]);
    free(factory);
    free(img);
    return runs;
}

static void cuts_at_a_sample(void **state)
{
    uint64_t total;
    (void)state;
    unsigned runs = sweep(update, &total);
    printf("agent update: %llu flash/eFuse ops, cut at each (%u runs; before, after, torn in turn): "
           "each landed, each run SUCCEEDED once on 1.1.0\n", (unsigned long long)total, runs);
}

static void install_later_cuts(void **state)
{
    uint64_t total;
    (void)state;
    unsigned runs = sweep(update_later, &total);
    printf("install later: %llu flash/eFuse ops, cut at each (%u runs): each landed, each waited downloaded on "
           "1.0.0, then installed 1.1.0 from flash, SUCCEEDED once\n", (unsigned long long)total, runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuts_at_a_sample),
        cmocka_unit_test(install_later_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
