/* SPDX-License-Identifier: Apache-2.0 */
#include "batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "otto/err.h"
#include "mqtt.h"
#include "mqtt_api.h"

#define QUEUE_MAX 20000 /* requests waiting; the MQTT thread waits beyond */

typedef struct {
    char *topic;
    char *payload;
    size_t len;
    size_t order; /* arrival, for a stable sort */
} msg_t;

typedef struct {
    msg_t *v;
    size_t n, cap;
} msgs_t;

struct srv_batch {
    srv_t *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    msgs_t in;    /* queued by the MQTT thread */
    msgs_t held;  /* replies of the batch being handled */
    bool stop;
    unsigned long failed; /* batches whose commit failed */
};

static bool add(msgs_t *q, const char *topic, const void *payload, size_t len)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        msg_t *v = realloc(q->v, cap * sizeof *v);
        if (!v)
            return false;
        q->v = v;
        q->cap = cap;
    }
    msg_t *m = &q->v[q->n];
    m->topic = strdup(topic);
    m->payload = malloc(len + 1);
    if (!m->topic || !m->payload) {
        free(m->topic);
        free(m->payload);
        return false;
    }
    memcpy(m->payload, payload, len);
    m->payload[len] = 0;
    m->len = len;
    m->order = q->n;
    q->n++;
    return true;
}

static void clear(msgs_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].topic);
        free(q->v[i].payload);
    }
    q->n = 0;
}

/* The engine's publish while a batch is handled: held until the commit. */
static int hold(void *ctx, const char *topic, const char *payload, size_t len)
{
    srv_batch_t *b = ctx;
    return add(&b->held, topic, payload, len) ? 0 : -1;
}

/* The thing of "$aws/things/THING/jobs/..." or "otto/things/THING/...":
 * its length, *at its start (a device's hello keeps its place among its
 * job requests). */
static size_t thing_of(const char *topic, const char **at)
{
    static const char aws[] = "$aws/things/", otto[] = "otto/things/";
    *at = "";
    if (!strncmp(topic, aws, sizeof aws - 1))
        *at = topic + sizeof aws - 1;
    else if (!strncmp(topic, otto, sizeof otto - 1))
        *at = topic + sizeof otto - 1;
    else
        return 0;
    const char *slash = strchr(*at, '/');
    return slash ? (size_t)(slash - *at) : strlen(*at);
}

/* By thing, then arrival: one device's requests keep their order. */
static int by_thing(const void *a, const void *b)
{
    const msg_t *x = a, *y = b;
    const char *tx, *ty;
    size_t nx = thing_of(x->topic, &tx), ny = thing_of(y->topic, &ty);
    int c = memcmp(tx, ty, nx < ny ? nx : ny);
    if (c == 0 && nx != ny)
        c = nx < ny ? -1 : 1;
    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* Several workers on one database: each request holds its device's lock
 * (store.h) until the batch commits, so a device's requests that a shared
 * subscription gave two workers run one after the other, never
 * interleaved. Locks are taken in thing order, the same in every worker,
 * so two batches never wait for each other in a cycle. */
static void lock_things(srv_t *s, msgs_t *work, size_t i)
{
    const char *t, *prev;
    size_t n = thing_of(work->v[i].topic, &t);
    if (i > 0 && thing_of(work->v[i - 1].topic, &prev) == n && !memcmp(prev, t, n))
        return; /* held already */
    char thing[SRV_THING_MAX + 1];
    if (n == 0 || n > SRV_THING_MAX)
        return; /* the API refuses it */
    memcpy(thing, t, n);
    thing[n] = 0;
    srv_store_lock_thing(s->st, thing);
}

static void handle(srv_batch_t *b, msgs_t *work)
{
    srv_t *s = b->s;
    bool shared = srv_store_shared(s->st);
    if (shared)
        qsort(work->v, work->n, sizeof *work->v, by_thing);
    pthread_mutex_lock(&s->lock);
    bool tx = srv_store_begin(s->st) == OTTO_OK;
    int (*publish)(void *, const char *, const char *, size_t) = s->eng.publish;
    void *pub_ctx = s->eng.pub_ctx;
    if (tx) { /* replies wait for the commit; without a transaction each was durable already */
        s->eng.publish = hold;
        s->eng.pub_ctx = b;
    }
    for (size_t i = 0; i < work->n; i++) {
        /* On PostgreSQL a failed statement ends the transaction for all
         * that follow: each request runs in a savepoint of its own there,
         * undone alone if it fails (SQLite undoes the statement itself). */
        bool sp = shared && tx && srv_store_begin(s->st) == OTTO_OK;
        if (sp)
            lock_things(s, work, i);
        size_t held = b->held.n;
        srv_mqtt_api_handle(&s->eng, work->v[i].topic, work->v[i].payload, work->v[i].len);
        if (sp && srv_store_failed(s->st)) {
            srv_store_rollback(s->st);
            while (b->held.n > held) { /* its replies said what did not happen */
                b->held.n--;
                free(b->held.v[b->held.n].topic);
                free(b->held.v[b->held.n].payload);
            }
        } else if (sp) {
            srv_store_commit(s->st);
        }
    }
    s->eng.publish = publish;
    s->eng.pub_ctx = pub_ctx;
    int err = tx ? srv_store_commit(s->st) : OTTO_OK;
    pthread_mutex_unlock(&s->lock);
    if (err) {
        if (b->failed++ == 0)
            SRV_LOG_ERR("store: a batch of %zu device requests did not commit (the line above says why); their"
                        " replies are not sent and the devices will ask again", work->n);
    } else {
        for (size_t i = 0; i < b->held.n; i++)
            if (publish(pub_ctx, b->held.v[i].topic, b->held.v[i].payload, b->held.v[i].len) != 0)
                SRV_LOG_WRN("publish to %s failed (broker down?)", b->held.v[i].topic);
    }
    clear(&b->held);
    clear(work);
}

static void *run(void *arg)
{
    srv_batch_t *b = arg;
    msgs_t work = {0};
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->in.n && !b->stop)
            pthread_cond_wait(&b->more, &b->mu);
        if (!b->in.n && b->stop)
            break;
        msgs_t t = work; /* take everything queued: the batch */
        work = b->in;
        b->in = t;
        pthread_cond_broadcast(&b->room);
        pthread_mutex_unlock(&b->mu);
        handle(b, &work);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    free(work.v);
    return NULL;
}

int srv_batch_start(srv_batch_t **out, srv_t *s)
{
    srv_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->s = s;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->more, NULL);
    pthread_cond_init(&b->room, NULL);
    if (pthread_create(&b->thread, NULL, run, b)) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

void srv_batch_push(srv_batch_t *b, const char *topic, const void *payload, size_t len)
{
    pthread_mutex_lock(&b->mu);
    while (b->in.n >= QUEUE_MAX && !b->stop)
        pthread_cond_wait(&b->room, &b->mu);
    if (!add(&b->in, topic, payload, len))
        SRV_LOG_ERR("out of memory queueing a request on %s; dropped (the device will ask again)", topic);
    pthread_cond_signal(&b->more);
    pthread_mutex_unlock(&b->mu);
}

void srv_batch_stop(srv_batch_t *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->more);
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    clear(&b->in);
    free(b->in.v);
    free(b->held.v);
    free(b);
}
