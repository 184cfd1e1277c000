/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Downloading: the job's image into the update slot (through ota.h) or the
 * MCU's into mcufw (stage.h), Range-resumed from the last checkpoint, its
 * MD5 and SHA-256 computed as it arrives and recomputed from flash after a
 * reboot, then checked, selected and rebooted into (or handed to the relay).
 *
 * A cut between two checkpoints costs at most checkpoint_bytes of
 * download; what is in flash below "off" is re-read and re-checked before
 * resuming (otto_ota_resume), so nothing is trusted that flash does not hold.
 */
#include <string.h>

#include "internal/agent.h"

/* The entry being downloaded. */
otto_fw_entry_t *agent_cur(otto_agent_t *a)
{
    return a->job.target == T_MCU ? &a->job.mcu : &a->job.fw;
}

void agent_checkpoint(otto_agent_t *a)
{
    /* Only bytes already programmed count: the head is held in RAM until
     * it has been judged. */
    if ((a->job.target == T_ESP && a->ota.held) || a->written == a->saved)
        return;
    if (!otto_store_set_int(a->cfg.store, "off", (int64_t)a->written))
        a->saved = a->written;
}

void agent_stop_download(otto_agent_t *a)
{
    if (a->http_busy && a->cfg.port->http_cancel)
        a->cfg.port->http_cancel(a->cfg.port->ctx);
    a->http_busy = false;
    if (a->ota.open)
        otto_ota_abort(&a->ota);
}

int agent_rehash_from_flash(otto_agent_t *a, uint32_t len)
{
    uint8_t b[OTTO_CONFIG_READ_CHUNK];
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    uint32_t base = a->job.target == T_MCU ? agent_mcu_part(a)->offset : a->ota.target->offset;
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < sizeof b ? len - off : (uint32_t)sizeof b;
        int err = fl->read(fl->ctx, base + off, b, n);
        if (err)
            return err;
        otto_md5_update(&a->md5, b, n);
        otto_sha256_update(&a->sha, b, n);
        off += n;
    }
    return OTTO_OK;
}

int agent_begin_fresh(otto_agent_t *a)
{
    a->written = a->saved = a->from = 0;
    otto_md5_start(&a->md5);
    otto_sha256_start(&a->sha);
    if (a->job.target == T_MCU) {
        int err = agent_mcu_claim(a);
        return err ? err : otto_stage_begin(&a->stage, a->cfg.ota->plat->flash, agent_mcu_part(a));
    }
    return otto_ota_begin(&a->ota, a->cfg.ota, NULL, OTTO_OTA_SEQUENTIAL);
}

void agent_start_download(otto_agent_t *a)
{
    int64_t off = 0;
    int err;
    if (a->http_busy)
        return;
    if (otto_store_get_int(a->cfg.store, "off", &off) || off < 0 || off > (int64_t)agent_cur(a)->size)
        off = 0;
    /* A patch from the running image, unless the whole image is in the
     * slot already (then it is only checked again). */
    if (off < (int64_t)agent_cur(a)->size && agent_delta_usable(a)) {
        agent_delta_start(a);
        return;
    }
    a->delta_on = false;
    otto_md5_start(&a->md5);
    otto_sha256_start(&a->sha);
    err = OTTO_E_AGAIN;
    if (off > 0 && a->job.target == T_MCU) {
        err = otto_stage_resume(&a->stage, a->cfg.ota->plat->flash, agent_mcu_part(a), (uint32_t)off);
        if (!err)
            err = agent_rehash_from_flash(a, (uint32_t)off);
    } else if (off > 0) {
        err = otto_ota_resume(&a->ota, a->cfg.ota, NULL, (uint32_t)off);
        if (!err && a->ota.written == (uint32_t)off)
            err = agent_rehash_from_flash(a, (uint32_t)off);
        else if (!err)
            err = OTTO_E_AGAIN; /* too early to resume: start over */
    }
    if (off > 0) {
        if (!err) {
            a->written = a->saved = a->from = (uint32_t)off;
            a->job.resumes++;
            agent_save_job(a);
            if (a->written == agent_cur(a)->size) {
                agent_complete(a); /* all of it is already in flash */
                return;
            }
        } else {
            a->job.refetched += (uint32_t)off;
        }
    }
    if (err && (err = agent_begin_fresh(a))) {
        agent_fail_or_retry(a, err, "ota_begin", "cannot start writing the update slot");
        return;
    }
    a->next_report = a->written + agent_cur(a)->size / 4u;
    a->http_head_seen = false;
    a->started_ms = agent_now(a);
    err = a->cfg.port->http_get(a->cfg.port->ctx, agent_cur(a)->url, a->from, a->from ? a->job.etag : "");
    if (err) {
        a->last_err = err;
        agent_arm_retry(a);
        return;
    }
    a->http_busy = true;
}

void agent_on_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start, const char *etag)
{
    if (!a->http_busy)
        return;
    a->http_head_seen = true;
    if (a->delta_on) {
        agent_delta_head(a, status, length, range_start);
        return;
    }
    if (status == 200 && a->from > 0) {
        /* The server ignored Range, or the file changed (If-Range): the
         * bytes start at 0 again. Never splice two files together. */
        a->job.refetched += a->from;
        otto_ota_abort(&a->ota);
        otto_store_erase(a->cfg.store, "off");
        int err = agent_begin_fresh(a);
        if (err) {
            agent_fail_or_retry(a, err, "ota_begin", "cannot restart writing the update slot");
            return;
        }
    } else if (status == 206 && range_start != a->from) {
        agent_finish(a, R_FAILED, "http_range", "the server sent another range than asked");
        return;
    } else if (status != 200 && status != 206) {
        char d[48];
        otto_jw_t w = {d, sizeof d, 0, false};
        otto_jw_raw(&w, "download answered HTTP ");
        otto_jw_u32(&w, (uint32_t)(status > 0 ? status : 0));
        if (status == 416)
            otto_store_erase(a->cfg.store, "off"); /* our offset is wrong: from 0 next time */
        /* Server trouble passes; a 404 will not. A 403 is an expired or
         * foreign link: ask for the job again (it brings fresh links) and
         * retry; if it persists, the retries run out. */
        if (status == 403)
            agent_ask_next(a);
        bool passing = status >= 500 || status == 408 || status == 429 || status == 416 || status == 403 ||
                       status <= 0;
        agent_fail_or_retry(a, passing ? OTTO_E_IO : OTTO_E_PROTO, "http_error", d);
        return;
    }
    if (length && a->from + length != agent_cur(a)->size) {
        agent_finish(a, R_FAILED, "size_mismatch", "the server's file is not the size the job says");
        return;
    }
    if (etag && etag[0] && strcmp(etag, a->job.etag)) {
        otto_copy_str(a->job.etag, sizeof a->job.etag, etag);
        agent_save_job(a);
    }
}

static const char *ota_reason(int err, int *result, const char **detail)
{
    *result = R_FAILED;
    switch (err) {
    case OTTO_E_CHIP:
        *result = R_REJECTED;
        *detail = "the image is for another chip or revision";
        return "wrong_chip";
    case OTTO_E_VERSION:
        *result = R_REJECTED;
        *detail = "secure_version below the anti-rollback counter";
        return "downgrade_refused";
    case OTTO_E_NOSPC:
        *detail = "the image does not fit the update slot";
        return "too_large";
    case OTTO_E_VERIFY:
        *detail = "the image's own SHA-256 or checksum is wrong";
        return "verify_failed";
    case OTTO_E_SIGNATURE:
        *detail = "no Secure Boot v2 block a key in eFuse signed verifies; slot not switched";
        return "bad_signature";
    case OTTO_E_STATE:
        *detail = "the running image is not confirmed yet";
        return "not_ready";
    default:
        *detail = "the image is not a valid app image";
        return "bad_image";
    }
}

/* Bytes of the image, in order (downloaded, or decoded from a patch): into
 * the slot or mcufw, hashed, counted, progress reported. */
int agent_slot_write(otto_agent_t *a, const void *data, size_t len)
{
    if (len > agent_cur(a)->size - a->written)
        return OTTO_E_NOSPC;
    int err = a->job.target == T_MCU ? otto_stage_write(&a->stage, data, len) : otto_ota_write(&a->ota, data, len);
    if (err)
        return err;
    otto_md5_update(&a->md5, data, len);
    otto_sha256_update(&a->sha, data, len);
    a->written += (uint32_t)len;
    if (a->written >= a->next_report && a->written < agent_cur(a)->size) {
        a->next_report = a->written + agent_cur(a)->size / 4u;
        agent_send_progress(a, a->job.target == T_MCU ? "mcu_download" : a->delta_on ? "delta" : "download", false);
    }
    return OTTO_OK;
}

/* A write into the slot failed (data: what was being written): end the
 * job saying why, or retry what flash or power cut short. */
void agent_write_failed(otto_agent_t *a, int err, const void *data, size_t len)
{
    int result;
    const char *detail;
    if (err == OTTO_E_NOSPC && a->written + len > agent_cur(a)->size) {
        agent_finish(a, R_FAILED, "size_mismatch", "the download is longer than the job says");
        return;
    }
    if (err == OTTO_E_IO) {
        agent_fail_or_retry(a, err, NULL, NULL);
        return;
    }
    if (a->job.target == T_MCU) {
        agent_finish(a, R_FAILED, "too_large", "the MCU image does not fit the mcufw partition");
        return;
    }
    if (err == OTTO_E_VERIFY && a->job.fw.has_md5 && a->written + len == a->job.fw.size) {
        /* The image's own hash failed on the last bytes: say whether
         * the download differs from what the job promised, too. */
        uint8_t md5[16];
        otto_md5_update(&a->md5, data, len);
        otto_md5_finish(&a->md5, md5);
        if (memcmp(md5, a->job.fw.md5, 16)) {
            agent_finish(a, R_FAILED, "md5_mismatch", "the download's MD5 differs from the job's; slot not switched");
            return;
        }
    }
    const char *reason = ota_reason(err, &result, &detail);
    agent_finish(a, result, reason, detail);
}

void agent_on_data(otto_agent_t *a, const void *data, size_t len)
{
    if (!a->http_busy || !len)
        return;
    if (a->delta_on) {
        agent_delta_data(a, data, len);
        return;
    }
    int err = agent_slot_write(a, data, len);
    if (err) {
        agent_write_failed(a, err, data, len);
        return;
    }
    uint32_t every = a->cfg.checkpoint_bytes ? a->cfg.checkpoint_bytes : CHECKPOINT_DEFAULT;
    if (a->written - a->saved >= every)
        agent_checkpoint(a);
}

void agent_on_end(otto_agent_t *a, int err)
{
    if (!a->http_busy)
        return;
    a->http_busy = false;
    a->job.download_ms += agent_now(a) - a->started_ms;
    if (a->delta_on) {
        agent_delta_end(a, err);
        return;
    }
    if (err || a->written < agent_cur(a)->size) {
        /* Dropped: keep what is in flash, come back for the rest. */
        agent_checkpoint(a);
        if (a->ota.open)
            otto_ota_abort(&a->ota);
        agent_arm_retry(a);
        return;
    }
    agent_complete(a);
}

/* Every byte is in the slot: check it all, select it, reboot into it. */
void agent_complete(otto_agent_t *a)
{
    uint8_t md5[16], sha[32];
    int result, err;
    const char *detail;
    a->backoff = 0;
    otto_md5_finish(&a->md5, md5);
    otto_sha256_finish(&a->sha, sha);
    bool mcu = a->job.target == T_MCU;
    if (a->delta_on && ((agent_cur(a)->has_md5 && memcmp(md5, agent_cur(a)->md5, 16)) ||
                        (agent_cur(a)->has_sha256 && memcmp(sha, agent_cur(a)->sha256, 32)))) {
        agent_delta_fallback(a); /* the patch made another image than the job's */
        return;
    }
    if (agent_cur(a)->has_md5 && memcmp(md5, agent_cur(a)->md5, 16)) {
        agent_finish(a, R_FAILED, "md5_mismatch", mcu ? "the MCU image's MD5 differs from the job's; not relayed"
                                                : "the download's MD5 differs from the job's; slot not switched");
        return;
    }
    if (agent_cur(a)->has_sha256 && memcmp(sha, agent_cur(a)->sha256, 32)) {
        agent_finish(a, R_FAILED, "sha256_mismatch", mcu ? "the MCU image's SHA-256 differs from the job's; not relayed"
                                                   : "the download's SHA-256 differs from the job's; slot not switched");
        return;
    }
    /* The owner's signature over the SHA-256 just computed, before anything
     * becomes bootable or a byte reaches the MCU. No signature is refused
     * unless the port allows unsigned images; never for want of keys. */
    const otto_fw_entry_t *e = agent_cur(a);
    if (!e->siglen && !a->cfg.allow_unsigned) {
        agent_finish(a, R_FAILED, "unsigned", "the image has no signature and this device requires one");
        return;
    }
    if (e->siglen && otto_trust_verify(&a->trust, a->cfg.port->verify, a->cfg.port->ctx, sha, e->sig, e->siglen)) {
        agent_finish(a, R_FAILED, "bad_signature", mcu ? "the MCU image's signature does not verify; not relayed"
                                                      : "the signature does not verify with a trusted key; slot not switched");
        return;
    }
    if (a->install_wait) { /* checked; installed (relayed, or switched to) when the server says */
        if (!mcu && (err = otto_ota_end(&a->ota, NULL))) {
            const char *reason = ota_reason(err, &result, &detail);
            agent_finish(a, result, reason, detail);
            return;
        }
        agent_wait_install(a);
        return;
    }
    if (mcu) {
        a->job.phase = P_RELAY;
        otto_store_erase(a->cfg.store, "off");
        agent_save_job(a);
        a->next_report = a->job.mcu.size / 4u;
        agent_send_progress(a, "relaying", false);
        return; /* otto_agent_tick does the relay, a slice at a time */
    }
    if ((err = otto_ota_end(&a->ota, NULL))) {
        const char *reason = ota_reason(err, &result, &detail);
        agent_finish(a, result, reason, detail);
        return;
    }
    /* Switched is recorded before the switch: a cut in between reboots
     * into the old image with the whole new one in its slot, which the
     * boot verdict checks and selects again, rather than downloading it
     * all over because the record still said "downloading". */
    a->job.phase = P_SWITCHED;
    agent_save_job(a);
    if ((err = otto_ota_set_boot(a->cfg.ota, a->ota.target))) {
        agent_finish(a, R_FAILED, "set_boot", "cannot select the new image");
        return;
    }
    otto_store_erase(a->cfg.store, "off");
    agent_send_progress(a, "rebooting", false);
    a->cfg.port->reboot(a->cfg.port->ctx);
}
