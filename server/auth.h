/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who an operator's request is, from its Authorization header: the admin
 * token (DATA/admin.token, known here only by its SHA-256) or a token made
 * with `otto token create` (looked up by its SHA-256, never kept in clear),
 * unexpired and unrevoked. Hashes are compared in constant time.
 * Roles are ordered: what a viewer may, an operator may, and an admin.
 * No allocation; the store is the caller's (and so is its lock).
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef enum { SRV_ROLE_NONE = 0, SRV_ROLE_VIEWER, SRV_ROLE_OPERATOR, SRV_ROLE_ADMIN } srv_role_t;

/** "viewer", "operator", "admin" ("" for none). */
const char *srv_role_name(srv_role_t r);
/** The role a name gives, SRV_ROLE_NONE for anything else. */
srv_role_t srv_role_of(const char *name);

/** The role of the bearer of header ("Bearer TOKEN"; NULL: none) at now,
 *  with the token's name in who (cap bytes, "admin" for the admin token);
 *  SRV_ROLE_NONE when there is no valid token. */
srv_role_t srv_auth(srv_store_t *st, const char admin_hash[65], const char *header, int64_t now, char *who,
                    size_t cap);

#endif
