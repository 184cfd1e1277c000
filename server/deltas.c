/* SPDX-License-Identifier: Apache-2.0 */
#include "deltas.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "delta.h"
#include "firmware.h"
#include "log.h"
#include "otto/crypto.h"
#include "otto/err.h"
#include "util.h"

#define QUEUE_MAX 64

typedef struct {
    char base[20], target[20];
    char base_sha[65], target_sha[65];
} want_t;

struct srv_deltas {
    char dir[400];
    srv_store_t *st;
    pthread_mutex_t *lock; /* the server's: for the store */
    pthread_mutex_t mu;    /* the queue's */
    pthread_cond_t cv;
    pthread_t thread;
    want_t q[QUEUE_MAX];
    int n;
    /* Pairs tried that gave no patch (no smaller than the image, or a file
     * not as uploaded): not tried again until ottod restarts, or a job
     * waiting for its patches would wait for ever. */
    want_t tried[QUEUE_MAX];
    int ntried, tried_next;
    bool stop;
    unsigned long made;
};

void srv_delta_id(const char *base_fw, const char *target_fw, char out[48])
{
    /* "fw-" + 12 hex each: d-<base hex>-<target hex> */
    snprintf(out, 48, "d-%.16s-%.16s", base_fw + (strncmp(base_fw, "fw-", 3) ? 0 : 3),
             target_fw + (strncmp(target_fw, "fw-", 3) ? 0 : 3));
}

int srv_delta_path(const char *data_dir, const char *id, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/deltas/%s.otdl", data_dir, id);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static bool make_one(srv_deltas_t *d, const want_t *w)
{
    char bp[600], tp[600], id[48], out[600];
    uint8_t *b = NULL, *t = NULL, *p = NULL;
    size_t bn, tn, pn;
    int err = OTTO_E_IO;
    srv_delta_id(w->base, w->target, id);
    if (srv_artifact_path(d->dir, w->base_sha, bp, sizeof bp) || srv_artifact_path(d->dir, w->target_sha, tp, sizeof tp) ||
        srv_delta_path(d->dir, id, out, sizeof out))
        return false;
    double t0 = otto_mono_s();
    char name[100];
    for (int k = 0; k < 2; k++) { /* uploaded to another worker: from the shared store */
        snprintf(name, sizeof name, "artifacts/%s", k ? w->target_sha : w->base_sha);
        srv_shared_file(d->st, d->lock, k ? tp : bp, name);
    }
    if (otto_read_file(bp, &b, &bn) || otto_read_file(tp, &t, &tn)) {
        SRV_LOG_ERR("delta %s: cannot read the firmware files: %s", id, strerror(errno));
        goto out;
    }
    /* Only from and to the files as uploaded: one changed on disk since
     * makes no patch (devices get the file, and check it themselves). */
    uint8_t sha[32];
    char hex[65];
    for (int k = 0; k < 2; k++) {
        otto_sha256(k ? t : b, k ? tn : bn, sha);
        otto_hex(sha, 32, hex);
        if (strcmp(hex, k ? w->target_sha : w->base_sha)) {
            SRV_LOG_ERR("delta %s: %s's file on disk is not the one uploaded (SHA-256 differs): no patch", id,
                        k ? w->target : w->base);
            goto out;
        }
    }
    err = otto_delta_make(b, bn, t, tn, 0, &p, &pn);
    if (err) {
        SRV_LOG_ERR("delta %s: %s", id, otto_strerror(err));
        goto out;
    }
    if (pn >= tn) { /* nothing to gain: devices take the full image */
        SRV_LOG_INF("delta %s: %zu bytes, no smaller than the image (%zu): not offered", id, pn, tn);
        err = OTTO_E_NOSPC;
        goto out;
    }
    if (otto_write_file(out, p, pn)) {
        SRV_LOG_ERR("delta %s: cannot write %s: %s", id, out, strerror(errno));
        err = OTTO_E_IO;
        goto out;
    }
    srv_delta_t rec = {{0}, {0}, {0}, (int64_t)pn, srv_now()};
    snprintf(rec.id, sizeof rec.id, "%s", id);
    snprintf(rec.base_fw, sizeof rec.base_fw, "%s", w->base);
    snprintf(rec.target_fw, sizeof rec.target_fw, "%s", w->target);
    snprintf(name, sizeof name, "deltas/%s", id);
    pthread_mutex_lock(d->lock);
    err = srv_blob_put(d->st, name, out); /* for every worker, before the record that offers it */
    if (!err)
        err = srv_delta_put(d->st, &rec);
    pthread_mutex_unlock(d->lock);
    if (!err)
        SRV_LOG_INF("delta %s: %s -> %s, %zu bytes (%.1f %% of %zu), made in %.2f s", id, w->base, w->target, pn,
                    100.0 * (double)pn / (double)tn, tn, otto_mono_s() - t0);
    else
        err = OTTO_E_IO;
out:
    free(b);
    free(t);
    free(p);
    return !err;
}

static void *run(void *arg)
{
    srv_deltas_t *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->n && !d->stop)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stop)
            break;
        want_t w = d->q[0];
        pthread_mutex_unlock(&d->mu);
        bool ok = make_one(d, &w);
        pthread_mutex_lock(&d->mu);
        d->made += ok;
        if (!ok) {
            d->tried[d->tried_next] = w;
            d->tried_next = (d->tried_next + 1) % QUEUE_MAX;
            d->ntried += d->ntried < QUEUE_MAX;
        }
        memmove(d->q, d->q + 1, sizeof *d->q * (size_t)(--d->n)); /* done: out of the queue only now */
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int srv_deltas_start(srv_deltas_t **out, const char *data_dir, srv_store_t *st, pthread_mutex_t *lock)
{
    srv_deltas_t *d = calloc(1, sizeof *d);
    char sub[500];
    if (!d)
        return OTTO_E_NOSPC;
    snprintf(d->dir, sizeof d->dir, "%s", data_dir);
    snprintf(sub, sizeof sub, "%s/deltas", data_dir);
    if (mkdir(sub, 0750) && errno != EEXIST) {
        SRV_LOG_ERR("deltas: cannot make %s: %s", sub, strerror(errno));
        free(d);
        return OTTO_E_IO;
    }
    d->st = st;
    d->lock = lock;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->thread, NULL, run, d)) {
        free(d);
        return OTTO_E_IO;
    }
    *out = d;
    return OTTO_OK;
}

void srv_deltas_stop(srv_deltas_t *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

bool srv_deltas_want(srv_deltas_t *d, const srv_fw_t *base, const srv_fw_t *target)
{
    char id[48];
    srv_delta_t rec;
    if (!d || !strcmp(base->id, target->id) || strcmp(base->ota_type, target->ota_type))
        return false;
    srv_delta_id(base->id, target->id, id);
    if (!srv_delta_get(d->st, id, &rec))
        return false; /* made already */
    pthread_mutex_lock(&d->mu);
    bool queued = false;
    bool tried = false;
    for (int i = 0; i < d->ntried && !tried; i++)
        tried = !strcmp(d->tried[i].base, base->id) && !strcmp(d->tried[i].target, target->id);
    for (int i = 0; i < d->n && !queued; i++)
        queued = !strcmp(d->q[i].base, base->id) && !strcmp(d->q[i].target, target->id);
    if (!queued && !tried && d->n < QUEUE_MAX) {
        want_t *w = &d->q[d->n++];
        snprintf(w->base, sizeof w->base, "%s", base->id);
        snprintf(w->target, sizeof w->target, "%s", target->id);
        snprintf(w->base_sha, sizeof w->base_sha, "%s", base->sha256);
        snprintf(w->target_sha, sizeof w->target_sha, "%s", target->sha256);
        pthread_cond_signal(&d->cv);
        queued = true;
    }
    pthread_mutex_unlock(&d->mu);
    return queued;
}

bool srv_deltas_busy(srv_deltas_t *d, const char *target_fw)
{
    bool busy = false;
    if (!d)
        return false;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->n && !busy; i++)
        busy = !strcmp(d->q[i].target, target_fw);
    pthread_mutex_unlock(&d->mu);
    return busy;
}

unsigned long srv_deltas_made(srv_deltas_t *d)
{
    pthread_mutex_lock(&d->mu);
    unsigned long n = d->made;
    pthread_mutex_unlock(&d->mu);
    return n;
}
