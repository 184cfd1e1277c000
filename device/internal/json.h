/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading JSON in place over jsmn tokens: the agent's and jobdoc's only
 * JSON code. Tokens live in caller-owned storage (otto_json_tok_t, the same
 * layout as jsmntok_t); strings are copied out with the common escapes
 * decoded. No malloc. Errors: OTTO_E_PROTO (not JSON / wrong type),
 * OTTO_E_NOSPC (too many tokens, or a string does not fit), OTTO_E_NOTFOUND.
 */
#ifndef OTTO_INTERNAL_JSON_H
#define OTTO_INTERNAL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/json_tok.h"

typedef struct {
    const char *js;
    otto_json_tok_t *t;
    int n;
} otto_json_t;

/** Parse len bytes of js into toks[cap]; the root must be an object. */
int otto_json_parse(otto_json_t *j, const char *js, size_t len, otto_json_tok_t *toks, unsigned cap);
/** The value token of key in object token obj, or -1. */
int otto_json_get(const otto_json_t *j, int obj, const char *key);
/** A string value, unescaped, NUL-terminated. */
int otto_json_str(const otto_json_t *j, int tok, char *out, size_t cap);
/** A non-negative integer value that fits 32 bits. */
int otto_json_u32(const otto_json_t *j, int tok, uint32_t *v);
/** A string of 2*n hex digits, as n bytes. */
int otto_json_hex(const otto_json_t *j, int tok, uint8_t *out, size_t n);
/** Is tok an object / array? Element count in *size. */
bool otto_json_is_object(const otto_json_t *j, int tok);
bool otto_json_is_array(const otto_json_t *j, int tok, int *size);
/** The token after tok and everything inside it. */
int otto_json_skip(const otto_json_t *j, int tok);
/** Does tok's raw text equal s? */
bool otto_json_eq(const otto_json_t *j, int tok, const char *s);

/* The job document at object token obj of an already parsed message (the
 * agent reads it inside notify-next); device/jobdoc.c. */
struct otto_jobdoc_s;
int otto_jobdoc_read(const otto_json_t *j, int obj, struct otto_jobdoc_s *doc);

/** Decode base64 (RFC 4648, padded) into out: the byte count, or -1. */
int otto_b64_decode(const char *in, uint8_t *out, size_t cap);

/* Writing JSON into a caller's buffer, no printf: appends stop at cap - 1
 * (always NUL-terminated) and set `over`, which the caller checks once. */
typedef struct {
    char *b;
    size_t cap, n;
    bool over;
} otto_jw_t;

void otto_jw_raw(otto_jw_t *w, const char *s);
void otto_jw_u32(otto_jw_t *w, uint32_t v);
/** A string literal, quoted and escaped; control characters become spaces. */
void otto_jw_str(otto_jw_t *w, const char *s);
/** "key":"val", after a comma when comma is set. */
void otto_jw_kv(otto_jw_t *w, const char *key, const char *val, bool comma);
/** "key":"v" (a number as a string: statusDetails values are strings). */
void otto_jw_kv_u32(otto_jw_t *w, const char *key, uint32_t v, bool comma);

#endif
