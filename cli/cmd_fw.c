/* SPDX-License-Identifier: Apache-2.0 */
/* otto fw upload | ls | show | rm */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "otto/crypto.h"
#include "otto/image.h"
#include "otto/jobdoc.h"
#include "imgbuild.h"
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
    "  recall ID [--to GOOD] [--version V]     undo a confirmed bad release: the previous\n"
    "                                          build re-released above it, to its devices\n"
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

/* What an upload says of its file beyond the file itself. */
typedef struct {
    const char *desc_arg, *product, *group, *ota_type, *version, *part_id, *sigfile, *signkey;
} upload_opts_t;

/* Upload file as u says (its descriptor made, its md5 and signature
 * added); *resp the server's record. An exit code, having said why. */
static int upload_file(const api_opts_t *ao, const char *file, const upload_opts_t *in, cJSON **resp)
{
    upload_opts_t u = *in;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;
    if (otto_read_file(file, &data, &len)) {
        die_msg("cannot read %s: %m", file);
        return EXIT_FAIL;
    }
    uint8_t md5[16];
    char md5hex[33];
    otto_md5(data, len, md5);
    otto_hex(md5, 16, md5hex);
    cJSON *desc;
    if (u.desc_arg) {
        if (!(desc = api_json_arg(u.desc_arg, "--descriptor"))) {
            free(data);
            return EXIT_USAGE;
        }
    } else {
        otto_image_info_t info;
        bool is_app = esp32_image(data, len, &info);
        if (!u.ota_type)
            u.ota_type = is_app ? "esp32" : NULL;
        if (!u.ota_type) {
            die_msg("%s is not an ESP32 app image; say what it is with --ota-type (e.g. stm32)"
                    " and --product", file);
            free(data);
            return EXIT_USAGE;
        }
        if (!strcmp(u.ota_type, "esp32") && !is_app) {
            die_msg("%s is not a valid ESP32 app image", file);
            free(data);
            return EXIT_FAIL;
        }
        if (!u.product)
            u.product = is_app ? info.desc.project : NULL;
        if (!u.product) {
            die_msg("--product is required for %s firmware", u.ota_type);
            free(data);
            return EXIT_USAGE;
        }
        desc = cJSON_CreateObject();
        cJSON_AddStringToObject(desc, "product", u.product);
        cJSON_AddStringToObject(desc, "group", u.group ? u.group : "");
        cJSON *arr = cJSON_AddArrayToObject(desc, "firmware");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "ota_type", u.ota_type);
        if (u.version)
            cJSON_AddStringToObject(e, "version", u.version);
        if (u.part_id)
            cJSON_AddStringToObject(e, "part_id", u.part_id);
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
        if (cJSON_IsObject(e) && (u.sigfile || (u.signkey && *u.signkey)) &&
            !cJSON_GetObjectItemCaseSensitive(e, "sig-sha256-ecdsa")) {
            if ((rc = cli_signature_b64(data, len, u.signkey, u.sigfile, b64, sizeof b64))) {
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
    rc = api_upload(ao, "/api/v1/firmware", file, dtxt, resp);
    free(dtxt);
    return rc;
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
    upload_opts_t u = {.signkey = getenv("OTTO_SIGN_KEY")};
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (opt) {
        case 'D': u.desc_arg = optarg; break;
        case 'p': u.product = optarg; break;
        case 'g': u.group = optarg; break;
        case 't': u.ota_type = optarg; break;
        case 'P': u.part_id = optarg; break;
        case 'v': u.version = optarg; break;
        case 'S': u.sigfile = optarg; break;
        case 'K': u.signkey = optarg; break;
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
    cJSON *resp;
    if ((rc = upload_file(&ao, file, &u, &resp)))
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

/* ---- recall ---- */

static const char usage_recall[] =
    "usage: otto fw recall ID [--to GOOD_ID] [--version V] [--group G] [--sign KEY.pem]\n"
    "\n"
    "Undo a bad release that devices already confirmed. Devices refuse an older\n"
    "version (outdated) and an older secure_version (anti-rollback), so the old\n"
    "image cannot simply be sent again: recall takes the previous good build\n"
    "(the highest version of the same product and ota_type below ID's, or\n"
    "--to), gives it a version above ID's (ID's with its last number raised,\n"
    "or --version) and ID's secure_version, signs it (--sign, default\n"
    "$OTTO_SIGN_KEY), uploads it and creates a job for every device that runs\n"
    "ID's version (in group G with --group). An image with a Secure Boot v2\n"
    "block must be signed again with otto image sign: recall refuses it.\n";

/* ID's version with its last number raised: 1.1.0 -> 1.1.1. */
static int bump(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v), i = n;
    while (i && isdigit((unsigned char)v[i - 1]))
        i--;
    if (i == n || n - i > 9)
        return -1;
    return snprintf(out, cap, "%.*s%lu", (int)i, v, strtoul(v + i, NULL, 10) + 1) < (int)cap ? 0 : -1;
}

static int recall(int argc, char **argv)
{
    static const struct option opts[] = {{"to", required_argument, 0, 't'}, {"version", required_argument, 0, 'v'},
                                         {"group", required_argument, 0, 'g'}, {"sign", required_argument, 0, 'K'},
                                         {"help", no_argument, 0, 'h'}, API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *to = NULL, *version = NULL, *group = NULL, *signkey = getenv("OTTO_SIGN_KEY");
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (opt) {
        case 't': to = optarg; break;
        case 'v': version = optarg; break;
        case 'g': group = optarg; break;
        case 'K': signkey = optarg; break;
        case 'h': fputs(usage_recall, stdout); return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage_recall, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_recall, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[512], esc[256], newv[40], tmp[] = "/tmp/otto-recall-XXXXXX";
    cJSON *bad = NULL, *list = NULL, *good = NULL, *f, *devs = NULL, *resp = NULL, *body = NULL;
    uint8_t *img = NULL;
    size_t len = 0, newlen = 0;
    int fd = -1;
    snprintf(path, sizeof path, "/api/v1/firmware/%s", api_escape(argv[optind], esc, sizeof esc));
    if ((rc = api_call(&ao, "GET", path, NULL, &bad)) || (rc = api_call(&ao, "GET", "/api/v1/firmware", NULL, &list)))
        goto out;
    const char *bv = api_str(bad, "version"), *product = api_str(bad, "product"), *type = api_str(bad, "ota_type");
    if (strcmp(type, "esp32")) {
        die_msg("recall takes esp32 firmware (%s is %s): an MCU image has no secure_version to keep", argv[optind], type);
        rc = EXIT_USAGE;
        goto out;
    }
    cJSON_ArrayForEach(f, list) { /* the previous good build */
        if (to ? !strcmp(api_str(f, "id"), to)
               : !strcmp(api_str(f, "product"), product) && !strcmp(api_str(f, "ota_type"), type) &&
                     otto_version_cmp(api_str(f, "version"), bv) < 0 &&
                     (!good || otto_version_cmp(api_str(f, "version"), api_str(good, "version")) > 0))
            good = f;
    }
    if (!good) {
        die_msg(to ? "no firmware '%s'" : "no earlier %s build of %s below %s to go back to (upload it, or --to ID)",
                to ? to : type, product, bv);
        rc = EXIT_FAIL;
        goto out;
    }
    if (version ? otto_version_cmp(version, bv) <= 0 : bump(bv, newv, sizeof newv)) {
        die_msg("the recall's version must be above %s (devices refuse an older one): give --version", bv);
        rc = EXIT_USAGE;
        goto out;
    }
    if (version)
        snprintf(newv, sizeof newv, "%s", version);
    /* The good build's bytes, through a download link as a device gets one. */
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(bad, "secure_version");
    cJSON *lb = cJSON_CreateObject(), *link = NULL;
    cJSON_AddStringToObject(lb, "thing", "otto-recall");
    snprintf(path, sizeof path, "/api/v1/firmware/%s/link", api_escape(api_str(good, "id"), esc, sizeof esc));
    rc = api_call(&ao, "POST", path, lb, &link);
    cJSON_Delete(lb);
    if (rc)
        goto out;
    char url[2048];
    snprintf(url, sizeof url, "%s", api_str(link, "url")[0] ? api_str(link, "url") : api_str(good, "url"));
    cJSON_Delete(link);
    if ((fd = mkstemp(tmp)) < 0) {
        die_msg("cannot make %s: %m", tmp);
        rc = EXIT_FAIL;
        goto out;
    }
    api_opts_t dl = ao;
    dl.url = "";
    if ((rc = api_save(&dl, "GET", url, tmp, NULL, NULL)))
        goto out;
    if (otto_read_file(tmp, &img, &len) ||
        otto_img_restamp(img, len, newv, cJSON_IsNumber(sv) ? (uint32_t)sv->valuedouble : 0, &newlen)) {
        die_msg("%s is not an ESP32 app image otto can restamp", api_str(good, "id"));
        rc = EXIT_FAIL;
        goto out;
    }
    if (newlen < len) {
        die_msg("%s carries a Secure Boot v2 signature block, which the new version would break: otto image"
                " restamp it, sign it (otto image sign --secure-boot-v2), then upload it", api_str(good, "id"));
        rc = EXIT_FAIL;
        goto out;
    }
    if (otto_write_file(tmp, img, newlen)) {
        die_msg("cannot write %s: %m", tmp);
        rc = EXIT_FAIL;
        goto out;
    }
    upload_opts_t u = {.product = product, .signkey = signkey};
    if ((rc = upload_file(&ao, tmp, &u, &resp)))
        goto out;
    char newid[64];
    snprintf(newid, sizeof newid, "%s", api_str(resp, "id"));
    /* Every device that runs the bad version (of this product). */
    char vesc[128], gesc[160] = "";
    snprintf(path, sizeof path, "/api/v1/devices?version=%s%s%s", api_escape(bv, vesc, sizeof vesc),
             group ? "&group=" : "", group ? api_escape(group, gesc, sizeof gesc) : "");
    if ((rc = api_list(&ao, path, "devices", &devs)))
        goto out;
    body = cJSON_CreateObject();
    cJSON *ds = cJSON_AddArrayToObject(cJSON_AddObjectToObject(body, "targets"), "devices"), *d;
    cJSON_ArrayForEach(d, devs)
        if (!strcmp(api_str(d, "product"), product))
            cJSON_AddItemToArray(ds, cJSON_CreateString(api_str(d, "thing")));
    int n = cJSON_GetArraySize(ds);
    char descr[200];
    snprintf(descr, sizeof descr, "recall of %s (%s): %s's build as %s", argv[optind], bv, api_str(good, "version"),
             newv);
    if (!n) {
        printf("%s  %s as %s (secure_version %.0f); no device of %s runs %s: no job\n", newid,
               api_str(good, "version"), newv, cJSON_IsNumber(sv) ? sv->valuedouble : 0, product, bv);
        goto out;
    }
    cJSON_AddItemToObject(body, "firmware", cJSON_CreateStringArray((const char *[]){newid}, 1));
    cJSON_AddStringToObject(body, "description", descr);
    cJSON_Delete(resp);
    resp = NULL;
    if ((rc = api_call(&ao, "POST", "/api/v1/jobs", body, &resp)))
        goto out;
    if (ao.quiet)
        puts(api_str(resp, "jobId"));
    else
        printf("%s  %s's build as %s (secure_version %.0f)\n%s  %d devices that run %s\n", newid,
               api_str(good, "version"), newv, cJSON_IsNumber(sv) ? sv->valuedouble : 0, api_str(resp, "jobId"), n,
               bv);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(img);
    cJSON_Delete(bad);
    cJSON_Delete(list);
    cJSON_Delete(devs);
    cJSON_Delete(resp);
    cJSON_Delete(body);
    return rc;
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
    if (!strcmp(argv[1], "recall"))
        return recall(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ls") || !strcmp(argv[1], "show") || !strcmp(argv[1], "rm") || !strcmp(argv[1], "deltas"))
        return simple(argc - 1, argv + 1, argv[1]);
    die_msg("unknown fw command '%s' (see 'otto fw --help')", argv[1]);
    return EXIT_USAGE;
}
