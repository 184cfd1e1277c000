/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's MQTT connection: an ordinary client of the broker (libmosquitto,
 * MQTT 5). A persistent session (clean start off, one-hour expiry) makes
 * the broker keep device requests that arrive while ottod restarts; one of
 * several workers hears every request too and keeps its partitions' (the
 * others have the rest, so a worker that never comes back strands
 * nothing). With a shared subscription ($share/GROUP/...: the broker gives
 * each request to one worker of the group) the session is clean instead,
 * so a dead worker's share goes to the living, not to its queue. The
 * no-local subscription option keeps ottod from receiving its own replies.
 * Messages are handed to on_message from libmosquitto's network thread;
 * srv_mqtt_publish may be called from any thread.
 */
#ifndef SRV_MQTT_H
#define SRV_MQTT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_mqtt srv_mqtt_t;

typedef void (*srv_mqtt_msg_fn)(void *ctx, const char *topic, const void *payload, size_t len);

/** TLS to the broker: the CA that signed its certificate (its name is
 *  checked), and ottod's own certificate and key. All NULL: plain TCP. */
typedef struct {
    const char *ca, *cert, *key;
} srv_mqtt_tls_t;

/** Connect to host:port as client_id and subscribe to topics, requests
 *  (a retained one is dropped; shared in group share unless NULL), and
 *  state_topics, whose retained messages are the state to start from (both
 *  NULL-ended; every worker gets every state message); reconnects by itself. 0
 *  or -1 (message logged). *out is set before the first message can
 *  arrive, so on_message may publish through it. */
int srv_mqtt_start(srv_mqtt_t **out, const char *host, int port, const char *client_id, const char *share,
                   const srv_mqtt_tls_t *tls, const char *const *topics, const char *const *state_topics,
                   srv_mqtt_msg_fn on_message, void *ctx);
/** Publish at QoS 1; 0 or -1. */
int srv_mqtt_publish(void *m, const char *topic, const char *payload, size_t len);
bool srv_mqtt_connected(srv_mqtt_t *m);
void srv_mqtt_stop(srv_mqtt_t *m);

#endif
