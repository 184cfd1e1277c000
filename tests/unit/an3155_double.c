/* SPDX-License-Identifier: Apache-2.0 */
#include "an3155_double.h"

#include <string.h>

#include "otto/err.h"

#define ACK 0x79
#define NACK 0x1F

enum { SYNC, CMD, ADDR, RLEN, WLEN, WDATA, ECOUNT, EPAGES, DEAD };

static void out(an3155_t *a, uint8_t b)
{
    if (a->tail < sizeof a->out)
        a->out[a->tail++] = b;
}

static void expect(an3155_t *a, int phase, unsigned want)
{
    a->phase = phase;
    a->want = want;
    a->nin = 0;
}

static uint8_t xor_of(const uint8_t *b, unsigned n)
{
    uint8_t x = 0;
    while (n--)
        x ^= *b++;
    return x;
}

static void nack(an3155_t *a)
{
    a->nacks++;
    out(a, NACK);
    expect(a, CMD, 2);
}

static void command(an3155_t *a)
{
    static const uint8_t cmds[] = {0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44, 0x63, 0x73, 0x82, 0x92};
    if ((a->in[0] ^ a->in[1]) != 0xFF)
        return nack(a);
    a->cmd = a->in[0];
    switch (a->cmd) {
    case 0x00:
        out(a, ACK);
        out(a, sizeof cmds);
        out(a, 0x22);
        for (unsigned i = 0; i < sizeof cmds; i++)
            out(a, cmds[i]);
        out(a, ACK);
        return expect(a, CMD, 2);
    case 0x02:
        out(a, ACK), out(a, 1), out(a, 0x04), out(a, 0x10), out(a, ACK);
        return expect(a, CMD, 2);
    case 0x11: case 0x21: case 0x31:
        out(a, ACK);
        return expect(a, ADDR, 5);
    case 0x44:
        out(a, ACK);
        return expect(a, ECOUNT, 2);
    default:
        return nack(a);
    }
}

static void phase_done(an3155_t *a)
{
    uint8_t *b = a->in;
    switch (a->phase) {
    case SYNC:
        if (b[0] == 0x7F)
            out(a, ACK), expect(a, CMD, 2);
        else
            expect(a, SYNC, 1); /* noise before the first sync: no answer */
        return;
    case CMD:
        return command(a);
    case ADDR:
        a->addr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (xor_of(b, 4) != b[4] || a->addr < AN_FLASH_BASE || a->addr >= AN_FLASH_BASE + AN_FLASH_SIZE)
            return nack(a);
        out(a, ACK);
        if (a->cmd == 0x21) {
            a->running = true;
            return expect(a, DEAD, 1);
        }
        return expect(a, a->cmd == 0x11 ? RLEN : WLEN, a->cmd == 0x11 ? 2 : 1);
    case RLEN: {
        unsigned n = b[0] + 1u, off = a->addr - AN_FLASH_BASE;
        if ((b[0] ^ b[1]) != 0xFF || off + n > AN_FLASH_SIZE)
            return nack(a);
        out(a, ACK);
        for (unsigned i = 0; i < n; i++)
            out(a, a->flash[off + i]);
        a->reads++;
        return expect(a, CMD, 2);
    }
    case WLEN: /* N stays in front of the data: the checksum covers it */
        a->phase = WDATA;
        a->want = 1 + (b[0] + 1u) + 1;
        return;
    case WDATA: {
        unsigned n = b[0] + 1u, off = a->addr - AN_FLASH_BASE;
        if (xor_of(b, n + 1) != b[n + 1] || n % 4 || off % 4 || off + n > AN_FLASH_SIZE)
            return nack(a);
        for (unsigned i = 0; i < n; i++)
            a->flash[off + i] &= b[1 + i];
        a->writes++;
        out(a, ACK);
        return expect(a, CMD, 2);
    }
    case ECOUNT: {
        unsigned count = ((unsigned)b[0] << 8 | b[1]) + 1u;
        if (count > AN_FLASH_SIZE / AN_PAGE)
            return nack(a);
        a->phase = EPAGES; /* the count stays in front: the checksum covers it */
        a->want = 2 + 2 * count + 1;
        return;
    }
    case EPAGES: {
        unsigned count = ((unsigned)b[0] << 8 | b[1]) + 1u;
        if (xor_of(b, a->want - 1) != b[a->want - 1])
            return nack(a);
        for (unsigned i = 0; i < count; i++) {
            unsigned p = (unsigned)b[2 + 2 * i] << 8 | b[3 + 2 * i];
            if (p >= AN_FLASH_SIZE / AN_PAGE)
                return nack(a);
            memset(a->flash + p * AN_PAGE, 0xFF, AN_PAGE);
            a->erases++;
        }
        out(a, ACK);
        return expect(a, CMD, 2);
    }
    default:
        return; /* running the application: the line is not the bootloader's */
    }
}

static int u_write(void *ctx, const void *buf, size_t len)
{
    an3155_t *a = ctx;
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (a->phase == DEAD)
            continue;
        if (a->nin < sizeof a->in)
            a->in[a->nin] = p[i];
        if (++a->nin >= a->want)
            phase_done(a);
    }
    return OTTO_OK;
}

static int u_read(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    an3155_t *a = ctx;
    (void)timeout_ms;
    size_t n = a->tail - a->head < len ? a->tail - a->head : len;
    memcpy(buf, a->out + a->head, n);
    a->head += (unsigned)n;
    if (a->head == a->tail)
        a->head = a->tail = 0;
    return (int)n; /* 0: nothing came in time */
}

void an3155_init(an3155_t *a)
{
    memset(a, 0, sizeof *a);
    memset(a->flash, 0xFF, sizeof a->flash);
    expect(a, SYNC, 1);
}

void an3155_reset(an3155_t *a)
{
    a->nin = a->head = a->tail = 0;
    a->phase = 0;
    a->running = false;
    expect(a, SYNC, 1);
}

otto_uart_t an3155_uart(an3155_t *a)
{
    otto_uart_t u = {a, u_write, u_read, NULL};
    return u;
}
