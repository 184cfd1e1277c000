/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The log is process-wide by nature; these two are the server's only
 * logging state and are set once at start-up, before threads exist. */
static int log_level = SRV_LL_INF;
static int log_fd = 2;

void srv_log_set_level(int level) { log_level = level; }

int srv_log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int srv_log_set_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    log_fd = fd;
    return 0;
}

void srv_log(int level, const char *fmt, ...)
{
    static const char *const words[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level > log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %s ", (int)(tv.tv_usec / 1000),
                  words[level < 0 ? 0 : level > 3 ? 3 : level]);
    char msg[1536];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* What clients sent may be in the message: a control character is
     * written as \xNN, so no client can start a line of its own (D6). */
    for (const char *p = msg; *p && n < (int)sizeof line - 6; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f)
            n += snprintf(line + n, sizeof line - (size_t)n, "\\x%02x", ch);
        else
            line[n++] = (char)ch;
    }
    line[n++] = '\n';
    /* One write per line so lines from several threads never interleave. */
    if (write(log_fd, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
