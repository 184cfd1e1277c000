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
 * modifying operation (program, erase of one sector, eFuse burn) from 1.
 * With cut_at = N the N-th operation is cut according to `mode`:
 *   BEFORE     - the op does not happen (clean cut);
 *   AFTER      - the op happens completely, then power is lost;
 *   TORN       - program: a random prefix is written and a random subset of
 *                the remaining 1->0 bit changes; erase: as ERASE_OR; eFuse:
 *                about half the bits are burnt;
 *   PROG_AT    - program: exactly the first `tear` bytes land, none after;
 *   PROG_BITS  - same, and byte `tear` gets a random subset of its 1->0 bits;
 *   ERASE_OR   - erase: every bit ends up old OR random;
 *   ERASE_NEAR - erase: all 0xFF but 1-8 random bits still 0;
 *   ERASE_META - erase: reads 0xFF now, but 1-8 chosen bits read 0 at random
 *                on every later read until the sector is erased again (a
 *                weak erase that defeats "read once, trust").
 * A mode for another kind of op than the one it lands on cuts it TORN; the
 * sweeps plan modes from the clean run's log of ops and check, through
 * `landed`, that every planned cut happened on the op they planned.
 * From the cut on every call returns OTTO_E_IO until otto_power_restore().
 * Randomness comes from `seed` only, so a cut is reproducible.
 */
#ifndef OTTO_SIMFLASH_H
#define OTTO_SIMFLASH_H

#include <stdbool.h>
#include <stdint.h>
#include "otto/hal.h"

typedef enum {
    OTTO_CUT_BEFORE = 0, OTTO_CUT_AFTER, OTTO_CUT_TORN,
    OTTO_CUT_PROG_AT, OTTO_CUT_PROG_BITS,
    OTTO_CUT_ERASE_OR, OTTO_CUT_ERASE_NEAR, OTTO_CUT_ERASE_META,
    OTTO_CUT_MODES
} otto_cut_mode_t;

typedef enum { OTTO_OP_PROGRAM = 1, OTTO_OP_ERASE, OTTO_OP_BURN } otto_op_kind_t;

/** One modifying operation: what it was and where (a burn has off = len = 0). */
typedef struct {
    uint8_t kind;      /**< otto_op_kind_t */
    uint32_t off, len; /**< bytes; an erase is one sector */
} otto_op_t;

typedef struct {
    uint64_t ops;      /**< modifying operations so far */
    uint64_t cut_at;   /**< op number to cut, 0 = never */
    otto_cut_mode_t mode;
    uint32_t tear;     /**< PROG_AT / PROG_BITS: bytes that land */
    uint64_t seed;
    uint64_t rng;
    bool off;          /**< power is gone */
    uint64_t reads, programs, erases, burns;
    /* What actually happened: the sweeps prove their cuts with these. */
    uint64_t landed;       /**< cuts that fired since otto_power_init */
    uint64_t landed_at;    /**< op number of the last one */
    otto_op_t landed_op;   /**< and which op it was */
    /* Optional log of ops (the caller's array): op n goes to log[n - 1]
     * while n <= log_cap. */
    otto_op_t *log;
    uint64_t log_cap;
} otto_power_t;

#define OTTO_SIMFLASH_META_MAX 16 /* weak (metastable) bits tracked at once */

typedef struct otto_simflash {
    otto_power_t *power;
    uint8_t *mem;
    uint32_t size;
    uint32_t sector;
    int fd;            /**< -1 for a RAM flash */
    void (*release)(struct otto_simflash *f); /**< how a file flash is let go; NULL for RAM */
    uint32_t *wear;    /**< erase count per sector */
    uint64_t violations;
    bool strict;       /**< refuse 0->1 programs (default true) */
    struct {
        uint32_t addr; /**< byte whose bit reads 0 now and then */
        uint8_t mask;
    } meta[OTTO_SIMFLASH_META_MAX];
    unsigned nmeta;
} otto_simflash_t;

typedef struct {
    otto_power_t *power;
    char path[512];    /**< empty: RAM only */
    uint32_t bits;     /**< the burnt thermometer bits */
    uint32_t width;
    uint8_t sb_digest[OTTO_SBV2_KEYS][32]; /**< Secure Boot v2 key digests */
    unsigned sb_n;                         /**< key blocks burnt */
    unsigned sb_revoked;                   /**< bit i: digest i revoked */
} otto_simefuse_t;

void otto_power_init(otto_power_t *pw);
/** Arm a cut at operation `at` (counted from now on, 1-based) with mode and seed. */
void otto_power_arm(otto_power_t *pw, uint64_t at, otto_cut_mode_t mode, uint64_t seed);
/** Same, with the byte count a PROG_AT / PROG_BITS tear leaves programmed. */
void otto_power_arm_tear(otto_power_t *pw, uint64_t at, otto_cut_mode_t mode, uint32_t tear,
                         uint64_t seed);
/** Power comes back: clears the cut and the off state (ops keep counting). */
void otto_power_restore(otto_power_t *pw);
const char *otto_cut_mode_name(otto_cut_mode_t m);
int otto_cut_mode_parse(const char *s, otto_cut_mode_t *m);

/** The state every flash starts from (mem not set yet): for the backings. */
int otto_simflash_init(otto_simflash_t *f, otto_power_t *pw, uint32_t size, uint32_t sector);
/** RAM flash of size bytes, all 0xFF. */
int otto_simflash_open_mem(otto_simflash_t *f, otto_power_t *pw, uint32_t size, uint32_t sector);
/** File flash; created (all 0xFF) when missing, size must match otherwise
 *  (simflash_file.c, host only). */
int otto_simflash_open_file(otto_simflash_t *f, otto_power_t *pw, const char *path,
                            uint32_t size, uint32_t sector);
void otto_simflash_close(otto_simflash_t *f);
/** Fill a HAL struct that calls into f. */
void otto_simflash_hal(otto_simflash_t *f, otto_flash_t *hal);
/** Copy raw content in or out (no op counting; for setup and snapshots). */
void otto_simflash_load(otto_simflash_t *f, uint32_t off, const void *src, uint32_t len);
/** Silent rot: flip one bit chosen by seed in [off, off + len) (not an op).
 *  Returns the byte offset of the flipped bit. */
uint32_t otto_simflash_rot(otto_simflash_t *f, uint32_t off, uint32_t len, uint64_t seed);
/** Forget weak bits and wear (after restoring a snapshot). */
void otto_simflash_reset_faults(otto_simflash_t *f);

/** eFuse whose value lives in path (created as 0 when missing), or RAM if path is NULL. */
int otto_simefuse_open(otto_simefuse_t *e, otto_power_t *pw, const char *path, uint32_t width);
void otto_simefuse_hal(otto_simefuse_t *e, otto_efuse_t *hal);
/** Burn a Secure Boot v2 key digest into the next free key block:
 *  OTTO_OK (also when it is there already), OTTO_E_NOSPC (three burnt). */
int otto_simefuse_sbv2_burn(otto_simefuse_t *e, const uint8_t digest[32]);
/** Revoke key block i (burn its KEY_REVOKE bit; it never comes back). */
int otto_simefuse_sbv2_revoke(otto_simefuse_t *e, unsigned i);
/** otto_secure_boot_t.read_keys over an otto_simefuse_t. */
int otto_simefuse_sbv2_read(void *ctx, uint8_t digest[OTTO_SBV2_KEYS][32], unsigned *n,
                            unsigned *revoked);

#endif
