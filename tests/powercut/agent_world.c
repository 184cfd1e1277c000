/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_world.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otto/crypto.h"
#include "otto/image.h"

static const char *const STATUS[] = {"QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"};

static void enqueue(world_t *w, const char *leaf, const char *payload)
{
    for (int copies = w->chaos ? 2 : 1; copies > 0; copies--) {
        if (w->q_n == 8)
            return; /* a lossy link drops it; the agent retries */
        snprintf(w->q_topic[w->q_n], sizeof w->q_topic[0], "$aws/things/dev/jobs/%s", leaf);
        snprintf(w->q_payload[w->q_n], sizeof w->q_payload[0], "%s", payload);
        w->q_n++;
    }
}

static void next_reply(world_t *w, const char *leaf)
{
    char p[1600];
    if (w->status >= 2)
        snprintf(p, sizeof p, "{\"timestamp\":1}");
    else
        snprintf(p, sizeof p, "{\"timestamp\":1,\"execution\":{\"jobId\":\"" JOB "\",\"status\":\"%s\","
                 "\"versionNumber\":%" PRIu32 ",%s\"jobDocument\":%s}}", STATUS[w->status], w->version,
                 w->install == 1 ? "\"install\":\"WAIT\"," : w->install == 2 ? "\"install\":\"NOW\"," : "", w->doc);
    enqueue(w, leaf, p);
}

static int publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    world_t *w = ctx;
    (void)len;
    if (w->power->off)
        return OTTO_E_IO; /* no power, no radio */
    if (strstr(topic, "/jobs/$next/get")) {
        next_reply(w, "$next/get/accepted");
    } else if (strstr(topic, "/jobs/" JOB "/update")) {
        const char *s = strstr(payload, "\"status\":\"");
        const char *ev = strstr(payload, "\"expectedVersion\":");
        int to = -1;
        for (int i = 1; s && i < 5; i++)
            if (!strncmp(s + 10, STATUS[i], strlen(STATUS[i])) && s[10 + strlen(STATUS[i])] == '"')
                to = i;
        if (to < 0 || w->status >= 2)
            enqueue(w, JOB "/update/rejected", "{\"code\":\"InvalidStateTransition\"}");
        else if (ev && (uint32_t)atoi(ev + 18) != w->version)
            enqueue(w, JOB "/update/rejected", "{\"code\":\"VersionMismatch\"}");
        else {
            if (to >= 2) {
                w->finals++;
                snprintf(w->final, sizeof w->final, "%s", payload);
            }
            w->status = to;
            w->version++;
            const char *r = strstr(payload, "\"reason\":\"");
            if (r)
                snprintf(w->reason, sizeof w->reason, "%.*s", (int)strcspn(r + 10, "\""), r + 10);
            enqueue(w, JOB "/update/accepted", "{\"timestamp\":1}");
        }
    } else if (strstr(topic, "/hello")) {
        snprintf(w->hello, sizeof w->hello, "%s", payload);
    }
    return OTTO_OK; /* anything else: nothing to answer */
}

static int http_get(void *ctx, const char *url, uint32_t from, const char *etag)
{
    world_t *w = ctx;
    (void)etag;
    char k = url[strlen(url) - 1];
    w->cur = k == '4' ? w->mpatch : k == '3' ? w->patch : k == '2' ? w->mimg : w->img;
    w->cur_size = k == '4' ? w->mpsize : k == '3' ? w->psize : k == '2' ? w->msize : w->size;
    w->http_on = true;
    w->head_sent = false;
    w->pos = w->from = from;
    return OTTO_OK;
}

static void http_cancel(void *ctx) { ((world_t *)ctx)->http_on = false; }

/* The job's images are "signed" with "good" (Z29vZA== in the document):
 * the signature step runs, and is cut, like every other. */
static int verify(void *ctx, const uint8_t key[65], const uint8_t sha256[32], const uint8_t *sig, size_t len)
{
    (void)ctx;
    (void)key;
    (void)sha256;
    return len == 4 && !memcmp(sig, "good", 4) ? OTTO_OK : OTTO_E_VERIFY;
}
static void reboot(void *ctx) { ((world_t *)ctx)->reboot = true; }
static uint32_t now_ms(void *ctx) { return ((world_t *)ctx)->clock; }

otto_agent_port_t agent_world_port(world_t *w, void (*mcu_bootloader)(void *))
{
    otto_agent_port_t port = {w, publish, http_get, http_cancel, reboot, now_ms, mcu_bootloader, NULL, verify};
    return port;
}

void agent_world_init(world_t *w, const uint8_t *img, size_t ilen, const char *doc, const otto_power_t *power)
{
    memset(w, 0, sizeof *w);
    w->img = img;
    w->size = (uint32_t)ilen;
    w->power = power;
    w->version = 1;
    snprintf(w->doc, sizeof w->doc, "%s", doc);
}

int agent_world_boots(otto_simdev_t *d, world_t *w, otto_agent_t *a, otto_kv_t *kv, const agent_world_opts_t *o,
                      int max_boots)
{
    int rc = 0;
    for (int boots = 0; boots < max_boots && rc == 0; boots++) {
        rc = agent_world_boot(d, w, a, kv, o);
        if (d->power.off)
            otto_power_restore(&d->power);
    }
    return rc;
}

const char *agent_world_updated(otto_simdev_t *d, const world_t *w, uint64_t at, const char *version)
{
    uint32_t state = 0;
    otto_image_info_t self;
    if (at && (d->power.landed != 1 || d->power.landed_at != at))
        return "the planned cut did not land";
    if (w->status != 2 || w->finals != 1)
        return "the job did not end SUCCEEDED exactly once";
    if (otto_ota_running_state(&d->ota, &state) || state != OTTO_IMG_VALID)
        return "the running image is not confirmed";
    if (otto_image_read_head(&d->flash, d->boot.part->offset, d->boot.part->size, &self) ||
        strcmp(self.desc.version, version))
        return "another version runs";
    return d->sf.violations ? "a NOR rule was broken" : NULL;
}

const char *agent_world_status(const world_t *w)
{
    return STATUS[w->status];
}

int agent_world_run(world_t *w, otto_agent_t *a, uint32_t chunk)
{
    w->q_n = 0;
    w->http_on = false;
    w->reboot = false;
    otto_agent_connected(a);
    for (int idle = 0, steps = 0; steps < 100000; steps++) {
        if (w->power->off)
            return 0;
        if (w->reboot)
            return 0;
        if (w->q_n) {
            char t[160], p[1600];
            int k = w->chaos ? w->q_n - 1 : 0; /* chaos: newest first */
            strcpy(t, w->q_topic[k]);
            strcpy(p, w->q_payload[k]);
            memmove(w->q_topic + k, w->q_topic + k + 1, sizeof w->q_topic[0] * (size_t)(w->q_n - 1 - k));
            memmove(w->q_payload + k, w->q_payload + k + 1, sizeof w->q_payload[0] * (size_t)(w->q_n - 1 - k));
            w->q_n--;
            otto_agent_message(a, t, p, strlen(p));
            idle = 0;
        } else if (w->http_on && !w->head_sent) {
            w->head_sent = true;
            otto_agent_http_head(a, w->from ? 206 : 200, w->cur_size - w->from, w->from, "\"etag\"");
        } else if (w->http_on && w->pos < w->cur_size) {
            uint32_t n = w->cur_size - w->pos < chunk ? w->cur_size - w->pos : chunk;
            w->pos += n;
            w->served += n;
            w->served_patch += w->cur == w->patch || w->cur == w->mpatch ? n : 0;
            otto_agent_http_data(a, w->cur + w->pos - n, n);
        } else if (w->http_on) {
            w->http_on = false;
            otto_agent_http_end(a, OTTO_OK);
        } else {
            if (w->status >= 2 && !otto_agent_busy(a))
                return 1;
            w->clock += 1000; /* let retries fire */
            otto_agent_tick(a);
            if (++idle > 200)
                return -1;
        }
    }
    return -1;
}

int agent_world_boot(otto_simdev_t *d, world_t *w, otto_agent_t *a, otto_kv_t *kv, const agent_world_opts_t *o)
{
    otto_app_outcome_t out;
    otto_image_info_t self;
    for (int i = 0; i < 3; i++) {
        if (otto_simdev_boot(d) || otto_simdev_app_start(d, &out))
            return d->power.off ? 0 : -1;
        if (out != OTTO_APP_ROLLED_BACK)
            break;
    }
    if (otto_image_read_head(&d->flash, d->boot.part->offset, d->boot.part->size, &self))
        return -1;
    const otto_part_t *kvp = otto_part_store(&d->table);
    static otto_store_t store;
    if (!kvp || otto_kv_mount(kv, &d->flash, kvp->offset, kvp->size, true, NULL))
        return d->power.off ? 0 : -1;
    otto_kv_store(kv, &store);
    /* Manufacture's key (written on the first boot; a cut there is one more
     * place to be cut). */
    static const uint8_t owner_key[1][65] = {{0x04, 0x0E}};
    if (otto_trust_provision(&store, owner_key, 1))
        return d->power.off ? 0 : -1;
    static otto_agent_port_t port;
    port = agent_world_port(w, o->mcu_bootloader);
    static otto_delta_t delta;
    otto_agent_config_t cfg = {.thing = "dev", .product = "demo", .ota = &d->ota, .store = &store, .port = &port,
                               .checkpoint_bytes = 8192, .retry_ms = 1000, .mcu_version = "1.0.0",
                               .mcu_retries = 3, .allow_unsigned = o->allow_unsigned,
                               .delta = o->delta ? &delta : NULL};
    cfg.mcu_uart = o->mcu_uart;
    if (otto_agent_init(a, &cfg, self.desc.version))
        return d->power.off ? 0 : -1;
    return agent_world_run(w, a, o->chunk);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static int entry(char *out, size_t cap, const char *type, const char *url, const uint8_t *b, size_t n,
                 const char *version, const char *extra)
{
    uint8_t md5[16], sha[32];
    char m[33], s[65];
    otto_md5(b, n, md5);
    otto_sha256(b, n, sha);
    hex(m, md5, 16);
    hex(s, sha, 32);
    int k = snprintf(out, cap, "{\"ota_type\":\"%s\",\"url\":\"%s\",\"size\":%lu,\"md5\":\"%s\",\"sha256\":\"%s\","
                     "\"version\":\"%s\",%s\"sig-sha256-ecdsa\":\"Z29vZA==\"}", type, url, (unsigned long)n, m, s,
                     version, extra);
    return k < 0 || (size_t)k >= cap ? -1 : k;
}

/* A document with one entry of type, offering patch_url when psize. */
static int doc_one(char *doc, size_t cap, const char *type, const char *url, const char *patch_url,
                   const uint8_t *img, size_t ilen, const char *version, const uint8_t *base, size_t blen,
                   size_t psize)
{
    uint8_t sha[32];
    char s[65], extra[220];
    otto_sha256(base, blen, sha);
    hex(s, sha, 32);
    int e = snprintf(extra, sizeof extra, "%s", strcmp(type, "esp32") ? "" : "\"secure_version\":1,");
    if (psize)
        snprintf(extra + e, sizeof extra - (size_t)e, "\"delta\":{\"url\":\"%s\",\"size\":%lu,\"base_sha256\":\"%s\"},",
                 patch_url, (unsigned long)psize, s);
    int n = snprintf(doc, cap, "{\"product\":\"demo\",\"firmware\":["), k;
    if (n < 0 || (size_t)n >= cap || (k = entry(doc + n, cap - (size_t)n, type, url, img, ilen, version, extra)) < 0)
        return -1;
    n += k;
    k = snprintf(doc + n, cap - (size_t)n, "]}");
    return k < 0 || (size_t)k >= cap - (size_t)n ? -1 : 0;
}

int agent_world_doc_delta(char *doc, size_t cap, const uint8_t *img, size_t ilen, const char *version,
                          const uint8_t *base, size_t blen, size_t psize)
{
    return doc_one(doc, cap, "esp32", "http://fw/1", "http://fw/3", img, ilen, version, base, blen, psize);
}

int agent_world_doc_mcu_delta(char *doc, size_t cap, const uint8_t *mimg, size_t msize, const char *version,
                              const uint8_t *base, size_t blen, size_t psize)
{
    return doc_one(doc, cap, "stm32", "http://fw/2", "http://fw/4", mimg, msize, version, base, blen, psize);
}

int agent_world_doc(char *doc, size_t cap, const uint8_t *img, size_t ilen, const uint8_t *mimg, size_t msize)
{
    int n = snprintf(doc, cap, "{\"product\":\"demo\",\"keyUpdates\":[{\"op\":\"add\",\"key\":\"BA8%s\","
                     "\"sig-sha256-ecdsa\":\"Z29vZA==\"}],\"firmware\":[",
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    int k;
    if (n < 0 || (size_t)n >= cap ||
        (k = entry(doc + n, cap - (size_t)n, "esp32", "http://fw/1", img, ilen, "1.1.0", "\"secure_version\":1,")) < 0)
        return -1;
    n += k;
    if (msize) {
        if ((size_t)n + 1 >= cap)
            return -1;
        doc[n++] = ',';
        if ((k = entry(doc + n, cap - (size_t)n, "stm32", "http://fw/2", mimg, msize, "2.0.0", "")) < 0)
            return -1;
        n += k;
    }
    k = snprintf(doc + n, cap - (size_t)n, "]}");
    return k < 0 || (size_t)k >= cap - (size_t)n ? -1 : 0;
}
