/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections and requests in flight per client, for the HTTP side's
 * per-client limit. A client is its remote address, or, for requests that
 * come through a trusted proxy, the address the proxy forwards
 * (X-Forwarded-For, its last entry: the one the proxy itself added). A
 * fixed table under one mutex: any thread may call. When it is full (tens
 * of thousands of distinct clients at once) a new client is let in
 * uncounted rather than refused.
 */
#ifndef SRV_CLIENTS_H
#define SRV_CLIENTS_H

#include <stdbool.h>

typedef struct srv_clients srv_clients_t;

srv_clients_t *srv_clients_new(unsigned slots);
void srv_clients_free(srv_clients_t *t);
/** One more for key, unless it has limit already: then false, unchanged. */
bool srv_clients_enter(srv_clients_t *t, const char *key, unsigned limit);
/** One fewer for key (after an enter that returned true). */
void srv_clients_leave(srv_clients_t *t, const char *key);

#endif
