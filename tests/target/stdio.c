/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printf and friends for the target runner, on the semihosting console.
 * newlib-nano's own formatter is built without -mno-unaligned-access: its
 * first call stores a halfword at an odd stack offset (strh [sp, #41] in
 * _svfprintf_r), which the trap we keep on catches as a Cortex-M0 would.
 * So the runner formats with this one: d i u x X c s p %, flags - 0 + and
 * space, width and precision (numbers or *), lengths hh h l ll z j t.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

typedef struct {
    char *buf;
    size_t cap, n; /* n counts what would have been written */
} out_t;

static void put(out_t *o, char c)
{
    if (o->n + 1 < o->cap)
        o->buf[o->n] = c;
    o->n++;
}

static void pad(out_t *o, char c, int k)
{
    while (k-- > 0)
        put(o, c);
}

int vsnprintf(char *buf, size_t cap, const char *f, va_list ap)
{
    out_t o = {buf, cap, 0};
    for (; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        int left = 0, zero = 0, plus = 0, space = 0, width = 0, prec = -1, len = 0;
        for (;; f++) {
            if (f[1] == '-') left = 1;
            else if (f[1] == '0') zero = 1;
            else if (f[1] == '+') plus = 1;
            else if (f[1] == ' ') space = 1;
            else break;
        }
        f++;
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0)
                left = 1, width = -width;
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    prec = prec * 10 + (*f++ - '0');
            }
        }
        while (*f == 'h' || *f == 'l' || *f == 'z' || *f == 'j' || *f == 't')
            len += *f == 'l' ? 1 : *f == 'j' ? 2 : *f == 'h' ? -1 : 0, f++;
        char tmp[24], *s = tmp;
        int sl = 0, neg = 0, base = 10, upper = 0;
        uint64_t v = 0;
        switch (*f) {
        case '%': put(&o, '%'); continue;
        case 'c': tmp[0] = (char)va_arg(ap, int); sl = 1; prec = -1; break;
        case 's':
            s = va_arg(ap, char *);
            if (!s)
                s = "(null)";
            sl = (int)(prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s));
            prec = -1;
            break;
        case 'p': v = (uintptr_t)va_arg(ap, void *); base = 16; put(&o, '0'); put(&o, 'x'); goto num;
        case 'd': case 'i': {
            int64_t x = len >= 2 ? va_arg(ap, long long) : len == 1 ? va_arg(ap, long) : va_arg(ap, int);
            neg = x < 0;
            v = neg ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
            goto num;
        }
        case 'X': upper = 1; /* fall through */
        case 'x': base = 16; /* fall through */
        case 'u':
            v = len >= 2 ? va_arg(ap, unsigned long long) : len == 1 ? va_arg(ap, unsigned long)
                                                                    : va_arg(ap, unsigned);
            if (len < 0) /* h, hh: what was promoted, cut back */
                v &= f[-1] == 'h' && f[-2] == 'h' ? 0xFFu : 0xFFFFu;
        num: {
            char *e = tmp + sizeof tmp;
            do {
                unsigned d = (unsigned)(v % (unsigned)base);
                *--e = (char)(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
                v /= (unsigned)base;
            } while (v);
            s = e;
            sl = (int)(tmp + sizeof tmp - e);
            break;
        }
        default: put(&o, '%'); put(&o, *f); continue;
        }
        char sign = neg ? '-' : plus && (*f == 'd' || *f == 'i') ? '+' : space && (*f == 'd' || *f == 'i') ? ' ' : 0;
        int digits = prec > sl ? prec : sl, total = digits + (sign != 0);
        if (!left && !(zero && prec < 0))
            pad(&o, ' ', width - total);
        if (sign)
            put(&o, sign);
        if (!left && zero && prec < 0)
            pad(&o, '0', width - total);
        pad(&o, '0', digits - sl);
        for (int i = 0; i < sl; i++)
            put(&o, s[i]);
        if (left)
            pad(&o, ' ', width - total);
    }
    if (cap)
        buf[o.n < cap ? o.n : cap - 1] = 0;
    return (int)o.n;
}

int snprintf(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, cap, f, ap);
    va_end(ap);
    return n;
}

int sprintf(char *buf, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, (size_t)-1 / 2, f, ap);
    va_end(ap);
    return n;
}

static int vprint(const char *f, va_list ap)
{
    char line[512];
    int n = vsnprintf(line, sizeof line, f, ap);
    t_puts(line);
    return n;
}

int printf(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vprint(f, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *f, va_list ap)
{
    return vprint(f, ap);
}

int fprintf(FILE *fp, const char *f, ...)
{
    (void)fp; /* stdout and stderr: both the console */
    va_list ap;
    va_start(ap, f);
    int n = vprint(f, ap);
    va_end(ap);
    return n;
}

int vfprintf(FILE *fp, const char *f, va_list ap)
{
    (void)fp;
    return vprint(f, ap);
}

int fputs(const char *s, FILE *fp)
{
    (void)fp;
    t_puts(s);
    return 0;
}

int puts(const char *s)
{
    t_puts(s);
    t_puts("\n");
    return 0;
}

int putchar(int c)
{
    char s[2] = {(char)c, 0};
    t_puts(s);
    return c;
}

int fputc(int c, FILE *fp)
{
    (void)fp;
    return putchar(c);
}

/* assert(): newlib's reports through its own fiprintf. */
void __assert_func(const char *file, int line, const char *func, const char *expr)
{
    printf("assertion \"%s\" failed: %s:%d (%s)\n", expr, file, line, func ? func : "?");
    t_exit(4);
}
