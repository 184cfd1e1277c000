/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the PROXY protocol header parser (what a load balancer, or
 * anything at its address, sends first). A header it accepts lies within
 * the input and names an IPv4 or IPv6 client, or none. */
#include <netinet/in.h>
#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    struct sockaddr_storage a;
    socklen_t alen = 0;
    bool has = false;
    size_t used = 0;
    int r = srv_proxy_parse(data, len, &a, &alen, &has, &used);
    if (r < -1 || r > 1)
        __builtin_trap();
    if (r == 1 && (used == 0 || used > len || used > SRV_PROXY_MAX))
        __builtin_trap();
    if (r == 1 && has && !((a.ss_family == AF_INET && alen == sizeof(struct sockaddr_in)) ||
                           (a.ss_family == AF_INET6 && alen == sizeof(struct sockaddr_in6))))
        __builtin_trap();
    return 0;
}
