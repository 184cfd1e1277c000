/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent tells the server: the AWS IoT Jobs device API (topics
 * $aws/things/{thing}/jobs/..., docs/api.md) and otto's hello. Payloads are
 * written with the core's JSON writer (no printf); statusDetails values are
 * strings, as AWS requires.
 */
#include <string.h>

#include "internal/agent.h"

uint32_t agent_now(const otto_agent_t *a)
{
    return a->cfg.port->now_ms ? a->cfg.port->now_ms(a->cfg.port->ctx) : 0;
}

void agent_arm_retry(otto_agent_t *a)
{
    uint32_t base = a->cfg.retry_ms ? a->cfg.retry_ms : RETRY_DEFAULT_MS;
    if (a->backoff == 0)
        a->backoff = 1;
    a->retry_at = agent_now(a) + base * a->backoff;
    if (a->backoff < BACKOFF_MAX)
        a->backoff *= 2;
    a->retry_armed = true;
}

static bool agent_publish(otto_agent_t *a, const char *leaf, const char *payload)
{
    otto_jw_t t = {a->topic, sizeof a->topic, 0, false};
    otto_jw_raw(&t, "$aws/things/");
    otto_jw_raw(&t, a->cfg.thing);
    otto_jw_raw(&t, "/jobs/");
    otto_jw_raw(&t, leaf);
    if (t.over || !a->connected)
        return false;
    int err = a->cfg.port->publish(a->cfg.port->ctx, a->topic, payload, strlen(payload));
    if (err) {
        a->last_err = err;
        agent_arm_retry(a);
        return false;
    }
    return true;
}

void agent_ask_next(otto_agent_t *a)
{
    a->waiting_next = true;
    a->next_asked_ms = agent_now(a);
    agent_publish(a, "$next/get", "{\"clientToken\":\"otto-next\",\"includeJobDocument\":true}");
}

/* An update of our execution. details: already-written JSON members. */
static void agent_send_update(otto_agent_t *a, const char *status, const char *details, bool expect)
{
    char leaf[96];
    otto_jw_t l = {leaf, sizeof leaf, 0, false};
    otto_jw_t w = {a->out, sizeof a->out, 0, false};
    otto_jw_raw(&l, a->job.job_id);
    otto_jw_raw(&l, "/update");
    otto_jw_raw(&w, "{\"status\":");
    otto_jw_str(&w, status);
    if (expect) {
        otto_jw_raw(&w, ",\"expectedVersion\":");
        otto_jw_u32(&w, a->job.exec_version);
    }
    otto_jw_raw(&w, ",\"statusDetails\":{");
    otto_jw_raw(&w, details);
    otto_jw_raw(&w, "}}");
    if (w.over)
        return;
    /* A reply may never come (the broker lost it, the server was away):
     * the job's own updates are sent again until one is answered. */
    if (a->job.phase == P_STARTING || a->job.phase == P_REPORT) {
        a->reply_wait = true;
        a->reply_due = agent_now(a) + (a->cfg.retry_ms ? a->cfg.retry_ms : RETRY_DEFAULT_MS) * REPLY_TIMEOUTS;
    }
    agent_publish(a, leaf, a->out);
}

void agent_send_progress(otto_agent_t *a, const char *step, bool expect)
{
    char d[200];
    otto_jw_t w = {d, sizeof d, 0, false};
    otto_jw_kv(&w, "step", step, false);
    otto_jw_kv(&w, "version", agent_cur(a)->version, true);
    otto_jw_kv(&w, "from", a->job.from_version, true);
    uint32_t done = 0, total = 0;
    otto_agent_progress(a, &done, &total);
    if (done)
        otto_jw_kv_u32(&w, "bytes", done, true);
    if (a->job.resumes)
        otto_jw_kv_u32(&w, "resumes", a->job.resumes, true);
    agent_send_update(a, "IN_PROGRESS", d, expect);
}

/* Downloaded and checked, waiting for the server's "install": "NOW": the
 * whole image stays in its slot (or mcufw) with "off" at its size, so the
 * install re-reads it from flash, checks it again and goes on, across any
 * number of power cuts, without a byte downloaded again. */
void agent_wait_install(otto_agent_t *a)
{
    agent_stop_download(a);
    a->job.phase = P_DOWNLOADED;
    otto_store_set_int(a->cfg.store, "off", (int64_t)agent_cur(a)->size);
    agent_save_job(a);
    agent_send_progress(a, "downloaded", false);
}

static const char *state_name(uint8_t st)
{
    static const char *const names[] = {"", "not_started", "updated", "already_running", "failed"};
    return st <= S_FAILED ? names[st] : "?";
}

void agent_send_final(otto_agent_t *a)
{
    static const char *const names[] = {"", "SUCCEEDED", "FAILED", "REJECTED"};
    char d[560]; /* with the envelope, within OTTO_CONFIG_AGENT_MSG_MAX */
    otto_jw_t w = {d, sizeof d, 0, false};
    otto_jw_kv(&w, "reason", a->job.reason, false);
    const char *version = a->job.fw.size ? a->job.fw.version : a->job.mcu.version;
    if (version[0]) /* none for a document that could not be read: an empty value is refused */
        otto_jw_kv(&w, "version", version, true);
    otto_jw_kv(&w, "running", a->running_version, true);
    if (a->job.detail[0])
        otto_jw_kv(&w, "detail", a->job.detail, true);
    if (a->job.fw.size)
        otto_jw_kv_u32(&w, "size", a->job.fw.size, true);
    if (a->job.mcu.size) {
        /* How each image went, when the job has the MCU's too. */
        if (a->job.fw.size)
            otto_jw_kv(&w, "esp32", state_name(a->job.esp_state), true);
        otto_jw_kv(&w, "stm32", state_name(a->job.mcu_state), true);
        otto_jw_kv(&w, "stm32_version", a->job.mcu.version, true);
        if (a->mcu_version[0])
            otto_jw_kv(&w, "stm32_running", a->mcu_version, true);
        if (a->job.relay_ms)
            otto_jw_kv_u32(&w, "relay_ms", a->job.relay_ms, true);
    }
    if (a->job.resumes)
        otto_jw_kv_u32(&w, "resumes", a->job.resumes, true);
    if (a->job.refetched)
        otto_jw_kv_u32(&w, "refetched", a->job.refetched, true);
    if (a->job.attempts)
        otto_jw_kv_u32(&w, "retries", a->job.attempts, true);
    if (a->job.download_ms)
        otto_jw_kv_u32(&w, "download_ms", a->job.download_ms, true);
    /* Per image, a patch's bytes, or -1: a patch failed, the whole image
     * came instead. */
    static const char *const dkey[2][3] = {{"dlb", "delta_bytes", "delta"},
                                           {"dlm", "stm32_delta_bytes", "stm32_delta"}};
    for (int k = 0; k < 2; k++) {
        int64_t n = 0;
        if (!otto_store_get_int(a->cfg.store, dkey[k][0], &n) && n)
            n > 0 ? otto_jw_kv_u32(&w, dkey[k][1], (uint32_t)n, true) : otto_jw_kv(&w, dkey[k][2], "fallback", true);
    }
    if (a->job.mcu.size && a->job.mcu_state == S_UPDATED)
        otto_jw_kv_u32(&w, "stm32_size", a->job.mcu.size, true);
    agent_send_update(a, names[a->job.result <= R_REJECTED ? a->job.result : R_FAILED], d, false);
}

/* What the device is, so that the server offers only what fits: the chip
 * (OTTO_CHIP_*) and its revision, the flash, the smallest OTA slot (any
 * of them may be the next), the MCU staging partition and the MCU. */
static void agent_hello_hw(const otto_agent_t *a, otto_jw_t *w)
{
    const otto_platform_t *plat = a->cfg.ota->plat;
    const otto_part_table_t *t = a->cfg.ota->table;
    uint32_t slot = 0;
    for (unsigned i = 0; i < t->count; i++) {
        const otto_part_t *p = &t->part[i];
        if (p->type == OTTO_PART_TYPE_APP && p->subtype >= OTTO_PART_SUB_OTA_MIN && p->subtype <= OTTO_PART_SUB_OTA_MAX &&
            (!slot || p->size < slot))
            slot = p->size;
    }
    otto_jw_raw(w, ",\"hw\":{\"chip\":");
    otto_jw_u32(w, plat->chip_id);
    otto_jw_raw(w, ",\"chip_rev\":");
    otto_jw_u32(w, plat->chip_rev);
    otto_jw_raw(w, ",\"flash\":");
    otto_jw_u32(w, plat->flash->size);
    otto_jw_raw(w, ",\"slot\":");
    otto_jw_u32(w, slot);
    if (a->mcufw) {
        otto_jw_raw(w, ",\"mcufw\":");
        otto_jw_u32(w, a->mcufw->size);
    }
    if (a->cfg.mcu_part && a->cfg.mcu_part[0]) {
        otto_jw_raw(w, ",\"mcu\":");
        otto_jw_str(w, a->cfg.mcu_part);
    } else if (a->mcu_pid) {
        otto_jw_raw(w, ",\"mcu_pid\":");
        otto_jw_u32(w, a->mcu_pid);
    }
    otto_jw_raw(w, "}");
}

void agent_hello(otto_agent_t *a)
{
    otto_jw_t t = {a->topic, sizeof a->topic, 0, false};
    otto_jw_t w = {a->out, sizeof a->out, 0, false};
    otto_jw_raw(&t, "otto/things/");
    otto_jw_raw(&t, a->cfg.thing);
    otto_jw_raw(&t, "/hello");
    otto_jw_raw(&w, "{\"product\":");
    otto_jw_str(&w, a->cfg.product ? a->cfg.product : "");
    otto_jw_raw(&w, ",\"versions\":{\"esp32\":");
    otto_jw_str(&w, a->running_version);
    if (a->mcu_version[0]) {
        otto_jw_raw(&w, ",\"stm32\":");
        otto_jw_str(&w, a->mcu_version);
    }
    /* The signature policy: whether unsigned images are taken, and which
     * keys (by id, trust.h) images and key updates must be signed with. */
    /* What a patch must be made from to apply here, per image: the running
     * one, and the MCU image kept in mcufw (none on a factory-programmed
     * MCU: full images until the first relay). */
    const uint8_t *sha[2] = {a->has_running_sha256 ? a->running_sha256 : NULL,
                             a->cfg.delta && a->mcu_base.size ? a->mcu_base_sha256 : NULL};
    for (int k = 0, n = 0; k < 2; k++) {
        static const char hex[] = "0123456789abcdef";
        char h[65];
        if (!sha[k])
            continue;
        for (int i = 0; i < 32; i++) {
            h[2 * i] = hex[sha[k][i] >> 4];
            h[2 * i + 1] = hex[sha[k][i] & 15];
        }
        h[64] = 0;
        otto_jw_raw(&w, n++ ? "," : "},\"sha256\":{");
        otto_jw_str(&w, k ? "stm32" : "esp32");
        otto_jw_raw(&w, ":");
        otto_jw_str(&w, h);
    }
    otto_jw_raw(&w, "},\"signatures\":");
    otto_jw_str(&w, a->cfg.allow_unsigned ? "optional" : "required");
    otto_jw_raw(&w, ",\"keys\":[");
    for (unsigned i = 0; i < a->trust.n; i++) {
        char id[17];
        otto_trust_key_id(a->trust.key[i], id);
        otto_jw_raw(&w, i ? "," : "");
        otto_jw_str(&w, id);
    }
    otto_jw_raw(&w, "]");
    agent_hello_hw(a, &w);
    otto_jw_raw(&w, "}");
    if (!t.over && !w.over)
        a->cfg.port->publish(a->cfg.port->ctx, a->topic, a->out, w.n);
}

/* A rejection that means the execution is no longer ours to work on. */
bool agent_job_gone(otto_agent_t *a, const char *payload, size_t len)
{
    static const char *const codes[] = {"InvalidStateTransition", "ResourceNotFound",
                                        "TerminalStateReached", "VersionMismatch"};
    otto_json_t j;
    if (otto_json_parse(&j, payload, len, a->tok, sizeof a->tok / sizeof *a->tok))
        return false;
    int t = otto_json_get(&j, 0, "code");
    for (size_t i = 0; t >= 0 && i < sizeof codes / sizeof *codes; i++)
        if (otto_json_eq(&j, t, codes[i]))
            return true;
    return false;
}

int otto_agent_topics(const char *thing, char buf[][160], unsigned max)
{
    static const char *const leaves[] = {"notify-next", "+/get/accepted", "+/get/rejected",
                                         "+/update/accepted", "+/update/rejected"};
    unsigned n = sizeof leaves / sizeof *leaves;
    if (!thing || max < n)
        return OTTO_E_NOSPC;
    for (unsigned i = 0; i < n; i++) {
        otto_jw_t w = {buf[i], 160, 0, false};
        otto_jw_raw(&w, "$aws/things/");
        otto_jw_raw(&w, thing);
        otto_jw_raw(&w, "/jobs/");
        otto_jw_raw(&w, leaves[i]);
        if (w.over)
            return OTTO_E_NOSPC;
    }
    return (int)n;
}
