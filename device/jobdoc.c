/* SPDX-License-Identifier: Apache-2.0 */
#include "otto/jobdoc.h"

#include <string.h>

#include "internal/json.h"
#include "otto/err.h"
#include "otto/trust.h"

static int opt_str(const otto_json_t *j, int obj, const char *key, char *out, size_t cap)
{
    int t = otto_json_get(j, obj, key);
    out[0] = 0;
    return t < 0 ? OTTO_OK : otto_json_str(j, t, out, cap);
}

/* "0x410": an STM32 product id (12 bits), as Get ID and stm32flash show it. */
static int part_id(const otto_json_t *j, int t, uint16_t *id)
{
    char s[8];
    unsigned v = 0;
    if (otto_json_str(j, t, s, sizeof s) || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2] || strlen(s) > 5)
        return OTTO_E_PROTO;
    for (const char *c = s + 2; *c; c++) {
        int d = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
              : *c >= 'A' && *c <= 'F' ? *c - 'A' + 10 : -1;
        if (d < 0)
            return OTTO_E_PROTO;
        v = v * 16u + (unsigned)d;
    }
    if (!v)
        return OTTO_E_PROTO;
    *id = (uint16_t)v;
    return OTTO_OK;
}

/* Base64 field `key` of object e decoded into out[cap]: the byte count, or
 * OTTO_E_PROTO (missing, not base64, longer than cap). */
static int b64_field(const otto_json_t *j, int e, const char *key, uint8_t *out, size_t cap)
{
    char b64[4 * ((OTTO_JOBDOC_SIG_MAX + 2) / 3) + 1]; /* the longest: a key is 65 bytes */
    int n, err = otto_json_str(j, otto_json_get(j, e, key), b64, sizeof b64);
    if (err)
        return err == OTTO_E_NOTFOUND ? OTTO_E_PROTO : err;
    n = otto_b64_decode(b64, out, cap);
    return n > 0 ? n : OTTO_E_PROTO;
}

static int read_entry(const otto_json_t *j, int e, otto_fw_entry_t *f)
{
    int err, t;
    memset(f, 0, sizeof *f);
    if (!otto_json_is_object(j, e))
        return OTTO_E_PROTO;
    if ((err = opt_str(j, e, "ota_type", f->ota_type, sizeof f->ota_type)) ||
        (err = otto_json_str(j, otto_json_get(j, e, "url"), f->url, sizeof f->url)) ||
        (err = opt_str(j, e, "version", f->version, sizeof f->version)) ||
        (err = otto_json_u32(j, otto_json_get(j, e, "size"), &f->size)))
        return err == OTTO_E_NOTFOUND ? OTTO_E_PROTO : err;
    if (!f->url[0])
        return OTTO_E_PROTO; /* nothing to download from */
    if (!f->ota_type[0])
        strcpy(f->ota_type, "esp32"); /* the seed's default */
    if ((t = otto_json_get(j, e, "md5")) >= 0) {
        if ((err = otto_json_hex(j, t, f->md5, sizeof f->md5)))
            return err;
        f->has_md5 = true;
    }
    if ((t = otto_json_get(j, e, "sha256")) >= 0) {
        if ((err = otto_json_hex(j, t, f->sha256, sizeof f->sha256)))
            return err;
        f->has_sha256 = true;
    }
    if (otto_json_get(j, e, "sig-sha256-ecdsa") >= 0) {
        int n = b64_field(j, e, "sig-sha256-ecdsa", f->sig, sizeof f->sig);
        if (n < 0)
            return n;
        f->siglen = (uint8_t)n;
    }
    if ((t = otto_json_get(j, e, "secure_version")) >= 0 &&
        (err = otto_json_u32(j, t, &f->secure_version)))
        return err;
    if ((t = otto_json_get(j, e, "part_id")) >= 0 && (err = part_id(j, t, &f->part_id)))
        return err;
    if ((t = otto_json_get(j, e, "delta")) >= 0) { /* a patch from one base: take it whole, or not at all */
        otto_delta_ref_t *d = &f->delta;
        if (!otto_json_is_object(j, t) || otto_json_str(j, otto_json_get(j, t, "url"), d->url, sizeof d->url) ||
            otto_json_u32(j, otto_json_get(j, t, "size"), &d->size) ||
            otto_json_hex(j, otto_json_get(j, t, "base_sha256"), d->base_sha256, sizeof d->base_sha256) ||
            !d->url[0])
            memset(d, 0, sizeof *d);
    }
    if (!f->has_md5 && !f->has_sha256)
        return OTTO_E_PROTO; /* nothing to check the download against */
    return f->size ? OTTO_OK : OTTO_E_PROTO;
}

static int read_key_update(const otto_json_t *j, int e, otto_key_update_t *u)
{
    int n;
    memset(u, 0, sizeof *u);
    int op = otto_json_get(j, e, "op");
    if (!otto_json_is_object(j, e) || op < 0)
        return OTTO_E_PROTO;
    u->op = otto_json_eq(j, op, "add") ? OTTO_KEY_ADD : otto_json_eq(j, op, "revoke") ? OTTO_KEY_REVOKE : 0;
    if (!u->op || (n = b64_field(j, e, "key", u->key, sizeof u->key)) != OTTO_KEY_LEN || u->key[0] != 0x04)
        return OTTO_E_PROTO;
    if ((n = b64_field(j, e, "sig-sha256-ecdsa", u->sig, sizeof u->sig)) < 0)
        return n;
    u->siglen = (uint8_t)n;
    return OTTO_OK;
}

int otto_jobdoc_read(const otto_json_t *j, int obj, otto_jobdoc_t *doc)
{
    int n, err;
    memset(doc, 0, sizeof *doc);
    if (!otto_json_is_object(j, obj))
        return OTTO_E_PROTO;
    if ((err = opt_str(j, obj, "product", doc->product, sizeof doc->product)))
        return err;
    int arr = otto_json_get(j, obj, "firmware");
    if (!otto_json_is_array(j, arr, &n) || n == 0)
        return OTTO_E_PROTO;
    if (n > OTTO_CONFIG_JOB_FW_MAX)
        return OTTO_E_NOSPC;
    for (int i = 0, e = arr + 1; i < n; i++, e = otto_json_skip(j, e)) {
        if ((err = read_entry(j, e, &doc->fw[i])))
            return err;
        doc->count++;
    }
    if ((arr = otto_json_get(j, obj, "keyUpdates")) < 0)
        return OTTO_OK;
    if (!otto_json_is_array(j, arr, &n))
        return OTTO_E_PROTO;
    if (n > OTTO_JOBDOC_KEYUPD_MAX)
        return OTTO_E_NOSPC;
    for (int i = 0, e = arr + 1; i < n; i++, e = otto_json_skip(j, e)) {
        if ((err = read_key_update(j, e, &doc->keyupd[i])))
            return err;
        doc->nkeyupd++;
    }
    return OTTO_OK;
}

int otto_jobdoc_parse(const char *json, size_t len, otto_json_tok_t *tokens, unsigned ntokens,
                      otto_jobdoc_t *doc)
{
    otto_json_t j;
    int err;
    if (!json || !tokens || !doc)
        return OTTO_E_INVAL;
    if ((err = otto_json_parse(&j, json, len, tokens, ntokens)))
        return err;
    return otto_jobdoc_read(&j, 0, doc);
}

const otto_fw_entry_t *otto_jobdoc_find(const otto_jobdoc_t *doc, const char *ota_type)
{
    for (unsigned i = 0; i < doc->count; i++)
        if (!strcmp(doc->fw[i].ota_type, ota_type))
            return &doc->fw[i];
    return NULL;
}

int otto_version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        uint32_t x = 0, y = 0;
        bool nx = *a >= '0' && *a <= '9', ny = *b >= '0' && *b <= '9';
        if (!nx || !ny)
            return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
        while (*a >= '0' && *a <= '9')
            x = x * 10u + (uint32_t)(*a++ - '0');
        while (*b >= '0' && *b <= '9')
            y = y * 10u + (uint32_t)(*b++ - '0');
        if (x != y)
            return x < y ? -1 : 1;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
    return 0;
}
