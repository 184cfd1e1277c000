/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTA writes and slot switching. Where each write can be cut:
 *  - begin/write: only the inactive slot changes; otadata still names the
 *    running image.
 *  - set_boot: erase+program of the *other* otadata sector; a cut leaves it
 *    blank or with a bad CRC, and the running entry still wins.
 *  - mark_valid: also the other sector (seq + N maps to the same slot), so
 *    a cut leaves the PENDING_VERIFY entry, which the bootloader aborts:
 *    the old image boots and the update can simply be retried.
 *  - eFuse raise: only after VALID is on flash; if cut, the bootloader
 *    raises it on the next boot of that VALID entry.
 *  - mark_invalid: the running entry's own sector; a cut leaves it blank,
 *    which has the same effect as INVALID.
 */
#include <string.h>
#include "otto/ota.h"
#include "otto/otadata.h"
#include "otto/sbv2.h"
#include "internal/slot.h"

void otto_ota_ctx_init(otto_ota_ctx_t *ctx, const otto_platform_t *plat,
                       const otto_part_table_t *table, const otto_part_t *running)
{
    ctx->plat = plat;
    ctx->table = table;
    ctx->running = running;
}

static const otto_part_t *otadata_part(const otto_ota_ctx_t *ctx)
{
    return otto_part_find(ctx->table, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_DATA_OTA, NULL);
}

const otto_part_t *otto_ota_next_slot(const otto_ota_ctx_t *ctx)
{
    unsigned n = otto_part_ota_count(ctx->table);
    int cur = otto_slot_of(ctx->running);
    if (n == 0)
        return NULL;
    if (cur < 0)
        return otto_part_ota_slot(ctx->table, 0);
    if (n == 1)
        return NULL; /* the only slot is the running one */
    return otto_part_ota_slot(ctx->table, ((unsigned)cur + 1u) % n);
}

/* Active entry and the partition it selects. */
static int read_active(const otto_ota_ctx_t *ctx, otto_otadata_entry_t e[2], int *active,
                       int *slot)
{
    const otto_part_t *od = otadata_part(ctx);
    unsigned n = otto_part_ota_count(ctx->table);
    int err;

    *active = -1;
    *slot = OTTO_SLOT_NONE;
    if (!od)
        return OTTO_E_NOTFOUND;
    err = otto_otadata_read(ctx->plat->flash, od, e);
    if (err)
        return err;
    *active = otto_otadata_active(e);
    if (*active >= 0 && n)
        *slot = (int)otto_otadata_slot(e[*active].seq, n);
    return OTTO_OK;
}

int otto_ota_slot_state(const otto_ota_ctx_t *ctx, const otto_part_t *p, uint32_t *state)
{
    otto_otadata_entry_t e[2];
    const otto_part_t *od = otadata_part(ctx);
    unsigned n = otto_part_ota_count(ctx->table);
    int slot = otto_slot_of(p), err;

    if (!od || slot < 0 || !n)
        return OTTO_E_NOTFOUND;
    err = otto_otadata_read(ctx->plat->flash, od, e);
    if (err)
        return err;
    for (unsigned i = 0; i < 2; i++) {
        if (e[i].seq == OTTO_OTADATA_SEQ_BLANK || e[i].crc != otto_otadata_crc(e[i].seq))
            continue;
        if ((int)otto_otadata_slot(e[i].seq, n) == slot) {
            *state = e[i].state;
            return OTTO_OK;
        }
    }
    return OTTO_E_NOTFOUND;
}

static int fail(otto_ota_t *ota, int err)
{
    if (!ota->err)
        ota->err = err;
    return ota->err;
}

int otto_ota_begin(otto_ota_t *ota, const otto_ota_ctx_t *ctx,
                   const otto_part_t *target, uint32_t image_size)
{
    const otto_flash_t *fl;
    otto_otadata_entry_t e[2];
    int active, run_slot, err;

    if (!ota || !ctx || !ctx->plat || !ctx->table)
        return OTTO_E_INVAL;
    memset(ota, 0, sizeof(*ota));
    ota->ctx = ctx;
    fl = ctx->plat->flash;
    if (!target)
        target = otto_ota_next_slot(ctx);
    if (!target || otto_slot_of(target) < 0)
        return fail(ota, OTTO_E_NOTFOUND);
    if (target == ctx->running || (ctx->running && target->offset == ctx->running->offset))
        return fail(ota, OTTO_E_STATE);

    /* Rollback on: an unconfirmed running image must decide first, or a
     * second update could remove the only good image. */
    err = read_active(ctx, e, &active, &run_slot);
    if (err && err != OTTO_E_NOTFOUND)
        return fail(ota, err);
    if (!err && active >= 0 && ctx->plat->rollback &&
        run_slot == otto_slot_of(ctx->running) &&
        e[active].state == OTTO_IMG_PENDING_VERIFY)
        return fail(ota, OTTO_E_STATE);

    /* As ESP-IDF 5.5: drop an inactive entry that points at another slot,
     * so a half-written slot can never pass for an older good image. */
    if (!err && active >= 0 && ctx->plat->rollback) {
        unsigned other = 1u - (unsigned)active;
        unsigned n = otto_part_ota_count(ctx->table);
        if (otto_otadata_valid(&e[other]) &&
            (int)otto_otadata_slot(e[other].seq, n) != otto_slot_of(ctx->running)) {
            err = otto_otadata_erase(fl, otadata_part(ctx), other);
            if (err)
                return fail(ota, err);
        }
    }

    if (image_size != OTTO_OTA_SEQUENTIAL) {
        uint32_t len = target->size;
        if (image_size != OTTO_OTA_SIZE_UNKNOWN && image_size != 0) {
            if (image_size > target->size)
                return fail(ota, OTTO_E_NOSPC);
            len = (image_size + fl->sector_size - 1u) / fl->sector_size * fl->sector_size;
        }
        err = fl->erase(fl->ctx, target->offset, len);
        if (err)
            return fail(ota, err);
        ota->erased_to = len;
    }
    err = otto_image_check_init(&ota->check, ctx->plat->chip_id, ctx->plat->chip_rev,
                                target->size);
    if (err)
        return fail(ota, err);
    ota->target = target;
    ota->open = true;
    return OTTO_OK;
}

int otto_ota_resume(otto_ota_t *ota, const otto_ota_ctx_t *ctx,
                    const otto_part_t *target, uint32_t written)
{
    uint8_t buf[OTTO_CONFIG_READ_CHUNK];
    uint32_t fuse, done;
    int err = otto_ota_begin(ota, ctx, target, OTTO_OTA_SEQUENTIAL);
    if (err)
        return err;
    const otto_flash_t *fl = ctx->plat->flash;
    if (written < sizeof(ota->head))
        return OTTO_OK; /* too little to be worth it: start over */
    if (written > ota->target->size)
        return fail(ota, OTTO_E_INVAL);
    for (done = 0; done < written;) {
        uint32_t n = written - done < sizeof buf ? written - done : (uint32_t)sizeof buf;
        if ((err = fl->read(fl->ctx, ota->target->offset + done, buf, n)) ||
            (err = otto_image_check_feed(&ota->check, buf, n)))
            return fail(ota, err);
        done += n;
    }
    if (!otto_image_check_head_ok(&ota->check))
        return fail(ota, OTTO_E_CORRUPT);
    if ((err = otto_efuse_value(ctx->plat, &fuse)))
        return fail(ota, err);
    if (ota->check.info.desc.secure_version < fuse)
        return fail(ota, OTTO_E_VERSION);
    ota->head_checked = true;
    ota->written = written;
    /* Sequential writing erased every sector it touched, whole. */
    ota->erased_to = (written + fl->sector_size - 1u) / fl->sector_size * fl->sector_size;
    return OTTO_OK;
}

/* Program len bytes at slot offset off, erasing sectors just ahead. */
static int program(otto_ota_t *ota, uint32_t off, const uint8_t *p, uint32_t len)
{
    const otto_flash_t *fl = ota->ctx->plat->flash;
    int err;

    while (ota->erased_to < off + len) {
        err = fl->erase(fl->ctx, ota->target->offset + ota->erased_to, fl->sector_size);
        if (err)
            return err;
        ota->erased_to += fl->sector_size;
    }
    return fl->program(fl->ctx, ota->target->offset + off, p, len);
}

int otto_ota_write(otto_ota_t *ota, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    int err;

    if (!ota || (!data && len))
        return OTTO_E_INVAL;
    if (ota->err)
        return ota->err;
    if (!ota->open)
        return fail(ota, OTTO_E_STATE);
    if (len > ota->target->size - ota->written)
        return fail(ota, OTTO_E_NOSPC);

    /* Checking comes first: nothing the checker rejects reaches flash. */
    err = otto_image_check_feed(&ota->check, p, len);
    if (err)
        return fail(ota, err);

    if (!ota->head_checked) {
        uint32_t fuse;
        if (!otto_image_check_head_ok(&ota->check)) {
            /* header or descriptor still incomplete: hold the bytes */
            if (len > sizeof(ota->head) - ota->held)
                return fail(ota, OTTO_E_CORRUPT);
            memcpy(ota->head + ota->held, p, len);
            ota->held = (uint16_t)(ota->held + len);
            ota->written += (uint32_t)len;
            return OTTO_OK;
        }
        err = otto_efuse_value(ota->ctx->plat, &fuse);
        if (err)
            return fail(ota, err);
        if (ota->check.info.desc.secure_version < fuse)
            return fail(ota, OTTO_E_VERSION);
        ota->head_checked = true;
    }
    if (ota->held) {
        err = program(ota, 0, ota->head, ota->held);
        if (err)
            return fail(ota, err);
        ota->held = 0;
    }
    if (len) {
        err = program(ota, ota->written, p, (uint32_t)len);
        if (err)
            return fail(ota, err);
        ota->written += (uint32_t)len;
    }
    return OTTO_OK;
}

/* Bytes after the image are a Secure Boot v2 signature sector or garbage.
 * With Secure Boot on, a sector a key in eFuse signed is required, as
 * esp_ota_end requires it for signed apps; without, a sector must still be
 * well formed and sign this image (so it is carried, not silently wrong). */
static int signature_sector(otto_ota_t *ota)
{
    const otto_platform_t *plat = ota->ctx->plat;
    uint32_t len = ota->check.info.length, sector = ota->written - OTTO_SBV2_SECTOR;
    if (!ota->check.trailing)
        return plat->secure_boot ? OTTO_E_SIGNATURE : OTTO_OK;
    if (ota->written % OTTO_SBV2_SECTOR || ota->written < OTTO_SBV2_SECTOR ||
        !otto_sbv2_place_ok(len, sector))
        return plat->secure_boot ? OTTO_E_SIGNATURE : OTTO_E_CORRUPT;
    int err = otto_sbv2_check(plat->flash, ota->target->offset, sector, plat->secure_boot, NULL);
    if (err == OTTO_E_SIGNATURE && !plat->secure_boot)
        return OTTO_E_CORRUPT;
    return err;
}

int otto_ota_end(otto_ota_t *ota, otto_image_info_t *info)
{
    otto_image_info_t back;
    int err;

    if (!ota)
        return OTTO_E_INVAL;
    if (ota->err)
        return ota->err;
    if (!ota->open || ota->written == 0)
        return fail(ota, OTTO_E_STATE);
    if (ota->held)
        return fail(ota, OTTO_E_CORRUPT); /* shorter than a header + descriptor */
    err = otto_image_check_finish(&ota->check);
    if (err)
        return fail(ota, err);
    err = signature_sector(ota);
    if (err)
        return fail(ota, err);
    /* What matters is what flash holds, not what went past in RAM. */
    err = otto_image_verify_flash(ota->ctx->plat->flash, ota->target->offset,
                                  ota->target->size, ota->ctx->plat->chip_id,
                                  ota->ctx->plat->chip_rev, &back);
    if (err)
        return fail(ota, err == OTTO_E_IO ? err : OTTO_E_VERIFY);
    if (back.length != ota->check.info.length ||
        memcmp(back.sha256, ota->check.info.sha256, 32) != 0)
        return fail(ota, OTTO_E_VERIFY);
    if (info)
        *info = back;
    ota->open = false;
    return OTTO_OK;
}

void otto_ota_abort(otto_ota_t *ota)
{
    if (ota) {
        ota->open = false;
        ota->err = OTTO_E_STATE;
    }
}

int otto_ota_set_boot(const otto_ota_ctx_t *ctx, const otto_part_t *p)
{
    const otto_part_t *od;
    otto_otadata_entry_t e[2], w;
    unsigned n, k, idx;
    int active, slot, err;

    if (!ctx || !p)
        return OTTO_E_INVAL;
    od = otadata_part(ctx);
    slot = otto_slot_of(p);
    if (slot == OTTO_SLOT_NONE || slot == OTTO_BOOT_TEST || !od)
        return OTTO_E_NOTFOUND;
    /* An OTA image below the eFuse could never boot: erase it rather than
     * leave it as bait for the fallback walk. Factory is kept whatever it
     * holds; it is the image of last resort. */
    err = otto_slot_check(ctx->plat, p, NULL);
    if (err == OTTO_E_VERSION && slot != OTTO_BOOT_FACTORY) {
        err = ctx->plat->flash->erase(ctx->plat->flash->ctx, p->offset, p->size);
        return err ? err : OTTO_E_VERSION;
    }
    if (err && err != OTTO_E_VERSION)
        return err == OTTO_E_IO ? err : OTTO_E_VERIFY;
    if (slot == OTTO_BOOT_FACTORY)
        return otto_otadata_erase(ctx->plat->flash, od, 2);
    err = read_active(ctx, e, &active, &slot);
    if (err)
        return err;
    n = otto_part_ota_count(ctx->table);
    k = (unsigned)otto_slot_of(p);
    memset(&w, 0xFF, sizeof(w));
    if (active >= 0) {
        idx = 1u - (unsigned)active;
        w.seq = otto_otadata_next_seq(e[active].seq, k, n);
    } else {
        idx = 0;
        w.seq = k + 1u;
    }
    w.state = ctx->plat->rollback ? OTTO_IMG_NEW : OTTO_IMG_UNDEFINED;
    return otto_otadata_write(ctx->plat->flash, od, idx, &w);
}

/* The active entry must be the one the running image was booted from. */
static int running_entry(const otto_ota_ctx_t *ctx, otto_otadata_entry_t e[2], int *active)
{
    int slot, err = read_active(ctx, e, active, &slot);
    if (err)
        return err == OTTO_E_NOTFOUND ? OTTO_E_STATE : err;
    if (*active < 0 || slot != otto_slot_of(ctx->running))
        return OTTO_E_STATE; /* factory, or booted by fallback */
    return OTTO_OK;
}

int otto_ota_running_state(const otto_ota_ctx_t *ctx, uint32_t *state)
{
    otto_otadata_entry_t e[2];
    int active, err = running_entry(ctx, e, &active);
    if (err)
        return err == OTTO_E_STATE ? OTTO_E_NOTFOUND : err;
    *state = e[active].state;
    return OTTO_OK;
}

int otto_ota_mark_valid(const otto_ota_ctx_t *ctx)
{
    otto_otadata_entry_t e[2], w;
    otto_image_info_t info;
    int active, err;

    if (!ctx)
        return OTTO_E_INVAL;
    err = running_entry(ctx, e, &active);
    if (err)
        return err;
    if (e[active].state != OTTO_IMG_VALID) {
        w = e[active];
        w.seq = e[active].seq + otto_part_ota_count(ctx->table);
        w.state = OTTO_IMG_VALID;
        err = otto_otadata_write(ctx->plat->flash, otadata_part(ctx), 1u - (unsigned)active, &w);
        if (err)
            return err;
    }
    if (!ctx->plat->anti_rollback || !ctx->plat->efuse)
        return OTTO_OK;
    err = otto_image_read_head(ctx->plat->flash, ctx->running->offset, ctx->running->size, &info);
    if (err)
        return err;
    return otto_efuse_raise(ctx->plat, info.desc.secure_version);
}

int otto_ota_mark_invalid_and_reboot(const otto_ota_ctx_t *ctx)
{
    otto_otadata_entry_t e[2], w;
    int active, err;
    unsigned other, n;

    if (!ctx)
        return OTTO_E_INVAL;
    err = running_entry(ctx, e, &active);
    if (err)
        return err;
    other = 1u - (unsigned)active;
    n = otto_part_ota_count(ctx->table);
    if (otto_otadata_valid(&e[other])) {
        const otto_part_t *p = otto_part_ota_slot(ctx->table, otto_otadata_slot(e[other].seq, n));
        if (p == ctx->running)
            return OTTO_E_NOROLLBACK;
        err = otto_slot_check(ctx->plat, p, NULL);
        if (err)
            return err == OTTO_E_IO ? err : OTTO_E_NOROLLBACK;
    } else {
        const otto_part_t *f = otto_slot_part(ctx->table, OTTO_BOOT_FACTORY);
        /* ESP-IDF accepts factory only without anti-rollback; otto accepts
         * it in both modes when its secure_version meets the eFuse. */
        if (!f)
            return OTTO_E_NOROLLBACK;
        err = otto_slot_check(ctx->plat, f, NULL);
        if (err)
            return err == OTTO_E_IO ? err : OTTO_E_NOROLLBACK;
    }
    w = e[active];
    w.state = OTTO_IMG_INVALID;
    return otto_otadata_write(ctx->plat->flash, otadata_part(ctx), (unsigned)active, &w);
}
