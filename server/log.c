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
static int log_json;

void srv_log_set_level(int level) { log_level = level; }
void srv_log_set_json(int on) { log_json = on; }

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

/* Append s to line as a JSON string's content (n: bytes used so far). */
static int json_str(char *line, int n, int cap, const char *s, size_t len)
{
    for (size_t i = 0; i < len && n < cap - 8; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            line[n++] = '\\';
            line[n++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) { /* ASCII out: valid JSON whatever a client sent */
            n += snprintf(line + n, (size_t)(cap - n), "\\u%04x", ch);
        } else {
            line[n++] = (char)ch;
        }
    }
    return n;
}

/* The value of "key=" in msg (up to a space), if the message names one. */
static const char *field(const char *msg, const char *key, size_t *len)
{
    size_t k = strlen(key);
    for (const char *p = strstr(msg, key); p; p = strstr(p + 1, key))
        if (p == msg || p[-1] == ' ') {
            *len = strcspn(p + k, " ,;"); /* thing names hold colons (MAC addresses) */
            return *len ? p + k : NULL;
        }
    return NULL;
}

static int json_line(char *line, int cap, const char *ts, int level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    int n = snprintf(line, (size_t)cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                     names[level < 0 ? 0 : level > 3 ? 3 : level]);
    n = json_str(line, n, cap, msg, strlen(msg));
    static const char *const keys[][2] = {{"job=", "job"}, {"thing=", "thing"}};
    for (int i = 0; i < 2; i++) {
        size_t len;
        const char *v = field(msg, keys[i][0], &len);
        if (v && n < cap - 16) {
            n += snprintf(line + n, (size_t)(cap - n), "\",\"%s\":\"", keys[i][1]);
            n = json_str(line, n, cap, v, len);
        }
    }
    n += snprintf(line + n, (size_t)(cap - n), "\"}");
    return n < cap - 1 ? n : cap - 2;
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
    char ts[40];
    n = (int)strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - (size_t)n, ".%03dZ", (int)(tv.tv_usec / 1000));
    char msg[1536];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_json) {
        n = json_line(line, (int)sizeof line, ts, level, msg);
    } else {
        n = snprintf(line, sizeof line, "%s %s ", ts, words[level < 0 ? 0 : level > 3 ? 3 : level]);
        /* What clients sent may be in the message: a control character is
         * written as \xNN, so no client can start a line of its own (D6). */
        for (const char *p = msg; *p && n < (int)sizeof line - 6; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch < 0x20 || ch == 0x7f)
                n += snprintf(line + n, sizeof line - (size_t)n, "\\x%02x", ch);
            else
                line[n++] = (char)ch;
        }
    }
    line[n++] = '\n';
    /* One write per line so lines from several threads never interleave. */
    if (write(log_fd, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
