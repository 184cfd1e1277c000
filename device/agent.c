/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's state machine (the picture: include/otto/agent.h; the table
 * below; the modules that do the work: internal/agent.h).
 *
 * What is persisted, and when (the store, store.h):
 *   "job"  the job record (record.h), on every phase change;
 *   "off"  bytes of the image safely in flash, every checkpoint_bytes;
 *   "mcupid" the MCU's part id (Get ID) as the last relay met it;
 *   "mcu"  the relay's progress (relay.c); "mcuver" the MCU's version once
 *          the relay has finished.
 */
#include <string.h>

#include "internal/agent.h"
#include "otto/record.h"

/* The job record is encoded in the token scratch: never while a message
 * is being parsed. */
typedef char scratch_fits_record[sizeof(((otto_agent_t *)0)->tok) >= OTTO_JOB_RECORD_V0_LEN ? 1 : -1];

/* ---- persistence ------------------------------------------------------- */

void agent_save_job(otto_agent_t *a)
{
    size_t n = 0;
    uint8_t *b = (uint8_t *)a->tok;
    int err = otto_job_record_encode(&a->job, b, sizeof a->tok, &n);
    if (!err)
        err = otto_store_set_blob(a->cfg.store, "job", b, n);
    if (err)
        a->last_err = err;
}

void agent_clear_job(otto_agent_t *a)
{
    memset(&a->job, 0, sizeof a->job);
    a->relay_open = false;
    otto_relay_forget(a->cfg.store);
    otto_store_erase(a->cfg.store, "off");
    otto_store_erase(a->cfg.store, "dlt");
    otto_store_erase(a->cfg.store, "dlb");
    otto_store_erase(a->cfg.store, "dlm");
    otto_store_erase(a->cfg.store, "job");
    a->written = a->saved = a->from = 0;
    a->delta_on = false;
    a->delta_failed = 0;
}

/* ---- ending a job ------------------------------------------------------ */

void agent_finish(otto_agent_t *a, int result, const char *reason, const char *detail)
{
    agent_end(a, result, reason, detail);
    agent_send_final(a);
}

/* The job's end recorded (a cut from here on reports it), not yet sent. */
void agent_end(otto_agent_t *a, int result, const char *reason, const char *detail)
{
    agent_stop_download(a);
    a->relay_open = false;
    agent_mcu_release(a);
    /* The image being worked on failed; one never reached stays not_started. */
    if (result == R_FAILED && a->job.target == T_ESP && a->job.esp_state == S_PENDING &&
        a->job.phase != P_STARTING)
        a->job.esp_state = S_FAILED;
    if (result == R_FAILED && a->job.target == T_MCU && a->job.mcu_state == S_PENDING &&
        a->job.phase != P_STARTING)
        a->job.mcu_state = S_FAILED;
    a->job.phase = P_REPORT;
    a->job.result = (uint8_t)result;
    otto_copy_str(a->job.reason, sizeof a->job.reason, reason);
    otto_copy_str(a->job.detail, sizeof a->job.detail, detail ? detail : "");
    otto_store_erase(a->cfg.store, "off");
    agent_save_job(a);
}

/* OTTO_E_IO is the flash failing, the power going or the server away: not
 * the job's fault, so stop and try again later. Anything else ends it. */
void agent_fail_or_retry(otto_agent_t *a, int err, const char *reason, const char *detail)
{
    a->last_err = err;
    if (err == OTTO_E_IO) {
        agent_stop_download(a);
        agent_arm_retry(a);
    } else {
        agent_finish(a, R_FAILED, reason, detail);
    }
}

/* The server no longer wants this job (canceled, superseded, removed). */
void agent_drop(otto_agent_t *a)
{
    agent_stop_download(a);
    agent_clear_job(a);
}

/* ---- the state machine -------------------------------------------------- */

typedef enum {
    EV_BOOT,       /* otto_agent_init found a job record */
    EV_CONNECTED,  /* the broker is up and our topics subscribed */
    EV_NEXT_SAME,  /* notify-next / $next names the job we are on */
    EV_NEXT_OTHER, /* ... names another job, or none */
    EV_ACCEPTED,   /* our last update was accepted */
    EV_GONE,       /* ... rejected: the execution is no longer ours */
    EV_REJECTED,   /* ... rejected for another reason (try again) */
    EV_RETRY,      /* the retry timer fired */
    EV_LATE,       /* an update we sent was not answered in time */
    EV_HEAD, EV_DATA, EV_END, /* the download's headers, bytes, end */
    EV_SLICE       /* a tick while relaying */
} event_t;

typedef struct {
    const otto_json_t *j; /* EV_NEXT_*: the message, and its execution */
    int exec;
    int status, err;      /* EV_HEAD: HTTP status; EV_END: how it ended */
    uint32_t length, range_start;
    const char *etag;
    const void *data;     /* EV_DATA */
    size_t len;
} ev_t;

static void ignore(otto_agent_t *a, const ev_t *e) { (void)a; (void)e; }

/* A job is next: the one we were on is no longer (canceled, superseded). */
static void take_other(otto_agent_t *a, const ev_t *e)
{
    if (a->job.phase != P_IDLE)
        agent_drop(a);
    if (e->exec >= 0)
        agent_judge(a, e->j, e->exec);
}

static void resend_started(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_send_progress(a, "accepted", true);
}

static void resend_final(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_send_final(a);
}

static void retry_later(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_arm_retry(a);
}

static void started(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    a->job.exec_version++;
    a->job.phase = P_DOWNLOADING;
    a->backoff = 0;
    agent_save_job(a);
    agent_start_download(a);
}

static void drop_and_ask(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_drop(a);
    agent_ask_next(a);
}

static void reported(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_clear_job(a);
    a->backoff = 0;
    agent_ask_next(a);
}

/* After a reboot, the job confirmed again: go on if nothing is under way. */
/* Download links expire and are minted per request: a fresh copy of our
 * job's document brings new ones. Take each entry's url when its hashes
 * are ours (the same file), nothing else. */
static void refresh_links(otto_agent_t *a, const ev_t *e)
{
    otto_jobdoc_t doc;
    bool changed = false;
    if (!e->j || e->exec < 0 || otto_jobdoc_read(e->j, otto_json_get(e->j, e->exec, "jobDocument"), &doc))
        return;
    otto_fw_entry_t *mine[2] = {&a->job.fw, &a->job.mcu};
    for (int k = 0; k < 2; k++) {
        const otto_fw_entry_t *f = mine[k]->size ? otto_jobdoc_find(&doc, mine[k]->ota_type) : NULL;
        if (f && f->size == mine[k]->size && !memcmp(f->md5, mine[k]->md5, 16) &&
            !memcmp(f->sha256, mine[k]->sha256, 32)) {
            mine[k]->delta = f->delta; /* in RAM only: each copy of the document brings it */
            if (strcmp(f->url, mine[k]->url)) {
                otto_copy_str(mine[k]->url, sizeof mine[k]->url, f->url);
                changed = true;
            }
        }
    }
    if (changed)
        agent_save_job(a);
}

static void resume(otto_agent_t *a, const ev_t *e)
{
    refresh_links(a, e);
    if (!a->http_busy && !a->retry_armed)
        agent_start_download(a);
}

/* Downloaded, waiting: the server's "install": "NOW" (or the field gone)
 * installs what is in flash, checked again on the way (agent_fetch.c). */
static void install_if_told(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    if (a->install_wait)
        return;
    a->job.phase = P_DOWNLOADING;
    agent_save_job(a);
    agent_start_download(a);
}

static void resend_downloaded(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_send_progress(a, "downloaded", false);
}

static void download(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    agent_start_download(a);
}

static void ask(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    if (a->connected)
        agent_ask_next(a);
}

static void on_head(otto_agent_t *a, const ev_t *e) { agent_on_head(a, e->status, e->length, e->range_start, e->etag); }
static void on_data(otto_agent_t *a, const ev_t *e) { agent_on_data(a, e->data, e->len); }
static void on_end(otto_agent_t *a, const ev_t *e) { agent_on_end(a, e->err); }

static void relay_slice(otto_agent_t *a, const ev_t *e)
{
    (void)e;
    if (!a->cfg.mcu_worker)
        otto_agent_relay_work(a);
    agent_relay_settle(a);
}

/* Back from the reboot into the new image, or rolled back from it. */
static void after_reboot(otto_agent_t *a, const ev_t *e)
{
    uint32_t state = 0;
    (void)e;
    if (agent_runs(a, &a->job.fw)) {
        a->job.phase = P_REPORT;
        a->job.esp_state = S_UPDATED;
        a->job.result = R_SUCCEEDED;
        otto_copy_str(a->job.reason, sizeof a->job.reason, "updated");
        otto_copy_str(a->job.detail, sizeof a->job.detail, "");
        agent_save_job(a);
        return;
    }
    const otto_part_t *slot = otto_ota_next_slot(a->cfg.ota);
    if (slot)
        otto_ota_slot_state(a->cfg.ota, slot, &state);
    if (state != OTTO_IMG_INVALID && a->job.attempts < 3) {
        /* The trial boot was cut short (power lost before the new image
         * confirmed itself, or before the switch), so the old image runs.
         * The new one is still in the slot: check it and try again. */
        a->job.attempts++;
        a->job.phase = P_DOWNLOADING;
        otto_store_set_int(a->cfg.store, "off", (int64_t)a->job.fw.size);
        agent_save_job(a);
        return;
    }
    a->job.phase = P_REPORT;
    a->job.result = R_FAILED;
    a->job.esp_state = S_FAILED;
    if (state == OTTO_IMG_INVALID) {
        otto_copy_str(a->job.reason, sizeof a->job.reason, "selftest_failed");
        otto_copy_str(a->job.detail, sizeof a->job.detail, "the new image failed its self-test; rolled back");
    } else if (state == OTTO_IMG_ABORTED) {
        otto_copy_str(a->job.reason, sizeof a->job.reason, "not_confirmed");
        otto_copy_str(a->job.detail, sizeof a->job.detail, "the new image restarted before confirming; rolled back");
    } else {
        otto_copy_str(a->job.reason, sizeof a->job.reason, "not_booted");
        otto_copy_str(a->job.detail, sizeof a->job.detail, "the bootloader did not start the new image");
    }
    agent_save_job(a);
}

/*
 * Every (phase, event) the agent acts on, what it does and where that
 * leads. A pair not listed is ignored: in particular a job that is next
 * while ours is switched, relaying or reporting waits until ours is done
 * (an MCU half-written is worse than a canceled job finished). Judging
 * (agent_judge.c), the download's events (agent_fetch.c) and the relay's
 * slices (agent_mcu.c) may end the job: FAILED or REJECTED -> reporting.
 */
static const struct {
    uint8_t phase, event;
    void (*act)(otto_agent_t *a, const ev_t *e);
} transitions[] = {
    /* phase          event          action           -> next phase */
    {P_IDLE,        EV_NEXT_OTHER, take_other},     /* judge it -> starting; reporting (REJECTED, already running) */
    {P_IDLE,        EV_RETRY,      ask},            /* ask for $next again */
    {P_STARTING,    EV_CONNECTED,  resend_started}, /* IN_PROGRESS again, expectedVersion */
    {P_STARTING,    EV_NEXT_SAME,  ignore},         /* a duplicate */
    {P_STARTING,    EV_NEXT_OTHER, take_other},     /* ours was canceled: drop it, judge the other */
    {P_STARTING,    EV_ACCEPTED,   started},        /* -> downloading */
    {P_STARTING,    EV_GONE,       drop_and_ask},   /* -> idle */
    {P_STARTING,    EV_REJECTED,   retry_later},
    {P_STARTING,    EV_RETRY,      resend_started},
    {P_STARTING,    EV_LATE,       resend_started},
    {P_DOWNLOADING, EV_NEXT_SAME,  resume},         /* the job is still ours: go on (after a reboot) */
    {P_DOWNLOADING, EV_NEXT_OTHER, take_other},     /* canceled or superseded: drop it */
    {P_DOWNLOADING, EV_GONE,       drop_and_ask},   /* canceled while we were at it -> idle */
    {P_DOWNLOADING, EV_RETRY,      download},       /* Range from the last checkpoint */
    {P_DOWNLOADING, EV_HEAD,       on_head},        /* 200 to a Range: from 0; bad status -> reporting */
    {P_DOWNLOADING, EV_DATA,       on_data},        /* into the slot or mcufw; checkpoints */
    {P_DOWNLOADING, EV_END,        on_end},         /* all checked -> switched (reboot) or relaying;
                                                       cut short -> retry */
    {P_SWITCHED,    EV_BOOT,       after_reboot},   /* new image runs -> reporting SUCCEEDED; rolled
                                                       back -> reporting FAILED; cut short -> downloading */
    {P_RELAY,       EV_SLICE,      relay_slice},    /* done -> downloading (esp32) or reporting */
    {P_DOWNLOADED,  EV_CONNECTED,  resend_downloaded}, /* the server learns it again */
    {P_DOWNLOADED,  EV_NEXT_SAME,  install_if_told}, /* "install": "NOW" -> downloading (checked from
                                                        flash, then switched or relayed) */
    {P_DOWNLOADED,  EV_NEXT_OTHER, take_other},     /* canceled: the slot is never selected */
    {P_DOWNLOADED,  EV_GONE,       drop_and_ask},
    {P_REPORT,      EV_CONNECTED,  resend_final},
    {P_REPORT,      EV_ACCEPTED,   reported},       /* -> idle, ask $next */
    {P_REPORT,      EV_GONE,       reported},       /* the server has it already -> idle */
    {P_REPORT,      EV_REJECTED,   retry_later},
    {P_REPORT,      EV_RETRY,      resend_final},
    {P_REPORT,      EV_LATE,       resend_final},
};

static void step(otto_agent_t *a, event_t ev, const ev_t *e)
{
    for (size_t i = 0; i < sizeof transitions / sizeof *transitions; i++)
        if (transitions[i].phase == a->job.phase && transitions[i].event == ev) {
            transitions[i].act(a, e);
            return;
        }
}

static const ev_t NONE = {NULL, -1, 0, 0, 0, 0, NULL, NULL, 0};

static void on_next(otto_agent_t *a, const char *payload, size_t len)
{
    otto_json_t j;
    char id[65] = "";
    ev_t e = NONE;
    a->waiting_next = false;
    if (otto_json_parse(&j, payload, len, a->tok, sizeof a->tok / sizeof *a->tok))
        return;
    e.j = &j;
    e.exec = otto_json_get(&j, 0, "execution");
    if (e.exec >= 0)
        otto_json_str(&j, otto_json_get(&j, e.exec, "jobId"), id, sizeof id);
    if (!id[0])
        e.exec = -1;
    bool same = a->job.phase != P_IDLE && !strcmp(id, a->job.job_id);
    if (same)
        a->install_wait = agent_install_waits(&j, e.exec);
    step(a, same ? EV_NEXT_SAME : EV_NEXT_OTHER, &e);
}

static void on_update_reply(otto_agent_t *a, bool ok, const char *payload, size_t len)
{
    a->reply_wait = false;
    step(a, ok ? EV_ACCEPTED : agent_job_gone(a, payload, len) ? EV_GONE : EV_REJECTED, &NONE);
}

/* ---- the port's entry points ------------------------------------------- */

int otto_agent_init(otto_agent_t *a, const otto_agent_config_t *cfg, const char *running_version)
{
    size_t len = 0;
    unsigned version = 0;
    int64_t pid = 0;
    uint8_t v0pid[2];
    if (!a || !cfg || !cfg->thing || !cfg->ota || !cfg->store || !cfg->port || !cfg->port->publish ||
        !cfg->port->http_get || !cfg->port->reboot || !running_version)
        return OTTO_E_INVAL;
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    otto_copy_str(a->running_version, sizeof a->running_version, running_version);
    a->mcufw = otto_part_find(cfg->ota->table, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, NULL);
    otto_trust_load(cfg->store, &a->trust); /* none provisioned: nothing verifies */
    agent_delta_init(a);
    agent_mcu_base_init(a);
    /* What the relay last put there wins over what the port was told. */
    if (otto_store_get_str(cfg->store, "mcuver", a->mcu_version, sizeof a->mcu_version))
        otto_copy_str(a->mcu_version, sizeof a->mcu_version, cfg->mcu_version ? cfg->mcu_version : "");
    if (!otto_store_get_int(cfg->store, "mcupid", &pid))
        a->mcu_pid = (uint16_t)pid;
    else if (!otto_store_get_blob(cfg->store, "mcupid", v0pid, sizeof v0pid, &len) && len == 2)
        a->mcu_pid = (uint16_t)(v0pid[0] | v0pid[1] << 8); /* version 0: the raw uint16_t */
    int err = otto_store_get_blob(cfg->store, "job", a->tok, sizeof a->tok, &len);
    if (!err)
        err = otto_job_record_decode((const uint8_t *)a->tok, len, &a->job, &version);
    if (err == OTTO_E_VERSION && a->job.job_id[0]) {
        /* Written by a newer agent, and we are older firmware again: we
         * cannot know where it was, so the job ends, saying why. */
        a->job.phase = P_REPORT;
        a->job.result = R_FAILED;
        otto_copy_str(a->job.reason, sizeof a->job.reason, "record_newer");
        otto_copy_str(a->job.detail, sizeof a->job.detail, "the job was kept by a newer otto agent; this firmware cannot resume it");
        otto_store_erase(cfg->store, "off");
        agent_save_job(a);
        return OTTO_OK;
    }
    if (err || a->job.phase > P_DOWNLOADED ||
        ((a->job.target == T_MCU || a->job.phase == P_RELAY) && (!a->mcufw || !cfg->mcu_uart))) {
        memset(&a->job, 0, sizeof a->job);
        if (err != OTTO_E_NOTFOUND)
            agent_clear_job(a); /* damaged */
        return OTTO_OK;
    }
    if (version < OTTO_JOB_RECORD_VERSION && a->job.phase != P_IDLE)
        agent_save_job(a); /* in today's encoding from now on */
    step(a, EV_BOOT, &NONE);
    return OTTO_OK;
}

void otto_agent_connected(otto_agent_t *a)
{
    a->connected = true;
    a->backoff = 0;
    agent_hello(a);
    step(a, EV_CONNECTED, &NONE);
    agent_ask_next(a); /* also tells whether a job we were on is still ours */
}

void otto_agent_disconnected(otto_agent_t *a)
{
    a->connected = false;
}

void otto_agent_message(otto_agent_t *a, const char *topic, const void *payload, size_t len)
{
    size_t tl = strlen(a->cfg.thing);
    const char *p = payload;
    if (strncmp(topic, "$aws/things/", 12) || strncmp(topic + 12, a->cfg.thing, tl) ||
        strncmp(topic + 12 + tl, "/jobs/", 6))
        return;
    const char *leaf = topic + 12 + tl + 6;
    if (!strcmp(leaf, "notify-next") || !strcmp(leaf, "$next/get/accepted")) {
        on_next(a, p, len);
        return;
    }
    if (!strcmp(leaf, "$next/get/rejected")) {
        a->waiting_next = false;
        agent_arm_retry(a);
        return;
    }
    size_t il = strlen(a->job.job_id);
    if (!il || strncmp(leaf, a->job.job_id, il))
        return;
    if (!strcmp(leaf + il, "/update/accepted"))
        on_update_reply(a, true, p, len);
    else if (!strcmp(leaf + il, "/update/rejected"))
        on_update_reply(a, false, p, len);
}

void otto_agent_tick(otto_agent_t *a)
{
    uint32_t t = agent_now(a);
    if (a->waiting_next && a->connected && t - a->next_asked_ms > NEXT_TIMEOUT_MS)
        agent_ask_next(a);
    else if (!a->waiting_next && a->connected && a->cfg.idle_poll_ms && a->job.phase == P_IDLE &&
             !a->retry_armed && t - a->next_asked_ms >= a->cfg.idle_poll_ms)
        agent_ask_next(a);
    if (a->reply_wait && a->connected && (int32_t)(t - a->reply_due) >= 0) {
        a->reply_wait = false;
        step(a, EV_LATE, &NONE);
    }
    if (a->job.phase == P_RELAY) { /* works with or without the broker */
        if (a->retry_armed && (int32_t)(t - a->retry_at) >= 0)
            a->retry_armed = false;
        step(a, EV_SLICE, &NONE);
        return;
    }
    if (!a->retry_armed || (int32_t)(t - a->retry_at) < 0)
        return;
    a->retry_armed = false;
    step(a, EV_RETRY, &NONE);
}

void otto_agent_http_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start,
                          const char *etag)
{
    ev_t e = NONE;
    e.status = status;
    e.length = length;
    e.range_start = range_start;
    e.etag = etag;
    step(a, EV_HEAD, &e);
}

void otto_agent_http_data(otto_agent_t *a, const void *data, size_t len)
{
    ev_t e = NONE;
    e.data = data;
    e.len = len;
    step(a, EV_DATA, &e);
}

void otto_agent_http_end(otto_agent_t *a, int err)
{
    ev_t e = NONE;
    e.err = err;
    step(a, EV_END, &e);
}

bool otto_agent_busy(const otto_agent_t *a)
{
    return a->job.phase != P_IDLE;
}

const char *otto_agent_phase(const otto_agent_t *a)
{
    static const char *const names[] = {"idle",      "starting", "downloading", "switched",
                                        "reporting", "relaying", "downloaded"};
    if (a->job.phase == P_DOWNLOADING && a->job.target == T_MCU)
        return "staging";
    return a->job.phase <= P_DOWNLOADED ? names[a->job.phase] : "?";
}

void otto_agent_progress(const otto_agent_t *a, uint32_t *done, uint32_t *total)
{
    if (a->job.phase == P_RELAY) {
        *done = a->relay.st.phase == OTTO_RELAY_WRITE ? a->relay.cur : 0;
        *total = a->job.mcu.size;
        return;
    }
    *done = a->written;
    *total = a->job.target == T_MCU ? a->job.mcu.size : a->job.fw.size;
}
