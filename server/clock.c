/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"

#include <time.h>

static struct {
    int set;
    double real0, start, speed;
} clk;

static double real_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t srv_now(void)
{
    if (!clk.set)
        return (int64_t)time(NULL);
    return (int64_t)(clk.start + (real_s() - clk.real0) * clk.speed);
}

void srv_clock_set(int64_t start, double speed)
{
    clk.real0 = real_s();
    clk.start = (double)start;
    clk.speed = speed > 0 ? speed : 1;
    clk.set = 1;
}
