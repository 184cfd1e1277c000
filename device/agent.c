/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's state machine (see include/otto/agent.h for the picture).
 *
 * What is persisted, and when (key-value store):
 *   "job"  the whole otto_agent_job_t, on every phase change;
 *   "off"  bytes of the image safely in flash, every checkpoint_bytes;
 *   "mcupid" the MCU's part id (Get ID) as the last relay met it;
 *   "mcu"  the relay's progress (relay.c); "mcuver" the MCU's version once
 *          the relay has finished.
 * A cut between two checkpoints costs at most checkpoint_bytes of download;
 * what is in flash below "off" is re-read and re-checked before resuming
 * (otto_ota_resume), and MD5/SHA-256 are recomputed over it, so nothing is
 * trusted that flash does not hold.
 */
#include "otto/agent.h"

#include <string.h>

#include "internal/json.h"

enum { P_IDLE = 0, P_STARTING, P_DOWNLOADING, P_SWITCHED, P_REPORT, P_RELAY };
enum { R_SUCCEEDED = 1, R_FAILED, R_REJECTED };
enum { T_ESP = 0, T_MCU = 1 };                                   /* job.target */
enum { S_NONE = 0, S_PENDING, S_UPDATED, S_ALREADY, S_FAILED }; /* job.*_state */

#define CHECKPOINT_DEFAULT (16u * 1024u)
#define RETRY_DEFAULT_MS   1000u
#define BACKOFF_MAX        32u
#define NEXT_TIMEOUT_MS    15000u
#define REPLY_TIMEOUTS     10u /* retry_ms's: an update unanswered this long is sent again */
#define SLICE_DEFAULT_MS   50u /* relay work per tick */
#define MCU_TRIES          3u  /* relays ending in an MCU error before the job fails */

/* ---- small text helpers (no printf in the core) ------------------------ */

typedef struct {
    char *b;
    size_t cap, n;
    bool over;
} wbuf_t;

static void w_raw(wbuf_t *w, const char *s)
{
    for (; *s; s++) {
        if (w->n + 1 >= w->cap) {
            w->over = true;
            break;
        }
        w->b[w->n++] = *s;
    }
    w->b[w->n < w->cap ? w->n : w->cap - 1] = 0;
}

static void w_u32(wbuf_t *w, uint32_t v)
{
    char t[11];
    int i = 10;
    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    w_raw(w, t + i);
}

/* A JSON string literal; control characters become spaces. */
static void w_str(wbuf_t *w, const char *s)
{
    char c[3] = {0, 0, 0};
    w_raw(w, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            c[0] = '\\';
            c[1] = *s;
        } else {
            c[0] = (unsigned char)*s < 0x20 ? ' ' : *s;
            c[1] = 0;
        }
        w_raw(w, c);
    }
    w_raw(w, "\"");
}

static void w_kv(wbuf_t *w, const char *key, const char *val, bool comma)
{
    if (comma)
        w_raw(w, ",");
    w_str(w, key);
    w_raw(w, ":");
    w_str(w, val);
}

static void w_kv_u32(wbuf_t *w, const char *key, uint32_t v, bool comma)
{
    char t[12];
    wbuf_t n = {t, sizeof t, 0, false};
    w_u32(&n, v);
    w_kv(w, key, t, comma); /* statusDetails values are strings */
}

static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Dotted versions, numerically where both parts are numbers. */
static int version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        uint32_t x = 0, y = 0;
        bool nx = *a >= '0' && *a <= '9', ny = *b >= '0' && *b <= '9';
        if (!nx || !ny)
            return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
        while (*a >= '0' && *a <= '9')
            x = x * 10u + (uint32_t)(*a++ - '0');
        while (*b >= '0' && *b <= '9')
            y = y * 10u + (uint32_t)(*b++ - '0');
        if (x != y)
            return x < y ? -1 : 1;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
    return 0;
}

/* ---- persistence ------------------------------------------------------- */

static void save_job(otto_agent_t *a)
{
    int err = otto_kv_set_blob(a->cfg.kv, "job", &a->job, sizeof a->job);
    if (err)
        a->last_err = err;
}

static void clear_job(otto_agent_t *a)
{
    memset(&a->job, 0, sizeof a->job);
    a->relay_open = false;
    otto_relay_forget(a->cfg.kv);
    otto_kv_erase(a->cfg.kv, "off");
    otto_kv_erase(a->cfg.kv, "job");
    a->written = a->saved = a->from = 0;
}

static void checkpoint(otto_agent_t *a)
{
    /* Only bytes already programmed count: the head is held in RAM until
     * it has been judged. */
    if ((a->job.target == T_ESP && a->ota.held) || a->written == a->saved)
        return;
    if (!otto_kv_set_int(a->cfg.kv, "off", (int64_t)a->written))
        a->saved = a->written;
}

/* The entry being downloaded. */
static otto_fw_entry_t *cur(otto_agent_t *a)
{
    return a->job.target == T_MCU ? &a->job.mcu : &a->job.fw;
}

/* ---- MQTT out ---------------------------------------------------------- */

static uint32_t now(const otto_agent_t *a)
{
    return a->cfg.port->now_ms ? a->cfg.port->now_ms(a->cfg.port->ctx) : 0;
}

static void arm_retry(otto_agent_t *a)
{
    uint32_t base = a->cfg.retry_ms ? a->cfg.retry_ms : RETRY_DEFAULT_MS;
    if (a->backoff == 0)
        a->backoff = 1;
    a->retry_at = now(a) + base * a->backoff;
    if (a->backoff < BACKOFF_MAX)
        a->backoff *= 2;
    a->retry_armed = true;
}

static bool publish(otto_agent_t *a, const char *leaf, const char *payload)
{
    wbuf_t t = {a->topic, sizeof a->topic, 0, false};
    w_raw(&t, "$aws/things/");
    w_raw(&t, a->cfg.thing);
    w_raw(&t, "/jobs/");
    w_raw(&t, leaf);
    if (t.over || !a->connected)
        return false;
    int err = a->cfg.port->publish(a->cfg.port->ctx, a->topic, payload, strlen(payload));
    if (err) {
        a->last_err = err;
        arm_retry(a);
        return false;
    }
    return true;
}

static void ask_next(otto_agent_t *a)
{
    a->waiting_next = true;
    a->next_asked_ms = now(a);
    publish(a, "$next/get", "{\"clientToken\":\"otto-next\",\"includeJobDocument\":true}");
}

/* An update of our execution. details: already-written JSON members. */
static void send_update(otto_agent_t *a, const char *status, const char *details, bool expect)
{
    char leaf[96];
    wbuf_t l = {leaf, sizeof leaf, 0, false};
    wbuf_t w = {a->out, sizeof a->out, 0, false};
    w_raw(&l, a->job.job_id);
    w_raw(&l, "/update");
    w_raw(&w, "{\"status\":");
    w_str(&w, status);
    if (expect) {
        w_raw(&w, ",\"expectedVersion\":");
        w_u32(&w, a->job.exec_version);
    }
    w_raw(&w, ",\"statusDetails\":{");
    w_raw(&w, details);
    w_raw(&w, "}}");
    if (w.over)
        return;
    /* A reply may never come (the broker lost it, the server was away):
     * the job's own updates are sent again until one is answered. */
    if (a->job.phase == P_STARTING || a->job.phase == P_REPORT) {
        a->reply_wait = true;
        a->reply_due = now(a) + (a->cfg.retry_ms ? a->cfg.retry_ms : RETRY_DEFAULT_MS) * REPLY_TIMEOUTS;
    }
    publish(a, leaf, a->out);
}

static void send_progress(otto_agent_t *a, const char *step, bool expect)
{
    char d[200];
    wbuf_t w = {d, sizeof d, 0, false};
    w_kv(&w, "step", step, false);
    w_kv(&w, "version", cur(a)->version, true);
    w_kv(&w, "from", a->job.from_version, true);
    uint32_t done = 0, total = 0;
    otto_agent_progress(a, &done, &total);
    if (done)
        w_kv_u32(&w, "bytes", done, true);
    if (a->job.resumes)
        w_kv_u32(&w, "resumes", a->job.resumes, true);
    send_update(a, "IN_PROGRESS", d, expect);
}

static const char *state_name(uint8_t st)
{
    static const char *const names[] = {"", "not_started", "updated", "already_running", "failed"};
    return st <= S_FAILED ? names[st] : "?";
}

static void send_final(otto_agent_t *a)
{
    static const char *const names[] = {"", "SUCCEEDED", "FAILED", "REJECTED"};
    char d[480];
    wbuf_t w = {d, sizeof d, 0, false};
    w_kv(&w, "reason", a->job.reason, false);
    w_kv(&w, "version", a->job.fw.size ? a->job.fw.version : a->job.mcu.version, true);
    w_kv(&w, "running", a->running_version, true);
    if (a->job.detail[0])
        w_kv(&w, "detail", a->job.detail, true);
    if (a->job.fw.size)
        w_kv_u32(&w, "size", a->job.fw.size, true);
    if (a->job.mcu.size) {
        /* How each image went, when the job has the MCU's too. */
        if (a->job.fw.size)
            w_kv(&w, "esp32", state_name(a->job.esp_state), true);
        w_kv(&w, "stm32", state_name(a->job.mcu_state), true);
        w_kv(&w, "stm32_version", a->job.mcu.version, true);
        if (a->mcu_version[0])
            w_kv(&w, "stm32_running", a->mcu_version, true);
        if (a->job.relay_ms)
            w_kv_u32(&w, "relay_ms", a->job.relay_ms, true);
    }
    if (a->job.resumes)
        w_kv_u32(&w, "resumes", a->job.resumes, true);
    if (a->job.refetched)
        w_kv_u32(&w, "refetched", a->job.refetched, true);
    if (a->job.attempts)
        w_kv_u32(&w, "retries", a->job.attempts, true);
    if (a->job.download_ms)
        w_kv_u32(&w, "download_ms", a->job.download_ms, true);
    send_update(a, names[a->job.result <= R_REJECTED ? a->job.result : R_FAILED], d, false);
}

static void hello(otto_agent_t *a)
{
    wbuf_t t = {a->topic, sizeof a->topic, 0, false};
    wbuf_t w = {a->out, sizeof a->out, 0, false};
    w_raw(&t, "otto/things/");
    w_raw(&t, a->cfg.thing);
    w_raw(&t, "/hello");
    w_raw(&w, "{\"product\":");
    w_str(&w, a->cfg.product ? a->cfg.product : "");
    w_raw(&w, ",\"versions\":{\"esp32\":");
    w_str(&w, a->running_version);
    if (a->mcu_version[0]) {
        w_raw(&w, ",\"stm32\":");
        w_str(&w, a->mcu_version);
    }
    w_raw(&w, "}}");
    if (!t.over && !w.over)
        a->cfg.port->publish(a->cfg.port->ctx, a->topic, a->out, w.n);
}

/* ---- ending a job ------------------------------------------------------ */

static void stop_download(otto_agent_t *a)
{
    if (a->http_busy && a->cfg.port->http_cancel)
        a->cfg.port->http_cancel(a->cfg.port->ctx);
    a->http_busy = false;
    if (a->ota.open)
        otto_ota_abort(&a->ota);
}

/* The job ends here with a result to report. */
/* The MCU's part of the job is over: its application runs again (the new
 * one after Go; the old one, intact, after a refusal before any erase). */
static void mcu_release(otto_agent_t *a)
{
    if (a->mcu_held && a->cfg.port->mcu_run)
        a->cfg.port->mcu_run(a->cfg.port->ctx);
    a->mcu_held = false;
}

static void finish(otto_agent_t *a, int result, const char *reason, const char *detail)
{
    stop_download(a);
    a->relay_open = false;
    mcu_release(a);
    /* The image being worked on failed; one never reached stays not_started. */
    if (result == R_FAILED && a->job.target == T_ESP && a->job.esp_state == S_PENDING &&
        a->job.phase != P_STARTING)
        a->job.esp_state = S_FAILED;
    if (result == R_FAILED && a->job.target == T_MCU && a->job.mcu_state == S_PENDING &&
        a->job.phase != P_STARTING)
        a->job.mcu_state = S_FAILED;
    a->job.phase = P_REPORT;
    a->job.result = (uint8_t)result;
    copy(a->job.reason, sizeof a->job.reason, reason);
    copy(a->job.detail, sizeof a->job.detail, detail ? detail : "");
    otto_kv_erase(a->cfg.kv, "off");
    save_job(a);
    send_final(a);
}

/* OTTO_E_IO is the flash failing, the power going or the server away: not
 * the job's fault, so stop and try again later. Anything else ends it. */
static void fail_or_retry(otto_agent_t *a, int err, const char *reason, const char *detail)
{
    a->last_err = err;
    if (err == OTTO_E_IO) {
        stop_download(a);
        arm_retry(a);
    } else {
        finish(a, R_FAILED, reason, detail);
    }
}

/* The server no longer wants this job (canceled, superseded, removed). */
static void drop(otto_agent_t *a)
{
    stop_download(a);
    clear_job(a);
}

/* ---- downloading ------------------------------------------------------- */

static void complete(otto_agent_t *a);

static int rehash_from_flash(otto_agent_t *a, uint32_t len)
{
    uint8_t b[OTTO_CONFIG_READ_CHUNK];
    const otto_flash_t *fl = a->cfg.ota->plat->flash;
    uint32_t base = a->job.target == T_MCU ? a->mcufw->offset : a->ota.target->offset;
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

static int begin_fresh(otto_agent_t *a)
{
    a->written = a->saved = a->from = 0;
    otto_md5_start(&a->md5);
    otto_sha256_start(&a->sha);
    if (a->job.target == T_MCU)
        return otto_stage_begin(&a->stage, a->cfg.ota->plat->flash, a->mcufw);
    return otto_ota_begin(&a->ota, a->cfg.ota, NULL, OTTO_OTA_SEQUENTIAL);
}

static void start_download(otto_agent_t *a)
{
    int64_t off = 0;
    int err;
    if (a->http_busy)
        return;
    if (otto_kv_get_int(a->cfg.kv, "off", &off) || off < 0 || off > (int64_t)cur(a)->size)
        off = 0;
    otto_md5_start(&a->md5);
    otto_sha256_start(&a->sha);
    err = OTTO_E_AGAIN;
    if (off > 0 && a->job.target == T_MCU) {
        err = otto_stage_resume(&a->stage, a->cfg.ota->plat->flash, a->mcufw, (uint32_t)off);
        if (!err)
            err = rehash_from_flash(a, (uint32_t)off);
    } else if (off > 0) {
        err = otto_ota_resume(&a->ota, a->cfg.ota, NULL, (uint32_t)off);
        if (!err && a->ota.written == (uint32_t)off)
            err = rehash_from_flash(a, (uint32_t)off);
        else if (!err)
            err = OTTO_E_AGAIN; /* too early to resume: start over */
    }
    if (off > 0) {
        if (!err) {
            a->written = a->saved = a->from = (uint32_t)off;
            a->job.resumes++;
            save_job(a);
            if (a->written == cur(a)->size) {
                complete(a); /* all of it is already in flash */
                return;
            }
        } else {
            a->job.refetched += (uint32_t)off;
        }
    }
    if (err && (err = begin_fresh(a))) {
        fail_or_retry(a, err, "ota_begin", "cannot start writing the update slot");
        return;
    }
    a->next_report = a->written + cur(a)->size / 4u;
    a->http_head_seen = false;
    a->started_ms = now(a);
    err = a->cfg.port->http_get(a->cfg.port->ctx, cur(a)->url, a->from, a->from ? a->job.etag : "");
    if (err) {
        a->last_err = err;
        arm_retry(a);
        return;
    }
    a->http_busy = true;
}

void otto_agent_http_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start,
                          const char *etag)
{
    if (!a->http_busy || a->job.phase != P_DOWNLOADING)
        return;
    a->http_head_seen = true;
    if (status == 200 && a->from > 0) {
        /* The server ignored Range, or the file changed (If-Range): the
         * bytes start at 0 again. Never splice two files together. */
        a->job.refetched += a->from;
        otto_ota_abort(&a->ota);
        otto_kv_erase(a->cfg.kv, "off");
        int err = begin_fresh(a);
        if (err) {
            fail_or_retry(a, err, "ota_begin", "cannot restart writing the update slot");
            return;
        }
    } else if (status == 206 && range_start != a->from) {
        finish(a, R_FAILED, "http_range", "the server sent another range than asked");
        return;
    } else if (status != 200 && status != 206) {
        char d[48];
        wbuf_t w = {d, sizeof d, 0, false};
        w_raw(&w, "download answered HTTP ");
        w_u32(&w, (uint32_t)(status > 0 ? status : 0));
        if (status == 416)
            otto_kv_erase(a->cfg.kv, "off"); /* our offset is wrong: from 0 next time */
        /* Server trouble passes; a 404 or 403 will not. */
        bool passing = status >= 500 || status == 408 || status == 429 || status == 416 || status <= 0;
        fail_or_retry(a, passing ? OTTO_E_IO : OTTO_E_PROTO, "http_error", d);
        return;
    }
    if (length && a->from + length != cur(a)->size) {
        finish(a, R_FAILED, "size_mismatch", "the server's file is not the size the job says");
        return;
    }
    if (etag && etag[0] && strcmp(etag, a->job.etag)) {
        copy(a->job.etag, sizeof a->job.etag, etag);
        save_job(a);
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
    case OTTO_E_STATE:
        *detail = "the running image is not confirmed yet";
        return "not_ready";
    default:
        *detail = "the image is not a valid app image";
        return "bad_image";
    }
}

void otto_agent_http_data(otto_agent_t *a, const void *data, size_t len)
{
    int result;
    const char *detail;
    if (!a->http_busy || a->job.phase != P_DOWNLOADING || !len)
        return;
    if (len > cur(a)->size - a->written) {
        finish(a, R_FAILED, "size_mismatch", "the download is longer than the job says");
        return;
    }
    int err = a->job.target == T_MCU ? otto_stage_write(&a->stage, data, len) : otto_ota_write(&a->ota, data, len);
    if (err) {
        if (err == OTTO_E_IO) {
            fail_or_retry(a, err, NULL, NULL);
            return;
        }
        if (a->job.target == T_MCU) {
            finish(a, R_FAILED, "too_large", "the MCU image does not fit the mcufw partition");
            return;
        }
        if (err == OTTO_E_VERIFY && a->job.fw.has_md5 && a->written + len == a->job.fw.size) {
            /* The image's own hash failed on the last bytes: say whether
             * the download differs from what the job promised, too. */
            uint8_t md5[16];
            otto_md5_update(&a->md5, data, len);
            otto_md5_finish(&a->md5, md5);
            if (memcmp(md5, a->job.fw.md5, 16)) {
                finish(a, R_FAILED, "md5_mismatch", "the download's MD5 differs from the job's; slot not switched");
                return;
            }
        }
        const char *reason = ota_reason(err, &result, &detail);
        finish(a, result, reason, detail);
        return;
    }
    otto_md5_update(&a->md5, data, len);
    otto_sha256_update(&a->sha, data, len);
    a->written += (uint32_t)len;
    uint32_t every = a->cfg.checkpoint_bytes ? a->cfg.checkpoint_bytes : CHECKPOINT_DEFAULT;
    if (a->written - a->saved >= every)
        checkpoint(a);
    if (a->written >= a->next_report && a->written < cur(a)->size) {
        a->next_report = a->written + cur(a)->size / 4u;
        send_progress(a, a->job.target == T_MCU ? "mcu_download" : "download", false);
    }
}

void otto_agent_http_end(otto_agent_t *a, int err)
{
    if (!a->http_busy || a->job.phase != P_DOWNLOADING)
        return;
    a->http_busy = false;
    a->job.download_ms += now(a) - a->started_ms;
    if (err || a->written < cur(a)->size) {
        /* Dropped: keep what is in flash, come back for the rest. */
        checkpoint(a);
        if (a->ota.open)
            otto_ota_abort(&a->ota);
        arm_retry(a);
        return;
    }
    complete(a);
}

/* Every byte is in the slot: check it all, select it, reboot into it. */
static void complete(otto_agent_t *a)
{
    uint8_t md5[16], sha[32];
    int result, err;
    const char *detail;
    a->backoff = 0;
    otto_md5_finish(&a->md5, md5);
    otto_sha256_finish(&a->sha, sha);
    bool mcu = a->job.target == T_MCU;
    if (cur(a)->has_md5 && memcmp(md5, cur(a)->md5, 16)) {
        finish(a, R_FAILED, "md5_mismatch", mcu ? "the MCU image's MD5 differs from the job's; not relayed"
                                                : "the download's MD5 differs from the job's; slot not switched");
        return;
    }
    if (cur(a)->has_sha256 && memcmp(sha, cur(a)->sha256, 32)) {
        finish(a, R_FAILED, "sha256_mismatch", mcu ? "the MCU image's SHA-256 differs from the job's; not relayed"
                                                   : "the download's SHA-256 differs from the job's; slot not switched");
        return;
    }
    if (mcu) {
        a->job.phase = P_RELAY;
        otto_kv_erase(a->cfg.kv, "off");
        save_job(a);
        a->next_report = a->job.mcu.size / 4u;
        send_progress(a, "relaying", false);
        return; /* otto_agent_tick does the relay, a slice at a time */
    }
    if ((err = otto_ota_end(&a->ota, NULL))) {
        const char *reason = ota_reason(err, &result, &detail);
        finish(a, result, reason, detail);
        return;
    }
    if ((err = otto_ota_set_boot(a->cfg.ota, a->ota.target))) {
        finish(a, R_FAILED, "set_boot", "cannot select the new image");
        return;
    }
    a->job.phase = P_SWITCHED;
    otto_kv_erase(a->cfg.kv, "off");
    save_job(a);
    send_progress(a, "rebooting", false);
    a->cfg.port->reboot(a->cfg.port->ctx);
}

/* ---- the MCU relay ------------------------------------------------------ */

/* The MCU runs the job's image: on to the module's own, if it has one. */
static void mcu_done(otto_agent_t *a)
{
    a->relay_open = false;
    a->job.mcu_state = S_UPDATED;
    copy(a->mcu_version, sizeof a->mcu_version, a->job.mcu.version);
    otto_kv_set_str(a->cfg.kv, "mcuver", a->mcu_version);
    a->backoff = 0;
    mcu_release(a);
    if (a->connected)
        hello(a); /* the registry learns the MCU's version without a reboot */
    if (a->job.esp_state != S_PENDING) {
        finish(a, R_SUCCEEDED, "updated", "");
        return;
    }
    a->job.target = T_ESP;
    a->job.phase = P_DOWNLOADING;
    a->job.etag[0] = 0;
    a->written = a->saved = a->from = 0;
    otto_kv_erase(a->cfg.kv, "off");
    save_job(a);
    send_progress(a, "mcu_updated", false);
    start_download(a);
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
static void relay_failed(otto_agent_t *a, int err)
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
        finish(a, R_FAILED, mcu_reason(err), why ? why : "the MCU relay failed");
        return;
    }
    if (err == OTTO_E_VERIFY || err == OTTO_E_NOTFOUND) {
        a->relay_open = false; /* start the MCU over from a clean erase */
        a->relay_fresh = true;
    }
    if (err != OTTO_E_IO)
        save_job(a);
    arm_retry(a);
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
    uint32_t t0 = now(a), slice = a->cfg.mcu_slice_ms ? a->cfg.mcu_slice_ms : SLICE_DEFAULT_MS;
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
        err = otto_relay_open(&a->relay, a->cfg.mcu_uart, fl, a->mcufw, a->job.mcu.size, a->cfg.kv, fresh);
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
    while (err == OTTO_E_AGAIN && now(a) - t0 < slice);
    a->job.relay_ms += now(a) - t0;
    /* Which part answered Get ID: later jobs for another are refused before
     * their download. */
    if (a->relay.mcu.part && a->relay.mcu.part->pid != a->mcu_pid) {
        a->mcu_pid = a->relay.mcu.part->pid;
        otto_kv_set_blob(a->cfg.kv, "mcupid", &a->mcu_pid, sizeof a->mcu_pid);
    }
    if (err != OTTO_E_AGAIN) {
        a->relay_err = err;
        a->relay_ended = true;
    }
}

/* What the relay's last slice led to: a progress report, the MCU done, or
 * an error to retry or end the job with. */
static void relay_settle(otto_agent_t *a)
{
    uint32_t done, total;
    if (a->job.phase != P_RELAY)
        return;
    otto_agent_progress(a, &done, &total);
    if (!a->relay_ended && done >= a->next_report && done < total) {
        a->next_report = done + total / 4u;
        send_progress(a, "relay", false);
    }
    if (!a->relay_ended)
        return;
    a->relay_ended = false;
    if (a->relay_err == OTTO_OK)
        mcu_done(a);
    else
        relay_failed(a, a->relay_err);
}

/* ---- jobs from the server ---------------------------------------------- */

static int fuse_value(const otto_agent_t *a, uint32_t *v)
{
    const otto_platform_t *p = a->cfg.ota->plat;
    *v = 0;
    if (!p->anti_rollback || !p->efuse)
        return OTTO_OK;
    return p->efuse->read_secure_version(p->efuse->ctx, v);
}

/* A new execution is next: take it, or say why not. */
static void consider(otto_agent_t *a, const otto_json_t *j, int exec)
{
    otto_jobdoc_t doc;
    uint32_t version = 0, fuse = 0;
    char id[65];
    memset(&a->job, 0, sizeof a->job);
    if (otto_json_str(j, otto_json_get(j, exec, "jobId"), id, sizeof id) ||
        otto_json_u32(j, otto_json_get(j, exec, "versionNumber"), &version))
        return; /* not an execution we can even name */
    copy(a->job.job_id, sizeof a->job.job_id, id);
    a->job.exec_version = version;
    copy(a->job.from_version, sizeof a->job.from_version, a->running_version);
    int err = otto_jobdoc_read(j, otto_json_get(j, exec, "jobDocument"), &doc);
    if (err) {
        finish(a, R_REJECTED, "bad_document", "the job document is not one otto can read");
        return;
    }
    const otto_fw_entry_t *fw = otto_jobdoc_find(&doc, "esp32");
    const otto_fw_entry_t *mcu = otto_jobdoc_find(&doc, "stm32");
    if (fw) {
        a->job.fw = *fw;
        a->job.esp_state = S_PENDING;
    }
    if (mcu) {
        a->job.mcu = *mcu;
        a->job.mcu_state = S_PENDING;
    }
    if (!fw && !mcu) {
        finish(a, R_REJECTED, "no_image", "the job has no esp32 or stm32 firmware");
        return;
    }
    if (a->cfg.product && a->cfg.product[0] && doc.product[0] && strcmp(doc.product, a->cfg.product)) {
        finish(a, R_REJECTED, "wrong_product", "the job is for another product");
        return;
    }
    if (mcu) {
        if (!a->cfg.mcu_uart) {
            finish(a, R_REJECTED, "no_mcu", "this module has no MCU to relay to");
            return;
        }
        if (!a->mcufw) {
            finish(a, R_REJECTED, "no_mcufw_partition", "no mcufw partition to stage the MCU image in");
            return;
        }
        if (mcu->size > a->mcufw->size) {
            finish(a, R_REJECTED, "too_large", "the MCU image does not fit the mcufw partition");
            return;
        }
        if (mcu->part_id && a->mcu_pid && mcu->part_id != a->mcu_pid) {
            finish(a, R_REJECTED, "mcu_wrong_part", "the stm32 image is for another part than this MCU");
            return;
        }
        if (a->mcu_version[0] && mcu->version[0] && !strcmp(mcu->version, a->mcu_version)) {
            a->job.mcu_state = S_ALREADY;
        } else if (a->mcu_version[0] && mcu->version[0] && version_cmp(mcu->version, a->mcu_version) < 0) {
            finish(a, R_REJECTED, "outdated", "the stm32 image is older than the MCU's");
            return;
        }
    }
    if (fw) {
        if (fw->version[0] && !strcmp(fw->version, a->running_version)) {
            a->job.esp_state = S_ALREADY;
        } else if (fw->version[0] && version_cmp(fw->version, a->running_version) < 0) {
            finish(a, R_REJECTED, "outdated", "older than the running version");
            return;
        }
        if (!fuse_value(a, &fuse) && fw->secure_version < fuse) {
            finish(a, R_REJECTED, "downgrade_refused", "secure_version below the anti-rollback counter");
            return;
        }
    }
    if (a->job.esp_state != S_PENDING && a->job.mcu_state != S_PENDING) {
        finish(a, R_SUCCEEDED, "already_running", "this version is already running");
        return;
    }
    /* The MCU first: while it updates, the module still runs the firmware
     * that is known to relay; if the MCU fails, the module is untouched. */
    a->job.target = a->job.mcu_state == S_PENDING ? T_MCU : T_ESP;
    a->relay_open = false;
    otto_relay_forget(a->cfg.kv);
    a->job.phase = P_STARTING;
    otto_kv_erase(a->cfg.kv, "off");
    save_job(a);
    send_progress(a, "accepted", true);
}

static void on_next(otto_agent_t *a, const char *payload, size_t len)
{
    otto_json_t j;
    char id[65] = "";
    a->waiting_next = false;
    if (otto_json_parse(&j, payload, len, a->tok, sizeof a->tok / sizeof *a->tok))
        return;
    int exec = otto_json_get(&j, 0, "execution");
    if (exec >= 0)
        otto_json_str(&j, otto_json_get(&j, exec, "jobId"), id, sizeof id);
    switch (a->job.phase) {
    case P_REPORT:
    case P_SWITCHED:
    case P_RELAY: /* an MCU half-written is worse than a canceled job done */
        return;   /* finishing ours first */
    case P_STARTING:
    case P_DOWNLOADING:
        if (!strcmp(id, a->job.job_id)) {
            if (a->job.phase == P_DOWNLOADING && !a->http_busy && !a->retry_armed)
                start_download(a); /* resume after a reboot, once the job is confirmed */
            return;                /* a duplicate */
        }
        drop(a); /* ours is no longer next: canceled or superseded */
        break;
    default:
        break;
    }
    if (exec >= 0 && id[0])
        consider(a, &j, exec);
}

/* A rejection that means the execution is no longer ours to work on. */
static bool job_gone(otto_agent_t *a, const char *payload, size_t len)
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

static void on_update_reply(otto_agent_t *a, bool ok, const char *payload, size_t len)
{
    a->reply_wait = false;
    bool gone = !ok && job_gone(a, payload, len);
    switch (a->job.phase) {
    case P_STARTING:
        if (ok) {
            a->job.exec_version++;
            a->job.phase = P_DOWNLOADING;
            a->backoff = 0;
            save_job(a);
            start_download(a);
        } else if (gone) {
            drop(a);
            ask_next(a);
        } else {
            arm_retry(a);
        }
        break;
    case P_REPORT:
        if (ok || gone) {
            clear_job(a);
            a->backoff = 0;
            ask_next(a);
        } else {
            arm_retry(a);
        }
        break;
    case P_DOWNLOADING:
        if (gone) { /* canceled while we were downloading */
            drop(a);
            ask_next(a);
        }
        break;
    default:
        break;
    }
}

/* ---- the port's entry points ------------------------------------------- */

int otto_agent_topics(const char *thing, char buf[][160], unsigned max)
{
    static const char *const leaves[] = {"notify-next", "+/get/accepted", "+/get/rejected",
                                         "+/update/accepted", "+/update/rejected"};
    unsigned n = sizeof leaves / sizeof *leaves;
    if (!thing || max < n)
        return OTTO_E_NOSPC;
    for (unsigned i = 0; i < n; i++) {
        wbuf_t w = {buf[i], 160, 0, false};
        w_raw(&w, "$aws/things/");
        w_raw(&w, thing);
        w_raw(&w, "/jobs/");
        w_raw(&w, leaves[i]);
        if (w.over)
            return OTTO_E_NOSPC;
    }
    return (int)n;
}

int otto_agent_init(otto_agent_t *a, const otto_agent_config_t *cfg, const char *running_version)
{
    size_t len = 0;
    if (!a || !cfg || !cfg->thing || !cfg->ota || !cfg->kv || !cfg->port || !cfg->port->publish ||
        !cfg->port->http_get || !cfg->port->reboot || !running_version)
        return OTTO_E_INVAL;
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    copy(a->running_version, sizeof a->running_version, running_version);
    int err = otto_kv_get_blob(cfg->kv, "job", &a->job, sizeof a->job, &len);
    a->mcufw = otto_part_find(cfg->ota->table, OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, NULL);
    /* What the relay last put there wins over what the port was told. */
    if (otto_kv_get_str(cfg->kv, "mcuver", a->mcu_version, sizeof a->mcu_version))
        copy(a->mcu_version, sizeof a->mcu_version, cfg->mcu_version ? cfg->mcu_version : "");
    size_t plen = 0;
    if (otto_kv_get_blob(cfg->kv, "mcupid", &a->mcu_pid, sizeof a->mcu_pid, &plen) || plen != sizeof a->mcu_pid)
        a->mcu_pid = 0;
    if (err || len != sizeof a->job || a->job.phase > P_RELAY ||
        ((a->job.target == T_MCU || a->job.phase == P_RELAY) && (!a->mcufw || !cfg->mcu_uart))) {
        memset(&a->job, 0, sizeof a->job);
        if (err != OTTO_E_NOTFOUND)
            clear_job(a); /* from another firmware's agent, or damaged */
        return OTTO_OK;
    }
    if (a->job.phase == P_SWITCHED) {
        /* Back from the reboot into the new image, or rolled back from it. */
        if (!strcmp(a->running_version, a->job.fw.version)) {
            a->job.phase = P_REPORT;
            a->job.esp_state = S_UPDATED;
            a->job.result = R_SUCCEEDED;
            copy(a->job.reason, sizeof a->job.reason, "updated");
            copy(a->job.detail, sizeof a->job.detail, "");
        } else {
            uint32_t state = 0;
            const otto_part_t *slot = otto_ota_next_slot(cfg->ota);
            if (slot)
                otto_ota_slot_state(cfg->ota, slot, &state);
            a->job.phase = P_REPORT;
            a->job.result = R_FAILED;
            a->job.esp_state = S_FAILED;
            if (state != OTTO_IMG_INVALID && a->job.attempts < 3) {
                /* The trial boot was cut short (power lost before the new
                 * image confirmed itself), so the bootloader went back.
                 * The image is still in the slot: check it and try again. */
                a->job.attempts++;
                a->job.phase = P_DOWNLOADING;
                a->job.result = 0;
                a->job.esp_state = S_PENDING;
                otto_kv_set_int(cfg->kv, "off", (int64_t)a->job.fw.size);
                save_job(a);
                return OTTO_OK;
            }
            if (state == OTTO_IMG_INVALID) {
                copy(a->job.reason, sizeof a->job.reason, "selftest_failed");
                copy(a->job.detail, sizeof a->job.detail, "the new image failed its self-test; rolled back");
            } else if (state == OTTO_IMG_ABORTED) {
                copy(a->job.reason, sizeof a->job.reason, "not_confirmed");
                copy(a->job.detail, sizeof a->job.detail, "the new image restarted before confirming; rolled back");
            } else {
                copy(a->job.reason, sizeof a->job.reason, "not_booted");
                copy(a->job.detail, sizeof a->job.detail, "the bootloader did not start the new image");
            }
        }
        save_job(a);
    }
    return OTTO_OK;
}

void otto_agent_connected(otto_agent_t *a)
{
    a->connected = true;
    a->backoff = 0;
    hello(a);
    if (a->job.phase == P_REPORT)
        send_final(a);
    else if (a->job.phase == P_STARTING)
        send_progress(a, "accepted", true);
    ask_next(a); /* also tells whether a job we were on is still ours */
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
        arm_retry(a);
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
    uint32_t t = now(a);
    if (a->waiting_next && a->connected && t - a->next_asked_ms > NEXT_TIMEOUT_MS)
        ask_next(a);
    if (a->reply_wait && a->connected && (int32_t)(t - a->reply_due) >= 0) {
        a->reply_wait = false;
        if (a->job.phase == P_REPORT)
            send_final(a);
        else if (a->job.phase == P_STARTING)
            send_progress(a, "accepted", true);
    }
    if (a->job.phase == P_RELAY) { /* works with or without the broker */
        if (a->retry_armed && (int32_t)(t - a->retry_at) >= 0)
            a->retry_armed = false;
        if (!a->cfg.mcu_worker)
            otto_agent_relay_work(a);
        relay_settle(a);
        return;
    }
    if (!a->retry_armed || (int32_t)(t - a->retry_at) < 0)
        return;
    a->retry_armed = false;
    switch (a->job.phase) {
    case P_STARTING:
        send_progress(a, "accepted", true);
        break;
    case P_DOWNLOADING:
        start_download(a);
        break;
    case P_REPORT:
        send_final(a);
        break;
    default:
        if (a->connected)
            ask_next(a);
        break;
    }
}

bool otto_agent_busy(const otto_agent_t *a)
{
    return a->job.phase != P_IDLE;
}

const char *otto_agent_phase(const otto_agent_t *a)
{
    static const char *const names[] = {"idle", "starting", "downloading", "switched", "reporting", "relaying"};
    if (a->job.phase == P_DOWNLOADING && a->job.target == T_MCU)
        return "staging";
    return a->job.phase <= P_RELAY ? names[a->job.phase] : "?";
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
