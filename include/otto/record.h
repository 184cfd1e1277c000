/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The records otto keeps across a reboot, encoded field by field so that
 * the firmware after an update reads what the firmware before it wrote
 * (docs/formats.md, "Records"). Each starts with 0x80 | version; version 0
 * is the raw C struct the first agents stored (otto_agent_job_t and
 * otto_relay_state_t as the x86-64 simulator laid them out), told apart by
 * its first byte (a phase, below 0x80) and its exact length.
 *
 * Decoding a record from a newer agent (a rollback to older firmware)
 * returns OTTO_E_VERSION with what every version keeps first: the job id
 * and the execution's version number, so the agent can end that job with a
 * reason rather than resume what it cannot read. Other errors:
 * OTTO_E_CORRUPT (not a record of this kind), OTTO_E_NOSPC (buffer).
 * Buffers are the caller's; nothing is kept.
 */
#ifndef OTTO_RECORD_H
#define OTTO_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "otto/agent.h"
#include "otto/relay.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTTO_JOB_RECORD_VERSION   2u /* 2: entries may carry their signature */
#define OTTO_RELAY_RECORD_VERSION 1u
#define OTTO_JOB_RECORD_V0_LEN    920u /* sizeof the v0 struct */
#define OTTO_RELAY_RECORD_V0_LEN  12u
/** The longest job record this version can encode (every string at its
 *  limit: two 255-byte signed download links among them). */
#define OTTO_JOB_RECORD_MAX       1280u
/** The longest one it stores: what every store takes (otto's kv value limit,
 *  which older agents also read). A job that would need more (only absurdly
 *  long links and names do) is refused up front, too_long. */
#define OTTO_JOB_RECORD_STORE_MAX 1024u

int otto_job_record_encode(const otto_agent_job_t *j, uint8_t *buf, size_t cap, size_t *len);
/** *version gets the record's version (0, 1, ... or a newer one). */
int otto_job_record_decode(const uint8_t *buf, size_t len, otto_agent_job_t *j, unsigned *version);

/** The relay's "mcu" record: 10 bytes. */
int otto_relay_record_encode(const otto_relay_state_t *st, uint8_t *buf, size_t cap, size_t *len);
int otto_relay_record_decode(const uint8_t *buf, size_t len, otto_relay_state_t *st);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_RECORD_H */
