/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boot decision. Order matters and follows ESP-IDF's bootloader:
 *
 *  1. no otadata partition            -> factory
 *  2. every PENDING_VERIFY entry      -> rewritten ABORTED (this one rule is
 *                                        the whole rollback: an image that
 *                                        reaches a second boot unconfirmed
 *                                        is dropped)
 *  3. no usable entry                 -> factory; without factory ota_0, and
 *                                        if otadata was blank ("initial")
 *                                        write {seq k+1, VALID} once it loads
 *  4. the active entry (highest valid seq; with anti-rollback only entries
 *     whose image meets the eFuse)    -> its slot; NEW becomes PENDING_VERIFY
 *  5. load with fallback: the chosen slot, then down to factory, then up,
 *     then the test app; the first image that verifies boots
 *  6. anti-rollback: an entry already VALID raises the eFuse to its image's
 *     secure_version (after the image verified)
 *
 * With anti-rollback ESP-IDF expects no factory app; otto keeps step 3's
 * factory rule and checks the factory image against the eFuse like any other.
 */
#include <string.h>
#include "otto/boot.h"
#include "otto/sbv2.h"
#include "internal/slot.h"

int otto_slot_of(const otto_part_t *p)
{
    if (!p || p->type != OTTO_PART_TYPE_APP)
        return OTTO_SLOT_NONE;
    if (p->subtype == OTTO_PART_SUB_FACTORY)
        return OTTO_BOOT_FACTORY;
    if (p->subtype == OTTO_PART_SUB_TEST)
        return OTTO_BOOT_TEST;
    if (p->subtype >= OTTO_PART_SUB_OTA_MIN && p->subtype <= OTTO_PART_SUB_OTA_MAX)
        return (int)p->subtype - (int)OTTO_PART_SUB_OTA_MIN;
    return OTTO_SLOT_NONE;
}

const otto_part_t *otto_slot_part(const otto_part_table_t *t, int slot)
{
    if (slot == OTTO_BOOT_FACTORY)
        return otto_part_find(t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_FACTORY, NULL);
    if (slot == OTTO_BOOT_TEST)
        return otto_part_find(t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_TEST, NULL);
    if (slot < 0)
        return NULL;
    return otto_part_ota_slot(t, (unsigned)slot);
}

int otto_efuse_value(const otto_platform_t *plat, uint32_t *v)
{
    *v = 0;
    if (!plat->anti_rollback || !plat->efuse)
        return OTTO_OK;
    return plat->efuse->read_secure_version(plat->efuse->ctx, v);
}

int otto_slot_check(const otto_platform_t *plat, const otto_part_t *p,
                    otto_image_info_t *info)
{
    otto_image_info_t local;
    uint32_t fuse;
    int err;

    if (!p)
        return OTTO_E_NOTFOUND;
    if (!info)
        info = &local;
    err = otto_image_verify_flash(plat->flash, p->offset, p->size, plat->chip_id,
                                  plat->chip_rev, info);
    if (err)
        return err;
    if (plat->secure_boot) {
        /* Secure Boot v2: the ROM-verified bootloader loads only an app a
         * key in eFuse signed; anything else falls back like a bad hash. */
        uint32_t sector;
        err = otto_sbv2_find(plat->flash, p->offset, p->size, info->length, &sector);
        if (!err)
            err = otto_sbv2_check(plat->flash, p->offset, sector, plat->secure_boot, NULL);
        if (err)
            return err == OTTO_E_IO ? err : OTTO_E_SIGNATURE;
    }
    err = otto_efuse_value(plat, &fuse);
    if (err)
        return err;
    return info->desc.secure_version < fuse ? OTTO_E_VERSION : OTTO_OK;
}

/* An entry stays a candidate under anti-rollback only if its image's
 * secure_version (header read, no full verify) meets the eFuse. */
static bool entry_meets_fuse(const otto_platform_t *plat, const otto_part_table_t *t,
                             const otto_otadata_entry_t *e, unsigned n, uint32_t fuse)
{
    otto_image_info_t info;
    const otto_part_t *p = otto_part_ota_slot(t, otto_otadata_slot(e->seq, n));
    if (!p || otto_image_read_head(plat->flash, p->offset, p->size, &info))
        return false;
    return info.desc.secure_version >= fuse;
}

static int try_slot(const otto_platform_t *plat, const otto_part_table_t *t, int slot,
                    otto_boot_result_t *res)
{
    const otto_part_t *p = otto_slot_part(t, slot);
    int err;

    if (!p)
        return OTTO_E_NOTFOUND;
    err = otto_slot_check(plat, p, &res->info);
    if (err == OTTO_OK) {
        res->part = p;
        res->slot = slot;
        return OTTO_OK;
    }
    if (err == OTTO_E_IO)
        return err;
    res->rejected |= 1u << (slot + 2);
    if (!res->reject_err)
        res->reject_err = err;
    return err;
}

/* Step 5: the chosen slot, down to factory, up to the last slot, test. */
static int load_with_fallback(const otto_platform_t *plat, const otto_part_table_t *t,
                              int start, unsigned n, otto_boot_result_t *res)
{
    int err = try_slot(plat, t, start, res);
    if (err != OTTO_E_IO && err) {
        for (int s = start - 1; err && err != OTTO_E_IO && s >= OTTO_BOOT_FACTORY; s--)
            err = try_slot(plat, t, s, res);
        for (int s = start + 1; err && err != OTTO_E_IO && s < (int)n; s++)
            err = try_slot(plat, t, s, res);
        if (err && err != OTTO_E_IO)
            err = try_slot(plat, t, OTTO_BOOT_TEST, res);
        if (!err)
            res->why = OTTO_BOOT_FALLBACK;
        else if (err != OTTO_E_IO)
            err = OTTO_E_NOTFOUND;
    }
    return err;
}

int otto_efuse_raise(const otto_platform_t *plat, uint32_t v)
{
    if (!plat->anti_rollback || !plat->efuse)
        return OTTO_OK;
    if (v > plat->efuse->width)
        v = plat->efuse->width;
    return plat->efuse->raise_secure_version(plat->efuse->ctx, v);
}

int otto_boot_select(const otto_platform_t *plat, const otto_part_table_t *t,
                     otto_boot_result_t *res)
{
    otto_otadata_entry_t e[2];
    const otto_part_t *od, *factory;
    unsigned n;
    uint32_t fuse;
    bool initial = false, no_entry;
    int start, err;

    if (!plat || !t || !res)
        return OTTO_E_INVAL;
    memset(res, 0, sizeof(*res));
    res->entry = -1;
    err = otto_efuse_value(plat, &fuse);
    if (err)
        return err;
    res->efuse_before = res->efuse_after = fuse;
    od = otto_part_find(t, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_OTA, NULL);
    factory = otto_slot_part(t, OTTO_BOOT_FACTORY);
    n = otto_part_ota_count(t);

    if (!od) {
        res->why = OTTO_BOOT_NO_OTADATA;
        res->chosen_slot = OTTO_BOOT_FACTORY;
        return load_with_fallback(plat, t, OTTO_BOOT_FACTORY, n, res);
    }
    if (od->size < 2 * plat->flash->sector_size)
        return OTTO_E_CORRUPT;
    err = otto_otadata_read(plat->flash, od, e);
    if (err)
        return err;

    if (plat->rollback) {
        for (unsigned i = 0; i < 2; i++) {
            if (e[i].state != OTTO_IMG_PENDING_VERIFY)
                continue;
            e[i].state = OTTO_IMG_ABORTED;
            err = otto_otadata_write(plat->flash, od, i, &e[i]);
            if (err)
                return err;
            res->aborted |= (uint8_t)(1u << i);
        }
    }

    if (plat->anti_rollback)
        no_entry = otto_otadata_initial(e) || n == 0;
    else
        no_entry = (otto_otadata_unusable(&e[0]) && otto_otadata_unusable(&e[1])) || n == 0;

    if (!no_entry) {
        /* Drop entries whose image is below the eFuse before choosing. */
        if (plat->anti_rollback) {
            for (unsigned i = 0; i < 2; i++)
                if (otto_otadata_valid(&e[i]) && !entry_meets_fuse(plat, t, &e[i], n, fuse))
                    e[i].state = OTTO_IMG_ABORTED; /* in RAM only */
        }
        res->entry = otto_otadata_active(e);
        no_entry = res->entry < 0;
    }

    if (no_entry) {
        if (factory) {
            start = OTTO_BOOT_FACTORY;
            res->why = OTTO_BOOT_NO_ENTRY;
        } else {
            start = 0;
            initial = otto_otadata_initial(e);
            res->why = initial ? OTTO_BOOT_INITIAL : OTTO_BOOT_NO_ENTRY;
        }
        res->entry = -1;
    } else {
        otto_otadata_entry_t *a = &e[res->entry];
        start = (int)otto_otadata_slot(a->seq, n);
        res->why = OTTO_BOOT_ACTIVE;
        if (plat->rollback && a->state == OTTO_IMG_NEW) {
            a->state = OTTO_IMG_PENDING_VERIFY;
            err = otto_otadata_write(plat->flash, od, (unsigned)res->entry, a);
            if (err)
                return err;
            res->pending = true;
        }
        res->state = a->state;
    }
    res->chosen_slot = start;

    err = load_with_fallback(plat, t, start, n, res);
    if (err)
        return err;

    if (initial && res->slot >= 0) {
        otto_otadata_entry_t w;
        memset(&w, 0xFF, sizeof(w));
        w.seq = (uint32_t)res->slot + 1u;
        w.state = OTTO_IMG_VALID;
        err = otto_otadata_write(plat->flash, od, 0, &w);
        if (!err)
            err = otto_efuse_raise(plat, res->info.desc.secure_version);
        res->entry = 0;
        res->state = OTTO_IMG_VALID;
    } else if (res->entry >= 0 && res->slot == start && res->state == OTTO_IMG_VALID) {
        err = otto_efuse_raise(plat, res->info.desc.secure_version);
    }
    if (!err)
        err = otto_efuse_value(plat, &res->efuse_after);
    return err;
}
