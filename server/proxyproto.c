/* SPDX-License-Identifier: Apache-2.0 */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char SIG2[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* "a.b.c.d" or an IPv6 address, then a port, into addr. */
static bool v1_addr(const char *ip, const char *port, bool six, struct sockaddr_storage *addr, socklen_t *alen)
{
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 0 || p > 65535 || !*port || (port[0] == '0' && port[1]))
        return false;
    memset(addr, 0, sizeof *addr);
    if (six) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)addr;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((unsigned short)p);
        *alen = sizeof *s;
        return inet_pton(AF_INET6, ip, &s->sin6_addr) == 1;
    }
    struct sockaddr_in *s = (struct sockaddr_in *)addr;
    s->sin_family = AF_INET;
    s->sin_port = htons((unsigned short)p);
    *alen = sizeof *s;
    return inet_pton(AF_INET, ip, &s->sin_addr) == 1;
}

static int parse_v1(const unsigned char *buf, size_t len, struct sockaddr_storage *addr, socklen_t *alen,
                    bool *has_addr, size_t *used)
{
    char line[SRV_PROXY_V1_MAX + 1], f[6][48];
    const unsigned char *nl = memchr(buf, '\n', len < SRV_PROXY_V1_MAX ? len : SRV_PROXY_V1_MAX);
    if (!nl)
        return len >= SRV_PROXY_V1_MAX ? -1 : 0;
    size_t n = (size_t)(nl - buf) + 1;
    if (n < 8 || buf[n - 2] != '\r')
        return -1;
    memcpy(line, buf, n - 2);
    line[n - 2] = 0;
    for (size_t i = 0; i < n - 2; i++)
        if (line[i] < 0x20 || line[i] > 0x7e)
            return -1;
    *used = n;
    *has_addr = false;
    if (!strcmp(line, "PROXY UNKNOWN") || !strncmp(line, "PROXY UNKNOWN ", 14))
        return 1;
    char extra;
    if (sscanf(line, "PROXY %5s %47s %47s %47s %47s%c", f[0], f[1], f[2], f[3], f[4], &extra) != 5)
        return -1;
    bool six = !strcmp(f[0], "TCP6");
    if (!six && strcmp(f[0], "TCP4"))
        return -1;
    struct sockaddr_storage dst;
    socklen_t dl;
    if (!v1_addr(f[1], f[3], six, addr, alen) || !v1_addr(f[2], f[4], six, &dst, &dl))
        return -1;
    *has_addr = true;
    return 1;
}

static int parse_v2(const unsigned char *buf, size_t len, struct sockaddr_storage *addr, socklen_t *alen,
                    bool *has_addr, size_t *used)
{
    if (len < 16)
        return 0;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 15, fam = buf[13] >> 4, proto = buf[13] & 15;
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (ver != 2 || cmd > 1 || 16 + body > SRV_PROXY_MAX)
        return -1;
    if (len < 16 + body)
        return 0;
    *used = 16 + body;
    *has_addr = false;
    if (cmd == 0)
        return 1; /* LOCAL: the proxy's own connection */
    memset(addr, 0, sizeof *addr);
    if (fam == 1 && proto == 1 && body >= 12) { /* TCP over IPv4 */
        struct sockaddr_in *s = (struct sockaddr_in *)addr;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, buf + 16, 4);
        memcpy(&s->sin_port, buf + 24, 2);
        *alen = sizeof *s;
        *has_addr = true;
        return 1;
    }
    if (fam == 2 && proto == 1 && body >= 36) { /* TCP over IPv6 */
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)addr;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, buf + 16, 16);
        memcpy(&s->sin6_port, buf + 48, 2);
        *alen = sizeof *s;
        *has_addr = true;
        return 1;
    }
    return fam == 0 ? 1 : -1; /* UNSPEC: no address, as LOCAL; other families we do not serve */
}

int srv_proxy_parse(const unsigned char *buf, size_t len, struct sockaddr_storage *addr, socklen_t *alen,
                    bool *has_addr, size_t *used)
{
    size_t k = len < 12 ? len : 12;
    if (!memcmp(buf, SIG2, k))
        return len < 12 ? 0 : parse_v2(buf, len, addr, alen, has_addr, used);
    k = len < 6 ? len : 6;
    if (!memcmp(buf, "PROXY ", k))
        return len < 6 ? 0 : parse_v1(buf, len, addr, alen, has_addr, used);
    return -1;
}
