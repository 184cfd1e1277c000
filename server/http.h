/* SPDX-License-Identifier: Apache-2.0 */
/* Answers every HTTP module gives: JSON bodies and {"error": {code, message}}. */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <cjson/cJSON.h>
#include <microhttpd.h>

/** Send o (which is freed) with status code. */
/** The status of the response this thread is queueing (for the audit log
 *  and /metrics); every path that queues one says it. */
void srv_http_sent(unsigned code);
enum MHD_Result srv_http_json(struct MHD_Connection *c, unsigned code, cJSON *o);
enum MHD_Result srv_http_err(struct MHD_Connection *c, unsigned code, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** An otto_err_t as its HTTP status and error word, with msg (NULL: the error's text). */
enum MHD_Result srv_http_otto_err(struct MHD_Connection *c, int err, const char *msg);

#endif
