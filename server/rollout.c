/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* strptime, timegm */
#include "rollout.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#include "otto/err.h"

static int bad(char *msg, size_t cap, const char *what)
{
    snprintf(msg, cap, "%s", what);
    return OTTO_E_INVAL;
}

/* A JSON number that is an integer in [lo, hi]. */
static bool int_in(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

int srv_rollout_parse(const cJSON *cfg, srv_rollout_t *r, char *msg, size_t cap)
{
    int64_t v;
    memset(r, 0, sizeof *r);
    if (!cfg)
        return OTTO_OK;
    if (!cJSON_IsObject(cfg))
        return bad(msg, cap, "jobExecutionsRolloutConfig: an object");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(cfg, "maximumPerMinute");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cfg, "exponentialRate");
    if (!max && !exp)
        return bad(msg, cap, "jobExecutionsRolloutConfig: maximumPerMinute or exponentialRate");
    r->on = true;
    r->max_per_min = SRV_ROLLOUT_MAX_PER_MIN;
    if (max) {
        if (!int_in(max, 1, SRV_ROLLOUT_MAX_PER_MIN, &v))
            return bad(msg, cap, "jobExecutionsRolloutConfig.maximumPerMinute: an integer, 1 to 1000");
        r->max_per_min = (int)v;
    }
    if (!exp)
        return OTTO_OK;
    if (!cJSON_IsObject(exp))
        return bad(msg, cap, "exponentialRate: an object");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(exp, "baseRatePerMinute");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(exp, "incrementFactor");
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(exp, "rateIncreaseCriteria");
    if (!int_in(base, 1, SRV_ROLLOUT_MAX_PER_MIN, &v))
        return bad(msg, cap, "exponentialRate.baseRatePerMinute: an integer, 1 to 1000");
    r->base_per_min = (int)v;
    /* 1.1 to 5.0 with at most one decimal digit, as AWS */
    if (!cJSON_IsNumber(f) || f->valuedouble < 1.1 - 1e-9 || f->valuedouble > 5.0 + 1e-9 ||
        fabs(f->valuedouble * 10 - round(f->valuedouble * 10)) > 1e-6)
        return bad(msg, cap, "exponentialRate.incrementFactor: 1.1 to 5.0, one decimal digit at most");
    r->factor = f->valuedouble;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(crit, "numberOfNotifiedThings");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(crit, "numberOfSucceededThings");
    if (!cJSON_IsObject(crit) || !n == !s)
        return bad(msg, cap, "exponentialRate.rateIncreaseCriteria: numberOfNotifiedThings or numberOfSucceededThings");
    if (!int_in(n ? n : s, 1, 1e9, n ? &r->step_notified : &r->step_succeeded))
        return bad(msg, cap, "rateIncreaseCriteria: a count of at least 1");
    if (r->base_per_min > r->max_per_min)
        return bad(msg, cap, "exponentialRate.baseRatePerMinute: at most maximumPerMinute");
    return OTTO_OK;
}

double srv_rollout_rate(const srv_rollout_t *r, int64_t notified, int64_t succeeded)
{
    if (!r->on)
        return 0;
    if (!r->base_per_min)
        return r->max_per_min;
    /* Each step needs the criterion's count again, cumulatively: with
     * 1,000 notified things a step, the rate rises at 1,000, 2,000, ... */
    int64_t k = r->step_notified ? notified / r->step_notified : succeeded / r->step_succeeded;
    double rate = r->base_per_min;
    for (int64_t i = 0; i < k && rate < r->max_per_min; i++)
        rate *= r->factor;
    return rate < r->max_per_min ? floor(rate) : r->max_per_min;
}

int srv_abort_parse(const cJSON *cfg, srv_abort_t *a, char *msg, size_t cap)
{
    static const struct { const char *name; int type; } types[] = {
        {"FAILED", SRV_FAILED}, {"REJECTED", SRV_REJECTED}, {"TIMED_OUT", SRV_TIMED_OUT}, {"ALL", -1}};
    memset(a, 0, sizeof *a);
    if (!cfg)
        return OTTO_OK;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "criteriaList"), *c;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsObject(cfg) || !cJSON_IsArray(list) || n < 1 || n > SRV_ABORT_CRITERIA_MAX)
        return bad(msg, cap, "abortConfig.criteriaList: 1 to 4 criteria");
    cJSON_ArrayForEach(c, list) {
        srv_abort_crit_t *k = &a->c[a->n];
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "failureType");
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "action");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "thresholdPercentage");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "minNumberOfExecutedThings");
        k->type = -2;
        for (size_t i = 0; cJSON_IsString(t) && i < sizeof types / sizeof *types; i++)
            if (!strcmp(t->valuestring, types[i].name))
                k->type = types[i].type;
        if (k->type == -2)
            return bad(msg, cap, "abortConfig: failureType is FAILED, REJECTED, TIMED_OUT or ALL");
        if (!cJSON_IsString(act) || strcmp(act->valuestring, "CANCEL"))
            return bad(msg, cap, "abortConfig: action is CANCEL");
        if (!cJSON_IsNumber(p) || p->valuedouble < 0 || p->valuedouble > 100 ||
            fabs(p->valuedouble * 100 - round(p->valuedouble * 100)) > 1e-6)
            return bad(msg, cap, "abortConfig: thresholdPercentage, 0 to 100 with two decimals at most");
        k->pct = p->valuedouble;
        if (!int_in(m, 1, 1e9, &k->min_executed))
            return bad(msg, cap, "abortConfig: minNumberOfExecutedThings, at least 1");
        a->n++;
    }
    return OTTO_OK;
}

int srv_abort_check(const srv_abort_t *a, const int64_t counts[SRV_STATUS_COUNT], char *why, size_t cap)
{
    /* "Executed" is completed: what ended, one way or another. */
    int64_t failed = counts[SRV_FAILED] + counts[SRV_REJECTED] + counts[SRV_TIMED_OUT];
    int64_t done = counts[SRV_SUCCEEDED] + failed;
    for (int i = 0; i < a->n; i++) {
        const srv_abort_crit_t *k = &a->c[i];
        int64_t bad_n = k->type < 0 ? failed : counts[k->type];
        if (done < k->min_executed || done == 0)
            continue;
        double pct = 100.0 * (double)bad_n / (double)done;
        if (pct >= k->pct) {
            snprintf(why, cap, "aborted: %s %.2f%% of %lld executed (threshold %.2f%% after %lld)",
                     k->type < 0 ? "ALL" : srv_status_name(k->type), pct, (long long)done, k->pct,
                     (long long)k->min_executed);
            return i;
        }
    }
    return -1;
}

int srv_retry_parse(const cJSON *cfg, srv_retry_t *r, char *msg, size_t cap)
{
    int64_t n;
    memset(r, 0, sizeof *r);
    if (!cfg)
        return OTTO_OK;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "criteriaList"), *c;
    int count = cJSON_GetArraySize(list);
    if (!cJSON_IsObject(cfg) || !cJSON_IsArray(list) || count < 1 || count > 2)
        return bad(msg, cap, "jobExecutionsRetryConfig.criteriaList: 1 or 2 criteria");
    cJSON_ArrayForEach(c, list) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "failureType");
        if (!int_in(cJSON_GetObjectItemCaseSensitive(c, "numberOfRetries"), 0, 10, &n))
            return bad(msg, cap, "jobExecutionsRetryConfig: numberOfRetries, 0 to 10");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "FAILED"))
            r->failed = (int)n;
        else if (cJSON_IsString(t) && !strcmp(t->valuestring, "TIMED_OUT"))
            r->timed_out = (int)n;
        else if (cJSON_IsString(t) && !strcmp(t->valuestring, "ALL"))
            r->failed = r->timed_out = (int)n, r->all = true;
        else
            return bad(msg, cap, "jobExecutionsRetryConfig: failureType is FAILED, TIMED_OUT or ALL (REJECTED is never retried)");
    }
    return OTTO_OK;
}

bool srv_retry_allowed(const srv_retry_t *r, int status, int used_failed, int used_timed_out)
{
    int used = used_failed + used_timed_out;
    if (used >= 10) /* AWS: 10 retries a device at most, both types together */
        return false;
    if (r->all)
        return (status == SRV_FAILED || status == SRV_TIMED_OUT) && used < r->failed;
    if (status == SRV_FAILED)
        return used_failed < r->failed;
    if (status == SRV_TIMED_OUT)
        return used_timed_out < r->timed_out;
    return false;
}

/* ---- cron and maintenance windows ----------------------------------------- */

/* A value: a number or, for months and days, a name. -1 when neither. */
static int cron_value(const char **p, const char *const *names, int base)
{
    if (isdigit((unsigned char)**p)) {
        char *end;
        long v = strtol(*p, &end, 10);
        *p = end;
        return v > 100000 ? -1 : (int)v;
    }
    for (int i = 0; names && names[i]; i++)
        if (!strncasecmp(*p, names[i], 3)) {
            *p += 3;
            return base + i;
        }
    return -1;
}

/* One field into bits [lo, hi] of out (a byte array). */
static int cron_field(const char *f, int lo, int hi, const char *const *names, int base, bool any_ok, uint8_t *out,
                      bool *star)
{
    *star = false;
    if (!strcmp(f, "?")) {
        if (!any_ok)
            return -1;
        *star = true;
        f = "*";
    }
    for (const char *p = f; *p;) {
        int a, b, step = 1;
        if (*p == '*') {
            a = lo, b = hi, p++;
            *star = *star || (p[0] == 0 || p[0] == ',');
        } else {
            if ((a = cron_value(&p, names, base)) < 0)
                return -1;
            b = a;
            if (*p == '-') {
                p++;
                if ((b = cron_value(&p, names, base)) < 0)
                    return -1;
            }
        }
        if (*p == '/') {
            p++;
            if ((step = cron_value(&p, NULL, 0)) <= 0)
                return -1;
            if (b == a)
                b = hi; /* 0/15: from 0 every 15 */
        }
        if (a < lo || b > hi || a > b)
            return -1;
        for (int v = a; v <= b; v += step)
            out[(v - lo) / 8] |= (uint8_t)(1u << ((v - lo) % 8));
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return 0;
}

int srv_cron_parse(const char *expr, srv_cron_t *c, char *msg, size_t cap)
{
    static const char *const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                         "NOV", "DEC", NULL};
    static const char *const days[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};
    char buf[260], *f[7], *save = NULL;
    int n = 0;
    bool star_dom, star_dow, star;
    memset(c, 0, sizeof *c);
    size_t len = strlen(expr);
    if (len < 1 || len > 256)
        return bad(msg, cap, "maintenanceWindows.startTime: a cron expression of 1 to 256 characters");
    if (!strncmp(expr, "cron(", 5) && expr[len - 1] == ')')
        snprintf(buf, sizeof buf, "%.*s", (int)(len - 6), expr + 5);
    else
        snprintf(buf, sizeof buf, "%s", expr);
    for (char *t = strtok_r(buf, " ", &save); t && n < 7; t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    uint8_t m[8] = {0}, h[4] = {0}, dom[4] = {0}, mon[2] = {0}, dow[1] = {0};
    if (n != 6 || cron_field(f[0], 0, 59, NULL, 0, false, m, &star) ||
        cron_field(f[1], 0, 23, NULL, 0, false, h, &star) ||
        cron_field(f[2], 1, 31, NULL, 0, true, dom, &star_dom) ||
        cron_field(f[3], 1, 12, months, 1, false, mon, &star) ||
        cron_field(f[4], 1, 7, days, 1, true, dow, &star_dow) ||
        cron_field(f[5], 1970, 2199, NULL, 0, false, c->year, &star))
        return bad(msg, cap, "maintenanceWindows.startTime: cron(Minutes Hours Day-of-month Month Day-of-week Year),"
                             " in UTC, as AWS's (e.g. cron(0 2 ? * SAT *))");
    (void)star_dom, (void)star_dow;
    if ((strcmp(f[2], "?") == 0) == (strcmp(f[4], "?") == 0)) /* AWS: a value in one, ? in the other */
        return bad(msg, cap, "maintenanceWindows.startTime: one of day-of-month and day-of-week is ?, the other not");
    for (int i = 0; i < 8; i++) /* bit v of the field: bit v - lo of the bytes */
        c->min |= (uint64_t)m[i] << (8 * i);
    for (int i = 0; i < 4; i++)
        c->hour |= (uint32_t)h[i] << (8 * i), c->dom |= (uint32_t)dom[i] << (8 * i);
    c->mon = (uint16_t)(mon[0] | mon[1] << 8);
    c->dow = (uint8_t)(dow[0] << 1); /* bit d for day d (1 = SUN) */
    return OTTO_OK;
}

bool srv_cron_match(const srv_cron_t *c, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm))
        return false;
    int y = tm.tm_year + 1900 - 1970;
    return (c->min >> tm.tm_min & 1) && (c->hour >> tm.tm_hour & 1) && (c->dom >> (tm.tm_mday - 1) & 1) &&
           (c->mon >> tm.tm_mon & 1) && (c->dow >> (tm.tm_wday + 1) & 1) && y >= 0 && y <= 2199 - 1970 &&
           (c->year[y / 8] >> (y % 8) & 1);
}

/* A list of windows ({startTime: cron, durationInMinutes}) into s. */
static int windows_parse(const cJSON *list, const char *field, srv_sched_t *s, char *msg, size_t cap)
{
    const cJSON *w;
    int64_t d;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > SRV_WINDOWS_MAX) {
        snprintf(msg, cap, "%s: 1 to 8 windows", field);
        return OTTO_E_INVAL;
    }
    cJSON_ArrayForEach(w, list) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(w, "startTime");
        if (!cJSON_IsString(st)) {
            snprintf(msg, cap, "%s.startTime: a cron expression", field);
            return OTTO_E_INVAL;
        }
        int err = srv_cron_parse(st->valuestring, &s->w[s->n].start, msg, cap);
        if (err)
            return err;
        if (!int_in(cJSON_GetObjectItemCaseSensitive(w, "durationInMinutes"), 1, 1430, &d)) {
            snprintf(msg, cap, "%s.durationInMinutes: 1 to 1430", field);
            return OTTO_E_INVAL;
        }
        s->w[s->n++].minutes = (int)d;
    }
    return OTTO_OK;
}

int srv_sched_parse(const cJSON *cfg, srv_sched_t *s, char *msg, size_t cap)
{
    memset(s, 0, sizeof *s);
    if (!cfg)
        return OTTO_OK;
    if (!cJSON_IsObject(cfg))
        return bad(msg, cap, "schedulingConfig: an object");
    static const char *const times[] = {"startTime", "endTime"};
    for (int i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, times[i]);
        struct tm tm = {0};
        const char *end;
        if (!t)
            continue;
        if (!cJSON_IsString(t) || strlen(t->valuestring) > 64 || !(end = strptime(t->valuestring, "%Y-%m-%dT%H:%M", &tm)) ||
            (*end && strcmp(end, "Z") && strcmp(end, ":00") && strcmp(end, ":00Z")))
            return bad(msg, cap, i ? "schedulingConfig.endTime: YYYY-MM-DDTHH:MM (UTC)"
                                   : "schedulingConfig.startTime: YYYY-MM-DDTHH:MM (UTC)");
        *(i ? &s->end : &s->start) = (int64_t)timegm(&tm);
    }
    const cJSON *eb = cJSON_GetObjectItemCaseSensitive(cfg, "endBehavior");
    static const char *const behaviors[] = {"STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"};
    for (int i = 0; cJSON_IsString(eb) && i < 3; i++)
        if (!strcmp(eb->valuestring, behaviors[i]))
            s->end_behavior = SRV_END_STOP_ROLLOUT + i;
    if (eb && !s->end_behavior)
        return bad(msg, cap, "schedulingConfig.endBehavior: STOP_ROLLOUT, CANCEL or FORCE_CANCEL");
    if (s->end && !s->end_behavior)
        s->end_behavior = SRV_END_STOP_ROLLOUT;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "maintenanceWindows");
    if (!list)
        return s->start || s->end ? OTTO_OK : bad(msg, cap, "schedulingConfig: startTime, endTime or maintenanceWindows");
    return windows_parse(list, "schedulingConfig.maintenanceWindows", s, msg, cap);
}

int64_t srv_sched_next_open(const srv_sched_t *s, int64_t t)
{
    int64_t minute = t - ((t % 60) + 60) % 60 + 60;
    for (int64_t k = 0; s->n && k < 366 * 24 * 60; k++, minute += 60)
        for (int i = 0; i < s->n; i++)
            if (srv_cron_match(&s->w[i].start, minute))
                return minute;
    return 0;
}

int srv_install_parse(const cJSON *cfg, srv_install_t *in, char *msg, size_t cap)
{
    memset(in, 0, sizeof *in);
    if (!cfg)
        return OTTO_OK;
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(cfg, "deferred");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "installWindows");
    if (!cJSON_IsObject(cfg) || !cJSON_IsBool(def))
        return bad(msg, cap, "installConfig: {\"deferred\": true|false, \"installWindows\"?: [...]}");
    in->deferred = cJSON_IsTrue(def);
    if (list && !in->deferred)
        return bad(msg, cap, "installConfig.installWindows: only with deferred true");
    return list ? windows_parse(list, "installConfig.installWindows", &in->windows, msg, cap) : OTTO_OK;
}

int srv_sched_check(const srv_sched_t *s, int64_t now, char *msg, size_t cap)
{
    if (s->start && (s->start < now + 30 * 60 || s->start > now + 366 * 86400))
        return bad(msg, cap, "schedulingConfig.startTime: 30 minutes to a year from now");
    int64_t from = s->start ? s->start : now;
    if (s->end && (s->end < from + 30 * 60 || s->end > from + 2 * 366 * 86400))
        return bad(msg, cap, "schedulingConfig.endTime: 30 minutes to 2 years after the start");
    return OTTO_OK;
}

bool srv_sched_open(const srv_sched_t *s, int64_t t)
{
    if (!s->n)
        return true;
    int64_t minute = t - ((t % 60) + 60) % 60;
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < s->w[i].minutes; k++) /* a window that started k minutes ago */
            if (srv_cron_match(&s->w[i].start, minute - 60 * (int64_t)k))
                return true;
    return false;
}

/* A percentage with two decimals at most, in [lo, 100]. */
static bool pct_in(const cJSON *v, double lo, double *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > 100 ||
        fabs(v->valuedouble * 100 - round(v->valuedouble * 100)) > 1e-6)
        return false;
    *out = v->valuedouble;
    return true;
}

/* successThresholdPercentage, errorThresholdPercentage and successAction
 * of o (the whole config, or one wave) over what w has already. */
static int wave_conditions(const cJSON *o, srv_wave_t *w, char *msg, size_t cap)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "successThresholdPercentage");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "errorThresholdPercentage");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "successAction");
    if (s && !pct_in(s, 0, &w->success_pct))
        return bad(msg, cap, "rolloutWaves: successThresholdPercentage, 0 to 100 with two decimals at most");
    if (e && !pct_in(e, 0.01, &w->error_pct))
        return bad(msg, cap, "rolloutWaves: errorThresholdPercentage, 0.01 to 100 with two decimals at most");
    if (a && (!cJSON_IsString(a) || (strcmp(a->valuestring, "NEXT_WAVE") && strcmp(a->valuestring, "PAUSE"))))
        return bad(msg, cap, "rolloutWaves: successAction is NEXT_WAVE or PAUSE");
    if (a)
        w->pause = !strcmp(a->valuestring, "PAUSE");
    return OTTO_OK;
}

int srv_waves_parse(const cJSON *cfg, srv_waves_t *w, char *msg, size_t cap)
{
    memset(w, 0, sizeof *w);
    if (!cfg)
        return OTTO_OK;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, "waves"), *o;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsObject(cfg) || !cJSON_IsArray(list) || n < 1 || n > SRV_WAVES_MAX)
        return bad(msg, cap, "rolloutWaves.waves: 1 to 16 waves");
    /* The defaults every wave starts from: all must succeed, no error gate. */
    srv_wave_t dflt = {.success_pct = 100, .error_pct = -1};
    int err = wave_conditions(cfg, &dflt, msg, cap);
    if (err)
        return err;
    cJSON_ArrayForEach(o, list) {
        srv_wave_t *k = &w->w[w->n];
        *k = dflt;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "count");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "percentage");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "group");
        if (!cJSON_IsObject(o) || !!c + !!p + !!g != 1)
            return bad(msg, cap, "rolloutWaves: each wave is one of count, percentage or group");
        if (c && !int_in(c, 1, 1e9, &k->count))
            return bad(msg, cap, "rolloutWaves: a wave's count is an integer of at least 1");
        if (p && (!pct_in(p, 0.01, &k->pct)))
            return bad(msg, cap, "rolloutWaves: a wave's percentage is 0.01 to 100, two decimals at most");
        if (g && (!cJSON_IsString(g) || !g->valuestring[0] || strlen(g->valuestring) > SRV_NAME_MAX))
            return bad(msg, cap, "rolloutWaves: a wave's group is a group name");
        if (g)
            snprintf(k->group, sizeof k->group, "%s", g->valuestring);
        if ((err = wave_conditions(o, k, msg, cap)))
            return err;
        w->n++;
    }
    w->w[w->n] = dflt; /* the wave of the targets no wave took */
    return OTTO_OK;
}

int64_t srv_wave_take(const srv_wave_t *w, int64_t left)
{
    int64_t n = w->count;
    if (w->pct > 0) { /* of the targets left, rounded down, never none of some */
        n = (int64_t)floor((double)left * w->pct / 100.0 + 1e-9);
        if (n < 1)
            n = 1;
    }
    return n < left ? n : left;
}

int srv_wave_gate(const srv_wave_t *w, int k, int64_t size, const int64_t counts[SRV_STATUS_COUNT], char *why,
                  size_t cap)
{
    int64_t ok = counts[SRV_SUCCEEDED];
    int64_t failed = counts[SRV_FAILED] + counts[SRV_TIMED_OUT] + counts[SRV_REJECTED];
    int64_t open = counts[SRV_QUEUED] + counts[SRV_IN_PROGRESS];
    double ok_pct = size ? 100.0 * (double)ok / (double)size : 100.0;
    double bad_pct = size ? 100.0 * (double)failed / (double)size : 0.0;
    why[0] = 0;
    if (w->error_pct >= 0 && failed && bad_pct >= w->error_pct - 1e-9) {
        snprintf(why, cap, "paused: wave %d failed %lld of %lld (%.2f%%, error threshold %.2f%%)", k,
                 (long long)failed, (long long)size, bad_pct, w->error_pct);
        return SRV_GATE_ERROR;
    }
    if (ok_pct >= w->success_pct - 1e-9) {
        if (w->pause)
            snprintf(why, cap, "paused: wave %d reached its success threshold (%lld of %lld succeeded, %.2f%%);"
                     " successAction PAUSE: otto job resume starts the next wave", k, (long long)ok,
                     (long long)size, w->success_pct);
        return w->pause ? SRV_GATE_PAUSE : SRV_GATE_NEXT;
    }
    if (!open) {
        snprintf(why, cap, "paused: wave %d ended with %lld of %lld succeeded (%.2f%%), below its success"
                 " threshold %.2f%%: otto job next-wave goes on anyway", k, (long long)ok, (long long)size, ok_pct,
                 w->success_pct);
        return SRV_GATE_SHORT;
    }
    return SRV_GATE_WAIT;
}

int srv_job_config_parse(const cJSON *cfg, srv_job_config_t *c, char *msg, size_t cap)
{
    int err;
    memset(c, 0, sizeof *c);
    if ((err = srv_rollout_parse(cJSON_GetObjectItemCaseSensitive(cfg, "jobExecutionsRolloutConfig"), &c->ro, msg,
                                 cap)) ||
        (err = srv_abort_parse(cJSON_GetObjectItemCaseSensitive(cfg, "abortConfig"), &c->ab, msg, cap)) ||
        (err = srv_retry_parse(cJSON_GetObjectItemCaseSensitive(cfg, "jobExecutionsRetryConfig"), &c->rt, msg, cap)) ||
        (err = srv_sched_parse(cJSON_GetObjectItemCaseSensitive(cfg, "schedulingConfig"), &c->sc, msg, cap)) ||
        (err = srv_waves_parse(cJSON_GetObjectItemCaseSensitive(cfg, "rolloutWaves"), &c->wv, msg, cap)) ||
        (err = srv_install_parse(cJSON_GetObjectItemCaseSensitive(cfg, "installConfig"), &c->in, msg, cap)))
        return err;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(cfg, "targetSelection");
    if (ts && (!cJSON_IsString(ts) || (strcmp(ts->valuestring, "CONTINUOUS") && strcmp(ts->valuestring, "SNAPSHOT"))))
        return bad(msg, cap, "targetSelection: CONTINUOUS or SNAPSHOT");
    c->continuous = srv_continuous(cfg);
    return OTTO_OK;
}

bool srv_continuous(const cJSON *cfg)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(cfg, "targetSelection");
    return cJSON_IsString(ts) && !strcmp(ts->valuestring, "CONTINUOUS");
}

bool srv_job_config_paced(const srv_job_config_t *c)
{
    return c->ro.on || c->sc.n > 0 || c->sc.start || c->sc.end || c->wv.n > 0;
}
