/* SPDX-License-Identifier: Apache-2.0 */
/* The target runner's cmocka (cmocka.h): run a group, catch a failure. */
#include "cmocka.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

static jmp_buf t_cm_jump;

void t_cm_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    char where[96];
    snprintf(where, sizeof where, "    %s:%d: ", base ? base + 1 : file, line);
    t_puts(where);
    t_puts(msg);
    t_puts("\n");
    longjmp(t_cm_jump, 1);
}

/* newlib-nano's printf has no %llx: two 32-bit halves. */
static void hex64(char *out, uint64_t v)
{
    sprintf(out, "0x%08lx%08lx", (unsigned long)(v >> 32), (unsigned long)v);
}

void t_cm_int(uint64_t a, uint64_t b, int want_equal, const char *ea, const char *eb, const char *file, int line)
{
    char ha[24], hb[24];
    if ((a == b) == !!want_equal)
        return;
    hex64(ha, a);
    hex64(hb, b);
    t_cm_fail(file, line, "%s (%s) %s %s (%s)", ea, ha, want_equal ? "!=" : "==", eb, hb);
}

void t_cm_mem(const void *a, const void *b, unsigned long n, const char *ea, const char *eb, const char *file,
              int line)
{
    const unsigned char *x = a, *y = b;
    for (unsigned long i = 0; i < n; i++)
        if (x[i] != y[i])
            t_cm_fail(file, line, "%s and %s differ at byte %lu of %lu (0x%02x, 0x%02x)", ea, eb, i, n, x[i], y[i]);
}

void t_cm_str(const char *a, const char *b, const char *ea, const char *eb, const char *file, int line)
{
    if (!a || !b || strcmp(a, b))
        t_cm_fail(file, line, "%s (\"%s\") != %s (\"%s\")", ea, a ? a : "(null)", eb, b ? b : "(null)");
}

int t_cm_run(const char *file, const struct CMUnitTest *tests, unsigned n, CMFixtureFunction setup,
             CMFixtureFunction teardown)
{
    void *group = NULL;
    volatile int failed = 0; /* kept across a failed test's longjmp */
    char line[160];
    if (setup && setup(&group)) {
        t_puts("  group setup failed\n");
        return (int)n;
    }
    for (unsigned i = 0; i < n; i++) {
        void *state = tests[i].initial_state ? tests[i].initial_state : group;
        volatile int ok = 1;
        if (setjmp(t_cm_jump) == 0) {
            if (tests[i].setup_func && tests[i].setup_func(&state))
                t_cm_fail(file, 0, "setup of %s failed", tests[i].name);
            tests[i].test_func(&state);
        } else {
            ok = 0;
        }
        if (tests[i].teardown_func)
            tests[i].teardown_func(&state);
        failed += !ok;
        snprintf(line, sizeof line, "  %s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        t_puts(line);
    }
    if (teardown)
        teardown(&group);
    return failed;
}
