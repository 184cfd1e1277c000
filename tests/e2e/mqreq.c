/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqreq - the end-to-end tests' stand-in for a device's MQTT client.
 *
 *   mqreq -p PORT -t TOPIC [-m PAYLOAD] [-w SECONDS]
 *       Subscribe to TOPIC/accepted and TOPIC/rejected, wait for the
 *       subscription to be granted, publish PAYLOAD on TOPIC, and print the
 *       first reply as "accepted PAYLOAD" or "rejected PAYLOAD".
 *   mqreq -p PORT -s FILTER [-n COUNT] [-w SECONDS] [-r READYFILE] [-i ID]
 *       Print "TOPIC PAYLOAD" for each message on FILTER until COUNT arrived
 *       or SECONDS passed; READYFILE is created once subscribed. With -i, a
 *       persistent session under that client id (clean session off).
 *   mqreq -p PORT -s FILTER -t TOPIC [-m PAYLOAD] ...
 *       Both on one connection: once subscribed to FILTER, publish PAYLOAD
 *       on TOPIC (a device with its own certificate has one connection).
 *
 * Over TLS with -A CAFILE -C CERT -K KEY: a device's own certificate, the
 * broker's name checked against CAFILE (the deployment's CA).
 *
 * Exit status: 0 done, 1 timed out, 2 usage or connection error. Unlike
 * mosquitto_sub + mosquitto_pub it cannot miss a reply that comes before
 * its subscription is in place.
 */
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *topic, *payload, *filter, *ready;
    int want, got, subs_pending;
    bool published;
} ctx_t;

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    ctx_t *c = arg;
    char t[1024];
    if (rc) {
        fprintf(stderr, "mqreq: connect refused: %s\n", mosquitto_connack_string(rc));
        exit(2);
    }
    if (c->filter) {
        c->subs_pending = 1;
        mosquitto_subscribe(m, NULL, c->filter, 1);
        return;
    }
    c->subs_pending = 2;
    snprintf(t, sizeof t, "%s/accepted", c->topic);
    mosquitto_subscribe(m, NULL, t, 1);
    snprintf(t, sizeof t, "%s/rejected", c->topic);
    mosquitto_subscribe(m, NULL, t, 1);
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
    ctx_t *c = arg;
    (void)mid;
    (void)n;
    (void)granted;
    if (--c->subs_pending > 0)
        return;
    if (c->filter && c->ready) {
        FILE *f = fopen(c->ready, "w");
        if (f)
            fclose(f);
    }
    if (c->topic && !c->published) {
        const char *p = c->payload ? c->payload : "";
        mosquitto_publish(m, NULL, c->topic, (int)strlen(p), p, 1, false);
        c->published = true;
    }
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    ctx_t *c = arg;
    (void)m;
    if (c->filter) {
        printf("%s %.*s\n", msg->topic, msg->payloadlen, (const char *)msg->payload);
    } else {
        size_t tl = strlen(c->topic);
        const char *kind = msg->topic + tl + 1;
        printf("%s %.*s\n", kind, msg->payloadlen, (const char *)msg->payload);
    }
    fflush(stdout);
    c->got++;
}

int main(int argc, char **argv)
{
    ctx_t c = {.want = 1};
    int port = 1883, opt;
    double wait_s = 5;
    const char *id = NULL, *cafile = NULL, *cert = NULL, *key = NULL;
    while ((opt = getopt(argc, argv, "p:t:m:s:n:w:r:i:A:C:K:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 't': c.topic = optarg; break;
        case 'm': c.payload = optarg; break;
        case 's': c.filter = optarg; break;
        case 'n': c.want = atoi(optarg); break;
        case 'w': wait_s = atof(optarg); break;
        case 'r': c.ready = optarg; break;
        case 'i': id = optarg; break;
        case 'A': cafile = optarg; break;
        case 'C': cert = optarg; break;
        case 'K': key = optarg; break;
        default:
            fprintf(stderr, "usage: mqreq -p PORT (-t TOPIC [-m PAYLOAD] | -s FILTER [-n N] [-r FILE]) [-w S]\n"
                            "             [-A CAFILE -C CERT -K KEY]\n");
            return 2;
        }
    }
    if (!c.topic && !c.filter) {
        fprintf(stderr, "mqreq: give -t or -s (or both)\n");
        return 2;
    }
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(id, id == NULL, &c);
    if (!m)
        return 2;
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    if (cafile && mosquitto_tls_set(m, cafile, NULL, cert, key, NULL)) {
        fprintf(stderr, "mqreq: cannot use the TLS files %s, %s, %s\n", cafile, cert ? cert : "-", key ? key : "-");
        return 2;
    }
    if (mosquitto_connect(m, "127.0.0.1", port, 30)) {
        fprintf(stderr, "mqreq: cannot connect to 127.0.0.1:%d\n", port);
        return 2;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        mosquitto_loop(m, 50, 1);
        if (c.want > 0 && c.got >= c.want)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 > wait_s)
            break;
    }
    int rc = c.want > 0 && c.got < c.want ? 1 : 0;
    mosquitto_disconnect(m);
    mosquitto_loop(m, 50, 1);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}
