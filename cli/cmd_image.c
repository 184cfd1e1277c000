/* SPDX-License-Identifier: Apache-2.0 */
/* otto image build | info */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "imgbuild.h"
#include "otto/image.h"
#include "otto/sbv2.h"
#include "util.h"

static const char usage_build[] =
    "usage: otto image build --version V --project NAME -o APP.bin [options]\n"
    "\n"
    "Build a valid ESP32 app image (header, DROM segment with app descriptor,\n"
    "checksum, appended SHA-256) for tests, demos and the simulator.\n"
    "\n"
    "      --version V          app version, e.g. 1.2.0 (required)\n"
    "      --project NAME       project name (required)\n"
    "      --secure-version N   anti-rollback secure_version (default 0)\n"
    "      --chip CHIP          esp32 (default), esp32s2, esp32s3, esp32c3, esp32c2,\n"
    "                           esp32c6, esp32h2, or a number\n"
    "      --payload FILE       bytes to carry after the descriptor\n"
    "      --size N             total image size (e.g. 1M; rounded up to 16)\n"
    "      --selftest pass|fail the simulated app's self-test result (default pass)\n"
    "  -o, --output FILE        where to write the image (required)\n"
    "  -h, --help               this text\n";

static const char usage_info[] =
    "usage: otto image info APP.bin [--chip CHIP] [--trust PUB.pem ...] [--json]\n"
    "\n"
    "Check an ESP32 app image (magic, chip, segments, checksum, SHA-256, app\n"
    "descriptor) and print what it holds, with its Secure Boot v2 signature blocks\n"
    "if it has them. Exit status 1 if it does not verify.\n"
    "\n"
    "      --chip CHIP   also require this chip (default: accept any)\n"
    "      --trust PUB   a Secure Boot v2 public key (as in eFuse; up to 3): say which\n"
    "                    blocks it verifies, and fail unless one does\n"
    "      --json        print JSON\n"
    "  -h, --help        this text\n";

static const struct { const char *name; uint16_t id; } chips[] = {
    {"esp32", OTTO_CHIP_ESP32}, {"esp32s2", OTTO_CHIP_ESP32S2}, {"esp32c3", OTTO_CHIP_ESP32C3},
    {"esp32s3", OTTO_CHIP_ESP32S3}, {"esp32c2", OTTO_CHIP_ESP32C2}, {"esp32c6", OTTO_CHIP_ESP32C6},
    {"esp32h2", OTTO_CHIP_ESP32H2},
};

static int parse_chip(const char *s, uint16_t *id)
{
    uint64_t v;
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
        if (!strcasecmp(s, chips[i].name) || (!strncasecmp(s, "esp32-", 6) && !strcasecmp(s + 6, chips[i].name + 5))) {
            *id = chips[i].id;
            return 0;
        }
    if (otto_parse_size(s, &v) && v < 0xFFFF) {
        *id = (uint16_t)v;
        return 0;
    }
    return -1;
}

static const char *chip_name(uint16_t id)
{
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
        if (chips[i].id == id)
            return chips[i].name;
    return "unknown";
}

static int image_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"version", required_argument, 0, 'V'}, {"project", required_argument, 0, 'P'},
        {"secure-version", required_argument, 0, 'S'}, {"chip", required_argument, 0, 'C'},
        {"payload", required_argument, 0, 'L'}, {"size", required_argument, 0, 'Z'},
        {"selftest", required_argument, 0, 'T'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    otto_imgspec_t s = {0};
    const char *out = NULL, *payload = NULL;
    uint64_t v;
    int c;

    s.chip_id = OTTO_CHIP_ESP32;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'V': s.version = optarg; break;
        case 'P': s.project = optarg; break;
        case 'S':
            if (!otto_parse_size(optarg, &v) || v > 32) {
                die_msg("--secure-version: '%s' is not a number from 0 to 32", optarg);
                return EXIT_USAGE;
            }
            s.secure_version = (uint32_t)v;
            break;
        case 'C':
            if (parse_chip(optarg, &s.chip_id)) {
                die_msg("--chip: unknown chip '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'L': payload = optarg; break;
        case 'Z':
            if (!otto_parse_size(optarg, &v) || v == 0 || v > 16 * 1024 * 1024) {
                die_msg("--size: '%s' is not a size up to 16M", optarg);
                return EXIT_USAGE;
            }
            s.size = (uint32_t)v;
            break;
        case 'T':
            if (!strcmp(optarg, "fail")) s.otto_flags |= OTTO_APP_FLAG_SELFTEST_FAIL;
            else if (strcmp(optarg, "pass")) {
                die_msg("--selftest: expected pass or fail, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_build, stdout); return EXIT_OK;
        default: fputs(usage_build, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc || !out || !s.version || !s.project) {
        if (!s.version || !s.project || !out)
            die_msg("image build: --version, --project and -o are required");
        fputs(usage_build, stderr);
        return EXIT_USAGE;
    }
    if (strlen(s.version) > 31 || strlen(s.project) > 31) {
        die_msg("image build: version and project are at most 31 characters");
        return EXIT_USAGE;
    }
    uint8_t *pl = NULL, *img;
    size_t pl_len = 0, len;
    if (payload && otto_read_file(payload, &pl, &pl_len) != 0) {
        die_msg("cannot read %s: %s", payload, strerror(errno));
        return EXIT_FAIL;
    }
    s.payload = pl;
    s.payload_len = pl_len;
    int rc = otto_img_build(&s, &img, &len);
    free(pl);
    if (rc == OTTO_E_NOSPC) {
        die_msg("image build: --size %u is too small for the descriptor and payload", s.size);
        return EXIT_USAGE;
    }
    if (rc) {
        die_msg("image build: %s", otto_strerror(rc));
        return EXIT_FAIL;
    }
    if (otto_write_file(out, img, len) != 0) {
        die_msg("cannot write %s: %s", out, strerror(errno));
        free(img);
        return EXIT_FAIL;
    }
    free(img);
    printf("%s: %s %s (secure_version %u, %s%s), %zu bytes\n", out, s.project, s.version,
           s.secure_version, chip_name(s.chip_id),
           (s.otto_flags & OTTO_APP_FLAG_SELFTEST_FAIL) ? ", self-test fails" : "", len);
    return EXIT_OK;
}

/* Feed a RAM buffer through the device core's streaming checker. */
static int check_buffer(const uint8_t *b, size_t len, uint16_t chip, otto_image_check_t *chk)
{
    int rc = otto_image_check_init(chk, chip, 0xFFFF, 16u * 1024 * 1024);
    if (!rc)
        rc = otto_image_check_feed(chk, b, len);
    if (!rc)
        rc = otto_image_check_finish(chk);
    return rc;
}

static int image_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"chip", required_argument, 0, 'C'}, {"json", no_argument, 0, 'j'},
        {"trust", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    uint16_t chip = OTTO_CHIP_ANY;
    const char *trust[OTTO_SBV2_KEYS];
    unsigned ntrust = 0;
    int json = 0, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
            if (parse_chip(optarg, &chip)) {
                die_msg("--chip: unknown chip '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j': json = 1; break;
        case 'T':
            if (ntrust == OTTO_SBV2_KEYS) {
                die_msg("--trust: at most %u keys (eFuse holds %u)", OTTO_SBV2_KEYS, OTTO_SBV2_KEYS);
                return EXIT_USAGE;
            }
            trust[ntrust++] = optarg;
            break;
        case 'h': fputs(usage_info, stdout); return EXIT_OK;
        default: fputs(usage_info, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage_info, stderr);
        return EXIT_USAGE;
    }
    const char *in = argv[optind];
    uint8_t *b;
    size_t len;
    otto_image_check_t chk;
    char sha[65];

    if (otto_read_file(in, &b, &len) != 0) {
        die_msg("cannot read %s: %s", in, strerror(errno));
        return EXIT_FAIL;
    }
    int rc = check_buffer(b, len, chip, &chk);
    const otto_image_info_t *i = &chk.info;
    if (rc && !otto_image_check_head_ok(&chk) && !chk.head_ok) {
        die_msg("%s: not a valid ESP32 app image: %s (at byte %u)", in, otto_strerror(rc), chk.pos);
        return EXIT_FAIL;
    }
    otto_hex(i->sha256, 32, sha);
    if (json) {
        printf("{\"file\":\"%s\",\"valid\":%s,\"error\":%s%s%s,\"chip\":\"%s\",\"chip_id\":%u,"
               "\"segments\":%u,\"version\":\"%s\",\"project\":\"%s\",\"secure_version\":%u,"
               "\"idf_ver\":\"%s\",\"date\":\"%s\",\"time\":\"%s\",\"length\":%u,\"file_size\":%zu,"
               "\"sha256\":\"%s\",\"selftest\":\"%s\"",
               in, rc ? "false" : "true", rc ? "\"" : "", rc ? otto_strerror(rc) : "null", rc ? "\"" : "",
               chip_name(i->hdr.chip_id), i->hdr.chip_id, i->hdr.segments, i->desc.version,
               i->desc.project, i->desc.secure_version, i->desc.idf_ver, i->desc.date, i->desc.time,
               i->length, len, rc ? "" : sha,
               (i->otto_flags & OTTO_APP_FLAG_SELFTEST_FAIL) ? "fail" : "pass");
    } else {
        printf("%s\n", in);
        printf("  chip            %s (id 0x%04x, revision %u.%u-%s)\n", chip_name(i->hdr.chip_id),
               i->hdr.chip_id, i->hdr.min_rev_full / 100, i->hdr.min_rev_full % 100,
               (i->hdr.max_rev_full == 0 || i->hdr.max_rev_full == 0xFFFF) ? "any" : "limited");
        printf("  segments        %u, entry 0x%08x\n", i->hdr.segments, i->hdr.entry);
        printf("  project         %s\n", i->desc.project);
        printf("  version         %s\n", i->desc.version);
        printf("  secure_version  %u\n", i->desc.secure_version);
        printf("  built           %s %s (idf %s)\n", i->desc.date, i->desc.time, i->desc.idf_ver);
        if (i->has_otto_block)
            printf("  self-test       %s\n", (i->otto_flags & OTTO_APP_FLAG_SELFTEST_FAIL) ? "fails (marker set)" : "passes");
        if (!rc) {
            printf("  length          %u bytes%s\n", i->length,
                   len > i->length ? " (file has more bytes)" : "");
            printf("  sha256          %s\n", sha);
            printf("  check           ok: magic, segments, checksum and SHA-256 verified\n");
        } else {
            printf("  check           FAILED: %s (at byte %u of %zu)\n", otto_strerror(rc), chk.pos, len);
        }
    }
    bool sig_ok = true;
    if (!rc) {
        int src = sbv2_info(b, len, i->length, trust, ntrust, json, &sig_ok);
        if (src != EXIT_OK) {
            free(b);
            return src;
        }
    } else if (json) {
        printf(",\"secure_boot_v2\":null");
    }
    if (json)
        printf("}\n");
    free(b);
    if (!rc && !sig_ok && (ntrust || len > i->length))
        return EXIT_FAIL;
    return rc ? EXIT_FAIL : EXIT_OK;
}

static const char usage_restamp[] =
    "usage: otto image restamp APP.bin --version V [--secure-version N] -o OUT.bin\n"
    "\n"
    "Give an app image (ESP-IDF's or otto's) another version and secure_version\n"
    "in its app descriptor, with its checksum and SHA-256 made again: a\n"
    "previous build re-released above a bad one (otto fw recall does this for\n"
    "you). A Secure Boot v2 signature block after the image signs the old\n"
    "bytes: it is left out (the output says so); sign again with otto image sign.\n";

static int image_restamp(int argc, char **argv)
{
    static const struct option opts[] = {{"version", required_argument, 0, 'v'},
                                         {"secure-version", required_argument, 0, 's'},
                                         {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *version = NULL, *out = NULL;
    long sv = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': version = optarg; break;
        case 's': sv = strtol(optarg, NULL, 0); break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_restamp, stdout); return EXIT_OK;
        default: fputs(usage_restamp, stderr); return EXIT_USAGE;
        }
    }
    if (!version || !out || optind != argc - 1 || sv < -1 || sv > 255) {
        fputs(usage_restamp, stderr);
        return EXIT_USAGE;
    }
    uint8_t *img = NULL;
    size_t len = 0, newlen = 0;
    otto_image_check_t chk;
    if (otto_read_file(argv[optind], &img, &len)) {
        die_msg("cannot read %s: %m", argv[optind]);
        return EXIT_FAIL;
    }
    uint32_t keep = len >= OTTO_IMAGE_HEAD_LEN ? (uint32_t)img[36] | (uint32_t)img[37] << 8 |
                                                     (uint32_t)img[38] << 16 | (uint32_t)img[39] << 24
                                               : 0;
    int rc = otto_img_restamp(img, len, version, sv >= 0 ? (uint32_t)sv : keep, &newlen);
    if (rc || check_buffer(img, newlen, OTTO_CHIP_ANY, &chk)) {
        die_msg("%s is not an app image otto can restamp", argv[optind]);
        free(img);
        return EXIT_FAIL;
    }
    if (otto_write_file(out, img, newlen)) {
        die_msg("cannot write %s: %m", out);
        free(img);
        return EXIT_FAIL;
    }
    printf("%s: %s, secure_version %u, %zu bytes%s\n", out, version, sv >= 0 ? (unsigned)sv : keep, newlen,
           newlen < len ? " (the signature block after it was left out: sign again)" : "");
    free(img);
    return EXIT_OK;
}

int cmd_image(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs("usage: otto image build [options] -o APP.bin | otto image info APP.bin\n"
              "       otto image sign --secure-boot-v2 --key KEY.pem IN -o OUT\n"
              "       otto image restamp APP.bin --version V [--secure-version N] -o OUT\n"
              "Run 'otto image build|info|sign --help' for options.\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "build"))
        return image_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return image_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sign"))
        return cmd_image_sign(argc - 1, argv + 1);
    if (!strcmp(argv[1], "restamp"))
        return image_restamp(argc - 1, argv + 1);
    die_msg("image: unknown subcommand '%s' (build, info, sign, restamp)", argv[1]);
    return EXIT_USAGE;
}
