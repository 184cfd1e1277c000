/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key-value store: a log of records in a ring of flash sectors.
 *
 * Sector (sector_size bytes):
 *   0  u32 magic "OKV1"   4  u32 seq (1, 2, ...; higher is newer)
 *   8  u32 crc32(magic, seq)      12 u32 state: 0xFFFFFFFF in use, 0 retired
 *   16 records, each 4-byte aligned, until the first blank (0xFF) header
 * Record:
 *   0 u8 type (1 int, 2 str, 3 blob, 4 deleted)  1 u8 key length (1-15)
 *   2 u16 value length  4 u32 crc32(bytes 0-3, key, value)
 *   8 key, value, 0xFF padding to a multiple of 4
 *
 * The newest record of a key (highest sector seq, then highest offset) is its
 * value. A record is written whole, then read back; one that is torn fails
 * its CRC and is ignored, and the sector it is in takes no more records (its
 * length can no longer be trusted to find the next one).
 *
 * When the active sector is full the next erased sector in the ring becomes
 * active. When that used the last erased sector, the oldest sector is
 * compacted: its live records are copied into the new active sector, it is
 * marked retired (state word programmed to 0), then erased. A cut during
 * compaction leaves no erased sector; mount sees that, erases the new sector
 * (it holds only copies of records that still exist) and compaction runs
 * again later. Retired or torn sectors are erased at mount.
 */
#include "otto/kv.h"

#include <string.h>

#include "internal/util.h"
#include "otto/crypto.h"

#define SEC_MAGIC  0x314B564Fu /* "OKV1" little-endian */
#define SEC_HDR    16u
#define REC_HDR    8u
#define STATE_USED 0xFFFFFFFFu
#define CHUNK      64u
#define WP(kv)     ((kv)->end[(kv)->active]) /* where the next record goes */

enum { T_INT = 1, T_STR = 2, T_BLOB = 3, T_DEL = 4 };
enum { REC_VALID, REC_BLANK, REC_BAD };

typedef struct {
    int state;
    uint8_t type, klen;
    uint16_t vlen;
    uint32_t crc, len;
    char key[OTTO_KV_KEY_MAX + 1];
} rec_t;

typedef struct {
    int found;
    uint16_t sec;
    uint32_t off;
    rec_t r;
} loc_t;

static uint32_t align4(uint32_t n) { return (n + 3u) & ~3u; }

static uint32_t sec_off(const otto_kv_t *kv, unsigned i) { return kv->base + (uint32_t)i * kv->sector; }

static int rd(const otto_kv_t *kv, uint32_t off, void *buf, uint32_t len)
{
    return kv->flash->read(kv->flash->ctx, off, buf, len);
}

static int blank(const otto_kv_t *kv, uint32_t off, uint32_t len, bool *is_blank)
{
    uint8_t b[CHUNK];
    *is_blank = true;
    while (len) {
        uint32_t n = len < CHUNK ? len : CHUNK;
        int err = rd(kv, off, b, n);
        if (err)
            return err;
        for (uint32_t i = 0; i < n; i++)
            if (b[i] != 0xFF) {
                *is_blank = false;
                return OTTO_OK;
            }
        off += n;
        len -= n;
    }
    return OTTO_OK;
}

static int erase_sec(otto_kv_t *kv, unsigned i)
{
    kv->seq[i] = 0;
    kv->end[i] = 0;
    kv->erases++;
    return kv->flash->erase(kv->flash->ctx, sec_off(kv, i), kv->sector);
}

static bool key_ok(const char *key, size_t *len)
{
    size_t n = 0;
    if (!key)
        return false;
    for (; key[n]; n++)
        if (n >= OTTO_KV_KEY_MAX || key[n] < 0x21 || key[n] > 0x7e)
            return false;
    *len = n;
    return n > 0;
}

/* Read the header at sector i: its seq if valid and in use, else 0. */
static int sec_seq(const otto_kv_t *kv, unsigned i, uint32_t *seq)
{
    uint8_t h[SEC_HDR];
    int err = rd(kv, sec_off(kv, i), h, SEC_HDR);
    *seq = 0;
    if (err)
        return err;
    if (otto_get_le32(h) == SEC_MAGIC && otto_get_le32(h + 4) != 0 && otto_get_le32(h + 12) == STATE_USED &&
        otto_get_le32(h + 8) == otto_crc32_le(0xFFFFFFFFu, h, 8))
        *seq = otto_get_le32(h + 4);
    return OTTO_OK;
}

/* The fields of a record header. */
static void rec_decode(const uint8_t h[REC_HDR], rec_t *r)
{
    r->type = h[0];
    r->klen = h[1];
    r->vlen = otto_get_le16(h + 2);
    r->crc = otto_get_le32(h + 4);
    r->len = align4(REC_HDR + r->klen + r->vlen);
}

/* Read and check the record at offset p of sector i. */
static int rec_read(const otto_kv_t *kv, unsigned i, uint32_t p, rec_t *r)
{
    uint8_t h[REC_HDR], b[CHUNK];
    r->state = REC_BAD;
    if (p + REC_HDR > kv->sector) {
        r->state = REC_BLANK; /* the sector is simply full */
        return OTTO_OK;
    }
    int err = rd(kv, sec_off(kv, i) + p, h, REC_HDR);
    if (err)
        return err;
    static const uint8_t ff[REC_HDR] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (!memcmp(h, ff, REC_HDR)) {
        r->state = REC_BLANK;
        return OTTO_OK;
    }
    rec_decode(h, r);
    if (r->type < T_INT || r->type > T_DEL || r->klen == 0 || r->klen > OTTO_KV_KEY_MAX ||
        r->vlen > OTTO_KV_VALUE_MAX || p + r->len > kv->sector ||
        (r->type == T_INT && r->vlen != 8) || (r->type == T_DEL && r->vlen != 0))
        return OTTO_OK;
    uint32_t crc = otto_crc32_le(0xFFFFFFFFu, h, 4);
    uint32_t off = sec_off(kv, i) + p + REC_HDR, left = (uint32_t)r->klen + r->vlen, done = 0;
    while (left) {
        uint32_t n = left < CHUNK ? left : CHUNK;
        if ((err = rd(kv, off, b, n)))
            return err;
        for (uint32_t k = 0; k < n && done + k < r->klen; k++)
            r->key[done + k] = (char)b[k];
        crc = otto_crc32_le(crc, b, n);
        off += n;
        done += n;
        left -= n;
    }
    r->key[r->klen] = 0;
    if (crc == r->crc)
        r->state = REC_VALID;
    return OTTO_OK;
}

/* Header and key of a record below end[i], already checked by rec_read when
 * it was mounted or written: no CRC pass needed. */
static int rec_head(const otto_kv_t *kv, unsigned i, uint32_t p, rec_t *r)
{
    uint8_t h[REC_HDR + OTTO_KV_KEY_MAX];
    uint32_t n = REC_HDR + OTTO_KV_KEY_MAX;
    if (p + n > kv->sector)
        n = kv->sector - p;
    int err = rd(kv, sec_off(kv, i) + p, h, n);
    if (err)
        return err;
    r->state = REC_VALID;
    rec_decode(h, r);
    if (r->klen == 0 || r->klen > OTTO_KV_KEY_MAX || REC_HDR + r->klen > n || r->len > kv->end[i] - p)
        return OTTO_E_IO; /* changed under us: the flash is failing */
    memcpy(r->key, h + REC_HDR, r->klen);
    r->key[r->klen] = 0;
    return OTTO_OK;
}

/* The newest valid record of key, over every sector in use. */
static int find(const otto_kv_t *kv, const char *key, loc_t *out)
{
    uint32_t best = 0;
    out->found = 0;
    for (unsigned i = 0; i < kv->nsec; i++) {
        if (!kv->seq[i] || kv->seq[i] < best)
            continue;
        rec_t r;
        for (uint32_t p = SEC_HDR; p < kv->end[i]; p += r.len) {
            int err = rec_head(kv, i, p, &r);
            if (err)
                return err;
            if (!strcmp(r.key, key)) {
                best = kv->seq[i];
                out->found = 1;
                out->sec = (uint16_t)i;
                out->off = p;
                out->r = r;
            }
        }
    }
    return OTTO_OK;
}

/* Program bytes produced by src(j) for j in [0, len) at off, CHUNK at a time. */
typedef struct {
    const uint8_t *hdr, *key, *val;
    uint32_t klen, vlen;
} rec_src_t;

static uint8_t rec_byte(const rec_src_t *s, uint32_t j)
{
    if (j < REC_HDR)
        return s->hdr[j];
    j -= REC_HDR;
    if (j < s->klen)
        return s->key[j];
    j -= s->klen;
    return j < s->vlen ? s->val[j] : 0xFF;
}

static int program_rec(otto_kv_t *kv, uint32_t off, const rec_src_t *s, uint32_t len)
{
    uint8_t b[CHUNK];
    for (uint32_t done = 0; done < len; done += CHUNK) {
        uint32_t n = len - done < CHUNK ? len - done : CHUNK;
        for (uint32_t j = 0; j < n; j++)
            b[j] = rec_byte(s, done + j);
        int err = kv->flash->program(kv->flash->ctx, off + done, b, n);
        if (err)
            return err;
    }
    return OTTO_OK;
}

/* Copy a record's bytes within the flash (compaction). */
static int copy_rec(otto_kv_t *kv, uint32_t from, uint32_t to, uint32_t len)
{
    uint8_t b[CHUNK];
    for (uint32_t done = 0; done < len; done += CHUNK) {
        uint32_t n = len - done < CHUNK ? len - done : CHUNK;
        int err = rd(kv, from + done, b, n);
        if (!err)
            err = kv->flash->program(kv->flash->ctx, to + done, b, n);
        if (err)
            return err;
    }
    return OTTO_OK;
}

/* Make sector i the active one with the given seq. */
static int open_sec(otto_kv_t *kv, unsigned i, uint32_t seq)
{
    uint8_t h[SEC_HDR];
    bool is_blank;
    uint32_t got;
    int err = blank(kv, sec_off(kv, i), kv->sector, &is_blank);
    if (!err && !is_blank)
        err = erase_sec(kv, i);
    if (err)
        return err;
    otto_put_le32(h, SEC_MAGIC);
    otto_put_le32(h + 4, seq);
    otto_put_le32(h + 8, otto_crc32_le(0xFFFFFFFFu, h, 8));
    otto_put_le32(h + 12, STATE_USED);
    if ((err = kv->flash->program(kv->flash->ctx, sec_off(kv, i), h, SEC_HDR)) ||
        (err = sec_seq(kv, i, &got)))
        return err;
    if (got != seq)
        return OTTO_E_IO;
    kv->seq[i] = seq;
    kv->end[i] = SEC_HDR;
    kv->active = (uint16_t)i;
    kv->active_full = false;
    return OTTO_OK;
}

static unsigned count_spares(const otto_kv_t *kv)
{
    unsigned n = 0;
    for (unsigned i = 0; i < kv->nsec; i++)
        n += kv->seq[i] == 0;
    return n;
}

static uint32_t max_seq(const otto_kv_t *kv, unsigned *at)
{
    uint32_t m = 0;
    for (unsigned i = 0; i < kv->nsec; i++)
        if (kv->seq[i] > m) {
            m = kv->seq[i];
            *at = i;
        }
    return m;
}

/* Retire (state word to 0, so a torn erase cannot revive it) and erase. */
static int retire(otto_kv_t *kv, unsigned i)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    int err = kv->flash->program(kv->flash->ctx, sec_off(kv, i) + 12, zero, 4);
    return err ? err : erase_sec(kv, i);
}

/* Copy the live records of the oldest sector into the active one, then
 * retire and erase it. */
static int compact_oldest(otto_kv_t *kv)
{
    unsigned old = kv->nsec;
    for (unsigned i = 0; i < kv->nsec; i++)
        if (kv->seq[i] && i != kv->active && (old == kv->nsec || kv->seq[i] < kv->seq[old]))
            old = i;
    if (old == kv->nsec)
        return OTTO_E_NOSPC;
    rec_t r;
    for (uint32_t p = SEC_HDR; p < kv->end[old]; p += r.len) {
        loc_t l;
        int err = rec_head(kv, old, p, &r);
        if (err)
            return err;
        if (r.type == T_DEL)
            continue; /* nothing older survives this sector */
        if ((err = find(kv, r.key, &l)))
            return err;
        if (l.sec != old || l.off != p)
            continue; /* a newer record exists */
        if (WP(kv) + r.len > kv->sector)
            return OTTO_E_NOSPC; /* cannot happen: one sector's records fit one sector */
        uint32_t to = sec_off(kv, kv->active) + WP(kv);
        rec_t back;
        if ((err = copy_rec(kv, sec_off(kv, old) + p, to, r.len)) ||
            (err = rec_read(kv, kv->active, WP(kv), &back)))
            return err;
        if (back.state != REC_VALID)
            return OTTO_E_IO;
        WP(kv) += r.len;
    }
    return retire(kv, old);
}

/* The active sector is done: open the next erased one, compacting when that
 * was the last. */
static int advance(otto_kv_t *kv)
{
    unsigned spares = count_spares(kv), at = 0, next = kv->nsec;
    uint32_t seq = max_seq(kv, &at) + 1;
    for (unsigned k = 1; k <= kv->nsec; k++) {
        unsigned i = (kv->active + k) % kv->nsec;
        if (!kv->seq[i]) {
            next = i;
            break;
        }
    }
    if (next == kv->nsec)
        return OTTO_E_CORRUPT; /* mount keeps one spare; lost it */
    int err = open_sec(kv, next, seq);
    if (!err && spares == 1)
        err = compact_oldest(kv);
    return err;
}

static int append(otto_kv_t *kv, uint8_t type, const char *key, size_t klen, const void *val,
                  uint32_t vlen)
{
    uint8_t hdr[REC_HDR];
    hdr[0] = type;
    hdr[1] = (uint8_t)klen;
    hdr[2] = (uint8_t)vlen;
    hdr[3] = (uint8_t)(vlen >> 8);
    uint32_t crc = otto_crc32_le(0xFFFFFFFFu, hdr, 4);
    crc = otto_crc32_le(crc, key, klen);
    crc = otto_crc32_le(crc, val, vlen);
    otto_put_le32(hdr + 4, crc);
    rec_src_t s = {hdr, (const uint8_t *)key, (const uint8_t *)val, (uint32_t)klen, vlen};
    uint32_t len = align4(REC_HDR + (uint32_t)klen + vlen);
    if (len > kv->sector - SEC_HDR)
        return OTTO_E_NOSPC;

    for (unsigned tries = 0; tries <= kv->nsec; tries++) {
        bool is_blank = false;
        int err = OTTO_OK;
        if (!kv->active_full && WP(kv) + len <= kv->sector)
            err = blank(kv, sec_off(kv, kv->active) + WP(kv), len, &is_blank);
        if (err)
            return err;
        if (is_blank) {
            rec_t back;
            if ((err = program_rec(kv, sec_off(kv, kv->active) + WP(kv), &s, len)) ||
                (err = rec_read(kv, kv->active, WP(kv), &back)))
                return err;
            if (back.state == REC_VALID && back.crc == crc) {
                WP(kv) += len;
                return OTTO_OK;
            }
            kv->active_full = true; /* a bad cell: leave this sector */
        }
        if ((err = advance(kv)))
            return err;
    }
    return OTTO_E_NOSPC;
}

/* Write only what changes: a record equal to the newest one is skipped. */
static int same_value(otto_kv_t *kv, const loc_t *l, uint8_t type, const void *val, uint32_t vlen,
                      bool *same)
{
    uint8_t b[CHUNK];
    *same = false;
    if (!l->found || l->r.type != type || l->r.vlen != vlen)
        return OTTO_OK;
    uint32_t off = sec_off(kv, l->sec) + l->off + REC_HDR + l->r.klen;
    for (uint32_t done = 0; done < vlen; done += CHUNK) {
        uint32_t n = vlen - done < CHUNK ? vlen - done : CHUNK;
        int err = rd(kv, off + done, b, n);
        if (err)
            return err;
        if (memcmp(b, (const uint8_t *)val + done, n))
            return OTTO_OK;
    }
    *same = true;
    return OTTO_OK;
}

static int set(otto_kv_t *kv, uint8_t type, const char *key, const void *val, size_t vlen)
{
    size_t klen;
    loc_t l;
    bool same;
    if (!kv || !kv->flash || !key_ok(key, &klen) || vlen > OTTO_KV_VALUE_MAX || (vlen && !val))
        return OTTO_E_INVAL;
    int err = find(kv, key, &l);
    if (!err && type == T_DEL && (!l.found || l.r.type == T_DEL))
        return OTTO_OK;
    if (!err)
        err = same_value(kv, &l, type, val, (uint32_t)vlen, &same);
    if (err || same)
        return err;
    return append(kv, type, key, klen, val, (uint32_t)vlen);
}

static int get(otto_kv_t *kv, uint8_t type, const char *key, void *buf, size_t cap, size_t *len)
{
    size_t klen;
    loc_t l;
    if (!kv || !kv->flash || !key_ok(key, &klen))
        return OTTO_E_INVAL;
    int err = find(kv, key, &l);
    if (err)
        return err;
    if (!l.found || l.r.type != type)
        return OTTO_E_NOTFOUND;
    *len = l.r.vlen;
    if (l.r.vlen > cap)
        return OTTO_E_NOSPC;
    return l.r.vlen ? rd(kv, sec_off(kv, l.sec) + l.off + REC_HDR + l.r.klen, buf, l.r.vlen) : OTTO_OK;
}

int otto_kv_mount(otto_kv_t *kv, const otto_flash_t *flash, uint32_t off, uint32_t size,
                  bool format, otto_kv_mount_t *how)
{
    uint32_t dirty = 0; /* sectors that are neither in use nor erased */
    bool any = false;
    otto_kv_mount_t h = OTTO_KV_MOUNTED;
    int err;
    if (!kv || !flash || !flash->sector_size || flash->write_align > 4 ||
        off % flash->sector_size || size % flash->sector_size ||
        size / flash->sector_size < 2 || size / flash->sector_size > OTTO_CONFIG_KV_SECTORS_MAX ||
        off + size > flash->size || off + size < off || flash->sector_size < 256)
        return OTTO_E_INVAL;
    memset(kv, 0, sizeof *kv);
    kv->flash = flash;
    kv->base = off;
    kv->sector = flash->sector_size;
    kv->nsec = (uint16_t)(size / flash->sector_size);

    for (unsigned i = 0; i < kv->nsec; i++) {
        bool is_blank;
        if ((err = sec_seq(kv, i, &kv->seq[i])))
            return err;
        if (kv->seq[i]) {
            any = true;
            continue;
        }
        if ((err = blank(kv, sec_off(kv, i), kv->sector, &is_blank)))
            return err;
        if (!is_blank)
            dirty |= 1u << i;
    }
    if (!any && dirty && !format)
        return OTTO_E_CORRUPT;
    for (unsigned i = 0; i < kv->nsec; i++)
        if ((dirty >> i & 1u) && (err = erase_sec(kv, i)))
            return err;
    if (!any) {
        h = dirty ? OTTO_KV_FORMATTED : OTTO_KV_EMPTY;
        if ((err = open_sec(kv, 0, 1)))
            return err;
    } else {
        unsigned at = 0;
        for (unsigned i = 0; i < kv->nsec; i++) {
            rec_t r;
            uint32_t p = SEC_HDR;
            for (; kv->seq[i]; p += r.len) {
                if ((err = rec_read(kv, i, p, &r)))
                    return err;
                if (r.state != REC_VALID)
                    break;
            }
            kv->end[i] = kv->seq[i] ? p : 0;
        }
        max_seq(kv, &at);
        if (count_spares(kv) == 0) {
            /* Cut during compaction: the newest sector holds only copies. */
            if ((err = retire(kv, at)))
                return err;
            max_seq(kv, &at);
        }
        kv->active = (uint16_t)at;
        rec_t r;
        if ((err = rec_read(kv, at, WP(kv), &r)))
            return err;
        kv->active_full = r.state == REC_BAD; /* a torn record ends the sector */
    }
    if (how)
        *how = h;
    return OTTO_OK;
}

int otto_kv_set_int(otto_kv_t *kv, const char *key, int64_t value)
{
    uint8_t b[8];
    otto_put_le32(b, (uint32_t)(uint64_t)value);
    otto_put_le32(b + 4, (uint32_t)((uint64_t)value >> 32));
    return set(kv, T_INT, key, b, 8);
}

int otto_kv_get_int(otto_kv_t *kv, const char *key, int64_t *value)
{
    uint8_t b[8];
    size_t len;
    int err = get(kv, T_INT, key, b, sizeof b, &len);
    if (!err)
        *value = (int64_t)((uint64_t)otto_get_le32(b) | (uint64_t)otto_get_le32(b + 4) << 32);
    return err;
}

int otto_kv_set_str(otto_kv_t *kv, const char *key, const char *value)
{
    return value ? set(kv, T_STR, key, value, strlen(value)) : OTTO_E_INVAL;
}

int otto_kv_get_str(otto_kv_t *kv, const char *key, char *buf, size_t cap)
{
    size_t len;
    if (!buf || cap == 0)
        return OTTO_E_INVAL;
    int err = get(kv, T_STR, key, buf, cap - 1, &len);
    buf[err ? 0 : len] = 0;
    return err;
}

int otto_kv_set_blob(otto_kv_t *kv, const char *key, const void *value, size_t len)
{
    return set(kv, T_BLOB, key, value, len);
}

int otto_kv_get_blob(otto_kv_t *kv, const char *key, void *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int err = get(kv, T_BLOB, key, buf, cap, &n);
    if (len)
        *len = n;
    return err;
}

int otto_kv_erase(otto_kv_t *kv, const char *key)
{
    return set(kv, T_DEL, key, NULL, 0);
}

uint32_t otto_kv_free(const otto_kv_t *kv)
{
    unsigned spares = count_spares(kv);
    uint32_t n = kv->active_full || WP(kv) > kv->sector ? 0 : kv->sector - WP(kv);
    return n + (spares > 1 ? (uint32_t)(spares - 1) * (kv->sector - SEC_HDR) : 0);
}

/* ---- as the agent's store (store.h) ------------------------------------ */

static int s_get_int(void *c, const char *k, int64_t *v) { return otto_kv_get_int(c, k, v); }
static int s_set_int(void *c, const char *k, int64_t v) { return otto_kv_set_int(c, k, v); }
static int s_get_str(void *c, const char *k, char *b, size_t cap) { return otto_kv_get_str(c, k, b, cap); }
static int s_set_str(void *c, const char *k, const char *v) { return otto_kv_set_str(c, k, v); }
static int s_get_blob(void *c, const char *k, void *b, size_t cap, size_t *len)
{
    return otto_kv_get_blob(c, k, b, cap, len);
}
static int s_set_blob(void *c, const char *k, const void *v, size_t len) { return otto_kv_set_blob(c, k, v, len); }
static int s_erase(void *c, const char *k) { return otto_kv_erase(c, k); }

void otto_kv_store(otto_kv_t *kv, otto_store_t *s)
{
    s->ctx = kv;
    s->get_int = s_get_int;
    s->set_int = s_set_int;
    s->get_str = s_get_str;
    s->set_str = s_set_str;
    s->get_blob = s_get_blob;
    s->set_blob = s_set_blob;
    s->erase = s_erase;
}
