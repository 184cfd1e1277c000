/* SPDX-License-Identifier: Apache-2.0 */
#include "metrics.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Upper bounds in seconds: from a fast SQLite read (0.1 ms) to a stalled
 * disk (2.5 s). */
static const double bounds[SRV_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

static const char *const mq_names[SRV_MQ_TYPES] = {"hello", "status", "get", "start-next", "describe", "update",
                                                   "invalid"};

void srv_metrics_init(srv_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
}

uint64_t srv_metrics_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void srv_metrics_observe(srv_hist_t *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int k = 0;
    while (k < SRV_HIST_BUCKETS && s > bounds[k])
        k++;
    if (k < SRV_HIST_BUCKETS)
        atomic_fetch_add(&h->bucket[k], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_ns, ns);
}

/* The route of a URL: names and ids become {id}, so the series stay few. */
static void route_of(const char *url, char *out, size_t cap)
{
    char part[4][24];
    int n = 0;
    const char *p = url;
    if (!strncmp(url, "/fw/", 4)) {
        snprintf(out, cap, "/fw/{id}");
        return;
    }
    if (strncmp(url, "/api/", 5)) {
        bool known = !strcmp(url, "/healthz") || !strcmp(url, "/metrics");
        snprintf(out, cap, "%s", known ? url : "/console");
        return;
    }
    while (*p == '/' && n < 4) { /* /api/v1/<collection>/<name>/<verb> */
        size_t k = strcspn(p + 1, "/");
        snprintf(part[n++], sizeof part[0], "%.*s", (int)(k < 23 ? k : 23), p + 1);
        p += 1 + k;
    }
    if (n < 3)
        snprintf(out, cap, "/api/v1");
    else if (n == 3)
        snprintf(out, cap, "/api/v1/%s", part[2]);
    else if (!*p)
        snprintf(out, cap, "/api/v1/%s/{id}", part[2]);
    else
        snprintf(out, cap, "/api/v1/%s/{id}%.*s", part[2], (int)strcspn(p, "?"), p);
    if (strlen(out) >= 39)
        snprintf(out, cap, "other");
}

void srv_metrics_http(srv_metrics_t *m, const char *url, unsigned code)
{
    char route[40];
    route_of(url, route, sizeof route);
    pthread_mutex_lock(&m->lock);
    unsigned i = 0;
    while (i < m->nhttp && (m->http[i].code != code || strcmp(m->http[i].route, route)))
        i++;
    if (i == m->nhttp && m->nhttp < SRV_HTTP_SERIES) {
        snprintf(m->http[i].route, sizeof m->http[i].route, "%s", route);
        m->http[i].code = code;
        m->http[i].n = 0;
        m->nhttp++;
    }
    if (i < m->nhttp)
        m->http[i].n++;
    pthread_mutex_unlock(&m->lock);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? atof(v->valuestring) : cJSON_IsNumber(v) ? v->valuedouble : -1;
}

void srv_metrics_final(srv_metrics_t *m, const char *status, const cJSON *d)
{
    static const char *const keys[2][2] = {{"delta_bytes", "size"}, {"stm32_delta_bytes", "stm32_size"}};
    if (strcmp(status, "SUCCEEDED") || !d)
        return;
    for (int k = 0; k < 2; k++) {
        double patch = num(d, keys[k][0]), image = num(d, keys[k][1]);
        if (patch >= 0 && image > patch) {
            atomic_fetch_add(&m->delta_bytes_saved, (unsigned long long)(image - patch));
            atomic_fetch_add(&m->deltas_taken, 1);
        }
    }
}

/* ---- the text format ------------------------------------------------------ */

void srv_text_printf(srv_text_t *t, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !t->oom; tries++) {
        va_start(ap, fmt);
        int n = vsnprintf(t->b ? t->b + t->n : NULL, t->b ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->b && (size_t)n < t->cap - t->n) {
            t->n += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *nb = realloc(t->b, cap);
        if (!nb) {
            t->oom = 1;
            return;
        }
        t->b = nb;
        t->cap = cap;
    }
}

void srv_text_family(srv_text_t *t, const char *name, const char *type, const char *help)
{
    srv_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void srv_text_label(srv_text_t *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            srv_text_printf(t, "\\%c", *v);
        else if (*v == '\n')
            srv_text_printf(t, "\\n");
        else
            srv_text_printf(t, "%c", *v);
    }
}

static void hist(srv_text_t *t, const char *name, const char *label, const char *value, srv_hist_t *h)
{
    unsigned long long cum = 0;
    char sel[64] = "";
    if (label)
        snprintf(sel, sizeof sel, "%s=\"%s\",", label, value);
    for (int k = 0; k < SRV_HIST_BUCKETS; k++) {
        cum += atomic_load(&h->bucket[k]);
        srv_text_printf(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, sel, bounds[k], cum);
    }
    unsigned long long count = atomic_load(&h->count);
    srv_text_printf(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, sel, count);
    if (label) {
        sel[strlen(sel) - 1] = 0;
        srv_text_printf(t, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, sel, (double)atomic_load(&h->sum_ns) / 1e9,
                        name, sel, count);
    } else {
        srv_text_printf(t, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&h->sum_ns) / 1e9, name, count);
    }
}

static void counter(srv_text_t *t, const char *name, const char *help, atomic_ullong *v)
{
    srv_text_family(t, name, "counter", help);
    srv_text_printf(t, "%s %llu\n", name, atomic_load(v));
}

void srv_metrics_write(srv_metrics_t *m, srv_text_t *t)
{
    srv_text_family(t, "otto_mqtt_requests_total", "counter", "MQTT requests handled, by type");
    for (int i = 0; i < SRV_MQ_TYPES; i++)
        srv_text_printf(t, "otto_mqtt_requests_total{type=\"%s\"} %llu\n", mq_names[i],
                        atomic_load(&m->mqtt[i].count));
    srv_text_family(t, "otto_mqtt_request_duration_seconds", "histogram",
                    "Time to handle an MQTT request (store work and replies queued), by type");
    for (int i = 0; i < SRV_MQ_TYPES; i++)
        hist(t, "otto_mqtt_request_duration_seconds", "type", mq_names[i], &m->mqtt[i]);
    srv_text_family(t, "otto_store_statement_duration_seconds", "histogram", "Time each SQL statement ran");
    hist(t, "otto_store_statement_duration_seconds", NULL, NULL, &m->store);
    counter(t, "otto_job_notifications_total", "Job notifications (notify, notify-next) published",
            &m->notifications);
    counter(t, "otto_download_bytes_total", "Firmware and patch bytes answered on /fw/", &m->download_bytes);
    counter(t, "otto_deltas_served_total", "Delta patch downloads answered (200 or 206)", &m->deltas_served);
    counter(t, "otto_deltas_taken_total", "Images devices made from a patch (executions SUCCEEDED with one)",
            &m->deltas_taken);
    counter(t, "otto_delta_bytes_saved_total", "Image bytes not downloaded thanks to patches, as devices report",
            &m->delta_bytes_saved);
    srv_text_family(t, "otto_http_requests_total", "counter", "HTTP requests answered, by route and status code");
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->nhttp; i++)
        srv_text_printf(t, "otto_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n", m->http[i].route,
                        m->http[i].code, (unsigned long long)m->http[i].n);
    pthread_mutex_unlock(&m->lock);
}
