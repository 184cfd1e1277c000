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
 * The device is the real agent on a simulated module; the network side is
 * played in-process by a small model of ottod's job API and a Range-capable
 * file server (the end-to-end tests use the real ones).
 *
 *   agent_sweep [--image-size N] [--stride N] [--chunk N] [--chaos] [--mcu N]
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

#include "fixtures.h"
#include "otto/agent.h"
#include "otto/image.h"
#include "stm32.h"
#include "uart.h"
#include "util.h"

#define JOB "job-sweep"

static bool chaos;

/* The MCU behind the module, when --mcu. */
static struct {
    bool on;
    sim_stm32_t emu;
    otto_linux_uart_t line;
    otto_uart_t inner, uart;
    const uint8_t *img;
    uint32_t size;
} mcu;

typedef struct {
    /* server model */
    int status; /* 0 QUEUED, 1 IN_PROGRESS, 2 SUCCEEDED, 3 FAILED, 4 REJECTED */
    uint32_t version;
    char doc[600];
    char reason[64];
    /* message queue to the device */
    char q_topic[8][160];
    char q_payload[8][1200];
    int q_n;
    /* file server: http://fw/1 the module's image, http://fw/2 the MCU's */
    const uint8_t *img, *mimg, *cur;
    uint32_t size, msize, cur_size;
    bool http_on, head_sent;
    uint32_t pos, from;
    uint64_t served;
    /* device side */
    const otto_power_t *power;
    bool reboot;
    uint32_t clock;
} world_t;

static const char *const STATUS[] = {"QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"};

static void enqueue(world_t *w, const char *leaf, const char *payload)
{
    for (int copies = chaos ? 2 : 1; copies > 0; copies--) {
        if (w->q_n == 8)
            return; /* a lossy link drops it; the agent retries */
        snprintf(w->q_topic[w->q_n], sizeof w->q_topic[0], "$aws/things/dev/jobs/%s", leaf);
        snprintf(w->q_payload[w->q_n], sizeof w->q_payload[0], "%s", payload);
        w->q_n++;
    }
}

static void next_reply(world_t *w, const char *leaf)
{
    char p[1200];
    if (w->status >= 2)
        snprintf(p, sizeof p, "{\"timestamp\":1}");
    else
        snprintf(p, sizeof p, "{\"timestamp\":1,\"execution\":{\"jobId\":\"" JOB "\",\"status\":\"%s\","
                 "\"versionNumber\":%u,\"jobDocument\":%s}}", STATUS[w->status], w->version, w->doc);
    enqueue(w, leaf, p);
}

static int publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    world_t *w = ctx;
    (void)len;
    if (w->power->off)
        return OTTO_E_IO; /* no power, no radio */
    if (strstr(topic, "/jobs/$next/get")) {
        next_reply(w, "$next/get/accepted");
    } else if (strstr(topic, "/jobs/" JOB "/update")) {
        const char *s = strstr(payload, "\"status\":\"");
        const char *ev = strstr(payload, "\"expectedVersion\":");
        int to = -1;
        for (int i = 1; s && i < 5; i++)
            if (!strncmp(s + 10, STATUS[i], strlen(STATUS[i])) && s[10 + strlen(STATUS[i])] == '"')
                to = i;
        if (to < 0 || w->status >= 2)
            enqueue(w, JOB "/update/rejected", "{\"code\":\"InvalidStateTransition\"}");
        else if (ev && (uint32_t)atoi(ev + 18) != w->version)
            enqueue(w, JOB "/update/rejected", "{\"code\":\"VersionMismatch\"}");
        else {
            w->status = to;
            w->version++;
            const char *r = strstr(payload, "\"reason\":\"");
            if (r)
                snprintf(w->reason, sizeof w->reason, "%.*s", (int)strcspn(r + 10, "\""), r + 10);
            enqueue(w, JOB "/update/accepted", "{\"timestamp\":1}");
        }
    }
    return OTTO_OK; /* hello and anything else: nothing to answer */
}

static int http_get(void *ctx, const char *url, uint32_t from, const char *etag)
{
    world_t *w = ctx;
    (void)etag;
    bool m = strstr(url, "/2") != NULL;
    w->cur = m ? w->mimg : w->img;
    w->cur_size = m ? w->msize : w->size;
    w->http_on = true;
    w->head_sent = false;
    w->pos = w->from = from;
    return OTTO_OK;
}

static void http_cancel(void *ctx) { ((world_t *)ctx)->http_on = false; }
static void reboot(void *ctx) { ((world_t *)ctx)->reboot = true; }
static uint32_t now_ms(void *ctx) { return ((world_t *)ctx)->clock; }
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

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Boot, run the agent until the job ends or the power goes. Returns 1 when
 * the job is over, 0 to boot again, -1 on a stuck device. */
static int run_boot(otto_simdev_t *d, world_t *w, otto_agent_t *a, otto_kv_t *kv, uint32_t chunk)
{
    otto_app_outcome_t out;
    otto_image_info_t self;
    for (int i = 0; i < 3; i++) {
        if (otto_simdev_boot(d) || otto_simdev_app_start(d, &out))
            return d->power.off ? 0 : -1;
        if (out != OTTO_APP_ROLLED_BACK)
            break;
    }
    if (otto_image_read_head(&d->flash, d->boot.part->offset, d->boot.part->size, &self))
        return -1;
    const otto_part_t *nvs = otto_part_find(&d->table, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_NVS, NULL);
    if (otto_kv_mount(kv, &d->flash, nvs->offset, nvs->size, true, NULL))
        return d->power.off ? 0 : -1;
    static otto_agent_port_t port;
    port = (otto_agent_port_t){w, publish, http_get, http_cancel, reboot, now_ms, mcu.on ? mcu_bootloader : NULL,
                               NULL};
    otto_agent_config_t cfg = {"dev", "demo", &d->ota, kv, &port, 8192, 1000, NULL, "1.0.0", 0, 3, false, false};
    uart_power = &d->power;
    if (mcu.on)
        cfg.mcu_uart = &mcu.uart;
    if (otto_agent_init(a, &cfg, self.desc.version))
        return d->power.off ? 0 : -1;
    w->q_n = 0;
    w->http_on = false;
    w->reboot = false;
    otto_agent_connected(a);
    for (int idle = 0, steps = 0; steps < 100000; steps++) {
        if (d->power.off)
            return 0;
        if (w->reboot)
            return 0;
        if (w->q_n) {
            char t[160], p[1200];
            int k = chaos ? w->q_n - 1 : 0; /* chaos: newest first */
            strcpy(t, w->q_topic[k]);
            strcpy(p, w->q_payload[k]);
            memmove(w->q_topic + k, w->q_topic + k + 1, sizeof w->q_topic[0] * (size_t)(w->q_n - 1 - k));
            memmove(w->q_payload + k, w->q_payload + k + 1, sizeof w->q_payload[0] * (size_t)(w->q_n - 1 - k));
            w->q_n--;
            otto_agent_message(a, t, p, strlen(p));
            idle = 0;
        } else if (w->http_on && !w->head_sent) {
            w->head_sent = true;
            otto_agent_http_head(a, w->from ? 206 : 200, w->cur_size - w->from, w->from, "\"etag\"");
        } else if (w->http_on && w->pos < w->cur_size) {
            uint32_t n = w->cur_size - w->pos < chunk ? w->cur_size - w->pos : chunk;
            w->pos += n;
            w->served += n;
            otto_agent_http_data(a, w->cur + w->pos - n, n);
        } else if (w->http_on) {
            w->http_on = false;
            otto_agent_http_end(a, OTTO_OK);
        } else {
            if (w->status >= 2 && !otto_agent_busy(a))
                return 1;
            w->clock += 1000; /* let retries fire */
            otto_agent_tick(a);
            if (++idle > 200)
                return -1;
        }
    }
    return -1;
}

typedef struct {
    bool ok;
    uint64_t served;
    char why[160];
} result_t;

static result_t update(const uint8_t *factory, size_t flen, const uint8_t *img, uint32_t size,
                       const char *doc, uint32_t chunk, uint64_t cut_at, otto_cut_mode_t mode,
                       uint64_t *ops_out)
{
    static otto_simdev_t d;
    static otto_agent_t a;
    static otto_kv_t kv;
    static world_t w;
    result_t r = {false, 0, ""};
    memset(&w, 0, sizeof w);
    w.img = img;
    w.size = size;
    w.mimg = mcu.img;
    w.msize = mcu.size;
    if (mcu.on) { /* the MCU runs its old firmware */
        sim_stm32_reset(&mcu.emu);
        memset(mcu.emu.flash, 0x5A, mcu.size + 4096u);
    }
    w.power = &d.power;
    w.version = 1;
    snprintf(w.doc, sizeof w.doc, "%s", doc);
    if (fx_provision(&d, factory, flen)) {
        snprintf(r.why, sizeof r.why, "provision failed");
        return r;
    }
    if (cut_at)
        otto_power_arm(&d.power, cut_at, mode, cut_at * 7919u + (uint64_t)mode);
    int rc = 0;
    for (int boots = 0; boots < 10 && rc == 0; boots++) {
        rc = run_boot(&d, &w, &a, &kv, chunk);
        if (d.power.off)
            otto_power_restore(&d.power);
    }
    if (ops_out)
        *ops_out = d.power.ops;
    r.served = w.served;
    uint32_t state = 0, fuse = 0;
    otto_image_info_t self;
    otto_ota_running_state(&d.ota, &state);
    d.efuse.read_secure_version(d.efuse.ctx, &fuse);
    otto_image_read_head(&d.flash, d.boot.part->offset, d.boot.part->size, &self);
    if (rc != 1)
        snprintf(r.why, sizeof r.why, "device stuck (agent %s, job %s)", otto_agent_phase(&a), STATUS[w.status]);
    else if (w.status != 2)
        snprintf(r.why, sizeof r.why, "job ended %s (%s, last error %s)", STATUS[w.status], w.reason,
                 otto_strerror(a.last_err));
    else if (strcmp(self.desc.version, "1.1.0") || state != OTTO_IMG_VALID)
        snprintf(r.why, sizeof r.why, "running %s in state %u", self.desc.version, state);
    else if (fuse != 1)
        snprintf(r.why, sizeof r.why, "eFuse %u", fuse);
    else if (d.sf.violations)
        snprintf(r.why, sizeof r.why, "%llu NOR violations", (unsigned long long)d.sf.violations);
    else if (mcu.on && memcmp(mcu.emu.flash, mcu.img, mcu.size))
        snprintf(r.why, sizeof r.why, "the MCU does not hold the new image");
    else if (mcu.on && strcmp(a.mcu_version, "2.0.0"))
        snprintf(r.why, sizeof r.why, "the agent says the MCU runs '%s'", a.mcu_version);
    else
        r.ok = true;
    otto_simdev_close(&d);
    return r;
}

int main(int argc, char **argv)
{
    uint64_t size = 48 * 1024, stride = 1, chunk = 4096, msize = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chaos")) {
            chaos = true;
            continue;
        }
        uint64_t *v = !strcmp(argv[i], "--image-size") ? &size : !strcmp(argv[i], "--stride") ? &stride
                    : !strcmp(argv[i], "--chunk") ? &chunk : !strcmp(argv[i], "--mcu") ? &msize : NULL;
        if (!v || i + 1 >= argc || !otto_parse_size(argv[++i], v) || !*v) {
            fprintf(stderr, "usage: agent_sweep [--image-size N] [--stride N] [--chunk N] [--chaos] [--mcu N]\n");
            return 2;
        }
    }
    size_t flen, ilen;
    uint8_t *factory = fx_image("1.0.0", 0, 16384, 0, &flen);
    uint8_t *img = fx_image("1.1.0", 1, (uint32_t)size, 0, &ilen);
    uint8_t md5[16], sha[32];
    char m[33], s[65], doc[600];
    otto_md5(img, ilen, md5);
    otto_sha256(img, ilen, sha);
    hex(m, md5, 16);
    hex(s, sha, 32);
    int dl = snprintf(doc, sizeof doc, "{\"product\":\"demo\",\"firmware\":[{\"ota_type\":\"esp32\",\"url\":\"http://fw/1\","
                      "\"size\":%zu,\"md5\":\"%s\",\"sha256\":\"%s\",\"version\":\"1.1.0\",\"secure_version\":1}]}",
                      ilen, m, s);
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
        otto_md5(mimg, msize, md5);
        otto_sha256(mimg, msize, sha);
        hex(m, md5, 16);
        hex(s, sha, 32);
        snprintf(doc + dl - 2, sizeof doc - (size_t)dl + 2,
                 ",{\"ota_type\":\"stm32\",\"url\":\"http://fw/2\",\"size\":%llu,\"md5\":\"%s\","
                 "\"sha256\":\"%s\",\"version\":\"2.0.0\"}]}", (unsigned long long)msize, m, s);
    }

    uint64_t total = 0;
    result_t clean = update(factory, flen, img, (uint32_t)ilen, doc, (uint32_t)chunk, 0, OTTO_CUT_BEFORE, &total);
    if (!clean.ok) {
        fprintf(stderr, "agent_sweep: the clean update fails: %s\n", clean.why);
        return 1;
    }
    printf("agent power-cut sweep: image %zu bytes%s, chunk %llu, clean update = %llu flash/eFuse operations%s\n",
           ilen, mcu.on ? " + an MCU image relayed over a pty" : "", (unsigned long long)chunk,
           (unsigned long long)total, chaos ? ", every message twice and newest first" : "");
    unsigned points = 0, failed = 0;
    uint64_t extra = 0, worst = 0;
    for (uint64_t k = 1; k <= total; k += stride) {
        for (int mode = OTTO_CUT_BEFORE; mode <= OTTO_CUT_TORN; mode++) {
            result_t r = update(factory, flen, img, (uint32_t)ilen, doc, (uint32_t)chunk, k,
                                (otto_cut_mode_t)mode, NULL);
            points++;
            uint64_t again = r.served > ilen ? r.served - ilen : 0;
            extra += again;
            worst = again > worst ? again : worst;
            if (!r.ok) {
                failed++;
                if (failed <= 10)
                    printf("  FAIL cut at op %llu (%s): %s\n", (unsigned long long)k,
                           otto_cut_mode_name((otto_cut_mode_t)mode), r.why);
            }
        }
    }
    printf("\n| cut points | failed | bytes downloaded again (total) | worst single run |\n|---|---|---|---|\n");
    printf("| %u | %u | %llu | %llu |\n", points, failed, (unsigned long long)extra, (unsigned long long)worst);
    printf("%u cut points (every %llu-th op x before/after/torn), %u failed, %llu bytes downloaded again in all "
           "(a fresh start would refetch %zu per cut)\n",
           points, (unsigned long long)stride, failed, (unsigned long long)extra, ilen + (size_t)msize);
    if (mcu.on) {
        otto_linux_uart_close(&mcu.line);
        sim_stm32_close(&mcu.emu);
        unlink(mfile);
        rmdir(dir);
    }
    free(mimg);
    free(factory);
    free(img);
    return failed ? 1 : 0;
}
