/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto mcu info|flash|unprotect: the MCU relay by hand, over a serial port: the STM32
 * behind the module, in its ROM bootloader (AN3155). flash runs the very
 * relay a device runs (device/relay: first block last, read back, Go),
 * with the file standing in for the staging partition and no progress kept.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "otto/mcu.h"
#include "otto/relay.h"
#include "uart.h"
#include "util.h"

static const char usage_mcu[] =
    "usage: otto mcu info --port TTY [--baud N]\n"
    "       otto mcu flash FILE --port TTY [--addr A] [--baud N] [--no-verify] [--go] [--any]\n"
    "                      [--unprotect]\n"
    "       otto mcu unprotect --port TTY [--baud N]\n"
    "\n"
    "Talk to an STM32 in its ROM USART bootloader (ST AN3155), 8E1 (8N1 on a\n"
    "pseudo-terminal, which cannot carry parity).\n"
    "  info    synchronise and print the bootloader version, commands and part\n"
    "  flash   erase the pages FILE needs, write it in 256-byte blocks (the\n"
    "          first one last), read it back to verify, and optionally start it\n"
    "\n"
    "  -p, --port TTY     the serial device (e.g. /dev/ttyUSB0, or an otto-sim stm32 pty)\n"
    "  -b, --baud N       115200 by default\n"
    "  -a, --addr A       where FILE goes (default: the start of flash, 0x08000000)\n"
    "      --no-verify    skip the read-back\n"
    "      --any          flash FILE even without a vector table at its start (by\n"
    "                     default an image for the start of flash must begin with one:\n"
    "                     stack pointer in SRAM, reset handler inside the image)\n"
    "  -g, --go           start the application afterwards\n"
    "      --unprotect    if the MCU's flash is read-protected (RDP level 1), remove the\n"
    "                     protection, which erases all of it, and flash; otherwise such\n"
    "                     an MCU is refused untouched\n"
    "  -r, --retries N    retries per exchange (default 5)\n"
    "\n"
    "Exit status: 0 done, 1 the MCU failed or refused (the message says why), 2 usage.\n";

static int mcu_fail(const otto_mcu_t *m, const char *what, int err)
{
    die_msg("mcu: %s: %s (%s)", what, m->why ? m->why : otto_strerror(err), otto_strerror(err));
    return EXIT_FAIL;
}

/* The file in RAM, as the read-only flash the relay stages from. */
static int buf_read(void *ctx, uint32_t off, void *out, uint32_t len)
{
    memcpy(out, (const uint8_t *)ctx + off, len);
    return OTTO_OK;
}

int cmd_mcu(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'}, {"baud", required_argument, 0, 'b'},
        {"addr", required_argument, 0, 'a'}, {"no-verify", no_argument, 0, 'V'},
        {"go", no_argument, 0, 'g'}, {"retries", required_argument, 0, 'r'},
        {"any", no_argument, 0, 'A'}, {"unprotect", no_argument, 0, 'U'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *port = NULL;
    unsigned baud = 115200;
    uint64_t addr = 0, v;
    bool verify = true, go = false, any = false, unprotect = false;
    otto_mcu_t m = {0};
    int c;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_mcu, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "p:b:a:gr:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': port = optarg; break;
        case 'b': baud = (unsigned)atoi(optarg); break;
        case 'a':
            if (!otto_parse_size(optarg, &addr) || addr > 0xFFFFFFFFu) {
                die_msg("mcu: --addr: '%s' is not an address", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'V': verify = false; break;
        case 'g': go = true; break;
        case 'A': any = true; break;
        case 'U': unprotect = true; break;
        case 'r':
            if (!otto_parse_size(optarg, &v) || v == 0 || v > 100) {
                die_msg("mcu: --retries: 1 to 100");
                return EXIT_USAGE;
            }
            m.lim.retries = (unsigned)v;
            break;
        case 'h': fputs(usage_mcu, stdout); return EXIT_OK;
        default: fputs(usage_mcu, stderr); return EXIT_USAGE;
        }
    }
    bool flash = !strcmp(sub, "flash"), unprot = !strcmp(sub, "unprotect");
    if ((!flash && !unprot && strcmp(sub, "info")) || !port || optind != argc - (flash ? 1 : 0)) {
        fputs(usage_mcu, stderr);
        return EXIT_USAGE;
    }
    uint8_t *img = NULL;
    size_t len = 0;
    if (flash && otto_read_file(argv[optind], &img, &len)) {
        die_msg("mcu: cannot read %s", argv[optind]);
        return EXIT_FAIL;
    }
    otto_linux_uart_t u;
    otto_uart_t hal;
    if (otto_linux_uart_open(&u, port, baud)) {
        die_msg("mcu: cannot open %s", port);
        free(img);
        return EXIT_FAIL;
    }
    otto_linux_uart_hal(&u, &hal);
    double t0 = otto_mono_s();
    int err = otto_mcu_connect(&m, &hal), rc = EXIT_OK;
    if (err) {
        rc = mcu_fail(&m, "connect", err);
        goto out;
    }
    printf("%s (PID 0x%03x), bootloader v%u.%u, %s, flash %u KiB in %s%s, line %s\n", m.part->name,
           m.part->pid, m.version >> 4, m.version & 15u, m.ext_erase ? "Extended Erase" : "Erase",
           m.part->flash_size / 1024u, m.part->page_size ? "pages" : "sectors",
           m.rdp ? ", read-protected (RDP level 1)" : "", u.parity ? "8E1" : "8N1 (pty)");
    if (unprot) {
        if (!m.rdp) {
            printf("not read-protected: nothing to do\n");
        } else if ((err = otto_mcu_unprotect(&m)) || m.rdp) {
            rc = mcu_fail(&m, "unprotect", err ? err : OTTO_E_DENIED);
        } else {
            printf("read protection removed; the flash is erased\n");
        }
        goto out;
    }
    if (!flash)
        goto out;
    if (addr && addr < m.part->flash_base) {
        rc = EXIT_USAGE;
        die_msg("mcu: --addr 0x%08llx is below the flash (0x%08x)", (unsigned long long)addr, m.part->flash_base);
        goto out;
    }
    uint32_t at = addr ? (uint32_t)addr : m.part->flash_base;
    otto_flash_t src = {img, buf_read, NULL, NULL, (uint32_t)len, 4096, 1};
    otto_part_t whole = {OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, 0, (uint32_t)len, "file", 0};
    static otto_relay_t r;
    r.mcu.lim = m.lim;
    r.opt.at = at - m.part->flash_base;
    r.opt.no_verify = !verify;
    r.opt.no_go = !go;
    r.opt.no_check = any;
    r.opt.unprotect = unprotect;
    if (!len || (err = otto_relay_open(&r, &hal, &src, &whole, (uint32_t)len, NULL, true))) {
        die_msg("mcu: %s is empty", argv[optind]);
        rc = EXIT_FAIL;
        goto out;
    }
    /* As the agent does: go on after a failure (the relay resumes where it
     * was), until three in a row get no further. */
    unsigned failures = 0;
    bool tty = isatty(STDERR_FILENO);
    for (unsigned fails = 0, mark = 0, shown = ~0u;;) {
        err = otto_relay_step(&r);
        if (tty && r.st.phase) { /* where it is, on one line rewritten */
            unsigned pct = (unsigned)((uint64_t)r.cur * 100u / len);
            if (pct != shown) {
                fprintf(stderr, "\r%-10s %3u%%", otto_relay_phase(&r), pct > 100 ? 100 : pct);
                shown = pct;
            }
        }
        if (err != OTTO_E_AGAIN && err != OTTO_OK && otto_relay_retryable(err) && err != OTTO_E_IO) {
            if (otto_relay_mark(&r) > mark) {
                mark = otto_relay_mark(&r);
                fails = 0;
            }
            failures++;
            if (++fails < 3) {
                fprintf(stderr, "%smcu: %s: %s; going on\n", tty ? "\n" : "", otto_relay_phase(&r),
                        r.mcu.why ? r.mcu.why : otto_strerror(err));
                continue;
            }
        }
        if (err != OTTO_E_AGAIN)
            break;
    }
    if (tty)
        fputs("\r                \r", stderr);
    if (err) {
        rc = mcu_fail(&r.mcu, otto_relay_phase(&r), err);
        if (err == OTTO_E_DENIED && !unprotect)
            fprintf(stderr, "otto: mcu: --unprotect allows it\n");
        goto out;
    }
    double dt = otto_mono_s() - t0;
    printf("wrote %zu bytes at 0x%08x%s%s in %.2f s (%.0f B/s); %u resyncs, %u NACKs, %u timeouts", len, at,
           verify ? ", verified" : "", go ? ", started" : "", dt, (double)len / dt, r.mcu.resyncs - 1u,
           r.mcu.nacks, r.mcu.timeouts);
    if (failures)
        printf(" since it went on after %u failure%s", failures, failures == 1 ? "" : "s");
    putchar('\n');
out:
    otto_linux_uart_close(&u);
    free(img);
    return rc;
}
