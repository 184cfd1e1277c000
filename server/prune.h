/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: what ottod forgets, by documented rules, so that the store
 * stays bounded over years of releases. Each rule is an age in days (0:
 * keep for ever):
 *   jobs      a job that ended (COMPLETED or CANCELED) that long ago goes
 *             with its executions; a job in progress (continuous ones
 *             included) is never touched
 *   audit     audit entries older than that
 *   firmware  firmware uploaded that long ago that no job left uses, no
 *             template names and no device runs (the base of its patches)
 *             goes with its file; then every delta patch whose target is
 *             gone or whose base no device runs
 * srv_prune runs them in one transaction (files after the commit). The
 * leading worker runs it on a schedule; `otto admin prune` at any time.
 */
#ifndef SRV_PRUNE_H
#define SRV_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

typedef struct {
    int64_t jobs, executions, audit, firmware, deltas;
    int64_t bytes; /* of firmware and patch files removed */
} srv_pruned_t;

/** Apply the rules of s's configuration at now (seconds); with dry, count
 *  only. The caller holds s->lock. */
int srv_prune(srv_t *s, int64_t now, bool dry, srv_pruned_t *out);

#endif
