/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job engine: creates jobs (targets, job document, supersede), moves
 * executions through the AWS IoT Jobs state machine, runs the timers, and
 * publishes the notify / notify-next pushes that follow every change.
 *
 * The engine owns no thread and no lock: ottod calls it with its one server
 * lock held (from the MQTT thread, the HTTP threads and the timer tick).
 * Publishing goes through the pub callback so tests can record it; the
 * engine never blocks on the network. Functions return otto_err_t and, for
 * the operator's edge, fill msg with a sentence a person can act on.
 */
#ifndef SRV_ENGINE_H
#define SRV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "links.h"
#include "metrics.h"
#include "rollout.h"
#include "store.h"

/* A paced job's release credit (executions it may release now) and rate. */
typedef struct {
    int64_t seq; /* 0: a free slot */
    double credit;
    int64_t last; /* when credit was last accrued */
    double rate;  /* per minute, as last computed */
    bool seen;    /* still releasing at the last tick */
} srv_pace_t;
#define SRV_PACE_JOBS 32 /* paced jobs rolling out at once */

/* A job's installConfig as devices are told it (cached: asked for every
 * execution sent; dropped when the job's configuration changes). */
typedef struct {
    int64_t seq;  /* 0: a free slot */
    bool deferred, told; /* told: otto job install */
    int last;     /* the answer last pushed to devices (-1: none yet) */
    srv_install_t in;
} srv_install_cache_t;
#define SRV_INSTALL_JOBS 8

typedef struct srv_engine {
    srv_store_t *st;
    const char *public_url;  /* base of download URLs in job documents */
    int minute_s;            /* seconds in a timer "minute": 60, less in tests */
    bool auto_register;      /* unknown things that talk to us become devices */
    bool lead;               /* this worker does the once-only work (store.h srv_store_lead); true alone */
    unsigned register_rate;  /* ... at most this many a second (0: no limit) */
    char register_group[SRV_NAME_MAX + 1]; /* ... into this group ("": none) */
    int64_t reg_second;      /* the second reg_count counts */
    unsigned reg_count;
    uint64_t n_reg_refused;  /* first contacts not registered: over the rate */
    /* What changed for a thing, for the API to render (mqtt_api.c's
     * srv_mqtt_api_changed): its pending list, and whether its next
     * execution (next, NULL when none) is another one. */
    void (*changed)(struct srv_engine *e, const char *thing, bool list_changed, bool next_changed,
                    const srv_exec_t *next, int64_t now);
    /* Publish one message (QoS 1, not retained); returns 0 or -1. */
    int (*publish)(void *ctx, const char *topic, const char *payload, size_t len);
    void *pub_ctx;
    /* One-entry cache of a parsed job document: job documents never change,
     * and job creation sends the same one to every target. */
    int64_t doc_seq;
    cJSON *doc;
    /* Download links minted per thing when a document is sent (links.h);
     * off: the document's urls as they are. */
    srv_links_t links;
    /* Delta patches (deltas.h): asked for when a job is created, offered in
     * each device's document when one is made from the image it runs.
     * NULL: none. */
    struct srv_deltas *deltas;
    /* Paced rollouts (in memory: after a restart each goes on at its rate). */
    srv_pace_t pace[SRV_PACE_JOBS];
    srv_install_cache_t inst[SRV_INSTALL_JOBS];
    unsigned inst_next;      /* the slot a miss takes next */
    /* Counters for /healthz and the benchmarks; /metrics (metrics.h). */
    uint64_t n_requests, n_rejected, n_published;
    srv_metrics_t metrics;
} srv_engine_t;

typedef struct {
    const char *job_id;          /* NULL or "" = generate one */
    const char *const *devices;  /* thing names */
    size_t ndevices;
    const char *const *groups;
    size_t ngroups;
    const char *const *fw_ids;   /* one per ota_type, same product */
    size_t nfw;
    const char *description;
    int timeout_min;             /* in-progress timeout, 0 = none */
    bool allow_unsigned;         /* firmware without a signature is let through (recorded) */
    const cJSON *key_updates;    /* NULL or [{"op","key","sig-sha256-ecdsa"}] (otto key update) */
    const cJSON *config;         /* NULL or {"jobExecutionsRolloutConfig", "abortConfig"} (AWS's),
                                    and otto's "where" (hw.h: which hardware variants) */
    cJSON *left_out;             /* NULL, or an array the engine appends to: the targets left
                                    out, {"reason", "devices" (count), "example" (a thing)} */
} srv_job_spec_t;

void srv_engine_init(srv_engine_t *e, srv_store_t *st, const char *public_url);
void srv_engine_fini(srv_engine_t *e);

/** Create a job; on success id_out holds its id and *ntargets the number of
 *  executions queued. OTTO_E_INVAL / OTTO_E_NOTFOUND / OTTO_E_EXISTS with msg. */
int srv_engine_create_job(srv_engine_t *e, const srv_job_spec_t *spec,
                          char id_out[SRV_JOBID_MAX + 1], size_t *ntargets,
                          char *msg, size_t msglen);

/** Cancel a job: QUEUED executions end CANCELED; IN_PROGRESS ones too when
 *  force is set, otherwise they may still finish. */
int srv_engine_cancel_job(srv_engine_t *e, const char *id, bool force, const char *reason,
                          char *msg, size_t msglen);

/** Devices just registered or added to groups: each gets the continuous
 *  jobs (targetSelection CONTINUOUS) that now target it, released at once. */
void srv_engine_joined(srv_engine_t *e, const char *const *things, size_t n, int64_t now);

/* What an operator does to a rollout in progress. */
enum { SRV_ROLLOUT_PAUSE, SRV_ROLLOUT_RESUME, SRV_ROLLOUT_NEXT_WAVE, SRV_ROLLOUT_INSTALL };
/** PAUSE: what is released goes on, nothing more is released; RESUME:
 *  releases go on at the rate from then on (no burst), and a wave gate that
 *  paused the job is passed; NEXT_WAVE: the next wave starts now, whatever
 *  the current one's results. OTTO_E_STATE (with msg) unless the job is
 *  IN_PROGRESS with a rate or waves (and, for NEXT_WAVE, a wave after).
 *  INSTALL: a deferred job's devices install now (OTTO_E_STATE unless
 *  installConfig.deferred). */
int srv_engine_rollout_op(srv_engine_t *e, const char *id, int op, char *msg, size_t msglen);

/** A job's install signal for its devices: -1 the job installs at once (no
 *  "install" field), 0 "WAIT", 1 "NOW" (told, or inside an install window). */
int srv_engine_install(srv_engine_t *e, int64_t seq, int64_t now);

/** A firmware was uploaded: patches to it from every image the devices of
 *  its product say they run that the server holds (made in the
 *  background), so a job for it finds them made. */
void srv_engine_fw_added(srv_engine_t *e, const srv_fw_t *fw);

/** Time out executions whose step or in-progress timer expired. */
void srv_engine_tick(srv_engine_t *e, int64_t now);

/** Change an execution's status on the device's behalf (the MQTT API's
 *  update and start-next). Checks the transition table; OTTO_E_STATE if the
 *  move is illegal. details (a JSON object) replaces the stored details when
 *  not NULL; step_min > 0 starts a step timer. Publishes what follows. */
int srv_engine_device_move(srv_engine_t *e, srv_exec_t *ex, int to, const cJSON *details,
                           int step_min, int64_t now);

/** The job document of job seq, parsed (owned by the engine's cache; valid
 *  until the next call). NULL if the job is gone. */
const cJSON *srv_engine_doc(srv_engine_t *e, int64_t seq);
/** A copy of it for thing, with download links minted for it now and,
 *  where a patch from the image it runs is made, a "delta" beside each
 *  such entry (the caller owns it); an empty object if the job is gone. */
cJSON *srv_engine_doc_for(srv_engine_t *e, int64_t seq, const char *thing, int64_t now);

/** Publish a JSON object on topic and free it. */
void srv_engine_send(srv_engine_t *e, const char *topic, cJSON *obj);

/** Is s a valid thing name / job id in AWS's alphabet and length? */
bool srv_valid_thing(const char *s);
bool srv_valid_job_id(const char *s);
/** A product, group or ota_type: 1-64 of letters, digits, '.', '_', '-'. */
bool srv_valid_name(const char *s);

#endif
