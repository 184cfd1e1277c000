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
 *
 * --secure-boot KEY.pem: every image carries a Secure Boot v2 block KEY
 * signed and the eFuse holds KEY's digest, so esp_ota_end's and the
 * bootloader's signature checks run (and are cut around) too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "plan.h"
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
    otto_simflash_reset_faults(&d->sf);
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
    uint64_t runs[K_KINDS], failed[K_KINDS], max_boots, reinstalls;
    uint32_t max_wear;
    unsigned shown;
} tally_t;

/* One scenario's cuts, run on every core. */
static struct {
    otto_simdev_t *d;
    const scenario_t *sc;
    const snapshot_t *start;
    otto_op_t *log;
    cut_t *cuts;
    size_t ncuts;
    int seeds;
} cur;

static void one(size_t i, plan_result_t *pr, void *ctx)
{
    otto_simdev_t *d = cur.d;
    outcome_t o;
    const cut_t *c = &cur.cuts[i];
    (void)ctx;
    snap_restore(d, cur.start);
    otto_power_arm_tear(&d->power, c->at, (otto_cut_mode_t)c->mode, c->tear, c->at * 1000003u + i);
    int rc = run(d, cur.sc, &o);
    if (rc == 0 && d->sf.violations)
        rc = -1, snprintf(o.why, sizeof(o.why), "program over unerased flash");
    if (rc == 0 && !plan_landed(&d->power, 1, c->at, &cur.log[c->at - 1], o.why, sizeof o.why))
        rc = -1;
    pr->ok = rc == 0;
    pr->a = (uint64_t)o.boots;
    pr->b = (uint64_t)plan_kind(&cur.log[c->at - 1], c) | (o.installs > 1 ? 0x100u : 0);
    uint32_t wear = 0;
    for (uint32_t s = 0; s < d->sf.size / d->sf.sector; s++)
        wear = d->sf.wear[s] > wear ? d->sf.wear[s] : wear;
    pr->c = wear;
    snprintf(pr->why, sizeof pr->why, "%s", o.why);
}

static void collect(const plan_result_t *r, void *ctx)
{
    tally_t *t = ctx;
    int kind = (int)(r->b & 0xFF);
    const cut_t *c = &cur.cuts[r->id];
    t->runs[kind]++;
    t->failed[kind] += !r->ok;
    t->max_boots = r->a > t->max_boots ? r->a : t->max_boots;
    t->reinstalls += (r->b & 0x100u) != 0;
    t->max_wear = (uint32_t)r->c > t->max_wear ? (uint32_t)r->c : t->max_wear;
    if (!r->ok && t->shown++ < 20)
        printf("  FAIL %s cut at write %" PRIu64 " mode %s tear %u: %s\n", cur.sc->name, c->at,
               otto_cut_mode_name((otto_cut_mode_t)c->mode), c->tear, r->why);
    else if (verbose && r->ok)
        printf("  ok %s cut %" PRIu64 " %s/%u: %" PRIu64 " boots\n", cur.sc->name, c->at,
               otto_cut_mode_name((otto_cut_mode_t)c->mode), c->tear, r->a);
}

static void sweep(otto_simdev_t *d, const scenario_t *sc, const snapshot_t *start, int seeds,
                  uint64_t stride, bool quick, tally_t *t, uint64_t *ops_out)
{
    outcome_t o;
    static otto_op_t log[1u << 20];
    snap_restore(d, start);
    d->power.log = log;
    d->power.log_cap = sizeof log / sizeof *log;
    if (run(d, sc, &o) != 0) {
        printf("  %s: clean run FAILED: %s\n", sc->name, o.why);
        t->failed[K_CLEAN]++;
        return;
    }
    uint64_t n = d->power.ops;
    *ops_out = n;
    printf("  %-8s clean run: %" PRIu64 " flash/eFuse writes (%" PRIu64 " programs, %" PRIu64
           " erases, %" PRIu64 " eFuse burns)\n", sc->name, n, d->power.programs, d->power.erases,
           d->power.burns);
    cut_t *cuts;
    size_t nc = plan_cuts(log, n, stride, quick, &cuts);
    /* Random tears as well, with several seeds: they land anywhere in the op. */
    cuts = realloc(cuts, (nc + (size_t)((n + stride - 1) / stride) * (size_t)seeds) * sizeof *cuts);
    for (uint64_t at = 1; at <= n; at += stride)
        for (int k = 0; k < seeds; k++)
            cuts[nc++] = (cut_t){at, OTTO_CUT_TORN, 0};
    cur = (typeof(cur)){d, sc, start, log, cuts, nc, seeds};
    if (plan_parallel(nc, plan_workers(), one, NULL, collect, t)) {
        printf("  FAIL %s: a worker died or results went missing\n", sc->name);
        t->failed[K_CLEAN]++;
    }
    free(cuts);
}

int main(int argc, char **argv)
{
    uint64_t image_size = 48 * 1024, stride = 1;
    int seeds = 2;
    const char *sb_key = NULL;
    bool quick = false;

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
        } else if (!strcmp(argv[i], "--secure-boot") && i + 1 < argc) {
            sb_key = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            quick = true;
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else {
            fprintf(stderr, "usage: powercut_sweep [--image-size N] [--seeds K] [--stride S] [--chunk N] [--quick]\n"
                            "                      [--secure-boot KEY.pem] [-v]\n");
            return 2;
        }
    }
    /* the largest image must fit a 1 MiB slot */
    uint32_t isz = (uint32_t)(image_size >= 1024 * 1024 ? 1024 * 1024 - 4096 : image_size);
    size_t lf, l1, l2;
    uint8_t *factory = fx_image("1.0.0", 0, isz, 0, &lf);
    uint8_t *v11 = fx_image("1.1.0", 1, isz, 0, &l1);
    uint8_t *v12 = fx_image("1.2.0", 1, isz, OTTO_APP_FLAG_SELFTEST_FAIL, &l2);
    add_known(factory, lf, 0); /* by the image's own hash: the same signed or not */
    add_known(v11, l1, 1);
    add_known(v12, l2, 1);
    if (sb_key) {
        uint8_t **imgs[3] = {&factory, &v11, &v12};
        size_t *lens[3] = {&lf, &l1, &l2};
        for (int k = 0; k < 3; k++) {
            size_t n;
            uint8_t *s = fx_sign_sbv2(*imgs[k], *lens[k], sb_key, &n);
            if (!s) {
                fprintf(stderr, "--secure-boot %s: cannot sign with it\n", sb_key);
                return 2;
            }
            free(*imgs[k]);
            *imgs[k] = s;
            *lens[k] = n;
        }
    }

    otto_simdev_t d;
    if (fx_provision(&d, factory, lf)) {
        fprintf(stderr, "provisioning failed\n");
        return 1;
    }
    if (sb_key) {
        if (otto_simdev_secure_boot_key(&d, sb_key) || !d.plat.secure_boot) {
            fprintf(stderr, "--secure-boot %s: cannot burn its digest\n", sb_key);
            return 2;
        }
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
    if (sb_key) {
        /* The premise: with the key in eFuse, an image without its block is
         * refused, so the checks the sweep cuts around do run. */
        size_t lu;
        uint8_t *u = fx_image("1.1.0", 1, isz, 0, &lu);
        int err = otto_simdev_install(&d, u, lu, chunk, OTTO_OTA_SEQUENTIAL);
        free(u);
        snap_restore(&d, &s1);
        if (err != OTTO_E_SIGNATURE) {
            printf("premise failed: an unsigned image under Secure Boot gave '%s'\n", otto_strerror(err));
            return 1;
        }
        printf("Secure Boot v2 on: every image carries a block; an unsigned one is refused (%s)\n",
               otto_strerror(err));
    }

    printf("power-cut sweep: image %u bytes, chunk %zu, every mode of the power-fail bar%s + %d random tears "
           "a write, stride %" PRIu64 ", %d workers\n", (unsigned)lf, chunk, quick ? " (quick)" : "", seeds, stride,
           plan_workers());
    uint64_t t0 = otto_mono_ms();
    tally_t tc, tr;
    memset(&tc, 0, sizeof tc);
    memset(&tr, 0, sizeof tr);
    uint64_t nc = 0, nr = 0;
    sweep(&d, &confirm, &s0, seeds, stride, quick, &tc, &nc);
    sweep(&d, &rollback, &s1, seeds, stride, quick, &tr, &nr);
    double secs = (double)(otto_mono_ms() - t0) / 1000.0;

    uint64_t runs = 0, failed = 0;
    printf("\n| cut | confirm runs | failed | rollback runs | failed |\n|---|---|---|---|---|\n");
    for (int k = 0; k < K_KINDS; k++) {
        if (!tc.runs[k] && !tr.runs[k])
            continue;
        printf("| %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
               plan_kind_names[k], tc.runs[k], tc.failed[k],
               tr.runs[k], tr.failed[k]);
        runs += tc.runs[k] + tr.runs[k];
        failed += tc.failed[k] + tr.failed[k];
    }
    printf("\nwrites: confirm %" PRIu64 ", rollback %" PRIu64 "; runs: %" PRIu64 ", failed: %" PRIu64
           " (%.1f s); every cut landed on its planned op unless a FAIL line says otherwise\n", nc, nr, runs, failed,
           secs);
    printf("max boots to settle: %" PRIu64 "; re-sent updates: %" PRIu64 "; max erases of one sector in a run: %u\n",
           tc.max_boots > tr.max_boots ? tc.max_boots : tr.max_boots, tc.reinstalls + tr.reinstalls,
           tc.max_wear > tr.max_wear ? tc.max_wear : tr.max_wear);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", runs - failed, failed);
    otto_simdev_close(&d);
    free(s0.flash);
    free(s1.flash);
    free(factory);
    free(v11);
    free(v12);
    return failed ? 1 : 0;
}
