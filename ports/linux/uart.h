/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto_uart_t over a Linux serial device (or a pseudo-terminal): raw, 8E1
 * at the given baud. A pty cannot carry parity (the kernel refuses PARENB
 * there), so on a pty the line falls back to 8N1 and `parity` says so.
 */
#ifndef OTTO_LINUX_UART_H
#define OTTO_LINUX_UART_H

#include <stdbool.h>
#include "otto/hal.h"

typedef struct {
    int fd;
    bool parity;        /**< 8E1 in effect (false: 8N1 fallback on a pty) */
    unsigned long tx, rx; /**< bytes, for figures */
} otto_linux_uart_t;

/** Open path at baud (e.g. 115200). Returns 0 or -1 with errno. */
int otto_linux_uart_open(otto_linux_uart_t *u, const char *path, unsigned baud);
void otto_linux_uart_close(otto_linux_uart_t *u);
void otto_linux_uart_hal(otto_linux_uart_t *u, otto_uart_t *hal);

#endif
