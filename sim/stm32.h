/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The STM32 ROM-bootloader emulator (AN3155 over USART) behind a
 * pseudo-terminal: `otto-sim stm32` runs one in the foreground; the
 * simulated modules of `otto-sim device|fleet` each run one in a thread, so
 * every module has a real serial line to its MCU.
 *
 * sim_stm32_open makes the pty, links its slave at `link` and maps the
 * flash file (made, erased, when missing: it outlives the process like a
 * real MCU's flash outlives the module's power cuts; its option bytes,
 * read protection among them, follow the flash in the file). serve answers until
 * *stop becomes non-zero. Returns 0, or -1 with a message on stderr.
 */
#ifndef OTTO_SIM_STM32_H
#define OTTO_SIM_STM32_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct sim_stm32_part;

enum { SIM_LINE_DROP = 1, SIM_LINE_FLIP, SIM_LINE_DUP, SIM_LINE_INSERT };

typedef struct {
    int fd, sfd;           /* pty master; our own slave fd, so it never hangs up */
    const struct sim_stm32_part *part;
    uint8_t *flash;        /* mmap'd file: the flash, then the option bytes */
    uint8_t *opt;          /* option bytes: opt[0] is RDP, 0xA5 = not read-protected */
    bool rdp_default;      /* option bytes made new: read-protected */
    uint8_t *ram;
    char link[512];
    bool synced;
    bool boot0;            /* the pin: high, a reset starts the ROM bootloader */
    bool app;              /* the application runs (after Go, or a reset with BOOT0
                              low): the bootloader does not listen */
    /* faults */
    double drop, corrupt, nack, lose_ack;
    unsigned erase_ms;     /* per KiB erased */
    bool mute;
    bool busy;             /* say BUSY (0x76) while erasing or programming, as newer bootloaders do */
    bool lenient;          /* NOR rules for writes, rather than the part's refusal */
    unsigned baud;         /* pace the line like a real UART (11 bits a byte) */
    double line_t;         /* when the line is free again, CLOCK_MONOTONIC seconds */
    /* Power cuts of the MCU itself, at a flash operation (a block
     * programmed, a page or sector erased), which is left torn: */
    uint64_t cut_op;       /* at this one (counted in flash_ops; 0: never) */
    double brownout;       /* at each with this probability */
    unsigned down_ms;      /* back in the bootloader after (0: at sim_stm32_reset only) */
    uint64_t flash_ops;
    bool dark;             /* without power */
    double dark_until;
    /* One fault on the line at a given byte (counted in rx_bytes/tx_bytes
     * from 1; 0: none): what happens to it. */
    uint64_t rx_fault_at, tx_fault_at;
    int rx_fault, tx_fault; /* SIM_LINE_DROP, ... */
    uint64_t rx_bytes, tx_bytes;
    int pend;              /* a byte the line still owes rx (duplicated, or after an insert) */
    uint8_t in[512];       /* read from the pty, not yet taken byte by byte */
    unsigned in_pos, in_len;
    uint8_t out[640];      /* an answer being put together, written at once */
    unsigned out_len;
    uint64_t rng;
    int verbose;
    unsigned long cmds, writes, erases, gos, refused, cuts;
    volatile sig_atomic_t reset_req; /* sim_stm32_reset asked, serve not yet done */
    volatile sig_atomic_t run_req;   /* sim_stm32_run asked, serve not yet done */
    volatile sig_atomic_t *stop;
    volatile sig_atomic_t stop_own;
    pthread_t thread;
    bool threaded;
} sim_stm32_t;

/** Set defaults: part f103, no faults, seed 1. */
void sim_stm32_init(sim_stm32_t *m);
/** part: "f103" or "f407"; -1 when unknown. */
int sim_stm32_set_part(sim_stm32_t *m, const char *part);
int sim_stm32_open(sim_stm32_t *m, const char *link, const char *flash_file);
/** Answer the host until *m->stop. */
void sim_stm32_serve(sim_stm32_t *m);
/** serve in a thread of its own; sim_stm32_close stops and joins it. */
int sim_stm32_start(sim_stm32_t *m);
void sim_stm32_close(sim_stm32_t *m);
/** Reset the MCU into its bootloader, as a module does with BOOT0 and NRST:
 *  the command under way is dropped, with whatever the line still holds,
 *  and the next 0x7F starts a new session. Waits (up to 1 s) until the
 *  serving thread has done it. */
void sim_stm32_reset(sim_stm32_t *m);
/** Reset the MCU with BOOT0 low, as a module does when the update is over:
 *  it runs its application and no longer answers the bootloader protocol
 *  until the next sim_stm32_reset. Waits like sim_stm32_reset. */
void sim_stm32_run(sim_stm32_t *m);
/** Human name and PID of the part. */
const char *sim_stm32_name(const sim_stm32_t *m, unsigned *pid);

#endif
