/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto-sim stm32: an STM32 system-memory bootloader (ST AN3155, USART) on a
 * pseudo-terminal, for the MCU relay and for the real stm32flash tool.
 *
 * It owns the pty master (posix_openpt) and links the slave at --pty PATH,
 * so a test can inject faults on the bytes it sends: dropped or corrupted
 * bytes, NACKs, slow erases, or no answer at all. Two parts (--part):
 * f103, an STM32F103 medium density (PID 0x410: 128 KiB flash in 1 KiB
 * pages, Erase 0x43) and f407, an STM32F407 (PID 0x413: 1 MiB in sectors of
 * 16, 16, 16, 16, 64 and 7 x 128 KiB, Extended Erase 0x44).
 * The flash lives in a file (--flash), so it survives this process like a
 * real MCU's flash survives the module's power cuts; the option bytes
 * follow it there (read protection: --rdp, Readout Protect/Unprotect).
 *
 * Framing: a pty carries no parity (the kernel refuses PARENB on a pty), so
 * 8E1 is the line's setting on real hardware and stm32flash runs with
 * -m 8n1 here; the protocol bytes are the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "stm32.h"
#include "util.h"

#define ACK  0x79
#define NACK 0x1F
#define BUSY 0x76

#define FLASH_BASE 0x08000000u
#define RAM_BASE   0x20000000u
#define BL_VERSION 0x22u
#define OPT_BYTES  16u   /* kept after the flash in its file */
#define RDP_OFF    0xA5u /* the RDP option byte of a part that is not read-protected */

struct sim_stm32_part {
    const char *opt, *name;
    uint16_t pid;
    uint32_t flash_size;
    uint32_t page;            /* uniform erase unit, or 0: sectors[] */
    const uint32_t *sectors;  /* KiB each */
    unsigned nsec;
    uint32_t ram_size;
    bool ext_erase;           /* 0x44 rather than 0x43 */
};
typedef struct sim_stm32_part part_t;

static const uint32_t f4_sectors[] = {16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128};
static const part_t parts[] = {
    {"f103", "STM32F103 medium density", 0x410, 128u * 1024u, 1024u, NULL, 0, 20u * 1024u, false},
    {"f407", "STM32F407", 0x413, 1024u * 1024u, 0, f4_sectors, 12, 128u * 1024u, true},
};

typedef sim_stm32_t mcu_t;

static volatile sig_atomic_t stop_flag;
static void on_signal(int s) { (void)s; stop_flag = 1; }
static sim_stm32_t *reset_target; /* SIGUSR1: the reset button, BOOT0 high */
static void on_reset(int s) { (void)s; reset_target->reset_req = 1; }

static double chance(mcu_t *m)
{
    return (double)(otto_xorshift64(&m->rng) >> 11) / 9007199254740992.0;
}

/* One byte crossed the line: with --baud, keep to 11 bits per byte (8E1:
 * start, 8 data, parity, stop), sleeping once we are 2 ms ahead. */
static void pace(mcu_t *m)
{
    if (!m->baud)
        return;
    double t = otto_mono_s();
    if (m->line_t < t)
        m->line_t = t;
    m->line_t += 11.0 / m->baud;
    if (m->line_t - t > 0.002)
        usleep((useconds_t)((m->line_t - t) * 1e6));
}

/* Answers go out in one write (a byte at a time only when paced like a
 * UART): a fleet of emulators shares two cores. */
static void flush_out(mcu_t *m)
{
    for (unsigned off = 0; off < m->out_len;) {
        ssize_t n = write(m->fd, m->out + off, m->out_len - off);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN) {
                usleep(1000);
                continue;
            }
            if (m->verbose > 1)
                fprintf(stderr, "stm32: write: %s\n", strerror(errno));
            break;
        }
        off += (unsigned)n;
    }
    m->out_len = 0;
}

static void put1(mcu_t *m, uint8_t c)
{
    pace(m);
    m->out[m->out_len++] = c;
    if (m->baud || m->out_len == sizeof m->out)
        flush_out(m);
}

/* What the host sent and we have not taken: gone (a reset, a power cut). */
static void drop_input(mcu_t *m)
{
    tcflush(m->fd, TCIFLUSH);
    m->in_pos = m->in_len = 0;
    m->pend = -1;
}

static void tx(mcu_t *m, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (m->reset_req || m->run_req || m->dark) {
            m->out_len = 0; /* reset or power lost: the answer under way is never sent */
            return;
        }
        if (m->mute || chance(m) < m->drop)
            continue;
        if (chance(m) < m->corrupt)
            c ^= (uint8_t)(1u << (m->rng % 8));
        if (++m->tx_bytes == m->tx_fault_at) {
            switch (m->tx_fault) {
            case SIM_LINE_DROP: continue;
            case SIM_LINE_FLIP: c ^= (uint8_t)(1u << (m->tx_bytes % 8)); break;
            case SIM_LINE_DUP: put1(m, c); break;
            case SIM_LINE_INSERT: put1(m, ACK); break; /* the most misleading byte there is */
            }
        }
        put1(m, c);
    }
    flush_out(m);
}

static void tx1(mcu_t *m, uint8_t b) { tx(m, &b, 1); }

/* The line's scripted fault on the byte just received: the byte to give,
 * or -1 to act as if it never came. */
static int rx_fault(mcu_t *m, uint8_t c)
{
    if (++m->rx_bytes != m->rx_fault_at)
        return c;
    switch (m->rx_fault) {
    case SIM_LINE_DROP: return -1;
    case SIM_LINE_FLIP: return c ^ (1 << (m->rx_bytes % 8));
    case SIM_LINE_DUP: m->pend = c; return c;
    case SIM_LINE_INSERT: m->pend = c; return 0xA5; /* noise on the line before it */
    default: return c;
    }
}

/* One byte from the host, or -1 after timeout_ms (-1: wait for ever). */
static int rx(mcu_t *m, int timeout_ms)
{
    struct pollfd p = {m->fd, POLLIN, 0};
    if (m->pend >= 0 && !m->dark) {
        int c = m->pend;
        m->pend = -1;
        return c;
    }
    for (;;) {
        if (*m->stop || m->reset_req || m->run_req || m->dark)
            return -1;
        if (m->in_pos < m->in_len) {
            uint8_t c = m->in[m->in_pos++];
            pace(m);
            int f = rx_fault(m, c);
            if (f < 0)
                continue;
            return f;
        }
        int r = poll(&p, 1, timeout_ms < 0 || timeout_ms > 20 ? 20 : timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            if (timeout_ms < 0)
                continue;
            if ((timeout_ms -= 20) > 0)
                continue;
            return -1;
        }
        if (p.revents & POLLHUP) { /* nobody on the slave end yet */
            usleep(20000);
            if (timeout_ms >= 0 && (timeout_ms -= 20) <= 0)
                return -1;
            continue;
        }
        ssize_t n = read(m->fd, m->in, sizeof m->in);
        if (n > 0) {
            m->in_pos = 0;
            m->in_len = (unsigned)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EIO)
            return -1;
        usleep(20000);
    }
}

static int rx_n(mcu_t *m, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = rx(m, 1000);
        if (c < 0)
            return -1;
        b[i] = (uint8_t)c;
    }
    return 0;
}

/* Memory behind an address range, or NULL. */
static uint8_t *mem(mcu_t *m, uint32_t addr, uint32_t len, bool *is_flash)
{
    if (addr >= FLASH_BASE && addr + len <= FLASH_BASE + m->part->flash_size && addr + len >= addr) {
        *is_flash = true;
        return m->flash + (addr - FLASH_BASE);
    }
    if (addr >= RAM_BASE && addr + len <= RAM_BASE + m->part->ram_size) {
        *is_flash = false;
        return m->ram + (addr - RAM_BASE);
    }
    return NULL;
}

/* Address: 4 bytes MSB first + XOR; ACK or NACK. */
static int rx_addr(mcu_t *m, uint32_t *addr)
{
    uint8_t b[5];
    if (rx_n(m, b, 5) || (b[0] ^ b[1] ^ b[2] ^ b[3]) != b[4]) {
        tx1(m, NACK);
        return -1;
    }
    *addr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* A flash operation begins: does the power fail during it? Then the MCU
 * is dark until it comes back (down_ms, or the module's reset). */
static bool power_fails(mcu_t *m)
{
    m->flash_ops++;
    if (!(m->cut_op && m->flash_ops == m->cut_op) && !(m->brownout > 0 && chance(m) < m->brownout))
        return false;
    m->dark = true;
    m->cuts++;
    m->dark_until = m->down_ms ? otto_mono_s() + m->down_ms / 1000.0 : 0;
    if (m->verbose > 1)
        fprintf(stderr, "stm32: power lost at flash op %llu\n", (unsigned long long)m->flash_ops);
    return true;
}

/* Without power: the line is dead until the power is back, then the ROM
 * bootloader starts again (BOOT0 held high by the module) and waits for
 * its 0x7F. */
/* Nobody listens on the line (no power, or the application runs) until a
 * reset, or `until` (CLOCK_MONOTONIC seconds; 0: never). */
static void deaf(mcu_t *m, double until)
{
    uint8_t junk[64];
    while (!*m->stop && !m->reset_req && !m->run_req && !(until && otto_mono_s() >= until)) {
        struct pollfd p = {m->fd, POLLIN, 0};
        if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN) && read(m->fd, junk, sizeof junk) < 0)
            usleep(10000);
    }
    drop_input(m);
}

static void power_off(mcu_t *m)
{
    deaf(m, m->dark_until);
    m->dark = false;
    m->synced = false;
    m->app = !m->boot0; /* power back: it starts as the pin says */
}

static unsigned units(const mcu_t *m)
{
    return m->part->page ? m->part->flash_size / m->part->page : m->part->nsec;
}

/* Erase unit u: a page, or a sector of the F4 map. false: the power
 * failed and left it half-erased (a prefix blank, the rest with some of
 * its zero bits set). */
static bool erase_unit(mcu_t *m, unsigned u)
{
    uint32_t off = 0, len;
    if (u >= units(m))
        return true;
    if (m->part->page) {
        off = u * m->part->page;
        len = m->part->page;
    } else {
        for (unsigned i = 0; i < u; i++)
            off += m->part->sectors[i] * 1024u;
        len = m->part->sectors[u] * 1024u;
    }
    if (power_fails(m)) {
        uint32_t j = (uint32_t)(otto_xorshift64(&m->rng) % len);
        memset(m->flash + off, 0xFF, j);
        for (uint32_t i = j; i < len; i++)
            m->flash[off + i] |= (uint8_t)otto_xorshift64(&m->rng);
        return false;
    }
    memset(m->flash + off, 0xFF, len);
    m->erases++;
    if (m->busy)
        tx1(m, BUSY);
    if (m->erase_ms)
        usleep(m->erase_ms * 1000u * (len / 1024u)); /* --erase-ms is per KiB */
    return true;
}

static bool erase_all(mcu_t *m)
{
    for (unsigned u = 0; u < units(m); u++)
        if (!erase_unit(m, u))
            return false;
    return true;
}

static void cmd_get(mcu_t *m)
{
    uint8_t cmds[] = {0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x43, 0x63, 0x73, 0x82, 0x92};
    uint8_t out[2 + sizeof cmds + 1];
    if (m->part->ext_erase)
        cmds[6] = 0x44;
    out[0] = ACK;
    out[1] = (uint8_t)sizeof cmds; /* bytes that follow, minus one: version + commands */
    out[2] = BL_VERSION;
    memcpy(out + 3, cmds, sizeof cmds);
    tx(m, out, 3 + sizeof cmds);
    tx1(m, ACK);
}

static void cmd_read(mcu_t *m)
{
    uint32_t addr;
    uint8_t n[2];
    bool fl;
    tx1(m, ACK);
    if (rx_addr(m, &addr))
        return;
    if (!mem(m, addr, 1, &fl)) {
        tx1(m, NACK);
        return;
    }
    tx1(m, ACK);
    if (rx_n(m, n, 2) || (n[0] ^ n[1]) != 0xFF) {
        tx1(m, NACK);
        return;
    }
    uint8_t *p = mem(m, addr, (uint32_t)n[0] + 1, &fl);
    if (!p) {
        tx1(m, NACK);
        return;
    }
    tx1(m, ACK);
    tx(m, p, (size_t)n[0] + 1);
}

static bool read_protected(const mcu_t *m) { return m->opt[0] != RDP_OFF; }

/* Readout Protect (0x82) and Unprotect (0x92): ACK, the change (unprotect
 * erases all the flash first), ACK, then the part resets. */
static void cmd_rdp(mcu_t *m, bool protect)
{
    tx1(m, ACK);
    if (!protect && !erase_all(m))
        return; /* the power failed mid-erase: still protected */
    m->opt[0] = protect ? 0x00 : RDP_OFF;
    tx1(m, ACK);
    m->synced = false;
    if (m->verbose > 1)
        fprintf(stderr, "stm32: read protection %s\n", protect ? "on" : "off, flash erased");
}

static void cmd_go(mcu_t *m)
{
    uint32_t addr;
    bool fl = false;
    tx1(m, ACK);
    if (rx_addr(m, &addr))
        return;
    if (!mem(m, addr, 4, &fl) && addr != 0) {
        tx1(m, NACK);
        return;
    }
    tx1(m, ACK);
    m->gos++;
    m->synced = false;
    m->app = true; /* the application runs; the bootloader is back only after a reset with BOOT0 high */
    if (m->verbose > 1)
        fprintf(stderr, "stm32: go 0x%08x (%s)\n", addr, fl ? "flash" : "reset");
}

static void cmd_write(mcu_t *m)
{
    uint32_t addr;
    uint8_t data[257], cs;
    bool fl;
    tx1(m, ACK);
    if (rx_addr(m, &addr))
        return;
    if (!mem(m, addr, 1, &fl) || addr % 4) {
        tx1(m, NACK);
        return;
    }
    tx1(m, ACK);
    int n1 = rx(m, 1000);
    if (n1 < 0 || rx_n(m, data, (size_t)n1 + 1) || rx_n(m, &cs, 1)) {
        tx1(m, NACK);
        return;
    }
    uint8_t x = (uint8_t)n1;
    for (int i = 0; i <= n1; i++)
        x ^= data[i];
    uint8_t *p = mem(m, addr, (uint32_t)n1 + 1, &fl);
    if (x != cs || !p) {
        tx1(m, NACK);
        return;
    }
    /* Flash as the real parts have it: a word that is not erased cannot be
     * programmed again (F1: PGERR; the bootloader NACKs). --lenient: NOR
     * rules instead (bits only go 1 -> 0). */
    for (int i = 0; fl && !m->lenient && i <= n1; i++)
        if (p[i] != 0xFF) {
            m->refused++;
            tx1(m, NACK);
            return;
        }
    if (fl && power_fails(m)) { /* torn: a prefix programmed, one byte of it half */
        int k = (int)(otto_xorshift64(&m->rng) % (uint64_t)(n1 + 2));
        for (int i = 0; i < k && i <= n1; i++)
            p[i] &= data[i];
        if (k <= n1)
            p[k] &= (uint8_t)(data[k] | otto_xorshift64(&m->rng));
        return;
    }
    for (int i = 0; i <= n1; i++)
        p[i] = fl ? (uint8_t)(p[i] & data[i]) : data[i];
    m->writes++;
    if (m->busy && fl)
        tx1(m, BUSY);
    if (chance(m) < m->lose_ack)
        return; /* programmed, but the host never hears so */
    tx1(m, ACK);
}

static void cmd_erase(mcu_t *m)
{
    uint8_t pages[256], cs;
    tx1(m, ACK);
    int n = rx(m, 1000);
    if (n < 0) {
        tx1(m, NACK);
        return;
    }
    if (n == 0xFF) {
        int z = rx(m, 1000);
        if (z != 0x00) {
            tx1(m, NACK);
            return;
        }
        if (erase_all(m))
            tx1(m, ACK);
        return;
    }
    if (rx_n(m, pages, (size_t)n + 1) || rx_n(m, &cs, 1)) {
        tx1(m, NACK);
        return;
    }
    uint8_t x = (uint8_t)n;
    for (int i = 0; i <= n; i++)
        x ^= pages[i];
    if (x != cs) {
        tx1(m, NACK);
        return;
    }
    for (int i = 0; i <= n; i++)
        if (!erase_unit(m, pages[i]))
            return;
    tx1(m, ACK);
}

/* Extended Erase: 2-byte count - 1 and 2-byte unit numbers, MSB first, then
 * the XOR of all; 0xFFFF = mass erase (0xFFFE/0xFFFD: banks), then a 1-byte
 * XOR of the two. */
static void cmd_ext_erase(mcu_t *m)
{
    uint8_t h[2], b[2 * 512 + 1];
    tx1(m, ACK);
    if (rx_n(m, h, 2)) {
        tx1(m, NACK);
        return;
    }
    unsigned n = (unsigned)h[0] << 8 | h[1];
    if (n >= 0xFFF0u) {
        uint8_t cs;
        if (rx_n(m, &cs, 1) || cs != (h[0] ^ h[1]) || n < 0xFFFDu) {
            tx1(m, NACK);
            return;
        }
        if (erase_all(m))
            tx1(m, ACK);
        return;
    }
    if (n >= 512 || rx_n(m, b, 2u * (n + 1u) + 1u)) {
        tx1(m, NACK);
        return;
    }
    uint8_t x = h[0] ^ h[1];
    for (unsigned i = 0; i < 2u * (n + 1u) + 1u; i++)
        x ^= b[i];
    if (x) {
        tx1(m, NACK);
        return;
    }
    for (unsigned i = 0; i <= n; i++)
        if (!erase_unit(m, (unsigned)b[2 * i] << 8 | b[2 * i + 1]))
            return;
    tx1(m, ACK);
}

void sim_stm32_serve(mcu_t *m)
{
    while (!*m->stop) {
        if (m->reset_req || m->run_req) { /* NRST: power or not, it starts again */
            drop_input(m);
            m->synced = false;
            m->dark = false;
            m->boot0 = m->reset_req;
            m->app = !m->boot0;
            m->reset_req = m->run_req = 0;
        }
        if (m->dark) {
            power_off(m);
            continue;
        }
        if (m->app) {
            deaf(m, 0);
            continue;
        }
        int b = rx(m, -1);
        if (b < 0)
            continue;
        if (!m->synced) {
            if (b == 0x7F) {
                m->synced = true;
                tx1(m, ACK);
            }
            continue;
        }
        if (b == 0x7F) {
            tx1(m, NACK); /* already synchronised */
            continue;
        }
        int c = rx(m, 1000);
        if (c < 0 || (b ^ c) != 0xFF) {
            tx1(m, NACK);
            continue;
        }
        m->cmds++;
        if (chance(m) < m->nack) {
            tx1(m, NACK);
            continue;
        }
        /* RDP level 1: only these; the rest are refused at the command. */
        if (read_protected(m) && b != 0x00 && b != 0x01 && b != 0x02 && b != 0x82 && b != 0x92) {
            tx1(m, NACK);
            continue;
        }
        switch (b) {
        case 0x00: cmd_get(m); break;
        case 0x01: {
            uint8_t out[] = {ACK, BL_VERSION, 0x00, 0x00, ACK};
            tx(m, out, sizeof out);
            break;
        }
        case 0x02: {
            uint8_t out[] = {ACK, 0x01, (uint8_t)(m->part->pid >> 8), (uint8_t)m->part->pid, ACK};
            tx(m, out, sizeof out);
            break;
        }
        case 0x11: cmd_read(m); break;
        case 0x21: cmd_go(m); break;
        case 0x31: cmd_write(m); break;
        case 0x82: cmd_rdp(m, true); break;
        case 0x92: cmd_rdp(m, false); break;
        case 0x43:
            if (m->part->ext_erase)
                tx1(m, NACK);
            else
                cmd_erase(m);
            break;
        case 0x44:
            if (m->part->ext_erase)
                cmd_ext_erase(m);
            else
                tx1(m, NACK);
            break;
        default: tx1(m, NACK); break;
        }
    }
}

static const char usage_stm32[] =
    "usage: otto-sim stm32 --pty PATH --flash FILE [options]\n"
    "\n"
    "An STM32 in its ROM USART bootloader (AN3155) on a pseudo-terminal linked\n"
    "at PATH, until SIGINT/SIGTERM. After Go its application runs and it no\n"
    "longer answers; SIGUSR1 resets it into the bootloader (BOOT0 high, NRST).\n"
    "Use it with otto's MCU relay or with stm32flash -m 8n1 PATH.\n"
    "\n"
    "  -p, --pty PATH         where to link the terminal the host opens\n"
    "  -f, --flash FILE       the MCU's flash (made, erased, if missing)\n"
    "      --part P           f103: STM32F103 medium density, 0x410, 128 KiB, 1 KiB pages,\n"
    "                         Erase (default); f407: STM32F407, 0x413, 1 MiB in\n"
    "                         16/64/128 KiB sectors, Extended Erase\n"
    "      --drop P           drop each byte sent with probability P (0..1)\n"
    "      --corrupt P        flip a bit of each byte sent with probability P\n"
    "      --nack P           answer a command NACK with probability P\n"
    "      --erase-ms N       erasing takes N ms per KiB (default 0)\n"
    "      --mute             never answer (an MCU that is not there)\n"
    "      --busy             say BUSY (0x76) while erasing or programming, as newer\n"
    "                         bootloaders do, before the ACK\n"
    "      --lose-write-ack P lose the ACK of a block already programmed, probability P\n"
    "      --brownout P       lose power at each flash operation (a block programmed, a\n"
    "                         page erased) with probability P, leaving it torn; back in\n"
    "                         the bootloader after --down-ms (default 100)\n"
    "      --cut-op N         lose power at the N-th flash operation, as above\n"
    "      --down-ms N        how long it stays without power (0: for good)\n"
    "      --baud N           pace the line at N baud, 8E1 (default: as fast as the pty)\n"
    "      --rdp              a new flash file starts read-protected (RDP level 1: only\n"
    "                         Get, Get Version, Get ID, Readout Protect/Unprotect)\n"
    "      --lenient          let flash be programmed over (NOR rules); real parts,\n"
    "                         and this emulator by default, NACK a write to a word\n"
    "                         that is not erased\n"
    "      --seed S           for the fault injection (default 1)\n"
    "  -v, --verbose          log commands\n"
    "  -h, --help             this text\n";

void sim_stm32_init(mcu_t *m)
{
    memset(m, 0, sizeof *m);
    m->fd = m->sfd = -1;
    m->rng = 88172645463325252ull;
    m->pend = -1;
    m->boot0 = true; /* in its bootloader, waiting for 0x7F */
    m->part = &parts[0];
    m->stop = &m->stop_own;
}

int sim_stm32_set_part(mcu_t *m, const char *opt)
{
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (!strcmp(opt, parts[i].opt)) {
            m->part = &parts[i];
            return 0;
        }
    return -1;
}

const char *sim_stm32_name(const mcu_t *m, unsigned *pid)
{
    if (pid)
        *pid = m->part->pid;
    return m->part->name;
}

int sim_stm32_open(mcu_t *m, const char *link, const char *flash)
{
    int ffd = open(flash, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat sb;
    if (ffd < 0 || fstat(ffd, &sb)) {
        fprintf(stderr, "otto-sim: cannot open %s: %s\n", flash, strerror(errno));
        if (ffd >= 0)
            close(ffd);
        return -1;
    }
    uint32_t fsize = m->part->flash_size;
    /* The flash alone (an older file): option bytes added, not protected. */
    bool fresh = sb.st_size != (off_t)fsize && sb.st_size != (off_t)(fsize + OPT_BYTES);
    bool fresh_opt = sb.st_size != (off_t)(fsize + OPT_BYTES);
    if (fresh_opt && ftruncate(ffd, fsize + OPT_BYTES)) {
        fprintf(stderr, "otto-sim: cannot size %s: %s\n", flash, strerror(errno));
        close(ffd);
        return -1;
    }
    m->flash = mmap(NULL, fsize + OPT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
    close(ffd);
    if (m->flash == MAP_FAILED) {
        m->flash = NULL;
        fprintf(stderr, "otto-sim: cannot map %s\n", flash);
        return -1;
    }
    m->opt = m->flash + fsize;
    if (fresh)
        memset(m->flash, 0xFF, fsize);
    if (fresh_opt) {
        memset(m->opt, 0xFF, OPT_BYTES);
        m->opt[0] = fresh && m->rdp_default ? 0x00 : RDP_OFF;
    }
    m->ram = calloc(1, m->part->ram_size);
    m->fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (!m->ram || m->fd < 0 || grantpt(m->fd) || unlockpt(m->fd)) {
        fprintf(stderr, "otto-sim: no pseudo-terminal: %s\n", strerror(errno));
        sim_stm32_close(m);
        return -1;
    }
    char slave[128];
    if (ptsname_r(m->fd, slave, sizeof slave)) {
        sim_stm32_close(m);
        return -1;
    }
    /* Keep the slave open ourselves too, so the master never sees a hangup
     * between two host sessions; raw until the host sets its own mode. */
    m->sfd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    if (m->sfd >= 0 && !tcgetattr(m->sfd, &t)) {
        cfmakeraw(&t);
        tcsetattr(m->sfd, TCSANOW, &t);
    }
    snprintf(m->link, sizeof m->link, "%s", link);
    unlink(link);
    if (symlink(slave, link)) {
        fprintf(stderr, "otto-sim: cannot link %s: %s\n", link, strerror(errno));
        m->link[0] = 0;
        sim_stm32_close(m);
        return -1;
    }
    if (m->verbose)
        fprintf(stderr, "otto-sim: %s (PID 0x%03x) bootloader on %s (%s)%s\n", m->part->name, m->part->pid,
                link, slave, read_protected(m) ? ", flash read-protected" : "");
    return 0;
}

static void *serve_thread(void *arg)
{
    sim_stm32_serve(arg);
    return NULL;
}

void sim_stm32_reset(mcu_t *m)
{
    m->reset_req = 1;
    for (int i = 0; i < 1000 && m->reset_req && m->threaded; i++)
        usleep(1000);
}

void sim_stm32_run(mcu_t *m)
{
    m->run_req = 1;
    for (int i = 0; i < 1000 && m->run_req && m->threaded; i++)
        usleep(1000);
}

int sim_stm32_start(mcu_t *m)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256u * 1024u);
    int rc = pthread_create(&m->thread, &at, serve_thread, m);
    pthread_attr_destroy(&at);
    if (rc) {
        fprintf(stderr, "otto-sim: cannot start the MCU: %s\n", strerror(rc));
        return -1;
    }
    m->threaded = true;
    return 0;
}

void sim_stm32_close(mcu_t *m)
{
    if (m->threaded) {
        *m->stop = 1;
        pthread_join(m->thread, NULL);
        m->threaded = false;
    }
    if (m->link[0])
        unlink(m->link);
    m->link[0] = 0;
    if (m->flash) {
        msync(m->flash, m->part->flash_size + OPT_BYTES, MS_SYNC);
        munmap(m->flash, m->part->flash_size + OPT_BYTES);
        m->flash = NULL;
    }
    free(m->ram);
    m->ram = NULL;
    if (m->sfd >= 0)
        close(m->sfd);
    if (m->fd >= 0)
        close(m->fd);
    m->fd = m->sfd = -1;
}

int cmd_stm32(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pty", required_argument, 0, 'p'}, {"flash", required_argument, 0, 'f'},
        {"drop", required_argument, 0, 'D'}, {"corrupt", required_argument, 0, 'C'},
        {"nack", required_argument, 0, 'N'}, {"erase-ms", required_argument, 0, 'E'},
        {"mute", no_argument, 0, 'M'}, {"seed", required_argument, 0, 'S'},
        {"baud", required_argument, 0, 'B'}, {"part", required_argument, 0, 'P'},
        {"lenient", no_argument, 0, 'L'}, {"lose-write-ack", required_argument, 0, 'W'},
        {"brownout", required_argument, 0, 'O'}, {"down-ms", required_argument, 0, 'T'},
        {"cut-op", required_argument, 0, 'K'}, {"rdp", no_argument, 0, 'R'},
        {"busy", no_argument, 0, 'Y'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static mcu_t m;
    const char *pty = NULL, *flash = NULL;
    int c;
    sim_stm32_init(&m);
    m.stop = &stop_flag;
    m.verbose = 1;
    m.down_ms = 100;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:f:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pty = optarg; break;
        case 'f': flash = optarg; break;
        case 'D': m.drop = atof(optarg); break;
        case 'C': m.corrupt = atof(optarg); break;
        case 'N': m.nack = atof(optarg); break;
        case 'E': m.erase_ms = (unsigned)atoi(optarg); break;
        case 'M': m.mute = true; break;
        case 'L': m.lenient = true; break;
        case 'W': m.lose_ack = atof(optarg); break;
        case 'O': m.brownout = atof(optarg); break;
        case 'T': m.down_ms = (unsigned)atoi(optarg); break;
        case 'K': m.cut_op = strtoull(optarg, NULL, 10); break;
        case 'R': m.rdp_default = true; break;
        case 'Y': m.busy = true; break;
        case 'B': m.baud = (unsigned)atoi(optarg); break;
        case 'P':
            if (sim_stm32_set_part(&m, optarg)) {
                fprintf(stderr, "otto-sim: --part: f103 or f407\n");
                return 2;
            }
            break;
        case 'S': m.rng ^= strtoull(optarg, NULL, 10) * 0x9E3779B97F4A7C15ull; break;
        case 'v': m.verbose++; break;
        case 'h': fputs(usage_stm32, stdout); return 0;
        default: fputs(usage_stm32, stderr); return 2;
        }
    }
    if (!pty || !flash || optind != argc) {
        fputs(usage_stm32, stderr);
        return 2;
    }
    if (sim_stm32_open(&m, pty, flash))
        return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    reset_target = &m;
    signal(SIGUSR1, on_reset);
    sim_stm32_serve(&m);
    fprintf(stderr,
            "otto-sim: stm32: %lu commands, %lu writes (%lu refused: not erased), %lu erases, %lu go, "
            "%lu power cuts\n",
            m.cmds, m.writes, m.refused, m.erases, m.gos, m.cuts);
    sim_stm32_close(&m);
    return 0;
}
