/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "firmware.h"

#include <cjson/cJSON.h>
#include "clock.h"
#include "otto/mcu.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "engine.h"
#include "jsonin.h"
#include "sign.h"
#include "log.h"
#include "otto/image.h"
#include "otto/sbv2.h"

#define MAX_FW_SIZE (64u << 20)

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

int srv_artifact_path(const char *dir, const char *sha, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/artifacts/%.2s/%s", dir, sha, sha);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int srv_shared_file(srv_store_t *st, pthread_mutex_t *lock, const char *path, const char *name)
{
    if (access(path, R_OK) == 0)
        return OTTO_OK;
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (mkdir(dir, 0755) && errno != EEXIST)
            return OTTO_E_IO;
    }
    pthread_mutex_lock(lock);
    /* again under the lock: another thread may have fetched it meanwhile */
    int err = access(path, R_OK) == 0 ? OTTO_OK : srv_blob_fetch(st, name, path);
    pthread_mutex_unlock(lock);
    if (!err)
        SRV_LOG_INF("fetched %s from the shared store", name);
    return err;
}

bool srv_disk_room(const char *dir, uint64_t len, uint64_t *avail)
{
    struct statvfs v;
    if (statvfs(dir, &v)) {
        *avail = 0;
        return true; /* cannot tell: the writes will */
    }
    uint64_t total = (uint64_t)v.f_blocks * v.f_frsize, reserve = total / 10;
    *avail = (uint64_t)v.f_bavail * v.f_frsize;
    if (reserve > 64ull << 20)
        reserve = 64ull << 20;
    return *avail >= reserve && *avail - reserve >= len;
}

int srv_upload_begin(srv_upload_t *u, const char *dir)
{
    memset(u, 0, sizeof *u);
    snprintf(u->tmp_path, sizeof u->tmp_path, "%s/tmp/upload-XXXXXX", dir);
    if ((u->fd = mkstemp(u->tmp_path)) < 0) {
        u->disk_full = errno == ENOSPC || errno == EDQUOT;
        SRV_LOG_ERR("upload: cannot create %s: %s", u->tmp_path, strerror(errno));
        return OTTO_E_IO;
    }
    otto_sha256_start(&u->sha);
    otto_md5_start(&u->md5);
    return OTTO_OK;
}

int srv_upload_write(srv_upload_t *u, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (u->size + len > MAX_FW_SIZE)
        return OTTO_E_NOSPC;
    otto_sha256_update(&u->sha, data, len);
    otto_md5_update(&u->md5, data, len);
    u->size += len;
    while (len) {
        ssize_t w = write(u->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            u->disk_full = errno == ENOSPC || errno == EDQUOT;
            SRV_LOG_ERR("upload: write %s: %s", u->tmp_path, strerror(errno));
            return OTTO_E_IO;
        }
        p += w;
        len -= (size_t)w;
    }
    return OTTO_OK;
}

void srv_upload_abort(srv_upload_t *u)
{
    if (u->fd >= 0) {
        close(u->fd);
        unlink(u->tmp_path);
    }
    u->fd = -1;
}

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int bad(char *msg, size_t len, int err, const char *fmt, const char *a)
{
    snprintf(msg, len, fmt, a);
    return err;
}

/* Pick the descriptor's firmware entry for this file: the only one, or the
 * one whose md5/sha256 names it. */
static cJSON *pick_entry(cJSON *arr, const char *md5, const char *sha, char *msg, size_t len)
{
    cJSON *e, *found = NULL;
    int n = cJSON_GetArraySize(arr);
    if (n == 1)
        return cJSON_GetArrayItem(arr, 0);
    cJSON_ArrayForEach(e, arr) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "md5");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "sha256");
        if ((cJSON_IsString(m) && !strcasecmp(m->valuestring, md5)) ||
            (cJSON_IsString(s) && !strcasecmp(s->valuestring, sha)))
            found = e;
    }
    if (!found)
        snprintf(msg, len, "the descriptor lists %d firmware entries and none has this file's md5 %s",
                 n, md5);
    return found;
}

/* The device core reads through otto_flash_t: one over the uploaded file. */
static int fd_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    return pread(*(int *)ctx, buf, len, off) == (ssize_t)len ? OTTO_OK : OTTO_E_IO;
}

/* Bytes after an image must be a Secure Boot v2 sector signing it, as a
 * device's esp_ota_end would insist; whose key signed it is each device's
 * eFuse's business, not the server's. */
static int sbv2_sector(int fd, uint32_t ilen, uint64_t size)
{
    otto_flash_t f = {&fd, fd_read, NULL, NULL, (uint32_t)size, 4096, 1};
    if (size % OTTO_SBV2_SECTOR || size < OTTO_SBV2_SECTOR ||
        !otto_sbv2_place_ok(ilen, (uint32_t)size - OTTO_SBV2_SECTOR))
        return OTTO_E_CORRUPT;
    return otto_sbv2_check(&f, 0, (uint32_t)size - OTTO_SBV2_SECTOR, NULL, NULL);
}

/* Run the device core's image checker over the whole file. */
static int check_esp32(const char *path, uint64_t size, otto_image_info_t *info, char *msg,
                       size_t len)
{
    static otto_image_check_t zero;
    otto_image_check_t *c = malloc(sizeof *c);
    uint8_t buf[16384];
    int err, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!c || fd < 0) {
        free(c);
        if (fd >= 0)
            close(fd);
        return OTTO_E_IO;
    }
    *c = zero;
    err = otto_image_check_init(c, OTTO_CHIP_ANY, 0, (uint32_t)size);
    for (ssize_t r; !err && (r = read(fd, buf, sizeof buf)) > 0;)
        err = otto_image_check_feed(c, buf, (size_t)r);
    if (!err)
        err = otto_image_check_finish(c);
    if (err)
        snprintf(msg, len, "not a valid ESP32 app image: %s", otto_strerror(err));
    else if (c->trailing && (err = sbv2_sector(fd, c->info.length, size)))
        snprintf(msg, len, "the %u bytes after the %u-byte image are not a Secure Boot v2 signature sector "
                 "that signs it (otto image info shows why); no device would install it",
                 c->trailing, c->info.length);
    else
        *info = c->info;
    close(fd);
    free(c);
    return err;
}

/* MCU firmware is relayed byte for byte to address 0 of the MCU's flash, so
 * it must be a raw binary. The usual mistake is the build's other output:
 * refuse those with what to do instead. */
/* "part_id": "0x410", a part otto knows; rewritten in lower case. NULL
 * when the entry has none. */
static int stm32_part(cJSON *entry, const otto_mcu_part_t **part, char *msg, size_t len)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "part_id");
    char *end = NULL, norm[8];
    *part = NULL;
    if (!v)
        return OTTO_OK;
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    unsigned long id = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char)s[2]))
                           ? strtoul(s + 2, &end, 16) : 0;
    if (!end || *end || id > 0xFFF || !(*part = otto_mcu_part((uint16_t)id))) {
        snprintf(msg, len, "descriptor: part_id must name an STM32 part otto knows, as Get ID says it "
                 "(e.g. \"0x410\" for an F103 medium density)");
        return OTTO_E_INVAL;
    }
    snprintf(norm, sizeof norm, "0x%03lx", id);
    cJSON_SetValuestring(v, norm);
    return OTTO_OK;
}

/* An MCU image: a raw binary (not the ELF, HEX or S-record a build also
 * makes), and an application for the start of the part's flash, which is
 * where the agent relays it: refused here once rather than on every
 * device. */
static int check_stm32(const char *path, uint64_t size, const otto_mcu_part_t *part, char *msg, size_t len)
{
    uint8_t b[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return bad(msg, len, OTTO_E_IO, "could not read the upload back%s", "");
    const char *kind = NULL;
    if (n >= 4 && !memcmp(b, "\x7f" "ELF", 4))
        kind = "an ELF file";
    else if (n >= 9 && b[0] == ':' && isxdigit(b[1]) && isxdigit(b[2]) && isxdigit(b[7]) && isxdigit(b[8]))
        kind = "an Intel HEX file";
    else if (n >= 4 && b[0] == 'S' && b[1] >= '0' && b[1] <= '3' && isxdigit(b[2]) && isxdigit(b[3]))
        kind = "a Motorola S-record file";
    if (kind) {
        snprintf(msg, len, "stm32 firmware must be a raw binary, and this is %s: "
                 "convert it with arm-none-eabi-objcopy -O binary", kind);
        return OTTO_E_INVAL;
    }
    const char *why = NULL;
    if (size > UINT32_MAX || otto_mcu_check_app(part, b, (uint32_t)size, &why)) {
        snprintf(msg, len, "stm32 firmware: %s", why ? why : "too large");
        return OTTO_E_INVAL;
    }
    return OTTO_OK;
}

int srv_firmware_ingest(srv_store_t *st, const char *dir, srv_upload_t *u, const char *name,
                        const char *descriptor, const uint8_t *sig, size_t siglen, srv_fw_t *fw, bool *created,
                        char *msg, size_t msglen)
{
    uint8_t sha[32], md5[16];
    char path[600];
    cJSON *desc = NULL, *entry, *extra = NULL;
    const cJSON *v;
    int err = OTTO_OK;

    *created = false;
    memset(fw, 0, sizeof *fw);
    otto_sha256_finish(&u->sha, sha);
    otto_md5_finish(&u->md5, md5);
    hex(sha, 32, fw->sha256);
    hex(md5, 16, fw->md5);
    fw->size = (int64_t)u->size;
    snprintf(fw->id, sizeof fw->id, "fw-%.12s", fw->sha256);
    snprintf(fw->name, sizeof fw->name, "%s", name && *name ? name : "firmware.bin");
    fw->created_at = srv_now();
    if (fsync(u->fd) != 0 || close(u->fd) != 0) {
        u->fd = -1;
        u->disk_full = errno == ENOSPC || errno == EDQUOT;
        err = bad(msg, msglen, OTTO_E_IO, "could not store the upload%s",
                  u->disk_full ? ": the data directory's disk is full" : "");
        goto out;
    }
    u->fd = -1;
    if (u->size == 0) {
        err = bad(msg, msglen, OTTO_E_INVAL, "the firmware file is empty%s", "");
        goto out;
    }

    /* The descriptor: {"product", "group", "firmware": [{ota_type, md5, ...}]} */
    desc = descriptor ? srv_json_object(descriptor, strlen(descriptor)) : NULL;
    if (!cJSON_IsObject(desc)) {
        err = bad(msg, msglen, OTTO_E_INVAL, "the descriptor is not a JSON object%s", "");
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(desc, "product");
    if (!cJSON_IsString(v) || !srv_valid_name(v->valuestring)) {
        err = bad(msg, msglen, OTTO_E_INVAL,
                  "descriptor: \"product\" must be 1-64 of letters, digits, '.', '_', '-'%s", "");
        goto out;
    }
    snprintf(fw->product, sizeof fw->product, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(desc, "group");
    if (v && (!cJSON_IsString(v) || (*v->valuestring && !srv_valid_name(v->valuestring)))) {
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"group\" must be a name%s", "");
        goto out;
    }
    snprintf(fw->group, sizeof fw->group, "%s", v ? v->valuestring : "");
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(desc, "firmware");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"firmware\" must be a non-empty array%s", "");
        goto out;
    }
    if (!(entry = pick_entry(arr, fw->md5, fw->sha256, msg, msglen)) || !cJSON_IsObject(entry)) {
        err = OTTO_E_INVAL;
        if (entry)
            snprintf(msg, msglen, "descriptor: firmware entries must be objects");
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(entry, "ota_type");
    if (!cJSON_IsString(v) || !srv_valid_name(v->valuestring)) {
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"ota_type\" is required (esp32, stm32)%s", "");
        goto out;
    }
    snprintf(fw->ota_type, sizeof fw->ota_type, "%s", v->valuestring);

    /* Given hashes and size must match what arrived. */
    v = cJSON_GetObjectItemCaseSensitive(entry, "md5");
    if (v && (!cJSON_IsString(v) || !is_hex(v->valuestring, 32) || strcasecmp(v->valuestring, fw->md5))) {
        snprintf(msg, msglen, "md5 mismatch: descriptor says %.40s, the file is %s",
                 cJSON_IsString(v) ? v->valuestring : "(not a string)", fw->md5);
        err = OTTO_E_VERIFY;
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(entry, "sha256");
    if (v && (!cJSON_IsString(v) || !is_hex(v->valuestring, 64) || strcasecmp(v->valuestring, fw->sha256))) {
        snprintf(msg, msglen, "sha256 mismatch: the file is %s", fw->sha256);
        err = OTTO_E_VERIFY;
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(entry, "size");
    if (v && !cJSON_IsNumber(v)) {
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"size\" must be a number%s", "");
        goto out;
    }
    if (v && v->valuedouble != (double)fw->size) {
        snprintf(msg, msglen, "size mismatch: the file has %lld bytes", (long long)fw->size);
        err = OTTO_E_VERIFY;
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(entry, "version");
    if (v && (!cJSON_IsString(v) || strlen(v->valuestring) > 32)) {
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"version\" must be a string of at most 32%s", "");
        goto out;
    }
    snprintf(fw->version, sizeof fw->version, "%s", v ? v->valuestring : "");

    if (!strcmp(fw->ota_type, "esp32")) {
        otto_image_info_t info;
        if ((err = check_esp32(u->tmp_path, u->size, &info, msg, msglen)))
            goto out;
        if (fw->version[0] && strcmp(fw->version, info.desc.version)) {
            snprintf(msg, msglen, "version mismatch: descriptor says %s, the image is %s",
                     fw->version, info.desc.version);
            err = OTTO_E_VERIFY;
            goto out;
        }
        snprintf(fw->version, sizeof fw->version, "%s", info.desc.version);
        snprintf(fw->project, sizeof fw->project, "%s", info.desc.project);
        fw->secure_version = info.desc.secure_version;
    }

    const otto_mcu_part_t *part = NULL;
    if (!strcmp(fw->ota_type, "stm32") &&
        ((err = stm32_part(entry, &part, msg, msglen)) ||
         (err = check_stm32(u->tmp_path, (uint64_t)fw->size, part, msg, msglen))))
        goto out;

    /* Whatever else the entry says travels into job documents unchanged. */
    extra = cJSON_Duplicate(entry, true);
    static const char *const known[] = {"ota_type", "url", "md5", "sha256", "size", "version", "sig-sha256-ecdsa"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(extra, known[i]);

    /* The signature, from its own part or the entry AWS's way: it must
     * verify with a key the server trusts, or the upload is refused. */
    uint8_t dsig[SRV_SIG_MAX];
    v = cJSON_GetObjectItemCaseSensitive(entry, "sig-sha256-ecdsa");
    if (!siglen && v) {
        int n = cJSON_IsString(v) ? srv_unbase64(v->valuestring, dsig, sizeof dsig) : -1;
        if (n <= 0) {
            err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: \"sig-sha256-ecdsa\" must be base64 DER%s", "");
            goto out;
        }
        sig = dsig;
        siglen = (size_t)n;
    }
    if (siglen) {
        char signer[SRV_NAME_MAX + 1], b64[4 * ((SRV_SIG_MAX + 2) / 3) + 1];
        if (siglen > SRV_SIG_MAX || srv_sig_check(st, sha, sig, siglen, signer, sizeof signer)) {
            err = bad(msg, msglen, OTTO_E_DENIED,
                      "the signature does not verify with any trusted key (otto key list; otto key trust PUB.pem)%s", "");
            goto out;
        }
        srv_base64(sig, siglen, b64, sizeof b64);
        cJSON_AddStringToObject(extra, "sig-sha256-ecdsa", b64);
        SRV_LOG_INF("firmware %s: signature verified with key %s", fw->id, signer);
    }
    char *et = cJSON_PrintUnformatted(extra);
    if (!et || strlen(et) >= sizeof fw->extra) {
        free(et);
        err = bad(msg, msglen, OTTO_E_INVAL, "descriptor: the firmware entry is too large%s", "");
        goto out;
    }
    strcpy(fw->extra, et);
    free(et);

    /* Same bytes again: fine if it says the same thing. */
    srv_fw_t old;
    if (srv_fw_get(st, fw->id, &old) == OTTO_OK) {
        if (strcmp(old.product, fw->product) || strcmp(old.ota_type, fw->ota_type) ||
            strcmp(old.version, fw->version) || strcmp(old.group, fw->group)) {
            snprintf(msg, msglen, "this file is already stored as %s (%s %s for %s)", old.id,
                     old.ota_type, old.version, old.product);
            err = OTTO_E_EXISTS;
        } else if (siglen && !strstr(old.extra, "\"sig-sha256-ecdsa\"")) {
            /* The same file again, signed now: the record takes the signature. */
            snprintf(old.extra, sizeof old.extra, "%s", fw->extra);
            if (!(err = srv_fw_delete(st, old.id)))
                err = srv_fw_put(st, &old);
            *fw = old;
        } else {
            *fw = old;
        }
        goto out;
    }

    /* Into the artifact store: rename is atomic, and the record only follows
     * once the bytes are in place. */
    if (srv_artifact_path(dir, fw->sha256, path, sizeof path)) {
        err = OTTO_E_NOSPC;
        goto out;
    }
    char sub[600];
    snprintf(sub, sizeof sub, "%s/artifacts/%.2s", dir, fw->sha256);
    if ((mkdir(sub, 0755) && errno != EEXIST) || rename(u->tmp_path, path)) {
        SRV_LOG_ERR("firmware: cannot store %s: %s", path, strerror(errno));
        err = bad(msg, msglen, OTTO_E_IO, "could not store the firmware file%s", "");
        goto out;
    }
    u->tmp_path[0] = 0;
    snprintf(sub, sizeof sub, "artifacts/%s", fw->sha256);
    if ((err = srv_blob_put(st, sub, path)) || (err = srv_fw_put(st, fw))) /* other workers: bytes, then record */
        goto out;
    *created = true;
    SRV_LOG_INF("firmware %s stored: %s %s for %s, %lld bytes, sha256 %s", fw->id, fw->ota_type,
            fw->version, fw->product, (long long)fw->size, fw->sha256);
out:
    if (u->tmp_path[0])
        unlink(u->tmp_path);
    cJSON_Delete(desc);
    cJSON_Delete(extra);
    return err;
}

int srv_firmware_delete(srv_store_t *st, const char *dir, const char *id, char *msg, size_t len)
{
    srv_fw_t fw;
    char job[SRV_JOBID_MAX + 1], path[600];
    int err = srv_fw_get(st, id, &fw);
    if (err)
        return err == OTTO_E_NOTFOUND ? bad(msg, len, err, "no firmware '%s'", id) : err;
    if ((err = srv_fw_used_by(st, id, job)))
        return err;
    if (job[0]) {
        snprintf(msg, len, "firmware %s is used by job %s, which is still in progress (cancel it first)",
                 id, job);
        return OTTO_E_STATE;
    }
    if ((err = srv_fw_delete(st, id)))
        return err;
    /* The id is derived from the SHA-256, so no other record shares the file. */
    if (!srv_artifact_path(dir, fw.sha256, path, sizeof path))
        unlink(path);
    snprintf(path, sizeof path, "artifacts/%s", fw.sha256);
    srv_blob_delete(st, path); /* other workers' copies go with their next start's cleanup */
    SRV_LOG_INF("firmware %s deleted", id);
    return OTTO_OK;
}
