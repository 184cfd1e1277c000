/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The delta decoder: a patch in, the target out, in the caller's
 * otto_delta_t and nothing else. It is a state machine over the patch's
 * symbols; a symbol is decoded only when the bytes it may need are held
 * (at most 48, or the rest of its block), so patch bytes may arrive in any
 * chunking and the decoder never waits in the middle of a symbol.
 *
 * A block: u32 coded length, then its range-coded stream (or, with the
 * length's top bit set, its target bytes as they are: what nothing
 * predicts costs no more than itself): the base offset
 * it starts at (32 direct bits), then ops until its target bytes are all
 * there: add length, the diff bytes (target = base + diff), insert length,
 * the inserted bytes, and, unless the block is full, a signed seek of the
 * base offset. The stream must end exactly at its coded length.
 */
#include "otto/delta.h"

#include <string.h>

#include "otto/crypto.h"
#include "otto/err.h"

enum { S_HEADER, S_BLOCK_LEN, S_BLOCK_INIT, S_ADD_LEN, S_ADD, S_INS_LEN, S_INS, S_SEEK, S_RAW, S_BLOCK_END, S_DONE,
       S_FAILED };

#define RAW_BLOCK 0x80000000u /* in a block's length: its target bytes as they are */

#define SYMBOL_MAX_BYTES 48u /* a 6-bit tree and 2 modeled bits (2 bytes each at most), 30 direct bits (1) */
#define TOP (1u << 24)

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int otto_delta_header_read(const uint8_t *b, size_t len, otto_delta_header_t *h)
{
    if (len < OTTO_DELTA_HEADER_LEN || get32(b) != OTTO_DELTA_MAGIC)
        return OTTO_E_CORRUPT;
    if (otto_crc32_le(0, b, 88) != get32(b + 88))
        return OTTO_E_CORRUPT;
    if (b[4] != OTTO_DELTA_VERSION)
        return OTTO_E_VERSION;
    h->block_size = get32(b + 8);
    h->base_size = get32(b + 12);
    h->target_size = get32(b + 16);
    memcpy(h->base_sha256, b + 20, 32);
    memcpy(h->target_sha256, b + 52, 32);
    h->nblocks = get32(b + 84);
    /* a power of two from 4 KiB to 1 MiB, and as many blocks as the target needs */
    if (h->block_size < 4096 || h->block_size > (1u << 20) || (h->block_size & (h->block_size - 1)) ||
        h->nblocks != h->target_size / h->block_size + (h->target_size % h->block_size != 0))
        return OTTO_E_CORRUPT;
    return OTTO_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void otto_delta_header_write(const otto_delta_header_t *h, uint8_t b[OTTO_DELTA_HEADER_LEN])
{
    memset(b, 0, OTTO_DELTA_HEADER_LEN);
    put32(b, OTTO_DELTA_MAGIC);
    b[4] = OTTO_DELTA_VERSION;
    put32(b + 8, h->block_size);
    put32(b + 12, h->base_size);
    put32(b + 16, h->target_size);
    memcpy(b + 20, h->base_sha256, 32);
    memcpy(b + 52, h->target_sha256, 32);
    put32(b + 84, h->nblocks);
    put32(b + 88, otto_crc32_le(0, b, 88));
}

void otto_delta_resume_encode(const otto_delta_resume_t *r, uint8_t b[OTTO_DELTA_RESUME_LEN])
{
    otto_delta_header_write(&r->hdr, b);
    put32(b + OTTO_DELTA_HEADER_LEN, r->block);
    put32(b + OTTO_DELTA_HEADER_LEN + 4, r->patch_off);
}

int otto_delta_resume_decode(const uint8_t *b, size_t len, otto_delta_resume_t *r)
{
    if (len != OTTO_DELTA_RESUME_LEN || otto_delta_header_read(b, len, &r->hdr))
        return OTTO_E_CORRUPT;
    r->block = get32(b + OTTO_DELTA_HEADER_LEN);
    r->patch_off = get32(b + OTTO_DELTA_HEADER_LEN + 4);
    /* block k starts after the header and k blocks of at least 4 bytes each */
    if (r->block >= r->hdr.nblocks || r->patch_off < OTTO_DELTA_HEADER_LEN + 4 * r->block)
        return OTTO_E_CORRUPT;
    return OTTO_OK;
}

static void fresh(otto_delta_t *d, otto_delta_read_fn read_base, otto_delta_write_fn write, void *ctx)
{
    memset(d, 0, sizeof *d);
    d->read_base = read_base;
    d->write = write;
    d->ctx = ctx;
}

void otto_delta_begin(otto_delta_t *d, otto_delta_read_fn read_base, otto_delta_write_fn write, void *ctx)
{
    fresh(d, read_base, write, ctx);
    d->state = S_HEADER;
}

void otto_delta_resume(otto_delta_t *d, const otto_delta_resume_t *r, otto_delta_read_fn read_base,
                       otto_delta_write_fn write, void *ctx)
{
    fresh(d, read_base, write, ctx);
    d->hdr = r->hdr;
    d->block = r->block;
    d->patch_off = r->patch_off;
    d->target_off = r->block * r->hdr.block_size;
    d->state = r->block >= r->hdr.nblocks || d->target_off > r->hdr.target_size ? S_FAILED : S_BLOCK_LEN;
    d->err = d->state == S_FAILED ? OTTO_E_INVAL : OTTO_OK;
}

static int fail(otto_delta_t *d, int err)
{
    d->state = S_FAILED;
    d->err = err;
    return err;
}

/* ---- the range decoder and its models --------------------------------- */

static uint8_t next_byte(otto_delta_t *d)
{
    if (d->comp_used >= d->comp_len || d->in_pos >= d->in_len) { /* reading past the block: malformed */
        if (!d->err)
            d->err = OTTO_E_CORRUPT;
        return 0;
    }
    d->comp_used++;
    return d->in[d->in_pos++];
}

static void normalize(otto_delta_t *d)
{
    while (d->range < TOP) { /* twice at most: a bit leaves at least 2^12 */
        d->range <<= 8;
        d->code = d->code << 8 | next_byte(d);
    }
}

static unsigned bit(otto_delta_t *d, uint16_t *p)
{
    uint32_t bound = (d->range >> OTTO_DELTA_PROB_BITS) * otto_delta_p0(*p);
    unsigned b = d->code >= bound;
    if (!b) {
        d->range = bound;
    } else {
        d->code -= bound;
        d->range -= bound;
    }
    *p = otto_delta_update(*p, b);
    normalize(d);
    return b;
}

static uint32_t direct(otto_delta_t *d, unsigned n)
{
    uint32_t v = 0;
    while (n--) {
        d->range >>= 1;
        unsigned b = d->code >= d->range;
        if (b)
            d->code -= d->range;
        v = v << 1 | b;
        normalize(d);
    }
    return v;
}

static unsigned tree(otto_delta_t *d, uint16_t *probs, unsigned nbits)
{
    unsigned i = 1;
    while (nbits--)
        i = i << 1 | bit(d, &probs[i]);
    return i;
}

/* A value of 0 to 2^32 - 1: its bit length, the bit below its highest, the rest direct. */
static uint32_t value(otto_delta_t *d, int field)
{
    unsigned n = tree(d, d->m.nbits[field], 6) - 64;
    if (n > 32) {
        if (!d->err)
            d->err = OTTO_E_CORRUPT;
        return 0;
    }
    if (n < 2)
        return n;
    uint32_t v = 2u | bit(d, &d->m.top[field][n]);
    return n > 2 ? v << (n - 2) | direct(d, n - 2) : v;
}

static void models_reset(otto_delta_models_t *m)
{
    uint16_t *p = (uint16_t *)m;
    for (size_t i = 0; i < sizeof *m / sizeof *p; i++)
        p[i] = OTTO_DELTA_PROB_INIT;
}

/* ---- output and the base ----------------------------------------------- */

static int flush(otto_delta_t *d)
{
    int err = d->out_len ? d->write(d->ctx, d->out, d->out_len) : OTTO_OK;
    d->out_len = 0;
    return err;
}

static int put(otto_delta_t *d, uint8_t b)
{
    if (d->target_off >= d->hdr.target_size)
        return OTTO_E_NOSPC;
    d->out[d->out_len++] = b;
    d->prev = b;
    d->target_off++;
    d->block_left--;
    return d->out_len == sizeof d->out ? flush(d) : OTTO_OK;
}

/* The current base byte, and the one after it (0 past the base's end: a
 * context only); base[] is refilled from the current byte when either is
 * outside it. Never a read outside the base. */
static int base_bytes(otto_delta_t *d, uint8_t *b, uint8_t *next)
{
    uint32_t at = d->base_pos;
    if (at >= d->hdr.base_size)
        return OTTO_E_CORRUPT;
    bool has_next = at + 1 < d->hdr.base_size;
    if (at < d->base_off || at + has_next >= d->base_off + d->base_len) {
        uint32_t n = d->hdr.base_size - at;
        if (n > sizeof d->base)
            n = sizeof d->base;
        int err = d->read_base(d->ctx, at, d->base, n);
        if (err)
            return err;
        d->base_off = at;
        d->base_len = n;
    }
    *b = d->base[at - d->base_off];
    *next = has_next ? d->base[at + 1 - d->base_off] : 0;
    return OTTO_OK;
}

/* ---- the state machine -------------------------------------------------- */

/* Bytes held for the current block, and whether a symbol may be decoded. */
static bool symbol_ready(const otto_delta_t *d)
{
    uint32_t held = d->in_len - d->in_pos, left = d->comp_len - d->comp_used;
    return held >= SYMBOL_MAX_BYTES || held >= left;
}

static int step(otto_delta_t *d)
{
    uint32_t v;
    uint8_t b;
    int err;
    switch (d->state) {
    case S_HEADER:
        if (d->in_len - d->in_pos < OTTO_DELTA_HEADER_LEN)
            return OTTO_E_AGAIN;
        if ((err = otto_delta_header_read(d->in + d->in_pos, OTTO_DELTA_HEADER_LEN, &d->hdr)))
            return fail(d, err);
        d->in_pos += OTTO_DELTA_HEADER_LEN;
        d->patch_off = OTTO_DELTA_HEADER_LEN;
        d->state = d->hdr.nblocks ? S_BLOCK_LEN : S_DONE;
        return OTTO_OK;
    case S_BLOCK_LEN:
        if (d->in_len - d->in_pos < 4)
            return OTTO_E_AGAIN;
        d->comp_len = get32(d->in + d->in_pos);
        d->in_pos += 4;
        d->comp_used = 0;
        d->block_left = d->hdr.block_size;
        if (d->block_left > d->hdr.target_size - d->target_off)
            d->block_left = d->hdr.target_size - d->target_off;
        if (d->comp_len & RAW_BLOCK) {
            d->comp_len &= ~RAW_BLOCK;
            if (d->comp_len != d->block_left)
                return fail(d, OTTO_E_CORRUPT);
            d->state = S_RAW;
            return OTTO_OK;
        }
        if (d->comp_len < 9) /* the coder's 5 bytes and the base offset's 4 at least */
            return fail(d, OTTO_E_CORRUPT);
        d->state = S_BLOCK_INIT;
        return OTTO_OK;
    case S_RAW:
        while (d->block_left && d->in_pos < d->in_len) {
            d->comp_used++;
            if ((err = put(d, d->in[d->in_pos++])))
                return fail(d, err);
        }
        if (d->block_left)
            return OTTO_E_AGAIN;
        d->state = S_BLOCK_END;
        return OTTO_OK;
    case S_BLOCK_INIT:
        if (!symbol_ready(d))
            return OTTO_E_AGAIN;
        models_reset(&d->m);
        d->hist = d->prev = d->b1 = 0;
        d->range = 0xFFFFFFFFu;
        d->code = 0;
        if (next_byte(d) != 0) /* the encoder's first byte is always 0 */
            return fail(d, OTTO_E_CORRUPT);
        for (int i = 0; i < 4; i++)
            d->code = d->code << 8 | next_byte(d);
        d->base_pos = direct(d, 32);
        d->state = S_ADD_LEN;
        break;
    case S_ADD_LEN:
    case S_INS_LEN:
        if (!symbol_ready(d))
            return OTTO_E_AGAIN;
        v = value(d, d->state == S_ADD_LEN ? OTTO_DELTA_F_ADD : OTTO_DELTA_F_INSERT);
        if (v > d->block_left)
            return fail(d, OTTO_E_CORRUPT);
        d->run = v;
        d->state = d->state == S_ADD_LEN ? S_ADD : S_INS;
        break;
    case S_ADD:
        while (d->run) {
            if (!symbol_ready(d))
                return OTTO_E_AGAIN;
            uint8_t bn;
            if ((err = base_bytes(d, &b, &bn)))
                return fail(d, err);
            unsigned diff = 0, nz = bit(d, &d->m.zero[OTTO_DELTA_ZERO_CTX(d->hist, d->b1, bn)]);
            if (nz)
                diff = tree(d, d->m.diff[OTTO_DELTA_DIFF_CTX(bn)], 8) & 0xFFu;
            d->hist = (uint8_t)((unsigned)d->hist << 1 | nz);
            d->b1 = b;
            d->base_pos++;
            d->run--;
            if (d->err || (err = put(d, (uint8_t)(b + diff))))
                return fail(d, d->err ? d->err : err);
        }
        d->state = S_INS_LEN;
        break;
    case S_INS:
        while (d->run) {
            if (!symbol_ready(d))
                return OTTO_E_AGAIN;
            b = (uint8_t)tree(d, d->m.lit[OTTO_DELTA_LIT_CTX(d->prev, d->target_off)], 8);
            d->run--;
            if (d->err || (err = put(d, b)))
                return fail(d, d->err ? d->err : err);
        }
        d->state = d->block_left ? S_SEEK : S_BLOCK_END;
        break;
    case S_SEEK:
        if (!symbol_ready(d))
            return OTTO_E_AGAIN;
        v = value(d, OTTO_DELTA_F_SEEK);
        if (v && bit(d, &d->m.sign))
            d->base_pos -= v; /* wraps past 0 to a huge offset: refused at the next read */
        else
            d->base_pos += v;
        d->state = S_ADD_LEN;
        break;
    case S_BLOCK_END:
        if (d->comp_used != d->comp_len) /* every coded byte, no more, no fewer */
            return fail(d, OTTO_E_CORRUPT);
        if ((err = flush(d)))
            return fail(d, err);
        d->patch_off += 4 + d->comp_len;
        d->block++;
        d->state = d->block < d->hdr.nblocks ? S_BLOCK_LEN : S_DONE;
        if (d->state == S_BLOCK_LEN && d->on_block) {
            otto_delta_resume_t r;
            otto_delta_checkpoint(d, &r);
            if ((err = d->on_block(d->ctx, &r)))
                return fail(d, err);
        }
        return OTTO_OK;
    case S_DONE:
        return d->in_pos < d->in_len ? fail(d, OTTO_E_CORRUPT) : OTTO_E_AGAIN; /* bytes after the end */
    default:
        return d->err ? d->err : OTTO_E_STATE;
    }
    return d->err ? fail(d, d->err) : OTTO_OK;
}

int otto_delta_feed(otto_delta_t *d, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (d->state == S_FAILED)
        return d->err ? d->err : OTTO_E_STATE;
    while (len || d->in_pos < d->in_len) {
        /* keep what is unread at the front, and take as much as fits */
        if (d->in_pos) {
            memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
            d->in_len -= d->in_pos;
            d->in_pos = 0;
        }
        size_t n = sizeof d->in - d->in_len < len ? sizeof d->in - d->in_len : len;
        memcpy(d->in + d->in_len, p, n);
        d->in_len += (uint32_t)n;
        p += n;
        len -= n;
        int err;
        while ((err = step(d)) == OTTO_OK)
            ;
        if (err != OTTO_E_AGAIN)
            return err;
        if (!len)
            break;
    }
    return OTTO_OK;
}

int otto_delta_finish(otto_delta_t *d)
{
    if (d->state == S_FAILED)
        return d->err ? d->err : OTTO_E_STATE;
    if (d->state != S_DONE || d->target_off != d->hdr.target_size)
        return fail(d, OTTO_E_CORRUPT);
    return OTTO_OK;
}

bool otto_delta_checkpoint(const otto_delta_t *d, otto_delta_resume_t *r)
{
    if (d->state != S_BLOCK_LEN)
        return false;
    r->hdr = d->hdr;
    r->block = d->block;
    r->patch_off = d->patch_off;
    return true;
}

uint32_t otto_delta_written(const otto_delta_t *d)
{
    return d->target_off - d->out_len;
}
