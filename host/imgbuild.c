/* SPDX-License-Identifier: Apache-2.0 */
#include "imgbuild.h"

#include <stdlib.h>
#include <string.h>

#include "otto/crypto.h"
#include "otto/err.h"
#include "otto/image.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}

static void put_str(uint8_t *dst, const char *s, size_t width)
{
    size_t n = strlen(s);
    memcpy(dst, s, n < width ? n : width - 1);
}

/* Filler is a pseudo-random stream seeded by the project name: two versions
 * of one project share most of their bytes, like real firmware builds. */
static void filler(uint8_t *p, size_t n, const char *seed_text)
{
    uint32_t x = 2166136261u;
    for (const char *c = seed_text; *c; c++)
        x = (x ^ (uint8_t)*c) * 16777619u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

int otto_img_build(const otto_imgspec_t *s, uint8_t **out, size_t *len)
{
    uint8_t *img;
    size_t seg0, body, csum_at, total, payload_at;
    int err;

    if (!s || !out || !len || !s->version || !s->project ||
        strlen(s->version) > 31 || strlen(s->project) > 31)
        return OTTO_E_INVAL;
    payload_at = OTTO_APP_DESC_LEN + OTTO_APP_BLOCK_LEN;
    seg0 = (payload_at + s->payload_len + 3u) & ~(size_t)3u;
    if (s->size) {
        /* total = 32 + seg0 + 16 when 32 + seg0 is a multiple of 16 */
        size_t want = ((size_t)s->size + 15u) & ~(size_t)15u;
        /* body = 32 + seg0 a multiple of 16: 15 pad bytes, checksum, hash */
        if (want < 80u + seg0)
            return OTTO_E_NOSPC;
        seg0 = want - 80u;
    }
    body = OTTO_APP_DESC_OFFSET + seg0;
    csum_at = body + (15u - body % 16u);
    total = csum_at + 1u + 32u;
    img = calloc(1, total);
    if (!img)
        return OTTO_E_NOSPC;

    /* image header */
    img[0] = OTTO_IMAGE_MAGIC;
    img[1] = 1;                      /* one segment */
    img[2] = 2;                      /* DIO */
    img[3] = 0x20;                   /* 40 MHz, 4 MB */
    put32(img + 4, 0x40080000u);     /* entry */
    img[8] = 0xEE;                   /* WP pin unused */
    put16(img + 12, s->chip_id);
    img[14] = (uint8_t)(s->min_rev / 100u);
    put16(img + 15, s->min_rev);
    put16(img + 17, s->max_rev);
    img[23] = 1;                     /* SHA-256 appended */

    /* segment 0: DROM, mapped at an address congruent to its flash offset */
    put32(img + 24, 0x3F400020u);
    put32(img + 28, (uint32_t)seg0);

    uint8_t *d = img + OTTO_APP_DESC_OFFSET;
    put32(d, OTTO_APP_DESC_MAGIC);
    put32(d + 4, s->secure_version);
    put_str(d + 16, s->version, 32);
    put_str(d + 48, s->project, 32);
    put_str(d + 80, s->time ? s->time : "00:00:00", 16);
    put_str(d + 96, s->date ? s->date : "Jan  1 2026", 16);
    put_str(d + 112, "otto", 32);
    otto_sha256(s->project, strlen(s->project), d + 144); /* stands in for the ELF hash */
    put32(d + OTTO_APP_DESC_LEN, OTTO_APP_BLOCK_MAGIC);
    put32(d + OTTO_APP_DESC_LEN + 4, s->otto_flags);

    uint8_t *pl = d + payload_at;
    size_t room = seg0 - payload_at;
    size_t n = s->payload_len < room ? s->payload_len : room;
    if (n)
        memcpy(pl, s->payload, n);
    if (room > n)
        filler(pl + n, room - n, s->project);
    /* the version must change the bytes too, or two versions would differ
     * only in the descriptor; stamp it at the end of the segment */
    if (room - n >= 32)
        put_str(pl + room - 32, s->version, 32);

    uint8_t csum = 0xEF;
    for (size_t i = 0; i < seg0; i++)
        csum ^= d[i];
    img[csum_at] = csum;
    err = otto_sha256(img, csum_at + 1u, img + csum_at + 1u);
    if (err) {
        free(img);
        return err;
    }
    *out = img;
    *len = total;
    return OTTO_OK;
}

int otto_img_restamp(uint8_t *img, size_t len, const char *version, uint32_t secure_version, size_t *out_len)
{
    if (!img || !version || strlen(version) > 31 || len < OTTO_IMAGE_HEAD_LEN || img[0] != OTTO_IMAGE_MAGIC ||
        get32(img + OTTO_APP_DESC_OFFSET) != OTTO_APP_DESC_MAGIC)
        return OTTO_E_INVAL;
    /* The segments, to find where they end and what the checksum covers. */
    size_t at = 24;
    uint8_t csum = 0xEF;
    for (unsigned i = 0; i < img[1]; i++) {
        if (at + 8 > len)
            return OTTO_E_INVAL;
        size_t n = get32(img + at + 4);
        if (n > len - at - 8)
            return OTTO_E_INVAL;
        at += 8 + n;
    }
    uint8_t *d = img + OTTO_APP_DESC_OFFSET;
    put32(d + 4, secure_version);
    memset(d + 16, 0, 32);
    put_str(d + 16, version, 32);
    at = 24;
    for (unsigned i = 0; i < img[1]; i++) {
        size_t n = get32(img + at + 4);
        for (size_t k = 0; k < n; k++)
            csum ^= img[at + 8 + k];
        at += 8 + n;
    }
    size_t csum_at = at + (15u - at % 16u);
    size_t end = csum_at + 1u + (img[23] == 1 ? 32u : 0u);
    if (end > len)
        return OTTO_E_INVAL;
    img[csum_at] = csum;
    if (img[23] == 1 && otto_sha256(img, csum_at + 1u, img + csum_at + 1u))
        return OTTO_E_IO;
    *out_len = end; /* a signature block after it no longer signs this: left out */
    return OTTO_OK;
}
