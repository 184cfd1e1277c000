/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    {".png", "image/png"},                 {".ico", "image/x-icon"},
    {".json", "application/json"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

/* Plain names only: [A-Za-z0-9._-] segments, none starting with a dot. */
static bool plain(const char *p)
{
    if (*p != '/')
        return false;
    for (const char *s = p; *s; s++) {
        if (*s == '/' && s[1] == '.')
            return false;
        if (!(*s == '/' || *s == '.' || *s == '_' || *s == '-' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    }
    return strlen(p) < 200;
}

bool srv_console_url(const char *url)
{
    return !strcmp(url, "/") || (plain(url) && type_of(url) && strncmp(url, "/api/", 5) && strncmp(url, "/fw/", 4));
}

enum MHD_Result srv_console_serve(struct MHD_Connection *c, const char *dir, const char *url)
{
    char path[700], etag[64];
    struct stat sb;
    if (!dir[0])
        return srv_http_err(c, 503, "no_console", "this ottod serves no web console (--web DIR)");
    if (!strcmp(url, "/"))
        url = "/index.html";
    if (snprintf(path, sizeof path, "%s%s", dir, url) >= (int)sizeof path)
        return srv_http_err(c, 404, "not_found", "no such page");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return srv_http_err(c, 404, "not_found", "no such page: %s", url);
    }
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)sb.st_size, (unsigned long long)sb.st_mtime);
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool same = inm && !strcmp(inm, etag);
    struct MHD_Response *r = same ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
                                  : MHD_create_response_from_fd((size_t)sb.st_size, fd);
    if (same)
        close(fd);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type_of(path));
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    /* The console talks to ottod alone: no other origin, no framing. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                            "frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    unsigned code = same ? 304 : 200;
    srv_http_sent(code);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}
