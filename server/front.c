/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE 1 /* accept4, pipe2 */
#include "front.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxyproto.h"
#include "throttle.h"

#define HEADER_MS 3000 /* a proxy sends its header at once; this is generous */

struct srv_front {
    struct MHD_Daemon *d;
    int fd, stop[2];
    struct in_addr proxy;
    atomic_ulong *refused;
    pthread_t thread;
};

/* Read the PROXY header without taking a byte of what follows it: peek,
 * parse, then consume exactly the header. */
static int read_header(int fd, struct sockaddr_storage *addr, socklen_t *alen, bool *has_addr)
{
    unsigned char buf[SRV_PROXY_MAX];
    int64_t until = srv_mono_ms() + HEADER_MS;
    for (;;) {
        int64_t left = until - srv_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return -1;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK);
        if (n <= 0)
            return -1;
        size_t used = 0;
        int r = srv_proxy_parse(buf, (size_t)n, addr, alen, has_addr, &used);
        if (r < 0)
            return -1;
        if (r == 1)
            return recv(fd, buf, used, 0) == (ssize_t)used ? 0 : -1;
        usleep(10000); /* a partial header: wait for the rest */
    }
}

static void *run(void *arg)
{
    srv_front_t *f = arg;
    for (;;) {
        struct pollfd p[2] = {{f->fd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        struct sockaddr_storage peer, client;
        socklen_t plen = sizeof peer, clen = 0;
        int c = accept4(f->fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        const struct sockaddr *who = (const struct sockaddr *)&peer;
        socklen_t wlen = plen;
        if (peer.ss_family == AF_INET &&
            ((const struct sockaddr_in *)(const void *)&peer)->sin_addr.s_addr == f->proxy.s_addr) {
            bool has = false;
            if (read_header(c, &client, &clen, &has)) {
                close(c);
                atomic_fetch_add(f->refused, 1);
                continue;
            }
            if (has) {
                who = (const struct sockaddr *)&client;
                wlen = clen;
            }
        }
        /* MHD owns (and closes) the socket from here, refused or not. */
        MHD_add_connection(f->d, c, who, wlen);
    }
    return NULL;
}

srv_front_t *srv_front_start(struct MHD_Daemon *d, const struct sockaddr_in *addr, struct in_addr proxy,
                             atomic_ulong *refused)
{
    srv_front_t *f = calloc(1, sizeof *f);
    int one = 1;
    if (!f)
        return NULL;
    f->d = d;
    f->proxy = proxy;
    f->refused = refused;
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(f->fd, (const struct sockaddr *)addr, sizeof *addr) || listen(f->fd, 1024) ||
        pipe2(f->stop, O_CLOEXEC)) {
        SRV_LOG_ERR("http: cannot listen for PROXY-protocol connections: %s", strerror(errno));
        if (f->fd >= 0)
            close(f->fd);
        free(f);
        return NULL;
    }
    if (pthread_create(&f->thread, NULL, run, f)) {
        close(f->fd);
        close(f->stop[0]);
        close(f->stop[1]);
        free(f);
        return NULL;
    }
    return f;
}

void srv_front_stop(srv_front_t *f)
{
    if (!f)
        return;
    if (write(f->stop[1], "x", 1) != 1)
        SRV_LOG_ERR("http: cannot wake the PROXY-protocol listener");
    pthread_join(f->thread, NULL);
    close(f->fd);
    close(f->stop[0]);
    close(f->stop[1]);
    free(f);
}
