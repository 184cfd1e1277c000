/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AN3155 host. Every command is: command byte and its complement, ACK;
 * then its arguments, each block closed by an XOR checksum, ACK. A failed
 * exchange (timeout, NACK, a byte that is neither) is retried from a fresh
 * synchronisation: 0x7F is answered ACK by a bootloader waiting for its
 * first byte and NACK by one already synchronised, so either means "ready".
 * A Write Memory block is never sent twice blindly: STM32 flash refuses to
 * program a word that is not erased, and the ACK of a block that was
 * programmed can still be lost, so a failed write is followed by a look
 * at the block (write_block).
 */
#include "otto/mcu.h"

#include "internal/util.h"

#include <string.h>

#define ACK  0x79u
#define NACK 0x1Fu
#define BUSY 0x76u

#define BYTE_MS   500u  /* defaults of otto_mcu_limits_t; stm32flash's per-byte wait */
#define WRITE_MS  1000u
#define ERASE_MS  5000u
#define MASS_ERASE_MS 35000u /* Readout Unprotect erases everything (stm32flash waits as long) */
#define DRAIN_MS  5u    /* a line quiet this long holds nothing more */
#define SYNC_GAP_MS 50u /* an answer to 0x7F comes well within this */
#define FILL_MAX  272u  /* 0xFF bytes to complete a command: a block is 258 */

static const uint16_t f4_1m[] = {16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128};
static const otto_mcu_part_t parts[] = {
    {0x410, "STM32F10x medium density", 0x08000000u, 128u * 1024u, 1024u, NULL, 0, 20u * 1024u, 0},
    {0x412, "STM32F10x low density", 0x08000000u, 32u * 1024u, 1024u, NULL, 0, 10u * 1024u, 0},
    {0x414, "STM32F10x high density", 0x08000000u, 512u * 1024u, 2048u, NULL, 0, 64u * 1024u, 0},
    {0x430, "STM32F10x XL density", 0x08000000u, 1024u * 1024u, 2048u, NULL, 0, 96u * 1024u, 0},
    {0x440, "STM32F05x", 0x08000000u, 64u * 1024u, 1024u, NULL, 0, 8u * 1024u, 0},
    {0x448, "STM32F07x", 0x08000000u, 128u * 1024u, 2048u, NULL, 0, 16u * 1024u, 0},
    {0x413, "STM32F40x/41x", 0x08000000u, 1024u * 1024u, 0, f4_1m, 12, 128u * 1024u, 64u * 1024u},
};

const otto_mcu_part_t *otto_mcu_part(uint16_t pid)
{
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (parts[i].pid == pid)
            return &parts[i];
    return NULL;
}

/* Anything else (a file linked for another address or a part with more
 * RAM, or not an application at all) would leave the MCU unable to start. */
int otto_mcu_check_app(const otto_mcu_part_t *p, const uint8_t vec[8], uint32_t size, const char **why)
{
    uint32_t sp = otto_get_le32(vec), pc = otto_get_le32(vec + 4), base = 0x08000000u;
    bool sram = sp > 0x20000000u && sp <= 0x20100000u, ccm = sp > 0x10000000u && sp <= 0x10010000u;
    if (size < 8 || sp % 4u || !(sram || ccm) || !(pc & 1u) || pc - 1u < base || pc - 1u >= base + size) {
        /* short: it goes into the job's status details (80 bytes) */
        *why = "not an MCU application: no vector table (stack pointer in SRAM, reset handler)";
        return OTTO_E_CORRUPT;
    }
    if (p && !(sp <= 0x20000000u + p->ram_size && sram) && !(sp <= 0x10000000u + p->ccm_size && ccm)) {
        *why = "built for another part: its stack pointer is past this MCU's SRAM";
        return OTTO_E_CORRUPT;
    }
    return OTTO_OK;
}

static int fail(otto_mcu_t *m, int err, const char *why)
{
    m->why = why;
    return err;
}

static int put(otto_mcu_t *m, const uint8_t *b, size_t n)
{
    return m->uart->write(m->uart->ctx, b, n) ? fail(m, OTTO_E_IO, "cannot write to the UART") : OTTO_OK;
}

static int get(otto_mcu_t *m, uint8_t *b, size_t n, uint32_t timeout_ms)
{
    size_t got = 0;
    while (got < n) {
        int r = m->uart->read(m->uart->ctx, b + got, n - got, timeout_ms);
        if (r < 0)
            return fail(m, OTTO_E_IO, "cannot read from the UART");
        if (r == 0) {
            m->timeouts++;
            return fail(m, OTTO_E_TIMEOUT, "the MCU did not answer in time");
        }
        got += (size_t)r;
    }
    return OTTO_OK;
}

/* An ACK; *nacked says whether a NACK came instead. */
static int ack_or_nack(otto_mcu_t *m, uint32_t timeout_ms, bool *nacked)
{
    *nacked = false;
    for (;;) {
        uint8_t b;
        int err = get(m, &b, 1, timeout_ms);
        if (err)
            return err;
        if (b == ACK)
            return OTTO_OK;
        if (b == BUSY)
            continue; /* newer bootloaders say they are still working */
        if (b == NACK) {
            m->nacks++;
            *nacked = true;
            return fail(m, OTTO_E_PROTO, "the MCU refused a command (NACK)");
        }
        return fail(m, OTTO_E_PROTO, "the MCU answered garbage");
    }
}

static int ack(otto_mcu_t *m, uint32_t timeout_ms)
{
    bool nacked;
    return ack_or_nack(m, timeout_ms, &nacked);
}

static uint32_t or_default(uint32_t v, uint32_t dflt) { return v ? v : dflt; }
#define BYTE_WAIT(m) or_default((m)->lim.byte_ms, BYTE_MS)

static int cmd(otto_mcu_t *m, uint8_t c)
{
    uint8_t b[2] = {c, (uint8_t)(c ^ 0xFFu)};
    int err = put(m, b, 2);
    m->cmd_nack = false;
    return err ? err : ack_or_nack(m, BYTE_WAIT(m), &m->cmd_nack);
}

/* Drop what the line still holds: the tail of an answer to a command cut
 * short (a Read Memory reply is up to 256 bytes). Bounded. */
static void drain(otto_mcu_t *m)
{
    uint8_t junk[64];
    if (m->uart->flush_input)
        m->uart->flush_input(m->uart->ctx);
    for (unsigned i = 0; i < 32u; i++)
        if (m->uart->read(m->uart->ctx, junk, sizeof junk, DRAIN_MS) <= 0)
            break;
}

/* Resynchronise. 0x7F is answered ACK by a bootloader waiting for its
 * first byte and NACK by one already synchronised. No answer means it is
 * in the middle of a command we gave up on (an ACK came back garbled): it
 * waits for the rest, an address, a length, a block or a page list. Then
 * 0xFF bytes complete whatever it waits for; with the 0x7F in front, the
 * checksum of each such phase comes out wrong, so it NACKs and does
 * nothing (an Extended Erase count is the exception: 0x7FFF pages is more
 * than 0xFF bytes can fill, and only a reset helps, which the port's
 * mcu_bootloader does). */
static int sync_line(otto_mcu_t *m)
{
    static const uint8_t s = 0x7F;
    uint8_t b = 0, fill[16];
    int err;
    memset(fill, 0xFF, sizeof fill);
    if (m->uart->flush_input)
        m->uart->flush_input(m->uart->ctx);
    else
        drain(m);
    err = put(m, &s, 1);
    if (!err)
        err = get(m, &b, 1, SYNC_GAP_MS);
    for (unsigned n = 0; err == OTTO_E_TIMEOUT && n < FILL_MAX; n += sizeof fill) {
        if (!(err = put(m, fill, sizeof fill)))
            err = get(m, &b, 1, SYNC_GAP_MS);
        if (!err) { /* it answered the filled command: now a real sync */
            drain(m);
            if (!(err = put(m, &s, 1)))
                err = get(m, &b, 1, BYTE_WAIT(m));
        }
    }
    if (err)
        return err;
    if (b != ACK && b != NACK) {
        drain(m);
        return fail(m, OTTO_E_PROTO, "the MCU answered garbage to 0x7F");
    }
    m->resyncs++;
    return OTTO_OK;
}

/* Address: 4 bytes MSB first, then their XOR; ACK. */
static int send_addr(otto_mcu_t *m, uint32_t a)
{
    uint8_t b[5] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a, 0};
    b[4] = (uint8_t)(b[0] ^ b[1] ^ b[2] ^ b[3]);
    int err = put(m, b, 5);
    return err ? err : ack(m, BYTE_WAIT(m));
}

static unsigned tries(const otto_mcu_t *m) { return m->lim.retries ? m->lim.retries : 5u; }

/* ---- one attempt of each exchange ---------------------------------------- */

static int do_get(otto_mcu_t *m)
{
    uint8_t n, v, id[3];
    int err = cmd(m, 0x00);
    if (!err)
        err = get(m, &n, 1, BYTE_WAIT(m));
    if (!err)
        err = get(m, &v, 1, BYTE_WAIT(m));
    if (err)
        return err;
    if (n == 0 || n > sizeof m->cmds)
        return fail(m, OTTO_E_PROTO, "Get: implausible command count");
    if ((err = get(m, m->cmds, n, BYTE_WAIT(m))) || (err = ack(m, BYTE_WAIT(m))))
        return err;
    m->version = v;
    m->ncmds = n;
    m->ext_erase = memchr(m->cmds, 0x44, n) != NULL;
    if (!m->ext_erase && !memchr(m->cmds, 0x43, n))
        return fail(m, OTTO_E_PROTO, "Get: the bootloader lists no erase command");
    if ((err = cmd(m, 0x02)) || (err = get(m, id, 3, BYTE_WAIT(m))) || (err = ack(m, BYTE_WAIT(m))))
        return err;
    if (id[0] != 1)
        return fail(m, OTTO_E_PROTO, "Get ID: unexpected length");
    m->part = otto_mcu_part((uint16_t)(id[1] << 8 | id[2]));
    return m->part ? OTTO_OK : fail(m, OTTO_E_NOTFOUND, "unknown STM32 part (Get ID)");
}

static int do_write(otto_mcu_t *m, uint32_t addr, const uint8_t *d, uint32_t n)
{
    uint8_t b[OTTO_MCU_BLOCK + 2];
    uint32_t padded = (n + 3u) & ~3u;
    b[0] = (uint8_t)(padded - 1u);
    uint8_t x = b[0];
    for (uint32_t i = 0; i < padded; i++) {
        b[1 + i] = i < n ? d[i] : 0xFF;
        x ^= b[1 + i];
    }
    b[1 + padded] = x;
    int err = cmd(m, 0x31);
    if (!err)
        err = send_addr(m, addr);
    if (!err)
        err = put(m, b, padded + 2u);
    return err ? err : ack(m, or_default(m->lim.write_ms, WRITE_MS));
}

static int do_read(otto_mcu_t *m, uint32_t addr, uint8_t *d, uint32_t n)
{
    uint8_t l[2] = {(uint8_t)(n - 1u), (uint8_t)((n - 1u) ^ 0xFFu)};
    int err = cmd(m, 0x11);
    if (!err)
        err = send_addr(m, addr);
    if (!err)
        err = put(m, l, 2);
    if (!err)
        err = ack(m, BYTE_WAIT(m));
    return err ? err : get(m, d, n, BYTE_WAIT(m));
}

/* Erase pages [first, first + count), at most 255 (0x43) per command. */
static int do_erase(otto_mcu_t *m, uint32_t first, uint32_t count)
{
    uint8_t b[2 + 2 * 255 + 1];
    size_t n = 0;
    uint8_t x = 0;
    uint32_t wait = count * or_default(m->lim.erase_ms_per_page, ERASE_MS);
    if (m->ext_erase) {
        b[n++] = (uint8_t)((count - 1u) >> 8);
        b[n++] = (uint8_t)(count - 1u);
        for (uint32_t p = first; p < first + count; p++) {
            b[n++] = (uint8_t)(p >> 8);
            b[n++] = (uint8_t)p;
        }
    } else {
        b[n++] = (uint8_t)(count - 1u);
        for (uint32_t p = first; p < first + count; p++)
            b[n++] = (uint8_t)p;
    }
    for (size_t i = 0; i < n; i++)
        x ^= b[i];
    b[n++] = x;
    int err = cmd(m, m->ext_erase ? 0x44 : 0x43);
    if (!err)
        err = put(m, b, n);
    return err ? err : ack(m, wait);
}

static int do_go(otto_mcu_t *m, uint32_t addr)
{
    int err = cmd(m, 0x21);
    return err ? err : send_addr(m, addr);
}

/* ---- with retries ------------------------------------------------------- */

#define RETRY(m, call)                                                   \
    do {                                                                 \
        int err_ = OTTO_E_TIMEOUT;                                       \
        for (unsigned t_ = 0; t_ < tries(m); t_++) {                     \
            if (t_ > 0 && (err_ = sync_line(m)) && err_ == OTTO_E_IO)    \
                return err_;                                             \
            if (t_ > 0 && err_)                                          \
                continue;                                                \
            if (!(err_ = (call)))                                        \
                break;                                                   \
            if (err_ == OTTO_E_IO || err_ == OTTO_E_NOTFOUND)            \
                return err_;                                             \
        }                                                                \
        if (err_)                                                        \
            return err_;                                                 \
    } while (0)

/* With RDP level 1 active the bootloader NACKs Read Memory (and Write,
 * Erase, Go) at the command byte. A NACK can also be noise, so the flash
 * is called protected only when every try is refused that way. */
static int probe_rdp(otto_mcu_t *m)
{
    uint8_t b[4];
    unsigned refused = 0;
    int err = OTTO_E_TIMEOUT;
    for (unsigned t = 0; t < tries(m); t++) {
        if (t > 0 && (err = sync_line(m))) {
            if (err == OTTO_E_IO)
                return err;
            continue;
        }
        if (!(err = do_read(m, m->part->flash_base, b, sizeof b)))
            return OTTO_OK;
        if (err == OTTO_E_IO)
            return err;
        refused += m->cmd_nack;
    }
    m->rdp = refused == tries(m);
    return m->rdp ? OTTO_OK : err;
}

int otto_mcu_connect(otto_mcu_t *m, const otto_uart_t *uart)
{
    if (!m || !uart || !uart->read || !uart->write)
        return OTTO_E_INVAL;
    otto_mcu_limits_t keep = m->lim;
    memset(m, 0, sizeof *m);
    m->uart = uart;
    m->lim = keep;
    int err = OTTO_E_TIMEOUT;
    for (unsigned t = 0; t < tries(m) && err; t++)
        err = sync_line(m);
    if (err == OTTO_E_TIMEOUT)
        return fail(m, err, "the MCU does not answer 0x7F: not in its bootloader, or not there");
    if (err)
        return err;
    RETRY(m, do_get(m));
    if ((err = probe_rdp(m)))
        return err;
    m->why = NULL;
    return OTTO_OK;
}

int otto_mcu_unprotect(otto_mcu_t *m)
{
    uint8_t junk;
    int err = OTTO_E_TIMEOUT;
    if (!m->part)
        return fail(m, OTTO_E_STATE, "not connected");
    for (unsigned t = 0; t < tries(m); t++) {
        if (t > 0 && (err = sync_line(m))) {
            if (err == OTTO_E_IO)
                return err;
            continue;
        }
        if (!(err = cmd(m, 0x92)) && !(err = ack(m, MASS_ERASE_MS)))
            break;
        if (err == OTTO_E_IO)
            return err;
    }
    if (err)
        return err;
    /* It restarts in its bootloader: let it, then know it again. */
    (void)m->uart->read(m->uart->ctx, &junk, 1, 100u);
    return otto_mcu_connect(m, m->uart);
}

static int in_flash(otto_mcu_t *m, uint32_t addr, uint32_t len)
{
    if (!m->part)
        return fail(m, OTTO_E_STATE, "not connected");
    if (addr < m->part->flash_base || len > m->part->flash_size ||
        addr - m->part->flash_base > m->part->flash_size - len)
        return fail(m, OTTO_E_NOSPC, "the image does not fit the MCU's flash");
    return OTTO_OK;
}

int otto_mcu_unit(const otto_mcu_t *m, uint32_t off, uint32_t *start, uint32_t *len)
{
    const otto_mcu_part_t *p = m->part;
    if (!p)
        return OTTO_E_STATE;
    if (off >= p->flash_size)
        return OTTO_E_NOSPC;
    if (p->page_size) {
        *start = off / p->page_size * p->page_size;
        *len = p->page_size;
        return OTTO_OK;
    }
    for (uint32_t i = 0, s = 0; i < p->nsectors; i++) {
        uint32_t n = (uint32_t)p->sector_kib[i] * 1024u;
        if (off < s + n) {
            *start = s;
            *len = n;
            return OTTO_OK;
        }
        s += n;
    }
    return OTTO_E_NOSPC;
}

int otto_mcu_erase(otto_mcu_t *m, uint32_t addr, uint32_t len)
{
    int err = in_flash(m, addr, len);
    if (err || len == 0)
        return err;
    uint32_t lo = addr - m->part->flash_base, hi = lo + len - 1u, first = 0, last = 0;
    if (m->part->page_size) {
        first = lo / m->part->page_size;
        last = hi / m->part->page_size;
    } else {
        /* Sector parts: the sectors [lo, hi] touches. */
        uint32_t off = 0;
        for (uint32_t i = 0; i < m->part->nsectors; i++) {
            uint32_t end = off + (uint32_t)m->part->sector_kib[i] * 1024u;
            if (lo >= off && lo < end)
                first = i;
            if (hi >= off && hi < end)
                last = i;
            off = end;
        }
    }
    for (uint32_t p = first; p <= last; p += 255u) {
        uint32_t n = last - p + 1u < 255u ? last - p + 1u : 255u;
        RETRY(m, do_erase(m, p, n));
    }
    return OTTO_OK;
}

static bool blank(const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (b[i] != 0xFF)
            return false;
    return true;
}

/* One block. After a failed attempt, read it: already right (the ACK was
 * lost), done; still blank, send it again; anything else twice in a row
 * (Read Memory has no checksum), it is half-written and only an erase
 * helps: OTTO_E_PROTO with that reason (the relay erases again). */
static int write_block(otto_mcu_t *m, uint32_t addr, const uint8_t *d, uint32_t n)
{
    uint8_t back[OTTO_MCU_BLOCK];
    unsigned odd = 0;
    int err = do_write(m, addr, d, n);
    for (unsigned t = 1; err && err != OTTO_E_IO && t < tries(m); t++) {
        if ((err = sync_line(m)) || (err = do_read(m, addr, back, n)))
            continue;
        if (!memcmp(back, d, n))
            return OTTO_OK;
        if (!blank(back, n)) {
            err = fail(m, OTTO_E_PROTO, "a block is half-written after a failed write: it needs an erase");
            if (++odd >= 2)
                return err;
            continue;
        }
        odd = 0;
        err = do_write(m, addr, d, n);
    }
    return err;
}

int otto_mcu_write(otto_mcu_t *m, uint32_t addr, const void *data, uint32_t len)
{
    const uint8_t *d = (const uint8_t *)data;
    int err = in_flash(m, addr, len);
    if (err)
        return err;
    if (addr % 4u)
        return fail(m, OTTO_E_INVAL, "MCU writes must start word-aligned");
    for (uint32_t off = 0; off < len; off += OTTO_MCU_BLOCK) {
        uint32_t n = len - off < OTTO_MCU_BLOCK ? len - off : OTTO_MCU_BLOCK;
        if ((err = write_block(m, addr + off, d + off, n)))
            return err;
    }
    return OTTO_OK;
}

int otto_mcu_read(otto_mcu_t *m, uint32_t addr, void *buf, uint32_t len)
{
    uint8_t *d = (uint8_t *)buf;
    if (!m->part)
        return fail(m, OTTO_E_STATE, "not connected");
    for (uint32_t off = 0; off < len; off += OTTO_MCU_BLOCK) {
        uint32_t n = len - off < OTTO_MCU_BLOCK ? len - off : OTTO_MCU_BLOCK;
        RETRY(m, do_read(m, addr + off, d + off, n));
    }
    return OTTO_OK;
}

int otto_mcu_verify(otto_mcu_t *m, uint32_t addr, const void *data, uint32_t len)
{
    const uint8_t *d = (const uint8_t *)data;
    uint8_t b[OTTO_MCU_BLOCK];
    if (!m->part)
        return fail(m, OTTO_E_STATE, "not connected");
    for (uint32_t off = 0; off < len; off += OTTO_MCU_BLOCK) {
        uint32_t n = len - off < OTTO_MCU_BLOCK ? len - off : OTTO_MCU_BLOCK;
        unsigned t = 0;
        for (;; t++) {
            RETRY(m, do_read(m, addr + off, b, n));
            if (!memcmp(b, d + off, n))
                break;
            if (t + 1 >= tries(m))
                return fail(m, OTTO_E_VERIFY, "the MCU's flash differs from the image");
        }
    }
    return OTTO_OK;
}

int otto_mcu_go(otto_mcu_t *m, uint32_t addr)
{
    if (!m->part)
        return fail(m, OTTO_E_STATE, "not connected");
    RETRY(m, do_go(m, addr));
    return OTTO_OK;
}
