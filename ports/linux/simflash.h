/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulated NOR flash and eFuse for Linux, with power cuts.
 *
 * The flash is a file (mmap'd, so it is the only thing that survives a
 * "power cut") or a RAM buffer (for fast in-process sweeps). It keeps NOR
 * rules: erase sets a sector to 0xFF; program ANDs bytes in and refuses,
 * with OTTO_E_PROGRAM, any byte that would need a 0 bit to become 1 (the
 * refused op changes nothing and is counted in `violations`).
 *
 * Power: flash and eFuse share one otto_power_t that numbers every
 * modifying operation (program, erase, eFuse burn) from 1. With cut_at = N
 * the N-th operation is cut according to `mode`:
 *   BEFORE - the op does not happen;
 *   AFTER  - the op happens completely, then power is lost;
 *   TORN   - program: a random prefix is written and a random subset of the
 *            remaining 1->0 bit changes; erase: every bit of the sector ends
 *            up as old OR random; eFuse: about half the bits are burnt.
 * From the cut on every call returns OTTO_E_IO until otto_power_restore().
 * Randomness comes from `seed` only, so a cut is reproducible.
 */
#ifndef OTTO_SIMFLASH_H
#define OTTO_SIMFLASH_H

#include <stdbool.h>
#include <stdint.h>
#include "otto/hal.h"

typedef enum { OTTO_CUT_BEFORE = 0, OTTO_CUT_AFTER, OTTO_CUT_TORN } otto_cut_mode_t;

typedef struct {
    uint64_t ops;      /**< modifying operations so far */
    uint64_t cut_at;   /**< op number to cut, 0 = never */
    otto_cut_mode_t mode;
    uint64_t seed;
    uint64_t rng;
    bool off;          /**< power is gone */
    uint64_t reads, programs, erases, burns;
} otto_power_t;

typedef struct {
    otto_power_t *power;
    uint8_t *mem;
    uint32_t size;
    uint32_t sector;
    int fd;            /**< -1 for a RAM flash */
    uint32_t *wear;    /**< erase count per sector */
    uint64_t violations;
    bool strict;       /**< refuse 0->1 programs (default true) */
} otto_simflash_t;

typedef struct {
    otto_power_t *power;
    char path[512];    /**< empty: RAM only */
    uint32_t bits;     /**< the burnt thermometer bits */
    uint32_t width;
} otto_simefuse_t;

void otto_power_init(otto_power_t *pw);
/** Arm a cut at operation `at` (counted from now on, 1-based) with mode and seed. */
void otto_power_arm(otto_power_t *pw, uint64_t at, otto_cut_mode_t mode, uint64_t seed);
/** Power comes back: clears the cut and the off state (ops keep counting). */
void otto_power_restore(otto_power_t *pw);
const char *otto_cut_mode_name(otto_cut_mode_t m);
int otto_cut_mode_parse(const char *s, otto_cut_mode_t *m);

/** RAM flash of size bytes, all 0xFF. */
int otto_simflash_open_mem(otto_simflash_t *f, otto_power_t *pw, uint32_t size, uint32_t sector);
/** File flash; created (all 0xFF) when missing, size must match otherwise. */
int otto_simflash_open_file(otto_simflash_t *f, otto_power_t *pw, const char *path,
                            uint32_t size, uint32_t sector);
void otto_simflash_close(otto_simflash_t *f);
/** Fill a HAL struct that calls into f. */
void otto_simflash_hal(otto_simflash_t *f, otto_flash_t *hal);
/** Copy raw content in or out (no op counting; for setup and snapshots). */
void otto_simflash_load(otto_simflash_t *f, uint32_t off, const void *src, uint32_t len);

/** eFuse whose value lives in path (created as 0 when missing), or RAM if path is NULL. */
int otto_simefuse_open(otto_simefuse_t *e, otto_power_t *pw, const char *path, uint32_t width);
void otto_simefuse_hal(otto_simefuse_t *e, otto_efuse_t *hal);

#endif
