/* SPDX-License-Identifier: Apache-2.0 */
#include "clients.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64
#define PROBE   32

typedef struct {
    char key[KEY_MAX]; /* "" never used; a slot whose count is 0 may be taken */
    unsigned n;
} slot_t;

struct srv_clients {
    pthread_mutex_t mu;
    slot_t *slot;
    unsigned size;
};

srv_clients_t *srv_clients_new(unsigned slots)
{
    srv_clients_t *t = calloc(1, sizeof *t);
    if (!t || !(t->slot = calloc(slots, sizeof *t->slot))) {
        free(t);
        return NULL;
    }
    t->size = slots;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void srv_clients_free(srv_clients_t *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->slot);
    free(t);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The key's slot, or a free one for it (NULL: none in reach). */
static slot_t *find(srv_clients_t *t, const char *key, bool take)
{
    uint32_t h = hash(key);
    slot_t *free_slot = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        slot_t *s = &t->slot[(h + i) % t->size];
        if (s->n && !strncmp(s->key, key, KEY_MAX - 1))
            return s;
        if (!s->n && !free_slot)
            free_slot = s;
    }
    if (take && free_slot) {
        strncpy(free_slot->key, key, KEY_MAX - 1);
        free_slot->key[KEY_MAX - 1] = 0;
    }
    return take ? free_slot : NULL;
}

bool srv_clients_enter(srv_clients_t *t, const char *key, unsigned limit)
{
    bool ok = true;
    pthread_mutex_lock(&t->mu);
    slot_t *s = find(t, key, true);
    if (s && s->n >= limit)
        ok = false;
    else if (s)
        s->n++;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void srv_clients_leave(srv_clients_t *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    slot_t *s = find(t, key, false);
    if (s && s->n)
        s->n--;
    pthread_mutex_unlock(&t->mu);
}
