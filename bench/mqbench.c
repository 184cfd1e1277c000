/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqbench - MQTT load for ottod's job API, through a real broker.
 *
 *   mqbench count -p PORT -n N [-f FILTER] [-r READYFILE] [-w SECONDS]
 *       Subscribe to FILTER (default $aws/things/+/jobs/notify-next), touch
 *       READYFILE once subscribed, and wait until N messages arrived. Prints
 *       "first_ns LAST_ns COUNT" as CLOCK_REALTIME nanoseconds so a script
 *       can measure from an instant it took itself.
 *
 *   mqbench load -p PORT -x PREFIX -d DEVICES [-c WINDOW] [-m MODE] [-j JOB]
 *                [-w SECONDS]
 *       Play DEVICES things named PREFIX:%06d from one connection, keeping
 *       WINDOW requests in flight, and report requests per second.
 *       MODE get:  each device sends DEVICES-wide "get" until every device
 *                  has done 10 (read path).
 *       MODE walk: each device does start-next, update IN_PROGRESS, update
 *                  SUCCEEDED for job JOB (write path; 3 requests a device).
 *       Prints "requests SECONDS rejected" on stdout.
 *
 *   mqbench echo -p PORT [-r READYFILE] [-w SECONDS]
 *       The broker alone, as the ceiling of the load rows: answer every job
 *       request (get, start-next, update) at once on its /accepted topic
 *       with its clientToken, touching no store. Run load against it.
 *
 * Over TLS with -A CAFILE -C CERT -K KEY (every mode): one client
 * certificate whose CN the broker's ACL lets serve every thing.
 *
 * Requests and replies use QoS 1, as device SDKs do. Replies are matched to
 * devices by clientToken, which carries the device index.
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GETS_PER_DEVICE 10

typedef struct {
    /* options */
    bool load, echo;
    const char *filter, *ready, *prefix, *mode, *job;
    long want;
    int devices, window;
    /* state, touched only by the network thread after start */
    long got, sent, done_devices, rejected, requests;
    long long first_ns, last_ns;
    int subs_pending;
    bool started, finished;
    unsigned char *step; /* per device: requests done */
} bench_t;

static long long now_ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Send device i's next request, or count it done. */
static void device_next(struct mosquitto *m, bench_t *b, int i)
{
    char topic[256], payload[256];
    int step = b->step[i];
    bool walk = strcmp(b->mode, "walk") == 0;
    if ((walk && step >= 3) || (!walk && step >= GETS_PER_DEVICE)) {
        if (++b->done_devices == b->devices)
            b->finished = true;
        return;
    }
    if (!walk) {
        snprintf(topic, sizeof topic, "$aws/things/%s:%06d/jobs/get", b->prefix, i);
        snprintf(payload, sizeof payload, "{\"clientToken\":\"%d\"}", i);
    } else if (step == 0) {
        snprintf(topic, sizeof topic, "$aws/things/%s:%06d/jobs/start-next", b->prefix, i);
        snprintf(payload, sizeof payload, "{\"clientToken\":\"%d\"}", i);
    } else {
        snprintf(topic, sizeof topic, "$aws/things/%s:%06d/jobs/%s/update", b->prefix, i, b->job);
        snprintf(payload, sizeof payload,
                 "{\"clientToken\":\"%d\",\"status\":\"%s\",\"expectedVersion\":%d}", i,
                 step == 1 ? "IN_PROGRESS" : "SUCCEEDED", step + 1);
    }
    b->sent++;
    if (mosquitto_publish_v5(m, NULL, topic, (int)strlen(payload), payload, 1, false, NULL)) {
        fprintf(stderr, "mqbench: publish failed\n");
        exit(2);
    }
}

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags, const mosquitto_property *p)
{
    bench_t *b = arg;
    (void)flags;
    (void)p;
    if (rc) {
        fprintf(stderr, "mqbench: connect refused: %s\n", mosquitto_reason_string(rc));
        exit(2);
    }
    if (b->echo) {
        static const char *const reqs[] = {"$aws/things/+/jobs/get", "$aws/things/+/jobs/start-next",
                                           "$aws/things/+/jobs/+/update"};
        b->subs_pending = 3;
        for (int i = 0; i < 3; i++)
            mosquitto_subscribe_v5(m, NULL, reqs[i], 1, 0, NULL);
        return;
    }
    if (!b->load) {
        b->subs_pending = 1;
        mosquitto_subscribe_v5(m, NULL, b->filter, 1, 0, NULL);
        return;
    }
    /* Replies only; no-local keeps our own requests away. */
    static const char *const subs[] = {"$aws/things/+/jobs/+/accepted", "$aws/things/+/jobs/+/rejected",
                                       "$aws/things/+/jobs/+/+/accepted", "$aws/things/+/jobs/+/+/rejected"};
    b->subs_pending = 4;
    for (int i = 0; i < 4; i++)
        mosquitto_subscribe_v5(m, NULL, subs[i], 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *p)
{
    bench_t *b = arg;
    (void)mid;
    (void)p;
    for (int i = 0; i < n; i++)
        if (granted[i] > 2) {
            fprintf(stderr, "mqbench: subscription refused\n");
            exit(2);
        }
    if (--b->subs_pending > 0)
        return;
    if (b->ready) {
        FILE *f = fopen(b->ready, "w");
        if (f)
            fclose(f);
    }
    if (b->load && !b->started) {
        b->started = true;
        b->first_ns = now_ns(CLOCK_MONOTONIC);
        int first = b->window < b->devices ? b->window : b->devices;
        for (int i = 0; i < first; i++)
            device_next(m, b, i);
        /* Devices past the window start as earlier ones finish. */
    }
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
    bench_t *b = arg;
    (void)p;
    if (b->echo) { /* the reply a job API would give, minus everything it would do */
        char topic[300], payload[96];
        const char *tok = msg->payload ? strstr((const char *)msg->payload, "\"clientToken\":\"") : NULL;
        snprintf(topic, sizeof topic, "%s/accepted", msg->topic);
        snprintf(payload, sizeof payload, "{\"clientToken\":\"%d\"}", tok ? atoi(tok + 15) : -1);
        mosquitto_publish_v5(m, NULL, topic, (int)strlen(payload), payload, 1, false, NULL);
        return;
    }
    if (!b->load) {
        long long t = now_ns(CLOCK_REALTIME);
        if (b->got++ == 0)
            b->first_ns = t;
        b->last_ns = t;
        if (b->got >= b->want)
            b->finished = true;
        return;
    }
    const char *tok = msg->payload ? strstr((const char *)msg->payload, "\"clientToken\":\"") : NULL;
    if (!tok)
        return; /* not one of ours */
    int i = atoi(tok + 15);
    if (i < 0 || i >= b->devices)
        return;
    b->requests++;
    size_t tl = strlen(msg->topic);
    if (tl > 9 && strcmp(msg->topic + tl - 9, "/rejected") == 0) {
        if (b->rejected++ < 3)
            fprintf(stderr, "mqbench: rejected on %s: %.*s\n", msg->topic, msg->payloadlen,
                    (const char *)msg->payload);
        b->step[i] = 255; /* give up on this device */
    } else {
        b->step[i]++;
    }
    long before = b->done_devices;
    device_next(m, b, i);
    /* When device i is through, the next device not yet started begins. */
    if (b->done_devices > before) {
        long next = b->done_devices + b->window - 1;
        if (next < b->devices)
            device_next(m, b, (int)next);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: mqbench count -p PORT -n N [-f FILTER] [-r READYFILE] [-w SECONDS]\n"
                    "       mqbench load -p PORT -x PREFIX -d DEVICES [-c WINDOW] [-m get|walk] [-j JOB] [-w S]\n"
                    "       mqbench echo -p PORT [-r READYFILE] [-w S]\n"
                    "       (each over TLS with -A CAFILE -C CERT -K KEY)\n");
    return 2;
}

int main(int argc, char **argv)
{
    bench_t b = {.filter = "$aws/things/+/jobs/notify-next", .prefix = "bench", .mode = "get",
                 .devices = 1000, .window = 64};
    int port = 1883, opt;
    double wait_s = 300;
    const char *cafile = NULL, *cert = NULL, *key = NULL;
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "load") == 0)
        b.load = true;
    else if (strcmp(argv[1], "echo") == 0)
        b.echo = true, b.want = 1;
    else if (strcmp(argv[1], "count") != 0)
        return usage();
    optind = 2;
    while ((opt = getopt(argc, argv, "p:n:f:r:w:x:d:c:m:j:A:C:K:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': b.want = atol(optarg); break;
        case 'f': b.filter = optarg; break;
        case 'r': b.ready = optarg; break;
        case 'w': wait_s = atof(optarg); break;
        case 'x': b.prefix = optarg; break;
        case 'd': b.devices = atoi(optarg); break;
        case 'c': b.window = atoi(optarg); break;
        case 'm': b.mode = optarg; break;
        case 'j': b.job = optarg; break;
        case 'A': cafile = optarg; break;
        case 'C': cert = optarg; break;
        case 'K': key = optarg; break;
        default: return usage();
        }
    }
    if ((!b.load && b.want <= 0) || b.devices <= 0 || b.window <= 0 ||
        (b.load && strcmp(b.mode, "get") != 0 && strcmp(b.mode, "walk") != 0) ||
        (b.load && strcmp(b.mode, "walk") == 0 && !b.job))
        return usage();
    if (b.load && !(b.step = calloc((size_t)b.devices, 1)))
        return 2;

    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, &b);
    if (!m)
        return 2;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 65535);
    mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(m, on_connect);
    mosquitto_subscribe_v5_callback_set(m, on_subscribe);
    mosquitto_message_v5_callback_set(m, on_message);
    if (cafile && mosquitto_tls_set(m, cafile, NULL, cert, key, NULL)) {
        fprintf(stderr, "mqbench: cannot use the TLS files %s, %s, %s\n", cafile, cert ? cert : "-", key ? key : "-");
        return 2;
    }
    if (mosquitto_connect_bind_v5(m, "127.0.0.1", port, 60, NULL, NULL)) {
        fprintf(stderr, "mqbench: cannot connect to 127.0.0.1:%d\n", port);
        return 2;
    }
    long long t0 = now_ns(CLOCK_MONOTONIC);
    while (!b.finished && (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9 < wait_s)
        mosquitto_loop(m, 20, 1);
    int rc = b.finished ? 0 : 1;
    if (b.echo) {
        rc = 0; /* ran until stopped */
    } else if (b.load) {
        double s = (double)(now_ns(CLOCK_MONOTONIC) - b.first_ns) / 1e9;
        printf("%ld %.3f %ld\n", b.requests, s, b.rejected);
        if (!b.finished)
            fprintf(stderr, "mqbench: timed out: %ld of %d devices done\n", b.done_devices, b.devices);
    } else {
        printf("%lld %lld %ld\n", b.first_ns, b.last_ns, b.got);
        if (!b.finished)
            fprintf(stderr, "mqbench: timed out: %ld of %ld messages\n", b.got, b.want);
    }
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    free(b.step);
    return rc;
}
