/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delta patches made in the background: when a job is created, the engine
 * asks for a patch from each image its devices run (their hello says it by
 * SHA-256) that the server holds, to the job's image. One thread makes
 * them, one at a time, outside the server lock (host/delta.c: about 0.3 s
 * for a 1.3 MB ESP32 image); each goes to DATA/deltas/ID.otdl and into the
 * store, and job documents carry it from then on. Cached by (base,
 * target): asked again, nothing is made again.
 */
#ifndef SRV_DELTAS_H
#define SRV_DELTAS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "store.h"

typedef struct srv_deltas srv_deltas_t;

/** Start the maker; lock: the server lock it takes to record a patch. */
int srv_deltas_start(srv_deltas_t **out, const char *data_dir, srv_store_t *st, pthread_mutex_t *lock);
/** Finish the patch under way, drop the rest, stop. */
void srv_deltas_stop(srv_deltas_t *d);
/** Queue (base, target) unless it is made or queued (server lock held);
 *  whether it is still to come (queued now or before). */
bool srv_deltas_want(srv_deltas_t *d, const srv_fw_t *base, const srv_fw_t *target);
/** The patch's id for (base, target), and where its bytes are. */
void srv_delta_id(const char *base_fw, const char *target_fw, char out[48]);
int srv_delta_path(const char *data_dir, const char *id, char *buf, size_t cap);
/** Is a patch to target_fw queued or being made? */
bool srv_deltas_busy(srv_deltas_t *d, const char *target_fw);
/** Patches made since start (for /healthz and the tests). */
unsigned long srv_deltas_made(srv_deltas_t *d);

#endif
