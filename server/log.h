/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's log: one line per event on stderr (or a file), with a UTC time,
 * a level word and the message. Lines about a job say "job=<id> thing=<name>"
 * so one device's story can be grepped out; as JSON (srv_log_set_json) they
 * are fields of their own. Thread-safe (one write per line).
 */
#ifndef SRV_LOG_H
#define SRV_LOG_H

enum { SRV_LL_ERR = 0, SRV_LL_WRN = 1, SRV_LL_INF = 2, SRV_LL_DBG = 3 }; /* levels */

/** Set the highest level written (default SRV_LL_INF). */
void srv_log_set_level(int level);
/** "error", "warn", "info", "debug" -> level; -1 if unknown. */
int srv_log_level_parse(const char *s);
/** One JSON object a line instead of text: {"ts", "level", "msg", and
 *  "job", "thing" when the message names them as job=... thing=...}. */
void srv_log_set_json(int on);
/** Append to path instead of stderr; 0 or -1 with errno. */
int srv_log_set_file(const char *path);

void srv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SRV_LOG_ERR(...) srv_log(SRV_LL_ERR, __VA_ARGS__)
#define SRV_LOG_WRN(...) srv_log(SRV_LL_WRN, __VA_ARGS__)
#define SRV_LOG_INF(...) srv_log(SRV_LL_INF, __VA_ARGS__)
#define SRV_LOG_DBG(...) srv_log(SRV_LL_DBG, __VA_ARGS__)

#endif
