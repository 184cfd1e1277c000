/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firmware downloads, GET /fw/{id}: the file by sendfile, with one byte
 * range (Range, If-Range against the strong ETag, which is the SHA-256).
 * The Range header is parsed strictly: "bytes=A-B", "bytes=A-" or
 * "bytes=-N", one range only. Devices resume downloads with it, so its
 * edge cases (suffix longer than the file, B past the end, A past the end)
 * follow RFC 9110 section 14 exactly.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "deltas.h"
#include "throttle.h"
#include "download.h"
#include "firmware.h"
#include "http.h"
#include "log.h"

static bool number(const char **p, unsigned long long *out)
{
    char *end;
    if (!isdigit((unsigned char)**p))
        return false;
    errno = 0;
    *out = strtoull(*p, &end, 10);
    if (errno)
        return false;
    *p = end;
    return true;
}

int srv_range_parse(const char *h, unsigned long long size, unsigned long long *first,
                    unsigned long long *last)
{
    unsigned long long a = 0, b = 0;
    bool has_a, has_b;

    if (!h || strncasecmp(h, "bytes=", 6))
        return SRV_RANGE_NONE;
    h += 6;
    while (*h == ' ')
        h++;
    has_a = number(&h, &a);
    if (*h++ != '-')
        return SRV_RANGE_NONE;
    has_b = number(&h, &b);
    while (*h == ' ')
        h++;
    if (*h) /* a second range or junk: serve the whole file */
        return SRV_RANGE_NONE;
    if (!has_a && !has_b)
        return SRV_RANGE_NONE;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return SRV_RANGE_UNSAT;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return SRV_RANGE_OK;
    }
    if (has_b && b < a)
        return SRV_RANGE_NONE; /* invalid syntax: ignore the header */
    if (a >= size)
        return SRV_RANGE_UNSAT;
    *first = a;
    *last = !has_b || b >= size ? size - 1 : b;
    return SRV_RANGE_OK;
}

#define DL_TTL_MS 5000

static unsigned slot_of(const char *id)
{
    return srv_fnv1a(id) % SRV_DLCACHE;
}

/* A live entry for id: its sha256 into sha (65 bytes). */
static bool cache_get(srv_t *s, const char *id, char *sha)
{
    srv_dlcache_t *c = &s->dl;
    unsigned i = slot_of(id);
    pthread_mutex_lock(&c->mu);
    bool hit = c->e[i].until_ms > srv_mono_ms() && !strcmp(c->e[i].id, id);
    if (hit)
        memcpy(sha, c->e[i].sha256, sizeof c->e[i].sha256);
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* Drop a slot's shared response (under c->mu): connections sending it
 * keep it until they are done (libmicrohttpd counts them). */
static void drop_full(srv_dlcache_t *c, unsigned i)
{
    if (c->e[i].full)
        MHD_destroy_response(c->e[i].full);
    c->e[i].full = NULL;
}

static void cache_put(srv_t *s, const char *id, const char *sha)
{
    srv_dlcache_t *c = &s->dl;
    unsigned i = slot_of(id);
    if (strlen(id) >= sizeof c->e[i].id)
        return;
    pthread_mutex_lock(&c->mu);
    drop_full(c, i);
    snprintf(c->e[i].id, sizeof c->e[i].id, "%s", id);
    snprintf(c->e[i].sha256, sizeof c->e[i].sha256, "%s", sha);
    c->e[i].until_ms = srv_mono_ms() + DL_TTL_MS;
    pthread_mutex_unlock(&c->mu);
}

/* A full GET of a live entry whose response is made: queued as it is (no
 * open, no stat, no headers to build). MHD_YES/MHD_NO, or -1 on a miss. */
static int cache_send(srv_t *s, struct MHD_Connection *c, const char *id, uint64_t *size)
{
    srv_dlcache_t *d = &s->dl;
    unsigned i = slot_of(id);
    int ret = -1;
    pthread_mutex_lock(&d->mu);
    if (d->e[i].full && d->e[i].until_ms > srv_mono_ms() && !strcmp(d->e[i].id, id)) {
        ret = MHD_queue_response(c, MHD_HTTP_OK, d->e[i].full); /* under the lock: never queued once dropped */
        *size = d->e[i].size;
    }
    pthread_mutex_unlock(&d->mu);
    return ret;
}

/* Keep r (a full 200 of id) for the next full GETs; the cache takes over
 * the caller's reference. */
static void cache_keep(srv_t *s, const char *id, struct MHD_Response *r, uint64_t size)
{
    srv_dlcache_t *d = &s->dl;
    unsigned i = slot_of(id);
    pthread_mutex_lock(&d->mu);
    if (!strcmp(d->e[i].id, id) && d->e[i].until_ms > srv_mono_ms()) {
        drop_full(d, i);
        d->e[i].full = r;
        d->e[i].size = size;
        r = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    if (r)
        MHD_destroy_response(r);
}

void srv_download_clear(srv_t *s)
{
    pthread_mutex_lock(&s->dl.mu);
    for (unsigned i = 0; i < SRV_DLCACHE; i++)
        drop_full(&s->dl, i);
    pthread_mutex_unlock(&s->dl.mu);
}

void srv_download_forget(srv_t *s, const char *id)
{
    srv_dlcache_t *c = &s->dl;
    unsigned i = slot_of(id);
    pthread_mutex_lock(&c->mu);
    if (!strcmp(c->e[i].id, id)) {
        c->e[i].until_ms = 0;
        drop_full(c, i);
    }
    pthread_mutex_unlock(&c->mu);
}

/* /fw/{id}: the firmware bytes (or a delta patch's, d-...), with one-range
 * Range support. */
enum MHD_Result srv_download(srv_t *s, struct MHD_Connection *c, const char *id, bool head)
{
    srv_fw_t fw;
    srv_delta_t dl;
    char path[600], etag[80], crange[96];
    struct stat sb;
    unsigned long long first = 0, last = 0;

    if (s->eng.links.on) { /* only a live link minted for a device gets the bytes */
        char why[160];
        if (srv_links_check(&s->eng.links, id, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "thing"),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "expires"),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sig"), srv_now(), why,
                            sizeof why))
            return srv_http_err(c, 403, "link", "%s", why);
    }
    bool delta = !strncmp(id, "d-", 2);
    int err = OTTO_OK;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    uint64_t full_size;
    int sent = range ? -1 : cache_send(s, c, id, &full_size);
    if (sent >= 0) {
        srv_http_sent(MHD_HTTP_OK);
        if (!head) {
            atomic_fetch_add(&s->eng.metrics.download_bytes, full_size);
            if (delta)
                atomic_fetch_add(&s->eng.metrics.deltas_served, 1);
        }
        return (enum MHD_Result)sent;
    }
    if (!cache_get(s, id, fw.sha256)) {
        pthread_mutex_lock(&s->lock);
        err = delta ? srv_delta_get(s->st, id, &dl) : srv_fw_get(s->st, id, &fw);
        pthread_mutex_unlock(&s->lock);
        if (!err)
            cache_put(s, id, delta ? "" : fw.sha256);
    }
    if (err)
        return err == OTTO_E_NOTFOUND ? srv_http_err(c, 404, "not_found", "no %s '%s'", delta ? "delta" : "firmware", id)
                                      : srv_http_otto_err(c, err, NULL);
    if (delta ? srv_delta_path(s->cfg.data_dir, id, path, sizeof path)
              : srv_artifact_path(s->cfg.data_dir, fw.sha256, path, sizeof path))
        return srv_http_otto_err(c, OTTO_E_NOSPC, NULL);
    if (srv_store_shared(s->st)) { /* another worker may have received it */
        char name[128];
        snprintf(name, sizeof name, "%s/%s", delta ? "deltas" : "artifacts", delta ? id : fw.sha256);
        srv_shared_file(s->st, &s->lock, path, name);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        SRV_LOG_ERR("download %s: %s: %s", id, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return srv_http_err(c, 500, "internal", "the firmware file is missing on the server");
    }
    unsigned long long size = (unsigned long long)sb.st_size;
    snprintf(etag, sizeof etag, "\"%s\"", delta ? id : fw.sha256); /* a patch's bytes never change under its id */
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Range");
    /* If-Range: resume only if the file is still the one the client has;
     * otherwise send all of it (a date never matches: we only validate by
     * the strong ETag). */
    int kind = range ? srv_range_parse(range, size, &first, &last) : SRV_RANGE_NONE;
    if (kind != SRV_RANGE_NONE && if_range && strcmp(if_range, etag))
        kind = SRV_RANGE_NONE;
    struct MHD_Response *r;
    unsigned code;
    if (kind == SRV_RANGE_UNSAT) {
        close(fd);
        char *body = strdup("{\"error\":{\"code\":\"range\",\"message\":\"range not satisfiable\"}}\n");
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        snprintf(crange, sizeof crange, "bytes */%llu", size);
        MHD_add_response_header(r, "Content-Range", crange);
        MHD_add_response_header(r, "Content-Type", "application/json");
        code = MHD_HTTP_RANGE_NOT_SATISFIABLE;
    } else if (kind == SRV_RANGE_OK) {
        r = MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first);
        snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", first, last, size);
        MHD_add_response_header(r, "Content-Range", crange);
        code = MHD_HTTP_PARTIAL_CONTENT;
    } else {
        r = MHD_create_response_from_fd_at_offset64(size, fd, 0);
        code = MHD_HTTP_OK;
    }
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    if (code != MHD_HTTP_RANGE_NOT_SATISFIABLE)
        MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    MHD_add_response_header(r, "ETag", etag);
    srv_http_sent(code);
    if (!head && (code == MHD_HTTP_OK || code == MHD_HTTP_PARTIAL_CONTENT)) {
        atomic_fetch_add(&s->eng.metrics.download_bytes, code == MHD_HTTP_OK ? size : last - first + 1);
        if (delta)
            atomic_fetch_add(&s->eng.metrics.deltas_served, 1);
    }
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    if (code == MHD_HTTP_OK)
        cache_keep(s, id, r, size); /* the next full GETs send this one */
    else
        MHD_destroy_response(r);
    return ret;
}
