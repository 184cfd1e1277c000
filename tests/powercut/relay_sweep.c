/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power cuts of the module at every point of an MCU relay (device/relay.c)
 * against the STM32 emulator on a real pseudo-terminal.
 *
 * Two kinds of cut: after the k-th byte the module sends on the serial line
 * (every --stride'th k: mid-erase, mid-block, mid-read-back, mid-Go), and at
 * the k-th flash operation of the module (every one: the relay's progress
 * records in the key-value store, torn). At the instant of each cut the MCU
 * must not hold an image it believes complete but is not: if its first
 * block (the vector table, what makes an image runnable) is the new one,
 * every other byte must be too. Then the module powers up again, resets the
 * MCU into its bootloader, and the relay resumes from the store; it must
 * end with the MCU holding exactly the new image.
 *
 *   relay_sweep [--image-size N] [--stride N] [--part f103|f407]
 * Prints cut points, failures (must be 0), and bytes written again.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otto/relay.h"
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
    tap_t tap;
    otto_uart_t uart;
    otto_relay_t relay;
    uint8_t *img;
    uint32_t size;
    uint64_t rewritten;
} rig_t;

/* The MCU runs the old firmware (a different pattern) before each run. */
static void mcu_old(rig_t *r)
{
    sim_stm32_reset(&r->emu);
    for (uint32_t i = 0; i < r->size + 4096u; i++)
        r->emu.flash[i] = (uint8_t)(i * 13u + 5u);
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
    if (err)
        return err;
    r->relay.mcu.retries = 3;
    if ((err = otto_relay_open(&r->relay, &r->uart, &r->flash, &r->stage, r->size, &r->kv, fresh)))
        return err;
    sim_stm32_reset(&r->emu); /* the module restarts the MCU in its bootloader */
    for (int steps = 0; steps < 100000; steps++) {
        err = otto_relay_step(&r->relay);
        if (err != OTTO_E_AGAIN)
            return err;
    }
    return OTTO_E_STATE;
}

int main(int argc, char **argv)
{
    uint64_t size = 8192, stride = 61;
    const char *part = "f103";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image-size") && i + 1 < argc)
            otto_parse_size(argv[++i], &size);
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
            stride = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--part") && i + 1 < argc)
            part = argv[++i];
        else {
            fprintf(stderr, "usage: relay_sweep [--image-size N] [--stride N] [--part f103|f407]\n");
            return 2;
        }
    }
    static rig_t r;
    char dir[] = "/tmp/otto-relay-XXXXXX", tty[64], mcu[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(tty, sizeof tty, "%s/tty", dir);
    snprintf(mcu, sizeof mcu, "%s/mcu.bin", dir);
    sim_stm32_init(&r.emu);
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
    if (err || memcmp(r.emu.flash, r.img, r.size)) {
        fprintf(stderr, "relay_sweep: the clean run failed (%s: %s)\n", otto_strerror(err),
                r.relay.mcu.why ? r.relay.mcu.why : "");
        return 1;
    }
    uint64_t clean_written = r.relay.written;
    printf("relay_sweep: %s, %u-byte image: a clean relay sends %llu bytes, %llu flash ops\n", part,
           r.size, (unsigned long long)bytes, (unsigned long long)ops);

    unsigned cuts = 0, failed = 0, believed = 0;
    uint64_t written_again = 0;
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
            cuts++;
            if (!r.power.off) { /* the cut fell after the relay had finished */
                cuts--;
                continue;
            }
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
                        r.relay.mcu.why ? r.relay.mcu.why : "", memcmp(r.emu.flash, r.img, r.size) ? "wrong" : "right");
            }
            written_again += w1 + r.relay.written > clean_written ? w1 + r.relay.written - clean_written : 0;
        }
    }
    printf("relay_sweep: %u cut points (line bytes every %llu, every flash op), %u failed, "
           "%u left a runnable incomplete image; %llu bytes written to the MCU again (%.0f per cut)\n",
           cuts, (unsigned long long)stride, failed, believed, (unsigned long long)written_again,
           cuts ? (double)written_again / cuts : 0.0);
    otto_linux_uart_close(&line);
    sim_stm32_close(&r.emu);
    unlink(mcu);
    rmdir(dir);
    free(r.img);
    return failed || believed ? 1 : 0;
}
