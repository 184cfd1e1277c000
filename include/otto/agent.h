/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device agent: takes a job from ottod (or AWS IoT Jobs) to an updated,
 * confirmed device, surviving power cuts and bad networks.
 *
 * Event-driven: the port calls in when something happened (boot, MQTT
 * connected, a message, HTTP headers/bytes/end, a timer tick) and the agent
 * answers through the port's callbacks (publish, start or cancel a download,
 * reboot). Nothing blocks but the MCU relay, which talks to the bootloader
 * over the UART from otto_agent_tick: mcu_slice_ms of work at a time, plus
 * the exchange under way (an erase can take seconds), so a port runs the
 * agent in a task of its own or accepts that pause.
 *
 * No malloc: otto_agent_t is all its RAM. Its progress lives in the port's
 * store (store.h) as versioned records (record.h), so after any cut, and
 * after an update to a newer agent, it resumes where it was. The whole
 * state machine is one table, transitions[] in device/agent.c (and in
 * docs/architecture.md, "The agent"):
 *
 *   idle --notify-next/$next--> judge the job --ok--> IN_PROGRESS sent
 *     --accepted--> downloading (Range; checkpoint every checkpoint_bytes)
 *     --all bytes, MD5/SHA-256 ok, image ok--> set_boot, reboot
 *     --boot: confirmed and running the new version--> SUCCEEDED
 *     --boot: rolled back--> FAILED (reason)       --> idle, ask $next
 *   A job with an `stm32` entry updates the MCU first (docs/architecture.md,
 *   "Jobs with both"): download into the mcufw partition, check MD5/SHA-256,
 *   relay to the MCU (relay.h), then the esp32 image as above. An MCU that
 *   fails ends the job FAILED with the module's firmware untouched.
 *   A job that does not apply is REJECTED with a reason; one canceled while
 *   running (notify-next names another job) is dropped; SUCCEEDED is never
 *   sent before the new image has confirmed itself.
 *
 * Topics: the port subscribes to $aws/things/{thing}/jobs/notify-next and
 * .../jobs/+/get/accepted|rejected, .../jobs/+/update/accepted|rejected (see
 * otto_agent_topics) before calling otto_agent_connected.
 *
 * Errors: the event calls return nothing; what goes wrong with a job is the
 * job's status (statusDetails.reason, for the server and a person), and a
 * port or store failure is retried with backoff, the last one kept in
 * last_err for the port's logs. otto_agent_init returns OTTO_E_INVAL for a
 * config without thing, ota, store or the port's publish/http_get/reboot.
 */
#ifndef OTTO_AGENT_H
#define OTTO_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/crypto.h"
#include "otto/delta.h"
#include "otto/jobdoc.h"
#include "otto/ota.h"
#include "otto/relay.h"
#include "otto/stage.h"
#include "otto/store.h"
#include "otto/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OTTO_CONFIG_AGENT_MSG_MAX
#define OTTO_CONFIG_AGENT_MSG_MAX 640 /* outgoing topic + payload buffer */
#endif

typedef struct {
    void *ctx;
    /** Publish at QoS 1. Returns OTTO_OK or an error (the agent retries). */
    int (*publish)(void *ctx, const char *topic, const char *payload, size_t len);
    /** Start GET url from byte `from` (Range when > 0) with If-Range etag
     *  when etag is not empty. The port then calls otto_agent_http_head once,
     *  otto_agent_http_data for the body and otto_agent_http_end. */
    int (*http_get)(void *ctx, const char *url, uint32_t from, const char *etag);
    void (*http_cancel)(void *ctx);
    /** Restart the device; the agent does nothing after calling it. */
    void (*reboot)(void *ctx);
    /** Milliseconds, monotonic (wraps). */
    uint32_t (*now_ms)(void *ctx);
    /** Optional: reset the MCU into its ROM bootloader (BOOT0 high, pulse
     *  NRST) before the relay talks to it; NULL when the line needs nothing. */
    void (*mcu_bootloader)(void *ctx);
    /** Optional, with mcu_bootloader: let the MCU run its application again
     *  (BOOT0 low, pulse NRST). Called when the MCU's part of a job ends,
     *  updated or not, so that a job refused or failed after the MCU was
     *  put in its bootloader never leaves it halted there. */
    void (*mcu_run)(void *ctx);
    /** Does sig (DER ECDSA P-256) sign sha256 with key, one of the P-256
     *  points the device trusts (trust.h, kept in the store)? OTTO_OK or an
     *  error. NULL: no signature verifies. */
    int (*verify)(void *ctx, const uint8_t key[65], const uint8_t sha256[32], const uint8_t *sig, size_t len);
} otto_agent_port_t;

typedef struct {
    const char *thing;            /**< thing name, e.g. the MAC address */
    const char *product;          /**< must match the job's product ("" = any) */
    const otto_ota_ctx_t *ota;    /**< the running app's OTA view */
    const otto_store_t *store;    /**< where the agent keeps its state (store.h) */
    const otto_agent_port_t *port;
    uint32_t checkpoint_bytes;    /**< save download progress this often (0: 16 KiB) */
    uint32_t retry_ms;            /**< first retry delay, doubles to 32x (0: 1000) */
    /* The MCU behind the module (all optional: without mcu_uart, jobs with
     * an stm32 entry are REJECTED no_mcu). */
    const otto_uart_t *mcu_uart;  /**< the serial line to its ROM bootloader */
    const char *mcu_version;      /**< the MCU's factory version: until the relay records one */
    const char *mcu_part;         /**< what the MCU is, for the hello's "hw" (e.g. "stm32f103";
                                       NULL: its Get ID product id, once a relay has met it) */
    uint32_t mcu_slice_ms;        /**< relay work per tick before returning (0: 50) */
    unsigned mcu_retries;         /**< per AN3155 exchange (0: 5) */
    bool mcu_worker;              /**< the port runs otto_agent_relay_work itself, e.g. on
                                       a thread of its own; tick only settles what it did */
    bool mcu_unprotect;           /**< a read-protected MCU is unprotected, which erases
                                       all its flash, rather than the job FAILED
                                       mcu_protected; the application sets RDP again */
    bool allow_unsigned;          /**< take images without a signature (off by default:
                                       a device requires its owner's signature) */
    otto_delta_t *delta;          /**< the delta decoder's memory (OTTO_DELTA_RAM), for jobs
                                       that offer a patch from the running image; NULL:
                                       full images only */
    uint32_t idle_poll_ms;        /**< with no job, ask for the next one this often: a
                                       notification lost (a server killed between its
                                       commit and its publish, a broker restarted
                                       without persistence) costs at most this long
                                       (0: never; notifications only) */
} otto_agent_config_t;

/** The job being worked on; kept in the store under "job", encoded as
 *  record.h says (fields one by one, with a version). */
typedef struct {
    uint8_t phase;                /**< internal phase */
    uint8_t result;               /**< final status to report */
    uint8_t attempts;             /**< boots into the new image cut short by power loss */
    uint8_t target;               /**< image being downloaded: 0 esp32, 1 stm32 */
    uint8_t esp_state, mcu_state; /**< per image: none, pending, updated, already, failed */
    uint8_t mcu_tries;            /**< MCU errors since the relay last made progress */
    char job_id[65];
    uint32_t exec_version;        /**< execution versionNumber we expect */
    otto_fw_entry_t fw;           /**< the esp32 entry (size 0: none) */
    otto_fw_entry_t mcu;          /**< the stm32 entry (size 0: none) */
    char from_version[32];
    char etag[72];
    char reason[24];              /**< machine-readable reason code */
    char detail[80];              /**< for a person */
    uint32_t resumes;             /**< downloads continued after a cut or drop */
    uint32_t refetched;           /**< bytes downloaded more than once */
    uint32_t download_ms;         /**< time spent downloading, over all sessions */
    uint32_t relay_ms;            /**< time spent relaying to the MCU */
    uint32_t relay_mark;          /**< how far the relay was at its last error */
} otto_agent_job_t;

typedef struct {
    otto_agent_config_t cfg;
    otto_agent_job_t job;
    char running_version[32];
    char mcu_version[32];         /**< what the MCU runs ("" unknown) */
    otto_trust_t trust;           /**< the signing keys this device trusts (from the store) */
    const otto_part_t *mcufw;     /**< staging partition, NULL if none */
    /* download in progress (RAM only; rebuilt from flash on resume) */
    otto_ota_t ota;
    otto_stage_t stage;
    otto_relay_t relay;
    bool relay_open;
    bool relay_ended;             /**< the relay's last slice ended it: relay_err says how */
    bool relay_fresh;             /**< reopen the relay from a clean erase */
    bool mcu_held;                /**< put in its bootloader by this job: mcu_run when done */
    uint16_t mcu_pid;             /**< the MCU's part (Get ID) the last relay met, 0: not yet */
    int relay_err;
    /* mcufw in two halves: the MCU image last relayed and verified stays in
     * one (store "mcub") as the base of MCU patches; the next is staged in
     * the other, or across both when it is larger than a half */
    otto_part_t mcu_dst;          /**< where the job's MCU image is staged and relayed from */
    otto_part_t mcu_base;         /**< the base image's bytes (size 0: none held) */
    uint8_t mcu_base_sha256[32];
    otto_md5_t md5;
    otto_sha256_t sha;
    uint32_t written, saved, from, next_report;
    uint32_t started_ms;          /**< this download session's start */
    bool http_busy, http_head_seen, connected, waiting_next;
    /* delta updates: the running image's SHA-256 (read at init, with
     * cfg.delta), and whether this download decodes a patch */
    uint8_t running_sha256[32];
    bool has_running_sha256;
    bool delta_on;                /**< decoding a patch */
    uint8_t delta_failed;         /**< per target (1 << T_*), a patch failed this boot: full images */
    bool delta_write_err;         /**< the decoder's error came from writing the slot */
    uint32_t delta_got;           /**< patch bytes received (its offset, with a Range) */
    bool install_wait;            /**< the server says our job installs later ("install": "WAIT" in
                                       the execution; RAM only: every execution message says it again) */
    /* retries */
    uint32_t retry_at, backoff;
    bool retry_armed;
    uint32_t next_asked_ms;
    uint32_t reply_due;           /**< an update we sent is unanswered until then */
    bool reply_wait;
    /* scratch */
    otto_json_tok_t tok[OTTO_JOBDOC_TOKENS + 32];
    char out[OTTO_CONFIG_AGENT_MSG_MAX];
    char topic[160];
    int last_err;                 /**< last error, for the port's logs */
} otto_agent_t;

/** Topic filters the port subscribes to (NULL-terminated), written into buf. */
int otto_agent_topics(const char *thing, char buf[][160], unsigned max);

/** After every boot, once the app has started (and confirmed or rolled
 *  back). running_version: from the running image's descriptor. */
int otto_agent_init(otto_agent_t *a, const otto_agent_config_t *cfg, const char *running_version);

void otto_agent_connected(otto_agent_t *a);
void otto_agent_disconnected(otto_agent_t *a);
void otto_agent_message(otto_agent_t *a, const char *topic, const void *payload, size_t len);

/** HTTP response headers: status, Content-Length (or 0), the first byte of
 *  a 206's Content-Range, and the ETag ("" when none). */
void otto_agent_http_head(otto_agent_t *a, int status, uint32_t length, uint32_t range_start,
                          const char *etag);
void otto_agent_http_data(otto_agent_t *a, const void *data, size_t len);
/** The transfer ended: err OTTO_OK when the server finished the body. */
void otto_agent_http_end(otto_agent_t *a, int err);

/** Call every ~100 ms: retries and timeouts; during the MCU relay, a slice
 *  of it (unless cfg.mcu_worker). */
void otto_agent_tick(otto_agent_t *a);

/** With cfg.mcu_worker: true when a slice of the relay is due, and the slice
 *  itself (mcu_slice_ms). relay_work touches only the UART, the flash, the
 *  store and the relay's state, so it may run on another thread as long as
 *  nothing else calls into this agent meanwhile; the next otto_agent_tick
 *  reports progress and acts on how it ended. */
bool otto_agent_relay_due(const otto_agent_t *a);
void otto_agent_relay_work(otto_agent_t *a);

/** True while a job is being worked on (for simulators and logs). */
bool otto_agent_busy(const otto_agent_t *a);
/** Bytes of the image being downloaded or relayed so far, and its size. */
void otto_agent_progress(const otto_agent_t *a, uint32_t *done, uint32_t *total);
/** Human name of the agent's phase. */
const char *otto_agent_phase(const otto_agent_t *a);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_AGENT_H */
