/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-client request budgets: a token bucket per key (a thing name), so one
 * device flooding its job topics is held to `rate` requests a second (with
 * `burst` in hand) and the others are served as if it were idle. A table
 * of fixed size: a key that finds no room takes the slot least recently
 * used among the few it may go to, which at worst gives that key a fresh
 * budget. Not thread-safe: one thread (the MQTT network thread) calls it.
 */
#ifndef SRV_THROTTLE_H
#define SRV_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct srv_throttle srv_throttle_t;

/** slots: keys remembered at once; rate: per second; burst: the bucket. */
srv_throttle_t *srv_throttle_new(unsigned slots, double rate, double burst);
void srv_throttle_free(srv_throttle_t *t);
/** Take one request for key at now_ms: true when within its budget. When
 *  refused, *say is true for the first refusal in each second (answer that
 *  one; drop the rest). */
bool srv_throttle_take(srv_throttle_t *t, const char *key, uint64_t now_ms, bool *say);
/** Milliseconds on the monotonic clock: the one clock ottod's budgets and
 *  per-connection deadlines are measured on. */
int64_t srv_mono_ms(void);

#endif
