/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The devices whose certificates are revoked: DATA/revoked, one thing name
 * a line, which the broker's plugin (broker/otto_plugin.c) reads to lock
 * them out. ottod appends to it (otto device revoke) and issues such a
 * device no new certificate. The file is rewritten whole and renamed into
 * place with its owner, group and mode kept (the broker's user reads it).
 * Callers hold the server lock.
 */
#ifndef SRV_REVOKED_H
#define SRV_REVOKED_H

#include <stdbool.h>

bool srv_revoked_has(const char *data_dir, const char *thing);
/** 0 (also when it was revoked already) or -1 (logged). */
int srv_revoked_add(const char *data_dir, const char *thing);

#endif
