/* SPDX-License-Identifier: Apache-2.0 */
/* otto token create|list|revoke, otto audit: who may do what on the server,
 * and what they did. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cli.h"

static const char usage[] =
    "usage: otto token create --name N --role admin|operator|viewer [--expires DAYS[d]]\n"
    "       otto token list\n"
    "       otto token revoke NAME\n"
    "       otto audit [--max N]\n"
    "\n"
    "Tokens for people and scripts: viewers read; operators also upload firmware\n"
    "and run jobs; admins also manage devices, keys and tokens and read the audit\n"
    "log. create prints the token once (the server keeps only its SHA-256). The\n"
    "admin token of DATA/admin.token is always admin. audit lists who did what\n"
    "to which object, newest first.\n";

static void when(const cJSON *o, const char *k, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    time_t t = cJSON_IsNumber(v) ? (time_t)v->valuedouble : 0;
    struct tm tm;
    snprintf(out, cap, "-");
    if (t && gmtime_r(&t, &tm))
        strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

int cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, 0, 'n'}, {"role", required_argument, 0, 'r'},
                                         {"expires", required_argument, 0, 'e'}, {"help", no_argument, 0, 'h'},
                                         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *name = NULL, *role = NULL;
    long days = 0;
    int opt, rc;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *what = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'n': name = optarg; break;
        case 'r': role = optarg; break;
        case 'e':
            days = strtol(optarg, &end, 10);
            if ((*end && strcmp(end, "d")) || days < 1 || days > 3650) {
                die_msg("--expires: days, 1 to 3650 (e.g. 30d)");
                return EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    bool create = !strcmp(what, "create"), list = !strcmp(what, "list") || !strcmp(what, "ls"),
         revoke = !strcmp(what, "revoke");
    if ((!create && !list && !revoke) || (create && (!name || !role || optind != argc)) ||
        (list && optind != argc) || (revoke && optind + 1 != argc)) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    cJSON *resp = NULL, *body = cJSON_CreateObject();
    char path[300];
    if (create) {
        cJSON_AddStringToObject(body, "name", name);
        cJSON_AddStringToObject(body, "role", role);
        if (days)
            cJSON_AddNumberToObject(body, "expiresInDays", (double)days);
        rc = api_call(&ao, "POST", "/api/v1/tokens", body, &resp);
    } else if (revoke) {
        snprintf(path, sizeof path, "/api/v1/tokens/%s/revoke", argv[optind]);
        rc = api_call(&ao, "POST", path, body, &resp);
    } else {
        rc = api_call(&ao, "GET", "/api/v1/tokens", NULL, &resp);
    }
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (create) {
        printf("%s\n", api_str(resp, "token"));
        if (!ao.quiet)
            fprintf(stderr, "token %s (%s): shown once; the server keeps only its hash\n", api_str(resp, "name"),
                    api_str(resp, "role"));
    } else if (revoke) {
        printf("%s: revoked\n", argv[optind]);
    } else {
        const cJSON *t;
        printf("%-24s %-9s %-17s %-17s %s\n", "NAME", "ROLE", "CREATED", "EXPIRES", "STATE");
        cJSON_ArrayForEach(t, resp) {
            char c[32], e[32];
            when(t, "createdAt", c, sizeof c);
            when(t, "expiresAt", e, sizeof e);
            printf("%-24s %-9s %-17s %-17s %s\n", api_str(t, "name"), api_str(t, "role"), c, e,
                   cJSON_GetObjectItemCaseSensitive(t, "revokedAt") ? "revoked" : "valid");
        }
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {{"max", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
                                         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    long max = 50;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'm')
            max = strtol(optarg, NULL, 10);
        else if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (max < 1 || max > 1000 || optind != argc) {
        die_msg("usage: otto audit [--max N] (N: 1-1000)");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[64];
    cJSON *resp = NULL;
    snprintf(path, sizeof path, "/api/v1/audit?maxResults=%ld", max);
    if ((rc = api_call(&ao, "GET", path, NULL, &resp)))
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else {
        const cJSON *e;
        printf("%-17s %-16s %-6s %-40s %s\n", "WHEN", "WHO", "STATUS", "ACTION", "OBJECT");
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(resp, "entries")) {
            char w[32];
            when(e, "at", w, sizeof w);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
            printf("%-17s %-16s %-6d %-40s %s\n", w, api_str(e, "who"), cJSON_IsNumber(st) ? st->valueint : 0,
                   api_str(e, "action"), api_str(e, "object"));
        }
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}
