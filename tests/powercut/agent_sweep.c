/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power cuts across the agent's whole update: job accepted, download and
 * flash writes, checkpoints in the key-value store, verification, the slot
 * switch, the reboot, the bootloader, the self-test, the confirmation and
 * the eFuse raise. A clean run counts every flash/eFuse operation; then the
 * update is re-run with the power cut at operation k (before, after or torn)
 * for every k (or every --stride'th). After each cut the device boots from
 * what its flash holds, its agent resumes, and the run must end with the job
 * SUCCEEDED, the new image running and confirmed, the eFuse raised, and no
 * NOR rule broken.
 *
 * The cuts are those of the power-fail bar (plan.h: every mode that applies
 * to each op, every tear point of small metadata writes), and each run
 * proves its cut: it must land on the op the clean run had at that number.
 * --double adds, for every metadata op, a second cut at every op of the
 * recovery from the first (clean and mid-record tears; the recovery is the
 * first --recovery ops after power comes back, 50 by default); --storms N runs N
 * seeds of up to 10 cuts each, many early in each recovery; --rot N flips
 * one bit of the kv partition, otadata or the new image's slot before a
 * boot, N seeds each. Every run must also fetch again at most one
 * checkpoint interval plus the chunk in flight (two intervals when the cut
 * tore the store), and report the job exactly once.
 *
 * The device is the real agent on a simulated module; the network side is
 * played in-process by a small model of ottod's job API and a Range-capable
 * file server (the end-to-end tests use the real ones).
 *
 * --from-v0 STATE DATA starts from the flash a version-0 agent (raw-struct
 * records) left part way through a job (tests/data/records-v0), so every
 * run checks that today's agent finishes and reports that update.
 *
 *   agent_sweep [--image-size N] [--stride N] [--chunk N] [--chaos] [--mcu N]
 *               [--quick] [--double] [--storms N] [--rot N] [--jobs N]
 *               [--from-v0 downloading|switched|relaying DATA_DIR]
 * --chaos delivers every MQTT message twice and the pending ones newest
 * first: duplicated and reordered notifications and replies.
 * --mcu N adds an stm32 entry of N bytes: the module has an emulated STM32
 * (sim/stm32.c, on a real pty) behind its UART, and the cuts then also land
 * in the MCU image's staging and the relay's progress records; each run
 * must also end with the MCU holding exactly the new image.
 * Prints cut points, failures (must be 0), and the bytes downloaded again.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_world.h"
#include "fixtures.h"
#include "partcsv.h"
#include "plan.h"
#include "otto/agent.h"
#include "otto/kv.h"
#include "otto/image.h"
#include "stm32.h"
#include "uart.h"
#include "util.h"

static bool chaos;
static bool sweep_allow_unsigned; /* --from-v0: the old records carry no signature */

/* The MCU behind the module, when --mcu. */
static struct {
    bool on;
    sim_stm32_t emu;
    otto_linux_uart_t line;
    otto_uart_t inner, uart;
    const uint8_t *img;
    uint32_t size;
} mcu;

static void mcu_bootloader(void *ctx) { (void)ctx; sim_stm32_reset(&mcu.emu); }

/* The module's UART: dead without power. */
static const otto_power_t *uart_power;
static int u_write(void *ctx, const void *b, size_t n)
{
    (void)ctx;
    return uart_power->off ? OTTO_E_IO : mcu.inner.write(mcu.inner.ctx, b, n);
}
static int u_read(void *ctx, void *b, size_t n, uint32_t ms)
{
    (void)ctx;
    return uart_power->off ? OTTO_E_IO : mcu.inner.read(mcu.inner.ctx, b, n, ms);
}

typedef struct {
    bool ok;
    uint64_t served;
    otto_power_t power; /* how the cuts landed */
    bool detected;      /* rot: found, the job FAILED with the old image running */
    char why[200];
} result_t;

#define CHECKPOINT 8192u

/* One update from the factory image, with the power cut at each of cuts[]
 * in turn: the first counted from the start, each next one from the moment
 * power came back. rot_region >= 0: flip a bit there before the first boot
 * after the job's image was switched to. log: record the ops (clean run). */
typedef struct {
    const uint8_t *factory, *img;
    size_t flen;
    uint32_t size, chunk;
    const char *doc;
    const char *from_v0; /* start from a job a version-0 agent left: downloading, switched, relaying */
    const char *data;    /* where tests/data is */
} setup_t;

static bool nvs_untouched(const otto_simdev_t *d, const otto_part_t *p)
{
    uint64_t rng = 0xA11CE;
    for (uint32_t i = 0; i < p->size; i++)
        if (d->sf.mem[p->offset + i] != (uint8_t)otto_xorshift64(&rng))
            return false;
    return true;
}

static int read_hex(const char *path, uint8_t *out, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    unsigned v;
    *len = 0;
    if (!f)
        return -1;
    while (*len < cap && fscanf(f, "%2x", &v) == 1)
        out[(*len)++] = (uint8_t)v;
    fclose(f);
    return 0;
}

/* The flash and server as a version-0 agent left them, part way through
 * the job (tests/data/records-v0: its "job" record, frozen as that agent
 * wrote it; the slot, store and MCU hold what it had written by then). */
static int setup_v0(const setup_t *su, otto_simdev_t *d, world_t *w, char *why, size_t cap)
{
    char path[600];
    uint8_t rec[2048];
    size_t len;
    otto_kv_t kv;
    snprintf(path, sizeof path, "%s/records-v0/job-%s.hex", su->data, su->from_v0);
    if (read_hex(path, rec, sizeof rec, &len) || len != 920) {
        snprintf(why, cap, "cannot read the frozen record job-%.40s.hex", su->from_v0);
        return -1;
    }
    const otto_part_t *kvp = otto_part_store(&d->table), *slot = fx_part(d, "ota_0"), *mf = fx_part(d, "mcufw");
    if (!kvp || strcmp(kvp->label, "nvs") || otto_kv_mount(&kv, &d->flash, kvp->offset, kvp->size, true, NULL) ||
        otto_kv_set_blob(&kv, "job", rec, len))
        return -1;
    w->status = 1; /* IN_PROGRESS, at the version the old agent last saw */
    if (!strcmp(su->from_v0, "downloading")) {
        w->version = 3;
        otto_simdev_flash_raw(d, slot->offset, su->img, 16384);
        return otto_kv_set_int(&kv, "off", 16384);
    }
    if (!strcmp(su->from_v0, "switched")) {
        w->version = 6;
        otto_simdev_flash_raw(d, slot->offset, su->img, su->size);
        if (otto_simdev_boot(d))
            return -1;
        return otto_ota_set_boot(&d->ota, slot);
    }
    if (!strcmp(su->from_v0, "relaying") && mcu.on) {
        /* The relay's v0 "mcu" record: u8 phase (2, write), 3 bytes of
         * padding, u32 next (4096), u32 size: the MCU has its pages erased
         * and [256, 4096) written; the first block is still blank. */
        uint8_t st[12] = {2, 0, 0, 0, 0x00, 0x10, 0, 0};
        st[8] = (uint8_t)mcu.size;
        st[9] = (uint8_t)(mcu.size >> 8);
        st[10] = (uint8_t)(mcu.size >> 16);
        w->version = 5;
        otto_simdev_flash_raw(d, mf->offset, mcu.img, mcu.size);
        memset(mcu.emu.flash, 0xFF, mcu.size + 4096u);
        memcpy(mcu.emu.flash + 256, mcu.img + 256, 4096 - 256);
        return otto_kv_set_blob(&kv, "mcu", st, sizeof st);
    }
    snprintf(why, cap, "no version-0 state '%s'", su->from_v0);
    return -1;
}

static result_t update(const setup_t *su, const cut_t *cuts, int ncuts, int rot_region, uint64_t rot_seed,
                       otto_op_t *log, uint64_t log_cap, uint64_t *ops_out)
{
    static otto_simdev_t d;
    static otto_agent_t a;
    static otto_kv_t kv;
    static world_t w;
    result_t r;
    memset(&r, 0, sizeof r);
    memset(&w, 0, sizeof w);
    w.img = su->img;
    w.size = su->size;
    w.mimg = mcu.img;
    w.msize = mcu.size;
    if (mcu.on) { /* the MCU runs its old firmware */
        sim_stm32_reset(&mcu.emu);
        memset(mcu.emu.flash, 0x5A, mcu.size + 4096u);
    }
    w.power = &d.power;
    w.version = 1;
    w.chaos = chaos;
    uart_power = &d.power;
    /* Signatures required, as on a product; the version-0 jobs (frozen
     * before signatures existed) carry none, so those runs allow them. */
    const agent_world_opts_t wo = {su->chunk, mcu.on ? &mcu.uart : NULL, mcu.on ? mcu_bootloader : NULL,
                                   sweep_allow_unsigned, false};
    if ((size_t)snprintf(w.doc, sizeof w.doc, "%s", su->doc) >= sizeof w.doc)
        abort(); /* a truncated document would test nothing */
    /* A version-0 device keeps its table: otto's kv in nvs. Otherwise the
     * app's nvs holds the app's own data, which otto must never touch. */
    if (fx_provision_csv(&d, su->from_v0 ? fx_layout_v0 : otto_partcsv_default_layout, su->factory, su->flen)) {
        snprintf(r.why, sizeof r.why, "provision failed");
        return r;
    }
    const otto_part_t *app_nvs = su->from_v0 ? NULL : fx_part(&d, "nvs");
    if (app_nvs) {
        uint64_t rng = 0xA11CE;
        for (uint32_t i = 0; i < app_nvs->size; i++)
            d.sf.mem[app_nvs->offset + i] = (uint8_t)otto_xorshift64(&rng);
    }
    if (su->from_v0) {
        if (setup_v0(su, &d, &w, r.why, sizeof r.why)) {
            if (!r.why[0])
                snprintf(r.why, sizeof r.why, "setting up the version-0 state failed");
            otto_simdev_close(&d);
            return r;
        }
        otto_power_init(&d.power); /* ops count from here */
    }
    d.power.log = log;
    d.power.log_cap = log_cap;
    int next = 0;
    if (ncuts)
        otto_power_arm_tear(&d.power, cuts[0].at, (otto_cut_mode_t)cuts[0].mode, cuts[0].tear,
                            cuts[0].at * 7919u + cuts[0].mode * 31u + cuts[0].tear);
    next = ncuts ? 1 : 0;
    int rc = 0;
    bool rotted = false;
    for (int boots = 0; boots < 16 && rc == 0; boots++) {
        if (rot_region >= 0 && !rotted && w.reboot) {
            /* Rot strikes while the device is off, before the boot into the new image. */
            const char *label = rot_region == 1 ? "otadata" : "ota_0";
            const otto_part_t *p = rot_region == 0 ? otto_part_store(&d.table) : fx_part(&d, label);
            uint32_t at = otto_simflash_rot(&d.sf, p->offset, rot_region == 2 ? su->size : p->size, rot_seed);
            if (getenv("SWEEP_DEBUG"))
                fprintf(stderr, "rot %s at 0x%x\n", label, at);
            rotted = true;
        }
        rc = agent_world_boot(&d, &w, &a, &kv, &wo);
        if (d.power.off) {
            otto_power_restore(&d.power);
            if (next < ncuts) {
                const cut_t *c = &cuts[next++];
                otto_power_arm_tear(&d.power, c->at, (otto_cut_mode_t)c->mode, c->tear,
                                    c->at * 7919u + c->mode * 31u + c->tear + (uint64_t)next);
            }
        }
    }
    if (ops_out)
        *ops_out = d.power.ops;
    r.served = w.served;
    r.power = d.power;
    uint32_t state = 0, fuse = 0;
    otto_image_info_t self;
    otto_ota_running_state(&d.ota, &state);
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    otto_image_read_head(&d.flash, d.boot.part->offset, d.boot.part->size, &self);
    if (rc != 1)
        snprintf(r.why, sizeof r.why, "device stuck (agent %s, job %s)", otto_agent_phase(&a), agent_world_status(&w));
    else if (w.finals != 1)
        snprintf(r.why, sizeof r.why, "the job was reported %u times", w.finals);
    else if (rot_region >= 0 && w.status == 3 && (state == OTTO_IMG_VALID || state == OTTO_IMG_UNDEFINED) &&
             !strcmp(self.desc.version, "1.0.0"))
        r.ok = r.detected = true; /* the rot was found: the old image runs, the job says why */
    else if (w.status != 2)
        snprintf(r.why, sizeof r.why, "job ended %s (%s, last error %s)", agent_world_status(&w), w.reason,
                 otto_strerror(a.last_err));
    else if (strcmp(self.desc.version, "1.1.0") || state != OTTO_IMG_VALID)
        snprintf(r.why, sizeof r.why, "running %s in state %u", self.desc.version, state);
    else if (fuse != 1)
        snprintf(r.why, sizeof r.why, "eFuse %u", fuse);
    else if (app_nvs && !nvs_untouched(&d, app_nvs))
        snprintf(r.why, sizeof r.why, "the application's nvs partition changed");
    else if (d.sf.violations)
        snprintf(r.why, sizeof r.why, "%llu NOR violations", (unsigned long long)d.sf.violations);
    else if (mcu.on && memcmp(mcu.emu.flash, mcu.img, mcu.size))
        snprintf(r.why, sizeof r.why, "the MCU does not hold the new image");
    else if (mcu.on && strcmp(a.mcu_version, "2.0.0"))
        snprintf(r.why, sizeof r.why, "the agent says the MCU runs '%s'", a.mcu_version);
    else if (!su->from_v0 && (a.trust.n != 2 || a.trust.key[1][1] != 0x0F))
        snprintf(r.why, sizeof r.why, "the job's key update is not stored (%u keys)", a.trust.n);
    else
        r.ok = true;
    if (rot_region >= 0 && r.ok && w.served > su->size + mcu.size)
        r.detected = true; /* found by the checks on resume: the image was fetched again */
    otto_simdev_close(&d);
    return r;
}

/* ---- the sweep ---------------------------------------------------------- */

static struct {
    setup_t su;
    otto_op_t *log;   /* the clean run's ops */
    uint64_t total;
    uint32_t kv_off, kv_end;
    cut_t *cuts;      /* single cuts */
    size_t ncuts;
    cut_t (*pairs)[2]; /* double cuts */
    size_t npairs;
    unsigned storms, rots;
} sw;

/* What may be fetched again after a cut: one checkpoint interval and the
 * chunk in flight per image, two intervals when the store's record was torn. */
static uint64_t refetch_bound(const cut_t *c, int n)
{
    uint64_t per = CHECKPOINT + sw.su.chunk, images = mcu.on ? 2 : 1;
    for (int i = 0; i < n; i++) {
        const otto_op_t *op = i == 0 && c[0].at <= sw.total ? &sw.log[c[0].at - 1] : NULL;
        if (!op || (op->off >= sw.kv_off && op->off < sw.kv_end))
            per += CHECKPOINT;
    }
    return per * images;
}

typedef struct {
    uint64_t runs[K_KINDS], failed[K_KINDS];
    uint64_t doubles, double_failed, storms, storm_failed, rot_runs, rot_failed, rot_detected;
    uint64_t extra, worst, cuts_landed;
    unsigned shown;
} tally_t;

enum { JOB_SINGLE, JOB_DOUBLE, JOB_STORM, JOB_ROT };

static void job_of(size_t i, int *kind, size_t *k)
{
    if (i < sw.ncuts) {
        *kind = JOB_SINGLE, *k = i;
    } else if ((i -= sw.ncuts) < sw.npairs) {
        *kind = JOB_DOUBLE, *k = i;
    } else if ((i -= sw.npairs) < sw.storms) {
        *kind = JOB_STORM, *k = i;
    } else {
        *kind = JOB_ROT, *k = i - sw.storms;
    }
}

static void one(size_t i, plan_result_t *pr, void *ctx)
{
    int kind;
    size_t k;
    cut_t storm[10];
    (void)ctx;
    job_of(i, &kind, &k);
    result_t r;
    if (kind == JOB_SINGLE) {
        const cut_t *c = &sw.cuts[k];
        r = update(&sw.su, c, 1, -1, 0, NULL, 0, NULL);
        if (r.ok && !plan_landed(&r.power, 1, c->at, &sw.log[c->at - 1], r.why, sizeof r.why))
            r.ok = false;
        uint64_t again = r.served > sw.su.size + mcu.size ? r.served - sw.su.size - mcu.size : 0;
        if (r.ok && again > refetch_bound(c, 1)) {
            r.ok = false;
            snprintf(r.why, sizeof r.why, "fetched %llu bytes again (bound %llu)", (unsigned long long)again,
                     (unsigned long long)refetch_bound(c, 1));
        }
        pr->a = again;
        pr->b = (uint64_t)plan_kind(&sw.log[c->at - 1], c);
    } else if (kind == JOB_DOUBLE) {
        r = update(&sw.su, sw.pairs[k], 2, -1, 0, NULL, 0, NULL);
        if (r.ok && !plan_landed(&r.power, 2, 0, NULL, r.why, sizeof r.why))
            r.ok = false;
        uint64_t again = r.served > sw.su.size + mcu.size ? r.served - sw.su.size - mcu.size : 0;
        if (r.ok && again > refetch_bound(sw.pairs[k], 2)) {
            r.ok = false;
            snprintf(r.why, sizeof r.why, "fetched %llu bytes again after two cuts", (unsigned long long)again);
        }
        pr->a = again;
    } else if (kind == JOB_STORM) {
        /* Up to 10 cuts, geometric spacing: most land early in a recovery. */
        uint64_t rng = 0xC0FFEEull + k * 0x9E3779B97F4A7C15ull;
        int n = 1 + (int)(otto_xorshift64(&rng) % 10u);
        for (int j = 0; j < n; j++) {
            uint64_t span = j == 0 ? sw.total : 4u << (otto_xorshift64(&rng) % 7u);
            storm[j].at = 1 + otto_xorshift64(&rng) % span;
            storm[j].mode = (uint8_t)(otto_xorshift64(&rng) % 3u); /* before, after, torn */
            storm[j].tear = 0;
        }
        r = update(&sw.su, storm, n, -1, 0, NULL, 0, NULL);
        pr->c = r.power.landed;
        if (r.ok && r.power.landed == 0)
            r.ok = false, snprintf(r.why, sizeof r.why, "no cut of the storm landed");
    } else {
        r = update(&sw.su, NULL, 0, (int)(k % 3u), 0x5EED0000u + k, NULL, 0, NULL);
        pr->c = r.detected;
    }
    pr->ok = r.ok;
    snprintf(pr->why, sizeof pr->why, "%s", r.why);
}

static void collect(const plan_result_t *r, void *ctx)
{
    tally_t *t = ctx;
    int kind;
    size_t k;
    job_of(r->id, &kind, &k);
    if (kind == JOB_SINGLE) {
        t->runs[r->b]++;
        t->failed[r->b] += !r->ok;
        t->extra += r->a;
        t->worst = r->a > t->worst ? r->a : t->worst;
    } else if (kind == JOB_DOUBLE) {
        t->doubles++;
        t->double_failed += !r->ok;
        t->extra += r->a;
        t->worst = r->a > t->worst ? r->a : t->worst;
    } else if (kind == JOB_STORM) {
        t->storms++;
        t->storm_failed += !r->ok;
        t->cuts_landed += r->c;
    } else {
        t->rot_runs++;
        t->rot_failed += !r->ok;
        t->rot_detected += r->c;
    }
    if (!r->ok && t->shown++ < 12) {
        if (kind == JOB_SINGLE)
            printf("  FAIL cut at op %llu (%s, tear %u): %s\n", (unsigned long long)sw.cuts[k].at,
                   otto_cut_mode_name((otto_cut_mode_t)sw.cuts[k].mode), sw.cuts[k].tear, r->why);
        else if (kind == JOB_DOUBLE)
            printf("  FAIL cut at op %llu (%s, tear %u) then %llu ops into the recovery (%s): %s\n",
                   (unsigned long long)sw.pairs[k][0].at, otto_cut_mode_name((otto_cut_mode_t)sw.pairs[k][0].mode),
                   sw.pairs[k][0].tear, (unsigned long long)sw.pairs[k][1].at,
                   otto_cut_mode_name((otto_cut_mode_t)sw.pairs[k][1].mode), r->why);
        else
            printf("  FAIL %s %zu: %s\n", kind == JOB_STORM ? "storm" : "rot", k, r->why);
    }
}

int main(int argc, char **argv)
{
    uint64_t size = 48 * 1024, stride = 1, chunk = 4096, msize = 0, storms = 0, rots = 0, jobs = 0, recovery = 50;
    bool quick = false, dbl = false;
    const char *from_v0 = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chaos")) {
            chaos = true;
            continue;
        }
        if (!strcmp(argv[i], "--quick")) {
            quick = true;
            continue;
        }
        if (!strcmp(argv[i], "--double")) {
            dbl = true;
            continue;
        }
        if (!strcmp(argv[i], "--from-v0") && i + 2 < argc) {
            from_v0 = argv[++i];
            data = argv[++i];
            continue;
        }
        uint64_t *v = !strcmp(argv[i], "--image-size") ? &size : !strcmp(argv[i], "--stride") ? &stride
                    : !strcmp(argv[i], "--chunk") ? &chunk : !strcmp(argv[i], "--mcu") ? &msize
                    : !strcmp(argv[i], "--storms") ? &storms : !strcmp(argv[i], "--rot") ? &rots
                    : !strcmp(argv[i], "--jobs") ? &jobs : !strcmp(argv[i], "--recovery") ? &recovery : NULL;
        if (!v || i + 1 >= argc || !otto_parse_size(argv[++i], v) || (!*v && v != &storms && v != &rots)) {
            fprintf(stderr, "usage: agent_sweep [--image-size N] [--stride N] [--chunk N] [--chaos] [--mcu N]\n"
                            "                   [--quick] [--double] [--recovery N] [--storms N] [--rot N] [--jobs N]\n"
                            "                   [--from-v0 downloading|switched|relaying DATA_DIR]\n");
            return 2;
        }
    }
    size_t flen, ilen;
    uint8_t *factory = fx_image("1.0.0", 0, 16384, 0, &flen);
    uint8_t *img = fx_image("1.1.0", 1, (uint32_t)size, 0, &ilen);
    static char doc[1100];
    char dir[] = "/tmp/otto-sweep-XXXXXX", tty[64], mfile[64];
    uint8_t *mimg = NULL;
    if (msize) {
        /* An STM32 on a pty, and the job's stm32 entry. */
        uint64_t rng = 0x9E3779B97F4A7C15ull;
        mimg = malloc(msize);
        for (uint64_t i = 0; i < msize; i++)
            mimg[i] = (uint8_t)otto_xorshift64(&rng);
        memcpy(mimg, "\x00\x50\x00\x20\x01\x01\x00\x08", 8); /* SP, reset handler */
        if (!mkdtemp(dir))
            return 1;
        snprintf(tty, sizeof tty, "%s/tty", dir);
        snprintf(mfile, sizeof mfile, "%s/mcu.bin", dir);
        sim_stm32_init(&mcu.emu);
        if (sim_stm32_open(&mcu.emu, tty, mfile) || sim_stm32_start(&mcu.emu) ||
            otto_linux_uart_open(&mcu.line, tty, 115200))
            return 1;
        otto_linux_uart_hal(&mcu.line, &mcu.inner);
        mcu.uart = (otto_uart_t){NULL, u_write, u_read, NULL};
        mcu.on = true;
        mcu.img = mimg;
        mcu.size = (uint32_t)msize;
        jobs = 1; /* one emulated MCU, on a thread: no fork */
    }
    if (agent_world_doc(doc, sizeof doc, img, ilen, mimg, msize))
        return 1;
    sw.su = (setup_t){factory, img, flen, (uint32_t)ilen, (uint32_t)chunk, doc, from_v0, data};
    sweep_allow_unsigned = from_v0 != NULL;

    uint64_t cap = 1u << 20;
    sw.log = calloc(cap, sizeof *sw.log);
    result_t clean = update(&sw.su, NULL, 0, -1, 0, sw.log, cap, &sw.total);
    if (!clean.ok) {
        fprintf(stderr, "agent_sweep: the clean update fails: %s\n", clean.why);
        return 1;
    }
    if (from_v0) {
        /* The premise: today's agent picked the old job up where the old
         * agent left it, rather than starting it over. */
        uint64_t want = !strcmp(from_v0, "downloading") ? ilen - 16384 : !strcmp(from_v0, "switched") ? 0 : ilen;
        printf("clean run from the version-0 state fetched %llu bytes (expected %llu)\n",
               (unsigned long long)clean.served, (unsigned long long)want);
        if (clean.served != want) {
            fprintf(stderr, "agent_sweep: the version-0 job was not resumed where it was\n");
            return 1;
        }
    }
    if (sw.total > cap) {
        fprintf(stderr, "agent_sweep: more than %llu ops\n", (unsigned long long)cap);
        return 1;
    }
    {
        otto_simdev_t d;
        fx_provision(&d, factory, flen);
        const otto_part_t *kvp = otto_part_store(&d.table);
        sw.kv_off = kvp->offset;
        sw.kv_end = kvp->offset + kvp->size;
        otto_simdev_close(&d);
    }
    /* The cuts, proven on a first pass: each must land on the op the clean
     * run had at its number (the op numbering is the premise of it all). */
    sw.ncuts = plan_cuts(sw.log, sw.total, stride, quick, &sw.cuts);
    uint64_t meta = 0, prog = 0, erase = 0, burn = 0;
    for (uint64_t i = 0; i < sw.total; i++) {
        const otto_op_t *op = &sw.log[i];
        if (op->kind == OTTO_OP_ERASE) erase++;
        else if (op->kind == OTTO_OP_BURN) burn++;
        else if (op->len <= PLAN_META_MAX) meta++;
        else prog++;
    }
    if (dbl) {
        /* Every metadata op, cut clean or torn in the middle of its record,
         * then a second cut at every op of the recovery. */
        size_t cap2 = 4096;
        sw.pairs = malloc(cap2 * sizeof *sw.pairs);
        for (uint64_t at = 1; at <= sw.total; at += stride) {
            const otto_op_t *op = &sw.log[at - 1];
            bool md = op->kind == OTTO_OP_BURN || (op->kind == OTTO_OP_PROGRAM && op->len <= PLAN_META_MAX) ||
                      (op->kind == OTTO_OP_ERASE && op->off >= sw.kv_off && op->off < sw.kv_end);
            if (!md)
                continue;
            cut_t firsts[2] = {{at, OTTO_CUT_BEFORE, 0},
                               {at, op->kind == OTTO_OP_PROGRAM ? OTTO_CUT_PROG_AT : OTTO_CUT_TORN, op->len / 2}};
            for (int f = 0; f < 2; f++) {
                uint64_t ops = 0;
                static otto_op_t rlog[1];
                result_t r1 = update(&sw.su, &firsts[f], 1, -1, 0, rlog, 0, &ops);
                if (!r1.ok)
                    continue; /* the single sweep reports it */
                uint64_t rec = ops - at; /* the cut op itself was counted */
                if (rec > recovery)
                    rec = recovery; /* the recovery: the ops right after power comes back */
                for (uint64_t j = 1; j <= rec; j++) {
                    if (sw.npairs == cap2)
                        sw.pairs = realloc(sw.pairs, (cap2 *= 2) * sizeof *sw.pairs);
                    sw.pairs[sw.npairs][0] = firsts[f];
                    sw.pairs[sw.npairs][1] = (cut_t){j, (uint8_t)(j % 2 ? OTTO_CUT_BEFORE : OTTO_CUT_TORN), 0};
                    sw.npairs++;
                }
            }
        }
    }
    sw.storms = (unsigned)storms;
    sw.rots = (unsigned)rots * 3u;
    if (from_v0)
        printf("from the state a version-0 agent left: %s\n", from_v0);
    printf("agent power-cut sweep: image %zu bytes%s, chunk %llu, checkpoint every %u, clean update = %llu "
           "flash/eFuse ops (%llu metadata programs, %llu bulk programs, %llu erases, %llu eFuse burns)%s\n",
           ilen, mcu.on ? " + an MCU image relayed over a pty" : "", (unsigned long long)chunk, CHECKPOINT,
           (unsigned long long)sw.total, (unsigned long long)meta, (unsigned long long)prog,
           (unsigned long long)erase, (unsigned long long)burn, chaos ? ", every message twice and newest first" : "");
    printf("runs: %zu single cuts%s, %zu double, %u storms, %u rot; %d workers\n", sw.ncuts,
           quick ? " (quick: metadata torn at 3 points)" : "", sw.npairs, sw.storms, sw.rots,
           jobs ? (int)jobs : plan_workers());
    fflush(stdout);

    double t0 = otto_mono_ms();
    tally_t t;
    memset(&t, 0, sizeof t);
    size_t n = sw.ncuts + sw.npairs + sw.storms + sw.rots;
    int prc = plan_parallel(n, jobs ? (int)jobs : plan_workers(), one, NULL, collect, &t);
    double secs = (otto_mono_ms() - t0) / 1000.0;
    uint64_t runs = 0, failed = 0;
    printf("\n| cut | runs | failed |\n|---|---|---|\n");
    for (int k = 0; k < K_KINDS; k++) {
        if (!t.runs[k])
            continue;
        printf("| %s | %llu | %llu |\n", plan_kind_names[k], (unsigned long long)t.runs[k],
               (unsigned long long)t.failed[k]);
        runs += t.runs[k];
        failed += t.failed[k];
    }
    if (t.doubles)
        printf("| double: metadata cut (clean, mid-record), then a cut at each of the next %llu ops | %llu | %llu |\n",
               (unsigned long long)recovery,
               (unsigned long long)t.doubles, (unsigned long long)t.double_failed);
    if (t.storms)
        printf("| storms of 1-10 cuts (%llu cuts landed) | %llu | %llu |\n", (unsigned long long)t.cuts_landed,
               (unsigned long long)t.storms, (unsigned long long)t.storm_failed);
    if (t.rot_runs)
        printf("| a flipped bit in kv, otadata or the new slot before a boot (%llu detected: fetched again, or "
               "the job FAILED with the old image running; the rest harmless) | %llu | %llu |\n", (unsigned long long)t.rot_detected,
               (unsigned long long)t.rot_runs, (unsigned long long)t.rot_failed);
    failed += t.double_failed + t.storm_failed + t.rot_failed;
    runs += t.doubles + t.storms + t.rot_runs;
    printf("\n%llu runs, %llu failed, %.1f s; every single cut landed on its planned op; "
           "%llu bytes downloaded again in all, worst single run %llu (a fresh start would refetch %zu)\n",
           (unsigned long long)runs, (unsigned long long)failed, secs, (unsigned long long)t.extra,
           (unsigned long long)t.worst, ilen + (size_t)msize);
    if (prc)
        printf("FAIL: a worker died or results went missing\n");
    if (mcu.on) {
        otto_linux_uart_close(&mcu.line);
        sim_stm32_close(&mcu.emu);
        unlink(mfile);
        rmdir(dir);
    }
    free(mimg);
    free(factory);
    free(img);
    return failed || prc ? 1 : 0;
}
