/* SPDX-License-Identifier: Apache-2.0 */
#include "delta.h"

#include <divsufsort.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "otto/crypto.h"
#include "otto/delta.h"
#include "otto/err.h"

/* ---- matching: (add, insert, seek) ops over the whole target ----------- */

/* A stretch of the target: bytes from the base plus differences (add), or
 * bytes of its own (insert). */
typedef struct {
    uint32_t t, len; /* target offset, length */
    int64_t b;       /* add: base offset; insert: -1 */
} seg_t;

typedef struct {
    seg_t *v;
    size_t n, cap;
} segs_t;

static int seg_push(segs_t *s, uint32_t t, uint32_t len, int64_t b)
{
    if (!len)
        return OTTO_OK;
    if (s->n && s->v[s->n - 1].b < 0 && b < 0) { /* two inserts are one */
        s->v[s->n - 1].len += len;
        return OTTO_OK;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        seg_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return OTTO_E_NOSPC;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (seg_t){t, len, b};
    return OTTO_OK;
}

static size_t common(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0, n = an < bn ? an : bn;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* The longest exact match of nw (nn bytes) in the base, by binary search
 * over its suffix array: its length, and where (*pos). */
static size_t longest(const saidx_t *sa, const uint8_t *old, size_t on, const uint8_t *nw, size_t nn, size_t *pos)
{
    size_t lo = 0, hi = on - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, off = (size_t)sa[mid];
        size_t k = on - off < nn ? on - off : nn;
        int c = memcmp(old + off, nw, k);
        if (c < 0 || (c == 0 && k < nn))
            lo = mid;
        else
            hi = mid;
    }
    size_t a = common(old + sa[lo], on - (size_t)sa[lo], nw, nn);
    size_t b = common(old + sa[hi], on - (size_t)sa[hi], nw, nn);
    *pos = (size_t)(a >= b ? sa[lo] : sa[hi]);
    return a >= b ? a : b;
}

/*
 * bsdiff's scan: walk the target looking for an exact match that beats,
 * by more than a few bytes, simply carrying on with the current alignment
 * (the "old score"); when one does, the stretch since the last match is
 * split into an approximate match extended forwards from the last
 * alignment (kept while at least half its bytes agree), bytes inserted,
 * and the start of the new match extended backwards the same way.
 */
static int match(const uint8_t *old, size_t on, const uint8_t *nw, size_t nn, segs_t *out)
{
    saidx_t *sa = NULL;
    int err = OTTO_OK;
    if (on > 0 && (!(sa = malloc(on * sizeof *sa)) || divsufsort(old, sa, (saidx_t)on))) {
        free(sa);
        return OTTO_E_NOSPC;
    }
    size_t scan = 0, len = 0, pos = 0, last_scan = 0, last_pos = 0;
    int64_t last_off = 0;
    while (scan < nn && !err) {
        size_t old_score = 0, scsc;
        for (scsc = scan += len; scan < nn; scan++) {
            len = on ? longest(sa, old, on, nw + scan, nn - scan, &pos) : 0;
            for (; scsc < scan + len; scsc++)
                if ((int64_t)scsc + last_off >= 0 && (int64_t)scsc + last_off < (int64_t)on &&
                    old[scsc + last_off] == nw[scsc])
                    old_score++;
            if ((len == old_score && len != 0) || len > old_score + 8)
                break;
            if ((int64_t)scan + last_off >= 0 && (int64_t)scan + last_off < (int64_t)on &&
                old[scan + last_off] == nw[scan])
                old_score--;
        }
        if (len == old_score && scan != nn)
            continue;
        /* forwards from the last match, while at least half agree */
        size_t lenf = 0, lenb = 0;
        int64_t s = 0, best = 0;
        for (size_t i = 0; last_scan + i < scan && last_pos + i < on;) {
            if (old[last_pos + i] == nw[last_scan + i])
                s++;
            i++;
            if (s * 2 - (int64_t)i > best * 2 - (int64_t)lenf) {
                best = s;
                lenf = i;
            }
        }
        /* backwards from the new match */
        if (scan < nn) {
            s = best = 0;
            for (size_t i = 1; scan >= last_scan + i && pos >= i; i++) {
                if (old[pos - i] == nw[scan - i])
                    s++;
                if (s * 2 - (int64_t)i > best * 2 - (int64_t)lenb) {
                    best = s;
                    lenb = i;
                }
            }
        }
        /* where the two overlap, split where the score is best */
        if (last_scan + lenf > scan - lenb) {
            size_t overlap = (last_scan + lenf) - (scan - lenb), lens = 0;
            s = best = 0;
            for (size_t i = 0; i < overlap; i++) {
                if (nw[last_scan + lenf - overlap + i] == old[last_pos + lenf - overlap + i])
                    s++;
                if (nw[scan - lenb + i] == old[pos - lenb + i])
                    s--;
                if (s > best) {
                    best = s;
                    lens = i + 1;
                }
            }
            lenf += lens - overlap;
            lenb -= lens;
        }
        err = seg_push(out, (uint32_t)last_scan, (uint32_t)lenf, (int64_t)last_pos);
        if (!err)
            err = seg_push(out, (uint32_t)(last_scan + lenf), (uint32_t)((scan - lenb) - (last_scan + lenf)), -1);
        last_scan = scan - lenb;
        last_pos = pos - lenb;
        last_off = (int64_t)pos - (int64_t)scan;
    }
    free(sa);
    return err;
}

/* ---- the range encoder (the decoder's mirror image) --------------------- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    bool oom;
    otto_delta_models_t m;
} enc_t;

static void emit(enc_t *e, uint8_t b)
{
    if (e->len == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 65536;
        uint8_t *p = realloc(e->buf, cap);
        if (!p) {
            e->oom = true;
            return;
        }
        e->buf = p;
        e->cap = cap;
    }
    e->buf[e->len++] = b;
}

static void shift_low(enc_t *e)
{
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32)) {
        uint8_t carry = (uint8_t)(e->low >> 32), t = e->cache;
        do {
            emit(e, (uint8_t)(t + carry));
            t = 0xFF;
        } while (--e->cache_size);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

static void normalize(enc_t *e)
{
    while (e->range < (1u << 24)) {
        e->range <<= 8;
        shift_low(e);
    }
}

static void bit(enc_t *e, uint16_t *p, unsigned b)
{
    uint32_t bound = (e->range >> OTTO_DELTA_PROB_BITS) * otto_delta_p0(*p);
    if (!b) {
        e->range = bound;
    } else {
        e->low += bound;
        e->range -= bound;
    }
    *p = otto_delta_update(*p, b);
    normalize(e);
}

static void direct(enc_t *e, uint32_t v, unsigned n)
{
    while (n--) {
        e->range >>= 1;
        if (v >> n & 1)
            e->low += e->range;
        normalize(e);
    }
}

static void tree(enc_t *e, uint16_t *probs, unsigned nbits, unsigned v)
{
    unsigned i = 1;
    while (nbits--) {
        unsigned b = v >> nbits & 1;
        bit(e, &probs[i], b);
        i = i << 1 | b;
    }
}

static void value(enc_t *e, int field, uint32_t v)
{
    unsigned n = 0;
    while (n < 32 && v >> n)
        n++;
    tree(e, e->m.nbits[field], 6, n);
    if (n < 2)
        return;
    bit(e, &e->m.top[field][n], v >> (n - 2) & 1);
    direct(e, v, n - 2);
}

static void block_start(enc_t *e)
{
    uint16_t *p = (uint16_t *)&e->m;
    for (size_t i = 0; i < sizeof e->m / sizeof *p; i++)
        p[i] = OTTO_DELTA_PROB_INIT;
    e->len = 0;
    e->low = 0;
    e->range = 0xFFFFFFFFu;
    e->cache = 0;
    e->cache_size = 1;
}

static void block_end(enc_t *e)
{
    for (int i = 0; i < 5; i++)
        shift_low(e);
}

/* ---- the patch ----------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} out_t;

static int out_put(out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 65536;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *b = realloc(o->buf, cap);
        if (!b)
            return OTTO_E_NOSPC;
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return OTTO_OK;
}

/* One block: target bytes [t0, t1) from the segments that cover them,
 * starting at segment *si (advanced past those it finishes). */
static void code_block(enc_t *e, const uint8_t *old, size_t on, const uint8_t *nw, const segs_t *sg, size_t *si, uint32_t t0,
                       uint32_t t1)
{
    uint8_t hist = 0, prev = 0, b1 = 0;
    uint32_t t = t0;
    /* where the block's first add reads the base (the decoder starts there) */
    int64_t bp = 0;
    for (size_t k = *si; k < sg->n && sg->v[k].t < t1; k++)
        if (sg->v[k].b >= 0) {
            bp = sg->v[k].b + (sg->v[k].t < t0 ? t0 - sg->v[k].t : 0);
            break;
        }
    direct(e, (uint32_t)bp, 32);
    size_t k = *si;
    while (t < t1) {
        /* an add (maybe none), then an insert (maybe none), then a seek */
        uint32_t add = 0, ins = 0;
        if (k < sg->n && sg->v[k].b >= 0) {
            const seg_t *s = &sg->v[k];
            uint32_t from = t - s->t, end = s->t + s->len < t1 ? s->t + s->len : t1;
            add = end - t;
            value(e, OTTO_DELTA_F_ADD, add);
            for (uint32_t i = 0; i < add; i++) {
                size_t at = (size_t)s->b + from + i;
                uint8_t b0 = old[at], bn = at + 1 < on ? old[at + 1] : 0, diff = (uint8_t)(nw[t + i] - b0);
                unsigned nz = diff != 0;
                bit(e, &e->m.zero[OTTO_DELTA_ZERO_CTX(hist, b1, bn)], nz);
                if (nz)
                    tree(e, e->m.diff[OTTO_DELTA_DIFF_CTX(bn)], 8, diff);
                hist = (uint8_t)(hist << 1 | nz);
                b1 = b0;
                prev = nw[t + i];
            }
            bp = s->b + from + add;
            t += add;
            if (t == s->t + s->len)
                k++;
        } else {
            value(e, OTTO_DELTA_F_ADD, 0);
        }
        if (t < t1 && k < sg->n && sg->v[k].b < 0) {
            const seg_t *s = &sg->v[k];
            uint32_t end = s->t + s->len < t1 ? s->t + s->len : t1;
            ins = end - t;
            value(e, OTTO_DELTA_F_INSERT, ins);
            for (uint32_t i = 0; i < ins; i++) {
                tree(e, e->m.lit[OTTO_DELTA_LIT_CTX(prev, t + i)], 8, nw[t + i]);
                prev = nw[t + i];
            }
            t += ins;
            if (t == s->t + s->len)
                k++;
        } else {
            value(e, OTTO_DELTA_F_INSERT, 0);
        }
        if (t < t1) { /* the next add's base offset, from here */
            int64_t next = k < sg->n && sg->v[k].b >= 0 ? sg->v[k].b + (t - sg->v[k].t) : bp;
            int64_t seek = next - bp;
            value(e, OTTO_DELTA_F_SEEK, (uint32_t)(seek < 0 ? -seek : seek));
            if (seek)
                bit(e, &e->m.sign, seek < 0);
            bp = next;
        }
    }
    *si = k;
}

int otto_delta_make(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
                    uint32_t block_size, uint8_t **patch, size_t *len)
{
    segs_t sg = {0};
    out_t o = {0};
    enc_t e;
    uint8_t h[OTTO_DELTA_HEADER_LEN];
    int err;
    *patch = NULL;
    *len = 0;
    if (!block_size)
        block_size = OTTO_DELTA_BLOCK_DEFAULT;
    if (block_size < 4096 || block_size > (1u << 20) || (block_size & (block_size - 1)) || base_len > UINT32_MAX ||
        target_len > UINT32_MAX)
        return OTTO_E_INVAL;
    if ((err = match(base, base_len, target, target_len, &sg)))
        goto out;
    otto_delta_header_t hd = {block_size, (uint32_t)base_len, (uint32_t)target_len, {0}, {0}, 0};
    uint32_t nblocks = hd.nblocks = (uint32_t)(target_len / block_size + (target_len % block_size != 0));
    otto_sha256(base, base_len, hd.base_sha256);
    otto_sha256(target, target_len, hd.target_sha256);
    otto_delta_header_write(&hd, h);
    if ((err = out_put(&o, h, sizeof h)))
        goto out;
    memset(&e, 0, sizeof e);
    size_t si = 0;
    for (uint32_t k = 0; k < nblocks && !err; k++) {
        uint32_t t0 = k * block_size, t1 = t0 + block_size < target_len ? t0 + block_size : (uint32_t)target_len;
        uint8_t n[4];
        block_start(&e);
        code_block(&e, base, base_len, target, &sg, &si, t0, t1);
        block_end(&e);
        bool raw = e.len >= t1 - t0; /* nothing predicted it: the bytes as they are */
        put32(n, raw ? (t1 - t0) | 0x80000000u : (uint32_t)e.len);
        if (e.oom || (err = out_put(&o, n, 4)) ||
            (err = raw ? out_put(&o, target + t0, t1 - t0) : out_put(&o, e.buf, e.len)))
            err = err ? err : OTTO_E_NOSPC;
    }
    free(e.buf);
out:
    free(sg.v);
    if (err) {
        free(o.buf);
        return err;
    }
    *patch = o.buf;
    *len = o.len;
    return OTTO_OK;
}

/* ---- applying on the host, with the device's decoder ------------------- */

typedef struct {
    const uint8_t *base;
    size_t base_len;
    uint8_t *out;
    size_t len, cap;
} apply_t;

static int read_base(void *ctx, uint32_t off, void *buf, size_t len)
{
    apply_t *a = ctx;
    if ((size_t)off + len > a->base_len)
        return OTTO_E_CORRUPT;
    memcpy(buf, a->base + off, len);
    return OTTO_OK;
}

static int write_out(void *ctx, const void *data, size_t len)
{
    apply_t *a = ctx;
    if (a->len + len > a->cap)
        return OTTO_E_NOSPC;
    memcpy(a->out + a->len, data, len);
    a->len += len;
    return OTTO_OK;
}

int otto_delta_apply(const uint8_t *base, size_t base_len, const uint8_t *patch, size_t patch_len,
                     uint8_t **target, size_t *target_len)
{
    otto_delta_header_t h;
    uint8_t sha[32];
    int err = otto_delta_header_read(patch, patch_len, &h);
    *target = NULL;
    *target_len = 0;
    if (err)
        return err;
    otto_sha256(base, base_len, sha);
    if (h.base_size != base_len || memcmp(sha, h.base_sha256, 32))
        return OTTO_E_VERIFY; /* not this patch's base */
    otto_delta_t *d = malloc(sizeof *d);
    apply_t a = {base, base_len, malloc(h.target_size ? h.target_size : 1), 0, h.target_size};
    if (!d || !a.out) {
        free(d);
        free(a.out);
        return OTTO_E_NOSPC;
    }
    otto_delta_begin(d, read_base, write_out, &a);
    err = otto_delta_feed(d, patch, patch_len);
    if (!err)
        err = otto_delta_finish(d);
    free(d);
    if (!err) {
        otto_sha256(a.out, a.len, sha);
        if (a.len != h.target_size || memcmp(sha, h.target_sha256, 32))
            err = OTTO_E_VERIFY;
    }
    if (err) {
        free(a.out);
        return err;
    }
    *target = a.out;
    *target_len = a.len;
    return OTTO_OK;
}
