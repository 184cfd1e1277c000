/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Range header, parsed strictly: "bytes=A-B", "bytes=A-" or "bytes=-N",
 * one range only. Devices resume downloads with it, so its edge cases
 * (suffix longer than the file, B past the end, A past the end) follow
 * RFC 9110 section 14 exactly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static bool number(const char **p, unsigned long long *out)
{
    char *end;
    if (!isdigit((unsigned char)**p))
        return false;
    errno = 0;
    *out = strtoull(*p, &end, 10);
    if (errno)
        return false;
    *p = end;
    return true;
}

int srv_range_parse(const char *h, unsigned long long size, unsigned long long *first,
                    unsigned long long *last)
{
    unsigned long long a = 0, b = 0;
    bool has_a, has_b;

    if (!h || strncasecmp(h, "bytes=", 6))
        return SRV_RANGE_NONE;
    h += 6;
    while (*h == ' ')
        h++;
    has_a = number(&h, &a);
    if (*h++ != '-')
        return SRV_RANGE_NONE;
    has_b = number(&h, &b);
    while (*h == ' ')
        h++;
    if (*h) /* a second range or junk: serve the whole file */
        return SRV_RANGE_NONE;
    if (!has_a && !has_b)
        return SRV_RANGE_NONE;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return SRV_RANGE_UNSAT;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return SRV_RANGE_OK;
    }
    if (has_b && b < a)
        return SRV_RANGE_NONE; /* invalid syntax: ignore the header */
    if (a >= size)
        return SRV_RANGE_UNSAT;
    *first = a;
    *last = !has_b || b >= size ? size - 1 : b;
    return SRV_RANGE_OK;
}
