/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The firmware store: content-addressed artifact files plus their records.
 *
 * Artifacts live at DATA/artifacts/<first 2 hex>/<sha256>; an upload is
 * streamed into DATA/tmp while MD5 and SHA-256 are computed, checked against
 * its descriptor (and, for ota_type esp32, against the app image format with
 * the device core's own checker), then renamed into place. A firmware id is
 * "fw-" + the first 12 hex digits of its SHA-256, so uploading the same bytes
 * with the same descriptor again is idempotent.
 */
#ifndef SRV_FIRMWARE_H
#define SRV_FIRMWARE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "otto/crypto.h"
#include "store.h"

/* An upload in progress: the temp file and running hashes. */
typedef struct {
    char tmp_path[512];
    int fd;
    uint64_t size;
    otto_sha256_t sha;
    otto_md5_t md5;
    bool disk_full;       /* a write met ENOSPC or EDQUOT: say so, not "I/O error" */
} srv_upload_t;

/** Bytes an upload of len may take in dir while leaving room for the
 *  store (10 % of the filesystem, at most 64 MiB): true when it fits;
 *  *avail is what is free. */
bool srv_disk_room(const char *dir, uint64_t len, uint64_t *avail);

int srv_upload_begin(srv_upload_t *u, const char *data_dir);
int srv_upload_write(srv_upload_t *u, const void *data, size_t len);
/** Drop an upload that will not be ingested. */
void srv_upload_abort(srv_upload_t *u);

/** Check the descriptor against the uploaded bytes, move them into the
 *  artifact store and record the firmware. On success *created tells a new
 *  record from an identical earlier upload. Errors: OTTO_E_INVAL,
 *  OTTO_E_VERIFY (hash/size mismatch), OTTO_E_CORRUPT/OTTO_E_CHIP (bad
 *  esp32 image), OTTO_E_EXISTS (same bytes, other descriptor), with msg.
 *  A signature (sig, or "sig-sha256-ecdsa" in the descriptor's entry) must
 *  verify with a trusted key (OTTO_E_DENIED otherwise); it then travels in
 *  job documents as "sig-sha256-ecdsa". */
int srv_firmware_ingest(srv_store_t *st, const char *data_dir, srv_upload_t *u,
                        const char *name, const char *descriptor, const uint8_t *sig, size_t siglen,
                        srv_fw_t *out, bool *created, char *msg, size_t msglen);

/** Path of an artifact; 0 or -1 if it does not fit. */
int srv_artifact_path(const char *data_dir, const char *sha256, char *buf, size_t cap);

/** Make sure the file at path (an artifact or a patch, kept in a shared
 *  store as name, store.h's srv_blob_*) is on this worker's disk: fetched
 *  from the store when another worker received it. Takes lock around the
 *  store. 0, or OTTO_E_NOTFOUND / OTTO_E_IO. */
int srv_shared_file(srv_store_t *st, pthread_mutex_t *lock, const char *path, const char *name);

/** Delete a firmware record and its file.
 *  OTTO_E_STATE with msg when an unfinished job uses it. */
int srv_firmware_delete(srv_store_t *st, const char *data_dir, const char *id, char *msg,
                        size_t msglen);

#endif
