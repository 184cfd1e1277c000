/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A job's rollout and abort arithmetic, in AWS IoT Jobs' terms and limits
 * (jobExecutionsRolloutConfig, abortConfig): parsing with each limit named
 * when a value is out of it, the release rate a job is at, and whether its
 * results trip an abort criterion. Pure: no store, no clock, no locks.
 */
#ifndef SRV_ROLLOUT_H
#define SRV_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"

#define SRV_ROLLOUT_MAX_PER_MIN 1000 /* AWS's limit, and otto's */
#define SRV_ABORT_CRITERIA_MAX 4     /* one per failure type */

typedef struct {
    bool on;              /* executions are released at a rate, not all at once */
    int max_per_min;      /* maximumPerMinute, 1-1000 (1000 when only exponentialRate is given) */
    int base_per_min;     /* exponentialRate.baseRatePerMinute, 0: a constant rate */
    double factor;        /* incrementFactor, 1.1-5.0 */
    int64_t step_notified, step_succeeded; /* rateIncreaseCriteria: one of them */
} srv_rollout_t;

typedef struct {
    int type;             /* SRV_FAILED, SRV_REJECTED, SRV_TIMED_OUT, or -1 for ALL */
    double pct;           /* thresholdPercentage, 0-100 */
    int64_t min_executed; /* minNumberOfExecutedThings, >= 1 */
} srv_abort_crit_t;

typedef struct {
    srv_abort_crit_t c[SRV_ABORT_CRITERIA_MAX];
    int n;
} srv_abort_t;

/* jobExecutionsRetryConfig: retries per failure type, at most 10 in all. */
typedef struct {
    int failed, timed_out; /* retries allowed for each (ALL: the same number for both, shared) */
    bool all;
} srv_retry_t;

/* An AWS cron expression, cron(Minutes Hours Day-of-month Month Day-of-week
 * Year), in UTC: *, ?, lists, ranges, steps, month and day names (1 = SUN). */
typedef struct {
    uint64_t min;
    uint32_t hour, dom;
    uint16_t mon;
    uint8_t dow;              /* bit 1..7: SUN..SAT */
    uint8_t year[(2199 - 1970) / 8 + 1];
} srv_cron_t;

#define SRV_WINDOWS_MAX 8
typedef struct {
    struct {
        srv_cron_t start;
        int minutes;          /* durationInMinutes, 1-1430 */
    } w[SRV_WINDOWS_MAX];
    int n;
    int64_t start, end;       /* startTime, endTime (UTC seconds), 0: none */
    int end_behavior;         /* SRV_END_*: what endTime does */
} srv_sched_t;

enum { SRV_END_STOP_ROLLOUT = 1, SRV_END_CANCEL, SRV_END_FORCE_CANCEL };

/** cfg: the jobExecutionsRolloutConfig object, or NULL (r->on false).
 *  OTTO_E_INVAL with the field and its limit in msg. */
int srv_rollout_parse(const cJSON *cfg, srv_rollout_t *r, char *msg, size_t cap);
/** Executions a minute the job may release now, given how many it has
 *  released (notified) and how many of them succeeded. */
double srv_rollout_rate(const srv_rollout_t *r, int64_t notified, int64_t succeeded);

/** cfg: the abortConfig object, or NULL (no criteria). */
int srv_abort_parse(const cJSON *cfg, srv_abort_t *a, char *msg, size_t cap);
/** The first criterion (in list order) the counts trip, or -1; why (cap
 *  bytes) says which, with the figures, as the job records it. */
int srv_abort_check(const srv_abort_t *a, const int64_t counts[SRV_STATUS_COUNT], char *why, size_t cap);

/** cfg: the jobExecutionsRetryConfig object, or NULL (no retries). */
int srv_retry_parse(const cJSON *cfg, srv_retry_t *r, char *msg, size_t cap);
/** May an execution that just ended with status (SRV_FAILED or
 *  SRV_TIMED_OUT; never SRV_REJECTED) be tried again, after the retries
 *  already made for each type (the first attempt is not a retry)? */
bool srv_retry_allowed(const srv_retry_t *r, int status, int used_failed, int used_timed_out);

/** Parse one cron expression; OTTO_E_INVAL with what is wrong in msg. */
int srv_cron_parse(const char *expr, srv_cron_t *c, char *msg, size_t cap);
/** Does the minute holding t (UTC) match? */
bool srv_cron_match(const srv_cron_t *c, int64_t t);
/** cfg: schedulingConfig, or NULL (no schedule): startTime and endTime
 *  ("YYYY-MM-DDTHH:MM", UTC), endBehavior, maintenanceWindows. */
int srv_sched_parse(const cJSON *cfg, srv_sched_t *s, char *msg, size_t cap);
/** AWS's limits at job creation (now): startTime 30 minutes to a year
 *  ahead, endTime 30 minutes to 2 years after it. */
int srv_sched_check(const srv_sched_t *s, int64_t now, char *msg, size_t cap);
/** Is a maintenance window open at t? (true when there are none) */
bool srv_sched_open(const srv_sched_t *s, int64_t t);
/** The start of the first window opening after t (a minute's start, UTC),
 *  looking a year ahead; 0 when none does (or there are no windows). */
int64_t srv_sched_next_open(const srv_sched_t *s, int64_t t);

/* otto's rolloutWaves (beyond AWS; hawkBit's deployment groups, Mender's
 * phases): the targets split into waves, each released when the one before
 * reached its success threshold (or on otto job next-wave), an error
 * threshold pausing the job. Targets no wave takes form one more wave. */
#define SRV_WAVES_MAX 16
typedef struct {
    int64_t count;        /* the next `count` of the targets left, or 0 */
    double pct;           /* that percentage of the targets left (at least 1), or 0 */
    char group[SRV_NAME_MAX + 1]; /* the targets left in this group, or "" */
    double success_pct;   /* successThresholdPercentage: SUCCEEDED share of the wave that opens the next, 0-100 */
    double error_pct;     /* errorThresholdPercentage: FAILED/TIMED_OUT/REJECTED share that pauses the job; < 0: none */
    bool pause;           /* successAction PAUSE: at its threshold the job waits for otto job resume */
} srv_wave_t;

typedef struct {
    srv_wave_t w[SRV_WAVES_MAX + 1]; /* + the wave of the targets left over */
    int n;
} srv_waves_t;

/** cfg: the rolloutWaves object, or NULL (n = 0: no waves). */
int srv_waves_parse(const cJSON *cfg, srv_waves_t *w, char *msg, size_t cap);
/** How many of `left` targets a count or percentage wave takes. */
int64_t srv_wave_take(const srv_wave_t *w, int64_t left);

/* What a wave's results say, once it is released. */
enum { SRV_GATE_WAIT, SRV_GATE_NEXT, SRV_GATE_PAUSE, SRV_GATE_ERROR, SRV_GATE_SHORT };
/** Wave number k (1-based) of size things, counts by each thing's latest
 *  execution: WAIT (running), NEXT (success threshold), PAUSE (threshold,
 *  successAction PAUSE), ERROR (error threshold), SHORT (all ended below
 *  the success threshold); why (cap bytes) says so in words for the job. */
int srv_wave_gate(const srv_wave_t *w, int k, int64_t size, const int64_t counts[SRV_STATUS_COUNT], char *why,
                  size_t cap);

/* installConfig (otto's, beyond AWS): devices download and check at once
 * and install when the server says ("install": "NOW" in the execution):
 * inside one of the windows, or once otto job install said so. */
typedef struct {
    bool deferred;
    srv_sched_t windows;      /* installWindows (n = 0: none, otto job install only) */
} srv_install_t;

/** cfg: the installConfig object, or NULL (installs at once). */
int srv_install_parse(const cJSON *cfg, srv_install_t *in, char *msg, size_t cap);

/* A job's whole configuration: AWS's objects and otto's rolloutWaves and
 * installConfig. */
typedef struct {
    srv_rollout_t ro;
    srv_abort_t ab;
    srv_retry_t rt;
    srv_sched_t sc;
    srv_waves_t wv;
    srv_install_t in;
    bool continuous;      /* targetSelection CONTINUOUS */
} srv_job_config_t;

/** targetSelection CONTINUOUS in cfg (NULL: no)? */
bool srv_continuous(const cJSON *cfg);
/** Every object of cfg (NULL: none), each checked against its limits. */
int srv_job_config_parse(const cJSON *cfg, srv_job_config_t *c, char *msg, size_t cap);
/** Is the job released by the engine (rate, windows, start/end, waves)
 *  rather than all at once at its creation? */
bool srv_job_config_paced(const srv_job_config_t *c);

#endif
