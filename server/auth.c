/* SPDX-License-Identifier: Apache-2.0 */
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sign.h"

#define TOKEN_MIN 16  /* shorter is not a token otto made */
#define TOKEN_MAX 256 /* longer is not worth hashing */

static const char *const names[] = {"", "viewer", "operator", "admin"};

const char *srv_role_name(srv_role_t r)
{
    return r >= SRV_ROLE_VIEWER && r <= SRV_ROLE_ADMIN ? names[r] : "";
}

srv_role_t srv_role_of(const char *name)
{
    for (int i = SRV_ROLE_VIEWER; i <= SRV_ROLE_ADMIN; i++)
        if (name && !strcmp(name, names[i]))
            return (srv_role_t)i;
    return SRV_ROLE_NONE;
}

srv_role_t srv_auth(srv_store_t *st, const char admin_hash[65], const char *header, int64_t now, char *who,
                    size_t cap)
{
    char hex[65];
    if (cap)
        who[0] = 0;
    if (!header || strncasecmp(header, "Bearer ", 7))
        return SRV_ROLE_NONE;
    header += 7;
    size_t n = strnlen(header, TOKEN_MAX + 1);
    if (n < TOKEN_MIN || n > TOKEN_MAX)
        return SRV_ROLE_NONE;
    srv_token_hash(header, n, hex);
    if (admin_hash[0] && !CRYPTO_memcmp(hex, admin_hash, 64)) {
        snprintf(who, cap, "admin");
        return SRV_ROLE_ADMIN;
    }
    srv_token_t t;
    if (srv_token_by_hash(st, hex, &t) || CRYPTO_memcmp(t.hash, hex, 64) || t.revoked_at ||
        (t.expires_at && t.expires_at <= now))
        return SRV_ROLE_NONE;
    srv_role_t r = srv_role_of(t.role);
    if (r != SRV_ROLE_NONE)
        snprintf(who, cap, "%s", t.name);
    return r;
}
