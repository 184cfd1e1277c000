/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP-IDF partition table.
 *
 * The table lives in one sector at 0x8000. The generator writes 0xC00 bytes:
 * 32-byte entries in CSV order, an optional MD5 entry, then 0xFF padding;
 * the last 0x400 bytes of the sector stay free for a Secure Boot v1
 * signature. Each entry, little-endian:
 *
 *   off size field
 *    0   2   magic AA 50      - tells an entry from padding or the MD5 entry
 *    2   1   type             - app 0x00, data 0x01, custom 0x40..0xFE
 *    3   1   subtype          - factory/ota_N/test, or nvs/ota/phy/...
 *    4   4   offset           - absolute flash address
 *    8   4   size             - bytes
 *   12  16   label            - ASCII, NUL-padded; 16 chars has no NUL
 *   28   4   flags            - bit 0 encrypted, bit 1 readonly
 *
 * MD5 entry: EB EB, 14 bytes 0xFF, then MD5 of every entry byte before it.
 * The table ends at the first slot whose first four bytes are all 0xFF; an
 * end marker in slot 0 means an empty table, which the bootloader rejects.
 */
#include <string.h>
#include "otto/crypto.h"
#include "otto/part.h"
#include "internal/util.h"

#define SLOTS (OTTO_PART_TABLE_LEN / OTTO_PART_ENTRY_LEN)

/* Feeds one 32-byte slot into the parse. Returns 1 at the end marker, 0 to
 * continue, or a negative error. */
static int parse_slot(const uint8_t *e, unsigned idx, uint32_t flash_size,
                      otto_md5_t *md5, otto_part_table_t *out)
{
    uint16_t magic = otto_get_le16(e);

    if (magic == OTTO_PART_MAGIC) {
        if (out->has_md5)
            return OTTO_E_CORRUPT; /* entries after the MD5 entry */
        if (out->count >= OTTO_CONFIG_PART_MAX)
            return OTTO_E_NOSPC;
        otto_part_t *p = &out->part[out->count];
        p->type = e[2];
        p->subtype = e[3];
        p->offset = otto_get_le32(e + 4);
        p->size = otto_get_le32(e + 8);
        memcpy(p->label, e + 12, OTTO_PART_LABEL_LEN);
        p->label[OTTO_PART_LABEL_LEN] = '\0';
        p->flags = otto_get_le32(e + 28);
        if (flash_size && (p->offset > flash_size || p->size > flash_size - p->offset))
            return OTTO_E_CORRUPT;
        out->count++;
        return otto_md5_update(md5, e, OTTO_PART_ENTRY_LEN);
    }
    if (magic == OTTO_PART_MD5_MAGIC) {
        uint8_t digest[16];
        if (out->has_md5)
            return OTTO_E_CORRUPT; /* only one MD5 entry is allowed */
        int err = otto_md5_finish(md5, digest);
        if (err)
            return err;
        if (memcmp(digest, e + 16, 16) != 0)
            return OTTO_E_CORRUPT;
        out->has_md5 = true;
        return 0;
    }
    if (otto_get_le32(e) == 0xFFFFFFFFu)
        return idx == 0 ? OTTO_E_CORRUPT : 1;
    return OTTO_E_CORRUPT;
}

static int parse_begin(otto_part_table_t *out, otto_md5_t *md5)
{
    memset(out, 0, sizeof(*out));
    return otto_md5_start(md5);
}

static void parse_end(const otto_part_table_t *out, otto_md5_t *md5)
{
    uint8_t scratch[16];
    if (!out->has_md5)
        (void)otto_md5_finish(md5, scratch); /* release the context */
}

int otto_part_parse(const uint8_t *raw, size_t len, uint32_t flash_size,
                    otto_part_table_t *out)
{
    otto_md5_t md5;
    int rc;

    if (!raw || !out || len < OTTO_PART_TABLE_LEN)
        return OTTO_E_INVAL;
    rc = parse_begin(out, &md5);
    for (unsigned i = 0; !rc && i < SLOTS; i++)
        rc = parse_slot(raw + i * OTTO_PART_ENTRY_LEN, i, flash_size, &md5, out);
    parse_end(out, &md5);
    if (rc == 0)
        rc = OTTO_E_CORRUPT; /* 96 slots and no end marker */
    return rc == 1 ? OTTO_OK : rc;
}

int otto_part_load(const otto_flash_t *flash, uint32_t off, otto_part_table_t *out)
{
    uint8_t slot[OTTO_PART_ENTRY_LEN];
    otto_md5_t md5;
    int rc;

    if (!flash || !out || off > flash->size || flash->size - off < OTTO_PART_TABLE_LEN)
        return OTTO_E_INVAL;
    rc = parse_begin(out, &md5);
    for (unsigned i = 0; !rc && i < SLOTS; i++) {
        rc = flash->read(flash->ctx, off + i * OTTO_PART_ENTRY_LEN, slot, sizeof(slot));
        if (!rc)
            rc = parse_slot(slot, i, flash->size, &md5, out);
    }
    parse_end(out, &md5);
    if (rc == 0)
        rc = OTTO_E_CORRUPT;
    return rc == 1 ? OTTO_OK : rc;
}

int otto_part_encode(const otto_part_t *parts, size_t n, bool with_md5,
                     uint8_t out[OTTO_PART_TABLE_LEN])
{
    size_t used = (n + (with_md5 ? 1u : 0u)) * OTTO_PART_ENTRY_LEN;

    if ((!parts && n) || !out)
        return OTTO_E_INVAL;
    if (used >= OTTO_PART_TABLE_LEN)
        return OTTO_E_NOSPC; /* the end marker must still fit */
    memset(out, 0xFF, OTTO_PART_TABLE_LEN);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = out + i * OTTO_PART_ENTRY_LEN;
        size_t ll = strlen(parts[i].label);
        otto_put_le16(e, OTTO_PART_MAGIC);
        e[2] = parts[i].type;
        e[3] = parts[i].subtype;
        otto_put_le32(e + 4, parts[i].offset);
        otto_put_le32(e + 8, parts[i].size);
        memset(e + 12, 0, OTTO_PART_LABEL_LEN);
        memcpy(e + 12, parts[i].label, ll > OTTO_PART_LABEL_LEN ? OTTO_PART_LABEL_LEN : ll);
        otto_put_le32(e + 28, parts[i].flags);
    }
    if (with_md5) {
        uint8_t *e = out + n * OTTO_PART_ENTRY_LEN;
        otto_put_le16(e, OTTO_PART_MD5_MAGIC);
        memset(e + 2, 0xFF, 14);
        return otto_md5(out, n * OTTO_PART_ENTRY_LEN, e + 16);
    }
    return OTTO_OK;
}

const otto_part_t *otto_part_find(const otto_part_table_t *t, uint8_t type,
                                  uint8_t subtype, const char *label)
{
    if (!t)
        return NULL;
    for (unsigned i = 0; i < t->count; i++) {
        const otto_part_t *p = &t->part[i];
        if (type != OTTO_PART_ANY && p->type != type)
            continue;
        if (subtype != OTTO_PART_ANY && p->subtype != subtype)
            continue;
        if (label && strncmp(p->label, label, OTTO_PART_LABEL_LEN) != 0)
            continue;
        return p;
    }
    return NULL;
}

const otto_part_t *otto_part_ota_slot(const otto_part_table_t *t, unsigned k)
{
    if (k > OTTO_PART_SUB_OTA_MAX - OTTO_PART_SUB_OTA_MIN)
        return NULL;
    return otto_part_find(t, OTTO_PART_TYPE_APP, (uint8_t)(OTTO_PART_SUB_OTA_MIN + k), NULL);
}

unsigned otto_part_ota_count(const otto_part_table_t *t)
{
    unsigned k = 0;
    while (otto_part_ota_slot(t, k))
        k++;
    return k;
}

const otto_part_t *otto_part_store(const otto_part_table_t *t)
{
    const otto_part_t *p = otto_part_find(t, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_OTTOKV, NULL);
    if (p || !otto_part_find(t, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, NULL))
        return p;
    return otto_part_find(t, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_NVS, NULL);
}
