/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An STM32F103 (medium density: 128 KiB of flash in 1 KiB pages) in its
 * ROM bootloader, as an otto_uart_t in memory: what the host writes is
 * parsed as AN3155 and the replies queue up for its reads; an empty queue
 * reads as a timeout. Sync, Get, Get ID, Read, Write (NOR: bits only go
 * from 1 to 0), Extended Erase and Go. No OS calls, no allocation: the
 * MCU host's tests run with it on the host and on a Cortex-M alike.
 * (sim/stm32.c is the full emulator, on a pseudo-terminal.)
 */
#ifndef OTTO_AN3155_DOUBLE_H
#define OTTO_AN3155_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "otto/hal.h"

#define AN_FLASH_BASE 0x08000000u
#define AN_FLASH_SIZE (128u * 1024u)
#define AN_PAGE 1024u

typedef struct {
    uint8_t flash[AN_FLASH_SIZE];
    uint8_t in[2 * 256 + 8]; /* the phase's bytes so far */
    unsigned nin, want;
    uint8_t out[300];
    unsigned head, tail;
    int phase;
    uint8_t cmd;
    uint32_t addr;
    bool running; /* after Go: the application runs, the bootloader is silent */
    unsigned writes, reads, erases, nacks;
} an3155_t;

void an3155_init(an3155_t *a);
/** Reset into the bootloader (BOOT0 high): the flash is kept, a command
 *  in the middle is forgotten. */
void an3155_reset(an3155_t *a);
/** The UART a host uses to talk to a. */
otto_uart_t an3155_uart(an3155_t *a);

#endif
