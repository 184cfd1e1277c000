/* SPDX-License-Identifier: Apache-2.0 */
/* otto admin backup: the whole deployment in one file (server/backup.h);
 * otto admin prune: retention now (server/prune.h). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "cli.h"

static const char usage[] =
    "usage: otto admin backup FILE\n"
    "       otto admin prune [--dry-run]\n"
    "\n"
    "Take a backup of the running server (admin token): the database (a\n"
    "consistent snapshot, taken online: devices keep updating meanwhile),\n"
    "firmware and delta patches, the CA and its key, the link secret, the\n"
    "admin token, signing keys, tokens and the configuration, as one gzip'd tar\n"
    "written to FILE (mode 0600). It holds the keys devices trust: keep it as\n"
    "you keep them. Restore with 'ottod restore FILE --data DIR'.\n"
    "\n"
    "prune applies the server's retention rules now (it also does every\n"
    "prune_hours): jobs that ended retain_jobs_days ago with their executions,\n"
    "audit entries older than retain_audit_days, firmware no job, template or\n"
    "device uses after retain_firmware_days, and patches no device can use.\n"
    "--dry-run counts what would go.\n";

/* The options of both commands (--dry-run: prune's), nargs operands and
 * the server: -1 to go on, else the exit code. */
static int args(int argc, char **argv, int nargs, api_opts_t *ao, bool *dry)
{
    static const struct option opts[] = {{"dry-run", no_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
                                         API_LONG_OPTS, {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (opt == 'n' && dry)
            *dry = true;
        else if (opt == 'n' || !api_opt(ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - nargs) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    int rc = api_ready(ao);
    return rc ? rc : -1;
}

static int prune(int argc, char **argv)
{
    api_opts_t ao = {0};
    bool dry = false;
    int rc = args(argc, argv, 0, &ao, &dry);
    if (rc >= 0)
        return rc;
    cJSON *body = cJSON_CreateObject(), *resp;
    cJSON_AddBoolToObject(body, "dryRun", dry);
    rc = api_call(&ao, "POST", "/api/v1/admin/prune", body, &resp);
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (!ao.quiet) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(resp, "rules");
        double v[6];
        static const char *const k[] = {"jobs", "executions", "audit", "firmware", "deltas", "bytes"};
        for (int i = 0; i < 6; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(resp, k[i]);
            v[i] = cJSON_IsNumber(x) ? x->valuedouble : 0;
        }
        printf("%s %.0f jobs with %.0f executions, %.0f audit entries, %.0f firmware, %.0f patches (%.0f bytes of files)\n",
               dry ? "would remove" : "removed", v[0], v[1], v[2], v[3], v[4], v[5]);
        const cJSON *rj = cJSON_GetObjectItemCaseSensitive(r, "retainJobsDays"),
                    *ra = cJSON_GetObjectItemCaseSensitive(r, "retainAuditDays"),
                    *rf = cJSON_GetObjectItemCaseSensitive(r, "retainFirmwareDays");
        printf("rules: jobs %.0f days, audit %.0f days, unused firmware %.0f days (0: kept)\n",
               cJSON_IsNumber(rj) ? rj->valuedouble : -1, cJSON_IsNumber(ra) ? ra->valuedouble : -1,
               cJSON_IsNumber(rf) ? rf->valuedouble : -1);
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

static int backup(int argc, char **argv)
{
    api_opts_t ao = {0};
    int rc = args(argc, argv, 1, &ao, NULL);
    if (rc >= 0)
        return rc;
    const char *file = argv[optind];
    char *counts = NULL;
    if ((rc = api_save(&ao, "POST", "/api/v1/admin/backup", file, "Otto-Backup-Counts", &counts)))
        return rc;
    struct stat st;
    cJSON *c = counts ? cJSON_Parse(counts) : NULL, *v;
    if (ao.json) {
        api_print_json(c);
    } else if (!ao.quiet) {
        printf("backup %s: %lld bytes;", file, stat(file, &st) ? -1LL : (long long)st.st_size);
        cJSON_ArrayForEach(v, c)
            printf(" %s %.0f", v->string, cJSON_IsNumber(v) ? v->valuedouble : 0.0);
        printf("\nit holds the CA key and the secrets: keep it as you keep them\n");
    }
    cJSON_Delete(c);
    free(counts);
    return EXIT_OK;
}

int cmd_admin(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "backup"))
        return backup(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "prune"))
        return prune(argc - 1, argv + 1);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fputs(usage, help ? stdout : stderr);
    return help ? EXIT_OK : EXIT_USAGE;
}
