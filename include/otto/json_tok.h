/* SPDX-License-Identifier: Apache-2.0 */
/* Storage for one JSON token (the layout of jsmntok_t), so structs that
 * own token buffers need not include jsmn.h. device/json.c checks that the
 * two agree. */
#ifndef OTTO_JSON_TOK_H
#define OTTO_JSON_TOK_H

typedef struct {
    int type, start, end, size;
} otto_json_tok_t;

#endif
