/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto image sign --secure-boot-v2, and the Secure Boot v2 part of otto
 * image info: the signature sector espsecure.py sign_data appends, made and
 * read with the device core's parser (otto/sbv2.h) and the Linux port's
 * mbedTLS arithmetic (sbv2.h), so the CLI checks blocks exactly as a
 * simulated device and its bootloader do.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "otto/crypto.h"
#include "otto/image.h"
#include "otto/sbv2.h"
#include "sbv2.h"
#include "util.h"

static const char usage_sign[] =
    "usage: otto image sign --secure-boot-v2 --key KEY.pem [--key KEY2.pem ...] IN -o OUT\n"
    "\n"
    "Sign an ESP32 app image for Secure Boot v2, as espsecure.py sign_data --version 2\n"
    "does: pad it with 0xFF to a 4 KiB boundary and append a 4 KiB signature sector\n"
    "with one block per key (up to 3). RSA-3072 keys make RSA-PSS blocks (ESP32 v3,\n"
    "S2, S3, C3, C6); ECDSA P-256 keys make ECDSA blocks (C2, C6, H2). Keys: otto key\n"
    "gen [--type rsa3072], or espsecure.py generate_signing_key.\n"
    "\n"
    "      --key KEY.pem   a private signing key (repeat for more blocks, up to 3)\n"
    "      --pad-64k       pad so the sector ends on a 64 KiB boundary (as ESP-IDF's\n"
    "                      build may), instead of the next 4 KiB\n"
    "  -o, --output OUT    the signed image (required)\n"
    "  -h, --help          this text\n";

/* The device core reads images through otto_flash_t: one over a buffer. */
static int buf_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)ctx + off, len);
    return OTTO_OK;
}

static otto_flash_t buf_flash(const uint8_t *b, size_t len)
{
    otto_flash_t f = {(void *)b, buf_read, NULL, NULL, (uint32_t)len, 4096, 1};
    return f;
}

/* Length of the app image at the start of b (0: not a valid image). */
static uint32_t app_length(const uint8_t *b, size_t len)
{
    otto_image_check_t chk;
    if (otto_image_check_init(&chk, OTTO_CHIP_ANY, 0xFFFF, 16u * 1024 * 1024) ||
        otto_image_check_feed(&chk, b, len) || otto_image_check_finish(&chk))
        return 0;
    return chk.info.length;
}

int cmd_image_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secure-boot-v2", no_argument, 0, 'S'}, {"key", required_argument, 0, 'k'},
        {"pad-64k", no_argument, 0, 'P'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *keys[OTTO_SBV2_BLOCKS], *out = NULL;
    unsigned nkeys = 0;
    bool sbv2 = false, pad64 = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': sbv2 = true; break;
        case 'P': pad64 = true; break;
        case 'o': out = optarg; break;
        case 'k':
            if (nkeys == OTTO_SBV2_BLOCKS) {
                die_msg("--key: at most %u keys (the sector holds %u blocks)", OTTO_SBV2_BLOCKS, OTTO_SBV2_BLOCKS);
                return EXIT_USAGE;
            }
            keys[nkeys++] = optarg;
            break;
        case 'h': fputs(usage_sign, stdout); return EXIT_OK;
        default: fputs(usage_sign, stderr); return EXIT_USAGE;
        }
    }
    if (!sbv2 || !nkeys || !out || optind + 1 != argc) {
        if (!sbv2 && optind + 1 == argc)
            die_msg("image sign: say --secure-boot-v2 (firmware signatures for jobs are 'otto fw sign')");
        fputs(usage_sign, stderr);
        return EXIT_USAGE;
    }
    const char *in = argv[optind];
    uint8_t *b;
    size_t len;
    if (otto_read_file(in, &b, &len) != 0) {
        die_msg("cannot read %s: %s", in, strerror(errno));
        return EXIT_FAIL;
    }
    uint32_t ilen = app_length(b, len);
    if (!ilen) {
        free(b);
        die_msg("%s: not a valid ESP32 app image (see 'otto image info %s')", in, in);
        return EXIT_FAIL;
    }
    if (len > ilen) {
        free(b);
        die_msg("%s: %zu bytes follow the image (already signed?); sign the bare image", in, len - ilen);
        return EXIT_FAIL;
    }
    size_t padded = (ilen + OTTO_SBV2_SECTOR - 1) / OTTO_SBV2_SECTOR * OTTO_SBV2_SECTOR;
    if (pad64)
        padded = (ilen + OTTO_SBV2_SECTOR + 0xFFFFu) / 0x10000u * 0x10000u - OTTO_SBV2_SECTOR;
    uint8_t *o = malloc(padded + OTTO_SBV2_SECTOR);
    if (!o) {
        free(b);
        die_msg("out of memory");
        return EXIT_FAIL;
    }
    memset(o, 0xFF, padded + OTTO_SBV2_SECTOR);
    memcpy(o, b, ilen);
    free(b);
    uint8_t digest[32];
    int err = otto_sha256(o, padded, digest);
    for (unsigned i = 0; !err && i < nkeys; i++) {
        err = otto_linux_sbv2_sign_block(keys[i], digest, o + padded + i * OTTO_SBV2_BLOCK);
        if (err)
            die_msg("--key %s: not an RSA-3072 or ECDSA P-256 private key in PEM", keys[i]);
    }
    if (!err && otto_write_file(out, o, padded + OTTO_SBV2_SECTOR) != 0) {
        die_msg("cannot write %s: %s", out, strerror(errno));
        err = OTTO_E_IO;
    }
    if (!err)
        printf("%s: %u-byte image padded to %zu, %u signature block%s, %zu bytes\n", out, ilen, padded, nkeys,
               nkeys == 1 ? "" : "s", padded + OTTO_SBV2_SECTOR);
    free(o);
    return err ? EXIT_FAIL : EXIT_OK;
}

/* Which of the trusted keys (eFuse digests) made this block, -1: none. */
static int trusted_index(const uint8_t *blk, uint8_t trust[][32], unsigned ntrust)
{
    uint8_t kd[32];
    if (otto_sbv2_key_digest(blk, kd))
        return -1;
    for (unsigned i = 0; i < ntrust; i++)
        if (!memcmp(kd, trust[i], 32))
            return (int)i;
    return -1;
}

int sbv2_info(const uint8_t *b, size_t len, uint32_t ilen, const char **trust, unsigned ntrust, bool json,
              bool *ok)
{
    otto_flash_t f = buf_flash(b, len);
    uint8_t tdig[OTTO_SBV2_KEYS][32], digest[32];
    uint32_t sector;
    *ok = false;
    for (unsigned i = 0; i < ntrust; i++) {
        unsigned v;
        if (otto_linux_sbv2_key_digest(trust[i], tdig[i], &v)) {
            die_msg("--trust %s: not an RSA-3072 or ECDSA P-256 key in PEM", trust[i]);
            return EXIT_USAGE;
        }
    }
    if (otto_sbv2_find(&f, 0, (uint32_t)len, ilen, &sector) || len - sector != OTTO_SBV2_SECTOR) {
        if (json)
            printf(",\"secure_boot_v2\":null");
        else
            printf("  secure boot v2  no signature sector%s\n", len > ilen ? " (bytes after the image are not one)" : "");
        return EXIT_OK;
    }
    otto_sha256(b, sector, digest);
    if (json)
        printf(",\"secure_boot_v2\":{\"sector\":%u,\"blocks\":[", sector);
    else
        printf("  secure boot v2  signature sector at %u (image padded from %u)\n", sector, ilen);
    bool any = false, any_self = false;
    for (unsigned i = 0; i < OTTO_SBV2_BLOCKS; i++) {
        const uint8_t *blk = b + sector + i * OTTO_SBV2_BLOCK;
        unsigned version;
        int perr = otto_sbv2_block_parse(blk, &version);
        if (perr == OTTO_E_NOTFOUND)
            break;
        uint8_t kd[32];
        char kdhex[65];
        bool dig_ok = !perr && !memcmp(blk + 4, digest, 32);
        int t = perr ? -1 : trusted_index(blk, tdig, ntrust);
        bool sig_ok = dig_ok && otto_linux_sbv2_verify_block(NULL, blk, digest) == OTTO_OK;
        const char *verdict = perr ? "malformed (bad CRC or field)"
                              : !dig_ok ? "FAILS: signs another image (digest differs)"
                              : !sig_ok ? "FAILS: the signature does not verify"
                              : !ntrust ? "signature verifies with the key it carries (no --trust given)"
                              : t < 0   ? "signature verifies, but the key is not trusted"
                                        : "VERIFIES with a trusted key";
        any_self |= dig_ok && sig_ok;
        any |= dig_ok && sig_ok && t >= 0;
        if (!perr) {
            otto_sbv2_key_digest(blk, kd);
            otto_hex(kd, 32, kdhex);
        } else {
            strcpy(kdhex, "");
        }
        if (json)
            printf("%s{\"index\":%u,\"scheme\":\"%s\",\"key_digest\":\"%s\",\"digest_ok\":%s,\"signature_ok\":%s,"
                   "\"trusted\":%s}",
                   i ? "," : "", i, perr ? "?" : version == OTTO_SBV2_RSA ? "rsa3072" : "ecdsa256", kdhex,
                   dig_ok ? "true" : "false", sig_ok ? "true" : "false", t >= 0 ? "true" : "false");
        else
            printf("    block %u       %s, key digest %s\n                  %s%s%s\n", i,
                   perr ? "?" : version == OTTO_SBV2_RSA ? "RSA-3072-PSS" : "ECDSA P-256", kdhex, verdict,
                   t >= 0 ? " " : "", t >= 0 ? trust[t] : "");
    }
    if (json)
        printf("]}");
    *ok = ntrust ? any : any_self;
    return EXIT_OK;
}
