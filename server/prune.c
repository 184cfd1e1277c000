/* SPDX-License-Identifier: Apache-2.0 */
#include "prune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deltas.h"
#include "download.h"
#include "firmware.h"
#include "log.h"
#include "otto/err.h"

#define DAY 86400

/* What to delete once a walk of the store is over (not during it). */
typedef struct {
    char (*ids)[48];
    int64_t *sizes;
    size_t n, cap;
} walk_t;

static int keep_id(walk_t *w, const char *id, int64_t size)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        char(*ids)[48] = realloc(w->ids, cap * sizeof *ids);
        int64_t *sizes = ids ? realloc(w->sizes, cap * sizeof *sizes) : NULL;
        if (ids)
            w->ids = ids;
        if (!sizes)
            return 1;
        w->sizes = sizes;
        w->cap = cap;
    }
    snprintf(w->ids[w->n], sizeof w->ids[w->n], "%s", id);
    w->sizes[w->n++] = size;
    return 0;
}

static int on_fw(void *arg, const srv_fw_t *f)
{
    return keep_id(arg, f->id, f->size);
}

static int on_delta(void *arg, const srv_delta_t *d)
{
    return keep_id(arg, d->id, d->size);
}

int srv_prune(srv_t *s, int64_t now, bool dry, srv_pruned_t *out)
{
    const srv_config_t *c = &s->cfg;
    walk_t w = {NULL, NULL, 0, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char msg[200];
    int err;
    memset(out, 0, sizeof *out);
    if ((err = srv_store_begin(s->st)))
        return err;
    if (c->retain_jobs_days > 0)
        err = srv_prune_jobs(s->st, now - (int64_t)c->retain_jobs_days * DAY, dry, &out->jobs, &out->executions);
    if (!err && c->retain_audit_days > 0)
        err = srv_prune_audit(s->st, now - (int64_t)c->retain_audit_days * DAY, dry, &out->audit);
    if (err) {
        srv_store_rollback(s->st);
        return err;
    }
    if ((err = srv_store_commit(s->st)))
        return err;
    /* Firmware, then the patches that lost their firmware or their base
     * (one at a time: each takes its file and its blob with it). */
    if (c->retain_firmware_days > 0 &&
        !(err = srv_prune_fw_unused(s->st, now - (int64_t)c->retain_firmware_days * DAY, on_fw, &w))) {
        for (size_t i = 0; i < w.n; i++) {
            if (!dry && srv_firmware_delete(s->st, c->data_dir, w.ids[i], msg, sizeof msg))
                continue; /* taken by a job meanwhile: kept */
            if (!dry)
                srv_download_forget(s, w.ids[i]);
            out->firmware++;
            out->bytes += w.sizes[i];
        }
    }
    w.n = 0;
    if (!err && (c->retain_firmware_days > 0) && !(err = srv_prune_deltas_unused(s->st, on_delta, &w))) {
        for (size_t i = 0; i < w.n; i++) {
            char path[600], name[64];
            if (!dry) {
                if (srv_delta_delete(s->st, w.ids[i]))
                    continue;
                if (!srv_delta_path(c->data_dir, w.ids[i], path, sizeof path))
                    unlink(path);
                snprintf(name, sizeof name, "deltas/%s", w.ids[i]);
                srv_blob_delete(s->st, name);
                srv_download_forget(s, w.ids[i]);
            }
            out->deltas++;
            out->bytes += w.sizes[i];
        }
    }
    free(w.ids);
    free(w.sizes);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!err && (out->jobs || out->audit || out->firmware || out->deltas))
        SRV_LOG_INF("%s: %lld jobs with %lld executions, %lld audit entries, %lld firmware and %lld patches"
                    " (%lld bytes of files) in %.0f ms", dry ? "prune (dry run) would remove" : "pruned",
                    (long long)out->jobs, (long long)out->executions, (long long)out->audit,
                    (long long)out->firmware, (long long)out->deltas, (long long)out->bytes,
                    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return err;
}
