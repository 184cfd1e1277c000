/* SPDX-License-Identifier: Apache-2.0 */
/* Firmware downloads and the Range header (download.c). */
#ifndef SRV_DOWNLOAD_H
#define SRV_DOWNLOAD_H

#include <microhttpd.h>

#include "server.h"

/** Answer GET/HEAD /fw/{id}: 200, 206 or 416 with the file, 404 unknown.
 *  What it looked up is kept DL_TTL_MS (another worker's delete is seen
 *  that late; this one's at once, srv_download_forget), and with it the
 *  whole file's response: full GETs meanwhile queue that one (no open, no
 *  stat, no headers made per request). */
enum MHD_Result srv_download(srv_t *s, struct MHD_Connection *c, const char *id, bool head);
void srv_download_forget(srv_t *s, const char *id);
/** Drop every kept response (at stop, the HTTP daemon gone). */
void srv_download_clear(srv_t *s);

/* One "bytes=" range of a file of size bytes:
 * SRV_RANGE_NONE  - no usable Range: send the whole file (200). Multiple
 *                   ranges and malformed headers land here, as RFC 9110 allows.
 * SRV_RANGE_OK    - send [*first, *last] (206).
 * SRV_RANGE_UNSAT - the range starts past the end (416). */
enum { SRV_RANGE_NONE, SRV_RANGE_OK, SRV_RANGE_UNSAT };
int srv_range_parse(const char *hdr, unsigned long long size, unsigned long long *first,
                    unsigned long long *last);

#endif
