/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Jobs device API over MQTT (facts: docs/api.md, "MQTT job API").
 *
 * Topic grammar, after "$aws/things/{thing}/jobs/":
 *   get                      GetPendingJobExecutions
 *   start-next               StartNextPendingJobExecution
 *   {jobId}/get              DescribeJobExecution ({jobId} may be $next)
 *   {jobId}/update           UpdateJobExecution
 *   .../accepted, .../rejected, notify, notify-next: ours, ignored
 *   anything else            rejected with InvalidTopic
 * Replies go to the request topic + "/accepted" or "/rejected".
 */
#include "mqtt_api.h"
#include "hw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "jsonin.h"
#include "log.h"

#define THINGS_PREFIX "$aws/things/"
#define HELLO_PREFIX  "otto/things/"
#define MAX_PENDING   10  /* AWS returns at most 10 pending executions */
#define STEP_MAX_MIN  10080

const char *const srv_mqtt_api_topics[] = {
    "$aws/things/+/jobs/#",
    "otto/things/+/hello",
    NULL,
};

/* The same requests by name, for a shared subscription: MQTT 5 forbids
 * no-local there, so the filters must not match ottod's own replies
 * (.../get/accepted and the like) or notifications. */
const char *const srv_mqtt_api_shared_topics[] = {
    "$aws/things/+/jobs/get",
    "$aws/things/+/jobs/start-next",
    "$aws/things/+/jobs/+/get",
    "$aws/things/+/jobs/+/update",
    "otto/things/+/hello",
    NULL,
};

const char *const srv_mqtt_api_state_topics[] = {
    "otto/things/+/status",
    NULL,
};

typedef struct {
    srv_engine_t *e;
    const char *topic;     /* the request topic; replies append /accepted|/rejected */
    char thing[SRV_THING_MAX + 1];
    cJSON *req;            /* parsed request, an object */
    const char *token;     /* clientToken, when valid */
    int64_t now;
} req_t;

static void reply(req_t *r, bool ok, cJSON *body)
{
    char topic[512];
    snprintf(topic, sizeof topic, "%s/%s", r->topic, ok ? "accepted" : "rejected");
    cJSON_AddNumberToObject(body, "timestamp", (double)r->now);
    if (r->token)
        cJSON_AddStringToObject(body, "clientToken", r->token);
    srv_engine_send(r->e, topic, body);
}

/* ---- rendering what the engine reports, AWS's way ---------------------- */

#define NOTIFY_MAX_JOBS 10 /* AWS lists at most 10 pending executions */

cJSON *srv_exec_summary_json(const srv_exec_t *ex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jobId", ex->job_id);
    cJSON_AddNumberToObject(o, "queuedAt", (double)ex->queued_at);
    if (ex->started_at)
        cJSON_AddNumberToObject(o, "startedAt", (double)ex->started_at);
    cJSON_AddNumberToObject(o, "lastUpdatedAt", (double)ex->updated_at);
    cJSON_AddNumberToObject(o, "versionNumber", (double)ex->version);
    cJSON_AddNumberToObject(o, "executionNumber", ex->exec_no);
    return o;
}

static cJSON *details_json(const srv_exec_t *ex)
{
    cJSON *d = cJSON_Parse(ex->details);
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        d = cJSON_CreateObject();
    }
    return d;
}

cJSON *srv_exec_state_json(const srv_exec_t *ex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", srv_status_name(ex->status));
    cJSON_AddItemToObject(o, "statusDetails", details_json(ex));
    cJSON_AddNumberToObject(o, "versionNumber", (double)ex->version);
    return o;
}

cJSON *srv_exec_json(srv_engine_t *e, const srv_exec_t *ex, bool with_doc, int64_t now)
{
    /* A JobExecution is its summary plus who, what and how it stands. */
    cJSON *o = srv_exec_summary_json(ex);
    cJSON_AddStringToObject(o, "thingName", ex->thing);
    if (with_doc) {
        cJSON_AddItemToObject(o, "jobDocument", srv_engine_doc_for(e, ex->job_seq, ex->thing, now));
    }
    cJSON_AddStringToObject(o, "status", srv_status_name(ex->status));
    cJSON_AddItemToObject(o, "statusDetails", details_json(ex));
    /* otto's install signal for a job that installs later (installConfig) */
    int install = srv_status_terminal(ex->status) ? -1 : srv_engine_install(e, ex->job_seq, now);
    if (install >= 0)
        cJSON_AddStringToObject(o, "install", install ? "NOW" : "WAIT");
    int64_t due = ex->step_deadline;
    if (ex->deadline && (!due || ex->deadline < due))
        due = ex->deadline;
    if (ex->status == SRV_IN_PROGRESS && due)
        cJSON_AddNumberToObject(o, "approximateSecondsBeforeTimedOut",
                                (double)(due > now ? due - now : 0));
    return o;
}

/* The pending executions of a thing, IN_PROGRESS and QUEUED apart (notify
 * and GetPendingJobExecutions both list them so). */
typedef struct {
    cJSON *inprog, *queued;
} pending_lists_t;

static int add_pending(void *arg, const srv_exec_t *ex)
{
    pending_lists_t *l = arg;
    cJSON_AddItemToArray(ex->status == SRV_IN_PROGRESS ? l->inprog : l->queued,
                         srv_exec_summary_json(ex));
    return 0;
}

static void topic_of(char *buf, size_t cap, const char *thing, const char *leaf)
{
    snprintf(buf, cap, "$aws/things/%s/jobs/%s", thing, leaf);
}

/* notify (the pending list changed) and notify-next (the next execution is
 * another one, or none). */
void srv_mqtt_api_changed(srv_engine_t *e, const char *thing, bool list_changed, bool next_changed,
                          const srv_exec_t *next, int64_t now)
{
    char topic[SRV_THING_MAX + 64];
    if (list_changed) {
        pending_lists_t l = {cJSON_CreateArray(), cJSON_CreateArray()};
        cJSON *o = cJSON_CreateObject(), *jobs = cJSON_CreateObject();
        srv_exec_pending(e->st, thing, NOTIFY_MAX_JOBS, add_pending, &l);
        cJSON_AddNumberToObject(o, "timestamp", (double)now);
        /* Only non-empty lists appear, IN_PROGRESS first. */
        if (cJSON_GetArraySize(l.inprog))
            cJSON_AddItemToObject(jobs, "IN_PROGRESS", l.inprog);
        else
            cJSON_Delete(l.inprog);
        if (cJSON_GetArraySize(l.queued))
            cJSON_AddItemToObject(jobs, "QUEUED", l.queued);
        else
            cJSON_Delete(l.queued);
        cJSON_AddItemToObject(o, "jobs", jobs);
        topic_of(topic, sizeof topic, thing, "notify");
        srv_engine_send(e, topic, o);
        atomic_fetch_add(&e->metrics.notifications, 1);
    }
    if (next_changed) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "timestamp", (double)now);
        if (next)
            cJSON_AddItemToObject(o, "execution", srv_exec_json(e, next, true, now));
        topic_of(topic, sizeof topic, thing, "notify-next");
        srv_engine_send(e, topic, o);
        atomic_fetch_add(&e->metrics.notifications, 1);
    }
}

static void reject(req_t *r, const char *code, const char *message, const srv_exec_t *state)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    if (state)
        cJSON_AddItemToObject(o, "executionState", srv_exec_state_json(state));
    r->e->n_rejected++;
    SRV_LOG_DBG("thing=%s %s rejected: %s (%s)", r->thing, r->topic, code, message);
    reply(r, false, o);
}

/* ---- request field checks --------------------------------------------- */

/* Optional integer field in [lo, hi]: 0 absent, 1 present, -1 bad. */
static int opt_int(req_t *r, const char *name, long long lo, long long hi, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->req, name);
    char msg[128];
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        snprintf(msg, sizeof msg, "%s must be an integer from %lld to %lld", name, lo, hi);
        reject(r, "InvalidRequest", msg, NULL);
        return -1;
    }
    *out = (long long)v->valuedouble;
    return 1;
}

static int opt_bool(req_t *r, const char *name, bool dflt, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->req, name);
    char msg[128];
    *out = dflt;
    if (!v)
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(msg, sizeof msg, "%s must be true or false", name);
        reject(r, "InvalidRequest", msg, NULL);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* statusDetails: an object of string values; keys [a-zA-Z0-9:_-]{1,128},
 * values 1-1024 printable characters (AWS's rules). */
static int opt_details(req_t *r, const cJSON **out)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->req, "statusDetails"), *kv;
    *out = NULL;
    if (!d || cJSON_IsNull(d))
        return 0;
    if (!cJSON_IsObject(d)) {
        reject(r, "InvalidRequest", "statusDetails must be an object of strings", NULL);
        return -1;
    }
    cJSON_ArrayForEach(kv, d) {
        size_t vl = cJSON_IsString(kv) ? strlen(kv->valuestring) : 0;
        bool ok = kv->string && srv_valid_thing(kv->string) && vl >= 1 && vl <= 1024;
        for (size_t i = 0; ok && i < vl; i++)
            if ((unsigned char)kv->valuestring[i] < 0x20 || kv->valuestring[i] == 0x7f)
                ok = false;
        if (!ok) {
            char msg[256];
            snprintf(msg, sizeof msg, "statusDetails entry '%.128s' must be a string of 1-1024"
                     " printable characters under a key of [a-zA-Z0-9:_-]", kv->string ? kv->string : "");
            reject(r, "InvalidRequest", msg, NULL);
            return -1;
        }
    }
    char *txt = cJSON_PrintUnformatted(d);
    size_t n = txt ? strlen(txt) : SRV_DETAILS_MAX;
    free(txt);
    if (n > SRV_DETAILS_DEVICE_MAX) {
        reject(r, "InvalidRequest", "statusDetails is too large (3 KB of JSON at most)", NULL);
        return -1;
    }
    *out = d;
    return 1;
}

/* ---- operations -------------------------------------------------------- */

static void op_get_pending(req_t *r)
{
    pending_lists_t l = {cJSON_CreateArray(), cJSON_CreateArray()};
    if (srv_exec_pending(r->e->st, r->thing, MAX_PENDING, add_pending, &l)) {
        cJSON_Delete(l.inprog);
        cJSON_Delete(l.queued);
        reject(r, "InternalError", "database error", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "inProgressJobs", l.inprog);
    cJSON_AddItemToObject(o, "queuedJobs", l.queued);
    reply(r, true, o);
}

static void op_start_next(req_t *r)
{
    const cJSON *details;
    long long step = 0;
    srv_exec_t ex;
    if (opt_details(r, &details) < 0 || opt_int(r, "stepTimeoutInMinutes", 1, STEP_MAX_MIN, &step) < 0)
        return;
    int err = srv_exec_next(r->e->st, r->thing, &ex);
    cJSON *o = cJSON_CreateObject();
    if (err == OTTO_E_NOTFOUND) {
        reply(r, true, o); /* nothing pending: accepted without an execution */
        return;
    }
    if (!err && ex.status == SRV_QUEUED)
        err = srv_engine_device_move(r->e, &ex, SRV_IN_PROGRESS, details, (int)step, r->now);
    if (err) {
        cJSON_Delete(o);
        reject(r, "InternalError", otto_strerror(err), NULL);
        return;
    }
    cJSON_AddItemToObject(o, "execution", srv_exec_json(r->e, &ex, true, r->now));
    reply(r, true, o);
}

/* Find the execution of job_id for this thing; rejects and returns false if
 * there is none. */
static bool find_exec(req_t *r, const char *job_id, int exec_no, srv_exec_t *ex)
{
    srv_job_t job;
    char msg[160];
    int err = srv_job_get(r->e->st, job_id, &job);
    if (!err) {
        err = srv_exec_get(r->e->st, job.seq, r->thing, exec_no, ex);
        srv_job_clear(&job);
    }
    if (!err && ex->status == SRV_QUEUED && !ex->queued_at)
        err = OTTO_E_NOTFOUND; /* the rollout has not released it: it does not exist for the device yet */
    if (err == OTTO_E_NOTFOUND) {
        snprintf(msg, sizeof msg, "no execution of job %s for thing %s", job_id, r->thing);
        reject(r, "ResourceNotFound", msg, NULL);
        return false;
    }
    if (err) {
        reject(r, "InternalError", otto_strerror(err), NULL);
        return false;
    }
    return true;
}

static void op_describe(req_t *r, const char *job_id)
{
    long long exec_no = 0;
    bool with_doc;
    srv_exec_t ex;
    if (opt_int(r, "executionNumber", 1, INT32_MAX, &exec_no) < 0 ||
        opt_bool(r, "includeJobDocument", true, &with_doc) < 0)
        return;
    if (!strcmp(job_id, "$next")) {
        cJSON *o = cJSON_CreateObject();
        int err = srv_exec_next(r->e->st, r->thing, &ex);
        if (err && err != OTTO_E_NOTFOUND) {
            cJSON_Delete(o);
            reject(r, "InternalError", otto_strerror(err), NULL);
            return;
        }
        if (!err)
            cJSON_AddItemToObject(o, "execution", srv_exec_json(r->e, &ex, with_doc, r->now));
        /* Clients that subscribe only to notify-next (the FreeRTOS OTA
         * library) rely on AWS delivering this reply unsubscribed; a plain
         * broker cannot, so the answer is mirrored onto notify-next. */
        if (!err) {
            char topic[SRV_THING_MAX + 64];
            cJSON *n = cJSON_CreateObject();
            cJSON_AddNumberToObject(n, "timestamp", (double)r->now);
            cJSON_AddItemToObject(n, "execution", srv_exec_json(r->e, &ex, true, r->now));
            snprintf(topic, sizeof topic, THINGS_PREFIX "%s/jobs/notify-next", r->thing);
            srv_engine_send(r->e, topic, n);
        }
        reply(r, true, o);
        return;
    }
    if (!find_exec(r, job_id, (int)exec_no, &ex))
        return;
    if (srv_status_terminal(ex.status)) {
        reject(r, "TerminalStateReached", "the job execution is in a terminal state", &ex);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "execution", srv_exec_json(r->e, &ex, with_doc, r->now));
    reply(r, true, o);
}

static void op_update(req_t *r, const char *job_id)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(r->req, "status"), *details;
    long long expected = 0, exec_no = 0, step = 0;
    bool want_state, want_doc;
    int has_expected, to;
    srv_exec_t ex;
    char msg[200];

    if (!cJSON_IsString(status)) {
        reject(r, "InvalidRequest", "status is required: IN_PROGRESS, SUCCEEDED, FAILED or REJECTED",
               NULL);
        return;
    }
    to = srv_status_parse(status->valuestring);
    if (to != SRV_IN_PROGRESS && to != SRV_SUCCEEDED && to != SRV_FAILED && to != SRV_REJECTED) {
        snprintf(msg, sizeof msg, "a device may not set status '%.40s' (only IN_PROGRESS,"
                 " SUCCEEDED, FAILED or REJECTED)", status->valuestring);
        reject(r, "InvalidRequest", msg, NULL);
        return;
    }
    if (opt_details(r, &details) < 0 ||
        (has_expected = opt_int(r, "expectedVersion", 0, 1LL << 53, &expected)) < 0 ||
        opt_int(r, "executionNumber", 1, INT32_MAX, &exec_no) < 0 ||
        opt_int(r, "stepTimeoutInMinutes", 1, STEP_MAX_MIN, &step) < 0 ||
        opt_bool(r, "includeJobExecutionState", false, &want_state) < 0 ||
        opt_bool(r, "includeJobDocument", false, &want_doc) < 0)
        return;
    if (!find_exec(r, job_id, (int)exec_no, &ex))
        return;
    if (has_expected && expected != ex.version) {
        snprintf(msg, sizeof msg, "expectedVersion %lld does not match the current version %lld",
                 expected, (long long)ex.version);
        reject(r, "VersionMismatch", msg, &ex);
        return;
    }
    int from = ex.status;
    int err = srv_engine_device_move(r->e, &ex, to, details, (int)step, r->now);
    if (err == OTTO_E_STATE) {
        snprintf(msg, sizeof msg, "cannot go from %s to %s", srv_status_name(from),
                 srv_status_name(to));
        reject(r, "InvalidStateTransition", msg, &ex);
        return;
    }
    if (err) {
        reject(r, "InternalError", otto_strerror(err), NULL);
        return;
    }
    if (from != to) /* what a patch saved, once per execution */
        srv_metrics_final(&r->e->metrics, srv_status_name(to), details);
    cJSON *o = cJSON_CreateObject();
    if (want_state)
        cJSON_AddItemToObject(o, "executionState", srv_exec_state_json(&ex));
    if (want_doc) {
        cJSON_AddItemToObject(o, "jobDocument", srv_engine_doc_for(r->e, ex.job_seq, ex.thing, r->now));
    }
    reply(r, true, o);
}

/* ---- dispatch ---------------------------------------------------------- */

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

/* Copy the thing name that starts at p (up to '/') into r->thing; returns the
 * rest after the '/' or NULL. */
static const char *take_thing(req_t *r, const char *p)
{
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n > SRV_THING_MAX)
        return NULL;
    memcpy(r->thing, p, n);
    r->thing[n] = 0;
    if (!srv_valid_thing(r->thing))
        return NULL;
    return slash ? slash + 1 : NULL;
}

static void register_thing(srv_engine_t *e, const char *thing, const char *product,
                           const char *versions, const char *images, const char *hw, int64_t now)
{
    bool known = false, joined = false;
    int err = srv_device_known(e->st, thing, &known);
    if (!err && !known) {
        if (!e->auto_register) {
            SRV_LOG_WRN("thing=%s is not registered (auto-registration is off)", thing);
            return;
        }
        /* A burst of new names is registered at a bounded rate; the rest
         * are registered when they come back (their requests are answered
         * as for any thing without jobs meanwhile). */
        if (now != e->reg_second) {
            e->reg_second = now;
            e->reg_count = 0;
        }
        if (e->register_rate && e->reg_count >= e->register_rate) {
            if (e->n_reg_refused++ == 0)
                SRV_LOG_WRN("auto-registration over %u a second: thing=%s and others wait for their next request"
                        " (counted in /healthz registrationsDeferred)", e->register_rate, thing);
            return;
        }
        e->reg_count++;
        const char *group = e->register_group;
        if (srv_device_upsert(e->st, thing, product, group[0] ? &group : NULL, group[0] ? 1 : 0, now) == OTTO_OK) {
            SRV_LOG_INF("thing=%s registered on first contact%s%s", thing, group[0] ? " into group " : "", group);
            joined = group[0] != 0;
        }
    }
    if (product || versions)
        srv_device_seen(e->st, thing, product ? product : "", versions ? versions : "", images, hw, now);
    if (joined) /* the group's continuous jobs reach it at once, judged by what it just said it is */
        srv_engine_joined(e, &thing, 1, now);
}

static void handle_hello(srv_engine_t *e, req_t *r, const void *payload, size_t len)
{
    cJSON *j = len ? srv_json_object(payload, len) : cJSON_CreateObject();
    const cJSON *prod = cJSON_GetObjectItemCaseSensitive(j, "product");
    const cJSON *vers = cJSON_GetObjectItemCaseSensitive(j, "versions");
    if (!cJSON_IsObject(j) || (prod && !cJSON_IsString(prod)) || (vers && !cJSON_IsObject(vers))) {
        r->req = NULL;
        reject(r, cJSON_IsObject(j) ? "InvalidRequest" : "InvalidJson",
               "hello is {\"product\": string, \"versions\": {ota_type: version}}", NULL);
        cJSON_Delete(j);
        return;
    }
    /* What is stored is shown whole, so what would not fit is refused (D8). */
    const cJSON *v;
    bool ok = !prod || !prod->valuestring[0] || srv_valid_name(prod->valuestring);
    cJSON_ArrayForEach(v, vers) {
        ok = ok && srv_valid_name(v->string) && cJSON_IsString(v) && v->valuestring[0] &&
             strlen(v->valuestring) <= 32;
        for (const char *c = cJSON_IsString(v) ? v->valuestring : ""; ok && *c; c++)
            ok = (unsigned char)*c > 0x20 && *c != 0x7f;
    }
    char *vtxt = vers ? cJSON_PrintUnformatted(vers) : NULL;
    if (!ok || (vtxt && strlen(vtxt) >= sizeof ((srv_device_t *)0)->versions)) {
        free(vtxt);
        r->req = NULL;
        reject(r, "InvalidRequest",
               "hello: product 1-64 of [A-Za-z0-9._-]; versions: ota_type -> a version of 1-32 printable"
               " characters, 500 bytes in all", NULL);
        cJSON_Delete(j);
        return;
    }
    /* What it runs, by SHA-256 (otto's agent says it): the base a delta
     * patch for it is made from. Refused whole when malformed (D8). */
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(j, "sha256");
    char *itxt = NULL;
    bool iok = !imgs || cJSON_IsObject(imgs);
    cJSON_ArrayForEach(v, imgs) {
        iok = iok && srv_valid_name(v->string) && cJSON_IsString(v) && strlen(v->valuestring) == 64;
        for (const char *c = cJSON_IsString(v) ? v->valuestring : ""; iok && *c; c++)
            iok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
    }
    if (iok && imgs && !(itxt = cJSON_PrintUnformatted(imgs)))
        iok = false;
    if (!iok || (itxt && strlen(itxt) >= sizeof ((srv_device_t *)0)->images)) {
        free(itxt);
        free(vtxt);
        r->req = NULL;
        reject(r, "InvalidRequest", "hello: sha256 is {ota_type: 64 lower-case hex digits}", NULL);
        cJSON_Delete(j);
        return;
    }
    /* What it is (chip, flash, slots, MCU): what a job may send it. */
    char hw[SRV_HW_MAX + 1], hmsg[128];
    const cJSON *hwj = cJSON_GetObjectItemCaseSensitive(j, "hw");
    if (hwj && srv_hw_from_hello(hwj, hw, sizeof hw, hmsg, sizeof hmsg)) {
        free(itxt);
        free(vtxt);
        r->req = NULL;
        reject(r, "InvalidRequest", hmsg, NULL);
        cJSON_Delete(j);
        return;
    }
    register_thing(e, r->thing, prod ? prod->valuestring : "", vtxt ? vtxt : "{}", itxt, hwj ? hw : NULL, r->now);
    free(itxt);
    /* The device's signature policy, for the log (the agent's hello says
     * whether it takes unsigned images and which keys it trusts). */
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(j, "signatures");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
    char *ktxt = cJSON_IsArray(keys) ? cJSON_PrintUnformatted(keys) : NULL;
    SRV_LOG_INF("thing=%s hello: product %s, versions %s, signatures %s, keys %.200s", r->thing,
                prod ? prod->valuestring : "?", vtxt ? vtxt : "{}",
                cJSON_IsString(pol) && srv_valid_name(pol->valuestring) ? pol->valuestring : "?", ktxt ? ktxt : "?");
    free(ktxt);
    free(vtxt);
    cJSON_Delete(j);
}

/* otto/things/{thing}/status: {"online": true} when the device connects
 * (its birth message), {"online": false} as its will (the broker sends it
 * when the connection drops) or when it leaves cleanly. Both retained, so
 * a restarted ottod learns who is connected when it subscribes. No reply. */
static void handle_status(srv_engine_t *e, req_t *r, const void *payload, size_t len)
{
    cJSON *j = len ? srv_json_object(payload, len) : NULL;
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(j, "online");
    if (!cJSON_IsBool(on)) {
        SRV_LOG_DBG("thing=%s status: not {\"online\": bool}; ignored", r->thing);
    } else if (srv_device_online(e->st, r->thing, cJSON_IsTrue(on), r->now) == OTTO_OK) {
        SRV_LOG_DBG("thing=%s %s", r->thing, cJSON_IsTrue(on) ? "online" : "offline");
    }
    cJSON_Delete(j);
}

static void handle(srv_engine_t *e, const char *topic, const void *payload, size_t len, int *type)
{
    req_t r;
    const char *rest;

    memset(&r, 0, sizeof r);
    r.e = e;
    r.topic = topic;
    r.now = srv_now();

    if (!strncmp(topic, HELLO_PREFIX, strlen(HELLO_PREFIX))) {
        rest = take_thing(&r, topic + strlen(HELLO_PREFIX));
        if (rest && !strcmp(rest, "hello")) {
            e->n_requests++;
            *type = SRV_MQ_HELLO;
            handle_hello(e, &r, payload, len);
        } else if (rest && !strcmp(rest, "status")) {
            *type = SRV_MQ_STATUS;
            handle_status(e, &r, payload, len);
        }
        return;
    }
    if (strncmp(topic, THINGS_PREFIX, strlen(THINGS_PREFIX)))
        return;
    rest = take_thing(&r, topic + strlen(THINGS_PREFIX));
    if (!rest || strncmp(rest, "jobs/", 5))
        return; /* not a jobs topic of a valid thing: nobody to answer */
    rest += 5;
    /* Our own publications, should the broker hand them back. */
    if (ends_with(rest, "/accepted") || ends_with(rest, "/rejected") || !strcmp(rest, "notify") ||
        !strcmp(rest, "notify-next"))
        return;
    e->n_requests++;
    *type = SRV_MQ_INVALID;

    /* The operation from the topic first: a wrong topic is InvalidTopic
     * whatever the payload. */
    enum { OP_GET, OP_START_NEXT, OP_DESCRIBE, OP_UPDATE } op;
    char job_id[SRV_JOBID_MAX + 2] = "";
    if (!strcmp(rest, "get")) {
        op = OP_GET;
        *type = SRV_MQ_GET;
    } else if (!strcmp(rest, "start-next")) {
        op = OP_START_NEXT;
        *type = SRV_MQ_START_NEXT;
    } else {
        const char *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : 0;
        const char *verb = slash ? slash + 1 : "";
        if (!slash || n == 0 || n > SRV_JOBID_MAX || (strcmp(verb, "get") && strcmp(verb, "update"))) {
            reject(&r, "InvalidTopic", "no such jobs operation", NULL);
            goto out;
        }
        memcpy(job_id, rest, n);
        job_id[n] = 0;
        op = !strcmp(verb, "get") ? OP_DESCRIBE : OP_UPDATE;
        *type = op == OP_DESCRIBE ? SRV_MQ_DESCRIBE : SRV_MQ_UPDATE;
    }

    /* An empty payload is {}; anything else must be a JSON object. */
    r.req = len ? srv_json_object(payload, len) : cJSON_CreateObject();
    if (!cJSON_IsObject(r.req)) {
        reject(&r, "InvalidJson", "the payload is not a JSON object", NULL);
        goto out;
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(r.req, "clientToken");
    if (tok) {
        if (!cJSON_IsString(tok) || strlen(tok->valuestring) > 64) {
            reject(&r, "InvalidRequest", "clientToken must be a string of at most 64 characters",
                   NULL);
            goto out;
        }
        r.token = tok->valuestring;
    }
    register_thing(e, r.thing, NULL, NULL, NULL, NULL, r.now);

    if (op == OP_GET)
        op_get_pending(&r);
    else if (op == OP_START_NEXT)
        op_start_next(&r);
    else if (op == OP_DESCRIBE && !strcmp(job_id, "$next"))
        op_describe(&r, job_id);
    else if (!srv_valid_job_id(job_id))
        reject(&r, "InvalidRequest", "jobId must be 1-64 of [a-zA-Z0-9_-] ($next only with get)",
               NULL);
    else if (op == OP_DESCRIBE)
        op_describe(&r, job_id);
    else
        op_update(&r, job_id);
out:
    cJSON_Delete(r.req);
}

/* Each request timed, by type (metrics.h); what is not a request of
 * ours (our own publications handed back) is not counted. */
void srv_mqtt_api_handle(srv_engine_t *e, const char *topic, const void *payload, size_t len)
{
    int type = -1;
    uint64_t t0 = srv_metrics_ns();
    handle(e, topic, payload, len, &type);
    if (type >= 0)
        srv_metrics_observe(&e->metrics.mqtt[type], srv_metrics_ns() - t0);
}
