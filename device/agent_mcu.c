/* SPDX-License-Identifier: Apache-2.0 */
/* Driving the relay to the MCU behind the module (relay.h), a slice at a time. */
#include <string.h>

#include "internal/agent.h"

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
    a->relay_open = false;
    a->job.mcu_state = S_UPDATED;
    otto_copy_str(a->mcu_version, sizeof a->mcu_version, a->job.mcu.version);
    otto_store_set_str(a->cfg.store, "mcuver", a->mcu_version);
    a->backoff = 0;
    agent_mcu_release(a);
    if (a->connected)
        agent_hello(a); /* the registry learns the MCU's version without a reboot */
    if (a->job.esp_state != S_PENDING) {
        agent_finish(a, R_SUCCEEDED, "updated", "");
        return;
    }
    a->job.target = T_ESP;
    a->job.phase = P_DOWNLOADING;
    a->job.etag[0] = 0;
    a->written = a->saved = a->from = 0;
    otto_store_erase(a->cfg.store, "off");
    agent_save_job(a);
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
        err = otto_relay_open(&a->relay, a->cfg.mcu_uart, fl, a->mcufw, a->job.mcu.size, a->cfg.store, fresh);
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
