/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's client of ottod's REST API (libcurl + cJSON). The server comes
 * from --url or OTTO_URL, the token from --token or OTTO_TOKEN. Calls return
 * an exit code (cli.h): EXIT_OK, EXIT_FAIL when the server refused the
 * operation (its message is printed), EXIT_SERVER when it could not be
 * reached, rejected the token or failed itself. *resp (a JSON value the
 * caller frees) is set on EXIT_OK.
 */
#ifndef OTTO_CLI_API_H
#define OTTO_CLI_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct {
    const char *url;
    const char *token;
    bool json;     /* --json: print the server's JSON */
    bool quiet;    /* -q: print only the id */
} api_opts_t;

/* Long options every server command takes; the values are in api.c's
 * api_opt(). */
#define API_LONG_OPTS                                   \
    {"url", required_argument, 0, 0x100},               \
    {"token", required_argument, 0, 0x101},             \
    {"json", no_argument, 0, 0x102},                    \
    {"quiet", no_argument, 0, 'q'}

/** Handle one of API_LONG_OPTS; false if opt is not one of them. */
bool api_opt(api_opts_t *o, int opt, const char *arg);
/** Fill url/token from the environment where not given; EXIT_USAGE with a
 *  message if either is missing. */
int api_ready(api_opts_t *o);

int api_call(const api_opts_t *o, const char *method, const char *path, const cJSON *body,
             cJSON **resp);
/** GET every page of a paged list (path, with or without a query) and
 *  return the items under key as one array in *out. */
int api_list(const api_opts_t *o, const char *path, const char *key, cJSON **out);
/** multipart/form-data upload of file (as "file") and descriptor text. */
int api_upload(const api_opts_t *o, const char *path, const char *file, const char *descriptor,
               cJSON **resp);
/** method path, the answer's body saved to file (mode 0600, through
 *  FILE.part, synced, renamed when whole); with header, *header_value
 *  gets that response header's value (malloc'd, NULL when absent). */
int api_save(const api_opts_t *o, const char *method, const char *path, const char *file, const char *header,
             char **header_value);
/** URL-escape one path segment into buf. */
const char *api_escape(const char *s, char *buf, size_t cap);
/** o's string member k, or "" when it is missing or not a string. */
/** A JSON object given inline ("{...}") or in a file ("@FILE" or FILE); NULL
 *  with a message naming what (e.g. the flag) when it is neither. */
cJSON *api_json_arg(const char *arg, const char *what);
const char *api_str(const cJSON *o, const char *k);
/** Print a JSON value (pretty) to stdout. */
void api_print_json(const cJSON *v);

#endif
