/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device requests handled in batches (group commit). The MQTT thread queues
 * each request (a copy); one thread takes all that are queued, handles
 * them in one store transaction with their replies held back, commits
 * (one sync of the write-ahead log for the whole batch: a reply is sent
 * only for what is on disk, so a power cut of the server loses no update
 * a device was told is accepted), then publishes the replies in order.
 * Requests of one device keep their order. While a batch commits the next
 * one gathers, so the busier the broker, the bigger the batches.
 *
 * If a commit fails, the batch's replies are dropped (the devices ask
 * again: their requests time out) and the failure is logged and counted.
 */
#ifndef SRV_BATCH_H
#define SRV_BATCH_H

#include <stddef.h>

#include "server.h"

typedef struct srv_batch srv_batch_t;

/** Start the batch thread for s (its engine, store and lock). 0 or -1. */
int srv_batch_start(srv_batch_t **out, srv_t *s);
/** Queue one request (copied); waits while the queue is full. */
void srv_batch_push(srv_batch_t *b, const char *topic, const void *payload, size_t len);
/** Handle what is queued, then stop the thread and free b. */
void srv_batch_stop(srv_batch_t *b);

#endif
