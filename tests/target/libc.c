/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C library routines the device core and these tests call, for a
 * target that traps unaligned accesses. Debian's newlib for ARMv7-M assumes
 * they are allowed, as the architecture does: memcpy-armv7m.S copies
 * misaligned buffers with unaligned word loads, and its C routines (strstr
 * was the one hit) were compiled without -mno-unaligned-access. A
 * Cortex-M0, or an M4 with CCR.UNALIGN_TRP set as here, faults on those
 * (the first runs did: a lock-up in memcpy, then a UsageFault in strstr).
 * The trap stays on; these take precedence over newlib's at link time,
 * touch memory by bytes or by aligned words only, and are compiled with
 * -mno-unaligned-access like the rest of the target build. A port to a
 * core that traps needs the same from its C library.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if ((((uintptr_t)dp ^ (uintptr_t)sp) & 3) == 0) {
        while (n && ((uintptr_t)dp & 3)) {
            *dp++ = *sp++;
            n--;
        }
        for (; n >= 4; n -= 4, dp += 4, sp += 4)
            *(uint32_t *)(void *)dp = *(const uint32_t *)(const void *)sp;
    }
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    while (n--)
        dp[n] = sp[n];
    return d;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *dp = d;
    while (n && ((uintptr_t)dp & 3)) {
        *dp++ = (uint8_t)c;
        n--;
    }
    uint32_t w = (uint8_t)c * 0x01010101u;
    for (; n >= 4; n -= 4, dp += 4)
        *(uint32_t *)(void *)dp = w;
    while (n--)
        *dp++ = (uint8_t)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const uint8_t *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] == (uint8_t)c)
            return (void *)(p + i);
    return NULL;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++)
        if (*a != *b || !*a)
            return (unsigned char)*a - (unsigned char)*b;
    return 0;
}

char *strcpy(char *restrict d, const char *restrict s)
{
    char *r = d;
    while ((*d++ = *s++))
        ;
    return r;
}

char *strstr(const char *h, const char *n)
{
    size_t ln = strlen(n);
    for (; *h; h++)
        if (!strncmp(h, n, ln))
            return (char *)h;
    return ln ? NULL : (char *)h;
}
