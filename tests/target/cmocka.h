/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of cmocka's API otto's unit tests use, for the target runner:
 * cmocka itself is a host library. A failed assertion says where and what,
 * and ends that test (longjmp) as cmocka's does; the group's result is the
 * number of failed tests. Nothing here allocates.
 */
#ifndef OTTO_TARGET_CMOCKA_H
#define OTTO_TARGET_CMOCKA_H

#include <setjmp.h>
#include <stdint.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func, teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup_teardown(f, s, t) {#f, f, s, t, NULL}
#define cmocka_run_group_tests(tests, setup, teardown) \
    t_cm_run(__FILE__, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

int t_cm_run(const char *file, const struct CMUnitTest *tests, unsigned n, CMFixtureFunction setup,
             CMFixtureFunction teardown);
void t_cm_fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
void t_cm_int(uint64_t a, uint64_t b, int want_equal, const char *ea, const char *eb, const char *file, int line);
void t_cm_mem(const void *a, const void *b, unsigned long n, const char *ea, const char *eb, const char *file,
              int line);
void t_cm_str(const char *a, const char *b, const char *ea, const char *eb, const char *file, int line);

#define assert_int_equal(a, b) t_cm_int((uint64_t)(a), (uint64_t)(b), 1, #a, #b, __FILE__, __LINE__)
#define assert_int_not_equal(a, b) t_cm_int((uint64_t)(a), (uint64_t)(b), 0, #a, #b, __FILE__, __LINE__)
#define assert_true(c) ((c) ? (void)0 : t_cm_fail(__FILE__, __LINE__, "%s is not true", #c))
#define assert_false(c) ((c) ? t_cm_fail(__FILE__, __LINE__, "%s is not false", #c) : (void)0)
#define assert_null(p) ((p) == NULL ? (void)0 : t_cm_fail(__FILE__, __LINE__, "%s is not NULL", #p))
#define assert_non_null(p) ((p) != NULL ? (void)0 : t_cm_fail(__FILE__, __LINE__, "%s is NULL", #p))
#define assert_memory_equal(a, b, n) t_cm_mem(a, b, (unsigned long)(n), #a, #b, __FILE__, __LINE__)
#define assert_string_equal(a, b) t_cm_str(a, b, #a, #b, __FILE__, __LINE__)
#define fail_msg(...) t_cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define fail() t_cm_fail(__FILE__, __LINE__, "failed")

#endif
