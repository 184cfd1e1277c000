/* SPDX-License-Identifier: Apache-2.0 */
/* The download Range parser: RFC 9110's cases one by one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "download.h"

static void check(const char *h, unsigned long long size, int kind, unsigned long long a,
                  unsigned long long b)
{
    unsigned long long first = 99, last = 99;
    int k = srv_range_parse(h, size, &first, &last);
    if (k != kind)
        fail_msg("'%s' size %llu: kind %d, expected %d", h ? h : "(null)", size, k, kind);
    if (kind == SRV_RANGE_OK && (first != a || last != b))
        fail_msg("'%s' size %llu: %llu-%llu, expected %llu-%llu", h, size, first, last, a, b);
}

static void ranges(void **state)
{
    (void)state;
    check("bytes=0-99", 1000, SRV_RANGE_OK, 0, 99);
    check("bytes=100-", 1000, SRV_RANGE_OK, 100, 999);
    check("bytes=900-5000", 1000, SRV_RANGE_OK, 900, 999);   /* clipped at the end */
    check("bytes=-100", 1000, SRV_RANGE_OK, 900, 999);       /* suffix */
    check("bytes=-5000", 1000, SRV_RANGE_OK, 0, 999);        /* suffix longer than file */
    check("bytes=999-999", 1000, SRV_RANGE_OK, 999, 999);
    check("BYTES=1-2", 1000, SRV_RANGE_OK, 1, 2);
    check("bytes= 5-6 ", 1000, SRV_RANGE_OK, 5, 6);
    check("bytes=1000-", 1000, SRV_RANGE_UNSAT, 0, 0);       /* starts at the end */
    check("bytes=2000-3000", 1000, SRV_RANGE_UNSAT, 0, 0);
    check("bytes=-0", 1000, SRV_RANGE_UNSAT, 0, 0);
    check("bytes=0-", 0, SRV_RANGE_UNSAT, 0, 0);             /* empty file */
    check(NULL, 1000, SRV_RANGE_NONE, 0, 0);
    check("", 1000, SRV_RANGE_NONE, 0, 0);
    check("items=0-1", 1000, SRV_RANGE_NONE, 0, 0);
    check("bytes=5-4", 1000, SRV_RANGE_NONE, 0, 0);          /* invalid: ignored */
    check("bytes=0-1,5-6", 1000, SRV_RANGE_NONE, 0, 0);      /* several: whole file */
    check("bytes=-", 1000, SRV_RANGE_NONE, 0, 0);
    check("bytes=abc", 1000, SRV_RANGE_NONE, 0, 0);
    check("bytes=1-2x", 1000, SRV_RANGE_NONE, 0, 0);
    check("bytes=99999999999999999999999-", 1000, SRV_RANGE_NONE, 0, 0); /* overflow */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(ranges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
