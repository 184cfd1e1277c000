/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent's modules share (device/agent*.c); not for users. The
 * agent is one state machine (agent.c: its transition table) whose work is
 * done by modules with one job each:
 *   agent_judge.c   whether a job applies to this device, and why not;
 *   agent_fetch.c   downloading into the update slot or mcufw, checking,
 *                   switching;
 *   agent_delta.c   the same image decoded from a patch of the running one;
 *   agent_mcu.c     driving the relay to the MCU;
 *   agent_report.c  what goes to the server (AWS IoT Jobs topics, payloads).
 */
#ifndef OTTO_INTERNAL_AGENT_H
#define OTTO_INTERNAL_AGENT_H

#include "otto/agent.h"
#include "internal/json.h"
#include "internal/util.h"

/* Phases: the states of the table in agent.c (and the record's values). */
enum { P_IDLE = 0, P_STARTING, P_DOWNLOADING, P_SWITCHED, P_REPORT, P_RELAY, P_DOWNLOADED };
enum { R_SUCCEEDED = 1, R_FAILED, R_REJECTED };
enum { T_ESP = 0, T_MCU = 1 };                                   /* job.target */
enum { S_NONE = 0, S_PENDING, S_UPDATED, S_ALREADY, S_FAILED }; /* job.*_state */

#define CHECKPOINT_DEFAULT (16u * 1024u)
#define RETRY_DEFAULT_MS   1000u
#define BACKOFF_MAX        32u
#define NEXT_TIMEOUT_MS    15000u
#define REPLY_TIMEOUTS     10u /* retry_ms's: an update unanswered this long is sent again */
#define SLICE_DEFAULT_MS   50u /* relay work per tick */
#define MCU_TRIES          3u  /* relays ending in an MCU error before the job fails */

/* agent.c: the job's life */
void agent_save_job(otto_agent_t *a);
void agent_clear_job(otto_agent_t *a);
void agent_finish(otto_agent_t *a, int result, const char *reason, const char *detail);
void agent_end(otto_agent_t *a, int result, const char *reason, const char *detail);
void agent_fail_or_retry(otto_agent_t *a, int err, const char *reason, const char *detail);
void agent_drop(otto_agent_t *a);

/* agent_judge.c */
void agent_judge(otto_agent_t *a, const otto_json_t *j, int exec);
bool agent_runs(const otto_agent_t *a, const otto_fw_entry_t *fw);
/* Does the execution say its job installs later ("install": "WAIT")? */
bool agent_install_waits(const otto_json_t *j, int exec);

/* agent_fetch.c */
otto_fw_entry_t *agent_cur(otto_agent_t *a);
int agent_begin_fresh(otto_agent_t *a);
int agent_rehash_from_flash(otto_agent_t *a, uint32_t len);
int agent_slot_write(otto_agent_t *a, const void *data, size_t len);
void agent_write_failed(otto_agent_t *a, int err, const void *data, size_t len);
void agent_checkpoint(otto_agent_t *a);
void agent_stop_download(otto_agent_t *a);
void agent_start_download(otto_agent_t *a);
void agent_complete(otto_agent_t *a);
void agent_on_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start, const char *etag);
void agent_on_data(otto_agent_t *a, const void *data, size_t len);
void agent_on_end(otto_agent_t *a, int err);

/* agent_delta.c: the image made from a patch of the running one */
void agent_delta_init(otto_agent_t *a);
bool agent_delta_usable(const otto_agent_t *a);
void agent_delta_start(otto_agent_t *a);
void agent_delta_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start);
void agent_delta_data(otto_agent_t *a, const void *data, size_t len);
void agent_delta_end(otto_agent_t *a, int err);
void agent_delta_fallback(otto_agent_t *a);

/* agent_mcu.c */
void agent_mcu_release(otto_agent_t *a);
void agent_mcu_base_init(otto_agent_t *a);
const otto_part_t *agent_mcu_part(otto_agent_t *a);
bool agent_mcu_fits_half(const otto_agent_t *a);
int agent_mcu_claim(otto_agent_t *a);
void agent_relay_settle(otto_agent_t *a);

/* agent_report.c */
uint32_t agent_now(const otto_agent_t *a);
void agent_arm_retry(otto_agent_t *a);
void agent_ask_next(otto_agent_t *a);
void agent_send_progress(otto_agent_t *a, const char *step, bool expect);
void agent_wait_install(otto_agent_t *a);
void agent_send_final(otto_agent_t *a);
void agent_hello(otto_agent_t *a);
bool agent_job_gone(otto_agent_t *a, const char *payload, size_t len);

#endif
