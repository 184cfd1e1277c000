/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's HTTP listener when a load balancer speaks the PROXY protocol to
 * it (--proxy-protocol): accepts connections itself, reads the PROXY
 * header of each one from the trusted proxy (within a short deadline;
 * one that is missing or malformed closes the connection), and hands the
 * socket to libmicrohttpd with the client the header names, so every
 * per-client limit applies to the real client. Connections from other
 * addresses are handed over as they are. One thread; stop joins it.
 */
#ifndef SRV_FRONT_H
#define SRV_FRONT_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>

typedef struct srv_front srv_front_t;

/** Listen on addr; NULL (and a log line) if it cannot. refused counts
 *  connections closed for a bad or late header. */
srv_front_t *srv_front_start(struct MHD_Daemon *d, const struct sockaddr_in *addr, struct in_addr proxy,
                             atomic_ulong *refused);
void srv_front_stop(srv_front_t *f);

#endif
