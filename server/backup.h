/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backup and restore of a whole deployment: one gzip'd tar (libarchive)
 * holding the database (an online, consistent SQLite snapshot: VACUUM
 * INTO), artifacts and delta patches, the CA and its key, ottod's TLS
 * identities, the download-link secret, the admin token, and the
 * configuration ottod init wrote (ottod.conf, mosquitto.conf, acl,
 * revoked, otto.env). Signing keys and operator tokens are in the
 * database. First in the archive: otto-backup.json, the manifest (format,
 * time, the data directory it came from, the schema, counts).
 *
 * The archive is a secret as the CA key is: srv_backup_make writes it
 * with mode 0600 under DATA/tmp and hands back an unlinked descriptor.
 * On PostgreSQL the database is not in it (pg_dump is the tool); the
 * manifest says so.
 */
#ifndef SRV_BACKUP_H
#define SRV_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/** Make a backup of s (the caller holds s->lock; it is released while the
 *  files are copied, after the database snapshot). On OTTO_OK *fd is the
 *  archive (read from offset 0, then closed by the caller), *size its
 *  bytes and summary[cap] the manifest's counts as JSON. */
int srv_backup_make(srv_t *s, int *fd, uint64_t *size, char *summary, size_t cap, char *msg, size_t msglen);

/** `ottod restore FILE --data DIR`: unpack into DIR (new or empty), point
 *  the configuration at DIR, open the store (migrating it when the backup
 *  is older) and say what came back. Exit status. */
int srv_restore_main(int argc, char **argv);

#endif
