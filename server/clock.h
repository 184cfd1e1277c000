/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's clock: every timed thing (job and execution times, timeouts,
 * rollout rates, retries, maintenance windows, link and token expiry, the
 * audit log) reads it, never time() directly. It is the wall clock, unless
 * a test sets a start and a speed (ottod --clock-start, --clock-speed: for
 * tests only, logged as such), so that hours of a schedule pass in seconds.
 * Set once at start-up, before any thread; read from any thread.
 */
#ifndef SRV_CLOCK_H
#define SRV_CLOCK_H

#include <stdint.h>

/** Seconds since the epoch (UTC), as this server counts them. */
int64_t srv_now(void);
/** From now on the clock reads start at this instant and runs speed times
 *  the wall clock (speed > 0). */
void srv_clock_set(int64_t start, double speed);

#endif
