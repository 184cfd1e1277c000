/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto key gen, otto fw sign, otto fw verify: signing keys and firmware
 * signatures in the formats standard tools use, so a release pipeline may
 * sign with openssl, an HSM or a cloud signer instead of otto:
 *   - keys: ECDSA P-256, the private key in PEM (PKCS#8, mode 0600) and the
 *     public key beside it (KEY.pub.pem, SubjectPublicKeyInfo PEM);
 *   - signatures: DER ECDSA over the SHA-256 of the file, as
 *     `openssl dgst -sha256 -sign KEY.pem FILE` writes them (randomized, so
 *     the bytes differ from run to run; each tool verifies the other's).
 * OpenSSL (libcrypto) does the cryptography; nothing here is hand-written.
 */
#include <errno.h>
#include <getopt.h>
#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "cli.h"
#include "otto/trust.h"
#include "util.h"

static const char usage_key[] =
    "usage: otto key gen -o KEY.pem [--type ecdsa256|rsa3072]\n"
    "       otto key trust PUB.pem [--name N]    the server accepts firmware it signed\n"
    "       otto key list                        the server's signing keys\n"
    "       otto key revoke NAME                 no new job takes firmware it signed\n"
    "       otto key update --add|--revoke PUB.pem --key SIGNER.pem [-o UPDATE.json]\n"
    "                                            a key update for devices (job create --key-update)\n"
    "\n"
    "gen makes an ECDSA P-256 signing key: KEY.pem (private, PKCS#8 PEM, mode 0600)\n"
    "and KEY.pub.pem (the public key, for devices and the server to trust). openssl\n"
    "reads both. Keep KEY.pem off the update server: it only needs signatures.\n"
    "--type rsa3072 makes an RSA-3072 key instead, for ESP32 Secure Boot v2 blocks\n"
    "(otto image sign --secure-boot-v2) on chips whose ROM verifies RSA-PSS.\n"
    "trust, list and revoke talk to ottod (--url/--token or OTTO_URL/OTTO_TOKEN).\n"
    "update writes a key update devices apply when a job carries it: add PUB.pem to\n"
    "the keys they trust, or revoke it, signed by SIGNER.pem, a key they trust now.\n"
    "--statement prints the bytes to sign instead (openssl dgst -sha256 -sign, an\n"
    "HSM), and --sig FILE takes that signature. A device keeps at most 3 keys and\n"
    "never revokes its last one.\n";

static void ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    die_msg("%s: %s", what, e ? buf : strerror(errno));
}

/* The public key's path: KEY.pem -> KEY.pub.pem (KEY -> KEY.pub.pem). */
static void pub_path(const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    if (n > 4 && !strcmp(key + n - 4, ".pem"))
        n -= 4;
    snprintf(out, cap, "%.*s.pub.pem", (int)n, key);
}

static int key_gen(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {"type", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    bool rsa = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:t:h", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 't' && (!strcmp(optarg, "rsa3072") || !strcmp(optarg, "ecdsa256")))
            rsa = !strcmp(optarg, "rsa3072");
        else if (c == 't') {
            die_msg("--type: '%s' is not ecdsa256 or rsa3072", optarg);
            return EXIT_USAGE;
        }
        else if (c == 'h') {
            fputs(usage_key, stdout);
            return EXIT_OK;
        } else {
            fputs(usage_key, stderr);
            return EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        fputs(usage_key, stderr);
        return EXIT_USAGE;
    }
    char pub[1024];
    pub_path(out, pub, sizeof pub);
    EVP_PKEY *k = rsa ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256");
    if (!k) {
        ssl_error(rsa ? "cannot make an RSA-3072 key" : "cannot make a P-256 key");
        return EXIT_FAIL;
    }
    /* The private key is created 0600, never readable by others even briefly. */
    mode_t old = umask(077);
    FILE *f = fopen(out, "wx");
    umask(old);
    if (!f) {
        die_msg("cannot create %s: %s%s", out, strerror(errno), errno == EEXIST ? " (not overwriting a key)" : "");
        EVP_PKEY_free(k);
        return EXIT_FAIL;
    }
    int ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    ok = (fclose(f) == 0) && ok;
    FILE *p = ok ? fopen(pub, "w") : NULL;
    ok = p && PEM_write_PUBKEY(p, k) && fclose(p) == 0;
    EVP_PKEY_free(k);
    if (!ok) {
        ssl_error("cannot write the key");
        return EXIT_FAIL;
    }
    printf("%s\n%s\n", out, pub);
    return EXIT_OK;
}

static unsigned char *slurp(const char *path, size_t *len);

/* trust, list, revoke: the server's keys. */
static int key_server(int argc, char **argv, const char *what)
{
    static const struct option opts[] = {{"name", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
                                         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *name = NULL;
    int c, rc;
    bool list = !strcmp(what, "list");
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:hq", opts, NULL)) != -1) {
        if (c == 'n')
            name = optarg;
        else if (c == 'h') {
            fputs(usage_key, stdout);
            return EXIT_OK;
        } else if (!api_opt(&ao, c, optarg)) {
            fputs(usage_key, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - (list ? 0 : 1)) {
        fputs(usage_key, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    cJSON *resp = NULL, *body = NULL;
    char path[256], esc[160];
    if (list) {
        rc = api_call(&ao, "GET", "/api/v1/keys", NULL, &resp);
    } else if (!strcmp(what, "revoke")) {
        snprintf(path, sizeof path, "/api/v1/keys/%s/revoke", api_escape(argv[optind], esc, sizeof esc));
        body = cJSON_CreateObject();
        rc = api_call(&ao, "POST", path, body, &resp);
    } else {
        size_t len = 0;
        unsigned char *pem = slurp(argv[optind], &len);
        char def[80];
        if (!pem)
            return EXIT_FAIL;
        if (!name) { /* release.pub.pem -> release */
            const char *b = strrchr(argv[optind], '/');
            b = b ? b + 1 : argv[optind];
            snprintf(def, sizeof def, "%.*s", (int)strcspn(b, "."), b);
            name = def;
        }
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "name", name);
        cJSON_AddStringToObject(body, "pem", (const char *)pem);
        free(pem);
        rc = api_call(&ao, "POST", "/api/v1/keys", body, &resp);
    }
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (list) {
        const cJSON *k;
        cJSON_ArrayForEach(k, resp) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(k, "name");
            bool revoked = cJSON_GetObjectItemCaseSensitive(k, "revokedAt") != NULL;
            printf("%-24s %s\n", cJSON_IsString(n) ? n->valuestring : "?", revoked ? "revoked" : "trusted");
        }
    } else {
        printf("%s %s\n", !strcmp(what, "revoke") ? "revoked" : "trusted", list ? "" : (name ? name : argv[optind]));
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

/* The 65-byte P-256 point of the public key in a PEM file (public or private). */
static int read_point(const char *path, uint8_t point[OTTO_KEY_LEN])
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f && !k) {
        rewind(f);
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    }
    if (f)
        fclose(f);
    size_t n = 0;
    int ok = k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC && EVP_PKEY_get_bits(k) == 256 &&
             EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, OTTO_KEY_LEN, &n) &&
             n == OTTO_KEY_LEN && point[0] == 0x04;
    EVP_PKEY_free(k);
    if (!ok)
        die_msg("%s: not an ECDSA P-256 key in PEM", path);
    return ok ? 0 : -1;
}

static int key_update(int argc, char **argv)
{
    static const struct option opts[] = {{"add", required_argument, 0, 'a'}, {"revoke", required_argument, 0, 'r'},
                                         {"key", required_argument, 0, 'k'}, {"sig", required_argument, 0, 's'},
                                         {"statement", no_argument, 0, 'S'}, {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *pub = NULL, *key = NULL, *sig = NULL, *out = NULL;
    int op = 0, c;
    bool statement_only = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': op = OTTO_KEY_ADD; pub = optarg; break;
        case 'r': op = OTTO_KEY_REVOKE; pub = optarg; break;
        case 'k': key = optarg; break;
        case 's': sig = optarg; break;
        case 'S': statement_only = true; break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_key, stdout); return EXIT_OK;
        default: fputs(usage_key, stderr); return EXIT_USAGE;
        }
    }
    if (!op || optind != argc || (!statement_only && !key == !sig)) {
        fputs(usage_key, stderr);
        return EXIT_USAGE;
    }
    uint8_t point[OTTO_KEY_LEN];
    char st[OTTO_KEY_STATEMENT_MAX], sigb64[128], keyb64[100], id[17];
    if (read_point(pub, point))
        return EXIT_FAIL;
    size_t n = otto_trust_statement(op, point, st);
    if (statement_only) {
        fwrite(st, 1, n, stdout);
        return EXIT_OK;
    }
    if (cli_signature_b64((const unsigned char *)st, n, key, sig, sigb64, sizeof sigb64))
        return EXIT_FAIL;
    EVP_EncodeBlock((unsigned char *)keyb64, point, OTTO_KEY_LEN);
    otto_trust_key_id(point, id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "op", op == OTTO_KEY_ADD ? "add" : "revoke");
    cJSON_AddStringToObject(o, "key", keyb64);
    cJSON_AddStringToObject(o, "sig-sha256-ecdsa", sigb64);
    cJSON_AddStringToObject(o, "keyId", id); /* for people; devices recompute it */
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = EXIT_OK;
    if (!out) {
        printf("%s\n", text);
    } else if (otto_write_file(out, text, strlen(text)) != 0) {
        die_msg("cannot write %s: %s", out, strerror(errno));
        rc = EXIT_FAIL;
    } else {
        printf("%s: %s key %s\n", out, op == OTTO_KEY_ADD ? "add" : "revoke", id);
    }
    free(text);
    return rc;
}

int cmd_key(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_key, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "gen"))
        return key_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "trust") || !strcmp(argv[1], "list") || !strcmp(argv[1], "revoke"))
        return key_server(argc - 1, argv + 1, argv[1]);
    if (!strcmp(argv[1], "update"))
        return key_update(argc - 1, argv + 1);
    die_msg("unknown key command '%s' (see 'otto key --help')", argv[1]);
    return EXIT_USAGE;
}

/* ---- signatures --------------------------------------------------------- */

/* The whole file, malloc'd and NUL-terminated (host/util), or NULL said. */
static unsigned char *slurp(const char *path, size_t *len)
{
    uint8_t *b = NULL;
    if (otto_read_file(path, &b, len) != 0) {
        die_msg("cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    return b;
}

static const char usage_sign[] =
    "usage: otto fw sign FILE --key KEY.pem -o FILE.sig\n"
    "       otto fw verify FILE --sig FILE.sig --pub KEY.pub.pem\n"
    "\n"
    "sign writes a DER ECDSA signature over the SHA-256 of FILE, as\n"
    "'openssl dgst -sha256 -sign KEY.pem FILE' does; verify checks one (made by\n"
    "otto or by openssl) and exits 0 when it holds, 1 when it does not.\n";

int cmd_fw_sign(int argc, char **argv, bool verify)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'}, {"output", required_argument, 0, 'o'},
                                         {"sig", required_argument, 0, 's'},  {"pub", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *key = NULL, *out = NULL, *sig = NULL, *pubf = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:s:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'o': out = optarg; break;
        case 's': sig = optarg; break;
        case 'p': pubf = optarg; break;
        case 'h': fputs(usage_sign, stdout); return EXIT_OK;
        default: fputs(usage_sign, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || (verify ? !sig || !pubf : !key || !out)) {
        fputs(usage_sign, stderr);
        return EXIT_USAGE;
    }
    size_t len = 0, slen = 0;
    unsigned char *data = slurp(argv[optind], &len), *sbuf = NULL;
    if (!data)
        return EXIT_FAIL;
    FILE *kf = fopen(verify ? pubf : key, "r");
    EVP_PKEY *k = !kf ? NULL : verify ? PEM_read_PUBKEY(kf, NULL, NULL, NULL) : PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    if (kf)
        fclose(kf);
    int rc = EXIT_FAIL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
        die_msg("%s: not an EC key in PEM%s", verify ? pubf : key, k ? "" : " (or unreadable)");
    } else if (verify) {
        sbuf = slurp(sig, &slen);
        int v = sbuf && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1
                    ? EVP_DigestVerify(md, sbuf, slen, data, len) : -1;
        if (v == 1) {
            printf("%s: signature verified (ECDSA P-256, SHA-256)\n", argv[optind]);
            rc = EXIT_OK;
        } else {
            die_msg("%s: the signature does not verify with %s", argv[optind], pubf);
        }
    } else if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
               EVP_DigestSign(md, NULL, &slen, data, len) == 1 && (sbuf = malloc(slen)) &&
               EVP_DigestSign(md, sbuf, &slen, data, len) == 1) {
        FILE *o = fopen(out, "wb");
        if (o && fwrite(sbuf, 1, slen, o) == slen && fclose(o) == 0) {
            printf("%s\n", out);
            rc = EXIT_OK;
        } else {
            die_msg("cannot write %s: %s", out, strerror(errno));
        }
    } else {
        ssl_error("cannot sign");
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    free(sbuf);
    free(data);
    return rc;
}

/* For otto fw upload: the signature (made now with key, or read from
 * sigfile) as base64, for the descriptor's "sig-sha256-ecdsa". */
int cli_signature_b64(const unsigned char *data, size_t len, const char *key, const char *sigfile, char *out,
                      size_t cap)
{
    unsigned char *sig = NULL;
    size_t slen = 0;
    int rc = EXIT_FAIL;
    if (sigfile) {
        sig = slurp(sigfile, &slen);
    } else {
        FILE *kf = fopen(key, "r");
        EVP_PKEY *k = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (kf)
            fclose(kf);
        if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
            die_msg("%s: not an EC private key in PEM", key);
        else if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
                 EVP_DigestSign(md, NULL, &slen, data, len) != 1 || !(sig = malloc(slen)) ||
                 EVP_DigestSign(md, sig, &slen, data, len) != 1)
            ssl_error("cannot sign");
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(k);
    }
    if (sig && slen && 4 * ((slen + 2) / 3) + 1 <= cap) {
        EVP_EncodeBlock((unsigned char *)out, sig, (int)slen);
        rc = EXIT_OK;
    } else if (sig) {
        die_msg("the signature is too long to be ECDSA P-256");
    }
    free(sig);
    return rc;
}
