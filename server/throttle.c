/* SPDX-License-Identifier: Apache-2.0 */
#include "throttle.h"

#include <stdlib.h>
#include <time.h>
#include <string.h>

#define KEY_MAX 129 /* a thing name and its NUL */
#define PROBE   8   /* slots a key may live in */

typedef struct {
    char key[KEY_MAX];
    double tokens;
    uint64_t at_ms;   /* last refill */
    uint64_t said_ms; /* last refusal answered */
} slot_t;

struct srv_throttle {
    slot_t *slot;
    unsigned n;
    double rate, burst;
};

srv_throttle_t *srv_throttle_new(unsigned slots, double rate, double burst)
{
    srv_throttle_t *t = calloc(1, sizeof *t);
    if (!t || !(t->slot = calloc(slots, sizeof *t->slot))) {
        free(t);
        return NULL;
    }
    t->n = slots;
    t->rate = rate;
    t->burst = burst;
    return t;
}

void srv_throttle_free(srv_throttle_t *t)
{
    if (t)
        free(t->slot);
    free(t);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

bool srv_throttle_take(srv_throttle_t *t, const char *key, uint64_t now_ms, bool *say)
{
    uint32_t h = hash(key);
    slot_t *s = NULL, *oldest = NULL;
    *say = false;
    for (unsigned i = 0; i < PROBE && !s; i++) {
        slot_t *c = &t->slot[(h + i) % t->n];
        if (!strncmp(c->key, key, KEY_MAX))
            s = c;
        else if (!oldest || c->at_ms < oldest->at_ms)
            oldest = c;
    }
    if (!s) { /* new here: a full bucket */
        s = oldest;
        strncpy(s->key, key, KEY_MAX - 1);
        s->key[KEY_MAX - 1] = 0;
        s->tokens = t->burst;
        s->at_ms = now_ms;
        s->said_ms = 0;
    }
    s->tokens += (double)(now_ms - s->at_ms) * t->rate / 1000.0;
    if (s->tokens > t->burst)
        s->tokens = t->burst;
    s->at_ms = now_ms;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return true;
    }
    if (now_ms - s->said_ms >= 1000) {
        s->said_ms = now_ms;
        *say = true;
    }
    return false;
}

int64_t srv_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
