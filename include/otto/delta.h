/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto's delta patches: the decoder (device/delta.c). A patch turns a base
 * image (what the device runs) into a target image, block by block: each
 * block of the target decodes on its own (its models start fresh, it says
 * where in the base it starts), so a device that lost power resumes at the
 * block it was on with a few bytes of state. The format, field by field,
 * is in docs/formats.md ("Delta patches"); the encoder is host/delta.c.
 *
 * Memory: an otto_delta_t is all of it (OTTO_DELTA_RAM, reported by
 * scripts/size.sh), caller-owned, no malloc. Bytes of the base are read
 * through read_base, never outside [0, base_size); bytes of the target go
 * out through write, in order, never beyond target_size. Hashes are the
 * caller's: the header names both images' SHA-256 for it to check.
 *
 * Errors: OTTO_E_CORRUPT (a malformed patch: bad magic, header CRC, a block
 * that over- or under-runs, a read outside the base), OTTO_E_VERSION (a
 * newer format), OTTO_E_NOSPC (more output than target_size), OTTO_E_STATE
 * (fed after the end or after an error), or what a callback returned.
 */
#ifndef OTTO_DELTA_H
#define OTTO_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_DELTA_MAGIC      0x4C44544Fu /* "OTDL" little-endian */
#define OTTO_DELTA_VERSION    1
#define OTTO_DELTA_HEADER_LEN 92
#define OTTO_DELTA_IN_BUF     1024 /* patch bytes held while decoding */
#define OTTO_DELTA_OUT_BUF    2048 /* target bytes gathered per write */
#define OTTO_DELTA_BASE_BUF   1024 /* base bytes read at once */

/* The models both sides keep for one block: adaptive binary probabilities
 * (11 bits, moving 1/16 of the way on each bit) in bit trees, coded with a
 * range coder. Both sides choose contexts with the macros below: they are
 * part of the format. */
#define OTTO_DELTA_PROB_BITS 12

/* A model: the probability of a 0 (12 bits; the updates keep it within
 * 1 to 4095) and how often it has been updated (4 bits): a fresh model
 * learns fast (a block is short and starts from nothing), a seasoned one
 * moves 1/8 of the way. */
#define OTTO_DELTA_PROB_INIT ((1u << (OTTO_DELTA_PROB_BITS - 1)) << 4)
static inline uint32_t otto_delta_p0(uint16_t m) { return m >> 4; }
static inline uint16_t otto_delta_update(uint16_t m, unsigned bit)
{
    static const uint8_t shift[16] = {1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    unsigned n = m & 15u, p = m >> 4;
    if (bit)
        p -= p >> shift[n];
    else
        p += ((1u << OTTO_DELTA_PROB_BITS) - p) >> shift[n];
    return (uint16_t)(p << 4 | (n < 15 ? n + 1 : 15));
}
/* Between two builds, moved code differs where its relative offsets do:
 * after an instruction byte on Xtensa (the low nibble of the byte before,
 * op0, says CALL or L32R), before the opcode byte on Thumb-2 (the high
 * nibble of the byte after says BL or B.W). A diff byte is modeled by
 * both, a zero or not by them and the last two; inserted code by the
 * byte before and which half of a halfword it is. */
#define OTTO_DELTA_ZERO_CTX(hist, b1, bn) ((((hist) & 3u) << 8) | (((b1) & 15u) << 4) | ((bn) >> 4))
#define OTTO_DELTA_DIFF_CTX(bn)           ((bn) >> 4)
#define OTTO_DELTA_LIT_CTX(prev, pos)     ((((prev) >> 4) << 1) | ((pos) & 1u))
enum { OTTO_DELTA_F_ADD, OTTO_DELTA_F_INSERT, OTTO_DELTA_F_SEEK, OTTO_DELTA_NFIELDS };
typedef struct {
    uint16_t zero[1024];         /* is this diff byte zero? by the last two and the position in a word */
    uint16_t diff[16][256];      /* a nonzero diff byte, by the position in a word */
    uint16_t lit[32][256];       /* an inserted byte, by the high nibble of the byte before it */
    uint16_t nbits[OTTO_DELTA_NFIELDS][64]; /* a value's bit length, 0-32 */
    uint16_t top[OTTO_DELTA_NFIELDS][33];   /* the bit below its highest */
    uint16_t sign;              /* a seek backwards? */
} otto_delta_models_t;

typedef struct {
    uint32_t block_size;        /* target bytes per block (the last may be shorter) */
    uint32_t base_size, target_size;
    uint8_t base_sha256[32], target_sha256[32];
    uint32_t nblocks;
} otto_delta_header_t;

/* Where a decode can start again: at a block's first byte. */
typedef struct {
    otto_delta_header_t hdr;
    uint32_t block;             /* the block to decode next */
    uint32_t patch_off;         /* its offset in the patch */
} otto_delta_resume_t;

typedef int (*otto_delta_read_fn)(void *ctx, uint32_t off, void *buf, size_t len);
typedef int (*otto_delta_write_fn)(void *ctx, const void *data, size_t len);
/* Called at each block boundary, every target byte before it written: where
 * a decode could resume. An error stops the decode. */
typedef int (*otto_delta_block_fn)(void *ctx, const otto_delta_resume_t *r);

typedef struct {
    otto_delta_read_fn read_base;
    otto_delta_write_fn write;
    otto_delta_block_fn on_block; /* optional: set after begin or resume */
    void *ctx;
    otto_delta_header_t hdr;
    int state, err;
    /* where we are */
    uint32_t block, patch_off;  /* the block being decoded, the patch offset its length starts at */
    uint32_t block_left;        /* its target bytes still to come */
    uint32_t comp_len, comp_used; /* its coded length, and bytes of it consumed */
    uint32_t target_off, base_pos;
    uint32_t run;               /* bytes left in the current add or insert */
    uint8_t hist, prev, b1;     /* zero-flag history, the last target byte, the last base byte */
    /* the range decoder */
    uint32_t range, code;
    otto_delta_models_t m;
    /* buffers */
    uint8_t in[OTTO_DELTA_IN_BUF];
    uint32_t in_len, in_pos;
    uint8_t out[OTTO_DELTA_OUT_BUF];
    uint32_t out_len;
    uint8_t base[OTTO_DELTA_BASE_BUF];
    uint32_t base_off, base_len; /* what base[] holds */
} otto_delta_t;

#define OTTO_DELTA_RAM sizeof(otto_delta_t)

/** Parse and check a patch header (OTTO_DELTA_HEADER_LEN bytes). */
int otto_delta_header_read(const uint8_t *buf, size_t len, otto_delta_header_t *h);
/** Write one (with its CRC). */
void otto_delta_header_write(const otto_delta_header_t *h, uint8_t buf[OTTO_DELTA_HEADER_LEN]);

/* A resume point as a device stores it: the header, then u32 block and
 * u32 patch_off (little-endian). */
#define OTTO_DELTA_RESUME_LEN (OTTO_DELTA_HEADER_LEN + 8)
void otto_delta_resume_encode(const otto_delta_resume_t *r, uint8_t buf[OTTO_DELTA_RESUME_LEN]);
/** OTTO_E_CORRUPT unless buf holds a resume point inside its patch. */
int otto_delta_resume_decode(const uint8_t *buf, size_t len, otto_delta_resume_t *r);
/** Start decoding a patch from its first byte. */
void otto_delta_begin(otto_delta_t *d, otto_delta_read_fn read_base, otto_delta_write_fn write, void *ctx);
/** ... or from a block boundary an earlier decode reached (r), the patch
 *  fed from r->patch_off; the target is written from r->block's start. */
void otto_delta_resume(otto_delta_t *d, const otto_delta_resume_t *r, otto_delta_read_fn read_base,
                       otto_delta_write_fn write, void *ctx);
/** Feed patch bytes in any chunking; decodes as far as they allow. */
int otto_delta_feed(otto_delta_t *d, const void *data, size_t len);
/** All fed: OTTO_OK when the whole target came out, OTTO_E_CORRUPT if the
 *  patch ended early. */
int otto_delta_finish(otto_delta_t *d);
/** At a block boundary (every target byte before it written out): where
 *  to resume. false inside a block or before the header is read. */
bool otto_delta_checkpoint(const otto_delta_t *d, otto_delta_resume_t *r);
/** Target bytes written so far. */
uint32_t otto_delta_written(const otto_delta_t *d);

#ifdef __cplusplus
}
#endif

#endif
