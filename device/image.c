/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP32 app image, checked as a stream.
 *
 * Image header (24 bytes, little-endian):
 *   0  1  magic 0xE9
 *   1  1  segment count (1..16)
 *   2  1  SPI mode                      - read by the ROM before the app runs
 *   3  1  SPI speed (low) / flash size (high nibble)
 *   4  4  entry address
 *   8  1  WP pin;  9 3  SPI drive strengths
 *  12  2  chip id                       - an image for another chip must not boot
 *  14  1  legacy min revision; 15 2 min revision; 17 2 max revision (0/0xFFFF: none)
 *  19  4  reserved
 *  23  1  hash_appended                 - a SHA-256 follows the checksum
 *                                          (required by otto for apps)
 *
 * Then `count` segments, each an 8-byte header (load address, data length:
 * a multiple of 4) and its data. Segment 0 is DROM and starts with the
 * 256-byte app descriptor, so the descriptor sits at image offset 0x20:
 *   0 magic 0xABCD5432, 4 secure_version, 16 version[32], 48 project[32],
 *   80 time[16], 96 date[16], 112 idf_ver[32], 144 app_elf_sha256[32].
 * otto may place a 16-byte block ("OTTO", flags) right after it.
 *
 * After the last segment: zero padding so that (offset + 1) is a multiple
 * of 16, then the checksum byte (0xEF XOR every segment data byte), then,
 * if hash_appended, 32 bytes of SHA-256 over everything before them.
 */
#include <string.h>
#include "otto/image.h"
#include "internal/util.h"

enum { PH_HEADER, PH_SEGHDR, PH_SEGDATA, PH_PAD, PH_CSUM, PH_HASH, PH_DONE };

#define MAX_SEG_LEN 0x1000000u /* 16 MiB */

int otto_image_check_init(otto_image_check_t *c, uint16_t chip_id, uint16_t chip_rev,
                          uint32_t max_len)
{
    if (!c)
        return OTTO_E_INVAL;
    memset(c, 0, sizeof(*c));
    c->chip_id = chip_id;
    c->chip_rev = chip_rev;
    c->max_len = max_len;
    c->csum = 0xEF;
    c->left = OTTO_IMAGE_HEADER_LEN;
    c->phase = PH_HEADER;
    c->err = otto_sha256_start(&c->sha);
    return c->err;
}

static void copy_str(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0'; /* a full-width field has no NUL of its own */
}

static int parse_header(otto_image_check_t *c)
{
    const uint8_t *h = c->hbuf;
    otto_image_header_t *hdr = &c->info.hdr;

    if (h[0] != OTTO_IMAGE_MAGIC)
        return OTTO_E_CORRUPT;
    hdr->segments = h[1];
    hdr->spi_mode = h[2];
    hdr->spi_speed = h[3] & 0x0F;
    hdr->flash_size = h[3] >> 4;
    hdr->entry = otto_get_le32(h + 4);
    hdr->chip_id = otto_get_le16(h + 12);
    hdr->min_rev = h[14];
    hdr->min_rev_full = otto_get_le16(h + 15);
    hdr->max_rev_full = otto_get_le16(h + 17);
    hdr->hash_appended = h[23];
    if (hdr->segments == 0 || hdr->segments > OTTO_IMAGE_MAX_SEGMENTS)
        return OTTO_E_CORRUPT;
    /* ESP-IDF builds apps with the hash appended; without it only an XOR
     * byte would guard the image, so otto refuses such apps outright. */
    if (hdr->hash_appended != 1)
        return OTTO_E_CORRUPT;
    if (c->chip_id != OTTO_CHIP_ANY) {
        if (hdr->chip_id != c->chip_id || c->chip_rev < hdr->min_rev_full)
            return OTTO_E_CHIP;
        if (hdr->max_rev_full != 0 && hdr->max_rev_full != 0xFFFF &&
            c->chip_rev > hdr->max_rev_full)
            return OTTO_E_CHIP;
    }
    return OTTO_OK;
}

static int parse_desc(otto_image_check_t *c)
{
    const uint8_t *d = c->cap;
    otto_app_desc_t *desc = &c->info.desc;

    if (c->cap_len < OTTO_APP_DESC_LEN || otto_get_le32(d) != OTTO_APP_DESC_MAGIC)
        return OTTO_E_CORRUPT;
    desc->secure_version = otto_get_le32(d + 4);
    copy_str(desc->version, d + 16, 32);
    copy_str(desc->project, d + 48, 32);
    copy_str(desc->time, d + 80, 16);
    copy_str(desc->date, d + 96, 16);
    copy_str(desc->idf_ver, d + 112, 32);
    memcpy(desc->elf_sha256, d + 144, 32);
    if (c->cap_len >= OTTO_APP_DESC_LEN + OTTO_APP_BLOCK_LEN &&
        otto_get_le32(d + OTTO_APP_DESC_LEN) == OTTO_APP_BLOCK_MAGIC) {
        c->info.has_otto_block = true;
        c->info.otto_flags = otto_get_le32(d + OTTO_APP_DESC_LEN + 4);
    }
    c->head_ok = true;
    return OTTO_OK;
}

/* Called when the current field (c->left == 0) is complete; sets up the next. */
static int next_field(otto_image_check_t *c)
{
    int err;

    switch (c->phase) {
    case PH_HEADER:
        err = parse_header(c);
        if (err)
            return err;
        c->phase = PH_SEGHDR;
        c->left = OTTO_IMAGE_SEG_HDR_LEN;
        return OTTO_OK;
    case PH_SEGHDR: {
        uint32_t len = otto_get_le32(c->hbuf + 4);
        if (len % 4 != 0 || len >= MAX_SEG_LEN)
            return OTTO_E_CORRUPT;
        if (c->seg == 0 && len < OTTO_APP_DESC_LEN)
            return OTTO_E_CORRUPT; /* segment 0 must hold the descriptor */
        if (len > c->max_len || c->pos > c->max_len - len)
            return OTTO_E_NOSPC;
        c->phase = PH_SEGDATA;
        c->left = len;
        if (len)
            return OTTO_OK;
    }
        /* fall through - an empty segment ends at once */
    case PH_SEGDATA:
        if (c->seg == 0 && !c->head_ok) {
            err = parse_desc(c);
            if (err)
                return err;
        }
        c->seg++;
        if (c->seg < c->info.hdr.segments) {
            c->phase = PH_SEGHDR;
            c->left = OTTO_IMAGE_SEG_HDR_LEN;
            return OTTO_OK;
        }
        c->csum_at = c->pos + (15u - (c->pos % 16u));
        c->phase = PH_PAD;
        c->left = c->csum_at - c->pos;
        if (c->left)
            return OTTO_OK;
        /* fall through */
    case PH_PAD:
        c->phase = PH_CSUM;
        c->left = 1;
        return OTTO_OK;
    case PH_CSUM:
        if (c->hbuf[0] != c->csum)
            return OTTO_E_VERIFY;
        err = otto_sha256_finish(&c->sha, c->info.sha256);
        if (err)
            return err;
        c->phase = PH_HASH; /* hash_appended was required in the header */
        c->left = 32;
        return OTTO_OK;
    case PH_HASH:
        if (memcmp(c->hbuf, c->info.sha256, 32) != 0)
            return OTTO_E_VERIFY;
        c->phase = PH_DONE;
        c->info.length = c->pos;
        return c->pos > c->max_len ? OTTO_E_NOSPC : OTTO_OK;
    default:
        return OTTO_E_STATE;
    }
}

int otto_image_check_feed(otto_image_check_t *c, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;

    if (!c || (!data && len))
        return OTTO_E_INVAL;
    while (len && !c->err) {
        if (c->phase == PH_DONE) {
            c->trailing += (uint32_t)len;
            break;
        }
        size_t n = len < c->left ? len : c->left;
        if (c->phase != PH_HASH) {
            c->err = otto_sha256_update(&c->sha, p, n);
            if (c->err)
                break;
        }
        switch (c->phase) {
        case PH_SEGDATA:
            for (size_t i = 0; i < n; i++)
                c->csum ^= p[i];
            if (c->seg == 0 && c->cap_len < sizeof(c->cap)) {
                size_t k = sizeof(c->cap) - c->cap_len;
                if (k > n)
                    k = n;
                memcpy(c->cap + c->cap_len, p, k);
                c->cap_len = (uint16_t)(c->cap_len + k);
                if (c->cap_len >= OTTO_APP_DESC_LEN + OTTO_APP_BLOCK_LEN && !c->head_ok)
                    c->err = parse_desc(c);
            }
            break;
        case PH_PAD:
            break;
        default: /* header, segment header, checksum, hash: assemble */
            memcpy(c->hbuf + c->hbuf_len, p, n);
            c->hbuf_len = (uint8_t)(c->hbuf_len + n);
            break;
        }
        c->pos += (uint32_t)n;
        c->left -= (uint32_t)n;
        p += n;
        len -= n;
        if (!c->err && c->left == 0) {
            c->hbuf_len = 0;
            c->err = next_field(c);
        }
        if (!c->err && c->pos > c->max_len)
            c->err = OTTO_E_NOSPC;
    }
    return c->err;
}

bool otto_image_check_head_ok(const otto_image_check_t *c)
{
    return c && c->head_ok && !c->err;
}

bool otto_image_check_done(const otto_image_check_t *c)
{
    return c && c->phase == PH_DONE && !c->err;
}

int otto_image_check_finish(otto_image_check_t *c)
{
    if (!c)
        return OTTO_E_INVAL;
    if (c->err)
        return c->err;
    if (c->phase != PH_DONE) {
        uint8_t scratch[32];
        if (c->phase < PH_HASH)
            (void)otto_sha256_finish(&c->sha, scratch);
        c->err = OTTO_E_CORRUPT; /* truncated */
    }
    return c->err;
}

static int read_through(const otto_flash_t *flash, uint32_t off, uint32_t slot_len,
                        otto_image_check_t *c, bool head_only)
{
    uint8_t buf[OTTO_CONFIG_READ_CHUNK];
    uint32_t done = 0;

    while (!c->err && done < slot_len && !otto_image_check_done(c)) {
        if (head_only && c->head_ok)
            return OTTO_OK;
        uint32_t n = slot_len - done;
        if (n > sizeof(buf))
            n = sizeof(buf);
        /* never read past the field being parsed by more than one chunk:
         * the checker ignores the rest, and reading less is cheaper */
        if (c->phase != PH_SEGDATA && c->phase != PH_PAD && n > c->left)
            n = c->left;
        int err = flash->read(flash->ctx, off + done, buf, n);
        if (err)
            return err;
        (void)otto_image_check_feed(c, buf, n);
        done += n;
    }
    if (head_only)
        return c->err ? c->err : (c->head_ok ? OTTO_OK : OTTO_E_CORRUPT);
    return otto_image_check_finish(c);
}

int otto_image_verify_flash(const otto_flash_t *flash, uint32_t off, uint32_t slot_len,
                            uint16_t chip_id, uint16_t chip_rev, otto_image_info_t *info)
{
    otto_image_check_t c;
    int err;

    if (!flash || off > flash->size || slot_len > flash->size - off)
        return OTTO_E_INVAL;
    err = otto_image_check_init(&c, chip_id, chip_rev, slot_len);
    if (!err)
        err = read_through(flash, off, slot_len, &c, false);
    if (!err && info)
        *info = c.info;
    return err;
}

int otto_image_read_head(const otto_flash_t *flash, uint32_t off, uint32_t slot_len,
                         otto_image_info_t *info)
{
    otto_image_check_t c;
    int err;

    if (!flash || !info || off > flash->size || slot_len > flash->size - off)
        return OTTO_E_INVAL;
    err = otto_image_check_init(&c, OTTO_CHIP_ANY, 0, slot_len);
    if (!err)
        err = read_through(flash, off, slot_len, &c, true);
    if (!c.err && c.phase < PH_HASH) {
        uint8_t scratch[32];
        (void)otto_sha256_finish(&c.sha, scratch);
    }
    if (!err)
        *info = c.info;
    return err;
}
