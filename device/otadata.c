/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otadata select entries (ESP-IDF esp_ota_select_entry_t).
 *
 * The partition is exactly two sectors; each starts with one entry and the
 * rest of the sector stays 0xFF. Two copies exist so that one can be
 * rewritten (erase + program) while the other still names a bootable slot.
 *
 *   off size field
 *    0   4   ota_seq   - grows with every switch; the larger valid one wins
 *    4  20   seq_label - unused by ESP-IDF; kept as found
 *   24   4   ota_state - rollback state (otto_img_state_t)
 *   28   4   crc       - CRC-32 of ota_seq only; the state is protected by
 *                        the erase-before-write rule, not by the CRC
 *
 * Since the CRC does not cover the state, otto programs the CRC word last:
 * a cut while programming the first 28 bytes leaves the CRC blank, so a
 * half-written state is never believed.
 */
#include <string.h>
#include "otto/crypto.h"
#include "otto/otadata.h"
#include "internal/util.h"

uint32_t otto_otadata_crc(uint32_t seq)
{
    uint8_t b[4];
    otto_put_le32(b, seq);
    return otto_crc32_le(0xFFFFFFFFu, b, 4);
}

void otto_otadata_decode(const uint8_t raw[OTTO_OTADATA_ENTRY_LEN], otto_otadata_entry_t *e)
{
    e->seq = otto_get_le32(raw);
    memcpy(e->label, raw + 4, sizeof(e->label));
    e->state = otto_get_le32(raw + 24);
    e->crc = otto_get_le32(raw + 28);
}

void otto_otadata_encode(const otto_otadata_entry_t *e, uint8_t raw[OTTO_OTADATA_ENTRY_LEN])
{
    otto_put_le32(raw, e->seq);
    memcpy(raw + 4, e->label, sizeof(e->label));
    otto_put_le32(raw + 24, e->state);
    otto_put_le32(raw + 28, e->crc);
}

static int check_part(const otto_flash_t *flash, const otto_part_t *p)
{
    if (!flash || !p || p->size < 2 * flash->sector_size)
        return OTTO_E_INVAL;
    return OTTO_OK;
}

int otto_otadata_read(const otto_flash_t *flash, const otto_part_t *otadata,
                      otto_otadata_entry_t e[2])
{
    uint8_t raw[OTTO_OTADATA_ENTRY_LEN];
    int err = check_part(flash, otadata);
    for (unsigned i = 0; !err && i < 2; i++) {
        err = flash->read(flash->ctx, otadata->offset + i * flash->sector_size, raw, sizeof(raw));
        if (!err)
            otto_otadata_decode(raw, &e[i]);
    }
    return err;
}

int otto_otadata_erase(const otto_flash_t *flash, const otto_part_t *otadata, unsigned idx)
{
    int err = check_part(flash, otadata);
    if (err)
        return err;
    if (idx == 2)
        return flash->erase(flash->ctx, otadata->offset, 2 * flash->sector_size);
    if (idx > 1)
        return OTTO_E_INVAL;
    return flash->erase(flash->ctx, otadata->offset + idx * flash->sector_size, flash->sector_size);
}

int otto_otadata_write(const otto_flash_t *flash, const otto_part_t *otadata,
                       unsigned idx, const otto_otadata_entry_t *e)
{
    uint8_t raw[OTTO_OTADATA_ENTRY_LEN];
    otto_otadata_entry_t w = *e;
    uint32_t off;
    int err;

    if (idx > 1 || !e)
        return OTTO_E_INVAL;
    err = otto_otadata_erase(flash, otadata, idx);
    if (err)
        return err;
    w.crc = otto_otadata_crc(w.seq);
    otto_otadata_encode(&w, raw);
    off = otadata->offset + idx * flash->sector_size;
    err = flash->program(flash->ctx, off, raw, 28);
    if (err)
        return err;
    return flash->program(flash->ctx, off + 28, raw + 28, 4);
}

bool otto_otadata_unusable(const otto_otadata_entry_t *e)
{
    return e->seq == OTTO_OTADATA_SEQ_BLANK || e->state == OTTO_IMG_INVALID ||
           e->state == OTTO_IMG_ABORTED;
}

bool otto_otadata_valid(const otto_otadata_entry_t *e)
{
    return !otto_otadata_unusable(e) && e->crc == otto_otadata_crc(e->seq);
}

static bool blank_or_bad(const otto_otadata_entry_t *e)
{
    return e->seq == OTTO_OTADATA_SEQ_BLANK || e->crc != otto_otadata_crc(e->seq);
}

bool otto_otadata_initial(const otto_otadata_entry_t e[2])
{
    return blank_or_bad(&e[0]) && blank_or_bad(&e[1]);
}

int otto_otadata_active(const otto_otadata_entry_t e[2])
{
    bool v0 = otto_otadata_valid(&e[0]);
    bool v1 = otto_otadata_valid(&e[1]);
    if (v0 && v1)
        return e[1].seq > e[0].seq ? 1 : 0;
    if (v0)
        return 0;
    if (v1)
        return 1;
    return -1;
}

unsigned otto_otadata_slot(uint32_t seq, unsigned app_count)
{
    return (unsigned)((seq - 1u) % app_count);
}

uint32_t otto_otadata_next_seq(uint32_t floor, unsigned k, unsigned app_count)
{
    uint32_t s = (uint32_t)((k + 1u) % app_count);
    /* s + i*N >= floor, for the smallest i */
    if (s < floor)
        s += ((floor - s + app_count - 1u) / app_count) * app_count;
    return s;
}
