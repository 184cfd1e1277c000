/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job document ottod sends (docs/api.md, "Jobs"): the firmware
 * descriptor with one entry per ota_type.
 *
 *   {"product": "lamp", "group": "",
 *    "firmware": [{"ota_type": "esp32", "url": "http://.../fw/ID", "size": N,
 *                  "md5": "32 hex", "sha256": "64 hex", "version": "1.1.0",
 *                  "secure_version": 1, ...},
 *                 {"ota_type": "stm32", ..., "part_id": "0x410"}]}
 *
 * Parsed into fixed buffers (no malloc); unknown fields are ignored, fields
 * otto needs are checked (url, size; md5 or sha256). tokens[] is the
 * caller's scratch (OTTO_JOBDOC_TOKENS of them suffice for ottod's
 * documents). Errors: OTTO_E_PROTO (malformed, or a field of the wrong
 * type), OTTO_E_NOSPC (a field too long, too many entries or tokens).
 */
#ifndef OTTO_JOBDOC_H
#define OTTO_JOBDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "otto/config_defaults.h"
#include "otto/json_tok.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OTTO_CONFIG_URL_MAX
#define OTTO_CONFIG_URL_MAX 256 /* room for a signed, expiring download link */
#endif
#ifndef OTTO_CONFIG_JOB_FW_MAX
#define OTTO_CONFIG_JOB_FW_MAX 2 /* e.g. the module's esp32 image and the MCU's */
#endif
#define OTTO_JOBDOC_TOKENS 112
#define OTTO_JOBDOC_SIG_MAX 72 /* DER ECDSA P-256, at most */

/** "delta": {"url", "size", "base_sha256"}: a patch (delta.h) that makes
 *  the entry's image from the image whose SHA-256 is base_sha256. */
typedef struct {
    char url[OTTO_CONFIG_URL_MAX];
    uint32_t size;         /**< 0: none */
    uint8_t base_sha256[32];
} otto_delta_ref_t;

typedef struct {
    char ota_type[16];
    char url[OTTO_CONFIG_URL_MAX];
    char version[32];
    uint32_t size;
    uint32_t secure_version;
    uint16_t part_id;      /**< stm32: the MCU it is built for ("part_id": "0x410"), 0: any */
    uint8_t md5[16];
    uint8_t sha256[32];
    bool has_md5, has_sha256;
    uint8_t siglen;        /**< "sig-sha256-ecdsa": DER ECDSA over the SHA-256, 0: none */
    uint8_t sig[OTTO_JOBDOC_SIG_MAX];
    otto_delta_ref_t delta;/**< not kept in the job record: every copy of the document brings it */
} otto_fw_entry_t;

/** "keyUpdates": [{"op": "add"|"revoke", "key": base64 of the 65-byte
 *  P-256 point, "sig-sha256-ecdsa": base64 DER over the statement trust.h
 *  defines}], at most OTTO_JOBDOC_KEYUPD_MAX, applied before any firmware. */
#define OTTO_JOBDOC_KEYUPD_MAX 2
typedef struct {
    uint8_t op;            /**< OTTO_KEY_ADD or OTTO_KEY_REVOKE */
    uint8_t key[65];
    uint8_t siglen;
    uint8_t sig[OTTO_JOBDOC_SIG_MAX];
} otto_key_update_t;

typedef struct otto_jobdoc_s {
    char product[33];
    otto_fw_entry_t fw[OTTO_CONFIG_JOB_FW_MAX];
    uint8_t count;
    otto_key_update_t keyupd[OTTO_JOBDOC_KEYUPD_MAX];
    uint8_t nkeyupd;
} otto_jobdoc_t;

/** Parse a whole job document (an object). */
/** Compare two versions as a device judges "outdated": runs of digits as
 *  numbers, a '.' after each skipped ("1.10.0" > "1.9.2"); from the first
 *  place either is not a digit, as text. <0, 0 or >0. Tools that must
 *  produce a version devices take as newer (otto fw recall) use this. */
int otto_version_cmp(const char *a, const char *b);

int otto_jobdoc_parse(const char *json, size_t len, otto_json_tok_t *tokens, unsigned ntokens,
                      otto_jobdoc_t *doc);

/** The entry for ota_type, or NULL. */
const otto_fw_entry_t *otto_jobdoc_find(const otto_jobdoc_t *doc, const char *ota_type);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_JOBDOC_H */
