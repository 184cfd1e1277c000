/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network side of an agent's update, in process: a small model of
 * ottod's job API (one job, JOB; $next/get and updates with their
 * versions, accepted or rejected as ottod would) and a Range-capable file
 * server (http://fw/1 the module's image, http://fw/2 the MCU's, http://fw/3
 * a patch). The
 * power-cut sweeps and the unit suites (host and Cortex-M alike) drive the
 * real agent through it. No OS calls; the caller owns the world.
 */
#ifndef OTTO_AGENT_WORLD_H
#define OTTO_AGENT_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otto/agent.h"
#include "otto/kv.h"
#include "simdev.h"

#define JOB "job-sweep"

typedef struct {
    /* server model */
    int status; /* 0 QUEUED, 1 IN_PROGRESS, 2 SUCCEEDED, 3 FAILED, 4 REJECTED */
    uint32_t version;
    char doc[1100];
    char reason[64];
    unsigned finals;  /* terminal status updates accepted: must end at 1 */
    int install;      /* the execution's "install": 0 none, 1 "WAIT", 2 "NOW" */
    /* message queue to the device */
    char q_topic[8][160];
    char q_payload[8][1600];
    int q_n;
    /* file server: http://fw/1 the module's image, http://fw/2 the MCU's,
     * http://fw/3 a patch (delta.h) that makes the module's image, and
     * http://fw/4 one that makes the MCU's */
    const uint8_t *img, *mimg, *patch, *mpatch, *cur;
    uint32_t size, msize, psize, mpsize, cur_size;
    uint64_t served_patch; /* of served: the patches' bytes */
    char hello[700];  /* the last hello the device sent */
    char final[640];  /* the terminal update's payload */
    bool http_on, head_sent;
    uint32_t pos, from;
    uint64_t served;
    bool chaos;       /* every message twice, the pending ones newest first */
    /* device side */
    const otto_power_t *power;
    bool reboot;
    uint32_t clock;
} world_t;

/** The sweeps' job document for img (1.1.0, secure_version 1), and mimg
 *  as the MCU's (2.0.0) when msize: md5 and sha256, "signed" with "good"
 *  (Z29vZA==, which the world's verifier takes), and a key update adding
 *  0x04 0x0F... so cuts land around it too. 0, or -1 if cap is short. */
int agent_world_doc(char *doc, size_t cap, const uint8_t *img, size_t ilen, const uint8_t *mimg, size_t msize);
/** A document for img (of that version) offering http://fw/3, a patch of
 *  psize bytes from base (base_sha256: of the base's blen bytes). */
int agent_world_doc_delta(char *doc, size_t cap, const uint8_t *img, size_t ilen, const char *version,
                          const uint8_t *base, size_t blen, size_t psize);
/** The same for the MCU: an stm32 entry for mimg (http://fw/2) of that
 *  version, offering http://fw/4 (psize bytes from base) unless psize is 0. */
int agent_world_doc_mcu_delta(char *doc, size_t cap, const uint8_t *mimg, size_t msize, const char *version,
                              const uint8_t *base, size_t blen, size_t psize);
/** The agent's port onto w (mcu_bootloader: NULL without an MCU). */
otto_agent_port_t agent_world_port(world_t *w, void (*mcu_bootloader)(void *));
/** Run the agent until the job is over (1), the power goes or the device
 *  asks to reboot (0: boot again), or it is stuck (-1). Serves downloads
 *  in chunks of chunk bytes; time moves only when nothing else happens. */
int agent_world_run(world_t *w, otto_agent_t *a, uint32_t chunk);
typedef struct {
    uint32_t chunk;                    /* bytes per download read */
    const otto_uart_t *mcu_uart;       /* the MCU behind the module; NULL none */
    void (*mcu_bootloader)(void *ctx); /* with it: reset the MCU into its bootloader */
    bool allow_unsigned;               /* signatures otherwise required, as on a product */
    bool delta;                        /* the agent has a delta decoder */
} agent_world_opts_t;

/** Power on d (boot, the app's self-test, up to 3 rollbacks), mount its
 *  store, provision the manufacturer's key (0x04 0x0E...), start the
 *  agent ("dev", product "demo") and run it in w: as agent_world_run. */
int agent_world_boot(otto_simdev_t *d, world_t *w, otto_agent_t *a, otto_kv_t *kv, const agent_world_opts_t *o);
/** A fresh world serving img, with doc as the job's document, on the
 *  module's power. */
void agent_world_init(world_t *w, const uint8_t *img, size_t ilen, const char *doc, const otto_power_t *power);
/** Boot d again and again (after each cut, its power restored, or each
 *  reboot) until the job is over (1), or stuck (-1) or max_boots (0). */
int agent_world_boots(otto_simdev_t *d, world_t *w, otto_agent_t *a, otto_kv_t *kv, const agent_world_opts_t *o,
                      int max_boots);
/** After a run that planned a cut at op `at` (0: none): NULL when it
 *  landed there and the job ended SUCCEEDED exactly once with version
 *  running, confirmed, and no NOR rule broken; otherwise what is wrong. */
const char *agent_world_updated(otto_simdev_t *d, const world_t *w, uint64_t at, const char *version);
/** The job's status as ottod says it: QUEUED ... REJECTED. */
const char *agent_world_status(const world_t *w);

#endif
