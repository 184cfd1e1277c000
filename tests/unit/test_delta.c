/* SPDX-License-Identifier: Apache-2.0 */
/* Delta patches (host/delta.c makes them, device/delta.c decodes them):
 * round trips on pairs made here (identical, unrelated, shrinking, growing,
 * one byte changed, empty, block-sized), the decoder fed in every chunking
 * and resumed at each block, and malformed patches (every truncation,
 * random damage, the wrong base) failing cleanly: nothing read outside the
 * base, nothing written beyond the target. With --corpus DIR: the real
 * release pairs of the delta corpus (exit 77 when DIR is not there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delta.h"
#include "otto/delta.h"
#include "otto/err.h"
#include "util.h"

/* ---- a decoder bound to a base and a target buffer, checking both ------ */

typedef struct {
    const uint8_t *base;
    size_t base_len;
    uint8_t *out;
    size_t cap, len;
    bool out_of_bounds;
} sink_t;

static int read_base(void *ctx, uint32_t off, void *buf, size_t len)
{
    sink_t *s = ctx;
    if ((size_t)off + len > s->base_len) {
        s->out_of_bounds = true;
        return OTTO_E_INVAL;
    }
    memcpy(buf, s->base + off, len);
    return OTTO_OK;
}

static int write_out(void *ctx, const void *data, size_t len)
{
    sink_t *s = ctx;
    if (s->len + len > s->cap) {
        s->out_of_bounds = true;
        return OTTO_E_NOSPC;
    }
    memcpy(s->out + s->len, data, len);
    s->len += len;
    return OTTO_OK;
}

static otto_delta_t dec; /* as a device keeps it: one, static */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint8_t *random_bytes(size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)otto_xorshift64(&rng);
    return b;
}

/* Decode patch over base fed in chunks of 1..maxchunk bytes; the result's
 * error, the output in *s (s->out of cap bytes, owned by the caller). */
static int decode_chunked(const uint8_t *patch, size_t plen, sink_t *s, size_t maxchunk)
{
    otto_delta_begin(&dec, read_base, write_out, s);
    int err = OTTO_OK;
    for (size_t off = 0; off < plen && !err;) {
        size_t n = 1 + (size_t)(otto_xorshift64(&rng) % maxchunk);
        if (n > plen - off)
            n = plen - off;
        err = otto_delta_feed(&dec, patch + off, n);
        off += n;
    }
    return err ? err : otto_delta_finish(&dec);
}

/* make, apply (host), decode in chunks, resume at every block: all equal the target. */
static size_t round_trip(const uint8_t *base, size_t bl, const uint8_t *target, size_t tl, uint32_t block)
{
    uint8_t *patch, *back;
    size_t plen, blen;
    assert_int_equal(otto_delta_make(base, bl, target, tl, block, &patch, &plen), OTTO_OK);
    assert_int_equal(otto_delta_apply(base, bl, patch, plen, &back, &blen), OTTO_OK);
    assert_int_equal(blen, tl);
    assert_memory_equal(back, target, tl);
    free(back);
    sink_t s = {base, bl, malloc(tl + 1), tl, 0, false};
    for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
        s.len = 0;
        assert_int_equal(decode_chunked(patch, plen, &s, chunk), OTTO_OK);
        assert_int_equal(s.len, tl);
        assert_memory_equal(s.out, target, tl);
    }
    /* a power cut after each block: a new decoder from the checkpoint */
    otto_delta_resume_t cps[64];
    unsigned ncp = 0;
    s.len = 0;
    otto_delta_begin(&dec, read_base, write_out, &s);
    for (size_t off = 0; off < plen; off++) {
        assert_int_equal(otto_delta_feed(&dec, patch + off, 1), OTTO_OK);
        otto_delta_resume_t r;
        if (otto_delta_checkpoint(&dec, &r) && ncp < 64 && (!ncp || cps[ncp - 1].block != r.block)) {
            assert_int_equal(otto_delta_written(&dec), r.block * r.hdr.block_size);
            cps[ncp++] = r;
        }
    }
    for (unsigned k = 0; k < ncp; k++) {
        s.len = cps[k].block * cps[k].hdr.block_size; /* what the slot holds */
        memset(s.out + s.len, 0xEE, tl - s.len);
        otto_delta_resume(&dec, &cps[k], read_base, write_out, &s);
        assert_int_equal(otto_delta_feed(&dec, patch + cps[k].patch_off, plen - cps[k].patch_off), OTTO_OK);
        assert_int_equal(otto_delta_finish(&dec), OTTO_OK);
        assert_memory_equal(s.out, target, tl);
    }
    assert_false(s.out_of_bounds);
    free(s.out);
    free(patch);
    return plen;
}

static void pairs_made_here(void **state)
{
    (void)state;
    const size_t n = 200 * 1024;
    uint8_t *a = random_bytes(n), *b = random_bytes(n), *t = malloc(n + 40960);
    /* identical: almost nothing (the models of 4 blocks learning that nothing changes) */
    size_t p = round_trip(a, n, a, n, 0);
    assert_true(p < 1024);
    /* unrelated: the target as it is, in raw blocks (a header and 4 bytes a block more) */
    p = round_trip(a, n, b, n, 0);
    assert_int_equal(p, n + OTTO_DELTA_HEADER_LEN + 4 * 4);
    /* one byte changed */
    memcpy(t, a, n);
    t[n / 3] ^= 0x40;
    p = round_trip(a, n, t, n, 0);
    assert_true(p < 1100);
    /* shrinking: a tenth cut out of the middle */
    memcpy(t, a, n / 2);
    memcpy(t + n / 2, a + n / 2 + n / 10, n - n / 2 - n / 10);
    p = round_trip(a, n, t, n - n / 10, 0);
    assert_true(p < 1500);
    /* growing: 40 KiB of new bytes in the middle, and moved code's offsets changed every 64 bytes */
    memcpy(t, a, n / 2);
    memcpy(t + n / 2, b, 40960);
    memcpy(t + n / 2 + 40960, a + n / 2, n - n / 2);
    for (size_t i = n / 2 + 40960 + 1; i < n + 40960; i += 64)
        t[i] = (uint8_t)(t[i] + 4);
    p = round_trip(a, n, t, n + 40960, 4096);
    assert_true(p < 40960 + 8000);
    /* empty target, empty base, a target of exactly two blocks */
    round_trip(a, n, t, 0, 0);
    round_trip(a, 0, b, 5000, 4096);
    round_trip(a, n, b, 8192, 4096);
    printf("round trips: identical, unrelated, one byte, shrinking, growing, empty, block-sized: each decoded in "
           "chunks of 1 to 4096 bytes and resumed at every block\n");
    free(a);
    free(b);
    free(t);
}

static void malformed_patches(void **state)
{
    (void)state;
    const size_t n = 48 * 1024;
    uint8_t *a = random_bytes(n), *t = malloc(n), *patch;
    size_t plen;
    memcpy(t, a, n);
    for (size_t i = 100; i < n; i += 97)
        t[i] = (uint8_t)(t[i] + 3);
    memcpy(t + 20000, a, 3000); /* and a stretch from elsewhere */
    assert_int_equal(otto_delta_make(a, n, t, n, 4096, &patch, &plen), OTTO_OK);
    sink_t s = {a, n, malloc(n), n, 0, false};
    unsigned truncations = 0, damaged = 0, caught = 0;
    for (size_t cut = 0; cut < plen; cut++, truncations++) { /* every truncation */
        s.len = 0;
        otto_delta_begin(&dec, read_base, write_out, &s);
        int err = otto_delta_feed(&dec, patch, cut);
        if (!err)
            err = otto_delta_finish(&dec);
        assert_int_not_equal(err, OTTO_OK);
        assert_false(s.out_of_bounds);
    }
    uint8_t *bad = malloc(plen);
    for (int k = 0; k < 3000; k++, damaged++) { /* random damage: refused, or caught by the hash */
        memcpy(bad, patch, plen);
        for (int f = 0, nf = 1 + (int)(otto_xorshift64(&rng) % 4); f < nf; f++)
            bad[OTTO_DELTA_HEADER_LEN + otto_xorshift64(&rng) % (plen - OTTO_DELTA_HEADER_LEN)] ^=
                (uint8_t)(1u << (otto_xorshift64(&rng) % 8));
        s.len = 0;
        int err = decode_chunked(bad, plen, &s, 700);
        assert_false(s.out_of_bounds);
        caught += err != OTTO_OK;
        if (!err)
            assert_int_equal(s.len, n); /* a whole target came out: the caller's SHA-256 judges it */
    }
    /* the header: a damaged one is refused by its CRC */
    memcpy(bad, patch, plen);
    bad[13] ^= 1;
    s.len = 0;
    assert_int_equal(decode_chunked(bad, plen, &s, 4096), OTTO_E_CORRUPT);
    /* the wrong base: refused before decoding */
    uint8_t *other = random_bytes(n), *out;
    size_t olen;
    assert_int_equal(otto_delta_apply(other, n, patch, plen, &out, &olen), OTTO_E_VERIFY);
    printf("malformed: %u truncations refused; %u damaged patches: %u refused by the decoder, the rest whole and "
           "left to the hash; nothing read or written out of bounds\n", truncations, damaged, caught);
    free(other);
    free(bad);
    free(s.out);
    free(patch);
    free(a);
    free(t);
}

/* ---- the corpus: real release pairs, read where they are kept --------- */

static int corpus(const char *dir)
{
    static const char *const pairs[][3] = {
        {"wled-esp32", "0.14.1", "0.14.2"}, {"wled-esp32", "0.14.2", "0.14.3"}, {"wled-esp32", "0.14.3", "0.14.4"},
        {"wled-esp32", "0.14.4", "0.15.0"}, {"wled-esp32", "0.14.2", "0.14.4"},
        {"marlin-skr-mini-e3-v2", "2.0.6", "2.0.6.1"}, {"marlin-skr-mini-e3-v2", "2.0.6.1", "2.0.7.2"},
        {"marlin-skr-mini-e3-v2", "2.0.6", "2.0.7.2"}};
    char path[1024];
    snprintf(path, sizeof path, "%s/SHA256SUMS", dir);
    uint8_t *x;
    size_t xl;
    if (otto_read_file(path, &x, &xl)) {
        printf("skipped: no delta corpus at %s\n", dir);
        return 77;
    }
    free(x);
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        uint8_t *a, *b, *patch, *back;
        size_t al, bl, pl, backl;
        snprintf(path, sizeof path, "%s/%s/%s.bin", dir, pairs[i][0], pairs[i][1]);
        if (otto_read_file(path, &a, &al))
            return printf("cannot read %s\n", path), 1;
        snprintf(path, sizeof path, "%s/%s/%s.bin", dir, pairs[i][0], pairs[i][2]);
        if (otto_read_file(path, &b, &bl))
            return printf("cannot read %s\n", path), 1;
        int err = otto_delta_make(a, al, b, bl, 0, &patch, &pl);
        if (!err)
            err = otto_delta_apply(a, al, patch, pl, &back, &backl);
        bool same = !err && backl == bl && !memcmp(back, b, bl);
        sink_t s = {a, al, malloc(bl), bl, 0, false};
        bool chunked = same && decode_chunked(patch, pl, &s, 1500) == OTTO_OK && s.len == bl &&
                       !memcmp(s.out, b, bl) && !s.out_of_bounds;
        printf("%s %s -> %s: %zu bytes, patch %zu (%.1f %%): %s\n", pairs[i][0], pairs[i][1], pairs[i][2], bl, pl,
               100.0 * (double)pl / (double)bl, same && chunked ? "round trip ok" : "ROUND TRIP FAILED");
        free(s.out);
        if (!err)
            free(back);
        free(patch);
        free(a);
        free(b);
        if (!same || !chunked)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--corpus"))
        return corpus(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pairs_made_here),
        cmocka_unit_test(malformed_patches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
