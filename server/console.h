/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's files (web/ in the source; the build copies them, with
 * the front-end libraries npm installed from web/package-lock.json, into
 * the web directory ottod is given). Served at / on the same listener as
 * the API, read-only, to anyone: the console holds no data; it asks the
 * API with the operator's token like any client. Only plain file names
 * under the directory are served (no "..", no hidden files), with a
 * content type by extension, an ETag and no-cache.
 */
#ifndef SRV_CONSOLE_H
#define SRV_CONSOLE_H

#include <stdbool.h>
#include <microhttpd.h>

/** Is url the console's ("/" or a file of it)? */
bool srv_console_url(const char *url);
/** Answer GET/HEAD url from dir: the file, 404 when missing, 503 when no
 *  console is installed (dir ""). */
enum MHD_Result srv_console_serve(struct MHD_Connection *c, const char *dir, const char *url);

#endif
