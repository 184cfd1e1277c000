/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the power-cut sweeps cut, and the proof that each cut happened.
 *
 * A sweep first runs its scenario clean with the power model logging every
 * modifying op (simflash.h). plan_cuts turns that log into the cuts of the
 * power-fail bar (docs/architecture.md, "Power-fail bar"):
 *   program, metadata (<= 64 bytes: kv records, otadata entries):
 *           clean before, after, torn after every k = 1..N-1 bytes, and a
 *           partial byte in the middle;
 *   program, bulk: before, after, torn after the first byte, the middle
 *           byte and all but the last byte, a partial middle byte, and for
 *           a multi-page program (256-byte pages) after its first page,
 *           a middle page and all but its last page;
 *   erase:  before, after, old OR random, nearly erased, metastable;
 *   eFuse:  before, after, half the bits burnt.
 * plan_landed says whether a run's cuts landed where they were planned:
 * the same op number, kind, offset and length as in the clean run.
 * plan_parallel runs the cuts on every core (fork), collecting results.
 */
#ifndef OTTO_TEST_PLAN_H
#define OTTO_TEST_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "simflash.h"

#define PLAN_META_MAX 64u  /* programs up to this many bytes are metadata */
#define PLAN_PAGE     256u /* the SPI NOR page a multi-page program is torn at */

typedef struct {
    uint64_t at;   /**< op number (1-based, counted from the run's start or,
                        for a second cut, from the first cut's recovery) */
    uint8_t mode;  /**< otto_cut_mode_t */
    uint32_t tear; /**< bytes that land, for PROG_AT / PROG_BITS */
} cut_t;

/** Kinds of cut, for the report. */
enum { K_CLEAN, K_AFTER, K_TORN_META, K_TORN_PROG, K_PAGE, K_PARTIAL, K_ERASE_OR, K_ERASE_NEAR,
       K_ERASE_META, K_BURN, K_RANDOM, K_KINDS };
extern const char *const plan_kind_names[K_KINDS];
int plan_kind(const otto_op_t *op, const cut_t *c);

/** All cuts for ops [1, n] of log, every stride-th op; quick: metadata
 *  writes torn at 1, N/2 and N-1 only. Returns how many (malloc'd in *out). */
size_t plan_cuts(const otto_op_t *log, uint64_t n, uint64_t stride, bool quick, cut_t **out);
/** The cuts for one op. out must hold PLAN_META_MAX + 8. */
size_t plan_op_cuts(const otto_op_t *op, uint64_t at, bool quick, cut_t *out);

/** Did exactly `want` cuts land, the last at op `at` and on `op`? Writes why not. */
bool plan_landed(const otto_power_t *pw, uint64_t want, uint64_t at, const otto_op_t *op, char *why,
                 size_t cap);

typedef struct {
    uint32_t id;      /**< which cut */
    int ok;
    uint64_t a, b, c; /**< figures the sweep sums (bytes again, boots, ...) */
    char why[200];
} plan_result_t;

/** Run fn(i) for i in [0, n) on `workers` processes; collect(r) in the
 *  parent for each result, in no particular order. Returns 0, or -1 when a
 *  worker died. */
int plan_parallel(size_t n, int workers, void (*fn)(size_t i, plan_result_t *r, void *ctx), void *ctx,
                  void (*collect)(const plan_result_t *r, void *cctx), void *cctx);

/** Worker count: $OTTO_SWEEP_JOBS, else the cores this process may use. */
int plan_workers(void);

#endif
