/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the Authorization header of an operator's request against the
 * admin token and the stored tokens (auth.c). The input is the header. Only
 * "Bearer " (any case) and exactly a live token gets a role, that token's;
 * a revoked or expired token never does; the name is always terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "log.h"
#include "sign.h"
#include "store.h"

#define NOW 2000000000
static srv_store_t *st;
static char admin_hash[65];
static const struct {
    const char *token, *name, *role;
    int64_t expires, revoked;
    srv_role_t want;
} toks[] = {
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ops", "operator", 0, 0, SRV_ROLE_OPERATOR},
    {"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ro", "viewer", NOW + 60, 0, SRV_ROLE_VIEWER},
    {"cccccccccccccccccccccccccccccccc", "gone", "admin", 0, NOW - 1, SRV_ROLE_NONE},
    {"dddddddddddddddddddddddddddddddd", "old", "admin", NOW, 0, SRV_ROLE_NONE},
};
#define ADMIN "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!st) {
        srv_log_set_level(-1);
        if (srv_store_open(":memory:", &st))
            abort();
        srv_token_hash(ADMIN, strlen(ADMIN), admin_hash);
        for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
            srv_token_t t = {.created_at = 1, .expires_at = toks[i].expires};
            strcpy(t.name, toks[i].name);
            strcpy(t.role, toks[i].role);
            srv_token_hash(toks[i].token, strlen(toks[i].token), t.hash);
            if (srv_token_put(st, &t) || (toks[i].revoked && srv_token_revoke(st, t.name, toks[i].revoked)))
                abort();
        }
    }
    char *h = malloc(len + 1), who[SRV_NAME_MAX + 1];
    memcpy(h, data, len);
    h[len] = 0;
    memset(who, 'x', sizeof who);
    srv_role_t r = srv_auth(st, admin_hash, h, NOW, who, sizeof who);
    if (!memchr(who, 0, sizeof who))
        __builtin_trap();
    srv_role_t want = SRV_ROLE_NONE;
    if (strlen(h) >= 7 && !strncasecmp(h, "Bearer ", 7)) {
        if (!strcmp(h + 7, ADMIN))
            want = SRV_ROLE_ADMIN;
        for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
            if (!strcmp(h + 7, toks[i].token))
                want = toks[i].want;
    }
    if (r != want)
        __builtin_trap(); /* a role for the wrong bytes, or none for the right ones */
    free(h);
    return 0;
}
