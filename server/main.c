/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod - the otto update server.
 *
 * Start-up is a straight sequence; order matters in three places: the data
 * directory is locked before the database opens (two servers on one
 * database would each believe they own the job state), signals are blocked
 * before any thread starts (so only main() receives SIGTERM), and MQTT
 * starts after the store so that requests queued by the broker during a
 * restart find the state they refer to.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "clock.h"
#include "deltas.h"
#include "init.h"
#include "backup.h"
#include "prune.h"
#include "sign.h"
#include "log.h"
#include "throttle.h"
#include "mqtt_api.h"
#include "server.h"

static const char usage[] =
    "usage: ottod init --data DIR --mqtt HOST:PORT --http HOST:PORT [...]   (once)\n"
    "       ottod restore FILE --data DIR   (a backup from otto admin backup)\n"
    "       ottod --data DIR [options]\n"
    "\n"
    "The otto update server: firmware store, devices and groups, jobs, the AWS IoT\n"
    "Jobs MQTT API (through an MQTT broker) and the operator REST API. 'ottod init'\n"
    "sets up TLS, certificates and the broker's ACL in DIR (ottod init --help);\n"
    "then 'ottod --data DIR' reads DIR/ottod.conf.\n"
    "\n"
    "  -c, --config FILE        read 'key = value' settings (flags win over the file;\n"
    "                           default DIR/ottod.conf when it exists)\n"
    "  -d, --data DIR           state and artifacts (created if missing)       [data]\n"
    "      --db URI             the database: DIR/otto.db (SQLite, the default), or\n"
    "                           postgresql://USER@HOST:PORT/DB, which any number\n"
    "                           of ottod workers share (docs/scaling.md)        [db]\n"
    "  -m, --mqtt HOST:PORT     the MQTT broker (default 127.0.0.1:1883)        [mqtt]\n"
    "  -H, --http HOST:PORT     where to serve HTTP (default 127.0.0.1:8080)    [http]\n"
    "      --public-url URL     base URL devices download from                  [public_url]\n"
    "                           (default http://HTTP_HOST:HTTP_PORT)\n"
    "      --http-threads N     HTTP worker threads (default 4)                 [http_threads]\n"
    "      --http-per-ip N      connections one client address may hold (default 64)\n"
    "                                                                           [http_per_ip]\n"
    "      --http-idle S        close a connection silent for S seconds (default 30)\n"
    "                                                                           [http_idle_seconds]\n"
    "      --trusted-proxy ADDR the load balancer in front (IPv4): its requests count\n"
    "                           against the client it names in X-Forwarded-For  [trusted_proxy]\n"
    "      --proxy-protocol     the trusted proxy opens each connection with a PROXY\n"
    "                           protocol header (v1 or v2, as HAProxy's send-proxy):\n"
    "                           the client it names is the connection's         [proxy_protocol]\n"
    "      --mqtt-rate N        MQTT requests a second one thing may make (default 20;\n"
    "                           a burst of 5 seconds' worth is allowed)         [mqtt_rate]\n"
    "      --no-auto-register   only pre-provisioned devices get jobs           [auto_register]\n"
    "      --register-rate N    register at most N new things a second (default 100)\n"
    "                                                                           [register_rate]\n"
    "      --no-deltas          never make or offer delta patches (full images only) [deltas]\n"
    "      --register-group G   things registered on first contact join group G (and\n"
    "                           its continuous jobs)                            [register_group]\n"
    "      --client-id ID       MQTT client id (default ottod)                  [mqtt_client_id]\n"
    "      --mqtt-share GROUP   several workers (--db postgresql://): take device requests\n"
    "                           through the broker's shared subscription $share/GROUP/...\n"
    "                           (EMQX, HiveMQ, VerneMQ); by default each worker takes\n"
    "                           the devices of its partitions, as Debian 12's Mosquitto\n"
    "                           does not share $aws/... topics          [mqtt_share]\n"
    "      --clock-start T      TESTS ONLY: ottod's clock starts at T (UNIX seconds or\n"
    "                           YYYY-MM-DDTHH:MM:SSZ), for every timed thing: job times,\n"
    "                           timeouts, rates, retries, maintenance windows, link and\n"
    "                           token expiry, the audit log (logged loudly) [clock_start]\n"
    "      --clock-speed X      TESTS ONLY: ... and runs X times as fast   [clock_speed]\n"
    "      --minute-seconds N   length of a timer minute in seconds (default 60;\n"
    "                           only for tests of timeouts and rollout rates)   [timer_minute_seconds]\n"
    "      --log-level LEVEL    error, warn, info or debug (default info)       [log_level]\n"
    "      --log-file FILE      log there instead of stderr                     [log_file]\n"
    "      --log-format F       text (default) or json: one object a line, with ts, level,\n"
    "                           msg and the job and thing it is about, for log shippers [log_format]\n"
    "      --web DIR            the web console's files, served at / (default: the\n"
    "                           build's or the installed copy; \"\": no console)   [web_dir]\n"
    "      --link-ttl S         download links in job documents live S seconds (default\n"
    "                           3600; minted per device, checked with HTTPS)    [link_ttl_seconds]\n"
    "      --retain-jobs D      forget jobs that ended D days ago, with their executions\n"
    "                           (default 90; 0 keeps them)                      [retain_jobs_days]\n"
    "      --retain-audit D     ... audit entries older than D days (default 365) [retain_audit_days]\n"
    "      --retain-firmware D  ... firmware uploaded D days ago that no job left, no\n"
    "                           template and no device uses, and patches no device can\n"
    "                           use (default 30)                                [retain_firmware_days]\n"
    "      --prune-hours H      apply those rules every H hours (default 24; 0: only\n"
    "                           'otto admin prune')                             [prune_hours]\n"
    "      --insecure           plain MQTT and HTTP, no certificates: tests and closed\n"
    "                           labs only (logged as such)                      [insecure]\n"
    "  TLS settings (ottod init writes them): tls_ca, tls_ca_key, mqtt_cert, mqtt_key,\n"
    "  https_cert, https_key\n"
    "  -h, --help               this text\n"
    "      --version            print the version\n"
    "\n"
    "On first start ottod writes the operator token to DIR/admin.token (mode 0600);\n"
    "the otto CLI reads it from OTTO_TOKEN or --token. SIGTERM or SIGINT stop it.\n";

static int parse_hostport(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return -1;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

/* Apply one setting; shared by the config file and the flags. */
static int set_option(srv_config_t *c, const char *key, const char *v)
{
    char *end;
    long n;
    if (!strcmp(key, "data"))
        return snprintf(c->data_dir, sizeof c->data_dir, "%s", v) < (int)sizeof c->data_dir ? 0 : -1;
    if (!strcmp(key, "mqtt_share"))
        return snprintf(c->mqtt_share, sizeof c->mqtt_share, "%s", v) < (int)sizeof c->mqtt_share ? 0 : -1;
    if (!strcmp(key, "db"))
        return snprintf(c->db, sizeof c->db, "%s", v) < (int)sizeof c->db ? 0 : -1;
    if (!strcmp(key, "mqtt"))
        return parse_hostport(v, c->mqtt_host, sizeof c->mqtt_host, &c->mqtt_port);
    if (!strcmp(key, "http"))
        return parse_hostport(v, c->http_host, sizeof c->http_host, &c->http_port);
    if (!strcmp(key, "public_url"))
        return snprintf(c->public_url, sizeof c->public_url, "%s", v) < (int)sizeof c->public_url ? 0 : -1;
    if (!strcmp(key, "mqtt_client_id"))
        return snprintf(c->mqtt_client_id, sizeof c->mqtt_client_id, "%s", v) <
                       (int)sizeof c->mqtt_client_id ? 0 : -1;
    if (!strcmp(key, "auto_register"))
        return parse_bool(v, &c->auto_register);
    if (!strcmp(key, "deltas"))
        return parse_bool(v, &c->deltas);
    if (!strcmp(key, "register_group"))
        return srv_valid_name(v) ? (snprintf(c->register_group, sizeof c->register_group, "%s", v), 0) : -1;
    if (!strcmp(key, "log_level"))
        return srv_log_level_parse(v) < 0 ? -1
               : (snprintf(c->log_level, sizeof c->log_level, "%s", v), 0);
    if (!strcmp(key, "proxy_protocol")) {
        c->proxy_protocol = !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes");
        return c->proxy_protocol || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") ? 0 : -1;
    }
    static const struct { const char *key; size_t off; } paths[] = {
        {"tls_ca", offsetof(srv_config_t, tls_ca)},       {"tls_ca_key", offsetof(srv_config_t, tls_ca_key)},
        {"mqtt_cert", offsetof(srv_config_t, mqtt_cert)}, {"mqtt_key", offsetof(srv_config_t, mqtt_key)},
        {"https_cert", offsetof(srv_config_t, https_cert)}, {"https_key", offsetof(srv_config_t, https_key)}};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!strcmp(key, paths[i].key))
            return snprintf((char *)c + paths[i].off, 400, "%s", v) < 400 ? 0 : -1;
    if (!strcmp(key, "insecure"))
        return parse_bool(v, &c->insecure);
    if (!strcmp(key, "signed_links")) {
        bool b;
        if (parse_bool(v, &b))
            return -1;
        c->signed_links = b;
        return 0;
    }
    static const struct { const char *key; size_t off; long max; } days[] = {
        {"retain_jobs_days", offsetof(srv_config_t, retain_jobs_days), 36500},
        {"retain_audit_days", offsetof(srv_config_t, retain_audit_days), 36500},
        {"retain_firmware_days", offsetof(srv_config_t, retain_firmware_days), 36500},
        {"prune_hours", offsetof(srv_config_t, prune_hours), 8760}};
    for (size_t i = 0; i < sizeof days / sizeof *days; i++)
        if (!strcmp(key, days[i].key)) { /* 0: keep for ever (prune_hours: never by itself) */
            n = strtol(v, &end, 10);
            if (*end || end == v || n < 0 || n > days[i].max)
                return -1;
            *(int *)((char *)c + days[i].off) = (int)n;
            return 0;
        }
    if (!strcmp(key, "link_ttl_seconds")) {
        n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 7 * 86400)
            return -1;
        c->link_ttl_s = (int)n;
        return 0;
    }
    if (!strcmp(key, "clock_start")) { /* test-only: UNIX seconds, or YYYY-MM-DDTHH:MM:SSZ */
        struct tm tm = {0};
        n = strtol(v, &end, 10);
        if (*end) {
            end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
            if (!end || *end)
                return -1;
            n = (long)timegm(&tm);
        }
        if (n <= 0)
            return -1;
        c->clock_start = n;
        return 0;
    }
    if (!strcmp(key, "clock_speed")) {
        double d = strtod(v, &end);
        if (*end || d <= 0 || d > 1e7)
            return -1;
        c->clock_speed = d;
        return 0;
    }
    if (!strcmp(key, "trusted_proxy"))
        return snprintf(c->trusted_proxy, sizeof c->trusted_proxy, "%s", v) < (int)sizeof c->trusted_proxy ? 0 : -1;
    if (!strcmp(key, "log_format"))
        return strcmp(v, "text") && strcmp(v, "json") ? -1 : (snprintf(c->log_format, sizeof c->log_format, "%s", v), 0);
    if (!strcmp(key, "web_dir"))
        return snprintf(c->web_dir, sizeof c->web_dir, "%s", v) < (int)sizeof c->web_dir ? 0 : -1;
    if (!strcmp(key, "log_file"))
        return snprintf(c->log_file, sizeof c->log_file, "%s", v) < (int)sizeof c->log_file ? 0 : -1;
    if (!strcmp(key, "mqtt_rate") || !strcmp(key, "register_rate")) {
        n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1000000)
            return -1;
        if (key[0] == 'm')
            c->mqtt_rate = (int)n;
        else
            c->register_rate = (int)n;
        return 0;
    }
    if (!strcmp(key, "http_threads") || !strcmp(key, "timer_minute_seconds") || !strcmp(key, "http_per_ip") ||
        !strcmp(key, "http_idle_seconds")) {
        n = strtol(v, &end, 10);
        if (*end || n < 1 || n > (!strcmp(key, "http_per_ip") ? 4096 : 1024))
            return -1;
        if (!strcmp(key, "http_threads"))
            c->http_threads = (int)n;
        else if (!strcmp(key, "http_per_ip"))
            c->http_per_ip = (int)n;
        else if (!strcmp(key, "http_idle_seconds"))
            c->http_idle_s = (int)n;
        else
            c->minute_s = (int)n;
        return 0;
    }
    return -2;
}

static int load_config(srv_config_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int lineno = 0;
    if (!f) {
        fprintf(stderr, "ottod: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *eq, *k, *v, *e;
        lineno++;
        p[strcspn(p, "\r\n")] = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        if (!(eq = strchr(p, '='))) {
            fprintf(stderr, "ottod: %s:%d: expected 'key = value'\n", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = 0;
        k = p;
        v = eq + 1;
        for (e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--)
            *e = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        for (e = v + strlen(v) - 1; e >= v && (*e == ' ' || *e == '\t'); e--)
            *e = 0;
        int rc = set_option(c, k, v);
        if (rc) {
            fprintf(stderr, "ottod: %s:%d: %s '%s'\n", path, lineno,
                    rc == -2 ? "unknown setting" : "bad value for", k);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0755) && errno != EEXIST) {
        SRV_LOG_ERR("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Read DATA/admin.token, or create it (0600) with 32 random bytes in hex. */
static int load_token(srv_t *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/admin.token", s->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        struct stat sb;
        if (!fgets(s->token, sizeof s->token, f))
            s->token[0] = 0;
        fclose(f);
        s->token[strcspn(s->token, "\r\n")] = 0;
        if (strlen(s->token) < 16) {
            SRV_LOG_ERR("%s is too short to be a token; delete it to make a new one", path);
            return -1;
        }
        if (stat(path, &sb) == 0 && (sb.st_mode & 077))
            SRV_LOG_WRN("%s is readable by others (mode %o); chmod 600 it", path, sb.st_mode & 0777);
        return 0;
    }
    if (srv_token_new(s->token)) {
        SRV_LOG_ERR("no randomness for the operator token");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, s->token, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd)) {
        SRV_LOG_ERR("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    SRV_LOG_INF("operator token written to %s", path);
    return 0;
}

/* The engine's way out: the broker, once the client exists. */
static int publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    srv_t *s = ctx;
    return s->mqtt ? srv_mqtt_publish(s->mqtt, topic, payload, len) : -1;
}

/* The thing a request topic names ($aws/things/T/jobs/..., otto/things/T/...). */
static bool topic_thing(const char *topic, char *out, size_t cap)
{
    const char *p = !strncmp(topic, "$aws/things/", 12) ? topic + 12 : !strncmp(topic, "otto/things/", 12) ? topic + 12 : NULL;
    const char *e = p ? strchr(p, '/') : NULL;
    if (!e || e == p || (size_t)(e - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return true;
}

static void on_mqtt_message(void *ctx, const char *topic, const void *payload, size_t len)
{
    srv_t *s = ctx;
    char thing[SRV_THING_MAX + 1];
    bool say;
    /* Several workers, partitioned: every worker hears every request and
     * the one holding the thing's partition takes it. */
    if (s->partitioned && topic_thing(topic, thing, sizeof thing) &&
        !(atomic_load(&s->owned) >> srv_partition(thing) & 1))
        return;
    /* A thing over its budget is answered once a second and otherwise
     * dropped before the lock, so its flood costs the others next to
     * nothing (AWS answers ThrottlingException too). */
    if (s->throttle && topic_thing(topic, thing, sizeof thing) &&
        !srv_throttle_take(s->throttle, thing, (uint64_t)srv_mono_ms(), &say)) {
        if (atomic_fetch_add(&s->mqtt_throttled, 1) == 0)
            SRV_LOG_WRN("thing=%s: over its request budget (%d/s); further requests over budget are counted"
                    " (/healthz mqttThrottled), not logged", thing, s->cfg.mqtt_rate);
        if (say && !strncmp(topic, "$aws/", 5) && !strstr(topic, "/accepted") && !strstr(topic, "/rejected")) {
            char rt[400], body[160];
            snprintf(rt, sizeof rt, "%s/rejected", topic);
            int n = snprintf(body, sizeof body, "{\"code\":\"ThrottlingException\",\"message\":\"over %d requests a"
                             " second\",\"timestamp\":%lld}", s->cfg.mqtt_rate, (long long)srv_now());
            publish(s, rt, body, (size_t)n); /* not the engine's: a batch may be holding its replies */
        }
        return;
    }
    srv_batch_push(s->batch, topic, payload, len); /* handled, committed and answered in batches */
}

/* Several workers: hold an even share of the request partitions (store.h),
 * said when it changes. Under s->lock. */
static void balance(srv_t *s)
{
    uint64_t owned = 0;
    int workers = 1;
    if (!s->partitioned || srv_store_balance(s->st, &owned, &workers))
        return;
    if (owned != atomic_load(&s->owned) || workers != s->workers)
        SRV_LOG_INF("partitions: this worker takes the devices of %d of %d, %d worker%s live",
                    __builtin_popcountll(owned), SRV_PARTITIONS, workers, workers == 1 ? "" : "s");
    atomic_store(&s->owned, owned);
    s->workers = workers;
}

static int lock_data_dir(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ottod.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
        SRV_LOG_ERR("another ottod is using %s (%s)", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd; /* held until exit */
}

/* Uploads cut short by a crash leave their partial files in DATA/tmp;
 * nothing there outlives the process that made it. */
static void clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1200];
    unsigned n = 0;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "upload-", 7))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!unlink(path))
            n++;
    }
    closedir(d);
    if (n)
        SRV_LOG_INF("removed %u partial upload%s left by an earlier crash", n, n == 1 ? "" : "s");
}

static void store_observed(void *ctx, uint64_t ns)
{
    srv_metrics_observe(ctx, ns);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'},
        {"mqtt", required_argument, 0, 'm'},   {"http", required_argument, 0, 'H'},
        {"public-url", required_argument, 0, 1}, {"http-threads", required_argument, 0, 2},
        {"no-auto-register", no_argument, 0, 3}, {"client-id", required_argument, 0, 4},
        {"minute-seconds", required_argument, 0, 5}, {"log-level", required_argument, 0, 6},
        {"log-file", required_argument, 0, 7}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 8},         {"auto-register", no_argument, 0, 9},
        {"http-per-ip", required_argument, 0, 10}, {"http-idle", required_argument, 0, 11},
        {"mqtt-rate", required_argument, 0, 12}, {"register-rate", required_argument, 0, 13},
        {"trusted-proxy", required_argument, 0, 14}, {"proxy-protocol", no_argument, 0, 15},
        {"insecure", no_argument, 0, 16}, {"link-ttl", required_argument, 0, 17},
        {"clock-start", required_argument, 0, 18}, {"clock-speed", required_argument, 0, 19},
        {"register-group", required_argument, 0, 20}, {"no-deltas", no_argument, 0, 21},
        {"log-format", required_argument, 0, 22}, {"web", required_argument, 0, 23},
        {"db", required_argument, 0, 24}, {"mqtt-share", required_argument, 0, 25},
        {"retain-jobs", required_argument, 0, 26}, {"retain-audit", required_argument, 0, 27},
        {"retain-firmware", required_argument, 0, 28}, {"prune-hours", required_argument, 0, 29}, {0, 0, 0, 0}};
    static const char *const keys[] = {
        [1] = "public_url", [2] = "http_threads", [4] = "mqtt_client_id",
        [5] = "timer_minute_seconds", [6] = "log_level", [7] = "log_file", [10] = "http_per_ip",
        [11] = "http_idle_seconds", [12] = "mqtt_rate", [13] = "register_rate", [14] = "trusted_proxy", [17] = "link_ttl_seconds",
        [18] = "clock_start", [19] = "clock_speed", [20] = "register_group", [22] = "log_format", [23] = "web_dir", [24] = "db", [25] = "mqtt_share",
        [26] = "retain_jobs_days", [27] = "retain_audit_days", [28] = "retain_firmware_days", [29] = "prune_hours"};
    static srv_t srv; /* large; lives for the whole process */
    srv_t *s = &srv;
    srv_config_t *c = &s->cfg;
    const char *config = NULL;
    int opt, rc = 1;
    sigset_t sigs;

    *c = (srv_config_t){.mqtt_host = "127.0.0.1", .mqtt_port = 1883, .http_host = "127.0.0.1",
                        .http_port = 8080, .http_threads = 4, .http_per_ip = 64, .http_idle_s = 30, .mqtt_rate = 20, .register_rate = 100,
                        .auto_register = true, .deltas = true, .signed_links = -1, .link_ttl_s = 3600,
                        .retain_jobs_days = 90, .retain_audit_days = 365, .retain_firmware_days = 30, .prune_hours = 24,
                        .minute_s = 60, .mqtt_client_id = "ottod", .log_level = "info",
                        .log_format = "text", .web_dir = OTTO_WEB_DIR};
    if (argc > 1 && !strcmp(argv[1], "init"))
        return srv_init_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "restore"))
        return srv_restore_main(argc - 1, argv + 1);
    /* The config file first, so that flags override it: --config, or the
     * one ottod init wrote into --data DIR. */
    static char dflt[600];
    for (int i = 1; i < argc; i++) {
        const char *d = (!strcmp(argv[i], "--data") || !strcmp(argv[i], "-d")) && i + 1 < argc ? argv[i + 1]
                        : !strncmp(argv[i], "--data=", 7) ? argv[i] + 7 : NULL;
        if (d && (snprintf(dflt, sizeof dflt, "%s/ottod.conf", d), access(dflt, R_OK) == 0))
            config = dflt;
    }
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
    }
    if (config && load_config(c, config))
        return 2;
    while ((opt = getopt_long(argc, argv, "c:d:m:H:h", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case 'c': continue;
        case 'd': key = "data"; break;
        case 'm': key = "mqtt"; break;
        case 'H': key = "http"; break;
        case 3: c->auto_register = false; continue;
        case 9: c->auto_register = true; continue;
        case 15: c->proxy_protocol = true; continue;
        case 16: c->insecure = true; continue;
        case 21: c->deltas = false; continue;
        case 'h': fputs(usage, stdout); return 0;
        case 8: puts("ottod 0.1.0"); return 0;
        case 1: case 2: case 4: case 5: case 6: case 7: case 10: case 11: case 12: case 13: case 14: case 17: case 18: case 19: case 20:
        case 22: case 23: case 24: case 25: case 26: case 27: case 28: case 29:
            key = keys[opt];
            break;
        default: fputs(usage, stderr); return 2;
        }
        if (set_option(c, key, optarg)) {
            fprintf(stderr, "ottod: bad value for --%s: '%s'\n", key, optarg);
            return 2;
        }
    }
    if (optind < argc || !c->data_dir[0]) {
        fprintf(stderr, "ottod: %s\n", optind < argc ? "unexpected argument" : "--data DIR is required");
        fputs(usage, stderr);
        return 2;
    }
    if (c->log_file[0] && srv_log_set_file(c->log_file)) {
        fprintf(stderr, "ottod: cannot open log file %s: %s\n", c->log_file, strerror(errno));
        return 1;
    }
    srv_log_set_level(srv_log_level_parse(c->log_level));
    srv_log_set_json(!strcmp(c->log_format, "json"));
    if (!c->insecure && (!c->mqtt_cert[0] || !c->https_cert[0] || !c->tls_ca[0])) {
        fprintf(stderr, "ottod: no TLS set up for %s. Run 'ottod init --data %s --mqtt HOST:PORT --http "
                "HOST:PORT' once, or pass --insecure for plain MQTT and HTTP (tests, a closed lab)\n",
                c->data_dir, c->data_dir);
        return 2;
    }
    if (!c->public_url[0])
        snprintf(c->public_url, sizeof c->public_url, "%s://%s:%d", c->https_cert[0] ? "https" : "http",
                 c->http_host, c->http_port);

    SRV_LOG_INF("ottod 0.1.0 starting%s%s: data %s, broker %s:%d%s, http%s %s:%d", config ? ", config " : "",
            config ? config : "", c->data_dir, c->mqtt_host, c->mqtt_port, c->mqtt_cert[0] ? " (TLS)" : "",
            c->https_cert[0] ? "s" : "", c->http_host, c->http_port);
    if (!c->mqtt_cert[0] || !c->https_cert[0])
        SRV_LOG_WRN("INSECURE (--insecure): %s%s%s in clear; anyone on the network can read job documents, "
                    "impersonate devices and take the operator token", !c->mqtt_cert[0] ? "MQTT" : "",
                    !c->mqtt_cert[0] && !c->https_cert[0] ? " and " : "", !c->https_cert[0] ? "HTTP" : "");

    char sub[600];
    if (ensure_dir(c->data_dir))
        return 1;
    int lock_fd = lock_data_dir(c->data_dir);
    if (lock_fd < 0)
        return 1;
    snprintf(sub, sizeof sub, "%s/artifacts", c->data_dir);
    if (ensure_dir(sub))
        return 1;
    snprintf(sub, sizeof sub, "%s/tmp", c->data_dir);
    if (ensure_dir(sub) || load_token(s))
        return 1;
    srv_token_hash(s->token, strlen(s->token), s->token_hash); /* what requests are compared with */
    clean_tmp(sub); /* under the lock: nothing else can be uploading */
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    snprintf(sub, sizeof sub, "%s/otto.db", c->data_dir);
    if (srv_store_open(c->db[0] ? c->db : sub, &s->st))
        return 1;
    if (srv_store_shared(s->st))
        SRV_LOG_INF("store: PostgreSQL, shared with any other ottod on it");
    else
        SRV_LOG_INF("store: SQLite (WAL) at %s", sub);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->dl.mu, NULL);
    srv_engine_init(&s->eng, s->st, c->public_url);
    s->eng.changed = srv_mqtt_api_changed; /* the engine says what changed, the API says it AWS's way */
    srv_store_observe(s->st, store_observed, &s->eng.metrics.store);
    if (c->clock_start || c->clock_speed) {
        srv_clock_set(c->clock_start ? c->clock_start : (int64_t)time(NULL), c->clock_speed > 0 ? c->clock_speed : 1);
        SRV_LOG_WRN("TEST CLOCK (--clock-start/--clock-speed): ottod's time starts at %lld and runs %.1f times as fast; "
                    "never in production", (long long)srv_now(), c->clock_speed > 0 ? c->clock_speed : 1.0);
    }
    s->eng.minute_s = c->minute_s;
    srv_store_lead(s->st, &s->eng.lead); /* alone: at once; else the first tick tells */
    if (srv_store_shared(s->st))
        SRV_LOG_INF(s->eng.lead ? "leading: this worker paces rollouts, times out executions and makes patches"
                                : "another worker leads (pacing, timeouts, patches); this one serves");
    s->eng.auto_register = c->auto_register;
    s->eng.register_rate = (unsigned)c->register_rate;
    snprintf(s->eng.register_group, sizeof s->eng.register_group, "%s", c->register_group);
    /* Expiring per-device download links: on with HTTPS unless said otherwise. */
    if (c->deltas && srv_deltas_start(&s->deltas, c->data_dir, s->st, &s->lock))
        goto out;
    s->eng.deltas = s->deltas;
    s->eng.links.on = c->signed_links < 0 ? c->https_cert[0] != 0 : c->signed_links;
    if (s->eng.links.on && srv_links_open(&s->eng.links, c->data_dir, c->link_ttl_s))
        goto out;
    s->started = srv_now();

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Replies go out through s->mqtt, which is set before the first
     * message (a resumed session's queued requests) can arrive. */
    s->eng.publish = publish;
    s->eng.pub_ctx = s;
    /* Per-thing budgets: 65,536 things remembered at once. */
    s->throttle = srv_throttle_new(65536, c->mqtt_rate, 5.0 * c->mqtt_rate);
    if (srv_batch_start(&s->batch, s)) {
        SRV_LOG_ERR("cannot start the request thread");
        goto out;
    }
    srv_mqtt_tls_t mtls = {c->mqtt_cert[0] ? c->tls_ca : NULL, c->mqtt_cert, c->mqtt_key};
    /* Several workers on one database share the device requests; each
     * needs a client id of its own (the broker drops a connection whose id
     * another takes). */
    const char *share = srv_store_shared(s->st) && c->mqtt_share[0] ? c->mqtt_share : NULL;
    s->partitioned = srv_store_shared(s->st) && !share;
    balance(s); /* its partitions before the first request */
    if (srv_store_shared(s->st) && !strcmp(c->mqtt_client_id, "ottod")) {
        /* the same across restarts (its session resumes), another per data
         * directory; with TLS the broker names it by its certificate anyway */
        char host[64] = "host", real[PATH_MAX];
        gethostname(host, sizeof host - 1);
        snprintf(c->mqtt_client_id, sizeof c->mqtt_client_id, "ottod-%.40s-%08x", host,
                 (unsigned)srv_fnv1a(realpath(c->data_dir, real) ? real : c->data_dir));
    }
    if (share)
        SRV_LOG_INF("mqtt: device requests shared with the other workers ($share/%s/...), client id %s", share,
                    c->mqtt_client_id);
    else if (s->partitioned)
        SRV_LOG_INF("mqtt: device requests split with the other workers by partition, client id %s",
                    c->mqtt_client_id);
    if (srv_mqtt_start(&s->mqtt, c->mqtt_host, c->mqtt_port, c->mqtt_client_id, share, &mtls,
                       share ? srv_mqtt_api_shared_topics : srv_mqtt_api_topics, srv_mqtt_api_state_topics,
                       on_mqtt_message, s))
        goto out;
    if (srv_http_start(s))
        goto out;
    SRV_LOG_INF("ready: REST %s/api/v1, downloads %s/fw/<id>, auto-register %s", c->public_url,
            c->public_url, c->auto_register ? "on" : "off");

    /* The main thread runs the timers and waits for a signal. */
    int64_t last_prune = 0;
    for (;;) {
        struct timespec ts = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            SRV_LOG_INF("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        /* Once-only work (pacing, timeouts, scheduled starts, patches)
         * runs on the leading worker; alone, that is this one. */
        bool lead = false;
        pthread_mutex_lock(&s->lock);
        balance(s);
        srv_store_lead(s->st, &lead);
        if (lead != s->eng.lead)
            SRV_LOG_INF(lead ? "leading: this worker now paces rollouts, times out executions and makes patches"
                             : "no longer leading: another worker paces rollouts");
        s->eng.lead = lead;
        if (lead)
            srv_engine_tick(&s->eng, srv_now());
        /* Retention, on the leader, every prune_hours (the first an hour
         * after start: not in the way of a restart's reconnect storm). */
        int64_t now = srv_now();
        if (!last_prune)
            last_prune = now - (int64_t)c->prune_hours * 3600 + 3600;
        if (lead && c->prune_hours > 0 && now - last_prune >= (int64_t)c->prune_hours * 3600) {
            srv_pruned_t pr;
            last_prune = now;
            if (srv_prune(s, now, false, &pr))
                SRV_LOG_ERR("prune: failed; the store was left as it was (next try in %d hours)", c->prune_hours);
        }
        pthread_mutex_unlock(&s->lock);
    }
    rc = 0;
out:
    /* HTTP first (finish what is being served), then MQTT, the requests it
     * queued (handled and answered), then the store. */
    srv_http_stop(s);
    srv_mqtt_stop(s->mqtt);
    srv_batch_stop(s->batch);
    srv_throttle_free(s->throttle);
    srv_deltas_stop(s->deltas);
    srv_engine_fini(&s->eng);
    srv_store_close(s->st);
    close(lock_fd);
    SRV_LOG_INF("stopped");
    return rc;
}
