/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the AN3155 host (device/mcu.c) and the relay above it
 * (device/relay.c) against an MCU that answers anything at all. The input
 * is what the line brings: chunks of [n][n bytes], n = 0 a read that times
 * out. Whatever comes, every call must end (bounded retries), stay inside
 * its buffers and return an otto_err_t.
 */
#include <string.h>
#include "otto/relay.h"

typedef struct {
    const uint8_t *p;
    size_t left, chunk; /* bytes left in the input, in the current chunk */
} line_t;

static int l_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return OTTO_OK;
}

static int l_read(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    line_t *l = ctx;
    (void)timeout_ms;
    if (!l->chunk) {
        if (!l->left)
            return 0;
        l->chunk = *l->p++;
        l->left--;
        if (!l->chunk)
            return 0; /* a timeout */
    }
    size_t n = len < l->chunk ? len : l->chunk;
    n = n < l->left ? n : l->left;
    if (!n) {
        l->chunk = 0;
        return 0;
    }
    memcpy(buf, l->p, n);
    l->p += n;
    l->left -= n;
    l->chunk -= n;
    return (int)n;
}

static uint8_t image[2048];

static int img_read(void *ctx, uint32_t off, void *out, uint32_t len)
{
    (void)ctx;
    if (off > sizeof image || len > sizeof image - off)
        __builtin_trap(); /* the relay read past what it was given */
    memcpy(out, image + off, len);
    return OTTO_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static otto_relay_t r;
    line_t l = {data, len, 0};
    otto_uart_t u = {&l, l_write, l_read, NULL};
    otto_flash_t src = {NULL, img_read, NULL, NULL, sizeof image, 4096, 1};
    otto_part_t stage = {OTTO_PART_TYPE_DATA, OTTO_PART_SUB_MCUFW, 0, sizeof image, "mcufw", 0};
    uint8_t back[300];

    for (unsigned i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7u);
    memcpy(image, "\x00\x50\x00\x20\x01\x01\x00\x08", 8); /* a vector table */

    /* The host's calls one by one. */
    otto_mcu_t m;
    memset(&m, 0, sizeof m);
    m.lim.retries = 3;
    if (otto_mcu_connect(&m, &u) == OTTO_OK && m.part) {
        uint32_t base = m.part->flash_base;
        (void)otto_mcu_erase(&m, base, 3000);
        (void)otto_mcu_write(&m, base + 0x100, image, 600);
        (void)otto_mcu_read(&m, base, back, sizeof back);
        (void)otto_mcu_verify(&m, base, image, 300);
        (void)otto_mcu_go(&m, base);
    }

    /* The relay, going on after failures as the agent does. */
    memset(&r, 0, sizeof r);
    r.mcu.lim.retries = 2;
    if (otto_relay_open(&r, &u, &src, &stage, sizeof image, NULL, true) != OTTO_OK)
        __builtin_trap();
    for (unsigned steps = 0, fails = 0; steps < 10000 && fails < 3; steps++) {
        int err = otto_relay_step(&r);
        if (err == OTTO_OK || !otto_relay_retryable(err))
            break;
        if (err != OTTO_E_AGAIN)
            fails++;
        if (err > 0 || err < OTTO_E_SIGNATURE)
            __builtin_trap(); /* not an otto_err_t */
    }
    return 0;
}
