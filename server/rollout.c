/* SPDX-License-Identifier: Apache-2.0 */
#include "rollout.h"

#include <math.h>
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
