/* SPDX-License-Identifier: Apache-2.0 */
/* otto fw upload | ls | show | rm */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "otto/crypto.h"
#include "otto/image.h"
#include "util.h"

static const char usage[] =
    "usage: otto fw <command> [options]\n"
    "\n"
    "  upload FILE [--descriptor JSON|@FILE]   store a firmware on the server\n"
    "  ls                                      list stored firmware\n"
    "  show ID                                 one firmware's record\n"
    "  rm ID                                   delete one (refused while a job uses it)\n"
    "  link ID --thing T [--ttl SECONDS]       a download link for one device (expiring)\n"
    "  deltas ID                               the delta patches made from or to it\n"
    "  sign FILE --key KEY.pem -o FILE.sig     sign it (DER ECDSA over SHA-256; no server)\n"
    "  verify FILE --sig FILE.sig --pub PUB    check a signature (otto's or openssl's)\n"
    "\n"
    "Server options (every command): --url URL (or OTTO_URL), --token T (or\n"
    "OTTO_TOKEN), --json (print the server's JSON), -q (print only ids).\n";

static const char usage_upload[] =
    "usage: otto fw upload FILE [options]\n"
    "\n"
    "Upload a firmware. The descriptor is the seed's JSON shape,\n"
    "{\"product\", \"group\", \"firmware\": [{\"ota_type\", \"url\", \"md5\", ...}]};\n"
    "without one, otto builds it: an ESP32 app image gives ota_type esp32, its\n"
    "version, and its project name as the product. otto always adds the file's\n"
    "md5 so the server can check the transfer. Prints the firmware id.\n"
    "\n"
    "      --descriptor JSON|@FILE  the descriptor, inline or from a file\n"
    "      --product NAME           product (default: the image's project name)\n"
    "      --group NAME             descriptor group (default: none)\n"
    "      --ota-type TYPE          esp32 or stm32 (default: esp32 if FILE is an app image)\n"
    "      --version V              version (required for non-esp32 firmware)\n"
    "      --part-id ID             stm32: the part it is built for, as Get ID and stm32flash\n"
    "                               say (e.g. 0x410); devices with another MCU refuse it\n"
    "      --sign KEY.pem           sign it now (default: $OTTO_SIGN_KEY when set)\n"
    "      --sig FILE.sig           its signature, made elsewhere (otto fw sign, openssl)\n"
    "                               The server checks it against its trusted keys; jobs\n"
    "                               take only signed firmware unless --allow-unsigned.\n"
    "      --url URL --token T --json -q  as for every server command\n"
    "  -h, --help                   this text\n";

/* Is the file an ESP32 app image? Fills info if so. */
static bool esp32_image(const uint8_t *d, size_t n, otto_image_info_t *info)
{
    static otto_image_check_t zero;
    otto_image_check_t *c = malloc(sizeof *c);
    bool ok = false;
    if (!c)
        return false;
    *c = zero;
    if (!otto_image_check_init(c, OTTO_CHIP_ANY, 0, (uint32_t)n) &&
        !otto_image_check_feed(c, d, n) && !otto_image_check_finish(c)) {
        *info = c->info;
        ok = true;
    }
    free(c);
    return ok;
}

static int upload(int argc, char **argv)
{
    static const struct option opts[] = {
        {"descriptor", required_argument, 0, 'D'}, {"product", required_argument, 0, 'p'},
        {"group", required_argument, 0, 'g'},      {"ota-type", required_argument, 0, 't'},
        {"version", required_argument, 0, 'v'},    {"help", no_argument, 0, 'h'},
        {"part-id", required_argument, 0, 'P'},   {"sig", required_argument, 0, 'S'},
        {"sign", required_argument, 0, 'K'},
        API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *desc_arg = NULL, *product = NULL, *group = NULL, *ota_type = NULL, *version = NULL;
    const char *part_id = NULL, *sigfile = NULL, *signkey = getenv("OTTO_SIGN_KEY");
    uint8_t *data = NULL;
    size_t len = 0;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (opt) {
        case 'D': desc_arg = optarg; break;
        case 'p': product = optarg; break;
        case 'g': group = optarg; break;
        case 't': ota_type = optarg; break;
        case 'P': part_id = optarg; break;
        case 'v': version = optarg; break;
        case 'S': sigfile = optarg; break;
        case 'K': signkey = optarg; break;
        case 'h': fputs(usage_upload, stdout); return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage_upload, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_upload, stderr);
        return EXIT_USAGE;
    }
    const char *file = argv[optind];
    if ((rc = api_ready(&ao)))
        return rc;
    if (otto_read_file(file, &data, &len)) {
        die_msg("cannot read %s: %m", file);
        return EXIT_FAIL;
    }

    uint8_t md5[16];
    char md5hex[33];
    otto_md5(data, len, md5);
    otto_hex(md5, 16, md5hex);
    cJSON *desc;
    if (desc_arg) {
        if (!(desc = api_json_arg(desc_arg, "--descriptor"))) {
            free(data);
            return EXIT_USAGE;
        }
    } else {
        otto_image_info_t info;
        bool is_app = esp32_image(data, len, &info);
        if (!ota_type)
            ota_type = is_app ? "esp32" : NULL;
        if (!ota_type) {
            die_msg("%s is not an ESP32 app image; say what it is with --ota-type (e.g. stm32)"
                    " and --product", file);
            free(data);
            return EXIT_USAGE;
        }
        if (!strcmp(ota_type, "esp32") && !is_app) {
            die_msg("%s is not a valid ESP32 app image", file);
            free(data);
            return EXIT_FAIL;
        }
        if (!product)
            product = is_app ? info.desc.project : NULL;
        if (!product) {
            die_msg("--product is required for %s firmware", ota_type);
            free(data);
            return EXIT_USAGE;
        }
        desc = cJSON_CreateObject();
        cJSON_AddStringToObject(desc, "product", product);
        cJSON_AddStringToObject(desc, "group", group ? group : "");
        cJSON *arr = cJSON_AddArrayToObject(desc, "firmware");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "ota_type", ota_type);
        if (version)
            cJSON_AddStringToObject(e, "version", version);
        if (part_id)
            cJSON_AddStringToObject(e, "part_id", part_id);
        cJSON_AddItemToArray(arr, e);
    }
    /* The file's md5 into its entry, when the descriptor has just one and
     * does not say: the server then checks the bytes that arrived. So is
     * its signature, made now (--sign, OTTO_SIGN_KEY) or given (--sig). */
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(desc, "firmware");
    if (cJSON_GetArraySize(arr) == 1) {
        cJSON *e = cJSON_GetArrayItem(arr, 0);
        if (cJSON_IsObject(e) && !cJSON_GetObjectItemCaseSensitive(e, "md5"))
            cJSON_AddStringToObject(e, "md5", md5hex);
        char b64[200];
        if (cJSON_IsObject(e) && (sigfile || (signkey && *signkey)) &&
            !cJSON_GetObjectItemCaseSensitive(e, "sig-sha256-ecdsa")) {
            if ((rc = cli_signature_b64(data, len, signkey, sigfile, b64, sizeof b64))) {
                cJSON_Delete(desc);
                free(data);
                return rc;
            }
            cJSON_AddStringToObject(e, "sig-sha256-ecdsa", b64);
        }
    }
    char *dtxt = cJSON_PrintUnformatted(desc);
    cJSON_Delete(desc);
    free(data);

    cJSON *resp;
    rc = api_upload(&ao, "/api/v1/firmware", file, dtxt, &resp);
    free(dtxt);
    if (rc)
        return rc;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(resp, "id");
    if (ao.json) {
        api_print_json(resp);
    } else if (ao.quiet) {
        puts(cJSON_IsString(id) ? id->valuestring : "");
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "version");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "ota_type");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(resp, "product");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(resp, "size");
        printf("%s  %s %s for %s, %.0f bytes\n", cJSON_IsString(id) ? id->valuestring : "?",
               cJSON_IsString(t) ? t->valuestring : "?", cJSON_IsString(v) ? v->valuestring : "",
               cJSON_IsString(p) ? p->valuestring : "?", cJSON_IsNumber(sz) ? sz->valuedouble : 0);
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_fw(const cJSON *f, bool header)
{
    if (header)
        printf("%-16s %-8s %-16s %-12s %10s  %s\n", "ID", "TYPE", "PRODUCT", "VERSION", "SIZE",
               "SHA256");
    printf("%-16s %-8s %-16s %-12s %10.0f  %.16s\n", api_str(f, "id"), api_str(f, "ota_type"),
           api_str(f, "product"), api_str(f, "version"), num(f, "size"), api_str(f, "sha256"));
}

/* ls, show ID, rm ID: shared option parsing. */
static int simple(int argc, char **argv, const char *what)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, API_LONG_OPTS,
                                         {0, 0, 0, 0}};
    api_opts_t ao = {0};
    bool need_id = strcmp(what, "ls") != 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            printf("usage: otto fw %s%s [--json] [--url URL] [--token T]\n", what,
                   need_id ? " ID" : "");
            return EXIT_OK;
        }
        if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - (need_id ? 1 : 0)) {
        fprintf(stderr, "usage: otto fw %s%s [--json]\n", what, need_id ? " ID" : "");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[256], esc[128];
    cJSON *resp, *f;
    if (!need_id)
        snprintf(path, sizeof path, "/api/v1/firmware");
    else
        snprintf(path, sizeof path, "/api/v1/firmware/%s%s", api_escape(argv[optind], esc, sizeof esc),
                 !strcmp(what, "deltas") ? "/deltas" : "");
    rc = api_call(&ao, !strcmp(what, "rm") ? "DELETE" : "GET", path, NULL, &resp);
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (!strcmp(what, "deltas")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(resp, "deltas");
        double full = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "size"));
        if (!cJSON_GetArraySize(arr) && !ao.quiet)
            puts("no delta patches (made when a job targets devices that run another stored firmware)");
        else if (!ao.quiet)
            printf("%-36s %-16s %-16s %10s %s\n", "DELTA", "FROM", "TO", "BYTES", "OF THE IMAGE");
        cJSON_ArrayForEach(f, arr) {
            double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "size"));
            if (ao.quiet)
                puts(api_str(f, "id"));
            else if (!strcmp(api_str(f, "target"), argv[optind]))
                printf("%-36s %-16s %-16s %10.0f %.1f %%\n", api_str(f, "id"), api_str(f, "base"), api_str(f, "target"),
                       n, full > 0 ? 100.0 * n / full : 0);
            else
                printf("%-36s %-16s %-16s %10.0f\n", api_str(f, "id"), api_str(f, "base"), api_str(f, "target"), n);
        }
    } else if (!strcmp(what, "ls")) {
        bool first = true;
        cJSON_ArrayForEach(f, resp) {
            if (ao.quiet)
                puts(api_str(f, "id"));
            else
                print_fw(f, first);
            first = false;
        }
        if (first && !ao.quiet)
            puts("no firmware stored (upload one with 'otto fw upload FILE')");
    } else if (!strcmp(what, "rm")) {
        printf("deleted %s\n", argv[optind]);
    } else {
        printf("id:             %s\nota_type:       %s\nproduct:        %s\ngroup:          %s\n"
               "version:        %s\nproject:        %s\nsecure_version: %.0f\nsize:           %.0f\n"
               "md5:            %s\nsha256:         %s\nurl:            %s\n",
               api_str(resp, "id"), api_str(resp, "ota_type"), api_str(resp, "product"), api_str(resp, "group"),
               api_str(resp, "version"), api_str(resp, "project"), num(resp, "secure_version"),
               num(resp, "size"), api_str(resp, "md5"), api_str(resp, "sha256"), api_str(resp, "url"));
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

/* otto fw link ID --thing T [--ttl S]: a link minted as a job document's. */
static int link_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"thing", required_argument, 0, 'T'}, {"ttl", required_argument, 0, 'L'},
                                         {"help", no_argument, 0, 'h'}, API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *thing = NULL;
    long ttl = 0;
    char *end;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'T') {
            thing = optarg;
        } else if (opt == 'L') {
            ttl = strtol(optarg, &end, 10);
            if (*end || ttl < 1 || ttl > 604800) {
                die_msg("--ttl: seconds, 1 to 604800 (7 days)");
                return EXIT_USAGE;
            }
        } else if (opt == 'h') {
            fputs("usage: otto fw link ID --thing T [--ttl SECONDS]\n"
                  "\nPrint a download link for firmware ID that only device T may use, valid for\n"
                  "SECONDS (default: the server's --link-ttl), as a job document carries one.\n"
                  "For flashing a device by hand; devices in a job get theirs themselves.\n",
                  stdout);
            return EXIT_OK;
        } else if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !thing) {
        die_msg("usage: otto fw link ID --thing T [--ttl SECONDS]");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[256], esc[128];
    snprintf(path, sizeof path, "/api/v1/firmware/%s/link", api_escape(argv[optind], esc, sizeof esc));
    cJSON *resp, *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "thing", thing);
    if (ttl)
        cJSON_AddNumberToObject(body, "ttl", (double)ttl);
    rc = api_call(&ao, "POST", path, body, &resp);
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (ao.json)
        api_print_json(resp);
    else
        puts(api_str(resp, "url"));
    cJSON_Delete(resp);
    return EXIT_OK;
}

int cmd_fw(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "upload"))
        return upload(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sign") || !strcmp(argv[1], "verify"))
        return cmd_fw_sign(argc - 1, argv + 1, argv[1][0] == 'v');
    if (!strcmp(argv[1], "link"))
        return link_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ls") || !strcmp(argv[1], "show") || !strcmp(argv[1], "rm") || !strcmp(argv[1], "deltas"))
        return simple(argc - 1, argv + 1, argv[1]);
    die_msg("unknown fw command '%s' (see 'otto fw --help')", argv[1]);
    return EXIT_USAGE;
}
