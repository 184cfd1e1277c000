/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-cut sweep over the whole A/B update, in the manner of MCUboot's
 * simulator and littlefs's reentrant tests, with torn writes added.
 *
 * Two scenarios, each first run clean to count its modifying operations
 * (flash program, flash sector erase, eFuse burn), then re-run from the same
 * starting flash with the power cut at operation 1, 2, ... N, in each mode
 * (before the op, after it, torn in the middle; torn with several seeds):
 *
 *   confirm:  factory v1.0.0 -> write v1.1.0 (secure_version 1) into ota_0,
 *             end, set boot, reboot, bootloader, self-test passes, mark
 *             valid (+ eFuse), reboot.
 *   rollback: v1.1.0 confirmed -> write v1.2.0 whose self-test fails into
 *             ota_1, set boot, reboot, bootloader, self-test fails, mark
 *             invalid, reboot into v1.1.0.
 *
 * After each cut the power comes back and the device keeps going, as a
 * device in the field would: it boots, its app confirms or rejects itself,
 * and the operator (this harness, whose memory survives the cut) re-sends
 * the update if it did not land. Checked on every boot after a cut:
 *   - something boots, and it is one of the known complete images
 *     (never none, never a half-written one);
 *   - the eFuse counter never exceeds the running image's secure_version;
 *   - no program ever needed a 0 bit to become 1 (NOR rule).
 * And at the end: the scenario completes (confirm: v1.1.0 VALID, eFuse 1;
 * rollback: v1.2.0 was tried and v1.1.0 runs VALID).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "util.h"

#define MAX_BOOTS    24
#define MAX_INSTALLS 4

typedef struct {
    const char *name;
    const uint8_t *goal;
    size_t goal_len;
    const char *goal_version;
    int expect_rollback;
} scenario_t;

typedef struct {
    uint8_t *flash;
    uint32_t efuse_bits;
} snapshot_t;

typedef struct {
    uint8_t sha[3][32];
    uint32_t sv[3];
    int n;
} known_t;

static known_t known;
static size_t chunk = 1024;
static int verbose;

static void snap_take(otto_simdev_t *d, snapshot_t *s)
{
    s->flash = malloc(d->sf.size);
    memcpy(s->flash, d->sf.mem, d->sf.size);
    s->efuse_bits = d->se.bits;
}

static void snap_restore(otto_simdev_t *d, const snapshot_t *s)
{
    memcpy(d->sf.mem, s->flash, d->sf.size);
    memset(d->sf.wear, 0, (d->sf.size / d->sf.sector) * sizeof(uint32_t));
    d->sf.violations = 0;
    d->se.bits = s->efuse_bits;
    otto_power_init(&d->power);
}

static void add_known(const uint8_t *img, size_t len, uint32_t sv)
{
    otto_sha256(img, len - 32, known.sha[known.n]); /* hash covers all but the hash */
    known.sv[known.n++] = sv;
}

static int is_known(const otto_image_info_t *info)
{
    for (int i = 0; i < known.n; i++)
        if (!memcmp(info->sha256, known.sha[i], 32))
            return 1;
    return 0;
}

typedef struct {
    int boots;
    int installs;
    char why[200];
} outcome_t;

static int failf(outcome_t *o, const char *msg, const otto_simdev_t *d)
{
    snprintf(o->why, sizeof(o->why), "%s (boot %d, running %s)", msg, o->boots,
             d->booted ? d->boot.part->label : "none");
    return -1;
}

/* Run a scenario to its end from whatever is on flash. The cut, if armed,
 * happens somewhere inside; after it the power is restored. */
static int run(otto_simdev_t *d, const scenario_t *sc, outcome_t *o)
{
    int saw_fail = 0;
    memset(o, 0, sizeof(*o));

    for (o->boots = 0; o->boots < MAX_BOOTS; o->boots++) {
        int err = otto_simdev_boot(d);
        if (d->power.off) {
            otto_power_restore(&d->power);
            continue;
        }
        if (err)
            return failf(o, err == OTTO_E_NOTFOUND ? "nothing bootable" : otto_strerror(err), d);
        if (!is_known(&d->boot.info))
            return failf(o, "booted an image that is not one of the complete images", d);
        if (d->boot.efuse_after > d->boot.info.desc.secure_version)
            return failf(o, "eFuse counter above the running image's secure_version", d);
        if (sc->expect_rollback && !strcmp(d->boot.info.desc.version, sc->goal_version))
            saw_fail = 1; /* the failing image got to run its self-test */

        otto_app_outcome_t out;
        err = otto_simdev_app_start(d, &out);
        if (d->power.off) {
            otto_power_restore(&d->power);
            continue;
        }
        if (err)
            return failf(o, otto_strerror(err), d);
        if (out == OTTO_APP_ROLLED_BACK)
            continue;
        if (out == OTTO_APP_STUCK)
            return failf(o, "failing image could not roll back", d);

        uint32_t state = 0, fuse = 0;
        int have_state = otto_ota_running_state(&d->ota, &state) == OTTO_OK;
        d->efuse.read_secure_version(d->efuse.ctx, &fuse);
        if (sc->expect_rollback) {
            if (saw_fail && !strcmp(d->boot.info.desc.version, "1.1.0") && have_state &&
                state == OTTO_IMG_VALID)
                return 0;
        } else if (!strcmp(d->boot.info.desc.version, sc->goal_version) && have_state &&
                   state == OTTO_IMG_VALID && fuse == d->boot.info.desc.secure_version) {
            return 0;
        }
        if (saw_fail)
            continue; /* rolled back by a cut before deciding; reboot decides */
        if (o->installs >= MAX_INSTALLS)
            return failf(o, "update did not complete after repeated attempts", d);
        o->installs++;
        err = otto_simdev_install(d, sc->goal, sc->goal_len, chunk, OTTO_OTA_SEQUENTIAL);
        if (d->power.off) {
            otto_power_restore(&d->power);
            continue;
        }
        if (err)
            return failf(o, otto_strerror(err), d);
    }
    return failf(o, "did not settle within the boot limit", d);
}

typedef struct {
    uint64_t runs, failed, max_boots, reinstalls;
    uint32_t max_wear;
} tally_t;

static void sweep(otto_simdev_t *d, const scenario_t *sc, const snapshot_t *start, int seeds,
                  uint64_t stride, tally_t *t, uint64_t *ops_out)
{
    outcome_t o;
    snap_restore(d, start);
    if (run(d, sc, &o) != 0) {
        printf("  %s: clean run FAILED: %s\n", sc->name, o.why);
        t->failed++;
        return;
    }
    uint64_t n = d->power.ops;
    *ops_out = n;
    printf("  %-8s clean run: %" PRIu64 " flash/eFuse writes (%" PRIu64 " programs, %" PRIu64
           " erases, %" PRIu64 " eFuse burns)\n", sc->name, n, d->power.programs, d->power.erases,
           d->power.burns);
    for (uint64_t at = 1; at <= n; at += stride) {
        for (int m = 0; m < 2 + seeds; m++) {
            otto_cut_mode_t mode = m == 0 ? OTTO_CUT_BEFORE : m == 1 ? OTTO_CUT_AFTER : OTTO_CUT_TORN;
            uint64_t seed = at * 1000003u + (uint64_t)m;
            snap_restore(d, start);
            otto_power_arm(&d->power, at, mode, seed);
            int rc = run(d, sc, &o);
            t->runs++;
            if (rc == 0 && d->sf.violations)
                rc = -1, snprintf(o.why, sizeof(o.why), "program over unerased flash");
            if (rc != 0) {
                t->failed++;
                printf("  FAIL %s cut at write %" PRIu64 " mode %s seed %" PRIu64 ": %s\n", sc->name,
                       at, otto_cut_mode_name(mode), seed, o.why);
            } else if (verbose) {
                printf("  ok %s cut %" PRIu64 " %s: %d boots\n", sc->name, at, otto_cut_mode_name(mode),
                       o.boots);
            }
            if ((uint64_t)o.boots > t->max_boots)
                t->max_boots = (uint64_t)o.boots;
            if (o.installs > 1)
                t->reinstalls++;
            for (uint32_t s = 0; s < d->sf.size / d->sf.sector; s++)
                if (d->sf.wear[s] > t->max_wear)
                    t->max_wear = d->sf.wear[s];
        }
    }
}

int main(int argc, char **argv)
{
    uint64_t image_size = 48 * 1024, stride = 1;
    int seeds = 2;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image-size") && i + 1 < argc) {
            if (!otto_parse_size(argv[++i], &image_size) || image_size > 1024 * 1024) {
                fprintf(stderr, "--image-size: up to 1M\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--stride") && i + 1 < argc) {
            stride = strtoull(argv[++i], NULL, 0);
            if (!stride) stride = 1;
        } else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
            chunk = strtoul(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else {
            fprintf(stderr, "usage: powercut_sweep [--image-size N] [--seeds K] [--stride S] [--chunk N] [-v]\n");
            return 2;
        }
    }
    /* the largest image must fit a 1 MiB slot */
    uint32_t isz = (uint32_t)(image_size >= 1024 * 1024 ? 1024 * 1024 - 4096 : image_size);
    size_t lf, l1, l2;
    uint8_t *factory = fx_image("1.0.0", 0, isz, 0, &lf);
    uint8_t *v11 = fx_image("1.1.0", 1, isz, 0, &l1);
    uint8_t *v12 = fx_image("1.2.0", 1, isz, OTTO_APP_FLAG_SELFTEST_FAIL, &l2);
    add_known(factory, lf, 0);
    add_known(v11, l1, 1);
    add_known(v12, l2, 1);

    otto_simdev_t d;
    if (fx_provision(&d, factory, lf)) {
        fprintf(stderr, "provisioning failed\n");
        return 1;
    }
    scenario_t confirm = {"confirm", v11, l1, "1.1.0", 0};
    scenario_t rollback = {"rollback", v12, l2, "1.2.0", 1};
    snapshot_t s0, s1;
    outcome_t o;
    snap_take(&d, &s0);
    if (run(&d, &confirm, &o) != 0) {
        printf("setup failed: %s\n", o.why);
        return 1;
    }
    snap_take(&d, &s1);

    printf("power-cut sweep: image %u bytes, chunk %zu, modes before/after/torn x%d, stride %" PRIu64 "\n",
           (unsigned)lf, chunk, seeds, stride);
    clock_t t0 = clock();
    tally_t tc = {0}, tr = {0};
    uint64_t nc = 0, nr = 0;
    sweep(&d, &confirm, &s0, seeds, stride, &tc, &nc);
    sweep(&d, &rollback, &s1, seeds, stride, &tr, &nr);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;

    printf("\n| scenario | writes | cut points | runs | failed | max boots to settle | re-sent updates |\n");
    printf("|---|---|---|---|---|---|---|\n");
    printf("| confirm | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
           nc, (nc + stride - 1) / stride, tc.runs, tc.failed, tc.max_boots, tc.reinstalls);
    printf("| rollback | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
           nr, (nr + stride - 1) / stride, tr.runs, tr.failed, tr.max_boots, tr.reinstalls);
    printf("\ncut points tried: %" PRIu64 ", runs: %" PRIu64 ", failed: %" PRIu64 " (%.1f s)\n",
           (nc + nr + stride - 1) / stride, tc.runs + tr.runs, tc.failed + tr.failed, secs);
    printf("max erases of one sector in a run: %u\n", tc.max_wear > tr.max_wear ? tc.max_wear : tr.max_wear);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", tc.runs + tr.runs - tc.failed - tr.failed,
           tc.failed + tr.failed);
    otto_simdev_close(&d);
    free(s0.flash);
    free(s1.flash);
    free(factory);
    free(v11);
    free(v12);
    return (tc.failed + tr.failed) ? 1 : 0;
}
