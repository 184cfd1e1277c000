/* SPDX-License-Identifier: Apache-2.0 */
/* Rollout and abort arithmetic (server/rollout.c): AWS's limits, each
 * refusal naming its field; the exponential ramp of AWS's own example;
 * abort criteria in list order over completed executions; waves: their
 * sizes, their gates, the defaults a wave inherits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rollout.h"

static int parse_r(const char *json, srv_rollout_t *r, char *msg)
{
    cJSON *j = cJSON_Parse(json);
    int err = srv_rollout_parse(j, r, msg, 200);
    cJSON_Delete(j);
    return err;
}

static int parse_a(const char *json, srv_abort_t *a, char *msg)
{
    cJSON *j = cJSON_Parse(json);
    int err = srv_abort_parse(j, a, msg, 200);
    cJSON_Delete(j);
    return err;
}

static void rollout_limits(void **state)
{
    (void)state;
    srv_rollout_t r;
    char msg[200];
    assert_int_equal(srv_rollout_parse(NULL, &r, msg, sizeof msg), OTTO_OK);
    assert_false(r.on);
    assert_int_equal(parse_r("{\"maximumPerMinute\":100}", &r, msg), OTTO_OK);
    assert_true(r.on);
    assert_true(srv_rollout_rate(&r, 5000, 0) == 100.0);
    static const struct { const char *json, *names; } bad[] = {
        {"{\"maximumPerMinute\":0}", "maximumPerMinute"},
        {"{\"maximumPerMinute\":1001}", "1 to 1000"},
        {"{\"maximumPerMinute\":2.5}", "maximumPerMinute"},
        {"{}", "maximumPerMinute or exponentialRate"},
        {"{\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":1.55,"
         "\"rateIncreaseCriteria\":{\"numberOfNotifiedThings\":10}}}", "incrementFactor"},
        {"{\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":5.1,"
         "\"rateIncreaseCriteria\":{\"numberOfNotifiedThings\":10}}}", "1.1 to 5.0"},
        {"{\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":2,"
         "\"rateIncreaseCriteria\":{}}}", "numberOfNotifiedThings or numberOfSucceededThings"},
        {"{\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":2,\"rateIncreaseCriteria\":"
         "{\"numberOfNotifiedThings\":10,\"numberOfSucceededThings\":10}}}", "numberOfNotifiedThings or"},
        {"{\"maximumPerMinute\":5,\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":2,"
         "\"rateIncreaseCriteria\":{\"numberOfNotifiedThings\":10}}}", "at most maximumPerMinute"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        msg[0] = 0;
        assert_int_equal(parse_r(bad[i].json, &r, msg), OTTO_E_INVAL);
        if (!strstr(msg, bad[i].names))
            fail_msg("case %zu: '%s' does not name '%s'", i, msg, bad[i].names);
    }
}

static void exponential_ramp(void **state)
{
    (void)state;
    srv_rollout_t r;
    char msg[200];
    /* AWS's example: base 50, factor 2, every 1,000 notified; capped at 400. */
    assert_int_equal(parse_r("{\"maximumPerMinute\":400,\"exponentialRate\":{\"baseRatePerMinute\":50,"
                             "\"incrementFactor\":2.0,\"rateIncreaseCriteria\":{\"numberOfNotifiedThings\":1000}}}",
                             &r, msg), OTTO_OK);
    assert_true(srv_rollout_rate(&r, 0, 0) == 50);
    assert_true(srv_rollout_rate(&r, 999, 0) == 50);
    assert_true(srv_rollout_rate(&r, 1000, 0) == 100);
    assert_true(srv_rollout_rate(&r, 2000, 0) == 200);
    assert_true(srv_rollout_rate(&r, 2999, 0) == 200);
    assert_true(srv_rollout_rate(&r, 3000, 0) == 400);
    assert_true(srv_rollout_rate(&r, 100000, 0) == 400); /* the cap */
    /* by succeeded things, factor 1.5 */
    assert_int_equal(parse_r("{\"exponentialRate\":{\"baseRatePerMinute\":10,\"incrementFactor\":1.5,"
                             "\"rateIncreaseCriteria\":{\"numberOfSucceededThings\":20}}}", &r, msg), OTTO_OK);
    assert_int_equal(r.max_per_min, 1000); /* AWS's default */
    assert_true(srv_rollout_rate(&r, 500, 19) == 10);
    assert_true(srv_rollout_rate(&r, 500, 40) == 22); /* 10 x 1.5 x 1.5 = 22.5: whole things */
}

static void abort_criteria(void **state)
{
    (void)state;
    srv_abort_t a;
    char msg[200], why[200];
    int64_t c[SRV_STATUS_COUNT] = {0};
    assert_int_equal(parse_a("{\"criteriaList\":[{\"failureType\":\"FAILED\",\"action\":\"CANCEL\","
                             "\"thresholdPercentage\":20,\"minNumberOfExecutedThings\":100},"
                             "{\"failureType\":\"TIMED_OUT\",\"action\":\"CANCEL\",\"thresholdPercentage\":50,"
                             "\"minNumberOfExecutedThings\":200}]}", &a, msg), OTTO_OK);
    assert_int_equal(a.n, 2);
    c[SRV_FAILED] = 30;
    c[SRV_SUCCEEDED] = 69;
    c[SRV_QUEUED] = 5000; /* not executed: never counts */
    assert_int_equal(srv_abort_check(&a, c, why, sizeof why), -1); /* 99 executed: not yet */
    c[SRV_SUCCEEDED] = 70;
    assert_int_equal(srv_abort_check(&a, c, why, sizeof why), 0);
    assert_non_null(strstr(why, "FAILED 30.00% of 100 executed"));
    c[SRV_FAILED] = 19; /* 19 of 89 ... */
    c[SRV_SUCCEEDED] = 81;
    assert_int_equal(srv_abort_check(&a, c, why, sizeof why), -1);
    c[SRV_TIMED_OUT] = 110; /* 110 of 210: over 50 % */
    assert_int_equal(srv_abort_check(&a, c, why, sizeof why), 1);
    /* ALL counts every failure kind */
    assert_int_equal(parse_a("{\"criteriaList\":[{\"failureType\":\"ALL\",\"action\":\"CANCEL\","
                             "\"thresholdPercentage\":10,\"minNumberOfExecutedThings\":50}]}", &a, msg), OTTO_OK);
    memset(c, 0, sizeof c);
    c[SRV_SUCCEEDED] = 45;
    c[SRV_REJECTED] = 2;
    c[SRV_TIMED_OUT] = 3;
    assert_int_equal(srv_abort_check(&a, c, why, sizeof why), 0); /* 5 of 50 = 10 % */
    static const char *const bad[] = {
        "{\"criteriaList\":[]}",
        "{\"criteriaList\":[{\"failureType\":\"SLOW\",\"action\":\"CANCEL\",\"thresholdPercentage\":1,"
        "\"minNumberOfExecutedThings\":1}]}",
        "{\"criteriaList\":[{\"failureType\":\"FAILED\",\"action\":\"PAUSE\",\"thresholdPercentage\":1,"
        "\"minNumberOfExecutedThings\":1}]}",
        "{\"criteriaList\":[{\"failureType\":\"FAILED\",\"action\":\"CANCEL\",\"thresholdPercentage\":10.999,"
        "\"minNumberOfExecutedThings\":1}]}",
        "{\"criteriaList\":[{\"failureType\":\"FAILED\",\"action\":\"CANCEL\",\"thresholdPercentage\":101,"
        "\"minNumberOfExecutedThings\":1}]}",
        "{\"criteriaList\":[{\"failureType\":\"FAILED\",\"action\":\"CANCEL\",\"thresholdPercentage\":1,"
        "\"minNumberOfExecutedThings\":0}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        msg[0] = 0;
        assert_int_equal(parse_a(bad[i], &a, msg), OTTO_E_INVAL);
        assert_non_null(strstr(msg, "abortConfig"));
    }
}

static void retries(void **state)
{
    (void)state;
    srv_retry_t r;
    char msg[200];
    cJSON *j = cJSON_Parse("{\"criteriaList\":[{\"failureType\":\"FAILED\",\"numberOfRetries\":2},"
                           "{\"failureType\":\"TIMED_OUT\",\"numberOfRetries\":1}]}");
    assert_int_equal(srv_retry_parse(j, &r, msg, sizeof msg), OTTO_OK);
    cJSON_Delete(j);
    assert_true(srv_retry_allowed(&r, SRV_FAILED, 0, 0));
    assert_true(srv_retry_allowed(&r, SRV_FAILED, 1, 1));
    assert_false(srv_retry_allowed(&r, SRV_FAILED, 2, 0)); /* its 2 are used */
    assert_true(srv_retry_allowed(&r, SRV_TIMED_OUT, 2, 0));
    assert_false(srv_retry_allowed(&r, SRV_TIMED_OUT, 0, 1));
    assert_false(srv_retry_allowed(&r, SRV_REJECTED, 0, 0)); /* never */
    j = cJSON_Parse("{\"criteriaList\":[{\"failureType\":\"ALL\",\"numberOfRetries\":10}]}");
    assert_int_equal(srv_retry_parse(j, &r, msg, sizeof msg), OTTO_OK);
    cJSON_Delete(j);
    assert_true(srv_retry_allowed(&r, SRV_TIMED_OUT, 5, 4));
    assert_false(srv_retry_allowed(&r, SRV_FAILED, 5, 5)); /* 10 in all */
    static const char *const bad[] = {
        "{\"criteriaList\":[]}",
        "{\"criteriaList\":[{\"failureType\":\"REJECTED\",\"numberOfRetries\":1}]}",
        "{\"criteriaList\":[{\"failureType\":\"FAILED\",\"numberOfRetries\":11}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = cJSON_Parse(bad[i]);
        msg[0] = 0;
        assert_int_equal(srv_retry_parse(j, &r, msg, sizeof msg), OTTO_E_INVAL);
        assert_non_null(strstr(msg, "jobExecutionsRetryConfig"));
        cJSON_Delete(j);
    }
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi;
    return (int64_t)timegm(&tm);
}

static void cron_and_windows(void **state)
{
    (void)state;
    srv_cron_t c;
    char msg[200];
    /* Saturdays at 02:00 UTC (2026-12-05 is a Saturday) */
    assert_int_equal(srv_cron_parse("cron(0 2 ? * SAT *)", &c, msg, sizeof msg), OTTO_OK);
    assert_true(srv_cron_match(&c, utc(2026, 12, 5, 2, 0)));
    assert_true(srv_cron_match(&c, utc(2026, 12, 5, 2, 0) + 59));
    assert_false(srv_cron_match(&c, utc(2026, 12, 5, 2, 1)));
    assert_false(srv_cron_match(&c, utc(2026, 12, 6, 2, 0)));
    /* every 15 minutes, 9 to 17 on weekdays (2-6 = MON-FRI), in 2026 only */
    assert_int_equal(srv_cron_parse("0/15 9-17 ? * MON-FRI 2026", &c, msg, sizeof msg), OTTO_OK);
    assert_true(srv_cron_match(&c, utc(2026, 12, 7, 9, 45)));
    assert_false(srv_cron_match(&c, utc(2026, 12, 7, 9, 46)));
    assert_false(srv_cron_match(&c, utc(2026, 12, 7, 18, 0)));
    assert_false(srv_cron_match(&c, utc(2027, 12, 7, 9, 45)));
    /* the first of each month, lists and names */
    assert_int_equal(srv_cron_parse("cron(30 0,12 1 JAN,JUL ? *)", &c, msg, sizeof msg), OTTO_OK);
    assert_true(srv_cron_match(&c, utc(2027, 7, 1, 12, 30)));
    assert_false(srv_cron_match(&c, utc(2027, 8, 1, 12, 30)));
    static const char *const bad[] = {"cron(0 2 * * SAT *)", "cron(60 2 ? * * *)", "cron(0 2 ? * FUNDAY *)",
                                      "0 2 ? *", "cron(0 2 ? 13 * *)", "cron(0 2 ? * 0/0 *)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (srv_cron_parse(bad[i], &c, msg, sizeof msg) != OTTO_E_INVAL)
            fail_msg("'%s' was taken", bad[i]);
    /* a 90-minute window from 02:00 UTC on Saturdays */
    srv_sched_t s;
    cJSON *j = cJSON_Parse("{\"maintenanceWindows\":[{\"startTime\":\"cron(0 2 ? * SAT *)\","
                           "\"durationInMinutes\":90}]}");
    assert_int_equal(srv_sched_parse(j, &s, msg, sizeof msg), OTTO_OK);
    cJSON_Delete(j);
    assert_false(srv_sched_open(&s, utc(2026, 12, 5, 1, 59)));
    assert_true(srv_sched_open(&s, utc(2026, 12, 5, 2, 0)));
    assert_true(srv_sched_open(&s, utc(2026, 12, 5, 3, 29) + 59));
    assert_false(srv_sched_open(&s, utc(2026, 12, 5, 3, 30)));
    /* a job's own start and end, AWS's limits checked at creation */
    j = cJSON_Parse("{\"startTime\":\"2026-12-07T14:00\",\"endTime\":\"2026-12-07T15:00\",\"endBehavior\":\"CANCEL\"}");
    assert_int_equal(srv_sched_parse(j, &s, msg, sizeof msg), OTTO_OK);
    cJSON_Delete(j);
    assert_true(s.start == utc(2026, 12, 7, 14, 0) && s.end == utc(2026, 12, 7, 15, 0));
    assert_int_equal(s.end_behavior, SRV_END_CANCEL);
    assert_int_equal(srv_sched_check(&s, utc(2026, 12, 7, 13, 0), msg, sizeof msg), OTTO_OK);
    assert_int_equal(srv_sched_check(&s, utc(2026, 12, 7, 13, 40), msg, sizeof msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "30 minutes to a year"));
    j = cJSON_Parse("{\"startTime\":\"2026-12-07T14:00\",\"endTime\":\"2026-12-07T14:20\"}");
    assert_int_equal(srv_sched_parse(j, &s, msg, sizeof msg), OTTO_OK);
    cJSON_Delete(j);
    assert_int_equal(s.end_behavior, SRV_END_STOP_ROLLOUT); /* the default */
    assert_int_equal(srv_sched_check(&s, utc(2026, 12, 7, 13, 0), msg, sizeof msg), OTTO_E_INVAL);
    j = cJSON_Parse("{\"startTime\":\"tomorrow\"}");
    assert_int_equal(srv_sched_parse(j, &s, msg, sizeof msg), OTTO_E_INVAL);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"maintenanceWindows\":[{\"startTime\":\"cron(0 2 ? * SAT *)\",\"durationInMinutes\":1431}]}");
    assert_int_equal(srv_sched_parse(j, &s, msg, sizeof msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "1 to 1430"));
    cJSON_Delete(j);
}

static int parse_w(const char *json, srv_waves_t *w, char *msg)
{
    cJSON *j = cJSON_Parse(json);
    int err = srv_waves_parse(j, w, msg, 200);
    cJSON_Delete(j);
    return err;
}

static void waves(void **state)
{
    (void)state;
    srv_waves_t w;
    char msg[200], why[300];
    int64_t c[SRV_STATUS_COUNT] = {0};
    assert_int_equal(srv_waves_parse(NULL, &w, msg, sizeof msg), OTTO_OK);
    assert_int_equal(w.n, 0);
    /* refusals name the field */
    assert_int_equal(parse_w("{\"waves\":[]}", &w, msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "1 to 16 waves"));
    assert_int_equal(parse_w("{\"waves\":[{\"count\":1,\"group\":\"a\"}]}", &w, msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "one of count, percentage or group"));
    assert_int_equal(parse_w("{\"waves\":[{\"count\":0}]}", &w, msg), OTTO_E_INVAL);
    assert_int_equal(parse_w("{\"waves\":[{\"percentage\":100.001}]}", &w, msg), OTTO_E_INVAL);
    assert_int_equal(parse_w("{\"waves\":[{\"count\":1}],\"successAction\":\"GO\"}", &w, msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "NEXT_WAVE or PAUSE"));
    assert_int_equal(parse_w("{\"waves\":[{\"count\":1}],\"errorThresholdPercentage\":0}", &w, msg), OTTO_E_INVAL);
    /* defaults: 100 % success, no error gate, NEXT_WAVE; a wave's own win; the leftover wave inherits */
    assert_int_equal(parse_w("{\"waves\":[{\"count\":10},{\"percentage\":25,\"successAction\":\"PAUSE\","
                             "\"successThresholdPercentage\":90},{\"group\":\"eu\"}],\"errorThresholdPercentage\":20}",
                             &w, msg),
                     OTTO_OK);
    assert_int_equal(w.n, 3);
    assert_true(w.w[0].success_pct == 100 && w.w[0].error_pct == 20 && !w.w[0].pause);
    assert_true(w.w[1].success_pct == 90 && w.w[1].pause);
    assert_string_equal(w.w[2].group, "eu");
    assert_true(w.w[3].success_pct == 100 && w.w[3].error_pct == 20 && !w.w[3].pause);
    /* sizes: a count of those left, a percentage of those left rounded down, never 0 of some */
    assert_int_equal(srv_wave_take(&w.w[0], 1000), 10);
    assert_int_equal(srv_wave_take(&w.w[0], 4), 4);
    assert_int_equal(srv_wave_take(&w.w[1], 990), 247);
    assert_int_equal(srv_wave_take(&w.w[1], 3), 1);
    assert_int_equal(srv_wave_take(&w.w[1], 0), 0);
    /* gates over a wave of 10 */
    c[SRV_IN_PROGRESS] = 10;
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_WAIT);
    c[SRV_IN_PROGRESS] = 8, c[SRV_FAILED] = 2; /* 20 %: the error threshold */
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_ERROR);
    assert_string_equal(why, "paused: wave 1 failed 2 of 10 (20.00%, error threshold 20.00%)");
    c[SRV_IN_PROGRESS] = 9, c[SRV_FAILED] = 0, c[SRV_TIMED_OUT] = 1; /* silence counts as failure */
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_WAIT);
    c[SRV_IN_PROGRESS] = 0, c[SRV_TIMED_OUT] = 0, c[SRV_SUCCEEDED] = 10;
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_NEXT);
    c[SRV_SUCCEEDED] = 9, c[SRV_QUEUED] = 1; /* 90 %, successAction PAUSE */
    assert_int_equal(srv_wave_gate(&w.w[1], 2, 10, c, why, sizeof why), SRV_GATE_PAUSE);
    assert_non_null(strstr(why, "otto job resume"));
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_WAIT);
    c[SRV_QUEUED] = 0, c[SRV_REJECTED] = 1; /* all ended at 90 %, below 100 %, under the error threshold */
    assert_int_equal(srv_wave_gate(&w.w[0], 1, 10, c, why, sizeof why), SRV_GATE_SHORT);
    assert_non_null(strstr(why, "next-wave"));
    memset(c, 0, sizeof c); /* an empty wave (a group with none left) opens the next */
    assert_int_equal(srv_wave_gate(&w.w[2], 3, 0, c, why, sizeof why), SRV_GATE_NEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rollout_limits),
        cmocka_unit_test(exponential_ramp),
        cmocka_unit_test(abort_criteria),
        cmocka_unit_test(retries),
        cmocka_unit_test(cron_and_windows),
        cmocka_unit_test(waves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
