/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How long a device takes to check a 1 MiB image's signatures, on this
 * host, through the code a device runs: the job's sig-sha256-ecdsa (SHA-256
 * while streaming, then ECDSA P-256 with each trusted key: trust.h and the
 * Linux port's mbedTLS verifier) and ESP32 Secure Boot v2 blocks
 * (device/sbv2.c reading the slot back, RSA-3072-PSS and ECDSA P-256).
 * The peer is OpenSSL's EVP_DigestVerify over the same bytes, in the same
 * process. Prints Markdown rows; figures, not pass/fail.
 *   verify_bench DIR   (DIR: scratch for keys and images; needs otto in PATH
 *                       or OTTO=path)
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otto/crypto.h"
#include "otto/sbv2.h"
#include "otto/trust.h"
#include "sbv2.h"
#include "util.h"
#include "verify.h"

#define RUNS 20

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mem_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)ctx + off, len);
    return OTTO_OK;
}

static uint8_t efuse_digest[32];
static int efuse_keys(void *ctx, uint8_t d[OTTO_SBV2_KEYS][32], unsigned *n, unsigned *revoked)
{
    (void)ctx;
    memcpy(d[0], efuse_digest, 32);
    *n = 1;
    *revoked = 0;
    return OTTO_OK;
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "verify_bench: failed: %s\n", cmd);
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *b;
    if (otto_read_file(path, &b, len)) {
        fprintf(stderr, "verify_bench: cannot read %s\n", path);
        exit(1);
    }
    return b;
}

/* Median of RUNS timings of fn, in milliseconds. */
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".", *otto = getenv("OTTO") ? getenv("OTTO") : "otto";
    char cmd[2048], path[1024];
    double t[RUNS];
    size_t len, slen;

    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -f ec.pem ec.pub.pem rsa.pem rsa.pub.pem && '%s' key gen -o ec.pem >/dev/null && "
             "'%s' key gen --type rsa3072 -o rsa.pem >/dev/null && "
             "'%s' image build --version 1.0.0 --project bench --size 1M -o app.bin >/dev/null && "
             "'%s' fw sign app.bin --key ec.pem -o app.sig >/dev/null && "
             "'%s' image sign --secure-boot-v2 --key rsa.pem app.bin -o app.rsa.bin >/dev/null && "
             "'%s' image sign --secure-boot-v2 --key ec.pem app.bin -o app.ec.bin >/dev/null",
             dir, otto, otto, otto, otto, otto, otto);
    sh(cmd);
    snprintf(path, sizeof path, "%s/app.bin", dir);
    uint8_t *img = slurp(path, &len);
    snprintf(path, sizeof path, "%s/app.sig", dir);
    uint8_t *sig = slurp(path, &slen);
    otto_linux_keys_t keys;
    otto_linux_keys_init(&keys);
    snprintf(path, sizeof path, "%s/ec.pub.pem", dir);
    otto_linux_keys_add(&keys, path);
    otto_trust_t trust = {1, {{0}}};
    memcpy(trust.key[0], keys.key[0], OTTO_KEY_LEN);

    /* The job signature, as the agent checks it: SHA-256, then ECDSA. */
    for (int r = 0; r < RUNS; r++) {
        uint8_t sha[32];
        double t0 = now_s();
        otto_sha256(img, len, sha);
        if (otto_trust_verify(&trust, otto_linux_verify, NULL, sha, sig, slen)) {
            fprintf(stderr, "verify_bench: the job signature did not verify\n");
            return 1;
        }
        t[r] = (now_s() - t0) * 1e3;
    }
    qsort(t, RUNS, sizeof *t, cmp_d);
    double otto_ms = t[RUNS / 2];
    /* ... of which the hash (the rest is one ECDSA verify). */
    for (int r = 0; r < RUNS; r++) {
        uint8_t sha[32];
        double t0 = now_s();
        otto_sha256(img, len, sha);
        t[r] = (now_s() - t0) * 1e3;
    }
    qsort(t, RUNS, sizeof *t, cmp_d);
    double hash_ms = t[RUNS / 2];
    double ssl_hash_ms;
    for (int r = 0; r < RUNS; r++) {
        uint8_t sha[32];
        unsigned int n = 32;
        double t0 = now_s();
        EVP_Digest(img, len, sha, &n, EVP_sha256(), NULL);
        t[r] = (now_s() - t0) * 1e3;
    }
    qsort(t, RUNS, sizeof *t, cmp_d);
    ssl_hash_ms = t[RUNS / 2];

    /* The peer: OpenSSL's one-call verify of the same file and signature. */
    FILE *f = fopen(path, "r");
    EVP_PKEY *pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    for (int r = 0; r < RUNS; r++) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        double t0 = now_s();
        int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
                 EVP_DigestVerify(md, sig, slen, img, len) == 1;
        t[r] = (now_s() - t0) * 1e3;
        EVP_MD_CTX_free(md);
        if (!ok) {
            fprintf(stderr, "verify_bench: openssl did not verify\n");
            return 1;
        }
    }
    qsort(t, RUNS, sizeof *t, cmp_d);
    double ssl_ms = t[RUNS / 2];
    printf("| job signature (sig-sha256-ecdsa), %zu-byte image | %.2f ms | %.2f ms | %.2f |\n", len, otto_ms,
           ssl_ms, otto_ms / ssl_ms);
    printf("| ... of which SHA-256 of the image | %.2f ms | %.2f ms | %.2f |\n", hash_ms, ssl_hash_ms,
           hash_ms / ssl_hash_ms);
    printf("| ... of which one ECDSA P-256 verify | %.2f ms | %.2f ms | %.2f |\n", otto_ms - hash_ms,
           ssl_ms - ssl_hash_ms, (otto_ms - hash_ms) / (ssl_ms - ssl_hash_ms));

    /* Secure Boot v2 blocks, read back from a slot as esp_ota_end does. */
    const char *names[] = {"app.rsa.bin", "app.ec.bin"}, *pubs[] = {"rsa.pub.pem", "ec.pub.pem"};
    const char *what[] = {"RSA-3072-PSS", "ECDSA P-256"};
    for (int k = 0; k < 2; k++) {
        unsigned v;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        size_t n;
        uint8_t *b = slurp(path, &n);
        snprintf(path, sizeof path, "%s/%s", dir, pubs[k]);
        otto_linux_sbv2_key_digest(path, efuse_digest, &v);
        otto_flash_t fl = {b, mem_read, NULL, NULL, (uint32_t)n, 4096, 1};
        otto_secure_boot_t sb = {NULL, efuse_keys, otto_linux_sbv2_verify_block};
        uint32_t sector = (uint32_t)n - OTTO_SBV2_SECTOR;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now_s();
            if (otto_sbv2_check(&fl, 0, sector, &sb, NULL)) {
                fprintf(stderr, "verify_bench: %s did not verify\n", names[k]);
                return 1;
            }
            t[r] = (now_s() - t0) * 1e3;
        }
        qsort(t, RUNS, sizeof *t, cmp_d);
        printf("| Secure Boot v2 block, %s, %u-byte padded image | %.2f ms | | |\n", what[k], sector, t[RUNS / 2]);
        free(b);
    }
    EVP_PKEY_free(pk);
    free(img);
    free(sig);
    return 0;
}
