/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: ottod's MQTT job API handler on an in-memory store with one
 * device and a job, fed any topic and payload (the input's first line is
 * the topic's last part, the rest the payload). Every request on a job
 * topic gets exactly one reply, and nothing crashes or leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "mqtt_api.h"
#include "store.h"

static srv_store_t *st;
static srv_engine_t eng;
static int replies;

static int count(void *ctx, const char *topic, const char *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    (void)len;
    size_t n = strlen(topic);
    if ((n > 9 && !strcmp(topic + n - 9, "/accepted")) || (n > 9 && !strcmp(topic + n - 9, "/rejected")))
        replies++;
    return 0;
}

static void setup(void)
{
    srv_fw_t f;
    memset(&f, 0, sizeof f);
    strcpy(f.id, "fw-a");
    strcpy(f.ota_type, "esp32");
    strcpy(f.product, "lamp");
    strcpy(f.version, "1.1.0");
    strcpy(f.extra, "{}");
    f.size = 100;
    srv_log_set_level(-1);
    if (srv_store_open(":memory:", &st) || srv_fw_put(st, &f))
        abort();
    srv_engine_init(&eng, st, "http://127.0.0.1:9");
    eng.changed = srv_mqtt_api_changed;
    eng.publish = count;
    const char *groups[] = {"g"};
    srv_device_upsert(st, "dev", "lamp", groups, 1, 1);
    const char *fws[] = {"fw-a"}, *devs[] = {"dev"};
    srv_job_spec_t spec = {.job_id = "j1", .fw_ids = fws, .nfw = 1, .devices = devs, .ndevices = 1,
                           .allow_unsigned = true};
    char out[SRV_JOBID_MAX + 1], msg[256];
    size_t n;
    if (srv_engine_create_job(&eng, &spec, out, &n, msg, sizeof msg))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char topic[300];
    if (!st)
        setup();
    const uint8_t *nl = memchr(data, '\n', len < 100 ? len : 100);
    size_t tl = nl ? (size_t)(nl - data) : 0;
    if (memchr(data, 0, tl))
        return 0; /* a topic never holds a NUL */
    snprintf(topic, sizeof topic, "$aws/things/dev/jobs/%.*s", (int)tl, (const char *)data);
    const uint8_t *payload = nl ? nl + 1 : data;
    size_t plen = len - (size_t)(payload - data);
    replies = 0;
    srv_mqtt_api_handle(&eng, topic, payload, plen);
    bool ours = strstr(topic, "/accepted") || strstr(topic, "/rejected") || strstr(topic, "notify");
    if (!ours && replies != 1)
        __builtin_trap(); /* never silence, never two answers */
    return 0;
}
