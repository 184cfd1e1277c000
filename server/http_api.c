/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's HTTP front, over libmicrohttpd:
 *   /healthz                 liveness, no auth
 *   /fw/{id}                 firmware downloads (download.c), no auth
 *   /api/v1/...              the operator REST API, bearer token (docs/api.md)
 *
 * A request's body arrives in pieces over several calls of the access
 * handler; a per-request struct collects it (JSON into memory, a multipart
 * upload straight into a temp file) and the last call answers. Every error
 * is a JSON body {"error": {"code", "message"}} with a fitting status.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "auth.h"
#include "backup.h"
#include "prune.h"
#include "clients.h"
#include "console.h"
#include "download.h"
#include "firmware.h"
#include "front.h"
#include "http.h"
#include "jsonin.h"
#include "pki.h"
#include "revoked.h"
#include "rollout.h"
#include "sign.h"
#include "log.h"
#include "server.h"
#include "throttle.h"

#define JSON_MAX       (16u << 20) /* bulk device registration can be large */
#define DESCRIPTOR_MAX 65536u      /* an upload's descriptor part */
#define UPLOAD_MAX     ((64ull << 20) + DESCRIPTOR_MAX + 65536u) /* file + descriptor + multipart framing */

struct srv_http {
    struct MHD_Daemon *d;
    char *tls_cert, *tls_key; /* PEM, kept for libmicrohttpd's lifetime */
    srv_front_t *front;       /* our own listener, with --proxy-protocol */
    srv_clients_t *clients;   /* connections per remote address, requests per forwarded client */
    struct in_addr proxy;     /* the trusted proxy, if any */
    bool have_proxy;
};

typedef struct {
    bool is_upload;
    bool auth_failed;
    /* JSON body */
    char *body;
    size_t len, cap;
    bool too_big;
    int refuse;           /* a status decided from the headers alone (415, 429) */
    char client[64];      /* a forwarded client counted in clients, "" none */
    /* multipart upload */
    struct MHD_PostProcessor *pp;
    srv_upload_t up;
    bool up_open;
    int up_err;
    bool desc_big;        /* the descriptor part is over DESCRIPTOR_MAX */
    uint8_t sig[SRV_SIG_MAX]; /* the "signature" part: DER ECDSA */
    size_t siglen;
    bool sig_big;
    char *descriptor;
    size_t dlen;
    char name[129];
    char who[SRV_NAME_MAX + 1]; /* the token's name, for the audit log */
    srv_role_t role;            /* the token's (auth.c) */
} req_t;


/* The status of the last response this thread queued, for the audit log. */
static _Thread_local unsigned last_status;

/* ---- responses --------------------------------------------------------- */

void srv_http_sent(unsigned code)
{
    last_status = code;
}

/* A weak validator of a body: FNV-1a, 64 bits. */
static void body_etag(const char *txt, size_t n, char out[24])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)txt[i]) * 1099511628211ull;
    snprintf(out, 24, "W/\"%016llx\"", (unsigned long long)h);
}

/* A 200 carries an ETag, and a request that names it (If-None-Match) gets
 * 304 and no body: the console polls every resource it shows this way. */
static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *ctype,
                                 char *txt)
{
    char etag[24] = "";
    size_t n = strlen(txt);
    if (code == 200) {
        body_etag(txt, n, etag);
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        if (inm && !strcmp(inm, etag)) {
            code = 304;
            n = 0;
        }
    }
    last_status = code;
    if (code == 304) {
        free(txt);
        txt = NULL;
    }
    struct MHD_Response *r = txt ? MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE)
                                 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (etag[0]) {
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result srv_http_json(struct MHD_Connection *c, unsigned code, cJSON *o)
{
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt)
        return MHD_NO;
    size_t n = strlen(txt);
    char *t2 = realloc(txt, n + 2);
    if (t2) {
        t2[n] = '\n';
        t2[n + 1] = 0;
        txt = t2;
    }
    return send_text(c, code, "application/json", txt);
}

enum MHD_Result srv_http_err(struct MHD_Connection *c, unsigned code, const char *kind,
                                const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", kind);
    cJSON_AddStringToObject(e, "message", msg);
    return srv_http_json(c, code, o);
}

static enum MHD_Result send_deleted(struct MHD_Connection *c, const char *id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "deleted", id);
    return srv_http_json(c, 200, o);
}

/* otto_err_t -> HTTP status and error code word. */
enum MHD_Result srv_http_otto_err(struct MHD_Connection *c, int err, const char *msg)
{
    unsigned code = 500;
    const char *kind = "internal";
    switch (err) {
    case OTTO_E_INVAL:    code = 400; kind = "invalid"; break;
    case OTTO_E_VERIFY:   code = 400; kind = "mismatch"; break;
    case OTTO_E_CORRUPT:
    case OTTO_E_CHIP:     code = 400; kind = "bad_image"; break;
    case OTTO_E_NOTFOUND: code = 404; kind = "not_found"; break;
    case OTTO_E_EXISTS:   code = 409; kind = "exists"; break;
    case OTTO_E_STATE:    code = 409; kind = "conflict"; break;
    case OTTO_E_NOSPC:    code = 413; kind = "too_large"; break;
    case OTTO_E_DENIED:   code = 403; kind = "denied"; break;
    default: break;
    }
    if (code == 500) /* never a 500 without a line that says why */
        SRV_LOG_ERR("http: answering 500: %s (%s)", msg && *msg ? msg : "", otto_strerror(err));
    return srv_http_err(c, code, kind, "%s", msg && *msg ? msg : otto_strerror(err));
}

/* ---- JSON views -------------------------------------------------------- */

static cJSON *fw_json(const srv_fw_t *f, const char *public_url)
{
    char url[512];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", f->id);
    cJSON_AddStringToObject(o, "ota_type", f->ota_type);
    cJSON_AddStringToObject(o, "product", f->product);
    cJSON_AddStringToObject(o, "group", f->group);
    cJSON_AddStringToObject(o, "version", f->version);
    if (f->project[0])
        cJSON_AddStringToObject(o, "project", f->project);
    if (!strcmp(f->ota_type, "esp32"))
        cJSON_AddNumberToObject(o, "secure_version", f->secure_version);
    cJSON_AddNumberToObject(o, "size", (double)f->size);
    cJSON_AddStringToObject(o, "md5", f->md5);
    cJSON_AddStringToObject(o, "sha256", f->sha256);
    cJSON_AddStringToObject(o, "name", f->name);
    snprintf(url, sizeof url, "%s/fw/%s", public_url, f->id);
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddNumberToObject(o, "createdAt", (double)f->created_at);
    cJSON *extra = cJSON_Parse(f->extra);
    if (cJSON_IsObject(extra) && cJSON_GetArraySize(extra))
        cJSON_AddItemToObject(o, "extra", extra);
    else
        cJSON_Delete(extra);
    return o;
}

static cJSON *device_json(const srv_device_t *d)
{
    cJSON *o = cJSON_CreateObject(), *g = cJSON_AddArrayToObject(o, "groups");
    cJSON_AddStringToObject(o, "thing", d->thing);
    cJSON_AddStringToObject(o, "product", d->product);
    for (const char *p = d->groups; *p;) {
        size_t n = strcspn(p, ",");
        char name[SRV_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        cJSON_AddItemToArray(g, cJSON_CreateString(name));
        p += n + (p[n] == ',');
    }
    /* what it runs: by version, by SHA-256; what it is (hw.h) */
    static const char *const maps[] = {"versions", "images", "hw"};
    const char *texts[] = {d->versions, d->images, d->hw};
    for (int i = 0; i < 3; i++) {
        cJSON *v = cJSON_Parse(texts[i]);
        cJSON_AddItemToObject(o, maps[i], cJSON_IsObject(v) ? v : cJSON_CreateObject());
        if (!cJSON_IsObject(v))
            cJSON_Delete(v);
    }
    cJSON_AddNumberToObject(o, "createdAt", (double)d->created_at);
    cJSON_AddNumberToObject(o, "lastSeen", (double)d->last_seen);
    cJSON_AddBoolToObject(o, "online", d->online);
    return o;
}

/* A device as the fleet list shows it: with its latest job. */
static cJSON *device_row_json(srv_store_t *st, const srv_device_t *d)
{
    cJSON *o = device_json(d);
    char job[SRV_JOBID_MAX + 1], status[24];
    if (!srv_device_last_job(st, d->thing, job, sizeof job, status, sizeof status)) {
        cJSON *l = cJSON_AddObjectToObject(o, "lastJob");
        cJSON_AddStringToObject(l, "jobId", job);
        cJSON_AddStringToObject(l, "status", status);
    }
    return o;
}

static cJSON *counts_json(srv_store_t *st, int64_t seq)
{
    int64_t n[SRV_STATUS_COUNT];
    cJSON *o = cJSON_CreateObject();
    srv_exec_counts(st, seq, n);
    int64_t total = 0;
    for (int i = 0; i < SRV_STATUS_COUNT; i++) {
        cJSON_AddNumberToObject(o, srv_status_name(i), (double)n[i]);
        total += n[i];
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    return o;
}

/* "YYYY-MM-DDTHH:MMZ" */
static void utc_minute(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%MZ", &tm);
}

/* When a job's schedule lets it release next, in words ("" when it does now). */
static void schedule_next(const srv_job_config_t *jc, char *buf, size_t cap)
{
    int64_t now = srv_now(), at;
    char when[32];
    buf[0] = 0;
    if (jc->sc.start > now) {
        utc_minute(jc->sc.start, when, sizeof when);
        snprintf(buf, cap, "releases start at %s (schedulingConfig.startTime)", when);
    } else if (jc->sc.n && !srv_sched_open(&jc->sc, now) && (at = srv_sched_next_open(&jc->sc, now))) {
        utc_minute(at, when, sizeof when);
        snprintf(buf, cap, "releases go on when the next maintenance window opens, at %s", when);
    }
}

static int count_downloaded(void *arg, const srv_exec_t *ex)
{
    cJSON *d = cJSON_Parse(ex->details);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(d, "step");
    *(int64_t *)arg += cJSON_IsString(step) && !strcmp(step->valuestring, "downloaded");
    cJSON_Delete(d);
    return 0;
}

/* A deferred job's install: told or not, the window, and how many devices
 * wait with the image downloaded and checked. */
static cJSON *install_json(srv_store_t *st, const srv_job_t *j, const srv_job_config_t *jc, const cJSON *state)
{
    cJSON *o = cJSON_CreateObject();
    int64_t downloaded = 0;
    bool told = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "install"));
    bool open = jc->in.windows.n && srv_sched_open(&jc->in.windows, srv_now());
    cJSON_AddBoolToObject(o, "deferred", true);
    cJSON_AddBoolToObject(o, "told", told);
    if (jc->in.windows.n)
        cJSON_AddBoolToObject(o, "windowOpen", open);
    cJSON_AddStringToObject(o, "signal", told || open ? "NOW" : "WAIT");
    int64_t at = !told && !open ? srv_sched_next_open(&jc->in.windows, srv_now()) : 0;
    if (at) {
        char when[32];
        utc_minute(at, when, sizeof when);
        cJSON_AddStringToObject(o, "nextWindow", when);
    }
    srv_exec_of_job(st, j->seq, SRV_IN_PROGRESS, count_downloaded, &downloaded);
    cJSON_AddNumberToObject(o, "downloaded", (double)downloaded);
    return o;
}

typedef struct {
    int64_t size[SRV_WAVES_MAX + 2], released[SRV_WAVES_MAX + 2], counts[SRV_WAVES_MAX + 2][SRV_STATUS_COUNT];
} wave_counts_t;

static int add_wave_count(void *arg, int wave, int status, int64_t released, int64_t n)
{
    wave_counts_t *w = arg;
    if (wave >= 1 && wave <= SRV_WAVES_MAX + 1) {
        w->size[wave] += n;
        w->released[wave] += released;
        w->counts[wave][status] += n;
    }
    return 0;
}

/* A job's rollout as operators see it: released and waiting, paused and
 * why, the maintenance window, and per wave its size, counts and gate. */
static cJSON *rollout_json(srv_store_t *st, const srv_job_t *j, const srv_job_config_t *jc, const cJSON *state,
                           cJSON *job)
{
    cJSON *r = cJSON_CreateObject();
    int64_t released = 0, waiting = 0;
    const cJSON *cur_v = cJSON_GetObjectItemCaseSensitive(state, "wave");
    const cJSON *count_v = cJSON_GetObjectItemCaseSensitive(state, "waveCount");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(state, "pauseReason");
    int cur = cJSON_IsNumber(cur_v) ? cur_v->valueint : 0, count = cJSON_IsNumber(count_v) ? count_v->valueint : 0;
    srv_exec_release_counts(st, j->seq, INT32_MAX, &released, &waiting, NULL);
    cJSON_AddBoolToObject(r, "paused", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "paused")));
    if (cJSON_IsString(why))
        cJSON_AddStringToObject(r, "pauseReason", why->valuestring);
    cJSON_AddNumberToObject(r, "released", (double)released);
    cJSON_AddNumberToObject(r, "waiting", (double)waiting);
    if (jc->sc.n)
        cJSON_AddBoolToObject(r, "windowOpen", srv_sched_open(&jc->sc, srv_now()));
    if (j->status == SRV_JOB_IN_PROGRESS && jc->sc.start > srv_now()) /* AWS's status until its startTime */
        cJSON_ReplaceItemInObjectCaseSensitive(job, "status", cJSON_CreateString("SCHEDULED"));
    if (!jc->wv.n || count < 1 || count > SRV_WAVES_MAX + 1) {
        char next[256] = "";
        if (waiting && j->status == SRV_JOB_IN_PROGRESS)
            schedule_next(jc, next, sizeof next);
        if (next[0])
            cJSON_AddStringToObject(r, "next", next);
        return r;
    }
    wave_counts_t wc;
    memset(&wc, 0, sizeof wc);
    srv_exec_wave_counts(st, j->seq, add_wave_count, &wc);
    cJSON_AddNumberToObject(r, "wave", cur);
    cJSON *arr = cJSON_AddArrayToObject(r, "waves");
    for (int k = 1; k <= count; k++) {
        const srv_wave_t *w = &jc->wv.w[k - 1];
        cJSON *o = cJSON_CreateObject(), *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "wave", k);
        if (w->group[0])
            cJSON_AddStringToObject(o, "group", w->group);
        else if (w->pct > 0)
            cJSON_AddNumberToObject(o, "percentage", w->pct);
        else if (w->count)
            cJSON_AddNumberToObject(o, "count", (double)w->count);
        else
            cJSON_AddStringToObject(o, "rest", "the targets no wave took");
        cJSON_AddStringToObject(o, "state", k < cur ? "DONE" : k == cur ? "RUNNING" : "WAITING");
        cJSON_AddNumberToObject(o, "size", (double)wc.size[k]);
        cJSON_AddNumberToObject(o, "released", (double)wc.released[k]);
        for (int s = 0; s < SRV_STATUS_COUNT; s++)
            if (wc.counts[k][s])
                cJSON_AddNumberToObject(c, srv_status_name(s), (double)wc.counts[k][s]);
        cJSON_AddItemToObject(o, "counts", c);
        cJSON_AddNumberToObject(o, "successThresholdPercentage", w->success_pct);
        if (w->error_pct >= 0)
            cJSON_AddNumberToObject(o, "errorThresholdPercentage", w->error_pct);
        cJSON_AddStringToObject(o, "successAction", w->pause ? "PAUSE" : "NEXT_WAVE");
        cJSON_AddItemToArray(arr, o);
    }
    /* What comes next, in words. */
    char next[256] = "";
    schedule_next(jc, next, sizeof next);
    if (next[0]) {
        cJSON_AddStringToObject(r, "next", next);
        return r;
    }
    if (cur >= 1 && cur < count && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "paused"))) {
        const srv_wave_t *w = &jc->wv.w[cur - 1];
        double ok = wc.size[cur] ? 100.0 * (double)wc.counts[cur][SRV_SUCCEEDED] / (double)wc.size[cur] : 100.0;
        snprintf(next, sizeof next, "wave %d (%lld devices) %s wave %d has %.2f%% succeeded (now %.2f%%)", cur + 1,
                 (long long)wc.size[cur + 1], w->pause ? "waits for otto job resume once" : "starts once", cur,
                 w->success_pct, ok);
    } else if (cur >= 1 && cur < count) {
        snprintf(next, sizeof next, "paused: otto job resume, or otto job next-wave to start wave %d", cur + 1);
    } else if (cur == count) {
        snprintf(next, sizeof next, "the last wave: the job ends with it");
    }
    if (next[0])
        cJSON_AddStringToObject(r, "next", next);
    return r;
}

static cJSON *job_json(srv_store_t *st, const srv_job_t *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jobId", j->id);
    cJSON_AddStringToObject(o, "status", srv_job_status_name(j->status)); /* SCHEDULED: below */
    cJSON_AddStringToObject(o, "product", j->product);
    cJSON_AddStringToObject(o, "otaTypes", j->ota_types);
    cJSON_AddStringToObject(o, "description", j->description);
    if (j->reason[0])
        cJSON_AddStringToObject(o, "reason", j->reason);
    cJSON_AddNumberToObject(o, "createdAt", (double)j->created_at);
    if (j->completed_at)
        cJSON_AddNumberToObject(o, "completedAt", (double)j->completed_at);
    if (j->timeout_min)
        cJSON_AddNumberToObject(o, "inProgressTimeoutInMinutes", j->timeout_min);
    cJSON_AddItemToObject(o, "counts", counts_json(st, j->seq));
    cJSON *cfg = j->config && strcmp(j->config, "{}") ? cJSON_Parse(j->config) : NULL, *v;
    cJSON_ArrayForEach(v, cfg)
        if (strcmp(v->string, "state")) /* the rollout's state: under "rollout" */
            cJSON_AddItemToObject(o, v->string, cJSON_Duplicate(v, true));
    srv_job_config_t jc;
    char msg[160];
    if (cfg && !srv_job_config_parse(cfg, &jc, msg, sizeof msg)) {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(cfg, "state");
        if (srv_job_config_paced(&jc))
            cJSON_AddItemToObject(o, "rollout", rollout_json(st, j, &jc, state, o));
        if (jc.in.deferred)
            cJSON_AddItemToObject(o, "install", install_json(st, j, &jc, state));
    }
    cJSON_Delete(cfg);
    return o;
}

static int add_fw(void *arg, const srv_fw_t *f)
{
    void **a = arg;
    cJSON_AddItemToArray(a[0], fw_json(f, a[1]));
    return 0;
}

/* {key: name, count_key: n} appended to arr (group sizes, failure counts). */
static int add_counted(cJSON *arr, const char *key, const char *name, const char *count_key, int64_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, name);
    cJSON_AddNumberToObject(o, count_key, (double)n);
    cJSON_AddItemToArray(arr, o);
    return 0;
}

static int add_group(void *arg, const char *g, int64_t n)
{
    return add_counted(arg, "group", g, "devices", n);
}

typedef struct {
    srv_store_t *st;
    cJSON *arr;
    int64_t last_seq;
} job_list_t;

static int add_job(void *arg, const srv_job_t *j)
{
    job_list_t *l = arg;
    cJSON_AddItemToArray(l->arr, job_json(l->st, j));
    l->last_seq = j->seq;
    return 0;
}

typedef struct {
    srv_store_t *st;
    cJSON *arr;
    char last[SRV_THING_MAX + 1];
} device_page_t;

static int add_device_page(void *arg, const srv_device_t *d)
{
    device_page_t *p = arg;
    cJSON_AddItemToArray(p->arr, device_row_json(p->st, d));
    snprintf(p->last, sizeof p->last, "%s", d->thing);
    return 0;
}

/* Paging AWS's way: ?maxResults=N (1-1000, default 100) and the nextToken
 * of the page before. 0, or -1 having answered 400. */
#define PAGE_DEFAULT 100
#define PAGE_MAX     1000
static int page_args(struct MHD_Connection *c, int *limit, const char **token)
{
    const char *m = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "maxResults");
    char *end;
    *limit = PAGE_DEFAULT;
    *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "nextToken");
    if (m) {
        long v = strtol(m, &end, 10);
        if (!*m || *end || v < 1 || v > PAGE_MAX) {
            srv_http_err(c, 400, "invalid", "maxResults: a number from 1 to %d", PAGE_MAX);
            return -1;
        }
        *limit = (int)v;
    }
    return 0;
}

static enum MHD_Result send_page(struct MHD_Connection *c, const char *key, cJSON *arr, bool more,
                                 const char *next)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, key, arr);
    if (more)
        cJSON_AddStringToObject(o, "nextToken", next);
    return srv_http_json(c, 200, o);
}

static int add_exec(void *arg, const srv_exec_t *ex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "thingName", ex->thing);
    cJSON_AddStringToObject(o, "status", srv_status_name(ex->status));
    cJSON_AddNumberToObject(o, "executionNumber", ex->exec_no);
    cJSON_AddNumberToObject(o, "versionNumber", (double)ex->version);
    cJSON *d = cJSON_Parse(ex->details);
    cJSON_AddItemToObject(o, "statusDetails", cJSON_IsObject(d) ? d : cJSON_CreateObject());
    if (!cJSON_IsObject(d))
        cJSON_Delete(d);
    cJSON_AddNumberToObject(o, "queuedAt", (double)ex->queued_at);
    if (ex->started_at)
        cJSON_AddNumberToObject(o, "startedAt", (double)ex->started_at);
    cJSON_AddNumberToObject(o, "lastUpdatedAt", (double)ex->updated_at);
    if (ex->wave)
        cJSON_AddNumberToObject(o, "wave", ex->wave);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

/* ---- handlers (called with the server lock held) ---------------------- */

/* Collect a JSON array of strings into a NULL-free vector of pointers into
 * the cJSON tree; returns -1 if some item is not a string. */
static int str_array(const cJSON *a, const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return -1;
    size_t cnt = (size_t)cJSON_GetArraySize(a);
    const char **v = calloc(cnt ? cnt : 1, sizeof *v);
    const cJSON *it;
    if (!v)
        return -1;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsString(it)) {
            free(v);
            return -1;
        }
        v[(*n)++] = it->valuestring;
    }
    *out = v;
    return 0;
}

/* A job's configuration objects: AWS's, under AWS's names, and otto's
 * rolloutWaves and installConfig. */
static const char *const config_fields[] = {"jobExecutionsRolloutConfig", "abortConfig", "jobExecutionsRetryConfig",
                                            "targetSelection", "schedulingConfig", "rolloutWaves", "installConfig",
                                            "where"};
/* The fields a job template may carry: a job's, less its targets and id,
 * and no startTime/endTime (as AWS's templates). */
static const char *const template_fields[] = {"firmware", "description", "inProgressTimeoutInMinutes",
                                              "timeoutConfig", "allowUnsigned"};

static bool is_one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* A job from a template: the template's fields where the request has none. */
static int apply_template(srv_t *s, cJSON *body, char *msg, size_t cap)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "template");
    char *txt = NULL;
    if (!t)
        return OTTO_OK;
    if (!cJSON_IsString(t)) {
        snprintf(msg, cap, "template: a template's name");
        return OTTO_E_INVAL;
    }
    int err = srv_template_get(s->st, t->valuestring, &txt);
    if (err) {
        snprintf(msg, cap, "no job template '%.64s' (otto job template list)", t->valuestring);
        return err;
    }
    cJSON *tpl = cJSON_Parse(txt), *v;
    free(txt);
    cJSON_ArrayForEach(v, tpl)
        if (!cJSON_GetObjectItemCaseSensitive(body, v->string))
            cJSON_AddItemToObject(body, v->string, cJSON_Duplicate(v, true));
    cJSON_Delete(tpl);
    return OTTO_OK;
}

static enum MHD_Result h_jobs_create(srv_t *s, struct MHD_Connection *c, cJSON *body)
{
    srv_job_spec_t spec = {0};
    char tmsg[200];
    int terr = apply_template(s, body, tmsg, sizeof tmsg);
    if (terr)
        return srv_http_otto_err(c, terr, tmsg);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "targets");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "jobId");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(body, "description");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(body, "inProgressTimeoutInMinutes");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(body, "timeoutConfig"); /* AWS's name for the same */
    if (!to && cJSON_IsObject(tc))
        to = cJSON_GetObjectItemCaseSensitive(tc, "inProgressTimeoutInMinutes");
    const cJSON *unsig = cJSON_GetObjectItemCaseSensitive(body, "allowUnsigned");
    const cJSON *keyupd = cJSON_GetObjectItemCaseSensitive(body, "keyUpdates");
    char job_id[SRV_JOBID_MAX + 1], msg[512];
    size_t n = 0;
    enum MHD_Result ret;

    if ((id && !cJSON_IsString(id)) || (desc && !cJSON_IsString(desc)) || (unsig && !cJSON_IsBool(unsig)) ||
        (to && (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > 10080)) ||
        (t && !cJSON_IsObject(t)) ||
        str_array(cJSON_GetObjectItemCaseSensitive(t, "devices"), (const char ***)&spec.devices,
                  &spec.ndevices) ||
        str_array(cJSON_GetObjectItemCaseSensitive(t, "groups"), (const char ***)&spec.groups,
                  &spec.ngroups) ||
        str_array(cJSON_GetObjectItemCaseSensitive(body, "firmware"), (const char ***)&spec.fw_ids,
                  &spec.nfw)) {
        ret = srv_http_err(c, 400, "invalid",
                       "a job is {\"targets\": {\"devices\": [...], \"groups\": [...]}, \"firmware\":"
                       " [ids], \"jobId\"?, \"description\"?, \"inProgressTimeoutInMinutes\"? (1-10080)}");
        goto out;
    }
    if (desc && strlen(desc->valuestring) >= sizeof ((srv_job_t *)0)->description) {
        ret = srv_http_err(c, 400, "invalid", "description: at most 255 bytes");
        goto out;
    }
    spec.job_id = id ? id->valuestring : NULL;
    spec.description = desc ? desc->valuestring : NULL;
    spec.timeout_min = to ? (int)to->valuedouble : 0;
    spec.allow_unsigned = cJSON_IsTrue(unsig);
    spec.key_updates = keyupd;
    /* the configuration objects, beside otto's own fields */
    cJSON *cfg = NULL;
    for (size_t i = 0; i < sizeof config_fields / sizeof *config_fields; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, config_fields[i]);
        if (!v)
            continue;
        if (!cfg)
            cfg = cJSON_CreateObject();
        cJSON_AddItemToObject(cfg, config_fields[i], cJSON_Duplicate(v, true));
    }
    spec.config = cfg;
    spec.left_out = cJSON_CreateArray();
    int err = srv_engine_create_job(&s->eng, &spec, job_id, &n, msg, sizeof msg);
    cJSON_Delete(cfg);
    if (err) {
        cJSON_Delete(spec.left_out);
        ret = srv_http_otto_err(c, err, msg);
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jobId", job_id);
    cJSON_AddNumberToObject(o, "executions", (double)n);
    cJSON_AddItemToObject(o, "leftOut", spec.left_out); /* targets the job does not reach, and why */
    ret = srv_http_json(c, 201, o);
out:
    free((void *)spec.devices);
    free((void *)spec.groups);
    free((void *)spec.fw_ids);
    return ret;
}

static bool query_true(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && (!strcmp(v, "1") || !strcmp(v, "true"));
}

static bool query_false(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && (!strcmp(v, "0") || !strcmp(v, "false"));
}

static enum MHD_Result h_job_show(srv_t *s, struct MHD_Connection *c, const char *id)
{
    srv_job_t j;
    int err = srv_job_get(s->st, id, &j);
    if (err)
        return err == OTTO_E_NOTFOUND ? srv_http_err(c, 404, "not_found", "no job '%s'", id)
                                      : srv_http_otto_err(c, err, NULL);
    cJSON *o = job_json(s->st, &j);
    cJSON *ro = cJSON_GetObjectItemCaseSensitive(o, "rollout");
    for (int i = 0; ro && i < SRV_PACE_JOBS; i++)
        if (s->eng.pace[i].seq == j.seq) /* releasing now: at this rate a minute */
            cJSON_AddNumberToObject(ro, "ratePerMinute", s->eng.pace[i].rate);
    cJSON_AddItemToObject(o, "document", cJSON_Parse(j.document));
    cJSON_AddItemToObject(o, "targets", cJSON_Parse(j.targets));
    cJSON_AddItemToObject(o, "firmware", cJSON_Parse(j.fw_ids));
    if (!query_false(c, "executions")) {
        cJSON *arr = cJSON_AddArrayToObject(o, "executions");
        srv_exec_of_job(s->st, j.seq, -1, add_exec, arr);
    }
    srv_job_clear(&j);
    return srv_http_json(c, 200, o);
}

static enum MHD_Result h_job_cancel(srv_t *s, struct MHD_Connection *c, const char *id,
                                    cJSON *body)
{
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(body, "force");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(body, "reason");
    char msg[512];
    if ((force && !cJSON_IsBool(force)) || (reason && !cJSON_IsString(reason)))
        return srv_http_err(c, 400, "invalid", "cancel takes {\"force\": bool, \"reason\": string}");
    if (reason) {
        size_t n = strlen(reason->valuestring);
        bool ok = n <= SRV_REASON_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (unsigned char)reason->valuestring[i] >= 0x20 && reason->valuestring[i] != 0x7f;
        if (!ok)
            return srv_http_err(c, 400, "invalid", "reason: at most 255 bytes, no control characters");
    }
    int err = srv_engine_cancel_job(&s->eng, id, cJSON_IsTrue(force),
                                    reason ? reason->valuestring : NULL, msg, sizeof msg);
    if (err)
        return srv_http_otto_err(c, err, msg);
    return h_job_show(s, c, id);
}

/* One device {thing, product?, groups?}; 0 or an error with msg. */
static int add_one_device(srv_t *s, const cJSON *d, char *msg, size_t len)
{
    const cJSON *thing = cJSON_GetObjectItemCaseSensitive(d, "thing");
    const cJSON *product = cJSON_GetObjectItemCaseSensitive(d, "product");
    const char **groups = NULL;
    size_t ng = 0;
    if (!cJSON_IsString(thing) || !srv_valid_thing(thing->valuestring)) {
        snprintf(msg, len, "\"thing\" must be 1-128 of [a-zA-Z0-9:_-], such as a MAC address");
        return OTTO_E_INVAL;
    }
    if ((product && !cJSON_IsString(product)) ||
        str_array(cJSON_GetObjectItemCaseSensitive(d, "groups"), &groups, &ng)) {
        snprintf(msg, len, "\"product\" must be a string and \"groups\" an array of strings");
        return OTTO_E_INVAL;
    }
    /* Refused, never cut (D8). */
    if (product && product->valuestring[0] && !srv_valid_name(product->valuestring)) {
        snprintf(msg, len, "\"product\" must be 1-64 of letters, digits, '.', '_', '-'");
        free(groups);
        return OTTO_E_INVAL;
    }
    /* The groups it is in already, and the new ones, must all fit. */
    srv_device_t cur;
    size_t total = ng;
    if (!srv_device_get(s->st, thing->valuestring, &cur) && cur.groups[0]) {
        char *save = NULL;
        for (char *g = strtok_r(cur.groups, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
            bool again = false;
            for (size_t i = 0; i < ng && !again; i++)
                again = !strcmp(groups[i], g);
            total += !again;
        }
    }
    if (total > SRV_DEVICE_GROUPS_MAX) {
        snprintf(msg, len, "a device is in at most %d groups", SRV_DEVICE_GROUPS_MAX);
        free(groups);
        return OTTO_E_INVAL;
    }
    for (size_t i = 0; i < ng; i++)
        if (!srv_valid_job_id(groups[i])) {
            snprintf(msg, len, "group '%.64s' must be 1-64 of [a-zA-Z0-9_-]", groups[i]);
            free(groups);
            return OTTO_E_INVAL;
        }
    int err = srv_device_upsert(s->st, thing->valuestring, product ? product->valuestring : "",
                                groups, ng, srv_now());
    free(groups);
    return err;
}

static enum MHD_Result h_devices_add(srv_t *s, struct MHD_Connection *c, cJSON *body)
{
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(body, "devices"), *d;
    char msg[256] = "";
    size_t n = 0;
    int err;
    if ((err = srv_store_begin(s->st)))
        return srv_http_otto_err(c, err, NULL);
    if (many) {
        if (!cJSON_IsArray(many)) {
            srv_store_rollback(s->st);
            return srv_http_err(c, 400, "invalid", "\"devices\" must be an array");
        }
        cJSON_ArrayForEach(d, many) {
            if ((err = add_one_device(s, d, msg, sizeof msg)))
                break;
            n++;
        }
    } else if (!(err = add_one_device(s, body, msg, sizeof msg))) {
        n = 1;
    }
    if (err) {
        srv_store_rollback(s->st);
        return srv_http_otto_err(c, err, msg);
    }
    if ((err = srv_store_commit(s->st)))
        return srv_http_otto_err(c, err, NULL);
    /* Continuous jobs reach devices that join their groups. */
    const char **things = malloc((n ? n : 1) * sizeof *things);
    size_t nt = 0;
    if (things) {
        if (many) {
            cJSON_ArrayForEach(d, many)
                things[nt++] = cJSON_GetObjectItemCaseSensitive(d, "thing")->valuestring;
        } else {
            things[nt++] = cJSON_GetObjectItemCaseSensitive(body, "thing")->valuestring;
        }
        srv_engine_joined(&s->eng, things, nt, srv_now());
        free(things);
    }
    if (!many) {
        srv_device_t dev;
        const cJSON *thing = cJSON_GetObjectItemCaseSensitive(body, "thing");
        if (srv_device_get(s->st, thing->valuestring, &dev) == OTTO_OK)
            return srv_http_json(c, 201, device_json(&dev));
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "devices", (double)n);
    return srv_http_json(c, 201, o);
}

static enum MHD_Result h_upload(srv_t *s, struct MHD_Connection *c, req_t *r)
{
    srv_fw_t fw;
    bool created;
    char msg[512];
    if (r->up_err || r->up.disk_full) {
        bool full = r->up.disk_full;
        srv_upload_abort(&r->up);
        r->up_open = false;
        if (full)
            return srv_http_err(c, 507, "disk_full",
                                "the data directory's disk is full: the upload was refused; free space and upload again");
        if (r->desc_big)
            return srv_http_err(c, 413, "too_large", "the descriptor part is over 64 KiB");
        if (r->up_err == OTTO_E_NOSPC)
            return srv_http_err(c, 413, "too_large", "the firmware file is over 64 MiB");
        if (!r->pp)
            return srv_http_err(c, 400, "invalid", "multipart/form-data needs a boundary parameter");
        return srv_http_otto_err(c, r->up_err, "could not receive the upload");
    }
    if (!r->up_open)
        return srv_http_err(c, 400, "invalid",
                        "upload multipart/form-data with a \"file\" part and a \"descriptor\" part");
    if (r->sig_big) {
        srv_upload_abort(&r->up);
        r->up_open = false;
        return srv_http_err(c, 400, "invalid", "the signature part is not a DER ECDSA P-256 signature (too long)");
    }
    int err = srv_firmware_ingest(s->st, s->cfg.data_dir, &r->up, r->name, r->descriptor, r->sig, r->siglen,
                                  &fw, &created, msg, sizeof msg);
    r->up_open = false;
    if (err && r->up.disk_full)
        return srv_http_err(c, 507, "disk_full", "%s; free space and upload again", msg);
    if (err)
        return srv_http_otto_err(c, err, msg);
    if (created) /* patches to it from what devices run, before any job asks */
        srv_engine_fw_added(&s->eng, &fw);
    return srv_http_json(c, created ? 201 : 200, fw_json(&fw, s->eng.public_url));
}

static enum MHD_Result h_healthz(srv_t *s, struct MHD_Connection *c)
{
    cJSON *o = cJSON_CreateObject();
    bool mq = srv_mqtt_connected(s->mqtt);
    cJSON_AddStringToObject(o, "status", mq ? "ok" : "degraded");
    cJSON_AddStringToObject(o, "version", "0.1.0");
    cJSON_AddBoolToObject(o, "mqtt", mq);
    cJSON_AddNumberToObject(o, "uptime", (double)(srv_now() - s->started));
    cJSON_AddNumberToObject(o, "http_aborted", (double)atomic_load(&s->http_aborted));
    cJSON_AddNumberToObject(o, "http_refused", (double)atomic_load(&s->http_refused));
    cJSON_AddNumberToObject(o, "mqttRequests", (double)s->eng.n_requests);
    cJSON_AddNumberToObject(o, "mqttRejected", (double)s->eng.n_rejected);
    cJSON_AddNumberToObject(o, "mqttPublished", (double)s->eng.n_published);
    cJSON_AddNumberToObject(o, "mqttThrottled", (double)atomic_load(&s->mqtt_throttled));
    cJSON_AddNumberToObject(o, "registrationsDeferred", (double)s->eng.n_reg_refused);
    return srv_http_json(c, mq ? 200 : 503, o);
}

/* ---- /metrics (Prometheus text format 0.0.4) ------------------------------ */

typedef struct {
    srv_text_t *t;
    const char *last_status;
} reasons_t;

static int add_reason(void *arg, const char *status, const char *reason, int64_t n)
{
    reasons_t *r = arg;
    srv_text_printf(r->t, "otto_executions{status=\"");
    srv_text_label(r->t, status);
    srv_text_printf(r->t, "\",reason=\"");
    srv_text_label(r->t, reason);
    srv_text_printf(r->t, "\"} %lld\n", (long long)n);
    return 0;
}

/* This worker's counters (metrics.h), then what is fleet-wide, read from
 * the store once per scrape: executions by status and reason, devices,
 * and the rate each paced rollout releases at now. */
static enum MHD_Result h_metrics(srv_t *s, struct MHD_Connection *c)
{
    srv_text_t t = {0};
    srv_metrics_write(&s->eng.metrics, &t);
    srv_text_family(&t, "otto_mqtt_connected", "gauge", "Whether ottod is connected to the broker");
    srv_text_printf(&t, "otto_mqtt_connected %d\n", srv_mqtt_connected(s->mqtt) ? 1 : 0);
    srv_text_family(&t, "otto_http_refused_total", "counter", "HTTP connections or requests over a client's limit");
    srv_text_printf(&t, "otto_http_refused_total %lu\n", atomic_load(&s->http_refused));
    srv_text_family(&t, "otto_mqtt_throttled_total", "counter", "MQTT requests over their thing's budget, dropped");
    srv_text_printf(&t, "otto_mqtt_throttled_total %lu\n", atomic_load(&s->mqtt_throttled));
    srv_text_family(&t, "otto_start_time_seconds", "gauge", "When this ottod started (Unix time)");
    srv_text_printf(&t, "otto_start_time_seconds %lld\n", (long long)s->started);

    reasons_t r = {&t, NULL};
    int64_t total = 0, online = 0;
    pthread_mutex_lock(&s->lock);
    srv_text_family(&t, "otto_executions", "gauge", "Job executions in the store, by status and reason");
    int err = srv_exec_reasons(s->st, add_reason, &r);
    if (!err)
        err = srv_device_counts(s->st, &total, &online);
    srv_text_family(&t, "otto_devices", "gauge", "Registered devices");
    srv_text_printf(&t, "otto_devices %lld\n", (long long)total);
    srv_text_family(&t, "otto_devices_connected", "gauge",
                    "Devices connected to the broker (their birth and will on otto/things/+/status)");
    srv_text_printf(&t, "otto_devices_connected %lld\n", (long long)online);
    srv_text_family(&t, "otto_rollout_rate_per_minute", "gauge",
                    "Executions a paced rollout releases a minute now, by job");
    for (int i = 0; i < SRV_PACE_JOBS; i++) {
        srv_job_t j;
        if (!s->eng.pace[i].seq || srv_job_get_seq(s->st, s->eng.pace[i].seq, &j))
            continue;
        srv_text_printf(&t, "otto_rollout_rate_per_minute{job=\"");
        srv_text_label(&t, j.id);
        srv_text_printf(&t, "\"} %g\n", s->eng.pace[i].rate);
        srv_job_clear(&j);
    }
    pthread_mutex_unlock(&s->lock);
    if (err || t.oom) {
        free(t.b);
        return srv_http_otto_err(c, err ? err : OTTO_E_NOSPC, NULL);
    }
    return send_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", t.b);
}


static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* libmicrohttpd's own complaints (mostly clients that went away) are
 * counted and kept at debug level: a client must not fill the log (D6). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv_t *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = 0;
    atomic_fetch_add(&s->http_aborted, 1);
    SRV_LOG_DBG("http: %s", msg);
}

/* Percent-decoding that leaves %00 as it is: a NUL would end the C string
 * and every check would run on a prefix (D7); left encoded, the name is
 * simply invalid. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *w = s;
    (void)cls;
    (void)c;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* ---- routing ----------------------------------------------------------- */

/* If url is prefix + "/" + name (no further '/'), copy name out. */
static bool leaf(const char *url, const char *prefix, char *name, size_t cap, const char *suffix)
{
    size_t pl = strlen(prefix), sl = suffix ? strlen(suffix) : 0;
    if (strncmp(url, prefix, pl) || url[pl] != '/')
        return false;
    const char *p = url + pl + 1;
    size_t n = strlen(p);
    if (sl) {
        if (n <= sl || strcmp(p + n - sl, suffix))
            return false;
        n -= sl;
    }
    if (n == 0 || n >= cap || memchr(p, '/', n))
        return false;
    memcpy(name, p, n);
    name[n] = 0;
    return true;
}

/* Who is asking (auth.c): the token's role and, for the audit log, name. */
static bool authorize(srv_t *s, struct MHD_Connection *c, req_t *r)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&s->lock);
    r->role = srv_auth(s->st, s->token_hash, h, srv_now(), r->who, sizeof r->who);
    pthread_mutex_unlock(&s->lock);
    return r->role != SRV_ROLE_NONE;
}

/* ---- the REST routes ------------------------------------------------------ */

typedef enum MHD_Result (*handler_t)(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body);

static enum MHD_Result r_fw_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    cJSON *arr = cJSON_CreateArray();
    void *a[2] = {arr, (void *)s->eng.public_url};
    srv_fw_list(s->st, add_fw, a);
    return srv_http_json(c, 200, arr);
}

static enum MHD_Result r_fw_show(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_fw_t fw;
    (void)body;
    if (srv_fw_get(s->st, name, &fw))
        return srv_http_err(c, 404, "not_found", "no firmware '%s'", name);
    return srv_http_json(c, 200, fw_json(&fw, s->eng.public_url));
}

static int add_delta(void *arg, const srv_delta_t *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "base", d->base_fw);
    cJSON_AddStringToObject(o, "target", d->target_fw);
    cJSON_AddNumberToObject(o, "size", (double)d->size);
    cJSON_AddNumberToObject(o, "createdAt", (double)d->created_at);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

/* The delta patches made from or to a firmware (deltas.h makes them). */
static enum MHD_Result r_fw_deltas(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_fw_t fw;
    (void)body;
    if (srv_fw_get(s->st, name, &fw))
        return srv_http_err(c, 404, "not_found", "no firmware '%s'", name);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "deltas");
    srv_delta_list(s->st, fw.id, add_delta, arr);
    cJSON_AddNumberToObject(o, "size", (double)fw.size);
    return srv_http_json(c, 200, o);
}

/* A download link for one device, minted as a job document's are: for a
 * technician flashing by hand, or a device outside any job. */
static enum MHD_Result r_fw_link(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_fw_t fw;
    const cJSON *thing = cJSON_GetObjectItemCaseSensitive(body, "thing");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl");
    if (!cJSON_IsString(thing) || !srv_valid_thing(thing->valuestring))
        return srv_http_err(c, 400, "invalid", "thing: the device the link is for");
    if (ttl && (!cJSON_IsNumber(ttl) || ttl->valuedouble < 1 || ttl->valuedouble > 7 * 86400))
        return srv_http_err(c, 400, "invalid", "ttl: seconds, 1 to 604800");
    int err = srv_fw_get(s->st, name, &fw); /* handlers run under s->lock */
    if (err)
        return err == OTTO_E_NOTFOUND ? srv_http_err(c, 404, "not_found", "no firmware '%s'", name)
                                      : srv_http_otto_err(c, err, NULL);
    char base[512], url[1024];
    snprintf(base, sizeof base, "%s/fw/%s", s->eng.public_url, fw.id);
    srv_links_t l = s->eng.links;
    if (ttl)
        l.ttl_s = (int)ttl->valuedouble;
    int64_t now = srv_now();
    if (!l.on)
        snprintf(url, sizeof url, "%s", base); /* --insecure: downloads are open */
    else if (srv_links_mint(&l, base, fw.id, thing->valuestring, now, url, sizeof url))
        return srv_http_err(c, 400, "too_long", "the link would be longer than %zu bytes", sizeof url - 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "thing", thing->valuestring);
    if (l.on)
        cJSON_AddNumberToObject(o, "expires", (double)(now + l.ttl_s));
    return srv_http_json(c, 200, o);
}

static enum MHD_Result r_fw_delete(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    char msg[512] = "";
    (void)body;
    int err = srv_firmware_delete(s->st, s->cfg.data_dir, name, msg, sizeof msg);
    if (!err)
        srv_download_forget(s, name);
    return err ? srv_http_otto_err(c, err, msg) : send_deleted(c, name);
}

static enum MHD_Result r_devices_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    int limit;
    const char *token;
    bool more = false;
    (void)name;
    (void)body;
    if (page_args(c, &limit, &token))
        return MHD_YES;
    if (token && !srv_valid_thing(token))
        return srv_http_err(c, 400, "invalid", "nextToken: not one this server gave");
    /* The fleet list's filters: group, a part of the name, a version it
     * runs, online or offline; withCount: how many match in all. */
    const char *status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    srv_device_filter_t f = {MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "group"),
                             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q"),
                             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version"), -1};
    if (status && *status) {
        if (strcmp(status, "online") && strcmp(status, "offline"))
            return srv_http_err(c, 400, "invalid", "status: online or offline");
        f.online = !strcmp(status, "online");
    }
    device_page_t p = {s->st, cJSON_CreateArray(), ""};
    int64_t total = -1;
    if (srv_device_list(s->st, &f, token ? token : "", limit, &more, add_device_page, &p) ||
        (query_true(c, "withCount") && srv_device_count(s->st, &f, &total))) {
        cJSON_Delete(p.arr);
        return srv_http_otto_err(c, OTTO_E_IO, NULL);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "devices", p.arr);
    if (more)
        cJSON_AddStringToObject(o, "nextToken", p.last);
    if (total >= 0)
        cJSON_AddNumberToObject(o, "total", (double)total);
    return srv_http_json(c, 200, o);
}

/* The overview: what the fleet runs, devices connected, jobs under way,
 * and failures of the last 24 hours by reason. */
static int add_version(void *arg, const char *type, const char *version, int64_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "otaType", type);
    cJSON_AddStringToObject(o, "version", version);
    cJSON_AddNumberToObject(o, "devices", (double)n);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

static int add_failure(void *arg, const char *reason, int64_t n)
{
    return add_counted(arg, "reason", reason, "count", n);
}

static enum MHD_Result r_stats(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    int64_t total = 0, online = 0, now = srv_now();
    cJSON *o = cJSON_CreateObject();
    cJSON *v = cJSON_AddArrayToObject(o, "versions"), *f = cJSON_AddArrayToObject(o, "failures");
    int err = srv_device_counts(s->st, &total, &online);
    if (!err)
        err = srv_fleet_versions(s->st, add_version, v);
    if (!err)
        err = srv_recent_failures(s->st, now - 86400, 10, add_failure, f);
    if (err) {
        cJSON_Delete(o);
        return srv_http_otto_err(c, err, NULL);
    }
    cJSON_AddNumberToObject(o, "devices", (double)total);
    cJSON_AddNumberToObject(o, "online", (double)online);
    cJSON_AddNumberToObject(o, "failuresSince", (double)(now - 86400));
    return srv_http_json(c, 200, o);
}

static enum MHD_Result r_devices_add(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    return h_devices_add(s, c, body);
}

static enum MHD_Result r_device_show(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_device_t d;
    (void)body;
    if (srv_device_get(s->st, name, &d))
        return srv_http_err(c, 404, "not_found", "no device '%s'", name);
    return srv_http_json(c, 200, device_json(&d));
}

static enum MHD_Result r_device_delete(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    int err = srv_device_delete(s->st, name);
    return err ? srv_http_otto_err(c, err, err == OTTO_E_NOTFOUND ? "no such device" : NULL) : send_deleted(c, name);
}

/* A device's TLS identity: a certificate whose CN is its thing name (what
 * the broker's ACL confines it by), for a key made here (returned once,
 * never stored) or for the key in the device's own CSR. */
static enum MHD_Result r_device_cert(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_device_t d;
    char err[200] = "", cn[SRV_THING_MAX + 1] = "";
    const cJSON *csr = cJSON_GetObjectItemCaseSensitive(body, "csr");
    if (csr && !cJSON_IsString(csr))
        return srv_http_err(c, 400, "invalid", "csr: a PEM certificate signing request");
    if (srv_device_get(s->st, name, &d))
        return srv_http_err(c, 404, "not_found", "no device '%s' (otto device add it first)", name);
    if (!s->cfg.tls_ca_key[0])
        return srv_http_err(c, 409, "no_ca", "this ottod has no CA to issue with (ottod init sets one up)");
    if (srv_revoked_has(s->cfg.data_dir, name))
        return srv_http_err(c, 409, "revoked", "device '%s' is revoked: it gets no new certificate", name);
    X509 *ca = srv_pki_read_cert(s->cfg.tls_ca);
    EVP_PKEY *cakey = srv_pki_read_key(s->cfg.tls_ca_key), *key = NULL, *pub = NULL;
    if (!ca || !cakey) {
        X509_free(ca);
        EVP_PKEY_free(cakey);
        return srv_http_err(c, 500, "internal", "cannot read the CA (%s)", s->cfg.tls_ca);
    }
    if (csr) {
        pub = srv_pki_csr(csr->valuestring, strlen(csr->valuestring), cn, sizeof cn, err);
        if (pub && cn[0] && strcmp(cn, name)) {
            snprintf(err, sizeof err, "the request is for CN '%.64s', not for '%s'", cn, name);
            EVP_PKEY_free(pub);
            pub = NULL;
        }
    } else {
        pub = key = srv_pki_keygen();
    }
    X509 *x = pub ? srv_pki_issue(ca, cakey, pub, name, NULL, 0, SRV_CERT_CLIENT, SRV_CERT_DAYS_DEVICE, err) : NULL;
    enum MHD_Result ret;
    if (!x) {
        ret = srv_http_err(c, 400, "invalid", "%s", err[0] ? err : "cannot issue");
    } else {
        char *cp = srv_pki_cert_pem(x), *kp = key ? srv_pki_key_pem(key) : NULL, *ap = srv_pki_cert_pem(ca);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "thing", name);
        cJSON_AddStringToObject(o, "cert", cp ? cp : "");
        if (kp)
            cJSON_AddStringToObject(o, "key", kp);
        cJSON_AddStringToObject(o, "ca", ap ? ap : "");
        cJSON_AddNumberToObject(o, "notAfter", (double)srv_pki_not_after(x));
        SRV_LOG_INF("thing=%s certificate issued (%s), valid until %lld", name, csr ? "its own key" : "new key",
                    srv_pki_not_after(x));
        if (kp)
            OPENSSL_cleanse(kp, strlen(kp));
        free(cp);
        free(kp);
        free(ap);
        ret = srv_http_json(c, 201, o);
    }
    X509_free(x);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(cakey);
    X509_free(ca);
    return ret;
}

/* {"revoked": name}: the answer to every revocation. */
static enum MHD_Result send_revoked(struct MHD_Connection *c, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "revoked", name);
    return srv_http_json(c, 200, o);
}

/* Lock a device out: the broker's plugin reads DATA/revoked within a second,
 * drops its connections and denies its every message; no new certificate. */
static enum MHD_Result r_device_revoke(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    srv_device_t d;
    (void)body;
    if (srv_device_get(s->st, name, &d))
        return srv_http_err(c, 404, "not_found", "no device '%s'", name);
    if (srv_revoked_add(s->cfg.data_dir, name))
        return srv_http_err(c, 500, "internal", "cannot write the revocation list");
    SRV_LOG_WRN("thing=%s revoked: locked out of the broker, no new certificate", name);
    return send_revoked(c, name);
}

static enum MHD_Result r_groups(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    cJSON *arr = cJSON_CreateArray();
    srv_group_list(s->st, add_group, arr);
    return srv_http_json(c, 200, arr);
}

static enum MHD_Result r_jobs_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    int limit;
    const char *token;
    char *end = NULL, next[24];
    bool more = false;
    long long before = 0;
    (void)name;
    (void)body;
    if (page_args(c, &limit, &token))
        return MHD_YES;
    if (token && ((before = strtoll(token, &end, 10)) <= 0 || *end))
        return srv_http_err(c, 400, "invalid", "nextToken: not one this server gave");
    job_list_t l = {s->st, cJSON_CreateArray(), 0};
    srv_job_list(s->st, before, limit, &more, add_job, &l);
    snprintf(next, sizeof next, "%lld", (long long)l.last_seq);
    return send_page(c, "jobs", l.arr, more, next);
}

static enum MHD_Result r_jobs_create(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    return h_jobs_create(s, c, body);
}

static enum MHD_Result r_job_cancel(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    return h_job_cancel(s, c, name, body);
}

static enum MHD_Result job_rollout_op(srv_t *s, struct MHD_Connection *c, const char *name, int op)
{
    char msg[256];
    int err = srv_engine_rollout_op(&s->eng, name, op, msg, sizeof msg);
    return err ? srv_http_otto_err(c, err, msg) : h_job_show(s, c, name);
}

static enum MHD_Result r_job_pause(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    return job_rollout_op(s, c, name, SRV_ROLLOUT_PAUSE);
}

static enum MHD_Result r_job_resume(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    return job_rollout_op(s, c, name, SRV_ROLLOUT_RESUME);
}

static enum MHD_Result r_job_install(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    return job_rollout_op(s, c, name, SRV_ROLLOUT_INSTALL);
}

static enum MHD_Result r_job_next_wave(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    return job_rollout_op(s, c, name, SRV_ROLLOUT_NEXT_WAVE);
}

static enum MHD_Result r_templates_add(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "name"), *v;
    char msg[200];
    (void)name;
    if (!cJSON_IsString(n) || !srv_valid_name(n->valuestring))
        return srv_http_err(c, 400, "invalid", "a job template needs a \"name\": 1-64 of [A-Za-z0-9._-]");
    cJSON *t = cJSON_CreateObject();
    cJSON_ArrayForEach(v, body) {
        bool known = !strcmp(v->string, "name") ||
                     is_one_of(v->string, template_fields, sizeof template_fields / sizeof *template_fields) ||
                     is_one_of(v->string, config_fields, sizeof config_fields / sizeof *config_fields);
        if (!known) {
            cJSON_Delete(t);
            return srv_http_err(c, 400, "invalid", "a job template does not take '%.64s' (targets come with the job)",
                                v->string);
        }
        if (strcmp(v->string, "name"))
            cJSON_AddItemToObject(t, v->string, cJSON_Duplicate(v, true));
    }
    /* Checked now, as a job would be: a template that cannot make a job is refused. */
    srv_job_config_t jc;
    int err = srv_job_config_parse(t, &jc, msg, sizeof msg);
    if (!err && (jc.sc.start || jc.sc.end)) {
        snprintf(msg, sizeof msg, "a job template has maintenance windows but no startTime or endTime (as AWS's)");
        err = OTTO_E_INVAL;
    }
    char *txt = err ? NULL : cJSON_PrintUnformatted(t);
    cJSON_Delete(t);
    if (!err)
        err = txt ? srv_template_put(s->st, n->valuestring, txt, srv_now()) : OTTO_E_NOSPC;
    free(txt);
    if (err)
        return srv_http_otto_err(c, err, err == OTTO_E_EXISTS ? "a job template of that name exists" : msg);
    SRV_LOG_INF("job template %s created", n->valuestring);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", n->valuestring);
    return srv_http_json(c, 201, o);
}

static cJSON *template_json(const char *name, const char *body)
{
    cJSON *o = cJSON_Parse(body);
    if (!o)
        o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    return o;
}

static int add_template(void *arg, const char *name, const char *body)
{
    cJSON_AddItemToArray(arg, template_json(name, body));
    return 0;
}

static enum MHD_Result r_templates_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    cJSON *arr = cJSON_CreateArray();
    srv_template_list(s->st, add_template, arr);
    return srv_http_json(c, 200, arr);
}

static enum MHD_Result r_template_show(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    char *txt = NULL;
    (void)body;
    int err = srv_template_get(s->st, name, &txt);
    if (err)
        return err == OTTO_E_NOTFOUND ? srv_http_err(c, 404, "not_found", "no job template '%s'", name)
                                      : srv_http_otto_err(c, err, NULL);
    cJSON *o = template_json(name, txt);
    free(txt);
    return srv_http_json(c, 200, o);
}

static enum MHD_Result r_job_show(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    return h_job_show(s, c, name);
}

static int add_key(void *arg, const srv_key_t *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "pem", k->pem);
    cJSON_AddNumberToObject(o, "createdAt", (double)k->created_at);
    if (k->revoked_at)
        cJSON_AddNumberToObject(o, "revokedAt", (double)k->revoked_at);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

static enum MHD_Result r_keys_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    cJSON *arr = cJSON_CreateArray();
    srv_key_list(s->st, add_key, arr);
    return srv_http_json(c, 200, arr);
}

/* A public key firmware signatures are checked against: ECDSA P-256 PEM. */
static enum MHD_Result r_keys_add(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "name"), *pem = cJSON_GetObjectItemCaseSensitive(body, "pem");
    (void)name;
    if (!cJSON_IsString(n) || !srv_valid_name(n->valuestring) || !cJSON_IsString(pem) ||
        strlen(pem->valuestring) >= sizeof ((srv_key_t *)0)->pem || !srv_key_valid(pem->valuestring))
        return srv_http_err(c, 400, "invalid",
                            "a key is {\"name\": 1-64 of [A-Za-z0-9._-], \"pem\": an ECDSA P-256 public key in PEM}");
    int err = srv_key_put(s->st, n->valuestring, pem->valuestring, srv_now());
    if (err)
        return srv_http_otto_err(c, err, err == OTTO_E_EXISTS ? "a key of that name exists" : NULL);
    SRV_LOG_INF("signing key %s trusted", n->valuestring);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", n->valuestring);
    return srv_http_json(c, 201, o);
}

static enum MHD_Result r_key_revoke(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    int err = srv_key_revoke(s->st, name, srv_now());
    if (err)
        return srv_http_otto_err(c, err, err == OTTO_E_NOTFOUND ? "no trusted key of that name" : NULL);
    SRV_LOG_WRN("signing key %s revoked: firmware it signed is refused for new jobs", name);
    return send_revoked(c, name);
}

/* ---- tokens and the audit log ---- */

static int add_token(void *arg, const srv_token_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "role", t->role);
    cJSON_AddNumberToObject(o, "createdAt", (double)t->created_at);
    if (t->expires_at)
        cJSON_AddNumberToObject(o, "expiresAt", (double)t->expires_at);
    if (t->revoked_at)
        cJSON_AddNumberToObject(o, "revokedAt", (double)t->revoked_at);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

static enum MHD_Result r_tokens_list(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)name;
    (void)body;
    cJSON *arr = cJSON_CreateArray();
    srv_token_list(s->st, add_token, arr);
    return srv_http_json(c, 200, arr);
}

/* A new token: 32 random bytes in hex, shown once; only its hash is kept. */
static enum MHD_Result r_tokens_create(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(body, "role");
    const cJSON *days = cJSON_GetObjectItemCaseSensitive(body, "expiresInDays");
    srv_token_t t = {0};
    char tok[65];
    (void)name;
    if (!cJSON_IsString(n) || !srv_valid_name(n->valuestring) || !cJSON_IsString(role) ||
        srv_role_of(role->valuestring) == SRV_ROLE_NONE || !strcmp(n->valuestring, "admin") ||
        (days && (!cJSON_IsNumber(days) || days->valuedouble < 1 || days->valuedouble > 3650)))
        return srv_http_err(c, 400, "invalid", "a token is {\"name\": 1-64 of [A-Za-z0-9._-] (not admin), "
                            "\"role\": \"admin\"|\"operator\"|\"viewer\", \"expiresInDays\"?: 1-3650}");
    if (srv_token_new(tok))
        return srv_http_err(c, 500, "internal", "no randomness");
    srv_token_hash(tok, 64, t.hash);
    snprintf(t.name, sizeof t.name, "%s", n->valuestring);
    snprintf(t.role, sizeof t.role, "%s", role->valuestring);
    t.created_at = srv_now();
    t.expires_at = days ? t.created_at + (int64_t)days->valuedouble * 86400 : 0;
    int err = srv_token_put(s->st, &t);
    if (err)
        return srv_http_otto_err(c, err, err == OTTO_E_EXISTS ? "a token of that name exists" : NULL);
    SRV_LOG_INF("token %s (%s) created", t.name, t.role);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t.name);
    cJSON_AddStringToObject(o, "role", t.role);
    cJSON_AddStringToObject(o, "token", tok);
    if (t.expires_at)
        cJSON_AddNumberToObject(o, "expiresAt", (double)t.expires_at);
    OPENSSL_cleanse(tok, sizeof tok);
    return srv_http_json(c, 201, o);
}

static enum MHD_Result r_token_revoke(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    (void)body;
    int err = srv_token_revoke(s->st, name, srv_now());
    if (err)
        return srv_http_otto_err(c, err, err == OTTO_E_NOTFOUND ? "no valid token of that name" : NULL);
    SRV_LOG_WRN("token %s revoked", name);
    return send_revoked(c, name);
}

typedef struct {
    cJSON *arr;
    int64_t last;
} audit_page_t;

static int add_audit(void *arg, int64_t seq, int64_t at, const char *who, const char *action, const char *object,
                     int status)
{
    audit_page_t *p = arg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddNumberToObject(o, "at", (double)at);
    cJSON_AddStringToObject(o, "who", who);
    cJSON_AddStringToObject(o, "action", action);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddItemToArray(p->arr, o);
    p->last = seq;
    return 0;
}

static enum MHD_Result r_audit(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    int limit;
    const char *token;
    char *end = NULL, next[24];
    bool more = false;
    long long before = 0;
    (void)name;
    (void)body;
    if (page_args(c, &limit, &token))
        return MHD_YES;
    if (token && ((before = strtoll(token, &end, 10)) <= 0 || *end))
        return srv_http_err(c, 400, "invalid", "nextToken: not one this server gave");
    audit_page_t p = {cJSON_CreateArray(), 0};
    srv_audit_list(s->st, before, limit, &more, add_audit, &p);
    snprintf(next, sizeof next, "%lld", (long long)p.last);
    return send_page(c, "entries", p.arr, more, next);
}

/* A backup of everything (backup.h), as a gzip'd tar; its counts in a
 * header. POST: it is audited like every change. */
static enum MHD_Result r_backup(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    char msg[300], counts[512];
    uint64_t size = 0;
    int fd = -1;
    (void)name;
    (void)body;
    int err = srv_backup_make(s, &fd, &size, counts, sizeof counts, msg, sizeof msg);
    if (err)
        return srv_http_otto_err(c, err, msg);
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(size, fd, 0);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/gzip");
    MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"otto-backup.tar.gz\"");
    MHD_add_response_header(r, "Otto-Backup-Counts", counts);
    last_status = 200;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* Retention now (prune.h); {"dryRun": true} counts only. */
static enum MHD_Result r_prune(srv_t *s, struct MHD_Connection *c, const char *name, cJSON *body)
{
    const cJSON *dry = cJSON_GetObjectItemCaseSensitive(body, "dryRun");
    srv_pruned_t p;
    (void)name;
    if (dry && !cJSON_IsBool(dry))
        return srv_http_err(c, 400, "invalid", "dryRun: true or false");
    int err = srv_prune(s, srv_now(), cJSON_IsTrue(dry), &p);
    if (err)
        return srv_http_otto_err(c, err, "pruning failed; nothing was removed from the database");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "dryRun", cJSON_IsTrue(dry));
    cJSON_AddNumberToObject(o, "jobs", (double)p.jobs);
    cJSON_AddNumberToObject(o, "executions", (double)p.executions);
    cJSON_AddNumberToObject(o, "audit", (double)p.audit);
    cJSON_AddNumberToObject(o, "firmware", (double)p.firmware);
    cJSON_AddNumberToObject(o, "deltas", (double)p.deltas);
    cJSON_AddNumberToObject(o, "bytes", (double)p.bytes);
    cJSON *r = cJSON_AddObjectToObject(o, "rules");
    cJSON_AddNumberToObject(r, "retainJobsDays", s->cfg.retain_jobs_days);
    cJSON_AddNumberToObject(r, "retainAuditDays", s->cfg.retain_audit_days);
    cJSON_AddNumberToObject(r, "retainFirmwareDays", s->cfg.retain_firmware_days);
    cJSON_AddNumberToObject(r, "pruneHours", s->cfg.prune_hours);
    return srv_http_json(c, 200, o);
}

/* Every REST endpoint: method, path (a prefix and, with a name, "/{name}"
 * and maybe a suffix), handler. docs/api.md lists the same. */
static const struct {
    const char *method, *path;
    bool named;          /* path + "/{name}" */
    const char *suffix;  /* after the name */
    handler_t h;
    srv_role_t role;     /* the least a token needs: viewers read; operators also
                          * upload firmware and run jobs; admins also manage
                          * devices, keys, tokens and read the audit log */
} routes[] = {
    {"GET", "/api/v1/firmware", false, NULL, r_fw_list, SRV_ROLE_VIEWER},
    {"GET", "/api/v1/firmware", true, NULL, r_fw_show, SRV_ROLE_VIEWER},
    {"DELETE", "/api/v1/firmware", true, NULL, r_fw_delete, SRV_ROLE_OPERATOR},
    {"POST", "/api/v1/firmware", true, "/link", r_fw_link, SRV_ROLE_OPERATOR},
    {"GET", "/api/v1/firmware", true, "/deltas", r_fw_deltas, SRV_ROLE_VIEWER},
    {"GET", "/api/v1/devices", false, NULL, r_devices_list, SRV_ROLE_VIEWER},
    {"POST", "/api/v1/devices", false, NULL, r_devices_add, SRV_ROLE_ADMIN},
    {"GET", "/api/v1/devices", true, NULL, r_device_show, SRV_ROLE_VIEWER},
    {"DELETE", "/api/v1/devices", true, NULL, r_device_delete, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/devices", true, "/cert", r_device_cert, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/devices", true, "/revoke", r_device_revoke, SRV_ROLE_ADMIN},
    {"GET", "/api/v1/groups", false, NULL, r_groups, SRV_ROLE_VIEWER},
    {"GET", "/api/v1/stats", false, NULL, r_stats, SRV_ROLE_VIEWER},
    {"GET", "/api/v1/jobs", false, NULL, r_jobs_list, SRV_ROLE_VIEWER},
    {"POST", "/api/v1/jobs", false, NULL, r_jobs_create, SRV_ROLE_OPERATOR},
    {"POST", "/api/v1/jobs", true, "/cancel", r_job_cancel, SRV_ROLE_OPERATOR},
    {"POST", "/api/v1/jobs", true, "/pause", r_job_pause, SRV_ROLE_OPERATOR},
    {"GET", "/api/v1/job-templates", false, NULL, r_templates_list, SRV_ROLE_VIEWER},
    {"POST", "/api/v1/job-templates", false, NULL, r_templates_add, SRV_ROLE_OPERATOR},
    {"GET", "/api/v1/job-templates", true, NULL, r_template_show, SRV_ROLE_VIEWER},
    {"POST", "/api/v1/jobs", true, "/resume", r_job_resume, SRV_ROLE_OPERATOR},
    {"POST", "/api/v1/jobs", true, "/next-wave", r_job_next_wave, SRV_ROLE_OPERATOR},
    {"POST", "/api/v1/jobs", true, "/install", r_job_install, SRV_ROLE_OPERATOR},
    {"GET", "/api/v1/jobs", true, NULL, r_job_show, SRV_ROLE_VIEWER},
    {"GET", "/api/v1/keys", false, NULL, r_keys_list, SRV_ROLE_VIEWER},
    {"POST", "/api/v1/keys", false, NULL, r_keys_add, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/keys", true, "/revoke", r_key_revoke, SRV_ROLE_ADMIN},
    {"GET", "/api/v1/tokens", false, NULL, r_tokens_list, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/tokens", false, NULL, r_tokens_create, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/tokens", true, "/revoke", r_token_revoke, SRV_ROLE_ADMIN},
    {"GET", "/api/v1/audit", false, NULL, r_audit, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/admin/backup", false, NULL, r_backup, SRV_ROLE_ADMIN},
    {"POST", "/api/v1/admin/prune", false, NULL, r_prune, SRV_ROLE_ADMIN},
};

/* Who did what to which object, and how it ended: every change. */
static void audit(srv_t *s, const req_t *r, const char *method, const char *url, const char *object)
{
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return;
    char action[64];
    snprintf(action, sizeof action, "%s %.*s", method, (int)(sizeof action - 8), url);
    srv_audit_add(s->st, srv_now(), r->who, action, object, (int)last_status);
}

static enum MHD_Result route_api(srv_t *s, struct MHD_Connection *c, const char *m,
                                 const char *url, req_t *r)
{
    char name[SRV_THING_MAX + 2], allowed[64] = "";
    cJSON *body = NULL;
    enum MHD_Result ret;

    if (r->is_upload) {
        if (r->role < SRV_ROLE_OPERATOR)
            return srv_http_err(c, 403, "forbidden", "a %s token may not upload firmware (operator or admin)",
                                srv_role_name(r->role));
        ret = h_upload(s, c, r);
        audit(s, r, m, url, r->name[0] ? r->name : "firmware");
        return ret;
    }
    if (!strcmp(m, "POST")) {
        if (r->too_big)
            return srv_http_err(c, 413, "too_large", "the request body is over 16 MiB");
        body = r->len ? srv_json_object(r->body, r->len) : cJSON_CreateObject();
        if (!cJSON_IsObject(body)) {
            cJSON_Delete(body);
            return srv_http_err(c, 400, "invalid_json",
                                "the request body is not one JSON object in UTF-8 (no NUL, nothing after it)");
        }
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        bool here = routes[i].named ? leaf(url, routes[i].path, name, sizeof name, routes[i].suffix)
                                    : !strcmp(url, routes[i].path);
        if (!here)
            continue;
        if (!strcmp(m, routes[i].method)) {
            if (r->role < routes[i].role)
                ret = srv_http_err(c, 403, "forbidden", "a %s token may not %s %s (it takes %s)", srv_role_name(r->role),
                                   m, url, srv_role_name(routes[i].role));
            else
                ret = routes[i].h(s, c, routes[i].named ? name : NULL, body);
            cJSON_Delete(body);
            audit(s, r, m, url, routes[i].named ? name : url + 8);
            return ret;
        }
        if (!strstr(allowed, routes[i].method)) /* the path is known: which methods are */
            snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                     allowed[0] ? " or " : "", routes[i].method);
    }
    cJSON_Delete(body);
    if (allowed[0])
        return srv_http_err(c, 405, "method", "use %s", allowed);
    return srv_http_err(c, 404, "not_found", "no such endpoint: %s %s (see docs/api.md)", m, url);
}

/* ---- libmicrohttpd callbacks ------------------------------------------ */

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *ctype, const char *enc,
                                 const char *data, uint64_t off, size_t size)
{
    req_t *r = cls;
    (void)kind;
    (void)ctype;
    (void)enc;
    (void)off;
    if (!strcmp(key, "file")) {
        if (filename && !r->name[0])
            snprintf(r->name, sizeof r->name, "%s", filename);
        if (size && !r->up_err)
            r->up_err = srv_upload_write(&r->up, data, size);
    } else if (!strcmp(key, "descriptor")) {
        if (r->dlen + size > DESCRIPTOR_MAX) {
            r->desc_big = true;
            r->up_err = OTTO_E_NOSPC;
            return MHD_YES;
        }
        char *nd = realloc(r->descriptor, r->dlen + size + 1);
        if (!nd)
            return MHD_NO;
        memcpy(nd + r->dlen, data, size);
        r->dlen += size;
        nd[r->dlen] = 0;
        r->descriptor = nd;
    } else if (!strcmp(key, "signature")) {
        if (r->siglen + size > sizeof r->sig) {
            r->sig_big = true;
            return MHD_YES;
        }
        memcpy(r->sig + r->siglen, data, size);
        r->siglen += size;
    } else if (!strcmp(key, "name") && size) {
        snprintf(r->name, sizeof r->name, "%.*s", (int)size, data);
    }
    return MHD_YES;
}

static void req_free(req_t *r)
{
    if (!r)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->up_open)
        srv_upload_abort(&r->up);
    free(r->descriptor);
    free(r->body);
    free(r);
}

/* ---- one client must not hold every slot (D1) ---------------------------- */

static bool peer(struct MHD_Connection *c, struct in_addr *a)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
        return false;
    *a = ((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr;
    return true;
}

/* At accept: at most http_per_ip connections from one address, the trusted
 * proxy excepted (its clients are counted per request, below). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    srv_t *s = cls;
    char key[INET_ADDRSTRLEN];
    if (len < (socklen_t)sizeof(struct sockaddr_in) || addr->sa_family != AF_INET)
        return MHD_YES;
    struct in_addr a = ((const struct sockaddr_in *)(const void *)addr)->sin_addr;
    if (s->http->have_proxy && a.s_addr == s->http->proxy.s_addr)
        return MHD_YES;
    inet_ntop(AF_INET, &a, key, sizeof key);
    if (srv_clients_enter(s->http->clients, key, (unsigned)s->cfg.http_per_ip))
        return MHD_YES;
    atomic_fetch_add(&s->http_refused, 1);
    return MHD_NO;
}

/* When the connection's current request began: its headers must be in
 * within HEADER_DEADLINE_S of that, however slowly they trickle in. */
#define HEADER_DEADLINE_S 10
typedef struct {
    int64_t since_ms;
} conn_t;

static conn_t *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    srv_t *s = cls;
    struct in_addr a;
    char key[INET_ADDRSTRLEN];
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_t *k = calloc(1, sizeof *k);
        if (k)
            k->since_ms = srv_mono_ms();
        *socket_context = k;
        /* Until the headers are in, a shorter silence ends it. */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)HEADER_DEADLINE_S);
        return;
    }
    free(*socket_context);
    *socket_context = NULL;
    if (!peer(c, &a))
        return;
    if (s->http->have_proxy && a.s_addr == s->http->proxy.s_addr)
        return;
    inet_ntop(AF_INET, &a, key, sizeof key);
    srv_clients_leave(s->http->clients, key);
}

/* Through the trusted proxy: the client is the last X-Forwarded-For entry
 * (the one the proxy added); at most http_per_ip of its requests at once. */
static void count_forwarded(srv_t *s, struct MHD_Connection *c, req_t *r)
{
    struct in_addr a;
    if (!s->http->have_proxy || !peer(c, &a) || a.s_addr != s->http->proxy.s_addr)
        return;
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    const char *last = xff ? strrchr(xff, ',') : NULL;
    last = last ? last + 1 : xff;
    while (last && *last == ' ')
        last++;
    if (!last || !*last)
        return;
    snprintf(r->client, sizeof r->client, "fwd:%.58s", last);
    r->client[strcspn(r->client, " ")] = 0;
    if (!srv_clients_enter(s->http->clients, r->client, (unsigned)s->cfg.http_per_ip)) {
        r->client[0] = 0;
        r->refuse = 429;
        atomic_fetch_add(&s->http_refused, 1);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    srv_t *s = cls;
    req_t *r = *con_cls;
    (void)toe;
    if (r && r->client[0])
        srv_clients_leave(s->http->clients, r->client);
    conn_t *k = conn_of(c);
    if (k) { /* the next request on this connection starts its headers now */
        k->since_ms = srv_mono_ms();
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)HEADER_DEADLINE_S);
    }
    req_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result answer(srv_t *s, struct MHD_Connection *c, const char *url, const char *method, req_t *r);

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    srv_t *s = cls;
    req_t *r = *con_cls;
    (void)version;

    if (!r) {
        /* First call: headers only. Decide what kind of request this is. */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->up.fd = -1;
        *con_cls = r;
        conn_t *k = conn_of(c);
        if (k && srv_mono_ms() - k->since_ms > HEADER_DEADLINE_S * 1000) {
            r->refuse = 408; /* headers that took longer than the deadline */
            atomic_fetch_add(&s->http_refused, 1);
        }
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->cfg.http_idle_s);
        count_forwarded(s, c, r);
        if ((!strncmp(url, "/api/", 5) || !strcmp(url, "/metrics")) && !authorize(s, c, r)) {
            r->auth_failed = true;
            return MHD_YES;
        }
        /* Too large is said before a byte of the body is read. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        bool upload = !strcmp(method, "POST") && !strcmp(url, "/api/v1/firmware");
        if (clen > (upload ? UPLOAD_MAX : JSON_MAX))
            return srv_http_err(c, 413, "too_large", upload ? "the upload is over 64 MiB" : "the request body is over 16 MiB");
        if (upload) {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
            uint64_t avail;
            if (!srv_disk_room(s->cfg.data_dir, clen, &avail)) {
                /* Refused before a byte is stored: what is left is the
                 * store's, for the devices' reports. */
                r->refuse = 507;
                SRV_LOG_WRN("upload of %llu bytes refused: the data directory's disk has %llu bytes free"
                            " (the store keeps a reserve)", clen, (unsigned long long)avail);
            } else if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
                r->is_upload = true;
                r->pp = MHD_create_post_processor(c, 65536, post_iter, r);
                if (!r->pp)
                    r->up_err = OTTO_E_INVAL; /* no boundary */
                else if (srv_upload_begin(&r->up, s->cfg.data_dir))
                    r->up_err = OTTO_E_IO;
                else
                    r->up_open = true;
            } else {
                r->refuse = 415;
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* A piece of the body. */
        if (r->auth_failed || r->refuse) {
            /* discard */
        } else if (r->is_upload) {
            if (r->pp && MHD_post_process(r->pp, upload, *upload_size) != MHD_YES && !r->up_err)
                r->up_err = OTTO_E_INVAL;
        } else if (r->len + *upload_size > JSON_MAX) {
            r->too_big = true;
        } else {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t ncap = (r->len + *upload_size + 1) * 2;
                char *nb = realloc(r->body, ncap);
                if (!nb)
                    return MHD_NO;
                r->body = nb;
                r->cap = ncap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }

    /* Last call: answer, counted by route and status (metrics.h). */
    last_status = 0;
    enum MHD_Result ret = answer(s, c, url, method, r);
    if (last_status)
        srv_metrics_http(&s->eng.metrics, url, last_status);
    return ret;
}

static enum MHD_Result answer(srv_t *s, struct MHD_Connection *c, const char *url, const char *method, req_t *r)
{
    if (r->auth_failed)
        return srv_http_err(c, 401, "unauthorized",
                        "missing or wrong bearer token (the operator token is in DATA/admin.token)");
    if (r->refuse == 408)
        return srv_http_err(c, 408, "timeout", "the request headers took over %d seconds", HEADER_DEADLINE_S);
    if (r->refuse == 429)
        return srv_http_err(c, 429, "too_many", "too many requests at once from this client");
    if (r->refuse == 507)
        return srv_http_err(c, 507, "disk_full",
                            "the data directory's disk is full: the upload was refused (devices' reports keep a"
                            " reserve); free space and upload again");
    if (r->refuse == 415)
        return srv_http_err(c, 415, "unsupported",
                        "upload firmware as multipart/form-data with a \"file\" and a \"descriptor\" part");
    if (!strcmp(url, "/healthz"))
        return h_healthz(s, c);
    if (!strcmp(url, "/metrics"))
        return strcmp(method, "GET") ? srv_http_err(c, 405, "method", "use GET") : h_metrics(s, c);
    char id[40];
    if (leaf(url, "/fw", id, sizeof id, NULL)) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return srv_http_err(c, 405, "method", "use GET or HEAD");
        return srv_download(s, c, id, !strcmp(method, "HEAD"));
    }
    if (!strcmp(url, "/api/v1/whoami")) { /* who the token is: the console shows what its role may do */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->who);
        cJSON_AddStringToObject(o, "role", srv_role_name(r->role));
        return srv_http_json(c, 200, o);
    }
    if (!strncmp(url, "/api/v1/", 8) || !strcmp(url, "/api/v1")) {
        pthread_mutex_lock(&s->lock);
        enum MHD_Result ret = route_api(s, c, method, url, r);
        pthread_mutex_unlock(&s->lock);
        return ret;
    }
    if (srv_console_url(url)) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return srv_http_err(c, 405, "method", "use GET or HEAD");
        return srv_console_serve(c, s->cfg.web_dir, url);
    }
    return srv_http_err(c, 404, "not_found", "no such page: %s (the API is under /api/v1)", url);
}

/* A whole (small) file, NUL-terminated; NULL when unreadable. */
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf = f ? malloc(65536) : NULL;
    *len = buf ? fread(buf, 1, 65535, f) : 0;
    if (f)
        fclose(f);
    if (buf && !*len) {
        free(buf);
        return NULL;
    }
    if (buf)
        buf[*len] = 0;
    return buf;
}

int srv_http_start(srv_t *s)
{
    struct sockaddr_in sa;
    struct srv_http *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->cfg.http_port);
    if (inet_pton(AF_INET, s->cfg.http_host, &sa.sin_addr) != 1) {
        SRV_LOG_ERR("http: '%s' is not an IPv4 address", s->cfg.http_host);
        free(h);
        return -1;
    }
    if (s->cfg.trusted_proxy[0]) {
        if (inet_pton(AF_INET, s->cfg.trusted_proxy, &h->proxy) != 1) {
            SRV_LOG_ERR("http: trusted proxy '%s' is not an IPv4 address", s->cfg.trusted_proxy);
            free(h);
            return -1;
        }
        h->have_proxy = true;
    }
    if (!(h->clients = srv_clients_new(65536))) {
        free(h);
        return -1;
    }
    if (s->cfg.proxy_protocol && !h->have_proxy) {
        SRV_LOG_ERR("http: --proxy-protocol needs --trusted-proxy: whose headers to believe");
        srv_clients_free(h->clients);
        free(h);
        return -1;
    }
    /* HTTPS: libmicrohttpd with GnuTLS, the certificate ottod init issued. */
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    if (s->cfg.https_cert[0]) {
        size_t n;
        if (!(h->tls_cert = read_text(s->cfg.https_cert, &n)) || !(h->tls_key = read_text(s->cfg.https_key, &n))) {
            SRV_LOG_ERR("https: cannot read %s or %s", s->cfg.https_cert, s->cfg.https_key);
            free(h->tls_cert);
            srv_clients_free(h->clients);
            free(h);
            return -1;
        }
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    }
    s->http = h; /* the callbacks below use it from the first connection on */
    /* With the PROXY protocol, front.c listens and hands connections over. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     (s->cfg.https_cert[0] ? MHD_USE_TLS : 0);
    if (s->cfg.proxy_protocol)
        flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    h->d = MHD_start_daemon(flags,
                            (uint16_t)s->cfg.http_port, accept_policy, s, access_cb, s,
                            MHD_OPTION_SOCK_ADDR, s->cfg.proxy_protocol ? NULL : (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.http_threads,
                            MHD_OPTION_CONNECTION_LIMIT, 4096u,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                            /* One client cannot hold every slot (D1), and a
                             * silent one is let go soon: devices resume with
                             * Range anyway. */
                            MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.http_idle_s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                            MHD_OPTION_ARRAY, tls,
                            MHD_OPTION_END);
    if (!h->d) {
        SRV_LOG_ERR("http: cannot listen on %s:%d (port in use, or the certificate and key do not match?)",
                    s->cfg.http_host, s->cfg.http_port);
        srv_clients_free(h->clients);
        free(h->tls_cert);
        free(h->tls_key);
        free(h);
        s->http = NULL;
        return -1;
    }
    if (s->cfg.proxy_protocol && !(h->front = srv_front_start(h->d, &sa, h->proxy, &s->http_refused))) {
        MHD_stop_daemon(h->d);
        srv_clients_free(h->clients);
        free(h);
        s->http = NULL;
        return -1;
    }
    return 0;
}

void srv_http_stop(srv_t *s)
{
    if (!s->http)
        return;
    srv_front_stop(s->http->front); /* no new connections first */
    MHD_stop_daemon(s->http->d);
    srv_download_clear(s);
    free(s->http->tls_cert);
    free(s->http->tls_key);
    srv_clients_free(s->http->clients);
    free(s->http);
    s->http = NULL;
}
