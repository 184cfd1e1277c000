/* SPDX-License-Identifier: Apache-2.0 */
/* The job engine and the AWS IoT Jobs MQTT API, against a real store: an
 * in-memory SQLite, or the PostgreSQL named by OTTO_TEST_DB (a fresh schema
 * per test; tests/with-postgres.sh starts one), with a publisher that
 * records every message: the whole execution lifecycle, every rejected
 * reply, queued jobs of an offline device and supersede, cancel, timers,
 * and hello; and, on PostgreSQL, what several workers share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "engine.h"
#include "log.h"
#include "mqtt_api.h"
#include "store.h"

#define MAX_MSGS 512

typedef struct {
    char *topic[MAX_MSGS];
    char *payload[MAX_MSGS];
    int n;
} rec_t;

typedef struct {
    srv_store_t *st;
    srv_engine_t e;
    rec_t rec;
} env_t;

static int record(void *ctx, const char *topic, const char *payload, size_t len)
{
    rec_t *r = ctx;
    if (r->n == MAX_MSGS)
        return -1;
    r->topic[r->n] = strdup(topic);
    r->payload[r->n] = strndup(payload, len);
    r->n++;
    return 0;
}

static void rec_clear(rec_t *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->topic[i]);
        free(r->payload[i]);
    }
    r->n = 0;
}

static void add_fw(env_t *v, const char *id, const char *product, const char *type,
                   const char *version)
{
    srv_fw_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.id, sizeof f.id, "%s", id);
    snprintf(f.sha256, sizeof f.sha256, "%064d", 7);
    snprintf(f.md5, sizeof f.md5, "%032d", 5);
    f.size = 1234;
    snprintf(f.ota_type, sizeof f.ota_type, "%s", type);
    snprintf(f.product, sizeof f.product, "%s", product);
    snprintf(f.version, sizeof f.version, "%s", version);
    strcpy(f.extra, "{\"note\":\"kept\"}");
    f.created_at = time(NULL);
    assert_int_equal(srv_fw_put(v->st, &f), OTTO_OK);
}

/* The store under test: in-memory SQLite, or OTTO_TEST_DB's PostgreSQL
 * emptied first (each test starts from no schema, as a new deployment). */
static const char *test_db(void)
{
    const char *url = getenv("OTTO_TEST_DB");
    if (!url || !*url)
        return ":memory:";
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    return url;
}

static int setup(void **state)
{
    env_t *v = calloc(1, sizeof *v);
    assert_int_equal(srv_store_open(test_db(), &v->st), OTTO_OK);
    srv_engine_init(&v->e, v->st, "http://127.0.0.1:9");
    v->e.changed = srv_mqtt_api_changed;
    v->e.publish = record;
    v->e.pub_ctx = &v->rec;
    v->e.minute_s = 1;
    add_fw(v, "fw-a", "lamp", "esp32", "1.1.0");
    add_fw(v, "fw-b", "lamp", "stm32", "2.0.0");
    add_fw(v, "fw-c", "lamp", "esp32", "1.2.0");
    add_fw(v, "fw-x", "other", "esp32", "9.0.0");
    const char *groups[] = {"demo"};
    assert_int_equal(srv_device_upsert(v->st, "24:0a:c4:00:00:01", "lamp", groups, 1, 1), 0);
    assert_int_equal(srv_device_upsert(v->st, "24:0a:c4:00:00:02", "lamp", groups, 1, 1), 0);
    *state = v;
    return 0;
}

static int teardown(void **state)
{
    env_t *v = *state;
    rec_clear(&v->rec);
    srv_engine_fini(&v->e);
    srv_store_close(v->st);
    free(v);
    return 0;
}

#define T1 "24:0a:c4:00:00:01"
#define T2 "24:0a:c4:00:00:02"

static void create(env_t *v, const char *id, const char *fw, const char *group, const char *dev)
{
    const char *fws[] = {fw}, *groups[] = {group}, *devs[] = {dev};
    srv_job_spec_t spec = {.job_id = id, .fw_ids = fws, .nfw = 1, .allow_unsigned = true};
    if (group) {
        spec.groups = groups;
        spec.ngroups = 1;
    }
    if (dev) {
        spec.devices = devs;
        spec.ndevices = 1;
    }
    char out[SRV_JOBID_MAX + 1], msg[256];
    size_t n;
    int err = srv_engine_create_job(&v->e, &spec, out, &n, msg, sizeof msg);
    if (err)
        fail_msg("create %s: %s", id, msg);
    assert_string_equal(out, id);
}

/* The last message published on exactly this topic, parsed (or NULL). */
static cJSON *last_on(env_t *v, const char *topic)
{
    for (int i = v->rec.n - 1; i >= 0; i--)
        if (!strcmp(v->rec.topic[i], topic))
            return cJSON_Parse(v->rec.payload[i]);
    return NULL;
}

static int count_on(env_t *v, const char *topic)
{
    int n = 0;
    for (int i = 0; i < v->rec.n; i++)
        n += !strcmp(v->rec.topic[i], topic);
    return n;
}

/* Send a request; return the reply and whether it was accepted. */
static cJSON *req(env_t *v, const char *thing, const char *leaf, const char *payload, bool *ok)
{
    char topic[256], acc[300], rej[300];
    snprintf(topic, sizeof topic, "$aws/things/%s/jobs/%s", thing, leaf);
    snprintf(acc, sizeof acc, "%s/accepted", topic);
    snprintf(rej, sizeof rej, "%s/rejected", topic);
    rec_clear(&v->rec);
    srv_mqtt_api_handle(&v->e, topic, payload, strlen(payload));
    int a = count_on(v, acc), r = count_on(v, rej);
    assert_int_equal(a + r, 1); /* exactly one reply, never silence */
    *ok = a == 1;
    return last_on(v, a ? acc : rej);
}

static const char *sget(const cJSON *o, const char *path)
{
    /* "a.b.c" into nested objects */
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static double nget(const cJSON *o, const char *path)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    return cJSON_IsNumber(cur) ? cur->valuedouble : -1;
}

static void expect_reject(env_t *v, const char *thing, const char *leaf, const char *payload,
                          const char *code)
{
    bool ok;
    cJSON *r = req(v, thing, leaf, payload, &ok);
    if (ok || !sget(r, "code") || strcmp(sget(r, "code"), code))
        fail_msg("%s %s: expected %s, got %s %s", leaf, payload, code, ok ? "accepted" : "rejected",
                 sget(r, "code") ? sget(r, "code") : "");
    assert_non_null(sget(r, "message"));
    assert_true(nget(r, "timestamp") > 0);
    cJSON_Delete(r);
}

static void lifecycle(void **state)
{
    env_t *v = *state;
    bool ok;
    create(v, "j1", "fw-a", "demo", NULL);
    /* Creation told both devices: notify and notify-next with the document. */
    cJSON *n = last_on(v, "$aws/things/" T1 "/jobs/notify-next");
    assert_non_null(n);
    assert_string_equal(sget(n, "execution.jobId"), "j1");
    assert_string_equal(sget(n, "execution.status"), "QUEUED");
    cJSON *fw0 = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(n, "execution"), "jobDocument"), "firmware"), 0);
    assert_string_equal(sget(fw0, "url"), "http://127.0.0.1:9/fw/fw-a");
    assert_string_equal(sget(fw0, "ota_type"), "esp32");
    assert_string_equal(sget(fw0, "note"), "kept");
    assert_string_equal(sget(n, "execution.jobDocument.product"), "lamp");
    cJSON_Delete(n);
    assert_int_equal(count_on(v, "$aws/things/" T2 "/jobs/notify"), 1);

    /* get: one queued job. */
    cJSON *r = req(v, T1, "get", "{\"clientToken\":\"c0\"}", &ok);
    assert_true(ok);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "queuedJobs")), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "inProgressJobs")), 0);
    assert_string_equal(sget(r, "clientToken"), "c0");
    cJSON_Delete(r);

    /* start-next: IN_PROGRESS, version 2, details stored, token echoed. */
    r = req(v, T1, "start-next", "{\"clientToken\":\"c1\",\"statusDetails\":{\"step\":\"download\"}}", &ok);
    assert_true(ok);
    assert_string_equal(sget(r, "clientToken"), "c1");
    assert_string_equal(sget(r, "execution.status"), "IN_PROGRESS");
    assert_int_equal(nget(r, "execution.versionNumber"), 2);
    assert_string_equal(sget(r, "execution.statusDetails.step"), "download");
    assert_true(nget(r, "execution.startedAt") > 0);
    cJSON_Delete(r);
    /* The next execution did not change identity: no notify-next. */
    assert_int_equal(count_on(v, "$aws/things/" T1 "/jobs/notify-next"), 0);

    /* start-next again: same execution, untouched. */
    r = req(v, T1, "start-next", "{\"statusDetails\":{\"step\":\"ignored\"}}", &ok);
    assert_true(ok);
    assert_int_equal(nget(r, "execution.versionNumber"), 2);
    assert_string_equal(sget(r, "execution.statusDetails.step"), "download");
    cJSON_Delete(r);

    /* Progress, then success with expectedVersion and the state asked for. */
    r = req(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"statusDetails\":{\"bytes\":\"100\"}}", &ok);
    assert_true(ok);
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "executionState"));
    cJSON_Delete(r);
    r = req(v, T1, "j1/update",
            "{\"status\":\"SUCCEEDED\",\"expectedVersion\":3,\"includeJobExecutionState\":true,"
            "\"includeJobDocument\":true,\"statusDetails\":{\"version\":\"1.1.0\"},\"clientToken\":\"c2\"}",
            &ok);
    assert_true(ok);
    assert_string_equal(sget(r, "executionState.status"), "SUCCEEDED");
    assert_int_equal(nget(r, "executionState.versionNumber"), 4);
    assert_string_equal(sget(r, "jobDocument.product"), "lamp");
    assert_string_equal(sget(r, "clientToken"), "c2");
    cJSON_Delete(r);
    /* The queue is empty now: notify-next without an execution. */
    n = last_on(v, "$aws/things/" T1 "/jobs/notify-next");
    assert_non_null(n);
    assert_null(cJSON_GetObjectItemCaseSensitive(n, "execution"));
    cJSON_Delete(n);

    /* The job completes when the last device ends. */
    srv_job_t job;
    assert_int_equal(srv_job_get(v->st, "j1", &job), 0);
    assert_int_equal(job.status, SRV_JOB_IN_PROGRESS);
    srv_job_clear(&job);
    r = req(v, T2, "j1/update", "{\"status\":\"FAILED\",\"statusDetails\":{\"reason\":\"md5\"}}", &ok);
    assert_true(ok); /* QUEUED -> FAILED straight away is accepted */
    cJSON_Delete(r);
    assert_int_equal(srv_job_get(v->st, "j1", &job), 0);
    assert_int_equal(job.status, SRV_JOB_COMPLETED);
    srv_job_clear(&job);
}

static void rejects(void **state)
{
    env_t *v = *state;
    bool ok;
    create(v, "j1", "fw-a", NULL, T1);

    expect_reject(v, T1, "bogus", "{}", "InvalidTopic");
    expect_reject(v, T1, "j1/delete", "{}", "InvalidTopic");
    expect_reject(v, T1, "j1", "{}", "InvalidTopic");
    expect_reject(v, T1, "get", "not json", "InvalidJson");
    expect_reject(v, T1, "get", "[1,2]", "InvalidJson");
    expect_reject(v, T1, "j1/update", "{\"status\":", "InvalidJson");
    expect_reject(v, T1, "j1/update", "{}", "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"QUEUED\"}", "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"CANCELED\"}", "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":7}", "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"statusDetails\":{\"n\":1}}",
                  "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"statusDetails\":{\"bad key\":\"x\"}}",
                  "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"statusDetails\":[1]}",
                  "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":\"1\"}",
                  "InvalidRequest");
    expect_reject(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"stepTimeoutInMinutes\":0}",
                  "InvalidRequest");
    expect_reject(v, T1, "start-next", "{\"stepTimeoutInMinutes\":10081}", "InvalidRequest");
    expect_reject(v, T1, "j1/get", "{\"includeJobDocument\":\"yes\"}", "InvalidRequest");
    expect_reject(v, T1, "$next/update", "{\"status\":\"IN_PROGRESS\"}", "InvalidRequest");
    expect_reject(v, T1, "get", "{\"clientToken\":7}", "InvalidRequest");
    char big[200];
    snprintf(big, sizeof big, "{\"clientToken\":\"%065d\"}", 1);
    expect_reject(v, T1, "get", big, "InvalidRequest");
    expect_reject(v, T1, "nojob/get", "{}", "ResourceNotFound");
    expect_reject(v, T1, "nojob/update", "{\"status\":\"IN_PROGRESS\"}", "ResourceNotFound");
    expect_reject(v, T2, "j1/get", "{}", "ResourceNotFound"); /* not a target */
    expect_reject(v, T1, "j1/get", "{\"executionNumber\":2}", "ResourceNotFound");

    /* VersionMismatch carries the current state, and the token. */
    cJSON *r = req(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":5,"
                                       "\"clientToken\":\"tok\"}", &ok);
    assert_false(ok);
    assert_string_equal(sget(r, "code"), "VersionMismatch");
    assert_string_equal(sget(r, "clientToken"), "tok");
    assert_string_equal(sget(r, "executionState.status"), "QUEUED");
    assert_int_equal(nget(r, "executionState.versionNumber"), 1);
    cJSON_Delete(r);

    /* Terminal: no way out, and describe says TerminalStateReached. */
    r = req(v, T1, "j1/update", "{\"status\":\"REJECTED\",\"statusDetails\":{\"reason\":\"downgrade\"}}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    r = req(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\"}", &ok);
    assert_false(ok);
    assert_string_equal(sget(r, "code"), "InvalidStateTransition");
    assert_string_equal(sget(r, "executionState.status"), "REJECTED");
    assert_string_equal(sget(r, "executionState.statusDetails.reason"), "downgrade");
    cJSON_Delete(r);
    expect_reject(v, T1, "j1/update", "{\"status\":\"SUCCEEDED\"}", "InvalidStateTransition");
    expect_reject(v, T1, "j1/get", "{}", "TerminalStateReached");

    /* Our own publications coming back are not requests. */
    rec_clear(&v->rec);
    const char *own[] = {"$aws/things/" T1 "/jobs/notify", "$aws/things/" T1 "/jobs/notify-next",
                         "$aws/things/" T1 "/jobs/get/accepted",
                         "$aws/things/" T1 "/jobs/j1/update/rejected"};
    for (size_t i = 0; i < 4; i++)
        srv_mqtt_api_handle(&v->e, own[i], "{}", 2);
    assert_int_equal(v->rec.n, 0);
    /* An empty payload is {}. */
    r = req(v, T1, "get", "", &ok);
    assert_true(ok);
    cJSON_Delete(r);
}

static void next_and_describe(void **state)
{
    env_t *v = *state;
    bool ok;
    /* Nothing pending: accepted without an execution. */
    cJSON *r = req(v, T1, "$next/get", "{}", &ok);
    assert_true(ok);
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "execution"));
    cJSON_Delete(r);
    r = req(v, T1, "start-next", "{}", &ok);
    assert_true(ok);
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "execution"));
    cJSON_Delete(r);

    create(v, "j1", "fw-a", NULL, T1);
    r = req(v, T1, "$next/get", "{\"clientToken\":\"n1\"}", &ok);
    assert_true(ok);
    assert_string_equal(sget(r, "execution.jobId"), "j1");
    assert_string_equal(sget(r, "execution.status"), "QUEUED"); /* describe changes nothing */
    assert_string_equal(sget(r, "execution.jobDocument.product"), "lamp");
    assert_string_equal(sget(r, "clientToken"), "n1");
    cJSON_Delete(r);
    /* Mirrored on notify-next for clients that only subscribe there. */
    cJSON *n = last_on(v, "$aws/things/" T1 "/jobs/notify-next");
    assert_non_null(n);
    assert_string_equal(sget(n, "execution.jobId"), "j1");
    cJSON_Delete(n);

    r = req(v, T1, "j1/get", "{\"includeJobDocument\":false,\"executionNumber\":1}", &ok);
    assert_true(ok);
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "execution"),
                                                 "jobDocument"));
    assert_int_equal(nget(r, "execution.executionNumber"), 1);
    cJSON_Delete(r);
}

static void offline_queue_and_supersede(void **state)
{
    env_t *v = *state;
    bool ok;
    /* Three jobs while T1 is offline: esp32 1.1.0, stm32 2.0.0, esp32 1.2.0. */
    create(v, "ja", "fw-a", NULL, T1);
    create(v, "jb", "fw-b", NULL, T1);
    create(v, "jc", "fw-c", NULL, T1);
    srv_exec_t ex;
    srv_job_t job;
    assert_int_equal(srv_job_get(v->st, "ja", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    /* The older esp32 job ended CANCELED with a reason, and so did its job. */
    assert_int_equal(ex.status, SRV_CANCELED);
    assert_non_null(strstr(ex.details, "superseded"));
    assert_non_null(strstr(ex.details, "jc"));
    assert_int_equal(job.status, SRV_JOB_COMPLETED);
    srv_job_clear(&job);

    /* The device comes back: jb then jc, in creation order. */
    cJSON *r = req(v, T1, "get", "{}", &ok);
    cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "queuedJobs");
    assert_int_equal(cJSON_GetArraySize(q), 2);
    assert_string_equal(sget(cJSON_GetArrayItem(q, 0), "jobId"), "jb");
    assert_string_equal(sget(cJSON_GetArrayItem(q, 1), "jobId"), "jc");
    cJSON_Delete(r);
    r = req(v, T1, "start-next", "{}", &ok);
    assert_string_equal(sget(r, "execution.jobId"), "jb");
    cJSON_Delete(r);
    /* An IN_PROGRESS execution is never superseded. */
    create(v, "jd", "fw-b", NULL, T1);
    r = req(v, T1, "get", "{}", &ok);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "inProgressJobs")), 1);
    assert_string_equal(sget(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "inProgressJobs"), 0),
                             "jobId"), "jb");
    cJSON_Delete(r);
    /* Finishing jb makes jc next: notify-next names it. */
    r = req(v, T1, "jb/update", "{\"status\":\"SUCCEEDED\"}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    cJSON *n = last_on(v, "$aws/things/" T1 "/jobs/notify-next");
    assert_string_equal(sget(n, "execution.jobId"), "jc");
    cJSON_Delete(n);

    /* Another product's job supersedes nothing. */
    create(v, "jx", "fw-x", NULL, T1);
    r = req(v, T1, "get", "{}", &ok);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "queuedJobs")), 3);
    cJSON_Delete(r);
}

static void create_errors(void **state)
{
    env_t *v = *state;
    char out[SRV_JOBID_MAX + 1], msg[256];
    size_t n;
    const char *fw_ab[] = {"fw-a", "fw-b"}, *fw_ac[] = {"fw-a", "fw-c"}, *fw_ax[] = {"fw-a", "fw-x"};
    const char *nofw[] = {"fw-none"}, *groups[] = {"demo"}, *nogroup[] = {"empty"};
    const char *nodev[] = {"24:0a:c4:ff:ff:ff"};
    srv_job_spec_t s = {.fw_ids = fw_ab, .nfw = 2, .groups = groups, .ngroups = 1};
    /* Unsigned firmware is refused unless the operator lets it through. */
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_DENIED);
    assert_non_null(strstr(msg, "not signed"));
    s.allow_unsigned = true;
    /* esp32 + stm32 in one job is fine, and the id is generated. */
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "job-", 4);
    s.job_id = out;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_EXISTS);
    s.job_id = "bad id!";
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_INVAL);
    s.job_id = NULL;
    s.fw_ids = fw_ac;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_INVAL);
    assert_non_null(strstr(msg, "esp32"));
    s.fw_ids = fw_ax;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_INVAL);
    s.fw_ids = nofw;
    s.nfw = 1;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_NOTFOUND);
    s.fw_ids = fw_ab;
    s.groups = nogroup;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_NOTFOUND);
    assert_non_null(strstr(msg, "empty"));
    s.ngroups = 0;
    s.devices = nodev;
    s.ndevices = 1;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_NOTFOUND);
    s.ndevices = 0;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), OTTO_E_INVAL);
}

static void cancel(void **state)
{
    env_t *v = *state;
    bool ok;
    char msg[256];
    create(v, "j1", "fw-a", "demo", NULL);
    cJSON *r = req(v, T1, "start-next", "{}", &ok);
    cJSON_Delete(r);
    rec_clear(&v->rec);
    /* Without force: the queued one ends, the running one may finish. */
    assert_int_equal(srv_engine_cancel_job(&v->e, "j1", false, "bad batch", msg, sizeof msg), 0);
    srv_job_t job;
    srv_exec_t ex;
    assert_int_equal(srv_job_get(v->st, "j1", &job), 0);
    assert_int_equal(job.status, SRV_JOB_CANCELED);
    assert_string_equal(job.reason, "bad batch");
    assert_int_equal(srv_exec_get(v->st, job.seq, T2, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_CANCELED);
    assert_non_null(strstr(ex.details, "bad batch"));
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_IN_PROGRESS);
    /* T2 learnt its queue is empty. */
    cJSON *n = last_on(v, "$aws/things/" T2 "/jobs/notify-next");
    assert_non_null(n);
    assert_null(cJSON_GetObjectItemCaseSensitive(n, "execution"));
    cJSON_Delete(n);
    /* A second cancel is refused; the running device can still report. */
    assert_int_equal(srv_engine_cancel_job(&v->e, "j1", true, NULL, msg, sizeof msg), OTTO_E_STATE);
    r = req(v, T1, "j1/update", "{\"status\":\"SUCCEEDED\"}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    srv_job_clear(&job);
    assert_int_equal(srv_engine_cancel_job(&v->e, "nope", false, NULL, msg, sizeof msg),
                     OTTO_E_NOTFOUND);

    /* With force: the running one is cancelled too, and told. */
    create(v, "j2", "fw-a", NULL, T1);
    r = req(v, T1, "start-next", "{}", &ok);
    cJSON_Delete(r);
    rec_clear(&v->rec);
    assert_int_equal(srv_engine_cancel_job(&v->e, "j2", true, NULL, msg, sizeof msg), 0);
    assert_int_equal(srv_job_get(v->st, "j2", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_CANCELED);
    srv_job_clear(&job);
    assert_int_equal(count_on(v, "$aws/things/" T1 "/jobs/notify-next"), 1);
    expect_reject(v, T1, "j2/update", "{\"status\":\"SUCCEEDED\"}", "InvalidStateTransition");
}

/* D2: a device's report is never destroyed by the reason the service adds
 * when it ends the execution itself; what does not fit is refused. */
static void details_kept_whole(void **state)
{
    env_t *v = *state;
    bool ok;
    char msg[256], big[4200], payload[4400];
    srv_job_t job;
    srv_exec_t ex;
    create(v, "jd", "fw-a", NULL, T1);
    /* 3 KB of details (the most a device may send) */
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (int k = 0; k < 3; k++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":\"%01000d\"", k ? "," : "", k, 7);
    n += (size_t)snprintf(big + n, sizeof big - n, ",\"k9\":\"%0*d\"}", (int)(3072 - n - 9), 7);
    assert_int_equal(strlen(big), 3072);
    snprintf(payload, sizeof payload, "{\"statusDetails\":%s}", big);
    cJSON *r = req(v, T1, "start-next", payload, &ok);
    assert_true(ok);
    cJSON_Delete(r);
    /* one byte more is refused, not cut */
    snprintf(payload, sizeof payload, "{\"status\":\"IN_PROGRESS\",\"statusDetails\":%.*s,\"x\":\"y\"}}",
             (int)strlen(big) - 1, big);
    expect_reject(v, T1, "jd/update", payload, "InvalidRequest");
    /* a forced cancel with the longest reason: both kept, valid JSON */
    char reason[SRV_REASON_MAX + 1];
    memset(reason, 'r', SRV_REASON_MAX);
    reason[SRV_REASON_MAX] = 0;
    assert_int_equal(srv_engine_cancel_job(&v->e, "jd", true, reason, msg, sizeof msg), 0);
    assert_int_equal(srv_job_get(v->st, "jd", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    cJSON *d = cJSON_Parse(ex.details);
    assert_non_null(d);
    assert_string_equal(sget(d, "reason"), reason);
    assert_non_null(sget(d, "k9"));
    assert_int_equal(strlen(sget(d, "k0")), 1000);
    cJSON_Delete(d);
    srv_job_clear(&job);
}

/* D3: a firmware stays while an execution of a canceled job still downloads it. */
static void firmware_in_use(void **state)
{
    env_t *v = *state;
    bool ok;
    char msg[256], job_id[SRV_JOBID_MAX + 1];
    create(v, "ju", "fw-c", NULL, T1);
    cJSON *r = req(v, T1, "start-next", "{}", &ok);
    cJSON_Delete(r);
    assert_int_equal(srv_fw_used_by(v->st, "fw-c", job_id), 0);
    assert_string_equal(job_id, "ju");
    assert_int_equal(srv_engine_cancel_job(&v->e, "ju", false, NULL, msg, sizeof msg), 0);
    srv_job_t job;
    assert_int_equal(srv_job_get(v->st, "ju", &job), 0);
    assert_int_equal(job.status, SRV_JOB_CANCELED);
    srv_job_clear(&job);
    assert_int_equal(srv_fw_used_by(v->st, "fw-c", job_id), 0);
    assert_string_equal(job_id, "ju"); /* still IN_PROGRESS on T1: in use */
    r = req(v, T1, "ju/update", "{\"status\":\"SUCCEEDED\"}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    assert_int_equal(srv_fw_used_by(v->st, "fw-c", job_id), 0);
    assert_string_equal(job_id, ""); /* done: free to delete */
}

static void timers(void **state)
{
    env_t *v = *state;
    bool ok;
    int64_t now = time(NULL);
    create(v, "j1", "fw-a", "demo", NULL);
    /* Step timer of 2 "minutes" (2 s here) on T1; none on T2. */
    cJSON *r = req(v, T1, "start-next", "{\"stepTimeoutInMinutes\":2}", &ok);
    assert_true(nget(r, "execution.approximateSecondsBeforeTimedOut") >= 1);
    cJSON_Delete(r);
    r = req(v, T2, "start-next", "{}", &ok);
    cJSON_Delete(r);
    srv_engine_tick(&v->e, now + 1);
    srv_job_t job;
    srv_exec_t ex;
    assert_int_equal(srv_job_get(v->st, "j1", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_IN_PROGRESS);
    rec_clear(&v->rec);
    srv_engine_tick(&v->e, now + 5);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_TIMED_OUT);
    assert_non_null(strstr(ex.details, "step timeout"));
    assert_int_equal(srv_exec_get(v->st, job.seq, T2, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_IN_PROGRESS);
    assert_int_equal(count_on(v, "$aws/things/" T1 "/jobs/notify-next"), 1);
    srv_job_clear(&job);

    /* The in-progress timeout caps a longer step timer. */
    const char *fws[] = {"fw-c"}, *devs[] = {T1};
    srv_job_spec_t s = {.job_id = "j2", .fw_ids = fws, .nfw = 1, .devices = devs, .ndevices = 1,
                        .timeout_min = 3, .allow_unsigned = true};
    char out[SRV_JOBID_MAX + 1], msg[256];
    size_t n;
    assert_int_equal(srv_engine_create_job(&v->e, &s, out, &n, msg, sizeof msg), 0);
    r = req(v, T1, "start-next", "{\"stepTimeoutInMinutes\":100}", &ok);
    assert_true(nget(r, "execution.approximateSecondsBeforeTimedOut") <= 3);
    cJSON_Delete(r);
    srv_engine_tick(&v->e, now + 10);
    assert_int_equal(srv_job_get(v->st, "j2", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.status, SRV_TIMED_OUT);
    assert_non_null(strstr(ex.details, "timeout"));
    srv_job_clear(&job);
}

static void hello_and_registration(void **state)
{
    env_t *v = *state;
    srv_device_t d;
    const char *t = "otto/things/24:0a:c4:00:00:09/hello";
    const char *p = "{\"product\":\"lamp\",\"versions\":{\"esp32\":\"1.0.0\"}}";
    srv_mqtt_api_handle(&v->e, t, p, strlen(p));
    assert_int_equal(srv_device_get(v->st, "24:0a:c4:00:00:09", &d), 0);
    assert_string_equal(d.product, "lamp");
    assert_non_null(strstr(d.versions, "1.0.0"));
    assert_true(d.last_seen > 0);
    /* Versions merge per ota_type. */
    p = "{\"versions\":{\"stm32\":\"2.0.0\"}}";
    srv_mqtt_api_handle(&v->e, t, p, strlen(p));
    assert_int_equal(srv_device_get(v->st, "24:0a:c4:00:00:09", &d), 0);
    assert_non_null(strstr(d.versions, "1.0.0"));
    assert_non_null(strstr(d.versions, "2.0.0"));
    /* A bad hello is answered, not dropped. */
    rec_clear(&v->rec);
    srv_mqtt_api_handle(&v->e, t, "{\"versions\":3}", 14);
    assert_int_equal(count_on(v, "otto/things/24:0a:c4:00:00:09/hello/rejected"), 1);

    /* With auto-registration off, an unknown thing stays unknown. */
    v->e.auto_register = false;
    bool ok;
    cJSON *r = req(v, "24:0a:c4:00:00:0a", "get", "{}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    assert_int_equal(srv_device_get(v->st, "24:0a:c4:00:00:0a", &d), OTTO_E_NOTFOUND);
    v->e.auto_register = true;
    r = req(v, "24:0a:c4:00:00:0a", "get", "{}", &ok);
    cJSON_Delete(r);
    assert_int_equal(srv_device_get(v->st, "24:0a:c4:00:00:0a", &d), OTTO_OK);
}

static void back_to_back_updates(void **state)
{
    env_t *v = *state;
    bool ok;
    create(v, "j1", "fw-a", NULL, T1);
    /* FreeRTOS OTA style: no token, no expectedVersion, several in a row. */
    for (int i = 0; i < 5; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"status\":\"IN_PROGRESS\",\"statusDetails\":{\"receive\":\"%d/5\"}}", i);
        cJSON *r = req(v, T1, "j1/update", p, &ok);
        assert_true(ok);
        assert_null(cJSON_GetObjectItemCaseSensitive(r, "clientToken"));
        cJSON_Delete(r);
    }
    srv_job_t job;
    srv_exec_t ex;
    assert_int_equal(srv_job_get(v->st, "j1", &job), 0);
    assert_int_equal(srv_exec_get(v->st, job.seq, T1, 0, &ex), 0);
    assert_int_equal(ex.version, 6);
    assert_non_null(strstr(ex.details, "4/5"));
    srv_job_clear(&job);
}

/* What several workers share (PostgreSQL; on SQLite the answers are the
 * trivial ones, checked too): one leader at a time, the lead passing on
 * when its holder's connection closes; artifact bytes any worker fetches;
 * a device's lock taken inside a transaction. */
static void shared_workers(void **state)
{
    env_t *v = *state;
    const char *url = getenv("OTTO_TEST_DB");
    bool lead = false;
    assert_int_equal(srv_store_lead(v->st, &lead), OTTO_OK);
    assert_true(lead);
    assert_int_equal(srv_store_lead(v->st, &lead), OTTO_OK); /* asked again: still, not stacked */
    assert_true(lead);
    if (!url || !*url) {
        assert_false(srv_store_shared(v->st));
        assert_int_equal(srv_blob_fetch(v->st, "artifacts/x", "/nonexistent"), OTTO_E_NOTFOUND);
        return;
    }
    assert_true(srv_store_shared(v->st));
    srv_store_t *other;
    assert_int_equal(srv_store_open(url, &other), OTTO_OK); /* a second worker: the schema is there */
    assert_int_equal(srv_store_lead(other, &lead), OTTO_OK);
    assert_false(lead);
    srv_store_close(v->st); /* the leader goes: its session's lock with it */
    v->st = NULL;
    /* the server drops the lock once the closed session's backend has gone:
     * soon, not at once (ottod asks every second) */
    for (int i = 0; i < 100 && !lead; i++) {
        assert_int_equal(srv_store_lead(other, &lead), OTTO_OK);
        if (!lead)
            usleep(20000);
    }
    assert_true(lead);
    assert_int_equal(srv_store_open(url, &v->st), OTTO_OK);
    assert_int_equal(srv_store_lead(v->st, &lead), OTTO_OK);
    assert_false(lead);

    /* a blob of 2.5 parts, byte for byte */
    char in[] = "/tmp/otto-blob-XXXXXX", out[64];
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    size_t n = (5u << 20) / 2 + 7;
    unsigned char *b = malloc(n), *c = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131 + (i >> 13));
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
    assert_int_equal(srv_blob_put(v->st, "artifacts/t", in), OTTO_OK);
    assert_int_equal(srv_blob_put(v->st, "artifacts/t", in), OTTO_OK); /* again: kept once */
    snprintf(out, sizeof out, "%s.out", in);
    assert_int_equal(srv_blob_fetch(other, "artifacts/t", out), OTTO_OK);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    assert_int_equal(fread(c, 1, n, f), n);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    assert_memory_equal(b, c, n);
    assert_int_equal(srv_blob_fetch(other, "artifacts/none", out), OTTO_E_NOTFOUND);
    assert_int_equal(srv_blob_delete(other, "artifacts/t"), OTTO_OK);
    assert_int_equal(srv_blob_fetch(v->st, "artifacts/t", out), OTTO_E_NOTFOUND);
    remove(in);
    remove(out);
    free(b);
    free(c);

    /* a device's lock: held by one transaction; the other worker's try fails until commit */
    assert_int_equal(srv_store_begin(v->st), OTTO_OK);
    assert_int_equal(srv_store_lock_thing(v->st, T1), OTTO_OK);
    PGconn *pc = PQconnectdb(url);
    PGresult *r = PQexec(pc, "SELECT pg_try_advisory_xact_lock(hashtext('" T1 "'))");
    assert_string_equal(PQgetvalue(r, 0, 0), "f");
    PQclear(r);
    assert_int_equal(srv_store_commit(v->st), OTTO_OK);
    r = PQexec(pc, "SELECT pg_try_advisory_xact_lock(hashtext('" T1 "'))");
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(pc);
    srv_store_close(other);
}

/* Two workers on one database, one device's requests reaching them out of
 * order (a partition changing hands, or a broker sharing subscriptions):
 * each is judged against what the other committed, so a late one is
 * refused and nothing is applied twice. PostgreSQL only. */
static void two_workers_one_device(void **state)
{
    env_t *v = *state, w;
    const char *url = getenv("OTTO_TEST_DB");
    bool ok;
    if (!url || !*url)
        return; /* one writer on SQLite */
    memset(&w, 0, sizeof w);
    assert_int_equal(srv_store_open(url, &w.st), OTTO_OK);
    srv_engine_init(&w.e, w.st, "http://127.0.0.1:9");
    w.e.changed = srv_mqtt_api_changed;
    w.e.publish = record;
    w.e.pub_ctx = &w.rec;
    w.e.lead = false;
    create(v, "j1", "fw-a", NULL, T1);
    cJSON *r = req(&w, T1, "start-next", "{}", &ok); /* worker b starts it */
    assert_true(ok);
    cJSON_Delete(r);
    r = req(v, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":1}", &ok); /* a's late copy */
    assert_false(ok);
    assert_string_equal(sget(r, "code"), "VersionMismatch");
    cJSON_Delete(r);
    r = req(v, T1, "j1/update", "{\"status\":\"SUCCEEDED\",\"expectedVersion\":2}", &ok);
    assert_true(ok);
    cJSON_Delete(r);
    r = req(&w, T1, "j1/update", "{\"status\":\"IN_PROGRESS\",\"expectedVersion\":2}", &ok); /* b, late */
    assert_false(ok);
    cJSON_Delete(r);
    srv_job_t job;
    srv_exec_t ex;
    int64_t counts[SRV_STATUS_COUNT];
    assert_int_equal(srv_job_get(w.st, "j1", &job), OTTO_OK);
    assert_int_equal(srv_exec_get(w.st, job.seq, T1, 0, &ex), OTTO_OK);
    assert_int_equal(ex.status, SRV_SUCCEEDED);
    assert_int_equal(ex.version, 3); /* start, success: two changes, once each */
    assert_int_equal(srv_exec_counts(w.st, job.seq, counts), OTTO_OK);
    assert_int_equal(counts[SRV_SUCCEEDED], 1);
    srv_job_clear(&job);
    rec_clear(&w.rec);
    srv_engine_fini(&w.e);
    srv_store_close(w.st);
}

/* A batch of device requests is one transaction (batch.h): a nested
 * transaction that rolls back undoes its own work, not the batch's. */
static void nested_rollback_is_a_savepoint(void **state)
{
    env_t *v = *state;
    srv_device_t d;
    assert_int_equal(srv_store_begin(v->st), OTTO_OK);                 /* the batch */
    assert_int_equal(srv_device_upsert(v->st, "batch-a", "lamp", NULL, 0, 1), OTTO_OK);
    assert_int_equal(srv_store_begin(v->st), OTTO_OK);                 /* one request's */
    assert_int_equal(srv_device_upsert(v->st, "batch-b", "lamp", NULL, 0, 1), OTTO_OK);
    srv_store_rollback(v->st);                                         /* it failed */
    assert_int_equal(srv_store_begin(v->st), OTTO_OK);                 /* the next request's */
    assert_int_equal(srv_device_upsert(v->st, "batch-c", "lamp", NULL, 0, 1), OTTO_OK);
    assert_int_equal(srv_store_commit(v->st), OTTO_OK);
    assert_int_equal(srv_store_commit(v->st), OTTO_OK);                /* the batch commits */
    assert_int_equal(srv_device_get(v->st, "batch-a", &d), OTTO_OK);
    assert_int_equal(srv_device_get(v->st, "batch-b", &d), OTTO_E_NOTFOUND);
    assert_int_equal(srv_device_get(v->st, "batch-c", &d), OTTO_OK);
}

int main(void)
{
    srv_log_set_level(getenv("OTTO_TEST_LOG") ? SRV_LL_DBG : SRV_LL_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(two_workers_one_device, setup, teardown),
        cmocka_unit_test_setup_teardown(rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(next_and_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(offline_queue_and_supersede, setup, teardown),
        cmocka_unit_test_setup_teardown(create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(details_kept_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(firmware_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(timers, setup, teardown),
        cmocka_unit_test_setup_teardown(hello_and_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(back_to_back_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_rollback_is_a_savepoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
