/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field-by-field encoding of the records in record.h. All integers are
 * little-endian; a string is a length byte and its bytes (no NUL).
 *
 * Job record, version 1:
 *   u8  0x81                      u8 len, job_id      u32 exec_version
 *       (these three come first in every version: a rollback reads them)
 *   u8  phase result attempts target esp_state mcu_state mcu_tries
 *   entry fw, entry mcu           (the esp32 and the stm32 image)
 *   str from_version etag reason detail
 *   u32 resumes refetched download_ms relay_ms relay_mark
 * Entry: u8 flags (1 has_md5, 2 has_sha256, 0x80 present); when present:
 *   str url version; u32 size secure_version; u16 part_id;
 *   16 bytes md5 when has_md5, 32 bytes sha256 when has_sha256.
 * Relay record, version 1: u8 0x81, u8 phase, u32 next, u32 size.
 *
 * Version 0 (the raw structs) is read by offset, the layout frozen below,
 * whatever the compiler would lay out today.
 */
#include "otto/record.h"

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

enum { F_MD5 = 1, F_SHA = 2, F_PRESENT = 0x80 };

static void put_entry(rec_t *r, const otto_fw_entry_t *e)
{
    uint8_t b[2];
    if (!e->size) {
        put_u8(r, 0);
        return;
    }
    put_u8(r, (uint8_t)(F_PRESENT | (e->has_md5 ? F_MD5 : 0) | (e->has_sha256 ? F_SHA : 0)));
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
}

int otto_job_record_encode(const otto_agent_job_t *j, uint8_t *buf, size_t cap, size_t *len)
{
    rec_t r = {buf, NULL, cap, 0, 0};
    put_u8(&r, 0x80 | OTTO_JOB_RECORD_VERSION);
    put_str(&r, j->job_id);
    put_u32(&r, j->exec_version);
    put(&r, &j->phase, 1);
    put(&r, &j->result, 1);
    put(&r, &j->attempts, 1);
    put(&r, &j->target, 1);
    put(&r, &j->esp_state, 1);
    put(&r, &j->mcu_state, 1);
    put(&r, &j->mcu_tries, 1);
    put_entry(&r, &j->fw);
    put_entry(&r, &j->mcu);
    put_str(&r, j->from_version);
    put_str(&r, j->etag);
    put_str(&r, j->reason);
    put_str(&r, j->detail);
    put_u32(&r, j->resumes);
    put_u32(&r, j->refetched);
    put_u32(&r, j->download_ms);
    put_u32(&r, j->relay_ms);
    put_u32(&r, j->relay_mark);
    *len = r.n;
    return r.err;
}

/* Version 0: otto_agent_job_t as first released, 920 bytes; an entry
 * (otto_fw_entry_t) is 308 bytes at 76 (esp32) and 384 (stm32). */
static void v0_str(const uint8_t *b, size_t at, size_t width, char *dst, size_t cap)
{
    size_t n = 0;
    while (n < width && n + 1 < cap && b[at + n])
        n++;
    memcpy(dst, b + at, n);
    dst[n] = 0;
}

static void v0_entry(const uint8_t *b, otto_fw_entry_t *e)
{
    memset(e, 0, sizeof *e);
    v0_str(b, 0, 16, e->ota_type, sizeof e->ota_type);
    v0_str(b, 16, 200, e->url, sizeof e->url);
    v0_str(b, 216, 32, e->version, sizeof e->version);
    e->size = otto_get_le32(b + 248);
    e->secure_version = otto_get_le32(b + 252);
    e->part_id = otto_get_le16(b + 256);
    memcpy(e->md5, b + 258, 16);
    memcpy(e->sha256, b + 274, 32);
    e->has_md5 = b[306] != 0;
    e->has_sha256 = b[307] != 0;
}

static int decode_v0(const uint8_t *b, otto_agent_job_t *j)
{
    j->phase = b[0];
    j->result = b[1];
    j->attempts = b[2];
    j->target = b[3];
    j->esp_state = b[4];
    j->mcu_state = b[5];
    j->mcu_tries = b[6];
    v0_str(b, 7, 65, j->job_id, sizeof j->job_id);
    j->exec_version = otto_get_le32(b + 72);
    v0_entry(b + 76, &j->fw);
    v0_entry(b + 384, &j->mcu);
    v0_str(b, 692, 32, j->from_version, sizeof j->from_version);
    v0_str(b, 724, 72, j->etag, sizeof j->etag);
    v0_str(b, 796, 24, j->reason, sizeof j->reason);
    v0_str(b, 820, 80, j->detail, sizeof j->detail);
    j->resumes = otto_get_le32(b + 900);
    j->refetched = otto_get_le32(b + 904);
    j->download_ms = otto_get_le32(b + 908);
    j->relay_ms = otto_get_le32(b + 912);
    j->relay_mark = otto_get_le32(b + 916);
    return OTTO_OK;
}

int otto_job_record_decode(const uint8_t *buf, size_t len, otto_agent_job_t *j, unsigned *version)
{
    rec_t r = {NULL, buf, len, 0, 0};
    memset(j, 0, sizeof *j);
    *version = 0;
    if (len == OTTO_JOB_RECORD_V0_LEN && buf[0] < 0x80)
        return decode_v0(buf, j);
    if (len < 1 || buf[0] < 0x80)
        return OTTO_E_CORRUPT;
    *version = buf[0] & 0x7Fu;
    r.n = 1;
    get_str(&r, j->job_id, sizeof j->job_id);
    j->exec_version = get_u32(&r);
    if (r.err)
        return OTTO_E_CORRUPT;
    if (*version > OTTO_JOB_RECORD_VERSION)
        return OTTO_E_VERSION; /* what a newer agent wrote: the prefix only */
    if (*version == 0)
        return OTTO_E_CORRUPT;
    j->phase = get_u8(&r);
    j->result = get_u8(&r);
    j->attempts = get_u8(&r);
    j->target = get_u8(&r);
    j->esp_state = get_u8(&r);
    j->mcu_state = get_u8(&r);
    j->mcu_tries = get_u8(&r);
    get_entry(&r, &j->fw, "esp32");
    get_entry(&r, &j->mcu, "stm32");
    get_str(&r, j->from_version, sizeof j->from_version);
    get_str(&r, j->etag, sizeof j->etag);
    get_str(&r, j->reason, sizeof j->reason);
    get_str(&r, j->detail, sizeof j->detail);
    j->resumes = get_u32(&r);
    j->refetched = get_u32(&r);
    j->download_ms = get_u32(&r);
    j->relay_ms = get_u32(&r);
    j->relay_mark = get_u32(&r);
    return r.err || r.n != len ? OTTO_E_CORRUPT : OTTO_OK;
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
