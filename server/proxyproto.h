/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PROXY protocol (HAProxy's, versions 1 and 2) a load balancer puts in
 * front of each connection it opens to ottod, naming the client it carries:
 *   v1: "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n" (at most 107 bytes)
 *   v2: 12-byte signature, version/command, family, length, addresses.
 * srv_proxy_parse reads one header at the start of buf. A LOCAL (v2) or
 * UNKNOWN (v1) header names no client: *has_addr is false and the
 * connection is the proxy's own (health checks).
 */
#ifndef SRV_PROXYPROTO_H
#define SRV_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SRV_PROXY_V1_MAX 107
#define SRV_PROXY_MAX    (16 + 216) /* v2 header + the largest address block we take */

/** 1: a whole header of *used bytes, the client in *addr (when *has_addr);
 *  0: a valid start, more bytes needed; -1: not a PROXY header. */
int srv_proxy_parse(const unsigned char *buf, size_t len, struct sockaddr_storage *addr, socklen_t *alen,
                    bool *has_addr, size_t *used);

#endif
