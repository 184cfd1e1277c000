/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delta updates: when the job's entry offers a patch (delta.h) made from
 * the image this device holds for its target (the running slot for esp32;
 * for stm32, the MCU image last relayed, kept in mcufw: agent_mcu.c), the
 * agent downloads the patch instead of the image and decodes it through
 * the same write path (agent_slot_write): the image is hashed, checked
 * and switched to (or relayed) exactly as a downloaded one. The decoder's
 * memory is the port's (cfg.delta).
 *
 * Kept in the store: "dlt", the decoder's resume point (delta.h), written
 * at each block boundary, when every target byte before it is in flash;
 * after a power cut the slot is re-read up to there, the decoder starts at
 * that block and the patch is fetched from that block's offset: at most
 * one block's worth of patch again. "dlb" ("dlm" for the MCU's image), the
 * patch bytes the download took, for the final report. Anything wrong with
 * the patch (a server that answers for another file, a malformed block, an
 * image that does not hash to the job's) falls back to the full image, and
 * the report says so.
 */
#include <string.h>

#include "internal/agent.h"
#include "otto/sbv2.h"

/* The running image's SHA-256: over the image, and its Secure Boot v2
 * signature sector when one follows (the file as uploaded): what a patch
 * names as its base, and what a job's entry says of its image. */
void agent_delta_init(otto_agent_t *a)
{
    otto_image_info_t info;
    const otto_part_t *run = a->cfg.ota->running;
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    uint8_t b[OTTO_CONFIG_READ_CHUNK];
    otto_sha256_t sha;
    a->has_running_sha256 = false;
    if (!a->cfg.delta || !run || otto_image_verify_flash(fl, run->offset, run->size, OTTO_CHIP_ANY, 0, &info))
        return;
    uint32_t end = info.length, sector;
    if (!otto_sbv2_find(fl, run->offset, run->size, info.length, &sector))
        end = sector + OTTO_SBV2_SECTOR;
    otto_sha256_start(&sha);
    for (uint32_t off = 0; off < end;) {
        uint32_t n = end - off < sizeof b ? end - off : (uint32_t)sizeof b;
        if (fl->read(fl->ctx, run->offset + off, b, n))
            return;
        otto_sha256_update(&sha, b, n);
        off += n;
    }
    otto_sha256_finish(&sha, a->running_sha256);
    a->has_running_sha256 = true;
}

/* The image a patch for the job's target applies to: the running slot,
 * or the MCU image kept in mcufw (agent_mcu.c); NULL when there is none. */
static const otto_part_t *base_part(const otto_agent_t *a, const uint8_t **sha)
{
    if (a->job.target == T_MCU) { /* not for an image that will take all of mcufw, base included */
        *sha = a->mcu_base_sha256;
        return a->mcu_base.size && agent_mcu_fits_half(a) ? &a->mcu_base : NULL;
    }
    *sha = a->running_sha256;
    return a->has_running_sha256 ? a->cfg.ota->running : NULL;
}

bool agent_delta_usable(const otto_agent_t *a)
{
    const otto_fw_entry_t *f = a->job.target == T_MCU ? &a->job.mcu : &a->job.fw;
    const uint8_t *sha;
    return a->cfg.delta && !(a->delta_failed & (1u << a->job.target)) && f->delta.size && base_part(a, &sha) &&
           !memcmp(f->delta.base_sha256, sha, 32);
}

static int read_base(void *ctx, uint32_t off, void *buf, size_t len)
{
    otto_agent_t *a = ctx;
    const uint8_t *sha;
    const otto_part_t *base = base_part(a, &sha);
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    if (!base || (uint64_t)off + len > base->size)
        return OTTO_E_CORRUPT; /* never outside the base's slot */
    return fl->read(fl->ctx, base->offset + off, buf, (uint32_t)len);
}

/* Where the final report finds the patch's bytes (or -1: fell back). */
static const char *bytes_key(const otto_agent_t *a)
{
    return a->job.target == T_MCU ? "dlm" : "dlb";
}

static int write_target(void *ctx, const void *data, size_t len)
{
    otto_agent_t *a = ctx;
    int err = agent_slot_write(a, data, len);
    a->delta_write_err = err != OTTO_OK;
    return err;
}

/* A block boundary: the slot holds everything before it; save where to
 * resume (not while the image's head is still held for judging). */
static int block_done(void *ctx, const otto_delta_resume_t *r)
{
    otto_agent_t *a = ctx;
    uint8_t b[OTTO_DELTA_RESUME_LEN];
    if ((a->job.target == T_ESP && a->ota.held) || a->written <= a->saved)
        return OTTO_OK;
    otto_delta_resume_encode(r, b);
    if (!otto_store_set_blob(a->cfg.store, "dlt", b, sizeof b))
        a->saved = a->written;
    return OTTO_OK; /* a store that failed costs a block more after a cut, nothing else */
}

static void get_patch(otto_agent_t *a)
{
    a->next_report = a->written + agent_cur(a)->size / 4u;
    a->http_head_seen = false;
    a->started_ms = agent_now(a);
    a->from = a->delta_got;
    int err = a->cfg.port->http_get(a->cfg.port->ctx, agent_cur(a)->delta.url, a->delta_got, "");
    if (err) {
        a->last_err = err;
        agent_arm_retry(a);
        return;
    }
    a->http_busy = true;
}

/* From the last block boundary the store has, if it is this patch's. */
static bool resume(otto_agent_t *a)
{
    uint8_t b[OTTO_DELTA_RESUME_LEN];
    size_t n = 0;
    otto_delta_resume_t r;
    const otto_fw_entry_t *f = agent_cur(a);
    const uint8_t *sha;
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    if (!base_part(a, &sha) || otto_store_get_blob(a->cfg.store, "dlt", b, sizeof b, &n) ||
        otto_delta_resume_decode(b, n, &r) || r.hdr.target_size != f->size || memcmp(r.hdr.base_sha256, sha, 32) ||
        r.patch_off >= f->delta.size)
        return false;
    uint32_t off = r.block * r.hdr.block_size;
    otto_md5_start(&a->md5);
    otto_sha256_start(&a->sha);
    if (a->job.target == T_MCU ? otto_stage_resume(&a->stage, fl, agent_mcu_part(a), off) != OTTO_OK
                               : otto_ota_resume(&a->ota, a->cfg.ota, NULL, off) || a->ota.written != off)
        return false;
    if (agent_rehash_from_flash(a, off))
        return false;
    otto_delta_resume(a->cfg.delta, &r, read_base, write_target, a);
    a->cfg.delta->on_block = block_done;
    a->written = a->saved = off;
    a->delta_got = r.patch_off;
    a->job.resumes++;
    agent_save_job(a);
    return true;
}

void agent_delta_start(otto_agent_t *a)
{
    if (a->http_busy)
        return;
    a->delta_on = true;
    a->delta_write_err = false;
    if (!resume(a)) {
        otto_store_erase(a->cfg.store, "dlt");
        otto_store_erase(a->cfg.store, "off");
        int err = agent_begin_fresh(a);
        if (err) {
            agent_fail_or_retry(a, err, "ota_begin", "cannot start writing the update slot");
            return;
        }
        otto_delta_begin(a->cfg.delta, read_base, write_target, a);
        a->cfg.delta->on_block = block_done;
        a->delta_got = 0;
    }
    get_patch(a);
}

/* Anything wrong with the patch: the full image instead (the final report
 * says "delta": "fallback"). */
void agent_delta_fallback(otto_agent_t *a)
{
    agent_stop_download(a);
    a->delta_on = false;
    a->delta_failed |= (uint8_t)(1u << a->job.target);
    a->job.refetched += a->delta_got;
    otto_store_erase(a->cfg.store, "dlt");
    otto_store_erase(a->cfg.store, "off");
    otto_store_set_int(a->cfg.store, bytes_key(a), -1);
    a->written = a->saved = a->from = 0;
    agent_start_download(a);
}

void agent_delta_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start)
{
    if (status == 200 && a->delta_got > 0) { /* Range ignored: the patch from its start */
        a->job.refetched += a->delta_got;
        agent_stop_download(a);
        otto_store_erase(a->cfg.store, "dlt");
        agent_delta_start(a); /* nothing to resume from now: fresh */
        return;
    }
    if ((status == 206 && range_start != a->delta_got) || (status != 200 && status != 206 && status != 403 &&
                                                           status != 408 && status != 429 && status < 500) ||
        (length && a->delta_got + length != agent_cur(a)->delta.size)) {
        agent_delta_fallback(a); /* the server does not serve the patch the job named */
        return;
    }
    if (status != 200 && status != 206) { /* passing trouble, or an expired link: as for a full download */
        if (status == 403)
            agent_ask_next(a);
        agent_fail_or_retry(a, OTTO_E_IO, "http_error", "the patch's download failed");
    }
}

void agent_delta_data(otto_agent_t *a, const void *data, size_t len)
{
    if (len > agent_cur(a)->delta.size - a->delta_got) {
        agent_delta_fallback(a); /* longer than the job says */
        return;
    }
    int err = otto_delta_feed(a->cfg.delta, data, len);
    a->delta_got += (uint32_t)len;
    if (err) {
        if (a->delta_write_err) /* the slot refused the image: as a download it would */
            agent_write_failed(a, err, NULL, 0);
        else
            agent_delta_fallback(a); /* it does not decode */
    }
}

void agent_delta_end(otto_agent_t *a, int err)
{
    if (err || a->delta_got < agent_cur(a)->delta.size) { /* dropped: resume from the last block */
        if (a->ota.open)
            otto_ota_abort(&a->ota);
        agent_arm_retry(a);
        return;
    }
    if (otto_delta_finish(a->cfg.delta) || a->written != agent_cur(a)->size) {
        agent_delta_fallback(a); /* it ended before the image did */
        return;
    }
    otto_store_set_int(a->cfg.store, bytes_key(a), (int64_t)agent_cur(a)->delta.size);
    agent_complete(a);
}
