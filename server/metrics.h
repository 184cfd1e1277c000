/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's Prometheus metrics, as this worker sees them: counters and
 * latency histograms kept in memory (atomics on the hot paths; one small
 * lock for the labelled HTTP table), written in the text exposition format
 * (version 0.0.4) by srv_metrics_write. What is fleet-wide (executions by
 * status and reason, devices online) is read from the store at scrape time
 * by the caller (http_api.c), once per scrape, so several workers scraped
 * on their own report the same fleet. Times are seconds, sizes bytes.
 */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* MQTT requests by type (the job API's operations, otto's hello and status). */
enum { SRV_MQ_HELLO, SRV_MQ_STATUS, SRV_MQ_GET, SRV_MQ_START_NEXT, SRV_MQ_DESCRIBE, SRV_MQ_UPDATE,
       SRV_MQ_INVALID, SRV_MQ_TYPES };

#define SRV_HIST_BUCKETS 14
#define SRV_HTTP_SERIES 128 /* (route, code) pairs kept; later ones are counted as route "other" */

typedef struct {
    atomic_ullong bucket[SRV_HIST_BUCKETS]; /* not cumulative: written cumulative */
    atomic_ullong count;
    atomic_ullong sum_ns;
} srv_hist_t;

typedef struct {
    srv_hist_t mqtt[SRV_MQ_TYPES];
    srv_hist_t store;                 /* each SQL statement's run */
    atomic_ullong notifications;      /* notify / notify-next messages published */
    atomic_ullong download_bytes;     /* firmware and patch bytes answered on /fw/ */
    atomic_ullong deltas_served;      /* patch downloads answered (200 or 206) */
    atomic_ullong delta_bytes_saved;  /* image bytes minus patch bytes, per device that took a patch */
    atomic_ullong deltas_taken;       /* executions that ended SUCCEEDED with a patch */
    pthread_mutex_t lock;             /* for http[] */
    struct {
        char route[40];
        unsigned code;
        uint64_t n;
    } http[SRV_HTTP_SERIES];
    unsigned nhttp;
} srv_metrics_t;

void srv_metrics_init(srv_metrics_t *m);
/** A monotonic clock in nanoseconds, for what is observed. */
uint64_t srv_metrics_ns(void);
void srv_metrics_observe(srv_hist_t *h, uint64_t ns);
/** One HTTP request answered with code; url is reduced to its route
 *  ("/api/v1/jobs/{id}/pause", "/fw/{id}", "/console"). */
void srv_metrics_http(srv_metrics_t *m, const char *url, unsigned code);
/** A final status update's details (the request's statusDetails object):
 *  bytes a patch saved, if it took one. */
struct cJSON;
void srv_metrics_final(srv_metrics_t *m, const char *status, const struct cJSON *details);

/* A growing text buffer for the exposition (malloc'd; NULL text on ENOMEM). */
typedef struct {
    char *b;
    size_t n, cap;
    int oom;
} srv_text_t;
void srv_text_printf(srv_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** "# HELP name help" and "# TYPE name type" lines. */
void srv_text_family(srv_text_t *t, const char *name, const char *type, const char *help);
/** A label value escaped as the format asks (backslash, quote, newline). */
void srv_text_label(srv_text_t *t, const char *v);

/** This worker's counters and histograms, appended to t. */
void srv_metrics_write(srv_metrics_t *m, srv_text_t *t);

#endif
