/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field-by-field encoding of the records in record.h. All integers are
 * little-endian; a string is a length byte and its bytes (no NUL).
 *
 * Job record, version 2 (and 1):
 *   u8  0x82                      u8 len, job_id      u32 exec_version
 *       (these three come first in every version: a rollback reads them)
 *   u8  phase result attempts target esp_state mcu_state mcu_tries
 *   entry fw, entry mcu           (the esp32 and the stm32 image)
 *   str from_version etag reason detail
 *   u32 resumes refetched download_ms relay_ms relay_mark
 * Entry: u8 flags (1 has_md5, 2 has_sha256, 4 signed (version 2), 0x80
 *   present); when present: str url version; u32 size secure_version; u16
 *   part_id; 16 bytes md5 when has_md5, 32 bytes sha256 when has_sha256;
 *   u8 len and the DER signature when signed.
 * Version 2 differs from 1 only by the signed flag and its bytes.
 * Relay record, version 1: u8 0x81, u8 phase, u32 next, u32 size.
 *
 * Version 0 (the raw structs) is read by offset, the layout frozen in
 * job_fields[] (v0, v0w) and v0_entry, whatever the compiler would lay out
 * today. One table lists the job record's fields for every version.
 */
#include "otto/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "internal/util.h"

typedef struct {
    uint8_t *p;
    const uint8_t *in;
    size_t cap, n;
    int err;
} rec_t;

static void put(rec_t *r, const void *v, size_t n)
{
    if (r->err || r->n + n > r->cap) {
        r->err = OTTO_E_NOSPC;
        return;
    }
    memcpy(r->p + r->n, v, n);
    r->n += n;
}

static void put_u8(rec_t *r, uint8_t v) { put(r, &v, 1); }

static void put_u32(rec_t *r, uint32_t v)
{
    uint8_t b[4];
    otto_put_le32(b, v);
    put(r, b, 4);
}

static void put_str(rec_t *r, const char *s)
{
    size_t n = strlen(s);
    put_u8(r, (uint8_t)(n > 255 ? 255 : n));
    put(r, s, n > 255 ? 255 : n);
}

static const uint8_t *get(rec_t *r, size_t n)
{
    if (r->err || r->n + n > r->cap) {
        r->err = OTTO_E_CORRUPT;
        return NULL;
    }
    r->n += n;
    return r->in + r->n - n;
}

static uint8_t get_u8(rec_t *r)
{
    const uint8_t *b = get(r, 1);
    return b ? b[0] : 0;
}

static uint32_t get_u32(rec_t *r)
{
    const uint8_t *b = get(r, 4);
    return b ? otto_get_le32(b) : 0;
}

static void get_str(rec_t *r, char *dst, size_t cap)
{
    size_t n = get_u8(r);
    const uint8_t *b = get(r, n);
    if (!b || n >= cap) {
        r->err = OTTO_E_CORRUPT;
        dst[0] = 0;
        return;
    }
    memcpy(dst, b, n);
    dst[n] = 0;
}

enum { F_MD5 = 1, F_SHA = 2, F_SIG = 4, F_PRESENT = 0x80 };

static void put_entry(rec_t *r, const otto_fw_entry_t *e)
{
    uint8_t b[2];
    if (!e->size) {
        put_u8(r, 0);
        return;
    }
    put_u8(r, (uint8_t)(F_PRESENT | (e->has_md5 ? F_MD5 : 0) | (e->has_sha256 ? F_SHA : 0) | (e->siglen ? F_SIG : 0)));
    put_str(r, e->url);
    put_str(r, e->version);
    put_u32(r, e->size);
    put_u32(r, e->secure_version);
    otto_put_le16(b, e->part_id);
    put(r, b, 2);
    if (e->has_md5)
        put(r, e->md5, 16);
    if (e->has_sha256)
        put(r, e->sha256, 32);
    if (e->siglen) { /* version 2 */
        put_u8(r, e->siglen);
        put(r, e->sig, e->siglen);
    }
}

static void get_entry(rec_t *r, otto_fw_entry_t *e, const char *type)
{
    uint8_t f = get_u8(r);
    const uint8_t *b;
    memset(e, 0, sizeof *e);
    if (!(f & F_PRESENT))
        return;
    memcpy(e->ota_type, type, strlen(type) + 1);
    get_str(r, e->url, sizeof e->url);
    get_str(r, e->version, sizeof e->version);
    e->size = get_u32(r);
    e->secure_version = get_u32(r);
    if ((b = get(r, 2)))
        e->part_id = otto_get_le16(b);
    e->has_md5 = (f & F_MD5) != 0;
    e->has_sha256 = (f & F_SHA) != 0;
    if (e->has_md5 && (b = get(r, 16)))
        memcpy(e->md5, b, 16);
    if (e->has_sha256 && (b = get(r, 32)))
        memcpy(e->sha256, b, 32);
    if (f & F_SIG) { /* version 2 on: the job's signature of this image */
        e->siglen = get_u8(r);
        if (e->siglen > sizeof e->sig || !(b = get(r, e->siglen)))
            r->err = OTTO_E_CORRUPT;
        else
            memcpy(e->sig, b, e->siglen);
    }
}

/* The job record's fields in the order version 1 writes them, with where
 * version 0 kept each (offset, width). One table serves both versions. */
enum { K_U8, K_U32, K_STR, K_ENTRY };
#define FIELD(k, f, v0, w) {k, (uint16_t)offsetof(otto_agent_job_t, f), sizeof(((otto_agent_job_t *)0)->f), v0, w}

static const struct {
    uint8_t kind;
    uint16_t at, size; /* in otto_agent_job_t */
    uint16_t v0, v0w;  /* in the version-0 struct */
} job_fields[] = {
    FIELD(K_STR, job_id, 7, 65), FIELD(K_U32, exec_version, 72, 4), /* the prefix every version keeps */
    FIELD(K_U8, phase, 0, 1),    FIELD(K_U8, result, 1, 1),         FIELD(K_U8, attempts, 2, 1),
    FIELD(K_U8, target, 3, 1),   FIELD(K_U8, esp_state, 4, 1),      FIELD(K_U8, mcu_state, 5, 1),
    FIELD(K_U8, mcu_tries, 6, 1),
    FIELD(K_ENTRY, fw, 76, 308), FIELD(K_ENTRY, mcu, 384, 308),
    FIELD(K_STR, from_version, 692, 32), FIELD(K_STR, etag, 724, 72),
    FIELD(K_STR, reason, 796, 24),       FIELD(K_STR, detail, 820, 80),
    FIELD(K_U32, resumes, 900, 4),       FIELD(K_U32, refetched, 904, 4),
    FIELD(K_U32, download_ms, 908, 4),   FIELD(K_U32, relay_ms, 912, 4),
    FIELD(K_U32, relay_mark, 916, 4),
};
#define PREFIX_FIELDS 2
#define N_FIELDS      (sizeof job_fields / sizeof *job_fields)

int otto_job_record_encode(const otto_agent_job_t *j, uint8_t *buf, size_t cap, size_t *len)
{
    rec_t r = {buf, NULL, cap, 0, 0};
    const uint8_t *base = (const uint8_t *)j;
    put_u8(&r, 0x80 | OTTO_JOB_RECORD_VERSION);
    for (size_t i = 0; i < N_FIELDS; i++) {
        const void *f = base + job_fields[i].at;
        switch (job_fields[i].kind) {
        case K_U8: put(&r, f, 1); break;
        case K_U32: put_u32(&r, *(const uint32_t *)f); break;
        case K_STR: put_str(&r, f); break;
        default: put_entry(&r, f); break;
        }
    }
    *len = r.n;
    return r.err;
}

/* Version 0: a fixed-width, NUL-padded string. */
static void v0_str(const uint8_t *b, size_t width, char *dst, size_t cap)
{
    size_t n = 0;
    while (n < width && n + 1 < cap && b[n])
        n++;
    memcpy(dst, b, n);
    dst[n] = 0;
}

/* A version-0 entry (otto_fw_entry_t as first released, 308 bytes). */
static void v0_entry(const uint8_t *b, otto_fw_entry_t *e)
{
    memset(e, 0, sizeof *e);
    v0_str(b, 16, e->ota_type, sizeof e->ota_type);
    v0_str(b + 16, 200, e->url, sizeof e->url);
    v0_str(b + 216, 32, e->version, sizeof e->version);
    e->size = otto_get_le32(b + 248);
    e->secure_version = otto_get_le32(b + 252);
    e->part_id = otto_get_le16(b + 256);
    memcpy(e->md5, b + 258, 16);
    memcpy(e->sha256, b + 274, 32);
    e->has_md5 = b[306] != 0;
    e->has_sha256 = b[307] != 0;
}

int otto_job_record_decode(const uint8_t *buf, size_t len, otto_agent_job_t *j, unsigned *version)
{
    rec_t r = {NULL, buf, len, 0, 0};
    uint8_t *base = (uint8_t *)j;
    memset(j, 0, sizeof *j);
    *version = 0;
    if (len < 1)
        return OTTO_E_CORRUPT;
    bool v0 = len == OTTO_JOB_RECORD_V0_LEN && buf[0] < 0x80;
    *version = v0 ? 0 : buf[0] & 0x7Fu;
    if (!v0 && (buf[0] < 0x80 || *version == 0))
        return OTTO_E_CORRUPT;
    r.n = 1;
    for (size_t i = 0; i < N_FIELDS; i++) {
        void *f = base + job_fields[i].at;
        const uint8_t *src = buf + job_fields[i].v0;
        if (i == PREFIX_FIELDS && !v0 && *version > OTTO_JOB_RECORD_VERSION)
            return r.err ? OTTO_E_CORRUPT : OTTO_E_VERSION; /* a newer agent's: the prefix only */
        switch (job_fields[i].kind) {
        case K_U8:
            *(uint8_t *)f = v0 ? *src : get_u8(&r);
            break;
        case K_U32:
            *(uint32_t *)f = v0 ? otto_get_le32(src) : get_u32(&r);
            break;
        case K_STR:
            if (v0)
                v0_str(src, job_fields[i].v0w, f, job_fields[i].size);
            else
                get_str(&r, f, job_fields[i].size);
            break;
        default:
            if (v0)
                v0_entry(src, f);
            else
                get_entry(&r, f, job_fields[i].at == offsetof(otto_agent_job_t, fw) ? "esp32" : "stm32");
            break;
        }
    }
    return v0 || (!r.err && r.n == len) ? OTTO_OK : OTTO_E_CORRUPT;
}

int otto_relay_record_encode(const otto_relay_state_t *st, uint8_t *buf, size_t cap, size_t *len)
{
    rec_t r = {buf, NULL, cap, 0, 0};
    put_u8(&r, 0x80 | OTTO_RELAY_RECORD_VERSION);
    put_u8(&r, st->phase);
    put_u32(&r, st->next);
    put_u32(&r, st->size);
    *len = r.n;
    return r.err;
}

int otto_relay_record_decode(const uint8_t *buf, size_t len, otto_relay_state_t *st)
{
    memset(st, 0, sizeof *st);
    if (len == OTTO_RELAY_RECORD_V0_LEN && buf[0] < 0x80) {
        /* Version 0: u8 phase, 3 bytes of padding, u32 next, u32 size. */
        st->phase = buf[0];
        st->next = otto_get_le32(buf + 4);
        st->size = otto_get_le32(buf + 8);
        return OTTO_OK;
    }
    if (len < 1 || buf[0] < 0x80)
        return OTTO_E_CORRUPT;
    if ((buf[0] & 0x7Fu) != OTTO_RELAY_RECORD_VERSION)
        return OTTO_E_VERSION; /* the relay then starts over, from a clean erase */
    if (len != 10)
        return OTTO_E_CORRUPT;
    st->phase = buf[1];
    st->next = otto_get_le32(buf + 2);
    st->size = otto_get_le32(buf + 6);
    return OTTO_OK;
}
