/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Faults at every point of an MCU relay (device/relay.c) against the STM32
 * emulator on a real pseudo-terminal.
 *
 * Power cuts of the module: after the k-th byte it sends on the serial
 * line (every --stride'th k: mid-erase, mid-block, mid-read-back, mid-Go),
 * and at its k-th flash operation (every one: the relay's progress records
 * in the key-value store, torn). The module powers up again, resets the MCU
 * into its bootloader, and the relay resumes from the store.
 *
 * Power cuts of the MCU: at its k-th flash operation (every --mcu-stride'th
 * block programmed or page erased), left torn. The relay, still running,
 * sees the MCU fall silent and goes on as the agent does: the module
 * resets the MCU into its bootloader and steps again.
 *
 * Line faults: the k-th byte (every --line-stride'th) in each direction is
 * dropped, has a bit flipped, is sent twice, or has a byte put before it
 * (an ACK, towards the module). The relay goes on as above.
 *
 * Whatever the fault, at every instant the MCU must not hold an image it
 * believes complete but is not (if its first block, the vector table that
 * makes an image runnable, is the new one, every other byte must be too);
 * each run must end with exactly the new image on the MCU, the agent's
 * budget of three failures in a row without progress never spent.
 *
 *   relay_sweep [--image-size N] [--part f103|f407] [--stride N]
 *               [--mcu-stride N] [--line-stride N] [--only module|mcu|line]
 * Prints cut points, failures (must be 0), and bytes written again.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otto/relay.h"
#include "otto/kv.h"
#include "simflash.h"
#include "stm32.h"
#include "uart.h"
#include "util.h"

#define KV_OFF    0x0u
#define KV_SIZE   (4u * 4096u)
#define STAGE_OFF 0x10000u

typedef struct {
    otto_uart_t inner;
    otto_power_t *power;
    uint64_t sent, cut_at; /* cut when `sent` would pass cut_at (0: never) */
} tap_t;

static int t_write(void *ctx, const void *buf, size_t len)
{
    tap_t *t = ctx;
    if (t->power->off)
        return OTTO_E_IO;
    if (t->cut_at && t->sent + len >= t->cut_at) {
        size_t k = (size_t)(t->cut_at - t->sent);
        if (k)
            t->inner.write(t->inner.ctx, buf, k);
        t->sent += k;
        t->power->off = true;
        return OTTO_E_IO;
    }
    t->sent += len;
    return t->inner.write(t->inner.ctx, buf, len);
}

static int t_read(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    tap_t *t = ctx;
    return t->power->off ? OTTO_E_IO : t->inner.read(t->inner.ctx, buf, len, timeout_ms);
}

typedef struct {
    sim_stm32_t emu;
    otto_power_t power;
    otto_simflash_t sf;
    otto_flash_t flash;
    otto_part_t stage;
    otto_kv_t kv;
    otto_store_t store;
    tap_t tap;
    otto_uart_t uart;
    otto_relay_t relay;
    uint8_t *img;
    uint32_t size;
    uint64_t rewritten;
    unsigned fails_max;    /* most failures in a row without progress, over a sweep */
} rig_t;

/* The MCU runs the old firmware (a different pattern) before each run;
 * no fault is armed. (The emulator's thread waits for the line now.) */
static void mcu_old(rig_t *r)
{
    sim_stm32_reset(&r->emu);
    for (uint32_t i = 0; i < r->size + 4096u; i++)
        r->emu.flash[i] = (uint8_t)(i * 13u + 5u);
    r->emu.flash_ops = r->emu.rx_bytes = r->emu.tx_bytes = 0;
    r->emu.cut_op = r->emu.rx_fault_at = r->emu.tx_fault_at = 0;
}

/* Right now, would the MCU start an image that is not the new one whole? */
static bool believes_incomplete(const rig_t *r)
{
    uint32_t first = r->size < OTTO_MCU_BLOCK ? r->size : OTTO_MCU_BLOCK;
    if (memcmp(r->emu.flash, r->img, first))
        return false; /* vector table not the new one: not believed */
    return memcmp(r->emu.flash, r->img, r->size) != 0;
}

/* Run the relay to its end or to the cut. OTTO_OK, or the error it stopped on. */
static int run(rig_t *r, bool fresh)
{
    int err = otto_kv_mount(&r->kv, &r->flash, KV_OFF, KV_SIZE, true, NULL);
    otto_kv_store(&r->kv, &r->store);
    if (err)
        return err;
    /* Patience for an emulator on a pty, not for a real part: keeps a
     * sweep of thousands of faults within minutes. */
    r->relay.mcu.lim = (otto_mcu_limits_t){3, 200, 300, 300};
    if ((err = otto_relay_open(&r->relay, &r->uart, &r->flash, &r->stage, r->size, &r->store, fresh)))
        return err;
    sim_stm32_reset(&r->emu); /* the module restarts the MCU in its bootloader */
    for (int steps = 0; steps < 100000; steps++) {
        err = otto_relay_step(&r->relay);
        if (err != OTTO_E_AGAIN)
            return err;
    }
    return OTTO_E_STATE;
}

/* The relay in one power-on of the module, going on after failures as
 * the agent does: the MCU reset into its bootloader (the port's
 * mcu_bootloader, which also brings back an MCU that lost power), then
 * the next step; three failures in a row without progress end it. After
 * each failure, the MCU must not hold a runnable incomplete image. */
static int run_on(rig_t *r, unsigned *believed)
{
    int err = run(r, true);
    unsigned fails = 0;
    uint32_t mark = 0;
    while (err != OTTO_OK) {
        if (!otto_relay_retryable(err))
            return err;
        if (believes_incomplete(r))
            ++*believed;
        if (otto_relay_mark(&r->relay) > mark) {
            mark = otto_relay_mark(&r->relay);
            fails = 0;
        }
        if (++fails > r->fails_max)
            r->fails_max = fails;
        if (fails >= 3)
            return err;
        sim_stm32_reset(&r->emu);
        for (int steps = 0; (err = otto_relay_step(&r->relay)) == OTTO_E_AGAIN; steps++)
            if (steps > 100000)
                return OTTO_E_STATE;
    }
    return OTTO_OK;
}

static const char *const line_faults[] = {"", "dropped", "bit-flipped", "doubled", "preceded by a stray byte"};

int main(int argc, char **argv)
{
    uint64_t size = 8192, stride = 61, mcu_stride = 1, line_stride = 0;
    const char *part = "f103", *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image-size") && i + 1 < argc)
            otto_parse_size(argv[++i], &size);
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
            stride = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--mcu-stride") && i + 1 < argc)
            mcu_stride = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--line-stride") && i + 1 < argc)
            line_stride = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--part") && i + 1 < argc)
            part = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: relay_sweep [--image-size N] [--part f103|f407] [--stride N] "
                            "[--mcu-stride N] [--line-stride N] [--only module|mcu|line]\n");
            return 2;
        }
    }
    if (!stride || !mcu_stride || (only && strcmp(only, "module") && strcmp(only, "mcu") && strcmp(only, "line"))) {
        fprintf(stderr, "relay_sweep: strides are at least 1; --only module, mcu or line\n");
        return 2;
    }
    static rig_t r;
    char dir[] = "/tmp/otto-relay-XXXXXX", tty[64], mcu[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(tty, sizeof tty, "%s/tty", dir);
    snprintf(mcu, sizeof mcu, "%s/mcu.bin", dir);
    sim_stm32_init(&r.emu);
    r.emu.down_ms = 20; /* an MCU that loses power is back in its bootloader soon (BOOT0 held high) */
    if (sim_stm32_set_part(&r.emu, part) || sim_stm32_open(&r.emu, tty, mcu) || sim_stm32_start(&r.emu))
        return 1;
    r.size = (uint32_t)size;
    r.img = malloc(r.size);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (uint32_t i = 0; i < r.size; i++)
        r.img[i] = (uint8_t)otto_xorshift64(&rng);
    /* A vector table: stack pointer 0x20005000, reset handler 0x08000101. */
    memcpy(r.img, "\x00\x50\x00\x20\x01\x01\x00\x08", 8);
    otto_power_init(&r.power);
    uint32_t stage_size = (r.size + 4095u) / 4096u * 4096u;
    if (otto_simflash_open_mem(&r.sf, &r.power, STAGE_OFF + stage_size, 4096))
        return 1;
    otto_simflash_hal(&r.sf, &r.flash);
    otto_simflash_load(&r.sf, STAGE_OFF, r.img, r.size);
    r.stage = (otto_part_t){OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, STAGE_OFF, stage_size, "mcufw", 0};
    otto_linux_uart_t line;
    if (otto_linux_uart_open(&line, tty, 115200)) {
        perror(tty);
        return 1;
    }
    otto_linux_uart_hal(&line, &r.tap.inner);
    r.tap.power = &r.power;
    r.uart = (otto_uart_t){&r.tap, t_write, t_read, NULL};

    /* A clean run: how many bytes and flash operations a relay takes. */
    mcu_old(&r);
    uint64_t ops0 = r.power.ops;
    int err = run(&r, true);
    uint64_t bytes = r.tap.sent, ops = r.power.ops - ops0;
    uint64_t mcu_ops = r.emu.flash_ops, replies = r.emu.tx_bytes;
    if (err || memcmp(r.emu.flash, r.img, r.size)) {
        fprintf(stderr, "relay_sweep: the clean run failed (%s: %s)\n", otto_strerror(err),
                r.relay.mcu.why ? r.relay.mcu.why : "");
        return 1;
    }
    uint64_t clean_written = r.relay.written;
    printf("relay_sweep: %s, %u-byte image: a clean relay sends %llu bytes, gets %llu, %llu flash ops on the "
           "module, %llu on the MCU\n",
           part, r.size, (unsigned long long)bytes, (unsigned long long)replies, (unsigned long long)ops,
           (unsigned long long)mcu_ops);

    unsigned failed = 0, believed = 0, total_failed = 0;
    int rc = 0;
    /* Module power cuts: after line bytes, at flash ops. */
    if (!only || !strcmp(only, "module")) {
        unsigned cuts = 0;
        uint64_t written_again = 0;
        double t0 = otto_mono_s();
        for (int kind = 0; kind < 2; kind++) {
            uint64_t n = kind == 0 ? bytes : ops, step = kind == 0 ? stride : 1;
            for (uint64_t k = 1; k <= n; k += step) {
                mcu_old(&r);
                otto_power_restore(&r.power);
                r.tap.sent = 0;
                r.tap.cut_at = 0;
                memset(r.sf.mem + KV_OFF, 0xFF, KV_SIZE); /* a device with no relay under way */
                if (kind == 0)
                    r.tap.cut_at = k;
                else
                    otto_power_arm(&r.power, k, OTTO_CUT_TORN, k);
                err = run(&r, true);
                uint64_t w1 = r.relay.written;
                if (!r.power.off) /* the cut fell after the relay had finished */
                    continue;
                cuts++;
                if (believes_incomplete(&r)) {
                    believed++;
                    fprintf(stderr, "relay_sweep: cut %s %llu: the MCU holds a runnable, incomplete image\n",
                            kind ? "at flash op" : "after byte", (unsigned long long)k);
                }
                otto_power_restore(&r.power);
                r.tap.cut_at = 0;
                err = run(&r, false);
                if (err || memcmp(r.emu.flash, r.img, r.size)) {
                    failed++;
                    fprintf(stderr, "relay_sweep: cut %s %llu: resume ended %s (%s), image %s\n",
                            kind ? "at flash op" : "after byte", (unsigned long long)k, otto_strerror(err),
                            r.relay.mcu.why ? r.relay.mcu.why : "",
                            memcmp(r.emu.flash, r.img, r.size) ? "wrong" : "right");
                }
                written_again += w1 + r.relay.written > clean_written ? w1 + r.relay.written - clean_written : 0;
            }
        }
        printf("relay_sweep: module power cut: %u cut points (line bytes every %llu, every flash op), %u failed, "
               "%u left a runnable incomplete image; %llu bytes written to the MCU again (%.0f per cut), %.1f s\n",
               cuts, (unsigned long long)stride, failed, believed, (unsigned long long)written_again,
               cuts ? (double)written_again / cuts : 0.0, otto_mono_s() - t0);
    }
    total_failed += failed + believed;

    /* MCU power cuts, and line faults: one power-on of the module, the relay
     * going on after each failure. */
    for (int kind = 0; kind < 2; kind++) {
        if (only && strcmp(only, kind == 0 ? "mcu" : "line"))
            continue;
        if (kind == 1 && !line_stride)
            continue;
        unsigned runs = 0, fbad = 0, bad = 0;
        uint64_t written_again = 0;
        unsigned long refused0 = r.emu.refused;
        double t0 = otto_mono_s();
        r.fails_max = 0;
        /* kind 0: each MCU flash op; kind 1: each byte either way, each fault */
        uint64_t n = kind == 0 ? mcu_ops : bytes + replies;
        for (uint64_t k = 1; k <= n; k += kind == 0 ? mcu_stride : line_stride) {
            for (int f = kind == 0 ? 0 : SIM_LINE_DROP; f <= (kind == 0 ? 0 : SIM_LINE_INSERT); f++) {
                unsigned b0 = 0;
                mcu_old(&r);
                otto_power_restore(&r.power);
                r.tap.sent = 0;
                r.tap.cut_at = 0;
                memset(r.sf.mem + KV_OFF, 0xFF, KV_SIZE);
                if (kind == 0) {
                    r.emu.cut_op = k;
                } else if (k <= bytes) {
                    r.emu.rx_fault_at = k;
                    r.emu.rx_fault = f;
                } else {
                    r.emu.tx_fault_at = k - bytes;
                    r.emu.tx_fault = f;
                }
                err = run_on(&r, &b0);
                runs++;
                bad += b0;
                if (err || memcmp(r.emu.flash, r.img, r.size)) {
                    fbad++;
                    if (kind == 0)
                        fprintf(stderr, "relay_sweep: MCU power cut at its flash op %llu: ", (unsigned long long)k);
                    else
                        fprintf(stderr, "relay_sweep: %s byte %llu %s: ", k <= bytes ? "host" : "MCU",
                                (unsigned long long)(k <= bytes ? k : k - bytes), line_faults[f]);
                    fprintf(stderr, "ended %s (%s), image %s\n", otto_strerror(err),
                            r.relay.mcu.why ? r.relay.mcu.why : "",
                            memcmp(r.emu.flash, r.img, r.size) ? "wrong" : "right");
                }
                if (b0)
                    fprintf(stderr, "relay_sweep: %s %llu: the MCU held a runnable, incomplete image\n",
                            kind == 0 ? "MCU power cut at op" : "line fault at byte", (unsigned long long)k);
                written_again += r.relay.written > clean_written ? r.relay.written - clean_written : 0;
            }
        }
        char which[32] = "at each";
        if (mcu_stride > 1)
            snprintf(which, sizeof which, "one in %llu", (unsigned long long)mcu_stride);
        if (kind == 0)
            printf("relay_sweep: MCU power cut: %u runs (%s of its %llu flash ops, torn), %u failed, "
                   "%u left a runnable incomplete image; %llu bytes written again (%.0f per cut), "
                   "at most %u failed relay steps in a row, %.1f s\n",
                   runs, which, (unsigned long long)mcu_ops,
                   fbad, bad, (unsigned long long)written_again, runs ? (double)written_again / runs : 0.0,
                   r.fails_max, otto_mono_s() - t0);
        else
            printf("relay_sweep: line faults: %u runs (one in %llu of %llu bytes either way, each dropped, "
                   "flipped, doubled, preceded), %u failed, %u left a runnable incomplete image; %lu blocks "
                   "programmed over, at most %u failed relay steps in a row, %.1f s\n",
                   runs, (unsigned long long)line_stride, (unsigned long long)(bytes + replies), fbad, bad,
                   r.emu.refused - refused0, r.fails_max, otto_mono_s() - t0);
        total_failed += fbad + bad;
    }
    rc = total_failed ? 1 : 0;
    otto_linux_uart_close(&line);
    sim_stm32_close(&r.emu);
    unlink(mcu);
    rmdir(dir);
    free(r.img);
    return rc;
}
