/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's network side on Linux: MQTT through libmosquitto, downloads
 * through libcurl, one event loop for any number of agents (a gateway runs
 * one; the simulator a thousand).
 *
 * A link is one agent's connection to the world: its MQTT client, its
 * download, and the otto_agent_port_t callbacks (publish, http_get,
 * http_cancel, reboot, now_ms) that the agent calls. The loop waits on
 * every link's MQTT socket and on curl's at once (curl_multi_poll), feeds
 * what arrives to the agents, and calls otto_agent_tick on each.
 *
 * Ownership: the caller owns the loop, the links and the agents, and keeps
 * them alive while the loop runs; a link's thing and host strings too.
 * A link reconnects to the broker by itself (once a second) and subscribes
 * to the agent's topics before telling it it is connected.
 *
 * Hooks let a caller watch or shape the traffic without touching this
 * file: the simulator paces downloads and breaks them (sim/fleet.c); a
 * gateway leaves them NULL.
 */
#ifndef OTTO_LINUX_NET_H
#define OTTO_LINUX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <mosquitto.h>

#include "otto/agent.h"

typedef struct otto_link otto_link_t;

typedef struct {
    /** Before a chunk of the body reaches the agent: false holds the
     *  transfer (curl keeps the bytes) until otto_link_resume. */
    bool (*body_gate)(otto_link_t *l, size_t len);
    /** After the agent took a chunk: false ends the transfer (as a cut). */
    bool (*body_done)(otto_link_t *l, size_t len);
    /** Whether the link may still call into its agent (e.g. its power is on). */
    bool (*alive)(otto_link_t *l);
    /** A line for the log. */
    void (*log)(otto_link_t *l, const char *msg);
} otto_link_hooks_t;

typedef struct {
    CURLM *multi;
} otto_net_t;

struct otto_link {
    otto_net_t *net;
    otto_agent_t *agent;
    const char *thing;
    const char *host;
    int port;
    const otto_link_hooks_t *hooks;
    void *user;            /**< the caller's, for its hooks */
    bool small_buffers;    /**< 16 KiB receive buffers (slow links: a drop cuts short) */
    /** TLS (all NULL: plain TCP and HTTP): the CA that signed the broker's
     *  and the download server's certificates (their names are checked),
     *  and this device's certificate (CN = thing) and key, for MQTT. */
    const char *tls_ca, *tls_cert, *tls_key;
    int verbose;           /**< 2: log every MQTT message */
    /* state */
    struct mosquitto *m;
    bool mq_up;
    int subs_pending;
    uint32_t reconnect_at;
    CURL *easy;
    bool http_on, in_cb, cancel, paused, head_sent;
    struct curl_slist *hdrs;
    int status;
    uint32_t clen, rstart;
    char etag[80];
    bool reboot_pending;   /**< the agent asked for a restart */
    uint64_t rx;           /**< body bytes of this transfer */
    uint32_t rx_t0;        /**< when it started (ms) */
};

int otto_net_init(otto_net_t *net);
void otto_net_close(otto_net_t *net);

/** A link for agent (not started). */
void otto_link_init(otto_link_t *l, otto_net_t *net, otto_agent_t *agent, const char *thing, const char *host,
                    int port);
/** The agent port callbacks this link answers (mcu_* left NULL). */
void otto_link_port(otto_link_t *l, otto_agent_port_t *port);
/** Connect to the broker (retried by otto_link_service when it fails). */
void otto_link_start(otto_link_t *l);
/** Drop everything. No DISCONNECT is sent (as in a power cut): the broker
 *  publishes the module's will, otto/things/{thing}/status {"online":
 *  false}, retained; the birth message {"online": true} follows each
 *  connection. */
void otto_link_stop(otto_link_t *l);
/** Break the download under way, as a lost connection would. */
void otto_link_break(otto_link_t *l);
/** Let a held transfer go on (body_gate said false before). */
void otto_link_resume(otto_link_t *l);
/** Reconnects when due, then otto_agent_tick. */
void otto_link_service(otto_link_t *l, uint32_t now);

/** One turn of the loop over links[0..n) for at most wait_ms: MQTT in and
 *  out, downloads, finished transfers. Links for which skip(l) is true are
 *  left alone this turn (the simulator's relay workers hold them). */
void otto_net_turn(otto_net_t *net, otto_link_t **links, int n, int wait_ms, bool (*skip)(otto_link_t *l));

/** Milliseconds, monotonic. */
uint32_t otto_net_now(void);

#endif
