/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "plan.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const plan_kind_names[K_KINDS] = {
    "clean (before the op)", "after the op", "torn metadata write (every byte)",
    "torn program (first, middle, last byte)", "torn multi-page program (first, middle, last page)",
    "partial byte", "torn erase: old OR random", "torn erase: nearly erased",
    "torn erase: metastable", "eFuse burn torn", "torn at a random byte (seeded)"};

int plan_kind(const otto_op_t *op, const cut_t *c)
{
    switch (c->mode) {
    case OTTO_CUT_BEFORE: return K_CLEAN;
    case OTTO_CUT_AFTER: return K_AFTER;
    case OTTO_CUT_PROG_BITS: return K_PARTIAL;
    case OTTO_CUT_ERASE_OR: return K_ERASE_OR;
    case OTTO_CUT_ERASE_NEAR: return K_ERASE_NEAR;
    case OTTO_CUT_ERASE_META: return K_ERASE_META;
    case OTTO_CUT_PROG_AT:
        if (op->len <= PLAN_META_MAX)
            return K_TORN_META;
        return c->tear % PLAN_PAGE == 0 && c->tear != op->len / 2 ? K_PAGE : K_TORN_PROG;
    default: return op->kind == OTTO_OP_BURN ? K_BURN : K_RANDOM;
    }
}

static size_t add(cut_t *out, size_t n, uint64_t at, otto_cut_mode_t m, uint32_t tear)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].mode == m && out[i].tear == tear)
            return n; /* the same tear twice (short programs) */
    out[n].at = at;
    out[n].mode = (uint8_t)m;
    out[n].tear = tear;
    return n + 1;
}

size_t plan_op_cuts(const otto_op_t *op, uint64_t at, bool quick, cut_t *out)
{
    size_t n = 0;
    n = add(out, n, at, OTTO_CUT_BEFORE, 0);
    n = add(out, n, at, OTTO_CUT_AFTER, 0);
    if (op->kind == OTTO_OP_ERASE) {
        n = add(out, n, at, OTTO_CUT_ERASE_OR, 0);
        n = add(out, n, at, OTTO_CUT_ERASE_NEAR, 0);
        n = add(out, n, at, OTTO_CUT_ERASE_META, 0);
    } else if (op->kind == OTTO_OP_BURN) {
        n = add(out, n, at, OTTO_CUT_TORN, 0);
    } else if (op->len > 1) {
        uint32_t len = op->len;
        if (len <= PLAN_META_MAX && !quick) {
            for (uint32_t k = 1; k < len; k++)
                n = add(out, n, at, OTTO_CUT_PROG_AT, k);
        } else {
            n = add(out, n, at, OTTO_CUT_PROG_AT, 1);
            n = add(out, n, at, OTTO_CUT_PROG_AT, len / 2);
            n = add(out, n, at, OTTO_CUT_PROG_AT, len - 1);
        }
        if (len > PLAN_PAGE) {
            uint32_t pages = (len + PLAN_PAGE - 1) / PLAN_PAGE;
            n = add(out, n, at, OTTO_CUT_PROG_AT, PLAN_PAGE);
            n = add(out, n, at, OTTO_CUT_PROG_AT, pages / 2 * PLAN_PAGE);
            n = add(out, n, at, OTTO_CUT_PROG_AT, (pages - 1) * PLAN_PAGE);
        }
        n = add(out, n, at, OTTO_CUT_PROG_BITS, len / 2);
    }
    return n;
}

size_t plan_cuts(const otto_op_t *log, uint64_t nops, uint64_t stride, bool quick, cut_t **out)
{
    size_t cap = 1024, n = 0;
    cut_t *v = malloc(cap * sizeof *v), one[PLAN_META_MAX + 8];
    if (!v)
        abort();
    for (uint64_t at = 1; at <= nops; at += stride ? stride : 1) {
        size_t k = plan_op_cuts(&log[at - 1], at, quick, one);
        if (n + k > cap) {
            cap = cap * 2 + k;
            if (!(v = realloc(v, cap * sizeof *v)))
                abort();
        }
        memcpy(v + n, one, k * sizeof *one);
        n += k;
    }
    *out = v;
    return n;
}

bool plan_landed(const otto_power_t *pw, uint64_t want, uint64_t at, const otto_op_t *op, char *why,
                 size_t cap)
{
    if (pw->landed != want) {
        snprintf(why, cap, "%llu of %llu planned cuts landed", (unsigned long long)pw->landed,
                 (unsigned long long)want);
        return false;
    }
    if (op && (pw->landed_at != at || pw->landed_op.kind != op->kind || pw->landed_op.off != op->off ||
               pw->landed_op.len != op->len)) {
        snprintf(why, cap, "the cut landed on op %llu (kind %u at 0x%x, %u bytes), planned op %llu (kind %u at "
                 "0x%x, %u bytes)", (unsigned long long)pw->landed_at, pw->landed_op.kind, pw->landed_op.off,
                 pw->landed_op.len, (unsigned long long)at, op->kind, op->off, op->len);
        return false;
    }
    return true;
}

int plan_workers(void)
{
    const char *e = getenv("OTTO_SWEEP_JOBS");
    if (e && atoi(e) > 0)
        return atoi(e);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int plan_parallel(size_t n, int workers, void (*fn)(size_t i, plan_result_t *r, void *ctx), void *ctx,
                  void (*collect)(const plan_result_t *r, void *cctx), void *cctx)
{
    int fds[2], rc = 0;
    pid_t pids[64];
    if (workers < 1)
        workers = 1;
    if (workers > 64)
        workers = 64;
    if ((size_t)workers > n)
        workers = n ? (int)n : 1;
    if (workers == 1) {
        /* In-process: a sweep with threads of its own (an emulated MCU)
         * cannot fork them. */
        for (size_t i = 0; i < n; i++) {
            plan_result_t r;
            memset(&r, 0, sizeof r);
            r.id = (uint32_t)i;
            fn(i, &r, ctx);
            collect(&r, cctx);
        }
        return 0;
    }
    fflush(stdout);
    if (pipe(fds))
        return -1;
    for (int w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] < 0)
            return -1;
        if (pids[w] == 0) {
            close(fds[0]);
            for (size_t i = (size_t)w; i < n; i += (size_t)workers) {
                plan_result_t r;
                memset(&r, 0, sizeof r);
                r.id = (uint32_t)i;
                fn(i, &r, ctx);
                if (write_all(fds[1], &r, sizeof r)) /* atomic: smaller than PIPE_BUF */
                    _exit(1);
            }
            _exit(0);
        }
    }
    close(fds[1]);
    size_t got = 0;
    plan_result_t r;
    for (;;) {
        size_t have = 0;
        while (have < sizeof r) {
            ssize_t k = read(fds[0], (char *)&r + have, sizeof r - have);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            have += (size_t)k;
        }
        if (have < sizeof r)
            break;
        collect(&r, cctx);
        got++;
    }
    close(fds[0]);
    for (int w = 0; w < workers; w++) {
        int st = 0;
        waitpid(pids[w], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            rc = -1;
    }
    return rc || got != n ? -1 : 0;
}
