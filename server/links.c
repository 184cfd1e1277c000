/* SPDX-License-Identifier: Apache-2.0 */
#include "links.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sign.h"

#define MAC_LEN 16

int srv_links_open(srv_links_t *l, const char *data_dir, int ttl_s)
{
    char path[600];
    l->ttl_s = ttl_s;
    snprintf(path, sizeof path, "%s/links.key", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, l->secret, sizeof l->secret);
        close(fd);
        if (n == (ssize_t)sizeof l->secret)
            return 0;
        SRV_LOG_ERR("%s is damaged; delete it to make a new one (links minted before stop working)", path);
        return -1;
    }
    if (RAND_bytes(l->secret, sizeof l->secret) != 1)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, l->secret, sizeof l->secret) != (ssize_t)sizeof l->secret || fsync(fd)) {
        SRV_LOG_ERR("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* -1 when the parts are too long to be a real link (a thing from a URL
 * can be anything: never MAC what did not fit). */
static int mac(const srv_links_t *l, const char *fw_id, const char *thing, long long exp, unsigned char out[32])
{
    char msg[512];
    unsigned int n = 32;
    int len = snprintf(msg, sizeof msg, "%s\n%s\n%lld", fw_id, thing, exp);
    if (len < 0 || (size_t)len >= sizeof msg)
        return -1;
    return HMAC(EVP_sha256(), l->secret, sizeof l->secret, (const unsigned char *)msg, (size_t)len, out, &n) ? 0 : -1;
}

int srv_links_mint(const srv_links_t *l, const char *url, const char *fw_id, const char *thing, int64_t now,
                   char *out, size_t cap)
{
    unsigned char m[32];
    char hex[2 * MAC_LEN + 1];
    long long exp = (long long)now + l->ttl_s;
    if (mac(l, fw_id, thing, exp, m))
        return -1;
    srv_hex(m, MAC_LEN, hex);
    int n = snprintf(out, cap, "%s?thing=%s&expires=%lld&sig=%s", url, thing, exp, hex);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int srv_links_check(const srv_links_t *l, const char *fw_id, const char *thing, const char *expires,
                    const char *sig, int64_t now, char *msg, size_t cap)
{
    unsigned char want[32], got[MAC_LEN];
    char *end;
    if (!thing || !expires || !sig) {
        snprintf(msg, cap, "this download link is not signed: devices get theirs in the job document "
                 "(ask for the job again)");
        return -1;
    }
    long long exp = strtoll(expires, &end, 10);
    if (*end || exp <= 0 || strlen(sig) != 2 * MAC_LEN) {
        snprintf(msg, cap, "this download link is malformed");
        return -1;
    }
    for (int i = 0; i < MAC_LEN; i++) {
        unsigned v;
        if (sscanf(sig + 2 * i, "%2x", &v) != 1) {
            snprintf(msg, cap, "this download link is malformed");
            return -1;
        }
        got[i] = (unsigned char)v;
    }
    if (mac(l, fw_id, thing, exp, want) || CRYPTO_memcmp(want, got, MAC_LEN)) {
        snprintf(msg, cap, "this download link was altered, or is for another firmware or device");
        return -1;
    }
    if (exp < now) {
        snprintf(msg, cap, "this download link expired %lld s ago: ask for the job again for a fresh one",
                 (long long)now - exp);
        return -1;
    }
    return 0;
}
