/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "simflash.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, seedable, good enough to pick torn bytes */
static uint64_t rnd(otto_power_t *pw)
{
    uint64_t z = (pw->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void otto_power_init(otto_power_t *pw)
{
    memset(pw, 0, sizeof(*pw));
}

void otto_power_arm(otto_power_t *pw, uint64_t at, otto_cut_mode_t mode, uint64_t seed)
{
    otto_power_arm_tear(pw, at, mode, 0, seed);
}

void otto_power_arm_tear(otto_power_t *pw, uint64_t at, otto_cut_mode_t mode, uint32_t tear,
                         uint64_t seed)
{
    pw->cut_at = at ? pw->ops + at : 0;
    pw->mode = mode;
    pw->tear = tear;
    pw->seed = seed;
    pw->rng = seed;
    pw->off = false;
}

void otto_power_restore(otto_power_t *pw)
{
    pw->cut_at = 0;
    pw->off = false;
}

static const char *const mode_names[OTTO_CUT_MODES] = {
    "before", "after", "torn", "prog-at", "prog-bits", "erase-or", "erase-near", "erase-meta"};

const char *otto_cut_mode_name(otto_cut_mode_t m)
{
    return (unsigned)m < OTTO_CUT_MODES ? mode_names[m] : "?";
}

int otto_cut_mode_parse(const char *s, otto_cut_mode_t *m)
{
    for (unsigned i = 0; i < OTTO_CUT_MODES; i++)
        if (!strcmp(s, mode_names[i])) {
            *m = (otto_cut_mode_t)i;
            return OTTO_OK;
        }
    return OTTO_E_INVAL;
}

/* Counts a modifying op (and logs it). Returns 0 to do it normally, 1 when
 * it is the op to cut (the caller applies the mode), or OTTO_E_IO when
 * power is off. */
static int power_tick(otto_power_t *pw, otto_op_kind_t kind, uint32_t off, uint32_t len)
{
    otto_op_t op = {(uint8_t)kind, off, len};
    if (pw->off)
        return OTTO_E_IO;
    pw->ops++;
    if (pw->log && pw->ops <= pw->log_cap)
        pw->log[pw->ops - 1] = op;
    if (pw->cut_at && pw->ops == pw->cut_at) {
        pw->off = true;
        pw->landed++;
        pw->landed_at = pw->ops;
        pw->landed_op = op;
        return 1;
    }
    return 0;
}

/* Weak bits of a metastable erase read 0 now and then. */
static void meta_apply(otto_simflash_t *f, uint32_t off, uint8_t *buf, uint32_t len)
{
    for (unsigned i = 0; i < f->nmeta; i++) {
        uint32_t a = f->meta[i].addr;
        if (a >= off && a - off < len)
            buf[a - off] &= (uint8_t)~(f->meta[i].mask & (uint8_t)rnd(f->power));
    }
}

static void meta_forget(otto_simflash_t *f, uint32_t sector_off)
{
    unsigned k = 0;
    for (unsigned i = 0; i < f->nmeta; i++)
        if (f->meta[i].addr / f->sector != sector_off / f->sector)
            f->meta[k++] = f->meta[i];
    f->nmeta = k;
}

/* 1-8 bits of the sector, chosen at random. */
static unsigned pick_bits(otto_simflash_t *f, uint32_t s, uint32_t *addr, uint8_t *mask)
{
    unsigned n = 1u + (unsigned)(rnd(f->power) % 8u);
    for (unsigned i = 0; i < n; i++) {
        addr[i] = s + (uint32_t)(rnd(f->power) % f->sector);
        mask[i] = (uint8_t)(1u << (rnd(f->power) % 8u));
    }
    return n;
}

static int f_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    otto_simflash_t *f = ctx;
    if (f->power->off)
        return OTTO_E_IO;
    if (off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    f->power->reads++;
    memcpy(buf, f->mem + off, len);
    if (f->nmeta)
        meta_apply(f, off, buf, len);
    return OTTO_OK;
}

static int f_program(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    otto_simflash_t *f = ctx;
    const uint8_t *src = buf;
    uint8_t *dst;
    int cut;

    if (off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    dst = f->mem + off;
    cut = power_tick(f->power, OTTO_OP_PROGRAM, off, len);
    if (cut < 0)
        return cut;
    f->power->programs++;
    if (f->strict) {
        for (uint32_t i = 0; i < len; i++) {
            if ((uint8_t)(dst[i] & src[i]) != src[i]) {
                f->violations++;
                return cut ? OTTO_E_IO : OTTO_E_PROGRAM;
            }
        }
    }
    otto_cut_mode_t mode = f->power->mode;
    if (cut && mode == OTTO_CUT_BEFORE)
        return OTTO_E_IO;
    if (cut && (mode == OTTO_CUT_PROG_AT || mode == OTTO_CUT_PROG_BITS)) {
        uint32_t k = f->power->tear < len ? f->power->tear : len;
        for (uint32_t i = 0; i < k; i++)
            dst[i] &= src[i];
        if (mode == OTTO_CUT_PROG_BITS && k < len) {
            uint8_t clear = (uint8_t)(dst[k] & ~src[k]);
            dst[k] &= (uint8_t)~(clear & (uint8_t)rnd(f->power));
        }
        return OTTO_E_IO;
    }
    if (cut && mode != OTTO_CUT_AFTER) { /* TORN, or an erase mode on a program */
        uint32_t k = len > 1 ? (uint32_t)(rnd(f->power) % len) : 0;
        for (uint32_t i = 0; i < k; i++)
            dst[i] &= src[i];
        for (uint32_t i = k; i < len; i++) {
            uint8_t clear = (uint8_t)(dst[i] & ~src[i]); /* bits that should go 1->0 */
            dst[i] &= (uint8_t)~(clear & (uint8_t)rnd(f->power));
        }
        return OTTO_E_IO;
    }
    for (uint32_t i = 0; i < len; i++)
        dst[i] &= src[i];
    return cut ? OTTO_E_IO : OTTO_OK;
}

static int f_erase(void *ctx, uint32_t off, uint32_t len)
{
    otto_simflash_t *f = ctx;

    if (off % f->sector || len % f->sector || off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    /* One op per sector: real chips erase sector by sector, and a cut can
     * land between two of them. */
    for (uint32_t s = off; s < off + len; s += f->sector) {
        int cut = power_tick(f->power, OTTO_OP_ERASE, s, f->sector);
        if (cut < 0)
            return cut;
        f->power->erases++;
        otto_cut_mode_t mode = f->power->mode;
        if (cut && mode == OTTO_CUT_BEFORE)
            return OTTO_E_IO;
        if (cut && mode != OTTO_CUT_AFTER) {
            uint32_t addr[8];
            uint8_t mask[8];
            f->wear[s / f->sector]++;
            meta_forget(f, s);
            if (mode == OTTO_CUT_ERASE_NEAR || mode == OTTO_CUT_ERASE_META) {
                memset(f->mem + s, 0xFF, f->sector);
                unsigned n = pick_bits(f, s, addr, mask);
                for (unsigned i = 0; i < n; i++) {
                    if (mode == OTTO_CUT_ERASE_NEAR) {
                        f->mem[addr[i]] &= (uint8_t)~mask[i];
                    } else if (f->nmeta < OTTO_SIMFLASH_META_MAX) {
                        f->meta[f->nmeta].addr = addr[i];
                        f->meta[f->nmeta++].mask = mask[i];
                    }
                }
            } else { /* ERASE_OR, TORN, or a program mode on an erase */
                for (uint32_t i = 0; i < f->sector; i++)
                    f->mem[s + i] |= (uint8_t)rnd(f->power);
            }
            return OTTO_E_IO;
        }
        memset(f->mem + s, 0xFF, f->sector);
        meta_forget(f, s);
        f->wear[s / f->sector]++;
        if (cut)
            return OTTO_E_IO;
    }
    return OTTO_OK;
}

int otto_simflash_init(otto_simflash_t *f, otto_power_t *pw, uint32_t size, uint32_t sector)
{
    if (!sector || size % sector)
        return OTTO_E_INVAL;
    memset(f, 0, sizeof(*f));
    f->power = pw;
    f->size = size;
    f->sector = sector;
    f->fd = -1;
    f->strict = true;
    f->wear = calloc(size / sector, sizeof(uint32_t));
    return f->wear ? OTTO_OK : OTTO_E_NOSPC;
}

int otto_simflash_open_mem(otto_simflash_t *f, otto_power_t *pw, uint32_t size, uint32_t sector)
{
    int err = otto_simflash_init(f, pw, size, sector);
    if (err)
        return err;
    f->mem = malloc(size);
    if (!f->mem) {
        free(f->wear);
        return OTTO_E_NOSPC;
    }
    memset(f->mem, 0xFF, size);
    return OTTO_OK;
}

void otto_simflash_close(otto_simflash_t *f)
{
    if (f->release)
        f->release(f); /* a file flash (simflash_file.c) */
    else
        free(f->mem);
    free(f->wear);
    f->mem = NULL;
    f->wear = NULL;
}

void otto_simflash_hal(otto_simflash_t *f, otto_flash_t *hal)
{
    hal->ctx = f;
    hal->read = f_read;
    hal->program = f_program;
    hal->erase = f_erase;
    hal->size = f->size;
    hal->sector_size = f->sector;
    hal->write_align = 1;
}

void otto_simflash_load(otto_simflash_t *f, uint32_t off, const void *src, uint32_t len)
{
    memcpy(f->mem + off, src, len);
}

uint32_t otto_simflash_rot(otto_simflash_t *f, uint32_t off, uint32_t len, uint64_t seed)
{
    otto_power_t pw = {0};
    pw.rng = seed;
    uint64_t r = rnd(&pw);
    uint32_t at = off + (uint32_t)(r % len);
    f->mem[at] ^= (uint8_t)(1u << ((r >> 32) % 8u));
    return at;
}

void otto_simflash_reset_faults(otto_simflash_t *f)
{
    f->nmeta = 0;
    f->violations = 0;
    memset(f->wear, 0, (f->size / f->sector) * sizeof(uint32_t));
}

/* ---- eFuse ---- */

static unsigned popcount32(uint32_t v)
{
    return (unsigned)__builtin_popcount(v);
}

static int e_save(otto_simefuse_t *e)
{
    FILE *fp;
    if (!e->path[0])
        return OTTO_OK;
    fp = fopen(e->path, "w");
    if (!fp)
        return OTTO_E_IO;
    fprintf(fp, "0x%08" PRIx32 "\n", e->bits);
    for (unsigned i = 0; i < e->sb_n; i++) {
        fprintf(fp, "sbv2 %s ", e->sb_revoked & (1u << i) ? "revoked" : "active");
        for (int k = 0; k < 32; k++)
            fprintf(fp, "%02x", e->sb_digest[i][k]);
        fputc('\n', fp);
    }
    return fclose(fp) == 0 ? OTTO_OK : OTTO_E_IO;
}

static int e_read(void *ctx, uint32_t *value)
{
    otto_simefuse_t *e = ctx;
    if (e->power->off)
        return OTTO_E_IO;
    *value = popcount32(e->bits);
    return OTTO_OK;
}

static int e_raise(void *ctx, uint32_t value)
{
    otto_simefuse_t *e = ctx;
    uint32_t want, add;
    int cut;

    if (value > e->width)
        return OTTO_E_INVAL;
    if (popcount32(e->bits) >= value)
        return e->power->off ? OTTO_E_IO : OTTO_OK;
    cut = power_tick(e->power, OTTO_OP_BURN, 0, 0);
    if (cut < 0)
        return cut;
    e->power->burns++;
    want = value >= 32 ? 0xFFFFFFFFu : ((1u << value) - 1u);
    add = want & ~e->bits;
    if (cut && e->power->mode == OTTO_CUT_BEFORE)
        return OTTO_E_IO;
    if (cut && e->power->mode != OTTO_CUT_AFTER)
        add &= (uint32_t)rnd(e->power); /* torn: about half the bits burnt */
    e->bits |= add;
    int err = e_save(e);
    return cut ? OTTO_E_IO : err;
}

int otto_simefuse_open(otto_simefuse_t *e, otto_power_t *pw, const char *path, uint32_t width)
{
    memset(e, 0, sizeof(*e));
    e->power = pw;
    e->width = width > 32 ? 32 : width;
    if (path) {
        FILE *fp;
        snprintf(e->path, sizeof(e->path), "%s", path);
        fp = fopen(path, "r");
        if (fp) {
            unsigned v = 0;
            char state[16], hex[65];
            int ok = fscanf(fp, "%x", &v) == 1;
            while (ok && e->sb_n < OTTO_SBV2_KEYS && fscanf(fp, " sbv2 %15s %64s", state, hex) == 2) {
                for (int k = 0; k < 32 && ok; k++) {
                    unsigned b;
                    ok = sscanf(hex + 2 * k, "%2x", &b) == 1;
                    e->sb_digest[e->sb_n][k] = (uint8_t)b;
                }
                if (!strcmp(state, "revoked"))
                    e->sb_revoked |= 1u << e->sb_n;
                e->sb_n++;
            }
            fclose(fp);
            if (!ok)
                return OTTO_E_CORRUPT;
            e->bits = v;
        } else {
            return e_save(e);
        }
    }
    return OTTO_OK;
}

void otto_simefuse_hal(otto_simefuse_t *e, otto_efuse_t *hal)
{
    hal->ctx = e;
    hal->read_secure_version = e_read;
    hal->raise_secure_version = e_raise;
    hal->width = e->width;
}

int otto_simefuse_sbv2_burn(otto_simefuse_t *e, const uint8_t digest[32])
{
    for (unsigned i = 0; i < e->sb_n; i++)
        if (!memcmp(e->sb_digest[i], digest, 32))
            return OTTO_OK;
    if (e->sb_n == OTTO_SBV2_KEYS)
        return OTTO_E_NOSPC;
    memcpy(e->sb_digest[e->sb_n++], digest, 32);
    return e_save(e);
}

int otto_simefuse_sbv2_revoke(otto_simefuse_t *e, unsigned i)
{
    if (i >= e->sb_n)
        return OTTO_E_NOTFOUND;
    e->sb_revoked |= 1u << i;
    return e_save(e);
}

int otto_simefuse_sbv2_read(void *ctx, uint8_t digest[OTTO_SBV2_KEYS][32], unsigned *n,
                            unsigned *revoked)
{
    otto_simefuse_t *e = ctx;
    if (e->power->off)
        return OTTO_E_IO;
    memcpy(digest, e->sb_digest, sizeof e->sb_digest);
    *n = e->sb_n;
    *revoked = e->sb_revoked;
    return OTTO_OK;
}
