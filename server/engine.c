/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job engine. Every change follows the same three steps: remember each
 * affected thing's next pending execution, change the store in one
 * transaction, then publish what changed for each thing (notify when its
 * pending list changed, notify-next when the identity of its next execution
 * changed). Publishing after the commit means a device is never told about
 * a state the database might still roll back.
 */
#include "engine.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "deltas.h"
#include "hw.h"
#include "log.h"
#include "rollout.h"
#include "sign.h"
#include "otto/jobdoc.h"

#define DOC_MAX 32768      /* AWS's job document limit */

/* Who may move an execution where. Rows: from; bits: to. The device may start
 * a queued execution, report progress while in progress, and end it (even
 * straight from QUEUED: REJECTED is documented, SUCCEEDED/FAILED accepted).
 * Terminal statuses go nowhere. The service's own moves (CANCELED,
 * TIMED_OUT) are made by cancel and tick, not through this table. */
#define BIT(s) (1u << (s))
#define DEVICE_ENDS (BIT(SRV_IN_PROGRESS) | BIT(SRV_SUCCEEDED) | BIT(SRV_FAILED) | BIT(SRV_REJECTED))
static const unsigned device_moves[SRV_STATUS_COUNT] = {
    [SRV_QUEUED] = DEVICE_ENDS,
    [SRV_IN_PROGRESS] = DEVICE_ENDS,
};

void srv_engine_init(srv_engine_t *e, srv_store_t *st, const char *public_url)
{
    memset(e, 0, sizeof *e);
    e->st = st;
    e->public_url = public_url;
    e->minute_s = 60;
    e->auto_register = true;
    e->lead = true;
    e->register_rate = 100;
    srv_metrics_init(&e->metrics);
}

void srv_engine_fini(srv_engine_t *e)
{
    cJSON_Delete(e->doc);
    e->doc = NULL;
}

static bool valid_chars(const char *s, size_t max, const char *extra)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !(isalnum((unsigned char)s[n]) || strchr(extra, s[n])))
            return false;
    return n > 0;
}

bool srv_valid_thing(const char *s) { return valid_chars(s, SRV_THING_MAX, ":_-"); }
bool srv_valid_job_id(const char *s) { return valid_chars(s, SRV_JOBID_MAX, "_-"); }
bool srv_valid_name(const char *s) { return valid_chars(s, SRV_NAME_MAX, "._-"); }

void srv_engine_send(srv_engine_t *e, const char *topic, cJSON *obj)
{
    char *txt = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!txt) {
        SRV_LOG_ERR("out of memory building a message for %s", topic);
        return;
    }
    if (e->publish && e->publish(e->pub_ctx, topic, txt, strlen(txt)) != 0)
        SRV_LOG_WRN("publish to %s failed (broker down?)", topic);
    else
        e->n_published++;
    free(txt);
}

const cJSON *srv_engine_doc(srv_engine_t *e, int64_t seq)
{
    srv_job_t job;
    if (e->doc && e->doc_seq == seq)
        return e->doc;
    if (srv_job_get_seq(e->st, seq, &job))
        return NULL;
    cJSON_Delete(e->doc);
    e->doc = cJSON_Parse(job.document);
    e->doc_seq = seq;
    srv_job_clear(&job);
    return e->doc;
}

/* The patch made for thing's entry f (an object of the document), from
 * the image thing says it runs for f's ota_type, or NULL. */
static cJSON *delta_for(srv_engine_t *e, const cJSON *f, const cJSON *im, const char *thing, int64_t now)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id"), *type = cJSON_GetObjectItemCaseSensitive(f, "ota_type");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
    const cJSON *base_sha = cJSON_GetObjectItemCaseSensitive(im, cJSON_IsString(type) ? type->valuestring : "esp32");
    srv_fw_t base;
    srv_delta_t d;
    char did[48], url[1024], link[1024];
    cJSON *out = NULL;
    if (cJSON_IsString(id) && cJSON_IsString(base_sha) && cJSON_IsString(sha) &&
        strcmp(base_sha->valuestring, sha->valuestring) && !srv_fw_by_sha(e->st, base_sha->valuestring, &base)) {
        srv_delta_id(base.id, id->valuestring, did);
        if (!srv_delta_get(e->st, did, &d)) {
            snprintf(url, sizeof url, "%s/fw/%s", e->public_url, did);
            if (e->links.on && !srv_links_mint(&e->links, url, did, thing, now, link, sizeof link))
                snprintf(url, sizeof url, "%s", link);
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "url", url);
            cJSON_AddNumberToObject(out, "size", (double)d.size);
            cJSON_AddStringToObject(out, "base_sha256", base_sha->valuestring);
        }
    }
    return out;
}

cJSON *srv_engine_doc_for(srv_engine_t *e, int64_t seq, const char *thing, int64_t now)
{
    const cJSON *doc = srv_engine_doc(e, seq);
    cJSON *copy = doc ? cJSON_Duplicate(doc, true) : cJSON_CreateObject(), *f;
    char url[1024];
    srv_device_t dev;
    cJSON *im = e->deltas && !srv_device_get(e->st, thing, &dev) && strcmp(dev.images, "{}") ? cJSON_Parse(dev.images)
                                                                                            : NULL;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(copy, "firmware")) {
        cJSON *u = cJSON_GetObjectItemCaseSensitive(f, "url"), *id = cJSON_GetObjectItemCaseSensitive(f, "id");
        /* Where this server is now: a job made before a move or a restore
         * onto another address still downloads from here. */
        if (cJSON_IsString(u) && cJSON_IsString(id)) {
            snprintf(url, sizeof url, "%s/fw/%s", e->public_url, id->valuestring);
            cJSON_SetValuestring(u, url);
        }
        if (e->links.on && cJSON_IsString(u) && cJSON_IsString(id) &&
            !srv_links_mint(&e->links, u->valuestring, id->valuestring, thing, now, url, sizeof url))
            cJSON_SetValuestring(u, url);
        cJSON *d = im ? delta_for(e, f, im, thing, now) : NULL;
        if (d)
            cJSON_AddItemToObject(f, "delta", d);
    }
    cJSON_Delete(im);
    return copy;
}

/* ---- notifications ----------------------------------------------------- */

/* Identity of a thing's next pending execution; seq 0 = none. */
typedef struct {
    int64_t seq;
    int exec_no;
} next_id_t;

static next_id_t next_of(srv_engine_t *e, const char *thing)
{
    srv_exec_t *ex = malloc(sizeof *ex);
    next_id_t id = {0, 0};
    if (ex && srv_exec_next(e->st, thing, ex) == OTTO_OK) {
        id.seq = ex->job_seq;
        id.exec_no = ex->exec_no;
    }
    free(ex);
    return id;
}

/* Tell the API what changed for one thing: its pending list, and whether
 * its next execution is not prev any more (ex: the next one, or NULL). The
 * API renders it (mqtt_api.c: notify, notify-next); the engine says only
 * what changed. */
static void notify_thing(srv_engine_t *e, const char *thing, next_id_t prev, bool list_changed,
                         int64_t now)
{
    srv_exec_t *ex = malloc(sizeof *ex);
    if (!ex || !e->changed) {
        free(ex);
        return;
    }
    int found = srv_exec_next(e->st, thing, ex) == OTTO_OK;
    bool next_changed = found ? (ex->job_seq != prev.seq || ex->exec_no != prev.exec_no) : prev.seq != 0;
    if (list_changed || next_changed)
        e->changed(e, thing, list_changed, next_changed, found ? ex : NULL, now);
    free(ex);
}

/* A job whose executions are all terminal is COMPLETED (snapshot jobs). */
static void maybe_complete(srv_engine_t *e, int64_t seq, int64_t now);

/* A new QUEUED execution, in memory: released at queued_at (0: not yet). */
static void fresh_exec(srv_exec_t *ex, int64_t seq, const char *thing, int exec_no, int64_t queued_at, int64_t now)
{
    memset(ex, 0, sizeof *ex);
    ex->job_seq = seq;
    snprintf(ex->thing, sizeof ex->thing, "%s", thing);
    ex->exec_no = exec_no;
    ex->status = SRV_QUEUED;
    ex->version = 1;
    ex->queued_at = queued_at;
    ex->updated_at = now;
    strcpy(ex->details, "{}");
}

static int state_int(cJSON *cfg, const char *key);

/* targetSelection CONTINUOUS: the job stays open for devices that join its
 * groups later. */
static bool job_continuous(const char *config)
{
    cJSON *cfg = config && strcmp(config, "{}") ? cJSON_Parse(config) : NULL;
    bool yes = srv_continuous(cfg);
    cJSON_Delete(cfg);
    return yes;
}

/* A job's abortConfig, checked each time one of its executions ends: the
 * first criterion its results trip cancels what is still QUEUED (released
 * or not), and the job records why. IN_PROGRESS executions run on. */
static void maybe_abort(srv_engine_t *e, const srv_job_t *job, const cJSON *cfg)
{
    srv_abort_t a;
    int64_t counts[SRV_STATUS_COUNT];
    char msg[200], why[200];
    if (!srv_abort_parse(cJSON_GetObjectItemCaseSensitive(cfg, "abortConfig"), &a, msg, sizeof msg) && a.n &&
        !srv_exec_counts(e->st, job->seq, counts) && srv_abort_check(&a, counts, why, sizeof why) >= 0) {
        SRV_LOG_WRN("job=%s %s", job->id, why);
        srv_engine_cancel_job(e, job->id, false, why, msg, sizeof msg);
    }
}

/* jobExecutionsRetryConfig: an execution that ended FAILED or TIMED_OUT is
 * tried again as a new execution (the next executionNumber), queued and
 * announced at once, while its type's retries last. REJECTED never is. */
static void maybe_retry(srv_engine_t *e, const srv_job_t *job, const cJSON *cfg, const srv_exec_t *ex, int64_t now)
{
    srv_retry_t r;
    char msg[200];
    if ((ex->status != SRV_FAILED && ex->status != SRV_TIMED_OUT) ||
        srv_retry_parse(cJSON_GetObjectItemCaseSensitive(cfg, "jobExecutionsRetryConfig"), &r, msg, sizeof msg) ||
        (!r.failed && !r.timed_out))
        return;
    int used_failed = 0, used_timed_out = 0;
    for (int no = 1; no < ex->exec_no; no++) { /* the earlier attempts: at most 10 */
        srv_exec_t prev;
        if (!srv_exec_get(e->st, ex->job_seq, ex->thing, no, &prev)) {
            used_failed += prev.status == SRV_FAILED;
            used_timed_out += prev.status == SRV_TIMED_OUT;
        }
    }
    if (!srv_retry_allowed(&r, ex->status, used_failed, used_timed_out))
        return;
    next_id_t prev = next_of(e, ex->thing);
    srv_exec_t n;
    fresh_exec(&n, ex->job_seq, ex->thing, ex->exec_no + 1, now, now);
    n.wave = ex->wave; /* a retry stays in its wave, and counts there */
    if (!srv_exec_put(e->st, &n)) {
        SRV_LOG_INF("job=%s thing=%s %s: retry %d (execution %d)", job->id, ex->thing, srv_status_name(ex->status),
                    used_failed + used_timed_out + 1, n.exec_no);
        notify_thing(e, ex->thing, prev, true, now);
    }
}

/* After an execution ended (and its commit): for a job with a
 * configuration (read once), a retry, then the abort check (which drops
 * queued retries with the rest); then completion. */
static void after_end(srv_engine_t *e, const srv_exec_t *ex, int64_t now)
{
    srv_job_t job;
    if (!srv_job_get_seq(e->st, ex->job_seq, &job)) {
        cJSON *cfg = job.status == SRV_JOB_IN_PROGRESS && job.config && strcmp(job.config, "{}")
                         ? cJSON_Parse(job.config)
                         : NULL;
        if (cfg) {
            maybe_retry(e, &job, cfg, ex, now);
            maybe_abort(e, &job, cfg);
        }
        cJSON_Delete(cfg);
        srv_job_clear(&job);
    }
    maybe_complete(e, ex->job_seq, now);
}

static void maybe_complete(srv_engine_t *e, int64_t seq, int64_t now)
{
    bool pending = true;
    srv_job_t job;
    if (srv_job_has_pending(e->st, seq, &pending) || pending)
        return;
    if (srv_job_get_seq(e->st, seq, &job))
        return;
    if (job.status == SRV_JOB_IN_PROGRESS && !job_continuous(job.config)) {
        srv_job_set_status(e->st, seq, SRV_JOB_COMPLETED, now, "");
        SRV_LOG_INF("job=%s completed", job.id);
    }
    srv_job_clear(&job);
}

/* ---- device moves ------------------------------------------------------ */

/* Whole or not at all: never a cut, broken JSON text. */
static int set_details(srv_exec_t *ex, const cJSON *details)
{
    char *txt = cJSON_PrintUnformatted(details);
    int err = !txt ? OTTO_E_NOSPC : strlen(txt) >= sizeof ex->details ? OTTO_E_NOSPC : OTTO_OK;
    if (!err)
        memcpy(ex->details, txt, strlen(txt) + 1);
    free(txt);
    return err;
}

/* Apply a move to ex in memory: version, times, timers. */
static void apply_move(srv_engine_t *e, srv_exec_t *ex, int to, int step_min, int64_t now)
{
    if (to == SRV_IN_PROGRESS && ex->status == SRV_QUEUED) {
        ex->started_at = now;
        srv_job_t job;
        if (srv_job_get_seq(e->st, ex->job_seq, &job) == OTTO_OK) {
            if (job.timeout_min > 0)
                ex->deadline = now + (int64_t)job.timeout_min * e->minute_s;
            srv_job_clear(&job);
        }
    }
    ex->status = to;
    ex->version++;
    ex->updated_at = now;
    if (srv_status_terminal(to)) {
        ex->step_deadline = 0;
        ex->deadline = 0;
    } else if (step_min > 0) {
        /* A new step timer replaces the old one but never outlives the
         * in-progress deadline. */
        ex->step_deadline = now + (int64_t)step_min * e->minute_s;
        if (ex->deadline && ex->step_deadline > ex->deadline)
            ex->step_deadline = ex->deadline;
    }
}

int srv_engine_device_move(srv_engine_t *e, srv_exec_t *ex, int to, const cJSON *details,
                           int step_min, int64_t now)
{
    if (ex->status < 0 || ex->status >= SRV_STATUS_COUNT || to < 0 || to >= SRV_STATUS_COUNT ||
        !(device_moves[ex->status] & BIT(to)))
        return OTTO_E_STATE;
    int from = ex->status, err;
    /* A progress report (same status) changes neither the thing's pending
     * list nor its next execution: nothing to look up or tell. */
    next_id_t prev = from != to ? next_of(e, ex->thing) : (next_id_t){0};
    srv_exec_t saved = *ex;

    apply_move(e, ex, to, step_min, now);
    if (details && set_details(ex, details)) {
        *ex = saved;
        return OTTO_E_NOSPC; /* the API refuses larger ones first */
    }
    if ((err = srv_exec_update(e->st, ex))) { /* one statement: whole or not at all */
        *ex = saved;
        return err;
    }
    SRV_LOG_INF("job=%s thing=%s %s -> %s (version %lld)", ex->job_id, ex->thing,
            srv_status_name(from), srv_status_name(to), (long long)ex->version);
    /* AWS's notify is for the pending list gaining or losing an execution:
     * a start (QUEUED -> IN_PROGRESS) keeps it pending, an end removes it. */
    if (from != to)
        notify_thing(e, ex->thing, prev, srv_status_terminal(to), now);
    if (srv_status_terminal(to))
        after_end(e, ex, now);
    return OTTO_OK;
}

/* ---- job creation ------------------------------------------------------ */

typedef struct {
    char **v;
    size_t n, cap;
} strvec_t;

static int strvec_push(strvec_t *sv, const char *s)
{
    if (sv->n == sv->cap) {
        size_t ncap = sv->cap ? sv->cap * 2 : 64;
        char **nv = realloc(sv->v, ncap * sizeof *nv);
        if (!nv)
            return OTTO_E_NOSPC;
        sv->v = nv;
        sv->cap = ncap;
    }
    if (!(sv->v[sv->n] = strdup(s)))
        return OTTO_E_NOSPC;
    sv->n++;
    return OTTO_OK;
}

static void strvec_free(strvec_t *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strvec_sort_unique(strvec_t *sv)
{
    size_t w = 0;
    if (!sv->n)
        return; /* a continuous job's empty group: no array to sort */
    qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
    for (size_t i = 0; i < sv->n; i++) {
        if (w && !strcmp(sv->v[w - 1], sv->v[i]))
            free(sv->v[i]);
        else
            sv->v[w++] = sv->v[i];
    }
    sv->n = w;
}

static int push_thing(void *arg, const char *thing)
{
    return strvec_push(arg, thing) ? 1 : 0;
}

/* Build the job document: the descriptor's shape with each firmware's url
 * pointing at ottod's download endpoint. */
static cJSON *build_document(srv_engine_t *e, const srv_fw_t *fws, size_t n, const cJSON *key_updates)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    char url[512];
    cJSON_AddStringToObject(doc, "product", fws[0].product);
    cJSON_AddStringToObject(doc, "group", fws[0].group);
    for (size_t i = 0; i < n; i++) {
        const srv_fw_t *f = &fws[i];
        cJSON *o = cJSON_Parse(f->extra);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            o = cJSON_CreateObject();
        }
        snprintf(url, sizeof url, "%s/fw/%s", e->public_url, f->id);
        /* Our fields win over anything of the same name in extra. */
        static const char *const ours[] = {"id", "ota_type", "url", "size", "md5", "sha256",
                                           "version", "project", "secure_version", "name"};
        for (size_t k = 0; k < sizeof ours / sizeof *ours; k++)
            cJSON_DeleteItemFromObjectCaseSensitive(o, ours[k]);
        cJSON_AddStringToObject(o, "id", f->id);
        cJSON_AddStringToObject(o, "ota_type", f->ota_type);
        cJSON_AddStringToObject(o, "url", url);
        cJSON_AddNumberToObject(o, "size", (double)f->size);
        cJSON_AddStringToObject(o, "md5", f->md5);
        cJSON_AddStringToObject(o, "sha256", f->sha256);
        if (f->version[0])
            cJSON_AddStringToObject(o, "version", f->version);
        if (f->project[0])
            cJSON_AddStringToObject(o, "project", f->project);
        if (!strcmp(f->ota_type, "esp32"))
            cJSON_AddNumberToObject(o, "secure_version", f->secure_version);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(doc, "firmware", arr);
    if (key_updates) { /* checked: only the three fields a device reads */
        cJSON *ku = cJSON_AddArrayToObject(doc, "keyUpdates");
        const cJSON *u;
        cJSON_ArrayForEach(u, key_updates) {
            cJSON *o = cJSON_CreateObject();
            static const char *const f[] = {"op", "key", "sig-sha256-ecdsa"};
            for (size_t k = 0; k < 3; k++)
                cJSON_AddStringToObject(o, f[k], cJSON_GetObjectItemCaseSensitive(u, f[k])->valuestring);
            cJSON_AddItemToArray(ku, o);
        }
    }
    return doc;
}

typedef struct {
    int64_t seq;
    char id[SRV_JOBID_MAX + 1];
} old_job_t;

typedef struct {
    old_job_t *v;
    size_t n;
} old_jobs_t;

static int push_old(void *arg, int64_t seq, const char *id)
{
    old_jobs_t *o = arg;
    old_job_t *nv = realloc(o->v, (o->n + 1) * sizeof *nv);
    if (!nv)
        return 1;
    o->v = nv;
    o->v[o->n].seq = seq;
    snprintf(o->v[o->n].id, sizeof o->v[o->n].id, "%s", id);
    o->n++;
    return 0;
}

/* Cancel the thing's QUEUED executions of older jobs this one supersedes. */
static int supersede(srv_engine_t *e, const char *thing, const old_jobs_t *old,
                     const char *new_id, bool *touched, int64_t now)
{
    srv_exec_t *ex = malloc(sizeof *ex);
    int err = OTTO_OK;
    if (!ex)
        return OTTO_E_NOSPC;
    for (size_t i = 0; i < old->n && !err; i++) {
        if (srv_exec_get(e->st, old->v[i].seq, thing, 0, ex) != OTTO_OK ||
            ex->status != SRV_QUEUED)
            continue;
        apply_move(e, ex, SRV_CANCELED, 0, now);
        snprintf(ex->details, sizeof ex->details,
                 "{\"reason\":\"superseded\",\"supersededBy\":\"%s\"}", new_id);
        err = srv_exec_update(e->st, ex);
        touched[i] = true;
        SRV_LOG_INF("job=%s thing=%s QUEUED -> CANCELED (superseded by %s)", old->v[i].id, thing,
                new_id);
    }
    free(ex);
    return err;
}

static int fail(char *msg, size_t len, int err, const char *fmt, const char *arg)
{
    snprintf(msg, len, fmt, arg);
    return err;
}

/* A firmware goes into a job signed by a key trusted now (a revoked key's
 * signature no longer counts), or unsigned when the operator says so. */
static int signed_or_allowed(srv_engine_t *e, const srv_job_spec_t *spec, const srv_fw_t *fw, char *msg,
                             size_t msglen)
{
    cJSON *x = cJSON_Parse(fw->extra);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "sig-sha256-ecdsa");
    uint8_t sig[SRV_SIG_MAX], sha[32];
    char signer[SRV_NAME_MAX + 1];
    int n = cJSON_IsString(v) ? srv_unbase64(v->valuestring, sig, sizeof sig) : -1, err = OTTO_OK;
    cJSON_Delete(x);
    if (n <= 0) {
        if (!spec->allow_unsigned)
            err = fail(msg, msglen, OTTO_E_DENIED,
                       "firmware '%s' is not signed (otto fw upload --sign KEY.pem; or allow it: --allow-unsigned)",
                       fw->id);
        return err;
    }
    for (int i = 0; i < 32; i++) {
        unsigned b = 0;
        sscanf(fw->sha256 + 2 * i, "%2x", &b);
        sha[i] = (uint8_t)b;
    }
    if (srv_sig_check(e->st, sha, sig, (size_t)n, signer, sizeof signer))
        err = fail(msg, msglen, OTTO_E_DENIED,
                   "firmware '%s' is signed by a key that is not trusted any more (revoked?)", fw->id);
    return err;
}

/* Firmware: all for one product, one per ota_type; their types sorted. */
static int check_firmware(srv_engine_t *e, const srv_job_spec_t *spec, srv_fw_t *fws, strvec_t *types,
                          char *msg, size_t msglen)
{
    int err = OTTO_OK;
    for (size_t i = 0; i < spec->nfw && !err; i++) {
        if (srv_fw_get(e->st, spec->fw_ids[i], &fws[i]) != OTTO_OK)
            err = fail(msg, msglen, OTTO_E_NOTFOUND, "no firmware '%s'", spec->fw_ids[i]);
        else if (strcmp(fws[i].product, fws[0].product))
            err = fail(msg, msglen, OTTO_E_INVAL,
                       "firmware '%s' is for another product than the first one", fws[i].id);
        else
            for (size_t k = 0; k < i && !err; k++)
                if (!strcmp(fws[k].ota_type, fws[i].ota_type))
                    err = fail(msg, msglen, OTTO_E_INVAL,
                               "two firmware entries with ota_type '%s'", fws[i].ota_type);
        if (!err)
            err = signed_or_allowed(e, spec, &fws[i], msg, msglen);
        if (!err)
            err = strvec_push(types, fws[i].ota_type);
    }
    if (!err)
        strvec_sort_unique(types);
    return err;
}

/* Targets: named devices must exist; groups must have members. */
static int expand_targets(srv_engine_t *e, const srv_job_spec_t *spec, strvec_t *things, char *msg,
                          size_t msglen)
{
    int err = OTTO_OK;
    for (size_t i = 0; i < spec->ndevices && !err; i++) {
        srv_device_t d;
        if (srv_device_get(e->st, spec->devices[i], &d) != OTTO_OK)
            err = fail(msg, msglen, OTTO_E_NOTFOUND, "no device '%s' (add it with 'otto device add')",
                       spec->devices[i]);
        else
            err = strvec_push(things, spec->devices[i]);
    }
    for (size_t i = 0; i < spec->ngroups && !err; i++) {
        size_t before = things->n;
        err = srv_group_things(e->st, spec->groups[i], push_thing, things);
        if (!err && things->n == before && !srv_continuous(spec->config)) /* an empty group: devices join later */
            err = fail(msg, msglen, OTTO_E_NOTFOUND, "group '%s' has no devices", spec->groups[i]);
    }
    if (!err)
        strvec_sort_unique(things);
    return err;
}

/* ---- hardware variants ---------------------------------------------------- */

/* The job's "where" (otto's own, in its configuration). */
static int job_where(const cJSON *config, srv_where_t *w, char *msg, size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, "where");
    if (v && !cJSON_IsString(v))
        return fail(msg, msglen, OTTO_E_INVAL, "where: a filter as text, e.g. \"slot>=1536K and chip=esp32\"%s", "");
    return srv_where_parse(v ? v->valuestring : NULL, w, msg, msglen);
}

/* May the job reach a device with hw? why says what stops it. */
static bool hw_admits(const srv_where_t *w, const srv_fw_t *fws, size_t nfw, const char *hw, char *why, size_t cap)
{
    return srv_hw_fits(hw, fws, nfw, why, cap) && srv_where_match(w, hw, why, cap);
}

static void count_left_out(cJSON *list, const char *reason, const char *thing)
{
    cJSON *o;
    if (!list)
        return;
    cJSON_ArrayForEach(o, list) {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reason"), *n = cJSON_GetObjectItemCaseSensitive(o, "devices");
        if (cJSON_IsString(r) && !strcmp(r->valuestring, reason)) {
            cJSON_SetNumberValue(n, n->valuedouble + 1);
            return;
        }
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddNumberToObject(o, "devices", 1);
    cJSON_AddStringToObject(o, "example", thing);
    cJSON_AddItemToArray(list, o);
}

typedef struct {
    strvec_t *things;
    const srv_where_t *w;
    const srv_fw_t *fws;
    size_t nfw, i;
    char **whys; /* per target: NULL admitted, else why not: malloc'd, or filter_targets'
                    one text for every device that said nothing */
} hw_walk_t;

static int hw_visit(void *arg, const char *thing, const char *hw)
{
    hw_walk_t *h = arg;
    char why[160];
    while (h->i < h->things->n && strcmp(h->things->v[h->i], thing) < 0)
        h->i++;
    if (h->i < h->things->n && !strcmp(h->things->v[h->i], thing)) {
        h->whys[h->i] = hw_admits(h->w, h->fws, h->nfw, hw, why, sizeof why) ? NULL : strdup(why);
        h->i++;
    }
    return 0;
}

/* Leave out the targets the job cannot reach: those the filter excludes
 * and those an image would not fit (a device that never said what it is
 * passes the fit, and fails any filter). things is sorted; one pass over
 * the devices that said what they are. */
static int filter_targets(srv_engine_t *e, const srv_job_spec_t *spec, const srv_where_t *w, const srv_fw_t *fws,
                          strvec_t *things)
{
    char unknown[160] = "";
    hw_walk_t h = {things, w, fws, spec->nfw, 0, NULL};
    size_t keep = 0, gone = 0;
    int err;
    if (!things->n)
        return OTTO_OK;
    if (!(h.whys = calloc(things->n, sizeof *h.whys)))
        return OTTO_E_NOSPC;
    if (!srv_where_match(w, "{}", unknown, sizeof unknown)) /* a device that said nothing fails the filter */
        for (size_t i = 0; i < things->n; i++)
            h.whys[i] = unknown;
    if ((err = srv_device_hw_each(e->st, hw_visit, &h)))
        goto out;
    for (size_t i = 0; i < things->n; i++) {
        if (h.whys[i]) {
            count_left_out(spec->left_out, h.whys[i], things->v[i]);
            free(things->v[i]);
            gone++;
        } else {
            things->v[keep++] = things->v[i];
        }
    }
    things->n = keep;
    if (gone)
        SRV_LOG_INF("job targets: %zu left out (%s%s%s)", gone, w->n ? "where " : "", w->text,
                    w->n ? ", or an image that does not fit" : "an image that does not fit");
out:
    for (size_t i = 0; i < things->n + gone; i++)
        if (h.whys[i] != unknown)
            free(h.whys[i]);
    free(h.whys);
    return err;
}

/* Key updates ride in the document only signed by a key trusted now: a
 * device would refuse anything else, and the whole job with it. */
static int check_key_updates(srv_engine_t *e, const srv_job_spec_t *spec, char *msg, size_t msglen)
{
    const cJSON *u;
    char signer[128];
    if (!spec->key_updates)
        return OTTO_OK;
    if (!cJSON_IsArray(spec->key_updates) || cJSON_GetArraySize(spec->key_updates) > OTTO_JOBDOC_KEYUPD_MAX)
        return fail(msg, msglen, OTTO_E_INVAL, "keyUpdates: an array of at most %s key updates", "2");
    cJSON_ArrayForEach(u, spec->key_updates) {
        int err = srv_key_update_check(e->st, u, signer, sizeof signer, msg, msglen);
        if (err)
            return err;
    }
    return OTTO_OK;
}

/* The job record: its document, targets and firmware as JSON text. */
static int job_record(srv_engine_t *e, const srv_job_spec_t *spec, const srv_fw_t *fws, const strvec_t *types,
                      int64_t now, srv_job_t *job, char *msg, size_t msglen)
{
    int err = OTTO_OK;
    cJSON *doc = build_document(e, fws, spec->nfw, spec->key_updates), *targets = cJSON_CreateObject();
    cJSON *fwarr = cJSON_CreateStringArray((const char *const *)spec->fw_ids, (int)spec->nfw);
    cJSON_AddItemToObject(targets, "devices",
                          cJSON_CreateStringArray((const char *const *)spec->devices, (int)spec->ndevices));
    cJSON_AddItemToObject(targets, "groups",
                          cJSON_CreateStringArray((const char *const *)spec->groups, (int)spec->ngroups));
    if (spec->allow_unsigned)
        cJSON_AddTrueToObject(targets, "allowUnsigned"); /* the record says it was let through */
    job->document = cJSON_PrintUnformatted(doc);
    job->targets = cJSON_PrintUnformatted(targets);
    job->fw_ids = cJSON_PrintUnformatted(fwarr);
    cJSON_Delete(doc);
    cJSON_Delete(targets);
    cJSON_Delete(fwarr);
    if (!job->document || !job->targets || !job->fw_ids)
        return OTTO_E_NOSPC;
    if (strlen(job->document) > DOC_MAX)
        return fail(msg, msglen, OTTO_E_INVAL, "job document is over 32 KB%s", "");
    job->status = SRV_JOB_IN_PROGRESS;
    job->created_at = now;
    job->timeout_min = spec->timeout_min;
    snprintf(job->product, sizeof job->product, "%s", fws[0].product);
    snprintf(job->description, sizeof job->description, "%s", spec->description ? spec->description : "");
    for (size_t i = 0, n = 0; i < types->n; i++)
        n += (size_t)snprintf(job->ota_types + n, sizeof job->ota_types - n, "%s%s", i ? "," : "", types->v[i]);
    return err;
}

/* rolloutWaves: each target's wave (1-based), in wave order: a group wave
 * takes the targets left in its group, a count or percentage wave the next
 * of those left (in name order); the ones no wave takes form one more.
 * Returns the number of waves, or < 0 (OTTO_E_*) with msg. */
static int assign_waves(srv_engine_t *e, const srv_waves_t *wv, const strvec_t *things, int *wave, char *msg,
                        size_t msglen)
{
    int64_t left = (int64_t)things->n;
    size_t next = 0; /* the first target no wave took yet, for count and percentage waves */
    for (int k = 0; k < wv->n; k++) {
        const srv_wave_t *w = &wv->w[k];
        if (w->group[0]) {
            strvec_t members = {0};
            if (!srv_valid_name(w->group))
                return fail(msg, msglen, OTTO_E_INVAL, "rolloutWaves: '%s' is not a group name", w->group);
            int err = srv_group_things(e->st, w->group, push_thing, &members);
            for (size_t i = 0; i < members.n && !err; i++) {
                char **hit = things->n ? bsearch(&members.v[i], things->v, things->n, sizeof *things->v, cmp_str) : NULL;
                if (hit && !wave[hit - things->v]) {
                    wave[hit - things->v] = k + 1;
                    left--;
                }
            }
            strvec_free(&members);
            if (err)
                return err;
            continue;
        }
        for (int64_t take = srv_wave_take(w, left); take > 0 && next < things->n; next++)
            if (!wave[next]) {
                wave[next] = k + 1;
                take--;
                left--;
            }
    }
    for (size_t i = 0; i < things->n && left; i++)
        if (!wave[i])
            wave[i] = wv->n + 1;
    return left ? wv->n + 1 : wv->n;
}

/* Patches to fw from every image the devices of its product say they run
 * and the server holds (made in the background): whether one is to come. */
typedef struct {
    srv_engine_t *e;
    const srv_fw_t *fw;
    bool coming;
} fw_added_t;

static int want_from(void *arg, const char *sha)
{
    fw_added_t *a = arg;
    srv_fw_t base;
    if (!strcmp(sha, a->fw->sha256) || srv_fw_by_sha(a->e->st, sha, &base) || strcmp(base.product, a->fw->product))
        return 0;
    if (a->e->lead) {
        a->coming |= srv_deltas_want(a->e->deltas, &base, a->fw);
    } else { /* the leading worker makes patches: one is coming unless made */
        char id[48];
        srv_delta_t d;
        srv_delta_id(base.id, a->fw->id, id);
        a->coming |= srv_delta_get(a->e->st, id, &d) == OTTO_E_NOTFOUND;
    }
    return 0;
}

static bool want_deltas(srv_engine_t *e, const srv_fw_t *fw)
{
    fw_added_t a = {e, fw, false};
    if (e->deltas)
        srv_device_images(e->st, fw->product, fw->ota_type, want_from, &a);
    return a.coming;
}

void srv_engine_fw_added(srv_engine_t *e, const srv_fw_t *fw)
{
    want_deltas(e, fw);
}

/* In one transaction: the job under its id (generated unless given), an
 * execution per thing, and the supersede of older queued jobs. */
static int store_job(srv_engine_t *e, const srv_job_spec_t *spec, srv_job_t *job, const strvec_t *things,
                     const int *wave, bool paced, int64_t now, char *msg, size_t msglen)
{
    old_jobs_t old = {0};
    bool *touched = NULL;
    int err = srv_store_begin(e->st);
    if (err)
        return err;
    for (int attempt = 0;; attempt++) {
        if (spec->job_id && spec->job_id[0]) {
            snprintf(job->id, sizeof job->id, "%s", spec->job_id);
        } else {
            /* job-<unix time>-<4 hex>: sortable, unique across database resets
             * (devices remember job ids across a server rebuild). */
            snprintf(job->id, sizeof job->id, "job-%lld-%04x", (long long)now, (unsigned)(rand() & 0xffff));
        }
        err = srv_job_put(e->st, job, spec->fw_ids, spec->nfw);
        if (err != OTTO_E_EXISTS || (spec->job_id && spec->job_id[0]) || attempt > 8)
            break;
    }
    if (err == OTTO_E_EXISTS)
        fail(msg, msglen, err, "a job with id '%s' already exists", job->id);
    /* A paced job supersedes nothing: its executions do not exist for a
     * device until released, and the older job's must go on meanwhile. */
    if (!err && !paced)
        err = srv_job_supersedable(e->st, job->product, job->ota_types, job->seq, push_old, &old);
    if (!err && !(touched = calloc(old.n ? old.n : 1, sizeof *touched)))
        err = OTTO_E_NOSPC;
    for (size_t i = 0; i < things->n && !err; i++) {
        srv_exec_t ex;
        fresh_exec(&ex, job->seq, things->v[i], 1, paced ? 0 : now, now); /* 0: waiting for the rollout */
        ex.wave = wave ? wave[i] : 0;
        err = srv_exec_put(e->st, &ex);
        if (!err && old.n)
            err = supersede(e, things->v[i], &old, job->id, touched, now);
    }
    for (size_t i = 0; i < old.n && !err; i++)
        if (touched[i])
            maybe_complete(e, old.v[i].seq, now);
    if (err)
        srv_store_rollback(e->st);
    else
        err = srv_store_commit(e->st);
    free(old.v);
    free(touched);
    return err;
}

int srv_engine_create_job(srv_engine_t *e, const srv_job_spec_t *spec,
                          char id_out[SRV_JOBID_MAX + 1], size_t *ntargets,
                          char *msg, size_t msglen)
{
    int64_t now = srv_now();
    srv_fw_t *fws = NULL;
    strvec_t things = {0}, types = {0};
    next_id_t *prev = NULL;
    int *wave = NULL; /* each target's wave, with rolloutWaves */
    srv_where_t where;
    srv_job_t job;
    int err;

    memset(&job, 0, sizeof job);
    *ntargets = 0;
    msg[0] = 0;
    if (spec->nfw == 0)
        return fail(msg, msglen, OTTO_E_INVAL, "a job needs at least one firmware%s", "");
    if (spec->ndevices + spec->ngroups == 0)
        return fail(msg, msglen, OTTO_E_INVAL, "a job needs at least one device or group%s", "");
    if (spec->job_id && spec->job_id[0] && !srv_valid_job_id(spec->job_id))
        return fail(msg, msglen, OTTO_E_INVAL,
                    "job id '%s' must be 1-64 of letters, digits, '_' and '-'", spec->job_id);
    if (!(fws = calloc(spec->nfw, sizeof *fws)))
        return OTTO_E_NOSPC;
    srv_job_config_t jc;
    if ((err = srv_job_config_parse(spec->config, &jc, msg, msglen)) ||
        (err = srv_sched_check(&jc.sc, now, msg, msglen)) ||
        (err = check_key_updates(e, spec, msg, msglen)) ||
        (err = check_firmware(e, spec, fws, &types, msg, msglen)) ||
        (err = job_where(spec->config, &where, msg, msglen)) ||
        (err = expand_targets(e, spec, &things, msg, msglen)) ||
        (err = filter_targets(e, spec, &where, fws, &things)) ||
        (err = job_record(e, spec, fws, &types, now, &job, msg, msglen)))
        goto out;
    if (!things.n && !srv_continuous(spec->config)) {
        err = fail(msg, msglen, OTTO_E_NOTFOUND, "every target was left out%s", spec->left_out ? "" : " (hardware)");
        if (spec->left_out && cJSON_GetArraySize(spec->left_out)) {
            const cJSON *first = cJSON_GetArrayItem(spec->left_out, 0);
            size_t n = strlen(msg);
            snprintf(msg + n, msglen - n, ": %.0f %s", cJSON_GetObjectItemCaseSensitive(first, "devices")->valuedouble,
                     cJSON_GetObjectItemCaseSensitive(first, "reason")->valuestring);
            if (cJSON_GetArraySize(spec->left_out) > 1)
                snprintf(msg + strlen(msg), msglen - strlen(msg), ", and others");
        }
        goto out;
    }
    int nwaves = 0;
    if (jc.wv.n) {
        if (!(wave = calloc(things.n ? things.n : 1, sizeof *wave))) {
            err = OTTO_E_NOSPC;
            goto out;
        }
        if ((nwaves = assign_waves(e, &jc.wv, &things, wave, msg, msglen)) < 0) {
            err = nwaves;
            goto out;
        }
    }
    /* Patches from what its devices run: while one is being made the job
     * holds its executions, so every device is told with its patch ready. */
    bool hold = false;
    for (size_t k = 0; k < spec->nfw; k++)
        hold |= want_deltas(e, &fws[k]);
    /* The rollout's own state rides in the configuration, under "state". */
    cJSON *cfg = spec->config ? cJSON_Duplicate(spec->config, true) : cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "state");
    if (nwaves || hold) {
        cJSON *state = cJSON_AddObjectToObject(cfg, "state");
        if (nwaves) {
            cJSON_AddNumberToObject(state, "wave", 1);
            cJSON_AddNumberToObject(state, "waveCount", nwaves);
        }
        if (hold)
            cJSON_AddTrueToObject(state, "holdForDeltas");
    }
    job.config = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    if (!job.config) {
        err = OTTO_E_NOSPC;
        goto out;
    }
    /* What each target's next execution was, to notify only what changes. */
    if (!(prev = calloc(things.n ? things.n : 1, sizeof *prev))) {
        err = OTTO_E_NOSPC;
        goto out;
    }
    for (size_t i = 0; i < things.n; i++)
        prev[i] = next_of(e, things.v[i]);
    /* released by the rollout, in maintenance windows, or from its start */
    bool paced = srv_job_config_paced(&jc) || hold;
    if ((err = store_job(e, spec, &job, &things, wave, paced, now, msg, msglen)))
        goto out;

    snprintf(id_out, SRV_JOBID_MAX + 1, "%s", job.id);
    *ntargets = things.n;
    SRV_LOG_INF("job=%s created: %zu executions, product %s, ota_types %s%s", job.id, things.n, job.product,
                job.ota_types, nwaves ? ", in waves" : "");
    for (size_t i = 0; i < things.n && !paced; i++) /* paced: each told when released */
        notify_thing(e, things.v[i], prev[i], true, now); /* after the commit, as every publish */
out:
    srv_job_clear(&job);
    strvec_free(&things);
    strvec_free(&types);
    free(prev);
    free(wave);
    free(fws);
    return err;
}

/* ---- cancel and timers ------------------------------------------------- */

typedef struct {
    srv_engine_t *e;
    int to;
    const char *reason;
    int64_t now;
    strvec_t things;
    size_t changed;
    int err;
} service_move_t;

/* Collect the things first: notifications need each one's next execution
 * before the change. */
static int collect_thing(void *arg, const srv_exec_t *ex)
{
    service_move_t *m = arg;
    if ((m->err = strvec_push(&m->things, ex->thing)))
        return 1;
    return 0;
}

/* Move one execution to a service status (CANCELED, TIMED_OUT) and publish. */
static int service_move(srv_engine_t *e, srv_exec_t *ex, int to, const char *reason, int64_t now)
{
    next_id_t prev = next_of(e, ex->thing);
    int from = ex->status, err;
    cJSON *d = cJSON_Parse(ex->details);
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        d = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(d, "reason");
    cJSON_AddStringToObject(d, "reason", reason);
    apply_move(e, ex, to, 0, now);
    /* Room is kept for the reason (SRV_DETAILS_DEVICE_MAX); should it not
     * fit all the same, the device's report stays as it was. */
    if (set_details(ex, d))
        SRV_LOG_WRN("job=%s thing=%s: the reason does not fit beside the device's statusDetails; kept apart",
                ex->job_id, ex->thing);
    cJSON_Delete(d);
    if ((err = srv_store_begin(e->st)))
        return err;
    err = srv_exec_update(e->st, ex);
    if (err)
        srv_store_rollback(e->st);
    else
        err = srv_store_commit(e->st);
    if (err)
        return err;
    SRV_LOG_INF("job=%s thing=%s %s -> %s (%s)", ex->job_id, ex->thing, srv_status_name(from),
            srv_status_name(to), reason);
    notify_thing(e, ex->thing, prev, true, now);
    after_end(e, ex, now);
    return OTTO_OK;
}

int srv_engine_cancel_job(srv_engine_t *e, const char *id, bool force, const char *reason,
                          char *msg, size_t msglen)
{
    int64_t now = srv_now();
    srv_job_t job;
    service_move_t m = {.e = e};
    char why[300];
    int err;

    msg[0] = 0;
    if ((err = srv_job_get(e->st, id, &job)))
        return err == OTTO_E_NOTFOUND ? fail(msg, msglen, err, "no job '%s'", id) : err;
    int64_t seq = job.seq;
    int status = job.status;
    srv_job_clear(&job);
    if (status != SRV_JOB_IN_PROGRESS)
        return fail(msg, msglen, OTTO_E_STATE, "job is already %s", srv_job_status_name(status));
    snprintf(why, sizeof why, "%s", reason && *reason ? reason : "canceled by operator");

    /* The job first, so that maybe_complete() cannot mark it COMPLETED. */
    if ((err = srv_job_set_status(e->st, seq, SRV_JOB_CANCELED, now, why)))
        return err;
    SRV_LOG_INF("job=%s canceled%s: %s", id, force ? " (force)" : "", why);
    for (int pass = 0; pass < (force ? 2 : 1); pass++) {
        int which = pass == 0 ? SRV_QUEUED : SRV_IN_PROGRESS;
        strvec_free(&m.things);
        if ((err = srv_exec_of_job(e->st, seq, which, collect_thing, &m)) || (err = m.err))
            break;
        for (size_t i = 0; i < m.things.n; i++) {
            srv_exec_t ex;
            if (srv_exec_get(e->st, seq, m.things.v[i], 0, &ex) == OTTO_OK &&
                ex.status == which && (err = service_move(e, &ex, SRV_CANCELED, why, now)))
                break;
        }
    }
    strvec_free(&m.things);
    return err;
}

static int collect_expired(void *arg, const srv_exec_t *ex)
{
    service_move_t *m = arg;
    char key[SRV_THING_MAX + 32];
    snprintf(key, sizeof key, "%lld/%d/%s", (long long)ex->job_seq, ex->exec_no, ex->thing);
    if ((m->err = strvec_push(&m->things, key)))
        return 1;
    return 0;
}

/* ---- continuous jobs ------------------------------------------------------ */

/* The continuous jobs open now, each with its targets (read once). */
typedef struct {
    srv_engine_t *e;
    struct cont_job {
        int64_t seq;
        char id[SRV_JOBID_MAX + 1];
        cJSON *targets;
        int wave; /* the wave running now (rolloutWaves), 0: none */
        srv_where_t where; /* which hardware it may reach */
        srv_fw_t *fws;     /* its firmware, for the fit (nfw of them) */
        size_t nfw;
    } *v;
    size_t n, cap;
} cont_list_t;

static int collect_continuous(void *arg, int64_t seq, const char *config)
{
    cont_list_t *l = arg;
    srv_job_t job;
    if (!job_continuous(config) || srv_job_get_seq(l->e->st, seq, &job))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct cont_job *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            srv_job_clear(&job);
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    struct cont_job *c = &l->v[l->n++];
    c->seq = seq;
    snprintf(c->id, sizeof c->id, "%s", job.id);
    c->targets = cJSON_Parse(job.targets);
    cJSON *cfg = cJSON_Parse(config);
    char msg[160];
    c->wave = state_int(cfg, "wave");
    if (job_where(cfg, &c->where, msg, sizeof msg))
        memset(&c->where, 0, sizeof c->where); /* checked when the job was made */
    cJSON_Delete(cfg);
    cJSON *ids = cJSON_Parse(job.fw_ids), *id;
    c->nfw = 0;
    c->fws = calloc((size_t)cJSON_GetArraySize(ids) + 1, sizeof *c->fws);
    cJSON_ArrayForEach(id, ids)
        if (c->fws && cJSON_IsString(id) && !srv_fw_get(l->e->st, id->valuestring, &c->fws[c->nfw]))
            c->nfw++;
    cJSON_Delete(ids);
    srv_job_clear(&job);
    return 0;
}

/* Is thing (in groups, comma-separated) a target of the job? */
static bool targets_thing(const cJSON *t, const char *thing, const char *groups)
{
    const cJSON *v;
    char gs[1024], *save = NULL;
    bool yes = false;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "devices"))
        yes |= cJSON_IsString(v) && !strcmp(v->valuestring, thing);
    snprintf(gs, sizeof gs, "%s", groups);
    for (char *g = strtok_r(gs, ",", &save); g && !yes; g = strtok_r(NULL, ",", &save))
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "groups"))
            yes |= cJSON_IsString(v) && !strcmp(v->valuestring, g);
    return yes;
}

void srv_engine_joined(srv_engine_t *e, const char *const *things, size_t n, int64_t now)
{
    cont_list_t l = {e, NULL, 0, 0};
    srv_job_paced(e->st, collect_continuous, &l);
    for (size_t i = 0; i < n && l.n; i++) {
        srv_device_t d;
        if (srv_device_get(e->st, things[i], &d))
            continue;
        for (size_t k = 0; k < l.n; k++) {
            srv_exec_t ex;
            char why[160];
            if (!targets_thing(l.v[k].targets, things[i], d.groups) ||
                srv_exec_get(e->st, l.v[k].seq, things[i], 0, &ex) != OTTO_E_NOTFOUND)
                continue;
            if (!hw_admits(&l.v[k].where, l.v[k].fws, l.v[k].nfw, d.hw, why, sizeof why)) {
                SRV_LOG_INF("job=%s thing=%s joined a target group: left out, %s", l.v[k].id, things[i], why);
                continue;
            }
            next_id_t prev = next_of(e, things[i]);
            fresh_exec(&ex, l.v[k].seq, things[i], 1, now, now); /* no rate for those who join later, as AWS */
            ex.wave = l.v[k].wave; /* ... and they join the wave running now */
            if (!srv_exec_put(e->st, &ex)) {
                SRV_LOG_INF("job=%s thing=%s joined a target group: queued (continuous job)", l.v[k].id, things[i]);
                notify_thing(e, things[i], prev, true, now);
            }
        }
    }
    for (size_t k = 0; k < l.n; k++) {
        cJSON_Delete(l.v[k].targets);
        free(l.v[k].fws);
    }
    free(l.v);
}

/* ---- paced rollouts ------------------------------------------------------ */

typedef struct {
    srv_engine_t *e;
    int64_t now;
    int64_t ending[16];  /* jobs whose endTime came: cancelled after the walk */
    bool force[16];
    int nending;
} pace_ctx_t;

/* The things a release is about to reach, with what each had next before. */
typedef struct {
    srv_engine_t *e;
    strvec_t things;
    next_id_t *prev;
    size_t cap;
} released_t;

static int collect_released(void *arg, const char *thing)
{
    released_t *r = arg;
    if (r->things.n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        next_id_t *p = realloc(r->prev, cap * sizeof *p);
        if (!p)
            return 1;
        r->prev = p;
        r->cap = cap;
    }
    if (strvec_push(&r->things, thing))
        return 1;
    r->prev[r->things.n - 1] = next_of(r->e, thing);
    return 0;
}

static srv_pace_t *pace_slot(srv_engine_t *e, int64_t seq, int64_t now)
{
    srv_pace_t *free_slot = NULL;
    for (int i = 0; i < SRV_PACE_JOBS; i++) {
        if (e->pace[i].seq == seq)
            return &e->pace[i];
        if (!e->pace[i].seq && !free_slot)
            free_slot = &e->pace[i];
    }
    if (free_slot) /* first seen (created, or ottod restarted): one at once, then the rate */
        *free_slot = (srv_pace_t){seq, 1.0, now, 0, false};
    return free_slot;
}

/* The rollout's state in a job's configuration ("state": wave, waveCount,
 * waveAcked, paused, pauseReason), written back whole. */
static cJSON *job_state(cJSON *cfg)
{
    cJSON *st = cJSON_GetObjectItemCaseSensitive(cfg, "state");
    return st ? st : cJSON_AddObjectToObject(cfg, "state");
}

static int state_int(cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "state"), key);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static void state_set_num(cJSON *cfg, const char *key, double v)
{
    cJSON *st = job_state(cfg);
    cJSON_DeleteItemFromObjectCaseSensitive(st, key);
    cJSON_AddNumberToObject(st, key, v);
}

/* Paused (why: the reason, "" for an operator's pause) or running. */
static void state_pause(cJSON *cfg, bool pause, const char *why)
{
    cJSON *st = job_state(cfg);
    cJSON_DeleteItemFromObjectCaseSensitive(st, "paused");
    cJSON_DeleteItemFromObjectCaseSensitive(st, "pauseReason");
    if (pause)
        cJSON_AddTrueToObject(st, "paused");
    if (pause && why && why[0])
        cJSON_AddStringToObject(st, "pauseReason", why);
}

static int save_config(srv_engine_t *e, int64_t seq, const cJSON *cfg)
{
    char *txt = cJSON_PrintUnformatted(cfg);
    int err = txt ? srv_job_set_config(e->st, seq, txt) : OTTO_E_NOSPC;
    free(txt);
    for (int i = 0; i < SRV_INSTALL_JOBS; i++)
        if (e->inst[i].seq == seq) /* read again when next asked */
            e->inst[i].seq = 0;
    return err;
}

/* ---- install later (installConfig) ---------------------------------------- */

static srv_install_cache_t *install_entry(srv_engine_t *e, int64_t seq)
{
    for (int i = 0; i < SRV_INSTALL_JOBS; i++)
        if (e->inst[i].seq == seq)
            return &e->inst[i];
    srv_install_cache_t *c = &e->inst[e->inst_next++ % SRV_INSTALL_JOBS];
    srv_job_t job;
    char msg[160];
    memset(c, 0, sizeof *c);
    c->last = -1;
    if (srv_job_get_seq(e->st, seq, &job))
        return NULL;
    cJSON *cfg = cJSON_Parse(job.config ? job.config : "{}");
    if (!srv_install_parse(cJSON_GetObjectItemCaseSensitive(cfg, "installConfig"), &c->in, msg, sizeof msg)) {
        c->seq = seq;
        c->deferred = c->in.deferred;
        c->told = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "state"),
                                                               "install"));
    }
    cJSON_Delete(cfg);
    srv_job_clear(&job);
    return c->seq ? c : NULL;
}

int srv_engine_install(srv_engine_t *e, int64_t seq, int64_t now)
{
    const srv_install_cache_t *c = install_entry(e, seq);
    if (!c || !c->deferred)
        return -1;
    return c->told || (c->in.windows.n && srv_sched_open(&c->in.windows, now));
}

/* The install signal changed (told, or a window opened or closed): each
 * device on the job hears it again, as notify-next with its execution.
 * Devices still QUEUED hear it when they take the job. */
static void install_push(srv_engine_t *e, int64_t seq, int64_t now)
{
    srv_install_cache_t *c = install_entry(e, seq);
    int v = srv_engine_install(e, seq, now);
    if (!c || v < 0 || v == c->last)
        return;
    bool first = c->last < 0;
    c->last = v;
    if (first && !v)
        return; /* nothing to take back */
    service_move_t p = {.e = e};
    srv_exec_of_job(e->st, seq, SRV_IN_PROGRESS, collect_thing, &p);
    for (size_t i = 0; i < p.things.n; i++) {
        srv_exec_t next;
        if (!srv_exec_next(e->st, p.things.v[i], &next) && next.job_seq == seq && e->changed)
            e->changed(e, p.things.v[i], false, true, &next, now);
    }
    if (p.things.n)
        SRV_LOG_INF("job seq %lld install: %s (%zu devices told)", (long long)seq, v ? "NOW" : "WAIT", p.things.n);
    strvec_free(&p.things);
}

typedef struct {
    int wave;
    int64_t size, counts[SRV_STATUS_COUNT];
} wave_sum_t;

static int sum_wave(void *arg, int wave, int status, int64_t released, int64_t n)
{
    wave_sum_t *w = arg;
    (void)released;
    if (wave == w->wave) {
        w->counts[status] += n;
        w->size += n;
    }
    return 0;
}

/* rolloutWaves: the current wave's gate. Its success threshold opens the
 * next wave (or, successAction PAUSE, pauses the job for otto job resume);
 * its error threshold pauses the job; a wave that ended below its success
 * threshold pauses it for otto job next-wave. A gate the operator passed
 * (resume: waveAcked) no longer pauses. Returns whether the job is paused. */
static bool wave_step(srv_engine_t *e, int64_t seq, const srv_waves_t *wv, cJSON *cfg)
{
    int cur = state_int(cfg, "wave"), count = state_int(cfg, "waveCount");
    if (cur < 1 || cur > count || count > wv->n + 1)
        return false;
    srv_wave_t w = wv->w[cur - 1];
    if (state_int(cfg, "waveAcked") >= cur) {
        w.error_pct = -1;
        w.pause = false;
    }
    wave_sum_t sum = {.wave = cur};
    char why[SRV_REASON_MAX + 1];
    if (srv_exec_wave_counts(e->st, seq, sum_wave, &sum))
        return false;
    int gate = srv_wave_gate(&w, cur, sum.size, sum.counts, why, sizeof why);
    if (gate == SRV_GATE_WAIT || (cur == count && gate != SRV_GATE_ERROR))
        return false; /* the last wave just ends, and the job with it */
    if (gate == SRV_GATE_NEXT) {
        state_set_num(cfg, "wave", cur + 1);
        SRV_LOG_INF("job seq %lld wave %d: %lld of %lld succeeded, wave %d starts", (long long)seq, cur,
                    (long long)sum.counts[SRV_SUCCEEDED], (long long)sum.size, cur + 1);
    } else {
        state_pause(cfg, true, why);
        SRV_LOG_WRN("job seq %lld %s", (long long)seq, why);
    }
    save_config(e, seq, cfg);
    return gate != SRV_GATE_NEXT;
}

/* Is a patch to one of the job's images still being made? */
static bool deltas_pending(srv_engine_t *e, int64_t seq)
{
    srv_job_t job;
    const cJSON *id;
    bool busy = false;
    if (!e->deltas || srv_job_get_seq(e->st, seq, &job))
        return false;
    cJSON *ids = cJSON_Parse(job.fw_ids);
    cJSON_ArrayForEach(id, ids) {
        srv_fw_t fw;
        /* Several workers: the job may have been made on another one, and
         * its patches asked for here, by the leader (made ones are skipped). */
        if (srv_store_shared(e->st) && cJSON_IsString(id) && !srv_fw_get(e->st, id->valuestring, &fw))
            want_deltas(e, &fw);
        busy |= cJSON_IsString(id) && srv_deltas_busy(e->deltas, id->valuestring);
    }
    cJSON_Delete(ids);
    srv_job_clear(&job);
    return busy;
}

/* One paced job: credit accrues at the rate (per the engine's minute), a
 * whole execution released per unit; each released thing is told. */
static int pace_job(void *arg, int64_t seq, const char *config)
{
    pace_ctx_t *c = arg;
    srv_engine_t *e = c->e;
    srv_job_config_t jc;
    char msg[160];
    int64_t released, waiting, later, counts[SRV_STATUS_COUNT];
    cJSON *cfg = cJSON_Parse(config);
    int err = srv_job_config_parse(cfg, &jc, msg, sizeof msg);
    bool paused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "state"), "paused"));
    const srv_sched_t *sc = &jc.sc;
    if (!err && jc.in.deferred)
        install_push(e, seq, c->now);
    bool unheld = false;
    if (!err && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "state"),
                                                              "holdForDeltas"))) {
        if (deltas_pending(e, seq))
            goto out;
        cJSON_DeleteItemFromObjectCaseSensitive(job_state(cfg), "holdForDeltas");
        save_config(e, seq, cfg);
        SRV_LOG_INF("job seq %lld: its delta patches are made: released", (long long)seq);
        unheld = true;
    }
    if (!err && sc->end && c->now >= sc->end) { /* endTime: no more releases; CANCEL ends the job too */
        if (sc->end_behavior != SRV_END_STOP_ROLLOUT && c->nending < 16) {
            c->force[c->nending] = sc->end_behavior == SRV_END_FORCE_CANCEL;
            c->ending[c->nending++] = seq;
        }
        goto out;
    }
    /* Paused, before its start, or outside every maintenance window: its
     * slot goes, and it starts again at its rate, no burst for the wait. */
    if (err || paused || (!srv_job_config_paced(&jc) && !unheld) || c->now < sc->start ||
        !srv_sched_open(sc, c->now))
        goto out;
    if (jc.wv.n && wave_step(e, seq, &jc.wv, cfg))
        goto out;
    int max_wave = jc.wv.n ? state_int(cfg, "wave") : 0;
    if (srv_exec_release_counts(e->st, seq, max_wave, &released, &waiting, &later) || !waiting ||
        srv_exec_counts(e->st, seq, counts))
        goto out;
    srv_pace_t *p = pace_slot(e, seq, c->now);
    if (!p)
        goto out;
    p->seen = true;
    const srv_rollout_t *ro = &jc.ro;
    if (!ro->on) /* no rate: everything at once while the schedule and waves allow */
        p->credit = (double)waiting;
    p->rate = ro->on ? srv_rollout_rate(ro, released, counts[SRV_SUCCEEDED]) : 0;
    p->credit += p->rate * (double)(c->now - p->last) / (double)(e->minute_s > 0 ? e->minute_s : 60);
    p->last = c->now;
    int64_t n = (int64_t)p->credit;
    if (n > waiting)
        n = waiting;
    if (n <= 0)
        goto out;
    p->credit -= (double)n;
    released_t r = {e, {0}, NULL, 0};
    if (!srv_exec_release(e->st, seq, max_wave, c->now, n, collect_released, &r)) {
        for (size_t i = 0; i < r.things.n; i++)
            notify_thing(e, r.things.v[i], r.prev[i], true, c->now);
        /* one line a tick: what was released at which rate (the bench reads it) */
        SRV_LOG_INF("job seq %lld rollout: released %zu at %.0f a minute, %lld waiting", (long long)seq,
                    r.things.n, p->rate, (long long)(waiting + later - (int64_t)r.things.n));
    }
    strvec_free(&r.things);
    free(r.prev);
out:
    cJSON_Delete(cfg);
    return 0;
}

int srv_engine_rollout_op(srv_engine_t *e, const char *id, int op, char *msg, size_t msglen)
{
    srv_job_t job;
    srv_job_config_t jc;
    int err = srv_job_get(e->st, id, &job);
    if (err)
        return err == OTTO_E_NOTFOUND ? fail(msg, msglen, err, "no job '%s'", id) : err;
    cJSON *cfg = cJSON_Parse(job.config ? job.config : "{}");
    int cur = state_int(cfg, "wave"), count = state_int(cfg, "waveCount");
    if (job.status != SRV_JOB_IN_PROGRESS || srv_job_config_parse(cfg, &jc, msg, msglen) ||
        (!jc.ro.on && !jc.wv.n && op != SRV_ROLLOUT_INSTALL)) {
        err = fail(msg, msglen, OTTO_E_STATE,
                   "only a job in progress with a rollout rate or waves pauses, resumes or moves on"
                   " (jobExecutionsRolloutConfig, rolloutWaves)%s", "");
    } else if (op == SRV_ROLLOUT_INSTALL) {
        if (!jc.in.deferred) {
            err = fail(msg, msglen, OTTO_E_STATE, "the job installs at once (no installConfig.deferred)%s", "");
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(job_state(cfg), "install");
            cJSON_AddTrueToObject(job_state(cfg), "install");
            if (!(err = save_config(e, job.seq, cfg))) {
                SRV_LOG_INF("job=%s install: devices told to install now (otto job install)", job.id);
                install_push(e, job.seq, srv_now());
            }
        }
    } else if (op == SRV_ROLLOUT_NEXT_WAVE && (!jc.wv.n || cur >= count)) {
        char n[16];
        snprintf(n, sizeof n, "%d", cur);
        err = jc.wv.n ? fail(msg, msglen, OTTO_E_STATE, "wave %s is the job's last", n)
                      : fail(msg, msglen, OTTO_E_STATE, "the job has no waves (rolloutWaves)%s", "");
    } else {
        state_pause(cfg, op == SRV_ROLLOUT_PAUSE, NULL);
        if (op == SRV_ROLLOUT_RESUME && jc.wv.n) /* the operator passed the gate that paused it */
            state_set_num(cfg, "waveAcked", cur);
        if (op == SRV_ROLLOUT_NEXT_WAVE)
            state_set_num(cfg, "wave", cur + 1);
        if (!(err = save_config(e, job.seq, cfg))) {
            static const char *const done[] = {"paused", "resumed", "moved on to the next wave"};
            SRV_LOG_INF("job=%s rollout %s%s", job.id, done[op], op == SRV_ROLLOUT_NEXT_WAVE ? " (otto job next-wave)" : "");
        }
    }
    cJSON_Delete(cfg);
    srv_job_clear(&job);
    return err;
}

void srv_engine_tick(srv_engine_t *e, int64_t now)
{
    pace_ctx_t pc = {e, now, {0}, {0}, 0};
    for (int i = 0; i < SRV_PACE_JOBS; i++)
        e->pace[i].seen = false;
    srv_job_paced(e->st, pace_job, &pc);
    for (int i = 0; i < pc.nending; i++) {
        srv_job_t job;
        char msg[160];
        if (srv_job_get_seq(e->st, pc.ending[i], &job))
            continue;
        SRV_LOG_INF("job=%s reached its schedulingConfig.endTime", job.id);
        srv_engine_cancel_job(e, job.id, pc.force[i], "schedulingConfig.endTime reached", msg, sizeof msg);
        srv_job_clear(&job);
    }
    for (int i = 0; i < SRV_PACE_JOBS; i++)
        if (!e->pace[i].seen) /* done, cancelled or all released: the slot is free */
            e->pace[i].seq = 0;
    service_move_t m = {.e = e};
    if (srv_exec_expired(e->st, now, collect_expired, &m))
        return;
    for (size_t i = 0; i < m.things.n; i++) {
        long long seq;
        int no, off = 0;
        srv_exec_t ex;
        if (sscanf(m.things.v[i], "%lld/%d/%n", &seq, &no, &off) < 2 || !off)
            continue;
        /* Several workers: the device's lock first, then the execution as
         * it is now (its own update may have just landed on another one). */
        bool shared = srv_store_shared(e->st);
        if (shared && srv_store_begin(e->st))
            continue;
        if ((!shared || !srv_store_lock_thing(e->st, m.things.v[i] + off)) &&
            !srv_exec_get(e->st, seq, m.things.v[i] + off, no, &ex) && ex.status == SRV_IN_PROGRESS) {
            bool step = ex.step_deadline && ex.step_deadline <= now &&
                        (!ex.deadline || ex.step_deadline < ex.deadline);
            service_move(e, &ex, SRV_TIMED_OUT, step ? "step timeout" : "in-progress timeout", now);
        }
        if (shared)
            srv_store_commit(e->st);
    }
    strvec_free(&m.things);
}
