/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

uint32_t otto_net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void say(otto_link_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(otto_link_t *l, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!l->hooks || !l->hooks->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    l->hooks->log(l, msg);
}

static bool alive(otto_link_t *l)
{
    return !l->hooks || !l->hooks->alive || l->hooks->alive(l);
}

int otto_net_init(otto_net_t *net)
{
    net->multi = curl_multi_init();
    return net->multi ? OTTO_OK : OTTO_E_IO;
}

void otto_net_close(otto_net_t *net)
{
    if (net->multi)
        curl_multi_cleanup(net->multi);
    net->multi = NULL;
}

/* ---- the agent's port ----------------------------------------------------- */

static int p_publish(void *ctx, const char *topic, const char *payload, size_t len)
{
    otto_link_t *l = ctx;
    if (!l->m || !l->mq_up)
        return OTTO_E_IO;
    if (l->verbose > 1)
        say(l, "-> %s %.*s", topic, (int)len, payload);
    return mosquitto_publish(l->m, NULL, topic, (int)len, payload, 1, false) == MOSQ_ERR_SUCCESS ? OTTO_OK
                                                                                                : OTTO_E_IO;
}

static size_t on_header(char *buf, size_t sz, size_t nm, void *ctx)
{
    otto_link_t *l = ctx;
    size_t len = sz * nm;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), buf);
    if (!strncmp(line, "HTTP/", 5)) {
        l->status = atoi(strchr(line, ' ') ? strchr(line, ' ') + 1 : "0");
        l->clen = l->rstart = 0;
        l->etag[0] = 0;
    } else if (!strncasecmp(line, "Content-Length:", 15)) {
        l->clen = (uint32_t)strtoul(line + 15, NULL, 10);
    } else if (!strncasecmp(line, "Content-Range:", 14)) {
        const char *p = strstr(line, "bytes ");
        if (p)
            l->rstart = (uint32_t)strtoul(p + 6, NULL, 10);
    } else if (!strncasecmp(line, "ETag:", 5)) {
        char *p = line + 5;
        while (*p == ' ')
            p++;
        p[strcspn(p, "\r\n")] = 0;
        snprintf(l->etag, sizeof l->etag, "%.79s", p);
    } else if ((line[0] == '\r' || line[0] == '\n') && l->status >= 200 && !l->head_sent) {
        l->head_sent = true;
        l->in_cb = true;
        if (l->status != 200 && l->status != 206)
            say(l, "download answered HTTP %d", l->status);
        otto_agent_http_head(l->agent, l->status, l->clen, l->rstart, l->etag);
        l->in_cb = false;
        if (l->cancel || !alive(l))
            return 0;
    }
    return len;
}

static size_t on_body(char *buf, size_t sz, size_t nm, void *ctx)
{
    otto_link_t *l = ctx;
    size_t len = sz * nm;
    if (l->cancel || !alive(l))
        return 0;
    if (l->hooks && l->hooks->body_gate && !l->hooks->body_gate(l, len)) {
        l->paused = true; /* curl keeps these bytes until otto_link_resume */
        return CURL_WRITEFUNC_PAUSE;
    }
    l->rx += len;
    l->in_cb = true;
    otto_agent_http_data(l->agent, buf, len);
    l->in_cb = false;
    if (l->hooks && l->hooks->body_done && !l->hooks->body_done(l, len))
        return 0;
    return l->cancel || !alive(l) ? 0 : len;
}

static void http_detach(otto_link_t *l)
{
    if (l->easy && l->http_on)
        curl_multi_remove_handle(l->net->multi, l->easy);
    l->http_on = false;
}

/* A slow link also has small buffers: without this, loopback would take the
 * whole file into kernel buffers at once and a dropped server could not cut
 * a download short. */
static int small_rcvbuf(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
    int sz = 16384;
    (void)ctx;
    (void)purpose;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    return CURL_SOCKOPT_OK;
}

static int p_http_get(void *ctx, const char *url, uint32_t from, const char *etag)
{
    otto_link_t *l = ctx;
    char h[128];
    if (l->verbose)
        say(l, "download from byte %u", from);
    if (!l->easy && !(l->easy = curl_easy_init()))
        return OTTO_E_IO;
    http_detach(l);
    curl_easy_reset(l->easy);
    curl_slist_free_all(l->hdrs);
    l->hdrs = NULL;
    if (from) {
        snprintf(h, sizeof h, "Range: bytes=%u-", from);
        l->hdrs = curl_slist_append(l->hdrs, h);
        if (etag && etag[0]) {
            snprintf(h, sizeof h, "If-Range: %s", etag);
            l->hdrs = curl_slist_append(l->hdrs, h);
        }
    }
    curl_easy_setopt(l->easy, CURLOPT_URL, url);
    curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, l->hdrs);
    curl_easy_setopt(l->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(l->easy, CURLOPT_HEADERDATA, l);
    curl_easy_setopt(l->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(l->easy, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(l->easy, CURLOPT_PRIVATE, l);
    curl_easy_setopt(l->easy, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(l->easy, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled link is a dropped one */
    curl_easy_setopt(l->easy, CURLOPT_LOW_SPEED_TIME, 10L);
    curl_easy_setopt(l->easy, CURLOPT_NOSIGNAL, 1L);
    if (l->tls_ca)
        curl_easy_setopt(l->easy, CURLOPT_CAINFO, l->tls_ca); /* the deployment's CA, name checked */
    if (l->small_buffers)
        curl_easy_setopt(l->easy, CURLOPT_SOCKOPTFUNCTION, small_rcvbuf);
    l->rx = 0;
    l->rx_t0 = otto_net_now();
    l->paused = false;
    l->status = 0;
    l->head_sent = l->cancel = false;
    if (curl_multi_add_handle(l->net->multi, l->easy) != CURLM_OK)
        return OTTO_E_IO;
    l->http_on = true;
    say(l, "GET %s from %u", url, from);
    return OTTO_OK;
}

static void p_http_cancel(void *ctx)
{
    otto_link_t *l = ctx;
    if (l->in_cb)
        l->cancel = true; /* the callback returns 0 and curl ends the transfer */
    else
        http_detach(l);
}

static void p_reboot(void *ctx)
{
    ((otto_link_t *)ctx)->reboot_pending = true;
}

static uint32_t p_now(void *ctx)
{
    (void)ctx;
    return otto_net_now();
}

void otto_link_port(otto_link_t *l, otto_agent_port_t *port)
{
    memset(port, 0, sizeof *port);
    port->ctx = l;
    port->publish = p_publish;
    port->http_get = p_http_get;
    port->http_cancel = p_http_cancel;
    port->reboot = p_reboot;
    port->now_ms = p_now;
}

/* ---- MQTT ----------------------------------------------------------------- */

static void mq_on_connect(struct mosquitto *m, void *ctx, int rc)
{
    otto_link_t *l = ctx;
    char topics[8][160];
    if (rc) {
        say(l, "broker refused: %s", mosquitto_connack_string(rc));
        return;
    }
    int k = otto_agent_topics(l->thing, topics, 8);
    l->subs_pending = k;
    for (int i = 0; i < k; i++)
        mosquitto_subscribe(m, NULL, topics[i], 1);
}

/* otto/things/{thing}/status: whether the module is connected, for ottod
 * (retained: a restarted ottod learns it on subscribing). */
static void status_topic(const otto_link_t *l, char *topic, size_t cap)
{
    snprintf(topic, cap, "otto/things/%s/status", l->thing);
}

static void mq_on_subscribe(struct mosquitto *m, void *ctx, int mid, int q, const int *g)
{
    otto_link_t *l = ctx;
    char topic[200];
    (void)mid;
    (void)q;
    (void)g;
    if (--l->subs_pending == 0) {
        l->mq_up = true;
        status_topic(l, topic, sizeof topic); /* the birth message; the will says the opposite */
        mosquitto_publish(m, NULL, topic, 15, "{\"online\":true}", 1, true);
        otto_agent_connected(l->agent);
    }
}

static void mq_on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    otto_link_t *l = ctx;
    (void)m;
    if (!alive(l))
        return;
    if (l->verbose > 1)
        say(l, "<- %s %.*s", msg->topic, msg->payloadlen > 200 ? 200 : msg->payloadlen, (const char *)msg->payload);
    otto_agent_message(l->agent, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static void mq_on_disconnect(struct mosquitto *m, void *ctx, int rc)
{
    otto_link_t *l = ctx;
    (void)m;
    if (l->mq_up)
        say(l, "MQTT connection lost (%s)", rc ? "by the broker or the network" : "closed");
    l->mq_up = false;
    otto_agent_disconnected(l->agent);
    l->reconnect_at = otto_net_now() + 1000u;
}

void otto_link_init(otto_link_t *l, otto_net_t *net, otto_agent_t *agent, const char *thing, const char *host,
                    int port)
{
    const otto_link_hooks_t *hooks = l->hooks;
    void *user = l->user;
    memset(l, 0, sizeof *l);
    l->net = net;
    l->agent = agent;
    l->thing = thing;
    l->host = host;
    l->port = port;
    l->hooks = hooks;
    l->user = user;
}

void otto_link_start(otto_link_t *l)
{
    l->m = mosquitto_new(l->thing, true, l);
    if (!l->m)
        return;
    mosquitto_connect_callback_set(l->m, mq_on_connect);
    mosquitto_subscribe_callback_set(l->m, mq_on_subscribe);
    mosquitto_message_callback_set(l->m, mq_on_message);
    mosquitto_disconnect_callback_set(l->m, mq_on_disconnect);
    mosquitto_int_option(l->m, MOSQ_OPT_TCP_NODELAY, 1);
    char topic[200];
    status_topic(l, topic, sizeof topic);
    mosquitto_will_set(l->m, topic, 16, "{\"online\":false}", 1, true);
    if (l->tls_ca && mosquitto_tls_set(l->m, l->tls_ca, NULL, l->tls_cert, l->tls_key, NULL) != MOSQ_ERR_SUCCESS)
        say(l, "TLS: cannot use %s / %s / %s", l->tls_ca, l->tls_cert ? l->tls_cert : "-",
            l->tls_key ? l->tls_key : "-");
    if (mosquitto_connect(l->m, l->host, l->port, 30) != MOSQ_ERR_SUCCESS)
        l->reconnect_at = otto_net_now() + 1000u;
}

void otto_link_stop(otto_link_t *l)
{
    http_detach(l);
    if (l->easy)
        curl_easy_cleanup(l->easy);
    l->easy = NULL;
    curl_slist_free_all(l->hdrs);
    l->hdrs = NULL;
    if (l->m) {
        /* No DISCONNECT, even when clean: the broker then sends the will,
         * so a module that stops or reboots is offline for ottod at once
         * (a cut: when the broker notices). */
        mosquitto_destroy(l->m);
        l->m = NULL;
    }
    l->mq_up = false;
}

void otto_link_break(otto_link_t *l)
{
    if (!l->http_on)
        return;
    http_detach(l);
    otto_agent_http_end(l->agent, OTTO_E_IO);
}

void otto_link_resume(otto_link_t *l)
{
    if (l->paused && l->http_on) {
        l->paused = false;
        curl_easy_pause(l->easy, CURLPAUSE_CONT);
    }
}

void otto_link_service(otto_link_t *l, uint32_t now)
{
    /* A lost or never-made broker connection is retried once a second. */
    if (l->m && mosquitto_socket(l->m) < 0 && !l->reconnect_at)
        l->reconnect_at = now + 1000u;
    if (l->reconnect_at && (int32_t)(now - l->reconnect_at) >= 0) {
        l->reconnect_at = 0;
        if (!l->m)
            otto_link_start(l);
        else if (!l->mq_up && mosquitto_reconnect(l->m) != MOSQ_ERR_SUCCESS)
            l->reconnect_at = now + 1000u;
    }
    otto_agent_tick(l->agent);
}

/* ---- the loop ------------------------------------------------------------- */

void otto_net_turn(otto_net_t *net, otto_link_t **links, int n, int wait_ms, bool (*skip)(otto_link_t *l))
{
    struct curl_waitfd wbuf[64], *w = n <= 64 ? wbuf : calloc((size_t)n, sizeof *w);
    int kbuf[64], *map = n <= 64 ? kbuf : calloc((size_t)n, sizeof *map);
    int k = 0, running, left;
    if (!w || !map)
        return;
    for (int i = 0; i < n; i++) {
        otto_link_t *l = links[i];
        int fd = (!skip || !skip(l)) && l->m ? mosquitto_socket(l->m) : -1;
        if (fd < 0)
            continue;
        w[k].fd = fd;
        w[k].events = CURL_WAIT_POLLIN | (mosquitto_want_write(l->m) ? CURL_WAIT_POLLOUT : 0);
        w[k].revents = 0;
        map[k++] = i;
    }
    curl_multi_poll(net->multi, w, (unsigned)k, wait_ms, NULL);
    for (int j = 0; j < k; j++) {
        otto_link_t *l = links[map[j]];
        if (!l->m)
            continue;
        int rc = MOSQ_ERR_SUCCESS;
        if (w[j].revents & CURL_WAIT_POLLIN)
            rc = mosquitto_loop_read(l->m, 1);
        if (rc == MOSQ_ERR_SUCCESS && l->m && (w[j].revents & CURL_WAIT_POLLOUT))
            rc = mosquitto_loop_write(l->m, 1);
        if (l->m && rc == MOSQ_ERR_SUCCESS)
            mosquitto_loop_misc(l->m);
    }
    curl_multi_perform(net->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(net->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        otto_link_t *l = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
        CURLcode res = msg->data.result;
        curl_multi_remove_handle(net->multi, msg->easy_handle);
        if (!l || !l->http_on)
            continue;
        l->http_on = false;
        if (l->cancel || !alive(l))
            continue;
        if (!l->head_sent && res == CURLE_OK)
            otto_agent_http_head(l->agent, l->status, l->clen, l->rstart, l->etag);
        say(l, "download ended: %s", res == CURLE_OK ? "complete" : curl_easy_strerror(res));
        otto_agent_http_end(l->agent, res == CURLE_OK ? OTTO_OK : OTTO_E_IO);
    }
    if (w != wbuf)
        free(w);
    if (map != kbuf)
        free(map);
}
