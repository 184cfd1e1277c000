/* SPDX-License-Identifier: Apache-2.0 */
/* What the target runner (startup.c) gives the tests running on a Cortex-M
 * under QEMU: a console, exit, the command line, the stack's high water. */
#ifndef OTTO_TARGET_H
#define OTTO_TARGET_H

#include <stdint.h>

void t_puts(const char *s);
void t_exit(int code) __attribute__((noreturn));
int t_get_cmdline(char *buf, unsigned cap);
/** Bytes of the stack never touched since the last repaint. */
uint32_t t_stack_unused(void);
uint32_t t_stack_size(void);
void t_stack_repaint(void);

#endif
