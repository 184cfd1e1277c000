/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Download links that expire and name their device, as AWS's presigned S3
 * URLs do: each firmware url in a job document is minted for the thing
 * that asks, when it asks:
 *   BASE/fw/ID?thing=THING&expires=UNIX&sig=HEX
 * sig is the first 16 bytes of HMAC-SHA256(secret, "ID\nTHING\nUNIX"),
 * the secret 32 random bytes in DATA/links.key (made on first start, 0600).
 * Checking is constant-time; the reason for a refusal is a sentence.
 */
#ifndef SRV_LINKS_H
#define SRV_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool on;
    uint8_t secret[32];
    int ttl_s;
} srv_links_t;

/** Load DATA/links.key, or make it. 0 or -1 (logged). */
int srv_links_open(srv_links_t *l, const char *data_dir, int ttl_s);
/** url + the query for (fw_id, thing) valid until now + ttl, into out. */
int srv_links_mint(const srv_links_t *l, const char *url, const char *fw_id, const char *thing, int64_t now,
                   char *out, size_t cap);
/** 0 when the query (thing, expires, sig) is a live link for fw_id;
 *  otherwise -1 and why in msg. */
int srv_links_check(const srv_links_t *l, const char *fw_id, const char *thing, const char *expires,
                    const char *sig, int64_t now, char *msg, size_t cap);

#endif
