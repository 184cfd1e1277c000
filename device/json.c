/* SPDX-License-Identifier: Apache-2.0 */
#include "internal/json.h"

#include <string.h>

#include "otto/err.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

/* otto_json_tok_t is storage for a jsmntok_t: the same size and the same
 * offsets. It is read only as jsmntok_t (TOK): jsmntype_t is an enum, and
 * where enums are short (arm-none-eabi) jsmn writes one byte of `type`,
 * which read as otto_json_tok_t's int would bring in three bytes of
 * whatever the caller's buffer held. */
#include <stddef.h>
typedef char tok_size_check[sizeof(otto_json_tok_t) == sizeof(jsmntok_t) &&
                                    offsetof(otto_json_tok_t, start) == offsetof(jsmntok_t, start) &&
                                    offsetof(otto_json_tok_t, end) == offsetof(jsmntok_t, end) &&
                                    offsetof(otto_json_tok_t, size) == offsetof(jsmntok_t, size)
                                ? 1
                                : -1];
#define TOK(j, i) (((const jsmntok_t *)(const void *)(j)->t)[i])

int otto_json_parse(otto_json_t *j, const char *js, size_t len, otto_json_tok_t *toks, unsigned cap)
{
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, js, len, (jsmntok_t *)(void *)toks, cap);
    if (n == JSMN_ERROR_NOMEM)
        return OTTO_E_NOSPC;
    if (n < 1 || ((const jsmntok_t *)(const void *)toks)[0].type != JSMN_OBJECT)
        return OTTO_E_PROTO;
    j->js = js;
    j->t = toks;
    j->n = n;
    return OTTO_OK;
}

int otto_json_skip(const otto_json_t *j, int tok)
{
    /* Children come right after their parent; skip by end offset. */
    int end = TOK(j, tok).end, i = tok + 1;
    while (i < j->n && TOK(j, i).start < end)
        i++;
    return i;
}

bool otto_json_eq(const otto_json_t *j, int tok, const char *s)
{
    size_t n = strlen(s);
    const jsmntok_t *t = &TOK(j, tok);
    return (size_t)(t->end - t->start) == n && !memcmp(j->js + t->start, s, n);
}

int otto_json_get(const otto_json_t *j, int obj, const char *key)
{
    if (obj < 0 || obj >= j->n || TOK(j, obj).type != JSMN_OBJECT)
        return -1;
    int i = obj + 1;
    for (int k = 0; k < TOK(j, obj).size && i < j->n; k++) {
        int v = i + 1;
        if (v >= j->n)
            return -1;
        if (TOK(j, i).type == JSMN_STRING && otto_json_eq(j, i, key))
            return v;
        i = otto_json_skip(j, v);
    }
    return -1;
}

bool otto_json_is_object(const otto_json_t *j, int tok)
{
    return tok >= 0 && tok < j->n && TOK(j, tok).type == JSMN_OBJECT;
}

bool otto_json_is_array(const otto_json_t *j, int tok, int *size)
{
    if (tok < 0 || tok >= j->n || TOK(j, tok).type != JSMN_ARRAY)
        return false;
    if (size)
        *size = TOK(j, tok).size;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int otto_json_str(const otto_json_t *j, int tok, char *out, size_t cap)
{
    if (tok < 0 || tok >= j->n)
        return OTTO_E_NOTFOUND;
    if (TOK(j, tok).type != JSMN_STRING || cap == 0)
        return OTTO_E_PROTO;
    const char *s = j->js + TOK(j, tok).start, *e = j->js + TOK(j, tok).end;
    size_t o = 0;
    while (s < e) {
        char c = *s++;
        if (c == '\\' && s < e) {
            c = *s++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': return OTTO_E_PROTO; /* never in what otto reads */
            default: break;                /* \" \\ \/ */
            }
        }
        if (o + 1 >= cap)
            return OTTO_E_NOSPC;
        out[o++] = c;
    }
    out[o] = 0;
    return OTTO_OK;
}

int otto_json_u32(const otto_json_t *j, int tok, uint32_t *v)
{
    if (tok < 0 || tok >= j->n)
        return OTTO_E_NOTFOUND;
    if (TOK(j, tok).type != JSMN_PRIMITIVE)
        return OTTO_E_PROTO;
    uint64_t x = 0;
    int i = TOK(j, tok).start;
    if (i >= TOK(j, tok).end)
        return OTTO_E_PROTO;
    for (; i < TOK(j, tok).end; i++) {
        char c = j->js[i];
        if (c < '0' || c > '9')
            return OTTO_E_PROTO;
        x = x * 10u + (uint64_t)(c - '0');
        if (x > 0xFFFFFFFFu)
            return OTTO_E_PROTO;
    }
    *v = (uint32_t)x;
    return OTTO_OK;
}

int otto_json_hex(const otto_json_t *j, int tok, uint8_t *out, size_t n)
{
    if (tok < 0 || tok >= j->n)
        return OTTO_E_NOTFOUND;
    if (TOK(j, tok).type != JSMN_STRING || (size_t)(TOK(j, tok).end - TOK(j, tok).start) != 2 * n)
        return OTTO_E_PROTO;
    const char *s = j->js + TOK(j, tok).start;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return OTTO_E_PROTO;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return OTTO_OK;
}

/* ---- writing (no printf in the core) ---------------------------------- */

void otto_jw_raw(otto_jw_t *w, const char *s)
{
    for (; *s; s++) {
        if (w->n + 1 >= w->cap) {
            w->over = true;
            break;
        }
        w->b[w->n++] = *s;
    }
    w->b[w->n < w->cap ? w->n : w->cap - 1] = 0;
}

void otto_jw_u32(otto_jw_t *w, uint32_t v)
{
    char t[11];
    int i = 10;
    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    otto_jw_raw(w, t + i);
}

/* A JSON string literal; control characters become spaces. */
void otto_jw_str(otto_jw_t *w, const char *s)
{
    char c[3] = {0, 0, 0};
    otto_jw_raw(w, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            c[0] = '\\';
            c[1] = *s;
        } else {
            c[0] = (unsigned char)*s < 0x20 ? ' ' : *s;
            c[1] = 0;
        }
        otto_jw_raw(w, c);
    }
    otto_jw_raw(w, "\"");
}

void otto_jw_kv(otto_jw_t *w, const char *key, const char *val, bool comma)
{
    if (comma)
        otto_jw_raw(w, ",");
    otto_jw_str(w, key);
    otto_jw_raw(w, ":");
    otto_jw_str(w, val);
}

void otto_jw_kv_u32(otto_jw_t *w, const char *key, uint32_t v, bool comma)
{
    char t[12];
    otto_jw_t n = {t, sizeof t, 0, false};
    otto_jw_u32(&n, v);
    otto_jw_kv(w, key, t, comma); /* statusDetails values are strings */
}

/* ---- base64 (signatures in job documents) ------------------------------- */

static int b64v(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int otto_b64_decode(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in), o = 0;
    if (n == 0 || n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + (size_t)k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64v(c)) < 0) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        for (int k = 0; k < 3 - pad; k++) {
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(w >> (unsigned)(16 - 8 * k));
        }
    }
    return (int)o;
}
