/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Driving the relay to the MCU behind the module (relay.h), a slice at a
 * time; and where in mcufw the MCU's images live.
 *
 * mcufw is used in two halves (whole sectors each). The image last relayed
 * and verified stays in one as the base MCU patches are made from; the
 * store's "mcub" says which half, its size and SHA-256 (u8 half, u32 size,
 * 32 bytes), and nothing is written into that half while "mcub" names it.
 * The next image is staged in the other half, so a relay that fails leaves
 * the base intact; an image larger than a half takes all of mcufw, and the
 * base is forgotten before its first byte is written. A module without
 * "mcub" (a factory-programmed MCU) holds no base and gets full images.
 */
#include <string.h>

#include "internal/agent.h"

#define MCUB_LEN 37u

/* Bytes in each half: whole sectors; 0 when mcufw is too small to split. */
static uint32_t half_size(const otto_agent_t *a)
{
    uint32_t sector = a->cfg.ota->plat->flash->sector_size;
    return a->mcufw && sector ? a->mcufw->size / 2u / sector * sector : 0;
}

static otto_part_t half(const otto_agent_t *a, unsigned k, uint32_t size)
{
    otto_part_t p = *a->mcufw;
    p.offset += k * half_size(a);
    p.size = size;
    return p;
}

/* The base from "mcub", if flash still holds the image it names. */
void agent_mcu_base_init(otto_agent_t *a)
{
    uint8_t b[MCUB_LEN], sha[32], chunk[OTTO_CONFIG_READ_CHUNK];
    size_t n = 0;
    otto_sha256_t h;
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    memset(&a->mcu_base, 0, sizeof a->mcu_base);
    if (!a->mcufw || otto_store_get_blob(a->cfg.store, "mcub", b, sizeof b, &n))
        return;
    uint32_t size = otto_get_le32(b + 1);
    if (n != MCUB_LEN || b[0] > 1 || !size || size > half_size(a)) {
        otto_store_erase(a->cfg.store, "mcub");
        return;
    }
    otto_part_t p = half(a, b[0], size);
    otto_sha256_start(&h);
    for (uint32_t off = 0; off < size;) {
        uint32_t k = size - off < sizeof chunk ? size - off : (uint32_t)sizeof chunk;
        if (fl->read(fl->ctx, p.offset + off, chunk, k))
            return; /* unreadable now: no base this boot, "mcub" kept */
        otto_sha256_update(&h, chunk, k);
        off += k;
    }
    otto_sha256_finish(&h, sha);
    if (memcmp(sha, b + 5, 32)) {
        otto_store_erase(a->cfg.store, "mcub");
        return;
    }
    a->mcu_base = p;
    memcpy(a->mcu_base_sha256, sha, 32);
}

/* Does the job's MCU image fit a half (and so leave the base alone)? */
bool agent_mcu_fits_half(const otto_agent_t *a)
{
    return a->job.mcu.size <= half_size(a);
}

/* Where the job's MCU image goes: the half the base is not in, or all of
 * mcufw for an image larger than a half. */
const otto_part_t *agent_mcu_part(otto_agent_t *a)
{
    uint32_t h = half_size(a);
    if (!a->mcufw)
        return NULL;
    if (!agent_mcu_fits_half(a))
        a->mcu_dst = *a->mcufw;
    else
        a->mcu_dst = half(a, a->mcu_base.size && a->mcu_base.offset == a->mcufw->offset ? 1u : 0u, h);
    return &a->mcu_dst;
}

/* Before the first byte of a fresh staging: a base the image will
 * overwrite is forgotten first. */
int agent_mcu_claim(otto_agent_t *a)
{
    const otto_part_t *d = agent_mcu_part(a);
    if (!a->mcu_base.size || !d || d->size <= half_size(a))
        return OTTO_OK;
    int err = otto_store_erase(a->cfg.store, "mcub");
    if (!err)
        memset(&a->mcu_base, 0, sizeof a->mcu_base);
    return err;
}

/* The relayed image (in dst, verified before the relay) is the base now. */
static void keep_base(otto_agent_t *a, const otto_part_t *dst, uint32_t size, const uint8_t sha[32])
{
    uint8_t b[MCUB_LEN];
    if (!a->mcufw || size > half_size(a) || dst->size > half_size(a))
        return; /* it took all of mcufw: no half to keep it in */
    b[0] = dst->offset == a->mcufw->offset ? 0 : 1;
    otto_put_le32(b + 1, size);
    memcpy(b + 5, sha, 32);
    if (!otto_store_set_blob(a->cfg.store, "mcub", b, sizeof b)) {
        a->mcu_base = half(a, b[0], size);
        memcpy(a->mcu_base_sha256, sha, 32);
    }
}

static void agent_mcu_done(otto_agent_t *a);
static void agent_relay_failed(otto_agent_t *a, int err);

/* The job ends here with a result to report. */
/* The MCU's part of the job is over: its application runs again (the new
 * one after Go; the old one, intact, after a refusal before any erase). */
void agent_mcu_release(otto_agent_t *a)
{
    if (a->mcu_held && a->cfg.port->mcu_run)
        a->cfg.port->mcu_run(a->cfg.port->ctx);
    a->mcu_held = false;
}

/* The MCU runs the job's image: on to the module's own, if it has one. */
static void agent_mcu_done(otto_agent_t *a)
{
    /* The base changes only once the job is past the relay: until then a
     * cut relays again from the same half. */
    otto_part_t dst = *agent_mcu_part(a);
    uint32_t size = a->job.mcu.size;
    uint8_t sha[32];
    bool has_sha = a->job.mcu.has_sha256;
    memcpy(sha, a->job.mcu.sha256, 32);
    a->relay_open = false;
    a->job.mcu_state = S_UPDATED;
    otto_copy_str(a->mcu_version, sizeof a->mcu_version, a->job.mcu.version);
    otto_store_set_str(a->cfg.store, "mcuver", a->mcu_version);
    a->backoff = 0;
    agent_mcu_release(a);
    bool esp_next = a->job.esp_state == S_PENDING;
    if (!esp_next) {
        agent_end(a, R_SUCCEEDED, "updated", "");
    } else {
        a->job.target = T_ESP;
        a->job.phase = P_DOWNLOADING;
        a->job.etag[0] = 0;
        a->written = a->saved = a->from = 0;
        otto_store_erase(a->cfg.store, "off");
        otto_store_erase(a->cfg.store, "dlt");
        agent_save_job(a);
    }
    if (has_sha)
        keep_base(a, &dst, size, sha);
    if (a->connected)
        agent_hello(a); /* the registry learns the MCU's version (and base) without a reboot */
    if (!esp_next) {
        agent_send_final(a);
        return;
    }
    agent_send_progress(a, "mcu_updated", false);
    agent_start_download(a);
}

static const char *mcu_reason(int err)
{
    switch (err) {
    case OTTO_E_TIMEOUT: return "mcu_no_answer";
    case OTTO_E_NOSPC: return "mcu_too_large";
    case OTTO_E_NOTFOUND: return "mcu_unknown_part";
    case OTTO_E_VERIFY: return "mcu_verify_failed";
    case OTTO_E_CORRUPT: return "mcu_bad_image";
    case OTTO_E_DENIED: return "mcu_protected";
    case OTTO_E_CHIP: return "mcu_wrong_part";
    default: return "mcu_protocol";
    }
}

/* A relay step failed. The UART, flash or power failing is retried without
 * end (as downloads are); the MCU itself failing, MCU_TRIES times. */
static void agent_relay_failed(otto_agent_t *a, int err)
{
    /* Tries count failures without progress: a long relay over a noisy
     * line may fail now and then and still get there. */
    uint32_t mark = otto_relay_mark(&a->relay);
    if (mark > a->job.relay_mark) {
        a->job.relay_mark = mark;
        a->job.mcu_tries = 0;
    }
    a->last_err = err;
    if (!otto_relay_retryable(err))
        a->job.mcu_tries = MCU_TRIES; /* the image, not the line: no point in trying again */
    if (err != OTTO_E_IO && ++a->job.mcu_tries >= MCU_TRIES) {
        const char *why = a->relay.mcu.why;
        a->job.mcu_state = S_FAILED;
        agent_finish(a, R_FAILED, mcu_reason(err), why ? why : "the MCU relay failed");
        return;
    }
    if (err == OTTO_E_VERIFY || err == OTTO_E_NOTFOUND) {
        a->relay_open = false; /* start the MCU over from a clean erase */
        a->relay_fresh = true;
    }
    if (err != OTTO_E_IO)
        agent_save_job(a);
    agent_arm_retry(a);
}

bool otto_agent_relay_due(const otto_agent_t *a)
{
    return a->job.phase == P_RELAY && !a->retry_armed && !a->relay_ended;
}

/* A slice of the relay. Only the UART, the flash, the store and the relay's
 * own state are touched (a port may run this on another thread); what it
 * leads to is settled by relay_settle from otto_agent_tick. */
void otto_agent_relay_work(otto_agent_t *a)
{
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    uint32_t t0 = agent_now(a), slice = a->cfg.mcu_slice_ms ? a->cfg.mcu_slice_ms : SLICE_DEFAULT_MS;
    int err;
    if (!otto_agent_relay_due(a))
        return;
    if (!a->relay_open) {
        /* "mcu" holds this job's progress or nothing (every job starts
         * with it erased); fresh after the MCU's flash read back wrong. */
        bool fresh = a->relay_fresh;
        a->relay_fresh = false;
        a->relay.mcu.lim.retries = a->cfg.mcu_retries;
        a->relay.opt.unprotect = a->cfg.mcu_unprotect;
        a->relay.opt.part_id = a->job.mcu.part_id;
        err = otto_relay_open(&a->relay, a->cfg.mcu_uart, fl, agent_mcu_part(a), a->job.mcu.size, a->cfg.store, fresh);
        if (err) {
            a->relay_err = err == OTTO_E_INVAL ? OTTO_E_NOSPC : err;
            a->relay_ended = true;
            return;
        }
        a->relay_open = true;
    }
    if (!a->relay.connected && a->cfg.port->mcu_bootloader) {
        a->cfg.port->mcu_bootloader(a->cfg.port->ctx);
        a->mcu_held = true;
    }
    do
        err = otto_relay_step(&a->relay);
    while (err == OTTO_E_AGAIN && agent_now(a) - t0 < slice);
    a->job.relay_ms += agent_now(a) - t0;
    /* Which part answered Get ID: later jobs for another are refused before
     * their download. */
    if (a->relay.mcu.part && a->relay.mcu.part->pid != a->mcu_pid) {
        a->mcu_pid = a->relay.mcu.part->pid;
        otto_store_set_int(a->cfg.store, "mcupid", a->mcu_pid);
    }
    if (err != OTTO_E_AGAIN) {
        a->relay_err = err;
        a->relay_ended = true;
    }
}

/* What the relay's last slice led to: a progress report, the MCU done, or
 * an error to retry or end the job with. */
void agent_relay_settle(otto_agent_t *a)
{
    uint32_t done, total;
    if (a->job.phase != P_RELAY)
        return;
    otto_agent_progress(a, &done, &total);
    if (!a->relay_ended && done >= a->next_report && done < total) {
        a->next_report = done + total / 4u;
        agent_send_progress(a, "relay", false);
    }
    if (!a->relay_ended)
        return;
    a->relay_ended = false;
    if (a->relay_err == OTTO_OK)
        agent_mcu_done(a);
    else
        agent_relay_failed(a, a->relay_err);
}
