/* SPDX-License-Identifier: Apache-2.0 */
#include "mqtt.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define SESSION_EXPIRY_S 3600
#define KEEPALIVE_S 30

struct srv_mqtt {
    struct mosquitto *mosq;
    const char *const *topics, *const *state_topics;
    char share[64];        /* "" or the shared subscription group of the requests */
    srv_mqtt_msg_fn on_message;
    void *ctx;
    atomic_bool connected;
    atomic_bool stopping;
    pthread_t thread;
    atomic_ulong retained; /* retained requests dropped */
};

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    srv_mqtt_t *m = arg;
    (void)props;
    if (rc) {
        SRV_LOG_WRN("mqtt: broker refused the connection: %s", mosquitto_reason_string(rc));
        return;
    }
    atomic_store(&m->connected, true);
    SRV_LOG_INF("mqtt: connected%s", (flags & 1) ? " (session resumed)" : "");
    /* Subscribe on every connect: harmless when the session kept them, and
     * needed when the broker lost its state. */
    for (size_t i = 0; m->topics[i]; i++) {
        /* Never the broker's retained messages, and a request published
         * with retain keeps its flag so on_message can drop it: a request
         * is live or nothing (AWS refuses retained messages on job topics). */
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s%s", m->share[0] ? "$share/" : "", m->share, m->share[0] ? "/" : "",
                 m->topics[i]);
        /* No-local is a protocol error on a shared subscription (MQTT 5,
         * 3.8.3.1): there the topics name requests only. */
        int err = mosquitto_subscribe_v5(mosq, NULL, sub, 1,
                                         (m->share[0] ? 0 : MQTT_SUB_OPT_NO_LOCAL) | MQTT_SUB_OPT_SEND_RETAIN_NEVER |
                                             MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL);
        if (err)
            SRV_LOG_ERR("mqtt: subscribe %s: %s", m->topics[i], mosquitto_strerror(err));
    }
    for (size_t i = 0; m->state_topics[i]; i++) { /* retained: where each thing stands */
        int err = mosquitto_subscribe_v5(mosq, NULL, m->state_topics[i], 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
        if (err)
            SRV_LOG_ERR("mqtt: subscribe %s: %s", m->state_topics[i], mosquitto_strerror(err));
    }
}

/* A refused subscription is a deaf server: said loudly (the ACL, or a
 * broker without shared subscriptions, are the usual causes). */
static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    (void)mosq;
    (void)arg;
    (void)props;
    for (int i = 0; i < n; i++)
        if (granted[i] >= 0x80)
            SRV_LOG_ERR("mqtt: the broker refused subscription %d of request %d (reason %s): no device requests"
                        " on it", i + 1, mid, mosquitto_reason_string(granted[i]));
}

static bool is_state(const srv_mqtt_t *m, const char *topic)
{
    bool yes = false;
    for (size_t i = 0; !yes && m->state_topics[i]; i++)
        mosquitto_topic_matches_sub(m->state_topics[i], topic, &yes);
    return yes;
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc, const mosquitto_property *p)
{
    srv_mqtt_t *m = arg;
    (void)mosq;
    (void)p;
    atomic_store(&m->connected, false);
    if (rc)
        SRV_LOG_WRN("mqtt: connection lost (%s); reconnecting", mosquitto_reason_string(rc));
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
    srv_mqtt_t *m = arg;
    (void)mosq;
    (void)p;
    if (msg->retain && !is_state(m, msg->topic)) {
        /* Counted, never acted on; said once, not once a message. */
        if (atomic_fetch_add(&m->retained, 1) == 0)
            SRV_LOG_WRN("mqtt: ignoring a retained request (AWS IoT refuses them; clear it at the broker)");
        return;
    }
    m->on_message(m->ctx, msg->topic, msg->payload, (size_t)(msg->payloadlen < 0 ? 0 : msg->payloadlen));
}

/* The network thread. libmosquitto's loop reconnects by itself, but gives
 * up on a few errors — a TLS handshake cut short by a broker that is
 * restarting is one — and ottod must not go deaf then: it tries again,
 * forever, until it is stopped. */
static void *net_thread(void *arg)
{
    srv_mqtt_t *m = arg;
    unsigned long gave_up = 0;
    while (!atomic_load(&m->stopping)) {
        int rc = mosquitto_loop_forever(m->mosq, 1000, 1);
        if (atomic_load(&m->stopping))
            break;
        if (gave_up++ % 60 == 0)
            SRV_LOG_WRN("mqtt: the connection failed (%s); reconnecting", mosquitto_strerror(rc));
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        mosquitto_reconnect(m->mosq);
    }
    return NULL;
}

int srv_mqtt_start(srv_mqtt_t **out, const char *host, int port, const char *client_id, const char *share,
                   const srv_mqtt_tls_t *tls, const char *const *topics, const char *const *state_topics,
                   srv_mqtt_msg_fn cb, void *ctx)
{
    srv_mqtt_t *m = calloc(1, sizeof *m);
    mosquitto_property *props = NULL;
    int err;

    if (!m)
        return -1;
    mosquitto_lib_init();
    m->topics = topics;
    m->state_topics = state_topics;
    m->on_message = cb;
    m->ctx = ctx;
    snprintf(m->share, sizeof m->share, "%s", share ? share : "");
    /* One of several workers: a clean session that ends with the
     * connection, so the broker hands a dead worker's share of requests to
     * the living at once instead of queueing them for a session nobody
     * resumes. */
    if (!(m->mosq = mosquitto_new(client_id, share != NULL, m))) {
        SRV_LOG_ERR("mqtt: cannot create a client");
        free(m);
        return -1;
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(m->mosq, on_message);
    mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
    mosquitto_reconnect_delay_set(m->mosq, 1, 10, true);
    /* Let many messages be in flight both ways: the broker is on a fast
     * link, job creation publishes one notification per device, and a fleet
     * sends requests faster than one round trip at a time. */
    mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, 1000);
    mosquitto_int_option(m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    /* Replies are small and latency-bound; Nagle plus delayed ACKs would
     * hold each one for tens of milliseconds. */
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (tls && tls->ca && (err = mosquitto_tls_set(m->mosq, tls->ca, NULL, tls->cert, tls->key, NULL))) {
        SRV_LOG_ERR("mqtt: TLS: cannot use %s / %s / %s: %s", tls->ca, tls->cert, tls->key, mosquitto_strerror(err));
        mosquitto_destroy(m->mosq);
        free(m);
        return -1;
    }
    if (!share)
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
    err = mosquitto_connect_bind_v5(m->mosq, host, port, KEEPALIVE_S, NULL, props);
    mosquitto_property_free_all(&props);
    if (err)
        SRV_LOG_WRN("mqtt: cannot reach the broker at %s:%d (%s); will keep trying", host, port,
                err == MOSQ_ERR_ERRNO ? "connection refused" : mosquitto_strerror(err));
    /* The handle is the caller's before the network thread runs: a resumed
     * session delivers queued requests at once, and their replies need it. */
    *out = m;
    mosquitto_threaded_set(m->mosq, true); /* other threads publish */
    if ((err = pthread_create(&m->thread, NULL, net_thread, m))) {
        SRV_LOG_ERR("mqtt: cannot start the network thread: %s", strerror(err));
        *out = NULL;
        mosquitto_destroy(m->mosq);
        free(m);
        return -1;
    }
    return 0;
}

int srv_mqtt_publish(void *arg, const char *topic, const char *payload, size_t len)
{
    srv_mqtt_t *m = arg;
    int err = mosquitto_publish_v5(m->mosq, NULL, topic, (int)len, payload, 1, false, NULL);
    return err == MOSQ_ERR_SUCCESS || err == MOSQ_ERR_NO_CONN ? 0 : -1;
}

bool srv_mqtt_connected(srv_mqtt_t *m) { return m && atomic_load(&m->connected); }

void srv_mqtt_stop(srv_mqtt_t *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    mosquitto_disconnect_v5(m->mosq, 0, NULL); /* loop_forever returns */
    pthread_join(m->thread, NULL);
    mosquitto_destroy(m->mosq);
    mosquitto_lib_cleanup();
    free(m);
}
