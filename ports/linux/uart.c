/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "uart.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

static speed_t speed(unsigned baud)
{
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return B115200;
    }
}

int otto_linux_uart_open(otto_linux_uart_t *u, const char *path, unsigned baud)
{
    struct termios t;
    u->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    u->parity = false;
    u->tx = u->rx = 0;
    if (u->fd < 0 || tcgetattr(u->fd, &t))
        return -1;
    cfmakeraw(&t);
    cfsetispeed(&t, speed(baud));
    cfsetospeed(&t, speed(baud));
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    struct termios even = t;
    even.c_cflag |= PARENB;
    even.c_cflag &= ~(tcflag_t)PARODD;
    even.c_iflag |= INPCK;
    if (!tcsetattr(u->fd, TCSANOW, &even)) {
        struct termios back;
        if (!tcgetattr(u->fd, &back) && (back.c_cflag & PARENB)) {
            u->parity = true;
            return 0;
        }
    }
    return tcsetattr(u->fd, TCSANOW, &t); /* a pty: 8N1 */
}

void otto_linux_uart_close(otto_linux_uart_t *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

static int uw(void *ctx, const void *buf, size_t len)
{
    otto_linux_uart_t *u = ctx;
    const char *p = buf;
    while (len) {
        ssize_t n = write(u->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return OTTO_E_IO;
        p += n;
        len -= (size_t)n;
        u->tx += (unsigned long)n;
    }
    return OTTO_OK;
}

static int ur(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    otto_linux_uart_t *u = ctx;
    struct pollfd p = {u->fd, POLLIN, 0};
    for (;;) {
        int r = poll(&p, 1, (int)timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return OTTO_E_IO;
        if (r == 0)
            return 0;
        ssize_t n = read(u->fd, buf, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return OTTO_E_IO;
        u->rx += (unsigned long)n;
        return (int)n;
    }
}

static void uflush(void *ctx)
{
    otto_linux_uart_t *u = ctx;
    tcflush(u->fd, TCIFLUSH);
}

void otto_linux_uart_hal(otto_linux_uart_t *u, otto_uart_t *hal)
{
    hal->ctx = u;
    hal->write = uw;
    hal->read = ur;
    hal->flush_input = uflush;
}
