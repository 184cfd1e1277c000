/* SPDX-License-Identifier: Apache-2.0 */
#include "api.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

typedef struct {
    char *buf;
    size_t len;
} sink_t;

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t add = sz * n;
    char *nb = realloc(s->buf, s->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + s->len, p, add);
    s->len += add;
    nb[s->len] = 0;
    s->buf = nb;
    return add;
}

bool api_opt(api_opts_t *o, int opt, const char *arg)
{
    switch (opt) {
    case 0x100: o->url = arg; return true;
    case 0x101: o->token = arg; return true;
    case 0x102: o->json = true; return true;
    case 'q': o->quiet = true; return true;
    default: return false;
    }
}

int api_ready(api_opts_t *o)
{
    if (!o->url)
        o->url = getenv("OTTO_URL");
    if (!o->token)
        o->token = getenv("OTTO_TOKEN");
    if (!o->url || !*o->url) {
        die_msg("which server? set OTTO_URL or pass --url (e.g. http://127.0.0.1:8080)");
        return EXIT_USAGE;
    }
    if (!o->token || !*o->token) {
        die_msg("no token: set OTTO_TOKEN or pass --token (ottod wrote it to DATA/admin.token)");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

const char *api_escape(const char *s, char *buf, size_t cap)
{
    static const char keep[] = "-_.~:";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            strchr(keep, ch))
            buf[n++] = (char)ch;
        else
            n += (size_t)snprintf(buf + n, cap - n, "%%%02X", ch);
    }
    buf[n] = 0;
    return buf;
}

void api_print_json(const cJSON *v)
{
    char *t = cJSON_Print(v);
    if (t)
        puts(t);
    free(t);
}

/* Turn a finished exchange into an exit code, printing the server's words. */
static int finish(const api_opts_t *o, CURLcode rc, long status, sink_t *sink, cJSON **resp,
                  const char *err)
{
    cJSON *j = NULL;
    int code;
    if (rc != CURLE_OK) {
        die_msg("cannot reach ottod at %s: %s", o->url, err[0] ? err : curl_easy_strerror(rc));
        code = EXIT_SERVER;
        goto out;
    }
    j = sink->buf ? cJSON_Parse(sink->buf) : NULL;
    if (status >= 200 && status < 300) {
        if (!j) {
            die_msg("ottod answered %ld with something that is not JSON", status);
            code = EXIT_SERVER;
        } else {
            *resp = j;
            j = NULL;
            code = EXIT_OK;
        }
        goto out;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (o->json && j)
        api_print_json(j);
    die_msg("%s%s (HTTP %ld)", status == 401 ? "the server refused the token: " : "",
            cJSON_IsString(m) ? m->valuestring : "request failed", status);
    code = status == 401 || status >= 500 ? EXIT_SERVER : EXIT_FAIL;
out:
    cJSON_Delete(j);
    free(sink->buf);
    return code;
}

static CURL *easy(const api_opts_t *o, const char *path, sink_t *sink, struct curl_slist **hdrs,
                  char *errbuf)
{
    char url[2048], auth[512];
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    size_t ul = strlen(o->url);
    snprintf(url, sizeof url, "%.*s%s", (int)(ul && o->url[ul - 1] == '/' ? ul - 1 : ul), o->url,
             path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
    *hdrs = curl_slist_append(*hdrs, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    /* A server that dies mid-answer (behind a balancer the connection may
     * stay open) is given up after 30 s of silence, not waited on for ever;
     * a slow large upload still goes on. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* HTTPS: the deployment's own CA (ottod init's otto.env sets OTTO_CA). */
    const char *ca = getenv("OTTO_CA");
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    errbuf[0] = 0;
    return c;
}

int api_call(const api_opts_t *o, const char *method, const char *path, const cJSON *body,
             cJSON **resp)
{
    sink_t sink = {0};
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char *txt = body ? cJSON_PrintUnformatted(body) : NULL;
    long status = 0;
    CURL *c;

    *resp = NULL;
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (!(c = easy(o, path, &sink, &hdrs, errbuf))) {
        free(txt);
        curl_slist_free_all(hdrs);
        return EXIT_FAIL;
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (txt)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    free(txt);
    return finish(o, rc, status, &sink, resp, errbuf);
}

/* A body written to a file as it comes (2xx), or kept for the error. */
typedef struct {
    FILE *f;
    long status;
    sink_t err;
    CURL *c;
    char *header;      /* the value of the header named in want, malloc'd */
    const char *want;
} save_t;

static size_t on_save(char *p, size_t sz, size_t n, void *arg)
{
    save_t *v = arg;
    if (!v->status)
        curl_easy_getinfo(v->c, CURLINFO_RESPONSE_CODE, &v->status);
    if (v->status >= 200 && v->status < 300)
        return fwrite(p, sz, n, v->f) == n ? sz * n : 0;
    return on_data(p, sz, n, &v->err);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    save_t *v = arg;
    size_t len = sz * n, k = strlen(v->want);
    if (k && len > k + 1 && !strncasecmp(p, v->want, k) && p[k] == ':' && !v->header) {
        const char *b = p + k + 1;
        while (*b == ' ')
            b++;
        size_t m = len - (size_t)(b - p);
        while (m && (b[m - 1] == '\r' || b[m - 1] == '\n'))
            m--;
        v->header = strndup(b, m);
    }
    return len;
}

int api_save(const api_opts_t *o, const char *method, const char *path, const char *file, const char *header,
             char **header_value)
{
    char part[4200], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL;
    save_t v = {0};
    v.want = header ? header : "";
    snprintf(part, sizeof part, "%s.part", file);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(v.f = fdopen(fd, "w"))) {
        die_msg("cannot write %s: %s", part, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_FAIL;
    }
    if (!(v.c = easy(o, path, &v.err, &hdrs, errbuf))) {
        fclose(v.f);
        unlink(part);
        return EXIT_FAIL;
    }
    curl_easy_setopt(v.c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(v.c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(v.c, CURLOPT_WRITEFUNCTION, on_save);
    curl_easy_setopt(v.c, CURLOPT_WRITEDATA, &v);
    curl_easy_setopt(v.c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(v.c, CURLOPT_HEADERDATA, &v);
    CURLcode rc = curl_easy_perform(v.c);
    curl_easy_getinfo(v.c, CURLINFO_RESPONSE_CODE, &v.status);
    curl_easy_cleanup(v.c);
    curl_slist_free_all(hdrs);
    bool ok = rc == CURLE_OK && v.status >= 200 && v.status < 300;
    if (fflush(v.f) || fsync(fileno(v.f)))
        ok = false;
    fclose(v.f);
    if (!ok || rename(part, file)) {
        unlink(part);
        free(v.header);
        if (rc == CURLE_OK && v.status >= 200 && v.status < 300) {
            die_msg("cannot write %s: %s", file, strerror(errno));
            return EXIT_FAIL;
        }
        cJSON *resp = NULL;
        int code = finish(o, rc, v.status, &v.err, &resp, errbuf);
        cJSON_Delete(resp);
        return code ? code : EXIT_FAIL;
    }
    free(v.err.buf);
    if (header_value)
        *header_value = v.header;
    else
        free(v.header);
    return EXIT_OK;
}

int api_upload(const api_opts_t *o, const char *path, const char *file, const char *descriptor,
               cJSON **resp)
{
    sink_t sink = {0};
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURL *c;

    *resp = NULL;
    if (!(c = easy(o, path, &sink, &hdrs, errbuf))) {
        curl_slist_free_all(hdrs);
        return EXIT_FAIL;
    }
    curl_mime *mime = curl_mime_init(c);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "descriptor");
    curl_mime_data(part, descriptor, CURL_ZERO_TERMINATED);
    curl_mime_type(part, "application/json");
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    if (curl_mime_filedata(part, file) != CURLE_OK) {
        die_msg("cannot read %s", file);
        curl_mime_free(mime);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        return EXIT_FAIL;
    }
    curl_mime_type(part, "application/octet-stream");
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    return finish(o, rc, status, &sink, resp, errbuf);
}

int api_list(const api_opts_t *o, const char *path, const char *key, cJSON **out)
{
    char page[1024], esc[256];
    const char *sep = strchr(path, '?') ? "&" : "?";
    cJSON *all = cJSON_CreateArray(), *resp = NULL;
    char token[200] = "";
    /* Big pages: a whole list in few requests, each still bounded. */
    for (;;) {
        if (token[0])
            snprintf(page, sizeof page, "%s%smaxResults=1000&nextToken=%s", path, sep,
                     api_escape(token, esc, sizeof esc));
        else
            snprintf(page, sizeof page, "%s%smaxResults=1000", path, sep);
        int rc = api_call(o, "GET", page, NULL, &resp);
        if (rc) {
            cJSON_Delete(all);
            return rc;
        }
        cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(resp, key), *it;
        while (items && (it = cJSON_DetachItemFromArray(items, 0)))
            cJSON_AddItemToArray(all, it);
        cJSON_Delete(items);
        const cJSON *next = cJSON_GetObjectItemCaseSensitive(resp, "nextToken");
        bool more = cJSON_IsString(next) && next->valuestring[0] && strlen(next->valuestring) < sizeof token;
        if (more)
            snprintf(token, sizeof token, "%s", next->valuestring);
        cJSON_Delete(resp);
        if (!more)
            break;
    }
    *out = all;
    return 0;
}

cJSON *api_json_arg(const char *arg, const char *what)
{
    uint8_t *text = NULL;
    size_t len;
    const char *txt = arg;
    if (arg[0] != '{') {
        const char *p = arg[0] == '@' ? arg + 1 : arg;
        if (otto_read_file(p, &text, &len)) {
            die_msg("%s: cannot read %s: %m", what, p);
            return NULL;
        }
        txt = (const char *)text;
    }
    cJSON *v = cJSON_Parse(txt);
    free(text);
    if (!cJSON_IsObject(v)) {
        die_msg("%s: not a JSON object", what);
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

const char *api_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}
