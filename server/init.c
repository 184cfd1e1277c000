/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `ottod init`: everything a secure deployment needs, in one data
 * directory: a CA (or the user's), the broker's and HTTPS server's
 * certificate, ottod's own MQTT identity, the operator token, ottod.conf
 * (read by `ottod --data DIR`), mosquitto.conf with an ACL that confines
 * each device to its own topics, and otto.env for the CLI. Nothing is
 * overwritten: a second init says what is there.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "pki.h"
#include "sign.h"

static const char usage[] =
    "usage: ottod init --data DIR --mqtt HOST:PORT --http HOST:PORT [options]\n"
    "\n"
    "Set up a secure otto deployment in DIR: a CA, certificates for the broker,\n"
    "the HTTPS server and ottod itself, the operator token, and the configuration\n"
    "of both daemons. Then run:\n"
    "    mosquitto -c DIR/mosquitto.conf\n"
    "    ottod --data DIR\n"
    "and, for the CLI: . DIR/otto.env\n"
    "\n"
    "      --data DIR         the data directory (created)\n"
    "      --mqtt HOST:PORT   where the broker listens (TLS), as devices reach it\n"
    "      --http HOST:PORT   where ottod serves HTTPS (REST and downloads)\n"
    "      --public-url URL   the base URL devices download from (default\n"
    "                         https://HTTP_HOST:HTTP_PORT)\n"
    "      --name NAME        another DNS name or IP address clients use for this\n"
    "                         server (repeatable); the hosts of --mqtt and\n"
    "                         --public-url are always in the certificate\n"
    "      --ca CERT --ca-key KEY   issue from your CA instead of making one\n"
    "  -h, --help             this text\n"
    "\n"
    "usage: ottod init --data DIR --worker NAME   (later, once per extra worker)\n"
    "\n"
    "Give another ottod worker of this deployment an MQTT identity of its own:\n"
    "a certificate with CN ottod-NAME, its lines in the broker's ACL, and\n"
    "DIR/ottod-NAME.conf for it to run with (ottod --config DIR/ottod-NAME.conf).\n";

#define MAX_NAMES 16

/* snprintf that says when it did not fit (paths are long). */
static int fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, cap, f, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* HOST of HOST:PORT or of scheme://HOST[:PORT]/..., into out. */
static int host_of(const char *s, char *out, size_t cap)
{
    const char *p = strstr(s, "://");
    p = p ? p + 3 : s;
    size_t n;
    if (*p == '[') { /* [v6]:port */
        const char *e = strchr(p, ']');
        if (!e)
            return -1;
        n = (size_t)(e - p - 1);
        p++;
    } else {
        n = strcspn(p, ":/");
    }
    if (!n || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static void add_name(const char **names, size_t *n, const char *name)
{
    if (!strcmp(name, "0.0.0.0") || !strcmp(name, "::"))
        return; /* a bind address, not a name anyone connects to */
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(names[i], name))
            return;
    if (*n < MAX_NAMES)
        names[(*n)++] = name;
}

static int write_text(const char *dir, const char *name, const char *text, unsigned mode)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (srv_pki_write(path, text, mode)) {
        fprintf(stderr, "ottod init: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Mosquitto drops to its own user after reading its config when started as
 * root: what it reads later (certificates, its key, the ACL) must be
 * readable by that group; nothing else in DIR is. */
static void for_broker(const char *dir, const char *name, unsigned mode)
{
    char path[PATH_MAX];
    struct group *g = geteuid() == 0 ? getgrnam("mosquitto") : NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (g && chown(path, (uid_t)-1, g->gr_gid) == 0)
        chmod(path, mode);
}

static int issue(const char *dir, const char *stem, X509 *ca, EVP_PKEY *cakey, const char *cn,
                 const char *const *names, size_t nnames, srv_cert_kind_t kind)
{
    char err[200], file[64];
    EVP_PKEY *k = srv_pki_keygen();
    X509 *x = k ? srv_pki_issue(ca, cakey, k, cn, names, nnames, kind, SRV_CERT_DAYS_SERVER, err) : NULL;
    char *kp = x ? srv_pki_key_pem(k) : NULL, *cp = x ? srv_pki_cert_pem(x) : NULL;
    int rc = -1;
    if (!x)
        fprintf(stderr, "ottod init: %s\n", k ? err : "cannot make a key");
    else if (kp && cp) {
        snprintf(file, sizeof file, "tls/%s.key", stem);
        rc = write_text(dir, file, kp, 0600);
        snprintf(file, sizeof file, "tls/%s.crt", stem);
        if (!rc)
            rc = write_text(dir, file, cp, 0644);
    }
    free(kp);
    free(cp);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

/* ottod init --data DIR --worker NAME: one more ottod identity. */
static int add_worker(const char *data, const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], stem[48], text[32768], line[1024];
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (!n || name[n] || n > 32) {
        fprintf(stderr, "ottod init: --worker: 1-32 of a-z, 0-9 and '-'\n");
        return 2;
    }
    snprintf(stem, sizeof stem, "ottod-%s", name);
    snprintf(path, sizeof path, "%s/ottod.conf", data);
    FILE *conf = realpath(data, dir) ? fopen(path, "r") : NULL;
    if (!conf) {
        fprintf(stderr, "ottod init: %s is not set up (run ottod init --data %s --mqtt ... --http ... first)\n",
                data, data);
        return 1;
    }
    snprintf(path, sizeof path, "%s/tls/%s.crt", dir, stem);
    if (access(path, F_OK) == 0) {
        fclose(conf);
        fprintf(stderr, "ottod init: worker %s has a certificate already (%s); nothing changed\n", name, path);
        return 1;
    }
    /* Its config: the deployment's, with its own MQTT identity. */
    int rc = fmt(text, sizeof text, "# written by ottod init --worker %s: ottod --config %s/%s.conf\n", name, dir,
                 stem);
    while (!rc && fgets(line, sizeof line, conf)) {
        size_t used = strlen(text);
        if (!strncmp(line, "mqtt_cert", 9) || !strncmp(line, "mqtt_key", 8) || line[0] == '#')
            continue;
        rc = fmt(text + used, sizeof text - used, "%s", line);
    }
    fclose(conf);
    size_t used = strlen(text);
    if (!rc)
        rc = fmt(text + used, sizeof text - used, "mqtt_cert = %s/tls/%s.crt\nmqtt_key = %s/tls/%s.key\n", dir,
                 stem, dir, stem);
    snprintf(path, sizeof path, "%s/tls/ca.crt", dir);
    X509 *ca = srv_pki_read_cert(path);
    snprintf(path, sizeof path, "%s/tls/ca.key", dir);
    EVP_PKEY *cakey = srv_pki_read_key(path);
    if (rc || !ca || !cakey) {
        fprintf(stderr, "ottod init: cannot read %s's CA (tls/ca.crt, tls/ca.key)\n", dir);
        rc = 1;
    } else {
        rc = issue(dir, stem, ca, cakey, stem, NULL, 0, SRV_CERT_CLIENT);
    }
    X509_free(ca);
    EVP_PKEY_free(cakey);
    snprintf(line, sizeof line, "%s.conf", stem);
    if (rc || write_text(dir, line, text, 0600))
        return 1;
    /* The broker: the worker serves every device, as ottod does. */
    snprintf(path, sizeof path, "%s/acl", dir);
    FILE *acl = fopen(path, "a");
    if (!acl || fprintf(acl, "\n# worker %s (ottod init --worker)\nuser %s\ntopic readwrite $aws/things/#\n"
                             "topic readwrite otto/#\n", name, stem) < 0 || fclose(acl)) {
        fprintf(stderr, "ottod init: cannot add the worker to %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("ottod init: worker %s: certificate tls/%s.crt (CN %s), its lines in the broker's ACL\n"
           "  reload the broker for them (kill -HUP, or restart it), then run:\n"
           "  ottod --config %s/%s.conf\n", name, stem, stem, dir, stem);
    return 0;
}

int srv_init_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'}, {"mqtt", required_argument, 0, 'm'},
        {"http", required_argument, 0, 'H'}, {"public-url", required_argument, 0, 'u'},
        {"name", required_argument, 0, 'n'}, {"ca", required_argument, 0, 'C'},
        {"ca-key", required_argument, 0, 'K'}, {"worker", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *worker = NULL, *data = NULL, *mqtt = NULL, *http = NULL, *url = NULL, *ca_in = NULL, *cakey_in = NULL;
    const char *names[MAX_NAMES];
    size_t nnames = 0;
    char mqtt_host[256], http_host[256], url_host[256], public_url[512];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:m:H:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'm': mqtt = optarg; break;
        case 'H': http = optarg; break;
        case 'u': url = optarg; break;
        case 'n': add_name(names, &nnames, optarg); break;
        case 'C': ca_in = optarg; break;
        case 'K': cakey_in = optarg; break;
        case 'w': worker = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (worker && data && !mqtt && !http && !url && !nnames && !ca_in && !cakey_in && optind == argc)
        return add_worker(data, worker);
    if (worker) {
        fputs("ottod init: --worker goes with --data alone, on a deployment set up already\n", stderr);
        return 2;
    }
    if (!data || !mqtt || !http || optind != argc || (!ca_in != !cakey_in) || host_of(mqtt, mqtt_host, sizeof mqtt_host) ||
        host_of(http, http_host, sizeof http_host) || !strchr(mqtt, ':') || !strchr(http, ':')) {
        fputs(usage, stderr);
        return 2;
    }
    if (url)
        snprintf(public_url, sizeof public_url, "%s", url);
    else
        snprintf(public_url, sizeof public_url, "https://%s", http);
    if (strncmp(public_url, "https://", 8) || host_of(public_url, url_host, sizeof url_host)) {
        fprintf(stderr, "ottod init: --public-url must be https://HOST[:PORT]\n");
        return 2;
    }
    add_name(names, &nnames, mqtt_host);
    add_name(names, &nnames, url_host);
    if (!strcmp(url_host, "0.0.0.0") || !strcmp(url_host, "::")) {
        fprintf(stderr, "ottod init: %s listens on every address: say with --public-url how devices reach it\n", http);
        return 2;
    }
    char dir[PATH_MAX], tls[PATH_MAX + 8], probe[PATH_MAX + 32];
    if (mkdir(data, 0750) && errno != EEXIST) {
        fprintf(stderr, "ottod init: cannot create %s: %s\n", data, strerror(errno));
        return 1;
    }
    if (!realpath(data, dir)) {
        fprintf(stderr, "ottod init: %s: %s\n", data, strerror(errno));
        return 1;
    }
    snprintf(probe, sizeof probe, "%s/ottod.conf", dir);
    if (access(probe, F_OK) == 0) {
        fprintf(stderr, "ottod init: %s is set up already (%s); nothing changed\n", dir, probe);
        return 1;
    }
    snprintf(tls, sizeof tls, "%s/tls", dir);
    if (mkdir(tls, 0750) && errno != EEXIST) {
        fprintf(stderr, "ottod init: cannot create %s: %s\n", tls, strerror(errno));
        return 1;
    }

    /* The CA: made here, or the user's. Its key stays with ottod (0600). */
    X509 *ca = NULL;
    EVP_PKEY *cakey = NULL;
    if (ca_in) {
        char why[200];
        ca = srv_pki_read_cert(ca_in);
        cakey = srv_pki_read_key(cakey_in);
        if (!ca || !cakey) {
            fprintf(stderr, "ottod init: %s: %s\n", ca ? cakey_in : ca_in,
                    ca ? "not a private key in PEM" : "not a certificate (PEM or DER)");
            X509_free(ca);
            EVP_PKEY_free(cakey);
            return 1;
        }
        if (srv_pki_ca_check(ca, cakey, (long long)time(NULL), why)) {
            fprintf(stderr, "ottod init: --ca %s cannot issue otto's certificates: %s\n", ca_in, why);
            X509_free(ca);
            EVP_PKEY_free(cakey);
            return 1;
        }
        if (srv_pki_not_after(ca) < (long long)time(NULL) + SRV_CERT_DAYS_DEVICE * 86400LL)
            fprintf(stderr, "ottod init: note: your CA expires before the %d days otto gives a device "
                            "certificate; renew devices (otto device cert --renew) before it does\n",
                    SRV_CERT_DAYS_DEVICE);
    } else {
        char cn[300];
        snprintf(cn, sizeof cn, "otto CA %s", url_host);
        cakey = srv_pki_keygen();
        ca = cakey ? srv_pki_make_ca(cakey, cn, SRV_CERT_DAYS_CA) : NULL;
        if (!ca) {
            fprintf(stderr, "ottod init: cannot make a CA\n");
            return 1;
        }
    }
    char *cap = srv_pki_cert_pem(ca), *ckp = srv_pki_key_pem(cakey);
    int rc = !cap || !ckp || write_text(dir, "tls/ca.crt", cap, 0644) || write_text(dir, "tls/ca.key", ckp, 0600);
    free(cap);
    free(ckp);
    /* The broker's and HTTPS server's certificate; ottod's MQTT identity. */
    if (!rc)
        rc = issue(dir, "server", ca, cakey, url_host, names, nnames, SRV_CERT_SERVER) ||
             issue(dir, "ottod", ca, cakey, "ottod", NULL, 0, SRV_CERT_CLIENT);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    if (rc)
        return 1;

    /* The operator token: its one clear copy is the operator's. A data
     * directory that ran --insecure keeps its token (scripts use it). */
    char token[65] = "", text[32768];
    snprintf(probe, sizeof probe, "%s/admin.token", dir);
    FILE *tf = fopen(probe, "r");
    if (tf) {
        if (!fgets(token, sizeof token, tf))
            token[0] = 0;
        token[strcspn(token, "\r\n")] = 0;
        fclose(tf);
        if (strlen(token) < 16)
            token[0] = 0;
    }
    if (!token[0] && srv_token_new(token))
        return 1;
    if (fmt(text, sizeof text, "%s\n", token))
        return 1;
    if (write_text(dir, "admin.token", text, 0600))
        return 1;

    /* Devices: only their own topics, by the CN of their certificate (%u,
     * never %c: a client picks its own id). ottod serves them all. A
     * leading # would not match $aws topics. */
    if (fmt(text, sizeof text,
             "# written by ottod init: each device reads and writes only its own topics\n"
             "user ottod\n"
             "topic readwrite $aws/things/#\n"
             "topic readwrite otto/#\n"
             "\n"
             "pattern readwrite $aws/things/%%u/jobs/#\n"
             "pattern write otto/things/%%u/hello\n"
             "pattern write otto/things/%%u/status\n"))
        return 1;
    if (write_text(dir, "acl", text, 0640))
        return 1;
    /* Revocation: ottod keeps DIR/revoked; the broker's plugin, built
     * beside ottod, enforces it (broker/otto_plugin.c). */
    char exe[PATH_MAX], plugin[PATH_MAX + 32] = "";
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el > 0) {
        exe[el] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        snprintf(plugin, sizeof plugin, "%s/mosquitto_otto.so", exe); /* a build tree */
        if (access(plugin, R_OK))
            snprintf(plugin, sizeof plugin, "%s/../lib/otto/mosquitto_otto.so", exe); /* installed */
        if (access(plugin, R_OK))
            plugin[0] = 0;
        else if (realpath(plugin, exe))
            snprintf(plugin, sizeof plugin, "%s", exe);
    }
    if (!plugin[0])
        fprintf(stderr, "ottod init: warning: mosquitto_otto.so is not beside ottod: revoking a device will not "
                "lock it out of the broker until you add its two plugin lines to mosquitto.conf\n");
    if (write_text(dir, "revoked", "# revoked devices, one thing name a line (otto device revoke)\n", 0640))
        return 1;
    const char *port = strrchr(mqtt, ':') + 1;
    if (fmt(text, sizeof text,
             "# written by ottod init: run with  mosquitto -c %s/mosquitto.conf\n"
             "# TLS only, a certificate per client; its CN is the username and the client id\n"
             "# (a device cannot take another's id), and the ACL confines each to its topics.\n"
             "per_listener_settings false\n"
             "allow_anonymous false\n"
             "acl_file %s/acl\n"
             "listener %s %s\n"
             "cafile %s/ca.crt\n"
             "certfile %s/server.crt\n"
             "keyfile %s/server.key\n"
             "require_certificate true\n"
             "use_identity_as_username true\n"
             "use_username_as_clientid true\n"
             "tls_version tlsv1.2\n"
             "# revoked devices are locked out within a second (ottod writes the list)\n"
             "%splugin %s\n"
             "%splugin_opt_revoked %s/revoked\n",
             dir, dir, port, strcmp(mqtt_host, "0.0.0.0") ? mqtt_host : "", tls, tls, tls, plugin[0] ? "" : "# ",
             plugin[0] ? plugin : "/path/to/mosquitto_otto.so", plugin[0] ? "" : "# ", dir))
        return 1;
    if (write_text(dir, "mosquitto.conf", text, 0640))
        return 1;
    if (fmt(text, sizeof text,
             "# written by ottod init; ottod --data %s reads it\n"
             "data = %s\n"
             "mqtt = %s\n"
             "http = %s\n"
             "public_url = %s\n"
             "tls_ca = %s/ca.crt\n"
             "tls_ca_key = %s/ca.key\n"
             "mqtt_cert = %s/ottod.crt\n"
             "mqtt_key = %s/ottod.key\n"
             "https_cert = %s/server.crt\n"
             "https_key = %s/server.key\n",
             dir, dir, mqtt, http, public_url, tls, tls, tls, tls, tls, tls))
        return 1;
    if (write_text(dir, "ottod.conf", text, 0600))
        return 1;
    if (fmt(text, sizeof text,
             "# . %s/otto.env   - the otto CLI reaches this server\n"
             "export OTTO_URL=%s\n"
             "export OTTO_TOKEN=%s\n"
             "export OTTO_CA=%s/ca.crt\n",
             dir, public_url, token, tls))
        return 1;
    if (write_text(dir, "otto.env", text, 0600))
        return 1;
    for_broker(dir, "", 0750);
    for_broker(dir, "tls", 0750);
    for_broker(dir, "tls/ca.crt", 0640);
    for_broker(dir, "tls/server.crt", 0640);
    for_broker(dir, "tls/server.key", 0640);
    for_broker(dir, "acl", 0640);
    for_broker(dir, "revoked", 0640);
    for_broker(dir, "mosquitto.conf", 0640);
    printf("ottod init: %s is ready\n"
           "  certificate names: ", dir);
    for (size_t i = 0; i < nnames; i++)
        printf("%s%s", i ? ", " : "", names[i]);
    printf("\n  run:   mosquitto -c %s/mosquitto.conf\n"
           "         ottod --data %s\n"
           "  CLI:   . %s/otto.env\n"
           "  devices: otto device add THING --cert-out DIR  (a key and certificate each)\n",
           dir, dir, dir);
    return 0;
}
