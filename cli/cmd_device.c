/* SPDX-License-Identifier: Apache-2.0 */
/* otto device add | ls | show | rm, and otto group ls */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "util.h"
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: otto device <command> [options]\n"
    "\n"
    "  add THING... [--group G]... [--product P]  register devices (thing = MAC address)\n"
    "  add --from FILE [--group G]...             one thing per line\n"
    "  ls [--group G]                             list devices\n"
    "  show THING                                 one device, with the versions it reported\n"
    "  rm THING                                   forget a device\n"
    "  cert THING... --cert-out DIR [--csr FILE]  issue a TLS certificate\n"
    "  cert THING... --cert-out DIR --renew       a new certificate for the key in DIR\n"
    "  revoke THING...                            lock it out of the broker for good\n"
    "\n"
    "Server options (every command): --url URL (or OTTO_URL), --token T (or\n"
    "OTTO_TOKEN), --json (print the server's JSON), -q (print only names); over\n"
    "HTTPS the CA in OTTO_CA (ottod init's otto.env sets all three).\n";

/* A CSR for thing signed with the key in path (PEM; NULL when unreadable):
 * renewing keeps the device's key, so only the certificate changes. */
static char *csr_for_key(const char *path, const char *thing)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    X509_REQ *r = k ? X509_REQ_new() : NULL;
    X509_NAME *n = r ? X509_REQ_get_subject_name(r) : NULL;
    BIO *b = r ? BIO_new(BIO_s_mem()) : NULL;
    char *pem = NULL, *data;
    long len;
    if (b && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)thing, -1, -1, 0) == 1 &&
        X509_REQ_set_pubkey(r, k) == 1 && X509_REQ_sign(r, k, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, r) == 1 &&
        (len = BIO_get_mem_data(b, &data)) > 0 && (pem = malloc((size_t)len + 1))) {
        memcpy(pem, data, (size_t)len);
        pem[len] = 0;
    }
    BIO_free(b);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return pem;
}

/* A device's TLS identity from ottod's CA, written as DIR/THING.key (0600,
 * unless the device keeps its key: csr), DIR/THING.crt and DIR/ca.crt. */
static int issue_cert(const api_opts_t *ao, const char *thing, const char *dir, const char *csr, bool renew)
{
    char path[1200], url[300];
    cJSON *body = cJSON_CreateObject(), *resp = NULL;
    if (renew) {
        snprintf(path, sizeof path, "%s/%s.key", dir, thing);
        char *pem = csr_for_key(path, thing);
        if (!pem) {
            cJSON_Delete(body);
            die_msg("--renew: no key of %s's at %s (without --renew, a new key and certificate)", thing, path);
            return EXIT_FAIL;
        }
        cJSON_AddStringToObject(body, "csr", pem);
        free(pem);
    } else if (csr) {
        uint8_t *text = NULL;
        size_t len;
        if (otto_read_file(csr, &text, &len)) {
            cJSON_Delete(body);
            die_msg("cannot read %s: %m", csr);
            return EXIT_FAIL;
        }
        cJSON_AddStringToObject(body, "csr", (const char *)text);
        free(text);
    }
    snprintf(url, sizeof url, "/api/v1/devices/%s/cert", thing);
    int rc = api_call(ao, "POST", url, body, &resp);
    cJSON_Delete(body);
    if (rc)
        return rc;
    static const struct { const char *field, *suffix; unsigned mode; } out[] = {
        {"key", ".key", 0600}, {"cert", ".crt", 0644}, {"ca", NULL, 0644}};
    for (size_t i = 0; i < 3 && !rc; i++) {
        const char *v = api_str(resp, out[i].field);
        if (!v[0])
            continue; /* no key: the device made its own */
        if (out[i].suffix)
            snprintf(path, sizeof path, "%s/%s%s", dir, thing, out[i].suffix);
        else
            snprintf(path, sizeof path, "%s/ca.crt", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, out[i].mode);
        size_t n = strlen(v);
        if (fd < 0 || write(fd, v, n) != (ssize_t)n || fchmod(fd, out[i].mode)) {
            die_msg("cannot write %s: %m", path);
            rc = EXIT_FAIL;
        }
        if (fd >= 0)
            close(fd);
    }
    const cJSON *na = cJSON_GetObjectItemCaseSensitive(resp, "notAfter");
    char until[32] = "?";
    time_t t = cJSON_IsNumber(na) ? (time_t)na->valuedouble : 0;
    struct tm tm;
    if (t && gmtime_r(&t, &tm))
        strftime(until, sizeof until, "%Y-%m-%d", &tm);
    if (!rc && !ao->quiet)
        printf("%s: %s/%s.crt%s and ca.crt, valid until %s%s\n", thing, dir, thing,
               api_str(resp, "key")[0] ? ", .key" : "", until, renew ? " (renewed, same key)" : "");
    cJSON_Delete(resp);
    return rc;
}

/* "a,b" from a JSON array of strings, or "k=v k=v" from an object. */
static void join(const cJSON *v, char *buf, size_t cap)
{
    const cJSON *it;
    size_t n = 0;
    buf[0] = 0;
    cJSON_ArrayForEach(it, v) {
        char num[24] = "?";
        if (cJSON_IsNumber(it))
            snprintf(num, sizeof num, "%.0f", it->valuedouble);
        int w = cJSON_IsObject(v)
                    ? snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", it->string,
                               cJSON_IsString(it) ? it->valuestring : num)
                    : snprintf(buf + n, cap - n, "%s%s", n ? "," : "",
                               cJSON_IsString(it) ? it->valuestring : "?");
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void print_device(const cJSON *d, bool header)
{
    char groups[256], versions[256], seen[32] = "never";
    if (header)
        printf("%-20s %-16s %-20s %-24s %s\n", "THING", "PRODUCT", "GROUPS", "CONNECTION", "VERSIONS");
    join(cJSON_GetObjectItemCaseSensitive(d, "groups"), groups, sizeof groups);
    join(cJSON_GetObjectItemCaseSensitive(d, "versions"), versions, sizeof versions);
    /* online (its birth message), or when it was last heard from */
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(d, "lastSeen");
    time_t t = cJSON_IsNumber(ls) ? (time_t)ls->valuedouble : 0;
    struct tm tm;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "online")))
        snprintf(seen, sizeof seen, "online");
    else if (t > 0 && gmtime_r(&t, &tm))
        strftime(seen, sizeof seen, "seen %Y-%m-%dT%H:%MZ", &tm);
    printf("%-20s %-16s %-20s %-24s %s\n", api_str(d, "thing"), api_str(d, "product")[0] ? api_str(d, "product") : "-",
           groups[0] ? groups : "-", seen, versions[0] ? versions : "-");
}

#define MAX_GROUPS 16

static void add_thing(cJSON *arr, const char *thing, const char *product, const char **groups,
                      size_t ng)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "thing", thing);
    if (product)
        cJSON_AddStringToObject(d, "product", product);
    cJSON_AddItemToObject(d, "groups", cJSON_CreateStringArray(groups, (int)ng));
    cJSON_AddItemToArray(arr, d);
}

static int add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"group", required_argument, 0, 'g'}, {"product", required_argument, 0, 'p'},
        {"from", required_argument, 0, 'f'},  {"help", no_argument, 0, 'h'},
        {"cert-out", required_argument, 0, 'C'}, {"csr", required_argument, 0, 'R'},
        API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *groups[MAX_GROUPS], *product = NULL, *from = NULL, *cert_out = NULL, *csr = NULL;
    size_t ng = 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "g:p:hq", opts, NULL)) != -1) {
        switch (opt) {
        case 'g':
            if (ng == MAX_GROUPS) {
                die_msg("at most %d groups at once", MAX_GROUPS);
                return EXIT_USAGE;
            }
            groups[ng++] = optarg;
            break;
        case 'p': product = optarg; break;
        case 'f': from = optarg; break;
        case 'C': cert_out = optarg; break;
        case 'R': csr = optarg; break;
        case 'h':
            fputs("usage: otto device add THING... [--group G]... [--product P] [--from FILE]\n"
                  "                       [--cert-out DIR [--csr FILE]]\n"
                  "\nRegister devices by thing name (the MAC address, e.g. 24:0a:c4:12:34:56),\n"
                  "adding them to groups. Adding a known device adds groups to it.\n"
                  "--cert-out DIR also issues each a TLS certificate from the server's CA (CN =\n"
                  "thing name): DIR/THING.key, DIR/THING.crt, DIR/ca.crt. --csr FILE signs the\n"
                  "device's own request instead (one thing), so its key never leaves it.\n", stdout);
            return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind == argc && !from) {
        die_msg("which device? (otto device add THING [--group G])");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    cJSON *body = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(body, "devices");
    uint8_t *list = NULL;
    size_t llen;
    for (int i = optind; i < argc; i++)
        add_thing(arr, argv[i], product, groups, ng);
    if (from) {
        char *save = NULL;
        if (otto_read_file(from, &list, &llen)) {
            die_msg("cannot read %s: %m", from);
            cJSON_Delete(body);
            return EXIT_FAIL;
        }
        for (char *line = strtok_r((char *)list, "\r\n", &save); line;
             line = strtok_r(NULL, "\r\n", &save)) {
            line += strspn(line, " \t");
            if (*line && *line != '#')
                add_thing(arr, line, product, groups, ng);
        }
    }
    free(list);
    cJSON *resp;
    int n = cJSON_GetArraySize(arr);
    rc = api_call(&ao, "POST", "/api/v1/devices", body, &resp);
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (ao.json)
        api_print_json(resp);
    else if (!ao.quiet)
        printf("%d device%s registered%s%s\n", n, n == 1 ? "" : "s", ng ? " in " : "",
               ng ? groups[0] : "");
    cJSON_Delete(resp);
    if (csr && (!cert_out || from || argc - optind != 1)) {
        die_msg("--csr goes with --cert-out and one THING");
        return EXIT_USAGE;
    }
    for (int i = optind; cert_out && i < argc && !rc; i++)
        rc = issue_cert(&ao, argv[i], cert_out, csr, false);
    return rc;
}

/* otto device revoke THING...: locked out of the broker within seconds. */
static int dev_revoke(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs("usage: otto device revoke THING...\n"
                  "\nRevoke devices' certificates: within seconds each can neither connect nor\n"
                  "publish nor receive (a live connection is dropped), and it gets no new\n"
                  "certificate. There is no undo: give a replaced device a new thing name.\n", stdout);
            return EXIT_OK;
        }
        if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind == argc) {
        die_msg("which device? (otto device revoke THING)");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    for (int i = optind; i < argc && !rc; i++) {
        char path[300];
        cJSON *resp = NULL, *body = cJSON_CreateObject();
        snprintf(path, sizeof path, "/api/v1/devices/%s/revoke", argv[i]);
        rc = api_call(&ao, "POST", path, body, &resp);
        cJSON_Delete(body);
        if (!rc && !ao.quiet)
            printf("%s: revoked\n", argv[i]);
        cJSON_Delete(resp);
    }
    return rc;
}

/* otto device cert THING... --cert-out DIR [--csr FILE]: issue or renew. */
static int cert(int argc, char **argv)
{
    static const struct option opts[] = {{"cert-out", required_argument, 0, 'C'}, {"csr", required_argument, 0, 'R'},
                                         {"renew", no_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
                                         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *dir = NULL, *csr = NULL;
    bool renew = false;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'C')
            dir = optarg;
        else if (opt == 'R')
            csr = optarg;
        else if (opt == 'r')
            renew = true; /* the key in DIR signs a request: a new certificate, the same key */
        else if (opt == 'h') {
            fputs("usage: otto device cert THING... --cert-out DIR [--csr FILE | --renew]\n"
                  "\nIssue a device's TLS certificate: a new key and certificate in DIR, or, with\n"
                  "--csr, a certificate for the key a device kept. --renew, before the old one\n"
                  "expires, makes a certificate for the key already in DIR/THING.key (the device\n"
                  "keeps its key; the old certificate stays valid until it expires).\n", stdout);
            return EXIT_OK;
        } else if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!dir || optind == argc || (csr && argc - optind != 1) || (csr && renew)) {
        die_msg("usage: otto device cert THING... --cert-out DIR [--csr FILE]");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    for (int i = optind; i < argc && !rc; i++)
        rc = issue_cert(&ao, argv[i], dir, csr, renew);
    return rc;
}

static int list_or_show(int argc, char **argv, const char *what)
{
    static const struct option opts[] = {{"group", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'}, API_LONG_OPTS,
                                         {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *group = NULL;
    bool need_id = strcmp(what, "ls") != 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "g:hq", opts, NULL)) != -1) {
        if (opt == 'g' && !need_id) {
            group = optarg;
        } else if (opt == 'h') {
            printf("usage: otto device %s%s [--json]\n", what, need_id ? " THING" : " [--group G]");
            return EXIT_OK;
        } else if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - (need_id ? 1 : 0)) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[512], esc[400];
    if (need_id)
        snprintf(path, sizeof path, "/api/v1/devices/%s", api_escape(argv[optind], esc, sizeof esc));
    else if (group)
        snprintf(path, sizeof path, "/api/v1/devices?group=%s", api_escape(group, esc, sizeof esc));
    else
        snprintf(path, sizeof path, "/api/v1/devices");
    cJSON *resp, *d;
    rc = need_id ? api_call(&ao, !strcmp(what, "rm") ? "DELETE" : "GET", path, NULL, &resp)
                 : api_list(&ao, path, "devices", &resp);
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (!strcmp(what, "rm")) {
        printf("deleted %s\n", argv[optind]);
    } else if (need_id) {
        char hw[256];
        print_device(resp, true);
        join(cJSON_GetObjectItemCaseSensitive(resp, "hw"), hw, sizeof hw);
        printf("hardware: %s\n", hw[0] ? hw : "not reported (an agent older than the hello's hw)");
    } else {
        bool first = true;
        cJSON_ArrayForEach(d, resp) {
            if (ao.quiet)
                puts(api_str(d, "thing"));
            else
                print_device(d, first);
            first = false;
        }
        if (first && !ao.quiet)
            puts("no devices (add some with 'otto device add THING --group G')");
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

int cmd_device(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "add"))
        return add(argc - 1, argv + 1);
    if (!strcmp(argv[1], "cert"))
        return cert(argc - 1, argv + 1);
    if (!strcmp(argv[1], "revoke"))
        return dev_revoke(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ls") || !strcmp(argv[1], "show") || !strcmp(argv[1], "rm"))
        return list_or_show(argc - 1, argv + 1, argv[1]);
    die_msg("unknown device command '%s' (see 'otto device --help')", argv[1]);
    return EXIT_USAGE;
}

int cmd_group(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, API_LONG_OPTS,
                                         {0, 0, 0, 0}};
    static const char gusage[] = "usage: otto group ls [--json]\n"
                                 "\nList device groups and how many devices each has. Groups\n"
                                 "exist while they have devices ('otto device add T --group G').\n";
    api_opts_t ao = {0};
    int opt, rc;
    if (argc < 2 || strcmp(argv[1], "ls")) {
        bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fputs(gusage, help ? stdout : stderr);
        return help ? EXIT_OK : EXIT_USAGE;
    }
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(gusage, stdout);
            return EXIT_OK;
        }
        if (!api_opt(&ao, opt, optarg)) {
            fputs(gusage, stderr);
            return EXIT_USAGE;
        }
    }
    if ((rc = api_ready(&ao)))
        return rc;
    cJSON *resp, *g;
    if ((rc = api_call(&ao, "GET", "/api/v1/groups", NULL, &resp)))
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else {
        bool first = true;
        cJSON_ArrayForEach(g, resp) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "devices");
            if (ao.quiet) {
                puts(api_str(g, "group"));
                continue;
            }
            if (first)
                printf("%-24s %s\n", "GROUP", "DEVICES");
            printf("%-24s %.0f\n", api_str(g, "group"), cJSON_IsNumber(n) ? n->valuedouble : 0);
            first = false;
        }
        if (first && !ao.quiet)
            puts("no groups");
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}
