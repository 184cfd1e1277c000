/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One ottod: its configuration and the parts main() wires together. The
 * store and the engine are single-threaded; the MQTT network thread, the
 * HTTP worker threads and the timer tick in main() share them under lock.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "engine.h"
#include "mqtt.h"
#include "store.h"

typedef struct {
    char data_dir[400];
    char db[512];           /* "" = DATA/otto.db (SQLite); or a postgresql:// URI */
    char mqtt_host[128];
    int mqtt_port;
    char mqtt_client_id[64];
    char mqtt_share[64];    /* several workers: "" = split requests by partition; else a $share group */
    char http_host[128];
    int http_port;
    char public_url[256];   /* "" = http://HTTP_HOST:HTTP_PORT */
    int http_threads;
    int http_per_ip;        /* connections one client address may hold */
    int http_idle_s;        /* a connection silent this long is closed */
    char trusted_proxy[64]; /* its requests are counted per X-Forwarded-For client */
    bool proxy_protocol;    /* the trusted proxy speaks the PROXY protocol (front.h) */
    int mqtt_rate;          /* requests a second one thing may make */
    int register_rate;      /* new things registered a second, at most */
    bool auto_register;
    bool deltas;            /* make and offer delta patches (deltas.h) */
    char register_group[SRV_NAME_MAX + 1]; /* "" or the group first contacts join */
    int minute_s;           /* length of a timer minute (tests shorten it) */
    long clock_start;       /* test-only: the clock starts here (0: the wall clock) */
    double clock_speed;     /* ... and runs this many times as fast (0: 1) */
    char log_level[16];
    char log_file[400];
    char log_format[8];     /* "text" or "json" */
    char web_dir[400];      /* the console's files; "" none */
    /* TLS (ottod init writes these): the CA and its key (device certificates
     * are issued with it), ottod's MQTT identity, the HTTPS certificate. */
    char tls_ca[400], tls_ca_key[400];
    char mqtt_cert[400], mqtt_key[400];
    char https_cert[400], https_key[400];
    bool insecure;          /* plain TCP and HTTP allowed: said loudly */
    int signed_links;       /* download links minted per device: 1 on, 0 off, -1 default (on with HTTPS) */
    int link_ttl_s;         /* how long a minted link lives */
    int retain_jobs_days, retain_audit_days, retain_firmware_days; /* prune.h; 0 keeps */
    int prune_hours;        /* the leader prunes this often (0: only when asked) */
} srv_config_t;

/* What downloads look up, kept a few seconds so the hot path takes neither
 * the server's lock nor a SQL statement (download.c). */
#define SRV_DLCACHE 128
typedef struct {
    pthread_mutex_t mu;
    struct {
        char id[48];       /* a firmware id or a patch's (d-...) */
        char sha256[65];   /* the firmware's file; "" for a patch */
        int64_t until_ms;  /* monotonic; 0: empty */
        void *full;        /* the whole file as a libmicrohttpd response, queued by every
                              full GET while the entry lives (NULL: not made yet) */
        uint64_t size;     /* ... its bytes */
    } e[SRV_DLCACHE];
} srv_dlcache_t;

typedef struct {
    srv_config_t cfg;
    pthread_mutex_t lock;
    srv_store_t *st;
    srv_engine_t eng;
    srv_mqtt_t *mqtt;
    struct srv_http *http;
    struct srv_deltas *deltas; /* the background delta maker (deltas.h) */
    struct srv_batch *batch;   /* device requests, handled in batches (batch.h) */
    char token[65];         /* the admin token (DATA/admin.token) */
    char token_hash[65];    /* its SHA-256, hex: what requests are compared with */
    atomic_ulong http_aborted; /* connections libmicrohttpd complained about */
    atomic_ulong http_refused; /* connections or requests over a client's limit */
    struct srv_throttle *throttle; /* per-thing MQTT budgets (network thread only) */
    atomic_ulong mqtt_throttled;   /* requests over their thing's budget, dropped */
    time_t started;
    _Atomic uint64_t owned; /* several workers: the request partitions this one holds (store.h) */
    bool partitioned;       /* ... and requests of the others' partitions are left to them */
    int workers;            /* live workers, at the last balance */
    srv_dlcache_t dl;       /* downloads' lookups (download.c) */
} srv_t;

/* HTTP front (http_api.c): REST under /api/v1, downloads under /fw/, /healthz. */
int srv_http_start(srv_t *s);
void srv_http_stop(srv_t *s);

#endif
